#!/usr/bin/env python3
"""Benchmark of portfolio margin on a book with options (issue #4).

    scripts/py tests/bench/bench_portfolio.py [--build build] [--threads 1] [--paths 200]

Runs scenarios/bench/portfolio-10k.yaml (10,000 accounts, 30% with option
strategies, portfolio margin) and perp-10k.yaml (perps only, static margin)
on the same number of paths, and prints for each: seconds, ticks per second
per thread, liquidations; for the portfolio run also Black-Scholes
evaluations per tick and the exact checks of option accounts against what
checking every option account at every oracle publish would have cost.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(binary, name, paths, threads, out):
    scen = os.path.join(ROOT, "scenarios", "bench", name + ".yaml")
    # the engine alone, without the no-feedback twin (bench_counterfactual.py times it)
    cmd = [binary, "run", scen, "-q", "-o", out, "-j", str(threads), "-n", str(paths), "--set", "stats.counterfactual=false"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status:
        sys.exit("failed: " + " ".join(cmd))
    with h5py.File(out, "r") as f:
        s = f["paths/summary"][:]
    return dt, ru.ru_maxrss / 1024.0, s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--paths", type=int, default=200)
    a = ap.parse_args()
    binary = os.path.join(a.build, "marginsim")
    out = os.path.join(tempfile.mkdtemp(prefix="ms_bench_"), "b.h5")
    ticks = a.paths * 86400
    rates = {}
    print(f"{'scenario':>15} {'paths':>6} {'seconds':>8} {'Mticks/s/thread':>16} {'liquidations':>13} {'peak MB':>8}")
    for name in ("perp-10k", "portfolio-10k"):
        dt, rss, s = run(binary, name, a.paths, a.threads, out)
        rates[name] = ticks / dt / a.threads
        print(f"{name:>15} {a.paths:>6} {dt:8.2f} {rates[name] / 1e6:16.2f} {int(s['liquidations'].sum()):>13} {rss:8.1f}")
        if name == "portfolio-10k":
            bs, rev, naive = s["bs_evaluations"].sum(), s["option_revaluations"].sum(), s["option_revaluations_naive"].sum()
    print(f"\nportfolio-10k is {rates['perp-10k'] / rates['portfolio-10k']:.1f}x slower per tick than perp-10k")
    print(f"Black-Scholes evaluations: {bs / ticks:.2f} per tick ({bs / a.paths:.0f} per path)")
    print(f"option-account checks: {rev / a.paths:.0f} per path; checking every option account at every publish: "
          f"{naive / a.paths:.0f} per path; the bounds saved {100 * (1 - rev / naive):.1f}%")


if __name__ == "__main__":
    main()
