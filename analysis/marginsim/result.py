"""The Result object: one run's tables (a run file's root, a --compare
model's group, a sweep cell's group) as pandas DataFrames, read lazily."""
import builtins
import functools
import os
import re
import stat
import struct
import warnings

import h5py
import numpy as np
import pandas as pd

# Units of the record tables for files whose datasets carry no `columns`
# attribute (the tables of docs/output.md; "" = no unit: indices, signs);
# the attribute, when present, wins.
LIQUIDATION_UNITS = {
    "path": "", "account": "", "time": "ms", "obs_time": "ms", "side": "", "impact_triggered": "flag",
    "full": "flag", "generation": "", "cascade": "", "oracle_price": "USD", "exog_oracle_price": "USD",
    "mark_price": "USD", "qty": "units", "notional": "USD", "bad_debt": "USD", "penalty": "USD",
    "adl_qty": "units", "delay": "s",
}
CASCADE_UNITS = {
    "path": "", "index": "", "start": "s", "end": "s", "liquidations": "count",
    "impact_triggered": "count", "notional": "USD", "bad_debt": "USD", "depth": "count",
}
BOOK_UNITS = {
    "account": "", "side": "", "strategy": "", "collateral": "USD", "quantity": "units", "leverage": "",
    "notional": "USD", "initial_margin": "USD", "maintenance_margin": "USD", "liquidation_price": "USD",
    "call_strike": "USD", "call_qty": "units", "put_strike": "USD", "put_qty": "units", "expiry": "s",
    "premium": "USD",
}
PROBABILITY_UNITS = {"name": "", "definition": "", "k": "count", "n": "count",
                     "p": "probability", "lo": "probability", "hi": "probability"}
COMPARE_MODEL_UNITS = {
    "model": "", "initial_margin": "USD", "risk": "USD", "im_per_risk": "", "bad_debt_mean": "USD",
    "insolvency_p": "probability", "insolvency_lo": "probability", "insolvency_hi": "probability",
    "liquidations_mean": "count", "largest_cascade_notional_mean": "USD",
}
SUMMARY_FIELDS = ("mean", "sd", "min", "max", "q50", "q90", "q99", "q999", "q01", "q001", "es99", "es01")
TIMESERIES_UNITS = {"time": "s", "liquidations": "count", "margin_ratio": "fraction", "regime": ""}
TIMESERIES_ORDER = ("price", "mark", "oracle", "regime", "open_interest", "insurance_fund", "liquidations",
                    "margin_ratio")
# In tables of statistics of many columns, a value field's unit is the row's:
# the `unit` column the reader adds.
ROW_UNIT = "(unit column)"
_COLUMN_LINE = re.compile(r"\s*(\S+)\s*\[([^\]]*)\]:\s*(.*)")


# The per-asset columns of a book of several markets, "<field>_<asset>" in /paths/summary (Result.markets).
MARKET_FIELDS = ("liquidations", "liquidated_notional", "bad_debt", "contagion_liquidations", "final_price",
                 "min_price", "funding_long_net")


def stat_of_row(row, field):
    """(value, lo, hi) of `field` of one row (a mapping: a DataFrame row or a dict) of a stats table:
    "probability" (or "p") of a probabilities row; else the field with its `<field>_lo`/`_hi` (the
    mean's `mean_lo`/`mean_hi`), NaN for a field without an interval (sd, min, max)."""
    names = row.keys()
    if field == "probability" or (field == "p" and "p" in names):
        return float(row["p"]), float(row["lo"]), float(row["hi"])
    v = float(row[field])
    lo_f, hi_f = "%s_lo" % field, "%s_hi" % field
    if lo_f in names and hi_f in names:
        return v, float(row[lo_f]), float(row[hi_f])
    return v, float("nan"), float("nan")


def _decode(values):
    """A numpy column with byte strings (fixed or variable length) as str objects."""
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8").astype(object)
    if values.dtype.kind == "O":
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in values], dtype=object)
    return values


def _attr(obj, name, default=None):
    v = obj.attrs.get(name, default)
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.generic):
        return v.item()
    return v


def _liquidations(ds, f):
    """/liquidations; a book of several markets' records name their position (a row of the run's /book): joined
    to it for the position's account, unit and market (the asset's name)."""
    df = _frame(ds, LIQUIDATION_UNITS)
    book = ds.parent.get("book")
    if "position" in df.columns and book is not None:
        rows = book[()]
        assets = [a.strip() for a in _attr(book, "assets").split(",")]
        pos = df["position"].to_numpy()
        df["account"] = rows["account"][pos]
        df["unit"] = rows["unit"][pos]
        df["market"] = np.asarray(assets, dtype=object)[rows["market"][pos]]
        df.attrs["units"].update({"account": "", "unit": "", "market": ""})
    return df


def _frame(ds, units):
    """A compound dataset (any shape, flattened in C order) as a DataFrame:
    one column per field, strings decoded, `units` and `meaning` in attrs.
    A unit the dataset's `columns` attribute gives (the writer's field
    table) wins; `units` fills the rest (files without the attribute, and
    units the file leaves empty, such as a probability's)."""
    data = ds[()].reshape(-1)
    df = pd.DataFrame({name: _decode(data[name]) for name in data.dtype.names})
    own = {k: u for k, (u, _) in _columns_meta(ds).items() if u}
    df.attrs["units"] = {c: own.get(c, units.get(c, "")) for c in df.columns}
    meaning = _attr(ds, "meaning")
    if meaning is not None:
        df.attrs["meaning"] = meaning
    return df


def _columns_meta(ds):
    """column -> (unit, meaning) from /paths/summary's `columns` attribute ("name [unit]: meaning" lines)."""
    meta = {}
    for line in (_attr(ds, "columns") or "").splitlines():
        m = _COLUMN_LINE.match(line)
        if m:
            meta[m.group(1)] = (m.group(2), m.group(3))
    return meta


def _summary_units(ds):
    """column -> unit from /paths/summary's `columns` attribute."""
    return {k: u for k, (u, _) in _columns_meta(ds).items()}


def _summary_frame(ds):
    meta = _columns_meta(ds)
    df = _frame(ds, {k: u for k, (u, _) in meta.items()})
    df.attrs["meanings"] = {c: meta.get(c, ("", ""))[1] for c in df.columns}
    return df


def _add_row_units(df, key, summary_units, fixed):
    """Append the `unit` column of a table whose rows are statistics (named in
    `key`): "probability" for 0/1 indicators, else the summary column's unit."""
    if "probability" in df.columns:
        prob = df["probability"].to_numpy() == 1
    else:
        prob = np.zeros(len(df), dtype=bool)
    df["unit"] = ["probability" if p else summary_units.get(n, "") for n, p in zip(df[key], prob)]
    units = {c: fixed.get(c, ROW_UNIT) for c in df.columns}
    units["unit"] = ""
    df.attrs["units"] = units
    return df


class FileOnly(AttributeError):
    """A table an in-memory Result (marginsim.run without output=) does not
    hold: it is written to the result file only."""


class CompareTables:
    """The /compare tables of a --compare file: `models` (one row per value)
    and `differences` (paired differences against the first value)."""

    def __init__(self, models, differences):
        self.models = models
        self.differences = differences

    def __repr__(self):
        return "CompareTables(models=%d rows, differences=%d rows)" % (
            len(self.models) if self.models is not None else 0,
            len(self.differences) if self.differences is not None else 0)


class Result:
    """One result file, or one run inside it (a --compare model, a sweep cell).

    Tables of one run (None when the group has no such dataset, e.g.
    `liquidations` without `output.liquidations: true`, or `summary` at the
    root of a --compare or sweep file; a dataset with no rows gives an empty
    DataFrame with its columns):
      summary        /paths/summary, one row per path (attrs["meanings"]: each
                     column's meaning, from the dataset's `columns` attribute)
      summary_columns  column -> (unit, meaning) as /paths/summary documents them
      assertions     /assertions, one row per assertion (value, lo, hi and
                     threshold are in the asserted statistic's unit)
      liquidations   /liquidations, one row per liquidation (a book of several
                     markets: its `position` is a row of /book, and the
                     frame adds that row's `account`, `unit` and `market`,
                     the asset's name)
      cascades       /cascades, one row per cascade
      book           /book, one row per account (a book of several markets:
                     one row per position)
      stats          /stats/summary plus a `unit` column (the row's column's unit)
      probabilities  /stats/probabilities
      feedback       /stats/feedback plus `unit` (with stats.counterfactual)
      timeseries     /timeseries in long form: one row per (path, sample),
                     columns path, time (s), then one per variable; None
                     without traced paths (output.timeseries.paths: 0)
      fan            /timeseries/fan in the same long form
      markets        a book of several markets (book.markets): one row per
                     (path, market) from the summary's per-asset columns:
                     path, market (the asset's name), then liquidations,
                     liquidated_notional, bad_debt, contagion_liquidations,
                     final_price, min_price, funding_long_net (those the
                     run has); None for a one-market run
    File-level (the root Result only):
      attrs          the root attributes (strings decoded)
      config         the resolved configuration (root `config` attribute,
                     YAML) as a dict; config_yaml the text. For a model or
                     a cell, its own `config` attribute
      kind           "run", "compare" or "sweep"
      models         --compare: dict value (as given) -> Result; {} otherwise
      compare        --compare: CompareTables; None otherwise
      sweep          sweep: /sweep/stats/summary in long form, one row per
                     (cell, statistic): cell, label, one column per axis
                     (named by its key), then the stats fields and `unit`;
                     None otherwise. sweep_differences, sweep_probabilities,
                     sweep_feedback the same for /sweep/differences, ...
      cells          sweep: list of Result, one per cell; [] otherwise
      axes           sweep: dict key -> list of values as given; {} otherwise
      axes_numeric   sweep: dict key -> the values as numbers (durations in
                     s, rates per day; NaN for a value that is not a number)
      sweep_cells    sweep: one row per cell: cell, label, then per axis
                     the position of the cell's value in axes[key]
    Navigation and statistics:
      root           the Result of the file's root (itself at the root)
      sub(group)     the Result of a group inside the file ("models/static",
                     "sweep/runs/3"; "" or "/" the root); KeyError if absent
      stat(name)     (value, lo, hi) of a statistic named like "bad_debt.q99"
                     or "insolvency.probability", the 95% interval as the
                     file has it (NaN where the field has none); KeyError
                     when the run has no such statistic
    """

    def __init__(self, path, group="/"):
        self.path = path
        self.group = group.rstrip("/") + "/"

    def __repr__(self):
        return "marginsim.Result(%r%s)" % (self.path, "" if self.group == "/" else ", group=%r" % self.group)

    # -- access ---------------------------------------------------------------
    @property
    def root(self):
        return self if self.group == "/" else Result(self.path)

    def sub(self, group):
        """The Result of a group inside this file ("" or "/" is the root)."""
        if group in (None, "", "/"):
            return self.root
        p = group.strip("/")
        with h5py.File(self.path, "r") as f:
            if p not in f or not isinstance(f[p], h5py.Group):
                raise KeyError("no group '%s' in %s" % (p, self.path))
        return Result(self.path, "/" + p)

    def stat(self, name):
        """(value, lo, hi) of statistic `name` ("bad_debt.q99", "insolvency.probability")."""
        base, _, field = name.rpartition(".")
        if field == "probability":
            p = self.probabilities
            rows = p[p["name"] == base] if p is not None else ()
            if len(rows) == 0:
                raise KeyError("no probability '%s'" % base)
            r = rows.iloc[0]
            return float(r["p"]), float(r["lo"]), float(r["hi"])
        if field not in SUMMARY_FIELDS:
            raise KeyError("unknown statistic field '%s' in '%s'" % (field, name))
        s = self.stats
        rows = s[s["name"] == base] if s is not None else ()
        if len(rows) == 0:
            raise KeyError("no summary row '%s'" % base)
        return stat_of_row(rows.iloc[0], field)

    def _read(self, name, fn):
        """fn(dataset or group, file) for the object at group/name, None when absent."""
        with h5py.File(self.path, "r") as f:
            full = self.group + name
            if full not in f:
                return None
            return fn(f[full], f)

    @functools.cached_property
    def summary_columns(self):
        """column -> (unit, meaning) of the /paths/summary columns the file documents ({} without it)."""
        return self._read("paths/summary", lambda ds, f: _columns_meta(ds)) or {}

    @functools.cached_property
    def _summary_units(self):
        units = self._read("paths/summary", lambda ds, f: _summary_units(ds))
        if units is None and self.kind == "sweep":  # a sweep's tables: the baseline cell's columns
            base = int(self.attrs.get("baseline", 0))
            units = Result(self.path, "/sweep/runs/%d" % base)._summary_units
        return units or {}

    # -- one run's tables -------------------------------------------------------
    @functools.cached_property
    def summary(self):
        return self._read("paths/summary", lambda ds, f: _summary_frame(ds))

    @functools.cached_property
    def assertions(self):
        return self._read("assertions", lambda ds, f: _frame(ds, {"confidence": "probability"}))

    @functools.cached_property
    def liquidations(self):
        return self._read("liquidations", _liquidations)

    @functools.cached_property
    def cascades(self):
        return self._read("cascades", lambda ds, f: _frame(ds, CASCADE_UNITS))

    @functools.cached_property
    def book(self):
        return self._read("book", lambda ds, f: _frame(ds, BOOK_UNITS))

    @functools.cached_property
    def stats(self):
        df = self._read("stats/summary", lambda ds, f: _frame(ds, {}))
        return None if df is None else _add_row_units(
            df, "name", self._summary_units, {"name": "", "n": "count", "risky_side": ""})

    @functools.cached_property
    def probabilities(self):
        return self._read("stats/probabilities", lambda ds, f: _frame(ds, PROBABILITY_UNITS))

    @functools.cached_property
    def feedback(self):
        df = self._read("stats/feedback", lambda ds, f: _frame(ds, {}))
        return None if df is None else _add_row_units(
            df, "statistic", self._summary_units, {"statistic": "", "n": "count"})

    def _long(self, name):
        def read(g, f):
            if not isinstance(g, h5py.Group) or "time" not in g:
                return None
            time = g["time"][()]
            # the order of docs/output.md, then any other variable by name
            names = [k for k, v in g.items() if k != "time" and isinstance(v, h5py.Dataset)]
            variables = [v for v in TIMESERIES_ORDER if v in names] + [v for v in names if v not in TIMESERIES_ORDER]
            if not variables:  # output.timeseries.paths: 0 writes the times only
                return None
            npaths = g[variables[0]].shape[0]
            cols = {"path": np.repeat(np.arange(npaths, dtype=np.int64), len(time)),
                    "time": np.tile(time, npaths)}
            units = {"path": "", "time": "s"}
            for v in variables:
                cols[v] = g[v][()].reshape(-1)  # rows = paths, columns = samples: path-major
                units[v] = _attr(g[v], "unit") or TIMESERIES_UNITS.get(v, "")
            df = pd.DataFrame(cols)
            df.attrs["units"] = units
            if "regime" in g:
                df.attrs["regime_names"] = (_attr(g["regime"], "names") or "").split(",")
            return df
        return self._read(name, read)

    @functools.cached_property
    def timeseries(self):
        return self._long("timeseries")

    @functools.cached_property
    def markets(self):
        s = self.summary
        cfg = self.config
        book = (cfg or {}).get("book") or {}
        if s is None or not (book.get("markets") or {}).get("enabled"):
            return None
        names = [a["name"] for a in cfg["market"]["assets"]]
        fields = [f for f in MARKET_FIELDS if f + "_" + names[0] in s.columns]
        frames = []
        for a in names:
            df = pd.DataFrame({"path": s["path"].to_numpy(), "market": a})
            for f in fields:
                df[f] = s[f + "_" + a].to_numpy()
            frames.append(df)
        out = pd.concat(frames, ignore_index=True).sort_values(["path", "market"], kind="stable",
                                                                key=lambda c: c.map(names.index) if c.name == "market"
                                                                else c).reset_index(drop=True)
        units = self._summary_units
        out.attrs["units"] = {"path": "", "market": "", **{f: units.get(f + "_" + names[0], "") for f in fields}}
        return out

    @functools.cached_property
    def fan(self):
        return self._long("timeseries/fan")

    # -- file level -------------------------------------------------------------
    @functools.cached_property
    def attrs(self):
        with h5py.File(self.path, "r") as f:
            g = f[self.group]
            return {k: _attr(g, k) for k in g.attrs}

    @functools.cached_property
    def config_yaml(self):
        return self.attrs.get("config")

    @functools.cached_property
    def config(self):
        if self.config_yaml is None:
            return None
        import yaml  # Debian's python3-yaml; only needed for the dict
        return yaml.safe_load(self.config_yaml)

    @functools.cached_property
    def kind(self):
        with h5py.File(self.path, "r") as f:
            if "sweep" in f:
                return "sweep"
            if "compare" in f or "models" in f:
                return "compare"
            return "run"

    @functools.cached_property
    def models(self):
        def read(g, f):
            return {_attr(m, "value", name): Result(self.path, m.name) for name, m in g.items()}
        return self._read("models", read) or {}

    @functools.cached_property
    def compare(self):
        def read(g, f):
            models = _frame(g["models"], COMPARE_MODEL_UNITS) if "models" in g else None
            diff = None
            if "differences" in g:
                first = next(iter(self.models.values()), None)
                units = first._summary_units if first is not None else {}
                diff = _add_row_units(_frame(g["differences"], {}), "statistic", units,
                                      {"statistic": "", "model": "", "baseline": "", "n": "count",
                                       "probability": ""})
            return CompareTables(models, diff)
        return self._read("compare", read)

    # -- sweeps -----------------------------------------------------------------
    @functools.cached_property
    def axes(self):
        def read(g, f):
            return {_attr(a, "key"): list(_decode(a["values"][()]))
                    for _, a in sorted(g.items(), key=lambda kv: int(kv[0]))}
        return self._read("sweep/axes", read) or {}

    @functools.cached_property
    def cells(self):
        def read(g, f):
            return [Result(self.path, g[k].name) for k in sorted(g, key=int)]
        return self._read("sweep/runs", read) or []

    @functools.cached_property
    def axes_numeric(self):
        def read(g, f):
            return {_attr(a, "key"): [float(x) for x in a["numeric"][()]] if "numeric" in a
                    else [float("nan")] * a["values"].shape[0]
                    for _, a in sorted(g.items(), key=lambda kv: int(kv[0]))}
        return self._read("sweep/axes", read) or {}

    @functools.cached_property
    def sweep_cells(self):
        def read(ds, f):
            cells = _frame(ds, {})
            index = f["sweep/index"][()].reshape(len(cells), -1)
            for a, key in enumerate(self.axes):
                cells[key] = index[:, a].astype(np.int64)
            cells.attrs["units"] = {c: "" for c in cells.columns}
            return cells
        return self._read("sweep/cells", read)

    def _sweep_axes(self, f):
        """Per cell: label and each axis's value (numbers when the axis's
        values all are, durations in s and rates per day; else as given)."""
        cells = _frame(f["sweep/cells"], {})
        index = f["sweep/index"][()]
        cols, units = {"cell": cells["cell"].to_numpy(), "label": cells["label"].to_numpy()}, {"cell": "", "label": ""}
        g = f["sweep/axes"]
        for a, name in enumerate(sorted(g, key=int)):
            key = _attr(g[name], "key")
            numeric = g[name]["numeric"][()]
            given = _decode(g[name]["values"][()])
            use = numeric if np.all(np.isfinite(numeric)) else given
            cols[key] = use[index[:, a]]
            units[key] = ""
        return cols, units

    def _sweep_table(self, name, key, fixed):
        def read(ds, f):
            cols, units = self._sweep_axes(f)
            ncells, nrows = ds.shape
            df = _frame(ds, {})
            axis = pd.DataFrame({k: np.repeat(v, nrows) for k, v in cols.items()})
            out = pd.concat([axis, df], axis=1)
            out.attrs = df.attrs
            if key is not None:
                out = _add_row_units(out, key, self._summary_units, {**fixed, **units})
            else:
                out.attrs["units"] = {**units, **{c: fixed.get(c, "") for c in df.columns}}
            return out
        return self._read(name, read)

    @functools.cached_property
    def sweep(self):
        return self._sweep_table("sweep/stats/summary", "name", {"name": "", "n": "count", "risky_side": ""})

    @functools.cached_property
    def sweep_differences(self):
        return self._sweep_table("sweep/differences", "statistic",
                                 {"statistic": "", "probability": "", "n": "count"})

    @functools.cached_property
    def sweep_probabilities(self):
        return self._sweep_table("sweep/stats/probabilities", None, PROBABILITY_UNITS)

    @functools.cached_property
    def sweep_feedback(self):
        return self._sweep_table("sweep/stats/feedback", "statistic", {"statistic": "", "n": "count"})


JOURNAL_SUFFIX = ".partial"
_JOURNAL_MAGIC = b"MSJRNL"  # then the journal format, two digits (any: an unfinished run all the same)


class IncompleteRun(OSError):
    """The file is the journal of a run that has not finished ("<result>.partial"), or the
    result file of such a run: no statistic can be read from it (docs/robustness.md)."""


def _journal_paths(path):
    """The number of paths of the run whose journal is `path` (None when unreadable)."""
    try:
        head = _read_head(path, 32)
        return struct.unpack_from("<q", head, 24)[0] if len(head) == 32 else None
    except OSError:
        return None


def _read_head(path, n):
    """The first `n` bytes of the regular file `path`; OSError for anything else (a FIFO is never waited on)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        return os.read(fd, n)
    finally:
        os.close(fd)


def check_finished(path):
    """Raise IncompleteRun when `path` is a journal, or names a result file whose run has not finished."""
    try:
        magic = _read_head(path, 8)
    except FileNotFoundError:
        magic = None
    except OSError:  # a folder, an unreadable file: not a journal; the caller says what it is
        return
    if magic is not None and magic[:6] == _JOURNAL_MAGIC:
        result = path[:-len(JOURNAL_SUFFIX)] if path.endswith(JOURNAL_SUFFIX) else path
        n = _journal_paths(path)
        raise IncompleteRun(f"{path}: the journal of an unfinished marginsim run"
                            f"{f' of {n} paths' if n else ''}, not a result file; continue the run with "
                            f"`marginsim run --resume {result}`")
    if magic is None and os.path.exists(path + JOURNAL_SUFFIX):
        try:
            jmagic = _read_head(path + JOURNAL_SUFFIX, 8)
        except OSError:  # unreadable here (another user's): say what is known below
            jmagic = None
        if jmagic is not None and jmagic[:6] != _JOURNAL_MAGIC:  # empty or damaged at its start: refused by --resume
            raise IncompleteRun(f"{path}: no result file; {path}{JOURNAL_SUFFIX} is not a marginsim journal (empty, "
                                f"or damaged at its start), so the run cannot be resumed: remove "
                                f"{path}{JOURNAL_SUFFIX}, then run it again")
        n = _journal_paths(path + JOURNAL_SUFFIX)
        raise IncompleteRun(f"{path}: the run has not finished{f' ({n} paths)' if n else ''}: its paths so far are "
                            f"in {path}{JOURNAL_SUFFIX}; continue it with `marginsim run --resume {path}`")


def open(path):  # noqa: A001 - the name a notebook expects: marginsim.open
    """Open a marginsim result file (run, --compare or sweep) as a Result.

    Raises IncompleteRun (an OSError) for the journal of an unfinished run,
    or a result file whose run has not finished, and OSError when the file
    is not a readable HDF5 file; a valid result file of any kind opens, and
    tables it does not hold are None."""
    check_finished(path)
    if os.path.exists(path) and not os.path.isfile(path):
        raise OSError(f"{path}: not a regular file")
    with h5py.File(path, "r") as f:
        if "version" not in f.attrs or "rng" not in f.attrs:
            raise OSError(f"{path}: an HDF5 file, but not a marginsim result (its root has no version and rng)")
        version = f.attrs["version"]
    _warn_version(path, version.decode() if isinstance(version, bytes) else str(version))
    return Result(path)


# The version of the result files these readers define (CMakeLists.txt's project version): files of 0.4.0 were
# written while columns changed meaning (docs/output.md, "What changed meaning"); a newer file may hold what
# these readers do not know.
READER_VERSION = (0, 5, 1)


def _warn_version(path, version):
    # "0.5", "0.5.0-rc1", "0.5.0+g1234": the leading digits of up to three parts, missing parts 0
    parts = [re.match(r"\d*", x).group() for x in version.split(".")[:3]]
    v = tuple(int(x) for x in parts) + (0,) * (3 - len(parts)) if parts and all(parts) else None
    if v is None:
        warnings.warn(f"{path}: written by marginsim {version!r}, a version these readers cannot read: its "
                      f"columns may have other meanings (docs/output.md, \"What changed meaning\")", stacklevel=3)
    elif v < READER_VERSION:
        warnings.warn(f"{path}: written by marginsim {version}, before {'.'.join(map(str, READER_VERSION))}: "
                      f"some columns had other meanings then (docs/output.md, \"What changed meaning\")",
                      stacklevel=3)
    elif v[:2] > READER_VERSION[:2]:
        warnings.warn(f"{path}: written by marginsim {version}, newer than these readers "
                      f"({'.'.join(map(str, READER_VERSION))}): read it with that version's analysis/",
                      stacklevel=3)
