#!/usr/bin/env python3
"""Per terminal, the mean (and range) of windows.csv columns over every window of every
replicate of one method (docs/evolution.md, "The generator's samples in the terminals' loss").

  python3 scripts/window_means.py OUT nestevo terminal_ce_first terminal_ce_last projection_r2

OUT holds rep<r>/<method>/windows.csv (`nestevo evolve compare --out OUT`), or
rep<r>/windows-<method>.csv (the copies under docs/results/evolution/); empty cells (a
window the column does not apply to) are left out; "all" pools the terminals. Standard library
only.
"""
import csv
import glob
import os
import statistics as st
import sys

if len(sys.argv) < 4:
    sys.exit(__doc__)
out, method, cols = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = []
paths = sorted(glob.glob(os.path.join(out, "rep*", method, "windows.csv")))
paths = paths or sorted(glob.glob(os.path.join(out, "rep*", f"windows-{method}.csv")))
for p in paths:
    with open(p) as f:
        rows += list(csv.DictReader(f))
if not rows:
    sys.exit(f"{out}: no rep*/{method}/windows.csv")
terminals = list(dict.fromkeys(r["terminal"] for r in rows)) + ["all"]
print(f"{out} {method}: {len(rows)} rows\n")
print("| terminal | column | mean | min | max | rows |\n|---|---|---:|---:|---:|---:|")
for t in terminals:
    for c in cols:
        v = [float(r[c]) for r in rows if (t == "all" or r["terminal"] == t) and r.get(c, "") != ""]
        if v:
            print(f"| {t} | {c} | {st.mean(v):.5f} | {min(v):.5f} | {max(v):.5f} | {len(v)} |")
