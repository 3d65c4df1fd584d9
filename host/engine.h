// engine.h — the interface every backend implements (CPU reference now, GPU next), so that the tokenizer,
// sampler, CLI and batch scheduler above it run on either.
// defines: Engine, engine_prefill, engine_decode, engine_free_seq, engine_destroy, cpu_engine_create
#pragma once
#include "model.h"

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
};

// CPU reference: float32 math, weights stay in the mmap in their GGUF type and are dequantized row by row.
Engine *cpu_engine_create(const Qwen3Model *m, int max_seqs, int max_ctx);
// GPU (PTX) backend; returns NULL with a reason in err when no usable GPU is present.
Engine *gpu_engine_create(const Qwen3Model *m, int max_seqs, int max_ctx, char *err, size_t errlen);
