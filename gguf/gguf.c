// gguf.c — GGUF v2/v3 reader (read-only mmap; every count, length and offset checked against the file size
// before it is used or allocated for) and a buffered writer (GGUF v3, alignment 32 unless told otherwise).
// defines: gguf_open, gguf_open_mem, gguf_close, gguf_find_*, gguf_get_*, gguf_arr_*, gguf_writer_*
//
// File layout (little-endian):  "GGUF" u32 version  u64 n_tensors  u64 n_kv
//   n_kv x      { str key, u32 value_type, value }            str = u64 len + bytes (no NUL)
//   n_tensors x { str name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to `general.alignment` (default 32), then the data section; tensor offsets are relative to it.
#include "gguf.h"
#include "quants.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME 64     // tensor name limit from the spec (GGML_MAX_NAME)
#define GGUF_MAX_DEPTH 4     // nested arrays deeper than this are rejected (no real file nests at all)
#define MIN_KV_BYTES 14      // key length (8) + key (>= 1, empty is rejected) + type (4) + value (>= 1)
#define MIN_TENSOR_BYTES 33  // name len (8) + name (>= 1) + n_dims (4) + ne[0] (8) + type (4) + offset (8)

// ---------------------------------------------------------------- type names

static const char *const ggml_names[] = {
    [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [6] = "Q5_0", [7] = "Q5_1", [8] = "Q8_0", [9] = "Q8_1",
    [10] = "Q2_K", [11] = "Q3_K", [12] = "Q4_K", [13] = "Q5_K", [14] = "Q6_K", [15] = "Q8_K", [16] = "IQ2_XXS",
    [17] = "IQ2_XS", [18] = "IQ3_XXS", [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S", [22] = "IQ2_S",
    [23] = "IQ4_XS", [24] = "I8", [25] = "I16", [26] = "I32", [27] = "I64", [28] = "F64", [29] = "IQ1_M",
    [30] = "BF16", [34] = "TQ1_0", [35] = "TQ2_0", [39] = "MXFP4", [40] = "NVFP4",
};
static const char *const vt_names[GGUF_VT_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
};

const char *gguf_type_name(uint32_t t) {
    if (t < sizeof ggml_names / sizeof ggml_names[0] && ggml_names[t]) return ggml_names[t];
    return "?";
}
const char *gguf_vtype_name(uint32_t vt) { return vt < GGUF_VT_COUNT ? vt_names[vt] : "?"; }

int gguf_type_supported(uint32_t t) {
    switch (t) {
    case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16: case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q5_0: case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K: return 1;
    default: return 0;
    }
}

// Bytes of one scalar value; 0 for STRING, ARRAY and unknown types.
uint64_t gguf_vtype_size(uint32_t vt) {
    switch (vt) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

// The fewest bytes one array element of this type can occupy: bounds element counts by the bytes left.
static uint64_t min_elem_size(uint32_t vt) {
    if (vt == GGUF_VT_STRING) return 8;       // u64 length
    if (vt == GGUF_VT_ARRAY) return 12;       // u32 type + u64 count
    return gguf_vtype_size(vt);
}

// ---------------------------------------------------------------- bounded cursor (every read goes through it)

typedef struct {
    const uint8_t *p;
    uint64_t pos, size;     // invariant: pos <= size
    const char *name;       // file name for messages
    char *err; size_t errlen;
} Cursor;

static int fail(Cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Writes "<name>: <message>" into c->err; always returns -1 so callers can `return fail(...)`.
static int fail(Cursor *c, const char *fmt, ...) {
    if (!c->err || !c->errlen) return -1;
    int n = snprintf(c->err, c->errlen, "%s: ", c->name);
    if (n < 0) n = 0;
    if ((size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

// A printable copy of an untrusted name for messages: control bytes become '?', long names are cut.
static const char *printable(char *buf, size_t cap, const char *s, uint64_t len) {
    size_t n = 0;
    for (uint64_t i = 0; i < len && n + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[n++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (n + 4 >= cap && len > n) { memcpy(buf + n, "...", 3); n += 3; }
    buf[n] = 0;
    return buf;
}

static int need(Cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos)
        return fail(c, "file truncated in %s (needs %llu bytes at byte %llu, file has %llu bytes)", what,
                    (unsigned long long)n, (unsigned long long)c->pos, (unsigned long long)c->size);
    return 0;
}

static int read_u32(Cursor *c, uint32_t *v, const char *what) {
    if (need(c, 4, what)) return -1;
    memcpy(v, c->p + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int read_u64(Cursor *c, uint64_t *v, const char *what) {
    if (need(c, 8, what)) return -1;
    memcpy(v, c->p + c->pos, 8);
    c->pos += 8;
    return 0;
}

static int read_str(Cursor *c, GGUFStr *s, const char *what) {
    uint64_t len;
    if (read_u64(c, &len, what)) return -1;
    if (len > c->size - c->pos)
        return fail(c, "%s: string length %llu at byte %llu runs past the end of the file (%llu bytes)", what,
                    (unsigned long long)len, (unsigned long long)(c->pos - 8), (unsigned long long)c->size);
    s->ptr = (const char *)c->p + c->pos;
    s->len = len;
    c->pos += len;
    return 0;
}

// Reads an array header and checks that `count` elements could fit in the bytes left.
static int read_arr_header(Cursor *c, uint32_t *type, uint64_t *count, const char *what) {
    if (read_u32(c, type, what) || read_u64(c, count, what)) return -1;
    if (*type >= GGUF_VT_COUNT) return fail(c, "%s: unknown array element type %u", what, *type);
    uint64_t left = c->size - c->pos;
    if (*count > left / min_elem_size(*type))
        return fail(c, "%s: array of %llu %s elements cannot fit in the %llu bytes left", what,
                    (unsigned long long)*count, vt_names[*type], (unsigned long long)left);
    return 0;
}

// Validates and skips one value of type vt (nested arrays recurse, at most GGUF_MAX_DEPTH deep).
static int skip_value(Cursor *c, uint32_t vt, int depth, const char *what) {
    if (vt == GGUF_VT_STRING) { GGUFStr s; return read_str(c, &s, what); }
    if (vt != GGUF_VT_ARRAY) {
        if (vt >= GGUF_VT_COUNT) return fail(c, "%s: unknown value type %u", what, vt);
        if (need(c, gguf_vtype_size(vt), what)) return -1;
        c->pos += gguf_vtype_size(vt);
        return 0;
    }
    if (depth >= GGUF_MAX_DEPTH) return fail(c, "%s: arrays nested deeper than %d levels", what, GGUF_MAX_DEPTH);
    uint32_t et; uint64_t n;
    if (read_arr_header(c, &et, &n, what)) return -1;
    if (gguf_vtype_size(et)) { c->pos += n * gguf_vtype_size(et); return 0; }  // fits: checked by read_arr_header
    for (uint64_t i = 0; i < n; i++)
        if (skip_value(c, et, depth + 1, what)) return -1;
    return 0;
}

// ---------------------------------------------------------------- hash index (open addressing, FNV-1a)

typedef struct {
    uint64_t kv_mask, t_mask;
    uint32_t *kv_slot, *t_slot;   // 0 = empty, else index + 1
} Index;

static uint64_t fnv1a(const char *s, uint64_t n) {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
    return h;
}

static uint64_t table_size(uint64_t n) {
    uint64_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    return cap;
}

static int kv_key_eq(const GGUFKV *kv, const char *s, uint64_t n) {
    return kv->key.len == n && memcmp(kv->key.ptr, s, n) == 0;
}

// Returns the slot holding key s (or the empty slot where it would go).
static uint32_t *kv_slot(const GGUFFile *f, const Index *ix, const char *s, uint64_t n) {
    uint64_t h = fnv1a(s, n) & ix->kv_mask;
    while (ix->kv_slot[h] && !kv_key_eq(&f->kv[ix->kv_slot[h] - 1], s, n)) h = (h + 1) & ix->kv_mask;
    return &ix->kv_slot[h];
}

static uint32_t *tensor_slot(const GGUFFile *f, const Index *ix, const char *s, uint64_t n) {
    uint64_t h = fnv1a(s, n) & ix->t_mask;
    while (ix->t_slot[h]) {
        const char *name = f->tensors[ix->t_slot[h] - 1].name;
        if (strlen(name) == n && memcmp(name, s, n) == 0) break;
        h = (h + 1) & ix->t_mask;
    }
    return &ix->t_slot[h];
}

// ---------------------------------------------------------------- reader

static int parse_kv(GGUFFile *f, Cursor *c, Index *ix, uint64_t i) {
    GGUFKV *kv = &f->kv[i];
    char what[160], pk[80];
    snprintf(what, sizeof what, "key of metadata entry %llu", (unsigned long long)i);
    if (read_str(c, &kv->key, what)) return -1;
    if (kv->key.len == 0) return fail(c, "metadata entry %llu has an empty key", (unsigned long long)i);
    printable(pk, sizeof pk, kv->key.ptr, kv->key.len);
    uint32_t *slot = kv_slot(f, ix, kv->key.ptr, kv->key.len);
    if (*slot) return fail(c, "duplicate metadata key '%s' (entries %u and %llu)", pk, *slot - 1, (unsigned long long)i);
    *slot = (uint32_t)i + 1;

    snprintf(what, sizeof what, "value of key '%s'", pk);
    if (read_u32(c, &kv->type, what)) return -1;
    if (kv->type >= GGUF_VT_COUNT) return fail(c, "key '%s' has unknown value type %u", pk, kv->type);
    kv->data = c->p + c->pos;
    if (kv->type == GGUF_VT_STRING) {
        GGUFStr *s = calloc(1, sizeof *s);
        if (!s) return fail(c, "out of memory");
        kv->strs = s;
        return read_str(c, s, what);
    }
    if (kv->type != GGUF_VT_ARRAY) return skip_value(c, kv->type, 0, what);

    if (read_arr_header(c, &kv->arr_type, &kv->arr_n, what)) return -1;
    kv->data = c->p + c->pos;
    if (kv->arr_type == GGUF_VT_STRING) {
        // arr_n <= bytes left / 8 (read_arr_header), so this allocation is bounded by the file size.
        GGUFStr *s = calloc(kv->arr_n ? kv->arr_n : 1, sizeof *s);
        if (!s) return fail(c, "out of memory for %llu strings of key '%s'", (unsigned long long)kv->arr_n, pk);
        kv->strs = s;
        for (uint64_t j = 0; j < kv->arr_n; j++)
            if (read_str(c, &s[j], what)) return -1;
        return 0;
    }
    if (kv->arr_type == GGUF_VT_ARRAY) {
        for (uint64_t j = 0; j < kv->arr_n; j++)
            if (skip_value(c, GGUF_VT_ARRAY, 1, what)) return -1;
        return 0;
    }
    c->pos += kv->arr_n * gguf_vtype_size(kv->arr_type);   // fits: checked by read_arr_header
    return 0;
}

static int parse_tensor_info(GGUFFile *f, Cursor *c, Index *ix, uint64_t i) {
    GGUFTensor *t = &f->tensors[i];
    char what[160], pn[80];
    GGUFStr name;
    snprintf(what, sizeof what, "name of tensor %llu", (unsigned long long)i);
    if (read_str(c, &name, what)) return -1;
    printable(pn, sizeof pn, name.ptr, name.len);
    if (name.len == 0) return fail(c, "tensor %llu has an empty name", (unsigned long long)i);
    if (name.len > GGUF_MAX_NAME)
        return fail(c, "tensor name '%s' is too long (%llu bytes, limit %d)", pn, (unsigned long long)name.len,
                    GGUF_MAX_NAME);
    if (memchr(name.ptr, 0, name.len)) return fail(c, "tensor name '%s' contains a NUL byte", pn);
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = 0;
    uint32_t *slot = tensor_slot(f, ix, name.ptr, name.len);
    if (*slot) return fail(c, "duplicate tensor name '%s' (tensors %u and %llu)", pn, *slot - 1, (unsigned long long)i);
    *slot = (uint32_t)i + 1;

    snprintf(what, sizeof what, "info of tensor '%s'", pn);
    if (read_u32(c, &t->n_dims, what)) return -1;
    if (t->n_dims == 0 || t->n_dims > 4)
        return fail(c, "tensor '%s' has %u dimensions (1 to 4 allowed)", pn, t->n_dims);
    int64_t nel = 1;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t v;
        if (read_u64(c, &v, what)) return -1;
        if (v == 0 || v > (uint64_t)INT64_MAX)
            return fail(c, "tensor '%s' has dimension %u of size %lld (must be positive)", pn, d, (long long)v);
        t->ne[d] = (int64_t)v;
        if (t->ne[d] > INT64_MAX / nel)
            return fail(c, "tensor '%s' element count overflows 64 bits", pn);
        nel *= t->ne[d];
    }
    if (read_u32(c, &t->type, what)) return -1;
    if (!gguf_type_supported(t->type))
        return fail(c, "tensor '%s' has unsupported type %u (%s)", pn, t->type, gguf_type_name(t->type));
    int blck = ggml_blck_size(t->type);
    if (t->ne[0] % blck)
        return fail(c, "tensor '%s' row length %lld is not a multiple of the %s block size %d", pn,
                    (long long)t->ne[0], gguf_type_name(t->type), blck);
    if (read_u64(c, &t->offset, what)) return -1;
    uint64_t row = ggml_row_bytes(t->type, t->ne[0]), rows = (uint64_t)(nel / t->ne[0]);
    if (row == 0 || __builtin_mul_overflow(row, rows, &t->nbytes))
        return fail(c, "tensor '%s' byte size overflows 64 bits", pn);
    return 0;
}

typedef struct { uint64_t off, end; uint64_t idx; } Span;
static int span_cmp(const void *a, const void *b) {
    const Span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static int place_tensors(GGUFFile *f, Cursor *c) {
    Span *sp = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *sp);
    if (!sp) return fail(c, "out of memory");
    int rc = 0;
    char pn[80], pn2[80];   // names are untrusted: printable copies for messages
    for (uint64_t i = 0; i < f->n_tensors && !rc; i++) {
        GGUFTensor *t = &f->tensors[i];
        uint64_t start, end;
        printable(pn, sizeof pn, t->name, strlen(t->name));
        if (t->offset % f->alignment)
            rc = fail(c, "tensor '%s' offset %llu is not a multiple of the alignment %llu", pn,
                      (unsigned long long)t->offset, (unsigned long long)f->alignment);
        else if (__builtin_add_overflow(f->data_offset, t->offset, &start) ||
                 __builtin_add_overflow(start, t->nbytes, &end))
            rc = fail(c, "tensor '%s' data offset %llu + %llu bytes overflows 64 bits", pn,
                      (unsigned long long)t->offset, (unsigned long long)t->nbytes);
        else if (end > f->size)
            rc = fail(c, "tensor '%s' data ends at byte %llu past the end of the file (%llu bytes)", pn,
                      (unsigned long long)end, (unsigned long long)f->size);
        else {
            t->data = f->map + start;
            sp[i] = (Span){ t->offset, t->offset + t->nbytes, i };
        }
    }
    if (!rc && f->n_tensors > 1) {
        qsort(sp, f->n_tensors, sizeof *sp, span_cmp);
        for (uint64_t i = 1; i < f->n_tensors && !rc; i++)
            if (sp[i].off < sp[i - 1].end) {
                const char *x = f->tensors[sp[i - 1].idx].name, *y = f->tensors[sp[i].idx].name;
                rc = fail(c, "tensors '%s' and '%s' overlap (bytes %llu..%llu and %llu..%llu of the data section)",
                          printable(pn, sizeof pn, x, strlen(x)), printable(pn2, sizeof pn2, y, strlen(y)),
                          (unsigned long long)sp[i - 1].off, (unsigned long long)sp[i - 1].end,
                          (unsigned long long)sp[i].off, (unsigned long long)sp[i].end);
            }
    }
    free(sp);
    return rc;
}

static int parse(GGUFFile *f, Cursor *c) {
    if (c->size < 4 || memcmp(c->p, "GGUF", 4) != 0) {
        if (c->size < 4) return fail(c, "not a GGUF file (only %llu bytes)", (unsigned long long)c->size);
        char m[16];
        return fail(c, "not a GGUF file (bad magic '%s')", printable(m, sizeof m, (const char *)c->p, 4));
    }
    c->pos = 4;
    if (read_u32(c, &f->version, "header")) return -1;
    if (f->version != 2 && f->version != 3) {
        if (f->version == 1) return fail(c, "GGUF version 1 is not supported (only 2 and 3)");
        if (f->version && (f->version & 0xffff) == 0) return fail(c, "bad GGUF version %u (big-endian files are not supported)", f->version);
        return fail(c, "bad GGUF version %u (only 2 and 3 are supported)", f->version);
    }
    if (read_u64(c, &f->n_tensors, "header") || read_u64(c, &f->n_kv, "header")) return -1;
    uint64_t left = c->size - c->pos;
    if (f->n_kv > left / MIN_KV_BYTES)
        return fail(c, "metadata count %llu cannot fit in the %llu bytes left", (unsigned long long)f->n_kv,
                    (unsigned long long)left);
    if (f->n_tensors > left / MIN_TENSOR_BYTES)
        return fail(c, "tensor count %llu cannot fit in the %llu bytes left", (unsigned long long)f->n_tensors,
                    (unsigned long long)left);
    if (f->n_kv >= UINT32_MAX || f->n_tensors >= UINT32_MAX) return fail(c, "too many entries");

    Index *ix = calloc(1, sizeof *ix);
    f->index = ix;
    if (!ix) return fail(c, "out of memory");
    uint64_t kcap = table_size(f->n_kv), tcap = table_size(f->n_tensors);
    ix->kv_mask = kcap - 1; ix->t_mask = tcap - 1;
    ix->kv_slot = calloc(kcap, sizeof *ix->kv_slot);
    ix->t_slot = calloc(tcap, sizeof *ix->t_slot);
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!ix->kv_slot || !ix->t_slot || !f->kv || !f->tensors) return fail(c, "out of memory");

    for (uint64_t i = 0; i < f->n_kv; i++)
        if (parse_kv(f, c, ix, i)) return -1;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (parse_tensor_info(f, c, ix, i)) return -1;

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const GGUFKV *al = gguf_find_kv(f, "general.alignment");
    if (al) {
        if (al->type != GGUF_VT_UINT32)
            return fail(c, "general.alignment has type %s (must be u32)", gguf_vtype_name(al->type));
        uint32_t a;
        memcpy(&a, al->data, 4);
        if (a == 0 || (a & (a - 1)))
            return fail(c, "general.alignment %u is not a power of two", a);
        f->alignment = a;
    }
    uint64_t pad = (f->alignment - c->pos % f->alignment) % f->alignment;
    f->data_offset = c->pos + pad;   // cannot overflow: pos <= size and alignment < 2^32
    return place_tensors(f, c);
}

int gguf_open_mem(GGUFFile *f, const void *buf, uint64_t size, const char *name, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    if (!name) name = "<memory>";
    if (err && errlen) err[0] = 0;
    Cursor c = { .p = buf, .pos = 0, .size = size, .name = name, .err = err, .errlen = errlen };
    f->path = strdup(name);
    f->map = buf;
    f->size = size;
    if (!f->path) { fail(&c, "out of memory"); gguf_close(f); return -1; }
    if (parse(f, &c)) { gguf_close(f); return -1; }
    return 0;
}

int gguf_open(GGUFFile *f, const char *path, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    Cursor c = { .name = path, .err = err, .errlen = errlen };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(&c, "cannot open (%s)", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); return fail(&c, "cannot stat (%s)", strerror(e)); }
    if (!S_ISREG(st.st_mode)) { close(fd); return fail(&c, "not a regular file"); }
    if (st.st_size == 0) { close(fd); return fail(&c, "not a GGUF file (empty)"); }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);   // the mapping keeps the file alive
    if (map == MAP_FAILED) return fail(&c, "cannot mmap %lld bytes (%s)", (long long)st.st_size, strerror(e));
    if (gguf_open_mem(f, map, (uint64_t)st.st_size, path, err, errlen)) {
        munmap(map, (size_t)st.st_size);
        return -1;
    }
    f->owns_map = 1;
    return 0;
}

void gguf_close(GGUFFile *f) {
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++) free((void *)f->kv[i].strs);
    free(f->kv);
    free(f->tensors);
    Index *ix = f->index;
    if (ix) { free(ix->kv_slot); free(ix->t_slot); free(ix); }
    if (f->owns_map && f->map) munmap((void *)f->map, f->size);
    free((void *)f->path);
    memset(f, 0, sizeof *f);
}

// ---------------------------------------------------------------- lookups and typed getters

const GGUFKV *gguf_find_kv(const GGUFFile *f, const char *key) {
    if (!f->index || !f->kv) return NULL;
    uint32_t s = *kv_slot(f, f->index, key, strlen(key));
    return s ? &f->kv[s - 1] : NULL;
}

const GGUFTensor *gguf_find_tensor(const GGUFFile *f, const char *name) {
    if (!f->index || !f->tensors) return NULL;
    uint32_t s = *tensor_slot(f, f->index, name, strlen(name));
    return s ? &f->tensors[s - 1] : NULL;
}

// Reads element i of a scalar array (or the scalar itself, i = 0) as a signed or unsigned integer.
// Returns 0 for an integer, 1 for a float (value in *fv), -1 otherwise.
static int load_num(uint32_t t, const uint8_t *p, uint64_t i, int64_t *sv, uint64_t *uv, double *fv, int *neg) {
    *neg = 0;
    switch (t) {
    case GGUF_VT_UINT8:  { uint8_t v;  memcpy(&v, p + i, 1);     *uv = v; return 0; }
    case GGUF_VT_BOOL:   { uint8_t v;  memcpy(&v, p + i, 1);     *uv = v != 0; return 0; }
    case GGUF_VT_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); *uv = v; return 0; }
    case GGUF_VT_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); *uv = v; return 0; }
    case GGUF_VT_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); *uv = v; return 0; }
    case GGUF_VT_INT8:   { int8_t v;   memcpy(&v, p + i, 1);     *sv = v; break; }
    case GGUF_VT_INT16:  { int16_t v;  memcpy(&v, p + 2 * i, 2); *sv = v; break; }
    case GGUF_VT_INT32:  { int32_t v;  memcpy(&v, p + 4 * i, 4); *sv = v; break; }
    case GGUF_VT_INT64:  { int64_t v;  memcpy(&v, p + 8 * i, 8); *sv = v; break; }
    case GGUF_VT_FLOAT32: { float v;   memcpy(&v, p + 4 * i, 4); *fv = v; return 1; }
    case GGUF_VT_FLOAT64: { double v;  memcpy(&v, p + 8 * i, 8); *fv = v; return 1; }
    default: return -1;
    }
    *neg = *sv < 0;
    *uv = (uint64_t)*sv;
    return 0;
}

int gguf_get_u64(const GGUFFile *f, const char *key, uint64_t *out) {
    const GGUFKV *kv = gguf_find_kv(f, key);
    if (!kv || kv->type == GGUF_VT_BOOL) return -1;
    int64_t sv; uint64_t uv; double fv; int neg;
    if (load_num(kv->type, kv->data, 0, &sv, &uv, &fv, &neg) != 0 || neg) return -1;
    *out = uv;
    return 0;
}

int gguf_get_u32(const GGUFFile *f, const char *key, uint32_t *out) {
    uint64_t v;
    if (gguf_get_u64(f, key, &v) || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_f32(const GGUFFile *f, const char *key, float *out) {
    const GGUFKV *kv = gguf_find_kv(f, key);
    if (!kv) return -1;
    int64_t sv; uint64_t uv; double fv; int neg;
    int r = kv->type == GGUF_VT_BOOL ? -1 : load_num(kv->type, kv->data, 0, &sv, &uv, &fv, &neg);
    if (r == 1) { *out = (float)fv; return 0; }
    if (r == 0) {   // integers convert when exactly representable (range checked before casting back)
        float v = neg ? (float)sv : (float)uv;
        if (neg ? (v < -9223372036854775808.0f || (int64_t)v != sv) : (v >= 18446744073709551616.0f || (uint64_t)v != uv))
            return -1;
        *out = v;
        return 0;
    }
    return -1;
}

int gguf_get_bool(const GGUFFile *f, const char *key, int *out) {
    const GGUFKV *kv = gguf_find_kv(f, key);
    if (!kv || kv->type != GGUF_VT_BOOL) return -1;
    *out = kv->data[0] != 0;
    return 0;
}

int gguf_get_str(const GGUFFile *f, const char *key, GGUFStr *out) {
    const GGUFKV *kv = gguf_find_kv(f, key);
    if (!kv || kv->type != GGUF_VT_STRING) return -1;
    *out = kv->strs[0];
    return 0;
}

int64_t gguf_arr_int(const GGUFKV *kv, uint64_t i) {
    int64_t sv; uint64_t uv; double fv; int neg;
    int r = load_num(kv->arr_type, kv->data, i, &sv, &uv, &fv, &neg);
    if (r == 0) return (int64_t)uv;
    if (r == 1) {   // floats truncate toward zero, saturating (a cast out of range would be undefined)
        if (fv != fv) return 0;
        if (fv >= 9223372036854775807.0) return INT64_MAX;
        if (fv <= -9223372036854775808.0) return INT64_MIN;
        return (int64_t)fv;
    }
    return 0;
}

double gguf_arr_float(const GGUFKV *kv, uint64_t i) {
    int64_t sv; uint64_t uv; double fv; int neg;
    int r = load_num(kv->arr_type, kv->data, i, &sv, &uv, &fv, &neg);
    if (r == 1) return fv;
    if (r == 0) return neg ? (double)sv : (double)uv;
    return 0;
}

// ---------------------------------------------------------------- writer
// Metadata and tensor infos are serialized into memory (they are small next to the weights) and written at
// begin_data, when both counts are known; tensor data then streams through an 8 MiB buffer with write(2).

#define WBUF_CAP (8u << 20)

typedef struct { uint8_t *p; size_t len, cap; } Bytes;

typedef struct { char name[GGUF_MAX_NAME + 1]; uint64_t nbytes; } WTensor;

struct GGUFWriter {
    int fd;
    char *path;
    Bytes kvs, infos;
    uint64_t n_kv, n_tensors, data_size, alignment;
    char **keys;            // for duplicate detection (n_kv entries)
    WTensor *tensors;       // n_tensors entries
    uint64_t cap_keys, cap_tensors;
    int began, failed;
    uint64_t cur, cur_written;     // tensor being written and its bytes so far
    uint8_t *buf; size_t buf_len;  // output buffer for the data section
    char err[320];
};

static void wfail(GGUFWriter *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wfail(GGUFWriter *w, const char *fmt, ...) {
    if (w->failed) return;   // keep the first error: later ones are usually consequences
    w->failed = 1;
    int n = snprintf(w->err, sizeof w->err, "%s: ", w->path);
    if (n < 0) n = 0;
    va_list ap;
    va_start(ap, fmt);
    if ((size_t)n < sizeof w->err) vsnprintf(w->err + n, sizeof w->err - (size_t)n, fmt, ap);
    va_end(ap);
}

static void bytes_put(GGUFWriter *w, Bytes *b, const void *p, size_t n) {
    if (w->failed) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) { wfail(w, "metadata too large"); return; }
            cap *= 2;
        }
        uint8_t *q = realloc(b->p, cap);
        if (!q) { wfail(w, "out of memory (%zu bytes of metadata)", cap); return; }
        b->p = q; b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
}
static void put_u32(GGUFWriter *w, Bytes *b, uint32_t v) { bytes_put(w, b, &v, 4); }
static void put_u64(GGUFWriter *w, Bytes *b, uint64_t v) { bytes_put(w, b, &v, 8); }
static void put_str(GGUFWriter *w, Bytes *b, const char *s, uint64_t n) { put_u64(w, b, n); bytes_put(w, b, s, n); }

GGUFWriter *gguf_writer_open(const char *path, char *err, size_t errlen) {
    GGUFWriter *w = calloc(1, sizeof *w);
    char *p = strdup(path);
    uint8_t *buf = malloc(WBUF_CAP);
    if (!w || !p || !buf) {
        free(w); free(p); free(buf);
        if (err && errlen) snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        if (err && errlen) snprintf(err, errlen, "%s: cannot create (%s)", path, strerror(errno));
        free(w); free(p); free(buf);
        return NULL;
    }
    w->path = p;
    w->buf = buf;
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    return w;
}

// Every kv_* call starts here: checks the state and the key, then writes key + type.
static int kv_begin(GGUFWriter *w, const char *key, uint32_t vt) {
    if (w->failed) return -1;
    if (w->began) { wfail(w, "metadata key '%s' added after the data section began", key); return -1; }
    size_t n = strlen(key);
    if (n == 0) { wfail(w, "empty metadata key"); return -1; }
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) { wfail(w, "duplicate metadata key '%s'", key); return -1; }
    if (w->n_kv == w->cap_keys) {
        uint64_t cap = w->cap_keys ? 2 * w->cap_keys : 64;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k) { wfail(w, "out of memory"); return -1; }
        w->keys = k; w->cap_keys = cap;
    }
    if (!(w->keys[w->n_kv] = strdup(key))) { wfail(w, "out of memory"); return -1; }
    w->n_kv++;
    put_str(w, &w->kvs, key, n);
    put_u32(w, &w->kvs, vt);
    return w->failed ? -1 : 0;
}

void gguf_writer_kv_scalar(GGUFWriter *w, const char *key, uint32_t vt, const void *v) {
    if (!gguf_vtype_size(vt)) { wfail(w, "key '%s': %s is not a scalar type", key, gguf_vtype_name(vt)); return; }
    if (kv_begin(w, key, vt)) return;
    bytes_put(w, &w->kvs, v, gguf_vtype_size(vt));
}
void gguf_writer_kv_u32(GGUFWriter *w, const char *key, uint32_t v) { gguf_writer_kv_scalar(w, key, GGUF_VT_UINT32, &v); }
void gguf_writer_kv_i32(GGUFWriter *w, const char *key, int32_t v) { gguf_writer_kv_scalar(w, key, GGUF_VT_INT32, &v); }
void gguf_writer_kv_u64(GGUFWriter *w, const char *key, uint64_t v) { gguf_writer_kv_scalar(w, key, GGUF_VT_UINT64, &v); }
void gguf_writer_kv_f32(GGUFWriter *w, const char *key, float v) { gguf_writer_kv_scalar(w, key, GGUF_VT_FLOAT32, &v); }
void gguf_writer_kv_bool(GGUFWriter *w, const char *key, int v) {
    uint8_t b = v != 0;
    gguf_writer_kv_scalar(w, key, GGUF_VT_BOOL, &b);
}

void gguf_writer_kv_str(GGUFWriter *w, const char *key, const char *s, uint64_t len) {
    if (kv_begin(w, key, GGUF_VT_STRING)) return;
    put_str(w, &w->kvs, s, len);
}

void gguf_writer_kv_arr(GGUFWriter *w, const char *key, uint32_t vt, const void *v, uint64_t n) {
    if (!gguf_vtype_size(vt)) { wfail(w, "key '%s': use kv_arr_str for string arrays", key); return; }
    if (n > SIZE_MAX / gguf_vtype_size(vt)) { wfail(w, "key '%s': array too large", key); return; }
    if (kv_begin(w, key, GGUF_VT_ARRAY)) return;
    put_u32(w, &w->kvs, vt);
    put_u64(w, &w->kvs, n);
    bytes_put(w, &w->kvs, v, (size_t)(n * gguf_vtype_size(vt)));
}
void gguf_writer_kv_arr_i32(GGUFWriter *w, const char *key, const int32_t *v, uint64_t n) {
    gguf_writer_kv_arr(w, key, GGUF_VT_INT32, v, n);
}
void gguf_writer_kv_arr_f32(GGUFWriter *w, const char *key, const float *v, uint64_t n) {
    gguf_writer_kv_arr(w, key, GGUF_VT_FLOAT32, v, n);
}

void gguf_writer_kv_arr_str(GGUFWriter *w, const char *key, const char *const *s, const uint64_t *lens, uint64_t n) {
    if (kv_begin(w, key, GGUF_VT_ARRAY)) return;
    put_u32(w, &w->kvs, GGUF_VT_STRING);
    put_u64(w, &w->kvs, n);
    for (uint64_t i = 0; i < n; i++) put_str(w, &w->kvs, s[i], lens ? lens[i] : strlen(s[i]));
}

void gguf_writer_kv_raw(GGUFWriter *w, const char *key, uint32_t vt, const void *value, uint64_t nbytes) {
    if (vt >= GGUF_VT_COUNT) { wfail(w, "key '%s': unknown value type %u", key, vt); return; }
    if (kv_begin(w, key, vt)) return;
    bytes_put(w, &w->kvs, value, (size_t)nbytes);
}

void gguf_writer_set_alignment(GGUFWriter *w, uint32_t alignment) {
    if (w->failed) return;
    if (alignment == 0 || (alignment & (alignment - 1))) { wfail(w, "alignment %u is not a power of two", alignment); return; }
    if (w->n_tensors) { wfail(w, "set_alignment must come before the first tensor_info"); return; }
    w->alignment = alignment;
    if (alignment != GGUF_DEFAULT_ALIGNMENT) gguf_writer_kv_u32(w, "general.alignment", alignment);
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

void gguf_writer_tensor_info(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne) {
    if (w->failed) return;
    if (w->began) { wfail(w, "tensor '%s' added after the data section began", name); return; }
    size_t len = strlen(name);
    if (len == 0 || len > GGUF_MAX_NAME) { wfail(w, "tensor name '%s' must be 1 to %d bytes", name, GGUF_MAX_NAME); return; }
    if (!gguf_type_supported(type)) { wfail(w, "tensor '%s': unsupported type %u (%s)", name, type, gguf_type_name(type)); return; }
    if (n_dims == 0 || n_dims > 4) { wfail(w, "tensor '%s': %u dimensions (1 to 4 allowed)", name, n_dims); return; }
    uint64_t rows = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] <= 0) { wfail(w, "tensor '%s': dimension %u is %lld", name, d, (long long)ne[d]); return; }
        if (d > 0 && __builtin_mul_overflow(rows, (uint64_t)ne[d], &rows)) { wfail(w, "tensor '%s' too large", name); return; }
    }
    if (ne[0] % ggml_blck_size(type)) {
        wfail(w, "tensor '%s': row length %lld is not a multiple of the %s block size %d", name, (long long)ne[0],
              gguf_type_name(type), ggml_blck_size(type));
        return;
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(ggml_row_bytes(type, ne[0]), rows, &nbytes)) { wfail(w, "tensor '%s' too large", name); return; }
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name)) { wfail(w, "duplicate tensor name '%s'", name); return; }
    if (w->n_tensors == w->cap_tensors) {
        uint64_t cap = w->cap_tensors ? 2 * w->cap_tensors : 256;
        WTensor *t = realloc(w->tensors, cap * sizeof *t);
        if (!t) { wfail(w, "out of memory"); return; }
        w->tensors = t; w->cap_tensors = cap;
    }
    WTensor *t = &w->tensors[w->n_tensors++];
    memcpy(t->name, name, len + 1);
    t->nbytes = nbytes;
    put_str(w, &w->infos, name, len);
    put_u32(w, &w->infos, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(w, &w->infos, (uint64_t)ne[d]);
    put_u32(w, &w->infos, type);
    put_u64(w, &w->infos, w->data_size);
    w->data_size = align_up(w->data_size + nbytes, w->alignment);
}

static int write_all(GGUFWriter *w, const void *p, size_t n) {
    const uint8_t *q = p;
    while (n) {
        ssize_t k = write(w->fd, q, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { wfail(w, "write failed (%s)", k < 0 ? strerror(errno) : "no progress"); return -1; }
        q += k; n -= (size_t)k;
    }
    return 0;
}

static int flush_buf(GGUFWriter *w) {
    if (w->buf_len && write_all(w, w->buf, w->buf_len)) return -1;
    w->buf_len = 0;
    return 0;
}

// Buffers small pieces; pieces of 1 MiB or more go straight to write(2) after the buffer is flushed (a copy
// through the buffer would cost as much as the write itself).
static int emit(GGUFWriter *w, const void *p, size_t n) {
    if (n == 0) return 0;   // p may be NULL (empty metadata)
    if (n >= (1u << 20) || n > WBUF_CAP - w->buf_len) {
        if (flush_buf(w)) return -1;
        if (n >= (1u << 20)) return write_all(w, p, n);
    }
    memcpy(w->buf + w->buf_len, p, n);
    w->buf_len += n;
    return 0;
}

static int emit_zeros(GGUFWriter *w, size_t n) {
    static const uint8_t zeros[256];
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        if (emit(w, zeros, k)) return -1;
        n -= k;
    }
    return 0;
}

int gguf_writer_begin_data(GGUFWriter *w) {
    if (w->failed) return -1;
    if (w->began) { wfail(w, "begin_data called twice"); return -1; }
    w->began = 1;
    uint32_t version = 3;
    if (emit(w, "GGUF", 4) || emit(w, &version, 4) || emit(w, &w->n_tensors, 8) || emit(w, &w->n_kv, 8) ||
        emit(w, w->kvs.p, w->kvs.len) || emit(w, w->infos.p, w->infos.len))
        return -1;
    uint64_t hdr = 24 + w->kvs.len + w->infos.len;
    if (emit_zeros(w, (size_t)(align_up(hdr, w->alignment) - hdr))) return -1;
    free(w->kvs.p); free(w->infos.p);
    w->kvs = w->infos = (Bytes){ 0 };
    return 0;
}

int gguf_writer_write(GGUFWriter *w, const void *data, uint64_t n) {
    if (w->failed) return -1;
    if (!w->began) { wfail(w, "tensor data written before begin_data"); return -1; }
    const uint8_t *p = data;
    while (n) {
        if (w->cur >= w->n_tensors) { wfail(w, "%llu bytes written past the last tensor", (unsigned long long)n); return -1; }
        WTensor *t = &w->tensors[w->cur];
        uint64_t take = t->nbytes - w->cur_written;
        if (take > n) take = n;
        if (emit(w, p, (size_t)take)) return -1;
        p += take; n -= take; w->cur_written += take;
        if (w->cur_written == t->nbytes) {   // tensor complete: pad to the next aligned offset
            if (emit_zeros(w, (size_t)(align_up(t->nbytes, w->alignment) - t->nbytes))) return -1;
            w->cur++;
            w->cur_written = 0;
        }
    }
    return 0;
}

int gguf_writer_close(GGUFWriter *w, char *err, size_t errlen) {
    if (!w) return -1;
    if (!w->began && !w->failed) gguf_writer_begin_data(w);
    if (!w->failed && w->cur < w->n_tensors)
        wfail(w, "tensor '%s' got %llu of its %llu bytes (%llu tensors incomplete)", w->tensors[w->cur].name,
              (unsigned long long)w->cur_written, (unsigned long long)w->tensors[w->cur].nbytes,
              (unsigned long long)(w->n_tensors - w->cur));
    if (!w->failed) flush_buf(w);
    if (close(w->fd) != 0) wfail(w, "close failed (%s)", strerror(errno));
    int rc = w->failed ? -1 : 0;
    if (rc) {
        unlink(w->path);   // never leave a half-written model behind
        if (err && errlen) snprintf(err, errlen, "%s", w->err);
    }
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys); free(w->tensors); free(w->kvs.p); free(w->infos.p); free(w->buf); free(w->path);
    free(w);
    return rc;
}
