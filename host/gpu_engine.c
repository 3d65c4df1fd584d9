// gpu_engine.c — the GPU backend of engine.h: weights uploaded once as BF16 or block-scaled FP8 (GpuOpts, from
// --dtype or QWEN3_DTYPE), a paged KV cache (one pool of 64-token pages per layer shared by all sequences,
// kv_pages.h; bf16 or e4m3 + row scales: --kv-dtype), and a forward step that is a straight list of PTX kernel
// launches per layer (the launchers are in gpu_ops.h).
//
// One step takes T tokens from any mix of sequences (a prefill chunk, or one decode token per sequence): token t
// is at position tok_pos[t] of slot tok_slot[t]; its K/V go to page block_table[slot][pos / 64]. Pages are taken
// on the host (kv_pages.c) before a step, all or none, and the changed rows of the table are copied to the device
// ahead of the step. Everything in the step runs on one stream without a host sync until the logits come back.
//
// Sampling on the device (step_sample, issue 7): a decode step of 256 rows would otherwise copy 256 x 151,936
// f32 = 155 MB of logits over PCIe and sample them on the CPU. Instead every step also writes its tokens into a
// device history [max_seqs + 1][max_ctx] (ptx/history.ptx, the first kernel of the step, so it is in the decode
// graphs too), and after the step launch_sample (ptx/sample.ptx, outside the graph: its parameters change every
// step) turns the wanted rows' logits into token ids, reading each sequence's history row for the penalties;
// only 4 bytes a row come back.
//
// Run-ahead (step_submit / step_wait): a sampling step returns with its work queued, so the host prepares step n + 1
// while step n runs, and step n + 1's decode rows may name step n's ids before the host has them (ENGINE_PREV):
// the sampler writes them to a device buffer alternating by step parity, history_scatter resolves the names there.
// Host inputs go through a ring of pinned stages (a stage is refilled only after the stream copied it), the
// block-table rows through a snapshot in the stage, the ids back through a pinned half per parity and an event.
#include "engine.h"
#include "gemm_plan.h"
#include "gpu_ops.h"
#include "gpu_sample.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A forward pass runs at most STEP_TOKENS tokens (longer steps and prefills are chunked) and computes logits for at
// most OUT_ROWS of them (the head, the sampler, the logits buffer; also the largest graph bucket). A mixed step of
// the batch scheduler (BATCH_PREFILL_BUDGET, 3,840 prompt tokens, plus up to 256 decode rows) runs as one pass: its
// GEMMs at M ~ 4,096 instead of eight passes at M <= 512 (NOTES, session 12).
#define STEP_TOKENS 4096
#define OUT_ROWS 512
// --head-dtype rescore: every logit within 2 HEAD_Z sigma of its row's best is recomputed in bf16 (ptx/head_rescore.ptx;
// z = 6 saw FP8 errors up to 0.38 delta = 4.6 sigma over 228k recomputed logits of the synth 8B, NOTES session 11)
#define HEAD_Z 8.0f

// Decode-shaped steps (every row's logits wanted) are replayed from CUDA graphs, one per bucket: T is padded up
// to the next bucket; the padding rows are token 0 at position 0 of a scratch slot whose table row points at a
// scratch page, so they write nothing that a sequence reads, and their logits are not copied back.
static const int BUCKETS[] = { 1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 320, 384, 448, 512 };
#define N_BUCKETS ((int)(sizeof BUCKETS / sizeof BUCKETS[0]))
static int bucket_of(int T) {  // T <= OUT_ROWS, the last bucket (checked at creation)
    int b = 0;
    while (b < N_BUCKETS - 1 && BUCKETS[b] < T) b++;
    return b;
}

typedef struct {
    CUdeviceptr attn_norm, ffn_norm;  // f32 [dim]
    CUdeviceptr q_norm, k_norm;       // f32 [head_dim]
    GpuLinear wqkv;                   // [(n_head + 2*n_kv)*head_dim][dim]   rows: Wq, then Wk, then Wv
    GpuLinear wo;                     // [dim][n_head*head_dim]
    GpuLinear wgu;                    // [2*ffn][dim]                         rows: Wgate, then Wup
    GpuLinear wdown;                  // [dim][ffn]   (each bf16, or e4m3 + block scales: gpu_ops.h; uniform: uni)
    CUdeviceptr k_pool, v_pool;       // bf16 [n_pages + 1][n_kv][KV_PAGE][head_dim]; the last page is scratch
                                      // (fp8 cache: e4m3, same shape)
    CUdeviceptr k_scale, v_scale;     // fp8 cache: f32 [n_pages + 1][n_kv][KV_PAGE], one per row; else 0
} GpuLayer;

// Host staging of one forward pass (pinned). in: tokens, slots, positions, output rows, and for a graph-replayed
// pass the order decode attention takes its tokens in (slots, positions, tokens: attn_order) [7][STEP_TOKENS]; pk:
// what of it the pass uses, and the wanted rows' sampling parameters, packed for one copy; table: the block table's
// rows changed since the last pass (the host table changes under a pass in flight, so the copy comes from a
// snapshot). QWEN3_PROFILE: t0 / t1 bracket the pass
// on the stream (device time), kind / rows describe it, pending until added to the totals.
#define N_STAGES 4
typedef struct {
    int *in, *table;
    char *pk;             // the pass's device inputs packed as one copy (forward; PK_BYTES)
    CUevent copied, t0, t1;
    int kind, rows, pending;
} Stage;

typedef struct {
    Engine base;          // must be first: Engine* <-> GpuEngine*
    Gpu g;
    Qwen3Config c;
    CUdeviceptr emb;      // bf16 [vocab][dim]
    GpuLinear lm_head;    // [vocab][dim]; bf16 and tied: the embedding itself; e4m3 with head_fp8 (tied: a copy)
    GpuLinear lm_head16;  // HEAD_RESCORE: the bf16 head beside the e4m3 lm_head (the near-best logits from it)
    int fp8;              // linear layers in FP8 (activations quantised before each GEMM into a8 / sa)
    int native_q;         // quantised layers keep the file's blocks for small batches (GpuOpts.native_q)
    GpuKq head_kq;        // the head's (tied: the embedding's) native copy, with native_q
    size_t kq_bytes;      // the native copies' bytes (of weight_bytes)
    int fuse_norm8;       // the RMSNorms before qkv and gate_up write a8 / sa themselves (QWEN3_FUSED_NORM8, on)
    int uni;              // FP8 gate_up (and the head) on uniform scales, groups of this many slices (QWEN3_FP8_UNI; 0: off)
    int uni_o;            // the o projection too, where a launch quantises its input (QWEN3_FP8_UNI_O, on)
    int uni_rows;         // qkv and down too in steps of at least this many rows (QWEN3_FP8_UNI_ROWS; 0: off)
    int gated;            // QWEN3_FUSED_SWIGLU: 0 = the gate/up GEMM stores f32 (gu) and swiglu.ptx reads it back; 1 =
                          // SwiGLU in the GEMM's epilogue, bf16 out; 2 (default) = also the FP8-quantising epilogue
    int head_fp8;         // the head with FP8 weights: HEAD_BF16, HEAD_FP8 or HEAD_RESCORE (GpuOpts.fp8_head)
    float head_cd, head_cw; // HEAD_RESCORE: delta^2 = cd |x8|^2 + cw |x - x8|^2 (head_rescore_consts)
    CUdeviceptr head_part, head_stats;  // f32 [OUT_ROWS][vocab chunks]; u32 [OUT_ROWS][4] (QWEN3_HEAD_STATS)
    CUdeviceptr head_pmax;  // f32 [OUT_ROWS][vocab / 64]: the head GEMM's row maxima (QWEN3_HEAD_ROWMAX, head_rowmax)
    int head_rowmax;        // the FP8 head GEMM writes them where its tile can (default on; 0: head_rowmax's pass)
    CUdeviceptr head_best;  // u64 [OUT_ROWS][HEAD_RESCORE_BEST]: head_rescore's greedy answers (launch_sample's pre;
                            // QWEN3_HEAD_BEST=0: not written, every greedy row read in full)
    int head_stats_on;
    long head_rows;       // rows through the rescored head (graph padding included; rescore_pays), for the stats
    unsigned ablate;      // QWEN3_ABLATE: launches left out of every step (timing experiments only: wrong output)
    int qkv16;            // QWEN3_QKV_BF16 (default on): qkv_bf16 below
    int fuse_o8;          // decode attention writes the o projection's a8 / sa itself (QWEN3_FUSED_O8, on)
    int fuse_kq_norm;     // gemv_kq normalises its input itself before qkv and gate_up (QWEN3_KQ_NORM, on)
    int attn_order;       // graph-replayed passes: decode attention starts the longest contexts first
                          // (QWEN3_ATTN_ORDER, on): ord_* hold the pass's tokens in that order
    int kv_fp8;           // KV cache in e4m3 with a scale per (token, kv head) row (GpuOpts.fp8_kv)
    CUdeviceptr a8, sa;   // e4m3 [STEP_TOKENS][max K], f32 [STEP_TOKENS][max K / 128]
    int norm8;            // the producer-side RMSNorm's sides (QWEN3_NORM8): norm8_step
    int norm8_mlp_max_m;  // its MLP side up to that many rows (QWEN3_NORM8_MLP_MAX_M)
    CUdeviceptr n8;       // its buffer: norm8_bytes(STEP_TOKENS, dim) (gpu_ops.h, GemmNorm)
    int rope8;            // RoPE in the qkv GEMM's epilogue with the FP8 cache (QWEN3_ROPE8, on): rope8_step
    CUdeviceptr rope_cs, rope_kvrow;  // its step's tables (launch_rope_table): f32 [STEP_TOKENS][64][2], u32 [..]
    CUdeviceptr rope_args;  // its operands, RopeKV8 [n_layer]
    CUdeviceptr out_norm; // f32 [dim]
    GpuLayer L[QWEN3_MAX_LAYERS];
    // activations of one step (see gpu_ops.h for the layouts)
    CUdeviceptr x, h, qkv, q, attn, gu, a, logits;
    // A pass's inputs, all in step_in (PK_BYTES) at offsets forward sets: tokens, slots, positions, output rows
    // (int32 [T]), and the same tokens' slots, positions and indices longest context first (graph-replayed passes)
    CUdeviceptr step_in, tokens, tok_slot, tok_pos, out_rows, ord_slot, ord_pos, ord_tok;
    struct PosIx *ord_buf;                            // host scratch for that order [STEP_TOKENS]
    // device sampling: history int32 [max_seqs + 1][max_ctx] (row max_seqs: the padding rows'), the wanted rows'
    // parameters GpuSampleParams [OUT_ROWS] (staged through the pass's Stage), and the sampled ids int32
    // [2][max_seqs]: step s writes half s % 2 (row k: its k-th wanted row), whose pinned copy is h_ids, complete at
    // event done[s % 2]. A token -(1 + i) of a step names entry i of ids (history_scatter resolves it on the device:
    // run-ahead's ENGINE_PREV, the previous step's half).
    CUdeviceptr history, sample_params, ids;  // sample_params: in step_in (forward)
    int *h_ids;
    CUevent done[2];
    long submitted, waited;  // steps through run_step with sampling (step_submit / step_sample), and read back
    int rows_of[2];       // wanted rows of the step in each half
    GpuSampleParams *sp;  // host: a pass's sampling parameters [OUT_ROWS], before they go to its Stage
    int *tok_buf, tok_cap;  // host: step_submit's tokens with ENGINE_PREV resolved to ids entries
    CUfunction fn_history;  // history_scatter, loaded before any graph capture
    // A pass's inputs go through pinned staging that the stream copies asynchronously: a ring of N_STAGES, a stage
    // reused only after its last copies ran (event copied), so the host can prepare pass n + 1 while pass n waits.
    Stage stage[N_STAGES];
    int stage_i;          // the next stage to use
    // The paged cache: kv.table (pinned, [max_seqs + 1][max_pages], the last row the padding rows' scratch slot)
    // is the host copy of block_table; its changed rows are uploaded before each step.
    KvPages kv;
    int *h_table;
    CUdeviceptr block_table;  // int32 [max_seqs + 1][max_pages]
    int scratch_page;     // == n_pages: the page of the padding rows and of every table entry holding no page
    // A decode step of T tokens (every row's logits) is padded to its bucket and captured as a graph the second
    // time the bucket is seen (the first runs eagerly, which also loads every module) and replayed after that: one
    // launch instead of ~9 per layer. A pass's inputs are copied to fixed device buffers before its graph runs.
    // QWEN3_EAGER=1 or QWEN3_DEBUG_SYNC=1 turn graphs off.
    CUgraphExec graph[N_BUCKETS];
    unsigned char seen[N_BUCKETS];
    int use_graphs;
    int step_tokens;      // tokens of a forward pass, <= STEP_TOKENS (QWEN3_STEP_TOKENS: smaller, for A/B runs)
    GpuArena arena;       // one allocation holding every buffer above
    int *seq_len;         // host: tokens cached per slot
    int *step_add;        // host scratch for step(): tokens per slot in the call being checked
    unsigned char *slot_seen;  // host scratch for one_per_seq, all 0 between calls
    size_t weight_bytes, cache_bytes;
    // QWEN3_PROFILE=1 (or 2): device time of the passes per kind (0 graph-shaped decode, 1 other) and their rows,
    // the device's idle time between passes (the span from the first pass's start to the last's end, less the
    // passes: the time the stream waited for the host), and the host time spent in the engine's step calls;
    // printed when the engine is destroyed.
    int prof, prof_started;
    CUevent prof_first;
    double prof_s[2], prof_span_s, prof_host_s;
    long prof_n[2], prof_rows[2];
} GpuEngine;

// ---------------------------------------------------------------- the forward step
// QWEN3_ABLATE=a,b,...: the step leaves those launches out — norm (the two RMSNorms a layer), rope (q/k norm, RoPE,
// KV write), attn, quant (the down projection's quantiser) — so that a timing run shows what each costs inside the
// graphs. The output is garbage: for experiments (bench/device.sh stage b1), never for results. ~0u: a bad name.
enum { ABL_NORM = 1, ABL_ROPE = 2, ABL_ATTN = 4, ABL_QUANT = 8 };
static unsigned ablate_mask(char *err, size_t errlen) {
    static const char *const names[] = { "norm", "rope", "attn", "quant" };
    const char *v = getenv("QWEN3_ABLATE");
    unsigned m = 0;
    while (v && *v) {
        size_t n = strcspn(v, ",");
        unsigned bit = 0;
        for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i]) == n && !strncmp(v, names[i], n)) bit = 1u << i;
        if (!bit) {
            snprintf(err, errlen, "QWEN3_ABLATE: '%.*s' is none of norm, rope, attn, quant", (int)n, v);
            return ~0u;
        }
        m |= bit;
        v += n + (v[n] == ',');
    }
    return m;
}

// RMSNorm of the residual stream x into the input of linear layer L: bf16 h, or — when L runs on the FP8 tensor
// cores (FP8 weights and more rows than the W8A16 decode kernel takes) — e4m3 a8 + scales sa straight from the norm
// (returns 1: L's input is quantised already). QWEN3_FUSED_NORM8=0: always bf16 h (and a quantiser launch per layer).
static int norm_into(GpuEngine *e, const GpuLinear *L, CUdeviceptr w, int T) {
    Gpu *g = &e->g;
    const Qwen3Config *c = &e->c;
    if (e->fuse_norm8 && L->fp8 && T > gemv_fp8_max_m() && !gpu_kq_takes(&L->kq, T) && c->dim % 128 == 0) {
        if (e->ablate & ABL_NORM) return 1;
        if (L->uni) launch_rmsnorm_fp8_row(g, e->a8, e->sa, e->x, w, 0, T, c->dim, c->rms_eps);
        else launch_rmsnorm_fp8(g, e->a8, e->sa, e->x, w, 0, T, c->dim, c->rms_eps);
        return L->uni ? 2 : 1;
    }
    if (!(e->ablate & ABL_NORM)) launch_rmsnorm(g, e->h, e->x, w, 0, T, c->dim, c->rms_eps);
    return 0;
}

// Batch <= QWEN3_SW_BUILD_M rows on FP8 weights: the swapped tile builds its e4m3 input itself — the RMSNorm of the
// residual stream x before qkv and gate_up (nw: the norm's weights), the quantiser of the SwiGLU output before down
// (nw = 0) — one launch instead of two (launch_linear_build; NOTES, session 21). Where gemv_kq takes the rows of a
// layer with a native copy (batch 1), it does the RMSNorm itself (launch_gemv_kq_norm; QWEN3_KQ_NORM=0: off). Not
// under QWEN3_ABLATE or QWEN3_FUSED_NORM8=0 (they time or check the separate launches). 1 if it ran.
static int build_in(GpuEngine *e, const GpuLinear *L, CUdeviceptr C, CUdeviceptr x, CUdeviceptr nw, int T, int mode,
                    int want8) {
    if (e->ablate || !e->fuse_norm8) return 0;
    int kq_mode = mode == GEMM_STORE_F32 || mode == GEMM_SWIGLU_BF16;
    if (nw && e->fuse_kq_norm && kq_mode && gpu_kq_norm_fuses(&L->kq, T)) {
        launch_gemv_kq_norm(&e->g, &L->kq, C, x, nw, e->c.rms_eps, T, mode);
        return 1;
    }
    return launch_linear_build(&e->g, L, C, x, nw, e->c.rms_eps, T, mode, want8);
}

// The qkv GEMM stores bf16 for the RoPE kernel (half the bytes written and read back: 84 -> 42 MB at a 3,436-row step
// of the 8B) where the FP8 wgmma tiles run it (more than QKV16_MIN_M rows; the decode tiles below may split K, which
// a bf16 store cannot); q and k are rounded to bf16 before their RMSNorm, v as the cache stores it anyway.
// QWEN3_QKV_BF16=0: always f32.
#define QKV16_MIN_M 64
static int qkv_bf16(const GpuEngine *e, const GpuLinear *L, int T) {
    return e->qkv16 && L->fp8 && T > QKV16_MIN_M;
}

// The producer-side RMSNorm for a step of T rows (NOTES, session 37): the o and down GEMMs' epilogues write the next
// qkv / gate_up input (e4m3 of x w, block scales, the rows' sums of x^2 in e->n8) and those GEMMs multiply their rows
// by rstd, so the two RMSNorm launches a layer go (the first layer's and the head's stay). Where all four layers of
// every block run FP8 wgmma tiles at T rows; not under QWEN3_ABLATE or QWEN3_FUSED_NORM8=0 (they time or check the
// separate launches). Returns the sides it takes, QWEN3_NORM8's bits (default 3: both; 0 off): 1 the attention
// block's norm (down -> the next qkv), 2 the MLP block's (o -> gate_up), that one only up to QWEN3_NORM8_MLP_MAX_M
// rows. Measured on the 8B, FP8 weights + KV, H200 (NOTES, session 37), decode-only against off: both sides +2.7% at
// B = 128; from 129 rows gate_up runs the 64x256 tile, where scaling its rows cost it ~9 us a layer at B = 256 (the
// trace) and the MLP side lost 1.9-2.8% at B = 160-256 while the attention side alone gained 0.3-0.4%.
#define NORM8_MLP_MAX_M 128
// FP8 gate_up with uniform scales (NOTES, session 42): its weights quantised one scale for each 128-row block along
// K (launch_quant_w_fp8_row), and where the MLP's RMSNorm is a launch of its own (the producer-side norm is off: more
// than NORM8_MLP_MAX_M rows) that norm quantises one scale a row, so the GEMM sums up to FP8_UNI_G slices in the
// tensor cores instead of a multiply-add a slice (GemmNorm.uni; 255: all of them, and the 128x256 tiles of large
// steps take their own entries). QWEN3_FP8_UNI=G sets the groups, 0: off (the weights then get their 128 x 128 block
// scales). H200, 8B FP8 + FP8 KV, same call, 255 against off: B = 256 +5.4% end to end (decode-only +3.8%), B = 1,024
// +5.8%, the random workload +3.4%, pp512 +6.4%; top-1 against the BF16 path 73.4% (off: 72.9%). The FP8 head too
// (QWEN3_FP8_UNI_HEAD): B = 256 +0.4%, greedy answers identical.
#define FP8_UNI_G 255
// The other three linear layers on uniform scales (NOTES, session 43): their weights quantised as gate/up's. o's
// input is attention's bf16 output wherever the decode kernel does not quantise it itself (prefill steps), so a
// row quantiser replaces the block one at no cost (QWEN3_FP8_UNI_O, on). qkv's and down's come from the
// producer-side norm and gate/up's quantising epilogue, both of which see 128 columns of a row; in steps of at
// least FP8_UNI_ROWS rows (QWEN3_FP8_UNI_ROWS; 0: off) the step takes neither: qkv's input is a row-scaled RMSNorm
// launch, gate/up writes bf16 and down's input a row quantiser launch. H200, 8B FP8 + FP8 KV, same call, both on
// against both off: B = 256 +1.7% end to end, B = 1,024 +3.5%, the random workload +0.6%, pp512 +1.9%, pp4096
// +15.8%, batch 1 level; a 3,900-row step's layer 1,580 -> 1,410 us (qkv 203 -> 152, o 160 -> 130, down 417 -> 302,
// plus 34 + 35 us of launches). Session 46 moved the line from 2,048 rows to 208 (same calls, two rounds each):
// B = 256 +1.9%, B = 224 +2.4%, B = 208 +2.1%, B = 1,024 +1.5%, pp512 +1.7..3.0%, the random workload +0.7%; smaller
// steps lose (a line at 100 rows: B = 192 -0.4%, B = 160 -1.9%, B = 128 -2.4%). qkv alone on uniform scales (down on
// block scales) was level at B = 256: the gain is down's, whose K = 12,288 promotes 96 slices a tile on block scales.
// Measured on the 8B only.
#define FP8_UNI_ROWS 208
static int norm8_step(GpuEngine *e, int T) {
    if (!e->norm8 || e->ablate || !e->fuse_norm8 || !e->fp8 || e->c.dim % 512 || e->c.dim > 8192) return 0;
    for (int l = 0; l < e->c.n_layer; l++) {
        const GpuLayer *L = &e->L[l];
        int down8 = L->wdown.fp8 && !gpu_kq_takes(&L->wdown.kq, T);
        if (!L->wgu.gated || !linear_norm8_takes(&e->g, &L->wqkv, T, 0) || !linear_norm8_takes(&e->g, &L->wo, T, 0) ||
            !linear_norm8_takes(&e->g, &L->wgu, T, down8) || !linear_norm8_takes(&e->g, &L->wdown, T, 0))
            return 0;
    }
    return T > e->norm8_mlp_max_m ? e->norm8 & 1 : e->norm8;
}

// RoPE in the qkv GEMM's epilogue for a step of T rows (gpu_ops.h GEMM_ROPE_KV8; NOTES, session 39): with the FP8 cache,
// where every layer's qkv runs an FP8 wgmma tile that has the epilogue (the tile depends on T only: every layer has the
// same shape); not under QWEN3_ABLATE or QWEN3_ROPE8=0. The step's table launch replaces a RoPE launch a layer.
// Measured (H200, 8B q8_0 as FP8 + FP8 KV, decode-only, same call): B = 256 +1.0%, B = 128 +0.8%, B = 64 +1.5%.
static int rope8_step(GpuEngine *e, int T) {
    const GpuLinear *L = &e->L[0].wqkv;
    if (!e->rope8 || !e->kv_fp8 || e->ablate || !e->rope_args || e->c.head_dim != 128 || !L->fp8 ||
        T <= gemv_fp8_max_m() || gpu_kq_takes(&L->kq, T))
        return 0;
    return gemm_fp8_rope_tile(gemm_fp8_tile_choice(&e->g, T, L->N, L->K, NULL));
}

// The rescored head's two scans read the n rows of f32 logits twice (~170 us at n = 256, 2.2% of a B = 256 step of
// the 8B); what the e4m3 head saves is half the weight bytes while n is small (0.2 ms at the 8B), and while the head
// is compute-bound about what the FP8 tensor cores save over bf16 — more than the scans from dim 4096 on. Measured
// (session 11, same runs): the 8B gains at B = 1..256 (+6.1% .. +1%); the 0.6B (dim 1024) gains at B = 1..64 (+5.8%,
// +1.9%, +1.9%) and loses 2.2% at B = 256. So: rescore up to dim / 16 rows, or from dim 4096 on; else the bf16 head.
static int rescore_pays(int n, int dim) { return dim >= 4096 || n * 16 <= dim; }
// Whether a pass's head over n rows runs head_rescore (not the file's native head, not a bf16-only head)
static int head_rescores(const GpuEngine *e, int n) {
    return !gpu_kq_takes(&e->head_kq, n) && e->head_fp8 == HEAD_RESCORE && rescore_pays(n, e->c.dim);
}

// Enqueues one step of T tokens whose inputs are on the device already (in: their host copy, [4][STEP_TOKENS]);
// the head runs on n_out rows. No host sync.
// wg_attn: route runs of one sequence's consecutive positions (prefill chunks) to the wgmma attention kernel
// (launch_attention_host reads the step's slots and positions on the host, so a CUDA graph could not replay it for
// other inputs: graph-bucket steps, decode-shaped, keep the one-launch kernel).
static void enqueue_step(GpuEngine *e, const int *in, int T, int n_out, int wg_attn) {
    Gpu *g = &e->g;
    const Qwen3Config *c = &e->c;
    int hd = c->head_dim;
    AttnOrder ord = { e->ord_slot, e->ord_pos, e->ord_tok };  // (filled by forward for graph-replayed passes)

    // --- the step's tokens into the sequences' histories (the sampler's penalties read them); a token -(1 + i)
    // becomes ids[i], the id an earlier step sampled (-1 there: 0), in tokens too for the embedding ---
    unsigned uT = (unsigned)T, urow = (unsigned)e->base.max_ctx;
    Dim3 hgrid = { (uT + 127) / 128, 1, 1 }, hblock = { 128, 1, 1 };
    CUfunction history_scatter = e->fn_history;
    g->prof_tag = "in";
    GPU_LAUNCH(g, history_scatter, hgrid, hblock, 0, &e->history, &e->tokens, &e->tok_slot, &e->tok_pos, &e->ids, &uT,
               &urow);
    launch_embed(g, e->x, e->emb, e->tokens, T, c->dim);
    // the producer-side RMSNorm: the producers' outputs (pn) and what the consumers read (cn: layer 0's qkv reads a8)
    int ur = e->uni_rows && T >= e->uni_rows;  // qkv and down on uniform scales (FP8_UNI_ROWS)
    int pn = ur ? 0 : norm8_step(e, T);
    GemmNorm pn_o = { .q8 = e->n8 }, pn_down = pn_o;
    GemmNorm cn = { .ss = e->n8 + norm8_sums(T, c->dim), .eps = c->rms_eps };
    CUdeviceptr n8_sa = e->n8 + norm8_scales(T, c->dim);
    int r8 = rope8_step(e, T);
    if (r8) {
        g->prof_tag = "rope_kv";
        launch_rope_table(g, e->rope_cs, e->rope_kvrow, e->tok_slot, e->tok_pos, e->block_table, T, c->n_kv_head,
                          e->kv.max_pages, c->rope_base);
    }
    for (int l = 0; l < c->n_layer; l++) {
        GpuLayer *L = &e->L[l];
        // qkv and down quantise their inputs one scale a row only in steps of e->uni_rows rows and more (ur): below,
        // their block scales as before (the row-scaled norm and quantiser launches cost B = 64 7% as measured; their
        // weights' uniform scales serve the usual loop as block scales)
        GpuLinear wqkv = L->wqkv, wdown = L->wdown;
        if (!ur) wqkv.uni = wdown.uni = 0;
        // --- attention block: x += Wo . attn(rope(norm(Wqkv . rmsnorm(x))))
        g->prof_tag = "qkv";
        int qkv16 = qkv_bf16(e, &wqkv, T), in8 = 0;
        GemmNorm rn = cn;  // the RoPE epilogue's operands (with the rows' sums where the previous down wrote them)
        rn.rope = e->rope_args + (CUdeviceptr)l * sizeof(RopeKV8);
        if (!((pn & 1) && l > 0)) rn.ss = 0;
        if (r8) {  // q and the cache rows straight from the GEMM (e->q doubles as its C: never written as such)
            if (!((pn & 1) && l > 0)) {
                g->prof_tag = "norm";
                in8 = norm_into(e, &wqkv, L->attn_norm, T);
                g->prof_tag = "qkv";
            }
            launch_linear_qn(g, &wqkv, e->q, e->h, (pn & 1) && l > 0 ? e->n8 : e->a8,
                             (pn & 1) && l > 0 ? n8_sa : e->sa, T, GEMM_ROPE_KV8, in8 || ((pn & 1) && l > 0), &rn);
        } else if ((pn & 1) && l > 0) {  // the previous down GEMM wrote the input
            launch_linear_qn(g, &wqkv, e->qkv, 0, e->n8, n8_sa, T, qkv16 ? GEMM_STORE_BF16 : GEMM_STORE_F32, 1, &cn);
        } else if (!build_in(e, &wqkv, e->qkv, e->x, L->attn_norm, T, qkv16 ? GEMM_STORE_BF16 : GEMM_STORE_F32, 0)) {
            g->prof_tag = "norm";
            in8 = norm_into(e, &wqkv, L->attn_norm, T);
            g->prof_tag = "qkv";
            launch_linear_q(g, &wqkv, e->qkv, e->h, e->a8, e->sa, T, qkv16 ? GEMM_STORE_BF16 : GEMM_STORE_F32, in8);
        }
        g->prof_tag = "rope_kv";
        if ((e->ablate & ABL_ROPE) || r8) {
        } else if (e->kv_fp8)
            launch_qknorm_rope_kv_fp8(g, e->q, L->k_pool, L->v_pool, L->k_scale, L->v_scale, e->qkv, qkv16, L->q_norm,
                                      L->k_norm, e->block_table, e->tok_slot, e->tok_pos, T, c->n_head, c->n_kv_head,
                                      hd, e->kv.max_pages, c->rope_base, c->rms_eps);
        else
            launch_qknorm_rope_kv(g, e->q, L->k_pool, L->v_pool, e->qkv, qkv16, L->q_norm, L->k_norm, e->block_table,
                                  e->tok_slot, e->tok_pos, T, c->n_head, c->n_kv_head, hd, e->kv.max_pages,
                                  c->rope_base, c->rms_eps);
        g->prof_tag = "attn";
        int o8 = 0, fuse_o8 = e->fuse_o8 && L->wo.fp8 && T > gemv_fp8_max_m() && !gpu_kq_takes(&L->wo.kq, T) &&
                                  (c->n_head * hd) % 128 == 0;
        if (e->ablate & ABL_ATTN)
            o8 = fuse_o8 && !wg_attn;
        else if (wg_attn)  // prefill runs to the wgmma kernel (either cache), the rest to attention.ptx / attn_dec
            launch_attention_host(g, e->attn, e->q, L->k_pool, L->v_pool, L->k_scale, L->v_scale, e->block_table,
                                  e->tok_slot, e->tok_pos, in + STEP_TOKENS, in + 2 * STEP_TOKENS, T, c->n_head,
                                  c->n_kv_head, hd, e->kv.max_pages, e->scratch_page + 1, 1.0f / sqrtf((float)hd));
        else  // an FP8 o projection: the decode kernel writes its input quantised (no quantiser launch)
            o8 = launch_attention_q(g, e->attn, fuse_o8 ? e->a8 : 0, e->sa, e->q, L->k_pool, L->v_pool, L->k_scale,
                                    L->v_scale, e->block_table, e->tok_slot, e->tok_pos, T, c->n_head, c->n_kv_head,
                                    hd, e->kv.max_pages, 1.0f / sqrtf((float)hd), e->attn_order ? &ord : NULL);
        g->prof_tag = "o";
        pn_o.nw = L->ffn_norm;
        launch_linear_qn(g, &L->wo, e->x, e->attn, e->a8, e->sa, T, pn & 2 ? GEMM_ADD_NORM8 : GEMM_ADD_F32, o8,
                         pn & 2 ? &pn_o : NULL);
        // --- MLP block: x += Wdown . swiglu(Wgate_up . rmsnorm(x))
        g->prof_tag = "gate_up";
        int a8_ready = 0;  // the fused epilogue may hand the down GEMM its e4m3 input directly
        int down8 = wdown.fp8 && !gpu_kq_takes(&wdown.kq, T);  // (its native copy reads bf16)
        if (pn & 2) {
            a8_ready = launch_linear_swiglu_qn(g, &L->wgu, e->a, 0, e->n8, n8_sa, T, down8, 1, &cn);
        } else if (!(L->wgu.gated && build_in(e, &L->wgu, e->a, e->x, L->ffn_norm, T, GEMM_SWIGLU_BF16, down8))) {
            g->prof_tag = "norm";
            in8 = norm_into(e, &L->wgu, L->ffn_norm, T);
            g->prof_tag = "gate_up";
            if (L->wgu.gated) {  // interleaved at load: SwiGLU in the GEMM's epilogue (QWEN3_FUSED_SWIGLU=0: off)
                a8_ready = launch_linear_swiglu_q(g, &L->wgu, e->a, e->h, e->a8, e->sa, T,
                                                  down8 && !(ur && wdown.uni), in8);
            } else {
                launch_linear_q(g, &L->wgu, e->gu, e->h, e->a8, e->sa, T, GEMM_STORE_F32, in8);
                g->prof_tag = "swiglu";
                launch_swiglu(g, e->a, e->gu, T, c->ffn_dim);
            }
        }
        g->prof_tag = "down";
        if (e->ablate & ABL_QUANT) a8_ready = down8 && T > gemv_fp8_max_m();  // skip its quantiser
        int pn_next = (pn & 1) && l + 1 < c->n_layer;  // (the head's norm stays a launch)
        if (pn_next) pn_down.nw = e->L[l + 1].attn_norm;
        if (a8_ready || pn || !build_in(e, &wdown, e->x, e->a, 0, T, GEMM_ADD_F32, 0)) {
            CUdeviceptr a8 = a8_ready ? e->a : e->a8, sa = a8_ready ? e->a + swiglu_fp8_scales(T, c->ffn_dim) : e->sa;
            launch_linear_qn(g, &wdown, e->x, e->a, a8, sa, T, pn_next ? GEMM_ADD_NORM8 : GEMM_ADD_F32, a8_ready,
                             pn_next ? &pn_down : NULL);
        }
    }
    // --- head: only the rows whose logits are wanted (none for an early prefill chunk)
    if (n_out > 0) {
        g->prof_tag = "head";
        launch_rmsnorm(g, e->h, e->x, e->out_norm, e->out_rows, n_out, c->dim, c->rms_eps);
        int native = gpu_kq_takes(&e->head_kq, n_out);  // the file's own K-quant head: no rescoring
        int rescore = head_rescores(e, n_out);
        const GpuLinear *head = e->head_fp8 == HEAD_RESCORE && !rescore ? &e->lm_head16 : &e->lm_head;
        // uniform scales (FP8_UNI_G): the same rows' e4m3 with one scale a row, for the GEMM and the rescore's x8
        int a8r = !native && head->fp8 && head->uni && n_out > gemv_fp8_max_m() && !gpu_kq_takes(&head->kq, n_out);
        if (a8r) launch_rmsnorm_fp8_row(g, e->a8, e->sa, e->x, e->out_norm, e->out_rows, n_out, c->dim, c->rms_eps);
        // the rescore's first pass (each row's maxima) in the GEMM's epilogue where its tile has one
        int pm = 0;
        if (native)
            launch_gemv_kq(g, &e->head_kq, e->logits, e->h, n_out, GEMM_STORE_F32);
        else if (rescore && e->head_rowmax)
            pm = launch_linear_rowmax(g, head, e->logits, e->head_pmax, e->h, e->a8, e->sa, n_out, a8r ? 2 : 0);
        else
            launch_linear_q(g, head, e->logits, e->h, e->a8, e->sa, n_out, GEMM_STORE_F32, a8r ? 2 : 0);
        if (rescore) {  // (the W8A16 decode kernel, when it took the rows, read h as bf16)
            int a8 = n_out > gemv_fp8_max_m();
            launch_head_rescore(g, e->logits, e->head_part, pm ? e->head_pmax : 0, e->h, a8 ? e->a8 : 0,
                                a8 ? e->sa : 0, e->lm_head16.w, e->head_stats, n_out, c->vocab, c->dim, e->head_cd,
                                e->head_cw, e->head_best);
        }
    }
}

// QWEN3_PROFILE: adds the stage's pass (complete: its t1 has been waited for) to the totals.
static void prof_collect(GpuEngine *e, Stage *st) {
    if (!st->pending) return;
    float busy = 0, span = 0;
    CU_CHECK(cuEventSynchronize(st->t1));
    CU_CHECK(cuEventElapsedTime(&busy, st->t0, st->t1));
    CU_CHECK(cuEventElapsedTime(&span, e->prof_first, st->t1));
    e->prof_s[st->kind] += busy * 1e-3;
    e->prof_n[st->kind]++;
    e->prof_rows[st->kind] += st->rows;
    if (span * 1e-3 > e->prof_span_s) e->prof_span_s = span * 1e-3;
    st->pending = 0;
}

// The order decode attention starts a pass's Tp tokens in: longest context first (ties in step order), so that in a
// batch of mixed lengths (the random workload: 100 .. 2,048 keys) the long (token, kv head) units do not start in
// the last wave and run on alone; into in[4 S + i], in[5 S + i], in[6 S + i] the slot, position and index of the i-th.
struct PosIx { int pos, t; };
static int by_pos_desc(const void *a, const void *b) {
    const struct PosIx *x = a, *y = b;
    return x->pos != y->pos ? (x->pos < y->pos) - (x->pos > y->pos) : (x->t > y->t) - (x->t < y->t);
}
static void attn_order(struct PosIx *o, int *in, int Tp) {
    for (int t = 0; t < Tp; t++) o[t] = (struct PosIx){ in[2 * STEP_TOKENS + t], t };
    qsort(o, (size_t)Tp, sizeof *o, by_pos_desc);
    for (int i = 0; i < Tp; i++) {
        in[4 * STEP_TOKENS + i] = in[STEP_TOKENS + o[i].t];
        in[5 * STEP_TOKENS + i] = o[i].pos;
        in[6 * STEP_TOKENS + i] = o[i].t;
    }
}

// A pass's device inputs go in one copy (every cuMemcpyHtoDAsync is a stream operation with its own latency, and
// the pass waits for all of them): src's bytes into pk at *o, 16-byte aligned; returns where they will be on the
// device. The offsets up to the sampling parameters depend on the pass's T only, so a bucket's graph finds its
// inputs where it was captured.
enum { PK_BYTES = 7 * (STEP_TOKENS * 4 + 16) + OUT_ROWS * (int)sizeof(GpuSampleParams) + 16 };
static CUdeviceptr pack(GpuEngine *e, char *pk, size_t *o, const void *src, size_t bytes) {
    CUdeviceptr d = e->step_in + *o;
    if (*o + bytes > PK_BYTES) die("gpu_engine: a pass's inputs overflow their block");
    memcpy(pk + *o, src, bytes);
    *o += (bytes + 15) & ~(size_t)15;
    return d;
}

// 1 when no sequence has two of the pass's T tokens. Graph replays need it: their decode attention reads a sequence's
// rows below each token's position before its PDL wait (host/gpu_attn.c), so none of them may be this pass's own.
static int one_per_seq(GpuEngine *e, const int *slot, int T) {
    unsigned char *seen = e->slot_seen;
    int ok = 1, t = 0;
    for (; t < T && ok; t++) {
        ok = !seen[slot[t]];
        seen[slot[t]] = 1;
    }
    for (int i = 0; i < t; i++) seen[slot[i]] = 0;
    return ok;
}

// Runs T tokens (token t at position pos[t] of slot slot[t]) and computes rows out_rows[0..n_out) of the step: with
// ids (a device pointer), samples them on the device with parameters sp[0..n_out) into ids[0..n_out) and returns
// with the pass queued; else copies their logits to host_logits and returns when they are there. Decode-shaped
// steps (every row out, one token a sequence) are padded to their bucket and go through a CUDA graph.
static void forward(GpuEngine *e, const int *tokens, const int *slot, const int *pos, int T, const int *out_rows,
                    int n_out, const GpuSampleParams *sp, CUdeviceptr ids, float *host_logits) {
    Gpu *g = &e->g;
    Stage *st = &e->stage[e->stage_i];
    e->stage_i = (e->stage_i + 1) % N_STAGES;
    CU_CHECK(cuEventSynchronize(st->copied));  // (at once in steady state: its pass was N_STAGES passes ago)
    if (e->prof) {
        prof_collect(e, st);
        if (!e->prof_started) CU_CHECK(cuEventRecord(e->prof_first, g->stream));
        e->prof_started = 1;
        CU_CHECK(cuEventRecord(st->t0, g->stream));
    }
    int *in = st->in;
    KvPages *kv = &e->kv;
    if (kv->dirty_lo <= kv->dirty_hi) {  // pages taken or given back since the last pass: those table rows
        size_t row = (size_t)kv->max_pages, lo = (size_t)kv->dirty_lo, n = (size_t)(kv->dirty_hi - kv->dirty_lo + 1);
        memcpy(st->table, e->h_table + lo * row, n * row * sizeof(int));
        CU_CHECK(cuMemcpyHtoDAsync(e->block_table + lo * row * 4, st->table, n * row * 4, g->stream));
        kvp_clean(kv);
    }
    memcpy(in, tokens, T * sizeof(int));
    memcpy(in + STEP_TOKENS, slot, T * sizeof(int));
    memcpy(in + 2 * STEP_TOKENS, pos, T * sizeof(int));
    memcpy(in + 3 * STEP_TOKENS, out_rows, n_out * sizeof(int));
    int decode_shaped = n_out == T;  // every row's logits, in order
    for (int i = 0; decode_shaped && i < n_out; i++) decode_shaped = out_rows[i] == i;
    g->prof_phase = decode_shaped ? "decode" : "mixed";
    int graphable = decode_shaped && e->use_graphs && one_per_seq(e, slot, T);
    int b = graphable ? bucket_of(T) : 0, Tp = graphable ? BUCKETS[b] : T;
    for (int t = T; t < Tp; t++) {  // padding rows: scratch slot, page and position; logits dropped
        in[t] = 0;
        in[STEP_TOKENS + t] = e->base.max_seqs;
        in[2 * STEP_TOKENS + t] = 0;
        in[3 * STEP_TOKENS + t] = t;
    }
    int n_rows = graphable ? Tp : n_out;  // rows through the head
    size_t o = 0, n4 = (size_t)Tp * sizeof(int);
    e->tokens = pack(e, st->pk, &o, in, n4);
    e->tok_slot = pack(e, st->pk, &o, in + STEP_TOKENS, n4);
    e->tok_pos = pack(e, st->pk, &o, in + 2 * STEP_TOKENS, n4);
    e->out_rows = pack(e, st->pk, &o, in + 3 * STEP_TOKENS, (size_t)n_rows * sizeof(int));
    if (graphable && e->attn_order) {
        attn_order(e->ord_buf, in, Tp);
        e->ord_slot = pack(e, st->pk, &o, in + 4 * STEP_TOKENS, n4);
        e->ord_pos = pack(e, st->pk, &o, in + 5 * STEP_TOKENS, n4);
        e->ord_tok = pack(e, st->pk, &o, in + 6 * STEP_TOKENS, n4);
    }
    if (ids && n_out > 0) e->sample_params = pack(e, st->pk, &o, sp, (size_t)n_out * sizeof(GpuSampleParams));
    CU_CHECK(cuMemcpyHtoDAsync(e->step_in, st->pk, o, g->stream));
    CU_CHECK(cuEventRecord(st->copied, g->stream));
    if (rescore_pays(n_rows, e->c.dim)) e->head_rows += n_rows;
    if (!graphable) {
        enqueue_step(e, in, T, n_out, 1);
    } else if (e->graph[b]) {
        CU_CHECK(cuGraphLaunch(e->graph[b], g->stream));
    } else if (e->seen[b]) {
        CUgraph graph;
        CU_CHECK(cuStreamBeginCapture(g->stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
        enqueue_step(e, in, Tp, Tp, 0);
        CU_CHECK(cuStreamEndCapture(g->stream, &graph));
        CU_CHECK(cuGraphInstantiateWithFlags(&e->graph[b], graph, 0));
        CU_CHECK(cuGraphDestroy(graph));
        CU_CHECK(cuGraphLaunch(e->graph[b], g->stream));
    } else {
        e->seen[b] = 1;
        enqueue_step(e, in, Tp, Tp, 0);
    }
    g->prof_tag = "sample";
    if (ids && n_out > 0)  // the logits rows are compact: row j is out_rows[j]'s, with sp[j]
        launch_sample(g, ids, e->logits, e->sample_params, sp, n_out, e->c.vocab,
                      head_rescores(e, n_rows) ? e->head_best : 0);
    else if (n_out > 0)
        CU_CHECK(cuMemcpyDtoHAsync(host_logits, e->logits, (size_t)n_out * e->c.vocab * sizeof(float), g->stream));
    if (e->prof) {
        CU_CHECK(cuEventRecord(st->t1, g->stream));
        st->kind = !decode_shaped;
        st->rows = T;
        st->pending = 1;
    }
    if (!ids) CU_CHECK(cuStreamSynchronize(g->stream));
}

// ---------------------------------------------------------------- engine.h interface
static int check_seq(GpuEngine *e, int seq, int add) {
    if (seq < 0 || seq >= e->base.max_seqs) {
        snprintf(e->base.err, sizeof e->base.err, "sequence id %d out of range [0, %d)", seq, e->base.max_seqs);
        return -1;
    }
    if (e->seq_len[seq] + add > e->base.max_ctx) {
        snprintf(e->base.err, sizeof e->base.err, "sequence %d would reach %d tokens; the KV cache holds %d", seq,
                 e->seq_len[seq] + add, e->base.max_ctx);
        return -1;
    }
    return 0;
}

// Takes the pages for add[s] more tokens of every sequence s, all or none (the engine.h contract).
static int take_pages(GpuEngine *e, const int *add) {
    int need = 0;
    for (int s = 0; s < e->base.max_seqs; s++)
        if (add[s] > 0) need += kvp_need(&e->kv, s, e->seq_len[s] + add[s]);
    if (need > e->kv.n_free) {
        snprintf(e->base.err, sizeof e->base.err, "KV cache pool exhausted: the call needs %d more pages of %d "
                 "tokens, %d of %d are free", need, KV_PAGE, e->kv.n_free, e->kv.n_pages);
        return -1;
    }
    for (int s = 0; s < e->base.max_seqs; s++)
        if (add[s] > 0 && kvp_grow(&e->kv, s, e->seq_len[s] + add[s])) {
            snprintf(e->base.err, sizeof e->base.err, "page table of sequence %d full", s);  // max_ctx checked before
            return -1;
        }
    return 0;
}

static int gpu_prefill(Engine *eb, int seq, const int *tokens, int n, float *logits, float *all_logits) {
    GpuEngine *e = (GpuEngine *)eb;
    if (check_seq(e, seq, n)) return -1;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= e->c.vocab) {
            snprintf(eb->err, sizeof eb->err, "token id %d out of range [0, %d)", tokens[i], e->c.vocab);
            return -1;
        }
    memset(e->step_add, 0, eb->max_seqs * sizeof(int));
    e->step_add[seq] = n;
    if (take_pages(e, e->step_add)) return -1;
    int slot[STEP_TOKENS], pos[STEP_TOKENS], rows[STEP_TOKENS];
    size_t V = (size_t)e->c.vocab;
    int chunk = all_logits ? OUT_ROWS : e->step_tokens;  // every row's logits: OUT_ROWS a pass
    for (int done = 0; done < n; done += chunk) {
        int T = n - done < chunk ? n - done : chunk;
        for (int t = 0; t < T; t++) { slot[t] = seq; pos[t] = e->seq_len[seq] + t; rows[t] = t; }
        int last_chunk = done + T == n;
        if (all_logits) {
            forward(e, tokens + done, slot, pos, T, rows, T, NULL, 0, all_logits + (size_t)done * V);
            if (last_chunk && logits) memcpy(logits, all_logits + (size_t)(n - 1) * V, V * sizeof(float));
        } else if (last_chunk && logits) {
            rows[0] = T - 1;
            forward(e, tokens + done, slot, pos, T, rows, 1, NULL, 0, logits);
        } else {  // an earlier chunk, or logits not wanted: skip the head entirely
            forward(e, tokens + done, slot, pos, T, rows, 0, NULL, 0, NULL);
        }
        e->seq_len[seq] += T;
    }
    return 0;
}

static int gpu_decode(Engine *eb, int n, const int *seqs, const int *tokens, float *logits) {
    GpuEngine *e = (GpuEngine *)eb;
    int pos[OUT_ROWS], rows[OUT_ROWS];
    for (int i = 0; i < n; i++) {
        if (check_seq(e, seqs[i], 1)) return -1;
        if (tokens[i] < 0 || tokens[i] >= e->c.vocab) {
            snprintf(eb->err, sizeof eb->err, "token id %d out of range [0, %d)", tokens[i], e->c.vocab);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (seqs[j] == seqs[i]) {
                snprintf(eb->err, sizeof eb->err, "sequence %d appears twice in one decode step", seqs[i]);
                return -1;
            }
    }
    memset(e->step_add, 0, eb->max_seqs * sizeof(int));
    for (int i = 0; i < n; i++) e->step_add[seqs[i]] = 1;
    if (take_pages(e, e->step_add)) return -1;
    for (int done = 0; done < n; done += OUT_ROWS) {  // every row's logits: OUT_ROWS a pass
        int T = n - done < OUT_ROWS ? n - done : OUT_ROWS;
        for (int t = 0; t < T; t++) { pos[t] = e->seq_len[seqs[done + t]]; rows[t] = t; }
        forward(e, tokens + done, seqs + done, pos, T, rows, T, NULL, 0, logits + (size_t)done * e->c.vocab);
        for (int t = 0; t < T; t++) e->seq_len[seqs[done + t]]++;
    }
    return 0;
}

// A mixed step in forward() pieces of at most step_tokens tokens and OUT_ROWS wanted rows. A decode-shaped piece
// (every row wanted, as when no prompt is being prefilled) still replays its CUDA graph. With params, the wanted
// rows are sampled on the device into half submitted % 2 of ids and the step is left in flight (step_wait reads
// it); a token -(1 + i) names ids entry i (step_submit checks it). Without, logits gets their rows.
static int run_step(GpuEngine *e, int n, const int *seqs, const int *tokens, const char *want, float *logits,
                    const SamplerParams *const *params, const uint64_t *draw) {
    Engine *eb = &e->base;
    double t_in = e->prof ? now_sec() : 0;
    int *add = e->step_add, rc = 0, n_want = 0;  // tokens of this call per sequence
    memset(add, 0, eb->max_seqs * sizeof(int));
    for (int i = 0; i < n && !rc; i++) {
        n_want += want[i] != 0;
        if (seqs[i] < 0 || seqs[i] >= eb->max_seqs) {
            snprintf(eb->err, sizeof eb->err, "sequence id %d out of range [0, %d)", seqs[i], eb->max_seqs);
            rc = -1;
        } else if (tokens[i] >= e->c.vocab || (tokens[i] < 0 && (!params || tokens[i] < -2 * eb->max_seqs))) {
            snprintf(eb->err, sizeof eb->err, "token id %d out of range [0, %d)", tokens[i], e->c.vocab);
            rc = -1;
        } else if (check_seq(e, seqs[i], ++add[seqs[i]])) rc = -1;
    }
    if (!rc && params && n_want > eb->max_seqs) {  // (a wanted row is its sequence's last token in the call)
        snprintf(eb->err, sizeof eb->err, "%d wanted rows in a step of %d sequences", n_want, eb->max_seqs);
        rc = -1;
    }
    if (!rc) rc = take_pages(e, add);
    if (rc) return rc;
    int slot[STEP_TOKENS], pos[STEP_TOKENS], rows[STEP_TOKENS], k = 0;  // k: wanted rows so far
    int half = (int)(e->submitted % 2);
    CUdeviceptr ids = e->ids + (size_t)half * eb->max_seqs * 4;
    float *out = logits;
    size_t hrow = (size_t)eb->max_ctx * sizeof(int);
    for (int done = 0; done < n;) {
        int T = n - done < e->step_tokens ? n - done : e->step_tokens, n_out = 0;
        for (int t = 0, w = 0; t < T; t++)  // the piece ends at its OUT_ROWS + 1st wanted row
            if (want[done + t] && ++w > OUT_ROWS) T = t;
        for (int t = 0; t < T; t++) {
            slot[t] = seqs[done + t];
            pos[t] = e->seq_len[slot[t]]++;  // positions in order; the cache holds them after this step
            if (!want[done + t]) continue;
            if (params)  // the history the penalties see: the sequence's tokens up to this one
                e->sp[n_out] = gpu_sample_params(params[k + n_out], e->history + (size_t)slot[t] * hrow, pos[t] + 1,
                                                 draw[k + n_out]);
            rows[n_out++] = t;
        }
        if (params) {
            forward(e, tokens + done, slot, pos, T, rows, n_out, e->sp, ids + (size_t)k * 4, NULL);
        } else {
            forward(e, tokens + done, slot, pos, T, rows, n_out, NULL, 0, out);
            out += (size_t)n_out * e->c.vocab;
        }
        k += n_out;
        done += T;
    }
    if (params) {  // the step's ids to the host; done[half] says they are there
        Gpu *g = &e->g;
        if (k) CU_CHECK(cuMemcpyDtoHAsync(e->h_ids + (size_t)half * eb->max_seqs, ids, (size_t)k * 4, g->stream));
        CU_CHECK(cuEventRecord(e->done[half], g->stream));
        e->rows_of[half] = k;
        e->submitted++;
    }
    if (e->prof) e->prof_host_s += now_sec() - t_in;
    return 0;
}

static int gpu_step(Engine *eb, int n, const int *seqs, const int *tokens, const char *want, float *logits) {
    return run_step((GpuEngine *)eb, n, seqs, tokens, want, logits, NULL, NULL);
}

// Run-ahead (engine.h): a token ENGINE_PREV(j) becomes -(1 + entry j of the last submitted step's half of ids).
static int gpu_step_submit(Engine *eb, int n, const int *seqs, const int *tokens, const char *want,
                           const SamplerParams *const *params, const uint64_t *draw) {
    GpuEngine *e = (GpuEngine *)eb;
    if (e->submitted - e->waited > 1) {
        snprintf(eb->err, sizeof eb->err, "step_submit: two steps are outstanding; wait for one");
        return -1;
    }
    if (n > e->tok_cap) e->tok_buf = xrealloc(e->tok_buf, sizeof(int) * (size_t)(e->tok_cap = n));
    int last = (int)((e->submitted + 1) % 2);  // the last submitted step's half
    for (int i = 0; i < n; i++) {
        int t = tokens[i], j = -1 - t;
        if (t < 0 && (!e->submitted || j >= e->rows_of[last])) {
            snprintf(eb->err, sizeof eb->err, "step_submit: token %d names no row of the previous step", t);
            return -1;
        }
        e->tok_buf[i] = t >= 0 ? t : -1 - (last * eb->max_seqs + j);
    }
    return run_step(e, n, seqs, e->tok_buf, want, NULL, params, draw);
}

static int gpu_step_wait(Engine *eb, int *out_tokens) {
    GpuEngine *e = (GpuEngine *)eb;
    if (e->waited == e->submitted) {
        snprintf(eb->err, sizeof eb->err, "step_wait: no step outstanding");
        return -1;
    }
    int half = (int)(e->waited++ % 2);
    CU_CHECK(cuEventSynchronize(e->done[half]));
    memcpy(out_tokens, e->h_ids + (size_t)half * eb->max_seqs, sizeof(int) * (size_t)e->rows_of[half]);
    return 0;
}

static int gpu_step_sample(Engine *eb, int n, const int *seqs, const int *tokens, const char *want,
                           const SamplerParams *const *params, const uint64_t *draw, int *out_tokens) {
    GpuEngine *e = (GpuEngine *)eb;
    if (e->submitted != e->waited) {
        snprintf(eb->err, sizeof eb->err, "step_sample: a submitted step is outstanding; wait for it");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0) {
            snprintf(eb->err, sizeof eb->err, "token id %d out of range [0, %d)", tokens[i], e->c.vocab);
            return -1;
        }
    if (run_step(e, n, seqs, tokens, want, NULL, params, draw)) return -1;
    return gpu_step_wait(eb, out_tokens);
}

static void gpu_free_seq(Engine *eb, int seq) {
    GpuEngine *e = (GpuEngine *)eb;
    if (seq >= 0 && seq < eb->max_seqs) {
        e->seq_len[seq] = 0;
        kvp_shrink(&e->kv, seq, 0);
    }
}
static int gpu_free_pages(Engine *eb) { return ((GpuEngine *)eb)->kv.n_free; }
static int gpu_seq_len(Engine *eb, int seq) {
    GpuEngine *e = (GpuEngine *)eb;
    return seq >= 0 && seq < eb->max_seqs ? e->seq_len[seq] : -1;
}

// Pages past n's go back to the pool; positions past n in the last page are overwritten by the next tokens.
static int gpu_truncate(Engine *eb, int seq, int n) {
    GpuEngine *e = (GpuEngine *)eb;
    if (seq < 0 || seq >= eb->max_seqs || n < 0 || n > e->seq_len[seq]) {
        snprintf(eb->err, sizeof eb->err, "cannot truncate sequence %d to %d tokens", seq, n);
        return -1;
    }
    e->seq_len[seq] = n;
    kvp_shrink(&e->kv, seq, n);
    return 0;
}

static void gpu_destroy(Engine *eb) {
    GpuEngine *e = (GpuEngine *)eb;
    Gpu *g = &e->g;
    gpu_sync(g);
    if (e->prof) {
        for (int i = 0; i < N_STAGES; i++) prof_collect(e, &e->stage[(e->stage_i + i) % N_STAGES]);  // oldest first
        double busy = e->prof_s[0] + e->prof_s[1];
        for (int k = 0; k < 2; k++)
            if (e->prof_n[k])
                fprintf(stderr, "profile: %ld %s steps, %.3f s, %.3f ms a step, %.1f rows a step, %.0f rows/s\n",
                        e->prof_n[k], k ? "mixed/prefill" : "decode", e->prof_s[k], 1e3 * e->prof_s[k] / e->prof_n[k],
                        (double)e->prof_rows[k] / e->prof_n[k], e->prof_rows[k] / e->prof_s[k]);
        fprintf(stderr, "profile: the device idle %.3f s between steps (of %.3f s from the first step's start to the "
                "last's end: waiting for the host), %.3f s of host time in the engine's step calls\n",
                e->prof_span_s > busy ? e->prof_span_s - busy : 0.0, e->prof_span_s, e->prof_host_s);
    }
    if (e->head_stats_on) {  // QWEN3_HEAD_STATS=1: what the rescored head did over the engine's life
        uint32_t *s = xmalloc((size_t)OUT_ROWS * 16);
        gpu_download(g, s, e->head_stats, (size_t)OUT_ROWS * 16);
        double cand = 0;
        float worst = 0, r;
        for (int i = 0; i < OUT_ROWS; i++) {
            cand += s[4 * i];
            memcpy(&r, &s[4 * i + 1], 4);
            if (r > worst) worst = r;
        }
        fprintf(stderr, "head rescore: %ld rows, %.0f logits recomputed (%.1f a row), largest |fp8 - bf16| / delta "
                "%.4f\n", e->head_rows, cand, e->head_rows ? cand / e->head_rows : 0.0, worst);
        free(s);
    }
    for (int b = 0; b < N_BUCKETS; b++)
        if (e->graph[b]) CU_CHECK(cuGraphExecDestroy(e->graph[b]));
    for (int i = 0; i < N_STAGES; i++) {
        Stage *st = &e->stage[i];
        CU_CHECK(cuMemFreeHost(st->in));
        CU_CHECK(cuMemFreeHost(st->pk));
        CU_CHECK(cuMemFreeHost(st->table));
        CU_CHECK(cuEventDestroy(st->copied));
        if (e->prof) {
            CU_CHECK(cuEventDestroy(st->t0));
            CU_CHECK(cuEventDestroy(st->t1));
        }
    }
    if (e->prof) CU_CHECK(cuEventDestroy(e->prof_first));
    for (int h = 0; h < 2; h++) CU_CHECK(cuEventDestroy(e->done[h]));
    CU_CHECK(cuMemFreeHost(e->h_table));
    CU_CHECK(cuMemFreeHost(e->h_ids));
    free(e->sp);
    free(e->tok_buf);
    free(e->ord_buf);
    kvp_free(&e->kv);
    gpu_arena_free(g, &e->arena);
    gpu_shutdown(g);
    free(e->seq_len);
    free(e->step_add);
    free(e->slot_seen);
    free(e);
}

// ---------------------------------------------------------------- creation: one arena, then the uploads
// A layer's native quantised copy where gpu_kq_rows wants one and its tensors allow (else kq->n = 0)
static void kq_carve(GpuEngine *e, GpuArena *a, GpuKq *kq, const GGUFTensor *const *ts, int n, int K, int gated) {
    int rows = gpu_kq_stack_rows(ts, n, K, e->fp8);
    memset(kq, 0, sizeof *kq);
    size_t used = a->used;
    if (rows && gpu_kq_plan(kq, ts, n, K, gated, rows)) gpu_kq_carve(a, kq);
    e->kq_bytes += a->used - used;
}
static size_t mat_bytes(const GGUFTensor *t) { return (size_t)t->ne[0] * t->ne[1] * 2; }  // as bf16

static size_t max_k(const Qwen3Config *c);
// Assigns every device buffer from the arena (a counting arena when its base is 0); n_pages pages in the pool
// (plus the scratch page).
static void carve(GpuEngine *e, const Qwen3Model *m, GpuArena *a, int max_seqs, int max_ctx, int n_pages) {
    const Qwen3Config *c = &e->c;
    size_t hd = c->head_dim, T = STEP_TOKENS, nqkv = (c->n_head + 2 * c->n_kv_head) * hd;
    size_t rows = ((size_t)n_pages + 1) * c->n_kv_head * KV_PAGE;  // (token, kv head) rows of one layer's pool
    size_t pool = rows * hd * (e->kv_fp8 ? 1 : 2);  // bytes of one layer's K (or V) pool, bf16 or e4m3
    size_t spool = e->kv_fp8 ? rows * 4 : 0;       // bytes of its f32 row scales (fp8 cache)
    int f8 = e->fp8;
    e->kq_bytes = 0;
    e->emb = gpu_arena_alloc(a, mat_bytes(m->tok_embd));
    if (e->head_fp8 != HEAD_BF16 && !f8) die("gpu_engine: an FP8 head without FP8 weights");
    // The head with --dtype fp8: by default (--head-dtype rescore) streamed in e4m3 and the logits near each row's
    // best recomputed from the bf16 head kept beside it (NOTES.md, session 11: the bf16 head's argmax at the FP8
    // head's bytes; +6% at batch 1 on the 8B). --head-dtype bf16 keeps the bf16 head alone (DeepSeek-V3's recipe:
    // its rounding lands on the logits with no later layer to average it out); --head-dtype fp8 only e4m3 (92% top-1
    // agreement with the bf16 head on the synth 8B, session 8). A tied head's bf16 form is the embedding table; its
    // e4m3 form is a copy of it.
    GpuLinear emb_view = { .w = e->emb, .N = c->vocab, .K = c->dim };
    if (e->head_fp8 != HEAD_BF16) e->lm_head = gpu_linear_carve(a, c->vocab, c->dim, 1);  // (only with f8)
    else e->lm_head = c->tied ? emb_view : gpu_linear_carve(a, c->vocab, c->dim, 0);
    if (e->head_fp8 == HEAD_RESCORE) {
        e->lm_head16 = c->tied ? emb_view : gpu_linear_carve(a, c->vocab, c->dim, 0);
        size_t chunks = ((size_t)c->vocab + HEAD_RESCORE_CHUNK - 1) / HEAD_RESCORE_CHUNK;  // a row's chunk maxima
        e->head_part = gpu_arena_alloc(a, (size_t)OUT_ROWS * chunks * 4);
        e->head_pmax = gpu_arena_alloc(a, (size_t)OUT_ROWS * ((c->vocab + 63) / 64) * 4);
        if (e->head_stats_on) e->head_stats = gpu_arena_alloc(a, (size_t)OUT_ROWS * 16);
        if (env_int("QWEN3_HEAD_BEST", 0, 1, 1))
            e->head_best = gpu_arena_alloc(a, (size_t)OUT_ROWS * HEAD_RESCORE_BEST * 8);
    }
    e->out_norm = gpu_arena_alloc(a, c->dim * 4);
    for (int l = 0; l < c->n_layer; l++) {
        const Qwen3Layer *W = &m->layer[l];
        GpuLayer *L = &e->L[l];
        L->attn_norm = gpu_arena_alloc(a, c->dim * 4);
        L->ffn_norm = gpu_arena_alloc(a, c->dim * 4);
        L->q_norm = gpu_arena_alloc(a, hd * 4);
        L->k_norm = gpu_arena_alloc(a, hd * 4);
        L->wqkv = gpu_linear_carve(a, (int)nqkv, c->dim, f8);
        L->wo = gpu_linear_carve(a, c->dim, c->n_head * (int)hd, f8);
        L->wgu = gpu_linear_carve(a, 2 * c->ffn_dim, c->dim, f8);
        L->wdown = gpu_linear_carve(a, c->dim, c->ffn_dim, f8);
        if (e->native_q) {  // (plans: the same on every carve)
            const GGUFTensor *qkv[3] = { W->wq, W->wk, W->wv }, *gu[2] = { W->w_gate, W->w_up };
            kq_carve(e, a, &L->wqkv.kq, qkv, 3, c->dim, 0);
            kq_carve(e, a, &L->wo.kq, &W->wo, 1, c->n_head * (int)hd, 0);
            kq_carve(e, a, &L->wgu.kq, gu, 2, c->dim, 1);
            kq_carve(e, a, &L->wdown.kq, &W->w_down, 1, c->ffn_dim, 0);
        }
    }
    if (e->native_q) kq_carve(e, a, &e->head_kq, c->tied ? &m->tok_embd : &m->output, 1, c->dim, 0);
    e->weight_bytes = a->used;
    for (int l = 0; l < c->n_layer; l++) {
        e->L[l].k_pool = gpu_arena_alloc(a, pool);
        e->L[l].v_pool = gpu_arena_alloc(a, pool);
        e->L[l].k_scale = spool ? gpu_arena_alloc(a, spool) : 0;
        e->L[l].v_scale = spool ? gpu_arena_alloc(a, spool) : 0;
    }
    e->cache_bytes = 2 * (pool + spool) * c->n_layer;
    e->block_table = gpu_arena_alloc(a, ((size_t)max_seqs + 1) * kvp_pages_for(max_ctx) * 4);
    e->x = gpu_arena_alloc(a, T * c->dim * 4);
    e->h = gpu_arena_alloc(a, T * c->dim * 2);
    e->qkv = gpu_arena_alloc(a, T * nqkv * 4);
    e->q = gpu_arena_alloc(a, T * c->n_head * hd * 2);
    e->attn = gpu_arena_alloc(a, T * c->n_head * hd * 2);
    e->gu = e->gated ? 0 : gpu_arena_alloc(a, T * 2 * c->ffn_dim * 4);  // (only the unfused gate/up writes it)
    e->a = gpu_arena_alloc(a, T * c->ffn_dim * 2);
    e->logits = gpu_arena_alloc(a, (size_t)OUT_ROWS * c->vocab * 4);
    e->step_in = gpu_arena_alloc(a, PK_BYTES);
    e->history = gpu_arena_alloc(a, ((size_t)max_seqs + 1) * max_ctx * 4);
    e->ids = gpu_arena_alloc(a, 2 * (size_t)max_seqs * 4);
    if (f8) {
        size_t kmax = max_k(c);
        e->a8 = gpu_arena_alloc(a, T * kmax);
        e->sa = gpu_arena_alloc(a, T * (kmax / 128) * 4);
        e->n8 = gpu_arena_alloc(a, norm8_bytes((int)T, c->dim));
        e->rope_cs = gpu_arena_alloc(a, T * 64 * 2 * 4);
        e->rope_kvrow = gpu_arena_alloc(a, T * 4);
        e->rope_args = gpu_arena_alloc(a, (size_t)c->n_layer * sizeof(RopeKV8));
    }
}

// Widest linear-layer input (the FP8 activation scratch) and the largest weight (the FP8 upload's bf16 scratch).
static size_t max_k(const Qwen3Config *c) {
    size_t k = (size_t)c->dim;
    if ((size_t)c->n_head * c->head_dim > k) k = (size_t)c->n_head * c->head_dim;
    if ((size_t)c->ffn_dim > k) k = (size_t)c->ffn_dim;
    return k;
}
static size_t max_weight(const Qwen3Config *c, int head_fp8) {  // of the fp8 layers (the head too if HEAD_FP8)
    size_t nqkv = (size_t)(c->n_head + 2 * c->n_kv_head) * c->head_dim, w = (size_t)c->dim * c->ffn_dim;
    if (head_fp8 == HEAD_FP8 && !c->tied && (size_t)c->vocab * c->dim > w) w = (size_t)c->vocab * c->dim;
    if (nqkv * c->dim > w) w = nqkv * c->dim;
    if (2 * (size_t)c->ffn_dim * c->dim > w) w = 2 * (size_t)c->ffn_dim * c->dim;
    return w;
}


int gpu_opts_from_env(GpuOpts *o, char *err, size_t errlen) {
    static const char *const names[3] = { "QWEN3_DTYPE", "QWEN3_KV_DTYPE", "QWEN3_HEAD_DTYPE" };
    int *fields[3] = { &o->fp8_weights, &o->fp8_kv, &o->fp8_head };
    for (int i = 0; i < 3; i++) {  // weights and cache: bf16 unless fp8; the head: rescore unless named
        const char *v = getenv(names[i]);
        int set = v && *v, val = !set ? (i == 2 ? HEAD_RESCORE : 0) : i == 2 ? head_dtype_of(v)
                                    : !strcmp(v, "fp8") ? 1 : !strcmp(v, "bf16") ? 0 : -1;
        if (val < 0) {
            snprintf(err, errlen, "%s='%s' (%s)", names[i], v, i == 2 ? "bf16, fp8 or rescore" : "bf16 or fp8");
            return -1;
        }
        *fields[i] = val;
    }
    const char *v = getenv("QWEN3_NATIVE_Q");
    o->native_q = parse_onoff(v && *v ? v : "on");
    if (o->native_q < 0) {
        snprintf(err, errlen, "QWEN3_NATIVE_Q='%s' (on or off)", v);
        return -1;
    }
    return 0;
}

Engine *gpu_engine_create(const Qwen3Model *m, int max_seqs, int max_ctx, const GpuOpts *o, char *err, size_t errlen) {
    return gpu_engine_create_pool(m, max_seqs, max_ctx, 0, 0, o, err, errlen);
}

Engine *gpu_engine_create_pool(const Qwen3Model *m, int max_seqs, int max_ctx, int n_pages, size_t kv_bytes,
                               const GpuOpts *o, char *err, size_t errlen) {
    GpuOpts env;
    if (!o) {
        if (gpu_opts_from_env(&env, err, errlen)) return NULL;
        o = &env;
    }
    GpuEngine *e = xcalloc(1, sizeof *e);
    if (gpu_init(&e->g, err, errlen)) { free(e); return NULL; }
    const Qwen3Config *c = &m->cfg;
    e->c = *c;
    Gpu *g = &e->g;
    int hd = c->head_dim;
    GpuArena count = { 0 };
    CUdeviceptr tmp = 0;  // fp8: bf16 scratch the weights pass through on their way to e4m3
    e->fp8 = o->fp8_weights;
    e->native_q = o->native_q;
    e->kv_fp8 = o->fp8_kv;
    e->head_fp8 = e->fp8 ? o->fp8_head : HEAD_BF16;
    if (e->head_fp8 == HEAD_RESCORE &&  // (wider than Qwen3's, or a larger vocabulary)
        (c->dim > HEAD_RESCORE_MAX_K || c->vocab > HEAD_RESCORE_MAX_CHUNKS * HEAD_RESCORE_CHUNK))
        e->head_fp8 = HEAD_BF16;
    e->head_stats_on = e->head_fp8 == HEAD_RESCORE && env_int("QWEN3_HEAD_STATS", 0, 1, 0);
    e->ablate = ablate_mask(err, errlen);
    if (e->ablate == ~0u) goto fail;
    e->gated = env_int("QWEN3_FUSED_SWIGLU", 0, 2, 2);
    e->uni = env_int("QWEN3_FP8_UNI", 0, 255, FP8_UNI_G);
    e->uni_o = e->uni ? env_int("QWEN3_FP8_UNI_O", 0, 1, 1) : 0;
    e->uni_rows = e->uni ? env_int("QWEN3_FP8_UNI_ROWS", 0, STEP_TOKENS, FP8_UNI_ROWS) : 0;
    // GEMM tiles: a plan measured by bench/gemm --sweep on this card ($QWEN3_GEMM_PLAN), else the plan built in for
    // this card if there is one (bench/results/gemm-plan-*.txt), else the built-in rules. QWEN3_GEMM_PLAN=none: rules.
    const char *plan = getenv("QWEN3_GEMM_PLAN");
    if (plan && *plan && strcmp(plan, "none")) {
        char why_plan[512];
        int r = gemm_plan_load(plan, g->name, why_plan, sizeof why_plan);
        if (r) fprintf(stderr, "qwen3-ptx: QWEN3_GEMM_PLAN %s; using the built-in tile choice\n", why_plan);
    } else if (!plan || !*plan) {
        gemm_plan_load_builtin(g->name, NULL);
    } else {
        gemm_plan_clear();
    }
    if (e->fp8 && (c->dim % 128 || c->ffn_dim % 128 || (c->n_head * hd) % 128)) {
        snprintf(err, errlen, "FP8 needs dim, ffn and heads*head_dim divisible by 128");
        goto fail;
    }
    if (c->dim % 64 || c->ffn_dim % 64 || (c->n_head * hd) % 64 || c->vocab % 64 || hd != 128) {
        snprintf(err, errlen, "GPU path needs dim, ffn, heads*head_dim and vocab divisible by 64 and head_dim 128");
        goto fail;
    }
    if (BUCKETS[N_BUCKETS - 1] != OUT_ROWS) die("gpu_engine: the last graph bucket must be OUT_ROWS");
    if (max_seqs < 1 || max_ctx < 1) {
        snprintf(err, errlen, "bad engine size: %d sequences of %d tokens", max_seqs, max_ctx);
        goto fail;
    }
    if (e->fp8) {  // before the pool is sized from free memory, so that the scratch is counted
        if (cuMemAlloc(&tmp, max_weight(c, e->head_fp8) * 2) != CUDA_SUCCESS) {
            tmp = 0;
            snprintf(err, errlen, "no GPU memory for the FP8 upload scratch (%.2f GB)",
                     max_weight(c, e->head_fp8) * 2 / 1e9);
            goto fail;
        }
    }
    // --- the page pool: asked for in pages, or in bytes, or 90% of the memory left after everything else;
    // never more than max_seqs sequences of max_ctx tokens can use ---
    // K and V of every layer: bf16, or e4m3 + an f32 scale per row (fp8: 132 bytes a row of 128 instead of 256)
    size_t page_bytes = (size_t)c->n_layer * 2 * c->n_kv_head * KV_PAGE * (e->kv_fp8 ? hd + 4 : hd * 2);
    long cap = (long)max_seqs * kvp_pages_for(max_ctx);
    const char *env_mem = getenv("QWEN3_KV_MEM");
    if (n_pages <= 0) n_pages = env_int("QWEN3_KV_PAGES", 1, 1 << 30, 0);
    if (n_pages <= 0 && !kv_bytes && env_mem && atof(env_mem) > 0) kv_bytes = (size_t)(atof(env_mem) * 1e9);
    if (n_pages <= 0) {
        if (!kv_bytes) {
            carve(e, m, &count, max_seqs, max_ctx, 0);  // everything but the pages
            size_t free_b = 0, total = 0;
            CU_CHECK(cuMemGetInfo(&free_b, &total));
            double left = 0.9 * (double)free_b - (double)count.used;
            // The native copies serve batches of a row or two; where they would leave the cache less than it
            // wants and under 4 GB (a 32B Q4_K_M file beside bf16 weights on an 80 GB card), they go instead.
            if (e->native_q && e->kq_bytes && left < fmin((double)cap * page_bytes, 4e9)) {
                fprintf(stderr, "qwen3-ptx: the native quantised copies (%.2f GB) do not fit beside the %s weights and "
                        "a KV cache; running without them (--dtype fp8 leaves room for them)\n", e->kq_bytes / 1e9,
                        e->fp8 ? "fp8" : "bf16");
                e->native_q = 0;
                count = (GpuArena){ 0 };
                carve(e, m, &count, max_seqs, max_ctx, 0);
                left = 0.9 * (double)free_b - (double)count.used;
            }
            kv_bytes = left > 0 ? (size_t)left : 0;
        }
        long np = (long)(kv_bytes / page_bytes);
        n_pages = (int)(np < cap ? np : cap);
        if (n_pages < 1) {
            snprintf(err, errlen, "no memory left for the KV cache (a page of %d tokens takes %.1f MB; %.2f GB for "
                     "the pool)", KV_PAGE, page_bytes / 1e6, kv_bytes / 1e9);
            goto fail;
        }
    }
    count = (GpuArena){ 0 };
    carve(e, m, &count, max_seqs, max_ctx, n_pages);
    char why[200];
    if (gpu_arena_init(g, &e->arena, count.used, why, sizeof why)) {
        snprintf(err, errlen, "%s (weights %.2f GB as %s, KV cache %.2f GB as %s: %d pages of %d tokens)", why,
                 e->weight_bytes / 1e9, e->fp8 ? "fp8" : "bf16", e->cache_bytes / 1e9, e->kv_fp8 ? "fp8" : "bf16",
                 n_pages, KV_PAGE);
        goto fail;
    }
    carve(e, m, &e->arena, max_seqs, max_ctx, n_pages);
    // the FP8 head's input is a RMSNorm launch too (QWEN3_FP8_UNI_HEAD=0: its block scales as before)
    if (e->head_fp8 != HEAD_BF16 && env_int("QWEN3_FP8_UNI_HEAD", 0, 1, 1)) e->lm_head.uni = e->uni;

    double t0 = now_sec();
    gpu_upload_tensor_bf16(g, e->emb, m->tok_embd);
    if (e->head_fp8 == HEAD_RESCORE) {  // bf16 first (tied: the embedding), its e4m3 form from it, the constants
        if (!c->tied) gpu_linear_upload(g, &e->lm_head16, &m->output, 1, 0);
        (e->lm_head.uni ? launch_quant_w_fp8_row : launch_quant_w_fp8)(g, e->lm_head.w, e->lm_head.sw, e->lm_head16.w,
                                                                       c->vocab, c->dim);
        head_rescore_consts(g, e->lm_head16.w, e->lm_head.w, e->lm_head.sw, c->vocab, c->dim, HEAD_Z, &e->head_cd,
                            &e->head_cw);
        if (e->head_stats) gpu_fill_u32(g, e->head_stats, 0, (size_t)OUT_ROWS * 4);
    } else if (c->tied) {
        if (e->head_fp8 == HEAD_FP8)
            (e->lm_head.uni ? launch_quant_w_fp8_row : launch_quant_w_fp8)(g, e->lm_head.w, e->lm_head.sw, e->emb, c->vocab,
                                                                           c->dim);
    } else {
        gpu_linear_upload(g, &e->lm_head, &m->output, 1, tmp);  // bf16, or e4m3 through tmp
    }
    gpu_upload_tensor_f32(g, e->out_norm, m->output_norm);
    for (int l = 0; l < c->n_layer; l++) {
        const Qwen3Layer *W = &m->layer[l];
        GpuLayer *L = &e->L[l];
        gpu_upload_tensor_f32(g, L->attn_norm, W->attn_norm);
        gpu_upload_tensor_f32(g, L->ffn_norm, W->ffn_norm);
        gpu_upload_tensor_f32(g, L->q_norm, W->q_norm);
        gpu_upload_tensor_f32(g, L->k_norm, W->k_norm);
        const GGUFTensor *qkv[3] = { W->wq, W->wk, W->wv }, *gu[2] = { W->w_gate, W->w_up };
        L->wqkv.uni = L->wqkv.fp8 && e->uni_rows ? e->uni : 0;
        L->wo.uni = L->wo.fp8 && e->uni_o ? e->uni : 0;
        L->wdown.uni = L->wdown.fp8 && e->uni_rows ? e->uni : 0;
        gpu_linear_upload(g, &L->wqkv, qkv, 3, tmp);
        gpu_linear_upload(g, &L->wo, &W->wo, 1, tmp);
        L->wgu.uni = e->gated && L->wgu.fp8 ? e->uni : 0;
        if (e->gated) gpu_linear_upload_gated(g, &L->wgu, gu[0], gu[1], tmp, e->gated == 2);
        else gpu_linear_upload(g, &L->wgu, gu, 2, tmp);
        gpu_linear_upload(g, &L->wdown, &W->w_down, 1, tmp);
        gpu_kq_upload(g, &L->wqkv.kq, qkv, 3);  // (nothing where the layer has no native copy)
        gpu_kq_upload(g, &L->wo.kq, &W->wo, 1);
        gpu_kq_upload(g, &L->wgu.kq, gu, 2);
        gpu_kq_upload(g, &L->wdown.kq, &W->w_down, 1);
    }
    gpu_kq_upload(g, &e->head_kq, c->tied ? &m->tok_embd : &m->output, 1);
    gpu_sync(g);
    if (tmp) { gpu_free(g, tmp); tmp = 0; }
    gpu_upload_free(g);  // the staging buffers are only needed at load
    double t1 = now_sec();
    e->seq_len = xcalloc(max_seqs, sizeof(int));
    e->step_add = xcalloc(max_seqs, sizeof(int));
    e->slot_seen = xcalloc(max_seqs, 1);
    e->sp = xmalloc(OUT_ROWS * sizeof(GpuSampleParams));
    CU_CHECK(cuMemHostAlloc((void **)&e->h_ids, 2 * (size_t)max_seqs * sizeof(int), 0));
    for (int h = 0; h < 2; h++) CU_CHECK(cuEventCreate(&e->done[h], CU_EVENT_DISABLE_TIMING));
    e->fn_history = gpu_kernel(g, "history", "history_scatter");
    // --- the page tables: every entry without a page, and the padding rows' whole row, point at the scratch
    // page (zeroed), so that no lookup can leave the pool ---
    int max_pages = kvp_pages_for(max_ctx);
    size_t table_ints = ((size_t)max_seqs + 1) * max_pages;
    CU_CHECK(cuMemHostAlloc((void **)&e->h_table, table_ints * sizeof(int), 0));
    e->scratch_page = n_pages;
    kvp_init(&e->kv, n_pages, max_seqs, max_ctx, e->scratch_page, e->h_table);
    for (int j = 0; j < max_pages; j++) e->h_table[(size_t)max_seqs * max_pages + j] = e->scratch_page;
    gpu_upload(g, e->block_table, e->h_table, table_ints * sizeof(int));
    if (e->rope_args) {
        RopeKV8 *ra = xmalloc((size_t)c->n_layer * sizeof *ra);
        for (int l = 0; l < c->n_layer; l++)
            ra[l] = (RopeKV8){ (uint32_t)c->n_head, (uint32_t)c->n_kv_head, 0, c->rms_eps, e->q, e->L[l].k_pool,
                               e->L[l].v_pool, e->L[l].k_scale, e->L[l].v_scale, e->L[l].q_norm, e->L[l].k_norm,
                               e->rope_kvrow, e->rope_cs, { 0 } };
        gpu_upload(g, e->rope_args, ra, (size_t)c->n_layer * sizeof *ra);
        free(ra);
    }
    kvp_clean(&e->kv);
    size_t layer_page = (size_t)c->n_kv_head * KV_PAGE * hd * (e->kv_fp8 ? 1 : 2);
    size_t scale_page = (size_t)c->n_kv_head * KV_PAGE * 4;  // fp8 cache: one layer page of row scales
    for (int l = 0; l < c->n_layer; l++) {
        gpu_fill_u32(g, e->L[l].k_pool + (size_t)n_pages * layer_page, 0, layer_page / 4);
        gpu_fill_u32(g, e->L[l].v_pool + (size_t)n_pages * layer_page, 0, layer_page / 4);
        if (e->kv_fp8) {  // scratch rows: scale 0 (any finite value would do; the data is zero)
            gpu_fill_u32(g, e->L[l].k_scale + (size_t)n_pages * scale_page, 0, scale_page / 4);
            gpu_fill_u32(g, e->L[l].v_scale + (size_t)n_pages * scale_page, 0, scale_page / 4);
        }
    }
    gpu_sync(g);
    e->prof = g->prof >= 1;
    for (int i = 0; i < N_STAGES; i++) {
        Stage *st = &e->stage[i];
        CU_CHECK(cuMemHostAlloc((void **)&st->in, 7 * STEP_TOKENS * sizeof(int), 0));
        CU_CHECK(cuMemHostAlloc((void **)&st->pk, PK_BYTES, 0));
        CU_CHECK(cuMemHostAlloc((void **)&st->table, table_ints * sizeof(int), 0));
        CU_CHECK(cuEventCreate(&st->copied, CU_EVENT_DISABLE_TIMING));
        if (e->prof) {
            CU_CHECK(cuEventCreate(&st->t0, CU_EVENT_DEFAULT));
            CU_CHECK(cuEventCreate(&st->t1, CU_EVENT_DEFAULT));
        }
    }
    if (e->prof) CU_CHECK(cuEventCreate(&e->prof_first, CU_EVENT_DEFAULT));
    e->use_graphs = !env_int("QWEN3_EAGER", 0, 1, 0) && !g->debug_sync && g->prof < 2;  // per-launch profiling: eager
    e->fuse_norm8 = env_int("QWEN3_FUSED_NORM8", 0, 1, 1);
    e->qkv16 = env_int("QWEN3_QKV_BF16", 0, 1, 1);
    e->fuse_o8 = env_int("QWEN3_FUSED_O8", 0, 1, 1);
    e->norm8 = env_int("QWEN3_NORM8", 0, 3, 3);
    e->norm8_mlp_max_m = env_int("QWEN3_NORM8_MLP_MAX_M", 0, STEP_TOKENS, NORM8_MLP_MAX_M);
    e->rope8 = env_int("QWEN3_ROPE8", 0, 1, 1);
    e->fuse_kq_norm = env_int("QWEN3_KQ_NORM", 0, 1, 1);
    e->attn_order = env_int("QWEN3_ATTN_ORDER", 0, 1, 1);
    e->ord_buf = xmalloc(STEP_TOKENS * sizeof *e->ord_buf);
    e->head_rowmax = env_int("QWEN3_HEAD_ROWMAX", 0, 1, 1);
    e->step_tokens = env_int("QWEN3_STEP_TOKENS", OUT_ROWS, STEP_TOKENS - 1, STEP_TOKENS);

    e->base.name = "gpu";
    e->base.cfg = &e->c;
    e->base.max_seqs = max_seqs;
    e->base.max_ctx = max_ctx;
    e->base.prefill = gpu_prefill;
    e->base.decode = gpu_decode;
    e->base.free_seq = gpu_free_seq;
    e->base.seq_len = gpu_seq_len;
    e->base.destroy = gpu_destroy;
    e->base.truncate = gpu_truncate;
    e->base.step = gpu_step;
    e->base.step_sample = gpu_step_sample;
    e->base.step_submit = gpu_step_submit;
    e->base.step_wait = gpu_step_wait;
    e->base.n_pages = n_pages;
    e->base.free_pages = gpu_free_pages;
    if (getenv("QWEN3_VERBOSE"))
        fprintf(stderr, "gpu: %s, %d SMs; weights %.2f GB as %s (%.2f GB of it native K-quants) (from %.2f GB of file) "
                "uploaded in %.2f s = %.2f GB/s of file; KV cache %.2f GB as %s = %d pages of %d tokens (%ld to fill "
                "every sequence); arena %.2f GB\n",
                g->name, g->sm_count, e->weight_bytes / 1e9, e->fp8 ? "fp8" : "bf16", e->kq_bytes / 1e9,
                m->gguf.size / 1e9, t1 - t0,
                m->gguf.size / 1e9 / (t1 - t0), e->cache_bytes / 1e9, e->kv_fp8 ? "fp8" : "bf16", n_pages, KV_PAGE, cap,
                e->arena.size / 1e9);
    return &e->base;
fail:
    if (tmp) gpu_free(g, tmp);
    gpu_shutdown(g);
    free(e);
    return NULL;
}
