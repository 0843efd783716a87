"""A run's report: one self-contained HTML page (figures embedded as PNG, no network).

    apical report runs/NAME            # the program hands this to Python (host/main.c)
    python -m apical report runs/NAME [-o page.html]
    apical-report runs/NAME            # the same, installed with the package

What it shows, for any run: the state (finished, or still going: records done of the
total), the learning curves of the model's headline series grouped by each swept key, the
headline after the last finished record against each swept key, per model what its study
looks at (the microcircuit's rate against Poisson-spiking neurons, lif_stdp's Conn curves,
population rates and a spike raster, MSTDP's generated digits), the timing (the log's
table and last lines, each cohort's replica-steps per second) and the configuration.

It reads only what the run has finished: results.h5 is rewritten whole and renamed into
place at each checkpoint (docs/file-format.md), so a run that is still going (its
directory holds .lock) gives the records done so far; run the report again to update.
Needs numpy, h5py and matplotlib.
"""

import base64
import html
import io
import os
import sys
import time

import numpy as np

from . import style
from .results import POPULATIONS, load, parse_ini, results_path

# the series a model's study is about, most important first (the first is the headline)
HEADLINE = {
    "microcircuit": ("val_acc", "test_acc", "val_mse"),
    "mstdp": ("test_acc_clamped", "test_acc_free", "full_test_acc_clamped", "energy"),
    "lif_stdp": ("conn_pa", "conn_npa", "spikes"),
}
# the keys that are the replicas of a point (the band is over them), not a grouping
REPLICATE_KEYS = ("seed",)
MAX_GROUPS = 8  # a swept key with more values is drawn against, not grouped by


class Page:
    """the HTML page being written: sections of text and figures"""

    def __init__(self, title):
        self.title = title
        self.parts = []
        self.figures = 0
        self.failed = []

    def h2(self, text, anchor):
        self.parts.append(f'<h2 id="{anchor}">{html.escape(text)}</h2>')

    def p(self, text, cls=None):
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f"<p{c}>{text}</p>")

    def pre(self, text):
        self.parts.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, head, rows):
        out = ["<table><thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
               + "</tr></thead><tbody>"]
        for row in rows:
            out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
        out.append("</tbody></table>")
        self.parts.append("".join(out))

    def figure(self, draw, caption, alt):
        """draw(plt) -> fig; embedded as a PNG; a figure that fails is named on the page
        (class figure-error) instead of stopping the report"""
        import matplotlib.pyplot as plt

        try:
            fig = draw(plt)
            if fig is None:
                return
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
            plt.close(fig)
        except Exception as e:  # one bad panel must not cost the rest of the page
            plt.close("all")
            self.failed.append(f"{alt}: {type(e).__name__}: {e}")
            self.p(f"could not draw {html.escape(alt)}: {html.escape(type(e).__name__)}: "
                   f"{html.escape(str(e))}", cls="figure-error")
            return
        data = base64.b64encode(buf.getvalue()).decode()
        self.figures += 1
        self.parts.append(f'<figure><img src="data:image/png;base64,{data}" '
                          f'alt="{html.escape(alt)}"><figcaption>{caption}</figcaption></figure>')

    def row(self, start=True):
        """figures between row() and row(False) sit side by side where the page is wide"""
        self.parts.append('<div class="row">' if start else "</div>")

    def html(self, toc):
        nav = " · ".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in toc)
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head><body>"
                f"<h1>{html.escape(self.title)}</h1><nav>{nav}</nav>"
                + "\n".join(self.parts) + "</body></html>\n")


CSS = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
nav { color: #666; margin-bottom: 1em; } nav a { color: #0072B2; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; }
.row { display: flex; flex-wrap: wrap; gap: 0 1.5em; } .row figure { flex: 1 1 440px; max-width: 540px; }
figcaption { color: #555; font-size: .9em; }
table { border-collapse: collapse; font-size: .9em; margin: .5em 0; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .82em; }
.running { background: #fff4d6; padding: .5em; border-left: 4px solid #E69F00; }
.figure-error { color: #a00; }
"""


def _config(r):
    return {(s, k): v for s, kv in parse_ini(r.experiment) for k, v in kv}


def _groupable(r):
    """the swept axes a figure groups by (not the seeds; not a key with many values)"""
    return [k for k, v in r.axes.items() if k not in REPLICATE_KEYS and len(v) <= MAX_GROUPS]


def _headline(r):
    have = [s for s in HEADLINE.get(r.model, ()) if s in r.series]
    have = [s for s in have if np.isfinite(r.series[s][:, :r.epochs_done]).any()]
    if not have:  # a model without a table entry: every scalar series with a value
        have = [s for s, a in r.series.items() if a.ndim == 2 and s != "diverged"
                and np.isfinite(a[:, :r.epochs_done]).any()]
    return have


def _legend_below(ax, title=None, n=None):
    """the legend under the axes, off the data"""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    n = n or len(labels)
    ax.legend(handles, labels, title=title, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=min(n, 3))


def _order(r, key):
    """a key's values in the order a reader expects: numbers ascending, names in sweep order"""
    vals = r.values(key)
    return sorted(vals) if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in vals) else vals


def _fig(plt, n=1, w=4.6, h=3.3):
    fig, axes = plt.subplots(1, n, figsize=(w * n, h), squeeze=False)
    return fig, list(axes[0])


def _lock_holder(run_dir):
    """(whether .lock is there, the pid it names or None, whether that process is alive here)"""
    lock = os.path.join(run_dir, ".lock")
    try:
        with open(lock) as f:
            text = f.read(32).strip()
    except FileNotFoundError:
        return False, None, False
    except OSError:
        return True, None, True
    if not text.isdigit():
        return True, None, True  # being written: take it as live
    pid = int(text)
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    except PermissionError:
        alive = True
    return True, pid, alive


def _status(r, run_dir):
    locked, pid, alive = _lock_holder(run_dir)
    running = locked and alive
    done, total = r.epochs_done, r.epochs
    if locked and not alive:
        return False, (f"<strong>not running here</strong>: its .lock names process {pid}, "
                       f"which does not run on this machine (a run that was killed, or one on "
                       f"another node); {done} of {total} {r.record}s done")
    if running:
        return True, (f"<strong>running</strong>: {done} of {total} {r.record}s done when "
                      f"results.h5 was last written ({html.escape(str(r.attrs.get('written', '')))}"
                      f"); this page shows those; run <code>apical report</code> again to update")
    if done < total:
        return False, (f"<strong>stopped</strong> after {done} of {total} {r.record}s "
                       f"(resume it with <code>apical run FILE --resume</code>)")
    return False, f"finished: {done} {r.record}s"


def _log_tail(run_dir):
    """the latest invocation's table and its last progress lines, from log.txt"""
    path = os.path.join(run_dir, "log.txt")
    if not os.path.exists(path):
        return None
    with open(path, errors="replace") as f:
        text = f.read()
    last = text.rsplit("\n=== ", 1)[-1]
    lines = last.splitlines()
    table = [ln for ln in lines if ln.startswith(("+", "|"))]
    rest = [ln for ln in lines if ln.startswith("[")]
    return "\n".join(table + rest[-8:])


def _cohorts(path):
    import h5py

    with h5py.File(path, "r") as f:
        if "cohorts" not in f:
            return None
        return {k: f[f"cohorts/{k}"][...] for k in ("replicas", "busy_s", "replica_steps")
                if f"cohorts/{k}" in f}


def _time_axis(r):
    """lif_stdp: the records' end in s; others: the record numbers"""
    ms = _config(r).get(("train", "record_ms"))
    if r.model == "lif_stdp" and ms:
        return r.records * float(ms) / 1000.0, "time (s)"
    return r.records, style.label(r.record)


# --- the sections ---------------------------------------------------------------------

def curves_section(page, r):
    from matplotlib.ticker import MaxNLocator

    from . import plot

    series = _headline(r)[:2]
    if not series:
        page.p("No series has a value in a finished record yet.")
        return
    keys = _groupable(r) or [None]
    for s in series:
        page.p(f"<strong>{html.escape(style.label(s))}</strong> over the finished {r.record}s: "
               f"the median over the replicas of each group (the seeds and any key not "
               f"named), the IQR shaded.")
        page.row()
        for k in keys:
            def draw(plt, s=s, k=k):
                fig, (ax,) = _fig(plt, 1, 4.6, 3.4)
                plot.curves(r, s, by=k, ax=ax, order=_order(r, k) if k else None)
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                if r.model == "lif_stdp":
                    ms = _config(r).get(("train", "record_ms"), "?")
                    ax.set_xlabel(f"{r.record} ({ms} ms each)")
                ax.set_title(f"by {style.label(k)}" if k else "all replicas")
                if k:
                    _legend_below(ax)
                fig.tight_layout()
                return fig
            page.figure(draw, f"grouped by {html.escape(style.label(k))}" if k else
                        "all replicas", f"learning curves of {s} by {k}")
        page.row(False)


def versus_section(page, r):
    from . import plot

    series = _headline(r)[:1]
    xs = [k for k in r.axes if k not in REPLICATE_KEYS]
    if not series or not xs:
        page.p("No swept key besides the seed: nothing to draw against.")
        return
    s = series[0]
    page.p(f"<strong>{html.escape(style.label(s))}</strong> after the last finished {r.record} "
           f"against each swept key: median and IQR over the replicas that share a point, "
           f"each replica a dot.")
    page.row()
    for x in xs:
        hue = next((k for k in _groupable(r) if k != x), None)

        def draw(plt, x=x, hue=hue):
            fig, (ax,) = _fig(plt, 1, 4.6, 3.6)
            plot.versus(r, s, x=x, hue=hue, ax=ax, points=True,
                        order=_order(r, hue) if hue else None)
            if hue is not None:
                _legend_below(ax, title=style.label(hue))
            fig.tight_layout()
            return fig
        page.figure(draw, f"against {html.escape(style.label(x))}"
                    + (f", one line per {html.escape(style.label(hue))}" if hue else ""),
                    f"{s} against {x}")
    page.row(False)


def rate_spiking_section(page, r):
    """the microcircuit with rate and Poisson-spiking neurons side by side"""
    if "neuron" not in r.params or len(r.values("neuron")) < 2 or "t_pres" not in r.params:
        return False
    s = "val_acc"
    rec = r.last_record(s)
    acc = r.at(s, rec)
    t = r.params["t_pres"]
    spiking = r.params["neuron"] == "poisson"
    other = [k for k in ("tau_dend", "tau_s", "t_ref") if k in r.params and
             len(np.unique(r.params[k][spiking])) > 1]
    panels = [()] if not other else sorted({tuple(r.params[k][i] for k in other)
                                            for i in np.nonzero(spiking)[0]})
    psis = sorted(np.unique(r.params["psi"][spiking])) if "psi" in r.params else []

    def draw(plt):
        import matplotlib as mpl

        fig, axes = _fig(plt, len(panels), 4.6, 3.6)
        cmap = mpl.colormaps["viridis"]
        for ax, pv in zip(axes, panels):
            def line(mask, **kw):
                ts = sorted(np.unique(t[mask]))
                vals = [acc[mask & (t == x)] for x in ts]
                med = [np.nanmedian(v) for v in vals]
                lo = [np.nanpercentile(v, style.BAND[0]) for v in vals]
                hi = [np.nanpercentile(v, style.BAND[1]) for v in vals]
                ln, = ax.plot(ts, med, marker="o", **kw)
                ax.fill_between(ts, lo, hi, color=ln.get_color(), alpha=0.15, lw=0)
            line(r.params["neuron"] == "rate", color=style.color("rate"), lw=2.2, label="rate")
            for i, p in enumerate(psis):
                m = spiking & (r.params["psi"] == p)
                for k, v in zip(other, pv):
                    m &= r.params[k] == v
                if m.any():
                    line(m, color=cmap(0.1 + 0.65 * i / max(1, len(psis) - 1)), lw=1.2,
                         label=f"spiking, ψ = {p:g}")
            ax.set_xscale("log")
            ax.set_xticks(sorted(np.unique(t)), [f"{v:g}" for v in sorted(np.unique(t))])
            ax.minorticks_off()
            ax.set_ylim(0, 1.05)
            ax.set_xlabel(style.label("t_pres"))
            ax.set_ylabel(f"{style.label(s)} after {r.record} {rec}")
            ax.set_title(", ".join(f"{style.label(k)} = {v:g}" for k, v in zip(other, pv))
                         or "rate and spiking")
        axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
        fig.tight_layout()
        return fig
    page.figure(draw, "Rate against Poisson-spiking neurons: validation accuracy against the "
                "presentation time, median and IQR over seeds; the rate model in black, each "
                "spike rate scale ψ a colour (one panel per setting of the other spiking keys).",
                "rate against spiking")
    return True


def conn_section(page, r):
    t, _ = _time_axis(r)
    keys = _groupable(r)
    groups = [((), np.ones(r.n_replicas, bool))]
    if keys:
        combos = sorted({tuple(r.params[k][i] for k in keys) for i in range(r.n_replicas)},
                        key=str)
        groups = [(c, np.all([r.params[k] == v for k, v in zip(keys, c)], axis=0))
                  for c in combos]

    def draw(plt):
        fig, axes = _fig(plt, len(groups), 4.2, 3.3)
        for ax, (combo, mask) in zip(axes, groups):
            for s, who in (("conn_pa", "PA"), ("conn_npa", "NPA")):
                done = r.epochs_done
                style.band(ax, t[:done], r.series[s][mask][:, :done], color=style.color(who),
                           label=f"{who} → HA")
            ax.set_xlabel("time (s)")
            ax.set_title(", ".join(f"{style.label(k)} {v}" for k, v in zip(keys, combo))
                         or "all replicas")
        axes[0].set_ylabel("mean bottom-up weight (pA)")
        axes[0].legend(loc="best")
        fig.tight_layout()
        return fig
    page.figure(draw, "Conn: the mean weight of the plastic bottom-up synapses from the "
                "stimulated (PA) and unstimulated (NPA) assembly's L2/3 Pyr cells to HA L4, "
                "median and IQR over seeds.", "Conn curves")

    def rates(plt):
        fig, (ax,) = _fig(plt, 1, 9.5, 3.2)
        x = np.arange(len(POPULATIONS))
        width = 0.8 / len(groups)
        for g, (combo, mask) in enumerate(groups):
            mean = np.nanmean(r.series["rates"][mask][:, :r.epochs_done], axis=1)  # [seeds][12]
            med, lo, hi = style.spread(mean, axis=0)
            ax.bar(x + (g - (len(groups) - 1) / 2) * width, med, width,
                   yerr=[med - lo, hi - med], capsize=2, color=f"C{g}",
                   label=", ".join(f"{style.label(k)} {v}" for k, v in zip(keys, combo)) or None)
        ax.set_xticks(x, POPULATIONS, rotation=30, ha="right")
        ax.set_ylabel("mean rate (Hz)")
        if keys:
            ax.legend()
        fig.tight_layout()
        return fig
    if "rates" in r.series:
        page.figure(rates, "Each population's mean rate over the finished records, median "
                    "over seeds, the IQR as error bars.", "population rates")


def raster_section(page, r, replica=0):
    if r._events is None or "raster" not in r._events[1]:
        page.p("No spike raster in the file ([train] raster_ms = 0).")
        return
    ev = r.events("raster", replica)
    if not len(ev):
        page.p(f"Replica {replica} has no spikes in its raster window yet.")
        return
    dt = float(r.params["dt"][replica])
    n_pyr, n_pv = int(r.params["n_pyr"][replica]), int(r.params["n_pv"][replica])
    sizes = [n_pv if p % 2 else n_pyr for p in range(12)]
    first = np.concatenate([[0], np.cumsum(sizes)])
    neuron, t_ms = ev[:, 0].astype(np.int64), ev[:, 1] * dt

    def draw(plt):
        fig, (ax,) = _fig(plt, 1, 9.5, 4.6)
        pop = np.searchsorted(first, neuron, side="right") - 1
        for kind, sel in (("Pyr", pop % 2 == 0), ("PV", pop % 2 == 1)):
            ax.scatter(t_ms[sel], neuron[sel], s=0.6, lw=0, color=style.color(kind),
                       rasterized=True, label=kind)
        for b in first[1:-1]:
            ax.axhline(b, color="0.85", lw=0.5)
        ax.set_yticks((first[:-1] + first[1:]) / 2, POPULATIONS)
        ax.set_ylim(first[-1], 0)
        ax.set_xlabel("time (ms)")
        lo = float(_config(r).get(("train", "raster_from_ms"), 0) or 0)
        ax.set_xlim(lo, max(lo + dt, float(t_ms.max()) + dt))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=8)
        fig.tight_layout()
        return fig
    seed = r.params["seed"][replica] if "seed" in r.params else "?"
    page.figure(draw, f"Spikes of replica {replica} (seed {seed}) in the raster window: "
                "Pyr cells orange-red, PV cells blue, populations in neuron order.",
                "spike raster")


def generation_accuracy_text(r):
    """One sentence on mstdp's generation accuracy (apical.results.add_generation_accuracy):
    the median [min, max] over replicas in each record that generated, or why it is absent."""
    if "generation_accuracy" not in r.series:
        why = r.missing.get("generation_accuracy")
        return f"Generation accuracy: not measured ({why})." if why else None
    a = r.series["generation_accuracy"][:, :r.epochs_done]
    recs = np.nonzero(np.isfinite(a).any(axis=0))[0]
    if not len(recs):
        return None
    labels = r._constant("labels")
    parts = []
    for e in recs[-8:]:
        col = a[np.isfinite(a[:, e]), e]
        spread = f" [{col.min():.2f}, {col.max():.2f}]" if len(col) > 1 else ""
        parts.append(f"{r.record} {e + 1}: {np.median(col):.2f}{spread}")
    chance = f"{1 / labels:.2f}" if labels else "1/labels"
    over = ", median [min, max] over replicas" if r.n_replicas > 1 else ""
    return ("Generation accuracy, the share of generated images that a logistic-regression "
            "classifier (apical.classifier, trained on the run's training images) assigns to "
            f"the clamped label (chance {chance}){over}: " + "; ".join(parts) + ".")


def generated_section(page, r, replica=0):
    if "generated" not in r.series:
        return
    text = generation_accuracy_text(r)
    if text:
        page.p(html.escape(text))
    g = r.series["generated"][replica, :r.epochs_done]
    fin = np.nonzero(np.isfinite(g).any(axis=1))[0]
    if not len(fin):
        page.p(f"Replica {replica} has generated nothing in the finished records "
               "([train] gen_every).")
        return
    rec = int(fin[-1]) + 1
    labels, pixels = int(r.params["labels"][replica]), int(r.params["pixels"][replica])
    samples = g.shape[1] // (labels * pixels)
    side = int(round(pixels ** 0.5))
    if side * side != pixels or labels * samples * pixels != g.shape[1]:
        page.p("The generated images are not square: not drawn.")
        return
    img = g[rec - 1].astype(float).reshape(labels, samples, side, side)

    def draw(plt):
        return generated_figure(plt, img)
    page.figure(draw, f"Images generated by replica {replica} after {r.record} {rec}, one row "
                f"per label, one column per sample; grey levels span the states' range "
                f"(the colour bar).", "generated digits")


def generated_figure(plt, states, title=None):
    """[labels][samples][side][side] pixel states as one mosaic: grey levels stretched over
    the states' own range (the colour bar says which), 1-pixel dark gaps between images.
    Shared by apical report and tools/plot_mstdp.py --generated."""
    import textwrap

    labels, samples, side, _ = states.shape
    up = max(1, 28 // side)  # small images (Bars: 3x3) as large as MNIST's
    img = states.repeat(up, axis=2).repeat(up, axis=3)
    side *= up
    gap = 1
    H, W = labels * (side + gap) - gap, samples * (side + gap) - gap
    mosaic = np.full((H, W), np.nan)
    for i in range(labels):
        for j in range(samples):
            y0, x0 = i * (side + gap), j * (side + gap)
            mosaic[y0:y0 + side, x0:x0 + side] = img[i, j]
    finite = states[np.isfinite(states)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    cell = 0.6 if samples <= 12 else max(0.25, 7 / samples)
    width = max(3.2, 1.5 + cell * samples)
    fig, ax = plt.subplots(figsize=(width, 0.9 + cell * labels + (0.35 if title else 0)))
    cmap = plt.get_cmap("gray").copy()
    cmap.set_bad("0.3")  # the gaps
    im = ax.imshow(mosaic, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_yticks([i * (side + gap) + (side - 1) / 2 for i in range(labels)],
                  [str(i) for i in range(labels)])
    step = max(1, samples // 12)
    ax.set_xticks([j * (side + gap) + (side - 1) / 2 for j in range(0, samples, step)],
                  [str(j + 1) for j in range(0, samples, step)])
    ax.set_ylabel("label")
    ax.set_xlabel("sample")
    ax.tick_params(length=0)
    for sp in ax.spines.values():
        sp.set_visible(False)
    bar = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.03, shrink=0.6)
    bar.set_label("pixel state s")
    bar.ax.tick_params(labelsize=7)
    if title:
        ax.set_title("\n".join(textwrap.wrap(title, max(20, int(width * 11)))), fontsize=8)
    fig.tight_layout()
    return fig


def timing_section(page, r, run_dir, path):
    tail = _log_tail(run_dir)
    co = _cohorts(path)
    if co and "busy_s" in co and np.isfinite(co["busy_s"]).any():
        busy = co["busy_s"]
        steps = co.get("replica_steps", np.full_like(busy, np.nan))
        rows = []
        for c in range(len(busy)):
            mine = np.nonzero(r.params["cohort"] == c)[0] if "cohort" in r.params else []
            what = ", ".join(f"{k} {r.params[k][mine[0]]}" for k in r.axes
                             if k not in REPLICATE_KEYS and len(mine)
                             and len(np.unique(r.params[k][mine])) == 1)
            rate = steps[c] / busy[c] if busy[c] > 0 else float("nan")
            rows.append((c, int(co["replicas"][c]) if "replicas" in co else "", what or "-",
                         f"{busy[c]:.3g}", f"{steps[c]:.3g}", f"{rate:.3g}"))
        page.p(f"Backend work in the run's latest process: {np.nansum(busy):.3g} thread-seconds "
               f"(CPU). Per-cohort replica-steps per second depend on how a cohort fills the SIMD "
               f"lanes (its replica count), so compare cohorts of the same size.")
        page.table(("cohort", "replicas", "holds", "busy (thread-s)", "replica-steps",
                    "replica-steps / s"), rows)
    else:
        page.p("No per-cohort time in the file (the CUDA backend does not measure it).")
    if tail:
        page.p("The latest invocation's table and last lines of <code>log.txt</code>:")
        page.pre(tail)


def config_section(page, r):
    rows = [(k, ", ".join(style.label(k, v) if isinstance(v, str) else str(v) for v in vals),
             r.units.get(k, "")) for k, vals in r.axes.items()]
    rows += [(k, "depends on " + ", ".join(d), r.units.get(k, "")) for k, d in r.depends.items()]
    if rows:
        page.table(("swept key", "values", "unit"), rows)
    page.p(f"{r.n_replicas} replicas; attributes: model {html.escape(r.model)}, backend "
           f"{html.escape(str(r.attrs.get('backend', '?')))}, "
           f"{html.escape(str(r.attrs.get('apical_version', '')))} "
           f"({html.escape(str(r.attrs.get('git_revision', '')))}); command "
           f"<code>{html.escape(str(r.attrs.get('command', '')))}</code>.")
    page.p("The effective configuration (every key; the sweep as given):")
    page.pre(r.experiment)


def build(run, out=None):
    """write the report of a run directory (or its results.h5) and return the page's path"""
    import matplotlib

    matplotlib.use("Agg")
    style.use()
    path = results_path(run)
    run_dir = os.path.dirname(os.path.abspath(path))
    r = load(path, xarray=False)
    name = os.path.basename(run_dir)
    cfg = _config(r)
    title = f"apical report: {name}"
    page = Page(title)
    running, status = _status(r, run_dir)
    page.p(f"{html.escape(cfg.get(('experiment', 'name'), name))}: model "
           f"<strong>{html.escape(r.model)}</strong>"
           + (f" on {html.escape(str(r.attrs.get('dataset')))}" if r.attrs.get("dataset") else "")
           + f", {r.n_replicas} replicas; " + status + ". Written "
           + html.escape(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())) + ".",
           cls="running" if running else None)
    toc = []

    def section(title, anchor):
        toc.append((anchor, title))
        page.h2(title, anchor)

    if r.epochs_done < 1:
        page.p("No record is finished yet: nothing to draw. Run the report again later.")
    else:
        section("Learning curves", "curves")
        curves_section(page, r)
        section("Against each swept key", "versus")
        versus_section(page, r)
        if r.model == "microcircuit" and "neuron" in r.params and len(r.values("neuron")) > 1:
            section("Rate against spiking neurons", "spiking")
            rate_spiking_section(page, r)
        if r.model == "lif_stdp":
            section("Conn and population rates", "conn")
            conn_section(page, r)
            section("Spike raster", "raster")
            raster_section(page, r)
        if r.model == "mstdp" and "generated" in r.series:
            section("Generated digits", "generated")
            generated_section(page, r)
    section("Timing", "timing")
    timing_section(page, r, run_dir, path)
    section("Configuration", "config")
    config_section(page, r)
    out = out or os.path.join(run_dir, "report.html")
    tmp = f"{out}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page.html(toc))
    os.replace(tmp, out)
    return out, page


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(
        prog="apical report",
        description="Write a run's report: one self-contained HTML page (figures embedded, "
                    "no network), readable while the run is still going.")
    ap.add_argument("run", help="a run directory (runs/NAME) or its results.h5")
    ap.add_argument("-o", "--out", help="the page to write (default: RUN/report.html)")
    args = ap.parse_args(argv)
    try:
        import h5py  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError as e:
        print(f"apical report: {e.name} is missing: pip install 'apical[plot]' (from a clone: "
              f"pip install '.[plot]'), or on Debian apt-get install python3-h5py "
              f"python3-matplotlib", file=sys.stderr)
        return 69
    try:
        out, page = build(args.run, args.out)
    except FileNotFoundError as e:
        print(f"apical report: {e}", file=sys.stderr)
        return 66
    except (OSError, ValueError) as e:
        print(f"apical report: {e}", file=sys.stderr)
        return 65
    for what in page.failed:
        print(f"apical report: could not draw {what}", file=sys.stderr)
    print(f"apical report: wrote {out} ({page.figures} figures)")
    return 0


def cli():
    """the apical-report entry point"""
    sys.exit(main())


if __name__ == "__main__":
    cli()
