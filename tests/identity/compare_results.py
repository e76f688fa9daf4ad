#!/usr/bin/env python3
"""compare_results — are two marginsim binaries bit-identical on every shipped scenario?

A refactor must not change a single result (issue 15). This runs OLD and NEW
on every scenario in scenarios/*.yaml, scenarios/ci/*.yaml and
scenarios/bench/*.yaml with the same small number of paths, plus one
--compare run, one sweep and a book of several markets (a scenario added
since the base is skipped when OLD refuses it as bad input), and compares
the two result files exactly:

  * the same objects (groups and datasets) at the same paths;
  * every dataset: the same dtype, the same shape, byte-identical data
    (compound types field by field, so padding never counts; a NaN equals
    only the same NaN bit pattern);
  * every attribute of every object, except the root attributes that record
    the program and the moment rather than the result: version, created,
    command (written by ms_h5out_create, sim/output/h5out.c);
  * attributes that exist only in NEW are listed but not counted as a
    difference: an added attribute (the model names price_model ...
    keeper_model and shortfall_policy on the root, the unit lines
    `columns` on compound datasets) adds to a result without changing it.
    One only in OLD is a difference;
  * the resolved configuration (attribute config): the same text once the
    lines of keys added since the base, at their defaults (ADDED_CONFIG_KEYS),
    are taken out of both: a new key at its default changes no result;
  * with --fixed FIELD, a field changed on purpose by a documented fix since
    the base (KNOWN_FIXES): its columns and its statistics' rows are left out
    and named apart.

It prints one row per run and exits 1 on any difference, naming the dataset
(or attribute) and its first differing element; 2 when a run fails.

  scripts/py tests/identity/compare_results.py OLD_BINARY NEW_BINARY [--fixed max_impact --fixed option_revaluations --fixed bs_evaluations]
  scripts/py tests/identity/compare_results.py --files A.h5 B.h5

Typical use around a refactor: build the base commit into build-old
(git worktree add /tmp/old BASE && cmake -S /tmp/old -B build-old && cmake
--build build-old), then compare build-old/marginsim with build/marginsim.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import numpy.lib.recfunctions as rfn

# Root attributes that record the version, the time and the command line.
IGNORED_ROOT_ATTRS = {"version", "build", "created", "command"}

# Keys added to the scenario since the base, at their default values: "section.key: value".
ADDED_CONFIG_KEYS = ["keepers.model: standard", "output.liquidations_compression: 0", "market.shocks: []",
                     "market.assets: []", 'market.trade: ""', "book.margin_mode: cross", "stats.contagion: true"]
# Keys added inside every item of a list of a top-level section, at their defaults: "section: line" (the
# line as written, indentation included).
ADDED_CONFIG_ITEM_LINES = ["market:       assets: []", "market:       correlation: []"]
# Sections added since the base, inside a top-level section, read only by a
# model the base's scenarios do not choose (market.replay for market.model
# replay, ...): their lines are taken out of both texts, whatever they hold.
ADDED_CONFIG_SECTIONS = ["market.replay", "market.garch", "market.bootstrap", "book.markets"]
# Top-level sections added since the base that do nothing while off: taken
# out of both texts when they hold "  enabled: false".
ADDED_TOP_SECTIONS = ["funding"]
# Scenarios added since the base, using keys it does not know: run, and
# skipped (not failed) when OLD refuses them as bad input (exit 2); a base
# that reads them is compared as on any other scenario.
ADDED_SCENARIOS = {"scripted-crash", "funding-crowded-longs", "correlated-world", "multi-asset-crash",
                   "2025-10-tariff-crash-cross", "multi-10k"}
# Runs of the engine of several markets on a shipped bench scenario (book.markets set on the command line).
ADDED_RUNS = [("bench/multi-10k.yaml with book.markets", "scenarios/bench/multi-10k.yaml",
               ["--set", "book.markets.enabled=true"])]


def _drop_added_keys(text):
    """A config text without the lines of ADDED_CONFIG_KEYS (a top-level section's key, at any place in it)."""
    for entry in ADDED_CONFIG_KEYS:
        path, value = entry.split(": ", 1)
        section, key = path.split(".", 1)
        lines = text.split("\n")
        out, inside = [], False
        for ln in lines:
            if ln and not ln.startswith(" "):
                inside = ln == f"{section}:"
            if inside and ln == f"  {key}: {value}":
                continue
            out.append(ln)
        text = "\n".join(out)
    for path in ADDED_CONFIG_SECTIONS:
        section, key = path.split(".", 1)
        out, inside, dropping = [], False, False
        for ln in text.split("\n"):
            if ln and not ln.startswith(" "):
                inside = ln == f"{section}:"
            if dropping and ln.startswith("    "):
                continue
            dropping = inside and ln == f"  {key}:"
            if dropping:
                continue
            out.append(ln)
        text = "\n".join(out)
    for entry in ADDED_CONFIG_ITEM_LINES:
        section, line = entry.split(":", 1)
        line = line[1:]
        out, inside = [], False
        for ln in text.split("\n"):
            if ln and not ln.startswith(" "):
                inside = ln == f"{section}:"
            if inside and ln == line:
                continue
            out.append(ln)
        text = "\n".join(out)
    for section in ADDED_TOP_SECTIONS:
        lines = text.split("\n")
        if f"{section}:" not in lines:
            continue
        i = lines.index(f"{section}:")
        j = i + 1
        while j < len(lines) and lines[j].startswith(" "):
            j += 1
        if "  enabled: false" in lines[i + 1:j]:
            text = "\n".join(lines[:i] + lines[j:])
    return text


# Result fields changed on purpose by a documented fix, which --fixed NAME
# leaves out of the comparison when the base predates the fix: their columns
# (compound fields of that name) and their statistics' rows (rows whose
# `name` or `statistic` is it), listed apart. Opt-in, so that a comparison
# with a base after the fix still catches a change of the field.
KNOWN_FIXES = {
    "max_impact": "2026-12-06, issue 16 (docs/output.md): it was expm1(max |log impact|), which for a "
                  "downward impact is not abs(exp(impact) - 1) as documented",
    "option_revaluations": "issue 16, 2026-12-06: option bands kept per regime (docs/engine.md): a band "
                           "computed under a regime is used again when it returns, so fewer revaluations",
    "bs_evaluations": "issue 16, 2026-12-06: option bands kept per regime: fewer revaluations, fewer "
                      "Black-Scholes evaluations",
    "quantile_intervals": "2026-12-06 (docs/output.md, Quantiles): the quantiles' intervals from exact "
                          "binomial ranks, unbounded where the sample cannot bound them; the normal ranks "
                          "before covered q99 at 100 paths 57% of the time (the fields q50_lo ... q001_hi)",
    "es_intervals": "2026-12-07 (docs/output.md, Expected shortfalls): the expected shortfalls' intervals "
                    "studentized (bootstrap-t), unbounded where the tail cannot bound them; the percentile "
                    "intervals before covered ES99 of a lognormal "
                    "82% of the time at 1,000 paths (the fields es99_lo, es99_hi, es01_lo, es01_hi)",
    "no_spread_resamples": "2026-12-07, issue 16 (docs/output.md, Means): a bootstrap resample without spread "
                           "has t* = +/-inf exactly; the rounding residue of its sums made it a finite 1e9 and "
                           "an end of 1e12 where the end is unbounded (the intervals' ends: mean_lo ... es01_hi, "
                           "and lo, hi of the differences)",
    "constant_columns": "2026-12-07, issue 16 (docs/output.md, Statistics): a column of one value on every path "
                        "has that value as its mean, expected shortfalls and their intervals, and sd 0, not a sum of "
                        "n copies over n (0.024999999999999953 for 0.025), and so has a tail of one value as its "
                        "expected shortfall; leaves out every row's mean, sd, expected shortfalls and the "
                        "differences' ends, the constant ones being the only ones it changed",
    "multi_market_generations": "2026-12-07, issue 16 (docs/engine.md, Several markets): with book.markets a "
                                "record's generation counts only the fills of the markets its unit holds, each "
                                "seen by that market's oracle, and is the unit's; it counted every market's "
                                "(the fields generation, depth, largest_cascade_depth and its statistics' row, "
                                "and the contagion column's text)",
    "pending_text": "2026-12-07, issue 16 (docs/output.md): `pending_bad_debt` and `pending_bad_debt_any` say they "
                    "leave out accounts no oracle price found eligible (the texts only)",
    "no_spread_intervals": "2026-12-07, issue 16 (docs/output.md, Statistics and intervals; 0.5.1): the intervals "
                           "of a sample of one value are unbounded ([0, inf] for a value >= 0), not the value; a "
                           "paired difference the same on every path: exact bounds for events and flags, 0 for the "
                           "exogenous price's columns, else unbounded; the paired "
                           "rows' means of a column of one value exact, unpaired ends of no spread unbounded, "
                           "amplification_inf's row over every path (the fields mean_lo ... es01_hi, lo, hi, "
                           "unpaired_lo, unpaired_hi, baseline_mean, cell_mean, diff, and the rows "
                           "amplification_inf); insolvent's mean interval Clopper-Pearson",
    "settlement_deficits": "2026-12-07, issue 16 (docs/engine.md, Pricing, Expiry; output.md 0.5.1): an account "
                           "an option settlement leaves with nothing but negative cash books its deficit as bad "
                           "debt (the new column settlement_bad_debt; insolvent's and insolvency's texts); it had "
                           "closed with the negative cash, the loss in no column; and the record's `side` text: 0 for an "
                           "account holding live legs",
    "booked_bad_debt_text": "2026-12-07, issue 16 (docs/output.md): `insolvent` and `insolvency` say they count "
                            "bad debt booked at fills, and /book's `premium` the start regime's volatility (the "
                            "texts only: `definition`, and the `columns` attributes)",
}
# A fix whose fields are several: the names --fixed NAME leaves out.
FIX_FIELDS = {"quantile_intervals": [f"q{lv}_{end}" for lv in ("50", "90", "99", "999", "01", "001")
                                     for end in ("lo", "hi")],
              "es_intervals": ["es99_lo", "es99_hi", "es01_lo", "es01_hi"],
              "no_spread_resamples": ["mean_lo", "mean_hi", "es99_lo", "es99_hi", "es01_lo", "es01_hi", "lo", "hi"],
              "booked_bad_debt_text": ["definition"],
              "pending_text": ["definition"],
              "settlement_deficits": ["settlement_bad_debt", "definition"],
              "no_spread_intervals": ["mean_lo", "mean_hi", "es99_lo", "es99_hi", "es01_lo", "es01_hi", "lo", "hi",
                                      "unpaired_lo", "unpaired_hi", "baseline_mean", "cell_mean", "diff",
                                      "amplification_inf"],
              "multi_market_generations": ["generation", "depth", "largest_cascade_depth"],
              "constant_columns": ["mean", "sd", "mean_lo", "mean_hi", "es99", "es99_lo", "es99_hi", "es01",
                                   "es01_lo", "es01_hi", "lo", "hi"]}
# ... and the statistics' rows it changes, by the end of their name (check's /assertions: "bad_debt.q99").
FIX_ROW_SUFFIXES = {"quantile_intervals": tuple(f".q{lv}" for lv in ("50", "90", "99", "999", "01", "001")),
                    "es_intervals": (".es99", ".es01"),
                    "no_spread_resamples": (".mean", ".es99", ".es01"),
                    "constant_columns": (".mean", ".sd", ".es99", ".es01"),
                    "no_spread_intervals": (".mean", ".es99", ".es01")}
# ... and the attributes whose text it changes (dataset path ending, attribute): the method named in a meaning.
FIX_ATTRS = {"es_intervals": [("stats/summary", "meaning")],
             "booked_bad_debt_text": [("paths/summary", "columns"), ("book", "columns")],
             "multi_market_generations": [("paths/summary", "columns"), ("contagion_liquidations", "meaning")],
             "pending_text": [("paths/summary", "columns")],
             "settlement_deficits": [("paths/summary", "columns"), ("liquidations", "columns")]}
FIXED_FIELDS = set()  # the --fixed names of this run
FIXED_SUFFIXES = set()  # the row name ends of this run
FIXED_ATTRS = set()  # the (path ending, attribute) pairs of this run


def _without_fixed(v, fixed):
    """@p v without the columns and rows of FIXED_FIELDS; what was left out goes to @p fixed."""
    if not isinstance(v, np.ndarray) or not v.dtype.names:
        return v
    names = [n for n in v.dtype.names if n not in FIXED_FIELDS]
    if len(names) < len(v.dtype.names):
        fixed.update(n for n in v.dtype.names if n in FIXED_FIELDS)
        # packed again: a column left out of the middle must not leave a gap in the record's layout
        v = rfn.repack_fields(np.ascontiguousarray(v[names])) if names else v[names]
    key = next((k for k in ("name", "statistic") if k in v.dtype.names), None)
    if key and v.ndim in (1, 2) and v.size:
        # statistics by row ([statistic]) or by cell and statistic ([cell, statistic])
        names = v[key] if v.ndim == 1 else v[key][0]
        keep = np.array([_text(x) not in FIXED_FIELDS and not _text(x).endswith(tuple(FIXED_SUFFIXES))
                         for x in names], dtype=bool)
        if not keep.all():
            fixed.update(_text(x) for x in names[~keep])
            v = v[keep] if v.ndim == 1 else v[:, keep]
    return v


# 1,000,000 accounts: building the book dominates, so a couple of paths suffice
# to pass through every code path of the run and keep the script short.
PATHS_OVERRIDE = {"perp-1m": 2}


def _first_diff(a, b):
    """Index (tuple) of the first element whose bytes differ, for same-shape, same-dtype arrays."""
    if a.dtype.names:
        best = None
        for name in a.dtype.names:
            i = _first_diff(a[name], b[name])
            if i is not None and (best is None or np.ravel_multi_index(i[:a.ndim], a.shape or (1,)) <
                                  np.ravel_multi_index(best[:a.ndim], a.shape or (1,))):
                best = i[:a.ndim] + (name,)
        return best
    if a.dtype.kind == "O":  # variable-length strings or sequences: compare as values
        fa, fb = a.reshape(-1), b.reshape(-1)
        for k in range(fa.size):
            x, y = fa[k], fb[k]
            same = (np.asarray(x).tobytes() == np.asarray(y).tobytes()) if isinstance(x, np.ndarray) else x == y
            if not same:
                return np.unravel_index(k, a.shape) if a.shape else ()
        return None
    # Fixed-size elements (including sub-arrays): compare the raw bytes of each element.
    ca = np.ascontiguousarray(a).view(np.uint8).reshape(max(a.size, 1) if a.shape else 1, -1) if a.size else None
    cb = np.ascontiguousarray(b).view(np.uint8).reshape(max(b.size, 1) if b.shape else 1, -1) if b.size else None
    if ca is None:
        return None
    rows = np.nonzero(np.any(ca != cb, axis=1))[0]
    if rows.size == 0:
        return None
    return tuple(int(x) for x in np.unravel_index(int(rows[0]), a.shape)) if a.shape else ()


def _show(v):
    s = repr(v.tolist() if isinstance(v, np.ndarray) else v)
    return s if len(s) <= 60 else s[:57] + "..."


def _compare_values(where, a, b):
    """A message when two dataset/attribute values differ, else None."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        return f"{where}: dtype {a.dtype} != {b.dtype}"
    if a.shape != b.shape:
        return f"{where}: shape {a.shape} != {b.shape}"
    i = _first_diff(a, b)
    if i is None:
        return None
    idx, field = (i[:-1], i[-1]) if i and isinstance(i[-1], str) else (i, None)
    x, y = a[idx], b[idx]
    if field:
        x, y = x[field], y[field]
    label = f"[{','.join(str(k) for k in idx)}]" + (f".{field}" if field else "")
    return f"{where}{label}: {_show(x)} != {_show(y)}"


def _is_text(v):
    return isinstance(v, (str, bytes)) or (isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in "USO")


def _text(v):
    v = v.item() if isinstance(v, np.ndarray) else v
    return v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else str(v)


def _compare_text(where, x, y):
    if x == y:
        return None
    i = next((k for k in range(min(len(x), len(y))) if x[k] != y[k]), min(len(x), len(y)))
    return f"{where}: text differs at character {i}: {x[max(0, i - 20):i + 20]!r} != {y[max(0, i - 20):i + 20]!r}"


def compare_files(old, new, added=None, fixed=None):
    """Every difference between two result files, as messages (empty when identical).

    Attributes only in NEW are not differences; their names go to @p added when given.
    Fields of FIXED_FIELDS are not compared; those met go to the set @p fixed when given."""
    diffs = []
    added = [] if added is None else added
    fixed = set() if fixed is None else fixed
    with h5py.File(old, "r") as fa, h5py.File(new, "r") as fb:
        def objects(f):
            out = {"/": f}
            f.visititems(lambda name, obj: out.__setitem__("/" + name, obj))
            return out
        oa, ob = objects(fa), objects(fb)
        for name in sorted(set(oa) - set(ob)):
            diffs.append(f"{name}: only in OLD")
        for name in sorted(set(ob) - set(oa)):
            diffs.append(f"{name}: only in NEW")
        for name in sorted(set(oa) & set(ob)):
            a, b = oa[name], ob[name]
            if type(a) is not type(b):
                diffs.append(f"{name}: {type(a).__name__} != {type(b).__name__}")
                continue
            if isinstance(a, h5py.Dataset):
                msg = _compare_values(name, _without_fixed(a[()], fixed), _without_fixed(b[()], fixed))
                if msg:
                    diffs.append(msg)
            ignored = IGNORED_ROOT_ATTRS if name == "/" else set()
            ka, kb = set(a.attrs) - ignored, set(b.attrs) - ignored
            for k in sorted(ka - kb):
                diffs.append(f"{name}@{k}: only in OLD")
            added.extend(f"{name}@{k}" for k in sorted(kb - ka))
            for k in sorted(ka & kb):
                ta = h5py.h5a.open(a.id, k.encode()).get_type()
                tb = h5py.h5a.open(b.id, k.encode()).get_type()
                va, vb = a.attrs[k], b.attrs[k]
                if _is_text(va) and _is_text(vb) and ta.get_class() == tb.get_class() == h5py.h5t.STRING:
                    # Text: the same HDF5 string kind, then the text itself (its
                    # length may differ, which numpy would call a dtype change).
                    msg = None
                    if ta.is_variable_str() != tb.is_variable_str():
                        msg = f"{name}@{k}: string type (variable length {ta.is_variable_str()} != {tb.is_variable_str()})"
                    elif any(name.endswith(e) and k == at for e, at in FIXED_ATTRS):
                        if fixed is not None and _text(va) != _text(vb):
                            fixed.add(f"@{k}")
                    else:
                        xa, xb = _text(va), _text(vb)
                        if k == "config":
                            xa, xb = _drop_added_keys(xa), _drop_added_keys(xb)
                        msg = _compare_text(f"{name}@{k}", xa, xb)
                else:
                    msg = _compare_values(f"{name}@{k}", va, vb)
                if msg:
                    diffs.append(msg)
    return diffs


def runs(root, paths, only):
    """(label, argv after the binary, added since the base) of every run: each scenario, one --compare, one
    sweep, the added runs."""
    out = []
    files = []
    for pattern in ("scenarios/*.yaml", "scenarios/ci/*.yaml", "scenarios/bench/*.yaml"):
        files += sorted(glob.glob(os.path.join(root, pattern)))
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        rel = os.path.relpath(f, root)
        n = PATHS_OVERRIDE.get(stem, paths)
        out.append((rel, ["run", f, "-n", str(n)], stem in ADDED_SCENARIOS))
    out.append(("compare: margin.model=static,dynamic,portfolio",
                ["run", os.path.join(root, "scenarios/compare-margin-models.yaml"), "-n", str(paths),
                 "--compare", "margin.model=static,dynamic,portfolio"], False))
    out.append(("sweep: sweep-maintenance-vs-oracle",
                ["sweep", os.path.join(root, "scenarios/sweep-maintenance-vs-oracle.yaml"), "-n", str(paths)], False))
    for label, rel, extra in ADDED_RUNS:
        out.append((label, ["run", os.path.join(root, rel), "-n", str(paths)] + extra, True))
    if only:
        out = [r for r in out if any(o in r[0] for o in only)]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old", nargs="?", help="the OLD marginsim binary")
    ap.add_argument("new", nargs="?", help="the NEW marginsim binary")
    ap.add_argument("--files", nargs=2, metavar=("A", "B"), help="compare two result files, run nothing")
    ap.add_argument("-n", "--paths", type=int, default=100, help="paths per run (default 100)")
    ap.add_argument("-j", "--threads", type=int, default=2, help="threads per run (default 2)")
    ap.add_argument("--only", action="append", default=[],
                    help="keep only runs whose label contains this text (repeatable)")
    ap.add_argument("--new-arg", action="append", default=[],
                    help="an extra argument for NEW's runs only (repeatable; to test the script: --new-arg=--seed=2)")
    ap.add_argument("--root", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")),
                    help="the source tree whose scenarios/ are run (default: this one)")
    ap.add_argument("--keep", metavar="DIR", help="write the result files here and keep them")
    ap.add_argument("--fixed", action="append", default=[], metavar="FIELD",
                    help="leave out a field changed by a documented fix since the base (repeatable): "
                         + "; ".join(f"{k}: {v}" for k, v in KNOWN_FIXES.items()).replace("%", "%%"))
    a = ap.parse_args(argv)
    for name in a.fixed:
        if name not in KNOWN_FIXES:
            ap.error(f"--fixed {name}: not a documented fix; known: {', '.join(sorted(KNOWN_FIXES))}")
    FIXED_FIELDS.clear()
    FIXED_SUFFIXES.clear()
    FIXED_ATTRS.clear()
    for name in a.fixed:
        FIXED_FIELDS.update(FIX_FIELDS.get(name, [name]))
        FIXED_SUFFIXES.update(FIX_ROW_SUFFIXES.get(name, ()))
        FIXED_ATTRS.update(FIX_ATTRS.get(name, ()))

    if a.files:
        added, fixed = [], set()
        diffs = compare_files(*a.files, added, fixed)
        for d in diffs:
            print("  " + d)
        if added:
            print(f"  (added in NEW, not a difference: {', '.join(added)})")
        if fixed:
            print(f"  (not compared, documented fixes: {', '.join(sorted(fixed))})")
        print("identical" if not diffs else f"{len(diffs)} difference(s)")
        return 1 if diffs else 0
    if not a.old or not a.new:
        ap.error("give OLD and NEW binaries, or --files A B")

    work = a.keep or tempfile.mkdtemp(prefix="ms_identity.")
    os.makedirs(work, exist_ok=True)
    failed = differ = skipped = 0
    t0 = time.time()
    print(f"{'run':<52} {'result':<10} datasets")
    for k, (label, args, added) in enumerate(runs(a.root, a.paths, a.only)):
        outs = []
        for side, exe in (("old", a.old), ("new", a.new)):
            out = os.path.join(work, f"{k:02d}-{side}.h5")
            if os.path.exists(out):
                os.unlink(out)
            cmd = [exe] + args + ["-j", str(a.threads), "-o", out, "--quiet"] + (a.new_arg if side == "new" else [])
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=a.root)
            outs.append((p, out))
        (po, fo), (pn, fn) = outs
        if (po.returncode != 0 or pn.returncode != 0) and not a.keep:  # the one that ran leaves no file behind
            for f in (fo, fn):
                if os.path.exists(f):
                    os.unlink(f)
        if added and po.returncode == 2 and pn.returncode == 0:  # the base does not read it: nothing to compare
            skipped += 1
            print(f"{label:<52} {'skipped':<10} OLD refuses it (exit 2): added since OLD")
            continue
        if po.returncode != 0 or pn.returncode != 0:
            failed += 1
            print(f"{label:<52} {'FAILED':<10} exit {po.returncode} (old), {pn.returncode} (new)")
            for p in (po, pn):
                if p.returncode:
                    print("    " + p.stderr.strip().replace("\n", "\n    "))
            continue
        added, fixed = [], set()
        diffs = compare_files(fo, fn, added, fixed)
        with h5py.File(fo, "r") as f:
            nds = []
            f.visititems(lambda name, obj: nds.append(name) if isinstance(obj, h5py.Dataset) else None)
        if diffs:
            differ += 1
            print(f"{label:<52} {'DIFFERENT':<10} {len(diffs)} difference(s) in {len(nds)} datasets")
            for d in diffs[:20]:
                print("    " + d)
            if len(diffs) > 20:
                print(f"    ... and {len(diffs) - 20} more")
        else:
            print(f"{label:<52} {'identical':<10} {len(nds)}" +
                  (f" (+{len(added)} attribute(s) only in NEW)" if added else "") +
                  (f" (not compared, documented fixes: {', '.join(sorted(fixed))})" if fixed else ""))
        if not a.keep:
            os.unlink(fo)
            os.unlink(fn)
    if not a.keep:
        os.rmdir(work)
    print(f"{differ} different, {failed} failed, {skipped} skipped ({time.time() - t0:.1f} s; -n {a.paths}, "
          f"-j {a.threads})")
    return 2 if failed else (1 if differ else 0)


if __name__ == "__main__":
    sys.exit(main())
