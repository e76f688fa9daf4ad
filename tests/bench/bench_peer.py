#!/usr/bin/env python3
"""marginsim against the numba peer on the same model (issue 16).

    scripts/py tests/bench/bench_peer.py [--sizes 10000:500,100000:50,1000000:8] [--repeat 3]
                                         [--marginsim PATH ...] [--peer PATH] [--python PATH]

For each book size (accounts:paths) it runs, interleaved, `repeat` times:
the peer (../shared/peers/numba_ref.py, `--lev-max 20 --insurance 1e12`,
the rest its defaults) and `marginsim run scenarios/bench/peer.yaml --set
book.accounts=N -n P -j 1` (the scenario's comments map every parameter and
list what differs). It prints medians of the time per path, marginsim / peer
(the ratio of the medians and the range of the ratios of one repeat),
liquidations per path of both (a sanity check: the random streams differ,
the counts should agree in distribution), and the time per liquidation
(time per path / liquidations per path, set-up and ticks included).
Unless --no-setup, it also times, for both, the same run with a book that
cannot liquidate (leverage 1-1.01: set-up, ticks, oracle, output) and
prints the cost per liquidation beyond it (the fair per-liquidation figure
when the two count different liquidations), and marginsim's fixed cost
(one such path: book, index, the file with /book) with the time per path
beyond it; the ratio to the peer stays the whole run's.

The default sizes run enough paths (500, 50, 8) that a run's fixed cost
(about 0.02, 0.05 and 0.3 s since /book is coded plane by plane; 0.02,
0.1 and 0.9 s when these sizes were chosen) is a small part of its time
per path, as in a user's run of a tail statistic; fewer paths measure
mostly the fixed cost.

What is timed, as issue 16 defines it:
  - marginsim: the whole process, default output (the HDF5 file written),
    one thread, divided by the paths; nothing subtracted;
  - the peer: its own wall_s, which includes drawing and sorting the book
    and excludes starting Python, importing numba and the JIT (compiled, or
    loaded from the cache, before its clock starts). A warm-up run fills a
    private numba cache (NUMBA_CACHE_DIR) first.

The peer needs numba for the interpreter given by --python (Debian's
python3-numba is for /usr/bin/python3); without it, or without the peer's
file, the peer is skipped with a message and marginsim alone is timed.
Several --marginsim binaries are timed side by side (each against the
peer, and each later one against the first).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCENARIO = os.path.join(ROOT, "scenarios", "bench", "peer.yaml")
# what the scenario fixes that the peer's defaults do not (its comments)
PEER_ARGS = ["--lev-max", "20", "--insurance", "1e12"]
# the fixed cost of a run (book, index, the file with /book): one path whose
# book cannot liquidate (a 99% fall or a 94% rise in a day would be needed)
NO_LIQUIDATION = ["--set", "book.leverage={dist: uniform, min: 1, max: 1.01}"]
PEER_NO_LIQUIDATION = ["--lev-min", "1", "--lev-max", "1.01"]


def peer_unavailable(python, peer):
    """None when the peer can run, else why not."""
    if not os.path.isfile(peer):
        return f"the peer {peer} does not exist (--peer PATH)"
    if not shutil.which(python) and not os.path.isfile(python):
        return f"no interpreter {python} (--python PATH)"
    p = subprocess.run([python, "-c", "import numba"], capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return (f"numba is not importable by {python} ({last}); "
                "install Debian's: apt-get install python3-numba")
    return None


def run_peer(python, peer, accounts, paths, env, extra=()):
    """(seconds per path, liquidations per path) of one peer run."""
    cmd = [python, peer, "--accounts", str(accounts), "--paths", str(paths), *PEER_ARGS, *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return r["wall_s"] / paths, r["mean_liquidations"]


def run_marginsim(binary, accounts, paths, out, extra=()):
    """(seconds per path, liquidations per path) of one whole marginsim run."""
    cmd = [binary, "run", SCENARIO, "-q", "-o", out, "-j", "1", "-n", str(paths),
           "--set", f"book.accounts={accounts}", *extra]
    t0 = time.perf_counter()
    p = subprocess.run(cmd)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    with h5py.File(out, "r") as f:
        s = f["paths/summary"][:]
    if s["adl_notional"].sum() != 0 or s["insolvent"].sum() != 0:
        print(f"warning: {binary} at {accounts} accounts: the fund ran out (ADL ran); the peer has no ADL")
    os.remove(out)
    return dt / paths, float(s["liquidations"].mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000:500,100000:50,1000000:8",
                    help="book sizes and paths, ACCOUNTS:PATHS,...")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--marginsim", action="append",
                    help="a marginsim binary (repeat to compare binaries); default build/marginsim")
    ap.add_argument("--peer", default=os.path.join(os.path.dirname(ROOT), "shared", "peers", "numba_ref.py"))
    ap.add_argument("--python", default="/usr/bin/python3", help="the interpreter with numba")
    ap.add_argument("--no-setup", action="store_true", help="skip timing marginsim's fixed cost")
    a = ap.parse_args()
    binaries = a.marginsim or [os.path.join(ROOT, "build", "marginsim")]
    for b in binaries:
        if not os.access(b, os.X_OK):
            sys.exit(f"no marginsim binary at {b} (build it, or --marginsim PATH)")
    sizes = [tuple(int(x) for x in s.split(":")) for s in a.sizes.split(",")]
    tmp = tempfile.mkdtemp(prefix="ms_peer_")
    out = os.path.join(tmp, "r.h5")

    why = peer_unavailable(a.python, a.peer)
    env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tmp, "numba"))
    if why:
        print(f"peer skipped: {why}")
    else:
        run_peer(a.python, a.peer, 1000, 1, env)  # compiles into the private cache
    for b in binaries:
        run_marginsim(b, 1000, 1, out)  # the binary and its libraries in the page cache

    print(f"one thread, whole runs; medians of {a.repeat} interleaved repeats; {time.strftime('%Y-%m-%d %H:%M')}")
    names = ["peer"] * (not why) + [f"marginsim[{i}]" for i in range(len(binaries))]
    for i, b in enumerate(binaries):
        print(f"marginsim[{i}] = {b}")
    rows = []
    for accounts, paths in sizes:
        t = {n: [] for n in names}
        floor = {n: [] for n in names}
        setup = {n: [] for n in names}
        liq = {}
        for _ in range(a.repeat):
            if not why:
                dt, liq["peer"] = run_peer(a.python, a.peer, accounts, paths, env)
                t["peer"].append(dt)
                if not a.no_setup:
                    floor["peer"].append(run_peer(a.python, a.peer, accounts, paths, env, PEER_NO_LIQUIDATION)[0])
            for i, b in enumerate(binaries):
                dt, liq[f"marginsim[{i}]"] = run_marginsim(b, accounts, paths, out)
                t[f"marginsim[{i}]"].append(dt)
                if not a.no_setup:
                    setup[f"marginsim[{i}]"].append(run_marginsim(b, accounts, 1, out, NO_LIQUIDATION)[0])
                    floor[f"marginsim[{i}]"].append(run_marginsim(b, accounts, paths, out, NO_LIQUIDATION)[0])
        print(f"\n{accounts:,} accounts, {paths} paths")
        print(f"{'':>14} {'ms/path':>10} {'liq/path':>10} {'us/liq':>8} {'vs peer':>8} {'range':>16}")
        med = {n: statistics.median(t[n]) for n in names}
        for n in names:
            line = f"{n:>14} {med[n] * 1e3:10.2f} {liq[n]:10.0f} {med[n] / liq[n] * 1e6 if liq[n] else float('nan'):8.3f}"
            if n != "peer" and not why:
                r = np.array(t[n]) / np.array(t["peer"])
                line += f" {med[n] / med['peer']:7.2f}x [{r.min():.2f}, {r.max():.2f}]"
            print(line)
        if not a.no_setup:
            for n in names:
                fl = statistics.median(floor[n])
                net = (med[n] - fl) / liq[n] * 1e6 if liq[n] else float("nan")
                print(f"   {n}: the same run with no liquidation (leverage 1-1.01) {fl * 1e3:.2f} ms/path; "
                      f"beyond it {net:.3f} us per liquidation")
            for i in range(len(binaries)):
                n = f"marginsim[{i}]"
                su = statistics.median(setup[n])
                beyond = (med[n] * paths - su) / paths
                line = (f"   {n}: fixed cost of a run (one path, no liquidation) {su:.3f} s; "
                        f"per path beyond it {beyond * 1e3:.2f} ms")
                if not why:
                    line += f", {beyond / med['peer']:.2f}x the peer"
                print(line)
        if len(binaries) > 1:
            for i in range(1, len(binaries)):
                r = np.array(t[f"marginsim[{i}]"]) / np.array(t["marginsim[0]"])
                print(f"   marginsim[{i}] / marginsim[0]: {med[f'marginsim[{i}]'] / med['marginsim[0]']:.3f} "
                      f"[{r.min():.3f}, {r.max():.3f}]")
        rows.append((accounts, paths, med, liq))

    if not why:
        print("\n| book | paths | numba peer | marginsim | marginsim / peer | liquidations/path (peer, marginsim) "
              "| µs per liquidation (peer, marginsim) |")
        print("|---|---|---|---|---|---|---|")
        for accounts, paths, med, liq in rows:
            for i in range(len(binaries)):  # every binary, the first (the reference) first
                m = f"marginsim[{i}]"
                print(f"| {accounts:,} | {paths} | {med['peer'] * 1e3:,.2f} ms | {med[m] * 1e3:,.2f} ms"
                      f"{f' ({m})' if len(binaries) > 1 else ''} "
                      f"| {med[m] / med['peer']:.2f}× | {liq['peer']:,.0f}, {liq[m]:,.0f} "
                      f"| {med['peer'] / liq['peer'] * 1e6:.3f}, {med[m] / liq[m] * 1e6:.3f} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
