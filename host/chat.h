// chat.h — the Qwen3 chat template in C (byte-identical to the Jinja one) and the output parser.
// defines: ChatMsg, chat_render, ParsedOutput, parse_output
#pragma once
#include <stddef.h>

typedef struct {
    const char *role;          // "system", "user", "assistant", "tool"
    const char *content;       // may be NULL
    const char *reasoning;     // assistant reasoning_content, may be NULL
    const char *tool_calls_json;  // assistant: JSON array of {"name","arguments"} or OpenAI {"function":{...}}; NULL
} ChatMsg;

// Renders messages as the template does; tools_json is a JSON array of tool definitions or NULL.
// add_generation_prompt appends "<|im_start|>assistant\n" (+ the empty think block when !enable_thinking).
// Returns a malloc'd NUL-terminated string, or NULL with err set.
char *chat_render(const ChatMsg *msgs, int n, const char *tools_json, int add_generation_prompt,
                  int enable_thinking, char *err, size_t errlen);

typedef struct { char *name; char *arguments_json; } ToolCall;
typedef struct {
    char *reasoning;   // text inside <think>...</think> (NULL if none)
    char *content;     // the rest, trimmed, without tool-call blocks
    ToolCall *calls; int n_calls;
} ParsedOutput;
void parse_output(const char *text, ParsedOutput *out);
void parsed_output_free(ParsedOutput *p);
