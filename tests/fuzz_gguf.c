// fuzz_gguf.c — libFuzzer target for the GGUF reader: `make fuzz` builds build/fuzz_gguf with
// -fsanitize=fuzzer,address,undefined; tests/t_fuzz_gguf.sh runs it from a seed corpus. Each input is opened
// with gguf_open_mem; on success every key, string, array element and tensor is touched (lookups must find
// each entry again, tensor bytes must lie inside the input, the first row dequantizes); on failure the message
// must be one line naming the file. Any broken invariant aborts, which libFuzzer reports as a crash.
#include "../gguf/gguf.h"
#include "../gguf/quants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MUST(cond) do { if (!(cond)) { fprintf(stderr, "fuzz_gguf: invariant broken: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GGUFFile f;
    char err[256];
    if (gguf_open_mem(&f, data, size, "fuzz.gguf", err, sizeof err) != 0) {
        MUST(strncmp(err, "fuzz.gguf: ", 11) == 0 && strlen(err) > 11 && !strchr(err, '\n'));
        return 0;
    }
    uint64_t sum = 0;
    char key[256];
    for (uint64_t i = 0; i < f.n_kv; i++) {
        const GGUFKV *kv = &f.kv[i];
        MUST((const uint8_t *)kv->key.ptr >= data && kv->key.len <= size);
        MUST((const uint8_t *)kv->key.ptr + kv->key.len <= data + size);
        // Keys without NUL bytes must be found again through the index (a key with a NUL cannot be asked for).
        if (kv->key.len < sizeof key && !memchr(kv->key.ptr, 0, kv->key.len)) {
            memcpy(key, kv->key.ptr, kv->key.len);
            key[kv->key.len] = 0;
            MUST(gguf_find_kv(&f, key) == kv);
            uint64_t u; uint32_t u32; float fl; int b; GGUFStr s;
            sum += gguf_get_u64(&f, key, &u) == 0 ? u : 0;
            sum += gguf_get_u32(&f, key, &u32) == 0 ? u32 : 0;
            sum += gguf_get_f32(&f, key, &fl) == 0 ? (fl == fl) : 0;
            sum += gguf_get_bool(&f, key, &b) == 0 ? (uint64_t)b : 0;
            if (gguf_get_str(&f, key, &s) == 0 && s.len) sum += (uint8_t)s.ptr[s.len - 1];
        }
        if (kv->type == GGUF_VT_STRING) MUST(kv->strs != NULL);
        if (kv->type != GGUF_VT_ARRAY) continue;
        if (kv->arr_type == GGUF_VT_STRING) {
            MUST(kv->strs != NULL);
            for (uint64_t j = 0; j < kv->arr_n; j++) {
                const GGUFStr *s = &kv->strs[j];
                MUST((const uint8_t *)s->ptr >= data && (const uint8_t *)s->ptr + s->len <= data + size);
                if (s->len) sum += (uint8_t)s->ptr[0] + (uint8_t)s->ptr[s->len - 1];
            }
        } else if (kv->arr_type != GGUF_VT_ARRAY) {
            for (uint64_t j = 0; j < kv->arr_n; j++) sum += (uint64_t)gguf_arr_int(kv, j) + (gguf_arr_float(kv, j) > 0);
        }
    }
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const GGUFTensor *t = &f.tensors[i];
        MUST(gguf_find_tensor(&f, t->name) == t);
        MUST(gguf_type_supported(t->type) && t->n_dims >= 1 && t->n_dims <= 4);
        MUST(t->offset % f.alignment == 0);
        const uint8_t *d = t->data;
        MUST(d >= data + f.data_offset && t->nbytes <= size && d + t->nbytes <= data + size);
        MUST(ggml_row_bytes(t->type, t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]) == t->nbytes);
        sum += d[0] + d[t->nbytes - 1];
        if (t->ne[0] <= 4096) {   // dequantize the first row: reads exactly row_bytes from the tensor
            float row[4096];
            dequantize_row(t->type, d, row, t->ne[0]);
            sum += row[0] == row[0];
        }
    }
    sink += sum;
    gguf_close(&f);
    return 0;
}
