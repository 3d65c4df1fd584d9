// gpu_kq.c — native Q4_K / Q5_K / Q6_K linear weights for small batches: a layer whose GGUF tensors are K-quants keeps
// them on the device (beside its bf16 / FP8 copy), and batches of up to gpu_kq_max_m rows stream them instead —
// 4.5 (Q4_K) or 6.6 (Q6_K) bits a weight against FP8's 8 and bf16's 16, and the file's exact values (the
// activation is rounded to int16 with a scale per 32: ~1e-4 relative).
// defines: gpu_kq_plan, gpu_kq_carve, gpu_kq_upload, gpu_kq_max_m, gpu_kq_rows, launch_gemv_kq
//
// Repacking (at load, on the host): the GGUF blocks (Q4_K 144 B: d, dmin, scales[12], qs[128]; Q6_K 210 B: ql[128],
// qh[64], scales[16], d) become planes of whole rows, so that the kernel's loads are 16-byte aligned and a warp's
// are contiguous (ptx/gemv_kq.ptx, its header):
//   Q4_K: q [N][K/2] (each block's qs), s [N][K/256][16] (the 8 scales, then the 8 mins, a byte each: unpacked from
//         the block's 12 bytes, so the kernel decodes none), d [N][K/256][2] f16 (d, dmin): 148 bytes a block
//   Q5_K: as Q4_K, plus h [N][K/256][32] (qh: each element's fifth bit): 180 bytes a block
//   Q6_K: q [N][K/2] (ql), h [N][K/4] (qh), s [N][K/256][16] (scales), d [N][K/256] f16
// Stacked tensors ([Wq;Wk;Wv], [Wgate;Wup]) are parts of consecutive rows of one type each: a Q4_K_M file's qkv is
// Q4_K q/k and, in some layers, a Q6_K v — two launches there. The gate/up pair must be one type (one launch whose
// SwiGLU epilogue pairs row j with row j + ffn); it is not interleaved as the GEMMs' copy is.
#include "gpu_ops.h"
#include "util.h"
#include "../gguf/quants.h"
#include <string.h>

enum { KQ_THREADS = 256, KQ_WARPS = 8, KQ_SMEM_MAX = 227 * 1024, KQ_M_MAX = 8 };

static int kq_type(uint32_t t) { return t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q5_K || t == GGML_TYPE_Q6_K; }
static int kq_index(int t) { return t == GGML_TYPE_Q4_K ? 0 : t == GGML_TYPE_Q5_K ? 1 : 2; }  // kernel table row

int gpu_kq_plan(GpuKq *kq, const GGUFTensor *const *ts, int n, int K, int gated, int max_m) {
    memset(kq, 0, sizeof *kq);
    if (K <= 0 || K % 256) return 0;
    int N = 0, parts = 0;
    for (int i = 0; i < n; i++) {
        const GGUFTensor *t = ts[i];
        int rows = (int)t->ne[1];
        if (!kq_type(t->type) || t->ne[0] != K || rows <= 0 || rows % 2) return 0;
        if (parts && kq->p[parts - 1].type == (int)t->type) {
            kq->p[parts - 1].rows += rows;
        } else {
            if (parts == 3) return 0;
            kq->p[parts++] = (GpuKqPart){ 0, 0, 0, 0, (int)t->type, N, rows };
        }
        N += rows;
    }
    if (!parts || (gated && parts != 1)) return 0;
    kq->n = parts;
    kq->N = N;
    kq->K = K;
    kq->max_m = max_m < gpu_kq_max_m(K) ? max_m : gpu_kq_max_m(K);  // (the kernel's shared-memory limit)
    return 1;
}

static size_t plane_q(int rows, int K) { return (size_t)rows * K / 2; }
static size_t plane_h(const GpuKqPart *p, int K) {
    return (size_t)p->rows * (p->type == GGML_TYPE_Q6_K ? K / 4 : p->type == GGML_TYPE_Q5_K ? K / 8 : 0);
}
static size_t plane_s(int rows, int K) { return (size_t)rows * (K / 256) * 16; }
static size_t plane_d(const GpuKqPart *p, int K) { return (size_t)p->rows * (K / 256) * (p->type == GGML_TYPE_Q6_K ? 2 : 4); }

void gpu_kq_carve(GpuArena *a, GpuKq *kq) {
    for (int i = 0; i < kq->n; i++) {
        GpuKqPart *p = &kq->p[i];
        p->q = gpu_arena_alloc(a, plane_q(p->rows, kq->K));
        p->h = plane_h(p, kq->K) ? gpu_arena_alloc(a, plane_h(p, kq->K)) : 0;
        p->s = gpu_arena_alloc(a, plane_s(p->rows, kq->K));
        p->d = gpu_arena_alloc(a, plane_d(p, kq->K));
    }
}

// ---------------------------------------------------------------- repacking, a row at a time over the thread pool
typedef struct { const uint8_t *src; uint8_t *q, *h, *s, *d; int K, type; } Repack;

static void repack_row(void *ctx, int64_t r) {
    const Repack *j = ctx;
    int nkb = j->K / 256, q6 = j->type == GGML_TYPE_Q6_K, q5 = j->type == GGML_TYPE_Q5_K;
    size_t bs = ggml_type_size((uint32_t)j->type);  // 210, 176 or 144 bytes a block
    const uint8_t *b = j->src + (size_t)r * nkb * bs;
    for (int kb = 0; kb < nkb; kb++, b += bs) {
        size_t blk = (size_t)r * nkb + kb;
        if (q6) {
            memcpy(j->q + (size_t)r * j->K / 2 + kb * 128, b, 128);
            memcpy(j->h + (size_t)r * j->K / 4 + kb * 64, b + 128, 64);
            memcpy(j->s + blk * 16, b + 192, 16);
            memcpy(j->d + blk * 2, b + 208, 2);
        } else {  // Q4_K: d, dmin, scales[12], qs[128]; Q5_K: the same with qh[32] before qs
            memcpy(j->q + (size_t)r * j->K / 2 + kb * 128, b + (q5 ? 48 : 16), 128);
            if (q5) memcpy(j->h + blk * 32, b + 16, 32);
            k_scales_unpack(b + 4, j->s + blk * 16, j->s + blk * 16 + 8);
            memcpy(j->d + blk * 4, b, 4);
        }
    }
}

void gpu_kq_upload(Gpu *g, const GpuKq *kq, const GGUFTensor *const *ts, int n) {
    int row = 0, K = kq->K;
    for (int i = 0; i < n && kq->n; i++) {
        const GGUFTensor *t = ts[i];
        int rows = (int)t->ne[1], pi = 0;
        while (pi < kq->n - 1 && row >= kq->p[pi].row0 + kq->p[pi].rows) pi++;
        const GpuKqPart *p = &kq->p[pi];
        if ((int)t->type != p->type || t->ne[0] != K || row + rows > p->row0 + p->rows)
            die("%s: does not match the native layer planned for it (%s, %lld columns)", t->name,
                gguf_type_name(t->type), (long long)t->ne[0]);
        if (t->nbytes != ggml_row_bytes(t->type, K) * (uint64_t)rows)
            die("%s: %llu bytes, %d rows of %d %s elements need %llu", t->name, (unsigned long long)t->nbytes, rows, K,
                gguf_type_name(t->type), (unsigned long long)(ggml_row_bytes(t->type, K) * (uint64_t)rows));
        GpuKqPart sub = *p;
        sub.rows = rows;
        size_t bq = plane_q(rows, K), bh = plane_h(&sub, K), bs = plane_s(rows, K), bd = plane_d(&sub, K);
        uint8_t *buf = xmalloc(bq + bh + bs + bd);
        Repack j = { t->data, buf, buf + bq, buf + bq + bh, buf + bq + bh + bs, K, p->type };
        parallel_for(rows, repack_row, &j);
        int r0 = row - p->row0;  // this tensor's first row within the part
        gpu_upload(g, p->q + plane_q(r0, K), j.q, bq);
        if (bh) gpu_upload(g, p->h + plane_h(&(GpuKqPart){ .type = p->type, .rows = r0 }, K), j.h, bh);
        gpu_upload(g, p->s + plane_s(r0, K), j.s, bs);
        gpu_upload(g, p->d + plane_d(&(GpuKqPart){ .type = p->type, .rows = r0 }, K), j.d, bd);
        free(buf);
        row += rows;
    }
}

// ---------------------------------------------------------------- the launch
static size_t kq_smem(int mb, int K) { return (size_t)mb * K / 8 * 21; }  // int16 x (+1/8 padding), dx, sums
static int kq_mb(int M) { return M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : 8; }

int gpu_kq_max_m(int K) {
    int m = KQ_M_MAX;
    while (m > 0 && kq_smem(kq_mb(m), K) > KQ_SMEM_MAX) m /= 2;
    return m;
}

// Measured on the H200 (test_gpu_kq's timings, NOTES session 27): the native kernel beats the bf16 GEMM at one row
// everywhere and at two from ~8M weights (the 8B's o) up; against the FP8 path it wins at one row from that size
// (0.5-0.9x on Q4_K, level on Q6_K) and loses on the 0.6B's small matrices, where the FP8 decode tile builds its own
// input in one launch.
int gpu_kq_rows(int N, int K, int fp8) {
    static int env = -1;
    if (env < 0) env = env_int("QWEN3_KQ_MAX_M", 0, KQ_M_MAX, 0);
    int big = (long)N * K >= 8L << 20;
    return env ? env : big ? (fp8 ? 1 : 2) : (fp8 ? 0 : 1);
}

void launch_gemv_kq(Gpu *g, const GpuKq *kq, CUdeviceptr C, CUdeviceptr X, int M, int mode) {
    static CUcontext fn_ctx;
    static CUfunction fn[3][4];
    static const char *names[3][4] = { { "gemv_q4k_m1", "gemv_q4k_m2", "gemv_q4k_m4", "gemv_q4k_m8" },
                                       { "gemv_q5k_m1", "gemv_q5k_m2", "gemv_q5k_m4", "gemv_q5k_m8" },
                                       { "gemv_q6k_m1", "gemv_q6k_m2", "gemv_q6k_m4", "gemv_q6k_m8" } };
    int mb = kq_mb(M), mi = mb == 1 ? 0 : mb == 2 ? 1 : mb == 4 ? 2 : 3, K = kq->K;
    if (!kq->n || M < 1 || M > KQ_M_MAX || kq_smem(mb, K) > KQ_SMEM_MAX)
        die("launch_gemv_kq: %d rows of %d columns do not fit the native kernel (or the layer has none)", M, K);
    if (mode != GEMM_STORE_F32 && mode != GEMM_ADD_F32 && !(mode == GEMM_SWIGLU_BF16 && kq->n == 1))
        die("launch_gemv_kq: mode %d (store / add f32, or SwiGLU of one part)", mode);
    if (X % 16 || C % 8) die("launch_gemv_kq: X must be 16-byte aligned, C 8-byte");
    if (fn_ctx != g->ctx) {
        for (int t = 0; t < 3; t++)
            for (int i = 0; i < 4; i++) fn[t][i] = gpu_kernel(g, "gemv_kq", names[t][i]);
        fn_ctx = g->ctx;
    }
    unsigned smem = (unsigned)kq_smem(mb, K);
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    for (int i = 0; i < kq->n; i++) {
        const GpuKqPart *p = &kq->p[i];
        int ti = kq_index(p->type);
        // persistent over row pairs: two CTAs an SM (128 registers a thread), one for the 168-register entries
        // (8 rows; Q5_K from 4), fewer where x's shared memory does not allow
        int per_sm = mb == 8 || (ti == 1 && mb == 4) ? 1 : 2, fit = (int)(228 * 1024 / (smem + 1024));
        if (fit < per_sm) per_sm = fit;
        unsigned pairs = (unsigned)p->rows / 2, ctas = (pairs + KQ_WARPS - 1) / KQ_WARPS;
        if (ctas > (unsigned)(sms * per_sm)) ctas = (unsigned)(sms * per_sm);
        CUdeviceptr c = mode == GEMM_SWIGLU_BF16 ? C : C + (CUdeviceptr)p->row0 * 4;
        unsigned uM = (unsigned)M, uN = (unsigned)p->rows, uK = (unsigned)K, umode = (unsigned)mode;
        unsigned ldc = (unsigned)(mode == GEMM_SWIGLU_BF16 ? kq->N / 2 : kq->N);
        CUdeviceptr q = p->q, h = p->h, s = p->s, d = p->d;
        Dim3 grid = { ctas, 1, 1 }, block = { KQ_THREADS, 1, 1 };
        void *args[] = { &c, &X, &q, &h, &s, &d, &uM, &uN, &uK, &ldc, &umode };
        gpu_launch(g, fn[ti][mi], grid, block, smem, NULL, args, names[ti][mi]);
    }
}
