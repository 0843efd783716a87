"""Shared pieces of the comparison baselines (bars_jax.py, bars_numpy.py): the Bars
task, the reference parameters, the command line and the result table.

Model: the dendritic cortical microcircuit of shared/MODELS.md section 1 (Sacramento
2018; latent equilibrium, Haider 2021), dims 9-30-3 on Bars with the reference's Bars
parameters; --dims IN,HIDDEN,OUT runs the same network (same parameters) on 64 random
samples instead, as bench_mc does for dims other than Bars'.
Nothing here imports numpy or jax before the thread settings are applied."""

import argparse
import os
import sys

DIMS = (9, 30, 3)  # set_dims changes both
N_SAMPLES = 8
BARS = (9, 30, 3)
N_RANDOM = 64


def set_dims(dims):
    """One hidden layer: (in, hidden, out); Bars' 8 samples for 9-30-3, else 64 random."""
    global DIMS, N_SAMPLES
    if len(dims) != 3:
        sys.exit("--dims: IN,HIDDEN,OUT (one hidden layer), got %s" % ",".join(map(str, dims)))
    DIMS = tuple(dims)
    N_SAMPLES = 8 if DIMS == BARS else N_RANDOM


def data(np, seed):
    """The samples [S, in] and targets [S, out] (1.0 for the class, 0.1 otherwise): Bars
    for 9-30-3, else inputs uniform in [0, 1) and random classes (their content does not
    change the speed)."""
    if DIMS == BARS:
        return bars(np)
    rng = np.random.default_rng(seed + 7)
    x = rng.uniform(0.0, 1.0, size=(N_SAMPLES, DIMS[0])).astype(np.float32)
    t = np.full((N_SAMPLES, DIMS[2]), 0.1, dtype=np.float32)
    t[np.arange(N_SAMPLES), rng.integers(0, DIMS[2], N_SAMPLES)] = 1.0
    return x, t


def params(variant, t_pres):
    """The reference's Bars parameters (MODELS.md section 1) as plain Python floats.
    Learning rates scale with the presentation time t_pattern = t_pres * dt."""
    dt = 0.1
    t_pattern = t_pres * dt
    gl, gb, ga, gsom, gd = 0.03, 0.1, 0.06, 0.06, 0.1
    return dict(
        le=(variant == "le"),
        dt=dt, tau0=0.1,
        gl=gl, gb=gb, ga=ga, gsom=gsom, gd=gd,
        eta_up=(0.5 / t_pattern, 0.1 / t_pattern),
        eta_ip=0.2 / t_pattern,
        eta_pi=0.0,
        w_max_hidden=4.0, w_max_out=5.0,
        # self-predicting init: W_ip = rho * W_up(out), rho = gb/(gl+gb+0) * (gl+gd)/gd
        rho=gb / (gl + gb) * (gl + gd) / gd,
        u_high=1.0, u_low=0.1,
    )


def bars(np):
    """The 8 Bars samples as float32 [8, 9] (3x3 images, row-major, pixels 0/1) and their
    targets [8, 3] (1.0 for the true class, 0.1 otherwise). Order as in the reference:
    rows bottom, middle, top; columns right, middle, left; main and anti diagonal."""
    x = np.zeros((N_SAMPLES, 3, 3), dtype=np.float32)
    for k in range(3):
        x[k, 2 - k, :] = 1.0      # horizontal bar
        x[3 + k, :, 2 - k] = 1.0  # vertical bar
    x[6] = np.eye(3, dtype=np.float32)
    x[7] = np.eye(3, dtype=np.float32)[::-1]
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    t = np.full((N_SAMPLES, 3), 0.1, dtype=np.float32)
    t[np.arange(N_SAMPLES), y] = 1.0
    return x.reshape(N_SAMPLES, 9), t


def init_weights(np, rng, R, p):
    """R replicas' weights drawn from U(-1, 1), in the self-predicting state:
    W_pi = -W_down, W_ip = rho * W_up(out)."""
    n0, n1, n2 = DIMS

    def u(*shape):
        return rng.uniform(-1.0, 1.0, size=(R,) + shape).astype(np.float32)

    w_up1, w_down = u(n1, n0), u(n1, n2)
    u(n1, n2), u(n2, n1)  # W_pi and W_ip draws (overwritten by the self-predicting init)
    w_up2 = u(n2, n1)
    w_pi = -w_down
    w_ip = (p["rho"] * w_up2).astype(np.float32)
    return dict(w_up1=w_up1, w_down=w_down, w_pi=w_pi, w_ip=w_ip, w_up2=w_up2)


def parse_args(prog, extra=None):
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Replica-steps per second of the microcircuit (Bars 9-30-3, or --dims "
                    "with random samples) in training (teacher and plasticity on, no "
                    "validation), batched over replicas.")
    ap.add_argument("--replicas", default="1,64,1024",
                    help="comma-separated replica counts (default 1,64,1024)")
    ap.add_argument("--t-pres", type=int, default=100, help="steps per sample (default 100)")
    ap.add_argument("--seconds", type=float, default=3.0,
                    help="run whole epochs until this many seconds have passed (default 3)")
    ap.add_argument("--variant", choices=("le", "original"), default="le")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads (0: all this process may use); pins the process to the "
                         "first N allowed CPUs (XLA sizes its pool from them) and sets "
                         "OMP/OPENBLAS/MKL_NUM_THREADS")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dims", default="9,30,3",
                    help="IN,HIDDEN,OUT (default 9,30,3: Bars; else 64 random samples)")
    if extra:
        extra(ap)
    a = ap.parse_args()
    a.replicas = [int(s) for s in a.replicas.split(",") if s.strip()]
    set_dims([int(s) for s in a.dims.split(",") if s.strip()])
    return a


def set_threads(n):
    """Must run before numpy/jax are imported. Returns the number of usable CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if n > 0 and n < len(cpus):
        os.sched_setaffinity(0, cpus[:n])
        cpus = cpus[:n]
    n = len(cpus)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    # XLA's CPU client sizes its thread pool from the schedulable CPUs (the affinity).
    return n


def print_header(prog, args, backend_desc):
    print("# %s: dims %s, %s, t_pres %d, training steps; %s"
          % (prog, "-".join(str(d) for d in DIMS), args.variant, args.t_pres, backend_desc))
    print("%10s %14s %10s %16s" % ("replicas", "replica_steps", "seconds", "replica_steps/s"))
    sys.stdout.flush()


def print_row(R, steps, seconds):
    print("%10d %14.0f %10.3f %16.4g" % (R, steps, seconds, steps / seconds))
    sys.stdout.flush()


def init_state(np, weights, x0, t0):
    """Start of a run (reference): potentials 0, input and target already at the first
    sample, the LE-delayed target 0 (so the very first step is nudged towards 0)."""
    R = weights["w_up1"].shape[0]
    n0, n1, n2 = DIMS
    z = lambda n: np.zeros((R, n), dtype=np.float32)  # noqa: E731
    s = dict(r_in=np.array(x0, dtype=np.float32), u_tgt=np.array(t0, dtype=np.float32),
             u_tgt_last=z(n2), u_h=z(n1), f_h=z(n1), u_i=z(n2), f_i=z(n2), u_o=z(n2), f_o=z(n2))
    s.update({k: np.array(v, dtype=np.float32) for k, v in weights.items()})
    return s


def derived(p):
    """The constants both baselines derive from the parameters (apical: mc_const_init)."""
    le = p["le"]
    dt, k0 = p["dt"], p["dt"] / p["tau0"]
    gl, gb, ga, gsom = p["gl"], p["gb"], p["ga"], p["gsom"]
    g_pyr, g_inn, g_out = gl + gb + ga, gl + gb + gsom, gl + gb + gsom
    a_pyr, a_inn, a_out = gb / g_pyr, gb / (gl + gb), gb / (gl + gb)
    c_up1, c_up2 = dt * p["eta_up"][0], dt * p["eta_up"][1]
    c_ip, c_pi = dt * p["eta_ip"], dt * p["eta_pi"]
    wm1, wm2 = p["w_max_hidden"], p["w_max_out"]
    return (le, dt, k0, gb, ga, gsom, g_pyr, g_inn, g_out, a_pyr, a_inn, a_out,
            c_up1, c_up2, c_ip, c_pi, wm1, wm2)
