// gpu_sample.c — launch_sample (ptx/sample.ptx) and the host side of its per-row parameters.
// defines: gpu_sample_params, launch_sample
#include "gpu_sample.h"
#include "util.h"
#include <math.h>
#include <stddef.h>

// Must match ptx/sample.ptx: SMP_THREADS, the dynamic shared memory (histogram counts + masses, 2 x 16384 x 4
// bytes, then the compacted list: LIST_MAX logits + ids) and the PRM_* offsets.
enum { SMP_THREADS = 1024, SMP_LIST_MAX = 4096, SMP_DYN_SMEM = 2 * 16384 * 4 + SMP_LIST_MAX * 8,
       SMP_MAX_VOCAB = 1 << 24 };
_Static_assert(sizeof(GpuSampleParams) == 72, "ptx/sample.ptx: PRM_BYTES");
_Static_assert(offsetof(GpuSampleParams, inv_temperature) == 4, "PRM_INV_TEMP");
_Static_assert(offsetof(GpuSampleParams, top_k) == 8, "PRM_TOP_K");
_Static_assert(offsetof(GpuSampleParams, top_p) == 12, "PRM_TOP_P");
_Static_assert(offsetof(GpuSampleParams, min_p) == 16, "PRM_MIN_P");
_Static_assert(offsetof(GpuSampleParams, log_min_p) == 20, "PRM_LOG_MIN_P");
_Static_assert(offsetof(GpuSampleParams, repeat_penalty) == 24, "PRM_REPEAT");
_Static_assert(offsetof(GpuSampleParams, repeat_last_n) == 28, "PRM_LAST_N");
_Static_assert(offsetof(GpuSampleParams, presence_penalty) == 32, "PRM_PRESENCE");
_Static_assert(offsetof(GpuSampleParams, frequency_penalty) == 36, "PRM_FREQUENCY");
_Static_assert(offsetof(GpuSampleParams, history) == 40, "PRM_HISTORY");
_Static_assert(offsetof(GpuSampleParams, seed) == 48, "PRM_SEED");
_Static_assert(offsetof(GpuSampleParams, step) == 56, "PRM_STEP");
_Static_assert(offsetof(GpuSampleParams, n_history) == 64, "PRM_N_HISTORY");

GpuSampleParams gpu_sample_params(const SamplerParams *p, CUdeviceptr history, int n_history, uint64_t step) {
    GpuSampleParams r = {
        .temperature = p->temperature,
        .inv_temperature = p->temperature > 0.0f ? 1.0f / p->temperature : 0.0f,
        .top_k = p->top_k, .top_p = p->top_p, .min_p = p->min_p,
        .log_min_p = p->min_p > 0.0f ? logf(p->min_p) : -INFINITY,
        .repeat_penalty = p->repeat_penalty, .repeat_last_n = p->repeat_last_n,
        .presence_penalty = p->presence_penalty, .frequency_penalty = p->frequency_penalty,
        .history = history, .seed = p->seed, .step = step,
        .n_history = history && n_history > 0 ? n_history : 0,
    };
    return r;
}

// No penalty pass for this row (the kernel's test: repeat 1, presence and frequency 0 — NaN counts as set — or an
// empty window).
static int no_penalty(const GpuSampleParams *p) {
    if (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f) return 1;
    int nw = p->repeat_last_n < 0 || p->repeat_last_n > p->n_history ? p->n_history : p->repeat_last_n;
    return nw <= 0 || p->history == 0;
}
// A row whose answer is sampler.c's greedy argmax of its logits as they are (temperature <= 0, no penalty pass).
static int plain_greedy(const GpuSampleParams *p) { return p->temperature <= 0.0f && no_penalty(p); }
// A row sample_topk takes: greedy, or top-k on with 1 <= k <= TK_KMAX (any top-p, min-p, temperature > 0);
// penalties or not.
enum { TK_KMAX = 64 };
static int topk_row(const GpuSampleParams *p, int vocab) {
    return p->temperature <= 0.0f || (p->temperature > 0.0f && p->top_k >= 1 && p->top_k <= TK_KMAX && p->top_k < vocab);
}

// The scratch of sample_greedy and sample_topk, allocated on first use in a context and kept, zero between
// launches (each row's last CTA resets what it counted in): sample_greedy's 16-byte slot a row [GR_MAX_ROWS], then
// (ptx/sample.ptx SK_*) sample_topk's counters u32 [256], counts [TK_MAX_ROWS][1 KB] and keys [TK_MAX_ROWS][32 KB].
enum { GR_THREADS = 256, GR_MAX_ROWS = 4096, GR_MAX_CTAS = 64,
       TK_THREADS = 256, TK_NF4 = 6, TK_MAX_ROWS = 16, TK_MAX_CTAS = 64,
       SK_CNT = GR_MAX_ROWS * 16, SK_ST = SK_CNT + 1024, SK_KEYS = SK_ST + TK_MAX_ROWS * 1024,
       SMP_SCRATCH = SK_KEYS + TK_MAX_ROWS * 32768 };
_Static_assert(TK_MAX_CTAS * TK_KMAX <= 16 * TK_THREADS && TK_MAX_CTAS * 16 <= 1024 && TK_KMAX * TK_MAX_CTAS * 8 <= 32768,
               "ptx/sample.ptx sample_topk: its merge holds 16 keys a thread; counts 1 KB and keys 32 KB a row");
static CUcontext gr_ctx;
static CUdeviceptr gr_scratch;
static CUdeviceptr smp_scratch(Gpu *g) {
    if (gr_ctx != g->ctx) {
        gr_scratch = gpu_alloc(g, SMP_SCRATCH);
        gpu_fill_u32(g, gr_scratch, 0, SMP_SCRATCH / 4);
        gr_ctx = g->ctx;
    }
    return gr_scratch;
}

void launch_sample(Gpu *g, CUdeviceptr out_tokens, CUdeviceptr logits, CUdeviceptr params,
                   const GpuSampleParams *host_params, int n_rows, int vocab, CUdeviceptr pre) {
    static CUcontext fn_ctx;
    static CUstream fn_stream;
    static CUfunction fn, fn_greedy, fn_topk;
    if (n_rows < 0 || vocab <= 0 || vocab % 4 || vocab >= SMP_MAX_VOCAB)
        die("launch_sample: n_rows=%d vocab=%d (need vocab %% 4 == 0 and vocab < %d)", n_rows, vocab, SMP_MAX_VOCAB);
    if (n_rows == 0) return;
    if (logits % 16 || params % 8 || out_tokens % 4)
        die("launch_sample: logits must be 16-byte aligned, params 8-byte, out 4-byte");
    if (fn_ctx != g->ctx || fn_stream != g->stream) {  // see gpu_ops.c: the stream is part of the cache key
        fn = gpu_kernel(g, "sample", "sample_f32");
        fn_greedy = gpu_kernel(g, "sample", "sample_greedy");
        fn_topk = gpu_kernel(g, "sample", "sample_topk");
        fn_ctx = g->ctx;
        fn_stream = g->stream;
    }
    unsigned un = (unsigned)n_rows, uv = (unsigned)vocab, nvec = (unsigned)vocab / 4;
    int greedy = host_params != NULL && env_int("QWEN3_SAMPLE_GREEDY", 0, 1, 1);
    for (int r = 0; greedy && r < n_rows; r++) greedy = plain_greedy(&host_params[r]);
    if (greedy) {
        // C CTAs a row: about four CTAs an SM over the launch, each at least a float4 a thread
        int C = n_rows > GR_MAX_ROWS ? 1 : (4 * g->sm_count + n_rows - 1) / n_rows;
        if (C > GR_MAX_CTAS) C = GR_MAX_CTAS;
        if (C > vocab / 4 / GR_THREADS) C = vocab / 4 / GR_THREADS;
        if (C < 1) C = 1;
        CUdeviceptr scratch = C > 1 ? smp_scratch(g) : 0;
        CUfunction sample_greedy = fn_greedy;
        Dim3 grid = { (unsigned)C, un, 1 }, block = { GR_THREADS, 1, 1 };
        if (pre % 16) die("launch_sample: pre must be 16-byte aligned");
        GPU_LAUNCH(g, sample_greedy, grid, block, 0, &out_tokens, &logits, &scratch, &un, &uv, &pre);
        return;
    }
    // (a row of more than TK_MAX_CTAS x TK_NF4 x TK_THREADS float4 does not fit sample_topk's slices)
    unsigned cmin = (nvec + TK_NF4 * TK_THREADS - 1) / (TK_NF4 * TK_THREADS);
    int topk = host_params != NULL && n_rows <= TK_MAX_ROWS && cmin <= TK_MAX_CTAS &&
               env_int("QWEN3_SAMPLE_TOPK", 0, 1, 1);
    for (int r = 0; topk && r < n_rows; r++) topk = topk_row(&host_params[r], vocab);
    if (topk) {
        // C CTAs a row: about four an SM over the launch, each at least 256 float4 where the row has them, each at
        // most TK_NF4 a thread (the slice lives in registers)
        unsigned C = (4 * (unsigned)g->sm_count + un - 1) / un;
        if (C > TK_MAX_CTAS) C = TK_MAX_CTAS;
        if (C > nvec / TK_THREADS) C = nvec / TK_THREADS;
        if (C < cmin) C = cmin;
        if (C < 1) C = 1;
        CUdeviceptr scratch = smp_scratch(g);
        CUfunction sample_topk = fn_topk;
        Dim3 grid = { C, un, 1 }, block = { TK_THREADS, 1, 1 };
        GPU_LAUNCH(g, sample_topk, grid, block, 0, &out_tokens, &logits, &params, &scratch, &un, &uv);
        return;
    }
    CUfunction sample_f32 = fn;
    Dim3 grid = { un, 1, 1 }, block = { SMP_THREADS, 1, 1 };
    GPU_LAUNCH(g, sample_f32, grid, block, SMP_DYN_SMEM, &out_tokens, &logits, &params, &un, &uv);
}
