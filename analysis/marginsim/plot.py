"""The figures of a result file, one function each, for notebooks and for
analysis/report.py (which only lays them out and writes the HTML).

    import marginsim
    r = marginsim.open("results/q.h5")
    marginsim.plot_bad_debt(r)                       # a new figure; returns its Axes
    fig = marginsim.plot_liquidations(r)              # a multi-panel figure: returns the Figure
    marginsim.plot_bad_debt(r.models["dynamic"])      # one model of a --compare file

Every function takes a `marginsim.Result` (from `marginsim.open`; a model
of a --compare file, `r.models[value]`, or a sweep cell, `r.cells[i]`, for
the run figures) and draws with matplotlib. Single-panel figures take
`ax=None` and return the Axes they drew on (a new figure when ax is None);
multi-panel figures take `fig=None` (a Figure or SubFigure to draw into, a
new one when None) and return the Figure:

  run (a run file, a model, a sweep cell)
    plot_price_fan(r, fig=None)          Figure  quantile bands of the price, one traced path's mark and
                                                 oracle, and the share of paths in each regime below
    plot_liquidations(r, fig=None)       Figure  share of paths liquidating per interval; quantiles over
                                                 paths of liquidations and notional per interval
    plot_bad_debt(r, ax=None)            Axes    CCDF of bad debt per path with the insurance fund
    plot_cascades(r, fig=None)           Figure  CCDFs of cascade notional and size
    plot_insurance_fund(r, ax=None)      Axes    the fund's balance on each traced path
    plot_drawdown(r, ax=None)            Axes    max drawdown against liquidated notional per path
  --compare file
    plot_compare_headline(r, fig=None)   Figure  each model's headline statistics with intervals
    plot_tradeoff(r, fig=None)           Figure  bad debt and P(insolvency) against IM per unit of risk
    plot_compare_differences(r, fig=None) Figure paired differences against the first model
  sweep file
    plot_sweep_heatmap(r, stat, ax=None) Axes    one statistic over the first two axes (2+ axes)
    plot_sweep_stats(r, fig=None)        Figure  headline statistics against the axis (one axis)
    plot_sweep_differences(r, fig=None)  Figure  paired and unpaired differences against the baseline

Each accepts `title=` (default: the file's scenario name). A function that
has nothing to draw with what the file holds (no /timeseries for the price
fan, a run file given to plot_tradeoff, ...) raises `NotDrawable` with the
reason, before creating any figure. `caption(obj)` gives the figure's
caption (what report.html prints under it) for the Axes or Figure returned.

No global state: the functions never call matplotlib.use nor change
rcParams (their style applies inside an rc_context), and write no file;
new figures come from pyplot, so a notebook shows them, and a script on the
Agg backend saves them (`fig.savefig(...)`, then `plt.close(fig)`).
"""
import math

import numpy as np

from ._fmt import DEFAULT_SHOW, cfg_get, fmt, fmt_interval, money, money_formatter, seconds, stat_unit, time_scale

__all__ = ["NotDrawable", "caption", "plot_price_fan", "plot_liquidations", "plot_bad_debt", "plot_cascades",
           "plot_insurance_fund", "plot_drawdown", "plot_compare_headline", "plot_tradeoff",
           "plot_compare_differences", "plot_sweep_heatmap", "plot_sweep_stats", "plot_sweep_differences",
           "RUN_PLOTS", "COMPARE_PLOTS", "SWEEP_PLOTS"]

STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.25}
# Distinct colours for traced paths (tab10 without its grey, which reads as a reference line).
PATH_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
               "#393b79"]


class NotDrawable(ValueError):
    """The result has nothing this figure draws (the message says what is missing)."""


def caption(obj):
    """The caption of a figure drawn by a plot_* function (its returned Axes or Figure), or None."""
    return getattr(obj, "_marginsim_caption", None)


def _captioned(obj, text):
    obj._marginsim_caption = text
    return obj


def _styled(fn):
    """Run a plot function inside the figures' rc_context (fonts, grid), leaving rcParams as they were."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def _new_figure(figsize, fig):
    """The figure to draw into: `fig` when given, else a new pyplot figure with a constrained layout."""
    if fig is not None:
        return fig
    import matplotlib.pyplot as plt
    return plt.figure(figsize=figsize, layout="constrained")


def _new_axes(figsize, ax):
    if ax is not None:
        return ax.figure, ax
    fig = _new_figure(figsize, None)
    return fig, fig.subplots()


# ---------------------------------------------------------------------------
# Reading what a figure needs from a Result

def _config(r):
    """The resolved configuration of a run (its own `config` attribute, else the file's) as a dict."""
    c = r.config if r.config_yaml else r.root.config
    return c if isinstance(c, dict) else {}


def _insurance_fund(r):
    v = cfg_get(_config(r), "liquidation.insurance_fund")
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _npaths(r):
    s = r.summary
    return len(s) if s is not None else int(r.root.attrs.get("paths", 0) or 0)


def _title(r, title):
    if title is not None:
        return title
    name = r.root.attrs.get("name", "") or ""
    a = r.attrs if r.group != "/" else {}
    extra = a.get("value", a.get("label"))
    return f"{name} / {extra}" if extra is not None else name


def _wide(df):
    """(times, {variable: paths x samples}) of a long timeseries table (Result.timeseries, .fan)."""
    if df is None or len(df) == 0:
        return None, {}
    npaths = int(df["path"].iloc[-1]) + 1
    ns = len(df) // npaths
    t = df["time"].to_numpy()[:ns]
    return t, {c: df[c].to_numpy().reshape(npaths, ns) for c in df.columns if c not in ("path", "time")}


class _Run:
    """What the run figures share: the summary, traced paths, fan, horizon and time axis of one run."""

    def __init__(self, r):
        self.s = r.summary
        self.npaths = _npaths(r)
        self.t_sec, self.ts = _wide(r.timeseries)
        self.has_ts = "price" in self.ts and self.ts["price"].shape[0] > 0 and len(self.t_sec) > 1
        self.regime_names = (r.timeseries.attrs.get("regime_names") if r.timeseries is not None else None) or [""]
        self.fan_t, self.fan = _wide(r.fan)
        self.fan_regime_names = (r.fan.attrs.get("regime_names") if r.fan is not None else None) or [""]
        if not ("price" in self.fan and self.fan["price"].shape[0] > 1):
            self.fan = None
        self.fund0 = _insurance_fund(r)
        H = seconds(cfg_get(_config(r), "horizon"))
        if self.has_ts:
            H = H or float(self.t_sec[-1])
        elif self.fan is not None:
            H = H or float(self.fan_t[-1])
        self.H = H
        self.div, self.tunit = time_scale(H)


# ---------------------------------------------------------------------------
# Drawing helpers

def pct_formatter():
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _p: _pct(v))


def price_formatter():
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}")


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


def _short_names(names, n=12):
    return [x if len(x) <= n else x[: n - 1] + "…" for x in names]


# ---------------------------------------------------------------------------
# Run figures

@_styled
def plot_price_fan(r, fig=None, *, title=None):
    """Fan chart of the exogenous price: 5-95% and 25-75% bands and the median over /timeseries/fan (else
    over the traced paths), the traced path with the most liquidations (else the deepest fall) with its
    mark and oracle prices and its regime spells, and below, with two or more regimes, the share of the
    paths in each regime over time. Returns the Figure."""
    d = _Run(r)
    title = _title(r, title)
    fan, div, tunit, npaths = d.fan, d.div, d.tunit, d.npaths
    if fan is None and not d.has_ts:
        raise NotDrawable("no /timeseries in this group (or no traced paths)")
    if not d.has_ts:
        fnames = d.fan_regime_names if "regime" in fan else []
        tf = d.fan_t / div
        if len(fnames) > 1:
            fig = _new_figure((10, 6.2), fig)
            ax, axr = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
            _regime_share(axr, tf, fan["regime"], fnames, tunit)
        else:
            fig = _new_figure((10, 5), fig)
            ax = fig.subplots()
            ax.set_xlabel(f"time ({tunit})")
        _fan_bands(ax, tf, fan["price"], f"{fan['price'].shape[0]:,} paths")
        ax.set_ylabel("price (USD)")
        ax.yaxis.set_major_formatter(price_formatter())
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, frameon=False)
        fig.suptitle(f"{title}: price paths")
        nb = fan["price"].shape[0]
        return _captioned(fig, f"Quantile bands of the exogenous price over the first {nb:,} of the {npaths:,} paths "
                          f"(/timeseries/fan, {len(d.fan_t)} times). No path is traced "
                          f"(output.timeseries.paths = 0), so no mark or oracle price is drawn."
                          + (f" Lower panel: the share of these paths in the {', '.join(fnames[1:])} regime over "
                             f"time." if len(fnames) > 1 else ""))
    ts = d.ts
    t = d.t_sec / div
    P = ts["price"]
    ntr = P.shape[0]
    liq_ts = ts.get("liquidations")
    if liq_ts is not None and liq_ts.sum() > 0:
        k = int(np.argmax(liq_ts.sum(axis=1)))
        why = f"the traced path with the most liquidations, {int(liq_ts[k].sum()):,}"
    else:
        dd = 1 - P.min(axis=1) / P[:, 0]
        k = int(np.argmax(dd))
        why = "the traced path with the deepest fall"
    regime = ts.get("regime")
    rnames = d.regime_names if regime is not None else []
    multi = regime is not None and len(rnames) > 1
    if multi:
        fig = _new_figure((10, 6.2), fig)
        ax, axr = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    else:
        fig = _new_figure((10, 5), fig)
        ax = fig.subplots()
    if fan is not None:
        nb = fan["price"].shape[0]
        _fan_bands(ax, d.fan_t / div, fan["price"], f"{nb:,} paths")
        band_note = (f"Bands: quantiles of the exogenous price over the first {nb:,} of the {npaths:,} paths "
                     f"(/timeseries/fan, {len(d.fan_t)} times).")
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
            _regime_share(axr, d.fan_t / div, fan["regime"], rnames, tunit)
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
    return _captioned(fig, f"{band_note} Path {k} ({why}) is drawn with its exogenous and mark price "
                      f"(exogenous × liquidation impact) and the oracle's published price as a step line."
                      f"{shade_note}")


def _liquidation_events(r, d):
    """(events, source text, number of paths they cover) from /liquidations, else /cascades, else the
    traced paths' /timeseries; NotDrawable without any."""
    npaths = d.npaths
    L = r.liquidations
    if L is not None:
        ev = dict(path=L["path"].to_numpy().astype(np.int64), t=L["time"].to_numpy() / 1000.0, n=np.ones(len(L)),
                  x=L["notional"].to_numpy().astype(float),
                  ind=(L["impact_triggered"].to_numpy() != 0).astype(float) if "impact_triggered" in L.columns
                  else None, t_end=None)
        return ev, f"/liquidations (every liquidation of all {npaths} paths, at its time)", npaths
    C = r.cascades
    if C is not None:
        ev = dict(path=C["path"].to_numpy().astype(np.int64), t=C["start"].to_numpy().astype(float),
                  n=C["liquidations"].to_numpy().astype(float), x=C["notional"].to_numpy().astype(float),
                  ind=C["impact_triggered"].to_numpy().astype(float) if "impact_triggered" in C.columns else None,
                  t_end=C["end"].to_numpy().astype(float), gap=seconds(cfg_get(_config(r), "stats.cascade_gap")))
        return ev, (f"/cascades (all {npaths} paths; each cascade's liquidations and notional counted at its "
                    f"start)"), npaths
    if d.has_ts and "liquidations" in d.ts:
        tl = d.ts["liquidations"].astype(float)
        P, T = np.nonzero(tl)
        ev = dict(path=P.astype(np.int64), t=d.t_sec[T], n=tl[P, T], x=None, ind=None, t_end=None)
        return ev, (f"/timeseries (the {tl.shape[0]} traced paths only, liquidations since the previous sample; "
                    f"no notional recorded there)"), tl.shape[0]
    raise NotDrawable("no /liquidations, /cascades or /timeseries")


@_styled
def plot_liquidations(r, fig=None, *, title=None):
    """Liquidations over time, per path and interval (so that a few paths' cascades are not spread over
    every path as a mean would): on top the share of paths with at least one liquidation in each interval
    (and with an impact-triggered one), below the quantiles over paths of each path's liquidations and
    liquidated notional in the interval. From /liquidations, else /cascades, else /timeseries. Returns the
    Figure."""
    d = _Run(r)
    title = _title(r, title)
    ev, src, base = _liquidation_events(r, d)
    H2, div, tunit = d.H, d.div, d.tunit
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
        fig = _new_figure((9, 2.6), fig)
        ax = fig.subplots()
        _message_panel(ax, f"no liquidations in any of the {base} paths")
        ax.set_title(f"{title}: liquidations over time")
        return _captioned(fig, f"There were no liquidations in any of the {base} paths (from {src}).")
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
    fig = _new_figure((10, 2.6 + 2.3 * len(panels)), fig)
    axes = fig.subplots(1 + len(panels), 1, sharex=True, squeeze=False, height_ratios=[1] + [1.3] * len(panels))
    axes = axes[:, 0]
    x = edges[:-1] / div
    width = bw / div
    ax = axes[0]
    ax.bar(x, share, width, align="edge", color="#fc9272", label="paths with ≥ 1 liquidation")
    if share_ind is not None:
        ax.bar(x, share_ind, width, align="edge", color="#cb181d",
               label="… of them with ≥ 1 impact-triggered liquidation")
    ax.set_ylabel(f"share of paths\nper {_dur(bw)}")
    ax.yaxis.set_major_formatter(pct_formatter())
    ax.set_ylim(0, max(float(share.max()) * 1.15, 0.01))
    ax.legend(loc="upper right", fontsize=7)
    for ax, (col, ylabel, fmt_) in zip(axes[1:], panels):
        pbins, vals = _per_path_bins(ev["path"], b0, ev[col], nb)
        Q = _quantiles_with_zeros(pbins, vals, nb, base, qs)
        mean = np.bincount(b0, weights=ev[col], minlength=nb) / base
        xs = np.append(x, edges[-1] / div)
        for qn, row in zip(qnames[::-1], Q[::-1]):
            ax.stairs(row, xs, color=qcolors[qn], lw=1.3, label=qn + (" (0 throughout)" if not row.any() else ""))
        ax.stairs(mean, xs, color="#636363", lw=1.0, ls="--", label="mean (for reference)")
        ax.set_yscale("symlog", linthresh=1.0 if col == "n" else
                      max(1.0, float(np.min(vals[vals > 0])) if np.any(vals > 0) else 1.0))
        ax.set_ylim(0, max(float(Q[-1].max()), float(mean.max()), 1.0) * 2)
        ax.set_ylabel(ylabel)
        if fmt_ is not None:
            ax.yaxis.set_major_formatter(fmt_)
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
              "impact would not have triggered at that moment: liquidated earlier, or only, because of impact)"
              if share_ind is not None else "")
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
        cap += (" The quantiles and the impact-triggered share place each cascade's liquidations and notional at "
                "its start (one that crosses an "
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
    return _captioned(fig, cap)


@_styled
def plot_bad_debt(r, ax=None, *, title=None):
    """Complementary CDF of bad debt per path on log-log axes, with the insurance fund's starting balance
    and the counts of paths above it and insolvent (a message panel when no path has bad debt). Returns
    the Axes."""
    s = r.summary
    if s is None or "bad_debt" not in s.columns:
        raise NotDrawable("no paths/summary")
    title = _title(r, title)
    fund0 = _insurance_fund(r)
    bd = s["bad_debt"].to_numpy().astype(float)
    bd = bd[np.isfinite(bd)]
    pos = bd[bd > 0]
    nzero = len(bd) - len(pos)
    fig, ax = _new_axes((8, 5.4) if len(pos) else (7.5, 2.8), ax)
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
            if "insolvent" in s.columns:
                ins = int(np.sum(s["insolvent"].to_numpy() > 0))
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
    return _captioned(ax, cap)


@_styled
def plot_cascades(r, fig=None, *, title=None):
    """Complementary CDFs of every cascade's notional and number of liquidations, log-log (a message panel
    without cascades). Returns the Figure."""
    C = r.cascades
    if C is None:
        raise NotDrawable("no /cascades")
    title = _title(r, title)
    npaths = _npaths(r)
    if len(C) == 0:
        fig = _new_figure((9, 2.6), fig)
        ax1 = fig.subplots()
        _message_panel(ax1, f"no cascades in any of the {npaths} paths")
        ax1.set_title(f"{title}: cascade sizes")
        return _captioned(fig, f"No cascades in any of the {npaths} paths: no run of liquidations to measure.")
    fig = _new_figure((11, 4.4), fig)
    ax1, ax2 = fig.subplots(1, 2)
    notes = []
    for ax, col, lab, color in ((ax1, "notional", "cascade notional, x (USD)", "#6a51a3"),
                                (ax2, "liquidations", "liquidations in the cascade, x", "#d94801")):
        v = C[col].to_numpy().astype(float)
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
    return _captioned(fig, f"Complementary CDF of the size of every cascade of all {npaths} paths ({len(C)} cascades, "
                      f"{len(C) / max(npaths, 1):.1f} per path), log–log: a straight tail means a power law. "
                      + ("; ".join(notes) + "." if notes else ""))


@_styled
def plot_insurance_fund(r, ax=None, *, title=None):
    """The insurance fund's balance over time on each traced path, with its starting balance. Returns the
    Axes."""
    d = _Run(r)
    if not (d.has_ts and "insurance_fund" in d.ts):
        raise NotDrawable("no /timeseries in this group (or no traced paths)")
    title = _title(r, title)
    t = d.t_sec / d.div
    F = d.ts["insurance_fund"]
    start = d.fund0 if d.fund0 is not None else float(F[0, 0])
    fig, ax = _new_axes((10, 4.2), ax)
    for i, row in enumerate(F):
        ax.plot(t, row, lw=1.1, color=PATH_COLORS[i % len(PATH_COLORS)], label=f"path {i}" if len(F) <= 10 else None)
    ax.axhline(start, color="black", ls="--", lw=1, label=f"start: {money(start)}")
    ax.axhline(0, color="black", lw=0.6, ls=":")
    ax.yaxis.set_major_formatter(money_formatter())
    ax.set_ylabel("insurance fund (USD)")
    ax.set_xlabel(f"time ({d.tunit})")
    ax.set_xlim(t[0], t[-1])
    lo = min(0.0, float(np.nanmin(F)))
    ax.set_ylim(lo - 0.05 * (start - lo + 1), max(start, float(np.nanmax(F))) * 1.08 + 1)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="traced path")
    drawn = int(np.sum(F.min(axis=1) < start - 1e-6))
    empty = int(np.sum(F.min(axis=1) <= 1e-6))
    ax.set_title(f"{title}: insurance fund — drawn on in {drawn} of {len(F)} traced paths, emptied in {empty}")
    return _captioned(ax, f"Balance of the insurance fund over time on each of the {len(F)} traced paths (/timeseries; "
                      f"the first {len(F)} of {d.npaths} paths). Dashed: the starting balance. It falls when it pays "
                      f"bad debt and grows with the penalties' protocol share.")


@_styled
def plot_drawdown(r, ax=None, *, title=None):
    """Each path's max drawdown of the exogenous price against its liquidated notional, paths with bad
    debt marked (a histogram of drawdowns when no path liquidates). Returns the Axes."""
    s = r.summary
    if s is None or "max_drawdown" not in s.columns or "liquidated_notional" not in s.columns:
        raise NotDrawable("no max_drawdown and liquidated_notional in paths/summary")
    title = _title(r, title)
    fig, ax = _new_axes((7.5, 4.5), ax)
    dd = s["max_drawdown"].to_numpy() * 100
    ln = s["liquidated_notional"].to_numpy()
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
        bad = s["bad_debt"].to_numpy() > 0 if "bad_debt" in s.columns else np.zeros(len(s), bool)
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
    return _captioned(ax, cap)


# ---------------------------------------------------------------------------
# --compare files

HEADLINE_COMPARE = (("bad_debt.mean", "mean bad debt per path (USD)"),
                    ("insolvency.probability", "P(insolvency)"),
                    ("liquidations.mean", "mean liquidations per path"),
                    ("largest_cascade_notional.mean", "mean largest cascade\nnotional per path (USD)"))


def margin_unchanged(m):
    """True when every compared value asks the same initial margin of the book (/compare/models)."""
    im = np.asarray(m["initial_margin"], dtype=float)
    return bool(len(im) > 0 and np.all(np.abs(im - im[0]) <= 1e-9 * max(1.0, abs(im[0]))))


class _Compare:
    """A --compare file's models in the order of /compare/models, each as a Result."""

    def __init__(self, r):
        r = r.root
        if r.kind != "compare" or r.compare is None or r.compare.models is None:
            raise NotDrawable("not a --compare file (no /compare/models)")
        self.r = r
        self.key = r.attrs.get("compare", "")
        self.m = r.compare.models
        self.names = list(self.m["model"])
        self.groups = [r.sub("models/" + n.replace("/", "|")) for n in self.names]
        import matplotlib
        self.colors = matplotlib.colormaps["tab10"]
        self.rot = 30 if max(len(n) for n in self.names) * len(self.names) > 40 else 0
        self.same_im = margin_unchanged(self.m)


@_styled
def plot_compare_headline(r, fig=None, *, title=None):
    """One panel per headline statistic (mean bad debt, P(insolvency), mean liquidations, mean largest
    cascade) with each model's value and 95% interval, and the initial margin per unit of one-day 99%
    risk (left out when every model asks the same margin). Returns the Figure."""
    c = _Compare(r)
    names, groups, m, key, colors, rot = c.names, c.groups, c.m, c.key, c.colors, c.rot
    fig = _new_figure((15, 4.0), fig)
    axes = fig.subplots(1, 5)
    x = np.arange(len(names))
    for ax, (st, lab) in zip(axes, HEADLINE_COMPARE):
        vals = np.array([g.stat(st) for g in groups])
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
    ipr = m["im_per_risk"].to_numpy()
    if c.same_im:
        _message_panel(ax, f"capital efficiency left out:\nevery value of {key}\nasks the same initial margin")
    else:
        ax.bar(x, ipr, color=[colors(i % 10) for i in range(len(names))], alpha=0.8)
        for xi, vi in zip(x, ipr):
            ax.annotate(f"{vi:.2f}", (xi, vi), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
        ax.axhline(1, color="grey", ls="--", lw=1)
        ax.set_title("initial margin / one-day 99% risk\n(capital efficiency; no interval)")
        ax.set_xticks(x, _short_names(names), rotation=rot, ha="right" if rot else "center")
        ax.margins(y=0.15)
    name = c.r.attrs.get("name", "") if title is None else title
    fig.suptitle(f"{name}: headline statistics per value of {key} (95% intervals)")
    return _captioned(fig, f"Each value of {key} on the same {c.r.attrs.get('paths')} paths and book: means with their "
                      f"bootstrap-t 95% interval, P(insolvency) with its Wilson 95% interval, and "
                      + (f"no capital-efficiency panel: every value of {key} asks the same initial margin of the "
                         f"book, so initial margin per unit of risk would compare equal numbers. " if c.same_im else
                         "the book's initial margin per unit of one-day 99% risk at the start (below 1: the model "
                         "asks less than a one-day 99% loss). ")
                      + "The intervals here are those of each model alone; the paired differences below are much "
                        "tighter.")


@_styled
def plot_tradeoff(r, fig=None, *, title=None):
    """Mean bad debt and P(insolvency) of each model against the initial margin it asks per unit of
    one-day 99% risk. NotDrawable when every model asks the same margin. Returns the Figure."""
    c = _Compare(r)
    if c.same_im:
        raise NotDrawable(f"every value of {c.key} asks the same initial margin of the book")
    names, groups, m, key, colors = c.names, c.groups, c.m, c.key, c.colors
    fig = _new_figure((12, 4.6), fig)
    ax, ax2 = fig.subplots(1, 2)
    ipr, ip, ilo, ihi = (m[k].to_numpy() for k in ("im_per_risk", "insolvency_p", "insolvency_lo", "insolvency_hi"))
    for i, (n, g) in enumerate(zip(names, groups)):
        xv = ipr[i]
        v, lo, hi = g.stat("bad_debt.mean")
        ax.errorbar([xv], [v], yerr=[[max(v - lo, 0)], [max(hi - v, 0)]], fmt="o", capsize=4, color=colors(i % 10),
                    label=n)
        p, plo, phi = ip[i], ilo[i], ihi[i]
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
    name = c.r.attrs.get("name", "") if title is None else title
    fig.suptitle(f"{name}: capital efficiency against stress ({key})")
    return _captioned(fig, "Left: mean bad debt per path (95% interval); right: probability of insolvency (Wilson "
                      "95%), each against the initial margin the model asks per unit of one-day 99% risk. Up and "
                      "to the left is worse: less margin, more loss.")


@_styled
def plot_compare_differences(r, fig=None, *, title=None):
    """For each statistic of /compare/differences that is not zero for every model, the paired difference
    (model - first model, mean over paths) with its 95% interval. Returns the Figure."""
    c = _Compare(r)
    d = c.r.compare.differences
    if d is None or len(d) == 0:
        raise NotDrawable("no /compare/differences")
    names = c.names
    meta = c.groups[0]._summary_units
    dstat = d["statistic"].to_numpy()
    stats_ = list(dict.fromkeys(dstat))
    # leave out statistics that are exactly zero for every model (nothing to see)
    nonzero = (d["diff"].to_numpy() != 0) | (d["lo"].to_numpy() != 0) | (d["hi"].to_numpy() != 0)
    shown = [s_ for s_ in stats_ if np.any(nonzero[dstat == s_])]
    hidden = [s_ for s_ in stats_ if s_ not in shown]
    if not shown:
        raise NotDrawable("every paired difference is zero")
    baseline = d["baseline"].iloc[0]
    ncol = 4 if len(shown) > 6 else min(3, len(shown))
    nrow = (len(shown) + ncol - 1) // ncol
    others = [n for n in names[1:]]
    fig = _new_figure((13, 0.7 + nrow * (0.9 + 0.35 * len(others))), fig)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.set_axis_off()
    for ax, st in zip(axes.flat, shown):
        rows = d[dstat == st]
        diff, lo, hi = (rows[k].to_numpy() for k in ("diff", "lo", "hi"))
        y = np.arange(len(rows))
        ax.errorbar(diff, y, xerr=[diff - lo, hi - diff], fmt="o", capsize=3, color="#08519c")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, _short_names(list(rows["model"])))
        ax.set_ylim(-0.6, len(rows) - 0.4)
        prob = int(rows["probability"].iloc[0]) == 1
        unit = "probability" if prob else meta.get(st, "")
        ax.set_title(f"{st} ({'difference of P' if prob else unit or 'difference'})", fontsize=8.5)
        if unit == "USD" or unit == "count":
            ax.xaxis.set_major_formatter(money_formatter())
        ax.locator_params(axis="x", nbins=4)
    fig.suptitle(f"paired differences against {baseline}, mean over paths with 95% interval")
    return _captioned(fig, f"For each statistic, the mean over paths of (model − {baseline}) on the same path, "
                      f"with its 95% interval; an interval that misses 0 is a difference the run resolves."
                      + (f" Not drawn (zero for every model): {', '.join(hidden)}." if hidden else ""))


# ---------------------------------------------------------------------------
# Sweep files

class SweepView:
    """A sweep file's layout, cell by cell (what report.py's tables and the sweep figures read):
    axes [(key, values as given, values as numbers)], index (cells x axes: each cell's value
    positions), labels, ncells, baseline, show (the headline statistics the file has), missing
    (those it lacks), meta {column: unit} of the baseline cell, diffs {field: cells x statistics}
    of /sweep/differences (None without it), dnames (its statistics); stat(c, name) ->
    (value, lo, hi)."""

    def __init__(self, r):
        r = r.root
        if r.kind != "sweep" or r.sweep is None:
            raise NotDrawable("not a sweep file (no /sweep/stats)")
        self.r = r
        self.axes = [(k, [str(v) for v in vals], np.asarray(r.axes_numeric[k], dtype=float))
                     for k, vals in r.axes.items()]
        cells = r.sweep_cells
        self.index = cells[[k for k, _, _ in self.axes]].to_numpy() if self.axes else np.zeros((0, 0), int)
        self.labels = list(cells["label"])
        self.ncells = len(self.labels)
        try:
            self.baseline = int(r.attrs.get("baseline", 0) or 0)
        except (TypeError, ValueError):
            self.baseline = 0
        if not 0 <= self.baseline < self.ncells:
            self.baseline = 0
        self._summary = self._by_cell(r.sweep, "name")
        self._probs = self._by_cell(r.sweep_probabilities, "name")
        self.diffs, self.dnames = None, []
        sd = r.sweep_differences
        if sd is not None:
            nst = len(sd) // self.ncells if self.ncells else 0
            self.diffs = {f: sd[f].to_numpy().reshape(self.ncells, nst) for f in sd.columns
                          if f not in ("cell", "label") and f not in r.axes}
            self.dnames = [str(x) for x in self.diffs["statistic"][0]] if nst else []
        show = r.attrs.get("show", "") or ""
        names = [s.strip() for s in show.split(",") if s.strip()] or list(DEFAULT_SHOW)
        self.show = [s for s in names if self.has(s)]
        self.missing = [s for s in names if not self.has(s)]
        b = r.cells[self.baseline] if self.baseline < len(r.cells) else None
        self.meta = b._summary_units if b is not None and b.summary is not None else {}

    def _by_cell(self, df, key):
        """Per cell, {row name: row dict} (the first row of each name, as the file orders them)."""
        out = [dict() for _ in range(self.ncells)]
        if df is None:
            return out
        for rec in df.to_dict("records"):
            out[int(rec["cell"])].setdefault(rec[key], rec)
        return out

    def has(self, name):
        try:
            self.stat(0, name)
            return True
        except (KeyError, IndexError, ValueError):
            return False

    def stat(self, c, name):
        from .result import stat_of_row
        base, _, field = name.rpartition(".")
        if field == "probability":
            row = self._probs[c].get(base)
            if row is None:
                raise KeyError(name)
            return stat_of_row(row, "probability")
        row = self._summary[c].get(base)
        if row is None or field not in row or field in ("name", "unit", "cell", "label"):
            raise KeyError(name)
        return stat_of_row(row, field)

    def short(self, c):
        """The cell's values without the keys: '0.02 · 10m'."""
        return " · ".join(self.axes[a][1][self.index[c, a]] for a in range(len(self.axes)))


def stat_label(name, meta=None):
    """'bad_debt.q99' -> 'bad_debt 99% quantile (USD)', 'insolvency.probability' -> 'P(insolvency)'."""
    unit = stat_unit(name, meta)
    base, _, field = name.rpartition(".")
    if field == "probability":
        return f"P({base})"
    nice = {"mean": "mean", "q50": "median", "q90": "90% quantile", "q99": "99% quantile",
            "q999": "99.9% quantile", "es99": "99% expected shortfall", "q01": "1% quantile",
            "q001": "0.1% quantile", "es01": "expected shortfall of the lowest 1%", "sd": "sd", "min": "min",
            "max": "max"}
    return f"{base} {nice.get(field, field)}" + (f" ({unit})" if unit and unit not in ("", "flag") else "")


def _meta_units(meta):
    """stat_unit's meta ({column: (unit, meaning)}) from {column: unit}."""
    return {k: (u, "") for k, u in meta.items()}


@_styled
def plot_sweep_heatmap(r, stat, ax=None, *, title=None):
    """Statistic `stat` (e.g. "bad_debt.q99", "insolvency.probability") of each cell over the sweep's
    first two axes (the others fixed at the baseline cell's values), with its interval below the value and
    the baseline cell framed. Needs two or more axes. Returns the Axes."""
    sw = SweepView(r)
    if len(sw.axes) < 2:
        raise NotDrawable("a heatmap needs a sweep over two or more axes")
    if not sw.has(stat):
        raise NotDrawable(f"no statistic {stat} in the sweep")
    from matplotlib.patches import Rectangle
    meta = _meta_units(sw.meta)
    b = sw.baseline
    nax = len(sw.axes)
    fixed = [(a, sw.index[b, a]) for a in range(2, nax)]
    sel = [c for c in range(sw.ncells) if all(sw.index[c, a] == i for a, i in fixed)]
    fixed_txt = ", ".join(f"{sw.axes[a][0]} = {sw.axes[a][1][i]}" for a, i in fixed)
    (k0, v0, _), (k1, v1, _) = sw.axes[0], sw.axes[1]
    n0, n1 = len(v0), len(v1)
    name = stat
    unit = stat_unit(name, meta)
    M = np.full((n0, n1), np.nan)
    LO, HI = M.copy(), M.copy()
    for c in sel:
        i, j = sw.index[c, 0], sw.index[c, 1]
        M[i, j], LO[i, j], HI[i, j] = sw.stat(c, name)
    fig, ax = _new_axes((max(5.5, 1.25 * n1 + 3.0), max(3.6, 0.75 * n0 + 2.0)), ax)
    finite = M[np.isfinite(M)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if len(finite) else (0, 1)
    if vmin == vmax:
        vmin, vmax = vmin - 0.5 * (abs(vmin) or 1), vmax + 0.5 * (abs(vmax) or 1)
    im = ax.imshow(np.ma.masked_invalid(M), origin="lower", aspect="auto", cmap="YlOrRd", vmin=vmin, vmax=vmax)
    cb = fig.colorbar(im, ax=ax, shrink=0.9)
    cb.set_label(stat_label(name, meta))
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
        ax.add_patch(Rectangle((bj - 0.47, bi - 0.47), 0.94, 0.94, fill=False, ec=ec, lw=lw, ls=ls))
    bfrac = (M[bi, bj] - vmin) / (vmax - vmin) if np.isfinite(M[bi, bj]) else 0
    ax.text(bj, bi + 0.36, "baseline", ha="center", va="center", fontsize=7, style="italic",
            color="white" if bfrac > 0.6 else "black")
    ax.set_xticks(range(n1), v1, rotation=45 if n1 > 6 else 0, ha="right" if n1 > 6 else "center")
    ax.set_yticks(range(n0), v0)
    ax.set_xlabel(k1)
    ax.set_ylabel(k0)
    ax.grid(False)
    t = stat_label(name, meta) if title is None else title
    ax.set_title(t + (f"\n({fixed_txt}, as in the baseline)" if fixed else ""))
    return _captioned(ax, f"{stat_label(name, meta)} in each cell ({name}), with its 95% interval below the value "
                      f"where it has one; x: {k1}, y: {k0}; dashed frame: the baseline cell ({sw.labels[b]})."
                      + (f" The other axes are fixed at the baseline cell's values: {fixed_txt}." if fixed else ""))


@_styled
def plot_sweep_stats(r, fig=None, *, stats=None, title=None):
    """Each headline statistic (the file's `show` list, or `stats`) against the one axis of a one-axis
    sweep, with 95% intervals and the baseline cell starred. Returns the Figure."""
    sw = SweepView(r)
    if len(sw.axes) != 1:
        raise NotDrawable("statistics against an axis need a sweep over one axis (use plot_sweep_heatmap)")
    show = sw.show if stats is None else [s for s in stats if sw.has(s)]
    if not show:
        raise NotDrawable("none of the statistics is in the sweep")
    meta = _meta_units(sw.meta)
    b = sw.baseline
    k0, v0, num = sw.axes[0]
    numeric = bool(np.all(np.isfinite(num)))
    xs = num if numeric else np.arange(len(v0), dtype=float)
    order = sw.index[:, 0]
    ns = len(show)
    ncol = min(3, ns) or 1
    nrow = (ns + ncol - 1) // ncol
    fig = _new_figure((4.6 * ncol, 3.4 * nrow), fig)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax in axes.flat[ns:]:
        ax.set_axis_off()
    logx = numeric and np.all(xs > 0) and xs.max() / xs.min() >= 10
    for ax, name in zip(axes.flat, show):
        unit = stat_unit(name, meta)
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
        ax.set_title(stat_label(name, meta))
        if unit in ("USD", "count"):
            ax.yaxis.set_major_formatter(money_formatter())
    name = sw.r.attrs.get("name", "") if title is None else title
    fig.suptitle(f"{name}: headline statistics against {k0} (95% intervals; "
                 f"star: the baseline cell, {sw.labels[b]})")
    return _captioned(fig, f"Each headline statistic in each cell of the sweep over {k0}"
                      + (" (x at the values as numbers: durations in seconds, rates per day)" if numeric else "")
                      + ", with its 95% interval where it has one (means: bootstrap-t; quantiles: distribution-free "
                        "order statistics; expected shortfalls: percentile bootstrap; probabilities: Wilson; "
                        "others: none). Star: the baseline cell.")


@_styled
def plot_sweep_differences(r, fig=None, *, title=None):
    """For each headline statistic (up to six) that differs from the baseline in some cell, each cell's
    paired difference from the baseline cell (mean over paths, 95% interval) and in grey the interval the
    difference would have if the cells were independent runs. Returns the Figure."""
    sw = SweepView(r)
    if sw.diffs is None or not sw.dnames or sw.ncells <= 1:
        raise NotDrawable("no /sweep/differences (or a single cell)")
    meta = _meta_units(sw.meta)
    b = sw.baseline
    dnames = sw.dnames
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
    D = sw.diffs

    def col(field, st):
        return D[field][cells, dnames.index(st)].astype(float)

    def flat(st):
        return not np.any((col("diff", st) != 0) | (col("lo", st) != 0) | (col("hi", st) != 0))
    flat_stats = [st for st in want if flat(st)]
    want = [st for st in want if not flat(st)] or want[:1]
    ncol = min(3, len(want))
    nrow = (len(want) + ncol - 1) // ncol
    fig = _new_figure((4.8 * ncol, 1.2 + nrow * (0.9 + 0.3 * len(cells))), fig)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax in axes.flat[len(want):]:
        ax.set_axis_off()
    ylabels = _short_names([sw.short(c) for c in cells], 28)
    for ax, st in zip(axes.flat, want):
        diff, lo, hi = col("diff", st), col("lo", st), col("hi", st)
        y = np.arange(len(cells))
        ax.hlines(y, col("unpaired_lo", st), col("unpaired_hi", st), color="#bdbdbd", lw=5, label="unpaired 95%")
        ax.errorbar(diff, y, xerr=[np.maximum(diff - lo, 0), np.maximum(hi - diff, 0)],
                    fmt="o", capsize=3, color="#08519c", ms=4, lw=1.3, label="paired 95%")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, ylabels)
        ax.set_ylim(-0.6, len(cells) - 0.4)
        ax.invert_yaxis()
        prob = int(D["probability"][cells, dnames.index(st)][0]) == 1
        unit = "difference of P" if prob else (stat_unit(st + ".mean", meta) or "difference")
        ax.set_title(f"{'P(' + st + ')' if prob else st} ({unit})", fontsize=9)
        if not prob:
            ax.xaxis.set_major_formatter(money_formatter())
        ax.locator_params(axis="x", nbins=4)
    keys = " · ".join(k for k, _, _ in sw.axes)
    fig.supylabel(f"cell ({keys})", fontsize=9)
    fig.suptitle(f"differences against the baseline cell ({sw.labels[b]}), mean over paths\n"
                 f"blue: paired 95% interval; grey: 95% interval as if the cells were independent runs")
    return _captioned(fig, f"For each cell, the mean over paths of (cell − baseline) on the same path with its paired "
                      f"95% interval (blue), and in grey the interval the same difference would have if the two "
                      f"cells had been independent runs: pairing on common random numbers is what makes small "
                      f"effects visible. Baseline: {sw.labels[b]}. Cells are labelled by their values of {keys}."
                      + (f" Not drawn (no difference from the baseline in any cell): {', '.join(flat_stats)}."
                         if flat_stats else ""))


# The functions by kind of result, in the report's order (name, function).
RUN_PLOTS = (("price_fan", plot_price_fan), ("liquidations", plot_liquidations), ("bad_debt", plot_bad_debt),
             ("cascades", plot_cascades), ("insurance_fund", plot_insurance_fund), ("drawdown", plot_drawdown))
COMPARE_PLOTS = (("compare_headline", plot_compare_headline), ("tradeoff", plot_tradeoff),
                 ("compare_differences", plot_compare_differences))
SWEEP_PLOTS = (("sweep_heatmap", plot_sweep_heatmap), ("sweep_stats", plot_sweep_stats),
               ("sweep_differences", plot_sweep_differences))
