#!/usr/bin/env bash
# The README's test command: all set-up, then every test of both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== simulator build without LibTorch (--no-default-features)" >&2
cargo test --workspace --no-default-features
echo "== default build (LibTorch)" >&2
cargo test --workspace
