// cpu.h — the CPU reference engine's building blocks, exposed so tests can hold each one against
// straightforward double-precision code (the engine itself is reached through engine.h's cpu_engine_create).
// defines: cpu_rmsnorm, cpu_rope, cpu_attention_head
#pragma once
#include "engine.h"

// out[i] = x[i] * w[i] / sqrt(mean(x^2) + eps); out may equal x.
void cpu_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
// NeoX RoPE in place: (v[i], v[i+hd/2]) rotated by pos * base^(-2i/hd), i < hd/2.
void cpu_rope(float *v, int head_dim, int pos, float base);
// One query head over n cached positions: softmax(q.K^T / sqrt(hd)) . V in f32 with max subtraction.
// K and V rows are kv_stride floats apart; scores is scratch of n floats.
void cpu_attention_head(float *out, const float *q, const float *K, const float *V, int n, int head_dim,
                        int kv_stride, float *scores);
