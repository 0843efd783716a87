#!/bin/bash
# Installs what apical needs from Debian (only what is missing) and builds it into build/.
# Extra CMake arguments: APICAL_CMAKE_ARGS="-DAPICAL_CUDA=OFF" tools/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config git zlib1g-dev libhdf5-dev librandom123-dev
          libcriterion-dev libopenblas-dev python3-h5py python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The CUDA backend is built whenever nvcc is around (PATH or /usr/local/cuda).
cuda=OFF
if command -v nvcc >/dev/null 2>&1; then cuda=ON
elif [ -x /usr/local/cuda/bin/nvcc ]; then cuda=ON; export PATH="/usr/local/cuda/bin:$PATH"
fi
# This script builds on the machine that runs it, so it tunes for its CPU (-march=native:
# 2-4x faster with AVX-512 than the portable default); a build for other machines (a
# cluster's login node): APICAL_CMAKE_ARGS=-DAPICAL_NATIVE=OFF (docs/cluster.md).
# shellcheck disable=SC2086
# Likewise CUDA for this machine's GPU, or (none answers) for one architecture, which
# compiles every kernel; the CMake default builds four, for other machines.
arch=()
if [ "$cuda" = ON ]; then
  if nvidia-smi -L >/dev/null 2>&1; then arch=(-DCMAKE_CUDA_ARCHITECTURES=native)
  else arch=(-DCMAKE_CUDA_ARCHITECTURES=86); fi
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAPICAL_CUDA=$cuda -DAPICAL_HDF5=ON -DAPICAL_NATIVE=ON \
  "${arch[@]}" ${APICAL_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/apical (CUDA backend: $cuda)"
