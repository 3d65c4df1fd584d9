// gguf_corrupt.c — the driver behind tests/t_gguf_corrupt.sh, built with ASan+UBSan into build/asan/: builds a
// small valid GGUF byte by byte (recording where every structural field sits), then feeds the reader one
// corruption class at a time. Every corrupted file must be rejected with a one-line message that starts with
// the file's name, and the sanitizers must stay silent; valid variants must still open. Prints PASS/FAIL per class.
#include "../gguf/gguf.h"
#include "../gguf/quants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------- a byte builder that remembers field offsets

typedef struct { uint8_t *p; size_t n, cap; } B;

static size_t put(B *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { perror("realloc"); exit(2); }
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    return b->n - n;
}
static size_t u32(B *b, uint32_t v) { return put(b, &v, 4); }
static size_t u64(B *b, uint64_t v) { return put(b, &v, 8); }
static size_t str(B *b, const char *s) { size_t at = u64(b, strlen(s)); put(b, s, strlen(s)); return at; }

// Where the fields of the base file sit (byte offsets), so corruptions can patch them.
typedef struct {
    size_t version, n_tensors, n_kv;
    size_t key_len[16], kv_type[16]; int n_kv_marks;
    size_t str_len[16]; int n_str;            // string value lengths, incl. string-array elements
    size_t arr_type[16], arr_count[16]; int n_arr;
    size_t align_type, align_val;
    size_t t_name[8], t_ndims[8], t_ne0[8], t_type[8], t_off[8]; int nt;
    size_t header_end, data_offset;
    size_t bounds[256]; int n_bounds;         // every structural boundary, for truncation
} Marks;

typedef struct {
    uint32_t version, alignment;  // alignment 0: no general.alignment key
    int dup_key, dup_tensor, empty_key, empty_name, nul_name, long_name, n_tensors, depth, wide;
} Spec;

static void mark(Marks *m, size_t at) { if (m->n_bounds < 256) m->bounds[m->n_bounds++] = at; }

static const struct { const char *name; uint32_t type; int64_t ne[4]; uint32_t nd; } tensors[] = {
    { "blk.0.attn_norm.weight", GGML_TYPE_F32, { 8, 2, 1, 1 }, 2 },
    { "blk.0.attn_q.weight", GGML_TYPE_Q8_0, { 32, 2, 1, 1 }, 2 },
    { "blk.0.ffn_up.weight", GGML_TYPE_Q4_K, { 256, 1, 1, 1 }, 1 },
    { "token_embd.weight", GGML_TYPE_F16, { 16, 2, 3, 1 }, 3 },
};

static void kv_head(B *b, Marks *m, const char *key, uint32_t type) {
    int i = m->n_kv_marks++;
    m->key_len[i] = str(b, key);
    mark(m, m->key_len[i] + 8);
    m->kv_type[i] = u32(b, type);
    mark(m, b->n);
}

static B build(const Spec *s, Marks *m) {
    B b = { 0 };
    memset(m, 0, sizeof *m);
    int nt = s->n_tensors;
    put(&b, "GGUF", 4);
    m->version = u32(&b, s->version ? s->version : 3);
    m->n_tensors = u64(&b, (uint64_t)nt);
    int n_kv = 7 + (s->alignment != 0) + (s->dup_key != 0) + (s->empty_key != 0) + (s->depth != 0) + (s->wide != 0);
    m->n_kv = u64(&b, (uint64_t)n_kv);
    mark(m, b.n);
    kv_head(&b, m, "general.architecture", GGUF_VT_STRING);
    m->str_len[m->n_str++] = str(&b, "qwen3");
    mark(&*m, b.n);
    kv_head(&b, m, "qwen3.block_count", GGUF_VT_UINT32);
    u32(&b, 28);
    kv_head(&b, m, "qwen3.rope.freq_base", GGUF_VT_FLOAT32);
    float f = 1e6f;
    put(&b, &f, 4);
    kv_head(&b, m, "general.flag", GGUF_VT_BOOL);
    put(&b, "\1", 1);
    kv_head(&b, m, "tokenizer.ggml.tokens", GGUF_VT_ARRAY);
    m->arr_type[m->n_arr] = u32(&b, GGUF_VT_STRING);
    m->arr_count[m->n_arr++] = u64(&b, 4);
    const char *toks[] = { "a", "", "\xc4\xa0the", "<|im_end|>" };
    for (int i = 0; i < 4; i++) { m->str_len[m->n_str++] = str(&b, toks[i]); mark(m, b.n); }
    kv_head(&b, m, "tokenizer.ggml.token_type", GGUF_VT_ARRAY);
    m->arr_type[m->n_arr] = u32(&b, GGUF_VT_INT32);
    m->arr_count[m->n_arr++] = u64(&b, 10);
    for (int i = 0; i < 10; i++) u32(&b, (uint32_t)i);
    mark(m, b.n);
    kv_head(&b, m, "test.nested", GGUF_VT_ARRAY);   // arr[arr[i32]]: [[1, 2], []]
    m->arr_type[m->n_arr] = u32(&b, GGUF_VT_ARRAY);
    m->arr_count[m->n_arr++] = u64(&b, 2);
    m->arr_type[m->n_arr] = u32(&b, GGUF_VT_INT32);
    m->arr_count[m->n_arr++] = u64(&b, 2);
    u32(&b, 1); u32(&b, 2);
    mark(m, b.n);
    m->arr_type[m->n_arr] = u32(&b, GGUF_VT_INT32);
    m->arr_count[m->n_arr++] = u64(&b, 0);
    mark(m, b.n);
    if (s->alignment) {
        kv_head(&b, m, "general.alignment", GGUF_VT_UINT32);
        m->align_type = m->kv_type[m->n_kv_marks - 1];
        m->align_val = u32(&b, s->alignment);
    }
    if (s->dup_key) { kv_head(&b, m, "qwen3.block_count", GGUF_VT_UINT32); u32(&b, 29); }
    if (s->empty_key) { kv_head(&b, m, "", GGUF_VT_UINT32); u32(&b, 1); }
    if (s->depth) {   // arr[arr[arr[...]]] nested s->depth deep, innermost empty
        kv_head(&b, m, "test.deep", GGUF_VT_ARRAY);
        for (int d = 0; d < s->depth; d++) { u32(&b, GGUF_VT_ARRAY); u64(&b, 1); }
        u32(&b, GGUF_VT_INT32); u64(&b, 0);
    }
    if (s->wide) {    // arr[arr] with s->wide empty sub-arrays: big but legal
        kv_head(&b, m, "test.wide", GGUF_VT_ARRAY);
        u32(&b, GGUF_VT_ARRAY); u64(&b, (uint64_t)s->wide);
        for (int i = 0; i < s->wide; i++) { u32(&b, GGUF_VT_UINT8); u64(&b, 0); }
    }
    uint64_t align = s->alignment ? s->alignment : 32, off = 0;
    for (int t = 0; t < nt; t++) {
        char name[80];
        snprintf(name, sizeof name, "%s", tensors[t].name);
        if (s->dup_tensor && t == 1) snprintf(name, sizeof name, "%s", tensors[0].name);
        if (s->empty_name && t == 2) name[0] = 0;
        if (s->long_name && t == 2) memset(name, 'x', 65), name[65] = 0;
        m->t_name[t] = str(&b, name);
        if (s->nul_name && t == 2) b.p[m->t_name[t] + 8 + 3] = 0;
        mark(m, b.n);
        m->t_ndims[t] = u32(&b, tensors[t].nd);
        for (uint32_t d = 0; d < tensors[t].nd; d++) {
            size_t at = u64(&b, (uint64_t)tensors[t].ne[d]);
            if (d == 0) m->t_ne0[t] = at;
            mark(m, b.n);
        }
        m->t_type[t] = u32(&b, tensors[t].type);
        m->t_off[t] = u64(&b, off);
        mark(m, b.n);
        uint64_t nb = ggml_row_bytes(tensors[t].type, tensors[t].ne[0]) * (uint64_t)(tensors[t].ne[1] * tensors[t].ne[2]);
        off += t + 1 < nt ? (nb + align - 1) / align * align : nb;
    }
    m->nt = nt;
    m->header_end = b.n;
    while (b.n % align) put(&b, "\0", 1);
    m->data_offset = b.n;
    mark(m, b.n);
    for (uint64_t i = 0; i < off; i++) { uint8_t v = (uint8_t)(i * 37 + 11); put(&b, &v, 1); }
    // F16 data must be finite for nothing in particular: the reader never interprets tensor bytes.
    return b;
}

// ---------------------------------------------------------------- checks

static int n_pass, n_fail;
static uint64_t touched;   // keeps the reads of tensor/string bytes alive
static int case_bad;         // failures within the current class
static char case_first[600]; // first failure description
static char case_example[600];  // the first rejection message of the class, printed for the reader of the log

static void note_bad(const char *fmt, const char *a, const char *b2) {
    if (!case_bad++) snprintf(case_first, sizeof case_first, fmt, a, b2);
}

// Opens bytes [0, n) in memory (and, when via_file, through a real file and mmap); expects failure (want_ok = 0)
// with a one-line message "<name>: ..." containing `expect` (if given), or success.
static void try_open(const uint8_t *p, size_t n, const char *name, int want_ok, const char *expect, int via_file) {
    for (int pass = 0; pass < 1 + via_file; pass++) {
        GGUFFile f;
        char err[512];
        memset(err, 'Z', sizeof err);
        err[sizeof err - 1] = 0;
        int rc;
        char path[512];
        // A private copy so that reads past n are caught by ASan (the heap redzone), not hidden by the buffer.
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, p, n);
        if (pass == 0) {
            snprintf(path, sizeof path, "%s", name);
            rc = gguf_open_mem(&f, copy, n, name, err, sizeof err);
        } else {
            snprintf(path, sizeof path, "build/asan/%d-%s", (int)getpid(), name);   // concurrent runs must not collide
            FILE *o = fopen(path, "wb");
            if (!o || fwrite(p, 1, n, o) != n || fclose(o) != 0) { note_bad("cannot write %s%s", path, ""); free(copy); return; }
            rc = gguf_open(&f, path, err, sizeof err);
            unlink(path);
        }
        if (rc == 0) {
            // Touch everything the reader promises, so a bad pointer is a sanitizer report here.
            volatile uint64_t sum = 0;
            for (uint64_t i = 0; i < f.n_kv; i++) {
                const GGUFKV *kv = &f.kv[i];
                sum += (uint8_t)kv->key.ptr[kv->key.len ? kv->key.len - 1 : 0] * (kv->key.len != 0);
                if (kv->strs) {
                    uint64_t ns = kv->type == GGUF_VT_STRING ? 1 : kv->arr_n;
                    for (uint64_t j = 0; j < ns; j++) if (kv->strs[j].len) sum += (uint8_t)kv->strs[j].ptr[kv->strs[j].len - 1];
                }
                if (kv->type == GGUF_VT_ARRAY && kv->arr_type != GGUF_VT_STRING && kv->arr_type != GGUF_VT_ARRAY)
                    for (uint64_t j = 0; j < kv->arr_n; j++) sum += (uint64_t)gguf_arr_int(kv, j);
            }
            for (uint64_t i = 0; i < f.n_tensors; i++) {
                const uint8_t *d = f.tensors[i].data;
                sum += d[0] + d[f.tensors[i].nbytes - 1];
            }
            touched += sum;
            gguf_close(&f);
            if (!want_ok) note_bad("%s opened but should have been rejected%s", path, "");
        } else {
            size_t L = strlen(err), nl = strlen(path);
            if (!want_ok && !case_example[0] && L < sizeof err - 1) snprintf(case_example, sizeof case_example, "%s", err);
            if (want_ok) note_bad("%s failed to open: %s", path, err);
            else if (L == 0 || L >= sizeof err - 1) note_bad("%s: no message (or not terminated)%s", path, "");
            else if (strchr(err, '\n')) note_bad("%s: message has a newline: %s", path, err);
            else if (strncmp(err, path, nl) || strncmp(err + nl, ": ", 2)) note_bad("%s: message does not start with the file name: %s", path, err);
            else if (expect && !strstr(err, expect)) {
                char w[600];
                snprintf(w, sizeof w, "%s' in: %s", expect, err);
                note_bad("%s: expected '%s", path, w);
            }
        }
        free(copy);
    }
}

static void begin_case(void) { case_bad = 0; case_first[0] = case_example[0] = 0; }
static void end_case(const char *name, int n_tried) {
    if (case_bad) { n_fail++; printf("  %d of %d variants wrong; first: %s\nFAIL %s\n", case_bad, n_tried, case_first, name); }
    else {
        n_pass++;
        if (case_example[0]) printf("  e.g. %s\n", case_example);
        printf("PASS %s (%d variants)\n", name, n_tried);
    }
    fflush(stdout);
}

static void patch32(uint8_t *p, size_t at, uint32_t v) { memcpy(p + at, &v, 4); }
static void patch64(uint8_t *p, size_t at, uint64_t v) { memcpy(p + at, &v, 8); }

// Applies one patch to a copy of base and expects rejection.
static int bad32(const B *base, size_t at, uint32_t v, const char *name, const char *expect) {
    uint8_t *c = malloc(base->n);
    memcpy(c, base->p, base->n);
    patch32(c, at, v);
    try_open(c, base->n, name, 0, expect, 0);
    free(c);
    return 1;
}
static int bad64(const B *base, size_t at, uint64_t v, const char *name, const char *expect) {
    uint8_t *c = malloc(base->n);
    memcpy(c, base->p, base->n);
    patch64(c, at, v);
    try_open(c, base->n, name, 0, expect, 0);
    free(c);
    return 1;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {   // splitmix64
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// `gguf_corrupt --write-seeds DIR`: writes small valid variants as the fuzzer's seed corpus (t_fuzz_gguf.sh).
static int write_seeds(const char *dir) {
    Spec v[7] = { { .n_tensors = 4 }, { .n_tensors = 4, .version = 2 }, { .n_tensors = 4, .alignment = 64 },
                  { .n_tensors = 0 }, { .n_tensors = 4, .depth = 3 }, { .n_tensors = 4, .wide = 20 },
                  { .n_tensors = 2, .alignment = 32 } };
    for (int i = 0; i < 7; i++) {
        Marks m;
        B b = build(&v[i], &m);
        char path[512];
        snprintf(path, sizeof path, "%s/seed-%d.gguf", dir, i);
        FILE *o = fopen(path, "wb");
        if (!o || fwrite(b.p, 1, b.n, o) != b.n || fclose(o) != 0) { fprintf(stderr, "cannot write %s\n", path); return 1; }
        free(b.p);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "--write-seeds")) return write_seeds(argv[2]);
    if (argc > 1) rng_state = strtoull(argv[1], NULL, 10);
    printf("seed %llu\n", (unsigned long long)rng_state);
    Spec spec = { .n_tensors = 4 };
    Marks m;
    B base = build(&spec, &m);
    int n;

    begin_case();   // valid files: the base (memory and file), v2, alignment 64, no tensors, wide nested array
    n = 0;
    try_open(base.p, base.n, "valid.gguf", 1, NULL, 1); n++;
    Spec v2 = spec; v2.version = 2;
    Spec a64 = spec; a64.alignment = 64;
    Spec a32 = spec; a32.alignment = 32;
    Spec none = spec; none.n_tensors = 0;
    Spec wide = spec; wide.wide = 20000;
    Spec deep = spec; deep.depth = 3;
    const Spec *good[] = { &v2, &a64, &a32, &none, &wide, &deep };
    for (int i = 0; i < 6; i++) {
        Marks mm;
        B b = build(good[i], &mm);
        try_open(b.p, b.n, "valid-variant.gguf", 1, NULL, 1); n++;
        free(b.p);
    }
    end_case("valid_files_open", n);

    begin_case();   // every truncation length: the whole file is ~1.3 KB, so every byte is cheap
    for (size_t len = 0; len < base.n; len++) try_open(base.p, len, "truncated.gguf", 0, NULL, 0);
    end_case("truncate_every_byte", (int)base.n);

    begin_case();   // the same at each structural boundary, through a real file and mmap
    for (int i = 0; i < m.n_bounds; i++) try_open(base.p, m.bounds[i], "truncated-file.gguf", 0, NULL, 1);
    end_case("truncate_at_boundaries_mmap", m.n_bounds);

    begin_case();
    n = 0;
    const char *magics[] = { "GGUf", "\0\0\0\0", "FUGG", "GGML" };
    for (int i = 0; i < 4; i++) {
        uint8_t *c = malloc(base.n);
        memcpy(c, base.p, base.n);
        memcpy(c, magics[i], 4);
        try_open(c, base.n, "magic.gguf", 0, "magic", 0); n++;
        free(c);
    }
    end_case("bad_magic", n);

    begin_case();
    n = 0;
    uint32_t versions[] = { 0, 1, 4, 0x03000000u, 0xffffffffu };
    for (int i = 0; i < 5; i++) n += bad32(&base, m.version, versions[i], "version.gguf", "version");
    end_case("bad_version", n);

    begin_case();   // metadata and tensor counts: absurd, just too large, far too large
    n = 0;
    uint64_t huge[] = { UINT64_MAX, 1ull << 63, 1ull << 40, base.n, 8 };
    for (int i = 0; i < 5; i++) {
        n += bad64(&base, m.n_kv, huge[i], "count.gguf", NULL);
        n += bad64(&base, m.n_tensors, huge[i], "count.gguf", NULL);
    }
    end_case("huge_counts", n);

    begin_case();   // every key length and string length (values and string-array elements)
    n = 0;
    uint64_t lens[] = { UINT64_MAX, 1ull << 63, (uint64_t)base.n, (uint64_t)base.n - 8, 1u << 20 };
    for (int k = 0; k < m.n_kv_marks; k++)
        for (int i = 0; i < 5; i++) n += bad64(&base, m.key_len[k], lens[i], "keylen.gguf", NULL);
    for (int s = 0; s < m.n_str; s++)
        for (int i = 0; i < 5; i++) n += bad64(&base, m.str_len[s], lens[i], "strlen.gguf", NULL);
    for (int t = 0; t < m.nt; t++)
        for (int i = 0; i < 5; i++) n += bad64(&base, m.t_name[t], lens[i], "namelen.gguf", NULL);
    end_case("huge_string_lengths", n);

    begin_case();   // every array count, including the nested ones
    n = 0;
    for (int a = 0; a < m.n_arr; a++)
        for (int i = 0; i < 5; i++) n += bad64(&base, m.arr_count[a], lens[i], "arrcount.gguf", NULL);
    end_case("huge_array_counts", n);

    begin_case();   // unknown value types for keys and array elements
    n = 0;
    uint32_t vts[] = { GGUF_VT_COUNT, 0xffffffffu, 1000 };
    for (int k = 0; k < m.n_kv_marks; k++)
        for (int i = 0; i < 3; i++) n += bad32(&base, m.kv_type[k], vts[i], "vtype.gguf", "type");
    for (int a = 0; a < m.n_arr; a++)
        for (int i = 0; i < 3; i++) n += bad32(&base, m.arr_type[a], vts[i], "arrtype.gguf", "type");
    end_case("unknown_value_types", n);

    begin_case();
    n = 0;
    uint32_t dims[] = { 0, 5, 0xffffffffu };
    for (int t = 0; t < m.nt; t++)
        for (int i = 0; i < 3; i++) n += bad32(&base, m.t_ndims[t], dims[i], "ndims.gguf", NULL);
    end_case("bad_n_dims", n);

    begin_case();   // ne: zero, negative, overflowing the element count, not a block multiple
    n = 0;
    uint64_t nes[] = { 0, UINT64_MAX, 1ull << 62, (uint64_t)INT64_MAX, 1ull << 33 };
    for (int t = 0; t < m.nt; t++)
        for (int i = 0; i < 5; i++) n += bad64(&base, m.t_ne0[t], nes[i], "ne.gguf", NULL);
    n += bad64(&base, m.t_ne0[1], 33, "ne.gguf", "block size");    // Q8_0 row of 33
    n += bad64(&base, m.t_ne0[2], 128, "ne.gguf", "block size");   // Q4_K row of 128
    end_case("bad_ne", n);

    begin_case();
    n = 0;
    uint32_t tts[] = { 3, 4, 15, 31, 43, 0xffffffffu };
    for (int t = 0; t < m.nt; t++)
        for (int i = 0; i < 6; i++) n += bad32(&base, m.t_type[t], tts[i], "ttype.gguf", "type");
    end_case("unknown_tensor_types", n);

    begin_case();   // general.alignment: 0, 3, 2^31+1, not u32, and 64 with 32-aligned offsets
    {
        Marks ma;
        B ab = build(&a32, &ma);
        n = 0;
        uint32_t als[] = { 0, 3, 0x80000001u, 48 };
        for (int i = 0; i < 4; i++) n += bad32(&ab, ma.align_val, als[i], "align.gguf", "alignment");
        n += bad32(&ab, ma.align_type, GGUF_VT_INT32, "align.gguf", "alignment");
        n += bad32(&ab, ma.align_type, GGUF_VT_FLOAT32, "align.gguf", "alignment");
        n += bad32(&ab, ma.align_val, 64, "align.gguf", NULL);   // tensor 2 sits at offset 160: not 64-aligned
        free(ab.p);
    }
    end_case("bad_alignment", n);

    begin_case();
    n = 0;
    for (int t = 1; t < m.nt; t++) {
        uint64_t off;
        memcpy(&off, base.p + m.t_off[t], 8);
        n += bad64(&base, m.t_off[t], off + 1, "misaligned.gguf", "alignment");
        n += bad64(&base, m.t_off[t], off + 16, "misaligned.gguf", "alignment");
    }
    end_case("misaligned_tensor", n);

    begin_case();   // data past the end: just past, far past, and offsets whose end overflows 64 bits
    n = 0;
    for (int t = 0; t < m.nt; t++) {
        n += bad64(&base, m.t_off[t], (base.n - m.data_offset + 31) / 32 * 32, "outside.gguf", NULL);
        n += bad64(&base, m.t_off[t], 1ull << 62, "outside.gguf", NULL);
        n += bad64(&base, m.t_off[t], UINT64_MAX - 31, "outside.gguf", NULL);
    }
    {   // last tensor one aligned step later: ends past the file by a little
        uint64_t off;
        memcpy(&off, base.p + m.t_off[m.nt - 1], 8);
        n += bad64(&base, m.t_off[m.nt - 1], off + 32, "outside.gguf", "past the end");
    }
    end_case("tensor_outside_file", n);

    begin_case();   // overlaps: two tensors at the same offset, and one starting inside another
    n = 0;
    for (int t = 1; t < m.nt; t++) {
        n += bad64(&base, m.t_off[t], 0, "overlap.gguf", "overlap");
        uint64_t prev;
        memcpy(&prev, base.p + m.t_off[t - 1], 8);
        if (ggml_row_bytes(tensors[t - 1].type, tensors[t - 1].ne[0]) * (uint64_t)tensors[t - 1].ne[1] > 32)
            n += bad64(&base, m.t_off[t], prev + 32, "overlap.gguf", "overlap");
    }
    end_case("overlapping_tensors", n);

    begin_case();   // duplicates and bad names: built as variants (lengths change)
    n = 0;
    Spec bads[6] = { spec, spec, spec, spec, spec, spec };
    const char *bad_expect[6] = { "duplicate metadata key", "duplicate tensor name", "empty key", "empty name",
                                  "NUL", "too long" };
    bads[0].dup_key = 1; bads[1].dup_tensor = 1; bads[2].empty_key = 1; bads[3].empty_name = 1;
    bads[4].nul_name = 1; bads[5].long_name = 1;
    for (int i = 0; i < 6; i++) {
        Marks mm;
        B b = build(&bads[i], &mm);
        try_open(b.p, b.n, "names.gguf", 0, bad_expect[i], 1); n++;
        free(b.p);
    }
    end_case("duplicates_and_bad_names", n);

    begin_case();   // nested array bombs: too deep, and a wide one that claims more sub-arrays than exist
    n = 0;
    int depths[] = { 4, 5, 64, 100000 };
    for (int i = 0; i < 4; i++) {
        Spec d = spec;
        d.depth = depths[i];
        Marks mm;
        B b = build(&d, &mm);
        try_open(b.p, b.n, "deep.gguf", 0, "nested", 0); n++;
        free(b.p);
    }
    {
        Spec w = spec;
        w.wide = 1000;
        Marks mm;
        B b = build(&w, &mm);
        // the wide key's count sits 12 bytes after its type field: find it by its known value
        for (size_t at = 0; at + 8 <= b.n; at++) {
            uint64_t v;
            memcpy(&v, b.p + at, 8);
            if (v == 1000) { n += bad64(&b, at, 1u << 28, "wide.gguf", NULL); n += bad64(&b, at, 1001, "wide.gguf", NULL); break; }
        }
        free(b.p);
    }
    end_case("nested_array_bombs", n);

    begin_case();   // random mutations: opening may succeed or fail, but never crash, and a failure is one line
    int opened = 0;
    for (int i = 0; i < 20000; i++) {
        uint8_t *c = malloc(base.n);
        memcpy(c, base.p, base.n);
        size_t lim = rnd() % 3 ? m.data_offset : base.n;   // mostly the header
        int k = 1 + (int)(rnd() % 4);
        for (int j = 0; j < k; j++) {
            size_t at = rnd() % lim;
            switch (rnd() % 4) {
            case 0: c[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 1: c[at] = (uint8_t)rnd(); break;
            case 2: c[at] = 0xff; break;
            default: c[at] = 0; break;
            }
        }
        size_t len = rnd() % 8 ? base.n : rnd() % base.n;
        GGUFFile f;
        char err[512];
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, c, len);
        if (gguf_open_mem(&f, copy, len, "mutant.gguf", err, sizeof err) == 0) { opened++; gguf_close(&f); }
        else try_open(c, len, "mutant.gguf", 0, NULL, 0);
        free(copy);
        free(c);
    }
    printf("  %d of 20000 mutants still opened (mutations in unchecked bytes such as values and padding)\n", opened);
    end_case("random_mutations", 20000);

    begin_case();   // the base still opens after all that (no state leaks between opens)
    try_open(base.p, base.n, "valid-again.gguf", 1, NULL, 1);
    end_case("valid_file_still_opens", 1);

    free(base.p);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
