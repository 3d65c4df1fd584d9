// tokenizer.c — Qwen2/Qwen3 byte-level BPE, exact to Hugging Face tokenizers: special-token splitting, NFC,
// the Qwen2 pre-tokenizer regex implemented by hand, rank-ordered BPE merges, a streaming UTF-8-safe
// detokenizer, and the tokenizer.json -> GGUF conversion (the one convert_hf_to_gguf.py does) used by synth.
// defines: tok_load, tok_free, tok_encode, tok_piece, tok_stream_*, tok_write_gguf_kv (see tokenizer.h)
//
// Pipeline of tok_encode: validate UTF-8 -> split out special tokens (only when asked) -> NFC each piece ->
// pre-tokenize into words -> BPE each word on raw bytes. Token texts in the GGUF are GPT-2 "byte-level"
// strings (each byte shown as a printable code point, e.g. ' ' as 'Ġ'); we decode them once at load so BPE
// runs on raw bytes and a merge is a lookup of the id pair (left, right) -> (rank, merged id).
#include "tokenizer.h"
#include "json.h"
#include "unicode.h"
#include "util.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };
#define QWEN3_VOCAB 151936   // embedding rows of every Qwen3 checkpoint; the token list is padded to it

struct Tokenizer {
    int n_vocab, eos, bos, pad;
    unsigned long serial;                       // unique per tok_load: tags the word cache's entries
    const char **text; uint32_t *text_len;    // token text as stored in the GGUF (byte-level form), own copy
    char *text_mem;
    char **piece; uint32_t *piece_len;         // raw bytes (byte-level decoded); one heap block
    char *piece_mem;
    unsigned char *type;
    // exact GGUF text -> id (open addressing, id + 1; 0 = empty)
    uint32_t *vmap; uint32_t vmask;
    // (left id, right id) -> rank and merged id (open addressing keyed by the packed pair; key 0 = empty).
    // One 16-byte slot per entry: a probe touches one cache line (the table is 8 MB for Qwen's 151k merges).
    struct PairSlot { uint64_t key; int32_t rank, res; } *pairs; uint64_t pmask;
    int byte_id[256];
    // special tokens for parse_special: ids sorted by first byte, then longest first
    int *spec; int n_spec; int spec_first[257];
};

// ---------------------------------------------------------------- GPT-2 byte <-> code point mapping
// Printable bytes map to themselves; the 68 others (controls, space, 0x7F-0xA0, 0xAD) to U+0100.. in order.
static uint32_t byte_to_cp[256];
static int cp_to_byte[512];
static void init_byte_map(void) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        byte_to_cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
    for (int i = 0; i < 512; i++) cp_to_byte[i] = -1;
    for (int b = 0; b < 256; b++) cp_to_byte[byte_to_cp[b]] = b;
}

static uint32_t hash_bytes(const char *s, size_t n) {  // FNV-1a
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}
static uint64_t hash_pair(uint64_t k) { k ^= k >> 29; k *= 0xbf58476d1ce4e5b9ull; k ^= k >> 32; return k; }

static int vmap_find(const Tokenizer *t, const char *s, size_t n) {
    for (uint32_t h = hash_bytes(s, n) & t->vmask;; h = (h + 1) & t->vmask) {
        uint32_t v = t->vmap[h];
        if (!v) return -1;
        if (t->text_len[v - 1] == n && !memcmp(t->text[v - 1], s, n)) return (int)v - 1;
    }
}

static void pair_put(Tokenizer *t, int a, int b, int rank, int res) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b | 1ull << 63;  // bit 63 keeps key != 0
    for (uint64_t h = hash_pair(key) & t->pmask;; h = (h + 1) & t->pmask) {
        struct PairSlot *p = &t->pairs[h];
        if (p->key == key) return;  // duplicate merge line: the first (lowest rank) wins
        if (!p->key) { p->key = key; p->rank = rank; p->res = res; return; }
    }
}
static inline int pair_get(const Tokenizer *t, int a, int b, int *res) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b | 1ull << 63;
    for (uint64_t h = hash_pair(key) & t->pmask;; h = (h + 1) & t->pmask) {
        const struct PairSlot *p = &t->pairs[h];
        if (p->key == key) { *res = p->res; return p->rank; }
        if (!p->key) return -1;
    }
}

static int is_special_type(int ty) { return ty == TT_CONTROL || ty == TT_USER; }

// ---------------------------------------------------------------- loading
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static void init_ascii_class(void);
static void init_tables(void) { init_byte_map(); init_ascii_class(); }

// Special tokens ordered by first byte, then longest first (insertion sort: a few hundred entries).
static int spec_before(const Tokenizer *t, int x, int y) {
    unsigned char fx = (unsigned char)t->piece[x][0], fy = (unsigned char)t->piece[y][0];
    if (fx != fy) return fx < fy;
    if (t->piece_len[x] != t->piece_len[y]) return t->piece_len[x] > t->piece_len[y];
    return x < y;
}

Tokenizer *tok_load(const GGUFFile *f, char *err, size_t errlen) {
    pthread_once(&tables_once, init_tables);
    GGUFStr s;
    if (gguf_get_str(f, "tokenizer.ggml.model", &s) || s.len != 4 || memcmp(s.ptr, "gpt2", 4)) {
        snprintf(err, errlen, "%s: tokenizer.ggml.model is not \"gpt2\" (byte-level BPE)", f->path);
        return NULL;
    }
    if (!gguf_get_str(f, "tokenizer.ggml.pre", &s) && !(s.len == 5 && !memcmp(s.ptr, "qwen2", 5)))
        fprintf(stderr, "qwen3-ptx: %s: tokenizer.ggml.pre is \"%.*s\", using the qwen2 pre-tokenizer anyway\n",
                f->path, (int)s.len, s.ptr);
    const GGUFKV *toks = gguf_find_kv(f, "tokenizer.ggml.tokens");
    const GGUFKV *merges = gguf_find_kv(f, "tokenizer.ggml.merges");
    const GGUFKV *types = gguf_find_kv(f, "tokenizer.ggml.token_type");
    if (!toks || toks->type != GGUF_VT_ARRAY || toks->arr_type != GGUF_VT_STRING || !toks->arr_n || toks->arr_n > (1u << 30)) {
        snprintf(err, errlen, "%s: tokenizer.ggml.tokens missing or not a string array", f->path);
        return NULL;
    }
    if (!merges || merges->type != GGUF_VT_ARRAY || merges->arr_type != GGUF_VT_STRING) {
        snprintf(err, errlen, "%s: tokenizer.ggml.merges missing or not a string array", f->path);
        return NULL;
    }
    if (types && (types->type != GGUF_VT_ARRAY || types->arr_n != toks->arr_n || types->arr_type == GGUF_VT_STRING)) {
        snprintf(err, errlen, "%s: tokenizer.ggml.token_type is not an integer array of %llu entries", f->path,
                 (unsigned long long)toks->arr_n);
        return NULL;
    }
    Tokenizer *t = xcalloc(1, sizeof *t);
    static unsigned long serial_next;
    t->serial = __atomic_add_fetch(&serial_next, 1, __ATOMIC_RELAXED);
    int n = t->n_vocab = (int)toks->arr_n;
    t->text = xmalloc((size_t)n * sizeof *t->text);
    t->text_len = xmalloc((size_t)n * sizeof *t->text_len);
    t->piece = xmalloc((size_t)n * sizeof *t->piece);
    t->piece_len = xmalloc((size_t)n * sizeof *t->piece_len);
    t->type = xmalloc((size_t)n);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (toks->strs[i].len > 4096) { snprintf(err, errlen, "%s: token %d is %llu bytes long", f->path, i, (unsigned long long)toks->strs[i].len); goto fail; }
        t->text[i] = toks->strs[i].ptr;
        t->text_len[i] = (uint32_t)toks->strs[i].len;
        total += toks->strs[i].len + 1;
        int64_t ty = types ? gguf_arr_int(types, (uint64_t)i) : TT_NORMAL;
        t->type[i] = (unsigned char)(ty >= 1 && ty <= 6 ? ty : TT_NORMAL);
    }
    // Own copies of the texts, so the tokenizer may outlive the GGUF mapping.
    t->text_mem = xmalloc(total);
    for (size_t i = 0, o = 0; i < (size_t)n; i++) {
        memcpy(t->text_mem + o, t->text[i], t->text_len[i]);
        t->text_mem[o + t->text_len[i]] = 0;
        t->text[i] = t->text_mem + o;
        o += t->text_len[i] + 1;
    }
    // Raw bytes of each token: byte-level decoding for normal tokens, the text itself for added ones.
    t->piece_mem = xmalloc(total);
    char *p = t->piece_mem;
    for (int i = 0; i < n; i++) {
        const unsigned char *u = (const unsigned char *)t->text[i];
        size_t len = t->text_len[i], o = 0;
        t->piece[i] = p;
        int bytelevel = t->type[i] == TT_NORMAL;
        if (bytelevel) {
            // Only if every code point maps back to a byte; anything else is kept verbatim.
            size_t k = 0;
            while (k < len) {
                uint32_t cp;
                int m = utf8_decode(u + k, len - k, &cp);
                if (!m || cp >= 512 || cp_to_byte[cp] < 0) { bytelevel = 0; break; }
                p[o++] = (char)cp_to_byte[cp];
                k += (size_t)m;
            }
        }
        if (!bytelevel) { memcpy(p, u, len); o = len; }
        p[o] = 0;
        t->piece_len[i] = (uint32_t)o;
        p += o + 1;
    }
    // Vocabulary hash on the GGUF text.
    uint32_t vcap = 1;
    while (vcap < (uint32_t)n * 2) vcap <<= 1;
    t->vmask = vcap - 1;
    t->vmap = xcalloc(vcap, sizeof *t->vmap);
    for (int i = 0; i < n; i++) {
        uint32_t h = hash_bytes(t->text[i], t->text_len[i]) & t->vmask;
        while (t->vmap[h]) {
            if (t->text_len[t->vmap[h] - 1] == t->text_len[i] && !memcmp(t->text[t->vmap[h] - 1], t->text[i], t->text_len[i])) break;
            h = (h + 1) & t->vmask;
        }
        if (!t->vmap[h]) t->vmap[h] = (uint32_t)i + 1;  // duplicate texts: the lowest id wins
    }
    for (int b = 0; b < 256; b++) {
        char buf[4];
        int m = utf8_encode(byte_to_cp[b], buf);
        t->byte_id[b] = vmap_find(t, buf, (size_t)m);
        if (t->byte_id[b] < 0) { snprintf(err, errlen, "%s: vocabulary lacks the byte-level token for byte 0x%02X", f->path, b); goto fail; }
    }
    // Merges "left right" (rank = line index) -> (left id, right id) -> (rank, id of left+right).
    uint64_t pcap = 1;
    while (pcap < merges->arr_n * 2 + 2) pcap <<= 1;
    t->pmask = pcap - 1;
    t->pairs = xcalloc(pcap, sizeof *t->pairs);
    char *cat = xmalloc(8192 + 2);
    for (uint64_t r = 0; r < merges->arr_n; r++) {
        const char *m = merges->strs[r].ptr;
        size_t len = merges->strs[r].len;
        const char *sp = memchr(m, ' ', len);
        if (!sp || sp == m || sp == m + len - 1 || len > 8192) {
            snprintf(err, errlen, "%s: merge %llu is not \"left right\": \"%.*s\"", f->path, (unsigned long long)r, (int)(len > 80 ? 80 : len), m);
            free(cat);
            goto fail;
        }
        size_t la = (size_t)(sp - m), lb = len - la - 1;
        int a = vmap_find(t, m, la), b = vmap_find(t, sp + 1, lb);
        memcpy(cat, m, la);
        memcpy(cat + la, sp + 1, lb);
        int c = vmap_find(t, cat, la + lb);
        if (a < 0 || b < 0 || c < 0) continue;  // as HF: a merge whose parts are not tokens can never apply
        pair_put(t, a, b, (int)r, c);
    }
    free(cat);
    uint32_t u32;
    t->eos = !gguf_get_u32(f, "tokenizer.ggml.eos_token_id", &u32) && u32 < (uint32_t)n ? (int)u32 : -1;
    t->bos = !gguf_get_u32(f, "tokenizer.ggml.bos_token_id", &u32) && u32 < (uint32_t)n ? (int)u32 : -1;
    t->pad = !gguf_get_u32(f, "tokenizer.ggml.padding_token_id", &u32) && u32 < (uint32_t)n ? (int)u32 : -1;
    // Special tokens, grouped by first byte and longest first so the first hit is the longest match.
    t->spec = xmalloc((size_t)n * sizeof *t->spec);
    for (int i = 0; i < n; i++)
        if (is_special_type(t->type[i]) && t->piece_len[i] > 0) t->spec[t->n_spec++] = i;
    for (int i = 1; i < t->n_spec; i++) {
        int x = t->spec[i], j = i;
        while (j > 0 && spec_before(t, x, t->spec[j - 1])) { t->spec[j] = t->spec[j - 1]; j--; }
        t->spec[j] = x;
    }
    for (int b = 0, k = 0; b <= 256; b++) {
        while (k < t->n_spec && (unsigned char)t->piece[t->spec[k]][0] < b) k++;
        t->spec_first[b] = k;
    }
    return t;
fail:
    tok_free(t);
    return NULL;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    free(t->text); free(t->text_mem); free(t->text_len); free(t->piece); free(t->piece_len); free(t->piece_mem); free(t->type);
    free(t->vmap); free(t->pairs); free(t->spec);
    free(t);
}

int tok_vocab(const Tokenizer *t) { return t->n_vocab; }
int tok_eos(const Tokenizer *t) { return t->eos; }
int tok_id(const Tokenizer *t, const char *piece) { return vmap_find(t, piece, strlen(piece)); }
int tok_is_special(const Tokenizer *t, int id) { return id >= 0 && id < t->n_vocab && is_special_type(t->type[id]); }
const char *tok_piece(const Tokenizer *t, int id, size_t *n) {
    if (id < 0 || id >= t->n_vocab) { *n = 0; return ""; }
    *n = t->piece_len[id];
    return t->piece[id];
}

// ---------------------------------------------------------------- pre-tokenizer
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Alternatives are tried in order at each position (leftmost-first, as Oniguruma does); each branch below
// is one alternative with its backtracking worked out by hand. Input is valid UTF-8 (checked up front).
enum { C_OTHER = 0, C_L = UC_LETTER, C_N = UC_NUMBER, C_S = UC_SPACE, C_NL = 8 };
static unsigned char ascii_class[128];
static void init_ascii_class(void) {
    for (int c = 0; c < 128; c++) ascii_class[c] = (unsigned char)uc_flags((uint32_t)c);
    ascii_class['\r'] |= C_NL;
    ascii_class['\n'] |= C_NL;
}
// Class of the character at s[i] (i < n) and its byte length.
static inline unsigned cls_at(const unsigned char *s, size_t n, size_t i, int *len) {
    if (s[i] < 0x80) { *len = 1; return ascii_class[s[i]]; }
    uint32_t cp;
    *len = utf8_decode(s + i, n - i, &cp);
    return uc_flags(cp);
}

static size_t next_word(const unsigned char *s, size_t n, size_t i) {
    int l0, l;
    unsigned c0 = cls_at(s, n, i, &l0);
    // 1. contractions, case-insensitive as Oniguruma folds case: ASCII, plus U+017F LATIN SMALL LETTER LONG S,
    //    which case-folds to 's' (the only non-ASCII character folding to one of these letters)
    if (s[i] == '\'' && i + 1 < n) {
        unsigned char a = (unsigned char)(s[i + 1] | 0x20), b = i + 2 < n ? (unsigned char)(s[i + 2] | 0x20) : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return i + 3;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    // 2. [^\r\n\p{L}\p{N}]?\p{L}+
    size_t j = i;
    if (c0 & C_L) j = i + (size_t)l0;
    else if (!(c0 & (C_NL | C_N)) && i + (size_t)l0 < n && (cls_at(s, n, i + (size_t)l0, &l) & C_L)) j = i + (size_t)l0 + (size_t)l;
    if (j > i) {
        while (j < n && (cls_at(s, n, j, &l) & C_L)) j += (size_t)l;
        return j;
    }
    // 3. \p{N}
    if (c0 & C_N) return i + (size_t)l0;
    // 4. ' '?[^\s\p{L}\p{N}]+[\r\n]*
    j = i;
    if (s[i] == ' ' && i + 1 < n && !(cls_at(s, n, i + 1, &l) & (C_S | C_L | C_N))) j = i + 1;
    if (!(cls_at(s, n, j, &l) & (C_S | C_L | C_N))) {
        while (j < n && !(cls_at(s, n, j, &l) & (C_S | C_L | C_N))) j += (size_t)l;
        while (j < n && (s[j] == '\r' || s[j] == '\n')) j++;
        return j;
    }
    // Now s[i] is whitespace. Find the whitespace run [i, k), its last newline and its last character.
    size_t k = i, last_nl = SIZE_MAX, last = i;
    while (k < n) {
        unsigned c = cls_at(s, n, k, &l);
        if (!(c & C_S)) break;
        if (c & C_NL) last_nl = k;
        last = k;
        k += (size_t)l;
    }
    // 5. \s*[\r\n]+ : up to and including the run's last newline
    if (last_nl != SIZE_MAX) return last_nl + 1;
    // 6. \s+(?!\S) : the whole run at the end of text, else all but its last character
    if (k == n || last > i) return k == n ? k : last;
    // 7. \s+
    return k;
}

size_t tok_pretokenize_next(const char *text, size_t len, size_t i) {
    pthread_once(&tables_once, init_tables);
    return next_word((const unsigned char *)text, len, i);
}

// ---------------------------------------------------------------- BPE
typedef struct { int id, prev, next; } Sym;
typedef struct { int rank, pos; } Cand;

static inline int cand_less(Cand a, Cand b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }
static void heap_push(Cand *h, int *n, Cand c) {
    int i = (*n)++;
    while (i > 0 && cand_less(c, h[(i - 1) / 2])) { h[i] = h[(i - 1) / 2]; i = (i - 1) / 2; }
    h[i] = c;
}
static Cand heap_pop(Cand *h, int *n) {
    Cand top = h[0], x = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(h[c + 1], h[c])) c++;
        if (!cand_less(h[c], x)) break;
        h[i] = h[c]; i = c;
    }
    if (*n) h[i] = x;
    return top;
}

// Text repeats words, and a word's BPE costs a dozen probes of the 8 MB pair table: a direct-mapped cache of
// word -> ids skips them. One cache per thread (pthread key, freed at thread exit), so tok_encode stays
// reentrant on a const Tokenizer; it is emptied when a thread switches to another tokenizer (serial).
#define WC_SLOTS 8192
#define WC_BYTES 26
#define WC_IDS 8
typedef struct { uint32_t hash; uint8_t len, nids; char bytes[WC_BYTES]; int32_t ids[WC_IDS]; } WordCacheSlot;
typedef struct { Sym *sym; Cand *heap; size_t cap; WordCacheSlot *wc; } Scratch;
typedef struct { unsigned long owner; WordCacheSlot slots[WC_SLOTS]; } WordCache;
static pthread_key_t wc_key;
static void wc_key_init(void) { if (pthread_key_create(&wc_key, free)) die("pthread_key_create failed"); }
static WordCacheSlot *word_cache(const Tokenizer *t) {
    static pthread_once_t key_once = PTHREAD_ONCE_INIT;
    pthread_once(&key_once, wc_key_init);
    WordCache *c = pthread_getspecific(wc_key);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        if (pthread_setspecific(wc_key, c)) die("pthread_setspecific failed");
    }
    if (c->owner != t->serial) { memset(c->slots, 0, sizeof c->slots); c->owner = t->serial; }
    return c->slots;
}

// Applies merges to word w[0..m) (m >= 1), always the lowest rank first and among equals the leftmost, as HF
// does. Symbols are a linked list over byte positions; candidates sit in a min-heap keyed (rank, position) and
// are re-validated when popped. Appends ids to out (counting past cap). Returns the number of ids.
static int bpe_word(const Tokenizer *t, const unsigned char *w, int m, Scratch *sc, int *out, int cap, int nout) {
    if (m == 1) { if (nout < cap) out[nout] = t->byte_id[w[0]]; return 1; }
    // The heap holds the m-1 initial pairs plus at most one net entry per merge (pop one, push up to two).
    if ((size_t)m * 2 > sc->cap) {
        sc->cap = (size_t)m * 4;
        sc->sym = xrealloc(sc->sym, sc->cap * sizeof *sc->sym);
        sc->heap = xrealloc(sc->heap, sc->cap * sizeof *sc->heap);
    }
    Sym *sym = sc->sym;
    Cand *heap = sc->heap;
    int nh = 0, res = 0;
    for (int i = 0; i < m; i++) { sym[i].id = t->byte_id[w[i]]; sym[i].prev = i - 1; sym[i].next = i + 1 < m ? i + 1 : -1; }
    for (int i = 0; i + 1 < m; i++) {
        int r = pair_get(t, sym[i].id, sym[i + 1].id, &res);
        if (r >= 0) heap_push(heap, &nh, (Cand){ r, i });
    }
    while (nh) {
        Cand c = heap_pop(heap, &nh);
        int a = c.pos, b = sym[a].next;
        if (sym[a].id < 0 || b < 0) continue;  // left symbol was absorbed, or is now last
        int r = pair_get(t, sym[a].id, sym[b].id, &res);
        if (r != c.rank) continue;             // the pair at this position changed since it was queued
        sym[a].id = res;
        sym[a].next = sym[b].next;
        if (sym[b].next >= 0) sym[sym[b].next].prev = a;
        sym[b].id = -1;
        if (sym[a].prev >= 0 && (r = pair_get(t, sym[sym[a].prev].id, sym[a].id, &res)) >= 0)
            heap_push(heap, &nh, (Cand){ r, sym[a].prev });
        if (sym[a].next >= 0 && (r = pair_get(t, sym[a].id, sym[sym[a].next].id, &res)) >= 0)
            heap_push(heap, &nh, (Cand){ r, a });
    }
    int k = 0;
    for (int i = 0; i >= 0; i = sym[i].next) { if (nout + k < cap) out[nout + k] = sym[i].id; k++; }
    return k;
}

// Encodes text without special tokens: NFC, pre-tokenize, BPE each word.
static int encode_plain(const Tokenizer *t, const char *text, size_t len, int *ids, int cap, int nout, Scratch *sc) {
    size_t nlen;
    char *norm = uc_nfc(text, len, &nlen);
    const unsigned char *s = (const unsigned char *)(norm ? norm : text);
    size_t n = norm ? nlen : len;
    for (size_t i = 0; i < n;) {
        size_t j = next_word(s, n, i);
        int m = (int)(j - i);
        WordCacheSlot *slot = NULL;
        if (sc->wc && m <= WC_BYTES) {
            uint32_t h = hash_bytes((const char *)s + i, (size_t)m) | 1;  // |1: hash 0 marks an empty slot
            slot = &sc->wc[h & (WC_SLOTS - 1)];
            if (slot->hash == h && slot->len == m && !memcmp(slot->bytes, s + i, (size_t)m)) {
                for (int k = 0; k < slot->nids; k++) if (nout + k < cap) ids[nout + k] = slot->ids[k];
                nout += slot->nids;
                i = j;
                continue;
            }
            slot->hash = 0;
            int k = bpe_word(t, s + i, m, sc, ids, cap, nout);
            if (k <= WC_IDS && nout + k <= cap) {
                slot->hash = h; slot->len = (uint8_t)m; slot->nids = (uint8_t)k;
                memcpy(slot->bytes, s + i, (size_t)m);
                memcpy(slot->ids, ids + nout, (size_t)k * sizeof *ids);
            }
            nout += k;
            i = j;
            continue;
        }
        nout += bpe_word(t, s + i, m, sc, ids, cap, nout);
        i = j;
    }
    free(norm);
    return nout;
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, int parse_special, int *ids, int cap) {
    pthread_once(&tables_once, init_tables);
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) { i++; continue; }
        uint32_t cp;
        int k = utf8_decode(u + i, len - i, &cp);
        if (!k) return -1;
        i += (size_t)k;
    }
    Scratch sc = { 0 };
    sc.wc = word_cache(t);
    int nout = 0;
    size_t start = 0;
    if (parse_special && t->n_spec) {
        for (size_t i = 0; i < len; i++) {
            int lo = t->spec_first[u[i]], hi = t->spec_first[u[i] + 1];
            for (int k = lo; k < hi; k++) {
                int id = t->spec[k];
                size_t pl = t->piece_len[id];
                if (pl <= len - i && !memcmp(text + i, t->piece[id], pl)) {
                    if (i > start) nout = encode_plain(t, text + start, i - start, ids, cap, nout, &sc);
                    if (nout < cap) ids[nout] = id;
                    nout++;
                    start = i + pl;
                    i = start - 1;
                    break;
                }
            }
        }
    }
    if (len > start) nout = encode_plain(t, text + start, len - start, ids, cap, nout, &sc);
    free(sc.sym); free(sc.heap);
    return nout;
}

// ---------------------------------------------------------------- streaming detokenizer
// Emits the longest prefix of pend+piece that is complete UTF-8. Invalid bytes become U+FFFD, one per maximal
// ill-formed subpart (what Python's bytes.decode(errors="replace") and TextDecoder produce); an incomplete
// but so far valid tail (at most 3 bytes) waits in s->pend for the next token.
static size_t put(char *out, size_t cap, size_t o, const void *src, size_t n) {
    if (o + n + 1 > cap) return o;  // no room: drop rather than split a character
    memcpy(out + o, src, n);
    return o + n;
}

// Length of the valid prefix of the sequence starting at s[0] (lead byte), and whether it is complete.
static int utf8_prefix(const unsigned char *s, size_t n, int *need) {
    unsigned char c = s[0];
    int k; unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) { k = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else { *need = 1; return 0; }  // not a lead byte: invalid on its own
    *need = k;
    int v = 1;
    for (; v < k && (size_t)v < n; v++) {
        unsigned char b = s[v];
        if (v == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
    }
    return v;
}

static size_t drain(TokStream *s, const unsigned char *buf, size_t n, char *out, size_t cap, int final) {
    size_t o = 0, i = 0;
    while (i < n) {
        if (buf[i] < 0x80) { o = put(out, cap, o, buf + i, 1); i++; continue; }
        int need, v = utf8_prefix(buf + i, n - i, &need);
        if (v == need) { o = put(out, cap, o, buf + i, (size_t)v); i += (size_t)v; continue; }
        if (v > 0 && i + (size_t)v == n && !final) break;  // valid so far, just incomplete: wait
        o = put(out, cap, o, "\xEF\xBF\xBD", 3);
        i += v > 0 ? (size_t)v : 1;
    }
    s->npend = (int)(n - i);
    memmove(s->pend, buf + i, (size_t)s->npend);
    if (cap) out[o] = 0;
    return o;
}

size_t tok_stream_push(const Tokenizer *t, TokStream *s, int id, char *out, size_t cap) {
    size_t n;
    const char *p = tok_piece(t, id, &n);
    unsigned char small[256], *buf = n + 8 <= sizeof small ? small : xmalloc(n + 8);
    memcpy(buf, s->pend, (size_t)s->npend);
    memcpy(buf + s->npend, p, n);
    size_t o = drain(s, buf, (size_t)s->npend + n, out, cap, 0);
    if (buf != small) free(buf);
    return o;
}

size_t tok_stream_flush(TokStream *s, char *out, size_t cap) {
    unsigned char buf[8];
    size_t n = (size_t)s->npend;
    memcpy(buf, s->pend, n);
    return drain(s, buf, n, out, cap, 1);
}

// ---------------------------------------------------------------- tokenizer.json -> GGUF metadata
static JsonValue *load_json(const char *path, char *err, size_t errlen) {
    size_t n;
    char *text = read_file(path, &n, err, errlen);
    if (!text) return NULL;
    char jerr[200];
    JsonValue *v = json_parse(text, n, jerr, sizeof jerr);
    free(text);
    if (!v) snprintf(err, errlen, "%s: %s", path, jerr);
    return v;
}

// A token id named in tokenizer_config.json: a plain string or an AddedToken object {"content": ...}.
static int config_token_id(const JsonValue *cfg, const char *key, char **text, const uint32_t *len, int n) {
    const JsonValue *v = json_get(cfg, key);
    if (v && v->type == JSON_OBJECT) v = json_get(v, "content");
    if (!v || v->type != JSON_STRING) return -1;
    for (int i = 0; i < n; i++)
        if (text[i] && len[i] == v->str_len && !memcmp(text[i], v->str, v->str_len)) return i;
    return -1;
}

int tok_write_gguf_kv(GGUFWriter *w, const char *tokenizer_json_path, const char *tokenizer_config_json_path,
                      char *err, size_t errlen) {
    int rc = -1;
    JsonValue *tj = load_json(tokenizer_json_path, err, errlen), *cfg = NULL;
    char **text = NULL;
    uint32_t *len = NULL;
    int32_t *types = NULL;
    char **mtext = NULL;
    uint64_t *mlen = NULL;
    size_t nm = 0;
    if (!tj) return -1;
    cfg = load_json(tokenizer_config_json_path, err, errlen);
    if (!cfg) goto done;
    const JsonValue *model = json_get(tj, "model"), *vocab = json_get(model, "vocab"), *merges = json_get(model, "merges");
    const JsonValue *added = json_get(tj, "added_tokens"), *mtype = json_get(model, "type");
    if (!vocab || vocab->type != JSON_OBJECT || !merges || merges->type != JSON_ARRAY) {
        snprintf(err, errlen, "%s: model.vocab / model.merges missing", tokenizer_json_path);
        goto done;
    }
    if (mtype && (mtype->type != JSON_STRING || strcmp(mtype->str, "BPE"))) {
        snprintf(err, errlen, "%s: model.type is not BPE", tokenizer_json_path);
        goto done;
    }
    int n = QWEN3_VOCAB;
    // Grow past the Qwen3 size only if the file has more tokens.
    for (size_t i = 0; i < vocab->n; i++)
        if (vocab->items[i].type == JSON_NUMBER && vocab->items[i].number >= n) n = (int)vocab->items[i].number + 1;
    for (size_t i = 0; added && added->type == JSON_ARRAY && i < added->n; i++) {
        const JsonValue *id = json_get(&added->items[i], "id");
        if (id && id->type == JSON_NUMBER && id->number >= n) n = (int)id->number + 1;
    }
    if (n > (1 << 24)) { snprintf(err, errlen, "%s: token ids up to %d are implausible", tokenizer_json_path, n); goto done; }
    text = xcalloc((size_t)n, sizeof *text);
    len = xcalloc((size_t)n, sizeof *len);
    types = xcalloc((size_t)n, sizeof *types);
    for (size_t i = 0; i < vocab->n; i++) {
        const JsonValue *id = &vocab->items[i];
        if (id->type != JSON_NUMBER || id->number < 0 || id->number != (int)id->number) {
            snprintf(err, errlen, "%s: vocab entry \"%.60s\" has a bad id", tokenizer_json_path, vocab->keys[i]);
            goto done;
        }
        int k = (int)id->number;
        text[k] = vocab->keys[i]; len[k] = (uint32_t)vocab->key_lens[i]; types[k] = TT_NORMAL;
    }
    // Added tokens: control when marked special or when they look like <|...|> (convert_hf_to_gguf.py's rule),
    // user-defined otherwise (<think>, <tool_call>, ...).
    for (size_t i = 0; added && added->type == JSON_ARRAY && i < added->n; i++) {
        const JsonValue *a = &added->items[i], *id = json_get(a, "id"), *content = json_get(a, "content"), *sp = json_get(a, "special");
        if (!id || id->type != JSON_NUMBER || id->number < 0 || !content || content->type != JSON_STRING) {
            snprintf(err, errlen, "%s: added_tokens[%zu] lacks id/content", tokenizer_json_path, i);
            goto done;
        }
        int k = (int)id->number;
        const char *c = content->str;
        size_t cl = content->str_len;
        int looks = cl >= 4 && !memcmp(c, "<|", 2) && !memcmp(c + cl - 2, "|>", 2);
        text[k] = content->str; len[k] = (uint32_t)cl;
        types[k] = (sp && sp->type == JSON_BOOL && sp->boolean) || looks ? TT_CONTROL : TT_USER;
    }
    char **pads = xcalloc((size_t)n, sizeof *pads);
    for (int i = 0; i < n; i++)
        if (!text[i]) {
            char buf[32];
            int m = snprintf(buf, sizeof buf, "[PAD%d]", i);
            pads[i] = xstrdup(buf);
            text[i] = pads[i]; len[i] = (uint32_t)m; types[i] = TT_UNUSED;
        }
    uint64_t *len64 = xmalloc((size_t)n * sizeof *len64);
    for (int i = 0; i < n; i++) len64[i] = len[i];
    // Merges come as "a b" strings (older files) or ["a", "b"] pairs (newer ones); GGUF wants "a b".
    nm = merges->n;
    mtext = xcalloc(nm ? nm : 1, sizeof *mtext);
    mlen = xcalloc(nm ? nm : 1, sizeof *mlen);
    for (size_t i = 0; i < nm; i++) {
        const JsonValue *m = &merges->items[i];
        if (m->type == JSON_STRING) { mtext[i] = xstrdup(m->str); mlen[i] = m->str_len; continue; }
        if (m->type != JSON_ARRAY || m->n != 2 || m->items[0].type != JSON_STRING || m->items[1].type != JSON_STRING) {
            snprintf(err, errlen, "%s: merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", tokenizer_json_path, i);
            for (int k = 0; k < n; k++) free(pads[k]);
            free(pads); free(len64);
            goto done;
        }
        size_t la = m->items[0].str_len, lb = m->items[1].str_len;
        mtext[i] = xmalloc(la + lb + 2);
        memcpy(mtext[i], m->items[0].str, la);
        mtext[i][la] = ' ';
        memcpy(mtext[i] + la + 1, m->items[1].str, lb);
        mtext[i][la + lb + 1] = 0;
        mlen[i] = la + lb + 1;
    }
    int eos = config_token_id(cfg, "eos_token", text, len, n);
    int pad = config_token_id(cfg, "pad_token", text, len, n);
    int bos = config_token_id(cfg, "bos_token", text, len, n);
    // Qwen3's tokenizer_config has bos_token null; its config.json (which convert reads next) says
    // bos_token_id = <|endoftext|>, and real Qwen3 GGUFs carry that.
    if (bos < 0) {
        for (int i = 0; i < n; i++) if (len[i] == 13 && !memcmp(text[i], "<|endoftext|>", 13)) { bos = i; break; }
    }
    gguf_writer_kv_str(w, "tokenizer.ggml.model", "gpt2", 4);
    gguf_writer_kv_str(w, "tokenizer.ggml.pre", "qwen2", 5);
    gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)text, len64, (uint64_t)n);
    gguf_writer_kv_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
    gguf_writer_kv_arr_str(w, "tokenizer.ggml.merges", (const char *const *)mtext, mlen, nm);
    if (eos >= 0) gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    if (pad >= 0) gguf_writer_kv_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)pad);
    if (bos >= 0) gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    const JsonValue *abos = json_get(cfg, "add_bos_token");
    gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", abos && abos->type == JSON_BOOL ? abos->boolean : 0);
    const JsonValue *tmpl = json_get(cfg, "chat_template");
    if (tmpl && tmpl->type == JSON_STRING) gguf_writer_kv_str(w, "tokenizer.chat_template", tmpl->str, tmpl->str_len);
    for (int k = 0; k < n; k++) free(pads[k]);
    free(pads); free(len64);
    rc = 0;
done:
    for (size_t i = 0; mtext && i < nm; i++) free(mtext[i]);
    free(mtext); free(mlen); free(text); free(len); free(types);
    json_free(tj); json_free(cfg);
    return rc;
}
