/*
 * ladder — a multiset of keyed entries taken by threshold: every entry whose
 * key is at most a probe, at once or in batches of a bounded size. Private
 * to sim/.
 *
 * What the engine of several markets asks of its bound prices' heaps: a
 * publish takes every unit whose bound the price reached, in no particular
 * order, and a check puts the units it found safe back under new keys. A
 * heap pays a sift through log n levels per entry taken, at a million
 * entries a chain of cache misses; the ladder keeps its entries in buckets
 * by the key's sign, exponent and first ten bits of mantissa (about 0.1% of
 * the key wide), so a take reads whole buckets in order and a put appends.
 * Within a bucket entries are in no order; only the one holding the probe
 * is filtered entry by entry.
 *
 *   ms_ladder_put     an entry (0, or -1 when out of memory)
 *   ms_ladder_take    the entries with key <= probe, appended to a buffer (at most max a call)
 *   ms_ladder_filter  keep the entries a predicate says are live
 *   ms_ladder_clear   drop every entry (keeping the memory)
 *   ms_ladder_free    give the memory back
 *
 * A NaN key is never taken (key <= probe is false), as a heap would leave
 * it; -0.0 and +0.0 compare equal as doubles, and so they are taken.
 */
#ifndef MS_LADDER_H
#define MS_LADDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_ladder_ent {
  double key;
  int32_t a;  /* the caller's: two numbers of payload */
  uint32_t b;
} ms_ladder_ent;

typedef struct ms_ladder_bucket {
  ms_ladder_ent *v;
  uint32_t n, cap;
} ms_ladder_bucket;

#define MS_LADDER_BLOCKS 4096 /* sign and exponent */
#define MS_LADDER_SPAN 1024   /* buckets a block: ten bits of mantissa */

typedef struct ms_ladder {
  ms_ladder_bucket **blk; /* [MS_LADDER_BLOCKS], each NULL or MS_LADDER_SPAN buckets; NULL: nothing yet */
  uint32_t *blkn;         /* entries per block */
  size_t n;               /* entries */
  uint64_t lo;            /* no entry has a lower bucket index */
  /* where a take with probe cont_probe stopped: bucket cont_i, its entries before cont_keep kept and those from
   * cont_j on not looked at yet (a gap between, none when it stopped before the bucket), and the lowest bucket
   * below holding entries it kept (cont_kept_lo). The next take with that probe goes on from there; any other
   * call (a put, a filter, a clear, a take with another probe) closes the gap and forgets it first */
  int cont;
  uint32_t cont_keep, cont_j;
  uint64_t cont_i, cont_kept_lo;
  double cont_probe;
} ms_ladder;

/* An empty ladder is one with all fields zero (a static or calloc'd ms_ladder, or `= {0}`). */

/** Put an entry in: 0, or -1 when out of memory. */
int ms_ladder_put(ms_ladder *l, double key, int32_t a, uint32_t b);

/**
 * Take the entries with key <= @p probe out of the ladder, appending them
 * to *@p out, which holds *@p nout entries in room for *@p cap and grows as
 * needed, until *@p nout reaches @p max (>= 1). 0 when every such entry is
 * taken; 1 when *@p nout reached @p max first (take again, from *@p nout
 * = 0, and the same probe, for the rest: the batches together are the
 * entries a take with no bound gives, in its order, each entry looked at
 * once); -1 when out of memory (the ladder then holds
 * what was not yet taken, *@p out what was). A caller bounds its buffer by
 * @p max, not by the keys a move of the price crosses (half a book in a
 * crash).
 */
int ms_ladder_take(ms_ladder *l, double probe, size_t max, ms_ladder_ent **out, size_t *nout, size_t *cap);

/** Keep the entries for which @p live(ctx, e) is nonzero. */
void ms_ladder_filter(ms_ladder *l, int (*live)(const void *ctx, const ms_ladder_ent *e), const void *ctx);

void ms_ladder_clear(ms_ladder *l);
void ms_ladder_free(ms_ladder *l);

#endif
