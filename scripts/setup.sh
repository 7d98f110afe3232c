#!/usr/bin/env bash
# Idempotent set-up: a project-local virtualenv (.venv) holding PyPI's torch==2.11.0, whose
# LibTorch the `torch` feature builds against (.cargo/config.toml points LIBTORCH at
# .venv/libtorch). A second run does nothing. NESTEVO_NO_TORCH=1 skips it (simulator only).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${NESTEVO_NO_TORCH:-0}" = 1 ] && exit 0
VENV=.venv
TORCH_VERSION=2.11.0
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -W ignore -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION into $VENV (about 4.6 GB, once)" >&2
  "$VENV/bin/pip" install --disable-pip-version-check -q "torch==$TORCH_VERSION"
fi
ln -sfn "$("$VENV/bin/python" -W ignore -c 'import os, torch; print(os.path.dirname(torch.__file__))')" "$VENV/libtorch"
