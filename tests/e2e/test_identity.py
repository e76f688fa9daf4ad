"""tests/identity/compare_results.py, the before/after check of a refactor:
it runs, calls a binary identical to itself, and catches a difference
(another seed; a NaN with another payload; a dtype; an ignored attribute is ignored;
a field changed by a documented fix is named, not counted); a run added since
the base is skipped when OLD refuses it, any other refused run fails."""
import os
import subprocess
import sys

import h5py
import numpy as np

from e2e import BIN, SRC, DirTest

SCRIPT = os.path.join(SRC, "tests", "identity", "compare_results.py")
TWO = ["--only", "scenarios/quickstart.yaml", "--only", "ci/eth-perp-normal-day", "-n", "20"]


def compare(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)


class IdentityTest(DirTest):
    def test_same_binary_is_identical(self):
        p = compare(BIN, BIN, *TWO)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = [l for l in p.stdout.splitlines() if l.startswith("scenarios/")]
        self.assertEqual(len(rows), 2, p.stdout)
        for r in rows:
            self.assertIn("identical", r)
        self.assertIn("0 different, 0 failed", p.stdout)

    def test_another_seed_differs(self):
        p = compare(BIN, BIN, *TWO, "--new-arg=--seed=2")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("2 different", p.stdout)
        # names the dataset and its first differing element
        self.assertRegex(p.stdout, r"/paths/summary\[\d+\]\.\w+: \S+ != \S+")

    def _pair(self, a, b, attrs_a=None, attrs_b=None, fixed=False):
        fa, fb = self.path("a.h5"), self.path("b.h5")
        for fn, data, attrs in ((fa, a, attrs_a or {}), (fb, b, attrs_b or {})):
            with h5py.File(fn, "w") as f:
                f["x"] = data
                for k, v in attrs.items():
                    f.attrs[k] = v
        return compare("--files", fa, fb, *(["--fixed", "max_impact"] if fixed else []))

    def test_nan_bit_patterns(self):
        nan1 = np.array([0x7FF8000000000000], dtype=np.uint64).view(np.float64)
        nan2 = np.array([0x7FF8000000000001], dtype=np.uint64).view(np.float64)
        base = np.array([1.0, 2.0, 0.0])
        same_a, same_b = base.copy(), base.copy()
        same_a[1] = same_b[1] = nan1[0]
        self.assertEqual(self._pair(same_a, same_b).returncode, 0)  # NaN == the same NaN
        other = base.copy()
        other[1] = nan2[0]
        p = self._pair(same_a, other)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("/x[1]", p.stdout)
        neg0 = base.copy()
        neg0[2] = -0.0  # equal as numbers, not as bits
        p = self._pair(base, neg0)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("/x[2]", p.stdout)

    def test_dtype_and_ignored_attributes(self):
        p = self._pair(np.arange(3, dtype=np.int64), np.arange(3, dtype=np.int32))
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("dtype", p.stdout)
        p = self._pair(np.arange(3), np.arange(3), {"version": "1", "created": "a", "command": "x", "seed": 1},
                       {"version": "2", "created": "b", "command": "y", "seed": 1})
        self.assertEqual(p.returncode, 0, p.stdout)
        p = self._pair(np.arange(3), np.arange(3), {"seed": 1}, {"seed": 2})
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("/@seed", p.stdout)

    def test_documented_fixes_are_named_not_counted(self):
        # with --fixed max_impact (a documented fix) that field may differ, as a
        # column and as a statistic's row; without it, or for any other field,
        # a difference counts; an unknown --fixed name is refused
        dt = np.dtype([("path", "<i8"), ("max_impact", "<f8"), ("bad_debt", "<f8")])
        a = np.array([(0, 0.5, 1.0), (1, 2.0, 3.0)], dtype=dt)
        b = a.copy()
        b["max_impact"] = [0.4, 0.9]
        p = self._pair(a, b)  # not asked for: a difference
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("/x[0].max_impact", p.stdout)
        p = self._pair(a, b, fixed=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("documented fixes: max_impact", p.stdout)
        b["bad_debt"][1] = 3.5
        p = self._pair(a, b, fixed=True)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("/x[1].bad_debt", p.stdout)
        self.assertEqual(compare("--files", self.path("a.h5"), self.path("b.h5"), "--fixed", "bad_debt").returncode, 2)
        st = np.dtype([("name", "S16"), ("mean", "<f8")])
        sa = np.array([(b"max_impact", 1.0), (b"bad_debt", 2.0)], dtype=st)
        sb = sa.copy()
        sb["mean"][0] = 0.5
        self.assertEqual(self._pair(sa, sb).returncode, 1)
        self.assertEqual(self._pair(sa, sb, fixed=True).returncode, 0)
        sb["mean"][1] = 2.5
        self.assertEqual(self._pair(sa, sb, fixed=True).returncode, 1)

    def test_added_scenarios_are_skipped_only_when_old_refuses_them(self):
        # an OLD that refuses book.markets as bad input (exit 2), as a base older than it does: the run added
        # with it is skipped, not failed; an OLD refusing a scenario of the base's own is a failure
        old = self.path("old.sh")
        for refused, code, want in (("markets", 0, "0 failed, 1 skipped"), ("quickstart", 2, "1 failed, 0 skipped")):
            with open(old, "w") as f:
                f.write('#!/bin/sh\nfor a in "$@"; do case "$a" in *%s*) echo "unknown key" >&2; exit 2;; esac; done\n'
                        'exec "%s" "$@"\n' % (refused, BIN))
            os.chmod(old, 0o755)
            p = compare(old, BIN, "--only", "multi-asset-crash", "--only", "with book.markets", "--only",
                        "scenarios/quickstart.yaml", "-n", "4")
            self.assertEqual(p.returncode, code, p.stdout + p.stderr)
            self.assertIn(want, p.stdout)
            if refused == "markets":
                self.assertRegex(p.stdout, r"with book\.markets\s+skipped")
                self.assertRegex(p.stdout, r"quickstart\.yaml\s+identical")
                self.assertRegex(p.stdout, r"multi-asset-crash\.yaml\s+identical")


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
