#!/usr/bin/env bash
# t_cli.sh — the text commands end to end on the tiny synthetic model with the CPU reference: `run` greedy is
# deterministic and prints its summary line, -n is obeyed, --raw works, bad input gives one clear line and exit 1
# (missing file, non-Qwen3 GGUF, invalid UTF-8, overlong prompt, bad option), --help lists every option, and
# `chat` driven through stdin holds a few turns (with /no_think, /reset) and leaves on /exit; SIGINT stops a reply
# and the chat goes on. On a machine with a usable GPU: `run --backend gpu` works and `auto` picks it.
# SKIPs while the binary, `synth` or `run` is not built yet.
cd "$(dirname "$0")/.."
BIN=./qwen3-ptx
MODEL=build/tiny-f32.gguf
mkdir -p build
T=$(mktemp -d build/t_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
ALL="run_greedy_deterministic run_summary_line run_n_predict run_raw run_sampling_seeded err_missing_model \
err_not_qwen3 err_invalid_utf8 err_overlong_prompt err_bad_option err_bad_dtype err_bad_dtype_env run_help chat_stdin \
chat_sigint run_gpu run_auto_backend"

if [ ! -x "$BIN" ]; then for c in $ALL; do skip "$c" "$BIN not built (make)"; done; exit 0; fi
if "$BIN" run --help 2>&1 | grep -q "not implemented"; then for c in $ALL; do skip "$c" "run not implemented"; done; exit 0; fi
if [ ! -f "$MODEL" ]; then
    "$BIN" synth --size tiny --type f32 --seed 1 -o "$MODEL.tmp.$$" > "$T/synth.log" 2>&1 && mv "$MODEL.tmp.$$" "$MODEL"
    rm -f "$MODEL.tmp.$$"
fi
if [ ! -f "$MODEL" ]; then
    for c in $ALL; do skip "$c" "synth could not write $MODEL ($(tail -c 200 "$T/synth.log" | tr '\n' ' '))"; done
    exit 0
fi

# A private hard link, so that someone deleting build/*.gguf mid-run does not break the run.
ln "$MODEL" "$T/tiny.gguf" 2> /dev/null && MODEL=$T/tiny.gguf
run() { "$BIN" run -m "$MODEL" --backend cpu "$@"; }

# --- greedy is deterministic ---
run -p "Tell me about the sea." -n 24 --temp 0 > "$T/a.out" 2> "$T/a.err"; rc1=$?
run -p "Tell me about the sea." -n 24 --temp 0 > "$T/b.out" 2> "$T/b.err"; rc2=$?
if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then fail run_greedy_deterministic "exit $rc1/$rc2: $(head -c 300 "$T/a.err")"
elif [ ! -s "$T/a.out" ]; then fail run_greedy_deterministic "no output"
elif ! cmp -s "$T/a.out" "$T/b.out"; then fail run_greedy_deterministic "two greedy runs differ"
else pass run_greedy_deterministic; fi

# --- the summary line: backend, prompt and generated token counts, speeds ---
sum=$(grep -E '^qwen3-ptx: backend cpu \| prompt [0-9]+ tokens, [0-9.]+ tok/s \| generated 24 tokens, [0-9.]+ tok/s \| finish length' "$T/a.err")
if [ -n "$sum" ]; then pass run_summary_line; else fail run_summary_line "stderr: $(head -c 300 "$T/a.err")"; fi

# --- -n N generates N tokens (the tiny random model never says EOS this early in practice; accept "stop" too) ---
run -p "Count." -n 5 --temp 0 > "$T/n.out" 2> "$T/n.err"; rc=$?
if [ $rc -eq 0 ] && grep -qE 'generated ([0-5]) tokens.*finish (length|stop)' "$T/n.err" && \
   { grep -q 'generated 5 tokens.*finish length' "$T/n.err" || grep -q 'finish stop' "$T/n.err"; }; then pass run_n_predict
else fail run_n_predict "exit $rc: $(head -c 300 "$T/n.err")"; fi

# --- --raw: no template (fewer prompt tokens than the templated prompt) ---
run -p "Tell me about the sea." -n 4 --temp 0 --raw > "$T/r.out" 2> "$T/r.err"; rc=$?
pt=$(sed -nE 's/.*prompt ([0-9]+) tokens.*/\1/p' "$T/a.err"); pr=$(sed -nE 's/.*prompt ([0-9]+) tokens.*/\1/p' "$T/r.err")
if [ $rc -eq 0 ] && [ -n "$pr" ] && [ -n "$pt" ] && [ "$pr" -lt "$pt" ]; then pass run_raw
else fail run_raw "exit $rc, prompt tokens raw '$pr' vs templated '$pt': $(head -c 200 "$T/r.err")"; fi

# --- sampling with a seed reproduces; the default chain runs ---
run -p "Hi" -n 16 --seed 42 --temp 0.9 --top-k 20 --top-p 0.9 --min-p 0.02 --repeat-penalty 1.1 \
    --presence-penalty 0.2 --frequency-penalty 0.1 > "$T/s1.out" 2> "$T/s1.err"; rc1=$?
run -p "Hi" -n 16 --seed 42 --temp 0.9 --top-k 20 --top-p 0.9 --min-p 0.02 --repeat-penalty 1.1 \
    --presence-penalty 0.2 --frequency-penalty 0.1 > "$T/s2.out" 2> "$T/s2.err"; rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$T/s1.out" "$T/s2.out" && grep -q 'seed 42' "$T/s1.err"; then
    pass run_sampling_seeded
else fail run_sampling_seeded "exit $rc1/$rc2 or outputs differ: $(head -c 200 "$T/s1.err")"; fi

# --- errors: exit 1 and exactly one line starting "qwen3-ptx:" ---
one_error() {  # name, expected pattern, command...
    local name=$1 pat=$2; shift 2
    "$@" > "$T/e.out" 2> "$T/e.err"; local rc=$?
    local lines; lines=$(wc -l < "$T/e.err")
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -qE "^qwen3-ptx: .*$pat" "$T/e.err" && [ ! -s "$T/e.out" ]; then pass "$name"
    else fail "$name" "exit $rc, $lines stderr lines: $(head -c 300 "$T/e.err")"; fi
}
one_error err_missing_model "no-such-model.gguf" "$BIN" run -m "$T/no-such-model.gguf" -p hi --backend cpu
OTHER=""
for f in build/llama.cpp/models/ggml-vocab-qwen2.gguf build/llama.cpp/models/ggml-vocab-llama-bpe.gguf; do
    [ -f "$f" ] && { OTHER=$f; break; }
done
if [ -n "$OTHER" ]; then one_error err_not_qwen3 "architecture" "$BIN" run -m "$OTHER" -p hi --backend cpu
else skip err_not_qwen3 "no non-Qwen3 GGUF (sh tests/setup.sh clones llama.cpp's vocab files)"; fi
one_error err_invalid_utf8 "UTF-8" "$BIN" run -m "$MODEL" -p $'caf\xe9 \xff' --backend cpu
one_error err_overlong_prompt "context holds 8" "$BIN" run -m "$MODEL" -p "a prompt longer than eight tokens, surely" -c 8 --backend cpu
one_error err_bad_option "--top-p" "$BIN" run -m "$MODEL" -p hi --top-p 7
one_error err_bad_dtype "--head-dtype: 'fp16'" "$BIN" run -m "$MODEL" -p hi --head-dtype fp16
one_error err_bad_dtype_env "QWEN3_HEAD_DTYPE='xx'" env QWEN3_HEAD_DTYPE=xx "$BIN" run -m "$MODEL" -p hi --backend cpu

# --- --help names every option ---
"$BIN" run --help > "$T/h.out" 2>&1; rc=$?
missing=""
for opt in -m -p -n -c --temp --top-k --top-p --min-p --seed --repeat-penalty --repeat-last-n --presence-penalty \
           --frequency-penalty --think --no-think --raw --system --backend --dtype --kv-dtype --head-dtype; do
    grep -q -- "$opt\b" "$T/h.out" || missing="$missing $opt"
done
if [ $rc -eq 0 ] && [ -z "$missing" ]; then pass run_help; else fail run_help "exit $rc, missing:$missing"; fi

# --- chat through stdin: two turns, a mode switch, a reset, /exit (the line after it is never answered) ---
printf 'Hello there\n/no_think\nWhat is two plus two?\n/reset\nAgain\n/exit\nnever answered\n' | \
    timeout 120 "$BIN" chat -m "$MODEL" --backend cpu --temp 0 -n 8 > "$T/c.out" 2> "$T/c.err"; rc=$?
turns=$(grep -c '^\[cpu | prompt' "$T/c.err")
if [ $rc -eq 0 ] && [ "$turns" -eq 3 ] && grep -q '(thinking off)' "$T/c.out" && grep -q '(conversation cleared)' "$T/c.out"; then
    # the second turn carries the first in its prompt: more prompt tokens than the first
    p1=$(grep '^\[cpu | prompt' "$T/c.err" | sed -n 1p | sed -nE 's/.*prompt ([0-9]+) tokens.*/\1/p')
    p2=$(grep '^\[cpu | prompt' "$T/c.err" | sed -n 2p | sed -nE 's/.*prompt ([0-9]+) tokens.*/\1/p')
    if [ "$p2" -gt "$p1" ]; then pass chat_stdin; else fail chat_stdin "turn 2 prompt ($p2) not longer than turn 1 ($p1)"; fi
else fail chat_stdin "exit $rc, $turns turns: $(head -c 400 "$T/c.err")"; fi

# --- chat: SIGINT mid-reply stops the reply, the chat goes on and /exit still works ---
mkfifo "$T/in"
"$BIN" chat -m "$MODEL" --backend cpu --temp 0 -n 100000 < "$T/in" > "$T/i.out" 2> "$T/i.err" &
pid=$!
exec 3> "$T/in"
echo "Tell me a very long story" >&3
for _ in $(seq 300); do [ -s "$T/i.out" ] && break; sleep 0.1; done
kill -INT $pid 2> /dev/null
sleep 0.5
echo "/exit" >&3
exec 3>&-
for _ in $(seq 300); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
if kill -0 $pid 2> /dev/null; then kill $pid; fail chat_sigint "still running 30 s after SIGINT and /exit"
else
    wait $pid; rc=$?
    if [ $rc -eq 0 ] && grep -q 'reply interrupted' "$T/i.out" && grep -q '| interrupted\]' "$T/i.err"; then pass chat_sigint
    else fail chat_sigint "exit $rc: $(tail -c 300 "$T/i.out") / $(tail -c 300 "$T/i.err")"; fi
fi

# --- the GPU backend where one is usable (SKIP otherwise); auto takes the GPU, or says it falls back ---
"$BIN" run -m "$MODEL" --backend gpu -p "Tell me about the sea." -n 24 --temp 0 > "$T/g.out" 2> "$T/g.err"; rc=$?
if grep -q "no usable GPU" "$T/g.err"; then skip run_gpu "$(head -c 200 "$T/g.err")"
elif [ $rc -eq 0 ] && [ -s "$T/g.out" ] && grep -q '^qwen3-ptx: backend gpu | .*generated 24 tokens' "$T/g.err"; then
    pass run_gpu
    # bf16 weights vs the f32 reference may legitimately part ways at a near-tie of the random model: info only
    if cmp -s "$T/g.out" "$T/a.out"; then echo "  gpu greedy text == cpu greedy text"
    else echo "  gpu greedy text differs from cpu (bf16 vs f32 near-ties?):"; head -c 200 "$T/g.out"; echo; fi
else fail run_gpu "exit $rc: $(head -c 300 "$T/g.err")"; fi
"$BIN" run -m "$MODEL" -p "Hi" -n 2 --temp 0 > "$T/u.out" 2> "$T/u.err"; rc=$?
if [ $rc -eq 0 ] && { grep -q '^qwen3-ptx: backend gpu' "$T/u.err" || \
   { grep -q '^qwen3-ptx: no usable GPU (.*), using the CPU reference$' "$T/u.err" && grep -q '^qwen3-ptx: backend cpu' "$T/u.err"; }; }
then pass run_auto_backend; else fail run_auto_backend "exit $rc: $(head -c 300 "$T/u.err")"; fi
