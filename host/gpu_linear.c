// gpu_linear.c — a linear layer's weight in the form the GEMMs want, chosen once at load (--dtype):
//   bf16: W bf16 [N][K]                                 -> launch_gemm
//   fp8:  W e4m3 [N][K] + block scales [N/128][K/128]   -> launch_quant_act_fp8 on the input, launch_gemm_fp8
// defines: gpu_linear_carve, gpu_linear_upload, gpu_linear_scratch_bytes, launch_linear
//
// FP8 weights come from any GGUF type through bf16: each tensor is dequantised on the GPU into a bf16 scratch
// matrix (the usual upload path), then quantised into 128 x 128 blocks (scale = amax / 448). Going through bf16
// loses nothing for BF16/F16/quantised files whose values bf16 holds exactly or nearly (F32 loses bf16's rounding,
// far below e4m3's). Stacked weights ([Wq;Wk;Wv], [Wgate;Wup]) are quantised as one matrix: every part has a
// multiple of 128 rows in Qwen3 (head_dim 128, ffn a multiple of 128), so no scale block straddles two parts.
#include "gpu_ops.h"
#include "util.h"

static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

GpuLinear gpu_linear_carve(GpuArena *a, int N, int K, int fp8) {
    GpuLinear L = { 0, 0, N, K, fp8 };
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
        launch_quant_w_fp8(g, L->w, L->sw, tmp, L->N, L->K);
    }
}

void launch_linear(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa, int M,
                   int mode) {
    if (!L->fp8) { launch_gemm(g, C, A, L->w, M, L->N, L->K, mode); return; }
    launch_quant_act_fp8(g, a8, sa, A, M, L->K);
    launch_gemm_fp8(g, C, a8, sa, L->w, L->sw, M, L->N, L->K, mode);
}
