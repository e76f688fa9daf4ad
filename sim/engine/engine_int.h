/*
 * engine_int — what the engine's tests may reach: the per-path account state,
 * and a hook to replace the account index by another way of finding
 * eligible accounts and ADL counterparties (the brute-force twin).
 */
#ifndef MS_ENGINE_INT_H
#define MS_ENGINE_INT_H

#include "engine/accounts.h"
#include "engine/acctindex.h"
#include "engine/engine.h"
#include "models/margin.h"

typedef struct ms_finder_ops {
  /* Open accounts that may be eligible at the probe (a superset, no repeats). */
  int (*candidates)(void *self, const ms_accounts *a, const ms_margin *m, const ms_probe *pr, ms_idbuf *out);
  /* An open account changed, or was a candidate and is not eligible. */
  int (*rekey)(void *self, const ms_accounts *a, const ms_margin *m, int64_t id, const ms_probe *pr);
  /* Best-ranked open account of a side for ADL, or -1. */
  int64_t (*adl_next)(void *self, const ms_accounts *a, int side);
} ms_finder_ops;

/** Replace the account index (NULL ops: back to the index). */
void ms_engine_set_finder(ms_engine *e, const ms_finder_ops *ops, void *self);

/** 1: re-examine every skipped liquidation at every block (no parking); for tests. */
void ms_engine_set_parking(ms_engine *e, int enabled);

/** 1: evaluate the mark at every tick instead of within impact bounds; for tests. */
void ms_engine_set_exact_ticks(ms_engine *e, int enabled);

/** Drop closed accounts' entries from a pool of @p entries on (SIZE_MAX: keep them, their
 * cash readable after the path); for tests (default MS_ACCT_DROP_FROM). */
void ms_engine_set_drop_from(ms_engine *e, size_t entries);

/** The account state after the last path. */
const ms_accounts *ms_engine_accounts(const ms_engine *e);

/** The margin model of the workspace. */
const ms_margin *ms_engine_margin(const ms_engine *e);

/** Room (in records) of the workspace's liquidation and cascade buffers: with sinks, at most MS_LIQ_BLOCK. */
void ms_engine_buffer_room(const ms_engine *e, size_t *records, size_t *cascades);

/** Final mark price of the last path. */
double ms_engine_final_mark(const ms_engine *e);

/** The engine of several markets of a book.markets workspace (multi.h), NULL otherwise. */
struct ms_multi *ms_engine_multi(const ms_engine *e);

/** Where the last path ended: final mark, horizon, regime vol (to value what is still open). */
void ms_engine_final_view(const ms_engine *e, ms_view *v);

#endif
