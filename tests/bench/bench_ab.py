#!/usr/bin/env python3
"""Old against new binary on the benchmarks of docs/performance.md, interleaved.

    scripts/py tests/bench/bench_ab.py OLD_BINARY NEW_BINARY [--repeat 5] [--threads 1] [--only TEXT]

For each workload (the bench scenarios and a small sweep, paths chosen so a
run takes a few seconds), runs OLD, NEW, OLD, NEW, ... --repeat times each,
one thread by default, and prints the median wall time of each and the ratio
NEW / OLD with the range of the per-pair ratios. On a shared machine only
the ratios of one run mean anything (docs/performance.md). Result files go
to a temporary directory and are removed.
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

# label, arguments after the binary (scenario paths relative to the repository)
WORKLOADS = [
    ("price-3regime", ["run", "scenarios/bench/price-3regime.yaml", "-n", "4000"]),
    ("perp-10k", ["run", "scenarios/bench/perp-10k.yaml", "-n", "800"]),
    ("perp-10k no liquidations", ["run", "scenarios/bench/perp-10k.yaml", "-n", "800",
                                  "--set", "book.leverage=1.01"]),
    ("perp-1m", ["run", "scenarios/bench/perp-1m.yaml", "-n", "3"]),
    ("portfolio-10k", ["run", "scenarios/bench/portfolio-10k.yaml", "-n", "200"]),
    ("quickstart", ["run", "scenarios/quickstart.yaml", "-n", "600"]),
    # many short paths: the statistics' bootstraps and sorts, the summary's chunks, the journal
    ("quickstart 200k paths of 1m", ["run", "scenarios/quickstart.yaml", "-n", "200000", "--set", "horizon=1m"]),
    ("sweep 4 cells", ["sweep", "scenarios/quickstart.yaml", "-n", "200", "--grid",
                       "margin.maintenance=0.03,0.05", "--grid", "oracle.heartbeat=10m,1h"]),
]


def once(binary, args, threads, out):
    t0 = time.perf_counter()
    p = subprocess.run([binary, *args, "-j", str(threads), "-q", "-o", out], cwd=ROOT,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("bench_ab: %s %s failed (exit %d): %s" % (binary, " ".join(args), p.returncode, p.stderr.strip()))
    os.unlink(out)
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    old, new = os.path.abspath(a.old), os.path.abspath(a.new)
    print("old: %s\nnew: %s\n%d runs each, interleaved, %d thread(s)\n" % (old, new, a.repeat, a.threads))
    print("%-26s %10s %10s %8s  %s" % ("workload", "old s", "new s", "new/old", "pairwise range"))
    with tempfile.TemporaryDirectory(prefix="ms_bench_ab_") as tmp:
        out = os.path.join(tmp, "r.h5")
        for label, args in WORKLOADS:
            if a.only not in label:
                continue
            to, tn = [], []
            for _ in range(a.repeat):
                to.append(once(old, args, a.threads, out))
                tn.append(once(new, args, a.threads, out))
            ratios = [n / o for o, n in zip(to, tn)]
            mo, mn = statistics.median(to), statistics.median(tn)
            print("%-26s %10.3f %10.3f %8.3f  [%.3f, %.3f]" % (label, mo, mn, mn / mo, min(ratios), max(ratios)),
                  flush=True)


if __name__ == "__main__":
    main()
