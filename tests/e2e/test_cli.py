"""End-to-end tests of the marginsim command line.

Run by ctest (label e2e) with MARGINSIM set to the built binary and
MS_SOURCE_DIR to the source tree. Each test provokes one behaviour a user
relies on: the documented file layout, exit codes, no file after bad input,
failure or interruption, and the resolved configuration round trip.
"""
import math
import os
import signal
import subprocess
import sys
import time
import unittest

import h5py
import numpy as np

from e2e import BIN, SRC, Z95, DirTest, frames, run, small

SMALL = small(40, 500)

# A stressed market with a mixed book: perps and every option strategy.
MIXED = """\
name: mixed
seed: 11
paths: 30
horizon: 6h
step: 1s
market:
  initial_price: 2000
  regimes:
    - {name: only, vol: 1.2, drift: -4, mean_duration: 1d, jumps: {rate: 24/d, mean: -0.03, sd: 0.02}}
  impact: {model: sqrt, depth: 2e7, half_life: 10m}
book:
  accounts: 600
  collateral: {dist: lognormal, median: 4000, sigma: 0.8}
  leverage: {dist: uniform, min: 1.5, max: 6}
  options: {fraction: 0.4}
margin:
  model: static
  dynamic: {k: 3, update_every: 1m, liquidation_horizon: 1h, floor: 0.0125, cap: 0.08, max_step: 0.0025}
oracle: {kind: push, deviation: 0.005, heartbeat: 1h}
keepers: {delay: {dist: exponential, mean: 5s}}
liquidation: {insurance_fund: 1e5}
output:
  timeseries: {paths: 2, every: 1m}
  liquidations: true
"""

Z99 = 2.326347874040841


def bs(S, K, T, vol, call):
    """Black-Scholes value, r = q = 0 (the book's pricing), by the textbook formula."""
    if K <= 0 or T <= 0:
        return max(S - K, 0.0) if call else max(K - S, 0.0)
    sd = vol * math.sqrt(T)
    d1 = math.log(S / K) / sd + sd / 2
    d2 = d1 - sd
    N = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))
    return S * N(d1) - K * N(d2) if call else K * N(-d2) - S * N(-d1)


class CliTest(DirTest):
    SCENARIO = SMALL

    def test_run_writes_documented_layout(self):
        out = os.path.join(self.dir, "r.h5")
        p = run("run", self.scen, "-o", out, "-j", "2", "--set", "market.regimes[0].vol=0.6")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("wrote " + out, p.stdout)
        self.assertIn("95% CI", p.stdout)
        with h5py.File(out, "r") as f:
            for a in ("version", "scenario", "config", "seed", "command", "created", "name"):
                self.assertIn(a, f.attrs)
            self.assertEqual(f.attrs["seed"], 7)
            self.assertEqual(f.attrs["scenario"], SMALL)
            self.assertIn("vol: 0.6", f.attrs["config"])  # the --set is resolved in
            self.assertIn("--set", f.attrs["command"])
            s = f["paths/summary"]
            self.assertEqual(s.shape, (40,))
            for col in ("path", "final_price", "min_price", "max_price", "max_drawdown", "jumps",
                        "time_in_regime_calm", "time_in_regime_stress"):
                self.assertIn(col, s.dtype.names)
            self.assertTrue(np.array_equal(s["path"], np.arange(40)))
            tot = s["time_in_regime_calm"] + s["time_in_regime_stress"]
            self.assertTrue(np.allclose(tot, 7200.0))
            self.assertTrue(np.all(s["min_price"] <= s["final_price"]))
            self.assertIsNotNone(s.chunks)
            self.assertEqual(s.compression, "gzip")
            st = f["stats/summary"]
            names = [n.decode() for n in st["name"]]
            self.assertIn("final_price", names)
            for fld in ("mean", "mean_lo", "mean_hi", "sd", "q50", "q90", "q99", "q999", "q99_lo", "es99"):
                self.assertIn(fld, st.dtype.names)
            row = st[names.index("final_price")]
            self.assertAlmostEqual(row["mean"], float(np.mean(s["final_price"])), places=9)
            self.assertAlmostEqual(row["q90"], float(np.quantile(s["final_price"], 0.9)), places=9)
            pr = f["stats/probabilities"]
            for fld in ("name", "k", "n", "p", "lo", "hi"):
                self.assertIn(fld, pr.dtype.names)
            self.assertTrue(np.all(pr["lo"] <= pr["p"]) and np.all(pr["p"] <= pr["hi"]))
            ts = f["timeseries"]
            self.assertEqual(ts["time"].shape, (241,))
            for d in ("price", "mark", "oracle", "regime", "open_interest", "insurance_fund", "liquidations"):
                self.assertEqual(ts[d].shape, (3, 241), d)
            self.assertEqual(ts["price"][0, 0], 1500.0)
            self.assertEqual(ts["oracle"][0, 0], 1500.0)
            self.assertEqual(ts["regime"].attrs["names"], "calm,stress")
            for col in ("liquidations", "impact_triggered_liquidations", "liquidated_notional", "bad_debt",
                        "insurance_min", "socialized_loss", "adl_notional", "largest_cascade_liquidations",
                        "largest_cascade_notional", "largest_cascade_depth", "amplification",
                        "first_liquidation_time", "insolvent", "final_mark", "min_mark"):
                self.assertIn(col, s.dtype.names)
            book = f["book"]
            self.assertEqual(book.shape, (500,))
            for col in ("account", "side", "collateral", "quantity", "leverage", "initial_margin",
                        "maintenance_margin", "liquidation_price"):
                self.assertIn(col, book.dtype.names)
            b = book[:]
            self.assertTrue(np.allclose(b["initial_margin"], 0.05 * b["notional"]))
            liq = f["liquidations"][:]
            self.assertEqual(len(liq), int(s["liquidations"].sum()))
            cas = f["cascades"][:]
            self.assertEqual(len(cas), int(s["cascades"].sum()))
            self.assertEqual(int(cas["liquidations"].sum()), len(liq))
            for p in range(40):  # liquidated notional per path adds up
                self.assertAlmostEqual(liq["notional"][liq["path"] == p].sum(), s["liquidated_notional"][p],
                                       delta=1e-6 * (1 + s["liquidated_notional"][p]))
            self.assertEqual(int(ts["liquidations"][0].sum()), int((liq["path"] == 0).sum()))
            probs = [n.decode() for n in f["stats/probabilities"]["name"]]
            self.assertIn("insolvency", probs)
        self.assertEqual(self.listing(), ["r.h5", "small.yaml"])

    def test_fan_samples_many_paths_and_changes_nothing(self):
        a, b = os.path.join(self.dir, "fan.h5"), os.path.join(self.dir, "nofan.h5")
        p = run("run", self.scen, "-o", a, "--set", "output.fan.paths=25", "--set", "output.fan.points=9")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("run", self.scen, "-o", b, "--set", "output.fan.paths=0", "--set", "output.timeseries.paths=0")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(a, "r") as f, h5py.File(b, "r") as g:
            fan = f["timeseries/fan"]
            # nine evenly spaced times over the 2 h horizon, both ends included
            self.assertTrue(np.array_equal(fan["time"][:], np.linspace(0, 7200, 9)))
            self.assertEqual(fan["price"].shape, (25, 9))
            self.assertEqual(fan["mark"].shape, (25, 9))
            s = f["paths/summary"][:25]
            price, mark = fan["price"][:], fan["mark"][:]
            self.assertTrue(np.all(price[:, 0] == 1500.0))
            self.assertTrue(np.array_equal(price[:, -1], s["final_price"]))
            self.assertTrue(np.array_equal(mark[:, -1], s["final_mark"]))
            self.assertTrue(np.all(price.min(axis=1) >= s["min_price"]))
            self.assertTrue(np.all(price.max(axis=1) <= s["max_price"]))
            # the traced paths sample every 30 s: the fan's times are among them
            ts_t = f["timeseries/time"][:]
            idx = np.searchsorted(ts_t, fan["time"][:])
            self.assertTrue(np.array_equal(f["timeseries/price"][:, idx], price[:3]))
            self.assertTrue(np.array_equal(f["timeseries/mark"][:, idx], mark[:3]))
            self.assertTrue(np.array_equal(f["timeseries/regime"][:, idx], fan["regime"][:3]))
            self.assertEqual(fan["regime"].attrs["names"], "calm,stress")
            # sampling only reads: the summaries are bit-identical without it
            self.assertNotIn("fan", g["timeseries"])
            self.assertEqual(f["paths/summary"][:].tobytes(), g["paths/summary"][:].tobytes())

    def test_thread_count_does_not_change_any_byte_of_the_book(self):
        # /book's chunks are deflated on the run's threads (sim/output/h5out.c) and written in order: the same
        # stored bytes and filter masks for any -j, more whole chunks than threads (the last one partial)
        scen = self.path("book.yaml")
        with open(scen, "w") as f:
            f.write(small(2, 5000))
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        outs = []
        for j in ("1", "2", "3"):
            outs.append(self.path(f"b{j}.h5"))
            p = run("run", scen, "-q", "-o", outs[-1], "-j", j, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
        files = [h5py.File(o, "r") for o in outs]
        try:
            books = [f["book"] for f in files]
            n = books[0].id.get_num_chunks()
            self.assertGreater(n, 6)
            self.assertGreater(books[0].shape[0] % books[0].chunks[0], 0)
            for k in range(n):
                raw = [b.id.read_direct_chunk(b.id.get_chunk_info(k).chunk_offset) for b in books]
                self.assertEqual(raw[0], raw[1], f"chunk {k}, -j 2")
                self.assertEqual(raw[0], raw[2], f"chunk {k}, -j 3")
            for name in ("paths/summary", "stats/summary", "liquidations", "book"):
                self.assertEqual(files[0][name][:].tobytes(), files[1][name][:].tobytes(), name)
                self.assertEqual(files[0][name][:].tobytes(), files[2][name][:].tobytes(), name)
        finally:
            for f in files:
                f.close()

    def test_compare_runs_models_on_the_same_paths(self):
        scen = os.path.join(self.dir, "mixed.yaml")
        with open(scen, "w") as f:
            f.write(MIXED)
        out = os.path.join(self.dir, "cmp.h5")
        models = ["static", "dynamic", "portfolio"]
        p = run("run", scen, "-o", out, "-j", "2", "--compare", "margin.model=" + ",".join(models))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("wrote " + out, p.stdout)
        for m in models:
            self.assertIn(m, p.stdout)
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["seed"], 11)
            self.assertIn("--compare", f.attrs["command"])
            g = {m: f["models/" + m] for m in models}
            s = {m: g[m]["paths/summary"][:] for m in models}
            b = {m: g[m]["book"][:] for m in models}
            for m in models:
                self.assertIn("model: " + m, g[m].attrs["config"])
                self.assertEqual(s[m].shape, (30,))
                for d in ("stats/summary", "stats/probabilities", "cascades", "liquidations",
                          "timeseries/margin_ratio"):
                    self.assertIn(d, g[m], (m, d))
            # paired: the exogenous paths and the book are the same under every model
            for m in models[1:]:
                for col in ("final_price", "min_price", "max_price", "jumps"):
                    self.assertTrue(np.array_equal(s[m][col], s["static"][col]), (m, col))
                for col in ("account", "side", "strategy", "collateral", "quantity", "call_strike",
                            "call_qty", "put_strike", "put_qty", "premium"):
                    self.assertTrue(np.array_equal(b[m][col], b["static"][col]), (m, col))
            bk = b["static"]
            opt = bk["strategy"] >= 0
            self.assertTrue(0.3 < opt.mean() < 0.5)
            self.assertEqual(set(bk["strategy"][opt]), set(range(6)))
            # /book: gross notional = perp + short options' underlying at entry
            gross = (np.abs(bk["quantity"]) + np.maximum(-bk["call_qty"], 0) + np.maximum(-bk["put_qty"], 0)) * 2000
            self.assertTrue(np.allclose(bk["notional"], gross, rtol=1e-12))
            self.assertTrue(np.allclose(bk["initial_margin"], 0.05 * gross, rtol=1e-12))
            self.assertTrue(np.allclose(bk["maintenance_margin"], 0.025 * gross, rtol=1e-12))
            # portfolio: a naked perp's worst grid loss is 16%; maintenance is half of initial
            pb = b["portfolio"]
            perp = pb["strategy"] < 0
            self.assertTrue(np.allclose(pb["initial_margin"][perp], 0.16 * pb["notional"][perp], rtol=1e-9))
            self.assertTrue(np.allclose(pb["maintenance_margin"], 0.5 * pb["initial_margin"], rtol=1e-12))
            self.assertTrue(np.all(pb["initial_margin"] > 0))
            # dynamic: the recorded ratio stays in [floor, cap] and rises by at most max_step per update
            mr = g["dynamic"]["timeseries/margin_ratio"][:]
            self.assertTrue(np.all(mr >= 0.0125 - 1e-15) and np.all(mr <= 0.08 + 1e-15))
            self.assertLessEqual(float(np.max(np.diff(mr, axis=1))), 0.0025 + 1e-12)
            self.assertTrue(np.allclose(g["static"]["timeseries/margin_ratio"][:], 0.025))
            # options liquidated: a part of the option accounts' liquidated notional
            for m in models:
                liq = g[m]["liquidations"][:]
                of_opt = opt[liq["account"]]
                for path in range(30):
                    mine = liq["notional"][(liq["path"] == path) & of_opt].sum()
                    v = s[m]["options_liquidated_notional"][path]
                    self.assertLessEqual(v, mine * (1 + 1e-12) + 1e-9, (m, path))
                    if mine == 0:
                        self.assertEqual(v, 0.0)
            self.assertGreater(sum(s[m]["options_liquidated_notional"].sum() for m in models), 0)
            # capital efficiency, recomputed from /book: the worse of a one-day 99% move up or down
            mv = Z99 * 1.2 * math.sqrt(1 / 365)
            risk = 0.0
            for r in bk:
                T = r["expiry"] / (365 * 86400) if r["strategy"] >= 0 else 0.0

                def value(S):
                    v = r["quantity"] * S
                    if r["call_qty"]:
                        v += r["call_qty"] * bs(S, r["call_strike"], T, 1.2, True)
                    if r["put_qty"]:
                        v += r["put_qty"] * bs(S, r["put_strike"], T, 1.2, False)
                    return v
                v0 = value(2000)
                risk += max(0.0, v0 - value(2000 * math.exp(mv)), v0 - value(2000 * math.exp(-mv)))
            eff = f["compare/models"][:]
            self.assertEqual([x.decode() for x in eff["model"]], models)
            for i, m in enumerate(models):
                self.assertAlmostEqual(eff["risk"][i] / risk, 1.0, delta=1e-9)
                self.assertAlmostEqual(eff["initial_margin"][i] / b[m]["initial_margin"].sum(), 1.0, delta=1e-9)
                self.assertAlmostEqual(eff["im_per_risk"][i], eff["initial_margin"][i] / eff["risk"][i], delta=1e-12)
                self.assertAlmostEqual(eff["bad_debt_mean"][i], s[m]["bad_debt"].mean(),
                                       delta=1e-9 * (1 + abs(s[m]["bad_debt"].mean())))
                self.assertTrue(eff["insolvency_lo"][i] <= eff["insolvency_p"][i] <= eff["insolvency_hi"][i])
            # portfolio margin: a protective put needs less than its perp alone (16% of notional)
            pp = bk["strategy"] == 4
            self.assertTrue(np.all(pb["initial_margin"][pp] < 0.16 * np.abs(pb["quantity"][pp]) * 2000))
            # paired differences, recomputed from the per-path summaries
            diffs = f["compare/differences"][:]
            column = {"insolvency": ("insolvent", True), "liquidation_any": ("liquidations", True),
                      "bad_debt_any": ("bad_debt", True)}
            seen = set()
            for r in diffs:
                name, model, base = (r[k].decode() for k in ("statistic", "model", "baseline"))
                self.assertEqual(base, "static")
                col, prob = column.get(name, (name, False))
                self.assertEqual(bool(r["probability"]), prob, name)
                a, c = s["static"][col].astype(float), s[model][col].astype(float)
                if prob:
                    a, c = (a > 0).astype(float), (c > 0).astype(float)
                d = c - a
                self.assertEqual(r["n"], 30)
                self.assertAlmostEqual(r["baseline_mean"], a.mean(), delta=1e-9 * (1 + abs(a.mean())))
                self.assertAlmostEqual(r["model_mean"], c.mean(), delta=1e-9 * (1 + abs(c.mean())))
                self.assertAlmostEqual(r["diff"], d.mean(), delta=1e-9 * (1 + abs(d).max()))
                # the bootstrap-t interval of the per-path differences (docs/output.md). All 0: of an event or
                # a flag, +/- the Clopper-Pearson bound on the share of paths on which the two differ; of a
                # column of the exogenous price, 0 (the same on each path, by construction); of any other,
                # unbounded (these paths do not bound what the two do on others)
                exog = col in ("final_price", "min_price", "max_price", "max_drawdown", "jumps",
                               "regime_switches") or col.startswith("time_in_regime_")
                if d.min() == d.max() == 0 and (prob or col == "insolvent"):
                    u = 1 - 0.025 ** (1 / len(d))
                    self.assertEqual((r["lo"], r["hi"]), (-u, u), name)
                elif d.min() == d.max() == 0 and exog:
                    self.assertEqual((r["lo"], r["hi"]), (0.0, 0.0), name)
                elif d.min() == d.max():
                    self.assertEqual((r["lo"], r["hi"]), (-np.inf, np.inf), name)
                else:
                    self.assertTrue(r["lo"] < r["diff"] < r["hi"], (name, r["lo"], r["diff"], r["hi"]))
                seen.add((name, model))
            for name in ("liquidations", "bad_debt", "options_liquidated_notional", "insolvency",
                         "largest_cascade_notional"):
                for m in models[1:]:
                    self.assertIn((name, m), seen)
        self.assertEqual(self.listing(), ["cmp.h5", "mixed.yaml", "small.yaml"])

    def test_compare_groups_are_named_by_value(self):
        # a value with '/' (a rate) names one group, not a nested pair; its raw text is kept
        out = os.path.join(self.dir, "rates.h5")
        p = run("run", self.scen, "-o", out, "-n", "3", "-q", "--compare", "market.regimes[1].jumps.rate=6/d,24/d")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            self.assertEqual(sorted(f["models"].keys()), ["24|d", "6|d"])
            self.assertEqual(f["models/6|d"].attrs["value"], "6/d")
            self.assertIn("rate: 24/d", f["models/24|d"].attrs["config"])
            self.assertEqual([v.decode() for v in f["compare/models"]["model"]], ["6/d", "24/d"])
            self.assertEqual(f.attrs["compare"], "market.regimes[1].jumps.rate")

    def test_compare_values_split_as_grid_values(self):
        # commas inside {} or [] do not split a value (they did: '{dist: lognormal' was a value); spaces trimmed
        out = os.path.join(self.dir, "flow.h5")
        a, b = "{dist: lognormal, median: 2s, sigma: 0.5}", "{dist: lognormal, median: 30s, sigma: 0.5}"
        p = run("run", self.scen, "-o", out, "-n", "2", "-q", "--compare", "keepers.delay=%s, %s" % (a, b))
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            self.assertEqual([v.decode() for v in f["compare/models"]["model"]], [a, b])
            self.assertIn("median: 30s", f["models"][b].attrs["config"])

    def test_root_attribute_names_the_shortfall_policy(self):
        # the policy's name comes from its type table (sim/engine/shortfall.c); default adl
        for value, want in ((None, "adl"), ("socialize", "socialize")):
            out = os.path.join(self.dir, "sp.h5")
            extra = ["--set", "liquidation.shortfall=" + value] if value else []
            p = run("run", self.scen, "-o", out, "-n", "2", "-q", *extra)
            self.assertEqual(p.returncode, 0, p.stderr)
            with h5py.File(out, "r") as f:
                self.assertEqual(f.attrs["shortfall_policy"], want)

    def test_report_reads_run_and_compare_files(self):
        report = os.path.join(SRC, "analysis", "report.py")
        single, cmp = os.path.join(self.dir, "one.h5"), os.path.join(self.dir, "two.h5")
        self.assertEqual(run("run", self.scen, "-n", "6", "-q", "-o", single).returncode, 0)
        p = run("run", self.scen, "-n", "6", "-q", "-o", cmp, "--compare", "liquidation.penalty=0.01,0.05")
        self.assertEqual(p.returncode, 0, p.stderr)
        # The penalty does not change the margin requirement: no capital-efficiency figure, and a sentence why.
        for path, plots in ((single, ["path.png", "liquidations.png"]),
                            (cmp, ["differences.png", "0.05/path.png"])):
            out = os.path.join(self.dir, os.path.basename(path) + "_plots")
            r = subprocess.run([sys.executable, report, path, "--out", out], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 0, r.stderr)
            # after the CLI's table, a pointer to it, not a second table
            self.assertIn("every statistic with its interval", r.stdout)
            self.assertNotIn("95% CI (bootstrap)", r.stdout)
            for name in plots:
                self.assertTrue(os.path.getsize(os.path.join(out, name)) > 1000, name)
        self.assertFalse(os.path.exists(os.path.join(out, "tradeoff.png")))
        self.assertIn("capital-efficiency figure is left out", r.stdout)
        with open(os.path.join(out, "report.html")) as fh:
            self.assertIn("Capital efficiency (initial margin per unit of one-day 99% risk) is left out", fh.read())
        self.assertIn("paired differences", r.stdout)
        self.assertIn("0.05 - 0.01", r.stdout)
        # the compare table has bad debt's q99 and ES99 next to its mean
        self.assertRegex(r.stdout, r"bad debt mean +q99 +ES99")
        # --no-plots: the table, with the file's own intervals and each row's risky tail
        r = subprocess.run([sys.executable, report, single, "--no-plots"], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("95% CI (bootstrap)", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^insurance_min +\S+ +\[.*\] +\S+ +low ")
        self.assertRegex(r.stdout, r"(?m)^bad_debt +\S+ +\[.*\] +\S+ +high ")

    def test_compare_bad_input_exits_2_and_writes_nothing(self):
        out = os.path.join(self.dir, "c.h5")
        cases = [
            (["run", self.scen, "-o", out, "--compare", "margin.model=static"], "give at least two values"),
            (["run", self.scen, "-o", out, "--compare", "margin.model"], "expected KEY=V1,V2,..."),
            (["run", self.scen, "-o", out, "--compare", "margin.model=static,spreadsheet"],
             "--compare margin.model, value 2 (spreadsheet): --set margin.model=spreadsheet: margin.model: "
             "must be one of: static, tiered, dynamic, portfolio (got spreadsheet)"),
            (["run", self.scen, "-o", out, "--compare", "margin.model=static,static"], "value static given twice"),
            (["run", self.scen, "-o", out, "--compare", "seed=1,2"], "must share paths and seed"),
            (["run", self.scen, "-o", out, "--compare", "paths=10,20"], "must share paths and seed"),
            (["run", self.scen, "-o", out, "--compare", "margin.nope=1,2"], "margin.nope: unknown key"),
            # a cell whose book cannot start, before the last: exit 2 (was a crash reading the cells never set up)
            (["run", self.scen, "-o", out, "--compare", "margin.initial=0.9,0.05"],
             "--compare margin.initial, value 0.9: book: "),
            # an empty value was left out (0.05,,0.06 ran two cells); a second --compare replaced the first
            # (the file compared margin.maintenance only, exit 0)
            (["run", self.scen, "-o", out, "--compare", "liquidation.penalty=0.01,,0.02"], "an empty value"),
            (["run", self.scen, "-o", out, "--compare", "liquidation.penalty=0.01,0.02,"], "an empty value"),
            (["run", self.scen, "-o", out, "--compare", "liquidation.penalty=0.01,0.02", "--compare",
              "oracle.heartbeat=1h,2h"], "--compare given twice"),
            # two values naming one group: exit 2 at once (was exit 3 after the whole run, "attribute already exists")
            (["run", self.scen, "-o", out, "--compare", "name=a/b,a|b"], "would both be the group /models/a|b"),
            (["validate", self.scen, "--compare", "margin.model=static,dynamic"], "--compare is an option of 'run'"),
        ]
        for args, msg in cases:
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(msg, p.stderr, args)
        self.assertEqual(self.listing(), ["small.yaml"])

    def test_runaway_impact_is_an_error_not_inf(self):
        # a depth far too small for the book: the mark would overflow; exit 2, a message naming the key, no file
        scen = os.path.join(self.dir, "runaway.yaml")
        with open(scen, "w") as f:
            f.write("horizon: 6h\nmarket: {initial_price: 1000, impact: {model: linear, depth: 1e3, half_life: 30s},\n"
                    "  regimes: [{vol: 0.05, jumps: {rate: 60/h, mean: 0, sd: 0.04}}]}\n"
                    "book: {accounts: 2000, long_fraction: 0, leverage: {dist: uniform, min: 2, max: 20}}\n"
                    "liquidation: {mode: partial}\n")
        out = os.path.join(self.dir, "runaway.h5")
        p = run("run", scen, "-n", "4", "-q", "-o", out)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertRegex(p.stderr, r"path \d+: at t = [0-9.]+ s the liquidation flow's impact moved the mark to "
                                   r"\S+ times the exogenous price, beyond the bound of 1e\+06 either way")
        self.assertIn("market.impact.depth (1000 USD per 1%) is far too small for this book", p.stderr)
        self.assertFalse(os.path.exists(out))

    def test_summary_notes_bad_debt_no_keeper_booked(self):
        # keepers.gas_cost: an underwater account pays a keeper nothing and is never closed, so no bad
        # debt is booked and insolvency is 0 while the losses are real: the summary says so under the
        # probabilities, with the paths' count; a run whose paths close every such account does not
        out = os.path.join(self.dir, "ko.h5")
        p = run("run", os.path.join(SRC, "scenarios", "keeper-outage.yaml"), "-n", "20", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            s = f["paths/summary"][:]
        k = int((s["pending_bad_debt"] > 0).sum())
        self.assertGreater(k, 0)
        self.assertEqual(int(s["insolvent"].sum()), 0)
        self.assertIn(f"note: {k} of 20 paths end with underwater accounts no keeper liquidated", p.stdout)
        self.assertIn("bad_debt and insolvency count only the bad debt booked at fills", p.stdout)
        p = run("run", self.scen, "-n", "4", "-o", os.path.join(self.dir, "small.h5"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("pending_bad_debt_any", p.stdout)
        self.assertNotIn("note:", p.stdout)

    def test_standard_output_that_cannot_be_written_is_exit_3(self):
        # validate, schema and the summary exited 0 with nothing written to a full disk; validate cut at a
        # full tmpfs loads as another scenario. A closed pipe killed a run by SIGPIPE (141) after its file was
        # renamed into place: now exit 3, saying the file is complete.
        def to(stdout, *args):
            return subprocess.run([BIN, *args], stdout=stdout, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL, cwd=self.dir)
        with open("/dev/full", "w") as full:
            for args in (("validate", self.scen), ("schema",)):
                p = to(full, *args)
                self.assertEqual(p.returncode, 3, (args, p.stderr))
                self.assertIn("marginsim: cannot write to standard output", p.stderr)
        out = self.path("piped.h5")
        r, w = os.pipe()
        os.close(r)
        try:
            p = to(w, "run", self.scen, "-n", "3", "-o", out)
        finally:
            os.close(w)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("cannot write to standard output (Broken pipe): what was printed is incomplete; the result "
                      "file " + out + " is complete", p.stderr)
        with h5py.File(out, "r") as f:
            self.assertEqual(f["paths/summary"].shape, (3,))
        with open("/dev/null", "w") as null:  # -q prints nothing: nothing to fail
            self.assertEqual(to(null, "run", self.scen, "-n", "2", "-q", "-o", self.path("q.h5")).returncode, 0)
        # a filter's reader that stops (`schema | head`): quietly, as a death by SIGPIPE would be
        r, w = os.pipe()
        os.close(r)
        try:
            p = to(w, "schema")
        finally:
            os.close(w)
        self.assertEqual((p.returncode, p.stderr), (141, ""))
        # standard output closed (`>&-`): /dev/null takes its place, so that the run's files cannot take fd 1
        # and receive the summary
        closed = self.path("closed.h5")
        p = subprocess.run([BIN, "run", self.scen, "-n", "3", "-o", closed], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, cwd=self.dir,
                           preexec_fn=lambda: os.close(1))
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(closed, "r") as f:
            self.assertEqual(f["paths/summary"].shape, (3,))

    def test_output_option_without_a_file_name(self):
        # "-o -q": the file name was forgotten; nothing may be written, least of all a file called -q
        p = run("run", self.scen, "-n", "2", "-o", "-q", cwd=self.dir)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("-o/--output: expected a file name, got the option-like '-q'", p.stderr)
        self.assertEqual(self.listing(), ["small.yaml"])

    def test_shipped_scenarios_run(self):
        # every shipped scenario runs end to end (a few paths) and writes a file
        root = os.path.join(SRC, "scenarios")
        for name in sorted(os.listdir(root)):
            if not name.endswith(".yaml"):
                continue
            out = os.path.join(self.dir, name + ".h5")
            p = run("run", os.path.join(root, name), "-n", "3", "-q", "-o", out)
            self.assertEqual(p.returncode, 0, (name, p.stderr))
            with h5py.File(out, "r") as f:
                self.assertEqual(f["paths/summary"].shape, (3,))

    def test_validate_round_trips(self):
        p = run("validate", self.scen)
        self.assertEqual(p.returncode, 0, p.stderr)
        resolved = os.path.join(self.dir, "resolved.yaml")
        with open(resolved, "w") as f:
            f.write(p.stdout)
        q = run("validate", resolved)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertEqual(p.stdout.splitlines()[1:], q.stdout.splitlines()[1:])

    def test_validate_shows_the_resolved_preset(self):
        # the preset's values fill what is not written; a written key wins; --set picks the preset
        p = run("validate", self.scen, "--set", "margin.model=portfolio", "--set", "margin.portfolio.preset=paradex",
                "--set", "margin.portfolio.mm_factor=0.6", "--set", "book.leverage=2")
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in ("preset: paradex", "vol_same: false", "edge_vol_up_only: true", "min_delta_net: 0.02",
                     "min_delta_hedged: 0.01", "short_option_floor: 0", "mm_factor: 0.6"):
            self.assertIn("\n    " + line + "\n", p.stdout, line)
        bad = os.path.join(self.dir, "badpreset.yaml")
        with open(bad, "w") as f:
            f.write("margin:\n  model: portfolio\n  portfolio:\n    preset: foo\n")
        q = run("validate", bad)
        self.assertEqual(q.returncode, 2, q.stderr)
        self.assertIn("badpreset.yaml:4:13: margin.portfolio.preset: must be one of: deribit, paradex, derive, span "
                      "(got foo)", q.stderr)

    def test_bad_input_exits_2_and_writes_nothing(self):
        out = os.path.join(self.dir, "bad.h5")
        with open(os.path.join(self.dir, "bad.yaml"), "w") as f:
            f.write(SMALL.replace("vol: 1.5", "vol: -1.5"))
        with open(os.path.join(self.dir, "list.yaml"), "w") as f:
            f.write("- a\n- b\n")
        open(os.path.join(self.dir, "nothing.h5.partial"), "w").close()
        cases = [
            (["run", os.path.join(self.dir, "bad.yaml"), "-o", out],
             "bad.yaml:10:27: market.regimes[1].vol: must be >= 0"),
            (["run", self.scen, "-o", out, "--set", "market.nope=1"],
             "--set market.nope=1: market.nope: unknown key; known keys of market:"),
            (["run", self.scen, "-o", out, "-n", "0"], "-n/--paths: expected a whole number from 1 to 1000000000 (got '0')"),
            (["run", self.scen, "-o", out, "--seed", "x"], "seed: expected a whole number"),
            (["run", self.scen, "-o", out, "-j", "0"], "-j/--threads"),
            (["run", os.path.join(self.dir, "missing.yaml"), "-o", out], "cannot open the scenario file"),
            # input audit 2026-12-07: messages that blamed what the user did not type
            (["run", os.path.join(self.dir, "list.yaml"), "-n", "4", "-o", out],
             "list.yaml:1:1: (top level): expected a mapping with keys"),  # not "--set paths=4: (root) ..."
            (["run", self.scen, "-o", out, "--set"], "option --set needs a value"),  # not "-s"
            (["run", self.scen, "-o", out, "--compare"], "option --compare needs a value"),  # not "-C"
            (["run", self.scen, "-o", out, "--quiet=3"], "option --quiet takes no value"),
            (["run", "--resume", os.path.join(self.dir, "nothing.h5.partial")],
             "nothing.h5.partial: not a marginsim journal"),  # not "no nothing.h5.partial.partial"
            (["run", "-o", out], "missing SCENARIO"),
            (["run", self.scen, "-o", out, "--set", "book.leverage=30"],
             "book.leverage: 500 of 500 accounts start below initial margin under margin.model static; first: account 0"),
            (["validate", self.scen, "--set", "book.leverage=30"], "start below initial margin"),
            (["frobnicate"], "unknown command"),
        ]
        for args, msg in cases:
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(msg, p.stderr, args)
            self.assertFalse(os.path.exists(out), args)
        self.assertEqual(self.listing(), ["bad.yaml", "list.yaml", "nothing.h5.partial", "small.yaml"])

    def test_output_folder_is_bad_input_before_the_run(self):
        # A folder at -o is refused before anything runs (the run below would
        # take minutes), exit 2, naming the option; nothing is written.
        long = SMALL.replace("paths: 40", "paths: 200000").replace("horizon: 2h", "horizon: 1d")
        scen = os.path.join(self.dir, "long.yaml")
        with open(scen, "w") as f:
            f.write(long)
        target = os.path.join(self.dir, "taken.h5")
        os.mkdir(target)
        for cmd in (["run", scen, "-o", target], ["run", scen, "-o", self.path("new") + "/"],
                    ["run", scen, "-o", target, "--compare", "margin.model=static,dynamic"],
                    ["sweep", scen, "-o", target, "--grid", "margin.maintenance=0.03,0.05"]):
            t0 = time.time()
            p = run(*cmd, timeout=20)
            self.assertLess(time.time() - t0, 5, cmd)
            self.assertEqual(p.returncode, 2, (cmd, p.stderr))
            self.assertIn("-o/--output", p.stderr, cmd)
            self.assertIn("is a folder", p.stderr, cmd)
            self.assertEqual(p.stdout, "", cmd)
            self.assertEqual(self.listing(), ["long.yaml", "small.yaml", "taken.h5"], cmd)
            self.assertEqual(os.listdir(target), [], cmd)
        # a file where a parent folder should be
        p = run("run", self.scen, "-o", os.path.join(self.scen, "x.h5"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("small.yaml is a file, not a folder", p.stderr)

    def test_outage_after_the_horizon_is_a_warning(self):
        scen = self.path("late.yaml")
        with open(scen, "w") as f:
            f.write(SMALL + "keepers:\n  outages:\n    - {start: 1h, duration: 10m}\n    - {start: 3h, duration: 1h}\n")
        out = self.path("late.h5")
        want = "late.yaml:18:15: keepers.outages[1].start: starts at 3h, at or after the horizon (2h)"
        for cmd in (["run", scen, "-o", out, "-q"], ["validate", scen],
                    ["sweep", scen, "-o", out, "-q", "--grid", "margin.maintenance=0.03,0.05"]):
            p = run(*cmd)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("warning: " + scen + want[len("late.yaml"):], p.stderr, cmd)
            self.assertEqual(p.stderr.count("warning:"), 1, p.stderr)
        p = run("run", scen, "-o", out, "-q", "--set", "horizon=1h")  # now both start at or after it
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("keepers.outages[0].start: starts at 1h, at or after the horizon (1h)", p.stderr)
        self.assertEqual(p.stderr.count("warning:"), 2, p.stderr)
        p = run("run", scen, "-o", out, "-q", "--set", "horizon=4h")
        self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_missing_folders_are_made_and_removed_when_the_run_fails(self):
        out = os.path.join(self.dir, "a", "b", "r.h5")
        p = run("run", self.scen, "-o", out, "--set", "book.leverage=30")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(self.listing(), ["small.yaml"])
        p = run("run", self.scen, "-o", out, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.isfile(out))

    def interrupt(self, sig, code):
        long = SMALL.replace("paths: 40", "paths: 200000").replace("horizon: 2h", "horizon: 1d")
        scen = os.path.join(self.dir, "long.yaml")
        with open(scen, "w") as f:
            f.write(long)
        out = os.path.join(self.dir, "long.h5")
        p = subprocess.Popen([BIN, "run", scen, "-o", out, "-j", "2"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline and not any(n.startswith(".long.h5.ms-tmp-") for n in os.listdir(self.dir)):
            time.sleep(0.02)
        self.assertTrue(any(n.startswith(".long.h5.ms-tmp-") for n in os.listdir(self.dir)),
                        "the run never started writing")
        # a first whole frame of paths in the journal: then the run has work to keep (frames are
        # streamed as paths finish, so the journal's size alone does not say that one is whole)
        journal = out + ".partial"
        while time.time() < deadline and frames(journal) < 1:
            time.sleep(0.02)
        self.assertGreaterEqual(frames(journal), 1, "no frame of paths within 20 s")
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, code, err)
        self.assertIn("no result file written", err)
        # the finished paths stay in the journal, and the message says how to go on
        self.assertIn("paths are kept in %s: continue with `marginsim run --resume %s`" % (journal, out), err)
        self.assertEqual(self.listing(), ["long.h5.partial", "long.yaml", "small.yaml"])
        # a new run of the same result file refuses to overwrite it (exit 2, nothing written) ...
        q = run("run", scen, "-o", out, "-q")
        self.assertEqual(q.returncode, 2, q.stderr)
        self.assertIn("an unfinished run of %s is there" % out, q.stderr)
        self.assertIn("marginsim run --resume %s" % out, q.stderr)
        self.assertEqual(self.listing(), ["long.h5.partial", "long.yaml", "small.yaml"])
        # ... and --resume takes no scenario or other options but -j and -q
        q = run("run", "--resume", out, scen)
        self.assertEqual(q.returncode, 2, q.stderr)
        self.assertIn("give only -j and -q", q.stderr)

    def test_sigint_keeps_the_finished_paths_for_resume(self):
        self.interrupt(signal.SIGINT, 130)

    def test_sigterm_keeps_the_finished_paths_for_resume(self):
        self.interrupt(signal.SIGTERM, 143)

    def test_help_and_version(self):
        for args in (["--help"], ["run", "--help"], ["validate", "--help"], ["schema", "--help"]):
            p = run(*args)
            self.assertEqual(p.returncode, 0, args)
            self.assertIn("usage: marginsim", p.stdout)
        p = run("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^marginsim \d+\.\d+\.\d+")

    def test_docs_list_every_key(self):
        p = run("schema")
        self.assertEqual(p.returncode, 0)
        with open(os.path.join(SRC, "docs", "scenario.md")) as f:
            doc = f.read()
        self.assertTrue(p.stdout.strip() in doc,
                      "docs/scenario.md is out of date: paste the output of `marginsim schema`")

    def test_shipped_scenarios_validate(self):
        root = os.path.join(SRC, "scenarios")
        found = 0
        for dirpath, _, files in os.walk(root):
            for name in files:
                if name.endswith(".yaml"):
                    found += 1
                    p = run("validate", os.path.join(dirpath, name))
                    self.assertEqual(p.returncode, 0, (name, p.stderr))
        self.assertGreater(found, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
