// gpu_kq.c — native quantised linear weights for small batches: a layer whose GGUF tensors are Q4_K / Q5_K / Q6_K or
// Q8_0 / Q4_0 / Q5_0 keeps them on the device (beside its bf16 / FP8 copy), and batches of up to gpu_kq_max_m rows
// stream them instead — 4.5 (Q4_K, Q4_0) to 8.5 (Q8_0) bits a weight against bf16's 16, and the file's exact values
// (the activation is rounded to int16 with a scale per 32: ~1e-4 relative). From 2 rows (QWEN3_KQ_MMA_MIN) a stack of
// Q4_K / Q6_K parts runs ptx/gemm_kq.ptx instead: the codes dequantised to bf16 in registers, mma.sync, up to 32 rows
// (gpu_kq_rows: 32 for Q4_K-led layers beside bf16, 8 for Q6_K-led ones), from the same q / h planes and a plane of
// bf16 scales (b).
// defines: gpu_kq_plan, gpu_kq_carve, gpu_kq_upload, gpu_kq_bytes, gpu_kq_mma_bytes, gpu_kq_max_m, gpu_kq_rows,
//          gpu_kq_stack_rows,
//          gpu_kq_force_split, gpu_kq_mma_from, gpu_kq_force_grid, gpu_kq_r2_from,
//          launch_gemv_kq
//
// Repacking (at load, on the host): the GGUF blocks (Q4_K 144 B: d, dmin, scales[12], qs[128]; Q6_K 210 B: ql[128],
// qh[64], scales[16], d) become planes of whole rows, so that the kernel's loads are 16-byte aligned and a warp's
// are contiguous (ptx/gemv_kq.ptx, its header):
//   Q4_K: q [N][K/2] (each block's qs), s [N][K/256][16] (the 8 scales, then the 8 mins, a byte each: unpacked from
//         the block's 12 bytes, so the kernel decodes none), d [N][K/256][2] f16 (d, dmin): 148 bytes a block
//   Q5_K: as Q4_K, plus h [N][K/256][32] (qh: each element's fifth bit): 180 bytes a block
//   Q6_K: q [N][K/2] (ql), h [N][K/4] (qh), s [N][K/256][16] (scales), d [N][K/256] f16
//   Q8_0 (34 B: d, qs[32]): q [N][K] (the int8 codes), d [N][K/32] f16: 34 bytes a block, aligned
//   Q4_0 (18 B: d, qs[16]) / Q5_0 (22 B: d, qh[4], qs[16]): q [N][K/2] (qs), d [N][K/32] f16, Q5_0 h [N][K/32][4]
//   gemm_kq's b: Q4_K [N][K/32] (bf16(d * sc), bf16(-dmin * m)) a sub-block, Q6_K [N][K/16] bf16(d * sc): K/8 bytes a row
// Stacked tensors ([Wq;Wk;Wv], [Wgate;Wup]) are parts of consecutive rows of one type each: a Q4_K_M file's qkv is
// Q4_K q/k and, in some layers, a Q6_K v — two launches there. The gate/up pair must be one type (one launch whose
// SwiGLU epilogue pairs row j with row j + ffn); it is not interleaved as the GEMMs' copy is.
#include "gpu_ops.h"
#include "util.h"
#include "../gguf/quants.h"
#include <string.h>

enum { KQ_THREADS = 256, KQ_WARPS = 8, KQ_SMEM_MAX = 227 * 1024, KQ_M_MAX = 8 };
enum { KM_THREADS = 256, KM_WARPS = 8, KM_M_MAX = 32 };  // ptx/gemm_kq.ptx: the tensor-core entries (Q4_K, Q6_K)

enum { KQ_TYPES = 6 };
static const uint32_t kq_types[KQ_TYPES] = { GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K, GGML_TYPE_Q8_0,
                                             GGML_TYPE_Q4_0, GGML_TYPE_Q5_0 };
static int kq_index(uint32_t t) {  // the kernel table's row; -1: not a native type
    for (int i = 0; i < KQ_TYPES; i++)
        if (kq_types[i] == t) return i;
    return -1;
}
static int kq_type(uint32_t t) { return kq_index(t) >= 0; }
static int kq_t0(int t) { return t == GGML_TYPE_Q8_0 || t == GGML_TYPE_Q4_0 || t == GGML_TYPE_Q5_0; }  // blocks of 32
static int km_type(int t) { return t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q6_K; }  // gemm_kq.ptx takes it
static int km_part(int t, long rows) { return km_type(t) && rows % 16 == 0; }      // ... in whole tiles of 16 rows

// gemm_kq.ptx takes the whole stack: every part Q4_K / Q6_K, in whole tiles of 16 rows
static int km_stack(const GpuKq *kq) {
    for (int i = 0; i < kq->n; i++)
        if (!km_part(kq->p[i].type, kq->p[i].rows)) return 0;
    return kq->n > 0;
}

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
            kq->p[parts++] = (GpuKqPart){ 0, 0, 0, 0, 0, (int)t->type, N, rows };
        }
        N += rows;
    }
    if (!parts || (gated && parts != 1)) return 0;
    kq->n = parts;
    kq->N = N;
    kq->K = K;
    // (gemv_kq's shared-memory limit; gemm_kq, where it takes the stack, has none)
    int lim = km_stack(kq) ? KM_M_MAX : gpu_kq_max_m(K);
    kq->max_m = max_m < lim ? max_m : lim;
    return 1;
}

// The planes' bytes for `rows` rows of type t
static size_t plane_q(int t, int rows, int K) { return (size_t)rows * (t == GGML_TYPE_Q8_0 ? K : K / 2); }
static size_t plane_h(int t, int rows, int K) {
    return (size_t)rows * (t == GGML_TYPE_Q6_K ? K / 4 : t == GGML_TYPE_Q5_K || t == GGML_TYPE_Q5_0 ? K / 8 : 0);
}
static size_t plane_s(int t, int rows, int K) { return kq_t0(t) ? 0 : (size_t)rows * (K / 256) * 16; }
static size_t plane_d(int t, int rows, int K) {
    return (size_t)rows * (kq_t0(t) ? K / 16 : (K / 256) * (t == GGML_TYPE_Q6_K ? 2 : 4));
}
// gemm_kq's bf16 scales: Q4_K (s, -mn) a sub-block of 32, Q6_K s a sub-block of 16 (K / 8 bytes a row)
static size_t plane_b(int t, int rows, int K) { return km_type(t) ? (size_t)rows * (K / 8) : 0; }

size_t gpu_kq_bytes(uint32_t type, int rows, int K) {
    int t = (int)type;
    return plane_q(t, rows, K) + plane_h(t, rows, K) + plane_s(t, rows, K) + plane_d(t, rows, K);
}

size_t gpu_kq_mma_bytes(uint32_t type, int rows, int K) {
    int t = (int)type;
    return km_type(t) ? plane_q(t, rows, K) + plane_h(t, rows, K) + plane_b(t, rows, K) : 0;
}

static int km_min_m(void);

void gpu_kq_carve(GpuArena *a, GpuKq *kq) {
    int mma = km_stack(kq) && kq->max_m >= km_min_m();  // the b planes only where gemm_kq will run
    for (int i = 0; i < kq->n; i++) {
        GpuKqPart *p = &kq->p[i];
        int t = p->type, r = p->rows, K = kq->K;
        p->q = gpu_arena_alloc(a, plane_q(t, r, K));
        p->h = plane_h(t, r, K) ? gpu_arena_alloc(a, plane_h(t, r, K)) : 0;
        p->s = plane_s(t, r, K) ? gpu_arena_alloc(a, plane_s(t, r, K)) : 0;
        p->d = gpu_arena_alloc(a, plane_d(t, r, K));
        p->b = mma ? gpu_arena_alloc(a, plane_b(t, r, K)) : 0;
    }
}

// ---------------------------------------------------------------- repacking, a row at a time over the thread pool
typedef struct { const uint8_t *src; uint8_t *q, *h, *s, *d, *b; int K, type; } Repack;

static void repack_row(void *ctx, int64_t r) {
    const Repack *j = ctx;
    int nkb = j->K / 256, q6 = j->type == GGML_TYPE_Q6_K, q5 = j->type == GGML_TYPE_Q5_K;
    size_t bs = ggml_type_size((uint32_t)j->type);  // 210, 176, 144 bytes a block of 256; 34, 22, 18 of 32
    if (kq_t0(j->type)) {  // d, [qh[4]], codes: 32 (Q8_0) or 16 bytes
        int nb = j->K / 32, q8 = j->type == GGML_TYPE_Q8_0, h = j->type == GGML_TYPE_Q5_0 ? 4 : 0, cb = q8 ? 32 : 16;
        const uint8_t *b = j->src + (size_t)r * nb * bs;
        for (int i = 0; i < nb; i++, b += bs) {
            size_t blk = (size_t)r * nb + i;
            memcpy(j->q + blk * cb, b + 2 + h, (size_t)cb);
            if (h) memcpy(j->h + blk * 4, b + 2, 4);
            memcpy(j->d + blk * 2, b, 2);
        }
        return;
    }
    const uint8_t *b = j->src + (size_t)r * nkb * bs;
    for (int kb = 0; kb < nkb; kb++, b += bs) {
        size_t blk = (size_t)r * nkb + kb;
        if (q6) {
            memcpy(j->q + (size_t)r * j->K / 2 + kb * 128, b, 128);
            memcpy(j->h + (size_t)r * j->K / 4 + kb * 64, b + 128, 64);
            memcpy(j->s + blk * 16, b + 192, 16);
            memcpy(j->d + blk * 2, b + 208, 2);
            float d = f16_to_f32((uint16_t)(b[208] | b[209] << 8));
            for (int i = 0; i < 16 && j->b; i++) {  // bf16(d * sc), rounded once from the exact f32 product
                uint16_t v = f32_to_bf16(d * (float)(int8_t)b[192 + i]);
                memcpy(j->b + (blk * 16 + i) * 2, &v, 2);
            }
        } else {  // Q4_K: d, dmin, scales[12], qs[128]; Q5_K: the same with qh[32] before qs
            memcpy(j->q + (size_t)r * j->K / 2 + kb * 128, b + (q5 ? 48 : 16), 128);
            if (q5) memcpy(j->h + blk * 32, b + 16, 32);
            k_scales_unpack(b + 4, j->s + blk * 16, j->s + blk * 16 + 8);
            memcpy(j->d + blk * 4, b, 4);
            if (j->b) {  // Q4_K: (bf16(d * sc), bf16(-dmin * m)) a sub-block
                float d = f16_to_f32((uint16_t)(b[0] | b[1] << 8)), dmin = f16_to_f32((uint16_t)(b[2] | b[3] << 8));
                const uint8_t *sc = j->s + blk * 16;
                for (int i = 0; i < 8; i++) {
                    uint16_t v[2] = { f32_to_bf16(d * (float)sc[i]), f32_to_bf16(-(dmin * (float)sc[8 + i])) };
                    memcpy(j->b + (blk * 8 + i) * 4, v, 4);
                }
            }
        }
    }
}

static void km_load(Gpu *g);

void gpu_kq_upload(Gpu *g, const GpuKq *kq, const GGUFTensor *const *ts, int n) {
    int row = 0, K = kq->K;
    if (kq->n && kq->p[0].b) km_load(g);  // gemm_kq will run: its sizes now, not inside a graph capture
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
        int ty = p->type;
        size_t bq = plane_q(ty, rows, K), bh = plane_h(ty, rows, K);
        size_t bs = plane_s(ty, rows, K), bd = plane_d(ty, rows, K), bb = p->b ? plane_b(ty, rows, K) : 0;
        uint8_t *buf = xmalloc(bq + bh + bs + bd + bb);
        Repack j = { t->data, buf, buf + bq, buf + bq + bh, buf + bq + bh + bs, bb ? buf + bq + bh + bs + bd : NULL, K,
                     p->type };
        parallel_for(rows, repack_row, &j);
        int r0 = row - p->row0;  // this tensor's first row within the part
        gpu_upload(g, p->q + plane_q(ty, r0, K), j.q, bq);
        if (bh) gpu_upload(g, p->h + plane_h(ty, r0, K), j.h, bh);
        if (bs) gpu_upload(g, p->s + plane_s(ty, r0, K), j.s, bs);
        gpu_upload(g, p->d + plane_d(ty, r0, K), j.d, bd);
        if (bb) gpu_upload(g, p->b + plane_b(ty, r0, K), j.b, bb);
        free(buf);
        row += rows;
    }
}

// ---------------------------------------------------------------- the launch
// int16 x (+1/8 padding), dx, sums; the K parts' sums; the RMSNorm mode's sums of squares
static size_t kq_smem(int mb, int K) {
    return (size_t)mb * K / 8 * 21 + (size_t)2 * KQ_WARPS * mb * 8 + (size_t)KQ_WARPS * mb * 4;
}
static int kq_mb(int M) { return M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : 8; }

int gpu_kq_max_m(int K) {
    int m = KQ_M_MAX;
    while (m > 0 && kq_smem(kq_mb(m), K) > KQ_SMEM_MAX) m /= 2;
    return m;
}

// gemm_kq (2+ rows; session 30's kernel, test_gpu_kq's timings) beats the bf16 GEMM on Q4_K layers up to 16 rows (the
// 8B's gate/up 0.45-0.82x its time at 2-16 rows, 1.06x at 32; the 8B's four layers at 32 rows add up level) and on
// Q6_K at 2-4 rows (0.73-1.01x). Against the FP8 path Q4_K wins at 2-4 rows on every 8B / 32B layer (0.77-0.94x) and
// at 8 on the 8B's, not the 32B's (o 1.22x, down 1.49x); but the engine's FP8 path builds its input in the norm, and
// an 8B Q4_K_M engine with FP8 weights (session 31) gained only at two rows: B = 2 +1.9%, B = 4 -0.5% with Q4_K-led
// layers native up to 4 rows. Q6_K-led stacks beside bf16 of up to 16,384 columns (a Q4_K_M file's head and, up to
// the 8B, its Q6_K down layers; every layer of a Q6_K file) take up to 8 rows since session 31's persistent kernel:
// the 8B Q4_K_M engine at B = 3 / 4 / 8, Q6_K-led layers native up to 2 rows -> up to 8 (QWEN3_KQ_MAX_M=8, which on
// that file is this rule), 957.5 / 1,248.3 / 2,392.8 -> 1,079.0 / 1,401.6 / 2,519.7 tok/s (+13% / +12% / +5%); the
// head alone at 4 rows gave less than half of it (996.8 / 1,317.8). The 32B's down (25,600 columns) lost 1.3x at 4
// rows against bf16 in session 30's table and keeps 2. Q4_K-led stacks take up to 32 rows beside bf16
// (QWEN3_KQ_Q4K_MAX; 16 until session 32's two-row-tile entries: the 8B Q4_K_M engine at B = 32, 5,680 -> 5,832
// tok/s, B = 16 level), 2 beside FP8; the rest as before (two rows beside bf16, one beside FP8: gemm_kq from 2, below).
// Measured on the H200 (test_gpu_kq's timings, NOTES session 27): the native kernel beats the bf16 GEMM at one row
// everywhere and at two from ~8M weights (the 8B's o) up; against the FP8 path it wins at one row from that size
// (0.5-0.9x on Q4_K, level on Q6_K) and loses on the 0.6B's small matrices, where the FP8 decode tile builds its own
// input in one launch. Q8_0 (8.5 bits) is never lighter than FP8's 8: beside FP8 it keeps no native copy.
static int kq_env_rows(void) {  // QWEN3_KQ_MAX_M, 0 when unset
    static int env = -1;
    if (env < 0) env = env_int("QWEN3_KQ_MAX_M", 0, KQ_M_MAX, 0);
    return env;
}

static int kq_q4k_rows(void) {  // QWEN3_KQ_Q4K_MAX: Q4_K-led stacks' rows beside bf16
    static int env = -1;
    if (env < 0) env = env_int("QWEN3_KQ_Q4K_MAX", 1, KM_M_MAX, 32);
    return env;
}

int gpu_kq_rows(int N, int K, int fp8, uint32_t type) {
    int big = (long)N * K >= 8L << 20, env = kq_env_rows();
    if (env) return env;
    if (fp8 && type == GGML_TYPE_Q8_0) return 0;
    if (big && type == GGML_TYPE_Q4_K) return fp8 ? 2 : kq_q4k_rows();  // gemm_kq from 2 rows (above)
    if (big && !fp8 && type == GGML_TYPE_Q6_K && K <= 16384) return 8;  // (not the 14B / 32B's long-K downs)
    return big ? (fp8 ? 1 : 2) : (fp8 ? 0 : 1);
}

// gpu_kq_rows for a stack of tensors (its first one's type leads): the rows the rule gives Q4_K / Q6_K-led layers
// past gemv_kq's own (two beside bf16, one beside FP8: session 27) are gemm_kq's, so a stack it cannot take (another
// type among its parts, e.g. a Q4_K_S file's Q5_K v in its first layers, or rows not in tiles of 16) keeps those:
// gemv_kq's time grows with the rows (4 rows 2-3x one)
int gpu_kq_stack_rows(const GGUFTensor *const *ts, int n, int K, int fp8) {
    int N = 0, mma = 1;
    for (int i = 0; i < n; i++) {
        N += (int)ts[i]->ne[1];
        mma &= km_part((int)ts[i]->type, (long)ts[i]->ne[1]);
    }
    int rows = gpu_kq_rows(N, K, fp8, ts[0]->type), own = fp8 ? 1 : 2;
    return mma || kq_env_rows() || rows <= own ? rows : own;
}

// The K split (1, 2 or 4 warps a row pair; a warp of a split takes every S-th step of 2048 columns, and the parts
// add in shared memory) for `pairs` row pairs of K columns over `slots` warps, `u` steps an iteration. Measured on
// the H200 (test_gpu_kq's split timings, NOTES session 28): a split pays only where the pairs leave the last round
// of warps at most half full (pairs / slots in (0, 0.5] or (1, 1.5]: the 32B's o and down, 1.21) and K is long: four
// parts from 12 steps (the 32B's down, one row: Q4_K 33.4 -> 28.5 us, Q8_0 51.4 -> 43.0), two where each part keeps
// two iterations (the 32B's o on Q8_0 17.2 -> 15.9; on Q4_K, two steps an iteration, it lost 4%). Elsewhere it lost
// up to 30% (the gate/up pairs, many rounds; the 8B's layers). More than one row of x: S <= 2. QWEN3_KQ_SPLIT (or
// gpu_kq_force_split) forces one.
static int kq_force = -1;
void gpu_kq_force_split(int S) { kq_force = S; }
static int kq_split_log2(int pairs, int K, int slots, int u, int mb) {
    if (kq_force < 0) kq_force = env_int("QWEN3_KQ_SPLIT", 0, 4, 0);
    int steps = (K / 256 + 7) / 8;
    if (kq_force) return kq_force == 4 && steps >= 4 ? 2 : kq_force >= 2 && steps >= 2 ? 1 : 0;
    long full = pairs / slots, tail = pairs % slots;
    if (full > 1 || tail == 0 || 2 * tail > slots) return 0;
    if (mb == 1 && steps >= 12) return 2;
    return steps >= 4 * u ? 1 : 0;
}

// gemm_kq (the tensor cores) from this many rows of x where it takes the stack; gemv_kq below it. Two since session 30
// (its weights through a cp.async ring): at two rows it takes 0.67-0.94x gemv_kq's time on the 8B's and 32B's Q4_K /
// Q6_K layers (the 8B's gate/up 21.2 against 27.2 us, o 6.1 against 7.9; the 32B's Q6_K down 78 against 75 the one
// loss); at one row gemv_kq stays (17.2 against 20.9 on the 8B's gate/up).
// QWEN3_KQ_MMA_MIN (or gpu_kq_mma_from, before the plan is carved: the b planes exist only where max_m reaches the line)
// moves it.
static int km_from = -1;
void gpu_kq_mma_from(int m) { km_from = m; }
static int km_min_m(void) {
    if (km_from <= 0) km_from = env_int("QWEN3_KQ_MMA_MIN", 1, KM_M_MAX + 1, 2);
    return km_from;
}

// Q4_K parts in whole tiles of 32 rows take gemm_kq's two-row-tile entries (NAME_r2: each x fragment and its pair
// swap meet 32 weight rows, so x's L2 -> SM traffic and swaps a weight halve) where their tiles (a CTA each) fill the
// SMs at least once, from 9 rows of x, or from 5 where K >= 8,192. Session 32 (test_gpu_kq, H200): at 16 rows the
// 8B's qkv / gate/up 0.76 / 0.82x the time, the 32B's four layers 0.70-0.93x; the 8B's o and down (128 tiles)
// 1.0-1.13x; at 8 rows the 32B's o and down (K 8,192 / 25,600) 0.86 / 0.74x, but the 8B's gate/up level and the
// 32B's qkv / gate/up 1.03-1.12x; at 4 rows they lose but on the 32B's down. At 32 rows two row tiles need 202
// registers (one CTA an SM): the 8B's qkv / gate/up 0.93-0.98x, the 32B's 0.93-1.01x.
// QWEN3_KQ_R2_MIN=m (or gpu_kq_r2_from(m)): every such part from m rows (33: never); 0: the rule
static int km_r2 = -1;
void gpu_kq_r2_from(int m) { km_r2 = m > 0 ? m : -1; }
int gpu_kq_r2(int rows, int K, int M, int sms) {
    if (km_r2 < 0) km_r2 = env_int("QWEN3_KQ_R2_MIN", 0, KM_M_MAX + 1, 0);
    if (rows % 32) return 0;
    if (km_r2 > 0) return M >= km_r2;
    return rows / 32 >= sms && (M >= 9 || (M >= 5 && K >= 8192));
}

// gemm_kq's entries (rows: Q4_K, Q6_K, Q4_K two row tiles; columns: 8, 16, 32 rows of x) and their shared memory
// (their weight rings, exported by the cubin as NAME_smem), once a context: at upload (gpu_kq_upload, outside any
// graph capture: reading the sizes is a synchronous copy) or at the first launch
enum { KM_KINDS = 3 };
static CUcontext km_ctx;
static CUfunction km_fn[KM_KINDS][3];
static unsigned km_smem[KM_KINDS][3];
// persistent entries (NAME_persist; QWEN3_KQ_PERSIST=0: none): CTAs the device holds at once, by km_smem_at's two sizes
static int km_slots[KM_KINDS][3][2];
static const char *km_names[KM_KINDS][3] = { { "gemm_q4k_n1", "gemm_q4k_n2", "gemm_q4k_n4" },
                                             { "gemm_q6k_n1", "gemm_q6k_n2", "gemm_q6k_n4" },
                                             { "gemm_q4k_n1_r2", "gemm_q4k_n2_r2", "gemm_q4k_n4_r2" } };
// from 5 rows of x at most two CTAs an SM (80 KB of shared memory is over a third of its 228 KB): a third CTA's x
// crowds L1 (session 30: the 8B's gate/up at 8 rows 28.6 us with three, 25.2 with two)
static unsigned km_smem_at(int t, int i, int M) {
    return M > 4 && km_smem[t][i] < 80 * 1024 ? 80 * 1024 : km_smem[t][i];
}

static void km_load(Gpu *g) {
    if (km_ctx == g->ctx) return;
    int persist_ok = env_int("QWEN3_KQ_PERSIST", 0, 1, 1);
    for (int t = 0; t < KM_KINDS; t++)
        for (int i = 0; i < 3; i++) {
            char v[64];
            snprintf(v, sizeof v, "%s_smem", km_names[t][i]);
            km_fn[t][i] = gpu_kernel(g, "gemm_kq", km_names[t][i]);
            km_smem[t][i] = gpu_module_u32(g, "gemm_kq", v);
            snprintf(v, sizeof v, "%s_persist", km_names[t][i]);  // (a build without it: one tile a CTA)
            int persist = persist_ok && gpu_module_u32_or(g, "gemm_kq", v, 0);
            for (int s = 0; s < 2; s++)
                km_slots[t][i][s] = persist ? gpu_cluster_slots(g, km_fn[t][i], (Dim3){ KM_THREADS, 1, 1 },
                                                                km_smem_at(t, i, s ? 8 : 1), 1) : 0;
        }
    km_ctx = g->ctx;
}

// gpu_kq_force_grid (tests): persistent entries launched with this many CTAs (0: as many as the device holds)
static int km_grid;
void gpu_kq_force_grid(int ctas) { km_grid = ctas; }

static void launch_gemm_kq(Gpu *g, const GpuKq *kq, CUdeviceptr C, CUdeviceptr X, int M, int mode) {
    km_load(g);
    int ni = M <= 8 ? 0 : M <= 16 ? 1 : 2;
    for (int i = 0; i < kq->n; i++) {
        const GpuKqPart *p = &kq->p[i];
        int ti = p->type == GGML_TYPE_Q6_K, rt = 1;
        if (!ti && gpu_kq_r2(p->rows, kq->K, M, g->sm_count > 0 ? g->sm_count : 132)) ti = 2, rt = 2;
        CUdeviceptr c = mode == GEMM_SWIGLU_BF16 ? C : C + (CUdeviceptr)p->row0 * 4;
        unsigned uM = (unsigned)M, uN = (unsigned)p->rows, uK = (unsigned)kq->K, umode = (unsigned)mode;
        unsigned ldc = (unsigned)(mode == GEMM_SWIGLU_BF16 ? kq->N / 2 : kq->N);
        CUdeviceptr q = p->q, h = p->h, b = p->b;
        // a tile (16 rows of C; 32 for the r2 entries) a CTA, or a persistent grid of at most the CTAs the device
        // holds at once
        int tiles = p->rows / (16 * rt), slots = km_slots[ti][ni][M > 4];
        if (slots > 0 && km_grid > 0) slots = km_grid;
        Dim3 grid = { (unsigned)(slots > 0 && slots < tiles ? slots : tiles), 1, 1 }, block = { KM_THREADS, 1, 1 };
        void *args[] = { &c, &X, &q, &h, &b, &uM, &uN, &uK, &ldc, &umode };
        gpu_launch(g, km_fn[ti][ni], grid, block, km_smem_at(ti, ni, M), NULL, args, km_names[ti][ni]);
    }
}

// gemv_kq takes M rows (not gemm_kq; the launch below decides the same way)
static int kq_gemv_fits(const GpuKq *kq, int M) {
    return M >= 1 && M <= KQ_M_MAX && kq_smem(kq_mb(M), kq->K) <= KQ_SMEM_MAX;
}
static int kq_to_gemm(const GpuKq *kq, int M) {
    return M >= 1 && M <= KM_M_MAX && km_stack(kq) && kq->p[0].b && (M >= km_min_m() || !kq_gemv_fits(kq, M));
}
// (the RMSNorm mode exists at one row of x: gemv_kq_body.h's KQN)
int gpu_kq_norm_fuses(const GpuKq *kq, int M) {
    return M == 1 && gpu_kq_takes(kq, M) && !kq_to_gemm(kq, M) && kq_gemv_fits(kq, M);
}

// CTAs an SM by a gemv_kq entry's registers: two up to 128 a thread, one past that
static int kq_regs_per_sm(CUfunction f) {
    int regs = 0;
    CU_CHECK(cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
    int n = 65536 / (KQ_THREADS * ((regs + 7) / 8 * 8));
    return n < 1 ? 1 : n > 2 ? 2 : n;
}

// gemv_kq's persistent grid over `pairs` row pairs: per_sm CTAs an SM (fewer where x's shared memory does not allow),
// the K split (*ksh; u: steps in flight a warp, gemv_kq_body.h's U4 / U6) and the CTAs that leaves work for
static unsigned kq_grid(unsigned pairs, int K, int per_sm, unsigned smem, int sms, int u, int mb, unsigned *ksh) {
    int fit = (int)(228 * 1024 / (smem + 1024));
    if (fit < per_sm) per_sm = fit;
    *ksh = (unsigned)kq_split_log2((int)pairs, K, sms * per_sm * KQ_WARPS, u, mb);
    unsigned per_cta = KQ_WARPS >> *ksh, ctas = (pairs + per_cta - 1) / per_cta;
    return ctas > (unsigned)(sms * per_sm) ? (unsigned)(sms * per_sm) : ctas;
}

// A Q4_K_M file's qkv at one row of x — Q4_K q / k rows, then a Q6_K v — in one launch of gemv_q4k6_m1(n) instead of
// one a type (the v launch cost ~4-5.5 us a layer at batch 1 for 0.8 us of weight bytes: NOTES, session 34).
// QWEN3_KQ_46=0: the two launches. 1 if it launched.
static int kq46_on = -1;
void gpu_kq_force_46(int on) { kq46_on = on; }
static int kq_launch46(Gpu *g, const GpuKq *kq, CUdeviceptr C, CUdeviceptr X, CUdeviceptr nw, float eps, int M,
                       int mode, unsigned smem, int sms) {
    static CUcontext fn_ctx;
    static CUfunction fn[2];
    static int per_sm[2];
    static const char *names[2] = { "gemv_q4k6_m1", "gemv_q4k6_m1n" };
    if (kq46_on < 0) kq46_on = env_int("QWEN3_KQ_46", 0, 1, 1);
    if (!kq46_on || M != 1 || kq->n != 2 || kq->p[0].type != GGML_TYPE_Q4_K || kq->p[1].type != GGML_TYPE_Q6_K ||
        mode == GEMM_SWIGLU_BF16)
        return 0;
    if (fn_ctx != g->ctx) {
        for (int i = 0; i < 2; i++) {
            fn[i] = gpu_kernel(g, "gemv_kq", names[i]);
            per_sm[i] = kq_regs_per_sm(fn[i]);
        }
        fn_ctx = g->ctx;
    }
    int ni = nw != 0, K = kq->K;
    const GpuKqPart *p0 = &kq->p[0], *p1 = &kq->p[1];
    unsigned n0 = (unsigned)p0->rows, ksh;
    unsigned ctas = kq_grid((unsigned)kq->N / 2, K, per_sm[ni], smem, sms, 2, 1, &ksh);
    unsigned uM = (unsigned)M, uN = (unsigned)kq->N, uK = (unsigned)K, umode = (unsigned)mode, ldc = uN;
    CUdeviceptr q = p0->q, h = p0->h, s = p0->s, d = p0->d;
    // the v part's planes offset back by n0 rows: the kernel indexes them with the stack's row numbers
    int t1 = p1->type, r0 = (int)n0;
    CUdeviceptr q1 = p1->q - plane_q(t1, r0, K), h1 = p1->h - plane_h(t1, r0, K), s1 = p1->s - plane_s(t1, r0, K),
                d1 = p1->d - plane_d(t1, r0, K);
    Dim3 grid = { ctas, 1, 1 }, block = { KQ_THREADS, 1, 1 };
    void *args[] = { &C, &X, &q, &h, &s, &d, &uM, &uN, &uK, &ldc, &umode, &ksh, &nw, &eps, &n0, &q1, &h1, &s1, &d1 };
    gpu_launch(g, fn[ni], grid, block, smem, NULL, args, names[ni]);
    return 1;
}

// nw != 0: the RMSNorm mode (X f32 [M][K], the residual stream; gemv_kq normalises it with weights nw, f32 [K])
static void kq_launch(Gpu *g, const GpuKq *kq, CUdeviceptr C, CUdeviceptr X, CUdeviceptr nw, float eps, int M,
                      int mode) {
    static CUcontext fn_ctx;
    static CUfunction fn[KQ_TYPES][5];
    static int per_sm_regs[KQ_TYPES][5];  // CTAs an SM by the entry's registers
    // (column 4: the one-row RMSNorm-mode entry)
    static const char *names[KQ_TYPES][5] = {
        { "gemv_q4k_m1", "gemv_q4k_m2", "gemv_q4k_m4", "gemv_q4k_m8", "gemv_q4k_m1n" },
        { "gemv_q5k_m1", "gemv_q5k_m2", "gemv_q5k_m4", "gemv_q5k_m8", "gemv_q5k_m1n" },
        { "gemv_q6k_m1", "gemv_q6k_m2", "gemv_q6k_m4", "gemv_q6k_m8", "gemv_q6k_m1n" },
        { "gemv_q8_0_m1", "gemv_q8_0_m2", "gemv_q8_0_m4", "gemv_q8_0_m8", "gemv_q8_0_m1n" },
        { "gemv_q4_0_m1", "gemv_q4_0_m2", "gemv_q4_0_m4", "gemv_q4_0_m8", "gemv_q4_0_m1n" },
        { "gemv_q5_0_m1", "gemv_q5_0_m2", "gemv_q5_0_m4", "gemv_q5_0_m8", "gemv_q5_0_m1n" } };
    if (mode != GEMM_STORE_F32 && mode != GEMM_ADD_F32 && !(mode == GEMM_SWIGLU_BF16 && kq->n == 1))
        die("launch_gemv_kq: mode %d (store / add f32, or SwiGLU of one part)", mode);
    if (X % 16 || C % 8 || nw % 16) die("launch_gemv_kq: X and the norm's weights must be 16-byte aligned, C 8-byte");
    int mb = kq_mb(M), mi = nw ? 4 : mb == 1 ? 0 : mb == 2 ? 1 : mb == 4 ? 2 : 3, K = kq->K;
    if (kq_to_gemm(kq, M)) {
        launch_gemm_kq(g, kq, C, X, M, mode);
        return;
    }
    if (!kq->n || !kq_gemv_fits(kq, M))
        die("launch_gemv_kq: %d rows of %d columns do not fit the native kernel (or the layer has none)", M, K);
    if (fn_ctx != g->ctx) {
        for (int t = 0; t < KQ_TYPES; t++)
            for (int i = 0; i < 5; i++) {
                fn[t][i] = gpu_kernel(g, "gemv_kq", names[t][i]);
                per_sm_regs[t][i] = kq_regs_per_sm(fn[t][i]);
            }
        fn_ctx = g->ctx;
    }
    unsigned smem = (unsigned)kq_smem(mb, K);
    int sms = g->sm_count > 0 ? g->sm_count : 132;
    if (kq_launch46(g, kq, C, X, nw, eps, M, mode, smem, sms)) return;
    for (int i = 0; i < kq->n; i++) {
        const GpuKqPart *p = &kq->p[i];
        int ti = kq_index(p->type);
        // persistent over row pairs: two CTAs an SM (up to 128 registers a thread), one for the entries past that
        // (8 rows; Q5_K, Q8_0, Q5_0 from 4); steps in flight a warp: 2 for one row of Q4_K, Q6_K, Q4_0
        int u = mb == 1 && (ti == 0 || ti == 2 || ti == 4) ? 2 : 1;
        unsigned ksh, ctas = kq_grid((unsigned)p->rows / 2, K, per_sm_regs[ti][mi], smem, sms, u, mb, &ksh);
        CUdeviceptr c = mode == GEMM_SWIGLU_BF16 ? C : C + (CUdeviceptr)p->row0 * 4;
        unsigned uM = (unsigned)M, uN = (unsigned)p->rows, uK = (unsigned)K, umode = (unsigned)mode;
        unsigned ldc = (unsigned)(mode == GEMM_SWIGLU_BF16 ? kq->N / 2 : kq->N);
        CUdeviceptr q = p->q, h = p->h, s = p->s, d = p->d;
        Dim3 grid = { ctas, 1, 1 }, block = { KQ_THREADS, 1, 1 };
        void *args[] = { &c, &X, &q, &h, &s, &d, &uM, &uN, &uK, &ldc, &umode, &ksh, &nw, &eps };
        gpu_launch(g, fn[ti][mi], grid, block, smem, NULL, args, names[ti][mi]);
    }
}

void launch_gemv_kq(Gpu *g, const GpuKq *kq, CUdeviceptr C, CUdeviceptr X, int M, int mode) {
    kq_launch(g, kq, C, X, 0, 0, M, mode);
}
void launch_gemv_kq_norm(Gpu *g, const GpuKq *kq, CUdeviceptr C, CUdeviceptr X, CUdeviceptr nw, float eps, int M,
                         int mode) {
    if (!nw || !gpu_kq_norm_fuses(kq, M)) die("launch_gemv_kq_norm: %d rows do not run on gemv_kq here", M);
    kq_launch(g, kq, C, X, nw, eps, M, mode);
}
