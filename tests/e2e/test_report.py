"""End-to-end tests of the analysis scripts: analysis/report.py and analysis/compare.py.

Run by ctest (label e2e) with MARGINSIM set to the built binary and
MS_SOURCE_DIR to the source tree. Makes small result files with the CLI
(a run, a run with /liquidations, a run without any liquidation, a
--compare file and a sweep file), runs report.py on each and checks that
every figure is a valid PNG and that report.html references and embeds
them all; runs compare.py on runs of the same and of different seeds.
"""
import base64
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import zlib

import h5py
import numpy as np

from e2e import SRC, Z95, run

QUICK = os.path.join(SRC, "scenarios", "quickstart.yaml")
REPORT = os.path.join(SRC, "analysis", "report.py")
COMPARE = os.path.join(SRC, "analysis", "compare.py")


def py(script, *args):
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------
# PNG validation

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def png_problem(data):
    """None if `data` starts like a valid PNG (signature, IHDR with width, height > 0 and a right CRC), else why not."""
    if len(data) < 33:
        return f"too short ({len(data)} bytes)"
    if data[:8] != PNG_SIG:
        return "bad signature"
    length, ctype = struct.unpack(">I4s", data[8:16])
    if ctype != b"IHDR" or length != 13:
        return f"first chunk is {ctype!r} of length {length}, not IHDR of 13"
    body = data[16:29]
    width, height, depth, color = struct.unpack(">IIBB", body[:10])
    if width == 0 or height == 0:
        return f"size {width}x{height}"
    (crc,) = struct.unpack(">I", data[29:33])
    if crc != (zlib.crc32(ctype + body) & 0xFFFFFFFF):
        return "IHDR CRC mismatch"
    if depth not in (1, 2, 4, 8, 16) or color not in (0, 2, 3, 4, 6):
        return f"bit depth {depth}, colour type {color}"
    if not data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"):
        return "no IEND chunk at the end"
    return None


ASSERTIONS = """
assertions:
  - insolvency.probability < 0.5
  - {assert: "bad_debt.q99 < 1e6", confidence: 0.95}
"""


# ---------------------------------------------------------------------------

class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ms_report_")
        d = cls.dir = cls.tmp.name
        cls.files = {}
        cls.scen = os.path.join(d, "asserted.yaml")
        with open(QUICK) as fh, open(cls.scen, "w") as out:
            out.write(fh.read() + ASSERTIONS)

        def make(name, *args, scenario=QUICK):
            path = os.path.join(d, name + ".h5")
            p = run("run", scenario, "-q", "-o", path, *args)
            assert p.returncode == 0, f"marginsim run {args}: {p.stderr}"
            cls.files[name] = path

        make("run", "-n", "30", scenario=cls.scen)
        make("liq", "-n", "30", "--set", "output.liquidations=true")
        make("penalty", "-n", "30", "--set", "liquidation.penalty=0.02")  # same seed: paired with "run"
        make("seed43", "-n", "30", "--seed", "43")
        make("calm", "-n", "10", "--set", "book.leverage.min=1", "--set", "book.leverage.max=1.2",
             "--set", "market.regimes[1].jumps.rate=0/d")
        make("fanonly", "-n", "12", "--set", "output.timeseries.paths=0", "--set", "output.fan.points=13")
        make("nofan", "-n", "12", "--set", "output.fan.paths=0")
        make("cmp", "-n", "20", "--compare", "margin.model=static,dynamic", "--set", "book.leverage.max=15")
        sweep = os.path.join(d, "sweep.h5")
        p = run("sweep", cls.scen, "--grid", "margin.maintenance=0.02,0.025,0.03", "--grid",
                "oracle.heartbeat=10m,1h", "-n", "20", "-q", "-o", sweep)
        assert p.returncode == 0, f"marginsim sweep: {p.stderr}"
        p = run("sweep", QUICK, "--grid", "liquidation.insurance_fund=1e6,2e6,4e6", "--baseline",
                "liquidation.insurance_fund=2e6", "-n", "20", "-q", "-o", os.path.join(d, "sweep1.h5"))
        assert p.returncode == 0, f"marginsim sweep: {p.stderr}"
        cls.files["sweep"] = sweep
        cls.files["sweep1"] = os.path.join(d, "sweep1.h5")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # -- helpers --------------------------------------------------------------

    _reports = {}

    def report(self, name, expect, default_dir=False):
        """Run report.py on file `name` (once per file); check the figures and the HTML.

        Returns (stdout, html, [PNG paths relative to the report's directory], directory).
        """
        if name not in self._reports:
            if default_dir:
                out = os.path.join(self.dir, name + "_report")
                p = py(REPORT, self.files[name])
            else:
                out = os.path.join(self.dir, name + "_out")
                p = py(REPORT, self.files[name], "-o", out)
            self._reports[name] = (p, out)
        p, out = self._reports[name]
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        last = p.stdout.rstrip("\n").splitlines()[-1]
        self.assertEqual(last, "report: " + os.path.join(out, "report.html"))
        html_path = os.path.join(out, "report.html")
        self.assertTrue(os.path.isfile(html_path))
        pngs = sorted(os.path.relpath(os.path.join(r, f), out)
                      for r, _, fs in os.walk(out) for f in fs if f.endswith(".png"))
        for e in expect:
            self.assertIn(e, pngs, f"{name}: expected figure {e}; wrote {pngs}")
        for rel in pngs:
            with open(os.path.join(out, rel), "rb") as fh:
                self.assertIsNone(png_problem(fh.read()), rel)
        with open(html_path, encoding="utf-8") as fh:
            html = fh.read()
        self.assertTrue("<title>" in html, "report.html has no title")
        for rel in pngs:
            self.assertTrue(f'href="{urllib.parse.quote(rel)}"' in html, f"report.html does not link {rel}")
        embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
        self.assertEqual(len(embedded), len(pngs), "one embedded image per PNG file")
        for b in embedded:
            self.assertIsNone(png_problem(base64.b64decode(b, validate=True)))
        for key in ("seed", "command", "created", str(self.attr(name, "seed"))):
            self.assertTrue(key in html, f"report.html lacks the provenance {key!r}")
        return p.stdout, html, pngs, out

    def assertInHtml(self, needle, html):
        self.assertTrue(needle in html, f"{needle!r} not in report.html")

    def attr(self, name, a):
        with h5py.File(self.files[name], "r") as f:
            return f.attrs[a]

    def compare(self, a, b, *extra):
        return py(COMPARE, self.files[a], self.files[b], *extra)

    @staticmethod
    def rows(out):
        """{statistic: (a, b, diff, lo, hi, n)} from compare.py's table."""
        res = {}
        for line in out.splitlines():
            t = line.split()
            if len(t) == 7 and re.fullmatch(r"[a-z_]+", t[0]):
                try:
                    res[t[0]] = tuple(float(x) for x in t[1:6]) + (int(t[6]),)
                except ValueError:
                    pass
        return res

    # -- the PNG checker itself -----------------------------------------------

    def test_png_checker_rejects_broken_files(self):
        out = self.report("run", ["path.png"])[3]
        with open(os.path.join(out, "path.png"), "rb") as fh:
            good = fh.read()
        self.assertIsNone(png_problem(good))
        bad_crc = bytearray(good)
        bad_crc[30] ^= 0xFF
        zero_width = bytearray(good)
        zero_width[16:20] = b"\0\0\0\0"
        for broken in (b"", good[:20], b"GIF89a" + good[6:], bytes(bad_crc), bytes(zero_width), good[:-12]):
            self.assertIsNotNone(png_problem(broken))

    # -- report.py --------------------------------------------------------------

    def test_report_run(self):
        out, html, pngs, _ = self.report("run", ["path.png", "liquidations.png", "bad_debt.png", "cascades.png",
                                              "insurance_fund.png"])
        # after `marginsim run`'s table: a pointer, not a second table (the full one is in the HTML)
        self.assertIn("P(insolvency)", out)
        self.assertNotIn("liquidated_notional", out)
        self.assertInHtml("<code>liquidated_notional</code>", html)
        self.assertInHtml("95% interval (bootstrap-t)", html)
        # the bad-debt figure names its two counts apart (starting balance vs insolvency)
        self.assertInHtml("counts only bad debt beyond the fund as it stood", html)
        self.assertInHtml("bad_debt.q99", html)  # the headline table
        self.assertInHtml("From /cascades", html)  # the liquidations' source without /liquidations
        self.assertInHtml("<h2>Assertions</h2>", html)
        self.assertInHtml("bad_debt.q99 &lt; 1e6", html)
        self.assertRegex(out, r"assertions: [0-2] of 2 passed")

    def test_fan_chart_sources(self):
        # bands over /timeseries/fan (all 30 paths here), else over the traced paths
        _, html, _, _ = self.report("run", ["path.png"])
        self.assertInHtml("over the first 30 of the 30 paths (/timeseries/fan, 97 times)", html)
        _, html, pngs, _ = self.report("fanonly", ["path.png"])
        self.assertInHtml("over the first 12 of the 12 paths (/timeseries/fan, 13 times)", html)
        self.assertNotIn("insurance_fund.png", pngs)  # no traced path: no fund trajectory
        _, html, _, _ = self.report("nofan", ["path.png", "insurance_fund.png"])
        self.assertInHtml("over the 8 paths recorded in /timeseries", html)

    def test_report_run_with_liquidations(self):
        _, html, _, _ = self.report("liq", ["path.png", "liquidations.png", "bad_debt.png", "cascades.png"])
        self.assertInHtml("From /liquidations", html)

    def test_liquidations_over_time_per_path(self):
        # The figure's share of paths liquidating per interval and at any time, computed here
        # from /liquidations (every liquidation's path and time); the same from /cascades alone
        # (stats.cascade_gap 5m <= the 15 min interval makes that share exact).
        with h5py.File(self.files["liq"], "r") as f:
            L = f["liquidations"][:]
            n = f["paths/summary"].shape[0]
            H = 86400.0
        bw = 900.0  # a one-day horizon: 15 min intervals
        b = np.minimum((L["time"] / 1000.0 // bw).astype(int), int(H // bw) - 1)
        per = np.unique(L["path"].astype(np.int64) * 1000 + b)
        share = np.bincount(per % 1000, minlength=int(H // bw)) / n
        anyp = len(np.unique(L["path"])) / n
        worst = int(np.argmax(share))
        want = (f"{anyp:.1%} of the {n:,} paths liquidate at some point; at most {share[worst]:.1%} of all the "
                f"paths in one 15 min interval (the one starting at {worst * bw / 3600:g} hours)")
        _, html, _, _ = self.report("liq", ["liquidations.png"])
        self.assertInHtml(want, html)
        self.assertInHtml("From /liquidations", html)
        nolist = os.path.join(self.dir, "liq_cascades_only.h5")
        shutil.copy(self.files["liq"], nolist)
        with h5py.File(nolist, "a") as f:
            del f["liquidations"]
        self.files["liq_cascades_only"] = nolist
        _, html, _, _ = self.report("liq_cascades_only", ["liquidations.png"])
        self.assertInHtml(want, html)
        self.assertInHtml("From /cascades", html)
        self.assertInHtml("The shares are exact", html)

    def test_quantiles_with_zeros_by_hand(self):
        sys.path.insert(0, os.path.join(SRC, "analysis"))
        from marginsim.plot import _draw as report
        # 10 paths, 2 intervals: interval 0 has path values 5 and 1 (eight zeros), interval 1 has
        # 3, 7, 2, 9, 4, 6, 8, 1, 5 and one zero. Order statistic ceil(q n) of the ten values:
        # interval 0 sorted 0,0,0,0,0,0,0,0,1,5 -> median (5th) 0, 90% (9th) 1, max 5;
        # interval 1 sorted 0,1,2,3,4,5,6,7,8,9 -> median 4, 90% 8, max 9.
        bins = np.array([0, 0] + [1] * 9)
        vals = np.array([5.0, 1.0, 3, 7, 2, 9, 4, 6, 8, 1, 5])
        Q = report._quantiles_with_zeros(bins, vals, 2, 10, [0.5, 0.9, 1.0])
        self.assertEqual(Q.tolist(), [[0.0, 4.0], [1.0, 8.0], [5.0, 9.0]])
        # per (path, interval) sums
        pb, sums = report._per_path_bins(np.array([0, 0, 1, 0]), np.array([1, 1, 1, 0]), np.array([2.0, 3, 4, 5]), 2)
        self.assertEqual(sorted(zip(pb.tolist(), sums.tolist())), [(0, 5.0), (1, 4.0), (1, 5.0)])

    def test_compare_bootstrap_resample_without_spread(self):
        # A resample of one value has no spread: t = +/-inf, not a finite t from a rounding residue
        # of its std (the mean of copies of 0.1 is not 0.1). 98 paths differ by 0.1, 2 by more:
        # 0.98^100 = 13% of the resamples are all 0.1, below the mean (more than the 2.5% of an
        # end), so the upper end is unbounded; np.std left a finite one of about 1e15.
        sys.path.insert(0, os.path.join(SRC, "analysis"))
        import compare
        d = np.array([0.1] * 98 + [2066.6598626258055, 99368.33962748002])
        self.assertGreater(float(np.std(np.full(100, 0.1), ddof=1)), 0.0, "numpy's residue the test relies on")
        lo, hi = compare.bootstrap_t(d, "bad_debt")
        self.assertTrue(math.isfinite(lo) and lo < d.mean(), lo)
        self.assertEqual(hi, math.inf)

    def test_report_run_without_liquidations(self):
        with h5py.File(self.files["calm"], "r") as f:
            s = f["paths/summary"][:]
            self.assertEqual(int(s["liquidations"].sum()), 0, "the calm run should have no liquidation")
            self.assertEqual(f["cascades"].shape[0], 0)
        # without -o: the default directory next to the result file
        _, html, _, out = self.report("calm", ["path.png", "bad_debt.png", "cascades.png"], default_dir=True)
        self.assertEqual(out, os.path.join(self.dir, "calm_report"))
        self.assertInHtml("No bad debt in any path", html)
        self.assertInHtml("No cascades in any of the 10 paths", html)
        self.assertInHtml("no liquidations in any of the 10 paths", html)

    def test_report_compare(self):
        out, html, pngs, _ = self.report("cmp", ["headline.png", "tradeoff.png", "differences.png",
                                              "static/path.png", "dynamic/path.png", "dynamic/bad_debt.png"])
        self.assertIn("paired differences", out)
        self.assertIn("dynamic - static", out)
        self.assertInHtml("initial margin / one-day 99% risk", html)

    def test_report_sweep_two_axes(self):
        out, html, pngs, _ = self.report("sweep", ["sweep_differences.png"])
        with h5py.File(self.files["sweep"], "r") as f:
            show = [s for s in f.attrs["show"].split(",") if s]
            ncells = f["sweep/cells"].shape[0]
        heat = [p for p in pngs if p.startswith("heatmap_")]
        self.assertEqual(len(heat), len(show), f"one heatmap per headline statistic: {pngs}")
        self.assertTrue(any(p.startswith("baseline/") for p in pngs), pngs)
        # the baseline cell (only) records /timeseries: its fan chart and insurance fund are drawn
        for fig in ("baseline/path.png", "baseline/insurance_fund.png", "baseline/liquidations.png"):
            self.assertIn(fig, pngs)
        with h5py.File(self.files["sweep"], "r") as f:
            b = int(f.attrs["baseline"])
            self.assertEqual([c for c in f["sweep/runs"] if "timeseries" in f["sweep/runs"][c]], [str(b)])
            self.assertGreater(f[f"sweep/runs/{b}/timeseries/fan/price"].shape[0], 1)
        self.assertInHtml("margin.maintenance", html)
        self.assertInHtml("<h2>Assertions</h2>", html)  # written per cell
        self.assertInHtml(f"of {2 * ncells} passed over {ncells} runs", html)
        self.assertEqual(len(re.findall(r'<tr class="cell[ "]', html)), ncells)

    def test_report_is_the_plot_functions(self):
        # report.py lays out marginsim.plot's figures: each caption in report.html is the one the
        # plot_* function gives for the same result, and the scripts read files only through
        # marginsim.open (no h5py of their own)
        import html as html_mod
        sys.path.insert(0, os.path.join(SRC, "analysis"))
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import marginsim
        from marginsim import plot as msplot
        for name, plots in (("liq", msplot.RUN_PLOTS), ("cmp", msplot.COMPARE_PLOTS),
                            ("sweep1", msplot.SWEEP_PLOTS)):
            _, html, _, _ = self.report(name, [])
            r = marginsim.open(self.files[name])
            drawn = 0
            for _, fn in plots:
                try:
                    cap = msplot.caption(fn(r))
                except (msplot.NotDrawable, TypeError):  # TypeError: the heatmap needs a statistic
                    continue
                finally:
                    plt.close("all")
                drawn += 1
                self.assertInHtml(html_mod.escape(cap), html)
            self.assertGreaterEqual(drawn, 2, name)
        for script in (REPORT, COMPARE):
            with open(script, encoding="utf-8") as fh:
                self.assertNotRegex(fh.read(), r"(?m)^\s*import h5py", script)

    def test_report_sweep_one_axis(self):
        _, html, pngs, _ = self.report("sweep1", ["sweep_stats.png", "sweep_differences.png",
                                                  "baseline/path.png", "baseline/insurance_fund.png"])
        self.assertFalse(any(p.startswith("heatmap_") for p in pngs))

    # -- compare.py ---------------------------------------------------------------

    def test_compare_paired_same_seed(self):
        p = self.compare("run", "penalty")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^mode: paired")
        rows = self.rows(p.stdout)
        for k in ("liquidations", "bad_debt", "amplification", "insolvency", "bad_debt_any"):
            self.assertIn(k, rows)
        with h5py.File(self.files["run"], "r") as fa, h5py.File(self.files["penalty"], "r") as fb:
            a, b = fa["paths/summary"][:], fb["paths/summary"][:]
        d = b["liquidated_notional"] - a["liquidated_notional"]
        h = Z95 * d.std(ddof=1) / math.sqrt(len(d))
        _, _, diff, lo, hi, n = rows["liquidated_notional"]
        self.assertEqual(n, len(d))
        self.assertAlmostEqual(diff, d.mean(), delta=1e-5 * max(1.0, abs(d.mean())))
        # the bootstrap-t interval (as marginsim's): around the mean, of the normal one's size up to
        # the skewness correction; reproducible
        self.assertTrue(lo < diff < hi, (lo, diff, hi))
        # (an end is infinite when more than 2.5% of the resamples have no spread: few paths differ)
        if math.isfinite(lo) and math.isfinite(hi):
            self.assertTrue(0.5 * h < (hi - lo) / 2 < 3 * h, (lo, hi, h))
        self.assertEqual(self.rows(self.compare("run", "penalty").stdout)["liquidated_notional"], rows["liquidated_notional"])

    def test_compare_same_file_is_exactly_zero(self):
        p = self.compare("run", "run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^mode: paired")
        rows = self.rows(p.stdout)
        self.assertGreaterEqual(len(rows), 13)
        for k, (_, _, diff, lo, hi, _) in rows.items():
            self.assertEqual((diff, lo, hi), (0.0, 0.0, 0.0), k)

    def test_compare_unpaired_different_seeds(self):
        p = self.compare("run", "seed43")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^mode: unpaired .*seed")
        rows = self.rows(p.stdout)
        with h5py.File(self.files["run"], "r") as fa, h5py.File(self.files["seed43"], "r") as fb:
            a, b = fa["paths/summary"]["bad_debt"], fb["paths/summary"]["bad_debt"]
        diff = b.mean() - a.mean()
        h = Z95 * math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        _, _, got, lo, hi, _ = rows["bad_debt"]
        self.assertAlmostEqual(got, diff, delta=1e-5 * max(1.0, abs(diff)))
        self.assertAlmostEqual(hi - lo, 2 * h, delta=1e-5 * max(1.0, h))

    def test_compare_groups(self):
        p = self.compare("cmp", "cmp", "--group-a", "models/static", "--group-b", "models/dynamic")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^mode: paired")
        p = self.compare("sweep", "sweep", "--group-a", "sweep/runs/0", "--group-b", "sweep/runs/1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^mode: paired")

    def test_report_output_folder_checked_first(self):
        bad = os.path.join(self.dir, "afile")
        with open(bad, "w") as fh:
            fh.write("x")
        for out, msg in ((bad, "is a file, not a folder"), (os.path.join(bad, "sub"), "cannot create the folder")):
            p = py(REPORT, self.files["run"], "-o", out)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(f"report.py: -o {out}: {msg}", p.stderr)
            self.assertEqual(p.stdout, "", "nothing is reported before the folder is known good")
            self.assertNotIn("Traceback", p.stderr)

    def test_compare_group_and_stat(self):
        # --group picks the same group in both files; --stat restricts the rows
        p = self.compare("sweep", "sweep", "--group", "sweep/runs/1", "--stat", "bad_debt,max_drawdown,insolvency")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("[/sweep/runs/1]", p.stdout)
        self.assertEqual(sorted(self.rows(p.stdout)), ["bad_debt", "insolvency", "max_drawdown"])
        with h5py.File(self.files["sweep"], "r") as f:
            s0, s1 = f["sweep/runs/0/paths/summary"][:], f["sweep/runs/1/paths/summary"][:]
        p = self.compare("sweep", "sweep", "--group", "sweep/runs/0", "--group-b", "sweep/runs/1",
                         "--stat", "liquidated_notional")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = self.rows(p.stdout)
        self.assertEqual(list(rows), ["liquidated_notional"])
        d = s1["liquidated_notional"] - s0["liquidated_notional"]
        self.assertAlmostEqual(rows["liquidated_notional"][2], d.mean(), delta=1e-6 * max(1.0, abs(d.mean())))
        p = self.compare("run", "run", "--stat", "bad_debt,nonsense")
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertIn("unknown statistic nonsense", p.stderr)
        self.assertIn("bad_debt_any", p.stderr)

    def test_compare_bad_input_exits_2(self):
        for args in ((self.files["run"], os.path.join(self.dir, "missing.h5")),
                     (self.files["cmp"], self.files["cmp"], "--group-a", "models/nope"),
                     (self.files["cmp"], self.files["run"])):
            p = py(COMPARE, *args)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
            self.assertIn("compare.py:", p.stderr)
            self.assertNotIn("Traceback", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
