/*
 * acctindex — the engine's account index: which accounts can be eligible at
 * an oracle price, and which opposite position auto-deleveraging takes next,
 * without scanning the book. Private to the engine.
 *
 * Per side, the book's accounts sorted once by their index key (see
 * ms_margin_key) with a cursor: the accounts eligible at price P form a
 * prefix (key < boundary(P)), and a price move costs O(accounts newly found).
 * Accounts whose state a path changed leave that array for a per-thread heap
 * keyed the same way; heap entries carry the account's version and go stale
 * when it changes again. The same scheme, keyed by per-unit collateral,
 * ranks ADL counterparties.
 */
#ifndef MS_ACCTINDEX_H
#define MS_ACCTINDEX_H

#include <stdint.h>

#include "accounts.h"
#include "marginsim/book.h"
#include "marginsim/error.h"
#include "marginsim/margin.h"

typedef struct {
  double key;
  int32_t id;
} ms_keyed;

/* Sorted arrays of one book: shared by every thread of a run. */
typedef struct ms_index_static {
  int64_t n[2];
  ms_keyed *liq[2];        /* by (liquidation key, id) */
  ms_keyed *adl[2];        /* by (ADL key, id); may alias liq */
} ms_index_static;

/* per_path: room for re-sorting books drawn anew each path. */
ms_status ms_index_static_build(ms_index_static **out, const ms_book *b, const ms_margin *m,
                                int per_path, ms_error *err);
/* Re-sort for a newly drawn book of the same size. */
ms_status ms_index_static_rebuild(ms_index_static *s, const ms_book *b, const ms_margin *m, ms_error *err);
void ms_index_static_free(ms_index_static *s);

/* A growable list of account ids. */
typedef struct {
  int64_t *v;
  size_t n, cap;
} ms_idbuf;

int ms_idbuf_push(ms_idbuf *b, int64_t id);

typedef struct ms_index ms_index;

ms_status ms_index_new(ms_index **out, ms_error *err);
void ms_index_free(ms_index *x);

/** Start a path on @p st. */
void ms_index_reset(ms_index *x, const ms_index_static *st);

/**
 * Append to @p out the open accounts that may be eligible at oracle price
 * @p P (a superset: the caller checks each). Returned accounts leave the
 * index; the caller marks them pending or hands them back with _rekey.
 */
int ms_index_candidates(ms_index *x, const ms_accounts *a, const ms_margin *m, double P, double E,
                        ms_idbuf *out);

/** An open account changed, or was a candidate and is not eligible: index it under its keys. */
int ms_index_rekey(ms_index *x, const ms_accounts *a, const ms_margin *m, int64_t id, double E);

/** Best-ranked open account of side @p side for ADL (lowest ADL key, then id), or -1. */
int64_t ms_index_adl_next(ms_index *x, const ms_accounts *a, int side);

#endif
