#!/usr/bin/python3
"""apical from Python, notebook-style (each `# %%` is a cell; docs/python.md says more).

    PYTHONPATH=python /usr/bin/python3 docs/python-example.py     (from the repository root,
                                                                   after tools/setup.sh)
    .venv/bin/python docs/python-example.py                       (after pip install '.[plot]')

Runs a small version of Haider 2021 Fig. 3 on Bars -- latent equilibrium against the
original microcircuit over presentation times, 3 seeds, 200 epochs: a few seconds on 2
cores -- and plots the accuracy against t_pres and the learning curves into
runs/python-example/.
"""

# %% Run: the repository's quick Fig. 3 study, shortened with overrides
import os

import numpy as np

import apical
from apical import plot

r = apical.run("experiments/bars_tpres_quick.ini", out="runs/python-example", force=True,
               train__epochs=200, sweep__seed=range(1, 4), xarray=False)
print(r)

# %% The sweep's axes: variant x t_pres x seed; eta_up, eta_ip and out_lag follow t_pres
print(r.axes)
print(r.depends)

# %% Validation accuracy after the last epoch, median over seeds, per variant and t_pres
acc = r.grid(r.at("val_acc"))                   # [variant][t_pres][seed]
for i, variant in enumerate(r.axes["variant"]):
    print(variant, dict(zip(r.axes["t_pres"], np.median(acc[i], axis=1))))

# %% Fig. 3: accuracy against t_pres, and the learning curves at t_pres = 100
import matplotlib.pyplot as plt  # noqa: E402

fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
plot.versus(r, "val_acc", x="t_pres", hue="variant", points=True, ax=a)
a.axhline(3 / 8, color="grey", lw=0.8, ls=":")
plot.curves(r.select(t_pres=100), "val_acc", by="variant", ax=b)
b.set_title("t_pres = 100")
fig.tight_layout()
out = os.path.join("runs", "python-example", "fig3.png")
fig.savefig(out, dpi=100)
print("wrote", out)

# %% With xarray installed, the same as a Dataset
try:
    ds = apical.load("runs/python-example", xarray=True)
    print(ds.val_acc.isel(epoch=ds.epochs_done - 1).median("seed").to_pandas())
except ImportError:
    print("(xarray is not installed: apical.load returns the numpy Results above)")
