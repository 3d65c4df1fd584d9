// test_gpu_fp8.c — the FP8 path of issue 5: the e4m3 quantisers (ptx/quant_fp8.ptx) byte for byte against a host
// encoder, and the block-scaled FP8 GEMM (ptx/gemm_fp8.ptx) against an fp64 product of the same dequantised inputs,
// every tile and epilogue mode, partial tiles in M and N; then timings (printed, not asserted).
// Without a Hopper GPU every case SKIPs with gpu_init's reason.
#include "gpu_test.h"
#include "../host/gpu_sample.h"
#include "../host/sampler.h"
#include <math.h>
#include <string.h>

// ---------------------------------------------------------------- host e4m3
static double e4m3_decode(uint8_t q) {
    int s = q >> 7, e = (q >> 3) & 15, m = q & 7;
    if (e == 15 && m == 7) return NAN;
    double v = e ? ldexp(1.0 + m / 8.0, e - 7) : ldexp(m / 8.0, -6);
    return s ? -v : v;
}
// Nearest e4m3 (ties to the even code), saturating at +-448; NaN -> 0x7F. Brute force over the 127 finite codes.
static uint8_t e4m3_encode(float x) {
    if (isnan(x)) return 0x7F;
    double a = fabs((double)x);
    int best = 0;
    double bd = INFINITY;
    for (int c = 0; c < 127; c++) {
        double d = fabs(e4m3_decode((uint8_t)c) - a);
        if (d < bd || (d == bd && !(c & 1))) { bd = d; best = c; }
    }
    return (uint8_t)(best | (x < 0 && best ? 0x80 : 0));
}
static float scale_of(float amax) { return amax > 0 ? amax / 448.0f : 1.0f; }

// Random bf16 with a different magnitude per row (and per 128-column group), some groups all zero.
static void rand_rows_bf16(uint16_t *h, int rows, int K, int zero_groups) {
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < K / 128; g++) {
            float mag = (float)ldexp(1.0, (int)(rng_uniform(&rng) * 12) - 6);
            int zero = zero_groups && rng_uniform(&rng) < 0.02;
            for (int k = 0; k < 128; k++)
                h[(size_t)r * K + g * 128 + k] = host_f32_to_bf16(zero ? 0.0f : mag * (float)(2 * rng_uniform(&rng) - 1));
        }
}

// Checks quantised bytes against the host encoder of x * (1 / scale); a tie may round either way. Returns mismatches.
static size_t check_q(const uint16_t *x, const uint8_t *q, size_t n, float scale, size_t *ties) {
    size_t bad = 0;
    float inv = 1.0f / scale;
    for (size_t i = 0; i < n; i++) {
        float y = host_bf16_to_f32(x[i]) * inv;
        uint8_t want = e4m3_encode(y);
        if (want == q[i]) continue;
        double dw = fabs(e4m3_decode(want) - y), dg = fabs(e4m3_decode(q[i]) - y);
        if (dg == dw) (*ties)++; else bad++;
    }
    return bad;
}

// Rows r0..r1-1 of x [*][K] quantised with one common scale (the uniform scales): that scale (amax / 448 over all of
// them), every one of the K / 128 entries of srow against it, their codes against the host encoder's.
static float rows_scale(const uint16_t *x, int r0, int r1, int K) {
    float amax = 0;
    for (int r = r0; r < r1; r++)
        for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(host_bf16_to_f32(x[(size_t)r * K + k])));
    return scale_of(amax);
}
static void check_rows_uniform(const uint16_t *x, const uint8_t *q, const float *srow, int r0, int r1, int K,
                               size_t *bad, size_t *bad_scale, size_t *ties) {
    float sc = rows_scale(x, r0, r1, K);
    for (int g = 0; g < K / 128; g++) *bad_scale += !(srow[g] == sc);
    for (int r = r0; r < r1; r++) *bad += check_q(x + (size_t)r * K, q + (size_t)r * K, K, sc, ties);
}

// One quantiser launch on the host's bf16 x [rows][K]: e4m3 codes q [rows][K] and scales s [srows][K / 128] come back
// (outputs poisoned before: e4m3 0x7F and the scales NaN); the caller frees x, *q, *s.
typedef void QuantLaunch(Gpu *g, CUdeviceptr q8, CUdeviceptr s, CUdeviceptr x, int rows, int K);
static void quant_run(QuantLaunch *launch, const uint16_t *x, int rows, int K, int srows, uint8_t **q, float **s) {
    size_t ns = (size_t)srows * (K / 128);
    CUdeviceptr dx = gpu_alloc(&G, (size_t)rows * K * 2), dq = gpu_alloc(&G, (size_t)rows * K), ds = gpu_alloc(&G, ns * 4);
    gpu_upload(&G, dx, x, (size_t)rows * K * 2);
    gpu_fill_u32(&G, dq, 0x7F7F7F7Fu, (size_t)rows * K / 4);
    gpu_fill_u32(&G, ds, 0x7FC00000u, ns);
    launch(&G, dq, ds, dx, rows, K);
    *q = xmalloc((size_t)rows * K);
    *s = xmalloc(ns * 4);
    gpu_download(&G, *q, dq, (size_t)rows * K);
    gpu_download(&G, *s, ds, ns * 4);
    gpu_free(&G, dx); gpu_free(&G, dq); gpu_free(&G, ds);
}

static void quant_act(void) {
    NEED_GPU();
    int M = 37, K = 4096, KB = K / 128;
    uint16_t *x = xmalloc((size_t)M * K * 2);
    rand_rows_bf16(x, M, K, 1);
    uint8_t *q;
    float *s;
    quant_run(launch_quant_act_fp8, x, M, K, M, &q, &s);
    size_t bad = 0, ties = 0, bad_scale = 0;
    for (int r = 0; r < M; r++)
        for (int g = 0; g < KB; g++) {
            const uint16_t *xg = x + (size_t)r * K + g * 128;
            float amax = 0;
            for (int k = 0; k < 128; k++) amax = fmaxf(amax, fabsf(host_bf16_to_f32(xg[k])));
            float sc = scale_of(amax), got = s[r * KB + g];
            if (!(fabsf(got - sc) <= 1e-6f * sc)) { if (bad_scale++ < 3) printf("  row %d group %d: scale %g, want %g\n", r, g, got, sc); continue; }
            bad += check_q(xg, q + (size_t)r * K + g * 128, 128, got, &ties);
        }
    printf("  %d x %d: %zu scale mismatches, %zu byte mismatches, %zu ties rounded the other way\n", M, K, bad_scale, bad, ties);
    CHECK(bad_scale == 0 && bad == 0, "quant_act_fp8 differs from the host encoder");
    free(x); free(q); free(s);
}

// One scale a row (launch_quant_act_fp8_row: a bf16 input of a layer with uniform scales): the row's amax over all
// of K in every entry of its sa row, the codes the host encoder's of it. Groups 2^11 apart in magnitude, zero groups,
// K from one group to 25,600 (the 32B's ffn: a 50 KB row, past the 48 KB of shared memory a launch gets without
// opting in), and one all-zero row (scale 1).
static void quant_act_row(void) {
    NEED_GPU();
    static const int shapes[][2] = { { 37, 4096 }, { 5, 12288 }, { 3, 25600 }, { 2, 128 } };
    for (int c = 0; c < 4; c++) {
        int M = shapes[c][0], K = shapes[c][1], KB = K / 128;
        uint16_t *x = xmalloc((size_t)M * K * 2);
        rand_rows_bf16(x, M, K, 1);
        if (M > 2) memset(x + (size_t)(M - 1) * K, 0, (size_t)K * 2);
        uint8_t *q;
        float *s;
        quant_run(launch_quant_act_fp8_row, x, M, K, M, &q, &s);
        size_t bad = 0, ties = 0, bad_scale = 0;
        for (int r = 0; r < M; r++) check_rows_uniform(x, q, s + (size_t)r * KB, r, r + 1, K, &bad, &bad_scale, &ties);
        printf("  %d x %d: %zu scale mismatches, %zu byte mismatches, %zu ties\n", M, K, bad_scale, bad, ties);
        CHECK(bad_scale == 0 && bad == 0, "quant_act_fp8_row differs from the host encoder (%d x %d)", M, K);
        free(x); free(q); free(s);
    }
}

// Timings (printed, not asserted): the block and the row quantiser, back to back, at decode and prefill sizes.
static void quant_timings(void) {
    NEED_GPU();
    static const int Ks[] = { 4096, 12288 }, Ms[] = { 1, 256, 3900 };
    for (int ki = 0; ki < 2; ki++)
        for (int mi = 0; mi < 3; mi++) {
            int K = Ks[ki], M = Ms[mi];
            CUdeviceptr x = gpu_alloc(&G, (size_t)M * K * 2), q = gpu_alloc(&G, (size_t)M * K), s = gpu_alloc(&G, (size_t)M * K / 32);
            gpu_fill_u32(&G, x, 0x3F803F80u, (size_t)M * K / 2);  // bf16 1.0
            double us[2];
            for (int v = 0; v < 2; v++) {
                QuantLaunch *f = v ? launch_quant_act_fp8_row : launch_quant_act_fp8;
                f(&G, q, s, x, M, K);
                GpuTimer t;
                gpu_timer_init(&t);
                gpu_timer_start(&G, &t);
                for (int i = 0; i < 20; i++) f(&G, q, s, x, M, K);
                us[v] = gpu_timer_stop_ms(&G, &t) / 20 * 1e3;
                gpu_timer_free(&t);
            }
            printf("  time quant M=%-5d K=%-6d block %7.1f us, row %7.1f us (%.0f GB/s moved)\n", M, K, us[0], us[1],
                   3.0 * M * K / (us[1] * 1e3));
            gpu_free(&G, x); gpu_free(&G, q); gpu_free(&G, s);
        }
}

static void quant_w(void) {
    NEED_GPU();
    int N = 320, K = 1024, KB = K / 128, NB = (N + 127) / 128;  // N = 2.5 blocks: a partial block of rows
    uint16_t *w = xmalloc((size_t)N * K * 2);
    for (size_t i = 0; i < (size_t)N * K; i++) w[i] = host_f32_to_bf16((float)(0.05 * (2 * rng_uniform(&rng) - 1)));
    for (int k = 0; k < 128; k++) w[(size_t)300 * K + 256 + k] = host_f32_to_bf16(3.0f * (k % 2 ? 1 : -1));  // a row spike
    uint8_t *q;
    float *s;
    quant_run(launch_quant_w_fp8, w, N, K, NB, &q, &s);
    size_t bad = 0, ties = 0, bad_scale = 0;
    for (int b = 0; b < NB; b++)
        for (int g = 0; g < KB; g++) {
            float amax = 0;
            for (int r = b * 128; r < N && r < b * 128 + 128; r++)
                for (int k = 0; k < 128; k++) amax = fmaxf(amax, fabsf(host_bf16_to_f32(w[(size_t)r * K + g * 128 + k])));
            float sc = scale_of(amax), got = s[b * KB + g];
            if (!(fabsf(got - sc) <= 1e-6f * sc)) { bad_scale++; continue; }
            for (int r = b * 128; r < N && r < b * 128 + 128; r++)
                bad += check_q(w + (size_t)r * K + g * 128, q + (size_t)r * K + g * 128, 128, got, &ties);
        }
    printf("  %d x %d: %zu scale mismatches, %zu byte mismatches, %zu ties\n", N, K, bad_scale, bad, ties);
    CHECK(bad_scale == 0 && bad == 0, "quant_w_fp8 differs from the host encoder");
    free(w); free(q); free(s);
}

// One scale for each 128-row block along all of K (launch_quant_w_fp8_row: the uniform scales of GemmNorm.uni): every
// entry of a block's row of sw is the largest of its 128 x 128 blocks' scales, the codes the host encoder's of it.
// Magnitudes that differ by 2^11 between groups (the codes of the small ones near e4m3's bottom), a partial block.
static void quant_w_row(void) {
    NEED_GPU();
    int N = 320, K = 2048, KB = K / 128, NB = (N + 127) / 128;
    uint16_t *w = xmalloc((size_t)N * K * 2);
    rand_rows_bf16(w, N, K, 1);
    uint8_t *q;
    float *s;
    quant_run(launch_quant_w_fp8_row, w, N, K, NB, &q, &s);
    size_t bad = 0, ties = 0, bad_scale = 0;
    for (int b = 0; b < NB; b++)
        check_rows_uniform(w, q, s + b * KB, b * 128, b * 128 + 128 < N ? b * 128 + 128 : N, K, &bad, &bad_scale, &ties);
    printf("  %d x %d: %zu scale mismatches, %zu byte mismatches, %zu ties\n", N, K, bad_scale, bad, ties);
    CHECK(bad_scale == 0 && bad == 0, "quant_w_fp8_row differs from the host encoder");
    free(w); free(q); free(s);
}

// launch_rmsnorm_fp8_row against launch_rmsnorm's bf16 rows (checked in fp64 by test_gpu_ops) and the host encoder:
// each row's amax over its bf16 values, that one scale in all dim / 128 entries, the codes. Rows of very different
// size, a row gather, an all-zero group, a poisoned row past the end.
static void rmsnorm_fp8_row(void) {
    NEED_GPU();
    static const int dims[] = { 4096, 5120, 1024, 8192 }, Ts[] = { 1, 7, 300 };
    for (int di = 0; di < 4; di++)
        for (int ti = 0; ti < 3; ti++) {
            int dim = dims[di], T = Ts[ti], KB = dim / 128, n_in = T + 3, gather = ti == 1;
            float *in = xmalloc((size_t)n_in * dim * 4), *w = xmalloc((size_t)dim * 4);
            for (int r = 0; r < n_in; r++) {
                float sc = (float)exp(8.0 * rng_uniform(&rng) - 4.0);
                for (int j = 0; j < dim; j++) in[(size_t)r * dim + j] = sc * (float)(2 * rng_uniform(&rng) - 1);
            }
            for (int j = 0; j < dim; j++) w[j] = j >= 128 && j < 256 ? 0.0f : (float)(0.5 + rng_uniform(&rng));
            int32_t *rows = xmalloc((size_t)T * 4);
            for (int r = 0; r < T; r++) rows[r] = gather ? (int32_t)(rng_u64(&rng) % (uint64_t)n_in) : r;
            CUdeviceptr din = gpu_alloc(&G, (size_t)n_in * dim * 4), dwt = gpu_alloc(&G, (size_t)dim * 4);
            CUdeviceptr drows = gather ? gpu_alloc(&G, (size_t)T * 4) : 0, dh = gpu_alloc(&G, (size_t)T * dim * 2);
            CUdeviceptr dq = gpu_alloc(&G, (size_t)(T + 1) * dim), ds = gpu_alloc(&G, (size_t)(T + 1) * KB * 4);
            gpu_upload(&G, din, in, (size_t)n_in * dim * 4);
            gpu_upload(&G, dwt, w, (size_t)dim * 4);
            if (gather) gpu_upload(&G, drows, rows, (size_t)T * 4);
            gpu_fill_u32(&G, dq, 0x7F7F7F7Fu, (size_t)(T + 1) * dim / 4);
            gpu_fill_u32(&G, ds, 0x7FC00000u, (size_t)(T + 1) * KB);
            launch_rmsnorm(&G, dh, din, dwt, drows, T, dim, 1e-6f);
            launch_rmsnorm_fp8_row(&G, dq, ds, din, dwt, drows, T, dim, 1e-6f);
            uint16_t *h = xmalloc((size_t)T * dim * 2);
            uint8_t *q = xmalloc((size_t)(T + 1) * dim);
            float *sc = xmalloc((size_t)(T + 1) * KB * 4);
            gpu_download(&G, h, dh, (size_t)T * dim * 2);
            gpu_download(&G, q, dq, (size_t)(T + 1) * dim);
            gpu_download(&G, sc, ds, (size_t)(T + 1) * KB * 4);
            size_t bad = 0, ties = 0, bad_scale = 0, past = 0;
            for (int r = 0; r < T; r++) {
                float amax = 0;
                for (int j = 0; j < dim; j++) amax = fmaxf(amax, fabsf(host_bf16_to_f32(h[(size_t)r * dim + j])));
                float want = scale_of(amax);
                for (int g = 0; g < KB; g++) bad_scale += !(sc[(size_t)r * KB + g] == want);
                bad += check_q(h + (size_t)r * dim, q + (size_t)r * dim, dim, want, &ties);
            }
            for (size_t i = (size_t)T * dim; i < (size_t)(T + 1) * dim; i++) past += q[i] != 0x7F;
            for (size_t i = (size_t)T * KB; i < (size_t)(T + 1) * KB; i++) past += !isnan(sc[i]);
            CHECK(bad_scale == 0 && bad == 0 && past == 0, "rmsnorm_fp8_row dim=%d T=%d%s: %zu scales, %zu bytes differ, "
                  "%zu written past the rows", dim, T, gather ? " gather" : "", bad_scale, bad, past);
            if (di == 0 && ti == 2) printf("  dim %d T %d: %zu ties rounded the other way\n", dim, T, ties);
            free(in); free(w); free(rows); free(h); free(q); free(sc);
            gpu_free(&G, din); gpu_free(&G, dwt); gpu_free(&G, drows); gpu_free(&G, dh); gpu_free(&G, dq); gpu_free(&G, ds);
        }
}

// ---------------------------------------------------------------- the GEMM
typedef struct { int N, K; CUdeviceptr w8, sw; double *wf; } Fp8Weight;  // wf: dequantised weight (host)
// Uniform scales (GemmNorm.uni): while uni_g is set, fp8_weight and quant_in give every 128-row weight block and
// every activation row one random scale along all of K (the e4m3 codes as quantised), and check_fp8 passes uni_g.
static int uni_g;
static void uniform_scales(float *s, int rows, int KB) {
    for (int r = 0; r < rows; r++) {
        float v = s[(size_t)r * KB] * (float)(0.5 + rng_uniform(&rng));
        for (int k = 0; k < KB; k++) s[(size_t)r * KB + k] = v;
    }
}

static Fp8Weight fp8_weight(int N, int K) {
    int KB = K / 128, NB = (N + 127) / 128;
    Fp8Weight w = { N, K, gpu_alloc(&G, (size_t)N * K), gpu_alloc(&G, (size_t)NB * KB * 4), xmalloc((size_t)N * K * 8) };
    uint16_t *h = xmalloc((size_t)N * K * 2);
    for (size_t i = 0; i < (size_t)N * K; i++) h[i] = host_f32_to_bf16((float)((2 * rng_uniform(&rng) - 1) / sqrt(K)));
    CUdeviceptr d = gpu_alloc(&G, (size_t)N * K * 2);
    gpu_upload(&G, d, h, (size_t)N * K * 2);
    launch_quant_w_fp8(&G, w.w8, w.sw, d, N, K);
    uint8_t *q = xmalloc((size_t)N * K);
    float *s = xmalloc((size_t)NB * KB * 4);
    gpu_download(&G, q, w.w8, (size_t)N * K);
    gpu_download(&G, s, w.sw, (size_t)NB * KB * 4);
    if (uni_g) {
        uniform_scales(s, NB, KB);
        gpu_upload(&G, w.sw, s, (size_t)NB * KB * 4);
    }
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) w.wf[(size_t)n * K + k] = e4m3_decode(q[(size_t)n * K + k]) * s[(n / 128) * KB + k / 128];
    free(h); free(q); free(s); gpu_free(&G, d);
    return w;
}
static void fp8_weight_free(Fp8Weight *w) { gpu_free(&G, w->w8); gpu_free(&G, w->sw); free(w->wf); }

typedef struct { const double *a, *w; const float *c0; double *ref; int N, K; } Ref8;
static void ref8_row(void *ctx, int64_t r) {
    const Ref8 *j = ctx;
    for (int n = 0; n < j->N; n++) {
        double s = 0;
        for (int k = 0; k < j->K; k++) s += j->a[(size_t)r * j->K + k] * j->w[(size_t)n * j->K + k];
        j->ref[(size_t)r * j->N + n] = s + (j->c0 ? j->c0[(size_t)r * j->N + n] : 0);
    }
}

// Fresh activations for a GEMM check: X bf16 [M][K] random (dx), quantised on the GPU (da8, dsa), and on the host
// the sampled rows (all when M <= 64, else 24: the first two, two near the end, the rest random) dequantised in fp64
// (af [nrows][K]), the inputs the GEMM really multiplies.
typedef struct { CUdeviceptr dx, da8, dsa; int *rows, nrows; double *af; } QuantIn;
// The consumer of the producer-side RMSNorm (GemmNorm.ss): while rn_ss is set (rownorm_set), check_fp8 and
// check_swiglu8 pass it and the reference rows are multiplied by rn_rstd (fp64) first.
static CUdeviceptr rn_ss;
static double *rn_rstd;
static const float rn_eps = 1e-6f;
static QuantIn quant_in(int M, int K) {
    int KB = K / 128;
    QuantIn in = { gpu_alloc(&G, (size_t)M * K * 2), gpu_alloc(&G, (size_t)M * K), gpu_alloc(&G, (size_t)M * KB * 4),
                   NULL, M <= 64 ? M : 24, NULL };
    uint16_t *x = xmalloc((size_t)M * K * 2);
    rand_rows_bf16(x, M, K, 0);
    gpu_upload(&G, in.dx, x, (size_t)M * K * 2);
    launch_quant_act_fp8(&G, in.da8, in.dsa, in.dx, M, K);
    uint8_t *q = xmalloc((size_t)M * K);
    float *sa = xmalloc((size_t)M * KB * 4);
    gpu_download(&G, q, in.da8, (size_t)M * K);
    gpu_download(&G, sa, in.dsa, (size_t)M * KB * 4);
    if (uni_g) {
        uniform_scales(sa, M, KB);
        gpu_upload(&G, in.dsa, sa, (size_t)M * KB * 4);
    }
    in.rows = xmalloc(in.nrows * sizeof(int));
    for (int i = 0; i < in.nrows; i++)
        in.rows[i] = M <= 64 ? i : i < 2 ? i : i < 4 ? M - 5 + i : (int)(rng_uniform(&rng) * M);
    in.af = xmalloc((size_t)in.nrows * K * 8);
    for (int i = 0; i < in.nrows; i++)
        for (int k = 0; k < K; k++)
            in.af[(size_t)i * K + k] = e4m3_decode(q[(size_t)in.rows[i] * K + k]) * sa[in.rows[i] * KB + k / 128] *
                                       (rn_ss ? rn_rstd[in.rows[i]] : 1.0);
    free(x); free(q); free(sa);
    return in;
}
static void quant_in_free(QuantIn *in) {
    gpu_free(&G, in->dx); gpu_free(&G, in->da8); gpu_free(&G, in->dsa);
    free(in->rows); free(in->af);
}

// One GEMM: fresh activations quantised on the GPU, output poisoned (or a random residual for add mode); returns
// the relative error against the fp64 product of the dequantised inputs (all rows when M <= 64, else 24 of them).
static double check_fp8(const Fp8Weight *w, int M, int mode, int tile, int splits) {
    int N = w->N, K = w->K;
    QuantIn in = quant_in(M, K);
    int nrows = in.nrows, *rows = in.rows;
    size_t esz = mode == GEMM_STORE_BF16 ? 2 : 4;
    CUdeviceptr dc = gpu_alloc(&G, (size_t)M * N * esz);
    float *c0 = NULL, *c0r = NULL;
    if (mode == GEMM_ADD_F32) {
        c0 = xmalloc((size_t)M * N * 4);
        for (size_t i = 0; i < (size_t)M * N; i++) c0[i] = (float)(2 * rng_uniform(&rng) - 1);
        gpu_upload(&G, dc, c0, (size_t)M * N * 4);
        c0r = xmalloc((size_t)nrows * N * 4);
        for (int i = 0; i < nrows; i++) memcpy(c0r + (size_t)i * N, c0 + (size_t)rows[i] * N, (size_t)N * 4);
    } else {
        gpu_fill_u32(&G, dc, 0x7FC07FC0u, (size_t)M * N * esz / 4);
    }
    GemmNorm nm = { .ss = rn_ss, .eps = rn_eps, .uni = uni_g };
    launch_gemm_fp8_nm(&G, dc, in.da8, in.dsa, w->w8, w->sw, M, N, K, mode, tile, splits, rn_ss || uni_g ? &nm : NULL);
    float *c = xmalloc((size_t)M * N * 4);
    if (mode == GEMM_STORE_BF16) {
        uint16_t *cb = xmalloc((size_t)M * N * 2);
        gpu_download(&G, cb, dc, (size_t)M * N * 2);
        for (size_t i = 0; i < (size_t)M * N; i++) c[i] = host_bf16_to_f32(cb[i]);
        free(cb);
    } else {
        gpu_download(&G, c, dc, (size_t)M * N * 4);
    }
    size_t nonfinite = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) nonfinite += !isfinite(c[i]);
    double err = INFINITY;
    if (nonfinite) {
        printf("  M=%d N=%d K=%d mode %d tile %d: %zu of %zu outputs not written or not finite\n", M, N, K, mode,
               tile, nonfinite, (size_t)M * N);
    } else {
        double *ref = xmalloc((size_t)nrows * N * 8);
        Ref8 j = { in.af, w->wf, c0r, ref, N, K };
        parallel_for(nrows, ref8_row, &j);
        float *got = xmalloc((size_t)nrows * N * 4);
        for (int i = 0; i < nrows; i++) memcpy(got + (size_t)i * N, c + (size_t)rows[i] * N, (size_t)N * 4);
        err = rel_err(got, ref, (size_t)nrows * N);
        free(ref); free(got);
    }
    free(c); free(c0); free(c0r);
    quant_in_free(&in);
    gpu_free(&G, dc);
    return err;
}

// The promoted f32 sum of exactly-representable products differs from fp64 only by f32 rounding (plus the bf16
// output rounding in mode 1); without promotion the error would be ~1e-3 (HOPPER-PTX.md section 5).
static double tol8(int mode) { return mode == GEMM_STORE_BF16 ? 5e-3 : 2e-4; }
static const char *mname[] = { "f32", "bf16", "add" };

// ---------------------------------------------------------------- SwiGLU epilogue on FP8 weights
// The gate/up pair [F][K] each, uploaded through gpu_linear_upload_gated as an FP8 layer (BF16 GGUF tensors over
// host memory -> bf16 -> interleaved in 8-row blocks -> 128 x 128 block-quantised); wf: the dequantised interleaved
// weight as the kernels see it. The interleave itself is checked against the host rows (within e4m3's rounding).
typedef struct { int F, K; GpuLinear L; double *wf; } Gated8;
// interleaved row of output feature j's gate (up: + GEMM_GATE_ROWS)
static int gate_row(int j) { return 2 * GEMM_GATE_ROWS * (j / GEMM_GATE_ROWS) + j % GEMM_GATE_ROWS; }
static Gated8 gated8_new(int F, int K) {
    int N = 2 * F, KB = K / 128, NB = (N + 127) / 128;
    Gated8 w = { F, K, { .w = gpu_alloc(&G, (size_t)N * K), .sw = gpu_alloc(&G, (size_t)NB * KB * 4), .N = N, .K = K, .fp8 = 1,
                         .uni = uni_g }, xmalloc((size_t)N * K * 8) };
    uint16_t *h = xmalloc((size_t)N * K * 2);  // gate rows then up rows
    for (size_t i = 0; i < (size_t)N * K; i++) h[i] = host_f32_to_bf16((float)((2 * rng_uniform(&rng) - 1) / sqrt(K)));
    GGUFTensor tg = host_tensor("gate", GGML_TYPE_BF16, h, F, K);
    GGUFTensor tu = host_tensor("up", GGML_TYPE_BF16, h + (size_t)F * K, F, K);
    CUdeviceptr tmp = gpu_alloc(&G, (size_t)N * K * 2);
    gpu_linear_upload_gated(&G, &w.L, &tg, &tu, tmp, 1);
    uint8_t *q = xmalloc((size_t)N * K);
    float *s = xmalloc((size_t)NB * KB * 4);
    gpu_download(&G, q, w.L.w, (size_t)N * K);
    gpu_download(&G, s, w.L.sw, (size_t)NB * KB * 4);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) w.wf[(size_t)n * K + k] = e4m3_decode(q[(size_t)n * K + k]) * s[(n / 128) * KB + k / 128];
    double num = 0, den = 0;  // dequantised interleaved rows against the host's gate and up rows
    for (int j = 0; j < F; j++)
        for (int half = 0; half < 2; half++)
            for (int k = 0; k < K; k++) {
                double want = host_bf16_to_f32(h[((size_t)half * F + j) * K + k]);
                double got = w.wf[(size_t)(gate_row(j) + half * GEMM_GATE_ROWS) * K + k];
                num += (got - want) * (got - want); den += want * want;
            }
    CHECK(sqrt(num / den) < 0.05, "gated FP8 upload F=%d K=%d: rows not where expected (rel err %.3g)", F, K,
          sqrt(num / den));
    free(h); free(q); free(s); gpu_free(&G, tmp);
    return w;
}
static void gated8_free(Gated8 *w) { gpu_free(&G, w->L.w); gpu_free(&G, w->L.sw); free(w->wf); }

typedef struct { const double *a, *w; double *ref; int F, K; } SwiRef8;
static void swi_ref8_row(void *ctx, int64_t r) {
    const SwiRef8 *j = ctx;
    const double *a = j->a + (size_t)r * j->K;
    for (int c = 0; c < j->F; c++) {
        const double *wg = j->w + (size_t)gate_row(c) * j->K, *wu = wg + (size_t)GEMM_GATE_ROWS * j->K;
        double g = 0, u = 0;
        for (int k = 0; k < j->K; k++) { g += a[k] * wg[k]; u += a[k] * wu[k]; }
        j->ref[(size_t)r * j->F + c] = g / (1 + exp(-g)) * u;
    }
}

// a = swiglu(A8 . W8^T) into a NaN-poisoned bf16 [M][F] on `tile` (-1: launch_linear_swiglu, which also quantises
// the input, and may answer in FP8: *fp8 = 1, e4m3 + scales in a's buffer, read back as e4m3 * scale; 100 + t: the
// quantising epilogue of tile t, launch_gemm_swiglu_fp8); relative
// error against fp64 over the same dequantised inputs (all rows when M <= 64, else 24).
static double check_swiglu8(const Gated8 *w, int M, int tile, int *fp8) {
    int F = w->F, K = w->K;
    QuantIn in = quant_in(M, K);
    int nrows = in.nrows, *rows = in.rows;
    CUdeviceptr dout = gpu_alloc(&G, (size_t)M * F * 2);
    gpu_fill_u32(&G, dout, 0x7FC07FC0u, (size_t)M * F / 2);
    int ready = 0;
    GemmNorm nm = { .ss = rn_ss, .eps = rn_eps }, *pnm = rn_ss ? &nm : NULL;
    if (tile < 0) {
        ready = launch_linear_swiglu_qn(&G, &w->L, dout, in.dx, in.da8, in.dsa, M, 1, 0, pnm);
    } else if (tile >= 100) {  // the quantising epilogue on tile - 100
        launch_gemm_swiglu_fp8_nm(&G, dout, dout + swiglu_fp8_scales(M, F), in.da8, in.dsa, w->L.w, w->L.sw, M, 2 * F,
                                  K, 0, tile - 100, pnm);
        ready = 1;
    } else launch_gemm_fp8_nm(&G, dout, in.da8, in.dsa, w->L.w, w->L.sw, M, 2 * F, K, GEMM_SWIGLU_BF16, tile, 0, pnm);
    *fp8 = ready;
    uint16_t *ob = xmalloc((size_t)M * F * 2);
    gpu_download(&G, ob, dout, (size_t)M * F * 2);
    float *val = xmalloc((size_t)M * F * 4);
    if (ready) {  // bytes at a, scales at a + swiglu_fp8_scales(M, F), both inside the poisoned buffer
        const uint8_t *b = (const uint8_t *)ob;
        const float *sc = (const float *)(b + swiglu_fp8_scales(M, F));
        for (size_t i = 0; i < (size_t)M * F; i++) val[i] = (float)e4m3_decode(b[i]) * sc[i / 128];
    } else {
        for (size_t i = 0; i < (size_t)M * F; i++) val[i] = host_bf16_to_f32(ob[i]);
    }
    size_t nonfinite = 0;
    for (size_t i = 0; i < (size_t)M * F; i++) nonfinite += !isfinite(val[i]);
    double err = INFINITY;
    if (nonfinite) {
        printf("  SwiGLU M=%d F=%d K=%d tile %d: %zu of %zu outputs not written or not finite\n", M, F, K, tile,
               nonfinite, (size_t)M * F);
    } else {
        double *ref = xmalloc((size_t)nrows * F * 8);
        SwiRef8 j = { in.af, w->wf, ref, F, K };
        parallel_for(nrows, swi_ref8_row, &j);
        float *got = xmalloc((size_t)nrows * F * 4);
        for (int i = 0; i < nrows; i++)
            for (int c = 0; c < F; c++) got[(size_t)i * F + c] = val[(size_t)rows[i] * F + c];
        err = rel_err(got, ref, (size_t)nrows * F);
        free(ref); free(got);
    }
    free(ob); free(val);
    quant_in_free(&in);
    gpu_free(&G, dout);
    return err;
}

// Every FP8 tile on F = 544 (partial tiles in N), then launch_linear_swiglu's choice on the 8B gate_up.
static void gemm_fp8_swiglu(void) {
    NEED_GPU();
    static const int Ms[] = { 1, 5, 16, 17, 64, 100, 256, 300 };
    Gated8 w = gated8_new(544, 1024);
    int fp8 = 0;
    for (int tile = 0; tile < GEMM_FP8_N_TILES; tile++)
        for (int i = 0; i < 8; i++) {
            double e = check_swiglu8(&w, Ms[i], tile, &fp8);
            CHECK(e < tol8(GEMM_STORE_BF16), "FP8 SwiGLU tile %d M=%d F=%d K=%d: rel err %.3g", tile, Ms[i], w.F, w.K, e);
        }
    printf("  F=544 K=1024: every FP8 tile x M in {1,5,16,17,64,100,256,300} checked\n");
    gated8_free(&w);
    w = gated8_new(12288, 4096);
    for (int i = 0; i < 8; i++) {
        // e4m3 output (M >= 65 here: the 64x256 tile's quantising epilogue): e4m3's 3 mantissa bits, ~2% rms
        double e = check_swiglu8(&w, Ms[i], -1, &fp8);
        CHECK(e < (fp8 ? 4e-2 : tol8(GEMM_STORE_BF16)), "FP8 SwiGLU (launch_linear_swiglu%s) M=%d F=%d K=%d: rel err %.3g",
              fp8 ? ", e4m3 out" : "", Ms[i], w.F, w.K, e);
        if (Ms[i] >= 128) CHECK(fp8, "launch_linear_swiglu M=%d: expected the quantising epilogue", Ms[i]);
    }
    printf("  F=12288 K=4096 (launch_linear_swiglu): M in {1,5,16,17,64,100,256,300} checked\n");
    gated8_free(&w);
}

// A layer on uniform scales (GpuLinear.uni: weights through launch_quant_w_fp8_row) fed bf16, as the engine's o and
// down are in large steps: launch_linear_q quantises the input one scale a row (quant_in -> launch_quant_act_fp8_row)
// and the GEMM runs its uniform loop. Against fp64 over the inputs as the host encoder quantises them (the weights as
// uploaded, the rows with their amax / 448), f32 store and add, M across the decode and prefill tiles.
typedef struct { const double *a, *w; double *ref; int N, K; } LinRef;
static void lin_ref_row(void *ctx, int64_t r) {
    const LinRef *j = ctx;
    for (int n = 0; n < j->N; n++) {
        double acc = 0;
        for (int k = 0; k < j->K; k++) acc += j->a[(size_t)r * j->K + k] * j->w[(size_t)n * j->K + k];
        j->ref[(size_t)r * j->N + n] = acc;
    }
}
static void linear_uniform(void) {
    NEED_GPU();
    static const int nk[][2] = { { 640, 1024 }, { 256, 12288 } }, Ms[] = { 1, 5, 64, 300, 700 };
    for (int s = 0; s < 2; s++) {
        int N = nk[s][0], K = nk[s][1], KB = K / 128, NB = (N + 127) / 128;
        GpuLinear L = { .w = gpu_alloc(&G, (size_t)N * K), .sw = gpu_alloc(&G, (size_t)NB * KB * 4), .N = N, .K = K,
                        .fp8 = 1, .uni = 255 };
        uint16_t *h = xmalloc((size_t)N * K * 2);
        for (size_t i = 0; i < (size_t)N * K; i++) h[i] = host_f32_to_bf16((float)((2 * rng_uniform(&rng) - 1) / sqrt(K)));
        GGUFTensor t = host_tensor("w", GGML_TYPE_BF16, h, N, K);
        const GGUFTensor *ts[1] = { &t };
        CUdeviceptr tmp = gpu_alloc(&G, (size_t)N * K * 2);
        gpu_linear_upload(&G, &L, ts, 1, tmp);
        uint8_t *q = xmalloc((size_t)N * K);
        float *sw = xmalloc((size_t)NB * KB * 4);
        gpu_download(&G, q, L.w, (size_t)N * K);
        gpu_download(&G, sw, L.sw, (size_t)NB * KB * 4);
        double *wf = xmalloc((size_t)N * K * 8);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) wf[(size_t)n * K + k] = e4m3_decode(q[(size_t)n * K + k]) * sw[(n / 128) * KB + k / 128];
        for (int mi = 0; mi < 5; mi++)
            for (int mode = GEMM_STORE_F32; mode <= GEMM_ADD_F32; mode += GEMM_ADD_F32 - GEMM_STORE_F32) {
                int M = Ms[mi];
                uint16_t *x = xmalloc((size_t)M * K * 2);
                rand_rows_bf16(x, M, K, 0);
                double *af = xmalloc((size_t)M * K * 8);
                for (int r = 0; r < M; r++) {  // the host's row quantisation
                    float sc = rows_scale(x, r, r + 1, K), inv = 1.0f / sc;
                    for (int k = 0; k < K; k++)
                        af[(size_t)r * K + k] = e4m3_decode(e4m3_encode(host_bf16_to_f32(x[(size_t)r * K + k]) * inv)) * sc;
                }
                float *c0 = xmalloc((size_t)M * N * 4);
                for (size_t i = 0; i < (size_t)M * N; i++) c0[i] = (float)(rng_uniform(&rng) - 0.5);
                CUdeviceptr dx = gpu_alloc(&G, (size_t)M * K * 2), da8 = gpu_alloc(&G, (size_t)M * K);
                CUdeviceptr dsa = gpu_alloc(&G, (size_t)M * KB * 4), dc = gpu_alloc(&G, (size_t)M * N * 4);
                gpu_upload(&G, dx, x, (size_t)M * K * 2);
                if (mode == GEMM_ADD_F32) gpu_upload(&G, dc, c0, (size_t)M * N * 4);
                else gpu_fill_u32(&G, dc, 0x7FC00000u, (size_t)M * N);
                launch_linear_q(&G, &L, dc, dx, da8, dsa, M, mode, 0);
                float *got = xmalloc((size_t)M * N * 4);
                gpu_download(&G, got, dc, (size_t)M * N * 4);
                double *ref = xmalloc((size_t)M * N * 8);
                LinRef j = { af, wf, ref, N, K };
                parallel_for(M, lin_ref_row, &j);
                if (mode == GEMM_ADD_F32)
                    for (size_t i = 0; i < (size_t)M * N; i++) ref[i] += c0[i];
                // (all slices summed in the tensor cores: ~2.5e-5 each, gemm_fp8_uniform)
                double e = rel_err(got, ref, (size_t)M * N), tol = 1e-3 + 3e-5 * KB;
                CHECK(e < tol, "launch_linear_q, uniform scales, bf16 in, M=%d N=%d K=%d %s: rel err %.3g (bound %.2g)", M,
                      N, K, mode == GEMM_ADD_F32 ? "add" : "store", e, tol);
                free(x); free(af); free(c0); free(got); free(ref);
                gpu_free(&G, dx); gpu_free(&G, da8); gpu_free(&G, dsa); gpu_free(&G, dc);
            }
        printf("  N=%d K=%d: M in {1,5,64,300,700} x {store, add} against the row-quantised inputs\n", N, K);
        free(h); free(q); free(sw); free(wf);
        gpu_free(&G, tmp); gpu_free(&G, L.w); gpu_free(&G, L.sw);
    }
}

// The 64x256 tile's quantising epilogue byte for byte against launch_quant_act_fp8 of the same tile's bf16 SwiGLU
// output (checked against fp64 above): identical accumulators, so "what the separate quantiser would have made" is
// exact; a host encoder of the fp64 values could only promise one e4m3 step.
static void gemm_fp8_swiglu_fp8_out(void) {
    NEED_GPU();
    static const int Ms[] = { 1, 5, 16, 17, 64, 100, 256, 300 }, fk[][2] = { { 640, 1024 }, { 12288, 4096 } };
    for (int s = 0; s < 2; s++) {
        Gated8 w = gated8_new(fk[s][0], fk[s][1]);
        int F = w.F, K = w.K, KB = K / 128, FB = F / 128;
        for (int i = 0; i < 8; i++) {
            int M = Ms[i];
            uint16_t *x = xmalloc((size_t)M * K * 2);
            rand_rows_bf16(x, M, K, 0);
            CUdeviceptr dx = gpu_alloc(&G, (size_t)M * K * 2), da8 = gpu_alloc(&G, (size_t)M * K);
            CUdeviceptr dsa = gpu_alloc(&G, (size_t)M * KB * 4), da = gpu_alloc(&G, (size_t)M * F * 2);
            CUdeviceptr q0 = gpu_alloc(&G, (size_t)M * F), s0 = gpu_alloc(&G, (size_t)M * FB * 4);
            CUdeviceptr q1 = gpu_alloc(&G, (size_t)M * F), s1 = gpu_alloc(&G, (size_t)M * FB * 4);
            gpu_upload(&G, dx, x, (size_t)M * K * 2);
            launch_quant_act_fp8(&G, da8, dsa, dx, M, K);
            GemmNorm un = { .uni = uni_g }, *pun = uni_g ? &un : NULL;
            if (uni_g) {  // one scale a row (the codes as quantised)
                float *sa = xmalloc((size_t)M * KB * 4);
                gpu_download(&G, sa, dsa, (size_t)M * KB * 4);
                uniform_scales(sa, M, KB);
                gpu_upload(&G, dsa, sa, (size_t)M * KB * 4);
                free(sa);
            }
            gpu_fill_u32(&G, da, 0x7FC07FC0u, (size_t)M * F / 2);
            launch_gemm_fp8_nm(&G, da, da8, dsa, w.L.w, w.L.sw, M, 2 * F, K, GEMM_SWIGLU_BF16, 4, 0, pun);
            launch_quant_act_fp8(&G, q0, s0, da, M, F);
            gpu_fill_u32(&G, q1, 0x7F7F7F7Fu, (size_t)M * F / 4);
            gpu_fill_u32(&G, s1, 0x7FC00000u, (size_t)M * FB);
            // 64x256, 128x256 and its pair, then 64x256 and 128x256 with the tail split, each against its own bf16
            // output (the split's sums round differently)
            for (int t = 0; t < 6; t++) {
                int tile = t == 2 ? GEMM_FP8_128X256C2_TILE : t == 1 || t >= 4 ? GEMM_FP8_128X256_TILE : 4;
                int sp = t == 5 ? GEMM_SPLIT_CLUSTER + 2 : t >= 3 ? GEMM_SPLIT_TAIL : 0;
                if (t) {
                    gpu_fill_u32(&G, da, 0x7FC07FC0u, (size_t)M * F / 2);
                    launch_gemm_fp8_nm(&G, da, da8, dsa, w.L.w, w.L.sw, M, 2 * F, K, GEMM_SWIGLU_BF16, tile, sp, pun);
                    launch_quant_act_fp8(&G, q0, s0, da, M, F);
                }
                gpu_fill_u32(&G, q1, 0x7F7F7F7Fu, (size_t)M * F / 4);
                gpu_fill_u32(&G, s1, 0x7FC00000u, (size_t)M * FB);
                launch_gemm_swiglu_fp8_nm(&G, q1, s1, da8, dsa, w.L.w, w.L.sw, M, 2 * F, K, sp, tile, pun);
                size_t bad, bad_s;
                fp8_out_diff(q0, s0, q1, s1, M, F, 1, &bad, &bad_s);
                CHECK(bad == 0 && bad_s == 0, "FP8 SwiGLU FP8 out tile %d M=%d F=%d K=%d: %zu bytes, %zu scales "
                      "differ from quant_act_fp8", tile, M, F, K, bad, bad_s);
            }
            free(x);
            CUdeviceptr bufs[] = { dx, da8, dsa, da, q0, s0, q1, s1 };
            for (int k = 0; k < 8; k++) gpu_free(&G, bufs[k]);
        }
        printf("  F=%d K=%d%s: 64x256, 128x256, 128x256c2, 64x256 / 128x256 tail-split, 128x256 cluster-split FP8 out "
               "byte-exact for M in {1,5,16,17,64,100,256,300}\n", F, K, uni_g ? ", uniform scales" : "");
        gated8_free(&w);
    }
}

// The same on uniform scales (weights through launch_quant_w_fp8_row, one scale a row): the 64x256 tile's uniform
// loop and the 128x256 tiles' own entries (gemm_fp8_128x256u, _c2u), each against its own bf16 output.
static void gemm_fp8_swiglu_fp8_out_uniform(void) {
    uni_g = 255;
    gemm_fp8_swiglu_fp8_out();
    uni_g = 0;
}

// ---------------------------------------------------------------- the producer-side RMSNorm (GemmNorm)
// The rows' sums of squares for M rows of K: [M][K / 128] f32 partials of very different sizes per row (some rows
// tiny: eps matters), on the device (rn_ss) and rstd in fp64 (rn_rstd).
static void rownorm_set(int M, int K) {
    int nb = K / 128;
    float *ss = xmalloc((size_t)M * nb * 4);
    rn_rstd = xmalloc((size_t)M * sizeof(double));
    for (int r = 0; r < M; r++) {
        double mag = ldexp(1.0, (int)(rng_uniform(&rng) * 24) - 16), sum = 0;
        for (int i = 0; i < nb; i++) {
            ss[(size_t)r * nb + i] = (float)(mag * (0.25 + rng_uniform(&rng)));
            sum += ss[(size_t)r * nb + i];
        }
        rn_rstd[r] = 1 / sqrt(sum / K + rn_eps);
    }
    rn_ss = gpu_alloc(&G, (size_t)M * nb * 4);
    gpu_upload(&G, rn_ss, ss, (size_t)M * nb * 4);
    free(ss);
}
static void rownorm_clear(void) {
    gpu_free(&G, rn_ss);
    rn_ss = 0;
    free(rn_rstd);
    rn_rstd = NULL;
}

// The consumer: every wgmma tile (and splits) in every mode multiplies its rows by rstd from the sums, against fp64
// over the dequantised inputs times rstd; then launch_linear_swiglu_qn's choice (the quantising SwiGLU epilogue).
static void gemm_fp8_rownorm(void) {
    NEED_GPU();
    static const int tiles[] = { 0, 1, 4, 5, 7, 8, 9, 11, 12 }, ms[] = { 1, 65, 200 };
    int only = env_int("QWEN3_TEST_FP8_TILE", -1, GEMM_FP8_N_TILES - 1, -1);  // one tile alone (the sanitizer runs)
    Fp8Weight w = fp8_weight(1024, 1536);  // (K / 512 = 3 pieces a row: the fourth lane of each quad has none)
    double worst = 0;
    for (int t = 0; t < 9; t++)
        for (int i = 0; i < 3; i++) {
            if (only >= 0 && tiles[t] != only) continue;
            rownorm_set(ms[i], w.K);
            for (int mode = 0; mode < 3; mode++)
                for (int sp = 0; sp < 3; sp++) {
                    int splits = sp == 0 ? 0 : sp == 1 ? 2 : GEMM_SPLIT_CLUSTER + 3;
                    if (sp && ((tiles[t] >= 7 && tiles[t] <= 9) || tiles[t] == 12)) continue;  // (the pairs never split)
                    double e = check_fp8(&w, ms[i], mode, tiles[t], splits);
                    if (e > worst) worst = e;
                    CHECK(e < tol8(mode), "rows times rstd: tile %d M=%d splits %d %s: rel err %.3g", tiles[t], ms[i],
                          splits, mname[mode], e);
                }
            rownorm_clear();
        }
    printf("  N=%d K=%d: wgmma tiles x M {1,65,200} x {f32,bf16,add} x splits {none, 2, cluster 3}: worst %.3g\n",
           w.N, w.K, worst);
    fp8_weight_free(&w);
    // SwiGLU: bf16 out on every wgmma tile, e4m3 out on the four quantising ones (100 + tile), launch_linear_swiglu_qn
    static const int swt[] = { -1, 0, 1, 4, 5, 7, 8, 9, 11, 12, 104, 109, 111, 112 };
    Gated8 g8 = gated8_new(1536, 2560);  // (5 pieces a row)
    int fp8 = 0;
    for (int i = 0; i < 3; i++) {
        int M = ms[i] == 1 ? 300 : ms[i];  // (M > 64: a wgmma tile)
        rownorm_set(M, g8.K);
        for (int t = 0; t < 14; t++) {
            if (swt[t] < 0 && !linear_norm8_takes(&G, &g8.L, M, 1)) continue;
            if (only >= 0 && swt[t] != only && swt[t] != 100 + only) continue;
            double e = check_swiglu8(&g8, M, swt[t], &fp8);
            double tol = fp8 ? 4e-2 : tol8(GEMM_STORE_BF16);
            CHECK(e < tol, "rows times rstd: SwiGLU tile %d M=%d%s: rel err %.3g", swt[t], M, fp8 ? " (e4m3 out)" : "", e);
        }
        rownorm_clear();
    }
    printf("  SwiGLU F=%d K=%d: every wgmma tile (bf16 and e4m3 out), launch_linear_swiglu_qn, M {300,65,200}: "
           "checked\n", g8.F, g8.K);
    gated8_free(&g8);
}

// The producer (GEMM_ADD_NORM8): x = c0 + A W^T as GEMM_ADD_F32 (against fp64), then from the GPU's own x and weights
// nw: each row's sums of x^2 per 128 columns (fp64, 1e-5), each 128-column block's scale (amax(x nw) / 448 in f32,
// exactly) and every e4m3 code (the host encoder of (x nw) (1 / scale) in f32; a tie may round either way). Every
// wgmma tile, its splits, M with partial row tiles; outputs NaN-poisoned first.
static size_t check_norm8(const Fp8Weight *w, int M, int tile, int splits, double *xerr) {
    int N = w->N, K = w->K, NB = N / 128;
    QuantIn in = quant_in(M, K);
    float *c0 = xmalloc((size_t)M * N * 4), *nw = xmalloc((size_t)N * 4);
    for (size_t i = 0; i < (size_t)M * N; i++) c0[i] = (float)(4 * rng_uniform(&rng) - 2);
    for (int n = 0; n < N; n++) nw[n] = (float)((rng_uniform(&rng) < 0.1 ? -1 : 1) * (0.2 + 2 * rng_uniform(&rng)));
    CUdeviceptr dc = gpu_alloc(&G, (size_t)M * N * 4), dnw = gpu_alloc(&G, (size_t)N * 4);
    CUdeviceptr dq = gpu_alloc(&G, norm8_bytes(M, N));
    gpu_upload(&G, dc, c0, (size_t)M * N * 4);
    gpu_upload(&G, dnw, nw, (size_t)N * 4);
    gpu_fill_u32(&G, dq, 0x7FC00000u, norm8_bytes(M, N) / 4);
    GemmNorm nm = { .nw = dnw, .q8 = dq };
    launch_gemm_fp8_nm(&G, dc, in.da8, in.dsa, w->w8, w->sw, M, N, K, GEMM_ADD_NORM8, tile, splits, &nm);
    float *x = xmalloc((size_t)M * N * 4);
    uint8_t *q = xmalloc(norm8_bytes(M, N));
    gpu_download(&G, x, dc, (size_t)M * N * 4);
    gpu_download(&G, q, dq, norm8_bytes(M, N));
    const float *sc = (const float *)(q + norm8_scales(M, N)), *ss = (const float *)(q + norm8_sums(M, N));
    // x against fp64 on the sampled rows
    double *ref = xmalloc((size_t)in.nrows * N * 8);
    float *c0r = xmalloc((size_t)in.nrows * N * 4), *got = xmalloc((size_t)in.nrows * N * 4);
    for (int i = 0; i < in.nrows; i++) {
        memcpy(c0r + (size_t)i * N, c0 + (size_t)in.rows[i] * N, (size_t)N * 4);
        memcpy(got + (size_t)i * N, x + (size_t)in.rows[i] * N, (size_t)N * 4);
    }
    Ref8 j = { in.af, w->wf, c0r, ref, N, K };
    parallel_for(in.nrows, ref8_row, &j);
    *xerr = rel_err(got, ref, (size_t)in.nrows * N);
    size_t bad = 0, ties = 0;
    for (int r = 0; r < M; r++) {
        const float *xr = x + (size_t)r * N;
        for (int b = 0; b < NB; b++) {
            double sum = 0;
            for (int k = 0; k < 128; k++) sum += (double)xr[128 * b + k] * xr[128 * b + k];
            float g = ss[(size_t)r * NB + b];
            if (!(fabs(g - sum) <= 1e-5 * sum + 1e-30)) {
                if (bad++ < 3) printf("  M=%d tile %d row %d block %d: sum of squares %g, want %g\n", M, tile, r, b, g, sum);
            }
        }
        for (int b = 0; b < NB; b++) {
            float y[128], amax = 0;
            for (int k = 0; k < 128; k++) {
                y[k] = xr[128 * b + k] * nw[128 * b + k];
                amax = fmaxf(amax, fabsf(y[k]));
            }
            float want = scale_of(amax), g = sc[(size_t)r * NB + b];
            if (!(g == want)) {
                if (bad++ < 3) printf("  M=%d tile %d row %d block %d: scale %g, want %g\n", M, tile, r, b, g, want);
                continue;
            }
            float inv = 1.0f / g;
            for (int k = 0; k < 128; k++) {
                float v = y[k] * inv;
                uint8_t wq = e4m3_encode(v), gq = q[(size_t)r * N + 128 * b + k];
                if (wq == gq) continue;
                if (fabs(e4m3_decode(wq) - v) == fabs(e4m3_decode(gq) - v)) ties++;
                else if (bad++ < 3) printf("  M=%d tile %d row %d col %d: code %02x, want %02x\n", M, tile, r, 128 * b + k, gq, wq);
            }
        }
    }
    free(c0); free(nw); free(x); free(q); free(ref); free(c0r); free(got);
    quant_in_free(&in);
    gpu_free(&G, dc); gpu_free(&G, dnw); gpu_free(&G, dq);
    return bad;
}

static void gemm_fp8_norm8(void) {
    NEED_GPU();
    static const int tiles[] = { 0, 1, 4, 5, 7, 8, 9, 11, 12 }, ms[] = { 1, 70, 200, 257 };
    static const int nk[][2] = { { 768, 512 }, { 4096, 4096 } };
    int only = env_int("QWEN3_TEST_FP8_TILE", -1, GEMM_FP8_N_TILES - 1, -1);  // one tile, the small shape (sanitizer)
    for (int s = 0; s < (only >= 0 ? 1 : 2); s++) {
        Fp8Weight w = fp8_weight(nk[s][0], nk[s][1]);
        double worst = 0;
        for (int t = 0; t < 9; t++)
            for (int i = 0; i < 4; i++)
                for (int sp = 0; sp < 4; sp++) {
                    if (only >= 0 && tiles[t] != only) continue;
                    int splits = sp == 0 ? 0 : sp == 1 ? 3 : sp == 2 ? GEMM_SPLIT_CLUSTER + 2 : GEMM_SPLIT_TAIL;
                    if (sp && ((tiles[t] >= 7 && tiles[t] <= 9) || tiles[t] == 12)) continue;
                    if (s == 1 && (i == 0 || i == 3 || sp == 1 || sp == 3)) continue;  // (the 8B's shapes: fewer)
                    double e = 0;
                    size_t bad = check_norm8(&w, ms[i], tiles[t], splits, &e);
                    if (e > worst) worst = e;
                    CHECK(bad == 0 && e < tol8(GEMM_ADD_F32), "GEMM_ADD_NORM8 tile %d M=%d N=%d K=%d splits %d: %zu "
                          "sums / scales / codes wrong, x rel err %.3g", tiles[t], ms[i], w.N, w.K, splits, bad, e);
                }
        printf("  N=%d K=%d: wgmma tiles x M {1,70,200,257} x splits: sums, scales, codes exact; x worst rel err %.3g\n",
               w.N, w.K, worst);
        fp8_weight_free(&w);
    }
}

// The qkv GEMM's RoPE epilogue (GEMM_ROPE_KV8, gpu_ops.h) against what it replaces: the same tile's (and split's)
// bf16 store, then launch_qknorm_rope_kv_fp8 (itself checked against the CPU in test_gpu_ops). Fresh x, W, norm weights, positions
// (some past 300: large angles) and a shuffled block table; every output NaN-poisoned first. v takes no RMSNorm, so
// its codes and scales must be identical; q and k only differ where the head's sum of squares (summed in another
// order: rstd's last bit) moves a rounding: then by one bf16 step (q) or one e4m3 step (k), in under 2% of values.
static size_t rope_diff(const uint8_t *a, const uint8_t *b, size_t n, int fp8, size_t *exact) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double x, y, step;
        if (fp8) { x = e4m3_decode(a[i]); y = e4m3_decode(b[i]); step = 0.125; }
        else {
            uint16_t u, v;
            memcpy(&u, a + 2 * i, 2);
            memcpy(&v, b + 2 * i, 2);
            x = host_bf16_to_f32(u); y = host_bf16_to_f32(v); step = 1.0 / 128;
        }
        if (x == y) (*exact)++;
        else if (!(isfinite(x) && isfinite(y) && fabs(x - y) <= step * fmax(fabs(x), fabs(y)) + 1.0 / 512)) bad++;
    }
    return bad;
}

static void gemm_fp8_rope_kv(void) {
    NEED_GPU();
    enum { H = 8, KV = 2, HD = 128, MAXP = 8, SLOTS = 5 };
    const int N = (H + 2 * KV) * HD, K = 1024, pages = SLOTS * MAXP;
    const float base = 1e6f, eps = 1e-6f;
    // (tile, splits): each tile whole, then 128x128 and 64x128 with the slab split-K and the cluster split (the
    // epilogue after the partial sums meet)
    static const int tiles[][2] = { { 0, 1 }, { 1, 1 }, { 7, 1 }, { 0, 3 }, { 1, GEMM_SPLIT_CLUSTER + 2 } };
    static const int ms[] = { 64, 130, 256 };
    int only = env_int("QWEN3_TEST_FP8_TILE", -1, GEMM_FP8_N_TILES - 1, -1);
    Fp8Weight w = fp8_weight(N, K);
    float qn[HD], kn[HD];
    for (int i = 0; i < HD; i++) { qn[i] = 0.8f + 0.4f * (float)rng_uniform(&rng); kn[i] = 0.8f + 0.4f * (float)rng_uniform(&rng); }
    int bt[SLOTS * MAXP];
    for (int i = 0; i < pages; i++) bt[i] = i;
    for (int i = pages - 1; i > 0; i--) { int j = (int)(rng_uniform(&rng) * (i + 1)), t = bt[i]; bt[i] = bt[j]; bt[j] = t; }
    size_t pool = (size_t)pages * KV * 64 * HD, spool = (size_t)pages * KV * 64 * 4;
    CUdeviceptr dqn = gpu_alloc(&G, HD * 4), dkn = gpu_alloc(&G, HD * 4), dbt = gpu_alloc(&G, sizeof bt);
    CUdeviceptr dslot = gpu_alloc(&G, 256 * 4), dpos = gpu_alloc(&G, 256 * 4), dqkv = gpu_alloc(&G, (size_t)256 * N * 2);
    CUdeviceptr dcs = gpu_alloc(&G, 256 * 64 * 8), dargs = gpu_alloc(&G, sizeof(RopeKV8)), drow = gpu_alloc(&G, 256 * 4);
    CUdeviceptr dq[2], dk[2], dv[2], dks[2], dvs[2];
    for (int a = 0; a < 2; a++) {
        dq[a] = gpu_alloc(&G, (size_t)256 * H * HD * 2);
        dk[a] = gpu_alloc(&G, pool); dv[a] = gpu_alloc(&G, pool);
        dks[a] = gpu_alloc(&G, spool); dvs[a] = gpu_alloc(&G, spool);
    }
    gpu_upload(&G, dqn, qn, sizeof qn);
    gpu_upload(&G, dkn, kn, sizeof kn);
    gpu_upload(&G, dbt, bt, sizeof bt);
    RopeKV8 ra = { H, KV, 0, eps, dq[1], dk[1], dv[1], dks[1], dvs[1], dqn, dkn, drow, dcs, { 0 } };
    gpu_upload(&G, dargs, &ra, sizeof ra);
    size_t nq = 0, nqx = 0, nk = 0, nkx = 0, badq = 0, badk = 0, badv = 0, bads = 0, runs = 0;
    for (int mi = 0; mi < 3; mi++) {
        int M = ms[mi], slot[256], pos[256];
        for (int t = 0; t < M; t++) {  // distinct positions within a slot (each (slot, pos) row written once)
            slot[t] = t % SLOTS;
            pos[t] = (t / SLOTS) * 3 + slot[t] % 3 + (slot[t] >= 3 ? 300 : 0);
        }
        gpu_upload(&G, dslot, slot, (size_t)M * 4);
        gpu_upload(&G, dpos, pos, (size_t)M * 4);
        QuantIn in = quant_in(M, K);
        for (int ti = 0; ti < 5; ti++) {
            if (only >= 0 && tiles[ti][0] != only) continue;
            for (int a = 0; a < 2; a++) {
                gpu_fill_u32(&G, dq[a], 0x7FC07FC0u, (size_t)M * H * HD / 2);
                gpu_fill_u32(&G, dk[a], 0x7F7F7F7Fu, pool / 4);
                gpu_fill_u32(&G, dv[a], 0x7F7F7F7Fu, pool / 4);
                gpu_fill_u32(&G, dks[a], 0x7FC00000u, spool / 4);
                gpu_fill_u32(&G, dvs[a], 0x7FC00000u, spool / 4);
            }
            launch_gemm_fp8_ex(&G, dqkv, in.da8, in.dsa, w.w8, w.sw, M, N, K, GEMM_STORE_BF16, tiles[ti][0],
                               tiles[ti][1]);  // (the same split: the same sums)
            launch_qknorm_rope_kv_fp8(&G, dq[0], dk[0], dv[0], dks[0], dvs[0], dqkv, 1, dqn, dkn, dbt, dslot, dpos, M, H,
                                      KV, HD, MAXP, base, eps);
            launch_rope_table(&G, dcs, drow, dslot, dpos, dbt, M, KV, MAXP, base);
            GemmNorm nm = { .rope = dargs };
            launch_gemm_fp8_nm(&G, dq[1], in.da8, in.dsa, w.w8, w.sw, M, N, K, GEMM_ROPE_KV8, tiles[ti][0],
                               tiles[ti][1], &nm);
            uint8_t *q[2], *k[2], *v[2];
            float *ks[2], *vs[2];
            for (int a = 0; a < 2; a++) {
                q[a] = xmalloc((size_t)M * H * HD * 2); k[a] = xmalloc(pool); v[a] = xmalloc(pool);
                ks[a] = xmalloc(spool); vs[a] = xmalloc(spool);
                gpu_download(&G, q[a], dq[a], (size_t)M * H * HD * 2);
                gpu_download(&G, k[a], dk[a], pool); gpu_download(&G, v[a], dv[a], pool);
                gpu_download(&G, ks[a], dks[a], spool); gpu_download(&G, vs[a], dvs[a], spool);
            }
            badq += rope_diff(q[1], q[0], (size_t)M * H * HD, 0, &nqx);
            nq += (size_t)M * H * HD;
            for (int t = 0; t < M; t++)
                for (int h = 0; h < KV; h++) {
                    size_t r = ((size_t)bt[slot[t] * MAXP + pos[t] / 64] * KV + h) * 64 + pos[t] % 64;
                    badk += rope_diff(k[1] + r * HD, k[0] + r * HD, HD, 1, &nkx);
                    nk += HD;
                    badv += memcmp(v[1] + r * HD, v[0] + r * HD, HD) != 0 || !(vs[1][r] == vs[0][r]);
                    bads += !(ks[1][r] > 0) || fabsf(ks[1][r] - ks[0][r]) > 1e-6f * ks[0][r];
                }
            runs++;
            for (int a = 0; a < 2; a++) { free(q[a]); free(k[a]); free(v[a]); free(ks[a]); free(vs[a]); }
        }
        quant_in_free(&in);
    }
    CHECK(runs > 0, "no tile ran");
    CHECK(badq == 0 && badk == 0 && badv == 0 && bads == 0, "RoPE epilogue: %zu q / %zu k values off by more than a "
          "rounding step, %zu v rows not identical, %zu k scales off", badq, badk, badv, bads);
    CHECK(nqx >= nq * 0.98 && nkx >= nk * 0.98, "RoPE epilogue: only %zu of %zu q and %zu of %zu k values exact",
          nqx, nq, nkx, nk);
    printf("  tiles {0,1,7}, 0 split 3, 1 cluster split 2 x M {64,130,256}: v identical, q %.4f%% / k %.4f%% exact (the rest one rounding step)\n",
           100.0 * nqx / (nq ? nq : 1), 100.0 * nkx / (nk ? nk : 1));
    for (int a = 0; a < 2; a++) {
        gpu_free(&G, dq[a]); gpu_free(&G, dk[a]); gpu_free(&G, dv[a]); gpu_free(&G, dks[a]); gpu_free(&G, dvs[a]);
    }
    gpu_free(&G, dqn); gpu_free(&G, dkn); gpu_free(&G, dbt); gpu_free(&G, dslot); gpu_free(&G, dpos);
    gpu_free(&G, dqkv); gpu_free(&G, dcs); gpu_free(&G, dargs); gpu_free(&G, drow);
    fp8_weight_free(&w);
}

static void gemm_fp8_shapes(void) {
    NEED_GPU();
    // K = 384 and 128: tiles of 3 and 1 K slices (odd counts: a persistent CTA's ring position carries over tiles
    // whose slices do not fill it evenly). QWEN3_TEST_FP8_TILE=t checks tile t alone (the sanitizer runs).
    static const int nk[][2] = { { 1088, 1024 }, { 6144, 4096 }, { 4096, 12288 }, { 1088, 384 }, { 1088, 128 } };
    static const int ms[] = { 1, 7, 64, 65, 200, 1024 };
    int only = env_int("QWEN3_TEST_FP8_TILE", -1, GEMM_FP8_N_TILES - 1, -1);
    for (int s = 0; s < 5; s++) {
        Fp8Weight w = fp8_weight(nk[s][0], nk[s][1]);
        double worst = 0;
        for (int t = 0; t < GEMM_FP8_N_TILES; t++) {
            if (only >= 0 && t != only) continue;
            for (int i = 0; i < 6; i++)
                for (int mode = 0; mode < 3; mode++) {
                    if (s == 2 && i == 5 && mode != 0) continue;  // the fp64 reference is slow at K = 12288
                    double e = check_fp8(&w, ms[i], mode, t, 0);
                    if (e > worst) worst = e;
                    CHECK(e < tol8(mode), "tile %d M=%d N=%d K=%d %s: rel err %.3g (tolerance %.1g)", t, ms[i], w.N,
                          w.K, mname[mode], e, tol8(mode));
                }
        }
        printf("  N=%d K=%d: %s, M in {1,7,64,65,200,1024} x {f32,bf16,add}: worst rel err %.3g\n", w.N, w.K,
               only < 0 ? "every tile" : "one tile", worst);
        fp8_weight_free(&w);
    }
}

// The swapped decode tile (W on wgmma's M side) with every K split its cluster may take, including splits that do
// not divide the slices (3, 5) and more splits than a shape would choose; M across its 8/16/32/64-wide entries and
// a chunked M > 64; N with a half tile (1088 = 17 x 64).
static void gemm_fp8_swapped(void) {
    NEED_GPU();
    static const int nk[][2] = { { 1088, 1024 }, { 4096, 4096 } };
    static const int ms[] = { 1, 8, 9, 33, 64, 100 }, sp[] = { 1, 2, 3, 4, 5, 8 };
    for (int s = 0; s < 2; s++) {
        Fp8Weight w = fp8_weight(nk[s][0], nk[s][1]);
        double worst = 0;
        for (int k = 0; k < 6; k++)
            for (int i = 0; i < 6; i++)
                for (int mode = 0; mode < 3; mode++) {
                    double e = check_fp8(&w, ms[i], mode, GEMM_FP8_SW_TILE, sp[k]);
                    if (e > worst) worst = e;
                    CHECK(e < tol8(mode), "swapped tile splits %d M=%d N=%d K=%d %s: rel err %.3g", sp[k], ms[i],
                          w.N, w.K, mname[mode], e);
                }
        printf("  N=%d K=%d: swapped tile, splits {1,2,3,4,5,8} x M {1,8,9,33,64,100} x {f32,bf16,add}: worst %.3g\n",
               w.N, w.K, worst);
        fp8_weight_free(&w);
    }
}

// The swapped tile building its own input (launch_gemm_fp8_build, ptx/gemm_sw_build.h) against the two launches it
// replaces, same weights, same x, same splits: launch_rmsnorm_fp8 (f32 x, norm weights) or launch_quant_act_fp8
// (bf16 x), then the swapped tile. The outputs must be byte-equal (the kernel rebuilds the norm's sums in their
// order, and the product then sums the same e4m3 bytes the same way) and finite (both start NaN-poisoned; add mode:
// the same random residual). x: rows of different magnitudes, one all-zero row (scale-1 groups), some outliers.
static void gemm_fp8_build(void) {
    NEED_GPU();
    static const int shapes[][3] = { { 1040, 1024, 1 }, { 4096, 4096, 1 }, { 2048, 5120, 1 }, { 1024, 2560, 1 },
                                     { 512, 256, 1 }, { 1024, 12288, 0 }, { 2064, 3072, 0 }, { 1040, 768, 0 } };
    // (N, K, RMSNorm else quantiser; K = 256 / 768: rows shorter than a 512-element pass, scales not 16-byte rows)
    static const int ms[] = { 1, 3, 8 }, sp[] = { 1, 2, 3 }, modes[] = { GEMM_STORE_F32, GEMM_STORE_BF16,
                                                                          GEMM_ADD_F32, GEMM_SWIGLU_BF16 };
    const float eps = 1e-6f;
    for (int sh = 0; sh < 8; sh++) {
        int N = shapes[sh][0], K = shapes[sh][1], norm = shapes[sh][2], cases = 0;
        size_t bad_cases = 0;
        Fp8Weight w = fp8_weight(N, K);
        float *nw = xmalloc((size_t)K * 4);
        for (int k = 0; k < K; k++) nw[k] = (float)(0.5 + rng_uniform(&rng));
        CUdeviceptr dnw = gpu_alloc(&G, (size_t)K * 4);
        gpu_upload(&G, dnw, nw, (size_t)K * 4);
        for (int mi = 0; mi < 3; mi++) {
            int M = ms[mi];
            size_t xb = (size_t)M * K * (norm ? 4 : 2);
            void *xh = xmalloc(xb);
            if (norm) {
                float *xf = xh;
                for (int r = 0; r < M; r++) {
                    float mag = (float)ldexp(1.0, (int)(rng_uniform(&rng) * 8) - 4);
                    for (int k = 0; k < K; k++)
                        xf[(size_t)r * K + k] = r == 1 ? 0.0f : mag * rng_normal(&rng) * (rng_uniform(&rng) < 0.002 ? 40 : 1);
                }
            } else {
                rand_rows_bf16(xh, M, K, 1);
                if (M > 1) memset((uint16_t *)xh + K, 0, (size_t)K * 2);
            }
            CUdeviceptr dx = gpu_alloc(&G, xb), da8 = gpu_alloc(&G, (size_t)M * K), dsa = gpu_alloc(&G, (size_t)M * K / 32);
            gpu_upload(&G, dx, xh, xb);
            if (norm) launch_rmsnorm_fp8(&G, da8, dsa, dx, dnw, 0, M, K, eps);
            else launch_quant_act_fp8(&G, da8, dsa, dx, M, K);
            for (int si = 0; si < 3; si++)
                for (int mo = 0; mo < 4; mo++) {
                    int mode = modes[mo], cols = mode == GEMM_SWIGLU_BF16 ? N / 2 : N;
                    size_t esz = mode == GEMM_STORE_BF16 || mode == GEMM_SWIGLU_BF16 ? 2 : 4, cb = (size_t)M * cols * esz;
                    CUdeviceptr c1 = gpu_alloc(&G, cb), c2 = gpu_alloc(&G, cb);
                    if (mode == GEMM_ADD_F32) {
                        float *c0 = xmalloc(cb);
                        for (size_t i = 0; i < (size_t)M * N; i++) c0[i] = (float)(2 * rng_uniform(&rng) - 1);
                        gpu_upload(&G, c1, c0, cb);
                        gpu_upload(&G, c2, c0, cb);
                        free(c0);
                    } else {
                        gpu_fill_u32(&G, c1, 0x7FC07FC0u, cb / 4);
                        gpu_fill_u32(&G, c2, 0x7FC07FC0u, cb / 4);
                    }
                    launch_gemm_fp8_ex(&G, c1, da8, dsa, w.w8, w.sw, M, N, K, mode, GEMM_FP8_SW_TILE, sp[si]);
                    launch_gemm_fp8_build(&G, c2, dx, norm ? dnw : 0, eps, w.w8, w.sw, M, N, K, mode, sp[si]);
                    uint8_t *h1 = xmalloc(cb), *h2 = xmalloc(cb);
                    gpu_download(&G, h1, c1, cb);
                    gpu_download(&G, h2, c2, cb);
                    size_t diff = 0, nonfin = 0;
                    for (size_t i = 0; i < cb; i++) diff += h1[i] != h2[i];
                    for (size_t i = 0; i < (size_t)M * cols; i++) {
                        float v;
                        if (esz == 2) { uint16_t b; memcpy(&b, h2 + 2 * i, 2); v = host_bf16_to_f32(b); }
                        else memcpy(&v, h2 + 4 * i, 4);
                        nonfin += !isfinite(v);
                    }
                    cases++;
                    bad_cases += diff || nonfin;
                    CHECK(!diff && !nonfin, "built input N=%d K=%d %s M=%d splits %d mode %d: %zu bytes differ from "
                          "the two launches, %zu outputs not finite", N, K, norm ? "rmsnorm" : "quant", M, sp[si], mode,
                          diff, nonfin);
                    free(h1); free(h2);
                    gpu_free(&G, c1); gpu_free(&G, c2);
                }
            gpu_free(&G, dx); gpu_free(&G, da8); gpu_free(&G, dsa);
            free(xh);
        }
        printf("  N=%d K=%d %s: %d cases (M {1,3,8} x splits {1,2,3} x {f32,bf16,add,swiglu}), %zu differ\n", N, K,
               norm ? "rmsnorm" : "quantiser", cases, bad_cases);
        gpu_free(&G, dnw);
        free(nw);
        fp8_weight_free(&w);
    }
}

// Split-K on the wgmma tiles (a plan's splits for FP8 tiles 0, 1, 4, 5, 11): slabs of f32 partial sums added in
// order by each tile's last unit, then the epilogue; splits that do not divide the slices (3), a partial N tile, the
// tail split (at N = 4096, M = 200 / 300 the 64-row tiles make more tiles than SMs: whole and split units in one grid),
// and the cluster splits of 2..4 (the sums through distributed shared memory; grids of more CTAs than SMs too).
static void gemm_fp8_splitk(void) {
    NEED_GPU();
    static const int nk[][2] = { { 1088, 1024 }, { 4096, 12288 } };
    static const int tiles[] = { 0, 1, 4, 5, GEMM_FP8_128X256_TILE }, ms[] = { 1, 64, 200, 300 };
    static const int sp[] = { 2, 3, GEMM_SPLIT_TAIL, GEMM_SPLIT_CLUSTER + 2, GEMM_SPLIT_CLUSTER + 3,
                              GEMM_SPLIT_CLUSTER + 4 };
    int only = env_int("QWEN3_TEST_FP8_TILE", -1, GEMM_FP8_N_TILES - 1, -1);  // one tile alone (the sanitizer runs)
    for (int s = 0; s < 2; s++) {
        Fp8Weight w = fp8_weight(nk[s][0], nk[s][1]);
        double worst = 0;
        for (int ti = 0; ti < 5; ti++)
            for (int k = 0; k < 6 && (only < 0 || tiles[ti] == only); k++)
                for (int i = 0; i < 4; i++)
                    for (int mode = 0; mode < 3; mode++) {
                        if (s == 1 && i > 1 && mode != 0) continue;  // the fp64 reference is slow at K = 12288
                        double e = check_fp8(&w, ms[i], mode, tiles[ti], sp[k]);
                        if (e > worst) worst = e;
                        CHECK(e < tol8(mode), "tile %d splits %d M=%d N=%d K=%d %s: rel err %.3g", tiles[ti], sp[k],
                              ms[i], w.N, w.K, mname[mode], e);
                    }
        printf("  N=%d K=%d: tiles {0,1,4,5,11} x splits {2,3,tail,cluster 2,3,4} x M {1,64,200,300} x {f32,bf16,add}: "
               "worst %.3g\n",
               w.N, w.K, worst);
        fp8_weight_free(&w);
    }
}

// Uniform scales (GemmNorm.uni, the consumer loop at U_START): groups of 1, 3 and all slices on every wgmma tile
// (those without the loop run their usual one), whole and split (slab, tail, cluster), rows across row-tiles; against
// the fp64 product of the dequantised inputs. Summing G slices in the tensor cores keeps fewer bits than the f32
// promotion (HOPPER-PTX.md section 5), hence the looser f32 tolerance; the worst error of each G is printed.
static void gemm_fp8_uniform(void) {
    NEED_GPU();
    static const int nk[][2] = { { 1088, 1024 }, { 4096, 12288 } };
    static const int tiles[] = { 0, 1, 4, 5, 7, 8, 9, GEMM_FP8_128X256_TILE, GEMM_FP8_128X256C2_TILE };
    static const int ms[] = { 1, 64, 200, 300 };
    static const int sp[] = { 1, 3, GEMM_SPLIT_TAIL, GEMM_SPLIT_CLUSTER + 2 }, gs[] = { 1, 3, 255 };
    int only = env_int("QWEN3_TEST_FP8_TILE", -1, GEMM_FP8_N_TILES - 1, -1);  // one tile alone (the sanitizer runs)
    for (int gi = 0; gi < 3; gi++) {
        uni_g = gs[gi];
        for (int s = 0; s < 2; s++) {
            Fp8Weight w = fp8_weight(nk[s][0], nk[s][1]);
            double worst = 0;
            for (int ti = 0; ti < 9; ti++)
                for (int k = 0; k < 4 && (only < 0 || tiles[ti] == only); k++) {
                    int pair = (tiles[ti] >= 7 && tiles[ti] <= 9) || tiles[ti] == GEMM_FP8_128X256C2_TILE;
                    if (pair && k > 0) continue;  // the pairs never split
                    for (int i = 0; i < 4; i++)
                        for (int mode = 0; mode < 3; mode++) {
                            // K = 12,288 (the fp64 reference is slow there): f32, M 64 and 300, whole or cluster 2
                            if (s == 1 && (mode != 0 || i % 2 == 0 || k == 1 || k == 2)) continue;
                            double e = check_fp8(&w, ms[i], mode, tiles[ti], sp[k]);
                            // the tensor cores' sums lose ~2.5e-5 a slice summed (H200: 2.4e-3 at 96 slices)
                            int nsum = uni_g < w.K / 128 ? uni_g : w.K / 128;
                            double tol = (mode == GEMM_STORE_BF16 ? 5e-3 : 2e-4) + 4e-5 * nsum;
                            if (e > worst) worst = e;
                            CHECK(e < tol, "uniform G=%d tile %d splits %d M=%d N=%d K=%d %s: rel err %.3g (tolerance "
                                  "%.1g)", uni_g, tiles[ti], sp[k], ms[i], w.N, w.K, mname[mode], e, tol);
                        }
                }
            printf("  uniform scales, G = %d, N=%d K=%d: tiles {0,1,4,5,7,8,9,11,12} x splits {1,3,tail,cluster 2} x M "
                   "{1,64,200,300} x {f32,bf16,add}: worst %.3g\n", uni_g, w.N, w.K, worst);
            fp8_weight_free(&w);
        }
    }
    uni_g = 0;
}

// Mode 6 (the FP8 head's first pass): every FP8 wgmma tile, splits 1 / 2 / tail / cluster 3 where the tile takes them,
// shapes with a partial 64-column block and a partial tile, M across row-tiles; C must be mode 0's bytes (the same tile
// and splits) and each row's 64-column maxima exactly the host's over those bytes. Outputs poisoned with NaN.
static void gemm_fp8_rowmax(void) {
    NEED_GPU();
    static const int nk[][2] = { { 1000, 1024 }, { 4352, 512 } };
    static const int tiles[] = { 0, 1, 4, 5, 7, 8, 9, GEMM_FP8_128X256_TILE, GEMM_FP8_128X256C2_TILE };
    static const int ms[] = { 1, 65, 200 }, sp[] = { 1, 2, GEMM_SPLIT_TAIL, GEMM_SPLIT_CLUSTER + 3 };
    int cases = 0, bad_c = 0, bad_m = 0;
    for (int s = 0; s < 2; s++) {
        int N = nk[s][0], K = nk[s][1], NB = (N + 63) / 64;
        Fp8Weight w = fp8_weight(N, K);
        for (int i = 0; i < 3; i++) {
            int M = ms[i];
            QuantIn in = quant_in(M, K);
            CUdeviceptr c0 = gpu_alloc(&G, (size_t)M * N * 4), c1 = gpu_alloc(&G, (size_t)M * N * 4);
            CUdeviceptr pm = gpu_alloc(&G, (size_t)M * NB * 4);
            float *h0 = xmalloc((size_t)M * N * 4), *h1 = xmalloc((size_t)M * N * 4), *hm = xmalloc((size_t)M * NB * 4);
            for (int ti = 0; ti < 9; ti++)
                for (int k = 0; k < 4; k++) {
                    int tile = tiles[ti], cluster = (tile >= 7 && tile <= 9) || tile == GEMM_FP8_128X256C2_TILE;
                    if (k > 0 && (cluster || !gemm_fp8_tile_splits(tile))) continue;
                    gpu_fill_u32(&G, c0, 0x7FC00000u, (size_t)M * N);
                    gpu_fill_u32(&G, c1, 0x7FC00000u, (size_t)M * N);
                    gpu_fill_u32(&G, pm, 0x7FC00000u, (size_t)M * NB);
                    launch_gemm_fp8_ex(&G, c0, in.da8, in.dsa, w.w8, w.sw, M, N, K, GEMM_STORE_F32, tile, sp[k]);
                    int did = launch_gemm_fp8_rowmax(&G, c1, pm, in.da8, in.dsa, w.w8, w.sw, M, N, K, tile, sp[k], 0);
                    gpu_download(&G, h0, c0, (size_t)M * N * 4);
                    gpu_download(&G, h1, c1, (size_t)M * N * 4);
                    gpu_download(&G, hm, pm, (size_t)M * NB * 4);
                    cases++;
                    CHECK(did, "tile %d: launch_gemm_fp8_rowmax did not take the maxima", tile);
                    size_t nf = 0;
                    for (size_t e = 0; e < (size_t)M * N; e++) nf += !isfinite(h0[e]);
                    int c_same = !nf && !memcmp(h0, h1, (size_t)M * N * 4), m_same = 1;
                    for (int r = 0; r < M && m_same; r++)
                        for (int b = 0; b < NB; b++) {
                            float m = -INFINITY;
                            for (int n = 64 * b; n < N && n < 64 * b + 64; n++)
                                if (h0[(size_t)r * N + n] > m) m = h0[(size_t)r * N + n];
                            if (memcmp(&m, &hm[(size_t)r * NB + b], 4)) { m_same = 0; break; }
                        }
                    bad_c += !c_same;
                    bad_m += !m_same;
                    CHECK(c_same && m_same, "tile %d splits %d M=%d N=%d K=%d: C %s mode 0's, maxima %s", tile, sp[k],
                          M, N, K, c_same ? "equals" : "differs from", m_same ? "exact" : "wrong");
                }
            free(h0); free(h1); free(hm);
            gpu_free(&G, c0); gpu_free(&G, c1); gpu_free(&G, pm);
            quant_in_free(&in);
        }
        fp8_weight_free(&w);
    }
    printf("  %d cases (tiles {0,1,4,5,7,8,9,11,12} x splits {1,2,tail} x M {1,65,200} x N {1000,4352}): C differs in "
           "%d, maxima wrong in %d\n", cases, bad_c, bad_m);
}

// Timings (printed, not asserted), weights rotated through > 2x L2.
static void time8(const char *label, int M, int N, int K, int tile) {
    int KB = K / 128, NB = (N + 127) / 128;
    size_t wbytes = (size_t)N * K;
    int copies = (int)((3 * G.l2_bytes + wbytes - 1) / wbytes);
    if (copies < 1) copies = 1;
    if (copies > 16) copies = 16;
    CUdeviceptr w8[16], sw = gpu_alloc(&G, (size_t)NB * KB * 4);
    for (int c = 0; c < copies; c++) { w8[c] = gpu_alloc(&G, wbytes); gpu_fill_u32(&G, w8[c], 0x38383838u, wbytes / 4); }
    gpu_fill_u32(&G, sw, 0x3C000000u, (size_t)NB * KB);  // 2^-7
    CUdeviceptr a8 = gpu_alloc(&G, (size_t)M * K), sa = gpu_alloc(&G, (size_t)M * KB * 4), c = gpu_alloc(&G, (size_t)M * N * 2);
    gpu_fill_u32(&G, a8, 0x38383838u, (size_t)M * K / 4);
    gpu_fill_u32(&G, sa, 0x3C000000u, (size_t)M * KB);
    for (int i = 0; i < copies; i++) launch_gemm_fp8_ex(&G, c, a8, sa, w8[i], sw, M, N, K, GEMM_STORE_BF16, tile, 0);
    int iters = copies > 20 ? copies : 20;
    GpuTimer t;
    gpu_timer_init(&t);
    gpu_timer_start(&G, &t);
    for (int i = 0; i < iters; i++) launch_gemm_fp8_ex(&G, c, a8, sa, w8[i % copies], sw, M, N, K, GEMM_STORE_BF16, tile, 0);
    double ms = gpu_timer_stop_ms(&G, &t) / iters;
    gpu_timer_free(&t);
    printf("  time fp8 %-8s tile %2d M=%-5d N=%-6d K=%-5d %8.1f us  %7.1f GB/s (weights)  %6.1f TFLOP/s\n", label, tile,
           M, N, K, ms * 1e3, wbytes / (ms * 1e-3) / 1e9, 2.0 * M * N * K / (ms * 1e-3) / 1e12);
    for (int i = 0; i < copies; i++) gpu_free(&G, w8[i]);
    gpu_free(&G, sw); gpu_free(&G, a8); gpu_free(&G, sa); gpu_free(&G, c);
}

static void gemm_fp8_timings(void) {
    NEED_GPU();
    printf("  %s, %d SMs\n", G.name, G.sm_count);
    static const int ms[] = { 1, 8, 64, 128, 256, 4096 };
    for (int i = 0; i < 6; i++) {
        time8("gate_up", ms[i], 24576, 4096, -1);
        time8("o", ms[i], 4096, 4096, -1);
    }
    for (int t = 0; t < 2; t++) { time8("gate_up", 4096, 24576, 4096, t); time8("o", 256, 4096, 4096, t); }
    for (int t = 2; t < GEMM_FP8_N_TILES; t++) {  // the decode tiles, weight streaming
        if (t != 2 && t != 3 && t != 6 && t != GEMM_FP8_SW_TILE) continue;
        time8("qkv", 1, 6144, 4096, t); time8("o", 1, 4096, 4096, t); time8("gate_up", 1, 24576, 4096, t);
        time8("down", 1, 4096, 12288, t);
    }
}

// ---------------------------------------------------------------- the rescored FP8 head (ptx/head_rescore.ptx)
// A head W [V][K] (random, plus near-ties: copies of row 7 with a little noise in rows 100..163 of chunk 0, at one
// row of each even chunk 2..30 and at three rows of the last, partial chunk) and n rows of x of three kinds by
// (r + 1) % 3: 0 random; 1 close to W[7], so the near-ties crowd the top over 17 chunks; 2 close to W[V - 5], the top
// in the partial chunk. V = 32 chunks of 1,024 + 384 (as Qwen3's 151,936 = 148 x 1,024 + 384). The FP8 GEMM writes
// logits over a NaN poison, two logits a row are then set to NaN (one among row 7's copies in chunk 0, one in the
// partial chunk: never candidates, left as they are), and head_rescore rewrites the candidates; against fp64 W . x on
// the host: each row's argmax is the exact one, every rewritten logit is the exact value (f32 sums), every other logit
// is the FP8 one bit for bit, the candidate count is the number of FP8 logits >= max - delta, delta is the host's
// sqrt(cd |x8|^2 + cw |x - x8|^2), and the candidates of kinds 1 and 2 lie in the chunks the kind plants them in.
enum { HR_V = 32 * HEAD_RESCORE_CHUNK + 384, HR_LAST = HR_V / HEAD_RESCORE_CHUNK * HEAD_RESCORE_CHUNK };
typedef struct { const uint16_t *w, *x; double *out; int V, K; const int *rows; } HeadRef;
static void head_ref_row(void *ctx, int64_t i) {  // out[c][v] for checked row c (x row rows[c])
    const HeadRef *j = ctx;
    int r = j->rows[i / j->V], v = (int)(i % j->V);
    double s = 0;
    for (int k = 0; k < j->K; k++)
        s += (double)host_bf16_to_f32(j->w[(size_t)v * j->K + k]) * host_bf16_to_f32(j->x[(size_t)r * j->K + k]);
    j->out[i] = s;
}
static int head_tie_row(int v) {  // a copy of row 7: chunk 0's cluster, one row of each even chunk, three in the last
    return (v >= 100 && v < 164) || (v < 31 * HEAD_RESCORE_CHUNK && v / HEAD_RESCORE_CHUNK % 2 == 0 &&
                                     v % HEAD_RESCORE_CHUNK == 37 * (v / HEAD_RESCORE_CHUNK) % HEAD_RESCORE_CHUNK &&
                                     v >= 2 * HEAD_RESCORE_CHUNK) ||
           v == HR_LAST || v == HR_V - 200 || v == HR_V - 1;
}

// The greedy answers head_rescore left in best (dl: its rewritten logits, l their host copy): sample_greedy with them
// (pre) gives the ids it gives from the rows themselves, which are the rows' argmaxes (lowest id on ties); every row's
// best is decisive here (each has a candidate >= tau); and where best says "scan" (all ones) or "nothing" (0) for a
// row, sample_greedy reads that row and still gives the same id.
static void head_best_check(CUdeviceptr dl, CUdeviceptr dbest, const float *l, int n, int V) {
    SamplerParams sp = sampler_defaults();
    sp.temperature = 0;
    GpuSampleParams *hp = xmalloc((size_t)n * sizeof *hp);
    for (int r = 0; r < n; r++) hp[r] = gpu_sample_params(&sp, 0, 0, 0);
    CUdeviceptr dp = gpu_alloc(&G, (size_t)n * sizeof *hp), dids = gpu_alloc(&G, (size_t)n * 4);
    gpu_upload(&G, dp, hp, (size_t)n * sizeof *hp);
    int32_t *scan = xmalloc((size_t)n * 4), *pre = xmalloc((size_t)n * 4);
    uint64_t *b = xmalloc((size_t)n * HEAD_RESCORE_BEST * 8);
    gpu_download(&G, b, dbest, (size_t)n * HEAD_RESCORE_BEST * 8);
    int decisive = 0, same = 0, host_same = 0;
    for (int r = 0; r < n; r++) {
        uint64_t m = 0;
        for (int j = 0; j < HEAD_RESCORE_BEST; j++)
            if (b[(size_t)r * HEAD_RESCORE_BEST + j] > m) m = b[(size_t)r * HEAD_RESCORE_BEST + j];
        decisive += m != 0 && m != ~(uint64_t)0;
    }
    for (int round = 0; round < 2; round++) {  // round 1: rows 0 and n - 1 forced to scan / nothing
        if (round == 1) {
            for (int j = 0; j < HEAD_RESCORE_BEST; j++) {
                b[j] = ~(uint64_t)0;
                b[(size_t)(n - 1) * HEAD_RESCORE_BEST + j] = n > 1 ? 0 : ~(uint64_t)0;
            }
            gpu_upload(&G, dbest, b, (size_t)n * HEAD_RESCORE_BEST * 8);
        }
        gpu_fill_u32(&G, dids, 0x7FC00000u, (size_t)n);
        launch_sample(&G, dids, dl, dp, hp, n, V, 0);
        gpu_download(&G, scan, dids, (size_t)n * 4);
        gpu_fill_u32(&G, dids, 0x7FC00000u, (size_t)n);
        launch_sample(&G, dids, dl, dp, hp, n, V, dbest);
        gpu_download(&G, pre, dids, (size_t)n * 4);
        same = host_same = 0;
        for (int r = 0; r < n; r++) {
            int got = 0;
            for (int v = 1; v < V; v++) if (l[(size_t)r * V + v] > l[(size_t)r * V + got]) got = v;
            same += pre[r] == scan[r];
            host_same += scan[r] == got;
        }
        CHECK(same == n && host_same == n, "n %d%s: sample_greedy with head_rescore's best agrees on %d of %d rows "
              "with the full scan, which gives the host's argmax on %d", n, round ? " (rows forced to scan)" : "", same,
              n, host_same);
    }
    printf("  n %d: head_rescore's greedy answers decisive on %d of %d rows; sample_greedy with them = the full scan "
           "= the host's argmax (also with rows forced to scan)\n", n, decisive, n);
    CHECK(decisive == n, "n %d: only %d of %d rows' best decisive", n, decisive, n);
    free(hp); free(scan); free(pre); free(b);
    gpu_free(&G, dp); gpu_free(&G, dids);
}

// n rows: 1 and 3 (head_rescore splits a row over 8 CTAs, each with one round of flagged chunks), 64 (3 CTAs a row),
// 256 (one CTA a row: kind 1 flags up to 17 chunks, three rounds); rows 0, 1, 2 and n - 1 checked.
static void head_rescore_n(int n) {
    int V = HR_V, K = 4096, KB = K / 128;
    uint16_t *w = xmalloc((size_t)V * K * 2), *x = xmalloc((size_t)n * K * 2);
    for (size_t i = 0; i < (size_t)V * K; i++) w[i] = host_f32_to_bf16((float)((2 * rng_uniform(&rng) - 1) / sqrt(K)));
    for (int v = 0; v < V; v++)
        if (head_tie_row(v))
            for (int k = 0; k < K; k++)
                w[(size_t)v * K + k] = host_f32_to_bf16(host_bf16_to_f32(w[7 * (size_t)K + k]) *
                                                         (float)(1 + 0.002 * (2 * rng_uniform(&rng) - 1)));
    for (int r = 0; r < n; r++) {
        int kind = (r + 1) % 3, near = kind == 1 ? 7 : V - 5;
        for (int k = 0; k < K; k++) {
            float noise = (float)(2 * rng_uniform(&rng) - 1);
            x[(size_t)r * K + k] = host_f32_to_bf16(
                kind ? 8 * sqrtf((float)K) * host_bf16_to_f32(w[near * (size_t)K + k]) + 0.5f * noise : noise);
        }
    }
    CUdeviceptr dw = gpu_alloc(&G, (size_t)V * K * 2), dw8 = gpu_alloc(&G, (size_t)V * K),
                dsw = gpu_alloc(&G, (size_t)(V / 128) * KB * 4), dx = gpu_alloc(&G, (size_t)n * K * 2),
                da8 = gpu_alloc(&G, (size_t)n * K), dsa = gpu_alloc(&G, (size_t)n * KB * 4),
                dl = gpu_alloc(&G, (size_t)n * V * 4), dpart = gpu_alloc(&G, (size_t)n * HEAD_RESCORE_MAX_CHUNKS * 4),
                dst = gpu_alloc(&G, (size_t)n * 16), dbest = gpu_alloc(&G, (size_t)n * HEAD_RESCORE_BEST * 8);
    gpu_upload(&G, dw, w, (size_t)V * K * 2);
    gpu_upload(&G, dx, x, (size_t)n * K * 2);
    launch_quant_w_fp8(&G, dw8, dsw, dw, V, K);
    float cd, cw;
    head_rescore_consts(&G, dw, dw8, dsw, V, K, 6.0f, &cd, &cw);
    launch_quant_act_fp8(&G, da8, dsa, dx, n, K);
    gpu_fill_u32(&G, dl, 0x7FC00000u, (size_t)n * V);          // NaN poison under the GEMM's output
    gpu_fill_u32(&G, dpart, 0x7F800000u, (size_t)n * HEAD_RESCORE_MAX_CHUNKS);  // +inf: an unwritten part spoils the max
    gpu_fill_u32(&G, dst, 0, (size_t)n * 4);
    gpu_fill_u32(&G, dbest, 0x5A5A5A5Au, (size_t)n * HEAD_RESCORE_BEST * 2);  // a slot left unwritten is a wrong key
    int tile = n <= 64 ? 5 : GEMM_FP8_128X256_TILE;  // wgmma tiles: the second path below needs their mode 6
    launch_gemm_fp8_ex(&G, dl, da8, dsa, dw8, dsw, n, V, K, GEMM_STORE_F32, tile, 0);
    float *l8 = xmalloc((size_t)n * V * 4), *l = xmalloc((size_t)n * V * 4);
    gpu_download(&G, l8, dl, (size_t)n * V * 4);
    int nans = 0;
    for (size_t i = 0; i < (size_t)n * V; i++) nans += !isfinite(l8[i]);
    CHECK(nans == 0, "n %d: %d FP8 logits not finite", n, nans);
    for (int r = 0; r < n; r++) l8[(size_t)r * V + 102] = l8[(size_t)r * V + V - 2] = NAN;
    gpu_upload(&G, dl, l8, (size_t)n * V * 4);
    launch_head_rescore(&G, dl, dpart, 0, dx, da8, dsa, dw, dst, n, V, K, cd, cw, dbest);
    gpu_download(&G, l, dl, (size_t)n * V * 4);
    uint32_t *st = xmalloc((size_t)n * 16);
    gpu_download(&G, st, dst, (size_t)n * 16);
    {   // the same through the GEMM's own 64-logit maxima (mode 6, no head_rowmax): the same logits and stats, bit for bit
        int n64 = (V + 63) / 64;
        CUdeviceptr dl2 = gpu_alloc(&G, (size_t)n * V * 4), dpm = gpu_alloc(&G, (size_t)n * n64 * 4),
                    dst2 = gpu_alloc(&G, (size_t)n * 16);
        gpu_fill_u32(&G, dl2, 0x7FC00000u, (size_t)n * V);
        gpu_fill_u32(&G, dpm, 0x7F800000u, (size_t)n * n64);
        gpu_fill_u32(&G, dst2, 0, (size_t)n * 4);
        int did = launch_gemm_fp8_rowmax(&G, dl2, dpm, da8, dsa, dw8, dsw, n, V, K, tile, 0, 0);
        float nanv = NAN;
        for (int r = 0; r < n; r++) {
            gpu_upload(&G, dl2 + ((size_t)r * V + 102) * 4, &nanv, 4);
            gpu_upload(&G, dl2 + ((size_t)r * V + V - 2) * 4, &nanv, 4);
        }
        launch_head_rescore(&G, dl2, dpart, dpm, dx, da8, dsa, dw, dst2, n, V, K, cd, cw, 0);
        float *l2 = xmalloc((size_t)n * V * 4);
        uint32_t *st2 = xmalloc((size_t)n * 16);
        gpu_download(&G, l2, dl2, (size_t)n * V * 4);
        gpu_download(&G, st2, dst2, (size_t)n * 16);
        int same_l = !memcmp(l, l2, (size_t)n * V * 4), same_s = !memcmp(st, st2, (size_t)n * 16);
        printf("  n %d: through the GEMM's row maxima (tile %d): logits %s, stats %s\n", n, tile,
               same_l ? "identical" : "DIFFER", same_s ? "identical" : "DIFFER");
        CHECK(did && same_l && same_s, "n %d: the GEMM-maxima path (tile %d, taken %d) differs", n, tile, did);
        free(l2); free(st2);
        gpu_free(&G, dl2); gpu_free(&G, dpm); gpu_free(&G, dst2);
    }
    uint8_t *q = xmalloc((size_t)n * K);
    float *sa = xmalloc((size_t)n * KB * 4);
    gpu_download(&G, q, da8, (size_t)n * K);
    gpu_download(&G, sa, dsa, (size_t)n * KB * 4);
    int ck[4] = { 0, 1, 2, n - 1 }, nck = n > 3 ? 4 : n;
    double *ex = xmalloc((size_t)nck * V * 8);
    HeadRef hr = { w, x, ex, V, K, ck };
    parallel_for((int64_t)nck * V, head_ref_row, &hr);
    for (int ci = 0; ci < nck; ci++) {
        int r = ck[ci], kind = (r + 1) % 3;
        double sq = 0, se = 0;
        for (int k = 0; k < K; k++) {
            double x8 = e4m3_decode(q[(size_t)r * K + k]) * sa[r * KB + k / 128], xv = host_bf16_to_f32(x[(size_t)r * K + k]);
            sq += x8 * x8;
            se += (xv - x8) * (xv - x8);
        }
        float delta, ratio, m = -INFINITY;
        memcpy(&delta, &st[4 * r + 2], 4);
        memcpy(&ratio, &st[4 * r + 1], 4);
        double dh = sqrt(cd * sq + cw * se);
        const float *lr = l + (size_t)r * V, *l8r = l8 + (size_t)r * V;
        const double *er = ex + (size_t)ci * V;
        int best = 0, got = 0, wrong = 0, changed_far = 0, nan = 0, chunks = 0, last = 0, prev_chunk = -1;
        unsigned cand = 0;
        for (int v = 0; v < V; v++) if (l8r[v] > m) m = l8r[v];  // (NaN ignored)
        float tau = m - delta;
        for (int v = 0; v < V; v++) {
            nan += !isfinite(lr[v]) && isfinite(l8r[v]);
            if (er[v] > er[best]) best = v;
            if (lr[v] > lr[got]) got = v;
            if (l8r[v] >= tau) {
                cand++;
                wrong += fabs(lr[v] - er[v]) > 1e-5 * (fabs(er[v]) + 1);
                chunks += v / HEAD_RESCORE_CHUNK != prev_chunk;
                prev_chunk = v / HEAD_RESCORE_CHUNK;
                last += v >= HR_LAST;
            } else {
                changed_far += memcmp(&lr[v], &l8r[v], 4) != 0;  // (the NaNs too: never candidates)
            }
        }
        printf("  n %d row %d (kind %d): %u candidates (stats %u) in %d chunks, %d in the last, delta %.4g (host %.4g), "
               "largest |fp8 - exact| / delta %.3f, argmax %d (exact %d)\n", n, r, kind, cand, st[4 * r], chunks, last,
               delta, dh, ratio, got, best);
        CHECK(nan == 0, "row %d: %d logits not finite", r, nan);
        // the exact argmax, or a logit tied with it within f32 summation (kind 1's near-ties are ~1e-3 apart)
        CHECK(er[got] >= er[best] - 1e-5 * (fabs(er[best]) + 1), "row %d: argmax %d (%.6f), exact %d (%.6f)", r, got,
              er[got], best, er[best]);
        CHECK(wrong == 0, "row %d: %d candidates not the exact logit", r, wrong);
        CHECK(changed_far == 0, "row %d: %d logits below max - delta (or NaN) changed", r, changed_far);
        CHECK(cand == st[4 * r] && cand >= 1, "row %d: %u candidates, the kernel counted %u", r, cand, st[4 * r]);
        CHECK(fabs(delta - dh) <= 1e-3 * dh, "row %d: delta %g, host %g", r, delta, dh);
        CHECK(ratio < 1.0f, "row %d: an FP8 logit off by %.3f delta", r, ratio);
        if (kind == 1)
            CHECK(cand >= 8 && chunks >= 3 && last >= 1, "row %d: %u candidates in %d chunks, %d in the last; the "
                  "planted near-ties should give more", r, cand, chunks, last);
        if (kind == 2) CHECK(best == V - 5 && last >= 1, "row %d: exact argmax %d, %d candidates in the last chunk", r,
                             best, last);
    }
    head_best_check(dl, dbest, l, n, V);
    free(w); free(x); free(l8); free(l); free(q); free(sa); free(ex); free(st);
    CUdeviceptr all[] = { dw, dw8, dsw, dx, da8, dsa, dl, dpart, dst, dbest };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) gpu_free(&G, all[i]);
}
static void head_rescore(void) {
    NEED_GPU();
    head_rescore_n(1);
    head_rescore_n(3);
    head_rescore_n(64);
    head_rescore_n(256);
}

int main(void) {
    // launch_linear would send M = 1 to the W8A16 kernel (bf16 activation, not A8): tested in test_gpu_gemv.c
    setenv("QWEN3_GEMV_MAX_M", "0", 1);
    test_init();
    rng_seed(&rng, t_seed);
    RUN(quant_act);
    RUN(quant_w);
    RUN(quant_w_row);
    RUN(rmsnorm_fp8_row);
    RUN(quant_act_row);
    RUN(quant_timings);
    RUN(linear_uniform);
    RUN(gemm_fp8_shapes);
    RUN(gemm_fp8_swapped);
    RUN(gemm_fp8_build);
    RUN(gemm_fp8_splitk);
    RUN(gemm_fp8_uniform);
    RUN(gemm_fp8_swiglu);
    RUN(gemm_fp8_swiglu_fp8_out);
    RUN(gemm_fp8_swiglu_fp8_out_uniform);
    RUN(gemm_fp8_rowmax);
    RUN(gemm_fp8_norm8);
    RUN(gemm_fp8_rownorm);
    RUN(gemm_fp8_rope_kv);
    RUN(head_rescore);
    RUN(gemm_fp8_timings);
    gpu_test_end();
    return test_end();
}
