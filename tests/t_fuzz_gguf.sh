#!/usr/bin/env bash
# t_fuzz_gguf.sh — fuzzes the GGUF reader with libFuzzer (+ASan+UBSan) for ${FUZZ_SECONDS:-60} seconds.
# Seeds: small valid GGUFs written by the corruption driver (tests/gguf_corrupt.c --write-seeds); the corpus
# grows in build/fuzz/corpus across runs, crashes land in build/fuzz/crash-* (rerun one: build/fuzz_gguf FILE).
# Longer run (an hour on all cores):
#   make fuzz && FUZZ_SECONDS=3600 FUZZ_JOBS=$(nproc) bash tests/t_fuzz_gguf.sh
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
if ! command -v clang >/dev/null; then echo "SKIP fuzz_gguf (clang not installed: sh tests/setup.sh)"; exit 0; fi
if ! make -s fuzz >build/fuzz_build.log 2>&1; then
    if grep -q "fuzzer" build/fuzz_build.log && grep -qi "cannot find\|no such file\|unsupported" build/fuzz_build.log; then
        echo "SKIP fuzz_gguf (this clang has no libFuzzer runtime)"; exit 0
    fi
    cat build/fuzz_build.log; echo "FAIL fuzz_gguf_build"; exit 1
fi
mkdir -p build/fuzz/seeds build/fuzz/corpus
log=build/fuzz/fuzz.$$.log   # per-process names: several `make test` runs may share the tree
trap 'rm -f build/fuzz/write_seeds.$$' EXIT
cc -std=c11 -D_GNU_SOURCE -O1 -o build/fuzz/write_seeds.$$ tests/gguf_corrupt.c gguf/gguf.c gguf/quants.c -lm &&
    build/fuzz/write_seeds.$$ --write-seeds build/fuzz/seeds || { echo "FAIL fuzz_gguf_seeds"; exit 1; }
cat > build/fuzz/gguf.dict <<'DICT'
"GGUF"
"\x03\x00\x00\x00"
"\x02\x00\x00\x00"
"general.alignment"
"general.architecture"
"tokenizer.ggml.tokens"
"\x09\x00\x00\x00"
"\x08\x00\x00\x00"
"\xff\xff\xff\xff\xff\xff\xff\xff"
"\x00\x00\x00\x00\x00\x00\x00\x80"
"\x20\x00\x00\x00"
"\x0c\x00\x00\x00"
"\x0e\x00\x00\x00"
DICT
echo "fuzzing gguf_open_mem for $secs s ($jobs job(s)); corpus build/fuzz/corpus"
opts=(-max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -dict=build/fuzz/gguf.dict
      -artifact_prefix=build/fuzz/ -print_final_stats=1)
if [ "$jobs" -gt 1 ]; then opts+=(-jobs="$jobs" -workers="$jobs"); fi
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build/fuzz_gguf "${opts[@]}" build/fuzz/corpus build/fuzz/seeds > "$log" 2>&1
rc=$?
grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|cov:" "$log" | tail -3
if [ $rc -ne 0 ]; then
    grep -E "ERROR|runtime error|invariant|SUMMARY|Test unit written" "$log" | head -20
    echo "FAIL fuzz_gguf (libFuzzer exit $rc; log $log)"
    exit 1
fi
rm -f "$log"
echo "PASS fuzz_gguf ($secs s, $(ls build/fuzz/corpus | wc -l) corpus files)"
