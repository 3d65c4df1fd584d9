// gpu_ops.h — one launcher per PTX kernel of the forward pass, and the data layouts they share.
// defines: launch_embed, launch_rmsnorm, launch_qknorm_rope_kv(_fp8), launch_attention(_host), launch_gemm,
//          launch_swiglu, launch_argmax, head_rescore_consts, launch_head_rescore, gpu_upload_tensor_bf16, gpu_upload_tensor_f32, gpu_upload_free, gpu_upload_set_staging
//
// One forward step processes T tokens that may belong to different sequences (prefill chunks and decode tokens
// mixed): token t belongs to sequence slot tok_slot[t] at position tok_pos[t]. Layouts (row-major, C order):
//   x        f32  [T][dim]                         residual stream
//   h        bf16 [T][dim]                         RMSNorm output, GEMM input
//   qkv      f32  [T][(n_head + 2*n_kv)*head_dim]  q heads, then k heads, then v heads (fused weight [Wq;Wk;Wv])
//   q        bf16 [T][n_head][head_dim]            normed + roped queries
//   k_pool   bf16 [n_pages][n_kv][KV_PAGE][head_dim]  per layer; v_pool the same. The paged KV cache: page p
//                                                  holds 64 (KV_PAGE, kv_pages.h) consecutive positions of one
//                                                  sequence, all kv heads; one page = one attention key tile.
//   FP8 cache (--kv-dtype fp8): k_pool, v_pool e4m3 [n_pages][n_kv][KV_PAGE][head_dim] and k_scale, v_scale f32
//                                                  [n_pages][n_kv][KV_PAGE]: one scale per row (token, kv head);
//                                                  value = e4m3 * scale. Launchers take k_scale = v_scale = 0 for bf16.
//   block_table int32 [slots][max_pages]           page of positions 64j..64j+63 of slot s: block_table[s][j]
//                                                  (the engine's slots + 1 scratch row for padding tokens)
//   attn     bf16 [T][n_head*head_dim]             attention output, o_proj input
//   gu       f32  [T][2*ffn]                        gate (first ffn columns) then up (fused weight [Wgate;Wup])
//   a        bf16 [T][ffn]                          silu(gate)*up, down_proj input
//   logits   f32  [n_out][vocab]
//   weights  bf16 [N][K] (row n = output feature n, K contiguous: exactly the GGUF layout, ne0 = K);
//   norm weights f32 [dim] / [head_dim].
// All pointers are device pointers (CUdeviceptr); all launches go on g->stream; none synchronise.
#pragma once
#include "gpu.h"
#include "../gguf/gguf.h"

// x[t][:] = (float) emb[tokens[t]][:]      emb: bf16 [vocab][dim]
void launch_embed(Gpu *g, CUdeviceptr x, CUdeviceptr emb, CUdeviceptr tokens, int T, int dim);

// out[r][:] = bf16( in[src][:] * w[:] / sqrt(mean(in[src]^2) + eps) ), src = rows ? rows[r] : r, for r < n_rows.
// (rows lets the final norm pick only the positions whose logits are needed.)
void launch_rmsnorm(Gpu *g, CUdeviceptr out_bf16, CUdeviceptr in_f32, CUdeviceptr w_f32, CUdeviceptr rows,
                    int n_rows, int dim, float eps);
// The same rows quantised for an FP8 GEMM in the same pass (ptx/rmsnorm.ptx rmsnorm_f32_fp8): out8 e4m3 [n_rows][dim],
// sa f32 [n_rows][dim/128], byte-identical to launch_quant_act_fp8 of launch_rmsnorm's bf16 output. dim % 128 == 0.
void launch_rmsnorm_fp8(Gpu *g, CUdeviceptr out8, CUdeviceptr sa, CUdeviceptr in_f32, CUdeviceptr w_f32,
                        CUdeviceptr rows, int n_rows, int dim, float eps);
// The same with one scale a row, written into all dim/128 entries of its sa row (rmsnorm_f32_fp8r: amax over the
// row's bf16 values; the uniform scales of GemmNorm.uni).
void launch_rmsnorm_fp8_row(Gpu *g, CUdeviceptr out8, CUdeviceptr sa, CUdeviceptr in_f32, CUdeviceptr w_f32,
                            CUdeviceptr rows, int n_rows, int dim, float eps);

// For each token t (slot s = tok_slot[t], position p = tok_pos[t], page = block_table[s][p / 64]):
// q heads: RMSNorm over head_dim with q_norm, NeoX RoPE at p, -> q (bf16);
// k heads: RMSNorm with k_norm, RoPE -> k_pool[page][h][p % 64]; v heads copied -> v_pool likewise.
// NeoX RoPE: for i < head_dim/2, f = base^(-2i/head_dim), th = pos*f: (x[i], x[i+hd/2]) ->
//   (x[i]cos th - x[i+hd/2] sin th, x[i+hd/2] cos th + x[i] sin th).
// qkv: [T][n_head + 2 n_kv][head_dim], f32, or bf16 with qkv16 (as GEMM_STORE_BF16 writes it).
void launch_qknorm_rope_kv(Gpu *g, CUdeviceptr q_out, CUdeviceptr k_pool, CUdeviceptr v_pool, CUdeviceptr qkv,
                           int qkv16, CUdeviceptr q_norm, CUdeviceptr k_norm, CUdeviceptr block_table,
                           CUdeviceptr tok_slot, CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim,
                           int max_pages, float rope_base, float eps);
// The same writing an fp8 cache: each k/v row (rounded to bf16 first) -> scale = amax / 448 (1 if all zero) into
// k_scale/v_scale [page][h][p % 64], e4m3 = x * (1 / scale) to nearest, saturated, into k_pool/v_pool.
void launch_qknorm_rope_kv_fp8(Gpu *g, CUdeviceptr q_out, CUdeviceptr k_pool, CUdeviceptr v_pool, CUdeviceptr k_scale,
                               CUdeviceptr v_scale, CUdeviceptr qkv, int qkv16, CUdeviceptr q_norm,
                               CUdeviceptr k_norm, CUdeviceptr block_table, CUdeviceptr tok_slot, CUdeviceptr tok_pos,
                               int T, int n_head, int n_kv, int head_dim, int max_pages, float rope_base, float eps);
// The RoPE launchers run the per-token entries (ptx/rope_tok_body.h: one CTA a token, the same bits) from n tokens a
// step (0: never; the default 512, or $QWEN3_ROPE_TOK). n >= 0 sets it, n < 0 only asks; returns the value before.
int rope_tok_min(int n);

// Causal GQA attention: token t, head h attends to positions 0..tok_pos[t] of slot tok_slot[t] (read through
// its block_table row, one page per 64-key tile), kv head h / (n_head/n_kv); softmax(q.k * scale) . v in f32;
// out bf16 [T][n_head*head_dim]. k_scale = v_scale = 0: bf16 pools; else an fp8 cache (e4m3 pools + row scales).
void launch_attention(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                      CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                      CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim, int max_pages, float scale);
// launch_attention with explicit tb tokens per block (0: 64 / G), split (1: a CTA per token, 0: a CTA per block,
// -1: by T) and kv_split (CTAs of a cluster sharing each unit's keys, 1..8; 0: by the CTA count): tests, benches.
void launch_attention_tb(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                         CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                         CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim, int max_pages, float scale,
                         int tb, int split, int kv_split);
// ptx/attn_dec.ptx, G = n_head / n_kv <= 8: every token alone, keys split over the 4 warps of a CTA and kv_split
// CTAs of a cluster (1..8, 0: by the CTA count); launch_attention's choice for the caches QWEN3_ATTN_DEC selects
// (bit 0 fp8, bit 1 bf16; default both). out 16-byte aligned. out8 != 0: the output quantised for an FP8 GEMM
// instead of out (e4m3 out8 [T][n_head*128], 8-byte aligned, and one f32 scale per token and head at sa8 [T][n_head]:
// exactly launch_quant_act_fp8's bytes for the bf16 output). tok_ix != 0: tok_slot / tok_pos list the tokens in the
// order the CTAs start (a token's kv heads together; longest context first keeps the long units off the tail), entry
// i being token tok_ix[i]'s (its q and out rows; a permutation of 0 .. T-1); 0: entry i is token i. With an order,
// many units and no key split, a step whose entry 0 (the longest, by this contract) is short gets a warp a unit
// instead (host/gpu_attn.c); any order gives correct output, a wrong entry 0 only the slower mapping. With an order
// the caller also promises that tok_slot / tok_pos / tok_ix, the block table and every pool row below an entry's
// position were written before the previous kernel on the stream began: with an fp8 cache and no key split the kernel
// reads them (a warp a unit: also its first chunks) before its PDL wait (QWEN3_ATTN_EARLY=0: after it).
void launch_attention_dec(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                          CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                          CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim, int max_pages, float scale,
                          int kv_split, CUdeviceptr out8, CUdeviceptr sa8, CUdeviceptr tok_ix);
// The step's tokens in the order attn_dec.ptx should start them: slot[i], pos[i] (s32 [T]) of token tok[i].
typedef struct { CUdeviceptr slot, pos, tok; } AttnOrder;
// launch_attention, but where attn_dec.ptx takes these tokens it writes the FP8 form (out8, sa8 as above) instead
// of out and returns 1; else 0 (out written in bf16: the caller quantises). ord (or NULL): the same tokens in the
// order attn_dec should take them.
int launch_attention_q(Gpu *g, CUdeviceptr out, CUdeviceptr out8, CUdeviceptr sa8, CUdeviceptr q, CUdeviceptr k_pool,
                       CUdeviceptr v_pool, CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table,
                       CUdeviceptr tok_slot, CUdeviceptr tok_pos, int T, int n_head, int n_kv, int head_dim,
                       int max_pages, float scale, const AttnOrder *ord);
// The same with the step's slots and positions also on the host (h_slot, h_pos: what was copied to tok_slot and
// tok_pos): prefill runs (consecutive positions of one slot, >= 128 tokens) go to the wgmma + TMA kernel
// (ptx/attn_wg.ptx), the rest as above; QWEN3_ATTN_WG=0 turns the wgmma kernel off. pool_pages: pages per pool,
// scratch page included (the kernel's TMA maps span the pool). Eager steps only: a run's slot, first position and
// length become kernel parameters, so a CUDA graph captured through this would replay them for other batches.
// An fp8 cache never goes to the wgmma kernel (it TMAs bf16 pages). Where attn_dec.ptx takes decode tokens, runs
// of >= 2 tokens (and < 128 for bf16) go to attention.ptx, single tokens to attn_dec.ptx.
void launch_attention_host(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                           CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                           CUdeviceptr tok_pos, const int *h_slot, const int *h_pos, int T, int n_head, int n_kv,
                           int head_dim, int max_pages, int pool_pages, float scale);

// C[M][N] (op)= A[M][K] . W[N][K]^T, bf16 inputs, f32 accumulation. K % 64 == 0, N % 64 == 0, any M >= 1.
enum { GEMM_STORE_F32 = 0, GEMM_STORE_BF16 = 1, GEMM_ADD_F32 = 2 /* C += A.W^T (residual) */ };
void launch_gemm(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode);
// The same with an explicit kernel (tests, benchmarks): tile 0..3 mma.sync 16x32, 64x64, 128x128, 16x16;
// 4..8 wgmma 128x256, 128x128, 64x128, 64x64, 64x128s (two consumers splitting N); 9, 10 wgmma 128x256c2,
// 128x128c2 (clusters of two row-tiles sharing each W slice by TMA multicast; no split-K); 11 the swapped decode
// tile (ptx/gemm_sw.ptx: W on wgmma's M side, up to 64 activation rows a launch, K split over a cluster); 12 wgmma
// 128x192 (no SwiGLU epilogue); -1 chooses. splits: mma.sync tiles 0/1 none, > 1 split-K by red.global.add
// (benchmarks); wgmma tiles 0 automatic, 1 none, > 1 split-K with a deterministic sum, GEMM_SPLIT_TAIL the tail split
// (the tiles of the full waves whole, each tile of the last, partial wave split in S = SMs / its tiles parts, 2..4),
// GEMM_SPLIT_CLUSTER + S (S = 2..4; not the pairs) every tile's K split over a (S, 1, 1) cluster, the partial sums
// meeting in distributed shared memory (one unit a CTA: for grids of tiles x S <= the SMs).
enum { GEMM_N_TILES = 13, GEMM_FIRST_WG = 4, GEMM_SW_TILE = 11, GEMM_128X192_TILE = 12, GEMM_SPLIT_TAIL = 16,
       GEMM_SPLIT_CLUSTER = 32, GEMM_SPLIT_CLUSTER_MAX = 4 };
static inline int gemm_split_cluster(int splits) {  // S of a cluster split, else 0
    return splits >= GEMM_SPLIT_CLUSTER + 2 && splits <= GEMM_SPLIT_CLUSTER + GEMM_SPLIT_CLUSTER_MAX
               ? splits - GEMM_SPLIT_CLUSTER : 0;
}
// The parts a tail split of M x N on sms SMs cuts each last-wave tile into (1: none, or no such tile): tile of
// launch_gemm_ex (fp8 0) or launch_gemm_fp8_ex (fp8 1). Capped further by K and the scratch at launch.
int gemm_tail_splits(int fp8, int tile, int M, int N, int sms);
void launch_gemm_ex(Gpu *g, CUdeviceptr C, CUdeviceptr A, CUdeviceptr W, int M, int N, int K, int mode, int tile,
                    int splits);
// The tile launch_gemm_ex runs for tile -1 (a plan may also set *splits; splits may be NULL).
int gemm_tile_choice(Gpu *g, int M, int N, int K, int mode, int *splits);
// SwiGLU epilogues (every tile of launch_gemm_ex but 128x192, and of launch_gemm_fp8_ex): W [N][K] is a gate/up
// pair interleaved in blocks of GEMM_GATE_ROWS rows (gpu_linear_upload_gated; ptx/swiglu.h), mode
// GEMM_SWIGLU_BF16 writes C = a bf16 [M][N/2] = silu(gate) * up. N % 16 == 0. launch_gemm_swiglu_fp8 (N % 256 == 0) writes what
// launch_quant_act_fp8 would make of that bf16 a: a8 e4m3 [M][N/2], sa f32 [M][N/256], on a tile with 128 outputs
// per row (one scale block): bf16 A and W (sw = 0): launch_gemm_ex tile 4, wgmma 128x256 (splits: its split-K);
// e4m3 A (scales sa_in) and W (sw): launch_gemm_fp8_ex tile fp8_tile (4 = 64x256, 9 = its multicast pair,
// 11 = 128x256, 12 = its multicast pair; -1 chooses: a plan entry naming one of them, else the one with less work
// per SM in whole waves).
// (Mode 5 is the kernels' number for it; 3 is taken internally.)
enum { GEMM_SWIGLU_BF16 = 4, GEMM_SWIGLU_FP8 = 5, GEMM_GATE_ROWS = 8, GEMM_SWIGLU_FP8_TILE = 4 };
void launch_gemm_swiglu_fp8(Gpu *g, CUdeviceptr a8, CUdeviceptr sa, CUdeviceptr A, CUdeviceptr sa_in, CUdeviceptr W,
                            CUdeviceptr sw, int M, int N, int K, int splits, int fp8_tile);

// FP8 (e4m3) GEMM with block scales (DeepSeek-V3 / DeepGEMM style), ptx/gemm_fp8.ptx:
//   A8 e4m3 [M][K] with sa f32 [M][K/128]            (activations: one scale per token per 128 channels)
//   W8 e4m3 [N][K] with sw f32 [ceil(N/128)][K/128]  (weights: one scale per 128 x 128 block)
//   C (op)= (A8 * sa) . (W8 * sw)^T, f32 accumulation promoted to an f32 register sum every 128 of K.
// K % 128 == 0, N % 8 == 0, 16-byte aligned pointers. tile: 0 = 128x128, 1 = 64x128 (wgmma), 2 = 16x32,
// 3 = 16x16 (mma.sync, decode sizes: ptx/gemm_fp8_dec.ptx), 4 = 64x256 (wgmma, consumers split N; chosen only by
// a plan or for the quantising SwiGLU epilogue), 5 = 64x128s (wgmma, two consumers split N: mid M), 6 = 16x16s
// (mma.sync, 8 stages, K split over a (1, 1, S) cluster and summed in rank 0: the decode choice below 2 x SMs of
// 32-row tiles), 7, 8, 9 = tiles 0, 5, 4 in clusters of two row-tiles sharing each W slice by TMA multicast
// (128x128c2, 64x128sc2, 64x256c2), 10 = the swapped decode tile (ptx/gemm_sw.ptx: W on wgmma's M side, up to 64
// activation rows a launch; splits: its K split over a cluster, 0 automatic; under programmatic dependent launch it
// reads W before the previous kernel on the stream ends: that kernel must not write W), 11 = 128x256 (wgmma, each
// slice in two m64n128 halves; also the quantising SwiGLU epilogue's), 12 = 128x256c2 (tile 11
// in clusters of two row-tiles sharing each W slice; chosen only by a plan or QWEN3_GEMM_C2=1), -1 chooses (a plan
// may set splits).
enum { GEMM_FP8_N_TILES = 13, GEMM_FP8_SW_TILE = 10, GEMM_FP8_128X256_TILE = 11, GEMM_FP8_128X256C2_TILE = 12 };
// The FP8 tiles that take a split-K (launch_gemm_fp8_ex's splits > 1): the wgmma tiles outside clusters (0, 1, 4, 5,
// 11: partial sums in f32 slabs, the tile's last unit adds them in order and runs the epilogue) and the swapped tile.
int gemm_fp8_tile_splits(int tile);
// Whether launch_gemm_ex (fp8 0) / launch_gemm_fp8_ex (fp8 1) tile has the cluster split (a wgmma tile, not a pair).
int gemm_cluster_split_tile(int fp8, int tile);
// The largest cluster split S (2..GEMM_SPLIT_CLUSTER_MAX) whose tiles x S CTAs fit sms SMs, else 0 (or no such split).
int gemm_cluster_splits_max(int fp8, int tile, int M, int N, int sms);
void launch_gemm_fp8(Gpu *g, CUdeviceptr C, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr W8, CUdeviceptr sw, int M,
                     int N, int K, int mode);
void launch_gemm_fp8_ex(Gpu *g, CUdeviceptr C, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr W8, CUdeviceptr sw, int M,
                        int N, int K, int mode, int tile, int splits);
// The producer-side RMSNorm (NOTES, session 37): the RMSNorm between two FP8 GEMMs done in their epilogues instead of
// a launch. The producer (mode GEMM_ADD_NORM8: C f32 [M][N] += the product, as GEMM_ADD_F32) also writes, from the
// new rows x and the norm's weights nw f32 [N], the next GEMM's input at q8 (a "norm8" buffer, norm8_bytes(M, N)):
// e4m3 [M][N] of y = x nw with scales [M][N / 128] at q8 + norm8_scales(M, N) (amax(y) / 448 per 128 columns, as
// launch_quant_act_fp8) and the rows' sums of x^2 per 128 columns [M][N / 128] at q8 + norm8_sums(M, N); N % 256 == 0.
// The consumer (any mode; ss = those sums, K = the producer's N, K % 512 == 0, K <= 8192) multiplies each output row by
// rstd = 1 / sqrt(sum / K + eps) before its epilogue — (x rstd nw) W^T, which the separate launch gives, up to the
// rounding of the e4m3 codes (of y instead of bf16(x rstd nw)). The FP8 wgmma tiles only (every split); ss 0: none.
enum { GEMM_ADD_NORM8 = 7 };
// rope: 0, or the RopeKV8 operands of mode GEMM_ROPE_KV8 (below) in device memory.
// uni (any mode, any tile): 0, or the caller vouches that the scales are uniform along K — each row's sa[m][*] one
// value, and each 128-row block's sw[b][*] one value (launch_rmsnorm_fp8_row, launch_quant_w_fp8_row) — and the
// wgmma tiles whose consumers own 64 or 128 columns sum up to uni slices (1..255) in the tensor cores before each add
// into the f32 sums, with the scales applied once at the end instead of a multiply-add a slice (ptx/gemm_wg_body.h
// U_START); the 128x256 tiles take their own entries (gemm_fp8_128x256u, _c2u: every slice straight into the final
// sums) where uni covers a work unit's slices, without ss and mode 7; elsewhere the tiles run as usual, which is as
// right for such scales. Summing G slices in the tensor cores costs ~2.5e-5 relative a slice (test_gpu_fp8).
typedef struct { CUdeviceptr nw, q8; CUdeviceptr ss; float eps; CUdeviceptr rope; int uni; } GemmNorm;
// RoPE in the qkv projection's epilogue (NOTES, session 39): mode GEMM_ROPE_KV8 (FP8 weights, the tiles
// gemm_fp8_rope_tile names; N = (n_head + 2 n_kv) 128) does launch_qknorm_rope_kv_fp8's work on the tile's rows
// instead of storing them: q bf16 into q_out, k and v e4m3 + row scales into the pools, with the per-head norms, the
// cos / sin of the step's table cs and each token's cache row kvrow (both from launch_rope_table). Its operands, one
// block per layer in device memory, as ptx/gemm_wg_body.h reads them (byte offsets there):
typedef struct {
    uint32_t n_head, n_kv, pad0;
    float eps;
    CUdeviceptr q_out, k_pool, v_pool, k_scale, v_scale, q_norm, k_norm, kvrow, cs, pad[5];
} RopeKV8;  // (128 bytes)
enum { GEMM_ROPE_KV8 = 8 };
int gemm_fp8_rope_tile(int tile);
// The step's tables: cs[t][i] = (cos, sin) of tok_pos[t] * r^i, i < 64, r = rope_base^(-2 / 128), exactly the angles
// of the rope kernels; kvrow (0: none) u32 [T], token t's row of a pool of n_kv heads (+ 64 kv head), (block_table[
// tok_slot[t]][pos / 64] n_kv) 64 + pos % 64.
void launch_rope_table(Gpu *g, CUdeviceptr cs, CUdeviceptr kvrow, CUdeviceptr tok_slot, CUdeviceptr tok_pos,
                       CUdeviceptr block_table, int T, int n_kv, int max_pages, float rope_base);
static inline CUdeviceptr norm8_scales(int M, int N) { return ((CUdeviceptr)M * N + 255) & ~(CUdeviceptr)255; }
static inline CUdeviceptr norm8_sums(int M, int N) {
    return norm8_scales(M, N) + (((CUdeviceptr)M * (N / 128) * 4 + 255) & ~(CUdeviceptr)255);
}
static inline size_t norm8_bytes(int M, int N) { return (size_t)(norm8_sums(M, N) + (CUdeviceptr)M * (N / 128) * 4); }
void launch_gemm_fp8_nm(Gpu *g, CUdeviceptr C, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr W8, CUdeviceptr sw, int M,
                        int N, int K, int mode, int tile, int splits, const GemmNorm *nm);
void launch_gemm_swiglu_fp8_nm(Gpu *g, CUdeviceptr a8, CUdeviceptr sa, CUdeviceptr A, CUdeviceptr sa_in, CUdeviceptr W,
                               CUdeviceptr sw, int M, int N, int K, int splits, int fp8_tile, const GemmNorm *nm);
// Whether the FP8 tile chosen for (M, N, K) (tile -1) is a wgmma tile (the ones with the RMSNorm epilogues).
int gemm_fp8_wg_choice(Gpu *g, int M, int N, int K);
// The tile launch_gemm_fp8_ex runs for tile -1 (a plan may also set *splits; splits may be NULL). Host arithmetic
// only (g->sm_count): tests/test_gemm_plan.c checks the rules on the CPU.
int gemm_fp8_tile_choice(Gpu *g, int M, int N, int K, int *splits);
// The swapped decode tile's automatic K splits for a launch of M (<= 64) rows on sms SMs (1, 2 or 4).
int gemm_sw_auto_splits(int M, int N, int K, int sms);
// The FP8 swapped tile building its own e4m3 input from x (ptx/gemm_sw_build.h; M <= 8): nw != 0, RMSNorm of f32 x
// [M][K] with weights nw f32 [K] (bit for bit launch_rmsnorm_fp8's bytes, K <= SW_BUILD_NORM_MAX_K); nw == 0, x bf16
// [M][K] quantised (launch_quant_act_fp8's bytes). C, W8, sw, mode as launch_gemm_fp8_ex (no SwiGLU-FP8); splits 0
// automatic. So one launch instead of two at batch 1 (NOTES, session 21).
typedef struct { CUdeviceptr x, nw; float eps; } SwBuild;
enum { SW_BUILD_NORM_MAX_K = 5120, SW_BUILD_DEFAULT_M = 1, SW_BUILD_MAX_WEIGHT = 8 << 20 };
void launch_gemm_fp8_build(Gpu *g, CUdeviceptr C, CUdeviceptr x, CUdeviceptr nw, float eps, CUdeviceptr W8,
                           CUdeviceptr sw, int M, int N, int K, int mode, int splits);
// Whether launch_gemm_fp8 would run the swapped tile for (M, N, K) and the build path takes it (M up to
// QWEN3_SW_BUILD_M, default SW_BUILD_DEFAULT_M, 0 off; N x K <= SW_BUILD_MAX_WEIGHT): the splits to pass (0
// automatic, or the plan's), or -1.
int gemm_fp8_build_splits(Gpu *g, int M, int N, int K, int norm);
// launch_gemm_fp8_ex in mode GEMM_STORE_F32 that also writes each row's maximum over every 64 columns into pmax f32
// [M][ceil(N / 64)] (NaN left out, -inf where none; mode 6 of the wgmma tiles: the rescored head's first pass,
// launch_head_rescore with pmax): 1 when it wrote them, 0 when the tile (-1: chosen for (M, N, K)) has no such
// epilogue (the swapped and mma.sync decode tiles: C alone). uni: GemmNorm.uni (0: none).
enum { GEMM_STORE_F32_MAX64 = 6 };
int launch_gemm_fp8_rowmax(Gpu *g, CUdeviceptr C, CUdeviceptr pmax, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr W8,
                           CUdeviceptr sw, int M, int N, int K, int tile, int splits, int uni);
// Decode sizes from FP8 weights without quantising the activation (host/gpu_gemv.c, ptx/gemv_fp8.ptx): X bf16
// [M][K], W8/sw as above, 1 <= M <= 4, K % 128 == 0; mode GEMM_STORE_F32 or GEMM_ADD_F32. launch_linear uses it
// for M <= gemv_fp8_max_m() (QWEN3_GEMV_MAX_M; default 0 = off: slower than the tensor-core decode tiles so far).
void launch_gemv_fp8(Gpu *g, CUdeviceptr C, CUdeviceptr X, CUdeviceptr W8, CUdeviceptr sw, int M, int N, int K,
                     int mode);
int gemv_fp8_max_m(void);
// Quantisers (ptx/quant_fp8.ptx): scale = amax / 448 over each group (1 if the group is all zero), e4m3 = x / scale
// rounded to nearest. Activations: X bf16 [M][K] -> A8 [M][K], sa [M][K/128]. Weights: W bf16 [N][K] -> W8 [N][K],
// sw [ceil(N/128)][K/128].
void launch_quant_act_fp8(Gpu *g, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr X, int M, int K);
void launch_quant_w_fp8(Gpu *g, CUdeviceptr W8, CUdeviceptr sw, CUdeviceptr W, int N, int K);
// Activations with one scale a row (amax over all K, in all K/128 entries of the row's sa).
void launch_quant_act_fp8_row(Gpu *g, CUdeviceptr A8, CUdeviceptr sa, CUdeviceptr X, int M, int K);
// The weights with one scale for each 128-row block along all of K (the largest of its blocks' scales, in all K/128
// entries; the uniform scales of GemmNorm.uni). Synchronises the stream (a load-time step).
void launch_quant_w_fp8_row(Gpu *g, CUdeviceptr W8, CUdeviceptr sw, CUdeviceptr W, int N, int K);

// A linear layer's weight as the GEMMs want it (host/gpu_linear.c): bf16 [N][K] (sw = 0), or fp8: e4m3 [N][K] in w
// and block scales in sw. carve takes it from an arena (a counting arena measures); upload stacks n GGUF tensors
// row-wise into it (fp8: through `tmp`, gpu_linear_scratch_bytes of device scratch); launch_linear runs
// C (op)= A . W^T for bf16 A [M][K] — for fp8 it first quantises A into a8 (M*K bytes) and sa (M*K/128 floats).
// gated: uploaded by gpu_linear_upload_gated (the gate/up pair interleaved in blocks of GEMM_GATE_ROWS rows; fp8:
// tmp needs N*K*2 bytes); launch_linear_swiglu then writes a = silu(gate) * up bf16 [M][N/2] in the GEMM's
// epilogue. With fp8_out at upload (gated = 2), want8 (the next GEMM is FP8) and a tile that can, it writes a's FP8
// form instead, in a's own buffer: e4m3 [M][N/2] at a, f32 scales [M][N/256] at a + swiglu_fp8_scales(M, N/2), and
// returns 1 (launch_linear_q with a8_ready = 1 then skips the quantiser); else 0.
// kq: the same layer's native quantised copy for batches of a few rows (host/gpu_kq.c; n = 0: none).
typedef struct { CUdeviceptr q, h, s, d, b; int type, row0, rows; } GpuKqPart;  // a run of rows of one GGUF type
typedef struct { int n, N, K, max_m; GpuKqPart p[3]; } GpuKq;  // max_m: the most rows it takes (<= gpu_kq_max_m(K))
// uni (fp8, set before the upload): the scales are one value for each 128-row block along all of K
// (launch_quant_w_fp8_row), and an input quantised one scale a row (a8_ready = 2: launch_rmsnorm_fp8_row) runs the
// GEMM's uniform loop with groups of uni slices (GemmNorm.uni); launch_linear_q* quantise a bf16 input (a8_ready = 0)
// one scale a row then (launch_quant_act_fp8_row).
typedef struct { CUdeviceptr w, sw; int N, K, fp8, gated, uni; GpuKq kq; } GpuLinear;

// Native quantised weights (host/gpu_kq.c, ptx/gemv_kq.ptx): a layer whose GGUF tensors are all Q4_K / Q5_K / Q6_K /
// Q8_0 / Q4_0 / Q5_0 keeps them too, repacked into planes, and batches of up to gpu_kq_max_m(K) rows run on them (the
// weights' integer codes against int16 activations with a scale per 32, dp2a) instead of the bf16 / FP8 copy; a stack
// of Q4_K / Q6_K parts in tiles of 16 rows also takes up to 32 rows on ptx/gemm_kq.ptx (bf16-dequantised codes, mma).
// gpu_kq_plan: the parts of n stacked tensors (0 and kq->n = 0 when a tensor is another type, K % 256 != 0, or — gated,
// the SwiGLU pair — the two differ in type); gpu_kq_carve takes their memory from an arena; gpu_kq_upload fills them
// (synchronous). launch_gemv_kq: C (op)= X . W^T for bf16 X [M][K], mode GEMM_STORE_F32 / GEMM_ADD_F32 (C f32
// [M][kq->N]) or GEMM_SWIGLU_BF16 (C bf16 [M][kq->N / 2] = silu(gate) * up, the gate rows then the up rows, one part).
// max_m: batches of up to that many rows (and gpu_kq_max_m(K), or 32 where gemm_kq takes the stack) take it.
int gpu_kq_plan(GpuKq *kq, const GGUFTensor *const *ts, int n, int K, int gated, int max_m);
void gpu_kq_carve(GpuArena *a, GpuKq *kq);
void gpu_kq_upload(Gpu *g, const GpuKq *kq, const GGUFTensor *const *ts, int n);
size_t gpu_kq_bytes(uint32_t type, int rows, int K);  // the planes of `rows` rows of GGUF type `type` (gemv_kq's)
size_t gpu_kq_mma_bytes(uint32_t type, int rows, int K);  // what gemm_kq streams of them (0: a type it does not take)
int gpu_kq_max_m(int K);  // the most rows gemv_kq takes at width K (8, less where x does not fit shared memory)
// The rows up to which an N x K layer (its first tensor of GGUF type `type`) should take its native copy beside an
// FP8 (fp8) or bf16 one; 0: keep none. QWEN3_KQ_MAX_M=n: n everywhere.
int gpu_kq_rows(int N, int K, int fp8, uint32_t type);
// The same for a stack of tensors (the engine's): gemv_kq's own rows (2 beside bf16, 1 beside FP8) where gemm_kq
// cannot take the stack
int gpu_kq_stack_rows(const GGUFTensor *const *ts, int n, int K, int fp8);
static inline int gpu_kq_takes(const GpuKq *kq, int M) { return kq->n > 0 && M >= 1 && M <= kq->max_m; }
void launch_gemv_kq(Gpu *g, const GpuKq *kq, CUdeviceptr C, CUdeviceptr X, int M, int mode);
// (tests) a Q4_K + Q6_K stack at one row in one launch (gemv_q4k6_m1*, the default: 1) or one a type (0); -1: the env's
void gpu_kq_force_46(int on);
// The same with the RMSNorm before it fused into gemv_kq: X is the f32 residual stream [M][K], nw the norm's f32
// weights; each CTA normalises x itself (one launch fewer a layer at batch 1). Only where gpu_kq_norm_fuses (one
// row, on gemv_kq).
int gpu_kq_norm_fuses(const GpuKq *kq, int M);
void launch_gemv_kq_norm(Gpu *g, const GpuKq *kq, CUdeviceptr C, CUdeviceptr X, CUdeviceptr nw, float eps, int M,
                         int mode);
// launch_gemv_kq's tensor-core kernel from m rows of x (Q4_K / Q6_K stacks; set it before gpu_kq_carve, which
// gives a stack gemm_kq's scale plane only where max_m reaches m); 0: the default (2)
void gpu_kq_mma_from(int m);
void gpu_kq_force_split(int S);  // launch_gemv_kq's K split: 1, 2 or 4 warps a row pair (where K allows); 0: its rule
void gpu_kq_force_grid(int ctas);  // gemm_kq's persistent entries on this many CTAs (tests: several tiles a CTA)
// gemm_kq's two-row-tile Q4_K entries from m rows of x wherever they can run; 0: the rule (or QWEN3_KQ_R2_MIN)
void gpu_kq_r2_from(int m);
int gpu_kq_r2(int rows, int K, int M, int sms);  // does a Q4_K part of `rows` rows take them at M rows, on `sms` SMs

static inline CUdeviceptr swiglu_fp8_scales(int M, int F) { return ((CUdeviceptr)M * F + 255) & ~(CUdeviceptr)255; }
GpuLinear gpu_linear_carve(GpuArena *a, int N, int K, int fp8);
size_t gpu_linear_scratch_bytes(int N, int K, int fp8);
void gpu_linear_upload(Gpu *g, const GpuLinear *L, const GGUFTensor *const *ts, int n, CUdeviceptr tmp);
void gpu_linear_upload_gated(Gpu *g, GpuLinear *L, const GGUFTensor *gate, const GGUFTensor *up, CUdeviceptr tmp,
                             int fp8_out);
void launch_linear(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa, int M,
                   int mode);
// a8_ready: 1, a8 / sa hold A's e4m3 form already (FP8 weights); 2, with one scale a row (launch_rmsnorm_fp8_row),
// which a layer with uni runs on its uniform loop.
void launch_linear_q(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa, int M,
                     int mode, int a8_ready);
// launch_linear (mode GEMM_STORE_F32) of an FP8 layer with the rows' 64-column maxima into pmax where the GEMM's tile
// writes them (launch_gemm_fp8_rowmax): 1 when it did. a8_ready as launch_linear_q's.
int launch_linear_rowmax(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr pmax, CUdeviceptr A, CUdeviceptr a8,
                         CUdeviceptr sa, int M, int a8_ready);
int launch_linear_swiglu(Gpu *g, const GpuLinear *L, CUdeviceptr a, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa,
                         int M, int want8);
// The same when a8/sa already hold the e4m3 input (a8_ready: launch_rmsnorm_fp8 wrote it; 2: launch_rmsnorm_fp8_row,
// one scale a row, which a layer with uni runs on its uniform loop; FP8 weights only).
int launch_linear_swiglu_q(Gpu *g, const GpuLinear *L, CUdeviceptr a, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa,
                           int M, int want8, int a8_ready);
// The producer-side RMSNorm (GemmNorm above): whether launch_linear_qn / launch_linear_swiglu_qn can pass nm for layer
// L at M rows (FP8 weights on a wgmma tile: no native copy, no W8A16 decode kernel, no swapped tile), and those
// launches (nm NULL: launch_linear_q / launch_linear_swiglu_q).
int linear_norm8_takes(Gpu *g, const GpuLinear *L, int M, int want8);
void launch_linear_qn(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa, int M,
                      int mode, int a8_ready, const GemmNorm *nm);
int launch_linear_swiglu_qn(Gpu *g, const GpuLinear *L, CUdeviceptr a, CUdeviceptr A, CUdeviceptr a8, CUdeviceptr sa,
                            int M, int want8, int a8_ready, const GemmNorm *nm);

// Decode sizes with FP8 weights: the GEMM builds its e4m3 input itself (launch_gemm_fp8_build) from f32 x normed with
// nw (nw != 0: no launch_rmsnorm_fp8 before it) or from bf16 x (nw == 0: no quantiser). mode as launch_linear_q, or
// GEMM_SWIGLU_BF16 for a gated layer (want8 as launch_linear_swiglu: where its FP8-quantising epilogue would run, this
// does not). 1 if it ran; 0 (nothing launched) where it does not apply: the caller takes the usual path.
int launch_linear_build(Gpu *g, const GpuLinear *L, CUdeviceptr C, CUdeviceptr x, CUdeviceptr nw, float eps, int M,
                        int mode, int want8);

// a[t][j] = bf16( silu(gu[t][j]) * gu[t][ffn + j] )
void launch_swiglu(Gpu *g, CUdeviceptr a_bf16, CUdeviceptr gu_f32, int T, int ffn);

// out[r] = argmax_j logits[r][j] (lowest index on ties; NaN never wins)
void launch_argmax(Gpu *g, CUdeviceptr out_i32, CUdeviceptr logits, int n_rows, int vocab);

// The rescored FP8 head (host/gpu_head.c, ptx/head_rescore.ptx): after the FP8 head GEMM wrote logits [n][V] from
// h bf16 [n][K] (quantised into a8 / sa; a8 = 0: read as bf16), every logit within delta of its row's best is
// recomputed from the bf16 head w16 [V][K] in place, delta^2 = cd |x8|^2 + cw |x - x8|^2 (head_rescore_consts
// measures cd, cw from the two heads at load, for delta = 2 z sigma). part: f32 [n][ceil(V / HEAD_RESCORE_CHUNK)]
// scratch, the maxima of the rows' chunks of HEAD_RESCORE_CHUNK logits (the second pass reads only the chunks whose max
// is within delta of the row's); stats: u32 [n][4] or 0 ([0] += candidates, [1] = max f32 bits of |fp8 - exact| /
// delta, [2] = delta's bits). pmax != 0: the head GEMM's maxima of every 64 logits (launch_gemm_fp8_rowmax) stand in
// for part, and the pass that would write part is skipped. best: u64 [n][HEAD_RESCORE_BEST] or 0, the rows' greedy
// answers for launch_sample's pre (ptx/head_rescore.ptx: used where decisive).
#define HEAD_RESCORE_CHUNK 1024
#define HEAD_RESCORE_MAX_CHUNKS 256  // chunks a row (one a thread of head_rescore's row max): V <= 262,144 (Qwen3: 149)
#define HEAD_RESCORE_MAX_K 8192  // the head's input width (x is staged in shared memory; Qwen3 dense: <= 5120)
#define HEAD_RESCORE_BEST 8      // best's u64 slots a row (one per CTA of the row at most)
void head_rescore_consts(Gpu *g, CUdeviceptr w16, CUdeviceptr w8, CUdeviceptr sw, int N, int K, float z, float *cd,
                         float *cw);
void launch_head_rescore(Gpu *g, CUdeviceptr logits, CUdeviceptr part, CUdeviceptr pmax, CUdeviceptr h, CUdeviceptr a8,
                         CUdeviceptr sa, CUdeviceptr w16, CUdeviceptr stats, int n, int V, int K, float cd, float cw,
                         CUdeviceptr best);

// Weight upload: raw GGUF bytes (any supported type) copied to the device in chunks through pinned staging
// buffers and dequantized there by PTX kernels into bf16 (or f32). dst must hold ne0*ne1 elements.
void gpu_upload_tensor_bf16(Gpu *g, CUdeviceptr dst, const GGUFTensor *t);
void gpu_upload_tensor_f32(Gpu *g, CUdeviceptr dst, const GGUFTensor *t);
// The uploads keep two pinned + two device staging buffers (64 MB each by default) between calls; free them after
// the last upload and before gpu_shutdown. set_staging picks their size for the next allocation (tests use a small
// one to cross chunk boundaries).
void gpu_upload_free(Gpu *g);
void gpu_upload_set_staging(size_t bytes);
