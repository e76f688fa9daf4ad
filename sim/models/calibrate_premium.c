/*
 * calibrate_premium — the exogenous funding premium fitted to a perpetual's
 * candles against its index's (see calibrate.h, ms_calib_premium).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/units.h"
#include "models/calibrate.h"

ms_status ms_calib_premium_fit(ms_calib_premium *out, const ms_series *perp, const ms_series *index, int64_t from,
                               int64_t to, ms_error *err) {
  memset(out, 0, sizeof *out);
  if (perp->resolution != index->resolution) {
    char a[40], b[40];
    ms_units_format_duration(perp->resolution, a, sizeof a);
    ms_units_format_duration(index->resolution, b, sizeof b);
    return ms_error_set(err, MS_ERR_INPUT, "%s has candles of %s and %s of %s: the premium needs the same resolution",
                        perp->name, a, index->name, b);
  }
  const int64_t res = perp->resolution;
  /* Sums over the pairs (x, y) of consecutive candles, centred on the first
   * premium seen so that the sums of squares keep their digits. */
  double c = NAN, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, s1 = 0, s2 = 0;
  int64_t i = ms_series_lower_bound(perp, from), j = ms_series_lower_bound(index, from), m = 0, n = 0;
  int64_t prev_t = INT64_MIN;
  double prev = NAN;
  out->lo = INFINITY;
  out->hi = -INFINITY;
  while (i < perp->n && j < index->n) {
    int64_t tp = perp->c[i].t, ti = index->c[j].t;
    if (tp >= to || ti >= to) break;
    if (tp < ti) { i++; continue; }
    if (ti < tp) { j++; continue; }
    double x = perp->c[i].close / index->c[j].close - 1.0;
    i++, j++;
    if (!isfinite(x)) continue;
    if (n == 0) { c = x; out->first = tp; }
    out->last = tp;
    n++;
    s1 += x - c;
    s2 += (x - c) * (x - c);
    if (x < out->lo) out->lo = x;
    if (x > out->hi) out->hi = x;
    if (prev_t == tp - res) {
      double u = prev - c, v = x - c;
      sx += u, sy += v, sxx += u * u, sxy += u * v, syy += v * v;
      m++;
    }
    prev_t = tp;
    prev = x;
  }
  out->n = n;
  out->pairs = m;
  out->resolution = res;
  if (m < MS_CALIB_MIN_RETURNS)
    return ms_error_set(err, MS_ERR_INPUT, "%s and %s: %lld pairs of consecutive candles in both files in the window; "
                        "the premium's fit needs at least %d", perp->name, index->name, (long long)m,
                        MS_CALIB_MIN_RETURNS);
  double dn = (double)n, dm = (double)m;
  out->sample_mean = c + s1 / dn;
  out->sample_sd = sqrt(fmax(0.0, (s2 - s1 * s1 / dn) / (dn - 1)));
  double xm = sx / dm, ym = sy / dm, Sxx = sxx - sx * xm, Sxy = sxy - sx * ym, Syy = syy - sy * ym;
  if (!(Sxx > 0)) return ms_error_set(err, MS_ERR_INPUT, "%s and %s: the premium is constant in the window", perp->name,
                                      index->name);
  double phi = Sxy / Sxx, a = ym - phi * xm; /* in the centred coordinates */
  double rss = fmax(0.0, Syy - phi * Sxy), s2e = rss / (dm - 2), se = sqrt(s2e);
  if (!(phi > 0 && phi < 1))
    return ms_error_set(err, MS_ERR_INPUT, "%s and %s: the premium does not revert to a mean in the window (AR(1) "
                        "coefficient %.4g, outside (0, 1)): no Ornstein-Uhlenbeck process fits it", perp->name,
                        index->name, phi);
  double v_phi = s2e / Sxx, v_a = s2e * (1.0 / dm + xm * xm / Sxx), c_aphi = -xm * s2e / Sxx;
  /* mean = c + a / (1 - phi): its gradient in (a, phi) */
  double g1 = 1.0 / (1.0 - phi), g2 = a / ((1.0 - phi) * (1.0 - phi));
  out->phi = phi;
  out->phi_se = sqrt(v_phi);
  out->mean = c + a / (1.0 - phi);
  out->mean_se = sqrt(fmax(0.0, g1 * g1 * v_a + 2 * g1 * g2 * c_aphi + g2 * g2 * v_phi));
  double q = 1.0 - phi * phi;
  out->sd = se / sqrt(q);
  /* sd(e)'s own error about sd(e) / sqrt(2 (m - 2)) (normal errors), independent of phi's */
  double se_se = se / sqrt(2.0 * (dm - 2)), dphi = se * phi / (q * sqrt(q));
  out->sd_se = sqrt(se_se * se_se / q + dphi * dphi * v_phi);
  if (!(fabs(out->mean) < 1) || !(out->sd < 1))
    return ms_error_set(err, MS_ERR_INPUT, "%s over %s: the fitted premium (mean %.4g, sd %.4g) is outside a funding "
                        "premium's range (|mean| < 1, sd < 1): are the two files the same asset?", perp->name,
                        index->name, out->mean, out->sd);
  double lp = log(phi);
  out->half_life = -(double)res * MS_LN2 / lp;
  out->half_life_se = (double)res * MS_LN2 / (phi * lp * lp) * out->phi_se;
  return MS_OK;
}

/* A duration of the half-life's output (ms): whole seconds, but whole ms
 * for a half-life under HL_MS_BELOW (candles of a few seconds), where
 * seconds would print 0s, which funding.premium.half_life refuses (> 0);
 * the half-life itself (@p least 1) at least 1 ms, its error may be 0. */
#define HL_MS_BELOW 10000.0
static int64_t hl_round(double v, double half_life, int least) {
  int64_t r = half_life < HL_MS_BELOW ? (int64_t)llround(v) : (int64_t)llround(v / 1000.0) * 1000;
  return least && r < 1 ? 1 : r;
}

/* @p v (|v| < 1) to 4 significant digits, or to all of them where 4
 * would round it to 1, which the scenario's premium.mean and sd refuse. */
static void fmt_in_range(double v, char *buf, size_t n) {
  ms_calib_fmt_sig(v, 4, buf, n);
  if (!(fabs(strtod(buf, NULL)) < 1)) ms_calib_fmt_sig(v, 17, buf, n);
}

ms_status ms_calib_premium_text(char **summary, char **yaml, const ms_calib_premium *p, const char *perp_name,
                                const char *index_name, ms_error *err) {
  ms_strbuf a = {0}, b = {0};
  char t0[40], t1[40], rs[40], hl[40], hlse[40], mean[40], sd[40];
  ms_time_format_iso(p->first, t0, sizeof t0);
  ms_time_format_iso(p->last, t1, sizeof t1);
  ms_units_format_duration(p->resolution, rs, sizeof rs);
  ms_units_format_duration(hl_round(p->half_life, p->half_life, 1), hl, sizeof hl);
  ms_units_format_duration(hl_round(p->half_life_se, p->half_life, 0), hlse, sizeof hlse);
  fmt_in_range(p->mean, mean, sizeof mean);
  fmt_in_range(p->sd, sd, sizeof sd);
  ms_sb_printf(&a, "premium of %s over %s (close / close - 1), %s candles %s to %s\n", perp_name, index_name, rs, t0,
               t1);
  ms_sb_printf(&a, "  %lld candles in both files, %lld consecutive pairs; sample mean %.4g, sd %.4g, range [%.4g, %.4g]\n",
               (long long)p->n, (long long)p->pairs, p->sample_mean, p->sample_sd, p->lo, p->hi);
  ms_sb_printf(&a, "  AR(1) = Ornstein-Uhlenbeck sampled every %s (standard errors in brackets):\n", rs);
  ms_sb_printf(&a, "    mean       %12.4g  [%.2g]\n", p->mean, p->mean_se);
  ms_sb_printf(&a, "    sd         %12.4g  [%.2g]  (stationary)\n", p->sd, p->sd_se);
  ms_sb_printf(&a, "    half-life  %12s  [%s]  (AR coefficient %.4f [%.2g])\n", hl, hlse, p->phi, p->phi_se);
  ms_sb_printf(&b, "# marginsim calibrate --model premium: %s over %s, %s to %s (%lld %s candles)\n", perp_name,
               index_name, t0, t1, (long long)p->n, rs);
  ms_sb_printf(&b, "# the premium of the last-trade closes, an approximation of the venue's premium index\n");
  ms_sb_printf(&b, "funding:\n  premium:\n    mean: %s\n    sd: %s\n    half_life: %s\n", mean, sd, hl);
  if (a.oom || b.oom || !a.p || !b.p) {
    ms_sb_free(&a);
    ms_sb_free(&b);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory formatting the calibration");
  }
  *summary = a.p;
  *yaml = b.p;
  return MS_OK;
}
