#!/usr/bin/python3
"""Plot the four self-prediction errors (thesis §2.3) over epochs from an apical results file.

    /usr/bin/python3 tools/plot_selfpred.py runs/selfpred_pretrain/results.h5 [-o out.png]
                                             [--format png|pdf|svg]

Median over replicas (line) and interquartile range (band), first hidden layer; the look
is apical.style's (shared with apical.plot and apical report). Needs h5py and matplotlib.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
try:
    import h5py
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from apical import style
except ImportError as e:
    sys.exit(f"plot_selfpred: {e.name} is missing; on Debian: apt-get install python3-h5py "
             "python3-matplotlib (and run with /usr/bin/python3)")

ERRORS = [("ff_weight_error", "feedforward weight error"), ("fb_weight_error", "feedback weight error"),
          ("apical_error", "apical error"), ("interneuron_error", "interneuron error")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("-o", "--out", help="figure to write (default: selfpred.png next to the "
                    "results file)")
    style.add_format_argument(ap)
    ap.add_argument("--layer", type=int, default=0, help="hidden layer (default 0)")
    args = ap.parse_args()
    if not os.path.exists(args.results):
        sys.exit(f"plot_selfpred: {args.results}: no such file")
    out = args.out or os.path.join(os.path.dirname(args.results) or ".", "selfpred.png")
    with h5py.File(args.results, "r") as f:
        done = int(f.attrs["epochs_done"])
        if "series/ff_weight_error" not in f:
            sys.exit("plot_selfpred: the network has no hidden layer")
        data = {k: f["series/" + k][:, :done, args.layer] for k, _ in ERRORS}
    style.use()
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.0))
    x = np.arange(1, done + 1)
    for ax, (k, title) in zip(axes, ERRORS):
        y = data[k]
        style.band(ax, x, y, color=style.color("le"))
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(title)
    fig.suptitle(f"self-prediction errors, hidden layer {args.layer}, {y.shape[0]} replicas")
    fig.tight_layout()
    print(style.save(fig, out, args.format))


if __name__ == "__main__":
    main()
