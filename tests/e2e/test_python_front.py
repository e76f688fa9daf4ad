"""analysis/marginsim, the Python front: `marginsim.open` of a run, a
--compare and a sweep file must give, column by column, what h5py reads from
the same file (strings decoded, a unit for every column), timeseries in long
form with one row per (path, sample), and None for a table the file lacks.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

from e2e import SRC, run, small

sys.path.insert(0, os.path.join(SRC, "analysis"))
import marginsim  # noqa: E402

SMALL = small(16, 300, fan=True)
TS_PATHS, TS_SAMPLES = 3, 2 * 3600 // 30 + 1  # t = 0, 30 s, ..., 2 h
FAN_PATHS, FAN_POINTS = 5, 9


def decoded(values):
    """What open() must give for a column h5py reads: str for byte strings."""
    if values.dtype.kind in "SO":
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]
    return values


class PythonFrontTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ms_pyfront_")
        d = cls.tmp.name
        cls.scen = os.path.join(d, "small.yaml")
        with open(cls.scen, "w") as f:
            f.write(SMALL)
        cls.run_h5, cls.cmp_h5, cls.sweep_h5, cls.bare_h5 = (
            os.path.join(d, n) for n in ("run.h5", "cmp.h5", "sweep.h5", "bare.h5"))
        for args in (["run", cls.scen, "-q", "-o", cls.run_h5],
                     ["run", cls.scen, "-q", "-o", cls.cmp_h5, "--compare", "margin.maintenance=0.03,0.05"],
                     ["sweep", cls.scen, "-q", "-o", cls.sweep_h5, "--grid", "margin.maintenance=0.03,0.05",
                      "--grid", "oracle.heartbeat=10m,1h"],
                     ["run", cls.scen, "-q", "-o", cls.bare_h5, "--set", "output.liquidations=false",
                      "--set", "output.timeseries.paths=0"]):
            p = run(*args)
            assert p.returncode == 0, (args, p.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_table(self, df, path, name, flat=False):
        """df equals dataset `name` of `path`, field by field, with a unit for every column."""
        with h5py.File(path, "r") as f:
            data = f[name][()]
        if flat:
            data = data.reshape(-1)
        self.assertIsNotNone(df, name)
        self.assertEqual(len(df), len(data), name)
        self.assertGreater(len(data), 0, name + ": an empty table shows nothing")
        for field in data.dtype.names:
            got, want = df[field].to_numpy(), decoded(data[field])
            if data.dtype[field].kind in "SO":
                self.assertEqual(list(got), want, (name, field))
                self.assertTrue(all(isinstance(v, str) for v in got), (name, field))
            else:
                self.assertEqual(got.dtype, data.dtype[field], (name, field))
                np.testing.assert_array_equal(got, want, err_msg="%s %s" % (name, field))
        self.assertEqual(set(df.attrs["units"]), set(df.columns), name)

    def test_run_file_tables_equal_h5py(self):
        r = marginsim.open(self.run_h5)
        self.assertEqual(r.kind, "run")
        self.assert_table(r.summary, self.run_h5, "paths/summary")
        self.assert_table(r.liquidations, self.run_h5, "liquidations")
        self.assert_table(r.cascades, self.run_h5, "cascades")
        self.assert_table(r.book, self.run_h5, "book")
        self.assert_table(r.stats, self.run_h5, "stats/summary")
        self.assert_table(r.probabilities, self.run_h5, "stats/probabilities")
        self.assert_table(r.feedback, self.run_h5, "stats/feedback")
        # units: from the file's `columns` attribute and docs/output.md's tables
        self.assertEqual(r.summary.attrs["units"]["bad_debt"], "USD")
        self.assertEqual(r.summary.attrs["units"]["max_drawdown"], "fraction")
        self.assertEqual(r.summary.attrs["units"]["time_in_regime_stress"], "s")
        self.assertEqual(r.liquidations.attrs["units"]["time"], "ms")
        self.assertEqual(r.liquidations.attrs["units"]["delay"], "s")
        self.assertEqual(r.cascades.attrs["units"]["notional"], "USD")
        self.assertEqual(r.book.attrs["units"]["quantity"], "units")
        # every unit the writer's field table puts in a record's `columns` attribute, as the file says
        with h5py.File(self.run_h5, "r") as f:
            for name, df in (("liquidations", r.liquidations), ("cascades", r.cascades), ("book", r.book)):
                for line in f[name].attrs["columns"].splitlines():
                    col, unit = line.split(" [", 1)[0], line.split(" [", 1)[1].split("]", 1)[0]
                    self.assertEqual(df.attrs["units"][col], unit, (name, col))
        stats = r.stats.set_index("name")["unit"]
        self.assertEqual((stats["bad_debt"], stats["liquidations"], stats["max_drawdown"]), ("USD", "count", "fraction"))
        self.assertEqual(list(r.feedback["unit"]), ["count", "USD", "USD"])
        self.assertIn(r.stats["risky_side"].iloc[0], ("high", "low"))
        # the configuration as a dict, and what is not in a run file
        self.assertEqual((r.config["seed"], r.config["paths"], r.config["output"]["liquidations"]), (7, 16, True))
        self.assertEqual((r.models, r.compare, r.sweep, r.cells, r.axes), ({}, None, None, [], {}))

    def test_timeseries_long_form(self):
        r = marginsim.open(self.run_h5)
        ts = r.timeseries
        self.assertEqual(len(ts), TS_PATHS * TS_SAMPLES)
        self.assertEqual(list(ts.columns[:2]), ["path", "time"])
        with h5py.File(self.run_h5, "r") as f:
            g = f["timeseries"]
            self.assertEqual(set(ts.columns) - {"path", "time"}, {k for k in g if k not in ("time", "fan")})
            for p in range(TS_PATHS):
                rows = ts[ts["path"] == p]
                np.testing.assert_array_equal(rows["time"], np.arange(TS_SAMPLES) * 30.0)
                for v in ("price", "mark", "regime", "liquidations", "insurance_fund"):
                    np.testing.assert_array_equal(rows[v].to_numpy(), g[v][p], err_msg=v)
            self.assertEqual(len(r.fan), FAN_PATHS * FAN_POINTS)
            np.testing.assert_array_equal(r.fan[r.fan["path"] == 4]["price"].to_numpy(), g["fan/price"][4])
        self.assertEqual((ts.attrs["units"]["price"], ts.attrs["units"]["time"]), ("USD", "s"))
        self.assertEqual(ts.attrs["regime_names"], ["calm", "stress"])
        self.assertEqual(int(ts["liquidations"].sum()),
                         int(np.sum(r.liquidations["path"].to_numpy() < TS_PATHS)))

    def test_stat_sub_and_columns_equal_h5py(self):
        r = marginsim.open(self.run_h5)
        with h5py.File(self.run_h5, "r") as f:
            rows = {n.decode(): x for n, x in zip(f["stats/summary"]["name"], f["stats/summary"][()])}
            probs = {n.decode(): x for n, x in zip(f["stats/probabilities"]["name"], f["stats/probabilities"][()])}
            columns = f["paths/summary"].attrs["columns"]
            columns = columns.decode() if isinstance(columns, bytes) else columns
        b = rows["bad_debt"]
        self.assertEqual(r.stat("bad_debt.mean"), (b["mean"], b["mean_lo"], b["mean_hi"]))
        self.assertEqual(r.stat("bad_debt.q99"), (b["q99"], b["q99_lo"], b["q99_hi"]))
        sd = r.stat("bad_debt.sd")
        self.assertEqual(sd[0], b["sd"])
        self.assertTrue(np.isnan(sd[1]) and np.isnan(sd[2]), "sd has no interval")
        p = probs["insolvency"]
        self.assertEqual(r.stat("insolvency.probability"), (p["p"], p["lo"], p["hi"]))
        for bad in ("nonsense.mean", "bad_debt.nonsense", "nonsense.probability"):
            with self.assertRaises(KeyError):
                r.stat(bad)
        # every documented column, with its unit and meaning as the attribute's line says
        lines = [ln for ln in columns.splitlines() if ln.strip()]
        self.assertEqual(len(r.summary_columns), len(lines))
        for ln in lines:
            name, rest = ln.split(" [", 1)
            unit, meaning = rest.split("]:", 1)
            self.assertEqual(r.summary_columns[name], (unit, meaning.strip()), ln)
            self.assertEqual(r.summary.attrs["meanings"][name], meaning.strip())
        self.assertEqual(r.summary.attrs["units"]["regime_switches"], "count")  # a line with no meaning
        # groups: the root, a model, a cell; an absent group is a KeyError naming it
        c = marginsim.open(self.cmp_h5)
        m = c.sub("models/0.05")
        self.assertEqual((m.group, m.root.group), ("/models/0.05/", "/"))
        self.assertIs(c.sub(""), c)
        self.assert_table(m.summary, self.cmp_h5, "models/0.05/paths/summary")
        with self.assertRaises(KeyError) as e:
            c.sub("models/nope")
        self.assertIn("no group 'models/nope'", str(e.exception))

    def test_assertions_equal_h5py(self):
        scen = os.path.join(self.tmp.name, "asserted.yaml")
        with open(scen, "w") as f:
            f.write(SMALL + 'assertions:\n  - insolvency.probability < 0.5\n'
                    '  - {assert: "bad_debt.q99 < 1e6", confidence: 0.95}\n')
        path = os.path.join(self.tmp.name, "asserted.h5")
        p = run("run", scen, "-q", "-o", path)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        r = marginsim.open(path)
        self.assert_table(r.assertions, path, "assertions")
        self.assertEqual(list(r.assertions["assertion"]), ["insolvency.probability < 0.5", "bad_debt.q99 < 1e6"])
        self.assertIsNone(marginsim.open(self.run_h5).assertions)

    def test_missing_tables_are_none(self):
        r = marginsim.open(self.bare_h5)
        self.assertIsNone(r.liquidations)
        self.assertIsNone(r.timeseries)
        self.assertEqual(len(r.summary), 16)

    def test_the_documented_example_runs(self):
        # docs/workflows.md, "## Python": its ```python block, on this run's file
        with open(os.path.join(SRC, "docs", "workflows.md"), encoding="utf-8") as f:
            text = f.read()
        block = text.split("\n## Python\n", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
        self.assertIn("marginsim.open(", block)
        env = {}
        exec(block.replace('"results/q.h5"', repr(self.run_h5)), env)
        d = env["r"].summary.describe()
        self.assertEqual(d.loc["count", "bad_debt"], 16)

    def test_compare_file(self):
        r = marginsim.open(self.cmp_h5)
        self.assertEqual(r.kind, "compare")
        self.assertIsNone(r.summary)
        self.assertEqual(list(r.models), ["0.03", "0.05"])
        for value, m in r.models.items():
            g = "models/%s/" % value
            self.assert_table(m.summary, self.cmp_h5, g + "paths/summary")
            self.assert_table(m.liquidations, self.cmp_h5, g + "liquidations")
            self.assert_table(m.stats, self.cmp_h5, g + "stats/summary")
            self.assertEqual(m.config["margin"]["maintenance"], float(value))
            self.assertEqual(len(m.timeseries), TS_PATHS * TS_SAMPLES)
        self.assert_table(r.compare.models, self.cmp_h5, "compare/models")
        self.assert_table(r.compare.differences, self.cmp_h5, "compare/differences")
        d = r.compare.differences.set_index("statistic")["unit"]
        self.assertEqual((d["bad_debt"], d["insolvency"]), ("USD", "probability"))

    def test_sweep_file_long_form(self):
        r = marginsim.open(self.sweep_h5)
        self.assertEqual(r.kind, "sweep")
        self.assertEqual(r.axes, {"margin.maintenance": ["0.03", "0.05"], "oracle.heartbeat": ["10m", "1h"]})
        with h5py.File(self.sweep_h5, "r") as f:
            ncells, nrows = f["sweep/stats/summary"].shape
        self.assertEqual(ncells, 4)
        s = r.sweep
        self.assertEqual(len(s), ncells * nrows)
        self.assert_table(s, self.sweep_h5, "sweep/stats/summary", flat=True)
        self.assert_table(r.sweep_differences, self.sweep_h5, "sweep/differences", flat=True)
        self.assert_table(r.sweep_probabilities, self.sweep_h5, "sweep/stats/probabilities", flat=True)
        # cartesian order, the last axis fastest; heartbeats as numbers in s
        cells = s.drop_duplicates("cell")
        self.assertEqual(list(zip(cells["margin.maintenance"], cells["oracle.heartbeat"])),
                         [(0.03, 600.0), (0.03, 3600.0), (0.05, 600.0), (0.05, 3600.0)])
        bd = s[s["name"] == "bad_debt"]
        self.assertEqual(len(bd), 4)
        self.assertEqual(set(bd["unit"]), {"USD"})
        for c, cell in enumerate(r.cells):
            self.assert_table(cell.summary, self.sweep_h5, "sweep/runs/%d/paths/summary" % c)
            self.assertEqual(bd["mean"].iloc[c], cell.stats.set_index("name")["mean"]["bad_debt"])
        self.assertIsNone(r.summary)
        self.assertEqual((r.models, r.compare), ({}, None))
        # the axes as numbers and each cell's value positions, as /sweep/axes and /sweep/index hold them
        self.assertEqual(r.axes_numeric, {"margin.maintenance": [0.03, 0.05], "oracle.heartbeat": [600.0, 3600.0]})
        with h5py.File(self.sweep_h5, "r") as f:
            index = f["sweep/index"][()]
            labels = [x.decode() for x in f["sweep/cells"]["label"]]
        self.assertEqual(list(r.sweep_cells["label"]), labels)
        np.testing.assert_array_equal(r.sweep_cells[["margin.maintenance", "oracle.heartbeat"]].to_numpy(), index)


class MissingModulesTest(unittest.TestCase):
    def test_python_without_h5py_is_told_what_to_do(self):
        # python3 -S: this interpreter without site-packages, as a python3 on
        # PATH without Debian's python3-h5py: a one-line message naming
        # scripts/py and what is missing, exit 3; no traceback
        a = os.path.join(SRC, "analysis")
        for script in ("report.py", "compare.py"):  # calibrate.py needs no module: test_calibrate.py
            p = subprocess.run([sys.executable, "-S", os.path.join(a, script), "x.h5", "y.h5"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 3, (script, p.stderr))
            self.assertNotIn("Traceback", p.stderr, script)
            self.assertIn(script + ": marginsim needs", p.stderr)
            self.assertIn("scripts/py", p.stderr)
            self.assertIn("h5py", p.stderr)
        code = "import sys; sys.path.insert(0, sys.argv[1]); import marginsim"
        p = subprocess.run([sys.executable, "-S", "-c", code, a], capture_output=True, text=True, timeout=60)
        self.assertIn("ImportError: marginsim needs numpy, pandas and h5py", p.stderr)
        self.assertIn("python3-h5py", p.stderr)


if __name__ == "__main__":
    unittest.main()
