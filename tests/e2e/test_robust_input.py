"""End-to-end tests of hostile and broken input (issue 14, items 7, 8, 11).

The loader's limits (regular files only, at most 1 MiB, at most 20000 YAML
nodes with every use of an alias counted), the load-time checks of values
that break arithmetic (infinite rates, distributions whose draws leave the
double or int64-millisecond range), strict whole-string parsing of numeric
options, and a `validate` output that reads back for any name. Every
rejection is exit 2, names its place and takes well under a second.
"""
import os
import subprocess
import time
import unittest

from e2e import BIN, DirTest, run

SMALL = """\
name: small
seed: 7
paths: 4
horizon: 1h
step: 1s
book:
  accounts: 50
  leverage: {dist: uniform, min: 2, max: 8}
"""


def alias_bomb():
    """Nine levels of ten aliases: 10^9 nodes once expanded, about 500 bytes."""
    s = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 10):
        s += "a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10))
    return s


def yaml_quoted(text):
    """text as a double-quoted YAML scalar made only of escapes (written by hand, not by marginsim)."""
    return '"' + "".join("\\u%04x" % ord(c) if ord(c) < 0x10000 else "\\U%08x" % ord(c) for c in text) + '"'


class RobustInputTest(DirTest):
    SCENARIO = SMALL

    def reject(self, args, want, limit=1.0):
        """Run, expect exit 2 within @p limit seconds and @p want in stderr; nothing written."""
        before = self.listing()
        t0 = time.monotonic()
        p = run(*args, timeout=30)
        dt = time.monotonic() - t0
        self.assertEqual(p.returncode, 2, (args, p.stderr))
        self.assertIn(want, p.stderr, args)
        self.assertLess(dt, limit, args)
        self.assertEqual(self.listing(), before, args)
        return p

    # ---- item 7: limits of the loader ----

    def test_alias_bomb_rejected_fast_with_place(self):
        bomb = self.path("bomb.yaml")
        with open(bomb, "w") as f:
            f.write(alias_bomb())
        self.reject(["validate", bomb], bomb + ":1:19: a4[")
        self.reject(["run", bomb, "-o", self.path("x.h5")], "more than 20000 YAML nodes")

    def test_many_keys_rejected_fast(self):
        keys = self.path("keys.yaml")
        with open(keys, "w") as f:
            f.writelines("k%d: 1\n" % i for i in range(100000))
        self.reject(["validate", keys], keys + ":10000:8: more than 20000 YAML nodes")

    def test_deep_nesting_rejected_fast(self):
        # libyaml's scanner is quadratic in flow nesting: 400,000 deep (800 KB) ran over ten minutes
        deep = self.path("deep.yaml")
        with open(deep, "w") as f:
            f.write("a: " + "[" * 400000 + "]" * 400000 + "\n")
        self.reject(["validate", deep], deep + ":1:67: nesting deeper than 64 levels")

    def test_non_regular_files_refused(self):
        self.reject(["validate", "/dev/zero"], "/dev/zero: the scenario must be a regular file (this is a character device)")
        self.reject(["validate", self.dir], "the scenario must be a regular file (this is a directory)")
        fifo = self.path("pipe.yaml")
        os.mkfifo(fifo)
        self.reject(["validate", fifo], "pipe.yaml: the scenario must be a regular file (this is a FIFO)")

    def test_file_over_size_limit_refused(self):
        big = self.path("big.yaml")
        with open(big, "w") as f:
            f.write(SMALL + "#" * (1 << 20))
        self.reject(["validate", big], "big.yaml: the scenario file has %d bytes; at most 1048576"
                    % os.path.getsize(big))

    def test_second_document_is_placed(self):
        two = self.path("two.yaml")
        with open(two, "w") as f:
            f.write(SMALL + "---\nseed: 8\n")
        self.reject(["validate", two], two + ":9:1: a second YAML document starts here")

    # ---- item 8: values that break arithmetic ----

    def test_infinite_rate_rejected(self):
        self.reject(["validate", self.scen, "--set", "market.regimes=[{jumps: {rate: 1e308/s}}]"],
                    "market.regimes[0].jumps.rate: too large: events per day must be a finite number")

    def test_collateral_that_draws_zero_is_bad_input_not_an_abort(self):
        # sigma 1000 drew collateral 0: an assertion in the margin code, exit 134, a temporary left
        out = self.path("c.h5")
        for cmd in (["validate", self.scen], ["run", self.scen, "-o", out]):
            self.reject(cmd + ["--set", "book.collateral={dist: lognormal, median: 5000, sigma: 1000}"],
                        "book.collateral: every value drawn must be finite and from 1e-12 to 1e+15")

    def test_lognormal_median_out_of_range_gets_the_right_advice(self):
        # review r14: a median below the smallest allowed amount was told to "lower the median"
        self.reject(["validate", self.scen, "--set", "book.collateral={dist: lognormal, median: 1e-300, sigma: 1}"],
                    "(median x exp(+-12.31 sigma)): raise the median")
        self.reject(["validate", self.scen, "--set", "book.collateral={dist: lognormal, median: 1e300, sigma: 1}"],
                    "(median x exp(+-12.31 sigma)): lower the median")

    def test_latency_and_delay_past_int64_ms_rejected(self):
        for key in ("oracle.latency", "keepers.delay"):
            for sigma in ("20", "1e15"):
                self.reject(["run", self.scen, "-o", self.path("t.h5"), "--set",
                             "%s={dist: lognormal, median: 6s, sigma: %s}" % (key, sigma)],
                            "%s: every value drawn must be finite and at most 9000000000000000ms" % key)

    def test_book_error_in_validate_is_placed(self):
        # initial margin 20% and leverage up to 8: accounts open below it
        p = self.reject(["validate", self.scen, "--set", "margin={model: static, initial: 0.2, maintenance: 0.1}"],
                        self.scen + ":8:3: book.leverage: ")
        self.assertIn("accounts start below initial margin", p.stderr)

    # ---- item 11: strict numbers, a validate output that reads back ----

    def test_numeric_options_parse_the_whole_string(self):
        bad = {"-n": ["2" + " " * 60 + "x", " 2", "+2", "2.0", "1e3", "0x10", "0", "2 ", "1000000001", ""],
               "-j": [" 2", "2x", "+2", "0", "1025", "1.5"],
               "--seed": ["-1", "18446744073709551616", "1e3", " 7", "7 ", "0x7"]}
        names = {"-n": "-n/--paths", "-j": "-j/--threads", "--seed": "--seed"}
        for opt, values in bad.items():
            for v in values:
                self.reject(["validate", self.scen, opt, v], "marginsim: %s: expected a whole number" % names[opt])
        # the value cut at 58 characters ran 2 paths: now nothing runs
        self.reject(["run", self.scen, "-o", self.path("n.h5"), "-n", "2" + " " * 60 + "x"], "-n/--paths")
        p = run("validate", self.scen, "-n", "3", "--seed", "18446744073709551615", "-j", "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("\nseed: 18446744073709551615\n", p.stdout)
        self.assertIn("\npaths: 3\n", p.stdout)

    def test_validate_round_trips_hostile_names(self):
        names = ['a"b', "it's", "k: v", "- x", "#c", "a\nb", "tab\there", "bell\x07", "del\x7f", "ünï €",
                 "\x85nel", "ls\u2028ps\u2029", "bom\ufeff", "\\back", "{[x]}", "*al", "null", "", " lead",
                 "trail ", "\x1b[31mred", "c1\x90", "nc\uffff", "cr\rx", "\U0001f600"]
        for nm in names:
            src = self.path("n.yaml")
            with open(src, "w", encoding="utf-8") as f:
                f.write(SMALL.replace("name: small", "name: " + yaml_quoted(nm)))
            p = subprocess.run([BIN, "validate", src], capture_output=True, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 0, (nm, p.stderr))
            again = self.path("again.yaml")
            with open(again, "wb") as f:
                f.write(p.stdout)
            q = subprocess.run([BIN, "validate", again], capture_output=True, stdin=subprocess.DEVNULL)
            self.assertEqual(q.returncode, 0, (nm, q.stderr))
            body = lambda b: b.split(b"\n", 1)[1]
            self.assertEqual(body(q.stdout), body(p.stdout), nm)
            # the name line, decoded by hand: nothing folded or dropped
            line = [ln for ln in p.stdout.decode("utf-8").split("\n") if ln.startswith("name: ")][0]
            self.assertEqual(decode_yaml_dq(line[len("name: "):]), nm)

    def test_summaries_escape_control_characters_of_the_name(self):
        # run, check and sweep printed the scenario's name raw in their first line: an escape sequence reached
        # the terminal and a line break split the line (a name is free text from a copied file)
        src = self.path("n.yaml")
        with open(src, "w", encoding="utf-8") as f:
            f.write(SMALL.replace("name: small", 'name: "A\\x1b[31mB\\nC\\u00e9\\x7f"'))
        out = self.path("n.h5")
        for args in (["run"], ["check", "--set", "assertions=[bad_debt.mean >= 0]"],
                     ["sweep", "--grid", "liquidation.penalty=0.01,0.02"]):
            p = subprocess.run([BIN, args[0], src, "-o", out, "-n", "2", *args[1:]], capture_output=True,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 0, (args, p.stderr))
            first = p.stdout.decode("utf-8").split("\n")[0]
            self.assertIn("A\\x1b[31mB\\x0aC\u00e9\\x7f", first, args)
            self.assertNotIn(b"\x1b", p.stdout, args)

    def test_validate_comment_survives_a_newline_in_the_file_name(self):
        odd = self.path("odd\nname: 1.yaml")
        with open(odd, "w") as f:
            f.write(SMALL)
        p = run("validate", odd)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("odd\\x0aname: 1.yaml", p.stdout.split("\n")[0])
        again = self.path("again.yaml")
        with open(again, "w") as f:
            f.write(p.stdout)
        self.assertEqual(run("validate", again).returncode, 0)


def decode_yaml_dq(s):
    """Decode the double-quoted YAML scalar s (the escapes marginsim writes)."""
    assert s[0] == '"' and s[-1] == '"', s
    out, i, s = [], 0, s[1:-1]
    simple = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r", "0": "\0"}
    while i < len(s):
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = s[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        else:
            width = {"x": 2, "u": 4, "U": 8}[e]
            out.append(chr(int(s[i + 2:i + 2 + width], 16)))
            i += 2 + width
    return "".join(out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
