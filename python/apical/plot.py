"""Plots of a sweep: a series against a swept key, and learning curves, each grouped by any
parameter, with the median and a band over the replicas that share a point (the seeds,
and any key not named).

Colours, readable labels and the band (the interquartile range) come from apical.style;
style.use() sets the rest of the look (sizes, spines) for a whole figure.

`results` is an apical.Results, an xarray Dataset from apical.load (also after sel/isel)
or a path. matplotlib is imported on first use, with the Agg backend where there is no
display (and no backend chosen).
"""

import os
import sys

import numpy as np

from . import style
from .results import Results, load


def _pyplot():
    import matplotlib

    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    chosen = "MPLBACKEND" in os.environ or "matplotlib.pyplot" in sys.modules or \
        "ipykernel" in sys.modules
    if headless and not chosen:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def as_results(results):
    """an apical.Results from a Results, a Dataset of apical.load, or a path"""
    if isinstance(results, Results):
        return results
    if isinstance(results, (str, os.PathLike)):
        return load(results, xarray=False)
    if hasattr(results, "data_vars") and hasattr(results, "attrs"):
        return Results.from_xarray(results)
    raise TypeError(f"expected apical results, an xarray Dataset or a path, not "
                    f"{type(results).__name__}")


def _groups(r, key, order=None):
    """[(value, mask)] for each value of the key (in sweep order, or the given order);
    [(None, all)] for None"""
    if key is None:
        return [(None, np.ones(r.n_replicas, dtype=bool))]
    values = r.values(key) if order is None else list(order)
    return [(v, r.where({key: list(v) if isinstance(v, tuple) else v})) for v in values]


def _scalar(a, what):
    if a.ndim != 1:
        raise ValueError(f"{what} has {a.ndim - 1} more dimension(s) per replica: pass an "
                         "array [R] (versus) or [R][E] (curves) that picks one, e.g. "
                         "r.series['apical_error'][:, :, 0]")
    return a


def _label(key, value, labels):
    if labels and value in labels:
        return labels[value]
    return None if key is None else style.label(key, value)


def _color(value, g, colors):
    """a group's colour: the given dict, else the style's colour for the value, else the
    cycle's g-th"""
    if colors and value in colors:
        return colors[value]
    return style.color(value, f"C{g}") if isinstance(value, str) else f"C{g}"


def _spread(values, band):
    v = values[np.isfinite(values)]
    if not len(v):
        return None
    lo, hi = np.percentile(v, band) if band else (np.nan, np.nan)
    return np.median(v), lo, hi


def versus(results, series="val_acc", x="t_pres", hue=None, at="last", ax=None, *,
           order=None, band=style.BAND, points=False, colors=None, labels=None, logx=None,
           **line_kw):
    """A series' value at one record against a parameter x: for each value of x, the
    median (a line with markers) and the band's percentiles (shaded; band=None: none)
    over the replicas that share it, one line per value of `hue` (None: one line).

    series  a series name, or (with a Results) an array [R] of one value per replica
    at      "last": each series' last finished record with a value; or a record number
    order   the hue values to draw, in this order (default: every one, in sweep order)
    points  also draw every replica's value as a dot
    colors, labels  dicts from a hue value to a colour and a legend label
    logx    a log x axis (None: when x is positive and spans two decades or more)
    line_kw passed to ax.plot. Returns the axes."""
    r = as_results(results)
    if isinstance(series, str):
        rec = r.last_record(series) if at == "last" else int(at)
        vals = r.at(series, rec)
        name = f"{style.label(series)} after {r.record} {rec}"
    else:
        vals, name = np.asarray(series), "value"
        if vals.shape[:1] != (r.n_replicas,):
            raise ValueError(f"an array of shape {vals.shape} is not one value per replica")
    vals = _scalar(np.asarray(vals, dtype=float), name)
    xs = _scalar(r._param(x), f"parameter {x}")
    xvals = r.values(x)
    numeric = xs.dtype.kind in "iufb"
    if numeric:
        xvals = sorted(xvals)
        pos = {v: float(v) for v in xvals}
    else:
        pos = {v: float(i) for i, v in enumerate(xvals)}
    if logx is None:
        p = np.array(list(pos.values()))
        logx = numeric and len(p) > 1 and p.min() > 0 and p.max() / p.min() >= 100
    plt = _pyplot()
    if ax is None:
        ax = plt.subplots()[1]
    groups = _groups(r, hue, order)
    for g, (hv, hmask) in enumerate(groups):
        px, med, lo, hi = [], [], [], []
        for xv in xvals:
            sel = hmask & (xs == xv)
            s = _spread(vals[sel], band)
            if s is None:
                continue
            px.append(pos[xv])
            med.append(s[0])
            lo.append(s[1])
            hi.append(s[2])
            if points:
                v = vals[sel][np.isfinite(vals[sel])]
                shift = (g - (len(groups) - 1) / 2) * 0.04
                spread = np.linspace(-0.06, 0.06, len(v)) + shift
                jx = pos[xv] * np.exp(spread) if logx else pos[xv] + spread * 0.5
                ax.scatter(jx, v, s=8, alpha=0.35, lw=0, color=_color(hv, g, colors))
        if not px:
            continue
        kw = dict(marker="o", label=_label(hue, hv, labels), color=_color(hv, g, colors))
        kw.update(line_kw)
        line, = ax.plot(px, med, **kw)
        if band:
            ax.fill_between(px, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    if logx:
        ax.set_xscale("log")
        if len(xvals) <= 10:  # the swept values as plain numbers, not powers of ten
            ax.set_xticks([pos[v] for v in xvals], [f"{v:g}" for v in xvals])
            ax.minorticks_off()
    if not numeric:
        ax.set_xticks(list(pos.values()))
        ax.set_xticklabels([str(v) for v in xvals])
    ax.set_xlabel(style.label(x))
    ax.set_ylabel(name)
    if hue is not None or labels:
        ax.legend(title=style.label(hue) if hue and not labels else None)
    return ax


def curves(results, series="val_acc", by="variant", ax=None, *, order=None, band=style.BAND,
           each=None, colors=None, labels=None, **line_kw):
    """Learning curves: for each value of `by` (None: all replicas together), the median of
    the series over its replicas at every finished record (shaded: the band's percentiles;
    band=None: none). Records where no replica has a value (a test phase every N records)
    are left out.

    series  a series name, or (with a Results) an array [R][E]
    order   the values of `by` to draw, in this order (default: every one, in sweep order)
    each    also draw every replica's curve: True, or a dict of ax.plot keywords for them
    colors, labels  dicts from a group's value to a colour and a legend label
    line_kw passed to ax.plot for the medians. Returns the axes."""
    r = as_results(results)
    arr = r._series(series)
    if arr.ndim != 2:
        _scalar(arr[:, 0], series if isinstance(series, str) else "the array")
    arr = np.asarray(arr, dtype=float)
    done = r.records <= r.epochs_done
    recs = r.records[done]
    plt = _pyplot()
    if ax is None:
        ax = plt.subplots()[1]
    for g, (value, mask) in enumerate(_groups(r, by, order)):
        a = arr[mask][:, done]
        keep = np.isfinite(a).any(axis=0)
        if not keep.any():
            continue
        a, x = a[:, keep], recs[keep]
        color = line_kw["color"] if "color" in line_kw and not (colors and value in colors) \
            else _color(value, g, colors)
        if each:
            ekw = dict(color=color, alpha=0.3, lw=0.8)
            ekw.update(each if isinstance(each, dict) else {})
            for row in a:
                ax.plot(x, row, **ekw)
        kw = dict(color=color, label=_label(by, value, labels))
        if len(x) < 4:  # a series measured in few records (a test every N) shows as points
            kw.update(marker="o", ms=4)
        kw.update({k: v for k, v in line_kw.items() if k != "color"})
        med = np.nanmedian(a, axis=0)
        line, = ax.plot(x, med, **kw)
        if band:
            lo, hi = np.nanpercentile(a, band, axis=0)
            if len(x) < 4:
                ax.vlines(x, lo, hi, color=line.get_color(), alpha=0.5, lw=1.5)
            else:
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel(style.label(r.record))
    ax.set_ylabel(style.label(series) if isinstance(series, str) else "value")
    if by is not None or labels:
        ax.legend(title=style.label(by) if by and not labels else None)
    return ax
