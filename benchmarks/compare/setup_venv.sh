#!/usr/bin/env bash
# Create benchmarks/.venv with jax[cpu], numpy and the CPU build of torch for the
# comparison baselines.
# Idempotent: reuses an existing venv and only installs what is missing.
# Prints the venv's python path as its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/.." && pwd)/.venv"

# shellcheck source=benchmarks/compare/venv_lib.sh
source "$here/venv_lib.sh"
make_venv "$venv" setup_venv.sh

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
