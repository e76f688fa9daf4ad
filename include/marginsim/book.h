/*
 * book — the account population: perpetual positions, each with its own
 * collateral (isolated margin), all entered at market.initial_price.
 *
 * Drawn from the book stream: once per run (path index MS_PATH_RUN) or, with
 * book.resample: per_path, once per path. Account i draws collateral,
 * leverage and side in that order. quantity = +/- collateral x leverage /
 * initial_price. A book in which some account starts below its initial
 * margin is rejected (bad input) with the count and the first offender.
 */
#ifndef MARGINSIM_BOOK_H
#define MARGINSIM_BOOK_H

#include <stdint.h>

#include "marginsim/error.h"
#include "marginsim/margin.h"
#include "marginsim/scenario.h"

typedef struct ms_book {
  int64_t n;             /* accounts */
  double entry;          /* USD, entry price of every position */
  double *collateral;    /* USD */
  double *qty;           /* signed units: > 0 long, < 0 short */
  double open_qty[2];    /* units held by longs [0] and shorts [1] */
} ms_book;

/** Allocate a book of cfg->book.accounts accounts (not drawn yet). */
ms_status ms_book_new(ms_book **out, const ms_config *cfg, ms_error *err);

/** Free; NULL is a no-op. */
void ms_book_free(ms_book *b);

/**
 * Draw the book for @p path (MS_PATH_RUN for a per-run book) and check every
 * account against the initial requirement of @p m.
 */
ms_status ms_book_draw(ms_book *b, const ms_config *cfg, uint64_t path, const ms_margin *m,
                       ms_error *err);

#endif
