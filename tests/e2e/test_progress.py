"""The progress bar moves as paths finish, not once per output.chunk_paths batch."""
import os
import pty
import re
import subprocess
import unittest

from e2e import BIN, SRC, DirTest

QUICK = os.path.join(SRC, "scenarios", "quickstart.yaml")


class ProgressTest(DirTest):
    def test_bar_moves_within_one_batch(self):
        # stderr on a terminal (the bar is drawn only there); one batch of all paths
        master, slave = pty.openpty()
        n = 400
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
        counts = [int(m) for m in re.findall(rb"\] (\d+)/%d paths" % n, b"".join(chunks))]
        self.assertIn(n, counts)
        inside = [c for c in counts if 0 < c < n]
        self.assertGreater(len(inside), 1, "the bar did not move before the batch ended: %r" % counts)
        self.assertEqual(counts, sorted(counts))


if __name__ == "__main__":
    unittest.main(verbosity=2)
