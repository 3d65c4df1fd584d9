// gpu_weights.c — GGUF tensors into device memory: raw bytes through pinned staging buffers, dequantized on the
// GPU by ptx/dequant.ptx into bf16 (GEMM weights, embeddings) or f32 (norm weights).
// defines: gpu_upload_tensor_bf16, gpu_upload_tensor_f32, gpu_upload_set_staging, gpu_upload_free
//
// Design (the two numbers: an 8B Q8_0 file is 8.7 GB; PCIe 5 x16 moves ~50 GB/s pinned, a host memcpy from the
// page cache ~5-10 GB/s per core, so the memcpy into pinned memory is the wall unless it is spread over threads):
//
//   mmap (page cache) --parallel_for memcpy--> pinned[b] --cuMemcpyHtoDAsync--> raw[b] --dequant kernel--> dst
//
// A tensor is cut into chunks of at most the staging size (64 MB by default), each a whole number of 256-element
// units (a multiple of every block size, so every chunk starts on a block boundary and its output offset stays
// 16-byte aligned). Chunk i uses buffer pair b = i % 2 (pinned host + raw device); an event recorded on g->stream
// after chunk i's kernel tells when pair b is free again. So while the copy engine and the kernel work on chunk
// i, the host threads are already filling the other pinned buffer with chunk i+1: host memcpy, PCIe transfer
// and dequant overlap, and the rate is that of the slowest of the three. The pair alternation carries across
// tensors, so a run of small tensors (norms) overlaps too. Nothing synchronises the stream except the wait for a
// buffer; gpu_upload_free synchronises and frees the buffers (call it after the last tensor, before
// gpu_shutdown). The host copy out of t->data is done when a call returns, so the mmap may be closed then; the
// device side completes in stream order (gpu_sync before timing or reading dst from another stream).
#include "gpu_ops.h"
#include "util.h"
#include "../gguf/quants.h"
#include <string.h>

enum { UNIT = 256, DQ_THREADS = 256, DQ_GROUP = 8 };   // elements per chunk unit; kernel block; elements per thread
#define STAGING_DEFAULT ((size_t)64 << 20)
#define COPY_PIECE ((size_t)4 << 20)                  // bytes per parallel_for task of the host memcpy

static struct {
    CUcontext ctx;          // context the buffers were allocated in (0: none)
    CUstream stream;        // and the stream of that gpu_init (a context handle can be reused after shutdown)
    size_t want;            // size for the next allocation (0: default)
    size_t bytes;           // size of each buffer
    void *host[2];          // pinned staging
    CUdeviceptr dev[2];     // raw GGUF bytes on the device, read by the dequant kernel
    CUevent free_ev[2];     // recorded after the last kernel that read pair b
    int next;               // pair the next chunk uses
} st;

void gpu_upload_set_staging(size_t bytes) { st.want = bytes; }

void gpu_upload_free(Gpu *g) {
    if (!st.ctx || st.ctx != g->ctx || st.stream != g->stream) return;
    CU_CHECK(cuStreamSynchronize(g->stream));
    for (int b = 0; b < 2; b++) {
        CU_CHECK(cuEventDestroy(st.free_ev[b]));
        CU_CHECK(cuMemFree(st.dev[b]));
        CU_CHECK(cuMemFreeHost(st.host[b]));
    }
    size_t want = st.want;
    memset(&st, 0, sizeof st);
    st.want = want;
}

static void staging_init(Gpu *g) {
    size_t want = st.want ? st.want : STAGING_DEFAULT;
    int same = st.ctx == g->ctx && st.stream == g->stream;
    if (same && st.bytes == want) return;
    if (same) gpu_upload_free(g);                   // resize
    // (otherwise the buffers, if any, died with their context at gpu_shutdown)
    memset(&st.host, 0, sizeof st.host);
    st.bytes = want;
    for (int b = 0; b < 2; b++) {
        CUresult r = cuMemHostAlloc(&st.host[b], st.bytes, 0);
        if (r != CUDA_SUCCESS) die("cannot pin %zu MB of host memory for weight staging", st.bytes >> 20);
        st.dev[b] = gpu_alloc(g, st.bytes);
        CU_CHECK(cuEventCreate(&st.free_ev[b], CU_EVENT_DISABLE_TIMING));
    }
    st.next = 0;
    st.ctx = g->ctx;
    st.stream = g->stream;
}

// ---------------------------------------------------------------- host memcpy over the thread pool
typedef struct { uint8_t *dst; const uint8_t *src; size_t n; } CopyJob;

static void copy_piece(void *ctx, int64_t i) {
    const CopyJob *j = ctx;
    size_t off = (size_t)i * COPY_PIECE, n = j->n - off < COPY_PIECE ? j->n - off : COPY_PIECE;
    memcpy(j->dst + off, j->src + off, n);
}

static void copy_parallel(void *dst, const void *src, size_t n) {
    if (n <= COPY_PIECE) { memcpy(dst, src, n); return; }
    CopyJob j = { dst, src, n };
    parallel_for((int64_t)((n + COPY_PIECE - 1) / COPY_PIECE), copy_piece, &j);
}

// ---------------------------------------------------------------- the upload
static const char *dequant_entry(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: return "dequant_f32";
    case GGML_TYPE_F16: return "dequant_f16";
    case GGML_TYPE_BF16: return "dequant_bf16";
    case GGML_TYPE_Q8_0: return "dequant_q8_0";
    case GGML_TYPE_Q4_0: return "dequant_q4_0";
    case GGML_TYPE_Q5_0: return "dequant_q5_0";
    case GGML_TYPE_Q4_K: return "dequant_q4_k";
    case GGML_TYPE_Q5_K: return "dequant_q5_k";
    case GGML_TYPE_Q6_K: return "dequant_q6_k";
    default: return NULL;
    }
}

static void upload(Gpu *g, CUdeviceptr dst, const GGUFTensor *t, int out_f32) {
    const char *entry = dequant_entry(t->type);
    int bs = ggml_blck_size(t->type);
    if (!entry || bs <= 0) die("%s: tensor type %s cannot be uploaded to the GPU", t->name, gguf_type_name(t->type));
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    if (n <= 0 || n % bs || ggml_row_bytes(t->type, n) != t->nbytes)
        die("%s: %lld elements of %s do not make %llu bytes", t->name, (long long)n, gguf_type_name(t->type),
            (unsigned long long)t->nbytes);
    if (dst & 15) die("%s: upload destination 0x%llx is not 16-byte aligned", t->name, (unsigned long long)dst);
    staging_init(g);
    // Chunk = whole 256-element units that fit a staging buffer; also bounded by the kernel's 32-bit count.
    uint64_t unit_bytes = ggml_row_bytes(t->type, UNIT);
    int64_t chunk = (int64_t)(st.bytes / unit_bytes) * UNIT;
    if (chunk > ((int64_t)1 << 30)) chunk = (int64_t)1 << 30;
    if (chunk < UNIT) die("weight staging of %zu bytes is smaller than one unit of %s", st.bytes,
                          gguf_type_name(t->type));
    CUfunction f = gpu_kernel(g, "dequant", entry);
    unsigned flag = out_f32 ? 1u : 0u;
    size_t esize = out_f32 ? 4 : 2;
    for (int64_t e0 = 0; e0 < n; e0 += chunk) {
        int64_t ne = n - e0 < chunk ? n - e0 : chunk;
        uint64_t off = ggml_row_bytes(t->type, e0), nb = ggml_row_bytes(t->type, ne);
        int b = st.next;
        st.next ^= 1;
        CU_CHECK(cuEventSynchronize(st.free_ev[b]));   // pair b's previous copy and kernel are done
        copy_parallel(st.host[b], (const uint8_t *)t->data + off, nb);
        CU_CHECK(cuMemcpyHtoDAsync(st.dev[b], st.host[b], nb, g->stream));
        CUdeviceptr d = dst + (CUdeviceptr)e0 * esize, s = st.dev[b];
        unsigned un = (unsigned)ne;
        Dim3 grid = { (unsigned)((ne + DQ_GROUP * DQ_THREADS - 1) / (DQ_GROUP * DQ_THREADS)), 1, 1 };
        Dim3 block = { DQ_THREADS, 1, 1 };
        void *args[] = { &d, &s, &un, &flag };
        gpu_launch(g, f, grid, block, 0, NULL, args, entry);
        CU_CHECK(cuEventRecord(st.free_ev[b], g->stream));
    }
}

void gpu_upload_tensor_bf16(Gpu *g, CUdeviceptr dst, const GGUFTensor *t) { upload(g, dst, t, 0); }
void gpu_upload_tensor_f32(Gpu *g, CUdeviceptr dst, const GGUFTensor *t) { upload(g, dst, t, 1); }
