// gpu_gemm.c — launch_gemm: C (op)= A . W^T with the kernels of ptx/gemm_bf16.ptx (mma.sync) and ptx/gemm_wg.ptx
// (wgmma + TMA, warp-specialised, persistent).
// defines: launch_gemm, launch_gemm_ex (explicit tile shape and split-K, for tests and benchmarks),
//          launch_gemm_fp8[_ex] (ptx/gemm_fp8.ptx), launch_quant_act_fp8, launch_quant_w_fp8 (ptx/quant_fp8.ptx),
//          launch_gemm_swiglu_fp8 (the SwiGLU + FP8-quantising epilogue of the 128x256 tile), gemm_tile_choice
//
// Tile choice (when the caller passes tile -1): a plan measured by `bench/gemm --sweep` on this card if one is
// loaded ($QWEN3_GEMM_PLAN, host/gemm_plan.h), else the built-in rules: M <= 32 (FP8: 64) goes to the swapped decode
// tile (ptx/gemm_sw.ptx, launch_sw: W on wgmma's M side through a TMA ring); before it (QWEN3_GEMM_SW=0 brings this
// back) decode-sized M (<= 16) streamed W through many small mma.sync tiles: 16x32, or 16x16 when N/32 CTAs would
// not cover the GPU twice (at M = 17-32 two 16-row
// tiles would read every weight twice: bench/gemm measured 0.53-0.56 of cuBLAS there, against 0.9-0.98 for a
// 64-row wgmma tile). Larger M goes to the wgmma kernels: the tile with the least work in whole waves, weighted by
// what each tile shape costs per element (waves_cost; 128-row tiles from M = 256, FP8 from 128).
// Split-K: the wgmma kernels can split K (launch_gemm_ex splits > 1, or a plan); their partial sums meet in a
// scratch slab and are added in a fixed order, so results are the same run after run. Off by default (see
// wg_splits); the tail split (GEMM_SPLIT_TAIL: the full waves' tiles whole, the last wave's split to fill the SMs)
// wins where K is large and a wave is mostly empty: the plan takes it for the 14B / 32B FP8 down at M = 512..767 and
// 1,024..2,047 (9-23%; NOTES.md session 18: a split tile's fix-up costs ~6-8 us); the cluster split
// (GEMM_SPLIT_CLUSTER + S: a tile's S splits in one thread-block cluster, their sums meeting in the owners' shared
// memory, no slab) serves seven mid-M rows of the H200 plan (session 26: the down / o projections at M = 256, 512). The
// mma.sync tiles' split-K (launch_gemm_ex with splits > 1: red.global.add.f32 into C) is for benchmarks only: the
// order of its float additions varies (3+ splits, or add mode), and greedy decoding should repeat exactly.
#include "gpu_ops.h"
#include "gemm_plan.h"
#include "util.h"
#include <math.h>
#include <string.h>

typedef struct { const char *module, *entry; int bm, bn, threads, stages, cm; } GemmTile;  // cm 2: TMA multicast pair
// Must match the configurations in ptx/gemm_bf16.ptx.
static const GemmTile gemm_tiles[] = {
    { "gemm_bf16", "gemm_bf16_tc_16x32", 16, 32, 128, 8, 1 },
    { "gemm_bf16", "gemm_bf16_tc_64x64", 64, 64, 128, 4, 1 },
    { "gemm_bf16", "gemm_bf16_tc_128x128", 128, 128, 256, 3, 1 },
    { "gemm_bf16", "gemm_bf16_tc_16x16", 16, 16, 128, 18, 1 },
};
enum { N_GEMM_TILES = sizeof gemm_tiles / sizeof gemm_tiles[0], GEMM_BK = 64, GEMM_RED_F32 = 3 };
// Must match ptx/gemm_wg.ptx: tile bm x bn, 64 * bm / 64 + 128 threads, a ring of `stages` slices of K = 64.
static const GemmTile wg_tiles[] = {
    { "gemm_wg", "gemm_wg_128x256", 128, 256, 384, 4, 1 },
    { "gemm_wg", "gemm_wg_128x128", 128, 128, 384, 6, 1 },
    { "gemm_wg", "gemm_wg_64x128", 64, 128, 256, 8, 1 },
    { "gemm_wg", "gemm_wg_64x64", 64, 64, 256, 12, 1 },
    { "gemm_wg", "gemm_wg_64x128s", 64, 128, 384, 8, 1 },   // two consumers split N (mid M)
    { "gemm_wg", "gemm_wg_128x256c2", 128, 256, 384, 4, 2 },  // 128x256 / 128x128 in clusters of two sharing W
    { "gemm_wg", "gemm_wg_128x128c2", 128, 128, 384, 6, 2 },
    { "gemm_sw", "gemm_bf16_sw", 64, 64, 128, 0, 1 },  // weights on wgmma's M side, M <= 64 a launch (launch_sw)
    { "gemm_wg", "gemm_wg_128x192", 128, 192, 384, 4, 1 },  // no SwiGLU epilogue (96 outputs a row)
};
enum { N_WG_TILES = sizeof wg_tiles / sizeof wg_tiles[0] };
_Static_assert(N_GEMM_TILES + N_WG_TILES == GEMM_N_TILES && GEMM_SW_TILE == N_GEMM_TILES + 7 &&
               GEMM_128X192_TILE == N_GEMM_TILES + 8, "bf16 tile table");
// Must match ptx/gemm_fp8.ptx (tiles 0, 1, 4: wgmma) and ptx/gemm_fp8_dec.ptx (2, 3: mma.sync decode tiles); slices
// of K = 128 e4m3, the same bytes per stage as the bf16 tiles. Tile 4 (64x256, the consumers split N) is the one FP8
// tile with the quantising SwiGLU epilogue; the built-in choice never picks it for a plain GEMM (a plan may).
static const GemmTile fp8_tiles[GEMM_FP8_N_TILES] = {
    { "gemm_fp8", "gemm_fp8_128x128", 128, 128, 384, 6, 1 },
    { "gemm_fp8", "gemm_fp8_64x128", 64, 128, 256, 8, 1 },
    { "gemm_fp8_dec", "gemm_fp8_tc_16x32", 16, 32, 128, 8, 1 },
    { "gemm_fp8_dec", "gemm_fp8_tc_16x16", 16, 16, 128, 18, 1 },
    { "gemm_fp8", "gemm_fp8_64x256", 64, 256, 384, 4, 1 },
    { "gemm_fp8", "gemm_fp8_64x128s", 64, 128, 384, 8, 1 },  // two consumers split N (mid M)
    { "gemm_fp8_dec", "gemm_fp8_tc_16x16s", 16, 16, 128, 8, 1 },  // K split over a cluster (dec_ksplit)
    { "gemm_fp8", "gemm_fp8_128x128c2", 128, 128, 384, 6, 2 },   // tiles 0, 5, 4 in clusters of two sharing W
    { "gemm_fp8", "gemm_fp8_64x128sc2", 64, 128, 384, 8, 2 },
    { "gemm_fp8", "gemm_fp8_64x256c2", 64, 256, 384, 4, 2 },
    { "gemm_sw", "gemm_fp8_sw", 64, 64, 128, 0, 1 },  // weights on wgmma's M side, M <= 64 a launch (launch_sw)
    { "gemm_fp8", "gemm_fp8_128x256", 128, 256, 384, 4, 1 },  // each slice in two m64n128 halves
    { "gemm_fp8", "gemm_fp8_128x256c2", 128, 256, 384, 4, 2 },  // the same in clusters of two sharing W
};
// The 128x256 tiles for uniform scales (GemmNorm.uni; launch_wg takes them for tiles 11 and 12)
static const GemmTile fp8u_tiles[2] = {
    { "gemm_fp8", "gemm_fp8_128x256u", 128, 256, 384, 4, 1 },
    { "gemm_fp8", "gemm_fp8_128x256c2u", 128, 256, 384, 4, 2 },
};
int gemm_fp8_tile_splits(int tile) {
    return tile == 0 || tile == 1 || tile == 4 || tile == 5 || tile == GEMM_FP8_SW_TILE || tile == GEMM_FP8_128X256_TILE;
}
static int fp8_tile_is_wg(int tile) {
    return tile < 2 || tile == 4 || tile == 5 || (tile >= 7 && tile <= 9) || tile >= GEMM_FP8_128X256_TILE;
}
int gemm_cluster_split_tile(int fp8, int tile) {
    if (fp8) return tile >= 0 && tile < GEMM_FP8_N_TILES && fp8_tile_is_wg(tile) && fp8_tiles[tile].cm == 1;
    return tile >= N_GEMM_TILES && tile < GEMM_N_TILES && tile != GEMM_SW_TILE && wg_tiles[tile - N_GEMM_TILES].cm == 1;
}
// ptx/quant_fp8.ptx (geometry set by their launchers)
static const GemmTile quant_kernels[] = { { "quant_fp8", "quant_act_fp8", 0, 0, 256, 0, 1 },
                                          { "quant_fp8", "quant_w_fp8", 0, 0, 256, 0, 1 },
                                          { "quant_fp8", "quant_act_fp8_row", 0, 0, 128, 0, 1 } };

// Every kernel of this file, looked up by name on its first use in a context (so a bf16 run never loads the FP8
// modules). table: one of the four arrays above.
enum { TAB_MMA, TAB_WG, TAB_FP8, TAB_QUANT, TAB_FP8U, N_TABS, TAB_MAX = 13 };
_Static_assert((int)N_GEMM_TILES <= (int)TAB_MAX && (int)N_WG_TILES <= (int)TAB_MAX &&
               (int)GEMM_FP8_N_TILES <= (int)TAB_MAX, "TAB_MAX too small");
static CUfunction kernel(Gpu *g, int table, int i) {
    static const GemmTile *const tabs[N_TABS] = { gemm_tiles, wg_tiles, fp8_tiles, quant_kernels, fp8u_tiles };
    static CUcontext ctx;
    static CUfunction fn[N_TABS][TAB_MAX];
    if (ctx != g->ctx) { memset(fn, 0, sizeof fn); ctx = g->ctx; }
    if (!fn[table][i]) fn[table][i] = gpu_kernel(g, tabs[table][i].module, tabs[table][i].entry);
    return fn[table][i];
}

static int cdiv(int a, int b) { return (a + b - 1) / b; }

// QWEN3_GEMM_C2=1 lets the built-in choice take the multicast pairs (the c2 tiles) where M has two row-tiles; off
// by default: on the H100 they measured within +-3% of the single tiles at M = 256..4096 (NOTES.md, session 6), so
// only a measured plan picks them, where they won.
static int c2_on(void) {
    static int on = -1;
    if (on < 0) on = env_int("QWEN3_GEMM_C2", 0, 1, 0);
    return on;
}
// The multicast form of a built-in choice (same tile in clusters of two row-tiles) where M has >= 2 row-tiles.
static int c2_of(const GemmTile *tabs, int tile, int c2_tile, int M) {
    return c2_on() && cdiv(M, tabs[tile].bm) >= 2 ? c2_tile : tile;
}

// QWEN3_GEMM_SW=M: the swapped decode tile (launch_sw) for every GEMM of at most M rows (0..64), before any plan
// (0: the rules never take it; a plan still may). Unset: the plan decides, and without a plan entry the rules take it up to SW_RULE_M rows
// (the H100 decode sweep, bench/results/gemm-h100-8b-decode-sweep-s7.tsv: the swapped tile won every 8B layer at
// M = 1..32 in both dtypes but bf16 qkv at M = 1, a 0.1% tie; at M = 64 the wgmma tiles won o and bf16 down).
// FP8 takes it up to 64 rows: at M = 64 it won every layer of the 0.6B, 8B and 32B against the wgmma tiles by 1-50%
// (sweeps of sessions 9 and 17; bf16 at 64 was mixed: 0.6B qkv / gate_up and the 8B's o / down lost 1-8%).
enum { SW_RULE_M = 32, SW_RULE_M_FP8 = 64 };
// The built-in rules' wgmma choice: whole waves of tiles x tile area x the tile's cost per element (in hundredths
// of the 128x256 tile's), the least wins. The costs were fitted to the H100 sweeps of the 0.6B, 8B and 32B and then
// checked on the 14B, 4B and 1.7B, which no fit had seen (NOTES.md session 17): over all 192 FP8 / 124 bf16 (layer,
// M) points swept, the rules' tile takes 1.007x / 1.011x the fastest tile's time on geometric mean (with the
// swapped tile's splits below), where the rules before took 1.061x / 1.056x. The bf16 128x192 tile came after, its
// cost (1.02) from a sweep of all five sizes at M = 256..4096 (100 points: 1.005x the best with it, 1.029x without).
static long long waves_cost(int M, int N, int bm, int bn, int sms, int cost) {
    return (long long)cdiv(cdiv(M, bm) * cdiv(N, bn), sms) * bm * bn * cost;
}
static int sw_forced_m(void) {  // -1: not forced
    static int m = -2;
    if (m == -2) m = env_int("QWEN3_GEMM_SW", 0, 64, -1);
    return m;
}

static void launch_mma(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode, int tile,
                       int splits) {
    const GemmTile *t = &gemm_tiles[tile];
    int ktiles = K / GEMM_BK;
    if (splits < 1) splits = 1;
    if (mode == GEMM_STORE_BF16 || mode == GEMM_SWIGLU_BF16) splits = 1;  // partial sums cannot be added in bf16
    if (splits > ktiles) splits = ktiles;
    unsigned ktps = (unsigned)cdiv(ktiles, splits);
    splits = cdiv(ktiles, (int)ktps);         // no empty split
    unsigned kmode = (unsigned)mode;
    if (splits > 1) {
        if (mode == GEMM_STORE_F32) gpu_fill_u32(g, C, 0, (size_t)M * N);
        kmode = GEMM_RED_F32;
    }
    unsigned uM = (unsigned)M, uN = (unsigned)N, uK = (unsigned)K;
    unsigned smem = (unsigned)(t->stages * (t->bm + t->bn) * GEMM_BK * 2);
    Dim3 grid = { (unsigned)cdiv(N, t->bn), (unsigned)cdiv(M, t->bm), (unsigned)splits };
    Dim3 block = { (unsigned)t->threads, 1, 1 };
    void *args[] = { &C, &A, &W, &uM, &uN, &uK, &kmode, &ktps };
    gpu_launch(g, kernel(g, TAB_MMA, tile), grid, block, smem, NULL, args, t->entry);
}

// Split-K scratch of the wgmma kernels: f32 partial-sum slabs and one counter per tile, allocated on first use in a
// context and kept (never reallocated: a captured CUDA graph holds the pointers; the first use of any shape is an
// eager launch, never inside a capture). The counters are zero between launches (each tile's last unit resets it).
enum { SK_WS_BYTES = 64 << 20, SK_COUNTERS = 1 << 16, SK_MAX_SPLITS = 8 };
static CUcontext sk_ctx;
static CUdeviceptr sk_ws, sk_cnt;

// Splits for a wgmma launch: as requested (>= 1; capped by K and the scratch). Automatic (0) means none: uniform
// splits lost on every shape swept (H200: FP8 o at M = 1 12.2 -> 19.8 us with 2 splits; H100, session 18, with the
// slab sum's loads batched: still behind the best unsplit tile at every 8B shape), so they stay available to the
// plan file and the sweep only.
static int wg_splits(Gpu *g, int req, int tiles, int M, int N, int nk) {
    int S = req;
    if (S <= 0) S = 1;
    if (S > SK_MAX_SPLITS) S = SK_MAX_SPLITS;
    if (S > nk) S = nk;
    while (S > 1 && (size_t)S * M * N * 4 > SK_WS_BYTES) S--;
    if (tiles > SK_COUNTERS) S = 1;
    if (S < 1) S = 1;
    if (S > 1 && sk_ctx != g->ctx) {
        sk_ws = gpu_alloc(g, SK_WS_BYTES);
        sk_cnt = gpu_alloc(g, SK_COUNTERS * 4);
        gpu_fill_u32(g, sk_cnt, 0, SK_COUNTERS);
        sk_ctx = g->ctx;
    }
    return S;
}

// The tail split's S: the last partial wave's tiles split to fill the SMs, 2..4 parts (1: no split).
static int tail_splits(int tiles, int sms) {
    int tail = tiles % sms, S = tail ? sms / tail : 1;
    return tiles - tail > 0xFFFF ? 1 : S > 4 ? 4 : S;
}
int gemm_tail_splits(int fp8, int tile, int M, int N, int sms) {
    if (fp8 ? tile < 0 || tile >= GEMM_FP8_N_TILES || !fp8_tile_is_wg(tile)
            : tile < N_GEMM_TILES || tile >= GEMM_N_TILES || tile == GEMM_SW_TILE)
        return 1;
    const GemmTile *t = fp8 ? &fp8_tiles[tile] : &wg_tiles[tile - N_GEMM_TILES];
    if (t->cm > 1) return 1;
    return tail_splits(cdiv(M, t->bm) * cdiv(N, t->bn), sms);
}

// The cluster split (GEMM_SPLIT_CLUSTER + S): one unit a CTA, grid tiles x S in (S, 1, 1) clusters, p_splits bit 15
// (ptx/gemm_wg_body.h: the partial sums meet in the owners' rings, 2 ceil(4 / S) S regions of 64 x WN bytes). The S
// that runs (no empty split), after the checks.
static int cluster_split(const GemmTile *t, int mode, int S, int nk) {
    int nsplit = t->bm == 64 && t->threads == 384, wn = nsplit ? t->bn / 2 : t->bn;  // the consumers split N
    if (t->cm > 1) die("launch_gemm: the multicast pairs have no cluster split");
    if (nsplit && mode == GEMM_SWIGLU_FP8) die("launch_gemm: no cluster split for the N-split tile's FP8 SwiGLU");
    S = cdiv(nk, cdiv(nk, S));
    if (S < 2) die("launch_gemm: a cluster split needs K >= 2 slices (%d)", nk);
    if (2 * cdiv(4, S) * S * 64 * wn > t->stages * (t->bm + t->bn) * 128)
        die("launch_gemm: a cluster split of %d does not fit %s's ring", S, t->entry);
    return S;
}

int gemm_cluster_splits_max(int fp8, int tile, int M, int N, int sms) {
    if (!gemm_cluster_split_tile(fp8, tile)) return 0;
    const GemmTile *t = fp8 ? &fp8_tiles[tile] : &wg_tiles[tile - N_GEMM_TILES];
    int tiles = cdiv(M, t->bm) * cdiv(N, t->bn), S = GEMM_SPLIT_CLUSTER_MAX;
    while (S > 1 && tiles * S > sms) S--;
    return S > 1 ? S : 0;
}

// The wgmma kernels request their first unit's first weight slices before waiting for the previous kernel (mode bit
// 8, as the swapped tile's sw_early; not the multicast pairs): on unless QWEN3_WG_EARLY=0. H200, 8B FP8 + FP8 KV,
// decode-only, same call (NOTES, session 39): B = 256 +0.5%, B = 128 +0.9%, B = 64 +0.1%; BF16 B = 256 +0.4%.
static int wg_early(void) {
    static int on = -1;
    if (on < 0) on = env_int("QWEN3_WG_EARLY", 0, 1, 1);
    return on;
}

// The wgmma kernels (bf16: gemm_wg, e4m3: gemm_fp8): A and W go in as TMA tensor maps with 128-byte swizzle and
// boxes 128 bytes wide along K (64 bf16 or 128 e4m3); the grid is persistent (at most one CTA per SM).
// sa / sw: the FP8 scales (0 for bf16); Cs: the output scales of GEMM_SWIGLU_FP8 (else 0).
// nm (FP8 only, may be NULL): the producer-side RMSNorm's operands (GemmNorm, host/gpu_ops.h).
static void launch_wg(Gpu *g, const GemmTile *t, CUfunction f, int fp8, CUdeviceptr C, CUdeviceptr Cs, CUdeviceptr A,
                      CUdeviceptr sa, CUdeviceptr W, CUdeviceptr sw, int M, int N, int K, int mode, int splits,
                      const GemmNorm *nm) {
    CUtensorMapDataType dt = fp8 ? CU_TENSOR_MAP_DATA_TYPE_UINT8 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    uint64_t row_bytes = (uint64_t)K * (fp8 ? 1 : 2);
    uint32_t box_k = fp8 ? 128 : 64;
    CUtensorMap ma, mw;
    int cm = t->cm > 1 ? t->cm : 1;  // a multicast pair: each CTA loads bn / 2 rows of W for both
    gpu_tmap_2d(&ma, A, dt, (uint64_t)M, (uint64_t)K, row_bytes, (uint32_t)t->bm, box_k, CU_TENSOR_MAP_SWIZZLE_128B);
    gpu_tmap_2d(&mw, W, dt, (uint64_t)N, (uint64_t)K, row_bytes, (uint32_t)(t->bn / cm), box_k,
                CU_TENSOR_MAP_SWIZZLE_128B);
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    int tiles = cdiv(cdiv(M, t->bm), cm) * cdiv(N, t->bn), nk = K / (int)box_k;  // (pairs of) tiles
    int kc = gemm_split_cluster(splits) ? cluster_split(t, mode, gemm_split_cluster(splits), nk) : 0;
    if (cm > 1) splits = 1;
    // the tail split: tiles 0..F-1 (the full waves) whole, the last wave's tiles in S parts each
    int F = 0;
    if (splits == GEMM_SPLIT_TAIL) {
        splits = tail_splits(tiles, sms);
        F = tiles - tiles % sms;
    }
    int S = kc ? kc : wg_splits(g, splits, tiles, M, N, nk), ktps = cdiv(nk, S);
    S = cdiv(nk, ktps);  // no empty split
    if (S < 2) F = 0;
    int units = F + (tiles - F) * S;
    unsigned uM = (unsigned)M, uN = (unsigned)N, uK = (unsigned)K, umode = (unsigned)mode | (wg_early() ? 256u : 0u);
    const char *name = t->entry;
    if (fp8 && nm && nm->uni) {  // uniform scales (GemmNorm): the 128x256 tiles' own entries where a group holds a unit
        umode |= 512u | (unsigned)nm->uni << 16;
        int h = t == &fp8_tiles[GEMM_FP8_128X256_TILE] ? 0 : t == &fp8_tiles[GEMM_FP8_128X256C2_TILE] ? 1 : -1;
        if (h >= 0 && nm->uni >= ktps && !nm->ss && mode != GEMM_ADD_NORM8) {
            f = kernel(g, TAB_FP8U, h);
            name = fp8u_tiles[h].entry;
        }
    }
    unsigned uS = (unsigned)S | (unsigned)F << 16 | (kc ? 0x8000u : 0), uktps = (unsigned)ktps;
    CUdeviceptr ws = S > 1 && !kc ? sk_ws : 0, cnt = S > 1 && !kc ? sk_cnt : 0;
    // ring, barriers (16 B per stage), the split-K word (16 B), the N-split tile's amax / sum exchange (1 KB), the
    // epilogue's staging (4 KB a consumer warp)
    unsigned smem = (unsigned)(t->stages * (t->bm + t->bn) * 128 + 16 * t->stages + 16 + 1024 + 4096 * (t->threads / 32 - 4));
    Dim3 block = { (unsigned)t->threads, 1, 1 }, cluster = { (unsigned)(kc ? kc : cm), 1, 1 };
    // persistent: one CTA an SM, or for pairs as many clusters as the driver says can be resident at once (66 on
    // the H100 at 192 KB a CTA); the cluster split: every unit its own CTA
    int slots = kc ? units : cm > 1 ? gpu_cluster_slots(g, f, block, smem, cm) : sms;
    Dim3 grid = { (unsigned)(cm * (units < slots ? units : slots)), 1, 1 };
    void *args_bf16[] = { &ma, &mw, &C, &Cs, &uM, &uN, &uK, &umode, &ws, &cnt, &uS, &uktps };
    GemmNorm none = { 0 }, n = nm ? *nm : none;
    void *args_fp8[] = { &ma, &mw, &C, &Cs, &sa, &sw, &uM, &uN, &uK, &umode, &ws, &cnt, &uS, &uktps, &n.nw, &n.ss, &n.eps,
                         &n.rope };
    gpu_launch(g, f, grid, block, smem, cm > 1 || kc ? &cluster : NULL, fp8 ? args_fp8 : args_bf16, name);
}

// The swapped decode GEMM (ptx/gemm_sw.ptx): the weights on wgmma's M = 64 side, the activation rows on its N side
// (8, 16, 32 or 64: the smallest that holds M; more rows run as chunks of 64, each reading W again: for decode
// sizes only). Grid: N/64 tiles x S K-splits, the splits of a tile one (S, 1, 1) cluster summed in rank 0.
// splits: 0 automatic (below), else S (1..8, capped so every split has a slice). Stages: a ~72 KB ring a CTA (three
// CTAs an SM at MB = 8); QWEN3_SW_STAGES=n forces n (2..8).
enum { SW_MAX_SPLITS = 8 };
static int sw_stages_env(void) {
    static int n = -1;
    if (n < 0) n = env_int("QWEN3_SW_STAGES", 2, 8, 0);
    return n;
}
// The swapped tile requests its first weight slices before waiting for the previous kernel (mode bit 8; only
// matters under programmatic dependent launch): on unless QWEN3_SW_EARLY=0. H100, engine, same run (b12fb96):
// batch 1 FP8 259.9 -> 261.4 tok/s, BF16 168.9 -> 173.1.
static int sw_early(void) {
    static int on = -1;
    if (on < 0) on = env_int("QWEN3_SW_EARLY", 0, 1, 1);
    return on;
}
// Automatic K splits of the swapped tile: two where its N/64 tiles would leave over 30% of the SMs idle and K >= 2,048,
// four where even twice as many CTAs fit the SMs (half of them above 32 rows, where the 64-row stages are twice as
// large) and K >= 2,048 (each split >= 4 slices of 128 bytes of K). The H100 sweeps, M <= 64 (8B:
// bench/results/gemm-plan-h100-8b.txt; the other sizes: gemm-h100-sizes-sweep-s17.tsv): one split won on the 8B's
// qkv and gate_up, two on its o and down; four on the 0.6B's o and down (16 tiles: 3.83 us against 4.42 with two at
// M = 1) and the 1.7B's at M <= 16 (32 tiles), two on the latter at M = 64 (6.57 against 8.63 us); one on the 0.6B's
// qkv (K = 1,024: 4.77 against 5.40 us at M = 64).
int gemm_sw_auto_splits(int M, int N, int K, int sms) {
    int tiles = cdiv(N, 64), S = 10 * tiles < 7 * sms && K >= 2048 ? 2 : 1, room = M > 32 ? sms / 2 : sms;
    while (S > 1 && S < 4 && 2 * S * tiles <= room && K >= 1024 * S) S *= 2;
    return S;
}
// The shared memory gemm_fp8_sw8b's built rows take beyond the ring (ptx/gemm_sw_build.h: e4m3 rows, their scales,
// the warp sums), and the stages left for it: the ring shrinks by what they take, down to SW_BUILD_MIN_STAGES.
enum { SW_RING_BYTES = 73728, SW_BUILD_MIN_STAGES = 3, SW_SMEM_MAX = 232448 };
static int sw_build_bytes(int M, int K) { return M * K + (M * K / 32 + 15) / 16 * 16 + M * 32; }
static int sw_stages(int stage, int build_bytes) {
    if (sw_stages_env()) return sw_stages_env();
    int n = (SW_RING_BYTES - build_bytes) / stage;  // <= 8
    return n < SW_BUILD_MIN_STAGES ? SW_BUILD_MIN_STAGES : n;
}

// b: NULL, or (fp8, M <= 8) the input built in the kernel from b->x (gemm_fp8_sw8b; A and sa unused)
static void launch_sw(Gpu *g, int fp8, CUdeviceptr C, CUdeviceptr A, CUdeviceptr sa, CUdeviceptr W, CUdeviceptr sw,
                      int M, int N, int K, int mode, int splits, const SwBuild *b) {
    static const char *const names[2][5] = {
        { "gemm_bf16_sw8", "gemm_bf16_sw16", "gemm_bf16_sw32", "gemm_bf16_sw64", "" },
        { "gemm_fp8_sw8", "gemm_fp8_sw16", "gemm_fp8_sw32", "gemm_fp8_sw64", "gemm_fp8_sw8b" } };
    static CUcontext ctx;
    static CUfunction fn[2][5];
    if (ctx != g->ctx) { memset(fn, 0, sizeof fn); ctx = g->ctx; }
    if (b && (!fp8 || M > 8)) die("launch_sw: a built input needs FP8 weights and M <= 8 (M=%d)", M);
    int esz = fp8 ? 1 : 2, out_sz = mode == GEMM_STORE_BF16 || mode == GEMM_SWIGLU_BF16 ? 2 : 4;
    int out_cols = mode == GEMM_SWIGLU_BF16 ? N / 2 : N, nk = K / (fp8 ? 128 : 64), tiles = cdiv(N, 64);
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    for (int m0 = 0; m0 < M; m0 += 64) {
        int mc = M - m0 < 64 ? M - m0 : 64, v = b ? 4 : mc <= 8 ? 0 : mc <= 16 ? 1 : mc <= 32 ? 2 : 3;
        int mb = b ? 8 : 8 << v, extra = b ? sw_build_bytes(mc, K) : 0;
        if (!fn[fp8][v]) fn[fp8][v] = gpu_kernel(g, "gemm_sw", names[fp8][v]);
        int stage = 8192 + mb * 128, nst = sw_stages(stage, extra);
        int S = splits > 0 ? splits : gemm_sw_auto_splits(mc, N, K, sms);
        if (S > SW_MAX_SPLITS) S = SW_MAX_SPLITS;
        if (S > nk) S = nk;
        int ktps = cdiv(nk, S);
        S = cdiv(nk, ktps);  // no empty split
        unsigned smem = (unsigned)(nst * stage + 16 * nst + (S - 1) * mb * 256 + extra);
        if (smem > SW_SMEM_MAX) die("launch_sw: %u bytes of shared memory (M=%d K=%d)", smem, mc, K);
        CUtensorMapDataType dt = fp8 ? CU_TENSOR_MAP_DATA_TYPE_UINT8 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
        uint64_t row_bytes = (uint64_t)K * esz;
        uint32_t box_k = fp8 ? 128 : 64;
        CUtensorMap mw, ma;
        CUdeviceptr Ac = A + (CUdeviceptr)m0 * row_bytes, Cc = C + (CUdeviceptr)m0 * out_cols * out_sz;
        CUdeviceptr sac = fp8 ? sa + (CUdeviceptr)m0 * (K / 128) * 4 : 0;
        gpu_tmap_2d(&mw, W, dt, (uint64_t)N, (uint64_t)K, row_bytes, 64, box_k, CU_TENSOR_MAP_SWIZZLE_128B);
        if (!b)  // (a built input has no activation tensor map)
            gpu_tmap_2d(&ma, Ac, dt, (uint64_t)mc, (uint64_t)K, row_bytes, (uint32_t)mb, box_k,
                        CU_TENSOR_MAP_SWIZZLE_128B);
        unsigned uM = (unsigned)mc, uN = (unsigned)N, uK = (unsigned)K, umode = (unsigned)mode | (sw_early() ? 256u : 0u);
        unsigned uktps = (unsigned)ktps, unst = (unsigned)nst;
        Dim3 grid = { (unsigned)(tiles * S), 1, 1 }, block = { 128, 1, 1 }, cluster = { (unsigned)S, 1, 1 };
        void *args_bf16[] = { &mw, &ma, &Cc, &uM, &uN, &uK, &umode, &uktps, &unst };
        void *args_fp8[] = { &mw, &ma, &Cc, &sac, &sw, &uM, &uN, &uK, &umode, &uktps, &unst };
        CUdeviceptr bx = b ? b->x : 0, bnw = b ? b->nw : 0;
        float beps = b ? b->eps : 0;
        void *args_b[] = { &mw, &Cc, &sw, &bx, &bnw, &beps, &uM, &uN, &uK, &umode, &uktps, &unst };
        gpu_launch(g, fn[fp8][v], grid, block, smem, S > 1 ? &cluster : NULL,
                   b ? args_b : fp8 ? args_fp8 : args_bf16, names[fp8][v]);
    }
}

static void check_gemm_args(int M, int N, int K, int kmul, int mode, CUdeviceptr A, CUdeviceptr W, CUdeviceptr C) {
    if (M < 0 || N <= 0 || K <= 0 || K % kmul || N % 8)
        die("launch_gemm: unsupported shape M=%d N=%d K=%d (need K %% %d == 0, N %% 8 == 0)", M, N, K, kmul);
    if ((mode < GEMM_STORE_F32 || mode > GEMM_ADD_F32) && mode != GEMM_SWIGLU_BF16) die("launch_gemm: bad mode %d", mode);
    if (mode == GEMM_SWIGLU_BF16 && N % (2 * GEMM_GATE_ROWS))
        die("launch_gemm: SwiGLU needs whole gate/up blocks (N=%d %% %d)", N, 2 * GEMM_GATE_ROWS);
    if ((A | W) % 16 || C % 8) die("launch_gemm: A and W must be 16-byte aligned, C 8-byte aligned");
}

// tile: 0..3 the mma.sync tiles (gemm_tiles), 4..7 the wgmma tiles (wg_tiles), -1 choose; splits: k splits (mma.sync
// tiles: 0 or 1 none; wgmma tiles: 0 automatic, 1 none, > 1 that many). Dies on bad shapes.
// The bf16 tile launch_gemm_ex runs for tile -1: a measured plan (which may also set *splits), else the rules above.
int gemm_tile_choice(Gpu *g, int M, int N, int K, int mode, int *splits) {
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    int pt, ps, tile = -1;
    if (M <= sw_forced_m()) {
        if (splits) *splits = 0;
        return GEMM_SW_TILE;
    }
    // A measured plan, unless its entry is an mma.sync split-K this mode cannot use: that split-K adds into C with
    // red.global in whatever order the CTAs finish, exact (hence repeatable) only for 2 splits into a zeroed f32
    // output, and greedy decoding must repeat. Such an entry measured a configuration that will not run, so the
    // rules below choose (forcing its tile unsplit instead lost: bf16 o at M = 1 on the 16x32 tile unsplit 15.1 us
    // against 14.4 for the rules' 16x16).
    if (gemm_plan_pick(GEMM_PLAN_BF16, M, N, K, &pt, &ps) &&
        !(pt < N_GEMM_TILES && ps > 1 && !(ps == 2 && mode == GEMM_STORE_F32)) &&
        !(pt == GEMM_128X192_TILE && mode == GEMM_SWIGLU_BF16)) {  // (a plan row is per shape, not per mode)
        tile = pt;
        if (splits) *splits = ps;
    }
    if (tile < 0) {
        if (M <= SW_RULE_M && sw_forced_m() < 0) {
            tile = GEMM_SW_TILE;
            if (splits) *splits = 0;
        } else if (M <= 16) tile = cdiv(N, 32) >= 2 * sms ? 0 : 3;  // one 16-row tile reads each weight once
        else {
            // wgmma: the least wave-quantised work, whole waves x tile area x the tile's cost per element (128-row
            // tiles from M = 256; 64x128 is the two-consumer form, 64x128s; 128x192 has no SwiGLU epilogue)
            static const int order[] = { 0, 1, 4, 3, 8 };  // wg_tiles: 128x256, 128x128, 64x128s, 64x64, 128x192
            static const int cost[] = { 100, 105, 150, 200, 102 };
            long long best = -1;
            for (int j = 0; j < (int)(sizeof order / sizeof order[0]); j++) {
                const GemmTile *t = &wg_tiles[order[j]];
                if ((t->bm == 128 && M < 256) || (order[j] == 8 && mode == GEMM_SWIGLU_BF16)) continue;
                long long w = waves_cost(M, N, t->bm, t->bn, sms, cost[j]);
                if (best < 0 || w < best) { best = w; tile = N_GEMM_TILES + order[j]; }
            }
            if (tile == N_GEMM_TILES + 0) tile = N_GEMM_TILES + c2_of(wg_tiles, 0, 5, M);  // 128x256 -> 128x256c2
            if (tile == N_GEMM_TILES + 1) tile = N_GEMM_TILES + c2_of(wg_tiles, 1, 6, M);  // 128x128 -> 128x128c2
        }
    }
    return tile;
}

void launch_gemm_ex(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode, int tile,
                    int splits) {
    check_gemm_args(M, N, K, GEMM_BK, mode, A, W, C);
    if (tile < -1 || tile >= N_GEMM_TILES + N_WG_TILES) die("launch_gemm: bad tile %d", tile);
    if (M == 0) return;
    if (tile < 0) tile = gemm_tile_choice(g, M, N, K, mode, &splits);
    if (tile == GEMM_128X192_TILE && mode == GEMM_SWIGLU_BF16)
        die("launch_gemm: the 128x192 tile has no SwiGLU epilogue");
    if ((splits == GEMM_SPLIT_TAIL || gemm_split_cluster(splits)) && (tile < N_GEMM_TILES || tile == GEMM_SW_TILE))
        die("launch_gemm: tile %d has no tail or cluster split (the wgmma tiles have)", tile);
    if (tile == GEMM_SW_TILE) {
        launch_sw(g, 0, C, A, 0, W, 0, M, N, K, mode, splits, NULL);
    } else if (tile >= N_GEMM_TILES) {
        int i = tile - N_GEMM_TILES;
        launch_wg(g, &wg_tiles[i], kernel(g, TAB_WG, i), 0, C, 0, A, 0, W, 0, M, N, K, mode, splits, NULL);
    } else {
        launch_mma(g, C, A, W, M, N, K, mode, tile, splits);
    }
}

// K splits of FP8 decode tile 6 (gemm_fp8_tc_16x16s: 8 stages, six CTAs an SM): as many as keep every CTA resident
// (2 for the 8B's qkv, o and down), 1..4; QWEN3_DEC_KSPLIT=S forces S. Their sums meet in the cluster's rank 0.
static int dec_ksplit(Gpu *g, int N, int K) {
    static int forced = -1;
    if (forced < 0) forced = env_int("QWEN3_DEC_KSPLIT", 1, 4, 0);
    int sms = g->sm_count > 0 ? g->sm_count : 132, ks = 1;
    if (forced) ks = forced;
    else while (ks < 4 && 2 * ks * cdiv(N, 16) <= 6 * sms) ks *= 2;
    return ks < K / 128 ? ks : K / 128;
}

// QWEN3_FP8_128X256=0: the built-in rules never pick the 128x256 tile (plans still may)
static int fp8_wide_rule(void) {
    static int wide = -1;
    if (wide < 0) wide = env_int("QWEN3_FP8_128X256", 0, 1, 1);
    return wide;
}

// The FP8 tile launch_gemm_fp8_ex runs for tile -1: the swapped tile when forced, a measured plan (which also sets
// *splits), else the rules.
int gemm_fp8_tile_choice(Gpu *g, int M, int N, int K, int *splits) {
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    int pt, ps, tile = -1;
    if (M <= sw_forced_m()) return GEMM_FP8_SW_TILE;
    if (gemm_plan_pick(GEMM_PLAN_FP8, M, N, K, &pt, &ps) && pt < GEMM_FP8_N_TILES) {
        if (splits) *splits = ps;
        return pt;
    }
    // as for bf16: the swapped tile, 16-row mma.sync tiles at decode sizes, wgmma above
    if (M <= SW_RULE_M_FP8 && sw_forced_m() < 0) tile = GEMM_FP8_SW_TILE;
    else if (M <= 16) tile = cdiv(N, 32) >= 2 * sms ? 2 : 6;
    else {
        // wgmma: as for bf16, the least wave-quantised work over 128x128 (from M = 128), 64x128s (two consumers
        // splitting N) and 128x256 (QWEN3_FP8_128X256=0 leaves it to plans; partial tiles of N are fine: the 8B
        // head, N = 151,936, runs it from 160 rows, within 1.2% of the best tile of the session 9 / 16 sweeps at
        // M = 160..8192, where 128x128 took 3-39% longer)
        static const int cand[] = { 0, 5, GEMM_FP8_128X256_TILE }, cost[] = { 110, 140, 100 };
        long long best = -1;
        for (int j = 0; j < 3; j++) {
            const GemmTile *t = &fp8_tiles[cand[j]];
            if ((t->bm == 128 && M < 128) || (t->bn == 256 && !fp8_wide_rule())) continue;
            long long w = waves_cost(M, N, t->bm, t->bn, sms, cost[j]);
            if (best < 0 || w < best) { best = w; tile = cand[j]; }
        }
    }
    int pair = tile == 0 ? 7 : tile == 5 ? 8 : tile == GEMM_FP8_128X256_TILE ? GEMM_FP8_128X256C2_TILE : tile;
    return c2_of(fp8_tiles, tile, pair, M);  // (QWEN3_GEMM_C2=1 only)
}

// The tiles with the RoPE epilogue (mode GEMM_ROPE_KV8): a consumer owns 128 whole columns (ptx/gemm_wg_body.h
// ROPE_TILE): 128x128, 64x128 and the 128x128 pair.
int gemm_fp8_rope_tile(int tile) { return tile == 0 || tile == 1 || tile == 7; }

// The producer-side RMSNorm's checks (GemmNorm): a wgmma tile; mode 7 with its weights and outputs, N % 256 == 0;
// the consumer's sums with K % 512 == 0 and K <= 8192 (ptx/gemm_wg_body.h's RS_*: 16-byte pieces of a row, at most
// four a lane); mode 8 with its operands, on a tile that has it.
static void check_norm(const GemmNorm *nm, int tile, int mode, int N, int K) {
    if (mode == GEMM_ROPE_KV8 && (!nm || !nm->rope || nm->rope % 16 || !gemm_fp8_rope_tile(tile) || N % 128))
        die("launch_gemm_fp8: GEMM_ROPE_KV8 needs its RopeKV8, a tile with the epilogue (tile %d) and N %% 128 == 0 "
            "(N=%d)", tile, N);
    if (mode == GEMM_ADD_NORM8 && !nm) die("launch_gemm_fp8: GEMM_ADD_NORM8 without its GemmNorm");
    if (!nm) return;
    if (nm->uni < 0 || nm->uni > 255) die("launch_gemm_fp8: uniform-scale groups of %d slices (1..255, or 0: off)", nm->uni);
    if (!fp8_tile_is_wg(tile) && (nm->nw || nm->q8 || nm->ss || nm->rope))
        die("launch_gemm_fp8: tile %d has no RMSNorm epilogue (the wgmma tiles have)", tile);
    if (mode == GEMM_ADD_NORM8 && (!nm->nw || !nm->q8 || nm->nw % 16 || nm->q8 % 256 || N % 256))
        die("launch_gemm_fp8: GEMM_ADD_NORM8 needs weights, a 256-byte aligned output and N %% 256 == 0 (N=%d)", N);
    if (nm->ss && (nm->ss % 16 || K % 512 || K > 8192 || !(nm->eps > 0)))
        die("launch_gemm_fp8: the rows' sums need 16-byte alignment, K %% 512 == 0, K <= 8192 (K=%d) and eps > 0", K);
}

int gemm_fp8_wg_choice(Gpu *g, int M, int N, int K) {
    return M > 0 && fp8_tile_is_wg(gemm_fp8_tile_choice(g, M, N, K, NULL));
}

void launch_gemm_fp8_ex(Gpu *g, CUdeviceptr C, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr W8, CUdeviceptr sw, int M,
                        int N, int K, int mode, int tile, int splits) {
    launch_gemm_fp8_nm(g, C, A8, sa, W8, sw, M, N, K, mode, tile, splits, NULL);
}

void launch_gemm_fp8_nm(Gpu *g, CUdeviceptr C, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr W8, CUdeviceptr sw, int M,
                        int N, int K, int mode, int tile, int splits, const GemmNorm *nm) {
    check_gemm_args(M, N, K, 128, mode == GEMM_ADD_NORM8 ? GEMM_ADD_F32 : mode == GEMM_ROPE_KV8 ? GEMM_STORE_BF16 : mode,
                    A8, W8, C);
    if (tile < -1 || tile >= GEMM_FP8_N_TILES) die("launch_gemm_fp8: bad tile %d", tile);
    if (sa % 4 || sw % 4 || !sa || !sw) die("launch_gemm_fp8: missing or misaligned scales");
    if (M == 0) return;
    if (tile < 0) tile = gemm_fp8_tile_choice(g, M, N, K, &splits);
    check_norm(nm, tile, mode, N, K);
    const GemmTile *t = &fp8_tiles[tile];
    if ((splits == GEMM_SPLIT_TAIL || gemm_split_cluster(splits)) && !fp8_tile_is_wg(tile))
        die("launch_gemm_fp8: tile %d has no tail or cluster split (the wgmma tiles have)", tile);
    if (tile == GEMM_FP8_SW_TILE) {
        launch_sw(g, 1, C, A8, sa, W8, sw, M, N, K, mode, splits, NULL);
        return;
    }
    if (fp8_tile_is_wg(tile)) {  // splits: a plan's split-K (0 or 1: none; the pairs never split)
        launch_wg(g, t, kernel(g, TAB_FP8, tile), 1, C, mode == GEMM_ADD_NORM8 ? nm->q8 : 0, A8, sa, W8, sw, M, N, K,
                  mode, splits, nm);
        return;
    }
    int ks = tile == 6 ? dec_ksplit(g, N, K) : 1, ktps = cdiv(K / 128, ks);
    ks = cdiv(K / 128, ktps);  // no empty split
    unsigned uM = (unsigned)M, uN = (unsigned)N, uK = (unsigned)K, umode = (unsigned)mode, uktps = (unsigned)ktps;
    // the ring, then (ks - 1) slots of a tile's f32 partial sums for the cluster's rank 0
    unsigned smem = (unsigned)(t->stages * (t->bm + t->bn) * 128 + (ks - 1) * t->bm * t->bn * 4);
    Dim3 grid = { (unsigned)cdiv(N, t->bn), (unsigned)cdiv(M, t->bm), (unsigned)ks }, block = { (unsigned)t->threads, 1, 1 };
    Dim3 cluster = { 1, 1, (unsigned)ks };
    void *args[] = { &C, &A8, &W8, &sa, &sw, &uM, &uN, &uK, &umode, &uktps };
    gpu_launch(g, kernel(g, TAB_FP8, tile), grid, block, smem, ks > 1 ? &cluster : NULL, args, t->entry);
}

void launch_gemm_fp8(Gpu *g, CUdeviceptr C, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr W8, CUdeviceptr sw, int M,
                     int N, int K, int mode) {
    launch_gemm_fp8_ex(g, C, A8, sa, W8, sw, M, N, K, mode, -1, 0);
}

int launch_gemm_fp8_rowmax(Gpu *g, CUdeviceptr C, CUdeviceptr pmax, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr W8,
                           CUdeviceptr sw, int M, int N, int K, int tile, int splits, int uni) {
    if (tile < -1 || tile >= GEMM_FP8_N_TILES) die("launch_gemm_fp8_rowmax: bad tile %d", tile);
    if (tile < 0 && M > 0) tile = gemm_fp8_tile_choice(g, M, N, K, &splits);
    if (tile < 0 || !fp8_tile_is_wg(tile)) {
        launch_gemm_fp8_ex(g, C, A8, sa, W8, sw, M, N, K, GEMM_STORE_F32, tile, splits);
        return 0;
    }
    check_gemm_args(M, N, K, 128, GEMM_STORE_F32, A8, W8, C);
    if (sa % 4 || sw % 4 || !sa || !sw) die("launch_gemm_fp8_rowmax: missing or misaligned scales");
    if (!pmax || pmax % 4) die("launch_gemm_fp8_rowmax: missing or misaligned maxima");
    GemmNorm un = { .uni = uni };
    check_norm(&un, tile, GEMM_STORE_F32_MAX64, N, K);
    launch_wg(g, &fp8_tiles[tile], kernel(g, TAB_FP8, tile), 1, C, pmax, A8, sa, W8, sw, M, N, K, GEMM_STORE_F32_MAX64,
              splits, uni ? &un : NULL);
    return 1;
}

// QWEN3_SW_BUILD_M=m: the swapped tile builds its input itself up to m rows (0 off, <= 8). Where it pays (H200,
// engine A/B at batch 1, NOTES session 21): the 0.6B +7.8% (every layer 3-6 MB of e4m3); the 4B -8% and the 8B
// -4.6% with every layer built (their 16-100 MB weight streams had hidden the separate launches, and every CTA's
// copy of the work and its smaller ring cost more), so only weights of at most SW_BUILD_MAX_WEIGHT bytes; 2..8 rows
// lost up to half of B = 8's throughput (rows built one after another), so one row by default.
static int sw_build_max_m(void) {
    static int m = -1;
    if (m < 0) m = env_int("QWEN3_SW_BUILD_M", 0, 8, SW_BUILD_DEFAULT_M);
    return m;
}

int gemm_fp8_build_splits(Gpu *g, int M, int N, int K, int norm) {
    int splits = 0;
    if (M < 1 || M > sw_build_max_m() || K % 128 || N % 8 || (norm && K > SW_BUILD_NORM_MAX_K)) return -1;
    if ((long long)N * K > SW_BUILD_MAX_WEIGHT) return -1;
    if (gemm_fp8_tile_choice(g, M, N, K, &splits) != GEMM_FP8_SW_TILE) return -1;
    int nst = sw_stages(8192 + 8 * 128, sw_build_bytes(M, K));
    if (nst * (8192 + 8 * 128 + 16) + (SW_MAX_SPLITS - 1) * 8 * 256 + sw_build_bytes(M, K) > SW_SMEM_MAX) return -1;
    return splits;
}

void launch_gemm_fp8_build(Gpu *g, CUdeviceptr C, CUdeviceptr x, CUdeviceptr nw, float eps, CUdeviceptr W8,
                           CUdeviceptr sw, int M, int N, int K, int mode, int splits) {
    check_gemm_args(M, N, K, 128, mode, x, W8, C);
    if (nw && K > SW_BUILD_NORM_MAX_K)
        die("launch_gemm_fp8_build: the RMSNorm takes K <= %d (K=%d)", SW_BUILD_NORM_MAX_K, K);
    if (M < 1 || M > 8 || x % 16 || nw % 16) die("launch_gemm_fp8_build: M=%d (1..8), x and nw 16-byte aligned", M);
    SwBuild b = { x, nw, eps };
    launch_sw(g, 1, C, 0, 0, W8, sw, M, N, K, mode, splits, &b);
}

// The tiles with an FP8-quantising SwiGLU epilogue (128 outputs per row = one scale block): gemm_wg_128x256 (bf16),
// gemm_fp8_64x256, gemm_fp8_128x256 and their pairs (e4m3 with sa_in / sw).
static int swq_tile(int t) { return t == 4 || t == 9 || t == GEMM_FP8_128X256_TILE || t == GEMM_FP8_128X256C2_TILE; }
void launch_gemm_swiglu_fp8(Gpu *g, CUdeviceptr a8, CUdeviceptr sa, CUdeviceptr A, CUdeviceptr sa_in, CUdeviceptr W,
                            CUdeviceptr sw, int M, int N, int K, int splits, int fp8_tile) {
    launch_gemm_swiglu_fp8_nm(g, a8, sa, A, sa_in, W, sw, M, N, K, splits, fp8_tile, NULL);
}

void launch_gemm_swiglu_fp8_nm(Gpu *g, CUdeviceptr a8, CUdeviceptr sa, CUdeviceptr A, CUdeviceptr sa_in, CUdeviceptr W,
                               CUdeviceptr sw, int M, int N, int K, int splits, int fp8_tile, const GemmNorm *nm) {
    if (nm && (!sw || nm->nw)) die("launch_gemm_swiglu_fp8: only FP8 weights take the rows' sums (and no mode 7)");
    check_gemm_args(M, N, K, sw ? 128 : GEMM_BK, GEMM_SWIGLU_BF16, A, W, a8);
    if (N % 256 || !sa || sa % 4) die("launch_gemm_swiglu_fp8: need N %% 256 == 0 (N=%d) and 4-byte aligned scales", N);
    if (sw && (!sa_in || sa_in % 4 || sw % 4)) die("launch_gemm_swiglu_fp8: missing or misaligned input scales");
    if (M == 0) return;
    if (sw) {
        int t = fp8_tile, pt, ps;
        if (t >= 0 && !swq_tile(t)) die("launch_gemm_swiglu_fp8: tile %d has no quantising SwiGLU epilogue", t);
        if (t < 0 && gemm_plan_pick(GEMM_PLAN_FP8, M, N, K, &pt, &ps) && swq_tile(pt)) {
            t = pt;
            splits = ps;
        }
        if (t < 0) {
            // 64x256 (or its multicast pair) against 128x256: the less work per SM counted in whole waves, ties to
            // the taller tile (fewer bytes a FLOP); QWEN3_FP8_128X256=0 leaves the 128x256 tile to plans
            int wide = fp8_wide_rule(), sms = g->sm_count > 0 ? g->sm_count : 132, nt = cdiv(N, 256);
            int w4 = cdiv(cdiv(M, 64) * nt, sms) * 64, w11 = cdiv(cdiv(M, 128) * nt, sms) * 128;
            t = wide && M >= 128 && w11 <= w4 ? c2_of(fp8_tiles, GEMM_FP8_128X256_TILE, GEMM_FP8_128X256C2_TILE, M)
                                              : c2_of(fp8_tiles, 4, 9, M);
        }
        check_norm(nm, t, GEMM_SWIGLU_FP8, N, K);
        launch_wg(g, &fp8_tiles[t], kernel(g, TAB_FP8, t), 1, a8, sa, A, sa_in, W, sw, M, N, K, GEMM_SWIGLU_FP8,
                  splits, nm);
    }
    else launch_wg(g, &wg_tiles[0], kernel(g, TAB_WG, 0), 0, a8, sa, A, 0, W, 0, M, N, K, GEMM_SWIGLU_FP8, splits, NULL);
}

void launch_quant_act_fp8(Gpu *g, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr X, int M, int K) {
    if (K % 128 || M < 0) die("launch_quant_act_fp8: need K %% 128 == 0 (M=%d K=%d)", M, K);
    if (M == 0) return;
    unsigned uM = (unsigned)M, uK = (unsigned)K;
    unsigned warps = (unsigned)((int64_t)M * (K / 128));
    Dim3 grid = { (warps + 7) / 8, 1, 1 }, block = { 256, 1, 1 };
    void *args[] = { &A8, &sa, &X, &uM, &uK };
    gpu_launch(g, kernel(g, TAB_QUANT, 0), grid, block, 0, NULL, args, "quant_act_fp8");
}

// One scale a row (the uniform scales of GemmNorm.uni): one CTA a row, the row in shared memory (quant_fp8.ptx).
void launch_quant_act_fp8_row(Gpu *g, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr X, int M, int K) {
    if (K % 128 || M < 0) die("launch_quant_act_fp8_row: need K %% 128 == 0 (M=%d K=%d)", M, K);
    if (M == 0) return;
    unsigned uM = (unsigned)M, uK = (unsigned)K;
    Dim3 grid = { uM, 1, 1 }, block = { 128, 1, 1 };
    void *args[] = { &A8, &sa, &X, &uM, &uK };
    if (X % 16) die("launch_quant_act_fp8_row: the input must be 16-byte aligned");
    gpu_launch(g, kernel(g, TAB_QUANT, 2), grid, block, (unsigned)K * 2, NULL, args, "quant_act_fp8_row");
}

static void quant_w(Gpu *g, CUdeviceptr W8, CUdeviceptr sw, CUdeviceptr W, int N, int K, unsigned given) {
    if (K % 128 || N <= 0) die("launch_quant_w_fp8: need K %% 128 == 0 (N=%d K=%d)", N, K);
    unsigned uN = (unsigned)N, uK = (unsigned)K;
    Dim3 grid = { (unsigned)(K / 128), (unsigned)cdiv(N, 128), 1 }, block = { 256, 1, 1 };
    void *args[] = { &W8, &sw, &W, &uN, &uK, &given };
    gpu_launch(g, kernel(g, TAB_QUANT, 1), grid, block, 0, NULL, args, "quant_w_fp8");
}

void launch_quant_w_fp8(Gpu *g, CUdeviceptr W8, CUdeviceptr sw, CUdeviceptr W, int N, int K) {
    quant_w(g, W8, sw, W, N, K, 0);
}

// The block scales first, then each 128-row block's largest of them written into all its K / 128 entries (here: a
// load-time step), then the codes again with those scales (quant_w_fp8's p_given).
void launch_quant_w_fp8_row(Gpu *g, CUdeviceptr W8, CUdeviceptr sw, CUdeviceptr W, int N, int K) {
    quant_w(g, W8, sw, W, N, K, 0);
    int nb = cdiv(N, 128), kb = K / 128;
    float *s = xmalloc((size_t)nb * kb * sizeof *s);
    gpu_download(g, s, sw, (size_t)nb * kb * sizeof *s);
    for (int b = 0; b < nb; b++) {
        float m = 0;
        for (int k = 0; k < kb; k++) m = fmaxf(m, s[(size_t)b * kb + k]);
        for (int k = 0; k < kb; k++) s[(size_t)b * kb + k] = m;
    }
    gpu_upload(g, sw, s, (size_t)nb * kb * sizeof *s);
    free(s);
    quant_w(g, W8, sw, W, N, K, 1);
}

void launch_gemm(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode) {
    launch_gemm_ex(g, C, A, W, M, N, K, mode, -1, 0);
}
