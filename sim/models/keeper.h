/*
 * keeper — when an eligible account is actually acted on: the keeper policy
 * type table and its handle. Today's one policy, keepers.model standard
 * (sim/models/keeper_standard.c):
 *
 * An account discovered at time t (at an oracle publish) is ready at
 * t + delay x congestion, delay drawn from the keeper stream in discovery
 * order (or given: ms_keeper_set_next_draw) and congestion = min(max_factor, 1 + per_pending x liquidations
 * already pending). Times inside an outage window move to its end.
 *
 * Without capacity (per_block = 0) a keeper acts the moment it is ready.
 * With capacity, ready accounts wait for the next block (blocks at multiples
 * of block_time); a block takes at most per_block liquidations, in order of
 * discovery; the rest wait for later blocks. A liquidation that would pay the
 * keeper less than gas_cost is skipped and retried next block (without
 * capacity: block_time later). The engine re-checks eligibility at action.
 *
 * Events: KEEPER_READY (a = account, b = discovery sequence) and BLOCK.
 */
#ifndef MARGINSIM_KEEPER_H
#define MARGINSIM_KEEPER_H

#include <stdint.h>

#include "marginsim/error.h"
#include "core/queue.h"
#include "config/scenario.h"

typedef struct ms_keeper ms_keeper;

/*
 * A keeper policy, in the manner of gsl_rng_type: a const table chosen by
 * name (keepers.model), separate from the policy's state (one per thread,
 * behind the ms_keeper handle). The engine reaches it only through the
 * ms_keeper_* functions below, called per discovered account, per keeper
 * event and per block, never per tick. Each hook has the contract of the
 * function of the same name, with the policy's state in place of the handle.
 */
typedef struct ms_keeper_type {
  const char *name;          /* keepers.model; written to the result file */
  ms_status (*create)(void **state, const ms_config *cfg, ms_error *err);
  void (*free)(void *state);
  void (*start)(void *state, uint64_t seed, uint64_t path);
  ms_status (*discover)(void *state, int64_t account, int64_t t, ms_queue *q, int64_t *delay);
  int (*on_ready)(void *state, const ms_event *ev, ms_queue *q);
  int (*block_next)(void *state, int64_t *account, int64_t *seq);
  void (*block_used)(void *state);
  void (*resolved)(void *state);
  ms_status (*defer)(void *state, int64_t account, int64_t seq, int64_t t, double mark_lo, double mark_hi,
                     int side, double elig_lo, ms_queue *q);
  int64_t (*block_begin)(void *state, double mark, const double elig[2]);
  void (*unpark_all)(void *state);
  ms_status (*block_end)(void *state, int64_t t, ms_queue *q);
  int64_t (*pending)(const void *state);
  double (*gas_cost)(const void *state);
  int64_t (*max_per_block)(const void *state);
  double (*last_draw)(const void *state);            /* optional (NULL: NAN) */
  void (*set_next_draw)(void *state, double draw);   /* optional (NULL: ignored) */
} ms_keeper_type;

extern const ms_keeper_type ms_keeper_standard;

/* ms_keeper_types[] (NULL-terminated) is declared in config/scenario.h. */

/** The policy called @p name, or NULL. */
const ms_keeper_type *ms_keeper_type_find(const char *name);

/** The policy's table. */
const ms_keeper_type *ms_keeper_get_type(const ms_keeper *k);

ms_status ms_keeper_new(ms_keeper **out, const ms_config *cfg, ms_error *err);
void ms_keeper_free(ms_keeper *k);

/** Start a path. */
void ms_keeper_start(ms_keeper *k, uint64_t seed, uint64_t path);

/** An account was discovered eligible at @p t: schedule its keeper. Sets *delay (ms). */
ms_status ms_keeper_discover(ms_keeper *k, int64_t account, int64_t t, ms_queue *q, int64_t *delay);

/**
 * A KEEPER_READY event. Returns 1 when the engine should act on ev->a now,
 * 0 when it was queued for a block, negative on failure.
 */
int ms_keeper_on_ready(ms_keeper *k, const ms_event *ev, ms_queue *q);

/** BLOCK: next account to act on in this block (1), or 0 when the block is full or empty. */
int ms_keeper_block_next(ms_keeper *k, int64_t *account, int64_t *seq);

/** BLOCK: the account just taken was liquidated (uses capacity). */
void ms_keeper_block_used(ms_keeper *k);

/** The account was liquidated or found healthy: it is no longer pending. */
void ms_keeper_resolved(ms_keeper *k);

/**
 * Skip an unprofitable liquidation: retry it at the first block at which the
 * mark has left (mark_lo, mark_hi) or the eligibility probe of @p side
 * (0: longs, 1: shorts; see ms_keeper_block_begin) has come down to
 * @p elig_lo. An empty mark box (mark_lo >= mark_hi) means the next block;
 * elig_lo = -INFINITY, no eligibility bound.
 */
ms_status ms_keeper_defer(ms_keeper *k, int64_t account, int64_t seq, int64_t t, double mark_lo,
                          double mark_hi, int side, double elig_lo, ms_queue *q);

/**
 * Start of a BLOCK: release into this block the parked accounts whose box
 * the prices have left: the mark @p mark, and the eligibility probes
 * @p elig (longs, shorts) of the current oracle price and margin ratio, in
 * the coordinates the engine keys parked accounts by (engine/liquidate.c,
 * park()). Returns how many stay parked, negative on failure.
 */
int64_t ms_keeper_block_begin(ms_keeper *k, double mark, const double elig[2]);

/** The boxes are stale (collateral changed): release every parked account at the next block. */
void ms_keeper_unpark_all(ms_keeper *k);

/** BLOCK done at @p t: schedule the next block if work is left. */
ms_status ms_keeper_block_end(ms_keeper *k, int64_t t, ms_queue *q);

/** The random part of the last discovery's delay (ms, before congestion and outages); NAN if none. */
double ms_keeper_last_draw(const ms_keeper *k);

/**
 * The next discovery takes @p draw (a value ms_keeper_last_draw gave) as the
 * random part of its delay instead of drawing one (and the stream moves on
 * as if it had not been asked). The contagion twins of a book of several
 * markets give a unit the delays it drew in the path: common random numbers,
 * not draws shifted by the other markets' discoveries.
 */
void ms_keeper_set_next_draw(ms_keeper *k, double draw);

/** Liquidations pending (discovered, not yet resolved). */
int64_t ms_keeper_pending(const ms_keeper *k);

/** Gas cost a liquidation must beat (USD). */
double ms_keeper_gas_cost(const ms_keeper *k);

/** Largest number of liquidations any block took in this path. */
int64_t ms_keeper_max_per_block(const ms_keeper *k);

#endif
