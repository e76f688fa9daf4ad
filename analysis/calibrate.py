#!/usr/bin/env python3
"""Fit a market to real prices: a thin caller of `marginsim calibrate`.

    scripts/py analysis/calibrate.py [CSV] [OPTIONS of marginsim calibrate]

Runs `marginsim calibrate` on CSV (default: the shipped ETH/USDT daily
closes, scenarios/data/eth_usdt_1d_2017-2026_binance_spot.csv) with
`--model regime_switching` unless OPTIONS name a model, and passes its
output and exit code through: the fit with standard errors, then the
`market:` section ready to paste into a scenario. The binary is $MARGINSIM,
else build/marginsim of this checkout, else `marginsim` on PATH. Every option
(--regimes, --from, --to, --resolution, -o, --regime-path, --model garch,
...) is marginsim calibrate's: see `marginsim calibrate --help` and
docs/calibration.md. Needs no Python module beyond the standard library.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_CSV = os.path.join(REPO, "scenarios", "data", "eth_usdt_1d_2017-2026_binance_spot.csv")


def binary():
    """The marginsim to run, or None."""
    env = os.environ.get("MARGINSIM")
    if env:
        return env
    built = os.path.join(REPO, "build", "marginsim")
    if os.access(built, os.X_OK):
        return built
    return shutil.which("marginsim")


def main(argv):
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    args = list(argv)
    if not args or args[0].startswith("-"):
        args.insert(0, DEFAULT_CSV)
    if not any(a == "--model" or a.startswith("--model=") for a in args):
        args += ["--model", "regime_switching"]
    exe = binary()
    if not exe:
        print("calibrate.py: no marginsim binary: build it (cmake -S . -B build && cmake --build build) "
              "or set MARGINSIM", file=sys.stderr)
        return 3
    try:
        return subprocess.run([exe, "calibrate"] + args).returncode
    except OSError as e:
        print("calibrate.py: cannot run %s: %s" % (exe, e), file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
