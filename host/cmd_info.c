// cmd_info.c — `qwen3-ptx info [--json] [--full] FILE`: a GGUF's header, metadata and tensor table, like
// llama.cpp's gguf-dump. Long arrays and strings are shortened unless --full; --json emits one JSON object.
#include "../gguf/gguf.h"
#include "json.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_ITEMS 8       // array elements shown without --full
#define HEAD_CHARS 80      // string bytes shown (text mode) without --full

static void usage(FILE *out) {
    fprintf(out,
        "usage: qwen3-ptx info [--json] [--full] FILE.gguf\n"
        "  Prints the GGUF header, every metadata key (type, value; arrays as type[count] with the first %d\n"
        "  items) and the tensor table (index, type, shape with the innermost dimension first as in ggml,\n"
        "  offset in the data section, bytes, name).\n"
        "  --json  one JSON object: {file, version, size, alignment, data_offset, metadata: {key: {type, value} |\n"
        "          {type: \"arr\", elem_type, count, values}}, tensors: [{name, type, shape, offset, bytes}]}\n"
        "  --full  every array element and whole strings (tokenizer arrays run to megabytes)\n", HEAD_ITEMS);
}

// ---------------------------------------------------------------- values as text (shared by both modes)


static void out_fmt(StrBuf *o, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void out_fmt(StrBuf *o, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_add(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void out_str(StrBuf *o, const char *s, uint64_t n, int limit) {
    int cut = limit && n > HEAD_CHARS;
    json_escape(&o->p, &o->len, &o->cap, s, (size_t)(cut ? HEAD_CHARS : n));
    if (cut) out_fmt(o, "...(%llu bytes)", (unsigned long long)n);
}

// One scalar element (index i of an array, or the scalar itself with i = 0) as a JSON-compatible number.
static void out_scalar(StrBuf *o, uint32_t vt, const uint8_t *p, uint64_t i) {
    switch (vt) {
    case GGUF_VT_UINT8: out_fmt(o, "%u", p[i]); break;
    case GGUF_VT_INT8: out_fmt(o, "%d", (int8_t)p[i]); break;
    case GGUF_VT_BOOL: sb_add(o, p[i] ? "true" : "false", p[i] ? 4 : 5); break;
    case GGUF_VT_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); out_fmt(o, "%u", v); break; }
    case GGUF_VT_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); out_fmt(o, "%d", v); break; }
    case GGUF_VT_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); out_fmt(o, "%u", v); break; }
    case GGUF_VT_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); out_fmt(o, "%d", v); break; }
    case GGUF_VT_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); out_fmt(o, "%llu", (unsigned long long)v); break; }
    case GGUF_VT_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); out_fmt(o, "%lld", (long long)v); break; }
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64: {
        double v;
        if (vt == GGUF_VT_FLOAT32) { float f; memcpy(&f, p + 4 * i, 4); v = f; }
        else memcpy(&v, p + 8 * i, 8);
        if (isfinite(v)) {   // the shortest decimal that reads back as the same value
            char b[40];
            for (int prec = vt == GGUF_VT_FLOAT32 ? 6 : 15;; prec++) {
                snprintf(b, sizeof b, "%.*g", prec, v);
                if (prec >= 17 || (vt == GGUF_VT_FLOAT32 ? strtof(b, NULL) == (float)v : strtod(b, NULL) == v)) break;
            }
            sb_add(o, b, strlen(b));
        }
        else sb_add(o, "null", 4);   // JSON has no NaN/Inf
        break;
    }
    default: sb_add(o, "?", 1); break;
    }
}

// The value of one key: scalar, string, or [items...] (shortened unless full; dots marks the cut in text mode).
static void out_value(StrBuf *o, const GGUFKV *kv, int full, int dots) {
    if (kv->type == GGUF_VT_STRING) { out_str(o, kv->strs[0].ptr, kv->strs[0].len, !full); return; }
    if (kv->type != GGUF_VT_ARRAY) { out_scalar(o, kv->type, kv->data, 0); return; }
    sb_add(o, "[", 1);
    if (kv->arr_type != GGUF_VT_ARRAY) {   // nested arrays are validated but not indexed: no items
        uint64_t n = full || kv->arr_n <= HEAD_ITEMS ? kv->arr_n : HEAD_ITEMS;
        for (uint64_t i = 0; i < n; i++) {
            if (i) sb_add(o, ", ", 2);
            if (kv->arr_type == GGUF_VT_STRING) out_str(o, kv->strs[i].ptr, kv->strs[i].len, !full);
            else out_scalar(o, kv->arr_type, kv->data, i);
        }
        if (dots && n < kv->arr_n) sb_add(o, ", ...", 5);
    }
    sb_add(o, "]", 1);
}

static void out_shape(StrBuf *o, const GGUFTensor *t) {
    sb_add(o, "[", 1);
    for (uint32_t d = 0; d < t->n_dims; d++) out_fmt(o, d ? ", %lld" : "%lld", (long long)t->ne[d]);
    sb_add(o, "]", 1);
}

// ---------------------------------------------------------------- the two layouts

static void print_text(const GGUFFile *f, int full) {
    StrBuf o = { 0 };
    out_fmt(&o, "%s: GGUF v%u, %llu metadata keys, %llu tensors, alignment %llu, ", f->path, f->version,
            (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors, (unsigned long long)f->alignment);
    out_fmt(&o, "data at byte %llu, %llu bytes\n", (unsigned long long)f->data_offset, (unsigned long long)f->size);
    fputs(o.p, stdout);
    printf("\nmetadata:\n");
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const GGUFKV *kv = &f->kv[i];
        o.len = 0;
        char ty[48];
        if (kv->type == GGUF_VT_ARRAY)
            snprintf(ty, sizeof ty, "%s[%llu]", gguf_vtype_name(kv->arr_type), (unsigned long long)kv->arr_n);
        else snprintf(ty, sizeof ty, "%s", gguf_vtype_name(kv->type));
        out_value(&o, kv, full, 1);
        // Keys other than plain printable ASCII are printed escaped: an untrusted file must not put control
        // bytes on the terminal.
        StrBuf k = { 0 };
        int plain = 1;
        for (uint64_t j = 0; j < kv->key.len; j++) plain &= kv->key.ptr[j] > 0x20 && kv->key.ptr[j] < 0x7f && kv->key.ptr[j] != '"';
        if (plain) sb_add(&k, kv->key.ptr, (size_t)kv->key.len);
        else json_escape(&k.p, &k.len, &k.cap, kv->key.ptr, (size_t)kv->key.len);
        printf("  %5llu  %-14s %s = %s\n", (unsigned long long)i, ty, k.p, o.p);
        free(k.p);
    }
    printf("\ntensors:\n  %5s  %-5s %-28s %14s %14s  %s\n", "index", "type", "shape", "offset", "bytes", "name");
    uint64_t total = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        o.len = 0;
        out_shape(&o, t);
        printf("  %5llu  %-5s %-28s %14llu %14llu  %s\n", (unsigned long long)i, gguf_type_name(t->type), o.p,
               (unsigned long long)t->offset, (unsigned long long)t->nbytes, t->name);
        total += t->nbytes;
    }
    printf("\n%llu tensors, %.3f GB of tensor data\n", (unsigned long long)f->n_tensors, total / 1e9);
    free(o.p);
}

static void print_json(const GGUFFile *f, int full) {
    StrBuf o = { 0 };
    sb_add(&o, "{\"file\": ", 9);
    json_escape(&o.p, &o.len, &o.cap, f->path, strlen(f->path));
    out_fmt(&o, ", \"version\": %u, \"size\": %llu, \"alignment\": %llu, \"data_offset\": %llu, \"metadata\": {",
            f->version, (unsigned long long)f->size, (unsigned long long)f->alignment,
            (unsigned long long)f->data_offset);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const GGUFKV *kv = &f->kv[i];
        sb_add(&o, i ? ",\n  " : "\n  ", i ? 4 : 3);
        json_escape(&o.p, &o.len, &o.cap, kv->key.ptr, (size_t)kv->key.len);
        out_fmt(&o, ": {\"type\": \"%s\"", gguf_vtype_name(kv->type));
        if (kv->type == GGUF_VT_ARRAY)
            out_fmt(&o, ", \"elem_type\": \"%s\", \"count\": %llu, \"values\": ", gguf_vtype_name(kv->arr_type),
                    (unsigned long long)kv->arr_n);
        else sb_add(&o, ", \"value\": ", 11);
        // JSON strings are never cut (a cut string would read as the real value); only arrays are shortened.
        if (kv->type == GGUF_VT_STRING) json_escape(&o.p, &o.len, &o.cap, kv->strs[0].ptr, (size_t)kv->strs[0].len);
        else if (kv->type == GGUF_VT_ARRAY && kv->arr_type == GGUF_VT_STRING) {
            uint64_t n = full || kv->arr_n <= HEAD_ITEMS ? kv->arr_n : HEAD_ITEMS;
            sb_add(&o, "[", 1);
            for (uint64_t j = 0; j < n; j++) {
                if (j) sb_add(&o, ", ", 2);
                json_escape(&o.p, &o.len, &o.cap, kv->strs[j].ptr, (size_t)kv->strs[j].len);
            }
            sb_add(&o, "]", 1);
        } else out_value(&o, kv, full, 0);
        sb_add(&o, "}", 1);
    }
    sb_add(&o, "\n}, \"tensors\": [", 16);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        sb_add(&o, i ? ",\n  {\"name\": " : "\n  {\"name\": ", i ? 12 : 11);
        json_escape(&o.p, &o.len, &o.cap, t->name, strlen(t->name));
        out_fmt(&o, ", \"type\": \"%s\", \"shape\": ", gguf_type_name(t->type));
        out_shape(&o, t);
        out_fmt(&o, ", \"offset\": %llu, \"bytes\": %llu}", (unsigned long long)t->offset, (unsigned long long)t->nbytes);
    }
    sb_add(&o, "\n]}\n", 4);
    fwrite(o.p, 1, o.len, stdout);
    free(o.p);
}

int cmd_info(int argc, char **argv) {
    int json = 0, full = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--full")) full = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "qwen3-ptx: info: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        } else if (path) {
            fprintf(stderr, "qwen3-ptx: info: one file at a time ('%s' and '%s')\n", path, argv[i]);
            return 1;
        } else path = argv[i];
    }
    if (!path) { usage(stderr); return 1; }
    GGUFFile f;
    char err[512];
    if (gguf_open(&f, path, err, sizeof err)) { fprintf(stderr, "qwen3-ptx: %s\n", err); return 1; }
    if (json) print_json(&f, full);
    else print_text(&f, full);
    gguf_close(&f);
    if (fflush(stdout) != 0) { fprintf(stderr, "qwen3-ptx: info: cannot write the output\n"); return 1; }
    return 0;
}
