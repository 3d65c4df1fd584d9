// util.h — small helpers every file uses: fatal errors, checked allocation, time, a thread pool.
// defines: die, xmalloc, xcalloc, xrealloc, now_sec, parallel_for, rng (splitmix64/xoshiro), StrBuf
#pragma once
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#else
#define PRINTF_LIKE(a, b)
#endif

void die(const char *fmt, ...) PRINTF_LIKE(1, 2) __attribute__((noreturn));  // "qwen3-ptx: <msg>\n", exit(1)
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
double now_sec(void);  // monotonic
char *read_file(const char *path, size_t *n, char *err, size_t errlen);  // whole file, NUL after it; NULL: err says why

// parallel_for: calls fn(ctx, i) for i in [0, n) over the process-wide pool (QWEN3_THREADS or all cores).
void parallel_for(int64_t n, void (*fn)(void *ctx, int64_t i), void *ctx);
int  n_threads(void);
// $name as an integer in [lo, hi]; dflt when unset or empty, and dflt with a line on stderr when not a number or out
// of range (tuning switches).
int env_int(const char *name, int lo, int hi, int dflt);

// Reproducible random numbers (xoshiro256**, seeded through splitmix64).
typedef struct { uint64_t s[4]; } Rng;
void     rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
double   rng_uniform(Rng *r);         // [0, 1)
float    rng_normal(Rng *r);          // N(0, 1)

// A growable NUL-terminated byte string (p may hold NULs; len counts them). Zero-initialise, then append.
typedef struct { char *p; size_t len, cap; } StrBuf;
void sb_add(StrBuf *b, const char *s, size_t n);
void sb_adds(StrBuf *b, const char *s);  // strlen(s) bytes
void sb_printf(StrBuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

// --dtype / --kv-dtype bf16|fp8 (the GPU engine's GpuOpts, engine.h): *fp8 = 1 for fp8, 0 for bf16. Prints a
// one-line error naming opt and returns -1 on any other value.
int parse_dtype_opt(const char *opt, const char *v, int *fp8);
// --head-dtype bf16|fp8|rescore: *head = HEAD_BF16, HEAD_FP8 or HEAD_RESCORE (engine.h); -1 with a one-line error.
int parse_head_opt(const char *opt, const char *v, int *head);
int parse_onoff(const char *v);  // "on" / "1" -> 1, "off" / "0" -> 0, else -1
// A head format's value for its name (-1: none).
int head_dtype_of(const char *name);

// The tree's commit for result files: $QWEN3_COMMIT if set (a copy of the tree without its history, e.g. on the
// device machine), else `git describe --always --dirty=+wip`, else "?".
void git_describe(char *out, size_t n);
