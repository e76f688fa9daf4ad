/*
 * dist — sampling from the scenario distributions (see dist.h).
 */
#include "core/dist.h"

#include <assert.h>
#include <math.h>

#include "core/rng.h"

const char *const ms_dist_kind_names[] = {"fixed", "uniform", "lognormal", "exponential", "table",
                                          NULL};

int ms_dist_prepare(ms_dist *d) {
  if (d->kind != MS_DIST_TABLE) return 0;
  double total = 0.0;
  for (int i = 0; i < d->n; i++) total += d->weights[i];
  if (!(total > 0.0)) return -1;
  /* Weights near DBL_MAX sum to inf, and acc / inf made every weight but
   * the last 0: scaled by the largest weight they sum to at most n. (Only
   * then, so that every other table keeps its draws bit for bit.) */
  double scale = 1.0;
  if (isinf(total)) {
    double mx = 0.0;
    for (int i = 0; i < d->n; i++) mx = fmax(mx, d->weights[i]);
    scale = 1.0 / mx;
    total = 0.0;
    for (int i = 0; i < d->n; i++) total += d->weights[i] * scale;
  }
  double acc = 0.0;
  for (int i = 0; i < d->n; i++) {
    acc += d->weights[i] * scale;
    d->cum[i] = acc / total;
  }
  d->cum[d->n - 1] = 1.0;
  return 0;
}

double ms_dist_sample(const ms_dist *d, gsl_rng *r) {
  switch (d->kind) {
  case MS_DIST_FIXED:
    return d->a;
  case MS_DIST_UNIFORM:
    return d->a + (d->b - d->a) * gsl_rng_uniform(r);
  case MS_DIST_LOGNORMAL:
    return d->a * exp(d->b * ms_rng_gaussian(r));
  case MS_DIST_EXPONENTIAL:
    return -d->a * log(ms_rng_uniform_pos(r));
  case MS_DIST_TABLE: {
    double u = gsl_rng_uniform(r);
    int lo = 0, hi = d->n - 1; /* first i with cum[i] > u */
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (d->cum[mid] > u) hi = mid; else lo = mid + 1;
    }
    return d->values[lo];
  }
  }
  assert(0 && "unknown distribution kind");
  return NAN;
}

double ms_dist_mean(const ms_dist *d) {
  switch (d->kind) {
  case MS_DIST_FIXED: return d->a;
  case MS_DIST_UNIFORM: return 0.5 * (d->a + d->b);
  case MS_DIST_LOGNORMAL: return d->a * exp(0.5 * d->b * d->b);
  case MS_DIST_EXPONENTIAL: return d->a;
  case MS_DIST_TABLE: {
    double m = 0.0, prev = 0.0;
    for (int i = 0; i < d->n; i++) { m += d->values[i] * (d->cum[i] - prev); prev = d->cum[i]; }
    return m;
  }
  }
  return NAN;
}

void ms_dist_support(const ms_dist *d, double *lo, double *hi) {
  *lo = *hi = NAN;
  switch (d->kind) {
  case MS_DIST_FIXED: *lo = *hi = d->a; return;
  case MS_DIST_UNIFORM: *lo = d->a; *hi = d->b; return;
  case MS_DIST_LOGNORMAL:
    if (d->b == 0.0) { *lo = *hi = d->a; return; }
    *lo = 0.0; *hi = INFINITY; return;
  case MS_DIST_EXPONENTIAL: *lo = 0.0; *hi = d->a == 0.0 ? 0.0 : INFINITY; return;
  case MS_DIST_TABLE:
    *lo = INFINITY; *hi = -INFINITY;
    for (int i = 0; i < d->n; i++) {
      if (d->weights[i] <= 0.0) continue;
      if (d->values[i] < *lo) *lo = d->values[i];
      if (d->values[i] > *hi) *hi = d->values[i];
    }
    return;
  }
}

void ms_dist_draw_range(const ms_dist *d, double *lo, double *hi) {
  switch (d->kind) {
  case MS_DIST_LOGNORMAL: {
    double z = ms_rng_gaussian_max();
    if (d->b == 0.0) { *lo = *hi = d->a; return; }
    *lo = d->a * exp(-d->b * z);
    *hi = d->a * exp(d->b * z);
    return;
  }
  case MS_DIST_EXPONENTIAL:
    *lo = 0.0;
    *hi = d->a * ms_rng_neglog_max();
    return;
  case MS_DIST_UNIFORM:
    /* a + (b - a) u: the width itself must be finite */
    *lo = d->a;
    *hi = isfinite(d->b - d->a) ? d->b : INFINITY;
    return;
  default:
    ms_dist_support(d, lo, hi);
    return;
  }
}

int ms_dist_is_fixed(const ms_dist *d) {
  double lo, hi;
  ms_dist_support(d, &lo, &hi);
  return lo == hi;
}
