# Sourced by the GPU scripts on a lent machine: that machine's torch 2.11 libraries on
# LD_LIBRARY_PATH ($venv names its virtualenv), and, where .gpulib was carried, the binary's
# font libraries and the plots' fonts, which that image lacks. scripts/gpu-prepare.sh makes
# .gpulib here.
venv=$(ls -d /opt/torch/.venv 2>/dev/null || true)
lib=${TORCH_LIB:-$(ls -d "$venv"/lib/python3*/site-packages/torch/lib 2>/dev/null | head -n 1)}
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -d .gpulib ]; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PWD/.gpulib"
  [ -e /etc/fonts/fonts.conf ] || { mkdir -p /etc/fonts && cp -r .gpulib/etc-fonts/. /etc/fonts/; }
  mkdir -p /usr/share/fonts/truetype/dejavu && cp -n .gpulib/dejavu/*.ttf /usr/share/fonts/truetype/dejavu/ 2>/dev/null || true
fi
