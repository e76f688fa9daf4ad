/*
 * keeper_standard — keepers.model standard: delays, capacity, congestion,
 * profitability, outages (see keeper.h), the ms_keeper_standard table.
 *
 * The ready queue is a binary heap ordered by discovery sequence. Skipped
 * accounts are parked (four heaps of bounds with generation-stamped entries:
 * the mark's box, above and below, and the eligibility bound of longs and of
 * shorts) and rejoin the ready queue at the start of a later block, so a
 * block never takes the same account twice.
 */
#include "models/keeper.h"

#include <math.h>
#include <stdlib.h>

#include "core/dist.h"
#include "core/rng.h"
#include "core/heap.h"

typedef struct {
  int64_t seq, account;
} ready_item;

static inline int ready_less(const ready_item *a, const ready_item *b) { return a->seq < b->seq; }
MS_HEAP_DEFINE(ready_heap, ready_item, ready_less)

/* A parked account; its bounds sit in up to four heaps. */
typedef struct {
  int64_t seq, account;
  uint32_t gen;        /* bumped when the slot is freed: stale heap entries */
  int alive;
} park_slot;

typedef struct {
  double bound;        /* stored so that the heap is a min-heap (negated for "below" heaps) */
  int32_t slot;
  uint32_t gen;
} park_entry;

static inline int park_less(const park_entry *a, const park_entry *b) { return a->bound < b->bound; }
MS_HEAP_DEFINE(park_heap, park_entry, park_less)

/* ELIG_LONG, ELIG_SHORT: release when the side's eligibility probe <= elig_lo (stored negated) */
enum { MARK_ABOVE, MARK_BELOW, ELIG_LONG, ELIG_SHORT, NPARK };

typedef struct standard_keeper {
  ms_dist delay;             /* ms */
  int64_t per_block, block_time, horizon;
  double per_pending, max_factor, gas_cost;
  int noutages;
  ms_window_cfg outages[MS_MAX_OUTAGES];
  gsl_rng *rng;

  /* path state */
  double last_draw, next_draw;   /* next_draw: NAN, or the draw the next discovery takes */
  int64_t next_seq, pending;
  ready_heap ready;          /* ready, by discovery sequence */
  int block_scheduled;
  int64_t used_in_block, max_per_block;
  park_slot *slots;          /* parked accounts */
  size_t nslots, capslots;
  int32_t *free_slots;
  size_t nfree;
  int64_t parked;            /* alive slots */
  park_heap park[NPARK];
  int32_t *next;             /* slots released at the next block whatever the prices */
  size_t nnext, capnext;
} standard_keeper;

static ms_status std_create(void **out, const ms_config *cfg, ms_error *err) {
  standard_keeper *k = calloc(1, sizeof *k);
  if (!k) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  const ms_keeper_cfg *kc = &cfg->keepers;
  k->delay = kc->delay;
  k->per_block = kc->capacity.per_block;
  k->block_time = kc->capacity.block_time;
  k->horizon = cfg->horizon;
  k->per_pending = kc->congestion.per_pending;
  k->max_factor = kc->congestion.max_factor;
  k->gas_cost = kc->gas_cost;
  k->noutages = kc->noutages;
  for (int i = 0; i < kc->noutages; i++) k->outages[i] = kc->outages[i];
  ms_status s = ms_rng_new(&k->rng, err);
  if (s) { free(k); return s; }
  *out = k;
  return MS_OK;
}

static void std_free(void *state) {
  standard_keeper *k = state;
  ms_rng_free(k->rng);
  free(k->ready.v);
  free(k->slots);
  free(k->free_slots);
  free(k->next);
  for (int i = 0; i < NPARK; i++) free(k->park[i].v);
  free(k);
}

static void std_start(void *state, uint64_t seed, uint64_t path) {
  standard_keeper *k = state;
  ms_rng_seed(k->rng, seed, path, MS_STREAM_KEEPER);
  k->next_seq = k->pending = 0;
  k->last_draw = k->next_draw = NAN;
  k->ready.n = 0;
  k->block_scheduled = 0;
  k->used_in_block = k->max_per_block = 0;
  k->nslots = k->nfree = k->nnext = 0;
  k->parked = 0;
  for (int i = 0; i < NPARK; i++) k->park[i].n = 0;
}

/* First time >= t outside every outage window. */
static int64_t after_outages(const standard_keeper *k, int64_t t) {
  for (int moved = 1; moved;) {
    moved = 0;
    for (int i = 0; i < k->noutages; i++) {
      int64_t a = k->outages[i].start, b = a + k->outages[i].duration;
      if (t >= a && t < b) { t = b; moved = 1; }
    }
  }
  return t;
}

static int64_t next_block(const standard_keeper *k, int64_t t) {
  int64_t b = ((t + k->block_time - 1) / k->block_time) * k->block_time;
  for (;;) {
    int64_t c = after_outages(k, b);
    if (c == b) return b;
    b = ((c + k->block_time - 1) / k->block_time) * k->block_time;
  }
}

static ms_status std_discover(void *state, int64_t account, int64_t t, ms_queue *q, int64_t *delay) {
  standard_keeper *k = state;
  double factor = 1.0 + k->per_pending * (double)k->pending;
  if (factor > k->max_factor) factor = k->max_factor;
  double r = isnan(k->next_draw) ? ms_dist_sample(&k->delay, k->rng) : k->next_draw;
  k->next_draw = NAN;
  k->last_draw = r;
  double d = r * factor;
  int64_t ready = after_outages(k, t + (int64_t)llround(d));
  *delay = ready - t;
  k->pending++;
  int64_t seq = k->next_seq++;
  if (ready > k->horizon) return MS_OK; /* the path ends first */
  return ms_queue_push(q, ready, MS_EV_KEEPER_READY, account, seq);
}

static ms_status ensure_block(standard_keeper *k, int64_t t, ms_queue *q) {
  if (k->block_scheduled) return MS_OK;
  int64_t b = next_block(k, t);
  if (b > k->horizon) return MS_OK;
  k->block_scheduled = 1;
  return ms_queue_push(q, b, MS_EV_BLOCK, 0, 0);
}

static int std_on_ready(void *state, const ms_event *ev, ms_queue *q) {
  standard_keeper *k = state;
  if (k->per_block == 0) return 1;
  if (ready_heap_push(&k->ready, (ready_item){ev->b, ev->a})) return -1;
  return ensure_block(k, ev->t, q) ? -1 : 0;
}

static int std_block_next(void *state, int64_t *account, int64_t *seq) {
  standard_keeper *k = state;
  if (k->ready.n == 0 || (k->per_block > 0 && k->used_in_block >= k->per_block)) return 0;
  ready_item it = k->ready.v[0];
  ready_heap_pop(&k->ready);
  *account = it.account;
  *seq = it.seq;
  return 1;
}

static void std_block_used(void *state) {
  standard_keeper *k = state;
  k->used_in_block++;
  if (k->used_in_block > k->max_per_block) k->max_per_block = k->used_in_block;
}

static void std_resolved(void *state) {
  standard_keeper *k = state; k->pending--; }

/* ---- parked accounts ---- */

/* Move a parked account into the ready queue. */
static int release(standard_keeper *k, int32_t slot) {
  park_slot *ps = &k->slots[slot];
  ps->alive = 0;
  ps->gen++;
  k->parked--;
  k->free_slots[k->nfree++] = slot;
  return ready_heap_push(&k->ready, (ready_item){ps->seq, ps->account});
}

static ms_status std_defer(void *state, int64_t account, int64_t seq, int64_t t, double mark_lo,
                          double mark_hi, int side, double elig_lo, ms_queue *q) {
  standard_keeper *k = state;
  int32_t slot;
  if (k->nfree) {
    slot = k->free_slots[--k->nfree];
  } else {
    if (k->nslots == k->capslots) {
      size_t cap = k->capslots ? 2 * k->capslots : 64;
      park_slot *v = realloc(k->slots, cap * sizeof *v);
      if (!v) return MS_ERR_NOMEM;
      k->slots = v;
      int32_t *f = realloc(k->free_slots, cap * sizeof *f);
      if (!f) return MS_ERR_NOMEM;
      k->free_slots = f;
      for (size_t i = k->capslots; i < cap; i++) k->slots[i].gen = 0;
      k->capslots = cap;
    }
    slot = (int32_t)k->nslots++;
  }
  park_slot *ps = &k->slots[slot];
  ps->seq = seq;
  ps->account = account;
  ps->alive = 1;
  k->parked++;
  int empty = !(mark_lo < mark_hi) || !(elig_lo < INFINITY);
  if (empty) {
    if (ms_grow((void **)&k->next, &k->capnext, k->nnext + 1, sizeof *k->next)) return MS_ERR_NOMEM;
    k->next[k->nnext++] = slot;
  } else {
    park_entry e = {0, slot, ps->gen};
    int rc = 0;
    if (isfinite(mark_hi)) { e.bound = mark_hi; rc |= park_heap_push(&k->park[MARK_ABOVE], e); }
    if (isfinite(mark_lo)) { e.bound = -mark_lo; rc |= park_heap_push(&k->park[MARK_BELOW], e); }
    if (isfinite(elig_lo)) { e.bound = -elig_lo; rc |= park_heap_push(&k->park[side ? ELIG_SHORT : ELIG_LONG], e); }
    if (rc) return MS_ERR_NOMEM;
  }
  return ensure_block(k, t + 1, q);
}

static int64_t std_block_begin(void *state, double mark, const double elig[2]) {
  standard_keeper *k = state;
  for (size_t i = 0; i < k->nnext; i++)
    if (k->slots[k->next[i]].alive && release(k, k->next[i])) return -1;
  k->nnext = 0;
  const double probe[NPARK] = {mark, -mark, -elig[0], -elig[1]};
  for (int i = 0; i < NPARK; i++) {
    park_heap *h = &k->park[i];
    while (h->n && h->v[0].bound <= probe[i]) {
      park_entry e = h->v[0];
      park_heap_pop(h);
      if (k->slots[e.slot].alive && k->slots[e.slot].gen == e.gen && release(k, e.slot)) return -1;
    }
  }
  return k->parked;
}

static void std_unpark_all(void *state) {
  standard_keeper *k = state;
  /* Called between blocks: everything parked goes to the next block's list. */
  for (int i = 0; i < NPARK; i++) k->park[i].n = 0;
  k->nnext = 0;
  for (size_t i = 0; i < k->nslots; i++) {
    if (!k->slots[i].alive) continue;
    k->slots[i].gen++;
    if (ms_grow((void **)&k->next, &k->capnext, k->nnext + 1, sizeof *k->next)) {
      release(k, (int32_t)i); /* out of memory: ready at once */
      continue;
    }
    k->next[k->nnext++] = (int32_t)i;
  }
}

static ms_status std_block_end(void *state, int64_t t, ms_queue *q) {
  standard_keeper *k = state;
  k->used_in_block = 0;
  k->block_scheduled = 0;
  if (k->ready.n == 0 && k->parked == 0) return MS_OK;
  return ensure_block(k, t + 1, q);
}

static int64_t std_pending(const void *state) { return ((const standard_keeper *)state)->pending; }
static double std_gas_cost(const void *state) { return ((const standard_keeper *)state)->gas_cost; }
static int64_t std_max_per_block(const void *state) { return ((const standard_keeper *)state)->max_per_block; }

static double std_last_draw(const void *state) { return ((const standard_keeper *)state)->last_draw; }

static void std_set_next_draw(void *state, double draw) { ((standard_keeper *)state)->next_draw = draw; }

const ms_keeper_type ms_keeper_standard = {
    .name = "standard", .create = std_create, .free = std_free, .start = std_start, .discover = std_discover,
    .on_ready = std_on_ready, .block_next = std_block_next, .block_used = std_block_used,
    .resolved = std_resolved, .defer = std_defer, .block_begin = std_block_begin,
    .unpark_all = std_unpark_all, .block_end = std_block_end, .pending = std_pending,
    .gas_cost = std_gas_cost, .max_per_block = std_max_per_block, .last_draw = std_last_draw,
    .set_next_draw = std_set_next_draw};
