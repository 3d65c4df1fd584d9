// batch.h — the offline batch job: OpenAI Batch API request lines in, result lines out, and the continuous-batching
// scheduler that runs many requests at once over the Engine's sequence slots.
// defines: BatchRequest, batch_parse_request, batch_format_result, batch_format_error, IdSet, batch_scan_results,
//          batch_shard_of, BatchStats, BatchSched, batch_run
#pragma once
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "sampler.h"
#include "tokenizer.h"

// ---------------------------------------------------------------- one request line
// The default prompt tokens prefilled per scheduler step: with up to 256 decode rows beside them, a mixed step is one
// 4,096-token forward pass of the GPU engine. H100, synth 8B FP8 (NOTES, session 12): 2,048 -> 3,840 gave +4.8% end
// to end at 256 x (128 -> 128), +3.5% at 1,024, +4.0% on the random workload.
#define BATCH_PREFILL_BUDGET 3840

typedef struct {
    char *custom_id;          // malloc'd; "line-<N>" when the line has no usable custom_id
    long line_no;             // 1-based line of the input file
    int is_chat;              // /v1/chat/completions (else /v1/completions)
    char *prompt;             // the text to tokenize: chat = the rendered template, completion = the prompt as is
    int parse_special;        // chat: special-token text is parsed; completion: plain text (as `run --raw`)
    int max_tokens;           // -1: until EOS or a full context; else >= 1
    SamplerParams sp;         // sampler_defaults() (as `run`) overridden by the body; seed defaults to a hash of the id
    char **stop; int n_stop;  // stop strings (malloc'd)
    char *model;              // the body's "model", echoed back (may be NULL)
} BatchRequest;

// Parses one input line. think: the --think/--no-think default (a body's chat_template_kwargs.enable_thinking wins).
// Returns 0, or -1 with an OpenAI-style error code ("invalid_json", "missing_custom_id", "invalid_request") and a
// message; r->custom_id is set either way. Free with batch_request_free.
int  batch_parse_request(const char *line, size_t len, long line_no, int think, BatchRequest *r,
                         char *code, size_t codelen, char *msg, size_t msglen);
void batch_request_free(BatchRequest *r);

// ---------------------------------------------------------------- result lines (malloc'd, ending in '\n')
char *batch_format_result(const BatchRequest *r, const char *text, const char *finish, int prompt_tokens,
                          int completion_tokens, long created);
char *batch_format_error(const char *custom_id, long line_no, const char *code, const char *msg);

// ---------------------------------------------------------------- ids seen (a string -> count hash set)
typedef struct { char **keys; int *counts; size_t cap, n; } IdSet;
int  idset_add(IdSet *s, const char *key);   // returns the count after adding (1 = first time)
int  idset_count(const IdSet *s, const char *key);
void idset_free(IdSet *s);

// Scans an existing results file data[0, len): every complete line must be a JSON object with a custom_id.
// done counts the ids with a result or a non-duplicate error; dups counts "duplicate_custom_id" error lines per
// id. *valid_len = the length up to the last '\n' (anything after it is a torn write, to be cut away).
// Returns the number of complete lines, or -1 with err set (a complete line that is not a result line).
long batch_scan_results(const char *data, size_t len, size_t *valid_len, IdSet *done, IdSet *dups,
                        char *err, size_t errlen);

// --shard i/n: the shard a custom_id belongs to (FNV-1a, stable across runs and machines).
int  batch_shard_of(const char *custom_id, int n_shards);
uint64_t batch_hash(const char *s);

// ---------------------------------------------------------------- the scheduler
typedef struct {
    int ok, errors;                      // finished requests
    long prompt_tokens, output_tokens;   // over finished requests
    long steps, decode_calls, decode_rows;
    double decode_only_s;                // wall time of the steps with no prompt rows (engine + sampling + bookkeeping)
    long decode_only_rows;               // ... and their rows: decode tok/s as llama-batched-bench's S_TG counts it
    long preemptions;                    // running sequences sent back to wait for KV pages (recomputed later)
    int active, queued;                  // now
} BatchStats;

typedef struct {
    Engine *e;
    const Tokenizer *tok;
    int prefill_budget;                  // prompt tokens prefilled per step, over all slots (0: BATCH_PREFILL_BUDGET)
    long created;                        // "created" of the result bodies
    // Each finished request's line (result or error); return non-zero to stop the run (e.g. a write failed).
    int (*on_line)(void *user, const BatchRequest *r, const char *line, int is_error);
    void (*on_step)(void *user, const BatchStats *st);   // after every step (may be NULL)
    void *user;
    volatile sig_atomic_t *interrupt;    // when set, stop after the current step (requests in flight are dropped)
    int ignore_eos;                      // benchmarks: EOS ends nothing, every reply runs to its token limit
    char err[300];                       // "prefill: " or "decode: " + the engine's message
} BatchSched;

// Runs reqs[0, n) to completion in FIFO admission order; requests stay owned by the caller. Returns 0, 1 when
// interrupted (by the flag or on_line), or -1 with s->err set when the engine failed (the requests in flight get
// no line, so a resumed run redoes them). With a paged engine (Engine.free_pages) a request starts when its prompt
// fits in the free KV pages, and when decoding runs out of pages the youngest running request is preempted and
// later recomputed (its lines are unchanged; st->preemptions counts it); a request stops with "length" at
// min(max_ctx, the pool's tokens), and a prompt that long gets a context_length_exceeded error line.
// With an engine that samples (Engine.step_sample: the GPU engine on the device, the CPU engine through sampler.c)
// each step returns token ids, not logits; QWEN3_HOST_SAMPLING=1 copies the logits out and samples on the host
// instead. Greedy lines are the same either way; seeded lines are too on the CPU engine (its draws follow the
// request's own random stream), while the GPU draws from its own stream (seed, tokens generated so far).
int batch_run(BatchSched *s, BatchRequest *reqs, int n, BatchStats *st);
