// gguf_xcheck.c — the C side of tests/t_gguf_py.sh, the independent checks of our GGUF layer against llama.cpp.
//   gguf_xcheck gen DIR SEED   writes DIR/xcheck.gguf with our writer: metadata of every value type (the values
//                              also go to DIR/expected.json, strings as hex) and, per tensor type, random blocks
//                              "raw.T" next to our dequantization "deq.T"; plus f32 rows "src" and our Q8_0,
//                              BF16 and F16 encodings of them. tests/gguf_py_check.py reads it with gguf-py.
//   gguf_xcheck ggml SEED      (built with -DWITH_GGML and llama.cpp's ggml-quants.c) compares our quantizers and
//                              dequantizers with ggml's reference C code on the same inputs; prints PASS/FAIL.
#include "../gguf/gguf.h"
#include "../gguf/quants.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs;
static uint64_t rnd(void) {   // splitmix64
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unif(void) { return (rnd() >> 11) * (1.0 / 9007199254740992.0); }
static float gauss(void) { return (float)(sqrt(-2 * log(unif() + 1e-300)) * cos(6.283185307179586 * unif())); }

static void *xmalloc_(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "gguf_xcheck: out of memory\n"); exit(2); }
    return p;
}

// Random blocks: random bytes everywhere except the f16 scale fields, which get finite values of random sign
// and magnitude (random bits would mostly be fine too, but NaN scales make the comparison meaningless).
static void random_blocks(uint32_t t, uint8_t *p, int64_t n_elems) {
    size_t bytes = ggml_row_bytes(t, n_elems), bs = ggml_type_size(t);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)rnd();
    if (t == GGML_TYPE_F32) {
        for (int64_t i = 0; i < n_elems; i++) { float v = gauss() * (float)pow(10, (int)(rnd() % 8) - 4); memcpy(p + 4 * i, &v, 4); }
        return;
    }
    if (t == GGML_TYPE_F16 || t == GGML_TYPE_BF16) return;   // every bit pattern, NaN and Inf included
    size_t nb = bytes / bs;
    for (size_t b = 0; b < nb; b++) {
        uint8_t *blk = p + b * bs;
        uint16_t h1 = f32_to_f16(gauss() * (float)ldexp(1, (int)(rnd() % 12) - 10));
        uint16_t h2 = f32_to_f16(fabsf(gauss()) * (float)ldexp(1, (int)(rnd() % 12) - 10));
        if (rnd() % 16 == 0) h1 = (uint16_t)(rnd() % 1024);   // a subnormal scale now and then
        size_t at = t == GGML_TYPE_Q6_K ? 208 : 0;
        memcpy(blk + at, &h1, 2);
        if (t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q5_K) memcpy(blk + 2, &h2, 2);
    }
}

#ifndef WITH_GGML
// ---------------------------------------------------------------- gen: the file gguf-py reads

static const uint32_t types[] = { GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0,
                                  GGML_TYPE_Q5_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K };
#define N_TYPES (int)(sizeof types / sizeof types[0])


static FILE *js;
static int js_first;

static void js_hex(const void *p, size_t n) {
    fputc('"', js);
    for (size_t i = 0; i < n; i++) fprintf(js, "%02x", ((const uint8_t *)p)[i]);
    fputc('"', js);
}
static void js_key(const char *key, uint32_t vt, uint32_t at) {
    fprintf(js, "%s\n  {\"key\": \"%s\", \"type\": %u, \"arr_type\": %u, \"value\": ", js_first ? "" : ",", key, vt, at);
    js_first = 0;
}
// One scalar as JSON: integers exactly, floats with enough digits to round-trip.
static void js_scalar(uint32_t vt, const uint8_t *p) {
    switch (vt) {
    case GGUF_VT_UINT8: fprintf(js, "%u", p[0]); break;
    case GGUF_VT_INT8: fprintf(js, "%d", (int8_t)p[0]); break;
    case GGUF_VT_BOOL: fprintf(js, "%s", p[0] ? "true" : "false"); break;
    case GGUF_VT_UINT16: { uint16_t v; memcpy(&v, p, 2); fprintf(js, "%u", v); break; }
    case GGUF_VT_INT16: { int16_t v; memcpy(&v, p, 2); fprintf(js, "%d", v); break; }
    case GGUF_VT_UINT32: { uint32_t v; memcpy(&v, p, 4); fprintf(js, "%u", v); break; }
    case GGUF_VT_INT32: { int32_t v; memcpy(&v, p, 4); fprintf(js, "%d", v); break; }
    case GGUF_VT_UINT64: { uint64_t v; memcpy(&v, p, 8); fprintf(js, "%llu", (unsigned long long)v); break; }
    case GGUF_VT_INT64: { int64_t v; memcpy(&v, p, 8); fprintf(js, "%lld", (long long)v); break; }
    case GGUF_VT_FLOAT32: { float v; memcpy(&v, p, 4); fprintf(js, "%.9g", v); break; }
    case GGUF_VT_FLOAT64: { double v; memcpy(&v, p, 8); fprintf(js, "%.17g", v); break; }
    }
}

static void rand_value(uint32_t vt, uint8_t *out) {
    for (uint64_t i = 0; i < gguf_vtype_size(vt); i++) out[i] = (uint8_t)rnd();
    if (vt == GGUF_VT_BOOL) out[0] &= 1;
    if (vt == GGUF_VT_FLOAT32) { float f = gauss() * 1e3f; memcpy(out, &f, 4); }
    if (vt == GGUF_VT_FLOAT64) { double d = gauss() * 1e200; memcpy(out, &d, 8); }
}

static const char *strs[] = { "", "qwen3", "日本語", "Ġhello", "emoji 😀", "a\"quote\\back", "<|im_start|>", "\xe2\x96\x81x" };
#define N_STRS (int)(sizeof strs / sizeof strs[0])

static int gen(const char *dir) {
    char path[1024], jpath[1024], err[512];
    snprintf(path, sizeof path, "%s/xcheck.gguf", dir);
    snprintf(jpath, sizeof jpath, "%s/expected.json", dir);
    GGUFWriter *w = gguf_writer_open(path, err, sizeof err);
    js = fopen(jpath, "w");
    if (!w || !js) { fprintf(stderr, "gguf_xcheck: %s\n", w ? jpath : err); return 1; }
    fprintf(js, "{\"kv\": [");
    js_first = 1;
    const uint32_t scalars[] = { GGUF_VT_UINT8, GGUF_VT_INT8, GGUF_VT_UINT16, GGUF_VT_INT16, GGUF_VT_UINT32,
                                 GGUF_VT_INT32, GGUF_VT_FLOAT32, GGUF_VT_BOOL, GGUF_VT_UINT64, GGUF_VT_INT64,
                                 GGUF_VT_FLOAT64 };
    char key[128];
    for (int i = 0; i < 11; i++) {
        uint8_t v[8];
        rand_value(scalars[i], v);
        snprintf(key, sizeof key, "xcheck.scalar.%s", gguf_vtype_name(scalars[i]));
        gguf_writer_kv_scalar(w, key, scalars[i], v);
        js_key(key, scalars[i], 0);
        js_scalar(scalars[i], v);
        fputc('}', js);
    }
    for (int i = 0; i < 11; i++) {
        uint64_t n = i == 5 ? 0 : 1 + rnd() % 40;
        uint8_t *v = xmalloc_(n * 8);
        for (uint64_t j = 0; j < n; j++) rand_value(scalars[i], v + j * gguf_vtype_size(scalars[i]));
        snprintf(key, sizeof key, "xcheck.array.%s", gguf_vtype_name(scalars[i]));
        gguf_writer_kv_arr(w, key, scalars[i], v, n);
        js_key(key, GGUF_VT_ARRAY, scalars[i]);
        fputc('[', js);
        for (uint64_t j = 0; j < n; j++) { if (j) fputc(',', js); js_scalar(scalars[i], v + j * gguf_vtype_size(scalars[i])); }
        fputs("]}", js);
        free(v);
    }
    for (int i = 0; i < N_STRS; i++) {
        snprintf(key, sizeof key, "xcheck.string.%d", i);
        gguf_writer_kv_str(w, key, strs[i], strlen(strs[i]));
        js_key(key, GGUF_VT_STRING, 0);
        js_hex(strs[i], strlen(strs[i]));
        fputc('}', js);
    }
    {
        enum { NS = 3000 };
        const char **s = xmalloc_(NS * sizeof *s);
        for (int j = 0; j < NS; j++) s[j] = strs[rnd() % N_STRS];
        gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", s, NULL, NS);
        js_key("tokenizer.ggml.tokens", GGUF_VT_ARRAY, GGUF_VT_STRING);
        fputc('[', js);
        for (int j = 0; j < NS; j++) { if (j) fputc(',', js); js_hex(s[j], strlen(s[j])); }
        fputs("]}", js);
        free(s);
    }
    gguf_writer_set_alignment(w, 64);   // writes general.alignment: a non-default alignment gguf-py must honour
    js_key("general.alignment", GGUF_VT_UINT32, 0);
    fputs("64}", js);
    fprintf(js, "\n], \"tensors\": [");

    // Tensors: raw.T (random blocks) and deq.T (ours, f32) per type; src + our Q8_0/BF16/F16 encodings.
    enum { ROWS = 24 };
    const int64_t cols = 256 * 4;
    uint8_t *raw[N_TYPES];
    float *deq[N_TYPES];
    for (int k = 0; k < N_TYPES; k++) {
        raw[k] = xmalloc_(ggml_row_bytes(types[k], cols) * ROWS);
        deq[k] = xmalloc_(sizeof(float) * (size_t)(cols * ROWS));
        random_blocks(types[k], raw[k], cols * ROWS);
        dequantize_row(types[k], raw[k], deq[k], cols * ROWS);
    }
    float *src = xmalloc_(sizeof(float) * (size_t)(cols * ROWS));
    for (int64_t i = 0; i < cols * ROWS; i++) src[i] = gauss() * (float)pow(10, (int)((i / cols) % 9) - 6);
    // A few special values for the conversions (not for the Q8_0 rows: NaN has no Q8_0 meaning).
    float *srcx = xmalloc_(sizeof(float) * (size_t)(cols * ROWS));
    memcpy(srcx, src, sizeof(float) * (size_t)(cols * ROWS));
    const float special[] = { NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 65504.0f, 65520.0f, 1e-8f, 6e-8f, 3e38f, 1e-40f };
    for (int i = 0; i < 12; i++) srcx[i * 7] = special[i];
    for (int64_t i = 12 * 7; i < cols * ROWS; i += 97) { uint32_t u = (uint32_t)rnd(); memcpy(&srcx[i], &u, 4); }
    uint8_t *q8 = xmalloc_(ggml_row_bytes(GGML_TYPE_Q8_0, cols) * ROWS);
    uint16_t *bf = xmalloc_(2 * (size_t)(cols * ROWS)), *hf = xmalloc_(2 * (size_t)(cols * ROWS));
    quantize_row(GGML_TYPE_Q8_0, src, q8, cols * ROWS);
    quantize_row(GGML_TYPE_BF16, srcx, bf, cols * ROWS);
    quantize_row(GGML_TYPE_F16, srcx, hf, cols * ROWS);

    int64_t ne[2] = { cols, ROWS };
    char name[64];
    int first = 1;
    for (int k = 0; k < N_TYPES; k++) {
        snprintf(name, sizeof name, "raw.%s", gguf_type_name(types[k]));
        gguf_writer_tensor_info(w, name, types[k], 2, ne);
        snprintf(name, sizeof name, "deq.%s", gguf_type_name(types[k]));
        gguf_writer_tensor_info(w, name, GGML_TYPE_F32, 2, ne);
        fprintf(js, "%s\"%s\"", first ? "" : ", ", gguf_type_name(types[k]));
        first = 0;
    }
    fprintf(js, "]}\n");
    fclose(js);
    gguf_writer_tensor_info(w, "src", GGML_TYPE_F32, 2, ne);
    gguf_writer_tensor_info(w, "srcx", GGML_TYPE_F32, 2, ne);
    gguf_writer_tensor_info(w, "ours.Q8_0", GGML_TYPE_Q8_0, 2, ne);
    gguf_writer_tensor_info(w, "ours.BF16", GGML_TYPE_BF16, 2, ne);
    gguf_writer_tensor_info(w, "ours.F16", GGML_TYPE_F16, 2, ne);
    gguf_writer_begin_data(w);
    for (int k = 0; k < N_TYPES; k++) {
        gguf_writer_write(w, raw[k], ggml_row_bytes(types[k], cols) * ROWS);
        gguf_writer_write(w, deq[k], sizeof(float) * (size_t)(cols * ROWS));
        free(raw[k]); free(deq[k]);
    }
    gguf_writer_write(w, src, sizeof(float) * (size_t)(cols * ROWS));
    gguf_writer_write(w, srcx, sizeof(float) * (size_t)(cols * ROWS));
    gguf_writer_write(w, q8, ggml_row_bytes(GGML_TYPE_Q8_0, cols) * ROWS);
    gguf_writer_write(w, bf, 2 * (size_t)(cols * ROWS));
    gguf_writer_write(w, hf, 2 * (size_t)(cols * ROWS));
    free(src); free(srcx); free(q8); free(bf); free(hf);
    if (gguf_writer_close(w, err, sizeof err)) { fprintf(stderr, "gguf_xcheck: %s\n", err); return 1; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 || strcmp(argv[1], "gen")) { fprintf(stderr, "usage: gguf_xcheck gen DIR SEED\n"); return 2; }
    rs = strtoull(argv[3], NULL, 10);
    return gen(argv[2]);
}

#else
// ---------------------------------------------------------------- ggml: our code vs ggml's reference C code
// Declared here rather than by including ggml's headers, so this file depends only on the symbols it uses.
void quantize_row_q8_0_ref(const float *x, void *y, int64_t k);
void quantize_row_q4_0_ref(const float *x, void *y, int64_t k);
void quantize_row_q5_0_ref(const float *x, void *y, int64_t k);
void quantize_row_q4_K_ref(const float *x, void *y, int64_t k);
void quantize_row_q5_K_ref(const float *x, void *y, int64_t k);
void quantize_row_q6_K_ref(const float *x, void *y, int64_t k);
void dequantize_row_q8_0(const void *x, float *y, int64_t k);
void dequantize_row_q4_0(const void *x, float *y, int64_t k);
void dequantize_row_q5_0(const void *x, float *y, int64_t k);
void dequantize_row_q4_K(const void *x, float *y, int64_t k);
void dequantize_row_q5_K(const void *x, float *y, int64_t k);
void dequantize_row_q6_K(const void *x, float *y, int64_t k);

// ggml-quants.c calls these from paths we never take; abort loudly if that changes. (Its ggml_type_size
// resolves to ours in quants.h: same name, same meaning.)
void ggml_abort(const char *file, int line, const char *fmt, ...) { fprintf(stderr, "ggml_abort %s:%d %s\n", file, line, fmt); abort(); }
size_t ggml_row_size(int type, int64_t n) { (void)type; (void)n; abort(); }
const char *ggml_type_name(int type) { (void)type; return "?"; }

static double rel_rms(const float *y, const float *x, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) return INFINITY;
        double d = (double)y[i] - x[i];
        num += d * d; den += (double)x[i] * x[i];
    }
    return sqrt(num / den);
}

// Row kinds: Gaussian weights, heavy tails, one outlier per block, block scales spanning 1e-4..1e2.
static void fill_row(float *x, int64_t n, int kind) {
    for (int64_t i = 0; i < n; i++) {
        float g = gauss();
        if (kind == 1) g = g / (float)(0.2 + unif());
        if (kind == 2 && i % 256 == 100) g = 60;
        if (kind == 3) g *= (float)pow(10, (int)((i / 256) % 7) - 4);
        x[i] = g * 0.02f;
    }
}

int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[1], "ggml")) { fprintf(stderr, "usage: gguf_xcheck ggml SEED\n"); return 2; }
    rs = strtoull(argv[2], NULL, 10);
    int fails = 0;
    const int64_t n = 256 * 2048;
    float *x = xmalloc_(sizeof(float) * n), *ya = xmalloc_(sizeof(float) * n), *yb = xmalloc_(sizeof(float) * n);
    uint8_t *qa = xmalloc_((size_t)n * 2), *qb = xmalloc_((size_t)n * 2);
    const char *kinds[] = { "gaussian", "heavy-tailed", "outliers", "mixed-scale" };

    // Quantizers: same bytes as ggml's reference (ties aside), and never a larger error.
    const struct { uint32_t t; void (*ref)(const float *, void *, int64_t); } qz[] = {
        { GGML_TYPE_Q8_0, quantize_row_q8_0_ref }, { GGML_TYPE_Q4_0, quantize_row_q4_0_ref },
        { GGML_TYPE_Q5_0, quantize_row_q5_0_ref }, { GGML_TYPE_Q4_K, quantize_row_q4_K_ref },
        { GGML_TYPE_Q5_K, quantize_row_q5_K_ref }, { GGML_TYPE_Q6_K, quantize_row_q6_K_ref } };
    for (int k = 0; k < (int)(sizeof qz / sizeof qz[0]); k++) {
        uint32_t t = qz[k].t;
        size_t bs = ggml_type_size(t), nb = (size_t)(n / ggml_blck_size(t));
        int bad = 0;
        for (int kind = 0; kind < 4; kind++) {
            fill_row(x, n, kind);
            quantize_row(t, x, qa, n);
            qz[k].ref(x, qb, n);
            size_t same = 0;
            for (size_t b = 0; b < nb; b++) same += !memcmp(qa + b * bs, qb + b * bs, bs);
            dequantize_row(t, qa, ya, n);
            dequantize_row(t, qb, yb, n);
            double ea = rel_rms(ya, x, n), eb = rel_rms(yb, x, n);
            printf("  %-4s %-12s ours %.6f  ggml %.6f  identical blocks %zu/%zu\n", gguf_type_name(t), kinds[kind], ea, eb, same, nb);
            if (!(ea <= eb * 1.001 + 1e-9)) bad++;
            if ((double)same < 0.99 * (double)nb) bad++;
        }
        printf("%s ggml_reference_quantizer_%s\n", bad ? "FAIL" : "PASS", gguf_type_name(t));
        fails += bad != 0;
    }

    // Dequantizers: ggml's on the same random blocks, bit for bit.
    const struct { uint32_t t; void (*ref)(const void *, float *, int64_t); } dq[] = {
        { GGML_TYPE_Q8_0, dequantize_row_q8_0 }, { GGML_TYPE_Q4_0, dequantize_row_q4_0 }, { GGML_TYPE_Q5_0, dequantize_row_q5_0 },
        { GGML_TYPE_Q4_K, dequantize_row_q4_K }, { GGML_TYPE_Q5_K, dequantize_row_q5_K }, { GGML_TYPE_Q6_K, dequantize_row_q6_K } };
    int bad = 0;
    for (int k = 0; k < 6; k++) {
        random_blocks(dq[k].t, qa, n);
        dequantize_row(dq[k].t, qa, ya, n);
        dq[k].ref(qa, yb, n);
        int64_t diff = 0;
        for (int64_t i = 0; i < n; i++) diff += memcmp(&ya[i], &yb[i], 4) != 0 && !(isnan(ya[i]) && isnan(yb[i]));
        printf("  dequantize %-4s: %lld of %lld values differ from ggml's\n", gguf_type_name(dq[k].t), (long long)diff, (long long)n);
        bad += diff != 0;
    }
    printf("%s ggml_reference_dequantizers\n", bad ? "FAIL" : "PASS");
    fails += bad != 0;
    free(x); free(ya); free(yb); free(qa); free(qb);
    return fails ? 1 : 0;
}
#endif
