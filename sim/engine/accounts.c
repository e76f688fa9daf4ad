/*
 * accounts — touched-account pool with undo-by-walking (see accounts.h).
 */
#include "engine/accounts.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

/* How the pool grows. It starts small and doubles while it is small
 * against the book: an engine that touches few accounts (a calm path, most
 * cells of a big sweep) holds and commits little. Once it reaches an
 * eighth of the book it is allocated for the whole book at once and never
 * moves again: a large allocation is address space whose pages the kernel
 * provides as they are first written, so what is resident is the most
 * entries a path so far held at once (closed ones are dropped: below),
 * with no doubling slack and no copy while
 * the old and the new pool are both held (perp-1m, two threads: 178 MB
 * against 235 MB by doubling). Where memory is not overcommitted
 * (vm.overcommit_memory 2) such an engine is charged 44 bytes (60 with
 * options) for every account of the book. */
#define POOL_START 1024

static size_t pool_next_cap(size_t cap, size_t book_n) {
  size_t next = 2 * cap;
  if (next >= book_n / 8) next = book_n;
  return next > book_n ? book_n : next;
}

/* A new entry first drops the closed ones once more than this fraction of
 * the pool (from drop_from entries) closed since the last drop: the pool
 * holds at most 8/7 of the entries still open or pending, and each drop,
 * a walk of the pool, is paid for by the liquidations that closed them. */
#define DROP_SHARE 8

/* Slots per dirty bit: a 64-byte line of slots. */
#define LINE_SHIFT 4

static size_t dirty_words(int64_t n) { return ((size_t)n + (64u << LINE_SHIFT) - 1) / (64u << LINE_SHIFT); }

ms_status ms_accounts_init(ms_accounts *a, const ms_book *b, ms_error *err) {
  memset(a, 0, sizeof *a);
  a->book = b;
  size_t total = (size_t)b->n + 1; /* every account and the shared closed one */
  a->slot = malloc((size_t)(b->n > 0 ? b->n : 1) * sizeof *a->slot);
  a->dirty = calloc(dirty_words(b->n) + 1, sizeof *a->dirty);
  a->cap = total < POOL_START ? total : POOL_START;
  a->lim = a->cap;
  /* bigmem: the pool grows by moving pages, never leaving its old copy as a hole */
  a->pool = ms_big_alloc(a->cap * sizeof *a->pool);
  a->ids = ms_big_alloc(a->cap * sizeof *a->ids);
  if (b->opt) a->legq = ms_big_alloc(a->cap * MS_MAX_LEGS * sizeof *a->legq);
  a->cap_ids = a->ids ? a->cap : 0;
  a->cap_legq = a->legq ? a->cap : 0;
  if (!a->slot || !a->dirty || !a->pool || !a->ids || (b->opt && !a->legq)) {
    ms_accounts_fini(a);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the account state");
  }
  for (int64_t i = 0; i < b->n; i++) a->slot[i] = -1;
  a->pool[MS_ACCT_DROPPED] = (ms_acct){.status = MS_ACCT_CLOSED};
  a->ids[MS_ACCT_DROPPED] = -1;
  if (a->legq)
    for (int l = 0; l < MS_MAX_LEGS; l++) a->legq[MS_ACCT_DROPPED * MS_MAX_LEGS + l] = 0.0;
  a->n = 1;
  a->drop_from = MS_ACCT_DROP_FROM;
  ms_accounts_reset(a);
  return MS_OK;
}

void ms_accounts_fini(ms_accounts *a) {
  free(a->slot);
  free(a->dirty);
  ms_big_free(a->pool, a->cap * sizeof *a->pool);
  ms_big_free(a->ids, a->cap_ids * sizeof *a->ids);
  ms_big_free(a->legq, a->cap_legq * MS_MAX_LEGS * sizeof *a->legq);
  memset(a, 0, sizeof *a);
}

void ms_accounts_reset(ms_accounts *a) {
  for (size_t i = 1; i < a->n; i++) a->slot[a->ids[i]] = -1;
  /* The dropped accounts: the lines the path dirtied, not the book. */
  for (size_t w = 0; a->ndropped > 0 && w < dirty_words(a->book->n); w++) {
    for (uint64_t m = a->dirty[w]; m; m &= m - 1) {
      size_t lo = (w * 64 + (size_t)__builtin_ctzll(m)) << LINE_SHIFT, hi = lo + ((size_t)1 << LINE_SHIFT);
      if (hi > (size_t)a->book->n) hi = (size_t)a->book->n;
      for (size_t i = lo; i < hi; i++) a->slot[i] = -1;
    }
    a->dirty[w] = 0;
  }
  a->n = 1;
  a->nclosed = a->ndropped = 0;
  a->shift[0] = a->shift[1] = 0.0;
  a->shift_hi[0] = a->shift_hi[1] = 0.0;
  a->soc[0] = a->soc[1] = 0.0;
  a->open_qty[0] = a->book->open_qty[0];
  a->open_qty[1] = a->book->open_qty[1];
  a->realized = a->dropped_cash = 0.0;
}

/* Entry @p i holds nothing: no units, no live leg. */
static int holds_nothing(const ms_accounts *a, size_t i) {
  if (a->pool[i].q != 0) return 0;
  for (int l = 0; a->legq && l < MS_MAX_LEGS; l++)
    if (a->legq[i * MS_MAX_LEGS + (size_t)l] != 0) return 0;
  return 1;
}

/* Drop the closed entries that hold nothing; the others keep their order. */
static void drop_closed(ms_accounts *a) {
  size_t k = 1;
  for (size_t i = 1; i < a->n; i++) {
    int32_t id = a->ids[i];
    if (a->pool[i].status == MS_ACCT_CLOSED && holds_nothing(a, i)) {
      a->dropped_cash += a->pool[i].C; /* effective: no units, no share of a shift */
      a->slot[id] = MS_ACCT_DROPPED;
      a->dirty[(size_t)id >> (LINE_SHIFT + 6)] |= (uint64_t)1 << (((size_t)id >> LINE_SHIFT) & 63);
      a->ndropped++;
      continue;
    }
    if (k != i) {
      a->pool[k] = a->pool[i];
      a->ids[k] = id;
      if (a->legq) memcpy(&a->legq[k * MS_MAX_LEGS], &a->legq[i * MS_MAX_LEGS], MS_MAX_LEGS * sizeof *a->legq);
      a->slot[id] = (int32_t)k;
    }
    k++;
  }
  a->n = k;
  a->nclosed = 0;
}

/* The pool, its ids and legs with room for @p cap entries; -1 if out of memory. */
static int grow(ms_accounts *a, size_t cap) {
  /* each array's room is its own: ms_big_free needs the size it was given */
  if (a->cap_ids < cap) {
    int32_t *ids = ms_big_resize(a->ids, a->cap_ids * sizeof *ids, cap * sizeof *ids);
    if (!ids) return -1;
    a->ids = ids;
    a->cap_ids = cap;
  }
  if (a->legq && a->cap_legq < cap) {
    double *lq = ms_big_resize(a->legq, a->cap_legq * MS_MAX_LEGS * sizeof *lq, cap * MS_MAX_LEGS * sizeof *lq);
    if (!lq) return -1;
    a->legq = lq;
    a->cap_legq = cap;
  }
  ms_acct *p = ms_big_resize(a->pool, a->cap * sizeof *p, cap * sizeof *p);
  if (!p) return -1;
  a->pool = p;
  a->cap = cap;
  return 0;
}

/* Enough of a large pool closed since the last drop to drop them now. */
static inline int drop_due(const ms_accounts *a) { return a->nclosed > a->n / DROP_SHARE && a->n >= a->drop_from; }

/* Room for one more entry: drop the closed ones if enough closed; if still
 * full, raise the limit by half (the pool's room grows to it as before;
 * pages are resident only once an entry is written). */
static int make_room(ms_accounts *a) {
  size_t total = (size_t)a->book->n + 1;
  if (drop_due(a)) drop_closed(a);
  if (a->n < a->lim) return 0;
  size_t lim = a->lim + a->lim / 2;
  if (lim > total) lim = total;
  assert(lim > a->n); /* one entry per account at most: never beyond the book */
  size_t cap = a->cap;
  while (cap < lim) cap = pool_next_cap(cap, total);
  /* the limit rises only with the room: a failed growth leaves the pool as it was */
  if (cap > a->cap && grow(a, cap)) return -1;
  a->lim = lim;
  return 0;
}

ms_acct *ms_accounts_touch(ms_accounts *a, int64_t id) {
  int32_t s = a->slot[id];
  if (s >= 0) return &a->pool[s];
  if ((a->n == a->lim || drop_due(a)) && make_room(a)) return NULL;
  ms_acct *x = &a->pool[a->n];
  x->q = a->book->pos[id].qty;
  x->C = ms_accounts_collateral(a, id); /* still untouched: from the book and the shift */
  x->shift = a->shift[ms_side_of(x->q)];
  x->discovered = 0;
  if (a->legq) {
    int32_t o = a->book->nopt ? a->book->opt_of[id] : -1;
    double *lq = ms_accounts_legs(a, x);
    for (int l = 0; l < MS_MAX_LEGS; l++)
      lq[l] = o >= 0 && l < a->book->opt[o].nlegs ? a->book->opt[o].legs[l].q : 0.0;
  }
  x->version = 0;
  x->status = MS_ACCT_OPEN;
  x->skipped = 0;
  a->ids[a->n] = (int32_t)id;
  a->slot[id] = (int32_t)a->n++;
  return x;
}
