"""PyTorch baseline for the MSTDP energy network iteration (apical kernels/mstdp), as a
researcher would write it: R independent replicas, each with its own weights, batched
along a leading replica axis (torch.baddbmm for the mat-vecs and the outer products),
float32, torch.no_grad().

Units: V = 784 pixels + 10 labels visible, H hidden. Weights W_vh [R,H,V], W_hh [R,H,H]
(diagonal held at 0), W_hv [R,V,H]; biases b_v [R,V], b_h [R,H]; states s, velocities v.
rho(s) = sigmoid(4 s), rho'(s) = 4 rho (1 - rho). One iteration, from r = rho(s):
  dot_h = W_vh r_v + W_hh r_h,  dot_v = W_hv r_h,  R = rho'(s) (dot + b)
  learn (clamped phase, with learning):
    v = m (R - s) + (1 - m) v
    s' = s + eps v + beta (d - s)   visible (all clamped to d in [-1, 1])
    s' = s + eps v                  hidden
    drho = rho(s') - r;  W += alpha drho (x) r (each block);  diag(W_hh) = 0;  b += alpha drho
  free (free phase, no learning):
    s' = s + eps (R - s)            (velocity untouched)
Parameters: eps 0.2, m 0.4, beta 0.8, alpha 0.001.

Usage:
  benchmarks/.venv/bin/python benchmarks/compare/mstdp_torch.py \
      --hidden 256,2048 --replicas 1,8 --seconds 3 [--threads N] [--json] [--matvec row]
  benchmarks/.venv/bin/python benchmarks/compare/mstdp_torch.py --check
"""

import argparse
import json
import os
import sys
import time

N_PIXELS, N_LABELS = 784, 10
N_VISIBLE = N_PIXELS + N_LABELS
EPS, M, BETA, ALPHA = 0.2, 0.4, 0.8, 0.001


def parse_args():
    ap = argparse.ArgumentParser(
        prog="mstdp_torch",
        description="Iterations per second of the MSTDP energy network (clamped with "
                    "learning, free without), batched over replicas, in PyTorch on the CPU.")
    ap.add_argument("--hidden", default="256,2048",
                    help="comma-separated hidden sizes (default 256,2048)")
    ap.add_argument("--replicas", default="1,8",
                    help="comma-separated replica counts (default 1,8)")
    ap.add_argument("--seconds", type=float, default=3.0,
                    help="repeat iterations until this many seconds have passed (default 3)")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up iterations (default 5)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (default 0: all CPUs this process may use)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--matvec", choices=("col", "row"), default="col",
                    help="how the batched mat-vecs are written: col = W @ r[..., None] "
                         "(default), row = r[:, None, :] @ W.transpose(1, 2)")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON object per case instead of the table")
    ap.add_argument("--check", action="store_true",
                    help="compare the batched torch iteration with a plain numpy loop on a "
                         "tiny case (H=5, V=7, R=2, float64) and exit")
    a = ap.parse_args()
    a.hidden = [int(s) for s in a.hidden.split(",") if s.strip()]
    a.replicas = [int(s) for s in a.replicas.split(",") if s.strip()]
    return a


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


# --------------------------------------------------------------------------- the model

def init_net(torch, R, H, V, dtype, gen):
    """Weights, biases and states U(-0.1, 0.1), velocities 0; clamp target d U(-1, 1)."""
    def u(*shape, lo=-0.1, hi=0.1):
        return torch.rand(*shape, generator=gen, dtype=dtype) * (hi - lo) + lo

    net = dict(W_vh=u(R, H, V), W_hh=u(R, H, H), W_hv=u(R, V, H),
               b_v=u(R, V), b_h=u(R, H), s_v=u(R, V), s_h=u(R, H),
               v_v=torch.zeros(R, V, dtype=dtype), v_h=torch.zeros(R, H, dtype=dtype),
               d=u(R, V, lo=-1.0, hi=1.0))
    net["W_hh"].diagonal(dim1=1, dim2=2).zero_()
    return net


def rho(torch, s):
    return torch.sigmoid(4.0 * s)


MATVEC = "col"  # set from --matvec


def net_input(torch, n, r_v, r_h):
    """R = rho'(s) (dot + b) for both parts. col: W @ r with r as a column [R,N,1];
    row: r^T @ W^T with r as a row [R,1,N] (the x @ W.T convention of nn.Linear)."""
    if MATVEC == "col":
        dot_h = torch.baddbmm(n["b_h"].unsqueeze(2), n["W_vh"], r_v.unsqueeze(2))
        dot_h.baddbmm_(n["W_hh"], r_h.unsqueeze(2))
        dot_v = torch.baddbmm(n["b_v"].unsqueeze(2), n["W_hv"], r_h.unsqueeze(2))
        dot_h, dot_v = dot_h.squeeze(2), dot_v.squeeze(2)
    else:
        dot_h = torch.baddbmm(n["b_h"].unsqueeze(1), r_v.unsqueeze(1), n["W_vh"].transpose(1, 2))
        dot_h.baddbmm_(r_h.unsqueeze(1), n["W_hh"].transpose(1, 2))
        dot_v = torch.baddbmm(n["b_v"].unsqueeze(1), r_h.unsqueeze(1), n["W_hv"].transpose(1, 2))
        dot_h, dot_v = dot_h.squeeze(1), dot_v.squeeze(1)
    R_v = 4.0 * r_v * (1.0 - r_v) * dot_v
    R_h = 4.0 * r_h * (1.0 - r_h) * dot_h
    return R_v, R_h


def step_learn(torch, n):
    """One clamped iteration with learning, in place."""
    r_v, r_h = rho(torch, n["s_v"]), rho(torch, n["s_h"])
    R_v, R_h = net_input(torch, n, r_v, r_h)
    # v = m (R - s) + (1 - m) v
    n["v_v"].mul_(1.0 - M).add_(R_v - n["s_v"], alpha=M)
    n["v_h"].mul_(1.0 - M).add_(R_h - n["s_h"], alpha=M)
    # s' = s + eps v (+ beta (d - s) on the clamped visible units)
    pull = n["d"] - n["s_v"]
    n["s_v"].add_(n["v_v"], alpha=EPS).add_(pull, alpha=BETA)
    n["s_h"].add_(n["v_h"], alpha=EPS)
    # learning: W += alpha drho (x) r, b += alpha drho
    dr_v = rho(torch, n["s_v"]) - r_v
    dr_h = rho(torch, n["s_h"]) - r_h
    n["W_vh"].baddbmm_(dr_h.unsqueeze(2), r_v.unsqueeze(1), alpha=ALPHA)
    n["W_hh"].baddbmm_(dr_h.unsqueeze(2), r_h.unsqueeze(1), alpha=ALPHA)
    n["W_hh"].diagonal(dim1=1, dim2=2).zero_()
    n["W_hv"].baddbmm_(dr_v.unsqueeze(2), r_h.unsqueeze(1), alpha=ALPHA)
    n["b_v"].add_(dr_v, alpha=ALPHA)
    n["b_h"].add_(dr_h, alpha=ALPHA)


def step_free(torch, n):
    """One free iteration without learning, in place: s' = s + eps (R - s)."""
    r_v, r_h = rho(torch, n["s_v"]), rho(torch, n["s_h"])
    R_v, R_h = net_input(torch, n, r_v, r_h)
    n["s_v"].add_(R_v - n["s_v"], alpha=EPS)
    n["s_h"].add_(R_h - n["s_h"], alpha=EPS)


# ------------------------------------------------------- plain numpy reference (--check)

def numpy_reference(np, w, kinds):
    """The same iterations, one replica at a time, written out with np.dot / np.outer."""
    out = []
    for q in range(w["s_v"].shape[0]):
        W_vh, W_hh, W_hv = w["W_vh"][q].copy(), w["W_hh"][q].copy(), w["W_hv"][q].copy()
        b_v, b_h = w["b_v"][q].copy(), w["b_h"][q].copy()
        s_v, s_h = w["s_v"][q].copy(), w["s_h"][q].copy()
        v_v, v_h = w["v_v"][q].copy(), w["v_h"][q].copy()
        d = w["d"][q]
        f = lambda s: 1.0 / (1.0 + np.exp(-4.0 * s))  # noqa: E731
        for kind in kinds:
            r_v, r_h = f(s_v), f(s_h)
            Rv = 4 * r_v * (1 - r_v) * (np.dot(W_hv, r_h) + b_v)
            Rh = 4 * r_h * (1 - r_h) * (np.dot(W_vh, r_v) + np.dot(W_hh, r_h) + b_h)
            if kind == "learn":
                v_v = M * (Rv - s_v) + (1 - M) * v_v
                v_h = M * (Rh - s_h) + (1 - M) * v_h
                s_v = s_v + EPS * v_v + BETA * (d - s_v)
                s_h = s_h + EPS * v_h
                dv, dh = f(s_v) - r_v, f(s_h) - r_h
                W_vh += ALPHA * np.outer(dh, r_v)
                W_hh += ALPHA * np.outer(dh, r_h)
                np.fill_diagonal(W_hh, 0.0)
                W_hv += ALPHA * np.outer(dv, r_h)
                b_v += ALPHA * dv
                b_h += ALPHA * dh
            else:
                s_v = s_v + EPS * (Rv - s_v)
                s_h = s_h + EPS * (Rh - s_h)
        out.append(dict(W_vh=W_vh, W_hh=W_hh, W_hv=W_hv, b_v=b_v, b_h=b_h,
                        s_v=s_v, s_h=s_h, v_v=v_v, v_h=v_h))
    return {k: np.stack([o[k] for o in out]) for k in out[0]}


def check(torch):
    import numpy as np
    R, H, V = 2, 5, 7
    gen = torch.Generator().manual_seed(7)
    n = init_net(torch, R, H, V, torch.float64, gen)
    start = {k: t.numpy().copy() for k, t in n.items()}
    kinds = ["learn"] * 4 + ["free"] * 3 + ["learn"] * 2
    with torch.no_grad():
        for kind in kinds:
            (step_learn if kind == "learn" else step_free)(torch, n)
    ref = numpy_reference(np, start, kinds)
    worst = 0.0
    for k in ref:
        diff = float(np.max(np.abs(n[k].numpy() - ref[k])))
        moved = float(np.max(np.abs(ref[k] - start[k])))
        print("%-5s max |torch - numpy| %.3e   (max change from start %.3e)" % (k, diff, moved))
        worst = max(worst, diff)
    print("check (R=%d, H=%d, V=%d, float64, %d iterations: %s): max difference %.3e -> %s"
          % (R, H, V, len(kinds), " ".join(kinds), worst, "OK" if worst < 1e-12 else "FAIL"))
    return 0 if worst < 1e-12 else 1


# ------------------------------------------------------------------------ measurement

def measure(torch, step, n, warmup, seconds):
    for _ in range(warmup):
        step(torch, n)
    its = 0
    t0 = time.perf_counter()
    while True:
        step(torch, n)
        its += 1
        t = time.perf_counter() - t0
        if t >= seconds:
            return its, t


def main():
    a = parse_args()
    import torch
    threads = a.threads if a.threads > 0 else len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    global MATVEC
    if a.check:
        rc = 0
        for MATVEC in ("col", "row"):
            print("--matvec %s" % MATVEC)
            rc |= check(torch)
        return rc
    MATVEC = a.matvec

    if not a.json:
        print("# mstdp_torch: torch %s, %d threads, %s; matvec %s"
              % (torch.__version__, threads, cpu_model(), a.matvec))
        print("%8s %9s  %-5s %14s %8s %13s %21s" % ("hidden", "replicas", "kind", "iterations",
                                                  "seconds", "iterations/s",
                                                  "replica_iterations/s"))
        sys.stdout.flush()
    with torch.no_grad():
        for H in a.hidden:
            for R in a.replicas:
                for kind, step in (("learn", step_learn), ("free", step_free)):
                    gen = torch.Generator().manual_seed(a.seed)
                    n = init_net(torch, R, H, N_VISIBLE, torch.float32, gen)
                    its, t = measure(torch, step, n, a.warmup, a.seconds)
                    if a.json:
                        print(json.dumps(dict(hidden=H, replicas=R, kind=kind, iterations=its,
                                              seconds=round(t, 6), it_per_s=its / t,
                                              replica_it_per_s=R * its / t)))
                    else:
                        print("%8d %9d  %-5s %14d %8.3f %13.2e %21.2e"
                              % (H, R, kind, its, t, its / t, R * its / t))
                    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
