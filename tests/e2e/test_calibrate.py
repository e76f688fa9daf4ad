"""End-to-end tests of `marginsim calibrate` (docs/calibration.md).

Run by ctest (label e2e) with MARGINSIM set to the built binary and
MS_SOURCE_DIR to the source tree. Each test provokes one behaviour a user
relies on: the YAML written with -o pastes into a scenario that
`marginsim validate` accepts, the summary and the regime path, the same
bytes on a second run, and bad input refused with exit 2, a message naming
the file or option, and no output file.
"""
import csv
import os
import subprocess
import sys
import unittest

from e2e import SRC, DirTest, run

DAILY = os.path.join(SRC, "scenarios", "data", "btc_usdt_1d_2017-2026_binance_spot.csv")
HOURLY = os.path.join(SRC, "scenarios", "data", "eth_usdt_1h_2025-10_binance_spot.csv")

SCENARIO_HEAD = "name: calibrated\nseed: 3\npaths: 5\nhorizon: 1d\nstep: 1m\n"


class CalibrateTest(DirTest):
    PREFIX = "ms_calibrate_"

    def test_two_regimes_paste_into_a_scenario(self):
        out, path = self.path("market.yaml"), self.path("regimes.csv")
        p = run("calibrate", DAILY, "--model", "regime_switching", "--regimes", "2", "-o", out,
                "--regime-path", path, "--from", "2019-01-01", "--to", "2025-01-01")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            yaml = f.read()
        # stdout: the summary, then the same YAML
        self.assertIn("log-likelihood", p.stdout)
        self.assertIn("AIC", p.stdout)
        self.assertIn("BIC", p.stdout)
        self.assertIn("+/-", p.stdout)
        self.assertTrue(p.stdout.endswith(yaml), p.stdout[-500:])
        self.assertTrue(yaml.startswith("# marginsim calibrate: " + DAILY + "\n"), yaml)
        self.assertIn("# window 2019-01-01T00:00:00Z to 2025-01-01T00:00:00Z, resolution 1d, 2191 returns", yaml)
        self.assertIn("market:\n  model: regime_switching\n", yaml)
        self.assertEqual(yaml.count("mean_duration:"), 2)
        scen = self.path("s.yaml")
        with open(scen, "w") as f:
            f.write(SCENARIO_HEAD + yaml)
        v = run("validate", scen)
        self.assertEqual(v.returncode, 0, v.stderr + yaml)
        self.assertIn('name: "stress"', v.stdout)
        # the regime path: a row per return, probabilities that sum to one
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 2191)
        self.assertEqual(list(rows[0]), ["time", "return", "regime", "p0", "p1"])
        self.assertEqual(rows[0]["time"], "2019-01-02T00:00:00Z")  # the close of 2019-01-01 is the base
        for r in rows[::97]:
            self.assertAlmostEqual(float(r["p0"]) + float(r["p1"]), 1.0, places=5)
            self.assertIn(r["regime"], ("0", "1"))
        crash = next(r for r in rows if r["time"] == "2020-03-12T00:00:00Z")
        self.assertLess(float(crash["return"]), -0.4)
        self.assertEqual(crash["regime"], "1")
        self.assertEqual(sorted(os.listdir(self.dir)), ["market.yaml", "regimes.csv", "s.yaml"])

    def _premium_files(self, mu=2e-4, phi=0.85, sd=4e-4, n=3000, seed=4):
        """A perpetual over a random-walk index, hourly, the premium an OU sampled hourly (an exact AR(1))."""
        import random
        rnd = random.Random(seed)
        perp, spot = self.path("perp.csv"), self.path("spot.csv")
        e = sd * (1 - phi * phi) ** 0.5
        x, S = mu, 30000.0
        with open(perp, "w") as fp, open(spot, "w") as fs:
            fp.write("timestamp,open,high,low,close\n")
            fs.write("timestamp,open,high,low,close\n")
            for i in range(n):
                S *= 1 + 0.004 * rnd.gauss(0, 1)
                x = mu + phi * (x - mu) + e * rnd.gauss(0, 1)
                t = 1577836800000 + i * 3600000
                fs.write(f"{t},{S!r},{S!r},{S!r},{S!r}\n")
                P = S * (1 + x)
                fp.write(f"{t},{P!r},{P!r},{P!r},{P!r}\n")
        return perp, spot

    def test_premium_pastes_into_a_funding_section(self):
        perp, spot = self._premium_files()
        out = self.path("funding.yaml")
        for _ in range(2):  # the second replaces the first's output (its own: the review of 2026-12-07)
            p = run("calibrate", perp, "--model", "premium", "--index", spot, "-o", out)
            self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            yaml = f.read()
        self.assertTrue(p.stdout.endswith(yaml))
        self.assertIn("2999 consecutive pairs", p.stdout)
        scen = self.path("s.yaml")
        with open(scen, "w") as f:
            f.write(SCENARIO_HEAD + yaml.replace("funding:\n", "funding:\n  enabled: true\n"))
        v = run("validate", scen)
        self.assertEqual(v.returncode, 0, v.stderr + yaml)
        got = {}
        for line in v.stdout.split("funding:", 1)[1].split("\n"):
            k, _, val = line.strip().partition(": ")
            if k in ("mean", "sd", "half_life") and k not in got:
                got[k] = val
        # the truth within a few standard errors (3000 hours: mean 2e-4 +/- 3e-5, sd 4e-4 +/- 7e-6)
        self.assertLess(abs(float(got["mean"]) - 2e-4), 1e-4, got)
        self.assertLess(abs(float(got["sd"]) - 4e-4), 4e-5, got)
        self.assertTrue(got["half_life"].endswith("s"), got)
        # -o with the price models' options, or without --index: exit 2 and nothing written
        for extra, msg in ((["--regimes", "2"], "--regimes is an option of the price models"),
                           (["--index", spot, "--resolution", "1d"], "--resolution is an option of the price models")):
            q = run("calibrate", perp, "--model", "premium", *extra, "-o", self.path("x.yaml"))
            self.assertEqual(q.returncode, 2, q.stderr)
            self.assertIn(msg, q.stderr)
        q = run("calibrate", perp, "--model", "premium", "-o", self.path("x.yaml"))
        self.assertEqual(q.returncode, 2)
        self.assertIn("--model premium needs --index", q.stderr)
        q = run("calibrate", perp, "--model", "garch", "--index", spot)
        self.assertEqual(q.returncode, 2)
        self.assertIn("--index is an option of --model premium", q.stderr)
        q = run("calibrate", perp, "--model", "premium", "--index", DAILY)
        self.assertEqual(q.returncode, 2)
        self.assertIn("the same resolution", q.stderr)
        self.assertFalse(os.path.exists(self.path("x.yaml")))

    def test_same_bytes_twice(self):
        a, b = self.path("a.yaml"), self.path("b.yaml")
        for out in (a, b):
            p = run("calibrate", DAILY, "--model", "regime_switching", "--regimes", "3", "--starts", "4",
                    "--seed", "9", "-o", out)
            self.assertEqual(p.returncode, 0, p.stderr)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read().replace(b"a.yaml", b""), fb.read().replace(b"b.yaml", b""))
        scen = self.path("s.yaml")
        with open(a) as f, open(scen, "w") as g:
            g.write(SCENARIO_HEAD + f.read())
        v = run("validate", scen)
        self.assertEqual(v.returncode, 0, v.stderr)

    def test_a_rerun_replaces_its_own_outputs(self):
        # one regime: the regime path's header ends at p0; both outputs replaced by a second run, and a file
        # calibrate did not write is refused (docs/robustness.md)
        args = [DAILY, "--model", "regime_switching", "--regimes", "1", "--from", "2019-01-01", "--to", "2025-01-01",
                "-o", self.path("r1.yaml"), "--regime-path", self.path("r1.csv")]
        for _ in range(2):
            p = run("calibrate", *args)
            self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.path("r1.csv")) as f:
            self.assertEqual(f.readline(), "time,return,regime,p0\n")
        with open(self.path("r1.csv"), "w") as f:
            f.write("my,own,notes\n")
        p = run("calibrate", *args)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("exists and is not a regime path of marginsim calibrate", p.stderr)

    def test_garch_and_resampling(self):
        # hourly candles taken every 2nd close: 2h returns
        p = run("calibrate", HOURLY, "--model", "garch", "--resolution", "2h")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("resolution 2h, 71 returns", p.stdout)
        self.assertIn("  garch: {resolution: 2h, omega: ", p.stdout)
        p = run("calibrate", HOURLY, "--model", "garch", "--dist", "t")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("GARCH(1,1), Student t innovations", p.stdout)
        self.assertIn("innovations: t, nu: ", p.stdout)
        # Student t on those 71 returns runs to nu = 2 (infinite variance), omega 5e10: printed as ready to paste
        # until 2026-12-07, which the loader refused; now refused here, nothing printed
        p = run("calibrate", HOURLY, "--model", "garch", "--dist", "t", "--resolution", "2h")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("market.garch.omega: must be > 0 and <= 1", p.stderr)
        self.assertIn("a fit on its bounds", p.stderr)
        self.assertEqual(p.stdout, "")

    def expect_bad(self, args, *want, out="never.yaml"):
        o = self.path(out)
        p = run("calibrate", *args, "-o", o)
        self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
        for w in want:
            self.assertIn(w, p.stderr, args)
        self.assertNotIn("Traceback", p.stderr)
        self.assertEqual(p.stdout, "", args)
        self.assertFalse(os.path.exists(o), args)
        self.assertEqual(os.listdir(self.dir), [], args)

    def test_bad_input(self):
        missing = self.path("missing.csv")
        self.expect_bad([missing, "--model", "garch"], missing, "cannot open")
        self.expect_bad([DAILY, "--model", "heston"], "--model", "heston", "regime_switching, garch or premium")
        self.expect_bad([DAILY], "--model: missing")
        self.expect_bad([DAILY, "--model", "regime_switching", "--regimes", "0"], "--regimes", "1 to 6")
        self.expect_bad([DAILY, "--model", "regime_switching", "--regimes", "7"], "--regimes")
        self.expect_bad([DAILY, "--model", "regime_switching", "--from", "2024-01-01", "--to", "2023-01-01"],
                        "--from 2024-01-01 is not before --to 2023-01-01")
        self.expect_bad([DAILY, "--model", "regime_switching", "--from", "2024-01-01", "--to", "2024-02-15"],
                        DAILY, "44 returns at 1d in the window: at least 50")
        self.expect_bad([DAILY, "--model", "regime_switching", "--from", "yesterday"], "--from", "ISO 8601")
        self.expect_bad([DAILY, "--model", "garch", "--regimes", "2"], "--regimes is an option of --model "
                                                                        "regime_switching")
        self.expect_bad([DAILY, "--model", "regime_switching", "--dist", "t"], "--dist is an option of --model garch")
        self.expect_bad([DAILY, "--model", "garch", "--dist", "cauchy"], "--dist", "normal or t")
        self.expect_bad([DAILY, "--model", "garch", "--resolution", "36h"], "--resolution 36h", "not a whole multiple")
        self.expect_bad([DAILY, "--model", "garch", "--days-per-year", "-1"], "--days-per-year")
        self.expect_bad([DAILY, "--model", "regime_switching", "--starts", "0"], "--starts")
        self.expect_bad([DAILY, "--model", "regime_switching", "--bogus"], "unknown option --bogus")
        # -o and --regime-path naming one file however spelled: the CSV would replace the YAML
        self.expect_bad([DAILY, "--model", "regime_switching", "--regime-path",
                         os.path.join(self.dir, ".", "never.yaml")], "-o and --regime-path name the same file")
        # a gap in the window is named (a file with one hour missing)
        gap = self.path("gap.csv")
        with open(HOURLY) as f:
            lines = f.read().splitlines(True)
        with open(gap, "w") as f:
            f.writelines(lines[:60] + lines[61:])
        p = run("calibrate", gap, "--model", "garch", "-o", self.path("never.yaml"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(gap + ": no candle at 2025-10-10T11:00:00Z, inside the window", p.stderr)
        self.assertFalse(os.path.exists(self.path("never.yaml")))
        # the input is never an output
        p = run("calibrate", gap, "--model", "garch", "--from", "2025-10-10T12:00:00Z", "-o", gap)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("that is the input file", p.stderr)
        # input audit 2026-12-07: one stray price (a low and close of 1e-300) gave a drift of 3e7 printed as
        # ready to paste, which the loader then refused: the fit must load as a scenario, else exit 2, nothing
        # printed or written
        i = 30
        cols = lines[i].rstrip("\n").split(",")
        cols[3] = cols[4] = "1e-300"
        tiny = self.path("tiny.csv")
        with open(tiny, "w") as f:
            f.writelines(lines[:i] + [",".join(cols) + "\n"] + lines[i + 1:])
        p = run("calibrate", tiny, "--model", "garch", "-o", self.path("never.yaml"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("the fit is no valid scenario (the fitted section:", p.stderr)
        self.assertIn("market.garch.", p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertFalse(os.path.exists(self.path("never.yaml")))
        # -o in a folder that does not exist: refused before anything is fitted or printed
        p = run("calibrate", DAILY, "--model", "garch", "-o", self.path("no/such/dir/m.yaml"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("-o/--output", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_python_caller(self):
        # analysis/calibrate.py runs marginsim calibrate ($MARGINSIM) with the model defaulted, and needs no
        # module beyond the standard library (-S: no site-packages)
        script = os.path.join(SRC, "analysis", "calibrate.py")
        p = subprocess.run([sys.executable, "-S", script, DAILY, "--starts", "3"], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        q = run("calibrate", DAILY, "--starts", "3", "--model", "regime_switching")
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertEqual(p.stdout, q.stdout)
        p = subprocess.run([sys.executable, "-S", script, DAILY, "--model", "heston"], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--model", p.stderr)

    def test_help(self):
        p = run("calibrate", "--help")
        self.assertEqual(p.returncode, 0)
        for opt in ("--model", "--regimes", "--from", "--to", "--resolution", "--starts", "--seed", "--dist",
                    "--regime-path", "--days-per-year", "-o"):
            self.assertIn(opt, p.stdout)
        self.assertIn("calibrate", run("--help").stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
