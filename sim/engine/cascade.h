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

/* Several markets (the engine of book.markets): a market's oracle sees only
 * that market's fills, so a record's generation counts only the fills of the
 * markets its unit holds, each up to the observation time of that market's
 * oracle price. Per market of the open cascade: the fill times at which its
 * largest generation so far rose, and that generation (both increasing). A
 * market's largest generation can rise by more than one (a unit liquidated
 * because of another market's fills), so these are pairs, not first[]. */
typedef struct ms_cascade_market {
  int64_t *t;             /* ms */
  int32_t *g;
  size_t n, cap;
} ms_cascade_market;

/** One path's cascades in progress (per thread; the buffer is kept between paths). */
typedef struct ms_cascades {
  int64_t gap;            /* ms, stats.cascade_gap */
  int64_t last_time;      /* ms, fill time of the path's previous record */
  int64_t count;          /* cascades opened in the path so far */
  ms_cascade_record cur;  /* the open cascade (count > 0); .end and .depth set when it closes */
  int64_t *first;         /* ms: first[k] is the fill time of the open cascade's first generation k + 1 */
  size_t depth, cap;      /* entries of first[] (the open cascade's depth so far), and room */
  ms_cascade_record closed; /* the cascade that closed last */
  int have_big;           /* a cascade closed in this path */
  int64_t big_liquidations, big_depth; /* the closed cascade with the most notional (ties: more liquidations, */
  double big_notional;    /* USD          then the first) */
  ms_cascade_market *mk;  /* [nmk]: several markets only (ms_cascades_markets); then depth is the open */
  int nmk;                /* cascade's largest generation and first[] is not used */
} ms_cascades;

/** Several markets: keep the generations per market of @p nmk (0 on success, -1 out of memory). */
int ms_cascades_markets(ms_cascades *c, int nmk);
/**
 * Several markets: the largest generation among the open cascade's fills
 * that a unit liquidated at @p t had seen, holding the @p n markets
 * @p market, whose oracle prices it was checked at were observed at
 * @p obs: per market its own fills up to that time. 0 when a record at
 * @p t opens a new cascade. Its records' generation is 1 + this when the
 * liquidation is impact-triggered, else 0.
 */
int32_t ms_cascades_unit_seen(const ms_cascades *c, int64_t t, int n, const int32_t *market, const int64_t *obs);
/**
 * Several markets: ms_cascades_step() for a record of market @p market
 * whose generation @p gen the caller computed (ms_cascades_unit_seen), so
 * that every record of one unit's liquidation has its unit's generation.
 */
int ms_cascades_step_market(ms_cascades *c, const ms_liq_record *r, int market, int32_t gen, int64_t *cascade);

/** Begin path @p path with cascade gap @p gap (ms); keeps the buffer. */
void ms_cascades_start(ms_cascades *c, uint64_t path, int64_t gap);

/* The out-of-line parts of ms_cascades_add(): a record at @p t opens a new
 * cascade (returns 1 when an earlier one closed into c->closed); the
 * largest generation seen by @p obs when it is not the newest (a binary
 * search); a new generation begins at @p t (-1: out of memory). */
int ms_cascades_open_(ms_cascades *c, int64_t t);
size_t ms_cascades_seen_(const ms_cascades *c, int64_t obs);
int ms_cascades_deepen_(ms_cascades *c, int64_t t);

/**
 * Add the path's next record @p r (its fill time no earlier than the
 * previous one's): its generation and cascade in *gen and *cascade. Returns
 * 1 when @p r opened a new cascade after an earlier one, which closed:
 * c->closed holds it until the next call; 0 otherwise; -1 when the open
 * cascade's generations cannot grow (out of memory). Inline: once per
 * liquidation, the common case is a few comparisons and sums. The record is
 * only read: the engine reads the caller's, whose stores are long done,
 * not the copy it has just stored (perf: the sums' wide loads waited on the
 * copy's narrower stores, a failed store forward).
 */
/* The record @p r joins the open cascade (its index in *cascade): the sums and the last fill time. */
static inline void ms_cascades_tally_(ms_cascades *c, const ms_liq_record *r, int64_t *cascade) {
  *cascade = c->count - 1;
  c->last_time = r->time;
  c->cur.liquidations++;
  c->cur.impact_triggered += r->impact_triggered;
  c->cur.notional += r->notional;
  c->cur.bad_debt += r->bad_debt;
}

static inline int ms_cascades_step(ms_cascades *c, const ms_liq_record *r, int32_t *gen, int64_t *cascade) {
  int closed = 0;
  if (c->count == 0 || r->time - c->last_time > c->gap) closed = ms_cascades_open_(c, r->time);
  int32_t g1 = 0;
  if (r->impact_triggered) {
    size_t n = c->depth;
    /* usually the observation came after the newest generation's first fill: it saw them all */
    size_t g = (n == 0 || c->first[n - 1] <= r->obs_time) ? n : ms_cascades_seen_(c, r->obs_time);
    if (g == n && ms_cascades_deepen_(c, r->time)) return -1; /* g + 1 is a new generation */
    g1 = (int32_t)(g + 1);
  }
  *gen = g1;
  ms_cascades_tally_(c, r, cascade);
  return closed;
}

/** ms_cascades_step() setting r->generation and r->cascade. */
static inline int ms_cascades_add(ms_cascades *c, ms_liq_record *r) {
  int32_t gen;
  int64_t cascade;
  int closed = ms_cascades_step(c, r, &gen, &cascade);
  if (closed < 0) return closed;
  r->generation = gen;
  r->cascade = cascade;
  return closed;
}

/**
 * End the path: close the open cascade, if any (into c->closed; returns
 * 1, else 0), and fill @p row's cascade columns (cascades,
 * largest_cascade_liquidations, _notional, _depth; left as they are when
 * the path had no liquidation).
 */
int ms_cascades_finish(ms_cascades *c, ms_path_summary *row);

/** Free the buffer; the state may be started again. */
void ms_cascades_fini(ms_cascades *c);

#endif
