// cmd_batch.c — `qwen3-ptx batch`: an OpenAI Batch API JSONL file in, one result line per request out (in
// completion order), many requests at once through the continuous-batching scheduler (host/batch.c). Resumable:
// a rerun with the same output file skips what it holds and cuts away a torn last line. Progress on stderr.
#include "batch.h"
#include "engine.h"
#include "generate.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static void usage(FILE *out) {
    fprintf(out,
        "usage: qwen3-ptx batch -m MODEL -i REQUESTS.jsonl -o RESULTS.jsonl [options]\n"
        "Runs every request of an OpenAI Batch API input file (one JSON object a line: {\"custom_id\", \"method\":\n"
        "\"POST\", \"url\": \"/v1/chat/completions\" or \"/v1/completions\", \"body\": {...}}) and writes one result\n"
        "line per request line, in the order they finish, in the Batch API output format. A line that cannot run\n"
        "(bad JSON, no custom_id, a bad body, a duplicate custom_id, a prompt longer than the context) gets an error\n"
        "line and the rest goes on. Blank lines are skipped.\n\n"
        "  -m, --model FILE         Qwen3 GGUF file\n"
        "  -i, --input FILE         requests (JSONL)\n"
        "  -o, --output FILE        results (JSONL); if it exists, the run resumes: ids it holds are skipped, a torn\n"
        "                           last line (a killed writer) is cut away, new results are appended\n"
        "      --backend B          auto (GPU, else the CPU reference), gpu or cpu (default auto)\n"
        "      --dtype D            GPU weights: bf16 or fp8 (e4m3, one scale for each 128 weight rows\n"
        "                           along K; QWEN3_FP8_UNI=0: 128x128 blocks) (default bf16)\n"
        "      --kv-dtype D         GPU KV cache: bf16 or fp8 (e4m3, one scale per token and kv head) (default bf16)\n"
        "      --head-dtype D       GPU output head with --dtype fp8: rescore (default: fp8, then the logits near\n"
        "                           the best recomputed in bf16), bf16, or fp8 (NOTES: what it costs)\n"
        "      --native-q on|off    GPU: Q4_K / Q5_K / Q6_K / Q8_0 / Q4_0 / Q5_0 layers also keep the file's blocks\n"
        "                           and batches of 1-2 rows stream those (4.5-8.5 bits a weight; with bf16,\n"
        "                           Q4_K layers up to 32 rows, Q6_K up to 8, on the tensor cores) (default on)\n"
        "      --max-seqs N         sequences decoded together (default 256 on the GPU, 4 on the CPU)\n"
        "  -c, --ctx-size N         context tokens per sequence, prompt + reply (default 4096, capped at the model's;\n"
        "                           0 = the model's); a reply that fills it ends with finish_reason \"length\"\n"
        "      --prefill-budget N   prompt tokens prefilled per scheduler step, over all sequences (default 3840)\n"
        "      --shard I/N          run only the requests whose custom_id hashes to shard I of N (0 <= I < N);\n"
        "                           run every shard (e.g. one per GPU) and `cat` the outputs: that is the whole result\n"
        "      --think, --no-think  Qwen3 thinking on (default) or off for chat requests; a body's\n"
        "                           \"chat_template_kwargs\": {\"enable_thinking\": false} overrides it\n"
        "  -h, --help               this help\n\n"
        "Body fields: messages (chat: roles system/developer, user, assistant, tool; text content), prompt (completions),\n"
        "tools, max_tokens / max_completion_tokens (default: until EOS or a full context), temperature, top_p, top_k,\n"
        "min_p, presence_penalty, frequency_penalty, repetition_penalty, stop (a string or up to 16), seed (default:\n"
        "a hash of the custom_id, so reruns repeat), model (echoed). Sampling defaults as `run` (temperature 0.8,\n"
        "top_k 40, top_p 0.95, min_p 0.05); temperature 0 is greedy. Chat replies split <think> into reasoning_content.\n");
}

static int parse_int_opt(const char *opt, const char *v, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "qwen3-ptx: %s: '%s' is not an integer in [%ld, %ld]\n", opt, v, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: cannot open (%s)", path, strerror(errno));
    size_t cap = 1 << 16;
    char *buf = xmalloc(cap);
    *len = 0;
    size_t r;
    while ((r = fread(buf + *len, 1, cap - *len - 1, f)) > 0) {
        *len += r;
        if (*len + 1 == cap) buf = xrealloc(buf, cap *= 2);
    }
    if (ferror(f)) die("%s: read error", path);
    fclose(f);
    buf[*len] = 0;
    return buf;
}

// ---------------------------------------------------------------- writing results
typedef struct {
    FILE *out;
    const char *path;
    double last_sync, t0, last_progress;
    int write_failed, tty, total;
    long first_pass_errors;
} Sink;

static int write_line(Sink *k, const char *line) {
    // One line per fwrite + fflush: a kill can tear only the last line, which the next run cuts away.
    if (fputs(line, k->out) < 0 || fflush(k->out)) {
        fprintf(stderr, "qwen3-ptx: %s: write failed (%s)\n", k->path, strerror(errno));
        k->write_failed = 1;
        return 1;
    }
    double t = now_sec();
    if (t - k->last_sync > 2.0) {  // fsync every few seconds: bounded loss on a power cut, no per-line stall
        fsync(fileno(k->out));
        k->last_sync = t;
    }
    return 0;
}

static int on_line(void *user, const BatchRequest *r, const char *line, int is_error) {
    (void)r; (void)is_error;
    return write_line(user, line);
}

static void fmt_time(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) { snprintf(buf, n, "--:--"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void progress(Sink *k, const BatchStats *st, int final) {
    double t = now_sec(), el = t - k->t0;
    if (!final && t - k->last_progress < (k->tty ? 0.1 : 5.0)) return;
    k->last_progress = t;
    int done = st->ok + st->errors;
    double tps = el > 0 ? st->output_tokens / el : 0, eta = done ? el / done * (k->total - done) : -1;
    char eta_s[32], el_s[32];
    fmt_time(eta_s, sizeof eta_s, eta);
    fmt_time(el_s, sizeof el_s, el);
    if (k->tty) {
        char bar[31];
        int fill = k->total ? (int)(30.0 * done / k->total) : 30;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %d/%d requests | %d running | %.1f tok/s | %s elapsed | ETA %s   %s", bar, done,
                k->total, st->active, tps, el_s, eta_s, final ? "\n" : "");
    } else
        fprintf(stderr, "qwen3-ptx: batch %d/%d requests | %d running | %.1f tok/s | %s elapsed | ETA %s\n", done,
                k->total, st->active, tps, el_s, eta_s);
}

static void on_step(void *user, const BatchStats *st) { progress(user, st, 0); }

// ---------------------------------------------------------------- the command
int cmd_batch(int argc, char **argv) {
    const char *model = NULL, *in_path = NULL, *out_path = NULL, *backend = "auto";
    int max_seqs = 0, ctx_opt = 4096, think = 1, shard_i = 0, shard_n = 1, budget = BATCH_PREFILL_BUDGET;
    GpuOpts gpu;
    char why_env[160];
    if (gpu_opts_from_env(&gpu, why_env, sizeof why_env)) { fprintf(stderr, "qwen3-ptx: %s\n", why_env); return 1; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define IS(x) (!strcmp(a, x))
        if (IS("-h") || IS("--help")) { usage(stdout); return 0; }
        if (IS("--think")) { think = 1; continue; }
        if (IS("--no-think")) { think = 0; continue; }
        if (i + 1 >= argc) { fprintf(stderr, "qwen3-ptx: unknown option or missing value: '%s' (see --help)\n", a); return 1; }
        const char *v = argv[++i];
        if (IS("-m") || IS("--model")) model = v;
        else if (IS("-i") || IS("--input")) in_path = v;
        else if (IS("-o") || IS("--output")) out_path = v;
        else if (IS("--dtype")) { if (parse_dtype_opt(a, v, &gpu.fp8_weights)) return 1; }
        else if (IS("--kv-dtype")) { if (parse_dtype_opt(a, v, &gpu.fp8_kv)) return 1; }
        else if (IS("--head-dtype")) { if (parse_head_opt(a, v, &gpu.fp8_head)) return 1; }
        else if (IS("--native-q")) {
            if ((gpu.native_q = parse_onoff(v)) < 0) { fprintf(stderr, "qwen3-ptx: --native-q: '%s' (on or off)\n", v); return 1; }
        }
        else if (IS("--backend")) {
            if (strcmp(v, "auto") && strcmp(v, "gpu") && strcmp(v, "cpu")) {
                fprintf(stderr, "qwen3-ptx: --backend: '%s' (auto, gpu or cpu)\n", v);
                return 1;
            }
            backend = v;
        } else if (IS("--max-seqs")) { if (parse_int_opt(a, v, 1, 4096, &max_seqs)) return 1; }
        else if (IS("-c") || IS("--ctx-size")) { if (parse_int_opt(a, v, 0, 1 << 30, &ctx_opt)) return 1; }
        else if (IS("--prefill-budget")) { if (parse_int_opt(a, v, 1, 1 << 20, &budget)) return 1; }
        else if (IS("--shard")) {
            char *end;
            long si = strtol(v, &end, 10), sn = *end == '/' ? strtol(end + 1, &end, 10) : 0;
            if (*end || sn < 1 || sn > 1 << 20 || si < 0 || si >= sn) {
                fprintf(stderr, "qwen3-ptx: --shard: '%s' is not I/N with 0 <= I < N\n", v);
                return 1;
            }
            shard_i = (int)si;
            shard_n = (int)sn;
        } else { fprintf(stderr, "qwen3-ptx: unknown option '%s' (see --help)\n", a); return 1; }
#undef IS
    }
    if (!model) die("no model: -m MODEL.gguf (see --help)");
    if (!in_path) die("no input: -i REQUESTS.jsonl (see --help)");
    if (!out_path) die("no output: -o RESULTS.jsonl (see --help)");

    char err[512] = "";
    Qwen3Model m;
    Tokenizer *tok;
    int ctx = gen_open_model(model, ctx_opt, &m, &tok);
    size_t in_len;
    char *input = read_all(in_path, &in_len);

    // --- the output file: what it already holds (resume), a torn last line cut away ---
    struct stat sin, sout;
    if (!stat(in_path, &sin) && !stat(out_path, &sout) && sin.st_dev == sout.st_dev && sin.st_ino == sout.st_ino)
        die("%s: the output file is the input file", out_path);
    int fd = open(out_path, O_RDWR | O_CREAT | O_APPEND, 0644);
    if (fd < 0) die("%s: cannot open for writing (%s)", out_path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB))  // two writers would both answer the same requests
        die("%s: another batch job is writing it (%s)", out_path, strerror(errno));
    IdSet done = { 0 }, dups = { 0 }, seen = { 0 };
    size_t out_len;
    char *old = read_all(out_path, &out_len), *nul = memchr(old, 0, out_len);
    size_t valid;
    if (nul) die("%s: not a results file (a NUL byte at offset %zu)", out_path, (size_t)(nul - old));
    long have = batch_scan_results(old, out_len, &valid, &done, &dups, err, sizeof err);
    if (have < 0) die("%s: %s; not resuming into it", out_path, err);
    if (valid < out_len) {
        if (ftruncate(fd, (off_t)valid)) die("%s: cannot cut away the torn last line (%s)", out_path, strerror(errno));
        fprintf(stderr, "qwen3-ptx: %s: cut away a torn last line (%zu bytes)\n", out_path, out_len - valid);
    }
    free(old);
    if (have) fprintf(stderr, "qwen3-ptx: %s: resuming, %ld result lines already there\n", out_path, have);
    Sink sink = { .path = out_path, .tty = isatty(2), .t0 = now_sec() };
    sink.last_sync = sink.last_progress = sink.t0;
    sink.out = fdopen(fd, "a");
    if (!sink.out) die("%s: fdopen failed", out_path);

    // --- first pass: parse every line; errors and duplicates answered now, the rest queued ---
    BatchRequest *reqs = NULL;
    int n_reqs = 0, cap_reqs = 0, skipped_done = 0, other_shard = 0, n_lines = 0;
    long line_no = 0;
    for (char *p = input, *end = input + in_len; p < end && !sink.write_failed;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        line_no++;
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r') n--;
        char *line = p;
        p = nl ? nl + 1 : end;
        size_t k = 0;
        while (k < n && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k == n) continue;  // blank line
        BatchRequest r;
        char code[64], msg[400];
        int bad = batch_parse_request(line, n, line_no, think, &r, code, sizeof code, msg, sizeof msg);
        if (batch_shard_of(r.custom_id, shard_n) != shard_i) { other_shard++; batch_request_free(&r); continue; }
        n_lines++;
        int occ = idset_add(&seen, r.custom_id);
        if (occ == 1 ? idset_count(&done, r.custom_id) > 0 : idset_count(&dups, r.custom_id) >= occ - 1) {
            skipped_done++;  // answered by an earlier run
            batch_request_free(&r);
            continue;
        }
        if (occ > 1) {
            bad = 1;
            snprintf(code, sizeof code, "duplicate_custom_id");
            snprintf(msg, sizeof msg, "custom_id already used by an earlier line (this is line %ld)", line_no);
        }
        if (bad) {
            char *out = batch_format_error(r.custom_id, line_no, code, msg);
            write_line(&sink, out);
            free(out);
            sink.first_pass_errors++;
            batch_request_free(&r);
            continue;
        }
        if (n_reqs == cap_reqs) reqs = xrealloc(reqs, sizeof *reqs * (size_t)(cap_reqs = cap_reqs ? 2 * cap_reqs : 256));
        reqs[n_reqs++] = r;
    }
    free(input);

    // --- the engine: 256 sequence slots on the GPU (the paged KV pool decides how many run at once), 4 on the
    // CPU, unless --max-seqs ---
    BatchStats st = { 0 };
    int rc = 0;
    Engine *e = NULL;
    const char *engine_name = "none";
    if (n_reqs && !sink.write_failed) {
        if (!strcmp(backend, "auto")) {
            char why[256] = "";
            e = gpu_engine_create(&m, max_seqs ? max_seqs : 256, ctx, &gpu, why, sizeof why);
            if (!e) {
                fprintf(stderr, "qwen3-ptx: no usable GPU (%s), using the CPU reference\n", why);
                e = cpu_engine_create(&m, max_seqs ? max_seqs : 4, ctx);
            }
        } else e = engine_open(&m, backend, max_seqs ? max_seqs : !strcmp(backend, "gpu") ? 256 : 4, ctx, &gpu, err,
                               sizeof err);
        if (!e) die("%s", err[0] ? err : "cannot create the engine");
        engine_name = e->name;

        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sink.total = n_reqs;
        BatchSched s = { .e = e, .tok = tok, .prefill_budget = budget, .created = (long)time(NULL),
                         .on_line = on_line, .on_step = on_step, .user = &sink, .interrupt = &interrupted };
        rc = batch_run(&s, reqs, n_reqs, &st);
        progress(&sink, &st, 1);
        if (rc < 0) fprintf(stderr, "qwen3-ptx: %s: %s (rerun to resume)\n", model, s.err);
        else if (rc > 0 && !sink.write_failed) fprintf(stderr, "qwen3-ptx: interrupted; rerun with the same -o to resume\n");
    }
    if (sink.write_failed) rc = -1;
    fsync(fileno(sink.out));
    if (fclose(sink.out)) { fprintf(stderr, "qwen3-ptx: %s: close failed (%s)\n", out_path, strerror(errno)); rc = -1; }

    // --- summary ---
    double wall = now_sec() - sink.t0;
    fprintf(stderr, "qwen3-ptx: batch done | %d lines%s: %d ok, %ld errors, %d already in %s, %d left | "
            "prompt %ld tokens, output %ld tokens | %.1f s, %.1f output tok/s | backend %s, %d seqs\n",
            n_lines, shard_n > 1 ? " in this shard" : "", st.ok, st.errors + sink.first_pass_errors, skipped_done,
            out_path, n_reqs - st.ok - st.errors, st.prompt_tokens, st.output_tokens, wall,
            wall > 0 ? st.output_tokens / wall : 0.0, engine_name, e ? e->max_seqs : 0);
    (void)other_shard;

    for (int i = 0; i < n_reqs; i++) batch_request_free(&reqs[i]);
    free(reqs);
    idset_free(&done);
    idset_free(&dups);
    idset_free(&seen);
    if (e) e->destroy(e);
    tok_free(tok);
    qwen3_free(&m);
    return rc ? 1 : 0;
}
