/*
 * stats — summary columns and aggregation (see stats.h).
 */
#include "output/stats.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "core/sort.h"
#include "output/interval.h"

#define Z95 1.959963984540054

_Static_assert(sizeof(((ms_stat_row *)0)->name) == sizeof(((ms_column *)0)->name), "name sizes");

const double ms_stats_quantile_levels[MS_NQUANT] = {0.5, 0.9, 0.99, 0.999, 0.01, 0.001};
const char *const ms_stats_quantile_names[MS_NQUANT] = {"q50", "q90", "q99", "q999", "q01", "q001"};

typedef struct {
  const char *name;
  ms_col_type type;
  size_t offset;
  const char *unit;
  const char *doc;
  int cond;            /* COND_TWIN: from the no-feedback twin, present only with stats.counterfactual;
                          COND_FUNDING: present only with funding.enabled */
} col_def;

/* Risky side: the tail a risk reader reads. Low for the prices (a crash is
 * the stress of a book that is net long, as the quickstart's is; a short
 * book's risk shows in its losses, which are high-risky) and for the
 * insurance fund; high for everything else: losses, counts, notionals,
 * drawdown, impact, backlog, times and ratios. */
static const char *const RISKY_LOW[] = {"final_price", "min_price", "max_price", "final_mark", "min_mark",
                                        "insurance_min", "insurance_end", "funding_long_net", NULL};
/* The columns of the exogenous price alone (ms_column.exog). */
static const char *const EXOG[] = {"final_price", "min_price", "max_price", "max_drawdown", "jumps",
                                   "regime_switches", NULL};

enum { COND_ALWAYS = 0, COND_TWIN = 1, COND_FUNDING = 2 };

#define F(member) offsetof(ms_path_summary, member)
static const col_def fixed_cols[] = {
    {"path", MS_COL_U64, F(path), "", "path index", 0},
    {"final_price", MS_COL_F64, F(final_price), "USD", "exogenous price at the horizon", 0},
    {"min_price", MS_COL_F64, F(min_price), "USD", "lowest exogenous price", 0},
    {"max_price", MS_COL_F64, F(max_price), "USD", "highest exogenous price", 0},
    {"max_drawdown", MS_COL_F64, F(max_drawdown), "fraction",
     "largest fall of the exogenous price from a running peak", 0},
    {"jumps", MS_COL_I64, F(jumps), "count", "jumps of the exogenous price", 0},
    {"regime_switches", MS_COL_I64, F(regime_switches), "count", "regime switches", 0},
    {"final_mark", MS_COL_F64, F(final_mark), "USD", "mark price (exogenous x exp(impact)) at the horizon", 0},
    {"min_mark", MS_COL_F64, F(min_mark), "USD", "lowest mark price", 0},
    {"max_impact", MS_COL_F64, F(max_impact), "fraction", "largest abs(exp(impact) - 1)", 0},
    {"oracle_publishes", MS_COL_I64, F(oracle_publishes), "count", "oracle prices published", 0},
    {"liquidations", MS_COL_I64, F(liquidations), "count", "liquidations (a keeper closed all or part of a position)", 0},
    {"partial_liquidations", MS_COL_I64, F(partial_liquidations), "count", "liquidations that left part of the position open", 0},
    {"impact_triggered_liquidations", MS_COL_I64, F(impact_triggered_liquidations), "count",
     "liquidations the exogenous-only oracle price would not have triggered at that moment (liquidated earlier, "
     "or only, because of impact; not the count impact caused: see liquidations_no_impact)", 0},
    {"liquidated_notional", MS_COL_F64, F(liquidated_notional), "USD", "closed units x mark at the fill", 0},
    {"first_liquidation_time", MS_COL_F64, F(first_liquidation_time), "s", "time of the first liquidation (NaN: none)", 0},
    {"recovered", MS_COL_I64, F(recovered), "count", "eligible accounts found healthy when the keeper acted", 0},
    {"skipped_unprofitable", MS_COL_I64, F(skipped_unprofitable), "count",
     "liquidations a keeper skipped for gas at least once (once per discovery)", 0},
    {"max_pending", MS_COL_I64, F(max_pending), "count", "largest keeper backlog", 0},
    {"pending_end", MS_COL_I64, F(pending_end), "count", "eligible accounts still waiting for a keeper at the horizon", 0},
    {"pending_bad_debt", MS_COL_F64, F(pending_bad_debt), "USD",
     "their negative equity at the final mark: bad debt not yet booked (not of accounts no oracle price found "
     "eligible)", 0},
    {"penalties", MS_COL_F64, F(penalties), "USD", "liquidation penalties taken", 0},
    {"keeper_rewards", MS_COL_F64, F(keeper_rewards), "USD", "penalties paid to keepers", 0},
    {"bad_debt", MS_COL_F64, F(bad_debt), "USD",
     "shortfall of collateral + PnL at the fills, and of cash at option settlements (settlement_bad_debt)", 0},
    {"settlement_bad_debt", MS_COL_F64, F(settlement_bad_debt), "USD",
     "of bad_debt, the negative cash of accounts an option settlement left holding nothing (no fill, no record)",
     0},
    {"insurance_paid", MS_COL_F64, F(insurance_paid), "USD", "bad debt paid by the insurance fund", 0},
    {"insurance_min", MS_COL_F64, F(insurance_min), "USD", "lowest insurance fund balance", 0},
    {"insurance_end", MS_COL_F64, F(insurance_end), "USD", "insurance fund at the horizon", 0},
    {"socialized_loss", MS_COL_F64, F(socialized_loss), "USD", "bad debt charged to profitable accounts", 0},
    {"adl_notional", MS_COL_F64, F(adl_notional), "USD", "ADL'd units x bankruptcy price", 0},
    {"adl_loss", MS_COL_F64, F(adl_loss), "USD",
     "bad debt borne by ADL counterparties: their units x abs(bankruptcy price - mark at the fill)", 0},
    {"uncovered_loss", MS_COL_F64, F(uncovered_loss), "USD", "bad debt no one could be charged", 0},
    {"insolvent", MS_COL_I64, F(insolvent), "flag",
     "1 if bad debt booked at fills or option settlements went beyond the insurance fund (losses never "
     "liquidated: pending_bad_debt)", 0},
    {"cascades", MS_COL_I64, F(cascades), "count", "cascades (liquidations no more than stats.cascade_gap apart)", 0},
    {"largest_cascade_liquidations", MS_COL_I64, F(largest_cascade_liquidations), "count",
     "liquidations in the cascade with the most notional", 0},
    {"largest_cascade_notional", MS_COL_F64, F(largest_cascade_notional), "USD", "its liquidated notional", 0},
    {"largest_cascade_depth", MS_COL_I64, F(largest_cascade_depth), "count",
     "its generations of impact-triggered liquidations", 0},
    {"liquidations_no_impact", MS_COL_I64, F(liquidations_no_impact), "count",
     "liquidations of the no-feedback twin (same path, book and draws, market.impact.model none)", COND_TWIN},
    {"liquidated_notional_no_impact", MS_COL_F64, F(liquidated_notional_no_impact), "USD",
     "liquidated notional of the no-feedback twin", COND_TWIN},
    {"bad_debt_no_impact", MS_COL_F64, F(bad_debt_no_impact), "USD", "bad debt of the no-feedback twin", COND_TWIN},
    {"amplification", MS_COL_F64, F(amplification), "ratio",
     "liquidated_notional / liquidated_notional_no_impact of the same path (NaN: both 0 or no twin; inf: "
     "only the twin's is 0)", COND_TWIN},
    {"options_liquidated_notional", MS_COL_F64, F(options_liquidated_notional), "USD",
     "underlying notional of option legs closed by liquidations", 0},
    {"options_expired", MS_COL_I64, F(options_expired), "count", "option legs settled at expiry", 0},
    {"option_revaluations", MS_COL_I64, F(option_revaluations), "count", "exact checks of option accounts", 0},
    {"option_revaluations_naive", MS_COL_I64, F(option_revaluations_naive), "count",
     "option accounts open at each eligibility check: the checks without the index's bounds", 0},
    {"bs_evaluations", MS_COL_I64, F(bs_evaluations), "count", "Black-Scholes evaluations", 0},
    {"max_margin_ratio", MS_COL_F64, F(max_margin_ratio), "fraction", "largest maintenance ratio of perps", 0},
    {"margin_updates_up", MS_COL_I64, F(margin_updates_up), "count", "dynamic re-estimates that raised the ratio", 0},
    {"funding_paid", MS_COL_F64, F(funding_paid), "USD",
     "funding paid by the paying side over the path's payments (with funding.receivers pro_rata the receiving "
     "side got the same; with rate, the rest of the market took the difference: funding_outside)", COND_FUNDING},
    {"funding_long_net", MS_COL_F64, F(funding_long_net), "USD",
     "funding the longs received, net (< 0: they paid); with funding.receivers pro_rata the shorts' is its negative",
     COND_FUNDING},
    {"funding_outside", MS_COL_F64, F(funding_outside), "USD",
     "funding the book received from the rest of the market, net (funding.receivers rate; 0 with pro_rata)",
     COND_FUNDING},
    {"funding_rate_mean", MS_COL_F64, F(funding_rate_mean), "fraction",
     "mean rate of the path's payments (> 0: longs pay), paid or not (with pro_rata nothing is paid while a side "
     "holds no units); NaN: no payment time before the horizon", COND_FUNDING},
    {"funding_rate_min", MS_COL_F64, F(funding_rate_min), "fraction", "lowest rate of a payment", COND_FUNDING},
    {"funding_rate_max", MS_COL_F64, F(funding_rate_max), "fraction", "highest rate of a payment", COND_FUNDING},
};
#undef F

/* Per asset of a book of several markets (book.markets): name prefix, field, type, unit, doc. */
typedef struct {
  const char *prefix;
  size_t offset;
  ms_col_type type;
  const char *unit, *doc;
  int risky_low, contagion, funding;
  int exog;               /* as ms_column's */
} market_col;

#define M(m) offsetof(ms_path_summary, m)
static const market_col market_cols[] = {
    {"liquidations_", M(mkt_liquidations), MS_COL_I64, "count", "positions in the market closed by liquidations", 0, 0, 0,
     0},
    {"liquidated_notional_", M(mkt_liquidated_notional), MS_COL_F64, "USD",
     "closed units x the market's mark at the fill", 0, 0, 0, 0},
    {"bad_debt_", M(mkt_bad_debt), MS_COL_F64, "USD",
     "each liquidation's bad debt shared among its positions by their losses at the fill (by notional when none "
     "lost)", 0, 0, 0, 0},
    {"contagion_liquidations_", M(mkt_contagion), MS_COL_I64, "count",
     "of the market's liquidations, those the same path with the other assets' exogenous prices frozen at their "
     "start (stats.contagion) did not make at all: they needed the other markets' moves (not a count of causes; "
     "engine.md, Several markets)", 0, 1, 0, 0},
    {"final_price_", M(mkt_final_price), MS_COL_F64, "USD", "the asset's exogenous price at the horizon", 1, 0, 0, 1},
    {"min_price_", M(mkt_min_price), MS_COL_F64, "USD", "the asset's lowest exogenous price", 1, 0, 0, 1},
    {"funding_long_net_", M(mkt_funding_long_net), MS_COL_F64, "USD",
     "funding the market's longs received, net (< 0: they paid); with funding.receivers pro_rata its shorts' is "
     "its negative", 1, 0, 1, 0},
};
#undef M

/* The columns of a run: the twin's only when @p twin, funding's only when
 * @p funding, then one time_in_regime_ column per regime, named by @p
 * regime_name, then with @p nmarkets > 0 those of each market, named by @p
 * asset_name (the contagion column only with @p contagion). */
static int columns(int twin, int funding, int nregimes, const char *(*regime_name)(const void *, int), const void *ctx,
                   int nmarkets, int contagion, const char *(*asset_name)(const void *, int), ms_column *cols,
                   int max) {
  int n = 0;
  for (size_t i = 0; i < sizeof fixed_cols / sizeof fixed_cols[0] && n < max; i++) {
    if ((fixed_cols[i].cond == COND_TWIN && !twin) || (fixed_cols[i].cond == COND_FUNDING && !funding)) continue;
    memset(cols[n].name, 0, sizeof cols[n].name); /* copied whole into rows: no stack bytes after the NUL */
    snprintf(cols[n].name, MS_COL_NAME_MAX, "%s", fixed_cols[i].name);
    cols[n].type = fixed_cols[i].type;
    cols[n].offset = fixed_cols[i].offset;
    cols[n].unit = fixed_cols[i].unit;
    cols[n].doc = fixed_cols[i].doc;
    cols[n].risky_low = 0;
    cols[n].market = -1;
    cols[n].market_len = 0;
    cols[n].exog = 0;
    for (int j = 0; RISKY_LOW[j]; j++)
      if (strcmp(RISKY_LOW[j], fixed_cols[i].name) == 0) cols[n].risky_low = 1;
    for (int j = 0; EXOG[j]; j++)
      if (strcmp(EXOG[j], fixed_cols[i].name) == 0) cols[n].exog = 1;
    n++;
  }
  for (int r = 0; r < nregimes && n < max; r++, n++) {
    memset(cols[n].name, 0, sizeof cols[n].name);
    snprintf(cols[n].name, MS_COL_NAME_MAX, "time_in_regime_%s", regime_name(ctx, r));
    cols[n].type = MS_COL_F64;
    cols[n].offset = offsetof(ms_path_summary, time_in_regime) + (size_t)r * sizeof(double);
    cols[n].unit = "s";
    cols[n].doc = "time spent in the regime";
    cols[n].risky_low = 0; /* high: the more time in a stress regime, the worse; in a calm one it is a bound */
    cols[n].exog = 1;      /* the price model's regimes */
    cols[n].market = -1;
    cols[n].market_len = 0;
  }
  for (size_t i = 0; i < sizeof market_cols / sizeof market_cols[0]; i++) {
    if ((market_cols[i].contagion && !contagion) || (market_cols[i].funding && !funding)) continue;
    for (int a = 0; a < nmarkets && n < max; a++, n++) {
      memset(cols[n].name, 0, sizeof cols[n].name);
      snprintf(cols[n].name, MS_COL_NAME_MAX, "%s%s", market_cols[i].prefix, asset_name(ctx, a));
      cols[n].type = market_cols[i].type;
      cols[n].offset = market_cols[i].offset + (size_t)a * 8;
      cols[n].unit = market_cols[i].unit;
      cols[n].doc = market_cols[i].doc;
      cols[n].risky_low = market_cols[i].risky_low;
      cols[n].exog = market_cols[i].exog;
      cols[n].market = a;
      cols[n].market_len = (int)strlen(market_cols[i].prefix) - 1; /* without its '_' */
    }
  }
  return n;
}

static const char *cfg_regime(const void *cfg, int r) { return ((const ms_config *)cfg)->market.regimes[r].name; }
static const char *doc_regime(const void *cfg, int r) { return "<name>"; }
static const char *cfg_asset(const void *cfg, int a) { return ((const ms_config *)cfg)->market.assets[a].name; }
static const char *doc_asset(const void *cfg, int a) { return "<asset>"; }

int ms_stats_columns(const ms_config *cfg, ms_column *cols, int max) {
  int nm = cfg->book.markets.enabled ? cfg->market.nassets : 0;
  return columns(cfg->stats.counterfactual, cfg->funding.enabled, cfg->market.nregimes, cfg_regime, cfg, nm,
                 cfg->stats.contagion, cfg_asset, cols, max);
}

int ms_stats_columns_all(ms_column *cols, int max) {
  return columns(1, 1, 1, doc_regime, NULL, 1, 1, doc_asset, cols, max);
}

double ms_stats_value(const ms_column *c, const ms_path_summary *row) {
  const char *p = (const char *)row + c->offset;
  switch (c->type) {
  case MS_COL_F64: return *(const double *)p;
  case MS_COL_I64: return (double)*(const int64_t *)p;
  case MS_COL_U64: return (double)*(const uint64_t *)p;
  }
  return NAN;
}

void ms_stats_wilson(int64_t k, int64_t n, double z, double *lo, double *hi) {
  if (n <= 0) { *lo = 0.0; *hi = 1.0; return; }
  double nn = (double)n, p = (double)k / nn, z2 = z * z;
  double denom = 1.0 + z2 / nn;
  double centre = (p + z2 / (2.0 * nn)) / denom;
  double half = z / denom * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
  *lo = fmax(0.0, centre - half);
  *hi = fmin(1.0, centre + half);
  if (k == 0) *lo = 0.0;
  if (k == n) *hi = 1.0;
}

double ms_stats_quantile_sorted(const double *x, int64_t n, double q) {
  if (n <= 0) return NAN;
  double h = (double)(n - 1) * q;
  int64_t i = (int64_t)floor(h);
  if (i >= n - 1) return x[n - 1];
  return x[i] + (h - (double)i) * (x[i + 1] - x[i]);
}

/* Sort a column's values (never NaN; a paired difference may be infinite):
 * the order glibc's qsort gave with "x < y", a stable merge sort (it falls
 * back to an unstable quicksort only for a column over a quarter of the
 * memory), by a radix sort that calls nothing. */
static ms_status sort_values(double *x, int64_t n, ms_error *err) {
  if (ms_sort_doubles(x, (size_t)n, NULL))
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for sorting %lld values", (long long)n);
  return MS_OK;
}

/* Distribution-free interval of the q quantile of sorted x at @p confidence:
 * order statistics whose ranks come from the binomial law of K, the number
 * of values at or below the quantile (Binomial(n, q) for a continuous law;
 * Conover, Practical Nonparametric Statistics, 3.2). The lower end is x(a)
 * for the largest a with P(K >= a) >= 1 - alpha/2, the upper end x(b) for
 * the smallest b with P(K <= b - 1) >= 1 - alpha/2, so the interval covers
 * with probability at least the confidence (atoms and ties only widen it).
 * Where no order statistic qualifies the end is unbounded (-inf, +inf): 100
 * values cannot bound q99 from above at 95% (the largest is below q99 with
 * probability 0.99^100 = 0.37). The ranks n q -/+ z sqrt(n q (1 - q)) of
 * the normal approximation used before covered q99 at 100 values 57% of
 * the time and q999 at 1,000 values 55%. Tails are taken as upper tails
 * (gsl_cdf_binomial_Q) where they are small, so that a confidence within
 * 1e-16 of 1 still resolves. */
static void quantile_interval(const double *x, int64_t n, double q, double confidence, double *lo, double *hi) {
  if (n <= 0) { *lo = *hi = NAN; return; }
  const double half = 0.5 * (1.0 - confidence);
  if (n > (int64_t)UINT_MAX) { /* beyond the binomial's argument: the normal ranks, exact enough there */
    double z = gsl_cdf_ugaussian_Pinv(1.0 - half), c = (double)n * q, w = z * sqrt((double)n * q * (1.0 - q));
    double ra = ceil(c - w), rb = ceil(c + w);
    *lo = ra >= 1 ? x[(ra <= (double)n ? (int64_t)ra : n) - 1] : -INFINITY;
    *hi = rb <= (double)n ? x[(rb >= 1 ? (int64_t)rb : 1) - 1] : INFINITY;
    return;
  }
  const unsigned int un = (unsigned int)n;
  /* lower: P(K <= a - 1) <= half, the largest a in [1, n] */
  if (gsl_cdf_binomial_P(0, q, un) > half) {
    *lo = -INFINITY;
  } else {
    int64_t good = 1, bad = n + 1; /* F(good - 1) <= half; bad: past the end or F(bad - 1) > half */
    while (bad - good > 1) {
      int64_t mid = good + (bad - good) / 2;
      if (gsl_cdf_binomial_P((unsigned int)(mid - 1), q, un) <= half) good = mid;
      else bad = mid;
    }
    *lo = x[good - 1];
  }
  /* upper: P(K > b - 1) <= half, the smallest b in [1, n] */
  if (gsl_cdf_binomial_Q((unsigned int)(n - 1), q, un) > half) {
    *hi = INFINITY;
  } else {
    int64_t good = n, bad = 0; /* Q(good - 1) <= half; bad: before the start or Q(bad - 1) > half */
    while (good - bad > 1) {
      int64_t mid = bad + (good - bad) / 2;
      if (gsl_cdf_binomial_Q((unsigned int)(mid - 1), q, un) <= half) good = mid;
      else bad = mid;
    }
    *hi = x[good - 1];
  }
}

/* Column @p c is a flag: 0 or 1 on every path (insolvent). */
static int is_flag(const ms_column *c) { return c->unit && strcmp(c->unit, "flag") == 0; }

/* The interval of the mean of the n sorted values @p x at @p confidence: of a flag (0 or 1 on every path:
 * @p flag) the exact Clopper-Pearson interval of k ones in n; else the bootstrap-t (ms_interval_mean). The
 * bootstrap's lower end sat far above the exact one with few ones (0.000494 against 0.000084 for 1 in 300),
 * covering a rate just below it about 87% of the time. */
static ms_status mean_interval_of(const double *x, int64_t n, int flag, uint64_t seed, uint64_t key,
                                  double confidence, double *lo, double *hi, ms_error *err) {
  if (flag && n > 1 && x[0] >= 0 && x[n - 1] <= 1) {
    int64_t k = 0, other = 0;
    for (int64_t i = 0; i < n; i++) {
      k += x[i] == 1;
      other += x[i] != 0 && x[i] != 1;
    }
    if (!other) {
      double half = (1.0 - confidence) / 2.0, kk = (double)k, nn = (double)n;
      *lo = k == 0 ? 0.0 : gsl_cdf_beta_Pinv(half, kk, nn - kk + 1.0);
      *hi = k == n ? 1.0 : gsl_cdf_beta_Pinv(1.0 - half, kk + 1.0, nn - kk);
      return MS_OK;
    }
  }
  return ms_interval_mean(x, n, seed, key, confidence, lo, hi, err);
}

/* Aggregate the n finite values x (sorted here) of column @p name (@p flag: of unit "flag"). */
static ms_status aggregate(ms_stat_row *r, double *x, int64_t n, int flag, uint64_t seed, ms_error *err) {
  r->n = n;
  if (n == 0) {
    r->mean = r->mean_lo = r->mean_hi = r->sd = r->min = r->max = NAN;
    r->es99 = r->es99_lo = r->es99_hi = r->es01 = r->es01_lo = r->es01_hi = NAN;
    for (int j = 0; j < MS_NQUANT; j++) r->q[j] = r->q_lo[j] = r->q_hi[j] = NAN;
    return MS_OK;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) sum += x[i];
  double mean = sum / (double)n, ss = 0.0;
  for (int64_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
  r->mean = mean;
  r->sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
  ms_status st = sort_values(x, n, err);
  if (st) return st;
  r->min = x[0];
  r->max = x[n - 1];
  if (x[0] == x[n - 1]) { /* one value on every path: it, not a sum of n copies over n (0.024999999999999953 for */
    r->mean = x[0];       /* 0.025, which an assertion ">= 0.025" failed); its intervals and shortfalls are it too */
    r->sd = 0.0;          /* (interval.c) */
  }
  st = mean_interval_of(x, n, flag, seed, ms_interval_key("mean", r->name), 0.95, &r->mean_lo, &r->mean_hi, err);
  if (st) return st;
  for (int j = 0; j < MS_NQUANT; j++) {
    double q = ms_stats_quantile_levels[j];
    r->q[j] = ms_stats_quantile_sorted(x, n, q);
    quantile_interval(x, n, q, 0.95, &r->q_lo[j], &r->q_hi[j]);
  }
  r->es99 = ms_interval_es_value(x, n, 1);
  r->es01 = ms_interval_es_value(x, n, 0);
  st = ms_interval_es(x, n, 1, seed, ms_interval_key("es99", r->name), 0.95, &r->es99_lo, &r->es99_hi, err);
  if (!st) st = ms_interval_es(x, n, 0, seed, ms_interval_key("es01", r->name), 0.95, &r->es01_lo, &r->es01_hi, err);
  return st;
}

typedef struct {
  const char *name;
  const char *definition;
  const char *column;
  double threshold; /* happened when value > threshold */
} prob_def;

static const prob_def prob_defs[] = {
    {"insolvency", "bad debt booked at fills or option settlements beyond the insurance fund (insolvent = 1)",
     "insolvent", 0.0},
    {"liquidation_any", "at least one liquidation", "liquidations", 0.0},
    {"impact_triggered_any", "at least one impact-triggered liquidation", "impact_triggered_liquidations", 0.0},
    {"bad_debt_any", "bad_debt > 0", "bad_debt", 0.0},
    {"pending_bad_debt_any", "pending_bad_debt > 0 (accounts found eligible, underwater at the horizon, never liquidated)", "pending_bad_debt", 0.0},
    {"socialized_any", "socialized_loss > 0", "socialized_loss", 0.0},
    {"adl_any", "adl_notional > 0", "adl_notional", 0.0},
    {"uncovered_any", "uncovered_loss > 0", "uncovered_loss", 0.0},
    {"jump_any", "at least one jump of the exogenous price", "jumps", 0.0},
    {"drawdown_10pct", "max_drawdown > 10%", "max_drawdown", 0.10},
    {"drawdown_25pct", "max_drawdown > 25%", "max_drawdown", 0.25},
    {"drawdown_50pct", "max_drawdown > 50%", "max_drawdown", 0.50},
    /* only +inf exceeds DBL_MAX: the averages of amplification leave these paths out */
    {"amplification_inf", "liquidations with feedback on a path whose no-feedback twin had none", "amplification",
     DBL_MAX},
};

/* Column @p c's values of every path of @p src into x[0 .. src->n - 1]. */
static ms_status col_load(const ms_colsrc *src, const ms_column *c, double *x, ms_error *err) {
  if (src->cancel && *src->cancel) return ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
  if (!src->rows) return src->load(src->ctx, c, x, err);
  for (int64_t p = 0; p < src->n; p++) x[p] = ms_stats_value(c, &src->rows[p]);
  return MS_OK;
}

static ms_status feedback_rows(uint64_t seed, const ms_column *cols, int nc, int identical, const ms_colsrc *src,
                               ms_diff_row *out, int threads, int *count, ms_error *err);
static ms_status paired_cols(uint64_t seed, const ms_column *cb, const ms_column *co, double threshold,
                             int identical, const ms_colsrc *base, const ms_colsrc *other, ms_diff_row *r,
                             ms_error *err);

/* One paired difference to compute: base's column @p cb against other's @p co. */
typedef struct {
  const ms_column *cb, *co;
  double threshold;       /* as paired_cols */
  int identical;          /* as paired_cols */
  ms_diff_row *r;         /* its row, name set */
} paired_job;

/* The jobs, each on one thread (dynamic: their costs differ by the number of
 * values that are not a column's most frequent one). Each job reads only
 * its columns and writes only its row, and its bootstrap draws from its own
 * stream (key "diff", name): the rows do not depend on @p threads. */
static ms_status paired_run(uint64_t seed, const paired_job *jobs, int njobs, const ms_colsrc *base,
                            const ms_colsrc *other, int threads, ms_error *err) {
  if (njobs <= 0) return MS_OK;
  ms_status *st = calloc((size_t)njobs, sizeof *st);
  ms_error *errs = calloc((size_t)njobs, sizeof *errs);
  if (!st || !errs) {
    free(st);
    free(errs);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for statistics");
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) default(none) \
    shared(jobs, njobs, base, other, seed, st, errs) if (threads > 1 && njobs > 1)
  for (int j = 0; j < njobs; j++)
    st[j] = paired_cols(seed, jobs[j].cb, jobs[j].co, jobs[j].threshold, jobs[j].identical, base, other, jobs[j].r,
                        &errs[j]);
  ms_status s = MS_OK;
  for (int j = 0; j < njobs && !s; j++)
    if (st[j]) { s = st[j]; *err = errs[j]; }
  free(st);
  free(errs);
  return s;
}

/* The markets @p cfg's engine trades have no impact: its no-feedback twin is the run itself, path by path (as
 * the driver decides it runs no twin: one market, market.impact; a book of several markets, each asset's). */
static int without_impact(const ms_config *cfg) {
  if (!cfg->book.markets.enabled) return strcmp(ms_model_name(cfg->market.impact.model), "none") == 0;
  for (int a = 0; a < cfg->market.nassets; a++) {
    const struct ms_impact_type *t = cfg->market.assets[a].impact.model;
    if (t && strcmp(ms_model_name(t), "none") != 0) return 0;
  }
  return 1;
}

ms_status ms_stats_compute(ms_stats *out, const ms_config *cfg, const ms_colsrc *src, int threads,
                           ms_error *err) {
  memset(out, 0, sizeof *out);
  int64_t n = src->n;
  if (threads < 1) threads = 1;
  ms_column cols[MS_MAX_COLUMNS];
  int nc = ms_stats_columns(cfg, cols, MS_MAX_COLUMNS);
  /* The rows in column order, named first: row i aggregates column of[i]. */
  int of[MS_MAX_COLUMNS];
  for (int c = 0; c < nc; c++) {
    if (strcmp(cols[c].name, "path") == 0) continue;
    ms_stat_row *r = &out->rows[out->nrows];
    memcpy(r->name, cols[c].name, sizeof r->name); /* same size, NUL-terminated */
    r->risky_low = cols[c].risky_low;
    of[out->nrows++] = c;
  }
  /* Each column on one thread, computed exactly as on one thread (the same
   * sums in path order, the same sort, its own bootstrap streams keyed by
   * its name): only which thread computes it depends on @p threads. Every
   * thread has its own buffer of values; the first failure in column order
   * decides the message. */
  ms_status st[MS_MAX_COLUMNS];
  ms_error *errs = calloc((size_t)(out->nrows > 0 ? out->nrows : 1), sizeof *errs);
  if (!errs) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for statistics");
  int nrows = out->nrows;
  uint64_t seed = cfg->seed;
#pragma omp parallel num_threads(threads) default(none) shared(out, cols, of, st, errs, nrows, src, n, seed) \
    if (threads > 1 && nrows > 1)
  {
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < nrows; i++) {
      if (!x) { st[i] = ms_error_set(&errs[i], MS_ERR_NOMEM, "out of memory for statistics"); continue; }
      const ms_column *col = &cols[of[i]];
      st[i] = col_load(src, col, x, &errs[i]);
      if (st[i]) continue;
      int64_t k = 0;
      for (int64_t p = 0; p < n; p++)
        if (isfinite(x[p])) x[k++] = x[p];
      st[i] = aggregate(&out->rows[i], x, k, is_flag(col), seed, &errs[i]);
    }
    free(x);
  }
  for (int i = 0; i < nrows; i++)
    if (st[i]) {
      ms_status s = st[i];
      *err = errs[i];
      free(errs);
      return s;
    }
  free(errs);
  double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
  if (!x) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for statistics");
  for (size_t j = 0; j < sizeof prob_defs / sizeof prob_defs[0]; j++) {
    const ms_column *col = NULL;
    for (int c = 0; c < nc; c++)
      if (strcmp(cols[c].name, prob_defs[j].column) == 0) col = &cols[c];
    if (!col) continue;
    ms_prob_row *p = &out->probs[out->nprob++];
    snprintf(p->name, sizeof p->name, "%s", prob_defs[j].name);
    snprintf(p->definition, sizeof p->definition, "%s", prob_defs[j].definition);
    p->n = n;
    ms_status s = col_load(src, col, x, err);
    if (s) { free(x); return s; }
    for (int64_t i = 0; i < n; i++)
      if (x[i] > prob_defs[j].threshold) p->k++;
    p->p = n ? (double)p->k / (double)n : NAN;
    ms_stats_wilson(p->k, n, Z95, &p->lo, &p->hi);
  }
  free(x);
  return feedback_rows(cfg->seed, cols, nc, without_impact(cfg), src, out->feedback, threads, &out->nfeedback, err);
}

const ms_stat_row *ms_stats_find(const ms_stats *st, const char *name) {
  for (int i = 0; i < st->nrows; i++)
    if (strcmp(st->rows[i].name, name) == 0) return &st->rows[i];
  return NULL;
}

const ms_prob_row *ms_stats_find_prob(const ms_stats *st, const char *name) {
  for (int i = 0; i < st->nprob; i++)
    if (strcmp(st->probs[i].name, name) == 0) return &st->probs[i];
  return NULL;
}

void ms_stats_set_amplification(ms_path_summary *row, int same) {
  double a = row->liquidated_notional, b = row->liquidated_notional_no_impact;
  if (!isfinite(b) || (a == 0 && b == 0)) row->amplification = NAN;
  else if (same) row->amplification = 1.0;
  else row->amplification = b > 0 ? a / b : INFINITY;
}

/* ---- paired comparisons ---- */

typedef struct {
  const char *column;
  double threshold; /* < 0: compare means; >= 0: compare P(value > threshold) */
  const char *name;
} paired_def;

static const paired_def paired_defs[] = {
    {"liquidations", -1, "liquidations"},
    {"impact_triggered_liquidations", -1, "impact_triggered_liquidations"},
    {"liquidated_notional", -1, "liquidated_notional"},
    {"options_liquidated_notional", -1, "options_liquidated_notional"},
    {"bad_debt", -1, "bad_debt"},
    {"pending_bad_debt", -1, "pending_bad_debt"},
    {"insurance_min", -1, "insurance_min"},
    {"socialized_loss", -1, "socialized_loss"},
    {"adl_notional", -1, "adl_notional"},
    {"adl_loss", -1, "adl_loss"},
    {"uncovered_loss", -1, "uncovered_loss"},
    {"largest_cascade_liquidations", -1, "largest_cascade_liquidations"},
    {"largest_cascade_notional", -1, "largest_cascade_notional"},
    {"largest_cascade_depth", -1, "largest_cascade_depth"},
    {"insolvent", 0, "insolvency"},
    {"liquidations", 0, "liquidation_any"},
    {"bad_debt", 0, "bad_debt_any"},
};

/* One paired difference: per path, column @p co of @p other minus column
 * @p cb of @p base, over paths where both values are finite; indicators
 * (value > threshold) when @p threshold >= 0. The interval is the
 * plain-scale bootstrap-t of the per-path differences, from stream key ("diff",
 * r->name), so r->name must be set; NaN when memory runs out. */
static ms_status paired_cols(uint64_t seed, const ms_column *cb, const ms_column *co, double threshold,
                             int identical, const ms_colsrc *base, const ms_colsrc *other, ms_diff_row *r,
                             ms_error *err) {
  r->probability = threshold >= 0;
  int64_t n = base->n < other->n ? base->n : other->n;
  double *a = malloc((size_t)(base->n > 0 ? base->n : 1) * sizeof *a);
  double *b = malloc((size_t)(other->n > 0 ? other->n : 1) * sizeof *b);
  ms_status s = a && b ? MS_OK : ms_error_set(err, MS_ERR_NOMEM, "out of memory for a paired difference");
  if (!s) s = col_load(base, cb, a, err);
  if (!s) s = col_load(other, co, b, err);
  if (s) {
    free(a);
    free(b);
    return s;
  }
  double sa = 0, sb = 0, sd = 0;
  int64_t m = 0;
  /* the pairs with both values finite, in path order: a and b in place, d over a. An event is an indicator
   * on every path, as in /stats/probabilities (NaN: did not happen): amplification_inf's +inf happened, and
   * dropping the pairs that are not finite first left it never happening. */
  int aconst = 1, bconst = 1;
  for (int64_t p = 0; p < n; p++) {
    double x = a[p], y = b[p];
    if (r->probability) {
      x = x > threshold;
      y = y > threshold;
    } else if (!isfinite(x) || !isfinite(y)) {
      continue;
    }
    if (m > 0) {
      aconst &= x == a[0];
      bconst &= y == b[0];
    }
    sa += x;
    sb += y;
    sd += y - x;
    a[m] = x;
    b[m] = y;
    m++;
  }
  r->n = m;
  if (m == 0) {
    r->baseline = r->other = r->diff = r->lo = r->hi = r->unpaired_lo = r->unpaired_hi = NAN;
    free(a);
    free(b);
    return MS_OK;
  }
  /* one value on every path: that value, not a sum of m copies over m (0.04000000000000003 for 0.04), as the
   * means of /stats (and the difference then inside its own interval) */
  r->baseline = aconst ? a[0] : sa / (double)m;
  r->other = bconst ? b[0] : sb / (double)m;
  r->diff = aconst && bconst ? b[0] - a[0] : sd / (double)m;
  double saa = 0, sbb = 0;
  for (int64_t p = 0; p < m; p++) {
    saa += (a[p] - r->baseline) * (a[p] - r->baseline);
    sbb += (b[p] - r->other) * (b[p] - r->other);
    a[p] = b[p] - a[p];
  }
  free(b);
  double mm = (double)m;
  double se_u = m > 1 ? sqrt(saa / (mm - 1) / mm + sbb / (mm - 1) / mm) : NAN;
  r->lo = r->hi = NAN;
  s = sort_values(a, m, err);
  /* One difference on every path (docs/output.md, Statistics and intervals). Of an event or a flag the
   * per-path differences are -1, 0 or 1: with none differing, their mean is at most the share of paths on
   * which the two differ, below u = 1 - 0.025^(1/m) at 97.5% (Clopper-Pearson), so [-u, u]; two cells may
   * well agree on every path by chance (insolvent on the same few paths). With all differing one way, the
   * mirror. Where the two are one run by construction (@p identical: a sweep's baseline against itself, the
   * no-feedback twin of a run without impact), or of a column of the exogenous price (@p cb's exog), 0. Of
   * any other column nothing bounds how
   * much the two differ on the paths these m did not reach (an ADL on one path in 150 that only one cell
   * makes): the bootstrap's no-spread case (ms_interval_mean_plain), unbounded. */
  const int binary = r->probability || is_flag(cb);
  const int same = !s && m > 1 && a[0] == a[m - 1]; /* one difference on every path */
  if (same && a[0] == 0 && identical) {
    r->lo = r->hi = 0.0;
  } else if (same && binary && (a[0] == 1 || a[0] == -1)) {
    /* every path differs one way: that share is above L = 0.025^(1/m) at 97.5%, the other way's below 1 - L */
    double L = pow(0.025, 1.0 / mm);
    r->lo = a[0] > 0 ? 2 * L - 1 : -1.0;
    r->hi = a[0] > 0 ? 1.0 : 1 - 2 * L;
  } else if (same && binary && a[0] == 0) {
    r->hi = 1.0 - pow(0.025, 1.0 / mm);
    r->lo = -r->hi;
  } else if (same && a[0] == 0 && cb->exog) {
    r->lo = r->hi = 0.0;
  } else if (!s) {
    s = ms_interval_mean_plain(a, m, seed, ms_interval_key("diff", r->name), 0.95, &r->lo, &r->hi, err);
  }
  free(a);
  if (s) return s;
  /* What independent runs would give (Welch, normal): a reference for the
   * gain of common random numbers, not an interval of this comparison. */
  r->unpaired_lo = se_u == 0 ? -INFINITY : r->diff - Z95 * se_u; /* no spread in either: bounds nothing */
  r->unpaired_hi = se_u == 0 ? INFINITY : r->diff + Z95 * se_u;
  return MS_OK;
}

/* What the feedback loop causes: per path, the run's value minus its
 * no-feedback twin's, for the columns the twin records. */
static const char *const feedback_defs[MS_NFEEDBACK][2] = {
    {"liquidations", "liquidations_no_impact"},
    {"liquidated_notional", "liquidated_notional_no_impact"},
    {"bad_debt", "bad_debt_no_impact"},
};

static const ms_column *find_col(const ms_column *cols, int nc, const char *name);

static ms_status feedback_rows(uint64_t seed, const ms_column *cols, int nc, int identical, const ms_colsrc *src,
                               ms_diff_row *out, int threads, int *count, ms_error *err) {
  paired_job jobs[MS_NFEEDBACK];
  int k = 0;
  for (int j = 0; j < MS_NFEEDBACK; j++) {
    const ms_column *with = find_col(cols, nc, feedback_defs[j][0]), *without = find_col(cols, nc, feedback_defs[j][1]);
    if (!with || !without) continue;
    ms_diff_row *r = &out[k];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", feedback_defs[j][0]);
    jobs[k++] = (paired_job){without, with, -1, identical, r};
  }
  *count = k;
  return paired_run(seed, jobs, k, src, src, threads, err);
}

static const ms_column *find_col(const ms_column *cols, int nc, const char *name) {
  for (int i = 0; i < nc; i++)
    if (strcmp(cols[i].name, name) == 0) return &cols[i];
  return NULL;
}

/* Job @p name for the paired differences of @p column in row @p r (threshold
 * as paired_cols); 0 when the run has no such column. */
static int paired_named(const ms_column *cols, int nc, const char *column, double threshold, int identical,
                        const char *name, ms_diff_row *r, paired_job *job) {
  const ms_column *c = find_col(cols, nc, column);
  if (!c) return 0;
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", name);
  *job = (paired_job){c, c, threshold, identical, r};
  return 1;
}

/* @p cols as two runs related by @p rel see them: the exogenous price's columns the same path by path only
 * when they draw the same price path. */
static void exog_only_if(ms_column *cols, int nc, ms_pair_relation rel) {
  for (int c = 0; c < nc && rel == MS_PAIR_OTHER_PATH; c++) cols[c].exog = 0;
}

ms_status ms_stats_paired(const ms_config *cfg, const ms_colsrc *base, const ms_colsrc *other,
                          ms_pair_relation rel, ms_diff_row *out, int threads, int *count, ms_error *err) {
  ms_column cols[MS_MAX_COLUMNS];
  paired_job jobs[MS_MAX_DIFFS];
  int nc = ms_stats_columns(cfg, cols, MS_MAX_COLUMNS), k = 0;
  exog_only_if(cols, nc, rel);
  for (size_t j = 0; j < sizeof paired_defs / sizeof paired_defs[0] && k < MS_MAX_DIFFS; j++)
    k += paired_named(cols, nc, paired_defs[j].column, paired_defs[j].threshold, rel == MS_PAIR_SAME_RUN,
                      paired_defs[j].name, &out[k],
                      &jobs[k]);
  *count = k;
  return paired_run(cfg->seed, jobs, k, base, other, threads, err);
}

ms_status ms_stats_paired_all(const ms_config *cfg, const ms_colsrc *base, const ms_colsrc *other,
                              ms_pair_relation rel, ms_diff_row *out, int max, int threads, int *count,
                              ms_error *err) {
  ms_column cols[MS_MAX_COLUMNS];
  int nc = ms_stats_columns(cfg, cols, MS_MAX_COLUMNS), k = 0;
  exog_only_if(cols, nc, rel);
  *count = 0;
  paired_job *jobs = malloc((size_t)(max > 0 ? max : 1) * sizeof *jobs);
  if (!jobs) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for paired differences");
  for (int c = 0; c < nc && k < max; c++) {
    if (strcmp(cols[c].name, "path") == 0) continue;
    ms_diff_row *r = &out[k];
    memset(r, 0, sizeof *r);
    memcpy(r->name, cols[c].name, sizeof r->name);
    jobs[k++] = (paired_job){&cols[c], &cols[c], -1, rel == MS_PAIR_SAME_RUN, r};
  }
  for (size_t j = 0; j < sizeof prob_defs / sizeof prob_defs[0] && k < max; j++)
    k += paired_named(cols, nc, prob_defs[j].column, prob_defs[j].threshold, rel == MS_PAIR_SAME_RUN,
                      prob_defs[j].name, &out[k], &jobs[k]);
  *count = k;
  ms_status s = paired_run(cfg->seed, jobs, k, base, other, threads, err);
  free(jobs);
  return s;
}

/* ---- statistics by name ---- */

static const char *const stat_fields[] = {"mean", "sd", "min", "max", "q50", "q90", "q99", "q999", "q01", "q001",
                                          "es99", "es01", "n", NULL};

/* Split "a.b.c" at the last dot. */
static int split_name(const char *name, char *row, size_t rowlen, const char **field) {
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name || !dot[1] || (size_t)(dot - name) >= rowlen) return -1;
  memcpy(row, name, (size_t)(dot - name));
  row[dot - name] = '\0';
  *field = dot + 1;
  return 0;
}

int ms_stats_known(const ms_config *cfg, const char *name, char *msg, size_t len) {
  ms_column cols[MS_MAX_COLUMNS];
  int nc = ms_stats_columns(cfg, cols, MS_MAX_COLUMNS);
  char row[MS_COL_NAME_MAX];
  const char *field = NULL;
  int ok = 0;
  if (split_name(name, row, sizeof row, &field) == 0) {
    for (size_t j = 0; j < sizeof prob_defs / sizeof prob_defs[0]; j++)
      if (strcmp(row, prob_defs[j].name) == 0 && strcmp(field, "probability") == 0 &&
          find_col(cols, nc, prob_defs[j].column))
        ok = 1;
    const ms_column *c = find_col(cols, nc, row);
    if (c && strcmp(row, "path") != 0)
      for (int i = 0; stat_fields[i]; i++)
        if (strcmp(field, stat_fields[i]) == 0) ok = 1;
  }
  if (ok) return 0;
  size_t k = 0;
  for (size_t i = 0; i < sizeof fixed_cols / sizeof fixed_cols[0]; i++) {
    if (strncmp(name, fixed_cols[i].name, strlen(fixed_cols[i].name)) != 0) continue;
    if (fixed_cols[i].cond == COND_TWIN && !cfg->stats.counterfactual) {
      snprintf(msg, len, "statistic '%s' needs the no-feedback twin: it is not computed with "
               "stats.counterfactual: false", name);
      return -1;
    }
    if (fixed_cols[i].cond == COND_FUNDING && !cfg->funding.enabled) {
      snprintf(msg, len, "statistic '%s' needs funding: it is not computed with funding.enabled: false", name);
      return -1;
    }
  }
  k += (size_t)snprintf(msg + k, len - k, "unknown statistic '%s'; known: COLUMN.FIELD with FIELD one of ", name);
  for (int i = 0; stat_fields[i] && k < len; i++)
    k += (size_t)snprintf(msg + k, len - k, "%s%s", i ? ", " : "", stat_fields[i]);
  if (k < len) k += (size_t)snprintf(msg + k, len - k, " and COLUMN one of ");
  for (int c = 1; c < nc && k < len; c++) /* column 0 is the path index */
    k += (size_t)snprintf(msg + k, len - k, "%s%s", c > 1 ? ", " : "", cols[c].name);
  if (k < len) k += (size_t)snprintf(msg + k, len - k, "; or EVENT.probability with EVENT one of ");
  for (size_t j = 0, first = 1; j < sizeof prob_defs / sizeof prob_defs[0] && k < len; j++)
    if (find_col(cols, nc, prob_defs[j].column)) {
      k += (size_t)snprintf(msg + k, len - k, "%s%s", first ? "" : ", ", prob_defs[j].name);
      first = 0;
    }
  return -1;
}

ms_status ms_stats_value_of(const ms_stats *st, const ms_config *cfg, const ms_colsrc *src, const char *name,
                            double confidence, ms_stat_value *out, ms_error *err) {
  char msg[3072], row[MS_COL_NAME_MAX];
  const char *field = NULL;
  out->value = out->lo = out->hi = NAN;
  out->has_interval = 0;
  out->n = 0;
  if (ms_stats_known(cfg, name, msg, sizeof msg) || split_name(name, row, sizeof row, &field))
    return ms_error_set(err, MS_ERR_INPUT, "%s", msg);
  double z = confidence > 0 ? gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * confidence) : Z95;
  if (strcmp(field, "probability") == 0) {
    const ms_prob_row *p = ms_stats_find_prob(st, row);
    if (!p) return ms_error_set(err, MS_ERR_INTERNAL, "statistic %s: not computed", name);
    out->value = p->p;
    out->n = p->n;
    out->has_interval = 1;
    ms_stats_wilson(p->k, p->n, z, &out->lo, &out->hi);
    return MS_OK;
  }
  const ms_stat_row *r = ms_stats_find(st, row);
  if (!r) return ms_error_set(err, MS_ERR_INTERNAL, "statistic %s: not computed", name);
  out->n = r->n;
  if (strcmp(field, "n") == 0) { out->value = (double)r->n; return MS_OK; }
  if (strcmp(field, "sd") == 0) { out->value = r->sd; return MS_OK; }
  if (strcmp(field, "min") == 0) { out->value = r->min; return MS_OK; }
  if (strcmp(field, "max") == 0) { out->value = r->max; return MS_OK; }
  int j = -1, es = strcmp(field, "es99") == 0 ? 1 : strcmp(field, "es01") == 0 ? 2 : 0;
  for (int q = 0; q < MS_NQUANT; q++)
    if (strcmp(field, ms_stats_quantile_names[q]) == 0) j = q;
  int mean = strcmp(field, "mean") == 0;
  if (j < 0 && !es && !mean) return ms_error_set(err, MS_ERR_INTERNAL, "statistic %s: no such field", name);
  out->value = mean ? r->mean : es == 1 ? r->es99 : es == 2 ? r->es01 : r->q[j];
  if (r->n == 0) return MS_OK;
  /* At 0.95 the interval is the one in /stats (the row was computed from
   * these values, with these streams, at this level): no second bootstrap,
   * which was most of a sweep's --show and of an assertion. At another
   * level: the sorted values again, and for the bootstraps the same
   * streams. */
  double conf = confidence > 0 ? confidence : 0.95;
  if (conf == 0.95) {
    out->lo = mean ? r->mean_lo : es == 1 ? r->es99_lo : es == 2 ? r->es01_lo : r->q_lo[j];
    out->hi = mean ? r->mean_hi : es == 1 ? r->es99_hi : es == 2 ? r->es01_hi : r->q_hi[j];
    out->has_interval = 1;
    return MS_OK;
  }
  ms_column cols[MS_MAX_COLUMNS];
  int nc = ms_stats_columns(cfg, cols, MS_MAX_COLUMNS);
  const ms_column *c = find_col(cols, nc, row);
  int64_t n = src->n;
  double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
  if (!x) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  ms_status s = col_load(src, c, x, err);
  if (s) { free(x); return s; }
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++)
    if (isfinite(x[i])) x[k++] = x[i];
  s = sort_values(x, k, err);
  if (s) {
    free(x);
    return s;
  }
  if (mean)
    s = mean_interval_of(x, k, is_flag(c), cfg->seed, ms_interval_key("mean", row), conf, &out->lo, &out->hi, err);
  else if (es)
    s = ms_interval_es(x, k, es == 1, cfg->seed, ms_interval_key(es == 1 ? "es99" : "es01", row), conf, &out->lo,
                       &out->hi, err);
  else quantile_interval(x, k, ms_stats_quantile_levels[j], conf, &out->lo, &out->hi);
  out->has_interval = s == MS_OK;
  free(x);
  return s;
}
