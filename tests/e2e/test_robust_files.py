"""End-to-end tests of what marginsim may do to files (docs/robustness.md).

Run by ctest (label e2e) with MARGINSIM set to the built binary. Each test
reproduces a defect of issue 14 ("Files it must never touch", "Full disks and
I/O errors"): a device node, FIFO, socket or folder at -o; a symbolic link at
-o; a symbolic link planted at a would-be temporary name; a run that fails or
is killed mid-run; a scenario name that climbs out of results/; a full disk
(a small tmpfs, skipped where mounting is not permitted, and a file size
limit, which works everywhere); an empty -o.

Device nodes are private copies made with mknod (same major/minor as
/dev/null and /dev/full), never the system's: the old code replaced the node.
"""
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import unittest

import h5py

from e2e import BIN, SRC, DirTest, run, small

SMALL = small(6, 200)

# Minutes of work: a command that must stop before simulating is timed against it.
LONG = SMALL.replace("paths: 6", "paths: 200000").replace("horizon: 2h", "horizon: 1d").replace("name: small",
                                                                                               "name: long")

# A book far too big for the market depth: the run fails mid-run (exit 2).
RUNAWAY = ("horizon: 6h\nmarket: {initial_price: 1000, impact: {model: linear, depth: 1e3, half_life: 30s},\n"
           "  regimes: [{vol: 0.05, jumps: {rate: 60/h, mean: 0, sd: 0.04}}]}\n"
           "book: {accounts: 2000, long_fraction: 0, leverage: {dist: uniform, min: 2, max: 20}}\n"
           "liquidation: {mode: partial}\n")

TMP_RE = r"\.{name}\.ms-tmp-[A-Za-z0-9]{{8}}"  # the documented name of a temporary


def temporaries(folder):
    return sorted(n for n in os.listdir(folder) if ".ms-tmp-" in n or ".tmp." in n)


def previous_result(path):
    """A file in the place of an earlier result: what marginsim replaces (HDF5 with its root's rng and version)."""
    with h5py.File(path, "w") as f:
        f.attrs["version"] = "0.5.1"
        f.attrs["rng"] = "xoshiro256++ (an earlier result)"


def snapshot(path):
    """What a test compares before and after: the kind, device numbers and bytes of a node (not following links)."""
    st = os.lstat(path)
    data = None
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            data = f.read()
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return (stat.S_IFMT(st.st_mode), st.st_rdev, st.st_ino, data, link)


class FilesTest(DirTest):
    SCENARIO = SMALL
    PREFIX = "ms_files_"

    def setUp(self):
        super().setUp()
        self.long = self.path("long.yaml")
        with open(self.long, "w") as f:
            f.write(LONG)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def start(self, args, **kw):
        proc = subprocess.Popen([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, **kw)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self.addCleanup(stop)
        return proc

    def tearDown(self):
        self.doCleanups()  # unmount before the folder goes
        super().tearDown()

    def wait_for_temporary(self, folder, name, timeout=20, seen=()):
        """The name of a temporary (not in `seen`) once the run is writing (None if it never appears)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for n in os.listdir(folder) if os.path.isdir(folder) else []:
                if (n.startswith("." + name + ".ms-tmp-") or n.startswith(name + ".tmp.")) and n not in seen:
                    return n
            time.sleep(0.01)
        return None

    # -- 1. what may be at -o -------------------------------------------------------------------------

    def test_only_a_regular_file_is_replaced(self):
        # issue 14.1: as root, -o /dev/null replaced the device node with an HDF5 file (so did /dev/full).
        nodes = {}
        try:
            os.mknod(self.path("null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            os.mknod(self.path("full"), 0o666 | stat.S_IFCHR, os.makedev(1, 7))
            nodes["null"] = nodes["full"] = "a character device"
        except PermissionError:
            print("\nskipped the device nodes: mknod is not permitted here", file=sys.stderr)
        os.mkfifo(self.path("fifo"))
        nodes["fifo"] = "a FIFO"
        sock = socket.socket(socket.AF_UNIX)
        self.addCleanup(sock.close)
        sock.bind(self.path("sock"))
        nodes["sock"] = "a socket"
        os.mkdir(self.path("folder"))
        nodes["folder"] = "folder"
        os.symlink("fifo", self.path("link-to-fifo"))
        nodes["link-to-fifo"] = "a symbolic link to fifo, which is a FIFO"
        longcheck = self.write("longcheck.yaml", LONG + 'assertions: ["insolvency.probability < 0.5"]\n')
        before = {n: snapshot(self.path(n)) for n in nodes}
        listing = self.listing()
        for name, kind in nodes.items():
            for cmd in (["run", self.long, "-o", self.path(name)],
                        ["sweep", self.long, "-o", self.path(name), "--grid", "margin.maintenance=0.03,0.05"],
                        ["check", longcheck, "-o", self.path("r.h5"), "--junit", self.path(name)]):
                t0 = time.time()
                try:
                    p = run(*cmd, timeout=30)
                except subprocess.TimeoutExpired:
                    self.fail(f"{cmd}: simulated with {kind} at the output")
                self.assertLess(time.time() - t0, 5, cmd)  # refused before simulating
                self.assertEqual(p.returncode, 2, (cmd, p.stderr))
                self.assertIn(kind, p.stderr, cmd)
                self.assertIn("--junit" if cmd[0] == "check" else "-o/--output", p.stderr, cmd)
                self.assertEqual(p.stdout, "", cmd)
                self.assertEqual(snapshot(self.path(name)), before[name], (cmd, "the node changed"))
                self.assertEqual(self.listing(), listing, cmd)
                if name == "folder":
                    self.assertEqual(os.listdir(self.path(name)), [], cmd)

    def test_empty_output_name(self):
        # issue 14.11: -o '' was exit 3 after the run (later: "is a folder"); now exit 2 at once, saying why
        for cmd in (["run", self.long, "-o", ""], ["sweep", self.long, "-o", "", "--grid", "margin.maintenance=0.03,0.05"]):
            t0 = time.time()
            p = run(*cmd, cwd=self.dir, timeout=30)
            self.assertLess(time.time() - t0, 5)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("-o/--output '': the file name is empty", p.stderr)
            self.assertEqual(self.listing(), ["long.yaml", "small.yaml"])

    def test_symlink_at_output_is_written_through(self):
        # issue 14.1: a symbolic link at -o was replaced by a regular file. Documented: written through, as cp
        # does -- the link stays and the regular file it points to is replaced; a dangling link is refused.
        os.mkdir(self.path("store"))
        target = self.path("store/real.h5")
        previous_result(target)
        os.symlink("store/real.h5", self.path("latest.h5"))
        p = run("run", self.scen, "-q", "-o", self.path("latest.h5"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.islink(self.path("latest.h5")), "the link was replaced")
        self.assertEqual(os.readlink(self.path("latest.h5")), "store/real.h5")
        with h5py.File(target, "r") as f:
            self.assertEqual(f["paths/summary"].shape, (6,))
        self.assertEqual(temporaries(self.dir) + temporaries(self.path("store")), [])
        # a link to nothing: refused (cp does the same), nothing created at its target
        os.symlink("store/none.h5", self.path("dangling.h5"))
        p = run("run", self.long, "-o", self.path("dangling.h5"), timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("a symbolic link to store/none.h5, which cannot be reached", p.stderr)
        self.assertFalse(os.path.lexists(self.path("store/none.h5")))
        self.assertTrue(os.path.islink(self.path("dangling.h5")))

    def test_symlink_into_an_unwritable_folder_is_refused_up_front(self):
        # review r14: -o a link whose target is in a folder we cannot write passed the up-front check (which
        # looked at the link's folder) and failed as exit 3 when the run started; a direct path is exit 2.
        nw, pub = self.path("nw"), self.path("pub")
        os.mkdir(nw)
        os.mkdir(pub)
        previous_result(os.path.join(nw, "t.h5"))
        os.symlink(os.path.join(nw, "t.h5"), os.path.join(pub, "l.h5"))
        os.chmod(nw, 0o555)
        self.addCleanup(os.chmod, nw, 0o755)
        os.chmod(pub, 0o777)
        os.chmod(self.dir, 0o755)
        os.chmod(self.long, 0o644)
        drop = None
        if os.geteuid() == 0:  # root writes anywhere: run as nobody
            drop = lambda: (os.setgid(65534), os.setuid(65534))
        before = snapshot(os.path.join(nw, "t.h5"))
        t0 = time.time()
        p = subprocess.run([BIN, "run", self.long, "-q", "-o", os.path.join(pub, "l.h5")], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, preexec_fn=drop, timeout=60)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("cannot write in its folder " + nw, p.stderr)
        self.assertEqual(snapshot(os.path.join(nw, "t.h5")), before)
        self.assertEqual(temporaries(nw) + temporaries(pub), [])

    @unittest.skipUnless(os.geteuid() == 0, "needs a file of another user: run as root")
    def test_another_users_file_in_a_sticky_folder_is_refused_at_once(self):
        # robustness review 2026-12-07: in a folder with the sticky bit (as /tmp) only a file's owner may
        # replace it; the run went to its end, then failed at the rename (exit 3, a journal no resume could
        # finish). Refused at once: exit 2, nothing written.
        st = self.path("sticky")
        os.mkdir(st)
        os.chmod(st, 0o1777)
        os.chmod(self.dir, 0o755)
        os.chmod(self.long, 0o644)
        theirs = os.path.join(st, "r.h5")
        with open(theirs, "w") as f:
            f.write("previous result")
        before = snapshot(theirs)
        t0 = time.time()
        p = subprocess.run([BIN, "run", self.long, "-q", "-o", theirs], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)),
                           timeout=60)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("belongs to another user (uid 0) in a folder with the sticky bit", p.stderr)
        self.assertEqual(snapshot(theirs), before)
        self.assertEqual(sorted(os.listdir(st)), ["r.h5"])

    @unittest.skipUnless(os.geteuid() == 0, "needs files of other users and a capability to drop: run as root")
    def test_root_without_cap_fowner_is_refused_at_once_too(self):
        # The kernel's test in a sticky folder is CAP_FOWNER, not euid 0: a container's root without it
        # went through the whole run and failed at the rename (exit 3). With it, the file is replaced.
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)

        def drop_fowner():
            # out of the bounding set: root's capabilities are drawn from it again at exec
            if libc.prctl(24, 3, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_FOWNER
                os._exit(97)

        st = self.path("sticky")
        os.mkdir(st)
        os.chmod(st, 0o1777)
        os.chown(st, 65534, 65534)                      # neither the folder nor the file is root's
        theirs = os.path.join(st, "r.h5")
        previous_result(theirs)
        os.chown(theirs, 65533, 65533)
        before = snapshot(theirs)
        t0 = time.time()
        p = subprocess.run([BIN, "run", self.long, "-q", "-o", theirs], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, preexec_fn=drop_fowner, timeout=60)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("belongs to another user (uid 65533) in a folder with the sticky bit", p.stderr)
        self.assertEqual(snapshot(theirs), before)
        self.assertEqual(sorted(os.listdir(st)), ["r.h5"])
        # the root of a user namespace has CAP_FOWNER, but not over files whose owner it does not map (the
        # review of this change: refused only at the rename, exit 3, a journal left)
        if shutil.which("unshare") and subprocess.run(["unshare", "-U", "--map-root-user", "true"],
                                                      capture_output=True).returncode == 0:
            p = subprocess.run(["unshare", "-U", "--map-root-user", BIN, "run", self.long, "-q", "-o", theirs],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("in a folder with the sticky bit", p.stderr)
            self.assertEqual(snapshot(theirs), before)
            self.assertEqual(sorted(os.listdir(st)), ["r.h5"])
        p = run("run", self.scen, "-n", "2", "-q", "-o", theirs)  # with CAP_FOWNER, as root usually is
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(h5py.is_hdf5(theirs))

    def test_only_a_file_marginsim_wrote_is_replaced(self):
        # Input-validation audit 2026-12-07: `-o data.csv` naming the scenario's own candle file replaced it with
        # the result (exit 0), as did --junit and the Python front's output= naming the scenario. An existing
        # file at -o is replaced only when marginsim wrote it (an earlier result; an empty file holds nothing):
        # anything else is bad input, exit 2 at once, the file untouched.
        data = self.path("candles.csv")
        shutil.copyfile(os.path.join(SRC, "scenarios", "data", "btc_usdt_1h_2025-10_binance_spot.csv"), data)
        scen = self.write("replay.yaml", "horizon: 1h\nbook: {accounts: 50}\n"
                          "market: {model: replay, replay: {file: candles.csv}}\n"
                          "assertions: [liquidations.mean >= 0]\n")
        other = self.path("other.csv")  # another candle file, as calibrate's -o
        shutil.copyfile(data, other)
        before, before_other = snapshot(data), snapshot(other)
        for args in (["run", scen, "-n", "2", "-q", "-o", data],
                     ["check", scen, "-n", "2", "-q", "-o", self.path("c.h5"), "--junit", data],
                     ["calibrate", data, "--model", "garch", "-o", other],
                     ["calibrate", data, "--model", "regime_switching", "--starts", "1", "--regime-path", other]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("exists and is not a", p.stderr)
            self.assertIn("marginsim replaces only a file of its own", p.stderr)
            self.assertEqual(snapshot(data), before)
            self.assertEqual(snapshot(other), before_other)
        self.assertFalse(os.path.exists(self.path("c.h5")))
        # the Python front: the library refuses too
        code = ("import sys; sys.path.insert(0, %r); import marginsim\n"
                "try:\n    marginsim.run(%r, paths=2, output=%r)\n"
                "except marginsim.Error as e:\n    print('refused', e.exit_code, e)\n") % (
                    os.path.join(SRC, "analysis"), scen, scen)
        before = snapshot(scen)
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=self.dir)
        self.assertIn("refused 2", p.stdout, p.stderr)
        self.assertEqual(snapshot(scen), before)
        # an earlier result, an empty file and an earlier report are replaced
        out, rep = self.path("r.h5"), self.path("r.xml")
        open(out, "w").close()
        for _ in range(2):
            p = run("check", scen, "-n", "2", "-q", "-o", out, "--junit", rep)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(h5py.is_hdf5(out))

    def test_a_fifo_at_the_journal_or_result_never_hangs(self):
        # Input-validation audit 2026-12-07: a FIFO at <output>.partial made run, check and sweep block in
        # open() for ever (SIGTERM restarted it); report.py, compare.py and --resume on a FIFO blocked too.
        out = self.path("F.h5")
        os.mkfifo(out + ".partial")
        for args in (["run", self.scen, "-n", "2", "-q", "-o", out], ["run", "--resume", out]):
            p = run(*args, timeout=20)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("F.h5.partial", p.stderr)
        os.mkfifo(self.path("G.h5"))
        for tool in ("report.py", "compare.py"):
            args = [sys.executable, os.path.join(SRC, "analysis", tool), self.path("G.h5")]
            if tool == "compare.py":
                args.append(self.path("G.h5"))
            p = subprocess.run(args, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 2, (tool, p.stderr))
            self.assertIn("not a regular file", p.stderr)

    def test_readers_warn_on_a_file_of_another_version(self):
        # Input-validation audit 2026-12-07: files of another version were read with this version's definitions,
        # silently, while docs/output.md lists columns that changed meaning since 0.4.0 (the version then stayed
        # 0.4.0 through those changes; it is 0.5.0 since, 0.5.1 since settlement deficits are bad debt).
        # marginsim.open warns, report.py and compare.py say so.
        out = self.path("v.h5")
        p = run("run", self.scen, "-n", "2", "-q", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        report = os.path.join(SRC, "analysis", "report.py")
        p = subprocess.run([sys.executable, report, out, "--no-plots"], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("warning", p.stderr)
        # older and newer versions, and (the review of this change) versions that are not three numbers
        for version, want in (("0.4.0", "report.py: warning: " + out + ": written by marginsim 0.4.0, before 0.5.1: "
                                        "some columns had other meanings"),
                              ("0.5.0", "report.py: warning: " + out + ": written by marginsim 0.5.0, before 0.5.1: "
                                        "some columns had other meanings"),
                              ("9.1.0", "report.py: warning: " + out + ": written by marginsim 9.1.0, newer than "
                                        "these readers (0.5.1)"),
                              ("0.5", "before 0.5.1"), ("0.5.1-rc1", None), ("0.5.1+g1234", None),
                              ("", "a version these readers cannot read")):
            with h5py.File(out, "a") as f:
                f.attrs["version"] = version
            p = subprocess.run([sys.executable, report, out, "--no-plots"], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            if want:
                self.assertIn(want, p.stderr)
            else:
                self.assertNotIn("warning", p.stderr)
        with h5py.File(out, "a") as f:
            f.attrs["version"] = "0.4.0"
        p = subprocess.run([sys.executable, os.path.join(SRC, "analysis", "compare.py"), out, out],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.stderr.count("compare.py: warning: "), 1, p.stderr)
        # the same audit: a run file with its rows or statistics deleted gave a partial report, exit 0
        for group in ("paths/summary", "stats"):
            cut = self.path("cut.h5")
            shutil.copyfile(out, cut)
            with h5py.File(cut, "a") as f:
                f.attrs["version"] = "0.5.1"
                del f[group]
            p = subprocess.run([sys.executable, report, cut, "-o", self.path("cut_report")], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("a marginsim run file without /" + group + ": damaged", p.stderr)
            self.assertFalse(os.path.exists(self.path("cut_report")))

    def test_a_name_too_long_for_its_journal(self):
        # 248 to 255 bytes is a legal file name, but its journal's ("<name>.partial") is not: exit 3 at once,
        # "File name too long", for a name no run could use. Bad input (exit 2), naming the limit.
        long = self.path("b" * 245 + ".h5")
        p = run("run", self.scen, "-n", "2", "-q", "-o", long)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("the file name is too long for its run's journal", p.stderr)
        self.assertIn("at most 247 bytes", p.stderr)
        self.assertFalse(os.path.exists(long))
        ok = self.path("b" * 244 + ".h5")
        p = run("run", self.scen, "-n", "2", "-q", "-o", ok)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(ok))

    def test_the_scenario_file_is_never_an_output(self):
        # review r14: -o naming the scenario (directly, through a link or under another spelling) or --junit
        # naming it replaced the user's scenario with the result (exit 0). Refused: exit 2 before simulating.
        check = self.write("c.yaml", LONG + 'assertions: ["insolvency.probability < 0.5"]\n')
        os.symlink("c.yaml", self.path("link.yaml"))
        before = snapshot(check)
        for cmd in (["run", check, "-o", check],
                    ["run", self.path("link.yaml"), "-o", os.path.join(self.dir, ".", "c.yaml")],
                    ["run", check, "-o", self.path("link.yaml")],
                    ["run", check, "-o", check, "--compare", "margin.maintenance=0.03,0.05"],
                    ["sweep", check, "-o", check, "--grid", "margin.maintenance=0.03,0.05"],
                    ["check", check, "-o", self.path("r.h5"), "--junit", check]):
            t0 = time.time()
            try:
                p = run(*cmd, timeout=30)
            except subprocess.TimeoutExpired:
                self.fail(f"{cmd}: simulated with the scenario as the output")
            self.assertLess(time.time() - t0, 5, cmd)
            self.assertEqual(p.returncode, 2, (cmd, p.stderr))
            self.assertIn("the scenario file itself", p.stderr, cmd)
            self.assertEqual(snapshot(check), before, cmd)
            self.assertFalse(os.path.exists(self.path("r.h5")), cmd)
            self.assertEqual(temporaries(self.dir), [], cmd)

    # -- 2. the temporary -----------------------------------------------------------------------------

    def test_planted_symlink_at_a_temporary_name_redirects_nothing(self):
        # issue 14.2: a symlink planted at OUT.tmp.<pid> made a run overwrite the file it pointed to. The shell
        # plants it under its own pid, then execs marginsim under that pid. Links matching the documented
        # pattern are planted too: with O_CREAT|O_EXCL they could only make the creation retry, never be followed.
        os.mkdir(self.path("elsewhere"))
        victim = self.path("elsewhere/victim")
        with open(victim, "w") as f:
            f.write("precious")
        out = self.path("out.h5")
        planted = [f".out.h5.ms-tmp-{i:08d}" for i in range(50)] + [".out.h5.ms-tmp-XXXXXXXX"]
        for n in planted:
            os.symlink(victim, self.path(n))
        script = 'ln -s "$1" "$2.tmp.$$" && exec "$3" run "$4" -q -o "$2"'
        p = subprocess.run(["sh", "-c", script, "sh", victim, out, BIN, self.scen], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(victim, "rb") as f:
            self.assertEqual(f.read(), b"precious", "the run wrote through a planted link")
        self.assertEqual(os.listdir(self.path("elsewhere")), ["victim"])
        with h5py.File(out, "r") as f:
            self.assertEqual(f["paths/summary"].shape, (6,))
        for n in planted:  # the links are not ours: left as they were
            self.assertEqual(os.readlink(self.path(n)), victim)

    def test_temporary_names_are_unpredictable_and_recognisable(self):
        # issue 14.2/14.3: two runs killed with SIGKILL (which nothing can catch) leave their temporaries: each
        # named ".<name>.ms-tmp-" and eight random letters or digits (different every run), mode 0666 less the
        # umask, in the folder of -o.
        names = []
        for _ in range(2):
            proc = self.start(["run", self.long, "-q", "-o", self.path("long.h5")], preexec_fn=lambda: os.umask(0o027))
            name = self.wait_for_temporary(self.dir, "long.h5", seen=names)
            proc.kill()
            proc.communicate(timeout=30)
            self.assertIsNotNone(name, "the run never started writing")
            if os.path.exists(self.path("long.h5.partial")):  # the journal a resume would go on from
                os.remove(self.path("long.h5.partial"))
            self.assertRegex(name, "^" + TMP_RE.format(name=re.escape("long.h5")) + "$")
            self.assertEqual(stat.S_IMODE(os.lstat(self.path(name)).st_mode), 0o640)
            names.append(name)
        self.assertNotEqual(names[0], names[1])
        self.assertFalse(os.path.exists(self.path("long.h5")))
        # created exclusively, never through a link: seen in the system call when strace can trace here
        if shutil.which("strace"):
            p = subprocess.run(["strace", "-f", "-e", "trace=open,openat", "-o", self.path("trace"), BIN, "run",
                                self.scen, "-q", "-o", self.path("s.h5")], capture_output=True, text=True)
            if p.returncode == 0:
                with open(self.path("trace")) as f:
                    opens = [ln for ln in f if ".s.h5.ms-tmp-" in ln]
                creates = [ln for ln in opens if "O_CREAT" in ln]
                self.assertTrue(creates, "no creation of the temporary traced")
                self.assertIn("O_EXCL", creates[0])
                self.assertIn("O_NOFOLLOW", creates[0])
                # review r14: HDF5 then reopened the temporary by name with O_CREAT|O_TRUNC, following links: a
                # link swapped in after the creation made it truncate the file the link points to. The name is
                # opened once, exclusively; HDF5 gets the file itself (/proc/self/fd/N).
                self.assertEqual(opens, creates[:1], "the temporary was opened again by name")
            else:
                print("\nskipped the strace check: " + p.stderr.strip()[:200], file=sys.stderr)

    # -- 3. failures leave nothing --------------------------------------------------------------------

    def test_a_failed_or_killed_run_leaves_the_previous_result_and_no_temporary(self):
        out = self.path("r.h5")
        p = run("run", self.scen, "-q", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        previous = snapshot(out)
        # bad input found mid-run: exit 2
        runaway = self.write("runaway.yaml", RUNAWAY)
        p = run("run", runaway, "-n", "4", "-q", "-o", out)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(snapshot(out), previous)
        self.assertEqual(temporaries(self.dir), [])
        # ... into folders it made: they go too
        p = run("run", runaway, "-n", "4", "-q", "-o", self.path("new/deeper/r.h5"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertFalse(os.path.exists(self.path("new")))
        # review r14: only the first 32 folders made were remembered, so 40 new levels all stayed
        p = run("run", runaway, "-n", "4", "-q", "-o", self.path("/".join(["new"] + ["d%d" % i for i in range(40)])
                                                                   + "/r.h5"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertFalse(os.path.exists(self.path("new")))
        # signals that kill at once (a hang-up, an assertion's SIGABRT, a crash): the temporary and the folders
        # made for -o are removed before the process dies as the signal meant
        # (issue 16: the run's journal, <result>.partial, is kept when it holds finished paths: a resume goes on
        # from there; the folder holding it then stays too)
        for sig in (signal.SIGHUP, signal.SIGABRT, signal.SIGSEGV):
            for o in (out, self.path("made/r.h5")):
                proc = self.start(["run", self.long, "-q", "-o", o])
                name = self.wait_for_temporary(os.path.dirname(o), "r.h5")
                self.assertIsNotNone(name, "the run never started writing")
                proc.send_signal(sig)
                proc.communicate(timeout=30)
                self.assertEqual(proc.returncode, -sig, sig)
                self.assertEqual(snapshot(out), previous, sig)
                self.assertEqual(temporaries(self.dir), [], sig)
                if os.path.exists(o + ".partial"):
                    os.remove(o + ".partial")
                    if o != out:
                        self.assertEqual(os.listdir(self.path("made")), [], sig)
                        os.rmdir(self.path("made"))
                self.assertFalse(os.path.exists(self.path("made")), sig)
        self.assertEqual(self.listing(), ["long.yaml", "r.h5", "runaway.yaml", "small.yaml"])

    def test_an_assertion_in_a_run_leaves_no_temporary(self):
        # issue 14.8 found `lognormal sigma: 1000` on collateral aborting on an assertion (exit 134) with the
        # temporary left. Whatever that scenario does now (item 8 makes it a load error), no temporary.
        out = self.path("r.h5")
        p = run("run", self.scen, "-q", "-o", out)
        previous = snapshot(out)
        p = run("run", self.scen, "-q", "-o", out, "--set", "book.collateral={dist: lognormal, median: 4000, sigma: 1000}")
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertEqual(snapshot(out), previous)
        self.assertEqual(temporaries(self.dir), [])

    # -- 4. default names -----------------------------------------------------------------------------

    def test_default_output_name_stays_in_results(self):
        # issue 14.4: --set name=../../escaped without -o wrote outside results/. The name is made safe for a
        # file name: every byte but letters, digits, '_', '-', '+', '.' (and UTF-8) becomes '_', a leading '.' too.
        work = self.path("a/b")
        os.makedirs(work)
        for name, want in (("../../escaped", "_._.._escaped.h5"), ("BTC/USD crash", "BTC_USD_crash.h5"),
                           ("..", "_..h5")):
            p = run("run", self.scen, "-q", "--set", f"name={name}", cwd=work)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.isfile(os.path.join(work, "results", want)), (name, os.listdir(work)))
        p = run("sweep", self.scen, "-q", "--set", "name=../../escaped", "--grid", "margin.maintenance=0.03,0.05",
                cwd=work)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.isfile(os.path.join(work, "results", "_._.._escaped-sweep.h5")))
        self.assertEqual(sorted(os.listdir(work)), ["results"])
        self.assertEqual(self.listing(), ["a", "long.yaml", "small.yaml"])
        self.assertEqual(os.listdir(self.path("a")), ["b"])
        p = run("run", self.scen, "--set", "name=x/y", "-n", "2", cwd=work)
        self.assertIn("wrote results/x_y.h5", p.stdout)

    # -- 5. full disks --------------------------------------------------------------------------------

    def small_tmpfs(self, size):
        """A tmpfs of `size` bytes mounted in the test folder, or skip."""
        mnt = self.path("mnt")
        os.mkdir(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mnt], capture_output=True,
                           text=True)
        if p.returncode != 0:
            self.skipTest(f"mounting a tmpfs is not permitted here ({p.stderr.strip()})")
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt], capture_output=True))
        return mnt

    def fill(self, folder):
        """Fill the file system of `folder` to 100%."""
        fd = os.open(os.path.join(folder, "filler"), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            for size in (65536, 4096, 512, 1):
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError:
                        break
        finally:
            os.close(fd)

    def test_full_disk_is_exit_3_with_the_path_and_the_reason(self):
        # issue 14.5: HDF5 failed mid-write and the process then segfaulted in HDF5's exit handler (exit 139);
        # at 100% full a 0-byte temporary was left.
        mnt = self.small_tmpfs(128 * 1024)
        out = os.path.join(mnt, "r.h5")
        p = run("run", self.scen, "-q", "-o", out, "-n", "200")  # about 1 MB: the disk fills mid-write
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(out + ": cannot write the result file", p.stderr)
        self.assertIn("No space left on device", p.stderr)
        # the finished paths, if any, are kept for a resume once there is room (and the message says so)
        if os.listdir(mnt):
            self.assertEqual(os.listdir(mnt), ["r.h5.partial"])
            self.assertIn("are kept in %s.partial" % out, p.stderr)
            os.remove(out + ".partial")
        # a previous result and then a disk 100% full
        p = run("run", self.scen, "-q", "-o", out, "-n", "2", "--set", "output.timeseries.paths=0",
                "--set", "output.fan.paths=0")
        self.assertEqual(p.returncode, 0, p.stderr)
        previous = snapshot(out)
        self.fill(mnt)
        p = run("run", self.scen, "-q", "-o", out)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("No space left on device", p.stderr)
        self.assertEqual(snapshot(out), previous)
        self.assertEqual(sorted(os.listdir(mnt)), ["filler", "r.h5"])
        # the JUnit report on the full disk: exit 3 with its path and the reason, no temporary
        check = self.write("check.yaml", SMALL + 'assertions: ["insolvency.probability < 0.5"]\n')
        junit = os.path.join(mnt, "check.xml")
        p = run("check", check, "-q", "-o", self.path("c.h5"), "--junit", junit)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(junit + ": cannot write the JUnit report (No space left on device)", p.stderr)
        self.assertEqual(sorted(os.listdir(mnt)), ["filler", "r.h5"])
        # the report on the full disk: exit 3, no temporary, the folder it made removed
        rep = os.path.join(mnt, "rep")
        p = subprocess.run([sys.executable, os.path.join(SRC, "analysis", "report.py"), self.path("c.h5"), "-o", rep],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertRegex(p.stderr, r"report\.py: " + re.escape(rep) + r"\S*: cannot (write|create).*No space left on device")
        self.assertEqual(sorted(os.listdir(mnt)), ["filler", "r.h5"])

    def test_file_size_limit_is_exit_3(self):
        # The same failure without mounting anything: past `ulimit -f` a write fails. Before, SIGXFSZ killed the
        # run (temporary left); now the write fails with EFBIG and the run exits 3 naming the file.
        out = self.path("r.h5")
        p = run("run", self.scen, "-q", "-o", out)
        previous = snapshot(out)
        limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))  # noqa: E731
        p = run("run", self.scen, "-q", "-o", out, "-n", "200", preexec_fn=limit)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(out + ": cannot write the result file", p.stderr)
        self.assertIn("File too large", p.stderr)
        self.assertEqual(snapshot(out), previous)
        self.assertEqual(temporaries(self.dir), [])

    @unittest.skipUnless(os.environ.get("MS_FAILWRITE"), "needs the failwrite shim (MS_FAILWRITE, set by ctest)")
    @unittest.skipIf(os.environ.get("MS_SANITIZED", "0") not in ("", "0"), "ASan must be the first library loaded")
    def test_a_failed_write_of_the_liquidation_rows_is_exit_3_and_resumes(self):
        # Uncompressed /liquidations is written in place by a copier thread beside the assembly. A write of
        # its rows that fails must end the run as any failed write does (exit 3, the file named, the previous
        # file untouched, no temporary) with the finished paths kept in the journal, from which the resume
        # writes what an uninterrupted run writes. The shim (tests/shim/failwrite.c) fails only the copier's
        # writes: were their failure lost, the run would end otherwise — with success and rows never written
        # when a failed write is taken for a whole one, or with the journal's consistency check's message.
        scen = self.write("rows.yaml", small(4, 2000))
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")  # the same "created" for both runs: same bytes
        a, b = self.path("a"), self.path("b")
        os.mkdir(a)
        os.mkdir(b)
        p = run("run", scen, "-q", "-o", "r.h5", env=env, cwd=a)
        self.assertEqual(p.returncode, 0, p.stderr)
        want = os.path.join(a, "r.h5")
        with h5py.File(want, "r") as f:
            self.assertIsNotNone(f["liquidations"].id.get_offset(), "/liquidations is not contiguous: no copier")
            self.assertGreater(len(f["liquidations"]), 100)
        out = os.path.join(b, "r.h5")
        shutil.copyfile(want, out)  # a previous result at -o
        previous = snapshot(out)
        p = run("run", scen, "-q", "-o", "r.h5", env=dict(env, LD_PRELOAD=os.environ["MS_FAILWRITE"]), cwd=b)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("r.h5: cannot write the result file: write failed (Input/output error)", p.stderr)
        self.assertEqual(snapshot(out), previous)
        self.assertEqual(temporaries(b), [])
        self.assertIn("4 of 4 paths are kept in r.h5.partial", p.stderr)
        os.remove(out)
        p = run("run", "--resume", out, "-q", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(out + ".partial"), "the journal outlived the finished run")
        with open(want, "rb") as f, open(out, "rb") as g:
            self.assertTrue(f.read() == g.read(), "the resumed file differs from the uninterrupted one")

if __name__ == "__main__":
    unittest.main(verbosity=2)
