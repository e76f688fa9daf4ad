"""What the figures share: their style, the caption and NotDrawable, new figures and Axes, reading a
run's configuration and long tables back into matrices, and the drawing helpers (bands, CCDFs,
per-path quantiles, log ticks)."""
import math

import numpy as np

from .._fmt import cfg_get

STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.25}
# Distinct colours for traced paths (tab10 without its grey, which reads as a reference line).
PATH_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
               "#393b79"]


class NotDrawable(ValueError):
    """The result has nothing this figure draws (the message says what is missing)."""


def _table(r, name):
    """r.<name>, or None when r does not hold it: an in-memory result of marginsim.run holds no
    /timeseries, /timeseries/fan or /cascades (they are written to the result file only)."""
    from ..result import FileOnly
    try:
        return getattr(r, name)
    except FileOnly:
        return None


def _not_drawable(r, why):
    """NotDrawable(why), saying how to get the tables when r is an in-memory result."""
    if getattr(r, "path", "") is None:
        why += ("; this result of marginsim.run is in memory, which holds only the summary, statistics and "
                "liquidations: run with output=\"FILE.h5\" for the rest")
    return NotDrawable(why)


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


def _interval_bars(ax, diff, y, lo, hi, extra=(), **kw):
    """Horizontal interval bars of lo .. hi around diff at heights y; an unbounded end (a sample that cannot
    bound the difference: docs/output.md, Statistics and intervals) is an arrow to the axis' edge, not a bar
    that matplotlib leaves out; @p extra: other values drawn on the axis (kept in view). Returns whether any end
    was unbounded."""
    diff, lo, hi = (np.asarray(v, float) for v in (diff, lo, hi))
    flo, fhi = np.isfinite(lo), np.isfinite(hi)
    ax.errorbar(diff, y, xerr=[np.where(flo, np.maximum(diff - lo, 0), 0), np.where(fhi, np.maximum(hi - diff, 0), 0)],
                **kw)
    # NaN: no interval (one path), neither a bar nor an arrow; only an infinite end is unbounded
    ulo, uhi = np.isinf(lo), np.isinf(hi)
    if not (ulo.any() or uhi.any()):
        return False
    ex = np.asarray(extra, float).ravel()
    finite = np.concatenate([diff[np.isfinite(diff)], lo[flo], hi[fhi], ex[np.isfinite(ex)], [0.0]])  # 0 in view
    span = finite.max() - finite.min()
    span = span if span > 0 else max(1.0, abs(finite).max())
    left, right = finite.min() - 0.3 * span, finite.max() + 0.3 * span
    ax.set_xlim(left, right)
    color = kw.get("color", "black")
    for d, yy, l_inf, h_inf in zip(diff, y, ulo, uhi):
        if not np.isfinite(d):
            continue
        if h_inf:
            ax.annotate("", xy=(right, yy), xytext=(d, yy), arrowprops=dict(arrowstyle="->", color=color, lw=1.2))
        if l_inf:
            ax.annotate("", xy=(left, yy), xytext=(d, yy), arrowprops=dict(arrowstyle="->", color=color, lw=1.2))
    return True


def _no_difference(diff, lo, hi):
    """Rows of paired differences with nothing to draw: 0 with the interval [0, 0] (the same on every path) or
    unbounded both ways (one value on every path of both: nothing the paths can bound)."""
    diff, lo, hi = (np.asarray(v, float) for v in (diff, lo, hi))
    return (diff == 0) & (((lo == 0) & (hi == 0)) | (np.isinf(lo) & np.isinf(hi)))
