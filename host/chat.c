// chat.c — Qwen3's chat template written out in C, byte-identical to the Jinja template in Qwen3's
// tokenizer_config.json (as @huggingface/jinja renders it), and the parser that splits a reply into reasoning,
// content and tool calls.
// defines: chat_render, parse_output, parsed_output_free (see chat.h)
//
// The template, step by step (each step below is marked with the Jinja it mirrors):
//   1. a system turn: the first message if it is "system"; with tools, a "# Tools" block follows it, one tool
//      per line as `tool | tojson`
//   2. last_query_index: the last user message that is not just a <tool_response> wrapper
//   3. per message: user / later system verbatim; assistant with its reasoning kept only after the last query
//      (and then always for the final turn); tool calls as <tool_call>{"name": ..., "arguments": ...}
//      </tool_call>; consecutive tool messages grouped into one user turn of <tool_response> blocks
//   4. the generation prompt, with an empty think block when thinking is disabled
// tojson is @huggingface/jinja's: separators ", " and ": ", keys in the given order, numbers as JavaScript
// prints them, strings as JSON.stringify escapes them (json_escape does the same).
#include "chat.h"
#include "json.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



// Jinja truthiness of a JSON value.
static int truthy(const JsonValue *v) {
    if (!v) return 0;
    switch (v->type) {
    case JSON_NULL: return 0;
    case JSON_BOOL: return v->boolean;
    case JSON_NUMBER: return v->number != 0;
    case JSON_STRING: return v->str_len > 0;
    default: return v->n > 0;
    }
}

// ---------------------------------------------------------------- string helpers with Python semantics
typedef struct { const char *p; size_t n; } Str;
static Str str_of(const char *s) { Str r = { s ? s : "", s ? strlen(s) : 0 }; return r; }
static Str lstrip_nl(Str s) { while (s.n && s.p[0] == '\n') { s.p++; s.n--; } return s; }
static Str rstrip_nl(Str s) { while (s.n && s.p[s.n - 1] == '\n') s.n--; return s; }
static const char *find(Str s, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= s.n; i++) if (!memcmp(s.p + i, needle, m)) return s.p + i;
    return NULL;
}
static const char *rfind(Str s, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = s.n >= m ? s.n - m + 1 : 0; i-- > 0;) if (!memcmp(s.p + i, needle, m)) return s.p + i;
    return NULL;
}
static int starts(Str s, const char *x) { size_t m = strlen(x); return s.n >= m && !memcmp(s.p, x, m); }
static int ends(Str s, const char *x) { size_t m = strlen(x); return s.n >= m && !memcmp(s.p + s.n - m, x, m); }
static void add_str(StrBuf *b, Str s) { sb_add(b, s.p, s.n); }

static int role_is(const ChatMsg *m, const char *r) { return m->role && !strcmp(m->role, r); }

// ---------------------------------------------------------------- chat_render
char *chat_render(const ChatMsg *msgs, int n, const char *tools_json, int add_generation_prompt,
                  int enable_thinking, char *err, size_t errlen) {
    if (n <= 0 && !add_generation_prompt) { snprintf(err, errlen, "chat: no messages"); return NULL; }
    for (int i = 0; i < n; i++)
        if (!msgs[i].role || (!role_is(&msgs[i], "system") && !role_is(&msgs[i], "user") &&
                              !role_is(&msgs[i], "assistant") && !role_is(&msgs[i], "tool"))) {
            snprintf(err, errlen, "chat: message %d has role '%s' (want system, user, assistant or tool)", i,
                     msgs[i].role ? msgs[i].role : "(none)");
            return NULL;
        }
    JsonValue *tools = NULL;
    if (tools_json) {
        char jerr[160];
        tools = json_parse(tools_json, strlen(tools_json), jerr, sizeof jerr);
        if (!tools) { snprintf(err, errlen, "chat: tools JSON: %s", jerr); return NULL; }
        if (tools->type != JSON_ARRAY) { json_free(tools); snprintf(err, errlen, "chat: tools JSON is not an array"); return NULL; }
    }
    StrBuf b = { 0 };
    sb_adds(&b, "");
    int first_system = n > 0 && role_is(&msgs[0], "system");
    // 1. {%- if tools %} ... {%- else %}{%- if messages[0].role == 'system' %} ...
    if (tools && tools->n) {
        sb_adds(&b, "<|im_start|>system\n");
        if (first_system) { add_str(&b, str_of(msgs[0].content)); sb_adds(&b, "\n\n"); }
        sb_adds(&b, "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                 "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        for (size_t i = 0; i < tools->n; i++) { sb_adds(&b, "\n"); json_write(&b, &tools->items[i]); }
        sb_adds(&b, "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                 "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
                 "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n");
    } else if (first_system) {
        sb_adds(&b, "<|im_start|>system\n"); add_str(&b, str_of(msgs[0].content)); sb_adds(&b, "<|im_end|>\n");
    }
    // 2. the last user query: scanning backwards, the first user message that is not only a tool response
    int last_query = n - 1;
    for (int i = n - 1; i >= 0; i--) {
        Str c = str_of(msgs[i].content);
        if (role_is(&msgs[i], "user") && !(starts(c, "<tool_response>") && ends(c, "</tool_response>"))) {
            last_query = i;
            break;
        }
    }
    // 3. the messages
    for (int i = 0; i < n; i++) {
        const ChatMsg *m = &msgs[i];
        Str content = str_of(m->content);
        if (role_is(m, "user") || (role_is(m, "system") && i > 0)) {
            sb_adds(&b, "<|im_start|>"); sb_adds(&b, m->role); sb_adds(&b, "\n"); add_str(&b, content); sb_adds(&b, "<|im_end|>\n");
        } else if (role_is(m, "assistant")) {
            Str reasoning = { "", 0 };
            if (m->reasoning) reasoning = str_of(m->reasoning);
            else if (find(content, "</think>")) {
                // content.split('</think>')[-1].lstrip('\n') and
                // content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
                const char *last_close = rfind(content, "</think>"), *first_close = find(content, "</think>");
                Str before = { content.p, (size_t)(first_close - content.p) };
                before = rstrip_nl(before);
                const char *open = rfind(before, "<think>");
                if (open) { before.n -= (size_t)(open + 7 - before.p); before.p = open + 7; }
                reasoning = lstrip_nl(before);
                Str after = { last_close + 8, content.n - (size_t)(last_close + 8 - content.p) };
                content = lstrip_nl(after);
            }
            if (i > last_query && (i == n - 1 || reasoning.n)) {
                sb_adds(&b, "<|im_start|>assistant\n<think>\n");
                add_str(&b, rstrip_nl(lstrip_nl(reasoning)));
                sb_adds(&b, "\n</think>\n\n");
                add_str(&b, lstrip_nl(content));
            } else {
                sb_adds(&b, "<|im_start|>assistant\n");
                add_str(&b, content);
            }
            if (m->tool_calls_json) {
                char jerr[160];
                JsonValue *calls = json_parse(m->tool_calls_json, strlen(m->tool_calls_json), jerr, sizeof jerr);
                if (!calls || calls->type != JSON_ARRAY) {
                    snprintf(err, errlen, "chat: message %d tool_calls: %s", i, calls ? "not an array" : jerr);
                    json_free(calls); json_free(tools); free(b.p);
                    return NULL;
                }
                for (size_t k = 0; k < calls->n; k++) {
                    const JsonValue *call = &calls->items[k];
                    if ((k == 0 && content.n) || k > 0) sb_adds(&b, "\n");
                    const JsonValue *fn = json_get(call, "function");
                    if (truthy(fn)) call = fn;
                    const JsonValue *name = json_get(call, "name"), *args = json_get(call, "arguments");
                    sb_adds(&b, "<tool_call>\n{\"name\": \"");
                    if (name && name->type == JSON_STRING) sb_add(&b, name->str, name->str_len);
                    else if (name) json_write(&b, name);
                    sb_adds(&b, "\", \"arguments\": ");
                    if (args && args->type == JSON_STRING) sb_add(&b, args->str, args->str_len);
                    else if (args) json_write(&b, args);
                    else sb_adds(&b, "null");
                    sb_adds(&b, "}\n</tool_call>");
                }
                json_free(calls);
            }
            sb_adds(&b, "<|im_end|>\n");
        } else if (role_is(m, "tool")) {
            if (i == 0 || !role_is(&msgs[i - 1], "tool")) sb_adds(&b, "<|im_start|>user");
            sb_adds(&b, "\n<tool_response>\n"); add_str(&b, content); sb_adds(&b, "\n</tool_response>");
            if (i == n - 1 || !role_is(&msgs[i + 1], "tool")) sb_adds(&b, "<|im_end|>\n");
        }
    }
    // 4. the generation prompt
    if (add_generation_prompt) {
        sb_adds(&b, "<|im_start|>assistant\n");
        if (!enable_thinking) sb_adds(&b, "<think>\n\n</think>\n\n");
    }
    json_free(tools);
    return b.p;
}

// ---------------------------------------------------------------- output parser
static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
static char *dup_trim(const char *s, size_t n) {
    while (n && is_ws(*s)) { s++; n--; }
    while (n && is_ws(s[n - 1])) n--;
    char *r = xmalloc(n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}
static const char *memfind(const char *s, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) if (!memcmp(s + i, needle, m)) return s + i;
    return NULL;
}

// Makes the JSON a model wrote parseable where the intent is clear: drops trailing commas before } or ],
// and closes an unterminated string and any open brackets (generation cut off at max_tokens).
static char *repair_json(const char *s, size_t n, size_t *out_n) {
    char *o = xmalloc(n + 260);
    char stack[256];
    int depth = 0, in_str = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            o[k++] = c;
            if (c == '\\' && i + 1 < n) o[k++] = s[++i];
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        else if (c == '{' || c == '[') { if (depth < 256) stack[depth++] = c == '{' ? '}' : ']'; }
        else if (c == '}' || c == ']') {
            size_t j = k;  // trailing comma: the last non-space output byte
            while (j > 0 && is_ws(o[j - 1])) j--;
            if (j > 0 && o[j - 1] == ',') { memmove(o + j - 1, o + j, k - j); k--; }
            if (depth > 0) depth--;
        }
        o[k++] = c;
    }
    if (in_str) o[k++] = '"';
    while (k > 0 && is_ws(o[k - 1])) k--;
    if (k > 0 && o[k - 1] == ',') k--;
    while (depth > 0) o[k++] = stack[--depth];
    o[k] = 0;
    *out_n = k;
    return o;
}

// Parses one <tool_call> body into c; 0 on success.
static int parse_call(const char *s, size_t n, ToolCall *c) {
    char err[64];
    JsonValue *v = json_parse(s, n, err, sizeof err);
    if (!v) {
        size_t rn;
        char *fixed = repair_json(s, n, &rn);
        v = json_parse(fixed, rn, err, sizeof err);
        free(fixed);
    }
    if (!v) return -1;
    const JsonValue *fn = json_get(v, "function");
    const JsonValue *src = fn && fn->type == JSON_OBJECT ? fn : v;
    const JsonValue *name = json_get(src, "name"), *args = json_get(src, "arguments");
    if (!args) args = json_get(src, "parameters");
    if (!name || name->type != JSON_STRING) { json_free(v); return -1; }
    c->name = xstrdup(name->str);
    StrBuf b = { 0 };
    if (!args) sb_adds(&b, "{}");
    else if (args->type == JSON_STRING) sb_add(&b, args->str, args->str_len);  // already JSON text (OpenAI style)
    else json_write(&b, args);
    c->arguments_json = b.p;
    json_free(v);
    return 0;
}

void parse_output(const char *text, ParsedOutput *out) {
    memset(out, 0, sizeof *out);
    size_t n = strlen(text);
    const char *body = text, *end = text + n;
    // Reasoning: <think>...</think>; unclosed (cut off) means everything after <think> is reasoning; a lone
    // </think> means the reply began inside the think block (the prompt opened it).
    const char *open = memfind(text, n, "<think>"), *close = memfind(text, n, "</think>");
    if (open && (!close || open < close)) {
        const char *r0 = open + 7;
        const char *r1 = memfind(r0, (size_t)(end - r0), "</think>");
        out->reasoning = dup_trim(r0, (size_t)((r1 ? r1 : end) - r0));
        StrBuf pre = { 0 };
        sb_add(&pre, text, (size_t)(open - text));
        sb_add(&pre, r1 ? r1 + 8 : end, r1 ? (size_t)(end - (r1 + 8)) : 0);
        // The text before <think> is usually empty; keep it with the rest so nothing is lost.
        char *joined = pre.p ? pre.p : xstrdup("");
        ParsedOutput rest;
        parse_output(joined, &rest);
        free(joined);
        out->content = rest.content;
        out->calls = rest.calls;
        out->n_calls = rest.n_calls;
        if (rest.reasoning) {  // a second think block: append its text
            size_t a = strlen(out->reasoning), c = strlen(rest.reasoning);
            out->reasoning = xrealloc(out->reasoning, a + c + 2);
            out->reasoning[a] = '\n';
            memcpy(out->reasoning + a + 1, rest.reasoning, c + 1);
            free(rest.reasoning);
        }
        return;
    }
    if (close) {
        out->reasoning = dup_trim(text, (size_t)(close - text));
        body = close + 8;
    }
    // Content and tool calls.
    StrBuf content = { 0 };
    sb_adds(&content, "");
    int cap = 0;
    const char *p = body;
    while (p < end) {
        const char *t0 = memfind(p, (size_t)(end - p), "<tool_call>");
        if (!t0) { sb_add(&content, p, (size_t)(end - p)); break; }
        sb_add(&content, p, (size_t)(t0 - p));
        const char *j0 = t0 + 11;
        const char *t1 = memfind(j0, (size_t)(end - j0), "</tool_call>");
        const char *j1 = t1 ? t1 : end;
        ToolCall c;
        if (!parse_call(j0, (size_t)(j1 - j0), &c)) {
            if (out->n_calls == cap) { cap = cap ? cap * 2 : 4; out->calls = xrealloc(out->calls, (size_t)cap * sizeof *out->calls); }
            out->calls[out->n_calls++] = c;
        } else {
            sb_add(&content, t0, (size_t)((t1 ? t1 + 12 : end) - t0));  // unparseable: keep the text visible
        }
        p = t1 ? t1 + 12 : end;
    }
    out->content = dup_trim(content.p, content.len);
    free(content.p);
}

void parsed_output_free(ParsedOutput *p) {
    free(p->reasoning);
    free(p->content);
    for (int i = 0; i < p->n_calls; i++) { free(p->calls[i].name); free(p->calls[i].arguments_json); }
    free(p->calls);
    memset(p, 0, sizeof *p);
}
