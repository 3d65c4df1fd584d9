// gpu_linear.c — a linear layer's weight in the form the GEMMs want, chosen once at load (--dtype):
//   bf16: W bf16 [N][K]                                 -> launch_gemm
//   fp8:  W e4m3 [N][K] + block scales [N/128][K/128]   -> launch_quant_act_fp8 on the input, launch_gemm_fp8
// defines: gpu_linear_carve, gpu_linear_upload, gpu_linear_upload_gated, gpu_linear_scratch_bytes, launch_linear,
//          launch_linear_q, launch_linear_swiglu
//
// FP8 weights come from any GGUF type through bf16: each tensor is dequantised on the GPU into a bf16 scratch
// matrix (the usual upload path), then quantised into 128 x 128 blocks (scale = amax / 448). Going through bf16
// loses nothing for BF16/F16/quantised files whose values bf16 holds exactly or nearly (F32 loses bf16's rounding,
// far below e4m3's). Stacked weights ([Wq;Wk;Wv], [Wgate;Wup]) are quantised as one matrix: every part has a
// multiple of 128 rows in Qwen3 (head_dim 128, ffn a multiple of 128), so no scale block straddles two parts.
//
// Native quants (L->kq, host/gpu_kq.c): a layer whose GGUF tensors are Q4_K / Q5_K / Q6_K / Q8_0 / Q4_0 / Q5_0 may also
// keep them; every launch_linear_* below sends a step of up to L->kq.max_m rows there (bf16 input; the FP8 input paths
// step aside).
//
// FP8 with L->uni: one scale for each 128-row block along all of K (launch_quant_w_fp8_row); an input of one scale a
// row (a8_ready = 2, or a bf16 input these launchers quantise so: quant_in) runs the GEMM's uniform loop.
//
// Gated layers (gpu_linear_upload_gated, the MLP's [Wgate;Wup]): the two are interleaved in blocks of
// GEMM_GATE_ROWS = 8 rows (gate rows 8b..8b+7 at 16b, up rows 8b..8b+7 at 16b + 8) so that the GEMM's SwiGLU
// epilogue finds each output's gate and up in the same thread (ptx/swiglu.h). The interleave is a row-block copy
// of the bf16 matrix, before the FP8 quantisation (whose 128 x 128 blocks then simply cover the interleaved rows).
#include "gpu_ops.h"
#include "util.h"

static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

GpuLinear gpu_linear_carve(GpuArena *a, int N, int K, int fp8) {
    GpuLinear L = { .N = N, .K = K, .fp8 = fp8 };
    if (fp8) {
        L.w = gpu_arena_alloc(a, align256((size_t)N * K));
        L.sw = gpu_arena_alloc(a, align256((size_t)((N + 127) / 128) * (K / 128) * 4));
    } else {
        L.w = gpu_arena_alloc(a, (size_t)N * K * 2);
    }
    return L;
}

// Bytes of bf16 scratch gpu_linear_upload needs for an fp8 layer of N x K (0 for bf16).
size_t gpu_linear_scratch_bytes(int N, int K, int fp8) { return fp8 ? (size_t)N * K * 2 : 0; }

void gpu_linear_upload(Gpu *g, const GpuLinear *L, const GGUFTensor *const *ts, int n, CUdeviceptr tmp) {
    CUdeviceptr dst = L->fp8 ? tmp : L->w;
    int rows = 0;
    for (int i = 0; i < n; i++) {
        if ((int)ts[i]->ne[0] != L->K) die("%s: %lld columns, the layer has %d", ts[i]->name, (long long)ts[i]->ne[0], L->K);
        gpu_upload_tensor_bf16(g, dst, ts[i]);
        dst += (size_t)ts[i]->ne[0] * ts[i]->ne[1] * 2;
        rows += (int)ts[i]->ne[1];
    }
    if (rows != L->N) die("%s: stacked tensors have %d rows, the layer %d", ts[0]->name, rows, L->N);
    if (L->fp8) {
        if (L->K % 128) die("%s: FP8 needs the input width (%d) to be a multiple of 128", ts[0]->name, L->K);
        if (L->uni) launch_quant_w_fp8_row(g, L->w, L->sw, tmp, L->N, L->K);
        else launch_quant_w_fp8(g, L->w, L->sw, tmp, L->N, L->K);
    }
}

// Dequantise one GGUF tensor (rows x K) to bf16 at src, then copy its blocks of 8 rows to every other block of dst
// (starting at block `first`: 0 for gate, 1 for up). Stream-ordered, like the upload itself.
static void upload_interleaved(Gpu *g, CUdeviceptr dst, CUdeviceptr src, const GGUFTensor *t, int K, int first) {
    gpu_upload_tensor_bf16(g, src, t);
    size_t blk = (size_t)GEMM_GATE_ROWS * K * 2;
    for (int b = 0; b < (int)t->ne[1] / GEMM_GATE_ROWS; b++)
        CU_CHECK(cuMemcpyDtoDAsync(dst + (2 * (size_t)b + first) * blk, src + b * blk, blk, g->stream));
}

void gpu_linear_upload_gated(Gpu *g, GpuLinear *L, const GGUFTensor *gate, const GGUFTensor *up, CUdeviceptr tmp,
                             int fp8_out) {
    const GGUFTensor *ts[2] = { gate, up };
    for (int i = 0; i < 2; i++)
        if ((int)ts[i]->ne[0] != L->K || 2 * (int)ts[i]->ne[1] != L->N || ts[i]->ne[1] % GEMM_GATE_ROWS)
            die("%s: %lld x %lld, the gated layer wants two of %d x %d (rows a multiple of %d)", ts[i]->name,
                (long long)ts[i]->ne[1], (long long)ts[i]->ne[0], L->N / 2, L->K, GEMM_GATE_ROWS);
    // bf16: dequantise each half into a scratch, interleave into w. fp8: w (N*K bytes = one bf16 half) is the
    // scratch, the interleaved bf16 goes to tmp and is quantised from there into w.
    CUdeviceptr raw = L->fp8 ? L->w : gpu_alloc(g, (size_t)L->N / 2 * L->K * 2), dst = L->fp8 ? tmp : L->w;
    upload_interleaved(g, dst, raw, gate, L->K, 0);
    upload_interleaved(g, dst, raw, up, L->K, 1);
    if (L->fp8) {
        if (L->K % 128) die("%s: FP8 needs the input width (%d) to be a multiple of 128", gate->name, L->K);
        if (L->uni) launch_quant_w_fp8_row(g, L->w, L->sw, tmp, L->N, L->K);
        else launch_quant_w_fp8(g, L->w, L->sw, tmp, L->N, L->K);
    } else {
        gpu_sync(g);
        gpu_free(g, raw);
    }
    L->gated = fp8_out ? 2 : 1;
}

void launch_linear_q(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa, int M,
                     int mode, int a8_ready) {
    launch_linear_qn(g, L, C, A, a8, sa, M, mode, a8_ready, NULL);
}

// Quantises L's bf16 input A into a8 / sa: one scale a row where L's weights have uniform scales (returns 2: the
// GEMM may run its uniform loop), else one a row per 128 columns (1).
static int quant_in(Gpu *g, const GpuLinear *L, CUdeviceptr a8, CUdeviceptr sa, CUdeviceptr A, int M) {
    if (L->uni) {
        launch_quant_act_fp8_row(g, a8, sa, A, M, L->K);
        return 2;
    }
    launch_quant_act_fp8(g, a8, sa, A, M, L->K);
    return 1;
}

void launch_linear_qn(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa, int M,
                      int mode, int a8_ready, const GemmNorm *nm) {
    if (nm) {  // the producer-side RMSNorm: the caller checked linear_norm8_takes (its usual loop takes any scales)
        if (!a8_ready) quant_in(g, L, a8, sa, A, M);
        launch_gemm_fp8_nm(g, C, a8, sa, L->w, L->sw, M, L->N, L->K, mode, -1, 0, nm);
        return;
    }
    if (!a8_ready && (mode == GEMM_STORE_F32 || mode == GEMM_ADD_F32) && gpu_kq_takes(&L->kq, M)) {
        launch_gemv_kq(g, &L->kq, C, A, M, mode);  // the native quantised copy (host/gpu_kq.c)
        return;
    }
    if (!L->fp8) { launch_gemm(g, C, A, L->w, M, L->N, L->K, mode); return; }
    if (!a8_ready && M >= 1 && M <= gemv_fp8_max_m() && (mode == GEMM_STORE_F32 || mode == GEMM_ADD_F32)) {
        launch_gemv_fp8(g, C, A, L->w, L->sw, M, L->N, L->K, mode);  // QWEN3_GEMV_MAX_M (off by default)
        return;
    }
    if (!a8_ready) a8_ready = quant_in(g, L, a8, sa, A, M);
    GemmNorm un = { .uni = L->uni };  // an input with one scale a row (launch_rmsnorm_fp8_row, quant_in)
    launch_gemm_fp8_nm(g, C, a8, sa, L->w, L->sw, M, L->N, L->K, mode, -1, 0, a8_ready == 2 && L->uni ? &un : NULL);
}

void launch_linear(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa, int M,
                   int mode) {
    launch_linear_q(g, L, C, A, a8, sa, M, mode, 0);
}

int launch_linear_rowmax(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr pmax, CUdeviceptr A, CUdeviceptr a8,
                         CUdeviceptr sa, int M, int a8_ready) {
    if (!L->fp8 || M < 1 || M <= gemv_fp8_max_m() || gpu_kq_takes(&L->kq, M)) {
        launch_linear_q(g, L, C, A, a8, sa, M, GEMM_STORE_F32, 0);
        return 0;
    }
    if (!a8_ready) a8_ready = quant_in(g, L, a8, sa, A, M);
    return launch_gemm_fp8_rowmax(g, C, pmax, a8, sa, L->w, L->sw, M, L->N, L->K, -1, 0, a8_ready == 2 ? L->uni : 0);
}

// The FP8-quantising epilogue needs 128 outputs of a row in one tile: the bf16 128x256 tile (when the tile choice
// lands on it) and the FP8 64x256 one (when its tiles give ~every SM one: from M = 128 on the 8B's gate_up; below,
// 64x128's twice as many tiles win). Elsewhere a is written in bf16 and the next GEMM quantises it. The FP8 form
// goes into a's own buffer (2 bytes an output: room for the e4m3 byte and the scales), never over the input a8.
int launch_linear_swiglu(Gpu *g, const GpuLinear *L, CUdeviceptr a, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa,
                         int M, int want8) {
    return launch_linear_swiglu_q(g, L, a, A, a8, sa, M, want8, 0);
}

// FP8 weights: whether the gated layer's GEMM writes the FP8 form (the 64x256 / 128x256 quantising epilogue, when
// its tiles give ~every SM one); else it writes bf16 SwiGLU
static int swiglu8_fp8(Gpu *g, const GpuLinear *L, int M, int want8) {
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    return want8 && L->gated == 2 && L->N % 256 == 0 && M > 0 && 10 * ((M + 63) / 64) * (L->N / 256) >= 9 * sms;
}

int launch_linear_swiglu_q(Gpu *g, const GpuLinear *L, CUdeviceptr a, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa,
                           int M, int want8, int a8_ready) {
    return launch_linear_swiglu_qn(g, L, a, A, a8, sa, M, want8, a8_ready, NULL);
}

int linear_norm8_takes(Gpu *g, const GpuLinear *L, int M, int want8) {
    if (!L->fp8 || M <= gemv_fp8_max_m() || gpu_kq_takes(&L->kq, M)) return 0;
    return (L->gated && swiglu8_fp8(g, L, M, want8)) || gemm_fp8_wg_choice(g, M, L->N, L->K);
}

int launch_linear_swiglu_qn(Gpu *g, const GpuLinear *L, CUdeviceptr a, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa,
                            int M, int want8, int a8_ready, const GemmNorm *nm) {
    if (!L->gated) die("launch_linear_swiglu: the layer was not uploaded gated (gpu_linear_upload_gated)");
    if (nm && !L->fp8) die("launch_linear_swiglu: the producer-side RMSNorm needs FP8 weights");
    if (!a8_ready && gpu_kq_takes(&L->kq, M)) {  // (its native copy is [gate; up], not interleaved)
        launch_gemv_kq(g, &L->kq, a, A, M, GEMM_SWIGLU_BF16);
        return 0;
    }
    int q = want8 && L->gated == 2 && L->N % 256 == 0 && M > 0;
    GemmNorm un = { .uni = L->uni };
    if (L->fp8) {
        if (!a8_ready) a8_ready = quant_in(g, L, a8, sa, A, M);
        if (a8_ready == 2 && L->uni && !nm) nm = &un;  // an input with one scale a row (launch_rmsnorm_fp8_row, quant_in)
        if (swiglu8_fp8(g, L, M, want8)) {
            launch_gemm_swiglu_fp8_nm(g, a, a + swiglu_fp8_scales(M, L->N / 2), a8, sa, L->w, L->sw, M, L->N, L->K, 0,
                                      -1, nm);
            return 1;
        }
        launch_gemm_fp8_nm(g, a, a8, sa, L->w, L->sw, M, L->N, L->K, GEMM_SWIGLU_BF16, -1, 0, nm);
        return 0;
    }
    int splits = 0;
    if (q && gemm_tile_choice(g, M, L->N, L->K, GEMM_SWIGLU_BF16, &splits) == GEMM_SWIGLU_FP8_TILE) {
        launch_gemm_swiglu_fp8(g, a, a + swiglu_fp8_scales(M, L->N / 2), A, 0, L->w, 0, M, L->N, L->K, splits, -1);
        return 1;
    }
    launch_gemm(g, a, A, L->w, M, L->N, L->K, GEMM_SWIGLU_BF16);
    return 0;
}

int launch_linear_build(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr x, CUdeviceptr nw, float eps, int M,
                        int mode, int want8) {
    if (!L->fp8 || gpu_kq_takes(&L->kq, M)) return 0;
    if (mode == GEMM_SWIGLU_BF16 && (!L->gated || swiglu8_fp8(g, L, M, want8))) return 0;
    int splits = gemm_fp8_build_splits(g, M, L->N, L->K, nw != 0);
    if (splits < 0) return 0;
    launch_gemm_fp8_build(g, C, x, nw, eps, L->w, L->sw, M, L->N, L->K, mode, splits);
    return 1;
}
