// attn_dec_body.h — the entry of ptx/attn_dec.ptx, included once per KV-cache dtype with DEC_ENTRY (its name) and
// KV_FP8 (1: e4m3 pools + f32 row scales, mma on f16; 0: bf16 pools, mma on bf16) defined. The key loop (fp8: a
// shared-memory ring, COPY / LDS; bf16: two register buffers, KV), the S^T operands (QK_STEPS), the score scale
// (KSCALE), P's rounding (CVT_P) and the V operands (PV) differ; the page lookup, softmax, merge and epilogue are
// shared (ptx/attn_dec.ptx says how the fragments are laid out).
#if KV_FP8
// --- fp8: the chunk being computed is buffer A: K words of rows g (%k) and g+8 (%K) (8 x 4 bytes each), V words of
// rows 2tq (%va), 2tq+1 (%vb), 2tq+8 (%vc), 2tq+9 (%vd) (4 x 4 bytes each), K scales of rows g, g+8, V scales of rows
// 2tq, +1, +8, +9, the chunk and its page. The chunks in flight are in shared memory, not registers (RING below) ---
#define DECL_BUF(b) .reg .b32 %k##b##_<8>, %K##b##_<8>, %va##b##_<4>, %vb##b##_<4>, %vc##b##_<4>, %vd##b##_<4>; \
    .reg .f32 %ks##b##_<2>, %vs##b##_<2>; .reg .b32 %c##b, %rw##b; .reg .pred %pc##b;
// --- COPY(b): chunk %c##b (if %pc##b) of page %rw##b into the ring slot at %sb##b, cp.async: 16 rows of K and of V,
// 128 B each, lane l copying bytes 16 l + 512 j of each (row l / 8 + 4 j, piece l % 8, stored at piece
// p ^ SW(row)); lanes 0..7 also copy a 16-byte piece of the 16 K (lanes 0..3) or V (4..7) row scales. Rows past the
// position read nothing and are zero-filled (cp.async's source size 0), so the slot holds finite values only ---
#define COPY_ROW(b, j, dst, hi) setp.le.s32 %p0, %cr##j, %rem; selp.u32 %z, 16, 0, %p0; add.u32 %y, %sb##b, dst; \
    @%pc##b cp.async.cg.shared.global [%y + hi], [%ptr + 512 * j], 16, %z; \
    @%pc##b cp.async.cg.shared.global [%y + hi + 2048], [%d + 512 * j], 16, %z;
#define COPY(b) \
    CHUNK_ROW(b) \
    mul.wide.u32 %d, %x, ROW8; add.u64 %ptr, %pK, %d; add.u64 %ptr, %ptr, %ol16; \
    add.u64 %d, %pV, %d; add.u64 %d, %d, %ol16; \
    COPY_ROW(b, 0, %dst0, 0) COPY_ROW(b, 1, %dst1, 0) COPY_ROW(b, 2, %dst0, 1024) COPY_ROW(b, 3, %dst1, 1024) \
    add.u32 %z, %x, %sq; mul.wide.u32 %ds, %z, 4; add.u64 %ds, %ds, %pS; \
    sub.s32 %z, %rem, %sq; add.s32 %z, %z, 1; max.s32 %z, %z, 0; min.s32 %z, %z, 4; shl.b32 %z, %z, 2; \
    and.pred %p0, %pc##b, %isS; add.u32 %y, %sb##b, %dS; \
    @%p0 cp.async.cg.shared.global [%y], [%ds], 16, %z; \
    cp.async.commit_group;
// --- LDS(b): buffer b's registers from its ring slot at %sb##b (this lane's fragment pieces: pieces tq and tq + 4 of
// K rows g, g+8; piece g of V rows 2tq, 2tq+1, 2tq+8, 2tq+9; the scales) ---
// LDS_PAIR: 4 words of a row (at slot offset off) and of the row 8 below it (+ 1,024 B), registers lo / hi i0 .. i3
#define LDS_PAIR(b, off, lo, hi, i0, i1, i2, i3) add.u32 %y, %sb##b, off; \
    ld.shared.v4.b32 {lo##i0, lo##i1, lo##i2, lo##i3}, [%y]; \
    ld.shared.v4.b32 {hi##i0, hi##i1, hi##i2, hi##i3}, [%y + 1024];
#define LDS(b) \
    LDS_PAIR(b, %oKa, %k##b##_, %K##b##_, 0, 1, 2, 3) LDS_PAIR(b, %oKb, %k##b##_, %K##b##_, 4, 5, 6, 7) \
    LDS_PAIR(b, %oVa, %va##b##_, %vc##b##_, 0, 1, 2, 3) LDS_PAIR(b, %oVb, %vb##b##_, %vd##b##_, 0, 1, 2, 3) \
    add.u32 %y, %sb##b, %oKs; \
    ld.shared.f32 %ks##b##_0, [%y]; ld.shared.f32 %ks##b##_1, [%y + 32]; \
    ld.shared.f32 %vs##b##_0, [%y + 64]; ld.shared.f32 %vs##b##_1, [%y + 96];

// S^T k-step kd: the e4m3 pairs of K word kd -> f16x2 A registers
#define QK_STEP(b, kd, acc) \
    mov.b32 {%h0, %h1}, %k##b##_##kd; cvt.rn.f16x2.e4m3x2 %a0, %h0; cvt.rn.f16x2.e4m3x2 %a2, %h1; \
    mov.b32 {%h0, %h1}, %K##b##_##kd; cvt.rn.f16x2.e4m3x2 %a1, %h0; cvt.rn.f16x2.e4m3x2 %a3, %h1; \
    MMA_OP {acc##0, acc##1, acc##2, acc##3}, {%a0, %a1, %a2, %a3}, {QB0_##kd, QB1_##kd}, {acc##0, acc##1, acc##2, acc##3};
#define QK_STEPS(b) QK_STEP(b, 0, %sa) QK_STEP(b, 1, %sb) QK_STEP(b, 2, %sa) QK_STEP(b, 3, %sb) \
    QK_STEP(b, 4, %sa) QK_STEP(b, 5, %sb) QK_STEP(b, 6, %sa) QK_STEP(b, 7, %sb)
#define KSCALE(b) mul.f32 %f0, %ks##b##_0, %sl2; mul.f32 %f1, %ks##b##_1, %sl2;  // score scale of keys g, g+8
// The V row scales go into P, not V: keys g and g+8 of S^T's accumulator times VS_BIAS x their scale (clamped: P <= 1,
// so P stays finite in f16), before P is rounded to f16; V's e4m3 values enter the mma as they are (exact in f16).
#define PSCALE(b) \
    mul.f32 %f0, %vs##b##_0, VS_BIAS; min.f32 %f0, %f0, VS_MAX; mul.f32 %f1, %vs##b##_1, VS_BIAS; \
    min.f32 %f1, %f1, VS_MAX; \
    mul.f32 %sa0, %sa0, %f0; mul.f32 %sa1, %sa1, %f0; mul.f32 %sa2, %sa2, %f1; mul.f32 %sa3, %sa3, %f1;
// V words i of keys (2tq, 2tq+1) and (2tq+8, 2tq+9): dims 16g + 4i .. + 3 -> m-tiles 2i (dims +0, +1) and 2i+1
#define V_MMA(mt, wlo, whi) \
    mov.b32 {%h0, %h1}, wlo; cvt.rn.f16x2.e4m3x2 %a0, %h0; cvt.rn.f16x2.e4m3x2 %a1, %h1; \
    mov.b32 {%h0, %h1}, whi; cvt.rn.f16x2.e4m3x2 %a2, %h0; cvt.rn.f16x2.e4m3x2 %a3, %h1; \
    MMA_OP {O(mt, 0), O(mt, 1), O(mt, 2), O(mt, 3)}, \
        {%a0, %a1, %a2, %a3}, {%pb0, %pb1}, {O(mt, 0), O(mt, 1), O(mt, 2), O(mt, 3)};
#define PV_I(b, i, mt0, mt1) \
    prmt.b32 %w0, %va##b##_##i, %vb##b##_##i, 0x5140; prmt.b32 %w1, %va##b##_##i, %vb##b##_##i, 0x7362; \
    prmt.b32 %w2, %vc##b##_##i, %vd##b##_##i, 0x5140; prmt.b32 %w3, %vc##b##_##i, %vd##b##_##i, 0x7362; \
    V_MMA(mt0, %w0, %w2) V_MMA(mt1, %w1, %w3)
#define PV(b) PV_I(b, 0, 0, 1) PV_I(b, 1, 2, 3) PV_I(b, 2, 4, 5) PV_I(b, 3, 6, 7)
#define MMA_OP mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
#define CVT_P cvt.rn.f16x2.f32
#define O_BIAS VS_BIAS                   // O^T holds VS_BIAS x the output
#define DIM_SHIFT 4                      // 16 dims of e4m3 = 16 bytes
#else
// --- bf16: buffer b holds K words of rows g (%k) and g+8 (%K) (16 x 2 dims each: the lane's 32 dims in the order
// of its k slots, as the fp8 bytes), V words of rows 2tq (%va), 2tq+1 (%vb), 2tq+8 (%vc), 2tq+9 (%vd) (8 x 2 dims:
// word i = dims 16g + 2i, +1, i.e. m-tile i's rows g and g+8), the chunk and its page; no scales ---
#define DECL_BUF(b) .reg .b32 %k##b##_<16>, %K##b##_<16>, %va##b##_<8>, %vb##b##_<8>, %vc##b##_<8>, %vd##b##_<8>; \
    .reg .b32 %c##b, %rw##b; .reg .pred %pc##b;
#define ZERO_BUF(b) REPA16(ZERO_W, %k##b##_) REPA16(ZERO_W, %K##b##_) REPA8(ZERO_W, %va##b##_) \
    REPA8(ZERO_W, %vb##b##_) REPA8(ZERO_W, %vc##b##_) REPA8(ZERO_W, %vd##b##_)
// --- KV(b), bf16: as the fp8 KV, rows of 256 B: K row g's 64 B at 32 tq and 128 + 32 tq, V rows' 32 B at 32 g ---
#define KV(b) \
    KV_ROWS(b) \
    add.u32 %y, %x, %g; mul.wide.u32 %d, %y, ROW16; add.u64 %ptr, %pK, %d; add.u64 %ptr, %ptr, %o16tq; \
    @%p0 ld.global.nc.v4.b32 {%k##b##_0, %k##b##_1, %k##b##_2, %k##b##_3}, [%ptr]; \
    @%p0 ld.global.nc.v4.b32 {%k##b##_4, %k##b##_5, %k##b##_6, %k##b##_7}, [%ptr + 16]; \
    @%p0 ld.global.nc.v4.b32 {%k##b##_8, %k##b##_9, %k##b##_10, %k##b##_11}, [%ptr + 128]; \
    @%p0 ld.global.nc.v4.b32 {%k##b##_12, %k##b##_13, %k##b##_14, %k##b##_15}, [%ptr + 144]; \
    @%p1 ld.global.nc.v4.b32 {%K##b##_0, %K##b##_1, %K##b##_2, %K##b##_3}, [%ptr + 8 * ROW16]; \
    @%p1 ld.global.nc.v4.b32 {%K##b##_4, %K##b##_5, %K##b##_6, %K##b##_7}, [%ptr + 8 * ROW16 + 16]; \
    @%p1 ld.global.nc.v4.b32 {%K##b##_8, %K##b##_9, %K##b##_10, %K##b##_11}, [%ptr + 8 * ROW16 + 128]; \
    @%p1 ld.global.nc.v4.b32 {%K##b##_12, %K##b##_13, %K##b##_14, %K##b##_15}, [%ptr + 8 * ROW16 + 144]; \
    V_PRED(b) \
    add.u32 %y, %x, %tq2; mul.wide.u32 %d, %y, ROW16; add.u64 %ptr, %pV, %d; add.u64 %ptr, %ptr, %o16g; \
    @%p0 ld.global.nc.v4.b32 {%va##b##_0, %va##b##_1, %va##b##_2, %va##b##_3}, [%ptr]; \
    @%p0 ld.global.nc.v4.b32 {%va##b##_4, %va##b##_5, %va##b##_6, %va##b##_7}, [%ptr + 16]; \
    @%p1 ld.global.nc.v4.b32 {%vb##b##_0, %vb##b##_1, %vb##b##_2, %vb##b##_3}, [%ptr + ROW16]; \
    @%p1 ld.global.nc.v4.b32 {%vb##b##_4, %vb##b##_5, %vb##b##_6, %vb##b##_7}, [%ptr + ROW16 + 16]; \
    @%p2 ld.global.nc.v4.b32 {%vc##b##_0, %vc##b##_1, %vc##b##_2, %vc##b##_3}, [%ptr + 8 * ROW16]; \
    @%p2 ld.global.nc.v4.b32 {%vc##b##_4, %vc##b##_5, %vc##b##_6, %vc##b##_7}, [%ptr + 8 * ROW16 + 16]; \
    @%p3 ld.global.nc.v4.b32 {%vd##b##_0, %vd##b##_1, %vd##b##_2, %vd##b##_3}, [%ptr + 9 * ROW16]; \
    @%p3 ld.global.nc.v4.b32 {%vd##b##_4, %vd##b##_5, %vd##b##_6, %vd##b##_7}, [%ptr + 9 * ROW16 + 16];
// S^T k-step kd: K words 2kd (k slots 2tq, 2tq+1) and 2kd+1 (2tq+8, 2tq+9) are the A registers as loaded
#define QK_STEP(b, kd, acc, w0, w1) \
    MMA_OP {acc##0, acc##1, acc##2, acc##3}, {%k##b##_##w0, %K##b##_##w0, %k##b##_##w1, %K##b##_##w1}, \
        {QB0_##kd, QB1_##kd}, {acc##0, acc##1, acc##2, acc##3};
#define QK_STEPS(b) QK_STEP(b, 0, %sa, 0, 1) QK_STEP(b, 1, %sb, 2, 3) QK_STEP(b, 2, %sa, 4, 5) \
    QK_STEP(b, 3, %sb, 6, 7) QK_STEP(b, 4, %sa, 8, 9) QK_STEP(b, 5, %sb, 10, 11) QK_STEP(b, 6, %sa, 12, 13) \
    QK_STEP(b, 7, %sb, 14, 15)
#define KSCALE(b) mov.f32 %f0, %sl2; mov.f32 %f1, %sl2;
#define PSCALE(b)
// O^T m-tile mt: V word mt of keys (2tq, 2tq+1) and (2tq+8, 2tq+9) paired by prmt (low halves: dim 16g + 2mt = row
// g; high halves: + 1 = row g + 8)
#define PV_MT(b, mt) \
    prmt.b32 %a0, %va##b##_##mt, %vb##b##_##mt, 0x5410; prmt.b32 %a1, %va##b##_##mt, %vb##b##_##mt, 0x7632; \
    prmt.b32 %a2, %vc##b##_##mt, %vd##b##_##mt, 0x5410; prmt.b32 %a3, %vc##b##_##mt, %vd##b##_##mt, 0x7632; \
    MMA_OP {O(mt, 0), O(mt, 1), O(mt, 2), O(mt, 3)}, {%a0, %a1, %a2, %a3}, {%pb0, %pb1}, \
        {O(mt, 0), O(mt, 1), O(mt, 2), O(mt, 3)};
#define PV(b) REPA8(PV_MT, b)
#define MMA_OP mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
#define CVT_P cvt.rn.bf16x2.f32
#define O_BIAS 0f3F800000
#define DIM_SHIFT 5                      // 16 dims of bf16 = 32 bytes
#endif

// --- PROC(b): the chunk in buffer b. S^T = K . Q^T (8 k-steps of 16 dims, two accumulator chains), scale, mask,
// online softmax per head, O^T = O^T * alpha + V^T . P^T (8 m-tiles of 16 dims). Where no head's running max rose in
// any lane, alpha is exactly 1 and the rescale of O^T (32 multiplies a lane) is skipped: the same bits ---
#define PROC(b) \
    mov.f32 %sa0, 0f00000000; mov.f32 %sa1, 0f00000000; mov.f32 %sa2, 0f00000000; mov.f32 %sa3, 0f00000000; \
    mov.f32 %sb0, 0f00000000; mov.f32 %sb1, 0f00000000; mov.f32 %sb2, 0f00000000; mov.f32 %sb3, 0f00000000; \
    QK_STEPS(b) \
    add.f32 %sa0, %sa0, %sb0; add.f32 %sa1, %sa1, %sb1; add.f32 %sa2, %sa2, %sb2; add.f32 %sa3, %sa3, %sb3; \
    shl.b32 %y, %c##b, 4; sub.s32 %rem, %pos, %y; \
    KSCALE(b) \
    mul.f32 %sa0, %sa0, %f0; mul.f32 %sa1, %sa1, %f0; mul.f32 %sa2, %sa2, %f1; mul.f32 %sa3, %sa3, %f1; \
    setp.le.s32 %p0, %g, %rem; selp.f32 %sa0, %sa0, NEG_INF, %p0; selp.f32 %sa1, %sa1, NEG_INF, %p0; \
    setp.le.s32 %p1, %g8, %rem; selp.f32 %sa2, %sa2, NEG_INF, %p1; selp.f32 %sa3, %sa3, NEG_INF, %p1; \
    max.f32 %mx0, %sa0, %sa2; max.f32 %mx1, %sa1, %sa3; \
    shfl.sync.bfly.b32 %f0, %mx0, 4, 31, -1; max.f32 %mx0, %mx0, %f0; \
    shfl.sync.bfly.b32 %f1, %mx1, 4, 31, -1; max.f32 %mx1, %mx1, %f1; \
    shfl.sync.bfly.b32 %f0, %mx0, 8, 31, -1; max.f32 %mx0, %mx0, %f0; \
    shfl.sync.bfly.b32 %f1, %mx1, 8, 31, -1; max.f32 %mx1, %mx1, %f1; \
    shfl.sync.bfly.b32 %f0, %mx0, 16, 31, -1; max.f32 %mx0, %mx0, %f0; \
    shfl.sync.bfly.b32 %f1, %mx1, 16, 31, -1; max.f32 %mx1, %mx1, %f1; \
    max.f32 %mx0, %mx0, %m0; max.f32 %mx1, %mx1, %m1; \
    setp.eq.f32 %p2, %mx0, %m0; setp.eq.and.f32 %p2, %mx1, %m1, %p2; vote.sync.all.pred %p2, %p2, -1; \
    sub.f32 %al0, %m0, %mx0; ex2.approx.ftz.f32 %al0, %al0; \
    sub.f32 %al1, %m1, %mx1; ex2.approx.ftz.f32 %al1, %al1; \
    mov.f32 %m0, %mx0; mov.f32 %m1, %mx1; \
    sub.f32 %sa0, %sa0, %m0; ex2.approx.ftz.f32 %sa0, %sa0; sub.f32 %sa2, %sa2, %m0; ex2.approx.ftz.f32 %sa2, %sa2; \
    sub.f32 %sa1, %sa1, %m1; ex2.approx.ftz.f32 %sa1, %sa1; sub.f32 %sa3, %sa3, %m1; ex2.approx.ftz.f32 %sa3, %sa3; \
    mul.f32 %l0, %l0, %al0; add.f32 %l0, %l0, %sa0; add.f32 %l0, %l0, %sa2; \
    mul.f32 %l1, %l1, %al1; add.f32 %l1, %l1, %sa1; add.f32 %l1, %l1, %sa3; \
    @%p2 bra.uni KEPT_MAX_##b; /* no head's max rose in the warp: alpha = 1, O^T stays */ \
    REP8(RESCALE) \
KEPT_MAX_##b: \
    PSCALE(b) \
    CVT_P %w0, %sa1, %sa0; CVT_P %w1, %sa3, %sa2; \
    movmatrix.sync.aligned.m8n8.trans.b16 %pb0, %w0; movmatrix.sync.aligned.m8n8.trans.b16 %pb1, %w1; \
    PV(b)

.visible .entry DEC_ENTRY(
    .param .u64 p_out,
    .param .u64 p_q,
    .param .u64 p_k,
    .param .u64 p_v,
    .param .u64 p_ks,
    .param .u64 p_vs,
    .param .u64 p_bt,
    .param .u64 p_slot,
    .param .u64 p_pos,
    .param .u32 p_nh,
    .param .u32 p_nkv,
    .param .u32 p_maxpages,
    .param .f32 p_scale,
    .param .u64 p_out8,
    .param .u64 p_sa8,
    .param .u64 p_tok,
    .param .u32 p_wide)
    .reqntid 128, 1, 1
{
    .reg .pred %p0, %p1, %p2, %p3, %cl, %live, %wide, %pw, %early, %ewait;
    .reg .b32 %t, %lane, %warp, %g, %g8, %tq, %tq2, %tq21, %tq28, %tq29, %x, %y, %z;
    .reg .b32 %NH, %NKV, %G, %kvh, %tok, %ix, %slot, %pos, %rem, %nch, %btrow, %S, %cz, %gw, %W, %W2, %r, %j, %ra;
    .reg .b32 %MAXP, %pgl, %nr, %pbase, %mbase, %wk, %u, %ixw, %kvhw, %tokw, %slotw, %posw, %pos0;
    .reg .f32 %mw<4>, %lw<4>;
#define DECL_PW(w) .reg .f32 %pw##w##_<8>;
    REP4(DECL_PW)
    .reg .b64 %pOut, %pQ, %pK, %pV, %pKs, %pVs, %pBT, %d, %ptr, %o16tq, %o16g, %pSl, %pPs, %pTk;
    .reg .b16 %h0, %h1;
    .reg .b32 %a0, %a1, %a2, %a3, %w0, %w1, %w2, %w3, %pb0, %pb1;
    .reg .f32 %sl2, %sa0, %sa1, %sa2, %sa3, %sb0, %sb1, %sb2, %sb3, %f0, %f1, %mx0, %mx1, %al0, %al1;
    .reg .f32 %m0, %m1, %l0, %l1, %e0, %e1, %e2, %e3, %e4, %e5, %e6, %e7, %cf, %L;
    .reg .b32 %qr<16>;
    DECL_BUF(A)
#if !KV_FP8
    DECL_BUF(B)
#endif
    REP8(DECL_O)

    // --- the PDL wait (pdl.h): first thing, unless the host set WIDE_EARLY in p_wide (no key split): then the pass
    // arrays, the block table and every pool row below an entry's position were written before the previous kernel
    // on the stream began (host/gpu_attn.c's contract). The units' slots and positions are read before the wait, and
    // a warp a unit also reads its block-table row and copies the chunks below its own position there (the previous
    // kernel, qkv, writes only the rows at the positions); the CTA mapping waits once it has its unit ---
    ld.param.u32 %wk, [p_wide];
    mov.u32 %x, %nctaid.z;
    setp.eq.u32 %p0, %x, 1;
    and.b32 %y, %wk, WIDE_EARLY;
    setp.ne.and.u32 %early, %y, 0, %p0;
    and.b32 %wk, %wk, WIDE_KEYS_MASK;
    @%early bra.uni WAIT_LATER;
    PDL_START
WAIT_LATER:

    // --- who am I ---
    mov.u32 %t, %tid.x;
    and.b32 %lane, %t, 31;
    shr.u32 %warp, %t, 5;
    shr.u32 %g, %lane, 2;                        // fragment row (key g / g+8; V dims 16g ..; head g of Q^T)
    add.u32 %g8, %g, 8;
    and.b32 %tq, %lane, 3;                       // fragment column pair (heads 2tq, 2tq+1; keys 2tq.. of V)
    shl.b32 %tq2, %tq, 1;
    add.u32 %tq21, %tq2, 1;
    add.u32 %tq28, %tq2, 8;
    add.u32 %tq29, %tq2, 9;
    ld.param.u64 %pOut, [p_out];
    ld.param.u64 %pQ, [p_q];
    ld.param.u64 %pK, [p_k];
    ld.param.u64 %pV, [p_v];
    ld.param.u64 %pKs, [p_ks];
    ld.param.u64 %pVs, [p_vs];
    ld.param.u64 %pBT, [p_bt];
    ld.param.u32 %NH, [p_nh];
    ld.param.u32 %NKV, [p_nkv];
    ld.param.f32 %sl2, [p_scale];
    mul.f32 %sl2, %sl2, LOG2E;                   // softmax in base 2
    cvta.to.global.u64 %pOut, %pOut;
    cvta.to.global.u64 %pQ, %pQ;
    cvta.to.global.u64 %pK, %pK;
    cvta.to.global.u64 %pV, %pV;
    cvta.to.global.u64 %pKs, %pKs;
    cvta.to.global.u64 %pVs, %pVs;
    cvta.to.global.u64 %pBT, %pBT;
    div.u32 %G, %NH, %NKV;
    // --- the unit: entry ix of tok_slot / tok_pos (the grid's y, kv heads along x: a token's CTAs are launched
    // together, and with an order, the longest contexts first), token tok = p_tok[ix] (its q and out rows), or ix.
    // A warp a unit (p_wide > 0, no cluster, and entry 0's position, the longest with an order, below p_wide): warp w
    // of the grid's CTA b = x + y n_kv takes unit u = 4b + w (entry u / n_kv, kv head u % n_kv) and walks all of its
    // keys alone, no merge, no CTA barrier (many short units: every warp a stream of its own chunks, NOTES session
    // 40); CTAs past the units leave at once. Both candidates' loads go out together, then one is kept ---
    mov.u32 %kvh, %ctaid.x;
    mov.u32 %ix, %ctaid.y;
    setp.ne.and.u32 %wide, %wk, 0, %p0;
    mov.u32 %x, %nctaid.x;
    mad.lo.u32 %y, %ix, %x, %kvh;
    mad.lo.u32 %u, %y, 4, %warp;
    mov.u32 %z, %nctaid.y;
    mul.lo.u32 %z, %z, %NKV;                     // units
    setp.lt.and.u32 %pw, %u, %z, %wide;
    mov.u32 %ixw, 0;
    mov.u32 %kvhw, 0;
    @!%wide bra.uni WIDE_IX;                     // (no divisions where the host never asks for the warp mapping)
    div.u32 %ixw, %u, %NKV;
    rem.u32 %kvhw, %u, %NKV;
WIDE_IX:
    ld.param.u64 %pSl, [p_slot];
    cvta.to.global.u64 %pSl, %pSl;
    ld.param.u64 %pPs, [p_pos];
    cvta.to.global.u64 %pPs, %pPs;
    mov.u32 %pos0, -1;
    @%wide ld.global.u32 %pos0, [%pPs];
    mul.wide.u32 %d, %ix, 4;
    add.u64 %ptr, %pSl, %d;
    ld.global.u32 %slot, [%ptr];
    add.u64 %ptr, %pPs, %d;
    ld.global.u32 %pos, [%ptr];
    mul.wide.u32 %d, %ixw, 4;
    add.u64 %ptr, %pSl, %d;
    @%pw ld.global.u32 %slotw, [%ptr];
    add.u64 %ptr, %pPs, %d;
    @%pw ld.global.u32 %posw, [%ptr];
    mov.u32 %tok, %ix;
    mov.u32 %tokw, %ixw;
    ld.param.u64 %pTk, [p_tok];
    setp.ne.u64 %p0, %pTk, 0;
    @!%p0 bra.uni HAVE_TOK;
    cvta.to.global.u64 %pTk, %pTk;
    mul.wide.u32 %d, %ix, 4;
    add.u64 %ptr, %pTk, %d;
    ld.global.nc.u32 %tok, [%ptr];
    mul.wide.u32 %d, %ixw, 4;
    add.u64 %ptr, %pTk, %d;
    @%pw ld.global.nc.u32 %tokw, [%ptr];
HAVE_TOK:
    setp.lt.and.u32 %wide, %pos0, %wk, %wide;
    and.pred %ewait, %early, %wide;              // a lone warp's wait comes after its first chunks
    @!%wide bra.uni UNIT_CTA;
    @!%pw bra.uni DONE;                          // past the last unit
    mov.u32 %ix, %ixw;
    mov.u32 %kvh, %kvhw;
    mov.u32 %tok, %tokw;
    mov.u32 %slot, %slotw;
    mov.u32 %pos, %posw;
    mov.u32 %S, 1;
    mov.u32 %cz, 0;
    mov.u32 %gw, 0;
    mov.u32 %W, 1;
    bra.uni UNIT_DONE;
UNIT_CTA:
    @!%early bra.uni CTA_WAITED;                 // (the CTA mapping reads nothing more before its wait)
    PDL_START
CTA_WAITED:
    mov.u32 %S, %nctaid.z;                       // CTAs of the cluster splitting this token's keys
    mov.u32 %cz, %ctaid.z;
    mad.lo.u32 %gw, %cz, 4, %warp;               // this warp's first chunk; then + W, + 2W, ...
    shl.b32 %W, %S, 2;
UNIT_DONE:
    setp.gt.u32 %cl, %S, 1;
    shl.b32 %W2, %W, 1;
    // the warp's partial (O^T [8 heads][128] f32, then (max, sum) [8 heads]) for the merge, or a lone warp's own
    mov.u32 %pbase, dec_smem;
    mad.lo.u32 %pbase, %warp, 4096, %pbase;
    mov.u32 %mbase, dec_smem + PART_BYTES;
    mad.lo.u32 %mbase, %warp, 64, %mbase;

    // --- Q^T fragments first (they depend on nothing): head g of the group (zeros past G), this lane's 32 dims,
    // converted to f16 once the first K/V loads are on their way (a lone warp that waits late: after its wait) ---
#define ZQ(i) mov.b32 %qr##i, 0;
    REP16(ZQ)
#define Q_LOAD \
    setp.lt.u32 %p0, %g, %G; \
    mad.lo.u32 %x, %kvh, %G, %g; mad.lo.u32 %x, %tok, %NH, %x; shl.b32 %x, %x, 7; mul.wide.u32 %d, %x, 2; \
    add.u64 %ptr, %pQ, %d; shl.b32 %x, %tq, 5; cvt.u64.u32 %d, %x; \
    add.u64 %ptr, %ptr, %d; /* &q[tok][kvh*G + g][16 tq] */ \
    @%p0 ld.global.nc.v4.b32 {%qr0, %qr1, %qr2, %qr3}, [%ptr]; \
    @%p0 ld.global.nc.v4.b32 {%qr4, %qr5, %qr6, %qr7}, [%ptr + 16]; \
    @%p0 ld.global.nc.v4.b32 {%qr8, %qr9, %qr10, %qr11}, [%ptr + 128]; \
    @%p0 ld.global.nc.v4.b32 {%qr12, %qr13, %qr14, %qr15}, [%ptr + 144];
    @%ewait bra.uni Q_LATER;
    Q_LOAD
Q_LATER:

    // --- the token: position (clamped to the table row), chunks of 16 keys, its slot's first 32 page ids ---
    ld.param.u32 %MAXP, [p_maxpages];
    mul.lo.u32 %btrow, %slot, %MAXP;             // block-table row of the slot
    mov.u32 %pgl, 0;
    setp.lt.u32 %p1, %lane, %MAXP;              // lane i: page i of the slot (if the row has it)
    add.u32 %z, %btrow, %lane;
    mul.wide.u32 %d, %z, 4;
    add.u64 %ptr, %pBT, %d;
    @%p1 ld.global.nc.u32 %pgl, [%ptr];
    shl.b32 %x, %MAXP, 6;
    sub.u32 %x, %x, 1;
    min.u32 %pos, %pos, %x;
    shr.u32 %nch, %pos, 4;
    add.u32 %nch, %nch, 1;
    shl.b32 %x, %tq, DIM_SHIFT;
    cvt.u64.u32 %o16tq, %x;                      // K: this lane's dims of a row start at 16 tq (and 64 + 16 tq)
    shl.b32 %x, %g, DIM_SHIFT;
    cvt.u64.u32 %o16g, %x;                       // V: dims 16 g ..

    // --- state: O^T = 0, max -inf, sums 0 ---
#define ZERO_O(mt) mov.f32 O(mt, 0), 0f00000000; mov.f32 O(mt, 1), 0f00000000; mov.f32 O(mt, 2), 0f00000000; \
    mov.f32 O(mt, 3), 0f00000000;
    REP8(ZERO_O)
    mov.f32 %m0, NEG_INF;
    mov.f32 %m1, NEG_INF;
    mov.f32 %l0, 0f00000000;
    mov.f32 %l1, 0f00000000;
#if KV_FP8
    // --- the key loop (fp8): this warp's chunks gw, gw + W, ... (W = 4S warps share the token's chunks) pass through
    // its RING_D slots of shared memory (RING_D - 1 chunks in flight while one is computed), none in registers.
    // Per-lane constants first: what it copies (bytes 16 l + 512 j of a chunk's K and V: rows cr_j = l / 8 + 4 j,
    // piece l % 8, stored at piece (l % 8) ^ SW(row)); lanes 0..7 a scale piece (K: 0..3, V: 4..7; rows 4 (l % 4) ..);
    // what it reads (pieces tq, tq + 4 of K rows g, g + 8; piece g of V rows 2tq, 2tq + 1, + 8; those rows' scales) ---
    {
    .reg .b32 %cF, %rwF, %sbF, %sbA, %dst0, %dst1, %cr0, %cr1, %cr2, %cr3, %sq, %dS, %oKa, %oKb, %oVa, %oVb, %oKs;
    .reg .b32 %slot_i, %ring, %sw_t;
    .reg .b64 %ol16, %ds, %pS;
    .reg .pred %pcF, %isS;
    shl.b32 %x, %lane, 4;
    cvt.u64.u32 %ol16, %x;
    shr.u32 %cr0, %lane, 3;
    add.u32 %cr1, %cr0, 4;
    add.u32 %cr2, %cr0, 8;
    add.u32 %cr3, %cr0, 12;
    and.b32 %z, %lane, 7;                        // piece
    SW(%y, %cr0) xor.b32 %y, %y, %z; shl.b32 %y, %y, 4; mad.lo.u32 %dst0, %cr0, ROW8, %y;
    SW(%y, %cr1) xor.b32 %y, %y, %z; shl.b32 %y, %y, 4; mad.lo.u32 %dst1, %cr1, ROW8, %y;
    setp.lt.u32 %isS, %lane, 8;
    and.b32 %sq, %lane, 3;
    shl.b32 %sq, %sq, 2;                         // first row of the scale piece
    shl.b32 %dS, %z, 4;
    add.u32 %dS, %dS, SLOT_KS;                   // K scales at SLOT_KS, V scales at SLOT_KS + 64
    setp.lt.u32 %p0, %lane, 4;
    selp.b64 %pS, %pKs, %pVs, %p0;
    SW(%y, %g) xor.b32 %x, %y, %tq; shl.b32 %x, %x, 4; mad.lo.u32 %oKa, %g, ROW8, %x;
    add.u32 %x, %tq, 4; xor.b32 %x, %y, %x; shl.b32 %x, %x, 4; mad.lo.u32 %oKb, %g, ROW8, %x;
    SW(%y, %tq2) xor.b32 %x, %y, %g; shl.b32 %x, %x, 4; mad.lo.u32 %oVa, %tq2, ROW8, %x; add.u32 %oVa, %oVa, SLOT_V;
    SW(%y, %tq21) xor.b32 %x, %y, %g; shl.b32 %x, %x, 4; mad.lo.u32 %oVb, %tq21, ROW8, %x; add.u32 %oVb, %oVb, SLOT_V;
    shl.b32 %oKs, %g, 2;
    add.u32 %oKs, %oKs, SLOT_KS;
    mov.u32 %x, %dynamic_smem_size;             // the host's size must hold the rings (a mismatch traps)
    setp.lt.u32 %p0, %x, 4 * RING_D * SLOT_BYTES;
    @%p0 trap;
    mov.u32 %ring, dec_smem;
    mad.lo.u32 %ring, %warp, RING_D * SLOT_BYTES, %ring;   // this warp's slots
    @%wide mov.u32 %pbase, %ring;                // a lone warp's partial: over its own slots (4,160 of 12,672 B)
    @%wide add.u32 %mbase, %ring, 4096;

    // --- prologue: chunks gw + j W into slots j = 0 .. RING_D - 1 (a group each, empty past the last chunk). A lone
    // warp that waits late copies the chunks wholly below its position first (its last chunk holds the key qkv is
    // writing), then waits, loads Q and copies the rest in order: the groups still go in chunk order ---
    // FILL_SLOT(top): chunk cF into slot sbF, then the next slot, back to top while slots are left
#define FILL_SLOT(top) \
    setp.lt.u32 %pcF, %cF, %nch; \
    PAGE(F) \
    COPY(F) \
    add.u32 %cF, %cF, %W; \
    add.u32 %sbF, %sbF, SLOT_BYTES; \
    add.u32 %slot_i, %slot_i, 1; \
    setp.lt.u32 %p0, %slot_i, RING_D; \
    @%p0 bra.uni top;
    mov.u32 %cF, %gw;
    mov.u32 %sbF, %ring;
    mov.u32 %slot_i, 0;
    @!%ewait bra.uni FILL;
EARLY_FILL:
    shl.b32 %x, %cF, 4;
    add.u32 %x, %x, 16;
    setp.gt.u32 %p0, %x, %pos;                   // chunk cF holds the position (or lies past it)
    @%p0 bra.uni EARLY_DONE;
    FILL_SLOT(EARLY_FILL)
EARLY_DONE:
    PDL_START
    Q_LOAD
    setp.ge.u32 %p0, %slot_i, RING_D;
    @%p0 bra.uni FILLED;
FILL:
    FILL_SLOT(FILL)
FILLED:
    // in place: k-step kd's b0 (dims of bytes 4kd, 4kd+1) is qr[2kd], b1 (bytes 4kd+2, 4kd+3) qr[2kd+1] (QB0, QB1);
    // bf16 -> f16 is exact for the q-normed range, as in attention.ptx
#define Q_F16(dst, src) shl.b32 %x, src, 16; and.b32 %y, src, 0xFFFF0000; cvt.rn.f16x2.f32 dst, %y, %x;
#define Q_F16_I(i) Q_F16(%qr##i, %qr##i)
    REP16(Q_F16_I)

    // --- chunk cA in slot sbA: wait for its group (RING_D - 1 younger ones may still fly), the warp's copies visible
    // to all its lanes, fragments into registers, compute; then the slot takes chunk cA + RING_D W ---
    mov.u32 %cA, %gw;
    mov.u32 %sbA, %ring;
KEY_LOOP:
    setp.lt.u32 %pcA, %cA, %nch;
    @!%pcA bra.uni KEYS_DONE;
    cp.async.wait_group RING_D - 1;
    bar.warp.sync -1;
    LDS(A)
    PROC(A)
    bar.warp.sync -1;                            // every lane has read the slot before it is refilled
    mov.u32 %sbF, %sbA;
    setp.lt.u32 %pcF, %cF, %nch;
    PAGE(F)
    COPY(F)
    add.u32 %cF, %cF, %W;
    add.u32 %cA, %cA, %W;
    add.u32 %sbA, %sbA, SLOT_BYTES;
    add.u32 %x, %ring, RING_D * SLOT_BYTES;
    setp.eq.u32 %p0, %sbA, %x;
    @%p0 mov.u32 %sbA, %ring;
    bra.uni KEY_LOOP;
KEYS_DONE:
    cp.async.wait_group 0;                       // (only empty groups can be left)
    @!%wide bar.sync 0;                          // the partials below reuse the CTA's slots (a lone warp's: its own,
    @%wide bar.warp.sync -1;                     // every lane done reading them)
    }
#else
    // --- bf16: a lone warp that waits late has read its metadata; it waits here (its chunks are in registers) ---
    @!%ewait bra.uni BF_WAITED;
    PDL_START
    Q_LOAD
BF_WAITED:
    // --- the chunk buffers start zero (finite values for rows that load nothing) ---
    ZERO_BUF(A)
    ZERO_BUF(B)
    mov.u32 %rwA, 0;
    mov.u32 %rwB, 0;

    // --- the key loop: chunks gw, gw + W, ... alternate between buffers A and B, the next-but-one chunk loading
    // while this one is computed (W = 4S warps share the token's chunks) ---
    mov.u32 %cA, %gw;
    setp.lt.u32 %pcA, %cA, %nch;
    add.u32 %cB, %gw, %W;
    setp.lt.u32 %pcB, %cB, %nch;
    PAGE(A)
    PAGE(B)
    KV(A)
    KV(B)
KEY_LOOP:
    @!%pcA bra KEYS_DONE;
    PROC(A)
    add.u32 %cA, %cA, %W2;
    setp.lt.u32 %pcA, %cA, %nch;
    PAGE(A)
    KV(A)
    @!%pcB bra KEYS_DONE;
    PROC(B)
    add.u32 %cB, %cB, %W2;
    setp.lt.u32 %pcB, %cB, %nch;
    PAGE(B)
    KV(B)
    bra KEY_LOOP;
KEYS_DONE:
#endif

    // --- this warp's partial: row sums over the 8 lanes of a head pair, then O^T, (max, sum) into shared memory ---
    shfl.sync.bfly.b32 %f0, %l0, 4, 31, -1;
    add.f32 %l0, %l0, %f0;
    shfl.sync.bfly.b32 %f0, %l0, 8, 31, -1;
    add.f32 %l0, %l0, %f0;
    shfl.sync.bfly.b32 %f0, %l0, 16, 31, -1;
    add.f32 %l0, %l0, %f0;
    shfl.sync.bfly.b32 %f1, %l1, 4, 31, -1;
    add.f32 %l1, %l1, %f1;
    shfl.sync.bfly.b32 %f1, %l1, 8, 31, -1;
    add.f32 %l1, %l1, %f1;
    shfl.sync.bfly.b32 %f1, %l1, 16, 31, -1;
    add.f32 %l1, %l1, %f1;
    shl.b32 %y, %tq2, 9;                         // the partials (fp8: over the slots): [warp][head 2tq]: * 128 * 4
    add.u32 %x, %pbase, %y;
    shl.b32 %y, %g, 6;                           // dims 16g: * 4 * 16
    add.u32 %x, %x, %y;
    st.shared.v4.f32 [%x], {O(0, 0), O(0, 2), O(1, 0), O(1, 2)};
    st.shared.v4.f32 [%x + 16], {O(2, 0), O(2, 2), O(3, 0), O(3, 2)};
    st.shared.v4.f32 [%x + 32], {O(4, 0), O(4, 2), O(5, 0), O(5, 2)};
    st.shared.v4.f32 [%x + 48], {O(6, 0), O(6, 2), O(7, 0), O(7, 2)};
    st.shared.v4.f32 [%x + 512], {O(0, 1), O(0, 3), O(1, 1), O(1, 3)};
    st.shared.v4.f32 [%x + 528], {O(2, 1), O(2, 3), O(3, 1), O(3, 3)};
    st.shared.v4.f32 [%x + 544], {O(4, 1), O(4, 3), O(5, 1), O(5, 3)};
    st.shared.v4.f32 [%x + 560], {O(6, 1), O(6, 3), O(7, 1), O(7, 3)};
    setp.eq.u32 %p0, %g, 0;
    shl.b32 %y, %tq2, 3;
    add.u32 %x, %mbase, %y;
    @%p0 st.shared.v2.f32 [%x], {%m0, %l0};
    @%p0 st.shared.v2.f32 [%x + 8], {%m1, %l1};
    @%wide bra.uni WIDE_EPI;
    @%cl bra CLUSTER_SYNC;
    bar.sync 0;
    bra MERGE_BEGIN;
CLUSTER_SYNC:
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
MERGE_BEGIN:

    // --- merge (CTA 0 of the cluster): thread t does head t / 16, dims 8 (t % 16) .. + 7, one pass over the ranks
    // that hold chunks (CTA r's first chunk is 4r: ranks r < ceil(nch / 4)), the 4 warp partials of a rank loaded
    // together and folded into a running (M, L, O) (a warp that saw no key: m -inf, weight 0) ---
    shr.u32 %z, %t, 4;                           // head
    setp.lt.u32 %live, %z, %G;
    setp.eq.u32 %p0, %cz, 0;
    and.pred %live, %live, %p0;
    @!%live bra MERGED;
    add.u32 %nr, %nch, 3;
    shr.u32 %nr, %nr, 2;
    min.u32 %nr, %nr, %S;
    mov.f32 %mx0, NEG_INF;
    mov.f32 %L, 0f00000000;
#define ZE(i) mov.f32 %e##i, 0f00000000;
    REP8(ZE)
    shl.b32 %x, %z, 3;
    mov.u32 %y, dec_smem + PART_BYTES;
    add.u32 %w2, %y, %x;                         // &ml[warp 0][head]
    shl.b32 %x, %z, 9;
    and.b32 %y, %t, 15;
    shl.b32 %y, %y, 5;
    add.u32 %x, %x, %y;
    mov.u32 %y, dec_smem;
    add.u32 %w3, %y, %x;                         // &part[warp 0][head][8 (t % 16)]
    mov.u32 %r, 0;
RANK_LOOP:
    mov.u32 %ra, %w2;
    @%cl mapa.shared::cluster.u32 %ra, %ra, %r;
#define ML_LD(w) MLD2(%mw##w, %lw##w, w * 64)
    REP4(ML_LD)
    mov.u32 %ra, %w3;
    @%cl mapa.shared::cluster.u32 %ra, %ra, %r;
#define P_LD(w) MLD4(%pw##w##_0, %pw##w##_1, %pw##w##_2, %pw##w##_3, w * 4096) \
    MLD4(%pw##w##_4, %pw##w##_5, %pw##w##_6, %pw##w##_7, w * 4096 + 16)
    REP4(P_LD)
    max.f32 %mx1, %mw0, %mw1;
    max.f32 %f0, %mw2, %mw3;
    max.f32 %mx1, %mx1, %f0;
    max.f32 %mx1, %mx1, %mx0;                    // new running max (finite: rank 0's warp 0 has chunk 0)
    sub.f32 %f0, %mx0, %mx1;
    ex2.approx.ftz.f32 %al0, %f0;                // rescale of what is summed so far
    mov.f32 %mx0, %mx1;
    mul.f32 %L, %L, %al0;
#define E_SCALE(i) mul.f32 %e##i, %e##i, %al0;
    REP8(E_SCALE)
#define E_FOLD_I(w, i) fma.rn.f32 %e##i, %pw##w##_##i, %cf, %e##i;
#define E_FOLD(w) sub.f32 %f0, %mw##w, %mx0; ex2.approx.ftz.f32 %cf, %f0; fma.rn.f32 %L, %lw##w, %cf, %L; \
    REPA8(E_FOLD_I, w)
    REP4(E_FOLD)
    add.u32 %r, %r, 1;
    setp.lt.u32 %p1, %r, %nr;
    @%p1 bra RANK_LOOP;
    bra.uni EPILOGUE;

    // --- a lone warp: its partial is the whole sum; lane l does head j + l / 16 (j = 0, 2, ..), dims 8 (l % 16) ..
    // + 7 (the merge's thread mapping within a half-warp), through the epilogue below ---
WIDE_EPI:
    bar.warp.sync -1;                            // the warp's partial written
    mov.u32 %j, 0;
WIDE_HEAD:
    shr.u32 %z, %lane, 4;
    add.u32 %z, %z, %j;
    setp.ge.u32 %p0, %z, %G;
    @%p0 bra WIDE_NEXT;
    shl.b32 %x, %z, 3;
    add.u32 %x, %mbase, %x;
    ld.shared.f32 %L, [%x + 4];
    shl.b32 %x, %z, 9;
    and.b32 %y, %lane, 15;
    shl.b32 %y, %y, 5;
    add.u32 %x, %x, %y;
    add.u32 %x, %pbase, %x;
    ld.shared.v4.f32 {%e0, %e1, %e2, %e3}, [%x];
    ld.shared.v4.f32 {%e4, %e5, %e6, %e7}, [%x + 16];
    // --- epilogue: O / L (fp8: / 64 L, O^T holds 64 x the output: the V bias), bf16, 16 B per thread ---
EPILOGUE:
#if KV_FP8
    mul.f32 %L, %L, O_BIAS;
#endif
    rcp.rn.f32 %L, %L;
    mul.f32 %e0, %e0, %L;
    mul.f32 %e1, %e1, %L;
    mul.f32 %e2, %e2, %L;
    mul.f32 %e3, %e3, %L;
    mul.f32 %e4, %e4, %L;
    mul.f32 %e5, %e5, %L;
    mul.f32 %e6, %e6, %L;
    mul.f32 %e7, %e7, %L;
    cvt.rn.bf16x2.f32 %a0, %e1, %e0;
    cvt.rn.bf16x2.f32 %a1, %e3, %e2;
    cvt.rn.bf16x2.f32 %a2, %e5, %e4;
    cvt.rn.bf16x2.f32 %a3, %e7, %e6;
    mad.lo.u32 %x, %kvh, %G, %z;
    mad.lo.u32 %x, %tok, %NH, %x;
    shl.b32 %x, %x, 7;
    and.b32 %y, %t, 15;
    mad.lo.u32 %x, %y, 8, %x;                    // element (tok, kvh*G + head, 8 (t % 16))
    ld.param.u64 %ptr, [p_out8];
    setp.ne.u64 %p0, %ptr, 0;
    @%p0 bra EPI_Q;
    mul.wide.u32 %d, %x, 2;
    add.u64 %ptr, %pOut, %d;
    st.global.v4.b32 [%ptr], {%a0, %a1, %a2, %a3};
    bra MERGED;
EPI_Q:
    // --- or, for an FP8 o projection: the head's 128 outputs are one scale block of its input, so quantise here
    // what quant_act_fp8 would make of these bf16 values (quant_fp8.h): amax over the 16 lanes of the head (a
    // half-warp, its own shuffle mask), e4m3 at out8 (same element offsets), the scale at sa8[tok][head]
    {
    .reg .pred %p;
    .reg .f32 %f2, %f3, %amax, %scale, %inv, %ft;
    .reg .b32 %hm, %q0, %q1;
    mov.f32 %amax, 0f00000000;
    AMAX2(%a0)
    AMAX2(%a1)
    AMAX2(%a2)
    AMAX2(%a3)
    and.b32 %hm, %t, 16;
    setp.ne.u32 %p, %hm, 0;
    selp.b32 %hm, 0xFFFF0000, 0x0000FFFF, %p;
    shfl.sync.bfly.b32 %ft, %amax, 8, 0x1f, %hm;
    max.f32 %amax, %amax, %ft;
    shfl.sync.bfly.b32 %ft, %amax, 4, 0x1f, %hm;
    max.f32 %amax, %amax, %ft;
    shfl.sync.bfly.b32 %ft, %amax, 2, 0x1f, %hm;
    max.f32 %amax, %amax, %ft;
    shfl.sync.bfly.b32 %ft, %amax, 1, 0x1f, %hm;
    max.f32 %amax, %amax, %ft;
    SCALE
    QUANT4(%a0, %a1, %q0)
    QUANT4(%a2, %a3, %q1)
    cvt.u64.u32 %d, %x;
    add.u64 %d, %ptr, %d;
    st.global.v2.b32 [%d], {%q0, %q1};
    setp.ne.u32 %p, %y, 0;                       // lane 0 of the head: the block's scale
    @%p bra MERGED;
    shr.u32 %x, %x, 7;
    mul.wide.u32 %d, %x, 4;
    ld.param.u64 %ptr, [p_sa8];
    add.u64 %ptr, %ptr, %d;
    st.global.f32 [%ptr], %scale;
    }
MERGED:
    @%wide bra WIDE_NEXT;
    @!%cl bra DONE;
    barrier.cluster.arrive.release.aligned;      // no CTA leaves while CTA 0 still reads its shared memory
    barrier.cluster.wait.acquire.aligned;
    bra.uni DONE;
WIDE_NEXT:
    add.u32 %j, %j, 2;
    setp.lt.u32 %p0, %j, %G;
    @%p0 bra WIDE_HEAD;
DONE:
    ret;
}
#undef DECL_BUF
#undef ZERO_BUF
#undef KV
#undef QK_STEP
#undef QK_STEPS
#undef KSCALE
#undef PSCALE
#undef PV
#undef MMA_OP
#undef CVT_P
#undef O_BIAS
#undef DIM_SHIFT
#undef PROC
#if KV_FP8
#undef V_MMA
#undef PV_I
#else
#undef PV_MT
#endif
