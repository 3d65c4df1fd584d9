// gemm_wg_body.h — one tile configuration of the warp-specialised wgmma + TMA GEMM, included once per configuration
// by gemm_wg.ptx (bf16) and gemm_fp8.ptx (e4m3 with block scales, FP8 defined as 1). The includer defines (literal
// numbers):
//   NAME     .entry name
//   NCONS    consumer warpgroups (1 or 2); each owns 64 rows of the CTA tile, so BM = 64 * NCONS
//   BN       CTA tile columns (output features) = the wgmma N (64..256, multiple of 8... here of 64)
//   NJ, NJM1 WN / 8 and WN / 8 - 1 (the accumulator list is built from groups of four registers)
//   STAGES   depth of the TMA / mbarrier ring
//   NSPLIT   optional, 1 (with WN = BN / 2): the two consumers split the tile's columns instead of its rows
//            (BM = 64, consumer wc owns columns [wc * WN, (wc + 1) * WN)): the FP8 64x256 tile, whose 256 columns
//            are 128 SwiGLU outputs = one scale block per row, with the per-consumer registers of the 128x128 tile;
//            and the 64x128 "s" tiles for mid M (two wgmma chains per SM instead of one)
//   CM       optional, 2: a (2, 1, 1) thread-block cluster whose two CTAs take vertically adjacent tiles (the same
//            columns, rows BM apart) and share each W slice through TMA multicast (below); else 1
//
// C[M][N] (op)= A[M][K] . W[N][K]^T. A (activations) and W (weights) are bf16, K contiguous; they arrive as two
// TMA tensor maps with 128-byte swizzle and boxes of 64 (K) x BM rows and 64 x BN rows. params: tmA, tmW (tensor
// maps by value), C, Cs (.u64), M, N, K, mode (.u32; bit 8: early weights, below; FP8: bit 9 uniform scales with
// groups of bits 16..23 slices, U_START below; the FP8H_UNI entries always): 0 store f32, 1 store bf16, 2 add
// into f32, 4 SwiGLU into bf16 C [M][N/2], 5 (128x256 bf16 tile only) SwiGLU quantised to e4m3 C [M][N/2] with f32
// scales Cs [M][N/256], 6 store f32 and each row's maximum over every 64 columns into Cs [M][ceil(N/64)] f32 (the
// rescored FP8 head's first pass), 7 (FP8 tiles) mode 2's add, then the next RMSNorm's e4m3 input at Cs (EPI_NQ_
// below), 8 (three FP8 tiles) the qkv projection's q / k norms, RoPE and FP8 cache write (ROPE_* below); then ws, cnt
// (.u64), splits, ktps (.u32) for split-K (below; splits = 1: off); FP8 tiles then nw (.u64: mode 7's norm weights),
// ss (.u64: 0, or the rows' sums of x^2 [M][K / 128] that mode 7 wrote: every output row times rstd =
// 1 / sqrt(sum / K + eps) before the epilogue, RS_* below), eps (.f32) and rope (.u64: mode 8's operands). K % 64 == 0,
// N % 8 == 0 (16 for the SwiGLU modes, 256 for modes 5 and 7). Cs is used in modes 5, 6 and 7 only.
//
// SwiGLU (modes 4, 5): W is the gate/up pair interleaved in blocks of 8 rows (swiglu.h): accumulator group 2p is
// gate, group 2p + 1 the matching up, both in this thread's registers; out = silu(g) * u (f32) at output column
// n0/2 + 8p + colin. Mode 5: a 256-column tile holds 128 outputs of each of its rows, i.e. one whole 128-column scale
// block of the next FP8 GEMM's input: the outputs are rounded to bf16 (the value the separate path would store),
// amax over the row's 128 (32 in each of the 4 lanes sharing the row: two shuffles), then exactly quant_act_fp8's
// arithmetic (scale = amax / 448 or 1, q = satfinite(rn(x * rcp(scale)))).
//
// Roles: warpgroup 0 is the producer (one thread issues every TMA load; the warpgroup gives its registers away
// with setmaxnreg.dec), warpgroups 1..NCONS are consumers (setmaxnreg.inc to 232: BN/2 f32 accumulators each).
// Persistent: the grid is at most one CTA per SM; CTA c takes tiles c, c + gridDim.x, ... in a grouped order
// (GROUP_M row-tiles side by side walk the N tiles together, so concurrently running CTAs share A and W tiles in
// L2). The ring runs across tiles: the producer fills the next tile's stages while the consumers store this one.
// Epilogue (modes 0-5): each consumer warp stages its 16 rows through its own 4 KB of shared memory and copies them
// out in 16-byte pieces of whole rows (STG_* / CO_* below: 1.1-1.2x on the FP8 tiles at large M, session 9).
//
// Ring protocol (stage s = it % STAGES, phase = (it / STAGES) & 1, `it` counting K slices over all tiles):
//   producer: wait empty[s] on phase ^ 1 (a fresh barrier passes at once), arrive.expect_tx(full[s], STAGE_BYTES),
//             TMA A slice and W slice into stage s signalling full[s].
//   consumer: wait full[s] on phase, 4 x wgmma m64nBNk16 (K = 64 per slice, +32 B per k16 step inside the
//             128-byte swizzle atom), commit; wait_group 1 -> the previous slice's wgmmas are done -> each warp's
//             lane 0 arrives on empty[previous stage] (empty's count: 4 warps x NCONS).
// FP8 (FP8 = 1): A and W are e4m3, one slice is K = 128 (a 128-byte swizzle row holds 128 e4m3), the wgmma is
// m64nBNk32 (+32 B per k32 step), and two extra params follow C: sa (f32 [M][K/128], one scale per row per slice)
// and sw (f32 [ceil(N/128)][K/128], one per 128 x 128 weight block; a consumer's WN columns span one block, or two
// for WN = 256, which runs each slice in two m64n128 halves: FP8H below). Hopper's
// FP8 wgmma keeps only ~14 bits of its f32 accumulation, so each slice goes into a scratch accumulator (scale-d = 0)
// and is promoted: wait for it, release the stage, final += partial * sa[row] * sw (HOPPER-PTX.md section 5).
//
// Split-K (p_splits = S | F << 16, S > 1, for grids with too few tiles to fill the GPU): the work units are tiles
// 0..F-1 whole, then (tile, split) pairs of the other tiles, split s taking K slices [s * ktps, (s + 1) * ktps)
// (F = 0: every tile split; F = the full waves' tiles: only the last, partial wave's tiles split — the "tail").
// Each split unit stores its partial sums to an f32 slab ws[s] ([M][N]); the CTA barrier, then one thread's acq_rel
// atomic on the tile's counter in p_cnt (zero before the launch and left zero after it) tells the tile's last unit,
// which (after the barrier: its acquire orders the CTA's loads) adds slabs 0..S-1 in order and runs the epilogue:
// deterministic, any mode.
// Cluster split (p_splits bit 15, S = 2..4, CM = 1, host/gpu_gemm.c launch_wg): no slabs and no counter. The grid is
// the units, one a CTA, and a (S, 1, 1) cluster holds one tile's S splits (split = cluster rank). After every
// consumer of the cluster is past its main loop (cluster barrier: the rings are free, no TMA is in flight), the rows
// of consumer warp w (w = 0..3) belong to rank w % S: each other rank stores that warp's partial sums into the
// owner's ring (distributed shared memory, region (consumer, w / S, sender rank), 512 B a group of four registers,
// lane-major), a second cluster barrier, and the owner adds them to its own in rank order and runs the per-warp
// epilogue; the other warps are done. Deterministic, every mode but the N-split tile's mode 5 (a barrier of both
// consumers: the host refuses it).
//
// TMA multicast (CM = 2). Why: at 128x128 FP8 / 128x256 bf16 the tensor cores want ~64 bytes of A and W per SM
// per clock and each W slice is read once per row-tile from L2; both GEMMs topped out near the same ~8 TB/s of L2
// traffic (FP8 1,010 TFLOP/s, bf16 700). The two CTAs of a cluster work in lock-step on one tile column (a work unit
// is a pair of row-tiles, u = cluster index, stepping by the cluster count): each loads its own A slice and half the
// W slice's rows (a W tensor map with a box of BN / 2 rows), multicast into the same stage of both CTAs, signalling
// each CTA's full[s] (whose expect_tx still counts the whole stage). A producer may overwrite its peer's stage only
// once the peer's consumers have released it, so every consumer warp arrives on empty[s] of both CTAs (remote
// arrive through mapa; the count is 4 x NCONS x CM) and each producer waits on its own. The cluster meets once after
// the barriers are initialised (no remote arrive or multicast into a CTA before that); at the end each producer
// waits until its own ring is released by every consumer of the cluster (the last remote arrivals into this CTA)
// before the CTA may exit. Rows of a pair past M (odd row-tile count) load zeros and store nothing. No split-K.
//
// Shared memory (dynamic, 1024-aligned): STAGES x [A slice BM x 128 B | W slice BN x 128 B], then full[STAGES],
// empty[STAGES] (8 B each), then one word for split-K (16 B), then 1 KB for the NSPLIT tiles' amax (and sum) exchange, then
// the epilogue's staging (4 KB a consumer warp: 16 or 32 KB). Every tile base is a multiple of 1024 B, as the
// 128-byte swizzle needs.

#ifndef FP8
#define FP8 0
#endif
#ifndef NSPLIT
#define NSPLIT 0
#endif
#ifndef CM
#define CM 1
#endif
#if CM != 1 && CM != 2
#error "CM: 1 or 2"
#endif
#if NSPLIT
#define BM 64                    // the includer defines WN = BN / 2 (a literal: it is pasted into the wgmma shape)
#if !defined(WN) || WN * 2 != BN
#error "NSPLIT needs WN = BN / 2"
#endif
#define A_WC_OFF 0               // consumer wc's A rows and W rows inside a stage, in bytes
#define W_WC_OFF (WN * 128)
#define ROW_WC 0
#else
#define BM (64 * NCONS)
#define WN BN
#define A_WC_OFF (64 * 128)
#define W_WC_OFF 0
#define ROW_WC 64
#endif
#define A_BYTES (BM * 128)
#define STAGE_BYTES ((BM + BN) * 128)
#define BAR_OFF (STAGES * STAGE_BYTES)
#define NTHREADS (128 * (NCONS + 1))
#define GROUP_M 8
// smem matrix descriptor, high word: 128-byte swizzle (1 << 62), SBO = 1024 B between 8-row groups (64 << 32),
// LBO unused with swizzle (1 << 16)
#define DESC_HI 0x4000004000010000

#if NJ * 8 != WN || NJM1 + 1 != NJ || (NCONS != 1 && NCONS != 2) || BN % 64 != 0 || BN > 256 || (NSPLIT && NCONS != 2)
#error "bad gemm_wg configuration"
#endif
#if FP8 && WN != 128 && WN != 64 && !(WN == 256 && !NSPLIT)
#error "the FP8 tiles need WN = 64 or 128 (one weight scale block per consumer), or 256 in halves"
#endif
// FP8 with WN = 256 ("halves", the 128x256 tile): 128 final accumulators a thread leave no room for a 256-wide
// scratch, so each slice runs as two m64n128 halves (W rows 0..127, then 128..255: one weight scale block each)
// through one 64-register scratch, each promoted into its half of the final sums before the next is issued.
#define FP8H (FP8 && WN == 256)
#if FP8H
#define WNX 128        // scratch accumulator width
#define NJX 16
#define NJXM1 15
#else
#define WNX WN
#define NJX NJ
#define NJXM1 NJM1
#endif
#if FP8
#define MMA_TRANS      // FP8 wgmma has no transpose immediates: both operands are K-major
#define KSHIFT 7       // log2 of the K elements per slice: 128 e4m3 = 128 bytes
#define MMA_SHAPE CAT(m64n, CAT(WNX, k32)).f32.e4m3.e4m3
#else
#define MMA_TRANS , 0, 0  // imm-trans-a, imm-trans-b: both K-major
#define KSHIFT 6       // 64 bf16 = 128 bytes
#define MMA_SHAPE CAT(m64n, CAT(WN, k16)).f32.bf16.bf16
#endif

#define DECLJ(j) .reg .f32 %d##j##_<4>;
#define LJ(j) %d##j##_0, %d##j##_1, %d##j##_2, %d##j##_3,
#define LASTJ_(j) %d##j##_0, %d##j##_1, %d##j##_2, %d##j##_3
#define LASTJ(j) LASTJ_(j)
#define ACC { CAT(REP, NJM1)(LJ) LASTJ(NJM1) }
#define XDECLJ(j) .reg .f32 %x##j##_<4>;
#define XLJ(j) %x##j##_0, %x##j##_1, %x##j##_2, %x##j##_3,
#define XLASTJ_(j) %x##j##_0, %x##j##_1, %x##j##_2, %x##j##_3
#define XLASTJ(j) XLASTJ_(j)
#define XACC { CAT(REP, NJXM1)(XLJ) XLASTJ(NJXM1) }
#define ZEROJ(j) mov.f32 %d##j##_0, 0f00000000; mov.f32 %d##j##_1, 0f00000000; mov.f32 %d##j##_2, 0f00000000; \
                 mov.f32 %d##j##_3, 0f00000000;
#define PROMOTEJ_x(j) fma.rn.f32 %d##j##_0, %x##j##_0, %fa0, %d##j##_0; fma.rn.f32 %d##j##_1, %x##j##_1, %fa0, %d##j##_1; \
                      fma.rn.f32 %d##j##_2, %x##j##_2, %fa1, %d##j##_2; fma.rn.f32 %d##j##_3, %x##j##_3, %fa1, %d##j##_3;
#define PROMOTEJ_y(j) fma.rn.f32 %d##j##_0, %y##j##_0, %fa0, %d##j##_0; fma.rn.f32 %d##j##_1, %y##j##_1, %fa0, %d##j##_1; \
                      fma.rn.f32 %d##j##_2, %y##j##_2, %fa1, %d##j##_2; fma.rn.f32 %d##j##_3, %y##j##_3, %fa1, %d##j##_3;
#define YDECLJ(j) .reg .f32 %y##j##_<4>;
#define YLJ(j) %y##j##_0, %y##j##_1, %y##j##_2, %y##j##_3,
#define YLASTJ_(j) %y##j##_0, %y##j##_1, %y##j##_2, %y##j##_3
#define YLASTJ(j) YLASTJ_(j)
#define YACC { CAT(REP, NJM1)(YLJ) YLASTJ(NJM1) }
#define FOR_J(X) CAT(REP, NJ)(X)
#define FOR_JX(X) CAT(REP, NJX)(X)
// FP8H: final group 16 + j += scratch group j (the second half's columns)
#define PROMOTEJ_h(jd, j) fma.rn.f32 %d##jd##_0, %x##j##_0, %fa0, %d##jd##_0; \
    fma.rn.f32 %d##jd##_1, %x##j##_1, %fa0, %d##jd##_1; fma.rn.f32 %d##jd##_2, %x##j##_2, %fa1, %d##jd##_2; \
    fma.rn.f32 %d##jd##_3, %x##j##_3, %fa1, %d##jd##_3;
#define FOR_HI16(X) X(16, 0) X(17, 1) X(18, 2) X(19, 3) X(20, 4) X(21, 5) X(22, 6) X(23, 7) X(24, 8) X(25, 9) \
    X(26, 10) X(27, 11) X(28, 12) X(29, 13) X(30, 14) X(31, 15)
#define FOR_S(X) CAT(REPK, STAGES)(X)
// four k-steps of one slice into accumulator list L (the first one scaled by %pacc: false = start afresh)
#define MMA4(L) wgmma.fence.sync.aligned; \
    wgmma.mma_async.sync.aligned.MMA_SHAPE L, %da, %dw, %pacc, 1, 1 MMA_TRANS; \
    wgmma.mma_async.sync.aligned.MMA_SHAPE L, %dA1, %dW1, %ptrue, 1, 1 MMA_TRANS; \
    wgmma.mma_async.sync.aligned.MMA_SHAPE L, %dA2, %dW2, %ptrue, 1, 1 MMA_TRANS; \
    wgmma.mma_async.sync.aligned.MMA_SHAPE L, %dA3, %dW3, %ptrue, 1, 1 MMA_TRANS; \
    wgmma.commit_group.sync.aligned;
// wait for slice `it`'s bytes, then the smem descriptors of this warpgroup's A rows and of the W slice (+32 B per
// k step inside the swizzle atom: +2 in the descriptor's 16-byte units)
#define SLICE_BEGIN(WAIT) mad.lo.u32 %full, %s, 8, %bar; \
WAIT: mbarrier.try_wait.parity.shared::cta.b64 %p, [%full], %ph; @!%p bra WAIT; \
    mad.lo.u32 %sa, %s, STAGE_BYTES, %sbase; add.u32 %sw, %sa, A_BYTES; mad.lo.u32 %sa, %wc, A_WC_OFF, %sa; \
    mad.lo.u32 %sw, %wc, W_WC_OFF, %sw; \
    cvt.u64.u32 %da, %sa; and.b64 %da, %da, 0x3FFFF; shr.u64 %da, %da, 4; or.b64 %da, %da, DESC_HI; \
    cvt.u64.u32 %dw, %sw; and.b64 %dw, %dw, 0x3FFFF; shr.u64 %dw, %dw, 4; or.b64 %dw, %dw, DESC_HI; \
    add.s64 %dA1, %da, 2; add.s64 %dA2, %da, 4; add.s64 %dA3, %da, 6; \
    add.s64 %dW1, %dw, 2; add.s64 %dW2, %dw, 4; add.s64 %dW3, %dw, 6;
// the next stage of the ring (the phase flips on wrapping)
#define RING_NEXT add.u32 %s, %s, 1; setp.eq.u32 %p, %s, STAGES; @%p mov.u32 %s, 0; @%p xor.b32 %ph, %ph, 1;
// %ps = this slice's empty barrier (released one step later), then the ring and K advance
#define ADVANCE add.u32 %ps, %bar, 8 * STAGES; mad.lo.u32 %ps, %s, 8, %ps; RING_NEXT add.u32 %kt, %kt, 1;
// producer: wait until stage %s is free (empty[s] on phase ^ 1; a fresh barrier passes at once)
#define WAIT_EMPTY(WAIT) mad.lo.u32 %empty, %s, 8, %bar; add.u32 %empty, %empty, 8 * STAGES; xor.b32 %t1, %ph, 1; \
WAIT: mbarrier.try_wait.parity.shared::cta.b64 %p, [%empty], %t1; @!%p bra WAIT;
// FP8: this slice's scales into set v (x or y): the two rows' activation scales and the tile's weight block scale,
// issued before the barrier wait so their latency hides behind it
#define LOADSC(v) ld.global.nc.f32 %sa0##v, [%a0]; ld.global.nc.f32 %sa1##v, [%a1]; ld.global.nc.f32 %sw##v, [%aw]; \
    add.s64 %a0, %a0, 4; add.s64 %a1, %a1, 4; add.s64 %aw, %aw, 4;
#define PROMOTE(v) mul.f32 %fa0, %sa0##v, %sw##v; mul.f32 %fa1, %sa1##v, %sw##v; FOR_J(PROMOTEJ_##v)
// uniform scales (mode bit 9, the XY path below): final += scratch (a group of slices' sums), and at the end
// final *= its row's scale product
#define FOLDJ(j) add.f32 %d##j##_0, %d##j##_0, %x##j##_0; add.f32 %d##j##_1, %d##j##_1, %x##j##_1; \
                 add.f32 %d##j##_2, %d##j##_2, %x##j##_2; add.f32 %d##j##_3, %d##j##_3, %x##j##_3;
#define XZEROJ(j) mov.f32 %x##j##_0, 0f00000000; mov.f32 %x##j##_1, 0f00000000; mov.f32 %x##j##_2, 0f00000000; \
                  mov.f32 %x##j##_3, 0f00000000;
#define USCALEJ(j) mul.f32 %d##j##_0, %d##j##_0, %fa0; mul.f32 %d##j##_1, %d##j##_1, %fa0; \
                   mul.f32 %d##j##_2, %d##j##_2, %fa1; mul.f32 %d##j##_3, %d##j##_3, %fa1;
// FP8H: the second weight block's scale (rows 128..255 of the tile), and the two halves' promotions
#define LOADSC2(v) ld.global.nc.f32 %sw##v##2, [%aw2]; add.s64 %aw2, %aw2, 4;
// both weight blocks' and the rows' scales into set v where %p (the pointers advance either way)
#define LOADSC_IF(v) @%p ld.global.nc.f32 %sa0##v, [%a0]; @%p ld.global.nc.f32 %sa1##v, [%a1]; \
    @%p ld.global.nc.f32 %sw##v, [%aw]; @%p ld.global.nc.f32 %sw##v##2, [%aw2]; add.s64 %a0, %a0, 4; \
    add.s64 %a1, %a1, 4; add.s64 %aw, %aw, 4; add.s64 %aw2, %aw2, 4;
#define PROMOTE_LO mul.f32 %fa0, %sa0x, %swx; mul.f32 %fa1, %sa1x, %swx; FOR_JX(PROMOTEJ_x)
#define PROMOTE_HI mul.f32 %fa0, %sa0x, %swx2; mul.f32 %fa1, %sa1x, %swx2; FOR_HI16(PROMOTEJ_h)
// FP8H_UNI: the whole 256-wide slice straight into the final sums (m64n256k32: groups 0..15 are W rows 0..127,
// groups 16..31 rows 128..255, each 128 one weight scale block)
#define MMA4W(L) wgmma.fence.sync.aligned; \
    wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 L, %da, %dw, %pacc, 1, 1; \
    wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 L, %dA1, %dW1, %ptrue, 1, 1; \
    wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 L, %dA2, %dW2, %ptrue, 1, 1; \
    wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 L, %dA3, %dW3, %ptrue, 1, 1; \
    wgmma.commit_group.sync.aligned;
#define USCALEH(jd, j) USCALEJ(jd)
// FP8H: the W descriptors of the slice's second 128 rows (16 KB on: +1024 in 16-byte units)
#define W_HALF2 add.s64 %dw, %dw, 1024; add.s64 %dW1, %dW1, 1024; add.s64 %dW2, %dW2, 1024; add.s64 %dW3, %dW3, 1024;

#define INIT_BAR(s) mbarrier.init.shared::cta.b64 [%bar + 8 * s], 1; \
                    mbarrier.init.shared::cta.b64 [%bar + 8 * (STAGES + s)], 4 * NCONS * CM;

// tile index -> (m0, n0), grouped: GROUP_M row-tiles walk the N tiles together
#define TILE_COORDS \
    div.u32 %group, %tile, %width; mul.lo.u32 %first, %group, GROUP_M; sub.u32 %gsize, %num_m, %first; \
    min.u32 %gsize, %gsize, GROUP_M; rem.u32 %within, %tile, %width; rem.u32 %mt, %within, %gsize; \
    add.u32 %mt, %mt, %first; div.u32 %nt, %within, %gsize; MT_OF_PAIR mul.lo.u32 %m0, %mt, BM; mul.lo.u32 %n0, %nt, BN;

#if CM > 1
#define MT_OF_PAIR mad.lo.u32 %mt, %mt, CM, %crank;  // the unit is a pair of row-tiles: this CTA's row-tile
// release stage %ps in both CTAs of the cluster (one arrival per consumer warp on each; the default .release.cta
// semantics, as CUTLASS's cluster barrier: the stage's readers are the wgmmas waited for, the writer a TMA)
#define RELEASE @%plane0 mbarrier.arrive.shared::cta.b64 _, [%ps]; \
    @%plane0 mapa.shared::cluster.u32 %rem, %ps, %cpeer; \
    @%plane0 mbarrier.arrive.shared::cluster.b64 _, [%rem];
#else
#define MT_OF_PAIR
#define RELEASE @%plane0 mbarrier.arrive.shared::cta.b64 _, [%ps];
#endif

// work unit u -> (tile, split) -> (m0, n0) and the K slices [kt0, kt1) of that split
// (units u < F: tile u whole, %Se = 1; then F + (u - F) / S, split (u - F) % S, %Se = S)
#define UNIT_COORDS setp.lt.u32 %pf, %u, %F; sub.u32 %tile, %u, %F; div.u32 %t1, %tile, %S; \
    mul.lo.u32 %split, %t1, %S; sub.u32 %split, %tile, %split; add.u32 %tile, %t1, %F; @%pf mov.u32 %tile, %u; \
    @%pf mov.u32 %split, 0; \
    selp.u32 %Se, 1, %S, %pf; TILE_COORDS \
    mul.lo.u32 %kt0, %split, %ktps; add.u32 %kt1, %kt0, %ktps; min.u32 %kt1, %kt1, %nk; @%pf mov.u32 %kt1, %nk;

// The unit timeline (make TRACE=1 only; host/gpu.c writes it to QWEN3_TRACE's file + ".units"): the producer (thread
// 0) and consumer thread 128 store %globaltimer at points of each work unit into a 128-byte record, unit u of region
// gridid % 256 of the buffer at qwen3_utrace (ptx/pdl.h), 2,048 records a region: header {gridid, u, S | NCONS << 8
// | CM << 12 | BM << 16 | BN / 8 << 24, smid, ctaid, kt0, kt1}, then producer start / last load issued, consumer
// start / first slice in / main loop done / split-K counter passed / slab sum done / epilogue done (ns).
#ifdef QWEN3_TRACE
#define UT_DECL .reg .b64 %ut_a, %ut_t; .reg .b32 %ut_w; .reg .pred %ut_q, %ut_f;
#define UT_REC(ISME) setp.eq.u32 %ut_q, %tx, ISME; ld.const.u64 %ut_a, [qwen3_utrace]; \
    setp.ne.and.u64 %ut_q, %ut_a, 0, %ut_q; \
    mov.u64 %ut_t, %gridid; and.b64 %ut_t, %ut_t, 255; shl.b64 %ut_t, %ut_t, 18; add.s64 %ut_a, %ut_a, %ut_t; \
    and.b32 %ut_w, %u, 2047; mul.wide.u32 %ut_t, %ut_w, 128; add.s64 %ut_a, %ut_a, %ut_t;
#define UT_T(off) mov.u64 %ut_t, %globaltimer; @%ut_q st.global.u64 [%ut_a + off], %ut_t;
#define UT_HEAD mov.u64 %ut_t, %gridid; @%ut_q st.global.u64 [%ut_a], %ut_t; \
    mov.u32 %ut_w, (NCONS << 8) | (CM << 12) | (BM << 16) | ((BN / 8) << 24); or.b32 %ut_w, %ut_w, %Se; \
    @%ut_q st.global.v2.u32 [%ut_a + 8], {%u, %ut_w}; mov.u32 %ut_w, %smid; @%ut_q st.global.u32 [%ut_a + 16], %ut_w; \
    mov.u32 %ut_w, %ctaid.x; @%ut_q st.global.u32 [%ut_a + 20], %ut_w; \
    @%ut_q st.global.v2.u32 [%ut_a + 88], {%kt0, %kt1};
#define UT_FIRST setp.eq.and.u32 %ut_f, %kt, %kt0, %ut_q; mov.u64 %ut_t, %globaltimer; \
    @%ut_f st.global.u64 [%ut_a + 48], %ut_t;
#else
#define UT_DECL
#define UT_REC(ISME)
#define UT_T(off)
#define UT_HEAD
#define UT_FIRST
#endif
// split-K partial sums over accumulator group j: columns n0 + colin + 8j (+1), rows row0 and row0 + 8
#define COLP(j) setp.gt.s32 %pc, %ncol, 8 * j; and.pred %q0, %pc, %pr0; and.pred %q1, %pc, %pr1;
#define EPI_F32(j) COLP(j) \
    @%q0 st.global.v2.f32 [%c0 + 32 * j], {%d##j##_0, %d##j##_1}; \
    @%q1 st.global.v2.f32 [%c1 + 32 * j], {%d##j##_2, %d##j##_3};
// The slab sum (split-K: this tile's partial sums from the slab at c0 / c1 added into the accumulators). One group
// at a time through four registers (until session 18) made ptxas wait for each group's
// predicated loads before issuing the next group's (SASS: LDG, FADD on it, LDG into the same register; the unit
// timeline: 0.35-0.56 us a group, the sum of two 128x128 slabs 10-18 us). FP8: a whole slab at once into the scratch
// accumulator (dead in the epilogue), then the adds (3-5 us). Loads predicated off leave old values, which only reach
// outputs that are never stored.
#if FP8
#define SKLD(j, g) COLP(j) @%q0 ld.global.cg.v2.f32 {%x##g##_0, %x##g##_1}, [%c0 + 32 * j]; \
    @%q1 ld.global.cg.v2.f32 {%x##g##_2, %x##g##_3}, [%c1 + 32 * j];
#define SKADD(j, g) add.f32 %d##j##_0, %d##j##_0, %x##g##_0; add.f32 %d##j##_1, %d##j##_1, %x##g##_1; \
    add.f32 %d##j##_2, %d##j##_2, %x##g##_2; add.f32 %d##j##_3, %d##j##_3, %x##g##_3;
#define SKLD_J(j) SKLD(j, j)
#define SKADD_J(j) SKADD(j, j)
#if FP8H
#define SUM_SLAB FOR_JX(SKLD_J) FOR_JX(SKADD_J) FOR_HI16(SKLD) FOR_HI16(SKADD)
#else
#define SUM_SLAB FOR_J(SKLD_J) FOR_J(SKADD_J)
#endif
#else
// bf16 (no scratch accumulator): four groups' loads into 16 registers, then their adds; QUADS<NJ>(LD) does that for
// every group with load LD (the slab's here, the cluster split's below)
#define ELD(j, r0, r1, r2, r3) COLP(j) @%q0 ld.global.cg.v2.f32 {%e##r0, %e##r1}, [%c0 + 32 * j]; \
    @%q1 ld.global.cg.v2.f32 {%e##r2, %e##r3}, [%c1 + 32 * j];
#define EADD(j, r0, r1, r2, r3) add.f32 %d##j##_0, %d##j##_0, %e##r0; add.f32 %d##j##_1, %d##j##_1, %e##r1; \
    add.f32 %d##j##_2, %d##j##_2, %e##r2; add.f32 %d##j##_3, %d##j##_3, %e##r3;
#define QUAD(LD, a, b, c, d) LD(a, 0, 1, 2, 3) LD(b, 4, 5, 6, 7) LD(c, 8, 9, 10, 11) LD(d, 12, 13, 14, 15) \
    EADD(a, 0, 1, 2, 3) EADD(b, 4, 5, 6, 7) EADD(c, 8, 9, 10, 11) EADD(d, 12, 13, 14, 15)
#define QUADS8(LD) QUAD(LD, 0, 1, 2, 3) QUAD(LD, 4, 5, 6, 7)
#define QUADS16(LD) QUADS8(LD) QUAD(LD, 8, 9, 10, 11) QUAD(LD, 12, 13, 14, 15)
#define QUADS24(LD) QUADS16(LD) QUAD(LD, 16, 17, 18, 19) QUAD(LD, 20, 21, 22, 23)
#define QUADS32(LD) QUADS24(LD) QUAD(LD, 24, 25, 26, 27) QUAD(LD, 28, 29, 30, 31)
#define SUM_SLAB CAT(QUADS, NJ)(ELD)
#endif
// cluster split: a warp's partial sums to the owner (%ka: its region there, this lane's 16 B), and the owner's adds of
// one region (FP8: into the scratch accumulator, as the slab sum; bf16: four groups at a time through %e0..15)
#define KC_ST(j) st.shared::cluster.v4.f32 [%ka + 512 * j], {%d##j##_0, %d##j##_1, %d##j##_2, %d##j##_3};
#define KC_REGION (NJ * 512)
#if FP8
#define KCLDX(j, g) ld.shared.v4.f32 {%x##g##_0, %x##g##_1, %x##g##_2, %x##g##_3}, [%ka + 512 * j];
#define KCLDX_J(j) KCLDX(j, j)
#if FP8H
#define KC_ADD_REGION FOR_JX(KCLDX_J) FOR_JX(SKADD_J) FOR_HI16(KCLDX) FOR_HI16(SKADD)
#else
#define KC_ADD_REGION FOR_J(KCLDX_J) FOR_J(SKADD_J)
#endif
#else
#define KC_LD(j, r0, r1, r2, r3) ld.shared.v4.f32 {%e##r0, %e##r1, %e##r2, %e##r3}, [%ka + 512 * j];
#define KC_ADD_REGION CAT(QUADS, NJ)(KC_LD)
#endif
// mode 5, pass 1: the bf16-rounded outputs back into the gate registers, amax per row into %e2 / %e3
#define UNBF16(h, lo, hi) shl.b32 %t1, h, 16; mov.b32 lo, %t1; and.b32 %t1, h, 0xFFFF0000; mov.b32 hi, %t1;
#define SWQ_AMAX(a, g, u, p) \
    SILU_MUL(%d##g##_0, %d##u##_0, %e0) SILU_MUL(%d##g##_1, %d##u##_1, %e1) cvt.rn.bf16x2.f32 %h0, %e1, %e0; \
    UNBF16(%h0, %d##g##_0, %d##g##_1) \
    SILU_MUL(%d##g##_2, %d##u##_2, %e0) SILU_MUL(%d##g##_3, %d##u##_3, %e1) cvt.rn.bf16x2.f32 %h0, %e1, %e0; \
    UNBF16(%h0, %d##g##_2, %d##g##_3) \
    abs.f32 %e0, %d##g##_0; max.f32 %e2, %e2, %e0; abs.f32 %e0, %d##g##_1; max.f32 %e2, %e2, %e0; \
    abs.f32 %e0, %d##g##_2; max.f32 %e3, %e3, %e0; abs.f32 %e0, %d##g##_3; max.f32 %e3, %e3, %e0;
// scale and its reciprocal from amax (all-zero block: 1), as quant_act_fp8
#define SWQ_SCALE(amax, sc, inv) setp.gt.f32 %p, amax, 0f00000000; div.rn.f32 sc, amax, 0f43E00000; \
    @!%p mov.f32 sc, 0f3F800000; rcp.rn.f32 inv, sc;
#define FOR_PAIR(X) CAT(PAIRS, NJ)(X, 0)
// the N-split tiles' exchange between the two consumers ([2][64] f32 a value after the split-K word; modes 5 and 7):
// %kc = this consumer's slot for row %rowin (XC_MINE), then the other consumer's (XC_OTHER; %t1, %t2 kept between)
#define XC_MINE add.u32 %t1, %bar, 16 * STAGES + 16; shl.b32 %t2, %rowin, 2; mad.lo.u32 %kc, %wc, 256, %t2; \
    add.u32 %kc, %kc, %t1;
#define XC_OTHER xor.b32 %kc, %wc, 1; mad.lo.u32 %kc, %kc, 256, %t2; add.u32 %kc, %kc, %t1;
#define SWQ_TILE (BN == 256)  // 128 outputs of a row in the tile: mode 5 possible

// ---- the staged epilogue (modes 0, 1, 2, 4, 5). Stored straight from the accumulators, a warp's instruction writes
// 4 or 8 bytes in each of eight rows: Nsight Compute on the FP8 128x256 tile (gate_up, M = 4096, bf16 out) found 16%
// of the consumers' stall samples in those stores, 14% waiting on the LSU queue, the tensor cores idle meanwhile.
// So each consumer warp puts its 16 rows x one chunk of columns into its own 4 KB of shared memory (16 rows x
// 256 B; the 16-byte piece c of row r at c ^ (r & 7): conflict-free both ways) and copies them out in 16-byte
// pieces, whole rows of a chunk per group of lanes. STG_*: accumulator group j (or SwiGLU pair p) -> the staging
// rows r0 = lane / 4 (%sr) and r0 + 8 (%sr + 2048: the same swizzle); %skey = this lane's byte offset ^ %sx.
#define STG_F32(j) xor.b32 %t1, %skey, 32 * (j & 7); add.u32 %t1, %t1, %sr; \
    st.shared.v2.f32 [%t1], {%d##j##_0, %d##j##_1}; st.shared.v2.f32 [%t1 + 2048], {%d##j##_2, %d##j##_3};
#define STG_BF16(j) xor.b32 %t1, %skey, 16 * (j & 15); add.u32 %t1, %t1, %sr; \
    cvt.rn.bf16x2.f32 %h0, %d##j##_1, %d##j##_0; cvt.rn.bf16x2.f32 %h1, %d##j##_3, %d##j##_2; \
    st.shared.b32 [%t1], %h0; st.shared.b32 [%t1 + 2048], %h1;
#define STG_SWI(a, g, u, p) \
    SILU_MUL(%d##g##_0, %d##u##_0, %e0) SILU_MUL(%d##g##_1, %d##u##_1, %e1) \
    SILU_MUL(%d##g##_2, %d##u##_2, %e2) SILU_MUL(%d##g##_3, %d##u##_3, %e3) \
    cvt.rn.bf16x2.f32 %h0, %e1, %e0; cvt.rn.bf16x2.f32 %h1, %e3, %e2; \
    xor.b32 %t1, %skey, 16 * p; add.u32 %t1, %t1, %sr; st.shared.b32 [%t1], %h0; st.shared.b32 [%t1 + 2048], %h1;
// mode 5, pass 2: two e4m3 per row (cvt's first source goes to the high byte, i.e. the higher address)
#define STG_SWQ(a, g, u, p) xor.b32 %t1, %skey, 8 * p; add.u32 %t1, %t1, %sr; \
    mul.f32 %e0, %d##g##_0, %qi0; mul.f32 %e1, %d##g##_1, %qi0; cvt.rn.satfinite.e4m3x2.f32 %qh, %e1, %e0; \
    st.shared.b16 [%t1], %qh; \
    mul.f32 %e0, %d##g##_2, %qi1; mul.f32 %e1, %d##g##_3, %qi1; cvt.rn.satfinite.e4m3x2.f32 %qh, %e1, %e0; \
    st.shared.b16 [%t1 + 2048], %qh;
// the groups of a chunk: G8_c = groups 8c .. 8c + 7, G16_c = 16c .. 16c + 15
#define G8_0(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define G8_1(X) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define G8_2(X) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define G8_3(X) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(31)
#define G16_0(X) G8_0(X) G8_1(X)
#define G16_1(X) G8_2(X) G8_3(X)
// Copy-out, L = log2(lanes per row) (4: 256-byte rows, 3: 128, 2: 64), instruction i: row %srow = %crow + i * (32 >> L)
// of the warp's 16, this lane's piece at byte %cpb of the row; global %gq = %gp (row 0's piece) + %srow * %ldb;
// %p: row inside M (%rlim rows left) and piece inside N (%pcol)
#define CO_ADDR(i, L) add.u32 %srow, %crow, (i) * (32 >> L); and.b32 %t1, %srow, 7; shl.b32 %t1, %t1, 4; \
    xor.b32 %t1, %t1, %cpb; mad.lo.u32 %t1, %srow, 256, %t1; add.u32 %t1, %t1, %stg; \
    setp.lt.s32 %p, %srow, %rlim; and.pred %p, %p, %pcol; mul.wide.u32 %gq, %srow, %ldb; add.s64 %gq, %gq, %gp;
#define CO_ST(i, L) CO_ADDR(i, L) ld.shared.v4.b32 {%h0, %h1, %kc, %t2}, [%t1]; @%p st.global.v4.b32 [%gq], {%h0, %h1, %kc, %t2};
// add mode: four pieces' old values first (one round trip for the four; 16 registers: all eight would spill
// beside the live accumulators), then their sums
// (the FP8 tiles load into their scratch accumulator, dead here, but live to ptxas: the next tile's first wgmma
// names it as an input)
#if FP8
#define CA(i, k) %x##i##_##k
#else
#define CA(i, k) %ca##i##_##k
#endif
#define CO_ADD(i, L) CO_ADDR(i, L) ld.shared.v4.f32 {%e0, %e1, %e2, %e3}, [%t1]; \
    add.f32 %e0, %e0, CA(i, 0); add.f32 %e1, %e1, CA(i, 1); add.f32 %e2, %e2, CA(i, 2); \
    add.f32 %e3, %e3, CA(i, 3); @%p st.global.v4.f32 [%gq], {%e0, %e1, %e2, %e3};
#define CO_LD(i, L) CO_ADDR(i, L) @%p ld.global.v4.f32 {CA(i, 0), CA(i, 1), CA(i, 2), CA(i, 3)}, [%gq];
#define CO_DECL(i, L) .reg .f32 %ca##i##_<4>;
#define CO_I4(X) X(0, 4) X(1, 4) X(2, 4) X(3, 4) X(4, 4) X(5, 4) X(6, 4) X(7, 4)
#define CO_I4A(X) X(0, 4) X(1, 4) X(2, 4) X(3, 4)
#define CO_I4B(X) X(4, 4) X(5, 4) X(6, 4) X(7, 4)
#define CO_I3(X) X(0, 3) X(1, 3) X(2, 3) X(3, 3)
#define CO_I2(X) X(0, 2) X(1, 2)
// chunk setup: columns from %t2 (element index in the output row), %cw the output row's elements, E = log2 bytes
// an element, L as above: %crow / %cpb for L, %pcol, %gp = &out[rbase][%t2] + %cpb, %ldb = %cw << E
#define CHUNK_SETUP(E, L) shr.u32 %crow, %lane, L; and.b32 %cpb, %lane, (1 << L) - 1; shl.b32 %cpb, %cpb, 4; \
    sub.u32 %t1, %cw, %t2; shl.b32 %t1, %t1, E; setp.lt.s32 %pcol, %cpb, %t1; \
    mul.wide.u32 %gp, %rbase, %cw; cvt.u64.u32 %gq, %t2; add.s64 %gp, %gp, %gq; shl.b64 %gp, %gp, E; \
    add.s64 %gp, %gp, %pC; cvt.u64.u32 %gq, %cpb; add.s64 %gp, %gp, %gq; shl.b32 %ldb, %cw, E;
// X = max over the quad (the 4 lanes holding a row's columns), T a scratch .f32 (modes 5 and 6)
#define QUAD_MAX(X, T) shfl.sync.bfly.b32 T, X, 1, 31, -1; max.f32 X, X, T; shfl.sync.bfly.b32 T, X, 2, 31, -1; \
    max.f32 X, X, T;
// mode 6, block b of 64 columns (groups LIST): the maxima of rows row0 (%e0) and row0 + 8 (%e1) over this thread's
// columns inside N (max.f32 drops a NaN against a number; -inf where none), over the quad (the row's 64 columns),
// stored by the quad's lane 0 (%pmq) where the block starts inside N
#define PMAXJ(j) setp.gt.s32 %pc, %ncol, 8 * j; @%pc max.f32 %e0, %e0, %d##j##_0; @%pc max.f32 %e1, %e1, %d##j##_2; \
    setp.gt.s32 %pc, %ncol, 8 * j + 1; @%pc max.f32 %e0, %e0, %d##j##_1; @%pc max.f32 %e1, %e1, %d##j##_3;
#define PMAX_BLOCK(b, LIST) mov.f32 %e0, 0fFF800000; mov.f32 %e1, 0fFF800000; LIST(PMAXJ) \
    QUAD_MAX(%e0, %e2) QUAD_MAX(%e1, %e2) \
    setp.gt.s32 %pc, %ncol, 64 * b; and.pred %pc, %pc, %pmq; and.pred %q0, %pc, %pr0; and.pred %q1, %pc, %pr1; \
    @%q0 st.global.f32 [%c0 + 4 * b], %e0; @%q1 st.global.f32 [%c1 + 4 * b], %e1;
// a chunk of c (groups LIST) in f32 (plain or added) and bf16: stage, copy out, free the staging for the next one
#define CHUNK_F32(c, LIST) add.u32 %t2, %n0, 64 * c; CHUNK_SETUP(2, 4) LIST(STG_F32) bar.warp.sync -1; \
    CO_I4(CO_ST) bar.warp.sync -1;
#define CHUNK_ADD(c, LIST) add.u32 %t2, %n0, 64 * c; CHUNK_SETUP(2, 4) CO_I4A(CO_LD) LIST(STG_F32) bar.warp.sync -1; \
    CO_I4A(CO_ADD) CO_I4B(CO_LD) CO_I4B(CO_ADD) bar.warp.sync -1;
#define CHUNK_BF16(c, LIST, L) add.u32 %t2, %n0, 128 * c; CHUNK_SETUP(1, L) LIST(STG_BF16) bar.warp.sync -1; \
    CAT(CO_I, L)(CO_ST) bar.warp.sync -1;
// ---- mode 7 (FP8 tiles): the residual add, then the next RMSNorm's e4m3 input from the new rows (the producer-side
// RMSNorm, NOTES session 37). CHUNK_ADDN: mode 2's chunk, the sums also written back over the staging and read into
// the accumulators (so the rows' new values x are in registers, the global traffic still whole-row pieces).
#define CO_ADDW(i, L) CO_ADDR(i, L) ld.shared.v4.f32 {%e0, %e1, %e2, %e3}, [%t1]; \
    add.f32 %e0, %e0, CA(i, 0); add.f32 %e1, %e1, CA(i, 1); add.f32 %e2, %e2, CA(i, 2); \
    add.f32 %e3, %e3, CA(i, 3); @%p st.global.v4.f32 [%gq], {%e0, %e1, %e2, %e3}; \
    st.shared.v4.f32 [%t1], {%e0, %e1, %e2, %e3};
#define UNSTG_F32(j) xor.b32 %t1, %skey, 32 * (j & 7); add.u32 %t1, %t1, %sr; \
    ld.shared.v2.f32 {%d##j##_0, %d##j##_1}, [%t1]; ld.shared.v2.f32 {%d##j##_2, %d##j##_3}, [%t1 + 2048];
#define CHUNK_ADDN(c, LIST) add.u32 %t2, %n0, 64 * c; CHUNK_SETUP(2, 4) CO_I4A(CO_LD) LIST(STG_F32) bar.warp.sync -1; \
    CO_I4A(CO_ADDW) CO_I4B(CO_LD) CO_I4B(CO_ADDW) bar.warp.sync -1; LIST(UNSTG_F32) bar.warp.sync -1;
// Then per group j (columns n0 + colin + 8j, +1; rows row0, row0 + 8): the weights w of the next RMSNorm (NQ_WL, into
// registers R_k0 / R_k1), the sums of x^2 and the amax of y = x w (y in place), both of a 128-column block (%e4 / %e5,
// %e6 / %e7: this thread's share). Without rstd: rstd is one positive number a row, so e4m3(y rstd)
// with scale amax(y rstd) / 448 has y's codes with scale amax(y) / 448 (up to the rounding of the scaled values); the
// next GEMM multiplies its rows by rstd (below, %prs) once the row's sums are all in.
#define NQ_WL(j, R, k0, k1) ld.global.nc.v2.f32 {R##_##k0, R##_##k1}, [%gw + 32 * j];
#define NQ_G(j, R, k0, k1) fma.rn.f32 %e4, %d##j##_0, %d##j##_0, %e4; fma.rn.f32 %e4, %d##j##_1, %d##j##_1, %e4; \
    fma.rn.f32 %e5, %d##j##_2, %d##j##_2, %e5; fma.rn.f32 %e5, %d##j##_3, %d##j##_3, %e5; \
    mul.f32 %d##j##_0, %d##j##_0, R##_##k0; mul.f32 %d##j##_1, %d##j##_1, R##_##k1; \
    mul.f32 %d##j##_2, %d##j##_2, R##_##k0; mul.f32 %d##j##_3, %d##j##_3, R##_##k1; \
    abs.f32 %e8, %d##j##_0; max.f32 %e6, %e6, %e8; abs.f32 %e8, %d##j##_1; max.f32 %e6, %e6, %e8; \
    abs.f32 %e8, %d##j##_2; max.f32 %e7, %e7, %e8; abs.f32 %e8, %d##j##_3; max.f32 %e7, %e7, %e8;
// X = sum over the quad (the same value in all four lanes: the adds commute)
#define QUAD_SUM(X, T) shfl.sync.bfly.b32 T, X, 1, 31, -1; add.f32 X, X, T; shfl.sync.bfly.b32 T, X, 2, 31, -1; \
    add.f32 X, X, T;
// block b (128 columns) of this consumer: its rows' sums of x^2 over the quad, stored to ss[row][n0 / 128 + b]
// (%c0 / %c1; WN = 64: after the other consumer's half is added)
#define NQ_SSUM QUAD_SUM(%e4, %e8) QUAD_SUM(%e5, %e8)
#define NQ_SS(b) @%q0 st.global.f32 [%c0 + 4 * b], %e4; @%q1 st.global.f32 [%c1 + 4 * b], %e5;
// group j's e4m3 codes into the staging (rows r0, r0 + 8 at byte 8 j + colin of a WN-byte row; inverse scales I0, I1)
#define STG_Q(j, I0, I1) xor.b32 %t1, %skey, 8 * j; add.u32 %t1, %t1, %sr; \
    mul.f32 %e0, %d##j##_0, I0; mul.f32 %e1, %d##j##_1, I0; cvt.rn.satfinite.e4m3x2.f32 %nqh, %e1, %e0; \
    st.shared.b16 [%t1], %nqh; \
    mul.f32 %e0, %d##j##_2, I1; mul.f32 %e1, %d##j##_3, I1; cvt.rn.satfinite.e4m3x2.f32 %nqh, %e1, %e0; \
    st.shared.b16 [%t1 + 2048], %nqh;
#define STG_QA(j, R, k0, k1) STG_Q(j, %ni0, %ni1)
#define STG_QB(j, R, k0, k1) STG_Q(j, %ni2, %ni3)
// the weight registers of the groups of each 64-column half (NQ_Hh: groups 8h .. 8h + 7; FP8H's second block reuses
// them). Their own registers, not the scratch accumulators: a non-wgmma instruction defining a wgmma accumulator
// makes ptxas serialise the wgmmas (its C7515 "Potential Performance Loss"; session 37 measured 6% at B = 256).
#define NQ_H0(X) X(0, %nw0, 0, 1) X(1, %nw0, 2, 3) X(2, %nw1, 0, 1) X(3, %nw1, 2, 3) X(4, %nw2, 0, 1) X(5, %nw2, 2, 3) \
    X(6, %nw3, 0, 1) X(7, %nw3, 2, 3)
#define NQ_H1(X) X(8, %nw4, 0, 1) X(9, %nw4, 2, 3) X(10, %nw5, 0, 1) X(11, %nw5, 2, 3) X(12, %nw6, 0, 1) \
    X(13, %nw6, 2, 3) X(14, %nw7, 0, 1) X(15, %nw7, 2, 3)
#define NQ_H2(X) X(16, %nw0, 0, 1) X(17, %nw0, 2, 3) X(18, %nw1, 0, 1) X(19, %nw1, 2, 3) X(20, %nw2, 0, 1) \
    X(21, %nw2, 2, 3) X(22, %nw3, 0, 1) X(23, %nw3, 2, 3)
#define NQ_H3(X) X(24, %nw4, 0, 1) X(25, %nw4, 2, 3) X(26, %nw5, 0, 1) X(27, %nw5, 2, 3) X(28, %nw6, 0, 1) \
    X(29, %nw6, 2, 3) X(30, %nw7, 0, 1) X(31, %nw7, 2, 3)
#if FP8H
#define NQ_L 4
#elif WN == 64
#define NQ_L 2
#else
#define NQ_L 3
#endif
// The consumer (p_ss != 0): rstd = 1 / sqrt(sum(ss[row][:]) / K + eps) of this thread's rows r0c, r1c (ss [M][K / 128]
// f32, 16-byte rows: K % 512 == 0, K <= 8192). At the tile's start each lane of the quad copies every fourth 16-byte
// piece of both rows (RS_CP: cp.async, no register held) into its own 128 bytes of its warp's epilogue staging, idle
// during the main loop; the epilogue adds them in order (RS_SUM) and the quad's sums: the same rstd in every CTA that
// reads the row. So the loads' latency hides behind the main loop, and nothing stays live across it. Piece p of the
// lane's eight (row r0c's c at p = c, r1c's at 4 + c) sits at 16 (p ^ lane % 8) of its 128 bytes: the 8 lanes of a
// 16-byte access hit 8 different bank groups (at 16 p every lane of the warp hit the same four banks: 8-way
// conflicts, Nsight Compute's "excessive wavefronts" 688k of 713k, ~3.5 us of gate_up's 53 at M = 256, session 38).
#define RS_SLOT(p) xor.b32 %rsq, %rsx, 16 * (p); add.u32 %rsq, %rsq, %rsa;
#define RS_CP(c) add.u32 %kc, %t2, 4 * c; setp.lt.u32 %pc, %kc, %t1; \
    RS_SLOT(c) @%pc cp.async.ca.shared.global [%rsq], [%c0 + 64 * c], 16; \
    RS_SLOT(4 + c) @%pc cp.async.ca.shared.global [%rsq], [%c1 + 64 * c], 16;
#define RS_SUM(c) add.u32 %kc, %t2, 4 * c; setp.lt.u32 %pc, %kc, %t1; \
    RS_SLOT(c) @%pc ld.shared.v4.f32 {%e0, %e1, %e2, %e3}, [%rsq]; \
    RS_SLOT(4 + c) @%pc ld.shared.v4.f32 {%e4, %e5, %e6, %e7}, [%rsq]; \
    @%pc add.f32 %rs0, %rs0, %e0; @%pc add.f32 %rs0, %rs0, %e1; @%pc add.f32 %rs0, %rs0, %e2; \
    @%pc add.f32 %rs0, %rs0, %e3; @%pc add.f32 %rs1, %rs1, %e4; @%pc add.f32 %rs1, %rs1, %e5; \
    @%pc add.f32 %rs1, %rs1, %e6; @%pc add.f32 %rs1, %rs1, %e7;
// %rsa = this lane's 128 bytes of the staging, %rsx its swizzle; %t1 = pieces a row (K / 512), %t2 = this lane's
// first (lane % 4)
#define RS_ADDR shr.u32 %t1, %tx, 5; sub.u32 %t1, %t1, 4; add.u32 %rsa, %bar, 16 * STAGES + 16 + 1024; \
    mad.lo.u32 %rsa, %t1, 4096, %rsa; mad.lo.u32 %rsa, %lane, 128, %rsa; shr.u32 %t1, %K, 9; and.b32 %t2, %lane, 3; \
    and.b32 %rsx, %lane, 7; shl.b32 %rsx, %rsx, 4;
#define RS_FIN(r) QUAD_SUM(r, %e8) div.rn.f32 r, r, %e9; add.rn.f32 r, r, %eps; sqrt.rn.f32 r, r; rcp.rn.f32 r, r;
#define RSJ(j) mul.f32 %d##j##_0, %d##j##_0, %rs0; mul.f32 %d##j##_1, %d##j##_1, %rs0; \
    mul.f32 %d##j##_2, %d##j##_2, %rs1; mul.f32 %d##j##_3, %d##j##_3, %rs1;
// ---- mode 8 (GEMM_ROPE_KV8; FP8 tiles whose consumer owns 128 whole columns: 128x128, 64x128 and the 128x128
// pair): the qkv projection's epilogue does ptx/rope.ptx's qknorm_rope_kv_fp8 itself (NOTES, session 39). The tile's
// 128 columns are one head h = n0 / 128 (p_N = (n_head + 2 n_kv) 128). Its rows, as the bf16 qkv store would hold
// them (RBF), then for q and k heads rope.ptx's arithmetic: the head's RMSNorm (the row's sum of x^2 over the quad,
// rstd = 1 / sqrt(sum / 128 + eps) in IEEE steps), times the norm weights, NeoX rotation of the pairs (i, i + 64) =
// (group j, group j + 8) by angle i, whose cos / sin come from the step's table (ptx/rope.ptx rope_table: the same f64
// angles rope.ptx computes; it also gives each token's cache row, one load a row here instead of rope.ptx's chain).
// q heads: stored bf16 into q_out [T][n_head][128] (mode 1's staged store). k (rounded to bf16 again) and v heads:
// quantised per row (amax / 448) into the e4m3 pool row of (token, kv head) and its scale. Only the sum of squares
// runs in another order than rope.ptx's (a row's last bit of rstd may differ). Mode 8 is compiled into those tiles
// only: its dispatch in the others made ptxas spill the 64x256 and 128x256 tiles.
// Operands (p_rope, host/gpu_ops.h RopeKV8, byte offsets): u32 n_head 0, n_kv 4, f32 eps 12, then u64 q_out 16,
// k_pool 24, v_pool 32, k_scale 40, v_scale 48, q_norm 56, k_norm 64, kvrow 72 (u32 [T]: each token's cache row
// (page n_kv) 64 + pos % 64), cs 80 (f32 [T][64][2]: cos, sin); the last two the step's (ptx/rope.ptx rope_table).
#define ROPE_TILE (FP8 && WN == 128 && !NSPLIT && !FP8H)
#define RBF(j) cvt.rn.bf16x2.f32 %h0, %d##j##_1, %d##j##_0; UNBF16(%h0, %d##j##_0, %d##j##_1) \
    cvt.rn.bf16x2.f32 %h0, %d##j##_3, %d##j##_2; UNBF16(%h0, %d##j##_2, %d##j##_3)
#define RSS(j) fma.rn.f32 %e4, %d##j##_0, %d##j##_0, %e4; fma.rn.f32 %e4, %d##j##_1, %d##j##_1, %e4; \
    fma.rn.f32 %e5, %d##j##_2, %d##j##_2, %e5; fma.rn.f32 %e5, %d##j##_3, %d##j##_3, %e5;
#define ROPE_RSTD(r) mul.rn.f32 r, r, 0f3C000000; add.rn.f32 r, r, %reps; sqrt.rn.f32 r, r; rcp.rn.f32 r, r;
// pair j (groups j, jh = j + 8), in two halves of four pairs (so that the epilogue needs no registers beyond the
// scratch accumulator, dead there): cos / sin of angles 8j + colin (+1) of row0 into x_a, of row0 + 8 into x_b (one
// 16-byte load each: c, s, c', s'), the norm weights of columns 8j + colin (+1) and 64 + 8j + colin (+1) into x_w
#define RLD(j, jh, a, b, w) ld.global.nc.v4.f32 {%x##a##_0, %x##a##_1, %x##a##_2, %x##a##_3}, [%c0 + 64 * j]; \
    ld.global.nc.v4.f32 {%x##b##_0, %x##b##_1, %x##b##_2, %x##b##_3}, [%c1 + 64 * j]; \
    ld.global.nc.v2.f32 {%x##w##_0, %x##w##_1}, [%gw + 32 * j]; \
    ld.global.nc.v2.f32 {%x##w##_2, %x##w##_3}, [%gw + 256 + 32 * j];
// one pair (a, b) = elements (i, i + 64) of a row: y = x rstd w, then (ya c - yb s, yb c + ya s), as rope.ptx
#define ROT1(a, b, R, WA, WB, C, S) mul.rn.f32 %e0, a, R; mul.rn.f32 %e0, %e0, WA; mul.rn.f32 %e1, b, R; \
    mul.rn.f32 %e1, %e1, WB; mul.rn.f32 %e2, %e1, S; neg.f32 %e2, %e2; fma.rn.f32 a, %e0, C, %e2; \
    mul.rn.f32 %e2, %e0, S; fma.rn.f32 b, %e1, C, %e2;
#define ROTJ(j, jh, a, b, w) \
    ROT1(%d##j##_0, %d##jh##_0, %rs0, %x##w##_0, %x##w##_2, %x##a##_0, %x##a##_1) \
    ROT1(%d##j##_1, %d##jh##_1, %rs0, %x##w##_1, %x##w##_3, %x##a##_2, %x##a##_3) \
    ROT1(%d##j##_2, %d##jh##_2, %rs1, %x##w##_0, %x##w##_2, %x##b##_0, %x##b##_1) \
    ROT1(%d##j##_3, %d##jh##_3, %rs1, %x##w##_1, %x##w##_3, %x##b##_2, %x##b##_3)
#define FOR_RH0(X) X(0, 8, 0, 4, 8) X(1, 9, 1, 5, 9) X(2, 10, 2, 6, 10) X(3, 11, 3, 7, 11)
#define FOR_RH1(X) X(4, 12, 0, 4, 8) X(5, 13, 1, 5, 9) X(6, 14, 2, 6, 10) X(7, 15, 3, 7, 11)
#define RAMAX(j) abs.f32 %e0, %d##j##_0; max.f32 %e6, %e6, %e0; abs.f32 %e0, %d##j##_1; max.f32 %e6, %e6, %e0; \
    abs.f32 %e0, %d##j##_2; max.f32 %e7, %e7, %e0; abs.f32 %e0, %d##j##_3; max.f32 %e7, %e7, %e0;
#define STG_QR(j) STG_Q(j, %ni0, %ni1)
// copy-out of the staged e4m3 rows, 8 lanes a 128-byte row (%crow = lane / 8, %cpb its piece), instruction i: row
// %srow = %crow + 4 i of the warp's 16, to the pool row of its (token, kv head): index %ri0 / %ri1 of the lane whose
// accumulator row it is (lane 4 (srow % 8): row0 below 8, row0 + 8 above), %gp = the pool + %cpb
#define RCO(i) add.u32 %srow, %crow, 4 * (i); and.b32 %t1, %srow, 7; shl.b32 %kc, %t1, 2; \
    shfl.sync.idx.b32 %rsa, %ri0, %kc, 31, -1; shfl.sync.idx.b32 %rsx, %ri1, %kc, 31, -1; \
    setp.ge.u32 %p, %srow, 8; @%p mov.b32 %rsa, %rsx; \
    shl.b32 %t1, %t1, 4; xor.b32 %t1, %t1, %cpb; mad.lo.u32 %t1, %srow, 256, %t1; add.u32 %t1, %t1, %stg; \
    setp.lt.s32 %p, %srow, %rlim; mul.wide.u32 %gq, %rsa, 128; add.s64 %gq, %gq, %gp; \
    ld.shared.v4.b32 {%h0, %h1, %kc, %t2}, [%t1]; @%p st.global.v4.b32 [%gq], {%h0, %h1, %kc, %t2};
// the cache rows (rope_table's kvrow, at byte 72 of the operands) of rows r0c, r1c into %ri0, %ri1
#define ROPE_KVROW ld.global.nc.u64 %gq, [%rpt + 72]; mul.wide.u32 %gp, %r0c, 4; add.s64 %gp, %gp, %gq; \
    ld.global.nc.u32 %ri0, [%gp]; mul.wide.u32 %gp, %r1c, 4; add.s64 %gp, %gp, %gq; ld.global.nc.u32 %ri1, [%gp];
// the lines of the thread's two table rows (64 x 8 bytes from colin: up to five 128-byte lines each) into L1
#define ROPE_PREFETCH prefetch.global.L1 [%c0]; prefetch.global.L1 [%c0 + 128]; prefetch.global.L1 [%c0 + 256]; \
    prefetch.global.L1 [%c0 + 384]; prefetch.global.L1 [%c0 + 448]; prefetch.global.L1 [%c1]; \
    prefetch.global.L1 [%c1 + 128]; prefetch.global.L1 [%c1 + 256]; prefetch.global.L1 [%c1 + 384]; \
    prefetch.global.L1 [%c1 + 448];
#if NJ == 8
#define FOR_CHUNK_F32(X) X(0, G8_0)
#define FOR_CHUNK_BF16(X) X(0, G8_0, 3)
#define SWI_L 2
#elif NJ == 16
#define FOR_CHUNK_F32(X) X(0, G8_0) X(1, G8_1)
#define FOR_CHUNK_BF16(X) X(0, G16_0, 4)
#define SWI_L 3
#define SWQ_L 2
#elif NJ == 24  // 128x192: three f32 chunks of 64 columns; bf16 one of 128 and one of 64; no SwiGLU (96 outputs a row)
#define FOR_CHUNK_F32(X) X(0, G8_0) X(1, G8_1) X(2, G8_2)
#define FOR_CHUNK_BF16(X) X(0, G16_0, 4) X(1, G8_2, 3)
#else
#define FOR_CHUNK_F32(X) X(0, G8_0) X(1, G8_1) X(2, G8_2) X(3, G8_3)
#define FOR_CHUNK_BF16(X) X(0, G16_0, 4) X(1, G16_1, 4)
#define SWI_L 4
#define SWQ_L 3
#endif

.visible .entry NAME(
    .param .align 64 .b8 p_tmA[128],
    .param .align 64 .b8 p_tmW[128],
    .param .u64 p_C,
    .param .u64 p_Cs,
#if FP8
    .param .u64 p_sa,
    .param .u64 p_sw,
#endif
    .param .u32 p_M,
    .param .u32 p_N,
    .param .u32 p_K,
    .param .u32 p_mode,
    .param .u64 p_ws,
    .param .u64 p_cnt,
    .param .u32 p_splits,
#if FP8
    .param .u32 p_ktps,
    .param .u64 p_nw,
    .param .u64 p_ss,
    .param .f32 p_eps,
    .param .u64 p_rope)
#else
    .param .u32 p_ktps)
#endif
    .maxnreg 168
{
    .reg .pred %p, %pacc, %ptrue, %pr0, %pr1, %pc, %q0, %q1, %plane0, %pearly;
    .reg .b32 %npre;
    .reg .b32 %tx, %wg, %wc, %lane, %M, %N, %K, %mode, %nk, %num_m, %num_n, %tiles, %tile, %step, %kt;
    .reg .b32 %s, %ph, %mt, %nt, %m0, %n0, %kc, %t1, %t2, %width, %group, %first, %gsize, %within;
    .reg .b32 %sbase, %bar, %full, %empty, %sa, %sw, %rowin, %colin, %row0, %ncol, %h0, %h1, %ps;
    .reg .b64 %tmA, %tmW, %pC, %da, %dw, %c0, %c1, %off, %ld;
    .reg .b32 %S, %Se, %F, %ktps, %u, %units, %split, %kt0, %kt1, %flag;
    .reg .pred %pf;
#if CM == 1
    .reg .pred %pown;
    .reg .b32 %ko, %ki, %nown, %kq, %ka;
#endif
    .reg .b64 %pws, %pcnt, %slab;
    .reg .b32 %u0;
    UT_DECL
#if CM > 1
    .reg .b32 %crank, %cpeer, %rem;
    .reg .b16 %cmask;
#endif
#if SWQ_TILE
    .reg .f32 %qs0, %qs1, %qi0, %qi1;
    .reg .b16 %qh;
    .reg .b64 %pCs;
#endif
    .reg .f32 %e<16>;
    .reg .b32 %stg, %sr, %sx, %skey, %srow, %crow, %cpb, %rbase, %rlim, %cw, %ldb;
    .reg .b64 %gp, %gq, %pmx;
    .reg .pred %pcol, %pmq;
#if !FP8
    CO_I4(CO_DECL)
#endif
    FOR_J(DECLJ)
    .reg .b64 %dA1, %dA2, %dA3, %dW1, %dW2, %dW3;
#if FP8
    FOR_JX(XDECLJ)
#if FP8H
    .reg .b64 %aw2;
    .reg .f32 %swx2, %sa0y, %sa1y, %swy, %swy2;
#else
    FOR_J(YDECLJ)
    .reg .f32 %sa0y, %sa1y, %swy;
#endif
    .reg .b32 %kb, %r0c, %r1c, %Mm1, %kg;
    .reg .b64 %psa, %psw, %a0, %a1, %aw;
    .reg .f32 %sa0x, %sa1x, %swx, %fa0, %fa1;
    ld.param.u64 %psa, [p_sa];
    ld.param.u64 %psw, [p_sw];
    // the producer-side RMSNorm: mode 7's weights and outputs, the consumer's row sums (p_ss, 0: none)
    .reg .b64 %pnw, %gw, %pss, %nsa, %nss;
    .reg .f32 %eps, %rs0, %rs1, %ns<4>, %ni<4>;
    .reg .b32 %rsa, %rsx, %rsq;
    .reg .b16 %nqh;
    .reg .pred %prs;
    .reg .f32 %nw0_<4>, %nw1_<4>, %nw2_<4>, %nw3_<4>, %nw4_<4>, %nw5_<4>, %nw6_<4>, %nw7_<4>;
#if ROPE_TILE
    .reg .b32 %rnh, %rnk, %rh, %rkh, %ri0, %ri1;
    .reg .f32 %reps;
    .reg .pred %rpq, %rpv;
    .reg .b64 %rpt;
#endif
#endif

    ld.param.u64 %pC, [p_C];
    ld.param.u32 %M, [p_M];
    ld.param.u32 %N, [p_N];
    ld.param.u32 %K, [p_K];
    ld.param.u32 %mode, [p_mode];
    and.b32 %t1, %mode, 256;                   // bit 8: the first weight slices before the wait (below)
    setp.ne.u32 %pearly, %t1, 0;
    and.b32 %mode, %mode, 255;
    ld.param.u64 %pws, [p_ws];
    ld.param.u64 %pcnt, [p_cnt];
    ld.param.u32 %S, [p_splits];
    shr.u32 %F, %S, 16;                        // the tiles run whole before the split ones
    and.b32 %S, %S, 255;
    ld.param.u32 %ktps, [p_ktps];
    mov.b64 %tmA, p_tmA;
    cvta.param.u64 %tmA, %tmA;
    mov.b64 %tmW, p_tmW;
    cvta.param.u64 %tmW, %tmW;
    mov.u32 %tx, %tid.x;
    shr.u32 %wg, %tx, 7;
    and.b32 %lane, %tx, 31;
    mov.u32 %step, %nctaid.x;
    mov.u32 %u0, %ctaid.x;
#if CM > 1
    mov.u32 %crank, %cluster_ctarank;
    xor.b32 %cpeer, %crank, 1;
    mov.u16 %cmask, 3;
    shr.u32 %step, %step, 1;                   // units are handed out per cluster
    shr.u32 %u0, %u0, 1;
#endif
    mov.u32 %sbase, wg_smem;
    add.u32 %bar, %sbase, BAR_OFF;
    shr.u32 %nk, %K, KSHIFT;
    add.u32 %t1, %M, BM - 1;
    div.u32 %num_m, %t1, BM;
#if CM > 1
    add.u32 %num_m, %num_m, 1;                 // from here on: pairs of row-tiles
    shr.u32 %num_m, %num_m, 1;
#endif
    add.u32 %t1, %N, BN - 1;
    div.u32 %num_n, %t1, BN;
    mul.lo.u32 %tiles, %num_m, %num_n;
    mul.lo.u32 %width, %num_n, GROUP_M;
    sub.u32 %units, %tiles, %F;
    mad.lo.u32 %units, %units, %S, %F;
    add.u32 %flag, %bar, 16 * STAGES;          // smem word: "this CTA finished the tile" (split-K)
    setp.eq.u32 %ptrue, %tx, %tx;

    setp.ne.u32 %p, %tx, 0;
    @%p bra PDL_OTHERS;
    FOR_S(INIT_BAR)
    fence.mbarrier_init.release.cluster;
    fence.proxy.async.shared::cta;
    prefetch.tensormap [%tmA];
    prefetch.tensormap [%tmW];
    // Early weights (p_mode bit 8; no multicast pairs: their peer's barriers are not known ready yet): nothing above
    // reads what an earlier kernel writes, and the weights are immutable, so thread 0 arms the first unit's first
    // min(STAGES, slices) stages (the whole stage's bytes expected) and requests their W slices before waiting for
    // the previous kernel (programmatic dependent launch: this CTA may be resident while that one still runs); the
    // producer below then issues only their A slices. The SW tiles do the same (gemm_sw_body.h).
    mov.u32 %npre, 0;
#if CM > 1
    bra EARLY_DONE;
#endif
    @!%pearly bra EARLY_DONE;
    mov.u32 %u, %u0;
    setp.ge.u32 %p, %u, %units;
    @%p bra EARLY_DONE;
    UNIT_COORDS
    sub.u32 %npre, %kt1, %kt0;
    min.u32 %npre, %npre, STAGES;
    mov.u32 %s, 0;
EARLY_W:
    mad.lo.u32 %full, %s, 8, %bar;
    mbarrier.arrive.expect_tx.shared::cta.b64 _, [%full], STAGE_BYTES;
    mad.lo.u32 %sw, %s, STAGE_BYTES, %sbase;
    add.u32 %sw, %sw, A_BYTES;
    add.u32 %kc, %kt0, %s;
    shl.b32 %kc, %kc, KSHIFT;
    cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%sw], [%tmW, {%kc, %n0}], [%full];
    add.u32 %s, %s, 1;
    setp.lt.u32 %p, %s, %npre;
    @%p bra EARLY_W;
EARLY_DONE:
PDL_OTHERS:
    PDL_START
    // ------------------------------------------------------------------ producer (warpgroup 0, thread 0)
#if CM > 1
    WG_SPLIT_ROLES_AFTER(barrier.cluster.arrive.aligned; barrier.cluster.wait.aligned;)
#else
    WG_SPLIT_ROLES
#endif
    mov.u32 %s, 0;
    mov.u32 %ph, 0;
    mov.u32 %u, %u0;
P_TILE:
    setp.ge.u32 %p, %u, %units;
    @%p bra P_END;
    UNIT_COORDS
    UT_REC(0)
    UT_T(24)
    mov.u32 %kt, %kt0;
P_K:
    setp.ne.u32 %p, %npre, 0;
    @%p bra P_AONLY;
    WAIT_EMPTY(P_WAIT)
    mad.lo.u32 %full, %s, 8, %bar;
    mbarrier.arrive.expect_tx.shared::cta.b64 _, [%full], STAGE_BYTES;
    mad.lo.u32 %sa, %s, STAGE_BYTES, %sbase;
    add.u32 %sw, %sa, A_BYTES;
    shl.b32 %kc, %kt, KSHIFT;
    cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%sa], [%tmA, {%kc, %m0}], [%full];
#if CM > 1
    mad.lo.u32 %sw, %crank, BN / 2 * 128, %sw; // this CTA's half of the W rows, into both CTAs
    mad.lo.u32 %t2, %crank, BN / 2, %n0;
    cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%sw], [%tmW, {%kc, %t2}], [%full], %cmask;
#else
    cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%sw], [%tmW, {%kc, %n0}], [%full];
#endif
    bra P_KNEXT;
P_AONLY:                                       // an early stage (above): armed, its W requested; only A now
    sub.u32 %npre, %npre, 1;
    mad.lo.u32 %full, %s, 8, %bar;
    mad.lo.u32 %sa, %s, STAGE_BYTES, %sbase;
    shl.b32 %kc, %kt, KSHIFT;
    cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%sa], [%tmA, {%kc, %m0}], [%full];
P_KNEXT:
    RING_NEXT
    add.u32 %kt, %kt, 1;
    setp.lt.u32 %p, %kt, %kt1;
    @%p bra P_K;
    UT_T(32)
    add.u32 %u, %u, %step;
    bra P_TILE;
P_END:
#if CM > 1
    // stay until every consumer of the cluster has released this CTA's whole ring (their last remote arrivals)
    mov.u32 %kt, 0;
P_TAIL:
    WAIT_EMPTY(P_TWAIT)
    RING_NEXT
    add.u32 %kt, %kt, 1;
    setp.lt.u32 %p, %kt, STAGES;
    @%p bra P_TAIL;
#endif
    bra EXIT;

    // ------------------------------------------------------------------ consumers (warpgroups 1..NCONS)
    WG_CONSUMER_ENTER
    // this thread's accumulator rows: 64 wc + 16 (warp % 4) + lane / 4 (+ 8); columns 2 (lane % 4) (+ 1) + 8 j
    shr.u32 %t1, %tx, 5;
    and.b32 %t1, %t1, 3;
    shl.b32 %t1, %t1, 4;
    shr.u32 %t2, %lane, 2;
    add.u32 %t1, %t1, %t2;
    mad.lo.u32 %rowin, %wc, ROW_WC, %t1;
    and.b32 %t2, %lane, 3;
    shl.b32 %colin, %t2, 1;
    mov.u32 %s, 0;
    mov.u32 %ph, 0;
    mov.u32 %u, %u0;
C_TILE:
    setp.ge.u32 %p, %u, %units;
    @%p bra EXIT;
    UNIT_COORDS
    UT_REC(128)
    UT_HEAD
    UT_T(40)
#if NSPLIT
    mad.lo.u32 %n0, %wc, WN, %n0;             // this consumer's columns
#endif
    add.u32 %row0, %m0, %rowin;
#if FP8
    FOR_J(ZEROJ)
    // scale rows (clamped to M - 1: rows past M are zeros and never stored) and the tile's weight scale block
    sub.u32 %Mm1, %M, 1;
    min.u32 %r0c, %row0, %Mm1;
    add.u32 %r1c, %row0, 8;
    min.u32 %r1c, %r1c, %Mm1;
    shr.u32 %kb, %K, 7;
    mul.wide.u32 %a0, %r0c, %kb;
    shl.b64 %a0, %a0, 2;
    add.s64 %a0, %psa, %a0;
    mul.wide.u32 %a1, %r1c, %kb;
    shl.b64 %a1, %a1, 2;
    add.s64 %a1, %psa, %a1;
    shr.u32 %t1, %n0, 7;
#if NSPLIT
    sub.u32 %t2, %N, 1;                        // consumer 1 of a last, half-empty tile: stay inside sw
    shr.u32 %t2, %t2, 7;
    min.u32 %t1, %t1, %t2;
#endif
    mul.wide.u32 %aw, %t1, %kb;
    shl.b64 %aw, %aw, 2;
    add.s64 %aw, %psw, %aw;
    mul.wide.u32 %off, %kt0, 4;                // this split's first slice
    add.s64 %a0, %a0, %off;
    add.s64 %a1, %a1, %off;
#if FP8H
    // the second half's weight block (n0 / 128 + 1; a last, half-empty tile: stay inside sw)
    add.u32 %t1, %t1, 1;
    sub.u32 %t2, %N, 1;
    shr.u32 %t2, %t2, 7;
    min.u32 %t1, %t1, %t2;
    mul.wide.u32 %aw2, %t1, %kb;
    shl.b64 %aw2, %aw2, 2;
    add.s64 %aw2, %psw, %aw2;
    add.s64 %aw2, %aw2, %off;
#endif
    add.s64 %aw, %aw, %off;
#ifndef FP8H_UNI  // (the uniform entries take neither the rows' sums nor mode 7: host/gpu_gemm.c)
    // a consumer of the producer-side RMSNorm: this thread's rows' sums into the staging (RS_*; the parameters read
    // where used: nothing of this stays live across the main loop)
    ld.param.u64 %pss, [p_ss];
    setp.ne.u64 %prs, %pss, 0;
    @!%prs bra RS_DONE;
    RS_ADDR
    shr.u32 %kc, %K, 7;                        // sums a row
    mul.wide.u32 %c0, %r0c, %kc;
    shl.b64 %c0, %c0, 2;
    add.s64 %c0, %c0, %pss;
    mul.wide.u32 %c1, %r1c, %kc;
    shl.b64 %c1, %c1, 2;
    add.s64 %c1, %c1, %pss;
    mul.wide.u32 %off, %t2, 16;                // this lane's first piece
    add.s64 %c0, %c0, %off;
    add.s64 %c1, %c1, %off;
    cp.async.wait_all;                         // (a split unit that skipped its epilogue left its copies unread)
    RS_CP(0) RS_CP(1) RS_CP(2) RS_CP(3)
    cp.async.commit_group;
RS_DONE:
#endif
#endif
    mov.u32 %kt, %kt0;
#if !FP8 || defined(FP8H_UNI)
    // bf16, and FP8 on uniform scales (the ..u entries, taken only where the host vouches for them and every slice of
    // the unit may be summed in the tensor cores: GemmNorm.uni; each slice one m64n256 wgmma chain, no scratch):
    // every slice straight into the final sums
#if FP8
    LOADSC(x)
    LOADSC2(x)
#endif
C_K:
    SLICE_BEGIN(C_WAIT)
    UT_FIRST
    setp.ne.u32 %pacc, %kt, %kt0;
#if FP8
    MMA4W(ACC)
#else
    MMA4(ACC)
#endif
    // release the previous slice's stage once its wgmmas are done (this slice's may still run)
    setp.eq.u32 %p, %kt, %kt0;
    @%p bra C_NEXT;
    wgmma.wait_group.sync.aligned 1;
    RELEASE
C_NEXT:
    ADVANCE
    setp.lt.u32 %p, %kt, %kt1;
    @%p bra C_K;
    wgmma.wait_group.sync.aligned 0;
    RELEASE
#if FP8
    // the two weight blocks' scale products, once
    mul.f32 %fa0, %sa0x, %swx;
    mul.f32 %fa1, %sa1x, %swx;
    FOR_JX(USCALEJ)
    mul.f32 %fa0, %sa0x, %swx2;
    mul.f32 %fa1, %sa1x, %swx2;
    FOR_HI16(USCALEH)
#endif
#elif FP8H
    // Halves: W rows 0..127 into the scratch, promote with their block scale; rows 128..255 into it, release the
    // stage, promote. The other consumer's wgmmas keep the tensor cores busy while this one promotes.
    // The scales come one slice ahead (Nsight Compute: loaded at the top of their own slice, the promotion's first
    // FMUL waited on them in 5% of the consumers' stall samples).
    setp.ne.u32 %pacc, %tx, %tx;               // false: every half starts a fresh partial sum
    LOADSC(y)
    LOADSC2(y)
C_K:
    mov.f32 %sa0x, %sa0y;
    mov.f32 %sa1x, %sa1y;
    mov.f32 %swx, %swy;
    mov.f32 %swx2, %swy2;
    add.u32 %t1, %kt, 1;
    setp.lt.u32 %p, %t1, %kt1;                 // the next slice's, if any (the last row's would read past sa)
    LOADSC_IF(y)
    SLICE_BEGIN(C_WAITX)
    UT_FIRST
    MMA4(XACC)
    wgmma.wait_group.sync.aligned 0;
    PROMOTE_LO
    W_HALF2
    MMA4(XACC)
    wgmma.wait_group.sync.aligned 0;
    ADVANCE
    RELEASE
    PROMOTE_HI
    setp.lt.u32 %p, %kt, %kt1;
    @%p bra C_K;
#else
    // Two scratch accumulators, X for even slices and Y for odd ones: slice i+1's wgmmas are issued before slice
    // i is promoted (wait_group 1), so the tensor cores work while the promotion FMAs run.
    setp.ne.u32 %pacc, %tx, %tx;               // false: every slice starts a fresh partial sum
    ld.param.u32 %t1, [p_mode];                // bit 9: uniform scales, G = bits 16..23 (U_START below)
    and.b32 %t1, %t1, 512;
    setp.ne.u32 %p, %t1, 0;
    @%p bra U_START;
C_K:
    LOADSC(x)
    SLICE_BEGIN(C_WAITX)
    UT_FIRST
    MMA4(XACC)
    setp.eq.u32 %p, %kt, %kt0;
    @%p bra C_NX;
    wgmma.wait_group.sync.aligned 1;           // slice kt - 1 (in Y) is done
    RELEASE
    PROMOTE(y)
C_NX:
    ADVANCE
    setp.ge.u32 %p, %kt, %kt1;
    @%p bra C_LASTX;
    LOADSC(y)
    SLICE_BEGIN(C_WAITY)
    MMA4(YACC)
    wgmma.wait_group.sync.aligned 1;           // slice kt - 1 (in X) is done
    RELEASE
    PROMOTE(x)
    ADVANCE
    setp.lt.u32 %p, %kt, %kt1;
    @%p bra C_K;
    wgmma.wait_group.sync.aligned 0;
    RELEASE
    PROMOTE(y)
    bra C_EPI;
C_LASTX:
    wgmma.wait_group.sync.aligned 0;
    RELEASE
    PROMOTE(x)
    bra C_EPI;
    // Uniform scales (mode bit 9: the host vouches that each row's activation scales, and the weight scales of this
    // tile's 128 rows, are one value along all of K). Then no slice needs its own factor: the scratch X sums G
    // slices (mode bits 16..23) in the tensor cores, one FADD a register adds it to the final sums, and the scale
    // product multiplies once after the loop. The stages are released one slice late as above; a group's end
    // waits for its wgmmas (the other consumer's keep the tensor cores busy).
U_START:
    FOR_J(XZEROJ)                              // (X is never read before written; this tells ptxas so)
    LOADSC(x)
    mov.u32 %kg, 0;
U_K:
    SLICE_BEGIN(U_WAIT)
    UT_FIRST
    setp.ne.u32 %pacc, %kg, 0;
    MMA4(XACC)
    setp.eq.u32 %p, %kt, %kt0;
    @%p bra U_NR;
    wgmma.wait_group.sync.aligned 1;
    RELEASE
U_NR:
    ADVANCE
    add.u32 %kg, %kg, 1;
    ld.param.u32 %t1, [p_mode];
    shr.u32 %t1, %t1, 16;
    setp.lt.u32 %p, %kg, %t1;
    setp.lt.and.u32 %p, %kt, %kt1, %p;
    @%p bra U_K;
    wgmma.wait_group.sync.aligned 0;
    FOR_J(FOLDJ)
    mov.u32 %kg, 0;
    setp.lt.u32 %p, %kt, %kt1;
    @%p bra U_K;
    RELEASE
    mul.f32 %fa0, %sa0x, %swx;
    mul.f32 %fa1, %sa1x, %swx;
    FOR_J(USCALEJ)
C_EPI:
#endif

    // --- epilogue: straight from the accumulators to global memory
    UT_T(56)
    UT_T(64)
    setp.lt.u32 %pr0, %row0, %M;
    add.u32 %t1, %row0, 8;
    setp.lt.u32 %pr1, %t1, %M;
    sub.u32 %ncol, %N, %n0;
    sub.u32 %ncol, %ncol, %colin;
    add.u32 %t1, %n0, %colin;
    mul.wide.u32 %off, %row0, %N;
    cvt.u64.u32 %ld, %t1;
    add.s64 %off, %off, %ld;                  // element offset of (row0, n0 + colin)
    mul.wide.u32 %ld, %N, 8;                  // 8 rows down, in elements
    setp.lt.u32 %p, %Se, 2;
    @%p bra EPI_MODE;
#if CM == 1
    ld.param.u32 %t1, [p_splits];
    and.b32 %t1, %t1, 0x8000;                  // the cluster split
    setp.ne.u32 %p, %t1, 0;
    @%p bra KC_SUM;
#endif
    // --- split-K: the partial sums go to slab ws[split] ([M][N] f32); the tile's last unit to finish (a counter
    // per tile, reset by that unit for the next launch) sums slabs 0..S-1 in that order — the same additions in
    // the same order whichever unit is last, so the result does not depend on timing.
    mul.wide.u32 %slab, %M, %N;
    shl.b64 %slab, %slab, 2;
    cvt.u64.u32 %c0, %split;
    mul.lo.u64 %c0, %c0, %slab;
    add.s64 %c0, %c0, %pws;
    shl.b64 %c1, %off, 2;
    add.s64 %c0, %c0, %c1;
    shl.b64 %c1, %ld, 2;
    add.s64 %c1, %c0, %c1;
    FOR_J(EPI_F32)
    bar.sync 1, 128 * NCONS;
    setp.eq.u32 %p, %tx, 128;
    @!%p bra SK_WAIT;
    mul.wide.u32 %c0, %tile, 4;
    add.s64 %c0, %c0, %pcnt;
    atom.acq_rel.gpu.global.add.u32 %t1, [%c0], 1;
    sub.u32 %t2, %S, 1;
    setp.eq.u32 %p, %t1, %t2;
    selp.u32 %t2, 1, 0, %p;
    @%p st.global.u32 [%c0], 0;
    st.shared.u32 [%flag], %t2;
SK_WAIT:
    bar.sync 1, 128 * NCONS;
    ld.shared.u32 %t1, [%flag];
    UT_T(64)
    setp.eq.u32 %p, %t1, 0;
    @%p bra EPI_DONE;
    FOR_J(ZEROJ)
    shl.b64 %c0, %off, 2;
    add.s64 %c0, %c0, %pws;
    shl.b64 %c1, %ld, 2;
    add.s64 %c1, %c0, %c1;
    mov.u32 %t2, 0;
SK_SUM:
    SUM_SLAB
    add.s64 %c0, %c0, %slab;
    add.s64 %c1, %c1, %slab;
    add.u32 %t2, %t2, 1;
    setp.lt.u32 %p, %t2, %S;
    @%p bra SK_SUM;
#if CM == 1
    bra.uni EPI_MODE;
    // --- cluster split (header): warp w's rows belong to rank w % S; its region in the owner's ring is
    // ((consumer * ceil(4 / S) + w / S) * S + sender) * KC_REGION
KC_SUM:
    barrier.cluster.arrive.release.aligned;    // every consumer of the cluster is past its main loop
    barrier.cluster.wait.acquire.aligned;
    shr.u32 %t1, %tx, 5;
    and.b32 %t1, %t1, 3;                       // warp in the consumer
    setp.ge.u32 %p, %t1, %S;                   // (w < 4 <= 2S: w / S is 0 or 1)
    selp.u32 %ki, 1, 0, %p;
    selp.u32 %ko, %S, 0, %p;
    sub.u32 %ko, %t1, %ko;                     // w % S
    setp.lt.u32 %p, %S, 4;
    selp.u32 %nown, 2, 1, %p;                  // ceil(4 / S)
    setp.eq.u32 %pown, %ko, %split;
    mad.lo.u32 %t1, %wc, %nown, %ki;
    mul.lo.u32 %t1, %t1, %S;                   // region of sender 0
    shl.b32 %t2, %lane, 4;
    mad.lo.u32 %t2, %t1, KC_REGION, %t2;
    add.u32 %t2, %t2, %sbase;                  // + this lane's 16 B
    @%pown bra KC_SENT;
    mad.lo.u32 %ka, %split, KC_REGION, %t2;
    mapa.shared::cluster.u32 %ka, %ka, %ko;
    FOR_J(KC_ST)
KC_SENT:
    barrier.cluster.arrive.release.aligned;    // the partial sums have landed
    barrier.cluster.wait.acquire.aligned;
    @!%pown cp.async.wait_all;                 // (no copy into the staging still in flight at the exit)
    @!%pown bra EXIT;                          // (one unit a CTA: nothing follows)
    mov.u32 %kq, 0;
KC_ADDQ:
    setp.eq.u32 %p, %kq, %split;
    @%p bra KC_NEXTQ;
    mad.lo.u32 %ka, %kq, KC_REGION, %t2;
    KC_ADD_REGION
KC_NEXTQ:
    add.u32 %kq, %kq, 1;
    setp.lt.u32 %p, %kq, %S;
    @%p bra KC_ADDQ;
#endif
EPI_MODE:
    UT_T(72)
#if FP8 && !defined(FP8H_UNI)
    ld.param.u64 %pss, [p_ss];                 // a consumer of the producer-side RMSNorm: rows times rstd
    setp.ne.u64 %prs, %pss, 0;
    @!%prs bra RS_SCALED;
    RS_ADDR
    cp.async.wait_all;
    mov.f32 %rs0, 0f00000000;
    mov.f32 %rs1, 0f00000000;
    RS_SUM(0) RS_SUM(1) RS_SUM(2) RS_SUM(3)
    bar.warp.sync -1;                          // (every lane's sums read before the staging is written)
    cvt.rn.f32.u32 %e9, %K;
    ld.param.f32 %eps, [p_eps];
    RS_FIN(%rs0)
    RS_FIN(%rs1)
    FOR_J(RSJ)
RS_SCALED:
#endif
    // the staged epilogue: this warp's 4 KB (after the amax exchange), row r0 = lane / 4's staging row and its
    // swizzle; the warp's first row and the rows left in M (signed: may be <= 0)
    shr.u32 %t1, %tx, 5;
    sub.u32 %t1, %t1, 4;                       // consumer warp 0 .. 4 NCONS - 1
    add.u32 %stg, %bar, 16 * STAGES + 16 + 1024;
    mad.lo.u32 %stg, %t1, 4096, %stg;
    shr.u32 %t1, %lane, 2;
    mad.lo.u32 %sr, %t1, 256, %stg;
    shl.b32 %sx, %t1, 4;
    sub.u32 %rbase, %row0, %t1;
    sub.s32 %rlim, %M, %rbase;
    mov.u32 %cw, %N;
#if FP8
    setp.eq.u32 %p, %mode, 6;
    @%p bra EPI_MAX_;
#ifndef FP8H_UNI
    setp.eq.u32 %p, %mode, 7;
    @%p bra EPI_NQ_;
#endif
#if ROPE_TILE
    setp.eq.u32 %p, %mode, 8;
    @%p bra EPI_ROPE_;
#endif
#endif
    setp.eq.u32 %p, %mode, 1;
    @%p bra EPI_BF16_;
    setp.ge.u32 %p, %mode, 4;
    @%p bra EPI_SWI_;
EPI_F32_:
    shl.b32 %skey, %colin, 2;                  // 8 q
    xor.b32 %skey, %skey, %sx;
    setp.eq.u32 %p, %mode, 2;
    @%p bra EPI_ADD_;
    FOR_CHUNK_F32(CHUNK_F32)
    bra EPI_DONE;
EPI_ADD_:
    FOR_CHUNK_F32(CHUNK_ADD)
    bra EPI_DONE;
#if FP8
    // --- mode 6 (FP8 tiles; the head): the row maxima of each 64 columns into Cs (PMAX_BLOCK), then mode 0's store
EPI_MAX_:
    ld.param.u64 %pmx, [p_Cs];
    add.u32 %t2, %N, 63;
    shr.u32 %t2, %t2, 6;                       // maxima a row
    shr.u32 %t1, %n0, 6;
    mad.lo.u32 %t1, %row0, %t2, %t1;
    mul.wide.u32 %c0, %t1, 4;
    add.s64 %c0, %pmx, %c0;                    // &Cs[row0][n0 / 64]
    mul.wide.u32 %c1, %t2, 32;
    add.s64 %c1, %c0, %c1;                     // 8 rows down
    setp.eq.u32 %pmq, %colin, 0;
    FOR_CHUNK_F32(PMAX_BLOCK)
    bra EPI_F32_;
#ifndef FP8H_UNI
    // --- mode 7 (FP8 tiles): mode 2's add, then the next RMSNorm's e4m3 input from the new rows (NQ_* above): Cs
    // e4m3 [M][N], its scales [M][N / 128] and the rows' sums of x^2 [M][N / 128] after it (each at a 256-byte
    // boundary), p_nw the norm's weights f32 [N]. N % 256 == 0 (the host checks): every block inside N.
EPI_NQ_:
    ld.param.u64 %pnw, [p_nw];
    add.u32 %t1, %n0, %colin;
    mul.wide.u32 %gw, %t1, 4;
    add.s64 %gw, %gw, %pnw;                    // &w[n0 + colin]: its loads fly while the add runs
    NQ_H0(NQ_WL)
#if WN != 64
    NQ_H1(NQ_WL)
#endif
    shl.b32 %skey, %colin, 2;
    xor.b32 %skey, %skey, %sx;
    FOR_CHUNK_F32(CHUNK_ADDN)
    ld.param.u64 %gq, [p_Cs];
    mul.wide.u32 %nsa, %M, %N;
    add.s64 %nsa, %nsa, 255;
    and.b64 %nsa, %nsa, 0xFFFFFFFFFFFFFF00;
    shr.u32 %t2, %N, 7;
    mul.wide.u32 %nss, %M, %t2;
    shl.b64 %nss, %nss, 2;
    add.s64 %nss, %nss, 255;
    and.b64 %nss, %nss, 0xFFFFFFFFFFFFFF00;
    add.s64 %nsa, %nsa, %gq;                   // the scales
    add.s64 %nss, %nss, %nsa;                  // the sums
    shr.u32 %t2, %N, 7;                        // sums (and scales) a row
    shr.u32 %t1, %n0, 7;
    mad.lo.u32 %t1, %row0, %t2, %t1;
    mul.wide.u32 %c0, %t1, 4;
    add.s64 %c0, %c0, %nss;                    // &sums[row0][n0 / 128]
    mul.wide.u32 %c1, %t2, 32;
    add.s64 %c1, %c1, %c0;                     // 8 rows down
    setp.eq.u32 %p, %colin, 0;                 // lane % 4 == 0 stores its rows' sums and scales
    and.pred %q0, %p, %pr0;
    and.pred %q1, %p, %pr1;
    mov.f32 %e4, 0f00000000;
    mov.f32 %e5, 0f00000000;
    mov.f32 %e6, 0f00000000;
    mov.f32 %e7, 0f00000000;
    NQ_H0(NQ_G)
#if WN != 64
    NQ_H1(NQ_G)
#endif
    NQ_SSUM
    QUAD_MAX(%e6, %e8)
    QUAD_MAX(%e7, %e8)
#if WN == 64
    // the block's other 64 columns are the other consumer's: the two warps holding these rows swap their amaxes and
    // sums through smem ([2][64] f32 each after the split-K word) between two barriers of their own (2 + warp % 4,
    // 64 threads: under the cluster split only the rows' owner warps get here); consumer 0 stores the block's
    XC_MINE
    st.shared.f32 [%kc], %e6;
    st.shared.f32 [%kc + 32], %e7;
    st.shared.f32 [%kc + 512], %e4;
    st.shared.f32 [%kc + 544], %e5;
    shr.u32 %srow, %tx, 5;
    and.b32 %srow, %srow, 3;
    add.u32 %srow, %srow, 2;
    bar.sync %srow, 64;
    XC_OTHER
    ld.shared.f32 %e8, [%kc];
    max.f32 %e6, %e6, %e8;
    ld.shared.f32 %e8, [%kc + 32];
    max.f32 %e7, %e7, %e8;
    ld.shared.f32 %e8, [%kc + 512];
    add.f32 %e4, %e4, %e8;                     // (consumer 0's: its half first)
    ld.shared.f32 %e8, [%kc + 544];
    add.f32 %e5, %e5, %e8;
    bar.sync %srow, 64;
    setp.eq.u32 %p, %wc, 0;                    // (the block's scale and sums: consumer 0's, both hold them)
    and.pred %q0, %q0, %p;
    and.pred %q1, %q1, %p;
#endif
    NQ_SS(0)
    SWQ_SCALE(%e6, %ns0, %ni0)
    SWQ_SCALE(%e7, %ns1, %ni1)
#if FP8H
    // the second block (columns n0 + 128 ..): its weights into the same registers
    NQ_H2(NQ_WL)
    NQ_H3(NQ_WL)
    mov.f32 %e4, 0f00000000;
    mov.f32 %e5, 0f00000000;
    mov.f32 %e6, 0f00000000;
    mov.f32 %e7, 0f00000000;
    NQ_H2(NQ_G)
    NQ_H3(NQ_G)
    NQ_SSUM
    NQ_SS(1)
    QUAD_MAX(%e6, %e8)
    QUAD_MAX(%e7, %e8)
    SWQ_SCALE(%e6, %ns2, %ni2)
    SWQ_SCALE(%e7, %ns3, %ni3)
#endif
    // the e4m3 rows through the staging (WN bytes a row), copied out in 16-byte pieces
    xor.b32 %skey, %colin, %sx;
    NQ_H0(STG_QA)
#if WN != 64
    NQ_H1(STG_QA)
#endif
#if FP8H
    NQ_H2(STG_QB)
    NQ_H3(STG_QB)
#endif
    bar.warp.sync -1;
    ld.param.u64 %pC, [p_Cs];
    mov.u32 %t2, %n0;
    CHUNK_SETUP(0, NQ_L)
    CAT(CO_I, NQ_L)(CO_ST)
    bar.warp.sync -1;
    ld.param.u64 %pC, [p_C];
    shr.u32 %t2, %N, 7;                        // scales a row
    shr.u32 %t1, %n0, 7;
    mad.lo.u32 %t1, %row0, %t2, %t1;
    mul.wide.u32 %c0, %t1, 4;
    add.s64 %c0, %c0, %nsa;                    // &scales[row0][n0 / 128]
    mul.wide.u32 %c1, %t2, 32;
    add.s64 %c1, %c1, %c0;
    @%q0 st.global.f32 [%c0], %ns0;
    @%q1 st.global.f32 [%c1], %ns1;
#if FP8H
    @%q0 st.global.f32 [%c0 + 4], %ns2;
    @%q1 st.global.f32 [%c1 + 4], %ns3;
#endif
    bra EPI_DONE;
#endif
    // --- mode 8: q / k norm, RoPE and the FP8 KV-cache write of the qkv projection (ROPE_* above)
#if ROPE_TILE
EPI_ROPE_:
    ld.param.u64 %rpt, [p_rope];
    ld.global.nc.v4.b32 {%rnh, %rnk, %t2, %t1}, [%rpt];
    mov.b32 %reps, %t1;
    shr.u32 %rh, %n0, 7;                       // the head
    setp.lt.u32 %rpq, %rh, %rnh;
    add.u32 %t1, %rnh, %rnk;
    setp.ge.u32 %rpv, %rh, %t1;
    sub.u32 %rkh, %rh, %rnh;                   // k: kv head rh - n_head; v: rh - n_head - n_kv
    @%rpv sub.u32 %rkh, %rkh, %rnk;
    // the table rows of this thread's angles (rows r0c, r1c), asked into L1 now, loaded after the rows' rstd
    ld.global.nc.u64 %gq, [%rpt + 80];         // cs
    mad.lo.u32 %t1, %r0c, 64, %colin;
    mul.wide.u32 %c0, %t1, 8;
    add.s64 %c0, %c0, %gq;
    mad.lo.u32 %t1, %r1c, 64, %colin;
    mul.wide.u32 %c1, %t1, 8;
    add.s64 %c1, %c1, %gq;
    @!%rpv bra ROPE_PF;
    // v: the rows' cache rows (rope_table: (page n_kv) 64 + pos % 64 a token; + 64 kh at ROPE_KV), then straight to
    // the quantiser; q (ROPE_PF) and k (ROPE_PFK, its cache rows too) ask for their table rows first
    ROPE_KVROW
    FOR_J(RBF)                                 // as the bf16 qkv store holds them
    bra ROPE_KV;
ROPE_PF:
    @!%rpq bra ROPE_PFK;
    ROPE_PREFETCH
    FOR_J(RBF)
    bra ROPE_ANG;
ROPE_PFK:
    ROPE_KVROW
    ROPE_PREFETCH
    FOR_J(RBF)
ROPE_ANG:
    // q / k: the head's RMSNorm, then the table's cos / sin and the norm weights, and the rotation
    ld.global.nc.u64 %gw, [%rpt + 64];         // k_norm
    @%rpq ld.global.nc.u64 %gw, [%rpt + 56];   // q_norm
    mul.wide.u32 %gq, %colin, 4;
    add.s64 %gw, %gw, %gq;
    mov.f32 %e4, 0f00000000;
    mov.f32 %e5, 0f00000000;
    FOR_J(RSS)
    QUAD_SUM(%e4, %e8)
    QUAD_SUM(%e5, %e8)
    mov.f32 %rs0, %e4;
    mov.f32 %rs1, %e5;
    ROPE_RSTD(%rs0)                            // (before the table's loads: the IEEE slow paths need registers)
    ROPE_RSTD(%rs1)
    FOR_RH0(RLD)
    FOR_RH0(ROTJ)
    FOR_RH1(RLD)
    FOR_RH1(ROTJ)
    @!%rpq bra ROPE_K;
    ld.global.nc.u64 %pC, [%rpt + 16];         // q_out [T][n_head][128]: mode 1's store, rows of n_head 128
    shl.b32 %cw, %rnh, 7;
    bra EPI_BF16_;
ROPE_K:
    FOR_J(RBF)                                 // the bf16 row the bf16 cache would hold, then quantised
ROPE_KV:
    mad.lo.u32 %ri0, %rkh, 64, %ri0;           // the (token, kv head) rows of the pools
    mad.lo.u32 %ri1, %rkh, 64, %ri1;
    mov.f32 %e6, 0f00000000;
    mov.f32 %e7, 0f00000000;
    FOR_J(RAMAX)
    QUAD_MAX(%e6, %e8)
    QUAD_MAX(%e7, %e8)
    SWQ_SCALE(%e6, %ns0, %ni0)
    SWQ_SCALE(%e7, %ns1, %ni1)
    xor.b32 %skey, %colin, %sx;
    FOR_J(STG_QR)
    bar.warp.sync -1;
    ld.global.nc.u64 %gp, [%rpt + 24];         // k_pool
    @%rpv ld.global.nc.u64 %gp, [%rpt + 32];   // v_pool
    shr.u32 %crow, %lane, 3;
    and.b32 %cpb, %lane, 7;
    shl.b32 %cpb, %cpb, 4;
    cvt.u64.u32 %gq, %cpb;
    add.s64 %gp, %gp, %gq;
    RCO(0) RCO(1) RCO(2) RCO(3)
    bar.warp.sync -1;
    ld.global.nc.u64 %gq, [%rpt + 40];         // k_scale
    @%rpv ld.global.nc.u64 %gq, [%rpt + 48];   // v_scale
    setp.eq.u32 %p, %colin, 0;                 // lane % 4 == 0 stores its rows' scales
    and.pred %q0, %p, %pr0;
    and.pred %q1, %p, %pr1;
    mul.wide.u32 %c0, %ri0, 4;
    add.s64 %c0, %c0, %gq;
    mul.wide.u32 %c1, %ri1, 4;
    add.s64 %c1, %c1, %gq;
    @%q0 st.global.f32 [%c0], %ns0;
    @%q1 st.global.f32 [%c1], %ns1;
    bra EPI_DONE;
#endif
#endif
EPI_BF16_:
    shl.b32 %skey, %colin, 1;                  // 4 q
    xor.b32 %skey, %skey, %sx;
    FOR_CHUNK_BF16(CHUNK_BF16)
    bra EPI_DONE;
    // --- SwiGLU: outputs (row, n0/2 + ...) of a [M][N/2]
EPI_SWI_:
    shr.u32 %cw, %N, 1;
    shr.u32 %t2, %n0, 1;
#if SWQ_TILE
    setp.eq.u32 %p, %mode, 5;
    @%p bra EPI_SWQ_;
#endif
#if NJ == 24
    trap;                                      // no SwiGLU epilogue here (host/gpu_gemm.c never asks for one)
#else
    shl.b32 %skey, %colin, 1;
    xor.b32 %skey, %skey, %sx;
    CHUNK_SETUP(1, SWI_L)
    FOR_PAIR(STG_SWI)
    bar.warp.sync -1;
    CAT(CO_I, SWI_L)(CO_ST)
    bar.warp.sync -1;
#endif
#if SWQ_TILE
    bra EPI_DONE;
    // --- SwiGLU + FP8 quantisation: e4m3 bytes at the same element offsets, scale sa[row][n0 / 256]
EPI_SWQ_:
    mov.f32 %e2, 0f00000000;
    mov.f32 %e3, 0f00000000;
    FOR_PAIR(SWQ_AMAX)
    QUAD_MAX(%e2, %e0)
    QUAD_MAX(%e3, %e0)
#if NSPLIT
    // the row's other 64 outputs are the other consumer's: swap the partial amaxes through smem ([2][64] f32 after
    // the split-K word); the second barrier keeps the next tile's writes behind both reads
    XC_MINE
    st.shared.f32 [%kc], %e2;
    st.shared.f32 [%kc + 32], %e3;
    bar.sync 1, 128 * NCONS;
    XC_OTHER
    ld.shared.f32 %e0, [%kc];
    max.f32 %e2, %e2, %e0;
    ld.shared.f32 %e0, [%kc + 32];
    max.f32 %e3, %e3, %e0;
    bar.sync 1, 128 * NCONS;
#endif
    SWQ_SCALE(%e2, %qs0, %qi0)
    SWQ_SCALE(%e3, %qs1, %qi1)
    shr.u32 %t2, %n0, 1;
    xor.b32 %skey, %colin, %sx;                // 2 q
    CHUNK_SETUP(0, SWQ_L)
    FOR_PAIR(STG_SWQ)
    bar.warp.sync -1;
    CAT(CO_I, SWQ_L)(CO_ST)
    bar.warp.sync -1;
    setp.eq.u32 %p, %colin, 0;                 // lane % 4 == 0 stores the row's scale (NSPLIT: of consumer 0)
#if NSPLIT
    setp.eq.and.u32 %p, %wc, 0, %p;
#endif
    and.pred %q0, %p, %pr0;
    and.pred %q1, %p, %pr1;
    ld.param.u64 %pCs, [p_Cs];
    shr.u32 %t2, %N, 8;                        // scale blocks per row
    shr.u32 %t1, %n0, 8;
    mad.lo.u32 %t1, %row0, %t2, %t1;
    mul.wide.u32 %c0, %t1, 4;
    add.s64 %c0, %pCs, %c0;
    mul.wide.u32 %c1, %t2, 32;                 // 8 rows down
    add.s64 %c1, %c0, %c1;
    @%q0 st.global.f32 [%c0], %qs0;
    @%q1 st.global.f32 [%c1], %qs1;
#endif
EPI_DONE:
    UT_T(80)
    add.u32 %u, %u, %step;
    bra C_TILE;
EXIT:
    ret;
}

#undef BM
#undef A_BYTES
#undef STAGE_BYTES
#undef BAR_OFF
#undef NTHREADS
#undef KC_ADD_REGION
#undef NAME
#undef NCONS
#undef BN
#undef NJ
#undef NJM1
#undef STAGES
#undef KSHIFT
#undef MMA_SHAPE
#undef MMA_TRANS
#undef SWQ_TILE
#undef FOR_PAIR
#undef FP8H
#undef FP8H_UNI
#undef WNX
#undef NJX
#undef NJXM1
#undef NSPLIT
#undef WN
#undef A_WC_OFF
#undef W_WC_OFF
#undef ROW_WC
#undef CM
#undef MT_OF_PAIR
#undef RELEASE
#undef SUM_SLAB
#undef KC_REGION
#undef FOR_CHUNK_F32
#undef FOR_CHUNK_BF16
#undef SWI_L
#undef SWQ_L
#undef NQ_H0
#undef NQ_H1
#undef NQ_H2
#undef NQ_H3
#undef NQ_L
