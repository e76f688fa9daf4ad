"""What the end-to-end tests share: the binary and source tree (from the
environment ctest sets), running the CLI, and a test case with its own
temporary directory holding a scenario.
"""
import os
import struct
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("MARGINSIM", "marginsim")
SRC = os.environ.get("MS_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
Z95 = 1.959963984540054  # normal quantile at 0.975


def small(paths, accounts, fan=False):
    """The small two-regime scenario the end-to-end tests share (a calm and a
    stressed regime with jumps, 2 h of 1 s ticks), with liquidation records
    and 3 traced paths; `fan` adds a 5-path, 9-point fan."""
    return ("name: small\nseed: 7\npaths: %d\nhorizon: 2h\nstep: 1s\n"
            "market:\n  initial_price: 1500\n  regimes:\n"
            "    - {name: calm, vol: 0.5, mean_duration: 1h}\n"
            "    - {name: stress, vol: 1.5, drift: -2, mean_duration: 20m, jumps: {rate: 12/d, mean: -0.03, sd: 0.02}}\n"
            "book: {accounts: %d}\n"
            "output:\n  timeseries: {paths: 3, every: 30s}\n%s  liquidations: true\n"
            % (paths, accounts, "  fan: {paths: 5, points: 9}\n" if fan else ""))


def frames(journal):
    """Complete frames of a journal (headers only: a test's progress probe). A
    frame's header is written after its bytes, so a frame being streamed does
    not count until it is whole."""
    try:
        with open(journal, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return 0
    if len(data) < 16:
        return 0
    off, n = struct.unpack_from("<Q", data, 8)[0], 0
    while off + 48 <= len(data) and data[off:off + 8] == b"MSFRAME2":
        size = struct.unpack_from("<Q", data, off + 24)[0]
        if off + 48 + size > len(data):
            break
        off += 48 + size
        n += 1
    return n


def run(*args, **kw):
    """Run the CLI with no standard input; output captured as text."""
    return subprocess.run([BIN, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def child_peak_kb(args):
    """Peak RSS (KB) of marginsim run with @p args, measured from a bare
    interpreter (-S, nothing imported but subprocess): a child's peak includes
    what it inherited before exec, here about 10 MB rather than this test
    process with numpy and h5py (about 50 MB, above the smaller runs' own)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    p = subprocess.run([sys.executable, "-S", "-c", code, BIN, *args], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise AssertionError("marginsim %s failed: %s" % (" ".join(args), p.stderr))
    return int(p.stdout.strip())


class DirTest(unittest.TestCase):
    """A fresh temporary directory per test; SCENARIO (if set) written to small.yaml in it as self.scen."""

    SCENARIO = None
    PREFIX = "ms_e2e_"

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix=self.PREFIX)
        self.dir = self.tmp.name
        if self.SCENARIO is not None:
            self.scen = self.path("small.yaml")
            with open(self.scen, "w") as f:
                f.write(self.SCENARIO)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def listing(self):
        return sorted(os.listdir(self.dir))
