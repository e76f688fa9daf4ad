/*
 * engine — the discrete-event loop of one path.
 *
 * A per-thread workspace: allocated once, then ms_engine_run_path() runs
 * path p from time 0 to the horizon: exogenous ticks, regime switches and
 * jumps, market impact, oracle rounds, keeper actions and liquidations. It
 * fills a summary row, the path's liquidation and cascade records (kept,
 * or streamed to the caller's sinks in blocks: ms_engine_set_sinks) and,
 * when asked, a trace of sampled values (engine/records.h). Nothing is
 * allocated inside the loop except when a growable buffer (records, pools)
 * outgrows every earlier path; the workspace is reset between paths by
 * undoing what the path touched.
 */
#ifndef MARGINSIM_ENGINE_H
#define MARGINSIM_ENGINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "models/book.h"
#include "marginsim/error.h"
#include "config/scenario.h"
#include "engine/records.h"

/*
 * Work bounds (docs/engine.md, "Work bounds"): no scenario can loop for
 * ever. Past any of them a path stops with MS_ERR_INPUT naming the keys
 * that drive the work. Generous: no meaningful scenario comes near them.
 */
/** Expected jumps, or regime switches, of one path (rate x horizon, at the
 *  highest rate): more is rejected before any path runs. */
#define MS_MAX_EXPECTED_ARRIVALS 1e8
/** Events at one simulated millisecond: this + MS_INSTANT_EVENTS_PER_ACCOUNT x book.accounts. */
#define MS_MAX_INSTANT_EVENTS 1000000
#define MS_INSTANT_EVENTS_PER_ACCOUNT 16
/** Events of one path other than keeper arrivals (one per discovered account):
 *  MS_MAX_PATH_EVENTS + MS_PATH_EVENTS_FACTOR x (what the scenario implies: ticks,
 *  blocks, samples, margin updates, oracle heartbeats or intervals, 2 x accounts for
 *  expiries, expected jumps and switches) + MS_PATH_EVENTS_PER_LIQUIDATION x
 *  liquidations so far (each fill can start an oracle round). */
#define MS_MAX_PATH_EVENTS 1e7
#define MS_PATH_EVENTS_FACTOR 16
#define MS_PATH_EVENTS_PER_LIQUIDATION 4
/** Events between two looks at the cancel flag and the bounds: a signal
 *  stops a path within milliseconds. */
#define MS_CANCEL_CHECK_EVENTS 1024
/** The mark may move at most this factor away from the exogenous price
 *  (|impact| <= ln of it): beyond, the money no longer means anything. */
#define MS_MAX_MARK_MOVE 1e6
/* MS_MAX_PRICE_MOVE: config/scenario.h (a replay's candles are checked against it at load). */

/** Number of samples per traced path: t = 0, every, 2 every, ... <= horizon. */
int64_t ms_trace_len(const ms_config *cfg);

/** The time (ms) of fan sample @p j of output.fan.points: j * horizon / (points - 1). */
int64_t ms_fan_time(const ms_config *cfg, int64_t j);

/* The sorted account index of a book (private to the engine). */
struct ms_index_static;

typedef struct ms_engine ms_engine;

/**
 * A workspace for @p cfg. With book.resample: per_run, @p book and @p index
 * are the run's shared book and its sorted index (ms_engine_shared_new);
 * with per_path both are NULL and the workspace draws its own.
 */
ms_status ms_engine_new(ms_engine **out, const ms_config *cfg, const ms_book *book,
                        const struct ms_index_static *index, ms_error *err);

/**
 * The same, for another thread of the run whose engine @p first is: a book
 * of several markets drawn once per run is then @p first's, read by both
 * (ms_multi_new's lender), not drawn again. @p first must outlive the new
 * workspace's paths; NULL: as ms_engine_new.
 */
ms_status ms_engine_new_beside(ms_engine **out, const ms_config *cfg, const ms_book *book,
                               const struct ms_index_static *index, const ms_engine *first, ms_error *err);

/** Free; NULL is a no-op. */
void ms_engine_free(ms_engine *e);

/**
 * Stop a path soon after *@p cancel becomes non-zero (checked every
 * MS_CANCEL_CHECK_EVENTS events): ms_engine_run_path() then returns
 * MS_ERR_CANCELLED. NULL: never.
 */
void ms_engine_set_cancel(ms_engine *e, const volatile sig_atomic_t *cancel);

/**
 * The work bounds a scenario can break before it runs: expected jumps or
 * regime switches per path beyond MS_MAX_EXPECTED_ARRIVALS (MS_ERR_INPUT,
 * naming the key). ms_engine_shared_new() checks it.
 */
ms_status ms_engine_check_work(const ms_config *cfg, ms_error *err);

/**
 * Draw and check the books of paths 0 .. @p n - 1 as a run with
 * book.resample: per_path will (each on fresh margin state): the first
 * failure as "path P: book: ...". per_run: nothing to do. Between books,
 * *@p cancel non-zero (may be NULL) stops with MS_ERR_CANCELLED.
 */
ms_status ms_engine_check_books(const ms_config *cfg, int64_t n, const volatile sig_atomic_t *cancel,
                                ms_error *err);

/**
 * Run path @p path to the horizon. @p trace may be NULL (no sampling).
 * The result depends only on (configuration, seed, path).
 */
ms_status ms_engine_run_path(ms_engine *e, uint64_t path, ms_path_summary *out, ms_trace *trace,
                             ms_error *err);

/**
 * Sample the exogenous and mark prices (USD) and the regime of the next
 * path run at the output.fan.points times of ms_fan_time() into @p price,
 * @p mark and @p regime (arrays of that length); NULLs: no fan. Sampling
 * reads the state and changes nothing: a path's results do not depend on it.
 */
void ms_engine_set_fan(ms_engine *e, double *price, double *mark, int32_t *regime);

struct ms_pricetape;

/**
 * Record the exogenous ticks of the next paths on @p tape, or replay them
 * from it (see ms_pricepath_use_tape); MS_TAPE_OFF (0) with NULL: neither.
 */
void ms_engine_use_tape(ms_engine *e, struct ms_pricetape *tape, int mode);

/** Records go to a sink in blocks of at most this many (docs/engine.md, "Records and sinks"). */
#define MS_LIQ_BLOCK 4096

/** Takes @p n liquidation records (valid during the call only); a failure fills @p err. */
typedef ms_status (*ms_liq_sink)(void *ctx, const ms_liq_record *r, size_t n, ms_error *err);
/** Takes @p n cascade records (valid during the call only); a failure fills @p err. */
typedef ms_status (*ms_cascade_sink)(void *ctx, const ms_cascade_record *c, size_t n, ms_error *err);

/**
 * Deliver the path's liquidation records to @p liq (in time order,
 * generation and cascade already set, in blocks of at most MS_LIQ_BLOCK,
 * the last block at the end of the path) and its cascade records to @p cas
 * (each once it is closed, in index order; blocks of at most
 * MS_LIQ_BLOCK, the last at the end of the path) instead of keeping them.
 * Never with n = 0. Each sink is called with @p ctx, from the thread
 * running the path; its failure stops the path, and ms_engine_run_path()
 * returns its status with "path P: " and its message. A path that fails
 * delivers nothing more. NULL sink: keep them (the default):
 * ms_engine_records() and ms_engine_cascades() give them after the path.
 * With a sink the workspace holds at most MS_LIQ_BLOCK records (or
 * cascades) of a path; setting one drops what an earlier path kept.
 */
void ms_engine_set_sinks(ms_engine *e, ms_liq_sink liq, ms_cascade_sink cas, void *ctx);

/** The liquidation records of the last path without a liquidation sink (valid until the next run). */
ms_liq_record *ms_engine_records(ms_engine *e, size_t *n);

/** After ms_engine_run_path without a cascade sink: the path's cascade records (valid until the next run). */
const ms_cascade_record *ms_engine_cascades(ms_engine *e, size_t *n);

/** The book the last path ran on. */
const ms_book *ms_engine_book(const ms_engine *e);

/** The run's shared book and index (per_run books); NULLs for per_path. */
ms_status ms_engine_shared_new(const ms_config *cfg, ms_book **book, struct ms_index_static **index,
                               ms_error *err);
void ms_engine_shared_free(ms_book *book, struct ms_index_static *index);

/** One row of /book for a book of several markets (book.markets): a position at the start. */
typedef struct ms_multi_book_row {
  int64_t account;           /* the book's account */
  int64_t unit;              /* its margin unit: a cross account, or one isolated position */
  int64_t unit_positions;    /* positions the unit's collateral backs (1: isolated, or one market) */
  int64_t market;            /* index into market.assets */
  int64_t side;              /* perp: +1 long, -1 short, 0 none */
  int64_t strategy;          /* -1 perp only, else book.options.strategies kind */
  double collateral;         /* USD: the unit's deposit (before premiums) */
  double entry_price;        /* USD: the market's initial price */
  double quantity;           /* signed perp units */
  double notional;           /* USD gross at entry: the perp and short options' underlying */
  double initial_margin;     /* USD: the position's, under its market's margin rules, at entry */
  double maintenance_margin; /* USD: likewise */
  double call_strike, call_qty; /* call leg: USD strike, signed units (0: none) */
  double put_strike, put_qty;   /* put leg */
  double expiry;             /* s, of the option legs (NaN: none) */
  double premium;            /* USD: the position's premiums received (> 0) or paid (< 0) at entry */
} ms_multi_book_row;

struct ms_multi;

/** The book of several markets engine @p e drew when it was created (path 0's with book.resample per_path), for
 *  /book, and *@p n, its rows (positions); NULL (and 0) for an engine of one market. Read only; valid until @p e
 *  runs a path (a book drawn per path is drawn again) or is freed. */
const struct ms_multi *ms_engine_multi_book_of(const ms_engine *e, int64_t *n);

/** Rows @p first .. @p first + @p count - 1 of that book's /book into @p rows, one per position in unit order. */
void ms_engine_multi_book_rows(const struct ms_multi *m, int64_t first, int64_t count, ms_multi_book_row *rows);

#endif
