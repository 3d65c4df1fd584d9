// rope_angle.h — RoPE's angle arithmetic, written once for ptx/rope.ptx and the FP8 qkv GEMM's RoPE epilogue
// (ptx/gemm_rope.h), which must produce the same bits. Why f64: rope.ptx's header.
// Registers the includer declares: .f64 %dp, %db, %dk, %dred; .f32 %fred.
#pragma once
// th (f64) -> sin s, cos c (f32): th reduced by 2 pi (a two-constant Cody-Waite split) to [-pi, pi] in f64, then
// rounded to f32, where sin.approx / cos.approx are accurate to ~2^-21 absolute
#define SINCOS(th, s, c) \
    mul.rn.f64 %dk, th, 0d3FC45F306DC9C883; \
    cvt.rni.f64.f64 %dk, %dk; \
    neg.f64 %dk, %dk; \
    fma.rn.f64 %dred, %dk, 0d401921FB54442D18, th; \
    fma.rn.f64 %dred, %dk, 0d3CB1A62633145C07, %dred; \
    cvt.rn.f32.f64 %fred, %dred; \
    sin.approx.f32 s, %fred; \
    cos.approx.f32 c, %fred;
// one square-and-multiply step of %dp = %db0^L (start %dp = 1, %db = %db0; steps BIT = 0, 1, ...): %dp *= %db when
// bit BIT of L is set, then %db = %db^2. T: a .b32 scratch, P: a .pred scratch.
#define ROPE_POW_STEP(BIT, L, T, P) \
    and.b32 T, L, (1 << BIT); \
    setp.ne.u32 P, T, 0; \
    @P mul.rn.f64 %dp, %dp, %db; \
    mul.rn.f64 %db, %db, %db;
