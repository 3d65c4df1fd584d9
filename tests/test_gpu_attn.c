// test_gpu_attn.c — causal GQA attention (ptx/attention.ptx via launch_attention) over the paged KV cache against
// an fp64 CPU reference from the same bf16 inputs: prefill chunks, chunk continuations, decode batches and mixed
// batches over several sequence slots, GQA ratios 2, 4, 5, 8, context lengths 1 .. 4095, every case also through
// ptx/attn_dec.ptx's bf16 entry (each token alone; key splits of 1 .. 3 CTAs); then prints timings (not
// asserted). Every slot's pages are a random, shuffled set of the pool's (plus spare pages no one owns), and cache
// positions past what a slot holds, and the spare pages, are poisoned with NaN: a read past a sequence's end or
// through the wrong table entry fails the test.
// The wgmma + TMA prefill kernel (ptx/attn_wg.ptx, reached through launch_attention_runs: runs of consecutive
// positions of one slot) is checked the same way: prefill from zero, continuations, GQA 2/4/5/8, mixed batches
// split between the two kernels; every case both ways: one launch per run and all runs in one launch of the varlen
// entries (whose output must equal the per-run launch's bit for bit), and a step of many runs of lengths 1 .. 4095
// (from zero and continuing cached prefixes) with decode tokens between them.
// FP8 KV cache (e4m3 pools + one f32 scale per (token, kv head) row; attention.ptx's fp8 entry, ptx/attn_dec.ptx
// with key splits of 1 .. 8 CTAs, and the engine's routing between them): the same cases with
// the cache quantised on the host, against an fp64 reference of the dequantised cache (tight: checks the kernel)
// and of the unquantised one (loose: documents the FP8 error), lengths 1 .. 4095 and 32768, V amplitudes 2e-4 ..
// 500 (the entry computes in f16, with a bias on the V scale); and the fp8 writer
// (qknorm_rope_kv_fp8) byte for byte against a host e4m3 encoder of the bf16 writer's rows, scales exact.
// Without a Hopper GPU every case SKIPs with gpu_init's reason.
#include "gpu_test.h"
#include "../host/gpu_ops.h"
#include "../host/util.h"

// launch_attention_tb (gpu_ops.h): tb tokens per block (0 = default 64/G, 1 = one token per CTA), split (1: a CTA
// per token, mixed blocks spread over CTAs; 0: a CTA per block, looping over mixed blocks), kv_split (CTAs of a
// cluster sharing each unit's keys, 1..8; 0 = by CTA count); k_scale = v_scale = 0: bf16 pools, else e4m3 + scales
// host/gpu_attn.c: runs of >= min_run consecutive positions of one slot to ptx/attn_wg.ptx, the rest to the above
void launch_attention_runs(Gpu *g, CUdeviceptr out, CUdeviceptr q, CUdeviceptr k_pool, CUdeviceptr v_pool,
                           CUdeviceptr k_scale, CUdeviceptr v_scale, CUdeviceptr block_table, CUdeviceptr tok_slot,
                           CUdeviceptr tok_pos, const int *h_slot, const int *h_pos, int T, int n_head, int n_kv,
                           int head_dim, int max_pages, int pool_pages, float scale, int min_run, int variant,
                           int varlen);

enum { HD = 128, PAGE = 64, SPARE_PAGES = 5 };
// bf16 output of an f32 computation on bf16 inputs (P is rounded to bf16 for the P.V product)
#define ATT_TOL 5e-3
static double v_amp = 1.0;  // amplitude of the random V values (the fp8 V range case varies it)

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

// ---------------------------------------------------------------- host e4m3 (the fp8 cache)
// Nearest e4m3 (ties to the even code), saturating at +-448; NaN -> 0x7F. Direct: the step is 2^(E-3) for a value
// in [2^E, 2^(E+1)), E >= -6, and 2^-9 below 2^-6 (subnormals).
static uint8_t e4m3_encode(float x) {
    if (isnan(x)) return 0x7F;
    double a = fabs((double)x), r;
    int e;
    frexp(a, &e);                               // a = f * 2^e, f in [0.5, 1): leading bit 2^(e-1)
    double step = ldexp(1.0, (e - 1 < -6 ? -6 : e - 1) - 3);
    r = nearbyint(a / step) * step;              // ties to even (the default rounding mode)
    if (r > 448) r = 448;
    int code;
    if (r < ldexp(1.0, -6)) code = (int)(r / ldexp(1.0, -9));
    else {
        frexp(r, &e);
        code = ((e - 1 + 7) << 3) | (int)((ldexp(r, -(e - 1)) - 1.0) * 8);
    }
    return (uint8_t)(code | (x < 0 && code ? 0x80 : 0));
}
static float e4m3_decode(uint8_t q) {
    int s = q >> 7, e = (q >> 3) & 15, m = q & 7;
    if (e == 15 && m == 7) return NAN;
    float v = e ? ldexpf(1.0f + m / 8.0f, e - 7) : ldexpf(m / 8.0f, -6);
    return s ? -v : v;
}
// One cache row of 128 bf16 as the fp8 writer stores it: scale = amax / 448 (1 if all zero), q = e4m3(x * (1 /
// scale)); deq (may be NULL) = the exact dequantised row f32(q) * scale. attention.ptx's fp8 entry computes in f16:
// K exactly (its scale goes onto the scores in f32), V rounded once to f16 (2^-11 relative, finer than bf16).
static float quant_row(const uint16_t *x, uint8_t *q, float *deq) {
    float amax = 0;
    for (int c = 0; c < HD; c++) amax = fmaxf(amax, fabsf(bf(x[c])));
    float scale = amax > 0 ? amax / 448.0f : 1.0f, inv = 1.0f / scale;
    for (int c = 0; c < HD; c++) {
        q[c] = e4m3_encode(bf(x[c]) * inv);
        if (deq) deq[c] = e4m3_decode(q[c]) * scale;
    }
    return scale;
}

// A batch: chunks of consecutive positions of one slot each (a chunk of 1 token is a decode step).
typedef struct { int slot, pos0, n; } Chunk;

typedef struct {
    int T, n_head, n_kv, max_ctx;
    const int *slot, *pos;
    const uint16_t *q, *k, *v;  // q [T][n_head][HD]; the logical caches [slot][n_kv][max_ctx][HD] (the kernel
                                // reads the same values through pages)
    const float *kf, *vf;       // if not NULL: f32 caches used instead of k, v (the dequantised fp8 cache)
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
        const float *kf = a->kf ? a->kf + base + (size_t)j * HD : NULL;
        for (int c = 0; c < HD; c++) d += (double)bf(q[c]) * (kf ? kf[c] : bf(k[c]));
        s[j] = d * a->scale;
        if (s[j] > mx) mx = s[j];
    }
    double o[HD] = { 0 };
    for (int j = 0; j < n; j++) {
        double p = exp(s[j] - mx);
        sum += p;
        const uint16_t *v = a->v + base + (size_t)j * HD;
        const float *vf = a->vf ? a->vf + base + (size_t)j * HD : NULL;
        for (int c = 0; c < HD; c++) o[c] += p * (vf ? vf[c] : bf(v[c]));
    }
    for (int c = 0; c < HD; c++) a->ref[i * HD + c] = o[c] / sum;
    free(s);
}

// Builds the batch (chunk after chunk, or round-robin over the chunks when interleave), runs the kernel with tb,
// checks every output is written and finite, that the row past the output is untouched, and returns the relative
// error against the fp64 reference. wg_min_run > 0: through launch_attention_runs (runs of at least that many
// tokens to the wgmma kernel) instead of launch_attention_tb, once per attn_wg variant on the same inputs: err[v]
// for variant v (WG_VARIANTS of them: v & 1 the kernel, v & 2 all runs in one varlen launch; a varlen output that
// differs in any bit from the per-run launch's, v - 2, counts as inf); otherwise err[0].
enum { WG_VARIANTS = 4 };
// tb values that pick another launcher: attn_dec.ptx through launch_attention_dec (kv_split as given; either cache),
// and the engine's routing through launch_attention_runs (fp8 cache: runs of >= 128 tokens to attn_wg.ptx's fp8
// entries — all in one varlen launch, or with split 1 one launch per run — runs of >= 2 to attention.ptx, the rest to
// attn_dec.ptx); TB_DEC_ORD: attn_dec.ptx with the tokens given an order (0 .. T-1), as the engine's graph-replayed
// steps launch it — where there are many units and short contexts, a warp a unit
enum { TB_DEC = -1, TB_ROUTED = -2, TB_DEC_ORD = -3 };
static const char *const wg_names[WG_VARIANTS] = { "attn_wg_h128", "attn_wg_h128_pipe", "attn_wg_h128_varlen",
                                                   "attn_wg_h128_pipe_varlen" };
// kv8: an fp8 cache (quantised here per row); err[0] is then the error against the reference of the dequantised cache
// and *loose the error against the unquantised one.
static void run_attn_wg(int n_kv, int gqa, int max_seqs, int max_ctx, const Chunk *ch, int nch, int interleave,
                        int tb, int split, int kv_split, double q_amp, int wg_min_run, double *err, int kv8,
                        double *loose) {
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
                    v[o + c] = p <= last[s] ? rand_bf16(v_amp) : 0x7FC0;
                }
            }
    for (size_t i = 0; i < (size_t)T * n_head * HD; i++) q[i] = rand_bf16(q_amp);
    int max_pages = (max_ctx + PAGE - 1) / PAGE, n_pages = max_seqs * max_pages + SPARE_PAGES;
    int *table = shuffled_pages(n_pages);
    size_t pool_n = (size_t)n_pages * n_kv * PAGE * HD;
    uint16_t *kp = xmalloc(pool_n * 2), *vp = xmalloc(pool_n * 2);
    for (size_t i = 0; i < pool_n; i++) kp[i] = vp[i] = 0x7FC0;  // spare pages and the tail of the last: NaN
    // fp8: pools of e4m3 (poison 0x7F = NaN) and row scales (poison NaN); kd, vd the dequantised logical caches
    size_t rows_n = pool_n / HD;
    uint8_t *kp8 = NULL, *vp8 = NULL;
    float *ksc = NULL, *vsc = NULL;
    float *kd = NULL, *vd = NULL;
    if (kv8) {
        kp8 = xmalloc(pool_n); vp8 = xmalloc(pool_n);
        ksc = xmalloc(rows_n * 4); vsc = xmalloc(rows_n * 4);
        memset(kp8, 0x7F, pool_n); memset(vp8, 0x7F, pool_n);
        for (size_t i = 0; i < rows_n; i++) ksc[i] = vsc[i] = NAN;
        kd = xmalloc(cache_n * 4); vd = xmalloc(cache_n * 4);
        for (size_t i = 0; i < cache_n; i++) kd[i] = vd[i] = NAN;  // rows past a slot's data stay NaN
    }
    for (int s = 0; s < max_seqs; s++)
        for (int h = 0; h < n_kv; h++)
            for (int p = 0; p < max_ctx; p++) {
                size_t o = (((size_t)s * n_kv + h) * max_ctx + p) * HD;
                size_t po = (((size_t)table[s * max_pages + p / PAGE] * n_kv + h) * PAGE + p % PAGE) * HD;
                memcpy(kp + po, k + o, HD * 2);
                memcpy(vp + po, v + o, HD * 2);
                if (kv8 && p <= last[s]) {
                    ksc[po / HD] = quant_row(k + o, kp8 + po, kd + o);
                    vsc[po / HD] = quant_row(v + o, vp8 + po, vd + o);
                }
            }

    CUdeviceptr dk = gpu_alloc(&G, pool_n * 2), dv = gpu_alloc(&G, pool_n * 2), dks = 0, dvs = 0;
    if (kv8) {  // the e4m3 pools replace the bf16 ones (half their size is used)
        dks = gpu_alloc(&G, rows_n * 4);
        dvs = gpu_alloc(&G, rows_n * 4);
    }
    CUdeviceptr dtable = gpu_alloc(&G, (size_t)max_seqs * max_pages * 4);
    CUdeviceptr dq = gpu_alloc(&G, (size_t)T * n_head * HD * 2);
    CUdeviceptr dout = gpu_alloc(&G, (size_t)(T + 1) * n_head * HD * 2);
    CUdeviceptr dslot = gpu_alloc(&G, T * 4), dpos = gpu_alloc(&G, T * 4);
    gpu_upload(&G, dk, kv8 ? (void *)kp8 : kp, pool_n * (kv8 ? 1 : 2));
    gpu_upload(&G, dv, kv8 ? (void *)vp8 : vp, pool_n * (kv8 ? 1 : 2));
    if (kv8) {
        gpu_upload(&G, dks, ksc, rows_n * 4);
        gpu_upload(&G, dvs, vsc, rows_n * 4);
    }
    gpu_upload(&G, dtable, table, (size_t)max_seqs * max_pages * 4);
    gpu_upload(&G, dq, q, (size_t)T * n_head * HD * 2);
    gpu_upload(&G, dslot, slot, T * 4);
    gpu_upload(&G, dpos, pos, T * 4);
    float scale = 1.0f / sqrtf((float)HD);
    size_t n_out = (size_t)T * n_head * HD;
    double *ref = xmalloc(n_out * sizeof(double));
    AttnRef a = { T, n_head, n_kv, max_ctx, slot, pos, q, k, v, kd, vd, scale, ref };
    parallel_for((int64_t)T * n_head, attn_ref_one, &a);
    double *ref_q = NULL;  // fp8: the reference of the unquantised cache
    if (kv8) {
        ref_q = xmalloc(n_out * sizeof(double));
        AttnRef aq = { T, n_head, n_kv, max_ctx, slot, pos, q, k, v, NULL, NULL, scale, ref_q };
        parallel_for((int64_t)T * n_head, attn_ref_one, &aq);
    }
    CUdeviceptr d_id = 0;  // TB_DEC_ORD: the order 0 .. T-1
    if (tb == TB_DEC_ORD) {
        int *id = xmalloc(T * sizeof(int));
        for (int i = 0; i < T; i++) id[i] = i;
        d_id = gpu_alloc(&G, T * 4);
        gpu_upload(&G, d_id, id, T * 4);
        free(id);
    }
    int dec = tb == TB_DEC || tb == TB_DEC_ORD;
    uint16_t *outb = xmalloc((size_t)(T + 1) * n_head * HD * 2);
    uint16_t *outr[2] = { xmalloc(n_out * 2), xmalloc(n_out * 2) };  // per-run launches' outputs, per kernel
    float *out = xmalloc(n_out * 4);
    for (int var = 0; var < (wg_min_run > 0 ? WG_VARIANTS : 1); var++) {
        gpu_fill_u32(&G, dout, 0x7FC07FC0u, (size_t)(T + 1) * n_head * HD / 2);
        if (wg_min_run > 0)
            launch_attention_runs(&G, dout, dq, dk, dv, dks, dvs, dtable, dslot, dpos, slot, pos, T, n_head, n_kv, HD,
                                  max_pages, n_pages, scale, wg_min_run, var & 1, var >> 1);
        else if (dec)
            launch_attention_dec(&G, dout, dq, dk, dv, dks, dvs, dtable, dslot, dpos, T, n_head, n_kv, HD, max_pages,
                                 scale, kv_split, 0, 0, d_id);
        else if (tb == TB_ROUTED)
            launch_attention_runs(&G, dout, dq, dk, dv, dks, dvs, dtable, dslot, dpos, slot, pos, T, n_head, n_kv, HD,
                                  max_pages, n_pages, scale, 128, 1, !split);
        else
            launch_attention_tb(&G, dout, dq, dk, dv, dks, dvs, dtable, dslot, dpos, T, n_head, n_kv, HD, max_pages,
                                scale, tb, split, kv_split);
        gpu_download(&G, outb, dout, (size_t)(T + 1) * n_head * HD * 2);
        const char *who = dec ? (kv8 ? "attn_dec_fp8" : "attn_dec_bf16") : tb == TB_ROUTED ? "launch_attention_runs (fp8)"
                          : kv8 ? "attention_gqa_h128_fp8" : wg_min_run > 0 ? wg_names[var] : "attention_gqa_h128";
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
        if (wg_min_run > 0 && var < 2) memcpy(outr[var], outb, n_out * 2);
        if (wg_min_run > 0 && var >= 2) {  // same CTAs' work as the per-run launch: the same bits
            size_t diff = 0, first = 0;
            for (size_t i = 0; i < n_out; i++)
                if (outb[i] != outr[var & 1][i] && !(isnan(out[i]) && isnan(bf(outr[var & 1][i])))) {
                    if (!diff) first = i;
                    diff++;
                }
            if (diff) {
                printf("  %s: %zu of %zu outputs differ from %s's (first: token %zu head %zu)\n", who, diff, n_out,
                       wg_names[var & 1], first / (n_head * HD), first / HD % n_head);
                err[var] = INFINITY;
            }
        }
        if (kv8 && loose) *loose = stray ? INFINITY : rel_err(out, ref_q, n_out);
        if (kv8 && tb == TB_ROUTED && !split) {  // varlen: short items a GQA group a CTA (the packed entry) where
            // the host takes it; the same bits as without it (QWEN3_ATTN_WG_PACK=0)
            uint16_t *outp = xmalloc((size_t)(T + 1) * n_head * HD * 2);
            gpu_fill_u32(&G, dout, 0x7FC07FC0u, (size_t)(T + 1) * n_head * HD / 2);
            setenv("QWEN3_ATTN_WG_PACK", "0", 1);
            launch_attention_runs(&G, dout, dq, dk, dv, dks, dvs, dtable, dslot, dpos, slot, pos, T, n_head, n_kv, HD,
                                  max_pages, n_pages, scale, 128, 1, 1);
            unsetenv("QWEN3_ATTN_WG_PACK");
            gpu_download(&G, outp, dout, (size_t)(T + 1) * n_head * HD * 2);
            size_t diff = 0;
            for (size_t i = 0; i < (size_t)(T + 1) * n_head * HD; i++)
                diff += outp[i] != outb[i] && !(isnan(bf(outp[i])) && isnan(bf(outb[i])));
            if (diff) {
                printf("  %s: %zu outputs differ with QWEN3_ATTN_WG_PACK=0\n", who, diff);
                err[var] = INFINITY;
            }
            free(outp);
        }
        if (dec) {  // the quantising epilogue: byte for byte what quant_act_fp8 makes of the bf16 output
            int ng = T * n_head;
            CUdeviceptr q0 = gpu_alloc(&G, n_out), s0 = gpu_alloc(&G, (size_t)ng * 4);
            CUdeviceptr q1 = gpu_alloc(&G, n_out), s1 = gpu_alloc(&G, (size_t)ng * 4);
            launch_quant_act_fp8(&G, q0, s0, dout, T, n_head * HD);
            gpu_fill_u32(&G, q1, 0x7F7F7F7Fu, n_out / 4);  // e4m3 NaN bytes
            gpu_fill_u32(&G, s1, 0x7FC00000u, (size_t)ng);
            launch_attention_dec(&G, dout, dq, dk, dv, dks, dvs, dtable, dslot, dpos, T, n_head, n_kv, HD, max_pages,
                                 scale, kv_split, q1, s1, d_id);
            uint8_t *b0 = xmalloc(n_out), *b1 = xmalloc(n_out);
            float *f0 = xmalloc((size_t)ng * 4), *f1 = xmalloc((size_t)ng * 4);
            gpu_download(&G, b0, q0, n_out); gpu_download(&G, b1, q1, n_out);
            gpu_download(&G, f0, s0, (size_t)ng * 4); gpu_download(&G, f1, s1, (size_t)ng * 4);
            size_t bad = 0, bad_s = 0;
            for (size_t i = 0; i < n_out; i++) bad += b0[i] != b1[i];
            for (int i = 0; i < ng; i++) bad_s += memcmp(&f0[i], &f1[i], 4) != 0;
            if (bad || bad_s) {
                printf("  %s with FP8 out: %zu of %zu bytes and %zu of %d scales differ from quant_act_fp8\n", who, bad,
                       n_out, bad_s, ng);
                err[var] = INFINITY;
            }
            free(b0); free(b1); free(f0); free(f1);
            gpu_free(&G, q0); gpu_free(&G, s0); gpu_free(&G, q1); gpu_free(&G, s1);
            // the tokens in the engine's order (longest first; ties in reverse): every CTA's (or lone warp's) work
            // is its own, so the same bytes — where both launches map the units alike: without an order the kernel
            // never takes a warp a unit, with the order it does for many short units (host/gpu_attn.c); then the
            // reference decides
            int *os = xmalloc(T * sizeof(int)), *op = xmalloc(T * sizeof(int)), *ot = xmalloc(T * sizeof(int));
            int max_pos = 0;
            for (int i = 0; i < T; i++) { ot[i] = T - 1 - i; if (pos[i] > max_pos) max_pos = pos[i]; }
            for (int i = 1; i < T; i++)  // insertion sort of the reversed list by position, stable
                for (int j = i; j > 0 && pos[ot[j]] > pos[ot[j - 1]]; j--) {
                    int x = ot[j];
                    ot[j] = ot[j - 1];
                    ot[j - 1] = x;
                }
            for (int i = 0; i < T; i++) { os[i] = slot[ot[i]]; op[i] = pos[ot[i]]; }
            int mode_differs = !d_id && T * n_kv >= 15 * (G.sm_count > 0 ? G.sm_count : 132) && max_pos < 512;
            CUdeviceptr d_os = gpu_alloc(&G, T * 4), d_op = gpu_alloc(&G, T * 4), d_ot = gpu_alloc(&G, T * 4);
            gpu_upload(&G, d_os, os, T * 4); gpu_upload(&G, d_op, op, T * 4); gpu_upload(&G, d_ot, ot, T * 4);
            uint16_t *outo = xmalloc((size_t)(T + 1) * n_head * HD * 2);
            gpu_fill_u32(&G, dout, 0x7FC07FC0u, (size_t)(T + 1) * n_head * HD / 2);
            launch_attention_dec(&G, dout, dq, dk, dv, dks, dvs, dtable, d_os, d_op, T, n_head, n_kv, HD, max_pages,
                                 scale, kv_split, 0, 0, d_ot);
            gpu_download(&G, outo, dout, (size_t)(T + 1) * n_head * HD * 2);
            if (mode_differs) {
                float *fo = xmalloc(n_out * 4);
                for (size_t i = 0; i < n_out; i++) fo[i] = bf(outo[i]);
                double eo = rel_err(fo, ref, n_out);
                if (!(eo < ATT_TOL)) {
                    printf("  %s in the engine's order (a warp a unit): rel err %.3g\n", who, eo);
                    err[var] = INFINITY;
                }
                free(fo);
            } else if (memcmp(outo, outb, (size_t)(T + 1) * n_head * HD * 2)) {
                printf("  %s with the tokens in the engine's order: the output differs\n", who);
                err[var] = INFINITY;
            }
            free(os); free(op); free(ot); free(outo);
            gpu_free(&G, d_os); gpu_free(&G, d_op); gpu_free(&G, d_ot);
        }
    }

    free(slot); free(pos); free(done); free(last); free(k); free(v); free(q); free(outb); free(out); free(ref);
    free(outr[0]); free(outr[1]);
    free(table); free(kp); free(vp); free(kp8); free(vp8); free(ksc); free(vsc); free(kd); free(vd); free(ref_q);
    if (kv8) { gpu_free(&G, dks); gpu_free(&G, dvs); }
    if (d_id) gpu_free(&G, d_id);
    gpu_free(&G, dk); gpu_free(&G, dv); gpu_free(&G, dq); gpu_free(&G, dout); gpu_free(&G, dslot);
    gpu_free(&G, dpos); gpu_free(&G, dtable);
}

static double run_attn(int n_kv, int gqa, int max_seqs, int max_ctx, const Chunk *ch, int nch, int interleave,
                       int tb, int split, int kv_split, double q_amp) {
    double e;
    run_attn_wg(n_kv, gqa, max_seqs, max_ctx, ch, nch, interleave, tb, split, kv_split, q_amp, 0, &e, 0, NULL);
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
    for (int ks = 0; ks < 3; ks++) {  // attn_dec.ptx's bf16 entry: default split, one CTA, clusters of 3
        static const int dks[] = { 0, 1, 3 };
        double e = run_attn(n_kv, gqa, max_seqs, max_ctx, ch, nch, interleave, TB_DEC, 0, dks[ks], q_amp);
        CHECK(e < ATT_TOL, "%s: n_kv %d G %d attn_dec_bf16 kv_split %d: rel err %.3g", what, n_kv, gqa, dks[ks], e);
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
    static const int gq[] = { 2, 4, 5, 8 };  // 5: Qwen3-14B (40 / 8)
    Chunk c[9];
    static const int dl[] = { 1, 63, 64, 65, 127, 128, 129, 1000, 4095 };
    for (int i = 0; i < 9; i++) c[i] = (Chunk){ 8 - i, dl[i] - 1, 1 };
    for (int gi = 0; gi < 4; gi++) check(8, gq[gi], 9, 4096, c, 9, 0, 2.0, "decode batch");
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
    run_attn_wg(n_kv, gqa, max_seqs, max_ctx, ch, nch, interleave, 0, -1, 0, q_amp, min_run, e, 0, NULL);
    for (int v = 0; v < WG_VARIANTS; v++)
        CHECK(e[v] < ATT_TOL, "%s, %s: n_kv %d G %d (runs of >= %d tokens to it): rel err %.3g (tolerance %g; inf = "
              "a NaN, a stray write or a varlen output unlike the per-run one, see the lines above)", wg_names[v],
              what, n_kv, gqa, min_run, e[v], ATT_TOL);
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

// Variable-length prefill (issue 6): one step of many runs, lengths around the 128-row blocks, from zero and
// continuing cached prefixes (starting inside a page and inside a 128-key tile, or on a page edge), decode tokens
// between them, in one varlen launch (and, for comparison, one launch per run); min_run 1: every token to attn_wg
// (1-token runs too), 128: the short ones to attention.ptx.
static void attn_wg_varlen(void) {
    NEED_GPU();
    Chunk c[] = { { 0, 0, 4095 }, { 1, 50, 1 }, { 2, 3000, 1000 }, { 3, 0, 1 }, { 4, 700, 300 }, { 5, 64, 129 },
                  { 6, 0, 128 }, { 7, 1, 1 }, { 8, 129, 127 }, { 9, 4094, 1 }, { 10, 200, 2 } };
    static const int gq[] = { 2, 4, 8 };
    for (int gi = 0; gi < 3; gi++) check_wg(1, gq[gi], 11, 4096, c, 11, 0, 2.0, 1, "varlen step, min_run 1");
    check_wg(1, 4, 11, 4096, c, 11, 0, 1.0, 128, "varlen step, min_run 128");
    // more work items than one launch takes (224): 260 one-token runs (decode tokens, min_run 1) and a run of 200
    Chunk d[261];
    for (int i = 0; i < 260; i++) d[i] = (Chunk){ i, i * 37 % 256, 1 };
    d[260] = (Chunk){ 260, 50, 200 };
    check_wg(1, 4, 261, 256, d, 261, 0, 1.0, 1, "varlen, 261 runs (262 items: two launches)");
}

// --- the fp8 cache (attention.ptx's fp8 entry): tight against the dequantised cache, loose against the unquantised
// one. The loose bound documents e4m3's rounding (3 mantissa bits: up to 1/16 of a value, ~2-3% rms on these
// random rows: 0.025 .. 0.043 for q amplitudes 1 .. 4 in a host simulation) as it reaches the output; printed.
#define FP8_LOOSE_TOL 0.07
static double fp8_loose_max;
// attention.ptx's grids: default (by T), one CTA per block, one token per CTA, odd blocks, and a cluster of 8
// splitting the keys; attn_dec.ptx with the default key split, the engine's routing (attn_wg's fp8 entries for runs
// of >= 128: varlen, and with every grid also one launch per run), then attn_dec.ptx with one CTA and with clusters
// of 3 and 8 (more warps than chunks for short rows).
static void check8(int n_kv, int gqa, int max_seqs, int max_ctx, const Chunk *ch, int nch, int interleave,
                   double q_amp, int all_grids, const char *what) {
    static const int cfg[][3] = { { 0, -1, 0 }, { TB_DEC, 0, 0 }, { TB_ROUTED, 0, 0 }, { 0, 0, 1 }, { 1, 0, 1 },
                                  { 3, 0, 1 }, { 0, 1, 8 }, { TB_DEC, 0, 1 }, { TB_DEC, 0, 3 }, { TB_DEC, 0, 8 },
                                  { TB_ROUTED, 1, 0 } };
    for (int i = 0; i < (all_grids ? 11 : 3); i++) {  // tb, split, kv_split
        if (cfg[i][0] * gqa > 64) continue;
        double e, lo = INFINITY;
        run_attn_wg(n_kv, gqa, max_seqs, max_ctx, ch, nch, interleave, cfg[i][0], cfg[i][1], cfg[i][2], q_amp, 0, &e,
                    1, &lo);
        CHECK(e < ATT_TOL, "fp8 cache, %s: n_kv %d G %d tb %d split %d kv_split %d: rel err %.3g against the "
              "dequantised cache", what, n_kv, gqa, cfg[i][0], cfg[i][1], cfg[i][2], e);
        CHECK(lo < FP8_LOOSE_TOL, "fp8 cache, %s: n_kv %d G %d: rel err %.3g against the unquantised cache", what,
              n_kv, gqa, lo);
        if (i < 3) printf("  fp8 %-36s G %d %s: rel err %.2e (dequantised), %.2e (unquantised)\n", what, gqa,
                          i == 2 ? "routed   " : i ? "attn_dec " : "attention", e, lo);
        if (lo > fp8_loose_max) fp8_loose_max = lo;
    }
}

static void attn_fp8_prefill(void) {
    NEED_GPU();
    static const int gq[] = { 2, 4, 8 };
    for (int gi = 0; gi < 3; gi++)
        for (int li = 0; li < 7; li++) {  // 1 .. 129
            Chunk c = { 1, 0, lens[li] };
            char what[64];
            snprintf(what, sizeof what, "prefill len %d", lens[li]);
            check8(2, gq[gi], 2, 1024, &c, 1, 0, 1.0, gq[gi] == 4, what);  // every grid at G 4 (test time)
        }
    Chunk c = { 0, 0, 4095 };
    check8(1, 4, 1, 4096, &c, 1, 0, 1.0, 0, "prefill len 4095");
    Chunk d[] = { { 0, 4095 - 300, 300 }, { 2, 999 - 129, 129 } };
    check8(2, 4, 3, 4096, d, 2, 0, 4.0, 1, "continuation to 4095 + 999");
}

// Many short prompts in one step on the fp8 cache (the B = 256 job's prefill: runs of <= 256 keys, so the varlen
// launch takes attn_wg_h128_pack_varlen_fp8, a GQA group a CTA): runs from position 0 and continuations, one and
// two 128-row items, the last key at 127 / 128 / 255, G 2 / 4 / 5 / 8 (check8's routed launches; run_attn_wg
// compares it bit for bit with QWEN3_ATTN_WG_PACK=0)
static void attn_fp8_short_runs(void) {
    NEED_GPU();
    static const int gq[] = { 2, 4, 5, 8 };
    Chunk c[] = { { 0, 0, 128 }, { 1, 0, 256 }, { 2, 100, 156 }, { 3, 0, 129 }, { 4, 127, 129 }, { 5, 0, 200 } };
    for (int gi = 0; gi < 4; gi++) check8(2, gq[gi], 6, 512, c, 6, 0, 2.0, 0, "short runs");
}

static void attn_fp8_decode(void) {
    NEED_GPU();
    static const int gq[] = { 2, 4, 5, 8 };
    Chunk c[8];
    static const int dl[] = { 1, 63, 64, 65, 127, 128, 129, 4095 };
    for (int i = 0; i < 8; i++) c[i] = (Chunk){ 7 - i, dl[i] - 1, 1 };
    for (int gi = 0; gi < 4; gi++) check8(8, gq[gi], 8, 4096, c, 8, 0, 2.0, gq[gi] != 5, "decode batch");
}

// attn_dec.ptx's warp a unit (host/gpu_attn.c: an order, >= 15 (token, kv head) units an SM, the longest context
// under QWEN3_ATTN_WIDE_KEYS = 512 keys), both caches: 256 decode tokens x 8 kv heads at contexts 1 .. 512 (page and
// chunk edges, then scattered), G 4 / 5; and 2,049 tokens of one kv head (the last CTA has one unit: its other warps
// leave at once). The same checks as every attn_dec case: the fp64 reference, the quantising epilogue byte for byte,
// the tokens in the engine's order byte for byte.
static void attn_dec_wide(void) {
    NEED_GPU();
    enum { T = 256, T1 = 2049 };
    static const int edge[] = { 511, 500, 257, 256, 255, 129, 128, 127, 65, 64, 63, 17, 16, 15, 1, 0 };
    Chunk *c = xmalloc(T1 * sizeof(Chunk));
    for (int i = 0; i < T; i++) c[i] = (Chunk){ T - 1 - i, i < 16 ? edge[i] : (i * 97) % 512, 1 };
    static const int gq[] = { 4, 5 };
    for (int kv8 = 0; kv8 < 2; kv8++)
        for (int gi = 0; gi < 2; gi++) {
            double e, lo = 0;
            run_attn_wg(8, gq[gi], T, 512, c, T, 0, TB_DEC_ORD, 0, 0, 2.0, 0, &e, kv8, &lo);
            CHECK(e < ATT_TOL && lo < FP8_LOOSE_TOL, "attn_dec %s, a warp a unit: %d tokens x 8 kv heads, G %d: rel "
                  "err %.3g (unquantised %.3g)", kv8 ? "fp8" : "bf16", T, gq[gi], e, lo);
        }
    for (int i = 0; i < T1; i++) c[i] = (Chunk){ i, (i * 37) % 256, 1 };
    for (int kv8 = 0; kv8 < 2; kv8++) {
        double e, lo = 0;
        run_attn_wg(1, 4, T1, 256, c, T1, 0, TB_DEC_ORD, 0, 0, 1.0, 0, &e, kv8, &lo);
        CHECK(e < ATT_TOL && lo < FP8_LOOSE_TOL, "attn_dec %s, a warp a unit: %d tokens x 1 kv head: rel err %.3g "
              "(unquantised %.3g)", kv8 ? "fp8" : "bf16", T1, e, lo);
    }
    free(c);
}

// Length 32768: a decode token at position 32767 and the last 129-token prefill chunk up to it (512 pages).
static void attn_fp8_32k(void) {
    NEED_GPU();
    Chunk d = { 0, 32767, 1 };
    check8(2, 4, 1, 32768, &d, 1, 0, 2.0, 1, "decode at 32768");
    Chunk p = { 0, 32768 - 129, 129 };
    check8(2, 8, 1, 32768, &p, 1, 0, 2.0, 0, "prefill chunk to 32768");
}

// V rows far from 1: attention.ptx's fp8 entry holds V value * 64 in f16 (scale * 64 rounded to f16, clamped to 146):
// full f16 precision for row amax in [4.2e-4, 1022]; amplitude 2e-4 has subnormal scales (still within the tolerance),
// 500 is near the top. attn_dec_fp8 multiplies P by 2048 * scale instead (clamped to 65504: row amax up to 14k).
static void attn_fp8_v_range(void) {
    NEED_GPU();
    Chunk c[] = { { 0, 63, 1 }, { 1, 128, 1 }, { 2, 1000, 1 }, { 3, 2, 70 } };
    static const double amp[] = { 2e-4, 3e-3, 500 };
    for (int i = 0; i < 3; i++) {
        char what[64];
        snprintf(what, sizeof what, "decode + prefill, V amplitude %g", amp[i]);
        v_amp = amp[i];
        check8(2, 4, 4, 1024, c, 4, 0, 2.0, i == 0, what);
    }
    v_amp = 1.0;
}

static void attn_fp8_mixed(void) {
    NEED_GPU();
    Chunk c[] = { { 3, 0, 129 }, { 0, 62, 1 }, { 1, 0, 65 }, { 4, 127, 1 }, { 2, 900, 100 }, { 5, 0, 1 } };
    static const int gq[] = { 2, 4, 5, 8 };
    for (int gi = 0; gi < 4; gi++) {
        check8(2, gq[gi], 6, 1024, c, 6, 0, 1.0, gi == 0 || gi == 2, "mixed");
        check8(2, gq[gi], 6, 1024, c, 6, 1, 1.0, 0, "mixed interleaved");
    }
    printf("  fp8 cache: largest error against the unquantised cache %.3g (bound %g)\n", fp8_loose_max,
           FP8_LOOSE_TOL);
}

// The fp8 writer: qknorm_rope_kv_fp8 and qknorm_rope_kv on the same inputs; every k/v row of the fp8 pools must be
// exactly quant_row of the bf16 writer's row (bytes and scale), q identical, rows no token writes untouched. Token
// 0's k head 0 and v head 1 are all zero (scale 1, zero bytes). The inputs are bf16 values, so the fp8 writer reading
// them as bf16 (qknorm_rope_kv_fp8_b16, the engine's larger FP8 steps) must write the very same bytes.
static void rope_kv_fp8_writer(void) {
    NEED_GPU();
    enum { T = 37, NH = 16, NKV = 4, MAXP = 4, SLOTS = 3, H = NH + 2 * NKV };
    int n_pages = SLOTS * MAXP + 2, *table = shuffled_pages(n_pages), slot[T], pos[T];
    for (int t = 0; t < T; t++) {  // a 20-token chunk of slot 2 from 50 (crosses a page), then decode tokens
        slot[t] = t < 20 ? 2 : t % 2;
        pos[t] = t < 20 ? 50 + t : 100 + 70 * (t % 2) + t;
    }
    size_t qkv_n = (size_t)T * H * HD, rows = (size_t)n_pages * NKV * PAGE, pool_n = rows * HD;
    float *qkv = xmalloc(qkv_n * 4), qn[HD], kn[HD];
    for (size_t i = 0; i < qkv_n; i++) qkv[i] = (float)(4.0 * (2.0 * rng_uniform(&rng) - 1.0));
    for (int c = 0; c < HD; c++) {
        qn[c] = (float)(0.5 + rng_uniform(&rng));
        kn[c] = (float)(0.5 + 2 * rng_uniform(&rng));
        qkv[(size_t)NH * HD + c] = 0;                  // token 0, k head 0
        qkv[(size_t)(NH + NKV + 1) * HD + c] = 0;      // token 0, v head 1
    }
    for (int c = 0; c < HD; c++) qkv[(size_t)(5 * H + NH + NKV + 2) * HD + c] *= 1e-3f;  // a small row
    uint16_t *qkv16 = xmalloc(qkv_n * 2);
    for (size_t i = 0; i < qkv_n; i++) { qkv16[i] = host_f32_to_bf16(qkv[i]); qkv[i] = host_bf16_to_f32(qkv16[i]); }
    CUdeviceptr dqkv = gpu_alloc(&G, qkv_n * 4), dqn = gpu_alloc(&G, HD * 4), dkn = gpu_alloc(&G, HD * 4);
    CUdeviceptr dt = gpu_alloc(&G, (size_t)SLOTS * MAXP * 4), ds = gpu_alloc(&G, T * 4), dp = gpu_alloc(&G, T * 4);
    CUdeviceptr dq16 = gpu_alloc(&G, (size_t)T * NH * HD * 2), dq8 = gpu_alloc(&G, (size_t)T * NH * HD * 2);
    CUdeviceptr dk16 = gpu_alloc(&G, pool_n * 2), dv16 = gpu_alloc(&G, pool_n * 2);
    CUdeviceptr dk8 = gpu_alloc(&G, pool_n), dv8 = gpu_alloc(&G, pool_n);
    CUdeviceptr dks = gpu_alloc(&G, rows * 4), dvs = gpu_alloc(&G, rows * 4);
    gpu_upload(&G, dqkv, qkv, qkv_n * 4);
    gpu_upload(&G, dqn, qn, HD * 4);
    gpu_upload(&G, dkn, kn, HD * 4);
    gpu_upload(&G, dt, table, (size_t)SLOTS * MAXP * 4);
    gpu_upload(&G, ds, slot, T * 4);
    gpu_upload(&G, dp, pos, T * 4);
    gpu_fill_u32(&G, dk16, 0x7FC07FC0u, pool_n / 2);
    gpu_fill_u32(&G, dv16, 0x7FC07FC0u, pool_n / 2);
    gpu_fill_u32(&G, dk8, 0x7F7F7F7Fu, pool_n / 4);
    gpu_fill_u32(&G, dv8, 0x7F7F7F7Fu, pool_n / 4);
    gpu_fill_u32(&G, dks, 0x7FC00000u, rows);
    gpu_fill_u32(&G, dvs, 0x7FC00000u, rows);
    launch_qknorm_rope_kv(&G, dq16, dk16, dv16, dqkv, 0, dqn, dkn, dt, ds, dp, T, NH, NKV, HD, MAXP, 1e6f, 1e-6f);
    launch_qknorm_rope_kv_fp8(&G, dq8, dk8, dv8, dks, dvs, dqkv, 0, dqn, dkn, dt, ds, dp, T, NH, NKV, HD, MAXP, 1e6f,
                              1e-6f);
    // the same fp8 writer from the bf16 copy of qkv, and the per-token entries (from either input), each into fresh
    // poisoned buffers: the very same bytes as the f32 input through one warp a head
    CUdeviceptr dqkv16 = gpu_alloc(&G, qkv_n * 2), dqb = gpu_alloc(&G, (size_t)T * NH * HD * 2);
    CUdeviceptr dkb = gpu_alloc(&G, pool_n), dvb = gpu_alloc(&G, pool_n);
    CUdeviceptr dksb = gpu_alloc(&G, rows * 4), dvsb = gpu_alloc(&G, rows * 4);
    gpu_upload(&G, dqkv16, qkv16, qkv_n * 2);
    for (int v = 0; v < 3; v++) {
        int in16 = v < 2, tok = v > 0, tok_was = rope_tok_min(tok);
        gpu_fill_u32(&G, dqb, 0x7FC07FC0u, (size_t)T * NH * HD / 2);
        gpu_fill_u32(&G, dkb, 0x7F7F7F7Fu, pool_n / 4);
        gpu_fill_u32(&G, dvb, 0x7F7F7F7Fu, pool_n / 4);
        gpu_fill_u32(&G, dksb, 0x7FC00000u, rows);
        gpu_fill_u32(&G, dvsb, 0x7FC00000u, rows);
        launch_qknorm_rope_kv_fp8(&G, dqb, dkb, dvb, dksb, dvsb, in16 ? dqkv16 : dqkv, in16, dqn, dkn, dt, ds, dp, T,
                                  NH, NKV, HD, MAXP, 1e6f, 1e-6f);
        rope_tok_min(tok_was);
        size_t nb[5] = { (size_t)T * NH * HD * 2, pool_n, pool_n, rows * 4, rows * 4 }, diff = 0;
        CUdeviceptr a[5] = { dq8, dk8, dv8, dks, dvs }, b[5] = { dqb, dkb, dvb, dksb, dvsb };
        for (int i = 0; i < 5; i++) {
            uint8_t *x = xmalloc(nb[i]), *y = xmalloc(nb[i]);
            gpu_download(&G, x, a[i], nb[i]);
            gpu_download(&G, y, b[i], nb[i]);
            diff += memcmp(x, y, nb[i]) != 0;
            free(x); free(y);
        }
        CHECK(diff == 0, "fp8 writer from %s qkv%s: %zu of q / k / v / k scales / v scales differ from the f32 "
              "input's through one warp a head", in16 ? "bf16" : "f32", tok ? ", one CTA a token" : "", diff);
    }
    CUdeviceptr b16[] = { dqkv16, dqb, dkb, dvb, dksb, dvsb };
    for (size_t i = 0; i < sizeof b16 / sizeof b16[0]; i++) gpu_free(&G, b16[i]);
    free(qkv16);
    uint16_t *q16 = xmalloc((size_t)T * NH * HD * 2), *q8 = xmalloc((size_t)T * NH * HD * 2);
    uint16_t *k16 = xmalloc(pool_n * 2), *v16 = xmalloc(pool_n * 2);
    uint8_t *k8 = xmalloc(pool_n), *v8 = xmalloc(pool_n), want[HD];
    float *ks = xmalloc(rows * 4), *vs = xmalloc(rows * 4);
    gpu_download(&G, q16, dq16, (size_t)T * NH * HD * 2);
    gpu_download(&G, q8, dq8, (size_t)T * NH * HD * 2);
    gpu_download(&G, k16, dk16, pool_n * 2);
    gpu_download(&G, v16, dv16, pool_n * 2);
    gpu_download(&G, k8, dk8, pool_n);
    gpu_download(&G, v8, dv8, pool_n);
    gpu_download(&G, ks, dks, rows * 4);
    gpu_download(&G, vs, dvs, rows * 4);
    CHECK(!memcmp(q16, q8, (size_t)T * NH * HD * 2), "q differs between the bf16 and fp8 writers");
    unsigned char *written = xcalloc(rows, 1);
    size_t bad_bytes = 0, bad_scale = 0, bad_zero = 0;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < NKV; h++) {
            size_t r = ((size_t)table[slot[t] * MAXP + pos[t] / PAGE] * NKV + h) * PAGE + pos[t] % PAGE;
            written[r] = 1;
            for (int kv = 0; kv < 2; kv++) {
                const uint16_t *x = (kv ? v16 : k16) + r * HD;
                const uint8_t *got = (kv ? v8 : k8) + r * HD;
                float sc = quant_row(x, want, NULL), gs = (kv ? vs : ks)[r];
                if (memcmp(&sc, &gs, 4)) {
                    if (bad_scale++ < 3) printf("  token %d %c head %d: scale %.9g, want %.9g\n", t, "kv"[kv], h, gs, sc);
                }
                for (int c = 0; c < HD; c++)  // (+0 and -0 are both zero: a rotated zero may come out as -0)
                    if (got[c] != want[c] && ((got[c] | want[c]) & 0x7F) && bad_bytes++ < 3)
                        printf("  token %d %c head %d elem %d: 0x%02x, want 0x%02x (x %.6g, scale %.6g)\n", t, "kv"[kv],
                               h, c, got[c], want[c], bf(x[c]), sc);
                if (t == 0 && h == kv) {  // the zero rows
                    for (int c = 0; c < HD; c++) bad_zero += (got[c] & 0x7F) != 0;
                    bad_zero += gs != 1.0f;
                }
            }
        }
    size_t touched = 0;
    for (size_t r = 0; r < rows; r++)
        if (!written[r]) {
            touched += !isnan(ks[r]) || !isnan(vs[r]);
            for (int c = 0; c < HD; c++) touched += k8[r * HD + c] != 0x7F || v8[r * HD + c] != 0x7F;
        }
    CHECK(!bad_bytes && !bad_scale && !bad_zero && !touched, "fp8 writer: %zu bytes and %zu scales differ from the host "
          "encoder, %zu wrong in the all-zero rows, %zu writes outside the tokens' rows", bad_bytes, bad_scale,
          bad_zero, touched);
    free(table); free(qkv); free(q16); free(q8); free(k16); free(v16); free(k8); free(v8); free(ks); free(vs);
    free(written);
    CUdeviceptr all[] = { dqkv, dqn, dkn, dt, ds, dp, dq16, dq8, dk16, dv16, dk8, dv8, dks, dvs };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) gpu_free(&G, all[i]);
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
        launch_attention_runs(&G, dout, dq, dk, dv, 0, 0, dtable, dslot, dpos, slot, pos, T, n_head, n_kv, HD, \
                              max_pages, n_pages, scale, 128, (wg - 1) & 1, (wg - 1) >> 1); \
    else launch_attention_tb(&G, dout, dq, dk, dv, 0, 0, dtable, dslot, dpos, T, n_head, n_kv, HD, max_pages, scale, 0, \
                             -1, kv_split); } while (0)
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
    // a varlen prefill step: 16 runs of 512 tokens from 0 (16 slots), one launch per run vs one varlen launch
    for (int i = 0; i < 16 * 512; i++) { slot[i] = i / 512; pos[i] = i % 512; }
    double keys_v = 16.0 * 512 * 513 / 2, qo_v = 2.0 * 16 * 512 * 32 * HD * 2, kv_v = 2.0 * 16 * 512 * 8 * HD * 2;
    time_attn("16x512 pipe, a launch per run", 16 * 512, slot, pos, 16, 512, 4.0 * 32 * HD * keys_v, kv_v + qo_v, 0,
              2);
    time_attn("16x512 pipe, one varlen launch", 16 * 512, slot, pos, 16, 512, 4.0 * 32 * HD * keys_v,
              kv_v + qo_v, 0, 4);
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
    RUN(attn_wg_varlen);
    RUN(rope_kv_fp8_writer);
    RUN(attn_fp8_prefill);
    RUN(attn_fp8_short_runs);
    RUN(attn_fp8_decode);
    RUN(attn_dec_wide);
    RUN(attn_fp8_32k);
    RUN(attn_fp8_v_range);
    RUN(attn_fp8_mixed);
    RUN(attn_timings);
    gpu_test_end();
    return test_end();
}
