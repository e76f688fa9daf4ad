#!/usr/bin/env python3
"""Benchmark: what a sweep of 50 cells costs against 50 standalone runs (issue #5).

    scripts/py tests/bench/bench_sweep.py [--build build] [--threads 1] [--paths 100]

Sweeps scenarios/sweep-maintenance-vs-oracle.yaml over 10 maintenance
ratios x 5 oracle heartbeats (50 cells) on --paths paths, then runs each of
the 50 cells alone (`marginsim run --set ...`), and prints the wall time of
the sweep, the sum of the 50 runs, their ratio and the sweep's cost in runs.
Each
standalone run's mean bad debt must equal its sweep cell's (the same paths):
the script stops otherwise.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCEN = os.path.join(ROOT, "scenarios", "sweep-maintenance-vs-oracle.yaml")
MAINT = [f"{0.03 + 0.01 * i:.2f}" for i in range(10)]
HEART = ["20m", "1h", "3h", "6h", "1d"]


def timed(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    if p.returncode:
        sys.exit("failed: " + " ".join(cmd) + "\n" + p.stderr)
    return dt, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--paths", type=int, default=100)
    a = ap.parse_args()
    binary = os.path.join(a.build, "marginsim")
    tmp = tempfile.mkdtemp(prefix="ms_bench_sweep_")
    common = ["-q", "-j", str(a.threads), "-n", str(a.paths)]

    out = os.path.join(tmp, "sweep.h5")
    grid = ["--grid", "margin.maintenance=" + ",".join(MAINT), "--grid", "oracle.heartbeat=" + ",".join(HEART)]
    t_sweep, _ = timed([binary, "sweep", SCEN, *grid, "-o", out, *common])
    with h5py.File(out, "r") as f:
        labels = [x.decode() for x in f["sweep/cells"]["label"]]
        sweep_bad = [f[f"sweep/runs/{c}/paths/summary"]["bad_debt"].mean() for c in range(len(labels))]

    t_runs = 0.0
    one = os.path.join(tmp, "one.h5")
    for c, label in enumerate(labels):
        sets = []
        for kv in label.split(" "):
            sets += ["--set", kv]
        dt, _ = timed([binary, "run", SCEN, *sets, "-o", one, *common])
        t_runs += dt
        with h5py.File(one, "r") as f:
            b = f["paths/summary"]["bad_debt"].mean()
        if not np.array_equal(b, sweep_bad[c]):
            sys.exit(f"cell {c} ({label}): standalone mean bad debt {b} != sweep's {sweep_bad[c]}")

    n = len(labels)
    print(f"cells: {n} ({len(MAINT)} maintenance ratios x {len(HEART)} heartbeats), {a.paths} paths, "
          f"{a.threads} thread(s)")
    print(f"sweep:               {t_sweep:8.2f} s")
    print(f"{n} standalone runs:  {t_runs:8.2f} s")
    print(f"sweep / runs:        {t_sweep / t_runs:8.3f}  (the sweep costs {t_sweep / (t_runs / n):.1f} runs' worth)")
    print("every standalone run's mean bad debt equals its sweep cell's, bit for bit")


if __name__ == "__main__":
    main()
