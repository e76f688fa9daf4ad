/*
 * h5out — the HDF5 result file, written atomically.
 *
 * Everything is written to "<file>.tmp.<pid>" beside the final name and
 * renamed only by ms_h5out_commit(); ms_h5out_abort() removes the temporary,
 * so a failed or interrupted run leaves no result file. All calls must come
 * from one thread (serial HDF5). The layout is documented in docs/output.md.
 */
#ifndef MARGINSIM_H5OUT_H
#define MARGINSIM_H5OUT_H

#include <stdint.h>

#include "marginsim/engine.h"
#include "marginsim/error.h"
#include "marginsim/scenario.h"
#include "marginsim/stats.h"

typedef struct ms_h5out ms_h5out;

/** What the root attributes record. */
typedef struct ms_h5_meta {
  const char *command;      /* the command line */
} ms_h5_meta;

/** Create the temporary file, its root attributes and the datasets. */
ms_status ms_h5out_create(ms_h5out **out, const char *path, const ms_config *cfg,
                          const ms_h5_meta *meta, ms_error *err);

/**
 * A file for a comparison (marginsim run --compare KEY=V1,V2,...): root
 * attributes only, plus "compare" = KEY; each value's run then goes under
 * /models/<value> between ms_h5out_begin_cell and ms_h5out_end_cell.
 */
ms_status ms_h5out_create_compare(ms_h5out **out, const char *path, const ms_config *cfg,
                                  const ms_h5_meta *meta, const char *key, ms_error *err);
ms_status ms_h5out_begin_cell(ms_h5out *h, const char *value, const ms_config *cfg, ms_error *err);
ms_status ms_h5out_end_cell(ms_h5out *h, ms_error *err);

/** Write summary rows for paths first .. first + n - 1. */
ms_status ms_h5out_write_summary(ms_h5out *h, const ms_path_summary *rows, int64_t first, int64_t n,
                                 ms_error *err);

/** Write the trace of traced path @p k (k < output.timeseries.paths). */
ms_status ms_h5out_write_trace(ms_h5out *h, int64_t k, const ms_trace *tr, ms_error *err);

/** One row of /book: an account at the start of a path. */
typedef struct ms_book_row {
  int64_t account;
  int64_t side;              /* perp: +1 long, -1 short, 0 none */
  int64_t strategy;          /* -1 perp only, else book.options.strategies kind */
  double collateral;         /* USD deposited */
  double quantity;           /* signed perp units */
  double leverage;           /* perp entry notional / collateral */
  double notional;           /* USD gross: perp and short options' underlying, at the entry price */
  double initial_margin;     /* USD required at entry under the run's margin model */
  double maintenance_margin; /* USD required at entry */
  double liquidation_price;  /* USD oracle price at which a perp-only account becomes eligible (NaN: options) */
  double call_strike, call_qty; /* call leg: USD strike, signed units (0: none) */
  double put_strike, put_qty;   /* put leg */
  double expiry;             /* s, of the option legs (NaN: none) */
  double premium;            /* USD: premiums received (> 0) or paid (< 0) at entry */
} ms_book_row;

/** Create /book for @p n accounts. */
ms_status ms_h5out_create_book(ms_h5out *h, int64_t n, const char *margin_model, ms_error *err);

/** Write rows first .. first + count - 1 of /book. */
ms_status ms_h5out_write_book_rows(ms_h5out *h, const ms_book_row *rows, int64_t first, int64_t count,
                                   ms_error *err);

/** Append rows to /cascades. */
ms_status ms_h5out_append_cascades(ms_h5out *h, const ms_cascade_record *c, size_t n, ms_error *err);

/** Append rows to /liquidations (when output.liquidations is on). */
ms_status ms_h5out_append_liquidations(ms_h5out *h, const ms_liq_record *r, size_t n, ms_error *err);

/** Write /stats. */
ms_status ms_h5out_write_stats(ms_h5out *h, const ms_stats *st, ms_error *err);

/** Write /compare: paired differences against the first value and capital efficiency. */
ms_status ms_h5out_write_compare(ms_h5out *h, const ms_compare_report *rep, ms_error *err);

/** Close the file and rename it to its final name; frees @p h in every case. */
ms_status ms_h5out_commit(ms_h5out *h, ms_error *err);

/** Close and delete the temporary file; frees @p h. NULL is a no-op. */
void ms_h5out_abort(ms_h5out *h);

#endif
