// test_model.c — qwen3_load: the config read from metadata (with llama.cpp's defaults), tied-head detection,
// and the one-line error for every wrong architecture, missing key, missing tensor and wrong shape.
// Small random Qwen3-shaped GGUFs are written with the GGUF writer into build/tests/.
#include "test.h"
#include "../host/model.h"
#include "../host/synth.h"
#include "../host/util.h"
#include "../gguf/gguf.h"
#include <unistd.h>

typedef struct { int n_layer, dim, ffn, n_head, n_kv, head_dim, vocab, ctx, tied; float rope, eps; } Cfg;

// Mutations applied while writing: a key or tensor to leave out, a tensor to reshape, keys to override.
typedef struct {
    const char *arch;           // general.architecture (default "qwen3")
    const char *skip_key;       // leave this key out
    const char *skip_tensor;    // leave this tensor out
    const char *bad_tensor;     // this tensor gets ne1 + 16 (or ne0 + 16 for vectors)
    const char *extra_tensor;   // add this tensor (a (dim, dim) matrix)
    int value_length;           // override qwen3.attention.value_length (0: head_dim)
} Mut;

static Rng rng;
static char path_buf[256];

static Cfg random_cfg(void) {
    Cfg c;
    c.n_layer = 1 + (int)(rng_u64(&rng) % 3);
    c.n_kv = 1 + (int)(rng_u64(&rng) % 2);
    c.n_head = c.n_kv * (1 + (int)(rng_u64(&rng) % 3));
    c.head_dim = 16 * (1 + (int)(rng_u64(&rng) % 2));
    c.dim = 32 * (1 + (int)(rng_u64(&rng) % 3));
    c.ffn = 32 * (2 + (int)(rng_u64(&rng) % 3));
    c.vocab = 50 + (int)(rng_u64(&rng) % 100);
    c.ctx = 1000 + (int)(rng_u64(&rng) % 5000);
    c.rope = 1000.0f * (1 + (int)(rng_u64(&rng) % 1000));
    c.eps = 1e-6f * (1 + (int)(rng_u64(&rng) % 9));
    c.tied = (int)(rng_u64(&rng) % 2);
    return c;
}

static void add_tensor(GGUFWriter *w, const Mut *mu, const char *name, int64_t ne0, int64_t ne1) {
    if (mu->skip_tensor && !strcmp(name, mu->skip_tensor)) return;
    if (mu->bad_tensor && !strcmp(name, mu->bad_tensor)) { if (ne1) ne1 += 16; else ne0 += 16; }
    int64_t ne[2] = { ne0, ne1 };
    gguf_writer_tensor_info(w, name, GGML_TYPE_F32, ne1 ? 2 : 1, ne);
}

// Writes the model; tensor data are random (never zeros). Returns the path.
static const char *write_model(const Cfg *c, const Mut *mu) {
    snprintf(path_buf, sizeof path_buf, "build/tests/test_model_%d.gguf", (int)getpid());
    char err[256];
    GGUFWriter *w = gguf_writer_open(path_buf, err, sizeof err);
    if (!w) { printf("  cannot write %s: %s\n", path_buf, err); exit(1); }
    const char *arch = mu->arch ? mu->arch : "qwen3";
    gguf_writer_kv_str(w, "general.architecture", arch, strlen(arch));
#define KV_U32(k, v) if (!mu->skip_key || strcmp(mu->skip_key, k)) gguf_writer_kv_u32(w, k, (uint32_t)(v))
#define KV_F32(k, v) if (!mu->skip_key || strcmp(mu->skip_key, k)) gguf_writer_kv_f32(w, k, v)
    KV_U32("qwen3.block_count", c->n_layer);
    KV_U32("qwen3.context_length", c->ctx);
    KV_U32("qwen3.embedding_length", c->dim);
    KV_U32("qwen3.feed_forward_length", c->ffn);
    KV_U32("qwen3.attention.head_count", c->n_head);
    KV_U32("qwen3.attention.head_count_kv", c->n_kv);
    KV_F32("qwen3.rope.freq_base", c->rope);
    KV_F32("qwen3.attention.layer_norm_rms_epsilon", c->eps);
    KV_U32("qwen3.attention.key_length", c->head_dim);
    KV_U32("qwen3.attention.value_length", mu->value_length ? mu->value_length : c->head_dim);
    // The tensor list, then the data in the same order (the writer remembers sizes).
    char names[16 * 12][64];
    int64_t shapes[16 * 12][2];
    int n = 0;
#define T(nm, a, b) do { snprintf(names[n], 64, "%s", nm); shapes[n][0] = (a); shapes[n][1] = (b); n++; } while (0)
    int q = c->n_head * c->head_dim, kv = c->n_kv * c->head_dim;
    T("token_embd.weight", c->dim, c->vocab);
    for (int l = 0; l < c->n_layer; l++) {
        char b[64];
#define B(s) (snprintf(b, sizeof b, "blk.%d.%s.weight", l, s), b)
        T(B("attn_norm"), c->dim, 0);      T(B("attn_q"), c->dim, q);       T(B("attn_k"), c->dim, kv);
        T(B("attn_v"), c->dim, kv);        T(B("attn_q_norm"), c->head_dim, 0); T(B("attn_k_norm"), c->head_dim, 0);
        T(B("attn_output"), q, c->dim);    T(B("ffn_norm"), c->dim, 0);     T(B("ffn_gate"), c->dim, c->ffn);
        T(B("ffn_up"), c->dim, c->ffn);    T(B("ffn_down"), c->ffn, c->dim);
#undef B
    }
    T("output_norm.weight", c->dim, 0);
    if (!c->tied) T("output.weight", c->dim, c->vocab);
    if (mu->extra_tensor) T(mu->extra_tensor, c->dim, c->dim);
    for (int i = 0; i < n; i++) add_tensor(w, mu, names[i], shapes[i][0], shapes[i][1]);
    gguf_writer_begin_data(w);
    for (int i = 0; i < n; i++) {
        if (mu->skip_tensor && !strcmp(names[i], mu->skip_tensor)) continue;
        int64_t ne0 = shapes[i][0], ne1 = shapes[i][1];
        if (mu->bad_tensor && !strcmp(names[i], mu->bad_tensor)) { if (ne1) ne1 += 16; else ne0 += 16; }
        size_t cnt = (size_t)ne0 * (ne1 ? ne1 : 1);
        float *d = xmalloc(cnt * sizeof(float));
        for (size_t j = 0; j < cnt; j++) d[j] = (float)rng_uniform(&rng) * 2 - 1;
        gguf_writer_write(w, d, cnt * sizeof(float));
        free(d);
    }
    if (gguf_writer_close(w, err, sizeof err)) { printf("  writer: %s\n", err); exit(1); }
#undef T
#undef KV_U32
#undef KV_F32
    return path_buf;
}

// Loads and expects failure with a message containing want (and the file name).
static void expect_error(const Cfg *c, const Mut *mu, const char *want) {
    const char *p = write_model(c, mu);
    Qwen3Model *m = xmalloc(sizeof *m);
    char err[512] = "";
    int rc = qwen3_load(m, p, err, sizeof err);
    CHECK(rc == -1, "load of a broken model succeeded (wanted '%s')", want);
    CHECK(strstr(err, want) != NULL, "error '%s' does not contain '%s'", err, want);
    CHECK(strstr(err, p) != NULL, "error '%s' does not name the file", err);
    CHECK(!strchr(err, '\n'), "error is not one line: '%s'", err);
    if (rc == 0) qwen3_free(m);
    free(m);
    unlink(p);
}

static void config_read(void) {
    for (int iter = 0; iter < 6; iter++) {
        Cfg c = random_cfg();
        Mut mu = { 0 };
        const char *p = write_model(&c, &mu);
        Qwen3Model *m = xmalloc(sizeof *m);
        char err[512];
        int rc = qwen3_load(m, p, err, sizeof err);
        CHECK(rc == 0, "load: %s", err);
        if (rc == 0) {
            const Qwen3Config *k = &m->cfg;
            CHECK(k->n_layer == c.n_layer && k->dim == c.dim && k->ffn_dim == c.ffn && k->n_head == c.n_head &&
                  k->n_kv_head == c.n_kv && k->head_dim == c.head_dim && k->vocab == c.vocab && k->ctx_len == c.ctx,
                  "config mismatch: got %d/%d/%d/%d/%d/%d/%d/%d", k->n_layer, k->dim, k->ffn_dim, k->n_head,
                  k->n_kv_head, k->head_dim, k->vocab, k->ctx_len);
            CHECK(k->rope_base == c.rope && k->rms_eps == c.eps, "rope %g eps %g", k->rope_base, k->rms_eps);
            CHECK(k->tied == c.tied, "tied %d, wrote %d", k->tied, c.tied);
            CHECK(c.tied ? m->output == m->tok_embd : m->output != m->tok_embd && m->output != NULL, "output pointer");
            const GGUFTensor *t = m->layer[c.n_layer - 1].w_down;
            char want[64];
            snprintf(want, sizeof want, "blk.%d.ffn_down.weight", c.n_layer - 1);
            CHECK(t && !strcmp(t->name, want), "last layer's ffn_down is %s", t ? t->name : "NULL");
            CHECK(m->layer[0].k_norm && m->layer[0].k_norm->ne[0] == c.head_dim, "k_norm");
            qwen3_free(m);
        }
        free(m);
        unlink(p);
    }
}

static void defaults(void) {  // llama.cpp's defaults for optional keys
    Cfg c = random_cfg();
    c.head_dim = c.dim / c.n_head;
    if (c.head_dim % 2) { c.dim = 32 * c.n_head; c.head_dim = 32; }
    Mut mu = { .skip_key = "qwen3.rope.freq_base" };
    const char *p = write_model(&c, &mu);
    Qwen3Model *m = xmalloc(sizeof *m);
    char err[512];
    CHECK(qwen3_load(m, p, err, sizeof err) == 0, "%s", err);
    CHECK(m->cfg.rope_base == 10000.0f, "default rope base %g", m->cfg.rope_base);
    qwen3_free(m);
    unlink(p);
    mu.skip_key = "qwen3.attention.head_count_kv";
    c.n_kv = c.n_head;
    p = write_model(&c, &mu);
    CHECK(qwen3_load(m, p, err, sizeof err) == 0, "%s", err);
    CHECK(m->cfg.n_kv_head == m->cfg.n_head, "default head_count_kv %d", m->cfg.n_kv_head);
    qwen3_free(m);
    unlink(p);
    free(m);
}

static void wrong_arch(void) {
    Cfg c = random_cfg();
    Mut mu = { .arch = "llama" };
    expect_error(&c, &mu, "architecture is 'llama', expected 'qwen3'");
}

static void missing_keys(void) {
    const char *keys[] = { "qwen3.block_count", "qwen3.embedding_length", "qwen3.context_length",
                           "qwen3.feed_forward_length", "qwen3.attention.head_count",
                           "qwen3.attention.layer_norm_rms_epsilon" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        Cfg c = random_cfg();
        Mut mu = { .skip_key = keys[i] };
        char want[128];
        snprintf(want, sizeof want, "missing key '%s'", keys[i]);
        expect_error(&c, &mu, want);
    }
}

static void missing_tensors(void) {
    const char *parts[] = { "attn_norm", "attn_q", "attn_k", "attn_v", "attn_q_norm", "attn_k_norm", "attn_output",
                            "ffn_norm", "ffn_gate", "ffn_up", "ffn_down" };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        Cfg c = random_cfg();
        char name[64], want[128];
        snprintf(name, sizeof name, "blk.%d.%s.weight", (int)(rng_u64(&rng) % c.n_layer), parts[i]);
        snprintf(want, sizeof want, "tensor '%s' is missing", name);
        Mut mu = { .skip_tensor = name };
        expect_error(&c, &mu, want);
    }
    Cfg c = random_cfg();
    Mut mu = { .skip_tensor = "output_norm.weight" };
    expect_error(&c, &mu, "tensor 'output_norm.weight' is missing");
    mu.skip_tensor = "token_embd.weight";
    expect_error(&c, &mu, "tensor 'token_embd.weight' is missing");
}

static void wrong_shapes(void) {
    const char *parts[] = { "attn_norm", "attn_q", "attn_k", "attn_v", "attn_q_norm", "attn_k_norm", "attn_output",
                            "ffn_norm", "ffn_gate", "ffn_up", "ffn_down" };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        Cfg c = random_cfg();
        int q = c.n_head * c.head_dim, kv = c.n_kv * c.head_dim;
        int64_t exp[11][2] = { { c.dim, 0 }, { c.dim, q }, { c.dim, kv }, { c.dim, kv }, { c.head_dim, 0 },
                               { c.head_dim, 0 }, { q, c.dim }, { c.dim, 0 }, { c.dim, c.ffn }, { c.dim, c.ffn },
                               { c.ffn, c.dim } };
        char name[64], want[192];
        snprintf(name, sizeof name, "blk.%d.%s.weight", (int)(rng_u64(&rng) % c.n_layer), parts[i]);
        if (exp[i][1])
            snprintf(want, sizeof want, "tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", name,
                     (long long)exp[i][0], (long long)exp[i][1] + 16, (long long)exp[i][0], (long long)exp[i][1]);
        else
            snprintf(want, sizeof want, "tensor '%s' has shape [%lld], expected [%lld]", name,
                     (long long)exp[i][0] + 16, (long long)exp[i][0]);
        Mut mu = { .bad_tensor = name };
        expect_error(&c, &mu, want);
    }
    Cfg c = random_cfg();
    c.tied = 0;
    char want[160];
    snprintf(want, sizeof want, "tensor 'output.weight' has shape [%d, %d], expected [%d, %d]", c.dim, c.vocab + 16,
             c.dim, c.vocab);
    Mut mu = { .bad_tensor = "output.weight" };
    expect_error(&c, &mu, want);
    snprintf(want, sizeof want, "tensor 'output_norm.weight' has shape [%d], expected [%d]", c.dim + 16, c.dim);
    mu.bad_tensor = "output_norm.weight";
    expect_error(&c, &mu, want);
}

static void inconsistent_config(void) {
    Cfg c = random_cfg();
    Mut mu = { .value_length = c.head_dim * 2 };
    expect_error(&c, &mu, "value_length");
    c = random_cfg();
    c.n_kv = 3; c.n_head = 4;  // 4 query heads cannot share 3 kv heads
    Mut none = { 0 };
    expect_error(&c, &none, "not a multiple of head_count_kv");
    c = random_cfg();
    Mut extra = { .extra_tensor = NULL };
    char name[64];
    snprintf(name, sizeof name, "blk.%d.attn_q.weight", c.n_layer);
    extra.extra_tensor = name;
    expect_error(&c, &extra, "exists but qwen3.block_count");
}

static void not_a_file(void) {
    Qwen3Model *m = xmalloc(sizeof *m);
    char err[512] = "";
    CHECK(qwen3_load(m, "build/tests/does-not-exist.gguf", err, sizeof err) == -1, "loaded a missing file");
    CHECK(strstr(err, "does-not-exist.gguf") != NULL, "error '%s' does not name the file", err);
    free(m);
}

static void synth_tiny_loads(void) {  // the synth writer and the loader agree (all types, no tokenizer)
    const char *types[] = { "f32", "bf16", "q8_0", "q4_k_m" };
    const char *t = types[rng_u64(&rng) % 4];
    char p[256], err[512];
    snprintf(p, sizeof p, "build/tests/test_model_synth_%d.gguf", (int)getpid());
    SynthOptions o = { .size = "tiny", .type = t, .seed = t_seed, .out = p, .tokenizer_json = "" };
    CHECK(synth_write(&o, err, sizeof err) == 0, "synth %s: %s", t, err);
    Qwen3Model *m = xmalloc(sizeof *m);
    Qwen3Config want;
    synth_config("tiny", &want);
    CHECK(qwen3_load(m, p, err, sizeof err) == 0, "%s", err);
    CHECK(m->cfg.n_layer == want.n_layer && m->cfg.dim == want.dim && m->cfg.vocab == want.vocab &&
          m->cfg.tied == want.tied && m->cfg.rope_base == want.rope_base, "tiny %s config differs", t);
    printf("  tiny %s: ", t);
    qwen3_print_config(&m->cfg, stdout);
    qwen3_free(m);
    free(m);
    unlink(p);
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    RUN(config_read);
    RUN(defaults);
    RUN(wrong_arch);
    RUN(missing_keys);
    RUN(missing_tensors);
    RUN(wrong_shapes);
    RUN(inconsistent_config);
    RUN(not_a_file);
    RUN(synth_tiny_loads);
    return test_end();
}
