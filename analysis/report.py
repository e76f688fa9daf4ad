#!/usr/bin/env python3
"""Turn a marginsim result file into a short text report and plots.

    scripts/py analysis/report.py results/quickstart.h5 [--out DIR]

Prints the run's provenance and /stats, and writes PNG plots to DIR
(default: next to the result file, <name>_plots/): sampled paths of the
exogenous, mark and oracle prices with liquidations, the insurance fund,
the distribution of bad debt and of the largest cascade, and max drawdown
against liquidated notional.

For a `--compare` file it prints the per-model table (capital efficiency
and stress outcomes) and the paired differences with their intervals, plots
the trade-off (initial margin per unit of risk against bad debt and
insolvency) and the differences, and the plots above for each model in
DIR/<model>/.
"""
import argparse
import os
import sys

import h5py
import numpy as np


def provenance(f):
    a = f.attrs
    print(f"{a['name']}: marginsim {a['version']}, seed {a['seed']}, {a['paths']} paths, created {a['created']}")
    print(f"command: {a['command']}\n")


def text_report(f):
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


def plots(f, out, title):
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
        ax.set_title(f"{title}: path {k}")
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


def compare_report(f):
    key = f.attrs["compare"]
    m = f["compare/models"][:]
    print(f"compared: {key}, paired on the same paths and book\n")
    print(f"{'value':14s} {'IM (USD M)':>11s} {'risk (USD M)':>13s} {'IM/risk':>8s} {'bad debt':>12s} "
          f"{'P(insolvency) [95% CI]':>26s} {'liquidations':>13s}")
    for r in m:
        print(f"{r['model'].decode():14s} {r['initial_margin'] / 1e6:11.3f} {r['risk'] / 1e6:13.3f} "
              f"{r['im_per_risk']:8.3f} {r['bad_debt_mean']:12.6g} "
              f"{r['insolvency_p']:8.4f} [{r['insolvency_lo']:.4f}, {r['insolvency_hi']:.4f}] "
              f"{r['liquidations_mean']:13.4g}")
    print("\npaired differences (value - baseline), mean over paths with 95% interval:")
    for r in f["compare/differences"][:]:
        print(f"  {r['statistic'].decode():30s} {r['model'].decode():>12s} - {r['baseline'].decode():<12s} "
              f"{r['diff']:14.6g}  [{r['lo']:14.6g}, {r['hi']:14.6g}]")


def compare_plots(f, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out, exist_ok=True)
    m = f["compare/models"][:]
    names = [v.decode() for v in m["model"]]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, n in enumerate(names):
        ax.scatter(m["im_per_risk"][i], m["bad_debt_mean"][i], s=40)
        ax.annotate(n, (m["im_per_risk"][i], m["bad_debt_mean"][i]), textcoords="offset points", xytext=(5, 5))
        p, lo, hi = m["insolvency_p"][i], m["insolvency_lo"][i], m["insolvency_hi"][i]
        ax2.errorbar([m["im_per_risk"][i]], [p], yerr=[[p - lo], [hi - p]], fmt="o", capsize=4, label=n)
    ax.set_xlabel("initial margin / one-day 99% risk at the start")
    ax.set_ylabel("mean bad debt per path (USD)")
    ax2.set_xlabel("initial margin / one-day 99% risk at the start")
    ax2.set_ylabel("P(insolvency), Wilson 95%")
    ax2.legend()
    fig.suptitle(f"{f.attrs['name']}: capital efficiency against stress ({f.attrs['compare']})")
    fig.tight_layout()
    written = [os.path.join(out, "tradeoff.png")]
    fig.savefig(written[0], dpi=110)
    plt.close(fig)
    d = f["compare/differences"][:]
    stats = [s.decode() for s in dict.fromkeys(d["statistic"])]
    ncol = 4
    nrow = (len(stats) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 1.1 + 0.5 * len(names) * nrow + 0.6 * nrow), squeeze=False)
    for ax in axes.flat[len(stats):]:
        ax.axis("off")
    for ax, st in zip(axes.flat, stats):
        rows = d[[x.decode() == st for x in d["statistic"]]]
        y = np.arange(len(rows))
        ax.errorbar(rows["diff"], y, xerr=[rows["diff"] - rows["lo"], rows["hi"] - rows["diff"]], fmt="o", capsize=3)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, [r.decode() for r in rows["model"]])
        ax.set_title(st, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"paired differences against {d['baseline'][0].decode()} (95%)")
    fig.tight_layout()
    written.append(os.path.join(out, "differences.png"))
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result")
    ap.add_argument("--out", help="directory for the plots")
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args()
    with h5py.File(a.result, "r") as f:
        provenance(f)
        out = a.out or os.path.splitext(a.result)[0] + "_plots"
        if "compare" in f:
            compare_report(f)
            written = [] if a.no_plots else compare_plots(f, out)
            for name, g in f["models"].items():
                print(f"\n=== {g.attrs['value']} ===")
                text_report(g)
                if not a.no_plots:
                    written += plots(g, os.path.join(out, name), f.attrs["name"] + " / " + g.attrs["value"])
        else:
            text_report(f)
            written = [] if a.no_plots else plots(f, out, f.attrs["name"])
        for p in written:
            print("wrote", p)


if __name__ == "__main__":
    sys.exit(main())
