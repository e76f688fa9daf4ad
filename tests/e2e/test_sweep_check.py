"""End-to-end tests of `marginsim sweep` and `marginsim check`.

Run by ctest (label e2e) with MARGINSIM and MS_SOURCE_DIR set. The sweep's
promises: a cell is the run it names (bit for bit), the cells are paired
(identical cells differ by exactly zero; nearby cells have much narrower
paired than unpaired intervals), the layout is the documented one, bad
input writes nothing. The check's: exit codes 0 / 1 / 2, the JUnit
structure, and `confidence:` deciding a borderline case the estimate alone
would pass. Expected values are recomputed here from the per-path rows
with numpy and the textbook formulas, not copied from the program.
"""
import itertools
import math
import os
import subprocess
import unittest
import xml.etree.ElementTree as ET

import h5py
import numpy as np

from e2e import BIN, SRC, Z95, DirTest, run

SMALL = """\
name: small
seed: 5
paths: 48
horizon: 3h
step: 1s
market:
  initial_price: 2000
  regimes:
    - {name: calm, vol: 0.6, mean_duration: 1h}
    - {name: stress, vol: 1.8, drift: -3, mean_duration: 30m, jumps: {rate: 12/d, mean: -0.03, sd: 0.02}}
  impact: {model: sqrt, depth: 2e7, half_life: 10m}
book: {accounts: 800, leverage: {dist: uniform, min: 2, max: 10}}
margin: {model: static, initial: 0.1, maintenance: 0.05}
oracle: {kind: push, deviation: 0.01, heartbeat: 1h, latency: {dist: exponential, mean: 10s}}
keepers: {delay: {dist: lognormal, median: 6s, sigma: 0.8}}
liquidation: {insurance_fund: 2e5}
output:
  timeseries: {paths: 2, every: 1m}
"""


def wilson(k, n, z):
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z / d * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, c - h) if k else 0.0, min(1.0, c + h) if k < n else 1.0


def z_of(conf):
    """Normal quantile at (1 + conf) / 2 by bisection on erf (no scipy)."""
    lo, hi, target = 0.0, 10.0, conf
    for _ in range(200):
        mid = (lo + hi) / 2
        if math.erf(mid / math.sqrt(2)) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


class SweepTest(DirTest):
    SCENARIO = SMALL
    PREFIX = "ms_sweep_"

    def test_cell_equals_standalone_run(self):
        out = self.path("s.h5")
        p = run("sweep", self.scen, "-o", out, "-j", "2", "--quiet",
                "--grid", "margin.maintenance=0.03,0.05", "--grid", "oracle.heartbeat=10m,1h")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out) as f:
            self.assertEqual(len(f["sweep/cells"]), 4)
            for c, (mm, hb) in enumerate([("0.03", "10m"), ("0.03", "1h"), ("0.05", "10m"), ("0.05", "1h")]):
                label = f["sweep/cells"][c]["label"].decode()
                self.assertEqual(label, f"margin.maintenance={mm} oracle.heartbeat={hb}")
                r = self.path(f"r{c}.h5")
                q = run("run", self.scen, "-o", r, "-j", "1", "--quiet",
                        "--set", f"margin.maintenance={mm}", "--set", f"oracle.heartbeat={hb}")
                self.assertEqual(q.returncode, 0, q.stderr)
                with h5py.File(r) as g:
                    a, b = g["paths/summary"][:], f[f"sweep/runs/{c}/paths/summary"][:]
                    self.assertEqual(a.dtype, b.dtype)
                    self.assertEqual(a.tobytes(), b.tobytes(), f"cell {c}: summary differs from the run")
                    self.assertEqual(g["stats/summary"][:].tobytes(), f["sweep/stats/summary"][c].tobytes())
                    self.assertEqual(g["stats/probabilities"][:].tobytes(), f["sweep/stats/probabilities"][c].tobytes())
                    self.assertEqual(g["cascades"][:].tobytes(), f[f"sweep/runs/{c}/cascades"][:].tobytes())
            # the cells saw the same exogenous paths
            fp = [f[f"sweep/runs/{c}/paths/summary"]["final_price"] for c in range(4)]
            for c in range(1, 4):
                np.testing.assert_array_equal(fp[0], fp[c])
            self.assertGreater(f["sweep/runs/0/paths/summary"]["liquidations"].sum(), 0)

    def test_thread_count_does_not_change_the_file(self):
        outs = []
        for j in ("1", "2"):
            out = self.path(f"j{j}.h5")
            p = run("sweep", self.scen, "-o", out, "-j", j, "--quiet", "--grid", "margin.maintenance=0.03:0.05:0.01")
            self.assertEqual(p.returncode, 0, p.stderr)
            outs.append(out)
        with h5py.File(outs[0]) as a, h5py.File(outs[1]) as b:
            for name in ("sweep/stats/summary", "sweep/differences", "sweep/runs/2/paths/summary"):
                self.assertEqual(a[name][:].tobytes(), b[name][:].tobytes(), name)

    def test_identical_cells_differ_by_exactly_zero(self):
        # the gzip level changes the file, not the simulation: two identical cells
        out = self.path("z.h5")
        p = run("sweep", self.scen, "-o", out, "--quiet", "--grid", "output.compression=1,6")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out) as f:
            d = f["sweep/differences"][1]
            self.assertGreater(len(d), 40)
            finite = np.isfinite(d["baseline_mean"])
            self.assertTrue(finite.sum() > 30)
            self.assertTrue(np.all(d["diff"][finite] == 0.0))
            # one difference, 0, on every path (docs/output.md, Statistics and intervals): of an event or a flag
            # +/- the bound on the share of paths on which two cells differ when none did; of the exogenous
            # price's columns 0; of the others unbounded, these paths not bounding what the two might do on
            # others (here the cells are the same run by construction, which marginsim cannot know)
            names = [s.decode() for s in d["statistic"]]
            exog = {"final_price", "min_price", "max_price", "max_drawdown", "jumps", "regime_switches"}
            for k, name in enumerate(names):
                if not finite[k]:
                    continue
                lo, hi = d["lo"][k], d["hi"][k]
                if d["probability"][k] == 1 or name == "insolvent":
                    u = 1 - 0.025 ** (1 / d["n"][k])
                    self.assertTrue(np.isclose(hi, u, rtol=1e-12, atol=0) and lo == -hi, (name, lo, hi))
                elif name in exog or name.startswith("time_in_regime_"):
                    self.assertEqual((lo, hi), (0.0, 0.0), name)
                else:
                    self.assertEqual((lo, hi), (-np.inf, np.inf), name)
            liq = d[[s.decode() == "liquidations" for s in d["statistic"]]][0]
            self.assertGreater(liq["unpaired_hi"] - liq["unpaired_lo"], 0)

    def test_paired_differences_are_the_per_path_ones_and_narrower(self):
        out = self.path("p.h5")
        p = run("sweep", self.scen, "-o", out, "--quiet", "--grid", "margin.maintenance=0.05,0.052",
                "-n", "120")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out) as f:
            a = f["sweep/runs/0/paths/summary"][:]
            b = f["sweep/runs/1/paths/summary"][:]
            d = f["sweep/differences"][1]
            names = [s.decode() for s in d["statistic"]]
            for col in ("liquidations", "liquidated_notional"):
                row = d[names.index(col)]
                x = b[col].astype(float) - a[col].astype(float)
                n = len(x)
                self.assertEqual(row["n"], n)
                self.assertAlmostEqual(row["diff"], x.mean(), delta=1e-9 * max(1, abs(x.mean())))
                half = Z95 * x.std(ddof=1) / math.sqrt(n)
                # the bootstrap-t interval of the per-path differences: around their mean, and of
                # the normal interval's size up to the skewness correction (n = 120)
                self.assertTrue(row["lo"] < row["diff"] < row["hi"], col)
                self.assertTrue(0.5 * half < (row["hi"] - row["lo"]) / 2 < 2 * half, (col, row, half))
                uhalf = Z95 * math.sqrt(a[col].var(ddof=1) / n + b[col].var(ddof=1) / n)
                self.assertAlmostEqual(row["unpaired_hi"] - row["diff"], uhalf, delta=1e-9 * max(1, uhalf))
                # common random numbers: the paired interval is far narrower
                self.assertGreater(uhalf, 3 * half, col)
            # a probability row compares indicators
            row = d[names.index("liquidation_any")]
            self.assertEqual(row["probability"], 1)
            ia, ib = (a["liquidations"] > 0).astype(float), (b["liquidations"] > 0).astype(float)
            self.assertAlmostEqual(row["diff"], (ib - ia).mean())

    def test_layout_ranges_baseline_and_show(self):
        out = self.path("l.h5")
        p = run("sweep", self.scen, "-o", out, "--grid", "margin.maintenance=0.03:0.05:0.01",
                "--grid", "oracle.heartbeat=1m:3m:1m", "--baseline", "oracle.heartbeat=2m,margin.maintenance=0.04",
                "--show", "bad_debt.mean,liquidations.q90,insolvency.probability")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("baseline: cell 4 (margin.maintenance=0.04 oracle.heartbeat=2m)", p.stdout)
        for stat in ("bad_debt.mean", "liquidations.q90", "insolvency.probability"):
            self.assertIn(stat, p.stdout)
        with h5py.File(out) as f:
            self.assertEqual(f.attrs["sweep"], "margin.maintenance,oracle.heartbeat")
            self.assertEqual(f.attrs["show"], "bad_debt.mean,liquidations.q90,insolvency.probability")
            self.assertEqual(f.attrs["baseline"], 4)
            ax0, ax1 = f["sweep/axes/0"], f["sweep/axes/1"]
            self.assertEqual(ax0.attrs["key"], "margin.maintenance")
            self.assertEqual([v.decode() for v in ax0["values"][:]], ["0.03", "0.04", "0.05"])
            np.testing.assert_allclose(ax0["numeric"][:], [0.03, 0.04, 0.05])
            self.assertEqual([v.decode() for v in ax1["values"][:]], ["1m", "2m", "3m"])
            np.testing.assert_array_equal(ax1["numeric"][:], [60, 120, 180])
            idx = f["sweep/index"][:]
            self.assertEqual(idx.shape, (9, 2))
            np.testing.assert_array_equal(idx, [[i, j] for i in range(3) for j in range(3)])
            self.assertEqual(f["sweep/stats/summary"].shape[0], 9)
            self.assertEqual(f["sweep/stats/probabilities"].shape[0], 9)
            self.assertEqual(f["sweep/differences"].shape[0], 9)
            d = f["sweep/differences"][4]
            self.assertTrue(np.all(d["diff"][np.isfinite(d["diff"])] == 0))
            for c in range(9):
                g = f[f"sweep/runs/{c}"]
                self.assertIn("paths/summary", g)
                self.assertIn("margin:", g.attrs["config"])
                self.assertEqual(g.attrs["label"], f["sweep/cells"][c]["label"].decode())

    def test_shipped_sweep_scenario(self):
        scen = os.path.join(SRC, "scenarios", "sweep-maintenance-vs-oracle.yaml")
        out = self.path("m.h5")
        p = run("sweep", scen, "-o", out, "-n", "8", "--set", "book.accounts=500", "-j", "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("24 cells x 8 paths", p.stdout)
        self.assertIn("baseline: cell 5 (margin.maintenance=0.04 oracle.heartbeat=1h)", p.stdout)
        # every cell but the first replays the first's paths (the grid moves no price key); the
        # no-feedback twins' replays are not cells' and not counted: at most 23 x 8 cell-paths
        self.assertIn("replayed in 184 cell-paths", p.stdout)

    def test_bad_input_exits_2_and_writes_nothing(self):
        out = self.path("bad.h5")
        cases = [
            (["--grid", "seed=1,2"], "cannot vary 'seed'"),
            (["--grid", "paths=10,20"], "cannot vary 'paths'"),
            (["--grid", "margin.maintenance=0.05,-1"], "margin.maintenance=-1"),
            (["--grid", "margin.maintenance=0.05,0.05"], "given twice"),
            (["--grid", "margin.maintenance=0.05:0.01:0.01"], "STEP must be non-zero and lead from FROM to TO"),
            # an axis inside another: the later one's value replaced the other's in every cell, so the cells
            # ran the same margin.initial under labels naming two (exit 0, paired differences of zero)
            (["--grid", "margin.initial=0.06,0.08", "--grid", "margin={maintenance: 0.02}"],
             "axis margin contains axis margin.initial"),
            (["--grid", "market.regimes=[{name: a, vol: 1}]", "--grid", "market.regimes[0].vol=1,2"],
             "axis market.regimes contains axis market.regimes[0]"),
            (["--grid", "oracle.heartbeat=1m:10m:0.5"], "three numbers or three durations"),
            (["--grid", "margin.nope=1,2"], "margin.nope: unknown key"),
            (["--grid", "margin.maintenance=0.03,0.05", "--baseline", "oracle.heartbeat=1h"], "not an axis"),
            (["--grid", "margin.maintenance=0.03,0.05", "--baseline", "margin.maintenance=0.04"],
             "0.04 is not one of the values"),
            (["--grid", "margin.maintenance=0.03,0.05", "--show", "bad_det.mean"], "unknown statistic 'bad_det.mean'"),
            # cut short in silence before: a list naming nothing gave an empty table, a long list lost its end
            (["--grid", "margin.maintenance=0.03,0.05", "--show", ", ,"], "--show ', ,': names no statistic"),
            (["--grid", "margin.maintenance=0.03,0.05", "--show", "bad_debt.q99," * 200],
             "--show: at most 16 statistics of at most 95 characters each"),
            (["--grid", "margin.maintenance=0.03,0.05", "--show", "x" * 300],
             "a statistic's name has at most 95 characters"),
            # keys that add or remove statistics: every cell ran before the file's writer refused them
            (["--grid", "funding.enabled=false,true"], "(funding_paid is in one only)"),
            (["--grid", "stats.counterfactual=true,false"], "(liquidations_no_impact is in one only)"),
            ([], "nothing to sweep"),
            (["--junit", "x.xml", "--grid", "margin.maintenance=0.03,0.05"], "--junit is an option of 'check'"),
        ]
        for extra, msg in cases:
            p = run("sweep", self.scen, "-o", out, *extra)
            self.assertEqual(p.returncode, 2, (extra, p.stderr))
            self.assertIn(msg, p.stderr, extra)
        self.assertEqual(sorted(os.listdir(self.dir)), ["small.yaml"])


# the first item of an assertions list appended to SMALL is on this line
ITEM_LINE = SMALL.count("\n") + 2

CHECK = SMALL + """\
assertions:
  - {assert: "liquidations.mean >= 0", confidence: 0.95}
  - insolvency.probability <= 1
  - {assert: "bad_debt.q90 < 1e12", confidence: 0.9}
"""


class CheckTest(DirTest):
    PREFIX = "ms_check_"

    def write(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def junit(self, path):
        root = ET.parse(path).getroot()
        self.assertEqual(root.tag, "testsuites")
        suites = root.findall("testsuite")
        self.assertEqual(len(suites), 1)
        s = suites[0]
        cases = s.findall("testcase")
        self.assertEqual(int(s.get("tests")), len(cases))
        self.assertEqual(int(root.get("tests")), len(cases))
        fails = [c for c in cases if c.find("failure") is not None]
        self.assertEqual(int(s.get("failures")), len(fails))
        self.assertEqual(int(root.get("failures")), len(fails))
        self.assertEqual(s.get("errors"), "0")
        for c in cases:
            self.assertTrue(c.get("name") and c.get("classname"))
            float(c.get("time"))
        float(s.get("time"))
        return s, cases, fails

    def test_the_files_sweep_is_checked_by_validate_and_named_where_written(self):
        # Input audit 2026-12-07: a broken sweep: section passed `validate` (exit 0), and `sweep` named no place
        # in the file ("sweep cell 0 (foo=1): --set foo=1: ..." for a --set nobody typed). Now both refuse at
        # once, at the entry's file:line:col.
        cases = [
            ('grid: ["foo=1,2"]', ":3:16: sweep.grid[0]: cell 0 (foo=1): foo: unknown key"),
            ('grid: ["margin.maintenance=0.01,0.02"], baseline: "margin.maintenance=0.5"',
             ":3:59: sweep.baseline margin.maintenance=0.5: 0.5 is not one of the values"),
            ('grid: ["margin.maintenance=0.01,0.02"], show: ["x.y"]', ":3:55: sweep.show x.y: unknown statistic"),
            ('grid: ["margin.maintenance"]', ":3:16: sweep.grid margin.maintenance: expected KEY="),
            ('grid: ["margin.maintenance=0.01,0.02", "seed=1,2"]', ":3:48: sweep.grid seed: a sweep cannot vary 'seed'"),
        ]
        for i, (sweep, want) in enumerate(cases):
            scen = self.path("sw%d.yaml" % i)
            with open(scen, "w") as f:
                f.write("horizon: 1h\nbook: {accounts: 50}\nsweep: {%s}\n" % sweep)
            for cmd in (["validate", scen], ["sweep", scen, "-n", "2", "-q", "-o", self.path("sw.h5")]):
                p = run(*cmd)
                self.assertEqual(p.returncode, 2, (cmd, p.stderr))
                self.assertIn(scen + want, p.stderr, cmd)
                self.assertNotIn("--set", p.stderr, cmd)
                self.assertNotIn("--grid", p.stderr, cmd)
            self.assertFalse(os.path.exists(self.path("sw.h5")))
        # what --set replaced is not the file's: no place in the file (the review of this change)
        scen = self.path("sw2.yaml")
        with open(scen, "w") as f:
            f.write('horizon: 1h\nbook: {accounts: 50}\nsweep: {grid: ["margin.maintenance=0.01,0.02"], '
                    'show: ["bad_debt.q99"]}\n')
        p = run("validate", scen, "--set", "sweep.show[0]=x.y")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertTrue(p.stderr.startswith("sweep.show x.y: unknown statistic"), p.stderr)
        p = run("validate", scen, "--set", 'sweep.grid=["foo=1,2"]')
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertTrue(p.stderr.startswith("sweep cell 0 (foo=1): --set foo=1: foo: unknown key"), p.stderr)

    def test_passing_check_exits_0_with_junit(self):
        scen = self.write("pass.yaml", CHECK)
        xml = os.path.join(self.dir, "pass.xml")
        p = run("check", scen, "-o", os.path.join(self.dir, "pass.h5"), "--junit", xml)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("3 assertions: 3 passed, 0 failed", p.stdout)
        self.assertEqual(p.stdout.count("PASS"), 3)
        s, cases, fails = self.junit(xml)
        self.assertEqual(len(cases), 3)
        self.assertEqual(fails, [])
        self.assertEqual(cases[0].get("name"), "liquidations.mean >= 0 (confidence 0.95)")
        self.assertEqual(cases[1].get("name"), "insolvency.probability <= 1")
        props = {q.get("name"): q.get("value") for q in s.find("properties")}
        self.assertEqual(props["seed"], "5")
        self.assertEqual(props["paths"], "48")
        with h5py.File(os.path.join(self.dir, "pass.h5")) as f:
            a = f["assertions"][:]
            self.assertEqual(list(a["passed"]), [1, 1, 1])
            self.assertEqual(a["statistic"][2].decode(), "bad_debt.q90")
            self.assertEqual(a["op"][2].decode(), "<")
            self.assertEqual(a["threshold"][2], 1e12)
            self.assertTrue(a["where"][0].decode().endswith(f"pass.yaml:{ITEM_LINE}:5"), a["where"][0])

    def test_a_constant_is_its_own_mean(self):
        # static margin: max_margin_ratio is 0.05 on every path; its mean was 0.049999999999999906 and
        # "max_margin_ratio.mean >= 0.05" failed, printed as "= 0.05 [0.05, 0.05]". The estimate is the value.
        # Its interval, at any confidence, is unbounded above: 100 equal values cannot tell a column constant by
        # construction from one whose other values are rare, so an assertion at a confidence is not conclusive
        # (the same held "insolvent.mean <= 0" at 0.999 on 20 paths none of which was insolvent; a flag's mean
        # now has the exact Clopper-Pearson interval).
        scen = self.write("const.yaml", SMALL + "assertions:\n  - \"max_margin_ratio.mean >= 0.05\"\n"
                          "  - \"max_margin_ratio.mean <= 0.05\"\n"
                          "  - {assert: \"max_margin_ratio.mean >= 0.05\", confidence: 0.9}\n"
                          "  - {assert: \"insolvent.mean <= 0\", confidence: 0.999}\n")
        out = os.path.join(self.dir, "const.h5")
        p = run("check", scen, "-n", "100", "-o", out)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("4 assertions: 2 passed, 2 failed", p.stdout)
        # no number of these paths can make the first pass: the line says so, not only "not yet conclusive"; a
        # flag's mean has the exact interval of 0 insolvent paths in 100, [0, 1 - 0.0005^(1/100)] at 0.999
        self.assertEqual(p.stdout.count("unbounded on the deciding side: these paths cannot decide it"), 1)
        with h5py.File(out) as f:
            a = f["assertions"][:]
        self.assertEqual(list(a["passed"]), [1, 1, 0, 0])
        self.assertTrue((a["value"][:3] == 0.05).all() and a["value"][3] == 0)
        self.assertEqual((a["lo"][2], a["hi"][2]), (0.0, np.inf))
        self.assertEqual(a["lo"][3], 0.0)
        self.assertAlmostEqual(a["hi"][3], 1 - 0.0005 ** (1 / 100), delta=1e-12)

    def test_failing_check_exits_1_and_reports_the_failure(self):
        scen = self.write("fail.yaml", SMALL + """\
assertions:
  - liquidations.mean >= 0
  - liquidations.mean < 0
  - {assert: "liquidation_any.probability < 0", confidence: 0.95}
""")
        xml = os.path.join(self.dir, "fail.xml")
        out = os.path.join(self.dir, "fail.h5")
        p = run("check", scen, "-o", out, "--junit", xml)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("3 assertions: 1 passed, 2 failed", p.stdout)
        s, cases, fails = self.junit(xml)
        self.assertEqual([c.get("name") for c in fails],
                         ["liquidations.mean < 0", "liquidation_any.probability < 0 (confidence 0.95)"])
        with h5py.File(out) as f:
            m = f["paths/summary"]["liquidations"].mean()
        msg = fails[0].find("failure").get("message")
        self.assertIn(f"liquidations.mean = {m:.6g}", msg)
        self.assertTrue(os.path.exists(out), "a failing check still writes its result file")
        # run reports the same assertions and does not fail on them
        p = run("run", scen, "-o", os.path.join(self.dir, "r.h5"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("1 of 3 hold", p.stdout)

    def test_junit_is_well_formed_for_any_name(self):
        # U+FFFE and U+FFFF in the scenario's name and a byte that is not UTF-8 in its file name were copied into
        # the report, which no XML parser then read ("not well-formed (invalid token)"); each becomes '?'
        path = self.path("x\udcffy.yaml")  # the byte 0xff (surrogateescape)
        self.write("x\udcffy.yaml", CHECK.replace("name: small", 'name: "a<&\\uFFFE\\uFFFF\\U0001F600"'))
        xml = self.path("r.xml")
        p = subprocess.run([BIN, "check", path, "-o", self.path("r.h5"), "--junit", xml, "-q"], capture_output=True,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        s, cases, _ = self.junit(xml)
        self.assertEqual(s.get("name"), "a<&??????\U0001F600")
        self.assertEqual(cases[0].get("file"), self.path("x?y.yaml"))

    def test_junit_in_a_missing_folder(self):
        # The folder of --junit is made before the run: a failing assertion
        # exits 1 with its report written, not 3 after the run.
        scen = self.write("fail.yaml", SMALL + "assertions:\n  - liquidations.mean < 0\n")
        xml = os.path.join(self.dir, "reports", "x.xml")
        out = os.path.join(self.dir, "res", "fail.h5")
        p = run("check", scen, "-o", out, "--junit", xml)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        _, cases, fails = self.junit(xml)
        self.assertEqual(len(fails), 1)
        self.assertTrue(os.path.isfile(out))

    def test_junit_folder_or_failed_run_leaves_nothing(self):
        scen = self.write("fail.yaml", SMALL + "assertions:\n  - liquidations.mean < 0\n")
        os.mkdir(self.path("taken.xml"))
        out = os.path.join(self.dir, "res", "fail.h5")
        for junit, sets, msg in ((self.path("taken.xml"), [], "--junit"),
                                 (out, [], "the same file as -o"),
                                 # the same file spelled differently must not overwrite the result
                                 (os.path.join(self.dir, "res", ".", "fail.h5"), [], "the same file as -o"),
                                 (os.path.join(self.dir, "rep", "x.xml"), ["--set", "book.leverage=30"],
                                  "start below initial margin")):
            p = run("check", scen, "-o", out, "--junit", junit, *sets)
            self.assertEqual(p.returncode, 2, (junit, p.stdout, p.stderr))
            self.assertIn(msg, p.stderr)
            self.assertEqual(self.listing(), ["fail.yaml", "taken.xml"], junit)

    def test_confidence_decides_a_borderline_case(self):
        base = self.write("b0.yaml", SMALL)
        out = os.path.join(self.dir, "b0.h5")
        p = run("run", base, "-o", out, "--quiet", "-n", "200")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out) as f:
            s = f["paths/summary"][:]
        n = len(s)
        # a probability: the threshold between the estimate and its Wilson upper bound
        k = int((s["liquidations"] > 0).sum())
        self.assertTrue(0 < k < n, k)
        lo, hi = wilson(k, n, Z95)
        t = (k / n + hi) / 2
        # a mean: the threshold between the estimate and its 90% upper bound, a bootstrap-t
        # bound (deterministic for the seed) that a first check reports
        x = s["liquidated_notional"]
        probe = self.write("b0p.yaml", SMALL + """\
assertions:
  - {assert: "liquidated_notional.mean < 1e300", confidence: 0.9}
""")
        p = run("check", probe, "-o", os.path.join(self.dir, "b0p.h5"), "-n", "200")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with h5py.File(os.path.join(self.dir, "b0p.h5")) as f:
            mhi = float(f["assertions"][0]["hi"])
        self.assertTrue(x.mean() < mhi < x.mean() + 2 * z_of(0.9) * x.std(ddof=1) / math.sqrt(n), mhi)
        tm = (x.mean() + mhi) / 2
        scen = self.write("b1.yaml", SMALL + f"""\
assertions:
  - liquidation_any.probability < {t!r}
  - {{assert: "liquidation_any.probability < {t!r}", confidence: 0.95}}
  - liquidated_notional.mean < {tm!r}
  - {{assert: "liquidated_notional.mean < {tm!r}", confidence: 0.9}}
  - {{assert: "liquidated_notional.mean < {mhi * 1.001!r}", confidence: 0.9}}
""")
        res = os.path.join(self.dir, "b1.h5")
        p = run("check", scen, "-o", res, "-n", "200")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        with h5py.File(res) as f:
            a = f["assertions"][:]
        self.assertEqual(list(a["passed"]), [1, 0, 1, 0, 1])
        self.assertIn("FAIL (not yet conclusive)", p.stdout)
        # Wilson at the asked confidence; the mean's bound is the probe's (deterministic)
        self.assertAlmostEqual(a["value"][1], k / n)
        self.assertAlmostEqual(a["lo"][1], lo, places=12)
        self.assertAlmostEqual(a["hi"][1], hi, places=12)
        self.assertAlmostEqual(a["hi"][3], mhi, delta=1e-9 * mhi)
        # without confidence the estimate decides: the same run passes
        scen2 = self.write("b2.yaml", SMALL + f"""\
assertions:
  - liquidation_any.probability < {t!r}
  - liquidated_notional.mean < {tm!r}
""")
        p = run("check", scen2, "-o", os.path.join(self.dir, "b2.h5"), "-n", "200")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_low_tail_assertions(self):
        # the risky tail of a low-risky column: q01, q001, es01 by name, with their intervals
        scen = self.write("low.yaml", SMALL + """\
assertions:
  - insurance_min.q01 > 0
  - {assert: "insurance_min.es01 > 0", confidence: 0.9}
  - {assert: "insurance_min.q001 >= 0", confidence: 0.95}
  - {assert: "bad_debt.es99 >= 0", confidence: 0.95}
""")
        res = os.path.join(self.dir, "low.h5")
        p = run("check", scen, "-o", res, "-n", "100")
        self.assertIn(p.returncode, (0, 1), p.stderr)
        with h5py.File(res) as f:
            a = f["assertions"][:]
            st = {r["name"].decode(): r for r in f["stats/summary"][:]}
        im = st["insurance_min"]
        self.assertEqual(im["risky_side"].decode(), "low")
        self.assertEqual(st["bad_debt"]["risky_side"].decode(), "high")
        self.assertEqual(a["value"][0], im["q01"])
        self.assertEqual(a["value"][1], im["es01"])
        self.assertEqual(a["value"][2], im["q001"])
        # at 95% the intervals are those of /stats
        self.assertEqual((a["lo"][2], a["hi"][2]), (im["q001_lo"], im["q001_hi"]))
        self.assertEqual((a["lo"][3], a["hi"][3]), (st["bad_debt"]["es99_lo"], st["bad_debt"]["es99_hi"]))
        # by hand: q01 (numpy's rule), es01 = mean of the lowest ceil(n/100) values
        with h5py.File(res) as f:
            x = np.sort(f["paths/summary"]["insurance_min"][:])
        self.assertAlmostEqual(im["q01"], float(np.quantile(x, 0.01)), delta=1e-9 * abs(x).max())
        self.assertAlmostEqual(im["es01"], float(x[:1].mean()), delta=1e-9 * abs(x).max())
        self.assertTrue(st["bad_debt"]["es99_lo"] >= 0 and st["bad_debt"]["mean_lo"] >= 0)

    def test_quantile_interval_at_a_confidence(self):
        scen = self.write("q.yaml", SMALL + """\
assertions:
  - {assert: "liquidated_notional.q90 > 0", confidence: 0.8}
""")
        res = os.path.join(self.dir, "q.h5")
        p = run("check", scen, "-o", res, "-n", "100")
        self.assertIn(p.returncode, (0, 1), p.stderr)
        with h5py.File(res) as f:
            x = np.sort(f["paths/summary"]["liquidated_notional"][:])
            a = f["assertions"][0]
        n, q, half = len(x), 0.9, (1 - 0.8) / 2
        # the exact binomial ranks (Conover 3.2): K ~ Binomial(n, q) values at or below the quantile
        cdf = list(itertools.accumulate(math.comb(n, k) * q ** k * (1 - q) ** (n - k) for k in range(n + 1)))
        lo = max(a for a in range(1, n + 1) if cdf[a - 1] <= half)
        hi = min(b for b in range(1, n + 1) if 1 - cdf[b - 1] <= half)
        self.assertEqual(a["value"], np.quantile(x, q))
        self.assertEqual(a["lo"], x[lo - 1])
        self.assertEqual(a["hi"], x[hi - 1])
        self.assertEqual(a["passed"], int(x[lo - 1] > 0))

    def test_bad_input_exits_2(self):
        cases = [
            ("none.yaml", SMALL, "the scenario has none"),
            ("unknown.yaml", SMALL + "assertions:\n  - bad_det.q99 < 5\n",
             f"unknown.yaml:{ITEM_LINE}:5: assertions[0]: unknown statistic 'bad_det.q99'; known: COLUMN.FIELD"),
            ("syntax.yaml", SMALL + "assertions:\n  - insolvency.probability << 0.01\n",
             f"syntax.yaml:{ITEM_LINE}:5: assertions[0]: the value must be a number"),
            ("noop.yaml", SMALL + "assertions:\n  - insolvency.probability 0.01\n",
             "expected STATISTIC OP VALUE"),
            ("sd.yaml", SMALL + "assertions:\n  - {assert: 'bad_debt.sd < 5', confidence: 0.9}\n",
             "bad_debt.sd has no interval"),
            ("conf.yaml", SMALL + "assertions:\n  - {assert: 'bad_debt.q99 < 5', confidence: 1.5}\n",
             "assertions[0].confidence: must be >= 0 and < 1 (got 1.5)"),
            ("key.yaml", SMALL + "assertions:\n  - {assert: 'bad_debt.q99 < 5', confidense: 0.9}\n",
             "assertions[0].confidense: unknown key; known keys of assertions[0]: assert, confidence"),
        ]
        for name, text, msg in cases:
            scen = self.write(name, text)
            out = os.path.join(self.dir, name + ".h5")
            for cmd in (["check"], ["validate"], ["run"]):
                if cmd == ["validate"] and name == "none.yaml":
                    continue
                args = [*cmd, scen] + ([] if cmd == ["validate"] else ["-o", out])
                p = run(*args)
                if cmd == ["run"] and name == "none.yaml":
                    self.assertEqual(p.returncode, 0, p.stderr)
                    os.remove(out)
                    continue
                self.assertEqual(p.returncode, 2, (name, cmd, p.stderr))
                self.assertIn(msg, p.stderr, (name, cmd))
                self.assertFalse(os.path.exists(out), (name, cmd))

    def test_shipped_ci_scenarios_validate(self):
        d = os.path.join(SRC, "scenarios", "ci")
        names = sorted(n for n in os.listdir(d) if n.endswith(".yaml"))
        self.assertEqual(len(names), 3)
        for n in names:
            p = run("validate", os.path.join(d, n))
            self.assertEqual(p.returncode, 0, (n, p.stderr))
            self.assertIn("assertions:", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
