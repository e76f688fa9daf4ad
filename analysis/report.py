#!/usr/bin/env python3
"""Turn a marginsim result file into a short text report and plots.

    scripts/py analysis/report.py results/quickstart.h5 [--out DIR]

Prints the run's provenance and /stats, and writes PNG plots to DIR
(default: next to the result file, <name>_plots/): sampled price paths,
the distribution of max drawdown and of the final price.
"""
import argparse
import os
import sys

import h5py
import numpy as np


def text_report(f):
    a = f.attrs
    print(f"{a['name']}: marginsim {a['version']}, seed {a['seed']}, {a['paths']} paths, created {a['created']}")
    print(f"command: {a['command']}\n")
    st = f["stats/summary"][:]
    print(f"{'statistic':32s} {'mean':>12s} {'95% CI':>28s} {'q50':>12s} {'q99':>12s}")
    for r in st:
        name = r["name"].decode()
        print(f"{name:32s} {r['mean']:12.6g} [{r['mean_lo']:12.6g}, {r['mean_hi']:12.6g}] "
              f"{r['q50']:12.6g} {r['q99']:12.6g}")
    print()
    for r in f["stats/probabilities"][:]:
        print(f"P({r['name'].decode()}) = {r['p']:.4f}  [{r['lo']:.4f}, {r['hi']:.4f}]  "
              f"({r['k']}/{r['n']}: {r['definition'].decode()})")


def plots(f, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out, exist_ok=True)
    written = []
    ts = f["timeseries"]
    if "price" in ts and ts["price"].shape[0] > 0:
        t = ts["time"][:] / 3600.0
        fig, ax = plt.subplots(figsize=(9, 4))
        for row in ts["price"][:]:
            ax.plot(t, row, lw=0.8)
        ax.set_xlabel("hours")
        ax.set_ylabel("exogenous price (USD)")
        ax.set_title(f"{f.attrs['name']}: first {ts['price'].shape[0]} paths")
        fig.tight_layout()
        p = os.path.join(out, "paths.png")
        fig.savefig(p, dpi=110)
        written.append(p)
        plt.close(fig)
    s = f["paths/summary"][:]
    for col, label in (("max_drawdown", "max drawdown (fraction)"), ("final_price", "final price (USD)")):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(s[col], bins=60)
        ax.set_xlabel(label)
        ax.set_ylabel("paths")
        fig.tight_layout()
        p = os.path.join(out, f"{col}.png")
        fig.savefig(p, dpi=110)
        written.append(p)
        plt.close(fig)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result")
    ap.add_argument("--out", help="directory for the plots")
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args()
    with h5py.File(a.result, "r") as f:
        text_report(f)
        if not a.no_plots:
            out = a.out or os.path.splitext(a.result)[0] + "_plots"
            for p in plots(f, out):
                print("wrote", p)


if __name__ == "__main__":
    sys.exit(main())
