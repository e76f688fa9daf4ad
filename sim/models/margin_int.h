/*
 * margin_int — what the margin models share, private to sim/models/margin*.c:
 * the instance (the fields every model uses: the perp-only closed forms and
 * the bands' tables; a model's own fields are behind m->state, in its file),
 * the bands' pieces a model may need, and small helpers.
 */
#ifndef MARGINSIM_MARGIN_INT_H
#define MARGINSIM_MARGIN_INT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/units.h"
#include "models/margin.h"

#define INV_SQRT_2PI 0.39894228040143267794
/* Bounds of N(x) and phi(x) for the bands, read from a grid of x in steps of
 * 1/NGRID_PER_UNIT over [-NGRID_HALF, NGRID_HALF] units, rounded outwards. */
#define NGRID_PER_UNIT 64
#define NGRID_HALF 8
#define NGRID (2 * NGRID_HALF * NGRID_PER_UNIT + 1)
#define LN2 MS_LN2
/* The bands' price box: P0 +/- this x P0 */
#define BAND_BOX 0.10
/* Leg values remembered (ms_margin_leg_value_memo) */
#define LV_MEMO 4

/* A leg's value at (S, tau, vol): the key is every input of ms_leg_value but
 * the smile, which is the instance's. */
typedef struct {
  int32_t is_call;                   /* -1: empty */
  double K, S, tau, vol;             /* USD, USD, years, annualised */
  double value;                      /* USD per unit */
} ms_leg_memo;

struct ms_margin {
  const ms_margin_type *type;
  void *state;                       /* the model's own fields (margin_<model>.c): init allocates, free frees */
  int tiered;                        /* type->tiered, kept here for the perp-only closed forms */
  double year_ms;                    /* ms per year */
  ms_smile smile;
  /* The perp-only closed forms, which the tick scan calls directly: every
   * model publishes its requirement of a perp-only account here, as ratios
   * of notional (one per side) or a tier schedule, and keeps them current
   * (dynamic margin moves them at its updates). */
  double initial, maintenance;       /* ratios (dynamic: current; portfolio: of perp longs) */
  double ratio_side[2];              /* maintenance ratio of perp longs, shorts */
  double im_side[2];                 /* initial ratio of perp longs, shorts (models with type->scan) */
  int ntiers;                        /* 1 unless tiered */
  double floor[MS_MAX_TIERS];        /* USD notional where each tier starts */
  double mmr[MS_MAX_TIERS], imr[MS_MAX_TIERS];
  double cum[MS_MAX_TIERS];          /* USD maintenance amount of each tier */
  double kappa_long, kappa_short;    /* threshold shift per unit of per-unit collateral lost */
  int64_t bs_count;                  /* Black–Scholes evaluations */
  double ncdf[NGRID];                /* N at the grid points */
  double npdf[NGRID_HALF * NGRID_PER_UNIT + 1]; /* phi at the grid points >= 0 */
  /* The last leg values: a check of an option account values its legs for
   * the equity, and portfolio margin again for its scenarios' base, at the
   * same price, time and volatility. */
  ms_leg_memo lv[LV_MEMO];
  int lv_next;                       /* the entry replaced next */
};

/*
 * The band (ms_margin_band, margin.c) of an account with option legs under
 * a model whose requirement is not a ratio of gross notional (type->scan):
 * what margin.c has computed, for the model's band_terms hook, which adds
 * how fast its requirement can rise with the price and the time.
 */
typedef struct ms_band_ctx {
  int cls;                           /* legs_sign of the position */
  double P0, Pmax, Pmin;             /* USD: the price and the box */
  double tau_cut;                    /* years: the Lipschitz box keeps this */
  double smin, smax, skew;           /* smile factor range over the box; |skew| */
  double shortq;                     /* short option units */
  double Lteq, A_eq;                 /* the equity's time bounds (Lipschitz, integrated) */
  const double *tau0, *llo, *lhi;    /* per leg: years to expiry, ln(Pmin / K), ln(Pmax / K) */
  const double *dlo, *dhi;           /* per leg: delta interval at t0 */
  const double *sq0, *sqc;           /* per leg: sqrt(tau) at t0 and at the end of the box */
  /* in: the equity's terms; out: with the requirement's added */
  double Dup, Ddn;                   /* fall of the surplus per unit of price rise, fall */
  double Lt, A, Bcap;                /* time: Lipschitz, integrated, the volatility's drift cap */
} ms_band_ctx;

/* Bounds per unit of option (see margin.c, "Bands"). */
typedef struct {
  double dlo, dhi;                   /* delta interval per unit */
  double phi, theta, vega;           /* bounds per unit */
} ms_leg_bounds;

/* The bands' bounds per leg, inline: margin.c and a scan model's band_terms
 * (margin_portfolio.c) call them per leg and scenario of a candidate. */
/* Grid index at or below (up = 0) or at or above (up = 1) x, clamped to the
 * grid, with a margin of 1e-6 of a step against rounding. N is increasing,
 * so N(grid below) <= N(x) <= N(grid above); outside the grid 0 and 1 are
 * the bounds. */
static inline int grid_ix(double x, int up) {
  double u = (x + NGRID_HALF) * NGRID_PER_UNIT;
  if (!(u > 0)) return up ? 0 : -1;
  if (u >= NGRID - 1) return up ? NGRID : NGRID - 1;
  return up ? (int)u + 1 : (int)(u - 1e-6); /* u > 0: truncation is floor */
}

static inline double ncdf_lo(const ms_margin *m, double x) { /* <= N(x) */
  int k = grid_ix(x, 0);
  return k < 0 ? 0.0 : m->ncdf[k];
}

static inline double ncdf_hi(const ms_margin *m, double x) { /* >= N(x) */
  int k = grid_ix(x, 1);
  return k >= NGRID ? 1.0 : m->ncdf[k];
}

static inline double npdf_hi(const ms_margin *m, double ax) { /* >= phi(x), ax = |x| */
  double u = ax * NGRID_PER_UNIT - 1e-6;
  if (!(u > 0)) return INV_SQRT_2PI;
  if (u >= NGRID_HALF * NGRID_PER_UNIT) return m->npdf[NGRID_HALF * NGRID_PER_UNIT];
  return m->npdf[(int)u];
}

/* The range of d1 and the largest phi(d1). @p ll, @p lh: ln(S_lo / K),
 * ln(S_hi / K); @p r_lo, @p r_hi: the least and largest s sqrt(tau). */
static inline void d1_range(const ms_margin *m, double ll, double lh, double r_lo, double r_hi, double *d1_lo,
                            double *d1_hi, double *phi) {
  *d1_hi = (lh >= 0 ? lh / r_lo : lh / r_hi) + 0.5 * r_hi;
  *d1_lo = (ll <= 0 ? ll / r_lo : ll / r_hi) + 0.5 * r_lo;
  double dmin = *d1_lo <= 0 && *d1_hi >= 0 ? 0 : (fabs(*d1_lo) < fabs(*d1_hi) ? fabs(*d1_lo) : fabs(*d1_hi));
  *phi = npdf_hi(m, dmin);
}

/* Price bounds at one time (sq = sqrt(tau)): the delta interval and phi. */
static inline void ms_band_bound_delta(const ms_margin *m, int is_call, double ll, double lh, double s_lo, double s_hi, double sq,
                         ms_leg_bounds *b) {
  double d1_lo, d1_hi;
  d1_range(m, ll, lh, s_lo * sq, s_hi * sq, &d1_lo, &d1_hi, &b->phi);
  if (is_call) {
    b->dlo = ncdf_lo(m, d1_lo);
    b->dhi = ncdf_hi(m, d1_hi);
  } else {
    b->dlo = -ncdf_hi(m, -d1_lo);
    b->dhi = -ncdf_lo(m, -d1_hi);
  }
}

/* Time bounds over sqrt(tau) in [sq_lo, sq_hi]: theta and vega. */
static inline void ms_band_bound_time(const ms_margin *m, double ll, double lh, double S_hi, double s_lo, double s_hi,
                        double sq_lo, double sq_hi, ms_leg_bounds *b) {
  double d1_lo, d1_hi;
  d1_range(m, ll, lh, s_lo * sq_lo, s_hi * sq_hi, &d1_lo, &d1_hi, &b->phi);
  b->theta = S_hi * b->phi * s_hi / (2 * sq_lo);
  b->vega = S_hi * sq_hi * b->phi;
}

/* [lo, hi] += q [a, b] */
static inline void ms_add_scaled(double *lo, double *hi, double q, double a, double b) {
  if (q >= 0) { *lo += q * a; *hi += q * b; }
  else { *lo += q * b; *hi += q * a; }
}

static inline int same_bits(double a, double b) {
  uint64_t x, y;
  memcpy(&x, &a, sizeof x);
  memcpy(&y, &b, sizeof y);
  return x == y;
}

/* ms_leg_value(l, &m->smile, S, tau, vol), remembered: a repeat of the same
 * inputs (bit for bit) returns the value computed the first time. */
static inline double ms_margin_leg_value_memo(ms_margin *m, const ms_leg *l, double S, double tau, double vol) {
  for (int k = 0; k < LV_MEMO; k++) {
    const ms_leg_memo *e = &m->lv[k];
    if (same_bits(e->K, l->strike) && same_bits(e->S, S) && same_bits(e->tau, tau) && same_bits(e->vol, vol) &&
        e->is_call == l->is_call)
      return e->value;
  }
  double v = ms_leg_value(l, &m->smile, S, tau, vol);
  m->lv[m->lv_next] = (ms_leg_memo){l->is_call, l->strike, S, tau, vol, v};
  m->lv_next = m->lv_next + 1 < LV_MEMO ? m->lv_next + 1 : 0;
  return v;
}

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

/* -1: every option leg short; +1: every one long; 0: mixed or none. */
static inline int legs_sign(const ms_position *p) {
  int neg = 0, pos = 0;
  for (int i = 0; i < p->nlegs; i++) {
    neg |= p->legs[i].q < 0;
    pos |= p->legs[i].q > 0;
  }
  return neg && !pos ? -1 : pos && !neg ? 1 : 0;
}

/* Portfolio margin: leave out the scenarios that cannot be the worst (@p on,
 * the default) or value every one; the requirement is the same bit for bit
 * (margin_portfolio.c, pm_prune). For the tests. */
void ms_portfolio_set_prune(ms_margin *m, int on);

/* Static margin's requirements of option accounts, also dynamic margin's (margin_static.c). */
double ms_static_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v);
double ms_static_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v);

#endif
