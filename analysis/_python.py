"""Shared helpers of the analysis scripts: reading price CSVs (calibrate.py).

Result files are read through the marginsim package (analysis/marginsim:
`marginsim.open`); the formatting helpers imported below are re-exported from
marginsim/_fmt.py for scripts that imported them from here."""
import csv
import datetime as dt
import os

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
