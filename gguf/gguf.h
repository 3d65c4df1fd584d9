// gguf.h — GGUF v2/v3 reader (mmap, every offset validated) and writer.
// defines: GGUFFile, GGUFKV, GGUFTensor, gguf_open, gguf_find_*, gguf_get_*, GGUFWriter
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// ---------------------------------------------------------------- value and tensor types (GGUF spec numbers)
enum {
    GGUF_VT_UINT8 = 0, GGUF_VT_INT8 = 1, GGUF_VT_UINT16 = 2, GGUF_VT_INT16 = 3, GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5, GGUF_VT_FLOAT32 = 6, GGUF_VT_BOOL = 7, GGUF_VT_STRING = 8, GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10, GGUF_VT_INT64 = 11, GGUF_VT_FLOAT64 = 12, GGUF_VT_COUNT = 13
};
enum {
    GGML_TYPE_F32 = 0, GGML_TYPE_F16 = 1, GGML_TYPE_Q4_0 = 2, GGML_TYPE_Q5_0 = 6, GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q4_K = 12, GGML_TYPE_Q5_K = 13, GGML_TYPE_Q6_K = 14, GGML_TYPE_BF16 = 30
};

typedef struct { const char *ptr; uint64_t len; } GGUFStr;  // points into the mmap; NOT NUL-terminated

typedef struct {
    GGUFStr key;
    uint32_t type;       // GGUF_VT_*
    uint32_t arr_type;   // element type when type == ARRAY
    uint64_t arr_n;      // element count when type == ARRAY
    const uint8_t *data; // scalar value, or first array element, in the mmap (little-endian)
    // Nested arrays (ARRAY of ARRAY) are validated and skipped; their elements are not indexed.
    const GGUFStr *strs; // when type == STRING: 1 entry; when ARRAY of STRING: arr_n entries (heap)
} GGUFKV;

typedef struct {
    char name[128];      // NUL-terminated copy (GGUF names are <= 64 bytes by spec; longer is an error)
    uint32_t type;       // GGML_TYPE_*
    uint32_t n_dims;     // 1..4
    int64_t ne[4];       // ne[0] is the innermost (contiguous) dimension, as in ggml; unused dims are 1
    uint64_t offset;     // relative to the data section
    uint64_t nbytes;
    const void *data;    // absolute pointer into the mmap
} GGUFTensor;

typedef struct {
    const char *path;
    const uint8_t *map; uint64_t size;  // whole file, read-only
    int owns_map;                       // 1 when gguf_open mmapped it
    uint32_t version;
    uint64_t n_kv; GGUFKV *kv;
    uint64_t n_tensors; GGUFTensor *tensors;
    uint64_t alignment, data_offset;
    void *index;                        // private to gguf.c: hash tables behind gguf_find_kv/tensor
} GGUFFile;

// Opens and fully validates. On failure returns -1 and writes a one-line message naming the file and the
// problem into err (never crashes, never allocates more than the file could justify).
int  gguf_open(GGUFFile *f, const char *path, char *err, size_t errlen);
int  gguf_open_mem(GGUFFile *f, const void *buf, uint64_t size, const char *name, char *err, size_t errlen);
void gguf_close(GGUFFile *f);

const GGUFKV     *gguf_find_kv(const GGUFFile *f, const char *key);
const GGUFTensor *gguf_find_tensor(const GGUFFile *f, const char *name);
// Typed getters: return 0 on success, -1 if missing or of another type (integers widen/convert when exact).
int gguf_get_u64(const GGUFFile *f, const char *key, uint64_t *out);
int gguf_get_u32(const GGUFFile *f, const char *key, uint32_t *out);
int gguf_get_f32(const GGUFFile *f, const char *key, float *out);
int gguf_get_bool(const GGUFFile *f, const char *key, int *out);
int gguf_get_str(const GGUFFile *f, const char *key, GGUFStr *out);
// Array element access (bounds-checked by caller against kv->arr_n).
int64_t gguf_arr_int(const GGUFKV *kv, uint64_t i);   // any integer element type
double  gguf_arr_float(const GGUFKV *kv, uint64_t i); // f32/f64 element type
const char *gguf_type_name(uint32_t ggml_type);       // "F32", "Q4_K", ...; "?" if unknown
const char *gguf_vtype_name(uint32_t vt);
uint64_t gguf_vtype_size(uint32_t vt);                // bytes of one scalar value; 0 for STRING/ARRAY/unknown
int gguf_type_supported(uint32_t ggml_type);

// ---------------------------------------------------------------- writer
// Usage: w = gguf_writer_open(path); kv calls...; tensor_info calls (in data order)...;
//        gguf_writer_begin_data(w); gguf_writer_write(w, bytes, n) per tensor in the same order; gguf_writer_close(w).
// Tensor data are padded to the alignment automatically between tensors (the writer tracks each tensor's nbytes).
typedef struct GGUFWriter GGUFWriter;
GGUFWriter *gguf_writer_open(const char *path, char *err, size_t errlen);
void gguf_writer_kv_u32(GGUFWriter *w, const char *key, uint32_t v);
void gguf_writer_kv_i32(GGUFWriter *w, const char *key, int32_t v);
void gguf_writer_kv_u64(GGUFWriter *w, const char *key, uint64_t v);
void gguf_writer_kv_f32(GGUFWriter *w, const char *key, float v);
void gguf_writer_kv_bool(GGUFWriter *w, const char *key, int v);
void gguf_writer_kv_str(GGUFWriter *w, const char *key, const char *s, uint64_t len);
void gguf_writer_kv_arr_str(GGUFWriter *w, const char *key, const char *const *s, const uint64_t *lens, uint64_t n);
void gguf_writer_kv_arr_i32(GGUFWriter *w, const char *key, const int32_t *v, uint64_t n);
void gguf_writer_kv_arr_f32(GGUFWriter *w, const char *key, const float *v, uint64_t n);
void gguf_writer_tensor_info(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne);
// Any scalar type (vt = GGUF_VT_*, v points at its little-endian value), arrays of any scalar type, and a
// pre-serialized value of any type (used by tests for nested arrays). set_alignment: before any tensor_info.
void gguf_writer_kv_scalar(GGUFWriter *w, const char *key, uint32_t vt, const void *v);
void gguf_writer_kv_arr(GGUFWriter *w, const char *key, uint32_t vt, const void *v, uint64_t n);
void gguf_writer_kv_raw(GGUFWriter *w, const char *key, uint32_t vt, const void *value, uint64_t nbytes);
void gguf_writer_set_alignment(GGUFWriter *w, uint32_t alignment);
int  gguf_writer_begin_data(GGUFWriter *w);
int  gguf_writer_write(GGUFWriter *w, const void *data, uint64_t n);  // may be called several times per tensor
int  gguf_writer_close(GGUFWriter *w, char *err, size_t errlen);      // 0 ok; checks every tensor got its bytes
