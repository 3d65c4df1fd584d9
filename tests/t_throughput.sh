#!/usr/bin/env bash
# t_throughput.sh — bench/throughput's peer runs, with a stand-in for llama-batched-bench (no GPU, no llama.cpp): on
# the null engine (the scheduler alone) over the tiny model, one peer run per (prompt, reply) length pair of the
# workloads it can run (equal lengths, B <= 256): -npp 128 -ntg 128 -npl with the fixed batch sizes up to 256, and
# -npp 1024 -ntg 1024 -npl 64 with a context that holds all 64 sequences; none for B = 300 or the random workload;
# each of its rows set beside ours; a missing binary is said and skipped.
cd "$(dirname "$0")/.."
BIN=build/bench/throughput
MODEL=build/tiny-f32.gguf
ALL="throughput_peer_runs throughput_peer_rows throughput_peer_missing"
if [ ! -x "$BIN" ] || [ ! -x ./qwen3-ptx ]; then for c in $ALL; do echo "SKIP $c: $BIN not built (make build/bench/throughput)"; done; exit 0; fi
mkdir -p build
T=$(mktemp -d build/t_throughput.XXXXXX)
trap 'rm -rf "$T"' EXIT
if [ ! -f "$MODEL" ]; then
    ./qwen3-ptx synth --size tiny --type f32 --seed 1 -o "$MODEL.tmp.$$" > "$T/synth.log" 2>&1 && mv "$MODEL.tmp.$$" "$MODEL"
    rm -f "$MODEL.tmp.$$"
fi
[ -f "$MODEL" ] || { for c in $ALL; do echo "SKIP $c: synth could not write $MODEL"; done; exit 0; }

mkdir -p "$T/peer/bin"
cat > "$T/peer/bin/llama-batched-bench" <<'SH'
#!/bin/sh
echo "$*" >> "$(dirname "$0")/../args"
npp=0; ntg=0; npl=""
while [ $# -gt 0 ]; do case "$1" in -npp) npp=$2; shift;; -ntg) ntg=$2; shift;; -npl) npl=$2; shift;; esac; shift; done
echo "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |"
for b in $(echo "$npl" | tr , ' '); do echo "|  $npp |  $ntg |  $b |  0 |  0.1 | 100.0 | 1.0 | 50.0 | 2.0 | 75.0 |"; done
SH
chmod +x "$T/peer/bin/llama-batched-bench"
"$BIN" -m "$MODEL" --backend null --workloads fixed,long,random --batches 1,16,300 --peer "$T/peer" > "$T/out" 2>&1
rc=$?
args=$(cat "$T/peer/args" 2>/dev/null)
if [ $rc -eq 0 ] && [ "$(wc -l < "$T/peer/args")" -eq 2 ] \
    && grep -q -- "-c 65536 .*-npp 128 -ntg 128 -npl 1,16 " "$T/peer/args" \
    && grep -q -- "-c 131072 .*-npp 1024 -ntg 1024 -npl 64 " "$T/peer/args"; then
    echo "PASS throughput_peer_runs"
else echo "FAIL throughput_peer_runs: rc=$rc, runs: $args"; fi
# llama.cpp rows: 1 and 16 x (128 -> 128) and 64 x (1024 -> 1024) at B * reply / T s, each with the ratio to ours
n=0
for row in "1 x (128 -> 128)|64.0" "16 x (128 -> 128)|1024.0" "64 x (1024 -> 1024)|32768.0"; do
    grep -F "${row%|*} " "$T/out" | grep " llama\.cpp " | grep -F " ${row#*|} " | grep -q "qwen3-ptx / llama\.cpp = " && n=$((n + 1))
done
m=$(grep -c " llama\.cpp  " "$T/out")
if [ "$n" -eq 3 ] && [ "$m" -eq 3 ]; then echo "PASS throughput_peer_rows"
else echo "FAIL throughput_peer_rows: $n of 3 rows right, $m llama.cpp rows"; grep llama "$T/out"; fi
"$BIN" -m "$MODEL" --backend null --quick --peer "$T/none" > "$T/out2" 2>&1
if [ $? -eq 0 ] && grep -q "^peer: no $T/none/bin/llama-batched-bench: skipped" "$T/out2"; then echo "PASS throughput_peer_missing"
else echo "FAIL throughput_peer_missing: $(tail -2 "$T/out2")"; fi
