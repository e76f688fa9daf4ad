"""Shared helpers of the analysis scripts: reading result files and price CSVs."""
import csv
import datetime as dt
import math
import os
import re

import numpy as np

from marginsim._fmt import (DEFAULT_SHOW, cfg_get, fmt, fmt_interval, money, money_formatter,  # noqa: F401
                            seconds, stat_unit, time_scale)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def read_prices(path):
    """Timestamps (datetime, UTC) and close prices of one of ../shared/data/*.csv.

    The files have three column layouts (see SOURCES.md there); all are read.
    """
    times, closes = [], []
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        for r in rows:
            if "open_time" in r:  # epoch milliseconds
                t = dt.datetime.fromtimestamp(int(r["open_time"]) / 1000, dt.timezone.utc)
                c = r["close"]
            else:
                stamp = r.get("timestamp") or r.get("Date")
                t = dt.datetime.fromisoformat(stamp.replace("+00:00", "")).replace(tzinfo=dt.timezone.utc)
                c = r.get("close") or r.get("Close")
            times.append(t)
            closes.append(float(c))
    return np.array(times), np.array(closes)


# ---------------------------------------------------------------------------
# Strings, attributes and the resolved configuration

def text(x):
    """A str from an HDF5 string (bytes, numpy bytes, str or a numpy scalar)."""
    if isinstance(x, (bytes, np.bytes_)):
        return x.decode("utf-8", "replace")
    if isinstance(x, np.ndarray) and x.shape == ():
        return text(x[()])
    return str(x)


def attr(obj, name, default=None):
    """Attribute `name` of an h5py object as str/int/float, or `default`."""
    if name not in obj.attrs:
        return default
    v = obj.attrs[name]
    if isinstance(v, (bytes, np.bytes_, str)):
        return text(v)
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def config(obj):
    """The resolved configuration (the `config` attribute, YAML) of a run group, as a dict.

    Looks on the group first, then on its file's root. PyYAML (python3-yaml)
    reads it; without PyYAML a minimal reader of the block-style mappings the
    CLI writes is used (enough for scalars such as liquidation.insurance_fund).
    """
    txt = attr(obj, "config")
    if txt is None and obj.name != "/":
        txt = attr(obj.file, "config")
    if not txt:
        return {}
    try:
        import yaml
        c = yaml.safe_load(txt)
        return c if isinstance(c, dict) else {}
    except ImportError:
        return _mini_yaml(txt)


def _mini_yaml(txt):
    root, stack = {}, [(-1, None)]
    stack[0] = (-1, root)
    for line in txt.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "-")):
            continue
        ind = len(line) - len(line.lstrip())
        m = re.match(r"\s*([^:]+):\s*(.*)$", line)
        if not m:
            continue
        while stack and stack[-1][0] >= ind:
            stack.pop()
        parent = stack[-1][1]
        key, val = m.group(1).strip(), m.group(2).strip()
        if val == "":
            d = {}
            parent[key] = d
            stack.append((ind, d))
        else:
            val = val.strip('"')
            try:
                parent[key] = float(val) if re.fullmatch(r"[-+0-9.eE]+", val) else val
            except ValueError:
                parent[key] = val
    return root


def insurance_fund(group):
    """Starting insurance fund (USD) of a run group, from its configuration; None if unknown."""
    v = cfg_get(config(group), "liquidation.insurance_fund")
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def horizon_seconds(group):
    return seconds(cfg_get(config(group), "horizon"))


# ---------------------------------------------------------------------------
# Result-file layout

def file_kind(f):
    """'sweep', 'compare' or 'run'."""
    if "sweep" in f.attrs or ("sweep" in f and "sweep/stats" in f):
        return "sweep"
    if "compare" in f.attrs and "models" in f:
        return "compare"
    return "run"


def get_group(f, path):
    """The group at `path` ('' or '/' is the root); KeyError with a message if absent."""
    if path in (None, "", "/"):
        return f
    p = path.strip("/")
    if p not in f or not hasattr(f[p], "keys"):
        raise KeyError(f"no group '{p}' in {f.filename}")
    return f[p]


def columns_meta(group):
    """{column: (unit, meaning)} from the `columns` attribute of paths/summary."""
    out = {}
    if "paths/summary" not in group:
        return out
    txt = attr(group["paths/summary"], "columns", "") or ""
    for line in txt.splitlines():
        m = re.match(r"\s*(\S+)\s*\[([^\]]*)\]:\s*(.*)", line)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


SUMMARY_FIELDS = ("mean", "sd", "min", "max", "q50", "q90", "q99", "q999", "q01", "q001", "es99", "es01")


def stat(group, name):
    """Value and 95% interval of a statistic named like 'bad_debt.q99' or 'insolvency.probability'.

    Returns (value, lo, hi), the interval as /stats has it (files before
    es99_lo/es01 have none for es99); lo/hi are NaN for fields without an
    interval (sd, min, max). KeyError if the group has no such statistic.
    """
    base, _, field = name.rpartition(".")
    if field == "probability":
        rows = group["stats/probabilities"][:]
        for r in rows:
            if text(r["name"]) == base:
                return float(r["p"]), float(r["lo"]), float(r["hi"])
        raise KeyError(f"no probability '{base}'")
    if field not in SUMMARY_FIELDS:
        raise KeyError(f"unknown statistic field '{field}' in '{name}'")
    rows = group["stats/summary"][:]
    for r in rows:
        if text(r["name"]) == base:
            return stat_of_row(r, field)
    raise KeyError(f"no summary row '{base}'")


def stat_of_row(r, field):
    """(value, lo, hi) of `field` from a /stats/summary or /stats/probabilities row."""
    names = r.dtype.names
    if field == "probability" or (field == "p" and "p" in names):
        return float(r["p"]), float(r["lo"]), float(r["hi"])
    v = float(r[field])
    lo_f, hi_f = (("mean_lo", "mean_hi") if field == "mean" else (f"{field}_lo", f"{field}_hi"))
    if lo_f in names and hi_f in names:
        return v, float(r[lo_f]), float(r[hi_f])
    return v, math.nan, math.nan


def risky_tail(r):
    """(side, q field, es field) of a /stats/summary row: its risky tail ('high': q99, es99; 'low': q01, es01).
    Files written before risky_side have only the high tail."""
    names = r.dtype.names
    if "risky_side" in names and text(r["risky_side"]) == "low":
        return "low", "q01", "es01"
    return "high", "q99", "es99"


# ---------------------------------------------------------------------------
# Per-path comparison of two run groups

def paths_summary(group):
    if "paths/summary" not in group:
        raise KeyError(f"no paths/summary in group '{group.name}' of {group.file.filename}")
    return group["paths/summary"][:]


def group_seed(group):
    """Seed of a run group: its own config's seed if it has one, else the file's root attribute."""
    s = cfg_get(config(group), "seed") if "config" in group.attrs else None
    if s is None:
        s = attr(group.file, "seed")
    try:
        return int(s)
    except (TypeError, ValueError):
        return None
