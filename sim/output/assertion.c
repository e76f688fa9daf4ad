/*
 * assertion — evaluation of the scenario's assertions (see assertion.h).
 */
#include "output/assertion.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ms_status ms_assertions_check(const ms_config *cfg, ms_error *err) {
  for (int i = 0; i < cfg->nassertions; i++) {
    const ms_assertion_cfg *a = &cfg->assertions[i];
    char msg[3072];
    if (ms_stats_known(cfg, a->statistic, msg, sizeof msg))
      return ms_error_set(err, MS_ERR_INPUT, "%s: assertions[%d]: %s", a->where, i, msg);
    const char *field = strrchr(a->statistic, '.') + 1;
    int has_interval = strcmp(field, "mean") == 0 || strcmp(field, "probability") == 0 || field[0] == 'q' ||
                       strcmp(field, "es99") == 0 || strcmp(field, "es01") == 0;
    if (a->confidence > 0 && !has_interval)
      return ms_error_set(err, MS_ERR_INPUT,
                          "%s: assertions[%d].confidence: %s has no interval; confidence applies to means, "
                          "probabilities, quantiles (q50, q90, q99, q999, q01, q001) and expected shortfalls "
                          "(es99, es01)", a->where, i, a->statistic);
  }
  return MS_OK;
}

static int compare(double x, int op, double t) {
  switch (op) {
  case MS_OP_LT: return x < t;
  case MS_OP_LE: return x <= t;
  case MS_OP_GT: return x > t;
  case MS_OP_GE: return x >= t;
  case MS_OP_EQ: return x == t;
  case MS_OP_NE: return x != t;
  }
  return 0;
}

ms_status ms_assertions_eval(const ms_config *cfg, const ms_stats *st, const ms_colsrc *src, ms_assert_result *out,
                             ms_error *err) {
  for (int i = 0; i < cfg->nassertions; i++) {
    const ms_assertion_cfg *a = &cfg->assertions[i];
    ms_assert_result *r = &out[i];
    memset(r, 0, sizeof *r);
    r->a = a;
    ms_status s = ms_stats_value_of(st, cfg, src, a->statistic, a->confidence, &r->v, err);
    if (s) return s;
    /* A statistic with no finite value (a mean over no liquidations) fails. */
    r->point_passes = !isnan(r->v.value) && compare(r->v.value, a->op, a->threshold);
    if (a->confidence <= 0) {
      r->passed = r->point_passes;
      continue;
    }
    double lo = r->v.lo, hi = r->v.hi, t = a->threshold;
    if (isnan(lo) || isnan(hi)) { r->passed = 0; continue; }
    switch (a->op) {
    case MS_OP_LT: r->passed = hi < t; break;
    case MS_OP_LE: r->passed = hi <= t; break;
    case MS_OP_GT: r->passed = lo > t; break;
    case MS_OP_GE: r->passed = lo >= t; break;
    /* an unbounded interval holds every value: it does not show one equal (a statistic of one value on every
     * path has [0, inf], which held "max_margin_ratio.mean == 0.07") */
    case MS_OP_EQ: r->passed = isfinite(lo) && isfinite(hi) && lo <= t && t <= hi; break;
    case MS_OP_NE: r->passed = t < lo || t > hi; break;
    }
  }
  return MS_OK;
}

void ms_assertion_describe(const ms_assert_result *r, char *buf, size_t len) {
  const ms_assertion_cfg *a = r->a;
  int k = snprintf(buf, len, "%s = %.6g", a->statistic, r->v.value);
  if (k < 0 || (size_t)k >= len) return;
  if (!r->v.has_interval) return;
  int m = snprintf(buf + k, len - (size_t)k, " [%.6g, %.6g] (%g%% interval%s)", r->v.lo, r->v.hi,
                   100.0 * (a->confidence > 0 ? a->confidence : 0.95), a->confidence > 0 ? ", decides" : "");
  if (m < 0 || (size_t)(k + m) >= len || a->confidence <= 0 || r->passed || !r->point_passes) return;
  k += m;
  /* The deciding end unbounded (a statistic of one value on every path: [0, inf] or [-inf, inf]; a quantile
   * or a tail beyond what these paths resolve) where the estimate passes: say so rather than only "not yet". */
  const double lo = r->v.lo, hi = r->v.hi, t = a->threshold;
  int none = isinf(hi) && (isinf(lo) || lo == 0);
  /* only where the finite end is on the passing side: else these paths already decide it, against */
  int side = a->op == MS_OP_LT ? isinf(hi) && lo < t
             : a->op == MS_OP_LE ? isinf(hi) && lo <= t
             : a->op == MS_OP_GT ? (isinf(lo) || none) && hi > t
             : a->op == MS_OP_GE ? (isinf(lo) || none) && hi >= t
             : (isinf(lo) || isinf(hi) || none) && !(t < lo || t > hi); /* == and != */
  if (side)
    snprintf(buf + k, len - (size_t)k, "; unbounded on the deciding side: these paths cannot decide it at this "
             "confidence (more paths, or none for a statistic of one value on every path)");
}
