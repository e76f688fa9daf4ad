/*
 * market — the mark price: exogenous price x exp(impact).
 *
 * Impact is a law of Q (a type table, ms_impact_type, chosen by
 * market.impact.model), the cumulative signed liquidation flow in USD
 * (liquidated longs sell: negative; liquidated shorts buy: positive), which
 * decays with half-life market.impact.half_life:
 *   linear: impact = 0.01 Q / depth
 *   sqrt:   impact = 0.01 sign(Q) sqrt(|Q| / depth)
 *   none:   impact = 0
 * depth being the flow that moves the price 1%. Between fills the impact
 * decays in closed form (the same half-life for the linear law, twice it
 * for the square-root law). Impact below 1e-12 in log terms is exactly 0
 * (the engine's fast path).
 */
#ifndef MARGINSIM_MARKET_H
#define MARGINSIM_MARKET_H

#include <stdint.h>

#include "marginsim/error.h"
#include "config/scenario.h"

typedef struct ms_market ms_market;

/*
 * An impact law, in the manner of gsl_rng_type: a const table chosen by
 * name (market.impact.model), separate from the instance (ms_market). The
 * law is called per fill only; the decay between fills is the same closed
 * form for every law homogeneous in Q (degree d: the impact's half-life is
 * the flow's divided by d), so the tick loop never calls through the table.
 */
typedef struct ms_impact_type {
  const char *name;          /* market.impact.model; written to the result file */
  /* Log impact of the cumulative flow @p q (USD), @p inv_depth = 1 / depth;
   * NULL: no impact (fills are ignored). */
  double (*law)(double q, double inv_depth);
  /* The impact's half-life over the flow's (1 / the law's degree of homogeneity in Q). */
  double half_life_factor;
} ms_impact_type;

extern const ms_impact_type ms_impact_none;
extern const ms_impact_type ms_impact_linear;
extern const ms_impact_type ms_impact_sqrt;

/* ms_impact_types[] (NULL-terminated, in the order of the docs) is declared in config/scenario.h. */

/** The law called @p name, or NULL. */
const ms_impact_type *ms_impact_type_find(const char *name);

ms_status ms_market_new(ms_market **out, const ms_config *cfg, ms_error *err);
void ms_market_free(ms_market *m);

/** Start a path: no flow. */
void ms_market_reset(ms_market *m);

/** Log impact just after the last fill. */
double ms_market_impact(const ms_market *m);

/** Non-zero while the impact at time @p t (>= the last fill) is not 0. */
int ms_market_active(const ms_market *m, int64_t t);

/** Log impact at time @p t (>= the last fill): a function of t alone. */
double ms_market_impact_at(const ms_market *m, int64_t t);

/** Bounds, exact as doubles, on ms_market_impact_at at every time from the last fill until the next: it decays
 *  from the fill's value toward 0 without crossing it, so *@p lo = min(0, that value), *@p hi = max(0, it). */
void ms_market_impact_range(const ms_market *m, double *lo, double *hi);

/** Cumulative flow Q (USD) at time @p t (>= the last fill). */
double ms_market_flow_at(const ms_market *m, int64_t t);

/** Ticks per chunk of the engine's bounded tick loop. */
#define MS_MARKET_CHUNK 64

/** Bounds on the log impact over MS_MARKET_CHUNK ticks after the last
 * fill, the first of which has impact @p a (ms_market_impact_at, or the
 * previous chunk's *next): lo <= ms_market_impact_at(t) <= hi at each of
 * them. The decay is monotone, so the impact lies between a and its value
 * at the chunk's last tick; both come from precomputed factors and the
 * bounds are widened by a relative 1e-9 (the products' rounding is ~1e-16
 * per chunk), and include 0 near the floor. *next: the impact at the tick
 * after the chunk, by the same factors. */
void ms_market_chunk_bounds(const ms_market *m, double a, double *lo, double *hi, double *next);

/** Add a fill of @p signed_notional USD at time @p t (>= the last fill). */
void ms_market_fill(ms_market *m, int64_t t, double signed_notional);

#endif
