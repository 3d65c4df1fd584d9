// key64.h — the 56-bit key that orders logits as host/sampler.c does (higher logit first, equal logits by lower id):
// K = orderable(x canonical) << 24 | (0xFFFFFF ^ id), so the largest K is the greedy answer. x + 0 turns -0 into +0
// (the CPU compares them equal); orderable: flip all bits of a negative float, set the sign bit of a positive one.
// ids < 2^24. Shared by sample.ptx (every pass over a row) and head_rescore.ptx (the greedy answer among the
// rescored candidates, which sample_greedy then takes instead of a pass). The includer declares .f32 %xc and .b32
// %kb, %kt, %khi, %klo, %kid.
#pragma once
#define KEY64(K, x, id) \
    add.rn.f32 %xc, x, 0f00000000; \
    mov.b32 %kb, %xc; \
    shr.s32 %kt, %kb, 31; \
    or.b32 %kt, %kt, 0x80000000; \
    xor.b32 %kb, %kb, %kt; \
    shr.u32 %khi, %kb, 8; \
    shl.b32 %klo, %kb, 24; \
    xor.b32 %kid, id, 0xFFFFFF; \
    or.b32 %klo, %klo, %kid; \
    mov.b64 K, {%klo, %khi};
