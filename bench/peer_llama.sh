#!/usr/bin/env bash
# peer_llama.sh MODELS_DIR LOGDIR — llama.cpp's llama-bench (pp512, tg128) and llama-batched-bench on the very
# same synth GGUFs our bench_e2e measured in this run, then one side-by-side table:
#   model, weights, test, llama.cpp tok/s, qwen3-ptx tok/s, ratio
# llama.cpp comes from $LLAMA (bin/ + lib/, default .carry/llama-peer, made by bench/build_llama.sh); if absent and
# .carry/llama-src.tar.xz is here, it is built first (about 5 minutes on 16 cores).
set -uo pipefail
cd "$(dirname "$0")/.."
M=$1; LOG=$2
LLAMA=${LLAMA:-.carry/llama-peer}
if [ ! -x "$LLAMA/bin/llama-bench" ] && [ -d .carry/llama-parts ]; then
    # a build returned by device.sh's llama stage, split into parts under the 16 MB return limit
    cat .carry/llama-parts/llama-bin.tar.xz.part-* | tar -C .carry -xJf - || echo "peer: bad .carry/llama-parts"
fi
if [ ! -x "$LLAMA/bin/llama-bench" ]; then
    if [ -f .carry/llama-src.tar.xz ]; then
        bash bench/build_llama.sh .carry/llama-src.tar.xz "$LLAMA" || { echo "peer: llama.cpp build failed"; exit 1; }
    else
        echo "peer: no llama.cpp build at $LLAMA and no source tarball: skipped"; exit 0
    fi
fi
export LD_LIBRARY_PATH="$LLAMA/lib:${LD_LIBRARY_PATH:-}"
: > "$LOG/llama-bench.csv"
# PEER_FILES="a.gguf b.gguf": those files instead; PEER_BATCHED=0: no llama-batched-bench
for f in ${PEER_FILES:-"$M"/qwen3-0.6b-f16.gguf "$M"/qwen3-0.6b-q8_0.gguf "$M"/qwen3-8b-f16.gguf "$M"/qwen3-8b-q8_0.gguf}; do
    [ -f "$f" ] || continue
    timeout 240 "$LLAMA/bin/llama-bench" -m "$f" -p 512 -n 128 -ngl 99 -fa on -r 3 -o csv > "$LOG/lb.tmp" 2> "$LOG/llama-bench-$(basename "$f").err" \
        || echo "peer: llama-bench failed on $f: $(tail -2 "$LOG/llama-bench-$(basename "$f").err")"
    if [ -s "$LOG/llama-bench.csv" ]; then tail -n +2 "$LOG/lb.tmp" >> "$LOG/llama-bench.csv"; else cat "$LOG/lb.tmp" > "$LOG/llama-bench.csv"; fi
done
f="$M/qwen3-8b-q8_0.gguf"
[ -f "$f" ] && [ "${PEER_BATCHED:-1}" = 1 ] && timeout 240 "$LLAMA/bin/llama-batched-bench" -m "$f" -c 65536 -b 2048 -ub 512 -npp 128 -ntg 128 \
    -npl 1,16,64,256 -ngl 99 -fa on > "$LOG/llama-batched-bench.log" 2>&1 && grep -E "^\|" "$LOG/llama-batched-bench.log"
python3 - "$LOG/llama-bench.csv" "$LOG/e2e.tsv" <<'PY'
import csv, sys, os
peer = {}
for row in csv.DictReader(open(sys.argv[1])):
    name = os.path.basename(row["model_filename"]).replace(".gguf", "")
    test = "pp%s" % row["n_prompt"] if int(row["n_gen"]) == 0 else "tg%s" % row["n_gen"]
    peer[(name, test)] = float(row["avg_ts"])
ours = {}
if os.path.exists(sys.argv[2]):
    for line in open(sys.argv[2]):
        label, backend, test, tps, pct = line.rstrip("\n").split("\t")
        ours[(label, test)] = float(tps)
print("%-14s %-6s %-6s %-6s %12s %12s %7s" % ("model", "file", "ours", "test", "llama.cpp", "qwen3-ptx", "ratio"))
for (name, test), v in sorted(peer.items()):  # our labels: NAME-as-DTYPE (device.sh's bench stage), one row each
    size, wts = name.split("-")[1], name.split("-")[2]
    for dt in sorted(l[len(name) + 4:] for (l, t) in ours if l.startswith(name + "-as-") and t == test) or ["-"]:
        o = ours.get((name + "-as-" + dt, test))
        print("%-14s %-6s %-6s %-6s %12.1f %12s %7s" % ("qwen3-" + size, wts, dt, test, v, "%.1f" % o if o else "-",
              "%.2f" % (o / v) if o else "-"))
PY
