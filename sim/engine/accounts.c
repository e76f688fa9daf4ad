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
 * provides as they are first written, so what is resident is the entries
 * the worst path so far touched, with no doubling slack and no copy while
 * the old and the new pool are both held (perp-1m, two threads: 178 MB
 * against 235 MB by doubling). Where memory is not overcommitted
 * (vm.overcommit_memory 2) such an engine is charged 52 bytes (68 with
 * options) for every account of the book. */
#define POOL_START 1024

static size_t pool_next_cap(size_t cap, size_t book_n) {
  size_t next = 2 * cap;
  if (next >= book_n / 8) next = book_n;
  return next > book_n ? book_n : next;
}

ms_status ms_accounts_init(ms_accounts *a, const ms_book *b, ms_error *err) {
  memset(a, 0, sizeof *a);
  a->book = b;
  a->slot = malloc((size_t)b->n * sizeof *a->slot);
  a->cap = b->n < POOL_START ? (b->n > 0 ? (size_t)b->n : 1) : POOL_START;
  /* bigmem: the pool grows by moving pages, never leaving its old copy as a hole */
  a->pool = ms_big_alloc(a->cap * sizeof *a->pool);
  a->ids = ms_big_alloc(a->cap * sizeof *a->ids);
  if (b->opt) a->legq = ms_big_alloc(a->cap * MS_MAX_LEGS * sizeof *a->legq);
  a->cap_ids = a->ids ? a->cap : 0;
  a->cap_legq = a->legq ? a->cap : 0;
  if (!a->slot || !a->pool || !a->ids || (b->opt && !a->legq)) {
    ms_accounts_fini(a);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the account state");
  }
  for (int64_t i = 0; i < b->n; i++) a->slot[i] = -1;
  ms_accounts_reset(a);
  return MS_OK;
}

void ms_accounts_fini(ms_accounts *a) {
  free(a->slot);
  ms_big_free(a->pool, a->cap * sizeof *a->pool);
  ms_big_free(a->ids, a->cap_ids * sizeof *a->ids);
  ms_big_free(a->legq, a->cap_legq * MS_MAX_LEGS * sizeof *a->legq);
  memset(a, 0, sizeof *a);
}

void ms_accounts_reset(ms_accounts *a) {
  for (size_t i = 0; i < a->n; i++) a->slot[a->ids[i]] = -1;
  a->n = 0;
  a->shift[0] = a->shift[1] = 0.0;
  a->open_qty[0] = a->book->open_qty[0];
  a->open_qty[1] = a->book->open_qty[1];
}

ms_acct *ms_accounts_touch(ms_accounts *a, int64_t id) {
  int32_t s = a->slot[id];
  if (s >= 0) return &a->pool[s];
  if (a->n == a->cap) { /* one entry per account at most: never beyond the book */
    size_t cap = pool_next_cap(a->cap, (size_t)a->book->n);
    assert(cap > a->cap);
    /* each array's room is its own: ms_big_free needs the size it was given */
    if (a->cap_ids < cap) {
      int32_t *ids = ms_big_resize(a->ids, a->cap_ids * sizeof *ids, cap * sizeof *ids);
      if (!ids) return NULL;
      a->ids = ids;
      a->cap_ids = cap;
    }
    if (a->legq && a->cap_legq < cap) {
      double *lq = ms_big_resize(a->legq, a->cap_legq * MS_MAX_LEGS * sizeof *lq, cap * MS_MAX_LEGS * sizeof *lq);
      if (!lq) return NULL;
      a->legq = lq;
      a->cap_legq = cap;
    }
    ms_acct *p = ms_big_resize(a->pool, a->cap * sizeof *p, cap * sizeof *p);
    if (!p) return NULL;
    a->pool = p;
    a->cap = cap;
  }
  ms_acct *x = &a->pool[a->n];
  x->q = a->book->pos[id].qty;
  x->C = ms_accounts_collateral(a, id); /* still untouched: from the book and the shift */
  x->shift = a->shift[ms_side_of(x->q)];
  x->realized = 0.0;
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
