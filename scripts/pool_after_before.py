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
import sys

from tstats import interval

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
    m, lo, hi = interval(v)
    above = sum(x > 0 for x in v)
    print(f"{method}: global after - before ({name}): {m:+.4f} [{lo:+.4f}, {hi:+.4f}], "
          f"{len(v)} runs, {above} above 0")
