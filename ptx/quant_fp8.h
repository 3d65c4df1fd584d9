// quant_fp8.h — the activation quantiser's arithmetic, written once for quant_fp8.ptx's quant_act_fp8 and the
// kernels that quantise their own output into the next FP8 GEMM's input (attn_dec.ptx), so both give the same bytes:
// over a group of 128 bf16 values, scale = amax / 448 (e4m3's largest finite value; an all-zero group gets 1),
// q = satfinite(x * rcp(scale)) rounded to nearest even. Packing: cvt.rn.satfinite.e4m3x2.f32 d, a, b puts a in the
// high byte, so for four values v0..v3 (v0 at the lowest address) the word is {cvt(v1, v0), cvt(v3, v2)}.
// Registers the includer declares: .f32 %f0..%f3, %amax, %scale, %inv; .b16 %h0, %h1; .pred %p.
#pragma once
// bf16 pair word w -> two f32 (low half first in memory)
#define UNPACK(w, lo, hi) shl.b32 lo, w, 16; and.b32 hi, w, 0xFFFF0000;
#define AMAX2(w) UNPACK(w, %f0, %f1) abs.f32 %f0, %f0; abs.f32 %f1, %f1; max.f32 %amax, %amax, %f0; \
                 max.f32 %amax, %amax, %f1;
// two bf16 pair words -> one word of four e4m3
#define QUANT4(w0, w1, out) UNPACK(w0, %f0, %f1) UNPACK(w1, %f2, %f3) \
    mul.f32 %f0, %f0, %inv; mul.f32 %f1, %f1, %inv; mul.f32 %f2, %f2, %inv; mul.f32 %f3, %f3, %inv; \
    cvt.rn.satfinite.e4m3x2.f32 %h0, %f1, %f0; cvt.rn.satfinite.e4m3x2.f32 %h1, %f3, %f2; mov.b32 out, {%h0, %h1};
// scale and its reciprocal from amax (all-zero group: scale 1)
#define SCALE setp.gt.f32 %p, %amax, 0f00000000; div.rn.f32 %scale, %amax, 0f43E00000; @!%p mov.f32 %scale, 0f3F800000; \
    rcp.rn.f32 %inv, %scale;
