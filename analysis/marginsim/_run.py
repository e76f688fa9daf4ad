"""marginsim.run: a scenario run in-process through the shared library.

The run goes through the library's public API (include/marginsim/marginsim.h):
ms_config_load with the overrides, ms_simulate, then the ms_result readers.
The returned Result holds the tables the library keeps in memory; what only
the result file holds (cascades, book, timeseries) needs `output=`.
"""
import threading

import numpy as np
import pandas as pd

from . import _native
from .result import PROBABILITY_UNITS, ROW_UNIT, FileOnly, Result

# The fields of /stats/summary after `name`, in the file's order.
_QUANTS = ("q50", "q90", "q99", "q999", "q01", "q001")
MAX_THREADS = 1024  # as the CLI's -j
_FILE_ONLY = ("cascades", "book", "timeseries", "fan", "assertions")


class Error(RuntimeError):
    """A failure reported by the library: `status` its text ("bad input",
    "interrupted", ...), `exit_code` the CLI's exit code for it (2 for bad
    input, 3 otherwise), and the message naming file, key and accepted values."""

    def __init__(self, status, exit_code, message):
        super().__init__(message)
        self.status = status
        self.exit_code = exit_code


def _check(ffi, lib, s, err):
    if s != 0:
        raise Error(ffi.string(lib.ms_strerror(s)).decode(), lib.ms_status_exit_code(s),
                    ffi.string(err.msg).decode("utf-8", "replace"))


def _text(value):
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (k, _text(v)) for k, v in value.items()) + "}"
    return str(value)


def _whole(value):
    """An integer argument as --set text: a Python or numpy integer as is;
    anything else as given, for the library to check (paths=2.7 is an error,
    not 2 paths)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return "%d" % value
    return _text(value)


class InMemoryResult(Result):
    """A Result of marginsim.run without a result file: `summary`, `stats`,
    `probabilities`, `feedback`, `liquidations` (with output.liquidations:
    true in the scenario or `set`), `config` and `attrs` as from a file;
    `cascades`, `book`, `timeseries`, `fan` and `assertions` are written to
    the result file only and raise FileOnly (an AttributeError) naming
    `output=`. Columns
    have the file's types (integer columns are integers)."""

    def __init__(self, tables, attrs, config_yaml):
        super().__init__(None)
        self.__dict__.update(tables)
        self.__dict__["attrs"] = attrs
        self.__dict__["config_yaml"] = config_yaml
        self.__dict__["kind"] = "run"
        self.__dict__["models"] = {}
        self.__dict__["compare"] = None
        self.__dict__["cells"] = []
        self.__dict__["axes"] = {}
        for name in ("sweep", "sweep_differences", "sweep_probabilities", "sweep_feedback", "sweep_cells"):
            self.__dict__[name] = None
        self.__dict__["axes_numeric"] = {}
        units = tables["summary"].attrs.get("units", {})
        self.__dict__["_summary_units"] = dict(units)
        self.__dict__["summary_columns"] = {c: (u, "") for c, u in units.items()}

    def __repr__(self):
        return "marginsim.Result(in memory: %s, %d paths)" % (self.attrs.get("name"), self.attrs.get("paths"))

    def _read(self, name, fn):
        if name.split("/")[0] in _FILE_ONLY or name.startswith("timeseries"):
            raise FileOnly("marginsim.run: /%s is written to the result file only: call "
                                 "marginsim.run(..., output=\"FILE.h5\") to keep it" % name)
        return None

    @property
    def root(self):
        return self

    def sub(self, group):
        if group in (None, "", "/"):
            return self
        raise KeyError("an in-memory result has no group '%s'" % group)

    @property
    def assertions(self):
        return self._read("assertions", None)

    @property
    def cascades(self):
        return self._read("cascades", None)

    @property
    def book(self):
        return self._read("book", None)

    @property
    def timeseries(self):
        return self._read("timeseries", None)

    @property
    def fan(self):
        return self._read("timeseries/fan", None)


def _tables(ffi, lib, res, keeps_liquidations):
    err = ffi.new("ms_error *")
    npaths = lib.ms_result_paths(res)
    # /paths/summary
    cols, units = {}, {}
    buf = np.empty(npaths, dtype=np.float64)
    for i in range(lib.ms_result_ncolumns(res)):
        name = ffi.string(lib.ms_result_column_name(res, i)).decode()
        _check(ffi, lib, lib.ms_result_column(res, name.encode(), ffi.cast("double *", buf.ctypes.data), err), err)
        # the library copies doubles (integers exact): back to the file's type
        cols[name] = buf.astype(ffi.string(lib.ms_result_column_type(res, i)).decode())
        units[name] = ffi.string(lib.ms_result_column_unit(res, i)).decode()
    summary = pd.DataFrame(cols)
    summary.attrs["units"] = units
    # /stats/summary, in the file's field order
    v, lo, hi = ffi.new("double *"), ffi.new("double *"), ffi.new("double *")

    def stat(name):
        _check(ffi, lib, lib.ms_result_stat(res, name.encode(), v, lo, hi, err), err)
        return v[0], lo[0], hi[0]

    rows = []
    for i in range(lib.ms_result_nstats(res)):
        col = ffi.string(lib.ms_result_stats_column(res, i)).decode()
        row = {"name": col, "n": int(stat(col + ".n")[0])}
        row["mean"], row["mean_lo"], row["mean_hi"] = stat(col + ".mean")
        for f in ("sd", "min", "max"):
            row[f] = stat(col + "." + f)[0]
        for q in _QUANTS + ("es99", "es01"):
            row[q], row[q + "_lo"], row[q + "_hi"] = stat(col + "." + q)
        row["risky_side"] = ffi.string(lib.ms_result_stats_risky_side(res, i)).decode()
        rows.append(row)
    stats = pd.DataFrame(rows)
    stats["unit"] = [units.get(n, "") for n in stats["name"]] if len(stats) else []
    stats.attrs["units"] = {c: {"name": "", "n": "count", "risky_side": "", "unit": ""}.get(c, ROW_UNIT)
                            for c in stats.columns}
    # /stats/probabilities
    k, n, p = ffi.new("int64_t *"), ffi.new("int64_t *"), ffi.new("double *")
    prows = []
    for i in range(lib.ms_result_nevents(res)):
        _check(ffi, lib, lib.ms_result_event(res, i, k, n, p, lo, hi, err), err)
        prows.append({"name": ffi.string(lib.ms_result_event_name(res, i)).decode(),
                      "definition": ffi.string(lib.ms_result_event_definition(res, i)).decode(),
                      "k": int(k[0]), "n": int(n[0]), "p": p[0], "lo": lo[0], "hi": hi[0]})
    probabilities = pd.DataFrame(prows, columns=list(PROBABILITY_UNITS))
    probabilities.attrs["units"] = dict(PROBABILITY_UNITS)
    # /stats/feedback (with stats.counterfactual)
    feedback = None
    nf = lib.ms_result_nfeedback(res)
    if nf > 0:
        sname = ffi.new("const char **")
        w, o, d = ffi.new("double *"), ffi.new("double *"), ffi.new("double *")
        frows = []
        for i in range(nf):
            _check(ffi, lib, lib.ms_result_feedback(res, i, sname, n, w, o, d, lo, hi, err), err)
            frows.append({"statistic": ffi.string(sname[0]).decode(), "n": int(n[0]), "with_impact": w[0],
                          "no_impact": o[0], "diff": d[0], "lo": lo[0], "hi": hi[0]})
        feedback = pd.DataFrame(frows)
        feedback["unit"] = [units.get(s, "") for s in feedback["statistic"]]
        feedback.attrs["units"] = {c: {"statistic": "", "n": "count", "unit": ""}.get(c, ROW_UNIT)
                                   for c in feedback.columns}
    # /liquidations, when kept
    liquidations = None
    nl = lib.ms_result_nliquidations(res)
    nfields = lib.ms_result_nliquidation_fields(res)
    if keeps_liquidations:
        lcols, lunits = {}, {}
        lbuf = np.empty(nl, dtype=np.float64)
        for i in range(nfields):
            name = ffi.string(lib.ms_result_liquidation_field_name(res, i)).decode()
            _check(ffi, lib, lib.ms_result_liquidation_field(res, name.encode(),
                                                             ffi.cast("double *", lbuf.ctypes.data), err), err)
            lcols[name] = lbuf.astype(ffi.string(lib.ms_result_liquidation_field_type(res, i)).decode())
            lunits[name] = ffi.string(lib.ms_result_liquidation_field_unit(res, i)).decode()
        liquidations = pd.DataFrame(lcols)
        liquidations.attrs["units"] = lunits
    return {"summary": summary, "stats": stats, "probabilities": probabilities, "feedback": feedback,
            "liquidations": liquidations}



def run(scenario, paths=None, set=None, seed=None, threads=0, output=None, progress=None):  # noqa: A002
    """Run the scenario file `scenario` in-process through the shared library.

    paths, seed    override the scenario's (as the CLI's -n and --seed)
    set            {"key.path": value, ...}: overrides as the CLI's --set
                   (values as YAML text; Python bools and lists are converted)
    threads        0: OpenMP's default, else 1 to 1024; results are the same
                   for any count
    output         a result file to write as well (None: no file at all)
    progress       called as progress(done, total) as paths finish; an
                   exception it raises cancels the run and is re-raised
    Returns a Result: with `output`, the file's Result (all tables); without,
    an in-memory Result (see InMemoryResult). Raises marginsim.Error on bad
    input (exit_code 2) or a failed run; Ctrl-C cancels the run (the library
    writes nothing) and raises KeyboardInterrupt.
    """
    if set is not None and not hasattr(set, "items"):
        raise TypeError("marginsim.run: set= takes a dict {\"key.path\": value, ...} (got %s)" % type(set).__name__)
    if (isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer))
            or not 0 <= threads <= MAX_THREADS):
        raise ValueError("marginsim.run: threads= takes a whole number from 0 (OpenMP's default) to %d (got %r)"
                         % (MAX_THREADS, threads))
    ffi, lib = _native.load()
    sets = []
    if paths is not None:
        sets.append("paths=" + _whole(paths))
    if seed is not None:
        sets.append("seed=" + _whole(seed))
    for key, value in (set or {}).items():
        sets.append("%s=%s" % (key, _text(value)))
    keep = [ffi.new("char[]", s.encode()) for s in sets]
    csets = ffi.new("const char *[]", keep) if keep else ffi.NULL
    err = ffi.new("ms_error *")
    pcfg = ffi.new("ms_config **")
    _check(ffi, lib, lib.ms_config_load(pcfg, str(scenario).encode(), csets, len(keep), err), err)
    cfg = pcfg[0]
    try:
        ytext = lib.ms_config_to_yaml(cfg)
        config_yaml = ffi.string(ytext).decode() if ytext != ffi.NULL else None
        if ytext != ffi.NULL:
            lib.free(ytext)
        cancel = ffi.new("sig_atomic_t *", 0)
        out_c = ffi.new("char[]", str(output).encode()) if output is not None else ffi.NULL
        cmd = ffi.new("char[]", ("marginsim.run(%r)" % str(scenario)).encode())
        opts = ffi.new("ms_run_opts *")
        opts.threads = int(threads)
        opts.output = out_c
        opts.command = cmd
        opts.cancel = cancel
        box = {}
        cb = None
        if progress is not None:
            @ffi.callback("void(void *, int64_t, int64_t)")
            def cb(ctx, done, total):
                if "raised" in box:
                    return
                try:
                    progress(int(done), int(total))
                except BaseException as e:  # noqa: B902 - never unwind through C: cancel, re-raise after
                    box["raised"] = e
                    cancel[0] = 1
            opts.progress = cb
        pres = ffi.new("ms_result **")

        done = threading.Event()

        def work():
            try:
                box["status"] = lib.ms_simulate(cfg, opts, pres, err)
            finally:
                done.set()

        def wait():
            while not done.wait(0.1):
                pass

        # The run goes on a worker thread (cffi releases the GIL), so that
        # Ctrl-C reaches this thread, which sets the cancel flag and waits
        # for the library to stop (it removes its temporary file) before the
        # configuration is freed. The wait is on an Event, not Thread.join:
        # a join interrupted by Ctrl-C can mark the thread stopped while it
        # runs (CPython 3.11), and a second Ctrl-C must not cut the wait.
        t = threading.Thread(target=work, name="marginsim.run", daemon=True)
        t.start()
        try:
            wait()
        except KeyboardInterrupt:
            cancel[0] = 1
            while not done.is_set():
                try:
                    wait()
                except KeyboardInterrupt:
                    pass
            if pres[0] != ffi.NULL:
                lib.ms_result_free(pres[0])
            raise
        if "raised" in box:  # the progress callback raised: the run was cancelled for it
            if pres[0] != ffi.NULL:
                lib.ms_result_free(pres[0])
            raise box["raised"]
        _check(ffi, lib, box["status"], err)
        res = pres[0]
        if output is not None:  # the file holds every table: read it, not the copies in memory
            lib.ms_result_free(res)
            return Result(str(output))
        try:
            import yaml  # Debian's python3-yaml
            resolved = yaml.safe_load(config_yaml) if config_yaml else {}
            keeps = bool((resolved.get("output") or {}).get("liquidations"))
            tables = _tables(ffi, lib, res, keeps)
            # the root attributes of the file that say how to run it again
            attrs = {"name": resolved.get("name"), "seed": resolved.get("seed"), "scenario_path": str(scenario),
                     "paths": int(lib.ms_result_paths(res)), "threads": int(lib.ms_result_threads(res)),
                     "seconds": float(lib.ms_result_seconds(res)), "config": config_yaml}
        finally:
            lib.ms_result_free(res)
    finally:
        lib.ms_config_free(cfg)
    return InMemoryResult(tables, attrs, config_yaml)
