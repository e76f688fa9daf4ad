/*
 * ladder — a multiset of keyed entries taken by threshold (see ladder.h).
 */
#include "core/ladder.h"

#include <stdlib.h>
#include <string.h>

/* The key's bucket: its bits turned into an unsigned number of the same
 * order as the doubles (negatives reversed below the positives), cut to
 * sign, exponent and ten bits of mantissa; -0.0 as +0.0, its equal.
 * Monotone: a <= b gives index(a) <= index(b). */
static inline uint64_t index_of(double key) {
  if (key == 0) key = 0.0;
  uint64_t u;
  memcpy(&u, &key, sizeof u);
  u = u >> 63 ? ~u : u | (1ull << 63);
  return u >> 42;
}

/* Forget where a take stopped (l->cont), closing the gap it left in its bucket: what it had not looked at moves
 * down after what it kept. */
static void close_gap(ms_ladder *l) {
  if (!l->cont) return;
  l->cont = 0;
  if (l->cont_j == l->cont_keep) return;
  ms_ladder_bucket *k = &l->blk[l->cont_i / MS_LADDER_SPAN][l->cont_i % MS_LADDER_SPAN];
  memmove(k->v + l->cont_keep, k->v + l->cont_j, (size_t)(k->n - l->cont_j) * sizeof *k->v);
  k->n -= l->cont_j - l->cont_keep;
}

/* Remember where a take with @p probe stopped: bucket @p i (its entries before @p keep kept, from @p j on not looked
 * at), the lowest bucket below it holding entries it kept being @p kept_lo. */
static void stop_at(ms_ladder *l, double probe, uint64_t i, uint32_t keep, uint32_t j, uint64_t kept_lo) {
  l->lo = i < kept_lo ? i : kept_lo;
  l->cont = 1;
  l->cont_i = i;
  l->cont_keep = keep;
  l->cont_j = j;
  l->cont_kept_lo = kept_lo;
  l->cont_probe = probe;
}

int ms_ladder_put(ms_ladder *l, double key, int32_t a, uint32_t b) {
  close_gap(l); /* a put below where a take stopped would not be gone back to */
  if (!l->blk) {
    l->blk = calloc(MS_LADDER_BLOCKS, sizeof *l->blk);
    l->blkn = calloc(MS_LADDER_BLOCKS, sizeof *l->blkn);
    if (!l->blk || !l->blkn) {
      free(l->blk);
      free(l->blkn);
      l->blk = NULL;
      l->blkn = NULL;
      return -1;
    }
    l->lo = UINT64_MAX;
  }
  const uint64_t i = index_of(key);
  ms_ladder_bucket **bp = &l->blk[i / MS_LADDER_SPAN];
  if (!*bp && !(*bp = calloc(MS_LADDER_SPAN, sizeof **bp))) return -1;
  ms_ladder_bucket *k = &(*bp)[i % MS_LADDER_SPAN];
  if (k->n == k->cap) {
    uint32_t cap = k->cap ? k->cap + k->cap / 4 + 4 : 4;
    ms_ladder_ent *v = realloc(k->v, (size_t)cap * sizeof *v);
    if (!v || cap < k->cap) return -1;
    k->v = v;
    k->cap = cap;
  }
  k->v[k->n++] = (ms_ladder_ent){key, a, b};
  l->blkn[i / MS_LADDER_SPAN]++;
  l->n++;
  if (i < l->lo) l->lo = i;
  return 0;
}

/* Room a bucket emptied by a take keeps (entries). */
#define LADDER_KEEP 64

int ms_ladder_take(ms_ladder *l, double probe, size_t max, ms_ladder_ent **out, size_t *nout, size_t *cap) {
  if (max == 0) max = 1;
  /* the same probe goes on where the take before stopped (nothing looked at or moved twice); another starts at lo */
  uint64_t i = l->lo, kept_lo = UINT64_MAX, gi = UINT64_MAX;
  uint32_t gkeep = 0, gj = 0;
  if (l->cont && memcmp(&probe, &l->cont_probe, sizeof probe) == 0) {
    i = l->cont_i;
    kept_lo = l->cont_kept_lo;
    gi = l->cont_i;
    gkeep = l->cont_keep;
    gj = l->cont_j;
    l->cont = 0;
  } else {
    close_gap(l);
  }
  if (l->n == 0) return 0;
  const uint64_t top = index_of(probe);
  while (i <= top && l->n > 0) {
    const uint64_t b = i / MS_LADDER_SPAN;
    if (l->blkn[b] == 0) { /* nothing in this block: the next */
      i = (b + 1) * MS_LADDER_SPAN;
      continue;
    }
    ms_ladder_bucket *k = &l->blk[b][i % MS_LADDER_SPAN];
    if (k->n > 0) {
      uint32_t keep = 0, taken = 0, j = 0;
      if (i == gi) { /* the bucket it stopped in: on past its gap */
        keep = gkeep;
        j = gj;
      }
      if (*nout >= max) { /* full: this bucket and the rest next time */
        stop_at(l, probe, i, keep, j, kept_lo);
        return 1;
      }
      const size_t want = *nout + k->n < max ? *nout + k->n : max;
      if (want > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < want) c *= 2;
        ms_ladder_ent *v = realloc(*out, c * sizeof *v);
        if (!v) {
          stop_at(l, probe, i, keep, j, kept_lo);
          return -1;
        }
        *out = v;
        *cap = c;
      }
      for (; j < k->n; j++) {
        const ms_ladder_ent e = k->v[j];
        if (e.key <= probe) {
          if (*nout == max) break;
          (*out)[(*nout)++] = e;
          taken++;
        } else {
          k->v[keep++] = e;
        }
      }
      l->blkn[b] -= taken;
      l->n -= taken;
      if (j < k->n) { /* full inside the bucket: a gap between what was kept and what is not yet looked at */
        stop_at(l, probe, i, keep, j, kept_lo);
        return 1;
      }
      k->n = keep;
      if (keep > 0 && i < kept_lo) kept_lo = i;
      if (keep == 0 && k->cap > LADDER_KEEP) { /* its memory back: the keys move on, and a bucket left behind */
        free(k->v);                          /* with its peak's room would hold it for the rest of the run */
        k->v = NULL;
        k->cap = 0;
      }
    }
    i++;
  }
  /* buckets up to top hold only what was kept; above it, what was there */
  const uint64_t above = top == UINT64_MAX ? UINT64_MAX : top + 1;
  l->lo = kept_lo < above ? kept_lo : above;
  return 0;
}

void ms_ladder_filter(ms_ladder *l, int (*live)(const void *ctx, const ms_ladder_ent *e), const void *ctx) {
  close_gap(l);
  if (!l->blk) return;
  l->lo = UINT64_MAX;
  for (uint64_t b = 0; b < MS_LADDER_BLOCKS; b++) {
    if (l->blkn[b] == 0) continue;
    for (uint64_t s = 0; s < MS_LADDER_SPAN; s++) {
      ms_ladder_bucket *k = &l->blk[b][s];
      uint32_t keep = 0;
      for (uint32_t j = 0; j < k->n; j++)
        if (live(ctx, &k->v[j])) k->v[keep++] = k->v[j];
      l->blkn[b] -= k->n - keep;
      l->n -= k->n - keep;
      k->n = keep;
      if (keep > 0 && b * MS_LADDER_SPAN + s < l->lo) l->lo = b * MS_LADDER_SPAN + s;
    }
  }
}

void ms_ladder_clear(ms_ladder *l) {
  l->cont = 0;
  if (!l->blk) return;
  for (uint64_t b = 0; b < MS_LADDER_BLOCKS; b++) {
    if (l->blkn[b] == 0) continue;
    for (uint64_t s = 0; s < MS_LADDER_SPAN; s++) l->blk[b][s].n = 0;
    l->blkn[b] = 0;
  }
  l->n = 0;
  l->lo = UINT64_MAX;
}

void ms_ladder_free(ms_ladder *l) {
  if (l->blk) {
    for (uint64_t b = 0; b < MS_LADDER_BLOCKS; b++) {
      if (!l->blk[b]) continue;
      for (uint64_t s = 0; s < MS_LADDER_SPAN; s++) free(l->blk[b][s].v);
      free(l->blk[b]);
    }
  }
  free(l->blk);
  free(l->blkn);
  memset(l, 0, sizeof *l);
}
