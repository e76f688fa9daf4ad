/*
 * multi — the engine of a book whose accounts hold positions in several
 * markets (book.markets; docs/engine.md, "Several markets"). Private to
 * sim/engine/: ms_engine_new builds one when book.markets.enabled, and
 * ms_engine_run_path hands it the path.
 *
 * Every market is the scenario as its asset sees it (ms_config_for_asset):
 * its own price path (the one a scenario trading it alone would draw, from
 * the same streams), impact, oracle and margin parameters, with its own
 * event queue; the keepers share one queue. The loop merges the queues by
 * (time, kind, market), the keepers' last, and moves every market's tick
 * at once.
 *
 * A margin unit is an account under cross margin (its collateral pooled
 * over its positions) or one position under isolated margin. A unit is
 * eligible when its equity, collateral plus every position's PnL at its
 * market's oracle price, is below the sum of its positions' maintenance
 * requirements. The book is not scanned at a publish: each unit's surplus
 * S at its last check is split among its positions by notional, and each
 * position gets the price of its market at which its share would be spent
 * if that market alone moved against it (with the requirement's steepest
 * slope). While no market's oracle price crosses one of the unit's prices,
 * the losses in all markets together stay below S: the unit cannot be
 * eligible. Per market, two heaps keyed by these prices give the units to
 * look at when its oracle publishes. Charges to a side (socialized losses,
 * funding) count as a move of its price, at the least give-back of the
 * requirement's slopes (exact where the requirement is linear).
 * A position holding option legs (book.options) is valued and margined as a
 * one-market option account of its market, and gets instead of a bound
 * price the band of one (ms_margin_band on its share of the surplus): a
 * price interval, a time and a room for charges to its perp's side; a
 * regime switch has its market's option units looked at at the next check.
 * ms_multi_set_bruteforce checks every open unit at every publish instead
 * (the tests' twin).
 */
#ifndef MS_MULTI_H
#define MS_MULTI_H

#include "config/scenario.h"
#include "engine/records.h"
#include "marginsim/error.h"
#include "models/book.h"

struct ms_engine;
typedef struct ms_multi ms_multi;

/** The markets, queues and book of @p cfg (book.markets.enabled) for engine @p e. With @p lender, the
 * multi of another engine of the same run (same @p cfg), a book drawn once per run is @p lender's, read and
 * not drawn again (book.resample: per_path draws its own); @p lender must outlive this one's paths, and its
 * book must not be set (ms_multi_set_book) after it lent it. */
ms_status ms_multi_new(ms_multi **out, struct ms_engine *e, const ms_config *cfg, const ms_multi *lender,
                       ms_error *err);
void ms_multi_free(ms_multi *m);

/** Run path @p path (ms_engine_run_path's contract). */
ms_status ms_multi_run_path(struct ms_engine *e, ms_multi *m, uint64_t path, ms_path_summary *out, ms_trace *trace,
                            ms_error *err);

/** Tests: check every open unit at every publish (1), or use the bounds (0, the default). */
void ms_multi_set_bruteforce(ms_multi *m, int on);

/** Tests: the book as drawn for the last path. */
typedef struct ms_multi_pos {
  double q;            /* signed perp units */
  int32_t market;      /* index into market.assets */
  int32_t unit;        /* its margin unit */
  int32_t opt;         /* its option strategy: index into the book's option accounts (legs), -1 none */
} ms_multi_pos;
typedef struct ms_multi_unit {
  double C;            /* USD collateral */
  int64_t account;     /* the book's account */
  int32_t first, n;    /* its positions */
} ms_multi_unit;
void ms_multi_book(const ms_multi *m, const ms_multi_unit **units, int64_t *nunits, const ms_multi_pos **pos,
                   int64_t *npos);

/** Tests: replace the drawn book (used from the next path on, until the next draw: per_path books draw again);
 *  @p opts (@p nopts of them) the option strategies positions refer to (ms_multi_pos.opt), their legs' expiries
 *  (ms) and entry values as the book draws them. */
ms_status ms_multi_set_book(ms_multi *m, const ms_multi_unit *units, int64_t nunits, const ms_multi_pos *pos,
                            int64_t npos, const ms_opt_account *opts, int64_t nopts, ms_error *err);

/** Tests: after a path (run with stats.contagion false: else the state is its last contagion twin's), the
 *  money at time @p t (the horizon): the units' value (what closed units kept, the
 *  effective collateral of open ones and their PnL at each market's mark), the PnL the book realised against
 *  the market at its fills, and the open positions' PnL. With the fund and the keepers' rewards: the money
 *  identity (docs/engine.md, "Several markets"). */
void ms_multi_money(const ms_multi *m, int64_t t, double *units_value, double *realized, double *unrealized);

/** Tests: after a path, the count of live heap entries the engine keeps (what tidies the heaps) and the sum of
 *  its open units' entries, which it must equal. */
void ms_multi_index_counts(const ms_multi *m, int64_t *live, int64_t *of_units);

/** Tests: after a path (as ms_multi_money), unit @p id's status (MS_ACCT_*) and effective collateral (USD). */
int ms_multi_unit_state(const ms_multi *m, int64_t id, double *cash);

/** For tests: each path's epochs of repricing (a regime switch, a ratio update) start at @p e instead of 0, to
 *  reach the counter's wrap within a path. */
void ms_multi_set_epoch_start(ms_multi *m, uint32_t e);

#endif
