#!/usr/bin/env bash
# The README's test command: all set-up, then every crate's tests, then the crates that have a
# `torch` feature (the binary, evolution, experiments) once more without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# One integration-test binary per crate; the simulator's crates never link LibTorch.
echo "== every crate (LibTorch where a crate uses it)" >&2
cargo test --workspace
echo "== the simulator-only build of the binary, evolution and experiments (--no-default-features)" >&2
cargo test --no-default-features -p nestevo -p nestevo-evolve -p nestevo-experiments
