/*
 * acctindex — sorted arrays, cursors and overlay heaps (see acctindex.h).
 *
 * Candidate boundaries get a slack of 1e-9 x (E + P): keys and boundaries are
 * computed by different arithmetic than the exact eligibility test, so the
 * index must err towards more candidates, never fewer. A candidate that is
 * not eligible goes back into a heap with its exact key.
 */
#include "acctindex.h"

#include "heap.h"

#include <stdlib.h>
#include <string.h>

#define BOUNDARY_SLACK 1e-9

static int cmp_keyed(const void *pa, const void *pb) {
  const ms_keyed *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static ms_status fill_sorted(ms_index_static *s, const ms_book *b, const ms_margin *m) {
  int64_t k[2] = {0, 0};
  int separate = ms_margin_get_type(m)->key_mode != MS_KEY_COLLATERAL;
  for (int64_t i = 0; i < b->n; i++) {
    double q = b->qty[i];
    int side = ms_side_of(q);
    ms_keyed *e = &s->liq[side][k[side]];
    e->id = (int32_t)i;
    e->key = ms_margin_key(m, b->collateral[i], q, b->entry, 0.0);
    if (separate) s->adl[side][k[side]] = (ms_keyed){b->collateral[i] / (q > 0 ? q : -q), (int32_t)i};
    k[side]++;
  }
  for (int side = 0; side < 2; side++) {
    s->n[side] = k[side];
    qsort(s->liq[side], (size_t)k[side], sizeof(ms_keyed), cmp_keyed);
    if (separate) qsort(s->adl[side], (size_t)k[side], sizeof(ms_keyed), cmp_keyed);
    else s->adl[side] = s->liq[side];
  }
  return MS_OK;
}

ms_status ms_index_static_build(ms_index_static **out, const ms_book *b, const ms_margin *m,
                                int per_path, ms_error *err) {
  *out = NULL;
  if (b->n > INT32_MAX) return ms_error_set(err, MS_ERR_INPUT, "book.accounts: at most %d", INT32_MAX);
  ms_index_static *s = calloc(1, sizeof *s);
  if (!s) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  int separate = ms_margin_get_type(m)->key_mode != MS_KEY_COLLATERAL;
  /* A per-run book is sorted once: each side gets exactly its accounts. A
   * per-path book changes sides every path: each side can then hold the
   * whole book, so that rebuilds never allocate. */
  int64_t cap[2] = {b->n, b->n};
  if (!per_path) {
    cap[0] = cap[1] = 0;
    for (int64_t i = 0; i < b->n; i++) cap[ms_side_of(b->qty[i])]++;
  }
  for (int side = 0; side < 2; side++) {
    size_t sz = (size_t)(cap[side] ? cap[side] : 1) * sizeof(ms_keyed);
    s->liq[side] = malloc(sz);
    s->adl[side] = separate ? malloc(sz) : NULL;
    if (!s->liq[side] || (separate && !s->adl[side])) {
      ms_index_static_free(s);
      return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the account index");
    }
  }
  fill_sorted(s, b, m);
  *out = s;
  return MS_OK;
}

ms_status ms_index_static_rebuild(ms_index_static *s, const ms_book *b, const ms_margin *m, ms_error *err) {
  (void)err;
  return fill_sorted(s, b, m);
}

void ms_index_static_free(ms_index_static *s) {
  if (!s) return;
  for (int side = 0; side < 2; side++) {
    if (s->adl[side] != s->liq[side]) free(s->adl[side]);
    free(s->liq[side]);
  }
  free(s);
}

int ms_idbuf_push(ms_idbuf *b, int64_t id) {
  if (ms_grow((void **)&b->v, &b->cap, b->n + 1, sizeof *b->v)) return -1;
  b->v[b->n++] = id;
  return 0;
}

/* ---- versioned min-heap of (key, id) ---- */

typedef struct {
  double key;
  int32_t id;
  uint32_t version;
} hentry;

static inline int hless(const hentry *a, const hentry *b) {
  return a->key < b->key || (a->key == b->key && a->id < b->id);
}

MS_HEAP_DEFINE(heap, hentry, hless)

struct ms_index {
  const ms_index_static *st;
  int64_t cursor[2];       /* liq arrays: entries before it were handed out */
  int64_t adl_cursor[2];   /* adl arrays: entries before it are touched */
  heap over[2];            /* touched open accounts by liquidation key */
  heap adlh[2];            /* touched open accounts by ADL key */
};

ms_status ms_index_new(ms_index **out, ms_error *err) {
  *out = calloc(1, sizeof **out);
  return *out ? MS_OK : ms_error_set(err, MS_ERR_NOMEM, "out of memory");
}

void ms_index_free(ms_index *x) {
  if (!x) return;
  for (int s = 0; s < 2; s++) {
    free(x->over[s].v);
    free(x->adlh[s].v);
  }
  free(x);
}

void ms_index_reset(ms_index *x, const ms_index_static *st) {
  x->st = st;
  for (int s = 0; s < 2; s++) {
    x->cursor[s] = x->adl_cursor[s] = 0;
    x->over[s].n = x->adlh[s].n = 0;
  }
}

/* Version of heap entries for accounts the path has not touched: they stay
 * valid until the account is touched (and then re-keyed under its version). */
#define UNTOUCHED_VERSION UINT32_MAX

static inline int live(const ms_accounts *a, const hentry *e) {
  const ms_acct *x = ms_accounts_peek(a, e->id);
  if (!x) return e->version == UNTOUCHED_VERSION;
  return x->version == e->version && x->status == MS_ACCT_OPEN;
}

int ms_index_candidates(ms_index *x, const ms_accounts *a, const ms_margin *m, double P, double E,
                        ms_idbuf *out) {
  for (int side = 0; side < 2; side++) {
    double B = ms_margin_boundary(m, side == 0, P, E, a->shift[side]) + BOUNDARY_SLACK * (E + P);
    const ms_keyed *arr = x->st->liq[side];
    int64_t n = x->st->n[side], c = x->cursor[side];
    while (c < n && arr[c].key < B) {
      if (a->slot[arr[c].id] < 0 && ms_idbuf_push(out, arr[c].id)) return -1;
      c++;
    }
    x->cursor[side] = c;
    heap *h = &x->over[side];
    while (h->n && h->v[0].key < B) {
      hentry e = h->v[0];
      heap_pop(h);
      if (live(a, &e) && ms_idbuf_push(out, e.id)) return -1;
    }
  }
  return 0;
}

int ms_index_rekey(ms_index *x, const ms_accounts *a, const ms_margin *m, int64_t id, double E) {
  const ms_acct *ac = ms_accounts_peek(a, id);
  double q = ms_accounts_qty(a, id);
  int side = ms_side_of(q);
  hentry e = {ms_margin_key(m, ms_accounts_collateral(a, id), q, E, a->shift[side]), (int32_t)id,
              ac ? ac->version : UNTOUCHED_VERSION};
  if (heap_push(&x->over[side], e)) return -1;
  if (!ac) return 0; /* untouched: still ranked by the ADL array */
  e.key = ms_accounts_adl_key(a, id);
  return heap_push(&x->adlh[side], e);
}

int64_t ms_index_adl_next(ms_index *x, const ms_accounts *a, int side) {
  const ms_keyed *arr = x->st->adl[side];
  int64_t n = x->st->n[side], c = x->adl_cursor[side];
  while (c < n && a->slot[arr[c].id] >= 0) c++; /* touched: in the heap if still open */
  x->adl_cursor[side] = c;
  heap *h = &x->adlh[side];
  while (h->n && !live(a, &h->v[0])) heap_pop(h);
  if (c < n && h->n) {
    hentry best = {arr[c].key, arr[c].id, 0};
    return hless(&h->v[0], &best) ? h->v[0].id : arr[c].id;
  }
  if (c < n) return arr[c].id;
  if (h->n) return h->v[0].id;
  return -1;
}
