/*
 * market — the mark price: exogenous price x exp(impact).
 *
 * Impact is a law of Q, the cumulative signed liquidation flow in USD
 * (liquidated longs sell: negative; liquidated shorts buy: positive), which
 * decays with half-life market.impact.half_life:
 *   linear: impact = 0.01 Q / depth
 *   sqrt:   impact = 0.01 sign(Q) sqrt(|Q| / depth)
 *   none:   impact = 0
 * depth being the flow that moves the price 1%. Impact below 1e-12 in log
 * terms is set to exactly 0 (the engine's fast path).
 */
#ifndef MARGINSIM_MARKET_H
#define MARGINSIM_MARKET_H

#include <stdint.h>

#include "marginsim/error.h"
#include "marginsim/scenario.h"

typedef struct ms_market ms_market;

ms_status ms_market_new(ms_market **out, const ms_config *cfg, ms_error *err);
void ms_market_free(ms_market *m);

/** Start a path: no flow. */
void ms_market_reset(ms_market *m);

/** Log impact as of the last advance or fill. */
double ms_market_impact(const ms_market *m);

/** Non-zero while there is flow to decay. */
int ms_market_active(const ms_market *m);

/** Log impact at time @p t (>= the last time) without changing the state. */
double ms_market_impact_at(const ms_market *m, int64_t t);

/** Decay the flow to time @p t (>= the last time). */
void ms_market_advance(ms_market *m, int64_t t);

/** Log impact at the @p n ticks t0, t0 + step, ... (t0 >= the last time),
 * bit for bit what advancing tick by tick would give, without changing the
 * state: the engine's tick loop reads it ahead. */
void ms_market_impacts(const ms_market *m, int64_t t0, int64_t n, double *out);

/** Advance through the @p n ticks t0, t0 + step, ...: the same state as
 * ms_market_advance at each of them in turn. */
void ms_market_advance_ticks(ms_market *m, int64_t t0, int64_t n);

/** Add a fill of @p signed_notional USD at time @p t (decaying first). */
void ms_market_fill(ms_market *m, int64_t t, double signed_notional);

/** Cumulative flow Q (USD) as of the last advance or fill. */
double ms_market_flow(const ms_market *m);

#endif
