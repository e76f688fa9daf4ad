#!/usr/bin/env python3
"""Differences of two marginsim results' statistics, B - A, with 95% intervals.

    scripts/py analysis/compare.py A.h5 B.h5 [--group G] [--group-a G] [--group-b G] [--stat NAME,...]

Compares the main per-path summary columns (their means) and the
probabilities of insolvency, of any liquidation and of any bad debt.

When A and B ran on the same paths (same seed, same number of paths, same
`path` column) the comparison is paired: the mean over paths of B - A on the
same path over the paths where both values are finite, with the bootstrap-t
95% interval of that mean (the method of marginsim's --compare and sweeps,
docs/output.md "Statistics and intervals"; 1999 resamples from a generator
seeded by the statistic's name, so the output is reproducible).
Otherwise it is unpaired: the difference of the means ± 1.96 sqrt(sa²/na +
sb²/nb) (Welch), and for probabilities the difference of proportions with its
normal interval. The line `mode: paired (...)` or `mode: unpaired (...)`
says which, and why.

--group-a / --group-b pick a run group inside a file instead of its root,
e.g. `models/static` of a --compare file or `sweep/runs/3` of a sweep file;
--group G picks the same group in both (--group-a/--group-b override it).
--stat NAME,... compares only the named statistics: any /paths/summary column
of both files (e.g. bad_debt, max_drawdown) or probability (insolvency,
liquidation_any, bad_debt_any). Exit status: 0, or 2 for a missing file or
group, a group without paths/summary, or an unknown --stat name. The files
are read through marginsim.open (analysis/marginsim).
"""
import argparse
import math
import zlib
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import marginsim  # first: it says what a python3 without numpy, pandas or h5py lacks
    import numpy as np
    from marginsim._fmt import cfg_get
except ImportError as e:
    print("compare.py: %s" % e, file=sys.stderr)
    sys.exit(3)

Z95 = 1.959963984540054
COLUMNS = ("liquidations", "liquidated_notional", "impact_triggered_liquidations", "bad_debt", "insurance_min",
           "socialized_loss", "adl_notional", "adl_loss", "uncovered_loss", "largest_cascade_notional",
           "largest_cascade_liquidations",
           "amplification")
EVENTS = (("insolvency", "insolvent = 1", lambda s: s["insolvent"].to_numpy() == 1),
          ("liquidation_any", "liquidations > 0", lambda s: s["liquidations"].to_numpy() > 0),
          ("bad_debt_any", "bad_debt > 0", lambda s: s["bad_debt"].to_numpy() > 0))


class Usage(Exception):
    pass


def group_seed(g):
    """Seed of a run: its own config's seed if it has one, else the file's root attribute."""
    s = cfg_get(g.config, "seed") if g.config_yaml else None
    if s is None:
        s = g.root.attrs.get("seed")
    try:
        return int(s)
    except (TypeError, ValueError):
        return None


_WARNED = set()


def open_group(path, group):
    """The run at `group` of result file `path` (marginsim.Result); Usage with the reason when there is none."""
    try:
        marginsim.result.check_finished(path)
    except marginsim.IncompleteRun as e:
        raise Usage(str(e))
    if not os.path.isfile(path):
        raise Usage(f"{path}: {'not a regular file' if os.path.exists(path) else 'no such file'}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = marginsim.open(path)
        for w in caught:
            if str(w.message) not in _WARNED:  # a file opened for both sides warns once
                _WARNED.add(str(w.message))
                print(f"compare.py: warning: {w.message}", file=sys.stderr)
    except OSError as e:
        raise Usage(f"{path}: not a marginsim result file ({e})")
    try:
        g = r.sub(group)
    except KeyError as e:
        raise Usage(str(e.args[0]))
    if g.summary is None:
        hint = ""
        if r.kind == "compare":
            hint = f"; it is a --compare file: pick a model with --group (or --group-a/--group-b) models/<value> " \
                   f"({', '.join('models/' + m.group.strip('/').rsplit('/', 1)[-1] for m in r.models.values())})"
        elif r.kind == "sweep":
            hint = "; it is a sweep file: pick a cell with --group (or --group-a/--group-b) sweep/runs/<cell>"
        where = f"group '{group}'" if group not in (None, "", "/") else "the root"
        raise Usage(f"{path}: {where} has no paths/summary{hint}")
    return g


def describe(label, path, g):
    name = g.root.attrs.get("name", "?")
    where = g.group.rstrip("/") or "/"
    n = len(g.summary)
    extra = ""
    if "value" in g.attrs:
        extra = f", {g.root.attrs.get('compare', 'value')} = {g.attrs['value']}"
    elif "label" in g.attrs:
        extra = f", {g.attrs['label']}"
    return f"{label}: {path} [{where}] ({name}{extra}; seed {group_seed(g)}, {n} paths)"


def pairing(ga, gb, sa, sb):
    """(paired?, reason)."""
    seed_a, seed_b = group_seed(ga), group_seed(gb)
    if seed_a != seed_b:
        return False, f"the seeds differ: {seed_a} and {seed_b}"
    if len(sa) != len(sb):
        return False, f"the numbers of paths differ: {len(sa)} and {len(sb)}"
    if "path" in sa.columns and "path" in sb.columns and not np.array_equal(sa["path"].to_numpy(),
                                                                                sb["path"].to_numpy()):
        return False, "the same seed and number of paths but different path indices"
    return True, f"same seed {seed_a}, same {len(sa)} paths: B - A on each path"


BOOT_B = 1999


def bootstrap_t(d, name, confidence=0.95):
    """Bootstrap-t interval of the mean of d (per-path differences, any sign): the method of /stats for
    differences (sim/output/interval.c), from numpy's generator seeded by crc32(name) instead of marginsim's stream.
    All values equal: unbounded, as in marginsim (the resamples have no spread: such a sample bounds nothing;
    paired_diff has the exceptions). A resample without spread has t = +/-inf (0 at the mean), as in marginsim."""
    d = np.asarray(d, float)
    n = len(d)
    m = float(d.mean())
    if n == 0:
        return math.nan, math.nan
    if d.min() == d.max():
        return -math.inf, math.inf
    se = float(d.std(ddof=1)) / math.sqrt(n)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    t = np.empty(BOOT_B)
    chunk = max(1, min(BOOT_B, 2_000_000 // n))
    for s0 in range(0, BOOT_B, chunk):
        k = min(chunk, BOOT_B - s0)
        x = d[rng.integers(0, n, size=(k, n))]
        mb = x.mean(axis=1)
        # a resample of one value has no spread, exactly: its std is a rounding residue (the mean of
        # copies of 0.1 is not 0.1), which would studentize it to a finite t of 1e16
        spread = x.max(axis=1) > x.min(axis=1)
        seb = np.where(spread, x.std(axis=1, ddof=1) / math.sqrt(n), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t[s0:s0 + k] = np.where(seb > 0, (mb - m) / np.where(seb > 0, seb, 1.0),
                                    np.sign(mb - m) * np.inf)
    t = np.nan_to_num(t, nan=0.0, posinf=np.inf, neginf=-np.inf)
    t.sort()
    r = max(1, min(BOOT_B, int(math.floor((BOOT_B + 1) * (1 - confidence) / 2 + 1e-9))))
    tlo, thi = t[r - 1], t[BOOT_B - r]
    return m - thi * se, m - tlo * se


def same_price_path(ga, gb):
    """The two runs draw the same exogenous price path, path by path: the same seed, horizon, step and market
    section (as marginsim's ms_pricepath_same_path, more strictly); False when a configuration is unknown."""
    try:
        ca, cb = ga.config, gb.config
    except Exception:  # a file without its configuration: assume nothing
        return False
    if not isinstance(ca, dict) or not isinstance(cb, dict):
        return False
    return (group_seed(ga) == group_seed(gb) and
            all(ca.get(k) == cb.get(k) for k in ("horizon", "step", "market")))


def paired_diff(a, b, name="", itself=False, binary=False, same_path=False):
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = len(a)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan, math.nan, 0
    d = b - a
    ma, mb = _mean(a), _mean(b)
    m = mb - ma if a.min() == a.max() and b.min() == b.max() else float(d.mean())
    # one difference on every path: as marginsim (docs/output.md, Statistics and intervals)
    same = n > 1 and d.min() == d.max()
    if same and d[0] == 0 and itself:
        lo, hi = 0.0, 0.0  # one run against itself
    elif same and binary and abs(d[0]) == 1:  # every path differs one way
        L = 0.025 ** (1.0 / n)
        lo, hi = (2 * L - 1, 1.0) if d[0] > 0 else (-1.0, 1 - 2 * L)
    elif same and binary and d[0] == 0:
        hi = 1.0 - 0.025 ** (1.0 / n)  # an event's or a flag's: at most the share of paths on which they differ
        lo = -hi
    elif same and d[0] == 0 and same_path and exogenous(name):
        lo, hi = 0.0, 0.0  # the exogenous price's: the same in two cells of one price path, path by path
    else:
        lo, hi = bootstrap_t(d, name) if n > 1 else (math.nan, math.nan)  # unbounded when the same
    return ma, mb, m, lo, hi, n


# the columns of the exogenous price alone (as marginsim's ms_column.exog)
EXOGENOUS = {"final_price", "min_price", "max_price", "max_drawdown", "jumps", "regime_switches"}


def exogenous(name):
    return name in EXOGENOUS or name.startswith(("time_in_regime_", "final_price_", "min_price_"))


def _mean(x):
    """The mean; of one value on every path that value, not a sum of n copies over n (as marginsim)."""
    return float(x[0]) if len(x) and x.min() == x.max() else float(x.mean())


def welch_diff(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    na, nb = len(a), len(b)
    if na == 0 or nb == 0:
        return math.nan, math.nan, math.nan, math.nan, math.nan, min(na, nb)
    ma, mb = _mean(a), _mean(b)
    va = float(a.var(ddof=1)) if na > 1 else math.nan
    vb = float(b.var(ddof=1)) if nb > 1 else math.nan
    d = mb - ma
    if na > 1 and nb > 1 and a.min() == a.max() and b.min() == b.max():
        return ma, mb, d, -math.inf, math.inf, min(na, nb)  # neither varies: nothing bounds the difference
    h = Z95 * math.sqrt(va / na + vb / nb)
    return ma, mb, d, d - h, d + h, min(na, nb)


def proportion_diff(a, b):
    na, nb = len(a), len(b)
    if na == 0 or nb == 0:
        return math.nan, math.nan, math.nan, math.nan, math.nan, 0
    pa, pb = float(np.mean(a)), float(np.mean(b))
    d = pb - pa
    if na < 2 or nb < 2:
        return pa, pb, d, math.nan, math.nan, min(na, nb)  # one path: no interval
    if pa in (0.0, 1.0) and pb in (0.0, 1.0):
        return pa, pb, d, -math.inf, math.inf, min(na, nb)  # neither varies: unbounded, as marginsim's unpaired
    h = Z95 * math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    return pa, pb, d, d - h, d + h, min(na, nb)


def num(x):
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return f"{x:.10g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", metavar="A.h5")
    ap.add_argument("b", metavar="B.h5")
    ap.add_argument("--group", default="", help="group of both files (e.g. models/static, sweep/runs/0)")
    ap.add_argument("--group-a", default=None, help="group of A to compare (default: --group, else the root)")
    ap.add_argument("--group-b", default=None, help="group of B to compare (default: --group, else the root)")
    ap.add_argument("--stat", default=None, metavar="NAME,...",
                    help="only these statistics: summary columns or probabilities (default: the headline ones)")
    args = ap.parse_args()
    try:
        ga = open_group(args.a, args.group if args.group_a is None else args.group_a)
        gb = open_group(args.b, args.group if args.group_b is None else args.group_b)
        sa, sb = ga.summary, gb.summary
        columns, events = list(COLUMNS), list(EVENTS)
        if args.stat is not None:
            names = [n.strip() for n in args.stat.split(",") if n.strip()]
            both = [c for c in sa.columns if c in sb.columns]
            byname = {e[0]: e for e in EVENTS}
            unknown = [n for n in names if n not in both and n not in byname]
            if unknown or not names:
                raise Usage(f"--stat {args.stat}: unknown statistic {', '.join(unknown) or '(none given)'}; "
                            f"known: the summary columns of both files ({', '.join(both)}) and the "
                            f"probabilities {', '.join(byname)}")
            columns = [n for n in names if n not in byname]
            events = [byname[n] for n in names if n in byname]
    except Usage as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2
    paired, why = pairing(ga, gb, sa, sb)
    # one group of one file against itself: no difference on any path, by construction (as the sweep's
    # baseline against itself), where equal differences otherwise bound nothing (bootstrap_t)
    itself = os.path.realpath(args.a) == os.path.realpath(args.b) and \
        (args.group if args.group_a is None else args.group_a).strip("/") == \
        (args.group if args.group_b is None else args.group_b).strip("/")
    same_path = paired and same_price_path(ga, gb)
    print(describe("A", args.a, ga))
    print(describe("B", args.b, gb))
    print(f"mode: {'paired' if paired else 'unpaired'} ({why})")
    if paired:
        print("differences B - A: mean over paths of the per-path difference, bootstrap-t 95% interval "
              "over the n paths where both are finite")
    else:
        print("differences B - A: difference of the means, 95% interval ± 1.96 sqrt(sa²/na + sb²/nb) "
              "(Welch); probabilities: difference of proportions with its normal interval")
    print()
    hdr = f"{'statistic':30s} {'A':>16s} {'B':>16s} {'B - A':>16s} {'lo':>16s} {'hi':>16s} {'n':>7s}"
    print(hdr)
    missing = []
    for c in columns:
        if c not in sa.columns or c not in sb.columns:
            missing.append(c)
            continue
        a_, b_ = sa[c].to_numpy(), sb[c].to_numpy()
        flag = (getattr(ga, "_summary_units", None) or {}).get(c) == "flag"
        r = paired_diff(a_, b_, c, itself, flag, same_path) if paired else welch_diff(a_, b_)
        print(f"{c:30s} " + " ".join(f"{num(x):>16s}" for x in r[:5]) + f" {r[5]:7d}")
    if events:
        print("\nprobabilities (events per path):")
    for name, definition, fn in events:
        try:
            ea, eb = fn(sa).astype(float), fn(sb).astype(float)
        except (ValueError, KeyError):
            missing.append(name)
            continue
        r = paired_diff(ea, eb, name, itself, True) if paired else proportion_diff(ea, eb)
        print(f"{name:30s} " + " ".join(f"{num(x):>16s}" for x in r[:5]) + f" {r[5]:7d}")
    if missing:
        print(f"\nnot in both files: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
