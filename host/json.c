// json.c — strict RFC 8259 JSON parser into a JsonValue tree, and a JSON string escaper.
// defines: json_parse, json_free, json_get, json_escape (see json.h)
//
// Recursive descent over a byte buffer. Strictness choices: only the four JSON whitespace bytes, no trailing
// commas, no leading zeros, no control bytes inside strings, strings must be valid UTF-8, a lone \uD800-\uDFFF
// escape is an error (it has no UTF-8 encoding), nothing may follow the top-level value. Containers collect
// their children in a doubling array, so Qwen3's 11 MB tokenizer.json (150k-key object, 150k-string array)
// parses in a few tens of milliseconds.
#include "json.h"
#include "unicode.h"
#include "util.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 256

typedef struct {
    const unsigned char *s;
    size_t len, pos;
    char *err; size_t errlen;
    int failed;
} Parser;

// Formats "line L col C: what" for the current position (columns count bytes, both 1-based).
static void fail(Parser *p, const char *what) {
    if (p->failed) return;
    p->failed = 1;
    size_t line = 1, col = 1, end = p->pos < p->len ? p->pos : p->len;
    for (size_t i = 0; i < end; i++) {
        if (p->s[i] == '\n') { line++; col = 1; } else col++;
    }
    if (p->err && p->errlen) snprintf(p->err, p->errlen, "line %zu col %zu: %s", line, col, what);
}

static void skip_ws(Parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int literal(Parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n)) { fail(p, "invalid literal"); return -1; }
    p->pos += n;
    return 0;
}

static int hex4(Parser *p, unsigned *out) {
    if (p->len - p->pos < 4) { fail(p, "truncated \\u escape"); return -1; }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[p->pos + i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else { p->pos += i; fail(p, "bad hex digit in \\u escape"); return -1; }
        v = v << 4 | d;
    }
    p->pos += 4;
    *out = v;
    return 0;
}


// Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid (overlongs, surrogates, > U+10FFFF rejected).
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;   // overlong
        if (c == 0xED && s[1] >= 0xA0) return 0;  // UTF-16 surrogate
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;   // overlong
        if (c == 0xF4 && s[1] >= 0x90) return 0;  // > U+10FFFF
        return 4;
    }
    return 0;
}

// Parses a string starting at the opening quote; returns a malloc'd NUL-terminated decoded copy.
static char *parse_string(Parser *p, size_t *out_len) {
    p->pos++;  // opening quote
    // First pass finds the closing quote so the output can be sized once (decoded is never longer than raw).
    size_t start = p->pos, i = start;
    while (i < p->len && p->s[i] != '"') {
        if (p->s[i] == '\\') i += 2; else i++;
    }
    if (i >= p->len) { p->pos = start - 1; fail(p, "unterminated string"); return NULL; }
    char *out = xmalloc(i - start + 1);
    size_t o = 0;
    while (p->s[p->pos] != '"') {
        unsigned char c = p->s[p->pos];
        if (c < 0x20) { fail(p, "control character in string (must be escaped)"); goto bad; }
        if (c == '\\') {
            p->pos++;
            unsigned char e = p->s[p->pos++];
            switch (e) {
            case '"': out[o++] = '"'; break;
            case '\\': out[o++] = '\\'; break;
            case '/': out[o++] = '/'; break;
            case 'b': out[o++] = '\b'; break;
            case 'f': out[o++] = '\f'; break;
            case 'n': out[o++] = '\n'; break;
            case 'r': out[o++] = '\r'; break;
            case 't': out[o++] = '\t'; break;
            case 'u': {
                unsigned cp;
                if (hex4(p, &cp)) goto bad;
                if (cp >= 0xDC00 && cp <= 0xDFFF) { p->pos -= 6; fail(p, "lone low surrogate in \\u escape"); goto bad; }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        fail(p, "high surrogate not followed by a \\u low surrogate"); goto bad;
                    }
                    p->pos += 2;
                    if (hex4(p, &lo)) goto bad;
                    if (lo < 0xDC00 || lo > 0xDFFF) { p->pos -= 6; fail(p, "high surrogate not followed by a low surrogate"); goto bad; }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                // A \u escape is 6 raw bytes (12 for a pair) and its UTF-8 is at most 3 (4): the buffer suffices.
                o += (size_t)utf8_encode(cp, out + o);
                break;
            }
            default: p->pos--; fail(p, "invalid escape in string"); goto bad;
            }
        } else if (c < 0x80) {
            out[o++] = (char)c;
            p->pos++;
        } else {
            size_t n = utf8_len(p->s + p->pos, p->len - p->pos);
            if (!n) { fail(p, "invalid UTF-8 in string"); goto bad; }
            memcpy(out + o, p->s + p->pos, n);
            o += n; p->pos += n;
        }
    }
    p->pos++;  // closing quote
    out[o] = 0;
    *out_len = o;
    return out;
bad:
    free(out);
    return NULL;
}

static int parse_number(Parser *p, double *out) {
    size_t start = p->pos, i = p->pos;
    const unsigned char *s = p->s;
    if (i < p->len && s[i] == '-') i++;
    if (i >= p->len) { p->pos = i; fail(p, "truncated number"); return -1; }
    if (s[i] == '0') {
        i++;
        if (i < p->len && s[i] >= '0' && s[i] <= '9') { p->pos = i; fail(p, "leading zero in number"); return -1; }
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    } else { p->pos = i; fail(p, "invalid number"); return -1; }
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || s[i] < '0' || s[i] > '9') { p->pos = i; fail(p, "digit expected after decimal point"); return -1; }
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->len || s[i] < '0' || s[i] > '9') { p->pos = i; fail(p, "digit expected in exponent"); return -1; }
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    // strtod needs a terminated string and the input is not: copy the validated span.
    size_t n = i - start;
    char small[64], *buf = n < sizeof small ? small : xmalloc(n + 1);
    memcpy(buf, s + start, n);
    buf[n] = 0;
    *out = strtod(buf, NULL);
    if (buf != small) free(buf);
    p->pos = i;
    return 0;
}

static int parse_value(Parser *p, JsonValue *v, int depth);

static int parse_array(Parser *p, JsonValue *v, int depth) {
    p->pos++;  // '['
    size_t cap = 0;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; return 0; }
    for (;;) {
        if (v->n == cap) { cap = cap ? cap * 2 : 4; v->items = xrealloc(v->items, cap * sizeof *v->items); }
        // Counted even on failure: parse_value leaves a freeable partial tree.
        if (parse_value(p, &v->items[v->n], depth + 1)) { v->n++; return -1; }
        v->n++;
        skip_ws(p);
        if (p->pos >= p->len) { fail(p, "unterminated array"); return -1; }
        unsigned char c = p->s[p->pos++];
        if (c == ']') return 0;
        if (c != ',') { p->pos--; fail(p, "expected ',' or ']' in array"); return -1; }
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ']') { fail(p, "trailing comma in array"); return -1; }
    }
}

static int parse_object(Parser *p, JsonValue *v, int depth) {
    p->pos++;  // '{'
    size_t cap = 0;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') { p->pos++; return 0; }
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            fail(p, p->pos < p->len && p->s[p->pos] == '}' ? "trailing comma in object" : "expected a string key");
            return -1;
        }
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = xrealloc(v->items, cap * sizeof *v->items);
            v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
            v->key_lens = xrealloc(v->key_lens, cap * sizeof *v->key_lens);
        }
        size_t klen;
        char *key = parse_string(p, &klen);
        if (!key) return -1;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') { free(key); fail(p, "expected ':' after object key"); return -1; }
        p->pos++;
        // The key is stored before the value so json_free sees a consistent object even if the value fails.
        v->keys[v->n] = key;
        v->key_lens[v->n] = klen;
        if (parse_value(p, &v->items[v->n], depth + 1)) { v->n++; return -1; }
        v->n++;
        skip_ws(p);
        if (p->pos >= p->len) { fail(p, "unterminated object"); return -1; }
        unsigned char c = p->s[p->pos++];
        if (c == '}') return 0;
        if (c != ',') { p->pos--; fail(p, "expected ',' or '}' in object"); return -1; }
    }
}

// Fills *v; on error leaves a partial tree that json_free can release.
static int parse_value(Parser *p, JsonValue *v, int depth) {
    memset(v, 0, sizeof *v);
    v->type = JSON_NULL;
    if (depth > JSON_MAX_DEPTH) { fail(p, "nesting deeper than 256"); return -1; }
    skip_ws(p);
    if (p->pos >= p->len) { fail(p, "unexpected end of input, value expected"); return -1; }
    switch (p->s[p->pos]) {
    case '{': v->type = JSON_OBJECT; return parse_object(p, v, depth);
    case '[': v->type = JSON_ARRAY; return parse_array(p, v, depth);
    case '"':
        v->str = parse_string(p, &v->str_len);
        if (!v->str) return -1;
        v->type = JSON_STRING;
        return 0;
    case 't': v->type = JSON_BOOL; v->boolean = 1; return literal(p, "true");
    case 'f': v->type = JSON_BOOL; v->boolean = 0; return literal(p, "false");
    case 'n': return literal(p, "null");
    default:
        if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9')) {
            v->type = JSON_NUMBER;
            return parse_number(p, &v->number);
        }
        fail(p, "unexpected character, value expected");
        return -1;
    }
}

static void free_children(JsonValue *v) {
    if (v->type == JSON_STRING) free(v->str);
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->n; i++) {
            free_children(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items); free(v->keys); free(v->key_lens);
    }
}

JsonValue *json_parse(const char *text, size_t len, char *err, size_t errlen) {
    Parser p = { (const unsigned char *)text, len, 0, err, errlen, 0 };
    if (err && errlen) err[0] = 0;
    JsonValue *v = xmalloc(sizeof *v);
    int rc = parse_value(&p, v, 1);
    if (!rc) {
        skip_ws(&p);
        if (p.pos != p.len) { fail(&p, "unexpected data after the JSON value"); rc = -1; }
    }
    if (rc) { json_free(v); return NULL; }
    return v;
}

void json_free(JsonValue *v) {
    if (!v) return;
    free_children(v);
    free(v);
}

// Duplicate keys: the last one wins, as in JavaScript and Python.
const JsonValue *json_get(const JsonValue *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = obj->n; i-- > 0;)
        if (obj->key_lens[i] == n && !memcmp(obj->keys[i], key, n)) return &obj->items[i];
    return NULL;
}

static void reserve(char **buf, size_t *len, size_t *cap, size_t extra) {
    if (*len + extra + 1 <= *cap) return;
    size_t c = *cap ? *cap : 64;
    while (c < *len + extra + 1) c *= 2;
    *buf = xrealloc(*buf, c);
    *cap = c;
}

// Escapes exactly what JSON.stringify and Python's json.dumps(ensure_ascii=False) escape (quote, backslash,
// control bytes; \b \f \n \r \t short, others as \u00xx), so templates that call tojson match byte for byte.
// Invalid UTF-8 bytes cannot appear in valid JSON text: each becomes U+FFFD.
void json_escape(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    static const char hexd[] = "0123456789abcdef";
    reserve(buf, len, cap, n + 2);
    (*buf)[(*len)++] = '"';
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        reserve(buf, len, cap, 8);
        char *o = *buf + *len;
        if (c == '"' || c == '\\') { o[0] = '\\'; o[1] = (char)c; *len += 2; i++; }
        else if (c < 0x20) {
            const char *sh = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (sh) { memcpy(o, sh, 2); *len += 2; }
            else { memcpy(o, "\\u00", 4); o[4] = hexd[c >> 4]; o[5] = hexd[c & 15]; *len += 6; }
            i++;
        } else if (c < 0x80) { o[0] = (char)c; (*len)++; i++; }
        else {
            size_t k = utf8_len(u + i, n - i);
            if (k) { memcpy(o, u + i, k); *len += k; i += k; }
            else { memcpy(o, "\xEF\xBF\xBD", 3); *len += 3; i++; }
        }
    }
    reserve(buf, len, cap, 1);
    (*buf)[(*len)++] = '"';
    (*buf)[*len] = 0;
}

// ---------------------------------------------------------------- writing (as Jinja's tojson / JSON.stringify)
// A double as JavaScript's Number.prototype.toString prints it: the shortest digits that round-trip, plain
// notation for exponents in [-7, 21), else d.ddde+N.
static void js_number(StrBuf *b, double x) {
    char tmp[64];
    if (isnan(x) || isinf(x)) { sb_adds(b, "null"); return; }  // JSON.stringify's choice
    if (x == 0) { sb_adds(b, "0"); return; }
    if (x < 0) { sb_adds(b, "-"); x = -x; }
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
        if (strtod(tmp, NULL) == x) break;
    }
    // tmp = d.ddde[+-]XX with p significant digits
    char digits[32];
    int k = 0;
    for (const char *s = tmp; *s && *s != 'e'; s++) if (*s != '.') digits[k++] = *s;
    while (k > 1 && digits[k - 1] == '0') k--;
    digits[k] = 0;
    int n = atoi(strchr(tmp, 'e') + 1) + 1;  // value = 0.digits * 10^n
    if (k <= n && n <= 21) {
        sb_add(b, digits, (size_t)k);
        for (int i = k; i < n; i++) sb_adds(b, "0");
    } else if (0 < n && n <= 21) {
        sb_add(b, digits, (size_t)n); sb_adds(b, "."); sb_add(b, digits + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        sb_adds(b, "0.");
        for (int i = 0; i < -n; i++) sb_adds(b, "0");
        sb_add(b, digits, (size_t)k);
    } else {
        sb_add(b, digits, 1);
        if (k > 1) { sb_adds(b, "."); sb_add(b, digits + 1, (size_t)(k - 1)); }
        snprintf(tmp, sizeof tmp, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
        sb_adds(b, tmp);
    }
}

void json_write(StrBuf *b, const JsonValue *v) {
    switch (v->type) {
    case JSON_NULL: sb_adds(b, "null"); break;
    case JSON_BOOL: sb_adds(b, v->boolean ? "true" : "false"); break;
    case JSON_NUMBER: js_number(b, v->number); break;
    case JSON_STRING: json_escape(&b->p, &b->len, &b->cap, v->str, v->str_len); break;
    case JSON_ARRAY:
        sb_adds(b, "[");
        for (size_t i = 0; i < v->n; i++) { if (i) sb_adds(b, ", "); json_write(b, &v->items[i]); }
        sb_adds(b, "]");
        break;
    case JSON_OBJECT:
        sb_adds(b, "{");
        for (size_t i = 0; i < v->n; i++) {
            if (i) sb_adds(b, ", ");
            json_escape(&b->p, &b->len, &b->cap, v->keys[i], v->key_lens[i]);
            sb_adds(b, ": ");
            json_write(b, &v->items[i]);
        }
        sb_adds(b, "}");
        break;
    }
}
