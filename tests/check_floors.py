#!/usr/bin/env python3
"""check_floors — no #include runs up a floor (docs/architecture.md).

The floors, the module of every file and the narrower per-module rules are
read from the tables of docs/architecture.md, so the doc and the check cannot
disagree. Fails (exit 1), listing file:line, when:
  - a file under sim/ or include/marginsim/ is in no module of the table,
    or a table row names a file that does not exist;
  - an #include "..." does not resolve to a file of the tree;
  - a file includes a module of a higher floor;
  - a file includes a module its row in "May not include" forbids;
  - a public header (include/marginsim/) includes a private one (sim/);
  - the includes between modules form a cycle.
Usage: check_floors.py [REPO_ROOT]   (default: the parent of tests/)
Stdlib only.
"""
import os
import re
import sys

# Known exceptions: (including file, included file) -> reason. Keep in step
# with "Known exceptions" in docs/architecture.md.
ALLOWED = {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SCANNED = ("sim", "include/marginsim")


# Headers the build generates (CMakeLists.txt), which belong to no module: the build's identity.
GENERATED = {"ms_build_id.h"}

def tables(text):
    """Markdown tables as lists of rows (lists of stripped cells), header first."""
    out, cur = [], []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            cells = [c.strip() for c in s[1:-1].split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            cur.append(cells)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def find(tabs, header):
    for t in tabs:
        if [h.lower() for h in t[0]] == header:
            return t[1:]
    sys.exit("check_floors: docs/architecture.md has no table %s" % header)


def load(root):
    with open(os.path.join(root, "docs", "architecture.md"), encoding="utf-8") as f:
        tabs = tables(f.read())
    floors = {name: int(num) for num, name, _ in find(tabs, ["floor", "name", "what lives there"])}
    module_floor, file_module, errors = {}, {}, []
    for mod, floor, _, files in find(tabs, ["module", "floor", "purpose", "files"]):
        if floor not in floors:
            errors.append("docs/architecture.md: module %s: unknown floor %r" % (mod, floor))
            continue
        module_floor[mod] = floors[floor]
        for path in re.findall(r"`([^`]+)`", files):
            if path in file_module:
                errors.append("docs/architecture.md: %s listed in %s and %s" % (path, file_module[path], mod))
            file_module[path] = mod
            if not os.path.isfile(os.path.join(root, path)):
                errors.append("docs/architecture.md: module %s lists %s, which does not exist" % (mod, path))
    forbidden = {}
    for mod, banned, _ in find(tabs, ["module", "may not include", "why"]):
        names = {b.strip() for b in banned.split(",") if b.strip()}
        for n in names | {mod}:
            if n not in module_floor:
                errors.append("docs/architecture.md: narrower rule names unknown module %s" % n)
        forbidden[mod] = names
    return floors, module_floor, file_module, forbidden, errors


def resolve(root, src, name):
    """Where the compiler finds "name": beside the file, then the include dirs."""
    for base in (os.path.dirname(src), "include", "sim"):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def cycle(edges):
    """One cycle in the module graph, or None."""
    state = {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m, stack)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            c = visit(n, [])
            if c:
                return c
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    floors, module_floor, file_module, forbidden, errors = load(root)
    names = {v: k for k, v in floors.items()}
    files = sorted(
        os.path.relpath(os.path.join(dirpath, f), root)
        for d in SCANNED
        for dirpath, _, names in os.walk(os.path.join(root, d))
        for f in names
        if f.endswith((".c", ".h"))
    )
    edges, checked = {}, 0
    for path in files:
        mod = file_module.get(path)
        if mod is None:
            errors.append("%s: in no module of docs/architecture.md's module table" % path)
            continue
        with open(os.path.join(root, path), encoding="utf-8") as f:
            lines = f.readlines()
        for no, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            checked += 1
            where = "%s:%d" % (path, no)
            if m.group(1) in GENERATED:
                continue
            target = resolve(root, path, m.group(1))
            if target is None:
                errors.append('%s: #include "%s" is no file of sim/ or include/' % (where, m.group(1)))
                continue
            tmod = file_module.get(target)
            if tmod is None:
                errors.append("%s: includes %s, which is in no module" % (where, target))
                continue
            reason = ALLOWED.get((path, target))
            if reason is not None:
                continue
            f_from, f_to = module_floor[mod], module_floor[tmod]
            if f_to > f_from:
                errors.append(
                    "%s: %s (floor %d %s) includes %s (floor %d %s): up a floor"
                    % (where, mod, f_from, names[f_from], tmod, f_to, names[f_to])
                )
            if tmod in forbidden.get(mod, ()):
                errors.append("%s: %s may not include %s (docs/architecture.md, narrower rules)" % (where, mod, tmod))
            if path.startswith("include/") and not target.startswith("include/"):
                errors.append("%s: public header includes private %s" % (where, target))
            if tmod != mod:
                edges.setdefault(mod, set()).add(tmod)
    c = cycle(edges)
    if c:
        errors.append("include cycle between modules: %s" % " -> ".join(c))
    for (src, dst), reason in sorted(ALLOWED.items()):
        print("allowed: %s includes %s: %s" % (src, dst, reason))
    if errors:
        for e in errors:
            print(e)
        print("check_floors: %d violation(s)" % len(errors))
        return 1
    print("check_floors: %d files, %d includes, %d modules on %d floors: no include runs up a floor"
          % (len(files), checked, len(module_floor), len(floors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
