"""The figures of a sweep file: heatmaps (two or more axes), statistics against the axis (one
axis), paired differences against the baseline cell; SweepView, the file's layout cell by cell."""
import numpy as np

from .._fmt import DEFAULT_SHOW, fmt, fmt_interval, money_formatter, stat_unit
from ._draw import (NotDrawable, _captioned, _interval_bars, _no_difference, _styled, _new_figure, _new_axes,
                    _short_names)


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
        from ..result import stat_of_row
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
                        "order statistics; expected shortfalls: bootstrap-t; probabilities: Wilson; "
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

    def flat(st):  # no difference to draw in any cell
        return bool(np.all(_no_difference(col("diff", st), col("lo", st), col("hi", st))))
    flat_stats = [st for st in want if flat(st)]
    want = [st for st in want if not flat(st)] or want[:1]
    ncol = min(3, len(want))
    nrow = (len(want) + ncol - 1) // ncol
    fig = _new_figure((4.8 * ncol, 1.2 + nrow * (0.9 + 0.3 * len(cells))), fig)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax in axes.flat[len(want):]:
        ax.set_axis_off()
    ylabels = _short_names([sw.short(c) for c in cells], 28)
    unbounded = False
    for ax, st in zip(axes.flat, want):
        diff, lo, hi = col("diff", st), col("lo", st), col("hi", st)
        y = np.arange(len(cells))
        ax.hlines(y, col("unpaired_lo", st), col("unpaired_hi", st), color="#bdbdbd", lw=5, label="unpaired 95%")
        unbounded |= _interval_bars(ax, diff, y, lo, hi, extra=(col("unpaired_lo", st), col("unpaired_hi", st)),
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
                      + (" An arrow to the panel's edge: the interval is unbounded on that side (the paths cannot "
                         "bound the difference, e.g. a statistic of one value on every path of both cells)."
                         if unbounded else "")
                      + (f" Not drawn (no difference from the baseline in any cell, the same on every path or one "
                         f"value on every path): {', '.join(flat_stats)}."
                         if flat_stats else ""))
