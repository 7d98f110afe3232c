#!/usr/bin/env bash
# Here, before a lent GPU's one call: builds what scripts/gpu-bench-xbar.sh carries and checks
# it, so that the device's minutes go to measuring. Writes
#   target/release/nestevo         the binary (default features: LibTorch, CUDA where present)
#   target/xbar-bench/xbar_torch   the LibTorch crossbar bench (benches/xbar_torch.rs)
#   .gpulib/                       the binary's font libraries and the plots' fonts, which the
#                                  device's image lacks (scripts/gpu-env.sh installs them there)
# and prints the carry list and the command for the device tool. Git ignores all three
# (.gitignore), so the device tool carries them only where named.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export LD_LIBRARY_PATH="$PWD/.venv/libtorch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cargo build --release -p nestevo
cargo bench --bench xbar_torch --no-run
bench=$(ls -t target/release/deps/xbar_torch-* | grep -v '\.d$' | head -n 1)
mkdir -p target/xbar-bench
cp "$bench" target/xbar-bench/xbar_torch
rm -rf .gpulib
mkdir -p .gpulib/dejavu .gpulib/etc-fonts
libs=$(ldd target/release/nestevo | grep -E 'font|freetype|expat|png|brotli|libz' | awk '{print $3}')
[ -n "$libs" ] || { echo "gpu-prepare: ldd found none of the font libraries" >&2; exit 1; }
cp -L $libs .gpulib/
cp -rL /etc/fonts/. .gpulib/etc-fonts/
cp /usr/share/fonts/truetype/dejavu/DejaVuSans*.ttf .gpulib/dejavu/
# The carried binaries start here (no GPU: they must still run on the CPU).
target/release/nestevo info > /dev/null
XBAR_PART=layer XBAR_BATCH=4 XBAR_REPS=1 target/xbar-bench/xbar_torch --bench > /dev/null
du -sh target/release/nestevo target/xbar-bench .gpulib | tr '\n' ' '; echo
cat <<'EOF'
device tool: run with
  carry:     ["target/xbar-bench", "target/release/nestevo", ".gpulib"]
  command:   scripts/gpu-bench-xbar.sh
  timeout_s: 590
EOF
