/*
 * dist — the one distribution syntax of scenario files, and sampling from it.
 *
 *   {dist: fixed, value: X}
 *   {dist: uniform, min: A, max: B}
 *   {dist: lognormal, median: M, sigma: S}     exp(N(ln M, S^2))
 *   {dist: exponential, mean: M}
 *   {dist: table, values: [...], weights: [...]}   (weights default to equal)
 *
 * A bare scalar X is shorthand for {dist: fixed, value: X}. Parameters are in
 * the unit of the key the distribution belongs to (milliseconds for
 * durations, USD for collateral, ...).
 */
#ifndef MARGINSIM_DIST_H
#define MARGINSIM_DIST_H

#include <gsl/gsl_rng.h>

#define MS_DIST_TABLE_MAX 64

/* Limits on every value a distribution can draw (docs/robustness.md),
 * checked by the loader with ms_dist_draw_range. Amounts (USD, units,
 * leverage) beyond these are past meaning and, near the double range, break
 * the arithmetic of margin and money (a collateral that underflows to 0
 * makes a zero position). Durations are capped by MS_DURATION_MAX_MS. */
#define MS_DIST_AMOUNT_MAX 1e15  /* largest magnitude of a drawn amount */
#define MS_DIST_AMOUNT_MIN 1e-12 /* smallest draw of an amount that must be positive */

typedef enum {
  MS_DIST_FIXED,
  MS_DIST_UNIFORM,
  MS_DIST_LOGNORMAL,
  MS_DIST_EXPONENTIAL,
  MS_DIST_TABLE
} ms_dist_kind;

typedef struct ms_dist {
  ms_dist_kind kind;
  double a;                            /* fixed: value; uniform: min; lognormal: median; exponential: mean */
  double b;                            /* uniform: max; lognormal: sigma */
  int n;                               /* table: number of values */
  double values[MS_DIST_TABLE_MAX];    /* table: the values */
  double weights[MS_DIST_TABLE_MAX];   /* table: weights as given */
  double cum[MS_DIST_TABLE_MAX];       /* table: normalised cumulative weights, cum[n-1] = 1 */
} ms_dist;

/** Names of the kinds, in enum order, NULL-terminated. */
extern const char *const ms_dist_kind_names[];

/** Fill cum[] from weights[] (table kind). Returns -1 if no weight is positive. */
int ms_dist_prepare(ms_dist *d);

/** One draw. */
double ms_dist_sample(const ms_dist *d, gsl_rng *r);

/** Expected value. */
double ms_dist_mean(const ms_dist *d);

/** Smallest and largest value the distribution can return (may be +/-INFINITY). */
void ms_dist_support(const ms_dist *d, double *lo, double *hi);

/**
 * Smallest and largest value ms_dist_sample() can actually return from
 * @p d: unlike ms_dist_support, finite whenever the parameters are (a
 * lognormal reaches median * exp(+-sigma * ms_rng_gaussian_max()), an
 * exponential mean * ms_rng_neglog_max()); +-INFINITY or 0 where that
 * overflows or underflows. The loader checks it against the key's limits.
 */
void ms_dist_draw_range(const ms_dist *d, double *lo, double *hi);

/** 1 if @p d always returns the same value. */
int ms_dist_is_fixed(const ms_dist *d);

#endif
