// cmd_run.c — `qwen3-ptx run`: one prompt in (wrapped in the Qwen3 chat template unless --raw), the reply
// streamed to stdout as it is generated, one summary line on stderr (backend, tokens, prefill and decode speed).
#include "chat.h"
#include "engine.h"
#include "generate.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

static int to_stdout(void *user, const char *text, size_t n) {
    (void)user;
    fwrite(text, 1, n, stdout);
    fflush(stdout);  // show each piece as it comes
    return ferror(stdout) ? 1 : 0;  // e.g. a closed pipe: stop generating
}

static char *read_text_file(const char *path) {
    char err[512];
    size_t len;
    char *buf = read_file(path, &len, err, sizeof err);
    if (!buf) die("%s (the prompt file)", err);
    if (strlen(buf) != len) die("%s: the prompt contains a NUL byte", path);
    return buf;
}

int cmd_run(int argc, char **argv) {
    GenCli o;
    int prc = gen_cli_parse(&o, argc, argv, 0);
    if (prc) return prc > 0 ? 0 : 1;
    char *file_prompt = o.prompt_file ? read_text_file(o.prompt_file) : NULL;
    const char *prompt = file_prompt ? file_prompt : o.prompt;
    if (!utf8_valid(prompt, strlen(prompt))) die("the prompt is not valid UTF-8");
    if (o.system && !utf8_valid(o.system, strlen(o.system))) die("the system message is not valid UTF-8");

    char err[512];
    Qwen3Model m;
    Tokenizer *tok;
    int ctx = gen_open_model(o.model, o.ctx, &m, &tok);

    // --- prompt text -> token ids ---
    char *text;
    if (o.raw) text = xstrdup(prompt);
    else {
        ChatMsg msgs[2];
        int n = 0;
        if (o.system) msgs[n++] = (ChatMsg){ .role = "system", .content = o.system };
        msgs[n++] = (ChatMsg){ .role = "user", .content = prompt };
        text = chat_render(msgs, n, NULL, 1, o.think, err, sizeof err);
        if (!text) die("chat template: %s", err);
    }
    int n_ids, *ids = gen_tokenize(tok, text, !o.raw, &n_ids);
    if (!ids) die("the prompt is not valid UTF-8");
    if (n_ids == 0) die("the prompt is empty");
    if (n_ids >= ctx) die("the prompt is %d tokens but the context holds %d (raise -c, up to %d)", n_ids, ctx, m.cfg.ctx_len);

    Engine *e = engine_open(&m, o.backend, 1, ctx, &o.gpu, err, sizeof err);
    if (!e) die("%s", err);

    // --- generate, streaming to stdout; Ctrl-C stops early and still prints the summary ---
    struct sigaction sa = { .sa_handler = on_sigint };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    Sampler s;
    sampler_init(&s, &o.sp, m.cfg.vocab);
    int eos[3];
    GenParams gp = { .max_tokens = o.n_predict, .eos = eos, .n_eos = gen_default_eos(tok, eos),
                     .on_text = to_stdout, .interrupt = &interrupted };
    GenResult r;
    int rc = generate(e, 0, tok, &s, ids, n_ids, 0, &gp, &r);
    if (r.n_gen) fputc('\n', stdout);
    fflush(stdout);
    fprintf(stderr, "qwen3-ptx: backend %s | prompt %d tokens, %.1f tok/s | generated %d tokens, %.1f tok/s | "
            "finish %s | seed %llu\n", e->name, r.n_prompt, r.prefill_tps, r.n_gen, r.decode_tps, r.finish,
            (unsigned long long)o.sp.seed);
    if (rc) fprintf(stderr, "qwen3-ptx: %s: %s\n", o.model, r.err);

    gen_result_free(&r);
    sampler_free(&s);
    e->destroy(e);
    free(ids);
    free(text);
    free(file_prompt);
    tok_free(tok);
    qwen3_free(&m);
    return rc ? 1 : 0;
}
