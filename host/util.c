// util.c — fatal errors, checked allocation, a monotonic clock, a fork-join thread pool, random numbers.
#include "util.h"
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("qwen3-ptx: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory allocating %zu bytes", n);
    return p;
}
void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}
void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die("out of memory reallocating %zu bytes", n);
    return q;
}
char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// ---------------------------------------------------------------- thread pool
// Workers sleep on a condition variable; parallel_for hands out indices with an atomic counter, so uneven
// work (rows of different cost) balances itself. Calls from inside a worker run serially (no nesting).
static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int n, started, generation, busy;
    void (*fn)(void *, int64_t);
    void *ctx;
    int64_t total;
    int64_t next;  // atomic
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0 };
static __thread int in_worker;

int n_threads(void) {
    if (!pool.n) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        pool.n = env_int("QWEN3_THREADS", 1, 256, cores < 1 ? 1 : cores > 256 ? 256 : (int)cores);
    }
    return pool.n;
}

int env_int(const char *name, int lo, int hi, int dflt) {
    const char *s = getenv(name);
    char *end;
    if (!s || !*s) return dflt;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) {  // said, not silently dropped
        fprintf(stderr, "qwen3-ptx: %s=%s ignored (an integer in %d..%d expected): %d used\n", name, s, lo, hi, dflt);
        return dflt;
    }
    return (int)v;
}

static void drain(void) {
    int64_t i;
    while ((i = __atomic_fetch_add(&pool.next, 1, __ATOMIC_RELAXED)) < pool.total) pool.fn(pool.ctx, i);
}

static void *worker(void *arg) {
    (void)arg;
    in_worker = 1;
    int seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.generation == seen) pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.generation;
        pthread_mutex_unlock(&pool.mu);
        drain();
        pthread_mutex_lock(&pool.mu);
        if (--pool.busy == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

void parallel_for(int64_t n, void (*fn)(void *ctx, int64_t i), void *ctx) {
    int nt = n_threads();
    if (nt == 1 || n <= 1 || in_worker) {
        for (int64_t i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    while (pool.started < nt - 1) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, NULL)) die("cannot start a worker thread");
        pthread_detach(t);
        pool.started++;
    }
    pool.fn = fn; pool.ctx = ctx; pool.total = n; pool.next = 0;
    pool.busy = pool.started;
    pool.generation++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    in_worker = 1;  // the caller works too
    drain();
    in_worker = 0;
    pthread_mutex_lock(&pool.mu);
    while (pool.busy > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

// ---------------------------------------------------------------- random numbers
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
void rng_seed(Rng *r, uint64_t seed) { for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed); }
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}
double rng_uniform(Rng *r) { return (rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
float rng_normal(Rng *r) {  // Box-Muller
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

// ---------------------------------------------------------------- growable strings
void sb_add(StrBuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n + 1) c *= 2;
        b->p = xrealloc(b->p, c);
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
void sb_adds(StrBuf *b, const char *s) { sb_add(b, s, strlen(s)); }
void sb_printf(StrBuf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n < (int)sizeof small) { sb_add(b, small, (size_t)n); return; }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

int parse_dtype_opt(const char *opt, const char *v, int *fp8) {
    if (strcmp(v, "bf16") && strcmp(v, "fp8")) {
        fprintf(stderr, "qwen3-ptx: %s: '%s' (bf16 or fp8)\n", opt, v);
        return -1;
    }
    *fp8 = !strcmp(v, "fp8");
    return 0;
}

int parse_onoff(const char *v) {
    return !strcmp(v, "on") || !strcmp(v, "1") ? 1 : !strcmp(v, "off") || !strcmp(v, "0") ? 0 : -1;
}

static const char *const HEAD_NAMES[] = { "bf16", "fp8", "rescore" };  // HEAD_BF16, HEAD_FP8, HEAD_RESCORE

int head_dtype_of(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, HEAD_NAMES[i])) return i;
    return -1;
}

int parse_head_opt(const char *opt, const char *v, int *head) {
    int h = head_dtype_of(v);
    if (h < 0) {
        fprintf(stderr, "qwen3-ptx: %s: '%s' (bf16, fp8 or rescore)\n", opt, v);
        return -1;
    }
    *head = h;
    return 0;
}

void git_describe(char *out, size_t n) {
    const char *env = getenv("QWEN3_COMMIT");
    snprintf(out, n, "%s", env && *env ? env : "?");
    if (env && *env) return;
    FILE *p = popen("git describe --always --dirty=+wip 2>/dev/null", "r");
    if (!p) return;
    if (fgets(out, (int)n, p)) out[strcspn(out, "\n")] = 0;
    if (!out[0]) snprintf(out, n, "?");
    pclose(p);
}

// a whole file into memory (NUL-terminated past its n bytes); NULL with a one-line reason in err where it fails
char *read_file(const char *path, size_t *n, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open", path); return NULL; }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) { cap = cap ? cap * 2 : 1 << 20; buf = xrealloc(buf, cap); }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); snprintf(err, errlen, "%s: read error", path); return NULL; }
    buf[len] = 0;  // len < cap here: the loop grows the buffer before every read
    *n = len;
    return buf;
}
