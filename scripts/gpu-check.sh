#!/usr/bin/env bash
# The GPU check of mir-ref, for any Linux x86-64 machine with an NVIDIA GPU:
# ONNX Runtime's CUDA execution provider must give the CPU's embeddings within 1e-3 on
# basic-pitch and MusiCNN (every layer, every window of 64 generated 30 s clips), and the
# extraction throughput on both is printed.
#   scripts/gpu-check.sh              # builds mir-ref (release), provisions what it needs
#   MIRREF_BIN=path/to/mir-ref scripts/gpu-check.sh
# Needs: pip (for the onnxruntime-gpu wheel, and the CUDA 12 / cuDNN 9 wheels when the system
# has no cuDNN 9), and the model files (`mir-ref models fetch`, from PyPI) unless present.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi -L || { echo "gpu-check: no NVIDIA GPU here (nvidia-smi -L failed)" >&2; exit 2; }
BIN=${MIRREF_BIN:-}
if [[ -z $BIN ]]; then
  cargo build --release -p xtask
  BIN=target/release/mir-ref
fi
# The CUDA build of ONNX Runtime, from its wheel, into mir-ref's cache.
LIB=$("$BIN" setup-ort --gpu | sed -n 's/.*ORT_DYLIB_PATH=\(.*\))$/\1/p')
[[ -n $LIB ]] || { echo "gpu-check: setup-ort --gpu printed no library" >&2; exit 1; }
export ORT_DYLIB_PATH=$LIB
# The CUDA libraries the provider loads, from NVIDIA's wheels when the system has none.
if ! ldconfig -p | grep -q 'libcudnn\.so\.9'; then
  VENV=${MIRREF_CACHE_DIR:-$HOME/.cache/mir-ref}/cuda-venv
  [[ -x $VENV/bin/pip ]] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q nvidia-cudnn-cu12 nvidia-cublas-cu12 nvidia-cuda-runtime-cu12 \
    nvidia-cufft-cu12 nvidia-curand-cu12 nvidia-cuda-nvrtc-cu12
  LD_LIBRARY_PATH=$(find "$VENV"/lib/python3*/site-packages/nvidia -maxdepth 2 -name lib -type d | paste -sd:):${LD_LIBRARY_PATH:-}
  export LD_LIBRARY_PATH
fi
"$BIN" models fetch basic-pitch
checked=0
for card in basic-pitch musicnn-msd; do
  if "$BIN" models list | grep -q "^$card  *ready"; then
    "$BIN" models check-device "$card" --device cuda:0 --tracks 64 --seconds 30 --tolerance 1e-3
    checked=$((checked + 1))
  else
    # MusiCNN is exported from its PyPI package: configs/models/export/musicnn.py (see its header).
    echo "gpu-check: $card is not there: $("$BIN" models list | grep "^$card")" >&2
  fi
done
[[ $checked -eq 2 ]] || { echo "gpu-check: only $checked of 2 models checked" >&2; exit 1; }
echo "gpu-check: passed"
