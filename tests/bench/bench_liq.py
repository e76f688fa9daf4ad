#!/usr/bin/env python3
"""The cost of one liquidation of scenarios/bench/peer.yaml, binaries side by side (issue 16).

    scripts/py tests/bench/bench_liq.py ROUNDS ACCOUNTS PATHS BINARY [BINARY ...]
    EXTRA="--set output.compression=0" scripts/py tests/bench/bench_liq.py 6 1000000 4 OLD NEW

Each round runs every binary on the scenario as written and with a book that
cannot liquidate (leverage 1-1.01), in alternating order; the cost of a
liquidation is (CPU of the run - CPU of the run without liquidations) /
liquidations, CPU being user + system time of the whole process (less noisy
than wall time on a shared machine). Prints, per binary, the medians, the
ns per liquidation (and its per-round median and range) and, against the
first binary, the ratio of the runs with liquidations (pairwise median and
range). EXTRA adds arguments to every run (shell-quoted).
"""
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    n, acc, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    bins = sys.argv[4:]
    base = (["run", os.path.join(ROOT, "scenarios", "bench", "peer.yaml"), "--set", "book.accounts=" + acc,
             "-n", paths, "-j", "1", "-q"] + shlex.split(os.environ.get("EXTRA", "")))
    variants = {"liq": [], "noliq": ["--set", "book.leverage={dist: uniform, min: 1, max: 1.01}"]}
    res = {(b, v): [] for b in bins for v in variants}
    tmp = tempfile.mkdtemp(prefix="ms_liq_")
    out = os.path.join(tmp, "r.h5")
    nliq = None
    for i in range(n):
        order = [(b, v) for b in bins for v in variants]
        if i % 2:
            order = order[::-1]
        for b, v in order:
            if os.path.exists(out):
                os.remove(out)
            p = subprocess.Popen([b] + base + variants[v] + ["-o", out], stdout=subprocess.DEVNULL)
            _, st, ru = os.wait4(p.pid, 0)
            if os.waitstatus_to_exitcode(st) != 0:
                sys.exit(f"failed: {b} {' '.join(base + variants[v])}")
            res[(b, v)].append(ru.ru_utime + ru.ru_stime)
            if nliq is None and v == "liq":
                with h5py.File(out) as f:
                    nliq = int(f["paths/summary"]["liquidations"].sum())
    print(f"liquidations {nliq}, accounts {acc}, paths {paths}, rounds {n}; {time.strftime('%Y-%m-%d %H:%M')}")
    b0 = bins[0]
    for b in bins:
        L, N = statistics.median(res[(b, "liq")]), statistics.median(res[(b, "noliq")])
        per = [(l - m) / nliq * 1e9 for l, m in zip(res[(b, "liq")], res[(b, "noliq")])]
        line = (f"{b[-30:]:<30} run {L:.4f} s, without liquidations {N:.4f} s, ns per liquidation "
                f"{(L - N) / nliq * 1e9:.1f} (per round {statistics.median(per):.1f} [{min(per):.1f}, {max(per):.1f}])")
        if b != b0:
            r = [x / y for x, y in zip(res[(b, "liq")], res[(b0, "liq")])]
            line += f"; run / first {statistics.median(r):.3f} [{min(r):.3f}, {max(r):.3f}]"
        print(line, flush=True)
    os.remove(out) if os.path.exists(out) else None
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
