#!/usr/bin/env bash
# run.sh — runs every test program (build/tests/test_*) and script (tests/t_*.sh), counts PASS/FAIL/SKIP lines,
# and prints the closing line: "N passed, N failed, N skipped". A program that exits non-zero without printing
# a FAIL line (a crash) counts as one failure.
cd "$(dirname "$0")/.."
pass=0; fail=0; skip=0
mkdir -p build/logs
for t in build/tests/test_* tests/t_*.sh; do
    [ -x "$t" ] || [ "${t%.sh}" != "$t" ] || continue
    [ -e "$t" ] || continue
    case "$t" in *.d) continue;; esac
    name=$(basename "$t")
    log=build/logs/$name.log
    if [ "${t%.sh}" != "$t" ]; then bash "$t" > "$log" 2>&1; rc=$?; else "$t" > "$log" 2>&1; rc=$?; fi
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $name exited with status $rc" >> "$log"; fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    printf '%-28s %4d passed %4d failed %4d skipped\n' "$name" "$p" "$f" "$s"
    [ "$f" -gt 0 ] && grep -E '^(FAIL|  check failed|seed)' "$log" | head -20 | sed 's/^/    /'
    # say why once per program (e.g. "no CUDA driver (libcuda.so.1 not found)" for every GPU test on CI)
    if [ "$s" -gt 0 ]; then
        why=$(grep -m1 -E '^  skip reason: ' "$log" | sed 's/^  skip reason: //')
        [ -n "$why" ] || why=$(grep -m1 -E '^SKIP ' "$log" | sed 's/^SKIP //')
        echo "    $s skipped: $why"
    fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
