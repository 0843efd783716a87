"""After `pip install '.[plot]'` in a fresh environment (tools/install_check.sh): the
package and the program came with one install. Run from outside the clone, with neither
$APICAL_BINARY nor PYTHONPATH, by the environment's python without activating it."""

import os
import subprocess
import sys
import sysconfig

import numpy as np

import apical

here = os.path.dirname(os.path.abspath(apical.__file__))
assert here.startswith(sys.prefix), f"apical imported from {here}, not the environment {sys.prefix}"
binary = apical.find_binary()
scripts = sysconfig.get_path("scripts")
assert os.path.dirname(binary) == scripts, f"found {binary}, not the installed {scripts}/apical"
version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
print("install_check:", binary, version.stdout.strip())

r = apical.run("""
[experiment]
name = tiny
model = microcircuit
dataset = bars
[train]
epochs = 4
val_samples = 8
[model]
dims = 9, 30, 3
[sweep]
seed = 1..2
t_pres = 5, 10
""", out="tiny", progress=False, xarray=False)
assert r.n_replicas == 4 and r.epochs_done == 4, (r.n_replicas, r.epochs_done)
assert r.axes["t_pres"] == [5, 10], r.axes
acc = r.at("val_acc")
assert np.all((acc >= 0) & (acc <= 1)), acc
assert not os.path.exists(os.path.join("tiny", ".lock")), "the finished run left its .lock"

import matplotlib  # noqa: E402
matplotlib.use("Agg")
from apical import plot  # noqa: E402
ax = plot.versus(r, "val_acc", x="t_pres")
ax.figure.savefig("tiny.png")
assert os.path.getsize("tiny.png") > 1000
print("install_check: ran, loaded and plotted a 4-replica run through apical.run")

# apical report: the installed program hands over to this environment's python
p = subprocess.run([binary, "report", "tiny"], capture_output=True, text=True)
assert p.returncode == 0, (p.returncode, p.stderr)
with open(os.path.join("tiny", "report.html"), encoding="utf-8") as f:
    page = f.read()
assert page.count('<img src="data:image/png;base64,') >= 3, "the report drew too few figures"
print("install_check:", p.stdout.strip())
