// test_gpu_e2e.c — the end-to-end check of the GPU path: the PTX engine against the CPU reference on the same GGUF.
//   QWEN3_E2E_MODEL=path.gguf  (the device script sets it; without it, or without a GPU, every case SKIPs)
//   QWEN3_E2E_STEPS=64         greedy steps compared
// Cases: greedy tokens identical for >= 64 steps after a random prompt (the argmax of both engines), prefill
// logits relative error at BF16 level, batched decode of several sequences == each sequence alone, a mixed step ==
// separate calls, the paged KV pool (a call needing more pages than are free fails whole and changes nothing;
// truncate and free give pages back), and decode steps padded to a CUDA-graph bucket (11 -> 16, 70 -> 96
// sequences, on pages recycled in scattered order) against the CPU; step_sample (sampling on the GPU): its greedy
// tokens, with and without penalties, equal sampler.c on step()'s logits of the same step, over prompt steps and
// decode steps of 1, 3, 11 and 40 sequences (graph buckets exact and padded); a seeded sampled run is reproducible,
// and run-ahead (step_submit / step_wait, tokens named as the previous step's rows) gives the same ids.
// QWEN3_KV_DTYPE=fp8 (the FP8 KV cache, against the CPU's f32 cache): the FP8 rounding of K and V moves the logits
// by ~5% (rel err 0.053 mean, 0.059 max, top-1 agreement 83/96 when the CPU engine's cache was rounded the same
// way, synth 0.6B q8_0), far more than BF16 does, so greedy tokens are compared with teacher forcing and reported
// (top-1 agreement, max |logit diff|); the checks fail on NaN, on a logits rel err above KV8_TOL (a wrong scale,
// row or layout gives O(1)) or top-1 agreement under half the steps; GPU-vs-GPU comparisons get KV8_GPU_TOL (an
// e4m3 rounding may flip where the two paths' bf16 rows differ in the last bit).
#include "test.h"
#include "../host/engine.h"
#include "../host/sampler.h"
#include "../host/util.h"

// 80 sequence slots of 1024 tokens over a pool of only 100 pages (6,400 tokens): the pool, not the slots, limits.
enum { E2E_SEQS = 80, E2E_PAGES = 100 };
static Qwen3Model model;
static Engine *cpu, *gpu;
static char why[512];
static int steps = 64;
#define KV8_TOL 0.15
#define KV8_GPU_TOL 6e-2
static int kv8;                             // QWEN3_KV_DTYPE=fp8
static double tol_cpu = 3e-2, tol_gpu = 2e-2;  // logits rel err vs the CPU, GPU vs GPU (bf16 cache)

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}
static double rel_err_f(const float *a, const float *b, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - b[i];
        num += d * d; den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

static int setup(void) {
    const char *path = getenv("QWEN3_E2E_MODEL");
    if (!path) { snprintf(why, sizeof why, "QWEN3_E2E_MODEL not set (bench/device.sh sets it on a GPU machine)"); return -1; }
    if (getenv("QWEN3_E2E_STEPS")) steps = atoi(getenv("QWEN3_E2E_STEPS"));
    const char *kvd = getenv("QWEN3_KV_DTYPE");
    kv8 = kvd && !strcmp(kvd, "fp8");
    if (kv8) { tol_cpu = KV8_TOL; tol_gpu = KV8_GPU_TOL; }
    char err[256];
    if (qwen3_load(&model, path, err, sizeof err)) { snprintf(why, sizeof why, "%s", err); return -1; }
    gpu = gpu_engine_create_pool(&model, E2E_SEQS, 1024, E2E_PAGES, 0, NULL, err, sizeof err);
    if (!gpu) { snprintf(why, sizeof why, "no GPU: %s", err); return -1; }
    cpu = cpu_engine_create(&model, E2E_SEQS, 1024);
    printf("model %s: %d layers, dim %d, vocab %d; GPU KV cache %s\n", path, model.cfg.n_layer, model.cfg.dim,
           model.cfg.vocab, kv8 ? "fp8" : "bf16");
    return 0;
}

// BF16 weights and activations move each logit by ~0.05 on these synth models (logit std ~5), so where the top two
// logits are closer than that either answer is right. A disagreement counts as a failure only when the CPU
// reference's margin between its token and the GPU's token exceeds NEAR_TIE; near-ties are counted and reported.
#define NEAR_TIE 0.25f

// Random prompt, then greedy decoding on both engines: the token streams must agree. At a near-tie both engines
// are fed the CPU's token (teacher forcing) and the step is counted; any other disagreement fails.
static void greedy_tokens_match_cpu(void) {
    if (!gpu) SKIP("%s", why);
    int V = model.cfg.vocab, n_prompt = 32;
    Rng r;
    rng_seed(&r, t_seed);
    int prompt[32];
    for (int i = 0; i < n_prompt; i++) prompt[i] = (int)(rng_u64(&r) % 150000);
    float *lc = xmalloc(V * sizeof(float)), *lg = xmalloc(V * sizeof(float));
    CHECK(cpu->prefill(cpu, 0, prompt, n_prompt, lc, NULL) == 0, "cpu prefill: %s", cpu->err);
    CHECK(gpu->prefill(gpu, 0, prompt, n_prompt, lg, NULL) == 0, "gpu prefill: %s", gpu->err);
    double worst = 0, max_diff = 0;
    int same = 0, ties = 0, wrong = 0;
    for (int s = 0; s < steps; s++) {
        int tok_c = argmax(lc, V), tok_g = argmax(lg, V);
        double e = rel_err_f(lg, lc, V);
        if (!(e <= worst)) worst = e;  // NaN sticks
        for (int i = 0; i < V; i++) if (fabs((double)lg[i] - lc[i]) > max_diff) max_diff = fabs((double)lg[i] - lc[i]);
        if (tok_c == tok_g) same++;
        else if (kv8) wrong++;  // fp8 cache: counted, both continue with the CPU's token
        else if (lc[tok_c] - lc[tok_g] < NEAR_TIE) {
            ties++;
            printf("  step %d: near-tie, cpu %d (%.4f) vs gpu %d (cpu's logit %.4f); both continue with %d\n", s, tok_c,
                   lc[tok_c], tok_g, lc[tok_g], tok_c);
        } else {
            wrong++;
            printf("  step %d: DIVERGED, cpu %d (%.4f) vs gpu %d (cpu's logit %.4f, gpu's %.4f)\n", s, tok_c, lc[tok_c],
                   tok_g, lc[tok_g], lg[tok_g]);
        }
        CHECK(cpu->decode(cpu, 1, (int[]){ 0 }, &tok_c, lc) == 0, "cpu decode: %s", cpu->err);
        CHECK(gpu->decode(gpu, 1, (int[]){ 0 }, &tok_c, lg) == 0, "gpu decode: %s", gpu->err);
    }
    printf("  greedy: %d/%d steps identical, %d near-ties, %d divergences; worst logits rel err %.3g, max |logit "
           "diff| %.3g\n", same, steps, ties, wrong, worst, max_diff);
    if (kv8) {
        printf("  fp8 KV cache: top-1 agreement %d/%d (teacher-forced), logits rel err <= %.3g, max |diff| %.3g\n",
               same, steps, worst, max_diff);
        CHECK(worst < KV8_TOL, "fp8 KV cache: logits rel err %.3g (bound %g)", worst, KV8_TOL);
        CHECK(2 * same >= steps, "fp8 KV cache: top-1 agreement %d/%d under half", same, steps);
        cpu->free_seq(cpu, 0);
        gpu->free_seq(gpu, 0);
        free(lc); free(lg);
        return;
    }
    CHECK(wrong == 0, "%d real divergences", wrong);
    CHECK(ties <= steps / 8, "%d near-ties in %d steps: too many for BF16 rounding", ties, steps);
    CHECK(worst < 3e-2, "logits rel err %.3g above BF16 level", worst);
    cpu->free_seq(cpu, 0);
    gpu->free_seq(gpu, 0);
    free(lc); free(lg);
}

// All-position prefill logits in chunks vs the CPU reference: relative error per position and top-1 agreement.
static void prefill_logits_close_to_cpu(void) {
    if (!gpu) SKIP("%s", why);
    int V = model.cfg.vocab, n = 200;
    Rng r;
    rng_seed(&r, t_seed + 1);
    int *toks = xmalloc(n * sizeof(int));
    for (int i = 0; i < n; i++) toks[i] = (int)(rng_u64(&r) % 150000);
    float *lc = xmalloc((size_t)n * V * sizeof(float)), *lg = xmalloc((size_t)n * V * sizeof(float));
    for (size_t i = 0; i < (size_t)n * V; i++) lg[i] = NAN;  // poisoned
    CHECK(cpu->prefill(cpu, 1, toks, n, NULL, lc) == 0, "cpu: %s", cpu->err);
    CHECK(gpu->prefill(gpu, 1, toks, n, NULL, lg) == 0, "gpu: %s", gpu->err);
    double worst = 0, mean = 0;
    int top1 = 0, wrong = 0;
    for (int p = 0; p < n; p++) {
        const float *c = lc + (size_t)p * V, *g = lg + (size_t)p * V;
        double e = rel_err_f(g, c, V);
        mean += e / n;
        if (e > worst) worst = e;
        int tc = argmax(c, V), tg = argmax(g, V);
        top1 += tc == tg;
        // A swap is a divergence when the CPU's margin is beyond this position's own rounding noise: 5 sigma of the
        // difference of two logits' errors (rms error over the vocabulary x sqrt 2), and at least NEAR_TIE. A fixed
        // 0.25 failed seed 3488193041 on the 0.6B in BF16 (a 0.253 margin at max rel err 1.6%), before and after
        // session 8's changes alike: rounding, not a bug. (This form is not yet run on a GPU with that seed.)
        double ss = 0;
        for (int v = 0; v < V; v++) ss += ((double)g[v] - c[v]) * ((double)g[v] - c[v]);
        double noise = 5 * sqrt(2 * ss / V), tie = noise > NEAR_TIE ? noise : NEAR_TIE;
        if (tc != tg && c[tc] - c[tg] >= tie) {
            wrong++;
            printf("  position %d: cpu %d (%.4f) gpu %d (cpu's logit %.4f; margin needed %.3f)\n", p, tc, c[tc], tg,
                   c[tg], tie);
        } else if (tc != tg && c[tc] - c[tg] >= NEAR_TIE) {
            printf("  position %d: cpu %d (%.4f) gpu %d (cpu's logit %.4f): within 5 sigma of the noise (%.3f)\n", p,
                   tc, c[tc], tg, c[tg], noise);
        }
    }
    printf("  prefill %d positions: rel err max %.3g mean %.3g, top-1 agreement %d/%d (%d outside near-ties)\n", n, worst,
           mean, top1, n, wrong);
    CHECK(worst < tol_cpu && isfinite(worst), "max rel err %.3g", worst);
    if (kv8) CHECK(2 * top1 >= n, "fp8 KV cache: top-1 agreement %d/%d under half", top1, n);
    else {
        CHECK(wrong == 0, "%d top-1 disagreements with a CPU margin beyond the rounding noise", wrong);
        CHECK(top1 >= n * 9 / 10, "top-1 agreement %d/%d", top1, n);
    }
    cpu->free_seq(cpu, 1);
    gpu->free_seq(gpu, 1);
    free(toks); free(lc); free(lg);
}

// Three sequences of different lengths decoded together in one step == each decoded alone.
static void batched_decode_equals_single(void) {
    if (!gpu) SKIP("%s", why);
    int V = model.cfg.vocab, lens[3] = { 5, 37, 130 }, seqs[3] = { 0, 1, 2 }, next[3];
    Rng r;
    rng_seed(&r, t_seed + 2);
    float *one = xmalloc((size_t)V * sizeof(float)), *batch = xmalloc((size_t)3 * V * sizeof(float));
    for (int s = 0; s < 3; s++) {
        int toks[130];
        for (int i = 0; i < lens[s]; i++) toks[i] = (int)(rng_u64(&r) % 150000);
        CHECK(gpu->prefill(gpu, s, toks, lens[s], one, NULL) == 0, "%s", gpu->err);
        next[s] = argmax(one, V);
    }
    CHECK(gpu->decode(gpu, 3, seqs, next, batch) == 0, "%s", gpu->err);
    // Redo each sequence alone in slot 3 and compare the decode logits.
    Rng r2;
    rng_seed(&r2, t_seed + 2);
    double worst = 0;
    for (int s = 0; s < 3; s++) {
        int toks[131];
        for (int i = 0; i < lens[s]; i++) toks[i] = (int)(rng_u64(&r2) % 150000);
        toks[lens[s]] = next[s];
        gpu->free_seq(gpu, 3);
        CHECK(gpu->prefill(gpu, 3, toks, lens[s], one, NULL) == 0, "%s", gpu->err);
        CHECK(gpu->decode(gpu, 1, (int[]){ 3 }, &next[s], one) == 0, "%s", gpu->err);
        double e = rel_err_f(batch + (size_t)s * V, one, V);
        if (e > worst) worst = e;
    }
    // Not bit-identical: a step mixing sequences may take another attention path (and GEMM tiling) than a step
    // of one, with its own BF16 rounding of P; agreement must be at BF16 level.
    printf("  batched vs single decode: worst rel err %.3g\n", worst);
    CHECK(worst < tol_gpu, "batched decode differs from single: %.3g", worst);
    for (int s = 0; s < 4; s++) gpu->free_seq(gpu, s);
    free(one); free(batch);
}

// One mixed step (a decode token of sequence 0 and a 40-token prompt of sequence 1 in one forward pass) gives the
// logits that a decode call and a prefill call give separately.
static void mixed_step_equals_separate(void) {
    if (!gpu) SKIP("%s", why);
    int V = model.cfg.vocab, n = 41;
    Rng r;
    rng_seed(&r, t_seed + 3);
    int prompt0[8], prompt1[40], next0 = (int)(rng_u64(&r) % 150000);
    for (int i = 0; i < 8; i++) prompt0[i] = (int)(rng_u64(&r) % 150000);
    for (int i = 0; i < 40; i++) prompt1[i] = (int)(rng_u64(&r) % 150000);
    float *sep = xmalloc(2 * (size_t)V * sizeof(float)), *mix = xmalloc(2 * (size_t)V * sizeof(float));
    // separately
    CHECK(gpu->prefill(gpu, 0, prompt0, 8, sep, NULL) == 0, "%s", gpu->err);
    CHECK(gpu->decode(gpu, 1, (int[]){ 0 }, &next0, sep) == 0, "%s", gpu->err);
    CHECK(gpu->prefill(gpu, 1, prompt1, 40, sep + V, NULL) == 0, "%s", gpu->err);
    gpu->free_seq(gpu, 0);
    gpu->free_seq(gpu, 1);
    // mixed: prefill seq 0's prompt, then one step holding seq 0's decode token and seq 1's whole prompt
    CHECK(gpu->prefill(gpu, 0, prompt0, 8, mix, NULL) == 0, "%s", gpu->err);
    int seqs[41], toks[41];
    char want[41];
    seqs[0] = 0; toks[0] = next0; want[0] = 1;
    for (int i = 0; i < 40; i++) { seqs[1 + i] = 1; toks[1 + i] = prompt1[i]; want[1 + i] = i == 39; }
    for (size_t i = 0; i < 2 * (size_t)V; i++) mix[i] = NAN;  // poisoned
    CHECK(gpu->step(gpu, n, seqs, toks, want, mix) == 0, "%s", gpu->err);
    double e0 = rel_err_f(mix, sep, V), e1 = rel_err_f(mix + V, sep + V, V);
    printf("  mixed step vs separate: decode row rel err %.3g, prompt row %.3g; lengths %d, %d\n", e0, e1,
           gpu->seq_len(gpu, 0), gpu->seq_len(gpu, 1));
    CHECK(e0 < tol_gpu && e1 < tol_gpu, "mixed step differs: %.3g %.3g", e0, e1);
    CHECK(gpu->seq_len(gpu, 0) == 9 && gpu->seq_len(gpu, 1) == 40, "lengths %d %d", gpu->seq_len(gpu, 0),
          gpu->seq_len(gpu, 1));
    gpu->free_seq(gpu, 0);
    gpu->free_seq(gpu, 1);
    free(sep); free(mix);
}

// The engine refuses to overflow a sequence's KV cache with a message instead of writing past it.
static void kv_overflow_is_an_error(void) {
    if (!gpu) SKIP("%s", why);
    int *toks = xcalloc(1025, sizeof(int));
    for (int i = 0; i < 1025; i++) toks[i] = i + 1;
    CHECK(gpu->prefill(gpu, 0, toks, 1025, NULL, NULL) == -1, "1025 tokens into a 1024-token cache succeeded");
    CHECK(strstr(gpu->err, "1024") != NULL, "message: %s", gpu->err);
    free(toks);
}

static void free_all(void) {
    for (int s = 0; s < E2E_SEQS; s++) { gpu->free_seq(gpu, s); cpu->free_seq(cpu, s); }
}

// A call that needs more pages than are free fails as a whole: -1, a message naming the pool, no length changed,
// no page taken; truncate and free_seq give pages back; after that the same calls succeed.
static void pool_exhaustion_fails_cleanly(void) {
    if (!gpu) SKIP("%s", why);
    free_all();
    CHECK(gpu->n_pages == E2E_PAGES && gpu->free_pages(gpu) == E2E_PAGES, "pool %d pages, %d free", gpu->n_pages,
          gpu->free_pages(gpu));
    int V = model.cfg.vocab, toks[1000], nfull = 0;
    float *lg = xmalloc(4 * (size_t)V * sizeof(float));
    Rng r;
    rng_seed(&r, t_seed + 5);
    for (int i = 0; i < 1000; i++) toks[i] = (int)(rng_u64(&r) % 150000);
    while (gpu->free_pages(gpu) >= 16) {  // sequences of 1000 tokens (16 pages) until fewer than 16 pages are left
        CHECK(gpu->prefill(gpu, nfull, toks, 1000, NULL, NULL) == 0, "%s", gpu->err);
        nfull++;
    }
    int left = gpu->free_pages(gpu), big = (left + 1) * 64, s = nfull;  // one page more than is free
    CHECK(left == E2E_PAGES - 16 * nfull, "%d pages free after %d sequences of 16", left, nfull);
    CHECK(gpu->prefill(gpu, s, toks, big, NULL, NULL) == -1, "a prefill of %d pages with %d free succeeded",
          left + 1, left);
    CHECK(strstr(gpu->err, "pool") != NULL, "message: %s", gpu->err);
    CHECK(gpu->seq_len(gpu, s) == 0 && gpu->free_pages(gpu) == left, "a failed prefill left length %d, %d free",
          gpu->seq_len(gpu, s), gpu->free_pages(gpu));
    CHECK(gpu->prefill(gpu, s, toks, left * 64, NULL, NULL) == 0, "exactly the free pages: %s", gpu->err);
    // now nothing is free: sequence 0 (1000 tokens) can still decode into its last page, sequence s cannot grow
    int dseq[2] = { 0, s }, dtok[2] = { 1, 2 };
    CHECK(gpu->decode(gpu, 2, dseq, dtok, lg) == -1, "decode needing a page from an empty pool succeeded");
    CHECK(gpu->seq_len(gpu, 0) == 1000 && gpu->seq_len(gpu, s) == left * 64, "a failed decode changed lengths: %d %d",
          gpu->seq_len(gpu, 0), gpu->seq_len(gpu, s));
    char want[2] = { 1, 1 };
    CHECK(gpu->step(gpu, 2, dseq, dtok, want, lg) == -1, "step needing a page from an empty pool succeeded");
    CHECK(gpu->decode(gpu, 1, dseq, dtok, lg) == 0, "decode within the last page: %s", gpu->err);
    CHECK(gpu->truncate(gpu, 1, 64) == 0 && gpu->free_pages(gpu) == 15, "truncate 1000 -> 64 tokens: %d free",
          gpu->free_pages(gpu));
    CHECK(gpu->decode(gpu, 2, dseq, dtok, lg) == 0, "%s", gpu->err);
    int finite = 1;
    for (size_t i = 0; i < 2 * (size_t)V; i++) finite &= isfinite(lg[i]) != 0;
    CHECK(finite, "decode logits not finite after the pool churned");
    free_all();
    CHECK(gpu->free_pages(gpu) == E2E_PAGES, "%d of %d pages free after freeing every sequence", gpu->free_pages(gpu),
          E2E_PAGES);
    free(lg);
}

// B sequences (prompts of 1..40 tokens, 1..12 for large B) decoded together for 3 steps: the first runs eagerly, the second is
// captured into the bucket's graph, the third replays it; every row against the CPU engine fed the same tokens.
// The pages come from a pool churned by the previous case, so each sequence's pages are scattered.
static void bucket_decode(int B) {
    int V = model.cfg.vocab, *seqs = xmalloc(B * sizeof(int)), *next = xmalloc(B * sizeof(int));
    int *ps = xmalloc(B * 40 * sizeof(int)), *pt = xmalloc(B * 40 * sizeof(int)), np = 0;
    char *want = xmalloc(B * 40);
    float *lc = xmalloc((size_t)B * V * sizeof(float)), *lg = xmalloc((size_t)B * V * sizeof(float));
    Rng r;
    rng_seed(&r, t_seed + 6 + B);
    free_all();
    // all prompts (1..40 tokens) in one mixed step on each engine (the CPU reads its weights once per 64 tokens,
    // not once per prompt); the CPU's argmax is the token both are fed next
    for (int s = 0; s < B; s++) {
        int n = 1 + (int)(rng_u64(&r) % (B > 16 ? 12 : 40));  // (the CPU pays a weight pass per 64 tokens)
        seqs[s] = (s * 37) % E2E_SEQS;  // slots in no order
        for (int i = 0; i < n; i++, np++) { ps[np] = seqs[s]; pt[np] = (int)(rng_u64(&r) % 150000); want[np] = i == n - 1; }
    }
    CHECK(cpu->step(cpu, np, ps, pt, want, lc) == 0, "cpu: %s", cpu->err);
    CHECK(gpu->step(gpu, np, ps, pt, want, lg) == 0, "gpu: %s", gpu->err);
    for (int s = 0; s < B; s++) next[s] = argmax(lc + (size_t)s * V, V);
    double worst = 0;
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < (size_t)B * V; i++) lg[i] = NAN;  // poisoned
        CHECK(cpu->decode(cpu, B, seqs, next, lc) == 0, "cpu: %s", cpu->err);
        CHECK(gpu->decode(gpu, B, seqs, next, lg) == 0, "gpu: %s", gpu->err);
        for (int s = 0; s < B; s++) {
            double e = rel_err_f(lg + (size_t)s * V, lc + (size_t)s * V, V);
            if (!(e <= worst)) worst = e;  // NaN sticks
            next[s] = argmax(lc + (size_t)s * V, V);
        }
    }
    printf("  %d sequences x 3 decode steps (eager, capture, replay): worst rel err vs cpu %.3g\n", B, worst);
    CHECK(worst < tol_cpu, "%d-sequence padded decode differs from the CPU: worst rel err %.3g", B, worst);
    free_all();
    free(seqs); free(next); free(lc); free(lg); free(ps); free(pt); free(want);
}
static void graph_bucket_decode_matches_cpu(void) {
    if (!gpu) SKIP("%s", why);
    bucket_decode(11);  // bucket 16
    bucket_decode(70);  // bucket 96
}

// ---------------------------------------------------------------- step_sample
// B sequences (slots scattered) with prompts of 1..40 tokens drawn from 64 ids (so tokens repeat and penalties
// bite): one prompt step, then `steps` decode steps. Each step runs twice on the same state: step() for the
// logits, then (after free / truncate by one token) step_sample; every greedy row must equal sampler.c on those
// logits with the same parameters and history (the tokens fed: kept on the host here). Rows alternate plain
// greedy and greedy with repeat / presence / frequency penalties over a window of 16 or the whole history.
// Returns the number of rows that differ beyond a near-tie; *n_rows, *n_ties count rows and near-ties.
static int step_sample_greedy(int B, int n_steps, int *n_rows, int *n_ties) {
    int V = model.cfg.vocab, bad = 0, np = 0, cap = 40 + n_steps + 1;
    int *slot = xmalloc(B * sizeof(int)), *len = xcalloc(B, sizeof(int)), *hist = xmalloc((size_t)B * cap * sizeof(int));
    int *ps = xmalloc(B * 40 * sizeof(int)), *pt = xmalloc(B * 40 * sizeof(int)), *ids = xmalloc(B * sizeof(int));
    char *want = xmalloc(B * 40);
    float *lg = xmalloc((size_t)B * V * sizeof(float));
    SamplerParams *sp = xmalloc(B * sizeof *sp);
    const SamplerParams **pp = xmalloc(B * sizeof *pp);
    uint64_t *draw = xcalloc(B, sizeof(uint64_t));
    Rng r;
    rng_seed(&r, t_seed + 20 + B);
    free_all();
    for (int s = 0; s < B; s++) {
        slot[s] = (s * 37) % E2E_SEQS;
        sp[s] = sampler_defaults();
        sp[s].temperature = 0.0f;
        if (s % 2) {
            sp[s].repeat_penalty = 1.3f;
            sp[s].presence_penalty = 0.4f;
            sp[s].frequency_penalty = 0.3f;
            sp[s].repeat_last_n = s % 4 == 1 ? 16 : -1;
        }
        pp[s] = &sp[s];
        int n = 1 + (int)(rng_u64(&r) % 40);
        for (int i = 0; i < n; i++, np++) {
            ps[np] = slot[s];
            pt[np] = 1000 + (int)(rng_u64(&r) % 64);
            want[np] = i == n - 1;
            hist[(size_t)s * cap + len[s]++] = pt[np];
        }
    }
    for (int step = 0; step <= n_steps; step++) {
        // step 0: every prompt in one mixed step; then one decode token per sequence (ps/pt/want reused)
        int n = step == 0 ? np : B;
        if (step > 0)
            for (int s = 0; s < B; s++) { ps[s] = slot[s]; pt[s] = ids[s]; want[s] = 1; hist[(size_t)s * cap + len[s]++] = ids[s]; }
        for (size_t i = 0; i < (size_t)B * V; i++) lg[i] = NAN;  // poisoned
        if (gpu->step(gpu, n, ps, pt, want, lg)) { printf("  step: %s\n", gpu->err); return B; }
        for (int s = 0; s < B; s++)  // back to the state before the step
            if (step == 0) gpu->free_seq(gpu, slot[s]);
            else if (gpu->truncate(gpu, slot[s], len[s] - 1)) { printf("  truncate: %s\n", gpu->err); return B; }
        for (int s = 0; s < B; s++) ids[s] = -7;  // poisoned
        if (gpu->step_sample(gpu, n, ps, pt, want, pp, draw, ids)) { printf("  step_sample: %s\n", gpu->err); return B; }
        for (int s = 0; s < B; s++) {
            Sampler sm;
            sampler_init(&sm, &sp[s], V);
            for (int i = 0; i < len[s]; i++) sampler_accept(&sm, hist[(size_t)s * cap + i]);
            float *row = lg + (size_t)s * V;
            int want_id = sample(&sm, row);  // row now holds the penalised logits
            sampler_free(&sm);
            (*n_rows)++;
            if (ids[s] == want_id) continue;
            if (ids[s] >= 0 && ids[s] < V && want_id >= 0 && row[want_id] - row[ids[s]] <= 1e-6f * fabsf(row[want_id])) {
                (*n_ties)++;  // the GPU's step() and step_sample() forwards differed in the last bit at a tie
                continue;
            }
            if (bad++ < 4)
                printf("  B=%d step %d row %d (%s): step_sample %d, sampler.c on step()'s logits %d (%.6g vs %.6g)\n", B,
                       step, s, s % 2 ? "penalties" : "plain", ids[s], want_id, ids[s] >= 0 && ids[s] < V ? row[ids[s]] : NAN,
                       want_id >= 0 ? row[want_id] : NAN);
        }
    }
    free_all();
    free(slot); free(len); free(hist); free(ps); free(pt); free(ids); free(want); free(lg); free(sp); free(pp); free(draw);
    return bad;
}
static void step_sample_greedy_equals_sampler(void) {
    if (!gpu) SKIP("%s", why);
    if (!gpu->step_sample) SKIP("the GPU engine has no step_sample");
    int Bs[4] = { 1, 3, 11, 40 }, bad = 0, rows = 0, ties = 0;
    for (int i = 0; i < 4; i++) bad += step_sample_greedy(Bs[i], 4, &rows, &ties);
    printf("  %d greedy rows (B = 1, 3, 11, 40; prompt step + 4 decode steps): %d differ, %d near-ties\n", rows, bad,
           ties);
    CHECK(bad == 0, "%d of %d greedy rows of step_sample differ from sampler.c on step()'s logits", bad, rows);
}

// Sampled rows (temperature 0.9, a repeat penalty; a seed per row, the draw counter = tokens generated): B
// sequences with prompts of 257..288 tokens (more than one 4,096-token pass: the prompt step's wanted rows come
// from two passes), then decode steps in alternating row order. ahead = 0: step_sample, one step at a time; 1:
// run-ahead (step_submit / step_wait), every decode token fed as ENGINE_PREV of its row in the step before, before
// the host has read it. out[step * B + s]: sequence s's id.
enum { RS_B = 16, RS_PROMPT = 288 };
static void run_sampled(int B, int n_steps, int ahead, int *out) {
    static int ps[RS_B * RS_PROMPT], pt[RS_B * RS_PROMPT];
    static char want[RS_B * RS_PROMPT];
    int V = model.cfg.vocab, np = 0, ids[RS_B], row_seq[2][RS_B];
    SamplerParams sp[RS_B];
    const SamplerParams *pp[RS_B];
    uint64_t draw[RS_B];
    Rng r;
    rng_seed(&r, t_seed + 40);
    free_all();
    for (int s = 0; s < B; s++) {
        sp[s] = sampler_defaults();
        sp[s].temperature = 0.9f;
        sp[s].repeat_penalty = 1.1f;
        sp[s].seed = 1000 + (uint64_t)s;
        row_seq[0][s] = s;  // the prompt step's k-th wanted row is sequence k's
        int n = RS_PROMPT - 31 + (int)(rng_u64(&r) % 32);
        for (int i = 0; i < n; i++, np++) { ps[np] = s; pt[np] = (int)(rng_u64(&r) % 150000); want[np] = i == n - 1; }
    }
    for (int step = 0; step <= n_steps; step++) {
        int n = step == 0 ? np : B, cur = step % 2, prev = 1 - cur;
        if (step > 0)
            for (int k = 0; k < B; k++) {  // odd steps list the sequences backwards
                int s = step % 2 ? B - 1 - k : k, j = 0;
                while (row_seq[prev][j] != s) j++;
                row_seq[cur][k] = s;
                ps[k] = s;
                pt[k] = ahead ? ENGINE_PREV(j) : ids[j];
                want[k] = 1;
            }
        for (int k = 0; k < B; k++) { pp[k] = &sp[row_seq[cur][k]]; draw[k] = (uint64_t)step; }
        int rc = 0;
        if (step < n_steps) {
            for (int k = 0; k < B; k++) ids[k] = -7;
            rc = ahead ? gpu->step_submit(gpu, n, ps, pt, want, pp, draw)
                       : gpu->step_sample(gpu, n, ps, pt, want, pp, draw, ids);
        }
        if (!rc && ahead && step > 0) rc = gpu->step_wait(gpu, ids);  // the step before's
        if (rc) {
            printf("  step %d: %s\n", step, gpu->err);
            for (int i = 0; i < n_steps * B; i++) out[i] = -1;
            return;
        }
        int done = ahead ? step - 1 : step, *rows = row_seq[ahead ? prev : cur];
        if (done < 0 || done >= n_steps) continue;
        for (int k = 0; k < B; k++) {
            out[done * B + rows[k]] = ids[k];
            if (ids[k] < 0 || ids[k] >= V) ids[k] = 0;  // (counted as a failure by the caller)
        }
    }
    free_all();
}
static void step_sample_seeded_reproducible(void) {
    if (!gpu) SKIP("%s", why);
    if (!gpu->step_sample) SKIP("the GPU engine has no step_sample");
    enum { B = RS_B, STEPS = 12 };
    int a[STEPS * B], b[STEPS * B], V = model.cfg.vocab, out_of_range = 0, differ = 0, distinct = 0;
    run_sampled(B, STEPS, 0, a);
    run_sampled(B, STEPS, 0, b);
    for (int i = 0; i < STEPS * B; i++) {
        out_of_range += a[i] < 0 || a[i] >= V;
        differ += a[i] != b[i];
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = a[j] == a[i];
        distinct += !seen;
    }
    printf("  %d sampled tokens (%d sequences x %d steps): %d distinct, %d differ between the runs, %d out of range\n",
           STEPS * B, B, STEPS, distinct, differ, out_of_range);
    CHECK(out_of_range == 0, "%d sampled tokens outside the vocabulary", out_of_range);
    CHECK(differ == 0, "%d of %d tokens differ between two runs with the same seeds", differ, STEPS * B);
    CHECK(distinct > 4, "only %d distinct tokens in %d: the sampler looks stuck", distinct, STEPS * B);
}

// Run-ahead: the same sampled run through step_submit / step_wait, each decode token named as the previous step's
// row (ENGINE_PREV) and resolved on the device, gives the same ids as step_sample one step at a time; a token that
// names no row of the previous step, a third outstanding step and a wait with none outstanding are errors.
static void run_ahead_equals_step_sample(void) {
    if (!gpu) SKIP("%s", why);
    if (!gpu->step_submit) SKIP("the GPU engine has no step_submit");
    enum { B = RS_B, STEPS = 12 };
    int a[STEPS * B], b[STEPS * B], differ = 0, first = -1;
    run_sampled(B, STEPS, 0, a);
    run_sampled(B, STEPS, 1, b);
    for (int i = 0; i < STEPS * B; i++)
        if (a[i] != b[i] && differ++ == 0) first = i;
    printf("  %d sampled tokens (%d sequences x %d steps, the prompt step in two passes): %d differ between "
           "step_sample and run-ahead%s\n", STEPS * B, B, STEPS, differ, differ ? " (first below)" : "");
    if (differ) printf("  step %d sequence %d: %d against %d\n", first / B, first % B, a[first], b[first]);
    CHECK(differ == 0 && a[0] >= 0, "run-ahead gave %d of %d ids unlike step_sample", differ, STEPS * B);

    int seq[2] = { 0, 1 }, tok[2] = { 100, 101 }, ids[2];
    char want[2] = { 1, 1 };
    SamplerParams sp = sampler_defaults();
    const SamplerParams *pp[2] = { &sp, &sp };
    uint64_t draw[2] = { 0, 0 };
    free_all();
    CHECK(gpu->step_wait(gpu, ids) != 0, "step_wait with no step outstanding succeeded");
    CHECK(gpu->step_submit(gpu, 2, seq, tok, want, pp, draw) == 0, "submit: %s", gpu->err);
    tok[0] = ENGINE_PREV(2);  // the step before had rows 0 and 1
    CHECK(gpu->step_submit(gpu, 2, seq, tok, want, pp, draw) != 0, "ENGINE_PREV(2) of a 2-row step was accepted");
    tok[0] = ENGINE_PREV(1);
    tok[1] = ENGINE_PREV(0);
    CHECK(gpu->step_submit(gpu, 2, seq, tok, want, pp, draw) == 0, "submit: %s", gpu->err);
    CHECK(gpu->step_submit(gpu, 2, seq, tok, want, pp, draw) != 0, "a third outstanding step was accepted");
    CHECK(gpu->step_sample(gpu, 2, seq, tok, want, pp, draw, ids) != 0, "step_sample with steps outstanding ran");
    CHECK(gpu->step_wait(gpu, ids) == 0 && gpu->step_wait(gpu, ids) == 0, "wait: %s", gpu->err);
    CHECK(gpu->seq_len(gpu, 0) == 2 && gpu->seq_len(gpu, 1) == 2, "lengths %d, %d after two steps",
          gpu->seq_len(gpu, 0), gpu->seq_len(gpu, 1));
    free_all();
}

int main(void) {
    test_init();
    setup();
    RUN(greedy_tokens_match_cpu);
    RUN(prefill_logits_close_to_cpu);
    RUN(batched_decode_equals_single);
    RUN(mixed_step_equals_separate);
    RUN(kv_overflow_is_an_error);
    RUN(pool_exhaustion_fails_cleanly);
    RUN(graph_bucket_decode_matches_cpu);
    RUN(step_sample_greedy_equals_sampler);
    RUN(step_sample_seeded_reproducible);
    RUN(run_ahead_equals_step_sample);
    if (gpu) gpu->destroy(gpu);
    if (cpu) cpu->destroy(cpu);
    return test_end();
}
