/*
 * interval — bootstrap confidence intervals of means and expected shortfalls.
 *
 * Means: the studentized ("bootstrap-t") interval, on the log scale when
 * every value is >= 0 and the mean is > 0, so that the interval of a
 * nonnegative quantity is [m exp(-t_hi se/m), m exp(-t_lo se/m)]: positive
 * by construction, never truncated. Expected shortfalls: studentized too,
 * by the ES's asymptotic standard error (its tail values' variance and
 * their distance from the VaR); with too small a tail (n <= 200) or no
 * spread in it, the far end is unbounded (the percentile interval before
 * could not reach beyond the sample's extreme and under-covered: 82% at
 * 1,000 values of a lognormal).
 * See docs/output.md, "Statistics and intervals", for the methods, their
 * measured coverage and their cost.
 *
 * Levels: B resamples resolve confidence levels up to 1 - 2/(B+1) = 0.999;
 * above it both ends are infinite (-inf and +inf; 0 and +inf for a mean on
 * the log scale and for an expected shortfall of a column >= 0), not the
 * extreme replicates, which would be narrower than the level promises.
 *
 * Randomness: every interval resamples from its own stream, MS_STREAM_STATS
 * with path = ms_interval_key(kind, name), so it depends on the run's seed,
 * the statistic and the data only: not on the thread count nor on which
 * other columns exist. The same resamples serve every confidence level.
 */
#ifndef MARGINSIM_INTERVAL_H
#define MARGINSIM_INTERVAL_H

#include <stdint.h>

#include "marginsim/error.h"

/** Bootstrap resamples per interval: (B + 1) alpha / 2 is an integer at 95% and 99%. */
#define MS_BOOT_B 1999

/** Above this many values that are not the sample's most frequent one, the bootstrap-t resamples fewer
 * than n values and rescales (see ms_interval_mean): its cost stays about B x MS_BOOT_KMAX draws. */
#define MS_BOOT_KMAX 32768

/** The stream's path index of statistic @p name of kind @p kind ("mean", "diff", "es99", "es01"): FNV-1a 64. */
uint64_t ms_interval_key(const char *kind, const char *name);

/**
 * Bootstrap-t interval of the mean of @p x (sorted ascending, @p n finite
 * values) at @p confidence (e.g. 0.95), drawn from stream (seed, key,
 * MS_STREAM_STATS). Log scale when x[0] >= 0 and the mean > 0. All values
 * equal: [mean, mean]. n <= 1: NaN (one value has no
 * spread to resample). An end is infinite when more than
 * alpha/2 of the resamples have no spread (e.g. a sample with two or three
 * nonzero values among a hundred): the data cannot bound the mean there.
 * Cost: B x min(k, MS_BOOT_KMAX) draws, k the values other than the most
 * frequent one (zero-inflated columns resample only their nonzero values);
 * above MS_BOOT_KMAX the resamples have r = n KMAX / k values and the
 * t quantiles are rescaled to n by their r^(-1/2) Edgeworth term.
 */
ms_status ms_interval_mean(const double *x, int64_t n, uint64_t seed, uint64_t key, double confidence, double *lo,
                           double *hi, ms_error *err);

/**
 * ms_interval_mean on the plain scale whatever the signs: for differences
 * (paired comparisons, /stats/feedback), whose population mean can be <= 0
 * even when every sampled difference is >= 0, so their interval must be
 * able to reach 0 and below.
 */
ms_status ms_interval_mean_plain(const double *x, int64_t n, uint64_t seed, uint64_t key, double confidence,
                                 double *lo, double *hi, ms_error *err);

/**
 * Bootstrap-t interval of the expected shortfall of @p x (sorted
 * ascending): the mean of the t = ceil(n/100) largest values when @p upper,
 * else of the smallest; se^2 = [var(tail) + 0.99 (ES - VaR)^2] / t with
 * the VaR the (t+1)-th most extreme value, log scale when x[0] >= 0 and
 * ES > 0; the near end the percentile's where its studentized quantile is
 * infinite (ties). t < 3, or the t extreme values one value: the
 * percentile near end, and the far end unbounded unless the extreme value
 * is an atom (2t values and a tenth of the sample). @p n finite values
 * (as ms_interval_mean's). n <= 1: NaN; all values equal: that value.
 */
ms_status ms_interval_es(const double *x, int64_t n, int upper, uint64_t seed, uint64_t key, double confidence,
                         double *lo, double *hi, ms_error *err);

/**
 * Expected shortfall as above: the mean of the ceil(n/100) largest (upper)
 * or smallest values of sorted @p x; exactly their value when they are one.
 */
double ms_interval_es_value(const double *x, int64_t n, int upper);

#endif
