#!/usr/bin/env python3
"""Benchmark of the liquidation engine (issue #3).

    scripts/py tests/bench/bench_perp.py [--build build] [--threads 1] [--repeat 2]

For scenarios/bench/perp-10k.yaml and perp-1m.yaml, runs the scenario with
the book's leverage set so that there are no liquidations, some, and many
(the scenario as written), and prints for each run: wall time, ticks, total
liquidations, ticks per second per thread, and peak memory (maximum resident
set of the process). Then it fits the cost of one path as

    a * ticks + b * L        (a: seconds per tick, L: liquidations in the path)

a from the run without liquidations (less the set-up time measured by a
one-path run), b by least squares over the runs with liquidations. The
per-tick cost of ticks during which impact decays is counted in b.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

LEVERAGE = [("none", "{dist: uniform, min: 1, max: 1.01}"),
            ("some", "{dist: uniform, min: 2, max: 8}"),
            ("more", "{dist: uniform, min: 2, max: 14}"),
            ("as written", None)]


def run(binary, scenario, out, threads, extra):
    """Wall time (s), peak RSS (MB) of one marginsim run."""
    # the engine alone: without the no-feedback twin (bench_counterfactual.py times it)
    cmd = [binary, "run", scenario, "-q", "-o", out, "-j", str(threads), "--set", "stats.counterfactual=false", *extra]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    return dt, ru.ru_maxrss / 1024.0


def best(binary, scenario, out, threads, extra, repeat):
    runs = [run(binary, scenario, out, threads, extra) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    binary = os.path.join(a.build, "marginsim")
    tmp = tempfile.mkdtemp(prefix="ms_bench_")
    out = os.path.join(tmp, "b.h5")
    # The reference of the tick-rate target: the foundation's price-only
    # benchmark, 1 day of 1 s ticks, on as many paths as perp-10k.
    price = os.path.join(ROOT, "scenarios", "bench", "price-1regime.yaml")
    p_dt, _ = best(binary, price, out, a.threads, ["-n", "1000"], a.repeat)
    price_rate = 1000 * 86400 / p_dt / 1e6 / a.threads
    print(f"price-only (price-1regime.yaml, 1000 paths): {p_dt:.3f} s, {price_rate:.1f} M ticks/s per thread")
    for name in ("perp-10k", "perp-1m"):
        scen = os.path.join(ROOT, "scenarios", "bench", name + ".yaml")
        subprocess.run([binary, "run", scen, "-q", "-o", out, "-n", "1"], check=True)  # runs at all?
        setup, _ = best(binary, scen, out, a.threads, ["-n", "1", "--set", "book.leverage=" + LEVERAGE[0][1]], a.repeat)
        print(f"\n{name}: set-up (book, index, file; one path without liquidations) {setup:.3f} s")
        print(f"{'leverage':>12} {'paths':>6} {'seconds':>8} {'liquidations':>13} {'Mticks/s/thread':>16} {'peak MB':>8}")
        rows = []
        with open(scen) as f:
            npaths = int(re.search(r"^paths:\s*(\d+)", f.read(), re.M).group(1))
        for label, lev in LEVERAGE:
            extra = ["--set", "book.leverage=" + lev] if lev else []
            if label == "none":  # more paths: a x ticks must dwarf the timing noise of the set-up
                extra += ["-n", str(max(10 * npaths, 2000))]
            dt, rss = best(binary, scen, out, a.threads, extra, a.repeat)
            with h5py.File(out, "r") as f:
                s = f["paths/summary"][:]
                paths = len(s)
                ticks = paths * int(round(86400 / 1.0))
                liqs = int(s["liquidations"].sum())
                nacc = f["book"].shape[0]
            rows.append((label, paths, dt, liqs, ticks))
            print(f"{label:>12} {paths:>6} {dt:8.3f} {liqs:>13} {ticks / dt / 1e6 / a.threads:16.1f} {rss:8.1f}")
        label, paths, dt0, _, ticks = rows[0]
        a_tick = (dt0 - setup) * a.threads / (ticks - ticks / paths)
        xs = np.array([r[3] for r in rows[1:]], float)
        ys = np.array([(r[2] - setup) * a.threads - a_tick * (r[4] - r[4] / r[1]) for r in rows[1:]], float)
        b = float(xs @ ys / (xs @ xs))
        print(f"fit per path: a = {a_tick * 1e9:.2f} ns per tick ({1 / a_tick / 1e6:.0f} M ticks/s per thread), "
              f"b = {b * 1e6:.3f} us per liquidation; book of {nacc} accounts")
        for r, y in zip(rows[1:], ys):
            print(f"   {r[0]:>12}: measured {y:.3f} s beyond a x ticks, model b x L = {b * r[3]:.3f} s")
        if name == "perp-10k":
            for r in rows:
                rate = r[4] / r[2] / 1e6 / a.threads
                print(f"   tick rate, leverage {r[0]:>10}: {rate:6.1f} M/s per thread, price-only / this "
                      f"= {price_rate / rate:.2f}x ({r[3] / r[1]:.0f} liquidations per path)")


if __name__ == "__main__":
    main()
