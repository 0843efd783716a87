#!/usr/bin/env bash
# Create benchmarks/.venv with jax[cpu], numpy and the CPU build of torch for the
# comparison baselines.
# Idempotent: reuses an existing venv and only installs what is missing.
# Prints the venv's python path as its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/.." && pwd)/.venv"

pick_python() {
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

if [ ! -x "$venv/bin/python" ]; then
  py="$(pick_python)" || {
    echo "setup_venv.sh: no python3 with the venv/ensurepip modules (apt-get install python3-venv)" >&2
    exit 1
  }
  echo "setup_venv.sh: creating $venv with $py" >&2
  "$py" -m venv "$venv"
fi

if ! "$venv/bin/python" -c 'import jax, numpy' >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet "jax[cpu]" numpy >&2
fi

if ! "$venv/bin/python" -c 'import torch' >/dev/null 2>&1; then
  # CPU-only wheel (no CUDA libraries); fall back to PyPI if that index is unreachable.
  "$venv/bin/python" -m pip install --quiet --retries 1 --timeout 15 torch \
    --index-url https://download.pytorch.org/whl/cpu >&2 \
    || "$venv/bin/python" -m pip install --quiet torch >&2
fi

"$venv/bin/python" -c 'import jax, numpy; print("setup_venv.sh: jax", jax.__version__, "numpy", numpy.__version__)' >&2
"$venv/bin/python" -c 'import torch; print("setup_venv.sh: torch", torch.__version__)' >&2
echo "$venv/bin/python"
