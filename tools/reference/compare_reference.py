#!/usr/bin/env python3
"""Compare apical's Bars training with the published reference implementation.

The reference is the numpy code of Haider et al. 2021 (repository unibe-cns/le_NeurIPS_code,
folder fig3fig5_dendritic_microcircuits/src). It is NOT part of apical: pass the path of
your own checkout or extract of that src folder with --reference; its network.py (and the
utils.py and dataset.py next to it) are imported from there at run time.

What the tool does, per (variant, t_pres) replica:
  1. writes an experiment file and runs apical once for all replicas, with a checkpoint
     after every epoch and the sample order recorded;
  2. builds a reference Net with the parameters apical reports for that replica
     (/replicas/* in results.h5), and copies apical's INITIAL weights (checkpoint epoch 0)
     into it;
  3. builds the input and target sequence exactly as the reference's Net.train() does,
     but with apical's recorded order (8 training samples with the teacher on, then 8
     validation samples with the nudging flag 0, per epoch) and feeds it to Net.run();
  4. prints, per epoch, validation MSE (and relative difference) and accuracy of both, and
     the largest |W_apical - W_reference| per weight matrix after each epoch.

Exit status: 0 when the relative val_mse difference stays within --tolerance at every
epoch of every replica and every weight difference stays within --weight-tolerance
and apical's initial state passed the start-of-run checks; 1 otherwise; 2 on a usage
error; other non-zero values (with a message) when apical or the reference cannot be run.

Needs numpy (< 1.24 matches the reference's era; 1.24 works) and h5py.
"""
import argparse
import contextlib
import importlib
import io
import math
import os
import subprocess
import sys

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover
    sys.exit("compare_reference.py needs h5py (pip install h5py, or Debian's python3-h5py)")

# The original model's readout lag per presentation time, in time units, as the reference's
# bars_orig_tpres_*.yaml configs set it (LE uses 0). Keys are t_pres in steps of dt = 0.1.
ORIG_OUT_LAG_T = {3: 0.0, 5: 0.2, 10: 0.5, 20: 1.0, 50: 2.0, 100: 5.0, 200: 15.0, 500: 40.0,
                  1000: 80.0, 2000: 80.0, 5000: 80.0}
# The configs' learning rates scale as 1 / t_pattern (t_pattern = t_pres * dt).
ETA_UP_T = (0.5, 0.1)
ETA_IP_T = 0.2
# Fixed in the reference code (network.py), compared against what apical used.
REF_W_MAX_HIDDEN, REF_W_MAX_OUT = 4.0, 5.0


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Run apical and the published reference (le_NeurIPS_code) on the same "
                    "initial weights and sample order, and compare their trajectories.")
    ap.add_argument("--apical", required=True, help="path to the apical binary")
    ap.add_argument("--reference", required=True,
                    help="directory holding the reference's network.py, utils.py, dataset.py "
                         "(fig3fig5_dendritic_microcircuits/src of unibe-cns/le_NeurIPS_code)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--t-pres", default="100",
                    help="presentation time(s) in steps, comma-separated (default 100)")
    ap.add_argument("--variants", default="le,original", help="le, original or both")
    ap.add_argument("--seed", type=int, default=1, help="apical seed (initial weights, order)")
    ap.add_argument("--out-lag", type=int, default=None,
                    help="readout lag of the original model in steps (default: the "
                         "reference configs' value for the t_pres; LE always uses 0)")
    ap.add_argument("--workdir", default="/tmp/apical-reference-compare",
                    help="where the experiment file and apical's run directory go")
    ap.add_argument("--tolerance", type=float, default=1e-4,
                    help="largest allowed relative val_mse difference at any epoch (default "
                         "1e-4: rounding stays below 3e-6 over 100 epochs, a one-step LE "
                         "timing error gives 4e-4 in epoch 1)")
    ap.add_argument("--weight-tolerance", type=float, default=1e-4,
                    help="largest allowed max |W_apical - W_reference| of any matrix after "
                         "any epoch (default 1e-4; raise it for runs of many hundred epochs)")
    ap.add_argument("--backend", default="cpu", help="apical backend (default cpu)")
    ap.add_argument("--threads", type=int, default=None, help="apical CPU threads")
    ap.add_argument("--print-every", type=int, default=1,
                    help="print every Nth epoch of the table (first, last and any epoch over "
                         "the tolerance are always printed)")
    ap.add_argument("--verbose", action="store_true", help="show apical's and the reference's output")
    a = ap.parse_args(argv)
    a.t_pres_list = [int(x) for x in a.t_pres.split(",") if x.strip()]
    a.variant_list = [x.strip() for x in a.variants.split(",") if x.strip()]
    for v in a.variant_list:
        if v not in ("le", "original"):
            ap.error("unknown variant %r (le or original)" % v)
    if a.epochs < 1 or not a.t_pres_list or not a.variant_list:
        ap.error("need at least one epoch, one t_pres and one variant")
    return a


def fmt_num(x):
    """A decimal that reads back as the intended double (0.05, not 0.049999999999999996)."""
    return "%.12g" % x


def eta_for(t_pres, dt=0.1):
    t_pattern = t_pres * dt
    return [float(fmt_num(e / t_pattern)) for e in ETA_UP_T], float(fmt_num(ETA_IP_T / t_pattern))


def orig_out_lag_steps(t_pres, dt=0.1):
    if t_pres in ORIG_OUT_LAG_T:
        return int(round(ORIG_OUT_LAG_T[t_pres] / dt))
    return 0


def write_ini(path, args):
    lines = ["[experiment]", "name = reference_compare", "model = microcircuit", "dataset = bars", "",
             "[train]", "epochs = %d" % args.epochs, "", "[output]", "checkpoint_every = 1",
             "keep_checkpoints = %d" % (args.epochs + 1), "record_order = true", "",
             "[model]", "dims = 9, 30, 3", "seed = %d" % args.seed, "dt = 0.1", "tau0 = 0.1",
             "gl = 0.03", "gb = 0.1", "ga = 0.06", "gsom = 0.06", "gd = 0.1",
             "eta_pi = 0", "init_selfpred = true", "u_high = 1", "u_low = 0.1", ""]
    for t in args.t_pres_list:
        up, ip = eta_for(t)
        for v in args.variant_list:
            lag = 0 if v == "le" else (args.out_lag if args.out_lag is not None
                                       else orig_out_lag_steps(t))
            if lag >= t:
                sys.exit("out_lag %d steps is not below t_pres %d" % (lag, t))
            lines += ["[sweep.%s_t%d]" % (v, t), "variant = %s" % v, "t_pres = %d" % t,
                      "out_lag = %d" % lag, "eta_up = [%s, %s]" % (fmt_num(up[0]), fmt_num(up[1])),
                      "eta_ip = %s" % fmt_num(ip), ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def run_apical(args, ini, out_dir):
    cmd = [args.apical, "run", ini, "--out", out_dir, "--force", "--backend", args.backend]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    print("$ " + " ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if args.verbose or p.returncode != 0:
        print(p.stdout)
    if p.returncode != 0:
        sys.exit("apical failed with exit status %d" % p.returncode)


def import_reference(ref_dir):
    ref_dir = os.path.abspath(ref_dir)
    if not os.path.isfile(os.path.join(ref_dir, "network.py")):
        sys.exit("--reference %s: no network.py there (expected the reference's "
                 "fig3fig5_dendritic_microcircuits/src folder)" % ref_dir)
    sys.path.insert(0, ref_dir)  # network.py does `import utils`
    with contextlib.redirect_stdout(io.StringIO()):
        network = importlib.import_module("network")
        dataset = importlib.import_module("dataset")
        utils = importlib.import_module("utils")
    return network, dataset, utils


def apical_bars():
    """apical's Bars set in apical's order (datasets/bars.c): rows bottom, middle, top
    (class 0), columns right, middle, left (class 1), main then anti diagonal (class 2)."""
    x = np.zeros((8, 3, 3))
    for k in range(3):
        x[k, 2 - k, :] = 1.0
        x[3 + k, :, 2 - k] = 1.0
    x[6] = np.eye(3)
    x[7] = np.eye(3)[:, ::-1]
    return x.reshape(8, 9), np.array([0, 0, 0, 1, 1, 1, 2, 2])


def reference_bars(dataset):
    """The reference's Bars set, built as its run_bars.py does (noise 0, 3 per class, last
    dropped: 8 samples)."""
    with contextlib.redirect_stdout(io.StringIO()):
        state = np.random.get_state()
        x, y = dataset.BarsDataset(3, samples_per_class=3, noise_level=0)[:-1]
        np.random.set_state(state)
    return np.asarray(x, dtype=np.float64), np.asarray(y)


def read_replicas(res):
    keys = [k for k in res["replicas"].keys()]
    n = res["replicas/variant"].shape[0]
    reps = []
    for r in range(n):
        d = {k: res["replicas/" + k][r] for k in keys}
        reps.append(d)
    return reps


def ref_params(rep, dims):
    """The reference's network parameter dict (the bars_*_tpres_*.yaml layout) for one of
    apical's replicas. Everything is taken from what apical reports having used."""
    dt = float(rep["dt"])
    H = len(dims) - 2
    eta_up = [float(v) for v in rep["eta_up"]]
    eta_ip = [float(v) for v in rep["eta_ip"]] + [0.0]
    eta_pi = [float(v) for v in rep["eta_pi"]] + [0.0]
    assert len(eta_up) == H + 1 and len(eta_ip) == H + 1
    return {
        "bias": {"on": False, "val": 0.0},
        "dims": [int(v) for v in dims],
        "dt": dt,
        "eta": {"ip": eta_ip, "pi": eta_pi, "up": eta_up},
        "ga": float(rep["ga"]), "gb": float(rep["gb"]), "gd": float(rep["gd"]),
        "gl": float(rep["gl"]), "gsom": float(rep["gsom"]),
        "init_weights": {"down": 1, "ip": 1, "pi": 1, "up": 1},
        "latent_eq": int(rep["variant"]) == 1,
        "learning_lag": 0,
        "noise": 0,
        "out_lag": int(rep["out_lag"]) * dt,   # the reference counts time, apical steps
        "reset_deltas": False,
        "t_pattern": int(rep["t_pres"]) * dt,
        "tau_0": float(rep["tau0"]),
        "tau_w": 0.1,
    }


def load_state(path, r):
    with h5py.File(path, "r") as f:
        out = {}

        def grab(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = np.array(obj[r])
        f["state"].visititems(grab)
    return out


def set_reference_weights(net, state):
    for i, l in enumerate(net.layer):
        l.W_up = np.array(state["layer%d/W_up" % i], dtype=np.float32)
        if i < len(net.layer) - 1:
            l.W_down = np.array(state["layer%d/W_down" % i], dtype=np.float32)
            l.W_pi = np.array(state["layer%d/W_pi" % i], dtype=np.float32)
            l.W_ip = np.array(state["layer%d/W_ip" % i], dtype=np.float32)


def build_sequences(order_train, order_val, x, y, n_out, u_high, u_low):
    """Input and target sequences as Net.train() builds them (one validation chunk per
    epoch, classification targets, last target column = nudging flag), in apical's order."""
    n_epochs, n_tr = order_train.shape
    n_val = order_val.shape[1]
    per_ep = n_tr + n_val
    length = per_ep * n_epochs
    r_in_seq = np.zeros((length, x.shape[1]))
    target = np.ones((length, n_out), dtype=np.float32) * u_low
    nudging = np.ones((length, 1), dtype=np.float32)
    for e in range(n_epochs):
        left = e * per_ep
        tr = order_train[e].astype(np.int64)
        r_in_seq[left:left + n_tr] = x[tr]
        target[np.arange(left, left + n_tr), 1 * y[tr]] = u_high
        va = order_val[e].astype(np.int64)
        left += n_tr
        r_in_seq[left:left + n_val] = x[va]
        target[np.arange(left, left + n_val), 1 * y[va]] = u_high
        nudging[left:left + n_val, 0] = False
    return r_in_seq, np.hstack((target, nudging)), per_ep


def rel(a, b):
    return abs(float(a) - float(b)) / abs(float(b)) if b != 0 else (0.0 if a == b else math.inf)


def compare_replica(r, rep, dims, res, ckpt_dir, n_epochs, network, utils, x, y, args):
    variant = "le" if int(rep["variant"]) == 1 else "original"
    t_pres = int(rep["t_pres"])
    params = ref_params(rep, dims)
    n_out = int(dims[-1])
    problems = []
    if float(rep["w_max_hidden"]) != REF_W_MAX_HIDDEN or float(rep["w_max_out"]) != REF_W_MAX_OUT:
        problems.append("w_max differs from the reference's fixed 4 / 5")
    if (float(rep["phi_gamma"]), float(rep["phi_beta"]), float(rep["phi_theta"])) != (1.0, 1.0, 0.0):
        problems.append("phi parameters differ from the reference's soft ReLU")
    if round(params["out_lag"] / params["dt"]) != int(rep["out_lag"]):
        problems.append("out_lag does not survive the steps -> time -> steps round trip")
    if int(np.round(params["t_pattern"] / params["dt"])) != t_pres:
        problems.append("t_pres does not survive the steps -> time -> steps round trip")

    init = load_state(os.path.join(ckpt_dir, "epoch-%09d.h5" % 0), r)
    order_train = np.array(res["recordings/order_train"][r])[:n_epochs]
    order_val = np.array(res["recordings/order_val"][r])[:n_epochs]
    # apical's initial state must be the reference's run() start: potentials 0, input and
    # target filters at the first training sample, the LE delay line nudging on.
    first = int(order_train[0, 0])
    if not np.array_equal(init["input/r_in"], x[first].astype(np.float32)):
        problems.append("initial r_in is not the first training sample")
    tgt0 = np.where(np.arange(n_out) == y[first], float(rep["u_high"]), float(rep["u_low"]))
    if not np.array_equal(init["target/u_tgt"], tgt0.astype(np.float32)):
        problems.append("initial u_tgt is not the first training sample's target")
    for k, v in init.items():
        if k.startswith("layer") and ("/u_" in k or "/forw_" in k) and np.any(v != 0):
            problems.append("initial %s is not zero" % k)
    # the reference's LE delay line starts at a zero target with the nudging flag on
    if np.any(init["target/u_tgt_last"] != 0) or float(init["target/nudge_last"][0]) != 1.0:
        problems.append("initial LE delay line is not (zero target, nudging on)")

    with contextlib.redirect_stdout(io.StringIO()):
        net = network.Net(params, seed=0)
    set_reference_weights(net, init)
    r_in_seq, trgt_seq, per_ep = build_sequences(order_train, order_val, x, y, n_out,
                                                 float(rep["u_high"]), float(rep["u_low"]))
    crumbs = [per_ep * (e + 1) - 1 for e in range(n_epochs)]
    sink = sys.stdout if args.verbose else io.StringIO()
    with contextlib.redirect_stdout(sink):
        ret = net.run(r_in_seq, trgt_seq=trgt_seq, reset_weights=False,
                      val_len=order_val.shape[1], metric=utils.accuracy, breadcrumbs=crumbs)
    ref_weights, val_res = ret[-3], ret[-1]  # (breadcrumbs, out_seq, val_res)

    ap_mse = np.array(res["series/val_mse"][r])[:n_epochs]
    ap_acc = np.array(res["series/val_acc"][r])[:n_epochs]
    print("\n=== replica %d: %s, t_pres %d steps, out_lag %d steps, eta_up %s, eta_ip %s ==="
          % (r, variant, t_pres, int(rep["out_lag"]), list(params["eta"]["up"]),
             params["eta"]["ip"][:-1]))
    for p in problems:
        print("  WARNING: " + p)
    print("  epoch   val_mse apical   val_mse reference   rel.diff   val_acc ap/ref   max|dW| all")
    worst = 0.0
    worst_dw = 0.0
    acc_mismatch = 0
    final_dw = {}
    for e in range(n_epochs):
        a, b = float(ap_mse[e]), float(val_res[e][0])
        d = rel(a, b)
        worst = max(worst, d)
        st = load_state(os.path.join(ckpt_dir, "epoch-%09d.h5" % (e + 1)), r)
        dw = {}
        for i, lw in enumerate(ref_weights[e]):
            names = ("W_up", "W_pi", "W_ip", "W_down") if len(lw) == 4 else ("W_up",)
            for name, w in zip(names, lw):
                key = "layer%d/%s" % (i, name)
                dw[key] = float(np.max(np.abs(st[key].astype(np.float64) - w.astype(np.float64))))
        final_dw = dw
        worst_dw = max(worst_dw, max(dw.values()))
        acc_a, acc_b = float(ap_acc[e]), float(val_res[e][1])
        acc_mismatch += acc_a != acc_b
        show = (e == 0 or e == n_epochs - 1 or (e + 1) % args.print_every == 0
                or d > args.tolerance or acc_a != acc_b)
        if show:
            print("  %5d   %14.8g   %17.8g   %8.2e   %6.3f/%6.3f%s   %10.3e"
                  % (e + 1, a, b, d, acc_a, acc_b, "" if acc_a == acc_b else " *",
                     max(dw.values())))
    # the weights in results.h5 are the final ones; they must equal the last checkpoint
    dw_final = {}
    for key in final_dw:
        w_ap = np.array(res["weights/" + key][r], dtype=np.float64)
        i = int(key.split("/")[0][5:])
        name = key.split("/")[1]
        names = ("W_up", "W_pi", "W_ip", "W_down") if i < len(net.layer) - 1 else ("W_up",)
        w_ref = ref_weights[-1][i][names.index(name)].astype(np.float64)
        dw_final[key] = (float(np.max(np.abs(w_ap - w_ref))), float(np.max(np.abs(w_ref))))
    print("  final weights, max |W_apical - W_reference| (max |W_reference|):")
    for key, (d, m) in dw_final.items():
        print("    %-14s %10.3e   (%.4g)" % (key, d, m))
    if acc_mismatch:
        print("  * %d epoch(s) with different validation accuracy" % acc_mismatch)
    ok = worst <= args.tolerance
    print("  largest relative val_mse difference: %.3e (tolerance %.1e): %s"
          % (worst, args.tolerance, "ok" if ok else "EXCEEDED"))
    if args.weight_tolerance is not None:
        w_ok = worst_dw <= args.weight_tolerance
        print("  largest max|dW| over all epochs: %.3e (weight tolerance %.1e): %s"
              % (worst_dw, args.weight_tolerance, "ok" if w_ok else "EXCEEDED"))
        ok = ok and w_ok
    return ok, worst, problems


def main(argv=None):
    args = parse_args(argv)
    network, dataset, utils = import_reference(args.reference)
    print("reference: %s (numpy %s)" % (os.path.abspath(args.reference), np.__version__))
    if tuple(int(v) for v in np.__version__.split(".")[:2]) >= (2, 0):
        print("WARNING: numpy >= 2 changes the reference's float32/float64 promotion; "
              "use numpy < 1.24 to run it as published")

    x_ap, y_ap = apical_bars()
    x_ref, y_ref = reference_bars(dataset)
    if not (np.array_equal(x_ap, x_ref) and np.array_equal(y_ap, y_ref)):
        sys.exit("apical's Bars order differs from the reference's BarsDataset(3, "
                 "samples_per_class=3, noise_level=0)[:-1]; sample indices would not match")
    print("dataset: apical's Bars order equals the reference's BarsDataset(3, "
          "samples_per_class=3, noise_level=0)[:-1] (8 samples, same index -> same image)")

    os.makedirs(args.workdir, exist_ok=True)
    ini = os.path.join(args.workdir, "reference_compare.ini")
    out_dir = os.path.join(args.workdir, "run")
    write_ini(ini, args)
    run_apical(args, ini, out_dir)

    ok_all = True
    summary = []
    with h5py.File(os.path.join(out_dir, "results.h5"), "r") as res:
        dims = np.array(res["replicas/dims"][0])
        if [int(v) for v in dims] != [9, 30, 3]:
            sys.exit("only the Bars network 9-30-3 is supported")
        n_epochs = int(res.attrs["epochs_done"])
        reps = read_replicas(res)
        for r, rep in enumerate(reps):
            ok, worst, problems = compare_replica(r, rep, dims, res,
                                                  os.path.join(out_dir, "checkpoints"), n_epochs,
                                                  network, utils, x_ref, y_ref, args)
            ok_all &= ok and not problems
            summary.append((r, "le" if int(rep["variant"]) == 1 else "original",
                            int(rep["t_pres"]), worst, ok, problems))
    print("\nsummary (largest relative val_mse difference over %d epochs):" % n_epochs)
    for r, v, t, w, ok, problems in summary:
        print("  replica %d  %-8s t_pres %5d  %.3e  %s%s" % (r, v, t, w, "ok" if ok else "EXCEEDED",
                                                          " (setup warnings)" if problems else ""))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
