// bench_e2e.c — whole-model speed of the engine, the way llama-bench measures it: pp<N> (prefill of N tokens
// into an empty sequence) and tg<N> (N single-token decode steps, batch 1, each step's greedy id sampled on the GPU
// and fed back, as `run` does; --tg-logits: each step's logits to the host instead). Prints the floor first.
//   bench_e2e -m MODEL [--backend gpu|cpu] [--pp 512] [--tg 128] [--tg-logits] [--reps 3] [--bw B/s (default: measured copy)]
//             [--peak 989e12]
//             [--tsv FILE] [--label TEXT]
#include "../host/engine.h"
#include "../host/util.h"
#include "../host/gpu.h"
#include "../host/gpu_ops.h"
#include "../host/sampler.h"
#include "cost.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The floor's bandwidth: this card's copy rate, measured in the same run (gpu_copy_bandwidth).
static double measure_copy_bw(void) {
    Gpu g;
    char err[256];
    if (gpu_init(&g, err, sizeof err)) return 0;
    double bw = gpu_copy_bandwidth(&g);
    gpu_shutdown(&g);
    return bw;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *path = NULL, *backend = "gpu", *tsv = NULL, *label = "";
    int pp = 512, tg = 128, reps = 3, tg_logits = 0;
    double bw = 0, peak = 989e12;
    GpuOpts gpu;
    char err[256];
    if (gpu_opts_from_env(&gpu, err, sizeof err)) die("bench_e2e: %s", err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-m") && v) path = argv[++i];
        else if (!strcmp(a, "--backend") && v) backend = argv[++i];
        else if (!strcmp(a, "--dtype") && v) { if (parse_dtype_opt(a, argv[++i], &gpu.fp8_weights)) return 1; }
        else if (!strcmp(a, "--kv-dtype") && v) { if (parse_dtype_opt(a, argv[++i], &gpu.fp8_kv)) return 1; }
        else if (!strcmp(a, "--head-dtype") && v) { if (parse_head_opt(a, argv[++i], &gpu.fp8_head)) return 1; }
        else if (!strcmp(a, "--pp") && v) pp = atoi(argv[++i]);
        else if (!strcmp(a, "--tg") && v) tg = atoi(argv[++i]);
        else if (!strcmp(a, "--reps") && v) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--bw") && v) bw = atof(argv[++i]);
        else if (!strcmp(a, "--peak") && v) peak = atof(argv[++i]);
        else if (!strcmp(a, "--tsv") && v) tsv = argv[++i];
        else if (!strcmp(a, "--label") && v) label = argv[++i];
        else if (!strcmp(a, "--tg-logits")) tg_logits = 1;
        else die("usage: bench_e2e -m MODEL [--backend gpu|cpu] [--dtype bf16|fp8] [--kv-dtype bf16|fp8] [--head-dtype bf16|fp8|rescore] [--pp N] [--tg N] [--tg-logits] [--reps N] [--bw B/s] [--peak FLOP/s] [--tsv F] [--label S]");
    }
    if (!path) die("bench_e2e: -m MODEL is required");
    if (reps < 1 || reps > 64) die("--reps must be 1..64");
    Qwen3Model m;
    if (qwen3_load(&m, path, err, sizeof err)) die("%s", err);
    const Qwen3Config *c = &m.cfg;
    int max_ctx = pp + tg + 8;
    if (bw == 0 && strcmp(backend, "cpu")) bw = measure_copy_bw();
    if (bw == 0) bw = 3.0e12;  // the H100's measured copy, when nothing better is known
    Engine *e = !strcmp(backend, "cpu") ? cpu_engine_create(&m, 1, max_ctx) : gpu_engine_create(&m, 1, max_ctx, &gpu, err, sizeof err);
    if (!e) die("no %s engine: %s", backend, err);

    // --- the floors (bench/cost.h): a decode step reads every weight as the engine holds it (e4m3 linear layers
    // with --dtype fp8) and the K/V of its context (on average pp + tg/2 tokens); the prefill's FLOPs are the linear
    // layers' for every token, the head's for the last, and causal attention, at the BF16 peak (FP8 layers at twice it)
    Cost k = cost_of(c, bw, peak, gpu.fp8_weights, gpu.fp8_head, gpu.fp8_kv);
    int native = strcmp(backend, "cpu") && gpu.native_q;
    if (native) k.wbytes = native_wbytes(&m, gpu.fp8_weights, gpu.fp8_head, 1);
    double tg_bytes = k.wbytes + k.kv_tok * (pp + tg / 2.0);
    double tg_floor = tg_bytes / bw;
    double pp_floor = (k.flop_tok * pp + k.flop_head + k.flop_key * pp * (pp + 1.0) / 2) / peak;
    printf("%s %s: %.2f G linear params; tg floor %.3f ms/token (%.0f tok/s, %.2f GB of %s weights and K/V at "
           "%.2f TB/s); pp%d floor %.2f ms (%.0f tok/s at %.0f TFLOP/s%s)\n", label, path, k.params / 1e9,
           tg_floor * 1e3, 1 / tg_floor, tg_bytes / 1e9, native ? (gpu.fp8_weights ? "native quants / fp8" :
           "native quants / bf16") : gpu.fp8_weights ? "fp8" : "bf16", bw / 1e12, pp,
           pp_floor * 1e3, pp / pp_floor, peak / 1e12, gpu.fp8_weights ? " BF16, FP8 layers at twice that" : "");

    int V = c->vocab;
    float *logits = xmalloc((size_t)V * sizeof(float));
    int *toks = xmalloc((size_t)pp * sizeof(int));
    Rng r;
    rng_seed(&r, 1234);
    for (int i = 0; i < pp; i++) toks[i] = (int)(rng_u64(&r) % 150000);
    // tg: each step's greedy id comes from the engine's own sampler (step_sample: on the GPU, as `run` and `chat` do
    // since session 35), or with --tg-logits (and on the CPU reference) the step's logits come to the host and a
    // random token is fed back (the loop before session 35; no sampling)
    int on_device = !tg_logits && e->step_sample && strcmp(backend, "cpu");
    SamplerParams greedy_p = sampler_defaults();
    greedy_p.temperature = 0.0f;
    const SamplerParams *greedy = &greedy_p;
    double pp_t[64], tg_t[64];
    for (int rep = -1; rep < reps; rep++) {  // rep -1 warms up
        e->free_seq(e, 0);
        double t0 = now_sec();
        if (e->prefill(e, 0, toks, pp, logits, NULL)) die("prefill: %s", e->err);
        double t1 = now_sec();
        int tok = 1;
        for (int s = 0; s < tg; s++) {
            if (on_device) {  // as `run` decodes: the greedy id sampled on the device, fed back
                int next;
                if (e->step_sample(e, 1, (int[]){ 0 }, &tok, "\1", &greedy, (uint64_t[]){ (uint64_t)s }, &next))
                    die("decode: %s", e->err);
                tok = next >= 0 ? next : 1;  // (no usable logit: any token does the same work)
                continue;
            }
            if (e->decode(e, 1, (int[]){ 0 }, &tok, logits)) die("decode: %s", e->err);
            tok = (int)(rng_u64(&r) % 150000);  // token choice does not change the work
        }
        double t2 = now_sec();
        if (rep >= 0) { pp_t[rep] = t1 - t0; tg_t[rep] = (t2 - t1) / tg; }
    }
    qsort(pp_t, reps, sizeof(double), cmp_double);
    qsort(tg_t, reps, sizeof(double), cmp_double);
    double pps = pp / pp_t[reps / 2], tgs = 1 / tg_t[reps / 2];
    printf("%s pp%d: %.1f tok/s (%.2f ms, %.1f%% of floor)   tg%d: %.1f tok/s (%.3f ms/token, %.1f%% of floor; %s)\n",
           label, pp, pps, pp_t[reps / 2] * 1e3, 100 * pp_floor / pp_t[reps / 2], tg, tgs, tg_t[reps / 2] * 1e3,
           100 * tg_floor / tg_t[reps / 2], on_device ? "greedy ids from the device" : "logits to the host");
    if (tsv) {
        FILE *f = fopen(tsv, "a");
        if (!f) die("cannot open %s", tsv);
        fprintf(f, "%s\t%s\tpp%d\t%.1f\t%.1f\n%s\t%s\ttg%d\t%.1f\t%.1f\n", label, backend, pp, pps, 100 * pp_floor / pp_t[reps / 2],
                label, backend, tg, tgs, 100 * tg_floor / tg_t[reps / 2]);
        fclose(f);
    }
    e->destroy(e);
    qwen3_free(&m);
    free(logits); free(toks);
    return 0;
}
