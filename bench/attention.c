// attention.c — issue 6's benchmark: causal GQA attention (ptx/attention.ptx) on Qwen3-8B heads (32 q / 8 kv,
// head_dim 128). Correctness first (fp64 host reference on fresh random inputs, seed printed), then
//   prefill: one sequence of L tokens, FLOPs = 4·hd·n_head·L(L+1)/2 (QKᵀ and PV, causal), floor = FLOPs / peak;
//   decode:  B sequences × context C, one query each at position C-1, bytes = K+V read = B·C·n_kv·hd·2·2,
//            floor = bytes / this card's copy bandwidth (measured in the same run). Decode steps are launched as the
//            engine's graph-replayed steps are, with their order (tok_ix; since session 40, so the decode kernel may
//            take its warp-a-unit mapping: QWEN3_ATTN_WIDE_KEYS / QWEN3_ATTN_WIDE_SM choose it).
// Times are medians of per-launch CUDA events, launches queued behind ~1.5 ms of memset so the host never starves
// the GPU, inputs rotated over enough copies that every launch starts with a cold L2 (as inside a model).
// --kv-dtype fp8: the FP8 cache (e4m3 pools + one f32 scale per token and kv head row; decode on attn_dec.ptx, or
// attention.ptx's staged fp8 entry with QWEN3_ATTN_DEC=0 (rows "decode-fp8-staged"); prefill runs on attn_wg.ptx's
// fp8 entries, or with QWEN3_ATTN_WG8=0 on attention.ptx's). The bf16 cache's decode also runs on attn_dec.ptx (rows
// "decode-dec"), or with QWEN3_ATTN_DEC=1 (fp8 only) on attention.ptx (rows "decode"). --prefill 0 times decode only.
// fp8: decode bytes = B·C·n_kv·(hd + 4)·2; the checks
// quantise the cache with the device quantiser (launch_quant_act_fp8: the same formula as the cache writer) and
// compare against the fp64 reference of the dequantised cache.
//   prefill-varlen (issue 6): one step of 16 prefill runs (16 slots; 16 x 128 from 0, lengths 128..2048 from 0, 16
//            chunks of 512 continuing 1536 cached tokens), FLOPs = 4·hd·n_head·Σ_t (pos_t + 1) (causal, per run),
//            timed with one attn_wg launch per run and with all runs in one varlen launch (attn_wg_h128_pipe).
//   attention [--check 0|1] [--bench 0|1] [--long 0|1] [--prefill 0|1] [--kv-dtype bf16|fp8] [--runs N] [--max-gb G] [--peak F]
//             [--seed N] [--tsv FILE] [--decode BxC,...] [--decode-mix T:LO-HI,...] [--prefill-lens L,...]
//   --decode: those decode sizes instead of the grid of B 1..512 x C 128..32768 (e.g. 256x128,256x256 for a profiler)
//   --prefill-lens: those prefill lengths instead of 512 .. 32768 (e.g. one for a profiler)
//   --decode-mix: also T decode tokens with contexts uniform in LO..HI (seeded), longest first, as one step of a batch
#include "../host/gpu_ops.h"
#include "../host/kv_pages.h"
#include "../host/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { HD = 128, N_HEAD = 32, N_KV = 8, MAX_RUNS = 200 };
// host/gpu_attn.c: runs of >= min_run tokens to attn_wg.ptx (variant 1: the overlapped kernel), one launch per run
// (varlen 0) or all in one (varlen 1); launch_attention_host is this with the engine's settings (environment).
void launch_attention_runs(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                           CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                           CUdeviceptr tok_pos, const int *h_slot, const int *h_pos, int T, int n_head, int n_kv,
                           int head_dim, int max_pages, int pool_pages, float scale, int min_run, int variant,
                           int varlen);
#define TOL 2e-2  // bf16 output of f32 math on bf16 inputs (P rounded to bf16 for P·V)

// ---------------------------------------------------------------- the one place that knows the launcher and layout
// The paged KV cache as the engine lays it out (host/gpu_ops.h): pools bf16 [n_pages][n_kv][KV_PAGE][HD], the page
// of positions 64j..64j+63 of slot s at block_table[s][j]. Pages are handed out in a shuffled order (as in a pool
// that has churned); table entries past a sequence's pages point at the last page, a scratch page (NaN in checks).
// If the layout or the launcher change again, only this section does.
typedef struct { int max_seqs, max_pages, n_pages; int *table; } Pages;

static Rng rng;
static int kv8;  // --kv-dtype fp8

static Pages pages_make(int max_seqs, int max_ctx, const int *len) {  // len[s]: tokens slot s holds
    Pages p = { max_seqs, kvp_pages_for(max_ctx), 1, NULL };
    for (int s = 0; s < max_seqs; s++) p.n_pages += kvp_pages_for(len[s]);
    int *perm = xmalloc(sizeof(int) * (size_t)p.n_pages), k = 0;
    for (int i = 0; i < p.n_pages - 1; i++) perm[i] = i;
    for (int i = p.n_pages - 2; i > 0; i--) {
        int j = (int)(rng_u64(&rng) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j]; perm[j] = t;
    }
    p.table = xmalloc(sizeof(int) * (size_t)max_seqs * p.max_pages);
    for (int s = 0; s < max_seqs; s++)
        for (int j = 0; j < p.max_pages; j++)
            p.table[(size_t)s * p.max_pages + j] = j < kvp_pages_for(len[s]) ? perm[k++] : p.n_pages - 1;
    free(perm);
    return p;
}
static size_t pool_elems(const Pages *p, int n_kv) { return (size_t)p->n_pages * n_kv * KV_PAGE * HD; }
// element offset of (slot, kv head, position) in a pool
static size_t kv_offset(const Pages *p, int n_kv, int slot, int h, int pos) {
    size_t page = (size_t)p->table[(size_t)slot * p->max_pages + pos / KV_PAGE];
    return ((page * n_kv + h) * KV_PAGE + pos % KV_PAGE) * HD;
}

typedef struct {
    int T, n_head, n_kv, max_pages;
    CUdeviceptr out, q, k, v, table, slot, pos;  // out, q bf16 [T][n_head][HD]; k, v pools; table; slot, pos int [T]
    CUdeviceptr ks, vs;                          // fp8 cache: f32 row scales [n_pages][n_kv][KV_PAGE]; else 0
    const int *h_slot, *h_pos;                   // the same on the host: the engine's prefill routing reads them
    int pool_pages;
    CUdeviceptr tok;                             // decode steps: 0 .. T-1, the order the entries are listed in (as
} Attn;                                          // the engine's graph-replayed steps pass theirs), else 0

// As the engine launches a prefill step: runs of one sequence's positions go to the wgmma kernel (attn_wg.ptx;
// QWEN3_ATTN_WG=0 keeps everything on attention.ptx), the rest, and decode, to attention.ptx.
// wg_varlen >= 0: runs of >= 128 tokens to attn_wg_h128_pipe, one launch per run (0) or one varlen launch (1).
static int wg_varlen = -1;
static void attn_launch(Gpu *g, const Attn *a) {
    if (a->tok) {  // a decode step as the engine's graph-replayed passes launch it: with the order
        AttnOrder ord = { a->slot, a->pos, a->tok };
        launch_attention_q(g, a->out, 0, 0, a->q, a->k, a->v, a->ks, a->vs, a->table, a->slot, a->pos, a->T,
                           a->n_head, a->n_kv, HD, a->max_pages, 1.0f / sqrtf((float)HD), &ord);
    } else if (wg_varlen >= 0)
        launch_attention_runs(g, a->out, a->q, a->k, a->v, a->ks, a->vs, a->table, a->slot, a->pos, a->h_slot,
                              a->h_pos, a->T, a->n_head, a->n_kv, HD, a->max_pages, a->pool_pages,
                              1.0f / sqrtf((float)HD), 128, 1, wg_varlen);
    else
        launch_attention_host(g, a->out, a->q, a->k, a->v, a->ks, a->vs, a->table, a->slot, a->pos, a->h_slot,
                              a->h_pos, a->T, a->n_head, a->n_kv, HD, a->max_pages, a->pool_pages,
                              1.0f / sqrtf((float)HD));
}

// ---------------------------------------------------------------- correctness
static int n_fail, n_pass;

typedef struct {
    int n_head, n_kv;
    const Pages *pg;
    const int *slot, *pos, *rows;  // rows: the tokens checked
    const uint16_t *q, *k, *v;
    double *ref;                   // [n_rows][n_head][HD]
} Ref;

static void ref_one(void *ctx, int64_t i) {
    const Ref *a = ctx;
    int t = a->rows[i / a->n_head], h = (int)(i % a->n_head), kvh = h / (a->n_head / a->n_kv), n = a->pos[t] + 1;
    const uint16_t *q = a->q + ((size_t)t * a->n_head + h) * HD;
    double *s = xmalloc((size_t)n * sizeof(double)), mx = -INFINITY, sum = 0, o[HD] = { 0 }, qf[HD];
    for (int c = 0; c < HD; c++) qf[c] = host_bf16_to_f32(q[c]);
    for (int j = 0; j < n; j++) {
        const uint16_t *k = a->k + kv_offset(a->pg, a->n_kv, a->slot[t], kvh, j);
        double d = 0;
        for (int c = 0; c < HD; c++) d += qf[c] * host_bf16_to_f32(k[c]);
        s[j] = d / sqrt((double)HD);
        if (s[j] > mx) mx = s[j];
    }
    for (int j = 0; j < n; j++) {
        double p = exp(s[j] - mx);
        const uint16_t *v = a->v + kv_offset(a->pg, a->n_kv, a->slot[t], kvh, j);
        sum += p;
        for (int c = 0; c < HD; c++) o[c] += p * host_bf16_to_f32(v[c]);
    }
    for (int c = 0; c < HD; c++) a->ref[i * HD + c] = o[c] / sum;
    free(s);
}

static uint16_t rand_bf16(double amp) { return host_f32_to_bf16((float)(amp * (2 * rng_uniform(&rng) - 1))); }

static float e4m3_value(uint8_t q) {
    int s = q >> 7, e = (q >> 3) & 15, m = q & 7;
    float v = e == 15 && m == 7 ? NAN : e ? ldexpf(1.0f + m / 8.0f, e - 7) : ldexpf(m / 8.0f, -6);
    return s ? -v : v;
}
// fp8 cache: the bf16 pool x (on the device, rows of HD) -> e4m3 q + row scales sc (the device quantiser, the same
// formula as the cache writer), and x on the host replaced by the dequantised values rounded to bf16, bf16(e4m3 *
// scale) (the kernel computes in f16, finer: the difference is far inside TOL).
static void quantise_pool(Gpu *g, CUdeviceptr q, CUdeviceptr sc, CUdeviceptr dx, uint16_t *x, size_t n) {
    size_t rows = n / HD;
    launch_quant_act_fp8(g, q, sc, dx, (int)rows, HD);
    uint8_t *hq = xmalloc(n);
    float *hs = xmalloc(rows * 4);
    gpu_download(g, hq, q, n);
    gpu_download(g, hs, sc, rows * 4);
    for (size_t i = 0; i < n; i++)
        if (!isnan(host_bf16_to_f32(x[i]))) x[i] = host_f32_to_bf16(e4m3_value(hq[i]) * hs[i / HD]);
    free(hq); free(hs);
}

// Runs T tokens (slot[t], pos[t]) over pools filled at the positions some token attends to and NaN elsewhere (the
// rest of each last page, the scratch page), output poisoned with NaN; compares the rows listed (all when rows is
// NULL) with the fp64 reference.
static void check(Gpu *g, const char *what, int n_head, int n_kv, int max_seqs, int max_ctx, int T, const int *slot,
                  const int *pos, const int *rows, int n_rows) {
    int *len = xcalloc((size_t)max_seqs, sizeof(int)), *all = NULL;
    for (int t = 0; t < T; t++) if (pos[t] + 1 > len[slot[t]]) len[slot[t]] = pos[t] + 1;
    Pages pg = pages_make(max_seqs, max_ctx, len);
    size_t cn = pool_elems(&pg, n_kv), qn = (size_t)T * n_head * HD;
    uint16_t *k = xmalloc(cn * 2), *v = xmalloc(cn * 2), *q = xmalloc(qn * 2), *ob = xmalloc(qn * 2);
    for (size_t i = 0; i < cn; i++) k[i] = v[i] = 0x7FC0;
    for (int s = 0; s < max_seqs; s++)
        for (int h = 0; h < n_kv; h++)
            for (int p = 0; p < len[s]; p++) {
                size_t o = kv_offset(&pg, n_kv, s, h, p);
                for (int c = 0; c < HD; c++) { k[o + c] = rand_bf16(1.0); v[o + c] = rand_bf16(1.0); }
            }
    for (size_t i = 0; i < qn; i++) q[i] = rand_bf16(2.0);  // q amplitude 2: a sharper softmax than uniform
    if (!rows) {
        rows = all = xmalloc(sizeof(int) * (size_t)T);
        for (int t = 0; t < T; t++) all[t] = t;
        n_rows = T;
    }
    size_t tn = (size_t)max_seqs * pg.max_pages;
    Attn a = { T, n_head, n_kv, pg.max_pages, gpu_alloc(g, qn * 2), gpu_alloc(g, qn * 2), gpu_alloc(g, cn * 2),
               gpu_alloc(g, cn * 2), gpu_alloc(g, tn * 4), gpu_alloc(g, (size_t)T * 4), gpu_alloc(g, (size_t)T * 4),
               0, 0, NULL, NULL, 0, 0 };
    a.h_slot = slot; a.h_pos = pos; a.pool_pages = pg.n_pages;
    gpu_upload(g, a.table, pg.table, tn * 4);
    gpu_upload(g, a.q, q, qn * 2);
    gpu_upload(g, a.k, k, cn * 2);
    gpu_upload(g, a.v, v, cn * 2);
    CUdeviceptr k16 = 0, v16 = 0;
    if (kv8) {  // the e4m3 pools and scales replace the bf16 pools; the reference reads the dequantised values
        k16 = a.k; v16 = a.v;
        a.k = gpu_alloc(g, cn); a.v = gpu_alloc(g, cn);
        a.ks = gpu_alloc(g, cn / HD * 4); a.vs = gpu_alloc(g, cn / HD * 4);
        quantise_pool(g, a.k, a.ks, k16, k, cn);
        quantise_pool(g, a.v, a.vs, v16, v, cn);
    }
    gpu_upload(g, a.slot, slot, (size_t)T * 4);
    gpu_upload(g, a.pos, pos, (size_t)T * 4);
    gpu_fill_u32(g, a.out, 0x7FC07FC0u, qn / 2);
    attn_launch(g, &a);
    gpu_download(g, ob, a.out, qn * 2);

    size_t bad = 0;  // every output must be written and finite, checked rows or not
    for (size_t i = 0; i < qn; i++) bad += !isfinite(host_bf16_to_f32(ob[i]));
    size_t rn = (size_t)n_rows * n_head * HD;
    double *ref = xmalloc(rn * sizeof(double)), num = 0, den = 0;
    Ref r = { n_head, n_kv, &pg, slot, pos, rows, q, k, v, ref };
    parallel_for((int64_t)n_rows * n_head, ref_one, &r);
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < n_head * HD; j++) {
            double d = host_bf16_to_f32(ob[(size_t)rows[i] * n_head * HD + j]) - ref[(size_t)i * n_head * HD + j];
            num += d * d;
            den += ref[(size_t)i * n_head * HD + j] * ref[(size_t)i * n_head * HD + j];
        }
    double err = bad ? INFINITY : sqrt(num / den);
    int ok = err < TOL;  // NaN compares false
    printf("%s check %-44s %d q / %d kv heads, %d of %d rows: rel err %.3g%s%s\n", ok ? "PASS" : "FAIL", what, n_head,
           n_kv, n_rows, T, err, kv8 ? " (fp8 cache, against its dequantised values)" : "",
           bad ? " (outputs not finite)" : "");
    if (bad) printf("  %zu of %zu outputs not finite\n", bad, qn);
    if (ok) n_pass++; else n_fail++;
    CUdeviceptr d[] = { a.out, a.q, a.k, a.v, a.table, a.slot, a.pos, a.ks, a.vs, k16, v16 };
    for (int i = 0; i < 11; i++) if (d[i]) gpu_free(g, d[i]);
    free(k); free(v); free(q); free(ob); free(len); free(all); free(ref); free(pg.table);
}

static void run_checks(Gpu *g, int long_ones) {
    static const int lens[] = { 1, 63, 64, 65, 127, 128, 129, 4095 };
    int *slot = xcalloc(32768, sizeof(int)), *pos = xmalloc(32768 * sizeof(int)), rows[129];
    char what[80];
    for (int i = 0; i < 8; i++) {  // prefill of one sequence from position 0, every row checked
        for (int t = 0; t < lens[i]; t++) { slot[t] = 0; pos[t] = t; }
        snprintf(what, sizeof what, "prefill L=%d", lens[i]);
        check(g, what, N_HEAD, N_KV, 1, lens[i], lens[i], slot, pos, NULL, 0);
    }
    for (int i = 0; i < 8; i++) { slot[i] = 7 - i; pos[i] = lens[i] - 1; }  // one decode batch, a context each
    check(g, "decode batch, contexts 1..4095", N_HEAD, N_KV, 8, 4096, 8, slot, pos, NULL, 0);
    // a varlen step: runs of 300, 129, 128, 1000 (continuing 3000 cached), 127 tokens and decode tokens between,
    // both ways (per-run launches, one varlen launch)
    static const int vr[][3] = { { 0, 0, 300 }, { 1, 40, 1 }, { 2, 64, 129 }, { 3, 0, 128 }, { 4, 999, 1 },
                                 { 5, 3000, 1000 }, { 6, 0, 127 }, { 7, 2, 1 } };
    int T = 0;
    for (int r = 0; r < 8; r++)
        for (int i = 0; i < vr[r][2]; i++, T++) { slot[T] = vr[r][0]; pos[T] = vr[r][1] + i; }
    for (wg_varlen = 0; wg_varlen < 2; wg_varlen++)
        check(g, wg_varlen ? "varlen step, one launch" : "varlen step, a launch per run", N_HEAD, N_KV, 8, 4096, T,
              slot, pos, NULL, 0);
    wg_varlen = -1;
    if (!long_ones) { free(slot); free(pos); return; }
    // prefill of 32768 tokens, one head group (1 kv / 4 q heads): the last 64 rows, row 0 and 64 random rows
    enum { L = 32768 };
    for (int t = 0; t < L; t++) { slot[t] = 0; pos[t] = t; }
    for (int i = 0; i < 64; i++) { rows[i] = L - 64 + i; rows[64 + i] = (int)(rng_u64(&rng) % (L - 64)); }
    rows[128] = 0;
    check(g, "prefill L=32768 (sampled rows)", 4, 1, 1, L, L, slot, pos, rows, 129);
    slot[0] = 0; pos[0] = L - 1;
    check(g, "decode context 32768", N_HEAD, N_KV, 1, L, 1, slot, pos, NULL, 0);
    free(slot); free(pos);
}

// ---------------------------------------------------------------- timing
static int cmp_f(const void *a, const void *b) { float x = *(const float *)a, y = *(const float *)b; return (x > y) - (x < y); }
static int cmp_int_desc(const void *a, const void *b) { int x = *(const int *)a, y = *(const int *)b; return (x < y) - (x > y); }

// Fills n bytes with random bf16 in [-1, 1): one uploaded chunk, doubled on the device.
static void fill_random(Gpu *g, CUdeviceptr p, size_t n) {
    size_t c = n < (32u << 20) ? n : (32u << 20);
    uint16_t *h = xmalloc(c);
    for (size_t i = 0; i < c / 2; i++) h[i] = rand_bf16(1.0);
    gpu_upload(g, p, h, c & ~(size_t)1);
    free(h);
    for (size_t done = c; done < n;) {
        size_t m = done < n - done ? done : n - done;
        CU_CHECK(cuMemcpyDtoDAsync(p + done, p, m, g->stream));
        done += m;
    }
    gpu_sync(g);
}

// Median µs of one launch over `runs`, cycling through enough copies of q and the pools to spill L2 (the block
// table, shared by the copies, is the only thing that may stay cached, as in the engine).
// order: a decode step (one token a slot, listed longest first) launched with the engine's order (Attn.tok).
static double time_attn(Gpu *g, int T, int max_seqs, int max_ctx, const int *slot, const int *pos, int runs,
                        CUdeviceptr busy, size_t busy_bytes, int order) {
    int *len = xcalloc((size_t)max_seqs, sizeof(int));
    for (int t = 0; t < T; t++) if (pos[t] + 1 > len[slot[t]]) len[slot[t]] = pos[t] + 1;
    Pages pg = pages_make(max_seqs, max_ctx, len);
    // one set: K and V pools (bf16, or e4m3 followed by their f32 row scales: random bytes, only the time counts), q
    size_t rows = pool_elems(&pg, N_KV) / HD, cb = kv8 ? rows * (HD + 4) : rows * HD * 2;
    size_t qb = (size_t)T * N_HEAD * HD * 2, tn = (size_t)max_seqs * pg.max_pages;
    size_t set = (2 * cb + qb + 255) & ~(size_t)255, want = (2 * g->l2_bytes + set - 1) / set;
    int n_sets = want < (size_t)runs ? (int)want : runs;
    CUdeviceptr base = gpu_alloc(g, set * n_sets);
    Attn a = { T, N_HEAD, N_KV, pg.max_pages, gpu_alloc(g, qb), 0, 0, 0, gpu_alloc(g, tn * 4),
               gpu_alloc(g, (size_t)T * 4), gpu_alloc(g, (size_t)T * 4), 0, 0, NULL, NULL, 0, 0 };
    a.h_slot = slot; a.h_pos = pos; a.pool_pages = pg.n_pages;
    if (order) {
        int *ix = xmalloc((size_t)T * sizeof(int));
        for (int t = 0; t < T; t++) ix[t] = t;
        a.tok = gpu_alloc(g, (size_t)T * 4);
        gpu_upload(g, a.tok, ix, (size_t)T * 4);
        free(ix);
    }
    fill_random(g, base, set * n_sets);
#define SET_PTRS(s) do { a.k = (s); a.v = (s) + cb; a.q = (s) + 2 * cb; \
        if (kv8) { a.ks = a.k + rows * HD; a.vs = a.v + rows * HD; } } while (0)
    gpu_upload(g, a.table, pg.table, tn * 4);
    gpu_upload(g, a.slot, slot, (size_t)T * 4);
    gpu_upload(g, a.pos, pos, (size_t)T * 4);
    CUevent ev[MAX_RUNS + 1];
    for (int i = 0; i <= runs; i++) CU_CHECK(cuEventCreate(&ev[i], CU_EVENT_DEFAULT));
    SET_PTRS(base);
    attn_launch(g, &a);  // warm-up: module load, shared-memory opt-in
    // A head start of memsets (which also flush L2) lets the host queue every launch before the GPU reaches it.
    for (int i = 0; i < 4; i++) gpu_fill_u32(g, busy, (uint32_t)i, busy_bytes / 4);
    for (int i = 0; i < runs; i++) {
        SET_PTRS(base + set * (size_t)(i % n_sets));
        CU_CHECK(cuEventRecord(ev[i], g->stream));
        attn_launch(g, &a);
    }
#undef SET_PTRS
    CU_CHECK(cuEventRecord(ev[runs], g->stream));
    CU_CHECK(cuEventSynchronize(ev[runs]));
    float ms[MAX_RUNS];
    for (int i = 0; i < runs; i++) CU_CHECK(cuEventElapsedTime(&ms[i], ev[i], ev[i + 1]));
    for (int i = 0; i <= runs; i++) CU_CHECK(cuEventDestroy(ev[i]));
    qsort(ms, runs, sizeof ms[0], cmp_f);
    gpu_free(g, base); gpu_free(g, a.out); gpu_free(g, a.table); gpu_free(g, a.slot); gpu_free(g, a.pos);
    if (a.tok) gpu_free(g, a.tok);
    free(len); free(pg.table);
    return 1e3 * ms[runs / 2];
}

// The comma lists of --decode, --prefill-lens, --decode-mix: past the item just read (n bytes at *p); 0 at the end.
static int list_more(const char **p, int n, const char *what, const char *v) {
    *p += n;
    if (**p == 0) return 0;
    if (*(*p)++ != ',') die("attention: %s, got '%s'", what, v);
    return 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  // lines reach a log even if a time limit kills the run
    int do_check = 1, do_bench = 1, long_ones = 1, runs = 30, do_prefill = 1, n_dec = 0, dec_b[64], dec_c[64];
    int n_mix = 0, mix_t[16], mix_lo[16], mix_hi[16], n_pl = 0, pl[16];
    double max_gb = 40, peak = 989e12;
    const char *tsv = NULL;
    uint64_t seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) die("usage: attention [--check 0|1] [--bench 0|1] [--long 0|1] [--prefill 0|1] [--kv-dtype bf16|fp8] [--runs N] [--max-gb G] [--peak F] [--seed N] [--tsv FILE]");
        i++;
        if (!strcmp(a, "--check")) do_check = atoi(v);
        else if (!strcmp(a, "--bench")) do_bench = atoi(v);
        else if (!strcmp(a, "--long")) long_ones = atoi(v);
        else if (!strcmp(a, "--prefill")) do_prefill = atoi(v);
        else if (!strcmp(a, "--kv-dtype")) {
            if (strcmp(v, "bf16") && strcmp(v, "fp8")) die("attention: --kv-dtype bf16|fp8");
            kv8 = !strcmp(v, "fp8");
        }
        else if (!strcmp(a, "--runs")) runs = atoi(v);
        else if (!strcmp(a, "--max-gb")) max_gb = atof(v);
        else if (!strcmp(a, "--peak")) peak = atof(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--tsv")) tsv = v;
        else if (!strcmp(a, "--decode")) {
            for (const char *p = v;;) {
                int b, c, n;
                if (n_dec == 64) die("attention: --decode takes at most 64 sizes");
                if (sscanf(p, "%dx%d%n", &b, &c, &n) != 2 || b < 1 || b > 32768 || c < 1 || c > 1 << 20)
                    die("attention: --decode wants BxC[,BxC...] (B 1..32768, C >= 1), got '%s'", v);
                dec_b[n_dec] = b; dec_c[n_dec++] = c;
                if (!list_more(&p, n, "--decode wants BxC[,BxC...]", v)) break;
            }
        }
        else if (!strcmp(a, "--prefill-lens")) {
            for (const char *p = v;;) {
                int L, n;
                if (n_pl == 16) die("attention: --prefill-lens takes at most 16 lengths");
                if (sscanf(p, "%d%n", &L, &n) != 1 || L < 1 || L > 32768)
                    die("attention: --prefill-lens wants L[,L...] (1..32768), got '%s'", v);
                pl[n_pl++] = L;
                if (!list_more(&p, n, "--prefill-lens wants L[,L...]", v)) break;
            }
        }
        else if (!strcmp(a, "--decode-mix")) {
            for (const char *p = v;;) {
                int t, lo, hi, n;
                if (n_mix == 16) die("attention: --decode-mix takes at most 16 mixes");
                if (sscanf(p, "%d:%d-%d%n", &t, &lo, &hi, &n) != 3 || t < 1 || t > 32768 || lo < 1 || hi < lo ||
                    hi > 1 << 20)
                    die("attention: --decode-mix wants T:LO-HI[,...] (T 1..32768, 1 <= LO <= HI), got '%s'", v);
                mix_t[n_mix] = t; mix_lo[n_mix] = lo; mix_hi[n_mix++] = hi;
                if (!list_more(&p, n, "--decode-mix wants T:LO-HI[,...]", v)) break;
            }
        }
        else die("attention: unknown option '%s'", a);
    }
    if (runs < 20 || runs > MAX_RUNS) die("attention: --runs must be 20..%d", MAX_RUNS);
    Gpu g;
    char err[256];
    if (gpu_init(&g, err, sizeof err)) {
        printf("attention: no GPU (%s): nothing measured\n", err);
        return 1;
    }
    rng_seed(&rng, seed);
    printf("%s, %d SMs, %.0f MB L2; seed %llu (--seed reproduces); KV cache %s\n", g.name, g.sm_count,
           g.l2_bytes / 1e6, (unsigned long long)seed, kv8 ? "fp8 (e4m3 + f32 row scales)" : "bf16");
    if (do_check) run_checks(&g, long_ones);
    if (!do_bench) goto done;

    double bw = gpu_copy_bandwidth(&g);
    printf("floors: prefill FLOPs / %.0f TFLOP/s (H100 SXM dense BF16; the H200 has the same peak); "
           "decode K+V bytes (%s) / %.2f TB/s (this card's copy, measured now)\n", peak / 1e12,
           kv8 ? "e4m3 + 4-byte row scales" : "bf16", bw / 1e12);
    // the decode kernel (host/gpu_attn.c): QWEN3_ATTN_DEC bit 0 sends the fp8 cache's decode tokens to attn_dec.ptx
    // (else attention.ptx's staged fp8 entry: rows "decode-fp8-staged"), bit 1 the bf16 cache's (rows "decode-dec";
    // else attention.ptx: rows "decode"); default 3, both
    const char *dec_env = getenv("QWEN3_ATTN_DEC");
    int dec = dec_env && *dec_env ? atoi(dec_env) & 3 : 3, on = dec >> (kv8 ? 0 : 1) & 1;
    const char *pk = kv8 ? "prefill-fp8" : "prefill";
    const char *dk = kv8 ? (on ? "decode-fp8" : "decode-fp8-staged") : (on ? "decode-dec" : "decode");
    FILE *f = NULL;
    char date[32], commit[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    git_describe(commit, sizeof commit);
    if (tsv) {
        f = fopen(tsv, "a");
        if (!f) die("%s: cannot open for appending", tsv);
        if (ftell(f) == 0) fprintf(f, "# date\tcard\tcommit\tkind\tsize\ttime_us\tTFLOP_s or GB_s\tpct_of_floor\n");
    }
    size_t busy_bytes = (size_t)1 << 30;
    CUdeviceptr busy = gpu_alloc(&g, busy_bytes);
    int *slot = xcalloc(32768, sizeof(int)), *pos = xmalloc(32768 * sizeof(int));

    static const int Ls_all[] = { 512, 1024, 2048, 4096, 8192, 16384, 32768 };
    const int *Ls = n_pl ? pl : Ls_all;
    if (do_prefill) printf("%-11s %-14s %12s %12s %12s %10s\n", pk, "L", "floor us", "time us", "TFLOP/s", "% floor");
    for (int i = 0; i < (do_prefill ? n_pl ? n_pl : 7 : 0); i++) {
        int L = Ls[i];
        for (int t = 0; t < L; t++) { slot[t] = 0; pos[t] = t; }
        double flops = 4.0 * HD * N_HEAD * (double)L * (L + 1) / 2, floor_us = 1e6 * flops / peak;
        double us = time_attn(&g, L, 1, L, slot, pos, runs, busy, busy_bytes, 0), tf = flops / (us * 1e-6) / 1e12;
        printf("%-11s %-14d %12.1f %12.1f %12.1f %10.1f\n", pk, L, floor_us, us, tf, 100 * floor_us / us);
        if (f) fprintf(f, "%s\t%s\t%s\t%s\t%d\t%.1f\t%.1f\t%.1f\n", date, g.name, commit, pk, L, us, tf, 100 * floor_us / us);
    }
    // varlen prefill steps: 16 runs (slots), one launch per run vs one launch (bf16 cache only: fp8 never reaches
    // attn_wg)
    const char *vk = "varlen";
    if (!kv8 && do_prefill)
        printf("%-11s %-16s %10s %12s %8s %8s %12s %8s %8s\n", vk, "runs", "floor us", "per-run us", "TFLOP/s",
               "% floor", "one-launch us", "TFLOP/s", "% floor");
    for (int c = 0; c < (kv8 || !do_prefill ? 0 : 3); c++) {
        static const char *names[] = { "16x128", "16x128..2048", "16x512@1536" };
        int T = 0, max_ctx = 0;
        for (int r = 0; r < 16; r++) {  // case 1: lengths 128 (r + 1) in a shuffled order (r * 7 % 16)
            int n = c == 0 ? 128 : c == 1 ? 128 * (r * 7 % 16 + 1) : 512, p0 = c == 2 ? 1536 : 0;
            for (int i = 0; i < n; i++, T++) { slot[T] = r; pos[T] = p0 + i; }
            if (p0 + n > max_ctx) max_ctx = p0 + n;
        }
        double keys = 0;
        for (int t = 0; t < T; t++) keys += pos[t] + 1;
        double flops = 4.0 * HD * N_HEAD * keys, floor_us = 1e6 * flops / peak, us[2];
        for (wg_varlen = 0; wg_varlen < 2; wg_varlen++)
            us[wg_varlen] = time_attn(&g, T, 16, max_ctx, slot, pos, runs, busy, busy_bytes, 0);
        wg_varlen = -1;
        printf("%-11s %-16s %10.1f %12.1f %8.1f %8.1f %12.1f %8.1f %8.1f\n", vk, names[c], floor_us, us[0],
               flops / (us[0] * 1e-6) / 1e12, 100 * floor_us / us[0], us[1], flops / (us[1] * 1e-6) / 1e12,
               100 * floor_us / us[1]);
        for (int v = 0; v < 2 && f; v++)
            fprintf(f, "%s\t%s\t%s\t%s-%s\t%s\t%.1f\t%.1f\t%.1f\n", date, g.name, commit, vk,
                    v ? "one-launch" : "per-run", names[c], us[v], flops / (us[v] * 1e-6) / 1e12,
                    100 * floor_us / us[v]);
    }
    static const int Bs[] = { 1, 8, 32, 64, 128, 256, 512 }, Cs[] = { 128, 256, 1024, 4096, 8192, 32768 };
    if (n_dec == 0)  // the grid
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 6; j++) { dec_b[n_dec] = Bs[i]; dec_c[n_dec++] = Cs[j]; }
    printf("%-11s %-14s %12s %12s %12s %10s\n", dk, "B x C", "floor us", "time us", "GB/s", "% copy bw");
    for (int i = 0; i < n_dec; i++) {
        int B = dec_b[i], C = dec_c[i];
        double bytes = (double)B * C * N_KV * (kv8 ? HD + 4 : HD * 2) * 2, floor_us = 1e6 * bytes / bw;
        char size[32];
        snprintf(size, sizeof size, "%dx%d", B, C);
        if (bytes > max_gb * 1e9) { printf("%-11s %-14s skipped: %.1f GB of cache > --max-gb %.0f\n", dk, size, bytes / 1e9, max_gb); continue; }
        for (int t = 0; t < B; t++) { slot[t] = t; pos[t] = C - 1; }
        double us = time_attn(&g, B, B, C, slot, pos, runs, busy, busy_bytes, 1), gbs = bytes / (us * 1e-6) / 1e9;
        printf("%-11s %-14s %12.1f %12.1f %12.1f %10.1f\n", dk, size, floor_us, us, gbs, 100 * floor_us / us);
        if (f) fprintf(f, "%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\n", date, g.name, commit, dk, size, us, gbs, 100 * floor_us / us);
    }
    // mixed contexts (a decode step of a real batch): T tokens, contexts uniform in LO..HI (this run's seed), listed
    // longest first as the engine's graph-replayed steps list them
    for (int i = 0; i < n_mix; i++) {
        int T = mix_t[i];
        double keys = 0;
        for (int t = 0; t < T; t++) pos[t] = mix_lo[i] - 1 + (int)(rng_u64(&rng) % (uint64_t)(mix_hi[i] - mix_lo[i] + 1));
        qsort(pos, T, sizeof pos[0], cmp_int_desc);
        for (int t = 0; t < T; t++) { slot[t] = t; keys += pos[t] + 1; }
        double bytes = keys * N_KV * (kv8 ? HD + 4 : HD * 2) * 2, floor_us = 1e6 * bytes / bw;
        char size[48];
        snprintf(size, sizeof size, "%d:%d-%d", T, mix_lo[i], mix_hi[i]);
        if (bytes > max_gb * 1e9) { printf("%-11s %-14s skipped: %.1f GB of cache > --max-gb %.0f\n", dk, size, bytes / 1e9, max_gb); continue; }
        double us = time_attn(&g, T, T, mix_hi[i], slot, pos, runs, busy, busy_bytes, 1), gbs = bytes / (us * 1e-6) / 1e9;
        printf("%-11s %-14s %12.1f %12.1f %12.1f %10.1f\n", dk, size, floor_us, us, gbs, 100 * floor_us / us);
        if (f) fprintf(f, "%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\n", date, g.name, commit, dk, size, us, gbs, 100 * floor_us / us);
    }
    if (f) fclose(f);
    gpu_free(&g, busy);
    free(slot); free(pos);
done:
    if (do_check) printf("checks: %d passed, %d failed\n", n_pass, n_fail);
    gpu_upload_free(&g);
    gpu_shutdown(&g);
    return n_fail ? 1 : 0;
}
