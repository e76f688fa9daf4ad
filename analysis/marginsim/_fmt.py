"""Formatting shared by the plots (marginsim.plot) and the analysis scripts
(analysis/_python.py re-exports these): money and probabilities as text,
durations in seconds, the unit of a statistic, the time axis's scale."""
import math
import re

import numpy as np

_DUR = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(v, default=None):
    """A duration ('250ms', '10m', '1.5h', 0, 12.0) in seconds, or `default`."""
    if v is None:
        return default
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    m = re.fullmatch(r"\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|m|h|d)?\s*", str(v))
    if not m:
        return default
    return float(m.group(1)) * _DUR[m.group(2) or "s"]


def cfg_get(cfg, dotted, default=None):
    """cfg['a']['b'] for 'a.b' (no list indices), or `default`."""
    cur = cfg
    for k in dotted.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    return cur


def stat_unit(name, meta=None):
    """Unit of a statistic 'X.F' (from the columns metadata when given)."""
    base, _, field = name.rpartition(".")
    if field == "probability":
        return "probability"
    if meta and base in meta:
        return meta[base][0]
    if base in ("liquidated_notional", "bad_debt", "insurance_min", "insurance_end", "insurance_paid",
                "socialized_loss", "adl_notional", "adl_loss", "uncovered_loss", "largest_cascade_notional",
                "pending_bad_debt", "penalties", "keeper_rewards", "options_liquidated_notional"):
        return "USD"
    if base == "amplification":
        return "ratio"
    return ""


DEFAULT_SHOW = ("insolvency.probability", "bad_debt.mean", "bad_debt.q99", "liquidated_notional.mean",
                "largest_cascade_notional.q99", "amplification.mean")


def money(x, unit=""):
    """2500000 -> '2.5M', 1234 -> '1.23k', 0 -> '0' (optionally followed by a unit)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    a = abs(x)
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            s = f"{x / div:.3g}{suf}"
            break
    else:
        s = f"{x:.3g}" if a >= 1 or a == 0 else f"{x:.2g}"
    return s + (" " + unit if unit else "")


def fmt(x, unit=""):
    """A value formatted for its unit: money for USD, percent-free probabilities, counts."""
    if x is None:
        return "n/a"
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if unit == "USD":
        return money(x)
    if unit == "probability":
        return f"{x:.3f}" if x >= 0.001 or x == 0 else f"{x:.1e}"
    if unit in ("fraction", "ratio"):
        return f"{x:.3g}"
    return money(x)


def fmt_interval(lo, hi, unit=""):
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return ""
    return f"[{fmt(lo, unit)}, {fmt(hi, unit)}]"


def money_formatter():
    """A matplotlib tick formatter printing 2.5M, 300k, ..."""
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _pos: money(v))


def time_scale(seconds_max):
    """(divisor, unit) for a time axis: hours, or days beyond three days, minutes under two hours."""
    if seconds_max is not None and seconds_max > 3 * 86400:
        return 86400.0, "days"
    if seconds_max is not None and seconds_max < 2 * 3600:
        return 60.0, "minutes"
    return 3600.0, "hours"
