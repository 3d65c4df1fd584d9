// gpu_attn.c — launch_attention: causal GQA attention over the paged KV cache (ptx/attention.ptx, for prefill
// runs ptx/attn_wg.ptx, for decode tokens ptx/attn_dec.ptx).
// defines: launch_attention, launch_attention_tb (explicit tokens per CTA, for tests and benchmarks),
//          launch_attention_dec (the decode kernel, either cache, explicit key split, optionally quantising its
//          output for an FP8 o projection), launch_attention_q (launch_attention, quantising where attn_dec runs),
//          launch_attention_host (prefill runs to the wgmma kernel), launch_attention_runs (the same with an explicit
//          run threshold), launch_attention_wg (one run), launch_attention_wg_varlen (blocks of many runs)
//
// The kernel works on aligned blocks of tb tokens (tb = 64 / G, G = n_head / n_kv: 64 query rows per CTA); a
// block of one sequence is one unit, a mixed block one unit per token. For small T (decode batches) the grid has one
// CTA per token (split: mixed blocks spread over CTAs); for large T one CTA per block (no CTAs that only exit).
// When that still leaves SMs idle (decode of a few sequences), each unit's keys are split over a cluster of up to
// 8 CTAs that merge their partial softmax states through distributed shared memory (no scratch memory needed).
//
// Prefill runs (issue 6): launch_attention_host also gets the step's slots and positions on the host; every run of
// at least min_run tokens holding consecutive positions of one slot (a prefill chunk) goes to the wgmma + TMA kernel
// of ptx/attn_wg.ptx, the tokens between runs to attention.ptx (one launch per stretch; a decode step is one stretch,
// launched exactly as launch_attention would). The runs go in ONE launch of the varlen entry (every run's 128-row
// blocks are work items, passed in the kernel params: no device buffer, nothing to order against the host) or, with
// QWEN3_ATTN_WG_VARLEN=0, one launch per run (launch_attention_wg).
// FP8 KV cache (k_scale, v_scale non-zero: pools e4m3 [n_pages][n_kv][64][128] with f32 row scales
// [n_pages][n_kv][64], written by launch_qknorm_rope_kv_fp8): attention.ptx's fp8 entry stages e4m3 tiles and
// converts them to f16 tiles in the bf16 layout; attn_wg.ptx's fp8 entries (session 24) TMA e4m3 pages and convert
// them in shared memory the same way, so an FP8 cache's prefill runs take the wgmma kernel too (QWEN3_ATTN_WG8=0: not).
// Decode tokens: attn_dec.ptx loads K/V straight into mma fragments (keys on the M side, 4 warps per token). Where
// it is on (QWEN3_ATTN_DEC: bit 0 the fp8 cache, bit 1 the bf16 cache; default 3, both), tokens not in a run of >= 2
// consecutive positions of one slot (decode tokens; every token of a graph-captured step) go to it, runs shorter
// than the wgmma kernel's threshold to attention.ptx; QWEN3_ATTN_DEC=0: attention.ptx for every such token.
// QWEN3_ATTN_WG: unset or 1 = runs of >= ATT_WG_MIN_RUN tokens, 0 = never (old path only), N >= 2 = runs of >= N;
// QWEN3_ATTN_WG_KERNEL: 1 (default) the overlapped variant attn_wg_h128_pipe, 0 the plain one attn_wg_h128.
// QWEN3_ATTN_WG_VARLEN: 1 (default: tested on an H100, e317482) all runs in one launch (attn_wg_h128[_pipe]_varlen),
// 0 one launch per run. QWEN3_ATTN_WG_PACK: 1 (default) an fp8 cache's varlen launch whose items all have <= 256
// keys takes attn_wg_h128_pack_varlen_fp8 (a GQA group a CTA; session 45: 86.7 -> 55.6 us a layer for the B = 256
// job's 30 prompts of 128 tokens, the same bits), 0 the unpacked entry.
// The threshold is a guess until bench/attention compares the kernels per run length: a short run wastes most of
// attn_wg's 128-row blocks, and the old kernel packs the G heads of a group into its 64 rows instead.
#include <stdlib.h>
#include <string.h>
#include "gpu_ops.h"
#include "kv_pages.h"
#include "util.h"

enum { ATT_HEAD_DIM = 128, ATT_ROWS = 64, ATT_KT = 64 };
// One page is one key tile: the kernel looks the page up once per tile (ptx/attention.ptx).
_Static_assert(KV_PAGE == ATT_KT, "the KV page must be the attention kernel's key tile (64 keys)");
// Must match ptx/attention.ptx: Q tile + two (K, V) tile buffers + slot/position table of the block; fp8: Q tile +
// one bf16 (K, V) buffer + two staging stages (e4m3 K and V tiles and their f32 row scales) + the table.
static const unsigned ATT_SMEM = ATT_ROWS * 256 + 2 * 2 * ATT_KT * 256 + 2 * ATT_ROWS * 4;
static const unsigned ATT_SMEM_FP8 = ATT_ROWS * 256 + 2 * ATT_KT * 256 + 2 * (2 * ATT_KT * 128 + 2 * ATT_KT * 4) +
                                     2 * ATT_ROWS * 4;

enum { ATT_SPLIT_MAX_T = 512 };  // up to this many tokens, one CTA per token (split grid)

// CTAs (a cluster along z) sharing each unit's keys: kv_split if > 0, else enough to fill the SMs with `ctas` units
// (at most one CTA per token and kv head otherwise); 1 .. 8 (the portable cluster size).
static int key_split(const Gpu *g, int kv_split, long ctas) {
    if (kv_split <= 0) kv_split = (int)((g->sm_count > 0 ? g->sm_count : 132) / ctas);
    return kv_split < 1 ? 1 : kv_split > 8 ? 8 : kv_split;
}

// tb: tokens per block, 1 .. 64 / G (1 = always one token per CTA), 0 = the default 64 / G;
// split: 1 one CTA per token, 0 one CTA per block, -1 = by T; kv_split: CTAs (a cluster) sharing the keys of
// each unit, 1 .. 8, 0 = by the number of CTAs. k_scale = v_scale = 0: bf16 pools; else e4m3 pools + row scales.
void launch_attention_tb(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                         CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                         CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim, int max_pages, float scale,
                         int tb, int split, int kv_split) {
    static CUcontext fn_ctx;
    static CUfunction fn[2];  // bf16, fp8 cache
    if (head_dim != ATT_HEAD_DIM) die("launch_attention: head_dim %d is not supported (only 128)", head_dim);
    if (n_kv <= 0 || n_head <= 0 || n_head % n_kv || n_head / n_kv > ATT_ROWS)
        die("launch_attention: %d query heads over %d kv heads is not supported", n_head, n_kv);
    if (max_pages <= 0 || T < 0) die("launch_attention: bad T=%d max_pages=%d", T, max_pages);
    if ((q | k_pool | v_pool) % 16 || out % 4 || (tok_slot | tok_pos | block_table) % 4)
        die("launch_attention: q and the pools must be 16-byte aligned, out and the int arrays 4-byte aligned");
    int fp8 = k_scale != 0;
    if (fp8 != (v_scale != 0) || (k_scale | v_scale) % 16)
        die("launch_attention: an fp8 cache needs both scale pools, 16-byte aligned");
    int G = n_head / n_kv;
    if (tb <= 0) tb = ATT_ROWS / G;
    if (tb * G > ATT_ROWS) die("launch_attention: %d tokens x %d heads exceed the %d rows of a CTA", tb, G, ATT_ROWS);
    if (T == 0) return;
    if (fn_ctx != g->ctx) {
        fn[0] = gpu_kernel(g, "attention", "attention_gqa_h128");
        fn[1] = gpu_kernel(g, "attention", "attention_gqa_h128_fp8");
        fn_ctx = g->ctx;
    }
    unsigned uT = (unsigned)T, uh = (unsigned)n_head, ukv = (unsigned)n_kv, upages = (unsigned)max_pages;
    if (split < 0) split = T <= ATT_SPLIT_MAX_T;
    unsigned utb = (unsigned)tb, usplit = split ? 1u : 0u;
    Dim3 grid = { split ? uT : (uT + utb - 1) / utb, ukv, 1 }, block = { 128, 1, 1 };
    kv_split = key_split(g, kv_split, (long)grid.x * grid.y);
    grid.z = (unsigned)kv_split;
    Dim3 cluster = { 1, 1, (unsigned)kv_split };
    void *args[] = { &out, &q, &k_pool, &v_pool, &k_scale, &v_scale, &block_table, &tok_slot, &tok_pos, &uT, &uh,
                     &ukv, &upages, &utb, &usplit, &scale };
    gpu_launch(g, fn[fp8], grid, block, fp8 ? ATT_SMEM_FP8 : ATT_SMEM, kv_split > 1 ? &cluster : NULL, args,
               fp8 ? "attention_gqa_h128_fp8" : "attention_gqa_h128");
}

// ---------------------------------------------------------------- decode tokens: ptx/attn_dec.ptx
// One CTA per (token, kv head), keys split over its 4 warps (and over a cluster of kv_split CTAs, 1..8; 0: by the
// CTA count, as above). Any token works (each is attended alone), but a run of a sequence's positions is cheaper in
// attention.ptx, which loads each key once for a block of the run's tokens. k_scale = v_scale = 0: bf16 pools.
// A warp a unit instead (the kernel decides, from entry 0's position): where the tokens come in an order (tok_ix:
// the engine's longest first), there are at least DEC_WIDE_WARPS_SM (token, kv head) units an SM (about the 16 warps
// an SM of the CTA mapping's first wave) and no key split, and the longest context is under QWEN3_ATTN_WIDE_KEYS keys
// (0: never). Many short units then stream through the SMs each on its own warp instead of 4 CTAs an SM that load,
// compute and merge in step. H200, session 40: B = 256 x 128..256 keys +1.9% decode, B = 1,024 +1.4%; at B = 64
// (512 units, 4 warps an SM) -3%, hence the unit count (NOTES).
// Dynamic shared memory (must match ptx/attn_dec.ptx): the merge's partials and (max, sum), 16,640 B; the fp8 entry's
// rings of chunk slots are larger (4 warps x RING_D 3 x 4,224 B) and the partials reuse them.
enum { DEC_MAX_G = 8, DEC_SMEM_BF16 = 16384 + 256, DEC_SMEM_FP8 = 4 * 3 * 4224 };
// With an order the caller also promises that the pass arrays, the block table and every pool row below an entry's
// position were written before the kernel launched just before this one began (the engine's graph-replayed decode
// passes, one token a sequence: the qkv launch before writes only the rows at the positions). Without a key split
// the kernel then reads its units' slots and positions before its PDL wait, and a lone warp (the warp mapping) also
// its block-table row and the chunks wholly below its position (DEC_WIDE_EARLY in p_wide, the kernel's WIDE_EARLY;
// QWEN3_ATTN_EARLY=0: everything after the wait). The fp8 cache only. H200, session 41, decode-only against
// QWEN3_ATTN_EARLY=0: +0.8% at B = 256 and 1,024, +0.3% on the random workload; +1% at B = 16 (the metadata); copying
// chunks early in the CTA mapping too measured level to -0.4% at B = 1..64 (there the copies compete with qkv's
// weight stream), the bf16 cache's entry (which reads only its metadata early) -0.3% at B = 256: neither is done.
enum { DEC_WIDE_WARPS_SM = 15, DEC_WIDE_KEYS = 512 };
#define DEC_WIDE_EARLY 0x80000000u
void launch_attention_dec(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                          CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                          CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim, int max_pages, float scale,
                          int kv_split, CUdeviceptr out8, CUdeviceptr sa8, CUdeviceptr tok_ix) {
    static CUcontext fn_ctx;
    static CUfunction fn[2];  // bf16, fp8 cache
    static int split_env = -1, wide_keys = -1, wide_sm = -1, early = -1;
    if (head_dim != ATT_HEAD_DIM) die("launch_attention_dec: head_dim %d is not supported (only 128)", head_dim);
    if (n_kv <= 0 || n_head <= 0 || n_head % n_kv || n_head / n_kv > DEC_MAX_G)
        die("launch_attention_dec: %d query heads over %d kv heads is not supported (at most %d per kv head)", n_head,
            n_kv, DEC_MAX_G);
    if (max_pages <= 0 || T < 0) die("launch_attention_dec: bad T=%d max_pages=%d", T, max_pages);
    int fp8 = k_scale != 0;
    if (fp8 != (v_scale != 0) || (out | q | k_pool | v_pool | k_scale | v_scale) % 16 ||
        (tok_slot | tok_pos | block_table) % 4)
        die("launch_attention_dec: out, q, the pools (and an fp8 cache's two scale pools) must be 16-byte aligned");
    if (out8 && (out8 % 8 || !sa8 || sa8 % 4)) die("launch_attention_dec: out8 must be 8-byte aligned, with scales sa8");
    if (tok_ix % 4 || T > 65535) die("launch_attention_dec: tok_ix must be 4-byte aligned, T (%d) at most 65,535", T);
    if (T == 0) return;
    if (fn_ctx != g->ctx) {
        fn[0] = gpu_kernel(g, "attn_dec", "attn_dec_bf16");
        fn[1] = gpu_kernel(g, "attn_dec", "attn_dec_fp8");
        fn_ctx = g->ctx;
        split_env = env_int("QWEN3_ATTN_DEC_SPLIT", 0, 8, 0);  // a key split for every launch (0: by the CTA count)
        wide_keys = env_int("QWEN3_ATTN_WIDE_KEYS", 0, 1 << 30, DEC_WIDE_KEYS);
        wide_sm = env_int("QWEN3_ATTN_WIDE_SM", 1, 1 << 20, DEC_WIDE_WARPS_SM);  // the fewest units an SM for it
        early = env_int("QWEN3_ATTN_EARLY", 0, 1, 1);
    }
    unsigned uh = (unsigned)n_head, ukv = (unsigned)n_kv, upages = (unsigned)max_pages;
    if (split_env > 0) kv_split = split_env;
    kv_split = key_split(g, kv_split, (long)T * n_kv);
    Dim3 grid = { ukv, (unsigned)T, (unsigned)kv_split }, block = { 128, 1, 1 }, cluster = { 1, 1, grid.z };
    long wide_units = (long)wide_sm * (g->sm_count > 0 ? g->sm_count : 132);
    unsigned wide = tok_ix && kv_split == 1 && (long)T * n_kv >= wide_units ? (unsigned)wide_keys : 0;
    if (tok_ix && kv_split == 1 && early && fp8) wide |= DEC_WIDE_EARLY;
    void *args[] = { &out, &q, &k_pool, &v_pool, &k_scale, &v_scale, &block_table, &tok_slot, &tok_pos, &uh, &ukv,
                     &upages, &scale, &out8, &sa8, &tok_ix, &wide };
    gpu_launch(g, fn[fp8], grid, block, fp8 ? DEC_SMEM_FP8 : DEC_SMEM_BF16, kv_split > 1 ? &cluster : NULL, args,
               fp8 ? "attn_dec_fp8" : "attn_dec_bf16");
}

// Which caches send their decode tokens to attn_dec.ptx: QWEN3_ATTN_DEC, bit 0 the fp8 cache, bit 1 the bf16 cache
// (default DEC_DEFAULT; 0: attention.ptx for every token, for A/B runs).
enum { DEC_DEFAULT = 3 };  // both (b0d2c8d, H100: bf16 at batch 1 8.1 against 14.8 us a launch, NOTES)
static int use_attn_dec(int fp8, int n_head, int n_kv) {
    static int mask = -1;
    if (mask < 0) {
        mask = env_int("QWEN3_ATTN_DEC", 0, 3, DEC_DEFAULT);
    }
    return (mask >> (fp8 ? 0 : 1) & 1) && n_kv > 0 && n_head % n_kv == 0 && n_head / n_kv <= DEC_MAX_G;
}

int launch_attention_q(Gpu *g, CUdeviceptr out, CUdeviceptr out8, CUdeviceptr sa8, CUdeviceptr q, CUdeviceptr k_pool,
                       CUdeviceptr v_pool, CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table,
                       CUdeviceptr tok_slot, CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim,
                       int max_pages, float scale, const AttnOrder *ord) {
    if (use_attn_dec(k_scale != 0, n_head, n_kv)) {
        if (ord)
            launch_attention_dec(g, out, q, k_pool, v_pool, k_scale, v_scale, block_table, ord->slot, ord->pos, T,
                                 n_head, n_kv, head_dim, max_pages, scale, 0, out8, sa8, ord->tok);
        else
            launch_attention_dec(g, out, q, k_pool, v_pool, k_scale, v_scale, block_table, tok_slot, tok_pos, T,
                                 n_head, n_kv, head_dim, max_pages, scale, 0, out8, sa8, 0);
        return out8 != 0;
    }
    launch_attention_tb(g, out, q, k_pool, v_pool, k_scale, v_scale, block_table, tok_slot, tok_pos, T, n_head, n_kv,
                        head_dim, max_pages, scale, 0, -1, 0);
    return 0;
}

void launch_attention(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                      CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                      CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim, int max_pages, float scale) {
    launch_attention_q(g, out, 0, 0, q, k_pool, v_pool, k_scale, v_scale, block_table, tok_slot, tok_pos, T, n_head,
                       n_kv, head_dim, max_pages, scale, NULL);
}

// ---------------------------------------------------------------- prefill runs: ptx/attn_wg.ptx
// Must match ptx/attn_wg.ptx: 128 query rows per CTA, 384 threads, Q (32 KB) + `stages` stages of K and V tiles
// (64 KB each) + 2 mbarriers per stage + 1.
// WG_WORK_MAX: work items per varlen launch (ptx/attn_wg.ptx's WORK_BYTES / 16).
enum { WG_ROWS = 128, WG_THREADS = 384, WG_BOX = 64, ATT_WG_MIN_RUN = 128, ATT_WG_VARIANTS = 2, WG_WORK_MAX = 224 };
static const struct { const char *entry, *varlen; unsigned stages; } wg_variants[ATT_WG_VARIANTS + 1] = {
    { "attn_wg_h128", "attn_wg_h128_varlen", 2 },  // S wgmma, softmax, O wgmma in turn
    // S(it) and O += P(it-1).V(it-1) in flight together (FA3's intra-warpgroup overlap)
    { "attn_wg_h128_pipe", "attn_wg_h128_pipe_varlen", 3 },
    // the fp8 cache (either variant asked for): the overlapped kernel, e4m3 tiles converted in shared memory
    { "attn_wg_h128_pipe_fp8", "attn_wg_h128_pipe_varlen_fp8", 3 },
};
// The fp8 entries' shared memory beyond the bf16 layout: per stage the K row scales (f32 x 128) and the V ones
// (f16 x 128), and per stage a land barrier plus the qready one (ptx/attn_wg_body.h).
enum { WG8_EXTRA = 3 * (512 + 256) + 3 * 8 + 8 };
// Short items on the fp8 cache: attn_wg_h128_pack_varlen_fp8 (attn_wg_body.h's GPACK) takes a GQA group a CTA where
// every item's keys fit its two stages (WG_PACK_KEYS) and there are at least two heads a group; QWEN3_ATTN_WG_PACK=0
// turns it off. Shared memory: two Q buffers, two stages, their row scales, then the barriers (full, empty, qfull,
// land x 2, qready, then qbar / qready / qfree pairs: 112 B).
enum { WG_PACK_KEYS = 256, WG_PACK_SMEM = 4 * 16384 + 2 * 65536 + 2 * (512 + 256) + 112 };

// What both attn_wg launchers share. wg_check: the shape and alignment checks (who: the launcher's name).
// wg_setup: the entry of the variant (varlen or per-run), the three TMA maps (q viewed as [q_rows][n_head * 128],
// the pools as [pool_pages * n_kv * 64][128]) and the dynamic shared memory.
static void wg_check(const char *who, int variant, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool,
                     CUdeviceptr v_pool, CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr bt, int n_head,
                     int n_kv, int head_dim, int max_pages, int pool_pages) {
    if (variant < 0 || variant >= ATT_WG_VARIANTS) die("%s: bad variant %d", who, variant);
    if (head_dim != ATT_HEAD_DIM) die("%s: head_dim %d is not supported (only 128)", who, head_dim);
    if (n_kv <= 0 || n_head <= 0 || n_head % n_kv)
        die("%s: %d query heads over %d kv heads is not supported", who, n_head, n_kv);
    if (pool_pages <= 0 || max_pages <= 0) die("%s: bad max_pages %d or pool_pages %d", who, max_pages, pool_pages);
    if ((q | k_pool | v_pool) % 16 || out % 4 || bt % 4)
        die("%s: q and the pools must be 16-byte aligned, out and the block table 4-byte aligned", who);
    if ((k_scale != 0) != (v_scale != 0) || (k_scale | v_scale) % 4)
        die("%s: an fp8 cache needs both scale pools, 4-byte aligned", who);
}

static CUfunction wg_setup(Gpu *g, int varlen, int variant, int kv8, CUdeviceptr q, CUdeviceptr k_pool,
                           CUdeviceptr v_pool, int q_rows, int n_head, int n_kv, int pool_pages, CUtensorMap map[3],
                           unsigned *smem) {
    static CUcontext fn_ctx;
    static CUfunction fn[2][ATT_WG_VARIANTS + 1];
    if (kv8) variant = ATT_WG_VARIANTS;
    if (fn_ctx != g->ctx) {
        for (int i = 0; i <= ATT_WG_VARIANTS; i++) {
            fn[0][i] = gpu_kernel(g, "attn_wg", wg_variants[i].entry);
            fn[1][i] = gpu_kernel(g, "attn_wg", wg_variants[i].varlen);
        }
        fn_ctx = g->ctx;
    }
    uint64_t q_cols = (uint64_t)n_head * ATT_HEAD_DIM, pool_rows = (uint64_t)pool_pages * n_kv * KV_PAGE;
    gpu_tmap_2d(&map[0], q, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, (uint64_t)q_rows, q_cols, q_cols * 2, WG_ROWS, WG_BOX,
                CU_TENSOR_MAP_SWIZZLE_128B);
    if (kv8) {  // e4m3 rows of 128 B, a box = one page (64 rows), as staged (no swizzle: the producer converts it)
        gpu_tmap_2d(&map[1], k_pool, CU_TENSOR_MAP_DATA_TYPE_UINT8, pool_rows, ATT_HEAD_DIM, ATT_HEAD_DIM, WG_BOX,
                    ATT_HEAD_DIM, CU_TENSOR_MAP_SWIZZLE_NONE);
        gpu_tmap_2d(&map[2], v_pool, CU_TENSOR_MAP_DATA_TYPE_UINT8, pool_rows, ATT_HEAD_DIM, ATT_HEAD_DIM, WG_BOX,
                    ATT_HEAD_DIM, CU_TENSOR_MAP_SWIZZLE_NONE);
    } else {
        gpu_tmap_2d(&map[1], k_pool, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, pool_rows, ATT_HEAD_DIM, ATT_HEAD_DIM * 2,
                    WG_BOX, WG_BOX, CU_TENSOR_MAP_SWIZZLE_128B);
        gpu_tmap_2d(&map[2], v_pool, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, pool_rows, ATT_HEAD_DIM, ATT_HEAD_DIM * 2,
                    WG_BOX, WG_BOX, CU_TENSOR_MAP_SWIZZLE_128B);
    }
    *smem = 2 * 16384 + wg_variants[variant].stages * (65536 + 16) + 8 + (kv8 ? WG8_EXTRA : 0);
    return fn[varlen != 0][variant];
}

// One run: tokens 0..n-1 at positions pos0 .. pos0+n-1 of the slot whose block-table row is bt_row (int32
// [max_pages]); q and out already point at the run's first token. pool_pages: pages in each pool (scratch included):
// the TMA maps cover the whole pool. variant: 0 attn_wg_h128, 1 attn_wg_h128_pipe; k_scale, v_scale != 0: the fp8
// cache (e4m3 pools and their f32 row scales), attn_wg_h128_pipe_fp8 whatever the variant.
void launch_attention_wg(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                         CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr bt_row, int n, int pos0, int n_head,
                         int n_kv, int head_dim, int max_pages, int pool_pages, float scale, int variant) {
    wg_check("launch_attention_wg", variant, out, q, k_pool, v_pool, k_scale, v_scale, bt_row, n_head, n_kv, head_dim,
             max_pages, pool_pages);
    if (n < 0 || pos0 < 0 || (int64_t)pos0 + n > (int64_t)max_pages * KV_PAGE)
        die("launch_attention_wg: bad run n=%d pos0=%d (max_pages %d, pool_pages %d)", n, pos0, max_pages, pool_pages);
    if (n == 0) return;
    if ((n + WG_ROWS - 1) / WG_ROWS > 65535) die("launch_attention_wg: a run of %d tokens is too long", n);
    CUtensorMap m[3];
    unsigned smem;
    int kv8 = k_scale != 0;
    CUfunction fn = wg_setup(g, 0, variant, kv8, q, k_pool, v_pool, n, n_head, n_kv, pool_pages, m, &smem);
    unsigned un = (unsigned)n, upos0 = (unsigned)pos0, uh = (unsigned)n_head, uG = (unsigned)(n_head / n_kv);
    Dim3 grid = { uh, (un + WG_ROWS - 1) / WG_ROWS, 1 }, block = { WG_THREADS, 1, 1 };
    void *args[] = { &m[0], &m[1], &m[2], &out, &bt_row, &un, &upos0, &uh, &uG, &scale };
    void *args8[] = { &m[0], &m[1], &m[2], &out, &bt_row, &k_scale, &v_scale, &un, &upos0, &uh, &uG, &scale };
    gpu_launch(g, fn, grid, block, smem, NULL, kv8 ? args8 : args, wg_variants[kv8 ? ATT_WG_VARIANTS : variant].entry);
}

// A run (launch_attention_runs) or a work item of the varlen entry (a block of up to 128 rows of one run, done as a
// run of its own): rows row .. row + n - 1 of the step's q and out, positions pos0 .. pos0 + n - 1 of slot. Layout of
// ptx/attn_wg_body.h's p_work items.
typedef struct { int32_t row, n, pos0, slot; } AttnWork;
_Static_assert(sizeof(AttnWork) == 16, "a work item is int32 x 4");

static int cmp_keys_desc(const void *a, const void *b) {  // most keys first (ties: step order)
    const AttnWork *x = a, *y = b;
    int kx = x->pos0 + x->n, ky = y->pos0 + y->n;
    return kx != ky ? (kx < ky ? 1 : -1) : (x->row > y->row) - (x->row < y->row);
}

// Many runs in one launch (or one per WG_WORK_MAX items): q and out are the whole step's ([T][n_head * 128]); each
// run is split into blocks of 128 rows, all sorted longest first; block_table is the whole table ([slots][max_pages]).
static void launch_attention_wg_varlen(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool,
                                       CUdeviceptr v_pool, CUdeviceptr k_scale, CUdeviceptr v_scale,
                                       CUdeviceptr block_table, const AttnWork *runs, int n_runs,
                                       int T, int n_head, int n_kv, int head_dim, int max_pages, int pool_pages,
                                       float scale, int variant) {
    wg_check("launch_attention_wg_varlen", variant, out, q, k_pool, v_pool, k_scale, v_scale, block_table, n_head, n_kv,
             head_dim, max_pages, pool_pages);
    if (T <= 0) die("launch_attention_wg_varlen: bad T=%d", T);
    int n_items = 0;
    for (int r = 0; r < n_runs; r++) {
        const AttnWork *w = &runs[r];
        if (w->n < 0 || w->pos0 < 0 || w->row < 0 || w->slot < 0 || (int64_t)w->row + w->n > T ||
            (int64_t)w->pos0 + w->n > (int64_t)max_pages * KV_PAGE)
            die("launch_attention_wg_varlen: bad run row=%d n=%d pos0=%d slot=%d (T %d, max_pages %d)", w->row, w->n,
                w->pos0, w->slot, T, max_pages);
        n_items += (w->n + WG_ROWS - 1) / WG_ROWS;
    }
    if (n_items == 0) return;
    AttnWork *items = xmalloc((size_t)n_items * sizeof *items);
    n_items = 0;
    for (int r = 0; r < n_runs; r++)
        for (int b = 0; b < runs[r].n; b += WG_ROWS) {
            int n = runs[r].n - b < WG_ROWS ? runs[r].n - b : WG_ROWS;
            items[n_items++] = (AttnWork){ runs[r].row + b, n, runs[r].pos0 + b, runs[r].slot };
        }
    qsort(items, (size_t)n_items, sizeof *items, cmp_keys_desc);
    CUtensorMap m[3];
    unsigned smem;
    int kv8 = k_scale != 0;
    CUfunction fn = wg_setup(g, 1, variant, kv8, q, k_pool, v_pool, T, n_head, n_kv, pool_pages, m, &smem);
    unsigned upages = (unsigned)max_pages, uh = (unsigned)n_head, uG = (unsigned)(n_head / n_kv);
    // (read at every launch: test_gpu_attn compares both ways; the items go longest first, so the first one's keys
    // bound every item's)
    int pack = kv8 && uG >= 2 && items[0].pos0 + items[0].n <= WG_PACK_KEYS && env_int("QWEN3_ATTN_WG_PACK", 0, 1, 1);
    const char *entry = wg_variants[kv8 ? ATT_WG_VARIANTS : variant].varlen;
    if (pack) {
        static CUcontext pk_ctx;
        static CUfunction pk_fn;
        if (pk_ctx != g->ctx) {
            pk_fn = gpu_kernel(g, "attn_wg", "attn_wg_h128_pack_varlen_fp8");
            pk_ctx = g->ctx;
        }
        fn = pk_fn;
        smem = WG_PACK_SMEM;
        entry = "attn_wg_h128_pack_varlen_fp8";
    }
    AttnWork work[WG_WORK_MAX];  // the param array: its whole size is copied at every launch
    for (int i0 = 0; i0 < n_items; i0 += WG_WORK_MAX) {
        int n = n_items - i0 < WG_WORK_MAX ? n_items - i0 : WG_WORK_MAX;
        memset(work, 0, sizeof work);
        memcpy(work, items + i0, (size_t)n * sizeof *items);
        Dim3 grid = { pack ? uh / uG : uh, (unsigned)n, 1 }, block = { WG_THREADS, 1, 1 };
        void *args[] = { &m[0], &m[1], &m[2], &out, &block_table, &upages, &uh, &uG, &scale, work };
        void *args8[] = { &m[0], &m[1], &m[2], &out, &block_table, &k_scale, &v_scale, &upages, &uh, &uG, &scale,
                          work };
        gpu_launch(g, fn, grid, block, smem, NULL, kv8 ? args8 : args, entry);
    }
    free(items);
}

// Run of tokens starting at t (< end): consecutive positions of one slot; returns its end.
static int run_end(const int *h_slot, const int *h_pos, int t, int end) {
    int e = t + 1;
    while (e < end && h_slot[e] == h_slot[t] && h_pos[e] == h_pos[t] + (e - t)) e++;
    return e;
}

// Tokens a .. b-1 of the step (no wgmma run among them) on the mma.sync kernels. Where attn_dec.ptx takes this
// cache's decode tokens (dec), single tokens go to it and each stretch of adjacent runs of >= 2 tokens to
// attention.ptx in one launch (a run's tokens share each key load there; one launch for a step's prompts fills the
// SMs where one 128-token prompt is 64 CTAs); otherwise all in one launch_attention.
static void launch_stretch(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                           CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                           CUdeviceptr tok_pos, const int *h_slot, const int *h_pos, int a, int b, int n_head,
                           int n_kv, int head_dim, int max_pages, float scale, int dec) {
    size_t row = (size_t)n_head * head_dim * 2;  // bytes of one token's q (and out) row
    for (int t = a; t < b;) {
        int s = t, e;
        while (t < b && (!dec || (e = run_end(h_slot, h_pos, t, b)) == t + 1)) t++;  // singles (or all, !dec)
        if (t > s)
            launch_attention(g, out + s * row, q + s * row, k_pool, v_pool, k_scale, v_scale, block_table,
                             tok_slot + 4 * s, tok_pos + 4 * s, t - s, n_head, n_kv, head_dim, max_pages, scale);
        s = t;
        while (t < b && (e = run_end(h_slot, h_pos, t, b)) > t + 1) t = e;  // adjacent runs
        if (t > s)
            launch_attention_tb(g, out + s * row, q + s * row, k_pool, v_pool, k_scale, v_scale, block_table,
                                tok_slot + 4 * s, tok_pos + 4 * s, t - s, n_head, n_kv, head_dim, max_pages, scale,
                                0, -1, 0);
    }
}

// min_run: runs of at least this many tokens go to the wgmma kernel (<= 0: none), its variant `variant`, all in one
// varlen launch (varlen) or one launch per run; an fp8 cache (k_scale != 0) on the fp8 entries (the overlapped kernel,
// whatever the variant). The tokens between those runs: launch_stretch.
void launch_attention_runs(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                           CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                           CUdeviceptr tok_pos, const int *h_slot, const int *h_pos, int T, int n_head, int n_kv,
                           int head_dim, int max_pages, int pool_pages, float scale, int min_run, int variant,
                           int varlen) {
    int dec = use_attn_dec(k_scale != 0, n_head, n_kv);
    size_t row = (size_t)n_head * head_dim * 2;
    int rest = 0;  // first token not yet launched
    AttnWork *runs = NULL;
    int n_runs = 0;
    for (int t = 0; t < T && min_run > 0;) {
        int e = run_end(h_slot, h_pos, t, T);
        if (e - t >= min_run) {
            launch_stretch(g, out, q, k_pool, v_pool, k_scale, v_scale, block_table, tok_slot, tok_pos, h_slot, h_pos,
                           rest, t, n_head, n_kv, head_dim, max_pages, scale, dec);
            if (varlen) {  // at most T / min_run runs
                if (!runs) runs = xmalloc((size_t)(T / min_run + 1) * sizeof *runs);
                runs[n_runs++] = (AttnWork){ t, e - t, h_pos[t], h_slot[t] };
            } else {
                CUdeviceptr bt_row = block_table + (size_t)h_slot[t] * max_pages * 4;
                launch_attention_wg(g, out + t * row, q + t * row, k_pool, v_pool, k_scale, v_scale, bt_row, e - t,
                                    h_pos[t], n_head, n_kv, head_dim, max_pages, pool_pages, scale, variant);
            }
            rest = e;
        }
        t = e;
    }
    if (n_runs)
        launch_attention_wg_varlen(g, out, q, k_pool, v_pool, k_scale, v_scale, block_table, runs, n_runs, T, n_head,
                                   n_kv, head_dim,
                                   max_pages, pool_pages, scale, variant);
    free(runs);
    launch_stretch(g, out, q, k_pool, v_pool, k_scale, v_scale, block_table, tok_slot, tok_pos, h_slot, h_pos, rest, T,
                   n_head, n_kv, head_dim, max_pages, scale, dec);
}

void launch_attention_host(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                           CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                           CUdeviceptr tok_pos, const int *h_slot, const int *h_pos, int T, int n_head, int n_kv,
                           int head_dim, int max_pages, int pool_pages, float scale) {
    static int min_run = -1, variant = 1, varlen = 1, wg8 = 1;
    if (min_run < 0) {
        varlen = env_int("QWEN3_ATTN_WG_VARLEN", 0, 1, 1);
        min_run = env_int("QWEN3_ATTN_WG", 0, 1 << 20, ATT_WG_MIN_RUN);
        if (min_run == 1) min_run = ATT_WG_MIN_RUN;  // "1" means on, with the default threshold
        variant = env_int("QWEN3_ATTN_WG_KERNEL", 0, 1, 1);
        wg8 = env_int("QWEN3_ATTN_WG8", 0, 1, 1);
    }
    if (k_scale && !wg8) min_run = 0;  // QWEN3_ATTN_WG8=0: the fp8 cache's runs stay on attention.ptx
    launch_attention_runs(g, out, q, k_pool, v_pool, k_scale, v_scale, block_table, tok_slot, tok_pos, h_slot, h_pos,
                          T, n_head, n_kv, head_dim, max_pages, pool_pages, scale, min_run, variant, varlen);
}
