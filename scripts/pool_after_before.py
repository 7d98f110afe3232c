#!/usr/bin/env python3
"""The global model's after - before over replicates pooled from several result files
(docs/evolution.md, "Five fresh scoring replicates").

  python3 scripts/pool_after_before.py METHOD FILE...

Each FILE is either an `evolve global-bn` report (global_bn.json: one entry per run, "as
saved") or a replicate's `table4.json` (`evolve compare`; the row of METHOD). Prints the
paired after - before, pooled over the terminals' joint frames and averaged over terminals,
with its 95 % t interval over all the runs read. Standard library only.
"""
import json
import math
import statistics as st
import sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
        17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064}

method, files = sys.argv[1], sys.argv[2:]
pooled, mean = [], []
for f in files:
    d = json.load(open(f))
    if isinstance(d, dict) and "runs" in d:
        for r in d["runs"]:
            pooled.append(r["after"]["pooled"] - r["before"]["pooled"])
            mean.append(r["after"]["mean"] - r["before"]["mean"])
    else:
        row = next(x for x in d if x["method"] == method)
        pooled.append(row["global_map50_after"] - row["global_map50_before"])
        mean.append(row["global_mean_after"] - row["global_mean_before"])
for name, v in (("pooled", pooled), ("mean over terminals", mean)):
    n, m = len(v), st.mean(v)
    h = T975[n - 1] * st.stdev(v) / math.sqrt(n)
    above = sum(x > 0 for x in v)
    print(f"{method}: global after - before ({name}): {m:+.4f} [{m - h:+.4f}, {m + h:+.4f}], "
          f"{n} runs, {above} above 0")
