#!/usr/bin/env python3
"""NEST 3 reference for apical's LIF + STDP assembly network (PA / NPA / HA).

Builds the three-assembly network (PA, NPA, HA; layers L23 and L4; 320 Pyr +
80 PV per layer) with iaf_psc_alpha (or iaf_psc_exp) neurons, static
within-assembly wiring, plastic bottom-up stdp_synapse projections
(PA/NPA L23 Pyr -> HA L4 Pyr/PV), optional static top-down projections
(HA L23 Pyr -> PA/NPA L23 Pyr/PV), LGN Poisson drive (PA 500 Hz, NPA 100 Hz)
and per-neuron Poisson background, then records for every (topdown, seed):

  conn        [T][S][n_samples][6]  mean bottom-up weight (pA) every
              --record-every ms, t = 0 included.  Columns: conn_pa, conn_npa,
              conn_pa_pyr, conn_pa_pv, conn_npa_pyr, conn_npa_pv.  Weights are
              "as NEST reports them": the value after the synapse's last
              (lazy, presynaptic-spike-driven) update.
  rates       [T][S][n_bins][12]    population rates (Hz) in --record-every bins
  spike_counts[T][S][12]            total spikes per population
  syn_counts  [T][S][n_proj]        synapses per projection (names in proj_names)
  raster_<off|on>_neuron / _time_ms spikes of seed 1 for the first --raster-ms ms
  build_wall_s / sim_wall_s [T][S]  wall seconds of network building / simulation

Population order (12 pops, pop = a*4 + l*2 + type): for a in (PA, NPA, HA):
for l in (L23, L4): (Pyr, PV).  Global neuron index (0..2399) follows the same
order, each pop contiguous.

Weight reading (--weights): 'get' simulates in --record-every chunks and reads
the weights of the four bottom-up SynapseCollections after each chunk; 'recorder'
attaches a weight_recorder to the plastic synapse model and rebuilds the same
grid offline (each synapse's last recorded weight among the events with time
< T - (min_delay - dt/2), i.e. delivered before grid time T, its initial weight
before its first record).  'auto' (default) uses 'recorder'; both give the same
curves (--check-weights: max difference 2e-13 pA over 1 s).  'get' costs ~0.45 s
per read of the ~77k plastic synapses (~40x the simulation time at 5 ms);
'recorder' costs ~1.3 us per recorded event (~1-1.5x the simulation time).

--speed: one seed (1), topdown on, no weight reading, one Simulate call; prints
wall time of Simulate, simulated seconds per wall second, spikes and recurrent
synaptic events (sum over neurons of spikes x out-degree to neurons, Poisson
inputs excluded) per wall second.

Run with the venv made by setup_nest_venv.sh, e.g.
  nice -n 19 benchmarks/.venv-nest/bin/python benchmarks/compare/lif_nest.py
      --seeds 10 --topdown both --duration 20000 --out /tmp/nest_ref.npz
"""

import argparse
import json
import os
import sys
import time

import numpy as np

ASSEMBLIES = ("PA", "NPA", "HA")
LAYERS = ("L23", "L4")
TYPES = ("Pyr", "PV")
N_PYR, N_PV = 320, 80
POP_NAMES = [f"{a}_{l}_{t}" for a in ASSEMBLIES for l in LAYERS for t in TYPES]
POP_SIZES = [N_PYR if t == "Pyr" else N_PV for a in ASSEMBLIES for l in LAYERS for t in TYPES]
POP_START = np.concatenate([[0], np.cumsum(POP_SIZES)]).astype(int)
N_TOTAL = int(POP_START[-1])


def set_sizes(n_pyr, n_pv):
    """Populations of n_pyr / n_pv neurons (apical's [model] n_pyr, n_pv) instead of 320 / 80."""
    global N_PYR, N_PV, POP_SIZES, POP_START, N_TOTAL
    N_PYR, N_PV = n_pyr, n_pv
    POP_SIZES = [N_PYR if t == "Pyr" else N_PV for a in ASSEMBLIES for l in LAYERS for t in TYPES]
    POP_START = np.concatenate([[0], np.cumsum(POP_SIZES)]).astype(int)
    N_TOTAL = int(POP_START[-1])


CONN_COLS = ["conn_pa", "conn_npa", "conn_pa_pyr", "conn_pa_pv", "conn_npa_pyr", "conn_npa_pv"]


def pidx(a, l, t):
    return ASSEMBLIES.index(a) * 4 + LAYERS.index(l) * 2 + TYPES.index(t)


NEURON = dict(tau_m=10.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0, C_m=250.0,
              E_L=-70.0, V_m=-70.0, I_e=0.0, tau_syn_ex=2.0)
TAU_SYN_IN = {"Pyr": 6.0, "PV": 4.3}
DELAY = 1.0
# within-assembly (pre layer, pre type, post layer, post type, p, w)
LOCAL = [
    ("L23", "Pyr", "L23", "Pyr", 0.4, 40.0),
    ("L23", "Pyr", "L23", "PV", 0.6, 40.0),
    ("L23", "PV", "L23", "Pyr", 1.0, -40.0),
    ("L23", "PV", "L23", "PV", 1.0, -40.0),
    ("L4", "Pyr", "L23", "Pyr", 0.6, 80.0),
    ("L4", "Pyr", "L23", "PV", 0.4, 40.0),
    ("L4", "Pyr", "L4", "Pyr", 0.4, 40.0),
    ("L4", "Pyr", "L4", "PV", 0.6, 40.0),
    ("L4", "PV", "L4", "Pyr", 1.0, -40.0),
    ("L4", "PV", "L4", "PV", 1.0, -40.0),
]
BOTTOM_UP = [("Pyr", 0.3, 40.0), ("PV", 0.3, 20.0)]      # target type, p, w
TOP_DOWN = [("Pyr", 0.3, 15.0), ("PV", 0.3, 20.0)]
LGN_RATE = {"PA": 500.0, "NPA": 100.0}
LGN_TARGETS = [("Pyr", 0.3, 60.0), ("PV", 0.3, 30.0)]
BG_RATE = {"Pyr": 1050.0, "PV": 1000.0}
BG_WEIGHT = 100.0
# bottom-up projection order = columns 2..5 of conn
BU_PROJ = [("PA", "Pyr"), ("PA", "PV"), ("NPA", "Pyr"), ("NPA", "PV")]


def import_nest():
    # keep NEST's banner off stdout
    so = os.dup(1)
    os.dup2(2, 1)
    try:
        import nest  # noqa: F401
    finally:
        sys.stdout.flush()
        os.dup2(so, 1)
        os.close(so)
    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


def build(nest, seed, topdown, args, weight_recorder):
    """Build the network in a fresh kernel; returns a dict of handles."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": args.dt, "rng_seed": seed,
                          "local_num_threads": args.threads, "print_time": False})
    model = "iaf_psc_alpha" if args.psc == "alpha" else "iaf_psc_exp"
    pops = []
    for a in ASSEMBLIES:
        for l in LAYERS:
            for t in TYPES:
                n = N_PYR if t == "Pyr" else N_PV
                pops.append(nest.Create(model, n, params=dict(NEURON, tau_syn_in=TAU_SYN_IN[t])))
    first = int(pops[0].tolist()[0])
    for i, p in enumerate(pops):
        assert int(p.tolist()[0]) - first == POP_START[i]

    wr = None
    bu_model = "stdp_synapse"
    if weight_recorder:
        wr = nest.Create("weight_recorder")
        nest.CopyModel("stdp_synapse", "stdp_bu", {"weight_recorder": wr})
        bu_model = "stdp_bu"

    proj_names, syn_counts = [], []

    def connect(pre, post, p, w, name, syn="static_synapse", rule=None):
        n0 = nest.num_connections
        if rule is None:
            rule = {"rule": "pairwise_bernoulli", "p": p, "allow_autapses": False}
        nest.Connect(pre, post, rule, {"synapse_model": syn, "weight": w, "delay": DELAY})
        proj_names.append(name)
        syn_counts.append(nest.num_connections - n0)

    for a in ASSEMBLIES:
        for (l1, t1, l2, t2, p, w) in LOCAL:
            connect(pops[pidx(a, l1, t1)], pops[pidx(a, l2, t2)], p, w,
                    f"{a}_{l1}_{t1}->{a}_{l2}_{t2}")
    for (src, tt), (tt2, p, w) in zip(BU_PROJ, BOTTOM_UP * 2):
        assert tt == tt2
        connect(pops[pidx(src, "L23", "Pyr")], pops[pidx("HA", "L4", tt)], p, w,
                f"{src}_L23_Pyr->HA_L4_{tt} (stdp)", syn=bu_model)
    for dst in ("PA", "NPA"):
        for (tt, p, w) in TOP_DOWN:
            if not topdown:  # keep the projection list fixed; 0 synapses
                proj_names.append(f"HA_L23_Pyr->{dst}_L23_{tt} (topdown)")
                syn_counts.append(0)
            else:
                connect(pops[pidx("HA", "L23", "Pyr")], pops[pidx(dst, "L23", tt)], p, w,
                        f"HA_L23_Pyr->{dst}_L23_{tt} (topdown)")
    for a, rate in LGN_RATE.items():
        g = nest.Create("poisson_generator", params={"rate": rate})
        for (tt, p, w) in LGN_TARGETS:
            connect(g, pops[pidx(a, "L4", tt)], p, w, f"LGN_{a}->{a}_L4_{tt}")
    for t in TYPES:
        g = nest.Create("poisson_generator", params={"rate": BG_RATE[t]})
        targets = None
        for i, name in enumerate(POP_NAMES):
            if name.endswith("_" + t):
                targets = pops[i] if targets is None else targets + pops[i]
        connect(g, targets, None, BG_WEIGHT, f"BG->{t}", rule={"rule": "all_to_all"})

    bu = [nest.GetConnections(source=pops[pidx(src, "L23", "Pyr")],
                              target=pops[pidx("HA", "L4", tt)], synapse_model=bu_model)
          for (src, tt) in BU_PROJ]
    sr = nest.Create("spike_recorder")
    allneurons = pops[0]
    for p in pops[1:]:
        allneurons = allneurons + p
    nest.Connect(allneurons, sr)
    return dict(pops=pops, first=first, bu=bu, wr=wr, sr=sr, proj_names=proj_names,
                syn_counts=np.array(syn_counts), allneurons=allneurons)


def conn_row(ws):
    """ws: list of 4 weight arrays in BU_PROJ order -> 6 conn columns."""
    pa = np.concatenate([ws[0], ws[1]])
    npa = np.concatenate([ws[2], ws[3]])
    return [pa.mean(), npa.mean(), ws[0].mean(), ws[1].mean(), ws[2].mean(), ws[3].mean()]


def get_weights(sc):
    return np.asarray(sc.get("weight"), dtype=float)


class WeightGrid:
    """Rebuild the --record-every grid of lazily updated weights from weight_recorder events.

    A spike emitted in the min-delay slice that ends at a grid time is delivered
    (and updates the weight) only in the next Simulate call, so the weight read
    with SynapseCollection.get at grid time T includes exactly the events with
    time < T - lag, lag = min_delay - dt/2 (checked by --check-weights: identical).
    Each event is turned into a weight change (new - previous weight of the same
    synapse) and summed per (grid index, projection); Conn = cumulative sums / n."""

    def __init__(self, net, lag, step, n_steps, dt):
        src, tgt, w0, proj = [], [], [], []
        for k, sc in enumerate(net["bu"]):
            s = np.asarray(sc.get("source"), dtype=np.int64)
            t = np.asarray(sc.get("target"), dtype=np.int64)
            src.append(s)
            tgt.append(t)
            w0.append(get_weights(sc))
            proj.append(np.full(len(s), k))
        src, tgt = np.concatenate(src), np.concatenate(tgt)
        self.mult = N_TOTAL + 100000
        key = src * self.mult + tgt
        self.order = np.argsort(key)
        self.key_sorted = key[self.order]
        assert np.all(np.diff(self.key_sorted) > 0), "multapse in bottom-up projections"
        self.w = np.concatenate(w0)
        self.proj = np.concatenate(proj)
        self.n = np.bincount(self.proj, minlength=4).astype(float)
        self.sum0 = np.bincount(self.proj, weights=self.w, minlength=4)
        self.lag, self.step, self.n_steps, self.dt = lag, step, n_steps, dt
        self.acc = np.zeros((n_steps + 1, 4))

    def add(self, ev):
        """Apply weight_recorder events (any order; all later than those already added)."""
        if len(ev["times"]) == 0:
            return
        key = ev["senders"].astype(np.int64) * self.mult + ev["targets"].astype(np.int64)
        pos = np.searchsorted(self.key_sorted, key)
        assert np.all(self.key_sorted[pos] == key), "weight_recorder event of an unknown synapse"
        idx = self.order[pos]
        tsteps = np.rint(ev["times"] / self.dt).astype(np.int64)
        o = np.argsort(idx * (1 << 32) + tsteps)
        idx, w, t = idx[o], ev["weights"][o], ev["times"][o]
        prev = np.empty_like(w)
        prev[1:] = w[:-1]
        first = np.ones(len(idx), dtype=bool)
        first[1:] = idx[1:] != idx[:-1]
        prev[first] = self.w[idx[first]]
        last = np.ones(len(idx), dtype=bool)
        last[:-1] = first[1:]
        self.w[idx[last]] = w[last]
        k = np.floor((t + self.lag) / self.step).astype(np.int64) + 1
        ok = k <= self.n_steps
        flat = k[ok] * 4 + self.proj[idx[ok]]
        self.acc += np.bincount(flat, weights=(w - prev)[ok],
                                minlength=self.acc.size).reshape(self.acc.shape)

    def conn(self):
        sums = self.sum0[None, :] + np.cumsum(self.acc, axis=0)
        n = self.n[None, :]
        pa = (sums[:, 0] + sums[:, 1]) / (self.n[0] + self.n[1])
        npa = (sums[:, 2] + sums[:, 3]) / (self.n[2] + self.n[3])
        m = sums / n
        return np.column_stack([pa, npa, m[:, 0], m[:, 1], m[:, 2], m[:, 3]])


def read_events(rec, keys):
    ev = rec.get("events")
    out = {k: np.asarray(ev[k]) for k in keys}
    rec.set(n_events=0)
    return out


def run_one(nest, seed, topdown, args, method):
    t_build0 = time.perf_counter()
    net = build(nest, seed, topdown, args, weight_recorder=(method == "recorder"))
    build_s = time.perf_counter() - t_build0
    step = args.record_every
    n_steps = int(round(args.duration / step))
    conn = [conn_row([get_weights(sc) for sc in net["bu"]])]
    spk_t, spk_n = [], []
    sim_s = 0.0
    if method == "get":
        for k in range(n_steps):
            t0 = time.perf_counter()
            nest.Simulate(step)
            sim_s += time.perf_counter() - t0
            conn.append(conn_row([get_weights(sc) for sc in net["bu"]]))
        ev = read_events(net["sr"], ["senders", "times"])
        spk_n.append(ev["senders"]); spk_t.append(ev["times"])
        read_s = 0.0
    else:
        grid = WeightGrid(net, nest.min_delay - 0.5 * args.dt, step, n_steps, args.dt)
        chunk_steps = max(1, int(round(args.chunk / step)))
        k = 0
        read_s = 0.0
        while k < n_steps:
            m = min(chunk_steps, n_steps - k)
            t0 = time.perf_counter()
            nest.Simulate(m * step)
            sim_s += time.perf_counter() - t0
            t1 = time.perf_counter()
            grid.add(read_events(net["wr"], ["senders", "targets", "times", "weights"]))
            sev = read_events(net["sr"], ["senders", "times"])
            spk_n.append(sev["senders"]); spk_t.append(sev["times"])
            read_s += time.perf_counter() - t1
            k += m
        conn = grid.conn()
    senders = np.concatenate(spk_n).astype(np.int64) - net["first"]
    times = np.concatenate(spk_t)
    popof = np.searchsorted(POP_START, senders, side="right") - 1
    n_bins = n_steps
    b = np.minimum((times // step).astype(np.int64), n_bins - 1)
    counts = np.bincount(b * 12 + popof, minlength=n_bins * 12).reshape(n_bins, 12).astype(float)
    rates = counts / (np.array(POP_SIZES)[None, :] * step * 1e-3)
    spike_counts = np.bincount(popof, minlength=12)
    keep = times < args.raster_ms
    return dict(conn=np.array(conn), rates=rates, spike_counts=spike_counts,
                syn_counts=net["syn_counts"], proj_names=net["proj_names"],
                raster=(senders[keep].astype(np.int32), times[keep]),
                build_s=build_s, sim_s=sim_s, read_s=read_s)


def speed(nest, args):
    import subprocess
    try:
        cpu = [l.split(":", 1)[1].strip() for l in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Model name")][0]
    except Exception:
        cpu = "?"
    t0 = time.perf_counter()
    net = build(nest, 1, True, args, weight_recorder=False)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nest.Simulate(args.duration)
    sim_s = time.perf_counter() - t0
    ev = net["sr"].get("events")
    senders = np.asarray(ev["senders"], dtype=np.int64) - net["first"]
    spikes = np.bincount(senders, minlength=N_TOTAL)
    conns = nest.GetConnections(source=net["allneurons"], target=net["allneurons"])
    outdeg = np.bincount(np.asarray(conns.get("source"), dtype=np.int64) - net["first"], minlength=N_TOTAL)
    events = int((spikes * outdeg).sum())
    print(f"CPU: {cpu}; NEST {nest.__version__}; threads {args.threads}; psc {args.psc}")
    print(f"build: {build_s:.2f} s; recurrent synapses: {int(outdeg.sum())}")
    print(f"Simulate({args.duration:g} ms): {sim_s:.2f} s wall; "
          f"{args.duration * 1e-3 / sim_s:.3f} simulated s per wall s")
    print(f"spikes: {int(spikes.sum())} ({spikes.sum() / N_TOTAL / (args.duration * 1e-3):.2f} Hz mean); "
          f"recurrent synaptic events: {events} = {events / sim_s:.3e} per wall s")
    pc = np.add.reduceat(spikes, POP_START[:-1])
    print("spikes per pop: " + ", ".join(f"{n}={c}" for n, c in zip(POP_NAMES, pc)))


def med(x):
    x = np.asarray(x)
    return f"{np.median(x):.3f} [{x.min():.3f}, {x.max():.3f}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10, help="number of seeds; NEST rng_seed = 1..N (default 10)")
    ap.add_argument("--topdown", choices=["on", "off", "both"], default="both",
                    help="top-down projections HA L23 Pyr -> PA/NPA L23 (default both: off then on)")
    ap.add_argument("--duration", type=float, default=20000.0, help="simulated ms per run (default 20000)")
    ap.add_argument("--dt", type=float, default=0.1, help="resolution in ms (default 0.1)")
    ap.add_argument("--psc", choices=["alpha", "exp"], default="alpha",
                    help="iaf_psc_alpha or iaf_psc_exp neurons (default alpha)")
    ap.add_argument("--record-every", type=float, default=5.0,
                    help="ms between Conn samples and width of rate bins (default 5)")
    ap.add_argument("--raster-ms", type=float, default=3000.0,
                    help="keep seed-1 spikes of the first MS ms for rasters (default 3000)")
    ap.add_argument("--out", default=None, help="output .npz (np.savez_compressed)")
    ap.add_argument("--speed", action="store_true",
                    help="speed mode: seed 1, topdown on, no weight reading, one Simulate call")
    ap.add_argument("--threads", type=int, default=1, help="NEST local_num_threads (default 1)")
    ap.add_argument("--n-pyr", type=int, default=320, help="neurons of each Pyr population (default 320)")
    ap.add_argument("--n-pv", type=int, default=80, help="neurons of each PV population (default 80)")
    ap.add_argument("--weights", choices=["auto", "get", "recorder"], default="auto",
                    help="weight reading: 'get' = read SynapseCollection weights after every "
                         "--record-every chunk; 'recorder' = weight_recorder + offline grid; "
                         "auto = recorder (default)")
    ap.add_argument("--chunk", type=float, default=1000.0,
                    help="recorder mode: ms simulated per Simulate call between event reads (default 1000)")
    ap.add_argument("--check-weights", action="store_true",
                    help="run seed 1 with both weight methods and compare the Conn curves")
    args = ap.parse_args()
    set_sizes(args.n_pyr, args.n_pv)

    nest = import_nest()
    if args.speed:
        speed(nest, args)
        return
    method = "recorder" if args.weights == "auto" else args.weights

    if args.check_weights:
        td = args.topdown != "off"
        r1 = run_one(nest, 1, td, args, "get")
        r2 = run_one(nest, 1, td, args, "recorder")
        d = np.abs(r1["conn"] - r2["conn"]).max()
        print(f"check-weights (seed 1, topdown {td}, {args.duration:g} ms): max |get - recorder| = {d:.3e}; "
              f"sim wall get {r1['sim_s']:.2f} s, recorder {r2['sim_s']:.2f} s (+{r2['read_s']:.2f} s reading); "
              f"spike counts equal: {np.array_equal(r1['spike_counts'], r2['spike_counts'])}")
        return

    tds = {"off": [False], "on": [True], "both": [False, True]}[args.topdown]
    seeds = list(range(1, args.seeds + 1))
    res = [[None] * len(seeds) for _ in tds]
    t_all = time.perf_counter()
    for i, td in enumerate(tds):
        for j, s in enumerate(seeds):
            r = run_one(nest, s, td, args, method)
            res[i][j] = r
            if args.out:  # per-run backup, removed when the combined file is written
                np.savez_compressed(f"{args.out}.partial_{'on' if td else 'off'}_s{s}.npz",
                                    conn=r["conn"], rates=r["rates"], spike_counts=r["spike_counts"],
                                    syn_counts=r["syn_counts"], raster_neuron=r["raster"][0],
                                    raster_time_ms=r["raster"][1], build_s=r["build_s"], sim_s=r["sim_s"])
            print(f"seed {s} topdown {'on' if td else 'off'}: build {r['build_s']:.2f} s, "
                  f"simulate {r['sim_s']:.2f} s, weight/spike reading {r['read_s']:.2f} s; "
                  f"Conn_PA {r['conn'][-1, 0]:.3f} Conn_NPA {r['conn'][-1, 1]:.3f}; "
                  f"spikes {int(r['spike_counts'].sum())}", flush=True)

    step = args.record_every
    conn = np.array([[r["conn"] for r in row] for row in res])
    rates = np.array([[r["rates"] for r in row] for row in res])
    params = dict(vars(args), method=method, neuron=NEURON, tau_syn_in=TAU_SYN_IN, local=LOCAL,
                  bottom_up=BOTTOM_UP, top_down=TOP_DOWN, lgn_rate=LGN_RATE, lgn_targets=LGN_TARGETS,
                  bg_rate=BG_RATE, bg_weight=BG_WEIGHT, delay=DELAY, pop_names=POP_NAMES,
                  pop_sizes=POP_SIZES, topdown_values=["on" if t else "off" for t in tds],
                  seeds=seeds, conn_cols=CONN_COLS)
    if args.out:
        extra = {}
        for i, td in enumerate(tds):
            if res[i][0] is not None and seeds[0] == 1:
                tag = "on" if td else "off"
                extra[f"raster_{tag}_neuron"] = res[i][0]["raster"][0]
                extra[f"raster_{tag}_time_ms"] = res[i][0]["raster"][1]
        np.savez_compressed(
            args.out, conn=conn, conn_cols=np.array(CONN_COLS),
            conn_t_ms=np.arange(conn.shape[2]) * step,
            rates=rates, rate_bin_start_ms=np.arange(rates.shape[2]) * step,
            spike_counts=np.array([[r["spike_counts"] for r in row] for row in res]),
            syn_counts=np.array([[r["syn_counts"] for r in row] for row in res]),
            proj_names=np.array(res[0][0]["proj_names"]),
            pop_names=np.array(POP_NAMES), pop_sizes=np.array(POP_SIZES),
            topdown=np.array(["on" if t else "off" for t in tds]), seeds=np.array(seeds),
            build_wall_s=np.array([[r["build_s"] for r in row] for row in res]),
            sim_wall_s=np.array([[r["sim_s"] for r in row] for row in res]),
            read_wall_s=np.array([[r["read_s"] for r in row] for row in res]),
            nest_version=nest.__version__, params=json.dumps(params, default=str), **extra)
        for i, td in enumerate(tds):
            for s in seeds:
                try:
                    os.remove(f"{args.out}.partial_{'on' if td else 'off'}_s{s}.npz")
                except OSError:
                    pass
        print(f"wrote {args.out}")

    print(f"\n=== summary: NEST {nest.__version__}, {args.psc} PSCs, {len(seeds)} seeds, "
          f"{args.duration:g} ms, weights by {method}, total {time.perf_counter() - t_all:.1f} s ===")
    for i, td in enumerate(tds):
        print(f"\n-- topdown {'on' if td else 'off'} --")
        for ts in (0, 5000, 10000, 20000):
            if ts <= args.duration:
                k = int(round(ts / step))
                print(f"t = {ts / 1000:g} s: Conn_PA {med(conn[i, :, k, 0])}  Conn_NPA {med(conn[i, :, k, 1])}")
        last = conn[i, :, -1]
        print(f"end: Conn_PA > Conn_NPA in {int((last[:, 0] > last[:, 1]).sum())}/{len(seeds)} seeds")
        mr = rates[i].mean(axis=1)  # [S][12]
        for p in range(12):
            print(f"rate {POP_NAMES[p]:12s} {med(mr[:, p])} Hz")
        print("wall s per run (build + simulate + reading): " + ", ".join(
            f"{r['build_s'] + r['sim_s'] + r['read_s']:.1f}" for r in res[i]))


if __name__ == "__main__":
    main()
