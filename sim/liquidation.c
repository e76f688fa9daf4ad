/*
 * liquidation — fills, penalty split, bad debt and the waterfall (see liquidation.h).
 */
#include "marginsim/liquidation.h"

#include <math.h>

/* Equity at po after closing x of the a units at pm (penalty paid) covers IM of the rest. */
static int restores(const ms_liquidation_cfg *cfg, const ms_margin *m, double C, double s, double a,
                    double E, double pm, double po, double x) {
  double c2 = C + s * x * (pm - E) - cfg->penalty * x * pm;
  double left = a - x;
  return c2 + s * left * (po - E) >= ms_margin_im(m, left * po);
}

static double partial_size(const ms_liquidation_cfg *cfg, const ms_margin *m, double C, double s,
                           double a, double E, double pm, double po) {
  double xmin = cfg->min_close * a;
  if (xmin >= a || restores(cfg, m, C, s, a, E, pm, po, xmin)) return xmin;
  if (!restores(cfg, m, C, s, a, E, pm, po, a * (1.0 - 1e-12))) return a;
  /* Least x that restores: bisection (the requirement may step between tiers). */
  double lo = xmin, hi = a * (1.0 - 1e-12);
  for (int i = 0; i < 80 && hi - lo > 1e-12 * a; i++) {
    double mid = 0.5 * (lo + hi);
    if (restores(cfg, m, C, s, a, E, pm, po, mid)) hi = mid; else lo = mid;
  }
  return hi;
}

void ms_liq_compute(const ms_liquidation_cfg *cfg, const ms_margin *m, double C, double q, double E,
                    double pm, double po, double fund, ms_liq_outcome *o) {
  double s = q > 0 ? 1.0 : -1.0, a = fabs(q);
  *o = (ms_liq_outcome){0};
  o->fill_price = pm;
  o->bankruptcy_price = E - s * C / a;
  double eq_full = C + s * a * (pm - E);
  double x = a;
  if (cfg->mode == MS_LIQ_PARTIAL && eq_full > 0) x = partial_size(cfg, m, C, s, a, E, pm, po);
  o->full = x >= a;
  if (o->full) x = a;
  o->close_qty = x;
  o->notional = x * pm;
  if (!o->full) {
    o->market_qty = x;
    o->realized = s * x * (pm - E);
    o->penalty = cfg->penalty * x * pm;
    o->new_collateral = C + o->realized - o->penalty;
    o->new_qty = s * (a - x);
  } else if (eq_full >= 0) {
    o->market_qty = a;
    o->realized = s * a * (pm - E);
    o->penalty = fmin(cfg->penalty * a * pm, eq_full);
    o->new_collateral = eq_full - o->penalty;
  } else {
    o->bad_debt = -eq_full;
    o->fund_paid = fmin(fund > 0 ? fund : 0.0, o->bad_debt);
    o->residual = o->bad_debt - o->fund_paid;
    double phi = cfg->shortfall == MS_SHORTFALL_ADL ? o->residual / o->bad_debt : 0.0;
    o->adl_qty = phi * a;
    o->market_qty = a - o->adl_qty;
    o->realized = s * o->market_qty * (pm - E) + s * o->adl_qty * (o->bankruptcy_price - E);
    o->new_collateral = 0.0; /* what is still missing is the fund's */
  }
  o->keeper_reward = cfg->keeper_share * o->penalty;
  o->fund_fee = o->penalty - o->keeper_reward;
}

void ms_liq_socialize(double residual, double open_qty, double profit_per_unit, double *per_unit,
                      double *uncovered) {
  double cap = open_qty > 0 && profit_per_unit > 0 ? open_qty * profit_per_unit : 0.0;
  double paid = fmin(residual, cap);
  *per_unit = open_qty > 0 ? paid / open_qty : 0.0;
  *uncovered = residual - paid;
}
