#!/usr/bin/env bash
# On a lent GPU machine: run the binary built here (carried as target/release/nestevo) against
# that machine's own torch 2.11.0, and check that it sees the GPU and trains a few steps on it.
#   device run: carry ["target/release/nestevo"], command: scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/gpu-env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
bin=target/release/nestevo
$bin info
$bin info --json | grep -q '"device": "cuda' || { echo "gpu-check: no CUDA device seen" >&2; exit 1; }
$bin info --train-step
