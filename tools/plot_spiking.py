#!/usr/bin/python3
"""Plot rate against Poisson-spiking microcircuits from an apical results file.

    /usr/bin/python3 tools/plot_spiking.py runs/rate_vs_spiking/results.h5 [-o out.png] [--table]

For experiments/bars_tpres_spiking.ini and experiments/rate_vs_spiking.ini (any run that
sweeps neuron = rate, poisson). One accuracy panel per variant: validation accuracy after
the last finished epoch against t_pres, median over seeds and the range (min to max)
shaded, one line for the rate model and one per spiking configuration (psi, and tau_dend
or t_ref where those vary). Last panel, the cost: replica-steps per second of backend
work (thread-seconds on the CPU) of each cohort, rate and spiking, against t_pres; a
spiking cohort holds every psi of its t_pres. --table prints the accuracies as a Markdown
table (median [min, max] over seeds). Needs h5py and matplotlib (Debian: apt-get install
python3-h5py python3-matplotlib); reads the file with nothing from apical (layout:
docs/file-format.md).
"""
import argparse
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:
    sys.exit(f"plot_spiking: {e.name} is missing; on Debian: apt-get install python3-h5py "
             "python3-matplotlib (and run with /usr/bin/python3)")

VARIANTS = {1: "latent equilibrium", 0: "original"}
SPIKING_KEYS = ("psi", "tau_dend", "tau_s", "t_ref")  # what tells spiking replicas apart


def load(path):
    with h5py.File(path, "r") as f:
        done = int(f.attrs["epochs_done"])
        if done < 1:
            sys.exit(f"plot_spiking: {path} holds no finished epoch")
        rep = f["replicas"]
        if "neuron" not in rep:
            sys.exit(f"plot_spiking: {path} has no replicas/neuron (written before the spiking "
                     "model); use tools/plot_tpres.py")
        d = {k: rep[k][:] for k in ("t_pres", "variant", "neuron", "seed", "cohort")}
        for k in SPIKING_KEYS:
            d[k] = rep[k][:]
        d["acc"] = f["series/val_acc"][:, done - 1]
        d["done"] = done
        d["name"] = os.path.basename(os.path.dirname(os.path.abspath(path)))
        if "cohorts" in f:
            d["busy"] = f["cohorts/busy_s"][:]
            d["steps"] = f["cohorts/replica_steps"][:]
    return d


def groups(d):
    """(variant, label, mask, psi, other) per configuration: rate, and each spiking setting
    (other: the index of its setting of the keys besides psi that vary)."""
    varying = [k for k in SPIKING_KEYS[1:]  # besides psi
               if len(np.unique(d[k][d["neuron"] == 1])) > 1]
    out = []
    for v in VARIANTS:
        vm = d["variant"] == v
        if not vm.any():
            continue
        if (vm & (d["neuron"] == 0)).any():
            out.append((v, "rate", vm & (d["neuron"] == 0), 0.0, 0))
        sp = vm & (d["neuron"] == 1)
        keys = sorted({tuple(d[k][i] for k in ("psi",) + tuple(varying)) for i in np.where(sp)[0]})
        others = sorted({key[1:] for key in keys})
        for key in keys:
            m = sp.copy()
            for k, val in zip(("psi",) + tuple(varying), key):
                m &= d[k] == val
            parts = [f"ψ {key[0]:g}"] + [f"{k} {val:g}" for k, val in zip(varying, key[1:])]
            out.append((v, "spiking, " + ", ".join(parts), m, key[0], others.index(key[1:])))
    return out


def table(d, gs):
    ts = np.unique(d["t_pres"])
    print(f"validation accuracy after epoch {d['done']}, median [min, max] over seeds\n")
    print("| variant | neurons | " + " | ".join(f"t_pres {t}" for t in ts) + " |")
    print("|---|---|" + "---|" * len(ts))
    for v, label, m, _, _ in gs:
        cells = []
        for t in ts:
            x = d["acc"][m & (d["t_pres"] == t)]
            x = x[~np.isnan(x)]
            cells.append(f"{np.median(x):.3f} [{x.min():.3f}, {x.max():.3f}]" if len(x) else "")
        print(f"| {VARIANTS[v]} | {label} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="results.h5 of a run")
    ap.add_argument("-o", "--out", help="PNG to write (default: next to the results file)")
    ap.add_argument("--table", action="store_true", help="also print a Markdown table")
    args = ap.parse_args()
    if not os.path.exists(args.results):
        sys.exit(f"plot_spiking: {args.results}: no such file")
    d = load(args.results)
    if np.isnan(d["acc"]).all():
        sys.exit("plot_spiking: the run has no validation phase (val_samples = 0)")
    gs = groups(d)
    if args.table:
        table(d, gs)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_spiking: matplotlib is missing; on Debian: apt-get install "
                 "python3-matplotlib (and run with /usr/bin/python3)")
    out = args.out or os.path.join(os.path.dirname(args.results) or ".", "spiking.png")
    variants = [v for v in VARIANTS if (d["variant"] == v).any()]
    fig, axes = plt.subplots(1, len(variants) + 1, figsize=(5.2 * (len(variants) + 1), 4.4))
    psis = sorted({g[3] for g in gs if g[1] != "rate"})
    cmap = plt.get_cmap("viridis")
    dashes = ["-", "--", ":", "-."]
    band = 0.12 if len(gs) <= 3 * len(variants) else 0.05
    for ax, v in zip(axes, variants):
        for gv, label, m, psi, other in gs:
            if gv != v:
                continue
            ts, med, lo, hi = [], [], [], []
            for t in np.unique(d["t_pres"][m]):
                x = d["acc"][m & (d["t_pres"] == t)]
                x = x[~np.isnan(x)]
                if len(x):
                    ts.append(t), med.append(np.median(x)), lo.append(x.min()), hi.append(x.max())
            if label == "rate":
                style = dict(color="black", lw=2.2, marker="o", ms=4)
            else:  # colour: psi; dashes: the other spiking keys
                c = cmap(0.05 + 0.85 * psis.index(psi) / max(1, len(psis) - 1))
                style = dict(color=c, lw=1.3, marker=".", ls=dashes[other % len(dashes)])
            ax.plot(ts, med, label=label, **style)
            ax.fill_between(ts, lo, hi, color=style["color"], alpha=band)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.05)
        ax.axhline(3 / 8, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("t_pres (steps of dt)")
        ax.set_ylabel(f"validation accuracy after epoch {d['done']}")
        ax.set_title(f"{VARIANTS[v]}: median, min to max over seeds", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
    ax = axes[-1]
    if "busy" in d and np.isfinite(d["busy"]).any():
        C = len(d["busy"])
        c_t = np.zeros(C)
        c_n = np.zeros(C)
        for c in range(C):  # a cohort's t_pres and neuron type, from its replicas
            r = np.where(d["cohort"] == c)[0][0]
            c_t[c], c_n[c] = d["t_pres"][r], d["neuron"][r]
        for n, label, color in ((0, "rate", "black"), (1, "spiking (all ψ of the cohort)", "tab:red")):
            sel = (c_n == n) & np.isfinite(d["busy"]) & (d["busy"] > 0)
            if sel.any():
                o = np.argsort(c_t[sel])
                ax.plot(c_t[sel][o], (d["steps"][sel] / d["busy"][sel])[o], "o-", color=color,
                        label=label)
        ax.set_xscale("log")
        ax.set_ylim(0, None)
        ax.set_xlabel("t_pres (steps of dt)")
        ax.set_ylabel("replica-steps per second of one thread")
        rate, spk = (c_n == 0) & np.isfinite(d["busy"]), (c_n == 1) & np.isfinite(d["busy"])
        ratio = ""
        if rate.any() and spk.any():
            r = (d["steps"][rate].sum() / d["busy"][rate].sum()) / (d["steps"][spk].sum() / d["busy"][spk].sum())
            ratio = f"\nspiking takes {r:.2f}x the rate model's time"
        ax.set_title("cost per cohort, in this run" + ratio, fontsize=10)
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no per-cohort cost in this file\n(written by the CUDA backend, or "
                "before apical measured it)", ha="center", va="center", fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"{d['name']}: Bars, {len(d['acc'])} replicas, rate and Poisson-spiking")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
