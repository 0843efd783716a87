"""Running the program: `apical run FILE --set section.key=value ...`, then loading."""

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile

from .results import load

# sysexits codes the program exits with (README.md)
EXIT_CODES = {
    64: "usage", 65: "bad data", 66: "missing input", 69: "backend unavailable",
    71: "out of memory", 73: "cannot create output, or the directory is in use",
    74: "I/O error", 78: "bad configuration", 130: "interrupted (resume with resume=True)",
}

OPTIONS = ("force", "resume", "threads", "backend", "progress", "args", "xarray")


class ApicalError(RuntimeError):
    """The program failed: returncode, stderr (everything it printed), command."""

    def __init__(self, returncode, stderr, command):
        self.returncode, self.stderr, self.command = returncode, stderr, command
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        said = next((ln for ln in reversed(lines) if ln.startswith("apical: ")),
                    lines[-1] if lines else "(no output)")
        meaning = EXIT_CODES.get(returncode, "failed")
        if returncode < 0:
            meaning = f"killed by signal {-returncode}"
        super().__init__(f"apical exited with {returncode} ({meaning}): {said}")


def _runnable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_binary(binary=None):
    """the program: the argument, else $APICAL_BINARY, else the one installed with this
    package (pip install . puts it in the environment's bin/, found also when the
    environment is not activated), else ./build/apical, else build/apical of the
    repository this package sits in, else `apical` on PATH"""
    for how, cand in (("binary=", binary), ("$APICAL_BINARY", os.environ.get("APICAL_BINARY"))):
        if cand:
            cand = os.fspath(cand)
            found = cand if os.sep in cand else shutil.which(cand)
            if found and _runnable(found):
                return found
            raise FileNotFoundError(f"apical: {how} {cand}: no such program")
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    # pip install . (scikit-build-core): the scripts folder of the interpreter's scheme
    for scheme in (None, "posix_user"):
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else \
                sysconfig.get_path("scripts")
        except KeyError:
            continue
        candidates.append(os.path.join(scripts, "apical"))
    candidates.append(os.path.join(os.getcwd(), "build", "apical"))
    candidates.append(os.path.normpath(os.path.join(here, "..", "..", "build", "apical")))
    tried = []
    for cand in candidates:
        if cand in tried:
            continue
        if _runnable(cand):
            return cand
        tried.append(cand)
    on_path = shutil.which("apical")
    if on_path:
        return on_path
    tried.append("apical on PATH")
    raise FileNotFoundError("apical: the program was not found (tried " + ", ".join(tried) +
                            "); install it with the package (pip install . in a clone), "
                            "build it (tools/setup.sh), or give binary= or $APICAL_BINARY")


def ini_value(v):
    """a Python value as experiment-file text: True -> true, range(1, 4) -> 1..3,
    [0.5, 0.1] -> 0.5, 0.1, [[0.5, 0.1], [0.05, 0.01]] -> [0.5, 0.1], [0.05, 0.01]"""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, range):
        if v.step == 1 and len(v):
            return f"{v.start}..{v.stop - 1}"
        v = list(v)
    if hasattr(v, "tolist") and not isinstance(v, (int, float)):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        if not v:
            raise ValueError("an empty list has no value in an experiment file")
        return ", ".join(f"[{ini_value(x)}]" if isinstance(x, (list, tuple, range)) else
                         ini_value(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def settings(overrides=None, **kw):
    """--set arguments from {"section.key": value} and section__key=value (sub-sweep
    sections: sweep__le__variant="le" is sweep.le.variant)"""
    out = []
    for key, value in list((overrides or {}).items()) + list(kw.items()):
        name = key.replace("__", ".")
        if "." not in name:
            raise TypeError(f"{key}: an override names its section: train__epochs=10 or "
                            f"{{'train.epochs': 10}}")
        out += ["--set", f"{name}={ini_value(value)}"]
    return out


def _output_dir(binary, experiment, sets):
    """where the program puts the run without --out (runs/NAME), as --print-config says"""
    p = subprocess.run([binary, "run", experiment, *sets, "--print-config"], capture_output=True,
                       text=True, errors="replace")
    if p.returncode:
        raise ApicalError(p.returncode, p.stderr + p.stdout,
                          [binary, "run", experiment, *sets, "--print-config"])
    for line in p.stdout.splitlines()[:3]:
        if "; output " in line:
            return line.split("; output ", 1)[1].strip()
    raise ApicalError(0, p.stdout, [binary, "run", experiment, "--print-config"])


def run(experiment, out=None, binary=None, overrides=None, *, force=False, resume=False,
        threads=None, backend=None, progress=True, args=(), xarray=None, **kw):
    """Run an experiment with the program and load its results.

    experiment  an experiment file, or the text of one (a string with a newline)
    out         the run directory (default: the program's, runs/NAME under the current one)
    binary      the program (default: find_binary(): $APICAL_BINARY, the one installed
                with the package, ./build/apical, apical on PATH)
    overrides   {"section.key": value}; or as keywords section__key=value, e.g.
                train__epochs=10, sweep__seed=range(1, 4), sweep__le__variant="le"
                (keywords because Python names cannot hold a dot; values as ini_value())
    force, resume, threads, backend: the program's options of those names (threads: 1 to
                4096, None: every core)
    progress    True: the program's output to stderr as it comes; a function: called
                with each line; False: quiet
    args        further command-line arguments
    Returns load(out_dir, xarray=xarray). Raises ApicalError (returncode, stderr) when the
    program fails. Ctrl-C stops the run the way the program stops (a checkpoint, then
    exit 130; resume=True continues) and raises KeyboardInterrupt."""
    unknown = [k for k in kw if "__" not in k]
    if unknown:
        raise TypeError(f"run() got unexpected keyword {unknown[0]!r}: an override is "
                        "section__key=value (options: " + ", ".join(OPTIONS) + ")")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or not 1 <= threads <= 4096):
        # as the program's --threads (0 is not "every core": None is)
        raise ValueError(f"threads={threads!r}: expected a number of threads from 1 to 4096 "
                         "(None: every core)")
    binary = find_binary(binary)
    sets = settings(overrides, **kw)
    tmp = None
    experiment = os.fspath(experiment)
    if "\n" in experiment and not os.path.exists(experiment):
        tmp = tempfile.mkdtemp(prefix="apical-")
        path = os.path.join(tmp, "experiment.ini")
        with open(path, "w") as f:
            f.write(experiment)
        experiment = path
    try:
        if out is None:
            out = _output_dir(binary, experiment, sets)
        cmd = [binary, "run", experiment, "--out", os.fspath(out), *sets]
        cmd += ["--force"] if force else []
        cmd += ["--resume"] if resume else []
        cmd += ["--threads", str(threads)] if threads is not None else []
        cmd += ["--backend", backend] if backend else []
        cmd += [os.fspath(a) for a in args]
        _execute(cmd, progress)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return load(out, xarray=xarray)


def _execute(cmd, progress):
    lines = []
    # the program reports on stderr; stdout joins it so that one pipe carries everything
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", bufsize=1)
    try:
        for line in proc.stdout:
            lines.append(line)
            if progress is True:
                sys.stderr.write(line)
                sys.stderr.flush()
            elif callable(progress):
                progress(line.rstrip("\n"))
        rc = proc.wait()
    except KeyboardInterrupt:
        # a terminal's Ctrl-C reached the program too; a notebook's did not
        proc.send_signal(signal.SIGINT)
        proc.wait()
        raise
    finally:
        proc.stdout.close()
    if rc:
        raise ApicalError(rc, "".join(lines), cmd)
