"""What the tests share: the program, and small runs it makes once per process.

    PYTHONPATH=python APICAL_BINARY=build/apical \
        /usr/bin/python3 -m unittest discover -s python/tests

Without h5py every test is skipped, with the reason printed; without the program they fail.
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

try:
    import h5py  # noqa: F401
    import numpy  # noqa: F401
except ImportError as e:
    reason = (f"apical-python tests skipped: {e.name} is missing (Debian: apt-get install "
              f"python3-h5py; run with /usr/bin/python3)")
    if not os.environ.get("APICAL_PYTHON_TESTS_SKIP_SAID"):  # once, not once per module
        os.environ["APICAL_PYTHON_TESTS_SKIP_SAID"] = "1"
        print(reason, file=sys.stderr)
    raise unittest.SkipTest(reason)

try:
    import apical  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "python"))
    import apical  # noqa: F401

try:
    import matplotlib

    matplotlib.use("Agg")
    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False

try:
    import xarray  # noqa: F401

    HAVE_XARRAY = True
except ImportError:
    HAVE_XARRAY = False

_TMP = tempfile.mkdtemp(prefix="apical-pytest-")
atexit.register(shutil.rmtree, _TMP, True)
_RUNS = {}

# Bars, 3 epochs: seed x t_pres x variant, a full grid of 12 replicas
GRID = """
[experiment]
name = grid
model = microcircuit
dataset = bars
[train]
epochs = 3
val_samples = 8
[model]
dims = 9, 30, 3
[sweep]
seed = 1..3
t_pres = 10, 20
variant = original, le
"""

# Fig. 3's shape: t_pres zipped with learning rates, sub-sweeps per variant, out_lag set
# per t_pres in one of them (a full grid over variant x t_pres x seed all the same)
ZIPPED = """
[experiment]
name = zipped
model = microcircuit
dataset = bars
[train]
epochs = 2
val_samples = 8
[model]
dims = 9, 30, 3
[sweep]
seed = 1..2
t_pres = 10, 20, 30
eta_up = [0.5, 0.1], [0.25, 0.05], [0.2, 0.04]
eta_ip = 0.2, 0.1, 0.05
zip = t_pres eta_up eta_ip
[sweep.le]
variant = le
[sweep.original]
variant = original
out_lag = 2, 5, 8
zip = t_pres out_lag
"""

# sub-sweeps that each change one key: no full grid
READINGS = """
[experiment]
name = readings
model = mstdp
dataset = bars
[train]
epochs = 2
presentations = 10
test_samples = 8
train_eval = 8
gen_samples = 1
gen_every = 1
[model]
pixels = 9
labels = 3
hidden = 8
[sweep]
seed = 1..2
[sweep.default]
clamp = step
[sweep.clamp]
clamp = momentum, step_eps
[sweep.rule]
rule = pre
"""

# rate_vs_spiking.ini's shape: a rate sub-sweep and a spiking one over psi x tau_dend
RATE_SPIKING = """
[experiment]
name = rate_spiking
model = microcircuit
dataset = bars
[train]
epochs = 2
val_samples = 8
[model]
dims = 9, 30, 3
variant = le
[sweep]
seed = 1..2
t_pres = 5, 10
eta_up = [1.0, 0.2], [0.5, 0.1]
eta_ip = 0.4, 0.2
zip = t_pres eta_up eta_ip
[sweep.rate]
neuron = rate
[sweep.spiking]
neuron = poisson
psi = 30, 100
tau_dend = 0.1, 0.3
"""

LIF = """
[experiment]
name = lif
model = lif_stdp
[train]
epochs = 4
record_ms = 5
raster_ms = 20
[sweep]
seed = 1..2
topdown = on, off
"""


def binary():
    b = os.environ.get("APICAL_BINARY") or os.path.join(REPO, "build", "apical")
    if not os.access(b, os.X_OK):
        raise RuntimeError(f"no apical program at {b}: build it (tools/setup.sh) or set "
                           "APICAL_BINARY")
    return b


def tmpdir(name):
    d = os.path.join(_TMP, name)
    os.makedirs(d, exist_ok=True)
    return d


def make_run(name, text, *sets):
    """the run directory of a small experiment, run once per process"""
    if name not in _RUNS:
        ini = os.path.join(tmpdir("ini"), f"{name}.ini")
        with open(ini, "w") as f:
            f.write(text)
        out = os.path.join(_TMP, "runs", name)
        p = subprocess.run([binary(), "run", ini, "--out", out, "--force", "--threads", "2",
                            *sets], capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"apical run {name} failed ({p.returncode}): {p.stderr}")
        _RUNS[name] = out
    return _RUNS[name]


def partial_copy(name, text, done):
    """a copy of a run's results as a run stopped after `done` records leaves them: the
    series NaN beyond (docs/file-format.md), epochs_done < epochs"""
    src = os.path.join(make_run(name, text), "results.h5")
    dst = os.path.join(tmpdir(f"partial-{name}-{done}"), "results.h5")
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["epochs_done"] = done
        for d in f["series"].values():
            a = d[...]
            a[:, done:] = numpy.nan
            d[...] = a
    reseal(dst)
    return dst


def reseal(path):
    """the checksum of a file changed on purpose, written again as apical writes it
    (docs/file-format.md), so that apical.load reads it"""
    import hashlib

    with open(path, "rb") as f:
        data = bytearray(f.read())
    line = b"apical-sha256 %s %d\n" % (hashlib.sha256(data[512:]).hexdigest().encode(), len(data))
    data[:512] = line + bytes(512 - len(line))
    with open(path, "wb") as f:
        f.write(data)
