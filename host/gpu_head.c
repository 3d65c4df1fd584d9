// gpu_head.c — the rescored FP8 output head (--head-dtype rescore; ptx/head_rescore.ptx): the FP8 GEMM gives every
// logit, then the logits within delta of each row's best are recomputed from the bf16 head, so that the argmax is the
// bf16 head's while the weight stream is the FP8 head's (0.62 GB a token on the 8B instead of 1.24).
// defines: head_rescore_consts, launch_head_rescore
#include "gpu_ops.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>

enum {  // as ptx/head_rescore.ptx
    HR_THREADS = 256,
    HR_WARPS = 8,
    HR_MAX_K = HEAD_RESCORE_MAX_K,
    HR_CHUNK = HEAD_RESCORE_CHUNK,
    HR_MAX_CHUNKS = HEAD_RESCORE_MAX_CHUNKS,
    HR_MAX_SPLIT = HEAD_RESCORE_BEST,  // head_rescore's CTAs a row, at most (one slot of best each)
};
_Static_assert(HR_CHUNK / 64 == 16, "ptx/head_rescore.ptx HR_SUB: the GEMM's 64-logit maxima a chunk");

static CUcontext fn_ctx;
static CUstream fn_stream;
static CUfunction fn_err, fn_rowmax, fn_rescore;

static void load_functions(Gpu *g) {
    if (fn_ctx == g->ctx && fn_stream == g->stream) return;
    fn_err = gpu_kernel(g, "head_rescore", "fp8_row_err");
    fn_rowmax = gpu_kernel(g, "head_rescore", "head_rowmax");
    fn_rescore = gpu_kernel(g, "head_rescore", "head_rescore");
    fn_ctx = g->ctx;
    fn_stream = g->stream;
}

// At load: D2 = max over rows of |w - w8|^2 and W2 = max of |w8|^2 (fp8_row_err, one pass over both heads), then
// cd = (2z)^2 D2 / K and cw = (2z)^2 W2 / K for launch_head_rescore (delta = 2 z sigma; ptx/head_rescore.ptx).
void head_rescore_consts(Gpu *g, CUdeviceptr w16, CUdeviceptr w8, CUdeviceptr sw, int N, int K, float z, float *cd,
                         float *cw) {
    if (N <= 0 || K <= 0 || K % 128 || (w16 | w8) % 16 || sw % 4)
        die("head_rescore_consts: N=%d K=%d (K %% 128 == 0, 16-byte aligned weights)", N, K);
    load_functions(g);
    CUdeviceptr out = gpu_alloc(g, (size_t)N * 8);
    unsigned uN = (unsigned)N, uK = (unsigned)K;
    Dim3 grid = { (uN + HR_WARPS - 1) / HR_WARPS, 1, 1 }, block = { HR_THREADS, 1, 1 };
    CUfunction fp8_row_err = fn_err;
    GPU_LAUNCH(g, fp8_row_err, grid, block, 0, &out, &w16, &w8, &sw, &uN, &uK);
    float *h = xmalloc((size_t)N * 8);
    gpu_download(g, h, out, (size_t)N * 8);  // (synchronises)
    gpu_free(g, out);
    double d2 = 0, w2 = 0;
    for (int i = 0; i < N; i++) {
        if (!isfinite(h[2 * i]) || !isfinite(h[2 * i + 1])) die("head_rescore_consts: head row %d is not finite", i);
        if (h[2 * i] > d2) d2 = h[2 * i];
        if (h[2 * i + 1] > w2) w2 = h[2 * i + 1];
    }
    free(h);
    double zz = 4.0 * z * z;
    *cd = (float)(zz * d2 / K);
    *cw = (float)(zz * w2 / K);
}

// Row r of n: the FP8 logits [n][V] in place; h bf16 [n][K] (the head's input), a8 / sa its e4m3 form as the FP8 GEMM
// read it (a8 = 0: the GEMM read h itself), w16 the bf16 head [V][K], part f32 [n][ceil(V / HEAD_RESCORE_CHUNK)]
// scratch, stats u32 [n][4] or 0. Two launches: the maxima of the rows' chunks of 1,024 logits (the one full pass over
// the logits), then per row the row max, delta, and the candidates of only the chunks whose max is >= max - delta.
// pmax != 0: the head GEMM already wrote the maxima of every 64 logits there (launch_gemm_fp8_rowmax, f32 [n][ceil(V /
// 64)]): no first launch, and the second reads pmax instead of part.
void launch_head_rescore(Gpu *g, CUdeviceptr logits, CUdeviceptr part, CUdeviceptr pmax, CUdeviceptr h, CUdeviceptr a8,
                         CUdeviceptr sa, CUdeviceptr w16, CUdeviceptr stats, int n, int V, int K, float cd, float cw,
                         CUdeviceptr best) {
    if (n < 0 || V <= 0 || V % 4 || V > HR_MAX_CHUNKS * HR_CHUNK || K <= 0 || K % 128 || K > HR_MAX_K)
        die("launch_head_rescore: n=%d V=%d K=%d (V %% 4 == 0, V <= %d, K %% 128 == 0, K <= %d)", n, V, K,
            HR_MAX_CHUNKS * HR_CHUNK, HR_MAX_K);
    if ((logits | h | a8 | w16 | stats | best) % 16 || part % 4 || pmax % 4 || sa % 4)
        die("launch_head_rescore: logits, h, a8, w16, stats and best must be 16-byte aligned");
    if (a8 && !sa) die("launch_head_rescore: an e4m3 input needs its scales");
    if (n == 0) return;
    load_functions(g);
    unsigned uV = (unsigned)V, uK = (unsigned)K, nck = (uV + HR_CHUNK - 1) / HR_CHUNK, usub = pmax ? HR_CHUNK / 64 : 1;
    // head_rowmax: a warp a chunk, HR_WARPS chunks a CTA (Qwen3: 149 chunks, 19 CTAs a row, each with its 32 KB of
    // loads in flight at once: at n = 1 the 0.6 MB row is one round trip on 19 SMs)
    Dim3 grid = { (nck + HR_WARPS - 1) / HR_WARPS, (unsigned)n, 1 }, block = { HR_THREADS, 1, 1 };
    CUfunction head_rowmax = fn_rowmax, head_rescore = fn_rescore;
    if (pmax) part = pmax;
    else GPU_LAUNCH(g, head_rowmax, grid, block, 0, &part, &logits, &uV);
    // head_rescore: ns CTAs a row share its flagged chunks (~12 of them) out, about one CTA an SM over all rows and at
    // most HR_MAX_SPLIT a row (n = 1: 8 CTAs, one round of flagged chunks each; n >= the SM count: one CTA a row, two
    // rounds of eight); every CTA reads x and the row's chunk maxima again, a few KB from L2)
    int sms = g->sm_count > 0 ? g->sm_count : 132, ns = (sms + n - 1) / n;
    if (ns > HR_MAX_SPLIT) ns = HR_MAX_SPLIT;
    grid = (Dim3){ (unsigned)ns, (unsigned)n, 1 };
    GPU_LAUNCH(g, head_rescore, grid, block, 0, &logits, &part, &h, &a8, &sa, &w16, &stats, &uV, &uK, &usub, &cd, &cw,
               &best);
}
