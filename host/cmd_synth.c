// cmd_synth.c — `qwen3-ptx synth`: write a Qwen3 GGUF with random weights of the real shapes and the real
// tokenizer (host/synth.c), and optionally check that it makes a good test (peaked, varied logits).
#include "synth.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
        "usage: qwen3-ptx synth --size {tiny,tiny-untied,0.6b,1.7b,4b,8b,14b,32b} --type {f32,f16,bf16,q8_0,q4_k_m,q5_k_m,q4_0,q5_0} [--seed N]\n"
        "                       -o FILE [--tokenizer tokenizer.json] [--tokenizer-config tokenizer_config.json]\n"
        "                       [--no-tokenizer] [--check]\n"
        "  Writes the file as llama.cpp's convert_hf_to_gguf.py (+ llama-quantize for q4_k_m / q5_k_m / q4_0 / q5_0)\n"
        "  would write the real model; weights are uniform random, scaled so logits are as peaked as a real model's\n"
        "  (std ~5; NOTES.md), deterministic per seed.\n"
        "  --check: run the CPU reference on 64 seeded random tokens and print last-position entropy (nats),\n"
        "           distinct argmax over the 64 positions and the logit std.\n");
}

int cmd_synth(int argc, char **argv) {
    SynthOptions o = { .size = NULL, .type = "f16", .seed = 1, .verbose = 1 };
    int check = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--size") && has) o.size = argv[++i];
        else if (!strcmp(a, "--type") && has) o.type = argv[++i];
        else if (!strcmp(a, "--seed") && has) o.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "-o") && has) o.out = argv[++i];
        else if (!strcmp(a, "--tokenizer") && has) o.tokenizer_json = argv[++i];
        else if (!strcmp(a, "--tokenizer-config") && has) o.tokenizer_config_json = argv[++i];
        else if (!strcmp(a, "--no-tokenizer")) o.tokenizer_json = "";
        else if (!strcmp(a, "--check")) check = 1;
        else { fprintf(stderr, "qwen3-ptx: synth: unknown or incomplete option '%s'\n", a); usage(stderr); return 1; }
    }
    if (!o.size || !o.out) { fprintf(stderr, "qwen3-ptx: synth: --size and -o are required\n"); usage(stderr); return 1; }
    char err[512] = "";
    if (synth_write(&o, err, sizeof err)) { fprintf(stderr, "qwen3-ptx: %s\n", err); return 1; }
    if (check) {
        SynthCheck c;
        double t0 = now_sec();
        if (synth_check(o.out, o.seed, 64, &c, err, sizeof err)) { fprintf(stderr, "qwen3-ptx: %s\n", err); return 1; }
        printf("check (%d random tokens, CPU reference, %.1f s): last-position entropy %.2f nats, distinct argmax "
               "%d/%d, logit std %.2f, argmax = input token at %d/%d\n", c.n, now_sec() - t0, c.entropy_last,
               c.distinct_argmax, c.n, c.logit_std, c.argmax_is_input, c.n);
    }
    return 0;
}
