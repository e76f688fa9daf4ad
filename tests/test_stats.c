/*
 * test_stats — Wilson intervals, quantiles, amplification, intervals and
 * aggregates. (Cascades and generations are the engine's: test_cascade.c.)
 */
#include <math.h>

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "core/rng.h"
#include "output/interval.h"
#include "output/stats.h"
#include "testutil.h"

static void test_stats__wilson_and_quantiles(void **state) {
  (void)state;
  double lo, hi;
  /* Wilson 95% for 3 of 10 (Newcombe 1998, Table I: 0.1078, 0.6032) */
  ms_stats_wilson(3, 10, 1.959963984540054, &lo, &hi);
  assert_true(fabs(lo - 0.1078) < 5e-5 && fabs(hi - 0.6032) < 5e-5);
  ms_stats_wilson(0, 100, 1.959963984540054, &lo, &hi);
  assert_true(lo == 0 && fabs(hi - 0.0370) < 5e-5);
  double x[] = {1, 2, 3, 4, 5};
  /* numpy.quantile([1,2,3,4,5], [0.5, 0.9, 0.99]) = 3, 4.6, 4.96 */
  assert_true(ms_stats_quantile_sorted(x, 5, 0.5) == 3);
  assert_true(fabs(ms_stats_quantile_sorted(x, 5, 0.9) - 4.6) < 1e-12);
  assert_true(fabs(ms_stats_quantile_sorted(x, 5, 0.99) - 4.96) < 1e-12);
}

/* Amplification is the run's liquidated notional over its no-feedback
 * twin's: NaN when both are 0 (or there is no twin), +inf when only the
 * twin's is 0, exactly 1 when the run is its own twin. */
static void test_stats__amplification_against_the_twin(void **state) {
  (void)state;
  ms_path_summary r = {.liquidated_notional = 210, .liquidated_notional_no_impact = 70};
  ms_stats_set_amplification(&r, 0);
  assert_true(r.amplification == 3.0);
  r = (ms_path_summary){.liquidated_notional = 0, .liquidated_notional_no_impact = 0};
  ms_stats_set_amplification(&r, 0);
  assert_true(isnan(r.amplification));
  r = (ms_path_summary){.liquidated_notional = 5, .liquidated_notional_no_impact = 0};
  ms_stats_set_amplification(&r, 0);
  assert_true(isinf(r.amplification) && r.amplification > 0);
  r = (ms_path_summary){.liquidated_notional = 0.1, .liquidated_notional_no_impact = 0.1};
  ms_stats_set_amplification(&r, 1);
  assert_true(r.amplification == 1.0);
  r = (ms_path_summary){.liquidated_notional = 5, .liquidated_notional_no_impact = NAN};
  ms_stats_set_amplification(&r, 0);
  assert_true(isnan(r.amplification));
}

/* Exact bootstrap-t distribution of a 4-value sample by enumerating its
 * 4^4 equally likely resamples (independent of interval.c's sampler);
 * returns the atom at the 1-based rank @p rank of MS_BOOT_B sorted draws,
 * after checking the draws cannot miss it (the atom's cumulative
 * probabilities stand at least 4 standard errors either side of the rank). */
static double exact_t_atom(const double *x, int logscale, int rank) {
  double m = (x[0] + x[1] + x[2] + x[3]) / 4, t[256];
  for (int r = 0; r < 256; r++) {
    double v[4], mb = 0, ss = 0;
    for (int j = 0; j < 4; j++) mb += (v[j] = x[(r >> (2 * j)) & 3]);
    mb /= 4;
    for (int j = 0; j < 4; j++) ss += (v[j] - mb) * (v[j] - mb);
    double seb = sqrt(ss / 3 / 4);
    if (seb > 0) t[r] = logscale ? (log(mb) - log(m)) / (seb / mb) : (mb - m) / seb;
    else t[r] = mb > m ? INFINITY : mb < m ? -INFINITY : 0;
  }
  double p = (double)rank / MS_BOOT_B, sd = sqrt(p * (1 - p) / MS_BOOT_B);
  for (int r = 0; r < 256; r++) {
    int below = 0, upto = 0;
    for (int q = 0; q < 256; q++) { below += t[q] < t[r]; upto += t[q] <= t[r]; }
    if (below / 256.0 < p && upto / 256.0 >= p) {
      assert_true(p - below / 256.0 > 4 * sd && upto / 256.0 - p > 4 * sd);
      return t[r];
    }
  }
  fail_msg("no atom");
  return NAN;
}

static void test_interval__mean_against_exact_bootstrap(void **state) {
  (void)state;
  ms_error err;
  /* Zero-inflated, nonnegative: log scale. Every resample without the 5
   * (31.6%) has mean 0 and t = -inf, so the upper end is +inf: one nonzero
   * value among four cannot bound the mean from above. The lower end is
   * m exp(-t se / m) at the exact atom of the 97.5% rank (three 5s). */
  double x[4] = {0, 0, 0, 5}, lo, hi;
  assert_int_equal(ms_interval_mean(x, 4, 7, ms_interval_key("mean", "t"), 0.95, &lo, &hi, &err), MS_OK);
  double m = 1.25, se = sqrt((3 * 1.25 * 1.25 + 3.75 * 3.75) / 3 / 4);
  double thi = exact_t_atom(x, 1, 1950);
  assert_true(isinf(exact_t_atom(x, 1, 50)));
  assert_true(fabs(lo - m * exp(-thi * se / m)) < 1e-12 * m);
  assert_true(lo > 0 && isinf(hi) && hi > 0);
  /* The same sample negated (differences can be negative): plain scale. */
  double y[4] = {-5, 0, 0, 0};
  assert_int_equal(ms_interval_mean(y, 4, 7, ms_interval_key("mean", "t"), 0.95, &lo, &hi, &err), MS_OK);
  double tlo = exact_t_atom(y, 0, 50);
  assert_true(isinf(exact_t_atom(y, 0, 1950)));
  assert_true(fabs(hi - (-m - tlo * se)) < 1e-12 * m);
  assert_true(isinf(lo) && lo < 0);
}

static void test_interval__nonnegative_by_construction(void **state) {
  (void)state;
  ms_error err;
  /* 97 zeros and three losses, one huge: the normal interval's lower end
   * is negative, the bootstrap-t's is positive (no truncation: it is m
   * times an exponential). */
  double x[100] = {0};
  x[97] = 3;
  x[98] = 5;
  x[99] = 1e6;
  double m = 0, ss = 0;
  for (int i = 0; i < 100; i++) m += x[i];
  m /= 100;
  for (int i = 0; i < 100; i++) ss += (x[i] - m) * (x[i] - m);
  assert_true(m - 1.959963984540054 * sqrt(ss / 99 / 100) < 0);
  for (uint64_t seed = 1; seed <= 20; seed++) {
    double lo, hi;
    assert_int_equal(ms_interval_mean(x, 100, seed, ms_interval_key("mean", "bad_debt"), 0.95, &lo, &hi, &err),
                     MS_OK);
    assert_true(lo > 0 && lo < m && hi > m);
    /* the same stream at another level: nested */
    double lo9, hi9;
    assert_int_equal(ms_interval_mean(x, 100, seed, ms_interval_key("mean", "bad_debt"), 0.9, &lo9, &hi9, &err),
                     MS_OK);
    assert_true(lo <= lo9 && hi9 <= hi);
  }
  /* all equal: no spread to resample, so unbounded (0 below for values >= 0), not the point; none: NaN */
  double c[3] = {2, 2, 2}, lo, hi;
  assert_int_equal(ms_interval_mean(c, 3, 1, 1, 0.95, &lo, &hi, &err), MS_OK);
  assert_true(lo == 0 && hi == INFINITY);
  assert_int_equal(ms_interval_mean_plain(c, 3, 1, 1, 0.95, &lo, &hi, &err), MS_OK);
  assert_true(lo == -INFINITY && hi == INFINITY);
  double cn[3] = {-2, -2, -2};
  assert_int_equal(ms_interval_mean(cn, 3, 1, 1, 0.95, &lo, &hi, &err), MS_OK);
  assert_true(lo == -INFINITY && hi == INFINITY);
  assert_int_equal(ms_interval_mean(c, 0, 1, 1, 0.95, &lo, &hi, &err), MS_OK);
  assert_true(isnan(lo) && isnan(hi));
  /* one value: no spread to resample, no interval (not a zero-width one
   * that a `check` at confidence 0.95 would take as certain) */
  assert_int_equal(ms_interval_mean(c, 1, 1, 1, 0.95, &lo, &hi, &err), MS_OK);
  assert_true(isnan(lo) && isnan(hi));
  assert_int_equal(ms_interval_es(c, 1, 1, 1, 1, 0.95, &lo, &hi, &err), MS_OK);
  assert_true(isnan(lo) && isnan(hi));
  /* the stream key depends on the statistic only */
  assert_true(ms_interval_key("mean", "bad_debt") != ms_interval_key("mean", "bad_debt_no_impact"));
  assert_true(ms_interval_key("mean", "bad_debt") != ms_interval_key("es99", "bad_debt"));
}

static void test_interval__expected_shortfall(void **state) {
  (void)state;
  ms_error err;
  /* n = 4: ES99 is the largest value, one value (t = 1): no spread to
   * studentize by. The near end is the percentile's: the resample's largest
   * is <= 1 with probability 1/256, <= 2 with 16/256, <= 3 with 81/256, so
   * its 2.5% point is 2 (the draws cannot miss it: 4 standard errors away);
   * nothing bounds the far end, beyond the sample's largest: +inf. ES01 (the
   * smallest) mirrors: its near end 3, its far end 0 (log scale: the sample
   * is > 0). */
  double x[4] = {1, 2, 3, 4}, lo, hi;
  assert_true(ms_interval_es_value(x, 4, 1) == 4 && ms_interval_es_value(x, 4, 0) == 1);
  assert_int_equal(ms_interval_es(x, 4, 1, 3, ms_interval_key("es99", "t"), 0.95, &lo, &hi, &err), MS_OK);
  assert_true(lo == 2 && isinf(hi) && hi > 0);
  assert_int_equal(ms_interval_es(x, 4, 0, 3, ms_interval_key("es01", "t"), 0.95, &lo, &hi, &err), MS_OK);
  assert_true(lo == 0 && hi == 3);
  /* ... unless the extreme value is an atom (at least 2t of the sample):
   * then the resamples' tails are that value and so is the interval */
  double w[400];
  for (int i = 0; i < 400; i++) w[i] = i < 300 ? 0.0 : 1.0 + i;
  assert_int_equal(ms_interval_es(w, 400, 0, 3, ms_interval_key("es01", "w"), 0.95, &lo, &hi, &err), MS_OK);
  assert_true(lo == 0 && hi == 0);
  for (int i = 0; i < 400; i++) w[i] = i < 397 ? 0.0 : 5.0; /* 3 of 400: t = 4, not an atom of 8 */
  assert_int_equal(ms_interval_es(w, 400, 1, 3, ms_interval_key("es99", "w"), 0.95, &lo, &hi, &err), MS_OK);
  assert_true(hi > 5 * 3.0 / 4 && lo <= 5 * 3.0 / 4);
  /* A tail of t tied values (a capped column: 10 of 1,000 at 0.7): no ES*
   * exceeds the ES, so a studentized near end would be the ES itself (and
   * a tied resample's ES* an ulp from it, by rounding alone): the near end
   * is the percentile's, below the ES, and the far end unbounded (10 values
   * are no atom); with 150 at the cap it is an atom: the interval is 0.7. */
  {
    static double cap[1000];
    for (int i = 0; i < 1000; i++) cap[i] = i < 990 ? 0.3 * i / 990.0 : 0.7;
    double es = ms_interval_es_value(cap, 1000, 1);
    assert_int_equal(ms_interval_es(cap, 1000, 1, 3, ms_interval_key("es99", "cap"), 0.95, &lo, &hi, &err), MS_OK);
    assert_true(lo < es && lo > 0.3 && isinf(hi) && hi > 0);
    for (int i = 0; i < 1000; i++) cap[i] = i < 850 ? 0.3 * i / 850.0 : 0.7;
    es = ms_interval_es_value(cap, 1000, 1);
    assert_int_equal(ms_interval_es(cap, 1000, 1, 3, ms_interval_key("es99", "cap"), 0.95, &lo, &hi, &err), MS_OK);
    assert_true(fabs(lo - 0.7) < 1e-15 && fabs(hi - 0.7) < 1e-15 && lo <= es && es <= hi);
  }
  /* n = 200 of 1..200: ES99 = mean of the 2 largest, ES01 of the 2 smallest;
   * q01 and q001 by numpy's linear rule: h = 199 q. */
  double y[200];
  for (int i = 0; i < 200; i++) y[i] = i + 1;
  assert_true(ms_interval_es_value(y, 200, 1) == 199.5 && ms_interval_es_value(y, 200, 0) == 1.5);
  assert_true(fabs(ms_stats_quantile_sorted(y, 200, 0.01) - 2.99) < 1e-12);
  assert_true(fabs(ms_stats_quantile_sorted(y, 200, 0.001) - 1.199) < 1e-12);
  /* n = 5000: the interval, whose resampled ES99s (mean of the 50 largest
   * of 5000 draws) come from the top-M shortcut, against a full resampling
   * written here (400 resamples, its own generator): its ends agree with
   * the full resamples' mean -/+ 1.96 sd to a few Monte Carlo standard
   * errors (at 50 values of a smooth tail the studentized interval is near
   * the percentile one). */
  int n = 5000;
  double *z = malloc((size_t)n * sizeof *z), *full = malloc(400 * sizeof *full);
  int *cnt = malloc((size_t)n * sizeof *cnt);
  assert_true(z && full && cnt);
  for (int i = 0; i < n; i++) z[i] = exp(3.0 * (double)i / n); /* sorted, skewed */
  assert_int_equal(ms_interval_es(z, n, 1, 5, ms_interval_key("es99", "z"), 0.95, &lo, &hi, &err), MS_OK);
  uint64_t st = 12345;
  for (int b = 0; b < 400; b++) {
    memset(cnt, 0, (size_t)n * sizeof *cnt);
    for (int j = 0; j < n; j++) {
      st = st * 6364136223846793005ull + 1442695040888963407ull;
      cnt[(st >> 33) % (uint64_t)n]++;
    }
    double s = 0;
    int need = 50;
    for (int i = n - 1; i >= 0 && need > 0; i--) {
      int take = cnt[i] < need ? cnt[i] : need;
      s += take * z[i];
      need -= take;
    }
    full[b] = s / 50;
  }
  double mean = 0, ss = 0;
  for (int b = 0; b < 400; b++) mean += full[b] / 400;
  for (int b = 0; b < 400; b++) ss += (full[b] - mean) * (full[b] - mean) / 399;
  double sd = sqrt(ss);
  /* the ends are about mean -/+ 1.96 sd; allow 0.35 sd (MC error of the ends at B = 400 and 1999) */
  assert_true(fabs(lo - (mean - 1.96 * sd)) < 0.35 * sd);
  assert_true(fabs(hi - (mean + 1.96 * sd)) < 0.35 * sd);
  free(z);
  free(full);
  free(cnt);
}

/* B = 1999 resamples resolve levels up to 1 - 2/(B+1) = 0.999 (the extreme
 * replicates are the 0.05% and 99.95% points). Above it the ends are
 * unbounded: the extreme replicates would give the 99.9% interval under a
 * 99.99% name (a `check` at confidence 0.9999 passing on a 99.9% promise). */
static void test_interval__levels_beyond_the_resamples(void **state) {
  (void)state;
  ms_error err;
  double x[50], y[50], v[3000];
  for (int i = 0; i < 50; i++) {
    x[i] = exp(0.1 * i);      /* sorted, > 0: log scale */
    y[i] = 0.1 * i - 2.0;     /* sorted, signed: plain scale */
  }
  for (int i = 0; i < 3000; i++) v[i] = exp(0.002 * i);
  double lo, hi, lo3, hi3;
  assert_int_equal(ms_interval_mean(x, 50, 3, ms_interval_key("mean", "x"), 0.999, &lo3, &hi3, &err), MS_OK);
  assert_true(lo3 > 0 && isfinite(hi3));
  for (int k = 0; k < 2; k++) {
    double conf = k ? 0.99999 : 0.9999;
    assert_int_equal(ms_interval_mean(x, 50, 3, ms_interval_key("mean", "x"), conf, &lo, &hi, &err), MS_OK);
    assert_true(lo == 0 && isinf(hi) && hi > 0);
    assert_int_equal(ms_interval_mean(y, 50, 3, ms_interval_key("mean", "y"), conf, &lo, &hi, &err), MS_OK);
    assert_true(isinf(lo) && lo < 0 && isinf(hi) && hi > 0);
    assert_int_equal(ms_interval_es(v, 3000, 1, 3, ms_interval_key("es99", "v"), conf, &lo, &hi, &err), MS_OK);
    assert_true(lo == 0 && isinf(hi) && hi > 0); /* a column >= 0: its ES is too */
    assert_int_equal(ms_interval_es(y, 50, 1, 3, ms_interval_key("es99", "y"), conf, &lo, &hi, &err), MS_OK);
    assert_true(isinf(lo) && lo < 0 && isinf(hi) && hi > 0);
  }
  /* the expected shortfall of 3,000 values (30 in its tail, spread): finite ends at 0.999 */
  assert_int_equal(ms_interval_es(v, 3000, 1, 3, ms_interval_key("es99", "v"), 0.999, &lo, &hi, &err), MS_OK);
  assert_true(isfinite(lo) && isfinite(hi) && lo < ms_interval_es_value(v, 3000, 1));
}

/* ---- the bootstraps' bits against a reference ----
 * The intervals as first written: one draw at a time through ms_rng_u64
 * mapped to [0, k) by two products, the resample's values read from the
 * sorted sample past the run of its most frequent value, the replicates
 * fully sorted. interval.c computes the same thing faster (a table of
 * deviations and squares, the state in registers, one product per index,
 * the two ends by selection); its results must be these, bit for bit. */
static int ref_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int64_t ref_index(gsl_rng *r, int64_t k) {
  int64_t i = (int64_t)((double)(ms_rng_u64(r) >> 11) * 0x1.0p-53 * (double)k);
  return i < k ? i : k - 1;
}

/* 1-based ranks of the ends (interval.c's end_ranks), 0 when unresolved */
static int64_t ref_rank(double confidence) {
  int64_t a = (int64_t)floor((double)(MS_BOOT_B + 1) * (1.0 - confidence) / 2.0 + 1e-9);
  return a > MS_BOOT_B ? MS_BOOT_B : a;
}

static void ref_mean(const double *x, int64_t n, int allow_log, uint64_t seed, uint64_t key, double conf,
                     double *lo, double *hi) {
  *lo = *hi = NAN;
  if (n <= 1) return;
  double m = 0;
  for (int64_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  if (x[0] == x[n - 1]) { *lo = *hi = x[0]; return; }
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
  double nn = (double)n, se = sqrt(ss / (nn - 1) / nn);
  int logscale = allow_log && x[0] >= 0 && m > 0;
  int64_t cs = 0, cl = 0;
  for (int64_t i = 0, j; i < n; i = j) {
    for (j = i; j < n && x[j] == x[i]; j++) {}
    if (j - i > cl) { cs = i; cl = j - i; }
  }
  int64_t k = n - cl, rs = n;
  double dc = x[cs] - m;
  if (k > MS_BOOT_KMAX) rs = (int64_t)ceil((double)n * MS_BOOT_KMAX / (double)k);
  double rr = (double)rs, *t = malloc(MS_BOOT_B * sizeof *t);
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  assert_non_null(t);
  ms_rng_seed(r, seed, key, MS_STREAM_STATS);
  for (int b = 0; b < MS_BOOT_B; b++) {
    int64_t K = (int64_t)gsl_ran_binomial(r, (double)k / nn, (unsigned int)rs);
    double s1 = (double)(rs - K) * dc, s2 = (double)(rs - K) * dc * dc;
    double first = rs > K ? x[cs] : NAN; /* the resample's first value: without spread, all are it */
    int spread = 0;
    for (int64_t j = 0; j < K; j++) {
      int64_t i = ref_index(r, k);
      if (i >= cs) i += cl;
      double d = x[i] - m;
      s1 += d;
      s2 += d * d;
      if (j == 0 && rs == K) first = x[i];
      spread |= x[i] != first;
    }
    double mb = m + s1 / rr, v = spread ? (s2 - s1 * s1 / rr) / (rr - 1) : 0;
    double seb = v > 0 ? sqrt(v / rr) : 0;
    double diff = logscale ? log(mb) - log(m) : mb - m, scale = logscale ? seb / mb : seb;
    if (seb > 0 && mb > 0) t[b] = diff / scale;
    else if (seb > 0 && !logscale) t[b] = diff / scale;
    else t[b] = diff > 0 ? INFINITY : diff < 0 ? -INFINITY : 0.0;
  }
  ms_rng_free(r);
  qsort(t, MS_BOOT_B, sizeof *t, ref_cmp);
  int64_t a = ref_rank(conf), bb = MS_BOOT_B + 1 - a;
  double tlo = a >= 1 ? t[a - 1] : -INFINITY, thi = a >= 1 ? t[bb - 1] : INFINITY;
  free(t);
  if (rs < n && a >= 1) {
    double f = sqrt(rr / nn), zlo = gsl_cdf_ugaussian_Pinv((double)a / (MS_BOOT_B + 1)),
           zhi = gsl_cdf_ugaussian_Pinv((double)bb / (MS_BOOT_B + 1));
    tlo = zlo + (tlo - zlo) * f;
    thi = zhi + (thi - zhi) * f;
  }
  *lo = logscale ? m * exp(-thi * se / m) : m - thi * se;
  *hi = logscale ? m * exp(-tlo * se / m) : m - tlo * se;
}

/* The expected shortfall's interval written plainly: the t + 1 extreme
 * values of each resample as (value, times drawn) from the counts (the
 * last of them the VaR), the tail's ES and standard error
 * [var(tail) + 0.99 (ES - VaR)^2] / t from the deviations from the VaR, the
 * studentized replicates fully sorted (a resample without spread: +-inf),
 * the near end the percentile's
 * where its studentized quantile is infinite; with t < 3, or the sample's
 * t extreme values tied, the percentile near end and a far end that is the
 * percentile's only for an atom of the extreme value (2t values and a
 * tenth of the sample). */
static double ref_es_se(const double *v, const int64_t *m, int64_t nv, int64_t t, double c, double *es) {
  /* v[0..nv) with multiplicities m: the first t taken are the tail, the next the VaR */
  double s = 0, ss = 0, var = c;
  int64_t k = 0;
  for (int64_t j = 0; j < nv; j++) {
    int64_t tail = m[j] < t - k ? m[j] : t - k;
    s += (double)tail * (v[j] - c);
    ss += (double)tail * (v[j] - c) * (v[j] - c);
    k += m[j];
    var = v[j];
  }
  double vd = var - c, sv = s - (double)t * vd, ssv = ss - 2 * vd * s + (double)t * vd * vd;
  double tt = (double)t, dev = sv / tt, vv = t > 1 ? (ssv - sv * dev) / (tt - 1) : 0;
  if (vv < 0) vv = 0;
  *es = c + s / tt;
  return sqrt((vv + 0.99 * dev * dev) / tt);
}

static void ref_es(const double *x, int64_t n, int upper, uint64_t seed, uint64_t key, double conf, double *lo,
                   double *hi) {
  *lo = *hi = NAN;
  if (n <= 1) return;
  const double es = ms_interval_es_value(x, n, upper);
  if (x[0] == x[n - 1]) { *lo = *hi = es; return; }
  int64_t t = (int64_t)ceil(0.01 * (double)n), M = 4 * t + 40;
  if (M > n) M = n;
  double *rep = malloc(MS_BOOT_B * sizeof *rep), *tst = malloc(MS_BOOT_B * sizeof *tst);
  double *val = malloc((size_t)(t + 1) * sizeof *val);
  int64_t *mul = malloc((size_t)(t + 1) * sizeof *mul), *cnt = calloc((size_t)n, sizeof *cnt);
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  assert_true(rep && tst && val && mul && cnt);
  for (int64_t j = 0; j <= t; j++) val[j] = upper ? x[n - 1 - j] : x[j], mul[j] = 1;
  double c = val[t], es0;
  const double se = ref_es_se(val, mul, t + 1, t, c, &es0);
  const int logscale = x[0] >= 0 && es > 0;
  const double ext0 = upper ? x[n - 1] : x[0];
  const int tail_tied = (upper ? x[n - t] : x[t - 1]) == ext0; /* the t extreme values one value */
  ms_rng_seed(r, seed, key, MS_STREAM_STATS);
  for (int b = 0; b < MS_BOOT_B; b++) {
    int64_t cm = M == n ? n : (int64_t)gsl_ran_binomial(r, (double)M / (double)n, (unsigned int)n);
    memset(cnt, 0, (size_t)n * sizeof *cnt);
    for (int64_t j = 0; j < cm; j++) cnt[ref_index(r, M)]++;
    int64_t k = 0, nv = 0; /* k values taken (t + 1), nv distinct entries */
    for (int64_t j = 0; j < M && k < t + 1; j++)
      if (cnt[j]) {
        int64_t take = cnt[j] < t + 1 - k ? cnt[j] : t + 1 - k;
        val[nv] = upper ? x[n - 1 - j] : x[j], mul[nv++] = take, k += take;
      }
    if (k < t + 1) {
      memset(cnt, 0, (size_t)n * sizeof *cnt);
      for (int64_t j = 0; j < n - cm; j++) cnt[ref_index(r, n - M)]++;
      for (int64_t j = 0; j < n - M && k < t + 1; j++)
        if (cnt[j]) {
          int64_t take = cnt[j] < t + 1 - k ? cnt[j] : t + 1 - k;
          val[nv] = upper ? x[n - 1 - (M + j)] : x[M + j], mul[nv++] = take, k += take;
        }
    }
    double esb, seb = ref_es_se(val, mul, nv, t, c, &esb);
    if (val[0] == val[nv - 1]) seb = 0; /* the t + 1 values one value: no spread */
    if (!(seb > 0)) esb = val[nv - 1]; /* no spread: the t + 1 values are the VaR's */
    rep[b] = esb;
    if (seb > 0 && (!logscale || esb > 0))
      tst[b] = (logscale ? log(esb) - log(es) : esb - es) / (logscale ? seb / esb : seb);
    else tst[b] = esb > es ? INFINITY : esb < es ? -INFINITY : 0.0;
  }
  ms_rng_free(r);
  qsort(rep, MS_BOOT_B, sizeof *rep, ref_cmp);
  qsort(tst, MS_BOOT_B, sizeof *tst, ref_cmp);
  int64_t a = ref_rank(conf), bb = MS_BOOT_B + 1 - a;
  if (a < 1) {
    *lo = -INFINITY;
    *hi = INFINITY;
  } else if (se > 0 && t >= 3 && !tail_tied) {
    double tlo = tst[a - 1], thi = tst[bb - 1];
    *lo = logscale ? es * exp(-thi * se / es) : es - thi * se;
    *hi = logscale ? es * exp(-tlo * se / es) : es - tlo * se;
    if (upper && isinf(thi) && thi > 0) *lo = rep[a - 1] < es ? rep[a - 1] : es;
    if (!upper && isinf(tlo) && tlo < 0) *hi = rep[bb - 1] > es ? rep[bb - 1] : es;
  } else {
    int64_t eq = 0;
    while (eq < n && (upper ? x[n - 1 - eq] : x[eq]) == ext0) eq++;
    int atom = eq >= 2 * t && eq >= (n + 9) / 10;
    *lo = upper || atom ? rep[a - 1] : x[0] >= 0 ? 0.0 : -INFINITY;
    *hi = !upper || atom ? rep[bb - 1] : INFINITY;
    if (*lo > es) *lo = es;
    if (*hi < es) *hi = es;
  }
  if (x[0] >= 0 && *lo < 0) *lo = 0;
  free(rep);
  free(tst);
  free(val);
  free(mul);
  free(cnt);
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* A resample without spread has an infinite t*, however its sums round.
 * The audit's case (/stats/feedback of compare-margin-models.yaml under
 * portfolio margin, 100 paths): a difference nonzero on 2 paths, so that
 * 0.98^100 = 13% of the resamples are all 0, more than an end's 2.5%: the
 * upper end is unbounded. The sums of 100 copies of the deviation
 * -1014.35 left a variance of 1.5e-10, a t* of -8e8 and an upper end of
 * 8.2e11 USD. The ES's: 7 copies of 3.0925 under one value, so that about
 * 4% of the resamples' 11 most extreme values are those copies alone,
 * above the ES; summed entry by entry they left a spread, and a finite t*
 * where +inf makes the near end the percentile bootstrap's. */
static void test_interval__a_resample_without_spread_is_unbounded(void **state) {
  (void)state;
  ms_error err;
  double x[100] = {0}, lo, hi, rlo, rhi;
  x[98] = 2066.6598626258055, x[99] = 99368.33962748002;
  const uint64_t key = ms_interval_key("diff", "bad_debt");
  assert_int_equal(ms_interval_mean_plain(x, 100, 20250519, key, 0.95, &lo, &hi, &err), MS_OK);
  assert_true(isfinite(lo) && lo < 1014.35);
  assert_true(isinf(hi) && hi > 0);
  ref_mean(x, 100, 0, 20250519, key, 0.95, &rlo, &rhi);
  assert_true(same_bits(lo, rlo) && same_bits(hi, rhi));
  /* {a, b, b}: 30% of the resamples all b (K = 0: above the mean), 3.7% all a (every draw not the
   * most frequent value, and one value: K = rs, below it); both ends unbounded (the sums of three
   * copies of a - m left a variance whose t* made the upper end 1.6e8) */
  double w[3] = {3 * 0.0173 + 0.01, 5, 5};
  assert_int_equal(ms_interval_mean_plain(w, 3, 1, 0, 0.95, &lo, &hi, &err), MS_OK);
  assert_true(isinf(lo) && lo < 0 && isinf(hi) && hi > 0);
  ref_mean(w, 3, 0, 1, 0, 0.95, &rlo, &rhi);
  assert_true(same_bits(lo, rlo) && same_bits(hi, rhi));
  /* every draw not the most frequent value, and all one value (1 resample in 1,024) */
  double y[10];
  for (int i = 0; i < 10; i++) y[i] = i < 5 ? 0.1 : 0.3;
  for (uint64_t k = 0; k < 40; k++) {
    assert_int_equal(ms_interval_mean_plain(y, 10, 1, k, 0.95, &lo, &hi, &err), MS_OK);
    ref_mean(y, 10, 0, 1, k, 0.95, &rlo, &rhi);
    assert_true(same_bits(lo, rlo) && same_bits(hi, rhi));
  }
  enum { N = 1000 };
  double *z = malloc(N * sizeof *z);
  assert_non_null(z);
  for (int i = 0; i < N; i++) z[i] = i < N - 8 ? (double)i / N * 0.005 : 3.0925;
  z[N - 1] = 9.25;
  assert_int_equal(ms_interval_es(z, N, 1, 1, 0, 0.95, &lo, &hi, &err), MS_OK);
  ref_es(z, N, 1, 1, 0, 0.95, &rlo, &rhi);
  assert_true(same_bits(lo, rlo) && same_bits(hi, rhi));
  assert_true(lo > 0.5 && lo < ms_interval_es_value(z, N, 1)); /* 0 before: a far negative end, clamped */
  free(z);
}

static void test_interval__bits_of_the_reference(void **state) {
  (void)state;
  ms_error err;
  enum { NS = 9 };
  /* sizes: one value, tiny (every draw in the top M), the ES tail's
   * shortcut, and one above MS_BOOT_KMAX (the mean's smaller resamples) */
  const int64_t ns[NS] = {1, 2, 7, 45, 130, 400, 1000, 3001, MS_BOOT_KMAX + 600};
  /* 0.5: both ends the same rank; 0.9995: unresolved */
  const double confs[] = {0.95, 0.99, 0.5, 0.9995};
  uint64_t u = 88172645463325252ull;
  int cases = 0;
  for (int a = 0; a < NS; a++)
    for (int kind = 0; kind < 5; kind++) {
      int64_t n = ns[a];
      if (n > 5000 && kind != 0) continue; /* the large size once: its reference is slow */
      double *x = malloc((size_t)n * sizeof *x);
      assert_non_null(x);
      for (int64_t i = 0; i < n; i++) {
        u ^= u << 13, u ^= u >> 7, u ^= u << 17;
        double v = (double)(u >> 11) * 0x1.0p-53;
        x[i] = kind == 0   ? exp(4 * v)                        /* continuous, > 0: log scale */
               : kind == 1 ? (v < 0.7 ? 0.0 : exp(3 * v))      /* zero-inflated */
               : kind == 2 ? floor(6 * v) - 2                  /* few values, signed */
               : kind == 3 ? (i % 9 == 0 ? 1e6 * v : -1.0)     /* a run below the rest */
                           : -1.7e308 * (0.6 + 0.4 * v);       /* huge: sums overflow */
      }
      qsort(x, (size_t)n, sizeof *x, ref_cmp);
      if (kind == 4 && n >= 400) x[n - 1] = 1.7e308; /* +inf and -inf in one tail sum: NaN replicates */
      for (size_t c = 0; c < sizeof confs / sizeof confs[0]; c++) {
        if (n > 5000 && c > 0) break;
        uint64_t key = ms_interval_key("mean", "t") + (uint64_t)(a * 16 + kind);
        double lo, hi, rlo, rhi;
        for (int f = 0; f < 4; f++) {
          if (f == 0) assert_int_equal(ms_interval_mean(x, n, 3, key, confs[c], &lo, &hi, &err), MS_OK);
          if (f == 1) assert_int_equal(ms_interval_mean_plain(x, n, 3, key, confs[c], &lo, &hi, &err), MS_OK);
          if (f >= 2) assert_int_equal(ms_interval_es(x, n, f == 2, 3, key, confs[c], &lo, &hi, &err), MS_OK);
          if (f < 2) ref_mean(x, n, f == 0, 3, key, confs[c], &rlo, &rhi);
          else ref_es(x, n, f == 2, 3, key, confs[c], &rlo, &rhi);
          if (!same_bits(lo, rlo) || !same_bits(hi, rhi))
            fail_msg("n %ld kind %d level %g %s: [%.17g, %.17g], the reference [%.17g, %.17g]", (long)n, kind,
                     confs[c], f == 0 ? "mean" : f == 1 ? "plain mean" : f == 2 ? "es99" : "es01", lo, hi, rlo,
                     rhi);
          cases++;
        }
      }
      free(x);
    }
  assert_true(cases > 500);
}

static const char *tiny =
    "name: t\nseed: 5\npaths: 10\nhorizon: 1h\nstep: 1s\nmarket:\n  regimes:\n    - {name: calm, vol: 0.5}\n"
    "book: {accounts: 10}\n";

/* Differences use the plain scale even when every sampled one is >= 0 (as
 * docs/output.md and analysis/compare.py say): the population difference
 * can be 0 or below, so the interval must be able to reach it. Here 95
 * paths with no change, four +1 and one +50: right-skewed, so the plain
 * bootstrap-t's lower end is below 0, whereas the log scale's is > 0 by
 * construction and would call the difference significant. */
static void test_stats__paired_differences_plain_scale(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml(tiny, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  int n = 100;
  ms_path_summary *base = calloc((size_t)n, sizeof *base), *other = calloc((size_t)n, sizeof *other);
  assert_true(base && other);
  double d[100];
  for (int i = 0; i < n; i++) {
    base[i].path = other[i].path = (uint64_t)i;
    other[i].bad_debt = d[i] = i < 95 ? 0.0 : i == 99 ? 50.0 : 1.0; /* sorted */
  }
  ms_diff_row rows[MS_MAX_DIFFS];
  ms_colsrc sb = ms_colsrc_rows(base, n), so = ms_colsrc_rows(other, n);
  int k = 0, found = 0;
  assert_int_equal(ms_stats_paired(cfg, &sb, &so, MS_PAIR_SAME_PATH, rows, 1, &k, &err), MS_OK);
  for (int i = 0; i < k; i++) {
    if (strcmp(rows[i].name, "bad_debt") != 0) continue;
    found = 1;
    double lo, hi;
    assert_int_equal(ms_interval_mean_plain(d, n, cfg->seed, ms_interval_key("diff", "bad_debt"), 0.95, &lo, &hi,
                                            &err), MS_OK);
    assert_true(rows[i].lo == lo && rows[i].hi == hi);
    assert_true(fabs(rows[i].diff - 0.54) < 1e-12);
    assert_true(rows[i].lo < 0 && rows[i].hi > rows[i].diff);
  }
  assert_true(found);
  free(base);
  free(other);
  ms_config_free(cfg);
}

/* The paired rows of an event count it on every path, as /stats/probabilities
 * does: amplification_inf's +inf is a path where it happened (dropping the
 * pairs that are not finite first had left it never happening), NaN one
 * where it did not. A column of one value in each has those values as its
 * means and their difference exactly (0.04000000000000003 before), and no
 * interval, paired or unpaired, that the sample can bound. One difference on
 * every path: of a flag that differs on all, the exact bound; of the
 * exogenous price, 0; of an outcome the same on these paths, unbounded. */
static void test_stats__paired_events_count_every_path(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml(tiny, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  assert_true(cfg->stats.counterfactual);
  int n = 100;
  ms_path_summary *base = calloc((size_t)n, sizeof *base), *other = calloc((size_t)n, sizeof *other);
  assert_true(base && other);
  for (int i = 0; i < n; i++) {
    base[i].path = other[i].path = (uint64_t)i;
    base[i].amplification = 1.0;
    other[i].amplification = i < 10 ? INFINITY : i < 20 ? NAN : 1.0;
    base[i].max_margin_ratio = 0.04;
    other[i].max_margin_ratio = 0.02;
    base[i].insolvent = 1; /* insolvent on every path in one, on none in the other */
    base[i].final_price = other[i].final_price = 1000 + i;   /* exogenous: the same on each path */
    base[i].liquidations = other[i].liquidations = 10 + i;    /* the same on each path of these 100 */
  }
  enum { MAXD = MS_MAX_COLUMNS + 32 };
  ms_diff_row *rows = calloc(MAXD, sizeof *rows);
  assert_non_null(rows);
  ms_colsrc sb = ms_colsrc_rows(base, n), so = ms_colsrc_rows(other, n);
  int k = 0, found = 0;
  assert_int_equal(ms_stats_paired_all(cfg, &sb, &so, MS_PAIR_SAME_PATH, rows, MAXD, 1, &k, &err), MS_OK);
  for (int i = 0; i < k; i++) {
    const ms_diff_row *r = &rows[i];
    if (strcmp(r->name, "amplification_inf") == 0) {
      found++;
      assert_true(r->probability && r->n == n && r->baseline == 0 && r->other == 0.1);
      assert_true(fabs(r->diff - 0.1) < 1e-15 && r->lo > 0 && r->hi > r->diff);
    } else if (strcmp(r->name, "insolvent") == 0) { /* every path differs one way: [-1, 1 - 2 L] */
      found++;
      double L = pow(0.025, 1.0 / n);
      assert_true(r->diff == -1 && r->lo == -1 && r->hi == 1 - 2 * L);
    } else if (strcmp(r->name, "final_price") == 0) { /* the exogenous price's: 0 by construction */
      found++;
      assert_true(r->diff == 0 && r->lo == 0 && r->hi == 0);
    } else if (strcmp(r->name, "liquidations") == 0) { /* these paths do not bound the others */
      found++;
      assert_true(r->diff == 0 && r->lo == -INFINITY && r->hi == INFINITY);
    } else if (strcmp(r->name, "max_margin_ratio") == 0) {
      found++;
      assert_true(r->baseline == 0.04 && r->other == 0.02 && r->diff == 0.02 - 0.04);
      assert_true(r->lo == -INFINITY && r->hi == INFINITY);
      assert_true(r->unpaired_lo == -INFINITY && r->unpaired_hi == INFINITY);
    }
  }
  assert_int_equal(found, 5);
  /* two runs of different price paths (a sweep over a jump rate): the exogenous price's columns the same on
   * these paths bound nothing either */
  assert_int_equal(ms_stats_paired_all(cfg, &sb, &so, MS_PAIR_OTHER_PATH, rows, MAXD, 1, &k, &err), MS_OK);
  for (int i = 0; i < k; i++)
    if (strcmp(rows[i].name, "final_price") == 0) assert_true(rows[i].lo == -INFINITY && rows[i].hi == INFINITY);
  /* one run against itself (a sweep's baseline): every difference 0 by construction, events and flags too */
  assert_int_equal(ms_stats_paired_all(cfg, &sb, &sb, MS_PAIR_SAME_RUN, rows, MAXD, 1, &k, &err), MS_OK);
  int seen = 0;
  for (int i = 0; i < k; i++)
    if (strcmp(rows[i].name, "insolvency") == 0 || strcmp(rows[i].name, "insolvent") == 0 ||
        strcmp(rows[i].name, "liquidations") == 0 || strcmp(rows[i].name, "bad_debt") == 0) {
      seen++;
      assert_true(rows[i].diff == 0 && rows[i].lo == 0 && rows[i].hi == 0);
    }
  assert_int_equal(seen, 4);
  free(rows);
  free(base);
  free(other);
  ms_config_free(cfg);
}

/* The tiny scenario, and @p n rows numbered 0 .. n-1 whose insurance_min
 * runs 1000, 2000, ... (the rest zero). */
static ms_path_summary *tiny_rows(int n, ms_config **cfg) {
  ms_error err;
  *cfg = load_yaml(tiny, NULL, 0, &err);
  if (!*cfg) fail_msg("%s", err.msg);
  ms_path_summary *rows = calloc((size_t)n, sizeof *rows);
  assert_non_null(rows);
  for (int i = 0; i < n; i++) {
    rows[i].path = (uint64_t)i;
    rows[i].insurance_min = 1000.0 * (i + 1);
  }
  return rows;
}

static void test_stats__new_fields_by_name(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg;
  int n = 300;
  ms_path_summary *rows = tiny_rows(n, &cfg); /* insurance_min 1000 ... 300000 */
  for (int i = 0; i < n; i++) rows[i].bad_debt = i % 10 == 0 ? 50.0 * i : 0.0; /* zero-inflated */
  ms_stats *st = calloc(1, sizeof *st);
  ms_colsrc src = ms_colsrc_rows(rows, n);
  assert_int_equal(ms_stats_compute(st, cfg, &src, 1, &err), MS_OK);
  const ms_stat_row *r = ms_stats_find(st, "insurance_min");
  assert_non_null(r);
  assert_true(r->risky_low == 1 && ms_stats_find(st, "bad_debt")->risky_low == 0);
  /* q01: h = 299 x 0.01 = 2.99 -> 3000 + 0.99 x 1000; q001: h = 0.299 -> 1299; es01 = mean of 1000, 2000, 3000 */
  assert_true(fabs(r->q[4] - 3990) < 1e-9 && fabs(r->q[5] - 1299) < 1e-9);
  assert_true(fabs(r->es01 - 2000) < 1e-9 && fabs(r->es99 - 299000) < 1e-9);
  /* studentized: the lower end may lie below the sample's smallest (the tail beyond it), never below 0 */
  assert_true(r->es01_lo > 0 && r->es01_lo <= r->es01 && r->es01_hi >= r->es01);
  /* by name, at 95%: the values and intervals of /stats */
  const char *names[] = {"insurance_min.q01", "insurance_min.q001", "insurance_min.es01", "bad_debt.mean",
                         "bad_debt.es99"};
  double want[][3] = {{r->q[4], r->q_lo[4], r->q_hi[4]},
                      {r->q[5], r->q_lo[5], r->q_hi[5]},
                      {r->es01, r->es01_lo, r->es01_hi},
                      {ms_stats_find(st, "bad_debt")->mean, ms_stats_find(st, "bad_debt")->mean_lo,
                       ms_stats_find(st, "bad_debt")->mean_hi},
                      {ms_stats_find(st, "bad_debt")->es99, ms_stats_find(st, "bad_debt")->es99_lo,
                       ms_stats_find(st, "bad_debt")->es99_hi}};
  char msg[3072];
  for (int i = 0; i < 5; i++) {
    ms_stat_value v;
    assert_int_equal(ms_stats_known(cfg, names[i], msg, sizeof msg), 0);
    assert_int_equal(ms_stats_value_of(st, cfg, &src, names[i], 0, &v, &err), MS_OK);
    assert_true(v.has_interval && v.value == want[i][0] && v.lo == want[i][1] && v.hi == want[i][2]);
  }
  assert_true(ms_stats_find(st, "bad_debt")->mean_lo > 0);
  /* at another level: recomputed from the sorted values, with the streams of /stats */
  double *xs = malloc((size_t)n * sizeof *xs);
  assert_non_null(xs);
  for (int i = 0; i < n; i++) xs[i] = rows[i].bad_debt;
  qsort(xs, (size_t)n, sizeof *xs, ref_cmp);
  for (int i = 0; i < 3; i++) {
    const char *name = i == 0 ? "bad_debt.mean" : i == 1 ? "bad_debt.es99" : "bad_debt.es01";
    ms_stat_value v;
    double lo, hi;
    assert_int_equal(ms_stats_value_of(st, cfg, &src, name, 0.9, &v, &err), MS_OK);
    const char *kind = i == 0 ? "mean" : i == 1 ? "es99" : "es01";
    uint64_t key = ms_interval_key(kind, "bad_debt");
    if (i == 0) assert_ok(ms_interval_mean(xs, n, cfg->seed, key, 0.9, &lo, &hi, &err), &err);
    else assert_ok(ms_interval_es(xs, n, i == 1, cfg->seed, key, 0.9, &lo, &hi, &err), &err);
    assert_true(v.has_interval && same_bits(v.lo, lo) && same_bits(v.hi, hi));
  }
  free(xs);
  assert_int_equal(ms_stats_known(cfg, "insurance_min.q05", msg, sizeof msg), -1);
  assert_contains(msg, "q01, q001");
  free(st);
  free(rows);
  ms_config_free(cfg);
}

/* A quantile's interval at a confidence within 1e-16 of 1, where the normal
 * quantile z is inf: the widest, [min, max], never [min, min] (the ranks,
 * ceil(c +/- inf), became INT64_MIN as integers and were clamped to 1, and
 * `bad_debt.q99 < 2000` at that confidence passed on the minimum). */
static void test_stats__quantile_interval_at_confidence_near_1(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg;
  int n = 300;
  ms_path_summary *rows = tiny_rows(n, &cfg); /* insurance_min 1000 ... 300000 */
  ms_stats *st = calloc(1, sizeof *st);
  ms_colsrc src = ms_colsrc_rows(rows, n);
  assert_int_equal(ms_stats_compute(st, cfg, &src, 1, &err), MS_OK);
  const double confs[] = {nextafter(1.0, 0.0), nextafter(nextafter(1.0, 0.0), 0.0), 0.999999};
  for (int k = 0; k < 3; k++) {
    ms_stat_value v;
    assert_int_equal(ms_stats_value_of(st, cfg, &src, "insurance_min.q99", confs[k], &v, &err), MS_OK);
    assert_true(v.has_interval);
    assert_true(v.lo <= v.value && v.value <= v.hi);
    /* 300 values cannot bound q99 from above at such a level (the largest is below it with probability
     * 0.99^300 = 0.05); from below, the exact rank: at 1 - 2^-53 P(K <= 246) is still below the tail */
    assert_true(v.hi == INFINITY);
    assert_true(v.lo >= 1000.0 && v.lo < 300000.0);
  }
  free(st);
  free(rows);
  ms_config_free(cfg);
}

/* A column of one value: its mean and shortfalls are that value exactly,
 * its sd 0 (the sum of 300 copies of 0.025 over 300 was
 * 0.024999999999999953, failing `check`'s "max_margin_ratio.mean >= 0.025"
 * on every path's 0.025). Their intervals are unbounded above (0 below, the
 * values being >= 0) at any level (check --confidence computes them again):
 * the resamples have no spread, and 300 paths of one value cannot tell a
 * column constant by construction from one whose other values are rare
 * (the engine audit's [0, 0] intervals of `insolvent` missed the truth).
 * One path: no interval. A tail of one value (a capped column) is that
 * value as its expected shortfall. */
static void test_stats__a_constant_column_is_its_value(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = NULL;
  ms_path_summary *rows = tiny_rows(300, &cfg);
  for (int i = 0; i < 300; i++) rows[i].max_margin_ratio = 0.025;
  ms_stats *st = calloc(1, sizeof *st);
  assert_non_null(st);
  for (int n = 1; n <= 300; n += 299) {
    ms_colsrc src = ms_colsrc_rows(rows, n);
    assert_int_equal(ms_stats_compute(st, cfg, &src, 1, &err), MS_OK);
    const ms_stat_row *r = ms_stats_find(st, "max_margin_ratio");
    assert_non_null(r);
    assert_true(r->mean == 0.025 && r->es99 == 0.025 && r->es01 == 0.025 && r->sd == 0);
    if (n == 1) {
      assert_true(isnan(r->mean_lo) && isnan(r->mean_hi) && isnan(r->es99_lo) && isnan(r->es01_hi));
    } else {
      assert_true(r->mean_lo == 0 && r->mean_hi == INFINITY && r->es99_lo == 0 && r->es99_hi == INFINITY &&
                  r->es01_lo == 0 && r->es01_hi == INFINITY);
    }
  }
  double x[300], lo, hi;
  for (int i = 0; i < 300; i++) x[i] = 0.025;
  assert_int_equal(ms_interval_mean(x, 300, 1, 1, 0.9, &lo, &hi, &err), MS_OK);
  assert_true(lo == 0 && hi == INFINITY);
  assert_int_equal(ms_interval_es(x, 300, 0, 1, 1, 0.9, &lo, &hi, &err), MS_OK);
  assert_true(lo == 0 && hi == INFINITY);
  for (int i = 0; i < 300; i++) x[i] = i < 290 ? i * 1e-5 : 0.025; /* sorted; the 3 largest (and more) one value */
  assert_true(ms_interval_es_value(x, 300, 1) == 0.025);
  free(st);
  free(rows);
  ms_config_free(cfg);
}

/* A flag's mean (insolvent: 0 or 1 on every path) has the exact
 * Clopper-Pearson interval, at any level: the bootstrap-t's lower end for 1
 * insolvent path in 300 was 0.000494, the exact one 0.000084; none in 300
 * gives [0, 1 - 0.025^(1/300)], not an unbounded end. */
static void test_stats__a_flag_mean_has_the_exact_interval(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = NULL;
  ms_path_summary *rows = tiny_rows(300, &cfg);
  ms_stats *st = calloc(1, sizeof *st);
  assert_non_null(st);
  for (int k = 0; k <= 1; k++) {
    if (k) rows[17].insolvent = 1;
    ms_colsrc src = ms_colsrc_rows(rows, 300);
    assert_int_equal(ms_stats_compute(st, cfg, &src, 1, &err), MS_OK);
    const ms_stat_row *r = ms_stats_find(st, "insolvent");
    assert_non_null(r);
    double lo = k ? 1 - pow(0.975, 1.0 / 300) : 0.0;
    double hi = k ? gsl_cdf_beta_Pinv(0.975, 2, 299) : 1 - pow(0.025, 1.0 / 300);
    assert_true(fabs(r->mean_lo - lo) <= 1e-12 * (1 + lo) && fabs(r->mean_hi - hi) < 1e-12);
    ms_stat_value v;
    assert_int_equal(ms_stats_value_of(st, cfg, &src, "insolvent.mean", 0.999, &v, &err), MS_OK);
    double lo9 = k ? gsl_cdf_beta_Pinv(0.0005, 1, 300) : 0.0;
    double hi9 = k ? gsl_cdf_beta_Pinv(0.9995, 2, 299) : 1 - pow(0.0005, 1.0 / 300);
    print_message("k = %d: 95%% [%.9g, %.9g], 99.9%% [%.9g, %.9g]\n", k, r->mean_lo, r->mean_hi, v.lo, v.hi);
    assert_true(v.has_interval && fabs(v.lo - lo9) <= 1e-9 * lo9 && fabs(v.hi - hi9) <= 1e-9 * hi9);
  }
  free(st);
  free(rows);
  ms_config_free(cfg);
}

/* A signal during the statistics stops them before their next column: the
 * statistics of 10^6 paths took 8-9 s, with no look at the flag. */
static void test_stats__cancel_stops_before_a_column(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = NULL;
  ms_path_summary *rows = tiny_rows(50, &cfg);
  ms_stats *st = calloc(1, sizeof *st);
  assert_non_null(st);
  volatile sig_atomic_t flag = 0;
  ms_colsrc src = ms_colsrc_rows(rows, 50);
  src.cancel = &flag;
  for (int threads = 1; threads <= 2; threads++) {
    flag = 0;
    assert_int_equal(ms_stats_compute(st, cfg, &src, threads, &err), MS_OK);
    flag = 1;
    assert_int_equal(ms_stats_compute(st, cfg, &src, threads, &err), MS_ERR_CANCELLED);
    assert_string_equal(err.msg, "interrupted");
  }
  free(st);
  free(rows);
  ms_config_free(cfg);
}

/* The quantiles' intervals keep their 95%: 1,000 samples of n uniform
 * values for n = 20, 100 and 300 and each quantile level, the share of
 * intervals holding the true quantile at least 93% (three standard errors
 * of the estimate below 95%); an end the sample cannot give is unbounded.
 * The normal ranks used before covered q99 at 100 values 57% of the time,
 * q999 at 300 values 23%, q999 at 100 values never. */
static void test_stats__quantile_intervals_cover(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = NULL;
  const int ns[] = {20, 100, 300}, reps = 1000;
  uint64_t s = 12345;
  for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
    int n = ns[t];
    ms_config_free(cfg);
    ms_path_summary *rows = tiny_rows(n, &cfg);
    int hits[MS_NQUANT] = {0}, unbounded[MS_NQUANT] = {0};
    for (int r = 0; r < reps; r++) {
      for (int i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        rows[i].insurance_min = ((double)(s >> 11) + 0.5) * 0x1.0p-53;
      }
      ms_stats *st = calloc(1, sizeof *st);
      ms_colsrc src = ms_colsrc_rows(rows, n);
      assert_int_equal(ms_stats_compute(st, cfg, &src, 1, &err), MS_OK);
      const ms_stat_row *row = ms_stats_find(st, "insurance_min");
      for (int j = 0; j < MS_NQUANT; j++) {
        double q = ms_stats_quantile_levels[j];
        hits[j] += row->q_lo[j] <= q && q <= row->q_hi[j];
        unbounded[j] += isinf(row->q_lo[j]) || isinf(row->q_hi[j]);
      }
      free(st);
    }
    for (int j = 0; j < MS_NQUANT; j++) {
      double cover = (double)hits[j] / reps;
      print_message("n %4d %-5s coverage %.3f, unbounded %d\n", n, ms_stats_quantile_names[j], cover, unbounded[j]);
      if (cover < 0.93) fail_msg("n %d %s: coverage %.3f below 95%%", n, ms_stats_quantile_names[j], cover);
    }
    free(rows);
  }
  ms_config_free(cfg);
}

/* Any thread count gives the same bytes: every column, probability and
 * feedback difference, and every paired difference (each computed whole by
 * one thread, from its own stream and its own scratch buffer). Random
 * values in every column, a third of them zero-inflated, some NaN. */
static void test_stats__threads_bit_identical(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml(tiny, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  assert_true(cfg->stats.counterfactual);
  int64_t n = 3000;
  ms_path_summary *a = calloc((size_t)n, sizeof *a), *b = calloc((size_t)n, sizeof *b);
  assert_true(a && b);
  ms_column cols[MS_MAX_COLUMNS];
  int nc = ms_stats_columns(cfg, cols, MS_MAX_COLUMNS);
  uint64_t s = 7;
  for (int64_t i = 0; i < n; i++) {
    a[i].path = b[i].path = (uint64_t)i;
    for (int c = 1; c < nc; c++)
      for (int w = 0; w < 2; w++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = ((double)(s >> 11) + 0.5) * 0x1p-53;
        double v = c % 3 == 0 ? (u < 0.1 ? -log(u) * 100 : 0) : -log(u) * 100;
        if (c % 7 == 0 && u > 0.95) v = NAN;
        char *p = (char *)(w ? &b[i] : &a[i]) + cols[c].offset;
        if (cols[c].type == MS_COL_F64) *(double *)p = v;
        else *(int64_t *)p = (int64_t)(isnan(v) ? 0 : v);
      }
  }
  ms_stats *one = calloc(1, sizeof *one), *many = calloc(1, sizeof *many);
  assert_true(one && many);
  ms_colsrc sa = ms_colsrc_rows(a, n), sb = ms_colsrc_rows(b, n);
  assert_int_equal(ms_stats_compute(one, cfg, &sa, 1, &err), MS_OK);
  assert_true(one->nrows == nc - 1 && one->nfeedback == MS_NFEEDBACK);
  enum { MAXD = MS_MAX_COLUMNS + 32 };
  ms_diff_row *d1 = calloc(MAXD, sizeof *d1), *dj = calloc(MAXD, sizeof *dj);
  assert_true(d1 && dj);
  int k1 = 0, p1 = 0;
  assert_int_equal(ms_stats_paired_all(cfg, &sa, &sb, MS_PAIR_SAME_PATH, d1, MAXD, 1, &k1, &err), MS_OK);
  ms_diff_row q1[MS_MAX_DIFFS], qj[MS_MAX_DIFFS];
  memset(q1, 0, sizeof q1);
  assert_int_equal(ms_stats_paired(cfg, &sa, &sb, MS_PAIR_SAME_PATH, q1, 1, &p1, &err), MS_OK);
  assert_true(k1 > nc - 1 && p1 > 0);
  for (int threads = 2; threads <= 4; threads++) {
    memset(many, 0xff, sizeof *many);
    assert_int_equal(ms_stats_compute(many, cfg, &sa, threads, &err), MS_OK);
    assert_memory_equal(one, many, sizeof *one);
    memset(dj, 0xff, MAXD * sizeof *dj);
    int kj = 0, pj = 0;
    assert_int_equal(ms_stats_paired_all(cfg, &sa, &sb, MS_PAIR_SAME_PATH, dj, MAXD, threads, &kj, &err), MS_OK);
    assert_int_equal(kj, k1);
    assert_memory_equal(d1, dj, (size_t)k1 * sizeof *d1);
    memset(qj, 0, sizeof qj);
    assert_int_equal(ms_stats_paired(cfg, &sa, &sb, MS_PAIR_SAME_PATH, qj, threads, &pj, &err), MS_OK);
    assert_int_equal(pj, p1);
    assert_memory_equal(q1, qj, (size_t)p1 * sizeof *q1);
  }
  free(d1);
  free(dj);
  free(one);
  free(many);
  free(a);
  free(b);
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stats__wilson_and_quantiles),
      cmocka_unit_test(test_stats__amplification_against_the_twin),
      cmocka_unit_test(test_interval__mean_against_exact_bootstrap),
      cmocka_unit_test(test_interval__nonnegative_by_construction),
      cmocka_unit_test(test_interval__a_resample_without_spread_is_unbounded),
      cmocka_unit_test(test_interval__expected_shortfall),
      cmocka_unit_test(test_interval__levels_beyond_the_resamples),
      cmocka_unit_test(test_interval__bits_of_the_reference),
      cmocka_unit_test(test_stats__new_fields_by_name),
      cmocka_unit_test(test_stats__threads_bit_identical),
      cmocka_unit_test(test_stats__quantile_interval_at_confidence_near_1),
      cmocka_unit_test(test_stats__quantile_intervals_cover),
      cmocka_unit_test(test_stats__cancel_stops_before_a_column),
      cmocka_unit_test(test_stats__a_constant_column_is_its_value),
      cmocka_unit_test(test_stats__a_flag_mean_has_the_exact_interval),
      cmocka_unit_test(test_stats__paired_differences_plain_scale),
      cmocka_unit_test(test_stats__paired_events_count_every_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
