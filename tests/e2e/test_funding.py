"""End-to-end tests of funding payments (the `funding:` section, issue 18).

Run by ctest (label e2e) with MARGINSIM and MS_SOURCE_DIR set. The promises:
the five funding_* columns (and their /stats rows) exist exactly when
funding is on, and the rest of the file keeps its layout; on a still market
every payment has the rate the venue's formula gives by hand and the paying
side pays rate x price x its units; the presets fill the keys a file does not
write, explicit keys and --set win; bad input is exit 2 naming file:line, key
and accepted values, with no file; `check` knows the funding statistics;
`--compare funding.enabled=false,true` pairs the paths, and the thread count
does not change the file. Expected values are computed here from the
documented formulas, not copied from the program.
"""
import math
import os
import re
import unittest

import h5py
import numpy as np

from e2e import DirTest, run

FUNDING_COLS = ["funding_paid", "funding_long_net", "funding_outside", "funding_rate_mean", "funding_rate_min",
                "funding_rate_max"]

# A still market: no volatility, no jumps, no impact, static margin and one
# fixed account size, so that the price is initial_price (or the scripted
# shock's) at every payment and the units never change.
STILL = """\
name: still
seed: 3
paths: 3
horizon: 1d
step: 1m
market:
  initial_price: 2000
  regimes:
    - {name: still, vol: 0}
  impact: {model: none}
book:
  accounts: 40
  collateral: {dist: fixed, value: 1000}
  leverage: {dist: fixed, value: 5}
  long_fraction: 0.6
margin: {model: static}
funding:
  enabled: true
"""

# A crowded long book in a moving market with impact (liquidations both ways).
CROWD = """\
name: crowd
seed: 11
paths: 24
horizon: 1d
step: 10s
market:
  initial_price: 2000
  regimes:
    - {name: calm, vol: 0.6, mean_duration: 6h}
    - {name: stress, vol: 1.5, drift: -2, mean_duration: 1h, jumps: {rate: 6/d, mean: -0.02, sd: 0.02}}
  impact: {model: sqrt, depth: 2e7, half_life: 10m}
book: {accounts: 300, leverage: {dist: uniform, min: 5, max: 25}, long_fraction: 0.7}
margin: {model: static, initial: 0.04, maintenance: 0.02}
keepers: {delay: {dist: lognormal, median: 6s, sigma: 0.8}}
liquidation: {insurance_fund: 2e5}
funding:
  preset: hyperliquid
  premium: {mean: 0.5%, sd: 0.2%, half_life: 4h}
"""

# The presets' documented values (docs/scenario.md, funding; scenario.c's sources).
H = 3600 * 1000
PRESETS = {
    "binance": dict(interval=8 * H, rate_period=8 * H, interest=1e-4, dampener=5e-4, cap=0.004, formula="clamped"),
    "hyperliquid": dict(interval=1 * H, rate_period=8 * H, interest=1e-4, dampener=5e-4, cap=0.04, formula="clamped"),
    "dydx": dict(interval=1 * H, rate_period=8 * H, interest=1e-4, dampener=5e-4, cap=0.015, formula="sum"),
}


def rate_by_hand(p, premium):
    """clamped: P + clamp(I - P, -d, d); sum: P + I; times interval / rate_period; then +-cap when cap > 0."""
    if p["formula"] == "sum":
        r = premium + p["interest"]
    else:
        r = premium + min(max(p["interest"] - premium, -p["dampener"]), p["dampener"])
    r *= p["interval"] / p["rate_period"]
    if p["cap"] > 0:
        r = min(max(r, -p["cap"]), p["cap"])
    return r


def names(f):
    out = []
    f.visit(out.append)
    return sorted(out)


def section(text, name):
    """The keys of one top-level section of `validate`'s YAML, nested sections dotted."""
    lines = text.split("\n")
    i = lines.index(name + ":")
    out, sub = {}, None
    for ln in lines[i + 1:]:
        if not ln.startswith("  "):
            break
        m = re.match(r"^( +)([a-z_]+):\s*(.*)$", ln)
        if len(m.group(1)) == 2:
            sub = m.group(2) if m.group(3) == "" else None
            if sub is None:
                out[m.group(2)] = m.group(3)
        else:
            out[sub + "." + m.group(2)] = m.group(3)
    return out


class FundingTest(DirTest):
    SCENARIO = STILL
    PREFIX = "ms_funding_"

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def run_ok(self, *args):
        p = run(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    # 1. layout
    def test_columns_exist_exactly_when_enabled(self):
        crowd = self.write("crowd.yaml", CROWD)
        on, off, dflt = self.path("on.h5"), self.path("off.h5"), self.path("default.h5")
        self.run_ok("run", crowd, "-o", on, "-q", "--set", "funding.enabled=true")
        self.run_ok("run", crowd, "-o", off, "-q", "--set", "funding.enabled=false")
        # the default is off: no funding key written at all
        self.run_ok("run", self.write("nofund.yaml", CROWD.split("funding:")[0]), "-o", dflt, "-q")
        with h5py.File(on) as a, h5py.File(off) as b, h5py.File(dflt) as c:
            cols_on = list(a["paths/summary"].dtype.names)
            for g in (b, c):
                cols_off = list(g["paths/summary"].dtype.names)
                for col in FUNDING_COLS:
                    self.assertNotIn(col, cols_off)
                # the same columns in the same order, the five inserted before the regimes' times
                self.assertEqual([x for x in cols_on if x not in FUNDING_COLS], cols_off)
                stats_off = [s.decode() for s in g["stats/summary"]["name"]]
                self.assertFalse([s for s in stats_off if s.startswith("funding")], stats_off)
                # the same objects, but the trace's funding rate
                self.assertEqual([n for n in names(a) if n != "timeseries/funding_rate"], names(g))
                self.assertEqual(a["stats/probabilities"][:].dtype, g["stats/probabilities"][:].dtype)
            i = cols_on.index("funding_paid")
            self.assertEqual(cols_on[i:i + len(FUNDING_COLS)], FUNDING_COLS)
            self.assertTrue(cols_on[i + len(FUNDING_COLS)].startswith("time_in_regime_"))
            stats_on = [s.decode() for s in a["stats/summary"]["name"]]
            for col in FUNDING_COLS:
                self.assertIn(col, stats_on)
            s = a["paths/summary"][:]
            self.assertTrue(np.all(s["funding_paid"] > 0))
            # the trace: NaN before the first payment (1 h, hyperliquid), then the latest payment's rate, held
            # to the next one (samples every minute): every rate of the path shows, its extremes those of the row
            ts, tt = a["timeseries/funding_rate"], a["timeseries/time"][()]
            self.assertEqual(ts.attrs["unit"].decode() if isinstance(ts.attrs["unit"], bytes) else ts.attrs["unit"],
                             "fraction")
            for k in range(ts.shape[0]):
                fr = ts[k]
                self.assertTrue(np.all(np.isnan(fr[tt < 3600])) and not np.any(np.isnan(fr[tt >= 3600])), k)
                self.assertEqual(np.nanmax(fr), s["funding_rate_max"][k])
                self.assertEqual(np.nanmin(fr), s["funding_rate_min"][k])
            # mixed signs over a path: the longs' net is at most what was paid
            self.assertTrue(np.all(np.abs(s["funding_long_net"]) <= s["funding_paid"] * (1 + 1e-12)))
            self.assertTrue(np.all(s["funding_rate_min"] <= s["funding_rate_mean"]))
            self.assertTrue(np.all(s["funding_rate_mean"] <= s["funding_rate_max"]))
            row = a["stats/summary"][stats_on.index("funding_paid")]
            self.assertAlmostEqual(row["mean"], s["funding_paid"].mean(), delta=1e-9 * s["funding_paid"].mean())
            # the exogenous paths do not depend on funding (its own random stream)
            np.testing.assert_array_equal(s["final_price"], b["paths/summary"]["final_price"])

    def test_zero_rate_changes_nothing_else(self):
        # premium 0, interest 0, no impact: every rate is exactly 0 and nothing moves
        crowd = self.write("crowd.yaml", CROWD)
        on, off = self.path("on.h5"), self.path("off.h5")
        common = ["-q", "--set", "market.impact.model=none", "--set", "funding.premium={mean: 0, sd: 0}",
                  "--set", "funding.interest=0"]
        self.run_ok("run", crowd, "-o", on, *common, "--set", "funding.enabled=true")
        self.run_ok("run", crowd, "-o", off, *common, "--set", "funding.enabled=false")
        with h5py.File(on) as a, h5py.File(off) as b:
            sa, sb = a["paths/summary"][:], b["paths/summary"][:]
            self.assertTrue(np.all(sa["funding_rate_max"] == 0) and np.all(sa["funding_rate_min"] == 0))
            self.assertTrue(np.all(sa["funding_paid"] == 0))
            self.assertGreater(sb["liquidations"].sum(), 0)
            for col in sb.dtype.names:
                self.assertEqual(sa[col].tobytes(), sb[col].tobytes(), col)

    # 2. closed form on a still market
    def check_still(self, preset, horizon_min, premium, shock=False):
        p = PRESETS[preset]
        out = self.path(f"{preset}_{horizon_min}_{premium}.h5")
        args = ["run", self.scen, "-o", out, "-q", "--set", f"funding.preset={preset}",
                "--set", f"funding.premium.mean={premium}", "--set", f"horizon={horizon_min}m"]
        if shock:
            args += ["--set", "market.shocks=[{at: 30m, move: -10%, over: 0s}]"]
        self.run_ok(*args)
        rate = rate_by_hand(p, premium)
        npay = horizon_min * 60 * 1000 // p["interval"]
        with h5py.File(out) as f:
            s = f["paths/summary"][:]
            book = f["book"][:]
        self.assertTrue(np.all(s["liquidations"] == 0))
        price = s["final_price"][0] if shock else 2000.0
        if not shock:  # exp(log(2000)) may differ from 2000 in the last bit
            np.testing.assert_allclose(s["final_price"], 2000.0, rtol=1e-14)
        units = book["quantity"][book["quantity"] > 0].sum() if rate > 0 else -book["quantity"][book["quantity"] < 0].sum()
        self.assertGreater(units, 0)
        paid = npay * abs(rate) * price * units
        for col in ("funding_rate_mean", "funding_rate_min", "funding_rate_max"):
            for v in s[col]:
                self.assertAlmostEqual(v, rate, delta=1e-12 * abs(rate), msg=(preset, premium, col))
        for v, w in zip(s["funding_paid"], s["funding_long_net"]):
            self.assertAlmostEqual(v, paid, delta=1e-12 * paid, msg=(preset, premium))
            self.assertEqual(w, -v if rate > 0 else v)
        return rate

    def test_still_market_rates_by_hand(self):
        # (preset, horizon in minutes, premium mean): every branch of the formulas
        b = self.check_still("binance", 1440, 0.002)          # clamped at -d: P + d... (0.0015), 3 payments
        self.assertAlmostEqual(b, 0.0015, delta=1e-15)
        self.assertAlmostEqual(self.check_still("binance", 1440, 0.0003), 1e-4, delta=1e-15)  # inside the band: I
        self.assertEqual(self.check_still("binance", 1440, 0.006), 0.004)       # capped
        self.assertLess(self.check_still("binance", 1440, -0.002), 0)           # below I - d: shorts pay
        self.check_still("hyperliquid", 330, 0.001)     # 5 payments: the horizon not a multiple of the interval
        self.assertEqual(self.check_still("hyperliquid", 150, 0.5), 0.04)       # hyperliquid's cap
        self.assertLess(self.check_still("hyperliquid", 330, -0.003), 0)
        self.check_still("dydx", 330, 0.003)                                   # P + I, scaled
        self.assertAlmostEqual(self.check_still("dydx", 60, 0.5), 0.015)      # 600% x (5% - 3%) / 8
        self.assertLess(self.check_still("dydx", 330, -0.01), 0)

    def test_notional_at_the_price_of_the_payment(self):
        # a -10% scripted move before the first payment: mark, oracle and index all 1800 then
        for preset in ("binance", "hyperliquid", "dydx"):
            self.check_still(preset, 480, 0.002, shock=True)

    # 3. presets in validate
    def test_validate_shows_the_presets(self):
        def funding_of(*args):
            p = self.run_ok("validate", *args)
            return section(p.stdout, "funding")
        b = funding_of(self.scen)
        self.assertEqual((b["preset"], b["interval"], b["rate_period"], b["cap"], b["price"], b["formula"]),
                         ("binance", "8h", "8h", "0.004", "mark", "clamped"))
        h = funding_of(self.scen, "--set", "funding.preset=hyperliquid")
        self.assertEqual((h["interval"], h["rate_period"], h["cap"], h["price"], h["formula"], h["sample_every"]),
                         ("1h", "8h", "0.04", "oracle", "clamped", "5s"))
        d = funding_of(self.scen, "--set", "funding.preset=dydx")
        self.assertEqual((d["interval"], d["rate_period"], d["cap"], d["price"], d["formula"], d["sample_every"]),
                         ("1h", "8h", "0.015", "oracle", "sum", "1m"))
        # a key written in the file wins over the preset, and --set over both
        scen = self.write("hl.yaml", STILL + "  preset: hyperliquid\n  cap: 0.01\n  interval: 2h\n")
        h2 = funding_of(scen)
        self.assertEqual((h2["cap"], h2["interval"], h2["price"]), ("0.01", "2h", "oracle"))
        h3 = funding_of(scen, "--set", "funding.cap=0.02", "--set", "funding.price=index")
        self.assertEqual((h3["cap"], h3["interval"], h3["price"]), ("0.02", "2h", "index"))
        # --set of the preset replaces the file's, under the file's explicit keys
        d2 = funding_of(scen, "--set", "funding.preset=dydx")
        self.assertEqual((d2["preset"], d2["formula"], d2["price"], d2["cap"], d2["interval"]),
                         ("dydx", "sum", "oracle", "0.01", "2h"))
        # validate's output loads back to itself
        p = self.run_ok("validate", scen, "--set", "funding.preset=dydx")
        back = self.write("back.yaml", p.stdout)
        self.assertEqual(self.run_ok("validate", back).stdout.split("\n")[1:], p.stdout.split("\n")[1:])

    # 4. bad input
    def test_bad_input_names_the_place(self):
        cases = [
            ("  preset: nope\n", "funding.preset", ["binance", "hyperliquid", "dydx", "nope"]),
            ("  formula: nope\n", "funding.formula", ["clamped", "sum", "nope"]),
            ("  price: nope\n", "funding.price", ["mark", "oracle", "index", "nope"]),
            ("  interval: 1h\n  sample_every: 2h\n", "funding.sample_every", ["1h", "2h"]),
            ("  premium:\n    sd: -1\n", "funding.premium.sd", [">= 0", "-1"]),
            ("  interval: 0s\n", "funding.interval", ["> 0s", "0s"]),
        ]
        for extra, key, words in cases:
            text = STILL + extra
            scen = self.write("bad.yaml", text)
            line = text.split("\n").index(extra.rstrip("\n").split("\n")[-1]) + 1
            for cmd in ("run", "validate"):
                out = self.path("o.h5")
                p = run(cmd, scen, "-o", out, "-q") if cmd == "run" else run(cmd, scen)
                self.assertEqual(p.returncode, 2, (key, p.stderr))
                self.assertRegex(p.stderr, r"bad\.yaml:%d:\d+: %s: " % (line, re.escape(key)), key)
                for w in words:
                    self.assertIn(w, p.stderr, key)
                self.assertEqual(self.listing(), ["bad.yaml", "small.yaml"], key)
        # the same through --set names the --set
        p = run("run", self.scen, "-o", self.path("o.h5"), "-q", "--set", "funding.preset=nope")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--set funding.preset=nope", p.stderr)
        self.assertEqual(self.listing(), ["bad.yaml", "small.yaml"])

    def test_interval_longer_than_horizon_warns(self):
        scen = self.write("long.yaml", STILL + "  interval: 2d\n")
        out = self.path("w.h5")
        p = self.run_ok("run", scen, "-o", out, "-q")
        line = (STILL + "  interval: 2d\n").split("\n").index("  interval: 2d") + 1
        self.assertRegex(p.stderr, r"warning: .*long\.yaml:%d:\d+: funding\.interval: .*2d.*horizon" % line)
        with h5py.File(out) as f:
            s = f["paths/summary"][:]
        self.assertTrue(np.all(s["funding_paid"] == 0))
        self.assertTrue(np.all(np.isnan(s["funding_rate_mean"])))
        # no warning when a payment fits
        p = self.run_ok("run", self.scen, "-o", self.path("w2.h5"), "-q")
        self.assertNotIn("funding", p.stderr)

    # 5. check
    def test_check_knows_funding_statistics(self):
        out = self.path("c.h5")
        p = run("check", self.scen, "-o", out, "-q", "--set", "funding.premium.mean=0.002",
                "--set", "assertions[0]={assert: funding_paid.mean > 0}",
                "--set", "assertions[1]={assert: funding_rate_max.max <= 0.004}")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # a false one fails (1): the statistic is really read
        p = run("check", self.scen, "-o", self.path("c1.h5"), "-q", "--set", "funding.premium.mean=0.002",
                "--set", "assertions[0]={assert: funding_paid.mean < 0}")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        # with funding off the statistic does not exist: bad input, no file
        p = run("check", self.scen, "-o", self.path("c2.h5"), "-q", "--set", "funding.enabled=false",
                "--set", "assertions[0]={assert: funding_paid.mean > 0}")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("'funding_paid.mean' needs funding", p.stderr)
        self.assertFalse(os.path.exists(self.path("c2.h5")))

    # 6. compare and threads
    def test_compare_funding_off_on(self):
        # a crowded long book (premium 0.5%) and a scripted fall: longs pay, then more of them are liquidated
        crowd = self.write("crowd.yaml", CROWD)
        out = self.path("cmp.h5")
        self.run_ok("run", crowd, "-o", out, "-q", "--set", "market.shocks=[{at: 12h, move: -4%, over: 1h}]",
                    "--set", "market.regimes=[{name: calm, vol: 0.2}]", "--compare", "funding.enabled=false,true")
        with h5py.File(out) as f:
            self.assertEqual(sorted(f["models"].keys()), ["false", "true"])
            a, b = f["models/false/paths/summary"][:], f["models/true/paths/summary"][:]
            self.assertNotIn("funding_paid", a.dtype.names)
            self.assertIn("funding_paid", b.dtype.names)
            self.assertTrue(np.all(b["funding_long_net"] < 0))
            np.testing.assert_array_equal(a["final_price"], b["final_price"])
            d = f["compare/differences"][:]
            rows = {r["statistic"].decode(): r for r in d}
            liq = rows["liquidations"]
            x = b["liquidations"].astype(float) - a["liquidations"].astype(float)
            self.assertAlmostEqual(liq["diff"], x.mean(), delta=1e-9)
            self.assertGreater(a["liquidations"].sum(), 0)
            self.assertGreater(liq["diff"], 0)
            self.assertGreater(liq["lo"], 0)
            self.assertTrue(np.all(x >= 0), x)

    def test_thread_count_does_not_change_the_file(self):
        crowd = self.write("crowd.yaml", CROWD)
        outs = []
        for j in ("1", "2"):
            out = self.path(f"j{j}.h5")
            self.run_ok("run", crowd, "-o", out, "-q", "-j", j, "-n", "96", "--set", "funding.enabled=true")
            outs.append(out)
        with h5py.File(outs[0]) as a, h5py.File(outs[1]) as b:
            s = a["paths/summary"][:]
            self.assertGreater(np.ptp(s["funding_rate_mean"]), 0)  # the premium's sd is at work
            for name in ("paths/summary", "stats/summary"):
                self.assertEqual(a[name][:].tobytes(), b[name][:].tobytes(), name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
