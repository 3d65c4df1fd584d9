// unicode.c — UTF-8 decoding, per-code-point class flags and NFC, over the tables that host/gen_unicode.sh
// generates from the UCD at build time (build/unicode_tables.c).
// defines: utf8_decode, utf8_encode, uc_flags, uc_nfc (see unicode.h)
//
// Flags live in one flat byte per code point (1.1 MB, built once on first use): the pre-tokenizer asks for
// every character's class, and one load beats a binary search over ~800 ranges. NFC follows UAX #15 exactly:
// full canonical decomposition (Hangul algorithmically), canonical ordering, then canonical composition that
// skips the full composition exclusions.
#include "unicode.h"
#include "util.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const uint32_t uc_letter[][2], uc_number[][2], uc_space[][2], uc_comp_excl[][2], uc_nfc_qc[][2];
extern const int uc_letter_n, uc_number_n, uc_space_n, uc_comp_excl_n, uc_nfc_qc_n;
extern const uint32_t uc_ccc[][2], uc_decomp[][3];
extern const int uc_ccc_n, uc_decomp_n;

#define UC_MAX 0x110000
enum { UC_NFC_CHECK = 8 };  // private flag: ccc != 0 or NFC_QC is No/Maybe, so the text may need NFC work

static unsigned char *flags;     // [UC_MAX]
static unsigned char *ccc_tab;   // [UC_MAX] canonical combining class
// Composition pairs (first, second) -> composite, open addressing; decompositions sorted by code point.
#define COMP_SLOTS 4096
static struct { uint32_t a, b, c; } comp[COMP_SLOTS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void mark(const uint32_t r[][2], int n, unsigned char *tab, unsigned bit) {
    for (int i = 0; i < n; i++)
        for (uint32_t c = r[i][0]; c <= r[i][1] && c < UC_MAX; c++) tab[c] |= (unsigned char)bit;
}

static uint32_t comp_hash(uint32_t a, uint32_t b) { return (a * 2654435761u ^ b * 40503u) & (COMP_SLOTS - 1); }

static void init_tables(void) {
    flags = xcalloc(UC_MAX, 1);
    ccc_tab = xcalloc(UC_MAX, 1);
    mark(uc_letter, uc_letter_n, flags, UC_LETTER);
    mark(uc_number, uc_number_n, flags, UC_NUMBER);
    mark(uc_space, uc_space_n, flags, UC_SPACE);
    mark(uc_nfc_qc, uc_nfc_qc_n, flags, UC_NFC_CHECK);
    for (int i = 0; i < uc_ccc_n; i++) {
        ccc_tab[uc_ccc[i][0]] = (unsigned char)uc_ccc[i][1];
        flags[uc_ccc[i][0]] |= UC_NFC_CHECK;
    }
    unsigned char *excl = xcalloc(UC_MAX, 1);
    mark(uc_comp_excl, uc_comp_excl_n, excl, 1);
    for (int i = 0; i < uc_decomp_n; i++) {
        uint32_t c = uc_decomp[i][0], a = uc_decomp[i][1], b = uc_decomp[i][2];
        if (!b || excl[c]) continue;
        uint32_t h = comp_hash(a, b);
        while (comp[h].c) h = (h + 1) & (COMP_SLOTS - 1);
        comp[h].a = a; comp[h].b = b; comp[h].c = c;
    }
    free(excl);
}

unsigned uc_flags(uint32_t cp) {
    pthread_once(&once, init_tables);
    return cp < UC_MAX ? flags[cp] & (UC_LETTER | UC_NUMBER | UC_SPACE) : 0;
}

int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    if (c < 0xC2) return 0;
    if (c < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *cp = (uint32_t)(c & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)) return 0;  // overlong, surrogate
        *cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)) return 0;  // overlong, > U+10FFFF
        *cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        return 4;
    }
    return 0;
}

int utf8_encode(uint32_t cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63)); o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63));
    o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

// ---------------------------------------------------------------- NFC
enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21, TCOUNT = 28,
       NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

typedef struct { uint32_t *v; size_t n, cap; } CpBuf;
static void cp_push(CpBuf *b, uint32_t c) {
    if (b->n == b->cap) { b->cap = b->cap ? b->cap * 2 : 64; b->v = xrealloc(b->v, b->cap * sizeof *b->v); }
    b->v[b->n++] = c;
}

static const uint32_t *find_decomp(uint32_t c) {
    int lo = 0, hi = uc_decomp_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (uc_decomp[mid][0] == c) return uc_decomp[mid];
        if (uc_decomp[mid][0] < c) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

static void decompose(CpBuf *b, uint32_t c) {
    if (c >= SBASE && c < SBASE + SCOUNT) {
        uint32_t s = c - SBASE;
        cp_push(b, LBASE + s / NCOUNT);
        cp_push(b, VBASE + s % NCOUNT / TCOUNT);
        if (s % TCOUNT) cp_push(b, TBASE + s % TCOUNT);
        return;
    }
    const uint32_t *d = find_decomp(c);
    if (!d) { cp_push(b, c); return; }
    decompose(b, d[1]);
    if (d[2]) decompose(b, d[2]);
}

static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    for (uint32_t h = comp_hash(a, b); comp[h].c; h = (h + 1) & (COMP_SLOTS - 1))
        if (comp[h].a == a && comp[h].b == b) return comp[h].c;
    return 0;
}

// Normalises one span (a starter and what may compose with it) and appends its UTF-8 to *res.
static void nfc_span(const unsigned char *u, size_t n, CpBuf *b, char **res, size_t *o, size_t *cap) {
    b->n = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = utf8_decode(u + i, n - i, &cp);
        if (!k) { cp = 0xFFFD; k = 1; }  // callers validate first; never loop forever on bad input
        decompose(b, cp);
        i += (size_t)k;
    }
    // Canonical ordering: a stable insertion sort of each run of non-starters by combining class.
    for (size_t j = 1; j < b->n; j++) {
        uint32_t c = b->v[j];
        unsigned cc = ccc_tab[c];
        if (!cc) continue;
        size_t k = j;
        while (k > 0 && ccc_tab[b->v[k - 1]] > cc) { b->v[k] = b->v[k - 1]; k--; }
        b->v[k] = c;
    }
    // Canonical composition (UAX #15): a character composes with the last starter unless blocked by a
    // preceding character of equal or higher class (or any starter in between).
    size_t out = 0;
    if (b->n) {
        size_t starter = 0;
        int last = ccc_tab[b->v[0]] ? 256 : 0;
        out = 1;
        for (size_t j = 1; j < b->n; j++) {
            uint32_t c = b->v[j];
            int cc = ccc_tab[c];
            uint32_t x = compose(b->v[starter], c);
            if (x && (last < cc || last == 0)) { b->v[starter] = x; continue; }
            if (cc == 0) starter = out;
            last = cc;
            b->v[out++] = c;
        }
    }
    if (*o + out * 4 + 1 > *cap) { *cap = (*o + out * 4 + 1) * 2; *res = xrealloc(*res, *cap); }
    for (size_t j = 0; j < out; j++) *o += (size_t)utf8_encode(b->v[j], *res + *o);
}

// A character with ccc = 0 and NFC_QC = Yes is a boundary: nothing before it can reorder or compose across it.
// So only spans from the boundary before a suspicious character to the next boundary need the full algorithm;
// everything else is copied as is.
char *uc_nfc(const char *s, size_t n, size_t *out_n) {
    pthread_once(&once, init_tables);
    const unsigned char *u = (const unsigned char *)s;
    char *res = NULL;
    size_t o = 0, cap = 0, copied = 0, prev = 0;  // prev: start of the last boundary character seen
    CpBuf b = { 0 };
    for (size_t i = 0; i < n;) {
        if (u[i] < 0xCC) {  // U+0000..U+02FF are all boundaries (and continuation bytes never start a char)
            if (u[i] < 0x80 || u[i] >= 0xC0) prev = i;
            i++;
            continue;
        }
        uint32_t cp;
        int k = utf8_decode(u + i, n - i, &cp);
        if (!k || !(flags[cp] & UC_NFC_CHECK)) { prev = i; i += k ? (size_t)k : 1; continue; }
        // Suspicious: the span starts at the last boundary (if not yet emitted) and runs to the next boundary.
        size_t start = prev >= copied ? prev : copied, end = i + (size_t)k;
        while (end < n) {
            int m = utf8_decode(u + end, n - end, &cp);
            if (!m || !(flags[cp] & UC_NFC_CHECK)) break;
            end += (size_t)m;
        }
        if (!res) { cap = n + n / 4 + 16; res = xmalloc(cap); }
        if (o + (start - copied) + 1 > cap) { cap = (o + start - copied + 1) * 2; res = xrealloc(res, cap); }
        memcpy(res + o, u + copied, start - copied);
        o += start - copied;
        nfc_span(u + start, end - start, &b, &res, &o, &cap);
        copied = end;
        prev = end;
        i = end;
    }
    free(b.v);
    if (!res) return NULL;
    if (o + (n - copied) + 1 > cap) { cap = o + (n - copied) + 1; res = xrealloc(res, cap); }
    memcpy(res + o, u + copied, n - copied);
    o += n - copied;
    res[o] = 0;
    *out_n = o;
    return res;
}
