// model.c — the Qwen3 model as a GGUF describes it: the config from qwen3.* metadata (llama.cpp's keys and
// defaults), every tensor found by llama.cpp's name and checked for shape and type before anyone touches it.
// defines: qwen3_load, qwen3_free, qwen3_print_config
#include "model.h"
#include "../gguf/quants.h"
#include "util.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// Generous sanity limits: far above any Qwen3 (32B: dim 5120, ffn 25600, 64 heads), low enough that products
// such as dim * ffn_dim or vocab * dim cannot overflow an int64 and a hostile header cannot ask for absurd work.
#define MAX_DIM      65536
#define MAX_FFN      (1 << 20)
#define MAX_HEADS    1024
#define MAX_HEAD_DIM 1024
#define MAX_VOCAB    (1 << 24)
#define MAX_CTX      (1 << 24)

static int fail(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

// Reads an integer key; missing keys take def (def < 0: required). Returns -1 with a message on error.
static int get_int(const GGUFFile *f, const char *key, long long def, long long lo, long long hi, int *out,
                   char *err, size_t errlen) {
    uint64_t v;
    if (!gguf_find_kv(f, key)) {
        if (def < 0) return fail(err, errlen, "%s: missing key '%s'", f->path, key);
        *out = (int)def;
        return 0;
    }
    if (gguf_get_u64(f, key, &v)) return fail(err, errlen, "%s: key '%s' is not a non-negative integer", f->path, key);
    if ((long long)v < lo || v > (uint64_t)hi)
        return fail(err, errlen, "%s: key '%s' = %llu is outside [%lld, %lld]", f->path, key,
                    (unsigned long long)v, lo, hi);
    *out = (int)v;
    return 0;
}

static int get_float(const GGUFFile *f, const char *key, double def, float *out, char *err, size_t errlen) {
    if (!gguf_find_kv(f, key)) {
        if (def < 0) return fail(err, errlen, "%s: missing key '%s'", f->path, key);
        *out = (float)def;
        return 0;
    }
    if (gguf_get_f32(f, key, out)) return fail(err, errlen, "%s: key '%s' is not a float", f->path, key);
    if (!(*out > 0) || *out > 1e30f) return fail(err, errlen, "%s: key '%s' = %g must be positive", f->path, key, *out);
    return 0;
}

static void fmt_shape(char *buf, size_t n, int n_dims, const int64_t *ne) {
    int k = snprintf(buf, n, "[");
    for (int i = 0; i < n_dims && k < (int)n; i++) k += snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)ne[i]);
    if (k < (int)n) snprintf(buf + k, n - k, "]");
}

// Finds the tensor and checks its shape (ggml order; ne1 == 0 means a vector) and type. optional: NULL if absent.
static int find(const GGUFFile *f, const char *name, int64_t ne0, int64_t ne1, int optional, const GGUFTensor **out,
                char *err, size_t errlen) {
    const GGUFTensor *t = gguf_find_tensor(f, name);
    *out = t;
    if (!t) return optional ? 0 : fail(err, errlen, "%s: tensor '%s' is missing", f->path, name);
    int want_dims = ne1 ? 2 : 1;
    int64_t want[2] = { ne0, ne1 };
    int ok = 1;
    // Trailing dimensions of 1 are harmless (ggml pads ne[] with 1s); anything else must match exactly.
    for (int i = 0; i < 4; i++) ok &= t->ne[i] == (i < want_dims ? want[i] : 1);
    if (!ok) {
        char got[96], exp[96];
        fmt_shape(got, sizeof got, (int)t->n_dims, t->ne);
        fmt_shape(exp, sizeof exp, want_dims, want);
        return fail(err, errlen, "%s: tensor '%s' has shape %s, expected %s", f->path, name, got, exp);
    }
    if (!gguf_type_supported(t->type))
        return fail(err, errlen, "%s: tensor '%s' has unsupported type %s", f->path, name, gguf_type_name(t->type));
    int bs = ggml_blck_size(t->type);
    if (bs <= 0 || t->ne[0] % bs)
        return fail(err, errlen, "%s: tensor '%s' of type %s has rows of %lld elements, not a multiple of its block "
                    "size %d", f->path, name, gguf_type_name(t->type), (long long)t->ne[0], bs);
    return 0;
}

static int load_config(Qwen3Model *m, char *err, size_t errlen) {
    const GGUFFile *f = &m->gguf;
    Qwen3Config *c = &m->cfg;
    GGUFStr arch;
    if (gguf_get_str(f, "general.architecture", &arch))
        return fail(err, errlen, "%s: missing key 'general.architecture' (not a model file?)", f->path);
    if (arch.len != 5 || memcmp(arch.ptr, "qwen3", 5))
        return fail(err, errlen, "%s: architecture is '%.*s', expected 'qwen3'", f->path,
                    (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    // llama.cpp requires block_count, context_length, embedding_length and the RMS epsilon; it defaults
    // head_count_kv to head_count, key/value_length to dim/head_count and the RoPE base to 10000.
    // feed_forward_length and head_count are optional there, but a Qwen3 without them is meaningless.
    if (get_int(f, "qwen3.block_count", -1, 1, QWEN3_MAX_LAYERS, &c->n_layer, err, errlen) ||
        get_int(f, "qwen3.context_length", -1, 1, MAX_CTX, &c->ctx_len, err, errlen) ||
        get_int(f, "qwen3.embedding_length", -1, 1, MAX_DIM, &c->dim, err, errlen) ||
        get_int(f, "qwen3.feed_forward_length", -1, 1, MAX_FFN, &c->ffn_dim, err, errlen) ||
        get_int(f, "qwen3.attention.head_count", -1, 1, MAX_HEADS, &c->n_head, err, errlen) ||
        get_int(f, "qwen3.attention.head_count_kv", c->n_head, 1, MAX_HEADS, &c->n_kv_head, err, errlen) ||
        get_int(f, "qwen3.attention.key_length", c->dim / c->n_head, 2, MAX_HEAD_DIM, &c->head_dim, err, errlen))
        return -1;
    int v_len;
    if (get_int(f, "qwen3.attention.value_length", c->head_dim, 1, MAX_HEAD_DIM, &v_len, err, errlen)) return -1;
    if (v_len != c->head_dim)
        return fail(err, errlen, "%s: qwen3.attention.value_length (%d) differs from key_length (%d)", f->path, v_len,
                    c->head_dim);
    if (c->head_dim % 2) return fail(err, errlen, "%s: head dimension %d is odd (RoPE rotates pairs)", f->path, c->head_dim);
    if (c->n_head % c->n_kv_head)
        return fail(err, errlen, "%s: head_count %d is not a multiple of head_count_kv %d", f->path, c->n_head,
                    c->n_kv_head);
    if (get_float(f, "qwen3.rope.freq_base", 10000.0, &c->rope_base, err, errlen) ||
        get_float(f, "qwen3.attention.layer_norm_rms_epsilon", -1, &c->rms_eps, err, errlen))
        return -1;
    if (c->rms_eps > 1.0f) return fail(err, errlen, "%s: RMS epsilon %g is implausible", f->path, c->rms_eps);
    return 0;
}

static int load_tensors(Qwen3Model *m, char *err, size_t errlen) {
    const GGUFFile *f = &m->gguf;
    Qwen3Config *c = &m->cfg;
    const GGUFTensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return fail(err, errlen, "%s: tensor 'token_embd.weight' is missing", f->path);
    // The vocabulary size is whatever the embedding holds (151936 for Qwen3: the tokenizer's 151669 padded).
    if (emb->n_dims != 2 || emb->ne[1] < 1 || emb->ne[1] > MAX_VOCAB) {
        char got[96];
        fmt_shape(got, sizeof got, (int)emb->n_dims, emb->ne);
        return fail(err, errlen, "%s: tensor 'token_embd.weight' has shape %s, expected [%d, vocab]", f->path, got, c->dim);
    }
    c->vocab = (int)emb->ne[1];
    const int q_dim = c->n_head * c->head_dim, kv_dim = c->n_kv_head * c->head_dim;
    if (find(f, "token_embd.weight", c->dim, c->vocab, 0, &m->tok_embd, err, errlen) ||
        find(f, "output_norm.weight", c->dim, 0, 0, &m->output_norm, err, errlen) ||
        find(f, "output.weight", c->dim, c->vocab, 1, &m->output, err, errlen))
        return -1;
    c->tied = m->output == NULL;
    if (c->tied) m->output = m->tok_embd;
    for (int l = 0; l < c->n_layer; l++) {
        Qwen3Layer *L = &m->layer[l];
        struct { const char *name; int64_t ne0, ne1; const GGUFTensor **dst; } want[] = {
            { "attn_norm",   c->dim,      0,          &L->attn_norm },
            { "attn_q",      c->dim,      q_dim,      &L->wq },
            { "attn_k",      c->dim,      kv_dim,     &L->wk },
            { "attn_v",      c->dim,      kv_dim,     &L->wv },
            { "attn_q_norm", c->head_dim, 0,          &L->q_norm },
            { "attn_k_norm", c->head_dim, 0,          &L->k_norm },
            { "attn_output", q_dim,       c->dim,     &L->wo },
            { "ffn_norm",    c->dim,      0,          &L->ffn_norm },
            { "ffn_gate",    c->dim,      c->ffn_dim, &L->w_gate },
            { "ffn_up",      c->dim,      c->ffn_dim, &L->w_up },
            { "ffn_down",    c->ffn_dim,  c->dim,     &L->w_down },
        };
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, want[i].name);
            if (find(f, name, want[i].ne0, want[i].ne1, 0, want[i].dst, err, errlen)) return -1;
        }
    }
    // A block beyond block_count means the metadata and the tensors disagree: refuse rather than ignore weights.
    char extra[64];
    snprintf(extra, sizeof extra, "blk.%d.attn_q.weight", c->n_layer);
    if (gguf_find_tensor(f, extra))
        return fail(err, errlen, "%s: tensor '%s' exists but qwen3.block_count is %d", f->path, extra, c->n_layer);
    return 0;
}

int qwen3_load(Qwen3Model *m, const char *path, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    if (gguf_open(&m->gguf, path, err, errlen)) return -1;
    if (load_config(m, err, errlen) || load_tensors(m, err, errlen)) {
        gguf_close(&m->gguf);
        memset(m, 0, sizeof *m);
        return -1;
    }
    return 0;
}

void qwen3_free(Qwen3Model *m) {
    if (m->gguf.map || m->gguf.kv || m->gguf.tensors) gguf_close(&m->gguf);
    memset(m, 0, sizeof *m);
}

void qwen3_print_config(const Qwen3Config *c, FILE *out) {
    fprintf(out, "qwen3: %d layers, dim %d, ffn %d, heads %d/%d (q/kv) x %d, vocab %d, ctx %d, rope base %g, "
                 "rms eps %g, %s head\n", c->n_layer, c->dim, c->ffn_dim, c->n_head, c->n_kv_head, c->head_dim,
            c->vocab, c->ctx_len, c->rope_base, c->rms_eps, c->tied ? "tied" : "untied");
}
