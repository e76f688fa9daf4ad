/*
 * market — impact of the decaying liquidation flow (see market.h).
 *
 * Between fills Q(t) = Q(t0) 2^(-(t - t0) / half_life). Both laws are
 * homogeneous in Q, so the impact decays by a factor too (the same for the
 * linear law, its square root for the square-root law): a tick that follows
 * a tick multiplies by precomputed one-step factors, anything else uses exp2
 * of the gap. The law itself is evaluated only at fills.
 */
#include "marginsim/market.h"

#include <math.h>
#include <stdlib.h>

#define IMPACT_FLOOR 1e-12

struct ms_market {
  int model;             /* ms_impact_model */
  double depth;          /* USD per 1% */
  double half_life;      /* ms; 0 = no decay */
  int64_t step;          /* ms */
  double step_factor;    /* 2^(-step / half_life): Q over one tick */
  double step_ifactor;   /* the impact over one tick: the same, or its square root (sqrt law) */
  double q;              /* USD, as of t */
  int64_t t;             /* ms */
  double impact;         /* log impact as of t */
};

ms_status ms_market_new(ms_market **out, const ms_config *cfg, ms_error *err) {
  ms_market *m = calloc(1, sizeof *m);
  if (!m) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  m->model = cfg->market.impact.model;
  m->depth = cfg->market.impact.depth;
  m->half_life = (double)cfg->market.impact.half_life;
  m->step = cfg->step;
  m->step_factor = m->half_life > 0 ? exp2(-(double)cfg->step / m->half_life) : 1.0;
  m->step_ifactor = m->model == MS_IMPACT_SQRT ? sqrt(m->step_factor) : m->step_factor;
  *out = m;
  return MS_OK;
}

void ms_market_free(ms_market *m) { free(m); }

void ms_market_reset(ms_market *m) {
  m->q = 0.0;
  m->t = 0;
  m->impact = 0.0;
}

double ms_market_impact(const ms_market *m) { return m->impact; }
int ms_market_active(const ms_market *m) { return m->q != 0.0; }
double ms_market_flow(const ms_market *m) { return m->q; }

static double law(const ms_market *m, double q) {
  switch (m->model) {
  case MS_IMPACT_LINEAR: return 0.01 * q / m->depth;
  case MS_IMPACT_SQRT: return copysign(0.01 * sqrt(fabs(q) / m->depth), q);
  default: return 0.0;
  }
}

static void recompute(ms_market *m) {
  m->impact = law(m, m->q);
  if (fabs(m->impact) < IMPACT_FLOOR) m->q = m->impact = 0.0;
}

/* Decay factors of Q and of the impact over dt ms. */
static void factors(const ms_market *m, int64_t dt, double *fq, double *fi) {
  if (dt == m->step) { *fq = m->step_factor; *fi = m->step_ifactor; return; }
  *fq = exp2(-(double)dt / m->half_life);
  *fi = m->model == MS_IMPACT_SQRT ? exp2(-0.5 * (double)dt / m->half_life) : *fq;
}

double ms_market_impact_at(const ms_market *m, int64_t t) {
  if (m->q == 0.0 || t == m->t || m->half_life <= 0) return m->impact;
  double fq, fi;
  factors(m, t - m->t, &fq, &fi);
  double imp = m->impact * fi;
  return fabs(imp) < IMPACT_FLOOR ? 0.0 : imp;
}

void ms_market_advance(ms_market *m, int64_t t) {
  if (m->q != 0.0 && t != m->t && m->half_life > 0) {
    double fq, fi;
    factors(m, t - m->t, &fq, &fi);
    m->q *= fq;
    m->impact *= fi;
    if (fabs(m->impact) < IMPACT_FLOOR) m->q = m->impact = 0.0;
  }
  m->t = t;
}

/* The state after the @p n ticks t0, t0 + step, ..., advanced one at a time
 * (so the floor applies at the same tick as with ms_market_advance), and the
 * impact at each tick when @p out is given. */
static void tick_run(const ms_market *m, int64_t t0, int64_t n, double *out, double *q_end, double *imp_end) {
  double q = m->q, imp = m->impact;
  int64_t k = 0;
  if (q != 0.0 && m->half_life > 0 && n > 0) {
    if (t0 != m->t) {
      double fq, fi;
      factors(m, t0 - m->t, &fq, &fi);
      q *= fq;
      imp *= fi;
      if (fabs(imp) < IMPACT_FLOOR) q = imp = 0.0;
    }
    if (out) out[0] = imp;
    const double sq = m->step_factor, si = m->step_ifactor;
    for (k = 1; k < n && imp != 0.0; k++) {
      q *= sq;
      imp *= si;
      if (fabs(imp) < IMPACT_FLOOR) q = imp = 0.0;
      if (out) out[k] = imp;
    }
  }
  if (out)
    for (; k < n; k++) out[k] = imp;
  *q_end = q;
  *imp_end = imp;
}

void ms_market_impacts(const ms_market *m, int64_t t0, int64_t n, double *out) {
  double q, imp;
  tick_run(m, t0, n, out, &q, &imp);
}

void ms_market_advance_ticks(ms_market *m, int64_t t0, int64_t n) {
  if (n <= 0) return;
  tick_run(m, t0, n, NULL, &m->q, &m->impact);
  m->t = t0 + (n - 1) * m->step;
}

void ms_market_fill(ms_market *m, int64_t t, double signed_notional) {
  ms_market_advance(m, t);
  if (m->model == MS_IMPACT_NONE) return;
  m->q += signed_notional;
  recompute(m);
}
