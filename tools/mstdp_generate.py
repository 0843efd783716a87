#!/usr/bin/python3
"""MSTDP generation again, from a run's trained weights, with settings of its own: the
study of what makes generation class-conditional (benchmarks/results/mstdp-generation-*.md).

    /usr/bin/python3 tools/mstdp_generate.py runs/NAME [--record E|E1..E2] [--replica R]
        [--beta 0.8,1] [--cycles 3,10] [--free eq1,none] [--init random,zero]
        [--state-scale 0.1] [--noise 0,0.05] [--gain 1,2] [--samples 20] [--seed 1]
        [--grid out.png] [--plot trend.png] [--program]

Reads the weights of one replica after record E (results.h5's weights after the last
record, or checkpoints/epoch-E.h5; keep_checkpoints must have kept it), runs generation
in numpy (float32) as the program's ms_generate does (ms_body.h), and prints one Markdown
row per record and combination of the settings (comma-separated values: their product) with the
generation accuracy (apical.classifier: the fraction of generated images assigned to the
clamped label), the classifier's most frequent answer and the mean pixel-state
correlation between labels (1: every label draws the same image), and per record the
label/digit drive (drive_ratio: how strongly the label steers the hidden units against
how strongly a digit's pixels do). Not bit-identical to
the program (float32 in another order, numpy's random numbers for the initial states):
with the program's settings its accuracy agrees with the program's own generated images
to within sampling error (the study checks this).

Generation, per label and sample: states U(-state_scale, state_scale) (init random), 0
(init zero) or random with the pixels at -1 (init dark) for every unit, velocity 0;
`cycles` x (a clamped phase: the label units held with the clamp step
s += eps v + beta (gain d - s), momentum m, `iterations` iterations; then a free phase:
free = eq1, s += eps (R - s) with the label released, as the program does; free =
clamped: the label stays clamped, a second clamped phase; free = none: no free phase);
noise: Gaussian noise of that standard deviation added to every unclamped state at every
iteration; drive: a factor on the label units' weights onto the hidden units (a
diagnostic: how much stronger the label's pull must be than training made it). The pixel
states are read after the last clamped phase.
Model parameters (eps, m, iterations) are the run's unless given.
"""
import argparse
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from apical import classifier  # noqa: E402
from apical.results import parse_ini, read  # noqa: E402


def rho(s):
    return (1.0 / (1.0 + np.exp(-4.0 * np.clip(s, -20.0, 20.0)))).astype(np.float32)


def load_net(run, record=None, replica=0):
    """(weights dict, config dict, record) of one replica: the results file's weights
    (the last record) or checkpoint epoch-RECORD.h5's state."""
    import h5py

    r = read(run, classify=False)
    cfg = {(s, k): v for s, kv in parse_ini(r.experiment) for k, v in kv}
    path = r.path
    if record is not None and record != r.epochs_done:
        path = os.path.join(os.path.dirname(r.path), "checkpoints", f"epoch-{record:09d}.h5")
        group = "state"
    else:
        record, group = r.epochs_done, "weights"
    with h5py.File(path, "r") as f:
        w = {k: f[f"{group}/{k}"][replica].astype(np.float32)
             for k in ("W_vh", "W_hh", "W_hv", "b_v", "b_h")}
    return w, cfg, record, r


def generate(w, labels, samples, *, eps=0.2, m=0.4, beta=0.8, iterations=32, cycles=3,
             free="eq1", init="random", state_scale=0.1, noise=0.0, gain=1.0, drive=1.0,
             seed=1, pixels=784, block=0, digit=784):
    """Pixel states [labels][samples][pixels] after the last clamped phase (pm1 range).
    block K > 0 (tools/mstdp_label_block.py): pixels from `digit` on hold the label as 10
    blocks of K pixels; they are clamped with the label units (the label's block +1, the
    rest -1), and only the first `digit` pixels are returned."""
    rng = np.random.default_rng(seed)
    H, V = w["W_hh"].shape[0], w["W_vh"].shape[1]
    C = V - pixels
    B = len(labels) * samples
    lab = np.repeat(np.asarray(labels), samples)
    if init == "random":
        sh = rng.uniform(-state_scale, state_scale, (B, H)).astype(np.float32)
        sv = rng.uniform(-state_scale, state_scale, (B, V)).astype(np.float32)
    else:
        sh, sv = np.zeros((B, H), np.float32), np.zeros((B, V), np.float32)
    if init == "dark":  # the pixels start as the background (-1), the rest random
        sv[:, :pixels] = -1.0
    vh, vv = np.zeros_like(sh), np.zeros_like(sv)
    tgt = -np.ones((B, C), np.float32)
    tgt[np.arange(B), lab] = 1.0
    tgt *= np.float32(gain)
    lo = digit if block else pixels  # visible units clamped from here on
    if block:
        btgt = -np.ones((B, pixels - digit), np.float32)
        for c in range(C):
            btgt[lab == c, c * block:(c + 1) * block] = 1.0
        tgt = np.concatenate([btgt * np.float32(gain), tgt], axis=1)
    Whh, Wvh, Whv = w["W_hh"].T.copy(), w["W_vh"].T.copy(), w["W_hv"].T.copy()
    Wvh[pixels:] *= np.float32(drive)  # the labels' weights onto the hidden units

    def pressure(sh, sv):
        rh, rv = rho(sh), rho(sv)
        dh = rh @ Whh + rv @ Wvh + w["b_h"]
        dv = rh @ Whv + w["b_v"]
        return 4 * rh * (1 - rh) * dh, 4 * rv * (1 - rv) * dv

    def step(sh, sv, vh, vv, clamped):
        Rh, Rv = pressure(sh, sv)
        if clamped:
            vh = m * (Rh - sh) + (1 - m) * vh
            vv = m * (Rv - sv) + (1 - m) * vv
            sh, sv = sh + eps * vh, sv + eps * vv
            sv[:, lo:] += beta * (tgt - sv[:, lo:])
        else:
            sh, sv = sh + eps * (Rh - sh), sv + eps * (Rv - sv)
        if noise:
            sh = sh + rng.normal(0, noise, sh.shape).astype(np.float32)
            nv = rng.normal(0, noise, sv.shape).astype(np.float32)
            if clamped:
                nv[:, lo:] = 0
            sv = sv + nv
        return sh.astype(np.float32), sv.astype(np.float32), vh, vv

    out = None
    for _ in range(cycles):
        for _ in range(iterations):
            sh, sv, vh, vv = step(sh, sv, vh, vv, True)
        out = sv[:, :lo].copy()
        if free in ("eq1", "clamped"):
            for _ in range(iterations):
                sh, sv, vh, vv = step(sh, sv, vh, vv, free == "clamped")
    return out.reshape(len(labels), samples, lo)


def label_correlation(g):
    """the mean correlation between the labels' mean generated images"""
    mean = g.mean(axis=1)
    c = np.corrcoef(mean)
    iu = np.triu_indices(len(mean), 1)
    return float(np.nanmean(c[iu]))


def drive_ratio(w, means, digit, block=0):
    """How strongly the label steers the hidden units against how strongly the digit does:
    for each hidden unit, the spread (std over the 10 classes) of its input from the label
    units (plus the label's block, with --block) when the class's label is on, over the
    spread of its input from the digit's pixels when they hold the class's mean training
    image; the median over hidden units. Generation can follow the label only where this
    is not small."""
    H, V = w["W_vh"].shape
    C = means.shape[0]
    on = np.eye(C, dtype=np.float32)
    lab = rho(2 * on - 1) @ w["W_vh"][:, V - C:].T  # [C][H]
    if block:
        rows = np.repeat(np.eye(C, dtype=np.float32), block, axis=1)  # [C][C K]
        blk = np.full((C, V - C - digit), -1.0, np.float32)
        blk[:, :rows.shape[1]] = 2 * rows - 1
        lab = lab + rho(blk) @ w["W_vh"][:, digit:V - C].T
    img = rho(2 * means - 1) @ w["W_vh"][:, :digit].T  # [C][H]
    return float(np.median(lab.std(axis=0) / np.maximum(img.std(axis=0), 1e-12)))


def class_means(images, labels, classes=10):
    x = classifier.read_images(images)
    y = classifier.read_idx(labels)
    return np.stack([x[y == c].mean(axis=0) for c in range(classes)]).astype(np.float32)


def floats(text):
    return [float(x) for x in text.split(",")]


def ints(text):
    return [int(x) for x in text.split(",")]


def words(text):
    return text.split(",")


def records_arg(text):
    """"4", "1,2,8" or "1..16" """
    out = []
    for part in text.split(","):
        if ".." in part:
            lo, hi = part.split("..")
            out += list(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    return out


def fmt(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="a run directory of model = mstdp, or its results.h5")
    ap.add_argument("--record", type=records_arg, default=[None],
                    help="the record(s) whose weights: E, E1,E2 or E1..E2 (default: the last)")
    ap.add_argument("--replica", type=int, default=0)
    ap.add_argument("--beta", type=floats, default=None, help="clamp strength (run's)")
    ap.add_argument("--cycles", type=ints, default=None, help="(clamped, free) pairs (test_cycles)")
    ap.add_argument("--iterations", type=ints, default=None, help="per phase (run's)")
    ap.add_argument("--free", type=words, default=["eq1"], help="eq1 | clamped | none")
    ap.add_argument("--init", type=words, default=["random"], help="random | zero | dark")
    ap.add_argument("--state-scale", type=floats, default=None, help="(run's state_scale)")
    ap.add_argument("--noise", type=floats, default=[0.0])
    ap.add_argument("--gain", type=floats, default=[1.0], help="the label target's size")
    ap.add_argument("--drive", type=floats, default=[1.0],
                    help="factor on the label units' weights onto the hidden units")
    ap.add_argument("--block", type=int, default=0,
                    help="a run on tools/mstdp_label_block.py's images: K pixels per label")
    ap.add_argument("--classifier", help="train the classifier on this MNIST folder's files "
                    "(default: the run's training files; needed with --block)")
    ap.add_argument("--samples", type=int, default=20, help="per label")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--grid", help="PNG of the generated images (the first combination, the "
                    "last record), at most 8 samples per label")
    ap.add_argument("--plot", help="PNG of generation accuracy against presentations, one "
                    "line per combination (several records)")
    ap.add_argument("--program", action="store_true",
                    help="also the program's own generated images of the record")
    args = ap.parse_args()

    first = None
    trend = {}  # combination -> [(presentations, accuracy)]
    for n, rec in enumerate(args.record):
        w, cfg, record, r = load_net(args.run, rec, args.replica)
        model = dict((k, v) for (s, k), v in cfg.items() if s == "model")
        if args.classifier:
            clf = classifier.for_files(*(os.path.join(args.classifier, f)
                                         for f in classifier.MNIST_FILES[:2]))
        else:
            clf = classifier.for_files(cfg[("data", "train_images")],
                                       cfg[("data", "train_labels")])
        pixels, labels = int(model["pixels"]), int(model["labels"])
        if int(model.get("label_copies", 1)) != 1:
            sys.exit(f"mstdp_generate: {args.run} has label_copies = {model['label_copies']}; this "
                     "tool reruns networks with one unit per label (the run's own generated "
                     "images are in apical.load's generation_accuracy)")
        digit = clf.pixels if args.block else pixels
        if n == 0:
            src = ([os.path.join(args.classifier, f) for f in classifier.MNIST_FILES[:2]]
                   if args.classifier else [cfg[("data", "train_images")],
                                            cfg[("data", "train_labels")]])
            means = class_means(*src, classes=labels)[:, :digit]
        ratio = drive_ratio(w, means, digit, args.block)
        pres = record * int(cfg[("train", "presentations")])
        base = dict(eps=float(model["eps"]), m=float(model["m"]))
        grid = {
            "beta": args.beta or [float(model["beta"])],
            "cycles": args.cycles or [int(model["test_cycles"])],
            "iterations": args.iterations or [int(model["iterations"])],
            "free": args.free, "init": args.init,
            "state_scale": args.state_scale or [float(model["state_scale"])],
            "noise": args.noise, "gain": args.gain, "drive": args.drive,
        }
        keys = list(grid)
        if n == 0:
            print(f"{args.run}: replica {args.replica}, hidden {model['hidden']}, "
                  f"{args.samples} samples per label; generation accuracy (chance "
                  f"{1 / labels:g}), the classifier's most frequent answer and its share, the "
                  f"mean correlation between the labels' mean images\n")
            print("| record | presentations | label/digit drive | " + " | ".join(keys)
                  + " | generation accuracy | most frequent answer (share) | label correlation |")
            print("|" + " --- |" * (len(keys) + 6))
        if args.program:
            g = r.series["generated"][args.replica, record - 1]
            if np.isfinite(g).any() and not args.block:
                g = g.reshape(labels, -1, pixels)
                acc = classifier.generation_accuracy(g, clf)
                cnt = np.bincount(clf.predict(classifier.to_pixels(g.reshape(-1, pixels))),
                                  minlength=clf.classes)
                print(f"| {record} | {pres} | {ratio:.3f} | the program's own generated images "
                      f"({g.shape[1]} per label) |" + " |" * (len(keys) - 1)
                      + f" {acc:.3f} | {cnt.argmax()} ({cnt.max() / cnt.sum():.2f}) | "
                      f"{label_correlation(g):.2f} |")
                trend.setdefault("program", []).append((pres, acc))
        for combo in itertools.product(*grid.values()):
            kw = dict(zip(keys, combo))
            g = generate(w, list(range(labels)), args.samples, seed=args.seed, pixels=pixels,
                         block=args.block, digit=digit, **base, **kw)
            if n == len(args.record) - 1 and first is None:
                first = (kw, g, model, pres, labels, digit)
            acc = classifier.generation_accuracy(g, clf)
            pred = clf.predict(classifier.to_pixels(g.reshape(-1, digit)))
            cnt = np.bincount(pred, minlength=clf.classes)
            print(f"| {record} | {pres} | {ratio:.3f} | " + " | ".join(fmt(kw[k]) for k in keys)
                  + f" | {acc:.3f} | {cnt.argmax()} ({cnt.max() / len(pred):.2f}) "
                  f"| {label_correlation(g):.2f} |", flush=True)
            varying = [k for k in keys if len(grid[k]) > 1]
            name = ", ".join(f"{k} {fmt(kw[k])}" for k in varying) or "these settings"
            trend.setdefault(name, []).append((pres, acc))
    if args.grid or args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from apical import style

        style.use()
    if args.grid:
        from apical.report import generated_figure

        kw, g, model, pres, labels, pixels = first
        side = int(round(pixels ** 0.5))
        acc = classifier.generation_accuracy(g, clf)
        text = ", ".join(f"{k} {fmt(v)}" for k, v in kw.items())
        fig = generated_figure(plt, g[:, :8].reshape(labels, -1, side, side),
                               title=f"hidden {model['hidden']}, {pres} presentations; {text}; "
                                     f"generation accuracy {acc:.2f} ({args.samples}/label)")
        fig.savefig(args.grid, dpi=72)
        print(f"\nwrote {args.grid}")
    if args.plot:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for name, pts in trend.items():
            x, y = zip(*pts)
            ax.plot(x, y, marker="o", ms=3, label=name)
        ax.axhline(0.1, color="0.6", lw=0.8, ls=":", label="chance")
        ax.set_xlabel("training presentations")
        ax.set_ylabel("generation accuracy")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        fig.savefig(args.plot, dpi=80)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
