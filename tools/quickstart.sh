#!/bin/bash
# README's first command: set up (the Debian packages that are missing), build, run the
# default experiment (a short Bars t_pres study: about 10 s on 2 idle cores) and plot it.
# On a fresh machine the packages and the build take most of the time (README says how long).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
build/apical run experiments/bars_tpres_quick.ini --force "$@"
/usr/bin/python3 tools/plot_tpres.py runs/bars_tpres_quick/results.h5
build/apical report runs/bars_tpres_quick
echo "quickstart: results in runs/bars_tpres_quick/ (results.h5, tpres.png, log.txt, report.html)"
