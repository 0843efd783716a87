#!/usr/bin/env python3
"""Checks bars_jax.py and bars_numpy.py against each other and against the reference
implementation (unibe-cns/le_NeurIPS_code, fig3fig5_dendritic_microcircuits/src/network.py)
for one replica: the reference Net draws its weights (self-predicting init), both
baselines start from a copy of them, all three are fed the same sequence of Bars samples
(teacher and plasticity on), and the output layer's potentials (every step) and all
weights (at the end) are compared.

The reference is not part of this repository. Extract it and give it its own venv
(it needs numpy < 1.24), e.g.:

  R=<bare mirror of le_NeurIPS_code>; mkdir -p /tmp/leref
  for f in network.py utils.py; do
    git -C $R show HEAD:fig3fig5_dendritic_microcircuits/src/$f > /tmp/leref/$f; done
  python3 -m venv /tmp/leref/venv && /tmp/leref/venv/bin/pip install "numpy<1.24"

then, with the baselines' venv (setup_venv.sh):

  benchmarks/.venv/bin/python benchmarks/compare/check_reference.py \
      --ref-src /tmp/leref --ref-python /tmp/leref/venv/bin/python [--samples 8] \
      [--time-reference 10]

The script runs itself under --ref-python with --dump to produce the reference's numbers.
"""

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bars_common as bc  # noqa: E402

WEIGHTS = ("w_up1", "w_down", "w_pi", "w_ip", "w_up2")


def sequence(np, n_samples, seed):
    """n_samples Bars samples: consecutive random permutations of the 8 (float32)."""
    X, T = bc.bars(np)
    rng = np.random.RandomState(seed)
    idx = np.concatenate([rng.permutation(bc.N_SAMPLES) for _ in range(-(-n_samples // 8))])
    idx = idx[:n_samples]
    return X[idx], T[idx]


def dump_reference(a):
    """Runs under the reference's own venv: builds Net, runs it, saves an npz."""
    import numpy as np
    sys.path.insert(0, a.ref_src)
    with contextlib.redirect_stdout(io.StringIO()):
        import network
        dt = 0.1
        p = bc.params(a.variant, a.t_pres)
        params = {
            "bias": {"on": False, "val": 0.0}, "dims": list(bc.DIMS), "dt": dt,
            "eta": {"ip": [p["eta_ip"], 0], "pi": [0.0, 0], "up": list(p["eta_up"])},
            "ga": p["ga"], "gb": p["gb"], "gd": p["gd"], "gl": p["gl"], "gsom": p["gsom"],
            "init_weights": {"down": 1, "ip": 1, "pi": 1, "up": 1},
            "latent_eq": p["le"], "learning_lag": 0, "noise": 0, "out_lag": 0.0,
            "reset_deltas": False, "t_pattern": a.t_pres * dt, "tau_0": p["tau0"], "tau_w": 0.1,
        }
        net = network.Net(params, seed=a.seed)
        net.reflect()
        w0 = net.copy_weights()  # [[W_up, W_pi, W_ip, W_down], [W_up]]
        xs, ts = sequence(np, a.samples, a.seed)
        trgt_seq = np.hstack([ts, np.ones((len(ts), 1), dtype=np.float32)])
        ret = net.run(xs, trgt_seq=trgt_seq, rec_quants=[[], ["pyr_soma", "pyr_forw"]], rec_dt=dt)
    records = ret[0]
    w1 = net.copy_weights()
    if a.time_reference > 0:  # steps per second of Net.run, 8-sample training runs, no recording
        import time
        steps, t0 = 0, time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            while time.perf_counter() - t0 < a.time_reference:
                xs8, ts8 = sequence(np, bc.N_SAMPLES, a.seed + steps)
                net.run(xs8, trgt_seq=np.hstack([ts8, np.ones((len(ts8), 1), dtype=np.float32)]))
                steps += bc.N_SAMPLES * a.t_pres
        dt_run = time.perf_counter() - t0
        print("# reference network.py (numpy %s), %s, t_pres %d, training steps, 1 replica"
              % (np.__version__, a.variant, a.t_pres))
        print("%10s %14s %10s %16s" % ("replicas", "replica_steps", "seconds", "replica_steps/s"))
        print("%10d %14.0f %10.3f %16.4g" % (1, steps, dt_run, steps / dt_run), flush=True)
    np.savez(a.dump, xs=xs, ts=ts,
             u_o=records[1]["pyr_soma"].data, f_o=records[1]["pyr_forw"].data,
             **{"init_" + k: w for k, w in zip(WEIGHTS, [w0[0][0], w0[0][3], w0[0][1], w0[0][2], w0[1][0]])},
             **{"final_" + k: w for k, w in zip(WEIGHTS, [w1[0][0], w1[0][3], w1[0][1], w1[0][2], w1[1][0]])})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-src", default="/tmp/leref")
    ap.add_argument("--ref-python", default="/tmp/leref/venv/bin/python")
    ap.add_argument("--variant", choices=("le", "original", "both"), default="both")
    ap.add_argument("--t-pres", type=int, default=100)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--seed", type=int, default=12354)
    ap.add_argument("--time-reference", type=float, default=0.0, metavar="SECONDS",
                    help="also time the reference's Net.run for this long (one replica)")
    ap.add_argument("--dump", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.dump:
        return dump_reference(a)

    import numpy as np
    import jax
    import jax.numpy as jnp
    import bars_jax
    import bars_numpy

    variants = ("le", "original") if a.variant == "both" else (a.variant,)
    worst = 0.0
    for variant in variants:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "ref.npz")
            cmd = [a.ref_python, os.path.abspath(__file__), "--dump", out, "--ref-src", a.ref_src,
                   "--variant", variant, "--t-pres", str(a.t_pres), "--samples", str(a.samples),
                   "--seed", str(a.seed), "--time-reference", str(a.time_reference)]
            subprocess.run(cmd, check=True)
            ref = dict(np.load(out))
        p = bc.params(variant, a.t_pres)
        xs, ts = ref["xs"][None], ref["ts"][None]  # one replica
        w0 = {k: ref["init_" + k][None] for k in WEIGHTS}

        # numpy baseline
        s_np = bc.init_state(np, w0, xs[:, 0], ts[:, 0])
        rec_u, rec_f = bars_numpy.run(np, bars_numpy.make_step(np, p), s_np, xs, ts, a.t_pres,
                                      record=True)
        np_u, np_f = rec_u.reshape(-1, 3), rec_f.reshape(-1, 3)

        # jax baseline
        run = bars_jax.make_run(jax, jnp, p, a.t_pres, record=True)
        s_jx = bc.init_state(np, w0, xs[:, 0], ts[:, 0])
        s_jx, (ju, jf) = jax.jit(jax.vmap(run))(s_jx, jnp.asarray(xs), jnp.asarray(ts))
        jx_u, jx_f = np.asarray(ju).reshape(-1, 3), np.asarray(jf).reshape(-1, 3)

        ref_out = ref["f_o"] if variant == "le" else ref["u_o"]
        np_out = np_f if variant == "le" else np_u
        jx_out = jx_f if variant == "le" else jx_u
        steps = len(ref_out)
        rows = [
            ("output u (all steps)", ref["u_o"], np_u, jx_u),
            ("output readout (u_breve if LE, else u)", ref_out, np_out, jx_out),
        ]
        for k in WEIGHTS:
            rows.append(("final " + k, ref["final_" + k], s_np[k][0], np.asarray(s_jx[k][0])))
        print("# %s, t_pres %d, %d samples = %d steps, seed %d; max |difference|"
              % (variant, a.t_pres, a.samples, steps, a.seed))
        print("%-40s %12s %12s %12s %12s" % ("quantity", "max |ref|", "numpy-ref", "jax-ref", "jax-numpy"))
        for name, r, n, j in rows:
            r, n, j = (np.asarray(v, dtype=np.float64) for v in (r, n, j))
            d = (np.max(np.abs(n - r)), np.max(np.abs(j - r)), np.max(np.abs(j - n)))
            worst = max(worst, *d)
            print("%-40s %12.4g %12.3e %12.3e %12.3e" % (name, np.max(np.abs(r)), *d))
        w_change = max(np.max(np.abs(ref["final_" + k] - ref["init_" + k])) for k in WEIGHTS)
        print("(largest weight change over the run in the reference: %.4g)\n" % w_change)
    print("worst difference: %.3e" % worst)


if __name__ == "__main__":
    sys.exit(main())
