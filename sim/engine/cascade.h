/*
 * cascade — a path's cascades, computed online (docs/engine.md, Cascades).
 *
 * The engine hands each liquidation record to ms_cascades_add() as it
 * appends it, in time order. A cascade is a run of records no more than
 * stats.cascade_gap apart: it is open until a record comes later than that
 * (or the path ends), and then it closes and its ms_cascade_record is final.
 * A record's generation is 0 when it is not impact-triggered, else 1 + the
 * largest generation among the earlier fills of its cascade with fill time
 * <= its oracle observation time; its cascade index is known at once. So
 * each record is final when it is added, and the state is O(depth) of the
 * open cascade whatever the number of liquidations.
 *
 * Why O(depth): a new generation is at most 1 + the cascade's running
 * maximum, so the running maximum rises one by one, and the largest
 * generation seen by observation time o is the number of generations
 * whose first fill came at or before o. `first[k]` keeps the fill time of
 * the first record of generation k + 1, non-decreasing in k: a generation
 * is one binary search over it (or none, when o is past the last entry).
 */
#ifndef MARGINSIM_CASCADE_H
#define MARGINSIM_CASCADE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/records.h"
#include "marginsim/error.h"

/** One path's cascades in progress (per thread; the buffer is kept between paths). */
typedef struct ms_cascades {
  int64_t gap;            /* ms, stats.cascade_gap */
  int64_t last_time;      /* ms, fill time of the path's previous record */
  int64_t count;          /* cascades opened in the path so far */
  ms_cascade_record cur;  /* the open cascade (count > 0); .end and .depth set when it closes */
  int64_t *first;         /* ms: first[k] is the fill time of the open cascade's first generation k + 1 */
  size_t depth, cap;      /* entries of first[] (the open cascade's depth so far), and room */
  int have_big;           /* a cascade closed in this path */
  int64_t big_liquidations, big_depth; /* the closed cascade with the most notional (ties: more liquidations, */
  double big_notional;    /* USD          then the first) */
} ms_cascades;

/** Begin path @p path with cascade gap @p gap (ms); keeps the buffer. */
void ms_cascades_start(ms_cascades *c, uint64_t path, int64_t gap);

/**
 * Add the path's next record @p r (its fill time no earlier than the
 * previous one's): set r->generation and r->cascade. When @p r opens a new
 * cascade after an earlier one, that one closes: it is copied to
 * *@p closed and *@p has_closed is set to 1 (else 0). MS_ERR_NOMEM when the
 * open cascade's generations cannot grow.
 */
ms_status ms_cascades_add(ms_cascades *c, ms_liq_record *r, ms_cascade_record *closed, int *has_closed);

/**
 * End the path: close the open cascade, if any (copied to *@p closed,
 * returns 1; else 0), and fill @p row's cascade columns (cascades,
 * largest_cascade_liquidations, _notional, _depth; left as they are when
 * the path had no liquidation).
 */
int ms_cascades_finish(ms_cascades *c, ms_path_summary *row, ms_cascade_record *closed);

/** Free the buffer; the state may be started again. */
void ms_cascades_fini(ms_cascades *c);

#endif
