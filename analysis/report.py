#!/usr/bin/env python3
"""Turn a marginsim result file into a text report, PNG figures and one HTML page.

    scripts/py analysis/report.py RESULT.h5 [-o DIR] [--no-plots]

Prints the run's provenance and /stats (and, for a compare or sweep file,
the per-model or per-cell table and the paired differences), writes PNG
figures to DIR (default: next to the result file, <stem>_report/) and
DIR/report.html, a self-contained page (every figure embedded as a data URI,
and linked to its PNG file) with the provenance, the headline statistics
with their intervals, the assertions and the figures with captions. The last
line printed is `report: DIR/report.html`. Exit codes: 0 done; 2 bad input
(no such file, not an HDF5 file, a bad -o); 3 a file that cannot be written
(a full disk: the message names the file and the reason). Every file is
written to a temporary ".<name>.ms-tmp-XXXXXXXX" beside it and renamed, so a
failure leaves the previous file or none; a folder the report created is
removed again when it fails.

Figures of a run (a file's root, each model of a compare file, the baseline
cell of a sweep), each drawn when the group has what it needs:
  path.png            fan chart of the exogenous price over /timeseries/fan (else the traced paths),
                      with one path's mark and oracle prices and its regimes
  liquidations.png    liquidations over time: the share of paths liquidating in each interval
                      and quantiles over paths of each path's liquidations and notional per
                      interval (from /liquidations, else /cascades, else /timeseries)
  bad_debt.png        complementary CDF of bad debt per path, log-log, with
                      the insurance fund
  cascades.png        complementary CDF of cascade notional and size, log-log
  insurance_fund.png  the fund's balance on each traced path
  drawdown.png        max drawdown of each path against liquidated notional
A compare file adds headline.png (each model's headline statistics),
tradeoff.png and differences.png, and the run figures in DIR/<model>/.
A sweep file adds heatmap_<statistic>.png (two or more axes) or
sweep_stats.png (one axis) and sweep_differences.png, and the run figures of
the baseline cell in DIR/baseline/.
"""
import argparse
import base64
import datetime as dt
import html
import math
import os
import shutil
import sys
import tempfile
import urllib.parse

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _python import (DEFAULT_SHOW, attr, cfg_get, columns_meta, config, file_kind, fmt,  # noqa: E402
                     fmt_interval, horizon_seconds, insurance_fund, money, money_formatter, risky_tail, seconds,
                     stat, stat_of_row, stat_unit, text, time_scale)

DPI = 110
# Distinct colours for traced paths (tab10 without its grey, which reads as a reference line).
PATH_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
               "#393b79"]


def pct_formatter():
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _p: _pct(v))


def price_formatter():
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}")


# ---------------------------------------------------------------------------
# Text report (stdout)

def provenance(f):
    a = f.attrs
    print(f"{text(a['name'])}: marginsim {text(a['version'])}, seed {a['seed']}, {a['paths']} paths, "
          f"created {text(a['created'])}")
    print(f"command: {text(a['command'])}\n")


def text_report(f):
    """The summary table of /stats as `marginsim run` prints it: the same intervals (the file's), each column's
    risky tail (q99/ES99 when high values are the risk, q01/ES01 when low ones are)."""
    st = f["stats/summary"][:]
    print(f"{'statistic':34s} {'mean':>9s}  {'95% CI (bootstrap)':20s} {'median':>9s}  {'tail':4s} "
          f"{'q99|q01':>9s} {'ES99|ES01':>9s}")
    for r in st:
        side, qf, ef = risky_tail(r)
        ci = f"[{money(float(r['mean_lo']))}, {money(float(r['mean_hi']))}]"
        print(f"{text(r['name']):34s} {money(float(r['mean'])):>9s}  {ci:20s} {money(float(r['q50'])):>9s}  {side:4s} "
              f"{money(float(r[qf])):>9s} {money(float(r[ef])):>9s}")
    print()
    for r in f["stats/probabilities"][:]:
        print(f"P({text(r['name'])}) = {r['p']:.4f}  [{r['lo']:.4f}, {r['hi']:.4f}]  "
              f"({r['k']}/{r['n']}: {text(r['definition'])})")


def summary_pointer(f, label=""):
    """One line instead of a second table: where the numbers are (the same as the CLI's)."""
    ins = [r for r in f["stats/probabilities"][:] if text(r["name"]) == "insolvency"]
    head = ""
    if ins:
        r = ins[0]
        head = f"P(insolvency) = {r['p']:.4f} [{r['lo']:.4f}, {r['hi']:.4f}] ({r['k']}/{r['n']} paths); "
    print(f"{label}{head}every statistic with its interval: the table `marginsim` printed, /stats/summary, "
          f"and report.html (the same numbers; --no-plots prints the table here)")


def compare_report(f):
    key = text(f.attrs["compare"])
    m = f["compare/models"][:]
    print(f"compared: {key}, paired on the same paths and book\n")
    same_im = margin_unchanged(m)
    print(f"{'value':14s} {'IM (USD)':>9s} {'risk (USD)':>10s} {'IM/risk':>8s} {'bad debt mean':>13s} "
          f"{'q99':>8s} {'ES99':>8s} {'P(insolvency) [95% CI]':>26s} {'liquidations':>13s}")
    for r in m:
        g = f["models"][text(r["model"]).replace("/", "|")]
        q99, es99 = (stat(g, "bad_debt.q99")[0], stat(g, "bad_debt.es99")[0]) if "stats/summary" in g else \
            (math.nan, math.nan)
        print(f"{text(r['model']):14s} {money(float(r['initial_margin'])):>9s} {money(float(r['risk'])):>10s} "
              f"{r['im_per_risk']:8.3f} {money(float(r['bad_debt_mean'])):>13s} {money(q99):>8s} {money(es99):>8s} "
              f"{r['insolvency_p']:8.4f} [{r['insolvency_lo']:.4f}, {r['insolvency_hi']:.4f}] "
              f"{r['liquidations_mean']:13.4g}")
    if same_im:
        print(f"(every value of {key} asks the same initial margin of this book: the capital-efficiency figure "
              f"is left out, it would compare equal numbers)")
    print("\npaired differences (value - baseline), mean over paths with 95% interval:")
    for r in f["compare/differences"][:]:
        print(f"  {text(r['statistic']):30s} {text(r['model']):>12s} - {text(r['baseline']):<12s} "
              f"{r['diff']:14.6g}  [{r['lo']:14.6g}, {r['hi']:14.6g}]")


def margin_unchanged(m):
    """True when every compared value asks the same initial margin of the book (/compare/models)."""
    im = np.asarray(m["initial_margin"], dtype=float)
    return bool(len(im) > 0 and np.all(np.abs(im - im[0]) <= 1e-9 * max(1.0, abs(im[0]))))


def assertion_sets(f):
    """[(label, rows)]: the file's /assertions, else each model's or sweep cell's (where they are written)."""
    sets = []
    if "assertions" in f:
        sets.append(("", f["assertions"][:]))
    if "models" in f and "compare" in f.attrs:
        for name, g in f["models"].items():
            if "assertions" in g:
                sets.append((f"{attr(f, 'compare')} = {attr(g, 'value', name)}", g["assertions"][:]))
    if "sweep/runs" in f:
        runs = f["sweep/runs"]
        for c in sorted(runs.keys(), key=lambda k: int(k) if k.isdigit() else 1 << 30):
            g = runs[c]
            if "assertions" in g:
                sets.append((f"cell {c}: {attr(g, 'label', c)}", g["assertions"][:]))
    return sets


def assertions_report(f):
    for label, rows in assertion_sets(f):
        ok = int(np.sum(rows["passed"]))
        print(f"\nassertions{' (' + label + ')' if label else ''}: {ok} of {len(rows)} passed")
        for r in rows:
            conf = (f", {r['confidence']:.0%} interval [{r['lo']:.6g}, {r['hi']:.6g}] decides" if r["confidence"] > 0
                    else " (point estimate decides)")
            print(f"  {'PASS' if r['passed'] else 'FAIL'}  {text(r['assertion'])}: value {r['value']:.6g}{conf}"
                  f"  ({text(r['where'])})")


# ---------------------------------------------------------------------------
# The sweep layout

class Sweep:
    def __init__(self, f):
        g = f["sweep"]
        self.f = f
        self.axes = []
        i = 0
        while f"axes/{i}" in g:
            a = g[f"axes/{i}"]
            values = [text(v) for v in a["values"][:]]
            numeric = a["numeric"][:].astype(float) if "numeric" in a else np.full(len(values), np.nan)
            self.axes.append((attr(a, "key", f"axis {i}"), values, numeric))
            i += 1
        self.index = g["index"][:].reshape(-1, len(self.axes)) if self.axes else np.zeros((0, 0), int)
        cells = g["cells"][:]
        self.labels = [text(x) for x in cells["label"]]
        self.ncells = len(self.labels)
        self.baseline = int(attr(f, "baseline", 0) or 0)
        if not 0 <= self.baseline < self.ncells:
            self.baseline = 0
        self.summary = g["stats/summary"][:]
        self.probs = g["stats/probabilities"][:]
        self.diffs = g["differences"][:] if "differences" in g else None
        show = attr(f, "show", "") or ""
        names = [s.strip() for s in show.split(",") if s.strip()] or list(DEFAULT_SHOW)
        self.show = [s for s in names if self.has(s)]
        self.missing = [s for s in names if not self.has(s)]
        self.meta = {}
        run0 = f"sweep/runs/{self.baseline}"
        if run0 in f:
            self.meta = columns_meta(f[run0])

    def has(self, name):
        try:
            self.stat(0, name)
            return True
        except (KeyError, IndexError, ValueError):
            return False

    def stat(self, c, name):
        base, _, field = name.rpartition(".")
        if field == "probability":
            for r in np.atleast_1d(self.probs[c]):
                if text(r["name"]) == base:
                    return stat_of_row(r, "probability")
            raise KeyError(name)
        for r in np.atleast_1d(self.summary[c]):
            if text(r["name"]) == base:
                if field not in r.dtype.names:
                    raise KeyError(name)
                return stat_of_row(r, field)
        raise KeyError(name)

    def short(self, c):
        """The cell's values without the keys: '0.02 · 10m'."""
        return " · ".join(self.axes[a][1][self.index[c, a]] for a in range(len(self.axes)))

    def run_group(self, c):
        p = f"sweep/runs/{c}"
        return self.f[p] if p in self.f else None


def sweep_report(f, sw):
    print(f"sweep over {', '.join(k for k, _, _ in sw.axes)}: {sw.ncells} cells, baseline cell {sw.baseline} "
          f"({sw.labels[sw.baseline]}), the same paths in every cell\n")
    for k, vals, _ in sw.axes:
        print(f"  {k}: {', '.join(vals)}")
    print()
    w = max(len(x) for x in sw.labels)
    for name in sw.show:
        print(name)
        for c in range(sw.ncells):
            v, lo, hi = sw.stat(c, name)
            ci = f"[{lo:.6g}, {hi:.6g}]" if not math.isnan(lo) else ""
            print(f"  {sw.labels[c]:{w}s} {v:14.6g} {ci}{'  (baseline)' if c == sw.baseline else ''}")
    if sw.missing:
        print(f"(not in the file: {', '.join(sw.missing)})")
    if sw.diffs is not None:
        print("\npaired differences (cell - baseline), mean over paths with 95% interval "
              "(unpaired interval for contrast):")
        for j in range(sw.diffs.shape[1]):
            print(f"  {text(sw.diffs[0, j]['statistic'])}")
            for c in range(sw.ncells):
                r = sw.diffs[c, j]
                if c == sw.baseline:
                    continue
                print(f"    {sw.labels[c]:{w}s} {r['diff']:14.6g}  [{r['lo']:.6g}, {r['hi']:.6g}]  "
                      f"unpaired [{r['unpaired_lo']:.6g}, {r['unpaired_hi']:.6g}]")


# ---------------------------------------------------------------------------
# Writing files: each through a temporary beside it, renamed over it, so a
# full disk or a kill leaves the previous file (or none), never half of one.

class WriteError(Exception):
    """An output file could not be written: its path and the reason (exit 3)."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


_MADE = []  # the topmost folder this report created, removed again if it fails


def _makedirs_tracked(path):
    """os.makedirs, remembering the topmost folder it creates."""
    top, p = None, os.path.abspath(path)
    while not os.path.exists(p):
        top, p = p, os.path.dirname(p)
    os.makedirs(path, exist_ok=True)
    if top and not _MADE:
        _MADE.append(top)


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


def write_atomic(path, write, mode="wb"):
    """Call write(fh) on a temporary ".<name>.ms-tmp-XXXXXXXX" beside `path` (created exclusively, as marginsim
    names its own), sync it and rename it over `path`. On failure the temporary goes and WriteError says why."""
    d, base = os.path.split(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + base[:200] + ".ms-tmp-", dir=d or ".")
    except OSError as e:
        raise WriteError(path, f"cannot create a temporary file ({e.strerror})") from e
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # like any new file, not mkstemp's 0600
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise WriteError(path, e.strerror or str(e)) from e
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------------
# Figures

class Figures:
    """Collects the figures written, with titles and captions, by section."""

    def __init__(self, out):
        self.out = out
        self.items = []      # dicts: rel, title, caption, section
        self.skipped = []    # (section, what, why)
        self.sections = []

    def section(self, name):
        if name not in self.sections:
            self.sections.append(name)

    def save(self, fig, rel, section, title, caption):
        import matplotlib.pyplot as plt
        path = os.path.join(self.out, rel)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as e:
            raise WriteError(os.path.dirname(path), f"cannot create the folder ({e.strerror})") from e
        try:
            write_atomic(path, lambda fh: fig.savefig(fh, dpi=DPI, format="png"))
        finally:
            plt.close(fig)
        self.section(section)
        self.items.append(dict(rel=rel, path=path, title=title, caption=caption, section=section))

    def skip(self, section, what, why):
        self.section(section)
        self.skipped.append((section, what, why))


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
                         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.25})
    return plt


def _message_panel(ax, msg):
    ax.set_axis_off()
    ax.text(0.5, 0.5, msg, ha="center", va="center", fontsize=11, wrap=True, transform=ax.transAxes,
            bbox=dict(boxstyle="round,pad=0.6", fc="#f4f4f4", ec="#bbbbbb"))


def _ccdf(values, n_total):
    """Sorted values and the fraction of all n_total paths (or rows) with value >= each."""
    x = np.sort(values)
    y = (len(x) - np.arange(len(x))) / n_total
    return x, y


def _spans(mask):
    """[(start, end)] index spans where mask is true."""
    if not len(mask):
        return []
    m = np.concatenate([[False], mask, [False]]).astype(int)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _pct(v):
    if v >= 0.01:
        return f"{v * 100:.0f}%"
    return f"{v * 100:.2g}%"


def _log_ticks(ax, axis, lo, hi, formatter):
    """Readable log ticks: 1-2-5 steps when the range spans few decades, decades otherwise."""
    from matplotlib.ticker import LogLocator, NullFormatter
    span = math.log10(max(hi, 1e-300) / max(lo, 1e-300)) if lo > 0 and hi > 0 else 10
    subs = (1.0, 2.0, 5.0) if span <= 2.5 else (1.0,)
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(LogLocator(base=10, subs=subs))
    a.set_major_formatter(formatter)
    a.set_minor_formatter(NullFormatter())


def _nice_bin(seconds_total):
    target = seconds_total / 96.0
    for b in (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400):
        if b >= target:
            return float(b)
    return float(target)


def _dur(s):
    for unit, d in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if s >= d and abs(s / d - round(s / d)) < 1e-9:
            return f"{int(round(s / d))} {unit}"
    return f"{s:g} s"


def _fan_bands(ax, t, P, who):
    """5-95% and 25-75% bands and the median of the price matrix P (paths x times) at times t."""
    qs = [0.05, 0.25, 0.5, 0.75, 0.95]
    # np.quantile is vectorized over columns; nanquantile loops over them (slow for long series)
    q = np.quantile(P, qs, axis=0) if np.isfinite(P).all() else np.nanquantile(P, qs, axis=0)
    ax.fill_between(t, q[0], q[4], color="#9ecae1", alpha=0.55, lw=0, label=f"5–95% of {who}")
    ax.fill_between(t, q[1], q[3], color="#4292c6", alpha=0.55, lw=0, label="25–75%")
    ax.plot(t, q[2], color="#08306b", lw=1.2, label="median")
    ax.set_xlim(t[0], t[-1])


def _regime_share(axr, t, R, names, tunit):
    """Lower panel: the share of the paths (rows of R, regime indices at times t) in each regime but the first."""
    colors = ["#e31a1c", "#ff7f00", "#6a3d9a", "#b15928", "#33a02c"]
    for ri in range(1, len(names)):
        axr.fill_between(t, 0, (R == ri).mean(axis=0), step="post", color=colors[(ri - 1) % 5], alpha=0.5, lw=0,
                         label=f"share in {names[ri]}")
    axr.set_ylim(0, 1)
    axr.set_ylabel("share of paths")
    axr.legend(loc="upper left", ncols=max(1, len(names) - 1))
    axr.set_xlabel(f"time ({tunit})")


def _per_path_bins(path, b, w, nbins):
    """Per (path, interval) sums of w, only where some event is: (interval of each, sum of each)."""
    key = path * nbins + b
    uniq, inv = np.unique(key, return_inverse=True)
    return uniq % nbins, np.bincount(inv, weights=w, minlength=len(uniq))


def _quantiles_with_zeros(bins, vals, nbins, n, qs):
    """For each interval, order-statistic quantiles over n paths of a value that is 0 except in
    (bins, vals): the q-quantile is the ceil(q n)-th smallest of the n paths' values."""
    out = np.zeros((len(qs), nbins))
    order = np.lexsort((vals, bins))
    bins, vals = bins[order], vals[order]
    starts = np.searchsorted(bins, np.arange(nbins + 1))
    for j in range(nbins):
        v = vals[starts[j]:starts[j + 1]]
        nz = n - len(v)  # paths with 0 in this interval, the smallest values
        for i, q in enumerate(qs):
            r = max(1, math.ceil(q * n - 1e-9))
            out[i, j] = 0.0 if r <= nz else v[r - nz - 1]
    return out


def _liquidations_figure(figs, plt, rel, section, title, ev, src, base, H2, div, tunit):
    """Share of paths liquidating in each interval, and quantiles over paths of liquidations
    (and notional) per interval: the tail that a mean over paths would hide."""
    times = ev["t"]
    if not H2:
        H2 = float(times.max()) if len(times) else 86400.0
    bw = _nice_bin(H2)
    edges = np.arange(0, H2 + bw, bw)
    if edges[-1] < H2:
        edges = np.append(edges, edges[-1] + bw)
    nb = len(edges) - 1
    total = float(np.sum(ev["n"])) if len(ev["n"]) else 0.0
    if total <= 0:
        fig, ax = plt.subplots(figsize=(9, 2.6), layout="constrained")
        _message_panel(ax, f"no liquidations in any of the {base} paths")
        ax.set_title(f"{title}: liquidations over time")
        figs.save(fig, rel("liquidations.png"), section, "Liquidations over time",
                  f"There were no liquidations in any of the {base} paths (from {src}).")
        return
    binof = lambda t: np.clip(np.searchsorted(edges, t, side="right") - 1, 0, nb - 1)  # noqa: E731
    b0 = binof(times)
    # Paths with at least one liquidation in each interval. A cascade's start and end are
    # liquidations, and no two of its consecutive liquidations are more than stats.cascade_gap
    # apart: when that gap is at most the interval, every interval from its start to its end
    # has one of them (exact); otherwise only the first and last intervals are counted.
    pb = ev["path"] * nb + b0
    long_cascades, exact_share = 0, True
    if ev["t_end"] is not None:
        b1 = binof(ev["t_end"])
        gap = ev.get("gap")
        exact_share = gap is not None and gap <= bw
        span = b1 - b0
        if exact_share and np.any(span > 1):
            reps = span + 1
            offs = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
            pb = np.repeat(ev["path"] * nb + b0, reps) + offs
        else:
            pb = np.concatenate([pb, ev["path"] * nb + b1])
            long_cascades = int(np.sum(span > 1))
    pb = np.unique(pb)
    share = np.bincount(pb % nb, minlength=nb) / base
    any_path = len(np.unique(ev["path"])) / base
    share_ind = None
    if ev["ind"] is not None:
        m = ev["ind"] > 0
        share_ind = np.bincount(np.unique(ev["path"][m] * nb + b0[m]) % nb, minlength=nb) / base
    # A quantile whose order statistic is the largest would repeat the maximum: left out.
    cand = [(0.5, "median"), (0.9, "90%"), (0.99, "99%")]
    kept = [(q, nm) for q, nm in cand if math.ceil(q * base - 1e-9) < base]
    dropped = [nm for q, nm in cand if (q, nm) not in kept]
    qs, qnames = [q for q, _ in kept] + [1.0], [nm for _, nm in kept] + ["max"]
    qcolors = {"median": "#fcae91", "90%": "#fb6a4a", "99%": "#de2d26", "max": "#67000d"}
    panels = [("n", "liquidations of one path\nin the interval", None)]
    if ev["x"] is not None:
        panels.append(("x", "liquidated notional of one\npath in the interval (USD)", money_formatter()))
    fig, axes = plt.subplots(1 + len(panels), 1, figsize=(10, 2.6 + 2.3 * len(panels)), sharex=True,
                             squeeze=False, layout="constrained", height_ratios=[1] + [1.3] * len(panels))
    axes = axes[:, 0]
    x = edges[:-1] / div
    width = bw / div
    ax = axes[0]
    ax.bar(x, share, width, align="edge", color="#fc9272", label="paths with ≥ 1 liquidation")
    if share_ind is not None:
        ax.bar(x, share_ind, width, align="edge", color="#cb181d", label="… of them with ≥ 1 impact-triggered liquidation")
    ax.set_ylabel(f"share of paths\nper {_dur(bw)}")
    ax.yaxis.set_major_formatter(pct_formatter())
    ax.set_ylim(0, max(float(share.max()) * 1.15, 0.01))
    ax.legend(loc="upper right", fontsize=7)
    for ax, (col, ylabel, fmt) in zip(axes[1:], panels):
        pbins, vals = _per_path_bins(ev["path"], b0, ev[col], nb)
        Q = _quantiles_with_zeros(pbins, vals, nb, base, qs)
        mean = np.bincount(b0, weights=ev[col], minlength=nb) / base
        xs = np.append(x, edges[-1] / div)
        for qn, row in zip(qnames[::-1], Q[::-1]):
            ax.stairs(row, xs, color=qcolors[qn], lw=1.3, label=qn + (" (0 throughout)" if not row.any() else ""))
        ax.stairs(mean, xs, color="#636363", lw=1.0, ls="--", label="mean (for reference)")
        ax.set_yscale("symlog", linthresh=1.0 if col == "n" else max(1.0, float(np.min(vals[vals > 0])) if np.any(vals > 0) else 1.0))
        ax.set_ylim(0, max(float(Q[-1].max()), float(mean.max()), 1.0) * 2)
        ax.set_ylabel(ylabel)
        if fmt is not None:
            ax.yaxis.set_major_formatter(fmt)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, title="over paths", title_fontsize=7)
    axes[-1].set_xlabel(f"time ({tunit})")
    axes[-1].set_xlim(0, edges[-1] / div)
    worst = int(np.argmax(share))
    axes[0].set_title(f"{title}: liquidations over time — {any_path:.0%} of the {base:,} paths liquidate at some "
                      f"point; at most {share[worst]:.0%} in one {_dur(bw)} interval")
    cap = (f"{any_path:.1%} of the {base:,} paths liquidate at some point; at most {share[worst]:.1%} of them in one "
           f"{_dur(bw)} interval (the one starting at {worst * bw / div:g} {tunit}). From {src}. "
           f"Top: the share of the {base:,} paths with at least one "
           f"liquidation in the interval"
           + (" (darker: with at least one impact-triggered liquidation — one that the oracle price without "
              "impact would not have triggered at that moment: liquidated earlier, or only, because of impact)" if share_ind is not None else "")
           + ". Below: across the paths, the " + ", ".join(qnames[:-1])
           + (" quantiles" if len(qnames) > 2 else "") + " and the maximum of each "
           f"path's liquidations{' and liquidated notional' if ev['x'] is not None else ''} in the interval "
           f"(order statistics over all {base:,} paths, a path without liquidations counting as 0; "
           f"a log scale, linear near 0), and dashed the mean over paths, which spreads a few paths' cascades "
           f"over all of them.")
    if dropped:
        cap += (f" With {base} paths the {' and '.join(dropped)} quantile{'s' if len(dropped) > 1 else ''} would be "
                f"the maximum and {'are' if len(dropped) > 1 else 'is'} not drawn.")
    if ev["t_end"] is not None:
        cap += (" The quantiles and the impact-triggered share place each cascade's liquidations and notional at its start (one that crosses an "
                "interval boundary counts in the interval where it starts; record output.liquidations: true for "
                "exact times).")
        if exact_share:
            cap += (" The shares are exact: liquidations of a cascade are at most stats.cascade_gap apart, no longer "
                    "than an interval, so a path liquidates in every interval from its cascade's first to its last "
                    "liquidation.")
        else:
            cap += (" A path counts as liquidating in the intervals of its cascades' first and last liquidations"
                    + (f"; {long_cascades} cascades span more than two intervals, whose middle intervals are not "
                       f"counted." if long_cascades else "."))
    figs.save(fig, rel("liquidations.png"), section, "Liquidations over time", cap)


def run_figures(figs, g, prefix, section, title):
    """The figures of one run group `g` (the root, /models/<v> or /sweep/runs/<c>) into DIR/prefix."""
    plt = _plt()
    rel = lambda name: os.path.join(prefix, name) if prefix else name  # noqa: E731
    s = g["paths/summary"][:] if "paths/summary" in g else None
    npaths = len(s) if s is not None else int(attr(g.file, "paths", 0) or 0)
    ts = g["timeseries"] if "timeseries" in g else None
    has_ts = ts is not None and "price" in ts and ts["price"].shape[0] > 0 and ts["time"].shape[0] > 1
    fan = ts["fan"] if ts is not None and "fan" in ts and ts["fan"]["price"].shape[0] > 1 else None
    fund0 = insurance_fund(g)
    H = horizon_seconds(g)
    if has_ts:
        t_sec = ts["time"][:]
        H = H or float(t_sec[-1])
    elif fan is not None:
        H = H or float(fan["time"][-1])
    div, tunit = time_scale(H)

    # 1. Fan chart of the price paths: bands over /timeseries/fan (many paths, coarse times) when
    # present, else over the traced paths; the traced path with the most liquidations on top.
    if fan is not None and not has_ts:
        fnames = (attr(fan["regime"], "names", "") or "").split(",") if "regime" in fan else []
        tf = fan["time"][:] / div
        if len(fnames) > 1:
            fig, (ax, axr) = plt.subplots(2, 1, figsize=(10, 6.2), sharex=True, height_ratios=[4, 1],
                                          layout="constrained")
            _regime_share(axr, tf, fan["regime"][:], fnames, tunit)
        else:
            fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
            ax.set_xlabel(f"time ({tunit})")
        _fan_bands(ax, tf, fan["price"][:], f"{fan['price'].shape[0]:,} paths")
        ax.set_ylabel("price (USD)")
        ax.yaxis.set_major_formatter(price_formatter())
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, frameon=False)
        fig.suptitle(f"{title}: price paths")
        nb = fan["price"].shape[0]
        figs.save(fig, rel("path.png"), section, "Price paths",
                  f"Quantile bands of the exogenous price over the first {nb:,} of the {npaths:,} paths "
                  f"(/timeseries/fan, {fan['time'].shape[0]} times). No path is traced "
                  f"(output.timeseries.paths = 0), so no mark or oracle price is drawn."
                  + (f" Lower panel: the share of these paths in the {', '.join(fnames[1:])} regime over time."
                     if len(fnames) > 1 else ""))
    if has_ts:
        t = t_sec / div
        P = ts["price"][:]
        ntr = P.shape[0]
        liq_ts = ts["liquidations"][:] if "liquidations" in ts else None
        if liq_ts is not None and liq_ts.sum() > 0:
            k = int(np.argmax(liq_ts.sum(axis=1)))
            why = f"the traced path with the most liquidations, {int(liq_ts[k].sum()):,}"
        else:
            dd = 1 - P.min(axis=1) / P[:, 0]
            k = int(np.argmax(dd))
            why = "the traced path with the deepest fall"
        regime = ts["regime"][:] if "regime" in ts else None
        rnames = (attr(ts["regime"], "names", "") or "").split(",") if regime is not None else []
        multi = regime is not None and len(rnames) > 1
        if multi:
            fig, (ax, axr) = plt.subplots(2, 1, figsize=(10, 6.2), sharex=True, height_ratios=[4, 1],
                                          layout="constrained")
        else:
            fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
        if fan is not None:
            nb = fan["price"].shape[0]
            _fan_bands(ax, fan["time"][:] / div, fan["price"][:], f"{nb:,} paths")
            band_note = (f"Bands: quantiles of the exogenous price over the first {nb:,} of the {npaths:,} paths "
                         f"(/timeseries/fan, {fan['time'].shape[0]} times).")
        else:
            _fan_bands(ax, t, P, f"{ntr} traced paths")
            band_note = (f"Bands: quantiles of the exogenous price over the {ntr} paths recorded in /timeseries — "
                         f"only the first {ntr} of the {npaths} paths (output.timeseries.paths; the file has no "
                         f"/timeseries/fan), so they describe those few paths, not the whole run.")
        ax.plot(t, P[k], color="black", lw=0.7, alpha=0.8, label=f"path {k}: exogenous")
        if "mark" in ts:
            ax.plot(t, ts["mark"][k], color="#d94801", lw=0.9, label=f"path {k}: mark")
        if "oracle" in ts:
            ax.step(t, ts["oracle"][k], where="post", color="#238b45", lw=0.9, label=f"path {k}: oracle (step)")
        shade_note = ""
        if multi:
            shades = ["#969696", "#c994c7", "#fdd0a2", "#a1d99b", "#bcbddc"]
            for ri in range(1, len(rnames)):
                first = True
                for a, b in _spans(regime[k] == ri):
                    ax.axvspan(t[a], t[min(b, len(t) - 1)], color=shades[(ri - 1) % 5], alpha=0.22, lw=0,
                               zorder=0, label=f"path {k} in {rnames[ri]}" if first else None)
                    first = False
            if fan is not None and "regime" in fan:
                _regime_share(axr, fan["time"][:] / div, fan["regime"][:], rnames, tunit)
                share_of = f"{fan['regime'].shape[0]:,} paths"
            else:
                _regime_share(axr, t, regime, rnames, tunit)
                share_of = f"{ntr} traced paths"
            shade_note = (f" Shading: path {k}'s spells in the {', '.join(rnames[1:])} regime; lower panel: the "
                          f"share of the {share_of} in it over time.")
        else:
            ax.set_xlabel(f"time ({tunit})")
        ax.set_ylabel("price (USD)")
        ax.yaxis.set_major_formatter(price_formatter())
        ax.set_xlim(t[0], t[-1])
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, frameon=False)
        fig.suptitle(f"{title}: price paths")
        figs.save(fig, rel("path.png"), section, "Price paths",
                  f"{band_note} Path {k} ({why}) is drawn with its exogenous and mark price "
                  f"(exogenous × liquidation impact) and the oracle's published price as a step line.{shade_note}")
    elif fan is None:
        figs.skip(section, "price paths", "no /timeseries in this group (or no traced paths)")

    # 2. Liquidations over time: per path and interval, so that a few paths' cascades are not
    # spread over every path as a mean would. What is recorded decides how exact the counts are.
    H2 = H
    src = None
    if "liquidations" in g and hasattr(g["liquidations"], "dtype") and g["liquidations"].dtype.names:
        L = g["liquidations"][:]
        ev = dict(path=L["path"].astype(np.int64), t=L["time"] / 1000.0, n=np.ones(len(L)),
                  x=L["notional"].astype(float),
                  ind=(L["impact_triggered"] != 0).astype(float) if "impact_triggered" in L.dtype.names else None, t_end=None)
        src = f"/liquidations (every liquidation of all {npaths} paths, at its time)"
        base = npaths
    elif "cascades" in g:
        C = g["cascades"][:]
        ev = dict(path=C["path"].astype(np.int64), t=C["start"].astype(float), n=C["liquidations"].astype(float),
                  x=C["notional"].astype(float),
                  ind=C["impact_triggered"].astype(float) if "impact_triggered" in C.dtype.names else None,
                  t_end=C["end"].astype(float), gap=seconds(cfg_get(config(g), "stats.cascade_gap")))
        src = f"/cascades (all {npaths} paths; each cascade's liquidations and notional counted at its start)"
        base = npaths
    elif has_ts and "liquidations" in ts:
        tl = ts["liquidations"][:].astype(float)
        P, T = np.nonzero(tl)
        ev = dict(path=P.astype(np.int64), t=t_sec[T], n=tl[P, T], x=None, ind=None, t_end=None)
        src = (f"/timeseries (the {tl.shape[0]} traced paths only, liquidations since the previous sample; "
               f"no notional recorded there)")
        base = tl.shape[0]
    if src is None:
        figs.skip(section, "liquidations over time", "no /liquidations, /cascades or /timeseries")
    else:
        _liquidations_figure(figs, plt, rel, section, title, ev, src, base, H2, div, tunit)

    # 3. Bad debt CCDF
    if s is not None and "bad_debt" in s.dtype.names:
        bd = s["bad_debt"].astype(float)
        bd = bd[np.isfinite(bd)]
        pos = bd[bd > 0]
        nzero = len(bd) - len(pos)
        fig, ax = plt.subplots(figsize=(8, 5.4) if len(pos) else (7.5, 2.8), layout="constrained")
        fund_txt = f"the insurance fund at the start is {money(fund0)} USD" if fund0 is not None else \
            "the insurance fund size is not in the configuration"
        if len(pos) == 0:
            _message_panel(ax, f"no bad debt in any path\n({len(bd)} of {len(bd)} paths have zero bad debt;\n"
                               f"{fund_txt})")
            cap = f"No bad debt in any path (all {len(bd)} have zero), so there is no distribution to draw; {fund_txt}."
        else:
            xs, ys = _ccdf(pos, len(bd))
            ax.step(xs, ys, where="post", color="#cb181d", lw=1.3)
            ax.plot(xs, ys, "o", color="#cb181d", ms=3, label=f"{_plural(len(pos), 'path')} with bad debt > 0")
            ax.plot([], [], " ", label=f"{nzero} of {len(bd)} paths ({nzero / len(bd):.0%}) with zero bad debt "
                                       f"(not on the log axis)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if fund0 is not None and fund0 > 0:
                ax.axvline(fund0, color="#08519c", ls="--", lw=1.2, label=f"insurance fund at start: {money(fund0)}")
                # Two counts that differ on purpose, named apart: bad debt above the fund's starting
                # balance, and insolvency (the event of P(insolvency)): bad debt beyond the fund as it
                # stood, which penalties may have grown in the meantime.
                beyond = int(np.sum(pos > fund0))
                ax.plot([], [], " ", label=f"{_plural(beyond, 'path')} ({beyond / len(bd):.1%}) with bad debt above "
                                           f"the fund's starting balance")
                if "insolvent" in s.dtype.names:
                    ins = int(np.sum(s["insolvent"] > 0))
                    ax.plot([], [], " ", label=f"{_plural(ins, 'path')} ({ins / len(s):.1%}) insolvent: bad debt "
                                               f"beyond the fund as it stood (= P(insolvency))")
            lo_x = min(xs[0], fund0 if fund0 else xs[0]) / 1.5
            hi_x = max(xs[-1], fund0 if fund0 else xs[-1]) * 1.5
            ax.set_xlim(lo_x, hi_x)
            ax.set_ylim(0.7 / len(bd), 1.3)
            _log_ticks(ax, "x", lo_x, hi_x, money_formatter())
            _log_ticks(ax, "y", 0.7 / len(bd), 1.3, pct_formatter())
            ax.set_xlabel("bad debt per path, x (USD)")
            ax.set_ylabel("P(bad debt ≥ x): share of paths")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False)
            cap = (f"Complementary CDF of bad debt per path (shortfall of collateral + PnL at the fills, before the "
                   f"insurance fund) over all {len(bd)} paths, on log axes; {nzero} paths "
                   f"({nzero / len(bd):.0%}) had zero bad debt and are left out of the axis but counted in the "
                   f"shares; {fund_txt}. Paths with bad debt above the fund's starting balance are not all "
                   f"insolvent: penalties paid into the fund during the path can cover the excess, and insolvency "
                   f"(the event of P(insolvency)) counts only bad debt beyond the fund as it stood.")
        ax.set_title(f"{title}: distribution of bad debt")
        figs.save(fig, rel("bad_debt.png"), section, "Distribution of bad debt", cap)
    else:
        figs.skip(section, "bad debt distribution", "no paths/summary")

    # 4. Cascade sizes
    if "cascades" in g:
        C = g["cascades"][:]
        if len(C) == 0:
            fig, ax1 = plt.subplots(figsize=(9, 2.6), layout="constrained")
            _message_panel(ax1, f"no cascades in any of the {npaths} paths")
            ax1.set_title(f"{title}: cascade sizes")
            cap = f"No cascades in any of the {npaths} paths: no run of liquidations to measure."
        else:
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
            notes = []
            for ax, col, lab, color in ((ax1, "notional", "cascade notional, x (USD)", "#6a51a3"),
                                        (ax2, "liquidations", "liquidations in the cascade, x", "#d94801")):
                v = C[col].astype(float)
                v = v[np.isfinite(v)]
                p = v[v > 0]
                if len(p) == 0:
                    _message_panel(ax, f"every cascade has zero {col}")
                    continue
                xs, ys = _ccdf(p, len(v))
                ax.step(xs, ys, where="post", color=color, lw=1.3)
                ax.plot(xs, ys, "o", color=color, ms=2.5)
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlabel(lab)
                ax.set_ylabel("P(size ≥ x): share of cascades")
                ax.set_ylim(0.7 / len(v), 1.3)
                _log_ticks(ax, "x", xs[0], xs[-1], money_formatter())
                _log_ticks(ax, "y", 0.7 / len(v), 1.3, pct_formatter())
                if len(v) - len(p):
                    notes.append(f"{len(v) - len(p)} cascades with zero {col} left out")
            ax1.set_title(f"{title}: {len(C)} cascades, notional")
            ax2.set_title("liquidations per cascade")
            cap = (f"Complementary CDF of the size of every cascade of all {npaths} paths ({len(C)} cascades, "
                   f"{len(C) / max(npaths, 1):.1f} per path), log–log: a straight tail means a power law. "
                   + ("; ".join(notes) + "." if notes else ""))
        figs.save(fig, rel("cascades.png"), section, "Cascade sizes", cap)
    else:
        figs.skip(section, "cascade sizes", "no /cascades")

    # 5. Insurance fund
    if has_ts and "insurance_fund" in ts:
        t = t_sec / div
        F = ts["insurance_fund"][:]
        start = fund0 if fund0 is not None else float(F[0, 0])
        fig, ax = plt.subplots(figsize=(10, 4.2), layout="constrained")
        for i, row in enumerate(F):
            ax.plot(t, row, lw=1.1, color=PATH_COLORS[i % len(PATH_COLORS)], label=f"path {i}" if len(F) <= 10 else None)
        ax.axhline(start, color="black", ls="--", lw=1, label=f"start: {money(start)}")
        ax.axhline(0, color="black", lw=0.6, ls=":")
        ax.yaxis.set_major_formatter(money_formatter())
        ax.set_ylabel("insurance fund (USD)")
        ax.set_xlabel(f"time ({tunit})")
        ax.set_xlim(t[0], t[-1])
        lo = min(0.0, float(np.nanmin(F)))
        ax.set_ylim(lo - 0.05 * (start - lo + 1), max(start, float(np.nanmax(F))) * 1.08 + 1)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="traced path")
        drawn = int(np.sum(F.min(axis=1) < start - 1e-6))
        empty = int(np.sum(F.min(axis=1) <= 1e-6))
        ax.set_title(f"{title}: insurance fund — drawn on in {drawn} of {len(F)} traced paths, emptied in {empty}")
        figs.save(fig, rel("insurance_fund.png"), section, "Insurance fund",
                  f"Balance of the insurance fund over time on each of the {len(F)} traced paths (/timeseries; "
                  f"the first {len(F)} of {npaths} paths). Dashed: the starting balance. It falls when it pays "
                  f"bad debt and grows with the penalties' protocol share.")
    else:
        figs.skip(section, "insurance fund", "no /timeseries in this group (or no traced paths)")

    # 6. Drawdown against liquidated notional
    if s is not None and "max_drawdown" in s.dtype.names and "liquidated_notional" in s.dtype.names:
        fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
        dd = s["max_drawdown"] * 100
        ln = s["liquidated_notional"]
        if not np.any(ln > 0):
            from matplotlib.ticker import MaxNLocator
            ax.hist(dd, bins=min(40, max(5, len(dd) // 3)), color="#4292c6", edgecolor="white")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("max drawdown of the exogenous price (%)")
            ax.set_ylabel("paths")
            ax.set_title(f"{title}: no liquidation in any path — max drawdown of the {len(s)} paths")
            cap = (f"No path of {len(s)} had a liquidation, so there is nothing to set against the market's "
                   f"fall: the histogram of each path's largest fall from a running peak.")
        else:
            bad = s["bad_debt"] > 0 if "bad_debt" in s.dtype.names else np.zeros(len(s), bool)
            ax.scatter(dd[~bad], ln[~bad], s=12, alpha=0.6, color="#4292c6",
                       label=f"no bad debt ({int((~bad).sum())})")
            if bad.any():
                ax.scatter(dd[bad], ln[bad], s=16, alpha=0.8, color="#cb181d", marker="D",
                           label=f"with bad debt ({int(bad.sum())})")
            ax.set_xlabel("max drawdown of the exogenous price (%)")
            ax.set_ylabel("liquidated notional per path (USD)")
            ax.yaxis.set_major_formatter(money_formatter())
            ax.set_ylim(bottom=0)
            ax.legend(loc="upper left")
            ax.set_title(f"{title}: market fall against liquidations")
            cap = (f"Each of the {len(s)} paths: its largest fall from a running peak against the notional "
                   f"liquidated; red diamonds: paths that ended with bad debt.")
        figs.save(fig, rel("drawdown.png"), section, "Market fall against liquidations", cap)


# ---------------------------------------------------------------------------
# Compare files

HEADLINE_COMPARE = (("bad_debt.mean", "mean bad debt per path (USD)"),
                    ("insolvency.probability", "P(insolvency)"),
                    ("liquidations.mean", "mean liquidations per path"),
                    ("largest_cascade_notional.mean", "mean largest cascade\nnotional per path (USD)"))


def _short_names(names, n=12):
    return [x if len(x) <= n else x[: n - 1] + "…" for x in names]


def compare_figures(figs, f):
    plt = _plt()
    key = text(f.attrs["compare"])
    m = f["compare/models"][:]
    names = [text(v) for v in m["model"]]
    groups = [f["models"][n.replace("/", "|")] for n in names]
    sec = f"Models compared ({key})"
    colors = plt.get_cmap("tab10")
    rot = 30 if max(len(n) for n in names) * len(names) > 40 else 0

    # headline bars
    fig, axes = plt.subplots(1, 5, figsize=(15, 4.0), layout="constrained")
    x = np.arange(len(names))
    for ax, (st, lab) in zip(axes, HEADLINE_COMPARE):
        vals = np.array([stat(g, st) for g in groups])
        v, lo, hi = vals[:, 0], vals[:, 1], vals[:, 2]
        err = np.array([np.maximum(v - lo, 0), np.maximum(hi - v, 0)])
        ax.bar(x, v, color=[colors(i % 10) for i in range(len(names))], alpha=0.8)
        ax.errorbar(x, v, yerr=err, fmt="none", ecolor="black", capsize=4, lw=1)
        unit = "probability" if st.endswith("probability") else ("USD" if "USD" in lab else "")
        for xi, vi, hii in zip(x, v, hi):
            ax.annotate(fmt(vi, unit), (xi, hii if np.isfinite(hii) else vi), textcoords="offset points",
                        xytext=(0, 3), ha="center", fontsize=8)
        ax.set_title(lab)
        ax.set_xticks(x, _short_names(names), rotation=rot, ha="right" if rot else "center")
        ax.yaxis.set_major_formatter(money_formatter())
        ax.margins(y=0.15)
        ax.set_ylim(bottom=0)
    ax = axes[4]
    same_im = margin_unchanged(m)
    if same_im:
        _message_panel(ax, f"capital efficiency left out:\nevery value of {key}\nasks the same initial margin")
    else:
        ax.bar(x, m["im_per_risk"], color=[colors(i % 10) for i in range(len(names))], alpha=0.8)
        for xi, vi in zip(x, m["im_per_risk"]):
            ax.annotate(f"{vi:.2f}", (xi, vi), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
        ax.axhline(1, color="grey", ls="--", lw=1)
        ax.set_title("initial margin / one-day 99% risk\n(capital efficiency; no interval)")
        ax.set_xticks(x, _short_names(names), rotation=rot, ha="right" if rot else "center")
        ax.margins(y=0.15)
    fig.suptitle(f"{text(f.attrs['name'])}: headline statistics per value of {key} (95% intervals)")
    figs.save(fig, "headline.png", sec, "Headline statistics per model",
              f"Each value of {key} on the same {attr(f, 'paths')} paths and book: means with their bootstrap-t 95% "
              f"interval, P(insolvency) with its Wilson 95% interval, and "
              + (f"no capital-efficiency panel: every value of {key} asks the same initial margin of the book, so "
                 f"initial margin per unit of risk would compare equal numbers. " if same_im else
                 "the book's initial margin per unit of one-day 99% risk at the start (below 1: the model asks less "
                 "than a one-day 99% loss). ")
              + "The intervals here are those of each model alone; the paired differences below are much tighter.")

    # trade-off: only when the compared key changes the margin requirement
    if same_im:
        return _compare_rest(figs, f, plt, key, m, names, groups, sec, colors, rot)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    for i, (n, g) in enumerate(zip(names, groups)):
        xv = m["im_per_risk"][i]
        v, lo, hi = stat(g, "bad_debt.mean")
        ax.errorbar([xv], [v], yerr=[[max(v - lo, 0)], [max(hi - v, 0)]], fmt="o", capsize=4, color=colors(i % 10),
                    label=n)
        p, plo, phi = m["insolvency_p"][i], m["insolvency_lo"][i], m["insolvency_hi"][i]
        ax2.errorbar([xv], [p], yerr=[[p - plo], [phi - p]], fmt="o", capsize=4, color=colors(i % 10), label=n)
    for a in (ax, ax2):
        a.set_xlabel("initial margin / one-day 99% risk at the start")
        a.legend(title=key)
        a.margins(x=0.25, y=0.1)
    ax.set_ylabel("mean bad debt per path (USD)")
    ax.yaxis.set_major_formatter(money_formatter())
    ax2.set_ylabel("P(insolvency), Wilson 95%")
    ax.set_title("bad debt against capital efficiency")
    ax2.set_title("insolvency against capital efficiency")
    fig.suptitle(f"{text(f.attrs['name'])}: capital efficiency against stress ({key})")
    figs.save(fig, "tradeoff.png", sec, "Capital efficiency against stress",
              "Left: mean bad debt per path (95% interval); right: probability of insolvency (Wilson 95%), "
              "each against the initial margin the model asks per unit of one-day 99% risk. Up and to the left "
              "is worse: less margin, more loss.")
    return _compare_rest(figs, f, plt, key, m, names, groups, sec, colors, rot)


def _compare_rest(figs, f, plt, key, m, names, groups, sec, colors, rot):
    """The figures after the trade-off: paired differences and the rest; returns (names, groups)."""

    # paired differences
    d = f["compare/differences"][:]
    meta = columns_meta(groups[0])
    stats_ = [text(x) for x in dict.fromkeys(d["statistic"])]
    # leave out statistics that are exactly zero for every model (nothing to see)
    dstat = np.array([text(x) for x in d["statistic"]])
    nonzero = (d["diff"] != 0) | (d["lo"] != 0) | (d["hi"] != 0)
    shown = [s_ for s_ in stats_ if np.any(nonzero[dstat == s_])]
    hidden = [s_ for s_ in stats_ if s_ not in shown]
    if shown:
        ncol = 4 if len(shown) > 6 else min(3, len(shown))
        nrow = (len(shown) + ncol - 1) // ncol
        others = [n for n in names[1:]]
        fig, axes = plt.subplots(nrow, ncol, figsize=(13, 0.7 + nrow * (0.9 + 0.35 * len(others))), squeeze=False,
                                 layout="constrained")
        for ax in axes.flat[len(shown):]:
            ax.set_axis_off()
        for ax, st in zip(axes.flat, shown):
            rows = d[[text(x) == st for x in d["statistic"]]]
            y = np.arange(len(rows))
            ax.errorbar(rows["diff"], y, xerr=[rows["diff"] - rows["lo"], rows["hi"] - rows["diff"]], fmt="o",
                        capsize=3, color="#08519c")
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_yticks(y, _short_names([text(r) for r in rows["model"]]))
            ax.set_ylim(-0.6, len(rows) - 0.4)
            prob = int(rows["probability"][0]) == 1
            unit = "probability" if prob else (meta.get(st, ("",))[0])
            ax.set_title(f"{st} ({'difference of P' if prob else unit or 'difference'})", fontsize=8.5)
            if unit == "USD" or unit == "count":
                ax.xaxis.set_major_formatter(money_formatter())
            ax.locator_params(axis="x", nbins=4)
        fig.suptitle(f"paired differences against {text(d['baseline'][0])}, mean over paths with 95% interval")
        figs.save(fig, "differences.png", sec, "Paired differences",
                  f"For each statistic, the mean over paths of (model − {text(d['baseline'][0])}) on the same path, "
                  f"with its 95% interval; an interval that misses 0 is a difference the run resolves."
                  + (f" Not drawn (zero for every model): {', '.join(hidden)}." if hidden else ""))
    return names, groups


# ---------------------------------------------------------------------------
# Sweep files

def _safe(name):
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def _stat_label(name, meta):
    unit = stat_unit(name, meta)
    base, _, field = name.rpartition(".")
    if field == "probability":
        return f"P({base})"
    nice = {"mean": "mean", "q50": "median", "q90": "90% quantile", "q99": "99% quantile",
            "q999": "99.9% quantile", "es99": "99% expected shortfall", "q01": "1% quantile",
            "q001": "0.1% quantile", "es01": "expected shortfall of the lowest 1%", "sd": "sd", "min": "min",
            "max": "max"}
    return f"{base} {nice.get(field, field)}" + (f" ({unit})" if unit and unit not in ("", "flag") else "")


def sweep_figures(figs, f, sw):
    plt = _plt()
    sec = f"Sweep over {', '.join(k for k, _, _ in sw.axes)}"
    b = sw.baseline
    nax = len(sw.axes)
    if nax >= 2:
        fixed = [(a, sw.index[b, a]) for a in range(2, nax)]
        sel = [c for c in range(sw.ncells) if all(sw.index[c, a] == i for a, i in fixed)]
        fixed_txt = ", ".join(f"{sw.axes[a][0]} = {sw.axes[a][1][i]}" for a, i in fixed)
        (k0, v0, _), (k1, v1, _) = sw.axes[0], sw.axes[1]
        n0, n1 = len(v0), len(v1)
        for name in sw.show:
            unit = stat_unit(name, sw.meta)
            M = np.full((n0, n1), np.nan)
            LO, HI = M.copy(), M.copy()
            for c in sel:
                i, j = sw.index[c, 0], sw.index[c, 1]
                M[i, j], LO[i, j], HI[i, j] = sw.stat(c, name)
            fig, ax = plt.subplots(figsize=(max(5.5, 1.25 * n1 + 3.0), max(3.6, 0.75 * n0 + 2.0)),
                                   layout="constrained")
            finite = M[np.isfinite(M)]
            vmin, vmax = (float(finite.min()), float(finite.max())) if len(finite) else (0, 1)
            if vmin == vmax:
                vmin, vmax = vmin - 0.5 * (abs(vmin) or 1), vmax + 0.5 * (abs(vmax) or 1)
            im = ax.imshow(np.ma.masked_invalid(M), origin="lower", aspect="auto", cmap="YlOrRd", vmin=vmin,
                           vmax=vmax)
            cb = fig.colorbar(im, ax=ax, shrink=0.9)
            cb.set_label(_stat_label(name, sw.meta))
            if unit in ("USD", "count", ""):
                cb.ax.yaxis.set_major_formatter(money_formatter())
            small = n1 > 8 or n0 > 10
            for i in range(n0):
                for j in range(n1):
                    if not np.isfinite(M[i, j]):
                        ax.text(j, i, "n/a", ha="center", va="center", color="grey", fontsize=8)
                        continue
                    val = fmt(M[i, j], unit)
                    iv = fmt_interval(LO[i, j], HI[i, j], unit)
                    frac = (M[i, j] - vmin) / (vmax - vmin)
                    col = "white" if frac > 0.6 else "black"
                    ax.text(j, i + (0.12 if iv and not small else 0), val, ha="center", va="center", color=col,
                            fontsize=8 if small else 10, fontweight="bold")
                    if iv and not small:
                        ax.text(j, i - 0.2, iv, ha="center", va="center", color=col, fontsize=7)
            bi, bj = sw.index[b, 0], sw.index[b, 1]
            for ec, lw, ls in (("white", 4.5, "-"), ("black", 2.0, "--")):
                ax.add_patch(plt.Rectangle((bj - 0.47, bi - 0.47), 0.94, 0.94, fill=False, ec=ec, lw=lw, ls=ls))
            bfrac = (M[bi, bj] - vmin) / (vmax - vmin) if np.isfinite(M[bi, bj]) else 0
            ax.text(bj, bi + 0.36, "baseline", ha="center", va="center", fontsize=7, style="italic",
                    color="white" if bfrac > 0.6 else "black")
            ax.set_xticks(range(n1), v1, rotation=45 if n1 > 6 else 0, ha="right" if n1 > 6 else "center")
            ax.set_yticks(range(n0), v0)
            ax.set_xlabel(k1)
            ax.set_ylabel(k0)
            ax.grid(False)
            t = _stat_label(name, sw.meta)
            ax.set_title(t + (f"\n({fixed_txt}, as in the baseline)" if fixed else ""))
            figs.save(fig, f"heatmap_{_safe(name)}.png", sec, f"{t} across the sweep",
                      f"{t} in each cell ({name}), with its 95% interval below the value where it has one; "
                      f"x: {k1}, y: {k0}; dashed frame: the baseline cell ({sw.labels[b]})."
                      + (f" The other axes are fixed at the baseline cell's values: {fixed_txt}." if fixed else ""))
    elif nax == 1:
        k0, v0, num = sw.axes[0]
        numeric = bool(np.all(np.isfinite(num)))
        xs = num if numeric else np.arange(len(v0), dtype=float)
        order = sw.index[:, 0]
        ns = len(sw.show)
        ncol = min(3, ns) or 1
        nrow = (ns + ncol - 1) // ncol
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.4 * nrow), squeeze=False, layout="constrained")
        for ax in axes.flat[ns:]:
            ax.set_axis_off()
        logx = numeric and np.all(xs > 0) and xs.max() / xs.min() >= 10
        for ax, name in zip(axes.flat, sw.show):
            unit = stat_unit(name, sw.meta)
            vals = np.array([sw.stat(c, name) for c in range(sw.ncells)])
            x = xs[order]
            srt = np.argsort(x)
            v, lo, hi = vals[srt, 0], vals[srt, 1], vals[srt, 2]
            has_ci = np.isfinite(lo) & np.isfinite(hi)
            err = np.where(has_ci, [v - lo, hi - v], 0)
            # a line joins numeric values only: categories (e.g. margin models) have no order between them
            ax.errorbar(x[srt], v, yerr=np.maximum(err, 0), fmt="o-" if numeric else "o", capsize=4,
                        color="#08519c", lw=1.2, ms=6)
            ax.plot([xs[order[b]]], [sw.stat(b, name)[0]], "*", ms=13, color="#e6550d", label="baseline", zorder=5)
            if logx:
                ax.set_xscale("log")
            ax.set_xticks(xs, v0, rotation=30 if len(v0) > 5 else 0)
            if not numeric:
                ax.set_xlim(-0.5, len(v0) - 0.5)
            ax.minorticks_off()
            ax.set_xlabel(k0)
            ax.set_title(_stat_label(name, sw.meta))
            if unit in ("USD", "count"):
                ax.yaxis.set_major_formatter(money_formatter())
        fig.suptitle(f"{text(f.attrs['name'])}: headline statistics against {k0} (95% intervals; "
                     f"star: the baseline cell, {sw.labels[b]})")
        figs.save(fig, "sweep_stats.png", sec, f"Headline statistics against {k0}",
                  f"Each headline statistic in each cell of the sweep over {k0}"
                  + (" (x at the values as numbers: durations in seconds, rates per day)" if numeric else "")
                  + ", with its 95% interval where it has one (means: bootstrap-t; quantiles: distribution-free order "
                    "statistics; expected shortfalls: percentile bootstrap; probabilities: Wilson; others: none). "
                    "Star: the baseline cell.")

    # paired differences against the baseline
    if sw.diffs is not None and sw.diffs.shape[1] > 0 and sw.ncells > 1:
        dnames = [text(x) for x in sw.diffs[0]["statistic"]]
        want = []
        for name in sw.show:
            base = name.rpartition(".")[0]
            if base in dnames and base not in want:
                want.append(base)
        for extra in ("liquidations", "bad_debt", "insolvency", "largest_cascade_notional", "liquidated_notional"):
            if len(want) >= 6:
                break
            if extra in dnames and extra not in want:
                want.append(extra)
        if not want:
            want = dnames[:6]
        cells = [c for c in range(sw.ncells) if c != b]

        def flat(st):
            r = sw.diffs[cells, dnames.index(st)]
            return not np.any((r["diff"] != 0) | (r["lo"] != 0) | (r["hi"] != 0))
        flat_stats = [st for st in want if flat(st)]
        want = [st for st in want if not flat(st)] or want[:1]
        ncol = min(3, len(want))
        nrow = (len(want) + ncol - 1) // ncol
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.8 * ncol, 1.2 + nrow * (0.9 + 0.3 * len(cells))),
                                 squeeze=False, layout="constrained")
        for ax in axes.flat[len(want):]:
            ax.set_axis_off()
        ylabels = _short_names([sw.short(c) for c in cells], 28)
        for ax, st in zip(axes.flat, want):
            j = dnames.index(st)
            r = sw.diffs[cells, j]
            y = np.arange(len(cells))
            ax.hlines(y, r["unpaired_lo"], r["unpaired_hi"], color="#bdbdbd", lw=5, label="unpaired 95%")
            ax.errorbar(r["diff"], y, xerr=[np.maximum(r["diff"] - r["lo"], 0), np.maximum(r["hi"] - r["diff"], 0)],
                        fmt="o", capsize=3, color="#08519c", ms=4, lw=1.3, label="paired 95%")
            ax.axvline(0, color="black", lw=0.8)
            ax.set_yticks(y, ylabels)
            ax.set_ylim(-0.6, len(cells) - 0.4)
            ax.invert_yaxis()
            prob = int(r["probability"][0]) == 1
            unit = "difference of P" if prob else (stat_unit(st + ".mean", sw.meta) or "difference")
            ax.set_title(f"{'P(' + st + ')' if prob else st} ({unit})", fontsize=9)
            if not prob:
                ax.xaxis.set_major_formatter(money_formatter())
            ax.locator_params(axis="x", nbins=4)
        keys = " · ".join(k for k, _, _ in sw.axes)
        fig.supylabel(f"cell ({keys})", fontsize=9)
        fig.suptitle(f"differences against the baseline cell ({sw.labels[b]}), mean over paths\n"
                     f"blue: paired 95% interval; grey: 95% interval as if the cells were independent runs")
        figs.save(fig, "sweep_differences.png", sec, "Paired differences against the baseline cell",
                  f"For each cell, the mean over paths of (cell − baseline) on the same path with its paired 95% "
                  f"interval (blue), and in grey the interval the same difference would have if the two cells had "
                  f"been independent runs: pairing on common random numbers is what makes small effects "
                  f"visible. Baseline: {sw.labels[b]}. Cells are labelled by their values of {keys}."
                  + (f" Not drawn (no difference from the baseline in any cell): {', '.join(flat_stats)}." if flat_stats
                     else ""))


# ---------------------------------------------------------------------------
# HTML

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:0.2em} h2{border-bottom:1px solid #ddd;padding-bottom:0.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:0.6em 0;font-size:0.9em} td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top} th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.base td{background:#eef4fb} .pass{color:#1a7f37;font-weight:bold} .fail{color:#c62828;font-weight:bold}
figure{margin:1.2em 0;padding:0.6em;border:1px solid #eee;border-radius:4px} figure img{max-width:100%;height:auto}
figcaption{font-size:0.9em;color:#444;margin-top:0.4em} code{background:#f4f4f4;padding:0 3px}
.muted{color:#777;font-size:0.9em}
"""


def _e(x):
    return html.escape(str(x))


def _prov_table(f, result):
    rows = [("result file", os.path.abspath(result))]
    for k in ("name", "version", "seed", "paths", "command", "created", "scenario_path", "rng", "compare", "sweep"):
        if k in f.attrs:
            rows.append((k, attr(f, k)))
    out = ["<table>"]
    for k, v in rows:
        val = f"<code>{_e(v)}</code>" if k in ("command", "result file", "scenario_path") else _e(v)
        out.append(f"<tr><th>{_e(k)}</th><td>{val}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


RUN_HEADLINE = ("insolvency.probability", "bad_debt_any.probability", "bad_debt.mean", "bad_debt.q99",
                "bad_debt.es99", "liquidations.mean", "liquidated_notional.mean", "impact_triggered_liquidations.mean",
                "largest_cascade_notional.q99", "amplification.mean", "insurance_min.mean")


def _run_headline_html(g):
    meta = columns_meta(g)
    out = ["<table><tr><th>statistic</th><th>value</th><th>95% interval</th><th>unit</th><th>meaning</th></tr>"]
    for name in RUN_HEADLINE:
        try:
            v, lo, hi = stat(g, name)
        except KeyError:
            continue
        unit = stat_unit(name, meta)
        base = name.rpartition(".")[0]
        meaning = meta.get(base, ("", ""))[1]
        if name.endswith(".probability"):
            for r in g["stats/probabilities"][:]:
                if text(r["name"]) == base:
                    meaning = f"{text(r['definition'])} ({int(r['k'])} of {int(r['n'])} paths)"
        out.append(f"<tr><td><code>{_e(name)}</code></td><td class='num'>{_e(fmt(v, unit))}</td>"
                   f"<td class='num'>{_e(fmt_interval(lo, hi, unit))}</td><td>{_e(unit)}</td>"
                   f"<td>{_e(meaning)}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _compare_headline_html(f, names, groups):
    meta = columns_meta(groups[0])
    out = ["<table><tr><th>statistic</th>" + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr>"]
    m = f["compare/models"][:]
    for name in RUN_HEADLINE:
        cells = []
        for g in groups:
            try:
                v, lo, hi = stat(g, name)
            except KeyError:
                cells = None
                break
            unit = stat_unit(name, meta)
            cells.append(f"<td class='num'>{_e(fmt(v, unit))} <span class='muted'>{_e(fmt_interval(lo, hi, unit))}"
                         f"</span></td>")
        if cells:
            out.append(f"<tr><td><code>{_e(name)}</code></td>{''.join(cells)}</tr>")
    im_rows = (("initial_margin", "initial margin (USD)"),) if margin_unchanged(m) else \
        (("initial_margin", "initial margin (USD)"), ("im_per_risk", "initial margin / one-day 99% risk"))
    for col, lab in im_rows:
        out.append(f"<tr><td>{_e(lab)}</td>" + "".join(
            f"<td class='num'>{_e(money(float(v)) if col == 'initial_margin' else f'{v:.3f}')}</td>" for v in m[col])
            + "</tr>")
    out.append("</table><p class='muted'>Values with their 95% intervals (means: bootstrap-t; quantiles: "
               "distribution-free; expected shortfalls: percentile bootstrap; probabilities: Wilson).</p>")
    if margin_unchanged(m):
        out.append(f"<p class='muted'>Capital efficiency (initial margin per unit of one-day 99% risk) is left out: "
                   f"every value of {_e(attr(f, 'compare'))} asks the same initial margin of this book.</p>")
    return "\n".join(out)


def _sweep_headline_html(sw):
    out = ["<table><tr><th>cell</th>" + "".join(f"<th>{_e(k)}</th>" for k, _, _ in sw.axes)
           + "".join(f"<th><code>{_e(s)}</code></th>" for s in sw.show) + "</tr>"]
    for c in range(sw.ncells):
        cls = "cell base" if c == sw.baseline else "cell"
        tds = "".join(f"<td>{_e(sw.axes[a][1][sw.index[c, a]])}</td>" for a in range(len(sw.axes)))
        for name in sw.show:
            v, lo, hi = sw.stat(c, name)
            unit = stat_unit(name, sw.meta)
            tds += (f"<td class='num'>{_e(fmt(v, unit))} <span class='muted'>{_e(fmt_interval(lo, hi, unit))}"
                    f"</span></td>")
        out.append(f'<tr class="{cls}"><td>{c}{" (baseline)" if c == sw.baseline else ""}</td>{tds}</tr>')
    out.append("</table><p class='muted'>The same paths in every cell; 95% intervals in grey (none for sd, min and "
               "max).</p>")
    if sw.missing:
        out.append(f"<p class='muted'>Headline statistics not found in the file: {_e(', '.join(sw.missing))}.</p>")
    return "\n".join(out)


def _assertion_cell(r):
    res = "<span class='pass'>PASS</span>" if r["passed"] else "<span class='fail'>FAIL</span>"
    iv = f" [{money(float(r['lo']))}, {money(float(r['hi']))}]" if np.isfinite(r["lo"]) and np.isfinite(r["hi"]) \
        else ""
    return f"{res} {money(float(r['value']))}<span class='muted'>{_e(iv)}</span>"


def _assertions_html(f):
    sets = assertion_sets(f)
    if not sets:
        return ""
    total = sum(len(r) for _, r in sets)
    ok = sum(int(np.sum(r["passed"])) for _, r in sets)
    out = [f"<h2>Assertions</h2><p>{ok} of {total} passed"
           + (f" over {len(sets)} runs" if len(sets) > 1 else "") + ". An assertion with a confidence holds only "
           "when the statistic's whole interval at that level satisfies it; otherwise the point estimate decides.</p>"]
    if len(sets) == 1:
        label, rows = sets[0]
        if label:
            out.append(f"<p>{_e(label)}</p>")
        out.append("<table><tr><th>result</th><th>assertion</th><th>value</th><th>interval</th><th>decided by</th>"
                   "<th>where</th></tr>")
        for r in rows:
            res = "<span class='pass'>PASS</span>" if r["passed"] else "<span class='fail'>FAIL</span>"
            conf = r["confidence"]
            iv = f"[{r['lo']:.6g}, {r['hi']:.6g}]" if np.isfinite(r["lo"]) else ""
            out.append(f"<tr><td>{res}</td><td><code>{_e(text(r['assertion']))}</code></td>"
                       f"<td class='num'>{r['value']:.6g}</td><td class='num'>{_e(iv)}</td>"
                       f"<td>{'the point estimate' if conf == 0 else f'its {conf:.0%} interval'}</td>"
                       f"<td>{_e(text(r['where']))}</td></tr>")
        out.append("</table>")
        return "\n".join(out)
    names = [text(r["assertion"]) for r in sets[0][1]]
    confs = [float(r["confidence"]) for r in sets[0][1]]
    out.append("<table><tr><th>run</th>" + "".join(
        f"<th><code>{_e(n)}</code>{'<br><span class=muted>at ' + format(c, '.0%') + '</span>' if c else ''}</th>"
        for n, c in zip(names, confs)) + "</tr>")
    for label, rows in sets:
        by = {text(r["assertion"]): r for r in rows}
        out.append(f"<tr><td>{_e(label)}</td>" + "".join(
            f"<td class='num'>{_assertion_cell(by[n]) if n in by else ''}</td>" for n in names) + "</tr>")
    out.append("</table>")
    wh = sorted({text(r["where"]) for _, rows in sets for r in rows})
    out.append(f"<p class='muted'>Value and its interval in each run; written at {_e(', '.join(wh))}.</p>")
    return "\n".join(out)


def _full_stats_html(g, label):
    if "stats/summary" not in g:
        return ""
    out = [f"<details><summary>All statistics: {_e(label)}</summary><table><tr><th>statistic</th><th>n</th>"
           "<th>mean</th><th>95% interval (bootstrap-t)</th><th>sd</th><th>q50</th><th>risky tail</th><th>quantile</th>"
           "<th>its interval</th><th>expected shortfall</th><th>its interval (bootstrap)</th><th>min</th><th>max</th></tr>"]
    for r in g["stats/summary"][:]:
        side, qf, ef = risky_tail(r)
        names = r.dtype.names
        es_ci = f"[{money(float(r[ef + '_lo']))}, {money(float(r[ef + '_hi']))}]" if ef + "_lo" in names else ""
        cells = [r["n"], money(float(r["mean"])), f"[{money(float(r['mean_lo']))}, {money(float(r['mean_hi']))}]",
                 money(float(r["sd"])), money(float(r["q50"])), side, f"{qf} {money(float(r[qf]))}",
                 f"[{money(float(r[qf + '_lo']))}, {money(float(r[qf + '_hi']))}]", f"{ef} {money(float(r[ef]))}",
                 es_ci, money(float(r["min"])), money(float(r["max"]))]
        out.append(f"<tr><td><code>{_e(text(r['name']))}</code></td>"
                   + "".join(f"<td class='num'>{_e(c)}</td>" for c in cells) + "</tr>")
    out.append("</table><table><tr><th>event</th><th>k / n</th><th>p</th><th>Wilson 95%</th><th>definition</th></tr>")
    for r in g["stats/probabilities"][:]:
        out.append(f"<tr><td><code>{_e(text(r['name']))}</code></td><td class='num'>{r['k']} / {r['n']}</td>"
                   f"<td class='num'>{r['p']:.4f}</td><td class='num'>[{r['lo']:.4f}, {r['hi']:.4f}]</td>"
                   f"<td>{_e(text(r['definition']))}</td></tr>")
    out.append("</table></details>")
    return "\n".join(out)


def write_html(path, f, result, kind, headline_html, figs, details):
    name = attr(f, "name", "result")
    kind_txt = {"run": "single run",
                "compare": f"comparison of {attr(f, 'compare')} values on the same paths and book",
                "sweep": f"parameter sweep over {attr(f, 'sweep')} on the same paths"}[kind]
    parts = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>marginsim report: {_e(name)}</title><style>{CSS}</style></head><body>",
             f"<h1>marginsim report: {_e(name)}</h1>",
             f"<p>{_e(kind_txt)}, {_e(attr(f, 'paths'))} paths, seed {_e(attr(f, 'seed'))}. "
             f"Report written {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}.</p>",
             "<h2>Provenance</h2>", _prov_table(f, result),
             "<h2>Headline statistics</h2>", headline_html, _assertions_html(f), "<h2>Figures</h2>"]
    n = 0
    for sec in figs.sections:
        parts.append(f"<h3>{_e(sec)}</h3>")
        for it in [i for i in figs.items if i["section"] == sec]:
            n += 1
            with open(it["path"], "rb") as fh:
                b64 = base64.b64encode(fh.read()).decode("ascii")
            href = _e(urllib.parse.quote(it["rel"]))
            parts.append(f"<figure id='fig{n}'><a href=\"{href}\"><img src=\"data:image/png;base64,{b64}\" "
                         f"alt=\"{_e(it['title'])}\"></a><figcaption><b>Figure {n}. {_e(it['title'])}.</b> "
                         f"{_e(it['caption'])} <span class='muted'>(file: <a href=\"{href}\">{_e(it['rel'])}</a>)"
                         f"</span></figcaption></figure>")
        sk = [(w, y) for s_, w, y in figs.skipped if s_ == sec]
        if sk:
            parts.append("<p class='muted'>Not drawn here: " + "; ".join(f"{_e(w)} ({_e(y)})" for w, y in sk)
                         + ".</p>")
    parts.append("<h2>Details</h2>")
    parts.extend(details)
    parts.append("</body></html>")
    write_atomic(path, lambda fh: fh.write("\n".join(parts)), mode="w")


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result")
    ap.add_argument("-o", "--out", help="directory for the figures and report.html (default: <stem>_report/ next "
                                        "to the result file)")
    ap.add_argument("--no-plots", action="store_true", help="print the text report only")
    a = ap.parse_args()
    if not os.path.isfile(a.result):
        print(f"report.py: {a.result}: no such file", file=sys.stderr)
        return 2
    try:
        f = h5py.File(a.result, "r")
    except OSError as e:
        print(f"report.py: {a.result}: not an HDF5 file ({e})", file=sys.stderr)
        return 2
    with f:
        kind = file_kind(f)
        out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.result)),
                                    os.path.splitext(os.path.basename(a.result))[0] + "_report")
        # The output folder is checked (and made) before any work, so a bad -o fails at once.
        if not a.no_plots:
            why = None
            if os.path.exists(out) and not os.path.isdir(out):
                why = "is a file, not a folder"
            else:
                try:
                    _makedirs_tracked(out)
                except OSError as e:
                    why = f"cannot create the folder ({e.strerror})"
                if why is None and not os.access(out, os.W_OK | os.X_OK):
                    why = "cannot write in the folder"
            if why:
                print(f"report.py: -o {out}: {why}", file=sys.stderr)
                return 2
        provenance(f)
        figs = Figures(out)
        details = []
        name = attr(f, "name", "")
        if kind == "compare":
            compare_report(f)
            models = [(text(r), f["models"][text(r).replace("/", "|")]) for r in f["compare/models"][:]["model"]]
            for v, g in models:
                if a.no_plots:
                    print(f"\n=== {v} ===")
                    text_report(g)
                else:
                    summary_pointer(g, f"{v}: ")
            assertions_report(f)
            if a.no_plots:
                return 0
            os.makedirs(out, exist_ok=True)
            names, groups = compare_figures(figs, f)
            for v, g in models:
                run_figures(figs, g, g.name.rsplit("/", 1)[-1], f"Model {v}", f"{name} / {v}")
                details.append(_full_stats_html(g, v))
            headline = _compare_headline_html(f, names, groups)
        elif kind == "sweep":
            sw = Sweep(f)
            sweep_report(f, sw)
            assertions_report(f)
            if a.no_plots:
                return 0
            os.makedirs(out, exist_ok=True)
            sweep_figures(figs, f, sw)
            if "paths/summary" in f:
                run_figures(figs, f, "", "Run at the root of the file", name)
            bg = sw.run_group(sw.baseline)
            if bg is not None:
                run_figures(figs, bg, "baseline", f"Baseline cell: {sw.labels[sw.baseline]}",
                            f"{name} / baseline")
                details.append(_full_stats_html(bg, f"baseline cell ({sw.labels[sw.baseline]})"))
            headline = _sweep_headline_html(sw)
        else:
            if a.no_plots:
                text_report(f)
            else:
                summary_pointer(f)
            assertions_report(f)
            if a.no_plots:
                return 0
            os.makedirs(out, exist_ok=True)
            run_figures(figs, f, "", "Run", name)
            headline = _run_headline_html(f)
            details.append(_full_stats_html(f, name))
        html_path = os.path.join(out, "report.html")
        write_html(html_path, f, a.result, kind, headline, figs, details)
    print()
    for it in figs.items:
        print("wrote", it["path"])
    print(f"report: {html_path}")
    return 0


def guarded_main():
    """main(), with a file that cannot be written (a full disk) an exit 3 naming it and the reason; a folder
    the report created is removed again (figures already written are replaced one by one, atomically)."""
    try:
        return main()
    except (WriteError, OSError) as e:
        if isinstance(e, WriteError):
            msg = f"{e.path}: cannot write ({e.reason})"
        else:
            msg = f"{e.filename or 'I/O error'}: {e.strerror or e}"
        print(f"\nreport.py: {msg}", file=sys.stderr)
        for d in _MADE:
            shutil.rmtree(d, ignore_errors=True)
        return 3


if __name__ == "__main__":
    sys.exit(guarded_main())
