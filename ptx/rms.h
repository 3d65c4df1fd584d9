// rms.h — the RMSNorm scale from the 8 warp sums of squares at shared address A (f32 [8]), written once for
// rmsnorm.ptx and gemm_sw_build.h, whose e4m3 bytes must equal rmsnorm_f32_fp8's: the sums added in one fixed order
// ((0+1)+(2+3)) + ((4+5)+(6+7)), then RSTD = 1 / sqrt(sum / DIM + EPS), each step correctly rounded.
// p0..p7: .f32 scratch (p0 ends holding sum / DIM + EPS, its root); DIM: .u32; EPS, RSTD: .f32.
#pragma once
#define RMS_RSTD(A, p0, p1, p2, p3, p4, p5, p6, p7, DIM, EPS, RSTD) \
    ld.shared.v4.f32 {p0, p1, p2, p3}, [A]; \
    ld.shared.v4.f32 {p4, p5, p6, p7}, [A + 16]; \
    add.f32 p0, p0, p1; add.f32 p2, p2, p3; add.f32 p4, p4, p5; add.f32 p6, p6, p7; \
    add.f32 p0, p0, p2; add.f32 p4, p4, p6; add.f32 p0, p0, p4; \
    cvt.rn.f32.u32 p1, DIM; div.rn.f32 p0, p0, p1; add.rn.f32 p0, p0, EPS; sqrt.rn.f32 p0, p0; rcp.rn.f32 RSTD, p0;
