#!/usr/bin/env bash
# Create .venv in the repository and install the project with all extras.
# Installs torch first (a plain `torch` requirement would pull a multi-GB CUDA build on a CPU box),
# and the system libraries open3d needs (libusb), Mesa's CPU Vulkan, Chromium (the HTML viewer tests) and g++
# (pykeops compiles its kernels on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  if ! dpkg -s libusb-1.0-0 libvulkan1 mesa-vulkan-drivers libegl1 libgl1 chromium >/dev/null 2>&1 \
      || ! command -v g++ >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 libvulkan1 mesa-vulkan-drivers libegl1 libgl1 libgomp1 chromium g++ >/dev/null
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" 2>&1 | grep -v "^WARNING: Location" || true
python -m pip install -q -e ".[all]" 2>&1 | grep -v "^WARNING: Location" || true
python -c "import torch, open3d, trimesh, skimage, igl, msdf; print('setup ok: torch', torch.__version__, 'open3d', open3d.__version__)"
