// gemm_rope.h — mode 7 of the FP8 wgmma tiles (gemm_wg_body.h): the qkv projection's epilogue does what
// ptx/rope.ptx's qknorm_rope_kv_fp8_b16 / qknorm_rope_kv_b16 would do next — per-head RMSNorm of q and k, NeoX RoPE,
// q into q_out (bf16), k and v into the paged cache (e4m3 rows with f32 scales, or bf16) — so the qkv output never
// goes to memory and the RoPE launch goes away. Bit for bit the same results as that pair of launches: the outputs
// are first rounded to bf16 (what mode 1 stores and the _b16 entries load), and every operation is rope.ptx's in
// rope.ptx's order, including the head's sum of squares: RoPE lane l (elements 2l, 2l+1, 64+2l, 65+2l) is this
// thread's group j = l / 4 (quad lane q = l % 4) and group j + 8, so the warp butterfly over l (xor 16, 8, 4, 2, 1)
// becomes the pairs (j, j^4), (j, j^2), (j, j^1) inside the thread, then the quad's shuffles (xor 2, 1).
// Needs: a consumer's columns are whole heads (WN = 128: one head; FP8H, WN = 256: two), n0 % 128 == 0, N % 128 == 0
// (host/gpu_gemm.c launch_gemm_fp8_rope checks); head_dim 128.
// Cs points to a descriptor (host/gpu_ops.h GemmRope, 112 bytes): u64 q_out, k_pool, v_pool, k_scale, v_scale, q_norm,
// k_norm, block_table, tok_slot, tok_pos (byte offsets 0..72); u32 n_head, n_kv, max_pages, kv_fp8 (80..92); f64 r
// (96); f32 eps (104); then at byte 128 the f64 frequencies f[i] = r^i, i < 64, computed by gemm_rope_desc exactly as
// rope.ptx computes them (square-and-multiply over the bits of l for f[2l], times r for f[2l+1]): the epilogue loads
// them instead of raising r to the power per element (its f64 chain made the first version slower than the RoPE
// launch it replaced, NOTES session 22). Row m of the GEMM is token m.
// Registers: the scratch accumulator X (dead in the epilogue, live to ptxas) holds the eight partial sums of squares
// (%x0_0 .. %x7_0) and the f32 temporaries (RQ_* below), so the epilogue adds few registers to the tile's.
#pragma once
#include "rope_angle.h"

#define RQ_T %x8_0                       // f32 temporaries in the scratch accumulator
#define RQ_U %x8_1
#define RQ_O %x8_2
#define RQ_RSTD %x8_3
#define RQ_W0 %x9_0
#define RQ_W1 %x9_1
#define RQ_W2 %x9_2
#define RQ_W3 %x9_3
#define RQ_Y0 %x10_0
#define RQ_Y1 %x10_1
#define RQ_Y2 %x10_2
#define RQ_Y3 %x10_3
#define RQ_S0 %x11_0
#define RQ_C0 %x11_1
#define RQ_S1 %x11_2
#define RQ_C1 %x11_3
#define RQ_AM %x12_0
#define RQ_SC %x12_1
#define RQ_INV %x12_2
#define RQ_EPS %x12_3
#define RQ_DECL .reg .b32 %rq_nh, %rq_nkv, %rq_hd, %rq_kv, %rq_c, %rq_u32, %rq_s0, %rq_s1, %rq_p0, %rq_p1, %rq_g0, \
    %rq_g1, %rq_r; .reg .b64 %rq_d, %rq_a, %rq_a2, %rq_w, %rq_sp; .reg .f64 %dp, %db, %dpos, %dth, %dk, %dred; \
    .reg .f32 %fred; .reg .b16 %rq_b; .reg .pred %rq_pq, %rq_pk, %rq_pn, %rq_pr, %rq_pz, %rq_p8;

// the head's groups: (j, J, J + 8) for j = 0..7, J = 16 hb + j; A, B: the row's accumulator components
#define RQ_H0(X, A, B) X(0, 0, 8, A, B) X(1, 1, 9, A, B) X(2, 2, 10, A, B) X(3, 3, 11, A, B) X(4, 4, 12, A, B) \
    X(5, 5, 13, A, B) X(6, 6, 14, A, B) X(7, 7, 15, A, B)
#define RQ_H1(X, A, B) X(0, 16, 24, A, B) X(1, 17, 25, A, B) X(2, 18, 26, A, B) X(3, 19, 27, A, B) \
    X(4, 20, 28, A, B) X(5, 21, 29, A, B) X(6, 22, 30, A, B) X(7, 23, 31, A, B)
// the four elements of RoPE lane 4j + q: 2l, 2l + 1 (group J), 64 + 2l, 65 + 2l (group J8)
#define E0(J, A) %d##J##_##A
// bf16 rounding in place (mode 1's store, the _b16 RoPE entries' load)
#define RQ_BF(j, J, J8, A, B) cvt.rn.bf16x2.f32 %h0, E0(J, B), E0(J, A); UNBF16(%h0, E0(J, A), E0(J, B)) \
    cvt.rn.bf16x2.f32 %h0, E0(J8, B), E0(J8, A); UNBF16(%h0, E0(J8, A), E0(J8, B))
// lane 4j + q's partial sum of squares into %x<j>_0, in rope.ptx's order
#define RQ_SS(j, J, J8, A, B) mul.rn.f32 %x##j##_0, E0(J, A), E0(J, A); fma.rn.f32 %x##j##_0, E0(J, B), E0(J, B), %x##j##_0; \
    fma.rn.f32 %x##j##_0, E0(J8, A), E0(J8, A), %x##j##_0; fma.rn.f32 %x##j##_0, E0(J8, B), E0(J8, B), %x##j##_0;
// the warp butterfly's sum, then rstd = 1 / sqrt(ss / 128 + eps)
#define RQ_NORM add.f32 %x0_0, %x0_0, %x4_0; add.f32 %x1_0, %x1_0, %x5_0; add.f32 %x2_0, %x2_0, %x6_0; \
    add.f32 %x3_0, %x3_0, %x7_0; add.f32 %x0_0, %x0_0, %x2_0; add.f32 %x1_0, %x1_0, %x3_0; \
    add.f32 %x0_0, %x0_0, %x1_0; \
    shfl.sync.bfly.b32 RQ_T, %x0_0, 2, 0x1f, 0xffffffff; add.f32 %x0_0, %x0_0, RQ_T; \
    shfl.sync.bfly.b32 RQ_T, %x0_0, 1, 0x1f, 0xffffffff; add.f32 %x0_0, %x0_0, RQ_T; \
    mul.rn.f32 RQ_T, %x0_0, 0f3C000000; add.rn.f32 RQ_T, RQ_T, RQ_EPS; sqrt.rn.f32 RQ_T, RQ_T; rcp.rn.f32 RQ_RSTD, RQ_T;
// times the norm weight (%rq_w), then the rotation by th = pos f[2l] and pos f[2l+1], results in place
#define RQ_ROT(j, J, J8, A, B) add.u32 %rq_c, %colin, 8 * j; mul.wide.u32 %rq_a, %rq_c, 4; add.s64 %rq_a, %rq_a, %rq_w; \
    ld.global.nc.v2.f32 {RQ_W0, RQ_W1}, [%rq_a]; ld.global.nc.v2.f32 {RQ_W2, RQ_W3}, [%rq_a + 256]; \
    mul.rn.f32 RQ_Y0, E0(J, A), RQ_RSTD; mul.rn.f32 RQ_Y0, RQ_Y0, RQ_W0; \
    mul.rn.f32 RQ_Y1, E0(J, B), RQ_RSTD; mul.rn.f32 RQ_Y1, RQ_Y1, RQ_W1; \
    mul.rn.f32 RQ_Y2, E0(J8, A), RQ_RSTD; mul.rn.f32 RQ_Y2, RQ_Y2, RQ_W2; \
    mul.rn.f32 RQ_Y3, E0(J8, B), RQ_RSTD; mul.rn.f32 RQ_Y3, RQ_Y3, RQ_W3; \
    mul.wide.u32 %rq_a, %rq_c, 8; add.s64 %rq_a, %rq_a, %rq_d; ld.global.nc.v2.f64 {%dp, %db}, [%rq_a + 128]; \
    mul.rn.f64 %dth, %dpos, %dp; SINCOS(%dth, RQ_S0, RQ_C0) \
    mul.rn.f64 %dth, %dpos, %db; SINCOS(%dth, RQ_S1, RQ_C1) \
    mul.rn.f32 RQ_O, RQ_Y2, RQ_S0; neg.f32 RQ_O, RQ_O; fma.rn.f32 E0(J, A), RQ_Y0, RQ_C0, RQ_O; \
    mul.rn.f32 RQ_O, RQ_Y0, RQ_S0; fma.rn.f32 E0(J8, A), RQ_Y2, RQ_C0, RQ_O; \
    mul.rn.f32 RQ_O, RQ_Y3, RQ_S1; neg.f32 RQ_O, RQ_O; fma.rn.f32 E0(J, B), RQ_Y1, RQ_C1, RQ_O; \
    mul.rn.f32 RQ_O, RQ_Y1, RQ_S1; fma.rn.f32 E0(J8, B), RQ_Y3, RQ_C1, RQ_O;
// bf16 pairs to a row at %rq_a (+ this lane's 2 colin bytes): q_out, or the bf16 cache
#define RQ_ST16(j, J, J8, A, B) cvt.rn.bf16x2.f32 %h0, E0(J, B), E0(J, A); @%rq_pr st.global.b32 [%rq_a + 16 * j], %h0; \
    cvt.rn.bf16x2.f32 %h0, E0(J8, B), E0(J8, A); @%rq_pr st.global.b32 [%rq_a + 128 + 16 * j], %h0;
// e4m3 cache: bf16 rounding in place and the row's amax (RQ_AM), then the bytes at %rq_a (+ colin)
#define RQ_AMAX(j, J, J8, A, B) RQ_BF(j, J, J8, A, B) \
    abs.f32 RQ_T, E0(J, A); max.f32 RQ_AM, RQ_AM, RQ_T; abs.f32 RQ_T, E0(J, B); max.f32 RQ_AM, RQ_AM, RQ_T; \
    abs.f32 RQ_T, E0(J8, A); max.f32 RQ_AM, RQ_AM, RQ_T; abs.f32 RQ_T, E0(J8, B); max.f32 RQ_AM, RQ_AM, RQ_T;
#define RQ_Q8(j, J, J8, A, B) mul.rn.f32 RQ_T, E0(J, A), RQ_INV; mul.rn.f32 RQ_U, E0(J, B), RQ_INV; \
    cvt.rn.satfinite.e4m3x2.f32 %rq_b, RQ_U, RQ_T; @%rq_pr st.global.b16 [%rq_a + 8 * j], %rq_b; \
    mul.rn.f32 RQ_T, E0(J8, A), RQ_INV; mul.rn.f32 RQ_U, E0(J8, B), RQ_INV; \
    cvt.rn.satfinite.e4m3x2.f32 %rq_b, RQ_U, RQ_T; @%rq_pr st.global.b16 [%rq_a + 64 + 8 * j], %rq_b;

// One row (components A, B; position POS, page PAGE, row-inside-M predicate PR; %rq_r the row) of head %rq_hd.
// LIST: the head's groups; S: a label suffix. The branches are uniform over the warp (the head is the consumer's).
#define ROPE_ROW(A, B, POS, PAGE, PR, LIST, S) \
    mov.pred %rq_pr, PR; \
    LIST(RQ_BF, A, B) \
    setp.lt.u32 %rq_pq, %rq_hd, %rq_nh; \
    sub.u32 %rq_kv, %rq_hd, %rq_nh; \
    setp.lt.u32 %rq_pk, %rq_kv, %rq_nkv; \
    or.pred %rq_pn, %rq_pq, %rq_pk; \
    @!%rq_pn bra RQ_V##S; \
    ld.global.nc.u64 %rq_w, [%rq_d + 48]; \
    @%rq_pq ld.global.nc.u64 %rq_w, [%rq_d + 40]; \
    LIST(RQ_SS, A, B) \
    RQ_NORM \
    cvt.rn.f64.s32 %dpos, POS; \
    LIST(RQ_ROT, A, B) \
    @!%rq_pq bra RQ_KV##S; \
    mad.lo.u32 %rq_u32, %rq_r, %rq_nh, %rq_hd; \
    ld.global.nc.u64 %rq_a, [%rq_d]; \
    mul.wide.u32 %rq_a2, %rq_u32, 256; add.s64 %rq_a, %rq_a, %rq_a2; \
    mul.wide.u32 %rq_a2, %colin, 2; add.s64 %rq_a, %rq_a, %rq_a2; \
    LIST(RQ_ST16, A, B) \
    bra RQ_END##S; \
RQ_V##S: \
    sub.u32 %rq_kv, %rq_kv, %rq_nkv; \
RQ_KV##S: \
    mad.lo.u32 %rq_u32, PAGE, %rq_nkv, %rq_kv; \
    mul.wide.u32 %rq_a, %rq_u32, 64; \
    and.b32 %rq_u32, POS, 63; cvt.u64.u32 %rq_a2, %rq_u32; add.s64 %rq_a, %rq_a, %rq_a2; \
    ld.global.nc.u64 %rq_sp, [%rq_d + 16]; \
    @%rq_pk ld.global.nc.u64 %rq_sp, [%rq_d + 8]; \
    ld.global.nc.u32 %rq_u32, [%rq_d + 92]; \
    setp.ne.u32 %rq_p8, %rq_u32, 0; \
    @!%rq_p8 bra RQ_B16##S; \
    shl.b64 %rq_a2, %rq_a, 7; add.s64 %rq_a2, %rq_a2, %rq_sp; \
    ld.global.nc.u64 %rq_sp, [%rq_d + 32]; \
    @%rq_pk ld.global.nc.u64 %rq_sp, [%rq_d + 24]; \
    shl.b64 %rq_a, %rq_a, 2; add.s64 %rq_sp, %rq_sp, %rq_a; \
    cvt.u64.u32 %rq_a, %colin; add.s64 %rq_a, %rq_a, %rq_a2; \
    mov.f32 RQ_AM, 0f00000000; \
    LIST(RQ_AMAX, A, B) \
    shfl.sync.bfly.b32 RQ_T, RQ_AM, 1, 0x1f, 0xffffffff; max.f32 RQ_AM, RQ_AM, RQ_T; \
    shfl.sync.bfly.b32 RQ_T, RQ_AM, 2, 0x1f, 0xffffffff; max.f32 RQ_AM, RQ_AM, RQ_T; \
    setp.gt.f32 %rq_pz, RQ_AM, 0f00000000; div.rn.f32 RQ_SC, RQ_AM, 0f43E00000; \
    @!%rq_pz mov.f32 RQ_SC, 0f3F800000; rcp.rn.f32 RQ_INV, RQ_SC; \
    LIST(RQ_Q8, A, B) \
    setp.eq.u32 %rq_pz, %colin, 0; and.pred %rq_pz, %rq_pz, %rq_pr; \
    @%rq_pz st.global.f32 [%rq_sp], RQ_SC; \
    bra RQ_END##S; \
RQ_B16##S: \
    shl.b64 %rq_a, %rq_a, 8; add.s64 %rq_a, %rq_a, %rq_sp; \
    mul.wide.u32 %rq_a2, %colin, 2; add.s64 %rq_a, %rq_a, %rq_a2; \
    LIST(RQ_ST16, A, B) \
RQ_END##S:

// head hb of this consumer's columns (skipped past N), both of the thread's rows
#define ROPE_HEAD(hb, LIST) \
    shr.u32 %rq_hd, %n0, 7; add.u32 %rq_hd, %rq_hd, hb; shl.b32 %t1, %rq_hd, 7; \
    setp.ge.u32 %p, %t1, %N; @%p bra RQ_SKIP##hb; \
    mov.u32 %rq_r, %row0; \
    ROPE_ROW(0, 1, %rq_p0, %rq_g0, %pr0, LIST, hb##0) \
    add.u32 %rq_r, %row0, 8; \
    ROPE_ROW(2, 3, %rq_p1, %rq_g1, %pr1, LIST, hb##1) \
RQ_SKIP##hb:

// the epilogue: the descriptor's scalars, the two rows' slots, positions and pages (rows past M read row M - 1's;
// their stores are off), then the consumer's heads
#define ROPE_EPILOGUE \
    ld.param.u64 %rq_d, [p_Cs]; \
    ld.global.nc.v2.u32 {%rq_nh, %rq_nkv}, [%rq_d + 80]; \
    ld.global.nc.f32 RQ_EPS, [%rq_d + 104]; \
    ld.global.nc.u64 %rq_a, [%rq_d + 64]; \
    mul.wide.u32 %rq_a2, %r0c, 4; add.s64 %rq_a2, %rq_a2, %rq_a; ld.global.nc.u32 %rq_s0, [%rq_a2]; \
    mul.wide.u32 %rq_a2, %r1c, 4; add.s64 %rq_a2, %rq_a2, %rq_a; ld.global.nc.u32 %rq_s1, [%rq_a2]; \
    ld.global.nc.u64 %rq_a, [%rq_d + 72]; \
    mul.wide.u32 %rq_a2, %r0c, 4; add.s64 %rq_a2, %rq_a2, %rq_a; ld.global.nc.u32 %rq_p0, [%rq_a2]; \
    mul.wide.u32 %rq_a2, %r1c, 4; add.s64 %rq_a2, %rq_a2, %rq_a; ld.global.nc.u32 %rq_p1, [%rq_a2]; \
    ld.global.nc.u64 %rq_a, [%rq_d + 56]; \
    ld.global.nc.u32 %rq_u32, [%rq_d + 88]; \
    shr.u32 %rq_g0, %rq_p0, 6; mad.lo.u32 %rq_g0, %rq_s0, %rq_u32, %rq_g0; \
    mul.wide.u32 %rq_a2, %rq_g0, 4; add.s64 %rq_a2, %rq_a2, %rq_a; ld.global.nc.u32 %rq_g0, [%rq_a2]; \
    shr.u32 %rq_g1, %rq_p1, 6; mad.lo.u32 %rq_g1, %rq_s1, %rq_u32, %rq_g1; \
    mul.wide.u32 %rq_a2, %rq_g1, 4; add.s64 %rq_a2, %rq_a2, %rq_a; ld.global.nc.u32 %rq_g1, [%rq_a2];
