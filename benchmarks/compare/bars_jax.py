#!/usr/bin/env python3
"""Bars 9-30-3 dendritic microcircuit in JAX, batched over R independent replicas:
one replica's step written with jnp, lax.scan over the t_pres steps of a sample and over
the samples of an epoch, jax.vmap over replicas, jax.jit around the whole epoch.

Prints replica-steps per second of training epochs (8 samples, teacher nudging and
plasticity on, no validation) for each replica count; compile time is excluded (one
warm-up epoch per count). Equations: shared/MODELS.md section 1.

  bars_jax.py [--replicas 1,64,1024] [--t-pres 100] [--seconds 3] [--variant le|original]
              [--threads N] [--cpu-devices N]

XLA's CPU backend runs this (many tiny ops per step) on one core however many threads it
may use, so by default the replica axis is sharded over one XLA host device per thread
(--xla_force_host_platform_device_count), which is how a JAX user gets a second core.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bars_common as bc  # noqa: E402


def phi(jnp, x):
    """Soft ReLU log(1 + exp(x)); 0 below -15, x from 15 on (and at exactly -15, as the
    reference's soft_relu)."""
    soft = jnp.log1p(jnp.exp(jnp.minimum(x, 15.0)))
    return jnp.where(x < -15.0, 0.0, jnp.where(jnp.abs(x) < 15.0, soft, x))


def make_step(jax, jnp, p):
    """One Euler step of one replica. State s: dict of potentials and weights of a single
    replica; xt = (input sample [9], target [3]). Every layer is updated from the
    previous step's state, then all changes are applied (MODELS.md, order of one step)."""
    f32 = jnp.float32
    (le, dt, k0, gb, ga, gsom, g_pyr, g_inn, g_out, a_pyr, a_inn, a_out,
     c_up1, c_up2, c_ip, c_pi, wm1, wm2) = bc.derived(p)

    def step(s, xt):
        x, tgt = xt
        r_in = s["r_in"] + k0 * (x - s["r_in"])
        u_tgt = s["u_tgt"] + k0 * (tgt - s["u_tgt"])
        # LE: the target reaches the output one step late; neurons transmit phi(u_breve)
        tgt_used = s["u_tgt_last"] if le else u_tgt
        v_h = s["f_h"] if le else s["u_h"]
        v_i = s["f_i"] if le else s["u_i"]
        v_o = s["f_o"] if le else s["u_o"]
        r_h, r_i, r_o = phi(jnp, v_h), phi(jnp, v_i), phi(jnp, v_o)

        # hidden pyramidal neurons
        v_bas = s["w_up1"] @ r_in
        v_api = s["w_down"] @ r_o + s["w_pi"] @ r_i
        udot_h = g_pyr * ((gb * v_bas + ga * v_api) / g_pyr - s["u_h"])
        # interneurons, nudged by their sister's (prospective) voltage
        v_den = s["w_ip"] @ r_h
        udot_i = g_inn * ((gb * v_den + gsom * v_o) / g_inn - s["u_i"])
        # output pyramidal neurons, nudged by the target
        v_bas2 = s["w_up2"] @ r_h
        udot_o = g_out * ((gb * v_bas2 + gsom * tgt_used) / g_out - s["u_o"])

        f_h = s["u_h"] + udot_h / g_pyr
        f_i = s["u_i"] + udot_i / g_inn
        f_o = s["u_o"] + udot_o / g_out
        if le:
            post_h, post_i, post_o = f_h, f_i, f_o
        else:
            post_h, post_i, post_o = s["u_h"] + dt * udot_h, s["u_i"] + dt * udot_i, s["u_o"] + dt * udot_o

        # Urbanczik-Senn plasticity: W += dt eta (phi(u_post) - phi(alpha v_dend)) r_pre^T
        e_h = phi(jnp, post_h) - phi(jnp, a_pyr * v_bas)
        e_i = phi(jnp, post_i) - phi(jnp, a_inn * v_den)
        e_o = phi(jnp, post_o) - phi(jnp, a_out * v_bas2)
        w_up1 = jnp.clip(s["w_up1"] + c_up1 * jnp.outer(e_h, r_in), -wm1, wm1)
        w_ip = s["w_ip"] + c_ip * jnp.outer(e_i, r_h)
        w_pi = s["w_pi"] + c_pi * jnp.outer(-v_api, r_i) if c_pi != 0.0 else s["w_pi"]
        w_up2 = jnp.clip(s["w_up2"] + c_up2 * jnp.outer(e_o, r_h), -wm2, wm2)

        n = dict(s)
        n.update(r_in=r_in, u_tgt=u_tgt, u_tgt_last=u_tgt if le else s["u_tgt_last"],
                 u_h=s["u_h"] + dt * udot_h, u_i=s["u_i"] + dt * udot_i, u_o=s["u_o"] + dt * udot_o,
                 w_up1=w_up1, w_ip=w_ip, w_pi=w_pi, w_up2=w_up2)
        if le:
            n.update(f_h=f_h, f_i=f_i, f_o=f_o)
        return {k: v.astype(f32) for k, v in n.items()}

    return step


def make_run(jax, jnp, p, t_pres, record=False):
    """run(s, xs [S, 9], ts [S, 3]) for ONE replica: presents the S samples for t_pres
    steps each. With record=True also returns the output layer's u and u_breve at every
    step ([S, t_pres, 3] each)."""
    step = make_step(jax, jnp, p)
    lax = jax.lax

    def sample(s, xt):
        def body(s, _):
            s = step(s, xt)
            return s, ((s["u_o"], s["f_o"]) if record else None)
        return lax.scan(body, s, None, length=t_pres)

    def run(s, xs, ts):
        return lax.scan(sample, s, (xs, ts))

    return run


def main():
    args = bc.parse_args("bars_jax", extra=lambda ap: ap.add_argument(
        "--cpu-devices", type=int, default=0,
        help="split the CPU into this many XLA host devices and shard the replica axis over "
             "them (XLA runs this model on one core per device; 0: one per thread, 1: off); "
             "a count not divisible by it runs on one device"))
    n_threads = bc.set_threads(args.threads)
    n_dev = args.cpu_devices or n_threads
    if n_dev > 1 and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_force_host_platform_device_count=%d" % n_dev).strip()
    import numpy as np
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    p = bc.params(args.variant, args.t_pres)
    X, T = bc.data(np, args.seed)
    Xd, Td = jnp.asarray(X), jnp.asarray(T)
    run = make_run(jax, jnp, p, args.t_pres)

    def epoch(s, order):  # one replica: its own sample order [8]
        s, _ = run(s, Xd[order], Td[order])
        return s

    devs = jax.devices()
    dev = devs[0]
    if dev.platform == "cpu":
        desc = "jax %s on cpu, %d threads" % (jax.__version__, n_threads)
        if len(devs) > 1:
            desc += ", replicas sharded over %d cpu devices" % len(devs)
    else:
        desc = "jax %s on %s (%s)" % (jax.__version__, dev.platform, dev.device_kind)
        devs = devs[:1]
    bc.print_header("bars_jax", args, desc)

    single = jax.jit(jax.vmap(epoch), donate_argnums=0)
    sharding = NamedSharding(Mesh(np.array(devs), ("r",)), PartitionSpec("r")) if len(devs) > 1 else None
    sharded = (jax.jit(jax.vmap(epoch), donate_argnums=0, in_shardings=(sharding, sharding),
                       out_shardings=sharding) if sharding else None)

    rng = np.random.default_rng(args.seed)
    for R in args.replicas:
        orders = lambda: rng.permuted(np.tile(np.arange(bc.N_SAMPLES, dtype=np.int32), (R, 1)), axis=1)  # noqa: E731
        order = orders()
        s = bc.init_state(np, bc.init_weights(np, rng, R, p), X[order[:, 0]], T[order[:, 0]])
        if sharded is not None and R % len(devs) == 0:
            fn, put = sharded, (lambda a: jax.device_put(a, sharding))
        else:
            if sharded is not None:
                print("bars_jax: %d replicas on one of the %d cpu devices" % (R, len(devs)),
                      file=sys.stderr)
            fn, put = single, (lambda a: jax.device_put(a, devs[0]))
        s = fn(put(s), put(order))  # warm-up: compile
        jax.block_until_ready(s)
        epochs = 0
        t0 = t1 = time.perf_counter()
        while t1 - t0 < args.seconds:
            s = fn(s, put(orders()))
            jax.block_until_ready(s)
            epochs += 1
            t1 = time.perf_counter()
        bad = int(np.sum(~np.isfinite(np.asarray(s["u_o"]))))
        if bad:
            print("bars_jax: %d non-finite output potentials" % bad, file=sys.stderr)
        bc.print_row(R, float(R) * epochs * bc.N_SAMPLES * args.t_pres, t1 - t0)


if __name__ == "__main__":
    main()
