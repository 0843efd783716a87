#!/usr/bin/python3
"""A flip campaign (issue 25): one random byte of a file changed, N times, and what apical
makes of it. Needs h5py (/usr/bin/python3 on Debian).

  tools/flip_campaign.py BUILD/apical [N] [SEED]
  (APICAL_PYTHON_DIR: the python/ folder whose apical.load is tried; default this tree's)

1. --resume: the newest checkpoint of a small run (microcircuit, and lif_stdp with its
   raster) gets one byte XORed with a random non-zero value; the run resumes to the end.
   Each flip is refused (exit 65), resumed identical (the end's series and state equal,
   bit for bit, to an undisturbed resume from the checkpoint it says it resumed from: the
   flipped one, or the one before when it went back), or silently different (exit 0,
   other numbers). A signal is a crash.
2. merge: a flipped shard beside a good one: refused, merged identical, merged different.
3. apical.load: a flipped results file: refused (DamagedFileError), loaded identical,
   loaded different, or Python killed (each load in its own process).
Silently different must be 0, crashes too. Prints one table; exit 1 if either is not 0.
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {
    "microcircuit": "[experiment]\nmodel = microcircuit\n[train]\nepochs = 4\n[output]\n"
    "checkpoint_every = 2\nkeep_checkpoints = 9\n[model]\nt_pres = 10\n[sweep]\nseed = 1..3\n"
    "variant = le, original\n",
    "lif_stdp": "[experiment]\nmodel = lif_stdp\n[model]\nn_pyr = 12\nn_pv = 4\ni_e = 800\n"
    "[train]\nepochs = 4\nrecord_ms = 2\nraster_ms = 20\n[output]\ncheckpoint_every = 2\n"
    "keep_checkpoints = 9\n[sweep]\nseed = 1, 2\n",
}


def arrays(path, groups):
    """every dataset under groups, as bytes, and epochs_done"""
    out = {}
    with h5py.File(path, "r") as f:
        out["epochs_done"] = int(f.attrs["epochs_done"])
        for g in groups:
            if g not in f:
                continue
            if isinstance(f[g], h5py.Dataset):
                out[g] = f[g][...].tobytes()
                continue
            f[g].visititems(lambda n, o: out.__setitem__(f"{g}/{n}", o[...].tobytes())
                            if isinstance(o, h5py.Dataset) else None)
    return out


def apical(binary, cwd, *args):
    """exit code and stderr; a run past 300 s (a hang) counts as killed by signal 9"""
    try:
        p = subprocess.run([binary, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, errors="replace", timeout=300)
    except subprocess.TimeoutExpired:
        return -9, "timed out"
    return p.returncode, p.stderr


def flip(path, rng):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        at = rng.randrange(len(data))
        data[at] ^= rng.randrange(1, 256)
        f.seek(0)
        f.write(data)
    return at


def resume_campaign(binary, tmp, model, text, n, rng):
    ini = os.path.join(tmp, f"{model}.ini")
    with open(ini, "w") as f:
        f.write(text)
    base = os.path.join(tmp, f"{model}-base")
    rc, err = apical(binary, tmp, "run", ini, "--out", base, "--backend", "cpu", "--threads", "1")
    assert rc == 0, err
    groups = ("state", "series", "events")
    # what an undisturbed resume gives from the newest checkpoint, and from the one before
    # (a run's last record has a test phase that a longer run does not: the two differ)
    want = {}
    for frm in (4, 2):
        ref = os.path.join(tmp, f"{model}-ref{frm}")
        shutil.copytree(base, ref)
        if frm == 2:
            os.unlink(os.path.join(ref, "checkpoints", "epoch-000000004.h5"))
        rc, err = apical(binary, tmp, "run", ini, "--out", ref, "--backend", "cpu", "--threads",
                         "1", "--resume", "--set", "train.epochs=6")
        assert rc == 0, err
        want[frm] = arrays(os.path.join(ref, "checkpoints", "epoch-000000006.h5"), groups)
    counts = {"refused": 0, "identical": 0, "different": 0, "crashed": 0, "fell back": 0}
    work = os.path.join(tmp, f"{model}-work")
    for _ in range(n):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work)
        at = flip(os.path.join(work, "checkpoints", "epoch-000000004.h5"), rng)
        rc, err = apical(binary, tmp, "run", ini, "--out", work, "--backend", "cpu", "--threads",
                         "1", "--resume", "--set", "train.epochs=6")
        if rc < 0:
            counts["crashed"] += 1
            print(f"  {model}: byte {at}: killed by signal {-rc}", file=sys.stderr)
        elif rc != 0:
            counts["refused"] += 1
        else:
            back = "resuming from the previous good checkpoint" in err
            counts["fell back"] += back
            got = arrays(os.path.join(work, "checkpoints", "epoch-000000006.h5"), groups)
            same = got == want[2 if back else 4]
            counts["identical" if same else "different"] += 1
            if not same:
                print(f"  {model}: byte {at}: exit 0 with different results", file=sys.stderr)
    return counts


def shards(binary, tmp):
    ini = os.path.join(tmp, "shards.ini")
    with open(ini, "w") as f:
        f.write(MODELS["microcircuit"])
    for i in (0, 1):
        rc, err = apical(binary, tmp, "run", ini, "--out", f"s{i}", "--shard", f"{i}/2",
                         "--backend", "cpu", "--threads", "1")
        assert rc == 0, err
    rc, err = apical(binary, tmp, "merge", "s0", "s1", "--out", "clean")
    assert rc == 0, err
    return os.path.join(tmp, "s1", "results.h5"), os.path.join(tmp, "clean", "results.h5")


def merge_campaign(binary, tmp, n, rng):
    good, clean = shards(binary, tmp)
    groups = ("series", "weights", "replicas", "cohorts/replicas")
    want = arrays(clean, groups)
    keep = good + ".good"
    shutil.copy(good, keep)
    counts = {"refused": 0, "identical": 0, "different": 0, "crashed": 0}
    for _ in range(n):
        shutil.copy(keep, good)
        at = flip(good, rng)
        rc, err = apical(binary, tmp, "merge", "s0", "s1", "--out", "m", "--force")
        if rc < 0:
            counts["crashed"] += 1
            print(f"  merge: byte {at}: killed by signal {-rc}", file=sys.stderr)
        elif rc != 0:
            counts["refused"] += 1
        else:
            same = arrays(os.path.join(tmp, "m", "results.h5"), groups) == want
            counts["identical" if same else "different"] += 1
    shutil.copy(keep, good)
    return counts


LOAD = """
import sys, numpy as np
sys.path.insert(0, sys.argv[3])
import apical
try:
    r = apical.load(sys.argv[1], xarray=False)
except getattr(apical, "DamagedFileError", ()):
    sys.exit(65)
except Exception as e:  # refused, though not as damaged: counted apart
    print(type(e).__name__, e)
    sys.exit(66)
want = np.load(sys.argv[2])
same = all(np.array_equal(r.series[k], want[k], equal_nan=True) for k in want.files) and \
    len(r.series) == len(want.files)
sys.exit(0 if same else 1)
"""


def load_campaign(tmp, n, rng):
    _, clean = shards(sys.argv[1], tmp) if not os.path.exists(os.path.join(tmp, "clean")) else \
        (None, os.path.join(tmp, "clean", "results.h5"))
    with h5py.File(clean, "r") as f:
        np.savez(os.path.join(tmp, "want.npz"), **{k: v[...] for k, v in f["series"].items()})
    path = os.path.join(tmp, "flipped.h5")
    counts = {"refused": 0, "identical": 0, "different": 0, "crashed": 0}
    for _ in range(n):
        shutil.copy(clean, path)
        at = flip(path, rng)
        p = subprocess.run([sys.executable, "-c", LOAD, path, os.path.join(tmp, "want.npz"),
                            os.environ.get("APICAL_PYTHON_DIR", os.path.join(HERE, "..", "python"))],
                           capture_output=True, text=True)
        if p.returncode < 0:
            counts["crashed"] += 1
            print(f"  load: byte {at}: Python killed by signal {-p.returncode}", file=sys.stderr)
        elif p.returncode == 65:
            counts["refused"] += 1
        elif p.returncode == 66:
            counts["refused"] += 1
            counts["other error"] = counts.get("other error", 0) + 1
        elif p.returncode == 0:
            counts["identical"] += 1
        else:
            counts["different"] += 1
            print(f"  load: byte {at}: {p.returncode} {p.stderr[-300:]}", file=sys.stderr)
    return counts


def main():
    binary = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 25)
    tmp = tempfile.mkdtemp(prefix="apical-flips-")
    rows = []
    try:
        for model, text in MODELS.items():
            rows.append((f"--resume ({model})", resume_campaign(binary, tmp, model, text, n, rng)))
        rows.append(("merge (a shard)", merge_campaign(binary, tmp, n, rng)))
        rows.append(("apical.load (results)", load_campaign(tmp, n, rng)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'one byte flipped, N = ' + str(n):28} refused  identical  different  crashed")
    bad = 0
    for name, c in rows:
        extra = f"  ({c['fell back']} went back to the previous checkpoint)" if "fell back" in c else ""
        if c.get("other error"):
            extra = f"  ({c['other error']} of the refusals an error other than 'damaged')"
        print(f"{name:28} {c['refused']:7}  {c['identical']:9}  {c['different']:9}  "
              f"{c['crashed']:7}{extra}")
        bad += c["different"] + c["crashed"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
