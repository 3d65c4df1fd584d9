// test_gpu_attn.c — causal GQA attention (ptx/attention.ptx via launch_attention) over the paged KV cache against
// an fp64 CPU reference from the same bf16 inputs: prefill chunks, chunk continuations, decode batches and mixed
// batches over several sequence slots, GQA ratios 2, 4, 5, 8, context lengths 1 .. 4095; then prints timings (not
// asserted). Every slot's pages are a random, shuffled set of the pool's (plus spare pages no one owns), and cache
// positions past what a slot holds, and the spare pages, are poisoned with NaN: a read past a sequence's end or
// through the wrong table entry fails the test.
// The wgmma + TMA prefill kernel (ptx/attn_wg.ptx, reached through launch_attention_runs: runs of consecutive
// positions of one slot) is checked the same way: prefill from zero, continuations, GQA 2/4/5/8, mixed batches
// split between the two kernels.
// Without a Hopper GPU every case SKIPs with gpu_init's reason.
#include "gpu_test.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"

// host/gpu_attn.c: launch_attention with tb tokens per block (0 = default 64/G, 1 = one token per CTA) and
// split (1: a CTA per token, mixed blocks spread over CTAs; 0: a CTA per block, looping over mixed blocks) and
// kv_split (CTAs of a cluster sharing each unit's keys, 1..8; 0 = by CTA count)
void launch_attention_tb(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                         CUdeviceptr block_table, CUdeviceptr tok_slot, CUdeviceptr tok_pos, int T, int n_head,
                         int n_kv, int head_dim, int max_pages, float scale, int tb, int split, int kv_split);
// host/gpu_attn.c: runs of >= min_run consecutive positions of one slot to ptx/attn_wg.ptx, the rest to the above
void launch_attention_runs(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                           CUdeviceptr block_table, CUdeviceptr tok_slot, CUdeviceptr tok_pos, const int *h_slot,
                           const int *h_pos, int T, int n_head, int n_kv, int head_dim, int max_pages, int pool_pages,
                           float scale, int min_run, int variant);

enum { HD = 128, PAGE = 64, SPARE_PAGES = 5 };
// bf16 output of an f32 computation on bf16 inputs (P is rounded to bf16 for the P.V product)
#define ATT_TOL 5e-3

// A random permutation of the pool's n_pages page ids: its first max_seqs*max_pages entries are the block table
// [max_seqs][max_pages] (so a slot's pages are scattered over the pool, in no order), the rest spare pages.
static int *shuffled_pages(int n_pages) {
    int *perm = xmalloc(sizeof(int) * (size_t)n_pages);
    for (int i = 0; i < n_pages; i++) perm[i] = i;
    for (int i = n_pages - 1; i > 0; i--) {
        int j = (int)(rng_u64(&rng) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return perm;
}
static uint16_t rand_bf16(double amp) { return host_f32_to_bf16((float)(amp * (2.0 * rng_uniform(&rng) - 1.0))); }
static float bf(uint16_t h) { return host_bf16_to_f32(h); }

// A batch: chunks of consecutive positions of one slot each (a chunk of 1 token is a decode step).
typedef struct { int slot, pos0, n; } Chunk;

typedef struct {
    int T, n_head, n_kv, max_ctx;
    const int *slot, *pos;
    const uint16_t *q, *k, *v;  // q [T][n_head][HD]; the logical caches [slot][n_kv][max_ctx][HD] (the kernel
                                // reads the same values through pages)
    float scale;
    double *ref;                // [T][n_head][HD]
} AttnRef;

static void attn_ref_one(void *ctx, int64_t i) {
    const AttnRef *a = ctx;
    int t = (int)(i / a->n_head), h = (int)(i % a->n_head), kvh = h / (a->n_head / a->n_kv);
    const uint16_t *q = a->q + ((size_t)t * a->n_head + h) * HD;
    size_t base = ((size_t)a->slot[t] * a->n_kv + kvh) * a->max_ctx * HD;
    int n = a->pos[t] + 1;
    double *s = xmalloc((size_t)n * sizeof(double)), mx = -INFINITY, sum = 0;
    for (int j = 0; j < n; j++) {
        const uint16_t *k = a->k + base + (size_t)j * HD;
        double d = 0;
        for (int c = 0; c < HD; c++) d += (double)bf(q[c]) * bf(k[c]);
        s[j] = d * a->scale;
        if (s[j] > mx) mx = s[j];
    }
    double o[HD] = { 0 };
    for (int j = 0; j < n; j++) {
        double p = exp(s[j] - mx);
        sum += p;
        const uint16_t *v = a->v + base + (size_t)j * HD;
        for (int c = 0; c < HD; c++) o[c] += p * bf(v[c]);
    }
    for (int c = 0; c < HD; c++) a->ref[i * HD + c] = o[c] / sum;
    free(s);
}

// Builds the batch (chunk after chunk, or round-robin over the chunks when interleave), runs the kernel with tb,
// checks every output is written and finite, that the row past the output is untouched, and returns the relative
// error against the fp64 reference. wg_min_run > 0: through launch_attention_runs (runs of at least that many
// tokens to the wgmma kernel) instead of launch_attention_tb, once per attn_wg variant on the same inputs: err[v]
// for variant v (WG_VARIANTS of them); otherwise err[0].
enum { WG_VARIANTS = 2 };
static const char *const wg_names[WG_VARIANTS] = { "attn_wg_h128", "attn_wg_h128_pipe" };
static void run_attn_wg(int n_kv, int gqa, int max_seqs, int max_ctx, const Chunk *ch, int nch, int interleave,
                        int tb, int split, int kv_split, double q_amp, int wg_min_run, double *err) {
    int n_head = n_kv * gqa, T = 0;
    for (int c = 0; c < nch; c++) T += ch[c].n;
    int *slot = xmalloc(T * sizeof(int)), *pos = xmalloc(T * sizeof(int));
    int *done = xcalloc(nch, sizeof(int)), t = 0;
    while (t < T)
        for (int c = 0; c < nch && t < T; c++) {
            int take = interleave ? 1 : ch[c].n;
            for (int i = 0; i < take && done[c] < ch[c].n; i++, t++) {
                slot[t] = ch[c].slot;
                pos[t] = ch[c].pos0 + done[c]++;
            }
        }
    // cache: random where the slot holds data (positions <= its last position in the batch), NaN after; kept
    // logically [slot][kvh][pos] for the reference and scattered into the shuffled pages for the kernel
    int *last = xmalloc(max_seqs * sizeof(int));
    for (int s = 0; s < max_seqs; s++) last[s] = -1;
    for (t = 0; t < T; t++) if (pos[t] > last[slot[t]]) last[slot[t]] = pos[t];
    size_t cache_n = (size_t)max_seqs * n_kv * max_ctx * HD;
    uint16_t *k = xmalloc(cache_n * 2), *v = xmalloc(cache_n * 2), *q = xmalloc((size_t)T * n_head * HD * 2);
    for (int s = 0; s < max_seqs; s++)
        for (int h = 0; h < n_kv; h++)
            for (int p = 0; p < max_ctx; p++) {
                size_t o = (((size_t)s * n_kv + h) * max_ctx + p) * HD;
                for (int c = 0; c < HD; c++) {
                    k[o + c] = p <= last[s] ? rand_bf16(1.0) : 0x7FC0;
                    v[o + c] = p <= last[s] ? rand_bf16(1.0) : 0x7FC0;
                }
            }
    for (size_t i = 0; i < (size_t)T * n_head * HD; i++) q[i] = rand_bf16(q_amp);
    int max_pages = (max_ctx + PAGE - 1) / PAGE, n_pages = max_seqs * max_pages + SPARE_PAGES;
    int *table = shuffled_pages(n_pages);
    size_t pool_n = (size_t)n_pages * n_kv * PAGE * HD;
    uint16_t *kp = xmalloc(pool_n * 2), *vp = xmalloc(pool_n * 2);
    for (size_t i = 0; i < pool_n; i++) kp[i] = vp[i] = 0x7FC0;  // spare pages and the tail of the last: NaN
    for (int s = 0; s < max_seqs; s++)
        for (int h = 0; h < n_kv; h++)
            for (int p = 0; p < max_ctx; p++) {
                size_t o = (((size_t)s * n_kv + h) * max_ctx + p) * HD;
                size_t po = (((size_t)table[s * max_pages + p / PAGE] * n_kv + h) * PAGE + p % PAGE) * HD;
                memcpy(kp + po, k + o, HD * 2);
                memcpy(vp + po, v + o, HD * 2);
            }

    CUdeviceptr dk = gpu_alloc(&G, pool_n * 2), dv = gpu_alloc(&G, pool_n * 2);
    CUdeviceptr dtable = gpu_alloc(&G, (size_t)max_seqs * max_pages * 4);
    CUdeviceptr dq = gpu_alloc(&G, (size_t)T * n_head * HD * 2);
    CUdeviceptr dout = gpu_alloc(&G, (size_t)(T + 1) * n_head * HD * 2);
    CUdeviceptr dslot = gpu_alloc(&G, T * 4), dpos = gpu_alloc(&G, T * 4);
    gpu_upload(&G, dk, kp, pool_n * 2);
    gpu_upload(&G, dv, vp, pool_n * 2);
    gpu_upload(&G, dtable, table, (size_t)max_seqs * max_pages * 4);
    gpu_upload(&G, dq, q, (size_t)T * n_head * HD * 2);
    gpu_upload(&G, dslot, slot, T * 4);
    gpu_upload(&G, dpos, pos, T * 4);
    float scale = 1.0f / sqrtf((float)HD);
    size_t n_out = (size_t)T * n_head * HD;
    double *ref = xmalloc(n_out * sizeof(double));
    AttnRef a = { T, n_head, n_kv, max_ctx, slot, pos, q, k, v, scale, ref };
    parallel_for((int64_t)T * n_head, attn_ref_one, &a);
    uint16_t *outb = xmalloc((size_t)(T + 1) * n_head * HD * 2);
    float *out = xmalloc(n_out * 4);
    for (int var = 0; var < (wg_min_run > 0 ? WG_VARIANTS : 1); var++) {
        gpu_fill_u32(&G, dout, 0x7FC07FC0u, (size_t)(T + 1) * n_head * HD / 2);
        if (wg_min_run > 0)
            launch_attention_runs(&G, dout, dq, dk, dv, dtable, dslot, dpos, slot, pos, T, n_head, n_kv, HD, max_pages,
                                  n_pages, scale, wg_min_run, var);
        else
            launch_attention_tb(&G, dout, dq, dk, dv, dtable, dslot, dpos, T, n_head, n_kv, HD, max_pages, scale, tb,
                                split, kv_split);
        gpu_download(&G, outb, dout, (size_t)(T + 1) * n_head * HD * 2);
        const char *who = wg_min_run > 0 ? wg_names[var] : "attention_gqa_h128";
        size_t stray = 0;
        for (size_t i = n_out; i < n_out + (size_t)n_head * HD; i++) if (outb[i] != 0x7FC0) stray++;
        if (stray) printf("  %s: %zu elements written past the output\n", who, stray);
        for (size_t i = 0; i < n_out; i++) out[i] = bf(outb[i]);
        double e = rel_err(out, ref, n_out);
        if (isfinite(e) && e >= ATT_TOL) {  // where it goes wrong: the worst element, and which tokens are off
            size_t worst = 0, bad_tok = 0, first_bad = (size_t)-1;
            double wd = 0, rms = 0;
            for (size_t i = 0; i < n_out; i++) rms += ref[i] * ref[i];
            rms = sqrt(rms / (double)n_out);
            for (size_t i = 0; i < n_out; i++)
                if (fabs(out[i] - ref[i]) > wd) { wd = fabs(out[i] - ref[i]); worst = i; }
            for (int tt = 0; tt < T; tt++) {
                double m = 0;
                for (size_t i = (size_t)tt * n_head * HD; i < (size_t)(tt + 1) * n_head * HD; i++)
                    if (fabs(out[i] - ref[i]) > m) m = fabs(out[i] - ref[i]);
                if (m > 0.05 * rms) { bad_tok++; if (first_bad == (size_t)-1) first_bad = (size_t)tt; }
            }
            size_t wt = worst / ((size_t)n_head * HD);
            printf("  %s: worst: token %zu (slot %d pos %d) head %zu dim %zu: got %.5f want %.5f (rms %.4f); "
                   "%zu of %d tokens off by > 5%% of rms, first token %zd\n", who, wt, slot[wt], pos[wt],
                   worst / HD % n_head, worst % HD, out[worst], ref[worst], rms, bad_tok, T,
                   first_bad == (size_t)-1 ? (ssize_t)-1 : (ssize_t)first_bad);
        }
        if (!isfinite(e)) {
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n_out; i++) if (!isfinite(out[i])) { if (!bad) first = i; bad++; }
            printf("  %s: %zu of %zu outputs not finite (first: token %zu head %zu)\n", who, bad, n_out,
                   first / (n_head * HD), first / HD % n_head);
        }
        err[var] = stray ? INFINITY : e;
    }

    free(slot); free(pos); free(done); free(last); free(k); free(v); free(q); free(outb); free(out); free(ref);
    free(table); free(kp); free(vp);
    gpu_free(&G, dk); gpu_free(&G, dv); gpu_free(&G, dq); gpu_free(&G, dout); gpu_free(&G, dslot);
    gpu_free(&G, dpos); gpu_free(&G, dtable);
}

static double run_attn(int n_kv, int gqa, int max_seqs, int max_ctx, const Chunk *ch, int nch, int interleave,
                       int tb, int split, int kv_split, double q_amp) {
    double e;
    run_attn_wg(n_kv, gqa, max_seqs, max_ctx, ch, nch, interleave, tb, split, kv_split, q_amp, 0, &e);
    return e;
}

static const int tbs[] = { 0, 1, 3 };  // default blocks, one token per CTA, odd blocks (partial at the end)

static void check(int n_kv, int gqa, int max_seqs, int max_ctx, const Chunk *ch, int nch, int interleave,
                  double q_amp, const char *what) {
    for (int i = 0; i < 3; i++)
        for (int split = 0; split < 2; split++) {
            if (tbs[i] * gqa > 64 || (tbs[i] == 1 && split)) continue;  // tb 1: both grids are the same
            // keys split over 1 CTA, the default, or clusters of 3 and 8 (more CTAs than tiles for short rows)
            for (int ks = 0; ks < 4; ks++) {
                static const int kvs[] = { 1, 0, 3, 8 };
                if (ks >= 2 && (tbs[i] != 0 || !split)) continue;  // cluster sizes on the default grid only
                double e = run_attn(n_kv, gqa, max_seqs, max_ctx, ch, nch, interleave, tbs[i], split, kvs[ks], q_amp);
                CHECK(e < ATT_TOL, "%s: n_kv %d G %d tb %d split %d kv_split %d: rel err %.3g", what, n_kv, gqa,
                      tbs[i], split, kvs[ks], e);
            }
        }
}

static const int lens[] = { 1, 63, 64, 65, 127, 128, 129, 1000 };

// One sequence, prefilled from position 0 in one chunk of each length.
static void attn_prefill_from_zero(void) {
    NEED_GPU();
    static const int gq[] = { 2, 4, 8 };
    for (int gi = 0; gi < 3; gi++)
        for (int li = 0; li < 8; li++) {
            Chunk c = { 1, 0, lens[li] };
            char what[64];
            snprintf(what, sizeof what, "prefill len %d", lens[li]);
            check(2, gq[gi], 2, 1024, &c, 1, 0, 1.0, what);
        }
    Chunk c = { 0, 0, 4095 };  // 64 pages less one token, one kv head (the fp64 reference is the slow part)
    check(1, 4, 1, 4096, &c, 1, 0, 1.0, "prefill len 4095");
}

// Chunks continuing a cached prefix, up to length 4095, two slots in one batch; sharper softmax (q x 4).
static void attn_prefill_continuation(void) {
    NEED_GPU();
    Chunk c[] = { { 0, 4095 - 300, 300 }, { 2, 999 - 129, 129 } };
    check(2, 4, 3, 4096, c, 2, 0, 4.0, "continuation to 4095 + 999");
    Chunk d[] = { { 1, 64, 65 } };
    check(4, 8, 2, 256, d, 1, 0, 1.0, "continuation 64..128");
}

// Decode: one token per slot at each length, n_kv 8 (Qwen3's), in one batch.
static void attn_decode_batch(void) {
    NEED_GPU();
    static const int gq[] = { 2, 4, 8 };
    Chunk c[9];
    static const int dl[] = { 1, 63, 64, 65, 127, 128, 129, 1000, 4095 };
    for (int i = 0; i < 9; i++) c[i] = (Chunk){ 8 - i, dl[i] - 1, 1 };
    for (int gi = 0; gi < 3; gi++) check(8, gq[gi], 9, 4096, c, 9, 0, 2.0, "decode batch");
}

// Mixed: prefill chunks and decode tokens of several slots, in chunk order and interleaved token by token.
static void attn_mixed_batch(void) {
    NEED_GPU();
    Chunk c[] = { { 3, 0, 129 }, { 0, 62, 1 }, { 1, 0, 65 }, { 4, 127, 1 }, { 2, 900, 100 }, { 5, 0, 1 } };
    static const int gq[] = { 2, 4, 5, 8 };  // 5: Qwen3-14B (40 / 8), 12 tokens x 5 heads = 60 of 64 rows
    for (int gi = 0; gi < 4; gi++) {
        check(2, gq[gi], 6, 1024, c, 6, 0, 1.0, "mixed");
        check(2, gq[gi], 6, 1024, c, 6, 1, 1.0, "mixed interleaved");
    }
}

// --- the wgmma + TMA prefill kernel (ptx/attn_wg.ptx)
static void check_wg(int n_kv, int gqa, int max_seqs, int max_ctx, const Chunk *ch, int nch, int interleave,
                     double q_amp, int min_run, const char *what) {
    double e[WG_VARIANTS];
    run_attn_wg(n_kv, gqa, max_seqs, max_ctx, ch, nch, interleave, 0, -1, 0, q_amp, min_run, e);
    for (int v = 0; v < WG_VARIANTS; v++)
        CHECK(e[v] < ATT_TOL, "%s, %s: n_kv %d G %d (runs of >= %d tokens to it): rel err %.3g (tolerance %g; inf = "
              "a NaN or a stray write, see the lines above)", wg_names[v], what, n_kv, gqa, min_run, e[v], ATT_TOL);
}

// One sequence from position 0, every length around the 64-key page and 128-row block edges, GQA 2, 4, 8.
static void attn_wg_prefill_from_zero(void) {
    NEED_GPU();
    static const int wl[] = { 1, 63, 64, 65, 127, 128, 129, 1000 };
    static const int gq[] = { 2, 4, 8 };
    for (int gi = 0; gi < 3; gi++)
        for (int li = 0; li < 8; li++) {
            Chunk c = { 1, 0, wl[li] };
            char what[64];
            snprintf(what, sizeof what, "prefill len %d", wl[li]);
            check_wg(2, gq[gi], 2, 1024, &c, 1, 0, 1.0, 1, what);
        }
    Chunk c = { 0, 0, 4095 };
    check_wg(1, 4, 1, 4096, &c, 1, 0, 1.0, 1, "prefill len 4095");
    Chunk d = { 0, 0, 4096 };
    check_wg(2, 5, 1, 4096, &d, 1, 0, 2.0, 1, "prefill len 4096, G 5, sharper softmax");
    Chunk l = { 1, 0, 8193 };  // the long one: 65 key tiles, the last holding one key
    check_wg(1, 2, 2, 8256, &l, 1, 0, 1.0, 1, "prefill len 8193");
}

// Chunks that continue a cached prefix (attend to earlier pages; starts inside a page and inside a 128-key tile),
// two or three runs in one batch (one launch each).
static void attn_wg_continuation(void) {
    NEED_GPU();
    Chunk c[] = { { 0, 4095 - 300, 300 }, { 2, 999 - 129, 129 } };
    check_wg(2, 4, 3, 4096, c, 2, 0, 4.0, 1, "continuation to 4095 + 999");
    Chunk d[] = { { 1, 64, 65 } };
    check_wg(4, 8, 2, 256, d, 1, 0, 1.0, 1, "continuation 64..128");
    Chunk e[] = { { 0, 100, 1 }, { 1, 1000, 1000 }, { 2, 130, 63 } };
    for (int g = 2; g <= 8; g *= 2) check_wg(2, g, 3, 2048, e, 3, 0, 2.0, 1, "continuations 100+1, 1000+1000, 130+63");
}

// Mixed batches split between the kernels: runs of >= 128 tokens to attn_wg, decode tokens and short chunks to
// attention.ptx (in chunk order, and interleaved token by token, where nothing is a run).
static void attn_wg_mixed(void) {
    NEED_GPU();
    Chunk c[] = { { 3, 0, 129 }, { 0, 62, 1 }, { 1, 0, 65 }, { 4, 127, 1 }, { 2, 900, 300 }, { 5, 0, 1 } };
    static const int gq[] = { 2, 4, 5, 8 };
    for (int gi = 0; gi < 4; gi++) {
        check_wg(2, gq[gi], 6, 1280, c, 6, 0, 1.0, 128, "mixed");
        check_wg(2, gq[gi], 6, 1280, c, 6, 1, 1.0, 128, "mixed interleaved");
    }
}

// Timings (printed): a 4096-token prefill of one sequence and a 32-sequence decode step at context 4096,
// Qwen3-8B heads (32 q / 8 kv). Contents are constants (no NaNs), only the speed matters here.
// wg: 0 attention.ptx, 1 + v attn_wg variant v (through launch_attention_runs)
static void time_attn(const char *label, int T, const int *slot, const int *pos, int max_seqs, int max_ctx,
                      double flops, double bytes, int kv_split, int wg) {
    int n_kv = 8, n_head = 32, max_pages = (max_ctx + PAGE - 1) / PAGE, n_pages = max_seqs * max_pages;
    size_t cache_n = (size_t)n_pages * n_kv * PAGE * HD;
    int *table = shuffled_pages(n_pages);  // scattered pages, as a long-running pool has
    CUdeviceptr dk = gpu_alloc(&G, cache_n * 2), dv = gpu_alloc(&G, cache_n * 2);
    CUdeviceptr dtable = gpu_alloc(&G, (size_t)n_pages * 4);
    gpu_upload(&G, dtable, table, (size_t)n_pages * 4);
    free(table);
    CUdeviceptr dq = gpu_alloc(&G, (size_t)T * n_head * HD * 2), dout = gpu_alloc(&G, (size_t)T * n_head * HD * 2);
    CUdeviceptr dslot = gpu_alloc(&G, T * 4), dpos = gpu_alloc(&G, T * 4);
    gpu_fill_u32(&G, dk, 0x3C013BFFu, cache_n / 2);
    gpu_fill_u32(&G, dv, 0x3E803F00u, cache_n / 2);
    gpu_fill_u32(&G, dq, 0x3F803F00u, (size_t)T * n_head * HD / 2);
    gpu_upload(&G, dslot, slot, T * 4);
    gpu_upload(&G, dpos, pos, T * 4);
    float scale = 1.0f / sqrtf((float)HD);
#define LAUNCH() do { if (wg) \
        launch_attention_runs(&G, dout, dq, dk, dv, dtable, dslot, dpos, slot, pos, T, n_head, n_kv, HD, max_pages, \
                              n_pages, scale, 128, wg - 1); \
    else launch_attention_tb(&G, dout, dq, dk, dv, dtable, dslot, dpos, T, n_head, n_kv, HD, max_pages, scale, 0, -1, \
                             kv_split); } while (0)
    LAUNCH();
    GpuTimer tm;
    gpu_timer_init(&tm);
    gpu_timer_start(&G, &tm);
    int iters = 10;
    for (int i = 0; i < iters; i++) LAUNCH();
#undef LAUNCH
    double ms = gpu_timer_stop_ms(&G, &tm) / iters;
    gpu_timer_free(&tm);
    printf("  time %-34s %9.1f us  %7.1f TFLOP/s  %7.1f GB/s\n", label, ms * 1e3, flops / (ms * 1e-3) / 1e12,
           bytes / (ms * 1e-3) / 1e9);
    gpu_free(&G, dk); gpu_free(&G, dv); gpu_free(&G, dq); gpu_free(&G, dout); gpu_free(&G, dslot);
    gpu_free(&G, dpos); gpu_free(&G, dtable);
}

static void attn_timings(void) {
    NEED_GPU();
    printf("  %s, %d SMs\n", G.name, G.sm_count);
    enum { L = 4096, B = 32, LL = 16384 };
    int *slot = xmalloc(LL * sizeof(int)), *pos = xmalloc(LL * sizeof(int));
    // prefill: causal, so sum over tokens of (pos+1) keys; 4 flops per (row, key, dim) (QK and PV)
    for (int i = 0; i < L; i++) { slot[i] = 0; pos[i] = i; }
    double keys = (double)L * (L + 1) / 2, qo_bytes = 2.0 * L * 32 * HD * 2;
    // bytes: what must cross HBM at least (K, V, Q, out), not what the kernel reads (K/V rows again per block)
    time_attn("prefill 4096 (8B heads)", L, slot, pos, 1, L, 4.0 * 32 * HD * keys, 2.0 * L * 8 * HD * 2 + qo_bytes, 0,
              0);
    time_attn("prefill 4096 attn_wg_h128", L, slot, pos, 1, L, 4.0 * 32 * HD * keys,
              2.0 * L * 8 * HD * 2 + qo_bytes, 0, 1);
    time_attn("prefill 4096 attn_wg_h128_pipe", L, slot, pos, 1, L, 4.0 * 32 * HD * keys,
              2.0 * L * 8 * HD * 2 + qo_bytes, 0, 2);
    for (int i = 0; i < LL; i++) { slot[i] = 0; pos[i] = i; }
    double keys16 = (double)LL * (LL + 1) / 2, qo16 = 2.0 * LL * 32 * HD * 2, kv16 = 2.0 * LL * 8 * HD * 2;
    time_attn("prefill 16384 (8B heads)", LL, slot, pos, 1, LL, 4.0 * 32 * HD * keys16, kv16 + qo16, 0, 0);
    time_attn("prefill 16384 attn_wg_h128", LL, slot, pos, 1, LL, 4.0 * 32 * HD * keys16, kv16 + qo16, 0, 1);
    time_attn("prefill 16384 attn_wg_h128_pipe", LL, slot, pos, 1, LL, 4.0 * 32 * HD * keys16, kv16 + qo16, 0, 2);
    for (int i = 0; i < B; i++) { slot[i] = i; pos[i] = L - 1; }
    double kvbytes = (double)B * 8 * L * HD * 2 * 2;
    time_attn("decode 32 seqs x 4096 (8B)", B, slot, pos, B, L, 4.0 * B * 32 * HD * L, kvbytes, 0, 0);
    for (int i = 0; i < 1; i++) { slot[i] = 0; pos[i] = L - 1; }
    time_attn("decode 1 seq x 4096 (8B)", 1, slot, pos, 1, L, 4.0 * 32 * HD * L, kvbytes / B, 0, 0);
    time_attn("decode 1 seq x 4096, no kv split", 1, slot, pos, 1, L, 4.0 * 32 * HD * L, kvbytes / B, 1, 0);
    free(slot); free(pos);
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    RUN(attn_prefill_from_zero);
    RUN(attn_prefill_continuation);
    RUN(attn_decode_batch);
    RUN(attn_mixed_batch);
    RUN(attn_wg_prefill_from_zero);
    RUN(attn_wg_continuation);
    RUN(attn_wg_mixed);
    RUN(attn_timings);
    gpu_test_end();
    return test_end();
}
