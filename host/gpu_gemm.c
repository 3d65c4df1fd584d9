// gpu_gemm.c — launch_gemm: C (op)= A . W^T with the kernels of ptx/gemm_bf16.ptx (mma.sync) and ptx/gemm_wg.ptx
// (wgmma + TMA, warp-specialised, persistent).
// defines: launch_gemm, launch_gemm_ex (explicit tile shape and split-K, for tests and benchmarks)
//
// Tile choice: decode-sized M (<= 32) streams W through many small mma.sync tiles: 16x32, or 16x16 when N/32 CTAs
// would not cover the GPU twice. Larger M goes to the wgmma kernels: the largest tile whose tile count still gives
// every SM work (128x256, then 128x128, 64x128, 64x64).
// Split-K (mma.sync tiles only; launch_gemm_ex with splits > 1: each split adds its partial sums with
// red.global.add.f32, a plain f32 store zeroes the output first) is not used by default: it is not
// bit-reproducible for 3+ splits or in add mode (the order of the float additions varies), and greedy decoding
// should give the same tokens run after run.
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
// Must match ptx/gemm_wg.ptx: tile bm x bn, 64 * bm / 64 + 128 threads, a ring of `stages` slices of K = 64.
static const GemmTile wg_tiles[] = {
    { "gemm_wg_128x256", 128, 256, 384, 4 },
    { "gemm_wg_128x128", 128, 128, 384, 6 },
    { "gemm_wg_64x128", 64, 128, 256, 8 },
    { "gemm_wg_64x64", 64, 64, 256, 12 },
};
enum { N_WG_TILES = sizeof wg_tiles / sizeof wg_tiles[0] };

static int cdiv(int a, int b) { return (a + b - 1) / b; }

static void launch_mma(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode, int tile,
                       int splits) {
    static CUcontext fn_ctx;                 // functions cached per context (gpu_kernel looks them up by name)
    static CUfunction fn[N_GEMM_TILES];
    if (fn_ctx != g->ctx) {
        for (int i = 0; i < N_GEMM_TILES; i++) fn[i] = gpu_kernel(g, "gemm_bf16", gemm_tiles[i].entry);
        fn_ctx = g->ctx;
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

// The wgmma kernels: A and W go in as TMA tensor maps (128-byte swizzle, K boxes of 64), the grid is persistent.
static void launch_wg(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode, int tile) {
    static CUcontext fn_ctx;
    static CUfunction fn[N_WG_TILES];
    if (fn_ctx != g->ctx) {
        for (int i = 0; i < N_WG_TILES; i++) fn[i] = gpu_kernel(g, "gemm_wg", wg_tiles[i].entry);
        fn_ctx = g->ctx;
    }
    const GemmTile *t = &wg_tiles[tile];
    CUtensorMap ma, mw;
    gpu_tmap_2d(&ma, A, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, (uint64_t)M, (uint64_t)K, (uint64_t)K * 2, (uint32_t)t->bm,
                GEMM_BK, CU_TENSOR_MAP_SWIZZLE_128B);
    gpu_tmap_2d(&mw, W, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, (uint64_t)N, (uint64_t)K, (uint64_t)K * 2, (uint32_t)t->bn,
                GEMM_BK, CU_TENSOR_MAP_SWIZZLE_128B);
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    int tiles = cdiv(M, t->bm) * cdiv(N, t->bn);
    unsigned uM = (unsigned)M, uN = (unsigned)N, uK = (unsigned)K, umode = (unsigned)mode;
    unsigned smem = (unsigned)(t->stages * (t->bm + t->bn) * GEMM_BK * 2 + 16 * t->stages);
    Dim3 grid = { (unsigned)(tiles < sms ? tiles : sms), 1, 1 };
    Dim3 block = { (unsigned)t->threads, 1, 1 };
    void *args[] = { &ma, &mw, &C, &uM, &uN, &uK, &umode };
    gpu_launch(g, fn[tile], grid, block, smem, NULL, args, t->entry);
}

// tile: 0..3 the mma.sync tiles (gemm_tiles), 4..7 the wgmma tiles (wg_tiles), -1 choose; splits: k splits for the
// mma.sync tiles (0 or 1: none). Dies on bad shapes.
void launch_gemm_ex(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode, int tile,
                    int splits) {
    if (M < 0 || N <= 0 || K <= 0 || K % GEMM_BK || N % 8)
        die("launch_gemm: unsupported shape M=%d N=%d K=%d (need K %% 64 == 0, N %% 8 == 0)", M, N, K);
    if (mode < GEMM_STORE_F32 || mode > GEMM_ADD_F32) die("launch_gemm: bad mode %d", mode);
    if (tile < -1 || tile >= N_GEMM_TILES + N_WG_TILES) die("launch_gemm: bad tile %d", tile);
    if ((A | W) % 16 || C % 8) die("launch_gemm: A and W must be 16-byte aligned, C 8-byte aligned");
    if (M == 0) return;
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    if (tile < 0) {
        if (M <= 32) tile = cdiv(N, 32) * cdiv(M, 16) >= 2 * sms ? 0 : 3;
        else {
            tile = N_GEMM_TILES + N_WG_TILES - 1;  // the smallest wgmma tile, unless a larger one fills the GPU
            for (int i = 0; i < N_WG_TILES; i++)
                if (cdiv(M, wg_tiles[i].bm) * cdiv(N, wg_tiles[i].bn) >= sms) { tile = N_GEMM_TILES + i; break; }
        }
    }
    if (tile >= N_GEMM_TILES) launch_wg(g, C, A, W, M, N, K, mode, tile - N_GEMM_TILES);
    else launch_mma(g, C, A, W, M, N, K, mode, tile, splits);
}

void launch_gemm(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode) {
    launch_gemm_ex(g, C, A, W, M, N, K, mode, -1, 0);
}
