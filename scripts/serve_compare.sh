#!/usr/bin/env bash
# The served loop against the in-process loop (issue 14): one `nestevo serve --preset P`, the
# preset's terminals as concurrent `nestevo terminal` processes (registered in the experiment's
# order, each with its stream seed, model and slot), then `nestevo evolve run --preset P` on
# the same frames; prints mAP@0.5 after each window per terminal for both and the largest
# difference, and writes OUT/compare.json.
# Usage: scripts/serve_compare.sh [PRESET=smoke] [OUT=/tmp/serve-compare-PRESET] [METHOD=nestevo]
set -euo pipefail
preset=${1:-smoke}
out=${2:-/tmp/serve-compare-$preset}
method=${3:-nestevo}
port=${PORT:-8471}
bin=${BIN:-target/debug/nestevo}
rm -rf "$out"
mkdir -p "$out"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$out/admin.tok"
"$bin" evolve check --preset "$preset" > "$out/experiment.toml"
cat > "$out/edge.toml" <<TOML
experiment = "$preset"
method = "$method"
admin_token_file = "admin.tok"
window_timeout_s = 3600.0
threads = 1
TOML
"$bin" serve --config "$out/edge.toml" --state "$out/state" --listen "127.0.0.1:$port" --cpu \
  2> "$out/serve.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 0.2; done
# id stream stream_seed model-stem, one line per terminal, and the run's settings.
python3 - "$out/experiment.toml" > "$out/terminals.txt" <<'PY'
import sys, tomllib, pathlib
e = tomllib.load(open(sys.argv[1], "rb"))
print(e["seed"], e["windows"]["count"] * e["windows"]["t_total_s"], e["windows"]["eval_frames"])
for t in e["terminals"]:
    print(t["id"], t["stream"], t["stream_seed"], pathlib.Path(t["model"]).stem)
PY
read -r seed seconds eval_frames < <(head -1 "$out/terminals.txt")
slot=0
pids=()
while read -r id stream sseed model; do
  curl -sf -X POST "http://127.0.0.1:$port/v1/terminals" \
    -H "Authorization: Bearer $(cat "$out/admin.tok")" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$id\",\"model\":\"$model\",\"stream\":\"$stream\"}" > "$out/$id.json"
  "$bin" terminal --server "http://127.0.0.1:$port" --id "$id" --token-file "$out/$id.json" \
    --stream "$stream" --stream-seed "$sseed" --model "$model" --seed "$seed" --slot "$slot" \
    --seconds "$seconds" --eval-frames "$eval_frames" --work "$out/term-$id" --cpu --threads 1 \
    > /dev/null 2> "$out/term-$id.log" &
  pids+=($!)
  slot=$((slot + 1))
done < <(tail -n +2 "$out/terminals.txt")
for p in "${pids[@]}"; do wait "$p"; done
t_served=$SECONDS
kill $server; wait $server 2>/dev/null || true
"$bin" evolve run --preset "$preset" --method "$method" --out "$out/inproc" --cpu --threads 1 \
  > "$out/inproc.log" 2>&1
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
inproc = json.load(open(out / "inproc" / "windows.json"))
rows, worst = [], 0.0
for r in inproc:
    log = json.load(open(out / f"term-{r['terminal']}" / "log.json"))
    s = next(x for x in log if x["window"] == r["window"])
    d = abs(s["map50_after"] - r["map50_after"])
    worst = max(worst, d)
    rows.append({"terminal": r["terminal"], "window": r["window"], "action": r["action"],
                 "served_action": s["action"], "inproc_map50_after": r["map50_after"],
                 "served_map50_after": s["map50_after"], "abs_diff": d})
    print(f"{r['terminal']:>8} w{r['window']}  in-process {r['map50_after']:.4f}  "
          f"served {s['map50_after']:.4f}  |diff| {d:.4f}  ({r['action']} / {s['action']})")
print(f"largest |diff| of mAP@0.5 after a window: {worst:.4f}")
json.dump({"rows": rows, "max_abs_diff": worst}, open(out / "compare.json", "w"), indent=1)
PY
