// gemv_kq_loop.h — part of ptx/gemv_kq_body.h (read its header): a row pair's weight pointers (rows %row0, %row1
// of the planes at %rdq, %rdh, %rds, %rdd) and its K loop for the weight type Q6 / T0 / Q5 select, labels KQ_L(name)
// (the two-type entries, Q46, include it once a type with its own KQ_SFX; KQ_FIRST: what a loop does first).
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
KQ_L(KLOOP):
    KQ_FIRST
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
KQ_L(KCOMPUTE):
    mov.u32 %r4, %ta;
    C6(0, 0) C6(0, 1)
#if U6 == 2
    C6(1, 0) C6(1, 1)
#endif
    mov.u32 %ta, %r4;
    KSH(%r1) mov.u32 %r2, 8 * U6; shl.b32 %r1, %r2, %r1; add.u32 %cb, %cb, %r1;  // S steps on
    setp.lt.u32 %p3, %cb, %nkb;
    @%p3 bra KQ_L(KLOOP);
#else
    // ---------------- Q4_K: a step is 8 blocks a warp; U4 steps in flight
KQ_L(KLOOP):
    KQ_FIRST
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
KQ_L(KCOMPUTE):
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
    @%p3 bra KQ_L(KLOOP);
#endif
