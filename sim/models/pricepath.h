/*
 * pricepath — the exogenous price. The price model is a type table
 * (ms_price_model_type); today's one, market.model regime_switching
 * (sim/models/price_regime.c), is regime-switching geometric Brownian motion with
 * compound-Poisson jumps in the log price, described below.
 *
 * It knows nothing of margin, oracles, keepers or liquidations, so the
 * exogenous path of path p is the same whatever else a scenario sets
 * (common random numbers across a sweep or a model comparison).
 *
 * Randomness: one Gaussian per tick from stream PRICE; regime holding times
 * and targets from stream REGIME; jump times and sizes from stream JUMP.
 * Regime switches and jumps are events in the queue, drawn from their
 * exponential waiting times. Between ticks the price holds still; a tick
 * that straddles a regime switch gets the drift and variance of each regime
 * for the time spent in it, so the log return over any interval has exactly
 * the moments of the continuous-time model sampled at the ticks.
 *
 * market.shocks are laid on top of any model by this handle, not by the
 * models: scripted, deterministic log factors added to every tick.
 */
#ifndef MARGINSIM_PRICEPATH_H
#define MARGINSIM_PRICEPATH_H

#include <stddef.h>
#include <stdint.h>

#include "marginsim/error.h"
#include "core/queue.h"
#include "config/scenario.h"

typedef struct ms_pricepath ms_pricepath;

/** Per-path tallies kept by the model. */
typedef struct ms_pricepath_tally {
  int64_t jumps;                           /* jumps that occurred */
  int64_t switches;                        /* regime switches */
  int64_t time_in_regime[MS_MAX_REGIMES];  /* ms, up to the time passed to _tally */
} ms_pricepath_tally;

struct ms_pricetape;
typedef enum { MS_TAPE_OFF = 0, MS_TAPE_RECORD, MS_TAPE_REPLAY } ms_tape_mode;

/**
 * A price model, in the manner of GSL's gsl_rng_type: a const table of hooks
 * over the model's own state, chosen by name (market.model) from
 * ms_price_models[]. The engine reaches them only through the ms_pricepath_*
 * functions below, which dispatch per path, per event and per block of
 * ticks (fill), never per tick. Each hook has the contract of the function
 * of the same name below, with the model's state in place of the handle.
 */
typedef struct ms_price_model_type {
  const char *name;  /* market.model */
  /* Allocate and configure the state for @p cfg (one per thread). */
  ms_status (*create)(void **state, const ms_config *cfg, ms_error *err);
  void (*free)(void *state);
  /* 1 if two configs of this model give the same exogenous paths (tapes). */
  int (*same_path)(const ms_config *a, const ms_config *b);
  void (*use_tape)(void *state, struct ms_pricetape *tape, ms_tape_mode mode);
  ms_status (*start)(void *state, uint64_t seed, uint64_t path, ms_queue *q);
  int (*on_event)(void *state, const ms_event *ev, ms_queue *q);
  size_t (*fill)(void *state, int64_t t, size_t n, double *out);
  double (*log_price)(const void *state);
  int (*regime)(const void *state);
  void (*tally_at)(const void *state, int64_t t, ms_pricepath_tally *out);
  void (*stationary)(const void *state, double *pi);
  double (*vol)(const void *state);
  /* Config-level, no state: the work bounds (docs/engine.md, "Work bounds"). */
  ms_status (*check_work)(const ms_config *cfg, double max_arrivals, ms_error *err);
  double (*expected_events)(const ms_config *cfg);
  int (*event_keys)(const ms_config *cfg, int kind, char *buf, size_t len);
  int (*vol_states)(const ms_config *cfg, double *vols);
  /* The keys that move the path while regime @p regime holds (for a price
   * past the engine's bound), into @p buf. */
  void (*path_keys)(const ms_config *cfg, int regime, char *buf, size_t len);
} ms_price_model_type;

extern const ms_price_model_type ms_price_regime_switching;
extern const ms_price_model_type ms_price_replay; /* sim/models/price_replay.c */
extern const ms_price_model_type ms_price_bootstrap; /* sim/models/price_replay.c */
extern const ms_price_model_type ms_price_garch;  /* sim/models/price_garch.c */

/* ms_price_models[] (NULL-terminated) is declared in config/scenario.h. */

/** The model called @p name, or NULL. */
const ms_price_model_type *ms_price_model_find(const char *name);

/** A model for @p cfg (one per thread: it holds the path's state). */
ms_status ms_pricepath_new(ms_pricepath **out, const ms_config *cfg, ms_error *err);

/** Free; NULL is a no-op. */
void ms_pricepath_free(ms_pricepath *pp);

/** The model's table. */
const ms_price_model_type *ms_pricepath_type(const ms_pricepath *pp);

/** Stationary distribution of the regime chain (fraction of time in each regime). */
void ms_pricepath_stationary(const ms_pricepath *pp, double *pi);

/**
 * Begin path @p path at time 0: seed the streams, choose the start regime,
 * schedule the first switch and jump in @p q.
 */
ms_status ms_pricepath_start(ms_pricepath *pp, uint64_t seed, uint64_t path, ms_queue *q);

/** ms_pricepath_on_event() result for an event cancelled by a later one. */
#define MS_PRICEPATH_STALE 2

/**
 * Handle a REGIME or JUMP event and schedule the next. Returns 1 if the log
 * price jumped, 0 for a regime switch, MS_PRICEPATH_STALE for an event that
 * a regime switch cancelled (nothing happens), negative on failure.
 */
int ms_pricepath_on_event(ms_pricepath *pp, const ms_event *ev, ms_queue *q);

/**
 * Generate the log prices of up to @p n ticks starting at time @p t (then
 * t + step, ...), stopping before the model's next own event. Returns the
 * number written to @p out. The scenario's market.shocks are added here, on
 * top of the model's (and a tape's) ticks: each tick gets the shocks' log
 * factor at its time.
 */
size_t ms_pricepath_fill(ms_pricepath *pp, int64_t t, size_t n, double *out);

/** Log price after the last generated tick and any jump since (with the last tick's shocks). */
double ms_pricepath_log_price(const ms_pricepath *pp);

/** Current regime index. */
int ms_pricepath_regime(const ms_pricepath *pp);

/** The current annualised volatility options are valued at (the current regime's). */
double ms_pricepath_vol(const ms_pricepath *pp);

/*
 * Work bounds of the price model of @p cfg (docs/engine.md, "Work bounds"),
 * from the configuration alone: ms_price_check_work fails with MS_ERR_INPUT,
 * naming the key, when the model's own events (jumps, switches, ...) of one
 * path are expected beyond @p max_arrivals; ms_price_expected_events is how
 * many a path may take, at the highest rates (the path's event bound adds
 * them); ms_price_event_keys writes the keys that drive events of queue
 * kind @p kind and returns 1, or returns 0 when the model has none of it.
 */
ms_status ms_price_check_work(const ms_config *cfg, double max_arrivals, ms_error *err);

/**
 * The volatility states of the price model of @p cfg: the annualised
 * volatility for each value ms_pricepath_regime() can take, into @p vols
 * (MS_MAX_REGIMES at most); returns how many. The account index
 * precomputes the option accounts' time-0 bands for each.
 */
int ms_price_vol_states(const ms_config *cfg, double *vols);
double ms_price_expected_events(const ms_config *cfg);

/**
 * The keys that move the exogenous path of @p cfg while regime @p regime
 * holds, market.shocks included when set, into @p buf (a message's words:
 * "market.regimes[1] (drift -2, vol 1.6, ...) and market.shocks").
 */
void ms_price_path_keys(const ms_config *cfg, int regime, char *buf, size_t len);
int ms_price_event_keys(const ms_config *cfg, int kind, char *buf, size_t len);

/** Tallies of the current path, with time in regime counted up to @p t. */
void ms_pricepath_tally_at(const ms_pricepath *pp, int64_t t, ms_pricepath_tally *out);

/*
 * Tapes: the cells of a sweep or a comparison that share the price model
 * run on identical exogenous paths (common random numbers), so the first
 * cell of path p records the log price of every tick on a tape and the
 * others replay it instead of drawing a Gaussian per tick. Regime switches
 * and jumps stay live (their streams are cheap and their draws the same),
 * so a replayed path is bit-identical to a generated one.
 */
typedef struct ms_pricetape ms_pricetape;

/** A tape for the ticks of one path of @p cfg (horizon / step doubles). */
ms_status ms_pricetape_new(ms_pricetape **out, const ms_config *cfg, ms_error *err);

/** Free; NULL is a no-op. */
void ms_pricetape_free(ms_pricetape *t);

/** Bytes a tape of @p cfg takes. */
int64_t ms_pricetape_bytes(const ms_config *cfg);

/**
 * From the next ms_pricepath_start on: record the path's ticks on @p tape,
 * replay them from it (it must hold the same seed and path, recorded by a
 * model for which ms_pricepath_same_path() holds), or neither (MS_TAPE_OFF,
 * @p tape NULL).
 */
void ms_pricepath_use_tape(ms_pricepath *pp, ms_pricetape *tape, ms_tape_mode mode);

/** 1 if @p a and @p b generate the same exogenous path for every path index, before
 *  market.shocks (a tape holds the model's ticks; each cell adds its own shocks). */
int ms_pricepath_same_path(const ms_config *a, const ms_config *b);

#endif
