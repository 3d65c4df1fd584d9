// gemm.c — our GEMMs against NVIDIA's on every linear layer of Qwen3-0.6B, 8B and 32B, for M = 1 .. 8192 rows
// (tokens): BF16 (launch_gemm) against cuBLAS, block-scaled FP8 (launch_gemm_fp8) against cuBLASLt FP8. Prints the
// floor first, then the times, % of floor and the ratio; --sweep times every kernel tile and writes a plan file.
//   gemm [--quick] [--dtype bf16,fp8] [--shapes 0.6b,8b,32b (also 1.7b,4b,14b)]
//        [--layers qkv,o,gate_up,down,lm_head] [--m 1,8,...]
//        [--reps 15] [--batch-ms 0.2] [--eager] [--bw B/s (default: measured copy)] [--peak 989e12] [--peak-fp8 1979e12]
//        [--max-gb 20] [--seed S] [--tsv FILE|auto] [--sweep] [--plan-out FILE] [--plan-margin 1.03]
//        [--plan FILE|none] [--swiglu] [--rownorm [0|1]] [--norm8] [--pdl] [--uniform G]
// --uniform G: our FP8 kernel also on the per-tensor inputs cuBLASLt's tensor-scaled run gets (their scales written
// out as our block-scale arrays): the usual loop, then uniform-scale groups of 1, G and 255 slices (GemmNorm.uni).
//
// The problem: C[M][N] = A[M][K] . W[N][K]^T, f32 accumulation, bf16 out (GEMM_STORE_BF16; the f32 store the
// engine uses is timed too). Peers get the same row-major problem as its column-major transpose C^T = W . A^T:
//  - bf16: cublasGemmEx(OP_T, OP_N, m=N, n=M, k=K, W ld K, A ld K, C ld N), CUDA_R_16BF in and out (CUDA_R_32F
//    out for the f32 column), CUBLAS_COMPUTE_32F, default algorithm.
//  - fp8 (e4m3): ours quantises W once (launch_quant_w_fp8: one f32 scale per 128x128 block) and A per call
//    (launch_quant_act_fp8: one scale per row per 128 of K); the GEMM is timed alone, the activation quantiser
//    separately ("quant"). cuBLASLt gets the same TN layout (Hopper FP8 wants both operands K-major, which ours
//    are), CUDA_R_8F_E4M3 A and B, bf16 (or f32) out, CUBLAS_COMPUTE_32F, CUBLASLT_MATMUL_DESC_FAST_ACCUM = 0 (the
//    setting that promotes partial sums to f32 regularly, as ours does every 128 of K), the first heuristic
//    algorithm with a 32 MiB workspace, in two scalings:
//      block:  A scale mode BLK128x128_32F (our sw, as it is), B scale mode VEC128_32F (our sa transposed to
//              [K/128][M], the layout PyTorch hands cuBLASLt; should the first check fail, [M][K/128] is tried
//              once and the bench says which works; not timed): exactly our quantised inputs. cuBLASLt has had
//              these modes on Hopper since 12.9, so this is the like-for-like peer ("peer" in the table) when its
//              heuristic offers an algorithm;
//      tensor: one f32 scale per tensor (A/B_SCALE_POINTER), inputs quantised on the host: the classic FP8
//              GEMM, slightly less work than block scales (no per-128 rescaling in the main loop).
//
// Timing: each variant's launches are captured `inner` at a time into a CUDA graph, so launches run back to back
// with no host gap and ~2 us decode kernels are not limited by the host's launch rate (the engine replays its
// decode steps from graphs too); the graph is replayed `reps` times with an event between replays, and the median
// replay / inner is reported (--eager: plain launches instead of graphs). Our launches go without programmatic
// dependent launch (host/gpu.c, ptx/pdl.h), as cuBLAS's do, unless --pdl: then each launch of ours may start its
// weight prefetch while the one before it runs, as in the engine. The weights rotate through enough copies
// (> 2x L2 together) that a decode-sized M reads W from HBM, not from L2, as it does in the engine.
// Floor: max(bytes / bw, flops / peak); bf16 bytes = W + A + C, fp8 bytes = W8 + its scales + A8 + its scales +
// C (bf16); bw measured by a device copy in this run; peaks are H100/H200 SXM dense: 989 (bf16), 1979 (fp8) TFLOP/s.
// Correctness, every shape, against an fp64 CPU reference on a sample of rows (fresh random inputs, seed printed;
// QWEN3_BENCH_SEED or --seed reproduces): bf16 against the bf16 inputs; fp8 against the dequantised inputs each
// side actually multiplied (tight: only accumulation and the bf16 output rounding), plus the quantisation error
// against the bf16 inputs (a few %); and ours against the peer on every element.
//
// --sweep: for each (shape, M) every tile of launch_gemm_ex (bf16 tiles 0..12; split-K 2 for the 16-row
// mma.sync tiles 0 and 3 at M <= 32 in f32-store mode, the one split the engine can repeat exactly; a tile is
// skipped where it is > 4x taller than M, or 16 rows tall above M = 256) and of launch_gemm_fp8_ex (its 16-row
// tiles only up to M = 256; the swapped tiles, bf16 11 and FP8 10, up to M = 64 with cluster K splits 1, 2, 4, 8;
// FP8 wgmma tiles 0, 5, 11 also with split-K 2 and 3 at M = 64..512; every wgmma tile of either dtype from M = 64
// also with the tail split ("tN/t", GEMM_SPLIT_TAIL) where its last wave would leave half the SMs or more idle,
// and with each cluster split ("tN/cS", GEMM_SPLIT_CLUSTER + S) whose tiles x S fit the SMs),
// in the output mode the engine uses for that layer (f32 store for qkv,
// gate_up, lm_head; f32 add for o, down), each checked against the reference before it is timed. The fastest
// checked tile of each (dtype, N, K, M) goes into the plan (--plan-out, host/gemm_plan.h) if it beats the
// rules' choice ("auto") by --plan-margin (default 1.03: 3%), else the plan leaves that M to the rules; a split-K
// tile must beat the best unsplit one by 3% (it is not bit-reproducible). --plan FILE loads a plan first (as the
// engine does from $QWEN3_GEMM_PLAN), so the built-in ("auto") columns measure it; without --sweep the plan built in
// for this card is loaded as in the engine (--plan none: the rules alone); a sweep's "auto" is the rules unless --plan.
//
// --swiglu: the MLP's gate_up + SwiGLU instead (gate_up shapes only; no peers): the unfused pair the engine ran
// before (GEMM with f32 store of gate|up, then swiglu.ptx) against the GEMM's SwiGLU epilogue (GEMM_SWIGLU_BF16), and,
// for an FP8 down projection, both followed by quant_act_fp8 against the FP8-quantising epilogue where the tile
// choice lands on the 128x256 tile (else fused + quantiser, as launch_linear_swiglu does). FP8 weights: the pair vs
// the fused GEMM, each followed by the down GEMM's quantiser (the input quantiser, common to both, not timed). The
// weights are the shape's random matrices (not interleaved: timing only; tests/test_gpu_gemm.c and test_gpu_fp8.c
// check the values). Floor: the fused bytes (W + A + a) or flops. FP8 weights also time the quantising epilogue
// (fused8: launch_gemm_swiglu_fp8's choice at this M, the rule's or a loaded plan's: 64x256, 128x256 or their pairs).
// --rownorm (FP8, with --swiglu): fused8 alone, without and with the producer-side RMSNorm's row sums (GemmNorm.ss:
// rows times rstd in the epilogue, as the engine's gate_up at QWEN3_NORM8 & 2); --rownorm 0 / 1: only without / with
// (one kernel to look at under Nsight Compute).
// --norm8 (FP8, no peers, no TSV): the producer-side RMSNorm's epilogues against the plain ones, at the rows where
// the tile chosen is a wgmma one: the residual add (o, down) against add + the next norm's e4m3 input, scales and
// sums (GEMM_ADD_NORM8, N % 256 == 0), and the f32 store (qkv, gate_up) against the store with rows times rstd from
// the sums (K % 512 == 0, K <= 8192) — what each side of QWEN3_NORM8 adds to its two GEMMs.
//
// Links cuBLAS and cuBLASLt (and with them the CUDA runtime, statically inside): in bench/ only, never in the
// engine. The runtime uses the device's primary context, which host/gpu.c retains and makes current, so all share
// it; the libraries run on our stream with workspaces we own (cublasSetStream resets cuBLAS's, so the order matters).
#include "../host/gemm_plan.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"
#include <cublasLt.h>
#include <cublas_v2.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLAS_CHECK(call) do { cublasStatus_t s_ = (call); \
    if (s_ != CUBLAS_STATUS_SUCCESS) die("%s:%d: %s: %s", __FILE__, __LINE__, #call, cublasGetStatusString(s_)); \
    } while (0)

// ---------------------------------------------------------------- the shapes
// The three sizes run by default; 1.7b, 4b and 14b (extra: only when --shapes names them) have no plan rows, so
// they measure the built-in rules on shapes no sweep has seen.
typedef struct { const char *name; int dim, n_head, n_kv, head_dim, ffn, vocab, extra; } ModelDims;
static const ModelDims models[] = {
    { "0.6b", 1024, 16, 8, 128, 3072, 151936, 0 },
    { "8b", 4096, 32, 8, 128, 12288, 151936, 0 },
    { "32b", 5120, 64, 8, 128, 25600, 151936, 0 },
    { "1.7b", 2048, 16, 8, 128, 6144, 151936, 1 },
    { "4b", 2560, 32, 8, 128, 9728, 151936, 1 },
    { "14b", 5120, 40, 8, 128, 17408, 151936, 1 },
};
enum { N_MODELS = sizeof models / sizeof models[0] };
static const char *layer_names[] = { "qkv", "o", "gate_up", "down", "lm_head" };
enum { N_LAYERS = sizeof layer_names / sizeof layer_names[0] };
// the engine's output mode per layer (the sweep times tiles in it): o and down add into the residual stream
static const int layer_mode[N_LAYERS] = { GEMM_STORE_F32, GEMM_ADD_F32, GEMM_STORE_F32, GEMM_ADD_F32, GEMM_STORE_F32 };
static const char *mode_names[] = { "f32", "bf16", "add" };  // by GEMM_STORE_F32, GEMM_STORE_BF16, GEMM_ADD_F32
static const char *dtype_names[] = { "bf16", "fp8" };        // by GEMM_PLAN_BF16, GEMM_PLAN_FP8

// Weight W[N][K] of one linear layer (qkv: [Wq;Wk;Wv] fused, gate_up: [Wgate;Wup] fused, as the engine stores them).
static void layer_shape(const ModelDims *m, int layer, int *N, int *K) {
    int q = m->n_head * m->head_dim, kv = m->n_kv * m->head_dim;
    switch (layer) {
    case 0: *N = q + 2 * kv; *K = m->dim; break;
    case 1: *N = m->dim; *K = q; break;
    case 2: *N = 2 * m->ffn; *K = m->dim; break;
    case 3: *N = m->dim; *K = m->ffn; break;
    default: *N = m->vocab; *K = m->dim; break;
    }
}

static const int all_ms[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192 };
enum { MAX_MS = 64, MAX_REPS = 101, MAX_INNER = 4096, SAMPLE_ROWS = 16, FILL_CHUNK = 1 << 20, QB = 128 };
// One timed replay holds at least this much work (event resolution ~0.5 us); --batch-ms raises it to time a kernel
// run back to back for a long while (the clocks a sustained load gets: NOTES, session 23).
static double BATCH_MS = 0.2;
static const size_t LT_WS_BYTES = (size_t)32 << 20;
static const uint32_t POISON = 0x7FC07FC0u;  // a NaN as f32 and as both bf16 halves
static Gpu G;

// ---------------------------------------------------------------- host data
static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Uniform bf16 in [-1, 1), in parallel: chunk i has its own stream seeded from (seed, salt, i).
typedef struct { uint16_t *h; size_t n; uint64_t seed; } FillJob;
static void fill_job(void *ctx, int64_t i) {
    const FillJob *j = ctx;
    Rng r;
    rng_seed(&r, j->seed + 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1));
    size_t a = (size_t)i * FILL_CHUNK, b = a + FILL_CHUNK < j->n ? a + FILL_CHUNK : j->n;
    for (size_t k = a; k < b; k++) j->h[k] = host_f32_to_bf16((float)(2.0 * rng_uniform(&r) - 1.0));
}
static void fill_random(uint16_t *h, size_t n, uint64_t seed) {
    FillJob j = { h, n, seed };
    parallel_for((int64_t)((n + FILL_CHUNK - 1) / FILL_CHUNK), fill_job, &j);
}

// e4m3 (FP8 E4M3FN: 4 exponent bits, bias 7, 3 mantissa bits, no infinities, max 448, 0x7F/0xFF NaN).
static float e4m3_value[256];
static void e4m3_init(void) {
    for (int c = 0; c < 256; c++) {
        int e = (c >> 3) & 15, m = c & 7;
        float v = e ? ldexpf(1.0f + m / 8.0f, e - 7) : ldexpf(m / 8.0f, -6);
        e4m3_value[c] = (c & 0x7F) == 0x7F ? NAN : (c & 0x80 ? -v : v);
    }
}
// Nearest e4m3 code, ties to the even code, saturating at 448 (agrees with a brute-force search on every float
// up to 0x44000000 in steps of 37 ulps). a * 2^(3-E) is exact, so nearbyintf rounds once, half to even.
static uint8_t e4m3_encode(float x) {
    uint8_t s = signbit(x) ? 0x80 : 0;
    float a = fminf(fabsf(x), 448.0f);
    int e;
    frexpf(a, &e);
    int E = e - 1 < -6 ? -6 : e - 1;  // the binade; subnormals keep 2^-6's spacing
    float q = nearbyintf(ldexpf(a, 3 - E));
    if (q == 0) return 0;
    if (q == 16) { E++; q = 8; }      // rounded up into the next binade
    if (q < 8) return s | (uint8_t)q; // subnormal
    return s | (uint8_t)((E + 7) << 3) | (uint8_t)(q - 8);
}

// Per-tensor e4m3 of a bf16 array (cuBLASLt's "tensor" inputs): scale = amax / 448, q = x / scale. Returns scale.
typedef struct { const uint16_t *x; uint8_t *q; size_t n; float inv, *amax; } QuantJob;
static void quant_job(void *ctx, int64_t i) {  // inv == 0: the chunk's amax; else its quantisation
    const QuantJob *j = ctx;
    size_t a = (size_t)i * FILL_CHUNK, b = a + FILL_CHUNK < j->n ? a + FILL_CHUNK : j->n;
    float m = 0;
    for (size_t k = a; k < b; k++)
        if (j->inv == 0) m = fmaxf(m, fabsf(bf16_to_f32(j->x[k])));
        else j->q[k] = e4m3_encode(bf16_to_f32(j->x[k]) * j->inv);
    if (j->inv == 0) j->amax[i] = m;
}
static float quant_tensor(const uint16_t *x, uint8_t *q, size_t n) {
    int64_t nc = (int64_t)((n + FILL_CHUNK - 1) / FILL_CHUNK);
    QuantJob j = { x, q, n, 0, xmalloc((size_t)nc * sizeof(float)) };
    parallel_for(nc, quant_job, &j);
    float amax = 0;
    for (int64_t i = 0; i < nc; i++) amax = fmaxf(amax, j.amax[i]);
    free(j.amax);
    float scale = amax > 0 ? amax / 448.0f : 1.0f;
    j.inv = 1.0f / scale;
    parallel_for(nc, quant_job, &j);
    return scale;
}

// fp64 reference for the sampled rows: ref[r][c] = sum_k a[r][k] * w(c, k), a the sampled rows of A as floats
// (already dequantised), w from bf16 W, or from e4m3 W8 times its 128x128 block scale sw or its tensor scale.
// Four partial sums keep the loop from waiting on one add chain (all in double: the order does not matter here).
typedef struct {
    const float *a;
    const uint16_t *W;
    const uint8_t *W8;
    const float *sw;
    double s_tensor, *ref;
    int N, K;
} RefJob;
static void ref_job(void *ctx, int64_t i) {
    const RefJob *j = ctx;
    int nb = (j->N + 255) / 256, r = (int)(i / nb), c0 = (int)(i % nb) * 256, KB = j->K / QB;
    int c1 = c0 + 256 < j->N ? c0 + 256 : j->N;
    const float *a = j->a + (size_t)r * j->K;
    for (int c = c0; c < c1; c++) {
        double sum = 0;
        for (int kb = 0; kb < j->K / 64; kb++) {  // K % 64 == 0 (K % 128 == 0 for e4m3)
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int k = kb * 64; k < kb * 64 + 64; k += 4) {
                if (j->W) {
                    const uint16_t *w = j->W + (size_t)c * j->K;
                    s0 += (double)a[k] * bf16_to_f32(w[k]);         s1 += (double)a[k + 1] * bf16_to_f32(w[k + 1]);
                    s2 += (double)a[k + 2] * bf16_to_f32(w[k + 2]); s3 += (double)a[k + 3] * bf16_to_f32(w[k + 3]);
                } else {
                    const uint8_t *w = j->W8 + (size_t)c * j->K;
                    s0 += (double)a[k] * e4m3_value[w[k]];         s1 += (double)a[k + 1] * e4m3_value[w[k + 1]];
                    s2 += (double)a[k + 2] * e4m3_value[w[k + 2]]; s3 += (double)a[k + 3] * e4m3_value[w[k + 3]];
                }
            }
            double block = (s0 + s1) + (s2 + s3);
            sum += j->sw ? block * j->sw[(size_t)(c / QB) * KB + kb / 2] : block;
        }
        j->ref[(size_t)r * j->N + c] = j->W8 && !j->sw ? sum * j->s_tensor : sum;
    }
}
static void reference(RefJob j, int nrows) { parallel_for((int64_t)nrows * ((j.N + 255) / 256), ref_job, &j); }

// ||x - ref|| / ||ref|| over the sampled rows of a device output (bf16 or f32, row stride N), downloaded row by
// row; INFINITY if any element is not finite (a NaN poison left in place, or a NaN computed).
static double rows_err(CUdeviceptr C, int bf16, const int *rows, int nrows, const double *ref, int N) {
    size_t eb = bf16 ? 2 : 4;
    void *buf = xmalloc((size_t)N * eb);
    double num = 0, den = 0;
    for (int r = 0; r < nrows; r++) {
        gpu_download(&G, buf, C + (size_t)rows[r] * N * eb, (size_t)N * eb);
        for (int c = 0; c < N; c++) {
            double x = bf16 ? bf16_to_f32(((uint16_t *)buf)[c]) : ((float *)buf)[c], y = ref[(size_t)r * N + c];
            if (!isfinite(x)) { free(buf); return INFINITY; }
            num += (x - y) * (x - y);
            den += y * y;
        }
    }
    free(buf);
    return sqrt(num / den);
}

// Every element of ours against the peer (bf16 outputs): partial sums per chunk, summed in order (reproducible).
typedef struct { const uint16_t *x, *y; size_t n; double *num, *den; size_t *bad; } CmpJob;
static void cmp_job(void *ctx, int64_t i) {
    const CmpJob *j = ctx;
    size_t a = (size_t)i * FILL_CHUNK, b = a + FILL_CHUNK < j->n ? a + FILL_CHUNK : j->n, bad = 0;
    double num = 0, den = 0;
    for (size_t k = a; k < b; k++) {
        double x = bf16_to_f32(j->x[k]), y = bf16_to_f32(j->y[k]);
        if (!isfinite(x) || !isfinite(y)) { bad++; continue; }
        num += (x - y) * (x - y);
        den += y * y;
    }
    j->num[i] = num; j->den[i] = den; j->bad[i] = bad;
}
static double full_diff(CUdeviceptr dx, CUdeviceptr dy, size_t n, size_t *bad_out) {
    uint16_t *x = xmalloc(n * 2), *y = xmalloc(n * 2);
    gpu_download(&G, x, dx, n * 2);
    gpu_download(&G, y, dy, n * 2);
    int64_t nc = (int64_t)((n + FILL_CHUNK - 1) / FILL_CHUNK);
    double *num = xmalloc(nc * sizeof *num), *den = xmalloc(nc * sizeof *den);
    size_t *bad = xmalloc(nc * sizeof *bad);
    CmpJob j = { x, y, n, num, den, bad };
    parallel_for(nc, cmp_job, &j);
    double s = 0, d = 0;
    *bad_out = 0;
    for (int64_t i = 0; i < nc; i++) { s += num[i]; d += den[i]; *bad_out += bad[i]; }
    free(num); free(den); free(bad); free(x); free(y);
    return *bad_out ? INFINITY : sqrt(s / d);
}

// ---------------------------------------------------------------- the GPU side
static cublasHandle_t blas;
static cublasLtHandle_t lt;
static CUdeviceptr lt_ws;
static int lt_sa_kmajor, lt_sa_tried;  // the activation scales' layout cuBLASLt's VEC128 mode reads (see bench_fp8)

enum { V_OURS, V_CUBLAS, V_OURS_FP8, V_LT_BLOCK, V_LT_TENSOR, V_QUANT,
       V_SWI_PAIR, V_SWI_FUSED, V_SWI_PAIR_Q, V_SWI_FUSED_Q, V_SWI8_PAIR, V_SWI8_FUSED, V_SWI8_FUSED_Q, V_NORM8,
       V_OURS_UNI };
static const char *kind_names[] = { "ours bf16", "cuBLAS", "ours fp8", "cuBLASLt block", "cuBLASLt tensor", "quant",
                                    "gemm+swiglu", "gemm swiglu", "gemm+swiglu+quant", "gemm swiglu fp8",
                                    "fp8 gemm+swiglu+quant", "fp8 gemm swiglu+quant",
                                    "fp8 gemm swiglu fp8 (64x256)", "fp8 gemm, producer-side RMSNorm",
                                    "fp8 gemm, uniform scales" };
typedef struct { int kind, mode, tile, splits; } Variant;  // mode GEMM_STORE_*/ADD; tile -1: the built-in choice
static CUdeviceptr rownorm_ss;  // --rownorm: [M][K / 128] f32 row sums of squares for V_SWI8_FUSED_Q's mode 1
// --norm8 (V_NORM8, mode 0..3: add, add + the producer's epilogue, f32 store, f32 store with the rows' sums): the
// norm weights (f32 [N], ones) and the producer's output (norm8_bytes(M, N))
static CUdeviceptr norm8_nw, norm8_out;
// --uniform: the per-tensor scales of A8t and W8t written out as our block-scale arrays ([M][K/128], [N/128][K/128])
static CUdeviceptr uni_sa, uni_sw;

enum { LT_BLOCK_BF16, LT_BLOCK_F32, LT_TENSOR_BF16, N_LT };
typedef struct { cublasLtMatmulDesc_t op; cublasLtMatrixLayout_t a, b, c; cublasLtMatmulAlgo_t algo; int ok; } LtGemm;

typedef struct {
    int M, N, K, copies, copies8;
    const CUdeviceptr *W, *W8, *sw, *W8t;  // rotated copies: W bf16 [N][K]; W8 e4m3 + sw f32 [N/128][K/128]; W8t e4m3
    CUdeviceptr sw_t;                      // f32 scalar: W8t's tensor scale
    CUdeviceptr A, A8, sa, sa_t;           // A bf16 [M][K]; A8 e4m3 + sa f32 [M][K/128]; sa_t: sa for cuBLASLt
    CUdeviceptr A8t, sa_tensor;            // A per tensor: e4m3 and its f32 scale
    CUdeviceptr C_ours, C_peer, C_f32;     // bf16, bf16, f32 [M][N]
    LtGemm lt[N_LT];
} Problem;

static void *dptr(CUdeviceptr p) { return (void *)(uintptr_t)p; }

static void blas_gemm(const Problem *p, CUdeviceptr W, CUdeviceptr C, int mode) {
    const float alpha = 1, beta = mode == GEMM_ADD_F32;
    BLAS_CHECK(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, p->N, p->M, p->K, &alpha, dptr(W), CUDA_R_16BF, p->K,
                            dptr(p->A), CUDA_R_16BF, p->K, &beta, dptr(C),
                            mode == GEMM_STORE_BF16 ? CUDA_R_16BF : CUDA_R_32F, p->N, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT));
}

#define LT_SET(desc, attr, val) BLAS_CHECK(cublasLtMatmulDescSetAttribute((desc), (attr), &(val), sizeof(val)))
// One cuBLASLt FP8 GEMM of p: descriptors and the heuristic's first algorithm; ok = 0 where it offers none.
static void lt_setup(const Problem *p, LtGemm *g, int block, int f32_out) {
    BLAS_CHECK(cublasLtMatmulDescCreate(&g->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    int8_t fast_accum = 0;
    LT_SET(g->op, CUBLASLT_MATMUL_DESC_TRANSA, ta);
    LT_SET(g->op, CUBLASLT_MATMUL_DESC_TRANSB, tb);
    LT_SET(g->op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, fast_accum);
    if (block) {  // cuBLAS's A is our W (128x128 blocks), its B our activations (1x128 along K)
        cublasLtMatmulMatrixScale_t am = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
        cublasLtMatmulMatrixScale_t bm = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
        LT_SET(g->op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, am);
        LT_SET(g->op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, bm);
    }
    void *sa = dptr(block ? p->sw[0] : p->sw_t), *sb = dptr(block ? p->sa_t : p->sa_tensor);
    LT_SET(g->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, sa);
    LT_SET(g->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, sb);
    BLAS_CHECK(cublasLtMatrixLayoutCreate(&g->a, CUDA_R_8F_E4M3, p->K, p->N, p->K));
    BLAS_CHECK(cublasLtMatrixLayoutCreate(&g->b, CUDA_R_8F_E4M3, p->K, p->M, p->K));
    BLAS_CHECK(cublasLtMatrixLayoutCreate(&g->c, f32_out ? CUDA_R_32F : CUDA_R_16BF, p->N, p->M, p->N));
    cublasLtMatmulPreference_t pref;
    BLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t ws = LT_WS_BYTES;
    BLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    cublasLtMatmulHeuristicResult_t res;
    int n = 0;
    cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(lt, g->op, g->a, g->b, g->c, g->c, pref, 1, &res, &n);
    BLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
    if (s == CUBLAS_STATUS_SUCCESS && n == 0) s = CUBLAS_STATUS_NOT_SUPPORTED;
    if (s == CUBLAS_STATUS_SUCCESS) {  // one trial call: a refusal here means "not measured", not a dead bench
        const float alpha = 1, beta = 0;
        CUdeviceptr C = f32_out ? p->C_f32 : p->C_peer;
        g->algo = res.algo;
        s = cublasLtMatmul(lt, g->op, &alpha, dptr(block ? p->W8[0] : p->W8t[0]), g->a, dptr(block ? p->A8 : p->A8t),
                           g->b, &beta, dptr(C), g->c, dptr(C), g->c, &g->algo, dptr(lt_ws), LT_WS_BYTES,
                           (cudaStream_t)G.stream);
    }
    g->ok = s == CUBLAS_STATUS_SUCCESS;
    static int said[2][2];
    if (!g->ok && !said[block][f32_out]++)
        printf("  cuBLASLt fp8 with %s scales, %s out: %s (not measured where so)\n", block ? "block" : "tensor",
               f32_out ? "f32" : "bf16", cublasGetStatusString(s));
}
static void lt_free(LtGemm *g) {
    BLAS_CHECK(cublasLtMatrixLayoutDestroy(g->a)); BLAS_CHECK(cublasLtMatrixLayoutDestroy(g->b));
    BLAS_CHECK(cublasLtMatrixLayoutDestroy(g->c)); BLAS_CHECK(cublasLtMatmulDescDestroy(g->op));
}
static void lt_gemm(LtGemm *g, CUdeviceptr W8, CUdeviceptr sw, CUdeviceptr A8, CUdeviceptr C) {
    const float alpha = 1, beta = 0;
    if (sw) { void *s = dptr(sw); LT_SET(g->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, s); }  // this copy's scales
    BLAS_CHECK(cublasLtMatmul(lt, g->op, &alpha, dptr(W8), g->a, dptr(A8), g->b, &beta, dptr(C), g->c, dptr(C), g->c,
                              &g->algo, dptr(lt_ws), LT_WS_BYTES, (cudaStream_t)G.stream));
}

static void launch_variant(Problem *p, const Variant *v, int copy) {
    int c = copy % p->copies, c8 = copy % p->copies8, M = p->M, N = p->N, K = p->K;
    CUdeviceptr C = v->mode != GEMM_STORE_BF16 ? p->C_f32 : v->kind == V_CUBLAS || v->kind >= V_LT_BLOCK ? p->C_peer
                                                                                                        : p->C_ours;
    switch (v->kind) {
    case V_OURS:
        if (v->tile < 0) launch_gemm(&G, C, p->A, p->W[c], M, N, K, v->mode);
        else launch_gemm_ex(&G, C, p->A, p->W[c], M, N, K, v->mode, v->tile, v->splits);
        break;
    case V_CUBLAS: blas_gemm(p, p->W[c], C, v->mode); break;
    case V_OURS_FP8:
        if (v->tile < 0) launch_gemm_fp8(&G, C, p->A8, p->sa, p->W8[c8], p->sw[c8], M, N, K, v->mode);
        else launch_gemm_fp8_ex(&G, C, p->A8, p->sa, p->W8[c8], p->sw[c8], M, N, K, v->mode, v->tile, v->splits);
        break;
    case V_LT_BLOCK:
        lt_gemm(&p->lt[v->mode == GEMM_STORE_BF16 ? LT_BLOCK_BF16 : LT_BLOCK_F32], p->W8[c8], p->sw[c8], p->A8, C);
        break;
    case V_LT_TENSOR: lt_gemm(&p->lt[LT_TENSOR_BF16], p->W8t[c8], 0, p->A8t, C); break;
    case V_QUANT: launch_quant_act_fp8(&G, p->A8, p->sa, p->A, M, K); break;
    case V_OURS_UNI: {  // the per-tensor inputs through our kernel: mode 0 the usual loop, else uniform groups of mode
        GemmNorm nm = { .uni = v->mode };
        launch_gemm_fp8_nm(&G, p->C_ours, p->A8t, uni_sa, p->W8t[c8], uni_sw, M, N, K, GEMM_STORE_BF16, v->tile,
                           v->splits, v->mode ? &nm : NULL);
        break;
    }
    case V_NORM8: {
        int prod = v->mode == 1;
        GemmNorm nm = { prod ? norm8_nw : 0, prod ? norm8_out : 0, v->mode == 3 ? rownorm_ss : 0, 1e-6f, 0, 0 };
        int mode = v->mode == 0 ? GEMM_ADD_F32 : v->mode == 1 ? GEMM_ADD_NORM8 : GEMM_STORE_F32;
        launch_gemm_fp8_nm(&G, p->C_f32, p->A8, p->sa, p->W8[c8], p->sw[c8], M, N, K, mode, -1, 0,
                           v->mode == 1 || v->mode == 3 ? &nm : NULL);
        break;
    }
    default: {  // --swiglu: a bf16 [M][N/2] in C_ours; its e4m3 form at C_peer, the scales after it
        int F = N / 2;
        CUdeviceptr a = p->C_ours, a8 = p->C_peer, s8 = p->C_peer + (CUdeviceptr)M * F;
        if (v->kind == V_SWI_FUSED_Q && v->tile == GEMM_SWIGLU_FP8_TILE) {
            launch_gemm_swiglu_fp8(&G, a8, s8, p->A, 0, p->W[c], 0, M, N, K, 0, -1);
            break;
        }
        if (v->kind == V_SWI8_FUSED_Q) {  // FP8 weights, the 64x256 tile's quantising epilogue (mode 1: rows x rstd)
            GemmNorm nm = { .ss = rownorm_ss, .eps = 1e-6f };
            launch_gemm_swiglu_fp8_nm(&G, a8, s8, p->A8, p->sa, p->W8[c8], p->sw[c8], M, N, K, 0, -1,
                                      v->mode ? &nm : NULL);
            break;
        }
        if (v->kind == V_SWI8_PAIR || v->kind == V_SWI8_FUSED) {
            int fused = v->kind == V_SWI8_FUSED;
            launch_gemm_fp8(&G, fused ? a : p->C_f32, p->A8, p->sa, p->W8[c8], p->sw[c8], M, N, K,
                            fused ? GEMM_SWIGLU_BF16 : GEMM_STORE_F32);
            if (!fused) launch_swiglu(&G, a, p->C_f32, M, F);
        } else if (v->kind == V_SWI_FUSED || v->kind == V_SWI_FUSED_Q) {
            launch_gemm(&G, a, p->A, p->W[c], M, N, K, GEMM_SWIGLU_BF16);
        } else {
            launch_gemm(&G, p->C_f32, p->A, p->W[c], M, N, K, GEMM_STORE_F32);
            launch_swiglu(&G, a, p->C_f32, M, F);
        }
        if (v->kind != V_SWI_PAIR && v->kind != V_SWI_FUSED) launch_quant_act_fp8(&G, a8, s8, a, M, F);
        break;
    }
    }
}
// 0 where cuBLASLt offered no algorithm for this variant
static int variant_ok(Problem *p, const Variant *v) {
    if (v->kind == V_LT_BLOCK) return p->lt[v->mode == GEMM_STORE_BF16 ? LT_BLOCK_BF16 : LT_BLOCK_F32].ok;
    if (v->kind == V_LT_TENSOR) return p->lt[LT_TENSOR_BF16].ok;
    return 1;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

// Median time of one launch of v in microseconds (see the header: graphs of `inner` launches, rotating W); NAN
// where cuBLASLt has no algorithm for it.
static double time_variant(Problem *p, const Variant *v, int reps, int eager) {
    if (!variant_ok(p, v)) return NAN;
    CUevent ev[MAX_REPS + 1];
    for (int i = 0; i <= reps; i++) CU_CHECK(cuEventCreate(&ev[i], CU_EVENT_DEFAULT));
    // warm-up: every copy once, at least 3 launches, twice (cuBLAS picks its kernel on the first call); the second
    // pass's time sizes the batch
    int copies = p->copies > p->copies8 ? p->copies : p->copies8, warm = copies > 3 ? copies : 3;
    for (int i = 0; i < warm; i++) launch_variant(p, v, i);  // untimed: clocks up, caches and heuristics warm
    CU_CHECK(cuEventRecord(ev[0], G.stream));
    for (int i = 0; i < warm; i++) launch_variant(p, v, i);
    CU_CHECK(cuEventRecord(ev[1], G.stream));
    CU_CHECK(cuEventSynchronize(ev[1]));
    float ms = 0;
    CU_CHECK(cuEventElapsedTime(&ms, ev[0], ev[1]));
    double est = ms / warm;
    int inner = est > 0 ? (int)ceil(BATCH_MS / est) : MAX_INNER;
    if (inner < copies) inner = copies;  // each replay walks through every copy
    inner = (inner + copies - 1) / copies * copies;
    if (inner > MAX_INNER) inner = MAX_INNER;
    if (inner < 1) inner = 1;

    CUgraphExec exec = NULL;
    if (!eager) {
        CUgraph graph;
        CU_CHECK(cuStreamBeginCapture(G.stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
        for (int i = 0; i < inner; i++) launch_variant(p, v, i);
        CUresult r = cuStreamEndCapture(G.stream, &graph);
        if (r != CUDA_SUCCESS) {
            const char *en = "?";
            cuGetErrorName(r, &en);
            die("gemm: capturing %s M=%d N=%d K=%d into a graph failed: %s (--eager times plain launches)",
                kind_names[v->kind], p->M, p->N, p->K, en);
        }
        CU_CHECK(cuGraphInstantiateWithFlags(&exec, graph, 0));
        CU_CHECK(cuGraphDestroy(graph));
        CU_CHECK(cuGraphLaunch(exec, G.stream));  // the first replay uploads the graph: untimed
    }
    CU_CHECK(cuEventRecord(ev[0], G.stream));
    for (int r = 0; r < reps; r++) {
        if (exec) CU_CHECK(cuGraphLaunch(exec, G.stream));
        else for (int i = 0; i < inner; i++) launch_variant(p, v, i);
        CU_CHECK(cuEventRecord(ev[r + 1], G.stream));
    }
    CU_CHECK(cuEventSynchronize(ev[reps]));
    float t[MAX_REPS];
    for (int r = 0; r < reps; r++) CU_CHECK(cuEventElapsedTime(&t[r], ev[r], ev[r + 1]));
    qsort(t, reps, sizeof t[0], cmp_float);
    if (exec) CU_CHECK(cuGraphExecDestroy(exec));
    for (int i = 0; i <= reps; i++) CU_CHECK(cuEventDestroy(ev[i]));
    return t[reps / 2] * 1e3 / inner;
}

// ---------------------------------------------------------------- options
typedef struct {
    int model_on[N_MODELS], layer_on[N_LAYERS], dtype_on[2], ms[MAX_MS], n_ms, reps, eager, sweep, swiglu, pdl;
    int rownorm;  // --rownorm: 0 off; 1 both arms; 2 / 3 only without / with the row sums
    int norm8;    // --norm8: the producer-side RMSNorm's two epilogues against the plain ones (FP8)
    int uniform;  // --uniform G: also our FP8 kernel on the per-tensor inputs, usual loop and uniform groups of G
    double plan_margin;  // --plan-margin: a tile goes into the plan only if the rules take this many times as long
    double bw, peak[2], max_gb;
    uint64_t seed;
    const char *tsv, *plan_out, *plan_in;
} Opts;

// "a,b,c" -> on[i] = 1 for each listed name
static void parse_names(const char *list, const char *const *names, int n, int *on, const char *what) {
    memset(on, 0, n * sizeof *on);
    char *dup = xstrdup(list), *save = NULL;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < n && strcmp(tok, names[i])) i++;
        if (i == n) die("gemm: unknown %s '%s'", what, tok);
        on[i] = 1;
    }
    free(dup);
}

static void usage(void) {
    die("usage: gemm [--quick] [--dtype bf16,fp8] [--shapes 0.6b,8b,32b,1.7b,4b,14b] "
        "[--layers qkv,o,gate_up,down,lm_head] "
        "[--m 1,2,...] [--reps N] [--batch-ms MS] [--eager] [--bw B/s] [--peak FLOP/s] [--peak-fp8 FLOP/s] [--max-gb GB] [--seed S] "
        "[--tsv FILE|auto] [--sweep] [--plan-out FILE] [--plan-margin R] [--plan FILE|none] [--swiglu] "
        "[--rownorm [0|1]] [--norm8] [--pdl] [--uniform G]");
}

static Opts parse_args(int argc, char **argv) {
    Opts o = { .reps = 15, .peak = { 989e12, 1979e12 }, .max_gb = 20, .dtype_on = { 1, 1 }, .plan_margin = 1.03 };
    for (int i = 0; i < N_MODELS; i++) o.model_on[i] = !models[i].extra;
    for (int i = 0; i < N_LAYERS; i++) o.layer_on[i] = 1;
    o.n_ms = sizeof all_ms / sizeof all_ms[0];
    memcpy(o.ms, all_ms, sizeof all_ms);
    const char *env_seed = getenv("QWEN3_BENCH_SEED");
    o.seed = env_seed ? strtoull(env_seed, NULL, 0) : (uint64_t)time(NULL);
    const char *model_names[N_MODELS];
    for (int i = 0; i < N_MODELS; i++) model_names[i] = models[i].name;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {  // one model, five row counts, fewer reps: about a minute
            parse_names("8b", model_names, N_MODELS, o.model_on, "model");
            static const int q[] = { 1, 8, 64, 512, 4096 };
            o.n_ms = 5;
            memcpy(o.ms, q, sizeof q);
            o.reps = 9;
        } else if (!strcmp(a, "--eager")) o.eager = 1;
        else if (!strcmp(a, "--sweep")) o.sweep = 1;
        else if (!strcmp(a, "--swiglu")) o.swiglu = 1;
        else if (!strcmp(a, "--pdl")) o.pdl = 1;
        else if (!strcmp(a, "--norm8")) o.norm8 = 1;
        else if (!strcmp(a, "--rownorm")) {
            o.rownorm = 1;
            if (v && (!strcmp(v, "0") || !strcmp(v, "1"))) o.rownorm = 2 + atoi(argv[++i]);
        }
        else if (!v) usage();
        else if (!strcmp(a, "--dtype")) parse_names(argv[++i], dtype_names, 2, o.dtype_on, "dtype");
        else if (!strcmp(a, "--shapes")) parse_names(argv[++i], model_names, N_MODELS, o.model_on, "model");
        else if (!strcmp(a, "--layers")) parse_names(argv[++i], layer_names, N_LAYERS, o.layer_on, "layer");
        else if (!strcmp(a, "--m")) {
            o.n_ms = 0;
            char *dup = xstrdup(argv[++i]), *save = NULL;
            for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int m = atoi(tok);
                if (m < 1 || m > 65536 || o.n_ms == MAX_MS)
                    die("gemm: bad --m entry '%s' (1..65536, at most %d)", tok, MAX_MS);
                if (o.n_ms && m <= o.ms[o.n_ms - 1]) die("gemm: --m must increase (the plan's M ranges follow it)");
                o.ms[o.n_ms++] = m;
            }
            free(dup);
        } else if (!strcmp(a, "--reps")) o.reps = atoi(argv[++i]);
        else if (!strcmp(a, "--bw")) o.bw = atof(argv[++i]);
        else if (!strcmp(a, "--peak")) o.peak[0] = atof(argv[++i]);
        else if (!strcmp(a, "--peak-fp8")) o.peak[1] = atof(argv[++i]);
        else if (!strcmp(a, "--max-gb")) o.max_gb = atof(argv[++i]);
        else if (!strcmp(a, "--batch-ms")) BATCH_MS = atof(argv[++i]);
        else if (!strcmp(a, "--seed")) o.seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--uniform")) o.uniform = atoi(argv[++i]);
        else if (!strcmp(a, "--tsv")) o.tsv = argv[++i];
        else if (!strcmp(a, "--plan-out")) o.plan_out = argv[++i];
        else if (!strcmp(a, "--plan-margin")) o.plan_margin = atof(argv[++i]);
        else if (!strcmp(a, "--plan")) o.plan_in = argv[++i];
        else usage();
    }
    if (o.reps < 1 || o.reps > MAX_REPS) die("gemm: --reps must be 1..%d", MAX_REPS);
    if (o.uniform < 0 || o.uniform > 255) die("gemm: --uniform G: 1..255 slices a group (0: off)");
    if (!(BATCH_MS > 0 && BATCH_MS <= 5000)) die("gemm: --batch-ms must be in (0, 5000]");
    if (o.n_ms == 0) die("gemm: --m lists no row counts");
    if (o.peak[0] <= 0 || o.peak[1] <= 0 || o.max_gb <= 0 || o.bw < 0)
        die("gemm: --peak, --peak-fp8, --max-gb must be > 0 and --bw >= 0");
    if (o.plan_out && !o.sweep) die("gemm: --plan-out needs --sweep");
    if (o.rownorm && !o.swiglu) die("gemm: --rownorm needs --swiglu (it times gate_up's quantising SwiGLU epilogue)");
    if (o.norm8 && (o.swiglu || o.sweep)) die("gemm: --norm8 goes alone (not with --swiglu or --sweep)");
    if (!(o.plan_margin >= 1 && o.plan_margin <= 2)) die("gemm: --plan-margin must be in 1..2");
    if (o.swiglu) {  // gate_up only, no TSV, no sweep
        if (o.sweep) die("gemm: --swiglu and --sweep do not mix");
        for (int i = 0; i < N_LAYERS; i++) o.layer_on[i] = !strcmp(layer_names[i], "gate_up");
        o.tsv = NULL;
    }
    return o;
}

// ---------------------------------------------------------------- results: the printed table and the TSV
typedef struct { int rows, wins, bad; double log_ratio; } Tally;
typedef struct {
    const char *model, *layer, *check, *fp8_peer;
    int dtype, mode, M, N, K, tile, splits;
    double bytes, flops, floor_us, ours, ours_f32, peer, peer_f32, err_o, err_p, diff;
    double quant, peer_tensor, qerr_o, qerr_t;
} Row;

static const char TSV_HEADER[] =
    "card\tmodel\tlayer\tM\tN\tK\tbytes\tflops\tfloor_us\tours_us\tours_f32_us\tcublas_us\tcublas_f32_us\tours_tflops"
    "\tours_gbs\tours_pct_floor\tcublas_pct_floor\tcublas_over_ours\terr_ours\terr_cublas\tdiff_ours_cublas\tcheck\tbw"
    "\ttiming\tseed\tdtype\ttile\tsplits\tmode\tquant_us\tcublas_tensor_us\tqerr_ours\tqerr_cublas_tensor\tfp8_peer\n";

static void print_header(void) {
    printf("  %-5s %-5s %8s | %8s %8s %8s %8s | %7s %7s %6s %6s %8s | %8s %8s %9s\n", "M", "dtype", "floor us",
           "ours us", "peer us", "ours f32", "peer f32", "TFLOP/s", "GB/s", "%floor", "peer%", "peer/our", "err ours",
           "err peer", "ours-peer");
}

static void emit_row(const Opts *o, const Row *r, FILE *tsv, int print) {
    double tflops = r->flops / (r->ours * 1e-6) / 1e12, gbs = r->bytes / (r->ours * 1e-6) / 1e9;
    double pct = 100 * r->floor_us / r->ours, pct_p = 100 * r->floor_us / r->peer, ratio = r->peer / r->ours;
    if (print)
        printf("  %-5d %-5s %8.2f | %8.2f %8.2f %8.2f %8.2f | %7.1f %7.0f %5.1f%% %5.1f%% %8.3f | %8.2e %8.2e "
               "%9.2e%s\n",
               r->M, dtype_names[r->dtype], r->floor_us, r->ours, r->peer, r->ours_f32, r->peer_f32, tflops, gbs, pct,
               pct_p, ratio, r->err_o, r->err_p, r->diff, strcmp(r->check, "ok") ? "  CHECK FAILED" : "");
    if (!tsv) return;
    fprintf(tsv, "%s\t%s\t%s\t%d\t%d\t%d\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.1f\t%.2f\t%.2f\t%.4f\t%.3e"
                 "\t%.3e\t%.3e\t%s\t%.4g\t%s\t%llu\t%s\t%d\t%d\t%s\t%.3f\t%.3f\t%.3e\t%.3e\t%s\n",
            G.name, r->model, r->layer, r->M, r->N, r->K, r->bytes, r->flops, r->floor_us, r->ours, r->ours_f32,
            r->peer, r->peer_f32, tflops, gbs, pct, pct_p, ratio, r->err_o, r->err_p, r->diff, r->check, o->bw,
            o->eager ? "eager" : "graph", (unsigned long long)o->seed, dtype_names[r->dtype], r->tile, r->splits,
            mode_names[r->mode], r->quant, r->peer_tensor, r->qerr_o, r->qerr_t, r->fp8_peer);
    fflush(tsv);
}

static void tally_add(Tally *t, double ratio, int ok) {
    t->bad += !ok;
    if (!isfinite(ratio) || ratio <= 0) return;
    t->rows++;
    t->wins += ratio > 1;
    t->log_ratio += log(ratio);
}

// ---------------------------------------------------------------- the sweep and the plan
static GemmPlanPoint *plan_pts;
static int plan_n, plan_cap;

// bf16 tiles (launch_gemm_ex order) worth timing at M rows: 16-row tiles read W once per 16 rows, so they stop at
// M = 256; a tile more than 4x taller than M (at least 16) mostly multiplies padding.
static int tile_applies(int tile, int M) {
    static const int bm[GEMM_N_TILES] = { 16, 64, 128, 16, 128, 128, 64, 64, 64, 128, 128, 64, 128 };
    if (tile == GEMM_SW_TILE) return M <= 64;  // the swapped tile reads W once per 64 rows
    return bm[tile] == 16 ? M <= 256 : bm[tile] <= 4 * (M < 16 ? 16 : M);
}

typedef struct {
    const ModelDims *md;
    int layer, N, K, copies, copies8, do16, do8;
    double wdev;                          // device bytes of the resident weights
    uint16_t *Wh;                         // W bf16 on the host
    uint8_t *W8h, *W8th;                  // our e4m3 W and the per-tensor one, on the host
    float *swh, sw_tensor;                // their scales
    CUdeviceptr *W, *W8, *sw, *W8t, sw_t;
} Shape;

// A split-K variant that must beat the best unsplit tile by 3% to be planned: every split but the swapped tile's,
// whose cluster split is part of how that tile fills the GPU.
static int racy_split(const Variant *v, int sw_tile) { return v->splits > 1 && v->tile != sw_tile; }

// Every applicable tile of one dtype in the layer's engine mode, each checked against ref then timed; the winner
// goes to the plan. peer_f32: the peer's f32-out time from the main row, for the TSV.
static void sweep(const Opts *o, const Shape *s, Problem *p, int dtype, const int *rows, int nrows, const double *ref,
                  double peer_f32, FILE *tsv, Tally *t) {
    enum { MAX_CAND = 64 };
    int M = p->M, mode = layer_mode[s->layer], kind = dtype == GEMM_PLAN_FP8 ? V_OURS_FP8 : V_OURS, nc = 0;
    int sw_tile = dtype == GEMM_PLAN_FP8 ? GEMM_FP8_SW_TILE : GEMM_SW_TILE, sms = G.sm_count > 0 ? G.sm_count : 132;
    Variant cand[MAX_CAND];
    cand[nc++] = (Variant){ kind, mode, -1, 0 };
    for (int tile = 0; tile < (dtype == GEMM_PLAN_FP8 ? GEMM_FP8_N_TILES : GEMM_N_TILES); tile++) {
        if (dtype == GEMM_PLAN_BF16 ? !tile_applies(tile, M)
                                    : ((tile == 2 || tile == 3 || tile == 6) && M > 256) ||
                                          (tile == GEMM_FP8_128X256_TILE && M < 64) ||
                                          (tile == GEMM_FP8_128X256C2_TILE && M < 256))
            continue;
        if (tile == sw_tile) {  // swapped: each cluster K split
            if (M > 64 || mode == GEMM_SWIGLU_FP8) continue;
            for (int sp = 1; sp <= 8 && nc < MAX_CAND; sp *= 2) cand[nc++] = (Variant){ kind, mode, tile, sp };
            continue;
        }
        cand[nc++] = (Variant){ kind, mode, tile, 1 };
        if (dtype == GEMM_PLAN_BF16 && (tile == 0 || tile == 3) && M <= 32 && mode == GEMM_STORE_F32)
            cand[nc++] = (Variant){ kind, mode, tile, 2 };  // the one repeatable mma.sync split (host/gpu_gemm.c)
        // FP8 wgmma tiles at mid M, where a grid of tiles leaves SMs idle or re-reads W from L2: split-K 2 and 3
        if (dtype == GEMM_PLAN_FP8 && (tile == 0 || tile == 5 || tile == GEMM_FP8_128X256_TILE) && M >= 64 &&
            M <= 512)
            for (int sp = 2; sp <= 3 && nc < MAX_CAND; sp++) cand[nc++] = (Variant){ kind, mode, tile, sp };
        // the tail split, wherever the last wave would leave half the SMs or more idle (M >= 64)
        if (M >= 64 && nc < MAX_CAND && gemm_tail_splits(dtype == GEMM_PLAN_FP8, tile, M, p->N, sms) > 1)
            cand[nc++] = (Variant){ kind, mode, tile, GEMM_SPLIT_TAIL };
        // the cluster split, wherever tiles x S fit the SMs (M >= 64)
        int kc = M >= 64 ? gemm_cluster_splits_max(dtype == GEMM_PLAN_FP8, tile, M, p->N, sms) : 0;
        for (int S = 2; S <= kc && nc < MAX_CAND; S++)
            cand[nc++] = (Variant){ kind, mode, tile, GEMM_SPLIT_CLUSTER + S };
    }
    double KB = p->K / QB, flops = 2.0 * M * p->N * p->K, bytes = 4.0 * M * p->N * (mode == GEMM_ADD_F32 ? 2 : 1);
    if (dtype == GEMM_PLAN_FP8)
        bytes += (double)p->N * p->K + 4.0 * ((p->N + QB - 1) / QB) * KB + (double)M * p->K + 4.0 * M * KB;
    else bytes += 2.0 * p->N * p->K + 2.0 * M * p->K;
    printf("        sweep %s, %s out:", dtype_names[dtype], mode_names[mode]);
    double us[MAX_CAND];
    int best = -1, best1 = -1;  // fastest checked tile; fastest without split-K
    for (int i = 0; i < nc; i++) {
        const Variant *v = &cand[i];
        gpu_fill_u32(&G, p->C_f32, mode == GEMM_ADD_F32 ? 0 : POISON, (size_t)M * p->N);
        launch_variant(p, v, 0);
        double err = rows_err(p->C_f32, 0, rows, nrows, ref, p->N);
        int ok = err < 1e-3;  // f32 out: accumulation error only
        us[i] = ok ? time_variant(p, v, o->reps, o->eager) : NAN;
        char label[32];
        if (v->tile < 0) snprintf(label, sizeof label, "auto");
        else if (v->splits == GEMM_SPLIT_TAIL) snprintf(label, sizeof label, "t%d/t", v->tile);
        else if (gemm_split_cluster(v->splits))
            snprintf(label, sizeof label, "t%d/c%d", v->tile, gemm_split_cluster(v->splits));
        else if (v->splits > 1) snprintf(label, sizeof label, "t%d/%d", v->tile, v->splits);
        else snprintf(label, sizeof label, "t%d", v->tile);
        if (ok) printf(" %s %.2f", label, us[i]);
        else printf(" %s FAILED (err %.1e)", label, err);
        fflush(stdout);
        t->bad += !ok;
        Row r = { s->md->name, layer_names[s->layer], ok ? "ok" : "FAILED", "-", dtype, mode, M, p->N, p->K, v->tile,
                  v->splits, bytes, flops, fmax(bytes / o->bw, flops / o->peak[dtype]) * 1e6, us[i], us[i], peer_f32,
                  peer_f32, err, NAN, NAN, NAN, NAN, NAN, NAN };
        emit_row(o, &r, tsv, 0);
        if (!ok || v->tile < 0) continue;
        if (best < 0 || us[i] < us[best]) best = i;
        if (!racy_split(v, sw_tile) && (best1 < 0 || us[i] < us[best1])) best1 = i;
    }
    if (best < 0) { printf(" | no tile passed\n"); return; }
    if (racy_split(&cand[best], sw_tile) && best1 >= 0 && us[best] > 0.97 * us[best1]) best = best1;
    // the rules keep this M unless the best tile beats them by the margin (a repeat of one kernel varies by ~1-2% at
    // decode sizes and up to ~10% at M >= 1,024, where the card's clock moves under minutes of FP8 GEMMs)
    int rules = us[0] == us[0] && us[0] < o->plan_margin * us[best];
    printf(" | best t%d/%d %.2f us, auto/best %.3f%s\n", cand[best].tile, cand[best].splits, us[best], us[0] / us[best],
           rules ? " -> the rules" : "");
    if (plan_n == plan_cap)
        plan_pts = xrealloc(plan_pts, (size_t)(plan_cap = plan_cap ? 2 * plan_cap : 256) * sizeof *plan_pts);
    plan_pts[plan_n++] = rules ? (GemmPlanPoint){ dtype, p->N, p->K, M, GEMM_PLAN_RULES, 1, us[0], us[0] }
                               : (GemmPlanPoint){ dtype, p->N, p->K, M, cand[best].tile, cand[best].splits, us[best],
                                                  us[0] };
}

// ---------------------------------------------------------------- one shape, one M
static void bench_bf16(const Opts *o, const Shape *s, Problem *p, const int *rows, int nrows, const double *ref,
                       FILE *tsv, Tally *t) {
    int M = p->M, N = p->N, K = p->K;
    gpu_fill_u32(&G, p->C_ours, POISON, (size_t)M * N / 2);
    gpu_fill_u32(&G, p->C_peer, POISON, (size_t)M * N / 2);
    Variant v[4] = { { V_OURS, GEMM_STORE_BF16, -1, 0 }, { V_CUBLAS, GEMM_STORE_BF16, -1, 0 },
                     { V_OURS, GEMM_STORE_F32, -1, 0 }, { V_CUBLAS, GEMM_STORE_F32, -1, 0 } };
    launch_variant(p, &v[0], 0);
    launch_variant(p, &v[1], 0);
    double err_o = rows_err(p->C_ours, 1, rows, nrows, ref, N), err_b = rows_err(p->C_peer, 1, rows, nrows, ref, N);
    size_t bad = 0;
    double diff = full_diff(p->C_ours, p->C_peer, (size_t)M * N, &bad);
    int ok = err_o < 5e-3 && err_b < 5e-3 && diff < 1e-2;  // bf16 output: one rounding (2^-9 relative at worst)
    double us[4];
    for (int i = 0; i < 4; i++) us[i] = time_variant(p, &v[i], o->reps, o->eager);
    double flops = 2.0 * M * N * K, bytes = 2.0 * N * K + 2.0 * M * K + 2.0 * M * N;
    Row r = { s->md->name, layer_names[s->layer], ok ? "ok" : "FAILED", "-", GEMM_PLAN_BF16, GEMM_STORE_BF16, M, N, K,
              -1, 0, bytes, flops, fmax(bytes / o->bw, flops / o->peak[0]) * 1e6, us[0], us[2], us[1], us[3], err_o,
              err_b, diff, NAN, NAN, NAN, NAN };
    emit_row(o, &r, tsv, 1);
    if (bad) printf("  %zu elements of ours or cuBLAS not written or not finite\n", bad);
    tally_add(t, us[1] / us[0], ok);
    if (o->sweep) sweep(o, s, p, GEMM_PLAN_BF16, rows, nrows, ref, us[3], tsv, t);
}

static void bench_fp8(const Opts *o, const Shape *s, Problem *p, const uint16_t *Ah, const int *rows, int nrows,
                      const double *ref, FILE *tsv, Tally *t) {
    int M = p->M, N = p->N, K = p->K, KB = K / QB;
    // ours quantises on the GPU; the per-tensor peer's inputs are quantised here; cuBLASLt reads sa as [K/128][M]
    launch_quant_act_fp8(&G, p->A8, p->sa, p->A, M, K);
    uint8_t *A8th = xmalloc((size_t)M * K), *a8row = xmalloc(K);
    float s_a = quant_tensor(Ah, A8th, (size_t)M * K);
    float *sah = xmalloc((size_t)M * KB * 4), *sat = xmalloc((size_t)M * KB * 4);
    gpu_upload(&G, p->A8t, A8th, (size_t)M * K);
    gpu_upload(&G, p->sa_tensor, &s_a, 4);
    gpu_download(&G, sah, p->sa, (size_t)M * KB * 4);
    for (int m = 0; m < M; m++)
        for (int kb = 0; kb < KB; kb++) sat[(size_t)kb * M + m] = sah[(size_t)m * KB + kb];
    gpu_upload(&G, p->sa_t, lt_sa_kmajor ? sah : sat, (size_t)M * KB * 4);
    // the references of what each side multiplies: our dequantised inputs, and the per-tensor ones
    float *aq = xmalloc((size_t)nrows * K * 4), *at = xmalloc((size_t)nrows * K * 4);
    double *ref_q = xmalloc((size_t)nrows * N * 8), *ref_t = xmalloc((size_t)nrows * N * 8);
    for (int r = 0; r < nrows; r++) {
        gpu_download(&G, a8row, p->A8 + (size_t)rows[r] * K, K);
        for (int k = 0; k < K; k++) {
            aq[(size_t)r * K + k] = e4m3_value[a8row[k]] * sah[(size_t)rows[r] * KB + k / QB];
            at[(size_t)r * K + k] = e4m3_value[A8th[(size_t)rows[r] * K + k]] * s_a;
        }
    }
    reference((RefJob){ aq, NULL, s->W8h, s->swh, 0, ref_q, N, K }, nrows);
    reference((RefJob){ at, NULL, s->W8th, NULL, s->sw_tensor, ref_t, N, K }, nrows);
    lt_setup(p, &p->lt[LT_BLOCK_BF16], 1, 0);
    lt_setup(p, &p->lt[LT_BLOCK_F32], 1, 1);
    lt_setup(p, &p->lt[LT_TENSOR_BF16], 0, 0);
    if (KB % 4) p->lt[LT_BLOCK_BF16].ok = p->lt[LT_BLOCK_F32].ok = 0;  // cuBLASLt pads sw's rows to 16 bytes; ours not
    int blk = p->lt[LT_BLOCK_BF16].ok, ten = p->lt[LT_TENSOR_BF16].ok;

    Variant v[6] = { { V_OURS_FP8, GEMM_STORE_BF16, -1, 0 }, { V_LT_BLOCK, GEMM_STORE_BF16, -1, 0 },
                     { V_OURS_FP8, GEMM_STORE_F32, -1, 0 }, { V_LT_BLOCK, GEMM_STORE_F32, -1, 0 },
                     { V_LT_TENSOR, GEMM_STORE_BF16, -1, 0 }, { V_QUANT, 0, -1, 0 } };
    gpu_fill_u32(&G, p->C_ours, POISON, (size_t)M * N / 2);
    gpu_fill_u32(&G, p->C_peer, POISON, (size_t)M * N / 2);
    launch_variant(p, &v[0], 0);
    if (blk) launch_variant(p, &v[1], 0);
    double err_o = rows_err(p->C_ours, 1, rows, nrows, ref_q, N), qerr_o = rows_err(p->C_ours, 1, rows, nrows, ref, N);
    double err_b = NAN, diff = NAN, err_t = NAN, qerr_t = NAN;
    size_t bad = 0;
    if (blk) {
        err_b = rows_err(p->C_peer, 1, rows, nrows, ref_q, N);
        if (!(err_b < 5e-3) && !lt_sa_tried && M > 1 && KB > 1) {
            // the documented-by-example layout ([K/128][M], PyTorch's "outer-dim-major") failed on the first
            // problem that can tell: try ours as it is ([M][K/128]) once, and keep whichever works
            lt_sa_kmajor = !lt_sa_kmajor;
            gpu_upload(&G, p->sa_t, lt_sa_kmajor ? sah : sat, (size_t)M * KB * 4);
            gpu_fill_u32(&G, p->C_peer, POISON, (size_t)M * N / 2);
            launch_variant(p, &v[1], 0);
            double e = rows_err(p->C_peer, 1, rows, nrows, ref_q, N);
            printf("  cuBLASLt block scales: [%s] layout for the activation scales gives err %.2e (the other %.2e)\n",
                   lt_sa_kmajor ? "M][K/128" : "K/128][M", e, err_b);
            if (e < err_b) err_b = e;
            else {  // back to the first layout and its result
                lt_sa_kmajor = !lt_sa_kmajor;
                gpu_upload(&G, p->sa_t, lt_sa_kmajor ? sah : sat, (size_t)M * KB * 4);
                launch_variant(p, &v[1], 0);
            }
        }
        if (M > 1 && KB > 1) lt_sa_tried = 1;
        diff = full_diff(p->C_ours, p->C_peer, (size_t)M * N, &bad);
    }
    if (ten) {
        gpu_fill_u32(&G, p->C_peer, POISON, (size_t)M * N / 2);
        launch_variant(p, &v[4], 0);
        err_t = rows_err(p->C_peer, 1, rows, nrows, ref_t, N);
        qerr_t = rows_err(p->C_peer, 1, rows, nrows, ref, N);
    }
    // against the dequantised inputs: accumulation and the bf16 rounding only; against the bf16 inputs: e4m3's
    // 3-bit mantissa, ~3.5% for these uniform inputs
    int ok = err_o < 5e-3 && qerr_o < 0.08 && (!blk || (err_b < 5e-3 && diff < 1e-2)) &&
             (!ten || (err_t < 5e-3 && qerr_t < 0.08));
    if (blk && err_o < 5e-3 && !(err_b < 5e-3))
        printf("  cuBLASLt's block-scaled result is wrong where ours is right: check the scale layouts in lt_setup\n");
    double us[6];
    for (int i = 0; i < 6; i++) us[i] = time_variant(p, &v[i], o->reps, o->eager);
    double flops = 2.0 * M * N * K;
    double bytes = (double)N * K + 4.0 * ((N + QB - 1) / QB) * KB + (double)M * K + 4.0 * M * KB + 2.0 * M * N;
    Row r = { s->md->name, layer_names[s->layer], ok ? "ok" : "FAILED", blk ? "block" : "tensor", GEMM_PLAN_FP8,
              GEMM_STORE_BF16, M, N, K, -1, 0, bytes, flops, fmax(bytes / o->bw, flops / o->peak[1]) * 1e6, us[0],
              us[2], blk ? us[1] : us[4], us[3], err_o, blk ? err_b : err_t, diff, us[5], us[4], qerr_o, qerr_t };
    emit_row(o, &r, tsv, 1);
    printf("        fp8: quantising A %.2f us; cuBLASLt per-tensor %.2f us (peer/our %.3f, err %.2e); quantisation "
           "error ours %.2e, per-tensor %.2e%s\n", us[5], us[4], us[4] / us[0], err_t, qerr_o, qerr_t,
           blk ? "" : "; cuBLASLt offered no block-scaled algorithm: peer = per-tensor");
    if (bad) printf("  %zu elements of ours or cuBLASLt not written or not finite\n", bad);
    tally_add(t, r.peer / us[0], ok);
    if (o->uniform && ten) {  // our kernel on the per-tensor inputs: the usual loop, then uniform groups of G slices
        size_t nsa = (size_t)M * KB, nsw = (size_t)((N + QB - 1) / QB) * KB;
        uni_sa = gpu_alloc(&G, nsa * 4);
        uni_sw = gpu_alloc(&G, nsw * 4);
        uint32_t ba, bw;
        memcpy(&ba, &s_a, 4);
        memcpy(&bw, &s->sw_tensor, 4);
        gpu_fill_u32(&G, uni_sa, ba, nsa);
        gpu_fill_u32(&G, uni_sw, bw, nsw);
        int gs[4] = { 0, 1, o->uniform, 255 };
        printf("        fp8 on the per-tensor inputs (err against them / against bf16): cuBLASLt %.2f us;", us[4]);
        for (int i = 0; i < 4; i++) {
            if (i == 2 && (o->uniform == 1 || o->uniform == 255)) continue;
            Variant u = { V_OURS_UNI, gs[i], -1, 0 };
            gpu_fill_u32(&G, p->C_ours, POISON, (size_t)M * N / 2);
            launch_variant(p, &u, 0);
            double e = rows_err(p->C_ours, 1, rows, nrows, ref_t, N), q = rows_err(p->C_ours, 1, rows, nrows, ref, N);
            double tu = time_variant(p, &u, o->reps, o->eager);
            if (!(e < 5e-3) || !(q < 0.08)) t->bad++;
            if (gs[i]) printf(" G=%d %.2f us (%.1e / %.1e)", gs[i], tu, e, q);
            else printf(" usual loop %.2f us (%.1e / %.1e)", tu, e, q);
        }
        printf("\n");
        gpu_free(&G, uni_sa);
        gpu_free(&G, uni_sw);
        uni_sa = uni_sw = 0;
    }
    if (o->sweep) sweep(o, s, p, GEMM_PLAN_FP8, rows, nrows, ref_q, us[3], tsv, t);
    for (int i = 0; i < N_LT; i++) lt_free(&p->lt[i]);
    free(A8th); free(a8row); free(sah); free(sat); free(aq); free(at); free(ref_q); free(ref_t);
}

static void bench_m(const Opts *o, const Shape *s, int mi, FILE *tsv, Tally *t) {
    int M = o->ms[mi], N = s->N, K = s->K, KB = K / QB;
    size_t abytes = (size_t)M * K * 2, c16 = (size_t)M * N * 2, c32 = (size_t)M * N * 4;
    double need = abytes + 2.0 * c16 + c32 + (s->do8 ? 2.0 * M * K + 8.0 * M * KB + 512 : 0);
    size_t free_b = 0, total_b = 0;
    CU_CHECK(cuMemGetInfo(&free_b, &total_b));
    if (s->wdev + need > o->max_gb * 1e9 || need > 0.9 * free_b) {
        printf("  %-5d skipped: needs %.1f GB of GPU memory (--max-gb %.0f, %.1f GB free)\n", M, (s->wdev + need) / 1e9,
               o->max_gb, free_b / 1e9);
        return;
    }
    // fresh A, the sampled rows, the fp64 reference of the bf16 inputs (the bf16 check, fp8's quantisation error)
    uint16_t *Ah = xmalloc(abytes);
    fill_random(Ah, (size_t)M * K, o->seed + 0x51ED270B27422AA5ull * (uint64_t)(mi + 1) + (uint64_t)s->layer);
    Problem p = { M, N, K, s->copies, s->copies8, s->W, s->W8, s->sw, s->W8t, s->sw_t, gpu_alloc(&G, abytes), 0, 0,
                  0, 0, 0, gpu_alloc(&G, c16), gpu_alloc(&G, c16), gpu_alloc(&G, c32), { { 0 } } };
    gpu_upload(&G, p.A, Ah, abytes);
    if (s->do8) {
        p.A8 = gpu_alloc(&G, (size_t)M * K); p.A8t = gpu_alloc(&G, (size_t)M * K);
        p.sa = gpu_alloc(&G, (size_t)M * KB * 4); p.sa_t = gpu_alloc(&G, (size_t)M * KB * 4);
        p.sa_tensor = gpu_alloc(&G, 4);
    }
    // all rows when M <= 16, else the first two, the last two, 12 random
    int rows[SAMPLE_ROWS], nrows = 0;
    Rng rr;
    rng_seed(&rr, o->seed + (uint64_t)M);
    if (M <= SAMPLE_ROWS) for (int r = 0; r < M; r++) rows[nrows++] = r;
    else {
        rows[nrows++] = 0; rows[nrows++] = 1; rows[nrows++] = M - 2; rows[nrows++] = M - 1;
        while (nrows < SAMPLE_ROWS) rows[nrows++] = 2 + (int)(rng_uniform(&rr) * (M - 4));
    }
    float *as = xmalloc((size_t)nrows * K * sizeof(float));
    for (int r = 0; r < nrows; r++)
        for (int k = 0; k < K; k++) as[(size_t)r * K + k] = bf16_to_f32(Ah[(size_t)rows[r] * K + k]);
    double *ref = xmalloc((size_t)nrows * N * sizeof(double));
    reference((RefJob){ as, s->Wh, NULL, NULL, 0, ref, N, K }, nrows);

    if (s->do16) bench_bf16(o, s, &p, rows, nrows, ref, tsv, &t[GEMM_PLAN_BF16]);
    if (s->do8) bench_fp8(o, s, &p, Ah, rows, nrows, ref, tsv, &t[GEMM_PLAN_FP8]);
    fflush(stdout);
    CUdeviceptr bufs[] = { p.A, p.A8, p.A8t, p.sa, p.sa_t, p.sa_tensor, p.C_ours, p.C_peer, p.C_f32 };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) gpu_free(&G, bufs[i]);
    free(as); free(ref); free(Ah);
}

// rownorm_ss for M rows of K: positive sums of squares, [M][K / 128] f32 (timing only: any positive values)
static void rownorm_sums(int M, int K) {
    int KB = K / QB;
    float *ss = xmalloc((size_t)M * KB * 4);
    for (size_t i = 0; i < (size_t)M * KB; i++) ss[i] = (float)KB * (0.5f + (float)(i % 7) / 7);
    rownorm_ss = gpu_alloc(&G, (size_t)M * KB * 4);
    gpu_upload(&G, rownorm_ss, ss, (size_t)M * KB * 4);
    free(ss);
}

// --swiglu at one M: unfused pair vs fused epilogue (and their FP8-output forms), bf16 and fp8 weights
static void bench_swiglu_m(const Opts *o, const Shape *s, int mi) {
    int M = o->ms[mi], N = s->N, K = s->K, F = N / 2;
    size_t abytes = (size_t)M * K * 2;
    uint16_t *Ah = xmalloc(abytes);
    fill_random(Ah, (size_t)M * K, o->seed + (uint64_t)mi);
    Problem p = { M, N, K, s->copies, s->copies8, s->W, s->W8, s->sw, s->W8t, s->sw_t, gpu_alloc(&G, abytes), 0, 0,
                  0, 0, 0, gpu_alloc(&G, (size_t)M * N * 2), gpu_alloc(&G, (size_t)M * N * 2),
                  gpu_alloc(&G, (size_t)M * N * 4), { { 0 } } };
    gpu_upload(&G, p.A, Ah, abytes);
    double flops = 2.0 * M * N * K, abf = (double)M * F * 2, a8b = (double)M * F * (1 + 4.0 / QB);
    for (int d = 0; d < 2; d++) {
        if (d == GEMM_PLAN_BF16 ? !s->do16 : !s->do8) continue;
        double wb = d ? (double)N * K * (1 + 4.0 / (QB * QB)) + M * K * (1 + 4.0 / QB) : (double)N * K * 2 + abytes;
        if (d) {
            p.A8 = gpu_alloc(&G, (size_t)M * K);
            p.sa = gpu_alloc(&G, (size_t)M * (K / QB) * 4);
            launch_quant_act_fp8(&G, p.A8, p.sa, p.A, M, K);
        }
        // floors: fused writes a (bf16) or a8 + scales; the pair also writes and reads gate|up in f32
        double floor_f = fmax((wb + abf) / o->bw, flops / o->peak[d]) * 1e6;
        double floor_q = fmax((wb + (d ? abf + abf + a8b : a8b)) / o->bw, flops / o->peak[d]) * 1e6;
        double pair_bytes = wb + (double)M * N * 4 * 2 + abf;
        int t8 = gemm_tile_choice(&G, M, N, K, GEMM_SWIGLU_BF16, NULL);
        Variant pair = { d ? V_SWI8_PAIR : V_SWI_PAIR, 0, -1, 0 }, fused = { d ? V_SWI8_FUSED : V_SWI_FUSED, 0, -1, 0 };
        Variant pair_q = { V_SWI_PAIR_Q, 0, -1, 0 }, fused_q = { V_SWI_FUSED_Q, 0, t8, 0 };
        double tp = time_variant(&p, &pair, o->reps, o->eager), tf = time_variant(&p, &fused, o->reps, o->eager);
        if (d && o->rownorm) {  // fused8 without / with the consumer's row sums
            rownorm_sums(M, K);
            Variant f0 = { V_SWI8_FUSED_Q, 0, -1, 0 }, f1 = { V_SWI8_FUSED_Q, 1, -1, 0 };
            double t0 = o->rownorm == 3 || N % 256 ? NAN : time_variant(&p, &f0, o->reps, o->eager);
            double t1 = o->rownorm == 2 || N % 256 ? NAN : time_variant(&p, &f1, o->reps, o->eager);
            printf("  %-5d %-5s fused8 without the row sums %8.2f us, with them %8.2f us (%+.2f)\n", M, "fp8", t0, t1,
                   t1 - t0);
            gpu_free(&G, rownorm_ss);
            rownorm_ss = 0;
        } else if (d) {  // fp8: pair and fused end in the down GEMM's quantiser; fused8: the quantising epilogue's tile
            Variant f8 = { V_SWI8_FUSED_Q, 0, -1, 0 };
            double t8q = N % 256 ? NAN : time_variant(&p, &f8, o->reps, o->eager);
            double floor8 = fmax((wb + a8b) / o->bw, flops / o->peak[d]) * 1e6;
            printf("  %-5d %-5s %8.2f | %9.2f %9.2f %8.2f %5.1f%% %5.1f%% | %8.2f %9s %9.2f %8s  (pair floor %.2f us)\n", M,
                   "fp8", floor_q, tp, tf, tp - tf, 100 * (tp - tf) / tp, 100 * floor_q / tf, floor8, "(=pair)", t8q,
                   "(chosen)", fmax(pair_bytes / o->bw, flops / o->peak[d]) * 1e6);
        } else {
            double tpq = time_variant(&p, &pair_q, o->reps, o->eager), tfq = time_variant(&p, &fused_q, o->reps, o->eager);
            printf("  %-5d %-5s %8.2f | %9.2f %9.2f %8.2f %5.1f%% %5.1f%% | %8.2f %9.2f %9.2f %8s  (pair floor %.2f us)\n",
                   M, "bf16", floor_f, tp, tf, tp - tf, 100 * (tp - tf) / tp, 100 * floor_f / tf, floor_q, tpq, tfq,
                   t8 == GEMM_SWIGLU_FP8_TILE ? "epilogue" : "+quant", fmax(pair_bytes / o->bw, flops / o->peak[d]) * 1e6);
        }
        fflush(stdout);
    }
    CUdeviceptr bufs[] = { p.A, p.A8, p.sa, p.C_ours, p.C_peer, p.C_f32 };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) gpu_free(&G, bufs[i]);
    free(Ah);
}

// --norm8 at one M: add vs add + the producer's epilogue, store vs store with the rows' sums (FP8 weights)
static void bench_norm8_m(const Opts *o, const Shape *s, int mi) {
    int M = o->ms[mi], N = s->N, K = s->K, KB = K / QB;
    if (!s->do8) return;
    if (!gemm_fp8_wg_choice(&G, M, N, K)) {
        printf("  %-5d fp8   the tile chosen is not a wgmma one: no RMSNorm epilogues\n", M);
        return;
    }
    size_t abytes = (size_t)M * K * 2;
    uint16_t *Ah = xmalloc(abytes);
    fill_random(Ah, (size_t)M * K, o->seed + (uint64_t)mi);
    Problem p = { M, N, K, s->copies, s->copies8, s->W, s->W8, s->sw, s->W8t, s->sw_t, gpu_alloc(&G, abytes), 0, 0,
                  0, 0, 0, 0, 0, gpu_alloc(&G, (size_t)M * N * 4), { { 0 } } };
    gpu_upload(&G, p.A, Ah, abytes);
    p.A8 = gpu_alloc(&G, (size_t)M * K);
    p.sa = gpu_alloc(&G, (size_t)M * KB * 4);
    launch_quant_act_fp8(&G, p.A8, p.sa, p.A, M, K);
    gpu_fill_u32(&G, p.C_f32, 0, (size_t)M * N);
    norm8_nw = gpu_alloc(&G, (size_t)N * 4);
    gpu_fill_u32(&G, norm8_nw, 0x3F800000u, (size_t)N);  // 1.0f
    norm8_out = gpu_alloc(&G, norm8_bytes(M, N));
    rownorm_sums(M, K);
    double t[4];
    for (int m = 0; m < 4; m++) {
        Variant v = { V_NORM8, m, -1, 0 };
        int ok = m == 1 ? N % 256 == 0 : m == 3 ? K % 512 == 0 && K <= 8192 : 1;
        t[m] = ok ? time_variant(&p, &v, o->reps, o->eager) : NAN;
    }
    int splits = 0, tile = gemm_fp8_tile_choice(&G, M, N, K, &splits);
    printf("  %-5d fp8   tile %2d/%-2d | add %8.2f  + norm8 %8.2f (%+6.2f) | store %8.2f  + row sums %8.2f (%+6.2f) "
           "us\n", M, tile, splits, t[0], t[1], t[1] - t[0], t[2], t[3], t[3] - t[2]);
    fflush(stdout);
    CUdeviceptr bufs[] = { p.A, p.A8, p.sa, p.C_f32, norm8_nw, norm8_out, rownorm_ss };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gpu_free(&G, bufs[i]);
    norm8_nw = norm8_out = rownorm_ss = 0;
    free(Ah);
}

// ---------------------------------------------------------------- one shape, every M
static void bench_shape(const Opts *o, const ModelDims *md, int layer, FILE *tsv, Tally *t) {
    Shape s = { .md = md, .layer = layer, .do16 = o->dtype_on[GEMM_PLAN_BF16], .do8 = o->dtype_on[GEMM_PLAN_FP8] };
    layer_shape(md, layer, &s.N, &s.K);
    int N = s.N, K = s.K, KB = K / QB;
    if (s.do8 && K % QB) {
        printf("\n%s %s: K = %d is not a multiple of 128: no fp8\n", md->name, layer_names[layer], K);
        s.do8 = 0;
    }
    size_t wbytes = (size_t)N * K * 2, w8bytes = (size_t)N * K, swbytes = (size_t)((N + QB - 1) / QB) * KB * 4;
    s.copies = s.do16 ? (int)((3 * G.l2_bytes + wbytes - 1) / wbytes) : 1;
    s.copies8 = s.do8 ? (int)((3 * G.l2_bytes + w8bytes - 1) / w8bytes) : 1;
    if (s.copies < 1) s.copies = 1;
    if (s.copies8 < 1) s.copies8 = 1;
    s.wdev = (double)s.copies * wbytes + (s.do8 ? (double)s.copies8 * (2.0 * w8bytes + swbytes) + 4 : 0);
    printf("\n%s %s: W [%d][%d], bf16 %.1f MB x %d, e4m3 %.1f MB x %d (rotated past L2 %.0f MB)\n", md->name,
           layer_names[layer], N, K, wbytes / 1e6, s.copies, w8bytes / 1e6, s.do8 ? s.copies8 : 0, G.l2_bytes / 1e6);
    size_t free_b = 0, total_b = 0;
    CU_CHECK(cuMemGetInfo(&free_b, &total_b));
    if (s.wdev > 0.9 * free_b || s.wdev > o->max_gb * 1e9) {
        printf("  skipped: the weight copies need %.1f GB (%.1f GB free, --max-gb %.0f)\n", s.wdev / 1e9, free_b / 1e9,
               o->max_gb);
        return;
    }
    if (o->swiglu)
        printf("  %-5s %-5s %8s | %9s %9s %8s %6s %6s | %8s %9s %9s %8s\n", "M", "dtype", "floor us", "pair us",
               "fused us", "saved us", "saved", "%floor", "floor8 us", "pair+q us", "fused8 us", "fp8 out");
    else if (!o->norm8) print_header();
    fflush(stdout);

    // W: random on the host once per shape, copy 0 uploaded (and quantised there), the others copied on the device
    s.Wh = xmalloc(wbytes);
    fill_random(s.Wh, (size_t)N * K, o->seed ^ (0x1000u * (unsigned)(md - models) + (unsigned)layer));
    s.W = xcalloc(s.copies, sizeof *s.W);
    for (int c = 0; c < s.copies; c++) s.W[c] = gpu_alloc(&G, wbytes);
    gpu_upload(&G, s.W[0], s.Wh, wbytes);
    for (int c = 1; c < s.copies; c++) CU_CHECK(cuMemcpyDtoDAsync(s.W[c], s.W[0], wbytes, G.stream));
    if (s.do8) {
        s.W8 = xcalloc(s.copies8, sizeof *s.W8); s.sw = xcalloc(s.copies8, sizeof *s.sw);
        s.W8t = xcalloc(s.copies8, sizeof *s.W8t);
        for (int c = 0; c < s.copies8; c++) {
            s.W8[c] = gpu_alloc(&G, w8bytes); s.sw[c] = gpu_alloc(&G, swbytes); s.W8t[c] = gpu_alloc(&G, w8bytes);
        }
        launch_quant_w_fp8(&G, s.W8[0], s.sw[0], s.W[0], N, K);
        s.W8h = xmalloc(w8bytes); s.swh = xmalloc(swbytes); s.W8th = xmalloc(w8bytes);
        gpu_download(&G, s.W8h, s.W8[0], w8bytes);
        gpu_download(&G, s.swh, s.sw[0], swbytes);
        s.sw_tensor = quant_tensor(s.Wh, s.W8th, (size_t)N * K);
        gpu_upload(&G, s.W8t[0], s.W8th, w8bytes);
        s.sw_t = gpu_alloc(&G, 4);
        gpu_upload(&G, s.sw_t, &s.sw_tensor, 4);
        for (int c = 1; c < s.copies8; c++) {
            CU_CHECK(cuMemcpyDtoDAsync(s.W8[c], s.W8[0], w8bytes, G.stream));
            CU_CHECK(cuMemcpyDtoDAsync(s.sw[c], s.sw[0], swbytes, G.stream));
            CU_CHECK(cuMemcpyDtoDAsync(s.W8t[c], s.W8t[0], w8bytes, G.stream));
        }
    }
    gpu_sync(&G);

    for (int mi = 0; mi < o->n_ms; mi++) {
        if (o->swiglu) bench_swiglu_m(o, &s, mi);
        else if (o->norm8) bench_norm8_m(o, &s, mi);
        else bench_m(o, &s, mi, tsv, t);
    }

    for (int c = 0; c < s.copies; c++) gpu_free(&G, s.W[c]);
    for (int c = 0; s.do8 && c < s.copies8; c++) {
        gpu_free(&G, s.W8[c]); gpu_free(&G, s.sw[c]); gpu_free(&G, s.W8t[c]);
    }
    if (s.do8) gpu_free(&G, s.sw_t);
    free(s.W); free(s.W8); free(s.sw); free(s.W8t); free(s.Wh); free(s.W8h); free(s.swh); free(s.W8th);
}

// bench/results/gemm-<card>.tsv: the card's model word, lower case ("NVIDIA H100 80GB HBM3" -> h100)
static const char *auto_tsv_path(char *buf, size_t n) {
    const char *p = strncmp(G.name, "NVIDIA ", 7) ? G.name : G.name + 7;
    char slug[64];
    size_t k = 0;
    for (; *p && *p != ' ' && k + 1 < sizeof slug; p++)
        slug[k++] = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '-';
    slug[k] = 0;
    snprintf(buf, n, "bench/results/gemm-%s.tsv", k ? slug : "card");
    return buf;
}

static FILE *open_tsv(const char *path) {
    FILE *f = fopen(path, "a+");
    if (!f) die("%s: cannot open for writing", path);
    char first[sizeof TSV_HEADER + 1] = "";
    rewind(f);
    // a file from an older bench/gemm keeps its rows; ours follow under our own header line
    if (!fgets(first, sizeof first, f) || strcmp(first, TSV_HEADER)) {
        fseek(f, 0, SEEK_END);
        fputs(TSV_HEADER, f);
    }
    fseek(f, 0, SEEK_END);
    return f;
}

int main(int argc, char **argv) {
    Opts o = parse_args(argc, argv);
    e4m3_init();
    char err[512];
    if (gpu_init(&G, err, sizeof err)) {
        printf("gemm: no GPU (%s); nothing measured\n", err);
        return 0;
    }
    G.pdl = o.pdl;  // like for like with the peers' plain launches unless --pdl
    if (o.plan_in && strcmp(o.plan_in, "none")) {  // as the engine does: another card's plan warns, a broken one dies
        int rc = gemm_plan_load(o.plan_in, G.name, err, sizeof err);
        if (rc < 0) die("%s", err);
        printf("gemm: %s\n", rc ? err : "plan loaded; the 'auto' (built-in) columns use it where launch_gemm asks");
    } else if (!o.plan_in && !o.sweep) {  // what the engine runs: the plan built in for this card, if any
        const char *name;
        if (gemm_plan_load_builtin(G.name, &name)) printf("gemm: the built-in plan %s for this card ('auto')\n", name);
    }
    BLAS_CHECK(cublasCreate(&blas));
    BLAS_CHECK(cublasSetStream(blas, (cudaStream_t)G.stream));
    size_t ws_bytes = (size_t)64 << 20;  // cuBLAS asks for 32 MiB on Hopper; graph capture needs it set by us
    CUdeviceptr ws = gpu_alloc(&G, ws_bytes);
    BLAS_CHECK(cublasSetWorkspace(blas, dptr(ws), ws_bytes));
    BLAS_CHECK(cublasLtCreate(&lt));
    lt_ws = gpu_alloc(&G, LT_WS_BYTES);
    int blas_ver = 0, drv_ver = 0;
    BLAS_CHECK(cublasGetVersion(blas, &blas_ver));
    CU_CHECK(cuDriverGetVersion(&drv_ver));

    if (o.bw == 0) o.bw = gpu_copy_bandwidth(&G);
    printf("gemm: %s, %d SMs, L2 %.0f MB, driver %d, cuBLAS %d, cuBLASLt %zu; seed %llu (QWEN3_BENCH_SEED "
           "reproduces)\n",
           G.name, G.sm_count, G.l2_bytes / 1e6, drv_ver, blas_ver, cublasLtGetVersion(), (unsigned long long)o.seed);
    printf("floor = max(bytes / %.2f TB/s (device copy), flops / peak: bf16 %.0f, fp8 %.0f TFLOP/s, H100/H200 SXM "
           "dense); bytes: W + A + C (fp8: e4m3 W and A with their f32 scales, bf16 C)\n", o.bw / 1e12,
           o.peak[0] / 1e12, o.peak[1] / 1e12);
    printf("C[M][N] = A[M][K] . W[N][K]^T; times: median of %d %s replays, us per launch; bf16 out (f32 columns: f32 "
           "out). peer: cuBLAS (bf16), cuBLASLt with our block scales (fp8); peer/our > 1: we win.\n", o.reps,
           o.eager ? (o.pdl ? "eager, PDL" : "eager") : (o.pdl ? "graph, PDL" : "graph"));
    printf("err: rel. to fp64 on %d sampled rows (fp8: of the dequantised inputs); ours-peer: rel. diff on every "
           "element; nan: not measured (cuBLASLt offered no algorithm)\n", SAMPLE_ROWS);

    char tsv_path[256];
    FILE *tsv = o.tsv ? open_tsv(strcmp(o.tsv, "auto") ? o.tsv : auto_tsv_path(tsv_path, sizeof tsv_path)) : NULL;
    Tally all[2] = { { 0 } };
    for (int m = 0; m < N_MODELS; m++) {
        if (!o.model_on[m]) continue;
        Tally t[2] = { { 0 } };
        for (int l = 0; l < N_LAYERS; l++)
            if (o.layer_on[l]) bench_shape(&o, &models[m], l, tsv, t);
        for (int d = 0; d < 2; d++) {
            if (t[d].rows || t[d].bad)
                printf("\n%s %s: ours faster on %d of %d; geometric mean peer/ours %.3f; %d check failures\n",
                       models[m].name, dtype_names[d], t[d].wins, t[d].rows, exp(t[d].log_ratio / t[d].rows), t[d].bad);
            all[d].rows += t[d].rows; all[d].wins += t[d].wins; all[d].bad += t[d].bad;
            all[d].log_ratio += t[d].log_ratio;
        }
    }
    for (int d = 0; d < 2; d++)
        if (all[d].rows || all[d].bad)
            printf("\nall %s: ours faster on %d of %d; geometric mean peer/ours %.3f; %d check failures\n",
                   dtype_names[d], all[d].wins, all[d].rows, exp(all[d].log_ratio / all[d].rows), all[d].bad);
    if (o.sweep && o.plan_out) {
        if (gemm_plan_write(o.plan_out, G.name, plan_pts, plan_n, err, sizeof err)) die("%s", err);
        printf("\nplan: %d measured winners written to %s (load it with QWEN3_GEMM_PLAN=%s)\n", plan_n, o.plan_out,
               o.plan_out);
    }
    if (tsv) fclose(tsv);
    free(plan_pts);
    gemm_plan_clear();
    BLAS_CHECK(cublasLtDestroy(lt));
    BLAS_CHECK(cublasDestroy(blas));
    gpu_free(&G, lt_ws);
    gpu_free(&G, ws);
    gpu_upload_free(&G);
    gpu_shutdown(&G);
    return all[0].bad + all[1].bad ? 1 : 0;
}
