// test_batch.c — the batch job's pure pieces and its scheduler: request lines parse into the right prompt and
// sampler settings (and bad ones into the right error code), result and error lines are valid JSON with the
// fields the Batch API has, the resume scan finds the torn tail and counts ids, shards partition the ids, and
// batch_run over a fake multi-sequence engine gives, for every request, exactly the line that generate() alone
// gives (while really decoding several sequences per call and keeping prefill under its budget) — also with a
// KV page pool too small for the sequences in flight (admission by free pages, preemption and recompute) — and the
// page pool's bookkeeping (kv_pages.c) holds its invariants.
// The scheduler case needs a Qwen vocabulary (build/tiny-f32.gguf or llama.cpp's Qwen2 vocab from setup.sh).
#include "test.h"
#include "../gguf/gguf.h"
#include "../host/batch.h"
#include "../host/chat.h"
#include "../host/generate.h"
#include "../host/json.h"
#include "../host/util.h"
#include <unistd.h>

static Rng g_rng;

static JsonValue *parse_line(const char *line) {
    char err[160];
    JsonValue *v = json_parse(line, strlen(line), err, sizeof err);
    if (!v) printf("  not JSON (%s): %s", err, line);
    return v;
}
static const char *jstr(const JsonValue *v) { return v && v->type == JSON_STRING ? v->str : NULL; }
static double jnum(const JsonValue *v) { return v && v->type == JSON_NUMBER ? v->number : NAN; }

// ---------------------------------------------------------------- request parsing
static int parse(const char *line, BatchRequest *r, char *code, char *msg) {
    return batch_parse_request(line, strlen(line), 7, 1, r, code, 64, msg, 256);
}

static void parse_chat_request(void) {
    BatchRequest r;
    char code[64], msg[256];
    int seed = (int)(rng_u64(&g_rng) % 100000);
    char line[1024];
    snprintf(line, sizeof line, "{\"custom_id\": \"req-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", "
             "\"body\": {\"model\": \"qwen3-8b\", \"messages\": [{\"role\": \"developer\", \"content\": \"Be terse.\"}, "
             "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hi \"}, {\"type\": \"text\", \"text\": \"there\"}]}], "
             "\"max_tokens\": 33, \"temperature\": 0.25, \"top_p\": 0.5, \"top_k\": 7, \"seed\": %d, \"stop\": [\"a\", \"bc\"], "
             "\"presence_penalty\": 0.5, \"frequency_penalty\": -0.5, \"repetition_penalty\": 1.1, \"unknown\": {}}}", seed);
    CHECK(parse(line, &r, code, msg) == 0, "%s: %s", code, msg);
    CHECK(r.custom_id && !strcmp(r.custom_id, "req-1"), "custom_id %s", r.custom_id);
    CHECK(r.is_chat && r.parse_special && r.max_tokens == 33, "chat %d special %d max %d", r.is_chat, r.parse_special, r.max_tokens);
    CHECK(r.sp.temperature == 0.25f && r.sp.top_p == 0.5f && r.sp.top_k == 7 && r.sp.seed == (uint64_t)seed &&
          r.sp.presence_penalty == 0.5f && r.sp.frequency_penalty == -0.5f && r.sp.repeat_penalty == 1.1f,
          "sampler params not taken from the body");
    CHECK(r.sp.min_p == sampler_defaults().min_p, "min_p should keep run's default");
    CHECK(r.n_stop == 2 && !strcmp(r.stop[0], "a") && !strcmp(r.stop[1], "bc"), "stop strings");
    CHECK(r.model && !strcmp(r.model, "qwen3-8b"), "model");
    ChatMsg m[2] = { { .role = "system", .content = "Be terse." }, { .role = "user", .content = "Hi there" } };
    char err[128];
    char *want = chat_render(m, 2, NULL, 1, 1, err, sizeof err);
    CHECK(want && r.prompt && !strcmp(r.prompt, want), "prompt:\n%s\nwant:\n%s", r.prompt, want);
    free(want);
    batch_request_free(&r);

    // enable_thinking false through chat_template_kwargs; a single stop string; the default seed is the id's hash
    const char *l2 = "{\"custom_id\": \"x\", \"url\": \"/v1/chat/completions\", \"body\": {\"messages\": [{\"role\": \"user\", "
                     "\"content\": \"q\"}], \"stop\": \"END\", \"chat_template_kwargs\": {\"enable_thinking\": false}}}";
    CHECK(parse(l2, &r, code, msg) == 0, "%s: %s", code, msg);
    CHECK(r.prompt && strstr(r.prompt, "<think>\n\n</think>"), "no empty think block: %s", r.prompt);
    CHECK(r.n_stop == 1 && !strcmp(r.stop[0], "END"), "single stop string");
    CHECK(r.sp.seed == (batch_hash("x") & 0x7FFFFFFF), "default seed %llu", (unsigned long long)r.sp.seed);
    CHECK(r.max_tokens == -1 && r.sp.temperature == sampler_defaults().temperature, "defaults");
    batch_request_free(&r);

    // tools and an assistant tool call pass through to the template as JSON
    const char *l3 = "{\"custom_id\": \"t\", \"url\": \"/v1/chat/completions\", \"body\": {\"tools\": [{\"type\": \"function\", "
                     "\"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}}], \"messages\": ["
                     "{\"role\": \"user\", \"content\": \"Paris?\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
                     "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}]}, "
                     "{\"role\": \"tool\", \"content\": \"22C\"}]}}";
    CHECK(parse(l3, &r, code, msg) == 0, "%s: %s", code, msg);
    CHECK(r.prompt && strstr(r.prompt, "<tools>") && strstr(r.prompt, "\"get_weather\"") && strstr(r.prompt, "<tool_call>") &&
          strstr(r.prompt, "Paris") && strstr(r.prompt, "<tool_response>\n22C"), "tools prompt:\n%s", r.prompt);
    batch_request_free(&r);
}

static void parse_completion_request(void) {
    BatchRequest r;
    char code[64], msg[256];
    const char *l = "{\"custom_id\": \"c\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": [\"<|im_start|> raw\"], "
                    "\"max_completion_tokens\": 1}}";
    CHECK(parse(l, &r, code, msg) == 0, "%s: %s", code, msg);
    CHECK(!r.is_chat && !r.parse_special && r.prompt && !strcmp(r.prompt, "<|im_start|> raw") && r.max_tokens == 1,
          "completion: chat %d special %d prompt %s max %d", r.is_chat, r.parse_special, r.prompt, r.max_tokens);
    batch_request_free(&r);
}

static void parse_errors(void) {
    static const struct { const char *line, *code, *id; } cases[] = {
        { "{\"custom_id\": \"a\", \"body\": ", "invalid_json", "line-7" },
        { "[1, 2]", "invalid_json", "line-7" },
        { "{\"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\"}}", "missing_custom_id", "line-7" },
        { "{\"custom_id\": \"\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\"}}", "missing_custom_id", "line-7" },
        { "{\"custom_id\": 5, \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\"}}", "missing_custom_id", "line-7" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/embeddings\", \"body\": {\"input\": \"x\"}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"method\": \"GET\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\"}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\"}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": 3}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\\u0000y\"}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\", \"n\": 2}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\", \"stream\": true}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\", \"max_tokens\": 0}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\", \"max_tokens\": 2.5}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\", \"temperature\": \"hot\"}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\", \"top_p\": 0}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"x\", \"stop\": [1]}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/chat/completions\", \"body\": {\"messages\": []}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/chat/completions\", \"body\": {\"messages\": [{\"role\": \"pirate\", \"content\": \"x\"}]}}", "invalid_request", "b" },
        { "{\"custom_id\": \"b\", \"url\": \"/v1/chat/completions\", \"body\": {\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}}", "invalid_request", "b" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        BatchRequest r;
        char code[64] = "", msg[256] = "";
        int rc = parse(cases[i].line, &r, code, msg);
        CHECK(rc == -1 && !strcmp(code, cases[i].code) && msg[0], "case %zu: rc %d code '%s' (want %s) msg '%s'", i, rc,
              code, cases[i].code, msg);
        CHECK(r.custom_id && !strcmp(r.custom_id, cases[i].id), "case %zu: custom_id %s, want %s", i, r.custom_id, cases[i].id);
        batch_request_free(&r);
    }
}

// ---------------------------------------------------------------- result lines
static void format_lines(void) {
    BatchRequest r;
    char code[64], msg[256];
    const char *l = "{\"custom_id\": \"id \\\"q\\\"\", \"url\": \"/v1/chat/completions\", \"body\": {\"messages\": "
                    "[{\"role\": \"user\", \"content\": \"q\"}]}}";
    CHECK(parse(l, &r, code, msg) == 0, "%s: %s", code, msg);
    int pt = 1 + (int)(rng_u64(&g_rng) % 1000), ct = 1 + (int)(rng_u64(&g_rng) % 1000);
    char *line = batch_format_result(&r, "<think>\nweighing \"it\"\n</think>\n\nThe answer\n", "length", pt, ct, 1234);
    CHECK(line && line[strlen(line) - 1] == '\n' && !strchr(line, '\n')[1], "one line ending in a newline");
    JsonValue *v = parse_line(line);
    CHECK(v != NULL, "result line is not JSON");
    if (v) {
        const JsonValue *resp = json_get(v, "response"), *body = json_get(resp, "body");
        const JsonValue *ch = json_get(body, "choices"), *c0 = ch && ch->n ? &ch->items[0] : NULL;
        const JsonValue *m = json_get(c0, "message"), *u = json_get(body, "usage");
        CHECK(jstr(json_get(v, "custom_id")) && !strcmp(jstr(json_get(v, "custom_id")), "id \"q\""), "custom_id");
        CHECK(json_get(v, "error") && json_get(v, "error")->type == JSON_NULL, "error must be null");
        CHECK(jnum(json_get(resp, "status_code")) == 200, "status_code");
        CHECK(jstr(json_get(body, "object")) && !strcmp(jstr(json_get(body, "object")), "chat.completion"), "object");
        CHECK(jnum(json_get(body, "created")) == 1234, "created");
        CHECK(jstr(json_get(m, "role")) && !strcmp(jstr(json_get(m, "role")), "assistant"), "role");
        CHECK(jstr(json_get(m, "content")) && !strcmp(jstr(json_get(m, "content")), "The answer"), "content '%s'", jstr(json_get(m, "content")));
        CHECK(jstr(json_get(m, "reasoning_content")) && !strcmp(jstr(json_get(m, "reasoning_content")), "weighing \"it\""),
              "reasoning '%s'", jstr(json_get(m, "reasoning_content")));
        CHECK(jstr(json_get(c0, "finish_reason")) && !strcmp(jstr(json_get(c0, "finish_reason")), "length"), "finish");
        CHECK(jnum(json_get(u, "prompt_tokens")) == pt && jnum(json_get(u, "completion_tokens")) == ct &&
              jnum(json_get(u, "total_tokens")) == pt + ct, "usage");
    }
    json_free(v);
    free(line);
    batch_request_free(&r);

    const char *l2 = "{\"custom_id\": \"k\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"p\"}}";
    CHECK(parse(l2, &r, code, msg) == 0, "%s: %s", code, msg);
    line = batch_format_result(&r, "  raw\ttext <think>", "stop", 2, 3, 1);
    v = parse_line(line);
    const JsonValue *body = json_get(json_get(v, "response"), "body"), *ch = json_get(body, "choices");
    const JsonValue *c0 = ch && ch->n ? &ch->items[0] : NULL;
    CHECK(jstr(json_get(body, "object")) && !strcmp(jstr(json_get(body, "object")), "text_completion"), "object");
    CHECK(jstr(json_get(c0, "text")) && !strcmp(jstr(json_get(c0, "text")), "  raw\ttext <think>"), "completion text as is");
    json_free(v);
    free(line);
    batch_request_free(&r);

    // a tool call in a chat reply: tool_calls with the arguments as a JSON string, finish_reason "tool_calls"
    CHECK(parse("{\"custom_id\": \"t\", \"url\": \"/v1/chat/completions\", \"body\": {\"messages\": [{\"role\": \"user\", "
                "\"content\": \"q\"}]}}", &r, code, msg) == 0, "%s: %s", code, msg);
    line = batch_format_result(&r, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call>", "stop", 2, 3, 1);
    v = parse_line(line);
    body = json_get(json_get(v, "response"), "body");
    ch = json_get(body, "choices");
    c0 = ch && ch->n ? &ch->items[0] : NULL;
    const JsonValue *tc = json_get(json_get(c0, "message"), "tool_calls"), *fn = tc && tc->n ? json_get(&tc->items[0], "function") : NULL;
    CHECK(jstr(json_get(fn, "name")) && !strcmp(jstr(json_get(fn, "name")), "f"), "tool call name: %s", line);
    const char *args = jstr(json_get(fn, "arguments"));
    JsonValue *av = args ? json_parse(args, strlen(args), code, sizeof code) : NULL;
    CHECK(av && jnum(json_get(av, "x")) == 1, "tool call arguments: %s", args ? args : "(none)");
    CHECK(jstr(json_get(c0, "finish_reason")) && !strcmp(jstr(json_get(c0, "finish_reason")), "tool_calls"), "finish_reason");
    json_free(av);
    json_free(v);
    free(line);
    batch_request_free(&r);

    line = batch_format_error("line-3", 3, "invalid_json", "bad \"x\"\n");
    v = parse_line(line);
    const JsonValue *e = json_get(v, "error");
    CHECK(v && json_get(v, "response") && json_get(v, "response")->type == JSON_NULL, "response must be null");
    CHECK(jstr(json_get(e, "code")) && !strcmp(jstr(json_get(e, "code")), "invalid_json") &&
          jstr(json_get(e, "message")) && !strcmp(jstr(json_get(e, "message")), "bad \"x\"\n"), "error object");
    json_free(v);
    free(line);
}

// ---------------------------------------------------------------- resume scan, id set, shards
static void scan_results(void) {
    char *a = batch_format_error("a", 1, "invalid_request", "m");
    char *d = batch_format_error("a", 2, "duplicate_custom_id", "m");
    char *b = batch_format_error("b", 3, "invalid_json", "m");
    size_t cut = 1 + rng_u64(&g_rng) % (strlen(b) - 1);  // a torn copy of the last line, 1..len-1 bytes
    size_t n = strlen(a) + strlen(d) + strlen(b) + cut;
    char *data = xmalloc(n + 1);
    snprintf(data, n + 1, "%s%s%s%.*s", a, d, b, (int)cut, b);
    IdSet done = { 0 }, dups = { 0 };
    size_t valid;
    char err[256];
    long lines = batch_scan_results(data, n, &valid, &done, &dups, err, sizeof err);
    CHECK(lines == 3 && valid == n - cut, "lines %ld valid %zu (want 3, %zu)", lines, valid, n - cut);
    CHECK(idset_count(&done, "a") == 1 && idset_count(&done, "b") == 1 && idset_count(&dups, "a") == 1 &&
          idset_count(&dups, "b") == 0 && idset_count(&done, "c") == 0, "id counts");
    idset_free(&done);
    idset_free(&dups);
    // a complete line that is not a result line: refuse to resume into the file
    snprintf(data, n + 1, "%snot json\n", a);
    lines = batch_scan_results(data, strlen(data), &valid, &done, &dups, err, sizeof err);
    CHECK(lines == -1 && strstr(err, "line 2"), "corrupt line: %ld, '%s'", lines, err);
    idset_free(&done);
    idset_free(&dups);
    free(data);
    free(a);
    free(d);
    free(b);
}

static void idset_and_shards(void) {
    enum { N = 3000, SHARDS = 3 };
    static char ids[N][24];
    IdSet s = { 0 };
    int per[SHARDS] = { 0 }, bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "req-%d", (int)(rng_u64(&g_rng) % (N / 2)));  // repeats on purpose
        int want = 1;
        for (int j = 0; j < i; j++) want += !strcmp(ids[j], ids[i]);
        bad += idset_add(&s, ids[i]) != want;
        int sh = batch_shard_of(ids[i], SHARDS);
        bad += sh < 0 || sh >= SHARDS || sh != batch_shard_of(ids[i], SHARDS);
        per[sh]++;
    }
    for (int i = 0; i < N; i++) {
        int want = 0;
        for (int j = 0; j < N; j++) want += !strcmp(ids[j], ids[i]);
        bad += idset_count(&s, ids[i]) != want;
    }
    CHECK(bad == 0, "%d id-set or shard mismatches", bad);
    CHECK(idset_count(&s, "absent") == 0, "absent id counted");
    for (int k = 0; k < SHARDS; k++) CHECK(per[k] > N / SHARDS / 2, "shard %d got %d of %d ids", k, per[k], N);
    idset_free(&s);
}

// ---------------------------------------------------------------- the scheduler over a fake engine
// Each sequence's logits depend only on its own tokens (a hash of them): any batching of the same requests must
// give the same results as generate() running each alone. With a page pool (pages > 0) the fake counts KV pages
// as the real engines do (ceil(len / KV_PAGE) per sequence, a call that needs more than are free fails whole), so
// the scheduler's admission by pages and its preemption are exercised; a preempted sequence's recomputed hash is
// the same only if it is fed exactly the same tokens again.
#define FMAX_SEQS 8
#define FMAX_CTX 512
typedef struct {
    Engine e;
    Qwen3Config cfg;
    int len[FMAX_SEQS];
    int fed[FMAX_SEQS][FMAX_CTX];  // the tokens each sequence was fed (step_sample's penalty history)
    float *sample_logits;          // step_sample's rows (2 x FMAX_SEQS x vocab)
    int sampled_rows;              // rows sampled by step_sample
    uint64_t h[FMAX_SEQS];
    int max_decode_n, decode_calls, bad, prefill_since_decode, max_prefill_between;  // prefill tokens per step
    int pages, pages_used, max_pages_used, refused;  // the pool (0: none); calls refused for want of pages
} Fake;

static int fake_favourite = -1;  // >= 0: this token always wins (the ignore_eos test makes it EOS)
static void fake_logits(Fake *f, int seq, float *logits) {
    uint64_t h = f->h[seq];
    for (int i = 0; i < f->cfg.vocab; i++) logits[i] = -4.0f - (float)(i % 5);
    for (int k = 0; k < 4; k++) {  // four plausible tokens among the single-byte ones (ids 0..~200 in Qwen's vocab)
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        logits[(h >> 33) % 190] = 2.0f - 0.4f * (float)k;
    }
    if (fake_favourite >= 0) logits[fake_favourite] = 10.0f;
}
static void fake_feed(Fake *f, int seq, int tok) {
    if (f->pages) f->pages_used += kvp_pages_for(f->len[seq] + 1) - kvp_pages_for(f->len[seq]);
    f->fed[seq][f->len[seq]] = tok;
    if (f->pages_used > f->max_pages_used) f->max_pages_used = f->pages_used;
    f->h[seq] = (f->h[seq] ^ (uint64_t)tok) * 0x100000001b3ull + (uint64_t)f->len[seq]++;
}
static int fake_free_pages(Engine *e) { return ((Fake *)e)->pages - ((Fake *)e)->pages_used; }
static int fake_refuse(Fake *f, int need) {  // a call needing more pages than are free fails, nothing done
    if (!f->pages || need <= f->pages - f->pages_used) return 0;
    f->refused++;
    snprintf(f->e.err, sizeof f->e.err, "fake: KV pool exhausted");
    return 1;
}
static int fake_prefill(Engine *e, int seq, const int *tokens, int n, float *logits, float *all) {
    Fake *f = (Fake *)e;
    (void)all;
    if (seq < 0 || seq >= e->max_seqs || n <= 0 || f->len[seq] + n > e->max_ctx) { f->bad++; return -1; }
    if (fake_refuse(f, engine_pages_needed(e, seq, n))) return -1;
    for (int i = 0; i < n; i++) fake_feed(f, seq, tokens[i]);
    f->prefill_since_decode += n;
    if (f->prefill_since_decode > f->max_prefill_between) f->max_prefill_between = f->prefill_since_decode;
    if (logits) fake_logits(f, seq, logits);
    return 0;
}
static int fake_decode(Engine *e, int n, const int *seqs, const int *tokens, float *logits) {
    Fake *f = (Fake *)e;
    if (n < 1 || n > e->max_seqs) { f->bad++; return -1; }
    int need = 0;
    for (int j = 0; j < n; j++) {
        for (int k = 0; k < j; k++) f->bad += seqs[j] == seqs[k];  // distinct ids
        if (seqs[j] < 0 || seqs[j] >= e->max_seqs || f->len[seqs[j]] + 1 > e->max_ctx || tokens[j] < 0) { f->bad++; return -1; }
        need += engine_pages_needed(e, seqs[j], 1);
    }
    if (fake_refuse(f, need)) return -1;
    for (int j = 0; j < n; j++) {
        fake_feed(f, seqs[j], tokens[j]);
        fake_logits(f, seqs[j], logits + (size_t)j * f->cfg.vocab);
    }
    if (n > f->max_decode_n) f->max_decode_n = n;
    f->decode_calls++;
    return 0;
}
// A mixed step: as prefill + decode, all or nothing (pages counted over the whole call first).
static int fake_step(Engine *e, int n, const int *seqs, const int *tokens, const char *want, float *logits) {
    Fake *f = (Fake *)e;
    int add[FMAX_SEQS] = { 0 }, need = 0, nd = 0;
    for (int j = 0; j < n; j++) {
        if (seqs[j] < 0 || seqs[j] >= e->max_seqs || tokens[j] < 0) { f->bad++; return -1; }
        if (f->len[seqs[j]] + ++add[seqs[j]] > e->max_ctx) { f->bad++; return -1; }
    }
    for (int q = 0; q < e->max_seqs; q++) need += engine_pages_needed(e, q, add[q]);
    if (fake_refuse(f, need)) return -1;
    for (int j = 0; j < n; j++) {
        fake_feed(f, seqs[j], tokens[j]);
        if (want[j]) fake_logits(f, seqs[j], logits + (size_t)nd++ * f->cfg.vocab);
    }
    if (nd > f->max_decode_n) f->max_decode_n = nd;  // rows out: decode tokens and finished prompts
    f->decode_calls++;
    return 0;
}

// step_sample as engine.h specifies it, written independently of cpu.c: step(), then each wanted row through a
// Sampler holding the sequence's fed tokens up to that row, its random stream rng_seed(seed) advanced draw times
// (one draw per sampled token in sampler.c). The scheduler must give each row its own request's parameters and
// the draw counter n_gen, or the lines differ from generate().
static int fake_step_sample(Engine *e, int n, const int *seqs, const int *tokens, const char *want,
                            const SamplerParams *const *params, const uint64_t *draw, int *out_tokens) {
    Fake *f = (Fake *)e;
    int V = f->cfg.vocab, k = 0;
    if (fake_step(e, n, seqs, tokens, want, f->sample_logits)) return -1;
    for (int i = 0; i < n; i++) {
        if (!want[i]) continue;
        int n_hist = f->len[seqs[i]];
        for (int j = i + 1; j < n; j++) n_hist -= seqs[j] == seqs[i];
        Sampler sm;
        sampler_init(&sm, params[k], V);
        for (int j = 0; j < n_hist; j++) sampler_accept(&sm, f->fed[seqs[i]][j]);
        for (uint64_t d = 0; d < draw[k]; d++) rng_uniform(&sm.rng);
        out_tokens[k] = sample(&sm, f->sample_logits + (size_t)k * V);
        sampler_free(&sm);
        k++;
    }
    f->sampled_rows += k;
    return 0;
}

static void fake_free_seq(Engine *e, int seq) {
    Fake *f = (Fake *)e;
    if (f->pages) f->pages_used -= kvp_pages_for(f->len[seq]);
    f->len[seq] = 0;
    f->h[seq] = 0;
}
static int fake_seq_len(Engine *e, int seq) { return ((Fake *)e)->len[seq]; }
static void fake_init(Fake *f, int vocab, int max_seqs, int max_ctx, int pages) {
    if (max_ctx > FMAX_CTX) die("fake engine: max_ctx %d > %d", max_ctx, FMAX_CTX);
    memset(f, 0, sizeof *f);
    f->cfg.vocab = vocab;
    f->pages = pages;
    f->e = (Engine){ .name = "fake", .cfg = &f->cfg, .max_seqs = max_seqs, .max_ctx = max_ctx, .prefill = fake_prefill,
                     .decode = fake_decode, .free_seq = fake_free_seq, .seq_len = fake_seq_len, .n_pages = pages,
                     .free_pages = pages ? fake_free_pages : NULL };
}

typedef struct { char *lines[64]; int n_err, n_ok, order[64], n; Fake *f; } Collected;
static void step_done(void *user, const BatchStats *st) { (void)st; ((Collected *)user)->f->prefill_since_decode = 0; }
static int collect(void *user, const BatchRequest *r, const char *line, int is_error) {
    Collected *c = user;
    int i = (int)r->line_no - 1;
    if (i >= 0 && i < 64 && !c->lines[i]) c->lines[i] = xstrdup(line);
    else c->n_err += 100;  // a second line for one request
    if (is_error) c->n_err++; else c->n_ok++;
    c->order[c->n++] = i;
    return 0;
}

static Tokenizer *open_vocab(GGUFFile *gf) {
    char err[512];
    const char *paths[] = { "build/tiny-f32.gguf", "build/llama.cpp/models/ggml-vocab-qwen2.gguf" };
    for (int i = 0; i < 2; i++)
        if (access(paths[i], R_OK) == 0 && gguf_open(gf, paths[i], err, sizeof err) == 0) {
            Tokenizer *tok = tok_load(gf, err, sizeof err);
            if (tok) return tok;
            gguf_close(gf);
        }
    return NULL;
}

// n requests, chat and completion, greedy and seeded: prompts of 1..max_words words (every long_every-th one
// long_words words, longer than the context or pool of the test), max_tokens in [lo, hi], some with stop strings.
static int make_requests(BatchRequest *reqs, int n, int max_words, int long_every, int long_words, int lo, int hi) {
    static const char *words[] = { "sea", "ship", "the", "a", "storm", " and", "wave", "!", "é", "日本", "\n", "42" };
    for (int i = 0; i < n; i++) {
        char prompt[3000] = "", line[4000], code[64], msg[256];
        int nw = i % long_every == 3 ? long_words : 1 + (int)(rng_u64(&g_rng) % (uint64_t)max_words);
        for (int w = 0; w < nw; w++) strcat(prompt, words[rng_u64(&g_rng) % 12]);
        int maxt = lo + (int)(rng_u64(&g_rng) % (uint64_t)(hi - lo + 1)), greedy = rng_u64(&g_rng) % 2,
            stop = rng_u64(&g_rng) % 3 == 0;
        char body[900];
        snprintf(body, sizeof body, "\"max_tokens\": %d, \"temperature\": %s, \"seed\": %d%s", maxt, greedy ? "0" : "1.0",
                 (int)(rng_u64(&g_rng) % 1000), stop ? ", \"stop\": [\"e\", \"xy\"]" : "");
        if (i % 2)
            snprintf(line, sizeof line, "{\"custom_id\": \"r%d\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"%s\", %s}}",
                     i, prompt, body);
        else
            snprintf(line, sizeof line, "{\"custom_id\": \"r%d\", \"url\": \"/v1/chat/completions\", \"body\": "
                     "{\"messages\": [{\"role\": \"user\", \"content\": \"%s\"}], %s}}", i, prompt, body);
        for (char *p = line; *p; p++) if (*p == '\n') *p = ' ';  // keep the JSON string legal
        int rc = batch_parse_request(line, strlen(line), i + 1, 0, &reqs[i], code, sizeof code, msg, sizeof msg);
        CHECK(rc == 0, "request %d: %s: %s", i, code, msg);
        if (rc) { for (int k = 0; k < i; k++) batch_request_free(&reqs[k]); return -1; }
    }
    return 0;
}

// Each request alone through generate() on a fresh one-sequence engine of max_ctx tokens: the same line as the
// batch gave (an error line where generate() fails). Returns the number of mismatches.
static int compare_with_generate(Tokenizer *tok, BatchRequest *reqs, int n, char **lines, int max_ctx) {
    int vocab = tok_vocab(tok), eos[3], n_eos = gen_default_eos(tok, eos), mismatches = 0;
    for (int i = 0; i < n; i++) {
        Fake one;
        fake_init(&one, vocab, 1, max_ctx, 0);
        int n_ids, *ids = gen_tokenize(tok, reqs[i].prompt, reqs[i].parse_special, &n_ids);
        Sampler sm;
        sampler_init(&sm, &reqs[i].sp, vocab);
        GenParams gp = { .max_tokens = reqs[i].max_tokens, .eos = eos, .n_eos = n_eos,
                         .stop = (const char *const *)reqs[i].stop, .n_stop = reqs[i].n_stop };
        GenResult gr;
        char *want;
        if (generate(&one.e, 0, tok, &sm, ids, n_ids, 0, &gp, &gr) == 0)
            want = batch_format_result(&reqs[i], gr.text, gr.finish, gr.n_prompt, gr.n_gen, 99);
        else want = xstrdup("(error)");
        const char *got = lines[i] ? lines[i] : "(none)";
        int is_err = strstr(got, "\"response\": null") != NULL;
        if (is_err ? strcmp(want, "(error)") != 0 : strcmp(want, got) != 0) {
            if (mismatches++ < 3) printf("  request %d:\n    batch:    %s    generate: %s\n", i, got, want);
        }
        free(want);
        gen_result_free(&gr);
        sampler_free(&sm);
        free(ids);
    }
    return mismatches;
}

// A model that always says EOS: replies stop after one token, unless the scheduler ignores EOS (benchmarks), when
// each runs to its max_tokens with finish_reason "length".
static void scheduler_ignore_eos(void) {
    GGUFFile gf;
    Tokenizer *tok = open_vocab(&gf);
    if (!tok) SKIP("no Qwen vocabulary (build/tiny-f32.gguf from t_cli.sh, or sh tests/setup.sh)");
    int eos[3];
    CHECK(gen_default_eos(tok, eos) > 0, "the vocabulary has no EOS token");
    enum { N = 6 };
    BatchRequest reqs[N];
    for (int i = 0; i < N; i++) {  // no stop strings (the EOS token's text could contain one)
        char line[256], code[64], msg[256];
        snprintf(line, sizeof line, "{\"custom_id\": \"r%d\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": "
                 "\"the sea %d\", \"max_tokens\": 7, \"temperature\": %s}}", i, i, i % 2 ? "0.8" : "0");
        int rc = batch_parse_request(line, strlen(line), i + 1, 0, &reqs[i], code, sizeof code, msg, sizeof msg);
        CHECK(rc == 0, "request %d: %s: %s", i, code, msg);
        if (rc) { for (int k = 0; k < i; k++) batch_request_free(&reqs[k]); tok_free(tok); gguf_close(&gf); return; }
    }
    fake_favourite = eos[0];
    for (int ignore = 0; ignore < 2; ignore++) {
        Fake f;
        fake_init(&f, tok_vocab(tok), 4, 64, 0);
        Collected c = { .f = &f };
        BatchSched s = { .e = &f.e, .tok = tok, .prefill_budget = 16, .created = 99, .on_line = collect,
                         .on_step = step_done, .user = &c, .ignore_eos = ignore };
        BatchStats st;
        int rc = batch_run(&s, reqs, N, &st);
        CHECK(rc == 0 && c.n_ok == N, "ignore_eos %d: batch_run %d, %d of %d ok", ignore, rc, c.n_ok, N);
        CHECK(st.output_tokens == (ignore ? 7L * N : (long)N), "ignore_eos %d: %ld output tokens, want %d", ignore,
              (long)st.output_tokens, ignore ? 7 * N : N);
        for (int i = 0; i < N; i++) {
            CHECK(c.lines[i] && strstr(c.lines[i], ignore ? "\"finish_reason\": \"length\"" : "\"finish_reason\": \"stop\""),
                  "ignore_eos %d: request %d: %s", ignore, i, c.lines[i] ? c.lines[i] : "(no line)");
            free(c.lines[i]);
        }
    }
    fake_favourite = -1;
    for (int i = 0; i < N; i++) batch_request_free(&reqs[i]);
    tok_free(tok);
    gguf_close(&gf);
}

static void scheduler_matches_generate(void) {
    GGUFFile gf;
    Tokenizer *tok = open_vocab(&gf);
    if (!tok) SKIP("no Qwen vocabulary (build/tiny-f32.gguf from t_cli.sh, or sh tests/setup.sh)");
    int vocab = tok_vocab(tok), max_ctx = 48;
    enum { N = 40 };
    BatchRequest reqs[N];
    if (make_requests(reqs, N, 12, 7, 100, 1, 40)) { tok_free(tok); gguf_close(&gf); return; }

    // pass 0: prefill + decode calls, sampled on the host; pass 1: mixed steps sampled by the engine (step_sample)
    for (int pass = 0; pass < 2; pass++) {
        Fake f;
        int budget = 5 + (int)(rng_u64(&g_rng) % 20);
        fake_init(&f, vocab, 4, max_ctx, 0);
        if (pass) {
            f.e.step = fake_step;
            f.e.step_sample = fake_step_sample;
            f.sample_logits = xmalloc(sizeof(float) * 2 * FMAX_SEQS * (size_t)vocab);
        }
        Collected c = { .f = &f };
        BatchSched s = { .e = &f.e, .tok = tok, .prefill_budget = budget, .created = 99, .on_line = collect,
                         .on_step = step_done, .user = &c };
        BatchStats st;
        int rc = batch_run(&s, reqs, N, &st);
        CHECK(rc == 0, "pass %d: batch_run: %d %s", pass, rc, s.err);
        CHECK(f.bad == 0, "pass %d: %d bad engine calls", pass, f.bad);
        CHECK(f.max_decode_n > 1, "pass %d: never decoded more than one sequence per call (max %d)", pass, f.max_decode_n);
        CHECK(f.max_prefill_between <= budget, "pass %d: prefilled %d tokens in one step, budget %d", pass,
              f.max_prefill_between, budget);
        CHECK(c.n == N && c.n_ok + c.n_err == N && st.ok == c.n_ok && st.errors == c.n_err, "pass %d: %d lines, %d ok %d err",
              pass, c.n, c.n_ok, c.n_err);
        CHECK(c.n_err > 0 && c.n_ok > N / 2, "pass %d: expected a few overlong prompts among mostly good requests: %d ok %d err",
              pass, c.n_ok, c.n_err);
        CHECK(!pass || f.sampled_rows >= c.n_ok, "pass %d: only %d rows sampled by the engine for %d replies", pass,
              f.sampled_rows, c.n_ok);
        int mismatches = compare_with_generate(tok, reqs, N, c.lines, max_ctx);
        CHECK(mismatches == 0, "pass %d: %d of %d requests differ from generate() alone", pass, mismatches, N);
        printf("  pass %d (%s): %d requests: %d ok, %d errors; %d decode calls, up to %d sequences each; prefill budget "
               "%d; %d rows sampled by the engine\n", pass, pass ? "step_sample" : "prefill/decode", N, c.n_ok, c.n_err,
               f.decode_calls, f.max_decode_n, budget, f.sampled_rows);
        for (int i = 0; i < N; i++) free(c.lines[i]);
        free(f.sample_logits);
    }
    for (int i = 0; i < N; i++) batch_request_free(&reqs[i]);
    tok_free(tok);
    gguf_close(&gf);
}

// A pool too small for the sequences in flight: running sequences outgrow it and are preempted (recomputed
// later), prompts wait for pages, a prompt longer than the pool is answered with an error line, a reply that
// would outgrow the pool stops with "length" at the pool's tokens — and every line is still the one generate()
// gives alone (on an engine whose context is the pool's).
static void scheduler_preempts(void) {
    GGUFFile gf;
    Tokenizer *tok = open_vocab(&gf);
    if (!tok) SKIP("no Qwen vocabulary (build/tiny-f32.gguf from t_cli.sh, or sh tests/setup.sh)");
    int vocab = tok_vocab(tok), max_ctx = 4 * KV_PAGE, pages = 3;  // the pool holds 3 x 64 < max_ctx tokens
    enum { N = 24 };
    BatchRequest reqs[N];
    if (make_requests(reqs, N, 30, 11, 300, 30, 170)) { tok_free(tok); gguf_close(&gf); return; }
    int runs = 0, preemptions = 0, mismatches = 0, bad = 0;
    // prefill + decode calls, then mixed steps with a small budget, then the same sampled by the engine (step_sample)
    for (int pass = 0; pass < 3; pass++) {
        Fake f;
        int budget = pass ? 7 + (int)(rng_u64(&g_rng) % 30) : 512;
        fake_init(&f, vocab, pass ? 4 : FMAX_SEQS, max_ctx, pages);
        if (pass) f.e.step = fake_step;
        if (pass == 2) {
            f.e.step_sample = fake_step_sample;
            f.sample_logits = xmalloc(sizeof(float) * 2 * FMAX_SEQS * (size_t)vocab);
        }
        Collected c = { .f = &f };
        BatchSched s = { .e = &f.e, .tok = tok, .prefill_budget = budget, .created = 99, .on_line = collect,
                         .on_step = step_done, .user = &c };
        BatchStats st;
        int rc = batch_run(&s, reqs, N, &st);
        CHECK(rc == 0, "pass %d: batch_run: %d %s", pass, rc, s.err);
        bad += f.bad + f.refused;
        CHECK(f.max_pages_used <= pages, "pass %d: %d pages in use, the pool has %d", pass, f.max_pages_used, pages);
        CHECK(f.pages_used == 0, "pass %d: %d pages still held after the run", pass, f.pages_used);
        CHECK(c.n == N && c.n_ok + c.n_err == N, "pass %d: %d lines for %d requests", pass, c.n, N);
        CHECK(c.n_err > 0 && c.n_ok > N / 2, "pass %d: %d ok %d err: expected a few prompts longer than the pool",
              pass, c.n_ok, c.n_err);
        for (int i = 0; i < N; i++)
            if (c.lines[i] && strstr(c.lines[i], "\"response\": null"))
                CHECK(strstr(c.lines[i], "KV cache pool") != NULL, "pass %d: error line without the pool: %s", pass,
                      c.lines[i]);
        mismatches += compare_with_generate(tok, reqs, N, c.lines, pages * KV_PAGE);
        preemptions += (int)st.preemptions;
        runs++;
        printf("  pass %d: %d ok, %d errors, %ld preemptions, %d decode calls (up to %d sequences), pages %d\n", pass,
               c.n_ok, c.n_err, st.preemptions, f.decode_calls, f.max_decode_n, pages);
        for (int i = 0; i < N; i++) free(c.lines[i]);
        free(f.sample_logits);
    }
    CHECK(bad == 0, "%d bad or refused engine calls (the page plan must prevent every refusal)", bad);
    CHECK(preemptions > 0, "no preemption happened: the test does not test it");
    CHECK(mismatches == 0, "%d lines differ from generate() alone", mismatches);
    for (int i = 0; i < N; i++) batch_request_free(&reqs[i]);
    tok_free(tok);
    gguf_close(&gf);
}

// ---------------------------------------------------------------- the page pool's bookkeeping (kv_pages.c)
// Random grows and shrinks of 6 sequences over a 40-page pool: a sequence of len tokens always holds exactly
// ceil(len / KV_PAGE) pages, no page is held twice, held + free = the pool, entries past a sequence's pages hold
// the `unused` value, a grow the pool cannot cover fails and changes nothing, and every changed row is marked dirty.
static void kv_pages_bookkeeping(void) {
    enum { S = 6, NP = 40, CTX = 1000, UNUSED = 777 };
    KvPages kv;
    kvp_init(&kv, NP, S, CTX, UNUSED, NULL);
    int len[S] = { 0 }, bad = 0, refused = 0;
    for (int it = 0; it < 4000; it++) {
        int s = (int)(rng_u64(&g_rng) % S), n;
        kvp_clean(&kv);
        if (rng_u64(&g_rng) % 3) {  // grow by 1..200 tokens (capped at CTX)
            n = len[s] + 1 + (int)(rng_u64(&g_rng) % 200);
            if (n > CTX) n = CTX;
            int need = kvp_need(&kv, s, n), free0 = kv.n_free;
            if (kvp_grow(&kv, s, n) == 0) { len[s] = n; bad += need > 0 && !(kv.dirty_lo <= s && s <= kv.dirty_hi); }
            else { refused++; bad += need <= free0 || kv.n_free != free0; }
        } else {  // shrink to 0..len
            n = len[s] ? (int)(rng_u64(&g_rng) % (uint64_t)(len[s] + 1)) : 0;
            int before = kv.held[s];
            kvp_shrink(&kv, s, n);
            len[s] = n;
            bad += kv.held[s] != before && !(kv.dirty_lo <= s && s <= kv.dirty_hi);
        }
        int owner[NP], held = 0;
        for (int p = 0; p < NP; p++) owner[p] = -1;
        for (int q = 0; q < S; q++) {
            bad += kv.held[q] != kvp_pages_for(len[q]);
            held += kv.held[q];
            for (int j = 0; j < kv.max_pages; j++) {
                int pg = kv.table[q * kv.max_pages + j];
                if (j >= kv.held[q]) { bad += pg != UNUSED; continue; }
                if (pg < 0 || pg >= NP || owner[pg] >= 0) { bad++; continue; }
                owner[pg] = q;
            }
        }
        bad += held + kv.n_free != NP;
    }
    CHECK(bad == 0, "%d bookkeeping errors", bad);
    CHECK(refused > 0, "the pool never ran short: the test does not test refusal");
    kvp_free(&kv);
}

int main(void) {
    test_init();
    rng_seed(&g_rng, t_seed);
    RUN(parse_chat_request);
    RUN(parse_completion_request);
    RUN(parse_errors);
    RUN(format_lines);
    RUN(scan_results);
    RUN(idset_and_shards);
    RUN(scheduler_matches_generate);
    RUN(scheduler_ignore_eos);
    RUN(scheduler_preempts);
    RUN(kv_pages_bookkeeping);
    return test_end();
}
