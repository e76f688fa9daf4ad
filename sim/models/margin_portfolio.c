/*
 * margin_portfolio — portfolio margin: the worst weighted loss over a grid
 * of price x volatility shocks (margin.h).
 *
 * Portfolio grid ("deribit"): core shocks x_i from -range to +range in
 * price_steps even steps, each with volatility up, unchanged (vol_same) and
 * down (vol x (1 +/- v (30 d / max(DTE, dte_floor))^power)), weight 1 (the
 * two outermost at vol up only with edge_vol_up_only); then the extended
 * shocks at vol up with their weights. A vol-up scenario's volatility is at
 * least min_vol_up. "span": moves of 0, +/-1/3, +/-2/3, +/-1 scan range with
 * vol x (1 +/- vol_range), weight 1, and +/-extreme_multiple scan ranges at
 * unchanged vol, weight extreme_weight.
 *
 * Portfolio requirement: scan = max(0, max_s w_s loss_s); core = scan + F
 * ("deribit") or max(scan, F) ("span": SPAN's short option minimum), F =
 * short_option_floor x short options x P; core = max(core, minimum delta
 * requirement); initial = im_factor x core + contingencies, maintenance =
 * mm_factor x core + contingencies (docs/engine.md, "Portfolio margin").
 */
#include "models/margin_int.h"

#include <stdlib.h>

#include "core/units.h"

/* core shocks x up to 3 volatility states + extended rows (SPAN needs 16) */
#define MAX_SCEN (3 * MS_MAX_PRICE_STEPS + MS_MAX_EXTENDED)

typedef struct {
  double x;          /* relative price move */
  int vsign;         /* -1 vol down, 0 unchanged, +1 up */
  double w;          /* weight */
  double lg;         /* ln(1 + x) */
  /* Black–Scholes values rise with volatility, so when every option leg of
   * an account has the same sign, the scenario at the same price move with
   * the higher (short legs) or lower (long legs) volatility and at least the
   * weight loses at least as much: this one cannot be the worst. */
  int dom_short, dom_long;
} scenario;

/* Scenarios of one price move in a band (portfolio_band_terms). */
typedef struct {
  double x, lg, w;   /* the move, ln(1 + x), the largest weight of the scenarios that may be the worst */
  int shocked;       /* one of them has its volatility shocked */
  int mask;          /* bit vsign + 1 set for each volatility state among them */
} pm_group;

/* The model's own fields (m->state). */
typedef struct {
  int nscen;
  scenario scen[MAX_SCEN];
  int span;                          /* grid kind */
  double vol_up, vol_down, vol_range;
  double p_short, p_long;            /* vega powers */
  double dte_switch, dte_floor;      /* years */
  double opt_floor, mm_factor, im_factor;
  double min_vol_up;                 /* annualised, vol-up scenarios */
  double md_net, md_hedged;          /* minimum delta requirement rates */
  double perp_im, perp_mm, opt_im, opt_mm, fee; /* contingencies and fee provision, fractions of notional */
  double m_eff[2];                   /* core ratio of perp longs, shorts */
  double xmax;                       /* the largest |x| of the grid */
  double month;                      /* 30 days, years */
  double pw_max;                     /* the larger vega power */
  double pow_floor;                  /* (30 d / dte_floor)^pw_max */
  /* The bands' scenario groups (scenarios of one price move) per class of
   * position (legs_sign + 1), without the groups whose every scenario is
   * dominated; what each keeps depends on the class only. */
  pm_group grp[3][MAX_SCEN];
  int ngrp[3];
  double wtop[3];                    /* the largest weight of the groups */
  double xlo[3], xhi[3];             /* per class: the least and largest move that may be the worst (+/-inf: none) */
  double pow_at_floor[2];            /* (30 d / dte_floor)^power, short and long powers */
  int prune;                         /* skip scenarios that cannot be the worst (pm_prune); tests turn it off */
} pm_state;

/* Volatility factor of a scenario of sign @p vsign: 1 +/- v x scale (deribit), 1 +/- vol_range (span). */
static inline double vol_factor_v(const pm_state *ps, int vsign, double scale) {
  if (vsign == 0) return 1.0;
  if (ps->span) return 1.0 + vsign * ps->vol_range;
  double f = 1.0 + (vsign > 0 ? ps->vol_up : -ps->vol_down) * scale;
  return f > 0.01 ? f : 0.01;
}

static inline double vol_factor(const pm_state *ps, const scenario *s, double scale) {
  return vol_factor_v(ps, s->vsign, scale);
}

static inline int dominated(const scenario *sc, int cls) {
  return (cls < 0 && sc->dom_short) || (cls > 0 && sc->dom_long);
}

/*
 * pm_prune. The requirement is the largest scenario loss, so a scenario
 * whose loss is certainly at most the largest found so far need not be
 * valued: the maximum, and so every bit of the requirement, is the same
 * (a maximum does not depend on the order, and a loss that does not exceed
 * it never replaces it). A loss is bounded from above without erfc, twice:
 *  - the time value: with r = 0 a call's or put's value minus its intrinsic
 *    value is largest at S = K, K (2 N(s sqrt(tau) / 2) - 1) <=
 *    K s sqrt(tau) / sqrt(2 pi); so the value is in [intrinsic, intrinsic +
 *    that] (portfolio_core, pass 1, for every scenario);
 *  - N on the grid (bs_bounds, only for a scenario the first bound does not
 *    rule out): the d1 and d2 that ms_bs_value_lm computes (the same
 *    operations), N of each between the grid points around it (m->ncdf,
 *    computed by the same ms_norm_cdf, which rises with x), carried through
 *    the same formula (out-of-the-money side, parity, the clamps at 0, all
 *    monotone). The grid's step (1/64) leaves it about 0.6% of S + K wide.
 * Rounding separates a computed value from the exact one by a few ulps of
 * the terms (at most |q| (S + K) per leg, |q| S for the perp, |base|); each
 * bound adds PRUNE_MARGIN of their sum, many orders of magnitude more.
 */
#define PRUNE_MARGIN 1e-9

/* Grid points around x: lo <= N(x) <= hi, up to the rounding of x's place
 * on the grid (an ulp of x: far below PRUNE_MARGIN). */
static inline void ncdf_range(const ms_margin *m, double x, double *lo, double *hi) {
  double u = (x + NGRID_HALF) * NGRID_PER_UNIT;
  if (!(u > 0)) {
    *lo = 0;
    *hi = m->ncdf[0];
    return;
  }
  if (u >= NGRID - 1) {
    *lo = m->ncdf[NGRID - 1];
    *hi = 1;
    return;
  }
  int k = (int)u;
  *lo = m->ncdf[k];
  *hi = m->ncdf[k + 1];
}

/* [lo, hi] holding ms_bs_value_lm(is_call, S, K, lnSK, tau, sigma) up to
 * rounding; @p sqt = sqrt(tau). N(-d) = 1 - N(d). */
static inline void bs_bounds(const ms_margin *m, int is_call, double S, double K, double lnSK, double tau, double sqt,
                             double sigma, double *lo, double *hi) {
  /* ms_bs_value_lm's degenerate case is intrinsic value: no erfc to save */
  if (!(tau > 0) || !(sigma > 0) || sigma * sigma * tau < 1e-300) {
    *lo = *hi = ms_bs_value_lm(is_call, S, K, lnSK, tau, sigma);
    return;
  }
  double sv = sigma * sqt;
  double d1 = lnSK / sv + 0.5 * sv, d2 = d1 - sv;
  double lo1, hi1, lo2, hi2;
  ncdf_range(m, d1, &lo1, &hi1);
  ncdf_range(m, d2, &lo2, &hi2);
  int call_otm = lnSK < 0;
  double olo, ohi;
  if (call_otm) {
    olo = S * lo1 - K * hi2;
    ohi = S * hi1 - K * lo2;
  } else {
    olo = K * (1 - hi2) - S * (1 - lo1);
    ohi = K * (1 - lo2) - S * (1 - hi1);
  }
  if (olo < 0) olo = 0;
  if (ohi < 0) ohi = 0;
  if (is_call == call_otm) {
    *lo = olo;
    *hi = ohi;
    return;
  }
  double par = is_call ? S - K : K - S; /* v = otm + (S - K) (call), otm - (S - K) (put) */
  *lo = olo + par > 0 ? olo + par : 0;
  *hi = ohi + par > 0 ? ohi + par : 0;
}

void ms_portfolio_set_prune(ms_margin *m, int on) {
  if (m->type == &ms_margin_portfolio) ((pm_state *)m->state)->prune = on;
}


static void build_grid(ms_margin *m, pm_state *ps, const ms_portfolio_cfg *pc) {
  int n = 0;
  if (pc->grid == MS_GRID_SPAN) {
    ps->span = 1;
    static const double third[] = {0, 1.0 / 3, -1.0 / 3, 2.0 / 3, -2.0 / 3, 1, -1};
    for (int i = 0; i < 7; i++)
      for (int v = 1; v >= -1; v -= 2)
        ps->scen[n++] = (scenario){third[i] * pc->span.scan_range, v, 1.0, 0, 0, 0};
    ps->scen[n++] = (scenario){pc->span.extreme_multiple * pc->span.scan_range, 0, pc->span.extreme_weight, 0, 0, 0};
    ps->scen[n++] = (scenario){-pc->span.extreme_multiple * pc->span.scan_range, 0, pc->span.extreme_weight, 0, 0, 0};
  } else {
    for (int64_t i = 0; i < pc->price_steps; i++) {
      double x = -pc->price_range + 2.0 * pc->price_range * (double)i / (double)(pc->price_steps - 1);
      int edge = i == 0 || i == pc->price_steps - 1;
      for (int v = 1; v >= -1; v--) {
        if (v == 0 && !pc->vol_same) continue;
        if (v != 1 && edge && pc->edge_vol_up_only) continue;
        ps->scen[n++] = (scenario){x, v, 1.0, 0, 0, 0};
      }
    }
    for (int i = 0; i < pc->nextended; i++)
      ps->scen[n++] = (scenario){pc->extended[i].shock, 1, pc->extended[i].weight, 0, 0, 0};
  }
  ps->nscen = n;
  ps->xmax = 0;
  ps->prune = 1;
  for (int i = 0; i < n; i++) {
    scenario *a = &ps->scen[i];
    if (fabs(a->x) > ps->xmax) ps->xmax = fabs(a->x);
    a->lg = log1p(a->x);
    for (int j = 0; j < n; j++) {
      const scenario *b = &ps->scen[j];
      if (b->x != a->x || b->w < a->w) continue;
      if (b->vsign > a->vsign) a->dom_short = 1;
      if (b->vsign < a->vsign) a->dom_long = 1;
    }
  }
  /* A perp loses q P x in scenario x: the core ratio of each side is the
   * largest weighted adverse move, and at least the minimum delta rate of
   * its net delta (a perp alone hedges nothing). */
  ps->m_eff[0] = ps->m_eff[1] = pc->min_delta_net;
  for (int i = 0; i < n; i++) {
    double w = ps->scen[i].w, x = ps->scen[i].x;
    if (-x * w > ps->m_eff[0]) ps->m_eff[0] = -x * w;
    if (x * w > ps->m_eff[1]) ps->m_eff[1] = x * w;
  }
  for (int s = 0; s < 2; s++) {
    m->im_side[s] = pc->im_factor * ps->m_eff[s] + pc->perp_contingency_im + pc->fee_provision;
    m->ratio_side[s] = pc->mm_factor * ps->m_eff[s] + pc->perp_contingency_mm + pc->fee_provision;
  }
}

static ms_status portfolio_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  pm_state *ps = calloc(1, sizeof *ps);
  if (!ps) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  m->state = ps;
  const ms_portfolio_cfg *pc = &cfg->margin.portfolio;
  build_grid(m, ps, pc);
  ps->vol_up = pc->vol_up;
  ps->vol_down = pc->vol_down;
  ps->vol_range = pc->span.vol_range;
  ps->p_short = pc->vega_power_short;
  ps->p_long = pc->vega_power_long;
  ps->dte_switch = (double)pc->vega_power_switch / m->year_ms;
  ps->dte_floor = (double)pc->dte_floor / m->year_ms;
  ps->opt_floor = pc->short_option_floor;
  ps->mm_factor = pc->mm_factor;
  ps->im_factor = pc->im_factor;
  ps->min_vol_up = pc->min_vol_up;
  ps->md_net = pc->min_delta_net;
  ps->md_hedged = pc->min_delta_hedged;
  ps->perp_im = pc->perp_contingency_im;
  ps->perp_mm = pc->perp_contingency_mm;
  ps->opt_im = pc->option_contingency_im;
  ps->opt_mm = pc->option_contingency_mm;
  ps->fee = pc->fee_provision;
  ps->month = 30.0 * (double)MS_MS_PER_DAY / m->year_ms;
  ps->pw_max = ps->p_short > ps->p_long ? ps->p_short : ps->p_long;
  ps->pow_floor = pow(ps->month / ps->dte_floor, ps->pw_max);
  ps->pow_at_floor[0] = pow(ps->month / ps->dte_floor, ps->p_short);
  ps->pow_at_floor[1] = pow(ps->month / ps->dte_floor, ps->p_long);
  for (int cls = -1; cls <= 1; cls++) {
    int n = 0;
    double wtop = 0;
    for (int s0 = 0, s1; s0 < ps->nscen; s0 = s1) {
      pm_group g = {ps->scen[s0].x, ps->scen[s0].lg, 0, 0, 0};
      for (s1 = s0; s1 < ps->nscen && ps->scen[s1].x == g.x; s1++) {
        if (dominated(&ps->scen[s1], cls)) continue;
        if (ps->scen[s1].w > g.w) g.w = ps->scen[s1].w;
        g.shocked |= ps->scen[s1].vsign != 0;
        g.mask |= 1 << (ps->scen[s1].vsign + 1);
      }
      if (!g.mask) continue;
      if (g.w > wtop) wtop = g.w;
      ps->grp[cls + 1][n++] = g;
    }
    ps->ngrp[cls + 1] = n;
    ps->wtop[cls + 1] = wtop;
    double xlo = INFINITY, xhi = -INFINITY;
    for (int s = 0; s < ps->nscen; s++) {
      if (dominated(&ps->scen[s], cls)) continue;
      if (ps->scen[s].x > xhi) xhi = ps->scen[s].x;
      if (ps->scen[s].x < xlo) xlo = ps->scen[s].x;
    }
    ps->xlo[cls + 1] = xlo;
    ps->xhi[cls + 1] = xhi;
  }
  m->initial = m->im_side[0];
  m->maintenance = m->ratio_side[0];
  return MS_OK;
}

static void portfolio_free(ms_margin *m) { free(m->state); }

/* DTE scaling (30 d / max(DTE, dte_floor))^power of a leg's volatility shocks. */
static double dte_scale(const ms_margin *m, double tau) {
  const pm_state *ps = m->state;
  double dte = tau > ps->dte_floor ? tau : ps->dte_floor;
  int lng = !(dte < ps->dte_switch);
  if (!(tau > ps->dte_floor)) return ps->pow_at_floor[lng]; /* the same pow, at init */
  return pow(ps->month / dte, lng ? ps->p_long : ps->p_short);
}

/* Naked short options (Derive's option contingency, margin-parameters.md
 * 5.2): per expiry and strike, the short quantity net of the long options
 * there, calls and puts alike as in derivexyz/v2-core PMRMLib_2_1. */
static double naked_shorts(const ms_position *p) {
  double naked = 0;
  int seen[MS_MAX_LEGS] = {0};
  for (int i = 0; i < p->nlegs; i++) {
    if (seen[i]) continue;
    double net = p->legs[i].q;
    for (int j = i + 1; j < p->nlegs; j++)
      if (!seen[j] && p->legs[j].expiry == p->legs[i].expiry && p->legs[j].strike == p->legs[i].strike) {
        net += p->legs[j].q;
        seen[j] = 1;
      }
    if (net < 0) naked -= net;
  }
  return naked;
}

/* Paradex's minimum delta requirement (margin-parameters.md 5.1):
 * (net rate x |net delta| + hedged rate x hedged delta) x P, hedged delta =
 * (gross delta - |net delta|) / 2, gross delta = the sum of every
 * position's |delta| (the perp's is its quantity; an option's is its
 * Black–Scholes delta at its smile volatility, times its quantity). */
static double min_delta(ms_margin *m, const ms_position *p, const double *tau, const ms_view *v) {
  const pm_state *ps = m->state;
  double P = v->P, net = p->q, gross = fabs(p->q);
  for (int i = 0; i < p->nlegs; i++) {
    const ms_leg *l = &p->legs[i];
    ms_greeks g;
    ms_bs_greeks(l->is_call, P, l->strike, tau[i], ms_smile_vol(&m->smile, v->vol, l->strike, P), 0, 0, &g);
    net += l->q * g.delta;
    gross += fabs(l->q * g.delta);
  }
  m->bs_count += p->nlegs;
  return (ps->md_net * fabs(net) + ps->md_hedged * 0.5 * (gross - fabs(net))) * P;
}

/* Contingencies and the fee provision (USD) of the initial (@p initial) or
 * maintenance requirement; they do not scale with im_factor / mm_factor. */
static double portfolio_extra(const ms_margin *m, const ms_position *p, double P, int initial) {
  const pm_state *ps = m->state;
  double units = fabs(p->q);
  for (int i = 0; i < p->nlegs; i++) units += fabs(p->legs[i].q);
  double perp = initial ? ps->perp_im : ps->perp_mm, opt = initial ? ps->opt_im : ps->opt_mm;
  double naked = opt > 0 ? naked_shorts(p) : 0;
  return (perp * fabs(p->q) + opt * naked + ps->fee * units) * P;
}

/* The core requirement: the scan risk with the short option floor (added,
 * or on the span grid its lower bound), at least the minimum delta
 * requirement. */
static double portfolio_core(const ms_margin *mc, const ms_position *p, const ms_view *v) {
  ms_margin *m = (ms_margin *)mc;
  const pm_state *ps = m->state;
  double P = v->P, base = p->q * P;
  double tau[MS_MAX_LEGS], scale[MS_MAX_LEGS], shortq = 0;
  for (int i = 0; i < p->nlegs; i++) {
    tau[i] = tau_of(m, &p->legs[i], v->t);
    scale[i] = ps->span ? 1.0 : dte_scale(m, tau[i]);
    base += p->legs[i].q * ms_margin_leg_value_memo(m, &p->legs[i], P, tau[i], v->vol);
    if (p->legs[i].q < 0) shortq -= p->legs[i].q;
  }
  double lm[MS_MAX_LEGS], sqt[MS_MAX_LEGS]; /* ln(P / K), sqrt(tau) */
  double mag = fabs(base) + fabs(p->q) * P * (1.0 + ps->xmax); /* of the terms of a loss, for the rounding margin */
  for (int i = 0; i < p->nlegs; i++) {
    lm[i] = log(P / p->legs[i].strike);
    sqt[i] = sqrt(tau[i]);
    mag += fabs(p->legs[i].q) * (P * (1.0 + ps->xmax) + p->legs[i].strike);
  }
  int cls = legs_sign(p);
  double worst = 0;
  int64_t evals = 0;
  /* Pass 1: each scenario's volatilities, and a first upper bound of its
   * loss from the time value's bound (pm_prune). */
  int ns = 0, top = -1, idx[MAX_SCEN];
  double sv[MAX_SCEN][MS_MAX_LEGS], ub[MAX_SCEN];
  for (int s = 0; s < ps->nscen; s++) {
    const scenario *sc = &ps->scen[s];
    if (dominated(sc, cls)) continue;
    evals += p->nlegs;
    double S = P * (1.0 + sc->x), vlo = p->q * S;
    for (int i = 0; i < p->nlegs; i++) {
      const ms_leg *l = &p->legs[i];
      double svi = v->vol * vol_factor(ps, sc, scale[i]);
      if (m->smile.skew != 0) {
        double f = 1.0 - m->smile.skew * (lm[i] + sc->lg);
        svi *= f > m->smile.floor ? f : m->smile.floor;
      }
      if (sc->vsign > 0 && svi < ps->min_vol_up) svi = ps->min_vol_up;
      sv[ns][i] = svi;
      double in = l->is_call ? S - l->strike : l->strike - S;
      in = in > 0 ? in : 0;
      vlo += l->q * (l->q > 0 ? in : in + l->strike * (svi * sqt[i]) * INV_SQRT_2PI);
    }
    /* w (base - val) <= w (base - vlo), up to rounding */
    ub[ns] = ps->prune && sc->w > 0 ? sc->w * (base - vlo + PRUNE_MARGIN * mag) : INFINITY;
    if (top < 0 || ub[ns] > ub[top]) top = ns;
    idx[ns++] = s;
  }
  /* Pass 2: the scenario likeliest to be the worst first, then those whose
   * bounds exceed the worst so far (the time value's, then N's on the
   * grid); the rest cannot raise it. */
  for (int k = -1; k < ns; k++) {
    int j = k < 0 ? top : k;
    if (j < 0 || (k >= 0 && (k == top || ub[k] <= worst))) continue;
    const scenario *sc = &ps->scen[idx[j]];
    double S = P * (1.0 + sc->x);
    if (k >= 0 && ub[k] < INFINITY) {
      double vlo = p->q * S;
      for (int i = 0; i < p->nlegs; i++) {
        const ms_leg *l = &p->legs[i];
        double lo, hi;
        bs_bounds(m, l->is_call, S, l->strike, lm[i] + sc->lg, tau[i], sqt[i], sv[j][i], &lo, &hi);
        vlo += l->q * (l->q > 0 ? lo : hi);
      }
      if (sc->w * (base - vlo + PRUNE_MARGIN * mag) <= worst) continue;
    }
    double val = p->q * S;
    for (int i = 0; i < p->nlegs; i++) {
      const ms_leg *l = &p->legs[i];
      double lmi = lm[i] + sc->lg; /* ln(S / K) */
      val += l->q * ms_bs_value_lm(l->is_call, S, l->strike, lmi, tau[i], sv[j][i]);
    }
    double loss = sc->w * (base - val);
    if (loss > worst) worst = loss;
  }
  m->bs_count += p->nlegs + evals;
  double F = ps->opt_floor * shortq * P;
  double core = ps->span ? (worst > F ? worst : F) : worst + F;
  if (ps->md_net > 0 || ps->md_hedged > 0) {
    double md = min_delta(m, p, tau, v);
    if (md > core) core = md;
  }
  return core;
}

static double portfolio_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return ((const pm_state *)m->state)->im_factor * portfolio_core(m, p, v) + portfolio_extra(m, p, v->P, 1);
}

static double portfolio_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return ((const pm_state *)m->state)->mm_factor * portfolio_core(m, p, v) + portfolio_extra(m, p, v->P, 0);
}

/* The minimum delta requirement B moves with the deltas. The core is
 * max(A, B) with A the scan part; max(A, B) - max(A0, B0) <=
 * (A - A0)+ + (B - B0)+, and with |delta| <= 1 per unit B stays below
 * Bmax = P (|net - hedged / 2| + hedged / 2) x units over the box and
 * any time: the band keeps mm_factor (Bmax - B0) of the surplus for it. */
static double portfolio_band_reserve(const ms_margin *m, const ms_position *p, const ms_view *v) {
  const pm_state *ps = m->state;
  if (!(ps->md_net > 0 || ps->md_hedged > 0)) return 0.0;
  double taus[MS_MAX_LEGS], units = fabs(p->q);
  for (int i = 0; i < p->nlegs; i++) {
    taus[i] = tau_of(m, &p->legs[i], v->t);
    units += fabs(p->legs[i].q);
  }
  double B0 = min_delta((ms_margin *)m, p, taus, v);
  double Bmax = (1 + BAND_BOX) * v->P * (fabs(ps->md_net - 0.5 * ps->md_hedged) + 0.5 * ps->md_hedged) * units;
  return Bmax > B0 ? ps->mm_factor * (Bmax - B0) : 0.0;
}

/* The widest price moves of the scenarios that may be the worst. */
static void portfolio_band_moves(const ms_margin *m, int cls, double *xmin, double *xmax) {
  const pm_state *ps = m->state; /* the extremes of the class, at init */
  if (ps->xhi[cls + 1] > *xmax) *xmax = ps->xhi[cls + 1];
  if (ps->xlo[cls + 1] < *xmin) *xmin = ps->xlo[cls + 1];
}

/* What a band's scenario group needs of one leg, by the volatility states of the group (pm_group.mask). */
typedef struct {
  double s_lo_a, s_hi_a;             /* volatility range at t0 */
  double s_lo_f, s_hi_f;             /* over the time box */
  double smk;                        /* the smile's vega term per unit of phi */
  double asf;                        /* the integrated time bound per unit of g / sqrt(2 pi) */
} pm_leg_mask;

/* The portfolio requirement's terms of the band (see margin.c, "Bands").
 * Legs outside, scenario groups inside: what depends on the leg only is
 * computed once per leg (the DTE scalings, the volatility ranges of each
 * kind of group), each group's sums still add the legs in their order. */
static void portfolio_band_terms(const ms_margin *m, const ms_position *p, const ms_view *v, ms_band_ctx *c) {
  const pm_state *ps = m->state;
  const int cls = c->cls;
  const pm_group *grp = ps->grp[cls + 1];
  const int ng = ps->ngrp[cls + 1];
  const double Pmax = c->Pmax, tau_cut = c->tau_cut, smin = c->smin, smax = c->smax, skew = c->skew;
  const double shortq = c->shortq, Lteq = c->Lteq, A_eq = c->A_eq;
  const double *tau0 = c->tau0, *llo = c->llo, *lhi = c->lhi, *dlo = c->dlo, *dhi = c->dhi, *sq0 = c->sq0,
               *sqc = c->sqc;
  double Dup = c->Dup, Ddn = c->Ddn, Lt = c->Lt, A = c->A, Bcap = c->Bcap;
  const double pw = ps->pw_max;
  double vmax = ps->vol_up > ps->vol_down ? ps->vol_up : ps->vol_down;
  double lo[MAX_SCEN], hi[MAX_SCEN], Lts[MAX_SCEN], As[MAX_SCEN], Bs[MAX_SCEN];
  for (int g = 0; g < ng; g++) {
    lo[g] = hi[g] = -p->q * grp[g].x;
    Lts[g] = As[g] = Bs[g] = 0;
  }
  for (int i = 0; i < p->nlegs; i++) {
    const ms_leg *l = &p->legs[i];
    double q = fabs(l->q);
    /* the DTE scaling at both ends of the box and the rate of the shocked vol */
    double sc_a = 1, sc_b = 1, dsig_l = 0, dvol_l = 0;
    if (!ps->span) {
      sc_a = dte_scale(m, tau0[i]);
      double dte = tau0[i] - tau_cut > ps->dte_floor ? tau0[i] - tau_cut : ps->dte_floor;
      /* dte_scale's power at dte is often the larger one: the same pow */
      double pw_b = dte < ps->dte_switch ? ps->p_short : ps->p_long;
      double pb = dte_scale(m, tau0[i] - tau_cut);
      sc_b = pb;
      dsig_l = v->vol * smax * vmax * pw * (pw_b == pw ? pb : pow(ps->month / dte, pw)) / dte;
      dvol_l = v->vol * smax * vmax * ps->pow_floor;
    }
    /* vol factors at t0 and over the box, per kind of group */
    double fa[3], fb[3];
    for (int k = 0; k < 3; k++) {
      fa[k] = vol_factor_v(ps, k - 1, sc_a);
      fb[k] = vol_factor_v(ps, k - 1, sc_b);
    }
    pm_leg_mask lm[8];
    int have = 0;
    for (int g = 0; g < ng; g++) {
      const pm_group *G = &grp[g];
      pm_leg_mask *L = &lm[G->mask];
      if (!(have & 1 << G->mask)) {
        have |= 1 << G->mask;
        double lo_a = INFINITY, hi_a = 0, lo_f = INFINITY, hi_f = 0;
        for (int k = 0; k < 3; k++) {
          if (!(G->mask & 1 << k)) continue;
          double v1 = fa[k], v2 = fb[k];
          if (v1 < lo_a) lo_a = v1;
          if (v1 > hi_a) hi_a = v1;
          if (v1 < lo_f) lo_f = v1;
          if (v2 < lo_f) lo_f = v2;
          if (v1 > hi_f) hi_f = v1;
          if (v2 > hi_f) hi_f = v2;
        }
        /* a vol-up scenario's volatility may be raised to min_vol_up: the largest volatility is at least that */
        double vfloor = G->mask & 4 ? ps->min_vol_up : 0;
        L->s_hi_a = v->vol * smax * hi_a;
        L->s_hi_f = v->vol * smax * hi_f;
        if (L->s_hi_a < vfloor) L->s_hi_a = vfloor;
        if (L->s_hi_f < vfloor) L->s_hi_f = vfloor;
        L->s_lo_a = v->vol * smin * lo_a;
        L->s_lo_f = v->vol * smin * lo_f;
        L->smk = v->vol * hi_a * skew * sq0[i];
        L->asf = L->s_hi_f > v->vol * smax * hi_f ? q * L->s_hi_f * Pmax : q * v->vol * smax * hi_f * Pmax;
      }
      double gg = 1 + G->x, ll = llo[i] + G->lg, lh = lhi[i] + G->lg;
      ms_leg_bounds lb;
      ms_band_bound_delta(m, l->is_call, ll, lh, L->s_lo_a, L->s_hi_a, sq0[i], &lb);
      double sm = L->smk * lb.phi;
      /* delta_l(P) - g delta_l,s(P g) */
      ms_add_scaled(&lo[g], &hi[g], l->q, dlo[i] - gg * (lb.dhi + sm), dhi[i] - gg * (lb.dlo - sm));
      ms_band_bound_time(m, ll, lh, Pmax * gg, L->s_lo_f, L->s_hi_f, sqc[i], sq0[i], &lb);
      double dsig = 0;
      if (!ps->span && G->shocked) {
        dsig = dsig_l;
        Bs[g] += q * lb.vega * dvol_l;
      }
      Lts[g] += q * (lb.theta + lb.vega * dsig);
      As[g] += L->asf * gg * INV_SQRT_2PI;
    }
  }
  double Mup = 0, Mdn = 0, Lts_max = 0, As_max = 0, Bs_max = 0;
  for (int g = 0; g < ng; g++) {
    double w = grp[g].w;
    if (w * hi[g] > Mup) Mup = w * hi[g];
    if (-w * lo[g] > Mdn) Mdn = -w * lo[g];
    if (w * Lts[g] > Lts_max) Lts_max = w * Lts[g];
    if (w * As[g] > As_max) As_max = w * As[g];
    if (w * Bs[g] > Bs_max) Bs_max = w * Bs[g];
  }
  const double wtop = ps->wtop[cls + 1];
  Dup += ps->mm_factor * (Mup + ps->opt_floor * shortq);
  /* contingencies and the fee provision: linear in P, rising with it */
  double units = fabs(p->q) + shortq;
  for (int i = 0; i < p->nlegs; i++) units += p->legs[i].q > 0 ? p->legs[i].q : 0;
  Dup += ps->perp_mm * fabs(p->q) + ps->opt_mm * naked_shorts(p) + ps->fee * units;
  Ddn += ps->mm_factor * Mdn;
  /* loss_s = V - V_s: its time derivative is at most w (|V_t| + |V_s,t|) */
  Lt += ps->mm_factor * (wtop * Lteq + Lts_max);
  A += ps->mm_factor * (wtop * A_eq + As_max);
  Bcap = ps->mm_factor * Bs_max;
  c->Dup = Dup;
  c->Ddn = Ddn;
  c->Lt = Lt;
  c->A = A;
  c->Bcap = Bcap;
}

const ms_margin_type ms_margin_portfolio = {
    .name = "portfolio", .key_mode = MS_KEY_COLLATERAL, .scan = 1,
    .init = portfolio_init, .free = portfolio_free, .pos_mm = portfolio_pos_mm, .pos_im = portfolio_pos_im,
    .band_reserve = portfolio_band_reserve, .band_moves = portfolio_band_moves,
    .band_terms = portfolio_band_terms};
