/*
 * keeper — delays, capacity, congestion, profitability, outages (see keeper.h).
 *
 * The ready queue is a binary heap ordered by discovery sequence. Accounts
 * skipped in a block wait in a side list and rejoin the heap at the block's
 * end, so a block never takes the same account twice.
 */
#include "marginsim/keeper.h"

#include <math.h>
#include <stdlib.h>

#include "marginsim/dist.h"
#include "marginsim/rng.h"

typedef struct {
  int64_t seq, account;
} ready_item;

struct ms_keeper {
  ms_dist delay;             /* ms */
  int64_t per_block, block_time, horizon;
  double per_pending, max_factor, gas_cost;
  int noutages;
  ms_window_cfg outages[MS_MAX_OUTAGES];
  gsl_rng *rng;

  /* path state */
  int64_t next_seq, pending;
  ready_item *heap;          /* ready, by discovery sequence */
  size_t n, cap;
  ready_item *deferred;      /* skipped in the current block */
  size_t nd, capd;
  int block_scheduled;
  int64_t used_in_block, max_per_block;
};

ms_status ms_keeper_new(ms_keeper **out, const ms_config *cfg, ms_error *err) {
  ms_keeper *k = calloc(1, sizeof *k);
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

void ms_keeper_free(ms_keeper *k) {
  if (!k) return;
  ms_rng_free(k->rng);
  free(k->heap);
  free(k->deferred);
  free(k);
}

void ms_keeper_start(ms_keeper *k, uint64_t seed, uint64_t path) {
  ms_rng_seed(k->rng, seed, path, MS_STREAM_KEEPER);
  k->next_seq = k->pending = 0;
  k->n = k->nd = 0;
  k->block_scheduled = 0;
  k->used_in_block = k->max_per_block = 0;
}

/* First time >= t outside every outage window. */
static int64_t after_outages(const ms_keeper *k, int64_t t) {
  for (int moved = 1; moved;) {
    moved = 0;
    for (int i = 0; i < k->noutages; i++) {
      int64_t a = k->outages[i].start, b = a + k->outages[i].duration;
      if (t >= a && t < b) { t = b; moved = 1; }
    }
  }
  return t;
}

static int64_t next_block(const ms_keeper *k, int64_t t) {
  int64_t b = ((t + k->block_time - 1) / k->block_time) * k->block_time;
  for (;;) {
    int64_t c = after_outages(k, b);
    if (c == b) return b;
    b = ((c + k->block_time - 1) / k->block_time) * k->block_time;
  }
}

ms_status ms_keeper_discover(ms_keeper *k, int64_t account, int64_t t, ms_queue *q, int64_t *delay) {
  double factor = 1.0 + k->per_pending * (double)k->pending;
  if (factor > k->max_factor) factor = k->max_factor;
  double d = ms_dist_sample(&k->delay, k->rng) * factor;
  int64_t ready = after_outages(k, t + (int64_t)llround(d));
  *delay = ready - t;
  k->pending++;
  int64_t seq = k->next_seq++;
  if (ready > k->horizon) return MS_OK; /* the path ends first */
  return ms_queue_push(q, ready, MS_EV_KEEPER_READY, account, seq);
}

static int heap_push(ready_item **h, size_t *n, size_t *cap, ready_item it) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 64;
    ready_item *p = realloc(*h, c * sizeof *p);
    if (!p) return -1;
    *h = p;
    *cap = c;
  }
  size_t i = (*n)++;
  while (i > 0) {
    size_t par = (i - 1) / 2;
    if ((*h)[par].seq <= it.seq) break;
    (*h)[i] = (*h)[par];
    i = par;
  }
  (*h)[i] = it;
  return 0;
}

static ready_item heap_pop(ms_keeper *k) {
  ready_item top = k->heap[0], last = k->heap[--k->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= k->n) break;
    if (c + 1 < k->n && k->heap[c + 1].seq < k->heap[c].seq) c++;
    if (k->heap[c].seq >= last.seq) break;
    k->heap[i] = k->heap[c];
    i = c;
  }
  if (k->n) k->heap[i] = last;
  return top;
}

static ms_status ensure_block(ms_keeper *k, int64_t t, ms_queue *q) {
  if (k->block_scheduled) return MS_OK;
  int64_t b = next_block(k, t);
  if (b > k->horizon) return MS_OK;
  k->block_scheduled = 1;
  return ms_queue_push(q, b, MS_EV_BLOCK, 0, 0);
}

int ms_keeper_on_ready(ms_keeper *k, const ms_event *ev, ms_queue *q) {
  if (k->per_block == 0) return 1;
  if (heap_push(&k->heap, &k->n, &k->cap, (ready_item){ev->b, ev->a})) return -1;
  return ensure_block(k, ev->t, q) ? -1 : 0;
}

int ms_keeper_block_next(ms_keeper *k, int64_t *account, int64_t *seq) {
  if (k->n == 0 || k->used_in_block >= k->per_block) return 0;
  ready_item it = heap_pop(k);
  *account = it.account;
  *seq = it.seq;
  return 1;
}

void ms_keeper_block_used(ms_keeper *k) {
  k->used_in_block++;
  if (k->used_in_block > k->max_per_block) k->max_per_block = k->used_in_block;
}

void ms_keeper_resolved(ms_keeper *k) { k->pending--; }

ms_status ms_keeper_retry(ms_keeper *k, int64_t account, int64_t seq, int64_t t, ms_queue *q) {
  if (k->per_block == 0) {
    int64_t ready = after_outages(k, t + k->block_time);
    if (ready > k->horizon) return MS_OK;
    return ms_queue_push(q, ready, MS_EV_KEEPER_READY, account, seq);
  }
  return heap_push(&k->deferred, &k->nd, &k->capd, (ready_item){seq, account}) ? MS_ERR_NOMEM : MS_OK;
}

ms_status ms_keeper_block_end(ms_keeper *k, int64_t t, ms_queue *q) {
  k->used_in_block = 0;
  for (size_t i = 0; i < k->nd; i++)
    if (heap_push(&k->heap, &k->n, &k->cap, k->deferred[i])) return MS_ERR_NOMEM;
  k->nd = 0;
  k->block_scheduled = 0;
  if (k->n == 0) return MS_OK;
  return ensure_block(k, t + 1, q);
}

int64_t ms_keeper_pending(const ms_keeper *k) { return k->pending; }
double ms_keeper_gas_cost(const ms_keeper *k) { return k->gas_cost; }
int64_t ms_keeper_max_per_block(const ms_keeper *k) { return k->max_per_block; }
