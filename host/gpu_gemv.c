// gpu_gemv.c — launch_gemv_fp8: decode-size linear layers (M <= GEMV_MAX_M rows) straight from FP8 weights and the
// bf16 activation (ptx/gemv_fp8.ptx: W8A16 on the CUDA cores, one warp per output, weights streamed evict-first).
// defines: launch_gemv_fp8, gemv_fp8_max_m
//
// Why beside the tensor-core tiles: at batch 1 a layer is 1 FLOP per weight byte, so the CUDA cores keep up and
// what counts is bytes in flight; and the activation needs no quantiser launch (4 per layer at batch 1, ~4 us each
// in the profile of b3a560c on the H200). The rows it serves: QWEN3_GEMV_MAX_M (1..4; 0 = off, the default: on the
// H200 (1b9f9ca+) it streamed 0.86-1.34 TB/s against 1.16-2.89 for quantiser + FP8 decode tile, test_gpu_gemv —
// one pass of 128 B per lane, then compute, leaves too few bytes in flight; a cp.async.bulk ring is the next try).
#include "gpu_ops.h"
#include "util.h"
#include <stdlib.h>

enum { GEMV_THREADS = 256, GEMV_WARPS = GEMV_THREADS / 32, GEMV_ROWS_MAX = 4 };

int gemv_fp8_max_m(void) {
    static int max_m = -1;
    if (max_m < 0) {
        max_m = env_int("QWEN3_GEMV_MAX_M", 0, GEMV_ROWS_MAX, 0);
    }
    return max_m;
}

void launch_gemv_fp8(Gpu *g, CUdeviceptr C, CUdeviceptr X, CUdeviceptr W8, CUdeviceptr sw, int M, int N, int K,
                     int mode) {
    static CUcontext fn_ctx;
    static CUfunction fn;
    if (M < 1 || M > GEMV_ROWS_MAX || K <= 0 || K % 128 || N <= 0)
        die("launch_gemv_fp8: bad shape M=%d N=%d K=%d (1 <= M <= %d, K %% 128 == 0)", M, N, K, GEMV_ROWS_MAX);
    if (mode != GEMM_STORE_F32 && mode != GEMM_ADD_F32) die("launch_gemv_fp8: mode %d is not store or add f32", mode);
    if ((X | W8) % 16 || sw % 4 || C % 4) die("launch_gemv_fp8: X and W8 must be 16-byte aligned, sw and C 4-byte");
    if (fn_ctx != g->ctx) {
        fn = gpu_kernel(g, "gemv_fp8", "gemv_fp8");
        fn_ctx = g->ctx;
    }
    unsigned units = (unsigned)N;
    unsigned uM = (unsigned)M, uN = (unsigned)N, uK = (unsigned)K, umode = (unsigned)mode;
    Dim3 grid = { (units + GEMV_WARPS - 1) / GEMV_WARPS, 1, 1 }, block = { GEMV_THREADS, 1, 1 };
    void *args[] = { &C, &X, &W8, &sw, &uM, &uN, &uK, &umode };
    gpu_launch(g, fn, grid, block, 0, NULL, args, "gemv_fp8");
}
