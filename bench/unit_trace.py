#!/usr/bin/env python3
"""unit_trace.py TRACE.tsv.units — where the wgmma GEMMs' work units spend their time (a `make TRACE=1` build run
with QWEN3_TRACE=TRACE.tsv; ptx/gemm_wg_body.h's UT_ macros record, host/gpu.c writes the ".units" file).

One row per unit of a launch: the producer's start and last load issued, the consumer's start, first slice in, main
loop done, split-K counter passed (= main loop done without split-K), slab sum done, epilogue done. For each kernel
configuration (tile, splits) the latest launch that recorded all its units is summarised: its span, the mean phases
of a unit, and the timeline of the CTA that finished last.
"""
import collections
import statistics
import sys

COLS = ["p_start", "p_last", "c_start", "c_first", "c_main", "c_count", "c_sum", "c_done"]
LABEL = dict(zip(COLS, ["prod", "plast", "cons", "first", "main", "count", "sum", "done"]))


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: unit_trace.py TRACE.tsv.units")
    launches = collections.defaultdict(list)
    with open(sys.argv[1]) as f:
        head = next(f).rstrip("\n").split("\t")
        for line in f:
            r = dict(zip(head, (int(x) for x in line.split("\t"))))
            launches[r["gridid"]].append(r)
    best = {}
    for gid, rs in launches.items():
        us = {r["unit"] for r in rs}
        if len(us) != max(us) + 1 or min(r["c_done"] for r in rs) < 0:
            continue  # incomplete (another launch shares the region)
        cfg = (rs[0]["bm"], rs[0]["bn"], rs[0]["ncons"], rs[0]["cm"], rs[0]["S"], rs[0]["kt1"] - rs[0]["kt0"], len(us))
        t = min(r["c_start"] for r in rs)
        if cfg not in best or t > best[cfg][0]:
            best[cfg] = (t, rs)
    for cfg, (_, rs) in sorted(best.items()):
        bm, bn, nc, cm, S, ks, _ = cfg
        t0 = min(min(r["p_start"], r["c_start"]) for r in rs if r["p_start"] >= 0)
        end = max(r["c_done"] for r in rs)
        ctas = collections.defaultdict(list)
        for r in rs:
            ctas[r["cta"]].append(r)

        def mean(a, b, only=None):
            v = [(r[b] - r[a]) / 1e3 for r in rs if (only is None or only(r)) and r[a] >= 0 and r[b] >= r[a]]
            return statistics.mean(v) if v else float("nan")

        summed = lambda r: r["c_count"] <= r["c_sum"] <= r["c_done"]
        print(f"{bm}x{bn} cons {nc} cm {cm} S {S} ({ks} slices a unit): {len(rs)} units on {len(ctas)} CTAs, "
              f"span {(end - t0) / 1e3:.2f} us")
        main_us, unsummed = mean("c_start", "c_main"), mean("c_count", "c_done", lambda r: not summed(r))
        print(f"  unit means (us): first slice {mean('c_start', 'c_first'):.2f}, main loop {main_us:.2f}"
              f" ({main_us / ks * 1e3:.0f} ns a slice), counter {mean('c_main', 'c_count'):.2f}, "
              f"sum {mean('c_count', 'c_sum', summed):.2f} ({sum(map(summed, rs))} units), "
              f"epilogue {mean('c_sum', 'c_done', summed):.2f} / unsummed exit {unsummed:.2f}, "
              f"producer {mean('p_start', 'p_last'):.2f}")
        last = max(ctas, key=lambda c: max(r["c_done"] for r in ctas[c]))
        print(f"  CTA {last} (finished last), us from the launch's first start:")
        for r in sorted(ctas[last], key=lambda r: r["c_start"]):
            marks = (f"{LABEL[c]} {(r[c] - t0) / 1e3:7.2f}" if r[c] >= 0 else f"{LABEL[c]}       -" for c in COLS)
            print("    unit %4d k %3d..%3d " % (r["unit"], r["kt0"], r["kt1"]) + " ".join(marks))


if __name__ == "__main__":
    main()
