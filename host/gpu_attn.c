// gpu_attn.c — launch_attention: causal GQA attention over the paged KV cache (ptx/attention.ptx).
// defines: launch_attention, launch_attention_tb (explicit tokens per CTA, for tests and benchmarks)
//
// The kernel works on aligned blocks of tb tokens (tb = 64 / G, G = n_head / n_kv: 64 query rows per CTA); a
// block of one sequence is one unit, a mixed block one unit per token. For small T (decode batches) the grid has one
// CTA per token (split: mixed blocks spread over CTAs); for large T one CTA per block (no CTAs that only exit).
// When that still leaves SMs idle (decode of a few sequences), each unit's keys are split over a cluster of up to
// 8 CTAs that merge their partial softmax states through distributed shared memory (no scratch memory needed).
#include "gpu_ops.h"
#include "kv_pages.h"
#include "util.h"

enum { ATT_HEAD_DIM = 128, ATT_ROWS = 64, ATT_KT = 64 };
// One page is one key tile: the kernel looks the page up once per tile (ptx/attention.ptx).
_Static_assert(KV_PAGE == ATT_KT, "the KV page must be the attention kernel's key tile (64 keys)");
// Must match ptx/attention.ptx: Q tile + two (K, V) tile buffers + slot/position table of the block.
static const unsigned ATT_SMEM = ATT_ROWS * 256 + 2 * 2 * ATT_KT * 256 + 2 * ATT_ROWS * 4;

enum { ATT_SPLIT_MAX_T = 512 };  // up to this many tokens, one CTA per token (split grid)

// tb: tokens per block, 1 .. 64 / G (1 = always one token per CTA), 0 = the default 64 / G;
// split: 1 one CTA per token, 0 one CTA per block, -1 = by T; kv_split: CTAs (a cluster) sharing the keys of
// each unit, 1 .. 8, 0 = by the number of CTAs.
void launch_attention_tb(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                         CUdeviceptr block_table, CUdeviceptr tok_slot, CUdeviceptr tok_pos, int T, int n_head,
                         int n_kv, int head_dim, int max_pages, float scale, int tb, int split, int kv_split) {
    static CUcontext fn_ctx;
    static CUfunction fn;
    if (head_dim != ATT_HEAD_DIM) die("launch_attention: head_dim %d is not supported (only 128)", head_dim);
    if (n_kv <= 0 || n_head <= 0 || n_head % n_kv || n_head / n_kv > ATT_ROWS)
        die("launch_attention: %d query heads over %d kv heads is not supported", n_head, n_kv);
    if (max_pages <= 0 || T < 0) die("launch_attention: bad T=%d max_pages=%d", T, max_pages);
    if ((q | k_pool | v_pool) % 16 || out % 4 || (tok_slot | tok_pos | block_table) % 4)
        die("launch_attention: q and the pools must be 16-byte aligned, out and the int arrays 4-byte aligned");
    int G = n_head / n_kv;
    if (tb <= 0) tb = ATT_ROWS / G;
    if (tb * G > ATT_ROWS) die("launch_attention: %d tokens x %d heads exceed the %d rows of a CTA", tb, G, ATT_ROWS);
    if (T == 0) return;
    if (fn_ctx != g->ctx) {
        fn = gpu_kernel(g, "attention", "attention_gqa_h128");
        fn_ctx = g->ctx;
    }
    unsigned uT = (unsigned)T, uh = (unsigned)n_head, ukv = (unsigned)n_kv, upages = (unsigned)max_pages;
    if (split < 0) split = T <= ATT_SPLIT_MAX_T;
    unsigned utb = (unsigned)tb, usplit = split ? 1u : 0u;
    Dim3 grid = { split ? uT : (uT + utb - 1) / utb, ukv, 1 }, block = { 128, 1, 1 };
    if (kv_split <= 0) {  // at most one CTA per token and kv head: fill the SMs by splitting keys
        int sms = g->sm_count > 0 ? g->sm_count : 132;
        kv_split = sms / (int)(grid.x * grid.y);
    }
    if (kv_split < 1) kv_split = 1;
    if (kv_split > 8) kv_split = 8;  // portable cluster size
    grid.z = (unsigned)kv_split;
    Dim3 cluster = { 1, 1, (unsigned)kv_split };
    void *args[] = { &out, &q, &k_pool, &v_pool, &block_table, &tok_slot, &tok_pos, &uT, &uh, &ukv, &upages, &utb,
                     &usplit, &scale };
    gpu_launch(g, fn, grid, block, ATT_SMEM, kv_split > 1 ? &cluster : NULL, args, "attention_gqa_h128");
}

void launch_attention(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                      CUdeviceptr block_table, CUdeviceptr tok_slot, CUdeviceptr tok_pos, int T, int n_head,
                      int n_kv, int head_dim, int max_pages, float scale) {
    launch_attention_tb(g, out, q, k_pool, v_pool, block_table, tok_slot, tok_pos, T, n_head, n_kv, head_dim,
                        max_pages, scale, 0, -1, 0);
}
