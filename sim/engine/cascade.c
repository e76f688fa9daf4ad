/*
 * cascade — a path's cascades, online (see cascade.h). The engine calls it
 * once per liquidation (deliver.c), never per tick.
 */
#include "engine/cascade.h"

#include <stdlib.h>

#include "core/heap.h"

void ms_cascades_start(ms_cascades *c, uint64_t path, int64_t gap) {
  c->gap = gap;
  c->last_time = 0;
  c->count = 0;
  c->cur = (ms_cascade_record){.path = path};
  c->depth = 0;
  c->have_big = 0;
  c->big_liquidations = c->big_depth = 0;
  c->big_notional = 0.0;
}

/* The open cascade closes: its last fields, and whether it is the largest so far. */
static void close_cur(ms_cascades *c, ms_cascade_record *closed) {
  c->cur.end = (double)c->last_time / 1000.0;
  c->cur.depth = (int64_t)c->depth;
  if (!c->have_big || c->cur.notional > c->big_notional ||
      (c->cur.notional == c->big_notional && c->cur.liquidations > c->big_liquidations)) {
    c->have_big = 1;
    c->big_liquidations = c->cur.liquidations;
    c->big_notional = c->cur.notional;
    c->big_depth = c->cur.depth;
  }
  *closed = c->cur;
}

/* The largest generation among the open cascade's fills at or before @p obs (ms). */
static size_t seen_by(const ms_cascades *c, int64_t obs) {
  size_t n = c->depth;
  if (n == 0 || c->first[n - 1] <= obs) return n; /* the usual case: it saw every generation */
  size_t l = 0, h = n - 1;                        /* the first entry later than obs, in [0, n - 1] */
  while (l < h) {
    size_t mid = (l + h) / 2;
    if (c->first[mid] <= obs) l = mid + 1; else h = mid;
  }
  return l;
}

ms_status ms_cascades_add(ms_cascades *c, ms_liq_record *r, ms_cascade_record *closed, int *has_closed) {
  *has_closed = 0;
  if (c->count == 0 || r->time - c->last_time > c->gap) {
    if (c->count > 0) {
      close_cur(c, closed);
      *has_closed = 1;
    }
    c->cur = (ms_cascade_record){.path = c->cur.path, .index = c->count, .start = (double)r->time / 1000.0};
    c->count++;
    c->depth = 0;
  }
  int32_t gen = 0;
  if (r->impact_triggered) {
    size_t g = seen_by(c, r->obs_time) + 1;
    if (g > c->depth) { /* g == depth + 1: a new generation begins at this fill */
      if (ms_grow((void **)&c->first, &c->cap, c->depth + 1, sizeof *c->first)) return MS_ERR_NOMEM;
      c->first[c->depth++] = r->time;
    }
    gen = (int32_t)g;
  }
  r->generation = gen;
  r->cascade = c->count - 1;
  c->last_time = r->time;
  c->cur.liquidations++;
  c->cur.impact_triggered += r->impact_triggered;
  c->cur.notional += r->notional;
  c->cur.bad_debt += r->bad_debt;
  return MS_OK;
}

int ms_cascades_finish(ms_cascades *c, ms_path_summary *row, ms_cascade_record *closed) {
  int has = c->count > 0;
  if (has) close_cur(c, closed);
  row->cascades = c->count;
  if (c->have_big) {
    row->largest_cascade_liquidations = c->big_liquidations;
    row->largest_cascade_notional = c->big_notional;
    row->largest_cascade_depth = c->big_depth;
  }
  return has;
}

void ms_cascades_fini(ms_cascades *c) {
  free(c->first);
  c->first = NULL;
  c->depth = c->cap = 0;
}
