#!/usr/bin/env python3
"""Calibrate a two-regime market from real prices.

    scripts/py analysis/calibrate.py [CSV] [--window HOURS]

Reads an hourly price file of ../shared/data (default: ETH/USDT spot
2022-2025), prints the annualised realised volatility of hourly log returns,
then splits the hours into "calm" and "stress" by the rolling realised
volatility (above its 80th percentile = stress) and prints, per regime, the
annualised vol and drift and the mean length of a spell: the numbers that go
into market.regimes. A year is 365 days (crypto trades every day).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
try:
    import marginsim  # noqa: F401 - first: it says what a python3 without numpy, pandas or h5py lacks
    import numpy as np
    from _python import SHARED_DATA, read_prices
except ImportError as e:
    print("calibrate.py: %s" % e, file=sys.stderr)
    sys.exit(3)

HOURS_PER_YEAR = 24 * 365


def spells(mask):
    """Lengths (in samples) of the runs of True in a boolean array."""
    out, run = [], 0
    for m in mask:
        if m:
            run += 1
        elif run:
            out.append(run)
            run = 0
    if run:
        out.append(run)
    return np.array(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", nargs="?", default=os.path.join(SHARED_DATA, "eth_usdt_1h_2022-2025_binance_spot.csv"))
    ap.add_argument("--window", type=int, default=24, help="rolling window in hours (default 24)")
    ap.add_argument("--stress-quantile", type=float, default=0.8)
    a = ap.parse_args()
    t, c = read_prices(a.csv)
    lr = np.diff(np.log(c))
    print(f"{os.path.basename(a.csv)}: {len(c)} hourly closes, {t[0]:%Y-%m-%d} to {t[-1]:%Y-%m-%d}")
    print(f"realised vol (annualised): {lr.std() * np.sqrt(HOURS_PER_YEAR):.3f}")
    w = a.window
    roll = np.sqrt(np.convolve(lr ** 2, np.ones(w) / w, mode="valid") * HOURS_PER_YEAR)
    ret = lr[w - 1:]
    cut = np.quantile(roll, a.stress_quantile)
    stress = roll > cut
    for name, m in (("calm", ~stress), ("stress", stress)):
        r = ret[m]
        vol = r.std() * np.sqrt(HOURS_PER_YEAR)
        drift = r.mean() * HOURS_PER_YEAR + 0.5 * vol ** 2  # mu of dS/S
        dur = spells(m).mean()
        print(f"  - {{name: {name}, vol: {vol:.2f}, drift: {drift:.2f}, mean_duration: {dur:.0f}h}}"
              f"   # {m.mean():.0%} of hours")


if __name__ == "__main__":
    main()
