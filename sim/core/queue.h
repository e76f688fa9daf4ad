/*
 * queue — the discrete-event queue of one path.
 *
 * Events are ordered by (time in integer ms, kind priority, insertion
 * sequence): the same inputs always give the same order. The kind is the
 * priority: at equal times a regime switch comes before a jump, a jump
 * before the price tick, the tick before the oracle, and so on down the enum.
 *
 * The exogenous tick is a clock inside the queue rather than one heap entry
 * per tick: ms_queue_pop() reports a TICK event together with how many
 * consecutive ticks precede every other pending event, and the engine
 * consumes some or all of them with ms_queue_clock_advance(). The order is
 * exactly that of one heap entry per tick (each tick would have been pushed
 * after everything already queued), at O(1) per tick instead of O(log n).
 *
 * Cancelling is lazy: a component keeps a token in the event's payload and
 * ignores events whose token is stale.
 */
#ifndef MARGINSIM_QUEUE_H
#define MARGINSIM_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "marginsim/error.h"

/* Kinds in priority order (lower first at equal times). Never reorder casually:
 * the order is part of the model (docs/engine.md). */
typedef enum {
  MS_EV_REGIME = 0,      /* regime switch */
  MS_EV_JUMP,            /* jump of the exogenous log price */
  MS_EV_TICK,            /* exogenous price tick (the clock) */
  MS_EV_ORACLE_PUBLISH,  /* an oracle price becomes visible to the protocol */
  MS_EV_ORACLE_ROUND,    /* an oracle round starts: observes the mark */
  MS_EV_MARGIN_UPDATE,   /* dynamic margin re-estimate */
  MS_EV_EXPIRY,          /* option expiry and settlement */
  MS_EV_KEEPER_READY,    /* a keeper is ready to act on an account */
  MS_EV_BLOCK,           /* a block: keepers' liquidations land */
  MS_EV_FUNDING,         /* a funding payment (after the fills of its instant, which its premium sees) */
  MS_EV_SAMPLE,          /* time-series sample (sees the state after everything at t) */
  MS_EV_KIND_COUNT
} ms_event_kind;

typedef struct ms_event {
  int64_t t;             /* ms */
  uint32_t kind;         /* ms_event_kind = priority */
  uint32_t pad;
  uint64_t seq;          /* insertion sequence */
  int64_t a, b;          /* payload (account id, token, ...) */
  double x, y;           /* payload (observed prices, ...) */
  int64_t count;         /* TICK: consecutive ticks available, >= 1 */
} ms_event;

typedef struct ms_queue ms_queue;

/** A queue with room for @p capacity pending events (it grows if needed). */
ms_status ms_queue_new(ms_queue **out, size_t capacity, ms_error *err);

/** Free; NULL is a no-op. */
void ms_queue_free(ms_queue *q);

/** Drop every event, stop the clock and restart the sequence at 0. */
void ms_queue_reset(ms_queue *q);

/**
 * Start the tick clock: ticks at first, first + period, ... up to and
 * including last.
 */
void ms_queue_clock_start(ms_queue *q, int64_t first, int64_t period, int64_t last);

/** Time of the next tick, or INT64_MAX when the clock has run out. */
int64_t ms_queue_clock_next(const ms_queue *q);

/** Consume @p n ticks (1 <= n <= the count reported by the last pop). */
void ms_queue_clock_advance(ms_queue *q, int64_t n);

/**
 * Push an event. Fails only when memory runs out (@p b must not be
 * INT64_MIN, the queue's own marker; ms_queue_push_x takes any b).
 */
ms_status ms_queue_push(ms_queue *q, int64_t t, ms_event_kind kind, int64_t a, int64_t b);

/** Push an event with two numbers of payload as well. */
ms_status ms_queue_push_x(ms_queue *q, int64_t t, ms_event_kind kind, int64_t a, int64_t b, double x,
                          double y);

/**
 * The next event in order. For a TICK, ev->count is the number of
 * consecutive ticks before any other pending event; the clock does not move
 * until ms_queue_clock_advance(). Returns 0 when nothing is left.
 */
int ms_queue_pop(ms_queue *q, ms_event *ev);

/**
 * For warming caches ahead of the events (a hint; it changes nothing):
 * ms_queue_loads() counts the times the queue has moved a batch of events
 * into its front, the next ones to pop; ms_queue_front() copies the payload
 * a of up to @p max of the front's events of @p kind, the next to pop
 * first, the rest in no particular order, and returns how many.
 */
uint64_t ms_queue_loads(const ms_queue *q);
size_t ms_queue_front(const ms_queue *q, ms_event_kind kind, int64_t *a, size_t max);

/**
 * The next event, left in the queue (a queue whose clock was never
 * started): 1 and @p ev filled, or 0 when nothing is pending or
 * *@p st is set (out of memory). It costs a pop and a push.
 */
int ms_queue_peek(ms_queue *q, ms_event *ev, ms_status *st);

/** Number of events pending (the clock not counted). */
size_t ms_queue_size(const ms_queue *q);

#endif
