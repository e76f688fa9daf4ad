/*
 * acctindex — the engine's account index: which accounts can be eligible at
 * an oracle price, and which opposite position auto-deleveraging takes next,
 * without scanning the book. Private to the engine.
 *
 * Perp-only accounts: per side, the book's accounts sorted once by their
 * index key (ms_margin_key) with a cursor: those eligible at price P form a
 * prefix (key < boundary(P)), so a price move costs O(accounts newly found).
 *
 * Option accounts: each has a band (ms_margin_band) — a price interval, a
 * time, a maintenance ratio and a socialized-loss shift up to which it is
 * surely not eligible. Bands at time 0 are computed once per book for every
 * regime and sorted by each bound; a cursor per bound finds the accounts
 * whose band the path has left. A band holds for its regime's volatility:
 * each regime keeps its own cursors and heaps across switches, so a band is
 * used again when its regime returns; at a switch only the touched option
 * accounts without a band of the new regime at their current version are
 * re-examined.
 *
 * Accounts whose state a path changed leave the sorted arrays for per-thread
 * heaps keyed the same way; heap entries carry the account's version and go
 * stale when it changes again. The same scheme, keyed by per-unit collateral,
 * ranks ADL counterparties (perp-only accounts).
 */
#ifndef MS_ACCTINDEX_H
#define MS_ACCTINDEX_H

#include <stdint.h>

#include "core/sort.h"
#include "engine/accounts.h"
#include "models/book.h"
#include "marginsim/error.h"
#include "models/margin.h"

enum { MS_BAND_LO, MS_BAND_HI, MS_BAND_T, MS_BAND_RATIO, MS_BAND_SHIFT, MS_NBAND };

/* Sorted arrays of one book: shared by every thread of a run. */
typedef struct ms_index_static {
  int64_t n[2];
  ms_keyed *liq[2];        /* perp-only accounts by (liquidation key, id) */
  ms_keyed *adl[2];        /* perp-only accounts by (ADL key, id); may alias liq */
  int nregimes;            /* the price model's volatility states (ms_price_vol_states) */
  double vol[MS_MAX_REGIMES]; /* annualised, of each */
  int64_t nopt;            /* option accounts */
  ms_keyed *band[MS_MAX_REGIMES][MS_NBAND]; /* their time-0 bands per regime, sorted so that
                                              the violated ones come first */
} ms_index_static;

/* per_path: room for re-sorting books drawn anew each path. */
ms_status ms_index_static_build(ms_index_static **out, const ms_book *b, const ms_margin *m,
                                const ms_config *cfg, int per_path, ms_error *err);
/* Re-sort for a newly drawn book of the same size. */
ms_status ms_index_static_rebuild(ms_index_static *s, const ms_book *b, const ms_margin *m,
                                  const ms_config *cfg, ms_error *err);
void ms_index_static_free(ms_index_static *s);

/* A growable list of account ids. */
typedef struct {
  int64_t *v;
  size_t n, cap;
} ms_idbuf;

int ms_idbuf_push(ms_idbuf *b, int64_t id);
void ms_idbuf_free(ms_idbuf *b);
/* Free a list of 1 MB or more (its own mapping: the memory goes back), else
 * keep it; either way it is empty and usable. */
void ms_idbuf_trim(ms_idbuf *b);

/* What a check is made against. */
typedef struct ms_probe {
  double P;                /* oracle price */
  double E;                /* entry price */
  int64_t t;               /* ms */
  int regime;              /* current regime */
  double vol;              /* its volatility */
  double ratio;            /* current maintenance ratio */
  double surplus;          /* rekey: the account's equity - maintenance here if known, else NAN */
} ms_probe;

typedef struct ms_index ms_index;

ms_status ms_index_new(ms_index **out, ms_error *err);
void ms_index_free(ms_index *x);

/** Start a path on @p st. */
void ms_index_reset(ms_index *x, const ms_index_static *st);

/**
 * Append to @p out the open accounts that may be eligible at @p pr (a
 * superset, without repeats: the caller checks each). Returned accounts
 * leave the index; the caller marks them pending or hands them back with
 * ms_index_rekey.
 */
int ms_index_candidates(ms_index *x, const ms_accounts *a, const ms_margin *m, const ms_probe *pr,
                        ms_idbuf *out);

/** An open account changed, or was a candidate and is not eligible: index it under its keys at @p pr. */
int ms_index_rekey(ms_index *x, const ms_accounts *a, const ms_margin *m, int64_t id, const ms_probe *pr);

/** Entries the option bands of every regime hold (heaps and empty-band lists): what a path's re-keying keeps (tests). */
size_t ms_index_option_entries(const ms_index *x);

/** Best-ranked open perp-only account of side @p side for ADL (lowest ADL key, then id), or -1. */
int64_t ms_index_adl_next(ms_index *x, const ms_accounts *a, int side);

#endif
