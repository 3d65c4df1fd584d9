// attn_wg_body.h — one variant of the prefill attention kernel, included once per variant by attn_wg.ptx (read its
// header for the layouts, the operands and the ring protocol). The includer defines:
//   NAME     .entry name
//   STAGES   depth of the K/V ring (64 KB per stage)
//   PIPE     0: each consumer warpgroup runs S wgmma -> softmax -> O wgmma one after the other (the other warpgroup
//               fills the tensor cores meanwhile);
//            1: FA3's intra-warpgroup overlap: S(it) = Q.K(it)^T and O += P(it-1).V(it-1) are issued together, the
//               softmax of S(it) runs while the O wgmma is in flight, O is rescaled after it lands. Same registers
//               (P is the bf16 copy of the previous S), one more stage so that TMA keeps ahead.
//   VARLEN   0: one run per launch (params n, pos0, bt = the slot's block-table row; CTA y = block of the run);
//            1: CTA y = work item y of the param array p_work (WORK_BYTES / 16 items of int32 x 4: {first q/out row
//               in the step, rows 1..128, position of that row, slot}): one block of any run of the step, done
//               exactly as the one-run kernel does a block (the block's rows as a run of <= 128 from its position);
//               bt = the whole block table (row slot * max_pages). Rows past the item's are the next run's (or the
//               map's zero fill past T): computed like the rows past n of the one-run form, never stored.
//   KV8      0: bf16 pools; 1: the fp8 cache (attn_wg.ptx's header: e4m3 tiles converted by the producer warpgroup;
//               PIPE 1 only)
//   GPACK    optional, 1 (KV8, PIPE 1 only): short items, a GQA group a CTA. CTA (x, y) = (kv head x, item y) does
//            the G query heads of kv head x one after the other. The host takes it only where every item's last key
//            is below 128 STAGES, so the item's tiles fit the ring at once: the producer loads and converts each
//            tile once, and all G heads read it (no stage is refilled: the empty barriers go unused); Q has two
//            buffers (qbar / qrdy / qfree pairs at PQ_OFF), so head g + 1's Q lands and is converted while head g
//            computes. Each head's arithmetic is the unpacked kernel's, so the output is bit for bit the same.
// Barriers: full[STAGES] at BAR, empty[STAGES] after them, qfull after those; KV8: land[STAGES] (a tile's e4m3 bytes
// arrived), qready (Q converted to f16) after qfull.

#ifndef GPACK
#define GPACK 0
#endif
#define QAREA ((GPACK + 1) * Q_BYTES)            // the Q buffer(s); the stages follow
#if KV8
#define AB_TY f16
#define CVT_P cvt.rn.f16x2.f32
#define KS_OFF (QAREA + STAGES * STAGE_BYTES)   // K row scales of stage s: f32 [128] at + 512 s
#define VS_OFF (KS_OFF + STAGES * 512)          // V row scales x 64 (clamped) of stage s: f16 [128] at + 256 s
#define BAR_OFF (VS_OFF + STAGES * 256)
#define FULL_COUNT 128                          // the producer warpgroup's threads, each after its conversions
#else
#define AB_TY bf16
#define CVT_P cvt.rn.bf16x2.f32
#define BAR_OFF (QAREA + STAGES * STAGE_BYTES)
#define FULL_COUNT 1                            // the producer's expect_tx
#endif
#define LAND_OFF (16 * STAGES + 8)
#define QRDY_OFF (24 * STAGES + 8)
#define PQ_OFF (24 * STAGES + 16)               // GPACK: qbar[2], then qrdy[2] (+16), then qfree[2] (+32)
#define TMA_LOAD cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes
#define EMPTY_OFF (8 * STAGES)
#define QBAR_OFF (16 * STAGES)
#if VARLEN
#define QROW %qrow                        // the item's first row in the step's q
#else
#define QROW %row0                        // the block's first row in the run's q
#endif

// Every mbarrier wait counts its tries and traps past SPIN_LIMIT (seconds of waiting): a protocol bug (parity,
// expect_tx bytes) then ends the launch with an error instead of hanging the GPU and every test after it.
#define SPIN(L, BAR, PAR) mov.u32 %spin, 0; \
L: mbarrier.try_wait.parity.shared::cta.b64 %p, [BAR], PAR; add.u32 %spin, %spin, 1; \
    setp.gt.u32 %pt, %spin, SPIN_LIMIT; @%pt trap; @!%p bra L;

// --- consumer phases (macros: the overlapped variant uses some of them twice, with its own labels) ---
// wait for tile `it` in stage s; sk, sv: its K and V tiles; kb: its first key; plast: the CTA's last tile
#if GPACK
#define PLAST_HEAD and.pred %plast, %plast, %pfh;  // (GPACK: V's rows past the last key are zeroed for head 0 only)
#else
#define PLAST_HEAD
#endif
#define TILE_WAIT(L) mad.lo.u32 %full, %s, 8, %bar; SPIN(L, %full, %ph) \
    mad.lo.u32 %sk, %s, STAGE_BYTES, %sbase; add.u32 %sk, %sk, QAREA; add.u32 %sv, %sk, KV_BYTES; \
    shl.b32 %kb, %it, 7; sub.u32 %t1, %ntiles, 1; setp.eq.u32 %plast, %it, %t1; PLAST_HEAD
// last tile: zero V rows of keys past klast (both slabs; 16 chunks of 16 B per key row, whole rows, so the swizzle,
// which only permutes chunks within a row, does not matter) so that P = 0 meets finite values. All 256 consumer
// threads take part, then make the generic-proxy stores visible to wgmma (async proxy) and meet at barrier 1.
#define ZERO_V(LZ, LD, LE) @!%plast bra LE; \
    sub.u32 %zr, %klast, %kb; add.u32 %zr, %zr, 1; setp.ge.u32 %p, %zr, KT; @%p bra LE; \
    sub.u32 %zn, KT, %zr; shl.b32 %zn, %zn, 4; sub.u32 %zi, %tx, 128; \
LZ: setp.ge.u32 %p, %zi, %zn; @%p bra LD; \
    shr.u32 %t1, %zi, 4; add.u32 %t1, %t1, %zr; and.b32 %t2, %zi, 15; shr.u32 %za, %t2, 3; \
    mad.lo.u32 %za, %za, SLAB, %sv; mad.lo.u32 %za, %t1, 128, %za; and.b32 %t2, %t2, 7; mad.lo.u32 %za, %t2, 16, %za; \
    st.shared.v4.b32 [%za], {%zero, %zero, %zero, %zero}; add.u32 %zi, %zi, 256; bra LZ; \
LD: fence.proxy.async.shared::cta; bar.sync 1, 256; \
LE:
// S = Q . K^T (64 x 128 per warpgroup): 8 k-steps of 16 over head_dim (slab kk / 4, +32 B per step); no fence
#define ISSUE_S cvt.u64.u32 %dk, %sk; and.b64 %dk, %dk, 0x3FFFF; shr.u64 %dk, %dk, 4; or.b64 %dk, %dk, DESC_HI_K; \
    DESC_S(0, 0) DESC_S(1, 2) DESC_S(2, 4) DESC_S(3, 6) DESC_S(4, 1024) DESC_S(5, 1026) DESC_S(6, 1028) \
    DESC_S(7, 1030) \
    MMA_S(0, %pfalse) MMA_S(1, %ptrue) MMA_S(2, %ptrue) MMA_S(3, %ptrue) MMA_S(4, %ptrue) MMA_S(5, %ptrue) \
    MMA_S(6, %ptrue) MMA_S(7, %ptrue) wgmma.commit_group.sync.aligned;
// O += P . V(tile at SV): 8 k-steps of 16 keys; no fence
#define ISSUE_PV(SV) cvt.u64.u32 %dv, SV; and.b64 %dv, %dv, 0x3FFFF; shr.u64 %dv, %dv, 4; or.b64 %dv, %dv, DESC_HI_V; \
    REP8(DESC_V) REPK8(MMA_O) wgmma.commit_group.sync.aligned;
// causal mask (only where the tile reaches past the warpgroup's smallest row limit), row max over the tile (4 lanes
// share a row), new running max m, alpha = 2^(m_old - m), P = 2^(s scale log2 e - m) in place of S, l = l alpha + sum P
#define SOFTMAX(LS) add.u32 %t1, %kb, KT - 1; setp.le.u32 %p, %t1, %minlim; @%p bra LS; \
    add.u32 %t2, %kb, %t3; sub.u32 %dlo, %liml, %t2; sub.u32 %dhi, %limh, %t2; REP16(MASKJ) \
LS: mov.f32 %mxl, NEG_INF; mov.f32 %mxl2, NEG_INF; mov.f32 %mxh, NEG_INF; mov.f32 %mxh2, NEG_INF; REP16(MAXJ) \
    max.f32 %mxl, %mxl, %mxl2; max.f32 %mxh, %mxh, %mxh2; \
    shfl.sync.bfly.b32 %f, %mxl, 1, 0x1f, 0xffffffff; max.f32 %mxl, %mxl, %f; \
    shfl.sync.bfly.b32 %f, %mxl, 2, 0x1f, 0xffffffff; max.f32 %mxl, %mxl, %f; \
    shfl.sync.bfly.b32 %f, %mxh, 1, 0x1f, 0xffffffff; max.f32 %mxh, %mxh, %f; \
    shfl.sync.bfly.b32 %f, %mxh, 2, 0x1f, 0xffffffff; max.f32 %mxh, %mxh, %f; \
    mul.f32 %mxl, %mxl, %sl2; mul.f32 %mxh, %mxh, %sl2; max.f32 %mnl, %ml, %mxl; max.f32 %mnh, %mh, %mxh; \
    setp.eq.f32 %pm, %mnl, NEG_INF; selp.f32 %nml, 0f00000000, %mnl, %pm; \
    setp.eq.f32 %pm, %mnh, NEG_INF; selp.f32 %nmh, 0f00000000, %mnh, %pm; \
    sub.f32 %all, %ml, %nml; ex2.approx.ftz.f32 %all, %all; sub.f32 %alh, %mh, %nmh; ex2.approx.ftz.f32 %alh, %alh; \
    mov.f32 %ml, %mnl; mov.f32 %mh, %mnh; neg.f32 %nml, %nml; neg.f32 %nmh, %nmh; \
    mov.f32 %sml, 0f00000000; mov.f32 %sml2, 0f00000000; mov.f32 %smh, 0f00000000; mov.f32 %smh2, 0f00000000; \
    REP16(EXPJ) add.f32 %sml, %sml, %sml2; add.f32 %smh, %smh, %smh2; \
    fma.rn.f32 %ll, %ll, %all, %sml; fma.rn.f32 %lh, %lh, %alh, %smh;
#define PACK_P PACK(0, 0, 1) PACK(1, 2, 3) PACK(2, 4, 5) PACK(3, 6, 7) PACK(4, 8, 9) PACK(5, 10, 11) \
    PACK(6, 12, 13) PACK(7, 14, 15)
// lane 0 of each consumer warp frees stage ST (count 8 per phase)
#define RELEASE(ST) add.u32 %empty, %bar, EMPTY_OFF; mad.lo.u32 %empty, ST, 8, %empty; \
    @%plane0 mbarrier.arrive.shared::cta.b64 _, [%empty];
#define ADVANCE add.u32 %s, %s, 1; setp.eq.u32 %p, %s, STAGES; @%p mov.u32 %s, 0; @%p xor.b32 %ph, %ph, 1; \
    add.u32 %it, %it, 1;
// producer: pages 2it and 2it + 1 of the block-table row (a page past the last needed one: page 2it again, masked
// and zeroed by the consumers) -> %r0, %r1, the pool rows of (page, kv head, key 0)
#define TILE_PAGES shl.b32 %t2, %it, 1; mul.wide.u32 %ad, %t2, 4; add.s64 %ad, %pBT, %ad; ld.global.u32 %pg0, [%ad]; \
    mov.u32 %pg1, %pg0; add.u32 %t2, %t2, 1; setp.le.u32 %p, %t2, %lastpage; @%p ld.global.u32 %pg1, [%ad + 4]; \
    mad.lo.u32 %r0, %pg0, %nkv, %kvh; shl.b32 %r0, %r0, 6; mad.lo.u32 %r1, %pg1, %nkv, %kvh; shl.b32 %r1, %r1, 6;
#if KV8
// the scores of this thread's keys 8j + t3, + 1 (columns of accumulator group j) times their K row scales
#define KSJ(j) ld.shared.v2.f32 {%f, %il}, [%t1 + 32 * j]; mul.f32 %s##j##_0, %s##j##_0, %f; \
    mul.f32 %s##j##_1, %s##j##_1, %il; mul.f32 %s##j##_2, %s##j##_2, %f; mul.f32 %s##j##_3, %s##j##_3, %il;
#define KSCALE mad.lo.u32 %t1, %s, 512, %sbase; add.u32 %t1, %t1, KS_OFF; shl.b32 %t2, %t3, 2; add.u32 %t1, %t1, %t2; \
    REP16(KSJ)
#define VS_BIAS 0f42800000                      // 64.0 (attention.ptx's scheme: V x 64 x its row scale in f16)
#define VS_MAX 0f43120000                       // 146: 448 x 146 < 65504
// two bf16 in a word -> two f16 (exact in the q-normed range)
#define BF16_F16(w) shl.b32 %t3, w, 16; and.b32 w, w, 0xFFFF0000; cvt.rn.f16x2.f32 w, w, %t3;
// e4m3 words a, b (8 values) -> f16 words o0 .. o3; V: times the row scale (f16x2 %vsc)
#define E4_F16(a, b) mov.b32 {%hl, %hh}, a; cvt.rn.f16x2.e4m3x2 %o0, %hl; cvt.rn.f16x2.e4m3x2 %o1, %hh; \
    mov.b32 {%hl, %hh}, b; cvt.rn.f16x2.e4m3x2 %o2, %hl; cvt.rn.f16x2.e4m3x2 %o3, %hh;
// Q of one head (Q_BYTES at BASE) bf16 -> f16 in place: 2,048 chunks of 16 B, thread t takes t, t + 128, ..
#define Q_CVT(L, BASE) mov.u32 %t1, %tx; \
L:  shl.b32 %t2, %t1, 4; add.u32 %t2, %t2, BASE; ld.shared.v4.b32 {%r0, %r1, %pg0, %pg1}, [%t2]; \
    BF16_F16(%r0) BF16_F16(%r1) BF16_F16(%pg0) BF16_F16(%pg1) st.shared.v4.b32 [%t2], {%r0, %r1, %pg0, %pg1}; \
    add.u32 %t1, %t1, 128; setp.lt.u32 %p, %t1, 2048; @%p bra L; \
    fence.proxy.async.shared::cta;              // generic stores -> wgmma (async proxy)
// GPACK: Q of head kvh G + %hg into buffer %qb (%qbase), on qbar[%qb] (thread 0)
#define PACK_QTMA add.u32 %t1, %bar, PQ_OFF; mad.lo.u32 %t1, %qb, 8, %t1; mad.lo.u32 %t2, %kvh, %G, %hg; \
    shl.b32 %qc, %t2, 7; mbarrier.arrive.expect_tx.shared::cta.b64 _, [%t1], Q_BYTES; \
    TMA_LOAD [%qbase], [%tmQ, {%qc, QROW}], [%t1]; add.u32 %qc, %qc, 64; add.u32 %t2, %qbase, SLAB; \
    TMA_LOAD [%t2], [%tmQ, {%qc, QROW}], [%t1];
#define E4_VSCALE mul.rn.f16x2 %o0, %o0, %vsc; mul.rn.f16x2 %o1, %o1, %vsc; mul.rn.f16x2 %o2, %o2, %vsc; \
    mul.rn.f16x2 %o3, %o3, %vsc;
#else
#define KSCALE
#endif
#if KV8
#define INIT_LAND(s) mbarrier.init.shared::cta.b64 [%bar + LAND_OFF + 8 * s], 1;
#else
#define INIT_LAND(s)
#endif
#define INIT_BAR(s) mbarrier.init.shared::cta.b64 [%bar + 8 * s], FULL_COUNT; \
    mbarrier.init.shared::cta.b64 [%bar + EMPTY_OFF + 8 * s], 8; INIT_LAND(s)

.visible .entry NAME(
    .param .align 64 .b8 p_tmQ[128],
    .param .align 64 .b8 p_tmK[128],
    .param .align 64 .b8 p_tmV[128],
    .param .u64 p_out,
    .param .u64 p_bt,
#if KV8
    .param .u64 p_ks,
    .param .u64 p_vs,
#endif
#if VARLEN
    .param .u32 p_maxp,
    .param .u32 p_nh,
    .param .u32 p_G,
    .param .f32 p_scale,
    .param .align 16 .b8 p_work[WORK_BYTES])
#else
    .param .u32 p_n,
    .param .u32 p_pos0,
    .param .u32 p_nh,
    .param .u32 p_G,
    .param .f32 p_scale)
#endif
    .maxnreg 168
{
    PDL_START
    .reg .pred %p, %pt, %pm, %ptrue, %pfalse, %plane0, %prl, %prh, %plast;
    .reg .b32 %tx, %wg, %wc, %lane, %warp4, %n, %pos0, %NH, %G, %nkv, %h, %kvh, %blk, %nblk, %row0;
    .reg .b32 %lastrow, %klast, %ntiles, %lastpage, %it, %s, %ph, %t1, %t2, %t3, %pg0, %pg1, %r0, %r1;
    .reg .b32 %sbase, %bar, %full, %empty, %qbar, %sk, %sv, %c0, %c1, %qc, %sp, %svp;
    .reg .b32 %rin, %rowl, %rowh, %liml, %limh, %minlim, %kb, %dlo, %dhi, %zr, %zi, %zn, %za, %h0, %h1, %zero, %spin;
    .reg .b64 %tmQ, %tmK, %tmV, %pOut, %pBT, %ad, %gl, %gh;
    .reg .b64 %dq, %dk, %dv;
    .reg .f32 %sl2, %ml, %mh, %mxl, %mxl2, %mxh, %mxh2, %mnl, %mnh, %nml, %nmh, %all, %alh, %ll, %lh;
    .reg .f32 %sml, %sml2, %smh, %smh2, %f, %il, %ih;
    REP16(DECLJ)
    REP8(DECLP)
    .reg .b64 %dq_<8>, %dk_<8>, %dv_<8>;
#if VARLEN
    .reg .b32 %qrow, %slot, %maxp;
#endif
#if KV8
    .reg .b32 %srcoff, %dsta, %dstb, %o0, %o1, %o2, %o3, %vsc;
    .reg .b16 %hl, %hh;
#endif
#if GPACK
    .reg .b32 %hg, %qb, %qbase;
    .reg .pred %pfh;
#endif

    ld.param.u64 %pOut, [p_out];
    ld.param.u64 %pBT, [p_bt];
#if VARLEN
    // work item ctaid.y (the host sorted the items by key count, longest first)
    mov.u32 %t1, %ctaid.y;
    mov.u64 %ad, p_work;
    mad.wide.u32 %ad, %t1, 16, %ad;
    ld.param.v4.u32 {%qrow, %n, %pos0, %slot}, [%ad];
    ld.param.u32 %maxp, [p_maxp];
#else
    ld.param.u32 %n, [p_n];
    ld.param.u32 %pos0, [p_pos0];
#endif
    ld.param.u32 %NH, [p_nh];
    ld.param.u32 %G, [p_G];
    ld.param.f32 %sl2, [p_scale];
    mul.f32 %sl2, %sl2, LOG2E;                  // softmax in base 2: exp(x) = 2^(x log2 e)
    cvta.to.global.u64 %pOut, %pOut;
    cvta.to.global.u64 %pBT, %pBT;
    mov.b64 %tmQ, p_tmQ;
    cvta.param.u64 %tmQ, %tmQ;
    mov.b64 %tmK, p_tmK;
    cvta.param.u64 %tmK, %tmK;
    mov.b64 %tmV, p_tmV;
    cvta.param.u64 %tmV, %tmV;
    mov.u32 %tx, %tid.x;
    shr.u32 %wg, %tx, 7;
    and.b32 %lane, %tx, 31;
    setp.eq.u32 %ptrue, %tx, %tx;
    setp.ne.u32 %pfalse, %tx, %tx;
    mov.u32 %zero, 0;

    // --- this CTA's block and head; its last key (the last row's position) fixes the tiles it reads
#if VARLEN
    // the item is block 0 of a run of n <= 128 rows: out and the block table move to its first row and slot row
    mov.u32 %blk, 0;
    mul.lo.u32 %t1, %qrow, %NH;
    mul.wide.u32 %ad, %t1, 256;
    add.s64 %pOut, %pOut, %ad;
    mul.lo.u32 %t1, %slot, %maxp;
    mul.wide.u32 %ad, %t1, 4;
    add.s64 %pBT, %pBT, %ad;
#else
    mov.u32 %nblk, %nctaid.y;
    mov.u32 %t1, %ctaid.y;
    sub.u32 %blk, %nblk, %t1;
    sub.u32 %blk, %blk, 1;                      // last block first: the CTAs with the most tiles start first
#endif
#if GPACK
    mov.u32 %kvh, %ctaid.x;                     // the group's heads kvh G .. kvh G + G - 1, in turn
    mul.lo.u32 %h, %kvh, %G;
#else
    mov.u32 %h, %ctaid.x;                       // heads fastest: a GQA group's heads share K/V tiles in L2
    div.u32 %kvh, %h, %G;
#endif
    div.u32 %nkv, %NH, %G;
    shl.b32 %row0, %blk, 7;
    add.u32 %lastrow, %row0, ROWS - 1;
    sub.u32 %t1, %n, 1;
    min.u32 %lastrow, %lastrow, %t1;
    add.u32 %klast, %pos0, %lastrow;            // last key any row of this CTA attends to
    shr.u32 %ntiles, %klast, 7;
    add.u32 %ntiles, %ntiles, 1;
    shr.u32 %lastpage, %klast, 6;

    mov.u32 %sbase, awg_smem;
    add.u32 %bar, %sbase, BAR_OFF;
    add.u32 %qbar, %bar, QBAR_OFF;

    // full[s]: one arrival (the producer's expect_tx) + 64 KB of TMA bytes per phase; empty[s]: 8 arrivals (lane 0
    // of each consumer warp) per phase; qfull: one arrival + 32 KB, used once (phase 0).
    setp.ne.u32 %p, %tx, 0;
    @%p bra INIT_DONE;
    CAT(REP, STAGES)(INIT_BAR)
    mbarrier.init.shared::cta.b64 [%qbar], 1;
#if KV8
    mbarrier.init.shared::cta.b64 [%bar + QRDY_OFF], 128;
#endif
#if GPACK
    mbarrier.init.shared::cta.b64 [%bar + PQ_OFF], 1;
    mbarrier.init.shared::cta.b64 [%bar + PQ_OFF + 8], 1;
    mbarrier.init.shared::cta.b64 [%bar + PQ_OFF + 16], 128;
    mbarrier.init.shared::cta.b64 [%bar + PQ_OFF + 24], 128;
    mbarrier.init.shared::cta.b64 [%bar + PQ_OFF + 32], 8;
    mbarrier.init.shared::cta.b64 [%bar + PQ_OFF + 40], 8;
#endif
    fence.mbarrier_init.release.cluster;
    prefetch.tensormap [%tmQ];
    prefetch.tensormap [%tmK];
    prefetch.tensormap [%tmV];
#if KV8
    // ------------------------------------------------------------------ producer (warpgroup 0, all 128 threads)
    // thread 0 issues the TMA loads; every thread converts (Q once, then each tile: attn_wg.ptx's header)
INIT_DONE:
    bar.sync 0;
    setp.ne.u32 %p, %wg, 0;
    @%p bra CONSUMER;
    setmaxnreg.dec.sync.aligned.u32 40;
    setp.eq.u32 %plane0, %tx, 0;                // (in the producer: thread 0)
#if GPACK
    // thread 0: Q of heads 0 and 1 into their buffers, then every tile of the item into its own stage (no stage is
    // ever refilled, so none is waited for)
    @!%plane0 bra P_QISSUED;
    mov.u32 %hg, 0;
    mov.u32 %qb, 0;
    mov.u32 %qbase, %sbase;
    PACK_QTMA
    setp.lt.u32 %p, %G, 2;
    @%p bra P_PTILES;
    mov.u32 %hg, 1;
    mov.u32 %qb, 1;
    add.u32 %qbase, %sbase, Q_BYTES;
    PACK_QTMA
P_PTILES:
    mov.u32 %it, 0;
P_PISSUE:
    TILE_PAGES
    mad.lo.u32 %sv, %it, STAGE_BYTES, %sbase;
    add.u32 %sv, %sv, QAREA + KV_BYTES;
    add.u32 %full, %bar, LAND_OFF;
    mad.lo.u32 %full, %it, 8, %full;
    mbarrier.arrive.expect_tx.shared::cta.b64 _, [%full], 4 * BOX_BYTES;
    TMA_LOAD [%sv], [%tmK, {%zero, %r0}], [%full];
    TMA_LOAD [%sv + BOX_BYTES], [%tmK, {%zero, %r1}], [%full];
    TMA_LOAD [%sv + 2 * BOX_BYTES], [%tmV, {%zero, %r0}], [%full];
    TMA_LOAD [%sv + 3 * BOX_BYTES], [%tmV, {%zero, %r1}], [%full];
    add.u32 %it, %it, 1;
    setp.lt.u32 %p, %it, %ntiles;
    @%p bra P_PISSUE;
P_QISSUED:
    add.u32 %t1, %bar, PQ_OFF;
    SPIN(P_QWAIT, %t1, 0)
    Q_CVT(P_QCVT, %sbase)
    add.u32 %t1, %bar, PQ_OFF + 16;
    mbarrier.arrive.shared::cta.b64 _, [%t1];
#else
    shl.b32 %qc, %h, 7;
    @!%plane0 bra P_QISSUED;
    mbarrier.arrive.expect_tx.shared::cta.b64 _, [%qbar], Q_BYTES;
    TMA_LOAD [%sbase], [%tmQ, {%qc, QROW}], [%qbar];
    add.u32 %qc, %qc, 64;
    add.u32 %t1, %sbase, SLAB;
    TMA_LOAD [%t1], [%tmQ, {%qc, QROW}], [%qbar];
P_QISSUED:
    SPIN(P_QWAIT, %qbar, 0)
    Q_CVT(P_QCVT, %sbase)
    add.u32 %t1, %bar, QRDY_OFF;
    mbarrier.arrive.shared::cta.b64 _, [%t1];
#endif
    // this thread's part of a tile: rows rin + 16 j (j = 0..7; rin = 4 warp + lane / 8), 16-byte piece p = lane % 8
    // of the row's 128 e4m3 = dims 16 p .. 16 p + 15 = f16 chunks cA = 2 (p % 4) and cA + 1 of slab p / 4, stored at
    // cA ^ (row % 8) (rin % 8 for every j): src = rin 128 + 16 p, dstA / dstB = slab + rin 128 + 16 (chunk ^ rin % 8)
    shr.u32 %t1, %tx, 5;
    shl.b32 %t1, %t1, 2;
    shr.u32 %t2, %lane, 3;
    add.u32 %rin, %t1, %t2;
    and.b32 %t1, %lane, 7;                      // p
    shl.b32 %srcoff, %rin, 7;
    shl.b32 %t2, %t1, 4;
    add.u32 %srcoff, %srcoff, %t2;
    shr.u32 %t2, %t1, 2;
    mul.lo.u32 %dsta, %t2, SLAB;
    shl.b32 %t2, %rin, 7;
    add.u32 %dsta, %dsta, %t2;
    and.b32 %t1, %t1, 3;
    shl.b32 %t1, %t1, 1;                        // cA
    and.b32 %t2, %rin, 7;
    xor.b32 %t3, %t1, %t2;
    shl.b32 %t3, %t3, 4;
    add.u32 %dstb, %dsta, %t3;                  // (chunk cA's, swapped into dsta below)
    add.u32 %t1, %t1, 1;
    xor.b32 %t1, %t1, %t2;
    shl.b32 %t1, %t1, 4;
    add.u32 %t3, %dsta, %t1;
    mov.u32 %dsta, %dstb;
    mov.u32 %dstb, %t3;
    mov.u32 %it, 0;
    mov.u32 %s, 0;
    mov.u32 %ph, 0;
P_TILE:
    // the tile's pages and key tx's row scales before the wait for a free stage: they depend on nothing the consumers
    // hold
    TILE_PAGES
    setp.lt.u32 %p, %tx, 64;
    selp.b32 %t1, %r0, %r1, %p;
    and.b32 %t2, %tx, 63;
    add.u32 %t1, %t1, %t2;
    mul.wide.u32 %ad, %t1, 4;
    ld.param.u64 %gl, [p_ks];
    cvta.to.global.u64 %gl, %gl;
    add.s64 %gl, %gl, %ad;
    ld.global.nc.f32 %f, [%gl];                 // K's (f32) for the consumers
    ld.param.u64 %gl, [p_vs];
    cvta.to.global.u64 %gl, %gl;
    add.s64 %gl, %gl, %ad;
    ld.global.nc.f32 %il, [%gl];                // V's, x 64 (clamped, f16) for the conversion
#if !GPACK
    add.u32 %empty, %bar, EMPTY_OFF;
    mad.lo.u32 %empty, %s, 8, %empty;
    xor.b32 %t1, %ph, 1;
    SPIN(P_WAIT, %empty, %t1)
#endif
    mad.lo.u32 %sk, %s, STAGE_BYTES, %sbase;
    add.u32 %sk, %sk, QAREA;
    add.u32 %sv, %sk, KV_BYTES;
    add.u32 %full, %bar, LAND_OFF;              // (here: the stage's land barrier)
    mad.lo.u32 %full, %s, 8, %full;
#if GPACK
    bra P_ISSUED;                               // (issued up front)
#else
    @!%plane0 bra P_ISSUED;
#endif
    mbarrier.arrive.expect_tx.shared::cta.b64 _, [%full], 4 * BOX_BYTES;
    TMA_LOAD [%sv], [%tmK, {%zero, %r0}], [%full];
    TMA_LOAD [%sv + BOX_BYTES], [%tmK, {%zero, %r1}], [%full];
    TMA_LOAD [%sv + 2 * BOX_BYTES], [%tmV, {%zero, %r0}], [%full];
    TMA_LOAD [%sv + 3 * BOX_BYTES], [%tmV, {%zero, %r1}], [%full];
P_ISSUED:
    mad.lo.u32 %t1, %s, 512, %sbase;
    shl.b32 %t2, %tx, 2;
    add.u32 %t1, %t1, %t2;
    st.shared.f32 [%t1 + KS_OFF], %f;
    mul.f32 %il, %il, VS_BIAS;
    min.f32 %il, %il, VS_MAX;
    cvt.rn.f16.f32 %hl, %il;
    mad.lo.u32 %t1, %s, 256, %sbase;
    shl.b32 %t2, %tx, 1;
    add.u32 %t1, %t1, %t2;
    st.shared.b16 [%t1 + VS_OFF], %hl;
    SPIN(P_LAND, %full, %ph)
    // K: e4m3 rows (at the V half) -> the f16 K tile, exact
    add.u32 %t1, %sv, %srcoff;
    mov.u32 %t2, 0;
P_KCVT:
    ld.shared.v4.b32 {%za, %zr, %zn, %zi}, [%t1];
    E4_F16(%za, %zr)
    add.u32 %t3, %sk, %dsta;
    st.shared.v4.b32 [%t3], {%o0, %o1, %o2, %o3};
    E4_F16(%zn, %zi)
    add.u32 %t3, %sk, %dstb;
    st.shared.v4.b32 [%t3], {%o0, %o1, %o2, %o3};
    add.u32 %t1, %t1, 2048;
    add.u32 %sk, %sk, 2048;
    add.u32 %t2, %t2, 1;
    setp.lt.u32 %p, %t2, 8;
    @%p bra P_KCVT;
    bar.sync 2, 128;                            // every K row read: V's slab 0 goes where they were
    // V: e4m3 rows -> the f16 V tile in place, times the row scale; slab 1 of a row is its own e4m3 bytes, so each
    // warp loads its 4 rows, syncs, then stores
    add.u32 %t1, %sv, %srcoff;
    add.u32 %t1, %t1, 2 * BOX_BYTES;
    mad.lo.u32 %sk, %s, 256, %sbase;
    shl.b32 %t2, %rin, 1;
    add.u32 %sk, %sk, %t2;                      // (%sk now: this thread's first V scale)
    mov.u32 %t2, 0;
P_VCVT:
    ld.shared.v4.b32 {%za, %zr, %zn, %zi}, [%t1];
    ld.shared.b16 %hl, [%sk + VS_OFF];
    mov.b32 %vsc, {%hl, %hl};
    bar.warp.sync -1;
    E4_F16(%za, %zr)
    E4_VSCALE
    add.u32 %t3, %sv, %dsta;
    st.shared.v4.b32 [%t3], {%o0, %o1, %o2, %o3};
    E4_F16(%zn, %zi)
    E4_VSCALE
    add.u32 %t3, %sv, %dstb;
    st.shared.v4.b32 [%t3], {%o0, %o1, %o2, %o3};
    add.u32 %t1, %t1, 2048;
    add.u32 %sv, %sv, 2048;
    add.u32 %sk, %sk, 32;
    add.u32 %t2, %t2, 1;
    setp.lt.u32 %p, %t2, 8;
    @%p bra P_VCVT;
    fence.proxy.async.shared::cta;              // the converted tile -> wgmma
    mad.lo.u32 %full, %s, 8, %bar;
    mbarrier.arrive.shared::cta.b64 _, [%full];
    ADVANCE
    setp.lt.u32 %p, %it, %ntiles;
    @%p bra P_TILE;
#if GPACK
    // heads 1 .. G - 1: Q into buffer g % 2 once head g - 2 is done with it (qfree), converted, qrdy
    mov.u32 %hg, 1;
P_HEAD:
    setp.ge.u32 %p, %hg, %G;
    @%p bra EXIT;
    and.b32 %qb, %hg, 1;
    mad.lo.u32 %qbase, %qb, Q_BYTES, %sbase;
    shr.u32 %t3, %hg, 1;
    and.b32 %t3, %t3, 1;                        // this buffer's use: parity (g / 2) & 1
    setp.lt.u32 %p, %hg, 2;
    @%p bra P_HQ;                               // (head 1's Q was issued with head 0's)
    add.u32 %t1, %bar, PQ_OFF + 32;
    mad.lo.u32 %t1, %qb, 8, %t1;
    xor.b32 %t2, %t3, 1;
    SPIN(P_QFREE, %t1, %t2)
    @%plane0 bra P_HQTMA;
    bra P_HQ;
P_HQTMA:
    PACK_QTMA
P_HQ:
    add.u32 %t1, %bar, PQ_OFF;
    mad.lo.u32 %t1, %qb, 8, %t1;
    SPIN(P_HQWAIT, %t1, %t3)
    Q_CVT(P_HQCVT, %qbase)
    add.u32 %t1, %bar, PQ_OFF + 16;
    mad.lo.u32 %t1, %qb, 8, %t1;
    mbarrier.arrive.shared::cta.b64 _, [%t1];
    add.u32 %hg, %hg, 1;
    bra P_HEAD;
#endif
    bra EXIT;
#else
    // ------------------------------------------------------------------ TMA producer (warpgroup 0, thread 0)
    WG_SPLIT_ROLES
    // Q: the block's 128 rows of head h, two 64-column slabs
    mbarrier.arrive.expect_tx.shared::cta.b64 _, [%qbar], Q_BYTES;
    shl.b32 %qc, %h, 7;
    TMA_LOAD [%sbase], [%tmQ, {%qc, QROW}], [%qbar];
    add.u32 %qc, %qc, 64;
    add.u32 %t1, %sbase, SLAB;
    TMA_LOAD [%t1], [%tmQ, {%qc, QROW}], [%qbar];
    mov.u32 %it, 0;
    mov.u32 %s, 0;
    mov.u32 %ph, 0;
    mov.u32 %c0, 0;
    mov.u32 %c1, 64;
P_TILE:
    add.u32 %empty, %bar, EMPTY_OFF;
    mad.lo.u32 %empty, %s, 8, %empty;
    xor.b32 %t1, %ph, 1;
    SPIN(P_WAIT, %empty, %t1)
    TILE_PAGES
    mad.lo.u32 %full, %s, 8, %bar;
    mbarrier.arrive.expect_tx.shared::cta.b64 _, [%full], STAGE_BYTES;
    mad.lo.u32 %sk, %s, STAGE_BYTES, %sbase;
    add.u32 %sk, %sk, Q_BYTES;
    TMA_LOAD [%sk], [%tmK, {%c0, %r0}], [%full];
    TMA_LOAD [%sk + BOX_BYTES], [%tmK, {%c0, %r1}], [%full];
    TMA_LOAD [%sk + SLAB], [%tmK, {%c1, %r0}], [%full];
    TMA_LOAD [%sk + SLAB + BOX_BYTES], [%tmK, {%c1, %r1}], [%full];
    add.u32 %sv, %sk, KV_BYTES;
    TMA_LOAD [%sv], [%tmV, {%c0, %r0}], [%full];
    TMA_LOAD [%sv + BOX_BYTES], [%tmV, {%c0, %r1}], [%full];
    TMA_LOAD [%sv + SLAB], [%tmV, {%c1, %r0}], [%full];
    TMA_LOAD [%sv + SLAB + BOX_BYTES], [%tmV, {%c1, %r1}], [%full];
    ADVANCE
    setp.lt.u32 %p, %it, %ntiles;
    @%p bra P_TILE;
    bra EXIT;

#endif

    // ------------------------------------------------------------------ wgmma consumers (warpgroups 1, 2)
    WG_CONSUMER_ENTER
    // this thread's accumulator rows (of the CTA's 128): 64 wc + 16 (warp % 4) + lane / 4, and that + 8
    shr.u32 %t1, %tx, 5;
    and.b32 %warp4, %t1, 3;
    shl.b32 %t1, %warp4, 4;
    shr.u32 %t2, %lane, 2;
    add.u32 %t1, %t1, %t2;
    mad.lo.u32 %rin, %wc, 64, %t1;
    add.u32 %rowl, %row0, %rin;                 // run rows
    add.u32 %rowh, %rowl, 8;
    // row limits: the last key each row sees (rows past the run: the CTA's last key, so every key past it is masked)
    add.u32 %liml, %pos0, %rowl;
    min.u32 %liml, %liml, %klast;
    add.u32 %limh, %pos0, %rowh;
    min.u32 %limh, %limh, %klast;
    mad.lo.u32 %minlim, %wc, 64, %row0;         // the warpgroup's smallest limit: tiles up to it need no mask
    add.u32 %minlim, %minlim, %pos0;
    min.u32 %minlim, %minlim, %klast;
    and.b32 %t3, %lane, 3;
    shl.b32 %t3, %t3, 1;                        // this thread's first key column in each group of 8
#if GPACK
    mov.u32 %hg, 0;
C_HEAD:                                         // head kvh G + hg, its Q in buffer hg % 2
    mad.lo.u32 %h, %kvh, %G, %hg;
    and.b32 %qb, %hg, 1;
    setp.eq.u32 %pfh, %hg, 0;
    mad.lo.u32 %t1, %qb, Q_BYTES, %sbase;
    mad.lo.u32 %t1, %wc, 64 * 128, %t1;
#else
    // Q descriptors: this warpgroup's 64 rows of slab 0 (slab 1 is 1024 units further)
    mad.lo.u32 %t1, %wc, 64 * 128, %sbase;
#endif
    cvt.u64.u32 %dq, %t1;
    and.b64 %dq, %dq, 0x3FFFF;
    shr.u64 %dq, %dq, 4;
    or.b64 %dq, %dq, DESC_HI_K;
    REP16(ZEROJ)
    mov.f32 %ml, NEG_INF;
    mov.f32 %mh, NEG_INF;
    mov.f32 %ll, 0f00000000;
    mov.f32 %lh, 0f00000000;
    mov.u32 %it, 0;
    mov.u32 %s, 0;
    mov.u32 %ph, 0;
#if GPACK
    add.u32 %t1, %bar, PQ_OFF + 16;             // this head's Q converted (qrdy[hg % 2], use hg / 2)
    mad.lo.u32 %t1, %qb, 8, %t1;
    shr.u32 %t2, %hg, 1;
    and.b32 %t2, %t2, 1;
    SPIN(C_QWAIT, %t1, %t2)
#elif KV8
    add.u32 %t1, %bar, QRDY_OFF;                // Q converted to f16 by the producer warpgroup
    SPIN(C_QWAIT, %t1, 0)
#else
    SPIN(C_QWAIT, %qbar, 0)
#endif

#if PIPE == 0
C_TILE:
    TILE_WAIT(C_WAIT)
    ZERO_V(C_ZERO, C_ZDONE, C_S)
    wgmma.fence.sync.aligned;
    ISSUE_S
    wgmma.wait_group.sync.aligned 0;
    SOFTMAX(C_SOFT)
    REP16(SCALEJ)
    PACK_P
    wgmma.fence.sync.aligned;
    ISSUE_PV(%sv)
    wgmma.wait_group.sync.aligned 0;
    RELEASE(%s)
    ADVANCE
    setp.lt.u32 %p, %it, %ntiles;
    @%p bra C_TILE;
#else
    // tile 0: S, softmax, P (O is still 0: nothing to rescale)
    TILE_WAIT(C_WAIT0)
    ZERO_V(C_ZERO0, C_ZDONE0, C_S0)
    wgmma.fence.sync.aligned;
    ISSUE_S
    wgmma.wait_group.sync.aligned 0;
    KSCALE
    SOFTMAX(C_SOFT0)
    PACK_P
    mov.u32 %sp, %s;                            // stage and V tile that P belongs to
    mov.u32 %svp, %sv;
    ADVANCE
    setp.ge.u32 %p, %it, %ntiles;
    @%p bra C_LASTPV;
C_TILE:
    TILE_WAIT(C_WAIT)
    ZERO_V(C_ZERO, C_ZDONE, C_S)
    wgmma.fence.sync.aligned;                   // O was rescaled and P written by ordinary code
    ISSUE_S                                     // S(it) ...
    ISSUE_PV(%svp)                              // ... and O += P(it-1) . V(it-1) in flight together
    wgmma.wait_group.sync.aligned 1;            // S(it) is done (the older group)
    KSCALE
    SOFTMAX(C_SOFT)                             // touches S, m, l only: the O wgmma still reads P and O
    wgmma.wait_group.sync.aligned 0;            // O += P(it-1) V(it-1) is done: its stage is free
    RELEASE(%sp)
    REP16(SCALEJ)
    PACK_P
    mov.u32 %sp, %s;
    mov.u32 %svp, %sv;
    ADVANCE
    setp.lt.u32 %p, %it, %ntiles;
    @%p bra C_TILE;
C_LASTPV:
    wgmma.fence.sync.aligned;
    ISSUE_PV(%svp)
    wgmma.wait_group.sync.aligned 0;
    RELEASE(%sp)
#if GPACK
    add.u32 %t1, %bar, PQ_OFF + 32;             // every wgmma of this head is done: its Q buffer is free
    mad.lo.u32 %t1, %qb, 8, %t1;
    @%plane0 mbarrier.arrive.shared::cta.b64 _, [%t1];
#endif
#endif

    // --- epilogue: row sums over the 4 lanes of each row, O / l, bf16 straight to global memory
    shfl.sync.bfly.b32 %f, %ll, 1, 0x1f, 0xffffffff;
    add.f32 %ll, %ll, %f;
    shfl.sync.bfly.b32 %f, %ll, 2, 0x1f, 0xffffffff;
    add.f32 %ll, %ll, %f;
    shfl.sync.bfly.b32 %f, %lh, 1, 0x1f, 0xffffffff;
    add.f32 %lh, %lh, %f;
    shfl.sync.bfly.b32 %f, %lh, 2, 0x1f, 0xffffffff;
    add.f32 %lh, %lh, %f;
#if KV8
    mul.f32 %ll, %ll, VS_BIAS;                  // O holds 64 O
    mul.f32 %lh, %lh, VS_BIAS;
#endif
    rcp.rn.f32 %il, %ll;
    rcp.rn.f32 %ih, %lh;
    setp.lt.u32 %prl, %rowl, %n;
    setp.lt.u32 %prh, %rowh, %n;
    // out + ((row * n_head + h) * 128 + 2 (lane % 4)) * 2 bytes
    mad.lo.u32 %t1, %rowl, %NH, %h;
    mul.wide.u32 %gl, %t1, 256;
    add.s64 %gl, %pOut, %gl;
    mul.wide.u32 %ad, %t3, 2;
    add.s64 %gl, %gl, %ad;
    mul.lo.u32 %t1, %NH, 8 * 256;               // 8 rows down
    cvt.u64.u32 %ad, %t1;
    add.s64 %gh, %gl, %ad;
    REP16(STOREJ)
#if GPACK
    add.u32 %hg, %hg, 1;
    setp.lt.u32 %p, %hg, %G;
    @%p bra C_HEAD;
#endif
EXIT:
    ret;
}

#undef NAME
#undef STAGES
#undef PIPE
#undef VARLEN
#undef KV8
#undef GPACK
#undef QAREA
#undef PLAST_HEAD
#undef Q_CVT
#undef PACK_QTMA
#undef AB_TY
#undef CVT_P
#undef KS_OFF
#undef VS_OFF
#undef FULL_COUNT
#undef LAND_OFF
#undef QRDY_OFF
#undef KSCALE
#undef KSJ
#undef TILE_PAGES
#undef INIT_LAND
#undef VS_BIAS
#undef VS_MAX
#undef BF16_F16
#undef E4_F16
#undef E4_VSCALE
#undef QROW
#undef BAR_OFF
#undef EMPTY_OFF
#undef QBAR_OFF
#undef TMA_LOAD
#undef SPIN
