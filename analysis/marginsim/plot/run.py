"""The figures of one run (a run file, a --compare model, a sweep cell): price fan, liquidations
over time, bad debt, cascades, insurance fund, drawdown."""
import math

import numpy as np

from .._fmt import cfg_get, money, money_formatter, seconds, time_scale
from ._draw import (PATH_COLORS, NotDrawable, _captioned, _styled, _new_figure, _new_axes, _config, _insurance_fund,
                    _not_drawable, _table, _npaths, _title, _wide, pct_formatter, price_formatter, _message_panel,
                    _ccdf, _spans, _plural, _log_ticks, _nice_bin, _dur, _fan_bands, _regime_share, _per_path_bins,
                    _quantiles_with_zeros)


class _Run:
    """What the run figures share: the summary, traced paths, fan, horizon and time axis of one run."""

    def __init__(self, r):
        self.s = r.summary
        self.npaths = _npaths(r)
        ts, fan = _table(r, "timeseries"), _table(r, "fan")
        self.t_sec, self.ts = _wide(ts)
        self.has_ts = "price" in self.ts and self.ts["price"].shape[0] > 0 and len(self.t_sec) > 1
        self.regime_names = (ts.attrs.get("regime_names") if ts is not None else None) or [""]
        self.fan_t, self.fan = _wide(fan)
        self.fan_regime_names = (fan.attrs.get("regime_names") if fan is not None else None) or [""]
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
        raise _not_drawable(r, "no /timeseries in this group (or no traced paths)")
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
    C = _table(r, "cascades")
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
    raise _not_drawable(r, "no /liquidations, /cascades or /timeseries")


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
    cap = (f"{any_path:.1%} of the {base:,} paths liquidate at some point; at most {share[worst]:.1%} of all the "
           f"paths in one {_dur(bw)} interval (the one starting at {worst * bw / div:g} {tunit}). From {src}. "
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
    C = _table(r, "cascades")
    if C is None:
        raise _not_drawable(r, "no /cascades")
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
        raise _not_drawable(r, "no /timeseries in this group (or no traced paths)")
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
