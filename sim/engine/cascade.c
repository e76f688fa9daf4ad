/*
 * cascade — a path's cascades, online (see cascade.h): what
 * ms_cascades_add() leaves out of line, and the path's start and end. The
 * engine adds each record as it appends it (engine_state.h), never per tick.
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
static void close_cur(ms_cascades *c) {
  c->cur.end = (double)c->last_time / 1000.0;
  c->cur.depth = (int64_t)c->depth;
  if (!c->have_big || c->cur.notional > c->big_notional ||
      (c->cur.notional == c->big_notional && c->cur.liquidations > c->big_liquidations)) {
    c->have_big = 1;
    c->big_liquidations = c->cur.liquidations;
    c->big_notional = c->cur.notional;
    c->big_depth = c->cur.depth;
  }
  c->closed = c->cur;
}

int ms_cascades_open_(ms_cascades *c, int64_t t) {
  int closed = c->count > 0;
  if (closed) close_cur(c);
  c->cur = (ms_cascade_record){.path = c->cur.path, .index = c->count, .start = (double)t / 1000.0};
  c->count++;
  c->depth = 0;
  for (int m = 0; m < c->nmk; m++) c->mk[m].n = 0;
  return closed;
}

int ms_cascades_markets(ms_cascades *c, int nmk) {
  if (c->nmk >= nmk) return 0;
  ms_cascade_market *mk = realloc(c->mk, (size_t)nmk * sizeof *mk);
  if (!mk) return -1;
  for (int m = c->nmk; m < nmk; m++) mk[m] = (ms_cascade_market){0};
  c->mk = mk;
  c->nmk = nmk;
  return 0;
}

int32_t ms_cascades_unit_seen(const ms_cascades *c, int64_t t, int n, const int32_t *market, const int64_t *obs) {
  if (c->count == 0 || t - c->last_time > c->gap) return 0; /* the record opens a new cascade */
  int32_t seen = 0;
  for (int k = 0; k < n; k++) {
    const ms_cascade_market *m = &c->mk[market[k]];
    size_t l = 0, h = m->n; /* the entries at or before its observation: the first later one */
    while (l < h) {
      size_t mid = (l + h) / 2;
      if (m->t[mid] <= obs[k]) l = mid + 1; else h = mid;
    }
    if (l > 0 && m->g[l - 1] > seen) seen = m->g[l - 1];
  }
  return seen;
}

int ms_cascades_step_market(ms_cascades *c, const ms_liq_record *r, int market, int32_t gen, int64_t *cascade) {
  int closed = 0;
  if (c->count == 0 || r->time - c->last_time > c->gap) closed = ms_cascades_open_(c, r->time);
  ms_cascade_market *m = &c->mk[market];
  if (gen > 0 && (m->n == 0 || gen > m->g[m->n - 1])) {
    size_t cap = m->cap;
    if (ms_grow((void **)&m->t, &cap, m->n + 1, sizeof *m->t)) return -1;
    if (ms_grow((void **)&m->g, &m->cap, m->n + 1, sizeof *m->g)) return -1;
    m->t[m->n] = r->time;
    m->g[m->n++] = gen;
  }
  if ((size_t)gen > c->depth) c->depth = (size_t)gen;
  ms_cascades_tally_(c, r, cascade);
  return closed;
}

size_t ms_cascades_seen_(const ms_cascades *c, int64_t obs) {
  size_t l = 0, h = c->depth; /* the number of entries at or before obs: the first later one */
  while (l < h) {
    size_t mid = (l + h) / 2;
    if (c->first[mid] <= obs) l = mid + 1; else h = mid;
  }
  return l;
}

int ms_cascades_deepen_(ms_cascades *c, int64_t t) {
  if (ms_grow((void **)&c->first, &c->cap, c->depth + 1, sizeof *c->first)) return -1;
  c->first[c->depth++] = t;
  return 0;
}

int ms_cascades_finish(ms_cascades *c, ms_path_summary *row) {
  int has = c->count > 0;
  if (has) close_cur(c);
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
  for (int m = 0; m < c->nmk; m++) {
    free(c->mk[m].t);
    free(c->mk[m].g);
  }
  free(c->mk);
  c->mk = NULL;
  c->nmk = 0;
}
