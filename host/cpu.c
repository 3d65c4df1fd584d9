// cpu.c — the CPU reference engine: a plain float32 Qwen3 forward pass that every faster path is checked
// against. Weights stay in the GGUF mmap in their own type; a matmul dequantizes one weight row at a time and
// dots it with every token of the chunk, so each weight byte is read once per chunk (that is where the time goes).
// defines: cpu_engine_create (the Engine interface of engine.h)
#include "cpu.h"
#include "../gguf/quants.h"
#include "util.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- state
// Prefill is cut into chunks of at most this many tokens: bounds the activations' memory (T x ffn floats)
// while still reusing each dequantized weight row across many tokens.
#define CPU_CHUNK 64
// Norm weight vectors (dim or head_dim floats) are converted into stack buffers of this size.
#define MAX_NORM_DIM 16384

typedef struct {
    float *k[QWEN3_MAX_LAYERS];  // (layer) -> (cap, n_kv_head*head_dim), RoPE already applied
    float *v[QWEN3_MAX_LAYERS];  // (layer) -> (cap, n_kv_head*head_dim)
    int *tok;                    // (cap) the tokens fed: step_sample's penalty history
    int len, cap;                // tokens cached, tokens allocated (grows by doubling up to max_ctx)
} SeqCache;

// step_sample's random stream per slot: sampler.c draws exactly one rng_uniform per sampled (non-greedy) token,
// so the state before draw k is rng_seed(seed) advanced k times, which is what a Sampler kept for the whole
// request (generate(), the host path of batch) would hold. Kept here to avoid the re-advance at every token.
typedef struct {
    uint64_t seed, next;         // rng = rng_seed(seed) advanced next times
    Rng rng;
    int valid;
} SlotDraws;

typedef struct {
    // activations for a chunk of T <= CPU_CHUNK tokens
    float *x;       // (T, dim)         residual stream
    float *xb;      // (T, dim)         normed input of a sub-block
    float *q;       // (T, n_head*head_dim)
    float *k, *v;   // (T, n_kv_head*head_dim)
    float *att;     // (T, n_head*head_dim)  attention output
    float *proj;    // (T, dim)         o_proj / down_proj output
    float *gate;    // (T, ffn_dim)
    float *up;      // (T, ffn_dim)
    float *logits;  // (T, vocab)
} RunState;

typedef struct {
    Engine e;            // first: an Engine * is a CpuEngine *
    const Qwen3Model *m;
    SeqCache *seqs;      // (max_seqs)
    int *step_add;       // (max_seqs) scratch for step(): tokens per sequence in the call being checked
    KvPages kv;          // page accounting only: the storage above stays contiguous per sequence
    RunState s;
    SlotDraws *draws;    // (max_seqs) step_sample's random streams
    float *sample_logits; int sample_rows;   // step_sample's logits (sample_rows x vocab), grown on demand
    float *probs; int *idx;                  // (vocab) sampler scratch
    // step_submit / step_wait: computed at submit; the ids of the last two submitted steps (submitted % 2), kept
    // until the one after next is submitted (ENGINE_PREV reads the last one, waited for or not)
    int *ahead_ids[2], ahead_rows[2], ahead_cap[2], *ahead_tok, ahead_tok_cap;
    long submitted, waited;
} CpuEngine;

static int set_err(Engine *e, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int set_err(Engine *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return -1;
}

// ---------------------------------------------------------------- matmul (the only place weights are read)
// One thread-local row buffer per pool thread; pool threads live for the whole process.
static _Thread_local float *tl_row;
static _Thread_local int64_t tl_row_cap;

static const float *weight_row(const GGUFTensor *w, int64_t r) {
    int64_t n = w->ne[0];
    const uint8_t *src = (const uint8_t *)w->data + (uint64_t)r * ggml_row_bytes(w->type, n);
    if (w->type == GGML_TYPE_F32) return (const float *)src;
    if (tl_row_cap < n) {
        free(tl_row);
        tl_row = xmalloc((size_t)n * sizeof(float));
        tl_row_cap = n;
    }
    dequantize_row(w->type, src, tl_row, n);
    return tl_row;
}

// Eight independent partial sums let the compiler keep several FMAs in flight (no -ffast-math needed).
static float dot(const float *a, const float *b, int64_t n) {
    float s[8] = { 0 };
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    for (; i < n; i++) s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

#define ROWS_PER_TASK 16
typedef struct { const GGUFTensor *w; const float *x; float *out; int T; } MatmulCtx;

static void matmul_task(void *ctx, int64_t task) {
    MatmulCtx *c = ctx;
    int64_t n_in = c->w->ne[0], n_out = c->w->ne[1];
    int64_t r0 = task * ROWS_PER_TASK, r1 = r0 + ROWS_PER_TASK < n_out ? r0 + ROWS_PER_TASK : n_out;
    for (int64_t r = r0; r < r1; r++) {
        const float *row = weight_row(c->w, r);
        for (int t = 0; t < c->T; t++) c->out[t * n_out + r] = dot(row, c->x + t * n_in, n_in);
    }
}

// out (T, ne1) = x (T, ne0) . W^T, W = (ne1 rows of ne0) as stored in the GGUF
static void matmul(float *out, const float *x, const GGUFTensor *w, int T) {
    MatmulCtx c = { w, x, out, T };
    parallel_for((w->ne[1] + ROWS_PER_TASK - 1) / ROWS_PER_TASK, matmul_task, &c);
}

// ---------------------------------------------------------------- small ops
// out = x * w / sqrt(mean(x^2) + eps), over n elements; w is a GGUF vector (F32 in every real file)
void cpu_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;  // double: the reference should not be the least accurate party
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

// NeoX-style RoPE (the HF "rotate_half" layout): pairs (i, i + hd/2) rotate by pos * base^(-2i/hd).
void cpu_rope(float *v, int head_dim, int pos, float base) {
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        double theta = pos * pow((double)base, -2.0 * i / head_dim);
        float c = (float)cos(theta), s = (float)sin(theta);
        float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c - x1 * s;
        v[i + half] = x1 * c + x0 * s;
    }
}

static float silu(float x) { return x / (1.0f + expf(-x)); }

// Norm weights are tiny; copy any type to f32 once per use.
static const float *vec_f32(const GGUFTensor *t, float *buf) {
    if (t->type == GGML_TYPE_F32) return t->data;
    dequantize_row(t->type, t->data, buf, t->ne[0]);
    return buf;
}

// ---------------------------------------------------------------- attention
// Each token of the chunk has its own sequence and position; its keys/values are already in the cache.
typedef struct {
    CpuEngine *ce;
    int layer, T;
    const int *seq, *pos;  // (T)
} AttnCtx;

static _Thread_local float *tl_scores;
static _Thread_local int tl_scores_cap;

static void attn_task(void *ctx, int64_t task) {
    AttnCtx *a = ctx;
    const Qwen3Config *c = a->ce->e.cfg;
    int hd = c->head_dim, kv_dim = c->n_kv_head * hd;
    int t = (int)(task / c->n_head), h = (int)(task % c->n_head);
    int kvh = h / (c->n_head / c->n_kv_head);  // GQA: consecutive query heads share a kv head
    const SeqCache *sc = &a->ce->seqs[a->seq[t]];
    int n = a->pos[t] + 1;  // causal: positions 0..pos inclusive
    if (tl_scores_cap < n) {
        free(tl_scores);
        tl_scores = xmalloc((size_t)n * sizeof(float));
        tl_scores_cap = n;
    }
    const float *q = a->ce->s.q + (size_t)t * c->n_head * hd + (size_t)h * hd;
    const float *K = sc->k[a->layer] + (size_t)kvh * hd, *V = sc->v[a->layer] + (size_t)kvh * hd;
    cpu_attention_head(a->ce->s.att + (size_t)t * c->n_head * hd + (size_t)h * hd, q, K, V, n, hd, kv_dim, tl_scores);
}

void cpu_attention_head(float *out, const float *q, const float *K, const float *V, int n, int head_dim,
                        int kv_stride, float *scores) {
    float scale = 1.0f / sqrtf((float)head_dim), mx = -INFINITY;
    for (int p = 0; p < n; p++) {
        scores[p] = dot(q, K + (size_t)p * kv_stride, head_dim) * scale;
        if (scores[p] > mx) mx = scores[p];
    }
    float sum = 0;
    for (int p = 0; p < n; p++) sum += scores[p] = expf(scores[p] - mx);
    for (int i = 0; i < head_dim; i++) out[i] = 0;
    for (int p = 0; p < n; p++) {
        float w = scores[p] / sum;
        const float *vp = V + (size_t)p * kv_stride;
        for (int i = 0; i < head_dim; i++) out[i] += w * vp[i];
    }
}

// ---------------------------------------------------------------- forward
// T tokens (T <= CPU_CHUNK), token t of sequence seq[t] at position pos[t]; the caches have room for them.
// Writes logits for the tokens with want[t] != 0 into out_logits rows in order (n_want rows).
static void forward(CpuEngine *ce, int T, const int *tokens, const int *seq, const int *pos, const char *want,
                    float *out_logits) {
    const Qwen3Model *m = ce->m;
    const Qwen3Config *c = &m->cfg;
    RunState *s = &ce->s;
    int dim = c->dim, hd = c->head_dim, q_dim = c->n_head * hd, kv_dim = c->n_kv_head * hd, ffn = c->ffn_dim;
    float wbuf[MAX_NORM_DIM], w2buf[MAX_NORM_DIM];

    // embedding: row `token` of token_embd (and the token into the sequence's fed history)
    for (int t = 0; t < T; t++) {
        ce->seqs[seq[t]].tok[pos[t]] = tokens[t];
        const GGUFTensor *e = m->tok_embd;
        const uint8_t *src = (const uint8_t *)e->data + (uint64_t)tokens[t] * ggml_row_bytes(e->type, dim);
        dequantize_row(e->type, src, s->x + (size_t)t * dim, dim);
    }

    for (int l = 0; l < c->n_layer; l++) {
        const Qwen3Layer *L = &m->layer[l];
        // ---- attention block
        const float *wn = vec_f32(L->attn_norm, wbuf);
        for (int t = 0; t < T; t++) cpu_rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, wn, dim, c->rms_eps);
        matmul(s->q, s->xb, L->wq, T);
        matmul(s->k, s->xb, L->wk, T);
        matmul(s->v, s->xb, L->wv, T);
        const float *qn = vec_f32(L->q_norm, wbuf), *kn = vec_f32(L->k_norm, w2buf);
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < c->n_head; h++) {
                float *qh = s->q + (size_t)t * q_dim + (size_t)h * hd;
                cpu_rmsnorm(qh, qh, qn, hd, c->rms_eps);
                cpu_rope(qh, hd, pos[t], c->rope_base);
            }
            SeqCache *sc = &ce->seqs[seq[t]];
            for (int h = 0; h < c->n_kv_head; h++) {
                float *kh = s->k + (size_t)t * kv_dim + (size_t)h * hd;
                cpu_rmsnorm(kh, kh, kn, hd, c->rms_eps);
                cpu_rope(kh, hd, pos[t], c->rope_base);
            }
            memcpy(sc->k[l] + (size_t)pos[t] * kv_dim, s->k + (size_t)t * kv_dim, kv_dim * sizeof(float));
            memcpy(sc->v[l] + (size_t)pos[t] * kv_dim, s->v + (size_t)t * kv_dim, kv_dim * sizeof(float));
        }
        AttnCtx ac = { ce, l, T, seq, pos };
        parallel_for((int64_t)T * c->n_head, attn_task, &ac);
        matmul(s->proj, s->att, L->wo, T);
        for (size_t i = 0; i < (size_t)T * dim; i++) s->x[i] += s->proj[i];

        // ---- MLP block: down(silu(gate(x)) * up(x))
        wn = vec_f32(L->ffn_norm, wbuf);
        for (int t = 0; t < T; t++) cpu_rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, wn, dim, c->rms_eps);
        matmul(s->gate, s->xb, L->w_gate, T);
        matmul(s->up, s->xb, L->w_up, T);
        for (size_t i = 0; i < (size_t)T * ffn; i++) s->gate[i] = silu(s->gate[i]) * s->up[i];
        matmul(s->proj, s->gate, L->w_down, T);
        for (size_t i = 0; i < (size_t)T * dim; i++) s->x[i] += s->proj[i];
    }

    // ---- final norm and lm_head, only for the rows whose logits are wanted
    int n_want = 0;
    const float *wn = vec_f32(m->output_norm, wbuf);
    for (int t = 0; t < T; t++)
        if (want[t]) cpu_rmsnorm(s->xb + (size_t)n_want++ * dim, s->x + (size_t)t * dim, wn, dim, c->rms_eps);
    if (n_want) matmul(out_logits, s->xb, m->output, n_want);
}

// ---------------------------------------------------------------- cache management
// Takes the pool pages for the growth of every sequence with add[seq] > 0 new tokens, all or none, as the GPU
// engine must (its pages are real storage; here they are only counted, so the scheduler's paths run in CI).
static int take_pages(CpuEngine *ce, const int *add) {
    int need = 0;
    for (int s = 0; s < ce->e.max_seqs; s++)
        if (add[s] > 0) need += kvp_need(&ce->kv, s, ce->seqs[s].len + add[s]);
    if (need > ce->kv.n_free)
        return set_err(&ce->e, "KV cache pool exhausted: the call needs %d more pages of %d tokens, %d of %d are free",
                       need, KV_PAGE, ce->kv.n_free, ce->kv.n_pages);
    for (int s = 0; s < ce->e.max_seqs; s++)
        if (add[s] > 0 && kvp_grow(&ce->kv, s, ce->seqs[s].len + add[s])) return set_err(&ce->e, "page table full");
    return 0;
}

static int reserve(CpuEngine *ce, int seq, int need) {
    SeqCache *sc = &ce->seqs[seq];
    if (need > ce->e.max_ctx)
        return set_err(&ce->e, "sequence %d would exceed %d tokens (has %d, adding %d)", seq, ce->e.max_ctx, sc->len,
                       need - sc->len);
    if (need <= sc->cap) return 0;
    int cap = sc->cap ? sc->cap : 64;
    while (cap < need) cap *= 2;
    if (cap > ce->e.max_ctx) cap = ce->e.max_ctx;
    size_t kv_dim = (size_t)ce->m->cfg.n_kv_head * ce->m->cfg.head_dim;
    sc->tok = xrealloc(sc->tok, (size_t)cap * sizeof(int));
    for (int l = 0; l < ce->m->cfg.n_layer; l++) {
        sc->k[l] = xrealloc(sc->k[l], (size_t)cap * kv_dim * sizeof(float));
        sc->v[l] = xrealloc(sc->v[l], (size_t)cap * kv_dim * sizeof(float));
    }
    sc->cap = cap;
    return 0;
}

// ---------------------------------------------------------------- Engine interface
static int cpu_prefill(Engine *e, int seq, const int *tokens, int n, float *logits, float *all_logits) {
    CpuEngine *ce = (CpuEngine *)e;
    int vocab = e->cfg->vocab;
    if (seq < 0 || seq >= e->max_seqs) return set_err(e, "sequence %d out of range [0, %d)", seq, e->max_seqs);
    if (n <= 0) return set_err(e, "prefill of %d tokens", n);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab) return set_err(e, "token id %d out of range [0, %d)", tokens[i], vocab);
    SeqCache *sc = &ce->seqs[seq];
    if (reserve(ce, seq, sc->len + n)) return -1;
    memset(ce->step_add, 0, (size_t)e->max_seqs * sizeof(int));
    ce->step_add[seq] = n;
    if (take_pages(ce, ce->step_add)) return -1;
    int seqv[CPU_CHUNK], posv[CPU_CHUNK];
    char want[CPU_CHUNK];
    for (int i0 = 0; i0 < n; i0 += CPU_CHUNK) {
        int T = n - i0 < CPU_CHUNK ? n - i0 : CPU_CHUNK, last_chunk = i0 + T == n;
        for (int t = 0; t < T; t++) {
            seqv[t] = seq;
            posv[t] = sc->len + t;
            want[t] = all_logits != NULL || (logits && last_chunk && t == T - 1);
        }
        forward(ce, T, tokens + i0, seqv, posv, want, ce->s.logits);
        sc->len += T;
        if (all_logits) memcpy(all_logits + (size_t)i0 * vocab, ce->s.logits, (size_t)T * vocab * sizeof(float));
        if (logits && last_chunk)
            memcpy(logits, ce->s.logits + (all_logits ? (size_t)(T - 1) * vocab : 0), (size_t)vocab * sizeof(float));
    }
    return 0;
}

static int cpu_decode(Engine *e, int n, const int *seqs, const int *tokens, float *logits) {
    CpuEngine *ce = (CpuEngine *)e;
    int vocab = e->cfg->vocab;
    if (n <= 0 || n > e->max_seqs) return set_err(e, "decode of %d sequences (max %d)", n, e->max_seqs);
    for (int i = 0; i < n; i++) {
        if (seqs[i] < 0 || seqs[i] >= e->max_seqs)
            return set_err(e, "sequence %d out of range [0, %d)", seqs[i], e->max_seqs);
        if (tokens[i] < 0 || tokens[i] >= vocab) return set_err(e, "token id %d out of range [0, %d)", tokens[i], vocab);
        for (int j = 0; j < i; j++)
            if (seqs[j] == seqs[i]) return set_err(e, "sequence %d appears twice in one decode step", seqs[i]);
        if (ce->seqs[seqs[i]].len + 1 > e->max_ctx)
            return set_err(e, "sequence %d would exceed %d tokens", seqs[i], e->max_ctx);
    }
    for (int i = 0; i < n; i++)
        if (reserve(ce, seqs[i], ce->seqs[seqs[i]].len + 1)) return -1;
    memset(ce->step_add, 0, (size_t)e->max_seqs * sizeof(int));
    for (int i = 0; i < n; i++) ce->step_add[seqs[i]] = 1;
    if (take_pages(ce, ce->step_add)) return -1;
    int posv[CPU_CHUNK];
    char want[CPU_CHUNK];
    for (int i0 = 0; i0 < n; i0 += CPU_CHUNK) {
        int T = n - i0 < CPU_CHUNK ? n - i0 : CPU_CHUNK;
        for (int t = 0; t < T; t++) {
            posv[t] = ce->seqs[seqs[i0 + t]].len;
            want[t] = 1;
        }
        forward(ce, T, tokens + i0, seqs + i0, posv, want, logits + (size_t)i0 * vocab);
        for (int t = 0; t < T; t++) ce->seqs[seqs[i0 + t]].len++;
    }
    return 0;
}

// A mixed step (engine.h): validated as a whole, caches reserved, then forward() in chunks of CPU_CHUNK tokens.
static int cpu_step(Engine *e, int n, const int *seqs, const int *tokens, const char *want, float *logits) {
    CpuEngine *ce = (CpuEngine *)e;
    int vocab = e->cfg->vocab, rc = 0;
    int *add = ce->step_add;  // tokens of this call per sequence
    memset(add, 0, (size_t)e->max_seqs * sizeof(int));
    for (int i = 0; i < n && !rc; i++) {
        if (seqs[i] < 0 || seqs[i] >= e->max_seqs) rc = set_err(e, "sequence %d out of range [0, %d)", seqs[i], e->max_seqs);
        else if (tokens[i] < 0 || tokens[i] >= vocab) rc = set_err(e, "token id %d out of range [0, %d)", tokens[i], vocab);
        else rc = reserve(ce, seqs[i], ce->seqs[seqs[i]].len + ++add[seqs[i]]);
    }
    if (!rc) rc = take_pages(ce, add);
    int posv[CPU_CHUNK];
    for (int i0 = 0; i0 < n && !rc; i0 += CPU_CHUNK) {
        int T = n - i0 < CPU_CHUNK ? n - i0 : CPU_CHUNK, n_want = 0;
        for (int t = 0; t < T; t++) {
            posv[t] = ce->seqs[seqs[i0 + t]].len++;
            n_want += want[i0 + t] != 0;
        }
        forward(ce, T, tokens + i0, seqs + i0, posv, want + i0, logits);
        logits += (size_t)n_want * vocab;
    }
    return rc;
}

// step() into a logits buffer, then each wanted row through sampler.c with a Sampler made on the spot: its
// history is the sequence's fed tokens up to that row, its random stream the slot's (SlotDraws) at draw[k]. So
// the tokens equal those of a Sampler kept for the whole request, sampled or greedy, preempted or not.
static int cpu_step_sample(Engine *e, int n, const int *seqs, const int *tokens, const char *want,
                           const SamplerParams *const *params, const uint64_t *draw, int *out_tokens) {
    CpuEngine *ce = (CpuEngine *)e;
    int vocab = e->cfg->vocab, n_want = 0;
    for (int i = 0; i < n; i++) n_want += want[i] != 0;
    if (n_want > ce->sample_rows) {
        free(ce->sample_logits);
        ce->sample_logits = xmalloc((size_t)n_want * vocab * sizeof(float));
        ce->sample_rows = n_want;
    }
    if (cpu_step(e, n, seqs, tokens, want, ce->sample_logits)) return -1;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!want[i]) continue;
        SeqCache *sc = &ce->seqs[seqs[i]];
        int n_hist = sc->len;  // the row's position + 1: the sequence's tokens up to and including this one
        for (int j = i + 1; j < n; j++) n_hist -= seqs[j] == seqs[i];
        Sampler sm = { .p = *params[k], .vocab = vocab, .history = sc->tok, .n_history = n_hist,
                       .cap_history = n_hist, .probs = ce->probs, .idx = ce->idx };
        SlotDraws *d = &ce->draws[seqs[i]];
        int drawn = params[k]->temperature > 0.0f;
        if (drawn && (!d->valid || d->seed != params[k]->seed || d->next != draw[k])) {
            rng_seed(&d->rng, params[k]->seed);
            for (uint64_t s = 0; s < draw[k]; s++) rng_uniform(&d->rng);
            d->seed = params[k]->seed;
            d->next = draw[k];
            d->valid = 1;
        }
        if (drawn) sm.rng = d->rng;
        out_tokens[k] = sample(&sm, ce->sample_logits + (size_t)k * vocab);
        if (drawn && out_tokens[k] >= 0) { d->rng = sm.rng; d->next++; }
        k++;
    }
    return 0;
}

static int cpu_step_submit(Engine *e, int n, const int *seqs, const int *tokens, const char *want,
                           const SamplerParams *const *params, const uint64_t *draw) {
    CpuEngine *ce = (CpuEngine *)e;
    if (ce->submitted - ce->waited > 1) return set_err(e, "step_submit: two steps are outstanding; wait for one");
    int b = (int)(ce->submitted % 2), p = 1 - b, n_want = 0;
    if (n > ce->ahead_tok_cap) ce->ahead_tok = xrealloc(ce->ahead_tok, sizeof(int) * (size_t)(ce->ahead_tok_cap = n));
    for (int i = 0; i < n; i++) {
        n_want += want[i] != 0;
        int t = tokens[i];
        if (t < 0) {  // ENGINE_PREV(j)
            int j = -1 - t;
            if (!ce->submitted || j >= ce->ahead_rows[p])
                return set_err(e, "step_submit: token %d names no row of the previous step", t);
            t = ce->ahead_ids[p][j] < 0 ? 0 : ce->ahead_ids[p][j];
        }
        ce->ahead_tok[i] = t;
    }
    if (n_want > ce->ahead_cap[b])
        ce->ahead_ids[b] = xrealloc(ce->ahead_ids[b], sizeof(int) * (size_t)(ce->ahead_cap[b] = n_want));
    if (cpu_step_sample(e, n, seqs, ce->ahead_tok, want, params, draw, ce->ahead_ids[b])) return -1;
    ce->ahead_rows[b] = n_want;
    ce->submitted++;
    return 0;
}

static int cpu_step_wait(Engine *e, int *out_tokens) {
    CpuEngine *ce = (CpuEngine *)e;
    if (ce->waited == ce->submitted) return set_err(e, "step_wait: no step outstanding");
    int b = (int)(ce->waited++ % 2);
    memcpy(out_tokens, ce->ahead_ids[b], sizeof(int) * (size_t)ce->ahead_rows[b]);
    return 0;
}

static void cpu_free_seq(Engine *e, int seq) {
    CpuEngine *ce = (CpuEngine *)e;
    if (seq < 0 || seq >= e->max_seqs) return;
    ce->seqs[seq].len = 0;  // keep the allocation: the slot will likely be reused
    kvp_shrink(&ce->kv, seq, 0);
}

static int cpu_free_pages(Engine *e) { return ((CpuEngine *)e)->kv.n_free; }

static int cpu_seq_len(Engine *e, int seq) {
    CpuEngine *ce = (CpuEngine *)e;
    return seq < 0 || seq >= e->max_seqs ? 0 : ce->seqs[seq].len;
}

// Keep the first n cached tokens: later positions are overwritten by the next prefill or decode.
static int cpu_truncate(Engine *e, int seq, int n) {
    CpuEngine *ce = (CpuEngine *)e;
    if (seq < 0 || seq >= e->max_seqs || n < 0 || n > ce->seqs[seq].len) {
        snprintf(e->err, sizeof e->err, "cannot truncate sequence %d to %d tokens", seq, n);
        return -1;
    }
    ce->seqs[seq].len = n;
    kvp_shrink(&ce->kv, seq, n);
    return 0;
}

static void cpu_destroy(Engine *e) {
    CpuEngine *ce = (CpuEngine *)e;
    if (!ce) return;
    for (int i = 0; i < e->max_seqs; i++)
        for (int l = 0; l < QWEN3_MAX_LAYERS; l++) { free(ce->seqs[i].k[l]); free(ce->seqs[i].v[l]); }
    for (int i = 0; i < e->max_seqs; i++) free(ce->seqs[i].tok);
    free(ce->seqs);
    free(ce->draws);
    free(ce->sample_logits);
    free(ce->ahead_ids[0]);
    free(ce->ahead_ids[1]);
    free(ce->ahead_tok);
    free(ce->probs);
    free(ce->idx);
    free(ce->step_add);
    kvp_free(&ce->kv);
    RunState *s = &ce->s;
    float *bufs[] = { s->x, s->xb, s->q, s->k, s->v, s->att, s->proj, s->gate, s->up, s->logits };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(ce);
}

Engine *cpu_engine_create(const Qwen3Model *m, int max_seqs, int max_ctx) {
    return cpu_engine_create_pool(m, max_seqs, max_ctx, 0);
}

Engine *cpu_engine_create_pool(const Qwen3Model *m, int max_seqs, int max_ctx, int n_pages) {
    const Qwen3Config *c = &m->cfg;
    if (max_seqs < 1 || max_ctx < 1 || c->dim > MAX_NORM_DIM || c->head_dim > MAX_NORM_DIM) {
        fprintf(stderr, "qwen3-ptx: cpu engine: bad arguments (max_seqs %d, max_ctx %d, dim %d)\n", max_seqs, max_ctx,
                c->dim);
        return NULL;
    }
    CpuEngine *ce = xcalloc(1, sizeof *ce);
    ce->m = m;
    ce->e.name = "cpu";
    ce->e.cfg = c;
    ce->e.max_seqs = max_seqs;
    ce->e.max_ctx = max_ctx;
    ce->e.prefill = cpu_prefill;
    ce->e.decode = cpu_decode;
    ce->e.free_seq = cpu_free_seq;
    ce->e.seq_len = cpu_seq_len;
    ce->e.truncate = cpu_truncate;
    ce->e.step = cpu_step;
    ce->e.step_sample = cpu_step_sample;
    ce->e.step_submit = cpu_step_submit;
    ce->e.step_wait = cpu_step_wait;
    ce->e.destroy = cpu_destroy;
    ce->e.free_pages = cpu_free_pages;
    if (n_pages <= 0) n_pages = env_int("QWEN3_KV_PAGES", 1, 1 << 30, 0);
    if (n_pages <= 0) n_pages = max_seqs * kvp_pages_for(max_ctx);
    ce->e.n_pages = n_pages;
    kvp_init(&ce->kv, n_pages, max_seqs, max_ctx, -1, NULL);
    ce->seqs = xcalloc((size_t)max_seqs, sizeof *ce->seqs);
    ce->step_add = xcalloc((size_t)max_seqs, sizeof(int));
    ce->draws = xcalloc((size_t)max_seqs, sizeof *ce->draws);
    ce->probs = xmalloc((size_t)c->vocab * sizeof(float));
    ce->idx = xmalloc((size_t)c->vocab * sizeof(int));
    size_t T = CPU_CHUNK, q_dim = (size_t)c->n_head * c->head_dim, kv_dim = (size_t)c->n_kv_head * c->head_dim;
    RunState *s = &ce->s;
    s->x = xmalloc(T * c->dim * sizeof(float));
    s->xb = xmalloc(T * c->dim * sizeof(float));
    s->q = xmalloc(T * q_dim * sizeof(float));
    s->k = xmalloc(T * kv_dim * sizeof(float));
    s->v = xmalloc(T * kv_dim * sizeof(float));
    s->att = xmalloc(T * q_dim * sizeof(float));
    s->proj = xmalloc(T * c->dim * sizeof(float));
    s->gate = xmalloc(T * c->ffn_dim * sizeof(float));
    s->up = xmalloc(T * c->ffn_dim * sizeof(float));
    s->logits = xmalloc(T * c->vocab * sizeof(float));
    return &ce->e;
}
