#!/usr/bin/env python3
"""plot_throughput.py TSV [PNG] -- output tok/s against batch size B for the B x (128 -> 128) workloads of
bench/throughput's TSV (bench/results/throughput.tsv columns: date card commit model workload engine output_tok/s
wall_s note), one line per engine (qwen3-ptx, llama.cpp); the last row of each (engine, card, B) wins.
Without matplotlib it prints the table and says so (exit 0)."""
import re
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: plot_throughput.py TSV [PNG]")
    tsv, png = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "throughput.png"
    series = {}  # (engine, card) -> {B: tok/s}
    for line in open(tsv, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        if len(f) < 8:
            continue
        m = re.match(r"^(\d+) x \(128 -> 128\)", f[4])
        try:
            tps = float(f[6].split()[0])
        except ValueError:
            continue
        if not m:
            continue
        engine = "llama.cpp" if f[5].startswith("llama") else "qwen3-ptx"
        series.setdefault((engine, f[1]), {})[int(m.group(1))] = tps
    if not series:
        print("plot_throughput: no B x (128 -> 128) rows in %s" % tsv)
        return
    for (engine, card), pts in sorted(series.items()):
        print("%-10s %-24s " % (engine, card) + "  ".join("B=%d: %.0f" % (b, pts[b]) for b in sorted(pts)))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_throughput: no matplotlib here; table only")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (engine, card), pts in sorted(series.items()):
        bs = sorted(pts)
        ax.plot(bs, [pts[b] for b in bs], marker="o", label="%s (%s)" % (engine, card))
    ax.set_xscale("log", base=2)
    all_b = sorted({b for pts in series.values() for b in pts})
    ax.set_xticks(all_b)
    ax.set_xticklabels([str(b) for b in all_b])
    ax.set_yscale("log")
    ax.set_xlabel("batch size B (sequences)")
    ax.set_ylabel("output tokens / s")
    ax.set_title("B x (128 -> 128) tokens, greedy; wall time incl. prefill")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print("plot_throughput: wrote %s" % png)


if __name__ == "__main__":
    main()
