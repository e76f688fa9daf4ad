/*
 * margin — the instance shared by the margin models, the perp-only closed
 * forms, the dispatch through the type tables, and the bands (see margin.h
 * and docs/engine.md). Each model's own code is in margin_<model>.c, the
 * fields and helpers they share in margin_int.h.
 *
 * Thresholds of perp-only positions (tiered, see margin_tiered.c). Long:
 * f(P) = C - qE + qP - MM(qP) rises with P (slope q(1 - mmr)), so the root
 * is unique; in tier k, P = (qE - C - cum_k) / (q (1 - mmr_k)). Short
 * (s = -q): g(P) = C + sE - sP - MM(sP) falls with P; in tier k,
 * P = (C + sE + cum_k) / (s (1 + mmr_k)). The tier holding the root is the
 * last one whose floor price has f <= 0 (long) or g >= 0 (short). Static,
 * dynamic and portfolio margin are the one-tier case with a ratio per side.
 */
#include "models/margin_int.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"

/* ---- the instance ---- */

const ms_margin_type *ms_margin_type_find(const char *name) {
  for (int i = 0; ms_margin_types[i]; i++)
    if (strcmp(ms_margin_types[i]->name, name) == 0) return ms_margin_types[i];
  return NULL;
}

ms_status ms_margin_new(ms_margin **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  const ms_margin_cfg *mc = &cfg->margin;
  if (!mc->model) return ms_error_set(err, MS_ERR_INTERNAL, "margin.model not set");
  ms_margin *m = calloc(1, sizeof *m);
  if (!m) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  m->type = mc->model;
  m->tiered = m->type->tiered;
  m->year_ms = cfg->market.days_per_year * (double)MS_MS_PER_DAY;
  for (int k = 0; k < NGRID; k++) m->ncdf[k] = ms_norm_cdf((double)(k - NGRID / 2) / NGRID_PER_UNIT);
  for (int k = 0; k <= NGRID_HALF * NGRID_PER_UNIT; k++) {
    double x = (double)k / NGRID_PER_UNIT;
    m->npdf[k] = INV_SQRT_2PI * exp(-0.5 * x * x);
  }
  m->smile = (ms_smile){cfg->market.smile.skew, cfg->market.smile.floor};
  m->initial = mc->initial;
  m->maintenance = mc->maintenance;
  m->ntiers = 1;
  for (int k = 0; k < LV_MEMO; k++) m->lv[k].is_call = -1;
  m->mmr[0] = mc->maintenance;
  m->imr[0] = mc->initial;
  ms_status s = m->type->init(m, cfg, err);
  if (s) {
    ms_margin_free(m);
    return s;
  }
  double rmax = m->mmr[m->ntiers - 1], rmin = m->mmr[0];
  m->kappa_long = 1.0 / (1.0 - rmax);
  m->kappa_short = 1.0 / (1.0 + rmin);
  *out = m;
  return MS_OK;
}

void ms_margin_free(ms_margin *m) {
  if (!m) return;
  if (m->type->free) m->type->free(m);
  free(m);
}

const ms_margin_type *ms_margin_get_type(const ms_margin *m) { return m->type; }
int64_t ms_margin_bs_count(const ms_margin *m) { return m->bs_count; }

/* ---- perp-only accounts ---- */

double ms_margin_perp_mm(const ms_margin *m, double q, double P) {
  double n = fabs(q) * P;
  if (m->tiered) return tiered_mm_n(m, n);
  return m->ratio_side[q > 0 ? 0 : 1] * n;
}

double ms_margin_perp_im(const ms_margin *m, double q, double P) {
  double n = fabs(q) * P;
  if (m->tiered) return m->imr[tier_of(m, n)] * n;
  if (m->type->scan) return m->im_side[q > 0 ? 0 : 1] * n;
  return m->initial * n;
}

double ms_margin_mm_amount(const ms_margin *m, double notional) {
  return m->tiered ? m->cum[tier_of(m, notional)] : 0.0;
}

double ms_margin_threshold(const ms_margin *m, double C, double q, double E) {
  assert(q != 0);
  if (!m->tiered) {
    if (q > 0) {
      double t = (q * E - C) / (q * (1.0 - m->ratio_side[0]));
      return t > 0 ? t : 0.0;
    }
    double s = -q;
    return (C + s * E) / (s * (1.0 + m->ratio_side[1]));
  }
  if (q > 0) {
    if (C - q * E >= 0) return 0.0; /* f(0) >= 0: never eligible at a positive price */
    int k = 0;
    for (int j = 1; j < m->ntiers; j++) {
      double p = m->floor[j] / q;
      if (C - q * E + q * p - tiered_mm_n(m, m->floor[j]) <= 0) k = j;
      else break;
    }
    return (q * E - C - m->cum[k]) / (q * (1.0 - m->mmr[k]));
  }
  double s = -q;
  int k = 0;
  for (int j = 1; j < m->ntiers; j++) {
    double p = m->floor[j] / s;
    if (C + s * E - s * p - tiered_mm_n(m, m->floor[j]) >= 0) k = j;
    else break;
  }
  return (C + s * E + m->cum[k]) / (s * (1.0 + m->mmr[k]));
}

int ms_margin_eligible(const ms_margin *m, double C, double q, double E, double P) {
  return ms_margin_equity(C, q, E, P) < ms_margin_perp_mm(m, q, P);
}

double ms_margin_key(const ms_margin *m, double C, double q, double E, double shift) {
  if (m->type->key_mode == MS_KEY_COLLATERAL) return C / fabs(q) + shift;
  double t = ms_margin_threshold(m, C, q, E);
  return q > 0 ? -t + m->kappa_long * shift : t + m->kappa_short * shift;
}

double ms_margin_boundary(const ms_margin *m, int is_long, double P, double E, double shift) {
  if (m->type->key_mode == MS_KEY_COLLATERAL)
    return is_long ? E - P * (1.0 - m->ratio_side[0]) + shift : P * (1.0 + m->ratio_side[1]) - E + shift;
  return is_long ? -P + m->kappa_long * shift : P + m->kappa_short * shift;
}

/* ---- any account ---- */

static double legs_value(ms_margin *mm, const ms_position *p, double S, int64_t t, double vol) {
  double v = 0;
  for (int i = 0; i < p->nlegs; i++) v += p->legs[i].q * ms_margin_leg_value_memo(mm, &p->legs[i], S, tau_of(mm, &p->legs[i], t), vol);
  mm->bs_count += p->nlegs;
  return v;
}

double ms_margin_leg_value(const ms_margin *m, const ms_leg *l, double S, int64_t t, double vol) {
  ((ms_margin *)m)->bs_count++;
  return ms_leg_value(l, &m->smile, S, tau_of(m, l, t), vol);
}

void ms_margin_leg_greeks(const ms_margin *m, const ms_leg *l, double S, int64_t t, double vol, ms_greeks *g) {
  ((ms_margin *)m)->bs_count++;
  ms_bs_greeks(l->is_call, S, l->strike, tau_of(m, l, t), ms_smile_vol(&m->smile, vol, l->strike, S), 0, 0, g);
}

double ms_margin_pos_equity(const ms_margin *m, const ms_position *p, double E, const ms_view *v) {
  return p->C + p->q * (v->P - E) + legs_value((ms_margin *)m, p, v->P, v->t, v->vol);
}

double ms_margin_pos_im(const ms_margin *m, const ms_position *p, double E, const ms_view *v) {
  (void)E;
  if (p->nlegs == 0) return ms_margin_perp_im(m, p->q, v->P);
  return m->type->pos_im(m, p, v);
}

double ms_margin_pos_mm(const ms_margin *m, const ms_position *p, double E, const ms_view *v) {
  (void)E;
  if (p->nlegs == 0) return ms_margin_perp_mm(m, p->q, v->P);
  return m->type->pos_mm(m, p, v);
}

double ms_margin_pos_surplus(const ms_margin *m, const ms_position *p, double E, const ms_view *v) {
  return ms_margin_pos_equity(m, p, E, v) - ms_margin_pos_mm(m, p, E, v);
}

/*
 * Bands. S = equity - maintenance (the surplus) is positive at the check
 * (P0, t0). From (P0, t0) to (P, t) in two moves, the price first (at t0),
 * then the time (at P):
 *   S(P, t) >= S0 - D (|P - P0|) - L_t (t - t0)
 * with D = D_up for P > P0 and D_dn below: bounds on how fast S can fall as
 * the price rises or falls at t0, over the price box [P0 - d, P0 + d]
 * (d = 10% of P0); L_t bounds |dS/dt| over the price box and
 * [t0, t0 + tau_min / 2] (tau_min the nearest expiry), or the time term is
 * bounded by integrating theta towards the expiry. S stays positive while
 * each term uses less than its share of S0.
 *
 * Per unit of option over S in [S_lo, S_hi], volatility in [s_lo, s_hi] and
 * time to expiry in [tau_lo, tau_hi] (r = 0):
 *   d1 = ln(S/K) / (s sqrt(tau)) + s sqrt(tau) / 2 lies in [d1_lo, d1_hi]
 *   delta in [N(d1_lo), N(d1_hi)] (call), [-N(-d1_lo), -N(-d1_hi)] (put)
 *   phi(d1) <= phi at the d1 of the range nearest 0
 *   |theta| <= S_hi phi_max s_hi / (2 sqrt(tau_lo));   vega <= S_hi sqrt(tau_hi) phi_max
 *   the smile's vega term: |vega dsigma/dS| <= vol |skew| sqrt(tau_hi) phi_max
 * The slope of the equity is an interval: the perp plus each leg's delta
 * interval times its quantity (signs kept: a covered call's slope is in
 * [0, q], not [-2q, 2q]). Portfolio margin: scenario s (move x, g = 1 + x,
 * weight w) loses L_s(P) = V(P) - V_s(P g), so
 *   L_s' = -q_perp x + sum_l q_l (delta_l(P) - g delta_l,s(P g)),
 * an interval from the two delta intervals; the requirement max(0, max_s w L_s)
 * rises by at most max(0, max_s w sup L_s') per unit of P going up and
 * max(0, max_s -w inf L_s') going down (a max rises no faster than its
 * fastest member). Scenarios that cannot be the worst (dom_short/dom_long)
 * are left out of both the requirement and its bounds. For time, the same
 * bounds per scenario at S (1 + x) with the scenario's volatility range; its
 * DTE scaling moves sigma at most at the rate vol v power (30 d)^power /
 * DTE^(power + 1).
 */
void ms_margin_band(const ms_margin *mc, const ms_position *p, double E, const ms_view *v, double surplus,
                    ms_band *b) {
  ms_margin *m = (ms_margin *)mc;
  double S0 = isnan(surplus) ? ms_margin_pos_surplus(m, p, E, v) : surplus;
  if (!(S0 > 0)) {
    *b = (ms_band){INFINITY, -INFINITY, v->t, -INFINITY, -INFINITY};
    return;
  }
  int dyn = m->type->ratio_moves;
  if (m->type->band_reserve && p->nlegs > 0) {
    double r = m->type->band_reserve(m, p, v); /* a part of the requirement bounded apart */
    if (r > 0) S0 -= r;
    if (!(S0 > 0)) { /* too close to call: revalue at once */
      *b = (ms_band){INFINITY, -INFINITY, v->t, -INFINITY, -INFINITY};
      return;
    }
  }
  /* S0 is shared between price, time, and (when they can move) the ratio and
   * the socialized-loss shift; the shares add up to less than S0. */
  int parts = 2 + dyn + (p->q != 0);
  double share = 0.98 * S0 / parts;
  double P0 = v->P, d = BAND_BOX * P0, Pmax = P0 + d, Pmin = P0 - d;
  double tau_min = INFINITY;
  for (int i = 0; i < p->nlegs; i++) {
    double tau = tau_of(m, &p->legs[i], v->t);
    if (tau < tau_min) tau_min = tau;
  }
  if (!(tau_min > 0)) { /* a leg at its expiry: revalue at once */
    *b = (ms_band){INFINITY, -INFINITY, v->t, -INFINITY, -INFINITY};
    return;
  }
  double tau_cut = 0.5 * tau_min; /* the Lipschitz box keeps half the nearest expiry's time */
  int cls = legs_sign(p);
  /* smile factor range over the box, widest price range any valuation uses */
  double xmax = 0, xmin = 0;
  if (m->type->band_moves) m->type->band_moves(m, cls, &xmin, &xmax);
  double smax = 1, smin = 1;
  for (int i = 0; i < p->nlegs; i++) {
    double K = p->legs[i].strike;
    double Ss[2] = {Pmax * (1 + xmax), Pmin * (1 + xmin)};
    for (int j = 0; j < 2; j++) {
      double f = 1 + m->smile.skew * log(K / Ss[j]);
      if (f < m->smile.floor) f = m->smile.floor;
      if (f > smax) smax = f;
      if (f < smin) smin = f;
    }
  }
  if (smin > m->smile.floor && m->smile.skew == 0) smin = 1;
  double skew = fabs(m->smile.skew);
  /* the equity: slope interval at t0, time bounds over the box */
  double shortq = 0, Elo = p->q, Ehi = p->q, Lteq = 0, A_eq = 0;
  double tau0[MS_MAX_LEGS], llo[MS_MAX_LEGS], lhi[MS_MAX_LEGS], dlo[MS_MAX_LEGS], dhi[MS_MAX_LEGS];
  double sq0[MS_MAX_LEGS], sqc[MS_MAX_LEGS]; /* sqrt(tau) at t0 and at the end of the Lipschitz box */
  for (int i = 0; i < p->nlegs; i++) {
    const ms_leg *l = &p->legs[i];
    double q = fabs(l->q);
    tau0[i] = tau_of(m, l, v->t);
    llo[i] = log(Pmin / l->strike);
    lhi[i] = log(Pmax / l->strike);
    if (l->q < 0) shortq += q;
    ms_leg_bounds lb;
    sq0[i] = sqrt(tau0[i]);
    sqc[i] = sqrt(tau0[i] - tau_cut);
    ms_band_bound_delta(m, l->is_call, llo[i], lhi[i], v->vol * smin, v->vol * smax, sq0[i], &lb);
    double sm = v->vol * skew * sq0[i] * lb.phi;
    dlo[i] = lb.dlo - sm;
    dhi[i] = lb.dhi + sm;
    ms_add_scaled(&Elo, &Ehi, l->q, dlo[i], dhi[i]);
    ms_band_bound_time(m, llo[i], lhi[i], Pmax, v->vol * smin, v->vol * smax, sqc[i], sq0[i], &lb);
    Lteq += q * lb.theta;
    /* to the expiry: phi over the whole remaining life is at most 1/sqrt(2 pi) */
    A_eq += q * v->vol * smax * Pmax * INV_SQRT_2PI;
  }
  /* how fast S can fall per unit of price rise (up) and fall (dn) */
  double Dup = Elo < 0 ? -Elo : 0, Ddn = Ehi > 0 ? Ehi : 0;
  double Lt = Lteq, A = A_eq, Bcap = 0;
  if (m->type->band_terms) {
    ms_band_ctx c = {cls, P0, Pmax, Pmin, tau_cut, smin, smax, skew, shortq, Lteq, A_eq, tau0, llo, lhi, dlo, dhi,
                     sq0, sqc, Dup, Ddn, Lt, A, Bcap};
    m->type->band_terms(m, p, v, &c);
    Dup = c.Dup;
    Ddn = c.Ddn;
    Lt = c.Lt;
    A = c.A;
    Bcap = c.Bcap;
  } else {
    double r = m->tiered ? m->mmr[m->ntiers - 1] : m->maintenance;
    Dup += r * (fabs(p->q) + shortq); /* the requirement rises with the price, never faster */
  }
  double dPu = Dup > 0 ? share / Dup : d, dPd = Ddn > 0 ? share / Ddn : d;
  if (dPu > d) dPu = d;
  if (dPd > d) dPd = d;
  /* Time, two ways; the longer wins. (a) Lipschitz over [t0, t0 + tau_min / 2]. */
  double dt = Lt > 0 ? share / Lt : tau_cut;
  if (dt > tau_cut) dt = tau_cut;
  /* (b) Integrated to the expiry: theta's bound integrates to
   * sigma S (sqrt(tau0) - sqrt(tau0 - dt)) / sqrt(2 pi); the portfolio's
   * DTE-scaled volatility moves in all by at most its range up to the floor. */
  if (A > 0 && Bcap < share) {
    double room = (share - Bcap) / A, r0 = sqrt(tau_min), dtb;
    if (room >= r0) dtb = tau_min;
    else dtb = tau_min - (r0 - room) * (r0 - room);
    if (dtb > dt) dt = dtb;
  }
  double ratio_max = INFINITY;
  if (dyn) {
    double g = (fabs(p->q) + shortq) * Pmax;
    if (g > 0) ratio_max = m->maintenance + share / g;
  }
  int64_t dt_ms = (int64_t)floor(dt * m->year_ms);
  b->p_lo = P0 - dPd;
  b->p_hi = P0 + dPu;
  b->t_until = v->t + (dt_ms > 0 ? dt_ms : 0);
  b->ratio_max = ratio_max;
  b->shift_room = p->q != 0 ? share / fabs(p->q) : INFINITY;
}

void ms_margin_path_start(ms_margin *m, double p0) {
  if (m->type->path_start) m->type->path_start(m, p0);
}

int64_t ms_margin_update_every(const ms_config *cfg) {
  return cfg->margin.model->update_every ? cfg->margin.model->update_every(cfg) : 0;
}

const char *ms_margin_update_key(const ms_config *cfg) {
  return cfg->margin.model->update_key ? cfg->margin.model->update_key : "margin.model";
}

int ms_margin_update(ms_margin *m, double P, int64_t t_obs) {
  return m->type->update ? m->type->update(m, P, t_obs) : 0;
}

double ms_margin_ratio(const ms_margin *m) { return m->tiered ? m->mmr[0] : m->ratio_side[0]; }

double ms_margin_sigma(const ms_margin *m) { return m->type->sigma ? m->type->sigma(m) : 0.0; }

/* The order of margin.model's accepted values in the docs. */
const ms_margin_type *const ms_margin_types[] = {&ms_margin_static, &ms_margin_tiered, &ms_margin_dynamic,
                                                 &ms_margin_portfolio, NULL};
