/*
 * stats — the columns of /paths/summary and their aggregates.
 *
 * Aggregates are computed after all paths ran, in path order, so they do not
 * depend on the thread count. For every column: the number of finite values,
 * mean with a bootstrap-t 95% interval (interval.h), sd, min, max, the
 * quantiles 0.5, 0.9, 0.99, 0.999, 0.01, 0.001 (numpy's default linear
 * interpolation) with distribution-free 95% intervals from binomial order
 * statistics, and the expected shortfalls es99 (mean of the largest 1% of
 * values) and es01 (of the smallest 1%) with bootstrap-t 95% intervals
 * (interval.h). Each column declares its risky side: the tail a risk reader
 * looks at (high for losses, low for prices and the insurance fund).
 * Probabilities carry Wilson 95% intervals.
 */
#ifndef MARGINSIM_STATS_H
#define MARGINSIM_STATS_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "engine/engine.h"
#include "marginsim/error.h"
#include "config/scenario.h"

#define MS_COL_NAME_MAX 64
#define MS_MAX_COLUMNS 128
#define MS_NQUANT 6  /* q50, q90, q99, q999, q01, q001 (appended: indices 0-3 unchanged) */

typedef enum { MS_COL_F64, MS_COL_I64, MS_COL_U64 } ms_col_type;

typedef struct ms_column {
  char name[MS_COL_NAME_MAX];
  ms_col_type type;
  size_t offset;          /* into ms_path_summary */
  const char *unit;
  const char *doc;
  int risky_low;          /* 1: the risky tail is the low one (prices, the insurance fund) */
  int market;             /* a per-asset column of book.markets: the asset's index (its name ends the column's,
                             after market_len characters of field name), else -1 */
  int market_len;
  int exog;               /* 1: of the exogenous price alone (the same in two cells of one price model, path by
                             path: a paired difference of 0 on every path is 0 by construction) */
} ms_column;

/**
 * Where the statistics read a run's per-path values: its rows in memory, or
 * a column store the driver filled as the run went (a run of millions of
 * paths keeps no rows: the statistics read one column at a time). Either
 * way the values, their order and so every statistic are the same.
 */
typedef struct ms_colsrc {
  const ms_path_summary *rows;  /* every path's row; NULL: ask load */
  int64_t n;                    /* paths */
  /* x[0 .. n - 1] = column @p col's values (as ms_stats_value), in path
   * order; called from several threads at once */
  ms_status (*load)(void *ctx, const ms_column *col, double *x, ms_error *err);
  void *ctx;
  /* non-zero: the statistics stop before their next column (MS_ERR_CANCELLED);
   * a column of millions of paths takes a fraction of a second. May be NULL. */
  const volatile sig_atomic_t *cancel;
} ms_colsrc;

/** The source of @p n rows in memory. */
static inline ms_colsrc ms_colsrc_rows(const ms_path_summary *rows, int64_t n) {
  ms_colsrc s = {rows, n, NULL, NULL, NULL};
  return s;
}

typedef struct ms_stat_row {
  char name[MS_COL_NAME_MAX];
  int64_t n;              /* finite values */
  double mean, mean_lo, mean_hi, sd, min, max;
  double q[MS_NQUANT], q_lo[MS_NQUANT], q_hi[MS_NQUANT];
  double es99, es99_lo, es99_hi; /* mean of the largest ceil(1% of n) values, bootstrap interval */
  double es01, es01_lo, es01_hi; /* mean of the smallest ceil(1% of n) values, bootstrap interval */
  int risky_low;                 /* the column's risky side (ms_column) */
} ms_stat_row;

typedef struct ms_prob_row {
  char name[MS_COL_NAME_MAX];
  char definition[128];
  int64_t k, n;           /* paths where it happened, paths */
  double p, lo, hi;       /* estimate and Wilson 95% interval */
} ms_prob_row;

/** A paired difference between two runs on the same paths: other - baseline. */
typedef struct ms_diff_row {
  char name[MS_COL_NAME_MAX];  /* a summary column, or an event for probabilities */
  int64_t n;                   /* paths with both values finite */
  int probability;             /* 1: the per-path values are 0/1 indicators */
  double baseline, other;      /* means */
  double diff, lo, hi;         /* mean of per-path differences and its bootstrap-t 95% interval */
  double unpaired_lo, unpaired_hi; /* the interval had the two been independent runs (Welch) */
} ms_diff_row;

#define MS_NFEEDBACK 3

typedef struct ms_stats {
  int nrows;
  ms_stat_row rows[MS_MAX_COLUMNS];
  int nprob;
  ms_prob_row probs[32];  /* see prob_defs in stats.c */
  /* What the feedback loop causes (with stats.counterfactual): liquidations,
   * liquidated_notional and bad_debt, the run (other) against its
   * no-feedback twin (baseline), paired path by path. */
  int nfeedback;
  ms_diff_row feedback[MS_NFEEDBACK];
} ms_stats;

/**
 * Fill @p row's amplification from its own liquidated notional and the
 * no-feedback twin's: their ratio, NaN when both are 0, +inf when only the
 * twin's is 0, and exactly 1 when @p same (the run has no impact, so the
 * twin is the run itself).
 */
void ms_stats_set_amplification(ms_path_summary *row, int same);

#define MS_MAX_DIFFS 32

/** How the two runs of a paired difference relate, which decides what a difference the same on every path
 *  is by construction (docs/output.md, Statistics and intervals): nothing (other price paths); 0 for the
 *  exogenous price's columns (the same price path: ms_pricepath_same_path); 0 for every column (one run,
 *  as a sweep's baseline against itself). */
typedef enum { MS_PAIR_OTHER_PATH = 0, MS_PAIR_SAME_PATH = 1, MS_PAIR_SAME_RUN = 2 } ms_pair_relation;

/**
 * Paired differences of the main statistics between @p other and @p base
 * (n paths each, same path order): for each path the difference, then its
 * mean with a bootstrap-t 95% interval (interval.h; stream key "diff", name). Common random numbers make these
 * intervals much narrower than the difference of two independent means.
 * On up to @p threads threads (one difference per thread at a time): the
 * same rows for any count.
 */
ms_status ms_stats_paired(const ms_config *cfg, const ms_colsrc *base, const ms_colsrc *other,
                          ms_pair_relation rel, ms_diff_row *out, int threads, int *count, ms_error *err);

/**
 * Paired differences of every summary column's mean and of every
 * probability event (in the order of ms_stats_compute's rows, then its
 * probabilities) between @p other and @p base; *@p count is how many (at most
 * @p max). A difference the same on every path has the interval of
 * docs/output.md, "Statistics and intervals", as @p rel allows: 0 where the
 * two are the same by construction, else unbounded or, for events and
 * flags, the exact bounds. On up to @p threads threads: the same rows for
 * any count.
 */
ms_status ms_stats_paired_all(const ms_config *cfg, const ms_colsrc *base, const ms_colsrc *other,
                              ms_pair_relation rel, ms_diff_row *out, int max, int threads, int *count,
                              ms_error *err);

/** A /stats entry by name, with its interval where it has one. */
typedef struct ms_stat_value {
  double value;
  int has_interval;        /* means, probabilities, quantiles and expected shortfalls */
  double lo, hi;           /* the interval at the confidence asked for; NaN without one */
  int64_t n;               /* values it was computed from */
} ms_stat_value;

/**
 * Check that @p name is a statistic of a run of @p cfg: "COLUMN.FIELD" with
 * FIELD one of mean, sd, min, max, q50, q90, q99, q999, q01, q001, es99, es01, n, or
 * "EVENT.probability". Returns 0, or -1 with a message naming the known
 * ones in @p msg.
 */
int ms_stats_known(const ms_config *cfg, const char *name, char *msg, size_t len);

/**
 * The value of statistic @p name over @p n summary rows, and its interval
 * at @p confidence (0: the 95% intervals of /stats), recomputed from the
 * rows by the methods of /stats (the same bootstrap resamples, so at 0.95
 * it equals /stats): bootstrap-t for means, Wilson for probabilities,
 * distribution-free order statistics for quantiles, bootstrap-t for
 * expected shortfalls.
 */
ms_status ms_stats_value_of(const ms_stats *st, const ms_config *cfg, const ms_colsrc *src, const char *name,
                            double confidence, ms_stat_value *out, ms_error *err);

/** Capital efficiency of a model at the start: initial margin per unit of risk. */
typedef struct ms_efficiency {
  double initial_margin;   /* USD, summed over the book at the entry price */
  double risk;             /* USD, summed one-day 99% loss (see docs/output.md) */
  double im_per_risk;      /* their ratio */
} ms_efficiency;

#define MS_MAX_CELLS 16

/** What a comparison reports back: one report per value, and differences against the first. */
typedef struct ms_compare_report {
  int ncells;
  char values[MS_MAX_CELLS][64];
  ms_stats stats[MS_MAX_CELLS];          /* per value */
  double cell_seconds[MS_MAX_CELLS];
  ms_efficiency efficiency[MS_MAX_CELLS];
  int ndiffs;
  ms_diff_row diffs[MS_MAX_CELLS][MS_MAX_DIFFS]; /* [0] unused: the baseline */
  double seconds;
  int64_t replayed;                      /* cell-paths that replayed a recorded exogenous path */
} ms_compare_report;

/** The probability levels of the quantile columns, and their names (q50 ... q001). */
extern const double ms_stats_quantile_levels[MS_NQUANT];
extern const char *const ms_stats_quantile_names[MS_NQUANT];

/** Fill @p cols with the summary columns for @p cfg; returns their number. */
int ms_stats_columns(const ms_config *cfg, ms_column *cols, int max);

/** 1 if two columns are the same field of the row (a regime's column may be named otherwise in another cell):
 *  how the cells of a sweep or a comparison are paired. */
static inline int ms_stats_same_field(const ms_column *a, const ms_column *b) {
  return a->offset == b->offset && a->type == b->type;
}

/**
 * Every column any run may have, for documents: the twin's columns, and one
 * "time_in_regime_<name>" standing for the column of each regime.
 */
int ms_stats_columns_all(ms_column *cols, int max);

/** Value of column @p c in @p row, as a double. */
double ms_stats_value(const ms_column *c, const ms_path_summary *row);

/**
 * Aggregate the paths of @p src (in path order) on up to @p threads threads (< 1: one). Each column's
 * aggregates, and each feedback difference, are computed by one thread
 * exactly as on one thread (sums in path order, bootstrap streams keyed by
 * the statistic's name), so @p out is bit-identical for any thread count;
 * an error is the first one in column order.
 */
ms_status ms_stats_compute(ms_stats *out, const ms_config *cfg, const ms_colsrc *src, int threads,
                           ms_error *err);

/** Row named @p name, or NULL. */
const ms_stat_row *ms_stats_find(const ms_stats *st, const char *name);

/** Probability named @p name, or NULL. */
const ms_prob_row *ms_stats_find_prob(const ms_stats *st, const char *name);

/** Wilson score interval for k successes in n trials at normal quantile z. */
void ms_stats_wilson(int64_t k, int64_t n, double z, double *lo, double *hi);

/** Quantile of sorted data, numpy's default (linear, "type 7"). */
double ms_stats_quantile_sorted(const double *x, int64_t n, double q);

#endif
