#!/usr/bin/env bash
# t_numpy_ref.sh — the CPU reference engine against a second, independent implementation: a float64 numpy Qwen3
# forward (tests/hf_reference.py --numpy) that reads the GGUF with llama.cpp's own gguf-py and dequantizes with
# its numpy dequantizers. One tiny synth model per file type, fresh seeds each run; the same script's HF path
# (transformers, on the H100 machine) shares its GGUF reading, so this also checks that part of it.
cd "$(dirname "$0")/.."
py=/usr/bin/python3
seed=${QWEN3_TEST_SEED:-$(( $(date +%s) % 100000 ))}
echo "seed $seed (QWEN3_TEST_SEED=$seed reproduces)"
if [ ! -d build/llama.cpp/gguf-py ] || ! $py -c "import numpy" 2>/dev/null; then
    echo "SKIP numpy_ref (needs build/llama.cpp/gguf-py and python3-numpy: run sh tests/setup.sh)"; exit 0
fi
[ -x ./qwen3-ptx ] || { echo "FAIL numpy_ref (./qwen3-ptx not built)"; exit 1; }
tmp=build/tests/t_numpy_ref.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
for type in f32 f16 bf16 q8_0 q4_k_m; do
    s=$((seed + ${#type}))
    n=$(( 5 + seed % 20 ))
    if ! ./qwen3-ptx synth --size tiny --type "$type" --seed "$s" --no-tokenizer -o "$tmp/m.gguf" 2> "$tmp/err" ||
       ! ./qwen3-ptx logits -m "$tmp/m.gguf" --random "$n" --seed "$s" -o "$tmp/ours.f32" > /dev/null 2>> "$tmp/err"; then
        echo "FAIL numpy_ref_$type: $(tail -1 "$tmp/err")"; continue
    fi
    # float32 engine vs float64 numpy on identical weights: ~1e-6 expected
    if out=$($py tests/hf_reference.py "$tmp/m.gguf" --numpy --tokens-seed "$s" --n "$n" --compare "$tmp/ours.f32" \
             --max-rel 2e-5 2>&1); then
        echo "PASS numpy_ref_$type ($n tokens: $(echo "$out" | head -1 | cut -d" " -f3-6))"
    else
        echo "FAIL numpy_ref_$type"; echo "$out" | sed 's/^/  /' | tail -4
    fi
done
