"""End-to-end tests of a book trading several markets (book.markets, issue 18).

Run by ctest (label e2e) with MARGINSIM and MS_SOURCE_DIR set. The promises
(docs/engine.md, "Several markets"; docs/output.md): the shipped scenario runs;
its per-asset columns are there and `liquidations` is their sum; threads do
not change a byte; each market's exogenous path is the one a single-asset run
trading that asset draws; what the engine does not do yet is exit 2 with no
file and a message naming the key.
"""
import os
import subprocess
import unittest

import h5py
import numpy as np

from e2e import BIN, SRC, DirTest, child_peak_kb, run
from test_history import ENV, same_content

SCEN = os.path.join(SRC, "scenarios", "multi-asset-crash.yaml")
MULTI_10K = os.path.join(SRC, "scenarios", "bench", "multi-10k.yaml")
ASSETS = ("BTC", "ETH", "SOL")
PATHS = "6"


class MultiTest(DirTest):
    PREFIX = "ms_multi_"

    def runj(self, out, j, *extra):
        p = subprocess.run([BIN, "run", SCEN, "-n", PATHS, "-j", j, "-o", out, "-q", *extra], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, env=ENV)
        self.assertEqual(p.returncode, 0, p.stderr)

    @unittest.skipIf(os.environ.get("MS_SANITIZED", "0") not in ("", "0"), "ASan changes memory use")
    def test_a_thread_beyond_the_first_adds_under_150_bytes_an_account(self):
        # Issue 16's 150 bytes an account, for what a second thread adds: the
        # book is drawn once and lent (about 70 B an account), each thread
        # keeps its units (48 B), positions (32 B each, 1.5 an account), the
        # ladders' bound prices and the buffers of its largest check, which
        # in this crash takes about half the book's bounds at one publish
        # (taken in batches). The slope between two book sizes of the second
        # thread's extra peak leaves the process's own memory out.
        def extra_kb(accounts):
            kb = {}
            for j in (1, 2):
                kb[j] = child_peak_kb(["run", MULTI_10K, "-n", "2", "-j", str(j), "-q", "-o", self.path("m.h5"),
                                       "--set", "book.markets.enabled=true", "--set", "book.accounts=%d" % accounts])
            with h5py.File(self.path("m.h5")) as f:  # both paths crash through most of the book
                self.assertTrue((f["paths/summary"]["liquidations"] > 0.5 * accounts).all())
            return kb[2] - kb[1]

        small, big = 200000, 400000
        per_account = (extra_kb(big) - extra_kb(small)) * 1024 / (big - small)
        # measured: 168 B with 56-byte units, ladder buckets doubling, 64-bit
        # candidates and a take of every crossed bound at once; 135 B after
        self.assertLess(per_account, 150, "%.0f bytes an account for the second thread" % per_account)

    def test_columns_threads_and_paths(self):
        o1, o2 = self.path("j1.h5"), self.path("j2.h5")
        self.runj(o1, "1")
        self.runj(o2, "2")
        # threads change nothing in the file
        self.assertEqual(same_content(o1, o2), [])
        with h5py.File(o1) as f:
            s = f["paths/summary"][:]
            stats = {n.decode() for n in f["stats/summary"]["name"]}
            book = f["book"][:]  # one row per position (docs/output.md, /book)
            self.assertEqual(f["book"].attrs["assets"], ", ".join(ASSETS))
        # /book: positions by unit; a unit's rows hold its count, its deposit, and within it its initial margin
        # (the book's check at the draw); each row at its market's entry price
        prices = {0: 121662.41, 1: 4368.09, 2: 200.0}
        self.assertTrue(np.all(np.diff(book["unit"]) >= 0))
        units, first, counts = np.unique(book["unit"], return_index=True, return_counts=True)
        np.testing.assert_array_equal(book["unit_positions"][first], counts)
        self.assertGreater((counts > 1).sum(), 1000)  # cross accounts of several markets
        for u0, n0 in zip(first[:500], counts[:500]):
            rows = book[u0:u0 + n0]
            self.assertEqual(len(set(rows["market"])), n0)  # one position per market
            self.assertEqual(len(set(rows["collateral"])), 1)
            self.assertLessEqual(rows["initial_margin"].sum(), rows["collateral"][0] * (1 + 1e-9))
        for j, p in prices.items():
            np.testing.assert_array_equal(book["entry_price"][book["market"] == j], p)
        np.testing.assert_allclose(np.abs(book["quantity"]) * book["entry_price"], book["notional"], rtol=1e-12)
        cols = set(s.dtype.names)
        for a in ASSETS:
            for c in ("liquidations", "liquidated_notional", "bad_debt", "contagion_liquidations", "final_price",
                      "min_price"):
                self.assertIn(f"{c}_{a}", cols)
                self.assertIn(f"{c}_{a}", stats)
        # liquidations counts positions: the sum of the markets'
        np.testing.assert_array_equal(sum(s[f"liquidations_{a}"] for a in ASSETS), s["liquidations"])
        self.assertGreater(s["liquidations"].sum(), 0)  # not vacuous
        # market.trade's asset (BTC) gives the single-asset price columns
        np.testing.assert_array_equal(s["final_price_BTC"], s["final_price"])
        # each market's path is the single-asset run's of its asset
        for a in ASSETS:
            out = self.path(f"single_{a}.h5")
            self.runj(out, "2", "--set", "book.markets.enabled=false", "--set", f"market.trade={a}", "--set",
                      "assertions=[]")
            with h5py.File(out) as f:
                one = f["paths/summary"][:]
            np.testing.assert_array_equal(s[f"final_price_{a}"], one["final_price"], err_msg=a)
        # the prices differ across markets (the check above is not of one column thrice)
        self.assertFalse(np.array_equal(s["final_price_ETH"] / 4368.09, s["final_price_SOL"] / 200))
        # analysis/report.py on this file: its per-market panel and the losses across markets, the
        # correlation as numpy computes it
        import sys
        q = subprocess.run([sys.executable, os.path.join(SRC, "analysis", "report.py"), o1, "--no-plots"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertIn("per market: mean per path", q.stdout)
        line = next(ln for ln in q.stdout.split("\n") if ln.strip().startswith("BTC ~ ETH:"))
        got = float(line.split("liquidations")[1].split()[0])
        want = np.corrcoef(s["liquidations_BTC"], s["liquidations_ETH"])[0, 1]
        self.assertAlmostEqual(got, want, places=3)

    def test_cli_prints_the_per_market_panel(self):
        p = run("run", SCEN, "-n", "3", "-o", self.path("p.h5"))
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.split("\n")
        head = next(i for i, ln in enumerate(lines) if ln.strip().startswith("per market"))
        self.assertIn("contagion", lines[head])
        self.assertEqual([ln.split()[0] for ln in lines[head + 1:head + 4]], list(ASSETS))

    def test_partial_gas_funding_dynamic(self):
        """What the engine of several markets runs beyond the scenario: partial liquidation, keepers skipping
        for gas, funding per market, dynamic margin (tests/test_multi.c checks their numbers)."""
        out = self.path("more.h5")
        p = run("run", SCEN, "-n", "4", "-q", "-o", out, "--set", "liquidation.mode=partial",
                "--set", "keepers.gas_cost=1", "--set", "funding.enabled=true")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            s = f["paths/summary"][:]
        for a in ASSETS:
            self.assertIn("funding_long_net_" + a, s.dtype.names)
        self.assertTrue((s["funding_paid"] > 0).all())
        self.assertGreater(int(s["partial_liquidations"].sum()), 0)
        out = self.path("dyn.h5")
        p = run("run", SCEN, "-n", "2", "-q", "-o", out, "--set", "margin.model=dynamic")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = self.path("adl.h5")  # ADL per market, the default shortfall policy
        p = run("run", SCEN, "-n", "3", "-q", "-o", out, "--set", "liquidation.shortfall=adl",
                "--set", "liquidation.insurance_fund=0", "--set", "liquidation.keeper_share=1",
                "--set", "market.start_regime=stress")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out, "r") as f:
            s = f["paths/summary"][:]
        self.assertGreater(float(s["adl_notional"].sum()), 0)
        self.assertEqual(float(s["socialized_loss"].sum()), 0)
        # an empty fund: the bad debt is the ADL counterparties' loss, and what no one took
        self.assertTrue(np.allclose(s["bad_debt"], s["adl_loss"] + s["uncovered_loss"], rtol=1e-12, atol=1e-6))

    def test_history_of_several_markets(self):
        """A replay of two markets in one cross book: each market's path is the one-market replay's."""
        hist = os.path.join(SRC, "scenarios", "history")
        cross, single = os.path.join(hist, "2025-10-tariff-crash-cross.yaml"), os.path.join(
            hist, "2025-10-tariff-crash-btc-eth.yaml")
        out = self.path("cross.h5")
        p = run("run", cross, "-n", "3", "-q", "-o", out, "--set", "stats.counterfactual=false")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out) as f:
            m = f["paths/summary"][:]
        for a in ("BTC", "ETH"):
            o = self.path(a + ".h5")
            p = run("run", single, "-n", "3", "-q", "-o", o, "--set", "market.trade=" + a,
                    "--set", "stats.counterfactual=false")
            self.assertEqual(p.returncode, 0, p.stderr)
            with h5py.File(o) as f:
                s = f["paths/summary"][:]
            for col in ("final_price", "min_price"):
                self.assertTrue(np.array_equal(m[col + "_" + a], s[col]), (a, col))
        self.assertTrue((m["contagion_liquidations_ETH"] > 0).all())

    def test_markets_table(self):
        """marginsim.Result(...).markets: the per-asset columns in long form, one row per (path, market)."""
        import sys
        sys.path.insert(0, os.path.join(SRC, "analysis"))
        import marginsim
        out = self.path("m.h5")
        p = run("run", SCEN, "-n", "3", "-q", "-o", out, "--set", "stats.counterfactual=false")
        self.assertEqual(p.returncode, 0, p.stderr)
        r = marginsim.Result(out)
        m, s = r.markets, r.summary
        self.assertEqual(len(m), 3 * len(ASSETS))
        self.assertEqual(list(m["market"][:len(ASSETS)]), list(ASSETS))
        for a in ASSETS:
            rows = m[m["market"] == a]
            self.assertTrue(np.array_equal(rows["liquidations"].to_numpy(), s["liquidations_" + a].to_numpy()))
            self.assertTrue(np.array_equal(rows["contagion_liquidations"].to_numpy(),
                                           s["contagion_liquidations_" + a].to_numpy()))
        self.assertTrue(np.array_equal(m.groupby("path")["liquidations"].sum().to_numpy(),
                                       s["liquidations"].to_numpy()))
        self.assertEqual(m.attrs["units"]["liquidated_notional"], "USD")
        # /paths/markets: the same columns, paths x markets
        with h5py.File(out) as f:
            g = f["paths/markets"]
            self.assertEqual(g.attrs["markets"], ",".join(ASSETS))
            for field in ("liquidations", "liquidated_notional", "bad_debt", "contagion_liquidations", "final_price",
                          "min_price"):
                d = g[field][()]
                self.assertEqual(d.shape, (3, len(ASSETS)))
                for j, a in enumerate(ASSETS):
                    self.assertTrue(np.array_equal(d[:, j], s[field + "_" + a].to_numpy()), (field, a))
            self.assertEqual(g["liquidations"].dtype, np.int64)
        one = self.path("one.h5")
        p = run("run", os.path.join(SRC, "scenarios", "quickstart.yaml"), "-n", "2", "-q", "-o", one)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIsNone(marginsim.Result(one).markets)
        with h5py.File(one) as f:
            self.assertNotIn("markets", f["paths"])

    def test_options_and_portfolio_margin(self):
        """Option strategies in a book of several markets, under static and
        portfolio margin (each asset's grid): the run completes, legs expire
        and option positions are liquidated, and threads change nothing."""
        opts = ("--set", "book.options.fraction=0.3", "--set", "book.accounts=3000", "--set", "assertions=[]",
                "--set", "stats.contagion=false")
        crash = ("--set", "market.start_regime=stress", "--set",
                 "market.regimes[1].jumps={rate: 12/d, mean: -0.06, sd: 0.03}", "--set",
                 "book.options.strategies=[{kind: naked_short_put, size: {dist: uniform, min: 1, max: 3}}, "
                 "{kind: short_strangle, size: {dist: uniform, min: 1, max: 3}}, "
                 "{kind: covered_call, size: {dist: uniform, min: 1, max: 3}}]")
        for extra in ((), ("--set", "margin.model=portfolio", "--set",
                           "book.leverage={dist: uniform, min: 2, max: 4}", *crash)):
            with self.subTest(extra=extra):
                o1, o2 = self.path("o1.h5"), self.path("o2.h5")
                self.runj(o1, "1", *opts, *extra)
                self.runj(o2, "2", *opts, *extra)
                self.assertEqual(same_content(o1, o2), [])
                with h5py.File(o1) as f:
                    s = f["paths/summary"][:]
                self.assertGreater(s["options_expired"].sum(), 0)
                self.assertGreater(s["liquidations"].sum(), 0)
                self.assertGreater(s["options_liquidated_notional"].sum(), 0)
                np.testing.assert_array_equal(sum(s[f"liquidations_{a}"] for a in ASSETS), s["liquidations"])

    def test_a_settlement_deficit_is_bad_debt_in_both_engines(self):
        """Short puts expire 30 minutes after a 30% fall, while an outage keeps every keeper away: each account
        the settlement leaves holding nothing but a deficit is closed, and its deficit booked as bad debt at the
        settlement (settlement_bad_debt), through the fund and the shortfall. It had been closed with its
        negative cash and every loss column read 0. The deficit is the negative equity pending_bad_debt reports
        of the same paths cut one second before the expiry (puts a second from expiry, at the mark then)."""
        common = ("seed: 5\npaths: 2\nhorizon: 4h\nstep: 1s\n"
                  "book:\n  accounts: 200\n  collateral: {dist: lognormal, median: 5000, sigma: 0.5}\n"
                  "  options: {fraction: 1, strategies: [{kind: naked_short_put, size: {dist: uniform, min: 5, "
                  "max: 15}, expiry: 2h}]}\n%s"
                  "margin: {model: static, initial: 0.05, maintenance: 0.025}\n"
                  "oracle: {kind: push, deviation: 0.5%%, heartbeat: 10m, latency: 5s}\n"
                  "keepers: {delay: {dist: lognormal, median: 6s, sigma: 0.8}, outages: [{start: 1h, duration: 2h}]}\n"
                  "liquidation: {insurance_fund: 50000, shortfall: %s}\nstats: {counterfactual: false}\n")
        one = ("name: settle-one\nmarket: {initial_price: 2000, impact: {model: none}, regimes: [{vol: 0.5}], "
               "shocks: [{at: 1h, move: -30%, over: 30m}]}\n" + common % ("", "socialize"))
        several = ("name: settle-several\nmarket:\n  assets: [{name: AAA, initial_price: 2000, impact: {model: none}}, "
                   "{name: BBB, initial_price: 100, impact: {model: none}}]\n"
                   "  regimes: [{name: calm, assets: [{vol: 0.5}, {vol: 0.6}], correlation: [[1, 0.8], [0.8, 1]]}]\n"
                   "  shocks: [{at: 1h, move: -30%, over: 30m}]\n" +
                   common % ("  margin_mode: cross\n  markets: {enabled: true, count: {dist: table, values: [1, 2], "
                             "weights: [0.5, 0.5]}}\n", "adl"))
        for name, text in (("one", one), ("several", several)):
            with self.subTest(name):
                scen = self.path(name + ".yaml")
                with open(scen, "w") as f:
                    f.write(text)
                sums = {}
                for h in ("4h", "7199s"):
                    out = self.path("%s_%s.h5" % (name, h))
                    p = run("run", scen, "-q", "-j", "1", "-o", out, "--set", "horizon=" + h)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    with h5py.File(out) as f:
                        sums[h] = f["paths/summary"][:]
                s, before = sums["4h"], sums["7199s"]
                self.assertTrue((before["pending_end"] == 200).all() and (before["bad_debt"] == 0).all())
                self.assertTrue((s["liquidations"] == 0).all() and (s["pending_end"] == 0).all())
                self.assertTrue((s["pending_bad_debt"] == 0).all())
                np.testing.assert_array_equal(s["bad_debt"], s["settlement_bad_debt"])
                # the puts' last second of time value and drift: measured 4e-4 apart
                np.testing.assert_allclose(s["settlement_bad_debt"], before["pending_bad_debt"], rtol=2e-3)
                self.assertTrue((s["insolvent"] == 1).all())
                np.testing.assert_allclose(s["insurance_paid"], 50000, rtol=1e-12)  # paid in many parts
                np.testing.assert_allclose(s["bad_debt"], s["insurance_paid"] + s["socialized_loss"] + s["adl_loss"]
                                           + s["uncovered_loss"], rtol=1e-12)
                if name == "several":
                    np.testing.assert_allclose(s["bad_debt_AAA"] + s["bad_debt_BBB"], s["bad_debt"], rtol=1e-12)

    def test_liquidation_records(self):
        """output.liquidations in a book of several markets: each record's position is a row of /book, whose
        market and side agree with the record and with the summary's per-asset counts; threads change nothing;
        marginsim.Result joins the records to /book."""
        o1, o2 = self.path("l1.h5"), self.path("l2.h5")
        extra = ("--set", "output.liquidations=true", "--set", "assertions=[]", "--set", "stats.contagion=false")
        self.runj(o1, "1", *extra)
        self.runj(o2, "2", *extra)
        self.assertEqual(same_content(o1, o2), [])
        with h5py.File(o1) as f:
            liq, book, s = f["liquidations"][:], f["book"][:], f["paths/summary"][:]
            self.assertIn("position", liq.dtype.names)
            self.assertNotIn("account", liq.dtype.names)
        self.assertEqual(len(liq), s["liquidations"].sum())
        self.assertGreater(len(liq), 100)
        market = book["market"][liq["position"]]
        for j, a in enumerate(ASSETS):
            per_path = np.bincount(liq["path"][market == j].astype(np.int64), minlength=len(s))
            np.testing.assert_array_equal(per_path, s[f"liquidations_{a}"])
        np.testing.assert_array_equal(np.sign(book["quantity"][liq["position"]]), liq["side"])
        np.testing.assert_allclose(liq["notional"], liq["qty"] * liq["mark_price"], rtol=1e-12)
        import sys
        sys.path.insert(0, os.path.join(SRC, "analysis"))
        import marginsim
        df = marginsim.Result(o1).liquidations
        np.testing.assert_array_equal(df["account"].to_numpy(), book["account"][liq["position"]])
        self.assertEqual(list(df["market"][:3]), [ASSETS[m] for m in market[:3]])

    def test_generations_count_only_the_fills_of_the_units_markets(self):
        """A market's oracle sees only that market's fills: a record's generation is 1 + the largest generation
        among its cascade's earlier fills in the markets its unit holds, each up to the observation time of that
        market's oracle price (docs/engine.md, Cascades), the same for every record of one unit's liquidation;
        a cascade's depth is its largest generation. Recomputed here from /book and /liquidations by brute force,
        in full liquidation mode (the scenario's), where a unit's records name all its markets and their oracle
        observation times; in partial mode a market the unit holds without a fill leaves no record.
        Audit 2026-12-07: the engine counted every market's fills (isolated margin, 20 paths: 5,784 of 46,623
        records and 17 of 72 cascades too deep; cross: one unit's records of different generations)."""
        for mode, paths in (("isolated", "20"), ("cross", "8")):
            out = self.path(mode + ".h5")
            p = subprocess.run([BIN, "run", SCEN, "-n", paths, "-j", "2", "-o", out, "-q", "--set",
                                "output.liquidations=true", "--set", "book.margin_mode=" + mode],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL, env=ENV)
            self.assertEqual(p.returncode, 0, p.stderr)
            with h5py.File(out) as f:
                book, r, cas, s = f["book"][:], f["liquidations"][:], f["cascades"][:], f["paths/summary"][:]
                gap = 300_000  # ms: stats.cascade_gap's default, which the scenario keeps
            unit, market = book["unit"][r["position"]], book["market"][r["position"]]
            self.assertGreater(int(r["impact_triggered"].sum()), 100, mode)
            gen = np.zeros(len(r), dtype=np.int64)
            deep = 0
            for path in range(int(paths)):
                idx = np.flatnonzero(r["path"] == path)
                start, c, depth, largest = 0, -1, [], (0.0, 0, 0)  # largest: (notional, liquidations, depth)
                i = 0
                while i < len(idx):
                    a, t = idx[i], r["time"][idx[i]]
                    j = i  # the unit's liquidation: its records, one per position, at one time
                    while j < len(idx) and r["time"][idx[j]] == t and unit[idx[j]] == unit[a]:
                        j += 1
                    if i == 0 or t - r["time"][idx[i - 1]] > gap:
                        start, c = i, c + 1
                        depth.append(0)
                    g = 0
                    if r["impact_triggered"][a]:
                        before = idx[start:i]  # the cascade's earlier fills
                        saw = np.zeros(len(before), dtype=bool)
                        for k in idx[i:j]:  # each market of the unit, up to its oracle's observation
                            saw |= (market[before] == market[k]) & (r["time"][before] <= r["obs_time"][k])
                        g = 1 + int(gen[before][saw].max(initial=0))
                    gen[idx[i:j]] = g
                    np.testing.assert_array_equal(r["cascade"][idx[i:j]], c)
                    depth[c] = max(depth[c], g)
                    i = j
                pc = cas[cas["path"] == path]
                np.testing.assert_array_equal(pc["depth"], depth, err_msg=f"{mode} path {path}")
                if len(pc):
                    big = max(range(len(pc)), key=lambda k: (pc["notional"][k], pc["liquidations"][k], -k))
                    self.assertEqual(s["largest_cascade_depth"][path], pc["depth"][big])
                deep = max(deep, max(depth, default=0))
            np.testing.assert_array_equal(r["generation"], gen, err_msg=mode)
            self.assertGreater(deep, 2, mode)  # cascades of several waves: the test can tell counts apart

    def test_refused(self):
        one = self.path("one.yaml")
        with open(one, "w") as f:
            f.write("""market:
  assets: [{name: A, initial_price: 10}]
  regimes: [{name: a, assets: [{vol: 0.5}]}]
book: {accounts: 100, markets: {enabled: true}}
liquidation: {shortfall: socialize}
""")
        cases = [
            ((one,), "book.markets.enabled", "two or more"),
            ((SCEN, "--set", "book.markets.weights=[1, 1]"), "book.markets.weights", "has 2 entries"),
            ((SCEN, "--set", "output.liquidations=true", "--set", "book.resample=per_path"), "output.liquidations",
             "book.resample per_run"),
            ((SCEN, "--set", "margin.model=dynamic", "--set", "market.regimes[0].assets[1].vol=0"),
             "market.regimes[0].assets[1].vol", "must be > 0"),
            ((SCEN, "--set", "book.options.fraction=0.2", "--set", "market.regimes[1].assets[2].vol=0"),
             "market.regimes[1].assets[2].vol", "with book.options.fraction > 0"),
            ((os.path.join(SRC, "scenarios", "quickstart.yaml"), "--set", "book.markets.cross_offset=0.5"),
             "book.markets.cross_offset", "book.markets.enabled"),
            ((SCEN, "--set", "book.markets.cross_offset=0.5"), "book.markets.cross_offset", "portfolio margin"),
            ((SCEN, "--set", "book.markets.cross_offset=0.5", "--set", "margin.model=portfolio", "--set",
              "book.margin_mode=isolated"), "book.markets.cross_offset", "cross or mixed"),
        ]
        for args, key, what in cases:
            with self.subTest(args=args[1:] or "one asset"):
                out = self.path("bad.h5")
                p = run("run", *args, "-n", "2", "-o", out, "-q")
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(key + ":", p.stderr)
                self.assertIn(what, p.stderr)
                self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
