/*
 * margin — static and tiered margin (see margin.h).
 *
 * Tiered: MM(N) = mmr_k N - cum_k in the tier k holding N, with the
 * maintenance amount cum_k = cum_{k-1} + floor_k (mmr_k - mmr_{k-1}), cum_0 = 0
 * (Binance's leverageBracket "cum", Hyperliquid's maintenance deduction),
 * which makes MM continuous across tiers. IM(N) = imr_k N.
 *
 * Thresholds. Long: f(P) = C - qE + qP - MM(qP) rises with P (slope q(1 - mmr)),
 * so the root is unique; in tier k, P = (qE - C - cum_k) / (q (1 - mmr_k)).
 * Short (s = -q): g(P) = C + sE - sP - MM(sP) falls with P; in tier k,
 * P = (C + sE + cum_k) / (s (1 + mmr_k)). The tier holding the root is the
 * last one whose floor price has f <= 0 (long) or g >= 0 (short).
 */
#include "marginsim/margin.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

struct ms_margin {
  const ms_margin_type *type;
  double initial, maintenance;       /* static ratios */
  int ntiers;
  double floor[MS_MAX_TIERS];        /* USD */
  double mmr[MS_MAX_TIERS], imr[MS_MAX_TIERS];
  double cum[MS_MAX_TIERS];          /* USD maintenance amount */
  double kappa_long, kappa_short;    /* threshold shift per unit of per-unit collateral lost */
};

static int tier_of(const ms_margin *m, double notional) {
  int k = 0;
  while (k + 1 < m->ntiers && notional >= m->floor[k + 1]) k++;
  return k;
}

/* ---- static ---- */

static double static_mm(const ms_margin *m, double n) { return m->maintenance * n; }
static double static_im(const ms_margin *m, double n) { return m->initial * n; }
static double static_threshold(const ms_margin *m, double C, double q, double E) {
  if (q > 0) {
    double t = (q * E - C) / (q * (1.0 - m->maintenance));
    return t > 0 ? t : 0.0;
  }
  double s = -q;
  return (C + s * E) / (s * (1.0 + m->maintenance));
}

const ms_margin_type ms_margin_static = {"static", MS_KEY_COLLATERAL, static_mm, static_im,
                                         static_threshold};

/* ---- tiered ---- */

static double tiered_mm(const ms_margin *m, double n) {
  int k = tier_of(m, n);
  return m->mmr[k] * n - m->cum[k];
}
static double tiered_im(const ms_margin *m, double n) { return m->imr[tier_of(m, n)] * n; }

static double tiered_threshold(const ms_margin *m, double C, double q, double E) {
  if (q > 0) {
    if (C - q * E >= 0) return 0.0; /* f(0) >= 0: never eligible at a positive price */
    int k = 0;
    for (int j = 1; j < m->ntiers; j++) {
      double p = m->floor[j] / q;
      if (C - q * E + q * p - tiered_mm(m, m->floor[j]) <= 0) k = j;
      else break;
    }
    return (q * E - C - m->cum[k]) / (q * (1.0 - m->mmr[k]));
  }
  double s = -q;
  int k = 0;
  for (int j = 1; j < m->ntiers; j++) {
    double p = m->floor[j] / s;
    if (C + s * E - s * p - tiered_mm(m, m->floor[j]) >= 0) k = j;
    else break;
  }
  return (C + s * E + m->cum[k]) / (s * (1.0 + m->mmr[k]));
}

const ms_margin_type ms_margin_tiered = {"tiered", MS_KEY_THRESHOLD, tiered_mm, tiered_im,
                                         tiered_threshold};

/* ---- instance ---- */

ms_status ms_margin_new(ms_margin **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  ms_margin *m = calloc(1, sizeof *m);
  if (!m) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  const ms_margin_cfg *mc = &cfg->margin;
  m->initial = mc->initial;
  m->maintenance = mc->maintenance;
  switch (mc->model) {
  case MS_MARGIN_STATIC:
    m->type = &ms_margin_static;
    m->ntiers = 1;
    m->mmr[0] = mc->maintenance;
    m->imr[0] = mc->initial;
    break;
  case MS_MARGIN_TIERED:
    m->type = &ms_margin_tiered;
    m->ntiers = mc->ntiers;
    for (int k = 0; k < mc->ntiers; k++) {
      m->floor[k] = mc->tiers[k].floor;
      m->mmr[k] = mc->tiers[k].maintenance;
      m->imr[k] = mc->tiers[k].initial;
      m->cum[k] = k == 0 ? 0.0 : m->cum[k - 1] + m->floor[k] * (m->mmr[k] - m->mmr[k - 1]);
    }
    break;
  default:
    free(m);
    return ms_error_set(err, MS_ERR_INTERNAL, "margin.model %d not available", mc->model);
  }
  double rmax = m->mmr[m->ntiers - 1], rmin = m->mmr[0];
  m->kappa_long = 1.0 / (1.0 - rmax);
  m->kappa_short = 1.0 / (1.0 + rmin);
  *out = m;
  return MS_OK;
}

void ms_margin_free(ms_margin *m) { free(m); }

const ms_margin_type *ms_margin_get_type(const ms_margin *m) { return m->type; }

double ms_margin_mm(const ms_margin *m, double notional) { return m->type->mm(m, notional); }
double ms_margin_im(const ms_margin *m, double notional) { return m->type->im(m, notional); }

double ms_margin_mm_amount(const ms_margin *m, double notional) {
  return m->type == &ms_margin_tiered ? m->cum[tier_of(m, notional)] : 0.0;
}

double ms_margin_threshold(const ms_margin *m, double C, double q, double E) {
  assert(q != 0);
  return m->type->threshold(m, C, q, E);
}

int ms_margin_eligible(const ms_margin *m, double C, double q, double E, double P) {
  return ms_margin_equity(C, q, E, P) < m->type->mm(m, fabs(q) * P);
}

double ms_margin_key(const ms_margin *m, double C, double q, double E, double shift) {
  if (m->type->key_mode == MS_KEY_COLLATERAL) return C / fabs(q) + shift;
  double t = m->type->threshold(m, C, q, E);
  return q > 0 ? -t + m->kappa_long * shift : t + m->kappa_short * shift;
}

double ms_margin_boundary(const ms_margin *m, int is_long, double P, double E, double shift) {
  if (m->type->key_mode == MS_KEY_COLLATERAL) {
    double r = m->maintenance;
    return is_long ? E - P * (1.0 - r) + shift : P * (1.0 + r) - E + shift;
  }
  return is_long ? -P + m->kappa_long * shift : P + m->kappa_short * shift;
}

double ms_margin_ratio(const ms_margin *m) { return m->maintenance; }
