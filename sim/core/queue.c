/*
 * queue — events in time buckets, a sorted slot in front, plus the tick
 * clock (see queue.h).
 *
 * A path at 1M accounts has a quarter of a million keeper events pending,
 * most of them seconds ahead: one heap of them all missed the cache at
 * every level of every sift. Events are instead sorted only when their time
 * comes near:
 *
 *  - time is cut into slots of 2^SLOT_SHIFT ms (slot = floor(t / 2^SLOT_SHIFT));
 *  - the front: every event of a slot below fs (the "front slot"), which
 *    the queue has reached: the slot's bucket sorted once when it is loaded
 *    (an array consumed in order), and a small 4-ary min-heap, "late", of
 *    the events pushed into a slot already reached and of the far events
 *    of the slot loaded;
 *  - the ring: NBUCKET buckets, one per slot of [fs, fs + NBUCKET), each an
 *    unsorted list of chunks of events, its least key kept on the side and
 *    a bitmap of the non-empty ones;
 *  - the far heap: events of slots from fs + NBUCKET on (rare: delays past
 *    the ring's span, heartbeats, samples).
 *
 * Invariant: every event of the front has slot < fs, every other event has
 * slot >= fs, so a non-empty front's least (the array's next or late's top)
 * is the least pending event. When the front is empty, the least pending
 * event is the least of the first non-empty bucket and the far heap's top;
 * when that event (not the clock) pops, its slot s is loaded into the front
 * (the bucket, and the far events of slot s) and fs becomes s + 1. A push
 * lands in the front (late), its bucket or the far heap by its slot alone.
 *
 * A bucket's events are in push order, which is seq order: a stable sort by
 * (t, kind) sorts them by (t, kind, seq), and a counting sort by t's offset
 * in the slot (by offset and kind when a bucket holds several kinds) is
 * one; a bucket of a few events is sorted by insertion. A sorted slot is
 * consumed by an index where a heap sifted at every pop (at 100k accounts
 * ms_queue_pop was 11% of a run of scenarios/bench/peer.yaml).
 *
 * The order is the same total order (t, kind, seq) as before, so the same
 * events pop in the same sequence, whatever SLOT_SHIFT, NBUCKET and CHUNK are
 * (tests/test_queue.c checks it against a scanning reference, across slots,
 * ring turns, far events, times below the front and bursts of one kind).
 */
#include "core/queue.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/heap.h"

/* kind in the top 8 bits, seq below: (t, order) sorts as (t, kind, seq) */
#define SEQ_BITS 56
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)

#define SLOT_SHIFT 6 /* 64 ms slots */
#define NBUCKET 1024 /* a ring of 65.5 s */
#define CHUNK 5      /* events per chunk of a bucket (sparse buckets stay small) */

/* 32 bytes, two to a cache line: a crash path at 1M accounts can have
 * hundreds of thousands of keeper events pending, and they carry an account
 * and a token only. The few events with numbers as well (an oracle's
 * publish) keep their payload in a side table: b is then OUT_OF_LINE and a
 * the payload's slot. */
typedef struct {
  int64_t t;
  uint64_t order; /* kind << SEQ_BITS | seq */
  int64_t a, b;
} qev;

#define OUT_OF_LINE INT64_MIN

typedef struct {
  int64_t a, b;
  double x, y;
} payload;

static inline int less(const qev *x, const qev *y) {
  /* no branch: which of two events comes first is data, not a pattern */
  return (x->t < y->t) | ((x->t == y->t) & (x->order < y->order));
}

static inline int64_t slot_of(int64_t t) {
  /* floor division by 2^SLOT_SHIFT, also for negative times */
  return t >= 0 ? t >> SLOT_SHIFT : -(int64_t)(((uint64_t)(-(t + 1)) >> SLOT_SHIFT) + 1);
}

/* A 4-ary min-heap of events: half the depth of a binary one. */
typedef struct {
  qev *v;
  size_t n, cap;
} event_heap;

static inline void sift_up(qev *v, size_t i, qev e) {
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (!less(&e, &v[p])) break;
    v[i] = v[p];
    i = p;
  }
  v[i] = e;
}

static inline void sift_down(qev *v, size_t n, size_t i, qev e) {
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= n) break;
    size_t best = c;
    if (c + 4 <= n) { /* four children: the least in a tournament of selects, no branch */
      size_t b01 = less(&v[c + 1], &v[c]) ? c + 1 : c, b23 = less(&v[c + 3], &v[c + 2]) ? c + 3 : c + 2;
      best = less(&v[b23], &v[b01]) ? b23 : b01;
    } else {
      for (size_t j = c + 1; j < n; j++)
        if (less(&v[j], &v[best])) best = j;
    }
    if (!less(&v[best], &e)) break;
    v[i] = v[best];
    i = best;
  }
  v[i] = e;
}

static inline int heap_push(event_heap *h, const qev *e) {
  if (ms_big_grow((void **)&h->v, &h->cap, h->n + 1, sizeof(qev))) return -1;
  sift_up(h->v, h->n++, *e);
  return 0;
}

static inline void heap_pop(event_heap *h) {
  qev last = h->v[--h->n];
  if (h->n) sift_down(h->v, h->n, 0, last);
}

/* A bucket's chunks are full but its last: a bucket of n events has
 * c = ceil(n / CHUNK) of them and the last holds n - CHUNK (c - 1). A push
 * reads the bucket alone (the count is there), not its last chunk's line.
 * The chunks' links are in an array of their own (chnext), small and
 * cached: loading a bucket walks it without waiting for each chunk, and the
 * chunks' misses overlap (at 1M accounts a bucket's chunks were written
 * seconds before and are out of the caches). */
typedef struct {
  qev e[CHUNK];
} qchunk;

typedef struct {
  int32_t head, tail; /* chunks, -1: empty */
  uint32_t n;         /* its events */
  uint32_t kinds;     /* bit k: it holds an event of kind k */
  int64_t min_t;      /* the least key of its events */
  uint64_t min_order;
} bucket;

struct ms_queue {
  qev *fv;           /* the front: a loaded bucket sorted, fv[fpos, fn) still to pop (slots below fs) */
  size_t fpos, fn, capf;
  event_heap late;   /* the front: pushed below fs, or far events of the slot loaded */
  event_heap far;    /* slots from fs + NBUCKET on */
  int64_t fs;        /* the front slot */
  size_t nring;      /* events in the buckets */
  size_t maxb;       /* the most events a bucket has held (this path) */
  bucket bk[NBUCKET];
  uint64_t used[NBUCKET / 64]; /* bit i: bucket i is not empty */
  int64_t first;     /* the first non-empty bucket's slot, when first_ok */
  int first_ok;      /* (a pop between events far apart would scan the bitmap each time) */
  qchunk *ch;        /* the buckets' chunks */
  size_t nch, capch;
  int32_t *chnext;   /* chunk -> next chunk of its bucket, -1: none (room: capchnext >= capch) */
  size_t capchnext;
  int32_t *free_ch;  /* free chunks, a stack (room for capfree >= capch): the next free chunk needs no read of a chunk */
  size_t capfree;
  size_t nfree;      /* chunks on the free stack */
  payload *pl;       /* out-of-line payloads */
  size_t npl, cappl; /* slots handed out so far (a slot is free again when its event pops) */
  int64_t *free_pl;  /* freed slots, a stack */
  size_t nfree_pl, capfree_pl;
  uint64_t seq;      /* next insertion sequence */
  uint64_t loads;    /* slots loaded into the front */
  int64_t clk_next;  /* ms of the next tick; INT64_MAX when stopped */
  int64_t clk_period;
  int64_t clk_last;
};

ms_status ms_queue_new(ms_queue **out, size_t capacity, ms_error *err) {
  ms_queue *q = calloc(1, sizeof *q);
  size_t c = capacity ? capacity : 64;
  if (!q || ms_big_grow((void **)&q->late.v, &q->late.cap, c < 1024 ? c : 1024, sizeof(qev))) {
    free(q);
    return ms_error_set(err, MS_ERR_NOMEM, "cannot allocate the event queue");
  }
  for (size_t i = 0; i < NBUCKET; i++) {
    q->bk[i].head = q->bk[i].tail = -1;
    q->bk[i].n = 0;
  }
  ms_queue_reset(q);
  *out = q;
  return MS_OK;
}

void ms_queue_free(ms_queue *q) {
  if (!q) return;
  ms_big_free(q->late.v, q->late.cap * sizeof(qev));
  ms_big_free(q->fv, q->capf * sizeof(qev));
  ms_big_free(q->far.v, q->far.cap * sizeof(qev));
  ms_big_free(q->ch, q->capch * sizeof(qchunk));
  ms_big_free(q->free_ch, q->capfree * sizeof(int32_t));
  ms_big_free(q->chnext, q->capchnext * sizeof(int32_t));
  free(q->pl);
  free(q->free_pl);
  free(q);
}

static void free_chunks(ms_queue *q, bucket *b) {
  for (int32_t c = b->head; c >= 0; c = q->chnext[c]) q->free_ch[q->nfree++] = c;
  b->head = b->tail = -1;
  b->n = 0;
}

void ms_queue_reset(ms_queue *q) {
  for (size_t w = 0; w < NBUCKET / 64; w++) {
    while (q->used[w]) {
      int i = __builtin_ctzll(q->used[w]);
      q->used[w] &= q->used[w] - 1;
      free_chunks(q, &q->bk[w * 64 + (size_t)i]);
    }
  }
  q->fpos = q->fn = 0;
  q->late.n = 0;
  q->far.n = 0;
  q->fs = 0;
  q->nring = 0;
  q->first_ok = 0;
  q->maxb = 0;
  q->npl = q->nfree_pl = 0;
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

/* Loading a slot into the front must not fail (pop cannot): the sorted
 * array keeps room for the fullest bucket, and late for every far event
 * (late is empty when a slot is loaded). */
static inline int front_room(ms_queue *q, size_t maxb, size_t nfar) {
  return ms_big_grow((void **)&q->fv, &q->capf, maxb, sizeof(qev)) ||
         ms_big_grow((void **)&q->late.v, &q->late.cap, nfar, sizeof(qev));
}

static inline int bucket_push(ms_queue *q, size_t i, qev e) {
  bucket *b = &q->bk[i];
  if ((size_t)b->n + 1 > q->maxb) {
    if (b->n == UINT32_MAX) return -1;
    if (front_room(q, b->n + 1, q->far.n)) return -1;
    q->maxb = b->n + 1;
  }
  size_t k = b->n % CHUNK; /* the event's place in the last chunk; 0: a new chunk */
  if (k == 0) {
    int32_t c;
    if (q->nfree) {
      c = q->free_ch[--q->nfree];
    } else {
      if (q->nch >= INT32_MAX) return -1;
      if (q->nch == q->capch) {
        /* the free stack and the links first, each with its own room, so that
         * a failure leaves every array as it was; the stack holds every chunk:
         * a pop never allocates */
        size_t cap = q->capch ? 2 * q->capch : 64;
        if (ms_big_grow((void **)&q->free_ch, &q->capfree, cap, sizeof *q->free_ch) ||
            ms_big_grow((void **)&q->chnext, &q->capchnext, cap, sizeof *q->chnext) ||
            ms_big_grow((void **)&q->ch, &q->capch, cap, sizeof *q->ch))
          return -1;
      }
      c = (int32_t)q->nch++;
    }
    q->chnext[c] = -1;
    if (b->tail < 0) {
      b->head = c;
      b->min_t = e.t;
      b->min_order = e.order;
      b->kinds = 0;
      q->used[i / 64] |= UINT64_C(1) << (i % 64);
    } else {
      q->chnext[b->tail] = c;
    }
    b->tail = c;
  }
  q->ch[b->tail].e[k] = e;
  b->n++;
  b->kinds |= UINT32_C(1) << (e.order >> SEQ_BITS);
  if (e.t < b->min_t || (e.t == b->min_t && e.order < b->min_order)) {
    b->min_t = e.t;
    b->min_order = e.order;
  }
  q->nring++;
  return 0;
}

/* Inline, the event by value: built on the caller's stack and read back as
 * wider words, it stalled on a failed store forward (perf: two thirds of the
 * push's samples on that load). */
static inline __attribute__((always_inline)) ms_status push(ms_queue *q, qev e) {
  int64_t s = slot_of(e.t);
  int rc;
  if (s < q->fs) rc = heap_push(&q->late, &e);
  else if (s - q->fs < NBUCKET) {
    rc = bucket_push(q, (size_t)s & (NBUCKET - 1), e);
    if (!rc && q->first_ok && s < q->first) q->first = s;
  }
  else rc = front_room(q, q->maxb, q->far.n + 1) || heap_push(&q->far, &e);
  if (rc) return MS_ERR_NOMEM;
  q->seq++;
  return MS_OK;
}

ms_status ms_queue_push(ms_queue *q, int64_t t, ms_event_kind kind, int64_t a, int64_t b) {
  assert(kind != MS_EV_TICK && kind < MS_EV_KIND_COUNT && kind < 256);
  assert(b != OUT_OF_LINE); /* no caller's token or payload: the marker of an out-of-line payload */
  /* 2^56 events: far beyond any work bound; a kind past the enum would overrun a bucket's sort */
  if (q->seq > SEQ_MASK || b == OUT_OF_LINE || (unsigned)kind >= MS_EV_KIND_COUNT) return MS_ERR_INTERNAL;
  return push(q, (qev){t, ((uint64_t)kind << SEQ_BITS) | q->seq, a, b});
}

ms_status ms_queue_push_x(ms_queue *q, int64_t t, ms_event_kind kind, int64_t a, int64_t b, double x,
                          double y) {
  assert(kind != MS_EV_TICK && kind < MS_EV_KIND_COUNT && kind < 256);
  if (q->seq > SEQ_MASK || (unsigned)kind >= MS_EV_KIND_COUNT) return MS_ERR_INTERNAL;
  int64_t p;
  if (q->nfree_pl) {
    p = q->free_pl[q->nfree_pl - 1];
  } else {
    if (ms_grow((void **)&q->pl, &q->cappl, q->npl + 1, sizeof *q->pl) ||
        ms_grow((void **)&q->free_pl, &q->capfree_pl, q->npl + 1, sizeof *q->free_pl))
      return MS_ERR_NOMEM; /* free_pl has room for every slot: a pop never allocates */
    p = (int64_t)q->npl;
  }
  ms_status st = push(q, (qev){t, ((uint64_t)kind << SEQ_BITS) | q->seq, p, OUT_OF_LINE});
  if (st) return st;
  q->pl[p] = (payload){a, b, x, y};
  if (q->nfree_pl) q->nfree_pl--;
  else q->npl++;
  return MS_OK;
}

/* The first non-empty bucket's slot (>= fs), or INT64_MAX when the ring is empty. */
static int64_t first_bucket_slot(ms_queue *q) {
  if (q->nring == 0) return INT64_MAX;
  if (q->first_ok) return q->first;
  size_t i0 = (size_t)q->fs & (NBUCKET - 1), w = i0 / 64;
  uint64_t bits = q->used[w] & (~UINT64_C(0) << (i0 % 64));
  for (size_t k = 0; k <= NBUCKET / 64; k++) {
    if (bits) {
      size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
      q->first = q->fs + (int64_t)((i - i0) & (NBUCKET - 1));
      q->first_ok = 1;
      return q->first;
    }
    w = (w + 1) % (NBUCKET / 64);
    bits = q->used[w];
  }
  assert(0);
  return INT64_MAX;
}

/* A bucket this small is sorted by insertion (no counts to clear and sum). */
#define SMALL_BUCKET 12
#define SLOT_MS (1 << SLOT_SHIFT)

/* A counting sort of bucket @p b's @p n events into @p out, stable, by
 * @p key: an expression of the event `e` (a const qev *), in [0, nbins).
 * Frees the chunks. A macro: the key inlines into both passes. */
#define COUNTING_SORT(q, b, n, out, cnt, nbins, key)                    \
  do {                                                                  \
    size_t k_ = 0;                                                      \
    for (int32_t c_ = (b)->head; c_ >= 0; c_ = (q)->chnext[c_]) {       \
      size_t m_ = (n) - k_ < CHUNK ? (n) - k_ : CHUNK;                  \
      for (size_t j_ = 0; j_ < m_; j_++) {                              \
        const qev *e = &(q)->ch[c_].e[j_];                              \
        cnt[key]++;                                                     \
      }                                                                 \
      k_ += m_;                                                         \
    }                                                                   \
    uint32_t sum_ = 0;                                                  \
    for (size_t i_ = 0; i_ < (nbins); i_++) {                           \
      uint32_t x_ = cnt[i_];                                            \
      cnt[i_] = sum_;                                                   \
      sum_ += x_;                                                       \
    }                                                                   \
    k_ = 0;                                                             \
    for (int32_t c_ = (b)->head; c_ >= 0; c_ = (q)->chnext[c_]) {       \
      size_t m_ = (n) - k_ < CHUNK ? (n) - k_ : CHUNK;                  \
      for (size_t j_ = 0; j_ < m_; j_++) {                              \
        const qev *e = &(q)->ch[c_].e[j_];                              \
        (out)[cnt[key]++] = *e;                                         \
      }                                                                 \
      k_ += m_;                                                         \
      (q)->free_ch[(q)->nfree++] = c_;                                  \
    }                                                                   \
  } while (0)

/* Sort bucket @p b's @p n events into q->fv[0, n), by (t, kind, seq). The
 * chunks hold them in push order, which is seq order: a stable sort by
 * (t, kind) is the total order, and with every t of the bucket in one slot
 * a counting sort by t's offset in the slot is one (by offset and kind
 * when the bucket holds several kinds: rare, an oracle's event among
 * keepers'). Frees the chunks. */
static void sort_bucket(ms_queue *q, const bucket *b, size_t n) {
  qev *out = q->fv;
  if (n <= SMALL_BUCKET) {
    size_t k = 0;
    for (int32_t c = b->head; c >= 0; c = q->chnext[c]) {
      size_t m = n - k < CHUNK ? n - k : CHUNK;
      for (size_t j = 0; j < m; j++) { /* insertion: stable, so ties stay in seq order */
        qev e = q->ch[c].e[j];
        size_t i = k++;
        while (i > 0 && less(&e, &out[i - 1])) {
          out[i] = out[i - 1];
          i--;
        }
        out[i] = e;
      }
      q->free_ch[q->nfree++] = c;
    }
    return;
  }
  if (b->kinds & (b->kinds - 1)) {
    uint32_t cnt[SLOT_MS * MS_EV_KIND_COUNT] = {0};
    COUNTING_SORT(q, b, n, out, cnt, (size_t)SLOT_MS * MS_EV_KIND_COUNT,
                  (size_t)(e->t & (SLOT_MS - 1)) * MS_EV_KIND_COUNT + (size_t)(e->order >> SEQ_BITS));
  } else {
    uint32_t cnt[SLOT_MS] = {0};
    COUNTING_SORT(q, b, n, out, cnt, (size_t)SLOT_MS, (size_t)(e->t & (SLOT_MS - 1)));
  }
}

/* Load slot @p s (>= fs) into the empty front: its bucket, sorted, and its far events. */
static void load_slot(ms_queue *q, int64_t s) {
  assert(q->fpos == q->fn && q->late.n == 0);
  q->fpos = q->fn = 0;
  if (s - q->fs < NBUCKET) {
    size_t i = (size_t)s & (NBUCKET - 1);
    bucket *b = &q->bk[i];
    if (b->head >= 0) {
      size_t n = b->n;
      sort_bucket(q, b, n);
      q->fn = n;
      q->nring -= n;
      b->head = b->tail = -1;
      b->n = 0;
      q->used[i / 64] &= ~(UINT64_C(1) << (i % 64));
    }
  }
  q->fs = s + 1;
  q->first_ok = 0;
  q->loads++;
  while (q->far.n && slot_of(q->far.v[0].t) <= s) {
    sift_up(q->late.v, q->late.n++, q->far.v[0]); /* room: front_room */
    heap_pop(&q->far);
  }
}

/* The front's least event (it is not empty), and whether it is late's top. */
static inline const qev *front_top(const ms_queue *q, int *from_late) {
  const qev *a = q->fpos < q->fn ? &q->fv[q->fpos] : NULL;
  if (q->late.n && (!a || less(&q->late.v[0], a))) {
    *from_late = 1;
    return &q->late.v[0];
  }
  *from_late = 0;
  return a;
}

int ms_queue_pop(ms_queue *q, ms_event *ev) {
  int have_tick = q->clk_next != INT64_MAX;
  int64_t top_t = 0, s = INT64_MAX;
  uint64_t top_order = 0;
  int have_ev = q->fpos < q->fn || q->late.n > 0, from_late = 0;
  const qev *top = NULL;
  if (have_ev) {
    top = front_top(q, &from_late);
    top_t = top->t;
    top_order = top->order;
  } else if (q->nring || q->far.n) {
    /* the least pending event: the first bucket's least, or the far heap's top */
    s = first_bucket_slot(q);
    if (s != INT64_MAX) {
      const bucket *b = &q->bk[(size_t)s & (NBUCKET - 1)];
      top_t = b->min_t;
      top_order = b->min_order;
    }
    if (q->far.n) {
      const qev *f = &q->far.v[0];
      int64_t fslot = slot_of(f->t);
      if (fslot <= s && (s == INT64_MAX || f->t < top_t || (f->t == top_t && f->order < top_order))) {
        top_t = f->t;
        top_order = f->order;
      }
      if (fslot < s) s = fslot;
    }
    have_ev = 1;
  }
  if (!have_ev && !have_tick) return 0;
  const uint32_t top_kind = have_ev ? (uint32_t)(top_order >> SEQ_BITS) : 0;
  /* A tick precedes an event at the same time iff its kind sorts first
   * (the sequence cannot tie-break: only the clock makes ticks). */
  if (have_tick && (!have_ev || q->clk_next < top_t || (q->clk_next == top_t && MS_EV_TICK < top_kind))) {
    int64_t count;
    if (!have_ev) {
      count = (q->clk_last - q->clk_next) / q->clk_period + 1;
    } else {
      /* Ticks strictly before the top's time, plus one at its time if the tick sorts first. */
      int64_t span = top_t - q->clk_next;
      count = span / q->clk_period + ((span % q->clk_period == 0 && MS_EV_TICK > top_kind) ? 0 : 1);
      int64_t left = (q->clk_last - q->clk_next) / q->clk_period + 1;
      if (count > left) count = left;
    }
    assert(count >= 1);
    ev->t = q->clk_next;
    ev->kind = MS_EV_TICK;
    ev->pad = 0;
    ev->seq = q->seq;
    ev->a = ev->b = 0;
    ev->x = ev->y = 0.0;
    ev->count = count;
    return 1;
  }
  if (!top) {
    load_slot(q, s);
    top = front_top(q, &from_late);
  }
  ev->t = top->t;
  ev->kind = (uint32_t)(top->order >> SEQ_BITS);
  ev->pad = 0;
  ev->seq = top->order & SEQ_MASK;
  if (top->b == OUT_OF_LINE) {
    const payload *p = &q->pl[top->a];
    ev->a = p->a;
    ev->b = p->b;
    ev->x = p->x;
    ev->y = p->y;
    q->free_pl[q->nfree_pl++] = top->a;
  } else {
    ev->a = top->a;
    ev->b = top->b;
    ev->x = ev->y = 0.0;
  }
  ev->count = 0;
  if (from_late) heap_pop(&q->late);
  else q->fpos++;
  return 1;
}

int ms_queue_peek(ms_queue *q, ms_event *ev, ms_status *st) {
  *st = MS_OK;
  assert(q->clk_next == INT64_MAX); /* a queue without the clock */
  if (!ms_queue_pop(q, ev)) return 0;
  /* Back in with its own (t, kind, seq): nothing pending sorts before it,
   * so it pops next again. Its slot is below the front's now: the late heap. */
  uint64_t order = ((uint64_t)ev->kind << SEQ_BITS) | ev->seq, seq = q->seq;
  if (ev->x == 0.0 && ev->y == 0.0 && ev->b != OUT_OF_LINE && !signbit(ev->x) && !signbit(ev->y)) {
    *st = push(q, (qev){ev->t, order, ev->a, ev->b});
  } else {
    int64_t p;
    if (q->nfree_pl) p = q->free_pl[--q->nfree_pl]; /* the slot the pop freed */
    else return *st = MS_ERR_INTERNAL, 0;
    *st = push(q, (qev){ev->t, order, p, OUT_OF_LINE});
    q->pl[p] = (payload){ev->a, ev->b, ev->x, ev->y};
  }
  q->seq = seq; /* not a new insertion */
  return *st ? 0 : 1;
}

size_t ms_queue_size(const ms_queue *q) { return (q->fn - q->fpos) + q->late.n + q->nring + q->far.n; }

uint64_t ms_queue_loads(const ms_queue *q) { return q->loads; }

static inline size_t front_kind(const ms_queue *q, const qev *v, size_t n, ms_event_kind kind, int64_t *a, size_t k,
                                size_t max) {
  for (size_t i = 0; i < n && k < max; i++)
    if ((v[i].order >> SEQ_BITS) == (uint64_t)kind) a[k++] = v[i].b == OUT_OF_LINE ? q->pl[v[i].a].a : v[i].a;
  return k;
}

size_t ms_queue_front(const ms_queue *q, ms_event_kind kind, int64_t *a, size_t max) {
  /* the next to pop first: the one whose part (array or late) is listed first */
  int from_late = 0;
  if (q->fpos < q->fn || q->late.n) (void)front_top(q, &from_late);
  size_t k = 0, nf = q->fn - q->fpos;
  if (from_late) {
    k = front_kind(q, q->late.v, q->late.n, kind, a, k, max);
    return front_kind(q, q->fv + q->fpos, nf, kind, a, k, max);
  }
  k = front_kind(q, q->fv + q->fpos, nf, kind, a, k, max);
  return front_kind(q, q->late.v, q->late.n, kind, a, k, max);
}
