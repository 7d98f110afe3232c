#!/usr/bin/env python3
"""Per window, two methods' windows.csv columns paired over replicates (docs/evolution.md,
"Five fresh scoring replicates").

  python3 scripts/window_pairs.py OUT nestevo a2 global_map50_after mid_distance pseudo_precision

OUT holds rep<r>/<method>/windows.csv (`nestevo evolve compare --out OUT`). For each window and
column: each replicate's mean over its terminals' rows, per method; the first method minus the
second paired by replicate, with its 95 % t interval; and each method's mean. Standard library
only.
"""
import csv
import glob
import os
import statistics as st
import sys

from tstats import interval

out, a, b, cols = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
reps = sorted(
    int(os.path.basename(p)[3:])
    for p in glob.glob(os.path.join(out, "rep*"))
    if all(os.path.exists(os.path.join(p, m, "windows.csv")) for m in (a, b))
)


def rows(r, m):
    with open(os.path.join(out, f"rep{r}", m, "windows.csv")) as f:
        return list(csv.DictReader(f))


data = {(r, m): rows(r, m) for r in reps for m in (a, b)}
windows = sorted({int(x["window"]) for v in data.values() for x in v})
print(f"replicates {reps}; per window, each replicate's mean over its terminals")
print("| window | column | " + a + " | " + b + f" | {a} - {b} (paired) |")
print("|---:|---|---:|---:|---|")
for w in windows:
    for c in cols:
        per = {m: [] for m in (a, b)}
        for r in reps:
            for m in (a, b):
                vals = [float(x[c]) for x in data[(r, m)] if int(x["window"]) == w and x[c] != ""]
                per[m].append(st.mean(vals) if vals else float("nan"))
        d = [x - y for x, y in zip(per[a], per[b])]
        m, lo, hi = interval(d)
        print(f"| {w} | {c} | {st.mean(per[a]):.3f} | {st.mean(per[b]):.3f} | "
              f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}] |")
