"""Streaming and resume (issue 16): a run killed mid-way and resumed writes
the file an uninterrupted run writes, byte for byte; an unfinished run's
journal is refused by every tool as a result; memory does not grow with the
number of paths."""
import os
import resource
import signal
import subprocess
import sys
import time
import unittest

from e2e import BIN, SRC, DirTest, child_peak_kb, frames, run, small

sys.path.insert(0, os.path.join(SRC, "analysis"))
import marginsim  # noqa: E402

# Many short paths in small frames, with every kind of per-path output: rows, cascades, liquidation records,
# traces and fan samples (small() has them), so that every part of a frame is resumed.
SCEN = small(1500, 300, fan=True) + "  chunk_paths: 16\n"
ENV = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")  # the same "created" for both runs: same bytes


def journal_checksum(data):
    """sim/output/journal.c's checksum: 64-byte blocks through eight multiply-xorshift lanes, the tail zero-filled,
    then the lanes and the length."""
    m64 = (1 << 64) - 1

    def mix(h, w):
        h = ((h ^ w) * 0x9e3779b97f4a7c15) & m64
        return h ^ (h >> 29)
    h = [0x6a09e667f3bcc909, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
         0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179]
    full = len(data) // 64 * 64
    for blk in [data[i:i + 64] for i in range(0, full, 64)] + [data[full:].ljust(64, b"\0")]:
        h = [mix(h[i], int.from_bytes(blk[8 * i:8 * i + 8], "little")) for i in range(8)]
    x = 0
    for lane in h:
        x = mix(x, lane)
    return mix(x, len(data))


class ResumeTest(DirTest):
    SCENARIO = SCEN
    PREFIX = "ms_resume_"

    def start(self, args, cwd):
        return subprocess.Popen([BIN, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, env=ENV)

    def kill_after(self, args, cwd, journal, nframes, sig):
        """Start `args` in `cwd`, send `sig` once the journal has `nframes` frames; returns the process's stderr."""
        p = self.start(args, cwd)
        deadline = time.time() + 60
        while time.time() < deadline and frames(journal) < nframes and p.poll() is None:
            time.sleep(0.005)
        self.assertIsNone(p.poll(), "the run finished before it could be interrupted")
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        return p.returncode, err

    def both(self, args):
        """Run `args` (relative -o) uninterrupted in folder a, and killed + resumed in folder b; the two files."""
        out = args[args.index("-o") + 1]
        a, b = self.path("a-" + out), self.path("b-" + out)
        os.mkdir(a)
        os.mkdir(b)
        p = subprocess.run([BIN, *args], cwd=a, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=ENV)
        self.assertEqual(p.returncode, 0, p.stderr)
        rc, err = self.kill_after(args, b, os.path.join(b, out + ".partial"), 4, signal.SIGKILL)
        self.assertEqual(rc, -signal.SIGKILL, err)
        journal = os.path.join(b, out + ".partial")
        done = frames(journal)
        self.assertGreaterEqual(done, 4)
        # a write torn by the kill: garbage after the last frame is cut off by the resume
        with open(journal, "ab") as f:
            f.write(b"MSFRAME2" + b"\x07" * 100)
        # the resume is started from elsewhere, on another thread count
        p = subprocess.run([BIN, "run", "--resume", os.path.join(b, out), "-j", "1", "-q"], cwd=self.dir,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, env=ENV)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(journal), "the journal outlived the finished run")
        with open(os.path.join(a, out), "rb") as f:
            want = f.read()
        with open(os.path.join(b, out), "rb") as f:
            got = f.read()
        self.assertEqual(len(got), len(want))
        self.assertTrue(got == want, "the resumed file differs from the uninterrupted one")
        return os.path.join(b, out)

    def test_killed_run_resumes_to_the_same_bytes(self):
        self.both(["run", self.scen, "-o", "r.h5", "-j", "2", "-q"])

    def test_killed_compare_and_sweep_resume_to_the_same_bytes(self):
        self.both(["run", self.scen, "-o", "c.h5", "-j", "2", "-q", "--compare", "margin.maintenance=0.03,0.05"])
        self.both(["sweep", self.scen, "-o", "s.h5", "-j", "2", "-q", "--grid", "oracle.heartbeat=30s,5m"])

    def test_resume_reads_back_a_backslash(self):
        # The journal records the command as join_argv quotes it, and --resume splits it back: a backslash
        # outside quotes was once read as an escape ("a\\b" came back as "ab"), and the resume was refused as
        # another command.
        self.both(["run", self.scen, "-o", "q.h5", "-j", "2", "-q", "--set", "name=a\\b"])

    def test_resume_naming_the_journal(self):
        # The folder shows r.h5.partial, not r.h5: --resume given the journal continues its run (it once said
        # "the run is complete (no r.h5.partial.partial)")
        out = self.path("r.h5")
        rc, err = self.kill_after(["run", self.scen, "-o", out, "-j", "2", "-q"], self.dir, out + ".partial", 2,
                                  signal.SIGINT)
        self.assertEqual(rc, 130, err)
        p = run("run", "--resume", out + ".partial", "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".partial"))

    def test_no_file_written_over_a_journal(self):
        # A run with -o r.h5.partial while r.h5 was running replaced its journal (exit 0), and the first run's
        # end, removing its journal by name, then deleted that result; a link to a journal was written through.
        out = self.path("r.h5")
        p = self.start(["run", self.scen, "-o", out, "-j", "1", "-q"], self.dir)
        deadline = time.time() + 60
        while time.time() < deadline and frames(out + ".partial") < 1 and p.poll() is None:
            time.sleep(0.005)
        self.assertIsNone(p.poll(), "the run finished before the test")
        os.symlink(out + ".partial", self.path("link.h5"))
        with open(out + ".partial", "rb") as f:
            before = f.read(4096)
        cases = [(["run", self.scen, "-o", out + ".partial"], "a name ending in .partial is kept for run journals"),
                 (["run", self.scen, "-o", self.path("other.partial")], "kept for run journals"),
                 (["run", self.scen, "-o", self.path("link.h5")], "is the journal of an unfinished run"),
                 (["check", self.scen, "-o", self.path("c.h5"), "--junit", self.path("link.h5"), "--set",
                   "assertions=[insolvency.probability <= 1]"],
                  "--junit " + self.path("link.h5") + ": is the journal of an unfinished run")]
        for args, msg in cases:
            q = run(*args, "-q", "-n", "2")
            self.assertEqual(q.returncode, 2, (args, q.stderr))
            self.assertIn(msg, q.stderr)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 143, err)
        with open(out + ".partial", "rb") as f:
            self.assertEqual(f.read(4096), before)
        self.assertEqual(sorted(os.listdir(self.dir)), ["link.h5", "r.h5.partial", "small.yaml"])

    def test_a_live_runs_journal_is_neither_advised_away_nor_removed(self):
        # A second run on a live run's result was told to "remove r.h5.partial to start anew" (and that its
        # paths "are kept"); a user who did, and began again, lost the new run's journal when the first run
        # ended: it removed whatever file bore its journal's name.
        out = self.path("r.h5")
        journal = out + ".partial"
        a = self.start(["run", self.scen, "-o", out, "-j", "1", "-q"], self.dir)
        self.addCleanup(lambda: a.poll() is None and a.kill())
        deadline = time.time() + 60
        while time.time() < deadline and frames(journal) < 1 and a.poll() is None:
            time.sleep(0.005)
        self.assertIsNone(a.poll(), "the run finished before the test")
        q = run("run", self.scen, "-o", out, "-q", "-n", "2")
        self.assertEqual(q.returncode, 2, q.stderr)
        self.assertIn("another marginsim is writing " + out + " now (its journal is locked)", q.stderr)
        self.assertNotIn("remove", q.stderr)
        self.assertNotIn("are kept", q.stderr)
        os.unlink(journal)  # against the advice
        b = self.start(["run", self.scen, "-o", out, "-j", "1", "-q", "-n", "100000"], self.dir)
        self.addCleanup(lambda: b.poll() is None and b.kill())
        deadline = time.time() + 60
        while time.time() < deadline and frames(journal) < 1 and b.poll() is None:
            time.sleep(0.005)
        self.assertIsNone(b.poll(), "the second run ended before the first")
        ino = os.stat(journal).st_ino
        _, err = a.communicate(timeout=120)
        self.assertEqual(a.returncode, 0, err)
        self.assertTrue(os.path.exists(journal), "the first run's end removed the second run's journal")
        self.assertEqual(os.stat(journal).st_ino, ino)
        b.send_signal(signal.SIGTERM)
        _, err = b.communicate(timeout=60)
        self.assertEqual(b.returncode, 143, err)
        self.assertIn("are kept in " + journal, err)

    def test_a_live_runs_temporary_is_never_hours_old(self):
        # docs/robustness.md's clean-up, `find -name '.*.ms-tmp-*' -mmin +60 -delete`, removed the temporary
        # of any run longer than an hour: its time stayed at the run's start. Each batch now sets it.
        out = self.path("t.h5")
        journal = out + ".partial"
        p = self.start(["run", self.scen, "-o", out, "-j", "1", "-q", "-n", "100000"], self.dir)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        deadline = time.time() + 60
        while time.time() < deadline and frames(journal) < 1 and p.poll() is None:
            time.sleep(0.005)
        tmp = [f for f in os.listdir(self.dir) if ".ms-tmp-" in f]
        self.assertEqual(len(tmp), 1, os.listdir(self.dir))
        tmp = self.path(tmp[0])
        old = time.time() - 7200
        os.utime(tmp, (old, old))
        n = frames(journal)
        while time.time() < deadline and frames(journal) < n + 2 and p.poll() is None:
            time.sleep(0.005)
        self.assertIsNone(p.poll(), "the run ended before the test")
        self.assertGreater(os.stat(tmp).st_mtime, time.time() - 600)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 143, err)

    def test_interrupted_resume_names_the_file_as_given(self):
        # A resume runs from the folder the run began in; interrupted, it names the result file as the user gave
        # it (b/r.h5 from here), not as the recorded command did (r.h5, from b)
        b = self.path("b")
        os.mkdir(b)
        rc, err = self.kill_after(["run", self.scen, "-o", "r.h5", "-j", "2", "-q"], b, os.path.join(b, "r.h5.partial"),
                                  2, signal.SIGINT)
        self.assertEqual(rc, 130, err)
        rc, err = self.kill_after(["run", "--resume", os.path.join("b", "r.h5"), "-j", "1", "-q"], self.dir,
                                  os.path.join(b, "r.h5.partial"), frames(os.path.join(b, "r.h5.partial")) + 2,
                                  signal.SIGINT)
        self.assertEqual(rc, 130, err)
        self.assertIn("kept in b/r.h5.partial: continue with `marginsim run --resume b/r.h5`", err)

    def test_another_build_cannot_continue_a_journal(self):
        # Determinism audit 2026-12-07: the journal recorded only the version (0.4.0 for many builds whose
        # results differ), so a journal begun by one build was continued by another: paths 0-199 of one build
        # and 200-599 of the other in one file, nothing in it saying so. A journal now records the build
        # (`marginsim --version`: a hash of the sources and the flags that change code), and a resume by
        # another is refused. Here the journal is made another build's by rewriting its header's build (and
        # the header's checksum, as journal.c computes it).
        b = self.path("b")
        os.mkdir(b)
        journal = os.path.join(b, "r.h5.partial")
        rc, err = self.kill_after(["run", self.scen, "-o", "r.h5", "-j", "1", "-q"], b, journal, 2, signal.SIGKILL)
        self.assertEqual(rc, -signal.SIGKILL, err)
        version, build = run("--version").stdout.split()[1], run("--version").stdout.split("(build ")[1].split(")")[0]
        with open(journal, "rb") as f:
            data = bytearray(f.read())
        hlen = int.from_bytes(data[8:16], "little")
        mine = (version + " build " + build).encode()  # MS_JOURNAL_BUILD, found in the header's strings
        at = data.find(mine, 0, hlen)
        self.assertGreater(at, 0, "the journal's header does not record this build")
        data[at:at + len(mine)] = (version + " build " + "0" * len(build)).encode()
        data[hlen - 8:hlen] = journal_checksum(bytes(data[:hlen - 8])).to_bytes(8, "little")
        with open(journal, "wb") as f:
            f.write(data)
            # a torn end, as a kill mid-write leaves: the refused resume had cut it off at open (the journal not
            # left as it was; seen when this test's kill fell inside a write)
            f.write(b"MSFRAME2" + b"\x07" * 100)
        before = os.stat(journal).st_size
        p = run("run", "--resume", os.path.join(b, "r.h5"), cwd=self.dir)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("begun by marginsim %s build %s; this is %s build %s" % (version, "0" * 16, version, build),
                      p.stderr)
        self.assertIn("another build", p.stderr)
        self.assertEqual(os.stat(journal).st_size, before)
        self.assertFalse(os.path.exists(os.path.join(b, "r.h5")))

    def test_command_of_many_quotes_is_recorded(self):
        # Each quote of an argument takes 4 bytes in the recorded command ('\''): a buffer of 2 per byte
        # overflowed (glibc: "malloc(): invalid size", exit 134) for a scenario under folders named with quotes.
        d = os.path.join(self.dir, *(["'" * 250] * 4))
        os.makedirs(d)
        scen = os.path.join(d, "s.yaml")
        with open(scen, "w") as f:
            f.write(SCEN)
        p = run("run", scen, "-n", "2", "-o", self.path("m.h5"), "-q")
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])

    def test_interrupted_check_resumes_with_its_verdict(self):
        scen = self.path("check.yaml")
        with open(scen, "w") as f:
            f.write(SCEN + 'assertions: ["liquidation_any.probability > 0.99", "bad_debt.mean < 0"]\n')
        ref = run("check", scen, "-o", self.path("ref.h5"), "-q")
        self.assertEqual(ref.returncode, 1, ref.stderr)
        out = self.path("k.h5")
        rc, err = self.kill_after(["check", scen, "-o", out, "-j", "2"], self.dir, out + ".partial", 3,
                                  signal.SIGTERM)
        self.assertEqual(rc, 143, err)
        self.assertIn("continue with `marginsim run --resume %s`" % out, err)
        # `check` refuses the unfinished file as a result (a new check there would overwrite it) ...
        p = run("check", scen, "-o", out, "-q")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("an unfinished run of %s is there" % out, p.stderr)
        # ... and --resume gives the check's own verdict and exit code
        p = run("check", "--resume", out, "-q")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout.split("\n", 1)[1], ref.stdout.split("\n", 1)[1])

    def test_tools_refuse_an_unfinished_run(self):
        out = self.path("r.h5")
        rc, err = self.kill_after(["run", self.scen, "-o", out, "-j", "2", "-q"], self.dir, out + ".partial", 2,
                                  signal.SIGINT)
        self.assertEqual(rc, 130, err)
        py = sys.executable
        for target in (out, out + ".partial"):
            with self.assertRaises(marginsim.IncompleteRun) as cm:
                marginsim.open(target)
            self.assertIn("marginsim run --resume %s" % out, str(cm.exception))
            for tool, extra in (("report.py", ["--no-plots"]), ("compare.py", [target])):
                p = subprocess.run([py, os.path.join(SRC, "analysis", tool), target, *extra], capture_output=True,
                                   text=True, stdin=subprocess.DEVNULL)
                self.assertEqual(p.returncode, 2, (tool, p.stderr))
                self.assertIn("marginsim run --resume %s" % out, p.stderr, tool)
        # a journal emptied (or damaged at its start): no tool advises a resume that would be refused
        empty = self.path("e.h5")
        open(empty + ".partial", "wb").close()
        with self.assertRaises(marginsim.IncompleteRun) as cm:
            marginsim.open(empty)
        self.assertIn("is not a marginsim journal", str(cm.exception))
        self.assertIn("remove " + empty + ".partial, then run it again", str(cm.exception))
        self.assertNotIn("--resume", str(cm.exception))
        p = run("run", "--resume", empty, "-q")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertNotIn("are kept", p.stderr)
        # --resume of a finished run, of nothing, and after the scenario changed: exit 2, the journal kept
        p = run("run", "--resume", self.path("nothing.h5"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("no unfinished run", p.stderr)
        with open(self.scen, "a") as f:
            f.write("# edited\n")
        p = run("run", "--resume", out, "-q")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("differ from the interrupted run's", p.stderr)
        self.assertTrue(os.path.exists(out + ".partial"))
        os.remove(out + ".partial")
        p = run("run", self.scen, "-o", out, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("run", "--resume", out)
        self.assertEqual(p.returncode, 2)
        self.assertIn("the run is complete", p.stderr)

    @unittest.skipIf(os.environ.get("MS_SANITIZED", "0") not in ("", "0"), "ASan changes memory use")
    def test_memory_does_not_grow_with_paths(self):
        # Peak RSS of a one-thread run of N paths in frames of 16, for N = 2,000 and 40,000. Before issue 16 every
        # path's summary row (~600 B) stayed in memory to the end: +23 MB here. Now the rows go to the journal and
        # the column store; what grows is one column of the statistics pass at a time and a mean interval's table
        # of deviations (8 + 8 B x paths per thread) -- 0.6 MB here. The bound leaves room for allocator noise.
        scen = self.path("many.yaml")
        with open(scen, "w") as f:
            f.write("name: many\nseed: 3\npaths: 10\nhorizon: 10m\nstep: 1s\nmarket: {initial_price: 1000, regimes: "
                    "[{vol: 0.8}]}\nbook: {accounts: 50}\noutput: {chunk_paths: 16, timeseries: {paths: 0}, "
                    "fan: {paths: 0}}\n")

        def peak(n):
            return child_peak_kb(["run", scen, "-n", str(n), "-j", "1", "-q", "-o", self.path("m%d.h5" % n)]) * 1024

        small_run, big_run = peak(2000), peak(40000)
        grown = big_run - small_run
        self.assertLess(grown, 6 << 20, "peak RSS grew by %.1f MB from 2,000 to 40,000 paths" % (grown / 2**20))


class StreamTest(DirTest):
    """What the column store must keep as the rows did."""
    SCENARIO = small(40, 60)
    PREFIX = "ms_stream_"

    def test_sweep_cells_naming_regimes_differently(self):
        # The paired differences read the baseline's columns from every cell, field by field as they read the
        # rows: a cell whose regime has another name (time_in_regime_panic) still has the baseline's field.
        # The column store once looked columns up by name: exit 3, "column time_in_regime_stress is not in the
        # column store".
        import h5py
        out = self.path("s.h5")
        p = run("sweep", self.scen, "-o", out, "-q", "--grid", "market.regimes[1].name=stress,panic", "--show",
                "liquidations.mean")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            d = {r["statistic"].decode(): r for r in f["sweep/differences"][1]}
        self.assertEqual(d["time_in_regime_stress"]["n"], 40)
        self.assertEqual(d["time_in_regime_stress"]["diff"], 0.0)  # the name changes no path

    def test_tools_given_a_folder(self):
        # report.py and compare.py look for a journal first: a folder once escaped as IsADirectoryError (a
        # traceback from compare.py, exit 3 from report.py) instead of their "no such file", exit 2
        py = sys.executable
        for tool, extra in (("report.py", ["--no-plots"]), ("compare.py", [self.dir])):
            p = subprocess.run([py, os.path.join(SRC, "analysis", tool), self.dir, *extra], capture_output=True,
                               text=True, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 2, (tool, p.stderr))
            self.assertNotIn("Traceback", p.stderr)
        with self.assertRaises(OSError):
            marginsim.open(self.dir)

    def test_sweep_cells_with_other_columns_are_bad_input(self):
        # stats.counterfactual in one cell only: other columns, refused as bad input (exit 2) as before the
        # column store, not as an internal failure (exit 3)
        p = run("sweep", self.scen, "-o", self.path("c.h5"), "-q", "--grid", "stats.counterfactual=true,false",
                "--show", "liquidations.mean")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("the cells of a sweep must have the same statistics", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
