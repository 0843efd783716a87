"""One look for every figure of apical: apical.plot, apical.report and the tools/ scripts.

    from apical import style
    style.use()                                   # rcParams (sizes, spines, fonts)
    med, lo, hi = style.spread(a, axis=0)         # median and the band (the IQR) over replicas
    ax.set_xlabel(style.label("t_pres"))          # readable names for keys and series
    style.save(fig, "fig.png")                    # png, pdf or svg by the name (or fmt=)

One band convention everywhere: the median over the replicas that share a point (the
seeds) as the line, the interquartile range (25th to 75th percentile) shaded. Min-max
ranges overstate the spread as seeds are added and hide the typical run; the IQR does
not. Colours: each variant, neuron model and assembly keeps its colour in every figure
(colour-blind safe, from Okabe and Ito's palette).
"""

import os

import numpy as np

# the band: percentiles of the replicas that share a point (the interquartile range)
BAND = (25, 75)
BAND_NAME = "median, IQR"

# Okabe-Ito: distinguishable with every common colour-vision deficiency
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000")
COLORS = {
    # microcircuit variants and neuron models
    "le": "#0072B2", "original": "#E69F00",
    "rate": "#000000", "poisson": "#D55E00",
    # lif_stdp: the stimulated and the unstimulated assembly; cell types in rasters
    "PA": "#0072B2", "NPA": "#E69F00", "HA": "#009E73",
    "Pyr": "#D55E00", "PV": "#0072B2",
    # a reference (chance level, NEST)
    "reference": "0.45",
}

# readable names: what a reader of a paper sees instead of the key
LABELS = {
    "val_acc": "validation accuracy", "train_acc": "training accuracy",
    "test_acc": "test accuracy", "val_mse": "validation MSE", "test_mse": "test MSE",
    "t_pres": "presentation time t_pres (steps of dt)", "variant": "variant",
    "le": "latent equilibrium", "original": "original",
    "neuron": "neuron model", "rate": "rate", "poisson": "Poisson spiking",
    "psi": "spike rate scale ψ", "tau_dend": "dendritic time constant τ_dend",
    "seed": "seed", "epoch": "epoch", "record": "record",
    "test_acc_clamped": "test accuracy (label after clamped phase)",
    "test_acc_free": "test accuracy (label after free phase)",
    "train_acc_clamped": "training accuracy (clamped)", "train_acc_free": "training accuracy (free)",
    "full_test_acc_clamped": "full test set accuracy (clamped)",
    "full_test_acc_free": "full test set accuracy (free)",
    "mean_abs_w": "mean |W|", "max_abs_s": "max |s|", "mean_abs_s": "mean |s|",
    "energy": "energy E",
    "conn_pa": "Conn PA→HA (pA)", "conn_npa": "Conn NPA→HA (pA)",
    "conn_pa_pyr": "Conn PA→HA Pyr (pA)", "conn_pa_pv": "Conn PA→HA PV (pA)",
    "conn_npa_pyr": "Conn NPA→HA Pyr (pA)", "conn_npa_pv": "Conn NPA→HA PV (pA)",
    "rates": "population rate (Hz)", "spikes": "spikes per record",
    "apical_error": "apical error ‖v_api‖", "interneuron_error": "interneuron error",
    "ff_weight_error": "feedforward weight error", "fb_weight_error": "feedback weight error",
    "topdown": "top-down input", "clamp": "clamping", "rule": "learning rule",
    "hidden": "hidden units", "eta_up": "learning rate η_up", "eta_ip": "learning rate η_ip",
}

FORMATS = ("png", "pdf", "svg")

RC = {
    "figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.titlelocation": "left",
    "lines.linewidth": 1.5, "lines.markersize": 4, "axes.grid": False,
    "svg.fonttype": "none", "pdf.fonttype": 42,  # text stays text in vector output
}


def use():
    """apply apical's rcParams (RC, and the Okabe-Ito colour cycle) to matplotlib: call
    before making figures"""
    import matplotlib
    from cycler import cycler

    rc = dict(RC, **{"axes.prop_cycle": cycler(color=list(OKABE_ITO))})
    matplotlib.rcParams.update(rc)


def label(name, value=None):
    """a readable label for a key or series (value=None), or for a key's value"""
    if value is None:
        return LABELS.get(name, name.replace("_", " "))
    if isinstance(value, str):
        return LABELS.get(value, value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def color(name, default=None):
    return COLORS.get(name, default)


def spread(a, axis=0):
    """(median, lo, hi) over an axis, NaN ignored: the line and the band (BAND, the IQR)"""
    import warnings

    a = np.asarray(a, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        med = np.nanmedian(a, axis=axis)
        lo, hi = np.nanpercentile(a, BAND, axis=axis)
    return med, lo, hi


def band(ax, x, a, color=None, label=None, axis=0, alpha=0.2, **line_kw):
    """the median line and the IQR band of a [replicas][x] array; returns the line"""
    med, lo, hi = spread(a, axis=axis)
    line, = ax.plot(x, med, color=color, label=label, **line_kw)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any() and np.asarray(a).shape[axis] > 1:
        ax.fill_between(np.asarray(x)[ok], lo[ok], hi[ok], color=line.get_color(),
                        alpha=alpha, lw=0)
    return line


def add_format_argument(parser, default="png"):
    """--format png|pdf|svg for a tools/ script (an -o name with one of these endings wins)"""
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help=f"file format of the figures (default: from -o's ending, else "
                             f"{default}); pdf and svg are vector, for a paper")
    return parser


def out_path(path, fmt=None):
    """path with the format's ending: fmt given replaces a png/pdf/svg ending or adds one"""
    root, ext = os.path.splitext(path)
    if fmt is None:
        return path
    if ext.lower().lstrip(".") in FORMATS:
        return f"{root}.{fmt}"
    return f"{path}.{fmt}"


def save(fig, path, fmt=None):
    """write a figure (png, pdf or svg: fmt, else the path's ending) and return the path"""
    path = out_path(path, fmt)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    fig.savefig(path, format=ext if ext in FORMATS else None)
    return path
