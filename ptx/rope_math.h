// rope_math.h — the per-head arithmetic of a Qwen3 q / k head (RMSNorm over 128, times the norm weight, NeoX RoPE)
// and of a KV-cache row's e4m3 quantisation, one warp a head, lane l holding elements 2l, 2l+1, 64+2l, 65+2l
// (x0..x3). Written once for ptx/rope.ptx (rope_body.h) and the decode attention that does the same work for its own
// token (ptx/attn_dec_body.h, ATTN_ROPE), so both write the very same bytes. rope.ptx's header says why the angle
// is computed in f64. The includer declares the registers named below (rope_body.h's names).
#pragma once
#include "warp.h"

// x in [-pi, pi] after reduction; th -> (sin, cos) in f32.
#define SINCOS(th, s, c) \
    mul.rn.f64 %dk, th, 0d3FC45F306DC9C883; \
    cvt.rni.f64.f64 %dk, %dk; \
    neg.f64 %dk, %dk; \
    fma.rn.f64 %dred, %dk, 0d401921FB54442D18, th; \
    fma.rn.f64 %dred, %dk, 0d3CB1A62633145C07, %dred; \
    cvt.rn.f32.f64 %fred, %dred; \
    sin.approx.f32 s, %fred; \
    cos.approx.f32 c, %fred;

// p *= b when bit BIT of the lane is set; b = b^2.
#define POW_STEP(BIT) \
    and.b32 %r_bit, %r_lane, (1 << BIT); \
    setp.ne.u32 %pb, %r_bit, 0; \
    @%pb mul.rn.f64 %dp, %dp, %db; \
    mul.rn.f64 %db, %db, %db;

// The lane's two angles th = pos * f(i), i = 2l, 2l+1, in f64: f(2l) = (r^2)^l by square-and-multiply over the
// lane's bits, f(2l+1) = f(2l) * r; -> (s0, c0), (s1, c1).
#define ANGLES \
    mul.rn.f64 %db, %dr, %dr; \
    mov.f64 %dp, 0d3FF0000000000000; \
    POW_STEP(0) POW_STEP(1) POW_STEP(2) POW_STEP(3) POW_STEP(4) \
    cvt.rn.f64.s32 %dpos, %r_pos; \
    mul.rn.f64 %dth, %dpos, %dp; \
    SINCOS(%dth, %s0, %c0) \
    mul.rn.f64 %dp, %dp, %dr; \
    mul.rn.f64 %dth, %dpos, %dp; \
    SINCOS(%dth, %s1, %c1)

// bf16 pairs h0 (elements 2l, 2l+1), h1 (64+2l, 65+2l) -> f32 x0..x3 (exact)
#define UNPACK_BF16 \
    shl.b32 %r6, %h0, 16; mov.b32 %x0, %r6; and.b32 %r6, %h0, 0xFFFF0000; mov.b32 %x1, %r6; \
    shl.b32 %r6, %h1, 16; mov.b32 %x2, %r6; and.b32 %r6, %h1, 0xFFFF0000; mov.b32 %x3, %r6;

// HEAD_NORM_ROT(W, OFF): o0..o3 = rope(rmsnorm(x0..x3) * w), w = the f32 norm weights at W + OFF (OFF = 8 lane
// bytes; W is advanced by it), eps in %eps, the position in %r_pos, r in %dr. In three parts for a caller that has
// the weights (w0..w3) and the angles (s0, c0, s1, c1) already: HEAD_RSTD, HEAD_W, HEAD_ROT(ANG).
#define HEAD_RSTD \
    mul.rn.f32 %ss, %x0, %x0; \
    fma.rn.f32 %ss, %x1, %x1, %ss; \
    fma.rn.f32 %ss, %x2, %x2, %ss; \
    fma.rn.f32 %ss, %x3, %x3, %ss; \
    WARP_SUM(%ss, %t) \
    mul.rn.f32 %t, %ss, 0f3C000000;             /* / 128 (exact) */ \
    add.rn.f32 %t, %t, %eps; \
    sqrt.rn.f32 %t, %t; \
    rcp.rn.f32 %rstd, %t;
#define HEAD_W(W, OFF) \
    add.u64 W, W, OFF; \
    ld.global.nc.v2.f32 {%w0, %w1}, [W]; \
    ld.global.nc.v2.f32 {%w2, %w3}, [W+HEAD_DIM*2];
#define HEAD_ROT(ANG) \
    mul.rn.f32 %y0, %x0, %rstd; \
    mul.rn.f32 %y0, %y0, %w0; \
    mul.rn.f32 %y1, %x1, %rstd; \
    mul.rn.f32 %y1, %y1, %w1; \
    mul.rn.f32 %y2, %x2, %rstd; \
    mul.rn.f32 %y2, %y2, %w2; \
    mul.rn.f32 %y3, %x3, %rstd; \
    mul.rn.f32 %y3, %y3, %w3; \
    ANG                                         /* (s0, c0), (s1, c1) of elements 2l, 2l + 1 */ \
    mul.rn.f32 %o0, %y2, %s0;                   /* rotate the pairs (2l, 64+2l) and (2l+1, 65+2l) */ \
    neg.f32 %o0, %o0; \
    fma.rn.f32 %o0, %y0, %c0, %o0;              /* y0 cos - y2 sin */ \
    mul.rn.f32 %o2, %y0, %s0; \
    fma.rn.f32 %o2, %y2, %c0, %o2;              /* y2 cos + y0 sin */ \
    mul.rn.f32 %o1, %y3, %s1; \
    neg.f32 %o1, %o1; \
    fma.rn.f32 %o1, %y1, %c1, %o1; \
    mul.rn.f32 %o3, %y1, %s1; \
    fma.rn.f32 %o3, %y3, %c1, %o3;
#define HEAD_NORM_ROT(W, OFF) HEAD_RSTD HEAD_W(W, OFF) HEAD_ROT(ANGLES)

// FP8_ROW: the row o0..o3 (of all 32 lanes) as the fp8 cache holds it: first rounded to bf16 (so the fp8 row is
// exactly the quantisation of the row the bf16 cache would hold), scale = amax / 448 over the 128 values (an all-zero
// row: 1), e4m3 = satfinite(x * (1 / scale)) to nearest, as ptx/quant_fp8.ptx does -> %b0 (elements 2l, 2l+1), %b1
// (64+2l, 65+2l), %scale.
#define FP8_ROW \
    cvt.rn.bf16x2.f32 %h0, %o1, %o0; \
    cvt.rn.bf16x2.f32 %h1, %o3, %o2; \
    mov.b32 {%b0, %b1}, %h0; \
    mov.b32 {%b2, %b3}, %h1; \
    cvt.f32.bf16 %o0, %b0; \
    cvt.f32.bf16 %o1, %b1; \
    cvt.f32.bf16 %o2, %b2; \
    cvt.f32.bf16 %o3, %b3; \
    abs.f32 %amax, %o0; \
    abs.f32 %t, %o1; \
    max.f32 %amax, %amax, %t; \
    abs.f32 %t, %o2; \
    max.f32 %amax, %amax, %t; \
    abs.f32 %t, %o3; \
    max.f32 %amax, %amax, %t; \
    WARP_MAX(%amax, %t) \
    setp.gt.f32 %pz, %amax, 0f00000000; \
    div.rn.f32 %scale, %amax, 0f43E00000;       /* / 448 */ \
    @!%pz mov.f32 %scale, 0f3F800000; \
    rcp.rn.f32 %inv, %scale; \
    mul.rn.f32 %o0, %o0, %inv; \
    mul.rn.f32 %o1, %o1, %inv; \
    mul.rn.f32 %o2, %o2, %inv; \
    mul.rn.f32 %o3, %o3, %inv; \
    cvt.rn.satfinite.e4m3x2.f32 %b0, %o1, %o0;  /* first source -> high byte = odd element */ \
    cvt.rn.satfinite.e4m3x2.f32 %b1, %o3, %o2;
