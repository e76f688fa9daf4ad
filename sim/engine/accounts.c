/*
 * accounts — touched-account pool with undo-by-walking (see accounts.h).
 */
#include "engine/accounts.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* The pool on 64-byte boundaries: an entry (64 bytes with MS_MAX_LEGS 2)
 * is then one cache line, one miss when a keeper acts on it. */
static ms_acct *pool_alloc(size_t n) {
  size_t bytes = (n * sizeof(ms_acct) + 63) / 64 * 64;
  return aligned_alloc(64, bytes);
}

/* How the pool grows. It starts small and doubles while it is small
 * against the book: an engine that touches few accounts (a calm path, most
 * cells of a big sweep) holds and commits little. Once it reaches an
 * eighth of the book it is allocated for the whole book at once and never
 * moves again: a large allocation is address space whose pages the kernel
 * provides as they are first written, so what is resident is the entries
 * the worst path so far touched, with no doubling slack and no copy while
 * the old and the new pool are both held (perp-1m, two threads: 178 MB
 * against 235 MB by doubling). Where memory is not overcommitted
 * (vm.overcommit_memory 2) such an engine is charged 72 bytes for every
 * account of the book. */
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
  a->pool = pool_alloc(a->cap);
  a->ids = malloc(a->cap * sizeof *a->ids);
  if (!a->slot || !a->pool || !a->ids) {
    ms_accounts_fini(a);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the account state");
  }
  for (int64_t i = 0; i < b->n; i++) a->slot[i] = -1;
  ms_accounts_reset(a);
  return MS_OK;
}

void ms_accounts_fini(ms_accounts *a) {
  free(a->slot);
  free(a->pool);
  free(a->ids);
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
    ms_acct *p = pool_alloc(cap);
    if (!p) return NULL;
    memcpy(p, a->pool, a->n * sizeof *p);
    free(a->pool);
    a->pool = p;
    int64_t *ids = realloc(a->ids, cap * sizeof *ids);
    if (!ids) return NULL;
    a->ids = ids;
    a->cap = cap;
  }
  ms_acct *x = &a->pool[a->n];
  x->q = a->book->qty[id];
  x->C = ms_accounts_collateral(a, id); /* still untouched: from the book and the shift */
  x->shift = a->shift[ms_side_of(x->q)];
  x->realized = 0.0;
  x->discovered = 0;
  int32_t o = a->book->nopt ? a->book->opt_of[id] : -1;
  for (int l = 0; l < MS_MAX_LEGS; l++)
    x->leg_q[l] = o >= 0 && l < a->book->opt[o].nlegs ? a->book->opt[o].legs[l].q : 0.0;
  x->version = 0;
  x->status = MS_ACCT_OPEN;
  x->skipped = 0;
  a->ids[a->n] = id;
  a->slot[id] = (int32_t)a->n++;
  return x;
}
