// generate.c — the generation loop (prefill in chunks, decode token by token, stream, stop), the stop-string
// text buffer it streams through, backend choice, and the command-line options `run` and `chat` share.
// defines: textstop_*, generate, gen_reuse_prefix, gen_tokenize, gen_result_free, gen_default_eos, utf8_valid, engine_open, gen_cli_parse/usage
#include "generate.h"
#include "util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------- UTF-8
int utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (!len || c > 0xF4 || c == 0xC0 || c == 0xC1 || i + (size_t)len > n) return 0;
        for (int k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        unsigned c1 = s[i + 1];
        if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong 3-byte
        if (c == 0xED && c1 > 0x9F) return 0;  // UTF-16 surrogates
        if (c == 0xF0 && c1 < 0x90) return 0;  // overlong 4-byte
        if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
        i += (size_t)len;
    }
    return 1;
}

// ---------------------------------------------------------------- streamed text with stop strings
static void grow(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    *p = xrealloc(*p, c);
    *cap = c;
}

void textstop_init(TextStop *ts, const char *const *stop, int n_stop) {
    memset(ts, 0, sizeof *ts);
    ts->stop = stop;
    ts->n_stop = n_stop;
    grow(&ts->text, &ts->cap_text, 1);
    ts->text[0] = 0;
}

void textstop_free(TextStop *ts) {
    free(ts->held);
    free(ts->text);
    memset(ts, 0, sizeof *ts);
}

static size_t release(TextStop *ts, size_t n) {
    grow(&ts->text, &ts->cap_text, ts->n_text + n + 1);
    memcpy(ts->text + ts->n_text, ts->held, n);
    ts->n_text += n;
    ts->text[ts->n_text] = 0;
    memmove(ts->held, ts->held + n, ts->n_held - n);
    ts->n_held -= n;
    return n;
}

// Releases all held text that cannot be part of a stop string; on a full match releases what precedes it,
// drops the rest and sets stopped. A match may start anywhere in held (held never contains a full match).
static size_t settle(TextStop *ts, int final) {
    size_t first = (size_t)-1;
    for (int k = 0; k < ts->n_stop; k++) {
        size_t m = strlen(ts->stop[k]);
        if (m == 0 || m > ts->n_held) continue;
        for (size_t i = 0; i + m <= ts->n_held && i < first; i++)
            if (!memcmp(ts->held + i, ts->stop[k], m)) { first = i; break; }
    }
    if (first != (size_t)-1) {
        size_t out = release(ts, first);
        ts->n_held = 0;
        ts->stopped = 1;
        return out;
    }
    if (final) return release(ts, ts->n_held);
    size_t keep = 0;  // the longest tail of held that begins some stop string
    for (int k = 0; k < ts->n_stop; k++) {
        size_t m = strlen(ts->stop[k]);
        for (size_t j = m ? m - 1 : 0; j > keep; j--)
            if (j <= ts->n_held && !memcmp(ts->held + ts->n_held - j, ts->stop[k], j)) { keep = j; break; }
    }
    return release(ts, ts->n_held - keep);
}

static void hold(TextStop *ts, const char *s, size_t n) {
    grow(&ts->held, &ts->cap_held, ts->n_held + n + 1);
    memcpy(ts->held + ts->n_held, s, n);
    ts->n_held += n;
}

size_t textstop_push(TextStop *ts, const Tokenizer *tok, int id) {
    if (ts->stopped) return 0;
    size_t n;
    tok_piece(tok, id, &n);  // the decoded bytes fit in piece + the few pending ones (+ U+FFFD expansions)
    size_t cap = 4 * (n + sizeof ts->ts.pend) + 4;
    char small[512], *buf = cap <= sizeof small ? small : xmalloc(cap);
    size_t got = tok_stream_push(tok, &ts->ts, id, buf, cap);
    hold(ts, buf, got);
    if (buf != small) free(buf);
    return settle(ts, 0);
}

size_t textstop_finish(TextStop *ts) {
    if (ts->stopped) return 0;
    char buf[64];
    size_t got = tok_stream_flush(&ts->ts, buf, sizeof buf);
    hold(ts, buf, got);
    return settle(ts, 1);
}

// ---------------------------------------------------------------- the loop
int gen_default_eos(const Tokenizer *tok, int ids[3]) {
    int cand[3] = { tok_eos(tok), tok_id(tok, "<|im_end|>"), tok_id(tok, "<|endoftext|>") }, n = 0;
    for (int i = 0; i < 3; i++) {
        int dup = cand[i] < 0;
        for (int j = 0; j < n; j++) dup |= ids[j] == cand[i];
        if (!dup) ids[n++] = cand[i];
    }
    return n;
}

int *gen_tokenize(const Tokenizer *tok, const char *text, int parse_special, int *n) {
    size_t len = strlen(text);
    int cap = (int)len + 8;  // byte-level BPE: at most one token per byte (+ room for a BOS, were one added)
    int *ids = xmalloc(sizeof(int) * (size_t)cap);
    *n = tok_encode(tok, text, len, parse_special, ids, cap);
    if (*n > cap) {
        ids = xrealloc(ids, sizeof(int) * (size_t)*n);
        *n = tok_encode(tok, text, len, parse_special, ids, *n);
    }
    if (*n < 0) { free(ids); return NULL; }
    return ids;
}

void gen_result_free(GenResult *r) {
    free(r->tokens);
    free(r->text);
    r->tokens = NULL;
    r->text = NULL;
}

static int fail(GenResult *r, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int fail(GenResult *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->finish = "error";
    return -1;
}

static int emit(const GenParams *gp, const TextStop *ts, size_t n) {
    if (!n || !gp->on_text) return 0;
    return gp->on_text(gp->user, ts->text + ts->n_text - n, n);
}

int gen_next_token(Sampler *s, float *logits, const Tokenizer *tok, TextStop *ts, const int *eos, int n_eos,
                   int n_gen, int cap_tokens, int ctx_full, const char **finish, size_t *released) {
    *finish = NULL;
    *released = 0;
    int id = sample(s, logits);
    if (id < 0) return -1;
    return gen_accept_token(s, id, tok, ts, eos, n_eos, n_gen, cap_tokens, ctx_full, finish, released);
}

int gen_accept_token(Sampler *s, int id, const Tokenizer *tok, TextStop *ts, const int *eos, int n_eos, int n_gen,
                     int cap_tokens, int ctx_full, const char **finish, size_t *released) {
    *finish = NULL;
    *released = 0;
    if (s) sampler_accept(s, id);
    for (int k = 0; k < n_eos; k++)
        if (id == eos[k]) { *finish = "stop"; return id; }
    *released = textstop_push(ts, tok, id);
    if (ts->stopped) *finish = "stop";
    else if (n_gen + 1 >= cap_tokens || ctx_full) *finish = "length";  // no room to feed it back
    return id;
}

int generate(Engine *e, int seq, const Tokenizer *tok, Sampler *s, const int *prompt, int n_prompt, int n_past,
             const GenParams *gp, GenResult *r) {
    memset(r, 0, sizeof *r);
    r->n_prompt = n_prompt;
    r->finish = "error";
    int vocab = e->cfg->vocab, chunk = gp->prefill_chunk > 0 ? gp->prefill_chunk : 512;
    // A reply can never outgrow the context, so that also bounds the token buffer (-n 1e9 must not allocate 4 GB).
    int cap_tokens = gp->max_tokens >= 0 && gp->max_tokens < e->max_ctx ? gp->max_tokens : e->max_ctx;
    r->tokens = xmalloc(sizeof(int) * (size_t)(cap_tokens + 1));
    r->text = xstrdup("");
    if (n_prompt <= 0) return fail(r, "the prompt is empty");
    if (n_prompt >= e->max_ctx)
        return fail(r, "the prompt is %d tokens but the context holds %d (raise -c)", n_prompt, e->max_ctx);
    if (n_past < 0 || n_past >= n_prompt) return fail(r, "bad cached-prefix length %d of %d", n_past, n_prompt);
    if (e->seq_len(e, seq) != n_past)
        return fail(r, "sequence %d caches %d tokens, expected %d", seq, e->seq_len(e, seq), n_past);
    if (s->vocab != vocab) return fail(r, "sampler vocabulary %d != model vocabulary %d", s->vocab, vocab);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= vocab) return fail(r, "prompt token %d is outside the vocabulary", prompt[i]);

    s->n_history = 0;  // the penalties look at this prompt and this reply
    for (int i = 0; i < n_prompt; i++) sampler_accept(s, prompt[i]);
    // An engine that samples on the device (the GPU one: Engine.step_sample) is asked for token ids instead of
    // logits: no 608 KB of logits to the host and no CPU sampler (~0.2-0.35 ms a token at Qwen3's vocabulary)
    // per token. The same greedy tokens; with a temperature the same distribution from the device's counter-based
    // random stream (seed, tokens so far). The CPU reference keeps sampler.c (QWEN3_GEN_SAMPLE=host: both do).
    const char *gs = getenv("QWEN3_GEN_SAMPLE");
    int on_device = e->step_sample && strcmp(e->name, "cpu") && !(gs && !strcmp(gs, "host"));
    const SamplerParams *sp = &s->p;
    int next = -1, *seqs = NULL;
    char *want = NULL;
    if (on_device) {
        seqs = xmalloc(sizeof(int) * (size_t)chunk);
        want = xcalloc((size_t)chunk, 1);
        for (int i = 0; i < chunk; i++) seqs[i] = seq;
    }
    float *logits = xmalloc(sizeof(float) * (size_t)vocab);
    TextStop ts;
    textstop_init(&ts, gp->stop, gp->n_stop);
    int rc = 0;

    // --- prefill: the uncached part of the prompt, `chunk` tokens per call; logits only for the last one ---
    double t0 = now_sec();
    for (int i = n_past; i < n_prompt; i += chunk) {
        int n = n_prompt - i < chunk ? n_prompt - i : chunk, last = i + n == n_prompt;
        if (on_device && last) {  // the prompt's last token's row sampled on the device: draw 0
            want[n - 1] = 1;
            int rc_s = e->step_sample(e, n, seqs, prompt + i, want, &sp, (uint64_t[]){ 0 }, &next);
            want[n - 1] = 0;
            if (rc_s) { rc = fail(r, "prefill: %s", e->err); goto done; }
        } else if (e->prefill(e, seq, prompt + i, n, last && !on_device ? logits : NULL, NULL)) {
            rc = fail(r, "prefill: %s", e->err);
            goto done;
        }
        if (gp->interrupt && *gp->interrupt) { r->finish = "interrupted"; goto done; }
    }
    r->n_prefilled = n_prompt - n_past;
    r->prefill_s = now_sec() - t0;

    // --- decode: sample, check the stop conditions, feed the token back ---
    double t1 = now_sec();
    for (;;) {
        if (gp->interrupt && *gp->interrupt) { r->finish = "interrupted"; break; }
        if (r->n_gen >= cap_tokens) { r->finish = "length"; break; }
        const char *fin;
        size_t released;
        int ctx_full = e->seq_len(e, seq) >= e->max_ctx, id = next;
        if (!on_device)
            id = gen_next_token(s, logits, tok, &ts, gp->eos, gp->n_eos, r->n_gen, cap_tokens, ctx_full, &fin, &released);
        else if (id >= 0)
            gen_accept_token(s, id, tok, &ts, gp->eos, gp->n_eos, r->n_gen, cap_tokens, ctx_full, &fin, &released);
        if (id < 0) { rc = fail(r, "the model produced no usable logits (NaN) at token %d", r->n_gen); break; }
        r->tokens[r->n_gen++] = id;
        if (emit(gp, &ts, released)) { r->finish = "interrupted"; break; }
        if (fin) { r->finish = fin; break; }
        if (on_device ? e->step_sample(e, 1, &seq, &id, "\1", &sp, (uint64_t[]){ (uint64_t)r->n_gen }, &next)
                      : e->decode(e, 1, &seq, &id, logits)) {
            rc = fail(r, "decode: %s", e->err);
            break;
        }
        r->n_decoded++;
    }
    r->decode_s = now_sec() - t1;
    if (rc == 0) emit(gp, &ts, textstop_finish(&ts));

done:
    free(r->text);
    r->text = ts.text;  // ownership moves to the result
    ts.text = NULL;
    textstop_free(&ts);
    free(logits);
    free(seqs);
    free(want);
    if (r->prefill_s > 0) r->prefill_tps = r->n_prefilled / r->prefill_s;
    if (r->decode_s > 0) r->decode_tps = r->n_decoded / r->decode_s;
    return rc;
}

int gen_reuse_prefix(Engine *e, int seq, const int *cached, int n_cached, const int *ids, int n_ids) {
    int have = e->seq_len(e, seq), common = 0;
    if (n_cached > have) n_cached = have;
    while (common < n_cached && common < n_ids - 1 && cached[common] == ids[common]) common++;
    if (common < have && (!e->truncate || e->truncate(e, seq, common))) {
        e->free_seq(e, seq);
        common = 0;
    }
    return common;
}

// ---------------------------------------------------------------- backends
int gen_open_model(const char *path, int ctx_opt, Qwen3Model *m, Tokenizer **tok) {
    char err[512];
    if (qwen3_load(m, path, err, sizeof err)) die("%s", err);
    *tok = tok_load(&m->gguf, err, sizeof err);
    if (!*tok) die("%s: %s", path, err);
    return m->cfg.ctx_len > 0 && (ctx_opt == 0 || ctx_opt > m->cfg.ctx_len) ? m->cfg.ctx_len : ctx_opt;
}

Engine *engine_open(const Qwen3Model *m, const char *backend, int max_seqs, int max_ctx, const GpuOpts *gpu, char *err,
                    size_t errlen) {
    if (!strcmp(backend, "cpu")) return cpu_engine_create(m, max_seqs, max_ctx);
    if (strcmp(backend, "gpu") && strcmp(backend, "auto")) {
        snprintf(err, errlen, "unknown backend '%s' (auto, gpu or cpu)", backend);
        return NULL;
    }
    char why[256] = "";
    Engine *e = gpu_engine_create(m, max_seqs, max_ctx, gpu, why, sizeof why);
    if (e) return e;
    if (!strcmp(backend, "gpu")) {
        snprintf(err, errlen, "no usable GPU (%s)", why);
        return NULL;
    }
    fprintf(stderr, "qwen3-ptx: no usable GPU (%s), using the CPU reference\n", why);
    return cpu_engine_create(m, max_seqs, max_ctx);
}

// ---------------------------------------------------------------- shared command-line options
void gen_cli_usage(FILE *out, int is_chat) {
    SamplerParams d = sampler_defaults();
    if (is_chat)
        fprintf(out, "usage: qwen3-ptx chat -m MODEL [options]\n"
                     "Interactive multi-turn chat. At the prompt: /think, /no_think (thinking on/off), /reset (forget\n"
                     "the conversation), /exit. /think or /no_think inside a message is Qwen3's soft switch for that\n"
                     "turn. Ctrl-C stops the reply; Ctrl-C twice at the prompt exits.\n\n");
    else
        fprintf(out, "usage: qwen3-ptx run -m MODEL -p PROMPT [options]\n"
                     "Generates a reply (text on stdout as it comes; a summary line on stderr at the end).\n\n");
    fprintf(out, "  -m, --model FILE         Qwen3 GGUF file\n");
    if (!is_chat) {
        fprintf(out, "  -p, --prompt TEXT        the prompt (the user message unless --raw)\n");
        fprintf(out, "  -f, --file FILE          read the prompt from FILE\n");
        fprintf(out, "      --raw                no chat template: the prompt as plain text (special-token text not parsed)\n");
    }
    fprintf(out, "  -n, --n-predict N        tokens to generate per reply (default -1: until EOS or a full context)\n");
    fprintf(out, "  -c, --ctx-size N         context tokens (default 4096, capped at the model's; 0 = the model's)\n");
    fprintf(out, "  -sys, --system TEXT      system message (also --system-prompt)\n");
    fprintf(out, "      --think, --no-think  Qwen3 thinking on (default, as the template) or off\n");
    fprintf(out, "      --temp T             temperature (default %.2f; 0 = greedy)\n", d.temperature);
    fprintf(out, "      --top-k K            keep the K most likely tokens (default %d; 0 = off)\n", d.top_k);
    fprintf(out, "      --top-p P            keep the most likely tokens up to mass P (default %.2f; 1 = off)\n", d.top_p);
    fprintf(out, "      --min-p M            drop tokens below M x the best one's probability (default %.2f; 0 = off)\n",
            d.min_p);
    fprintf(out, "      --repeat-penalty R   penalise the last --repeat-last-n tokens (default %.2f; 1 = off)\n",
            d.repeat_penalty);
    fprintf(out, "      --repeat-last-n N    window of all penalties (default %d; 0 = off, -1 = all)\n", d.repeat_last_n);
    fprintf(out, "      --presence-penalty P subtract P from every token in the window (default 0)\n");
    fprintf(out, "      --frequency-penalty F subtract F x its count from every token in the window (default 0)\n");
    fprintf(out, "  -s, --seed S             random seed (default -1: a fresh one, printed)\n");
    fprintf(out, "      --backend B          auto (GPU, else the CPU reference), gpu or cpu (default auto)\n");
    fprintf(out, "      --dtype D            GPU weights: bf16 or fp8 (e4m3, one scale for each 128 weight rows\n"
                 "                           along K; QWEN3_FP8_UNI=0: 128x128 blocks) (default bf16)\n");
    fprintf(out, "      --kv-dtype D         GPU KV cache: bf16 or fp8 (e4m3, one scale per token and kv head) (default bf16)\n");
    fprintf(out, "      --head-dtype D       GPU output head with --dtype fp8: rescore (default: fp8, then the logits near\n");
    fprintf(out, "                           the best recomputed in bf16), bf16, or fp8 (NOTES: what it costs)\n");
    fprintf(out, "      --native-q on|off    GPU: Q4_K / Q5_K / Q6_K / Q8_0 / Q4_0 / Q5_0 layers also keep the file's blocks\n");
    fprintf(out, "                           and batches of 1-2 rows stream those (4.5-8.5 bits a weight; with bf16,\n");
    fprintf(out, "                           Q4_K layers up to 32 rows, Q6_K up to 8, on the tensor cores) (default on)\n");
    fprintf(out, "  -h, --help               this help\n");
    fprintf(out, "Sampling order (llama.cpp's default chain): penalties, top-k, top-p, min-p, temperature.\n"
                 "On the GPU backend the tokens are sampled on the GPU: the same greedy tokens and the same\n"
                 "distribution as the CPU's sampler, from a random stream of its own (a seed still repeats a reply).\n");
}

static int bad(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int bad(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("qwen3-ptx: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static int parse_int(const char *opt, const char *v, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) return bad("%s: '%s' is not an integer in [%ld, %ld]", opt, v, lo, hi);
    *out = (int)x;
    return 0;
}

static int parse_float(const char *opt, const char *v, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) return bad("%s: '%s' is not a number in [%g, %g]", opt, v, lo, hi);
    *out = (float)x;
    return 0;
}

int gen_cli_parse(GenCli *o, int argc, char **argv, int is_chat) {
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->ctx = 4096;
    o->think = 1;
    o->backend = "auto";
    o->sp = sampler_defaults();
    char why[160];
    if (gpu_opts_from_env(&o->gpu, why, sizeof why)) return bad("%s", why);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define IS(x) (!strcmp(a, x))
        if (IS("-h") || IS("--help")) { gen_cli_usage(stdout, is_chat); return 1; }
        if (IS("--think")) { o->think = 1; continue; }
        if (IS("--no-think")) { o->think = 0; continue; }
        if (!is_chat && IS("--raw")) { o->raw = 1; continue; }
        if (i + 1 >= argc) return bad("unknown option or missing value: '%s' (see --help)", a);
        const char *v = argv[++i];
        int rc = 0;
        if (IS("-m") || IS("--model")) o->model = v;
        else if (!is_chat && (IS("-p") || IS("--prompt"))) o->prompt = v;
        else if (!is_chat && (IS("-f") || IS("--file"))) o->prompt_file = v;
        else if (IS("-sys") || IS("--system") || IS("--system-prompt")) o->system = v;
        else if (IS("-n") || IS("--n-predict")) rc = parse_int(a, v, -1, 1 << 30, &o->n_predict);
        else if (IS("-c") || IS("--ctx-size")) rc = parse_int(a, v, 0, 1 << 30, &o->ctx);
        else if (IS("--temp")) rc = parse_float(a, v, -1e9, 1e9, &o->sp.temperature);
        else if (IS("--top-k")) rc = parse_int(a, v, -1, 1 << 30, &o->sp.top_k);
        else if (IS("--top-p")) rc = parse_float(a, v, 0, 1, &o->sp.top_p);
        else if (IS("--min-p")) rc = parse_float(a, v, 0, 1, &o->sp.min_p);
        else if (IS("--repeat-penalty")) rc = parse_float(a, v, 0, 1e9, &o->sp.repeat_penalty);
        else if (IS("--repeat-last-n")) rc = parse_int(a, v, -1, 1 << 30, &o->sp.repeat_last_n);
        else if (IS("--presence-penalty")) rc = parse_float(a, v, -1e9, 1e9, &o->sp.presence_penalty);
        else if (IS("--frequency-penalty")) rc = parse_float(a, v, -1e9, 1e9, &o->sp.frequency_penalty);
        else if (IS("--dtype")) { if (parse_dtype_opt(a, v, &o->gpu.fp8_weights)) return -1; }
        else if (IS("--kv-dtype")) { if (parse_dtype_opt(a, v, &o->gpu.fp8_kv)) return -1; }
        else if (IS("--head-dtype")) { if (parse_head_opt(a, v, &o->gpu.fp8_head)) return -1; }
        else if (IS("--native-q")) {
            if ((o->gpu.native_q = parse_onoff(v)) < 0) return bad("--native-q: '%s' (on or off)", v);
        }
        else if (IS("--backend")) {
            if (strcmp(v, "auto") && strcmp(v, "gpu") && strcmp(v, "cpu")) return bad("--backend: '%s' (auto, gpu or cpu)", v);
            o->backend = v;
        } else if (IS("-s") || IS("--seed")) {
            char *end;
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (errno || end == v || *end) return bad("%s: '%s' is not an integer", a, v);
            if (x != -1) { o->sp.seed = (uint64_t)x; o->seed_given = 1; }
        } else return bad("unknown option '%s' (see --help)", a);
        if (rc) return -1;
#undef IS
    }
    if (!o->seed_given) {  // llama.cpp's -1: a fresh seed, printed so the run can be repeated
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        o->sp.seed = ((uint64_t)t.tv_nsec ^ (uint64_t)t.tv_sec * 1000003u ^ (uint64_t)getpid() << 20) & 0x7FFFFFFF;
    }
    if (!o->model) return bad("no model: -m MODEL.gguf (see --help)");
    if (!is_chat && !o->prompt && !o->prompt_file) return bad("no prompt: -p TEXT or -f FILE (see --help)");
    if (!is_chat && o->prompt && o->prompt_file) return bad("give -p or -f, not both");
    return 0;
}
