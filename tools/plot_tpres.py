#!/usr/bin/python3
"""Plot a t_pres study (Haider et al. 2021, Fig. 3) from an apical results file.

    /usr/bin/python3 tools/plot_tpres.py runs/bars_tpres/results.h5 [-o out.png]

Panel A: median validation accuracy over epochs for each variant at a few presentation
times. Panel B: validation accuracy after the last finished epoch against t_pres, median
and interquartile range over seeds, with every seed as a dot. Needs h5py and matplotlib
(Debian: apt-get install python3-h5py python3-matplotlib); reads the file with nothing
from apical (layout: docs/file-format.md).
"""
import argparse
import os
import sys

try:
    import h5py
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as e:
    sys.exit(f"plot_tpres: {e.name} is missing; on Debian: apt-get install python3-h5py "
             "python3-matplotlib (and run with /usr/bin/python3)")

VARIANTS = {0: ("original", "tab:orange"), 1: ("latent equilibrium", "tab:blue")}


def load(path):
    with h5py.File(path, "r") as f:
        done = int(f.attrs["epochs_done"])
        if done < 1:
            sys.exit(f"plot_tpres: {path} holds no finished epoch")
        acc = f["series/val_acc"][:, :done]
        return {
            "acc": acc,
            "t_pres": f["replicas/t_pres"][:],
            "variant": f["replicas/variant"][:],
            "dt": f["replicas/dt"][:],
            "name": os.path.basename(os.path.dirname(os.path.abspath(path))),
            "done": done,
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="results.h5 of a run")
    ap.add_argument("-o", "--out", help="PNG to write (default: next to the results file)")
    args = ap.parse_args()
    if not os.path.exists(args.results):
        sys.exit(f"plot_tpres: {args.results}: no such file")
    d = load(args.results)
    out = args.out or os.path.join(os.path.dirname(args.results) or ".", "tpres.png")
    if np.isnan(d["acc"]).all():
        sys.exit("plot_tpres: the run has no validation phase (val_samples = 0)")

    t_all = np.unique(d["t_pres"])
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(11, 4.2))
    show = [t for t in t_all if t in (10, 100, 1000)] or list(t_all[[0, len(t_all) // 2, -1]])
    styles = ["-", "--", ":"]
    for v, (label, color) in VARIANTS.items():
        for k, t in enumerate(show[:3]):
            sel = (d["variant"] == v) & (d["t_pres"] == t)
            if sel.any():
                ax_a.plot(np.arange(1, d["done"] + 1), np.nanmedian(d["acc"][sel], axis=0),
                          styles[k], color=color, label=f"{label}, t_pres {t}")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("validation accuracy (median over seeds)")
    ax_a.set_ylim(0, 1.05)
    ax_a.axhline(3 / 8, color="grey", lw=0.8, ls=":")
    ax_a.set_title("A  training")
    ax_a.legend(fontsize=7)

    final = d["acc"][:, -1]
    for v, (label, color) in VARIANTS.items():
        ts, med, lo, hi = [], [], [], []
        for t in t_all:
            sel = (d["variant"] == v) & (d["t_pres"] == t)
            if not sel.any():
                continue
            x = final[sel]
            ts.append(t)
            med.append(np.median(x))
            lo.append(np.percentile(x, 25))
            hi.append(np.percentile(x, 75))
            jitter = t * np.exp(np.linspace(-0.06, 0.06, len(x))) * (1.04 if v else 0.96)
            ax_b.scatter(jitter, x, s=8, color=color, alpha=0.35, lw=0)
        if ts:
            ax_b.plot(ts, med, "o-", color=color, label=f"{label} (median, IQR)")
            ax_b.fill_between(ts, lo, hi, color=color, alpha=0.2)
    ax_b.set_xscale("log")
    ax_b.set_xlabel("t_pres (steps of dt)")
    ax_b.set_ylabel(f"validation accuracy after epoch {d['done']}")
    ax_b.set_ylim(0, 1.05)
    ax_b.axhline(3 / 8, color="grey", lw=0.8, ls=":", label="chance (3/8)")
    ax_b.set_title("B  accuracy vs presentation time")
    ax_b.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{d['name']}: Bars, {len(final)} replicas")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
