#!/usr/bin/env bash
# t_gguf_corrupt.sh — the GGUF reader against corrupted files, under AddressSanitizer + UndefinedBehaviorSanitizer
# (and LeakSanitizer, so error paths must free what they allocated). Builds a sanitized copy of gguf/gguf.c,
# gguf/quants.c and the driver tests/gguf_corrupt.c into build/asan/ and runs it: one PASS/FAIL line per
# corruption class (truncation at every byte, huge counts and lengths, bad magic/version/alignment, unknown
# types, bad shapes, misaligned/overlapping/out-of-file tensors, duplicates, nested array bombs, random
# mutations). A sanitizer report aborts the driver: that is reported as a FAIL line here.
# Reproduce the random part: QWEN3_TEST_SEED=N bash tests/t_gguf_corrupt.sh
cd "$(dirname "$0")/.."
mkdir -p build/asan
CC_SAN=$(command -v clang || command -v gcc)
if [ -z "$CC_SAN" ]; then echo "SKIP gguf_corrupt (no clang or gcc)"; exit 0; fi
# Per-process names: several `make test` runs may share the tree.
bin=build/asan/gguf_corrupt.$$
log=build/asan/gguf_corrupt.$$.log
trap 'rm -f "$bin" "$log"' EXIT
if ! "$CC_SAN" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
        -fno-sanitize-recover=all -Wall -Wextra -Werror -o "$bin" tests/gguf_corrupt.c gguf/gguf.c gguf/quants.c -lm; then
    echo "FAIL gguf_corrupt_build (sanitized build failed)"
    exit 1
fi
seed=${QWEN3_TEST_SEED:-$(date +%s%N)}
echo "sanitized build: $CC_SAN -fsanitize=address,undefined; seed $seed (QWEN3_TEST_SEED reproduces)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" "$seed" > "$log" 2>&1
rc=$?
cat "$log"
if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
    echo "FAIL gguf_corrupt_sanitizers (driver exited with status $rc: sanitizer report or crash above)"
    exit 1
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
    echo "FAIL gguf_corrupt_sanitizers (sanitizer report above)"
    exit 1
fi
exit $rc
