#!/usr/bin/python3
"""Plot a t_pres study (Haider et al. 2021, Fig. 3) from an apical results file.

    /usr/bin/python3 tools/plot_tpres.py runs/bars_tpres/results.h5 [-o out.png]

Panel A: median validation accuracy over epochs for each variant at a few presentation
times. Panel B: validation accuracy after the last finished epoch against t_pres, median
and interquartile range over seeds, with every seed as a dot. Needs h5py and matplotlib
(Debian: apt-get install python3-h5py python3-matplotlib); reads the file with the
repository's Python package (python/apical, docs/python.md): panel B is
apical.plot.versus(results, "val_acc", x="t_pres", hue="variant").
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
try:
    import numpy as np
    import h5py  # noqa: F401  (apical.load needs it: say so here, with the Debian package)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import apical
    from apical import plot
except ImportError as e:
    sys.exit(f"plot_tpres: {e.name} is missing; on Debian: apt-get install python3-h5py "
             "python3-matplotlib (and run with /usr/bin/python3)")

VARIANTS = {"original": ("original", "tab:orange"), "le": ("latent equilibrium", "tab:blue")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="results.h5 of a run")
    ap.add_argument("-o", "--out", help="PNG to write (default: next to the results file)")
    args = ap.parse_args()
    if not os.path.exists(args.results):
        sys.exit(f"plot_tpres: {args.results}: no such file")
    try:
        r = apical.load(args.results, xarray=False)
    except (OSError, ValueError) as e:
        sys.exit(f"plot_tpres: {e}")
    if r.epochs_done < 1:
        sys.exit(f"plot_tpres: {args.results} holds no finished epoch")
    if np.isnan(r.series["val_acc"][:, :r.epochs_done]).all():
        sys.exit("plot_tpres: the run has no validation phase (val_samples = 0)")
    out = args.out or os.path.join(os.path.dirname(args.results) or ".", "tpres.png")
    name = os.path.basename(os.path.dirname(os.path.abspath(args.results)))
    variants = [v for v in VARIANTS if v in r.values("variant")]
    colors = {v: VARIANTS[v][1] for v in variants}

    t_all = sorted(r.values("t_pres"))
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(11, 4.2))
    show = [t for t in t_all if t in (10, 100, 1000)] or \
        [t_all[0], t_all[len(t_all) // 2], t_all[-1]]
    styles = ["-", "--", ":"]
    for v in variants:
        for k, t in enumerate(show[:3]):
            if r.where(variant=v, t_pres=t).any():
                plot.curves(r.select(variant=v, t_pres=t), "val_acc", by=None, ax=ax_a,
                            band=None, color=colors[v], linestyle=styles[k],
                            label=f"{VARIANTS[v][0]}, t_pres {t}")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("validation accuracy (median over seeds)")
    ax_a.set_ylim(0, 1.05)
    ax_a.axhline(3 / 8, color="grey", lw=0.8, ls=":")
    ax_a.set_title("A  training")
    ax_a.legend(fontsize=7)

    plot.versus(r, "val_acc", x="t_pres", hue="variant", ax=ax_b, order=variants, points=True,
                colors=colors, labels={v: f"{VARIANTS[v][0]} (median, IQR)" for v in variants})
    ax_b.set_xscale("log")
    ax_b.set_xlabel("t_pres (steps of dt)")
    ax_b.set_ylabel(f"validation accuracy after epoch {r.last_record('val_acc')}")
    ax_b.set_ylim(0, 1.05)
    ax_b.axhline(3 / 8, color="grey", lw=0.8, ls=":", label="chance (3/8)")
    ax_b.set_title("B  accuracy vs presentation time")
    ax_b.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{name}: Bars, {r.n_replicas} replicas")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
