/*
 * queue — binary heap of events plus the tick clock (see queue.h).
 *
 * Invariant: heap[0] is the least (t, kind, seq) of the pending events; the
 * clock's next tick is compared with it on every pop.
 */
#include "core/queue.h"

#include <assert.h>
#include <stdlib.h>

#include "core/heap.h"

static inline int less(const ms_event *x, const ms_event *y) {
  if (x->t != y->t) return x->t < y->t;
  if (x->kind != y->kind) return x->kind < y->kind;
  return x->seq < y->seq;
}

MS_HEAP_DEFINE(event_heap, ms_event, less)

struct ms_queue {
  event_heap h;      /* pending events */
  uint64_t seq;      /* next insertion sequence */
  int64_t clk_next;  /* ms of the next tick; INT64_MAX when stopped */
  int64_t clk_period;
  int64_t clk_last;
};

ms_status ms_queue_new(ms_queue **out, size_t capacity, ms_error *err) {
  ms_queue *q = calloc(1, sizeof *q);
  if (!q || ms_grow((void **)&q->h.v, &q->h.cap, capacity ? capacity : 64, sizeof(ms_event))) {
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
  free(q);
}

void ms_queue_reset(ms_queue *q) {
  q->h.n = 0;
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
  assert(kind != MS_EV_TICK && kind < MS_EV_KIND_COUNT);
  ms_event ev = {.t = t, .kind = (uint32_t)kind, .seq = q->seq++, .a = a, .b = b, .x = x, .y = y,
                 .count = 0};
  return event_heap_push(&q->h, ev) ? MS_ERR_NOMEM : MS_OK;
}

int ms_queue_pop(ms_queue *q, ms_event *ev) {
  int have_tick = q->clk_next != INT64_MAX;
  const size_t n = q->h.n;
  const ms_event *top = n ? &q->h.v[0] : NULL;
  if (n == 0 && !have_tick) return 0;
  /* A tick precedes a heap event at the same time iff its kind sorts first
   * (the sequence cannot tie-break: only the clock makes ticks). */
  if (have_tick && (n == 0 || q->clk_next < top->t || (q->clk_next == top->t && MS_EV_TICK < top->kind))) {
    int64_t count;
    if (n == 0) {
      count = (q->clk_last - q->clk_next) / q->clk_period + 1;
    } else {
      /* Ticks strictly before the top's time, plus one at its time if the tick sorts first. */
      int64_t span = top->t - q->clk_next;
      count = span / q->clk_period + ((span % q->clk_period == 0 && MS_EV_TICK > top->kind) ? 0 : 1);
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
  *ev = *top;
  ev->count = 0;
  event_heap_pop(&q->h);
  return 1;
}

size_t ms_queue_size(const ms_queue *q) { return q->h.n; }
