// gemm_sw_body.h — the decode-size GEMM with the operands swapped: the weights on wgmma's M = 64 side, the few
// activation rows on its N side (N = MB = 8..64). Included once per configuration by gemm_sw.ptx, which defines:
//   NAME   .entry name
//   MB     activation rows a launch covers = the wgmma N (8, 16, 32 or 64; the host runs M > MB in chunks)
//   NG, NGM1  MB / 8 and MB / 8 - 1 (accumulator groups of four registers)
//   FP8    1: e4m3 operands with block scales (wgmma k32, promotion per 128 of K); 0: bf16 (k16)
//   SW_BUILD  (optional, FP8 with MB = 8) 1: no activation tensor map or scales; the kernel builds its e4m3 rows and
//          scales from p_x (gemm_sw_build.h) and writes each stage's activation slot itself (SW_WRITE_A)
//
// Why: at decode sizes a linear layer is a weight stream. The mma.sync decode tiles (gemm_bf16_body.h,
// gemm_fp8_dec.ptx) pad the activation to 16 rows, move every weight through registers and, for e4m3, unpack it to
// f16 before the HMMA (Hopper has no FP8 mma.sync): the FP8 ones streamed 57-82% of the H100's bandwidth. Here the
// TMA engine moves each W slice straight into shared memory and the FP8 wgmma reads it there, so a CTA's threads
// only wait, issue four wgmmas a slice and promote a handful of accumulators.
//
// Swapped product: D[n][m] = sum_k W[n][k] A[m][k] for this CTA's 64 rows of W (n0..n0+63), written to C[m][n].
// wgmma m64nMBk(16|32): A operand = the W slice (64 rows x 128 B, K-major, 128-byte swizzle: exactly the A tile of
// gemm_wg_body.h), B operand = the activation slice (MB rows x 128 B: its W tile). Accumulator register i of group
// j in lane l of warp w holds n = n0 + 16w + l/4 + 8 (i/2 % 2), m = 8j + 2 (l%4) + i%2.
//
// Grid: (N/64 tiles) x S CTAs in (S, 1, 1) clusters; cluster rank r takes K slices [r ktps, min((r+1) ktps, nk)).
// One warpgroup (128 threads); its thread 0 also issues the TMA loads (predicated, no divergence): a ring of
// p_stages slices (runtime: the host trades depth for CTAs an SM), every stage refilled as soon as the wgmmas that
// read it are done (wait_group 0, then bar.sync: wgmma completion is tracked per warp). The W loads carry an L2
// evict-first hint (each weight byte is read once a step); the activation slice (MB x 128 B) is re-read by every CTA
// from L2. With S > 1 ranks 1..S-1 store their sums into rank 0's shared memory (st.shared::cluster, after the
// cluster barrier's first phase: a CTA's shared memory may be written only once it has started), one more cluster
// barrier, and rank 0 adds them in rank order: deterministic. Rank 0 runs the epilogue.
// FP8: each slice's four wgmmas go to a scratch accumulator (scale-d = 0), then final += scratch * sa[m] * sw:
// sa f32 [M][K/128] (per activation row: per accumulator column), sw f32 [N/128][K/128] (one per tile: 64 | 128).
//
// Params: tmW, tmA (tensor maps by value: W dims {K, N} box {128 B, 64}; A dims {K, M} box {128 B, MB}), C, [sa, sw],
// M (<= MB), N, K, mode (0 store f32, 1 store bf16, 2 add f32, 4 SwiGLU into bf16 C [M][N/2]: W is the gate/up
// pair in blocks of 8 rows, swiglu.h: gate row n and up row n + 8 sit in the same thread; + 256: request the first
// W slices before griddepcontrol.wait), ktps, stages.
// Shared memory (dynamic): stages x [W 8 KB | A MB x 128 B] (each part 1024-aligned), 16 B a stage of barriers,
// then (S - 1) x MB x 256 B of partial sums for rank 0 ([rank - 1][accumulator][thread] f32).
// Contract of the early flag: W may be read while the kernel launched just before this one on the stream still
// runs, so that kernel must not write W (the engine's weights are written at load time, followed by a sync).
// Measured (H100, bench/gemm sweep b12fb96, M = 1, 8B layers, best split): FP8 qkv 10.85 us, o 8.89, gate_up 35.35
// (2.85 TB/s), down 20.12, lm_head 203.8; BF16 qkv 19.66, o 14.22, gate_up 68.5, down 37.1, lm_head 397.6 (3.13 TB/s).

#ifndef SW_BUILD
#define SW_BUILD 0
#endif
#if SW_BUILD && (!FP8 || MB != 8)
#error "gemm_sw: SW_BUILD is the FP8 MB = 8 entry's"
#endif
#define SW_STAGE (8192 + MB * 128)
#if SW_BUILD
#define SW_ETX 8192                           // the TMA brings the W part alone
#define SW_SLD ld.shared.f32                  // the activation scales: built into shared memory
#else
#define SW_ETX SW_STAGE
#define SW_SLD ld.global.nc.f32
#endif
#define SW_ACC { CAT(REP, NGM1)(SW_LJ) SW_LASTJ(NGM1) }
#define SW_XACC { CAT(REP, NGM1)(SW_XLJ) SW_XLASTJ(NGM1) }
#if FP8
#define SW_MACC SW_XACC
#else
#define SW_MACC SW_ACC
#endif
#define SW_FOR_G(X) CAT(REP, NG)(X)
#define SW_KSTEP CAT(m64n, CAT(MB, SW_KK))
#if FP8
#define SW_KK k32
#define SW_SHAPE SW_KSTEP.f32.e4m3.e4m3
#define SW_TRANS
#define SW_KSHIFT 7
#else
#define SW_KK k16
#define SW_SHAPE SW_KSTEP.f32.bf16.bf16
#define SW_TRANS , 0, 0
#define SW_KSHIFT 6
#endif
#if NG * 8 != MB || NGM1 + 1 != NG
#error "gemm_sw: NG = MB / 8"
#endif

.visible .entry NAME(
    .param .align 64 .b8 p_tmW[128],
#if !SW_BUILD
    .param .align 64 .b8 p_tmA[128],
#endif
    .param .u64 p_C,
#if FP8 && !SW_BUILD
    .param .u64 p_sa,
#endif
#if FP8
    .param .u64 p_sw,
#endif
#if SW_BUILD
    .param .u64 p_x,
    .param .u64 p_nw,
    .param .f32 p_eps,
#endif
    .param .u32 p_M,
    .param .u32 p_N,
    .param .u32 p_K,
    .param .u32 p_mode,
    .param .u32 p_ktps,
    .param .u32 p_stages)
    .reqntid 128, 1, 1
{
    .reg .pred %p, %p0, %pacc, %ptrue, %pn0, %pn1, %pa, %pb, %q0, %q1, %q2, %q3, %pcl;
    .reg .b32 %tx, %w, %lane, %M, %N, %K, %mode, %ktps, %nst, %nk, %S, %rank, %n0, %kt0, %nkl, %i, %s, %ph, %t1, %t2;
    .reg .b32 %sbase, %bar, %red, %full, %stg, %ssw, %ssa, %kc, %r, %m2c, %Mm1, %h0;
    .reg .b16 %hb;
    .reg .b64 %tmW, %tmA, %pC, %dw, %da, %dw1, %dw2, %dw3, %da1, %da2, %da3, %pol, %c0, %c1, %ldj, %ld1;
    .reg .f32 %e0, %e1, %e2, %e3;
    .reg .b64 %c2, %c3;
    SW_FOR_G(SW_DECL)
    SW_FOR_G(SW_UDECL)
#if FP8
    .reg .b64 %psa, %psw, %aw;
    .reg .f32 %swv, %f0, %f1;
    .reg .b32 %kb4;
    SW_FOR_G(SW_XDECL)
    SW_FOR_G(SW_SDECL)
#endif
#if SW_BUILD
    .reg .b64 %px, %pnw, %bxa, %bxb, %bxc;
    .reg .f32 %eps;
    .reg .b32 %lin, %scl, %spart, %wsrc, %wdst, %bm, %nv, %bq, %bo, %nil, %ba0, %ba1, %ba2, %ba3;
    .reg .pred %pnorm, %pwa, %pl0, %pv<10>, %pq<16>;
#define SWB_DECL(i) .reg .f32 %bw##i##_<4>, %bx##i##_<4>;
#define SWB_QDECL(i) .reg .b32 %bqw##i##_<2>;
    REP10(SWB_DECL)
    REP16(SWB_QDECL)
#undef SWB_DECL
#undef SWB_QDECL
    mov.u32 %nil, 0;
#endif

    ld.param.u64 %pC, [p_C];
    ld.param.u32 %M, [p_M];
    ld.param.u32 %N, [p_N];
    ld.param.u32 %K, [p_K];
    ld.param.u32 %mode, [p_mode];
    ld.param.u32 %ktps, [p_ktps];
    ld.param.u32 %nst, [p_stages];
    mov.b64 %tmW, p_tmW;
    cvta.param.u64 %tmW, %tmW;
#if !SW_BUILD
    mov.b64 %tmA, p_tmA;
    cvta.param.u64 %tmA, %tmA;
#endif
    mov.u32 %tx, %tid.x;
    shr.u32 %w, %tx, 5;
    and.b32 %lane, %tx, 31;
    setp.eq.u32 %p0, %tx, 0;
    mov.u32 %S, %cluster_nctarank;
    mov.u32 %rank, %cluster_ctarank;
    setp.gt.u32 %pcl, %S, 1;
    mov.u32 %t1, %ctaid.x;
    div.u32 %t1, %t1, %S;
    shl.b32 %n0, %t1, 6;                       // this CTA's 64 rows of W
    shr.u32 %nk, %K, SW_KSHIFT;
    mul.lo.u32 %kt0, %rank, %ktps;
    sub.u32 %nkl, %nk, %kt0;
    min.u32 %nkl, %nkl, %ktps;                 // slices of this rank (the host leaves no split empty)
    mov.u32 %sbase, sw_smem;
    mad.lo.u32 %bar, %nst, SW_STAGE, %sbase;
    mad.lo.u32 %red, %nst, 16, %bar;
    createpolicy.fractional.L2::evict_first.b64 %pol, 1.0;
    @%pcl barrier.cluster.arrive.relaxed.aligned;  // phase 1: this CTA has started
    @!%p0 bra INIT_DONE;
    mov.u32 %s, 0;
INIT:
    mad.lo.u32 %t1, %s, 8, %bar;
    mbarrier.init.shared::cta.b64 [%t1], 1;
    add.u32 %s, %s, 1;
    setp.lt.u32 %p, %s, %nst;
    @%p bra INIT;
    fence.mbarrier_init.release.cluster;
    prefetch.tensormap [%tmW];
#if !SW_BUILD
    prefetch.tensormap [%tmA];
#endif
INIT_DONE:
    bar.sync 0;
#if SW_BUILD
#define SW_BUILD_PHASE 0
#include "gemm_sw_build.h"
#undef SW_BUILD_PHASE
#endif

// thread 0: the W part (evict-first hint; the barrier expects the whole stage) and the activation part of slice %i of
// this rank into stage %s
#define SW_LOAD_W \
    mad.lo.u32 %full, %s, 8, %bar; \
    @%p0 mbarrier.arrive.expect_tx.shared::cta.b64 _, [%full], SW_ETX; \
    mad.lo.u32 %stg, %s, SW_STAGE, %sbase; \
    add.u32 %kc, %kt0, %i; \
    shl.b32 %kc, %kc, SW_KSHIFT; \
    @%p0 cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%stg], [%tmW, {%kc, %n0}], [%full], %pol;
#define SW_LOAD_A \
    mad.lo.u32 %full, %s, 8, %bar; \
    mad.lo.u32 %stg, %s, SW_STAGE, %sbase; \
    add.u32 %stg, %stg, 8192; \
    add.u32 %kc, %kt0, %i; \
    shl.b32 %kc, %kc, SW_KSHIFT; \
    @%p0 cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%stg], [%tmA, {%kc, 0}], [%full];
#if SW_BUILD
// every thread: its 16-byte chunk of slice %i's activation rows (rows < M; SW_BUILD's prologue zeroed the others)
// from lin into stage %s, made visible to the async proxy (the wgmma reading it comes after a bar.sync)
#define SW_WRITE_A \
    shl.b32 %t1, %i, 7; \
    add.u32 %t1, %t1, %wsrc; \
    @%pwa ld.shared.v4.b32 {%ba0, %ba1, %ba2, %ba3}, [%t1]; \
    mad.lo.u32 %t1, %s, SW_STAGE, %sbase; \
    add.u32 %t1, %t1, %wdst; \
    @%pwa st.shared.v4.b32 [%t1], {%ba0, %ba1, %ba2, %ba3}; \
    fence.proxy.async.shared::cta;
#define SW_LOAD SW_LOAD_W SW_WRITE_A
#else
#define SW_LOAD SW_LOAD_W SW_LOAD_A
#endif
// the first min(stages, slices) slices: LABEL, what to load
#define SW_PROLOGUE(LABEL, LOAD) mov.u32 %i, 0; mov.u32 %s, 0; \
LABEL: LOAD add.u32 %i, %i, 1; add.u32 %s, %s, 1; setp.lt.u32 %p, %i, %nkl; setp.lt.and.u32 %p, %s, %nst, %p; \
    @%p bra LABEL;

    // Nothing above reads what an earlier kernel writes. Mode bit 8 (the host's "early" flag): the weights are
    // immutable, so the prologue's W slices are requested before waiting for the previous kernel (programmatic
    // dependent launch: this grid may be resident while that one still runs), the activation rows after.
    and.b32 %t1, %mode, 256;
    and.b32 %mode, %mode, 255;
    setp.ne.u32 %p, %t1, 0;
    @!%p bra LATE;
    SW_PROLOGUE(PRO_W, SW_LOAD_W)
    PDL_START
#if SW_BUILD
    bra PRO_DONE;
LATE:
    PDL_START
    SW_PROLOGUE(PRO, SW_LOAD_W)
PRO_DONE:
    // the activation rows from x (gemm_sw_build.h), then the first stages' slots from them
#define SW_BUILD_PHASE 1
#include "gemm_sw_build.h"
#undef SW_BUILD_PHASE
    SW_PROLOGUE(PRO_A, SW_WRITE_A)
    bar.sync 0;
#else
    SW_PROLOGUE(PRO_A, SW_LOAD_A)
    bra PRO_DONE;
LATE:
    PDL_START
    SW_PROLOGUE(PRO, SW_LOAD)
PRO_DONE:
#endif

    // this thread's accumulator rows n0 + r (+ 8) and first column 2 (lane % 4)
    shl.b32 %r, %w, 4;
    shr.u32 %t1, %lane, 2;
    add.u32 %r, %r, %t1;
    and.b32 %t1, %lane, 3;
    shl.b32 %m2c, %t1, 1;
#if FP8
    // scale pointers: sa[min(m, M - 1)][kt0] for this thread's columns, sw[n0 / 128][kt0]
#if SW_BUILD
    cvt.u64.u32 %psa, %scl;                    // the scales gemm_sw_build.h wrote (shared memory)
#else
    ld.param.u64 %psa, [p_sa];
#endif
    ld.param.u64 %psw, [p_sw];
    shr.u32 %t1, %K, 7;
    shl.b32 %kb4, %t1, 2;
    mul.wide.u32 %aw, %kt0, 4;
    add.s64 %psa, %psa, %aw;
    shr.u32 %t2, %n0, 7;
    mul.wide.u32 %c0, %t2, %kb4;
    add.s64 %aw, %aw, %c0;
    add.s64 %aw, %aw, %psw;
    sub.u32 %Mm1, %M, 1;
    SW_FOR_G(SW_SINIT)
    SW_FOR_G(SW_ZERO)
    setp.ne.u32 %pacc, %tx, %tx;               // false: every slice starts a fresh scratch sum
#endif
    setp.eq.u32 %ptrue, %tx, %tx;

    mov.u32 %i, 0;
    mov.u32 %s, 0;
    mov.u32 %ph, 0;
MAIN:
#if FP8
    SW_FOR_G(SW_SLOAD)
    ld.global.nc.f32 %swv, [%aw];
    add.s64 %aw, %aw, 4;
#else
    setp.ne.u32 %pacc, %i, 0;
#endif
    mad.lo.u32 %full, %s, 8, %bar;
WAIT:
    mbarrier.try_wait.parity.shared::cta.b64 %p, [%full], %ph;
    @!%p bra WAIT;
    mad.lo.u32 %ssw, %s, SW_STAGE, %sbase;
    add.u32 %ssa, %ssw, 8192;
    cvt.u64.u32 %dw, %ssw;
    and.b64 %dw, %dw, 0x3FFFF;
    shr.u64 %dw, %dw, 4;
    or.b64 %dw, %dw, SW_DESC_HI;
    cvt.u64.u32 %da, %ssa;
    and.b64 %da, %da, 0x3FFFF;
    shr.u64 %da, %da, 4;
    or.b64 %da, %da, SW_DESC_HI;
    add.s64 %dw1, %dw, 2;
    add.s64 %dw2, %dw, 4;
    add.s64 %dw3, %dw, 6;
    add.s64 %da1, %da, 2;
    add.s64 %da2, %da, 4;
    add.s64 %da3, %da, 6;
    wgmma.fence.sync.aligned;
    wgmma.mma_async.sync.aligned.SW_SHAPE SW_MACC, %dw, %da, %pacc, 1, 1 SW_TRANS;
    wgmma.mma_async.sync.aligned.SW_SHAPE SW_MACC, %dw1, %da1, %ptrue, 1, 1 SW_TRANS;
    wgmma.mma_async.sync.aligned.SW_SHAPE SW_MACC, %dw2, %da2, %ptrue, 1, 1 SW_TRANS;
    wgmma.mma_async.sync.aligned.SW_SHAPE SW_MACC, %dw3, %da3, %ptrue, 1, 1 SW_TRANS;
    wgmma.commit_group.sync.aligned;
    wgmma.wait_group.sync.aligned 0;
    bar.sync 0;                                // every warp's wgmmas have read stage s: refill it
    add.u32 %i, %i, %nst;
    setp.lt.u32 %p, %i, %nkl;
    @!%p bra NOREFILL;
    SW_LOAD
NOREFILL:
    sub.u32 %i, %i, %nst;
#if FP8
    SW_FOR_G(SW_PROMOTE)
#endif
    add.u32 %i, %i, 1;
    add.u32 %s, %s, 1;
    setp.eq.u32 %p, %s, %nst;
    @%p mov.u32 %s, 0;
    @%p xor.b32 %ph, %ph, 1;
    setp.lt.u32 %p, %i, %nkl;
    @%p bra MAIN;

    // --- cluster split-K: ranks 1..S-1 park their sums in rank 0 ([rank - 1][accumulator][thread]), rank 0 adds
    @!%pcl bra EPI;
    barrier.cluster.wait.aligned;              // phase 1 done: every CTA of the cluster has started
    setp.eq.u32 %p, %rank, 0;
    @%p bra CL_JOIN;
    sub.u32 %t1, %rank, 1;
    mul.lo.u32 %t1, %t1, MB * 256;
    add.u32 %t1, %t1, %red;
    mad.lo.u32 %t1, %tx, 4, %t1;
    mapa.shared::cluster.u32 %t2, %t1, 0;
    SW_FOR_G(SW_CLST)
CL_JOIN:
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    setp.ne.u32 %p, %rank, 0;
    @%p bra DONE;
    mad.lo.u32 %t2, %tx, 4, %red;
    mov.u32 %t1, 1;
CL_ADD:
    SW_FOR_G(SW_CLADD)
    add.u32 %t2, %t2, MB * 256;
    add.u32 %t1, %t1, 1;
    setp.lt.u32 %p, %t1, %S;
    @%p bra CL_ADD;

EPI:
    // --- epilogue: rows n = n0 + r, n0 + r + 8 (predicates pn0 / pn1), columns m = 8j + m2c (+1)
    add.u32 %t1, %n0, %r;
    setp.lt.u32 %pn0, %t1, %N;
    add.u32 %t2, %t1, 8;
    setp.lt.u32 %pn1, %t2, %N;
    setp.eq.u32 %p, %mode, 4;
    @%p bra EPI_SWI;
    setp.eq.u32 %p, %mode, 1;
    selp.u32 %t2, 2, 4, %p;                    // element bytes
    mul.wide.u32 %c0, %m2c, %N;
    cvt.u64.u32 %c1, %t1;
    add.s64 %c0, %c0, %c1;
    cvt.u64.u32 %c1, %t2;
    mul.lo.u64 %c0, %c0, %c1;
    add.s64 %c0, %c0, %pC;                     // &C[m2c][n0 + r]
    mul.wide.u32 %ld1, %N, %t2;                // one row of C (m + 1)
    add.s64 %c1, %c0, %ld1;
    shl.b64 %ldj, %ld1, 3;                     // eight rows (the next group)
    @%p bra EPI_BF16;
    setp.eq.u32 %p, %mode, 2;
    @%p bra EPI_ADD;
    SW_FOR_G(SW_EPI_F32)
    bra DONE;
EPI_ADD:
    mov.b64 %c2, %c0;
    mov.b64 %c3, %c1;
    SW_FOR_G(SW_ADD_LD)
    mov.b64 %c0, %c2;
    mov.b64 %c1, %c3;
    SW_FOR_G(SW_ADD_ST)
    bra DONE;
EPI_BF16:
    SW_FOR_G(SW_EPI_BF16)
    bra DONE;
EPI_SWI:
    // gate row n0 + r (r < 8 within its warp's 16), up row n0 + r + 8 -> output n0 / 2 + 8 w + lane / 4
    shr.u32 %t2, %N, 1;
    shr.u32 %t1, %n0, 1;
    shl.b32 %h0, %w, 3;
    add.u32 %t1, %t1, %h0;
    shr.u32 %h0, %lane, 2;
    add.u32 %t1, %t1, %h0;
    mul.wide.u32 %c0, %m2c, %t2;
    cvt.u64.u32 %c1, %t1;
    add.s64 %c0, %c0, %c1;
    shl.b64 %c0, %c0, 1;
    add.s64 %c0, %c0, %pC;                     // &C[m2c][out]
    mul.wide.u32 %ld1, %t2, 2;
    add.s64 %c1, %c0, %ld1;
    shl.b64 %ldj, %ld1, 3;
    SW_FOR_G(SW_EPI_SWI)
DONE:
    ret;
}

#undef NAME
#undef MB
#undef NG
#undef NGM1
#undef SW_STAGE
#undef SW_ACC
#undef SW_XACC
#undef SW_MACC
#undef SW_FOR_G
#undef FP8
#undef SW_KSTEP
#undef SW_KK
#undef SW_SHAPE
#undef SW_TRANS
#undef SW_KSHIFT
#undef SW_LOAD_W
#undef SW_LOAD_A
#undef SW_LOAD
#undef SW_PROLOGUE
#undef SW_BUILD
#undef SW_ETX
#undef SW_SLD
#undef SW_WRITE_A
