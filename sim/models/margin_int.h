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

#include "models/margin.h"

#define INV_SQRT_2PI 0.39894228040143267794
/* Bounds of N(x) and phi(x) for the bands, read from a grid of x in steps of
 * 1/NGRID_PER_UNIT over [-NGRID_HALF, NGRID_HALF] units, rounded outwards. */
#define NGRID_PER_UNIT 64
#define NGRID_HALF 8
#define NGRID (2 * NGRID_HALF * NGRID_PER_UNIT + 1)
#define LN2 0.69314718055994530942
/* The bands' price box: P0 +/- this x P0 */
#define BAND_BOX 0.10

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

/* Price bounds at one time (sq = sqrt(tau)): the delta interval and phi. */
void ms_band_bound_delta(const ms_margin *m, int is_call, double ll, double lh, double s_lo, double s_hi, double sq,
                         ms_leg_bounds *b);

/* Time bounds over sqrt(tau) in [sq_lo, sq_hi]: theta and vega. */
void ms_band_bound_time(const ms_margin *m, double ll, double lh, double S_hi, double s_lo, double s_hi,
                        double sq_lo, double sq_hi, ms_leg_bounds *b);

/* [lo, hi] += q [a, b] */
static inline void ms_add_scaled(double *lo, double *hi, double q, double a, double b) {
  if (q >= 0) { *lo += q * a; *hi += q * b; }
  else { *lo += q * b; *hi += q * a; }
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

/* Static margin's requirements of option accounts, also dynamic margin's (margin_static.c). */
double ms_static_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v);
double ms_static_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v);

#endif
