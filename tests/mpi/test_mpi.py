"""End-to-end tests of marginsim under mpirun (a build with -DMARGINSIM_MPI=ON).

Run by ctest (label mpi; registered only in such a build) with MARGINSIM,
MS_SOURCE_DIR and MPIEXEC set. The promises of docs/scaling.md:

  * `mpirun -n K marginsim run|run --compare|sweep|check` writes a file
    identical, dataset by dataset and attribute by attribute (the root's
    version, created and command aside: tests/identity/compare_results.py),
    to the one-process file of the same seed, for K = 1, 2, 3 and any
    thread count; every rank exits with the same code, and only rank 0
    prints;
  * a failure on one rank only (path 2's per-path book is bad; with 6
    paths over 3 ranks path 2 is rank 1's) ends every rank with the code
    one process gives, rank 0 prints the message one process prints, and
    no result file is left;
  * a bad -o (checked on rank 0 alone) ends every rank with exit 2;
  * `check` with a failing assertion exits 1 on every rank;
  * SIGTERM to mpirun (which passes it on to the ranks) ends the run on
    every rank with no result file; its journal, resumed on another number
    of ranks, gives the one-process file.

Every rank runs under a small shell wrapper that records its exit code and
its stdout and stderr in files named after its rank (OMPI_COMM_WORLD_RANK).
"""
import os
import shlex
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "identity"))

from compare_results import compare_files  # noqa: E402
from e2e import BIN, DirTest, run, small  # noqa: E402
from test_robust_signals import PER_PATH as PER_PATH_TEMPLATE  # noqa: E402

MPIEXEC = os.environ.get("MPIEXEC", "mpirun")
# CI runs as root; threads free to use every core a rank may see; more ranks than cores.
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
MPI_FLAGS = ["--oversubscribe", "--bind-to", "none"]

# 23 paths in batches of 5 (the last of 3): over 3 ranks slices of 2/2/1 and
# 1/1/1 paths, over 2 ranks 3/2 and 2/1: uneven splits in every batch.
SCENARIO = (small(23, 300, fan=True) + "  chunk_paths: 5\n"
            + "assertions: [\"insolvency.probability < 0.5\", \"liquidations.mean >= 0\"]\n")

# Dynamic margin, a book drawn per path: path 2's single account starts below
# its initial margin (test_robust_signals.py's scenario, whose test finds the same path).
PER_PATH = PER_PATH_TEMPLATE % (3, 6, 1, "1", "5.5")

# Long enough to be stopped by a signal: 16 paths of half a year of 1 s
# ticks (about 0.3 s each here), in batches of 2.
LONG = """name: long
seed: 1
paths: 64
horizon: 180d
step: 1s
market:
  initial_price: 2000
  regimes:
    - {name: calm, vol: 0.5, mean_duration: 30d}
book: {accounts: 50}
output: {chunk_paths: 2, timeseries: {paths: 3, every: 1h}}
"""

WRAP = ('d="$1"; shift; r="${OMPI_COMM_WORLD_RANK:-0}"; "$@" >"$d/out.$r" 2>"$d/err.$r"; rc=$?; '
        'echo $rc >"$d/rc.$r"; exit $rc')


class MpiTest(DirTest):
    PREFIX = "ms_mpi_"
    SCENARIO = SCENARIO

    def mpirun(self, k, args, tag):
        """mpirun -n k marginsim ARGS; returns [(rc, stdout, stderr)] by rank.

        OpenMPI's mpirun ends the other ranks as soon as one exits non-zero (then
        their wrappers could not record their codes); told not to, it exits 0
        whatever the ranks did: its own code is tested by mpirun_rc."""
        d = self.path("ranks-" + tag)
        os.makedirs(d)
        cmd = [MPIEXEC, "-n", str(k), *MPI_FLAGS, "--mca", "orte_abort_on_non_zero_status", "0",
               "sh", "-c", WRAP, "sh", d, BIN, *args]
        subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=ENV, timeout=120)
        ranks = []
        for r in range(k):
            with open(os.path.join(d, "rc.%d" % r)) as f:
                rc = int(f.read())
            with open(os.path.join(d, "out.%d" % r)) as f:
                out = f.read()
            with open(os.path.join(d, "err.%d" % r)) as f:
                err = f.read()
            ranks.append((rc, out, err))
        return ranks

    def mpirun_rc(self, k, args):
        """mpirun's own exit code (OpenMPI: the first non-zero code of a rank, else 0)."""
        p = subprocess.run([MPIEXEC, "-n", str(k), *MPI_FLAGS, BIN, *args], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, env=ENV, timeout=120)
        return p.returncode

    def assertSameFile(self, ref, out, what):
        diffs = compare_files(ref, out)
        self.assertEqual(diffs, [], "%s: %d difference(s) from the one-process file:\n%s"
                         % (what, len(diffs), "\n".join(diffs[:20])))

    def assertRanks(self, ranks, rc, what):
        """Every rank exited with @p rc; ranks other than 0 printed nothing."""
        self.assertEqual([r[0] for r in ranks], [rc] * len(ranks), "%s: exit codes by rank; rank 0's stderr:\n%s"
                         % (what, ranks[0][2]))
        for k, (_, out, err) in enumerate(ranks[1:], 1):
            self.assertEqual((out, err), ("", ""), "%s: rank %d printed" % (what, k))

    def check_identical(self, args, name, tail, expect_rc=0):
        ref = self.path(name + "-ref.h5")
        p = run(*args, "-o", ref, "-q", "-j", "1")
        self.assertEqual(p.returncode, expect_rc, p.stderr)
        for k, j in ((1, 2), (2, 2), (3, 1)):
            out = self.path("%s-%d.h5" % (name, k))
            what = "%s, mpirun -n %d, -j %d" % (" ".join(args[:1]), k, j)
            ranks = self.mpirun(k, [*args, "-o", out, "-j", str(j)], "%s-%d" % (name, k))
            self.assertRanks(ranks, expect_rc, what)
            self.assertTrue(os.path.exists(out), what)
            self.assertSameFile(ref, out, what)
            # rank 0 prints what one process prints
            self.assertIn(tail, ranks[0][1], what)

    def test_run(self):
        self.check_identical(["run", self.scen], "run", "\nwrote ")

    def test_run_compare(self):
        self.check_identical(["run", self.scen, "--compare", "liquidation.mode=full,partial"], "compare", "\nwrote ")

    def test_sweep(self):
        self.check_identical(["sweep", self.scen, "--grid", "liquidation.insurance_fund=1e5,2e6"], "sweep", "\nwrote ")

    def test_check(self):
        self.check_identical(["check", self.scen, "--junit", self.path("j.xml")], "check", "2 assertions: 2 passed, 0 failed\nwrote " + self.path("j.xml"))

    def test_check_failing_assertion_exits_1_everywhere(self):
        scen = self.path("fails.yaml")
        with open(scen, "w") as f:
            f.write(SCENARIO.replace("liquidations.mean >= 0", "liquidations.mean < 0"))
        ranks = self.mpirun(3, ["check", scen, "-o", self.path("f.h5")], "fails")
        self.assertRanks(ranks, 1, "check with a failing assertion")
        self.assertIn("1 failed", ranks[0][1])

    def test_failure_on_one_rank(self):
        scen = self.path("bad.yaml")
        with open(scen, "w") as f:
            f.write(PER_PATH)
        one = run("run", scen, "-o", self.path("one.h5"), "-q")
        self.assertEqual(one.returncode, 2, one.stderr)
        self.assertIn("path 2: ", one.stderr)
        out = self.path("bad.h5")
        ranks = self.mpirun(3, ["run", scen, "-o", out, "-q"], "bad")
        self.assertRanks(ranks, 2, "a bad book on rank 1")
        self.assertEqual(self.mpirun_rc(3, ["run", scen, "-o", out, "-q"]), 2)
        # the failing rank's message, printed by rank 0, as one process prints it
        self.assertEqual(ranks[0][2], one.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertEqual([n for n in os.listdir(self.dir) if n.endswith(".h5") or "ms-tmp" in n], [])

    def test_bad_output_on_rank_0(self):
        os.makedirs(self.path("adir"))
        ranks = self.mpirun(2, ["run", self.scen, "-o", self.path("adir")], "badout")
        self.assertRanks(ranks, 2, "-o a folder")
        self.assertIn("is a folder", ranks[0][2])

    def test_sigterm_stops_every_rank_and_another_count_resumes(self):
        scen = self.path("long.yaml")
        with open(scen, "w") as f:
            f.write(LONG)
        ref = self.path("ref.h5")
        p = run("run", scen, "-o", ref, "-q", "-j", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = self.path("long.h5")
        cmd = [MPIEXEC, "-n", "2", *MPI_FLAGS, BIN, "run", scen, "-o", out, "-q", "-j", "1"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=ENV,
                             text=True)
        # the signal once a batch is in rank 0's journal: the ranks are running (a signal while
        # mpirun still starts them can leave them running on without it)
        partial, size0, deadline = out + ".partial", None, time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            size = os.path.getsize(partial) if os.path.exists(partial) else None
            if size0 is None:
                size0 = size
            elif size is not None and size > size0:
                break
            time.sleep(0.02)
        self.assertIsNone(p.poll(), "the run finished before it could be interrupted: make LONG longer")
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        took = time.monotonic() - t0
        self.assertNotEqual(p.returncode, 0, err)
        # OpenMPI passes the signal on a second later (odls_base_sigkill_timeout) and kills the ranks a second
        # after that; the ranks then stop within milliseconds. Until 2026-12-07 they then waited in
        # MPI_Finalize for that SIGKILL (exit 137, 2.0 s here); now they leave without finalizing (1.0 s).
        self.assertLess(took, 1.8, err)
        if err:  # mpirun may stop passing on the ranks' stderr once it is told to stop
            self.assertIn("interrupted by signal 15", err)
        self.assertFalse(os.path.exists(out))
        self.assertEqual([n for n in os.listdir(self.dir) if "ms-tmp" in n], [])
        # rank 0's journal holds the finished batches; its frames do not depend on the ranks
        self.assertTrue(os.path.exists(out + ".partial"), err)
        ranks = self.mpirun(3, ["run", "--resume", out, "-j", "1"], "resume")
        self.assertRanks(ranks, 0, "--resume under mpirun -n 3")
        self.assertRegex(ranks[0][2], r"resuming .* \d+ of 64 paths done")
        print("\n  " + ranks[0][2].splitlines()[0][:150], file=sys.stderr)
        self.assertFalse(os.path.exists(out + ".partial"))
        self.assertSameFile(ref, out, "a run begun on 2 ranks, resumed on 3")


if __name__ == "__main__":
    print("mpirun: %s" % shlex.join([MPIEXEC, *MPI_FLAGS]), flush=True)
    unittest.main(verbosity=2)
