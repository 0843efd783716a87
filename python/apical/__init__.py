"""apical's results and runs from Python (docs/python.md).

    import apical
    r = apical.load("runs/bars_tpres")               # xarray Dataset, or apical.Results
    r = apical.run("experiments/bars_tpres_quick.ini", train__epochs=100)
    from apical import plot
    plot.versus(r, "val_acc", x="t_pres", hue="variant")
    from apical import report
    report.build("runs/bars_tpres")                  # its page; the shell: apical report RUN

Needs numpy and h5py; xarray is used when importable; matplotlib for apical.plot.
"""

from . import plot, style  # matplotlib is imported when a plot is drawn
from .results import Results, load, parse_ini
from .runner import ApicalError, find_binary, ini_value, run
from .verify import DamagedFileError

__version__ = "0.1.0"
__all__ = ["ApicalError", "DamagedFileError", "Results", "find_binary", "ini_value", "load", "parse_ini", "plot",
           "run", "style"]
