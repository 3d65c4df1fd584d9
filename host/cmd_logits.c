// cmd_logits.c — `qwen3-ptx logits`: prefill a token sequence on a backend and dump every position's logits
// (T x vocab float32, row-major, little-endian). Every cross-check (GPU vs CPU, ours vs HF transformers) goes
// through this file format.
#include "engine.h"
#include "synth.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void usage(FILE *out) {
    fprintf(out,
        "usage: qwen3-ptx logits -m MODEL [--backend cpu|gpu] [--dtype bf16|fp8] [--kv-dtype bf16|fp8] [--head-dtype bf16|fp8|rescore]\n"
        "                        [--native-q on|off]\n"
        "                        (--ids \"1 2 3\" | --random N [--seed S]) [--chunk C] -o out.f32\n"
        "  Prefills the tokens (C at a time; default all at once) and writes T x vocab float32 logits.\n"
        "  --random N --seed S draws the same ids as tests/hf_reference.py --tokens-seed S --n N.\n");
}

static int parse_ids(const char *s, int **ids) {
    int n = 0, cap = 16;
    *ids = xmalloc(cap * sizeof(int));
    for (;;) {
        while (*s == ' ' || *s == ',' || *s == '\t' || *s == '\n') s++;
        if (!*s) break;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 0x7fffffff) return -1;
        if (n == cap) *ids = xrealloc(*ids, (cap *= 2) * sizeof(int));
        (*ids)[n++] = (int)v;
        s = end;
    }
    return n;
}

int cmd_logits(int argc, char **argv) {
    const char *model = NULL, *backend = "cpu", *ids_str = NULL, *out = NULL;
    int n_random = 0, chunk = 0;
    uint64_t seed = 1;
    GpuOpts gpu;
    char why_env[160];
    if (gpu_opts_from_env(&gpu, why_env, sizeof why_env)) { fprintf(stderr, "qwen3-ptx: logits: %s\n", why_env); return 1; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "-m") && has) model = argv[++i];
        else if (!strcmp(a, "--backend") && has) backend = argv[++i];
        else if (!strcmp(a, "--dtype") && has) { if (parse_dtype_opt(a, argv[++i], &gpu.fp8_weights)) return 1; }
        else if (!strcmp(a, "--kv-dtype") && has) { if (parse_dtype_opt(a, argv[++i], &gpu.fp8_kv)) return 1; }
        else if (!strcmp(a, "--head-dtype") && has) { if (parse_head_opt(a, argv[++i], &gpu.fp8_head)) return 1; }
        else if (!strcmp(a, "--native-q") && has) {
            if ((gpu.native_q = parse_onoff(argv[++i])) < 0) {
                fprintf(stderr, "qwen3-ptx: logits: --native-q: '%s' (on or off)\n", argv[i]);
                return 1;
            }
        }
        else if (!strcmp(a, "--ids") && has) ids_str = argv[++i];
        else if (!strcmp(a, "--random") && has) n_random = atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && has) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--chunk") && has) chunk = atoi(argv[++i]);
        else if (!strcmp(a, "-o") && has) out = argv[++i];
        else { fprintf(stderr, "qwen3-ptx: logits: unknown or incomplete option '%s'\n", a); usage(stderr); return 1; }
    }
    if (!model || !out || (!ids_str) == (n_random <= 0)) {
        fprintf(stderr, "qwen3-ptx: logits: need -m, -o and exactly one of --ids / --random N (N > 0)\n");
        usage(stderr);
        return 1;
    }
    char err[512];
    Qwen3Model *m = xmalloc(sizeof *m);
    if (qwen3_load(m, model, err, sizeof err)) { fprintf(stderr, "qwen3-ptx: %s\n", err); free(m); return 1; }
    const int V = m->cfg.vocab;
    int *ids = NULL, T;
    if (ids_str) {
        T = parse_ids(ids_str, &ids);
        if (T <= 0) { fprintf(stderr, "qwen3-ptx: logits: --ids: expected space-separated token ids\n"); return 1; }
        for (int i = 0; i < T; i++)
            if (ids[i] >= V) { fprintf(stderr, "qwen3-ptx: logits: token id %d >= vocab %d\n", ids[i], V); return 1; }
    } else {
        T = n_random;
        ids = xmalloc((size_t)T * sizeof(int));
        synth_random_tokens(seed, T, V, ids);
    }
    if (chunk <= 0 || chunk > T) chunk = T;

    Engine *e = NULL;
    if (!strcmp(backend, "cpu")) e = cpu_engine_create(m, 1, T);
    else if (!strcmp(backend, "gpu")) {
        e = gpu_engine_create(m, 1, T, &gpu, err, sizeof err);
        if (!e) { fprintf(stderr, "qwen3-ptx: logits: no GPU backend: %s\n", err); return 1; }
    } else { fprintf(stderr, "qwen3-ptx: logits: unknown backend '%s' (cpu, gpu)\n", backend); return 1; }
    if (!e) { fprintf(stderr, "qwen3-ptx: logits: cannot create the %s engine\n", backend); return 1; }

    float *lg = xmalloc((size_t)T * V * sizeof(float));
    double t0 = now_sec();
    for (int i = 0; i < T; i += chunk) {
        int n = T - i < chunk ? T - i : chunk;
        if (e->prefill(e, 0, ids + i, n, NULL, lg + (size_t)i * V)) {
            fprintf(stderr, "qwen3-ptx: logits: %s\n", e->err);
            return 1;
        }
    }
    double dt = now_sec() - t0;
    FILE *f = fopen(out, "wb");
    if (!f) { perror(out); return 1; }
    // Row-major T x vocab little-endian float32: x86 and the GPU hosts are little-endian, so write as is.
    if (fwrite(lg, sizeof(float), (size_t)T * V, f) != (size_t)T * V || fclose(f)) {
        fprintf(stderr, "qwen3-ptx: %s: write failed\n", out);
        return 1;
    }
    fprintf(stderr, "logits: %s backend, %d tokens in chunks of %d, %.3f s (%.1f tok/s) -> %s (%d x %d float32)\n",
            e->name, T, chunk, dt, T / (dt > 0 ? dt : 1e-9), out, T, V);
    printf("top1:");
    for (int t = 0; t < T; t++) {
        const float *row = lg + (size_t)t * V;
        int best = 0;
        for (int i = 1; i < V; i++) if (row[i] > row[best]) best = i;
        printf(" %d", best);
    }
    printf("\n");
    e->destroy(e);
    free(lg); free(ids);
    qwen3_free(m);
    free(m);
    return 0;
}
