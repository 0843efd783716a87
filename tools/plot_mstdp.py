#!/usr/bin/python3
"""Plot learning curves or generated digits of the MSTDP energy network from an apical results file.

    /usr/bin/python3 tools/plot_mstdp.py runs/NAME/results.h5 [-o out.png] [--table]
    /usr/bin/python3 tools/plot_mstdp.py runs/NAME/results.h5 --generated [-o out.png]
                                         [--replica R] [--record E]

For any run of model = mstdp. Replicas that share the value of every replicas/* key but
the seed form a reading, named by the keys that tell readings apart (clamp=momentum
rule=post). Learning curves (default; mstdp_curves.png next to the results file): test
accuracy (label read after the last clamped phase solid, after the last free phase
dashed; the whole-test-set accuracy of full_test_every as markers), training accuracy,
mean |W| and max |s| (log scale) against training presentations (record x [train]
presentations), median over seeds and the interquartile range shaded, one colour per
reading. --table prints, per reading, the accuracies after the last finished record as a
Markdown table (median [min, max] over seeds) and whether a replica diverged.
--generated (mstdp_generated.png): the digits the network generated (gen_samples > 0),
one row per label and one column per sample, of one replica (default 0) in the last
record that generated (or --record, 1-based); grey levels span the states' range (a
colour bar says which), 1-pixel gaps; the title gives the record's generation accuracy
(apical.classifier's share of images assigned to the clamped label), and --table adds a
table of it per record that generated. Bands are the IQR over seeds; the look is
apical.style's (shared with apical.plot and apical report); --format png|pdf|svg.
Needs h5py and matplotlib (Debian: apt-get install python3-h5py python3-matplotlib);
reads the file with h5py (layout: docs/file-format.md).
"""
import argparse
import os
import re
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
try:
    import h5py
    import numpy as np
    from apical import style
    from apical.report import generated_figure
except ImportError as e:
    sys.exit(f"plot_mstdp: {e.name} is missing; on Debian: apt-get install python3-h5py "
             "python3-matplotlib (and run with /usr/bin/python3)")

NOT_READING = ("seed", "cohort", "diverged_at")  # replicas/* keys that do not make a reading
ACC = ("test_acc_clamped", "test_acc_free", "train_acc_clamped", "train_acc_free",
       "full_test_acc_clamped", "full_test_acc_free")
WATCH = ("mean_abs_w", "mean_abs_s", "max_abs_s", "energy")  # every record; NaN there: frozen


def ini_value(text, section, key):
    """The value of KEY in [SECTION] of an INI text (the effective configuration), or None."""
    cur = None
    for line in text.splitlines():
        line = line.split("#")[0].split(";")[0].strip()
        m = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", line)
        if m:
            cur = m.group(1)
        elif cur == section and "=" in line:
            k, v = line.split("=", 1)
            if k.strip() == key:
                return v.strip()
    return None


def sweep_keys(text):
    """The keys of the [sweep] and [sweep.NAME] sections, in the order they appear."""
    keys, cur = [], None
    for line in text.splitlines():
        line = line.split("#")[0].split(";")[0].strip()
        m = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", line)
        if m:
            cur = m.group(1)
        elif cur and (cur == "sweep" or cur.startswith("sweep.")) and "=" in line:
            k = line.split("=", 1)[0].strip()
            if k not in keys:
                keys.append(k)
    return keys


def choices(desc):
    """{index: name} from a choice key's description ('0 = step, 1 = momentum'), or None."""
    pairs = re.findall(r"(\d+)\s*=\s*([^,]+)", desc or "")
    if not pairs or not re.fullmatch(r"\s*\d+\s*=\s*[^,]+(,\s*\d+\s*=\s*[^,]+)*\s*", desc):
        return None
    return {int(i): name.strip() for i, name in pairs}


def fmt(key, value, names):
    if names is not None and np.ndim(value) == 0 and int(value) in names:
        return names[int(value)]
    if np.ndim(value):
        return "[" + ",".join(f"{v:g}" for v in np.ravel(value)) + "]"
    return f"{value:g}"


def load(path, need_series=True):
    with h5py.File(path, "r") as f:
        model = f.attrs.get("model", "")
        if isinstance(model, bytes):
            model = model.decode()
        if model != "mstdp":
            sys.exit(f"plot_mstdp: {path} holds model '{model}', not mstdp")
        done = int(f.attrs["epochs_done"])
        if done < 1:
            sys.exit(f"plot_mstdp: {path} holds no finished record")
        exp = f.attrs.get("experiment", "")
        if isinstance(exp, bytes):
            exp = exp.decode()
        d = {"done": done, "E": int(f.attrs.get("epochs", done)), "path": path,
             "name": os.path.basename(os.path.dirname(os.path.abspath(path)))}
        pres = ini_value(exp, "train", "presentations")
        d["pres"] = int(pres) if pres and pres.lstrip("-").isdigit() else None
        d["swept"] = sweep_keys(exp)
        rep = f["replicas"]
        d["rep"] = {k: rep[k][:] for k in rep}
        d["names"] = {k: choices(rep[k].attrs.get("description", "")) for k in rep}
        for k, v in d["names"].items():  # a description only names a choice key's ints
            if v is not None and not np.issubdtype(d["rep"][k].dtype, np.integer):
                d["names"][k] = None
        d["R"] = len(d["rep"]["seed"])
        if need_series:
            for k in ACC + WATCH + ("diverged",):
                d[k] = f["series/" + k][:, :done] if "series/" + k in f else None
        has_generated = "series/generated" in f
    d["generation_accuracy"], d["generation_missing"] = None, None
    if has_generated:  # apical.load's measure (apical.classifier on the run's training files)
        from apical.results import read
        r = read(path)
        if "generation_accuracy" in r.series:
            d["generation_accuracy"] = r.series["generation_accuracy"][:, :done]
        d["generation_missing"] = r.missing.get("generation_accuracy")
    return d


def readings(d):
    """[(name, replica indices)], one per reading, in order of first replica."""
    keys = sorted((k for k in d["rep"] if k not in NOT_READING),  # swept keys first, as swept
                  key=lambda k: (d["swept"].index(k) if k in d["swept"] else len(d["swept"]), k))
    rows = [tuple(np.ravel(d["rep"][k][r]).tolist() for k in keys) for r in range(d["R"])]
    rows = [tuple(tuple(x) for x in row) for row in rows]
    uniq = list(dict.fromkeys(rows))
    varying = [i for i, k in enumerate(keys) if len({u[i] for u in uniq}) > 1]
    out = []
    for u in uniq:
        idx = np.array([r for r in range(d["R"]) if rows[r] == u])
        r0 = idx[0]
        shown = varying or [i for i, k in enumerate(keys) if d["names"][k] is not None]
        name = " ".join(f"{keys[i]}={fmt(keys[i], d['rep'][keys[i]][r0], d['names'][keys[i]])}"
                        for i in shown)
        out.append((name or "all replicas", idx))
    return out


def diverged(d):
    """Per replica: the 1-based record it diverged at (diverged == 1, replicas/diverged_at or
    a non-finite value in a series measured every record), 0 if never."""
    at = np.zeros(d["R"], dtype=int)
    if "diverged_at" in d["rep"]:
        at = d["rep"]["diverged_at"].astype(int).copy()
    bad = np.zeros((d["R"], d["done"]), bool)
    if d["diverged"] is not None:
        bad |= d["diverged"] == 1
    for k in WATCH:
        if d[k] is not None:
            bad |= ~np.isfinite(d[k])
    for r in range(d["R"]):
        if at[r] == 0 and bad[r].any():
            at[r] = int(np.argmax(bad[r])) + 1
    return at


def stats(x):
    x = x[np.isfinite(x)]
    return f"{np.median(x):.3f} [{x.min():.3f}, {x.max():.3f}]" if len(x) else "–"


def table(d, gs, at):
    e = d["done"]
    cols = [("test_acc_clamped", "test, clamped read"), ("test_acc_free", "test, free read"),
            ("train_acc_clamped", "train, clamped read"), ("train_acc_free", "train, free read")]
    full = None
    if d["full_test_acc_clamped"] is not None:
        rec = np.where(np.isfinite(d["full_test_acc_clamped"]).any(axis=0))[0]
        if len(rec):
            full = rec[-1]
            cols += [("full_test_acc_clamped", f"full test (record {full + 1}), clamped"),
                     ("full_test_acc_free", f"full test (record {full + 1}), free")]
    cols = [(k, t) for k, t in cols if d[k] is not None]
    after = f"record {e}" + (f" ({e * d['pres']} presentations)" if d["pres"] else "")
    print(f"accuracy after {after}, median [min, max] over seeds (a diverged replica's are "
          "NaN from its divergence on: left out)\n")
    print("| reading | seeds | " + " | ".join(t for _, t in cols) + " | diverged |")
    print("|---|---|" + "---|" * len(cols) + "---|")
    for name, idx in gs:
        cells = [stats(d[k][idx, full if k.startswith("full") else e - 1]) for k, _ in cols]
        div = at[idx]
        dv = "no" if not div.any() else (f"{(div > 0).sum()} of {len(idx)} (at record "
                                         + ", ".join(str(a) for a in div[div > 0]) + ")")
        print(f"| {name} | {len(idx)} | " + " | ".join(cells) + f" | {dv} |")
    ga = d.get("generation_accuracy")
    if ga is not None:
        recs = np.where(np.isfinite(ga).any(axis=0))[0]
        if len(recs):
            print("\ngeneration accuracy (apical.classifier: the share of generated images "
                  "assigned to the clamped label) per record that generated, median [min, "
                  "max] over seeds\n")
            print("| reading | " + " | ".join(f"record {e + 1}" for e in recs) + " |")
            print("|---|" + "---|" * len(recs))
            for name, idx in gs:
                print(f"| {name} | " + " | ".join(stats(ga[idx, e]) for e in recs) + " |")
    elif d.get("generation_missing"):
        print(f"\ngeneration accuracy: not measured ({d['generation_missing']})")


def band(ax, x, y, color, ls="-", label=None, alpha=0.15):
    """Median over rows and the IQR shaded (apical.style's band), where any row is finite."""
    y = np.where(np.isfinite(y), y, np.nan)
    ok = np.isfinite(y).any(axis=0)
    if not ok.any():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med, lo, hi = style.spread(y, axis=0)
    med[~ok] = np.nan
    ax.plot(x, med, color=color, ls=ls, lw=1.4, label=label)
    if y.shape[0] > 1:
        ax.fill_between(x, lo, hi, where=ok, color=color, alpha=alpha, lw=0)
    return True


def import_pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_mstdp: matplotlib is missing; on Debian: apt-get install "
                 "python3-matplotlib (and run with /usr/bin/python3)")
    return plt


def curves(d, gs, at, out, fmt=None):
    plt = import_pyplot()
    style.use()
    x = np.arange(1, d["done"] + 1) * (d["pres"] or 1)
    xlabel = "training presentations" if d["pres"] else "record"
    cmap = plt.get_cmap("tab10" if len(gs) <= 10 else "tab20" if len(gs) <= 20 else "viridis")
    colors = [cmap(i if len(gs) <= 20 else i / max(1, len(gs) - 1)) for i in range(len(gs))]
    alpha = 0.15 if len(gs) <= 4 else 0.07
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    panels = [(axes[0, 0], "test", "test accuracy"), (axes[0, 1], "train", "training accuracy")]
    for ax, what, title in panels:
        drawn = False
        for (name, idx), c in zip(gs, colors):
            n = (at[idx] > 0).sum()
            label = name + (f" ({n} of {len(idx)} diverged)" if n else "")
            for read, ls in (("clamped", "-"), ("free", "--")):
                y = d[f"{what}_acc_{read}"]
                if y is not None:
                    drawn |= band(ax, x, y[idx], c, ls, label if read == "clamped" else None, alpha)
            full = d.get(f"full_{what}_acc_clamped")
            if what == "test" and full is not None and np.isfinite(full[idx]).any():
                for read, mk in (("clamped", "o"), ("free", "x")):
                    y = d[f"full_test_acc_{read}"][idx]
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        med = np.nanmedian(y, axis=0)
                    ok = np.isfinite(med)
                    ax.plot(x[ok], med[ok], mk, color=c, ms=5, mfc="none" if mk == "o" else c)
        if not drawn:
            ax.text(0.5, 0.5, f"no {title} in this file", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xlim(x[0], x[-1] + (x[-1] == x[0]))
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(title)
        note = ("\nmarkers: whole test set (o clamped, x free)"
                if what == "test" and d["full_test_acc_clamped"] is not None
                and np.isfinite(d["full_test_acc_clamped"]).any() else "")
        ax.set_title(f"{title}: solid clamped read, dashed free read{note}", fontsize=9)
        ax.grid(alpha=0.3)
    for ax, k, title in ((axes[1, 0], "mean_abs_w", "mean |W|"), (axes[1, 1], "max_abs_s", "max |s|")):
        drawn = False
        for (name, idx), c in zip(gs, colors):
            if d[k] is not None:
                drawn |= band(ax, x, d[k][idx], c, "-", name, alpha)
            div = at[idx][at[idx] > 0]
            if k == "max_abs_s" and len(div):
                for a in div:  # where a replica of the reading froze
                    ax.axvline(a * (d["pres"] or 1), color=c, ls=":", lw=1.2)
                ax.plot([], [], ls=":", color=c, label=f"{name}: diverged")
        if drawn and k == "max_abs_s":
            ax.set_yscale("log")
            from matplotlib.ticker import FuncFormatter

            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(
                lambda v, _: f"{v:g}" if ax.get_ylim()[1] < 10 * ax.get_ylim()[0] else ""))  # < a decade
        if not drawn:
            ax.text(0.5, 0.5, f"no {k} in this file", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(title)
        ax.set_title(f"{title} at the record's end", fontsize=9)
        ax.grid(alpha=0.3, which="both" if k == "max_abs_s" else "major")
    for ax in axes.flat:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"MSTDP: {d['R']} replicas in {len(gs)} reading"
                 f"{'s' if len(gs) != 1 else ''}, {d['done']} of {d['E']} records; "
                 "median and IQR over seeds")
    fig.tight_layout()
    print(style.save(fig, out, fmt))


def generated(path, d, gs, out, replica, record, fmt=None):
    R = d["R"]
    if not 0 <= replica < R:
        sys.exit(f"plot_mstdp: --replica {replica}: the file has replicas 0 to {R - 1}")
    with h5py.File(path, "r") as f:
        if "series/generated" not in f:
            sys.exit(f"plot_mstdp: {path} has no series/generated (the run had gen_samples = 0)")
        ds = f["series/generated"]
        done = d["done"]
        if record is None:
            fin = [e for e in range(done) if np.isfinite(ds[replica, e]).any()]
            if not fin:
                sys.exit(f"plot_mstdp: replica {replica} generated nothing in the {done} records "
                         "done (gen_every beyond them, or it diverged first)")
            record = fin[-1] + 1
        elif not 1 <= record <= done:
            sys.exit(f"plot_mstdp: --record {record}: records 1 to {done} are done")
        g = ds[replica, record - 1].astype(float)
    if not np.isfinite(g).any():
        sys.exit(f"plot_mstdp: replica {replica} generated nothing in record {record} "
                 "(not a gen_every record, or it had diverged)")
    pixels = int(d["rep"]["pixels"][replica]) if "pixels" in d["rep"] else 784
    labels = int(d["rep"]["labels"][replica]) if "labels" in d["rep"] else 10
    side = int(round(np.sqrt(pixels)))
    if side * side != pixels or g.size % (labels * pixels):
        sys.exit(f"plot_mstdp: series/generated holds {g.size} values per record, not labels "
                 f"({labels}) x samples x pixels ({pixels}) of square images")
    samples = g.size // (labels * pixels)
    reading = next(name for name, idx in gs if replica in idx)
    seed = int(d["rep"]["seed"][replica])
    if "diverged_at" in d["rep"] and d["rep"]["diverged_at"][replica] > 0:
        reading += f" (diverged at record {int(d['rep']['diverged_at'][replica])})"
    pres = f" ({record * d['pres']} presentations)" if d["pres"] else ""
    ga = d.get("generation_accuracy")
    if ga is not None and np.isfinite(ga[replica, record - 1]):
        pres += f", generation accuracy {ga[replica, record - 1]:.2f}"
    plt = import_pyplot()
    style.use()
    fig = generated_figure(plt, g.reshape(labels, samples, side, side),
                           title=f"replica {replica}, seed {seed}, after record {record}{pres}; "
                                 f"{reading}")
    print(style.save(fig, out, fmt))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="results.h5 of a run of model = mstdp")
    ap.add_argument("-o", "--out", help="figure to write (default: next to the results file)")
    ap.add_argument("--table", action="store_true", help="also print a Markdown table")
    ap.add_argument("--generated", action="store_true",
                    help="plot the generated digits instead of the learning curves")
    ap.add_argument("--replica", type=int, default=0, help="--generated: the replica (default 0)")
    ap.add_argument("--record", type=int, help="--generated: the record, 1-based (default: "
                    "the last one that generated)")
    style.add_format_argument(ap)
    args = ap.parse_args()
    if not os.path.exists(args.results):
        sys.exit(f"plot_mstdp: {args.results}: no such file")
    d = load(args.results, need_series=not args.generated or args.table)
    gs = readings(d)
    where = os.path.dirname(args.results) or "."
    if args.table:
        table(d, gs, diverged(d))
    if args.generated:
        generated(args.results, d, gs, args.out or os.path.join(where, "mstdp_generated.png"),
                  args.replica, args.record, args.format)
    else:
        curves(d, gs, diverged(d), args.out or os.path.join(where, "mstdp_curves.png"),
               args.format)


if __name__ == "__main__":
    main()
