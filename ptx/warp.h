// warp.h — the full-warp butterfly reductions, written once for the kernels that reduce a value over 32 lanes
// (rmsnorm, rope's per-head norm and FP8 row amax, quant_fp8, gemv_fp8). After WARP_SUM / WARP_MAX every lane holds
// the result; T is a scratch .f32 register. All 32 lanes must execute it (shfl.sync with the full mask).
#pragma once
#define WARP_STEP_(OP, X, T, D) shfl.sync.bfly.b32 T, X, D, 0x1f, 0xffffffff; OP.f32 X, X, T;
#define WARP_SUM(X, T) WARP_STEP_(add, X, T, 16) WARP_STEP_(add, X, T, 8) WARP_STEP_(add, X, T, 4) \
    WARP_STEP_(add, X, T, 2) WARP_STEP_(add, X, T, 1)
#define WARP_MAX(X, T) WARP_STEP_(max, X, T, 16) WARP_STEP_(max, X, T, 8) WARP_STEP_(max, X, T, 4) \
    WARP_STEP_(max, X, T, 2) WARP_STEP_(max, X, T, 1)
