// batch.c — the batch job's pieces: OpenAI Batch API request parsing, result/error line formatting, the scan of
// an existing results file (resume), shard hashing, and the continuous-batching scheduler over Engine slots.
// defines: batch_parse_request, batch_format_result/error, idset_*, batch_scan_results, batch_shard_of, batch_run
#include "batch.h"
#include "chat.h"
#include "generate.h"
#include "json.h"
#include "util.h"
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- JSON output pieces (StrBuf: util.h)
static void buf_str(StrBuf *b, const char *s) {  // a JSON string, or null
    if (!s) { sb_adds(b, "null"); return; }
    if (!b->p) sb_add(b, "", 0);
    json_escape(&b->p, &b->len, &b->cap, s, strlen(s));
}


// ---------------------------------------------------------------- hashing, shards, the id set
uint64_t batch_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a, then a splitmix64 finaliser so that h % n spreads evenly
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 30; h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27; h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

int batch_shard_of(const char *custom_id, int n_shards) { return (int)(batch_hash(custom_id) % (uint64_t)n_shards); }

static size_t idset_slot(const IdSet *s, const char *key) {
    size_t i = (size_t)batch_hash(key) & (s->cap - 1);
    while (s->keys[i] && strcmp(s->keys[i], key)) i = (i + 1) & (s->cap - 1);
    return i;
}

int idset_add(IdSet *s, const char *key) {
    if (2 * (s->n + 1) > s->cap) {  // open addressing, kept at most half full
        IdSet g = { .cap = s->cap ? 2 * s->cap : 64 };
        g.keys = xcalloc(g.cap, sizeof *g.keys);
        g.counts = xcalloc(g.cap, sizeof *g.counts);
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i]) {
                size_t j = idset_slot(&g, s->keys[i]);
                g.keys[j] = s->keys[i];
                g.counts[j] = s->counts[i];
            }
        g.n = s->n;
        free(s->keys);
        free(s->counts);
        *s = g;
    }
    size_t i = idset_slot(s, key);
    if (!s->keys[i]) { s->keys[i] = xstrdup(key); s->n++; }
    return ++s->counts[i];
}

int idset_count(const IdSet *s, const char *key) {
    if (!s->cap) return 0;
    size_t i = idset_slot(s, key);
    return s->keys[i] ? s->counts[i] : 0;
}

void idset_free(IdSet *s) {
    for (size_t i = 0; i < s->cap; i++) free(s->keys[i]);
    free(s->keys);
    free(s->counts);
    memset(s, 0, sizeof *s);
}

// ---------------------------------------------------------------- request parsing
void batch_request_free(BatchRequest *r) {
    free(r->custom_id);
    free(r->prompt);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->stop);
    free(r->model);
    memset(r, 0, sizeof *r);
}

typedef struct { char *code; size_t codelen; char *msg; size_t msglen; } ErrOut;

static int reject(ErrOut *o, const char *code, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int reject(ErrOut *o, const char *code, const char *fmt, ...) {
    snprintf(o->code, o->codelen, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, o->msglen, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_text(const JsonValue *v) {  // a string we can hand to C: no NUL inside, valid UTF-8
    return v && v->type == JSON_STRING && strlen(v->str) == v->str_len && utf8_valid(v->str, v->str_len);
}

// A number field: absent or null keeps *out; otherwise it must lie in [lo, hi] (and be whole when integral).
static int num_field(const JsonValue *body, const char *key, double lo, double hi, int integral, double *out, ErrOut *o) {
    const JsonValue *v = json_get(body, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_NUMBER || !(v->number >= lo && v->number <= hi) || (integral && v->number != floor(v->number)))
        return reject(o, "invalid_request", "body.%s must be %s in [%g, %g]", key, integral ? "an integer" : "a number", lo, hi);
    *out = v->number;
    return 0;
}

// Chat message content: a string, null, or an array of {"type": "text", "text": ...} parts (joined).
static int content_text(const JsonValue *c, int i, char **out, ErrOut *o) {
    *out = NULL;
    if (!c || c->type == JSON_NULL) return 0;
    if (c->type == JSON_STRING) {
        if (!is_text(c)) return reject(o, "invalid_request", "messages[%d].content is not valid UTF-8 text", i);
        *out = xstrdup(c->str);
        return 0;
    }
    if (c->type != JSON_ARRAY) return reject(o, "invalid_request", "messages[%d].content must be a string or an array of parts", i);
    StrBuf b = { 0 };
    sb_add(&b, "", 0);
    for (size_t k = 0; k < c->n; k++) {
        const JsonValue *type = json_get(&c->items[k], "type"), *text = json_get(&c->items[k], "text");
        if (!type || type->type != JSON_STRING || strcmp(type->str, "text") || !is_text(text)) {
            free(b.p);
            return reject(o, "invalid_request", "messages[%d].content[%zu]: only {\"type\": \"text\", \"text\": ...} parts are supported", i, k);
        }
        sb_adds(&b, text->str);
    }
    *out = b.p;
    return 0;
}

// Renders body.messages (+ body.tools) with the chat template into r->prompt.
static int parse_chat(const JsonValue *body, int think, BatchRequest *r, ErrOut *o) {
    const JsonValue *msgs = json_get(body, "messages");
    if (!msgs || msgs->type != JSON_ARRAY || msgs->n == 0)
        return reject(o, "invalid_request", "body.messages must be a non-empty array");
    const JsonValue *kw = json_get(json_get(body, "chat_template_kwargs"), "enable_thinking");
    if (kw && kw->type == JSON_BOOL) think = kw->boolean;
    int n = (int)msgs->n, rc = 0;
    ChatMsg *cm = xcalloc((size_t)n, sizeof *cm);
    char **owned = xcalloc((size_t)n * 2, sizeof *owned);  // content and tool_calls text, freed after rendering
    StrBuf tools = { 0 };
    for (int i = 0; i < n && !rc; i++) {
        const JsonValue *m = &msgs->items[i], *role = json_get(m, "role");
        if (m->type != JSON_OBJECT || !is_text(role)) { rc = reject(o, "invalid_request", "messages[%d] needs a string role", i); break; }
        const char *rs = role->str;
        if (!strcmp(rs, "developer")) rs = "system";  // OpenAI's newer name for the system role
        if (strcmp(rs, "system") && strcmp(rs, "user") && strcmp(rs, "assistant") && strcmp(rs, "tool")) {
            rc = reject(o, "invalid_request", "messages[%d].role '%s' is not system, user, assistant or tool", i, role->str);
            break;
        }
        cm[i].role = rs;
        if ((rc = content_text(json_get(m, "content"), i, &owned[2 * i], o))) break;
        cm[i].content = owned[2 * i];
        const JsonValue *rea = json_get(m, "reasoning_content"), *calls = json_get(m, "tool_calls");
        if (is_text(rea)) cm[i].reasoning = rea->str;
        if (calls && calls->type == JSON_ARRAY && calls->n) {
            StrBuf cb = { 0 };
            json_write(&cb, calls);
            owned[2 * i + 1] = cb.p;
            cm[i].tool_calls_json = cb.p;
        }
    }
    if (!rc) {
        const JsonValue *t = json_get(body, "tools");
        if (t && t->type == JSON_ARRAY && t->n) json_write(&tools, t);
        char err[256];
        r->prompt = chat_render(cm, n, tools.p, 1, think, err, sizeof err);
        if (!r->prompt) rc = reject(o, "invalid_request", "chat template: %s", err);
    }
    for (int i = 0; i < 2 * n; i++) free(owned[i]);
    free(owned);
    free(cm);
    free(tools.p);
    r->is_chat = 1;
    r->parse_special = 1;
    return rc;
}

static int parse_completion(const JsonValue *body, BatchRequest *r, ErrOut *o) {
    const JsonValue *p = json_get(body, "prompt");
    if (p && p->type == JSON_ARRAY && p->n == 1) p = &p->items[0];
    if (!is_text(p)) return reject(o, "invalid_request", "body.prompt must be a string (valid UTF-8, no NUL)");
    r->prompt = xstrdup(p->str);
    r->is_chat = 0;
    r->parse_special = 0;  // as `run --raw`: text that looks like a special token stays text
    return 0;
}

static int parse_body(const JsonValue *body, int think, BatchRequest *r, ErrOut *o) {
    const JsonValue *v;
    if ((v = json_get(body, "n")) && v->type != JSON_NULL && !(v->type == JSON_NUMBER && v->number == 1))
        return reject(o, "invalid_request", "body.n: only 1 choice per request is supported");
    if ((v = json_get(body, "stream")) && v->type == JSON_BOOL && v->boolean)
        return reject(o, "invalid_request", "body.stream: a batch request cannot stream");
    if ((v = json_get(body, "model")) && is_text(v)) r->model = xstrdup(v->str);

    double x = r->max_tokens;
    if (num_field(body, "max_tokens", 1, 1 << 30, 1, &x, o)) return -1;
    if (num_field(body, "max_completion_tokens", 1, 1 << 30, 1, &x, o)) return -1;
    r->max_tokens = (int)x;
    SamplerParams *sp = &r->sp;
    double t = sp->temperature, tp = sp->top_p, tk = sp->top_k, mp = sp->min_p, pp = sp->presence_penalty,
           fp = sp->frequency_penalty, rp = sp->repeat_penalty, seed = -1;
    if (num_field(body, "temperature", 0, 100, 0, &t, o) || num_field(body, "top_p", 0, 1, 0, &tp, o) ||
        num_field(body, "top_k", -1, 1 << 30, 1, &tk, o) || num_field(body, "min_p", 0, 1, 0, &mp, o) ||
        num_field(body, "presence_penalty", -2, 2, 0, &pp, o) || num_field(body, "frequency_penalty", -2, 2, 0, &fp, o) ||
        num_field(body, "repetition_penalty", 0, 100, 0, &rp, o) ||
        num_field(body, "seed", -9007199254740991.0, 9007199254740991.0, 1, &seed, o))
        return -1;
    if (tp <= 0) return reject(o, "invalid_request", "body.top_p must be in (0, 1]");
    sp->temperature = (float)t; sp->top_p = (float)tp; sp->top_k = (int)tk < 0 ? 0 : (int)tk; sp->min_p = (float)mp;
    sp->presence_penalty = (float)pp; sp->frequency_penalty = (float)fp; sp->repeat_penalty = (float)rp;
    // No seed: one derived from the custom_id, so a rerun (or a resumed run) gives the same text.
    sp->seed = seed >= 0 ? (uint64_t)seed : seed < -1 ? (uint64_t)(int64_t)seed : batch_hash(r->custom_id) & 0x7FFFFFFF;

    const JsonValue *stop = json_get(body, "stop");
    if (stop && stop->type != JSON_NULL) {
        const JsonValue *items = stop->type == JSON_ARRAY ? stop->items : stop;
        size_t n = stop->type == JSON_ARRAY ? stop->n : 1;
        if (n > 16) return reject(o, "invalid_request", "body.stop: at most 16 stop strings");
        for (size_t i = 0; i < n; i++)
            if (!is_text(&items[i])) return reject(o, "invalid_request", "body.stop must be a string or an array of strings");
        r->stop = xcalloc(n ? n : 1, sizeof *r->stop);
        for (size_t i = 0; i < n; i++) r->stop[r->n_stop++] = xstrdup(items[i].str);
    }
    return r->is_chat ? parse_chat(body, think, r, o) : parse_completion(body, r, o);
}

int batch_parse_request(const char *line, size_t len, long line_no, int think, BatchRequest *r,
                        char *code, size_t codelen, char *msg, size_t msglen) {
    memset(r, 0, sizeof *r);
    r->line_no = line_no;
    r->max_tokens = -1;
    r->sp = sampler_defaults();
    ErrOut o = { code, codelen, msg, msglen };
    char jerr[160], idbuf[32];
    snprintf(idbuf, sizeof idbuf, "line-%ld", line_no);
    JsonValue *v = json_parse(line, len, jerr, sizeof jerr);
    if (!v || v->type != JSON_OBJECT) {
        r->custom_id = xstrdup(idbuf);
        json_free(v);
        return reject(&o, "invalid_json", "line %ld is not a JSON object%s%s", line_no, v ? "" : ": ", v ? "" : jerr);
    }
    const JsonValue *cid = json_get(v, "custom_id");
    if (!is_text(cid) || cid->str_len == 0) {
        r->custom_id = xstrdup(idbuf);
        json_free(v);
        return reject(&o, "missing_custom_id", "line %ld has no custom_id (a non-empty string)", line_no);
    }
    r->custom_id = xstrdup(cid->str);
    const JsonValue *method = json_get(v, "method"), *url = json_get(v, "url"), *body = json_get(v, "body");
    int rc;
    if (method && (method->type != JSON_STRING || strcmp(method->str, "POST")))
        rc = reject(&o, "invalid_request", "method must be \"POST\"");
    else if (!url || url->type != JSON_STRING ||
             (strcmp(url->str, "/v1/chat/completions") && strcmp(url->str, "/v1/completions")))
        rc = reject(&o, "invalid_request", "url must be \"/v1/chat/completions\" or \"/v1/completions\"");
    else if (!body || body->type != JSON_OBJECT) rc = reject(&o, "invalid_request", "body must be a JSON object");
    else {
        r->is_chat = !strcmp(url->str, "/v1/chat/completions");
        rc = parse_body(body, think, r, &o);
    }
    json_free(v);
    return rc;
}

// ---------------------------------------------------------------- result lines
static void line_head(StrBuf *b, const char *custom_id, long line_no) {
    sb_printf(b, "{\"id\": \"batch_req_%016llx\", \"custom_id\": ",
               (unsigned long long)(batch_hash(custom_id) ^ (uint64_t)line_no * 0x9E3779B97F4A7C15ull));
    buf_str(b, custom_id);
}

char *batch_format_error(const char *custom_id, long line_no, const char *code, const char *msg) {
    StrBuf b = { 0 };
    line_head(&b, custom_id, line_no);
    sb_adds(&b, ", \"response\": null, \"error\": {\"code\": ");
    buf_str(&b, code);
    sb_adds(&b, ", \"message\": ");
    buf_str(&b, msg);
    sb_adds(&b, "}}\n");
    return b.p;
}

char *batch_format_result(const BatchRequest *r, const char *text, const char *finish, int prompt_tokens,
                          int completion_tokens, long created) {
    StrBuf b = { 0 };
    uint64_t h = batch_hash(r->custom_id) ^ (uint64_t)r->line_no * 0x9E3779B97F4A7C15ull;
    line_head(&b, r->custom_id, r->line_no);
    sb_printf(&b, ", \"response\": {\"status_code\": 200, \"request_id\": \"req_%016llx\", \"body\": {"
                   "\"id\": \"%s-%016llx\", \"object\": \"%s\", \"created\": %ld, \"model\": ",
               (unsigned long long)h, r->is_chat ? "chatcmpl" : "cmpl", (unsigned long long)h,
               r->is_chat ? "chat.completion" : "text_completion", created);
    buf_str(&b, r->model ? r->model : "qwen3-ptx");
    sb_adds(&b, ", \"choices\": [{\"index\": 0, ");
    if (r->is_chat) {
        ParsedOutput po;
        parse_output(text, &po);
        sb_adds(&b, "\"message\": {\"role\": \"assistant\", \"content\": ");
        buf_str(&b, po.content ? po.content : "");
        if (po.reasoning) { sb_adds(&b, ", \"reasoning_content\": "); buf_str(&b, po.reasoning); }
        if (po.n_calls) {
            sb_adds(&b, ", \"tool_calls\": [");
            for (int i = 0; i < po.n_calls; i++) {
                sb_printf(&b, "%s{\"id\": \"call_%016llx_%d\", \"type\": \"function\", \"function\": {\"name\": ",
                           i ? ", " : "", (unsigned long long)h, i);
                buf_str(&b, po.calls[i].name);
                sb_adds(&b, ", \"arguments\": ");  // OpenAI sends the arguments as a JSON-encoded string
                buf_str(&b, po.calls[i].arguments_json ? po.calls[i].arguments_json : "{}");
                sb_adds(&b, "}}");
            }
            sb_adds(&b, "]");
            if (!strcmp(finish, "stop")) finish = "tool_calls";
        }
        sb_adds(&b, "}");
        parsed_output_free(&po);
    } else {
        sb_adds(&b, "\"text\": ");
        buf_str(&b, text);
    }
    sb_adds(&b, ", \"logprobs\": null, \"finish_reason\": ");
    buf_str(&b, finish);
    sb_printf(&b, "}], \"usage\": {\"prompt_tokens\": %d, \"completion_tokens\": %d, \"total_tokens\": %d}}}, "
                   "\"error\": null}\n", prompt_tokens, completion_tokens, prompt_tokens + completion_tokens);
    return b.p;
}

// ---------------------------------------------------------------- resume: what an existing results file holds
long batch_scan_results(const char *data, size_t len, size_t *valid_len, IdSet *done, IdSet *dups,
                        char *err, size_t errlen) {
    size_t pos = 0;
    long lines = 0;
    *valid_len = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (!nl) break;  // a torn last line: the caller cuts it away
        size_t n = (size_t)(nl - (data + pos));
        lines++;
        char jerr[160];
        JsonValue *v = json_parse(data + pos, n, jerr, sizeof jerr);
        const JsonValue *cid = json_get(v, "custom_id"), *code = json_get(json_get(v, "error"), "code");
        if (!v || !cid || cid->type != JSON_STRING) {
            snprintf(err, errlen, "line %ld is not a batch result line (%s)", lines, v ? "no custom_id" : jerr);
            json_free(v);
            return -1;
        }
        if (code && code->type == JSON_STRING && !strcmp(code->str, "duplicate_custom_id")) idset_add(dups, cid->str);
        else idset_add(done, cid->str);
        json_free(v);
        pos += n + 1;
        *valid_len = pos;
    }
    return lines;
}

// ---------------------------------------------------------------- the scheduler
// Continuous batching: every step fills free slots from the queue, plans the step's KV pages (below), prefills
// prompts in chunks under a shared token budget, then runs ONE decode call for every sequence that has a token
// to feed, and samples each with its own sampler. Engines with step() get both in one forward pass per scheduler
// step (mixed_step).
//
// Paged KV (engines with free_pages): a slot holds a request; it is *running* once it may take KV pages. A
// waiting slot starts (oldest first, FIFO) when its whole prompt fits in the pages left after the decodes of the
// step and the unfinished prompts of running slots. When the decodes alone need more pages than are free, the
// youngest running sequence is preempted: its pages go back to the pool and it waits again with its reply so far
// appended to its prompt (the sampler and the text keep their state), to be recomputed by prefill when pages
// free up. Greedy output is the same as without preemption; the only cost is the recompute. A sequence stops
// with "length" at min(max_ctx, the pool's tokens), so one sequence alone always fits and preemption ends.
typedef struct {
    int req;                     // index into reqs; -1: free
    long order;                  // admission number: prefill (and starting) serves the oldest first
    int *toks; int n_toks, cap;  // the prompt then every sampled token
    int n_prompt, n_prefilled;   // tokens to prefill (the prompt, or after a preemption all of toks), done so far
    int n_prompt0;               // the request's own prompt tokens (usage)
    int running;                 // may hold KV pages (always, without a page pool)
    int cap_tokens, n_gen;       // the reply's token limit; tokens sampled (counting an EOS)
    int next;                    // sampled token to feed at the next decode; -1: none
    int pend;                    // run-ahead: the wanted row of the last submitted step whose id this slot feeds
                                 // next (its id not read yet); -1: none
    Sampler s;
    TextStop ts;                 // the visible text, cut before a stop string
} Slot;

typedef struct {
    BatchSched *s;
    BatchRequest *reqs;
    BatchStats *st;
    Slot *slots;
    int eos[3], n_eos;
    int stop;                    // on_line asked to stop
    int paged;                   // the engine has a page pool
    int ctx_cap;                 // tokens one sequence may reach: max_ctx, or less when the pool is smaller
    int avail;                   // pages the prefill chunks of this step may take (INT_MAX without a pool)
    // The engine samples (Engine.step_sample; QWEN3_HOST_SAMPLING=1 turns it off): mixed steps return token ids,
    // no logits reach the host and the slots keep no Sampler. Per wanted row of a step (at most 2*max_seqs):
    int dev_sample;
    const SamplerParams **row_params;
    uint64_t *row_draw;          // the slot's n_gen: a recomputed (preempted) sequence draws the same tokens
    int *row_ids;
    // Run-ahead (Engine.step_submit, with dev_sample; QWEN3_RUN_AHEAD=0 turns it off): step n + 1 is submitted before
    // step n's ids are read, its decode rows feeding them on the engine's side (ENGINE_PREV), so the host's work
    // between steps overlaps the device's. The step in flight: fl_n wanted rows (-1: none), each row's slot and
    // request (a row whose slot finished or changed request since is dropped); the next step's lists in fl2_*.
    int ahead, fl_n, *fl_slot, *fl_req, *fl2_slot, *fl2_req;
    struct PreTok *pre;          // prompts tokenized ahead of admission (pretokenized)
    int n_reqs;
} Run;

static void emit(Run *R, const BatchRequest *r, char *line, int is_error) {
    if (R->s->on_line(R->s->user, r, line, is_error)) R->stop = 1;
    if (is_error) R->st->errors++; else R->st->ok++;
    free(line);
}

static void slot_release(Run *R, int i) {
    Slot *sl = &R->slots[i];
    R->s->e->free_seq(R->s->e, i);
    sampler_free(&sl->s);
    textstop_free(&sl->ts);
    free(sl->toks);
    memset(sl, 0, sizeof *sl);
    sl->req = -1;
    sl->next = -1;
    sl->pend = -1;
    R->st->active--;
}

// Prompts are tokenized ahead of their admission, PRE_WINDOW requests at a time over the thread pool: the GPU waits
// while the host admits, and the BPE of 256 prompts of 128 tokens took 21 ms on one core (bench/throughput --backend
// null; 1.4% of the H100's 256 x (128 -> 128) job; 86 ms for the random workload). ids NULL: not valid UTF-8.
enum { PRE_WINDOW = 256 };
typedef struct PreTok { int *ids, n, done; } PreTok;
typedef struct { Run *R; int q0; } PreWin;
static void pretok(void *ctx, int64_t k) {  // request q0 + k of the window, unless done
    PreWin *w = ctx;
    int q = w->q0 + (int)k;
    PreTok *p = &w->R->pre[q];
    if (p->done) return;
    const BatchRequest *r = &w->R->reqs[q];
    p->ids = gen_tokenize(w->R->s->tok, r->prompt, r->parse_special, &p->n);
    p->done = 1;
}
static int *pretokenized(Run *R, int q, int *n) {
    if (!R->pre[q].done) {
        PreWin w = { R, q };
        int m = R->n_reqs - q < PRE_WINDOW ? R->n_reqs - q : PRE_WINDOW;
        parallel_for(m, pretok, &w);
    }
    int *ids = R->pre[q].ids;
    *n = R->pre[q].n;
    R->pre[q].ids = NULL;  // (the slot owns them now)
    return ids;
}

// --- admit: one queued request into free slot i; 0 when it took the slot, 1 when it was answered at once ---
static int admit(Run *R, int i, int q, long order) {
    BatchRequest *r = &R->reqs[q];
    Engine *e = R->s->e;
    char msg[256];
    int n_ids, *ids = pretokenized(R, q, &n_ids);
    const char *code = "invalid_request";
    if (!ids) snprintf(msg, sizeof msg, "the prompt is not valid UTF-8");
    else if (n_ids == 0) snprintf(msg, sizeof msg, "the prompt is empty");
    else if (n_ids >= R->ctx_cap) {
        code = "context_length_exceeded";
        if (R->ctx_cap < e->max_ctx)
            snprintf(msg, sizeof msg, "the prompt is %d tokens but the KV cache pool holds %d (%d pages)", n_ids,
                     R->ctx_cap, e->n_pages);
        else snprintf(msg, sizeof msg, "the prompt is %d tokens but the context holds %d (raise -c)", n_ids, e->max_ctx);
    } else {
        code = NULL;
        for (int k = 0; k < n_ids && !code; k++)
            if (ids[k] < 0 || ids[k] >= e->cfg->vocab) {
                code = "invalid_request";
                snprintf(msg, sizeof msg, "prompt token %d is outside the model's vocabulary", ids[k]);
            }
    }
    if (code) {
        free(ids);
        emit(R, r, batch_format_error(r->custom_id, r->line_no, code, msg), 1);
        return 1;
    }
    Slot *sl = &R->slots[i];
    if (e->seq_len(e, i)) e->free_seq(e, i);
    sl->req = q;
    sl->order = order;
    sl->toks = ids;
    sl->n_toks = sl->cap = n_ids;
    sl->n_prompt = sl->n_prompt0 = n_ids;
    sl->n_prefilled = 0;
    sl->running = !R->paged;
    sl->n_gen = 0;
    sl->next = -1;
    sl->pend = -1;
    sl->cap_tokens = r->max_tokens >= 0 && r->max_tokens < R->ctx_cap ? r->max_tokens : R->ctx_cap;
    if (!R->dev_sample) {  // (the engine keeps the history itself when it samples)
        sampler_init(&sl->s, &r->sp, e->cfg->vocab);
        for (int k = 0; k < n_ids; k++) sampler_accept(&sl->s, ids[k]);  // the penalties see the prompt and the reply
    }
    textstop_init(&sl->ts, (const char *const *)r->stop, r->n_stop);
    R->st->active++;
    return 0;
}

// --- finish: the result line, then the slot is free again ---
static void finish(Run *R, int i, const char *reason) {
    Slot *sl = &R->slots[i];
    BatchRequest *r = &R->reqs[sl->req];
    textstop_finish(&sl->ts);
    R->st->prompt_tokens += sl->n_prompt0;
    R->st->output_tokens += sl->n_gen;
    emit(R, r, batch_format_result(r, sl->ts.text, reason, sl->n_prompt0, sl->n_gen, R->s->created), 0);
    slot_release(R, i);
}

// --- sample: the next token of each listed slot from its logits row, or the token the engine sampled (given);
// the stop conditions are generate()'s (gen_next_token, gen_accept_token). Sampling a 150k vocabulary takes
// ~0.1-0.5 ms a sequence, so with 64 sequences it runs in parallel (each slot owns its sampler and text);
// finishing (writing lines) stays serial, in slot-list order. ---
typedef struct {
    Run *R;
    const int *slot;             // n slots
    float *logits;               // n rows (NULL with given)
    const int *given;            // n tokens sampled by the engine (-1: no usable logit), or NULL
    int *ctx_full, *ids;         // in: the slot's cache is full; out: the token (-1: NaN logits)
    const char **fin;            // out: finish reason or NULL
} SampleJob;

static void sample_one(void *ctx, int64_t j) {
    SampleJob *J = ctx;
    Run *R = J->R;
    Slot *sl = &R->slots[J->slot[j]];
    size_t released;
    if (J->given) {
        J->fin[j] = NULL;
        J->ids[j] = J->given[j] < 0 ? -1 : gen_accept_token(NULL, J->given[j], R->s->tok, &sl->ts, R->eos, R->n_eos,
                                                             sl->n_gen, sl->cap_tokens, J->ctx_full[j], &J->fin[j], &released);
        return;
    }
    J->ids[j] = gen_next_token(&sl->s, J->logits + (size_t)R->s->e->cfg->vocab * (size_t)j, R->s->tok, &sl->ts,
                               R->eos, R->n_eos, sl->n_gen, sl->cap_tokens, J->ctx_full[j], &J->fin[j], &released);
}

// Run-ahead: a slot with a row in the step submitted after this one (pend) has fed the id already: it is kept, not
// stored in next, and that row does not count against the context here.
static void sample_slots(Run *R, int n, const int *slot, float *logits, const int *given) {
    Engine *e = R->s->e;
    int *ctx_full = xmalloc(sizeof(int) * (size_t)n * 2), *ids = ctx_full + n;
    const char **fin = xmalloc(sizeof *fin * (size_t)n);
    for (int j = 0; j < n; j++) {
        const Slot *sl = &R->slots[slot[j]];
        ctx_full[j] = e->seq_len(e, slot[j]) - (sl->pend >= 0) >= R->ctx_cap;  // (less the row in flight)
    }
    SampleJob J = { R, slot, logits, given, ctx_full, ids, fin };
    parallel_for(n, sample_one, &J);
    for (int j = 0; j < n; j++) {
        Slot *sl = &R->slots[slot[j]];
        if (ids[j] < 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "the model produced no usable logits (NaN) at token %d", sl->n_gen);
            BatchRequest *r = &R->reqs[sl->req];
            emit(R, r, batch_format_error(r->custom_id, r->line_no, "engine_error", msg), 1);
            slot_release(R, slot[j]);
            continue;
        }
        sl->n_gen++;
        if (fin[j]) { finish(R, slot[j], fin[j]); continue; }
        if (sl->pend < 0) sl->next = ids[j];
        if (sl->n_toks == sl->cap) {  // keep the reply's tokens: a preempted sequence is recomputed from them
            sl->cap = 2 * sl->cap + 16;
            sl->toks = xrealloc(sl->toks, sizeof(int) * (size_t)sl->cap);
        }
        sl->toks[sl->n_toks++] = ids[j];
    }
    free(ctx_full);
    free(fin);
}

static int engine_failed(Run *R, const char *what) {
    snprintf(R->s->err, sizeof R->s->err, "%s: %s", what, R->s->e->err);
    return -1;
}

// ---------------------------------------------------------------- page planning (engines with a pool)
// Frees the youngest running sequence's pages; it waits again, to recompute its prompt and reply so far (toks,
// which end with the token it was about to feed) by prefill. Returns 0, or -1 when nothing runs.
static int preempt_youngest(Run *R) {
    Engine *e = R->s->e;
    int y = -1;
    for (int i = 0; i < e->max_seqs; i++)
        if (R->slots[i].req >= 0 && R->slots[i].running && (y < 0 || R->slots[i].order > R->slots[y].order)) y = i;
    if (y < 0) return -1;
    Slot *sl = &R->slots[y];
    if (getenv("QWEN3_VERBOSE"))
        fprintf(stderr, "qwen3-ptx: batch: preempted %s at %d tokens (no free KV page); it will be recomputed\n",
                R->reqs[sl->req].custom_id, e->seq_len(e, y));
    e->free_seq(e, y);
    sl->running = 0;
    sl->next = -1;
    sl->n_prompt = sl->n_toks;
    sl->n_prefilled = 0;
    R->st->preemptions++;
    return 0;
}

// ---------------------------------------------------------------- run-ahead (Run.ahead)
// 1 and *tok = the token slot i feeds in the next step: its known next, or ENGINE_PREV of its row in the step in
// flight — unless that id will end the reply when it comes back (max_tokens or a full context: gen_accept_token's
// "length"); 0 when it feeds none.
static int feeds(Run *R, int i, int *tok) {
    const Slot *sl = &R->slots[i];
    Engine *e = R->s->e;
    if (sl->req < 0) return 0;
    if (sl->next >= 0) { *tok = sl->next; return 1; }
    if (sl->pend < 0 || sl->n_gen + 1 >= sl->cap_tokens || e->seq_len(e, i) >= R->ctx_cap) return 0;
    *tok = ENGINE_PREV(sl->pend);
    return 1;
}

// The step in flight's ids: each row whose slot still holds the request it was submitted for is accepted
// (sample_slots); the rest (finished or taken by another request since) are dropped.
static int ahead_wait(Run *R) {
    Engine *e = R->s->e;
    int n = R->fl_n, m = 0;
    if (n < 0) return 0;
    R->fl_n = -1;
    if (e->step_wait(e, R->row_ids)) return engine_failed(R, "step");
    for (int j = 0; j < n; j++)
        if (R->slots[R->fl_slot[j]].req == R->fl_req[j]) {
            R->fl_slot[m] = R->fl_slot[j];
            R->row_ids[m++] = R->row_ids[j];
        }
    if (m) sample_slots(R, m, R->fl_slot, NULL, R->row_ids);
    return 0;
}

// No step after the one in flight: its ids become the slots' next tokens.
static int ahead_drain(Run *R) {
    for (int i = 0; i < R->s->e->max_seqs; i++) R->slots[i].pend = -1;
    return ahead_wait(R);
}

// Before a step: preempt until the decode tokens' pages fit, start waiting slots whose prompt fits (oldest first,
// stopping at the first that does not: no overtaking), and leave in R->avail the pages prefill chunks may take.
// Run-ahead: a preemption first reads the step in flight (its rows may be the preempted sequence's). -1: an engine
// error.
static int plan_pages(Run *R) {
    Engine *e = R->s->e;
    int ns = e->max_seqs, need, t;
    R->avail = INT_MAX;
    if (!R->paged) return 0;
    for (;;) {
        need = 0;
        for (int i = 0; i < ns; i++)
            if (feeds(R, i, &t)) need += engine_pages_needed(e, i, 1);
        if (need <= e->free_pages(e)) break;
        if (R->fl_n >= 0) {
            if (ahead_drain(R)) return -1;
            continue;
        }
        if (preempt_youngest(R)) break;
    }
    int left = e->free_pages(e) - need;
    for (int i = 0; i < ns; i++)  // pages the running prompts still need are spoken for
        if (R->slots[i].req >= 0 && R->slots[i].running)
            left -= kvp_pages_for(R->slots[i].n_prompt) - kvp_pages_for(R->slots[i].n_prefilled);
    for (;;) {
        int w = -1;
        for (int i = 0; i < ns; i++)
            if (R->slots[i].req >= 0 && !R->slots[i].running && (w < 0 || R->slots[i].order < R->slots[w].order)) w = i;
        if (w < 0 || kvp_pages_for(R->slots[w].n_prompt) > left) break;
        R->slots[w].running = 1;
        left -= kvp_pages_for(R->slots[w].n_prompt);
    }
    R->avail = e->free_pages(e) - need;
    return 0;
}

// The next prefill chunk: the oldest running slot with prompt left, k <= left tokens of it, within the pages left
// for prefill (R->avail, reduced here). Returns the slot, or -1 when there is none (or no page for it).
static int next_chunk(Run *R, int left, int *k) {
    Engine *e = R->s->e;
    int best = -1;
    for (int i = 0; i < e->max_seqs; i++)
        if (R->slots[i].req >= 0 && R->slots[i].running && R->slots[i].n_prefilled < R->slots[i].n_prompt &&
            (best < 0 || R->slots[i].order < R->slots[best].order)) best = i;
    if (best < 0) return -1;
    Slot *sl = &R->slots[best];
    *k = sl->n_prompt - sl->n_prefilled < left ? sl->n_prompt - sl->n_prefilled : left;
    if (R->paged) {  // the tokens the pages we may take cover
        long fit = ((long)kvp_pages_for(sl->n_prefilled) + R->avail) * KV_PAGE - sl->n_prefilled;
        if (fit < *k) *k = (int)fit;
        if (*k <= 0) return -1;
        R->avail -= kvp_pages_for(sl->n_prefilled + *k) - kvp_pages_for(sl->n_prefilled);
    }
    return best;
}

// One mixed engine step (engines with step()): every decode token, then prompt chunks of the oldest prompts up to
// the budget, in ONE forward pass; decode rows and finished prompts' last rows are sampled after it. Returns -1 on
// an engine error. Buffers: seqs/toks/want hold ns + budget entries, logits 2*ns rows.
static int mixed_run(Run *R, int n, int nd, int nc, int *seqs, int *toks, char *want, int *dseq, int *cseq,
                     float *logits);
// The prefill rows of a step after its n decode rows: prompt chunks, oldest prompt first, up to the budget; a
// prompt finished by its chunk wants its last row's logits and goes to cseq. Returns the rows in all.
static int prefill_rows(Run *R, int budget, int n, int *seqs, int *toks, char *want, int *cseq, int *nc) {
    for (int left = budget, k; left > 0;) {
        int best = next_chunk(R, left, &k);
        if (best < 0) break;
        Slot *sl = &R->slots[best];
        for (int j = 0; j < k; j++) { seqs[n] = best; toks[n] = sl->toks[sl->n_prefilled + j]; want[n++] = 0; }
        sl->n_prefilled += k;
        left -= k;
        if (sl->n_prefilled == sl->n_prompt) { want[n - 1] = 1; cseq[(*nc)++] = best; }
    }
    return n;
}

static int mixed_step(Run *R, int budget, int *seqs, int *toks, char *want, int *dseq, int *cseq, float *logits) {
    Engine *e = R->s->e;
    int ns = e->max_seqs, n = 0, nd = 0, nc = 0;
    for (int i = 0; i < ns; i++)  // --- decode: every sequence with a sampled token to feed
        if (R->slots[i].req >= 0 && R->slots[i].next >= 0) {
            seqs[n] = i; toks[n] = R->slots[i].next; want[n++] = 1;
            dseq[nd++] = i;
            R->slots[i].next = -1;
        }
    n = prefill_rows(R, budget, n, seqs, toks, want, cseq, &nc);
    if (n == 0) return 0;
    double t0 = now_sec();
    int rc = mixed_run(R, n, nd, nc, seqs, toks, want, dseq, cseq, logits);
    if (n == nd) {
        R->st->decode_only_s += now_sec() - t0;
        R->st->decode_only_rows += nd;
    }
    return rc;
}

// The engine call of mixed_step and the sampling of its rows.
static int mixed_run(Run *R, int n, int nd, int nc, int *seqs, int *toks, char *want, int *dseq, int *cseq,
                     float *logits) {
    Engine *e = R->s->e;
    if (R->dev_sample) {  // the engine samples: the wanted rows are dseq's, then cseq's
        for (int k = 0; k < nd + nc; k++) {
            Slot *sl = &R->slots[k < nd ? dseq[k] : cseq[k - nd]];
            R->row_params[k] = &R->reqs[sl->req].sp;
            R->row_draw[k] = (uint64_t)sl->n_gen;
        }
        if (e->step_sample(e, n, seqs, toks, want, R->row_params, R->row_draw, R->row_ids))
            return engine_failed(R, "step");
        if (nd) {
            R->st->decode_calls++;
            R->st->decode_rows += nd;
            sample_slots(R, nd, dseq, NULL, R->row_ids);
        }
        if (nc) sample_slots(R, nc, cseq, NULL, R->row_ids + nd);
        return 0;
    }
    if (e->step(e, n, seqs, toks, want, logits)) return engine_failed(R, "step");
    if (nd) {
        R->st->decode_calls++;
        R->st->decode_rows += nd;
        sample_slots(R, nd, dseq, logits, NULL);
    }
    if (nc) sample_slots(R, nc, cseq, logits + (size_t)nd * e->cfg->vocab, NULL);  // each prompt's next reply token
    return 0;
}

// One run-ahead step: as mixed_step, but the decode rows of slots whose last id is still in flight feed it on the
// engine's side; this step is submitted, then the one in flight is read and accepted while this one runs.
static int ahead_step(Run *R, int budget, int *seqs, int *toks, char *want, int *cseq) {
    Engine *e = R->s->e;
    int ns = e->max_seqs, n = 0, nd = 0, nc = 0, k = 0, t;
    for (int i = 0; i < ns; i++) {  // --- decode: every slot with a token to feed
        Slot *sl = &R->slots[i];
        int f = feeds(R, i, &t);
        sl->pend = -1;
        if (!f) continue;
        seqs[n] = i; toks[n] = t; want[n++] = 1;
        R->row_params[k] = &R->reqs[sl->req].sp;
        R->row_draw[k] = (uint64_t)sl->n_gen + (t < 0);  // (a pending id: one more drawn than accepted)
        R->fl2_slot[k] = i;
        R->fl2_req[k] = sl->req;
        sl->next = -1;
        sl->pend = k++;
        nd++;
    }
    n = prefill_rows(R, budget, n, seqs, toks, want, cseq, &nc);
    for (int c = 0; c < nc; c++) {  // (the finished prompts' rows follow the decode rows, in cseq's order)
        Slot *sl = &R->slots[cseq[c]];
        R->row_params[k] = &R->reqs[sl->req].sp;
        R->row_draw[k] = (uint64_t)sl->n_gen;
        R->fl2_slot[k] = cseq[c];
        R->fl2_req[k] = sl->req;
        sl->pend = k++;
    }
    if (n == 0) return ahead_drain(R);
    double t0 = now_sec();
    if (e->step_submit(e, n, seqs, toks, want, R->row_params, R->row_draw)) return engine_failed(R, "step");
    if (nd) {
        R->st->decode_calls++;
        R->st->decode_rows += nd;
    }
    int rc = ahead_wait(R);
    int *x = R->fl_slot; R->fl_slot = R->fl2_slot; R->fl2_slot = x;
    x = R->fl_req; R->fl_req = R->fl2_req; R->fl2_req = x;
    R->fl_n = k;
    if (n == nd) {  // (the host's part of a step: the device's runs on behind it)
        R->st->decode_only_s += now_sec() - t0;
        R->st->decode_only_rows += nd;
    }
    return rc;
}

int batch_run(BatchSched *s, BatchRequest *reqs, int n, BatchStats *st) {
    Engine *e = s->e;
    int ns = e->max_seqs, vocab = e->cfg->vocab, budget = s->prefill_budget > 0 ? s->prefill_budget : BATCH_PREFILL_BUDGET;
    memset(st, 0, sizeof *st);
    Run R = { .s = s, .reqs = reqs, .st = st, .paged = e->free_pages != NULL, .ctx_cap = e->max_ctx, .n_reqs = n };
    R.pre = xcalloc((size_t)(n > 0 ? n : 1), sizeof *R.pre);
    if (R.paged && (long)e->n_pages * KV_PAGE < R.ctx_cap) R.ctx_cap = e->n_pages * KV_PAGE;
    R.n_eos = s->ignore_eos ? 0 : gen_default_eos(s->tok, R.eos);
    R.slots = xcalloc((size_t)ns, sizeof *R.slots);
    for (int i = 0; i < ns; i++) { R.slots[i].req = -1; R.slots[i].next = -1; R.slots[i].pend = -1; }
    R.dev_sample = e->step && e->step_sample && !env_int("QWEN3_HOST_SAMPLING", 0, 1, 0);
    if (R.dev_sample) {
        R.row_params = xmalloc(sizeof *R.row_params * (size_t)(2 * ns));
        R.row_draw = xmalloc(sizeof *R.row_draw * (size_t)(2 * ns));
        R.row_ids = xmalloc(sizeof *R.row_ids * (size_t)(2 * ns));
    }
    R.fl_n = -1;
    R.ahead = R.dev_sample && e->step_submit && e->step_wait && env_int("QWEN3_RUN_AHEAD", 0, 1, 1);
    int *fl_buf = R.ahead ? xmalloc(sizeof(int) * (size_t)(8 * ns)) : NULL;  // (ahead_step swaps the halves)
    if (R.ahead) {
        R.fl_slot = fl_buf;
        R.fl_req = fl_buf + 2 * ns;
        R.fl2_slot = fl_buf + 4 * ns;
        R.fl2_req = fl_buf + 6 * ns;
    }
    // rows 0..ns-1: one decode call's logits; row ns: the logits of a prompt's last prefill chunk. A mixed step
    // (engine step()) needs up to 2*ns rows: decode rows, then the rows of prompts finished in that step. None
    // when the engine samples (1,024 slots of a 150k vocabulary would be 1.2 GB).
    float *logits = R.dev_sample ? NULL : xmalloc(sizeof(float) * (size_t)vocab * (size_t)(e->step ? 2 * ns : ns + 1));
    float *prow = logits ? logits + (size_t)vocab * ns : NULL;
    int *dseq = xmalloc(sizeof(int) * (size_t)ns), *dtok = xmalloc(sizeof(int) * (size_t)ns);
    int *cseq = xmalloc(sizeof(int) * (size_t)ns), *mseq = NULL, *mtok = NULL;
    char *mwant = NULL;
    if (e->step) {
        mseq = xmalloc(sizeof(int) * (size_t)(ns + budget));
        mtok = xmalloc(sizeof(int) * (size_t)(ns + budget));
        mwant = xmalloc((size_t)(ns + budget));
    }
    int queued = 0, rc = 0;
    long order = 0;
    for (;;) {
        if (R.stop || (s->interrupt && *s->interrupt)) { rc = 1; break; }

        // --- admit: queued requests into free slots (FIFO) ---
        for (int i = 0; i < ns && queued < n && !R.stop; i++)
            while (R.slots[i].req < 0 && queued < n && !R.stop) admit(&R, i, queued++, order++);
        st->queued = n - queued;
        if (st->active == 0) break;  // queue empty (or stopped) and nothing in flight
        if (plan_pages(&R)) { rc = -1; break; }

        // --- with step(): prefill chunks and decode tokens in one forward pass ---
        if (e->step) {
            rc = R.ahead ? ahead_step(&R, budget, mseq, mtok, mwant, cseq)
                         : mixed_step(&R, budget, mseq, mtok, mwant, dseq, cseq, logits);
            if (rc) break;
            if (!R.ahead || R.fl_n >= 0) st->steps++;  // (not a run-ahead call that only read the last step)
            if (s->on_step) s->on_step(s->user, st);
            continue;
        }

        // --- decode set: with a pool, the sequences the page plan counted (a prompt finished by this step's
        // prefill feeds its first token next step); without, also those ---
        int nd = 0;
        if (R.paged)
            for (int i = 0; i < ns; i++)
                if (R.slots[i].req >= 0 && R.slots[i].next >= 0) { dseq[nd] = i; dtok[nd] = R.slots[i].next; nd++; }

        // --- prefill: up to `budget` prompt tokens, oldest prompt first; a finished prompt samples its next token ---
        for (int left = budget, k; left > 0 && !rc;) {
            int best = next_chunk(&R, left, &k);
            if (best < 0) break;
            Slot *sl = &R.slots[best];
            int last = sl->n_prefilled + k == sl->n_prompt;
            if (e->prefill(e, best, sl->toks + sl->n_prefilled, k, last ? prow : NULL, NULL)) {
                rc = engine_failed(&R, "prefill");
                break;
            }
            sl->n_prefilled += k;
            left -= k;
            if (last) sample_slots(&R, 1, &best, prow, NULL);
        }
        if (rc) break;

        // --- decode: ONE call for every sequence with a token to feed, then sample each one ---
        if (!R.paged)
            for (int i = 0; i < ns; i++)
                if (R.slots[i].req >= 0 && R.slots[i].next >= 0) { dseq[nd] = i; dtok[nd] = R.slots[i].next; nd++; }
        if (nd) {
            if (e->decode(e, nd, dseq, dtok, logits)) { rc = engine_failed(&R, "decode"); break; }
            st->decode_calls++;
            st->decode_rows += nd;
            for (int j = 0; j < nd; j++) R.slots[dseq[j]].next = -1;
            sample_slots(&R, nd, dseq, logits, NULL);
        }
        st->steps++;
        if (s->on_step) s->on_step(s->user, st);
    }
    // Interrupted or failed: the requests in flight get no line (a resumed run redoes them). A step still in flight
    // (run-ahead) is waited for; its rows are dropped.
    if (R.fl_n >= 0 && e->step_wait(e, R.row_ids) && !rc) rc = engine_failed(&R, "step");
    for (int i = 0; i < ns; i++)
        if (R.slots[i].req >= 0) slot_release(&R, i);
    st->queued = n - queued;
    free(dseq);
    free(dtok);
    free(cseq);
    free(mseq);
    free(mtok);
    free(mwant);
    free(logits);
    free(R.row_params);
    free(R.row_draw);
    free(R.row_ids);
    free(fl_buf);
    free(R.slots);
    for (int q = 0; q < n; q++) free(R.pre[q].ids);  // (tokenized ahead, never admitted: a stop)
    free(R.pre);
    return rc;
}
