#!/usr/bin/python3
"""Plot and tabulate a lif_stdp run: the seed paper's Fig. 2 (rasters) and Fig. 3 (Conn curves).

    /usr/bin/python3 tools/plot_lif.py runs/NAME/results.h5 [-o DIR] [--replica R]
                                       [--nest NEST.npz] [--table] [--no-plots]

For any run of model = lif_stdp. Replicas that share every replicas/* key but the seed
form a reading (topdown=on, topdown=off, ...). Writes next to the results file (or into
-o DIR):
  lif_conn.png    Fig. 3: Conn PA→HA (blue) and Conn NPA→HA (orange) against time, the
                  median over seeds as a line and the interquartile range shaded, one panel
                  per reading; with --nest, NEST's median dashed (darker) and its IQR hatched.
  lif_raster.png  Fig. 2: spikes of one replica (--replica, default 0) in the raster window
                  (A PA, B HA, C NPA; L2/3 above L4; Pyr red, PV blue) and the close-up
                  D: 40 ms of L2/3 of NPA and PA and L4 of HA around the first burst of PA
                  L2/3 Pyr after 1300 ms (the paper shows 1320-1360 ms; --closeup T0 picks
                  the start). Needs [train] raster_ms to cover it.
  lif_rates.png   each population's mean rate over the run (Hz), median over the seeds
                  of each reading with the IQR as error bars; with --nest, NEST's beside.
The figures' look (sizes, colours, the IQR band) is apical.style's, shared with
apical.plot and apical report; --format png|pdf|svg picks the files' format.
--table prints Markdown tables: Conn_PA and Conn_NPA at 0, 5, 10 and 20 s and the mean
rate of every population, median [min, max] over seeds per reading; with --nest the NEST
reference (benchmarks/compare/lif_nest.py --out) beside it and whether the two ranges
overlap. Needs h5py, numpy and matplotlib (Debian: apt-get install python3-h5py
python3-matplotlib; run with /usr/bin/python3); reads the file with h5py (layout:
docs/file-format.md). The tables keep min and max: they test whether two ranges overlap.
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
    sys.exit(f"plot_lif: {e.name} is missing; on Debian: apt-get install python3-h5py "
             "python3-matplotlib (and run with /usr/bin/python3)")

POPS = [f"{a} {l} {t}" for a in ("PA", "NPA", "HA") for l in ("L2/3", "L4") for t in ("Pyr", "PV")]
CONN = ("conn_pa", "conn_npa", "conn_pa_pyr", "conn_pa_pv", "conn_npa_pyr", "conn_npa_pv")
NOT_READING = ("seed", "cohort")
TIMES_S = (0, 5, 10, 20)


def load(path):
    with h5py.File(path, "r") as f:
        if f.attrs.get("model", b"") not in ("lif_stdp", b"lif_stdp"):
            sys.exit(f"plot_lif: {path} is not a lif_stdp run (model {f.attrs.get('model')!r})")
        done = int(f.attrs["epochs_done"])
        rep = {k: f["replicas"][k][()] for k in f["replicas"]}
        desc = {k: f["replicas"][k].attrs.get("description", "") for k in f["replicas"]}
        series = {k: f["series"][k][:, :done] for k in f["series"]}
        wbu = f["weights/W_bu"][()]
        raster = start = None
        if "events/raster" in f:
            raster = f["events/raster"][()]
            start = f["events/raster_start"][()]
        exp_text = f.attrs["experiment"]
        exp_text = exp_text.decode() if isinstance(exp_text, bytes) else exp_text
    record_ms = float(ini_value(exp_text, "train", "record_ms"))
    raster_from = float(ini_value(exp_text, "train", "raster_from_ms") or 0.0)
    return dict(done=done, rep=rep, desc=desc, series=series, wbu=wbu, raster=raster,
                start=start, record_ms=record_ms, raster_from=raster_from,
                dt=float(rep["dt"][0]))


def ini_value(text, section, key):
    cur = None
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("[") and line.endswith("]"):
            cur = line[1:-1].strip()
        elif cur == section and "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            if k == key:
                return v
    return None


def choice_name(desc, value):
    """'0 = off, 1 = on' and 1 -> 'on'."""
    for part in str(desc).split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            if k.strip() == str(int(value)):
                return v.strip()
    return str(value)


def readings(run):
    """{label: [replica indices]} over the keys that differ between replicas (not seed)."""
    rep, R = run["rep"], len(run["rep"]["seed"])
    keys = [k for k, v in rep.items()
            if k not in NOT_READING and v.ndim == 1 and len(np.unique(v)) > 1]
    groups = {}
    for r in range(R):
        parts = []
        for k in sorted(keys):
            v = rep[k][r]
            parts.append(f"{k}={choice_name(run['desc'][k], v) if '=' in str(run['desc'][k]) else f'{v:g}'}")
        groups.setdefault(" ".join(parts) or "all", []).append(r)
    return groups


def conn_at_zero(run):
    """Conn at t = 0: the initial weights (w_bu_pyr to Pyr rows, w_bu_pv to PV rows) over
    the synapses that exist (W_bu not NaN), per replica: [R][6]."""
    wbu, rep = run["wbu"], run["rep"]
    R, post, pre = wbu.shape
    n_pyr = int(rep["n_pyr"][0])
    out = np.zeros((R, 6))
    for r in range(R):
        exists = ~np.isnan(wbu[r])
        w0 = np.where(np.arange(post)[:, None] < n_pyr, rep["w_bu_pyr"][r], rep["w_bu_pv"][r])
        w0 = np.broadcast_to(w0, (post, pre))
        pa, npa = np.zeros(pre, bool), np.zeros(pre, bool)
        pa[:n_pyr], npa[n_pyr:] = True, True
        tpyr = np.arange(post) < n_pyr
        sel = lambda src, tgt: exists & src[None, :] & tgt[:, None]
        allt = np.ones(post, bool)
        for c, (src, tgt) in enumerate(((pa, allt), (npa, allt), (pa, tpyr), (pa, ~tpyr),
                                        (npa, tpyr), (npa, ~tpyr))):
            m = sel(src, tgt)
            out[r, c] = w0[m].mean() if m.any() else np.nan
    return out


def conn_curves(run):
    """times (s) and conn [R][T][6] with t = 0 first."""
    c = np.stack([run["series"][k] for k in CONN], axis=-1)  # [R][E][6]
    c = np.concatenate([conn_at_zero(run)[:, None, :], c], axis=1)
    t = np.arange(c.shape[1]) * run["record_ms"] * 1e-3
    return t, c


def summary(values):
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if not len(v):
        return (np.nan, np.nan, np.nan)
    return (float(np.median(v)), float(v.min()), float(v.max()))


def fmt(s, digits=2):
    return "--" if np.isnan(s[0]) else f"{s[0]:.{digits}f} [{s[1]:.{digits}f}, {s[2]:.{digits}f}]"


def load_nest(path):
    z = np.load(path, allow_pickle=True)
    tds = [str(x) for x in z["topdown"]] if "topdown" in z else ["off", "on"]
    rec = float(z["conn_t_ms"][1] - z["conn_t_ms"][0]) if "conn_t_ms" in z else 5.0
    return dict(topdown=tds, conn=z["conn"], rates=z["rates"], record_ms=rec, z=z)


def nest_reading(nest, label):
    """The NEST topdown index that matches an apical reading label, or None."""
    for i, td in enumerate(nest["topdown"]):
        if f"topdown={td}" in label.split() or (label == "all" and len(nest["topdown"]) == 1):
            return i
    return None


def overlap(a, b):
    return not (np.isnan(a[0]) or np.isnan(b[0])) and a[1] <= b[2] and b[1] <= a[2]


def median_inside(a, b):
    """Each median inside the other's range (a stricter agreement than overlap)."""
    return overlap(a, b) and b[1] <= a[0] <= b[2] and a[1] <= b[0] <= a[2]


def tables(run, groups, nest):
    t, c = conn_curves(run)
    rates = run["series"]["rates"]  # [R][E][12]
    checks = []
    for label, rs in groups.items():
        ni = nest_reading(nest, label) if nest else None
        print(f"\n### {label} ({len(rs)} seeds, {run['done'] * run['record_ms'] / 1000:g} s)\n")
        head = "| quantity | apical |" + (" NEST | ranges overlap |" if ni is not None else "")
        print(head)
        print("|" + " --- |" * (head.count("|") - 1))
        for name, col in (("Conn_PA", 0), ("Conn_NPA", 1)):
            for ts in TIMES_S:
                e = int(round(ts * 1000 / run["record_ms"]))
                if e >= c.shape[1]:
                    continue
                a = summary(c[rs, e, col])
                row = f"| {name} at {ts} s (pA) | {fmt(a)} |"
                if ni is not None:
                    ne = int(round(ts * 1000 / nest["record_ms"]))
                    if ne < nest["conn"].shape[2]:
                        b = summary(nest["conn"][ni, :, ne, col])
                        ok = overlap(a, b)
                        if ts > 0:
                            checks.append((f"{label} {name} {ts} s", ok, median_inside(a, b)))
                        row += f" {fmt(b)} | {'yes' if ok else 'NO'} |"
                print(row)
        for p in range(12):
            a = summary(np.nanmean(rates[rs, :, p], axis=1))
            row = f"| rate {POPS[p]} (Hz) | {fmt(a, 1)} |"
            if ni is not None:
                b = summary(np.nanmean(nest["rates"][ni, :, :, p], axis=1))
                ok = overlap(a, b)
                checks.append((f"{label} rate {POPS[p]}", ok, median_inside(a, b)))
                row += f" {fmt(b, 1)} | {'yes' if ok else 'NO'} |"
            print(row)
        if len(rs) and c.shape[1] > 1:
            last = c.shape[1] - 1
            above = int(np.sum(c[rs, last, 0] > c[rs, last, 1]))
            print(f"\nConn_PA above Conn_NPA at {t[last]:g} s in {above} of {len(rs)} seeds.")
    if checks:
        bad = [n for n, ok, _ in checks if not ok]
        out = [n for n, _, inside in checks if not inside]
        print(f"\nRanges (min to max over seeds) overlap in {len(checks) - len(bad)} of "
              f"{len(checks)} comparisons" + (f"; not: {', '.join(bad)}" if bad else "") + ".")
        print(f"Each median lies inside the other's range in {len(checks) - len(out)} of "
              f"{len(checks)}" + (f"; not: {', '.join(out)}" if out else "") + ".")


def reading_title(label):
    """"topdown=on seed_x=1" as a reader says it: "top-down input on, ..." """
    if label == "all":
        return "all replicas"
    parts = []
    for kv in label.split():
        k, _, v = kv.partition("=")
        parts.append(f"{style.label(k)} {v}")
    return ", ".join(parts)


def plot_conn(run, groups, nest, out, fmt=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    style.use()
    t, c = conn_curves(run)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.3), sharey=True,
                             squeeze=False)
    for ax, (label, rs) in zip(axes[0], groups.items()):
        for col, who, dark in ((0, "PA", "#003f63"), (1, "NPA", "#7a5400")):
            style.band(ax, t, c[rs, :, col], color=style.color(who), label=f"{who} → HA")
            ni = nest_reading(nest, label) if nest else None
            if ni is not None:
                nv = nest["conn"][ni, :, :, col]
                nt = np.arange(nv.shape[1]) * nest["record_ms"] * 1e-3
                med, lo, hi = style.spread(nv, axis=0)
                ax.plot(nt, med, color=dark, ls="--", lw=1.0, label=f"{who} → HA, NEST")
                ax.fill_between(nt, lo, hi, facecolor="none", edgecolor=dark, hatch="///",
                                lw=0, alpha=0.35)
        ax.set_title(f"{reading_title(label)} ({len(rs)} seeds)")
        ax.set_xlabel("time (s)")
    axes[0][0].set_ylabel("mean bottom-up weight (pA)")
    axes[0][0].legend(loc="best")
    fig.tight_layout()
    path = style.save(fig, os.path.join(out, "lif_conn.png"), fmt)
    print(f"plot_lif: wrote {path}")


def burst_window(t_ms, pop, sizes, after=1300.0):
    """The start of a 40 ms close-up around the first population burst of PA L2/3 Pyr at
    or after `after` ms (the paper's Fig. 2D: 1320-1360 ms): 10 ms before the first 1 ms
    bin in which a tenth of its cells fire; `after` itself if there is none."""
    sel = (pop == 0) & (t_ms >= after)
    if not sel.any():
        return after
    counts = np.bincount(((t_ms[sel] - after) // 1.0).astype(int))
    hot = np.nonzero(counts >= 0.1 * sizes[0])[0]
    return after + max(0.0, float(hot[0]) - 10.0) if len(hot) else after


def plot_raster(run, replica, out, closeup=None, fmt=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    style.use()
    if run["raster"] is None:
        print("plot_lif: no raster in the file ([train] raster_ms = 0)")
        return
    s0, s1 = run["start"][replica], run["start"][replica + 1]
    ev = run["raster"][s0:s1]
    if not len(ev):
        print(f"plot_lif: replica {replica} has no spikes in its raster")
        return
    n_pyr, n_pv = int(run["rep"]["n_pyr"][0]), int(run["rep"]["n_pv"][0])
    sizes = [n_pv if p % 2 else n_pyr for p in range(12)]
    pop0 = np.concatenate([[0], np.cumsum(sizes)])
    neuron, t_ms = ev[:, 0].astype(int), ev[:, 1] * run["dt"]
    pop = np.searchsorted(pop0, neuron, side="right") - 1
    fig = plt.figure(figsize=(13, 9))
    gs = fig.add_gridspec(2, 3, height_ratios=[1, 1])
    t_begin, t_end = run["raster_from"], (t_ms.max() if len(t_ms) else 1.0)

    def panel(ax, pops, t0, t1, size):
        y0 = 0
        ticks, names = [], []
        for p in pops:
            sel = (pop == p) & (t_ms >= t0) & (t_ms < t1)
            ax.scatter(t_ms[sel], y0 + neuron[sel] - pop0[p], s=size, lw=0,
                       c=style.color("Pyr") if p % 2 == 0 else style.color("PV"), rasterized=True)
            ticks.append(y0 + sizes[p] / 2)
            names.append(POPS[p])
            y0 += sizes[p]
        ax.set_yticks(ticks, names, fontsize=7)
        ax.tick_params(axis="y", length=0)
        ax.set_xlim(t0, t1)
        ax.set_ylim(0, y0)

    for k, (a, letter) in enumerate(((0, "A  PA"), (2, "B  HA"), (1, "C  NPA"))):
        ax = fig.add_subplot(gs[0, k])
        panel(ax, [4 * a + 3, 4 * a + 2, 4 * a + 1, 4 * a], t_begin, t_end, 0.3)
        ax.set_title(letter, loc="left")
        ax.set_xlabel("time (ms)")
    ax = fig.add_subplot(gs[1, :])
    t0 = closeup if closeup is not None else burst_window(t_ms, pop, sizes,
                                                          max(1300.0, t_begin))
    panel(ax, [10, 11, 0, 1, 4, 5], t0, t0 + 40, 6)
    ax.set_title(f"D  {t0:g}-{t0 + 40:g} ms: L4 of HA (bottom), L2/3 of PA, L2/3 of NPA (top)",
                 loc="left")
    ax.set_xlabel("time (ms)")
    fig.suptitle(f"replica {replica}: seed {run['rep']['seed'][replica]}, top-down input "
                 f"{choice_name(run['desc']['topdown'], run['rep']['topdown'][replica])}; "
                 "Pyr orange-red, PV blue")
    fig.tight_layout()
    path = style.save(fig, os.path.join(out, "lif_raster.png"), fmt)
    print(f"plot_lif: wrote {path}")


def plot_rates(run, groups, nest, out, fmt=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    style.use()
    rates = run["series"]["rates"]  # [R][E][12]
    sets = []  # (label, [seeds][12] mean rates)
    for label, rs in groups.items():
        sets.append((reading_title(label), np.nanmean(rates[rs], axis=1)))
        ni = nest_reading(nest, label) if nest else None
        if ni is not None:
            sets.append((f"NEST, {reading_title(label)}", np.nanmean(nest["rates"][ni], axis=1)))
    fig, ax = plt.subplots(figsize=(13, 4.5))
    width = 0.8 / len(sets)
    x = np.arange(12)
    for k, (label, v) in enumerate(sets):
        med, lo, hi = style.spread(v, axis=0)
        ax.bar(x + (k - (len(sets) - 1) / 2) * width, med, width, label=label,
               yerr=[med - lo, hi - med], capsize=2, hatch="//" if label.startswith("NEST") else None,
               alpha=0.85)
    ax.set_xticks(x, POPS, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("mean rate over the run (Hz)")
    ax.set_title("population rates: median over seeds, IQR as error bars")
    ax.legend()
    fig.tight_layout()
    path = style.save(fig, os.path.join(out, "lif_rates.png"), fmt)
    print(f"plot_lif: wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("-o", "--out", help="directory for the plots (default: the results file's)")
    ap.add_argument("--replica", type=int, default=0, help="the replica of the raster plot")
    ap.add_argument("--closeup", type=float, help="start (ms) of the raster's 40 ms close-up "
                    "(default: 10 ms before the first PA L2/3 Pyr burst after 1300 ms)")
    ap.add_argument("--nest", help="NEST reference (.npz of benchmarks/compare/lif_nest.py)")
    ap.add_argument("--table", action="store_true", help="print the Markdown tables")
    ap.add_argument("--no-plots", action="store_true", help="tables only")
    style.add_format_argument(ap)
    a = ap.parse_args()
    if not os.path.exists(a.results):
        sys.exit(f"plot_lif: {a.results}: no such file")
    run = load(a.results)
    if run["done"] < 1:
        sys.exit(f"plot_lif: {a.results} holds no finished record yet")
    if not 0 <= a.replica < len(run["rep"]["seed"]):
        sys.exit(f"plot_lif: --replica {a.replica}: the run has {len(run['rep']['seed'])} replicas")
    groups = readings(run)
    nest = load_nest(a.nest) if a.nest else None
    out = a.out or os.path.dirname(os.path.abspath(a.results))
    os.makedirs(out, exist_ok=True)
    if a.table:
        tables(run, groups, nest)
    if not a.no_plots:
        plot_conn(run, groups, nest, out, a.format)
        plot_raster(run, a.replica, out, a.closeup, a.format)
        plot_rates(run, groups, nest, out, a.format)


if __name__ == "__main__":
    main()
