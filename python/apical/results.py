"""An apical results file (docs/file-format.md) with the sweep's axes named.

Letters: R replicas (row r of every dataset is replica r), E records (the run's total,
`epochs`; a record is what the model calls it: `epoch` for the microcircuit, `record`
for mstdp and lif_stdp). Records are numbered from 1, as the program numbers them.

The swept keys are the [model] keys whose per-replica values (replicas/KEY) take more
than one value; the `experiment` attribute (the effective configuration with the sweep
as given) orders them and tells choice and true|false keys from numbers. Keys that are a
function of others (a zip such as t_pres/eta_up, or out_lag set per t_pres in one
sub-sweep) are coordinates, not axes: the axes are the keys that vary on their own, and
where every combination of their values is exactly one replica, the replicas form a full
grid and every series reshapes onto it.
"""

import itertools
import os
import re
from collections.abc import Mapping

import numpy as np

from . import verify

# the per-replica columns that the program adds to the [model] keys (not parameters)
HOST_COLUMNS = ("cohort", "diverged_at")

# names of a series' dimensions after [replica][record] (docs/file-format.md); any other
# series gets NAME_index
EXTRA_DIMS = {
    "ff_weight_error": "hidden_layer",
    "fb_weight_error": "hidden_layer",
    "apical_error": "hidden_layer",
    "interneuron_error": "hidden_layer",
    "rates": "population",
}

_CHOICE = re.compile(r"^\s*\d+ = [^,=]+(,\s*\d+ = [^,=]+)*\s*$")


def parse_ini(text):
    """[(section, [(key, value), ...]), ...] in file order; comments start with # or ;
    at a line's start or after whitespace, as in host/ini.c. Repeated keys (zip) stay."""
    sections, cur = [], None
    for raw in (text or "").splitlines():
        line = re.sub(r"(^|\s)[#;].*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            cur = (line[1:-1].strip(), [])
            sections.append(cur)
        elif "=" in line and cur is not None:
            key, value = line.split("=", 1)
            cur[1].append((key.strip(), value.strip()))
    return sections


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def _plain(v):
    """a numpy scalar as the Python value (attributes, axis values)"""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return tuple(_plain(x) for x in v) if v.ndim else v.item()
    return v


def _codes(col):
    """(codes [R] int, values): each replica's value as an index into the distinct values,
    these in order of first appearance (the sweep's order: replicas are numbered in it)"""
    a = np.asarray(col)
    flat = a.reshape(len(a), -1) if a.ndim > 1 else a
    if flat.ndim > 1:
        _, first, inv = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    else:
        _, first, inv = np.unique(flat, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[np.asarray(inv).reshape(-1)], [_plain(a[first[i]]) for i in order]


def _combined(code_columns, n):
    """one code per replica for a tuple of code columns"""
    if not code_columns:
        return np.zeros(n, dtype=np.int64)
    _, inv = np.unique(np.stack(code_columns, axis=1), axis=0, return_inverse=True)
    return np.asarray(inv).reshape(-1)


def _n_distinct(codes):
    return len(np.unique(codes)) if len(codes) else 0


def _determines(key_codes, by_codes, n):
    """whether the replicas' values of `by` fix the key's value"""
    by = _combined(by_codes, n)
    return _n_distinct(by) == _n_distinct(_combined([by, key_codes], n))


class _H5Fields(Mapping):
    """The datasets under one group of the file, read when asked for (weights can be large);
    rows: the replicas of a selection (None: all)."""

    def __init__(self, path, group, names, rows=None):
        self._path, self._group, self._names, self._rows = path, group, list(names), rows

    def __getitem__(self, name):
        if name not in self._names:
            raise KeyError(f"{name} (fields: {', '.join(self._names)})")
        import h5py

        with _open_h5(self._path) as f:
            d = f[f"{self._group}/{name}"]
            if self._rows is None:
                return d[...]
            # h5py reads increasing rows only
            rows, back = np.unique(np.asarray(self._rows), return_inverse=True)
            return d[rows][np.asarray(back).reshape(-1)]

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)

    def subset(self, rows):
        base = np.arange(self._n_rows()) if self._rows is None else np.asarray(self._rows)
        return _H5Fields(self._path, self._group, self._names, base[rows])

    def _n_rows(self):
        import h5py

        with _open_h5(self._path) as f:
            return int(f.attrs["n_replicas"])

    def __repr__(self):
        return f"<{self._group} of {self._path}: {', '.join(self._names)}>"


class Results:
    """One run's results as numpy arrays.

    series   dict name -> array [R][E] or [R][E][...] (NaN in records not run yet)
    params   the replica table: dict key -> array [R] or [R][n] (list keys such as dims,
             eta_up); every [model] key plus cohort and diverged_at; choice keys hold
             their names ("le"), true|false keys booleans
    axes     dict swept key -> its values in sweep order: the keys that vary on their own
             (is_grid: they form a full grid, and grid() reshapes onto them)
    depends  dict key -> the axes it is a function of, for every other swept key
    swept    every swept key (more than one value), in sweep order; is_grid, model_keys
    weights  dict field -> array [R][...], read from the file when asked for
    records  the record numbers of the series' second dimension (1 .. E)
    index    each row's replica number in the experiment (a selection keeps them; a
             shard's rows are some of the experiment's, shard/replicas)
    attrs    the file's root attributes; model, record, epochs, epochs_done, n_replicas,
             experiment (the effective configuration) as attributes of their own too
    """

    def __init__(self, series, params, attrs, *, weights=None, records=None, index=None,
                 descriptions=None, path=None, events=None):
        self.series = dict(series)
        self.params = {k: np.asarray(v) for k, v in params.items()}
        self.attrs = {k: _plain(v) for k, v in attrs.items()}
        self.weights = weights if weights is not None else {}
        self.descriptions = dict(descriptions or {})
        # the [model] keys' units, as the file carries them (replicas/KEY's `unit`)
        self.units = {k[5:]: v for k, v in self.descriptions.items() if k.startswith("unit/")}
        self.path = path
        self.missing = {}  # series that could not be derived, and why (generation_accuracy)
        self._events = events  # (path, names, rows) or None
        first = next(iter(self.series.values()), None)
        lengths = [len(v) for v in list(self.series.values()) + list(self.params.values())]
        self.n_replicas = lengths[0] if lengths else int(self.attrs.get("n_replicas", 0))
        if any(n != self.n_replicas for n in lengths):
            raise ValueError("series and parameters disagree on the number of replicas")
        n_rec = first.shape[1] if first is not None and first.ndim > 1 else 0
        self.records = np.arange(1, n_rec + 1) if records is None else np.asarray(records)
        self.index = np.arange(self.n_replicas) if index is None else np.asarray(index)
        self.model = self.attrs.get("model", "")
        self.record = self.attrs.get("record", "epoch")
        self.epochs = int(self.attrs.get("epochs", n_rec))
        self.epochs_done = int(self.attrs.get("epochs_done", n_rec))
        self.experiment = self.attrs.get("experiment", "")
        self._analyse()

    # --- the sweep's structure ---------------------------------------------------------

    def _analyse(self):
        sections = parse_ini(self.experiment)
        model_section = dict(next((kv for s, kv in sections if s == "model"), []))
        in_sweep = []
        for s, kv in sections:
            if s == "sweep" or s.startswith("sweep."):
                in_sweep += [k for k, _ in kv if k != "zip" and k not in in_sweep]
        if model_section:
            model_keys = [k for k in model_section if k in self.params]
        else:
            model_keys = [k for k in self.params if k not in HOST_COLUMNS]
        self.model_keys = model_keys
        self._decode(model_section)

        n = self.n_replicas
        varying = [k for k in model_keys if n and _n_distinct(_codes(self.params[k])[0]) > 1]
        varying.sort(key=lambda k: (k not in in_sweep, in_sweep.index(k) if k in in_sweep else 0))
        self.swept = tuple(varying)
        codes = {k: _codes(self.params[k]) for k in varying}

        # the axes: keys that no earlier axis determines (scalar keys first, so that a zip
        # of t_pres and eta_up is named by t_pres), then without any that the others fix
        dims = []
        for k in sorted(varying, key=lambda k: self.params[k].ndim > 1):
            if not dims or not _determines(codes[k][0], [codes[d][0] for d in dims], n):
                dims.append(k)
        for k in list(dims):
            rest = [codes[d][0] for d in dims if d != k]
            if rest and _determines(codes[k][0], rest, n):
                dims.remove(k)
        # slowest-varying first: a plain cross product then reshapes in replica order
        def changes(k):
            return int(np.count_nonzero(np.diff(codes[k][0])))

        dims.sort(key=lambda k: (changes(k), varying.index(k)))
        self.axes = {k: codes[k][1] for k in dims}
        size = int(np.prod([len(v) for v in self.axes.values()], dtype=np.int64))
        combos = _n_distinct(_combined([codes[d][0] for d in dims], n))
        self.is_grid = n > 0 and size == n and combos == n
        self._grid_index = tuple(codes[d][0] for d in dims)

        self.depends = {}
        for k in varying:
            if k in self.axes:
                continue
            for size_ in range(1, len(dims) + 1):
                found = next((c for c in itertools.combinations(dims, size_)
                              if _determines(codes[k][0], [codes[d][0] for d in c], n)), None)
                if found:
                    self.depends[k] = found
                    break

    def _decode(self, model_section):
        """choice keys to their names, true|false keys to booleans"""
        for k in self.model_keys:
            col, given = self.params[k], model_section.get(k)
            desc = self.descriptions.get(f"replicas/{k}", "")
            if col.dtype.kind in "iu" and _CHOICE.match(desc):
                names = {int(i): s.strip() for i, s in re.findall(r"(\d+) = ([^,]+)", desc)}
                if (given is None or given in names.values()) and set(np.unique(col)) <= set(names):
                    self.params[k] = np.array([names[int(i)] for i in col.reshape(-1)]
                                              ).reshape(col.shape)
            elif col.dtype.kind in "iu" and given in ("true", "false"):
                self.params[k] = col.astype(bool)

    # --- reading ------------------------------------------------------------------------

    def values(self, key):
        """the distinct values of a parameter, in sweep order"""
        return _codes(self._param(key))[1]

    def _param(self, key):
        if key not in self.params:
            raise KeyError(f"no parameter {key!r} (keys: {', '.join(self.params)})")
        return self.params[key]

    def _series(self, series):
        if isinstance(series, str):
            if series not in self.series:
                raise KeyError(f"no series {series!r} (series: {', '.join(self.series)})")
            return self.series[series]
        a = np.asarray(series)
        if a.shape[:1] != (self.n_replicas,):
            raise ValueError(f"an array of shape {a.shape} is not one row per replica "
                             f"({self.n_replicas})")
        return a

    def last_record(self, series="val_acc"):
        """the last finished record at which the series has a value for some replica
        (a test phase every N records leaves NaN in the others)"""
        a = self._series(series)
        finite = np.isfinite(a.reshape(a.shape[0], a.shape[1], -1)).any(axis=(0, 2))
        ok = np.nonzero(finite & (self.records <= self.epochs_done))[0]
        if not len(ok):
            name = series if isinstance(series, str) else "the series"
            raise ValueError(f"{name} has no value in a finished {self.record} "
                             f"({self.epochs_done} of {self.epochs} done)")
        return int(self.records[ok[-1]])

    def at(self, series="val_acc", record="last"):
        """a series' values at one record (a number from 1, or "last": last_record()),
        [R] or [R][...]"""
        a = self._series(series)
        rec = self.last_record(series) if record == "last" else int(record)
        i = np.nonzero(self.records == rec)[0]
        if not len(i):
            span = f" ({self.records[0]} .. {self.records[-1]})" if len(self.records) else ""
            raise KeyError(f"no {self.record} {rec}{span}")
        return a[:, i[0]]

    def where(self, spec=None, **params):
        """a mask [R] of the replicas whose parameters have the given values: a value, or a
        list of values (any of them); a list key (eta_up) takes one row or a list of rows.
        Keys that are not names (lambda) go in the dict `spec`."""
        spec = dict(spec or {}, **params)
        mask = np.ones(self.n_replicas, dtype=bool)
        for key, want in spec.items():
            col = self._param(key)
            w = np.asarray(want)
            if col.dtype.kind in "UO":
                w = w.astype(str)
            elif col.dtype.kind == "b" and w.dtype.kind in "UO":
                w = w == "true"
            elif col.dtype.kind == "f":
                w = w.astype(col.dtype)  # compare as stored
            try:
                rows = w.reshape((-1,) + col.shape[1:])  # one value (a row) or a list of them
            except ValueError:
                raise ValueError(f"{key} = {want!r}: rows of {col.shape[1]} values expected"
                                 ) from None
            hit = np.zeros(self.n_replicas, dtype=bool)
            for row in rows:
                eq = col == row
                hit |= eq.reshape(len(col), -1).all(axis=1)
            mask &= hit
        return mask

    def select(self, spec=None, **params):
        """the replicas with the given parameter values (as where()), as a Results of their
        own: its axes are those that still vary"""
        mask = self.where(spec, **params)
        if not mask.any():
            spec = dict(spec or {}, **params)
            have = "; ".join(f"{k}: {', '.join(map(str, self.values(k)))}" for k in spec)
            raise ValueError(f"no replica has {spec} ({have})")
        return self.subset(np.nonzero(mask)[0])

    def subset(self, rows):
        rows = np.asarray(rows)
        attrs = dict(self.attrs, n_replicas=len(rows))
        weights = (self.weights.subset(rows) if isinstance(self.weights, _H5Fields)
                   else {k: v[rows] for k, v in self.weights.items()})
        events = None
        if self._events:
            p, names, base = self._events
            events = (p, names, np.asarray(base)[rows])
        return Results({k: v[rows] for k, v in self.series.items()},
                       {k: v[rows] for k, v in self.params.items()}, attrs, weights=weights,
                       records=self.records, index=self.index[rows],
                       descriptions=self.descriptions, path=self.path, events=events)

    def grid(self, series="val_acc"):
        """a series (a name, or any array [R][...]) on the sweep's grid:
        [len(axis) for axis in axes] + the rest of its shape"""
        if not self.is_grid:
            raise ValueError(
                f"the {self.n_replicas} replicas do not form a full grid over "
                f"{', '.join(self.axes) or 'no axis'}; select() a part that does, or group "
                "by parameter (where(), plot.versus)")
        a = self._series(series)
        out = np.empty(tuple(len(v) for v in self.axes.values()) + a.shape[1:], dtype=a.dtype)
        out[self._grid_index] = a
        return out

    def events(self, name, replica):
        """the events of row `replica` of these results (the file's replica index[replica]):
        lif_stdp's `raster`, (neuron, step) rows, [M][2]"""
        if not self._events or name not in self._events[1]:
            have = ", ".join(self._events[1]) if self._events else "none"
            raise KeyError(f"no events {name!r} (events: {have})")
        import h5py

        path, _, rows = self._events
        r = int(rows[replica])
        with _open_h5(path) as f:
            lo, hi = f[f"events/{name}_start"][r:r + 2]
            return f[f"events/{name}"][int(lo):int(hi)]

    def __repr__(self):
        axes = ", ".join(f"{k} ({len(v)})" for k, v in self.axes.items()) or "none"
        grid = "a full grid" if self.is_grid else "not a full grid"
        n = self.n_replicas
        return (f"<apical results {self.path or ''}: {self.model}, {n} replica{'s' * (n != 1)}, "
                f"{self.epochs_done}/{self.epochs} {self.record}s; axes {axes} ({grid}); "
                f"series {', '.join(self.series)}>")

    # --- xarray -------------------------------------------------------------------------

    def _cells(self):
        """(dims, cell index per replica, full): the Dataset's sweep dimensions. A full grid
        over the axes; else, where no two replicas share a combination of the axes' values
        and the grid over them is at most PAD times the replicas (sub-sweeps such as
        rate_vs_spiking.ini's `neuron = rate` | `poisson` with psi x tau_dend), that grid
        with NaN where no replica ran; else a flat `replica` dimension."""
        if self.is_grid:
            return list(self.axes), self._grid_index, True
        n = self.n_replicas
        size = int(np.prod([len(v) for v in self.axes.values()], dtype=np.int64))
        if self.axes and n and _n_distinct(_combined(list(self._grid_index), n)) == n and \
                size <= PAD * n:
            return list(self.axes), self._grid_index, False
        return ["replica"], (np.arange(n),), True

    def _shaped(self, name, a):
        """a series' dimensions after [replica][record], and the array reshaped onto them"""
        if a.ndim == 2:
            return [], a, {}
        R, E = a.shape[:2]
        if name == "generated" and a.ndim == 3:
            cfg = {(s, k): v for s, kv in parse_ini(self.experiment) for k, v in kv}
            labels = self._constant("labels")
            pixels = self._constant("pixels")
            try:
                g = int(cfg.get(("train", "gen_samples"), 0))
            except ValueError:
                g = 0
            if labels and pixels and g and labels * g * pixels == a.shape[2]:
                side = int(round(pixels ** 0.5))
                tail = [side, side] if side * side == pixels else [pixels]
                names = ["row", "col"] if len(tail) == 2 else ["pixel"]
                return (["label", "sample"] + names, a.reshape(R, E, labels, g, *tail),
                        {"label": np.arange(labels), "sample": np.arange(g)})
        if name == "rates" and self.model == "lif_stdp" and a.ndim == 3 and a.shape[2] == 12:
            return ["population"], a, {"population": np.array(POPULATIONS)}
        if a.ndim == 3:
            return [EXTRA_DIMS.get(name, f"{name}_index")], a, {}
        return [f"{name}_dim{i}" for i in range(2, a.ndim)], a, {}

    def _constant(self, key):
        """a parameter's value when every replica has the same, else None"""
        col = self.params.get(key)
        if col is None or not len(col) or col.ndim != 1 or (col != col[0]).any():
            return None
        return _plain(col[0])

    def to_xarray(self, weights=False):
        """an xarray Dataset (docs/python.md): one variable per series over the sweep's
        dimensions (see _cells), the record dimension, then the series' own (`hidden_layer`,
        lif_stdp's labelled `population`, mstdp's `generated` as [label][sample][row][col]);
        parameters that vary are coordinates (axes as dimension coordinates, the keys they
        fix over those axes, list keys with a dimension KEY_index), those that do not are
        attributes; lif_stdp's records carry `time` (s, the record's end); units are the
        `units` attribute of variables and coordinates, and attrs["units"] for the
        constant keys; weights as variables when asked"""
        import xarray as xr

        rec = self.record
        rdims, cell, full = self._cells()
        shape = tuple(len(v) for v in self.axes.values()) if rdims != ["replica"] else \
            (self.n_replicas,)
        coords = {rec: (rec, self.records)}
        if rdims != ["replica"]:
            for d, vals in self.axes.items():
                coords[d] = (d, _coordinate(vals), _units(self.units.get(d)))

        def put(a, dims_idx=None, sub_shape=None):
            a = np.asarray(a)
            idx = cell if dims_idx is None else dims_idx
            out = np.full((sub_shape or shape) + a.shape[1:], _fill(a.dtype), dtype=a.dtype)
            out[idx] = a
            return out

        replica = np.asarray(self.index, dtype=np.int64)
        if rdims != ["replica"]:
            coords["replica"] = (rdims, put(replica))
        else:
            coords["replica"] = ("replica", replica)
        if self.model == "lif_stdp":
            cfg = {(s, k): v for s, kv in parse_ini(self.experiment) for k, v in kv}
            try:
                ms = float(cfg[("train", "record_ms")])
            except (KeyError, ValueError):
                ms = None
            if ms:
                coords["time"] = (rec, self.records * ms / 1000.0,
                                  {"units": "s", "description": f"the end of the {rec} "
                                   f"({ms:g} ms each)"})
        data = {}
        for name, a in self.series.items():
            extra, shaped, extra_coords = self._shaped(name, a)
            attrs = {}
            if f"series/{name}" in self.descriptions:
                attrs["description"] = self.descriptions[f"series/{name}"]
            attrs.update(_units(SERIES_UNITS.get((self.model, name), SERIES_UNITS.get(name))))
            data[name] = (rdims + [rec] + extra, put(shaped), attrs)
            for k, v in extra_coords.items():
                coords.setdefault(k, (k, v))
        attrs = {k: v for k, v in self.attrs.items() if isinstance(v, (str, int, float))}
        constant, units = [], {}
        for key, col in self.params.items():
            if rdims != ["replica"] and key in self.axes:
                continue
            items = [f"{key}_index"] if col.ndim > 1 else []
            flat = col.reshape(len(col), -1)
            if not len(col) or (flat == flat[:1]).all():
                name = key if key not in attrs else f"param_{key}"
                attrs[name] = _plain(col[0]) if len(col) else None
                if isinstance(attrs[name], bool):  # netCDF has no booleans
                    attrs[name] = int(attrs[name])
                constant.append(key)
                if self.units.get(key):
                    units[key] = self.units[key]
                continue
            u = _units(self.units.get(key))
            if rdims != ["replica"] and key in self.depends:
                sub = [d for d in rdims if d in self.depends[key]]
                pos = [rdims.index(d) for d in sub]
                coords[key] = (sub + items, put(col, tuple(cell[i] for i in pos),
                                                tuple(shape[i] for i in pos)), u)
            else:
                coords[key] = (rdims + items, put(col), u)
        if weights:
            for field in self.weights:
                a = self.weights[field]
                name = "weights." + field.replace("/", ".")
                data[name] = (rdims + [f"{name}_dim{i}" for i in range(1, a.ndim)], put(a))
        attrs["sweep_dims"] = " ".join(rdims)
        attrs["constant_keys"] = " ".join(constant)
        attrs["units"] = units
        if self.path:
            attrs["source"] = str(self.path)
        return xr.Dataset(data, coords=coords, attrs=attrs)

    @classmethod
    def from_xarray(cls, ds):
        """the numpy view of a Dataset from to_xarray() (also after sel/isel on it)"""
        rec = ds.attrs.get("record", "epoch")
        dims = [d for d in str(ds.attrs.get("sweep_dims", "")).split() if d in ds.dims]
        rd = "__replica__"
        if dims == ["replica"]:
            st, rd = ds, "replica"
        elif dims:
            st = ds.stack({rd: dims})
        else:
            st = ds.expand_dims(rd)
        if "replica" in st.coords and rd != "replica" and rd in st["replica"].dims:
            st = st.isel({rd: np.nonzero(st["replica"].values >= 0)[0]})  # cells that ran
        n = st.sizes[rd]
        series = {}
        for v in st.data_vars:
            if rec not in st[v].dims:
                continue
            a = st[v].transpose(rd, rec, ...).values
            series[v] = a.reshape(n, a.shape[1], -1) if a.ndim > 3 else a
        own = set(ds.dims) - set(dims) - {rec}  # the series' own dimensions
        params = {}
        for c in st.coords:
            if c in (rec, rd, "replica", "time") or rec in st[c].dims or c in own or \
                    c in dims and rd not in st[c].dims:
                continue
            v = st[c]
            if rd in v.dims:
                a = v.transpose(rd, ...).values
            else:
                a = np.broadcast_to(v.values, (n,) + v.shape).copy()
            params[c] = a
        for key in str(ds.attrs.get("constant_keys", "")).split():
            name = key if f"param_{key}" not in ds.attrs else f"param_{key}"
            if key not in params and name in ds.attrs:
                v = np.asarray(ds.attrs[name])
                params[key] = np.broadcast_to(v, (n,) + v.shape).copy()
        index = st["replica"].values if "replica" in st.coords else None
        attrs = {k: v for k, v in ds.attrs.items()
                 if k not in params and not k.startswith("param_")}
        attrs["n_replicas"] = n
        return cls(series, params, attrs, records=st[rec].values, index=index,
                   path=ds.attrs.get("source"))


# lif_stdp's 12 populations in neuron order (docs/file-format.md)
POPULATIONS = tuple(f"{a} {l} {t}" for a in ("PA", "NPA", "HA") for l in ("L2/3", "L4")
                    for t in ("Pyr", "PV"))

# a sparse grid is used up to this many cells per replica (to_xarray)
PAD = 4

# the series' units (docs/file-format.md); "1": a dimensionless number
SERIES_UNITS = {
    "val_acc": "1", "train_acc": "1", "test_acc": "1", "val_mse": "1", "test_mse": "1",
    "test_acc_clamped": "1", "test_acc_free": "1", "train_acc_clamped": "1",
    "train_acc_free": "1", "full_test_acc_clamped": "1", "full_test_acc_free": "1",
    "conn_pa": "pA", "conn_npa": "pA", "conn_pa_pyr": "pA", "conn_pa_pv": "pA",
    "conn_npa_pyr": "pA", "conn_npa_pv": "pA", "rates": "Hz", "spikes": "1",
    "generation_accuracy": "1",
}


def _units(unit):
    return {"units": unit} if unit else {}


def _fill(dt):
    """the value of a grid cell where no replica ran"""
    if dt.kind == "f":
        return np.nan
    if dt.kind in "iu":
        return -1 if dt.kind == "i" else np.iinfo(dt).max
    if dt.kind == "b":
        return False
    return ""


def _coordinate(values):
    """values of an axis as a coordinate (a list key's rows as text)"""
    if any(isinstance(v, tuple) for v in values):
        return np.array(["[" + ", ".join(map(str, v)) + "]" for v in values])
    return np.array(values)


def _open_h5(path):
    """h5py.File(path, "r"), whose errors (an empty, truncated or foreign file) name the
    path, as the program's do"""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise OSError(f"{path}: not a readable HDF5 file ({e})") from e


def results_path(path):
    """a run directory's results.h5, or the file itself"""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "results.h5")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file (give a run directory or its results.h5)")
    return path


def read(path, classify=True):
    """a results file as a Results (numpy only); classify: add mstdp's
    generation_accuracy (add_generation_accuracy)"""
    try:
        import h5py
    except ImportError as e:
        raise ImportError("apical.load needs h5py (Debian: apt-get install python3-h5py; "
                          "pip: pip install h5py)") from e
    path = results_path(path)
    verify.check(path)  # before h5py parses a byte of it
    with h5py.File(path, "r") as f:
        attrs = {k: _text(v) for k, v in f.attrs.items()}
        fmt = attrs.get("format")
        if fmt != "apical-results":
            hint = ""
            if fmt == "apical-checkpoint":
                hint = " (a checkpoint: load the run's results.h5)"
            raise ValueError(f"{path} is not an apical results file: format {fmt!r}{hint}")
        if int(attrs.get("format_version", 0)) < 2:
            raise ValueError(f"{path}: format_version {attrs.get('format_version')} is older than "
                             "this package reads (2)")
        descriptions = {}
        series, params = {}, {}
        for group, into in (("series", series), ("replicas", params)):
            for name, d in f.get(group, {}).items():
                into[name] = d[...]
                descriptions[f"{group}/{name}"] = _text(d.attrs.get("description", ""))
                if "unit" in d.attrs:
                    descriptions[f"unit/{name}"] = _text(d.attrs["unit"])
        fields = []
        if "weights" in f:
            f["weights"].visititems(
                lambda name, obj: fields.append(name) if isinstance(obj, h5py.Dataset) else None)
        events = [n for n in f.get("events", {}) if not n.endswith("_start")]
        # a shard's rows are some of the experiment's replicas (apical run --shard I/N)
        index = f["shard/replicas"][...] if "shard/replicas" in f else None
    rows = np.arange(int(attrs.get("n_replicas", 0)))
    r = Results(series, params, attrs, weights=_H5Fields(path, "weights", fields),
                index=index, descriptions=descriptions, path=path,
                events=(path, events, rows) if events else None)
    if classify and r.model == "mstdp" and "generated" in r.series:
        add_generation_accuracy(r)
    return r


def add_generation_accuracy(r, clf=None):
    """Adds the series `generation_accuracy` [R][E] to an mstdp Results that generated:
    the fraction of each record's generated images that apical.classifier (logistic
    regression trained on the run's own training files, [data] train_images and
    train_labels) assigns to the clamped label; NaN in records without generation. Where
    the training files cannot be read (a results file moved to another machine), the
    series is left out and r.missing["generation_accuracy"] says why. Returns r."""
    from . import classifier

    r.missing = getattr(r, "missing", {})
    g = r.series.get("generated")
    if g is None or g.ndim != 3:
        return r
    cfg = {(s, k): v for s, kv in parse_ini(r.experiment) for k, v in kv}
    if clf is None:
        files = (cfg.get(("data", "train_images")), cfg.get(("data", "train_labels")))
        try:
            if not all(files):
                raise FileNotFoundError("the configuration names no training files")
            clf = classifier.for_files(*files)
        except (OSError, ValueError) as e:
            r.missing["generation_accuracy"] = f"no classifier: {e}"
            return r
    try:
        q = int(cfg.get(("train", "gen_samples"), 0))
    except ValueError:
        q = 0
    labels = np.asarray(r.params.get("labels", [0] * r.n_replicas)).reshape(-1)
    ranges = np.asarray(r.params.get("data_range", ["pm1"] * r.n_replicas)).reshape(-1)
    acc = np.full(g.shape[:2], np.nan, dtype=np.float32)
    for i in range(r.n_replicas):
        c = int(labels[i])
        if not c or not q or g.shape[2] != c * q * clf.pixels:
            r.missing["generation_accuracy"] = (f"generated holds {g.shape[2]} values per "
                                                f"record, not labels x gen_samples x "
                                                f"{clf.pixels} pixels")
            return r
        acc[i] = classifier.generation_accuracy(g[i].reshape(-1, c, q, clf.pixels), clf,
                                                str(ranges[i]))
    r.series["generation_accuracy"] = acc
    r.descriptions["series/generation_accuracy"] = (
        "the fraction of the record's generated images that a logistic-regression classifier "
        "(apical.classifier, trained on the run's training files) assigns to the clamped "
        "label; computed by apical.load, not stored in the file")
    return r


def load(path, xarray=None, weights=False, classify=True):
    """A run directory or its results.h5, with the sweep's axes named.

    xarray: None (the default) returns an xarray Dataset when xarray is installed and a
    Results otherwise; True requires xarray, False always returns a Results.
    weights: put the weights into the Dataset as variables (a Results reads them when
    asked for, from .weights).
    classify: for an mstdp run that generated, add the series generation_accuracy
    (apical.classifier; the first call on a data set trains it, seconds, then cached)."""
    try:
        r = read(path, classify=classify)
    except OSError as e:  # h5py's say what failed, not where
        if os.fspath(path) in str(e):
            raise
        raise OSError(f"{os.fspath(path)}: not a readable results file ({e})") from e
    if xarray is False:
        return r
    if xarray is None:
        try:
            import xarray as _  # noqa: F401
        except ImportError:
            return r
    return r.to_xarray(weights=weights)
