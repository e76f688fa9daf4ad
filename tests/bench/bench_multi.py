#!/usr/bin/env python3
"""The engine of several markets (book.markets) against the one-market engine, interleaved.

    scripts/py tests/bench/bench_multi.py [BINARY] [--repeat 5] [--paths 40]

On scenarios/bench/multi-10k.yaml (10,000 accounts, two correlated assets,
socialized losses), one thread, medians of --repeat interleaved runs:
  one-market     the one-market engine, the book trading the first asset
  multi, 1 mkt   the engine of several markets on a book holding only the
                 first asset, isolated: a book of the same law, drawn with
                 that engine's own draws (not the same accounts: path 0 has
                 6,060 liquidations against 5,999); given the one-market
                 book, that engine makes the same liquidations bit for bit
                 (tests/test_multi.c), so the ratio is the engine's overhead
  multi, cross   accounts holding one or two markets, cross margin
  + contagion    the same with stats.contagion (a twin per market)
  one-market, opt / multi, cross, opt
                 30% of the accounts (positions) option strategies (the default
                 book.options.strategies), without and with book.markets
  ..., 1m        the same two with both regimes' mean duration 1 minute
Prints ms per path and each ratio to the one-market run. On a shared
machine only the ratios of one run mean anything (docs/performance.md).
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
SCEN = "scenarios/bench/multi-10k.yaml"
ONE = ["--set", "book.markets.enabled=true", "--set", "book.markets.count=1", "--set", "book.markets.weights=[1, 0]",
       "--set", "book.margin_mode=isolated"]
# regimes of a minute: every check follows a switch (the option bands kept per regime, docs/performance.md)
FAST = ["--set", "market.regimes[0].mean_duration=1m", "--set", "market.regimes[1].mean_duration=1m"]
WORKLOADS = [
    ("one-market", []),
    ("multi, 1 mkt", ONE),
    ("multi, cross", ["--set", "book.markets.enabled=true"]),
    ("+ contagion", ["--set", "book.markets.enabled=true", "--set", "stats.contagion=true"]),
    ("one-market, opt", ["--set", "book.options.fraction=0.3"]),
    ("multi, cross, opt", ["--set", "book.markets.enabled=true", "--set", "book.options.fraction=0.3"]),
    ("one-market, opt, 1m", ["--set", "book.options.fraction=0.3", *FAST]),
    ("multi, cross, opt, 1m", ["--set", "book.markets.enabled=true", "--set", "book.options.fraction=0.3", *FAST]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "build", "marginsim"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--paths", type=int, default=40)
    a = ap.parse_args()
    times = {w: [] for w, _ in WORKLOADS}
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.h5")
        for _ in range(a.repeat):
            for w, extra in WORKLOADS:
                t0 = time.perf_counter()
                p = subprocess.run([a.binary, "run", SCEN, "-n", str(a.paths), "-j", "1", "-q", "-o", out, *extra],
                                   cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
                if p.returncode != 0:
                    sys.exit("%s failed: %s" % (w, p.stderr.strip()))
                times[w].append(time.perf_counter() - t0)
                os.remove(out)
    base = statistics.median(times["one-market"])
    print("%-22s %12s %10s   (%s, %d paths, %d runs each, one thread)" % ("workload", "ms/path", "ratio", SCEN,
                                                                        a.paths, a.repeat))
    for w, _ in WORKLOADS:
        m = statistics.median(times[w])
        print("%-22s %12.2f %10.2f" % (w, 1000 * m / a.paths, m / base))


if __name__ == "__main__":
    main()
