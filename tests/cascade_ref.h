/*
 * cascade_ref — the reference for the engine's online cascades
 * (sim/engine/cascade.c): the offline algorithm the output floor ran on a
 * path's whole list of records before the engine computed cascades online
 * (sim/output/stats.c, ms_stats_path_cascades, as of commit 13172cc), kept
 * here unchanged but for its name (and inline), and a check that a path's online
 * records, cascades and row columns are exactly what it gives.
 * Shared by test_cascade.c and test_engine.c.
 */
#ifndef MS_CASCADE_REF_H
#define MS_CASCADE_REF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/heap.h"
#include "engine/records.h"
#include "testutil.h"

/* A growable array of cascade records: what the reference and the tests collect. */
typedef struct ms_cascade_buf {
  ms_cascade_record *v;
  size_t n, cap;
} ms_cascade_buf;

/**
 * Cluster one path's liquidation records (in time order) into cascades,
 * append them to @p out, set each record's generation and cascade index,
 * and fill the cascade columns of @p row.
 *
 * A record is of generation 0 if not impact-triggered, else 1 + the largest
 * generation among the fills of its cascade that the oracle price it was
 * liquidated at had already seen (fill time <= observation time).
 */
static inline ms_status ref_path_cascades(const ms_config *cfg, ms_path_summary *row, ms_liq_record *r, size_t n,
                                          ms_cascade_buf *out, ms_error *err) {
  size_t first_cascade = out->n;
  size_t b = 0; /* first record of the current cascade */
  int32_t best_gen_prefix = 0;
  size_t seen_from = SIZE_MAX, seen_lo = 0; /* the last search: its cascade and answer */
  int64_t seen_obs = 0;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && r[i].time - r[i - 1].time > cfg->stats.cascade_gap) b = i;
    if (i == b) {
      if (ms_grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v))
        return ms_error_set(err, MS_ERR_NOMEM, "out of memory for cascade records");
      int64_t index = (int64_t)(out->n - first_cascade);
      out->v[out->n++] = (ms_cascade_record){.path = row->path, .index = index,
                                             .start = (double)r[i].time / 1000.0};
      best_gen_prefix = 0;
    }
    ms_cascade_record *c = &out->v[out->n - 1];
    /* Generation: 1 + the largest generation among this cascade's fills that
     * the oracle price used had seen (fill time <= observation time). Records
     * are in time order, so those fills are a prefix [b, lo) of the cascade;
     * the running maxima kept in .cascade of earlier records give their
     * largest generation at once. Observation times almost always rise from
     * one record to the next, so lo is found by stepping on from the last
     * one, with a binary search when they do not. */
    int32_t gen = 0;
    if (r[i].impact_triggered) {
      size_t lo;
      if (seen_from == b && r[i].obs_time >= seen_obs) {
        lo = seen_lo;
        while (lo < i && r[lo].time <= r[i].obs_time) lo++;
      } else {
        size_t l = b, h = i; /* first index in [b, i) with time > obs_time */
        while (l < h) {
          size_t mid = (l + h) / 2;
          if (r[mid].time <= r[i].obs_time) l = mid + 1; else h = mid;
        }
        lo = l;
      }
      seen_from = b;
      seen_obs = r[i].obs_time;
      seen_lo = lo;
      int32_t seen = 0;
      if (lo > b) seen = (int32_t)r[lo - 1].cascade; /* running max stored below */
      gen = 1 + seen;
    }
    r[i].generation = gen;
    if (gen > best_gen_prefix) best_gen_prefix = gen;
    r[i].cascade = best_gen_prefix; /* temporarily: running max of generations in the cascade */
    c->end = (double)r[i].time / 1000.0;
    c->liquidations++;
    c->impact_triggered += r[i].impact_triggered;
    c->notional += r[i].notional;
    c->bad_debt += r[i].bad_debt;
    if (gen > c->depth) c->depth = gen;
  }
  /* Replace the running maxima by the cascade index. */
  int64_t ci = -1;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || r[i].time - r[i - 1].time > cfg->stats.cascade_gap) ci++;
    r[i].cascade = ci;
  }
  row->cascades = (int64_t)(out->n - first_cascade);
  const ms_cascade_record *big = NULL;
  for (size_t k = first_cascade; k < out->n; k++) {
    const ms_cascade_record *c = &out->v[k];
    if (!big || c->notional > big->notional ||
        (c->notional == big->notional && c->liquidations > big->liquidations))
      big = c;
  }
  if (big) {
    row->largest_cascade_liquidations = big->liquidations;
    row->largest_cascade_notional = big->notional;
    row->largest_cascade_depth = big->depth;
  }
  return MS_OK;
}

/* One path's records (@p rec, @p n, in the order the engine appended them),
 * cascades (@p cas, @p ncas) and row, as computed online: fill times never
 * fall, and the records' generation and cascade fields, the cascades and
 * the row's cascade columns are bit for bit what the offline reference
 * computes from the same records with those fields cleared. */
static inline void check_against_reference(const ms_config *cfg, const ms_path_summary *row, const ms_liq_record *rec,
                                           size_t n, const ms_cascade_record *cas, size_t ncas) {
  ms_error err;
  ms_liq_record *r = malloc((n ? n : 1) * sizeof *r);
  assert_non_null(r);
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && rec[i].time < rec[i - 1].time)
      fail_msg("path %llu record %zu: fill at %lld ms after one at %lld ms", (unsigned long long)row->path, i,
               (long long)rec[i].time, (long long)rec[i - 1].time);
    r[i] = rec[i];
    r[i].generation = 0;
    r[i].cascade = 0;
  }
  ms_path_summary want = *row;
  want.cascades = want.largest_cascade_liquidations = want.largest_cascade_depth = 0;
  want.largest_cascade_notional = 0;
  ms_cascade_buf buf = {0};
  assert_ok(ref_path_cascades(cfg, &want, r, n, &buf, &err), &err);
  for (size_t i = 0; i < n; i++)
    if (memcmp(&r[i], &rec[i], sizeof *r))
      fail_msg("path %llu record %zu: generation %d cascade %lld, the reference %d %lld",
               (unsigned long long)row->path, i, rec[i].generation, (long long)rec[i].cascade, r[i].generation,
               (long long)r[i].cascade);
  if (buf.n != ncas) fail_msg("path %llu: %zu cascades, the reference %zu", (unsigned long long)row->path, ncas, buf.n);
  for (size_t k = 0; k < ncas; k++)
    if (memcmp(&buf.v[k], &cas[k], sizeof *cas))
      fail_msg("path %llu cascade %zu differs from the reference", (unsigned long long)row->path, k);
  if (memcmp(&want, row, sizeof want)) fail_msg("path %llu: cascade columns differ", (unsigned long long)row->path);
  free(buf.v);
  free(r);
}

#endif
