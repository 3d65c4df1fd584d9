#!/usr/bin/env python3
"""trace_summary.py TRACE.tsv [FIRST_MODULE] — where the steps of a traced run go (a `make TRACE=1` build run with
QWEN3_TRACE=TRACE.tsv; host/gpu.c writes the file, ptx/pdl.h records it).

Each row is one launch: t0 = its CTA 0 was resident, t1 = its wait returned (the kernel before it had completed).
So in a chain of launches, t1[i+1] - t1[i] is what launch i cost on the critical path, and t1[i] - t0[i] is how long
its CTA 0 sat resident ahead of that (programmatic dependent launch). The run is cut into steps at FIRST_MODULE
(default: embed, the first launch of an engine step); the steps with the most common kernel sequence (the decode
steps of one graph) are reduced position by position (median, the first quarter skipped as warm-up), then summed per
kernel (module + grid) over a step; the first 24 launches of the step are listed in order. Then the same for the
first step with the most tokens (the embed launch's grid: a prefill chunk), and the time of all steps of at least
1,000 tokens.
"""
import collections
import statistics
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: trace_summary.py TRACE.tsv [FIRST_MODULE]")
    first = sys.argv[2] if len(sys.argv) > 2 else "embed"
    rows = []
    with open(sys.argv[1]) as f:
        next(f)
        for line in f:
            t0, t1, _gid, mod, gx, gy, nt = line.split("\t")
            rows.append((int(t0), int(t1), f"{mod}[{gx}x{gy}]"))
    starts = [i for i, r in enumerate(rows) if r[2].startswith(first + "[")]
    if len(starts) < 3:
        sys.exit(f"trace_summary: fewer than 3 steps start with {first}")
    steps = [rows[a:b] for a, b in zip(starts, starts[1:])]
    # the most common (length, kernel sequence) is the decode step of one graph
    key = collections.Counter(tuple(r[2] for r in s) for s in steps).most_common(1)[0][0]
    same = [(s, nxt) for s, nxt in zip(steps, steps[1:] + [None]) if tuple(r[2] for r in s) == key and nxt]
    same = same[len(same) // 4:]  # skip the first quarter (warm-up)
    n = len(key)
    cost = [statistics.median(s[i + 1][1] - s[i][1] if i + 1 < n else nxt[0][1] - s[i][1] for s, nxt in same)
            for i in range(n)]
    lead = [statistics.median(s[i][1] - s[i][0] for s, _ in same) for i in range(n)]
    step = statistics.median(nxt[0][1] - s[0][1] for s, nxt in same)
    print(f"{len(rows)} launches, {len(steps)} steps; {len(same)} steps of {n} launches averaged (median), "
          f"{step / 1e3:.1f} us a step")
    per = collections.OrderedDict()
    for i, k in enumerate(key):
        c = per.setdefault(k, [0, 0.0, 0.0])
        c[0] += 1
        c[1] += cost[i]
        c[2] += lead[i]
    print(f"{'kernel [grid]':44s} {'calls':>5s} {'us a step':>10s} {'us each':>8s} {'lead us':>8s} {'%':>6s}")
    for k, (c, t, l) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        print(f"{k:44s} {c:5d} {t / 1e3:10.1f} {t / c / 1e3:8.2f} {l / c / 1e3:8.2f} {100 * t / step:6.1f}")
    print("the launches of one step in order (cost us, lead us):")
    print("  " + "  ".join(f"{k}:{cost[i] / 1e3:.1f}/{lead[i] / 1e3:.1f}" for i, k in enumerate(key[:24])))
    # the largest step (one run, not a median) and the steps of >= 1,000 tokens
    tokens = [int(s[0][2].split("[")[1].split("x")[0]) for s in steps]
    ends = [nxt[0][1] for nxt in steps[1:]]
    big = max(range(len(ends)), key=lambda i: tokens[i])
    total = sum(ends[i] - steps[i][0][1] for i in range(len(ends)) if tokens[i] >= 1000)
    s, end = steps[big], ends[big]
    costs = [(s[i + 1][1] if i + 1 < len(s) else end) - r[1] for i, r in enumerate(s)]
    print(f"the largest step: {tokens[big]} tokens, {len(s)} launches, {(end - s[0][1]) / 1e3:.1f} us; steps of >= 1,000 "
          f"tokens: {total / 1e6:.1f} ms in all")
    per = collections.OrderedDict()
    for r, c in zip(s, costs):
        p = per.setdefault(r[2], [0, 0])
        p[0] += 1
        p[1] += c
    for k, (c, t) in sorted(per.items(), key=lambda kv: -kv[1][1])[:12]:
        print(f"{k:44s} {c:5d} {t / 1e3:10.1f} {t / c / 1e3:8.2f} {100 * t / (end - s[0][1]):6.1f}")
    print("  " + "  ".join(f"{r[2]}:{c / 1e3:.1f}" for r, c in zip(s[:24], costs)))


if __name__ == "__main__":
    main()
