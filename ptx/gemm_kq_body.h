// gemm_kq_body.h — one entry of gemm_kq.ptx (read its header): NAME, Q6 (0: Q4_K, 1: Q6_K), NT (n8 tiles of x
// rows: 1, 2 or 4), RT (row tiles of 16 a warp computes with each x fragment: 1, or 2 on Q4_K; default 1).
// Undefines them at the end.
#ifndef RT
#define RT 1
#endif
#if RT == 2 && Q6
#error "two row tiles a warp: Q4_K only"
#endif
#if NT >= 2
#define NT2(x) x
#else
#define NT2(x)
#endif
#if NT >= 4
#define NT4(x) x
#else
#define NT4(x)
#endif
#define PER_NT(X, a, b) X(0, a, b) NT2(X(1, a, b)) NT4(X(2, a, b) X(3, a, b))
#if Q6
#define QT_SH 2                              // lane t's q / h byte offset: 4t
#define XT_SH 3                              // its x byte offset within a sub-block's 16 elements: 8t
#define KM_STAGES (NT >= 2 ? KM_SW6 : KM_S6)  // the ring: stages a warp
#define RS 240                               // a stage row: ql 128, qh 64 (at 128), b 32 (at SOFF), 16 of padding
#define SOFF 192
#define TXB 3584                             // bytes a stage receives (16 x 224)
#else
#define QT_SH 3                              // 8t
#define XT_SH 4                              // 16t
#if RT == 2
#define KM_STAGES (NT >= 4 ? KM_SR2N4 : KM_SR2)
#else
#define KM_STAGES (NT >= 2 ? KM_SW4 : KM_S4)
#endif
#define RS 160                               // q 128, b 32 (at SOFF)
#define SOFF 128
#define TXB 2560
#endif
#define STG (RT * 16 * RS)                   // a stage: 16 rows a row tile

// NAME_smem: the entry's dynamic shared memory (its warps' rings [and sums]); NAME_persist: 1 where the CTAs may be
// persistent (a grid of up to the SMs' slots takes tiles tile, tile + grid, ...), 0 for one tile a CTA; the host
// reads both from here (host/gpu_kq.c). A persistent entry's warps' sums have their own buffer after the rings
// (which are still busy with the next tile's blocks); the others' go at the start of each warp's ring, once its
// copies have all landed
#if KM_SETS_OF(Q6, NT) == 1 && NT == 1 && RT == 1  // (the wider entries would spill with the cursor's registers)
#define KM_PERSIST 1
#define SUMS_WS (NT * 512)                   // a warp's sums: f32 [4 NT][32 lanes]
.visible .global .align 4 .u32 CAT(NAME, _persist) = 1;
.visible .global .align 4 .u32 CAT(NAME, _smem) = KM_WARPS * KM_STAGES * STG + KM_WARPS * NT * 512;
#else
#define KM_PERSIST 0
#define SUMS_WS (KM_STAGES * STG)
.visible .global .align 4 .u32 CAT(NAME, _persist) = 0;
.visible .global .align 4 .u32 CAT(NAME, _smem) = KM_WARPS * KM_STAGES * STG;
#endif

.visible .entry NAME(
    .param .u64 p_c,
    .param .u64 p_x,
    .param .u64 p_q,
    .param .u64 p_h,
    .param .u64 p_b,
    .param .u32 p_m,
    .param .u32 p_n,
    .param .u32 p_k,
    .param .u32 p_ldc,
    .param .u32 p_mode)
.reqntid KM_THREADS, 1, 1
#if RT == 2
#define KM_SETS 1                            // (one set a row tile, read a chunk at a time inside COMPUTE)
#else
#define KM_SETS KM_SETS_OF(Q6, NT)
#endif
#if RT == 2 && NT >= 4
.maxnreg KM_R2N4_REGS
#elif KM_SETS == 2 && (NT >= 4 || (Q6 && NT >= 2))  // (two register sets: past 128 an SM holds one CTA anyway)
.maxnreg 232
#elif RT == 2                                // (two CTAs an SM: their rings take 80 KB each)
.maxnreg 128
#elif !Q6 && NT == 1                         // three CTAs an SM
.maxnreg 80
#else
.maxnreg 128
#endif
{
    .reg .pred %p<6>, %pn, %psw, %pv<4>, %pw;
    .reg .b32 %r<14>, %tx, %lane, %warp, %g, %t, %M, %N, %K, %ldc, %mode, %nkb, %kb, %tile;
    .reg .b32 %one2, %off2, %nz, %a<8>, %b<2>, %e0, %s2l, %s2h, %m2l, %m2h;
    .reg .b32 %ringw, %lq, %ls, %dq, %ds, %dh, %tsb, %hs, %nj, %j, %jn, %st, %stp;
    .reg .b64 %rd<6>, %rdc, %rdx, %rdq, %rdh, %rdb, %qa0, %qa2, %sa, %ha0, %ha2, %q4r;
    .reg .b64 %xa<4>, %xk<4>, %dtq, %dtb, %dth;
    .reg .b32 %rj, %rtile, %ntl, %G, %sums;
    .reg .pred %prv, %pwr;
    .reg .f32 %f<6>;
    .reg .b16 %hv, %bs, %bm;
#if RT == 2
#define DECL_NT(nt, a_, b_) .reg .f32 %c##nt##_<4>, %cB##nt##_<4>; .reg .b32 %X##nt##_0_<4>, %X##nt##_1_<4>;
    .reg .b32 %ru;
    .reg .b64 %d1q, %d1b;
#else
#define DECL_NT(nt, a_, b_) .reg .f32 %c##nt##_<4>; .reg .b32 %X##nt##_0_<4>, %X##nt##_1_<4>;
#endif
    PER_NT(DECL_NT, 0, 0)
#undef DECL_NT
#if Q6
#define DECL_W(u, r) .reg .b32 %QA##u##r##_<4>, %QB##u##r##_<4>, %HH##u##r##_<4>, %S##u##r##_<8>;
#else
#define DECL_W(u, r) .reg .b32 %W##u##r##_<8>, %S##u##r##_<8>;
#endif
    DECL_W(0, L) DECL_W(0, H)
#if KM_SETS == 2 || RT == 2
    DECL_W(1, L) DECL_W(1, H)
#endif
#undef DECL_W

    ld.param.u64 %rdc, [p_c];
    ld.param.u64 %rdx, [p_x];
    ld.param.u64 %rdq, [p_q];
    ld.param.u64 %rdh, [p_h];
    ld.param.u64 %rdb, [p_b];
    ld.param.u32 %M, [p_m];
    ld.param.u32 %N, [p_n];
    ld.param.u32 %K, [p_k];
    ld.param.u32 %ldc, [p_ldc];
    ld.param.u32 %mode, [p_mode];
    cvta.to.global.u64 %rdc, %rdc;
    cvta.to.global.u64 %rdx, %rdx;
    cvta.to.global.u64 %rdq, %rdq;
    cvta.to.global.u64 %rdh, %rdh;
    cvta.to.global.u64 %rdb, %rdb;
    mov.u32 %tx, %tid.x;
    and.b32 %lane, %tx, 31;
    shr.u32 %warp, %tx, 5;
    shr.u32 %g, %lane, 2;
    and.b32 %t, %lane, 3;
    shr.u32 %nkb, %K, 8;
    mov.u32 %tile, %ctaid.x;
    mov.u32 %one2, 0x3F803F80;               // bf16x2 (1, 1)
#if Q6
    mov.u32 %off2, 0xC320C320;               // (-160, -160): 128 + q -> q - 32
#else
    mov.u32 %off2, 0xC300C300;               // (-128, -128): 128 + q -> q
#endif
    mov.u32 %nz, 0x80008000;                 // (-0, -0)
    setp.eq.u32 %psw, %mode, 4;
    // the weight ring: warp w's KM_STAGES stages of one block (16 rows x RS bytes: q, [h,] b)
    mov.u32 %r2, km_smem;
    mad.lo.u32 %ringw, %warp, KM_STAGES * STG, %r2;
    // this lane's reads of a stage: rows g (+ 8 RS for g + 8), lane t's q / h bytes, the scale words
    mul.lo.u32 %lq, %g, RS;
    add.u32 %ls, %lq, SOFF;
    shl.b32 %r4, %t, QT_SH;
    add.u32 %lq, %lq, %r4;
    // this lane's 16-byte copies into a stage (stage row R is global row tsb + (R / 8) hs + R % 8: 16 tile + R, or
    // in the SwiGLU mode gate row 8 tile + R (R < 8) and its up row N / 2 + 8 tile + R - 8):
    //   q: rows lane / 8 + {0, 4, 8, 12}, bytes 16 (lane % 8) ..; b: row lane / 2, bytes 16 (lane % 2) ..;
    //   Q6_K's h: rows lane / 4 + {0, 8}, bytes 16 (lane % 4) ..
    selp.b32 %r1, 8 * RT, 16 * RT, %psw;
    mul.lo.u32 %tsb, %tile, %r1;
#if RT == 2
    // row tile 1's plane rows: 16 on (SwiGLU: 8 gate rows on, the up rows with them)
    selp.b32 %r1, 8, 16, %psw;
    shr.u32 %r3, %K, 1;
    mul.wide.u32 %d1q, %r1, %r3;             // (q bytes; b: a quarter of it)
    shr.u64 %d1b, %d1q, 2;
#endif
    shr.u32 %r1, %N, 1;
    selp.b32 %hs, %r1, 8, %psw;
// D = PLANE + (global row of stage row R) x (K >> SH) + 16 (lane % C); DST = R RS + O + 16 (lane % C)
#define CPTR(D, DST, PLANE, R, SH, C, O) \
    shr.u32 %r3, R, 3; and.b32 %r5, R, 7; mad.lo.u32 %r5, %r3, %hs, %r5; add.u32 %r5, %r5, %tsb; \
    shr.u32 %r3, %K, SH; mul.wide.u32 %rd1, %r5, %r3; add.u64 D, PLANE, %rd1; \
    and.b32 %r3, %lane, C - 1; shl.b32 %r3, %r3, 4; cvt.u64.u32 %rd1, %r3; add.u64 D, D, %rd1; \
    mad.lo.u32 DST, R, RS, %r3; add.u32 DST, DST, O;
    shr.u32 %r6, %lane, 3;
    CPTR(%qa0, %dq, %rdq, %r6, 1, 8, 0)
    add.u32 %r6, %r6, 8;
    CPTR(%qa2, %r7, %rdq, %r6, 1, 8, 0)
    shr.u32 %r6, %lane, 1;
    CPTR(%sa, %ds, %rdb, %r6, 3, 2, SOFF)
#if Q6
    shr.u32 %r6, %lane, 2;
    CPTR(%ha0, %dh, %rdh, %r6, 2, 4, 128)
    add.u32 %r6, %r6, 8;
    CPTR(%ha2, %r7, %rdh, %r6, 2, 4, 128)
#endif
#undef CPTR
    shl.b32 %r3, %K, 1;                      // 4 rows of q further (K / 2 bytes a row; in either mode rows
    cvt.u64.u32 %q4r, %r3;                   // R and R + 4 are 4 global rows apart)
    // x row of n-tile nt for this lane: token nt * 8 + g (B column g), lane t's bytes; rows >= M stay zeros
    shl.b32 %r6, %t, XT_SH;
    cvt.u64.u32 %rd4, %r6;
#define XSETUP(nt, a_, b_) \
    add.u32 %r5, %g, nt * 8; setp.lt.u32 %pv##nt, %r5, %M; \
    mul.lo.u32 %r5, %r5, %K; mul.wide.u32 %rd3, %r5, 2; add.u64 %xa##nt, %rdx, %rd3; add.u64 %xa##nt, %xa##nt, %rd4; \
    mov.f32 %c##nt##_0, 0f00000000; mov.f32 %c##nt##_1, 0f00000000; \
    mov.f32 %c##nt##_2, 0f00000000; mov.f32 %c##nt##_3, 0f00000000; \
    mov.b32 %X##nt##_0_0, 0; mov.b32 %X##nt##_0_1, 0; mov.b32 %X##nt##_0_2, 0; mov.b32 %X##nt##_0_3, 0; \
    mov.b32 %X##nt##_1_0, 0; mov.b32 %X##nt##_1_1, 0; mov.b32 %X##nt##_1_2, 0; mov.b32 %X##nt##_1_3, 0; \
    ZERO_B(nt)
#if RT == 2
#define ZERO_B(nt) mov.f32 %cB##nt##_0, 0f00000000; mov.f32 %cB##nt##_1, 0f00000000; \
    mov.f32 %cB##nt##_2, 0f00000000; mov.f32 %cB##nt##_3, 0f00000000;
#else
#define ZERO_B(nt)
#endif
    PER_NT(XSETUP, 0, 0)
#undef XSETUP
#undef ZERO_B

// ---- a stage (address ST) into register set u: rows g (L) and g + 8 (H) ----
#if Q6
// ql: half h, l = 16 lh + 4t: QA = ql[64h + l], QB = ql[64h + 32 + l]; qh[32h + l] (at 128); group G = 2h + lh
#define LDW_ROW(u, r, O) \
    ld.shared.u32 %QA##u##r##_0, [%r9 + O]; ld.shared.u32 %QA##u##r##_1, [%r9 + O + 16]; \
    ld.shared.u32 %QB##u##r##_0, [%r9 + O + 32]; ld.shared.u32 %QB##u##r##_1, [%r9 + O + 48]; \
    ld.shared.u32 %QA##u##r##_2, [%r9 + O + 64]; ld.shared.u32 %QA##u##r##_3, [%r9 + O + 80]; \
    ld.shared.u32 %QB##u##r##_2, [%r9 + O + 96]; ld.shared.u32 %QB##u##r##_3, [%r9 + O + 112]; \
    ld.shared.u32 %HH##u##r##_0, [%r9 + O + 128]; ld.shared.u32 %HH##u##r##_1, [%r9 + O + 144]; \
    ld.shared.u32 %HH##u##r##_2, [%r9 + O + 160]; ld.shared.u32 %HH##u##r##_3, [%r9 + O + 176];
#else
// bytes 8t .. 8t + 7 of each of the block's four 32-byte chunks
#define LDW_ROW(u, r, O) \
    ld.shared.v2.u32 {%W##u##r##_0, %W##u##r##_1}, [%r9 + O]; \
    ld.shared.v2.u32 {%W##u##r##_2, %W##u##r##_3}, [%r9 + O + 32]; \
    ld.shared.v2.u32 {%W##u##r##_4, %W##u##r##_5}, [%r9 + O + 64]; \
    ld.shared.v2.u32 {%W##u##r##_6, %W##u##r##_7}, [%r9 + O + 96];
#endif
// the block's 8 words of bf16 scale pairs (Q4_K (s, -mn) a sub-block of 32; Q6_K s, s of two sub-blocks of 16)
#define LDS_ROW(u, r, O) \
    ld.shared.v4.u32 {%S##u##r##_0, %S##u##r##_1, %S##u##r##_2, %S##u##r##_3}, [%r9 + O]; \
    ld.shared.v4.u32 {%S##u##r##_4, %S##u##r##_5, %S##u##r##_6, %S##u##r##_7}, [%r9 + O + 16];
#if RT == 2
#define LOADW(u, ST)                         // (COMPUTE reads the stage at %r10 a chunk at a time)
#else
#define LOADW(u, ST) \
    add.u32 %r9, ST, %lq; LDW_ROW(u, L, 0) LDW_ROW(u, H, 8 * RS) \
    add.u32 %r9, ST, %ls; LDS_ROW(u, L, 0) LDS_ROW(u, H, 8 * RS)
#endif
// wait until this lane's copies of all but the newest N groups have landed, and (bar.warp.sync) every lane's, then
// load stage %st into set u
#define WAITLOAD(u, N) \
    cp.async.wait_group N; \
    bar.warp.sync 0xffffffff; \
    mad.lo.u32 %r10, %st, STG, %ringw; \
    LOADW(u, %r10)
// the cursor's block (block %rj of tile %rtile: columns 256 (warp + 8 rj) .., rows from the plane pointers %qa0 ..,
// which are tile %rtile's) into stage ST, 16 bytes a copy (Q4_K 5 a lane, Q6_K 7), as one group of cp.async; the
// group is committed even where there is no such block (%prv: the tile is past the last), so that the groups stay
// one a block and WAITLOAD's counts hold; then the cursor moves on (past a tile's nj blocks: the next tile, grid
// tiles on, its pointers advanced by %dt*)
// (no L2::cache_hint: with an evict-first policy this LDGSTS raised an illegal instruction on the H200, session 30)
#define CP(DST, O, SRC) cp.async.cg.shared.global [DST + O], [SRC], 16;
#if Q6
#define COPY_H(P) \
    mul.wide.u32 %rd5, %r11, 64; add.u64 %rd4, %ha0, %rd5; add.u64 %rd5, %ha2, %rd5; add.u32 %r12, %r10, %dh; \
    @P CP(%r12, 0, %rd4) @P CP(%r12, 8 * RS, %rd5)
#define ADVANCE_H @%pwr add.u64 %ha0, %ha0, %dth; @%pwr add.u64 %ha2, %ha2, %dth;
#else
#define COPY_H(P)
#define ADVANCE_H
#endif
#if KM_PERSIST
#define REFILL(ST) REFILL_P(ST, %prv) \
    add.u32 %rj, %rj, 1; setp.eq.u32 %pwr, %rj, %nj; @%pwr mov.u32 %rj, 0; @%pwr add.u32 %rtile, %rtile, %G; \
    @%pwr add.u64 %qa0, %qa0, %dtq; @%pwr add.u64 %qa2, %qa2, %dtq; @%pwr add.u64 %sa, %sa, %dtb; \
    ADVANCE_H setp.lt.u32 %prv, %rtile, %ntl;
#else
#define REFILL(ST) REFILL_P(ST, %prv) add.u32 %rj, %rj, 1; setp.lt.u32 %prv, %rj, %nj;
#endif
#define REFILL_P(ST, P) \
    mad.lo.u32 %r10, ST, STG, %ringw; \
    shl.b32 %r11, %rj, 3; add.u32 %r11, %r11, %warp; \
    REFILL_T(P, 0) \
    COPY_H(P) \
    REFILL_T1(P) \
    cp.async.commit_group;
// row tile u's q and b copies (stage rows 16u ..; tile 1's plane rows %d1q bytes on in q, %d1b in b)
#define REFILL_T(P, u) \
    QOFF##u add.u64 %rd4, %qa0, %rd5; add.u64 %rd5, %qa2, %rd5; \
    add.u32 %r12, %r10, %dq; \
    @P CP(%r12, 16 * RS * u, %rd4) add.u64 %rd4, %rd4, %q4r; @P CP(%r12, (16 * u + 4) * RS, %rd4) \
    @P CP(%r12, (16 * u + 8) * RS, %rd5) add.u64 %rd5, %rd5, %q4r; @P CP(%r12, (16 * u + 12) * RS, %rd5) \
    BOFF##u add.u64 %rd5, %sa, %rd5; add.u32 %r12, %r10, %ds; \
    @P CP(%r12, 16 * RS * u, %rd5)
#define QOFF0 mul.wide.u32 %rd5, %r11, 128;
#define BOFF0 mul.wide.u32 %rd5, %r11, 32;
#define QOFF1 mul.wide.u32 %rd5, %r11, 128; add.u64 %rd5, %rd5, %d1q;
#define BOFF1 mul.wide.u32 %rd5, %r11, 32; add.u64 %rd5, %rd5, %d1b;
#if RT == 2
#define REFILL_T1(P) REFILL_T(P, 1)
#else
#define REFILL_T1(P)
#endif

// D = the bf16x2 (h, h) of word W's half H (0: low, 1: high). As a split into b16 halves and a repack, ptxas folds
// it into the fma's operand (HFMA2's .H0_H0 / .H1_H1): no instruction (as prmt it was one, 32 a block); prmt where the
// folded form costs registers (Q6_K at 4 tiles spilled)
#if Q6 && NT >= 4
#define SPLAT(D, W, H) prmt.b32 D, W, W, SPLAT_SEL##H;
#else
#define SPLAT(D, W, H) mov.b32 {%bs, %bm}, W; mov.b32 D, SPLAT_H##H;
#endif
#define SPLAT_SEL0 0x1010
#define SPLAT_SEL1 0x3232
#define SPLAT_H0 {%bs, %bs}
#define SPLAT_H1 {%bm, %bm}

// ---- the tensor-core step: B = x pair-swapped to the A registers' k order, into n-tile nt ----
#define MMAX(nt, XA, XB) \
    prmt.b32 %b0, XA, XB, 0x5410; prmt.b32 %b1, XA, XB, 0x7632; \
    mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%c##nt##_0, %c##nt##_1, %c##nt##_2, %c##nt##_3}, \
        {%a0, %a1, %a2, %a3}, {%b0, %b1}, {%c##nt##_0, %c##nt##_1, %c##nt##_2, %c##nt##_3};
#define MMA_LO(nt, buf, b_) MMAX(nt, %X##nt##_##buf##_0, %X##nt##_##buf##_1)
#define MMA_HI(nt, buf, b_) MMAX(nt, %X##nt##_##buf##_2, %X##nt##_##buf##_3)
// x of the block at byte offset OFF (lane's part) into buffer buf
#if Q6
#define XL1(nt, OFF, buf) @%pv##nt ld.global.nc.v2.u32 {%X##nt##_##buf##_0, %X##nt##_##buf##_1}, [%xk##nt + OFF];
#else
#define XL1(nt, OFF, buf) @%pv##nt ld.global.nc.v4.u32 {%X##nt##_##buf##_0, %X##nt##_##buf##_1, %X##nt##_##buf##_2, %X##nt##_##buf##_3}, [%xk##nt + OFF];
#endif
#define XL(OFF, buf) PER_NT(XL1, OFF, buf)
#define XK1(nt, a_, b_) add.u64 %xk##nt, %xa##nt, %rd1;

#if Q6
// a bf16x2 of (q6 - 32) * s: nibbles of Q >> QSH, bits 4-5 from H shifted (HOP by HSH), under 128's exponent
#define DEC(D, Q, QSH, H, HOP, HSH, S2) \
    shr.u32 D, Q, QSH; lop3.b32 D, D, 0x000F000F, 0x43004300, 0xEA; \
    HOP.b32 %e0, H, HSH; lop3.b32 D, D, %e0, 0x00300030, 0xF8; \
    fma.rn.bf16x2 D, D, %one2, %off2; fma.rn.bf16x2 D, D, S2, %nz;
// sub-block 8h + 2j + lh of group G = 2h + lh: Q word QS (QA / QB), nibble shifts Q0 / Q1 for the pairs (e0, e2) /
// (e1, e3), qh shifts HOP0 H0 / shr H1; scale word SW's half SEL
#define SB(u, G, buf, QS, Q0, Q1, HOP0, H0, H1, SW, SEL) \
    SPLAT(%s2l, %S##u##L_##SW, SEL) SPLAT(%s2h, %S##u##H_##SW, SEL) \
    DEC(%a0, %QS##u##L_##G, Q0, %HH##u##L_##G, HOP0, H0, %s2l) \
    DEC(%a2, %QS##u##L_##G, Q1, %HH##u##L_##G, shr, H1, %s2l) \
    DEC(%a1, %QS##u##H_##G, Q0, %HH##u##H_##G, HOP0, H0, %s2h) \
    DEC(%a3, %QS##u##H_##G, Q1, %HH##u##H_##G, shr, H1, %s2h) \
    PER_NT(MMA_LO, buf, 0)
// group G (h, lh): its four sub-blocks j = 0..3 (scale words SW0..SW3, half SEL; x bytes X0 + 64j, X0 = 256h +
// 32lh, in buffers 0, 1, 0, 1), then XN: the next group's first x load
#define GRP(u, G, SW0, SW1, SW2, SW3, SEL, X1, X2, X3, XN) \
    XL(X1, 1) SB(u, G, 0, QA, 0, 8, shl, 4, 4, SW0, SEL) \
    XL(X2, 0) SB(u, G, 1, QB, 0, 8, shl, 2, 6, SW1, SEL) \
    XL(X3, 1) SB(u, G, 0, QA, 4, 12, shl, 0, 8, SW2, SEL) \
    XN SB(u, G, 1, QB, 4, 12, shr, 2, 10, SW3, SEL)
// (x's first load of the block came with the block before: XFIRST / XNEXT below)
#define COMPUTE(u) XHEAD \
    GRP(u, 0, 0, 1, 2, 3, 0, 64, 128, 192, XL(32, 0)) \
    GRP(u, 1, 0, 1, 2, 3, 1, 96, 160, 224, XL(256, 0)) \
    GRP(u, 2, 4, 5, 6, 7, 0, 320, 384, 448, XL(288, 0)) \
    GRP(u, 3, 4, 5, 6, 7, 1, 352, 416, 480, XNEXT XPRE(0, 0))
#define XFIRST_L XL(0, 0)
#else
// a bf16x2 of q * s - mn: the nibbles of W >> SH under 128's exponent
#define DEC(D, W, SH, S2, M2) \
    shr.u32 D, W, SH; lop3.b32 D, D, 0x000F000F, 0x43004300, 0xEA; \
    fma.rn.bf16x2 D, D, %one2, %off2; fma.rn.bf16x2 D, D, S2, M2;
// sub-block j (elements 32j ..): chunk words W0 (elements 8t .. 8t + 3) and W1 (8t + 4 ..), nibble shifts SH0 / SH1
// (low nibbles 0 / 8, high 4 / 12), x in buffer buf
// SPLAT4: set u's scale word SW as the rows' (s, s) / (-mn, -mn) splats; DEC4: A fragment registers A0..A3 from its
// word WI (rows g: L, g + 8: H)
#define SPLAT4(u, SW) \
    SPLAT(%s2l, %S##u##L_##SW, 0) SPLAT(%m2l, %S##u##L_##SW, 1) \
    SPLAT(%s2h, %S##u##H_##SW, 0) SPLAT(%m2h, %S##u##H_##SW, 1)
#define DEC4(u, WI, SH0, SH1, A0, A1, A2, A3) \
    DEC(A0, %W##u##L_##WI, SH0, %s2l, %m2l) DEC(A2, %W##u##L_##WI, SH1, %s2l, %m2l) \
    DEC(A1, %W##u##H_##WI, SH0, %s2h, %m2h) DEC(A3, %W##u##H_##WI, SH1, %s2h, %m2h)
#define SB(u, j, buf, W0, W1, SH0, SH1) \
    SPLAT4(u, j) \
    DEC4(u, W0, SH0, SH1, %a0, %a1, %a2, %a3) PER_NT(MMA_LO, buf, 0) \
    DEC4(u, W1, SH0, SH1, %a0, %a1, %a2, %a3) PER_NT(MMA_HI, buf, 0)
#if RT == 2
// two row tiles: each x fragment, and its pair swap, meets both tiles' weights, so x's traffic and swaps a weight
// halve. Chunk c's words (tile u's rows g / g + 8: bytes 8t .. 8t + 7 of the chunk; scale words 2c, 2c + 1) are read
// from the stage (%r9: q, %r13: b) just before its two sub-blocks, not a block at a time: two tiles' blocks would
// take 64 registers
#define LDC(u, c) \
    ld.shared.v2.u32 {%W##u##L_0, %W##u##L_1}, [%r9 + 16 * RS * u + 32 * c]; \
    ld.shared.v2.u32 {%W##u##H_0, %W##u##H_1}, [%r9 + (16 * u + 8) * RS + 32 * c]; \
    ld.shared.v2.u32 {%S##u##L_0, %S##u##L_1}, [%r13 + 16 * RS * u + 8 * c]; \
    ld.shared.v2.u32 {%S##u##H_0, %S##u##H_1}, [%r13 + (16 * u + 8) * RS + 8 * c];
// tile u's A fragment from chunk word WI (0: elements 8t .., 1: 8t + 4 ..) of the sub-block of scale word SW
#define DEC_T(u, WI, SW, SH0, SH1, A0, A1, A2, A3) SPLAT4(u, SW) DEC4(u, WI, SH0, SH1, A0, A1, A2, A3)
#define MMAX2(nt, XA, XB) \
    prmt.b32 %b0, XA, XB, 0x5410; prmt.b32 %b1, XA, XB, 0x7632; \
    mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%c##nt##_0, %c##nt##_1, %c##nt##_2, %c##nt##_3}, \
        {%a0, %a1, %a2, %a3}, {%b0, %b1}, {%c##nt##_0, %c##nt##_1, %c##nt##_2, %c##nt##_3}; \
    mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%cB##nt##_0, %cB##nt##_1, %cB##nt##_2, %cB##nt##_3}, \
        {%a4, %a5, %a6, %a7}, {%b0, %b1}, {%cB##nt##_0, %cB##nt##_1, %cB##nt##_2, %cB##nt##_3};
#define MMA2_LO(nt, buf, b_) MMAX2(nt, %X##nt##_##buf##_0, %X##nt##_##buf##_1)
#define MMA2_HI(nt, buf, b_) MMAX2(nt, %X##nt##_##buf##_2, %X##nt##_##buf##_3)
// the chunk's sub-block SW (0: its low nibbles, 1: its high), x in buffer buf
#define SB2(buf, SW, SH0, SH1) \
    DEC_T(0, 0, SW, SH0, SH1, %a0, %a1, %a2, %a3) DEC_T(1, 0, SW, SH0, SH1, %a4, %a5, %a6, %a7) \
    PER_NT(MMA2_LO, buf, 0) \
    DEC_T(0, 1, SW, SH0, SH1, %a0, %a1, %a2, %a3) DEC_T(1, 1, SW, SH0, SH1, %a4, %a5, %a6, %a7) \
    PER_NT(MMA2_HI, buf, 0)
#define COMPUTE(u) XHEAD \
    add.u32 %r9, %r10, %lq; add.u32 %r13, %r10, %ls; \
    LDC(0, 0) LDC(1, 0) \
    SB2(0, 0, 0, 8) XL(128, 0) \
    SB2(1, 1, 4, 12) XL(192, 1) LDC(0, 1) LDC(1, 1) \
    SB2(0, 0, 0, 8) XL(256, 0) \
    SB2(1, 1, 4, 12) XL(320, 1) LDC(0, 2) LDC(1, 2) \
    SB2(0, 0, 0, 8) XL(384, 0) \
    SB2(1, 1, 4, 12) XL(448, 1) LDC(0, 3) LDC(1, 3) XNEXT \
    SB2(0, 0, 0, 8) XPRE(0, 0) \
    SB2(1, 1, 4, 12) XPRE(64, 1)
#else
#define COMPUTE(u) XHEAD \
    SB(u, 0, 0, 0, 1, 0, 8) XL(128, 0) \
    SB(u, 1, 1, 0, 1, 4, 12) XL(192, 1) \
    SB(u, 2, 0, 2, 3, 0, 8) XL(256, 0) \
    SB(u, 3, 1, 2, 3, 4, 12) XL(320, 1) \
    SB(u, 4, 0, 4, 5, 0, 8) XL(384, 0) \
    SB(u, 5, 1, 4, 5, 4, 12) XL(448, 1) XNEXT \
    SB(u, 6, 0, 6, 7, 0, 8) XPRE(0, 0) \
    SB(u, 7, 1, 6, 7, 4, 12) XPRE(64, 1)
#endif
#define XFIRST_L XL(0, 0) XL(64, 1)
#endif
// One n-tile of x (KM_XPF): x's pointers (%xk) move to the warp's next block once the block's last x load is out,
// and that block's first x loads go out in this block's last sub-blocks (they had waited out an L2 round trip at
// each block's start: session 32's Nsight Compute source page, 17% of the stall samples on the pair swaps behind
// them). The next block: this tile's next (kb + 8), or (persistent entries) the next tile's first (warp); with none,
// the loads repeat this block's (in bounds, unused). XFIRST: the first block's, after the PDL wait. Session 32: Q4_K
// and Q6_K's gate/up and down at 2-8 rows 0.90-0.98x the time, the 8B's o and Q6_K qkv at 1-2 rows 1.02-1.07x; from
// two n-tiles it lost on the layers the rules send there (the 8B's Q4_K qkv / gate/up 1.02-1.08x: x's registers live
// across blocks) and Q6_K at four spilled, so those load at each block's start (XHEAD)
#define XFIRST mul.wide.u32 %rd1, %kb, 512; PER_NT(XK1, 0, 0) XFIRST_L
#if NT >= 2
#define KM_XPF 0
#define XHEAD XFIRST
#define XNEXT
#define XPRE(OFF, buf)
#else
#define KM_XPF 1
#define XHEAD
#define XPRE(OFF, buf) XL(OFF, buf)
#if KM_PERSIST
#define XNEXT \
    add.u32 %r11, %j, 1; setp.lt.u32 %p4, %r11, %nj; add.u32 %r12, %tile, %G; setp.lt.u32 %p5, %r12, %ntl; \
    selp.b32 %r12, %warp, %kb, %p5; add.u32 %r11, %kb, KM_WARPS; selp.b32 %r11, %r11, %r12, %p4; \
    mul.wide.u32 %rd1, %r11, 512; PER_NT(XK1, 0, 0)
#else
// (one tile a CTA, gemm_q4k_n1_r2: the pointers step 8 blocks on while there is a next block)
#define XNEXT \
    add.u32 %r11, %j, 1; setp.lt.u32 %p4, %r11, %nj; selp.b32 %r11, KM_WARPS * 512, 0, %p4; \
    cvt.u64.u32 %rd1, %r11; PER_NT(XADV, 0, 0)
#define XADV(nt, a_, b_) add.u64 %xk##nt, %xk##nt, %rd1;
#endif
#endif

// one block of the warp's sequence: set u holds block j (stage %st, read); set v gets block j + 1, if any, while
// block j is computed; then the stage block j came from is given block j + KM_STAGES (all lanes past their reads
// of it: bar.warp.sync)
#define STEP(u, v, L) \
    add.u32 %jn, %j, 1; setp.lt.u32 %pn, %jn, %nj; \
    mov.u32 %stp, %st; add.u32 %st, %st, 1; setp.eq.u32 %pw, %st, KM_STAGES; @%pw mov.u32 %st, 0; \
    @!%pn bra L##_C; \
    WAITLOAD(v, KM_STAGES - 2) \
L##_C: \
    COMPUTE(u) \
    bar.warp.sync 0xffffffff; \
    REFILL(%stp) \
    mov.u32 %j, %jn; add.u32 %kb, %kb, KM_WARPS; \
    @!%pn bra TEPI;

    // warp w takes blocks w, w + 8, ... of each tile (nj of them); the copies of its first KM_STAGES blocks go before
    // the wait (the weights are immutable). Tiles (16 rows of C; SwiGLU: 8 gate rows and their up rows): N / 16, this
    // CTA's tile, tile + grid, ... (persistent entries; the others are launched one tile a CTA), the ring running on
    // across them: the next tile's first blocks land while this one's last are computed
    sub.u32 %r1, %nkb, %warp;
    add.u32 %r1, %r1, KM_WARPS - 1;
    shr.u32 %nj, %r1, 3;
    setp.ge.u32 %p1, %warp, %nkb;
    @%p1 mov.u32 %nj, 0;
    shr.u32 %ntl, %N, 4;
    mov.u32 %G, %nctaid.x;
#if KM_PERSIST
    selp.b32 %r1, 8, 16, %psw;               // rows a tile takes from a plane part (SwiGLU: 8 gate, 8 up)
    mul.lo.u32 %r1, %r1, %G;
    shr.u32 %r3, %K, 1;
    mul.wide.u32 %dtq, %r1, %r3;             // a grid of tiles on: q rows x K / 2 bytes, b K / 8, h K / 4
    shr.u64 %dtb, %dtq, 2;
    shr.u64 %dth, %dtq, 1;
#endif
    mov.u32 %rj, 0;
    mov.u32 %rtile, %tile;
    setp.ne.u32 %prv, %nj, 0;
    @!%prv mov.u32 %rtile, %ntl;             // (no blocks: the cursor never wraps, and stays past the last tile)
    mov.u32 %j, 0;
PRO:
    REFILL(%j)
    add.u32 %j, %j, 1;
    setp.lt.u32 %p1, %j, KM_STAGES;
    @%p1 bra PRO;
    PDL_START
    mov.u32 %st, 0;
#if KM_XPF
    setp.eq.u32 %p1, %nj, 0;
    @%p1 bra TLOOP;
    mov.u32 %kb, %warp;
    XFIRST
#endif
TLOOP:
    setp.eq.u32 %p1, %nj, 0;
    @%p1 bra TEPI;
    mov.u32 %kb, %warp;
    mov.u32 %j, 0;
#if KM_SETS == 2
    WAITLOAD(0, KM_STAGES - 1)
KLOOP:
    STEP(0, 1, KA)
    STEP(1, 0, KB)
    bra KLOOP;
#else
    // one register set: block j's stage is read just before it is computed (the ring holds the blocks in flight)
KLOOP:
    WAITLOAD(0, KM_STAGES - 1)
    COMPUTE(0)
    bar.warp.sync 0xffffffff;
    REFILL(%st)
    add.u32 %st, %st, 1;
    setp.eq.u32 %pw, %st, KM_STAGES;
    @%pw mov.u32 %st, 0;
    add.u32 %j, %j, 1;
    add.u32 %kb, %kb, KM_WARPS;
    setp.lt.u32 %pn, %j, %nj;
    @%pn bra KLOOP;
#endif
TEPI:
    // the tile's sums: each warp's f32 [4 NT][32 lanes] (then its accumulators start again from 0), and 64 NT threads
    // add them in warp order and store
    mov.u32 %sums, km_smem;
#if KM_PERSIST
    add.u32 %sums, %sums, KM_WARPS * KM_STAGES * STG;
    bar.sync 0;                              // (the last tile's sums have been read)
#else
    cp.async.wait_all;
    bar.warp.sync 0xffffffff;
#endif
    mad.lo.u32 %r1, %warp, SUMS_WS, %sums;
    shl.b32 %r3, %lane, 2;
    add.u32 %r1, %r1, %r3;
#if KM_PERSIST
#define ZERO_C(nt) mov.f32 %c##nt##_0, 0f00000000; mov.f32 %c##nt##_1, 0f00000000; \
    mov.f32 %c##nt##_2, 0f00000000; mov.f32 %c##nt##_3, 0f00000000;
#else
#define ZERO_C(nt)
#endif
#define ST_NT(nt, a_, b_) \
    st.shared.f32 [%r1 + nt * 512], %c##nt##_0; st.shared.f32 [%r1 + nt * 512 + 128], %c##nt##_1; \
    st.shared.f32 [%r1 + nt * 512 + 256], %c##nt##_2; st.shared.f32 [%r1 + nt * 512 + 384], %c##nt##_3; \
    ZERO_C(nt)
    PER_NT(ST_NT, 0, 0)
#if RT == 2
    // (row tile 1's after tile 0's: [2][4 NT][32 lanes])
#define ST_NTB(nt, a_, b_) \
    st.shared.f32 [%r1 + (NT + nt) * 512], %cB##nt##_0; st.shared.f32 [%r1 + (NT + nt) * 512 + 128], %cB##nt##_1; \
    st.shared.f32 [%r1 + (NT + nt) * 512 + 256], %cB##nt##_2; st.shared.f32 [%r1 + (NT + nt) * 512 + 384], %cB##nt##_3;
    PER_NT(ST_NTB, 0, 0)
#undef ST_NTB
#endif
#undef ST_NT
#undef ZERO_C
    bar.sync 0;
    setp.ge.u32 %p1, %tx, NT * 64;
    @%p1 bra TNEXT;
#if RT == 2
    // each row tile in turn (%ru): its sums, its rows of C (tile RT tile + ru of 16 rows)
#define TEND TREND
#define TOUT(SH) mad.lo.u32 %r11, %tile, RT, %ru; shl.b32 %r11, %r11, SH;
    mov.u32 %ru, 0;
TRED:
#else
#define TEND TNEXT
#define TOUT(SH) shl.b32 %r11, %tile, SH;
#endif
    // thread: lane l of accumulator pair q = tx / 32 (n-tile q / 2, column 2 (l % 4) + q % 2): registers
    // f = 4 (q / 2) + q % 2 (row g) and f + 2 (row g + 8)
    and.b32 %r4, %tx, 31;
    shr.u32 %r5, %tx, 5;
    shr.u32 %r6, %r5, 1;
    and.b32 %r7, %r5, 1;
    mad.lo.u32 %r8, %r6, 4, %r7;             // f
    shl.b32 %r8, %r8, 5;
    add.u32 %r8, %r8, %r4;
    mad.lo.u32 %r8, %r8, 4, %sums;           // &sums[warp 0][f][l]
#if RT == 2
    mad.lo.u32 %r8, %ru, NT * 512, %r8;      // (of row tile ru)
#endif
    ld.shared.f32 %f0, [%r8];
    ld.shared.f32 %f1, [%r8 + 256];
#define RED(w) \
    ld.shared.f32 %f2, [%r8 + w * SUMS_WS]; add.rn.f32 %f0, %f0, %f2; \
    ld.shared.f32 %f3, [%r8 + w * SUMS_WS + 256]; add.rn.f32 %f1, %f1, %f3;
    RED(1) RED(2) RED(3) RED(4) RED(5) RED(6) RED(7)
#undef RED
    and.b32 %r9, %r4, 3;
    shl.b32 %r9, %r9, 1;
    add.u32 %r9, %r9, %r7;
    mad.lo.u32 %r9, %r6, 8, %r9;             // token
    setp.ge.u32 %p2, %r9, %M;
    @%p2 bra TEND;
    shr.u32 %r10, %r4, 2;                    // g
    @%psw bra SWIGLU;
    TOUT(4)
    add.u32 %r11, %r11, %r10;                // row 16 tile + g
    mad.lo.u32 %r11, %r9, %ldc, %r11;
    mul.wide.u32 %rd1, %r11, 4;
    add.u64 %rd1, %rdc, %rd1;
    setp.eq.u32 %p3, %mode, 2;
    @%p3 ld.global.f32 %f4, [%rd1];
    @%p3 add.rn.f32 %f0, %f0, %f4;
    @%p3 ld.global.f32 %f5, [%rd1 + 32];
    @%p3 add.rn.f32 %f1, %f1, %f5;
    st.global.f32 [%rd1], %f0;
    st.global.f32 [%rd1 + 32], %f1;
    bra TEND;
SWIGLU:
    TOUT(3)
    add.u32 %r11, %r11, %r10;                // output column 8 tile + g
    mad.lo.u32 %r11, %r9, %ldc, %r11;
    mul.wide.u32 %rd1, %r11, 2;
    add.u64 %rd1, %rdc, %rd1;
    SILU_MUL(%f0, %f1, %f4)
    cvt.rn.bf16.f32 %hv, %f4;
    st.global.b16 [%rd1], %hv;
#if RT == 2
TREND:
    add.u32 %ru, %ru, 1;
    setp.lt.u32 %p2, %ru, RT;
    @%p2 bra TRED;
#endif
TNEXT:
#if KM_PERSIST
    add.u32 %tile, %tile, %G;
    setp.lt.u32 %p1, %tile, %ntl;
    @%p1 bra TLOOP;
#endif
    cp.async.wait_all;                       // (the groups past the last tile are empty)
    ret;
}
#undef NT2
#undef NT4
#undef PER_NT
#undef QT_SH
#undef XT_SH
#undef KM_STAGES
#undef RS
#undef SOFF
#undef TXB
#undef STG
#undef COPY_H
#undef CP
#undef REFILL
#undef REFILL_P
#undef KM_PERSIST
#undef SUMS_WS
#undef ADVANCE_H
#undef WAITLOAD
#undef SPLAT
#undef SPLAT_SEL0
#undef SPLAT_SEL1
#undef SPLAT_H0
#undef SPLAT_H1
#undef STEP
#undef KM_SETS
#undef LDW_ROW
#undef LDS_ROW
#undef LOADW
#undef MMAX
#undef MMA_LO
#undef MMA_HI
#undef XL1
#undef XL
#undef XK1
#undef DEC
#undef SB
#undef GRP
#undef COMPUTE
#undef XFIRST
#undef XFIRST_L
#undef XNEXT
#undef XADV
#undef XHEAD
#undef XPRE
#undef KM_XPF
#undef TEND
#undef TOUT
#undef REFILL_T
#undef REFILL_T1
#undef QOFF0
#undef QOFF1
#undef BOFF0
#undef BOFF1
#undef LDC
#undef DEC_T
#undef SPLAT4
#undef DEC4
#undef MMAX2
#undef MMA2_LO
#undef MMA2_HI
#undef SB2
#undef NAME
#undef Q6
#undef NT
#undef RT
