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

The file is read through marginsim.open and every figure is drawn by a
plot_* function of marginsim.plot (a notebook can call the same ones; see
docs/workflows.md, "Python"): this script is the layout, the text and the
HTML. Figures of a run (a file's root, each model of a compare file, the
baseline cell of a sweep), each drawn when the group has what it needs:
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
import warnings
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import marginsim  # first: it says what a python3 without numpy, pandas or h5py lacks
    import numpy as np
    from marginsim import plot as msplot
    from marginsim._fmt import fmt, fmt_interval, money, stat_unit
except ImportError as e:
    print("report.py: %s" % e, file=sys.stderr)
    sys.exit(3)

DPI = 110


def _records(df):
    """The rows of a table as dicts (each column's own type), [] for None."""
    return [] if df is None else df.to_dict("records")


def risky_tail(r):
    """(side, q field, es field) of a /stats/summary row: its risky tail ('high': q99, es99; 'low': q01, es01).
    Files written before risky_side have only the high tail."""
    if r.get("risky_side") == "low":
        return "low", "q01", "es01"
    return "high", "q99", "es99"


def _model_group(v):
    """The group of a --compare model value (a '/' in a value is stored as '|')."""
    return "models/" + v.replace("/", "|")


# ---------------------------------------------------------------------------
# Text report (stdout)

def provenance(r):
    a = r.attrs
    print(f"{a['name']}: marginsim {a['version']}, seed {a['seed']}, {a['paths']} paths, "
          f"created {a['created']}")
    print(f"command: {a['command']}\n")


def text_report(r):
    """The summary table of /stats as `marginsim run` prints it: the same intervals (the file's), each column's
    risky tail (q99/ES99 when high values are the risk, q01/ES01 when low ones are)."""
    print(f"{'statistic':34s} {'mean':>9s}  {'95% CI (bootstrap)':20s} {'median':>9s}  {'tail':4s} "
          f"{'q99|q01':>9s} {'ES99|ES01':>9s}")
    for row in _records(r.stats):
        side, qf, ef = risky_tail(row)
        ci = f"[{money(float(row['mean_lo']))}, {money(float(row['mean_hi']))}]"
        print(f"{row['name']:34s} {money(float(row['mean'])):>9s}  {ci:20s} {money(float(row['q50'])):>9s}  "
              f"{side:4s} {money(float(row[qf])):>9s} {money(float(row[ef])):>9s}")
    print()
    for p in _records(r.probabilities):
        print(f"P({p['name']}) = {p['p']:.4f}  [{p['lo']:.4f}, {p['hi']:.4f}]  "
              f"({p['k']}/{p['n']}: {p['definition']})")


def _level(conf):
    """A confidence level as a percentage that does not round 0.999 to 100%: 95%, 99.9%, 99.99%."""
    return f"{100 * conf:.10g}%"


def summary_pointer(r, label=""):
    """One line instead of a second table: where the numbers are (the same as the CLI's)."""
    ins = [p for p in _records(r.probabilities) if p["name"] == "insolvency"]
    head = ""
    if ins:
        p = ins[0]
        head = f"P(insolvency) = {p['p']:.4f} [{p['lo']:.4f}, {p['hi']:.4f}] ({p['k']}/{p['n']} paths); "
    print(f"{label}{head}every statistic with its interval: /stats/summary, the table `marginsim run` prints "
          f"(unless -q), and report.html (the same numbers; --no-plots prints the table here)")


def compare_report(r):
    key = r.attrs["compare"]
    m = r.compare.models
    print(f"compared: {key}, paired on the same paths and book\n")
    same_im = msplot.margin_unchanged(m)
    print(f"{'value':14s} {'IM (USD)':>9s} {'risk (USD)':>10s} {'IM/risk':>8s} {'bad debt mean':>13s} "
          f"{'q99':>8s} {'ES99':>8s} {'P(insolvency) [95% CI]':>26s} {'liquidations':>13s}")
    for row in _records(m):
        g = r.sub(_model_group(row["model"]))
        q99, es99 = (g.stat("bad_debt.q99")[0], g.stat("bad_debt.es99")[0]) if g.stats is not None else \
            (math.nan, math.nan)
        print(f"{row['model']:14s} {money(float(row['initial_margin'])):>9s} {money(float(row['risk'])):>10s} "
              f"{row['im_per_risk']:8.3f} {money(float(row['bad_debt_mean'])):>13s} {money(q99):>8s} "
              f"{money(es99):>8s} {row['insolvency_p']:8.4f} [{row['insolvency_lo']:.4f}, "
              f"{row['insolvency_hi']:.4f}] {row['liquidations_mean']:13.4g}")
    if same_im:
        print(f"(every value of {key} asks the same initial margin of this book: the capital-efficiency figure "
              f"is left out, it would compare equal numbers)")
    print("\npaired differences (value - baseline), mean over paths with 95% interval:")
    for d in _records(r.compare.differences):
        print(f"  {d['statistic']:30s} {d['model']:>12s} - {d['baseline']:<12s} "
              f"{d['diff']:14.6g}  [{d['lo']:14.6g}, {d['hi']:14.6g}]")
    losses_text(market_losses(r), "insolvent")


# Per-path losses whose co-movement across markets the report shows: a comparison over market.trade (one book
# per asset) or a run of one book trading several markets (book.markets, the per-market columns).
MARKET_LOSSES = ("bad_debt", "liquidated_notional", "liquidations")


def losses_across(series, event):
    """series {market: {column: per-path values}} (the same paths, in the same order) and event {market: per-path
    booleans}: [(A, B, {column: Pearson correlation}, P(both events), P(A) P(B))] for each pair of markets."""
    names = list(series)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            corr = {}
            for c in MARKET_LOSSES:
                u, v = np.asarray(series[a][c], float), np.asarray(series[b][c], float)
                corr[c] = float(np.corrcoef(u, v)[0, 1]) if u.std() > 0 and v.std() > 0 else math.nan
            ea, eb = np.asarray(event[a], bool), np.asarray(event[b], bool)
            out.append((a, b, corr, float(np.mean(ea & eb)), float(np.mean(ea)) * float(np.mean(eb))))
    return out


def market_losses(r):
    """For `--compare market.trade=A,B,...` (books trading different assets of one world, the same paths):
    losses_across with each book's insolvency as the event, else []."""
    if r.attrs.get("compare") != "market.trade":
        return []
    names = [str(v) for v in r.compare.models["model"]]
    rows = {n: r.sub(_model_group(n)).summary for n in names}
    rows = {n: x for n, x in rows.items() if x is not None and len(x) >= 3}
    if len({len(x) for x in rows.values()}) != 1:
        return []
    return losses_across({n: {c: x[c].to_numpy(float) for c in MARKET_LOSSES} for n, x in rows.items()},
                         {n: x["insolvent"].to_numpy() > 0 for n, x in rows.items()})


# The per-market columns of a run with book.markets (docs/output.md), their labels in the panel.
MARKET_COLUMNS = (("liquidations", "liquidations"), ("liquidated_notional", "liquidated notional"),
                  ("bad_debt", "bad debt"), ("contagion_liquidations", "contagion"))


def book_markets(g):
    """The assets of a run whose book trades several markets (book.markets), in the file's order: those with
    final_price_<a> and liquidations_<a> columns; [] for any other run."""
    cols = list(g.summary_columns) if g.stats is not None else []
    have = set(cols)
    return [c[len("final_price_"):] for c in cols
            if c.startswith("final_price_") and "liquidations_" + c[len("final_price_"):] in have]


def markets_panel(g):
    """[(asset, [(column, (mean, lo, hi)) or None, ...])] for a run with book.markets (contagion columns only
    with stats.contagion), else []."""
    out = []
    for a in book_markets(g):
        cells = []
        for c, _ in MARKET_COLUMNS:
            try:
                cells.append((f"{c}_{a}", g.stat(f"{c}_{a}.mean")))
            except KeyError:
                cells.append(None)
        out.append((a, cells))
    return out


def run_market_losses(g):
    """Within one run of book.markets: losses_across over the per-market columns of /paths/summary, with 'the
    market had bad debt' as the event; [] for any other run or fewer than 3 paths."""
    names = book_markets(g)
    x = g.summary if names else None
    if x is None or len(x) < 3:
        return []
    return losses_across({a: {c: x[f"{c}_{a}"].to_numpy(float) for c in MARKET_LOSSES} for a in names},
                         {a: x[f"bad_debt_{a}"].to_numpy(float) > 0 for a in names})


def losses_text(losses, event):
    if not losses:
        return
    print(f"\nlosses across markets (per-path correlation over the same paths; P(both {event}) against the "
          f"product of the two, which independent markets would give):")
    for a, b, corr, both, indep in losses:
        cs = "  ".join(f"{c} {v:6.3f}" for c, v in corr.items())
        print(f"  {a} ~ {b}: {cs}  P(both {event}) {both:.4f} vs {indep:.4f}")


def losses_html(losses, event, note):
    if not losses:
        return []
    out = ["<h3>Losses across markets</h3><table><tr><th>markets</th>" +
           "".join(f"<th>correlation of {_e(c)}</th>" for c in MARKET_LOSSES) +
           f"<th>P(both {_e(event)})</th><th>if independent</th></tr>"]
    for a, b, corr, both, indep in losses:
        out.append(f"<tr><td>{_e(a)} ~ {_e(b)}</td>" +
                   "".join(f"<td class='num'>{v:.3f}</td>" for v in corr.values()) +
                   f"<td class='num'>{both:.4f}</td><td class='num'>{indep:.4f}</td></tr>")
    out.append(f"</table><p class='muted'>{_e(note)}</p>")
    return out


def markets_report(g):
    """The per-market panel and the losses across markets of a run with book.markets (nothing otherwise)."""
    panel = markets_panel(g)
    if not panel:
        return
    shown = [j for j in range(len(MARKET_COLUMNS)) if any(cells[j] is not None for _, cells in panel)]
    print("\nper market: mean per path [95% CI]")
    print(f"  {'market':10s}" + "".join(f" {MARKET_COLUMNS[j][1]:>24s}" for j in shown))
    for a, cells in panel:
        row = ""
        for j in shown:
            if cells[j] is None:
                row += f" {'-':>24s}"
                continue
            v, lo, hi = cells[j][1]
            row += f" {money(v) + ' [' + money(lo) + ', ' + money(hi) + ']':>24s}"
        print(f"  {a:10s}{row}")
    print("  (liquidations count positions; contagion: positions liquidated that the twin with the other "
          "markets' prices frozen did not liquidate)")
    losses_text(run_market_losses(g), "had bad debt")


def _markets_html(g):
    panel = markets_panel(g)
    if not panel:
        return ""
    meta = g.summary_columns
    shown = [j for j in range(len(MARKET_COLUMNS)) if any(cells[j] is not None for _, cells in panel)]
    out = ["<h3>Per market</h3><table><tr><th>market</th>" +
           "".join(f"<th>{_e(MARKET_COLUMNS[j][1])}</th>" for j in shown) + "</tr>"]
    for a, cells in panel:
        tds = []
        for j in shown:
            if cells[j] is None:
                tds.append("<td>-</td>")
                continue
            col, (v, lo, hi) = cells[j]
            unit = stat_unit(col + ".mean", meta)
            tds.append(f"<td class='num'>{_e(fmt(v, unit))} <span class='muted'>{_e(fmt_interval(lo, hi, unit))}"
                       f"</span></td>")
        out.append(f"<tr><td>{_e(a)}</td>{''.join(tds)}</tr>")
    out.append("</table><p class='muted'>Means per path with their 95% intervals (bootstrap-t). Liquidations "
               "count positions (the run's liquidations are their sum); a liquidation's bad debt is shared by its "
               "positions' losses; contagion: positions liquidated that the twin with the other markets' "
               "exogenous prices frozen at their start did not liquidate (stats.contagion).</p>")
    out += losses_html(run_market_losses(g), "had bad debt",
                       "Per-path Pearson correlations of the markets' columns within the run: one book trades them "
                       "all under one margin, so the correlation is the world's and the book's contagion together. "
                       "P(both had bad debt) against the product of the two marginals.")
    return "\n".join(out)


def assertion_sets(r):
    """[(label, rows)]: the file's /assertions, else each model's or sweep cell's (where they are written)."""
    sets = []
    if r.assertions is not None:
        sets.append(("", _records(r.assertions)))
    if r.kind == "compare" and "compare" in r.attrs:
        for v, g in r.models.items():
            if g.assertions is not None:
                sets.append((f"{r.attrs['compare']} = {v}", _records(g.assertions)))
    for c, g in enumerate(r.cells):
        if g.assertions is not None:
            sets.append((f"cell {g.group.strip('/').rsplit('/', 1)[-1]}: {g.attrs.get('label', c)}",
                         _records(g.assertions)))
    return sets


def assertions_report(r):
    for label, rows in assertion_sets(r):
        ok = int(sum(a["passed"] for a in rows))
        print(f"\nassertions{' (' + label + ')' if label else ''}: {ok} of {len(rows)} passed")
        for a in rows:
            conf = (f", {_level(a['confidence'])} interval [{a['lo']:.6g}, {a['hi']:.6g}] decides"
                    if a["confidence"] > 0 else " (point estimate decides)")
            print(f"  {'PASS' if a['passed'] else 'FAIL'}  {a['assertion']}: value {a['value']:.6g}{conf}"
                  f"  ({a['where']})")


def sweep_report(r, sw):
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
        D = sw.diffs
        print("\npaired differences (cell - baseline), mean over paths with 95% interval "
              "(unpaired interval for contrast):")
        for j in range(len(sw.dnames)):
            print(f"  {sw.dnames[j]}")
            for c in range(sw.ncells):
                if c == sw.baseline:
                    continue
                print(f"    {sw.labels[c]:{w}s} {D['diff'][c, j]:14.6g}  [{D['lo'][c, j]:.6g}, {D['hi'][c, j]:.6g}]  "
                      f"unpaired [{D['unpaired_lo'][c, j]:.6g}, {D['unpaired_hi'][c, j]:.6g}]")


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
# Figures: drawn by marginsim.plot, saved and captioned here

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

    def draw(self, plot, rel, section, heading, *args, skip=None, **kwargs):
        """plot(*args, **kwargs) saved as `rel` with its caption; when it has nothing to draw, a note
        "Not drawn here: <skip> (<why>)" under the section (none when skip is None)."""
        from matplotlib.figure import Figure
        try:
            obj = plot(*args, **kwargs)
        except msplot.NotDrawable as e:
            if skip is not None:
                self.skip(section, skip, str(e))
            return
        self.save(obj if isinstance(obj, Figure) else obj.figure, rel, section, heading, msplot.caption(obj))


def _plt():
    """The report draws on Agg, in the plots' style throughout (savefig lays the figures out again)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update(msplot.STYLE)
    return plt


def run_figures(figs, g, prefix, section, title):
    """The figures of one run `g` (the root, a --compare model or a sweep cell) into DIR/prefix."""
    _plt()
    rel = lambda name: os.path.join(prefix, name) if prefix else name  # noqa: E731
    figs.draw(msplot.plot_price_fan, rel("path.png"), section, "Price paths", g, title=title, skip="price paths")
    figs.draw(msplot.plot_liquidations, rel("liquidations.png"), section, "Liquidations over time", g, title=title,
              skip="liquidations over time")
    figs.draw(msplot.plot_bad_debt, rel("bad_debt.png"), section, "Distribution of bad debt", g, title=title,
              skip="bad debt distribution")
    figs.draw(msplot.plot_cascades, rel("cascades.png"), section, "Cascade sizes", g, title=title,
              skip="cascade sizes")
    figs.draw(msplot.plot_insurance_fund, rel("insurance_fund.png"), section, "Insurance fund", g, title=title,
              skip="insurance fund")
    figs.draw(msplot.plot_drawdown, rel("drawdown.png"), section, "Market fall against liquidations", g,
              title=title)


def compare_figures(figs, r):
    """The figures of a --compare file's comparison; returns (model values, their Results) in the file's order."""
    _plt()
    sec = f"Models compared ({r.attrs['compare']})"
    figs.draw(msplot.plot_compare_headline, "headline.png", sec, "Headline statistics per model", r)
    figs.draw(msplot.plot_tradeoff, "tradeoff.png", sec, "Capital efficiency against stress", r)
    figs.draw(msplot.plot_compare_differences, "differences.png", sec, "Paired differences", r)
    names = list(r.compare.models["model"])
    return names, [r.sub(_model_group(n)) for n in names]


def _safe(name):
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def sweep_figures(figs, r, sw):
    _plt()
    sec = f"Sweep over {', '.join(k for k, _, _ in sw.axes)}"
    if len(sw.axes) >= 2:
        for name in sw.show:
            t = msplot.stat_label(name, _meta_units(sw.meta))
            figs.draw(msplot.plot_sweep_heatmap, f"heatmap_{_safe(name)}.png", sec, f"{t} across the sweep", r, name)
    elif len(sw.axes) == 1:
        figs.draw(msplot.plot_sweep_stats, "sweep_stats.png", sec, f"Headline statistics against {sw.axes[0][0]}", r)
    figs.draw(msplot.plot_sweep_differences, "sweep_differences.png", sec,
              "Paired differences against the baseline cell", r)


def _meta_units(meta):
    """stat_unit's {column: (unit, meaning)} from {column: unit}."""
    return {k: (u, "") for k, u in meta.items()}


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


def _prov_table(r, result):
    rows = [("result file", os.path.abspath(result))]
    for k in ("name", "version", "seed", "paths", "command", "created", "scenario_path", "rng", "compare", "sweep"):
        if k in r.attrs:
            rows.append((k, r.attrs[k]))
    out = ["<table>"]
    for k, v in rows:
        val = f"<code>{_e(v)}</code>" if k in ("command", "result file", "scenario_path") else _e(v)
        out.append(f"<tr><th>{_e(k)}</th><td>{val}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


RUN_HEADLINE = ("insolvency.probability", "bad_debt_any.probability", "bad_debt.mean", "bad_debt.q99",
                "bad_debt.es99", "liquidations.mean", "liquidated_notional.mean", "impact_triggered_liquidations.mean",
                "largest_cascade_notional.q99", "amplification.mean", "insurance_min.mean",
                # with funding on only (absent otherwise: skipped)
                "funding_paid.mean", "funding_long_net.mean", "funding_long_net.q01", "funding_rate_mean.mean")


def _run_headline_html(g):
    meta = g.summary_columns
    out = ["<table><tr><th>statistic</th><th>value</th><th>95% interval</th><th>unit</th><th>meaning</th></tr>"]
    for name in RUN_HEADLINE:
        try:
            v, lo, hi = g.stat(name)
        except KeyError:
            continue
        unit = stat_unit(name, meta)
        base = name.rpartition(".")[0]
        meaning = meta.get(base, ("", ""))[1]
        if name.endswith(".probability"):
            for p in _records(g.probabilities):
                if p["name"] == base:
                    meaning = f"{p['definition']} ({int(p['k'])} of {int(p['n'])} paths)"
        out.append(f"<tr><td><code>{_e(name)}</code></td><td class='num'>{_e(fmt(v, unit))}</td>"
                   f"<td class='num'>{_e(fmt_interval(lo, hi, unit))}</td><td>{_e(unit)}</td>"
                   f"<td>{_e(meaning)}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _compare_headline_html(r, names, groups):
    meta = groups[0].summary_columns
    out = ["<table><tr><th>statistic</th>" + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr>"]
    m = r.compare.models
    for name in RUN_HEADLINE:
        cells = []
        for g in groups:
            try:
                v, lo, hi = g.stat(name)
            except KeyError:
                cells = None
                break
            unit = stat_unit(name, meta)
            cells.append(f"<td class='num'>{_e(fmt(v, unit))} <span class='muted'>{_e(fmt_interval(lo, hi, unit))}"
                         f"</span></td>")
        if cells:
            out.append(f"<tr><td><code>{_e(name)}</code></td>{''.join(cells)}</tr>")
    same_im = msplot.margin_unchanged(m)
    im_rows = (("initial_margin", "initial margin (USD)"),) if same_im else \
        (("initial_margin", "initial margin (USD)"), ("im_per_risk", "initial margin / one-day 99% risk"))
    for col, lab in im_rows:
        out.append(f"<tr><td>{_e(lab)}</td>" + "".join(
            f"<td class='num'>{_e(money(float(v)) if col == 'initial_margin' else f'{v:.3f}')}</td>"
            for v in m[col].to_numpy()) + "</tr>")
    out.append("</table><p class='muted'>Values with their 95% intervals (means: bootstrap-t; quantiles: "
               "distribution-free; expected shortfalls: bootstrap-t; probabilities: Wilson).</p>")
    if same_im:
        out.append(f"<p class='muted'>Capital efficiency (initial margin per unit of one-day 99% risk) is left out: "
                   f"every value of {_e(r.attrs.get('compare'))} asks the same initial margin of this book.</p>")
    out += losses_html(market_losses(r), "insolvent",
                       "Per-path Pearson correlations over the same paths: the books trade different assets of one "
                       "correlated world (market.assets). The books are isolated, each with its own fund: the "
                       "correlation is that of the world, not contagion.")
    return "\n".join(out)


def _sweep_headline_html(sw):
    meta = _meta_units(sw.meta)
    out = ["<table><tr><th>cell</th>" + "".join(f"<th>{_e(k)}</th>" for k, _, _ in sw.axes)
           + "".join(f"<th><code>{_e(s)}</code></th>" for s in sw.show) + "</tr>"]
    for c in range(sw.ncells):
        cls = "cell base" if c == sw.baseline else "cell"
        tds = "".join(f"<td>{_e(sw.axes[a][1][sw.index[c, a]])}</td>" for a in range(len(sw.axes)))
        for name in sw.show:
            v, lo, hi = sw.stat(c, name)
            unit = stat_unit(name, meta)
            tds += (f"<td class='num'>{_e(fmt(v, unit))} <span class='muted'>{_e(fmt_interval(lo, hi, unit))}"
                    f"</span></td>")
        out.append(f'<tr class="{cls}"><td>{c}{" (baseline)" if c == sw.baseline else ""}</td>{tds}</tr>')
    out.append("</table><p class='muted'>The same paths in every cell; 95% intervals in grey (none for sd, min and "
               "max).</p>")
    if sw.missing:
        out.append(f"<p class='muted'>Headline statistics not found in the file: {_e(', '.join(sw.missing))}.</p>")
    return "\n".join(out)


def _assertion_cell(a):
    res = "<span class='pass'>PASS</span>" if a["passed"] else "<span class='fail'>FAIL</span>"
    iv = f" [{money(float(a['lo']))}, {money(float(a['hi']))}]" if np.isfinite(a["lo"]) and np.isfinite(a["hi"]) \
        else ""
    return f"{res} {money(float(a['value']))}<span class='muted'>{_e(iv)}</span>"


def _assertions_html(r):
    sets = assertion_sets(r)
    if not sets:
        return ""
    total = sum(len(rows) for _, rows in sets)
    ok = sum(int(sum(a["passed"] for a in rows)) for _, rows in sets)
    out = [f"<h2>Assertions</h2><p>{ok} of {total} passed"
           + (f" over {len(sets)} runs" if len(sets) > 1 else "") + ". An assertion with a confidence holds only "
           "when the statistic's whole interval at that level satisfies it; otherwise the point estimate decides.</p>"]
    if len(sets) == 1:
        label, rows = sets[0]
        if label:
            out.append(f"<p>{_e(label)}</p>")
        out.append("<table><tr><th>result</th><th>assertion</th><th>value</th><th>interval</th><th>decided by</th>"
                   "<th>where</th></tr>")
        for a in rows:
            res = "<span class='pass'>PASS</span>" if a["passed"] else "<span class='fail'>FAIL</span>"
            conf = a["confidence"]
            iv = f"[{a['lo']:.6g}, {a['hi']:.6g}]" if np.isfinite(a["lo"]) else ""
            out.append(f"<tr><td>{res}</td><td><code>{_e(a['assertion'])}</code></td>"
                       f"<td class='num'>{a['value']:.6g}</td><td class='num'>{_e(iv)}</td>"
                       f"<td>{'the point estimate' if conf == 0 else f'its {_level(conf)} interval'}</td>"
                       f"<td>{_e(a['where'])}</td></tr>")
        out.append("</table>")
        return "\n".join(out)
    names = [a["assertion"] for a in sets[0][1]]
    confs = [float(a["confidence"]) for a in sets[0][1]]
    out.append("<table><tr><th>run</th>" + "".join(
        f"<th><code>{_e(n)}</code>{'<br><span class=muted>at ' + format(c, '.0%') + '</span>' if c else ''}</th>"
        for n, c in zip(names, confs)) + "</tr>")
    for label, rows in sets:
        by = {a["assertion"]: a for a in rows}
        out.append(f"<tr><td>{_e(label)}</td>" + "".join(
            f"<td class='num'>{_assertion_cell(by[n]) if n in by else ''}</td>" for n in names) + "</tr>")
    out.append("</table>")
    wh = sorted({a["where"] for _, rows in sets for a in rows})
    out.append(f"<p class='muted'>Value and its interval in each run; written at {_e(', '.join(wh))}.</p>")
    return "\n".join(out)


def _full_stats_html(g, label):
    if g.stats is None:
        return ""
    out = [f"<details><summary>All statistics: {_e(label)}</summary><table><tr><th>statistic</th><th>n</th>"
           "<th>mean</th><th>95% interval (bootstrap-t)</th><th>sd</th><th>q50</th><th>risky tail</th><th>quantile</th>"
           "<th>its interval</th><th>expected shortfall</th><th>its interval (bootstrap)</th><th>min</th><th>max</th></tr>"]
    for row in _records(g.stats):
        side, qf, ef = risky_tail(row)
        es_ci = f"[{money(float(row[ef + '_lo']))}, {money(float(row[ef + '_hi']))}]" if ef + "_lo" in row else ""
        cells = [row["n"], money(float(row["mean"])),
                 f"[{money(float(row['mean_lo']))}, {money(float(row['mean_hi']))}]",
                 money(float(row["sd"])), money(float(row["q50"])), side, f"{qf} {money(float(row[qf]))}",
                 f"[{money(float(row[qf + '_lo']))}, {money(float(row[qf + '_hi']))}]", f"{ef} {money(float(row[ef]))}",
                 es_ci, money(float(row["min"])), money(float(row["max"]))]
        out.append(f"<tr><td><code>{_e(row['name'])}</code></td>"
                   + "".join(f"<td class='num'>{_e(c)}</td>" for c in cells) + "</tr>")
    out.append("</table><table><tr><th>event</th><th>k / n</th><th>p</th><th>Wilson 95%</th><th>definition</th></tr>")
    for p in _records(g.probabilities):
        out.append(f"<tr><td><code>{_e(p['name'])}</code></td><td class='num'>{p['k']} / {p['n']}</td>"
                   f"<td class='num'>{p['p']:.4f}</td><td class='num'>[{p['lo']:.4f}, {p['hi']:.4f}]</td>"
                   f"<td>{_e(p['definition'])}</td></tr>")
    out.append("</table></details>")
    return "\n".join(out)


def write_html(path, r, result, kind, headline_html, figs, details):
    name = r.attrs.get("name", "result")
    kind_txt = {"run": "single run",
                "compare": f"comparison of {r.attrs.get('compare')} values on the same paths and book",
                "sweep": f"parameter sweep over {r.attrs.get('sweep')} on the same paths"}[kind]
    parts = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>marginsim report: {_e(name)}</title><style>{CSS}</style></head><body>",
             f"<h1>marginsim report: {_e(name)}</h1>",
             f"<p>{_e(kind_txt)}, {_e(r.attrs.get('paths'))} paths, seed {_e(r.attrs.get('seed'))}. "
             f"Report written {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}.</p>",
             "<h2>Provenance</h2>", _prov_table(r, result),
             "<h2>Headline statistics</h2>", headline_html, _assertions_html(r), "<h2>Figures</h2>"]
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
    try:
        marginsim.result.check_finished(a.result)
    except marginsim.IncompleteRun as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    if not os.path.isfile(a.result):
        print(f"report.py: {a.result}: {'not a regular file' if os.path.exists(a.result) else 'no such file'}",
              file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = marginsim.open(a.result)
        for w in caught:
            print(f"report.py: warning: {w.message}", file=sys.stderr)
    except OSError as e:
        print(f"report.py: {a.result}: not a marginsim result file ({e})", file=sys.stderr)
        return 2
    kind = r.kind
    # marginsim writes a run's rows and statistics together: a file without them was cut or edited, and a report
    # of what is left would read as complete (input audit 2026-12-07: exit 0 and a partial report)
    if kind == "run" and (r.summary is None or r.stats is None):
        print(f"report.py: {a.result}: a marginsim run file without "
              f"{'/paths/summary' if r.summary is None else '/stats'}: damaged, not a whole result; nothing written",
              file=sys.stderr)
        return 2
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
    provenance(r)
    figs = Figures(out)
    details = []
    name = r.attrs.get("name", "")
    if kind == "compare":
        compare_report(r)
        models = [(v, r.sub(_model_group(v))) for v in r.compare.models["model"]]
        for v, g in models:
            if a.no_plots:
                print(f"\n=== {v} ===")
                text_report(g)
            else:
                summary_pointer(g, f"{v}: ")
        assertions_report(r)
        if a.no_plots:
            return 0
        os.makedirs(out, exist_ok=True)
        names, groups = compare_figures(figs, r)
        for v, g in models:
            run_figures(figs, g, g.group.strip("/").rsplit("/", 1)[-1], f"Model {v}", f"{name} / {v}")
            details.append(_full_stats_html(g, v))
        headline = _compare_headline_html(r, names, groups)
    elif kind == "sweep":
        sw = msplot.SweepView(r)
        sweep_report(r, sw)
        assertions_report(r)
        if a.no_plots:
            return 0
        os.makedirs(out, exist_ok=True)
        sweep_figures(figs, r, sw)
        if r.summary is not None:
            run_figures(figs, r, "", "Run at the root of the file", name)
        try:
            bg = r.sub(f"sweep/runs/{sw.baseline}")
        except KeyError:
            bg = None
        if bg is not None:
            run_figures(figs, bg, "baseline", f"Baseline cell: {sw.labels[sw.baseline]}",
                        f"{name} / baseline")
            details.append(_full_stats_html(bg, f"baseline cell ({sw.labels[sw.baseline]})"))
        headline = _sweep_headline_html(sw)
    else:
        if a.no_plots:
            text_report(r)
        else:
            summary_pointer(r)
        markets_report(r)
        assertions_report(r)
        if a.no_plots:
            return 0
        os.makedirs(out, exist_ok=True)
        run_figures(figs, r, "", "Run", name)
        headline = _run_headline_html(r) + _markets_html(r)
        details.append(_full_stats_html(r, name))
    html_path = os.path.join(out, "report.html")
    write_html(html_path, r, a.result, kind, headline, figs, details)
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
