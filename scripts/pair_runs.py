#!/usr/bin/env python3
"""Paired differences of two sets of evolution runs over replicates (95 % t intervals, or at
level L, e.g. 0.978 for a third look under Pocock's boundary).

    python3 scripts/pair_runs.py [--level L] A_ROOT A_METHOD B_ROOT B_METHOD REPS...

Each side is ROOT/rep<R>/<METHOD>/summary.json as `nestevo evolve compare` writes it (or
ROOT/rep<R>/summary-<METHOD>.json, as the copies under docs/results are kept); the two
may be different folders (the same method under two settings) or one folder (two methods).
Prints, per replicate and paired over them, A - B on the final terminal mean, on each
terminal's final model, on the global model after co-evolution (pooled and mean over
terminals, from the same summary.json), and each side's final - start per terminal.
"""
import json
import os
import sys

from tstats import interval


def load(root, method, r):
    # A run's folder as `compare` writes it, or the copy kept under docs/results.
    path = f"{root}/rep{r}/{method}/summary.json"
    if not os.path.exists(path):
        path = f"{root}/rep{r}/summary-{method}.json"
    s = json.load(open(path))
    terms = {x["id"]: (x["final_map50"], x["start_map50"]) for x in s["terminals"]}
    return terms, s


def main():
    args = sys.argv[1:]
    level = 0.95
    if args[:1] == ["--level"] and len(args) > 1:
        level, args = float(args[1]), args[2:]
    if len(args) < 5:
        sys.exit(__doc__)
    ar, am, br, bm = args[:4]
    reps = [int(r) for r in args[4:]]
    rows = []
    for r in reps:
        (ta, ga), (tb, gb) = load(ar, am, r), load(br, bm, r)
        if ta.keys() != tb.keys():
            sys.exit(f"replicate {r}: terminals {sorted(ta)} against {sorted(tb)}")
        ids = list(ta)
        fa = sum(v[0] for v in ta.values()) / len(ta)
        fb = sum(v[0] for v in tb.values()) / len(tb)
        rows.append({
            "rep": r,
            "final A": fa,
            "final B": fb,
            "A - B": fa - fb,
            **{f"{i} A - B": ta[i][0] - tb[i][0] for i in ids},
            **{f"{i} A final - start": ta[i][0] - ta[i][1] for i in ids},
            **{f"{i} B final - start": tb[i][0] - tb[i][1] for i in ids},
            "global pooled A - B": ga["global_map50_after"] - gb["global_map50_after"],
            "global mean A - B": ga["global_mean_map50_after"] - gb["global_mean_map50_after"],
            "A global after - before (pooled)":
                ga["global_map50_after"] - ga["global_map50_before"],
            "A global after - before (mean)":
                ga["global_mean_map50_after"] - ga["global_mean_map50_before"],
        })
    print(f"A = {ar} {am}, B = {br} {bm}, replicates {reps}\n")
    print("| replicate | final A | final B | A - B |\n|---|---:|---:|---:|")
    for x in rows:
        print(f"| {x['rep']} | {x['final A']:.4f} | {x['final B']:.4f} | {x['A - B']:+.4f} |")
    pct = f"{100 * level:g} %"
    print(f"\n| paired over replicates | mean [{pct} t interval] | above 0 | verdict |\n|---|---|---:|---|")
    for k in rows[0]:
        if k in ("rep",):
            continue
        xs = [x[k] for x in rows]
        m, lo, hi = interval(xs, level)
        above = sum(1 for v in xs if v > 0)
        verdict = "above 0" if lo > 0 else ("below 0" if hi < 0 else "within noise")
        if k in ("final A", "final B"):
            verdict = ""
        print(f"| {k} | {m:+.4f} [{lo:+.4f}, {hi:+.4f}] | {above} of {len(xs)} | {verdict} |")


if __name__ == "__main__":
    main()
