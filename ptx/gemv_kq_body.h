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
#define U6 (MB >= 2 || Q46 ? 1 : 2)   // (Q46: its Q6_K path one step, within 128 registers)
// KQN 1: the RMSNorm mode's entries (one row of x: at more rows the registers spill)
#ifndef KQN
#define KQN 0
#endif
// Q46 1: the two-type entries (a Q4_K_M file's qkv: Q4_K rows [0, p_n0), then Q6_K rows from the p_*1 planes) in one
// launch; each type's lane offsets and K loop come from gemv_kq_lane.h / gemv_kq_loop.h, included once a type with
// labels KQ_L(name) suffixed by KQ_SFX (empty elsewhere). The Q6_K part's planes p_*1 come offset by -p_n0 rows (the
// host's), so the stack's own row numbers index both parts
#ifndef Q46
#define Q46 0
#endif
#define KQ_SFX
#define KQ_L(x) CAT(x, KQ_SFX)
#define KQ_FIRST                             // (Q46's Q6_K path: the first pass rounds x before its loads)

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
    .param .f32 p_eps
#if Q46
    , .param .u32 p_n0,
    .param .u64 p_q1,
    .param .u64 p_h1,
    .param .u64 p_s1,
    .param .u64 p_d1
#endif
    )
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
#if Q46
    .reg .pred %p46;
#endif
#if Q6 || Q46
#define DECL6(u, r) .reg .b32 %A##u##r##_<4>, %B##u##r##_<4>, %H##u##r##_<4>, %S##u##r##_<2>; .reg .b16 %D##u##r;
    DECL6(0, 0) DECL6(0, 1) DECL6(1, 0) DECL6(1, 1)
#undef DECL6
    .reg .b32 %QC<4>;
#endif
#if !Q6 || Q46
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

#if !Q46
#include "gemv_kq_lane.h"
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
#if Q46
    // --- the two-type stack (Q4_K rows [0, n0), then Q6_K rows): this pair's type, its lane offsets and planes, its
    // loop (a warp's pairs only grow, so once in the Q6_K part it stays there and keeps that part's planes) ---
    ld.param.u32 %r1, [p_n0];                // (read where used: registers are short)
    shr.u32 %r1, %r1, 1;                     // the Q4_K part's row pairs
    setp.ge.u32 %p46, %pair, %r1;
    @%p46 bra PART6;
#undef Q6
#define Q6 0
#undef KQ_SFX
#define KQ_SFX _4
#include "gemv_kq_lane.h"
#include "gemv_kq_loop.h"
    bra SUMS;
PART6:
    ld.param.u64 %rdq, [p_q1];
    ld.param.u64 %rdh, [p_h1];
    ld.param.u64 %rds, [p_s1];
    ld.param.u64 %rdd, [p_d1];
    cvta.to.global.u64 %rdq, %rdq;
    cvta.to.global.u64 %rdh, %rdh;
    cvta.to.global.u64 %rds, %rds;
    cvta.to.global.u64 %rdd, %rdd;
#undef Q6
#define Q6 1
#undef KQ_SFX
#define KQ_SFX _6
    // (a warp whose first pair is here rounds x before it asks for weights: at the rounding only the Q4_K path's
    // first loads are in flight, not both types' registers)
#undef KQ_FIRST
#define KQ_FIRST @%pf bra QUANT;
#include "gemv_kq_lane.h"
#include "gemv_kq_loop.h"
SUMS:
#else
#include "gemv_kq_loop.h"
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
#if Q46
    NLD(0, %p3) NLD(1, %p4)                  // (two: the two-type entry's registers are short)
    NST(0, %p3) NST(1, %p4)
    add.u32 %i, %i, 2 * KQ_THREADS;
#else
    NLD(0, %p3) NLD(1, %p4) NLD(2, %p5) NLD(3, %p6)
    NST(0, %p3) NST(1, %p4) NST(2, %p5) NST(3, %p6)
    add.u32 %i, %i, 4 * KQ_THREADS;
#endif
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
#if Q46
    @%p46 bra KLOOP_6;
    bra KCOMPUTE_4;
#else
    bra KCOMPUTE;
#endif
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
#undef Q46
#undef KQ_SFX
#undef KQ_L
#undef KQ_FIRST
