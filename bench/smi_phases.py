#!/usr/bin/env python3
"""smi_phases.py — nvidia-smi samples split into the phases of a run.

    python3 bench/smi_phases.py SMI.csv MARKS.txt

SMI.csv: `nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_event_reasons.active
--format=csv,noheader,nounits -lms 100` output. MARKS.txt: lines "YYYY/MM/DD HH:MM:SS.mmm NAME", each starting a phase
that lasts until the next mark. Prints one line per phase: samples, SM clock median / min (MHz), power median / max
(W), temperature max (C), and the clock-event reason masks seen (nvidia-smi's bits: 0x1 idle, 0x4 sw power cap, 0x8
hw slowdown, 0x20 sw thermal, 0x40 hw thermal, 0x80 hw power brake). Samples under 200 W are left out of the
clock and power medians of a busy phase (the gaps between its kernels' launches and its host work)."""
import sys
from datetime import datetime


def when(s):
    return datetime.strptime(s.strip(), "%Y/%m/%d %H:%M:%S.%f")


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else float("nan")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: smi_phases.py SMI.csv MARKS.txt")
    samples = []
    for line in open(sys.argv[1]):
        f = [x.strip() for x in line.split(",")]
        if len(f) < 6:
            continue
        try:
            samples.append((when(f[0]), float(f[1]), float(f[3]), float(f[4]), f[5]))
        except ValueError:
            continue  # a header, "[N/A]" or an error line
    marks = []
    for line in open(sys.argv[2]):
        parts = line.split()
        if len(parts) >= 3:
            marks.append((when(parts[0] + " " + parts[1]), parts[2]))
    if not samples or not marks:
        sys.exit("smi_phases: no samples or no marks")
    for i, (t0, name) in enumerate(marks):
        last = i + 1 == len(marks)
        ph = [s for s in samples if t0 <= s[0] and (last or s[0] < marks[i + 1][0])]
        busy = [s for s in ph if s[2] >= 200] or ph
        if not ph:
            print(f"smi {name}: no samples")
            continue
        clk = [s[1] for s in busy]
        pw = [s[2] for s in busy]
        reasons = sorted({s[4] for s in busy})
        print(f"smi {name}: {len(ph)} samples ({len(busy)} busy), SM clock median {median(clk):.0f} min {min(clk):.0f} "
              f"MHz, power median {median(pw):.0f} max {max(pw):.0f} W, temp max {max(s[3] for s in ph):.0f} C, "
              f"reasons {' '.join(reasons)}")


if __name__ == "__main__":
    main()
