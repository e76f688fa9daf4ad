/*
 * acctindex — sorted arrays, cursors and overlay heaps (see acctindex.h).
 *
 * Candidate boundaries of perp-only accounts get a slack of 1e-9 x (E + P):
 * keys and boundaries are computed by different arithmetic than the exact
 * eligibility test, so the index must err towards more candidates, never
 * fewer. Option bands are conservative by construction (ms_margin_band).
 * Every band bound is stored as a key that is violated once key <= probe:
 * -p_lo against -P, p_hi against P, t_until against t, ratio_max against the
 * ratio, shift_max against the socialized shift of longs (option strategies
 * hold long perps only).
 */
#include "engine/acctindex.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/heap.h"
#include "models/pricepath.h"

#define BOUNDARY_SLACK 1e-9

static int perp_only(const ms_book *b, int64_t i) { return b->opt_of[i] < 0 && b->pos[i].qty != 0; }

/* Band keys: violated once key <= the probe of its kind. */
static void band_keys(const ms_band *bd, double shift0, double k[MS_NBAND]) {
  k[MS_BAND_LO] = -bd->p_lo;
  k[MS_BAND_HI] = bd->p_hi;
  k[MS_BAND_T] = (double)bd->t_until;
  k[MS_BAND_RATIO] = bd->ratio_max;
  k[MS_BAND_SHIFT] = shift0 + bd->shift_room;
}

/* Sorted by (key, id) with ms_sort_keyed: the order qsort gave with "key,
 * then id", without a comparison callback (half of a 1M-account path with
 * no liquidation was qsort). */
static ms_status fill_sorted(ms_index_static *s, const ms_book *b, const ms_margin *m, const ms_config *cfg,
                             ms_error *err) {
  int64_t k[2] = {0, 0};
  int separate = ms_margin_get_type(m)->key_mode != MS_KEY_COLLATERAL;
  for (int64_t i = 0; i < b->n; i++) {
    if (!perp_only(b, i)) continue;
    double q = b->pos[i].qty;
    int side = ms_side_of(q);
    ms_keyed *e = &s->liq[side][k[side]];
    e->id = (int32_t)i;
    e->key = ms_margin_key(m, b->pos[i].collateral, q, b->entry, 0.0);
    if (separate) s->adl[side][k[side]] = (ms_keyed){b->pos[i].collateral / (q > 0 ? q : -q), (int32_t)i};
    k[side]++;
  }
  int64_t most = k[0] > k[1] ? k[0] : k[1];
  if (most < b->nopt) most = b->nopt;
  ms_keyed *tmp = malloc((size_t)(most ? most : 1) * sizeof *tmp);
  if (!tmp) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the account index");
  for (int side = 0; side < 2; side++) {
    s->n[side] = k[side];
    ms_sort_keyed(s->liq[side], (size_t)k[side], tmp);
    if (!separate) s->adl[side] = s->liq[side];
    else ms_sort_keyed(s->adl[side], (size_t)k[side], tmp);
  }
  /* option accounts: their bands at time 0, for every regime */
  s->nopt = 0;
  for (int r = 0; r < s->nregimes; r++) {
    ms_view v = {b->entry, 0, s->vol[r]};
    int64_t j = 0;
    for (int64_t i = 0; i < b->n; i++) {
      if (b->opt_of[i] < 0) continue;
      assert(b->pos[i].qty >= 0); /* option strategies hold long perps only */
      ms_position p;
      ms_book_position(b, i, &p);
      ms_band bd;
      ms_margin_band(m, &p, b->entry, &v, NAN, &bd);
      double kk[MS_NBAND];
      band_keys(&bd, 0.0, kk);
      for (int t = 0; t < MS_NBAND; t++) s->band[r][t][j] = (ms_keyed){kk[t], (int32_t)i};
      j++;
    }
    s->nopt = j;
    for (int t = 0; t < MS_NBAND; t++) ms_sort_keyed(s->band[r][t], (size_t)j, tmp);
  }
  free(tmp);
  return MS_OK;
}

ms_status ms_index_static_build(ms_index_static **out, const ms_book *b, const ms_margin *m,
                                const ms_config *cfg, int per_path, ms_error *err) {
  *out = NULL;
  if (b->n > INT32_MAX) return ms_error_set(err, MS_ERR_INPUT, "book.accounts: at most %d", INT32_MAX);
  ms_index_static *s = calloc(1, sizeof *s);
  if (!s) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  s->nregimes = ms_price_vol_states(cfg, s->vol);
  int separate = ms_margin_get_type(m)->key_mode != MS_KEY_COLLATERAL;
  /* A per-run book is sorted once: each side gets exactly its accounts. A
   * per-path book changes sides every path: each side can then hold the
   * whole book, so that rebuilds never allocate. */
  int64_t cap[2] = {b->n, b->n}, nopt = per_path ? b->n : b->nopt;
  if (!per_path) {
    cap[0] = cap[1] = 0;
    for (int64_t i = 0; i < b->n; i++)
      if (perp_only(b, i)) cap[ms_side_of(b->pos[i].qty)]++;
  }
  int fail = 0;
  for (int side = 0; side < 2; side++) {
    size_t sz = (size_t)(cap[side] ? cap[side] : 1) * sizeof(ms_keyed);
    s->liq[side] = malloc(sz);
    s->adl[side] = separate ? malloc(sz) : NULL;
    fail |= !s->liq[side] || (separate && !s->adl[side]);
  }
  if (b->opt || per_path) {
    for (int r = 0; r < s->nregimes; r++)
      for (int t = 0; t < MS_NBAND; t++)
        fail |= !(s->band[r][t] = malloc((size_t)(nopt ? nopt : 1) * sizeof(ms_keyed)));
  }
  if (fail) {
    ms_index_static_free(s);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the account index");
  }
  ms_status st = fill_sorted(s, b, m, cfg, err);
  if (st) {
    ms_index_static_free(s);
    return st;
  }
  *out = s;
  return MS_OK;
}

ms_status ms_index_static_rebuild(ms_index_static *s, const ms_book *b, const ms_margin *m,
                                  const ms_config *cfg, ms_error *err) {
  return fill_sorted(s, b, m, cfg, err);
}

void ms_index_static_free(ms_index_static *s) {
  if (!s) return;
  for (int side = 0; side < 2; side++) {
    if (s->adl[side] != s->liq[side]) free(s->adl[side]);
    free(s->liq[side]);
  }
  for (int r = 0; r < MS_MAX_REGIMES; r++)
    for (int t = 0; t < MS_NBAND; t++) free(s->band[r][t]);
  free(s);
}

void ms_idbuf_free(ms_idbuf *b) {
  ms_big_free(b->v, b->cap * sizeof *b->v);
  b->v = NULL;
  b->n = b->cap = 0;
}

void ms_idbuf_trim(ms_idbuf *b) {
  if (b->cap * sizeof *b->v >= MS_BIG_MIN) ms_idbuf_free(b);
  else b->n = 0;
}

int ms_idbuf_push(ms_idbuf *b, int64_t id) {
  if (ms_big_grow((void **)&b->v, &b->cap, b->n + 1, sizeof *b->v)) return -1;
  b->v[b->n++] = id;
  return 0;
}

/* ---- versioned min-heaps ---- */

typedef struct {
  double key;
  int32_t id;
  uint32_t version;
  uint32_t stamp;          /* option bands: which band of its account and regime (band_rec) */
} hentry;

static inline int hless(const hentry *a, const hentry *b) {
  return a->key < b->key || (a->key == b->key && a->id < b->id);
}

MS_HEAP_DEFINE(heap, hentry, hless)

/* Per option account and regime: its latest band there. A heap entry is live
 * only while it carries the latest stamp, so re-keying an account kills its
 * older entries of that regime even when its version is unchanged (an
 * untouched account keeps UNTOUCHED_VERSION). */
typedef struct {
  uint32_t version;        /* of the account when the band was computed */
  uint32_t stamp;          /* > the index's path_stamp: computed in this path */
} band_rec;

/* One regime's option bands: kept across switches, since a band computed
 * under a regime holds whenever that regime is current and the account is
 * unchanged. */
typedef struct {
  int64_t cursor[MS_NBAND]; /* into the regime's time-0 arrays */
  heap band[MS_NBAND];     /* re-keyed option accounts, one heap per bound */
  size_t lim[MS_NBAND];    /* compact a heap when it reaches this many entries */
  heap again;              /* option accounts with an empty band: candidates at the next check (a list, not a heap) */
  size_t again_lim;
} regime_bands;

struct ms_index {
  const ms_index_static *st;
  int64_t cursor[2];       /* liq arrays: entries before it were handed out */
  int64_t adl_cursor[2];   /* adl arrays: entries before it are touched */
  heap over[2];            /* touched open perp-only accounts by liquidation key */
  heap adlh[2];            /* touched open perp-only accounts by ADL key */
  int regime;              /* of the last check; -1 before the first */
  int walk;                /* re-keyed under another regime since: the next check walks the pool */
  regime_bands rb[MS_MAX_REGIMES];
  band_rec *rec;           /* [option index * nregimes + regime] */
  size_t nrec;
  uint32_t stamp;          /* the last stamp given out */
  uint32_t path_stamp;     /* stamp when the path started */
  ms_idbuf seen;           /* option candidates of one call, to drop repeats */
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
  for (int r = 0; r < MS_MAX_REGIMES; r++) {
    for (int t = 0; t < MS_NBAND; t++) free(x->rb[r].band[t].v);
    free(x->rb[r].again.v);
  }
  free(x->rec);
  ms_idbuf_free(&x->seen);
  free(x);
}

void ms_index_reset(ms_index *x, const ms_index_static *st) {
  x->st = st;
  for (int s = 0; s < 2; s++) {
    x->cursor[s] = x->adl_cursor[s] = 0;
    x->over[s].n = x->adlh[s].n = 0;
  }
  x->regime = -1;
  x->walk = 0;
  for (int r = 0; r < MS_MAX_REGIMES; r++) {
    regime_bands *b = &x->rb[r];
    for (int t = 0; t < MS_NBAND; t++) {
      b->cursor[t] = 0;
      b->band[t].n = 0;
      b->lim[t] = 0;
    }
    b->again.n = 0;
    b->again_lim = 0;
  }
  /* Records of earlier paths carry stamps at or below path_stamp: stale
   * without being cleared. Restart the stamps (and clear) long before they
   * could wrap within a path. */
  size_t need = (size_t)st->nopt * (size_t)(st->nregimes > 0 ? st->nregimes : 1);
  if (need > x->nrec || x->stamp > UINT32_MAX / 2) {
    free(x->rec);
    /* calloc: pages of accounts never re-keyed are never written */
    x->rec = calloc(need > x->nrec ? need : x->nrec, sizeof *x->rec);
    x->nrec = x->rec ? (need > x->nrec ? need : x->nrec) : 0;
    x->stamp = 0;
  }
  x->path_stamp = x->stamp;
}

/* The band record of option account @p id under regime @p r (NULL if the
 * allocation at the path's start failed). */
static inline band_rec *rec_of(const ms_index *x, const ms_accounts *a, int64_t id, int r) {
  size_t i = (size_t)a->book->opt_of[id] * (size_t)x->st->nregimes + (size_t)r;
  return i < x->nrec ? &x->rec[i] : NULL;
}

/* Version of heap entries for accounts the path has not touched: they stay
 * valid until the account is touched (and then re-keyed under its version). */
#define UNTOUCHED_VERSION UINT32_MAX

static inline int live(const ms_accounts *a, const hentry *e) {
  const ms_acct *x = ms_accounts_peek(a, e->id);
  if (!x) return e->version == UNTOUCHED_VERSION;
  return x->version == e->version && x->status == MS_ACCT_OPEN;
}

/* A kept option band entry of regime @p r: the account's latest band there,
 * and the account unchanged and open since. */
static inline int band_live(const ms_index *x, const ms_accounts *a, const hentry *e, int r) {
  const band_rec *b = rec_of(x, a, e->id, r);
  return b && b->stamp == e->stamp && live(a, e);
}

size_t ms_index_option_entries(const ms_index *x) {
  size_t n = 0;
  for (int r = 0; r < MS_MAX_REGIMES; r++) {
    n += x->rb[r].again.n;
    for (int t = 0; t < MS_NBAND; t++) n += x->rb[r].band[t].n;
  }
  return n;
}

/* Below this many entries a heap is never compacted. */
#define COMPACT_MIN 256

/* Drop the dead entries of regime @p r's heap @p h (or list, @p is_heap 0)
 * and set its next limit to twice what is left: entries held stay within
 * twice the live ones (at most one per option account and bound) plus
 * COMPACT_MIN, and each compaction is paid for by the pushes before it. */
static void compact(ms_index *x, const ms_accounts *a, int r, heap *h, size_t *lim, int is_heap) {
  size_t k = 0;
  for (size_t i = 0; i < h->n; i++)
    if (band_live(x, a, &h->v[i], r)) h->v[k++] = h->v[i];
  h->n = k;
  if (is_heap) heap_heapify(h);
  *lim = 2 * k > COMPACT_MIN ? 2 * k : COMPACT_MIN;
}

static int option_candidates(ms_index *x, const ms_accounts *a, const ms_probe *pr, ms_idbuf *out) {
  const ms_index_static *st = x->st;
  x->seen.n = 0;
  const int r = pr->regime;
  if (r != x->regime || x->walk) {
    /* New volatility: regime r's bands take over where they were left, its
     * time-0 arrays for accounts never touched. A touched open option account
     * is re-examined unless its latest band under r was computed at its
     * current version. (A perps-only book has none: no walk of the pool.) */
    x->regime = r;
    x->walk = 0;
    for (size_t i = 0; st->nopt > 0 && i < a->n; i++) {
      int64_t id = a->ids[i];
      if (a->pool[i].status != MS_ACCT_OPEN || !ms_accounts_has_options(a, id)) continue;
      const band_rec *b = rec_of(x, a, id, r);
      if (b && b->stamp > x->path_stamp && b->version == a->pool[i].version) continue;
      if (ms_idbuf_push(&x->seen, id)) return -1;
    }
  }
  if (st->nopt > 0) {
    regime_bands *rb = &x->rb[r];
    const double probe[MS_NBAND] = {-pr->P, pr->P, (double)pr->t, pr->ratio, a->shift_hi[0]};
    for (int t = 0; t < MS_NBAND; t++) assert(!(probe[t] >= INFINITY)); /* keys of +inf are not kept */
    /* an empty band's keys are all at or below any probe (ms_index_rekey) */
    for (size_t i = 0; i < rb->again.n; i++) {
      const hentry *e = &rb->again.v[i];
      assert(e->key <= probe[MS_BAND_T]);
      if (band_live(x, a, e, r) && ms_idbuf_push(&x->seen, e->id)) return -1;
    }
    rb->again.n = 0;
    for (int t = 0; t < MS_NBAND; t++) {
      const ms_keyed *arr = st->band[r][t];
      int64_t c = rb->cursor[t];
      while (c < st->nopt && arr[c].key <= probe[t]) {
        int64_t id = arr[c].id;
        if (a->slot[id] < 0 && ms_idbuf_push(&x->seen, id)) return -1;
        c++;
      }
      rb->cursor[t] = c;
      heap *h = &rb->band[t];
      while (h->n && h->v[0].key <= probe[t]) {
        hentry e = h->v[0];
        heap_pop(h);
        if (band_live(x, a, &e, r) && ms_idbuf_push(&x->seen, e.id)) return -1;
      }
    }
  }
  ms_sort_i64(x->seen.v, x->seen.n);
  for (size_t i = 0; i < x->seen.n; i++)
    if ((i == 0 || x->seen.v[i] != x->seen.v[i - 1]) && ms_idbuf_push(out, x->seen.v[i])) return -1;
  return 0;
}

int ms_index_candidates(ms_index *x, const ms_accounts *a, const ms_margin *m, const ms_probe *pr,
                        ms_idbuf *out) {
  for (int side = 0; side < 2; side++) {
    double B = ms_margin_boundary(m, side == 0, pr->P, pr->E, a->shift_hi[side]) + BOUNDARY_SLACK * (pr->E + pr->P);
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
  return option_candidates(x, a, pr, out);
}

int ms_index_rekey(ms_index *x, const ms_accounts *a, const ms_margin *m, int64_t id, const ms_probe *pr) {
  const ms_acct *ac = ms_accounts_peek(a, id);
  uint32_t version = ac ? ac->version : UNTOUCHED_VERSION;
  if (ms_accounts_has_options(a, id)) {
    /* Under the probe's regime, even before the check that switches to it.
     * The regime may have changed and changed back between two checks (a
     * keeper reopening an account in between): the next check cannot tell
     * from its regime alone, so it walks the touched accounts. */
    const int r = pr->regime;
    if (r != x->regime) x->walk = 1;
    regime_bands *rb = &x->rb[r];
    band_rec *b = rec_of(x, a, id, r);
    if (!b) return -1;
    ms_position p;
    ms_accounts_position(a, id, &p);
    ms_view v = {pr->P, pr->t, pr->vol};
    ms_band bd;
    ms_margin_band(m, &p, pr->E, &v, pr->surplus, &bd);
    double k[MS_NBAND];
    band_keys(&bd, a->shift_hi[0], k);
    /* this band supersedes the account's earlier ones under r */
    *b = (band_rec){version, ++x->stamp};
    /* An empty band (ms_margin_band: revalue at once) has the keys -inf,
     * -inf, t, -inf, -inf: each would pop at the next check (its time is
     * not earlier), so one entry in a list does what five heap entries did.
     * A key of +inf never pops (probes are finite): it is not pushed. */
    if (k[MS_BAND_LO] == -INFINITY && k[MS_BAND_HI] == -INFINITY && k[MS_BAND_RATIO] == -INFINITY &&
        k[MS_BAND_SHIFT] == -INFINITY && k[MS_BAND_T] == (double)pr->t) {
      if (rb->again.n >= rb->again_lim) compact(x, a, r, &rb->again, &rb->again_lim, 0);
      if (ms_grow((void **)&rb->again.v, &rb->again.cap, rb->again.n + 1, sizeof *rb->again.v)) return -1;
      rb->again.v[rb->again.n++] = (hentry){k[MS_BAND_T], (int32_t)id, version, b->stamp};
      return 0;
    }
    for (int t = 0; t < MS_NBAND; t++) {
      if (!(k[t] < INFINITY)) continue;
      if (rb->band[t].n >= rb->lim[t]) compact(x, a, r, &rb->band[t], &rb->lim[t], 1);
      if (heap_push(&rb->band[t], (hentry){k[t], (int32_t)id, version, b->stamp})) return -1;
    }
    return 0;
  }
  double q = ms_accounts_qty(a, id);
  if (q == 0) return 0; /* nothing left to liquidate */
  int side = ms_side_of(q);
  hentry e = {ms_margin_key(m, ms_accounts_collateral(a, id), q, pr->E, a->shift_hi[side]), (int32_t)id, version, 0};
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
    hentry best = {arr[c].key, arr[c].id, 0, 0};
    return hless(&h->v[0], &best) ? h->v[0].id : arr[c].id;
  }
  if (c < n) return arr[c].id;
  if (h->n) return h->v[0].id;
  return -1;
}
