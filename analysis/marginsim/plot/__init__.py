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

Each accepts `title=` (default: the file's scenario name). The code: _draw.py
(style, figures, shared drawing helpers), run.py, compare.py, sweep.py. A function that
has nothing to draw with what the file holds (no /timeseries for the price
fan, a run file given to plot_tradeoff, ...) raises `NotDrawable` with the
reason, before creating any figure. `caption(obj)` gives the figure's
caption (what report.html prints under it) for the Axes or Figure returned.

No global state: the functions never call matplotlib.use nor change
rcParams (their style applies inside an rc_context), and write no file;
new figures come from pyplot, so a notebook shows them, and a script on the
Agg backend saves them (`fig.savefig(...)`, then `plt.close(fig)`).
"""
from ._draw import STYLE, NotDrawable, caption  # noqa: F401
from .compare import margin_unchanged, plot_compare_differences, plot_compare_headline, plot_tradeoff  # noqa: F401
from .run import (plot_bad_debt, plot_cascades, plot_drawdown, plot_insurance_fund, plot_liquidations,  # noqa: F401
                  plot_price_fan)
from .sweep import SweepView, plot_sweep_differences, plot_sweep_heatmap, plot_sweep_stats, stat_label  # noqa: F401

__all__ = ["NotDrawable", "caption", "plot_price_fan", "plot_liquidations", "plot_bad_debt", "plot_cascades",
           "plot_insurance_fund", "plot_drawdown", "plot_compare_headline", "plot_tradeoff",
           "plot_compare_differences", "plot_sweep_heatmap", "plot_sweep_stats", "plot_sweep_differences",
           "RUN_PLOTS", "COMPARE_PLOTS", "SWEEP_PLOTS"]


# The functions by kind of result, in the report's order (name, function).
RUN_PLOTS = (("price_fan", plot_price_fan), ("liquidations", plot_liquidations), ("bad_debt", plot_bad_debt),
             ("cascades", plot_cascades), ("insurance_fund", plot_insurance_fund), ("drawdown", plot_drawdown))
COMPARE_PLOTS = (("compare_headline", plot_compare_headline), ("tradeoff", plot_tradeoff),
                 ("compare_differences", plot_compare_differences))
SWEEP_PLOTS = (("sweep_heatmap", plot_sweep_heatmap), ("sweep_stats", plot_sweep_stats),
               ("sweep_differences", plot_sweep_differences))
