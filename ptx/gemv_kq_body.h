// gemv_kq_body.h — one entry of gemv_kq.ptx (read its header): NAME, Q6 (0: Q4_K, 1: Q6_K), Q5 (with Q6 0: Q5_K,
// the Q4_K path plus each element's fifth bit from qh), T0 (with Q6 0: the 32-element formats on the Q4_K path,
// 8: Q8_0, 4: Q4_0, 5: Q5_0), MB (rows of x the entry holds: 1, 2, 4 or 8). Undefines them at the end.
#ifndef Q5
#define Q5 0
#endif
#ifndef T0
#define T0 0
#endif
#if T0 == 8
#define WT s32                               // Q8_0's codes are signed bytes
#define T0QB 256                             // code bytes of 256 elements
#define T0QS 6                               // log2 of a lane's code bytes
#else
#define WT u32
#define T0QB 128
#define T0QS 5
#endif

// 16 products: weight codes W0..W3 (4 unsigned bytes each, elements 4i..4i+3) against the int16 x pairs %x0..%x7
// (%x(2i) = elements 4i, 4i+1; %x(2i+1) = 4i+2, 4i+3) into D
// (two chains of four, then one add: half the dependent latency of one chain of eight)
#define DOT16(D, W0, W1, W2, W3) \
    dp2a.lo.s32.WT D, %x0, W0, 0; dp2a.lo.s32.WT %ij, %x4, W2, 0; \
    dp2a.hi.s32.WT D, %x1, W0, D; dp2a.hi.s32.WT %ij, %x5, W2, %ij; \
    dp2a.lo.s32.WT D, %x2, W1, D; dp2a.lo.s32.WT %ij, %x6, W3, %ij; \
    dp2a.hi.s32.WT D, %x3, W1, D; dp2a.hi.s32.WT %ij, %x7, W3, %ij; \
    add.s32 D, D, %ij;

// steps of K in flight a warp: fewer for more rows of x (the accumulators take the registers)
#define U4 (MB >= 2 || Q5 || T0 == 8 || T0 == 5 ? 1 : 2)
#define U6 (MB >= 2 ? 1 : 2)
// KQN 1: the RMSNorm mode's entries (one row of x: at more rows the registers spill)
#ifndef KQN
#define KQN 0
#endif

.visible .entry NAME(
    .param .u64 p_c,
    .param .u64 p_x,
    .param .u64 p_q,
    .param .u64 p_h,
    .param .u64 p_s,
    .param .u64 p_d,
    .param .u32 p_m,
    .param .u32 p_n,
    .param .u32 p_k,
    .param .u32 p_ldc,
    .param .u32 p_mode,
    .param .u32 p_ksh,
    .param .u64 p_nw,
    .param .f32 p_eps)
.reqntid KQ_THREADS, 1, 1
#if MB >= 8 || ((Q5 || T0 == 8 || T0 == 5) && MB >= 4)
.maxnreg 168
#else
.maxnreg 128
#endif
{
    .reg .pred %p<8>, %pv<4>, %psw, %pf, %pnp;
    .reg .b32 %r<16>, %tx, %lane, %M, %N, %K, %ldc, %mode, %nkb, %nb32, %pair, %npairs, %row0, %row1;
    .reg .b32 %grp, %buf, %kk;
    .reg .b32 %lo5, %hi5, %cb, %i, %m, %smx, %smd, %sms, %xrow, %xo, %dxo, %sxo, %lo16, %sh, %kb<4>;
    .reg .b32 %xw<16>, %xq<16>, %x<8>;
    .reg .b32 %ta, %tb, %tc, %il, %ih, %ij, %ik, %ra, %rb, %rc, %rs0, %rs1, %rs2, %rs3;
    .reg .b64 %rd<8>, %rdc, %rdx, %rdq, %rdh, %rds, %rdd, %pol, %wq<2>, %wh<2>, %ws<2>, %wd<2>;
    .reg .f32 %f<12>, %fd, %fm, %dsl, %dsh, %dml, %dmh, %dx<4>, %sx<4>, %ds<4>;
#if KQN
    .reg .f32 %fss, %frs, %nx0_<4>, %nx1_<4>, %nx2_<4>, %nx3_<4>, %nw0_<4>, %nw1_<4>, %nw2_<4>, %nw3_<4>;
#endif
    .reg .b16 %hd, %hm, %hb;
#define DECL_ACC(mm) .reg .f32 %a0_##mm, %a1_##mm;
    CAT(REP, MB)(DECL_ACC)
#undef DECL_ACC
#if Q6
#define DECL6(u, r) .reg .b32 %A##u##r##_<4>, %B##u##r##_<4>, %H##u##r##_<4>, %S##u##r##_<2>; .reg .b16 %D##u##r;
    DECL6(0, 0) DECL6(0, 1) DECL6(1, 0) DECL6(1, 1)
#undef DECL6
    .reg .b32 %QC<4>;
#else
#define DECL4(u, r) .reg .b32 %W##u##r##_<8>, %SC##u##r, %MN##u##r, %DD##u##r, %QH##u##r##_<8>;
    DECL4(0, 0) DECL4(0, 1) DECL4(1, 0) DECL4(1, 1)
#undef DECL4
    .reg .b32 %NL<8>, %NH<8>, %PL<8>, %PH<8>, %jl, %jh;
    .reg .f32 %esl, %esh, %eml, %emh;
#endif

    ld.param.u64 %rdc, [p_c];
    ld.param.u64 %rdx, [p_x];
    ld.param.u64 %rdq, [p_q];
    ld.param.u64 %rdh, [p_h];
    ld.param.u64 %rds, [p_s];
    ld.param.u64 %rdd, [p_d];
    ld.param.u32 %M, [p_m];
    ld.param.u32 %N, [p_n];
    ld.param.u32 %K, [p_k];
    ld.param.u32 %ldc, [p_ldc];
    ld.param.u32 %mode, [p_mode];
    cvta.to.global.u64 %rdc, %rdc;
    cvta.to.global.u64 %rdx, %rdx;
    cvta.to.global.u64 %rdq, %rdq;
    cvta.to.global.u64 %rdh, %rdh;
    cvta.to.global.u64 %rds, %rds;
    cvta.to.global.u64 %rdd, %rdd;
    createpolicy.fractional.L2::evict_first.b64 %pol, 1.0;
    mov.u32 %tx, %tid.x;
    and.b32 %lane, %tx, 31;
    shr.u32 %nkb, %K, 8;
    shr.u32 %nb32, %K, 5;
    mov.u32 %smx, kq_smem;
    // x: int16 [MB][K] in chunks of 64 elements padded to 144 bytes (a warp's 16-byte reads of 8 consecutive chunks
    // then fall in 8 different bank groups); dx f32 [MB][K/32] after it, then sx f32 [MB][K/16]
    shr.u32 %xrow, %K, 6;
    mul.lo.u32 %xrow, %xrow, 144;            // bytes of one row of x
    mad.lo.u32 %smd, %xrow, MB, %smx;
    mul.lo.u32 %r1, %nb32, MB * 4;
    add.u32 %sms, %smd, %r1;                 // sx f32 [MB][K/16] after dx
    // (then the K parts' sums f32 [2][KQ_WARPS][MB][2] after sx: KS_SLOT; then the RMSNorm mode's sums of squares
    // f32 [MB][KQ_WARPS]: NS_SLOT)
#define NS_SLOT(R) mad.lo.u32 R, %nb32, MB * 8, %sms; add.u32 R, R, 2 * KQ_WARPS * MB * 8;

    // --- this lane's place in a step ---
#if Q6
    // block (lane >> 2) of the step's 8; half n = (lane >> 1) & 1 of it (128 elements); l0 = 16 (lane & 1) within
    // the half: ql bytes 64n + l0 (+ 32), qh bytes 32n + l0; elements 128n + l0 + 32t (t = 0..3), scales
    // 8n + (lane & 1) + 2t
    shr.u32 %r1, %lane, 1;
    and.b32 %r1, %r1, 1;                     // n
    and.b32 %r2, %lane, 1;
    shl.b32 %lo16, %r2, 4;                   // l0
    shl.b32 %sh, %r2, 3;                     // scale byte position within a word (t = 0, 2)
    mad.lo.u32 %xo, %r1, 288, %lo16;
    add.u32 %xo, %xo, %lo16;                 // x byte offset in the block: chunk 2n (144 bytes each), element l0
    shl.b32 %dxo, %r1, 4;                    // dx of 32-blocks 4n + t: byte offset 16n
    mad.lo.u32 %sxo, %r1, 8, %r2;
    shl.b32 %sxo, %sxo, 2;                   // sx of 16-groups 8n + 2t + (lane & 1)
    mov.u32 %ta, %r1;                        // (n, kept for the load offsets)
#elif T0
    // 256 elements (8 blocks of 32) make a step's unit here too: lane takes 64-element chunk j = lane & 3 of unit
    // lane >> 2, i.e. blocks 2j (sub-block "l" below) and 2j + 1 ("h"): code bytes 64j (Q8_0) or 32j (Q4_0 / Q5_0)
    and.b32 %r2, %lane, 3;                   // j
    shl.b32 %lo16, %r2, T0QS;                // code byte offset in the unit
    mul.lo.u32 %xo, %r2, 144;                // x byte offset of chunk j (element 64j)
    shl.b32 %dxo, %r2, 3;                    // dx of 32-blocks 2j, 2j + 1; Q5_0's qh words of blocks 2j, 2j + 1
    shl.b32 %sxo, %r2, 4;                    // sx of 16-groups 4j .. 4j + 3
    shl.b32 %ra, %r2, 2;                     // d (f16) of blocks 2j, 2j + 1
#else
    // block (lane >> 2) of the step's 8; 64-element chunk j = lane & 3 of it: qs bytes 32j .. 32j + 31, whose low
    // nibbles are sub-block 2j (elements 64j ..) and high nibbles sub-block 2j + 1 (64j + 32 ..)
    and.b32 %r2, %lane, 3;                   // j
    shl.b32 %lo16, %r2, 5;                   // qs byte offset in the block
    mul.lo.u32 %xo, %r2, 144;                // x byte offset of chunk j (element 64j)
    shl.b32 %dxo, %r2, 3;                    // dx of 32-blocks 2j, 2j + 1
    shl.b32 %sxo, %r2, 4;                    // sx of 16-groups 4j .. 4j + 3
    shr.u32 %r3, %r2, 1;
    shl.b32 %ra, %r3, 2;                     // the scale plane's word holding bytes 2j, 2j + 1
    and.b32 %r3, %r2, 1;
    shl.b32 %sh, %r3, 4;                     // their bit position in it
    shl.b32 %lo5, %r2, 1;                    // Q5_K: the fifth bits of sub-blocks 2j, 2j + 1 are bits 2j, 2j + 1
    add.u32 %hi5, %lo5, 1;                   // of qh[l]
#endif

    // K split in S = 2^ksh parts: a CTA takes groups of 8 / S pairs (group g: CTAs g, g + nctaid, ...); warp w
    // takes pair w / S of the group and K part w % S (steps w % S, w % S + S, ...); parts > 0 hand their sums to
    // part 0 through shared memory, which adds them in order (deterministic) and stores
    // (ksh, the warp's pair slot and K part are re-derived where used: registers are short)
#define KSH(R) ld.param.u32 R, [p_ksh];
#define KPART(R, T) KSH(T) shl.b32 R, 1, T; sub.u32 R, R, 1; shr.u32 T, %tx, 5; and.b32 R, T, R;
// R = the first pair of group %grp (T: a temporary)
#define GROUP0(R, T) KSH(T) mov.u32 R, KQ_WARPS; shr.u32 R, R, T; mul.lo.u32 R, R, %grp;
    mov.u32 %grp, %ctaid.x;
    mov.u32 %buf, 0;
    shr.u32 %npairs, %N, 1;
    setp.eq.u32 %psw, %mode, 4;
    setp.eq.u32 %pf, %tx, %tx;               // the first pass: x is rounded while its weight loads fly

PAIR:
    GROUP0(%pair, %r1)
    setp.ge.u32 %p1, %pair, %npairs;         // (the same for the whole CTA)
    @%p1 bra PAIR_NONE;
    KSH(%r1)
    shr.u32 %r2, %tx, 5;
    shr.u32 %r2, %r2, %r1;
    add.u32 %pair, %pair, %r2;               // + w / S
    setp.ge.u32 %pnp, %pair, %npairs;        // past the end of a partial group: a valid pair's work, no store
    @%pnp sub.u32 %pair, %npairs, 1;
    shl.b32 %row0, %pair, 1;
    add.u32 %row1, %row0, 1;
    @%psw mov.u32 %row0, %pair;
    @%psw add.u32 %row1, %pair, %npairs;
#define ZA(mm) mov.f32 %a0_##mm, 0f00000000; mov.f32 %a1_##mm, 0f00000000;
    CAT(REP, MB)(ZA)
#undef ZA
    // row pointers
    shr.u32 %r1, %K, 6 - T0QS;               // code bytes a row: K (Q8_0) or K / 2
    mul.wide.u32 %rd1, %row0, %r1;
    add.u64 %wq0, %rdq, %rd1;
    mul.wide.u32 %rd1, %row1, %r1;
    add.u64 %wq1, %rdq, %rd1;
    shl.b32 %r1, %nkb, 4;
    mul.wide.u32 %rd1, %row0, %r1;
    add.u64 %ws0, %rds, %rd1;
    mul.wide.u32 %rd1, %row1, %r1;
    add.u64 %ws1, %rds, %rd1;
#if Q6 || Q5 || T0 == 5
    shr.u32 %r1, %K, 3 - Q6;                 // qh plane: K / 4 (Q6_K) or K / 8 (Q5_K, Q5_0) bytes a row
    mul.wide.u32 %rd1, %row0, %r1;
    add.u64 %wh0, %rdh, %rd1;
    mul.wide.u32 %rd1, %row1, %r1;
    add.u64 %wh1, %rdh, %rd1;
#endif
#if Q6
    shl.b32 %r1, %nkb, 1;                    // d plane: 2 bytes a block (d)
#elif T0
    shl.b32 %r1, %nkb, 4;                    // d plane: 2 bytes a block of 32 (d)
#else
    shl.b32 %r1, %nkb, 2;                    // d plane: 4 bytes a block (d, dmin)
#endif
    mul.wide.u32 %rd1, %row0, %r1;
    add.u64 %wd0, %rdd, %rd1;
    mul.wide.u32 %rd1, %row1, %r1;
    add.u64 %wd1, %rdd, %rd1;
    KPART(%r1, %r2)
    shl.b32 %cb, %r1, 3;                     // this K part's first step (steps of 8 blocks)

// step u of this iteration: block kb_u = cb + (8 u << ksh) + lane / 4 of the row (the K part's every S-th step),
// valid while < nkb
#define KB(u) shr.u32 %kb##u, %lane, 2; add.u32 %kb##u, %kb##u, %cb; \
    KSH(%r1) mov.u32 %r2, 8 * u; shl.b32 %r2, %r2, %r1; add.u32 %kb##u, %kb##u, %r2; \
    setp.lt.u32 %pv##u, %kb##u, %nkb;
#if Q6
    // ---------------- Q6_K: a step is 8 blocks a warp; U6 steps in flight
KLOOP:
#define LD6(u, r) \
    mul.wide.u32 %rd2, %kb##u, 128; add.u64 %rd2, %rd2, %wq##r; mul.wide.u32 %rd3, %ta, 64; add.u64 %rd2, %rd2, %rd3; \
    cvt.u64.u32 %rd3, %lo16; add.u64 %rd2, %rd2, %rd3; \
    @%pv##u ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%A##u##r##_##0, %A##u##r##_##1, %A##u##r##_##2, %A##u##r##_##3}, [%rd2], %pol; \
    @%pv##u ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%B##u##r##_##0, %B##u##r##_##1, %B##u##r##_##2, %B##u##r##_##3}, [%rd2 + 32], %pol; \
    mul.wide.u32 %rd2, %kb##u, 64; add.u64 %rd2, %rd2, %wh##r; mul.wide.u32 %rd3, %ta, 32; add.u64 %rd2, %rd2, %rd3; \
    cvt.u64.u32 %rd3, %lo16; add.u64 %rd2, %rd2, %rd3; \
    @%pv##u ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%H##u##r##_##0, %H##u##r##_##1, %H##u##r##_##2, %H##u##r##_##3}, [%rd2], %pol; \
    mul.wide.u32 %rd2, %kb##u, 16; add.u64 %rd2, %rd2, %ws##r; mul.wide.u32 %rd3, %ta, 8; add.u64 %rd2, %rd2, %rd3; \
    @%pv##u ld.global.nc.v2.u32 {%S##u##r##_##0, %S##u##r##_##1}, [%rd2]; \
    mul.wide.u32 %rd2, %kb##u, 2; add.u64 %rd2, %rd2, %wd##r; \
    @%pv##u ld.global.nc.b16 %D##u##r, [%rd2];
    KB(0) LD6(0, 0) LD6(0, 1)
#if U6 == 2
    KB(1) LD6(1, 0) LD6(1, 1)
#endif
#undef LD6
// the 6-bit codes of group t (elements 128n + l0 + 32t + 4i .. +3 in word i): low 4 bits from ql (A: bytes l, B:
// l + 32; t >= 2 their high nibbles), high 2 bits from qh (bits 2t, 2t + 1 of each byte) -> %QC0..3
#define Q6C(i, LO, OP, H, AMT) \
    OP %r1, H, AMT; and.b32 %r1, %r1, 0x30303030; lop3.b32 %QC##i, LO, %r1, 0x0F0F0F0F, 0xEC;
#define Q6T0(u, r) Q6C(0, %A##u##r##_0, shl.b32, %H##u##r##_0, 4) Q6C(1, %A##u##r##_1, shl.b32, %H##u##r##_1, 4) \
    Q6C(2, %A##u##r##_2, shl.b32, %H##u##r##_2, 4) Q6C(3, %A##u##r##_3, shl.b32, %H##u##r##_3, 4)
#define Q6T1(u, r) Q6C(0, %B##u##r##_0, shl.b32, %H##u##r##_0, 2) Q6C(1, %B##u##r##_1, shl.b32, %H##u##r##_1, 2) \
    Q6C(2, %B##u##r##_2, shl.b32, %H##u##r##_2, 2) Q6C(3, %B##u##r##_3, shl.b32, %H##u##r##_3, 2)
#define Q6T2(u, r) \
    shr.u32 %r2, %A##u##r##_0, 4; Q6C(0, %r2, shl.b32, %H##u##r##_0, 0) \
    shr.u32 %r2, %A##u##r##_1, 4; Q6C(1, %r2, shl.b32, %H##u##r##_1, 0) \
    shr.u32 %r2, %A##u##r##_2, 4; Q6C(2, %r2, shl.b32, %H##u##r##_2, 0) \
    shr.u32 %r2, %A##u##r##_3, 4; Q6C(3, %r2, shl.b32, %H##u##r##_3, 0)
#define Q6T3(u, r) \
    shr.u32 %r2, %B##u##r##_0, 4; Q6C(0, %r2, shr.u32, %H##u##r##_0, 2) \
    shr.u32 %r2, %B##u##r##_1, 4; Q6C(1, %r2, shr.u32, %H##u##r##_1, 2) \
    shr.u32 %r2, %B##u##r##_2, 4; Q6C(2, %r2, shr.u32, %H##u##r##_2, 2) \
    shr.u32 %r2, %B##u##r##_3, 4; Q6C(3, %r2, shr.u32, %H##u##r##_3, 2)
// row mm of x against group t's codes, into accumulator (r, mm): d*sc * (dx * sum(q x~) - 32 * sum(x))
// (group t: elements 128n + l0 + 32t, in chunk 2n + t / 2 at byte 64 (t & 1) of it: XOFF)
#define G6(r, t, XOFF, mm) \
    mad.lo.u32 %ta, %xrow, mm, %tb; \
    ld.shared.v4.u32 {%x0, %x1, %x2, %x3}, [%ta + XOFF]; \
    ld.shared.v4.u32 {%x4, %x5, %x6, %x7}, [%ta + XOFF + 16]; \
    DOT16(%il, %QC0, %QC1, %QC2, %QC3) \
    mad.lo.u32 %r3, %nb32, 4 * mm, %tc; mad.lo.u32 %r5, %nb32, 8 * mm, %rs0; \
    ld.shared.f32 %dx0, [%r3 + 4 * t]; ld.shared.f32 %sx0, [%r5 + 8 * t]; \
    cvt.rn.f32.s32 %f1, %il; mul.rn.f32 %f2, %sx0, 0fC2000000; fma.rn.f32 %f1, %dx0, %f1, %f2; \
    fma.rn.f32 %a##r##_##mm, %ds##t, %f1, %a##r##_##mm;
#define G6_0_0(mm) G6(0, 0, 0, mm)
#define G6_0_1(mm) G6(0, 1, 64, mm)
#define G6_0_2(mm) G6(0, 2, 144, mm)
#define G6_0_3(mm) G6(0, 3, 208, mm)
#define G6_1_0(mm) G6(1, 0, 0, mm)
#define G6_1_1(mm) G6(1, 1, 64, mm)
#define G6_1_2(mm) G6(1, 2, 144, mm)
#define G6_1_3(mm) G6(1, 3, 208, mm)
#define C6(u, r) \
    @!%pv##u bra C6_##u##_##r; \
    cvt.f32.f16 %fd, %D##u##r; \
    bfe.s32 %r1, %S##u##r##_##0, %sh, 8; cvt.rn.f32.s32 %f1, %r1; mul.rn.f32 %ds0, %fd, %f1; \
    add.u32 %r2, %sh, 16; bfe.s32 %r1, %S##u##r##_##0, %r2, 8; cvt.rn.f32.s32 %f1, %r1; mul.rn.f32 %ds1, %fd, %f1; \
    bfe.s32 %r1, %S##u##r##_##1, %sh, 8; cvt.rn.f32.s32 %f1, %r1; mul.rn.f32 %ds2, %fd, %f1; \
    bfe.s32 %r1, %S##u##r##_##1, %r2, 8; cvt.rn.f32.s32 %f1, %r1; mul.rn.f32 %ds3, %fd, %f1; \
    mad.lo.u32 %tb, %kb##u, 576, %smx; add.u32 %tb, %tb, %xo; \
    mad.lo.u32 %tc, %kb##u, 32, %smd; add.u32 %tc, %tc, %dxo; \
    mad.lo.u32 %rs0, %kb##u, 64, %sms; add.u32 %rs0, %rs0, %sxo; \
    Q6T0(u, r) CAT(REP, MB)(G6_##r##_0) Q6T1(u, r) CAT(REP, MB)(G6_##r##_1) \
    Q6T2(u, r) CAT(REP, MB)(G6_##r##_2) Q6T3(u, r) CAT(REP, MB)(G6_##r##_3) \
C6_##u##_##r:
    // (%ta is reused as the x address inside C6: keep n in %r4 meanwhile)
    @%pf bra QUANT;
KCOMPUTE:
    mov.u32 %r4, %ta;
    C6(0, 0) C6(0, 1)
#if U6 == 2
    C6(1, 0) C6(1, 1)
#endif
    mov.u32 %ta, %r4;
    KSH(%r1) mov.u32 %r2, 8 * U6; shl.b32 %r1, %r2, %r1; add.u32 %cb, %cb, %r1;  // S steps on
    setp.lt.u32 %p3, %cb, %nkb;
    @%p3 bra KLOOP;
#else
    // ---------------- Q4_K: a step is 8 blocks a warp; U4 steps in flight
KLOOP:
#define LDW(u, r, W, OFF) \
    @%pv##u ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {W##u##r##_##0, W##u##r##_##1, W##u##r##_##2, W##u##r##_##3}, [%rd2 + OFF], %pol; \
    @%pv##u ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {W##u##r##_##4, W##u##r##_##5, W##u##r##_##6, W##u##r##_##7}, [%rd2 + OFF + 16], %pol;
#if T0
// a unit's codes (Q8_0: 64 bytes a lane, into W then QH), its two blocks' d (f16 pair), Q5_0's two qh words
#define LD4(u, r) \
    mul.wide.u32 %rd2, %kb##u, T0QB; add.u64 %rd2, %rd2, %wq##r; cvt.u64.u32 %rd3, %lo16; \
    add.u64 %rd2, %rd2, %rd3; \
    LDW(u, r, %W, 0) LDQ8(u, r) \
    mul.wide.u32 %rd2, %kb##u, 16; add.u64 %rd2, %rd2, %wd##r; cvt.u64.u32 %rd3, %ra; add.u64 %rd2, %rd2, %rd3; \
    @%pv##u ld.global.nc.u32 %DD##u##r, [%rd2]; \
    LDQH(u, r)
#if T0 == 8
#define LDQ8(u, r) LDW(u, r, %QH, 32)
#else
#define LDQ8(u, r)
#endif
#else
#define LD4(u, r) \
    mul.wide.u32 %rd2, %kb##u, 128; add.u64 %rd2, %rd2, %wq##r; cvt.u64.u32 %rd3, %lo16; add.u64 %rd2, %rd2, %rd3; \
    LDW(u, r, %W, 0) \
    mul.wide.u32 %rd2, %kb##u, 16; add.u64 %rd2, %rd2, %ws##r; cvt.u64.u32 %rd3, %ra; add.u64 %rd2, %rd2, %rd3; \
    @%pv##u ld.global.nc.u32 %SC##u##r, [%rd2]; \
    @%pv##u ld.global.nc.u32 %MN##u##r, [%rd2 + 8]; \
    mul.wide.u32 %rd2, %kb##u, 4; add.u64 %rd2, %rd2, %wd##r; \
    @%pv##u ld.global.nc.u32 %DD##u##r, [%rd2]; \
    LDQH(u, r)
#endif
#if T0 == 5
#define LDQH(u, r) \
    mul.wide.u32 %rd2, %kb##u, 32; add.u64 %rd2, %rd2, %wh##r; cvt.u64.u32 %rd3, %dxo; add.u64 %rd2, %rd2, %rd3; \
    @%pv##u ld.global.nc.v2.u32 {%QH##u##r##_0, %QH##u##r##_1}, [%rd2];
#elif Q5
#define LDQH(u, r) \
    mul.wide.u32 %rd2, %kb##u, 32; add.u64 %rd2, %rd2, %wh##r; \
    @%pv##u ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%QH##u##r##_0, %QH##u##r##_1, %QH##u##r##_2, %QH##u##r##_3}, [%rd2], %pol; \
    @%pv##u ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%QH##u##r##_4, %QH##u##r##_5, %QH##u##r##_6, %QH##u##r##_7}, [%rd2 + 16], %pol;
#else
#define LDQH(u, r)
#endif
    KB(0) LD4(0, 0) LD4(0, 1)
#if U4 == 2
    KB(1) LD4(1, 0) LD4(1, 1)
#endif
#undef LD4
// 32 products of sub-block codes W0..W7 (words of 4) with the x at %ta + OFF (64 bytes of int16) into D
#define DOT32(D, OFF, W0, W1, W2, W3, W4, W5, W6, W7) \
    ld.shared.v4.u32 {%x0, %x1, %x2, %x3}, [%ta + OFF]; \
    ld.shared.v4.u32 {%x4, %x5, %x6, %x7}, [%ta + OFF + 16]; \
    DOT16(D, W0, W1, W2, W3) \
    ld.shared.v4.u32 {%x0, %x1, %x2, %x3}, [%ta + OFF + 32]; \
    ld.shared.v4.u32 {%x4, %x5, %x6, %x7}, [%ta + OFF + 48]; \
    DOT16(%ik, W4, W5, W6, W7) \
    add.s32 D, D, %ik;
#define X4(r, mm) \
    mad.lo.u32 %ta, %xrow, mm, %tb; \
    DOT32(%il, 0, %NL0, %NL1, %NL2, %NL3, %NL4, %NL5, %NL6, %NL7) \
    DOT32(%ih, 64, %NH0, %NH1, %NH2, %NH3, %NH4, %NH5, %NH6, %NH7) \
    mad.lo.u32 %r3, %nb32, 4 * mm, %tc; ld.shared.v2.f32 {%dx0, %dx1}, [%r3]; \
    cvt.rn.f32.s32 %f1, %il; cvt.rn.f32.s32 %f2, %ih; \
    mul.rn.f32 %f3, %dsl, %dx0; fma.rn.f32 %a##r##_##mm, %f3, %f1, %a##r##_##mm; \
    mul.rn.f32 %f3, %dsh, %dx1; fma.rn.f32 %a##r##_##mm, %f3, %f2, %a##r##_##mm; \
    XMIN(r, mm)
// the offset part (Q4_K / Q5_K: - dmin * m, Q4_0 / Q5_0: - 8 d / - 16 d) against the exact sums of x
#if T0 == 8
#define XMIN(r, mm)
#else
#define XMIN(r, mm) \
    mad.lo.u32 %r3, %nb32, 8 * mm, %rs0; ld.shared.v4.f32 {%sx0, %sx1, %sx2, %sx3}, [%r3]; \
    add.rn.f32 %sx0, %sx0, %sx1; add.rn.f32 %sx2, %sx2, %sx3; \
    fma.rn.f32 %a##r##_##mm, %dml, %sx0, %a##r##_##mm; fma.rn.f32 %a##r##_##mm, %dmh, %sx2, %a##r##_##mm;
#endif
#define X4A(mm) X4(0, mm)
#define X4B(mm) X4(1, mm)
#define X40 X4A
#define X41 X4B
#if T0
// a block's codes in element order: NL (block 2j), NH (2j + 1), 4 a word. Q8_0: the bytes as loaded; Q4_0 / Q5_0:
// byte e of a block holds elements e (low nibble) and e + 16 (high); Q5_0's fifth bit of element e is bit e of
// the block's qh word, spread here to bit 4 of its byte (4 bits x 0x02040810 puts bit i at bit 8i + 4).
#if T0 == 8
#define NIB0(u, r, i, i4, L, H) mov.b32 L##i, %W##u##r##_##i; mov.b32 L##i4, %W##u##r##_##i4; \
    mov.b32 H##i, %QH##u##r##_##i; mov.b32 H##i4, %QH##u##r##_##i4;
#else
#define NIB0(u, r, i, i4, L, H) \
    and.b32 L##i, %W##u##r##_##i, 0x0F0F0F0F; shr.u32 L##i4, %W##u##r##_##i, 4; \
    and.b32 L##i4, L##i4, 0x0F0F0F0F; \
    and.b32 H##i, %W##u##r##_##i4, 0x0F0F0F0F; shr.u32 H##i4, %W##u##r##_##i4, 4; \
    and.b32 H##i4, H##i4, 0x0F0F0F0F; \
    HB5(L##i, %QH##u##r##_0, 4 * i) HB5(L##i4, %QH##u##r##_0, 4 * i4) \
    HB5(H##i, %QH##u##r##_1, 4 * i) HB5(H##i4, %QH##u##r##_1, 4 * i4)
#endif
#if T0 == 5
#define T0OFF 0fC1800000                     // -16
#else
#define T0OFF 0fC1000000                     // -8
#endif
#if T0 == 5
#define HB5(D, QW, POS) bfe.u32 %r1, QW, POS, 4; mul.lo.u32 %r1, %r1, 0x02040810; lop3.b32 D, D, %r1, 0x10101010, 0xF8;
#else
#define HB5(D, QW, POS)
#endif
#elif Q5
// codes of 5 bits: the nibble, and bit 2j (low nibbles) / 2j + 1 (high) of qh[l] moved to bit 4 of each byte
#define NIB(u, r, i, L, H) \
    shr.u32 %r1, %QH##u##r##_##i, %lo5; and.b32 %r1, %r1, 0x01010101; shl.b32 %r1, %r1, 4; \
    lop3.b32 L##i, %W##u##r##_##i, %r1, 0x0F0F0F0F, 0xEC; \
    shr.u32 %r1, %QH##u##r##_##i, %hi5; and.b32 %r1, %r1, 0x01010101; shl.b32 %r1, %r1, 4; \
    shr.u32 H##i, %W##u##r##_##i, 4; lop3.b32 H##i, H##i, %r1, 0x0F0F0F0F, 0xEC;
#else
#define NIB(u, r, i, L, H) and.b32 L##i, %W##u##r##_##i, 0x0F0F0F0F; shr.u32 H##i, %W##u##r##_##i, 4; \
    and.b32 H##i, H##i, 0x0F0F0F0F;
#endif
#if T0
// the two blocks' d; the offsets -8 d (Q4_0) / -16 d (Q5_0) meet the exact sums of x (Q8_0: none)
#define SC4(u, r, SL, SH, ML, MH) \
    mov.b32 {%hd, %hm}, %DD##u##r; cvt.f32.f16 SL, %hd; cvt.f32.f16 SH, %hm; \
    mul.rn.f32 ML, SL, T0OFF; mul.rn.f32 MH, SH, T0OFF;
#define CODES(u, r, L, H) NIB0(u, r, 0, 4, L, H) NIB0(u, r, 1, 5, L, H) NIB0(u, r, 2, 6, L, H) NIB0(u, r, 3, 7, L, H)
#else
// the sub-blocks' scales and mins: bytes (the 6-bit values, unpacked at load) times d and dmin (f16)
#define SC4(u, r, SL, SH, ML, MH) \
    mov.b32 {%hd, %hm}, %DD##u##r; cvt.f32.f16 %fd, %hd; cvt.f32.f16 %fm, %hm; \
    bfe.u32 %r1, %SC##u##r, %sh, 8; cvt.rn.f32.u32 %f1, %r1; mul.rn.f32 SL, %fd, %f1; \
    add.u32 %r4, %sh, 8; \
    bfe.u32 %r1, %SC##u##r, %r4, 8; cvt.rn.f32.u32 %f1, %r1; mul.rn.f32 SH, %fd, %f1; \
    bfe.u32 %r1, %MN##u##r, %sh, 8; cvt.rn.f32.u32 %f1, %r1; mul.rn.f32 ML, %fm, %f1; neg.f32 ML, ML; \
    bfe.u32 %r1, %MN##u##r, %r4, 8; cvt.rn.f32.u32 %f1, %r1; mul.rn.f32 MH, %fm, %f1; neg.f32 MH, MH;
#define CODES(u, r, L, H) NIB(u, r, 0, L, H) NIB(u, r, 1, L, H) NIB(u, r, 2, L, H) NIB(u, r, 3, L, H) \
    NIB(u, r, 4, L, H) NIB(u, r, 5, L, H) NIB(u, r, 6, L, H) NIB(u, r, 7, L, H)
#endif
// step u's x, dx and sums addresses in shared memory: TA (x), %tc (dx), %rs0 (sums)
#define XADDR(u, TA) \
    mad.lo.u32 TA, %kb##u, 576, %smx; add.u32 TA, TA, %xo; \
    mad.lo.u32 %tc, %kb##u, 32, %smd; add.u32 %tc, %tc, %dxo; \
    mad.lo.u32 %rs0, %kb##u, 64, %sms; add.u32 %rs0, %rs0, %sxo;
// (u, r): the scales, the codes, then every row of x
#define C4(u, r) \
    @!%pv##u bra C4_##u##_##r; \
    SC4(u, r, %dsl, %dsh, %dml, %dmh) CODES(u, r, %NL, %NH) \
    XADDR(u, %tb) \
    CAT(REP, MB)(X4##r) \
C4_##u##_##r:
// One row of x (MB 1): the pair's two rows meet each slice of x loaded once (two dp2a chains a slice)
#define DOT32P(D0, D1, OFF, A0, A1, A2, A3, A4, A5, A6, A7, B0, B1, B2, B3, B4, B5, B6, B7) \
    ld.shared.v4.u32 {%x0, %x1, %x2, %x3}, [%ta + OFF]; \
    ld.shared.v4.u32 {%x4, %x5, %x6, %x7}, [%ta + OFF + 16]; \
    DOT16(D0, A0, A1, A2, A3) DOT16(D1, B0, B1, B2, B3) \
    ld.shared.v4.u32 {%x0, %x1, %x2, %x3}, [%ta + OFF + 32]; \
    ld.shared.v4.u32 {%x4, %x5, %x6, %x7}, [%ta + OFF + 48]; \
    DOT16(%ik, A4, A5, A6, A7) add.s32 D0, D0, %ik; DOT16(%ik, B4, B5, B6, B7) add.s32 D1, D1, %ik;
#if T0 == 8
#define XMINP
#else
#define XMINP \
    ld.shared.v4.f32 {%sx0, %sx1, %sx2, %sx3}, [%rs0]; \
    add.rn.f32 %sx0, %sx0, %sx1; add.rn.f32 %sx2, %sx2, %sx3; \
    fma.rn.f32 %a0_0, %dml, %sx0, %a0_0; fma.rn.f32 %a0_0, %dmh, %sx2, %a0_0; \
    fma.rn.f32 %a1_0, %eml, %sx0, %a1_0; fma.rn.f32 %a1_0, %emh, %sx2, %a1_0;
#endif
#define C4P(u) \
    @!%pv##u bra C4P_##u; \
    SC4(u, 0, %dsl, %dsh, %dml, %dmh) SC4(u, 1, %esl, %esh, %eml, %emh) \
    CODES(u, 0, %NL, %NH) CODES(u, 1, %PL, %PH) \
    XADDR(u, %ta) \
    DOT32P(%il, %jl, 0, %NL0, %NL1, %NL2, %NL3, %NL4, %NL5, %NL6, %NL7, %PL0, %PL1, %PL2, %PL3, %PL4, %PL5, %PL6, %PL7) \
    DOT32P(%ih, %jh, 64, %NH0, %NH1, %NH2, %NH3, %NH4, %NH5, %NH6, %NH7, %PH0, %PH1, %PH2, %PH3, %PH4, %PH5, %PH6, %PH7) \
    ld.shared.v2.f32 {%dx0, %dx1}, [%tc]; \
    cvt.rn.f32.s32 %f1, %il; cvt.rn.f32.s32 %f2, %ih; \
    mul.rn.f32 %f3, %dsl, %dx0; fma.rn.f32 %a0_0, %f3, %f1, %a0_0; \
    mul.rn.f32 %f3, %dsh, %dx1; fma.rn.f32 %a0_0, %f3, %f2, %a0_0; \
    cvt.rn.f32.s32 %f1, %jl; cvt.rn.f32.s32 %f2, %jh; \
    mul.rn.f32 %f3, %esl, %dx0; fma.rn.f32 %a1_0, %f3, %f1, %a1_0; \
    mul.rn.f32 %f3, %esh, %dx1; fma.rn.f32 %a1_0, %f3, %f2, %a1_0; \
    XMINP \
C4P_##u:
    @%pf bra QUANT;
KCOMPUTE:
#if MB == 1 && KQ_PAIRX
    C4P(0)
#if U4 == 2
    C4P(1)
#endif
#else
    C4(0, 0) C4(0, 1)
#if U4 == 2
    C4(1, 0) C4(1, 1)
#endif
#endif
    KSH(%r1) mov.u32 %r2, 8 * U4; shl.b32 %r1, %r2, %r1; add.u32 %cb, %cb, %r1;
    setp.lt.u32 %p3, %cb, %nkb;
    @%p3 bra KLOOP;
#endif

    // --- warp sums; lane 0 stores the pair's outputs of every row m < M ---
#define RED(mm) WARP_SUM(%a0_##mm, %f1) WARP_SUM(%a1_##mm, %f1)
    CAT(REP, MB)(RED)
#undef RED
    setp.ne.u32 %p4, %lane, 0;
    KSH(%r1)
    setp.eq.u32 %p3, %r1, 0;
    @%p3 bra STORE;
    // K split: parts > 0 put their sums at [buf][w][mm]; one barrier (every warp of the CTA takes it each group);
    // part 0 adds parts 1 .. S - 1 (warps w + 1 ..) in order. Two buffers: a part's next group writes the other one,
    // and the one after waits at the next barrier for part 0's reads of this one.
    mad.lo.u32 %r1, %nb32, MB * 8, %sms;     // KS_SLOT: after sx
    mad.lo.u32 %r1, %buf, KQ_WARPS * MB * 8, %r1;
    shr.u32 %r2, %tx, 5;
    mad.lo.u32 %r1, %r2, MB * 8, %r1;        // this warp's slot
    KPART(%r2, %r3)
    setp.ne.u32 %p3, %r2, 0;
#define PUT(mm) @%p3 st.shared.v2.f32 [%r1 + mm * 8], {%a0_##mm, %a1_##mm};
    @%p4 bra KS_BAR;
    CAT(REP, MB)(PUT)
#undef PUT
KS_BAR:
    bar.sync 1;
    xor.b32 %buf, %buf, 1;
    @%p3 bra NEXT;
    @%p4 bra NEXT;
    KSH(%r2)
    shl.b32 %kk, 1, %r2;
KS_ADD:
    add.u32 %r1, %r1, MB * 8;
#define GET(mm) ld.shared.v2.f32 {%f3, %f4}, [%r1 + mm * 8]; add.rn.f32 %a0_##mm, %a0_##mm, %f3; \
    add.rn.f32 %a1_##mm, %a1_##mm, %f4;
    CAT(REP, MB)(GET)
#undef GET
    sub.u32 %kk, %kk, 1;
    setp.gt.u32 %p3, %kk, 1;
    @%p3 bra KS_ADD;
STORE:
    @%p4 bra NEXT;
    @%pnp bra NEXT;
    setp.eq.u32 %p5, %mode, 2;
#if KQN
// (the RMSNorm mode: the row's factor 1 / rms times the sums)
#define NORMED(mm) mul.rn.f32 %a0_##mm, %a0_##mm, %frs; mul.rn.f32 %a1_##mm, %a1_##mm, %frs;
#else
#define NORMED(mm)
#endif
#define ST(mm) \
    setp.gt.u32 %p6, %M, mm; \
    @!%p6 bra NEXT; \
    NORMED(mm) \
    @!%psw bra ST_F32_##mm; \
    SILU_MUL(%a0_##mm, %a1_##mm, %f2) \
    cvt.rn.bf16.f32 %hb, %f2; \
    mad.lo.u32 %r1, %ldc, mm, %row0; \
    mul.wide.u32 %rd4, %r1, 2; add.u64 %rd4, %rdc, %rd4; \
    st.global.b16 [%rd4], %hb; \
    bra ST_DONE_##mm; \
ST_F32_##mm: \
    mad.lo.u32 %r1, %ldc, mm, %row0; \
    mul.wide.u32 %rd4, %r1, 4; add.u64 %rd4, %rdc, %rd4; \
    @%p5 ld.global.v2.f32 {%f3, %f4}, [%rd4]; \
    @%p5 add.rn.f32 %a0_##mm, %a0_##mm, %f3; \
    @%p5 add.rn.f32 %a1_##mm, %a1_##mm, %f4; \
    st.global.v2.f32 [%rd4], {%a0_##mm, %a1_##mm}; \
ST_DONE_##mm:
    CAT(REP, MB)(ST)
#undef ST
NEXT:
    mov.u32 %r1, %nctaid.x;
    add.u32 %grp, %grp, %r1;
    bra PAIR;
PAIR_NONE:
    @!%pf bra DONE;                          // (a CTA without a first group: the host launches none)
QUANT:
    PDL_START

    // --- x -> int16 codes, a scale per 32, exact sums per 16 (rows >= M: zeros) ---
#if KQN
    // The RMSNorm mode's pre-pass: x (f32, the residual stream) times the norm's weights, rounded to bf16 — what the
    // separate norm would write but for its factor 1 / rms(x), which the epilogue applies — into the int16 codes'
    // places in shared memory (each 32-block's 64 bytes, which the rounding below then reads and overwrites: the
    // same thread); each warp's sum of x^2 of row m to [m][warp] (NS_SLOT)
    ld.param.u64 %rd2, [p_nw];
    cvta.to.global.u64 %rd2, %rd2;
    mov.u32 %m, 0;
NROW:
    mov.f32 %fss, 0f00000000;
    setp.ge.u32 %p2, %m, %M;
    @%p2 bra NROW_END;                       // (rows >= M: zeros below)
    mov.u32 %i, %tx;
// four float4 of x and of the weights in flight a thread (one L2 round trip a row at K = 4,096), elements
// 4 (i + 256 u); P: that float4 is in the row (x then 0 and nothing stored)
#define NLD(u, P) \
    add.u32 %r2, %i, KQ_THREADS * u; setp.lt.u32 P, %r2, %r1; \
    mov.f32 %nx##u##_0, 0f00000000; mov.f32 %nx##u##_1, 0f00000000; \
    mov.f32 %nx##u##_2, 0f00000000; mov.f32 %nx##u##_3, 0f00000000; \
    shl.b32 %r2, %r2, 2; mad.lo.u32 %r3, %m, %K, %r2; \
    mul.wide.u32 %rd1, %r3, 4; add.u64 %rd1, %rdx, %rd1; \
    @P ld.global.v4.f32 {%nx##u##_0, %nx##u##_1, %nx##u##_2, %nx##u##_3}, [%rd1]; \
    mul.wide.u32 %rd3, %r2, 4; add.u64 %rd3, %rd2, %rd3; \
    @P ld.global.nc.v4.f32 {%nw##u##_0, %nw##u##_1, %nw##u##_2, %nw##u##_3}, [%rd3];
// x^2 into the sum; bf16(x w) to the element's place among the int16 codes (64-element chunks of 144 bytes)
#define NST(u, P) \
    fma.rn.f32 %fss, %nx##u##_0, %nx##u##_0, %fss; fma.rn.f32 %fss, %nx##u##_1, %nx##u##_1, %fss; \
    fma.rn.f32 %fss, %nx##u##_2, %nx##u##_2, %fss; fma.rn.f32 %fss, %nx##u##_3, %nx##u##_3, %fss; \
    mul.rn.f32 %nx##u##_0, %nx##u##_0, %nw##u##_0; mul.rn.f32 %nx##u##_1, %nx##u##_1, %nw##u##_1; \
    mul.rn.f32 %nx##u##_2, %nx##u##_2, %nw##u##_2; mul.rn.f32 %nx##u##_3, %nx##u##_3, %nw##u##_3; \
    cvt.rn.bf16x2.f32 %r4, %nx##u##_1, %nx##u##_0; cvt.rn.bf16x2.f32 %r5, %nx##u##_3, %nx##u##_2; \
    add.u32 %r2, %i, KQ_THREADS * u; shl.b32 %r2, %r2, 2; mad.lo.u32 %r3, %m, %K, %r2; \
    shr.u32 %r2, %r3, 6; mad.lo.u32 %r2, %r2, 144, %smx; and.b32 %r3, %r3, 63; mad.lo.u32 %r3, %r3, 2, %r2; \
    @P st.shared.v2.u32 [%r3], {%r4, %r5};
NVEC:
    shr.u32 %r1, %K, 2;                      // float4s a row
    setp.ge.u32 %p1, %i, %r1;
    @%p1 bra NROW_END;
    NLD(0, %p3) NLD(1, %p4) NLD(2, %p5) NLD(3, %p6)
    NST(0, %p3) NST(1, %p4) NST(2, %p5) NST(3, %p6)
    add.u32 %i, %i, 4 * KQ_THREADS;
    bra NVEC;
#undef NLD
#undef NST
NROW_END:
    WARP_SUM(%fss, %f1)
    setp.ne.u32 %p1, %lane, 0;
    @%p1 bra NROW_NEXT;
    NS_SLOT(%r3)
    shr.u32 %r2, %tx, 5;
    mad.lo.u32 %r2, %m, KQ_WARPS, %r2;
    mad.lo.u32 %r3, %r2, 4, %r3;
    st.shared.f32 [%r3], %fss;
NROW_NEXT:
    add.u32 %m, %m, 1;
    setp.lt.u32 %p1, %m, MB;
    @%p1 bra NROW;
    bar.sync 0;
#endif
    mov.u32 %m, 0;
QROW:
    mov.u32 %i, %tx;
QBLK:
    setp.ge.u32 %p1, %i, %nb32;
    @%p1 bra QROW_END;
    mad.lo.u32 %r1, %m, %nb32, %i;           // 32-block index in [MB][K/32]
    setp.lt.u32 %p2, %m, %M;
#define ZW(w) mov.u32 %xw##w, 0;
    REP16(ZW)
#undef ZW
// R = the shared address of 32-block r1 of x: chunk r1 / 2, half r1 & 1 of it (T: a temporary)
#define XBLK(R, T) shr.u32 R, %r1, 1; mad.lo.u32 R, R, 144, %smx; and.b32 T, %r1, 1; mad.lo.u32 R, T, 64, R;
#if KQN
    // (the RMSNorm mode: the pre-pass's bf16 x(*)w, in place)
    @!%p2 bra QLOADED;
    XBLK(%r3, %r2)
    ld.shared.v4.u32 {%xw0, %xw1, %xw2, %xw3}, [%r3];
    ld.shared.v4.u32 {%xw4, %xw5, %xw6, %xw7}, [%r3 + 16];
    ld.shared.v4.u32 {%xw8, %xw9, %xw10, %xw11}, [%r3 + 32];
    ld.shared.v4.u32 {%xw12, %xw13, %xw14, %xw15}, [%r3 + 48];
QLOADED:
#else
    mul.wide.u32 %rd1, %r1, 64;
    add.u64 %rd1, %rdx, %rd1;
    @%p2 ld.global.v4.u32 {%xw0, %xw1, %xw2, %xw3}, [%rd1];
    @%p2 ld.global.v4.u32 {%xw4, %xw5, %xw6, %xw7}, [%rd1 + 16];
    @%p2 ld.global.v4.u32 {%xw8, %xw9, %xw10, %xw11}, [%rd1 + 32];
    @%p2 ld.global.v4.u32 {%xw12, %xw13, %xw14, %xw15}, [%rd1 + 48];
#endif
    mov.f32 %f0, 0f00000000;                 // amax
    mov.f32 %f4, 0f00000000;                 // sum of elements 0..15
    mov.f32 %f5, 0f00000000;                 // sum of 16..31
#define XP1(w, S) \
    shl.b32 %r2, %xw##w, 16; mov.b32 %f1, %r2; and.b32 %r2, %xw##w, 0xFFFF0000; mov.b32 %f2, %r2; \
    abs.f32 %f3, %f1; max.f32 %f0, %f0, %f3; abs.f32 %f3, %f2; max.f32 %f0, %f0, %f3; \
    add.rn.f32 S, S, %f1; add.rn.f32 S, S, %f2;
    XP1(0, %f4) XP1(1, %f4) XP1(2, %f4) XP1(3, %f4) XP1(4, %f4) XP1(5, %f4) XP1(6, %f4) XP1(7, %f4)
    XP1(8, %f5) XP1(9, %f5) XP1(10, %f5) XP1(11, %f5) XP1(12, %f5) XP1(13, %f5) XP1(14, %f5) XP1(15, %f5)
#undef XP1
    div.rn.f32 %f6, 0f46FFFE00, %f0;         // 32767 / amax
    setp.gt.f32 %p3, %f0, 0f00000000;
    selp.f32 %f6, %f6, 0f00000000, %p3;
    div.rn.f32 %f7, %f0, 0f46FFFE00;         // dx = amax / 32767
#define XQ1(w, R1, R2) \
    shl.b32 %r2, %xw##w, 16; mov.b32 %f1, %r2; mul.rn.f32 %f1, %f1, %f6; cvt.rni.s32.f32 R1, %f1; \
    and.b32 %r2, %xw##w, 0xFFFF0000; mov.b32 %f1, %r2; mul.rn.f32 %f1, %f1, %f6; cvt.rni.s32.f32 R2, %f1;
#define XP2(w) XQ1(w, %r4, %r5) prmt.b32 %xq##w, %r4, %r5, 0x5410;
    REP16(XP2)
#undef XP2
#undef XQ1
    XBLK(%r3, %r2)
    st.shared.v4.u32 [%r3], {%xq0, %xq1, %xq2, %xq3};
    st.shared.v4.u32 [%r3 + 16], {%xq4, %xq5, %xq6, %xq7};
    st.shared.v4.u32 [%r3 + 32], {%xq8, %xq9, %xq10, %xq11};
    st.shared.v4.u32 [%r3 + 48], {%xq12, %xq13, %xq14, %xq15};
    mad.lo.u32 %r3, %r1, 4, %smd;
    st.shared.f32 [%r3], %f7;
    mad.lo.u32 %r3, %r1, 8, %sms;
    st.shared.v2.f32 [%r3], {%f4, %f5};
    add.u32 %i, %i, KQ_THREADS;
    bra QBLK;
QROW_END:
    add.u32 %m, %m, 1;
    setp.lt.u32 %p1, %m, MB;
    @%p1 bra QROW;
    bar.sync 0;
#if KQN
    // the RMSNorm mode: the row's factor 1 / sqrt(mean(x^2) + eps) from its 8 warp sums (ptx/rms.h), every thread
    NS_SLOT(%r3)
    ld.param.f32 %f8, [p_eps];
    RMS_RSTD(%r3, %f0, %f1, %f2, %f3, %f4, %f5, %f6, %f7, %K, %f8, %frs)
#endif
    setp.ne.u32 %pf, %tx, %tx;
    GROUP0(%r1, %r2)
    setp.ge.u32 %p1, %r1, %npairs;           // (a CTA without a group)
    @%p1 bra DONE;
    bra KCOMPUTE;
DONE:
    ret;
}
#undef X4A
#undef X4B
#undef X40
#undef X41
#undef NIB
#undef NIB0
#undef SC4
#undef CODES
#undef DOT32P
#undef XMINP
#undef C4P
#undef XADDR
#undef HB5
#undef T0OFF
#undef LDW
#undef LDQ8
#undef XMIN
#undef WT
#undef KSH
#undef KB
#undef GROUP0
#undef KPART
#undef NS_SLOT
#undef XBLK
#undef NORMED
#undef KQN
#undef T0QB
#undef T0QS
#undef T0
#undef C4
#undef C6
#undef DOT32
#undef X4
#undef G6_0_0
#undef G6_0_1
#undef G6_0_2
#undef G6_0_3
#undef G6_1_0
#undef G6_1_1
#undef G6_1_2
#undef G6_1_3
#undef Q6C
#undef Q6T0
#undef Q6T1
#undef Q6T2
#undef Q6T3
#undef G6
#undef DOT16
#undef U4
#undef U6
#undef NAME
#undef Q6
#undef Q5
#undef LDQH
#undef MB
