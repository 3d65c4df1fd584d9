// swiglu.h — the SwiGLU activation written once for swiglu.ptx and the GEMM epilogues (gemm_wg_body.h,
// gemm_bf16_body.h), so the fused and the separate paths compute bit-identical values from the same f32 gate/up:
//   SILU_MUL(g, u, o): o = silu(g) * u = g / (1 + exp(-g)) * u in f32, o used as the scratch register (o must differ
//   from g and u). exp(-g) = ex2.approx(-g * log2 e) (2^-22 relative), rcp.approx (1 ulp): far below bf16's 2^-9;
//   g < -88 overflows exp to +inf, the reciprocal to 0, silu(g) = -0 (right to f32 precision).
// The gate/up weight pair of a fused GEMM is interleaved in blocks of GATE_ROWS = 8 rows (host/gpu_linear.c,
// gpu_linear_upload_gated): rows 16b..16b+7 = Wgate rows 8b..8b+7, rows 16b+8..16b+15 = Wup rows 8b..8b+7. An
// accumulator group of 8 columns (wgmma m64nN group j, mma.sync n8 tile nt) is then gate when even, and the next
// group holds the matching up values in the same registers of the same thread: output column
// (tile column of the even group) / 2 + (column within the group). PAIRSn(X, a) expands X(a, 2p, 2p + 1, p) for
// p < n/2 (n = groups per thread: 2..32).
#pragma once
#define SILU_MUL(g, u, o) \
    mul.rn.f32 o, g, 0fBFB8AA3B; \
    ex2.approx.ftz.f32 o, o; \
    add.rn.f32 o, o, 0f3F800000; \
    rcp.approx.ftz.f32 o, o; \
    mul.rn.f32 o, g, o; \
    mul.rn.f32 o, o, u;
#define PAIRS2(X, a) X(a, 0, 1, 0)
#define PAIRS4(X, a) PAIRS2(X, a) X(a, 2, 3, 1)
#define PAIRS8(X, a) PAIRS4(X, a) X(a, 4, 5, 2) X(a, 6, 7, 3)
#define PAIRS16(X, a) PAIRS8(X, a) X(a, 8, 9, 4) X(a, 10, 11, 5) X(a, 12, 13, 6) X(a, 14, 15, 7)
#define PAIRS32(X, a) PAIRS16(X, a) X(a, 16, 17, 8) X(a, 18, 19, 9) X(a, 20, 21, 10) X(a, 22, 23, 11) \
    X(a, 24, 25, 12) X(a, 26, 27, 13) X(a, 28, 29, 14) X(a, 30, 31, 15)
