// test_gpu_sample.c — sampling on the GPU (ptx/sample.ptx, host/gpu_sample.c) against the CPU sampler
// (host/sampler.c, the specification):
//   greedy      token identical to sample() with temperature 0 on random rows at vocab 151936 and 64, with ties,
//               NaNs, -inf, +inf, -0/+0 and subnormals, with and without penalties; the penalised logits left in
//               the row bit-identical to the CPU's;
//   no logits   all-NaN / all -inf rows -> -1, greedy or not;
//   distribution  20,000 draws (one row each, step = row) at vocab 64 for temperature only, top-k, top-p, min-p,
//               all combined, with penalties, with many tied logits and with +inf logits, and 4,096 draws at vocab
//               151,936 (top-k + top-p + min-p, top-p alone over a ~560-token nucleus, temperature alone, top-k
//               3000 + top-p: the shared-memory list path with more entries than threads): a
//               token the CPU sampler can never draw fails at once, and the counts must pass a chi-square test
//               (p < 1e-6 fails) against the CPU's exact distribution computed here in double;
//   reference   the same distribution cases drawn by sampler.c itself must pass the same test (no GPU needed:
//               this checks the reference and the chi-square, so a GPU FAIL is the kernel's);
//   randomness  same (seed, step) -> same token whatever the row; other steps / seeds -> other draws;
//   timing      one launch over 256 x 151936 rows (printed, not asserted).
// Output tokens are poisoned before each launch; every row must be written with -1 or a valid id.
// Without a Hopper GPU every case SKIPs with gpu_init's reason. The kernel was written without a GPU: a FAIL here
// is the first run of new GPU code, and each message says which property of the CPU sampler it broke.
#include "gpu_test.h"
#include "../host/gpu_sample.h"
#include "../host/sampler.h"
#include "../host/util.h"

#define POISON 0x7FC00000u
enum { VOCAB = 151936, SMALL = 64 };

static CUdeviceptr upload_new(const void *h, size_t bytes) {
    CUdeviceptr d = gpu_alloc(&G, bytes);
    gpu_upload(&G, d, h, bytes);
    return d;
}

// Runs one launch. logits [rows][vocab]; after (optional) receives the row contents after the kernel. The host's
// parameters go with it as the engine passes them (so all-greedy launches take sample_greedy), unless host_off.
static int host_off;
static int32_t *gpu_sample_rows(const float *logits, int rows, int vocab, const GpuSampleParams *prm, float *after) {
    size_t n = (size_t)rows * vocab;
    CUdeviceptr d_l = upload_new(logits, n * 4), d_p = upload_new(prm, sizeof *prm * (size_t)rows);
    CUdeviceptr d_o = gpu_alloc(&G, (size_t)rows * 4);
    gpu_fill_u32(&G, d_o, POISON, (size_t)rows);
    launch_sample(&G, d_o, d_l, d_p, host_off ? NULL : prm, rows, vocab, 0);
    int32_t *out = xmalloc((size_t)rows * 4);
    gpu_download(&G, out, d_o, (size_t)rows * 4);
    if (after) gpu_download(&G, after, d_l, n * 4);
    size_t bad = 0;
    int first = -1;
    for (int r = 0; r < rows; r++) if (out[r] < -1 || out[r] >= vocab) { if (!bad) first = r; bad++; }
    CHECK(bad == 0, "%zu of %d rows got no token or one out of range (first: row %d = %d): the kernel did not write "
          "its output", bad, rows, first, first >= 0 ? out[first] : 0);
    gpu_free(&G, d_l); gpu_free(&G, d_p); gpu_free(&G, d_o);
    return out;
}

// The CPU sampler on one row: its token, and the penalised logits it leaves in `row`.
static int cpu_sample(float *row, int vocab, const SamplerParams *sp, const int *hist, int n_hist) {
    Sampler s;
    sampler_init(&s, sp, vocab);
    for (int i = 0; i < n_hist; i++) sampler_accept(&s, hist[i]);
    int t = sample(&s, row);
    sampler_free(&s);
    return t;
}

static SamplerParams params_off(void) {  // every truncation and penalty off
    SamplerParams p = sampler_defaults();
    p.temperature = 1.0f; p.top_k = 0; p.top_p = 1.0f; p.min_p = 0.0f;
    p.repeat_penalty = 1.0f; p.presence_penalty = 0.0f; p.frequency_penalty = 0.0f; p.repeat_last_n = 64;
    p.seed = rng_u64(&rng);
    return p;
}

// ---------------------------------------------------------------- greedy
// Row kinds: plain normal, a tie at the max, NaNs (also at id 0), -0/+0 as the max, two +inf, subnormals only,
// coarse values (many ties).
static void fill_row(float *x, int vocab, int kind) {
    for (int j = 0; j < vocab; j++) x[j] = 3.0f * rng_normal(&rng);
    int a = (int)(rng_u64(&rng) % (uint64_t)vocab), b = (int)(rng_u64(&rng) % (uint64_t)vocab);
    switch (kind) {
    case 1: x[a] = x[b] = 100.0f; break;
    case 2: for (int j = 0; j < vocab; j += 3) x[j] = NAN; x[0] = NAN; x[a] = 50.0f; x[a - a % 3] = NAN; break;
    case 3: for (int j = 0; j < vocab; j++) x[j] = -fabsf(x[j]) - 1.0f; x[a] = -0.0f; x[b] = 0.0f; break;
    case 4: x[a] = x[b] = INFINITY; x[(a + 1) % vocab] = NAN; break;
    case 5: for (int j = 0; j < vocab; j++) x[j] = x[j] * 1e-40f; break;   // subnormal floats
    case 6: for (int j = 0; j < vocab; j++) x[j] = roundf(x[j] * 0.5f); break;
    case 7: for (int j = 0; j < vocab; j++) x[j] = -INFINITY; x[a] = NAN; x[b] = -3.0f; break;  // one candidate
    default: break;
    }
}

static void greedy_case(int vocab, int rows, int penalties) {
    size_t n = (size_t)rows * vocab;
    float *x = xmalloc(n * 4), *cpu = xmalloc(n * 4), *gpu_after = xmalloc(n * 4);
    int n_hist = 200, *hist = xmalloc(sizeof(int) * (size_t)n_hist);
    for (int i = 0; i < n_hist; i++)  // repeats: small ids often, so counts above 1 occur
        hist[i] = (int)(rng_u64(&rng) % (uint64_t)(i % 2 ? 16 : vocab));
    CUdeviceptr d_hist = upload_new(hist, sizeof(int) * (size_t)n_hist);
    GpuSampleParams *prm = xmalloc(sizeof *prm * (size_t)rows);
    int *want = xmalloc(sizeof(int) * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        fill_row(x + (size_t)r * vocab, vocab, r % 8);
        SamplerParams sp = params_off();
        sp.temperature = r % 5 == 4 ? -1.0f : 0.0f;
        if (penalties) {
            sp.repeat_penalty = 1.0f + 0.5f * (float)rng_uniform(&rng);
            sp.frequency_penalty = (float)rng_uniform(&rng);
            sp.presence_penalty = (float)rng_uniform(&rng) - 0.3f;
            sp.repeat_last_n = r % 3 == 0 ? -1 : r % 3 == 1 ? 64 : 1000;
        }
        memcpy(cpu + (size_t)r * vocab, x + (size_t)r * vocab, (size_t)vocab * 4);
        want[r] = cpu_sample(cpu + (size_t)r * vocab, vocab, &sp, hist, n_hist);
        prm[r] = gpu_sample_params(&sp, d_hist, n_hist, (uint64_t)r);
    }
    // both kernels: sample_f32 (host_off) and, without penalties, sample_greedy's rows split over CTAs; the second
    // launch of each also finds sample_greedy's scratch as its first left it
    int32_t *got = NULL;
    for (int arm = 0; arm < 3; arm++) {
        host_off = arm == 0;
        free(got);
        got = gpu_sample_rows(x, rows, vocab, prm, gpu_after);
        int bad = 0;
        for (int r = 0; r < rows; r++)
            if (got[r] != want[r]) {
                if (bad < 5) printf("  row %d (kind %d): GPU %d, CPU %d\n", r, r % 8, got[r], want[r]);
                bad++;
            }
        CHECK(bad == 0, "greedy vocab=%d rows=%d penalties=%d (%s): %d rows differ from the CPU's argmax (lowest id "
              "on ties, NaN/-inf never win)", vocab, rows, penalties, arm ? "host parameters" : "sample_f32", bad);
    }
    host_off = 0;
    // the rows the kernel leaves must be the CPU's penalised logits, bit for bit — except NaN payloads: x86
    // arithmetic carries a NaN's payload through, the GPU's returns the canonical NaN, and a NaN is a NaN to every
    // later step (the H200 showed 102 / 4033 bit differences with every token right; NaN rows are in the inputs)
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&cpu[i], &gpu_after[i], 4) && !(isnan(cpu[i]) && isnan(gpu_after[i]))) diff++;
    CHECK(diff == 0, "greedy vocab=%d penalties=%d: %zu logits differ bit-wise from sampler.c's penalised logits",
          vocab, penalties, diff);
    gpu_free(&G, d_hist);
    free(x); free(cpu); free(gpu_after); free(hist); free(prm); free(want); free(got);
}

static void greedy_matches_cpu(void) {
    NEED_GPU();
    greedy_case(VOCAB, 24, 0);
    greedy_case(VOCAB, 24, 1);
    greedy_case(VOCAB, 1, 0);     // sample_greedy: 64 CTAs a row
    greedy_case(VOCAB, 3, 0);
    greedy_case(VOCAB, 300, 0);   // 2 CTAs a row
    greedy_case(8200, 5, 0);      // a short row: 2 CTAs (vocab / 4 / 256), the last one's slice shorter
    greedy_case(VOCAB, 5, 1);     // sample_topk with penalties: each CTA rewrites its slice's window tokens
    greedy_case(8200, 16, 1);
    greedy_case(SMALL, 2000, 0);
    greedy_case(SMALL, 2000, 1);
}

// ---------------------------------------------------------------- no usable logit
static void no_logits_is_minus_one(void) {
    NEED_GPU();
    int vocabs[2] = { SMALL, VOCAB };
    for (int vi = 0; vi < 2; vi++) {
        int vocab = vocabs[vi], rows = 6;
        float *x = xmalloc((size_t)rows * vocab * 4);
        GpuSampleParams prm[6];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < vocab; j++)
                x[(size_t)r * vocab + j] = r % 3 == 0 ? NAN : r % 3 == 1 ? -INFINITY : (j % 2 ? NAN : -INFINITY);
            SamplerParams sp = sampler_defaults();
            sp.temperature = r < 3 ? 0.0f : 0.8f;
            prm[r] = gpu_sample_params(&sp, 0, 0, 0);
        }
        int32_t *got = gpu_sample_rows(x, rows, vocab, prm, NULL);
        for (int r = 0; r < rows; r++)
            CHECK(got[r] == -1, "vocab=%d row %d (%s, %s): got %d, want -1 (no usable logit)", vocab, r,
                  r % 3 == 0 ? "all NaN" : r % 3 == 1 ? "all -inf" : "NaN and -inf", r < 3 ? "greedy" : "sampled",
                  got[r]);
        free(x); free(got);
    }
}

// ---------------------------------------------------------------- distributions
// sampler.c's distribution in double on already penalised logits: candidates best first (ties by lower id),
// top-k, top-p (need = p * mass of the top-k set, untempered), min-p, then softmax(x / T). Returns 0 when a
// top-p boundary lies within margin * mass of a partial sum (the GPU sums in f32, ~1e-6 relative, so such a
// boundary may legitimately fall one token later or earlier) or a min-p threshold within 1e-4 of a logit; the
// caller then draws other logits.
static const float *sort_x;  // qsort has no context argument in C11
static int ref_order_cmp(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_x[i] != sort_x[j]) return sort_x[i] > sort_x[j] ? -1 : 1;
    return i < j ? -1 : 1;
}

static int ref_dist(const float *x_in, int vocab, const SamplerParams *sp, double *prob, double margin) {
    int *id = xmalloc(sizeof(int) * (size_t)vocab), n = 0;
    float *x = xmalloc((size_t)vocab * 4);
    memcpy(x, x_in, (size_t)vocab * 4);
    int has_inf = 0;
    for (int j = 0; j < vocab; j++) { prob[j] = 0; if (x[j] == INFINITY) has_inf = 1; }
    for (int j = 0; j < vocab; j++) {
        if (has_inf) x[j] = x[j] == INFINITY ? 0.0f : -INFINITY;
        if (x[j] > -INFINITY) id[n++] = j;
    }
    int ok = 1;
    if (n == 0) goto done;
    sort_x = x;
    qsort(id, (size_t)n, sizeof(int), ref_order_cmp);
    if (sp->top_k > 0 && sp->top_k < vocab && n > sp->top_k) n = sp->top_k;
    float max = x[id[0]];
    if (sp->top_p < 1.0f && n > 1) {
        double total = 0, cum = 0;
        for (int i = 0; i < n; i++) total += exp((double)x[id[i]] - max);
        double need = sp->top_p * total;
        int m = n;
        for (int i = 0; i < n; i++) {
            cum += exp((double)x[id[i]] - max);
            if (fabs(cum - need) < margin * total) ok = 0;
            if (cum >= need) { m = i + 1; break; }
        }
        n = m;
    }
    if (sp->min_p > 0.0f && n > 1) {
        float thr = max + logf(sp->min_p);
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (fabsf(x[id[i]] - thr) < 1e-4f) ok = 0;
            if (x[id[i]] >= thr) id[m++] = id[i];
        }
        n = m;
    }
    double z = 0, inv_t = 1.0 / sp->temperature;
    for (int i = 0; i < n; i++) { prob[id[i]] = exp(((double)x[id[i]] - max) * inv_t); z += prob[id[i]]; }
    for (int i = 0; i < n; i++) prob[id[i]] /= z;
done:
    free(id); free(x);
    return ok;
}

static const double *chi_p;
static int chi_cmp(const void *a, const void *b) {
    double pa = chi_p[*(const int *)a], pb = chi_p[*(const int *)b];
    return pa > pb ? -1 : pa < pb ? 1 : 0;
}

// Forbidden tokens first, then a chi-square over groups of tokens (most likely first) of >= 20 expected draws.
static void chi2_check(const char *name, const double *p, int vocab, const int *count, int N) {
    int forbidden = 0, first = -1;
    for (int j = 0; j < vocab; j++) if (p[j] == 0 && count[j] > 0) { forbidden += count[j]; if (first < 0) first = j; }
    CHECK(forbidden == 0, "%s: %d draws of tokens the CPU sampler can never draw (first: id %d): a truncation "
          "(top-k / top-p / min-p / +inf / penalties) keeps the wrong set", name, forbidden, first);
    int *ord = xmalloc(sizeof(int) * (size_t)vocab), m = 0;
    for (int j = 0; j < vocab; j++) if (p[j] > 0) ord[m++] = j;
    chi_p = p;
    qsort(ord, (size_t)m, sizeof(int), chi_cmp);
    double *ge = xmalloc(sizeof(double) * (size_t)(m + 1)), *go = xmalloc(sizeof(double) * (size_t)(m + 1));
    int groups = 0;
    double e = 0, o = 0;
    for (int i = 0; i < m; i++) {
        e += N * p[ord[i]]; o += count[ord[i]];
        if (e >= 20) { ge[groups] = e; go[groups] = o; groups++; e = o = 0; }
    }
    if (e > 0 || o > 0) {  // the tail joins the last group
        if (groups) { ge[groups - 1] += e; go[groups - 1] += o; } else { ge[0] = e; go[0] = o; groups = 1; }
    }
    double chi2 = 0;
    for (int g = 0; g < groups; g++) chi2 += (go[g] - ge[g]) * (go[g] - ge[g]) / ge[g];
    int df = groups - 1;
    double crit = 0;
    if (df > 0) {  // Wilson-Hilferty: the chi-square quantile at 1 - 1e-6 (z = 4.753)
        double a = 2.0 / (9.0 * df);
        crit = df * pow(1 - a + 4.753 * sqrt(a), 3);
    }
    printf("  %-34s %d draws, %d allowed tokens, %d groups: chi2 %.1f (limit %.1f)\n", name, N, m, groups, chi2, crit);
    CHECK(df == 0 || chi2 <= crit, "%s: chi-square %.1f > %.1f (df %d, p < 1e-6): the GPU's draws do not follow the "
          "CPU sampler's distribution", name, chi2, crit, df);
    free(ord); free(ge); free(go);
}

enum { LOGITS_NORMAL, LOGITS_COARSE, LOGITS_INF };
// rows per launch in dist_case (0: all N draws in one launch, sample_f32's; <= 16: small launches, where the
// greedy and top-k rows go to sample_greedy / sample_topk)
static int dist_rows;

// N draws at one row's logits (a fresh random row; redrawn while a boundary is too close to call): on the GPU one
// row per draw with step = its index; on the CPU (gpu = 0: checks this file's reference and chi-square against
// sampler.c itself, and runs without a GPU) N calls of sample() on copies of the row.
static void dist_case(const char *name, int vocab, int N, int kind, float scale, SamplerParams sp, int n_hist, int gpu) {
    float *x = xmalloc((size_t)vocab * 4), *pen = xmalloc((size_t)vocab * 4);
    double *prob = xmalloc(sizeof(double) * (size_t)vocab);
    int *hist = xmalloc(sizeof(int) * (size_t)(n_hist + 1)), *count = xcalloc((size_t)vocab, sizeof(int)), none = 0;
    for (int tries = 0;; tries++) {
        for (int j = 0; j < vocab; j++) {
            x[j] = scale * rng_normal(&rng);
            if (kind == LOGITS_COARSE) x[j] = roundf(x[j]);
        }
        if (kind == LOGITS_INF) { x[5] = x[9] = x[40] = INFINITY; x[7] = NAN; }
        for (int i = 0; i < n_hist; i++) hist[i] = (int)(rng_u64(&rng) % 24);  // repeats among the first 24 ids
        memcpy(pen, x, (size_t)vocab * 4);
        cpu_sample(pen, vocab, &sp, hist, n_hist);
        if (ref_dist(pen, vocab, &sp, prob, 1e-4)) break;
        if (tries == 100) { CHECK(0, "%s: no logits without a near-tie at a boundary in 100 tries", name); goto out; }
    }
    if (gpu) {
        CUdeviceptr d_hist = n_hist ? upload_new(hist, sizeof(int) * (size_t)n_hist) : 0;
        float *rows = xmalloc((size_t)N * vocab * 4);
        GpuSampleParams *prm = xmalloc(sizeof *prm * (size_t)N);
        for (int r = 0; r < N; r++) {
            memcpy(rows + (size_t)r * vocab, x, (size_t)vocab * 4);
            prm[r] = gpu_sample_params(&sp, d_hist, n_hist, (uint64_t)r);
        }
        for (int r0 = 0; r0 < N; r0 += dist_rows ? dist_rows : N) {  // (dist_rows: launches of that many rows)
            int n = dist_rows && N - r0 > dist_rows ? dist_rows : N - r0;
            int32_t *got = gpu_sample_rows(rows + (size_t)r0 * vocab, n, vocab, prm + r0, NULL);
            for (int r = 0; r < n; r++) if (got[r] >= 0 && got[r] < vocab) count[got[r]]++; else none++;
            free(got);
        }
        gpu_free(&G, d_hist);
        free(rows); free(prm);
    } else {
        Sampler s;
        sampler_init(&s, &sp, vocab);
        for (int i = 0; i < n_hist; i++) sampler_accept(&s, hist[i]);
        for (int r = 0; r < N; r++) {
            memcpy(pen, x, (size_t)vocab * 4);
            int t = sample(&s, pen);
            if (t >= 0 && t < vocab) count[t]++; else none++;
        }
        sampler_free(&s);
    }
    CHECK(none == 0, "%s: %d of %d draws returned no token although the row has candidates", name, none, N);
    chi2_check(name, prob, vocab, count, N);
out:
    free(x); free(pen); free(prob); free(hist); free(count);
}

static void distribution_cases(int gpu) {
    int N = 20000;
    SamplerParams sp = params_off();
    sp.temperature = 0.7f;
    dist_case("temperature 0.7", SMALL, N, LOGITS_NORMAL, 1.5f, sp, 0, gpu);
    sp = params_off(); sp.top_k = 5;
    dist_case("top-k 5", SMALL, N, LOGITS_NORMAL, 1.5f, sp, 0, gpu);
    sp = params_off(); sp.top_p = 0.8f; sp.temperature = 1.3f;
    dist_case("top-p 0.8, T 1.3", SMALL, N, LOGITS_NORMAL, 1.5f, sp, 0, gpu);
    sp = params_off(); sp.min_p = 0.1f;
    dist_case("min-p 0.1", SMALL, N, LOGITS_NORMAL, 1.5f, sp, 0, gpu);
    sp = params_off(); sp.top_k = 12; sp.top_p = 0.9f; sp.min_p = 0.05f; sp.temperature = 0.8f;
    dist_case("top-k 12, top-p 0.9, min-p 0.05", SMALL, N, LOGITS_NORMAL, 1.5f, sp, 0, gpu);
    sp = params_off(); sp.top_k = 20; sp.top_p = 0.95f; sp.repeat_penalty = 1.3f; sp.frequency_penalty = 0.2f;
    sp.presence_penalty = 0.4f; sp.repeat_last_n = 48;
    dist_case("penalties + top-k 20 + top-p 0.95", SMALL, N, LOGITS_NORMAL, 1.5f, sp, 100, gpu);
    sp = params_off(); sp.top_k = 10; sp.top_p = 0.7f;
    dist_case("ties: top-k 10, top-p 0.7", SMALL, N, LOGITS_COARSE, 1.0f, sp, 0, gpu);
    sp = params_off(); sp.top_k = 25; sp.temperature = 2.0f;
    dist_case("ties: top-k 25, T 2", SMALL, N, LOGITS_COARSE, 1.0f, sp, 0, gpu);
    sp = params_off();
    dist_case("+inf logits: uniform over them", SMALL, N, LOGITS_INF, 1.0f, sp, 0, gpu);
    sp = params_off(); sp.top_k = 2;
    dist_case("+inf logits, top-k 2", SMALL, N, LOGITS_INF, 1.0f, sp, 0, gpu);
}

static void distribution_small_vocab(void) {
    NEED_GPU();
    distribution_cases(1);
    printf("  again in launches of 16 rows (top-k rows without penalties: sample_topk)\n");
    dist_rows = 16;
    distribution_cases(1);
    dist_rows = 0;
}

// The real vocabulary: one uploaded batch of rows sampled in several launches (the kernel leaves rows without
// penalties or +inf untouched), step = draw index; or (gpu = 0) sample() on the CPU, to check the reference.
static void distribution_real_vocab_case(const char *name, SamplerParams sp, float scale, int gpu, int rows) {
    int launches = gpu ? 4096 / rows : 2048 / rows, N = rows * launches;
    float *x = xmalloc((size_t)VOCAB * 4);
    double *prob = xmalloc(sizeof(double) * VOCAB);
    int *count = xcalloc(VOCAB, sizeof(int)), bad = 0;
    for (int tries = 0;; tries++) {
        for (int j = 0; j < VOCAB; j++) x[j] = scale * rng_normal(&rng);
        if (ref_dist(x, VOCAB, &sp, prob, 2e-5)) break;
        if (tries == 100) { CHECK(0, "%s: no logits without a near-tie at a boundary", name); goto out; }
    }
    if (gpu) {
        float *h = xmalloc((size_t)rows * VOCAB * 4);
        for (int r = 0; r < rows; r++) memcpy(h + (size_t)r * VOCAB, x, (size_t)VOCAB * 4);
        CUdeviceptr d_l = upload_new(h, (size_t)rows * VOCAB * 4), d_o = gpu_alloc(&G, (size_t)rows * 4);
        CUdeviceptr d_p = gpu_alloc(&G, sizeof(GpuSampleParams) * (size_t)rows);
        GpuSampleParams *prm = xmalloc(sizeof *prm * (size_t)rows);
        int32_t *o = xmalloc((size_t)rows * 4);
        for (int l = 0; l < launches; l++) {
            for (int r = 0; r < rows; r++) prm[r] = gpu_sample_params(&sp, 0, 0, (uint64_t)(l * rows + r));
            gpu_upload(&G, d_p, prm, sizeof *prm * (size_t)rows);
            gpu_fill_u32(&G, d_o, POISON, (size_t)rows);
            launch_sample(&G, d_o, d_l, d_p, prm, rows, VOCAB, 0);
            gpu_download(&G, o, d_o, (size_t)rows * 4);
            for (int r = 0; r < rows; r++) if (o[r] >= 0 && o[r] < VOCAB) count[o[r]]++; else bad++;
        }
        gpu_free(&G, d_l); gpu_free(&G, d_o); gpu_free(&G, d_p);
        free(h); free(prm); free(o);
    } else {
        float *row = xmalloc((size_t)VOCAB * 4);
        Sampler s;
        sampler_init(&s, &sp, VOCAB);
        for (int r = 0; r < N; r++) {
            memcpy(row, x, (size_t)VOCAB * 4);
            int t = sample(&s, row);
            if (t >= 0 && t < VOCAB) count[t]++; else bad++;
        }
        sampler_free(&s);
        free(row);
    }
    CHECK(bad == 0, "%s: %d draws returned no valid token", name, bad);
    chi2_check(name, prob, VOCAB, count, N);
out:
    free(x); free(prob); free(count);
}

static void real_vocab_cases(int gpu) {
    SamplerParams sp = params_off();
    sp.top_k = 50; sp.top_p = 0.9f; sp.min_p = 0.02f; sp.temperature = 0.8f;
    distribution_real_vocab_case("151936: top-k 50, p 0.9, min-p 0.02", sp, 2.5f, gpu, 512);
    // small launches: sample_topk (the C x k keys of the row's CTAs)
    distribution_real_vocab_case("151936 x 4 rows: the same", sp, 2.5f, gpu, 4);
    sp = params_off(); sp.top_k = 40; sp.top_p = 0.95f; sp.min_p = 0.05f; sp.temperature = 0.8f;
    distribution_real_vocab_case("151936 x 1 row: llama.cpp's defaults", sp, 2.0f, gpu, 1);
    sp = params_off(); sp.top_k = 64; sp.temperature = 1.7f;
    distribution_real_vocab_case("151936 x 16 rows: top-k 64, T 1.7", sp, 0.7f, gpu, 16);
    sp = params_off(); sp.top_p = 0.6f;
    distribution_real_vocab_case("151936: top-p 0.6 alone", sp, 3.0f, gpu, 512);
    sp = params_off(); sp.temperature = 0.5f;
    distribution_real_vocab_case("151936: temperature 0.5 alone", sp, 2.0f, gpu, 512);
    sp = params_off(); sp.top_k = 3000; sp.top_p = 0.98f; sp.temperature = 1.5f;   // a long list in shared memory
    distribution_real_vocab_case("151936: top-k 3000, top-p 0.98", sp, 1.0f, gpu, 512);
}

static void reference_accepts_cpu_sampler(void) {  // no GPU needed
    distribution_cases(0);
    real_vocab_cases(0);
}

static void distribution_real_vocab(void) {
    NEED_GPU();
    real_vocab_cases(1);
}

// ---------------------------------------------------------------- small launches (sample_topk)
// Launches of 1..16 rows at the real vocabulary, every row its own logits (the greedy_case kinds: ties, NaNs, +inf,
// coarse values) and its own top-k chain: every token must be one sampler.c can draw from that row, the same
// tokens again in a second launch (the scratch as the first left it), and (nearly always: only the float sums'
// order differs) the same tokens as sample_f32 with the same (seed, step). Also the sanitizers' case.
static void topk_small_launches(void) {
    NEED_GPU();
    int row_counts[4] = { 1, 2, 5, 16 }, total = 0, same = 0, bad = 0;
    for (int ri = 0; ri < 4; ri++) {
        int rows = row_counts[ri];
        float *x = xmalloc((size_t)rows * VOCAB * 4);
        double *prob = xmalloc(sizeof(double) * (size_t)rows * VOCAB);
        GpuSampleParams *prm = xmalloc(sizeof *prm * (size_t)rows);
        int *known = xmalloc(sizeof(int) * (size_t)rows);
        static const int kinds[7] = { 0, 1, 2, 3, 4, 6, 7 };  // (not 5: subnormals only, every boundary a near-tie)
        for (int r = 0; r < rows; r++) {
            SamplerParams sp = params_off();
            sp.temperature = r % 4 == 3 ? 0.0f : 0.6f + 0.3f * (float)(r % 3);
            sp.top_k = r % 3 == 0 ? 40 : r % 3 == 1 ? 64 : 1 + r;
            sp.top_p = r % 2 ? 0.9f : 1.0f;
            sp.min_p = r % 5 == 1 ? 0.05f : 0.0f;
            known[r] = 0;
            for (int tries = 0; tries < 20 && !known[r]; tries++) {
                fill_row(x + (size_t)r * VOCAB, VOCAB, kinds[(r + ri) % 7]);
                if (sp.temperature > 0) {
                    known[r] = ref_dist(x + (size_t)r * VOCAB, VOCAB, &sp, prob + (size_t)r * VOCAB, 1e-4);
                } else {  // greedy: the CPU's argmax is the one allowed token
                    float *cp = xmalloc((size_t)VOCAB * 4);
                    memcpy(cp, x + (size_t)r * VOCAB, (size_t)VOCAB * 4);
                    int want = cpu_sample(cp, VOCAB, &sp, NULL, 0);
                    for (int j = 0; j < VOCAB; j++) prob[(size_t)r * VOCAB + j] = j == want;
                    free(cp);
                    known[r] = 1;
                }
            }
            prm[r] = gpu_sample_params(&sp, 0, 0, (uint64_t)(1000 * ri + r));
        }
        int32_t *a = gpu_sample_rows(x, rows, VOCAB, prm, NULL), *b = gpu_sample_rows(x, rows, VOCAB, prm, NULL);
        host_off = 1;
        int32_t *c = gpu_sample_rows(x, rows, VOCAB, prm, NULL);
        host_off = 0;
        for (int r = 0; r < rows; r++) {
            int t = a[r], ok = t >= 0 && t < VOCAB && (!known[r] || prob[(size_t)r * VOCAB + t] > 0);
            if (!ok || b[r] != t) {
                if (bad < 5) printf("  %d rows, row %d (kind %d): token %d (again %d), allowed %d\n", rows, r,
                                    kinds[(r + ri) % 7], t, b[r], ok);
                bad++;
            }
            total++;
            same += c[r] == t;
        }
        free(x); free(prob); free(prm); free(known); free(a); free(b); free(c);
    }
    printf("  %d rows in launches of 1 / 2 / 5 / 16: %d tokens as sample_f32's\n", total, same);
    CHECK(bad == 0, "%d of %d small-launch rows drew a token sampler.c cannot draw, or another one on a second launch",
          bad, total);
    CHECK(same >= total - 2, "only %d of %d small-launch tokens equal sample_f32's for the same (seed, step)", same,
          total);
}

// ---------------------------------------------------------------- randomness
static void seeds_and_steps(void) {
    NEED_GPU();
    int rows = 256;
    float *x = xmalloc((size_t)rows * SMALL * 4), *row = xmalloc(SMALL * 4);
    for (int j = 0; j < SMALL; j++) row[j] = 0.3f * rng_normal(&rng);  // nearly flat: draws spread out
    for (int r = 0; r < rows; r++) memcpy(x + (size_t)r * SMALL, row, SMALL * 4);
    SamplerParams sp = params_off();
    GpuSampleParams *a = xmalloc(sizeof *a * (size_t)rows), *b = xmalloc(sizeof *b * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        a[r] = gpu_sample_params(&sp, 0, 0, (uint64_t)r);
        b[r] = gpu_sample_params(&sp, 0, 0, (uint64_t)(rows - 1 - r));   // the same steps, rows reversed
    }
    int32_t *ta = gpu_sample_rows(x, rows, SMALL, a, NULL), *ta2 = gpu_sample_rows(x, rows, SMALL, a, NULL);
    int32_t *tb = gpu_sample_rows(x, rows, SMALL, b, NULL);
    int same_run = 0, same_pos = 0, distinct = 0, seen[SMALL] = { 0 };
    for (int r = 0; r < rows; r++) {
        same_run += ta[r] == ta2[r];
        same_pos += ta[r] == tb[rows - 1 - r];
        if (ta[r] >= 0 && ta[r] < SMALL && !seen[ta[r]]++) distinct++;
    }
    CHECK(same_run == rows, "the same (seed, step) gave a different token on a second launch in %d of %d rows",
          rows - same_run, rows);
    CHECK(same_pos == rows, "a (seed, step) moved to another row gave a different token in %d of %d rows: the draw "
          "must not depend on the batch position", rows - same_pos, rows);
    CHECK(distinct >= 32, "256 different steps drew only %d distinct tokens of a nearly flat 64-token distribution",
          distinct);
    for (int r = 0; r < rows; r++) { SamplerParams s2 = sp; s2.seed = sp.seed + 1 + (uint64_t)r;
        b[r] = gpu_sample_params(&s2, 0, 0, (uint64_t)r); }
    int32_t *tc = gpu_sample_rows(x, rows, SMALL, b, NULL);
    int same_seed = 0;
    for (int r = 0; r < rows; r++) same_seed += ta[r] == tc[r];
    CHECK(same_seed < rows / 4, "other seeds drew the same token in %d of %d rows (expected ~%d)", same_seed, rows,
          rows / 40);
    free(x); free(row); free(a); free(b); free(ta); free(ta2); free(tb); free(tc);
}

// ---------------------------------------------------------------- timing
static void timing(void) {
    NEED_GPU();
    int rows = 256;
    size_t n = (size_t)rows * VOCAB;
    float *x = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = 2.5f * rng_normal(&rng);
    int n_hist = 64, hist[64];
    for (int i = 0; i < n_hist; i++) hist[i] = (int)(rng_u64(&rng) % VOCAB);
    CUdeviceptr d_l = upload_new(x, n * 4), d_o = gpu_alloc(&G, (size_t)rows * 4);
    CUdeviceptr d_h = upload_new(hist, sizeof hist), d_p = gpu_alloc(&G, sizeof(GpuSampleParams) * (size_t)rows);
    GpuSampleParams *prm = xmalloc(sizeof *prm * (size_t)rows);
    struct { const char *name; int greedy, k, pen; float p, minp; } cfg[] = {
        { "greedy", 1, 0, 0, 1.0f, 0.0f },
        { "defaults (k 40, p 0.95, min-p 0.05)", 0, 40, 0, 0.95f, 0.05f },
        { "defaults + penalties (64 tokens)", 0, 40, 1, 0.95f, 0.05f },
        { "top-p 0.9 alone", 0, 0, 0, 0.9f, 0.0f },
        { "temperature alone", 0, 0, 0, 1.0f, 0.0f },
    };
    GpuTimer t;
    gpu_timer_init(&t);
    // every configuration at 1, 8 and 256 rows as the engine launches it (the host's parameters along: greedy rows
    // go to sample_greedy), and greedy also through sample_f32 (no host parameters)
    int row_counts[3] = { 1, 8, rows };
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++)
        for (int ri = 0; ri < 3; ri++)
            for (int arm = 0; arm < (cfg[c].greedy ? 2 : 1); arm++) {
                int R = row_counts[ri];
                SamplerParams sp = sampler_defaults();
                sp.temperature = cfg[c].greedy ? 0.0f : 0.8f;
                sp.top_k = cfg[c].k; sp.top_p = cfg[c].p; sp.min_p = cfg[c].minp;
                if (cfg[c].pen) { sp.repeat_penalty = 1.1f; sp.frequency_penalty = 0.1f; }
                for (int r = 0; r < R; r++) prm[r] = gpu_sample_params(&sp, d_h, n_hist, (uint64_t)r);
                gpu_upload(&G, d_p, prm, sizeof *prm * (size_t)R);
                const GpuSampleParams *hp = arm ? NULL : prm;
                launch_sample(&G, d_o, d_l, d_p, hp, R, VOCAB, 0);  // warm-up
                int reps = 10;
                gpu_timer_start(&G, &t);
                for (int i = 0; i < reps; i++) launch_sample(&G, d_o, d_l, d_p, hp, R, VOCAB, 0);
                float ms = gpu_timer_stop_ms(&G, &t);
                printf("  sample %3d x %d, %-38s %-14s %8.1f us per launch (%.0f GB/s per pass over the logits)\n",
                       R, VOCAB, cfg[c].name, arm ? "(sample_f32)" : "", 1e3 * ms / reps,
                       (double)R * VOCAB * 4.0 / (1e-3 * ms / reps) / 1e9);
            }
    gpu_timer_start(&G, &t);
    launch_argmax(&G, d_o, d_l, rows, VOCAB);
    printf("  for comparison: launch_argmax over the same rows %8.1f us\n", 1e3 * gpu_timer_stop_ms(&G, &t));
    double t0 = now_sec();
    gpu_download(&G, x, d_l, n * 4);
    printf("  for comparison: copying the logits to the host %8.1f us\n", 1e6 * (now_sec() - t0));
    gpu_timer_free(&t);
    gpu_free(&G, d_l); gpu_free(&G, d_o); gpu_free(&G, d_h); gpu_free(&G, d_p);
    free(x); free(prm);
}

int main(void) {
    test_init();
    rng_seed(&rng, t_seed);
    RUN(greedy_matches_cpu);
    RUN(no_logits_is_minus_one);
    RUN(topk_small_launches);
    RUN(reference_accepts_cpu_sampler);  // the reference and the chi-square accept sampler.c's own draws
    RUN(distribution_small_vocab);
    RUN(distribution_real_vocab);
    RUN(seeds_and_steps);
    RUN(timing);
    gpu_test_end();
    return test_end();
}
