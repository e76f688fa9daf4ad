/*
 * margin_int — what the margin models share, private to sim/margin*.c: the
 * instance (every model's fields), the portfolio grid's scenario rows and
 * small helpers. Each model fills its own fields in its init hook.
 */
#ifndef MARGINSIM_MARGIN_INT_H
#define MARGINSIM_MARGIN_INT_H

#include <math.h>
#include <stdint.h>

#include "models/margin.h"

#define INV_SQRT_2PI 0.39894228040143267794
/* core shocks x up to 3 volatility states + extended rows (SPAN needs 16) */
#define MAX_SCEN (3 * MS_MAX_PRICE_STEPS + MS_MAX_EXTENDED)
/* Bounds of N(x) and phi(x) for the bands, read from a grid of x in steps of
 * 1/NGRID_PER_UNIT over [-NGRID_HALF, NGRID_HALF] units, rounded outwards. */
#define NGRID_PER_UNIT 64
#define NGRID_HALF 8
#define NGRID (2 * NGRID_HALF * NGRID_PER_UNIT + 1)
#define TWO_PI 6.28318530717958647692
#define LN2 0.69314718055994530942
/* The bands' price box: P0 +/- this x P0 */
#define BAND_BOX 0.10

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

struct ms_margin {
  const ms_margin_type *type;
  int tiered;                        /* type->tiered, kept here for the perp-only closed forms */
  double year_ms;                    /* ms per year */
  ms_smile smile;
  /* static and dynamic */
  double initial, maintenance;       /* ratios (dynamic: current) */
  double ratio_side[2];              /* maintenance ratio of perp longs, shorts */
  /* tiered */
  int ntiers;
  double floor[MS_MAX_TIERS];
  double mmr[MS_MAX_TIERS], imr[MS_MAX_TIERS];
  double cum[MS_MAX_TIERS];
  double kappa_long, kappa_short;    /* threshold shift per unit of per-unit collateral lost */
  /* dynamic: sigma_hat^2 = (sum of squared log returns) / (sum of their
   * durations), both over the same published observations (see
   * ms_margin_update) */
  ms_dynamic_cfg dyn;
  double sigma0;                     /* initial sigma_hat, annualised */
  double s2;                         /* sigma_hat^2, per year */
  double last_price;                 /* USD, the last observation used */
  int64_t last_obs;                  /* ms, its observation time */
  double ew_r2, ew_dt;               /* ewma: decayed sums of r^2 and of durations (years) */
  double *ring_r2, *ring_dt;         /* window: r^2 and durations (years) per update interval */
  int64_t nring, ring_pos;           /* window: buckets, the one the next update fills */
  int64_t ring_used;                 /* window: buckets with a sample (dt > 0) */
  double ring_r2_sum, ring_dt_sum;
  /* portfolio */
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
  double m_eff[2];                   /* portfolio core ratio of perp longs, shorts */
  double im_side[2];                 /* portfolio initial ratio of perp longs, shorts */
  int64_t bs_count;                  /* Black–Scholes evaluations */
  double ncdf[NGRID];                /* N at the grid points */
  double npdf[NGRID_HALF * NGRID_PER_UNIT + 1]; /* phi at the grid points >= 0 */
};

static inline int tier_of(const ms_margin *m, double notional) {
  int k = 0;
  while (k + 1 < m->ntiers && notional >= m->floor[k + 1]) k++;
  return k;
}

static inline double tiered_mm_n(const ms_margin *m, double n) {
  int k = tier_of(m, n);
  return m->mmr[k] * n - m->cum[k];
}

static inline double tau_of(const ms_margin *m, const ms_leg *l, int64_t t) {
  double tau = (double)(l->expiry - t) / m->year_ms;
  return tau > 0 ? tau : 0.0;
}

/* |q| P plus the underlying notional of short options */
static inline double gross_notional(const ms_position *p, double P) {
  double g = fabs(p->q);
  for (int i = 0; i < p->nlegs; i++) if (p->legs[i].q < 0) g -= p->legs[i].q;
  return g * P;
}

/* Scenario volatility factor: 1 +/- v x scale (deribit), 1 +/- vol_range (span). */
static inline double vol_factor(const ms_margin *m, const scenario *s, double scale) {
  if (s->vsign == 0) return 1.0;
  if (m->span) return 1.0 + s->vsign * m->vol_range;
  double f = 1.0 + (s->vsign > 0 ? m->vol_up : -m->vol_down) * scale;
  return f > 0.01 ? f : 0.01;
}

/* -1: every option leg short; +1: every one long; 0: mixed or none. */
static inline int legs_sign(const ms_position *p) {
  int neg = 0, pos = 0;
  for (int i = 0; i < p->nlegs; i++) {
    neg |= p->legs[i].q < 0;
    pos |= p->legs[i].q > 0;
  }
  return neg && !pos ? -1 : pos && !neg ? 1 : 0;
}

static inline int dominated(const scenario *sc, int cls) {
  return (cls < 0 && sc->dom_short) || (cls > 0 && sc->dom_long);
}

/* Portfolio pieces the band needs (margin_portfolio.c). */
double ms_pm_dte_scale(const ms_margin *m, double tau);
double ms_pm_naked_shorts(const ms_position *p);
double ms_pm_min_delta(ms_margin *m, const ms_position *p, const double *tau, const ms_view *v);

/* Static margin's requirements of option accounts, also dynamic margin's (margin_static.c). */
double ms_static_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v);
double ms_static_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v);

#endif
