// sampler.c — logits -> next token. sample() applies the penalties, then picks ONE strategy:
//   greedy                  temperature <= 0: argmax (ties -> the lowest id)
//   truncated distribution  top-k -> top-p -> min-p -> temperature -> softmax -> draw
// The truncation order is llama.cpp's default chain (penalties, top_k, top_p, min_p, temp). As there, the
// truncations look at the UNtempered logits, and top-p measures mass renormalised over what top-k kept.
// To add a strategy (mirostat, typical, ...): write one function `static int sample_xxx(Sampler *, float *)`
// and add one branch in sample().
//
// Speed at vocab 151936: nothing sorts the whole vocabulary unless top-p alone asks for more than most of it.
// Top-k is fused into the gather (a k-heap, one pass); top-p without top-k quickselects the best 256, sorts
// them and widens 8x at a time only while their mass is still short of p; min-p is one linear filter.
#include "sampler.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

SamplerParams sampler_defaults(void) {
    // llama.cpp's defaults (common/common.h), so `--temp 0.7` means what it means there.
    return (SamplerParams){ .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                            .repeat_penalty = 1.0f, .repeat_last_n = 64, .presence_penalty = 0.0f,
                            .frequency_penalty = 0.0f, .seed = 0 };
}

void sampler_init(Sampler *s, const SamplerParams *p, int vocab) {
    memset(s, 0, sizeof *s);
    s->p = *p;
    rng_seed(&s->rng, p->seed);
    s->vocab = vocab;
    s->cap_history = 256;
    s->history = xmalloc(sizeof(int) * (size_t)s->cap_history);
    s->probs = xmalloc(sizeof(float) * (size_t)vocab);
    s->idx = xmalloc(sizeof(int) * (size_t)vocab);
}

void sampler_free(Sampler *s) {
    free(s->history);
    free(s->probs);
    free(s->idx);
    memset(s, 0, sizeof *s);
}

void sampler_accept(Sampler *s, int token) {
    if (token < 0 || token >= s->vocab) return;  // nothing to penalise outside the vocabulary
    if (s->n_history == s->cap_history) {
        s->cap_history *= 2;
        s->history = xrealloc(s->history, sizeof(int) * (size_t)s->cap_history);
    }
    s->history[s->n_history++] = token;
}

// ---------------------------------------------------------------- penalties
// Over the last repeat_last_n tokens (-1: the whole history, 0: none), exactly as llama.cpp's penalties sampler:
//   repeat (CTRL paper): a logit <= 0 is multiplied by the penalty, a positive one divided, once per distinct token;
//   frequency / presence (OpenAI): logit -= count * frequency_penalty + (count > 0) * presence_penalty.
// The counts use s->idx as a vocab-sized table, touching only the window's entries (O(window), not O(vocab)).
static void apply_penalties(Sampler *s, float *logits) {
    const SamplerParams *p = &s->p;
    if (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f) return;
    int n = p->repeat_last_n < 0 || p->repeat_last_n > s->n_history ? s->n_history : p->repeat_last_n;
    const int *win = s->history + s->n_history - n;
    int *count = s->idx;
    for (int i = 0; i < n; i++) count[win[i]] = 0;
    for (int i = 0; i < n; i++) count[win[i]]++;
    for (int i = 0; i < n; i++) {
        int t = win[i], c = count[t];
        if (c == 0) continue;  // already penalised
        count[t] = 0;
        float l = logits[t];
        if (p->repeat_penalty != 1.0f) l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
        logits[t] = l - (float)c * p->frequency_penalty - p->presence_penalty;
    }
}

// ---------------------------------------------------------------- candidate lists
// A candidate list is two parallel arrays: v = s->probs (the candidate's logit, later its probability) and
// id = s->idx. Order: higher logit first, equal logits by lower id, so every key is distinct and results never
// depend on where ties happened to fall.
static inline int before(float va, int ia, float vb, int ib) { return va > vb || (va == vb && ia < ib); }
static inline void swap2(float *v, int *id, int a, int b) {
    float tv = v[a]; v[a] = v[b]; v[b] = tv;
    int ti = id[a]; id[a] = id[b]; id[b] = ti;
}

// Median of v[lo], v[mid], v[hi] moved to hi (the pivot slot): sorted or reversed input stays O(n log n).
static void pivot_to_hi(float *v, int *id, int lo, int hi) {
    int mid = lo + (hi - lo) / 2;
    if (before(v[mid], id[mid], v[lo], id[lo])) swap2(v, id, mid, lo);
    if (before(v[hi], id[hi], v[lo], id[lo])) swap2(v, id, hi, lo);
    if (before(v[mid], id[mid], v[hi], id[hi])) swap2(v, id, mid, hi);  // now lo <= hi <= mid in order
}

// Partitions [lo, hi] around v[hi]; returns the pivot's final position.
static int partition(float *v, int *id, int lo, int hi) {
    pivot_to_hi(v, id, lo, hi);
    float pv = v[hi];
    int pid = id[hi], store = lo;
    for (int i = lo; i < hi; i++)
        if (before(v[i], id[i], pv, pid)) swap2(v, id, store++, i);
    swap2(v, id, store, hi);
    return store;
}

// Quickselect: afterwards [0, k) holds the k best candidates of [0, n), in no particular order.
static void select_best(float *v, int *id, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int p = partition(v, id, lo, hi);
        if (p == k || p == k - 1) return;
        if (p < k) lo = p + 1; else hi = p - 1;
    }
}

// Quicksort of [lo, hi] into candidate order; recurses on the smaller side so the stack stays O(log n).
static void sort_best(float *v, int *id, int lo, int hi) {
    while (hi - lo > 16) {
        int p = partition(v, id, lo, hi);
        if (p - lo < hi - p) { sort_best(v, id, lo, p - 1); lo = p + 1; }
        else                 { sort_best(v, id, p + 1, hi); hi = p - 1; }
    }
    for (int i = lo + 1; i <= hi; i++)  // insertion sort finishes short runs
        for (int j = i; j > lo && before(v[j], id[j], v[j - 1], id[j - 1]); j--) swap2(v, id, j, j - 1);
}

// Every token with a usable logit (NaN and -inf are never candidates). Returns the count.
static int gather_candidates(Sampler *s, const float *logits) {
    float *v = s->probs;
    int *id = s->idx, n = 0;
    for (int i = 0; i < s->vocab; i++)
        if (logits[i] > -INFINITY) { v[n] = logits[i]; id[n] = i; n++; }  // false for NaN
    return n;
}

// Min-heap on candidate order: the root is the WORST of the k kept so far.
static void sift_down(float *v, int *id, int i, int n) {
    for (;;) {
        int w = i, l = 2 * i + 1, r = l + 1;
        if (l < n && before(v[w], id[w], v[l], id[l])) w = l;
        if (r < n && before(v[w], id[w], v[r], id[r])) w = r;
        if (w == i) return;
        swap2(v, id, i, w);
        i = w;
    }
}

// Top-k fused into the gather: one pass over the vocabulary keeping the k best in a heap (a token enters only
// if it beats the worst kept one, which for k << vocab is rare), then a heap sort leaves them best first.
// O(vocab + k log k) for typical logits, no copy of the vocabulary.
static int gather_top_k(Sampler *s, const float *logits, int k) {
    float *v = s->probs;
    int *id = s->idx, n = 0;
    for (int i = 0; i < s->vocab; i++) {
        float l = logits[i];
        if (!(l > -INFINITY)) continue;
        if (n < k) {  // filling: sift the newcomer up
            int j = n++;
            v[j] = l; id[j] = i;
            while (j > 0 && before(v[(j - 1) / 2], id[(j - 1) / 2], v[j], id[j])) {
                swap2(v, id, j, (j - 1) / 2);
                j = (j - 1) / 2;
            }
        } else if (before(l, i, v[0], id[0])) {
            v[0] = l; id[0] = i;
            sift_down(v, id, 0, n);
        }
    }
    for (int end = n - 1; end > 0; end--) {  // pop the worst to the back: best first
        swap2(v, id, 0, end);
        sift_down(v, id, 0, end);
    }
    return n;
}

static float max_of(const float *v, int n) {
    float m = v[0];
    for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

// ---------------------------------------------------------------- truncations (each: n candidates in, n' out)
// Top-p (nucleus): the shortest best-first prefix whose softmax mass reaches p, counting the token that crosses.
static int truncate_top_p(Sampler *s, int n, int *sorted) {
    float p = s->p.top_p, *v = s->probs;
    if (p >= 1.0f || n <= 1) return n;
    float max = max_of(v, n);
    double total = 0.0;
    for (int i = 0; i < n; i++) total += expf(v[i] - max);
    double need = (double)p * total, cum = 0.0;
    int done = 0, m = *sorted ? n : (n < 256 ? n : 256);  // [0, done) is sorted and summed
    for (;;) {
        if (!*sorted) {  // the next best (m - done) of the rest, in order, right after [0, done)
            if (m < n) select_best(v + done, s->idx + done, n - done, m - done);
            sort_best(v, s->idx, done, m - 1);
        }
        for (int i = done; i < m; i++) {
            cum += expf(v[i] - max);
            if (cum >= need) { *sorted = 1; return i + 1; }
        }
        if (m == n) { *sorted = 1; return n; }  // rounding kept the sum just short of p: keep all
        done = m;
        m = m > n / 8 ? n : m * 8;  // the best m hold too little mass: look wider
    }
}

// Min-p: tokens at least min_p times as likely as the best, i.e. logit >= max + log(min_p). Keeps the order.
static int truncate_min_p(Sampler *s, int n, int sorted) {
    float mp = s->p.min_p, *v = s->probs;
    int *id = s->idx;
    if (mp <= 0.0f || n <= 1) return n;
    float thr = (sorted ? v[0] : max_of(v, n)) + logf(mp);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (v[i] >= thr) { v[m] = v[i]; id[m] = id[i]; m++; }
    return m;
}

// ---------------------------------------------------------------- strategies
static int sample_greedy(Sampler *s, float *logits) {
    int best = -1;
    float bv = -INFINITY;
    for (int i = 0; i < s->vocab; i++)  // strict > : NaN never wins, ties keep the lowest id
        if (logits[i] > bv) { bv = logits[i]; best = i; }
    return best;
}

static int sample_truncated(Sampler *s, float *logits) {
    int k = s->p.top_k, sorted = k > 0 && k < s->vocab;
    int n = sorted ? gather_top_k(s, logits, k) : gather_candidates(s, logits);
    if (n == 0) return -1;
    float *v = s->probs;
    if ((sorted ? v[0] : max_of(v, n)) == INFINITY) {  // +inf beats every finite logit: keep only those, as equals
        int m = 0;
        for (int i = 0; i < n; i++)
            if (v[i] == INFINITY) { v[m] = 0.0f; s->idx[m] = s->idx[i]; m++; }
        n = m;
    }
    n = truncate_top_p(s, n, &sorted);
    n = truncate_min_p(s, n, sorted);
    // temperature, softmax (in place: v becomes unnormalised probabilities), draw
    float inv_t = 1.0f / s->p.temperature, max = max_of(v, n);
    double total = 0.0;
    for (int i = 0; i < n; i++) { v[i] = expf((v[i] - max) * inv_t); total += v[i]; }
    double u = rng_uniform(&s->rng) * total, cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += v[i];
        if (u < cum) return s->idx[i];
    }
    for (int i = n - 1; i >= 0; i--)  // u landed on the rounding sliver past the last sum
        if (v[i] > 0.0f) return s->idx[i];
    return s->idx[0];
}

// Returns the token id, or -1 when no logit is a usable number (all NaN / -inf). Leaves the penalised logits
// in `logits` (the tests read them).
int sample(Sampler *s, float *logits) {
    apply_penalties(s, logits);
    if (s->p.temperature <= 0.0f) return sample_greedy(s, logits);
    // else if (s->p.mirostat) return sample_mirostat(s, logits);   <- a new strategy goes here
    return sample_truncated(s, logits);
}
