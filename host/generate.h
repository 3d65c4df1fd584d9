// generate.h — the generation loop shared by `run`, `chat` and the batch engine: prefill a prompt in chunks,
// decode one token at a time, stream the decoded text, stop on EOS / stop strings / max tokens / a full context.
// Also the pieces both text commands need: backend choice and their common command-line options.
// defines: TextStop, GenParams, GenResult, generate, gen_next_token, gen_accept_token, gen_reuse_prefix, gen_tokenize, gen_default_eos, utf8_valid, engine_open, gen_open_model, GenCli, gen_cli_*
#pragma once
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include "engine.h"
#include "sampler.h"
#include "tokenizer.h"

// ---------------------------------------------------------------- streamed text with stop strings
// One sequence's output text. Decoded bytes are held back while they could still be the beginning of a stop
// string, so a stop string split across tokens is never shown; everything else is released at once.
typedef struct {
    TokStream ts;
    const char *const *stop; int n_stop;  // stop strings (not owned; empty ones ignored)
    char *held; size_t n_held, cap_held;  // decoded, not yet released
    char *text; size_t n_text, cap_text;  // released so far (NUL-terminated): the visible output
    int stopped;                          // a stop string matched: text ends just before it
} TextStop;
void   textstop_init(TextStop *ts, const char *const *stop, int n_stop);
// Decodes id and returns how many bytes it released (they are ts->text + ts->n_text - returned).
size_t textstop_push(TextStop *ts, const Tokenizer *tok, int id);
size_t textstop_finish(TextStop *ts);  // end of generation: releases what was held (a partial stop string)
void   textstop_free(TextStop *ts);

// ---------------------------------------------------------------- the loop
typedef int (*GenTextFn)(void *user, const char *text, size_t n);  // return non-zero to stop generating

typedef struct {
    int max_tokens;                     // tokens to sample; < 0: until EOS or the context is full
    const int *eos; int n_eos;          // ids that end the reply (their text is not shown); see gen_default_eos
    const char *const *stop; int n_stop;  // stop strings: the text is cut just before the first match
    int prefill_chunk;                  // prompt tokens per prefill call (0: 512)
    GenTextFn on_text; void *user;      // streamed text (may be NULL)
    volatile sig_atomic_t *interrupt;   // when non-NULL and set (e.g. by SIGINT), stop after this step
} GenParams;

typedef struct {
    int n_prompt, n_prefilled;  // prompt tokens; those prefilled now (the rest were already cached)
    int n_gen;                  // tokens sampled, counting an EOS that ended the reply
    int n_decoded;              // decode steps run (each fed one sampled token)
    int *tokens;                // the n_gen sampled tokens (malloc'd)
    char *text;                 // the visible text (no EOS, no stop string; malloc'd, NUL-terminated)
    double prefill_s, decode_s; // wall time in prefill calls; in decode calls + sampling after the first token
    double prefill_tps, decode_tps;
    const char *finish;         // "stop" (EOS / stop string), "length" (max tokens / context full),
                                // "interrupted" (flag or callback), "error" (see err)
    char err[256];
} GenResult;

// Generates into sequence seq. Its KV cache must already hold exactly prompt[0, n_past) (0: a fresh sequence;
// n_past < n_prompt, since the last prompt token is needed for logits). The sampler's history is reset to the
// prompt, then every sampled token is recorded. Returns 0, or -1 with r->err set (r->finish "error"); on
// either, free r with gen_result_free. The sequence then holds the prompt + every sampled token but the last.
int  generate(Engine *e, int seq, const Tokenizer *tok, Sampler *s, const int *prompt, int n_prompt, int n_past,
              const GenParams *gp, GenResult *r);
// One step of that loop, shared with the batch scheduler: samples from logits, records the token in the sampler
// and checks the stop conditions in order: an EOS id ("stop"; its text is not shown), a stop string ("stop"), then
// n_gen + 1 >= cap_tokens or a full context (ctx_full: the sequence caches max_ctx tokens; "length"). Returns the
// token (to feed back when *finish is NULL) or -1 for unusable (NaN) logits; *released = bytes of new visible text
// (at ts->text + ts->n_text - *released).
int  gen_next_token(Sampler *s, float *logits, const Tokenizer *tok, TextStop *ts, const int *eos, int n_eos,
                    int n_gen, int cap_tokens, int ctx_full, const char **finish, size_t *released);
// The second half of gen_next_token, for a token chosen elsewhere (an engine that samples on the GPU): records id
// in s (NULL: no sampler kept) and checks the stop conditions as above. Returns id.
int  gen_accept_token(Sampler *s, int id, const Tokenizer *tok, TextStop *ts, const int *eos, int n_eos, int n_gen,
                      int cap_tokens, int ctx_full, const char **finish, size_t *released);
void gen_result_free(GenResult *r);
// Readies sequence seq, whose cache holds cached[0, n_cached), for the prompt ids: keeps the longest common
// prefix (at most n_ids - 1: the last prompt token must be fed to get logits), cutting the cache back with
// e->truncate, or emptying it when the engine has no truncate. Returns the n_past to give generate().
int  gen_reuse_prefix(Engine *e, int seq, const int *cached, int n_cached, const int *ids, int n_ids);
// The tokenizer's EOS plus <|im_end|> and <|endoftext|> when present, deduplicated; returns the count (<= 3).
int  gen_default_eos(const Tokenizer *tok, int ids[3]);
// tok_encode into a malloc'd array of the right size; *n = the count, or -1 for invalid UTF-8 (then NULL).
int *gen_tokenize(const Tokenizer *tok, const char *text, int parse_special, int *n);
int  utf8_valid(const char *s, size_t n);  // 1 when s[0, n) is well-formed UTF-8 (no overlongs, no surrogates)

// ---------------------------------------------------------------- backends and shared options
// backend "gpu", "cpu" or "auto" (the GPU engine, else the CPU reference with a one-line notice on stderr).
// Returns NULL with err set when the asked-for backend cannot start.
Engine *engine_open(const Qwen3Model *m, const char *backend, int max_seqs, int max_ctx, const GpuOpts *gpu, char *err,
                    size_t errlen);
// Opens a Qwen3 GGUF and its tokenizer for a command (dies with a one-line error) and returns the context to use:
// ctx_opt (-c), 0 or more than the model's meaning the model's context length.
int gen_open_model(const char *path, int ctx_opt, Qwen3Model *m, Tokenizer **tok);

typedef struct {
    const char *model, *prompt, *prompt_file, *system, *backend;
    int n_predict;       // -n: tokens to generate, -1 = until EOS / full context
    int ctx;             // -c: context tokens, 0 = the model's
    int think;           // 1: Qwen3 thinking on (template default), 0: --no-think
    int raw;             // --raw: no chat template, the prompt as plain text
    int seed_given;
    SamplerParams sp;
    GpuOpts gpu;         // --dtype, --kv-dtype (defaults: QWEN3_DTYPE, QWEN3_KV_DTYPE)
} GenCli;
// Parses the options of `run` (is_chat 0) or `chat` (1). Returns 0 to go on, 1 after printing --help, -1 after
// printing an error.
int  gen_cli_parse(GenCli *o, int argc, char **argv, int is_chat);
void gen_cli_usage(FILE *out, int is_chat);
