"""Read marginsim result files into pandas, for notebooks.

    import marginsim                       # with analysis/ on PYTHONPATH
    r = marginsim.open("results/quickstart.h5")
    r.summary.describe()

`open` reads a run file, a `--compare` file or a sweep file (docs/output.md)
and returns a `Result`. Tables are read from the file when first asked for
and kept. What each attribute holds, and what it is when the file has no
such dataset, is in `Result`'s docstring and docs/workflows.md ("Python").

Units: pandas has no per-column metadata, so every DataFrame carries
`df.attrs["units"]`, a dict column -> unit ("" when the column has none:
indices, flags, names), and `df.attrs["meaning"]`, the dataset's own
`meaning` attribute when it has one. In tables whose rows are statistics of
different columns (`stats`, `feedback`, `compare.differences`, `sweep`)
the unit of a row's values is `df.attrs["row_units"][row name]`. `attrs` are
not always carried through pandas operations: read them off the table
`open` gave.

Figures: `marginsim.plot` draws every figure of analysis/report.py from a
Result, one function each (`plot_price_fan(r)`, `plot_bad_debt(r, ax=ax)`,
`plot_sweep_heatmap(r, "bad_debt.q99")`, ...), also importable from here
as `marginsim.plot_bad_debt`; see marginsim/plot/__init__.py's docstring for the list,
what each returns (the Axes, or the Figure of a multi-panel figure) and
what it needs. matplotlib is imported only when a figure is drawn.

`run` runs a scenario in-process through the shared library (cffi) and
returns a Result without a file (or with one: `output=`); see its docstring
and docs/library.md ("From Python") for where the library is found. The
tables only the file holds raise `FileOnly` (an AttributeError) there.
"""
import importlib.util as _util
import sys as _sys

# An interpreter without them (a pyenv or venv python3 on PATH, while
# Debian's packages install for /usr/bin/python3) gets told what to do,
# not a bare ModuleNotFoundError from deep inside.
_MISSING = [_m for _m in ("numpy", "pandas", "h5py") if _util.find_spec(_m) is None]
if _MISSING:
    raise ImportError("marginsim needs numpy, pandas and h5py; %s has no %s. Run scripts with scripts/py (it finds "
                      "a python3 that has them, such as /usr/bin/python3), start jupyter from that python3, or "
                      "install them (Debian: apt-get install python3-numpy python3-pandas python3-h5py; "
                      "scripts/setup)" % (_sys.executable, ", ".join(_MISSING)), name=_MISSING[0])

from .result import Result, CompareTables, FileOnly, IncompleteRun, open  # noqa: F401,E402
from ._run import Error, InMemoryResult, run  # noqa: F401,E402

from .plot import (NotDrawable, caption, plot_bad_debt, plot_cascades, plot_compare_differences,  # noqa: F401
                   plot_compare_headline, plot_drawdown, plot_insurance_fund, plot_liquidations, plot_price_fan,
                   plot_sweep_differences, plot_sweep_heatmap, plot_sweep_stats, plot_tradeoff)
from . import plot  # noqa: F401,E402

__all__ = ["open", "run", "IncompleteRun", "Result", "InMemoryResult", "CompareTables", "Error", "FileOnly", "plot", "NotDrawable",
           "caption", "plot_price_fan",
           "plot_liquidations", "plot_bad_debt", "plot_cascades", "plot_insurance_fund", "plot_drawdown",
           "plot_compare_headline", "plot_tradeoff", "plot_compare_differences", "plot_sweep_heatmap",
           "plot_sweep_stats", "plot_sweep_differences"]
