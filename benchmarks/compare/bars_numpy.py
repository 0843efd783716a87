#!/usr/bin/env python3
"""Bars 9-30-3 dendritic microcircuit in plain numpy, batched over R independent
replicas: every array carries a leading replica axis, dendritic potentials are batched
matrix-vector products (np.matmul over the replica axis), weight updates batched outer
products, one Python loop iteration per time step.

Prints replica-steps per second of training epochs (8 samples, teacher nudging and
plasticity on, no validation) for each replica count, after one warm-up epoch.
Equations: shared/MODELS.md section 1.

  bars_numpy.py [--replicas 1,64,1024] [--t-pres 100] [--seconds 3] [--variant le|original]
                [--threads N]
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bars_common as bc  # noqa: E402


def phi(np, x):
    """Soft ReLU log(1 + exp(x)); 0 below -15, x from 15 on (and at exactly -15, as the
    reference's soft_relu)."""
    soft = np.log1p(np.exp(np.minimum(x, 15.0)))
    return np.where(x < -15.0, 0.0, np.where(np.abs(x) < 15.0, soft, x)).astype(np.float32)


def make_step(np, p):
    """step(s, x [R, 9], tgt [R, 3]) advances all replicas by one Euler step in place.
    Every layer is updated from the previous step's state, then all changes are applied
    (MODELS.md, order of one step)."""
    (le, dt, k0, gb, ga, gsom, g_pyr, g_inn, g_out, a_pyr, a_inn, a_out,
     c_up1, c_up2, c_ip, c_pi, wm1, wm2) = bc.derived(p)

    def mv(w, r):  # [R, n, m] x [R, m] -> [R, n]
        return np.matmul(w, r[:, :, None])[:, :, 0]

    def outer(e, r):  # [R, n], [R, m] -> [R, n, m]; einsum beat broadcasting at R = 1024
        return np.einsum("ri,rj->rij", e, r)

    def step(s, x, tgt):
        s["r_in"] += k0 * (x - s["r_in"])
        s["u_tgt"] += k0 * (tgt - s["u_tgt"])
        if le:  # the target reaches the output one step late
            tgt_used = s["u_tgt_last"]
            s["u_tgt_last"] = s["u_tgt"].copy()
        else:
            tgt_used = s["u_tgt"]
        r_in = s["r_in"]
        # transmitted voltages: u_breve under LE, u otherwise
        v_h, v_i, v_o = (s["f_h"], s["f_i"], s["f_o"]) if le else (s["u_h"], s["u_i"], s["u_o"])
        r_h, r_i, r_o = phi(np, v_h), phi(np, v_i), phi(np, v_o)

        v_bas = mv(s["w_up1"], r_in)
        v_api = mv(s["w_down"], r_o) + mv(s["w_pi"], r_i)
        udot_h = g_pyr * ((gb * v_bas + ga * v_api) / g_pyr - s["u_h"])
        v_den = mv(s["w_ip"], r_h)
        udot_i = g_inn * ((gb * v_den + gsom * v_o) / g_inn - s["u_i"])
        v_bas2 = mv(s["w_up2"], r_h)
        udot_o = g_out * ((gb * v_bas2 + gsom * tgt_used) / g_out - s["u_o"])

        f_h = s["u_h"] + udot_h / g_pyr
        f_i = s["u_i"] + udot_i / g_inn
        f_o = s["u_o"] + udot_o / g_out
        s["u_h"] += dt * udot_h
        s["u_i"] += dt * udot_i
        s["u_o"] += dt * udot_o
        if le:
            post_h, post_i, post_o = f_h, f_i, f_o
            s["f_h"], s["f_i"], s["f_o"] = f_h, f_i, f_o
        else:
            post_h, post_i, post_o = s["u_h"], s["u_i"], s["u_o"]

        # Urbanczik-Senn plasticity: W += dt eta (phi(u_post) - phi(alpha v_dend)) r_pre^T
        e_h = phi(np, post_h) - phi(np, a_pyr * v_bas)
        e_i = phi(np, post_i) - phi(np, a_inn * v_den)
        e_o = phi(np, post_o) - phi(np, a_out * v_bas2)
        s["w_up1"] += outer(c_up1 * e_h, r_in)
        np.clip(s["w_up1"], -wm1, wm1, out=s["w_up1"])
        s["w_ip"] += outer(c_ip * e_i, r_h)
        if c_pi != 0.0:
            s["w_pi"] += outer(-c_pi * v_api, r_i)
        s["w_up2"] += outer(c_up2 * e_o, r_h)
        np.clip(s["w_up2"], -wm2, wm2, out=s["w_up2"])

    return step


def run(np, step, s, xs, ts, t_pres, record=False):
    """Presents samples xs [R, S, 9] with targets ts [R, S, 3] for t_pres steps each.
    With record=True returns the output layer's u and u_breve per step [R, S, t_pres, 3]."""
    R, S = xs.shape[:2]
    if record:
        rec_u = np.zeros((R, S, t_pres, bc.DIMS[-1]), dtype=np.float32)
        rec_f = np.zeros_like(rec_u)
    for k in range(S):
        x, t = np.ascontiguousarray(xs[:, k]), np.ascontiguousarray(ts[:, k])
        for i in range(t_pres):
            step(s, x, t)
            if record:
                rec_u[:, k, i], rec_f[:, k, i] = s["u_o"], s["f_o"]
    return (rec_u, rec_f) if record else None


def main():
    args = bc.parse_args("bars_numpy")
    n_threads = bc.set_threads(args.threads)
    import numpy as np

    p = bc.params(args.variant, args.t_pres)
    X, T = bc.data(np, args.seed)
    step = make_step(np, p)
    bc.print_header("bars_numpy", args, "numpy %s, %d threads" % (np.__version__, n_threads))

    rng = np.random.default_rng(args.seed)
    for R in args.replicas:
        orders = lambda: rng.permuted(np.tile(np.arange(bc.N_SAMPLES), (R, 1)), axis=1)  # noqa: E731
        order = orders()
        s = bc.init_state(np, bc.init_weights(np, rng, R, p), X[order[:, 0]], T[order[:, 0]])
        run(np, step, s, X[order], T[order], args.t_pres)  # warm-up epoch
        epochs = 0
        t0 = t1 = time.perf_counter()
        while t1 - t0 < args.seconds:
            order = orders()
            run(np, step, s, X[order], T[order], args.t_pres)
            epochs += 1
            t1 = time.perf_counter()
        bad = int(np.sum(~np.isfinite(s["u_o"])))
        if bad:
            print("bars_numpy: %d non-finite output potentials" % bad, file=sys.stderr)
        bc.print_row(R, float(R) * epochs * bc.N_SAMPLES * args.t_pres, t1 - t0)


if __name__ == "__main__":
    main()
