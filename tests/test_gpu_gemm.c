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
// The rows a check compares with the fp64 reference: all of them up to 16, else the first two, the last two and 12
// drawn at random. Returns how many.
static int sample_rows(int M, int rows[16]) {
    int n = 0;
    if (M <= 16) for (int r = 0; r < M; r++) rows[n++] = r;
    else {
        rows[n++] = 0; rows[n++] = 1; rows[n++] = M - 2; rows[n++] = M - 1;
        while (n < 16) rows[n++] = 2 + (int)(rng_uniform(&rng) * (M - 4));
    }
    return n;
}

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
        int rows[16], nrows = sample_rows(M, rows);
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
    static const int splits[] = { 1, 2, 3, 4 };  // 4: the swapped tile's automatic split for the 0.6B's o / down
    int only = env_int("QWEN3_TEST_GEMM_TILE", -1, GEMM_N_TILES - 1, -1);  // one tile alone (the sanitizer runs)
    for (int s = 0; s < 3; s++) {
        Weight w = weight_new(nk[s][0], nk[s][1]);
        for (int tile = 0; tile < GEMM_N_TILES; tile++)
            // wgmma tiles: splits 1..4 through the deterministic slab sum
            for (int sp = 0; sp < 4 && (only < 0 || tile == only); sp++)
                for (int i = 0; i < 5; i++)
                    for (int mode = 0; mode < 3; mode++) {
                        double e = check_gemm(&w, m[i], mode, tile, splits[sp]);
                        CHECK(e < tol_for(mode, w.K), "tile %d splits %d M=%d N=%d K=%d %s: rel err %.3g", tile,
                              splits[sp], m[i], w.N, w.K, mode_name[mode], e);
                    }
        weight_free(&w);
    }
}

// The tail split on every wgmma tile: grids of more tiles than SMs (the full waves whole, the last wave's tiles split:
// both kinds of unit in one launch) and of fewer (every tile split), partial tiles in M and N; and the cluster splits
// of 2..4 on every wgmma tile but the pairs (the sums through distributed shared memory).
static void gemm_tail_split(void) {
    NEED_GPU();
    static const int nk[][2] = { { 4160, 1024 }, { 1088, 2048 } };
    static const int m[] = { 129, 300, 520 };
    static const int sp[] = { GEMM_SPLIT_TAIL, GEMM_SPLIT_CLUSTER + 2, GEMM_SPLIT_CLUSTER + 3, GEMM_SPLIT_CLUSTER + 4 };
    int only = env_int("QWEN3_TEST_GEMM_TILE", -1, GEMM_N_TILES - 1, -1);  // one tile alone (the sanitizer runs)
    for (int s = 0; s < 2; s++) {
        Weight w = weight_new(nk[s][0], nk[s][1]);
        for (int tile = GEMM_FIRST_WG; tile < GEMM_N_TILES; tile++) {
            if (tile == GEMM_SW_TILE || (only >= 0 && tile != only)) continue;
            for (int k = 0; k < 4; k++) {
                if (k > 0 && !gemm_cluster_split_tile(0, tile)) continue;
                for (int i = 0; i < 3; i++)
                    for (int mode = 0; mode < 3; mode++) {
                        double e = check_gemm(&w, m[i], mode, tile, sp[k]);
                        CHECK(e < tol_for(mode, w.K), "tile %d splits %d M=%d N=%d K=%d %s: rel err %.3g", tile,
                              sp[k], m[i], w.N, w.K, mode_name[mode], e);
                    }
            }
        }
        weight_free(&w);
    }
}

// ---------------------------------------------------------------- SwiGLU epilogue (gate/up interleaved at load)

// The gate/up pair [F][K] each (host copies as float, bf16-exact), uploaded through gpu_linear_upload_gated (gate
// as an F32 tensor, up as BF16: two dequantisers, one interleave), so the check covers the load path too.
typedef struct { int F, K; float *gate, *up; GpuLinear L; } Gated;
static Gated gated_new(int F, int K) {
    Gated w = { F, K, xmalloc((size_t)F * K * 4), xmalloc((size_t)F * K * 4), { 0 } };
    uint16_t *hb = xmalloc((size_t)F * K * 2);
    rand_bf16(hb, w.gate, (size_t)F * K);
    rand_bf16(hb, w.up, (size_t)F * K);
    GGUFTensor tg = host_tensor("gate", GGML_TYPE_F32, w.gate, F, K), tu = host_tensor("up", GGML_TYPE_BF16, hb, F, K);
    w.L = (GpuLinear){ .w = gpu_alloc(&G, (size_t)2 * F * K * 2), .N = 2 * F, .K = K };
    gpu_linear_upload_gated(&G, &w.L, &tg, &tu, 0, 1);
    gpu_sync(&G);
    free(hb);
    return w;
}
static void gated_free(Gated *w) { free(w->gate); free(w->up); gpu_free(&G, w->L.w); }

// fp64 silu(A.Wg^T) * (A.Wu^T) from the un-interleaved weights, for the checked rows
typedef struct { const float *A; const Gated *w; double *ref; const int *rows; int nrows; } SwiRef;
static void swi_ref_job(void *ctx, int64_t i) {
    const SwiRef *j = ctx;
    int F = j->w->F, K = j->w->K, nb = (F + 127) / 128, r = (int)(i / nb), c0 = (int)(i % nb) * 128;
    int c1 = c0 + 128 < F ? c0 + 128 : F;
    const float *a = j->A + (size_t)j->rows[r] * K;
    for (int c = c0; c < c1; c++) {
        const float *wg = j->w->gate + (size_t)c * K, *wu = j->w->up + (size_t)c * K;
        double g = 0, u = 0;
        for (int k = 0; k < K; k++) { g += (double)a[k] * wg[k]; u += (double)a[k] * wu[k]; }
        j->ref[(size_t)r * F + c] = g / (1 + exp(-g)) * u;
    }
}

// Fresh activations (device copy in *dA_out when asked), a = swiglu(A . Wgu^T) through launch_gemm_ex on `tile`
// into a NaN-poisoned bf16 [M][F]; returns the relative error over the sampled rows (every element must be finite).
static double check_swiglu(const Gated *w, int M, int tile, CUdeviceptr *dA_out, CUdeviceptr *da_out) {
    int F = w->F, K = w->K;
    uint16_t *Ah = xmalloc((size_t)M * K * 2);
    float *Af = xmalloc((size_t)M * K * 4);
    rand_bf16(Ah, Af, (size_t)M * K);
    CUdeviceptr dA = gpu_alloc(&G, (size_t)M * K * 2), da = gpu_alloc(&G, (size_t)M * F * 2);
    gpu_upload(&G, dA, Ah, (size_t)M * K * 2);
    gpu_fill_u32(&G, da, 0x7FC07FC0u, (size_t)M * F / 2);
    launch_gemm_ex(&G, da, dA, w->L.w, M, 2 * F, K, GEMM_SWIGLU_BF16, tile, 1);
    uint16_t *ab = xmalloc((size_t)M * F * 2);
    gpu_download(&G, ab, da, (size_t)M * F * 2);
    size_t bad = 0;
    for (size_t i = 0; i < (size_t)M * F; i++) if (!isfinite(host_bf16_to_f32(ab[i]))) bad++;
    double err = INFINITY;
    if (bad) {
        printf("  SwiGLU M=%d F=%d K=%d tile %d: %zu of %zu outputs not written or not finite\n", M, F, K, tile, bad,
               (size_t)M * F);
    } else {
        int rows[16], nrows = sample_rows(M, rows);
        double *ref = xmalloc((size_t)nrows * F * sizeof(double));
        SwiRef job = { Af, w, ref, rows, nrows };
        parallel_for((int64_t)nrows * ((F + 127) / 128), swi_ref_job, &job);
        float *got = xmalloc((size_t)nrows * F * 4);
        for (int r = 0; r < nrows; r++)
            for (int c = 0; c < F; c++) got[(size_t)r * F + c] = host_bf16_to_f32(ab[(size_t)rows[r] * F + c]);
        err = rel_err(got, ref, (size_t)nrows * F);
        free(ref); free(got);
    }
    free(Ah); free(Af); free(ab);
    if (dA_out) *dA_out = dA; else gpu_free(&G, dA);
    if (da_out) *da_out = da; else gpu_free(&G, da);
    return err;
}

static const int swi_Ms[] = { 1, 5, 16, 17, 64, 100, 256, 300 };
enum { N_SWI_MS = sizeof swi_Ms / sizeof swi_Ms[0] };

// Every tile (F = 544: partial tiles in N for every width) and the engine's choice on the 0.6B and 8B gate_up.
// Tolerance: the bf16 output's rounding (2^-9), as for GEMM_STORE_BF16.
static void gemm_swiglu(void) {
    NEED_GPU();
    Gated w = gated_new(544, 1024);
    for (int tile = 0; tile < GEMM_N_TILES; tile++)
        for (int i = 0; i < N_SWI_MS && tile != GEMM_128X192_TILE; i++) {  // 128x192: no SwiGLU epilogue
            double e = check_swiglu(&w, swi_Ms[i], tile, NULL, NULL);
            CHECK(e < 5e-3, "SwiGLU tile %d M=%d F=%d K=%d: rel err %.3g", tile, swi_Ms[i], w.F, w.K, e);
        }
    printf("  F=544 K=1024: every tile but 128x192 x M in {1,5,16,17,64,100,256,300} checked\n");
    gated_free(&w);
    static const int fk[][2] = { { 3072, 1024 }, { 12288, 4096 } };
    for (int s = 0; s < 2; s++) {
        w = gated_new(fk[s][0], fk[s][1]);
        for (int i = 0; i < N_SWI_MS; i++) {
            double e = check_swiglu(&w, swi_Ms[i], -1, NULL, NULL);
            CHECK(e < 5e-3, "SwiGLU M=%d F=%d K=%d: rel err %.3g", swi_Ms[i], w.F, w.K, e);
        }
        printf("  F=%d K=%d (tile choice): M in {1,5,16,17,64,100,256,300} checked\n", w.F, w.K);
        gated_free(&w);
    }
}

// The FP8-quantising epilogue (128x256 tile) byte for byte against launch_quant_act_fp8 applied to the same tile's
// bf16 SwiGLU output (checked above against fp64): the claim is "what the separate quantiser would have made", and
// identical accumulators make that exact; a host encoder of fp64 values could only promise one e4m3 step.
static void gemm_swiglu_fp8_out(void) {
    NEED_GPU();
    static const int fk[][2] = { { 640, 1024 }, { 12288, 4096 } };
    for (int s = 0; s < 2; s++) {
        Gated w = gated_new(fk[s][0], fk[s][1]);
        int F = w.F, K = w.K, FB = F / 128;
        for (int i = 0; i < N_SWI_MS; i++) {
            int M = swi_Ms[i];
            CUdeviceptr dA, da;
            double e = check_swiglu(&w, M, GEMM_SWIGLU_FP8_TILE, &dA, &da);
            CHECK(e < 5e-3, "SwiGLU 128x256 M=%d F=%d: rel err %.3g", M, F, e);
            CUdeviceptr q0 = gpu_alloc(&G, (size_t)M * F), s0 = gpu_alloc(&G, (size_t)M * FB * 4);
            CUdeviceptr q1 = gpu_alloc(&G, (size_t)M * F), s1 = gpu_alloc(&G, (size_t)M * FB * 4);
            launch_quant_act_fp8(&G, q0, s0, da, M, F);
            gpu_fill_u32(&G, q1, 0x7F7F7F7Fu, (size_t)M * F / 4);
            gpu_fill_u32(&G, s1, 0x7FC00000u, (size_t)M * FB);
            launch_gemm_swiglu_fp8(&G, q1, s1, dA, 0, w.L.w, 0, M, 2 * F, K, 1, -1);
            size_t bad, bad_s;
            fp8_out_diff(q0, s0, q1, s1, M, F, 0, &bad, &bad_s);
            CHECK(bad == 0 && bad_s == 0, "SwiGLU FP8 out M=%d F=%d K=%d: %zu bytes, %zu scales differ from quant_act_fp8",
                  M, F, K, bad, bad_s);
            gpu_free(&G, q0); gpu_free(&G, s0); gpu_free(&G, q1); gpu_free(&G, s1); gpu_free(&G, dA); gpu_free(&G, da);
        }
        printf("  F=%d K=%d: FP8 out byte-exact for M in {1,5,16,17,64,100,256,300}\n", F, K);
        gated_free(&w);
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
    for (int j = 0; j < 5; j++)  // the swapped decode tile at batch 1 and 8 (automatic cluster K split)
        for (int i = 0; i < 2; i++) time_one("sw", m[i], s[j].N, s[j].K, s[j].mode, GEMM_SW_TILE, 0);
    // split-K (not the default: not bit-reproducible) on the decode shapes with few CTAs, for comparison
    time_one("o split3", 1, 4096, 4096, GEMM_ADD_F32, -1, 3);
    time_one("down split3", 1, 4096, 12288, GEMM_ADD_F32, -1, 3);
    time_one("qkv split2", 1, 6144, 4096, GEMM_STORE_F32, -1, 2);
    // every tile at the prefill shape and a mid-M one (the worklog in NOTES.md compares them)
    static const char *tname[GEMM_N_TILES] = { "mma16x32", "mma64x64", "mma128", "mma16x16", "wg128x256",
                                               "wg128x128", "wg64x128", "wg64x64", "wg64x128s", "wg128x256c2",
                                               "wg128x128c2", "sw" };
    for (int t = 1; t < GEMM_N_TILES; t++) {
        if (t == 3 || t == GEMM_SW_TILE) continue;  // the swapped tile is timed at decode sizes below
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
    RUN(gemm_tail_split);
    RUN(gemm_swiglu);
    RUN(gemm_swiglu_fp8_out);
    RUN(gemm_timings);
    gpu_test_end();
    return test_end();
}
