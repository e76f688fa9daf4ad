/*
 * funding — the rates of funding payments (see funding.h).
 */
#include "models/funding.h"

#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "core/units.h"

struct ms_funding {
  ms_funding_cfg c;
  int64_t horizon;
  int64_t t0;           /* the current interval's start */
  int64_t next_k, nk;   /* the next sample not yet taken: t0 + next_k sample_every; samples 1 .. nk */
  double sum;           /* the samples taken so far of this interval */
  double x;             /* the exogenous premium at t_x */
  double mu;            /* its mean now (the current regime's, with premium.regimes) */
  int64_t t_x;          /* ms */
  double integral;      /* of the exogenous premium from the interval's start to t_x */
  gsl_rng *r;           /* the exogenous premium's stream (stream: MS_STREAM_FUNDING unless set) */
  uint32_t stream;
};

ms_status ms_funding_new(ms_funding **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  ms_funding *f = calloc(1, sizeof *f);
  if (!f) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for funding");
  f->c = cfg->funding;
  f->horizon = cfg->horizon;
  f->nk = f->c.interval / f->c.sample_every;
  f->stream = MS_STREAM_FUNDING;
  ms_status s = ms_rng_new(&f->r, err);
  if (s) { free(f); return s; }
  *out = f;
  return MS_OK;
}

void ms_funding_free(ms_funding *f) {
  if (!f) return;
  ms_rng_free(f->r);
  free(f);
}

static double mean_of(const ms_funding *f, int regime) {
  const ms_premium_cfg *p = &f->c.premium;
  return p->nregimes > 0 && regime >= 0 && regime < p->nregimes ? p->regimes[regime].mean : p->mean;
}

void ms_funding_set_stream(ms_funding *f, uint32_t stream) { f->stream = stream; }

void ms_funding_start(ms_funding *f, uint64_t seed, uint64_t path, int regime) {
  f->t0 = 0;
  f->next_k = 1;
  f->sum = 0.0;
  f->mu = mean_of(f, regime);
  f->x = f->mu;
  f->t_x = 0;
  f->integral = 0.0;
  if (f->c.premium.sd > 0) {
    ms_rng_seed(f->r, seed, path, f->stream);
    f->x += f->c.premium.sd * ms_rng_gaussian(f->r);
  }
}

int64_t ms_funding_next(const ms_funding *f) {
  int64_t t = f->t0 + f->c.interval;
  return t <= f->horizon ? t : INT64_MAX;
}

/* Samples up to @p t, and at @p t itself when @p at. */
static void take(ms_funding *f, const ms_market *mk, int64_t t, int at) {
  const int64_t se = f->c.sample_every;
  while (f->next_k <= f->nk) {
    int64_t s = f->t0 + f->next_k * se;
    if (s > t || (s == t && !at)) return;
    if (!ms_market_active(mk, s)) {
      /* exactly 0 from here until the next fill: count the samples up to t */
      int64_t last = (t - f->t0) / se;
      if (!at && f->t0 + last * se == t) last--;
      f->next_k = (last < f->nk ? last : f->nk) + 1;
      return;
    }
    f->sum += expm1(ms_market_impact_at(mk, s));
    f->next_k++;
  }
}

void ms_funding_accrue(ms_funding *f, const ms_market *mk, int64_t t) { take(f, mk, t, 0); }

double ms_funding_rate(const ms_funding_cfg *c, double premium) {
  double r;
  if (c->formula == MS_FUND_SUM) r = premium + c->interest;
  else r = premium + fmin(fmax(c->interest - premium, -c->dampener), c->dampener);
  r *= (double)c->interval / (double)c->rate_period;
  if (c->cap > 0) r = fmin(fmax(r, -c->cap), c->cap);
  return r;
}

/* x - b - b^2 / 2 with b = 1 - exp(-x): ~x^3 / 3 near 0, where the
 * difference would lose its digits, so a series there (exact rational
 * coefficients; below 0.05 its first omitted term is < 1e-13 of the sum,
 * and the direct form's rounding ~1e-13 of it at 0.05). */
static double kh_b(double x, double b) {
  if (x >= 0.05) return x - b - 0.5 * b * b;
  static const double c[] = {1.0 / 3, -1.0 / 4, 7.0 / 60, -1.0 / 24, 31.0 / 2520, -1.0 / 320, 127.0 / 181440,
                             -17.0 / 120960, 73.0 / 2851200};
  double sum = 0.0;
  for (int i = (int)(sizeof c / sizeof c[0]) - 1; i >= 0; i--) sum = sum * x + c[i];
  return sum * x * x * x;
}

void ms_funding_ou_step(const ms_premium_cfg *p, double mu, double x0, double h, double z1, double z2, double *x1,
                        double *avg) {
  double s = p->sd;
  if (!(h > 0)) {
    *x1 = x0;
    *avg = x0;
    return;
  }
  double k = MS_LN2 / (double)p->half_life, kh = k * h;
  double a = exp(-kh), b = -expm1(-kh), d = x0 - mu; /* b = 1 - exp(-kh), without cancellation */
  if (!(s > 0)) { /* no noise: the relaxation towards the mean alone */
    *x1 = mu + d * a;
    *avg = mu + d * (b / kh);
    return;
  }
  /* With sigma^2 = 2 k s^2: the end's noise e1, the integral's e2 (over h, per unit of time) */
  double v1 = s * s * -expm1(-2.0 * kh);                       /* Var e1 */
  double v2 = 2.0 * s * s / (kh * kh) * kh_b(kh, b);           /* Var(e2 / h) */
  double c12 = s * s * b * b / kh;                             /* Cov(e1, e2 / h) */
  double l11 = sqrt(v1), l21 = l11 > 0 ? c12 / l11 : 0.0, r = v2 - l21 * l21;
  double l22 = r > 0 ? sqrt(r) : 0.0;
  *x1 = mu + d * a + l11 * z1;
  *avg = mu + d * b / kh + l21 * z1 + l22 * z2;
}

/* The exogenous premium from t_x to @p t (> t_x): its mean over the span
 * (returned), its value at t. */
static double advance(ms_funding *f, int64_t t) {
  double h = (double)(t - f->t_x), x1, avg;
  if (!(h > 0)) return f->x;
  double z1 = 0, z2 = 0;
  if (f->c.premium.sd > 0) {
    z1 = ms_rng_gaussian(f->r);
    z2 = ms_rng_gaussian(f->r);
  }
  ms_funding_ou_step(&f->c.premium, f->mu, f->x, h, z1, z2, &x1, &avg);
  f->x = x1;
  f->t_x = t;
  return avg;
}

void ms_funding_regime(ms_funding *f, int64_t t, int regime) {
  if (f->c.premium.nregimes == 0) return;
  double h = (double)(t - f->t_x);
  f->integral += advance(f, t) * h;
  f->mu = mean_of(f, regime);
}

void ms_funding_settle(ms_funding *f, const ms_market *mk, ms_funding_pay *out) {
  int64_t T = f->t0 + f->c.interval;
  take(f, mk, T, 1);
  double exo;
  if (f->c.premium.nregimes == 0 && !(f->c.premium.sd > 0)) {
    exo = f->c.premium.mean; /* constant */
  } else if (f->t_x == f->t0) { /* no switch inside the interval: one span */
    exo = advance(f, T);
  } else {
    double h = (double)(T - f->t_x);
    exo = (f->integral + advance(f, T) * h) / (double)f->c.interval;
  }
  f->integral = 0.0;
  f->t_x = T;
  out->t = T;
  out->premium = f->sum / (double)f->nk + exo;
  out->rate = ms_funding_rate(&f->c, out->premium);
  f->t0 = T;
  f->next_k = 1;
  f->sum = 0.0;
}

void ms_funding_flow_of(const ms_funding_cfg *c, double rate, double mark, double oracle, double index,
                        const double qty[2], const double qty0[2], ms_funding_flow *out) {
  double P = c->price == MS_FUND_AT_ORACLE ? oracle : c->price == MS_FUND_AT_INDEX ? index : mark;
  int payer = rate > 0 ? 0 : 1, recv = 1 - payer;
  double qp = qty[payer], qr = qty[recv];
  int has_p = qp > MS_FUNDING_QTY_FLOOR * qty0[payer], has_r = qr > MS_FUNDING_QTY_FLOOR * qty0[recv];
  double per_unit = fabs(rate) * P;
  *out = (ms_funding_flow){payer, 0.0, 0.0, 0.0, 0.0};
  if (c->receivers == MS_FUND_RATE) { /* the rest of the market takes the difference */
    out->paid = has_p ? per_unit * qp : 0.0;
    out->got = has_r ? per_unit * qr : 0.0;
    out->charge = has_p ? per_unit : 0.0;
    out->credit = has_r ? per_unit : 0.0;
  } else if (has_p && has_r) { /* else no counterparty in the book */
    out->paid = out->got = per_unit * qp;
    out->charge = per_unit;
    out->credit = out->paid / qr;
  }
}
