// engine.h — the interface every backend implements (CPU reference now, GPU next), so that the tokenizer,
// sampler, CLI and batch scheduler above it run on either.
// defines: Engine, engine_pages_needed, cpu_engine_create(_pool), gpu_engine_create(_pool)
#pragma once
#include "kv_pages.h"
#include "model.h"
#include "sampler.h"

typedef struct Engine Engine;
struct Engine {
    const char *name;            // "cpu", "gpu"
    const Qwen3Config *cfg;
    int max_seqs;                // sequence slots: seq ids are 0..max_seqs-1
    int max_ctx;                 // tokens per sequence the KV cache holds
    // Appends n tokens to sequence seq (its KV cache grows by n). If logits is non-NULL, writes the logits of
    // the last token (vocab floats); if all_logits is non-NULL, writes n x vocab floats (one row per token).
    int  (*prefill)(Engine *e, int seq, const int *tokens, int n, float *logits, float *all_logits);
    // One token for each of n sequences (distinct ids); writes n x vocab logits.
    int  (*decode)(Engine *e, int n, const int *seqs, const int *tokens, float *logits);
    void (*free_seq)(Engine *e, int seq);      // forget the sequence's KV cache
    int  (*seq_len)(Engine *e, int seq);       // tokens cached for seq
    void (*destroy)(Engine *e);
    char err[256];               // set when a call returns -1 (e.g. "sequence 3 would exceed 4096 tokens")
    // Optional (NULL = not supported): keep only the first n cached tokens of seq (0 <= n <= seq_len), so chat can
    // reuse the common prefix of a re-rendered conversation. Callers fall back to free_seq + a full re-prefill.
    int  (*truncate)(Engine *e, int seq, int n);
    // Optional (NULL = not supported): one mixed step, as a continuous-batching scheduler wants it — n tokens from
    // any sequences, prefill chunks and decode tokens together; token i is appended to seqs[i] (a sequence's tokens
    // in order). The logits of the rows whose want[i] is set are written to logits, one row each, in order.
    int  (*step)(Engine *e, int n, const int *seqs, const int *tokens, const char *want, float *logits);
    // Paged KV cache (kv_pages.h): one pool of n_pages pages of KV_PAGE tokens shared by all sequences; a sequence
    // of len tokens holds ceil(len / KV_PAGE) of them, taken as it grows, given back by free_seq / truncate. A
    // prefill / decode / step that would need more pages than are free fails as a whole (-1, err says so, nothing
    // appended), so a scheduler admits by free pages and preempts (engine_pages_needed tells what a call takes).
    // free_pages == NULL: an engine without a pool (every sequence can reach max_ctx).
    int n_pages;
    int  (*free_pages)(Engine *e);
    // Optional (NULL = not supported; an engine with it also has step): step() that samples the wanted rows itself,
    // so that token ids come back instead of logits. The k-th wanted row (want[i] set; it must be its sequence's
    // last token in the call) is sampled as sampler.c would with params[k] over the sequence's history (every token
    // it has been fed, this one included: prompt + reply, as generate() keeps it), with draw[k] as the draw counter
    // (tokens generated so far: (seed, draw) fixes the draw, so a recomputed sequence draws the same). Writes
    // out_tokens[k]; -1 for a row with no usable logit. Greedy rows equal argmax of step()'s logits.
    int  (*step_sample)(Engine *e, int n, const int *seqs, const int *tokens, const char *want,
                        const SamplerParams *const *params, const uint64_t *draw, int *out_tokens);
    // Optional (NULL = not supported; with step_sample): step_sample in two halves, so that a scheduler can start step
    // n + 1 before it has read step n's ids (run-ahead). step_submit starts a step (arguments as step_sample's); a
    // token may be ENGINE_PREV(j): the id the last submitted step sampled for its j-th wanted row (an id of -1 there
    // feeds token 0: that row's sequence is to be dropped). step_wait writes the ids of the oldest submitted step not
    // waited for into out_tokens. At most two steps are outstanding (submit, submit, wait, submit, wait, ...).
    int  (*step_submit)(Engine *e, int n, const int *seqs, const int *tokens, const char *want,
                        const SamplerParams *const *params, const uint64_t *draw);
    int  (*step_wait)(Engine *e, int *out_tokens);
};
#define ENGINE_PREV(j) (-1 - (j))

// Pages seq would take to grow by add tokens.
static inline int engine_pages_needed(Engine *e, int seq, int add) {
    int len = e->seq_len(e, seq);
    return kvp_pages_for(len + add) - kvp_pages_for(len);
}

// CPU reference: float32 math, weights stay in the mmap in their GGUF type and are dequantized row by row.
// Its pool defaults to max_seqs x ceil(max_ctx / KV_PAGE) pages (every sequence can reach max_ctx at once).
Engine *cpu_engine_create(const Qwen3Model *m, int max_seqs, int max_ctx);
// n_pages > 0: a pool of that many pages (the storage stays contiguous per sequence; only the accounting is
// paged, so that the scheduler's admission and preemption run on the CPU in CI). The environment variable
// QWEN3_KV_PAGES=N sets the pool of both engines when the caller passes 0.
Engine *cpu_engine_create_pool(const Qwen3Model *m, int max_seqs, int max_ctx, int n_pages);
// GPU (PTX) backend; returns NULL with a reason in err when no usable GPU is present. The pool: kv_bytes of
// device memory (QWEN3_KV_MEM=GB when 0), else 90% of what is free after the weights and activations, capped at
// what max_seqs x max_ctx tokens need.
// o: the formats chosen at start-up (NULL: gpu_opts_from_env's).
typedef struct {
    int fp8_weights;  // linear layers in e4m3 with 128x128 block scales (--dtype fp8), else bf16
    int fp8_kv;       // KV cache in e4m3 with an f32 scale per (token, kv head) row (--kv-dtype fp8), else bf16
    int fp8_head;     // the output head, with fp8_weights (--head-dtype): HEAD_BF16; HEAD_FP8 (e4m3 too); HEAD_RESCORE
                      // (e4m3, then the logits near each row's best recomputed from the bf16 head; tied heads too)
    int native_q;     // quantised layers (Q4_K .. Q6_K, Q8_0, Q4_0, Q5_0) also keep the file's blocks, and batches
                      // of 1-2 rows stream those where that measured faster (--native-q on|off, QWEN3_NATIVE_Q; default on: host/gpu_kq.c)
} GpuOpts;
enum { HEAD_BF16 = 0, HEAD_FP8 = 1, HEAD_RESCORE = 2 };
// The defaults: QWEN3_DTYPE, QWEN3_KV_DTYPE (bf16 | fp8; unset = bf16) and QWEN3_HEAD_DTYPE (bf16 | fp8 | rescore;
// unset = rescore: it applies only with FP8 weights). -1 with a reason on another value.
int gpu_opts_from_env(GpuOpts *o, char *err, size_t errlen);
Engine *gpu_engine_create(const Qwen3Model *m, int max_seqs, int max_ctx, const GpuOpts *o, char *err, size_t errlen);
// n_pages > 0 wins over kv_bytes > 0, which wins over the default.
Engine *gpu_engine_create_pool(const Qwen3Model *m, int max_seqs, int max_ctx, int n_pages, size_t kv_bytes,
                               const GpuOpts *o, char *err, size_t errlen);
