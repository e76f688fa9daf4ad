/*
 * funding — periodic payments between longs and shorts (docs/engine.md,
 * "Funding"): the premium each interval averages, the exogenous premium
 * process, and the rate of each payment. Who pays whom, and how much, is
 * the engine's (sim/engine/loop.c): this module says at what rate.
 *
 * The premium of a sample at time s is (mark - index) / index =
 * exp(impact(s)) - 1, the index being the exogenous price: only the book's
 * own liquidation flow moves it. The samples of an interval (T0, T0 + I]
 * are at T0 + k sample_every, k = 1 .. floor(I / sample_every), each seeing
 * the state after every event at its time. The impact at a past time is
 * known in closed form only until the next fill changes the flow, so the
 * engine accrues the samples before each fill (ms_funding_accrue) and the
 * rest at the payment: samples stay exact at no cost per tick, and where
 * the impact has decayed to exactly 0 the rest of the samples are 0 and
 * are counted without being evaluated.
 *
 * The exogenous premium is an Ornstein–Uhlenbeck process X with mean mu,
 * stationary standard deviation s and mean reversion kappa = ln 2 /
 * half_life, started from its stationary law at each path's start; an
 * interval adds the continuous-time mean of X over it, drawn exactly with
 * X's value at its end (two normals a payment, ms_funding_ou_step). With
 * premium.regimes, mu is the current regime's: a switch steps X to its time
 * under the old mean (two more normals), the integral adding up the pieces.
 */
#ifndef MARGINSIM_FUNDING_H
#define MARGINSIM_FUNDING_H

#include <stdint.h>

#include "config/scenario.h"
#include "marginsim/error.h"
#include "models/market.h"

typedef struct ms_funding ms_funding;

/** What one payment of a path was computed from. */
typedef struct ms_funding_pay {
  int64_t t;            /* ms */
  double premium;       /* the interval's mean premium: samples + the exogenous process's mean */
  double rate;          /* the payment's rate (per interval, capped): longs pay rate x notional */
} ms_funding_pay;

/** Who pays whom in one payment (ms_funding_flow_of). */
typedef struct ms_funding_flow {
  int payer;            /* the paying side: 0 longs, 1 shorts */
  double charge;        /* USD per unit charged to the payers (0: none) */
  double credit;        /* USD per unit credited to the receivers (0: none) */
  double paid, got;     /* USD, what the payers paid and the receivers got (both 0: no payment) */
} ms_funding_flow;

/** A side holding less than this share of its units at the start holds none (ms_funding_flow_of). */
#define MS_FUNDING_QTY_FLOOR 1e-9

/**
 * The flow of a payment at rate @p rate (not 0) between the sides of a
 * market holding @p qty units now (longs, shorts) and @p qty0 at the
 * start, at the price funding.price names of @p mark, @p oracle and @p
 * index (USD): the payers pay |rate| x price per unit; with receivers
 * pro_rata the receivers share it by their units (no payment when either
 * side holds none), with rate each receives |rate| x price per unit, the
 * market outside the book taking the difference. A side below
 * MS_FUNDING_QTY_FLOOR x its start holds none: sums of units keep rounding
 * residue after the last account closes, and a payment to that residue
 * would be money given to no account.
 */
void ms_funding_flow_of(const ms_funding_cfg *c, double rate, double mark, double oracle, double index,
                        const double qty[2], const double qty0[2], ms_funding_flow *out);

ms_status ms_funding_new(ms_funding **out, const ms_config *cfg, ms_error *err);
void ms_funding_free(ms_funding *f);

/** Draw the exogenous premium from random stream @p stream (rng.h) instead of MS_STREAM_FUNDING: each market of a
 *  book of several markets has its own. */
void ms_funding_set_stream(ms_funding *f, uint32_t stream);

/** Start a path in regime @p regime: the first interval, the exogenous
 * premium drawn from its stationary law about that regime's mean. */
void ms_funding_start(ms_funding *f, uint64_t seed, uint64_t path, int regime);

/** The price model switched to @p regime at @p t: with premium.regimes the
 * premium reverts to that regime's mean from t on (exact: the process is
 * stepped to t under the old mean first). */
void ms_funding_regime(ms_funding *f, int64_t t, int regime);

/** Time of the next payment (ms), or INT64_MAX when none is left before the horizon. */
int64_t ms_funding_next(const ms_funding *f);

/** Take the samples before @p t (a fill at @p t is about to change the flow of @p mk). */
void ms_funding_accrue(ms_funding *f, const ms_market *mk, int64_t t);

/** The payment at ms_funding_next(): the interval's last samples, its rate; the next interval begins. */
void ms_funding_settle(ms_funding *f, const ms_market *mk, ms_funding_pay *out);

/** The payment's rate from an interval's mean premium @p premium (pure). */
double ms_funding_rate(const ms_funding_cfg *c, double premium);

/**
 * A span of length @p h (ms) of the OU process of mean @p mu (sd and
 * half-life of @p p) from @p x0: its value at the end and its
 * time-average over the span, from two standard normals @p z1, @p z2
 * (exact: the pair is jointly Gaussian; with sd 0 the relaxation alone).
 */
void ms_funding_ou_step(const ms_premium_cfg *p, double mu, double x0, double h, double z1, double z2, double *x1,
                        double *avg);

#endif
