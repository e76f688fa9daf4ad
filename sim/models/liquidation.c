/*
 * liquidation — fills, penalty split and bad debt (see liquidation.h).
 */
#include "models/liquidation.h"

#include <math.h>

/* Equity at po after closing x of the a units at pm (penalty paid) covers IM of the rest. */
static int restores(const ms_liquidation_cfg *cfg, const ms_margin *m, double C, double s, double a,
                    double E, double pm, double po, double x) {
  double c2 = C + s * x * (pm - E) - cfg->penalty * x * pm;
  double left = a - x;
  return c2 + s * left * (po - E) >= ms_margin_perp_im(m, left, po);
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
                    double pm, double po, ms_liq_outcome *o) {
  double s = q > 0 ? 1.0 : -1.0, a = fabs(q);
  double eq_full = C + s * a * (pm - E);
  double x = a;
  if (cfg->mode == MS_LIQ_PARTIAL && eq_full > 0) x = partial_size(cfg, m, C, s, a, E, pm, po);
  int full = x >= a;
  if (full) x = a;
  /* Every field written once, none zeroed first: a zeroing of the whole
   * outcome became rep stosq, whose start-up cost more than the fill. */
  double market_qty, realized, penalty = 0.0, new_collateral, new_qty = 0.0, bad_debt = 0.0;
  if (!full) {
    market_qty = x;
    realized = s * x * (pm - E);
    penalty = cfg->penalty * x * pm;
    new_collateral = C + realized - penalty;
    new_qty = s * (a - x);
  } else if (eq_full >= 0) {
    market_qty = a;
    realized = s * a * (pm - E);
    /* fmin without the call: eq_full is not NaN here, so x < y ? x : y is
     * glibc's fmin(x, y) bit for bit (y for equal values, -0 and +0
     * included; y when x is NaN). C leaves the sign of fmin(+0, -0) open and
     * GCC may swap fmin's operands, so a compiled fmin call could give the
     * other zero: only a collateral of exactly -0 meets that case. */
    double p = cfg->penalty * a * pm;
    penalty = p < eq_full ? p : eq_full;
    new_collateral = eq_full - penalty;
  } else {
    /* all to the market until the waterfall (engine/shortfall.c) sends part of it to ADL */
    bad_debt = -eq_full;
    market_qty = a;
    realized = s * a * (pm - E);
    new_collateral = 0.0; /* what is still missing is the fund's */
  }
  o->full = full;
  o->close_qty = x;
  o->market_qty = market_qty;
  o->adl_qty = 0.0;
  o->fill_price = pm;
  o->bankruptcy_price = E - s * C / a;
  o->notional = x * pm;
  o->realized = realized;
  o->penalty = penalty;
  o->keeper_reward = cfg->keeper_share * penalty;
  o->fund_fee = penalty - o->keeper_reward;
  o->bad_debt = bad_debt;
  o->fund_paid = 0.0;
  o->residual = 0.0;
  o->new_collateral = new_collateral;
  o->new_qty = new_qty;
}

/* ---- accounts with options ---- */

/* Cash from closing leg l at the fill: sold at V (1 - spread) when long,
 * bought back at V (1 + spread) when short. */
static double leg_close(const ms_liquidation_cfg *cfg, const ms_leg *l, double V) {
  return l->q * V * (1.0 - cfg->option_spread * (l->q > 0 ? 1.0 : -1.0));
}

void ms_liq_compute_pos(const ms_liquidation_cfg *cfg, const ms_margin *m, const ms_position *p, double E,
                        const ms_view *fill, const ms_view *orc, int options_move,
                        ms_liq_pos_outcome *o) {
  *o = (ms_liq_pos_outcome){0};
  double pm = fill->P;
  /* closing values at the fill, and the standalone risk of every leg (perp = leg -1) */
  double V[MS_MAX_LEGS], risk[MS_MAX_LEGS + 1];
  int order[MS_MAX_LEGS + 1], n = 0;
  for (int l = 0; l < p->nlegs; l++) {
    ms_position one = {0, 0, 1, {p->legs[l]}};
    V[l] = ms_margin_leg_value(m, &p->legs[l], pm, fill->t, fill->vol);
    risk[n] = ms_margin_pos_im(m, &one, E, orc);
    order[n++] = l;
  }
  if (p->q != 0) {
    risk[n] = ms_margin_perp_im(m, p->q, orc->P);
    order[n++] = -1;
  }
  for (int i = 1; i < n; i++) /* riskiest first; ties: the perp, then leg order */
    for (int j = i; j > 0 && (risk[j] > risk[j - 1] || (risk[j] == risk[j - 1] && order[j] < order[j - 1])); j--) {
      double tr = risk[j]; risk[j] = risk[j - 1]; risk[j - 1] = tr;
      int to = order[j]; order[j] = order[j - 1]; order[j - 1] = to;
    }
  double cash = p->C, q = p->q, pen = 0;
  ms_position rest = *p;
  int k = 0;
  for (; k < n; k++) {
    int l = order[k];
    if (l < 0) {
      cash += q * (pm - E);
      o->cash_in += q * (pm - E);
      o->realized += q * (pm - E);
      o->perp_closed = fabs(q);
      o->notional += fabs(q) * pm;
      o->flow -= q * pm; /* a long perp closes by selling */
      pen += cfg->penalty * fabs(q) * pm;
      q = 0;
      rest.q = 0;
    } else {
      const ms_leg *lg = &p->legs[l];
      double c = leg_close(cfg, lg, V[l]);
      cash += c;
      o->cash_in += c;
      o->realized += c - lg->q * lg->v0;
      o->legs_closed |= 1 << l;
      o->opt_closed += fabs(lg->q);
      o->notional += fabs(lg->q) * pm;
      o->opt_notional += fabs(lg->q) * pm;
      pen += cfg->penalty * fabs(lg->q) * pm;
      if (options_move) {
        ms_greeks g;
        ms_margin_leg_greeks(m, lg, pm, fill->t, fill->vol, &g);
        o->flow -= lg->q * g.delta * pm; /* closing removes the leg's delta */
      }
    }
    if (cfg->mode != MS_LIQ_PARTIAL || k == n - 1) continue;
    /* what is left, valued at the oracle, after the penalty so far */
    rest.nlegs = 0;
    for (int i = 0; i < p->nlegs; i++)
      if (!(o->legs_closed & (1 << i))) rest.legs[rest.nlegs++] = p->legs[i];
    rest.C = cash - pen;
    rest.q = q;
    if (ms_margin_pos_equity(m, &rest, E, orc) >= ms_margin_pos_im(m, &rest, E, orc)) {
      k++;
      break;
    }
  }
  o->full = k >= n;
  o->new_q = q;
  if (!o->full) {
    o->penalty = pen;
    o->new_cash = cash - pen;
  } else if (cash >= 0) {
    o->penalty = fmin(pen, cash);
    o->new_cash = cash - o->penalty;
  } else {
    o->bad_debt = -cash; /* the waterfall's (engine/shortfall.c) */
    o->new_cash = 0.0;
  }
  o->keeper_reward = cfg->keeper_share * o->penalty;
  o->fund_fee = o->penalty - o->keeper_reward;
}
