"""lif_stdp's spike rasters for the field's tools: NWB (pynwb, DANDI) and Neo (Elephant,
PyNN's get_data()).

    import apical.export
    apical.export.nwb("runs/topdown_stdp", "topdown.nwb")        # every replica's raster
    block = apical.export.neo("runs/topdown_stdp", replica=0)    # one replica as a Neo Block

The raster (`events/raster`, docs/file-format.md) holds each replica's spikes from
[train] raster_from_ms to raster_ms as (neuron, step) pairs; a spike's time is step x dt.
Neurons are numbered through the populations in this order: for each assembly PA, NPA,
HA; for each layer L2/3, L4; Pyr (n_pyr cells) then PV (n_pv cells).

pynwb is needed for nwb(), neo and quantities for neo(); neither is a dependency of
apical (pip install pynwb neo).
"""

import datetime
import os

import numpy as np

from .results import Results, load

ASSEMBLIES = ("PA", "NPA", "HA")
LAYERS = ("L2/3", "L4")
TYPES = ("Pyr", "PV")


def _results(run):
    if isinstance(run, Results):
        return run
    if isinstance(run, (str, os.PathLike)):
        return load(run, xarray=False)
    if hasattr(run, "data_vars"):
        return Results.from_xarray(run)
    raise TypeError(f"expected a run directory, a results file or apical results, not "
                    f"{type(run).__name__}")


def _lif(r):
    if r.model != "lif_stdp":
        raise ValueError(f"{r.path or 'these results'}: model {r.model!r} records no spike "
                         "raster (export needs model = lif_stdp)")
    return r


def _param(r, key, replica):
    return np.asarray(r.params[key])[replica].item()


def populations(r, replica=0):
    """[(assembly, layer, type, first neuron, count)] of one replica, in neuron order"""
    n = {"Pyr": int(_param(r, "n_pyr", replica)), "PV": int(_param(r, "n_pv", replica))}
    out, first = [], 0
    for a in ASSEMBLIES:
        for l in LAYERS:
            for t in TYPES:
                out.append((a, l, t, first, n[t]))
                first += n[t]
    return out


def _window(r, replica):
    """the raster's window [t0, t1) in s: raster_from_ms to raster_ms, cut at the run's
    finished time"""
    cfg = {}
    from .results import parse_ini
    for section, items in parse_ini(r.experiment):
        if section == "train":
            cfg.update(items)
    t0 = float(cfg.get("raster_from_ms", 0.0)) * 1e-3
    t1 = float(cfg.get("raster_ms", 3000.0)) * 1e-3
    record_s = float(cfg.get("record_ms", 5.0)) * 1e-3
    return t0, min(t1, r.epochs_done * record_s)


def spike_trains(r, replica):
    """one replica's spike times in s per neuron: (list of arrays, dt in s)"""
    r = _lif(_results(r))
    ev = np.asarray(r.events("raster", replica))
    dt = float(_param(r, "dt", replica)) * 1e-3
    n_neurons = sum(p[4] for p in populations(r, replica))
    neuron = ev[:, 0].astype(np.int64) if len(ev) else np.zeros(0, np.int64)
    step = ev[:, 1].astype(np.float64) if len(ev) else np.zeros(0)
    order = np.argsort(neuron, kind="stable")  # spikes are in time order: stays so per neuron
    bounds = np.searchsorted(neuron[order], np.arange(n_neurons + 1))
    times = step[order] * dt
    return [times[bounds[i]:bounds[i + 1]] for i in range(n_neurons)], dt


def _swept(r):
    """the keys that vary across the replicas (the sweep's axes and what they fix)"""
    out = []
    for key, col in r.params.items():
        a = np.asarray(col)
        if a.ndim == 1 and key not in ("cohort", "diverged_at") and len(np.unique(a)) > 1:
            out.append(key)
    return out


def nwb(run, path, replicas=None, *, session_start_time=None, overwrite=False):
    """Write lif_stdp's spike rasters as an NWB file: a Units table with one unit per neuron
    and replica, spike times in s, and the columns replica, neuron (its index in the
    replica), assembly (PA, NPA, HA), layer (L2/3, L4), cell_type (Pyr, PV), population
    ("PA L2/3 Pyr") and each swept key (seed, topdown, ...). The run's configuration (the
    effective experiment file) is the file's `notes`, the program's version and the run's
    path its `source_script`/`data_collection`.

    replicas  the replicas to write (default: every one)
    Returns the path. Needs pynwb."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.misc import Units
    from hdmf.common import VectorData, VectorIndex

    r = _lif(_results(run))
    rows = range(r.n_replicas) if replicas is None else [int(x) for x in replicas]
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists (overwrite=True replaces it)")
    if session_start_time is None:
        written = str(r.attrs.get("written", ""))
        try:
            session_start_time = datetime.datetime.fromisoformat(written.replace("Z", "+00:00"))
        except ValueError:
            session_start_time = datetime.datetime.now(datetime.timezone.utc)
        if session_start_time.tzinfo is None:
            session_start_time = session_start_time.replace(tzinfo=datetime.timezone.utc)
    swept = _swept(r)
    ident = f"apical {r.attrs.get('git_revision', '')} {os.path.abspath(r.path or '')}"
    f = NWBFile(
        session_description="apical lif_stdp: LIF assemblies (PA, NPA, HA) with STDP on the "
                            "bottom-up synapses and nonspecific top-down input; simulated",
        identifier=ident.strip(),
        session_start_time=session_start_time,
        experiment_description="simulated spike rasters of apical's lif_stdp model "
                               "(docs/models/lif_stdp.md)",
        notes=r.experiment or "",
        source_script=f"apical {r.attrs.get('apical_version', '')} "
                      f"({r.attrs.get('git_revision', '')})",
        source_script_file_name="apical",
        data_collection=f"apical run; results {os.path.abspath(r.path) if r.path else ''}",
        keywords=["simulation", "spiking neural network", "LIF", "STDP", "top-down input"],
        # no Subject: a simulation has no animal (nwbinspector says "Subject is missing")
    )
    times, counts = [], []
    cols = {k: [] for k in ("replica", "neuron", "assembly", "layer", "cell_type",
                            "population")}
    for k in swept:
        cols[k] = []
    for rep in rows:
        trains, _ = spike_trains(r, rep)
        for a, l, t, first, n in populations(r, rep):
            for i in range(first, first + n):
                times.append(trains[i])
                counts.append(len(trains[i]))
                cols["replica"].append(int(r.index[rep]) if hasattr(r, "index") else rep)
                cols["neuron"].append(i)
                cols["assembly"].append(a)
                cols["layer"].append(l)
                cols["cell_type"].append(t)
                cols["population"].append(f"{a} {l} {t}")
                for k in swept:
                    v = np.asarray(r.params[k])[rep]
                    cols[k].append(v.item() if hasattr(v, "item") else v)
    what = {
        "replica": "the replica (network) of the run this neuron belongs to",
        "neuron": "the neuron's index in its replica (populations in the order PA, NPA, HA; "
                  "L2/3, L4; Pyr, PV)",
        "assembly": "PA (stimulated), NPA (not stimulated) or HA (high-order area)",
        "layer": "cortical layer, L2/3 or L4",
        "cell_type": "Pyr (pyramidal, excitatory) or PV (inhibitory)",
        "population": "assembly, layer and cell type",
    }
    flat = np.concatenate(times) if times else np.zeros(0)
    spike_times = VectorData(name="spike_times", description="spike times (s) from the "
                             "start of the simulation", data=flat)
    index = VectorIndex(name="spike_times_index", data=np.cumsum(counts).astype(np.int64),
                        target=spike_times)
    columns = [spike_times, index]
    for k, v in cols.items():
        data = v if isinstance(v[0] if v else "", str) else np.asarray(v)
        columns.append(VectorData(name=k, description=what.get(k, f"the swept key {k} of the "
                                  "unit's replica (docs/models/lif_stdp.md)"), data=data))
    # spike times are multiples of the time step (dt is a fixed key: one for every replica)
    resolution = float(_param(r, "dt", rows[0])) * 1e-3 if len(rows) else None
    f.units = Units(name="units", description="every neuron of the exported replicas, one "
                    "unit each, with its spikes in the raster window", columns=columns,
                    id=np.arange(len(counts)), resolution=resolution)
    with NWBHDF5IO(os.fspath(path), "w") as io:
        io.write(f)
    return path


def neo(run, replica=0):
    """One replica's raster as a neo.Block: one Segment (the raster window) holding a
    SpikeTrain per neuron (times in s; annotations neuron, assembly, layer, cell_type,
    population), and one neo.Group per population gathering its trains. Elephant's
    statistics take the trains as they are. Needs neo and quantities."""
    import neo as neo_
    import quantities as pq

    r = _lif(_results(run))
    trains, dt = spike_trains(r, replica)
    t0, t1 = _window(r, replica)
    block = neo_.Block(name=f"apical lif_stdp, replica {replica}",
                       description="simulated spike raster (docs/models/lif_stdp.md)",
                       file_origin=os.fspath(r.path) if r.path else None)
    block.annotate(experiment=r.experiment or "", git_revision=str(r.attrs.get("git_revision",
                                                                            "")))
    for k in _swept(r):
        v = np.asarray(r.params[k])[replica]
        block.annotate(**{k: v.item() if hasattr(v, "item") else v})
    seg = neo_.Segment(name="raster", description=f"spikes from {t0:g} s to {t1:g} s")
    block.segments.append(seg)
    for a, l, t, first, n in populations(r, replica):
        group = neo_.Group(name=f"{a} {l} {t}")
        for i in range(first, first + n):
            st = neo_.SpikeTrain(trains[i] * pq.s, t_start=t0 * pq.s, t_stop=t1 * pq.s,
                                 sampling_period=dt * pq.s, name=f"neuron {i}")
            st.annotate(neuron=i, assembly=a, layer=l, cell_type=t, population=f"{a} {l} {t}")
            seg.spiketrains.append(st)
            group.add(st)
        block.groups.append(group)
    block.check_relationships() if hasattr(block, "check_relationships") else None
    return block
