// gpu_gemm.c — launch_gemm: C (op)= A . W^T with the mma.sync kernels of ptx/gemm_bf16.ptx.
// defines: launch_gemm, launch_gemm_ex (explicit tile shape and split-K, for tests and benchmarks)
//
// Tile choice: decode-sized M (<= 32) streams W through many small tiles: 16x32, or 16x16 when N/32 CTAs would
// not cover the GPU twice. Larger M uses 128x128 tiles when they give at least one CTA per SM, else 64x64.
// Split-K (launch_gemm_ex with splits > 1: each split adds its partial sums with red.global.add.f32, a plain f32
// store zeroes the output first) is not used by default: it is not bit-reproducible for 3+ splits or in add mode
// (the order of the float additions varies), and greedy decoding should give the same tokens run after run.
#include "gpu_ops.h"
#include "util.h"

typedef struct { const char *entry; int bm, bn, threads, stages; } GemmTile;
// Must match the configurations in ptx/gemm_bf16.ptx.
static const GemmTile gemm_tiles[] = {
    { "gemm_bf16_tc_16x32", 16, 32, 128, 8 },
    { "gemm_bf16_tc_64x64", 64, 64, 128, 4 },
    { "gemm_bf16_tc_128x128", 128, 128, 256, 3 },
    { "gemm_bf16_tc_16x16", 16, 16, 128, 18 },
};
enum { N_GEMM_TILES = sizeof gemm_tiles / sizeof gemm_tiles[0], GEMM_BK = 64, GEMM_RED_F32 = 3 };

static int cdiv(int a, int b) { return (a + b - 1) / b; }

// tile: index into gemm_tiles or -1 (choose); splits: k splits (0 or 1: none). Dies on bad shapes.
void launch_gemm_ex(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode, int tile,
                    int splits) {
    static CUcontext fn_ctx;                 // functions cached per context (gpu_kernel looks them up by name)
    static CUfunction fn[N_GEMM_TILES];
    if (M < 0 || N <= 0 || K <= 0 || K % GEMM_BK || N % 8)
        die("launch_gemm: unsupported shape M=%d N=%d K=%d (need K %% 64 == 0, N %% 8 == 0)", M, N, K);
    if (mode < GEMM_STORE_F32 || mode > GEMM_ADD_F32) die("launch_gemm: bad mode %d", mode);
    if (tile < -1 || tile >= N_GEMM_TILES) die("launch_gemm: bad tile %d", tile);
    if ((A | W) % 16 || C % 8) die("launch_gemm: A and W must be 16-byte aligned, C 8-byte aligned");
    if (M == 0) return;
    if (fn_ctx != g->ctx) {
        for (int i = 0; i < N_GEMM_TILES; i++) fn[i] = gpu_kernel(g, "gemm_bf16", gemm_tiles[i].entry);
        fn_ctx = g->ctx;
    }
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    if (tile < 0) {
        if (M <= 32) tile = cdiv(N, 32) * cdiv(M, 16) >= 2 * sms ? 0 : 3;
        else if (cdiv(M, 128) * cdiv(N, 128) >= sms) tile = 2;
        else tile = 1;
    }
    const GemmTile *t = &gemm_tiles[tile];
    int ktiles = K / GEMM_BK;
    if (splits < 1) splits = 1;
    if (mode == GEMM_STORE_BF16) splits = 1;  // partial sums cannot be added in bf16 without losing precision
    if (splits > ktiles) splits = ktiles;
    unsigned ktps = (unsigned)cdiv(ktiles, splits);
    splits = cdiv(ktiles, (int)ktps);         // no empty split
    unsigned kmode = (unsigned)mode;
    if (splits > 1) {
        if (mode == GEMM_STORE_F32) gpu_fill_u32(g, C, 0, (size_t)M * N);
        kmode = GEMM_RED_F32;
    }
    unsigned uM = (unsigned)M, uN = (unsigned)N, uK = (unsigned)K;
    unsigned smem = (unsigned)(t->stages * (t->bm + t->bn) * GEMM_BK * 2);
    Dim3 grid = { (unsigned)cdiv(N, t->bn), (unsigned)cdiv(M, t->bm), (unsigned)splits };
    Dim3 block = { (unsigned)t->threads, 1, 1 };
    void *args[] = { &C, &A, &W, &uM, &uN, &uK, &kmode, &ktps };
    gpu_launch(g, fn[tile], grid, block, smem, NULL, args, t->entry);
}

void launch_gemm(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode) {
    launch_gemm_ex(g, C, A, W, M, N, K, mode, -1, 0);
}
