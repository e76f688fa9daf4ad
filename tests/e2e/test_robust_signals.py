"""Signals that always work, runs that cannot loop for ever, per-path books
that do not depend on the thread count, and numbers past meaning (issue 14,
items 6, 9 and 10; docs/robustness.md).

- A signal in the middle of one long path, or while a book of a million
  accounts is set up, stops the run within a second: exit 128 + signal, no
  result file, no temporary file.
- The two scenarios that looped for ever (a jump rate of 1e300/s; keepers.delay
  lognormal sigma 20 with gas_cost) end with exit 2 naming the keys.
- book.resample per_path with dynamic margin: -j 1 and -j 2 agree, and
  validate checks the first paths' books as run draws them.
- A squeeze that moves the mark past the bound on its move is exit 2.
"""
import os
import signal
import subprocess
import time
import unittest

import h5py
import numpy as np

from e2e import BIN, DirTest, run

# One path of a year at 10 ms: 3.2e9 ticks, far more than the few seconds this test waits.
LONG = """name: long
seed: 1
paths: 1
horizon: 365d
step: 10ms
market:
  initial_price: 2000
  regimes:
    - {name: calm, vol: 0.5, drift: 0, mean_duration: 30d}
    - {name: stress, vol: 1.2, drift: 0, mean_duration: 3d}
  impact: {model: sqrt, depth: 5e7, half_life: 10m}
book:
  accounts: 100
  collateral: {dist: lognormal, median: 5000, sigma: 1}
  leverage: {dist: uniform, min: 2, max: 10}
margin: {model: static, initial: 0.1, maintenance: 0.05}
"""

# The crash: 1000 accounts, keepers.delay lognormal sigma 20, gas_cost 50.
CRASH = """name: crash
seed: 1
paths: 2
horizon: 1d
step: 1s
market:
  initial_price: 3400
  regimes:
    - {name: crash, vol: 2.5, drift: -500, mean_duration: 2h, jumps: {rate: 6/h, mean: -0.02, sd: 0.02}}
    - {name: calm, vol: 0.6, drift: 0, mean_duration: 2d}
  start_regime: crash
  impact: {model: sqrt, depth: 5e7, half_life: 15m}
book:
  accounts: 1000
  collateral: {dist: lognormal, median: 3000, sigma: 1.3}
  leverage: {dist: table, values: [2, 5, 10, 20], weights: [0.2, 0.35, 0.3, 0.15]}
margin: {model: static, initial: 0.05, maintenance: 0.025}
keepers:
  delay: {dist: lognormal, median: 6s, sigma: %s}
  gas_cost: 50
"""

# Dynamic margin, books drawn per path, leverage just under the initial margin at the start.
PER_PATH = """name: perpath
seed: %d
paths: %d
horizon: 1d
step: 1s
market:
  initial_price: 2000
  regimes:
    - {name: wild, vol: 3.0, drift: 0, mean_duration: 30d}
book:
  accounts: %d
  resample: per_path
  collateral: {dist: lognormal, median: 5000, sigma: 1}
  leverage: {dist: uniform, min: %s, max: %s}
margin:
  model: dynamic
  dynamic: {floor: 0.01, cap: 0.25}
"""

# Three big shorts squeezed against a thin linear depth.
SQUEEZE = """name: squeeze
seed: 1
paths: 4
horizon: 1d
step: 1s
market:
  initial_price: 2000
  regimes:
    - {name: up, vol: 1.5, drift: 50, mean_duration: 30d, jumps: {rate: 6/h, mean: 0.03, sd: 0.02}}
  impact: {model: linear, depth: %s, half_life: 1h}
book:
  accounts: 3
  long_fraction: 0
  collateral: {dist: lognormal, median: 1.5e6, sigma: 0.5}
  leverage: {dist: uniform, min: 10, max: 20}
liquidation: {shortfall: socialize}
"""

# A signal must end the run within this many seconds (measured: about 0.05 s; the 4,096-cell sweep 0.015 s).
# Under the sanitizers the exit itself is slow: ASan clears the joined threads' stacks' shadow and recycles its
# quarantine, 2.2-2.5 s after the signal for that sweep (2026-12-07, perf of the exit), and on a loaded machine
# past 3 s; the bound there still catches the seconds without a look at the signal this file was written for.
SANITIZED = os.environ.get("MS_SANITIZED", "0") not in ("", "0", "OFF", "FALSE", "false")
SIGNAL_BOUND = 10.0 if SANITIZED else 3.0
# A runaway scenario must be stopped within this many seconds (measured: about 1.3 s).
RUNAWAY_BOUND = 20.0


class SignalTest(DirTest):
    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def timed(self, args, timeout):
        """Run the CLI; (returncode, stderr, seconds), or a failure if it outlives @p timeout."""
        t0 = time.monotonic()
        p = subprocess.Popen([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("%s still running after %g s" % (" ".join(args), timeout))
        return p.returncode, err, time.monotonic() - t0

    def test_an_ignored_sigint_stays_ignored(self):
        # review r14: docs/robustness.md promises that a signal ignored when marginsim starts stays ignored (a
        # shell starts background jobs with SIGINT ignored, so that ^C stops only the foreground); the SIGINT
        # handler was installed regardless, and a SIGINT then cancelled the run (exit 130).
        scen = self.write("long.yaml", LONG)
        out = self.path("long.h5")
        p = subprocess.Popen([BIN, "run", scen, "-o", out, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, stdin=subprocess.DEVNULL,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        self.addCleanup(lambda: p.poll() is None and p.kill())
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        time.sleep(1.0)
        self.assertIsNone(p.poll(), "an ignored SIGINT stopped the run")
        p.send_signal(signal.SIGTERM)  # not ignored: stops it as usual
        _, err = p.communicate(timeout=SIGNAL_BOUND + 5)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        self.assertEqual(os.listdir(self.dir), ["long.yaml"])

    def interrupt_long_path(self, sig, code):
        scen = self.write("long.yaml", LONG)
        out = self.path("long.h5")
        p = subprocess.Popen([BIN, "run", scen, "-o", out, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, stdin=subprocess.DEVNULL)
        time.sleep(1.0)
        self.assertIsNone(p.poll(), "the path ended before the signal: make it longer")
        t0 = time.monotonic()
        p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=SIGNAL_BOUND)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("signal %d: the run did not stop within %g s" % (sig, SIGNAL_BOUND))
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, code, err)
        self.assertIn("no result file written", err)
        self.assertLess(took, SIGNAL_BOUND)
        self.assertEqual(self.listing(), ["long.yaml"])  # no result, no temporary file

    def test_sigint_during_the_set_up_of_a_big_book(self):
        # four million accounts: drawing the book and writing /book take seconds before the first path
        # (2.6 s measured; a million took 14.6 s with the code that saw the signal only then, and 0.6 s
        # since /book is deflated by libdeflate, too little to be sure of signalling during the set-up)
        scen = self.write("big.yaml", "name: big\npaths: 1\nhorizon: 30d\nbook: {accounts: 4000000}\n")
        p = subprocess.Popen([BIN, "run", scen, "-o", self.path("big.h5"), "-q"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        time.sleep(1.0)
        self.assertIsNone(p.poll(), "the run ended before the signal")
        p.send_signal(signal.SIGINT)
        try:
            _, err = p.communicate(timeout=SIGNAL_BOUND)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("the run did not stop within %g s" % SIGNAL_BOUND)
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual(self.listing(), ["big.yaml"])

    def test_sigterm_after_the_paths_of_a_big_sweep(self):
        # 4,096 cells of one path: once the journal is begun, laying out the column store compared every pair
        # of cells (14 s) and the statistics went through every cell (3 s), with no look at the signal
        scen = self.write("s.yaml", "name: s\npaths: 1\nhorizon: 1h\nbook: {accounts: 10}\n")
        out = self.path("s.h5")
        p = subprocess.Popen([BIN, "sweep", scen, "-o", out, "-q", "-j", "2", "--grid",
                              "liquidation.penalty=0:0.063:0.001", "--grid", "liquidation.keeper_share=0:0.63:0.01"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        deadline = time.monotonic() + 60
        while not os.path.exists(out + ".partial") and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIsNone(p.poll(), "the sweep ended before its journal was seen")
        time.sleep(0.3)  # in the layout before the fix
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=SIGNAL_BOUND + 10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("the sweep did not stop")
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 143, err)
        self.assertLess(took, SIGNAL_BOUND, "the sweep saw SIGTERM only after %.1f s" % took)
        self.assertFalse(os.path.exists(out))

    def test_sigint_stops_a_long_path(self):
        self.interrupt_long_path(signal.SIGINT, 130)

    def test_sigterm_stops_a_long_path(self):
        self.interrupt_long_path(signal.SIGTERM, 143)

    def test_jump_rate_beyond_the_work_bound(self):
        # 1e300 jumps a second: looped for ever at t = 0, deaf to signals
        scen = self.write("jumps.yaml", CRASH.replace("rate: 6/h", "rate: 1e300/s") % "0.8")
        for args in (["validate", scen], ["run", scen, "-o", self.path("j.h5"), "-q"]):
            rc, err, took = self.timed(args, RUNAWAY_BOUND)
            self.assertEqual(rc, 2, err)
            self.assertIn("market.regimes[0].jumps.rate", err)
            self.assertIn("expected jumps per path, beyond the bound of 1e+08", err)
        self.assertEqual(self.listing(), ["jumps.yaml"])

    def test_keeper_retries_end(self):
        # keepers.delay lognormal sigma 20 with gas_cost: looped for ever retrying skipped liquidations
        scen = self.write("crash.yaml", CRASH % "20")
        rc, err, took = self.timed(["run", scen, "-o", self.path("c.h5"), "-q"], RUNAWAY_BOUND)
        self.assertEqual(rc, 2, err)
        self.assertIn("keepers.delay", err)
        self.assertEqual(self.listing(), ["crash.yaml"])

    def test_per_path_books_do_not_depend_on_threads(self):
        # path 1's book was checked against the margin ratio path 0 left on the same thread:
        # -j 1 exited 2 ("path 1: book: 35 of 100 accounts start below initial margin"), -j 2 could pass
        scen = self.write("pp.yaml", PER_PATH % (3, 2, 100, "4.8", "5.1"))
        rows = []
        for j in ("1", "2"):
            out = self.path("pp%s.h5" % j)
            p = run("run", scen, "-o", out, "-q", "-j", j)
            self.assertEqual(p.returncode, 0, (j, p.stderr))
            with h5py.File(out, "r") as f:
                rows.append(f["paths/summary"][:])
        self.assertEqual(rows[0].tobytes(), rows[1].tobytes())
        p = run("validate", scen)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("# book.resample per_path: the books of paths 0 to 1 drawn and checked as in `run`", p.stdout)

    def test_validate_checks_per_path_books_like_run(self):
        # one account, leverage up to 5.5 against an initial margin of about 20%: path 2's book is bad
        scen = self.write("bad.yaml", PER_PATH % (3, 100, 1, "1", "5.5"))
        p = run("validate", scen)
        self.assertEqual(p.returncode, 2, p.stderr)
        # validate points at the book's keys in the file
        self.assertRegex(p.stderr, r"bad\.yaml:\d+:\d+: book\.leverage: path 2: 1 of 1 accounts start below initial margin")
        p = run("run", scen, "-o", self.path("bad.h5"), "-q", "-j", "2")
        self.assertEqual(p.returncode, 2, p.stderr)
        # run points at the same place
        self.assertRegex(p.stderr, r"bad\.yaml:\d+:\d+: book\.leverage: path 2: 1 of 1 accounts start below initial margin")
        self.assertEqual(self.listing(), ["bad.yaml"])

    def test_mark_move_past_the_bound(self):
        # the old code ran this through with the mark at 2.9e9 times the exogenous price
        scen = self.write("sq.yaml", SQUEEZE % "5e5")
        out = self.path("sq.h5")
        p = run("run", scen, "-o", out, "-q")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertRegex(p.stderr, r"path \d+: at t = [0-9.]+ s the liquidation flow's impact moved the mark to "
                                   r"\S+ times the exogenous price, beyond the bound of 1e\+06 either way")
        self.assertIn("market.impact.depth (500000 USD per 1%) is far too small for this book (book.accounts 3",
                      p.stderr)
        self.assertEqual(self.listing(), ["sq.yaml"])
        # a thicker depth: far out (the mark a few hundred times the exogenous price) but within the bound
        scen = self.write("sq2.yaml", SQUEEZE % "7e5")
        p = run("run", scen, "-o", out, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            imp = f["paths/summary"]["max_impact"]
            self.assertGreater(np.max(imp), 50)
            self.assertLess(np.max(imp), 1e6)


if __name__ == "__main__":
    unittest.main(verbosity=2)
