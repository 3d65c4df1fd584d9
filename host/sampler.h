// sampler.h — turning logits into the next token. Each strategy is one function, picked in sample().
// defines: SamplerParams, Sampler, sampler_init, sample
#pragma once
#include <stdint.h>
#include "util.h"

typedef struct {
    float temperature;        // 0 = greedy
    int   top_k;              // 0 = off
    float top_p;              // 1 = off
    float min_p;              // 0 = off
    float repeat_penalty;     // 1 = off (llama.cpp semantics over the last repeat_last_n tokens)
    int   repeat_last_n;
    float presence_penalty;   // 0 = off (OpenAI semantics)
    float frequency_penalty;  // 0 = off
    uint64_t seed;
} SamplerParams;

typedef struct {
    SamplerParams p;
    Rng rng;
    int vocab;
    int *history; int n_history, cap_history;   // tokens seen (prompt + generated), for the penalties
    float *probs; int *idx;                      // scratch (vocab)
} Sampler;

SamplerParams sampler_defaults(void);
void sampler_init(Sampler *s, const SamplerParams *p, int vocab);
void sampler_free(Sampler *s);
void sampler_accept(Sampler *s, int token);      // record a token in the history
int  sample(Sampler *s, float *logits);          // may modify logits in place; -1 when no logit is usable (all NaN)
