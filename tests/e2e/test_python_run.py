"""marginsim.run, in-process through the shared library (cffi): its
in-memory Result must equal, value for value, `marginsim.open` of the file
the same run writes, which must equal the CLI's file read with h5py; bad
input raises marginsim.Error with exit code 2; a cancelled run raises
KeyboardInterrupt and leaves no file; tables held only in the file say so.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

from e2e import SRC, run as cli, small

sys.path.insert(0, os.path.join(SRC, "analysis"))
import marginsim  # noqa: E402

SMALL = small(24, 300)

SKIP = None
if os.environ.get("MS_SANITIZED", "0") in ("1", "ON", "TRUE", "true"):
    SKIP = "the sanitized shared library cannot be loaded into an unsanitized python (ASan must come first)"


def same(a, b):
    """Equal as float64, NaN equal to NaN, bit for bit otherwise."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@unittest.skipIf(SKIP is not None, SKIP or "")
class PythonRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ms_pyrun_")
        d = cls.tmp.name
        cls.scen = os.path.join(d, "small.yaml")
        with open(cls.scen, "w") as f:
            f.write(SMALL)
        cls.cli_h5 = os.path.join(d, "cli.h5")
        p = cli("run", cls.scen, "-q", "-n", "20", "--set", "oracle.heartbeat=10m", "-o", cls.cli_h5)
        assert p.returncode == 0, p.stderr
        cls.mem = marginsim.run(cls.scen, paths=20, set={"oracle.heartbeat": "10m"}, threads=2)
        cls.lib_h5 = os.path.join(d, "lib.h5")
        cls.filed = marginsim.run(cls.scen, paths=20, set={"oracle.heartbeat": "10m"}, threads=1, output=cls.lib_h5)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_summary_equals_file(self):
        with h5py.File(self.cli_h5, "r") as f:
            ds = f["paths/summary"][()]
        s = self.mem.summary
        self.assertEqual(len(s), 20)
        self.assertEqual(list(s.columns), list(ds.dtype.names))
        for c in ds.dtype.names:
            self.assertTrue(same(s[c], ds[c]), c)
        o = marginsim.open(self.cli_h5).summary
        for c in o.columns:
            self.assertTrue(same(s[c], o[c]), c)
            self.assertEqual(s.attrs["units"][c], o.attrs["units"][c], c)

    def test_types_equal_file(self):
        # integer columns come back as the file's integers, not float64
        o = marginsim.open(self.cli_h5)
        for name in ("summary", "liquidations"):
            a, b = getattr(self.mem, name), getattr(o, name)
            self.assertEqual(list(a.columns), list(b.columns), name)
            self.assertEqual(dict(a.dtypes), dict(b.dtypes), name)
            self.assertEqual(a.attrs["units"], b.attrs["units"], name)
        self.assertEqual(self.mem.summary["path"].tolist(), list(range(20)))
        for k in ("name", "seed", "paths", "scenario_path"):  # what it takes to run it again
            self.assertEqual(self.mem.attrs[k], self.filed.attrs[k], k)

    def test_stats_equal_file(self):
        o = marginsim.open(self.cli_h5)
        for name in ("stats", "probabilities", "feedback"):
            a, b = getattr(self.mem, name), getattr(o, name)
            self.assertEqual(list(a.columns), list(b.columns), name)
            self.assertEqual(len(a), len(b), name)
            for c in a.columns:
                if a[c].dtype == object:
                    self.assertEqual(list(a[c]), list(b[c]), (name, c))
                else:
                    self.assertTrue(same(a[c], b[c]), (name, c))

    def test_liquidations_equal_file(self):
        with h5py.File(self.cli_h5, "r") as f:
            ds = f["liquidations"][()]
        liq = self.mem.liquidations
        self.assertGreater(len(ds), 0)
        self.assertEqual(len(liq), len(ds))
        for c in ds.dtype.names:
            self.assertTrue(same(liq[c], ds[c]), c)

    def test_output_file_equals_cli_file(self):
        self.assertEqual(self.filed.kind, "run")
        with h5py.File(self.cli_h5, "r") as a, h5py.File(self.lib_h5, "r") as b:
            for name in ("paths/summary", "liquidations", "stats/summary", "book", "cascades"):
                self.assertEqual(a[name][()].tobytes(), b[name][()].tobytes(), name)

    def test_file_only_tables_say_so(self):
        for name in ("cascades", "book", "timeseries"):
            with self.assertRaises(AttributeError) as e:
                getattr(self.mem, name)
            self.assertIn("output=", str(e.exception))

    def test_summary_figures_draw_from_memory(self):
        import matplotlib
        matplotlib.use("Agg")
        for fn in (marginsim.plot_bad_debt, marginsim.plot_drawdown):
            ax = fn(self.mem)
            self.assertTrue(ax.lines or ax.patches or ax.collections, fn.__name__)
        # the liquidations over time from the in-memory /liquidations, as from the file
        self.assertEqual(marginsim.caption(marginsim.plot_liquidations(self.mem)),
                         marginsim.caption(marginsim.plot_liquidations(marginsim.open(self.cli_h5))))
        # what only the file holds: NotDrawable (as for a file without it), naming output=
        for fn in (marginsim.plot_cascades, marginsim.plot_price_fan, marginsim.plot_insurance_fund):
            with self.assertRaises(marginsim.NotDrawable) as e:
                fn(self.mem)
            self.assertIn("output=", str(e.exception))
        import matplotlib.pyplot as plt
        plt.close("all")

    def test_bad_override(self):
        with self.assertRaises(marginsim.Error) as e:
            marginsim.run(self.scen, paths=5, set={"margin.model": "bogus"})
        self.assertEqual(e.exception.exit_code, 2)
        self.assertIn("margin.model", str(e.exception))
        self.assertIn("static", str(e.exception))

    def test_arguments_checked(self):
        # no silent truncation or clamping: paths=2.7 is an error, not 2 paths
        with self.assertRaises(marginsim.Error) as e:
            marginsim.run(self.scen, paths=2.7)
        self.assertEqual(e.exception.exit_code, 2)
        self.assertIn("paths", str(e.exception))
        for bad in (-1, 100000, 1.5):
            with self.assertRaises(ValueError):
                marginsim.run(self.scen, paths=2, threads=bad)
        with self.assertRaises(TypeError):
            marginsim.run(self.scen, paths=2, set=[("oracle.heartbeat", "10m")])
        self.assertEqual(marginsim.run(self.scen, paths=np.int64(2), seed=np.uint64(5)).attrs["paths"], 2)

    def test_library_not_found(self):
        # MARGINSIM_LIBRARY naming nothing, or a library that is not
        # marginsim's: OSError before any run, naming the path and what to do
        code = """if 1:
            import ctypes.util, os, sys
            sys.path.insert(0, sys.argv[1])
            import marginsim
            for lib in ("/nonexistent/libmarginsim.so", ctypes.util.find_library("m")):
                os.environ["MARGINSIM_LIBRARY"] = lib
                try:
                    marginsim.run(sys.argv[2], paths=2)
                except OSError as e:
                    print(type(e).__name__, e)
            """
        p = subprocess.run([sys.executable, "-c", code, os.path.join(SRC, "analysis"), self.scen],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 2, p.stdout)
        self.assertIn("/nonexistent/libmarginsim.so", lines[0])
        self.assertIn("MARGINSIM_LIBRARY", lines[0])
        self.assertIn("lacks ms_strerror", lines[1])

    def test_cancel_leaves_no_file(self):
        out = os.path.join(self.tmp.name, "cancelled.h5")
        seen = []

        def progress(done, total):
            seen.append(done)
            if done >= 2:
                raise KeyboardInterrupt  # as Ctrl-C in a notebook would

        with self.assertRaises(KeyboardInterrupt):
            marginsim.run(self.scen, paths=200, threads=1, output=out, progress=progress)
        self.assertFalse(os.path.exists(out))
        self.assertTrue(seen)

    def test_ctrl_c_waits_for_the_library(self):
        # SIGINT while the library runs: KeyboardInterrupt only once the run
        # has stopped (no worker left, temporary removed, nothing written)
        d = tempfile.mkdtemp(dir=self.tmp.name)
        code = """if 1:
            import os, signal, sys, threading
            sys.path.insert(0, sys.argv[1])
            import marginsim
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
            try:
                marginsim.run(sys.argv[2], paths=100000, threads=1, output=os.path.join(sys.argv[3], "x.h5"))
            except KeyboardInterrupt:
                print("threads", threading.active_count(), "files", sorted(os.listdir(sys.argv[3])))
            """
        p = subprocess.run([sys.executable, "-c", code, os.path.join(SRC, "analysis"), self.scen, d],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "threads 1 files []")


if __name__ == "__main__":
    unittest.main()
