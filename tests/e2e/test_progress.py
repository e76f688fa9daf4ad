"""The progress line: paths done, paths/s and ETA, moving as paths finish (not once
per output.chunk_paths batch), on stderr when it is a terminal and only then."""
import os
import pty
import re
import subprocess
import unittest

from e2e import BIN, SRC, DirTest

QUICK = os.path.join(SRC, "scenarios", "quickstart.yaml")
N = 400


class ProgressTest(DirTest):
    def run_on_tty(self, n):
        """stderr on a terminal (the bar is drawn only there); one batch of all paths."""
        master, slave = pty.openpty()
        p = subprocess.Popen([BIN, "run", QUICK, "-n", str(n), "-j", "1", "-o", self.path("q.h5"),
                              "--set", "output.chunk_paths=100000"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:
                break
            if not b:
                break
            chunks.append(b)
        os.close(master)
        self.assertEqual(p.wait(), 0)
        return b"".join(chunks).decode()

    def test_bar_moves_within_one_batch(self):
        out = self.run_on_tty(N)
        counts = [int(m) for m in re.findall(r"\] (\d+)/%d paths" % N, out)]
        self.assertIn(N, counts)
        inside = [c for c in counts if 0 < c < N]
        self.assertGreater(len(inside), 1, "the bar did not move before the batch ended: %r" % counts)
        self.assertEqual(counts, sorted(counts))

    def test_line_has_rate_eta_and_the_end(self):
        out = self.run_on_tty(N)
        lines = [s for s in re.split(r"[\r\n]", out) if "paths" in s]
        moving = [s for s in lines if not s.startswith("[" + "#" * 30)]
        self.assertTrue(moving, out)
        for s in moving:  # every line drawn before the end: done/total, paths/s, ETA
            self.assertRegex(s, r"^\[[#.]{30}\] \d+/%d paths  (\d+\.\d|--) paths/s  ETA (\d+s|\d+m\d\ds|--)" % N)
        # a rate and an ETA measured, not only placeholders
        self.assertTrue(any(re.search(r"\d paths/s  ETA \d", s) for s in moving), moving)
        # the last line: the whole time, and that the statistics come next
        self.assertRegex(lines[-1], r"^\[#{30}\] %d/%d paths  \d+\.\d paths/s  in \d+s; statistics\.\.\.$" % (N, N))
        self.assertTrue(out.endswith("statistics...\r\n") or out.endswith("statistics...\n"), repr(out[-80:]))

    def test_no_bar_off_a_terminal(self):
        p = subprocess.run([BIN, "run", QUICK, "-n", "50", "-j", "1", "-o", self.path("q.h5")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 0)
        self.assertNotIn(b"paths/s", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
