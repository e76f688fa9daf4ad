"""End-to-end tests of several assets in one correlated world (market.assets, issue 18).

Run by ctest (label e2e) with MARGINSIM and MS_SOURCE_DIR set. The promises:
`--compare market.trade=BTC,ETH` runs both books on one world (the same
regime path and jumps, correlated prices); the book trading the first asset
gives the file of a single-asset scenario with that asset's parameters; a
resolved configuration loads back; bad input is exit 2 with no file.
"""
import os
import unittest

import h5py
import numpy as np

from e2e import SRC, DirTest, run

WORLD = os.path.join(SRC, "scenarios", "correlated-world.yaml")


class AssetsTest(DirTest):
    PREFIX = "ms_assets_"

    def test_two_books_on_one_world(self):
        out = self.path("cw.h5")
        p = run("run", WORLD, "--compare", "market.trade=BTC,ETH", "-n", "60", "-o", out, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out) as f:
            a, b = f["models/BTC/paths/summary"][:], f["models/ETH/paths/summary"][:]
        # one regime chain and one jump process
        for col in ("time_in_regime_calm", "time_in_regime_stress", "jumps", "regime_switches"):
            np.testing.assert_array_equal(a[col], b[col])
        ra, rb = np.log(a["final_price"] / 121662.41), np.log(b["final_price"] / 4368.09)
        self.assertGreater(np.corrcoef(ra, rb)[0, 1], 0.75)
        self.assertFalse(np.array_equal(ra, rb))
        # the report's losses across markets: the correlation of the per-path bad debt, computed here too
        import subprocess
        import sys
        q = subprocess.run([sys.executable, os.path.join(SRC, "analysis", "report.py"), out, "--no-plots"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertEqual(q.returncode, 0, q.stderr)
        line = next(ln for ln in q.stdout.split("\n") if ln.strip().startswith("BTC ~ ETH:"))
        got = float(line.split("liquidated_notional")[1].split()[0])
        want = np.corrcoef(a["liquidated_notional"], b["liquidated_notional"])[0, 1]
        self.assertAlmostEqual(got, want, places=3)

    def test_first_asset_is_the_single_asset_scenario(self):
        # BTC's book: the file of the same scenario written for one asset with BTC's parameters
        with open(WORLD) as f:
            text = f.read()
        single = text.split("\nmarket:\n")[0] + """
market:
  initial_price: 121662.41
  regimes:
    - {name: calm, mean_duration: 5d, vol: 0.33, drift: 0.3}
    - name: stress
      mean_duration: 6h
      vol: 1.07
      drift: -2
      jumps: {rate: 4/d, mean: -0.04, sd: 0.03}
  start_regime: stationary
  impact: {model: sqrt, depth: 5e7, half_life: 10m}
""" + "book:" + text.split("\nbook:", 1)[1]
        s = self.path("single.yaml")
        with open(s, "w") as f:
            f.write(single)
        o1, o2 = self.path("w.h5"), self.path("s.h5")
        for scen, out in ((WORLD, o1), (s, o2)):
            p = run("run", scen, "-n", "20", "-o", out, "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(o1) as f, h5py.File(o2) as g:
            for name in ("paths/summary", "liquidations", "stats/summary"):
                if name in f:
                    self.assertEqual(f[name][:].tobytes(), g[name][:].tobytes(), name)

    def test_each_asset_its_own_feed(self):
        # two assets alike, perfectly correlated: the same exogenous path (to rounding); each book's oracle
        # draws its own latencies (the same draws before: the same file twice), and each its own impact
        y = self.path("twins.yaml")
        with open(y, "w") as f:
            f.write("""seed: 2
paths: 20
horizon: 6h
market:
  assets:
    - {name: A, initial_price: 100, impact: {model: none}}
    - {name: B, initial_price: 100, impact: {model: sqrt, depth: 1e6, half_life: 10m}}
  regimes:
    - {name: a, assets: [{vol: 1.5, drift: -3}, {vol: 1.5, drift: -3}], correlation: [[1, 1], [1, 1]]}
book: {accounts: 300}
oracle: {kind: push, deviation: 0.005, heartbeat: 1h, latency: {dist: exponential, mean: 30s}}
stats: {counterfactual: false}
""")
        out = self.path("twins.h5")
        p = run("run", y, "--compare", "market.trade=A,B", "-o", out, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out) as f:
            a, b = f["models/A/paths/summary"][:], f["models/B/paths/summary"][:]
        np.testing.assert_allclose(a["min_price"], b["min_price"], rtol=1e-9)
        np.testing.assert_allclose(a["final_price"], b["final_price"], rtol=1e-9)
        self.assertTrue(np.all(a["max_impact"] == 0) and np.any(b["max_impact"] > 0))
        self.assertFalse(np.array_equal(a["min_mark"], b["min_mark"]))
        # B's book without impact: only the oracle's draws differ
        q = run("run", y, "--set", "market.trade=B", "--set", "market.assets[1].impact.model=none", "-o",
                self.path("b.h5"), "-q")
        self.assertEqual(q.returncode, 0, q.stderr)
        with h5py.File(self.path("b.h5")) as f:
            c = f["paths/summary"][:]
        np.testing.assert_allclose(a["min_price"], c["min_price"], rtol=1e-9)
        self.assertFalse(np.array_equal(a["first_liquidation_time"], c["first_liquidation_time"]))
        # an asset's own impact wins over market.impact: B's book is the same with another market.impact
        r = run("run", y, "--set", "market.trade=B", "--set", "market.impact={model: linear, depth: 1e3}", "-o",
                self.path("b2.h5"), "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        q2 = run("run", y, "--set", "market.trade=B", "-o", self.path("b3.h5"), "-q")
        self.assertEqual(q2.returncode, 0, q2.stderr)
        with h5py.File(self.path("b2.h5")) as f, h5py.File(self.path("b3.h5")) as g:
            self.assertEqual(f["paths/summary"][:].tobytes(), g["paths/summary"][:].tobytes())

    def test_inherited_impact_and_oracle_load_back(self):
        # assets without their own impact and oracle take the scenario's, and the resolved configuration says
        # so: it loads back (it once failed to), and the scenario trades either asset
        y = self.path("inh.yaml")
        with open(y, "w") as f:
            f.write("""market:
  assets: [{name: A, initial_price: 10}, {name: B, initial_price: 20}]
  regimes: [{name: a, assets: [{vol: 0.5}, {vol: 0.9}], correlation: [[1, 0.5], [0.5, 1]]}]
  impact: {model: linear, depth: 3e6, half_life: 5m}
oracle: {kind: pull, interval: 2s, latency: 1s}
""")
        p = run("validate", y)
        self.assertEqual(p.returncode, 0, p.stderr)
        v = self.path("v.yaml")
        with open(v, "w") as f:
            f.write(p.stdout)
        for scen, extra in ((v, []), (y, ["--set", "market.trade=B"])):
            q = run("validate", scen, *extra)
            self.assertEqual(q.returncode, 0, (extra, q.stderr))
            self.assertIn("    depth: 3000000\n", q.stdout)
            self.assertIn("  kind: pull\n", q.stdout)
        # the resolved configuration is its trade's: traded otherwise, its written prices and vols disagree
        q = run("validate", v, "--set", "market.trade=B")
        self.assertEqual(q.returncode, 2)
        self.assertIn("market.initial_price: is 10, but the traded asset B starts at 20", q.stderr)

    def test_history_of_two_assets(self):
        # 2025-10-10 for BTC and ETH together: each book touches its own asset's real low, the ETH book
        # with noise of its own inside the hours
        h = os.path.join(SRC, "scenarios", "history", "2025-10-tariff-crash-btc-eth.yaml")
        out = self.path("h.h5")
        p = run("run", h, "-n", "8", "--set", "assertions=[]", "--compare", "market.trade=BTC,ETH", "-o", out, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(out) as f:
            a, b = f["models/BTC/paths/summary"][:], f["models/ETH/paths/summary"][:]
        np.testing.assert_allclose(a["min_price"], 102000, rtol=1e-12)
        np.testing.assert_allclose(b["min_price"], 3435, rtol=1e-12)
        np.testing.assert_allclose(b["final_price"], 3746.79, rtol=1e-12)
        # the histories must overlap: ETH's candles of 2022-11 do not hold 2025-10-10
        q = run("run", h, "-o", self.path("x.h5"), "--set",
                "market.assets[1].file=../data/eth_usdt_1h_2022-11_binance_spot.csv")
        self.assertEqual(q.returncode, 2, q.stderr)
        self.assertIn("market.assets[1].file", q.stderr)
        self.assertIn("does not hold the window 2025-10-10T00:00:00Z to 2025-10-12T00:00:00Z", q.stderr)
        self.assertFalse(os.path.exists(self.path("x.h5")))

    def test_replayed_assets_keep_their_own_noise_in_a_comparison(self):
        # two assets on the same candles: the comparison's second cell is the standalone run of its asset
        # (the cells once shared the first's tape, noise and all)
        data = os.path.join(SRC, "scenarios", "data", "btc_usdt_1h_2025-10_binance_spot.csv")
        y = self.path("r.yaml")
        with open(y, "w") as f:
            f.write(f"""seed: 3
paths: 4
horizon: 6h
market:
  model: replay
  replay: {{from: 2025-10-10T18:00:00Z, to: 2025-10-11T00:00:00Z, rescale: false}}
  assets: [{{name: X, file: {data}}}, {{name: Y, file: {data}}}]
  impact: {{model: sqrt, depth: 1e7, half_life: 10m}}
book: {{accounts: 500}}
stats: {{counterfactual: false}}
""")
        out, one = self.path("c.h5"), self.path("y.h5")
        p = run("run", y, "--compare", "market.trade=X,Y", "-o", out, "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        q = run("run", y, "--set", "market.trade=Y", "-o", one, "-q")
        self.assertEqual(q.returncode, 0, q.stderr)
        with h5py.File(out) as f, h5py.File(one) as g:
            self.assertEqual(f["models/Y/paths/summary"][:].tobytes(), g["paths/summary"][:].tobytes())
            self.assertNotEqual(f["models/X/paths/summary"]["min_mark"].tobytes(),
                                f["models/Y/paths/summary"]["min_mark"].tobytes())

    def test_resolved_configuration_loads_back(self):
        p = run("validate", WORLD, "--set", "market.trade=ETH")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("  initial_price: 4368.09\n", p.stdout)
        self.assertIn("      vol: 0.45\n", p.stdout)  # the calm regime's vol is ETH's
        back = self.path("back.yaml")
        with open(back, "w") as f:
            f.write(p.stdout)
        q = run("validate", back)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertEqual(q.stdout.split("\n")[1:], p.stdout.split("\n")[1:])

    def test_bad_input(self):
        out = self.path("bad.h5")
        for sets, msg in ((["--set", "market.trade=SOL"], "market.trade: must be one of market.assets: BTC, ETH"),
                          (["--set", "market.regimes[0].correlation=[[1, 0.8], [0.7, 1]]"], "must be symmetric"),
                          (["--set", "market.regimes[1].correlation=[[1, 1.5], [1.5, 1]]"], "correlation")):
            p = run("run", WORLD, "-o", out, *sets)
            self.assertEqual(p.returncode, 2, (sets, p.stderr))
            self.assertIn(msg, p.stderr)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
