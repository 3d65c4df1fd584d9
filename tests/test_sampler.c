// test_sampler.c — the sampler against an independent double-precision model of the intended distribution:
// chi-square goodness of fit on empirical frequencies (temperature, top-k, top-p, min-p, combined, and large
// vocabularies that exercise quickselect and the widening top-p search), greedy = argmax with ties to the lowest
// id, penalties change exactly the right logits by exactly the right amount, seeds reproduce, NaN never wins.
#include "test.h"
#include "../host/sampler.h"

// ---------------------------------------------------------------- chi-square p-value
// Regularised upper incomplete gamma Q(a, x): series for x < a + 1, continued fraction (modified Lentz) beyond.
static double gamma_q(double a, double x) {
    if (x <= 0) return 1.0;
    double lg = lgamma(a);
    if (x < a + 1) {
        double term = 1.0 / a, sum = term;
        for (int n = 1; n < 100000 && fabs(term) > fabs(sum) * 1e-16; n++) { term *= x / (a + n); sum += term; }
        return 1.0 - sum * exp(-x + a * log(x) - lg);
    }
    double tiny = 1e-300, b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
    for (int i = 1; i < 100000; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b; if (fabs(d) < tiny) d = tiny;
        c = b + an / c; if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16) break;
    }
    return exp(-x + a * log(x) - lg) * h;
}

// ---------------------------------------------------------------- the intended distribution, independently
static const float *g_sort_logits;
static int cmp_rank(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    float li = g_sort_logits[i], lj = g_sort_logits[j];
    int ni = isnan(li), nj = isnan(lj);
    if (ni != nj) return ni - nj;  // NaN last
    if (li != lj) return li > lj ? -1 : 1;
    return i - j;
}

// prob[i] for every token, and rank[] = token ids best first. Chain: top-k, top-p (over the top-k mass),
// min-p (relative to the best), temperature, softmax. NaN / -inf tokens get 0.
// g_margin: how far the top-p and min-p cuts are from flipping (share of the mass / logit units). A cut closer
// than float rounding could move is not a fair test, so check_distribution requires a margin.
static double g_margin;
static void reference(const float *logits, int n, const SamplerParams *p, double *prob, int *rank) {
    for (int i = 0; i < n; i++) rank[i] = i;
    g_sort_logits = logits;
    qsort(rank, n, sizeof(int), cmp_rank);
    g_margin = INFINITY;
    int keep = 0;
    while (keep < n && logits[rank[keep]] > -INFINITY) keep++;
    if (p->top_k > 0 && p->top_k < keep) keep = p->top_k;
    double max = logits[rank[0]];
    if (p->top_p < 1) {
        double z = 0, cum = 0;
        for (int i = 0; i < keep; i++) z += exp(logits[rank[i]] - max);
        for (int i = 0; i < keep; i++) {
            double prev = cum;
            cum += exp(logits[rank[i]] - max);
            if (cum >= p->top_p * z) {
                keep = i + 1;
                double m = fmin(cum - p->top_p * z, p->top_p * z - prev) / z;
                if (m < g_margin) g_margin = m;
                break;
            }
        }
    }
    if (p->min_p > 0) {
        int m = 0;
        while (m < keep && exp(logits[rank[m]] - max) >= p->min_p) m++;
        for (int i = 0; i < keep; i++) {
            double d = fabs(logits[rank[i]] - max - log(p->min_p));
            if (d < g_margin) g_margin = d;
        }
        keep = m;
    }
    double z = 0;
    for (int i = 0; i < n; i++) prob[i] = 0;
    for (int i = 0; i < keep; i++) z += prob[rank[i]] = exp((logits[rank[i]] - max) / p->temperature);
    for (int i = 0; i < keep; i++) prob[rank[i]] /= z;
}

// Draws n_draws tokens and tests the counts: zero-probability tokens must never appear; the rest, binned in rank
// order so every bin expects >= 20 draws, must pass a chi-square test at p >= 1e-6 (false failures ~1e-6).
static void check_distribution(const char *what, const float *logits, int n, SamplerParams p, int n_draws) {
    double *prob = malloc(sizeof(double) * n);
    int *rank = malloc(sizeof(int) * n);
    long *count = calloc(n, sizeof(long));
    float *work = malloc(sizeof(float) * n);
    reference(logits, n, &p, prob, rank);
    CHECK(g_margin > 1e-7, "%s: test design: a cut is %.2g from flipping", what, g_margin);
    static uint64_t call;
    p.seed = t_seed + 0x9E3779B97F4A7C15ull * ++call;  // every check its own stream
    Sampler s;
    sampler_init(&s, &p, n);
    for (int d = 0; d < n_draws; d++) {
        memcpy(work, logits, sizeof(float) * n);
        int t = sample(&s, work);
        if (t < 0 || t >= n) { CHECK(0, "%s: sample returned %d", what, t); break; }
        count[t]++;
    }
    int bad = -1;
    for (int i = 0; i < n; i++) if (prob[i] == 0 && count[i]) bad = i;
    CHECK(bad < 0, "%s: token %d (probability 0) drawn %ld times", what, bad, bad >= 0 ? count[bad] : 0);
    double chi2 = 0, e = 0, o = 0;
    int bins = 0;
    for (int r = 0; r < n; r++) {
        int i = rank[r];
        if (prob[i] == 0) continue;
        e += prob[i] * n_draws; o += count[i];
        if (e >= 20) { chi2 += (o - e) * (o - e) / e; bins++; e = o = 0; }
    }
    if (e > 0) { chi2 += (o - e) * (o - e) / e; bins++; }  // the tail (may expect < 20; its share is small)
    double pv = bins > 1 ? gamma_q((bins - 1) / 2.0, chi2 / 2.0) : 1.0;
    printf("  %-34s %6d bins  chi2 %10.2f  p-value %.3g\n", what, bins, chi2, pv);
    CHECK(pv >= 1e-6, "%s: chi-square p-value %.3g < 1e-6 (chi2 %.2f, %d bins)", what, pv, chi2, bins);
    sampler_free(&s);
    free(prob); free(rank); free(count); free(work);
}

static SamplerParams plain(float temp) {
    SamplerParams p = sampler_defaults();
    p.temperature = temp; p.top_k = 0; p.top_p = 1; p.min_p = 0;
    return p;
}

// A fixed small vector: distinct logits of both signs, no zeros, boundaries of the truncations well away from
// the cut points used below (check_distribution verifies the margin).
static const float L12[12] = { 2.0f, 1.5f, 1.1f, 0.5f, -0.3f, -0.5f, -1.0f, 3.0f, 1.2f, -2.0f, 0.7f, 0.3f };

static void test_temperature(void) {
    check_distribution("temperature 1", L12, 12, plain(1.0f), 200000);
    check_distribution("temperature 0.6", L12, 12, plain(0.6f), 200000);
    check_distribution("temperature 2.5", L12, 12, plain(2.5f), 200000);
}

static void test_top_k(void) {
    SamplerParams p = plain(1.0f);
    p.top_k = 5;
    check_distribution("top-k 5", L12, 12, p, 200000);
    p.top_k = 1;
    check_distribution("top-k 1", L12, 12, p, 20000);
    p.top_k = 40;  // more than the vocabulary: no truncation
    check_distribution("top-k 40 > vocab", L12, 12, p, 200000);
}

static void test_top_p(void) {
    SamplerParams p = plain(1.0f);
    p.top_p = 0.8f;
    check_distribution("top-p 0.8", L12, 12, p, 200000);
    p.top_p = 0.05f;  // less than the best token's share: only it remains
    check_distribution("top-p 0.05", L12, 12, p, 20000);
}

static void test_min_p(void) {
    SamplerParams p = plain(1.0f);
    p.min_p = 0.1f;
    check_distribution("min-p 0.1", L12, 12, p, 200000);
    p.min_p = 0.3f;
    p.temperature = 0.7f;
    check_distribution("min-p 0.3 temperature 0.7", L12, 12, p, 200000);
}

static void test_combined(void) {
    SamplerParams p = plain(0.8f);
    p.top_k = 8; p.top_p = 0.9f; p.min_p = 0.05f;
    check_distribution("top-k 8 top-p 0.9 min-p 0.05 t 0.8", L12, 12, p, 200000);
    check_distribution("llama.cpp defaults", L12, 12, sampler_defaults(), 200000);
}

// Larger vocabularies: random logits (seeded), so the top-k heap, quickselect, sorting and the widening top-p
// search (which starts at the best 256 candidates) all run on many candidates.
static void test_large_vocab(void) {
    int n = 4000;
    float *l = malloc(sizeof(float) * n);
    Rng r;
    rng_seed(&r, t_seed);
    SamplerParams ps[3] = { plain(1.0f), plain(3.0f), plain(1.3f) };
    ps[0].top_p = 0.95f;  // over a thousand tokens: the search widens 256 -> 2048
    ps[1].top_k = 700;
    ps[2].top_k = 1500; ps[2].top_p = 0.9f; ps[2].min_p = 0.02f;
    const char *names[3] = { "vocab 4000 top-p 0.95", "vocab 4000 top-k 700 t 3", "vocab 4000 k 1500 p 0.9 min-p .02" };
    double *prob = malloc(sizeof(double) * n);
    int *rank = malloc(sizeof(int) * n);
    for (int k = 0; k < 3; k++) {
        // redraw (rarely) until no cut sits within float rounding of flipping
        int tries = 0;
        do for (int i = 0; i < n; i++) l[i] = 2.0f * rng_normal(&r);
        while (reference(l, n, &ps[k], prob, rank), g_margin < 1e-6 && ++tries < 1000);
        check_distribution(names[k], l, n, ps[k], 30000);
    }
    free(prob); free(rank);
    free(l);
}

static void test_greedy(void) {
    Rng r;
    rng_seed(&r, t_seed + 1);
    int n = 1000;
    float *l = malloc(sizeof(float) * n);
    SamplerParams p = plain(0.0f);
    Sampler s;
    sampler_init(&s, &p, n);
    for (int trial = 0; trial < 50; trial++) {
        for (int i = 0; i < n; i++) l[i] = rng_normal(&r) + 0.1f;
        int a = (int)(rng_u64(&r) % n), b = (int)(rng_u64(&r) % n);
        l[a] = l[b] = 9.0f;  // a tie (or one max when a == b): the lower id wins
        int want = a < b ? a : b;
        l[(want + 1) % n] = NAN;  // NaN compares false with everything: never the argmax
        int got = sample(&s, l);
        CHECK(got == want, "trial %d: greedy chose %d, argmax (lowest id) is %d", trial, got, want);
    }
    // negative temperature is greedy too
    for (int i = 0; i < n; i++) l[i] = -1.0f - 0.001f * i;
    s.p.temperature = -1;
    CHECK(sample(&s, l) == 0, "temperature < 0 should be greedy");
    sampler_free(&s);
    free(l);
}

static void test_nan(void) {
    float l[12];
    memcpy(l, L12, sizeof l);
    l[7] = NAN; l[0] = NAN;  // the two best become NaN: never drawn, the rest keeps its shape
    check_distribution("two NaN logits", l, 12, plain(1.0f), 100000);
    SamplerParams pk = plain(1.0f);
    pk.top_k = 6;  // the top-k heap skips NaN too
    check_distribution("two NaN logits, top-k 6", l, 12, pk, 100000);
    l[3] = -INFINITY;
    check_distribution("NaN and -inf logits", l, 12, plain(1.0f), 100000);
    // all NaN (and all -inf) -> -1, not a crash, for every strategy (k 5: the heap path)
    SamplerParams ps[4] = { plain(0.0f), plain(1.0f), sampler_defaults(), sampler_defaults() };
    ps[3].top_k = 5;
    for (int k = 0; k < 4; k++) {
        Sampler s;
        sampler_init(&s, &ps[k], 12);
        for (int i = 0; i < 12; i++) l[i] = NAN;
        CHECK(sample(&s, l) == -1, "all-NaN logits should give -1 (params %d)", k);
        for (int i = 0; i < 12; i++) l[i] = i % 2 ? NAN : -INFINITY;
        CHECK(sample(&s, l) == -1, "all NaN/-inf logits should give -1 (params %d)", k);
        for (int i = 0; i < 12; i++) l[i] = L12[i];
        l[9] = INFINITY;  // +inf dominates every finite logit
        CHECK(sample(&s, l) == 9, "a +inf logit should always be chosen (params %d)", k);
        sampler_free(&s);
    }
}

// Penalties: compare every logit after sample() (greedy, so nothing else touches them) against the formula
// computed here in double from the window's counts; tokens outside the window must be bit-identical.
static void check_penalties(const char *what, SamplerParams p, const int *hist, int n_hist) {
    enum { V = 16 };
    Rng r;
    rng_seed(&r, t_seed + 7);
    float l[V], orig[V];
    for (int i = 0; i < V; i++) {
        float x = 0.5f + 2.0f * (float)rng_uniform(&r);
        orig[i] = l[i] = (i % 3 == 0) ? -x : x;  // both signs, never zero
    }
    Sampler s;
    sampler_init(&s, &p, V);
    for (int i = 0; i < n_hist; i++) sampler_accept(&s, hist[i]);
    sample(&s, l);
    int win = p.repeat_last_n < 0 || p.repeat_last_n > n_hist ? n_hist : p.repeat_last_n;
    int cnt[V] = { 0 };
    double ref[V];
    for (int i = n_hist - win; i < n_hist; i++) cnt[hist[i]]++;
    for (int t = 0; t < V; t++) {
        double x = orig[t];
        if (cnt[t]) x = (x <= 0 ? x * p.repeat_penalty : x / p.repeat_penalty) - cnt[t] * (double)p.frequency_penalty
                        - p.presence_penalty;
        ref[t] = x;
    }
    double e = rel_err(l, ref, V);
    CHECK(e <= 1e-6, "%s: relative error %.3g of the penalised logits", what, e);
    for (int t = 0; t < V; t++) {
        if (!cnt[t]) { CHECK(memcmp(&l[t], &orig[t], sizeof(float)) == 0, "%s: token %d changed (%g -> %g)",
                             what, t, orig[t], l[t]); continue; }
        // float rounding is relative to the terms, not to their (possibly cancelling) sum
        double x = ref[t], scale = fabs(x) + fabs(orig[t]) + cnt[t] * fabs(p.frequency_penalty) + fabs(p.presence_penalty);
        CHECK(fabs(l[t] - x) <= 1e-6 * scale, "%s: token %d (count %d): %.7g, expected %.7g", what, t, cnt[t], l[t], x);
    }
    sampler_free(&s);
}

static void test_penalties(void) {
    int hist[] = { 1, 3, 3, 5, 7, 7, 12, 7, 2, 0 };
    int nh = (int)(sizeof hist / sizeof hist[0]);
    SamplerParams p = plain(0.0f);
    p.repeat_penalty = 1.3f; p.repeat_last_n = 7;
    check_penalties("repeat 1.3 last 7", p, hist, nh);
    p.repeat_last_n = -1;
    check_penalties("repeat 1.3 whole history", p, hist, nh);
    p.repeat_last_n = 64;
    check_penalties("repeat 1.3 last 64 > history", p, hist, nh);
    p.repeat_last_n = 0;
    check_penalties("repeat, window 0 (off)", p, hist, nh);
    p = plain(0.0f);
    p.repeat_last_n = 6; p.presence_penalty = 0.7f; p.frequency_penalty = 0.4f;
    check_penalties("presence 0.7 frequency 0.4 last 6", p, hist, nh);
    p.repeat_penalty = 1.1f; p.presence_penalty = -0.5f;
    check_penalties("all three, negative presence", p, hist, nh);
    // out-of-range history tokens are ignored, not written outside the table
    Sampler s;
    sampler_init(&s, &p, 16);
    sampler_accept(&s, -1); sampler_accept(&s, 16); sampler_accept(&s, 1 << 30);
    CHECK(s.n_history == 0, "out-of-range tokens entered the history");
    sampler_free(&s);
}

static void test_seed(void) {
    int n = 5000;
    float *l = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * n);
    Rng r;
    rng_seed(&r, t_seed + 3);
    for (int i = 0; i < n; i++) l[i] = rng_normal(&r);
    SamplerParams p = sampler_defaults();
    p.top_k = 100; p.min_p = 0; p.temperature = 1.5f; p.repeat_penalty = 1.2f;
    p.seed = t_seed;
    Sampler a, b, c;
    sampler_init(&a, &p, n); sampler_init(&b, &p, n);
    p.seed = t_seed + 1;
    sampler_init(&c, &p, n);
    int same = 1, diff_c = 0;
    for (int step = 0; step < 500; step++) {
        memcpy(w, l, sizeof(float) * n); int ta = sample(&a, w);
        memcpy(w, l, sizeof(float) * n); int tb = sample(&b, w);
        memcpy(w, l, sizeof(float) * n); int tc = sample(&c, w);
        same &= ta == tb; diff_c += ta != tc;
        sampler_accept(&a, ta); sampler_accept(&b, tb); sampler_accept(&c, tc);
    }
    CHECK(same, "same seed gave different sequences");
    CHECK(diff_c > 100, "a different seed matched the sequence too often (%d of 500 differ)", diff_c);
    sampler_free(&a); sampler_free(&b); sampler_free(&c);
    free(l); free(w);
}

// Not a pass/fail on speed (machines differ), but a sanity bound: one sample at Qwen3's vocabulary with
// llama.cpp's defaults is printed; the bound only catches something pathological (a loaded machine is slow).
static void test_speed_full_vocab(void) {
    int n = 151936, reps = 50;
    float *l = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * n);
    Rng r;
    rng_seed(&r, t_seed + 5);
    for (int i = 0; i < n; i++) l[i] = 3.0f * rng_normal(&r);
    const char *names[3] = { "defaults (k 40)", "top-p 0.95 only", "temperature only" };
    for (int v = 0; v < 3; v++) {
        SamplerParams p = sampler_defaults();
        if (v == 1) { p.top_k = 0; p.min_p = 0; }
        if (v == 2) { p.top_k = 0; p.min_p = 0; p.top_p = 1; }
        p.seed = t_seed;
        Sampler s;
        sampler_init(&s, &p, n);
        double t0 = now_sec();
        for (int i = 0; i < reps; i++) { memcpy(w, l, sizeof(float) * n); CHECK(sample(&s, w) >= 0, "no token"); }
        double ms = (now_sec() - t0) * 1e3 / reps;
        printf("  vocab %d %-18s %.3f ms per token (incl. a %zu KB copy)\n", n, names[v], ms, n * sizeof(float) / 1024);
        CHECK(ms < 250, "%s: %.1f ms per token", names[v], ms);
        sampler_free(&s);
    }
    free(l); free(w);
}

int main(void) {
    test_init();
    RUN(test_greedy);
    RUN(test_temperature);
    RUN(test_top_k);
    RUN(test_top_p);
    RUN(test_min_p);
    RUN(test_combined);
    RUN(test_large_vocab);
    RUN(test_nan);
    RUN(test_penalties);
    RUN(test_seed);
    RUN(test_speed_full_vocab);
    return test_end();
}
