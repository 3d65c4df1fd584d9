// test_gguf.c — GGUF writer -> reader round trips: every metadata value type (nested arrays, string arrays,
// empty and non-ASCII strings), tensors of every supported type and rank with random bytes, typed getters,
// chunked writes, alignment, lookup of many tensors, writer error paths; prints the writer's speed (no assert).
#include "../gguf/gguf.h"
#include "../gguf/quants.h"
#include "../host/util.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

static Rng rng;
static char path[256];

static const uint32_t all_types[] = { GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0,
                                      GGML_TYPE_Q5_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K };
#define N_TYPES (int)(sizeof all_types / sizeof all_types[0])

static void fill(void *p, size_t n) {
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rng_u64(&rng);
}

// Random scalar bytes for a value type; floats are kept finite and bools 0/1 so comparisons are meaningful.
static void rand_scalar(uint32_t vt, uint8_t *out) {
    fill(out, gguf_vtype_size(vt));
    if (vt == GGUF_VT_BOOL) out[0] &= 1;
    if (vt == GGUF_VT_FLOAT32) { float f = rng_normal(&rng) * 1000; memcpy(out, &f, 4); }
    if (vt == GGUF_VT_FLOAT64) { double d = rng_normal(&rng) * 1e100; memcpy(out, &d, 8); }
}

// Serialized bytes (appended to buf) for raw nested values.
typedef struct { uint8_t *p; size_t n, cap; } Buf;
static void bput(Buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2 + 64; b->p = xrealloc(b->p, b->cap); }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void bu32(Buf *b, uint32_t v) { bput(b, &v, 4); }
static void bu64(Buf *b, uint64_t v) { bput(b, &v, 8); }

typedef struct {
    char key[64];
    uint32_t type, arr_type;
    uint64_t arr_n;
    uint8_t val[8];          // scalars
    uint8_t *arr;            // scalar arrays
    char **strs; uint64_t *lens;  // strings (1 for STRING, arr_n for arrays)
} ExpKV;

static const char *sample_strs[] = { "", "hello", "Ġthe", "日本語テキスト", "emoji 😀 + combining é", "<|im_start|>",
                                     "tab\tnew\nline", "\xe2\x96\x81" };

static char *rand_str(uint64_t *len) {
    const char *s = sample_strs[rng_u64(&rng) % (sizeof sample_strs / sizeof sample_strs[0])];
    int extra = (int)(rng_u64(&rng) % 3);
    size_t n = strlen(s) + (size_t)extra * 3;
    char *out = xmalloc(n + 1);
    strcpy(out, s);
    for (int i = 0; i < extra; i++) memcpy(out + strlen(s) + 3 * i, "abc", 3);
    out[n] = 0;
    *len = n;
    return out;
}

static ExpKV kvs[64];
static int n_kvs;

static void build_kvs(GGUFWriter *w) {
    n_kvs = 0;
    static const uint32_t scalars[] = { GGUF_VT_UINT8, GGUF_VT_INT8, GGUF_VT_UINT16, GGUF_VT_INT16, GGUF_VT_UINT32,
                                        GGUF_VT_INT32, GGUF_VT_FLOAT32, GGUF_VT_BOOL, GGUF_VT_UINT64, GGUF_VT_INT64,
                                        GGUF_VT_FLOAT64 };
    for (int i = 0; i < 11; i++) {
        ExpKV *e = &kvs[n_kvs++];
        memset(e, 0, sizeof *e);
        snprintf(e->key, sizeof e->key, "test.scalar.%s", gguf_vtype_name(scalars[i]));
        e->type = scalars[i];
        rand_scalar(e->type, e->val);
        gguf_writer_kv_scalar(w, e->key, e->type, e->val);
    }
    for (int i = 0; i < 11; i++) {   // arrays of each scalar type; one of them empty
        ExpKV *e = &kvs[n_kvs++];
        memset(e, 0, sizeof *e);
        snprintf(e->key, sizeof e->key, "test.array.%s", gguf_vtype_name(scalars[i]));
        e->type = GGUF_VT_ARRAY;
        e->arr_type = scalars[i];
        e->arr_n = i == 3 ? 0 : 1 + rng_u64(&rng) % 300;
        e->arr = xmalloc(e->arr_n * gguf_vtype_size(e->arr_type) + 1);
        for (uint64_t j = 0; j < e->arr_n; j++) rand_scalar(e->arr_type, e->arr + j * gguf_vtype_size(e->arr_type));
        gguf_writer_kv_arr(w, e->key, e->arr_type, e->arr, e->arr_n);
    }
    for (int i = 0; i < 4; i++) {    // strings: empty, unicode, with an embedded NUL
        ExpKV *e = &kvs[n_kvs++];
        memset(e, 0, sizeof *e);
        snprintf(e->key, sizeof e->key, "test.string.%d", i);
        e->type = GGUF_VT_STRING;
        e->strs = xmalloc(sizeof *e->strs);
        e->lens = xmalloc(sizeof *e->lens);
        if (i == 0) { e->strs[0] = xstrdup(""); e->lens[0] = 0; }
        else if (i == 1) { e->strs[0] = xmalloc(4); memcpy(e->strs[0], "a\0b", 4); e->lens[0] = 3; }
        else e->strs[0] = rand_str(&e->lens[0]);
        gguf_writer_kv_str(w, e->key, e->strs[0], e->lens[0]);
    }
    {   // a tokenizer-like string array with empty and unicode entries
        ExpKV *e = &kvs[n_kvs++];
        memset(e, 0, sizeof *e);
        strcpy(e->key, "tokenizer.ggml.tokens");
        e->type = GGUF_VT_ARRAY;
        e->arr_type = GGUF_VT_STRING;
        e->arr_n = 5000;
        e->strs = xmalloc(e->arr_n * sizeof *e->strs);
        e->lens = xmalloc(e->arr_n * sizeof *e->lens);
        for (uint64_t j = 0; j < e->arr_n; j++) e->strs[j] = rand_str(&e->lens[j]);
        gguf_writer_kv_arr_str(w, e->key, (const char *const *)e->strs, e->lens, e->arr_n);
    }
    {   // nested: array of 3 arrays of i32 (lengths 2, 0, 5), then array of 2 arrays of strings
        ExpKV *e = &kvs[n_kvs++];
        memset(e, 0, sizeof *e);
        strcpy(e->key, "test.nested.i32");
        e->type = GGUF_VT_ARRAY; e->arr_type = GGUF_VT_ARRAY; e->arr_n = 3;
        Buf b = { 0 };
        bu32(&b, GGUF_VT_ARRAY); bu64(&b, 3);
        int lens[3] = { 2, 0, 5 };
        for (int k = 0; k < 3; k++) {
            bu32(&b, GGUF_VT_INT32); bu64(&b, (uint64_t)lens[k]);
            for (int j = 0; j < lens[k]; j++) bu32(&b, (uint32_t)rng_u64(&rng));
        }
        gguf_writer_kv_raw(w, e->key, GGUF_VT_ARRAY, b.p, b.n);
        free(b.p);
        e = &kvs[n_kvs++];
        memset(e, 0, sizeof *e);
        strcpy(e->key, "test.nested.str");
        e->type = GGUF_VT_ARRAY; e->arr_type = GGUF_VT_ARRAY; e->arr_n = 2;
        b = (Buf){ 0 };
        bu32(&b, GGUF_VT_ARRAY); bu64(&b, 2);
        for (int k = 0; k < 2; k++) {
            bu32(&b, GGUF_VT_STRING); bu64(&b, 2);
            bu64(&b, 0);
            bu64(&b, 6); bput(&b, "nested", 6);
        }
        gguf_writer_kv_raw(w, e->key, GGUF_VT_ARRAY, b.p, b.n);
        free(b.p);
    }
    {   // the usual scalar helpers
        ExpKV *e = &kvs[n_kvs++];
        memset(e, 0, sizeof *e);
        strcpy(e->key, "qwen3.block_count");
        e->type = GGUF_VT_UINT32;
        uint32_t v = 28;
        memcpy(e->val, &v, 4);
        gguf_writer_kv_u32(w, e->key, v);
    }
}

static void free_kvs(void) {
    for (int i = 0; i < n_kvs; i++) {
        ExpKV *e = &kvs[i];
        free(e->arr);
        uint64_t ns = e->type == GGUF_VT_STRING ? 1 : e->arr_type == GGUF_VT_STRING ? e->arr_n : 0;
        for (uint64_t j = 0; j < ns; j++) free(e->strs[j]);
        free(e->strs); free(e->lens);
    }
    n_kvs = 0;
}

static void check_kvs(const GGUFFile *f) {
    CHECK(f->n_kv == (uint64_t)n_kvs, "n_kv %llu, expected %d", (unsigned long long)f->n_kv, n_kvs);
    for (int i = 0; i < n_kvs; i++) {
        const ExpKV *e = &kvs[i];
        const GGUFKV *kv = gguf_find_kv(f, e->key);
        CHECK(kv != NULL, "key %s missing", e->key);
        if (!kv) continue;
        CHECK(kv == &f->kv[i], "key %s found at the wrong index", e->key);
        CHECK(kv->type == e->type, "key %s type %u, expected %u", e->key, kv->type, e->type);
        if (kv->type != e->type) continue;
        if (gguf_vtype_size(e->type)) CHECK(!memcmp(kv->data, e->val, gguf_vtype_size(e->type)), "key %s value differs", e->key);
        if (e->type == GGUF_VT_STRING)
            CHECK(kv->strs && kv->strs[0].len == e->lens[0] && !memcmp(kv->strs[0].ptr, e->strs[0], e->lens[0]),
                  "key %s string differs", e->key);
        if (e->type != GGUF_VT_ARRAY) continue;
        CHECK(kv->arr_type == e->arr_type && kv->arr_n == e->arr_n, "key %s array header differs", e->key);
        if (kv->arr_type != e->arr_type || kv->arr_n != e->arr_n) continue;
        if (gguf_vtype_size(e->arr_type)) {
            CHECK(!memcmp(kv->data, e->arr, e->arr_n * gguf_vtype_size(e->arr_type)), "key %s array data differs", e->key);
            int bad = 0;   // element accessors agree with the raw bytes
            for (uint64_t j = 0; j < e->arr_n; j++) {
                const uint8_t *p = e->arr + j * gguf_vtype_size(e->arr_type);
                switch (e->arr_type) {
                case GGUF_VT_UINT8: bad += gguf_arr_int(kv, j) != *(const uint8_t *)p; break;
                case GGUF_VT_INT8: bad += gguf_arr_int(kv, j) != *(const int8_t *)p; break;
                case GGUF_VT_INT16: { int16_t v; memcpy(&v, p, 2); bad += gguf_arr_int(kv, j) != v; break; }
                case GGUF_VT_INT32: { int32_t v; memcpy(&v, p, 4); bad += gguf_arr_int(kv, j) != v; break; }
                case GGUF_VT_INT64: { int64_t v; memcpy(&v, p, 8); bad += gguf_arr_int(kv, j) != v; break; }
                case GGUF_VT_FLOAT32: { float v; memcpy(&v, p, 4); bad += gguf_arr_float(kv, j) != v; break; }
                case GGUF_VT_FLOAT64: { double v; memcpy(&v, p, 8); bad += gguf_arr_float(kv, j) != v; break; }
                default: break;
                }
            }
            CHECK(bad == 0, "key %s: %d elements read back wrong through gguf_arr_*", e->key, bad);
        }
        if (e->arr_type == GGUF_VT_STRING) {
            int bad = 0;
            for (uint64_t j = 0; j < e->arr_n; j++)
                bad += kv->strs[j].len != e->lens[j] || memcmp(kv->strs[j].ptr, e->strs[j], e->lens[j]);
            CHECK(bad == 0, "key %s: %d strings differ", e->key, bad);
        }
    }
}

typedef struct { char name[65]; uint32_t type, n_dims; int64_t ne[4]; uint64_t nbytes; uint8_t *data; } ExpT;

static void make_tensors(ExpT *t, int n) {
    for (int i = 0; i < n; i++) {
        t[i].type = all_types[i % N_TYPES];
        t[i].n_dims = 1 + (uint32_t)(rng_u64(&rng) % 4);
        if (i == 0) snprintf(t[i].name, sizeof t[i].name, "%064d", 7);   // exactly 64 bytes: the limit
        else snprintf(t[i].name, sizeof t[i].name, "blk.%d.%s.weight", i, gguf_type_name(t[i].type));
        uint64_t rows = 1;
        for (int d = 0; d < 4; d++) t[i].ne[d] = 1;
        t[i].ne[0] = ggml_blck_size(t[i].type) * (int64_t)(1 + rng_u64(&rng) % 3);
        for (uint32_t d = 1; d < t[i].n_dims; d++) { t[i].ne[d] = 1 + (int64_t)(rng_u64(&rng) % 4); rows *= (uint64_t)t[i].ne[d]; }
        t[i].nbytes = ggml_row_bytes(t[i].type, t[i].ne[0]) * rows;
        t[i].data = xmalloc(t[i].nbytes);
        fill(t[i].data, t[i].nbytes);
    }
}

static void check_tensors(const GGUFFile *f, const ExpT *t, int n) {
    CHECK(f->n_tensors == (uint64_t)n, "n_tensors %llu, expected %d", (unsigned long long)f->n_tensors, n);
    for (int i = 0; i < n; i++) {
        const GGUFTensor *g = gguf_find_tensor(f, t[i].name);
        CHECK(g != NULL, "tensor %s missing", t[i].name);
        if (!g) continue;
        CHECK(g->type == t[i].type && g->n_dims == t[i].n_dims, "tensor %s type/rank differ", t[i].name);
        CHECK(!memcmp(g->ne, t[i].ne, sizeof g->ne), "tensor %s shape differs", t[i].name);
        CHECK(g->nbytes == t[i].nbytes, "tensor %s nbytes %llu, expected %llu", t[i].name,
              (unsigned long long)g->nbytes, (unsigned long long)t[i].nbytes);
        CHECK(g->offset % f->alignment == 0, "tensor %s offset %llu not aligned", t[i].name, (unsigned long long)g->offset);
        CHECK(g->nbytes == t[i].nbytes && !memcmp(g->data, t[i].data, t[i].nbytes), "tensor %s data differ", t[i].name);
    }
}

// Writes kvs + tensors; chunk = 0 writes each tensor whole, 1 writes all data in random-size pieces that cross
// tensor boundaries.
static int write_file(const char *p, ExpT *t, int n, int chunked, uint32_t alignment) {
    char err[512];
    GGUFWriter *w = gguf_writer_open(p, err, sizeof err);
    if (!w) { printf("  %s\n", err); return -1; }
    if (alignment) gguf_writer_set_alignment(w, alignment);
    build_kvs(w);
    for (int i = 0; i < n; i++) gguf_writer_tensor_info(w, t[i].name, t[i].type, t[i].n_dims, t[i].ne);
    gguf_writer_begin_data(w);
    if (!chunked) {
        for (int i = 0; i < n; i++) gguf_writer_write(w, t[i].data, t[i].nbytes);
    } else {
        size_t total = 0;
        for (int i = 0; i < n; i++) total += t[i].nbytes;
        uint8_t *all = xmalloc(total + 1), *q = all;
        for (int i = 0; i < n; i++) { memcpy(q, t[i].data, t[i].nbytes); q += t[i].nbytes; }
        for (size_t off = 0; off < total;) {
            size_t k = 1 + rng_u64(&rng) % 700;
            if (k > total - off) k = total - off;
            gguf_writer_write(w, all + off, k);
            off += k;
        }
        free(all);
    }
    int rc = gguf_writer_close(w, err, sizeof err);
    if (rc) printf("  writer: %s\n", err);
    return rc;
}

static void free_tensors(ExpT *t, int n) { for (int i = 0; i < n; i++) free(t[i].data); }

static void roundtrip_every_type(void) {
    ExpT t[2 * N_TYPES];
    make_tensors(t, 2 * N_TYPES);
    CHECK(write_file(path, t, 2 * N_TYPES, 0, 0) == 0, "write failed");
    GGUFFile f;
    char err[512];
    int rc = gguf_open(&f, path, err, sizeof err);
    CHECK(rc == 0, "open: %s", err);
    if (rc == 0) {
        CHECK(f.version == 3 && f.alignment == 32 && f.data_offset % 32 == 0, "header fields");
        check_kvs(&f);
        check_tensors(&f, t, 2 * N_TYPES);
        const GGUFKV *nest = gguf_find_kv(&f, "test.nested.str");
        CHECK(nest && nest->strs == NULL, "nested arrays are not indexed");
        gguf_close(&f);
    }
    free_kvs();
    free_tensors(t, 2 * N_TYPES);
}

// Chunked writes that cross tensor boundaries give the same bytes as whole-tensor writes; open_mem == open.
static void chunked_writes_and_open_mem(void) {
    ExpT t[N_TYPES];
    make_tensors(t, N_TYPES);
    char p2[300];
    snprintf(p2, sizeof p2, "%s.b", path);
    uint64_t seed = rng_u64(&rng);
    Rng keep = rng;
    rng_seed(&rng, seed);
    CHECK(write_file(path, t, N_TYPES, 0, 0) == 0, "write failed");
    free_kvs();
    rng_seed(&rng, seed);   // same metadata again
    CHECK(write_file(p2, t, N_TYPES, 1, 0) == 0, "chunked write failed");
    rng = keep;
    FILE *a = fopen(path, "rb"), *b = fopen(p2, "rb");
    CHECK(a && b, "reopen");
    if (a && b) {
        fseek(a, 0, SEEK_END); fseek(b, 0, SEEK_END);
        long na = ftell(a), nb = ftell(b);
        CHECK(na == nb, "sizes %ld vs %ld", na, nb);
        rewind(a); rewind(b);
        uint8_t *ba = xmalloc((size_t)na), *bb = xmalloc((size_t)nb);
        CHECK(fread(ba, 1, (size_t)na, a) == (size_t)na && fread(bb, 1, (size_t)nb, b) == (size_t)nb, "read");
        CHECK(na == nb && !memcmp(ba, bb, (size_t)na), "chunked and whole writes differ");
        GGUFFile f;
        char err[512];
        CHECK(gguf_open_mem(&f, ba, (uint64_t)na, "mem.gguf", err, sizeof err) == 0, "open_mem: %s", err);
        if (f.map) { check_kvs(&f); check_tensors(&f, t, N_TYPES); gguf_close(&f); }
        free(ba); free(bb);
    }
    if (a) fclose(a);
    if (b) fclose(b);
    unlink(p2);
    free_kvs();
    free_tensors(t, N_TYPES);
}

static void custom_alignment(void) {
    ExpT t[N_TYPES];
    make_tensors(t, N_TYPES);
    CHECK(write_file(path, t, N_TYPES, 0, 256) == 0, "write failed");
    GGUFFile f;
    char err[512];
    int rc = gguf_open(&f, path, err, sizeof err);
    CHECK(rc == 0, "open: %s", err);
    if (rc == 0) {
        CHECK(f.alignment == 256 && f.data_offset % 256 == 0, "alignment %llu", (unsigned long long)f.alignment);
        uint32_t a = 0;
        CHECK(gguf_get_u32(&f, "general.alignment", &a) == 0 && a == 256, "general.alignment kv");
        check_tensors(&f, t, N_TYPES);
        gguf_close(&f);
    }
    free_kvs();
    free_tensors(t, N_TYPES);
}

static void typed_getters(void) {
    char err[512];
    GGUFWriter *w = gguf_writer_open(path, err, sizeof err);
    CHECK(w != NULL, "%s", err);
    if (!w) return;
    uint8_t u8 = 200; int8_t i8 = -5; int64_t big = (int64_t)1 << 40; double f64 = 0.1; int32_t i32 = 7;
    uint64_t u64big = UINT64_MAX;
    gguf_writer_kv_scalar(w, "u8", GGUF_VT_UINT8, &u8);
    gguf_writer_kv_scalar(w, "i8", GGUF_VT_INT8, &i8);
    gguf_writer_kv_scalar(w, "i64", GGUF_VT_INT64, &big);
    gguf_writer_kv_scalar(w, "f64", GGUF_VT_FLOAT64, &f64);
    gguf_writer_kv_i32(w, "i32", i32);
    gguf_writer_kv_u64(w, "u64max", u64big);
    gguf_writer_kv_f32(w, "f32", 1.5f);
    gguf_writer_kv_bool(w, "yes", 1);
    gguf_writer_kv_str(w, "s", "abc", 3);
    CHECK(gguf_writer_close(w, err, sizeof err) == 0, "%s", err);
    GGUFFile f;
    if (gguf_open(&f, path, err, sizeof err)) { CHECK(0, "open: %s", err); return; }
    uint32_t v32; uint64_t v64; float fl; int b; GGUFStr s;
    CHECK(gguf_get_u32(&f, "u8", &v32) == 0 && v32 == 200, "u8 -> u32");
    CHECK(gguf_get_u32(&f, "i8", &v32) == -1, "negative -> u32 must fail");
    CHECK(gguf_get_u32(&f, "i64", &v32) == -1, "2^40 -> u32 must fail");
    CHECK(gguf_get_u64(&f, "i64", &v64) == 0 && v64 == (uint64_t)big, "i64 -> u64");
    CHECK(gguf_get_u64(&f, "u64max", &v64) == 0 && v64 == UINT64_MAX, "u64");
    CHECK(gguf_get_u32(&f, "i32", &v32) == 0 && v32 == 7, "i32 -> u32");
    CHECK(gguf_get_f32(&f, "f32", &fl) == 0 && fl == 1.5f, "f32");
    CHECK(gguf_get_f32(&f, "f64", &fl) == 0 && fl == (float)0.1, "f64 -> f32");
    CHECK(gguf_get_f32(&f, "i32", &fl) == 0 && fl == 7.0f, "i32 -> f32");
    CHECK(gguf_get_f32(&f, "u64max", &fl) == -1, "u64 max is not exact in f32");
    CHECK(gguf_get_u32(&f, "f32", &v32) == -1, "float -> u32 must fail");
    CHECK(gguf_get_bool(&f, "yes", &b) == 0 && b == 1, "bool");
    CHECK(gguf_get_bool(&f, "u8", &b) == -1, "u8 is not a bool");
    CHECK(gguf_get_str(&f, "s", &s) == 0 && s.len == 3 && !memcmp(s.ptr, "abc", 3), "str");
    CHECK(gguf_get_str(&f, "u8", &s) == -1, "u8 is not a string");
    CHECK(gguf_get_u32(&f, "missing", &v32) == -1 && gguf_find_kv(&f, "missing") == NULL, "missing key");
    CHECK(gguf_find_tensor(&f, "x") == NULL && f.n_tensors == 0, "no tensors");
    gguf_close(&f);
}

// 800 tensors (a large model's count): every name found through the index, and a few that are not there.
static void many_tensors_lookup(void) {
    char err[512];
    GGUFWriter *w = gguf_writer_open(path, err, sizeof err);
    CHECK(w != NULL, "%s", err);
    if (!w) return;
    enum { N = 800 };
    int64_t ne[1] = { 32 };
    char name[80];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "blk.%d.ffn_%s.weight", i / 8, (const char *[]){ "a", "b", "c", "d", "e", "f", "g", "h" }[i % 8]);
        gguf_writer_tensor_info(w, name, GGML_TYPE_F32, 1, ne);
    }
    gguf_writer_begin_data(w);
    float row[32];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 32; j++) row[j] = (float)i + j * 0.5f;
        gguf_writer_write(w, row, sizeof row);
    }
    CHECK(gguf_writer_close(w, err, sizeof err) == 0, "%s", err);
    GGUFFile f;
    if (gguf_open(&f, path, err, sizeof err)) { CHECK(0, "open: %s", err); return; }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "blk.%d.ffn_%s.weight", i / 8, (const char *[]){ "a", "b", "c", "d", "e", "f", "g", "h" }[i % 8]);
        const GGUFTensor *t = gguf_find_tensor(&f, name);
        float v0 = -1;
        if (t) memcpy(&v0, t->data, 4);
        bad += !t || strcmp(t->name, name) || v0 != (float)i;
    }
    CHECK(bad == 0, "%d lookups wrong", bad);
    CHECK(!gguf_find_tensor(&f, "blk.100.ffn_a.weight") && !gguf_find_tensor(&f, "") &&
          !gguf_find_tensor(&f, "blk.0.ffn_a.weigh"), "absent names must not be found");
    gguf_close(&f);
}

static int file_exists(const char *p) { struct stat st; return stat(p, &st) == 0; }

static void writer_errors(void) {
    char err[512];
    int64_t ne[2] = { 64, 3 };
    uint8_t data[64 * 3 * 4] = { 0 };
    // Too few bytes: close fails, names the tensor, removes the partial file.
    GGUFWriter *w = gguf_writer_open(path, err, sizeof err);
    gguf_writer_tensor_info(w, "a", GGML_TYPE_F32, 2, ne);
    gguf_writer_begin_data(w);
    gguf_writer_write(w, data, 100);
    err[0] = 0;
    CHECK(gguf_writer_close(w, err, sizeof err) == -1 && strstr(err, "'a'") && strstr(err, path), "short: %s", err);
    CHECK(!file_exists(path), "partial file must be removed");
    // Too many bytes.
    w = gguf_writer_open(path, err, sizeof err);
    gguf_writer_tensor_info(w, "a", GGML_TYPE_F32, 2, ne);
    gguf_writer_begin_data(w);
    CHECK(gguf_writer_write(w, data, sizeof data) == 0, "exact write");
    CHECK(gguf_writer_write(w, data, 1) == -1, "one byte too many must fail");
    CHECK(gguf_writer_close(w, err, sizeof err) == -1, "close after overrun must fail");
    // Duplicate key, duplicate tensor, bad block multiple, unsupported type, bad rank.
    const char *what[] = { "duplicate key", "duplicate tensor", "block multiple", "unsupported type", "rank 5", "empty name" };
    for (int k = 0; k < 6; k++) {
        w = gguf_writer_open(path, err, sizeof err);
        gguf_writer_kv_u32(w, "k", 1);
        if (k == 0) gguf_writer_kv_u32(w, "k", 2);
        gguf_writer_tensor_info(w, "a", GGML_TYPE_F32, 2, ne);
        if (k == 1) gguf_writer_tensor_info(w, "a", GGML_TYPE_F32, 2, ne);
        if (k == 2) gguf_writer_tensor_info(w, "b", GGML_TYPE_Q4_K, 2, ne);
        if (k == 3) gguf_writer_tensor_info(w, "b", 3 /* Q4_1 */, 2, ne);
        if (k == 4) gguf_writer_tensor_info(w, "b", GGML_TYPE_F32, 5, ne);
        if (k == 5) gguf_writer_tensor_info(w, "", GGML_TYPE_F32, 2, ne);
        gguf_writer_begin_data(w);
        gguf_writer_write(w, data, sizeof data);
        err[0] = 0;
        CHECK(gguf_writer_close(w, err, sizeof err) == -1 && err[0], "%s must fail", what[k]);
    }
    CHECK(gguf_writer_open("/nonexistent-dir/x.gguf", err, sizeof err) == NULL && strstr(err, "/nonexistent-dir"),
          "unwritable path: %s", err);
}

// Not a test of speed (no timing assert): prints MB/s for one 256 MiB tensor written in 4 MiB pieces.
static void writer_speed(void) {
    const size_t total = 256u << 20, piece = 4u << 20;
    uint8_t *buf = xmalloc(piece);
    fill(buf, piece);
    char err[512];
    GGUFWriter *w = gguf_writer_open(path, err, sizeof err);
    CHECK(w != NULL, "%s", err);
    if (!w) { free(buf); return; }
    int64_t ne[2] = { 4096, (int64_t)(total / 4096 / 2) };
    gguf_writer_tensor_info(w, "big", GGML_TYPE_F16, 2, ne);
    gguf_writer_begin_data(w);
    double t0 = now_sec();
    for (size_t off = 0; off < total; off += piece) gguf_writer_write(w, buf, piece);
    int rc = gguf_writer_close(w, err, sizeof err);
    double dt = now_sec() - t0;
    CHECK(rc == 0, "%s", err);
    printf("  writer: %zu MiB in %.3f s = %.0f MB/s (page cache; not asserted)\n", total >> 20, dt, total / dt / 1e6);
    GGUFFile f;
    if (gguf_open(&f, path, err, sizeof err) == 0) {
        const GGUFTensor *t = gguf_find_tensor(&f, "big");
        CHECK(t && t->nbytes == total && !memcmp((const uint8_t *)t->data + total - piece, buf, piece), "big tensor data");
        gguf_close(&f);
    } else CHECK(0, "open: %s", err);
    free(buf);
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    snprintf(path, sizeof path, "/tmp/qwen3-ptx-test-gguf-%d.gguf", (int)getpid());
    RUN(roundtrip_every_type);
    RUN(chunked_writes_and_open_mem);
    RUN(custom_alignment);
    RUN(typed_getters);
    RUN(many_tensors_lookup);
    RUN(writer_errors);
    RUN(writer_speed);
    unlink(path);
    return test_end();
}
