"""The figures of a --compare file: headline statistics, capital efficiency against stress,
paired differences."""
import numpy as np

from .._fmt import fmt, money_formatter
from ._draw import (NotDrawable, _captioned, _interval_bars, _no_difference, _styled, _new_figure, _message_panel,
                    _short_names)


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
        # an unbounded side (a heavy tail's mean: hi = inf) is no bar but said in the label
        err = np.nan_to_num(np.array([np.maximum(v - lo, 0), np.maximum(hi - v, 0)]), nan=0.0, posinf=0.0)
        ax.bar(x, v, color=[colors(i % 10) for i in range(len(names))], alpha=0.8)
        ax.errorbar(x, v, yerr=err, fmt="none", ecolor="black", capsize=4, lw=1)
        unit = "probability" if st.endswith("probability") else ("USD" if "USD" in lab else "")
        for xi, vi, hii in zip(x, v, hi):
            ax.annotate(fmt(vi, unit) + ("" if np.isfinite(hii) else ", hi ∞"), (xi, hii if np.isfinite(hii) else vi),
                        textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
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
                      + "The intervals here are those of each model alone; the paired differences below, on the "
                        "same paths, are usually tighter where the models' values move together over the paths.")


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
    # leave out statistics with no difference to draw for any model
    nonzero = ~_no_difference(d["diff"], d["lo"], d["hi"])
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
    unbounded = False
    for ax, st in zip(axes.flat, shown):
        rows = d[dstat == st]
        diff, lo, hi = (rows[k].to_numpy() for k in ("diff", "lo", "hi"))
        y = np.arange(len(rows))
        unbounded |= _interval_bars(ax, diff, y, lo, hi, fmt="o", capsize=3, color="#08519c")
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
                      + (" An arrow to the panel's edge: the interval is unbounded on that side (the paths cannot "
                         "bound the difference)." if unbounded else "")
                      + (f" Not drawn (a difference of zero for every model, the same on every path or one value "
                         f"on every path): {', '.join(hidden)}." if hidden else ""))
