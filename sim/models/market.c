/*
 * market — impact of the decaying liquidation flow (see market.h).
 *
 * Between fills Q(t) = Q(t0) 2^(-(t - t0) / half_life). Both laws are
 * homogeneous in Q, so the impact decays in closed form too, with the same
 * half-life (linear law) or twice it (square-root law): the state is what
 * the last fill left, and the impact at any later time is one exp2 of the
 * gap — a function of t alone, however often it is asked for. The law is
 * evaluated only at fills. Monotone decay towards 0 gives the engine's tick
 * loop cheap bounds over a chunk of ticks (ms_market_chunk_bounds): one
 * multiplication by a precomputed factor per chunk.
 */
#include "models/market.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define IMPACT_FLOOR 1e-12
/* Relative widening of the chunk bounds: their factors and the products round. */
#define BOUND_SLACK 1e-9

static double linear_law(double q, double inv_depth) { return 0.01 * q * inv_depth; }
static double sqrt_law(double q, double inv_depth) { return copysign(0.01 * sqrt(fabs(q) * inv_depth), q); }

const ms_impact_type ms_impact_none = {.name = "none", .law = NULL, .half_life_factor = 1.0};
const ms_impact_type ms_impact_linear = {.name = "linear", .law = linear_law, .half_life_factor = 1.0};
const ms_impact_type ms_impact_sqrt = {.name = "sqrt", .law = sqrt_law, .half_life_factor = 2.0};

/* The order of market.impact.model's accepted values in the docs. */
const ms_impact_type *const ms_impact_types[] = {&ms_impact_none, &ms_impact_linear, &ms_impact_sqrt, NULL};

const ms_impact_type *ms_impact_type_find(const char *name) {
  for (int i = 0; ms_impact_types[i]; i++)
    if (strcmp(ms_impact_types[i]->name, name) == 0) return ms_impact_types[i];
  return NULL;
}

struct ms_market {
  const ms_impact_type *type;
  double half_life;  /* ms; 0 = no decay */
  double ihalf_life; /* ms: the impact's half-life (the same, or twice it for the sqrt law) */
  double inv_hl, inv_ihl, inv_depth; /* reciprocals: fills are frequent in a cascade */
  double chunk_last, chunk_next; /* impact factors to a chunk's last tick and to the tick after it */
  int ihl_whole;     /* ihalf_life is a whole number of ms: so is every multiple of it (no ceil needed) */
  /* as of the last fill */
  int64_t t0;        /* ms */
  double q0;         /* USD */
  double imp0;       /* log impact */
  int64_t t_zero;    /* from this time on the impact is below the floor: exactly 0 */
};

ms_status ms_market_new(ms_market **out, const ms_config *cfg, ms_error *err) {
  if (!cfg->market.impact.model) return ms_error_set(err, MS_ERR_INTERNAL, "market.impact.model not set");
  ms_market *m = calloc(1, sizeof *m);
  if (!m) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  m->type = cfg->market.impact.model;
  m->half_life = (double)cfg->market.impact.half_life;
  m->ihalf_life = m->type->half_life_factor * m->half_life;
  m->ihl_whole = m->ihalf_life == floor(m->ihalf_life);
  m->inv_hl = m->half_life > 0 ? 1.0 / m->half_life : 0.0;
  m->inv_ihl = m->half_life > 0 ? 1.0 / m->ihalf_life : 0.0;
  m->inv_depth = cfg->market.impact.depth > 0 ? 1.0 / cfg->market.impact.depth : 0.0;
  m->chunk_last = exp2(-(double)((MS_MARKET_CHUNK - 1) * cfg->step) * m->inv_ihl);
  m->chunk_next = exp2(-(double)(MS_MARKET_CHUNK * cfg->step) * m->inv_ihl);
  ms_market_reset(m);
  *out = m;
  return MS_OK;
}

void ms_market_free(ms_market *m) { free(m); }

void ms_market_reset(ms_market *m) {
  m->t0 = 0;
  m->q0 = m->imp0 = 0.0;
  m->t_zero = 0;
}

double ms_market_impact(const ms_market *m) { return m->imp0; }
int ms_market_active(const ms_market *m, int64_t t) { return t < m->t_zero; }

double ms_market_impact_at(const ms_market *m, int64_t t) {
  if (t >= m->t_zero) return 0.0;
  if (t == m->t0 || m->half_life <= 0) return m->imp0;
  double v = m->imp0 * exp2(-(double)(t - m->t0) * m->inv_ihl);
  return fabs(v) < IMPACT_FLOOR ? 0.0 : v;
}

/* imp0 x exp2(-x), x >= 0: exp2 of a negative is at most 1 (faithfully rounded, its true value below 1), and
 * rounding the product is monotone, so the value lies between 0 and imp0 inclusive, of imp0's sign or 0. */
void ms_market_impact_range(const ms_market *m, double *lo, double *hi) {
  *lo = m->imp0 < 0 ? m->imp0 : 0.0;
  *hi = m->imp0 > 0 ? m->imp0 : 0.0;
}

double ms_market_flow_at(const ms_market *m, int64_t t) {
  if (t >= m->t_zero) return 0.0;
  if (t == m->t0 || m->half_life <= 0) return m->q0;
  return m->q0 * exp2(-(double)(t - m->t0) * m->inv_hl);
}

void ms_market_chunk_bounds(const ms_market *m, double a, double *lo, double *hi, double *next) {
  double b = a * m->chunk_last;
  *next = a * m->chunk_next;
  double l = fmin(a, b), h = fmax(a, b);
  /* Near the floor the exact impact may already be 0 inside the chunk. */
  if (fabs(b) < 2 * IMPACT_FLOOR) { l = fmin(l, 0.0); h = fmax(h, 0.0); }
  double pad = BOUND_SLACK * fmax(fabs(l), fabs(h));
  *lo = l - pad;
  *hi = h + pad;
}

/* ilogb(v): from the bits for a normal v (what every fill gives: v >= 1,
 * finite), which saves a call on every fill; ilogb itself otherwise. */
static inline int binary_exponent(double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  int e = (int)((bits >> 52) & 0x7ff);
  return e > 0 && e < 0x7ff ? e - 1023 : ilogb(v);
}

void ms_market_fill(ms_market *m, int64_t t, double signed_notional) {
  if (!m->type->law) return;
  double q = ms_market_flow_at(m, t) + signed_notional, imp = m->type->law(q, m->inv_depth);
  if (fabs(imp) < IMPACT_FLOOR) q = imp = 0.0;
  m->t0 = t;
  m->q0 = q;
  m->imp0 = imp;
  if (imp == 0.0) m->t_zero = t;
  else if (m->half_life <= 0 || !isfinite(imp)) m->t_zero = INT64_MAX;
  else {
    /* |imp| 2^(-dt / ihl) < floor once dt >= ihl log2(|imp| / floor); with
     * |imp| / floor < 2^x (x = 1 + its binary exponent; the ratio is >= 1),
     * dt = ihl x + 1 ms is past that: t_zero is a bound, and the floor test
     * in impact_at is the exact one. */
    int x = binary_exponent(fabs(imp) * (1.0 / IMPACT_FLOOR)) + 1;
    /* A whole ihalf_life times an integer is whole (exact below 2^53, and
     * every double above is whole): ceil would return it unchanged. */
    double p = m->ihalf_life * (double)x, dt = (m->ihl_whole ? p : ceil(p)) + 1.0;
    m->t_zero = dt < 9e18 - (double)t ? t + (int64_t)dt : INT64_MAX;
  }
}
