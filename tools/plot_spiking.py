#!/usr/bin/python3
"""Plot rate against Poisson-spiking microcircuits from an apical results file.

    /usr/bin/python3 tools/plot_spiking.py runs/rate_vs_spiking/results.h5 [-o out.png]
                                           [--table] [--format png|pdf|svg]

For experiments/bars_tpres_spiking.ini and experiments/rate_vs_spiking.ini (any run that
sweeps neuron = rate, poisson). One accuracy panel per variant and setting of the spiking
keys besides psi (tau_dend, tau_s or t_ref where those vary): validation accuracy after
the last finished epoch against t_pres, median over seeds and the interquartile range
shaded, the rate model in black and one colour per psi. Last panel, the cost:
replica-steps per second of backend work (thread-seconds on the CPU) of each cohort
against t_pres, each point labelled with its cohort's replica count. A cohort fills the
SIMD lanes with its replicas, so the per-replica cost of cohorts of different sizes is not
comparable (rate_vs_spiking.ini: a rate cohort holds the seeds of one t_pres, a spiking
cohort every psi and tau_dend too); the panel gives the spiking/rate time ratio only where
the two kinds of cohort hold the same number of replicas, and says so otherwise.
--table prints the accuracies as a Markdown table (median [25th, 75th percentile] over
seeds). The look is apical.style's (shared with apical.plot and apical report).
Needs h5py and matplotlib (Debian: apt-get install python3-h5py python3-matplotlib);
reads the file with h5py (layout: docs/file-format.md).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
try:
    import h5py
    import numpy as np
    from apical import style
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
        if "cohorts/replicas" in f:
            d["cohort_size"] = f["cohorts/replicas"][:]
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
    print(f"validation accuracy after epoch {d['done']}, median [25th, 75th percentile] over "
          "seeds\n")
    print("| variant | neurons | " + " | ".join(f"t_pres {t}" for t in ts) + " |")
    print("|---|---|" + "---|" * len(ts))
    for v, label, m, _, _ in gs:
        cells = []
        for t in ts:
            x = d["acc"][m & (d["t_pres"] == t)]
            x = x[~np.isnan(x)]
            if len(x):
                med, lo, hi = style.spread(x)
                cells.append(f"{med:.3f} [{lo:.3f}, {hi:.3f}]")
            else:
                cells.append("")
        print(f"| {VARIANTS[v]} | {label} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="results.h5 of a run")
    ap.add_argument("-o", "--out", help="figure to write (default: spiking.png next to the "
                    "results file)")
    ap.add_argument("--table", action="store_true", help="also print a Markdown table")
    style.add_format_argument(ap)
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
    style.use()
    out = args.out or os.path.join(os.path.dirname(args.results) or ".", "spiking.png")
    variants = [v for v in VARIANTS if (d["variant"] == v).any()]
    others = sorted({g[4] for g in gs if g[1] != "rate"}) or [0]
    panels = [(v, o) for v in variants for o in others]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(3.6 * (len(panels) + 1) + 1.6, 3.4),
                             squeeze=False)
    axes = axes[0]
    psis = sorted({g[3] for g in gs if g[1] != "rate"})
    cmap = plt.get_cmap("viridis")
    for ax, (v, o) in zip(axes, panels):
        title = None
        for gv, label, m, psi, other in gs:
            if gv != v or (label != "rate" and other != o):
                continue
            ts, acc = [], []
            for t in np.unique(d["t_pres"][m]):
                x = d["acc"][m & (d["t_pres"] == t)]
                ts.append(t)
                acc.append(x)
            n = max(len(x) for x in acc)
            a = np.full((n, len(ts)), np.nan)
            for j, x in enumerate(acc):
                a[:len(x), j] = x
            if label == "rate":
                kw = dict(color=style.color("rate"), lw=2.0, marker="o", label="rate")
            else:  # colour: psi; the panel: the other spiking keys
                kw = dict(color=cmap(0.05 + 0.7 * psis.index(psi) / max(1, len(psis) - 1)),
                          lw=1.2, marker=".", label=f"spiking, ψ = {psi:g}")
                title = ", ".join(label.split(", ")[2:])
            style.band(ax, ts, a, alpha=0.1, **kw)
        ax.set_xscale("log")
        ts = np.unique(d["t_pres"])
        ax.set_xticks(ts, [f"{t:g}" for t in ts])
        ax.minorticks_off()
        ax.set_ylim(0, 1.05)
        ax.axhline(3 / 8, color=style.color("reference"), lw=0.8, ls=":")
        ax.set_xlabel(style.label("t_pres"))
        ax.set_title(", ".join(x for x in (VARIANTS[v] if len(variants) > 1 else None,
                                           title.replace("tau_dend ", "τ_dend = ").replace("tau_s ", "τ_s = ").replace("t_ref ", "t_ref = ") if title else None)
                               if x) or VARIANTS[v])
    axes[0].set_ylabel(f"validation accuracy after epoch {d['done']}")
    handles, labels = axes[len(panels) - 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(labels), 6))
    ax = axes[-1]
    if "busy" in d and np.isfinite(d["busy"]).any():
        C = len(d["busy"])
        c_t = np.zeros(C)
        c_n = np.zeros(C)
        for c in range(C):  # a cohort's t_pres and neuron type, from its replicas
            r = np.where(d["cohort"] == c)[0][0]
            c_t[c], c_n[c] = d["t_pres"][r], d["neuron"][r]
        size = d.get("cohort_size", np.bincount(d["cohort"], minlength=C))
        for n, label, color in ((0, "rate", style.color("rate")),
                                (1, "spiking", style.color("poisson"))):
            sel = (c_n == n) & np.isfinite(d["busy"]) & (d["busy"] > 0)
            if sel.any():
                o = np.argsort(c_t[sel])
                x, y = c_t[sel][o], (d["steps"][sel] / d["busy"][sel])[o]
                ax.plot(x, y, "o-", color=color, label=label)
                for xi, yi, k in zip(x, y, size[sel][o]):
                    ax.annotate(f"{int(k)}", (xi, yi), textcoords="offset points",
                                xytext=(0, 4), ha="center", fontsize=7, color=color)
        ax.set_xscale("log")
        ax.set_xticks(ts, [f"{t:g}" for t in ts])
        ax.minorticks_off()
        ax.set_ylim(0, None)
        ax.set_xlabel(style.label("t_pres"))
        ax.set_ylabel("replica-steps per thread-second")
        ok = np.isfinite(d["busy"]) & (d["busy"] > 0)
        rate, spk = (c_n == 0) & ok, (c_n == 1) & ok
        if rate.any() and spk.any():
            sizes_r, sizes_s = set(size[rate].tolist()), set(size[spk].tolist())
            if sizes_r == sizes_s and len(sizes_r) == 1:
                ratio = (d["steps"][rate].sum() / d["busy"][rate].sum()) / \
                    (d["steps"][spk].sum() / d["busy"][spk].sum())
                note = f"cohorts of {sizes_r.pop()} replicas:\nspiking takes {ratio:.2f}x the rate time"
            else:
                note = ("not comparable: rate cohorts hold "
                        f"{'/'.join(str(int(k)) for k in sorted(sizes_r))}, spiking "
                        f"{'/'.join(str(int(k)) for k in sorted(sizes_s))} replicas\n"
                        "(a cohort fills the SIMD lanes with its replicas)")
        else:
            note = ""
        ax.set_title("cost per cohort (label: its replicas)", fontsize=9)
        if note:
            ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=7, va="bottom")
        ax.legend(loc="upper right")
    else:
        ax.text(0.5, 0.5, "no per-cohort cost in this file\n(written by the CUDA backend, or "
                "before apical measured it)", ha="center", va="center", fontsize=8)
        ax.set_axis_off()
    fig.tight_layout()
    print(style.save(fig, out, args.format))


if __name__ == "__main__":
    main()
