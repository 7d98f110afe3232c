#!/usr/bin/env bash
# ResNet-18 and VGG-16 exported to ONNX must map exactly as models/resnet18.toml and
# models/vgg16.toml: the `nestevo cim report --json` of each pair is compared field by field,
# layer names aside (the ONNX nodes have their own names; the exporter folds the batch norms
# into the convolutions, which the mapper folds anyway).
#   scripts/check_onnx_reports.sh [DIR]      (DIR default /tmp/onnx-refs; ~600 MB written)
# Needs torch (.venv) and the onnx package (a venv of its own, see make_onnx_testdata.py).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/onnx-refs}
ONNXVENV=${ONNXVENV:-/tmp/onnxvenv}
BIN=${BIN:-target/release/nestevo}
[ -x "$BIN" ] || BIN=target/debug/nestevo
if [ ! -f "$DIR/resnet18.onnx" ] || [ ! -f "$DIR/vgg16.onnx" ]; then
  PYTHONPATH=$(ls -d "$ONNXVENV"/lib/python3*/site-packages) .venv/bin/python \
    scripts/export_onnx_references.py "$DIR"
fi
for m in resnet18 vgg16; do
  "$BIN" cim report --json --model "$DIR/$m.onnx" > "$DIR/$m.onnx.json"
  "$BIN" cim report --json --model "models/$m.toml" > "$DIR/$m.toml.json"
done
python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
bad = 0
for m in ["resnet18", "vgg16"]:
    def load(f):
        r = json.load(open(f"{d}/{m}.{f}.json"))
        r.pop("model")
        r["layers"] = [{k: v for k, v in l.items() if k != "name"} for l in r["layers"]]
        return r
    a, b = load("onnx"), load("toml")
    diff = [k for k in a if a[k] != b[k]]
    print(f"{m}: {len(a['layers'])} crossbar layers; reports {'equal' if not diff else 'differ in ' + ', '.join(diff)}")
    bad += bool(diff)
sys.exit(bad)
PY
