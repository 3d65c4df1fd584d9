// throughput.c — issue 7's benchmark: offline batch throughput of the continuous-batching scheduler (batch_run,
// host/batch.c, driven in-process) on fixed workloads, against its ideal time and llama.cpp's llama-batched-bench.
//   workloads: B x (128 -> 128) for B = 1, 16, 64, 256, 1024; 64 x (1024 -> 1024); nano-vllm's random bench
//   (256 sequences, prompt and reply lengths uniform in 100..1024, seed 0). Greedy completions; every reply is
//   asked for its full length (max_tokens) and EOS is ignored (BatchSched.ignore_eos), so every reply runs to it;
//   a reply that still ends early (a stop) is counted and printed, and tok/s uses the tokens really produced.
//   Prompts: random words that are each one token (a space + letters, checked to round-trip), so lengths are exact.
//   ideal: the scheduler's own steps (same slots, same prefill budget) replayed on paper, each step costing
//   max(bytes / copy bandwidth, FLOPs / peak): bytes = the weights as the engine holds them (QWEN3_DTYPE: bf16, or
//   e4m3 linear layers with the lm_head in bf16; with --native-q on, a step of <= 32 rows reads the file's quantised
//   planes of the layers the engine streams natively at that many rows: bench/cost.h's cost_native) + K/V read and
//   written (QWEN3_KV_DTYPE: bf16, or e4m3 + a 4-byte scale per row), FLOPs = 2 per weight per token (lm_head only for sampled rows; FP8 layers at twice the BF16
//   peak) + attention. Summed over the steps.
//   peer: llama-batched-bench -fa on -ngl 99 on the same GGUF, once per (prompt, reply) length pair of the workloads it
//   can run (equal lengths, B <= 256: -npp 128 -ntg 128 -npl 1,16,64,256, and -npp 1024 -ntg 1024 -npl 64); its
//   output tok/s = B * reply / T (its T includes its prompt processing, as our wall time does).
//
//   throughput -m MODEL [--backend gpu|cpu] [--workloads fixed,long,random] [--batches 1,16,64,256,1024] [--quick]
//              [--max-seqs N] [--prefill-budget N] [--peer DIR|none] [--bw B/s] [--peak FLOP/s] [--label TEXT] [--tsv FILE]
//   (fixed: the B x (128 -> 128) set, long: 64 x (1024 -> 1024), random: nano-vllm's; --quick: two tiny ones)
#include "../host/batch.h"
#include "../host/generate.h"
#include "../host/gpu.h"
#include "../host/util.h"
#include "cost.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct { char name[64]; int n, *in, *out; } Workload;

static Workload wl_fixed(int B, int in, int out) {
    Workload w = { .n = B, .in = xmalloc(sizeof(int) * B), .out = xmalloc(sizeof(int) * B) };
    snprintf(w.name, sizeof w.name, "%d x (%d -> %d)", B, in, out);
    for (int i = 0; i < B; i++) { w.in[i] = in; w.out[i] = out; }
    return w;
}

// ---------------------------------------------------------------- the ideal: the scheduler's steps, priced
// Replays mixed_step (host/batch.c): admit FIFO into free slots; decode every sequence with a sampled token; then
// prompt chunks, oldest first, up to the budget; a reply of k tokens takes its first from the prompt's last row
// and k-1 decode rows. Returns seconds; *steps = steps.
static double ideal_seconds(const Workload *w, int slots, int budget, const Cost *k, long *steps) {
    int *req = xmalloc(sizeof(int) * slots), *pf = xcalloc(slots, sizeof(int)), *gen = xcalloc(slots, sizeof(int));
    for (int i = 0; i < slots; i++) req[i] = -1;
    int queued = 0, active = 0;
    double t = 0;
    *steps = 0;
    for (;;) {
        for (int i = 0; i < slots && queued < w->n; i++)
            if (req[i] < 0) { req[i] = queued++; pf[i] = gen[i] = 0; active++; }
        if (!active) break;
        double tokens = 0, rows = 0, flops = 0, bytes = 0;  // + the weights, once the rows are known
        for (int i = 0; i < slots; i++)  // decode rows: the fed token at position in + gen - 1 sees in + gen keys
            if (req[i] >= 0 && gen[i] > 0) {
                double ctx = w->in[req[i]] + gen[i];
                tokens++; rows++;
                flops += k->flop_key * ctx;
                bytes += k->kv_tok * ctx;
            }
        int *done_pf = xcalloc(slots, sizeof(int));
        for (int left = budget; left > 0;) {  // prompt chunks: admission order is slot order for a FIFO queue
            int best = -1;
            for (int i = 0; i < slots; i++)
                if (req[i] >= 0 && pf[i] < w->in[req[i]] && (best < 0 || req[i] < req[best])) best = i;
            if (best < 0) break;
            double p = pf[best], n = w->in[req[best]] - pf[best] < left ? w->in[req[best]] - pf[best] : left;
            tokens += n;
            flops += k->flop_key * (n * p + n * (n + 1) / 2);
            bytes += k->kv_tok * (p + n);
            pf[best] += (int)n;
            left -= (int)n;
            if (pf[best] == w->in[req[best]]) { rows++; done_pf[best] = 1; }
        }
        bytes += k->kv_tok * tokens + cost_wbytes(k, tokens);  // K and V written; the weights at this many rows
        flops += k->flop_tok * tokens + k->flop_head * rows;
        t += bytes / k->bw > flops / k->peak ? bytes / k->bw : flops / k->peak;
        (*steps)++;
        for (int i = 0; i < slots; i++) {
            if (req[i] < 0 || !(gen[i] > 0 || done_pf[i])) continue;
            if (++gen[i] >= w->out[req[i]]) { req[i] = -1; active--; }
        }
        free(done_pf);
    }
    free(req); free(pf); free(gen);
    return t;
}

// ---------------------------------------------------------------- prompts of exact length
typedef struct { int *ids, n; } Words;

// Vocabulary entries " <letters>" (3..12 letters) that encode back to themselves alone: any sequence of them
// tokenizes to exactly one token per word (the pre-tokenizer splits before each space + letters).
static Words one_token_words(const Tokenizer *tok) {
    Words w = { xmalloc(sizeof(int) * 8192), 0 };
    for (int id = 0; id < tok_vocab(tok) && w.n < 8192; id++) {
        size_t len;
        const char *p = tok_piece(tok, id, &len);
        if (tok_is_special(tok, id) || len < 4 || len > 13 || p[0] != ' ') continue;
        size_t j = 1;
        while (j < len && p[j] >= 'a' && p[j] <= 'z') j++;
        int back[4];
        if (j == len && tok_encode(tok, p, len, 0, back, 4) == 1 && back[0] == id) w.ids[w.n++] = id;
    }
    if (w.n < 100) die("throughput: the tokenizer has only %d one-token words", w.n);
    return w;
}

static char *prompt_text(const Tokenizer *tok, const Words *w, Rng *r, int n) {
    StrBuf b = { 0 };
    sb_add(&b, "", 0);
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *p = tok_piece(tok, w->ids[rng_u64(r) % (uint64_t)w->n], &len);
        sb_add(&b, p, len);
    }
    int got;
    int *ids = gen_tokenize(tok, b.p, 0, &got);
    if (!ids || got != n) die("throughput: a %d-word prompt tokenized to %d tokens", n, got);
    free(ids);
    return b.p;
}

// ---------------------------------------------------------------- one measured run
typedef struct { int eos_ended, errors; } Counts;

static int on_line(void *user, const BatchRequest *r, const char *line, int is_error) {
    Counts *c = user;
    (void)r;
    if (is_error) { if (!c->errors++) fprintf(stderr, "throughput: error line: %s", line); }
    else if (strstr(line, "\"finish_reason\": \"stop\"")) c->eos_ended++;
    return 0;
}

static double run_workload(Engine *e, const Tokenizer *tok, const Words *words, const Workload *w, int budget,
                           BatchStats *st, Counts *cnt) {
    BatchRequest *reqs = xcalloc(w->n, sizeof *reqs);
    Rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < w->n; i++) {
        char id[32];
        snprintf(id, sizeof id, "w%d", i);
        reqs[i].custom_id = xstrdup(id);
        reqs[i].line_no = i + 1;
        reqs[i].prompt = prompt_text(tok, words, &r, w->in[i]);
        reqs[i].max_tokens = w->out[i];
        reqs[i].sp = sampler_defaults();
        reqs[i].sp.temperature = 0;
    }
    memset(cnt, 0, sizeof *cnt);
    BatchSched s = { .e = e, .tok = tok, .prefill_budget = budget, .created = (long)time(NULL), .on_line = on_line,
                     .user = cnt, .ignore_eos = 1 };
    double t0 = now_sec();
    int rc = batch_run(&s, reqs, w->n, st);
    double wall = now_sec() - t0;
    if (rc) die("throughput: %s: batch_run failed: %s", w->name, s.err);
    if (cnt->errors) die("throughput: %s: %d requests answered with an error", w->name, cnt->errors);
    for (int i = 0; i < w->n; i++) batch_request_free(&reqs[i]);
    free(reqs);
    return wall;
}

// ---------------------------------------------------------------- the null engine (--backend null)
// An engine whose steps cost nothing: every wanted row's token is a hash of (sequence, length), no logits, a page
// pool that never runs out. What a workload then takes is the host's own time — the scheduler, the stop checks, the
// output lines — i.e. what sits between two GPU steps (a profiler can be pointed at it on a machine with no GPU).
typedef struct { Engine e; int *len; } NullEngine;
static int null_seq_len(Engine *e, int seq) { return ((NullEngine *)e)->len[seq]; }
static void null_free_seq(Engine *e, int seq) { ((NullEngine *)e)->len[seq] = 0; }
static int null_free_pages(Engine *e) { return e->n_pages; }
static void null_destroy(Engine *e) { free(((NullEngine *)e)->len); free(e); }
static int null_step_sample(Engine *e, int n, const int *seqs, const int *tokens, const char *want,
                            const SamplerParams *const *params, const uint64_t *draw, int *out) {
    NullEngine *z = (NullEngine *)e;
    (void)tokens; (void)params; (void)draw;
    for (int i = 0, k = 0; i < n; i++) {
        int l = ++z->len[seqs[i]];
        if (want[i]) out[k++] = (int)((((uint64_t)seqs[i] * 2654435761u) ^ ((uint64_t)l * 40503u)) % 100000) + 1000;
    }
    return 0;
}
static int null_step(Engine *e, int n, const int *seqs, const int *tokens, const char *want, float *logits) {
    (void)e; (void)n; (void)seqs; (void)tokens; (void)want; (void)logits;
    die("throughput: the null engine only samples (step_sample)");
    return -1;
}
static Engine *null_engine_create(const Qwen3Model *m, int max_seqs, int max_ctx) {
    NullEngine *z = xcalloc(1, sizeof *z);
    z->len = xcalloc(max_seqs, sizeof(int));
    z->e = (Engine){ .name = "null", .cfg = &m->cfg, .max_seqs = max_seqs, .max_ctx = max_ctx,
                     .free_seq = null_free_seq, .seq_len = null_seq_len, .destroy = null_destroy, .step = null_step,
                     .n_pages = 1 << 30, .free_pages = null_free_pages, .step_sample = null_step_sample };
    return &z->e;
}

static FILE *tsv_f;
static char tsv_head[512];  // date \t card \t commit \t model
static void tsv_row(const char *workload, const char *engine, double tps, double wall, const char *note) {
    if (tsv_f) fprintf(tsv_f, "%s\t%s\t%s\t%.1f\t%.2f\t%s\n", tsv_head, workload, engine, tps, wall, note);
}

// ---------------------------------------------------------------- the peer
// A workload llama-batched-bench can run: every sequence the same prompt and reply lengths, at most 256 of them.
static int peer_shaped(const Workload *w) {
    if (w->n > 256) return 0;
    for (int j = 0; j < w->n; j++) if (w->in[j] != w->in[0] || w->out[j] != w->out[0]) return 0;
    return 1;
}

// llama.cpp on the same GGUF: one llama-batched-bench run per (prompt, reply) length pair among our peer-shaped
// workloads, its -npl the batch sizes of that pair; each of its rows is priced like ours and set beside ours.
static void run_peer(const char *dir, const char *model, const Cost *k, int budget, const Workload *w,
                     const double *ours, int nw) {
    char bin[1024], cmd[4096];
    snprintf(bin, sizeof bin, "%s/bin/llama-batched-bench", dir);
    if (access(bin, X_OK)) { printf("peer: no %s: skipped (bench/peer_llama.sh unpacks it)\n", bin); return; }
    for (int i = 0; i < nw; i++) {
        int first = 1;
        for (int j = 0; j < i; j++)
            if (peer_shaped(&w[j]) && w[j].in[0] == w[i].in[0] && w[j].out[0] == w[i].out[0]) first = 0;
        if (!peer_shaped(&w[i]) || !first) continue;
        char npl[128] = "";
        int maxB = 0;
        for (int j = i; j < nw; j++)
            if (peer_shaped(&w[j]) && w[j].in[0] == w[i].in[0] && w[j].out[0] == w[i].out[0]) {
                size_t l = strlen(npl);
                snprintf(npl + l, sizeof npl - l, "%s%d", l ? "," : "", w[j].n);
                if (w[j].n > maxB) maxB = w[j].n;
            }
        long ctx = (long)maxB * (w[i].in[0] + w[i].out[0]);
        if (ctx < 65536) ctx = 65536;
        snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH='%s/lib':$LD_LIBRARY_PATH timeout 400 '%s' -m '%s' -c %ld -b 2048 "
                 "-ub 512 -npp %d -ntg %d -npl %s -ngl 99 -fa on 2>&1", dir, bin, model, ctx, w[i].in[0], w[i].out[0], npl);
        FILE *p = popen(cmd, "r");
        if (!p) die("peer: cannot run %s", bin);
        char line[1024], last[1024] = "";
        int rows = 0;
        while (fgets(line, sizeof line, p)) {
            double v[10];
            snprintf(last, sizeof last, "%s", line);
            // |    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |
            if (sscanf(line, " | %lf | %lf | %lf | %lf | %lf | %lf | %lf | %lf | %lf | %lf |", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) != 10) continue;
            int B = (int)v[2];
            Workload pw = wl_fixed(B, (int)v[0], (int)v[1]);
            long steps;
            double ideal = ideal_seconds(&pw, B, budget, k, &steps), tps = B * v[1] / v[8];
            char note[256];
            snprintf(note, sizeof note, "llama-batched-bench -fa on: S_TG %.1f t/s (decode only), S %.1f t/s (prompt + "
                     "output); %.1f%% of our scheduler's ideal", v[7], v[9], 100 * ideal / v[8]);
            printf("%-34s %-12s %10.3f %10.3f %12.1f %12.1f %8.1f%%", pw.name, "llama.cpp", ideal, v[8], tps,
                   B * (v[0] + v[1]) / v[8], 100 * ideal / v[8]);
            for (int j = 0; j < nw; j++)
                if (ours[j] > 0 && peer_shaped(&w[j]) && w[j].n == B && w[j].in[0] == pw.in[0] && w[j].out[0] == pw.out[0])
                    printf("   qwen3-ptx / llama.cpp = %.2f", ours[j] / tps);
            printf("\n");
            tsv_row(pw.name, "llama.cpp llama-batched-bench", tps, v[8], note);
            free(pw.in); free(pw.out);
            rows++;
        }
        int rc = pclose(p);
        if (!rows) printf("peer: llama-batched-bench -npp %d -ntg %d -npl %s gave no table (exit %d): %s", w[i].in[0],
                          w[i].out[0], npl, rc, last);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  // lines reach a log even if a time limit kills the run
    const char *path = NULL, *backend = "gpu", *tsv = NULL, *label = NULL, *peer = ".carry/llama-peer";
    const char *which = "fixed,long,random", *batches = "1,16,64,256,1024";
    int quick = 0, max_seqs = 1024, budget = BATCH_PREFILL_BUDGET, peer_set = 0;
    double bw = 0, peak = 989e12;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) { quick = 1; continue; }
        if (!v) die("usage: throughput -m MODEL [--backend gpu|cpu|null] [--workloads fixed,long,random] [--quick] "
                    "[--batches B,B,...] [--max-seqs N] [--prefill-budget N] "
                    "[--peer DIR|none] [--bw B/s] [--peak FLOP/s] [--label TEXT] [--tsv FILE]");
        i++;
        if (!strcmp(a, "-m")) path = v;
        else if (!strcmp(a, "--backend")) backend = v;
        else if (!strcmp(a, "--workloads")) which = v;
        else if (!strcmp(a, "--batches")) batches = v;
        else if (!strcmp(a, "--max-seqs")) max_seqs = atoi(v);
        else if (!strcmp(a, "--prefill-budget")) budget = atoi(v);
        else if (!strcmp(a, "--peer")) peer = v, peer_set = 1;
        else if (!strcmp(a, "--bw")) bw = atof(v);
        else if (!strcmp(a, "--peak")) peak = atof(v);
        else if (!strcmp(a, "--label")) label = v;
        else if (!strcmp(a, "--tsv")) tsv = v;
        else die("throughput: unknown option '%s'", a);
    }
    if (!path) die("throughput: -m MODEL is required");
    if (max_seqs < 1 || budget < 1) die("throughput: --max-seqs and --prefill-budget must be >= 1");
    int cpu = !strcmp(backend, "cpu"), null = !strcmp(backend, "null");
    if (!cpu && !null && strcmp(backend, "gpu")) die("throughput: --backend '%s' (gpu, cpu or null)", backend);
    char card[256] = "cpu (reference engine)";
    if (null) { cpu = 1; snprintf(card, sizeof card, "none (null engine: the host's time alone)"); }
    if (!cpu) {  // the card's name and copy bandwidth; the engine opens its own context
        Gpu g;
        char err[256];
        if (gpu_init(&g, err, sizeof err)) { printf("throughput: no GPU (%s): nothing measured\n", err); return 1; }
        snprintf(card, sizeof card, "%s", g.name);
        if (bw == 0) bw = gpu_copy_bandwidth(&g);
        gpu_shutdown(&g);
    }
    if (bw == 0) bw = 3.0e12;
    Qwen3Model m;
    Tokenizer *tok;
    gen_open_model(path, 0, &m, &tok);
    Words words = one_token_words(tok);
    GpuOpts opts = { 0 };
    char oerr[128];
    if (!cpu && gpu_opts_from_env(&opts, oerr, sizeof oerr)) die("throughput: %s", oerr);
    Cost k = cost_of(&m.cfg, bw, peak, opts.fp8_weights, opts.fp8_head, opts.fp8_kv);
    if (!cpu && opts.native_q) cost_native(&k, &m, opts.fp8_weights, opts.fp8_head);  // steps of <= 32 rows
    if (!label) label = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *wname = !opts.fp8_weights ? "bf16" : opts.fp8_head == HEAD_RESCORE ? "FP8 (head fp8, rescored)"
                        : opts.fp8_head ? "FP8 (head fp8)" : "FP8 (head bf16)";
    printf("%s, %s: %.2f GB of %s weights a step (%.2f GB at one row), %.1f KB of %s K+V a token; ideal steps at "
           "%.2f TB/s (copy) and %.0f TFLOP/s (BF16; FP8 layers at twice that); prefill budget %d tokens a step; %d "
           "one-token words\n", card, label, k.wbytes / 1e9, wname, cost_wbytes(&k, 1) / 1e9, k.kv_tok / 1e3,
           opts.fp8_kv ? "fp8" : "bf16", bw / 1e12, peak / 1e12, budget, words.n);

    // --- workloads ---
    Workload w[8];
    int nw = 0;
    if (quick) { w[nw++] = wl_fixed(8, 32, 16); w[nw++] = wl_fixed(2, 32, 16); }
    else {
        for (const char *b = batches; strstr(which, "fixed") && *b && nw < 6;) {  // B x (128 -> 128)
            char *end;
            long B = strtol(b, &end, 10);
            if (end == b || B < 1 || B > 1024 || (*end && *end != ',')) die("throughput: bad --batches '%s'", batches);
            w[nw++] = wl_fixed((int)B, 128, 128);
            b = *end ? end + 1 : end;
        }
        if (strstr(which, "long")) w[nw++] = wl_fixed(64, 1024, 1024);
    }
    if (!quick && strstr(which, "random")) {  // nano-vllm's shape; lengths from our Rng (seed 0), not Python's
        Workload r = { .n = 256, .in = xmalloc(sizeof(int) * 256), .out = xmalloc(sizeof(int) * 256) };
        snprintf(r.name, sizeof r.name, "256 x (100..1024 -> 100..1024) random");
        Rng rr;
        rng_seed(&rr, 0);
        for (int i = 0; i < 256; i++) { r.in[i] = 100 + (int)(rng_u64(&rr) % 925); r.out[i] = 100 + (int)(rng_u64(&rr) % 925); }
        w[nw++] = r;
    }
    if (!nw) die("throughput: --workloads '%s' names none of fixed, long, random", which);
    char date[32], commit[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    git_describe(commit, sizeof commit);
    snprintf(tsv_head, sizeof tsv_head, "%s\t%s\t%s\t%s", date, card, commit, label);
    if (tsv) {
        tsv_f = fopen(tsv, "a");
        if (!tsv_f) die("%s: cannot open for appending", tsv);
        if (ftell(tsv_f) == 0) fprintf(tsv_f, "# date\tcard\tcommit\tmodel\tworkload\tengine\toutput tok/s\twall s\tnote\n");
    }

    // --- one engine for every workload: slots for the largest, context for the longest; its KV page pool (90% of
    // the free memory on the GPU) decides how many of them run at once ---
    int want = 0, ctx = 0;
    for (int i = 0; i < nw; i++) {
        if (w[i].n > want) want = w[i].n;
        for (int j = 0; j < w[i].n; j++) if (w[i].in[j] + w[i].out[j] > ctx) ctx = w[i].in[j] + w[i].out[j];
    }
    if (want > max_seqs) want = max_seqs;
    Engine *e = NULL;
    char err[256] = "";
    for (; !e && want >= 1; want /= 2)  // halved until it fits
        e = null ? null_engine_create(&m, want, ctx) : cpu ? cpu_engine_create(&m, want, ctx)
                 : gpu_engine_create(&m, want, ctx, NULL, err, sizeof err);
    if (!e) die("throughput: no engine: %s", err);
    printf("engine %s: %d slots x %d tokens", e->name, e->max_seqs, e->max_ctx);
    if (e->free_pages) printf(", KV pool %d pages = %d tokens", e->n_pages, e->n_pages * KV_PAGE);
    printf(" (the ideal assumes every slot's KV fits)\n");
    {
        Workload warm = wl_fixed(e->max_seqs < 8 ? e->max_seqs : 8, ctx / 2 < 64 ? ctx / 2 : 64, 8);  // first-use costs
        BatchStats st;
        Counts c;
        run_workload(e, tok, &words, &warm, budget, &st, &c);
        free(warm.in); free(warm.out);
    }
    printf("%-34s %-12s %10s %10s %12s %12s %9s\n", "workload", "engine", "ideal s", "wall s", "out tok/s",
           "total tok/s", "% ideal");
    double ours[8] = { 0 };  // per workload
    for (int i = 0; i < nw; i++) {
        int slots = e->max_seqs < w[i].n ? e->max_seqs : w[i].n;
        long steps;
        double ideal = ideal_seconds(&w[i], slots, budget, &k, &steps);
        BatchStats st;
        Counts c;
        double wall = run_workload(e, tok, &words, &w[i], budget, &st, &c);
        long want_out = 0;
        for (int j = 0; j < w[i].n; j++) want_out += w[i].out[j];
        double tps = st.output_tokens / wall;
        printf("%-34s %-12s %10.3f %10.3f %12.1f %12.1f %8.1f%%   %d slots, %ld steps (ideal %ld)", w[i].name,
               "qwen3-ptx", ideal, wall, tps, (st.prompt_tokens + st.output_tokens) / wall, 100 * ideal / wall, slots,
               st.steps, steps);
        double dec_tps = st.decode_only_s > 0 ? st.decode_only_rows / st.decode_only_s : 0;
        if (st.decode_only_rows) printf("; decode-only steps %.1f tok/s", dec_tps);
        if (st.preemptions) printf("; %ld preemptions (KV pool full)", st.preemptions);
        if (c.eos_ended) printf("; %d replies stopped early: %ld of %ld tokens", c.eos_ended, st.output_tokens, want_out);
        printf("\n");
        ours[i] = tps;
        char note[256], eng[96];
        snprintf(note, sizeof note, "total %.1f tok/s; decode-only steps %.1f tok/s; ideal %.3f s (%.1f%%); %ld steps; "
                 "prefill budget %d; %ld preemptions%s", (st.prompt_tokens + st.output_tokens) / wall, dec_tps, ideal,
                 100 * ideal / wall, st.steps, budget, st.preemptions, c.eos_ended ? "; some replies stopped early" : "");
        snprintf(eng, sizeof eng, "qwen3-ptx batch_run %d slots (%s)", slots, e->name);
        tsv_row(w[i].name, eng, tps, wall, note);
        if (tsv_f) fflush(tsv_f);
    }
    if (e) e->destroy(e);
    // (the null engine runs the peer only when --peer names it: tests/t_throughput.sh with a stand-in)
    if ((!cpu || (null && peer_set)) && strcmp(peer, "none")) run_peer(peer, path, &k, budget, w, ours, nw);
    if (tsv_f) fclose(tsv_f);
    for (int i = 0; i < nw; i++) { free(w[i].in); free(w[i].out); }
    free(words.ids);
    tok_free(tok);
    qwen3_free(&m);
    return 0;
}
