#!/usr/bin/env bash
# Create benchmarks/.venv-nest with the NEST simulator (nest-simulator wheel from
# PyPI) and numpy, for the NEST reference of the LIF + STDP network (lif_nest.py).
# Idempotent: reuses an existing venv and only installs what is missing.
# Prints the venv's python path as its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/.." && pwd)/.venv-nest"

# shellcheck source=benchmarks/compare/venv_lib.sh
source "$here/venv_lib.sh"
make_venv "$venv" setup_nest_venv.sh

if ! "$venv/bin/python" -c 'import nest, numpy' >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet nest-simulator numpy >&2
fi

"$venv/bin/python" -c 'import nest, numpy; print("setup_nest_venv.sh: nest", nest.__version__, "numpy", numpy.__version__)' >&2
echo "$venv/bin/python"
