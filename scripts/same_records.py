#!/usr/bin/env python3
"""Whether two runs' windows.csv hold the same records: every column both files have, apart
from those that follow the measured times (t_c, t_w, t_r, label_s, and lcp and map50_deployed,
which depend on them). Prints the differing cells (at most 20) and exits 1 if there are any.

  python3 scripts/same_records.py A/windows.csv B/windows.csv
"""
import csv
import sys

TIMED = {"t_c", "t_w", "t_r", "label_s", "lcp", "map50_deployed"}

if len(sys.argv) != 3:
    sys.exit(__doc__)
with open(sys.argv[1]) as f:
    a = list(csv.DictReader(f))
with open(sys.argv[2]) as f:
    b = list(csv.DictReader(f))
if len(a) != len(b):
    sys.exit(f"{len(a)} records against {len(b)}")
cols = [c for c in a[0] if c in b[0] and c not in TIMED]
diff = [(x["window"], x["terminal"], c, x[c], y[c]) for x, y in zip(a, b) for c in cols if x[c] != y[c]]
for d in diff[:20]:
    print("window %s, terminal %s, %s: %s against %s" % d)
print(f"{len(a)} records, {len(cols)} columns compared, {len(diff)} cells differ")
sys.exit(1 if diff else 0)
