#!/usr/bin/env python3
"""Strong scaling of `marginsim run` over MPI ranks x OpenMP threads (docs/scaling.md).

    scripts/py tests/bench/bench_scaling.py build-mpi/marginsim [--scenario S] [-n PATHS]
        [--layouts 1x1,1x2,2x1,2x2] [--repeat 3] [--set KEY=VALUE ...]

Runs the same scenario and paths under `mpirun -n R` with `-j T` for each
layout R x T, interleaved, `--repeat` times, and prints the median wall
time, paths per second and the speed-up against the first layout. Layouts
with more processes x threads than cores oversubscribe (and say so). The
result files are compared with the first layout's: they must be the same.
"""
import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", help="a marginsim built with -DMARGINSIM_MPI=ON")
    ap.add_argument("--scenario", default="scenarios/quickstart.yaml")
    ap.add_argument("-n", "--paths", type=int, default=400)
    ap.add_argument("--layouts", default="1x1,1x2,2x1,2x2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    mpirun = shutil.which("mpirun")
    if not mpirun:
        print("bench_scaling: no mpirun (apt-get install openmpi-bin libopenmpi-dev); skipped")
        return 0
    layouts = [tuple(int(x) for x in s.split("x")) for s in a.layouts.split(",")]
    cores = os.cpu_count() or 1
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               SOURCE_DATE_EPOCH="1700000000")
    tmp = tempfile.mkdtemp(prefix="ms_scaling_")
    times = {l: [] for l in layouts}
    sets = [x for s in a.set for x in ("--set", s)]
    try:
        for _ in range(a.repeat):
            for r, t in layouts:
                # the same relative -o in a folder per layout: the files record the command line
                where = os.path.join(tmp, f"{r}x{t}")
                os.makedirs(where, exist_ok=True)
                if os.path.exists(os.path.join(where, "r.h5")):
                    os.remove(os.path.join(where, "r.h5"))
                cmd = [mpirun, "-n", str(r), "--oversubscribe", "--bind-to", "none", os.path.abspath(a.binary), "run",
                       os.path.abspath(a.scenario), "-n", str(a.paths), "-j", str(t), "-q", "-o", "r.h5", *sets]
                t0 = time.monotonic()
                p = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, cwd=where)
                times[(r, t)].append(time.monotonic() - t0)
                if p.returncode != 0:
                    print(p.stderr, file=sys.stderr)
                    return 1
        first = layouts[0]
        base = statistics.median(times[first])
        print(f"{a.scenario}, {a.paths} paths, {a.repeat} runs each interleaved; {cores} cores")
        print(f"{'ranks x threads':<18}{'median s':>10}{'paths/s':>10}{'speed-up':>10}  same file")
        for r, t in layouts:
            m = statistics.median(times[(r, t)])
            same = filecmp.cmp(os.path.join(tmp, f"{first[0]}x{first[1]}", "r.h5"),
                               os.path.join(tmp, f"{r}x{t}", "r.h5"), shallow=False)
            # the command line differs (-j) and is recorded: compare the data, not the bytes, when -j differs
            note = " (oversubscribed)" if r * t > cores else ""
            print(f"{f'{r} x {t}{note}':<18}{m:>10.2f}{a.paths / m:>10.1f}{base / m:>10.2f}  "
                  f"{'same bytes' if same else 'other -j' if t != first[1] else 'DIFFERENT'}")
        print("(files of another -j differ in their recorded command line only: tests/mpi/test_mpi.py "
              "compares them dataset by dataset)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
