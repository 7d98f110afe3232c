#!/usr/bin/env python3
"""Fig. 15 at the cell level over training seeds (docs/coupling.md, "The cell law's training dose"):
each seed's paired difference ft-cell03 - ft-clean over its 10 draws at mu 0.02, then the mean of
the per-seed means with a t interval over seeds (5-7, 8-11 alone, all). Run from the repository root.
"""
import csv
import os
import statistics as st

from tstats import interval

files = {5: 'docs/results/coupling/dose/score.csv'}
for k in range(6, 12):
    f = f'docs/results/coupling/dose-seeds/seed{k}.csv'
    if os.path.exists(f) and sum(1 for _ in open(f)) == 23:
        files[k] = f
means = []
for s, f in files.items():
    rows = list(csv.DictReader(open(f)))
    a = {r['draw']: float(r['map50']) for r in rows if r['model'] == 'ft-cell03' and r['mu'] == '0.02'}
    b = {r['draw']: float(r['map50']) for r in rows if r['model'] == 'ft-clean' and r['mu'] == '0.02'}
    a0 = [float(r['map50']) for r in rows if r['model'] == 'ft-cell03' and r['mu'] == '0'][0]
    b0 = [float(r['map50']) for r in rows if r['model'] == 'ft-clean' and r['mu'] == '0'][0]
    d = [a[k] - b[k] for k in sorted(a)]
    m, lo, hi = interval(d)
    print(f"seed {s}: ft-cell03 {a0:.3f} / {st.mean(a.values()):.3f}, ft-clean {b0:.3f} / {st.mean(b.values()):.3f}; paired {m:+.3f} [{lo:+.3f}, {hi:+.3f}] (n={len(d)}, {sum(x > 0 for x in d)} above); noiseless {a0-b0:+.3f}")
    means.append((s, m))
def pool(name, ks):
    v = [m for s, m in means if s in ks]
    if len(v) < 2:
        return
    m, lo, hi = interval(v)
    print(f"{name} ({len(v)} seeds): {m:+.3f} [{lo:+.3f}, {hi:+.3f}] (t, {len(v)-1} df; {sum(x > 0 for x in v)} above 0)")
pool("seeds 5-7", {5, 6, 7})
pool("seeds 8-11 alone", {8, 9, 10, 11})
pool("all", set(range(5, 12)))
