#!/usr/bin/env python3
"""Cost of the no-feedback twin (stats.counterfactual).

    scripts/py tests/bench/bench_counterfactual.py [--build build] [--threads 1] [--repeat 5] [--paths N]

For each scenario, runs it with stats.counterfactual true and false,
interleaved (on, off, on, off, ...) so that both see the same machine, and
prints the median wall time of each and their ratio: what the twin costs.
The twin replays the path's recorded exogenous ticks and runs the book
without impact, so the ratio is below 2 where impact dominates the work and
near 2 where liquidations do.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = [("quickstart", "scenarios/quickstart.yaml", 200),
             ("thin-market", "scenarios/thin-market.yaml", 200),
             ("perp-10k", "scenarios/bench/perp-10k.yaml", 200),
             ("compare-margin-models (options)", "scenarios/compare-margin-models.yaml", 40),
             ("perp-1m", "scenarios/bench/perp-1m.yaml", 4)]


def wall(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--paths", type=int, default=0, help="paths per run (0: each scenario's own default here)")
    a = ap.parse_args()
    binary = os.path.join(a.build, "marginsim")
    out = os.path.join(tempfile.mkdtemp(prefix="ms_bench_"), "b.h5")
    print(f"{'scenario':>32} {'paths':>6} {'twin on s':>10} {'twin off s':>10} {'on / off':>9}")
    for name, rel, paths in SCENARIOS:
        n = a.paths or paths
        base = [binary, "run", os.path.join(ROOT, rel), "-q", "-o", out, "-n", str(n), "-j", str(a.threads)]
        on, off = [], []
        for _ in range(a.repeat):
            on.append(wall(base + ["--set", "stats.counterfactual=true"]))
            off.append(wall(base + ["--set", "stats.counterfactual=false"]))
        m_on, m_off = statistics.median(on), statistics.median(off)
        print(f"{name:>32} {n:>6} {m_on:10.3f} {m_off:10.3f} {m_on / m_off:8.2f}x")


if __name__ == "__main__":
    main()
