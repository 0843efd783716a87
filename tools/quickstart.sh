#!/bin/bash
# README's first command: set up, build, run the default experiment (a short Bars t_pres
# study, a few seconds on 2 cores) and plot it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
build/apical run experiments/bars_tpres_quick.ini --force "$@"
/usr/bin/python3 tools/plot_tpres.py runs/bars_tpres_quick/results.h5
echo "quickstart: results in runs/bars_tpres_quick/ (results.h5, tpres.png, log.txt)"
