#!/usr/bin/env python3
"""plan_merge.py — a GEMM plan (host/gemm_plan.h's text format) with some M ranges replaced.

    python3 bench/plan_merge.py BASE.txt "dtype N K M_min M_max tile splits" ... > MERGED.txt

Each given row goes in; every row of BASE with the same (dtype, N, K) is clipped around its M range (split in two
where it held the range inside), so no two ranges of one shape overlap, as the loader requires. BASE's header and
comments stay; a given row gets the comment "# merged". M_max may be "inf"."""
import sys

INF = 1 << 31


def rng(tok):
    return INF if tok == "inf" else int(tok)


def fmt(v):
    return "inf" if v >= INF else str(v)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().splitlines()[2])
    new = []
    for r in sys.argv[2:]:
        f = r.split()
        if len(f) != 7 or f[0] not in ("bf16", "fp8"):
            sys.exit(f"plan_merge: bad row '{r}' (dtype N K M_min M_max tile splits)")
        new.append((f[0], int(f[1]), int(f[2]), rng(f[3]), rng(f[4]), int(f[5]), int(f[6])))
    out = []
    for line in open(sys.argv[1]):
        body = line.split("#", 1)[0].split()
        if len(body) != 7 or body[0] not in ("bf16", "fp8"):
            out.append(line.rstrip("\n"))  # the header, comments, blank lines
            continue
        dt, n, k, lo, hi = body[0], int(body[1]), int(body[2]), rng(body[3]), rng(body[4])
        pieces = [(lo, hi)]
        for d2, n2, k2, a, b, _, _ in new:
            if (d2, n2, k2) != (dt, n, k):
                continue
            cut = []
            for x, y in pieces:
                if y < a or x > b:
                    cut.append((x, y))
                    continue
                if x < a:
                    cut.append((x, a - 1))
                if y > b:
                    cut.append((b + 1, y))
            pieces = cut
        comment = "  #" + line.split("#", 1)[1].rstrip("\n") if "#" in line else ""
        for x, y in pieces:
            out.append(f"{dt} {n} {k} {fmt(x)} {fmt(y)} {body[5]} {body[6]}{comment}")
    for dt, n, k, a, b, t, s in new:
        out.append(f"{dt} {n} {k} {fmt(a)} {fmt(b)} {t} {s}  # merged")
    print("\n".join(out))


if __name__ == "__main__":
    main()
