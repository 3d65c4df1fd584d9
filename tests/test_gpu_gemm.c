// test_gpu_gemm.c — the tensor-core GEMMs (ptx/gemm_bf16.ptx and ptx/gemm_wg.ptx via launch_gemm) against an fp64 CPU reference on
// Qwen3 0.6B and 8B shapes, every epilogue mode, every tile shape, split-K; then prints timings (not asserted).
// Without a Hopper GPU every case SKIPs with gpu_init's reason.
#include "gpu_test.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"


// Random bf16 matrix (uniform in [-1, 1), never all zero): host bf16 bits and the same values as float.
static void rand_bf16(uint16_t *h, float *f, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h[i] = host_f32_to_bf16((float)(2.0 * rng_uniform(&rng) - 1.0));
        f[i] = host_bf16_to_f32(h[i]);
    }
}

// One (N, K) weight on host and device, reused for every M and mode.
typedef struct { int N, K; uint16_t *h; float *f; CUdeviceptr d; } Weight;
static Weight weight_new(int N, int K) {
    Weight w = { N, K, xmalloc((size_t)N * K * 2), xmalloc((size_t)N * K * 4), 0 };
    rand_bf16(w.h, w.f, (size_t)N * K);
    w.d = gpu_alloc(&G, (size_t)N * K * 2);
    gpu_upload(&G, w.d, w.h, (size_t)N * K * 2);
    return w;
}
static void weight_free(Weight *w) { free(w->h); free(w->f); gpu_free(&G, w->d); }

// fp64 reference for the checked rows, in parallel over rows x column blocks
typedef struct { const float *A, *W; const float *C0; double *ref; const int *rows; int nrows, N, K; } RefJob;
static void ref_job(void *ctx, int64_t i) {
    const RefJob *j = ctx;
    int nb = (j->N + 255) / 256, r = (int)(i / nb), c0 = (int)(i % nb) * 256;
    int c1 = c0 + 256 < j->N ? c0 + 256 : j->N;
    const float *a = j->A + (size_t)j->rows[r] * j->K;
    for (int c = c0; c < c1; c++) {
        const float *w = j->W + (size_t)c * j->K;
        double s = 0;
        for (int k = 0; k < j->K; k++) s += (double)a[k] * w[k];
        if (j->C0) s += j->C0[(size_t)j->rows[r] * j->N + c];
        j->ref[(size_t)r * j->N + c] = s;
    }
}

// Runs C (op)= A.W^T for one M and mode; checks every element is finite (the output was poisoned with NaN, so an
// unwritten element fails) and the relative error over a sample of rows (all rows when M <= 16, else the first
// two, the last two and 12 random ones; all columns). Returns the relative error.
static double check_gemm(const Weight *w, int M, int mode, int tile, int splits) {
    int N = w->N, K = w->K;
    uint16_t *Ah = xmalloc((size_t)M * K * 2);
    float *Af = xmalloc((size_t)M * K * 4);
    rand_bf16(Ah, Af, (size_t)M * K);
    CUdeviceptr dA = gpu_alloc(&G, (size_t)M * K * 2);
    gpu_upload(&G, dA, Ah, (size_t)M * K * 2);
    size_t esz = mode == GEMM_STORE_BF16 ? 2 : 4;
    CUdeviceptr dC = gpu_alloc(&G, (size_t)M * N * esz);
    float *C0 = NULL;
    if (mode == GEMM_ADD_F32) {  // the residual being added to: random, not poison
        C0 = xmalloc((size_t)M * N * 4);
        for (size_t i = 0; i < (size_t)M * N; i++) C0[i] = (float)(4.0 * rng_uniform(&rng) - 2.0);
        gpu_upload(&G, dC, C0, (size_t)M * N * 4);
    } else if (mode == GEMM_STORE_BF16) {
        gpu_fill_u32(&G, dC, 0x7FC07FC0u, (size_t)M * N / 2);  // two bf16 NaNs per word (N is even)
    } else {
        gpu_fill_u32(&G, dC, 0x7FC00000u, (size_t)M * N);
    }
    launch_gemm_ex(&G, dC, dA, w->d, M, N, K, mode, tile, splits);
    float *C = xmalloc((size_t)M * N * 4);
    if (mode == GEMM_STORE_BF16) {
        uint16_t *Cb = xmalloc((size_t)M * N * 2);
        gpu_download(&G, Cb, dC, (size_t)M * N * 2);
        for (size_t i = 0; i < (size_t)M * N; i++) C[i] = host_bf16_to_f32(Cb[i]);
        free(Cb);
    } else {
        gpu_download(&G, C, dC, (size_t)M * N * 4);
    }
    double err = 0;
    size_t bad = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) if (!isfinite(C[i])) bad++;
    if (bad) {
        err = INFINITY;
        printf("  M=%d N=%d K=%d mode %d tile %d: %zu of %zu elements not written or not finite\n", M, N, K, mode,
               tile, bad, (size_t)M * N);
    } else {
        int rows[16], nrows = 0;
        if (M <= 16) for (int r = 0; r < M; r++) rows[nrows++] = r;
        else {
            rows[nrows++] = 0; rows[nrows++] = 1; rows[nrows++] = M - 2; rows[nrows++] = M - 1;
            while (nrows < 16) rows[nrows++] = 2 + (int)(rng_uniform(&rng) * (M - 4));
        }
        double *ref = xmalloc((size_t)nrows * N * sizeof(double));
        RefJob job = { Af, w->f, C0, ref, rows, nrows, N, K };
        parallel_for((int64_t)nrows * ((N + 255) / 256), ref_job, &job);
        float *got = xmalloc((size_t)nrows * N * 4);
        for (int r = 0; r < nrows; r++) memcpy(got + (size_t)r * N, C + (size_t)rows[r] * N, (size_t)N * 4);
        err = rel_err(got, ref, (size_t)nrows * N);
        free(ref); free(got);
    }
    free(Ah); free(Af); free(C); free(C0);
    gpu_free(&G, dA); gpu_free(&G, dC);
    return err;
}

// f32 results come from the same bf16 inputs, so only accumulation order differs from the fp64 reference;
// bf16 output adds one rounding (2^-9 relative at worst, ~0.1% rms).
// f32 output: the only error is f32 accumulation order, which grows like sqrt(K) (measured on an H200:
// 1.32e-5 at K = 12288); bf16 output adds one rounding (2^-9 relative).
static double tol_for(int mode, int K) { return mode == GEMM_STORE_BF16 ? 5e-3 : 2e-7 * sqrt((double)K) + 5e-6; }
static const char *mode_name[] = { "f32", "bf16", "add" };

static void check_shapes(const int (*nk)[2], int n_nk, const int *Ms, int n_m) {
    for (int s = 0; s < n_nk; s++) {
        Weight w = weight_new(nk[s][0], nk[s][1]);
        for (int i = 0; i < n_m; i++)
            for (int mode = 0; mode < 3; mode++) {
                double e = check_gemm(&w, Ms[i], mode, -1, 0);
                CHECK(e < tol_for(mode, w.K), "M=%d N=%d K=%d %s: rel err %.3g", Ms[i], w.N, w.K, mode_name[mode], e);
            }
        printf("  N=%d K=%d: M in {", w.N, w.K);
        for (int i = 0; i < n_m; i++) printf("%s%d", i ? "," : "", Ms[i]);
        printf("} x {f32, bf16, add} checked\n");
        weight_free(&w);
    }
}

static const int Ms[] = { 1, 2, 7, 64, 65, 128, 300, 1024 };
enum { N_MS = sizeof Ms / sizeof Ms[0] };

// Qwen3-0.6B: dim 1024, 16 q heads / 8 kv heads of 128, ffn 3072
static void gemm_qwen3_06b_shapes(void) {
    NEED_GPU();
    static const int nk[][2] = { { 1024, 1024 }, { 1024, 2048 }, { (16 + 2 * 8) * 128, 1024 }, { 6144, 1024 },
                                 { 1024, 3072 } };
    check_shapes(nk, 5, Ms, N_MS);
}

// Qwen3-8B: dim 4096, 32 q heads / 8 kv heads, ffn 12288
static void gemm_qwen3_8b_shapes(void) {
    NEED_GPU();
    static const int nk[][2] = { { 4096, 4096 }, { (32 + 2 * 8) * 128, 4096 }, { 24576, 4096 }, { 4096, 12288 } };
    check_shapes(nk, 4, Ms, N_MS);
}

static void gemm_lm_head_small_m(void) {
    NEED_GPU();
    static const int nk[][2] = { { 151936, 1024 } };
    static const int m[] = { 1, 2, 7 };
    check_shapes(nk, 1, m, 3);
}

// Every tile shape with and without split-K, on sizes that leave partial tiles in M and N (N % 128 == 64).
static void gemm_each_tile_and_split(void) {
    NEED_GPU();
    static const int nk[][2] = { { 320, 192 }, { 1088, 1024 }, { 64, 4096 } };
    static const int m[] = { 1, 17, 33, 129, 200 };
    static const int splits[] = { 1, 2, 3 };
    for (int s = 0; s < 3; s++) {
        Weight w = weight_new(nk[s][0], nk[s][1]);
        for (int tile = 0; tile < GEMM_N_TILES; tile++)
            for (int sp = 0; sp < 3; sp++)  // wgmma tiles: splits 1, 2, 3 through the deterministic slab sum
                for (int i = 0; i < 5; i++)
                    for (int mode = 0; mode < 3; mode++) {
                        double e = check_gemm(&w, m[i], mode, tile, splits[sp]);
                        CHECK(e < tol_for(mode, w.K), "tile %d splits %d M=%d N=%d K=%d %s: rel err %.3g", tile,
                              splits[sp], m[i], w.N, w.K, mode_name[mode], e);
                    }
        weight_free(&w);
    }
}

// Timings (printed, not asserted): weights rotate through enough copies to exceed L2, so M = 1 measures HBM.
static void time_one(const char *label, int M, int N, int K, int mode, int tile, int splits) {
    size_t wbytes = (size_t)N * K * 2;
    int copies = (int)((3 * G.l2_bytes + wbytes - 1) / wbytes);
    if (copies < 1) copies = 1;
    if (copies > 16) copies = 16;
    CUdeviceptr *dW = xmalloc(copies * sizeof *dW);
    for (int c = 0; c < copies; c++) {
        dW[c] = gpu_alloc(&G, wbytes);
        gpu_fill_u32(&G, dW[c], 0x3C013BFFu, wbytes / 4);  // small non-zero bf16 values
    }
    CUdeviceptr dA = gpu_alloc(&G, (size_t)M * K * 2), dC = gpu_alloc(&G, (size_t)M * N * 4);
    gpu_fill_u32(&G, dA, 0x3F803F80u, (size_t)M * K / 2);
    gpu_fill_u32(&G, dC, 0, (size_t)M * N);
    for (int c = 0; c < copies; c++) launch_gemm_ex(&G, dC, dA, dW[c], M, N, K, mode, tile, splits);  // warm up
    int iters = 20 > copies ? 20 : copies;
    GpuTimer t;
    gpu_timer_init(&t);
    gpu_timer_start(&G, &t);
    for (int i = 0; i < iters; i++) launch_gemm_ex(&G, dC, dA, dW[i % copies], M, N, K, mode, tile, splits);
    double ms = gpu_timer_stop_ms(&G, &t) / iters;
    gpu_timer_free(&t);
    double bytes = wbytes + (double)M * K * 2 + (double)M * N * (mode == GEMM_ADD_F32 ? 8 : 4);
    double flops = 2.0 * M * N * K;
    printf("  time %-10s M=%-5d N=%-6d K=%-5d %8.1f us  %7.1f GB/s  %6.1f TFLOP/s\n", label, M, N, K, ms * 1e3,
           bytes / (ms * 1e-3) / 1e9, flops / (ms * 1e-3) / 1e12);
    for (int c = 0; c < copies; c++) gpu_free(&G, dW[c]);
    free(dW);
    gpu_free(&G, dA); gpu_free(&G, dC);
}

static void gemm_timings(void) {
    NEED_GPU();
    printf("  %s, %d SMs\n", G.name, G.sm_count);
    static const struct { const char *name; int N, K, mode; } s[] = {
        { "qkv", 6144, 4096, GEMM_STORE_F32 }, { "o", 4096, 4096, GEMM_ADD_F32 },
        { "gate_up", 24576, 4096, GEMM_STORE_F32 }, { "down", 4096, 12288, GEMM_ADD_F32 },
        { "lm_head", 151936, 4096, GEMM_STORE_F32 },
    };
    static const int m[] = { 1, 8, 128, 4096 };
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++) {
            if (m[i] > 8 && j == 4) continue;  // lm_head only for decode rows
            time_one(s[j].name, m[i], s[j].N, s[j].K, s[j].mode, -1, 0);
        }
    // split-K (not the default: not bit-reproducible) on the decode shapes with few CTAs, for comparison
    time_one("o split3", 1, 4096, 4096, GEMM_ADD_F32, -1, 3);
    time_one("down split3", 1, 4096, 12288, GEMM_ADD_F32, -1, 3);
    time_one("qkv split2", 1, 6144, 4096, GEMM_STORE_F32, -1, 2);
    // every tile at the prefill shape and a mid-M one (the worklog in NOTES.md compares them)
    static const char *tname[GEMM_N_TILES] = { "mma16x32", "mma64x64", "mma128", "mma16x16", "wg128x256",
                                               "wg128x128", "wg64x128", "wg64x64" };
    for (int t = 1; t < GEMM_N_TILES; t++) {
        if (t == 3) continue;
        time_one(tname[t], 4096, 24576, 4096, GEMM_STORE_F32, t, 0);
        time_one(tname[t], 256, 4096, 4096, GEMM_ADD_F32, t, 0);
    }
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    RUN(gemm_qwen3_06b_shapes);
    RUN(gemm_qwen3_8b_shapes);
    RUN(gemm_lm_head_small_m);
    RUN(gemm_each_tile_and_split);
    RUN(gemm_timings);
    gpu_test_end();
    return test_end();
}
