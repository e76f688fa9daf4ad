/*
 * interval — bootstrap intervals of means and expected shortfalls (see interval.h).
 */
#include "output/interval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "core/rng.h"

uint64_t ms_interval_key(const char *kind, const char *name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char *s = kind; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  h = (h ^ (unsigned char)':') * 0x100000001b3ull;
  for (const char *s = name; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Uniform index in [0, k), from 53 bits (as ms_rng_indices). */
static int64_t draw_index(gsl_rng *r, int64_t k) {
  int64_t i = (int64_t)((double)(ms_rng_u64(r) >> 11) * 0x1.0p-53 * (double)k);
  return i < k ? i : k - 1;
}

/* The mean's resampling draws are made IDX_BATCH at a time (the generator's
 * state stays in registers: 15% off a mean interval), then used in the
 * order drawn: the same values as draw_index one at a time. (The expected
 * shortfall's scattered counts gain nothing from it.) */
#define IDX_BATCH 256

/* 1-based ranks of the lower and upper ends among B sorted replicates:
 * floor((B+1) alpha/2) and B + 1 minus it. Returns 0 when that rank is
 * below 1: B resamples cannot resolve the level (above 1 - 2/(B+1) =
 * 0.999), and the extreme replicates would give a narrower interval than
 * the level promises, so the caller's ends are unbounded instead. */
static int end_ranks(double confidence, int64_t *a, int64_t *b) {
  double alpha = 1.0 - confidence;
  int64_t k = (int64_t)floor((double)(MS_BOOT_B + 1) * alpha / 2.0 + 1e-9);
  if (k > MS_BOOT_B) k = MS_BOOT_B;
  *a = k;
  *b = MS_BOOT_B + 1 - k;
  return k >= 1;
}

/* The bootstrap-t of ms_interval_mean; on the log scale only when @p allow_log. */
static ms_status mean_interval(const double *x, int64_t n, int allow_log, uint64_t seed, uint64_t key,
                               double confidence, double *lo, double *hi, ms_error *err) {
  *lo = *hi = NAN;
  /* One value has no spread to resample: no interval (as compare.py and the
   * normal interval before), not the zero-width [x, x] of a constant sample. */
  if (n <= 1) return MS_OK;
  double m = 0;
  for (int64_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  if (x[0] == x[n - 1]) { *lo = *hi = m; return MS_OK; }
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
  double nn = (double)n, se = sqrt(ss / (nn - 1) / nn);
  int logscale = allow_log && x[0] >= 0 && m > 0;
  /* The most frequent value c (x is sorted): resampling needs only the
   * other k values. Per resample the number of draws that are not c is
   * Binomial(n, k/n) and those draws are uniform over the k values, so a
   * zero-inflated column costs B x (its nonzero values), not B x n. */
  int64_t cs = 0, cl = 0; /* start and length of the longest run */
  for (int64_t i = 0, j; i < n; i = j) {
    for (j = i; j < n && x[j] == x[i]; j++) {}
    if (j - i > cl) { cs = i; cl = j - i; }
  }
  int64_t k = n - cl;
  double dc = x[cs] - m;
  /* Cost: B x (draws that are not c). Above MS_BOOT_KMAX such values the
   * resamples are of size r < n, with about MS_BOOT_KMAX draws that are
   * not c each, and the t quantiles are brought back to size n by their
   * first Edgeworth term, which is of order r^(-1/2):
   * t(n) = z + (t(r) - z) sqrt(r/n). */
  int64_t rs = n;
  if (k > MS_BOOT_KMAX) rs = (int64_t)ceil((double)n * MS_BOOT_KMAX / (double)k);
  double rr = (double)rs;
  gsl_rng *r = NULL;
  ms_status st = ms_rng_new(&r, err);
  if (st) return st;
  ms_rng_seed(r, seed, key, MS_STREAM_STATS);
  double *t = malloc(MS_BOOT_B * sizeof *t);
  if (!t) { ms_rng_free(r); return ms_error_set(err, MS_ERR_NOMEM, "out of memory for a bootstrap"); }
  int64_t idx[IDX_BATCH];
  for (int b = 0; b < MS_BOOT_B; b++) {
    int64_t K = (int64_t)gsl_ran_binomial(r, (double)k / nn, (unsigned int)rs);
    double s1 = (double)(rs - K) * dc, s2 = (double)(rs - K) * dc * dc;
    for (int64_t j = 0; j < K; j += IDX_BATCH) {
      size_t nb = (size_t)(K - j < IDX_BATCH ? K - j : IDX_BATCH);
      ms_rng_indices(r, k, idx, nb);
      for (size_t u = 0; u < nb; u++) {
        int64_t i = idx[u];
        if (i >= cs) i += cl; /* skip the run of c */
        double d = x[i] - m;
        s1 += d;
        s2 += d * d;
      }
    }
    double mb = m + s1 / rr, v = (s2 - s1 * s1 / rr) / (rr - 1);
    double seb = v > 0 ? sqrt(v / rr) : 0;
    double diff = logscale ? log(mb) - log(m) : mb - m;
    double scale = logscale ? seb / mb : seb;
    if (seb > 0 && mb > 0) t[b] = diff / scale;
    else if (seb > 0 && !logscale) t[b] = diff / scale;
    else t[b] = diff > 0 ? INFINITY : diff < 0 ? -INFINITY : 0.0;
  }
  ms_rng_free(r);
  qsort(t, MS_BOOT_B, sizeof *t, cmp_double);
  int64_t a, bb;
  int resolved = end_ranks(confidence, &a, &bb);
  double tlo = resolved ? t[a - 1] : -INFINITY, thi = resolved ? t[bb - 1] : INFINITY;
  free(t);
  if (rs < n && resolved) {
    double f = sqrt(rr / nn), zlo = gsl_cdf_ugaussian_Pinv((double)a / (MS_BOOT_B + 1)),
           zhi = gsl_cdf_ugaussian_Pinv((double)bb / (MS_BOOT_B + 1));
    tlo = zlo + (tlo - zlo) * f;
    thi = zhi + (thi - zhi) * f;
  }
  if (logscale) {
    *lo = m * exp(-thi * se / m);
    *hi = m * exp(-tlo * se / m);
  } else {
    *lo = m - thi * se;
    *hi = m - tlo * se;
  }
  return MS_OK;
}

ms_status ms_interval_mean(const double *x, int64_t n, uint64_t seed, uint64_t key, double confidence, double *lo,
                           double *hi, ms_error *err) {
  return mean_interval(x, n, 1, seed, key, confidence, lo, hi, err);
}

ms_status ms_interval_mean_plain(const double *x, int64_t n, uint64_t seed, uint64_t key, double confidence,
                                 double *lo, double *hi, ms_error *err) {
  return mean_interval(x, n, 0, seed, key, confidence, lo, hi, err);
}

double ms_interval_es_value(const double *x, int64_t n, int upper) {
  if (n <= 0) return NAN;
  int64_t t = (int64_t)ceil(0.01 * (double)n);
  double s = 0;
  if (upper) for (int64_t i = n - t; i < n; i++) s += x[i];
  else for (int64_t i = 0; i < t; i++) s += x[i];
  return s / (double)t;
}

ms_status ms_interval_es(const double *x, int64_t n, int upper, uint64_t seed, uint64_t key, double confidence,
                         double *lo, double *hi, ms_error *err) {
  *lo = *hi = NAN;
  if (n <= 1) return MS_OK; /* one value: no interval (see ms_interval_mean) */
  if (x[0] == x[n - 1]) { *lo = *hi = x[0]; return MS_OK; }
  int64_t t = (int64_t)ceil(0.01 * (double)n);
  /* A resample's tail comes, but with a negligible probability, from the
   * sample's M most extreme values: draw how many of the n draws land
   * there (Binomial(n, M/n)), which of those values they are (a count per
   * value), and take the t most extreme. When fewer than t land there the
   * rest of the resample is drawn in full. */
  int64_t M = 4 * t + 40;
  if (M > n) M = n;
  gsl_rng *r = NULL;
  ms_status st = ms_rng_new(&r, err);
  if (st) return st;
  ms_rng_seed(r, seed, key, MS_STREAM_STATS);
  double *rep = malloc(MS_BOOT_B * sizeof *rep);
  int64_t *cnt = malloc((size_t)M * sizeof *cnt);
  if (!rep || !cnt) {
    free(rep);
    free(cnt);
    ms_rng_free(r);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for a bootstrap");
  }
  /* Value of the j-th most extreme sample value (j = 0: the most extreme). */
#define EXT(j) (upper ? x[n - 1 - (j)] : x[(j)])
  for (int b = 0; b < MS_BOOT_B; b++) {
    int64_t c = M == n ? n : (int64_t)gsl_ran_binomial(r, (double)M / (double)n, (unsigned int)n);
    memset(cnt, 0, (size_t)M * sizeof *cnt);
    for (int64_t j = 0; j < c; j++) cnt[draw_index(r, M)]++;
    double s = 0;
    int64_t need = t;
    for (int64_t j = 0; j < M && need > 0; j++) {
      int64_t take = cnt[j] < need ? cnt[j] : need;
      s += (double)take * EXT(j);
      need -= take;
    }
    if (need > 0) {
      /* The rest: the most extreme `need` of n - c draws from the other n - M values. */
      int64_t *c2 = calloc((size_t)(n - M), sizeof *c2);
      if (!c2) {
        free(rep);
        free(cnt);
        ms_rng_free(r);
        return ms_error_set(err, MS_ERR_NOMEM, "out of memory for a bootstrap");
      }
      for (int64_t j = 0; j < n - c; j++) c2[draw_index(r, n - M)]++;
      for (int64_t j = 0; j < n - M && need > 0; j++) {
        int64_t take = c2[j] < need ? c2[j] : need;
        s += (double)take * EXT(M + j);
        need -= take;
      }
      free(c2);
    }
    rep[b] = s / (double)t;
  }
#undef EXT
  ms_rng_free(r);
  free(cnt);
  qsort(rep, MS_BOOT_B, sizeof *rep, cmp_double);
  int64_t a, bb;
  int resolved = end_ranks(confidence, &a, &bb);
  *lo = resolved ? rep[a - 1] : -INFINITY;
  *hi = resolved ? rep[bb - 1] : INFINITY;
  free(rep);
  return MS_OK;
}
