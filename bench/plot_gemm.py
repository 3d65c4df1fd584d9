#!/usr/bin/env python3
# plot_gemm.py — summarises the TSV of bench/gemm (our GEMM against cuBLAS) with the standard library only:
# markdown tables per model (rows: layers; columns: M; cells: cuBLAS time / our time, > 1 = we win, and our % of
# the floor), and with --svg an SVG chart per model of that ratio against M (log scale).
#   python3 bench/plot_gemm.py bench/results/gemm-h200.tsv [--svg bench/results/gemm-h200]   (writes PREFIX-<model>.svg)
import csv
import math
import sys

LAYERS = ["qkv", "o", "gate_up", "down", "lm_head"]
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]


def load(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if r.get("card") == "card":  # a header repeated by an appended run
                continue
            rows.append(r)
    if not rows:
        sys.exit(f"{path}: no rows")
    return rows


def table(rows, model):
    ms = sorted({int(r["M"]) for r in rows if r["model"] == model})
    cell = {(r["layer"], int(r["M"])): r for r in rows if r["model"] == model}
    out = [f"### Qwen3-{model}: cuBLAS time / our time (> 1: we win), our % of floor", "",
           "| layer | " + " | ".join(f"M={m}" for m in ms) + " |", "|---|" + "---|" * len(ms)]
    for layer in LAYERS:
        if not any((layer, m) in cell for m in ms):
            continue
        cells = []
        for m in ms:
            r = cell.get((layer, m))
            if r is None:
                cells.append("")
                continue
            flag = "" if r["check"] == "ok" else " FAILED"
            cells.append(f"{float(r['cublas_over_ours']):.2f} ({float(r['ours_pct_floor']):.0f}%){flag}")
        out.append(f"| {layer} | " + " | ".join(cells) + " |")
    ratios = [float(r["cublas_over_ours"]) for r in cell.values()]
    geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    out += ["", f"geometric mean cuBLAS/ours {geo:.3f} over {len(ratios)} shapes; ours faster on "
                f"{sum(x > 1 for x in ratios)}", ""]
    return "\n".join(out)


def svg(rows, model, path):
    W, H, L, R, T, B = 720, 420, 60, 110, 30, 50
    pts = [r for r in rows if r["model"] == model]
    ms = sorted({int(r["M"]) for r in pts})
    ratios = [float(r["cublas_over_ours"]) for r in pts]
    lo, hi = min(min(ratios), 0.5), max(max(ratios), 1.5)
    x0, x1 = math.log2(ms[0]), math.log2(ms[-1]) if len(ms) > 1 else math.log2(ms[0]) + 1

    def X(m):
        return L + (math.log2(m) - x0) / ((x1 - x0) or 1) * (W - L - R)

    def Y(v):
        return T + (1 - (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))) * (H - T - B)

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<text x="{L}" y="18">Qwen3-{model}: cuBLAS time / our time (above 1: ours faster), {pts[0]["card"]}</text>',
         f'<line x1="{L}" x2="{W - R}" y1="{Y(1):.1f}" y2="{Y(1):.1f}" stroke="#888" stroke-dasharray="4"/>']
    for m in ms:
        s.append(f'<text x="{X(m):.1f}" y="{H - B + 18}" text-anchor="middle">{m}</text>')
    s.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">M (rows)</text>')
    for v in (0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4):
        if lo <= v <= hi:
            s.append(f'<text x="{L - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v}</text>')
    for layer, color in zip(LAYERS, COLORS):
        line = sorted((int(r["M"]), float(r["cublas_over_ours"])) for r in pts if r["layer"] == layer)
        if not line:
            continue
        d = " ".join(f"{X(m):.1f},{Y(v):.1f}" for m, v in line)
        s.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{d}"/>')
        s.append(f'<text x="{W - R + 8}" y="{Y(line[-1][1]) + 4:.1f}" fill="{color}">{layer}</text>')
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit("usage: plot_gemm.py GEMM.tsv [--svg PREFIX]")
    rows = load(args[0])
    prefix = args[args.index("--svg") + 1] if "--svg" in args else None
    print(f"card: {rows[0]['card']}; floor bandwidth {float(rows[0]['bw']) / 1e12:.2f} TB/s; timing {rows[0]['timing']}\n")
    for model in dict.fromkeys(r["model"] for r in rows):
        print(table(rows, model))
        if prefix:
            svg(rows, model, f"{prefix}-{model}.svg")


if __name__ == "__main__":
    main()
