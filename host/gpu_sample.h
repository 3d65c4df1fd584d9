// gpu_sample.h — sampling on the GPU (ptx/sample.ptx): one launch turns n rows of logits into n token ids, each
// row with its own parameters, with the semantics of host/sampler.c (the specification): penalties, then greedy
// (temperature <= 0: argmax, lowest id on ties, bit-identical to the CPU) or top-k -> top-p -> min-p ->
// temperature -> softmax -> draw (the same distribution as the CPU; a different random stream). -1 for a row
// with no usable logit (all NaN / -inf).
// defines: GpuSampleParams, gpu_sample_params, launch_sample, GPU_SAMPLE_MAX_WINDOW
#pragma once
#include "gpu.h"
#include "sampler.h"
#include <stdint.h>

// One row's parameters, in a device array [n_rows] (72 bytes each; the kernel reads this exact layout).
// Fill it with gpu_sample_params(): inv_temperature and log_min_p must be the host's 1.0f / temperature and
// logf(min_p), which is how sampler.c computes them.
typedef struct {
    float temperature;          // <= 0: greedy
    float inv_temperature;      // 1.0f / temperature
    int32_t top_k;              // 0 (or >= vocab) = off
    float top_p;                // >= 1 = off
    float min_p;                // <= 0 = off
    float log_min_p;            // logf(min_p)
    float repeat_penalty;       // 1 = off
    int32_t repeat_last_n;      // window over the history: the last n tokens; < 0 = all of it
    float presence_penalty;     // 0 = off
    float frequency_penalty;    // 0 = off
    uint64_t history;           // CUdeviceptr of int32 [n_history]: the sequence's tokens so far (prompt + generated)
    uint64_t seed;              // with step, the only source of randomness: (seed, step) -> the same draw in any row
    uint64_t step;              // the caller's draw counter, e.g. tokens generated so far by this request
    int32_t n_history;
    int32_t pad_;
} GpuSampleParams;

// The penalty window (min(repeat_last_n, n_history)) is capped at the LAST this-many tokens (sampler.c has no
// cap; llama.cpp's default window is 64).
enum { GPU_SAMPLE_MAX_WINDOW = 8192 };

GpuSampleParams gpu_sample_params(const SamplerParams *p, CUdeviceptr history, int n_history, uint64_t step);

// out_tokens: int32 [n_rows]; logits: f32 [n_rows][vocab], 16-byte aligned, MODIFIED in place (penalties applied,
// as sample() does; sample_f32 also rewrites a sampled row with a +inf logit to 0 / -inf, sample_topk only its own
// copy of the kept keys); params: GpuSampleParams [n_rows].
// vocab % 4 == 0 and vocab < 2^24. host_params (may be NULL): the host's copy of params, from which the entry is
// chosen: every row greedy without a penalty pass -> sample_greedy (the same ids; QWEN3_SAMPLE_GREEDY=0: never);
// at most 16 rows, each greedy or top-k 1..64 (penalties or not) -> sample_topk (the same distribution; only
// a draw within float rounding of a boundary can differ from sample_f32's; QWEN3_SAMPLE_TOPK=0: never); else
// sample_f32, a CTA a row. Those two keep a scratch of their own (~0.6 MB) per context. On g->stream, no
// synchronisation. pre (0: none): launch_head_rescore's best for these very rows and logits, which sample_greedy
// takes where it is decisive instead of reading the row (the same ids).
void launch_sample(Gpu *g, CUdeviceptr out_tokens, CUdeviceptr logits, CUdeviceptr params,
                   const GpuSampleParams *host_params, int n_rows, int vocab, CUdeviceptr pre);
