#!/usr/bin/python3
"""Plot a microcircuit run on an IDX dataset (experiments/mnist_le.ini) from its results file.

    /usr/bin/python3 tools/plot_mnist.py runs/mnist_le/results.h5 [-o out.png] [--table]
                                         [--format png|pdf|svg]

Panel A: test accuracy (the test phases, [train] test_every) over epochs, every replica
and the median. Panel B: the mean apical error per epoch (a run-away shows there first).
--table prints the last test phase's accuracy per replica and the median [min, max] in
Markdown. Needs h5py and matplotlib (Debian: apt-get install python3-h5py
python3-matplotlib); reads the file with the repository's Python package (python/apical,
docs/python.md): panel A is apical.plot.curves(results, "test_acc", by=None, each=True).
The look is apical.style's (shared with apical.plot and apical report).
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
    sys.exit(f"plot_mnist: {e.name} is missing; on Debian: apt-get install python3-h5py "
             "python3-matplotlib (and run with /usr/bin/python3)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("-o", "--out", help="figure to write (default: mnist.png next to the "
                    "results)")
    style.add_format_argument(ap)
    ap.add_argument("--table", action="store_true", help="print a Markdown table instead")
    a = ap.parse_args()
    try:
        r = apical.load(a.results, xarray=False)
    except (OSError, ValueError) as e:
        sys.exit(f"plot_mnist: cannot read {a.results}: {e}")
    if "test_acc" not in r.series:
        sys.exit(f"plot_mnist: {a.results} has no test_acc series (a microcircuit run "
                 "from before the test phase?)")
    done = r.epochs_done
    acc = r.series["test_acc"][:, :done]
    api = r.series["apical_error"][:, :done, 0] if "apical_error" in r.series else None
    seeds = r.params["seed"]
    name = os.path.basename(os.path.dirname(os.path.abspath(a.results)))
    tested = np.where(~np.all(np.isnan(acc), axis=0))[0]
    if not len(tested):
        sys.exit("plot_mnist: no test phase in the finished epochs yet")
    last = acc[:, tested[-1]]
    if a.table:
        print(f"| {name}: replica | seed | test accuracy after epoch {tested[-1] + 1} |")
        print("| ---: | ---: | ---: |")
        for i, v in enumerate(last):
            print(f"| {i} | {seeds[i]} | {v:.4f} |")
        print(f"\nmedian {np.nanmedian(last):.4f} [min {np.nanmin(last):.4f}, "
              f"max {np.nanmax(last):.4f}] over {len(last)} replicas")
        return
    style.use()
    fig, axs = plt.subplots(1, 2 if api is not None else 1, figsize=(9, 3.4), squeeze=False)
    ax = axs[0][0]
    plot.curves(r, "test_acc", by=None, ax=ax, band=None, color=style.color("le"), lw=2, marker="o",
                label=f"median of {acc.shape[0]}",
                each=dict(color="0.7", lw=1, ms=3, marker="o", alpha=1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title("A  test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    if api is not None:
        ax = axs[0][1]
        for row in api:
            ax.plot(np.arange(1, done + 1), row, color=style.color("poisson"), alpha=0.6, lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean ||v_api|| (training steps)")
        ax.set_title("B  apical error, every replica")
    fig.tight_layout()
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.results)), "mnist.png")
    print(f"plot_mnist: wrote {style.save(fig, out, a.format)}")


if __name__ == "__main__":
    main()
