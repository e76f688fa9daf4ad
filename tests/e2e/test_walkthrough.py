"""analysis/walkthrough.ipynb, the notebook walk-through of the Python front:
executed headless through nbclient (Debian's python3-nbclient and
python3-ipykernel, which scripts/setup installs), every cell without an
error, and the figures it saves are PNG files. Without nbclient that test
is skipped with a message and the notebook's code cells run as one script
instead (the same code, no kernel), so a broken walk-through fails either way.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

from e2e import BIN, SRC

NOTEBOOK = os.path.join(SRC, "analysis", "walkthrough.ipynb")
FIGURES = {"price_fan.png", "bad_debt.png", "drawdown_and_fund.png", "liquidations.png",
           "heartbeat_differences.png", "heartbeat_1h_bad_debt.png"}


try:
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401
    HAVE_NBCLIENT = True
except ImportError:
    HAVE_NBCLIENT = False


def code_cells(path):
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


class WalkthroughTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ms_walkthrough_")
        self.env = dict(os.environ, MARGINSIM=os.path.abspath(BIN) if os.sep in BIN else BIN,
                        MS_SOURCE_DIR=os.path.abspath(SRC), MS_WALKTHROUGH_OUT=self.tmp.name,
                        PYDEVD_DISABLE_FILE_VALIDATION="1")  # ipykernel's debugger warns of frozen modules

    def tearDown(self):
        self.tmp.cleanup()

    def assert_figures(self):
        pngs = {f for f in os.listdir(self.tmp.name) if f.endswith(".png")}
        self.assertEqual(pngs, FIGURES)
        for name in pngs:
            with open(os.path.join(self.tmp.name, name), "rb") as f:
                head = f.read(8)
            self.assertEqual(head, b"\x89PNG\r\n\x1a\n", name)

    def test_notebook_is_clean(self):
        # stored without outputs, so that a diff shows only what changed in the code
        with open(NOTEBOOK, encoding="utf-8") as f:
            nb = json.load(f)
        self.assertEqual(nb["nbformat"], 4)
        for c in nb["cells"]:
            if c["cell_type"] == "code":
                self.assertEqual((c["outputs"], c["execution_count"]), ([], None), "".join(c["source"])[:60])
        self.assertTrue(any("marginsim.open(" in s for s in code_cells(NOTEBOOK)))
        self.assertTrue(any("--compare" in s for s in code_cells(NOTEBOOK)))

    def test_code_cells_run_as_a_script(self):
        if HAVE_NBCLIENT:
            self.skipTest("the notebook runs through a kernel (test_notebook_executes_headless)")
        script = "\n\n".join(code_cells(NOTEBOOK))
        env = dict(self.env, MPLBACKEND="Agg")
        p = subprocess.run([sys.executable, "-c", script], cwd=os.path.join(SRC, "analysis"), env=env,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertIn("output folder: " + self.tmp.name, p.stdout)
        self.assert_figures()

    def test_notebook_executes_headless(self):
        try:
            import nbclient
            import nbformat
        except ImportError as e:
            self.skipTest(f"skipped: {e.name} is not installed (Debian: python3-nbclient python3-nbformat "
                          f"python3-ipykernel; scripts/setup installs them): the notebook was not executed "
                          f"through a kernel, only its code cells as a script")
        nb = nbformat.read(NOTEBOOK, as_version=4)
        old = dict(os.environ)
        os.environ.update(self.env)  # the kernel inherits this process's environment
        try:
            client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                             resources={"metadata": {"path": os.path.join(SRC, "analysis")}})
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        self.assertEqual(errors, [])
        self.assert_figures()
        # the tables show: the summary's describe() and the compared models render as HTML tables
        html = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "execute_result" and "text/html" in o.get("data", {})]
        self.assertGreaterEqual(len(html), 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
