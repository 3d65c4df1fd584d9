// test.h — the smallest test harness: named cases, CHECK, SKIP, a printed seed, and the PASS/FAIL lines that
// tests/run.sh counts. Every test program: main() { test_init(); RUN(case_a); RUN(case_b); return test_end(); }
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int tc_failed, tc_skipped, t_pass, t_fail, t_skip;
static uint64_t t_seed;

// Fresh inputs each run: QWEN3_TEST_SEED pins the seed to reproduce a failure; it is always printed.
static void test_init(void) {
    const char *s = getenv("QWEN3_TEST_SEED");
    t_seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    printf("seed %llu (QWEN3_TEST_SEED=%llu reproduces)\n", (unsigned long long)t_seed, (unsigned long long)t_seed);
}

#define CHECK(cond, ...) do { if (!(cond)) { tc_failed = 1; printf("  check failed %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    printf(__VA_ARGS__); printf("\n"); fflush(stdout); } } while (0)
#define SKIP(...) do { tc_skipped = 1; printf("  skip reason: "); printf(__VA_ARGS__); printf("\n"); return; } while (0)

// QWEN3_TEST_ONLY=a,b: run only those cases (the device's sanitizer runs of one case); the others are not counted.
static int case_wanted(const char *name) {
    const char *only = getenv("QWEN3_TEST_ONLY");
    size_t n = strlen(name);
    for (const char *p = only; p && *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && !strncmp(p, name, n)) return 1;
        p += k + (p[k] == ',');
    }
    return !only || !*only;
}

static void run_case(const char *name, void (*fn)(void)) {
    if (!case_wanted(name)) return;
    tc_failed = tc_skipped = 0;
    fn();
    if (tc_failed) { t_fail++; printf("FAIL %s\n", name); }
    else if (tc_skipped) { t_skip++; printf("SKIP %s\n", name); }
    else { t_pass++; printf("PASS %s\n", name); }
    fflush(stdout);
}
#define RUN(fn) run_case(#fn, fn)
static int test_end(void) { return t_fail ? 1 : 0; }

// Relative error ||a-b|| / ||b|| in double; returns INFINITY if any element is NaN/Inf (NaN never passes).
static inline double rel_err(const float *a, const double *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(ref[i])) return INFINITY;
        double d = (double)a[i] - ref[i];
        num += d * d; den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}
