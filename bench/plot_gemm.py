#!/usr/bin/env python3
# plot_gemm.py — summarises the TSV of bench/gemm (our BF16 and FP8 GEMMs against cuBLAS / cuBLASLt): markdown
# tables per model and dtype (rows: layers; columns: M; cells: peer time / our time, > 1 = we win, and our % of
# the floor), the --sweep winners when the TSV has them, and with --png one chart per model: that ratio against M
# (log scales), one panel per dtype. Tables need only the standard library; --png needs matplotlib.
#   /usr/bin/python3 bench/plot_gemm.py bench/results/gemm-h100.tsv [--png bench/results/gemm-h100]
#   (writes PREFIX-<model>.png)
# Reads every header line it meets (appended runs of older bench/gemm versions have fewer columns: those rows are
# bf16, built-in tile); where one (model, layer, M, dtype, tile, splits, mode) was measured twice the last row wins.
import math
import sys

LAYERS = ["qkv", "o", "gate_up", "down", "lm_head"]
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
PEER = {"bf16": "cuBLAS bf16", "fp8": "cuBLASLt fp8"}


def load(path):
    rows, header = {}, None
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "card":
                header = fields
                continue
            if header is None or len(fields) != len(header):
                continue
            r = dict(zip(header, fields))
            r.setdefault("dtype", "bf16")
            r.setdefault("tile", "-1")
            r.setdefault("splits", "0")
            r.setdefault("mode", "bf16")
            r.setdefault("fp8_peer", "-")
            rows[(r["model"], r["layer"], int(r["M"]), r["dtype"], r["tile"], r["splits"], r["mode"])] = r
    if not rows:
        sys.exit(f"{path}: no rows")
    return list(rows.values())


def num(r, key):
    try:
        return float(r[key])
    except (KeyError, ValueError):
        return float("nan")


def main_rows(rows):
    """The headline rows: built-in tile, bf16 output."""
    return [r for r in rows if r["tile"] == "-1" and r["mode"] == "bf16"]


def table(rows, model, dtype):
    pts = [r for r in main_rows(rows) if r["model"] == model and r["dtype"] == dtype]
    if not pts:
        return ""
    ms = sorted({int(r["M"]) for r in pts})
    cell = {(r["layer"], int(r["M"])): r for r in pts}
    peers = sorted({r["fp8_peer"] for r in pts} - {"-"})
    peer = PEER[dtype] + (f" ({'/'.join(peers)} scales)" if peers else "")
    out = [f"### Qwen3-{model} {dtype}: {peer} time / our time (> 1: we win), our % of floor", "",
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
            cells.append(f"{num(r, 'cublas_over_ours'):.2f} ({num(r, 'ours_pct_floor'):.0f}%){flag}")
        out.append(f"| {layer} | " + " | ".join(cells) + " |")
    ratios = [x for x in (num(r, "cublas_over_ours") for r in cell.values()) if x > 0]
    if ratios:
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        out += ["", f"geometric mean peer/ours {geo:.3f} over {len(ratios)} shapes; ours faster on "
                    f"{sum(x > 1 for x in ratios)}"]
    if dtype == "fp8":
        q = [num(r, "quant_us") / num(r, "ours_us") for r in pts if num(r, "ours_us") > 0]
        q = [x for x in q if x == x]
        if q:
            out.append(f"activation quantiser: {min(q) * 100:.0f}-{max(q) * 100:.0f}% of the GEMM's time on top")
    return "\n".join(out + [""])


def sweep_table(rows, model, dtype):
    """Per (layer, M): the fastest checked tile of the sweep and how much it beats the built-in choice."""
    sw = [r for r in rows if r["model"] == model and r["dtype"] == dtype and r["mode"] != "bf16" and r["check"] == "ok"]
    if not any(r["tile"] != "-1" for r in sw):
        return ""
    ms = sorted({int(r["M"]) for r in sw})
    out = [f"### Qwen3-{model} {dtype} sweep: fastest tile[/splits], built-in time / its time", "",
           "| layer | " + " | ".join(f"M={m}" for m in ms) + " |", "|---|" + "---|" * len(ms)]
    for layer in LAYERS:
        cells = []
        for m in ms:
            here = [r for r in sw if r["layer"] == layer and int(r["M"]) == m]
            auto = [num(r, "ours_us") for r in here if r["tile"] == "-1"]
            tiles = [r for r in here if r["tile"] != "-1" and num(r, "ours_us") > 0]
            if not tiles:
                cells.append("")
                continue
            b = min(tiles, key=lambda r: num(r, "ours_us"))
            name = "t" + b["tile"] + (f"/{b['splits']}" if int(b["splits"]) > 1 else "")
            cells.append(f"{name} {auto[0] / num(b, 'ours_us'):.2f}" if auto else name)
        if any(cells):
            out.append(f"| {layer} | " + " | ".join(cells) + " |")
    return "\n".join(out + [""])


def png(rows, model, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [r for r in main_rows(rows) if r["model"] == model]
    dtypes = [d for d in ("bf16", "fp8") if any(r["dtype"] == d for r in pts)]
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.5 * len(dtypes), 4.5), squeeze=False, sharey=True)
    for ax, dtype in zip(axes[0], dtypes):
        for layer, color in zip(LAYERS, COLORS):
            line = sorted((int(r["M"]), num(r, "cublas_over_ours")) for r in pts
                          if r["dtype"] == dtype and r["layer"] == layer)
            line = [(m, v) for m, v in line if v > 0]
            if line:
                ax.plot([m for m, _ in line], [v for _, v in line], marker="o", ms=3, color=color, label=layer)
        ax.axhline(1.0, color="#888", ls="--", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ms = sorted({int(r["M"]) for r in pts if r["dtype"] == dtype})
        ax.set_xticks(ms, [str(m) for m in ms], fontsize=7)
        ax.set_yticks([0.25, 0.5, 0.75, 1, 1.5, 2, 3], ["0.25", "0.5", "0.75", "1", "1.5", "2", "3"])
        ax.minorticks_off()
        ax.set_xlabel("M (rows)")
        ax.set_title(f"{dtype}: {PEER[dtype]} time / our time")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("ratio (above 1: ours faster)")
    fig.suptitle(f"Qwen3-{model} GEMMs, {pts[0]['card']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit("usage: plot_gemm.py GEMM.tsv [--png PREFIX]")
    rows = load(args[0])
    prefix = args[args.index("--png") + 1] if "--png" in args and args.index("--png") + 1 < len(args) else None
    r0 = rows[0]
    print(f"card: {r0['card']}; floor bandwidth {num(r0, 'bw') / 1e12:.2f} TB/s; timing {r0['timing']}\n")
    for model in dict.fromkeys(r["model"] for r in rows):
        for dtype in ("bf16", "fp8"):
            for text in (table(rows, model, dtype), sweep_table(rows, model, dtype)):
                if text:
                    print(text)
        if prefix and any(r["model"] == model for r in main_rows(rows)):
            png(rows, model, f"{prefix}-{model}.png")
            print(f"wrote {prefix}-{model}.png\n")


if __name__ == "__main__":
    main()
