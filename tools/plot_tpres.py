#!/usr/bin/python3
"""Plot a t_pres study (Haider et al. 2021, Fig. 3) from an apical results file.

    /usr/bin/python3 tools/plot_tpres.py runs/bars_tpres/results.h5 [-o out.png] [--format pdf]

Panel A: validation accuracy over epochs for each variant at two presentation times,
each replica's accuracy averaged over a window of epochs first (Bars validates on 8
samples, so one epoch's accuracy moves in steps of 1/8), then the median over seeds and
the interquartile range. Panel B: validation accuracy after the last finished epoch
against t_pres, median and interquartile range over seeds, with every seed as a dot.
The look (sizes, colours, labels, the IQR band) is apical.style's, shared with
apical.plot and apical report; --format png|pdf|svg (default: -o's ending, else png).
Needs h5py and matplotlib
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
    from apical import plot, style
except ImportError as e:
    sys.exit(f"plot_tpres: {e.name} is missing; on Debian: apt-get install python3-h5py "
             "python3-matplotlib (and run with /usr/bin/python3)")

VARIANTS = ("le", "original")


def smooth(a, w):
    """each row's running mean over w epochs (NaN-aware), [R][E] -> [R][E - w + 1]"""
    ok = np.isfinite(a)
    c = np.cumsum(np.where(ok, a, 0.0), axis=1)
    n = np.cumsum(ok, axis=1)
    c = np.concatenate([np.zeros((len(a), 1)), c], axis=1)
    n = np.concatenate([np.zeros((len(a), 1)), n], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (c[:, w:] - c[:, :-w]) / (n[:, w:] - n[:, :-w])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="results.h5 of a run")
    ap.add_argument("-o", "--out", help="figure to write (default: tpres.png next to the "
                    "results file)")
    style.add_format_argument(ap)
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
    variants = [v for v in VARIANTS if v in r.values("variant")]
    style.use()

    t_all = sorted(r.values("t_pres"))
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(9, 3.6))
    show = [t for t in t_all if t in (10, 100)] or [t_all[0], t_all[-1]]
    styles = ["-", "--"]
    done = r.epochs_done
    w = max(1, round(done / 40))
    for v in variants:
        for k, t in enumerate(show[:2]):
            m = r.where(variant=v, t_pres=t)
            if not m.any():
                continue
            a = smooth(r.series["val_acc"][m][:, :done].astype(float), w)
            x = r.records[:done][w - 1:]
            style.band(ax_a, x, a, color=style.color(v), linestyle=styles[k],
                       label=f"{style.label(v)}, t_pres = {t:g}")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel(f"validation accuracy\n(mean over {w} epochs)" if w > 1 else
                    "validation accuracy")
    ax_a.set_ylim(0, 1.05)
    ax_a.axhline(3 / 8, color=style.color("reference"), lw=0.8, ls=":")
    ax_a.set_title("A  training")
    ax_a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)

    plot.versus(r, "val_acc", x="t_pres", hue="variant", ax=ax_b, order=variants, points=True,
                logx=True)
    ax_b.set_ylabel(f"validation accuracy after epoch {r.last_record('val_acc')}")
    ax_b.set_ylim(0, 1.05)
    ax_b.axhline(3 / 8, color=style.color("reference"), lw=0.8, ls=":", label="chance (3/8)")
    ax_b.set_title("B  accuracy against presentation time")
    ax_b.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    fig.tight_layout()
    print(style.save(fig, out, args.format))


if __name__ == "__main__":
    main()
