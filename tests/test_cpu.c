// test_cpu.c — the CPU reference engine: each piece against double-precision straightforward code, a whole
// forward pass of the tiny synth model against a naive double-precision forward, the Engine semantics (chunked
// prefill == one prefill == token-by-token decode, batched decode == separate, KV-cache overflow, free_seq), and
// the golden logits HF transformers produced for the same file (tests/golden/tiny.txt, from hf_reference.py).
#include "test.h"
#include "../host/cpu.h"
#include "../host/synth.h"
#include "../host/util.h"
#include "../host/gpu_ops.h"
#include "../gguf/quants.h"
#include <unistd.h>

static Rng rng;
static Qwen3Model *tiny;   // tiny f32 synth, seed 1 (the golden model), written once into build/tests/
static char tiny_path[256];

static double urand(double lo, double hi) { return lo + (hi - lo) * rng_uniform(&rng); }

// ---------------------------------------------------------------- pieces
static void rmsnorm_vs_double(void) {
    for (int iter = 0; iter < 20; iter++) {
        int n = 1 + (int)(rng_u64(&rng) % 5000);
        float eps = (float)urand(1e-7, 1e-5), *x = xmalloc(n * 4), *w = xmalloc(n * 4), *out = xmalloc(n * 4);
        double *ref = xmalloc(n * 8), ss = 0, scale = urand(1e-3, 1e3);
        for (int i = 0; i < n; i++) { x[i] = (float)(urand(-1, 1) * scale); w[i] = (float)urand(0.5, 1.5); out[i] = NAN; }
        for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
        for (int i = 0; i < n; i++) ref[i] = x[i] * w[i] / sqrt(ss / n + eps);
        cpu_rmsnorm(out, x, w, n, eps);
        double e = rel_err(out, ref, n);
        CHECK(e < 1e-6, "n=%d rel err %.3g", n, e);
        cpu_rmsnorm(x, x, w, n, eps);  // in place
        e = rel_err(x, ref, n);
        CHECK(e < 1e-6, "in place: rel err %.3g", e);
        free(x); free(w); free(out); free(ref);
    }
}

// HF's formulation: q*cos + rotate_half(q)*sin with cos/sin of (pos * inv_freq) repeated over both halves.
static void rope_vs_double(void) {
    for (int iter = 0; iter < 50; iter++) {
        int hd = 2 * (1 + (int)(rng_u64(&rng) % 128));
        int pos = (int)(rng_u64(&rng) % 40960);
        float base = iter % 2 ? 1e6f : 10000.0f, v[256];
        double ref[256], rot[256];
        for (int i = 0; i < hd; i++) v[i] = (float)urand(-2, 2);
        for (int i = 0; i < hd / 2; i++) { rot[i] = -v[i + hd / 2]; rot[i + hd / 2] = v[i]; }
        for (int i = 0; i < hd; i++) {
            double th = pos / pow(base, (double)(2 * (i % (hd / 2))) / hd);
            ref[i] = v[i] * cos(th) + rot[i] * sin(th);
        }
        cpu_rope(v, hd, pos, base);
        double e = rel_err(v, ref, hd);
        CHECK(e < 1e-6, "hd=%d pos=%d base=%g rel err %.3g", hd, pos, base, e);
    }
}

static void attention_vs_double(void) {
    for (int iter = 0; iter < 20; iter++) {
        int hd = 128, n = 1 + (int)(rng_u64(&rng) % 700), stride = hd * (1 + (int)(rng_u64(&rng) % 4));
        float *q = xmalloc(hd * 4), *K = xmalloc((size_t)n * stride * 4), *V = xmalloc((size_t)n * stride * 4);
        float *out = xmalloc(hd * 4), *sc = xmalloc(n * 4);
        double *ref = xcalloc(hd, 8), *p = xmalloc(n * 8), mx = -INFINITY, sum = 0;
        double qs = urand(0.5, 4);  // sharper or flatter softmax
        for (int i = 0; i < hd; i++) { q[i] = (float)(urand(-1, 1) * qs); out[i] = NAN; }
        for (int i = 0; i < n * stride; i++) { K[i] = (float)urand(-1, 1); V[i] = (float)urand(-1, 1); }
        for (int t = 0; t < n; t++) {
            double d = 0;
            for (int i = 0; i < hd; i++) d += (double)q[i] * K[(size_t)t * stride + i];
            p[t] = d / sqrt(hd);
            if (p[t] > mx) mx = p[t];
        }
        for (int t = 0; t < n; t++) sum += p[t] = exp(p[t] - mx);
        for (int t = 0; t < n; t++)
            for (int i = 0; i < hd; i++) ref[i] += p[t] / sum * V[(size_t)t * stride + i];
        cpu_attention_head(out, q, K, V, n, hd, stride, sc);
        double e = rel_err(out, ref, hd);
        CHECK(e < 1e-5, "n=%d rel err %.3g", n, e);
        free(q); free(K); free(V); free(out); free(sc); free(ref); free(p);
    }
}

// ---------------------------------------------------------------- a whole forward, naively in double
static double *tensor_f64(const GGUFTensor *t) {  // whole tensor dequantized to double, row-major (ne1, ne0)
    int64_t n0 = t->ne[0], n1 = t->ne[1];
    float *row = xmalloc(n0 * 4);
    double *d = xmalloc((size_t)n0 * n1 * 8);
    for (int64_t r = 0; r < n1; r++) {
        dequantize_row(t->type, (const uint8_t *)t->data + r * ggml_row_bytes(t->type, n0), row, n0);
        for (int64_t i = 0; i < n0; i++) d[r * n0 + i] = row[i];
    }
    free(row);
    return d;
}

static void mat_f64(double *out, const GGUFTensor *w, const double *x, int T) {  // out (T, ne1) = x (T, ne0) W^T
    int64_t n0 = w->ne[0], n1 = w->ne[1];
    double *W = tensor_f64(w);
    for (int t = 0; t < T; t++)
        for (int64_t r = 0; r < n1; r++) {
            double s = 0;
            for (int64_t i = 0; i < n0; i++) s += W[r * n0 + i] * x[t * n0 + i];
            out[t * n1 + r] = s;
        }
    free(W);
}

static void norm_f64(double *v, const GGUFTensor *w, int n, double eps) {
    double *W = tensor_f64(w), ss = 0;
    for (int i = 0; i < n; i++) ss += v[i] * v[i];
    for (int i = 0; i < n; i++) v[i] = v[i] / sqrt(ss / n + eps) * W[i];
    free(W);
}

// logits (T, vocab) for tokens at positions 0..T-1 of one sequence
static void forward_f64(const Qwen3Model *m, const int *tok, int T, double *logits) {
    const Qwen3Config *c = &m->cfg;
    int D = c->dim, hd = c->head_dim, H = c->n_head, KV = c->n_kv_head, F = c->ffn_dim;
    double *x = xcalloc((size_t)T * D, 8), *h = xmalloc((size_t)T * D * 8), *q = xmalloc((size_t)T * H * hd * 8);
    double *k = xmalloc((size_t)T * KV * hd * 8), *v = xmalloc((size_t)T * KV * hd * 8);
    double *att = xmalloc((size_t)T * H * hd * 8), *o = xmalloc((size_t)T * D * 8);
    double *g = xmalloc((size_t)T * F * 8), *u = xmalloc((size_t)T * F * 8), *sc = xmalloc(T * 8);
    double *E = tensor_f64(m->tok_embd);
    for (int t = 0; t < T; t++) memcpy(x + (size_t)t * D, E + (size_t)tok[t] * D, D * 8);
    free(E);
    for (int l = 0; l < c->n_layer; l++) {
        const Qwen3Layer *L = &m->layer[l];
        memcpy(h, x, (size_t)T * D * 8);
        for (int t = 0; t < T; t++) norm_f64(h + (size_t)t * D, L->attn_norm, D, c->rms_eps);
        mat_f64(q, L->wq, h, T); mat_f64(k, L->wk, h, T); mat_f64(v, L->wv, h, T);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < H + KV; j++) {
                double *p = j < H ? q + ((size_t)t * H + j) * hd : k + ((size_t)t * KV + j - H) * hd, tmp[1024];
                norm_f64(p, j < H ? L->q_norm : L->k_norm, hd, c->rms_eps);
                for (int i = 0; i < hd / 2; i++) {
                    double th = t / pow(c->rope_base, 2.0 * i / hd);
                    tmp[i] = p[i] * cos(th) - p[i + hd / 2] * sin(th);
                    tmp[i + hd / 2] = p[i + hd / 2] * cos(th) + p[i] * sin(th);
                }
                memcpy(p, tmp, hd * 8);
            }
        for (int t = 0; t < T; t++)
            for (int hh = 0; hh < H; hh++) {
                int kvh = hh * KV / H;  // GQA, written differently from the engine on purpose
                double mx = -INFINITY, sum = 0;
                for (int s = 0; s <= t; s++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += q[((size_t)t * H + hh) * hd + i] * k[((size_t)s * KV + kvh) * hd + i];
                    sc[s] = d / sqrt(hd);
                    if (sc[s] > mx) mx = sc[s];
                }
                for (int s = 0; s <= t; s++) sum += sc[s] = exp(sc[s] - mx);
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int s = 0; s <= t; s++) a += sc[s] / sum * v[((size_t)s * KV + kvh) * hd + i];
                    att[((size_t)t * H + hh) * hd + i] = a;
                }
            }
        mat_f64(o, L->wo, att, T);
        for (size_t i = 0; i < (size_t)T * D; i++) x[i] += o[i];
        memcpy(h, x, (size_t)T * D * 8);
        for (int t = 0; t < T; t++) norm_f64(h + (size_t)t * D, L->ffn_norm, D, c->rms_eps);
        mat_f64(g, L->w_gate, h, T); mat_f64(u, L->w_up, h, T);
        for (size_t i = 0; i < (size_t)T * F; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        mat_f64(o, L->w_down, g, T);
        for (size_t i = 0; i < (size_t)T * D; i++) x[i] += o[i];
    }
    for (int t = 0; t < T; t++) norm_f64(x + (size_t)t * D, m->output_norm, D, c->rms_eps);
    mat_f64(logits, m->output, x, T);
    free(x); free(h); free(q); free(k); free(v); free(att); free(o); free(g); free(u); free(sc);
}

static void forward_vs_double(void) {
    if (!tiny) SKIP("tiny model unavailable");
    int T = 6 + (int)(rng_u64(&rng) % 6), V = tiny->cfg.vocab, tok[16];
    for (int t = 0; t < T; t++) tok[t] = (int)(rng_u64(&rng) % V);
    double *ref = xmalloc((size_t)T * V * 8);
    float *got = xmalloc((size_t)T * V * 4);
    for (size_t i = 0; i < (size_t)T * V; i++) got[i] = NAN;
    forward_f64(tiny, tok, T, ref);
    Engine *e = cpu_engine_create(tiny, 1, T);
    CHECK(e->prefill(e, 0, tok, T, NULL, got) == 0, "%s", e->err);
    for (int t = 0; t < T; t++) {
        double err = rel_err(got + (size_t)t * V, ref + (size_t)t * V, V);
        CHECK(err < 1e-4, "position %d: rel err %.3g", t, err);
        if (t == T - 1) printf("  %d tokens, last position rel err vs double %.2g\n", T, err);
    }
    e->destroy(e);
    free(ref); free(got);
}

// A second shape the synth sizes do not cover: untied head, GQA ratio 3, head_dim 64, odd sizes, bf16/q8_0
// weights (F32 norms), written by hand with the GGUF writer.
static void forward_vs_double_untied(void) {
    const int L = 2, D = 96, F = 160, H = 6, KV = 2, HD = 64, V = 1000;
    uint32_t wtype = rng_u64(&rng) % 2 ? GGML_TYPE_BF16 : GGML_TYPE_Q8_0;
    char path[256], err[256];
    snprintf(path, sizeof path, "build/tests/test_cpu_untied_%d.gguf", (int)getpid());
    GGUFWriter *w = gguf_writer_open(path, err, sizeof err);
    CHECK(w != NULL, "%s", err);
    if (!w) return;
    gguf_writer_kv_str(w, "general.architecture", "qwen3", 5);
    gguf_writer_kv_u32(w, "qwen3.block_count", L);
    gguf_writer_kv_u32(w, "qwen3.context_length", 4096);
    gguf_writer_kv_u32(w, "qwen3.embedding_length", D);
    gguf_writer_kv_u32(w, "qwen3.feed_forward_length", F);
    gguf_writer_kv_u32(w, "qwen3.attention.head_count", H);
    gguf_writer_kv_u32(w, "qwen3.attention.head_count_kv", KV);
    gguf_writer_kv_u32(w, "qwen3.attention.key_length", HD);
    gguf_writer_kv_u32(w, "qwen3.attention.value_length", HD);
    gguf_writer_kv_f32(w, "qwen3.rope.freq_base", 5e5f);
    gguf_writer_kv_f32(w, "qwen3.attention.layer_norm_rms_epsilon", 1e-5f);
    struct { char name[64]; int64_t ne0, ne1; float std; } t[4 + 11 * 2];
    int n = 0;
#define T_(nm, a, b, sd) do { snprintf(t[n].name, 64, "%s", nm); t[n].ne0 = a; t[n].ne1 = b; t[n].std = sd; n++; } while (0)
    T_("token_embd.weight", D, V, 1.0f);
    for (int l = 0; l < L; l++) {
        char b[64];
#define B_(s) (snprintf(b, sizeof b, "blk.%d.%s.weight", l, s), b)
        T_(B_("attn_norm"), D, 0, 0.1f);   T_(B_("attn_q"), D, H * HD, 1 / sqrtf(D)); T_(B_("attn_k"), D, KV * HD, 1 / sqrtf(D));
        T_(B_("attn_v"), D, KV * HD, 1 / sqrtf(D)); T_(B_("attn_q_norm"), HD, 0, 0.1f); T_(B_("attn_k_norm"), HD, 0, 0.1f);
        T_(B_("attn_output"), H * HD, D, 1 / sqrtf(H * HD)); T_(B_("ffn_norm"), D, 0, 0.1f);
        T_(B_("ffn_gate"), D, F, 1 / sqrtf(D)); T_(B_("ffn_up"), D, F, 1 / sqrtf(D)); T_(B_("ffn_down"), F, D, 1 / sqrtf(F));
#undef B_
    }
    T_("output_norm.weight", D, 0, 0.1f);
    T_("output.weight", D, V, 5 / sqrtf(D));
#undef T_
    for (int i = 0; i < n; i++) {
        int64_t ne[2] = { t[i].ne0, t[i].ne1 };
        gguf_writer_tensor_info(w, t[i].name, t[i].ne1 ? wtype : GGML_TYPE_F32, t[i].ne1 ? 2 : 1, ne);
    }
    gguf_writer_begin_data(w);
    for (int i = 0; i < n; i++) {
        int64_t rows = t[i].ne1 ? t[i].ne1 : 1;
        float *row = xmalloc(t[i].ne0 * 4);
        void *q = xmalloc(t[i].ne0 * 4);
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t j = 0; j < t[i].ne0; j++) row[j] = (float)((t[i].ne1 ? 0 : 1) + urand(-1.7, 1.7) * t[i].std);
            size_t nb = t[i].ne1 ? quantize_row(wtype, row, q, t[i].ne0) : (size_t)t[i].ne0 * 4;
            gguf_writer_write(w, t[i].ne1 ? q : (void *)row, nb);
        }
        free(row); free(q);
    }
    CHECK(gguf_writer_close(w, err, sizeof err) == 0, "%s", err);
    Qwen3Model *m = xmalloc(sizeof *m);
    if (qwen3_load(m, path, err, sizeof err)) { CHECK(0, "%s", err); free(m); unlink(path); return; }
    CHECK(!m->cfg.tied && m->output != m->tok_embd, "expected an untied head");
    int T = 5 + (int)(rng_u64(&rng) % 8), tok[16];
    for (int i = 0; i < T; i++) tok[i] = (int)(rng_u64(&rng) % V);
    double *ref = xmalloc((size_t)T * V * 8);
    float *got = xmalloc((size_t)T * V * 4);
    for (size_t i = 0; i < (size_t)T * V; i++) got[i] = NAN;
    forward_f64(m, tok, T, ref);
    Engine *e = cpu_engine_create(m, 1, T);
    CHECK(e->prefill(e, 0, tok, T, NULL, got) == 0, "%s", e->err);
    double worst = 0;
    for (int i = 0; i < T; i++) {
        double er = rel_err(got + (size_t)i * V, ref + (size_t)i * V, V);
        if (er > worst) worst = er;
        CHECK(er < 1e-4, "position %d: rel err %.3g", i, er);
    }
    printf("  %s weights, %d tokens: worst rel err vs double %.2g\n", gguf_type_name(wtype), T, worst);
    e->destroy(e);
    qwen3_free(m);
    free(m); free(ref); free(got);
    unlink(path);
}

// ---------------------------------------------------------------- Engine semantics
static double max_rel(const float *a, const float *b, size_t n) {  // ||a-b||/||b||, NaN -> inf
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

static void chunked_equals_whole_equals_decode(void) {
    if (!tiny) SKIP("tiny model unavailable");
    int V = tiny->cfg.vocab, T = 70 + (int)(rng_u64(&rng) % 30);  // > the engine's internal chunk of 64
    int *tok = xmalloc(T * sizeof(int));
    for (int t = 0; t < T; t++) tok[t] = (int)(rng_u64(&rng) % V);
    float *whole = xmalloc((size_t)T * V * 4), *chunked = xmalloc((size_t)T * V * 4), *dec = xmalloc((size_t)T * V * 4);
    float *last = xmalloc((size_t)V * 4);
    for (size_t i = 0; i < (size_t)T * V; i++) whole[i] = chunked[i] = dec[i] = NAN;
    Engine *e = cpu_engine_create(tiny, 2, T);
    CHECK(e->prefill(e, 0, tok, T, last, whole) == 0, "%s", e->err);
    CHECK(e->seq_len(e, 0) == T, "seq_len %d after prefill of %d", e->seq_len(e, 0), T);
    CHECK(max_rel(last, whole + (size_t)(T - 1) * V, V) == 0, "logits != last row of all_logits");
    // random chunk sizes on slot 1
    for (int i = 0; i < T;) {
        int n = 1 + (int)(rng_u64(&rng) % 17);
        if (n > T - i) n = T - i;
        CHECK(e->prefill(e, 1, tok + i, n, NULL, chunked + (size_t)i * V) == 0, "%s", e->err);
        i += n;
    }
    double err = max_rel(chunked, whole, (size_t)T * V);
    CHECK(err < 1e-4, "chunked vs whole: rel err %.3g", err);
    // token by token: prefill of one, then decode
    e->free_seq(e, 1);
    CHECK(e->seq_len(e, 1) == 0, "free_seq left %d tokens", e->seq_len(e, 1));
    CHECK(e->prefill(e, 1, tok, 1, dec, NULL) == 0, "%s", e->err);
    for (int t = 1; t < T; t++) {
        int s = 1;
        CHECK(e->decode(e, 1, &s, tok + t, dec + (size_t)t * V) == 0, "%s", e->err);
    }
    double err2 = max_rel(dec, whole, (size_t)T * V);
    CHECK(err2 < 1e-4, "decode vs whole: rel err %.3g", err2);
    printf("  %d tokens: chunked vs whole %.2g, decode vs whole %.2g\n", T, err, err2);
    e->destroy(e);
    free(tok); free(whole); free(chunked); free(dec); free(last);
}

static void batched_decode_equals_separate(void) {
    if (!tiny) SKIP("tiny model unavailable");
    enum { S = 4, STEPS = 3 };
    int V = tiny->cfg.vocab, len[S], prompt[S][12], next[STEPS][S];
    Engine *a = cpu_engine_create(tiny, S + 2, 32), *b = cpu_engine_create(tiny, S + 2, 32);
    int slot[S] = { 5, 0, 3, 1 };  // not in order, not contiguous
    for (int s = 0; s < S; s++) {
        len[s] = 1 + (int)(rng_u64(&rng) % 12);
        for (int i = 0; i < len[s]; i++) prompt[s][i] = (int)(rng_u64(&rng) % V);
        CHECK(a->prefill(a, slot[s], prompt[s], len[s], NULL, NULL) == 0, "%s", a->err);
        CHECK(b->prefill(b, slot[s], prompt[s], len[s], NULL, NULL) == 0, "%s", b->err);
        for (int k = 0; k < STEPS; k++) next[k][s] = (int)(rng_u64(&rng) % V);
    }
    float *batched = xmalloc((size_t)S * V * 4), *one = xmalloc((size_t)V * 4);
    double worst = 0;
    for (int k = 0; k < STEPS; k++) {
        for (size_t i = 0; i < (size_t)S * V; i++) batched[i] = NAN;
        CHECK(a->decode(a, S, slot, next[k], batched) == 0, "%s", a->err);
        for (int s = 0; s < S; s++) {
            CHECK(b->decode(b, 1, &slot[s], &next[k][s], one) == 0, "%s", b->err);
            double err = max_rel(batched + (size_t)s * V, one, V);
            if (err > worst) worst = err;
            CHECK(err < 1e-4, "step %d seq %d: rel err %.3g", k, s, err);
            CHECK(a->seq_len(a, slot[s]) == len[s] + k + 1, "seq_len %d", a->seq_len(a, slot[s]));
        }
    }
    printf("  %d sequences x %d steps: worst rel err %.2g\n", S, STEPS, worst);
    int dup[2] = { 1, 1 }, t2[2] = { 1, 2 };
    CHECK(a->decode(a, 2, dup, t2, batched) == -1 && strstr(a->err, "twice"), "duplicate sequence accepted: %s", a->err);
    a->destroy(a); b->destroy(b);
    free(batched); free(one);
}

// step(): decode tokens of two sequences and a 70-token prompt of a third (longer than one internal chunk) in one
// call == decode and prefill called separately.
static void mixed_step_equals_separate(void) {
    if (!tiny) SKIP("tiny model unavailable");
    int V = tiny->cfg.vocab, pre[2][5], prompt[70], nxt[2];
    Engine *a = cpu_engine_create(tiny, 3, 96), *b = cpu_engine_create(tiny, 3, 96);
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < 5; i++) pre[s][i] = (int)(rng_u64(&rng) % V);
        nxt[s] = (int)(rng_u64(&rng) % V);
        CHECK(a->prefill(a, s, pre[s], 5, NULL, NULL) == 0, "%s", a->err);
        CHECK(b->prefill(b, s, pre[s], 5, NULL, NULL) == 0, "%s", b->err);
    }
    for (int i = 0; i < 70; i++) prompt[i] = (int)(rng_u64(&rng) % V);
    float *sep = xmalloc((size_t)3 * V * 4), *mix = xmalloc((size_t)3 * V * 4);
    CHECK(b->decode(b, 2, (int[]){ 0, 1 }, nxt, sep) == 0, "%s", b->err);
    CHECK(b->prefill(b, 2, prompt, 70, sep + 2 * (size_t)V, NULL) == 0, "%s", b->err);
    int seqs[72], toks[72];
    char want[72];
    for (int i = 0; i < 70; i++) { seqs[i] = 2; toks[i] = prompt[i]; want[i] = i == 69; }  // the prompt first,
    seqs[70] = 0; toks[70] = nxt[0]; want[70] = 1;                                          // then the decodes
    seqs[71] = 1; toks[71] = nxt[1]; want[71] = 1;
    for (size_t i = 0; i < (size_t)3 * V; i++) mix[i] = NAN;
    CHECK(a->step(a, 72, seqs, toks, want, mix) == 0, "%s", a->err);
    double e_prompt = max_rel(mix, sep + 2 * (size_t)V, V), e0 = max_rel(mix + V, sep, V),
           e1 = max_rel(mix + 2 * (size_t)V, sep + V, V);
    printf("  mixed step vs separate: prompt %.2g, decode %.2g %.2g\n", e_prompt, e0, e1);
    CHECK(e_prompt < 1e-4 && e0 < 1e-4 && e1 < 1e-4, "rel err %.3g %.3g %.3g", e_prompt, e0, e1);
    CHECK(a->seq_len(a, 0) == 6 && a->seq_len(a, 1) == 6 && a->seq_len(a, 2) == 70, "lengths");
    a->destroy(a); b->destroy(b);
    free(sep); free(mix);
}

static void kv_overflow(void) {
    if (!tiny) SKIP("tiny model unavailable");
    int ctx = 4 + (int)(rng_u64(&rng) % 8), V = tiny->cfg.vocab, tok[32];
    for (int i = 0; i < 32; i++) tok[i] = (int)(rng_u64(&rng) % V);
    Engine *e = cpu_engine_create(tiny, 1, ctx);
    float *lg = xmalloc((size_t)V * 4);
    CHECK(e->prefill(e, 0, tok, ctx - 1, lg, NULL) == 0, "%s", e->err);
    e->err[0] = 0;
    CHECK(e->prefill(e, 0, tok, 2, lg, NULL) == -1, "prefill past max_ctx accepted");
    CHECK(strstr(e->err, "exceed") != NULL, "message: '%s'", e->err);
    CHECK(e->seq_len(e, 0) == ctx - 1, "a failed prefill changed the cache: %d", e->seq_len(e, 0));
    int s = 0;
    CHECK(e->decode(e, 1, &s, tok, lg) == 0, "%s", e->err);   // fills it exactly
    e->err[0] = 0;
    CHECK(e->decode(e, 1, &s, tok, lg) == -1, "decode past max_ctx accepted");
    CHECK(strstr(e->err, "exceed") != NULL, "message: '%s'", e->err);
    int bad = V;
    e->free_seq(e, 0);
    CHECK(e->prefill(e, 0, &bad, 1, lg, NULL) == -1 && strstr(e->err, "out of range"), "bad token id accepted");
    s = 1;
    CHECK(e->decode(e, 1, &s, tok, lg) == -1 && strstr(e->err, "out of range"), "bad sequence id accepted");
    printf("  message: %s\n", e->err);
    e->destroy(e);
    free(lg);
}

static void free_seq_restarts(void) {
    if (!tiny) SKIP("tiny model unavailable");
    int V = tiny->cfg.vocab, a[8], b[5];
    for (int i = 0; i < 8; i++) a[i] = (int)(rng_u64(&rng) % V);
    for (int i = 0; i < 5; i++) b[i] = (int)(rng_u64(&rng) % V);
    Engine *e = cpu_engine_create(tiny, 1, 16), *f = cpu_engine_create(tiny, 1, 16);
    float *x = xmalloc((size_t)V * 4), *y = xmalloc((size_t)V * 4);
    CHECK(e->prefill(e, 0, a, 8, x, NULL) == 0, "%s", e->err);
    e->free_seq(e, 0);
    CHECK(e->seq_len(e, 0) == 0, "seq_len %d after free_seq", e->seq_len(e, 0));
    CHECK(e->prefill(e, 0, b, 5, x, NULL) == 0, "%s", e->err);  // must not see a[]'s cache
    CHECK(f->prefill(f, 0, b, 5, y, NULL) == 0, "%s", f->err);
    CHECK(max_rel(x, y, V) < 1e-6, "reused slot differs from a fresh one: %.3g", max_rel(x, y, V));
    e->destroy(e); f->destroy(f);
    free(x); free(y);
}

// ---------------------------------------------------------------- golden logits from HF transformers
static void golden(void) {
    // QWEN3_GOLDEN points elsewhere only to test this parser (hf_reference.py --numpy --golden FILE)
    const char *path = getenv("QWEN3_GOLDEN") ? getenv("QWEN3_GOLDEN") : "tests/golden/tiny.txt";
    FILE *f = fopen(path, "r");
    if (!f) SKIP("%s does not exist yet (the lead generates it on the H100: tests/hf_reference.py MODEL --golden %s)",
                 path, path);
    if (!tiny) { fclose(f); SKIP("tiny model unavailable"); }
    int V = tiny->cfg.vocab, n_tok = 0, n_probe = 0, tok[256], probe[64], n_pos = 0, top1_miss = 0;
    static char line[65536];
    double worst = 0;
    float *lg = NULL;
    while (fgets(line, sizeof line, f)) {
        char *save, *w = strtok_r(line, " \n", &save);
        if (!w || w[0] == '#') continue;
        if (!strcmp(w, "tokens") || !strcmp(w, "probe")) {
            int *dst = w[0] == 't' ? tok : probe, cap = w[0] == 't' ? 256 : 64, n = atoi(strtok_r(NULL, " \n", &save));
            CHECK(n > 0 && n <= cap, "bad count %d", n);
            if (n <= 0 || n > cap) break;
            for (int i = 0; i < n; i++) { char *s = strtok_r(NULL, " \n", &save); dst[i] = s ? atoi(s) : -1; }
            if (w[0] == 't') n_tok = n; else n_probe = n;
        } else if (!strcmp(w, "pos")) {
            if (!lg) {  // run our reference once the tokens are known
                CHECK(n_tok > 0 && n_probe > 0, "golden file lists positions before tokens/probe");
                if (!(n_tok > 0 && n_probe > 0)) break;
                lg = xmalloc((size_t)n_tok * V * 4);
                Engine *e = cpu_engine_create(tiny, 1, n_tok);
                CHECK(e->prefill(e, 0, tok, n_tok, NULL, lg) == 0, "%s", e->err);
                e->destroy(e);
            }
            int p = atoi(strtok_r(NULL, " \n", &save));
            if (p < 0 || p >= n_tok) { CHECK(0, "bad position %d", p); break; }
            const float *row = lg + (size_t)p * V;
            float got[128];
            double ref[128];
            int n = 0, top_id = -1;
            double top_ref = 0, second_ref = -INFINITY;
            char *s = strtok_r(NULL, " \n", &save);  // "top"
            while ((s = strtok_r(NULL, " \n", &save)) && strcmp(s, "probe") && n < 64) {
                int id = atoi(s);
                double v = atof(strtok_r(NULL, " \n", &save));
                if (top_id < 0) { top_id = id; top_ref = v; } else if (v > second_ref) second_ref = v;
                got[n] = row[id]; ref[n] = v; n++;
            }
            for (int i = 0; i < n_probe && (s = strtok_r(NULL, " \n", &save)); i++) {
                got[n] = row[probe[i]]; ref[n] = atof(s); n++;
            }
            double err = rel_err(got, ref, n);
            if (err > worst) worst = err;
            CHECK(err < 1e-4, "position %d: rel err %.3g over %d listed logits", p, err, n);
            int best = 0;
            for (int i = 1; i < V; i++) if (row[i] > row[best]) best = i;
            // top-1 must match unless HF's own top two are closer than the tolerance
            if (best != top_id && top_ref - second_ref > 1e-3 * fabs(top_ref)) top1_miss++;
            n_pos++;
        }
    }
    fclose(f);
    CHECK(n_pos > 0, "no positions in %s", path);
    CHECK(top1_miss == 0, "top-1 differs from HF at %d positions", top1_miss);
    printf("  %d positions vs HF transformers: worst rel err %.2g, top-1 mismatches %d\n", n_pos, worst, top1_miss);
    free(lg);
}

// The tuning switches (env_int): unset or empty -> the default; a number in range -> it; anything else -> the
// default, said on stderr.
static void env_int_values(void) {
    static const struct { const char *v; int want; } cases[] = {
        { NULL, 7 }, { "", 7 }, { "3", 3 }, { "2", 2 }, { "8", 8 }, { "9", 7 }, { "1", 7 }, { "4x", 7 }, { "x", 7 },
        { "-3", 7 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].v) setenv("QWEN3_TEST_ENV_INT", cases[i].v, 1);
        else unsetenv("QWEN3_TEST_ENV_INT");
        int got = env_int("QWEN3_TEST_ENV_INT", 2, 8, 7);
        CHECK(got == cases[i].want, "QWEN3_TEST_ENV_INT=%s: got %d, want %d", cases[i].v ? cases[i].v : "(unset)", got,
              cases[i].want);
    }
    unsetenv("QWEN3_TEST_ENV_INT");
}

// The native copy's row rule (host/gpu_kq.c, gpu_kq_rows: where each kernel measured faster), on Qwen3's shapes
static void kq_rows_rule(void) {
    if (getenv("QWEN3_KQ_MAX_M")) { printf("  skip: QWEN3_KQ_MAX_M is set\n"); return; }
    enum { Q4K = GGML_TYPE_Q4_K, Q5K = GGML_TYPE_Q5_K, Q6K = GGML_TYPE_Q6_K, Q80 = GGML_TYPE_Q8_0 };
    static const struct { const char *what; int N, K, type, bf16, fp8; } cases[] = {
        { "8B qkv, Q4_K", 6144, 4096, Q4K, 32, 2 },       { "8B head, Q6_K", 151936, 4096, Q6K, 8, 1 },
        { "8B down, Q6_K", 4096, 12288, Q6K, 8, 1 },       { "14B down, Q6_K", 5120, 17408, Q6K, 2, 1 },
        { "32B down, Q6_K", 5120, 25600, Q6K, 2, 1 },      { "8B gate/up, Q5_K", 24576, 4096, Q5K, 2, 1 },
        { "8B o, Q8_0", 4096, 4096, Q80, 2, 0 },           { "0.6B qkv, Q4_K", 4096, 1024, Q4K, 1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int f = 0; f < 2; f++) {
            int got = gpu_kq_rows(cases[i].N, cases[i].K, f, (uint32_t)cases[i].type);
            int want = f ? cases[i].fp8 : cases[i].bf16;
            CHECK(got == want, "%s beside %s: %d rows, want %d", cases[i].what, f ? "FP8" : "bf16", got, want);
        }
    // stacks (the 8B's q / k / v): gemm_kq takes Q4_K + Q6_K (a Q4_K_M file's), not Q4_K + Q5_K (a Q4_K_S file's
    // first layers), which keep gemv_kq's two rows
    GGUFTensor q = { .type = Q4K, .ne = { 4096, 4096, 1, 1 } }, k = { .type = Q4K, .ne = { 4096, 1024, 1, 1 } };
    GGUFTensor v6 = { .type = Q6K, .ne = { 4096, 1024, 1, 1 } }, v5 = { .type = Q5K, .ne = { 4096, 1024, 1, 1 } };
    const GGUFTensor *m[3] = { &q, &k, &v6 }, *s[3] = { &q, &k, &v5 };
    CHECK(gpu_kq_stack_rows(m, 3, 4096, 0) == 32, "Q4_K + Q6_K qkv: %d rows", gpu_kq_stack_rows(m, 3, 4096, 0));
    CHECK(gpu_kq_stack_rows(s, 3, 4096, 0) == 2, "Q4_K + Q5_K qkv: %d rows", gpu_kq_stack_rows(s, 3, 4096, 0));
    CHECK(gpu_kq_stack_rows(s, 3, 4096, 1) == 1, "Q4_K + Q5_K qkv beside FP8: %d rows", gpu_kq_stack_rows(s, 3, 4096, 1));
    // gemv_kq's RMSNorm mode (the engine's qkv and gate/up at batch 1): one row of x only, where gemv_kq takes it
    GpuKq kq;
    CHECK(gpu_kq_plan(&kq, m, 3, 4096, 0, 32), "gpu_kq_plan refused the Q4_K + Q6_K qkv");
    CHECK(gpu_kq_norm_fuses(&kq, 1) && !gpu_kq_norm_fuses(&kq, 2) && !gpu_kq_norm_fuses(&kq, 0),
          "the RMSNorm mode at 1 / 2 / 0 rows: %d %d %d", gpu_kq_norm_fuses(&kq, 1), gpu_kq_norm_fuses(&kq, 2),
          gpu_kq_norm_fuses(&kq, 0));
    // gemm_kq's two-row-tile entries on an H200's 132 SMs: the 8B's gate/up and q / k part (5,120 rows) from 9 rows,
    // not its o (128 tiles); the 32B's down (K 25,600) from 5; never on rows not in tiles of 32
    if (getenv("QWEN3_KQ_R2_MIN")) { printf("  skip r2: QWEN3_KQ_R2_MIN is set\n"); return; }
    static const struct { int rows, K, M, want; } r2[] = {
        { 24576, 4096, 8, 0 }, { 24576, 4096, 9, 1 }, { 5120, 4096, 16, 1 }, { 4096, 4096, 32, 0 },
        { 5120, 25600, 5, 1 },  { 5120, 25600, 4, 0 }, { 5136, 4096, 16, 0 },
    };
    for (size_t i = 0; i < sizeof r2 / sizeof r2[0]; i++)
        CHECK(gpu_kq_r2(r2[i].rows, r2[i].K, r2[i].M, 132) == r2[i].want, "r2 at %d rows x %d, M %d: want %d",
              r2[i].rows, r2[i].K, r2[i].M, r2[i].want);
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    // The golden model: synth tiny f32 seed 1 (the tokenizer does not change the weights, so none is written).
    snprintf(tiny_path, sizeof tiny_path, "build/tests/test_cpu_tiny_%d.gguf", (int)getpid());
    char err[512];
    SynthOptions o = { .size = "tiny", .type = "f32", .seed = 1, .out = tiny_path, .tokenizer_json = "" };
    tiny = xmalloc(sizeof *tiny);
    if (synth_write(&o, err, sizeof err) || qwen3_load(tiny, tiny_path, err, sizeof err)) {
        printf("cannot make the tiny model: %s\n", err);
        free(tiny);
        tiny = NULL;
    }
    RUN(rmsnorm_vs_double);
    RUN(rope_vs_double);
    RUN(attention_vs_double);
    RUN(forward_vs_double);
    RUN(forward_vs_double_untied);
    RUN(chunked_equals_whole_equals_decode);
    RUN(batched_decode_equals_separate);
    RUN(mixed_step_equals_separate);
    RUN(kv_overflow);
    RUN(free_seq_restarts);
    RUN(golden);
    RUN(env_int_values);
    RUN(kq_rows_rule);
    if (tiny) { qwen3_free(tiny); free(tiny); }
    unlink(tiny_path);
    return test_end();
}
