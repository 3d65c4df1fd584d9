// test_chat.c — the chat template and the output parser. Unit cases for rendering (the exact Qwen3 prompt
// strings), for parse_output (think blocks closed, unclosed, or opened by the prompt; tool calls with stray
// whitespace, trailing commas, cut off at max_tokens, OpenAI style, string arguments; garbage kept as content),
// and randomised reply texts that must always parse without crashing.
//   build/tests/test_chat --render CASES.json OUT   renders each case (t_chat_template.sh), NUL-separated
#include "test.h"
#include "../host/chat.h"
#include "../host/json.h"
#include "../host/util.h"

static Rng rng;

// ---- compact JSON writer for the --render driver (chat_render re-parses what it gets)
typedef struct { char *p; size_t len, cap; } Buf;
static void addc(Buf *b, const char *s) {
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) { b->cap = (b->len + n + 1) * 2; b->p = xrealloc(b->p, b->cap); }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}
static void write_json(Buf *b, const JsonValue *v) {
    char tmp[40];
    switch (v->type) {
    case JSON_NULL: addc(b, "null"); break;
    case JSON_BOOL: addc(b, v->boolean ? "true" : "false"); break;
    case JSON_NUMBER: snprintf(tmp, sizeof tmp, "%.17g", v->number); addc(b, tmp); break;
    case JSON_STRING: json_escape(&b->p, &b->len, &b->cap, v->str, v->str_len); break;
    case JSON_ARRAY: case JSON_OBJECT:
        addc(b, v->type == JSON_ARRAY ? "[" : "{");
        for (size_t i = 0; i < v->n; i++) {
            if (i) addc(b, ",");
            if (v->type == JSON_OBJECT) { json_escape(&b->p, &b->len, &b->cap, v->keys[i], v->key_lens[i]); addc(b, ":"); }
            write_json(b, &v->items[i]);
        }
        addc(b, v->type == JSON_ARRAY ? "]" : "}");
    }
}
static char *to_text(const JsonValue *v) { Buf b = { 0 }; addc(&b, ""); write_json(&b, v); return b.p; }
static const char *str_or_null(const JsonValue *v) { return v && v->type == JSON_STRING ? v->str : NULL; }

static int render_file(const char *cases_path, const char *out_path) {
    FILE *f = fopen(cases_path, "rb");
    if (!f) { fprintf(stderr, "qwen3-ptx: %s: cannot open\n", cases_path); return 1; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = xmalloc((size_t)n + 1);
    size_t r = fread(text, 1, (size_t)n, f);
    fclose(f);
    char err[256];
    JsonValue *cases = json_parse(text, r, err, sizeof err);
    if (!cases || cases->type != JSON_ARRAY) { fprintf(stderr, "qwen3-ptx: %s: %s\n", cases_path, cases ? "not an array" : err); return 1; }
    FILE *out = fopen(out_path, "wb");
    if (!out) { fprintf(stderr, "qwen3-ptx: %s: cannot create\n", out_path); return 1; }
    int rc = 0;
    for (size_t c = 0; c < cases->n; c++) {
        const JsonValue *cs = &cases->items[c], *msgs = json_get(cs, "messages"), *tools = json_get(cs, "tools");
        const JsonValue *gen = json_get(cs, "add_generation_prompt"), *think = json_get(cs, "enable_thinking");
        int nm = msgs ? (int)msgs->n : 0;
        ChatMsg *m = xcalloc((size_t)nm + 1, sizeof *m);
        char **owned = xcalloc((size_t)nm + 2, sizeof *owned);
        for (int i = 0; i < nm; i++) {
            const JsonValue *mv = &msgs->items[i], *tc = json_get(mv, "tool_calls");
            m[i].role = str_or_null(json_get(mv, "role"));
            m[i].content = str_or_null(json_get(mv, "content"));
            m[i].reasoning = str_or_null(json_get(mv, "reasoning_content"));
            if (tc) m[i].tool_calls_json = owned[i] = to_text(tc);
        }
        char *tools_text = tools ? (owned[nm] = to_text(tools)) : NULL;
        char *s = chat_render(m, nm, tools_text, gen && gen->boolean, !(think && think->type == JSON_BOOL && !think->boolean), err, sizeof err);
        if (!s) { fprintf(stderr, "qwen3-ptx: case %zu: %s\n", c, err); rc = 1; s = xstrdup(""); }
        if (c) fputc(0, out);
        fputs(s, out);
        free(s);
        for (int i = 0; i <= nm; i++) free(owned[i]);
        free(owned); free(m);
    }
    fclose(out);
    json_free(cases);
    free(text);
    return rc;
}

// ---- rendering unit cases
static void test_render_basic(void) {
    char err[256];
    ChatMsg m[] = { { "system", "S", NULL, NULL }, { "user", "Hi", NULL, NULL } };
    char *s = chat_render(m, 2, NULL, 1, 1, err, sizeof err);
    CHECK(s && !strcmp(s, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"), "got %s", s);
    free(s);
    s = chat_render(m + 1, 1, NULL, 1, 0, err, sizeof err);
    CHECK(s && !strcmp(s, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"), "no-think prompt: %s", s);
    free(s);
    // Reasoning of an assistant turn before the last user query is dropped; the last turn keeps it.
    ChatMsg h[] = { { "user", "q1", NULL, NULL }, { "assistant", "<think>\nr1\n</think>\n\na1", NULL, NULL },
                    { "user", "q2", NULL, NULL }, { "assistant", "a2", "r2", NULL } };
    s = chat_render(h, 4, NULL, 0, 1, err, sizeof err);
    CHECK(s && !strcmp(s, "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n"
                          "<|im_start|>assistant\n<think>\nr2\n</think>\n\na2<|im_end|>\n"), "history: %s", s);
    free(s);
    ChatMsg t[] = { { "user", "w?", NULL, NULL }, { "assistant", "", NULL, "[{\"name\":\"f\",\"arguments\":{\"a\":1,\"b\":[true,null,\"x\"]}}]" },
                    { "tool", "r1", NULL, NULL }, { "tool", "r2", NULL, NULL } };
    s = chat_render(t, 4, "[{\"name\":\"f\",\"n\":0.5}]", 1, 1, err, sizeof err);
    const char *want = "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"name\": \"f\", \"n\": 0.5}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
        "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
        "<|im_start|>user\nw?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1, \"b\": [true, null, \"x\"]}}\n</tool_call><|im_end|>\n"
        "<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n<|im_start|>assistant\n";
    CHECK(s && !strcmp(s, want), "tools: %s", s);
    free(s);
    ChatMsg bad[] = { { "robot", "x", NULL, NULL } };
    strcpy(err, "poison");
    s = chat_render(bad, 1, NULL, 1, 1, err, sizeof err);
    CHECK(!s && strstr(err, "robot"), "bad role accepted: %s", err);
    s = chat_render(m, 2, "{not json", 1, 1, err, sizeof err);
    CHECK(!s && strstr(err, "line 1"), "bad tools JSON accepted: %s", err);
}

// ---- parse_output
static int streq(const char *a, const char *b) { return a && b ? !strcmp(a, b) : a == b; }

static void test_parse_think(void) {
    ParsedOutput p;
    parse_output("<think>\nplan it\n</think>\n\nThe answer.", &p);
    CHECK(streq(p.reasoning, "plan it") && streq(p.content, "The answer.") && p.n_calls == 0, "closed think: [%s] [%s]", p.reasoning, p.content);
    parsed_output_free(&p);
    parse_output("<think>\nstill thinking when max_tokens hit", &p);
    CHECK(streq(p.reasoning, "still thinking when max_tokens hit") && streq(p.content, ""), "unclosed think: [%s] [%s]", p.reasoning, p.content);
    parsed_output_free(&p);
    parse_output("reasoning that began in the prompt\n</think>\n\nvisible", &p);
    CHECK(streq(p.reasoning, "reasoning that began in the prompt") && streq(p.content, "visible"), "missing <think>: [%s] [%s]", p.reasoning, p.content);
    parsed_output_free(&p);
    parse_output("  just text  \n", &p);
    CHECK(p.reasoning == NULL && streq(p.content, "just text"), "plain: [%s]", p.content);
    parsed_output_free(&p);
    parse_output("<think>\n\n</think>\n\nno-think answer", &p);
    CHECK(streq(p.reasoning, "") && streq(p.content, "no-think answer"), "empty think: [%s] [%s]", p.reasoning, p.content);
    parsed_output_free(&p);
    parse_output("", &p);
    CHECK(p.reasoning == NULL && streq(p.content, "") && p.n_calls == 0, "empty");
    parsed_output_free(&p);
}

static void test_parse_tool_calls(void) {
    ParsedOutput p;
    parse_output("<think>\nneed weather\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", &p);
    CHECK(p.n_calls == 1 && streq(p.calls[0].name, "get_weather") && streq(p.calls[0].arguments_json, "{\"city\": \"Paris\"}") &&
          streq(p.content, "") && streq(p.reasoning, "need weather"), "basic call: %d [%s]", p.n_calls, p.n_calls ? p.calls[0].arguments_json : "");
    parsed_output_free(&p);
    // two calls, stray whitespace, trailing commas, text around
    parse_output("Checking.\n<tool_call>  \n {\"name\":\"a\",\"arguments\":{\"x\":[1,2,],},}  \n</tool_call>\n<tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call> done", &p);
    CHECK(p.n_calls == 2 && streq(p.calls[0].name, "a") && streq(p.calls[0].arguments_json, "{\"x\": [1, 2]}") &&
          streq(p.calls[1].name, "b") && streq(p.calls[1].arguments_json, "{}"), "two calls: %d", p.n_calls);
    CHECK(streq(p.content, "Checking.\n\n done"), "content around calls: [%s]", p.content);
    parsed_output_free(&p);
    // cut off at max_tokens: no </tool_call>, unterminated string and objects
    parse_output("<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"qwen3 tokeni", &p);
    CHECK(p.n_calls == 1 && streq(p.calls[0].name, "search") && streq(p.calls[0].arguments_json, "{\"query\": \"qwen3 tokeni\"}"),
          "truncated call: %d [%s]", p.n_calls, p.n_calls ? p.calls[0].arguments_json : "");
    parsed_output_free(&p);
    // OpenAI style and string arguments
    parse_output("<tool_call>{\"function\": {\"name\": \"f\", \"arguments\": \"{\\\"k\\\": 1}\"}}</tool_call>", &p);
    CHECK(p.n_calls == 1 && streq(p.calls[0].name, "f") && streq(p.calls[0].arguments_json, "{\"k\": 1}"), "openai style");
    parsed_output_free(&p);
    // garbage stays visible as content
    parse_output("<tool_call>not json at all</tool_call>", &p);
    CHECK(p.n_calls == 0 && streq(p.content, "<tool_call>not json at all</tool_call>"), "garbage: [%s]", p.content);
    parsed_output_free(&p);
    // JSON text with braces inside strings must not confuse the repair
    parse_output("<tool_call>{\"name\": \"g\", \"arguments\": {\"s\": \"a}b]c,\", \"t\": \"\\\"q\\\"\",}}</tool_call>", &p);
    CHECK(p.n_calls == 1 && streq(p.calls[0].arguments_json, "{\"s\": \"a}b]c,\", \"t\": \"\\\"q\\\"\"}"), "braces in strings: [%s]",
          p.n_calls ? p.calls[0].arguments_json : "");
    parsed_output_free(&p);
}

// Random fragments glued together: parse_output must terminate, never crash, and return valid strings.
static void test_parse_random(void) {
    static const char *frags[] = { "<think>", "</think>", "<tool_call>", "</tool_call>", "{", "}", "[", "]", "\"", ",", ":",
        "\\", "\"name\"", "\"arguments\"", "\"f\"", " ", "\n", "text", "1", "null", "中文", "<", ">", "tool_call" };
    char buf[2048];
    for (int it = 0; it < 20000; it++) {
        size_t k = 0;
        int n = (int)(rng_u64(&rng) % 40);
        for (int i = 0; i < n; i++) {
            const char *f = frags[rng_u64(&rng) % (sizeof frags / sizeof frags[0])];
            size_t l = strlen(f);
            memcpy(buf + k, f, l);
            k += l;
        }
        buf[k] = 0;
        ParsedOutput p;
        parse_output(buf, &p);
        CHECK(p.content != NULL, "content NULL for input %s", buf);
        for (int i = 0; i < p.n_calls; i++) {
            char err[128];
            JsonValue *v = json_parse(p.calls[i].arguments_json, strlen(p.calls[i].arguments_json), err, sizeof err);
            // arguments given as a JSON string are passed through as the model wrote them; others must be JSON
            (void)v;
            json_free(v);
            CHECK(p.calls[i].name != NULL, "call without name");
        }
        parsed_output_free(&p);
        if (tc_failed) return;
    }
}

int main(int argc, char **argv) {
    (void)rel_err;
    if (argc == 4 && !strcmp(argv[1], "--render")) return render_file(argv[2], argv[3]);
    test_init();
    rng_seed(&rng, t_seed);
    RUN(test_render_basic);
    RUN(test_parse_think);
    RUN(test_parse_tool_calls);
    RUN(test_parse_random);
    return test_end();
}
