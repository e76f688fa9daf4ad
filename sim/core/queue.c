/*
 * queue — binary heap of events plus the tick clock (see queue.h).
 *
 * Invariant: heap[0] is the least (t, kind, seq) of the pending events; the
 * clock's next tick is compared with it on every pop.
 *
 * The heap holds 24-byte keys (time, kind and sequence packed into one
 * order word, and a slot); the payload of each pending event waits in a
 * slot of its own. A path can have hundreds of thousands of keeper events
 * pending: moving keys instead of 64-byte events keeps the heap's sifting
 * in cache. The order is the same total order, so the same events pop in
 * the same order (tests/test_queue.c checks it against a scanning reference).
 */
#include "core/queue.h"

#include <assert.h>
#include <stdlib.h>

#include "core/heap.h"

/* kind in the top 8 bits, seq below: (t, order) sorts as (t, kind, seq) */
#define SEQ_BITS 56
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)

typedef struct {
  int64_t t;
  uint64_t order;    /* kind << SEQ_BITS | seq */
  uint32_t slot;     /* its payload in ms_queue.pay */
} qkey;

typedef struct {
  int64_t a, b;
  double x, y;
} payload;

static inline int less(const qkey *x, const qkey *y) {
  return x->t != y->t ? x->t < y->t : x->order < y->order;
}

/* A 4-ary min-heap of keys: half the depth of a binary one, and a node's
 * four children share two cache lines. The order (t, kind, seq) is total,
 * so any correct heap pops the same sequence. */
typedef struct {
  qkey *v;
  size_t n, cap;
} event_heap;

static inline int event_heap_push(event_heap *h, qkey e) {
  if (ms_grow((void **)&h->v, &h->cap, h->n + 1, sizeof(qkey))) return -1;
  size_t i = h->n++;
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (!less(&e, &h->v[p])) break;
    h->v[i] = h->v[p];
    i = p;
  }
  h->v[i] = e;
  return 0;
}

static inline void event_heap_pop(event_heap *h) {
  qkey last = h->v[--h->n];
  size_t i = 0, n = h->n;
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= n) break;
    size_t best = c, end = c + 4 < n ? c + 4 : n;
    for (size_t j = c + 1; j < end; j++)
      if (less(&h->v[j], &h->v[best])) best = j;
    if (!less(&h->v[best], &last)) break;
    h->v[i] = h->v[best];
    i = best;
  }
  if (n) h->v[i] = last;
}

struct ms_queue {
  event_heap h;      /* pending events' keys */
  payload *pay;      /* their payloads, by slot */
  size_t npay, cappay;
  uint32_t *free;    /* free slots (a stack) */
  size_t nfree, capfree;
  uint64_t seq;      /* next insertion sequence */
  int64_t clk_next;  /* ms of the next tick; INT64_MAX when stopped */
  int64_t clk_period;
  int64_t clk_last;
};

ms_status ms_queue_new(ms_queue **out, size_t capacity, ms_error *err) {
  ms_queue *q = calloc(1, sizeof *q);
  size_t c = capacity ? capacity : 64;
  if (!q || ms_grow((void **)&q->h.v, &q->h.cap, c, sizeof(qkey)) ||
      ms_grow((void **)&q->pay, &q->cappay, c, sizeof(payload)) ||
      ms_grow((void **)&q->free, &q->capfree, c, sizeof(uint32_t))) {
    if (q) {
      free(q->h.v);
      free(q->pay);
      free(q->free);
    }
    free(q);
    return ms_error_set(err, MS_ERR_NOMEM, "cannot allocate the event queue");
  }
  ms_queue_reset(q);
  *out = q;
  return MS_OK;
}

void ms_queue_free(ms_queue *q) {
  if (!q) return;
  free(q->h.v);
  free(q->pay);
  free(q->free);
  free(q);
}

void ms_queue_reset(ms_queue *q) {
  q->h.n = 0;
  q->npay = 0;
  q->nfree = 0;
  q->seq = 0;
  q->clk_next = INT64_MAX;
  q->clk_period = 1;
  q->clk_last = INT64_MIN;
}

void ms_queue_clock_start(ms_queue *q, int64_t first, int64_t period, int64_t last) {
  assert(period > 0);
  q->clk_period = period;
  q->clk_last = last;
  q->clk_next = first <= last ? first : INT64_MAX;
}

int64_t ms_queue_clock_next(const ms_queue *q) { return q->clk_next; }

void ms_queue_clock_advance(ms_queue *q, int64_t n) {
  assert(n >= 1 && q->clk_next != INT64_MAX);
  int64_t t = q->clk_next + n * q->clk_period;
  q->clk_next = t <= q->clk_last ? t : INT64_MAX;
  q->seq++; /* the re-armed tick is "inserted" now */
}

ms_status ms_queue_push(ms_queue *q, int64_t t, ms_event_kind kind, int64_t a, int64_t b) {
  return ms_queue_push_x(q, t, kind, a, b, 0.0, 0.0);
}

ms_status ms_queue_push_x(ms_queue *q, int64_t t, ms_event_kind kind, int64_t a, int64_t b, double x,
                          double y) {
  assert(kind != MS_EV_TICK && kind < MS_EV_KIND_COUNT && kind < 256);
  if (q->seq > SEQ_MASK) return MS_ERR_INTERNAL; /* 2^56 events: far beyond any work bound */
  uint32_t slot;
  if (q->nfree > 0) {
    slot = q->free[--q->nfree];
  } else {
    if (q->npay >= UINT32_MAX || ms_grow((void **)&q->pay, &q->cappay, q->npay + 1, sizeof(payload)))
      return MS_ERR_NOMEM;
    slot = (uint32_t)q->npay++;
  }
  /* room to give every slot back at pop, so that pop cannot fail */
  if (ms_grow((void **)&q->free, &q->capfree, q->npay, sizeof(uint32_t))) {
    q->free[q->nfree++] = slot;
    return MS_ERR_NOMEM;
  }
  q->pay[slot] = (payload){a, b, x, y};
  qkey k = {t, ((uint64_t)kind << SEQ_BITS) | q->seq++, slot};
  if (event_heap_push(&q->h, k)) {
    q->free[q->nfree++] = slot;
    return MS_ERR_NOMEM;
  }
  return MS_OK;
}

int ms_queue_pop(ms_queue *q, ms_event *ev) {
  int have_tick = q->clk_next != INT64_MAX;
  const size_t n = q->h.n;
  const qkey *top = n ? &q->h.v[0] : NULL;
  if (n == 0 && !have_tick) return 0;
  const uint32_t top_kind = n ? (uint32_t)(top->order >> SEQ_BITS) : 0;
  /* A tick precedes a heap event at the same time iff its kind sorts first
   * (the sequence cannot tie-break: only the clock makes ticks). */
  if (have_tick && (n == 0 || q->clk_next < top->t || (q->clk_next == top->t && MS_EV_TICK < top_kind))) {
    int64_t count;
    if (n == 0) {
      count = (q->clk_last - q->clk_next) / q->clk_period + 1;
    } else {
      /* Ticks strictly before the top's time, plus one at its time if the tick sorts first. */
      int64_t span = top->t - q->clk_next;
      count = span / q->clk_period + ((span % q->clk_period == 0 && MS_EV_TICK > top_kind) ? 0 : 1);
      int64_t left = (q->clk_last - q->clk_next) / q->clk_period + 1;
      if (count > left) count = left;
    }
    assert(count >= 1);
    ev->t = q->clk_next;
    ev->kind = MS_EV_TICK;
    ev->seq = q->seq;
    ev->a = ev->b = 0;
    ev->x = ev->y = 0.0;
    ev->count = count;
    return 1;
  }
  const payload *pl = &q->pay[top->slot];
  ev->t = top->t;
  ev->kind = top_kind;
  ev->pad = 0;
  ev->seq = top->order & SEQ_MASK;
  ev->a = pl->a;
  ev->b = pl->b;
  ev->x = pl->x;
  ev->y = pl->y;
  ev->count = 0;
  q->free[q->nfree++] = top->slot;
  event_heap_pop(&q->h);
  return 1;
}

size_t ms_queue_size(const ms_queue *q) { return q->h.n; }
