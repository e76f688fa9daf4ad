"""analysis/marginsim/plot/, the figures of the Python front: every plot_*
function on a small run file, a --compare file and a sweep file (each kind it
applies to) returns what its docstring says (the Axes, or the Figure of a
multi-panel figure), draws the file's data (checked against h5py reads for
the bad-debt CCDF, the insurance fund and the heatmap), draws on the Axes or
Figure it is given, says NotDrawable for a file without what it needs, and
leaves matplotlib's global state (backend, rcParams) and the working folder
alone. The files are made once, small, for the whole script.
"""
import os
import sys
import tempfile
import unittest

import h5py
import numpy as np

from e2e import SRC, run

sys.path.insert(0, os.path.join(SRC, "analysis"))
import marginsim  # noqa: E402
from marginsim import plot as msplot  # noqa: E402

QUICK = os.path.join(SRC, "scenarios", "quickstart.yaml")
AXES_PLOTS = {"plot_bad_debt", "plot_insurance_fund", "plot_drawdown", "plot_sweep_heatmap"}


def drawn(obj):
    """Number of data artists (lines, patches, collections, images) on the figure's Axes."""
    import matplotlib.figure
    fig = obj if isinstance(obj, (matplotlib.figure.Figure, matplotlib.figure.SubFigure)) else obj.figure
    return sum(len(a.lines) + len(a.patches) + len(a.collections) + len(a.images) for a in fig.axes)


class PlotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import matplotlib
        import matplotlib.pyplot  # noqa: F401 - pyplot resolves the default backend (Agg without a display)
        cls.backend = matplotlib.get_backend()
        cls.tmp = tempfile.TemporaryDirectory(prefix="ms_plot_")
        d = cls.tmp.name
        cls.run_h5, cls.cmp_h5, cls.sweep_h5, cls.sweep1_h5 = (
            os.path.join(d, n) for n in ("run.h5", "cmp.h5", "sweep.h5", "sweep1.h5"))
        for args in (["run", QUICK, "-n", "16", "--set", "output.liquidations=true", "-o", cls.run_h5],
                     ["run", QUICK, "-n", "10", "--compare", "margin.model=static,dynamic", "--set",
                      "book.leverage.max=15", "-o", cls.cmp_h5],
                     ["sweep", QUICK, "-n", "8", "--grid", "margin.maintenance=0.02,0.03", "--grid",
                      "oracle.heartbeat=10m,1h", "-o", cls.sweep_h5],
                     ["sweep", QUICK, "-n", "8", "--grid", "liquidation.insurance_fund=1e6,4e6", "-o",
                      cls.sweep1_h5]):
            p = run(*args, "-q")
            assert p.returncode in (0, 1) and os.path.isfile(args[-1]), (args, p.stderr)
        cls.one = marginsim.open(cls.run_h5)
        cls.cmp = marginsim.open(cls.cmp_h5)
        cls.sweep = marginsim.open(cls.sweep_h5)
        cls.sweep1 = marginsim.open(cls.sweep1_h5)
        cls.cwd = os.getcwd()
        cls.work = tempfile.TemporaryDirectory(prefix="ms_plot_cwd_")
        os.chdir(cls.work.name)  # nothing may be written here

    @classmethod
    def tearDownClass(cls):
        os.chdir(cls.cwd)
        cls.work.cleanup()
        cls.tmp.cleanup()

    def tearDown(self):
        import matplotlib.pyplot as plt
        plt.close("all")

    def check(self, fn, *args, **kw):
        """fn(*args, **kw): the documented return type, a caption, something drawn, one new figure."""
        import matplotlib.axes
        import matplotlib.figure
        import matplotlib.pyplot as plt
        before = len(plt.get_fignums())
        obj = fn(*args, **kw)
        want = matplotlib.axes.Axes if fn.__name__ in AXES_PLOTS else matplotlib.figure.Figure
        self.assertIsInstance(obj, want, fn.__name__)
        self.assertEqual(len(plt.get_fignums()), before + 1, fn.__name__ + ": one new figure")
        self.assertGreater(drawn(obj), 0, fn.__name__ + " drew nothing")
        self.assertTrue(msplot.caption(obj), fn.__name__ + " has no caption")
        return obj

    # -- run figures ------------------------------------------------------------

    def run_results(self):
        base = int(self.sweep.attrs["baseline"])
        return [("run", self.one), ("model static", self.cmp.models["static"]),
                ("model dynamic", self.cmp.models["dynamic"]), ("sweep baseline cell", self.sweep.cells[base])]

    def test_run_plots_on_each_kind(self):
        import matplotlib.pyplot
        for what, r in self.run_results():
            for name, fn in msplot.RUN_PLOTS:
                with self.subTest(what=what, plot=name):
                    self.check(fn, r)
                    matplotlib.pyplot.close("all")
        # a sweep cell other than the baseline records no /timeseries
        other = next(c for i, c in enumerate(self.sweep.cells) if i != int(self.sweep.attrs["baseline"]))
        with self.assertRaises(msplot.NotDrawable) as e:
            msplot.plot_price_fan(other)
        self.assertIn("no /timeseries", str(e.exception))
        self.check(msplot.plot_bad_debt, other)

    def test_bad_debt_ccdf_is_the_files(self):
        with h5py.File(self.run_h5, "r") as f:
            bd = f["paths/summary"]["bad_debt"].astype(float)
        pos = np.sort(bd[bd > 0])
        self.assertGreater(len(pos), 0, "the run needs some bad debt")
        ax = self.check(msplot.plot_bad_debt, self.one)
        line = ax.lines[0]
        np.testing.assert_array_equal(line.get_xdata(), pos)
        np.testing.assert_allclose(line.get_ydata(), (len(pos) - np.arange(len(pos))) / len(bd))

    def test_insurance_fund_lines_are_the_traced_paths(self):
        with h5py.File(self.run_h5, "r") as f:
            F = f["timeseries/insurance_fund"][()]
        ax = self.check(msplot.plot_insurance_fund, self.one)
        for i, row in enumerate(F):
            np.testing.assert_array_equal(ax.lines[i].get_ydata(), row)

    def test_draws_on_the_given_axes_and_figure(self):
        import matplotlib.pyplot as plt
        fig, (a, b) = plt.subplots(1, 2)
        self.assertIs(msplot.plot_bad_debt(self.one, ax=a, title="mine"), a)
        self.assertIs(marginsim.plot_drawdown(self.one, ax=b), b)
        self.assertEqual(a.get_title(), "mine: distribution of bad debt")
        self.assertGreater(len(a.lines), 0)
        top = plt.figure()
        left, right = top.subfigures(1, 2)
        self.assertIs(msplot.plot_cascades(self.one, fig=left), left)
        self.assertIs(msplot.plot_liquidations(self.one, fig=right), right)
        self.assertEqual((len(left.axes), len(right.axes)), (2, 3))
        self.assertEqual(len(plt.get_fignums()), 2, "no figure besides the two given")

    # -- --compare and sweep figures --------------------------------------------

    def test_compare_plots(self):
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            fig = self.check(msplot.plot_compare_headline, self.cmp)
        # an infinite upper bound (bad_debt.mean of 10 heavy-tailed paths) is said, not warned about
        self.assertEqual([str(x.message) for x in w], [])
        his = [self.cmp.models[m].stat("bad_debt.mean")[2] for m in ("static", "dynamic")]
        self.assertEqual([t.get_text().endswith("hi ∞") for t in fig.axes[0].texts],
                         [not np.isfinite(h) for h in his])
        self.assertEqual(len(fig.axes), 5)
        self.assertEqual([t.get_text() for t in fig.axes[0].get_xticklabels()], ["static", "dynamic"])
        self.check(msplot.plot_tradeoff, self.cmp)
        self.check(msplot.plot_compare_differences, self.cmp)
        for fn in (msplot.plot_compare_headline, msplot.plot_tradeoff, msplot.plot_compare_differences):
            for r in (self.one, self.sweep):
                with self.assertRaises(msplot.NotDrawable):
                    fn(r)

    def test_sweep_plots(self):
        show = self.sweep.attrs["show"].split(",")
        with h5py.File(self.sweep_h5, "r") as f:
            summary = f["sweep/stats/summary"][()]
            index = f["sweep/index"][()]
        for name in show:
            with self.subTest(stat=name):
                ax = self.check(msplot.plot_sweep_heatmap, self.sweep, name)
                if name.endswith(".mean"):  # the image is the statistic of each cell, at its axes' positions
                    base = name.rpartition(".")[0]
                    M = np.full((2, 2), np.nan)
                    for c in range(len(index)):
                        row = next(r for r in summary[c] if r["name"].decode() == base)
                        M[index[c, 0], index[c, 1]] = row["mean"]
                    np.testing.assert_array_equal(np.ma.filled(ax.images[0].get_array(), np.nan), M)
        self.check(msplot.plot_sweep_differences, self.sweep)
        self.check(msplot.plot_sweep_stats, self.sweep1)
        self.check(msplot.plot_sweep_differences, self.sweep1)
        with self.assertRaises(msplot.NotDrawable):
            msplot.plot_sweep_stats(self.sweep)  # two axes: heatmaps instead
        with self.assertRaises(msplot.NotDrawable):
            msplot.plot_sweep_heatmap(self.sweep1, "bad_debt.mean")
        with self.assertRaises(msplot.NotDrawable):
            msplot.plot_sweep_heatmap(self.sweep, "nonsense.mean")
        for fn in (msplot.plot_sweep_stats, msplot.plot_sweep_differences):
            with self.assertRaises(msplot.NotDrawable):
                fn(self.cmp)

    # -- no global state, and the exports ----------------------------------------

    def test_no_global_state_and_no_files(self):
        import matplotlib
        import matplotlib.pyplot as plt
        plt.switch_backend("svg")  # not the Agg that a matplotlib.use("Agg") would select
        self.addCleanup(plt.switch_backend, self.backend)
        rc = dict(matplotlib.rcParams)
        for name, fn in msplot.RUN_PLOTS:
            fn(self.one)
        msplot.plot_compare_headline(self.cmp)
        msplot.plot_sweep_heatmap(self.sweep, "bad_debt.mean")
        self.assertEqual(matplotlib.get_backend(), "svg")
        changed = {k for k, v in matplotlib.rcParams.items() if not (rc[k] is v or rc[k] == v)}
        self.assertEqual(changed, set())
        self.assertEqual(os.listdir("."), [])

    def test_readme_example_runs(self):
        # README.md's notebook example, its ```python block, on the small run
        with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
            text = f.read()
        block = text.split("In a notebook", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
        self.assertEqual(len(block.strip().splitlines()), 3)
        self.assertIn("marginsim.plot_", block)
        import matplotlib.pyplot as plt
        before = len(plt.get_fignums())
        exec(block.replace('"results/q.h5"', repr(self.run_h5)), {})
        self.assertEqual(len(plt.get_fignums()), before + 1)

    def test_every_plot_is_exported_and_documented(self):
        names = [n for n in msplot.__all__ if n.startswith("plot_")]
        self.assertEqual(len(names), 12)
        self.assertEqual({fn.__name__ for _, fn in msplot.RUN_PLOTS + msplot.COMPARE_PLOTS + msplot.SWEEP_PLOTS},
                         set(names))
        with open(os.path.join(SRC, "docs", "workflows.md"), encoding="utf-8") as f:
            python = f.read().split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
        for n in names:
            self.assertIs(getattr(marginsim, n), getattr(msplot, n))
            self.assertIn(n + "(", msplot.__doc__, "marginsim.plot docstring lists " + n)
            self.assertIn(n, python, "docs/workflows.md's Python section lists " + n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
