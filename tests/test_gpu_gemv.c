// test_gpu_gemv.c — the W8A16 decode kernel (ptx/gemv_fp8.ptx, launch_gemv_fp8) against an fp64 product of the same
// e4m3 weights, block scales and bf16 activations: both modes (store f32, add f32), M = 1..4, shapes with partial
// passes over K; then timings on Qwen3-8B's layers at M = 1 against
// the quantiser + FP8 tensor-core tile path (printed, not asserted). Without a Hopper GPU every case SKIPs.
#include "gpu_test.h"
#include <math.h>
#include <string.h>

static double e4m3_value(uint8_t q) {  // the e4m3 code's value (NaN for 0x7F / 0xFF)
    int e = (q >> 3) & 15, m = q & 7;
    if (e == 15 && m == 7) return NAN;
    double v = e ? ldexp(1.0 + m / 8.0, e - 7) : ldexp(m / 8.0, -6);
    return q >> 7 ? -v : v;
}

typedef struct { int N, K; CUdeviceptr w8, sw; double *wf; } Weight;  // wf: the dequantised weight, host

// Random finite e4m3 codes and random power-of-two-ish block scales (different per 128 x 128 block).
static Weight rand_weight(int N, int K) {
    int KB = K / 128, NB = (N + 127) / 128;
    Weight w = { N, K, gpu_alloc(&G, (size_t)N * K), gpu_alloc(&G, (size_t)NB * KB * 4), xmalloc((size_t)N * K * 8) };
    uint8_t *q = xmalloc((size_t)N * K);
    float *s = xmalloc((size_t)NB * KB * 4);
    for (int i = 0; i < NB * KB; i++) s[i] = (float)ldexp(1.0 + rng_uniform(&rng), -6 - (int)(rng_uniform(&rng) * 4));
    for (size_t i = 0; i < (size_t)N * K; i++) {
        uint8_t c;
        do c = (uint8_t)(rng_u64(&rng) & 0xFF); while ((c & 0x7F) == 0x7F);
        q[i] = c;
    }
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) w.wf[(size_t)n * K + k] = e4m3_value(q[(size_t)n * K + k]) * s[(n / 128) * KB + k / 128];
    gpu_upload(&G, w.w8, q, (size_t)N * K);
    gpu_upload(&G, w.sw, s, (size_t)NB * KB * 4);
    free(q);
    free(s);
    return w;
}
static void weight_free(Weight *w) { gpu_free(&G, w->w8); gpu_free(&G, w->sw); free(w->wf); }

// y = x . w_row in fp64, and the sum of |x w| (the scale of f32 rounding errors)
static double dot_row(const double *x, const double *w, int K, double *absum) {
    double s = 0, a = 0;
    for (int k = 0; k < K; k++) { s += x[k] * w[k]; a += fabs(x[k] * w[k]); }
    *absum = a;
    return s;
}

// One case: returns the worst error in units of its tolerance (<= 1 passes; NaN fails).
static double check_case(const Weight *w, int M, int mode) {
    int N = w->N, K = w->K;
    uint16_t *xh = xmalloc((size_t)M * K * 2);
    double *xf = xmalloc((size_t)M * K * 8);
    for (int m = 0; m < M; m++) {
        float mag = (float)ldexp(1.0, (int)(rng_uniform(&rng) * 6) - 2);
        for (int k = 0; k < K; k++) {
            uint16_t b = host_f32_to_bf16(mag * (float)(2 * rng_uniform(&rng) - 1));
            xh[(size_t)m * K + k] = b;
            xf[(size_t)m * K + k] = host_bf16_to_f32(b);
        }
    }
    CUdeviceptr dx = gpu_alloc(&G, (size_t)M * K * 2);
    gpu_upload(&G, dx, xh, (size_t)M * K * 2);
    size_t out_bytes = (size_t)M * N * 4;
    CUdeviceptr dc = gpu_alloc(&G, out_bytes);
    float *c0 = xmalloc((size_t)M * N * 4);
    for (size_t i = 0; i < (size_t)M * N; i++) c0[i] = (float)(2 * rng_uniform(&rng) - 1);
    if (mode == GEMM_ADD_F32) gpu_upload(&G, dc, c0, out_bytes);
    else gpu_fill_u32(&G, dc, 0x7FC00000u, out_bytes / 4);  // NaN poison
    launch_gemv_fp8(&G, dc, dx, w->w8, w->sw, M, N, K, mode);
    void *out = xmalloc(out_bytes);
    gpu_download(&G, out, dc, out_bytes);
    double worst = 0;
    for (int m = 0; m < M; m++)
        for (int u = 0; u < N; u++) {
            double ag, ref = dot_row(xf + (size_t)m * K, w->wf + (size_t)u * K, K, &ag);
            if (mode == GEMM_ADD_F32) ref += c0[(size_t)m * N + u];
            double got = ((float *)out)[(size_t)m * N + u], tol = 1e-5 * ag + 1e-6 * fabs(ref) + 1e-30;
            double e = fabs(got - ref) / tol;
            if (!(e <= worst)) worst = isnan(e) ? NAN : e;
            if (isnan(worst)) break;
        }
    free(xh); free(xf); free(c0); free(out);
    gpu_free(&G, dx); gpu_free(&G, dc);
    return worst;
}

static void gemv_modes(void) {
    NEED_GPU();
    static const int shapes[][2] = { { 16, 128 }, { 48, 640 }, { 272, 1152 }, { 96, 4096 }, { 32, 12288 }, { 144, 4224 } };
    static const int modes[] = { GEMM_STORE_F32, GEMM_ADD_F32 };
    static const char *names[] = { "store f32", "add f32" };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        Weight w = rand_weight(shapes[s][0], shapes[s][1]);
        for (int mi = 0; mi < 2; mi++)
            for (int M = 1; M <= 4; M++) {
                double e = check_case(&w, M, modes[mi]);
                if (!(e <= 1)) printf("  N=%d K=%d M=%d %s: worst error %.3g x tolerance\n", w.N, w.K, M, names[mi], e);
                CHECK(e <= 1, "gemv_fp8 differs from the fp64 reference (N=%d K=%d M=%d %s)", w.N, w.K, M, names[mi]);
            }
        weight_free(&w);
    }
}

// 8B layers at M = 1: gemv (bf16 x straight in) against quantiser + launch_gemm_fp8 (its decode tile). Weights
// rotate through copies worth > 200 MB so that L2 (50-60 MB) does not hold them between launches.
static void gemv_timings(void) {
    NEED_GPU();
    static const struct { const char *name; int N, K, mode; } L[] = {
        { "qkv", 6144, 4096, GEMM_STORE_F32 }, { "o", 4096, 4096, GEMM_ADD_F32 },
        { "gate_up", 24576, 4096, GEMM_STORE_F32 }, { "down", 4096, 12288, GEMM_ADD_F32 } };
    double bw = gpu_copy_bandwidth(&G);
    printf("  copy bandwidth %.0f GB/s (the floor below: weight bytes / that)\n", bw / 1e9);
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
        int N = L[i].N, K = L[i].K, KB = K / 128, NB = (N + 127) / 128;
        size_t wb = (size_t)N * K + (size_t)NB * KB * 4;
        int copies = (int)(200e6 / wb) + 1;
        CUdeviceptr w8 = gpu_alloc(&G, (size_t)copies * N * K), sw = gpu_alloc(&G, (size_t)copies * NB * KB * 4);
        gpu_fill_u32(&G, w8, 0x38383838u, (size_t)copies * N * K / 4);  // e4m3 1.0
        gpu_fill_u32(&G, sw, 0x3C000000u, (size_t)copies * NB * KB);     // 2^-7
        CUdeviceptr x = gpu_alloc(&G, (size_t)K * 2), c = gpu_alloc(&G, (size_t)N * 4);
        CUdeviceptr a8 = gpu_alloc(&G, (size_t)K), sa = gpu_alloc(&G, (size_t)KB * 4);
        gpu_fill_u32(&G, x, 0x3F803F80u, (size_t)K / 2);
        gpu_fill_u32(&G, c, 0, (size_t)N);
        double us[2];
        for (int path = 0; path < 2; path++) {
            GpuTimer t;
            gpu_timer_init(&t);
            int reps = 50;
            for (int r = -5; r < reps; r++) {
                if (r == 0) gpu_timer_start(&G, &t);
                CUdeviceptr wr = w8 + (size_t)((r + 5) % copies) * N * K, sr = sw + (size_t)((r + 5) % copies) * NB * KB * 4;
                if (path == 0) launch_gemv_fp8(&G, c, x, wr, sr, 1, N, K, L[i].mode);
                else {
                    launch_quant_act_fp8(&G, a8, sa, x, 1, K);
                    launch_gemm_fp8(&G, c, a8, sa, wr, sr, 1, N, K, L[i].mode);
                }
            }
            us[path] = 1e3 * gpu_timer_stop_ms(&G, &t) / reps;
            gpu_timer_free(&t);
        }
        printf("  %-15s M=1 N=%5d K=%5d: floor %6.2f us | gemv %6.2f us %5.0f GB/s %3.0f%% | quant + fp8 tile %6.2f us "
               "%5.0f GB/s (back-to-back launches)\n", L[i].name, N, K, 1e6 * wb / bw, us[0], wb / us[0] / 1e3,
               100 * (1e6 * wb / bw) / us[0], us[1], wb / us[1] / 1e3);
        gpu_free(&G, w8); gpu_free(&G, sw); gpu_free(&G, x); gpu_free(&G, c); gpu_free(&G, a8); gpu_free(&G, sa);
    }
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    RUN(gemv_modes);
    RUN(gemv_timings);
    gpu_test_end();
    return test_end();
}
