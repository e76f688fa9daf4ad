#!/usr/bin/env python3
"""Turn a marginsim result file into a short text report and plots.

    scripts/py analysis/report.py results/quickstart.h5 [--out DIR]

Prints the run's provenance and /stats, and writes PNG plots to DIR
(default: next to the result file, <name>_plots/): sampled paths of the
exogenous, mark and oracle prices with liquidations, the insurance fund,
the distribution of bad debt and of the largest cascade, and max drawdown
against liquidated notional.
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

    def save(fig, name):
        fig.tight_layout()
        p = os.path.join(out, name)
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)

    ts = f["timeseries"]
    s = f["paths/summary"][:]
    if "price" in ts and ts["price"].shape[0] > 0:
        t = ts["time"][:] / 3600.0
        k = int(np.argmax(s["liquidations"][: ts["price"].shape[0]]))  # the busiest traced path
        fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[3, 1])
        ax.plot(t, ts["price"][k], lw=0.8, label="exogenous")
        if "mark" in ts:
            ax.plot(t, ts["mark"][k], lw=0.8, label="mark")
            ax.step(t, ts["oracle"][k], lw=0.8, where="post", label="oracle")
            ax2.bar(t, ts["liquidations"][k], width=t[1] - t[0] if len(t) > 1 else 1, color="crimson")
            ax2.set_ylabel("liquidations")
        ax.set_ylabel("USD")
        ax.legend()
        ax.set_title(f"{f.attrs['name']}: path {k}")
        ax2.set_xlabel("hours")
        save(fig, "path.png")
        if "insurance_fund" in ts:
            fig, ax = plt.subplots(figsize=(9, 3.5))
            for row in ts["insurance_fund"][:]:
                ax.plot(t, row, lw=0.8)
            ax.set_xlabel("hours")
            ax.set_ylabel("insurance fund (USD)")
            save(fig, "insurance_fund.png")
    if "liquidations" in s.dtype.names:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        bd = s["bad_debt"]
        axes[0].hist(bd[bd > 0], bins=50)
        axes[0].set_xlabel("bad debt per path (USD), paths with some")
        axes[0].set_title(f"{(bd > 0).mean():.1%} of paths have bad debt")
        axes[1].hist(s["largest_cascade_notional"] / 1e6, bins=50)
        axes[1].set_xlabel("largest cascade (USD M)")
        axes[2].scatter(s["max_drawdown"], s["liquidated_notional"] / 1e6, s=4, alpha=0.5)
        axes[2].set_xlabel("max drawdown of the exogenous price")
        axes[2].set_ylabel("liquidated notional (USD M)")
        save(fig, "liquidations.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(s["max_drawdown"], bins=60)
    ax.set_xlabel("max drawdown (fraction)")
    ax.set_ylabel("paths")
    save(fig, "max_drawdown.png")
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
