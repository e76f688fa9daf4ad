"""The commands the documentation shows work as shown.

Run by ctest (label e2e) with MARGINSIM set to the built binary and
MS_SOURCE_DIR to the source tree. Every command in a fenced ```sh block of
README.md, docs/*.md and scenarios/**/README.md is either

- a synopsis (it has placeholders: SCENARIO, FILE, KEY=V1,..., [optional]
  parts): every option it shows must be one the tool lists in its --help,
  and for marginsim one the command accepts (`marginsim CMD OPT 1 --help`
  exits 0; an option of another command exits 2);
- a concrete command: run in a temporary folder (outputs such as results/
  land there) with few paths (`-n 20` added or put in place of the shown
  count), exit 0, or 0 or 1 for `check` (both documented outcomes);
- skipped, with the reason printed: installing packages, building, the test
  suite itself, benchmarks (minutes by design).

Input files a command reads but the docs never make (compare.py A.h5 B.h5)
are made first by a small run.
"""
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile
import unittest

from e2e import BIN, SRC

PATHS = "20"
# Commands not run, by their first words, and why.
SKIP = (
    (("bash", "scripts/setup"), "installs system packages"),
    (("cmake",), "builds the project (this test runs on the build)"),
    (("ctest",), "the test suite itself (this test is part of it)"),
    (("bash", "tests/bench/"), "a benchmark: minutes by design (docs/performance.md)"),
    (("scripts/py", "tests/bench/"), "a benchmark: minutes by design (docs/performance.md)"),
    (("scripts/py", "tests/identity/"), "the before/after check needs two builds (test_identity.py runs it)"),
    (("bash", "tests/fuzz/"), "a fuzzing run: minutes by design (docs/robustness.md)"),
    (("./build-fuzz/",), "the fuzzing build: clang and -DMS_FUZZ=ON (docs/robustness.md)"),
    (("./build/tests/fuzz/",), "the regression corpus: ctest -L fuzz runs it"),
    (("export",), "sets the environment of the commands after it (docs/library.md)"),
    (("mpirun",), "needs the MPI build (-DMARGINSIM_MPI=ON): ctest -L mpi runs marginsim under mpirun (docs/scaling.md)"),
    (("cc",), "compiles docs/library.md's program: the library_doc test does, against an installed tree"),
    (("./example",), "runs docs/library.md's program: the library_doc test does"),
)
PLACEHOLDER = re.compile(r"(^|[^A-Za-z])[A-Z][A-Z0-9_]*([^a-z]|$)|\.\.\.")
FLAGS = {"-q", "--quiet", "-h", "--help", "-V", "--version", "--no-plots"}


def doc_files():
    files = [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
    files += sorted(glob.glob(os.path.join(SRC, "scenarios", "**", "README.md"), recursive=True))
    return files


def doc_commands():
    """(file, line number, command words) of every command in a ```sh block, `&&` chains split."""
    out = []
    for path in doc_files():
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        inside, buf, start = False, "", 0
        for i, line in enumerate(lines, 1):
            if line.startswith("```"):
                inside = not inside and line.strip() in ("```sh", "```bash", "```shell")
                continue
            if not inside:
                continue
            if not buf:
                start = i
            if line.rstrip().endswith("\\"):
                buf += line.rstrip()[:-1] + " "
                continue
            buf += line
            words = shlex.split(buf, comments=True)
            buf = ""
            cmd = []
            for w in words + ["&&"]:
                if w == "&&":
                    if cmd:
                        out.append((os.path.relpath(path, SRC), start, cmd))
                    cmd = []
                else:
                    cmd.append(w)
    return out


def skip_reason(words):
    for prefix, why in SKIP:
        if all(w.startswith(p) if p.endswith("/") else w == p for w, p in zip(words, prefix)) \
                and len(words) >= len(prefix):
            return why
    return None


def is_synopsis(words):
    return any(PLACEHOLDER.search(w) for w in words[1:])


def tool(words):
    """(argv prefix of the tool, the rest) with repository paths made absolute."""
    if words[0] in ("marginsim", "./build/marginsim"):
        return [BIN], words[1:]
    if words[0] == "scripts/py" and len(words) > 1:
        return [sys.executable, os.path.join(SRC, words[1])], words[2:]
    raise AssertionError(f"unknown tool {words[0]!r}")


def options_of(words):
    """The options a synopsis shows: -x / --long, with [ ] and =VALUE removed."""
    opts = []
    for w in words:
        w = w.strip("[]")
        if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", w):
            opts.append(w.split("=")[0])
    return opts


class DocsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cmds = doc_commands()
        cls.skipped = []

    @classmethod
    def tearDownClass(cls):
        print("\nnot run (documentation commands):", file=sys.stderr)
        for where, cmd, why in cls.skipped:
            print(f"  {where}: {cmd}\n      {why}", file=sys.stderr)

    def test_found_the_documented_commands(self):
        # guards the extraction itself: these are in README.md and docs/workflows.md
        text = [" ".join(c) for _, _, c in self.cmds]
        for want in ("./build/marginsim run scenarios/quickstart.yaml -o results/quickstart.h5",
                     "scripts/py analysis/compare.py A.h5 B.h5", "marginsim check SCENARIO"):
            self.assertTrue(any(t.startswith(want) for t in text), f"{want!r} not found in {text}")
        self.assertGreater(len(self.cmds), 20)

    def test_synopses_show_only_accepted_options(self):
        for where, line, words in self.cmds:
            if skip_reason(words) or not is_synopsis(words):
                continue
            argv, rest = tool(words)
            sub = [rest[0]] if argv[0] == BIN and rest and not rest[0].startswith("-") else []
            with self.subTest(doc=f"{where}:{line}", cmd=" ".join(words)):
                p = subprocess.run(argv + sub + ["--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
                self.assertEqual(p.returncode, 0, p.stderr)
                for opt in options_of(rest):
                    if opt in ("-h", "--help"):
                        continue
                    self.assertRegex(p.stdout, r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])",
                                     f"{where}:{line}: {opt} is not in `{' '.join(words[:2])} --help`")
                    if argv[0] == BIN and sub:
                        q = subprocess.run(argv + sub + ([opt] if opt in FLAGS else [opt, "1"]) + ["--help"],
                                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
                        self.assertEqual(q.returncode, 0, f"{where}:{line}: marginsim {sub[0]} rejects {opt}: "
                                                          f"{q.stderr}")

    def prepare_inputs(self, argv, rest, cwd):
        """Result files an analysis script reads that the docs do not make: a small run each."""
        if argv[0] == BIN:
            return
        for i, w in enumerate(rest):
            if w.endswith(".h5") and not os.path.exists(os.path.join(cwd, w)):
                p = subprocess.run([BIN, "run", os.path.join(SRC, "scenarios", "quickstart.yaml"), "-q", "-n",
                                    PATHS, "--seed", str(i + 1), "-o", w], cwd=cwd, capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_concrete_commands_run(self):
        ran = 0
        with tempfile.TemporaryDirectory(prefix="ms_docs_") as cwd:
            for where, line, words in self.cmds:
                cmd = " ".join(words)
                why = skip_reason(words)
                if why:
                    self.skipped.append((f"{where}:{line}", cmd, why))
                    continue
                if is_synopsis(words):
                    continue
                argv, rest = tool(words)
                rest = [os.path.join(SRC, w) if re.match(r"(scenarios|analysis|scripts|tests|\.\./shared)/", w) and
                        os.path.exists(os.path.join(SRC, w)) else w for w in rest]
                if argv[0] == BIN and rest and rest[0] in ("run", "sweep", "check"):
                    if "-n" in rest:
                        rest[rest.index("-n") + 1] = PATHS
                    else:
                        rest += ["-n", PATHS]
                self.prepare_inputs(argv, rest, cwd)
                with self.subTest(doc=f"{where}:{line}", cmd=cmd):
                    p = subprocess.run(argv + rest, cwd=cwd, capture_output=True, text=True,
                                       stdin=subprocess.DEVNULL, timeout=120)
                    ok = (0, 1) if argv[0] == BIN and rest and rest[0] == "check" else (0,)
                    self.assertIn(p.returncode, ok, f"{where}:{line}: {cmd}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
                    self.assertNotIn("Traceback", p.stderr)
                    ran += 1
        self.assertGreaterEqual(ran, 10)


GENERATED = re.compile(r"<!-- BEGIN GENERATED: marginsim (.*?) -->\n(.*?)<!-- END GENERATED -->", re.S)


class GeneratedTablesTest(unittest.TestCase):
    """The generated blocks of docs/output.md are what `marginsim schema --output TABLE` prints now."""

    def test_output_tables_are_current(self):
        with open(os.path.join(SRC, "docs", "output.md"), encoding="utf-8") as f:
            blocks = GENERATED.findall(f.read())
        names = [args.split()[-1] for args, _ in blocks]
        for want in ("summary", "liquidations", "cascades", "book", "timeseries", "fan", "compare-models",
                     "assertions"):
            self.assertIn(want, names, f"docs/output.md has no generated {want} table")
        for args, text in blocks:
            with self.subTest(table=args):
                p = subprocess.run([BIN] + shlex.split(args), capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(text, p.stdout, f"docs/output.md: the table of `marginsim {args}` is stale: "
                                                 "run bash scripts/update-docs build")


if __name__ == "__main__":
    unittest.main(verbosity=2)
