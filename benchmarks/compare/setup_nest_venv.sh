#!/usr/bin/env bash
# Create benchmarks/.venv-nest with the NEST simulator (nest-simulator wheel from
# PyPI) and numpy, for the NEST reference of the LIF + STDP network (lif_nest.py).
# Idempotent: reuses an existing venv and only installs what is missing.
# Prints the venv's python path as its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/.." && pwd)/.venv-nest"

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
    echo "setup_nest_venv.sh: no python3 with the venv/ensurepip modules (apt-get install python3-venv)" >&2
    exit 1
  }
  echo "setup_nest_venv.sh: creating $venv with $py" >&2
  "$py" -m venv "$venv"
fi

if ! "$venv/bin/python" -c 'import nest, numpy' >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet nest-simulator numpy >&2
fi

"$venv/bin/python" -c 'import nest, numpy; print("setup_nest_venv.sh: nest", nest.__version__, "numpy", numpy.__version__)' >&2
echo "$venv/bin/python"
