#!/usr/bin/env bash
# The README's run command: all set-up, a release build, then the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release
bin=target/release/nestevo
out=${NESTEVO_DEMO_OUT:-out/demo}
mkdir -p "$out"
$bin info
