#!/bin/bash
# CI: the one-line install of README.md in a fresh virtual environment, as a new user
# would do it from a clone: pip install '.[plot]' builds the program through CMake
# (scikit-build-core), then, from another directory and without activating the
# environment, apical.run finds the installed program, runs a tiny experiment, loads and
# plots it and writes its report with the installed `apical report` (python/tests/
# install_check.py), and docs/fig3_tpres.ipynb is executed
# (nbclient); the NWB and Neo export tests run there with pynwb, nwbinspector, neo and
# elephant. Needs what tools/setup.sh installs, plus python3-venv (installed here).
#   tools/install_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$(date +%s)
if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "ok installed"; then
  echo "install_check: installing python3-venv"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/apical-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q --upgrade pip
# the CPU build: CI has no nvcc, and a user's GPU build is the same command
"$py" -m pip install -q "${repo}[plot]" -C cmake.define.APICAL_CUDA=OFF
# the notebook's runner, and what apical.export writes for (python/tests/test_export.py)
"$py" -m pip install -q nbclient nbformat ipykernel pynwb nwbinspector neo elephant
installed=$(date +%s)
echo "install_check: pip install took $((installed - start)) s"
cd "$work"
env -u APICAL_BINARY -u PYTHONPATH MPLBACKEND=Agg "$py" "$repo/python/tests/install_check.py"
# NWB and Neo export, with the packages installed (skipped by ctest's python where not)
env -u PYTHONPATH APICAL_BINARY="$work/venv/bin/apical" MPLBACKEND=Agg \
  "$py" -m unittest discover -s "$repo/python/tests" -p test_export.py 2>&1 | tail -4 |
  tee "$work/export.txt"
if ! grep -q "^OK" "$work/export.txt" || grep -q "skipped" "$work/export.txt"; then
  echo "install_check: the export tests failed or were skipped"
  exit 1
fi
# the notebook runs where a reader opens it, docs/ of the clone (its run goes to a temporary folder)
env -u APICAL_BINARY -u PYTHONPATH -u MPLBACKEND "$py" - "$repo/docs/fig3_tpres.ipynb" <<'PY'
import os, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=1800, kernel_name="python3",
               resources={"metadata": {"path": os.path.dirname(sys.argv[1])}}).execute()
pngs = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
assert pngs >= 1, "the notebook drew no figure"
if os.environ.get("APICAL_NOTEBOOK_OUT"):   # the executed notebook, to look at or keep
    nbformat.write(nb, os.environ["APICAL_NOTEBOOK_OUT"])
print(f"install_check: docs/fig3_tpres.ipynb ran, {pngs} figure(s)")
PY
echo "install_check: passed in $(($(date +%s) - start)) s"
