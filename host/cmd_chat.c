// cmd_chat.c — `qwen3-ptx chat`: interactive multi-turn chat. Each turn re-renders the whole conversation
// through the Qwen3 template, keeps the KV cache for the longest common token prefix with what is cached
// (engine truncate; without it, only when the cache is a prefix, else a full re-prefill) and prefills the rest.
// The history keeps each reply's content only (parse_output), as the template wants: it drops the reasoning of
// earlier turns anyway. The reasoning streams dimmed on a terminal, between its <think> tags otherwise.
#include "chat.h"
#include "engine.h"
#include "generate.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

// ---------------------------------------------------------------- showing a reply
// Splits the stream on <think> / </think> (held back while a marker is still incomplete) to style the reasoning.
typedef struct { int tty, in_think; char pend[16]; int npend; } Show;

static int show(void *user, const char *text, size_t n) {
    Show *sh = user;
    for (size_t i = 0; i < n; i++) {
        sh->pend[sh->npend++] = text[i];
        for (;;) {
            const char *mk = sh->in_think ? "</think>" : "<think>";
            size_t ml = strlen(mk);
            if (!memcmp(sh->pend, mk, (size_t)sh->npend)) {  // still a prefix of the marker
                if ((size_t)sh->npend == ml) {
                    if (sh->tty) fputs(sh->in_think ? "\033[0m" : "\033[2m", stdout);
                    else fputs(mk, stdout);
                    sh->in_think = !sh->in_think;
                    sh->npend = 0;
                }
                break;
            }
            fputc(sh->pend[0], stdout);  // not a marker: let one byte go, re-check the rest
            memmove(sh->pend, sh->pend + 1, (size_t)--sh->npend);
            if (!sh->npend) break;
        }
    }
    fflush(stdout);
    return 0;
}

static void show_end(Show *sh) {
    fwrite(sh->pend, 1, (size_t)sh->npend, stdout);
    if (sh->tty && sh->in_think) fputs("\033[0m", stdout);
    sh->npend = sh->in_think = 0;
    fputc('\n', stdout);
    fflush(stdout);
}

// ---------------------------------------------------------------- the conversation
typedef struct { ChatMsg *m; int n, cap; } History;

static void hist_push(History *h, const char *role, const char *content) {
    if (h->n == h->cap) h->m = xrealloc(h->m, sizeof(ChatMsg) * (size_t)(h->cap = h->cap ? 2 * h->cap : 16));
    h->m[h->n++] = (ChatMsg){ .role = role, .content = xstrdup(content) };
}
static void hist_pop(History *h) { free((char *)h->m[--h->n].content); }
static void hist_clear(History *h, int keep) { while (h->n > keep) hist_pop(h); }

int cmd_chat(int argc, char **argv) {
    GenCli o;
    int prc = gen_cli_parse(&o, argc, argv, 1);
    if (prc) return prc > 0 ? 0 : 1;
    if (o.system && !utf8_valid(o.system, strlen(o.system))) die("the system message is not valid UTF-8");

    char err[512];
    Qwen3Model m;
    Tokenizer *tok;
    int ctx = gen_open_model(o.model, o.ctx, &m, &tok);
    Engine *e = engine_open(&m, o.backend, 1, ctx, &o.gpu, err, sizeof err);
    if (!e) die("%s", err);

    int tty_in = isatty(0), tty_out = isatty(1);
    fprintf(stderr, "qwen3-ptx: chat on %s, context %d, seed %llu, thinking %s. /think /no_think /reset /exit; "
            "Ctrl-C stops a reply.\n", e->name, ctx, (unsigned long long)o.sp.seed, o.think ? "on" : "off");
    // No SA_RESTART: Ctrl-C at the prompt must interrupt the blocking read (getline returns -1 with EINTR).
    struct sigaction sa = { .sa_handler = on_sigint };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    Sampler s;
    sampler_init(&s, &o.sp, m.cfg.vocab);
    int eos[3];
    Show sh = { .tty = tty_out };
    GenParams gp = { .max_tokens = o.n_predict, .eos = eos, .n_eos = gen_default_eos(tok, eos),
                     .on_text = show, .user = &sh, .interrupt = &interrupted };
    History h = { 0 };
    if (o.system) hist_push(&h, "system", o.system);
    int n_sys = h.n, think = o.think, armed_exit = 0;
    int *cached = xmalloc(sizeof(int) * (size_t)ctx), n_cached = 0;  // what the KV cache of seq 0 holds
    char *line = NULL;
    size_t line_cap = 0;

    for (;;) {
        if (tty_in) { fputs("> ", stdout); fflush(stdout); }
        interrupted = 0;
        errno = 0;
        ssize_t got = getline(&line, &line_cap, stdin);
        if (got < 0) {
            if (errno == EINTR || interrupted) {  // Ctrl-C at the prompt: once warns, twice exits
                clearerr(stdin);
                if (armed_exit) { fputc('\n', stdout); break; }
                armed_exit = 1;
                fputs("\n(Ctrl-C again to exit, or /exit)\n", stdout);
                continue;
            }
            if (tty_in) fputc('\n', stdout);
            break;  // end of input
        }
        armed_exit = 0;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (got == 0) continue;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (!strcmp(line, "/reset")) {
            hist_clear(&h, n_sys);
            e->free_seq(e, 0);
            n_cached = 0;
            fputs("(conversation cleared)\n", stdout);
            continue;
        }
        if (!strcmp(line, "/think") || !strcmp(line, "/no_think")) {
            think = line[1] == 't';
            fprintf(stdout, "(thinking %s)\n", think ? "on" : "off");
            continue;
        }
        if ((size_t)got != strlen(line) || !utf8_valid(line, (size_t)got)) {
            fputs("(that line is not valid UTF-8 text; not sent)\n", stdout);
            continue;
        }

        // --- render the conversation, tokenize, reuse the cached prefix ---
        hist_push(&h, "user", line);
        char *text = chat_render(h.m, h.n, NULL, 1, think, err, sizeof err);
        if (!text) { fprintf(stderr, "qwen3-ptx: chat template: %s\n", err); hist_pop(&h); continue; }
        int n_ids, *ids = gen_tokenize(tok, text, 1, &n_ids);
        free(text);
        if (n_ids <= 0 || n_ids >= ctx) {
            fprintf(stdout, "(the conversation is %d tokens; the context holds %d: /reset, or start with a larger -c)\n",
                    n_ids, ctx);
            free(ids);
            hist_pop(&h);
            continue;
        }
        int common = gen_reuse_prefix(e, 0, cached, n_cached, ids, n_ids);

        // --- generate the reply ---
        GenResult r;
        int rc = generate(e, 0, tok, &s, ids, n_ids, common, &gp, &r);
        show_end(&sh);
        n_cached = e->seq_len(e, 0);  // = a prefix of ids ++ the reply's tokens
        for (int i = 0; i < n_cached; i++) cached[i] = i < n_ids ? ids[i] : r.tokens[i - n_ids];
        fprintf(stderr, "[%s | prompt %d tokens (%d cached), %.1f tok/s | reply %d tokens, %.1f tok/s | %s]\n",
                e->name, n_ids, common, r.prefill_tps, r.n_gen, r.decode_tps, r.finish);
        if (rc) {
            fprintf(stderr, "qwen3-ptx: %s\n", r.err);
            hist_pop(&h);
        } else if (!strcmp(r.finish, "interrupted")) {
            fputs("(reply interrupted; this turn is forgotten)\n", stdout);
            hist_pop(&h);
        } else {
            ParsedOutput po;
            parse_output(r.text, &po);
            hist_push(&h, "assistant", po.content ? po.content : "");
            parsed_output_free(&po);
        }
        interrupted = 0;
        gen_result_free(&r);
        free(ids);
    }

    free(line);
    hist_clear(&h, 0);
    free(h.m);
    free(cached);
    sampler_free(&s);
    e->destroy(e);
    tok_free(tok);
    qwen3_free(&m);
    return 0;
}
