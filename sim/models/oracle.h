/*
 * oracle — the price the protocol sees.
 *
 * The oracle is a type table (ms_oracle_type, chosen by oracle.kind):
 * push (Chainlink-like): a round starts when the reported value moves more
 * than `deviation` from the last published price, or when `heartbeat` has
 * passed since the last publish; one round at a time; it publishes the value
 * observed at its start after a latency drawn from the oracle stream.
 * pull (Pyth-like): a round every `interval`, each publishing after its own
 * latency; a publish older than the current price is dropped.
 * twap: the reported value is the mean of the mark over the last `twap`
 * (sampled at each tick) instead of the spot mark.
 *
 * Each observation also records the value computed from the exogenous path
 * alone (no impact) at the same moment: the counterfactual the cascade
 * statistics use to tell impact-triggered liquidations.
 */
#ifndef MARGINSIM_ORACLE_H
#define MARGINSIM_ORACLE_H

#include <stdint.h>

#include "marginsim/error.h"
#include "core/queue.h"
#include "config/scenario.h"

typedef struct ms_oracle ms_oracle;

/*
 * An oracle model, in the manner of gsl_rng_type: a const table chosen by
 * name (oracle.kind), separate from the instance (ms_oracle). Its hooks run
 * per path and per oracle event. Whether a move of the reported value can
 * start a round is a data field (deviation_rounds), read when the instance
 * is made: the tick loop tests the band of ms_oracle_band inline and never
 * calls through the table. TWAP is a setting of either (oracle.twap).
 */
typedef struct ms_oracle_type {
  const char *name;          /* oracle.kind; written to the result file */
  int deviation_rounds;      /* a round starts when the reported value leaves the deviation band */
  /* Schedule the first round(s) of a path (the start price is current). */
  ms_status (*start)(ms_oracle *o, ms_queue *q);
  /* An ORACLE_ROUND event; @p v, @p ve: the value a round would observe now and its exogenous twin. */
  ms_status (*on_round)(ms_oracle *o, const ms_event *ev, double v, double ve, ms_queue *q);
  /* An ORACLE_PUBLISH event: 1 if the published price becomes current. */
  int (*accepts)(const ms_oracle *o, const ms_event *ev);
  /* After a publish became current, with the current log prices. */
  ms_status (*published)(ms_oracle *o, const ms_event *ev, double lm, double le, ms_queue *q);
  /* The longest time between scheduled rounds (ms) of @p cfg, 0 if none: the path's event bound. */
  int64_t (*round_every)(const ms_config *cfg);
} ms_oracle_type;

extern const ms_oracle_type ms_oracle_push;
extern const ms_oracle_type ms_oracle_pull;

/* ms_oracle_types[] (NULL-terminated) is declared in config/scenario.h. */

/** The model called @p name, or NULL. */
const ms_oracle_type *ms_oracle_type_find(const char *name);

/** The time between the scheduled rounds of oracle.kind (ms; 0: none), for the work bounds. */
int64_t ms_oracle_round_every(const ms_config *cfg);

/** A published price. */
typedef struct ms_oracle_price {
  double price;   /* USD, what the protocol uses */
  double exog;    /* USD, the same observation of the exogenous path alone */
  int64_t t_obs;  /* ms, when it was observed */
  int64_t t_pub;  /* ms, when it was published */
} ms_oracle_price;

ms_status ms_oracle_new(ms_oracle **out, const ms_config *cfg, ms_error *err);
void ms_oracle_free(ms_oracle *o);

/** Start path @p path: the price @p p0 is published at time 0; rounds are scheduled. */
ms_status ms_oracle_start(ms_oracle *o, uint64_t seed, uint64_t path, double p0, ms_queue *q);

/** 1 if every tick must be passed to ms_oracle_tick() (TWAP mode). */
int ms_oracle_samples_ticks(const ms_oracle *o);

/**
 * Band of log mark prices inside which a spot push oracle starts no round
 * (-inf, +inf when no deviation round can start now). Lets the tick loop test
 * two numbers instead of calling in.
 */
void ms_oracle_band(const ms_oracle *o, double *lo, double *hi);

/*
 * Prices come in as logs (lm: log mark, le: log exogenous price), so that the
 * band test of the tick loop and the oracle's own test are the same arithmetic.
 */

/**
 * The mark changed at @p t (a tick, a jump or a fill): start a deviation
 * round if due. @p started is set to 1 when a round started.
 */
ms_status ms_oracle_on_mark(ms_oracle *o, int64_t t, double lm, double le, ms_queue *q, int *started);

/** TWAP mode: the tick at @p t sampled the mark; may start a round. */
ms_status ms_oracle_tick(ms_oracle *o, int64_t t, double lm, double le, ms_queue *q, int *started);

/**
 * Handle an ORACLE_ROUND or ORACLE_PUBLISH event with the current log prices.
 * @p published is set to 1 when a new price became current.
 */
ms_status ms_oracle_on_event(ms_oracle *o, const ms_event *ev, double lm, double le, ms_queue *q,
                             int *published);

/** The current published price. */
const ms_oracle_price *ms_oracle_current(const ms_oracle *o);

/** Rounds published so far in this path. */
int64_t ms_oracle_publishes(const ms_oracle *o);

#endif
