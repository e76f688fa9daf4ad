/*
 * test_queue — event order, and the tick clock against the plain model of
 * one heap entry per tick.
 */
#include "core/queue.h"
#include "testutil.h"

static void test_queue__orders_by_time_kind_sequence(void **state) {
  (void)state;
  ms_queue *q;
  ms_error err;
  assert_ok(ms_queue_new(&q, 4, &err), &err);
  uint64_t x = 12345;
  for (int i = 0; i < 2000; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t t = (int64_t)((x >> 33) % 50);
    ms_event_kind k = (ms_event_kind)((x >> 20) % MS_EV_KIND_COUNT);
    if (k == MS_EV_TICK) k = MS_EV_SAMPLE;
    assert_ok(ms_queue_push(q, t, k, i, 0), &err);
  }
  ms_event prev = {0}, ev;
  int n = 0;
  while (ms_queue_pop(q, &ev)) {
    if (n) {
      int ordered = prev.t < ev.t || (prev.t == ev.t && (prev.kind < ev.kind ||
                                      (prev.kind == ev.kind && prev.seq < ev.seq)));
      if (!ordered) fail_msg("event %d out of order", n);
      /* insertion order breaks ties */
      if (prev.t == ev.t && prev.kind == ev.kind) assert_true(prev.a < ev.a);
    }
    prev = ev;
    n++;
  }
  assert_int_equal(n, 2000);
  ms_queue_free(q);
}

/* Reference: an unsorted array, each tick an explicit event pushed when the
 * previous one pops. */
typedef struct { int64_t t; int kind; uint64_t seq; int64_t a; } ref_ev;
typedef struct { ref_ev ev[4096]; int n; uint64_t seq; } ref_q;

static void ref_push(ref_q *r, int64_t t, int kind, int64_t a) {
  r->ev[r->n++] = (ref_ev){t, kind, r->seq++, a};
}
static int ref_pop(ref_q *r, ref_ev *out) {
  if (!r->n) return 0;
  int best = 0;
  for (int i = 1; i < r->n; i++) {
    ref_ev *a = &r->ev[i], *b = &r->ev[best];
    if (a->t < b->t || (a->t == b->t && (a->kind < b->kind || (a->kind == b->kind && a->seq < b->seq))))
      best = i;
  }
  *out = r->ev[best];
  r->ev[best] = r->ev[--r->n];
  return 1;
}

/* What a consumer does on an event: derived from the event alone. */
static int reaction(int64_t t, int64_t a, int64_t *nt, int *nk, int64_t *na) {
  uint64_t h = (uint64_t)(t * 2654435761u) ^ (uint64_t)(a * 40503u);
  if (h % 3 != 0 || a > 100000) return 0;
  *nt = t + (int64_t)(h % 23);
  *nk = (int)((h >> 5) % MS_EV_KIND_COUNT);
  if (*nk == MS_EV_TICK) *nk = MS_EV_ORACLE_ROUND;
  *na = a * 7 + 1;
  return 1;
}

static void test_queue__clock_matches_one_event_per_tick(void **state) {
  (void)state;
  ms_error err;
  for (int trial = 0; trial < 200; trial++) {
    ms_queue *q;
    assert_ok(ms_queue_new(&q, 2, &err), &err);
    static ref_q r;
    memset(&r, 0, sizeof r);
    int64_t period = 1 + trial % 7, last = 300 + trial;
    uint64_t x = (uint64_t)trial * 7919 + 1;
    for (int i = 0; i < 20; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      int64_t t = (int64_t)((x >> 33) % (uint64_t)(last + 5));
      int k = (int)((x >> 13) % MS_EV_KIND_COUNT);
      if (k == MS_EV_TICK) k = MS_EV_JUMP;
      assert_ok(ms_queue_push(q, t, (ms_event_kind)k, i + 1, 0), &err);
      ref_push(&r, t, k, i + 1);
    }
    ref_push(&r, period, MS_EV_TICK, 0);
    ms_queue_clock_start(q, period, period, last);
    ms_event ev;
    ref_ev re;
    int64_t step = 0;
    while (ms_queue_pop(q, &ev)) {
      if (ev.kind == MS_EV_TICK) {
        /* Consume a varying number of the available ticks. */
        int64_t take = 1 + (step++ % 3 == 0 ? ev.count - 1 : 0);
        if (take > ev.count) take = ev.count;
        for (int64_t k = 0; k < take; k++) {
          assert_true(ref_pop(&r, &re));
          assert_int_equal(re.kind, MS_EV_TICK);
          assert_int_equal(re.t, ev.t + k * period);
          if (re.t + period <= last) ref_push(&r, re.t + period, MS_EV_TICK, 0);
          int64_t nt, na;
          int nk;
          /* ticks may also cause events (like an oracle round) */
          if (reaction(re.t, 100 + re.t, &nt, &nk, &na)) {
            if (k + 1 < take) { take = k + 1; } /* stop the run at the reaction */
            assert_ok(ms_queue_push(q, nt, (ms_event_kind)nk, na, 0), &err);
            ref_push(&r, nt, nk, na);
          }
        }
        ms_queue_clock_advance(q, take);
        continue;
      }
      assert_true(ref_pop(&r, &re));
      assert_int_equal(re.t, ev.t);
      assert_int_equal(re.kind, (int)ev.kind);
      assert_int_equal(re.a, ev.a);
      int64_t nt, na;
      int nk;
      if (reaction(ev.t, ev.a, &nt, &nk, &na)) {
        assert_ok(ms_queue_push(q, nt, (ms_event_kind)nk, na, 0), &err);
        ref_push(&r, nt, nk, na);
      }
    }
    assert_false(ref_pop(&r, &re));
    ms_queue_free(q);
  }
}

/* Many events pending at once, pushed and popped interleaved (payload slots
 * are reused), with every payload field and the sequence checked against a
 * reference that finds the least (t, kind, seq) by a scan. */
typedef struct { int64_t t; int kind; uint64_t seq; int64_t a, b; double x, y; int live; } ref_full;

static void test_queue__payloads_survive_slot_reuse(void **state) {
  (void)state;
  ms_error err;
  enum { N = 6000 };
  static ref_full r[N];
  ms_queue *q;
  assert_ok(ms_queue_new(&q, 1, &err), &err);
  for (int round = 0; round < 3; round++) {
    ms_queue_reset(q);
    memset(r, 0, sizeof r);
    uint64_t x = 12345 + (uint64_t)round, seq = 0;
    int nr = 0, live = 0;
    for (int step = 0; step < 2 * N; step++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      int push = nr < N && (live == 0 || (x >> 60) < 11); /* about 2 pushes for 1 pop */
      if (push) {
        int64_t t = (int64_t)((x >> 20) % 50); /* many ties in t */
        int k = (int)((x >> 8) % MS_EV_KIND_COUNT);
        if (k == MS_EV_TICK) k = MS_EV_KEEPER_READY;
        ref_full e = {t, k, seq++, (int64_t)(x >> 3), -(int64_t)step, (double)step * 0.5, -(double)(x >> 40), 1};
        if ((x >> 30) & 1) { /* events without numbers (inline) mixed with events with (out of line) */
          e.x = e.y = 0.0;
          assert_ok(ms_queue_push(q, e.t, (ms_event_kind)e.kind, e.a, e.b), &err);
        } else {
          assert_ok(ms_queue_push_x(q, e.t, (ms_event_kind)e.kind, e.a, e.b, e.x, e.y), &err);
        }
        r[nr++] = e;
        live++;
        continue;
      }
      ms_event ev;
      assert_int_equal(ms_queue_pop(q, &ev), 1);
      int best = -1;
      for (int i = 0; i < nr; i++) {
        if (!r[i].live) continue;
        if (best < 0 || r[i].t < r[best].t ||
            (r[i].t == r[best].t && (r[i].kind < r[best].kind || (r[i].kind == r[best].kind && r[i].seq < r[best].seq))))
          best = i;
      }
      assert_true(best >= 0);
      assert_int_equal(ev.t, r[best].t);
      assert_int_equal((int)ev.kind, r[best].kind);
      assert_int_equal(ev.seq, r[best].seq);
      assert_int_equal(ev.a, r[best].a);
      assert_int_equal(ev.b, r[best].b);
      assert_true(ev.x == r[best].x && ev.y == r[best].y);
      assert_int_equal(ev.count, 0);
      r[best].live = 0;
      live--;
      /* pops lower the times pushed next: the heap sees times below its top */
    }
    assert_int_equal((int64_t)ms_queue_size(q), live);
  }
  ms_queue_free(q);
}

/* The queue keeps events in 64 ms slots, a ring of buckets and a far heap
 * (sim/core/queue.c); whatever the layout, the pops must be those of a scan
 * for the least (t, kind, seq). Times here spread from the same instant to
 * past the ring's span, fall below the front and reach the ends of int64;
 * the tick clock runs through them; the queue is reused across rounds. */
typedef struct { int64_t t; int kind; uint64_t seq; int64_t a, b; double x; } ref_b;

static int ref_b_less(const ref_b *p, const ref_b *q) {
  return p->t < q->t || (p->t == q->t && (p->kind < q->kind || (p->kind == q->kind && p->seq < q->seq)));
}

static uint64_t lcg(uint64_t *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 11;
}

static void test_queue__buckets_match_reference(void **state) {
  (void)state;
  ms_error err;
  enum { LIVE = 1500, OPS = 60000 };
  static ref_b r[LIVE + 64];
  ms_queue *q;
  assert_ok(ms_queue_new(&q, 1, &err), &err);
  for (int round = 0; round < 6; round++) {
    ms_queue_reset(q);
    uint64_t x = 777 + (uint64_t)round * 1000003, seq = 0;
    int nr = 0;
    int64_t now = round == 5 ? -5000000 : 0, period = 1000, last = 2000000 + round * 777;
    int clock = round % 2 == 0;
    if (clock) {
      ms_queue_clock_start(q, period, period, last);
      r[nr++] = (ref_b){period, MS_EV_TICK, seq, 0, 0, 0};
    }
    int64_t tick_at = clock ? period : INT64_MAX;
    for (int op = 0; op < OPS; op++) {
      uint64_t u = lcg(&x);
      int want_push = nr < LIVE && (nr <= 1 || u % 100 < (uint64_t)(op < OPS / 2 ? 60 : 45));
      if (want_push) {
        int64_t t;
        uint64_t v = lcg(&x), c = v % 1000;
        if (c < 150) t = now;                                      /* the same instant */
        else if (c < 400) t = now + (int64_t)(v >> 12) % 200;      /* this slot or the next few */
        else if (c < 600) t = now + (int64_t)(v >> 12) % 30000;    /* keeper-like delays */
        else if (c < 750) t = (now / period + (int64_t)(v >> 12) % 40) * period; /* at ticks */
        else if (c < 800) /* the end of a ring of 1,024 (as built) or 4,096 slots of 64 ms */
          t = now + (c % 2 ? 1024 : 4096) * 64 - 300 + (int64_t)(v >> 12) % 600;
        else if (c < 900) t = now + (int64_t)(v >> 12) % 3000000;  /* past the ring */
        else if (c < 980) t = now - (int64_t)(v >> 12) % 5000;     /* below the front */
        else if (c < 990) t = INT64_MAX - (int64_t)(v >> 12) % 3;
        else t = INT64_MIN + (int64_t)(v >> 12) % 3;
        int k = (int)((v >> 40) % MS_EV_KIND_COUNT);
        if (k == MS_EV_TICK) k = MS_EV_KEEPER_READY;
        ref_b e = {t, k, seq++, (int64_t)lcg(&x), -(int64_t)op, (double)op * 0.25};
        assert_ok(ms_queue_push_x(q, e.t, (ms_event_kind)e.kind, e.a, e.b, e.x, -e.x), &err);
        r[nr++] = e;
        continue;
      }
      ms_event ev;
      int got = ms_queue_pop(q, &ev);
      int best = -1;
      for (int i = 0; i < nr; i++)
        if (best < 0 || ref_b_less(&r[i], &r[best])) best = i;
      if (best < 0) { assert_int_equal(got, 0); break; }
      assert_int_equal(got, 1);
      assert_int_equal(ev.t, r[best].t);
      assert_int_equal((int)ev.kind, r[best].kind);
      if (ev.kind == MS_EV_TICK) {
        /* the count: the ticks before every other pending event */
        int64_t count = 0;
        for (int64_t tt = tick_at; tt <= last; tt += period) {
          int first = 1;
          ref_b tk = {tt, MS_EV_TICK, 0, 0, 0, 0};
          for (int i = 0; i < nr && first; i++)
            if (r[i].kind != MS_EV_TICK && (r[i].t < tk.t || (r[i].t == tk.t && r[i].kind < MS_EV_TICK))) first = 0;
          if (!first) break;
          count++;
        }
        assert_int_equal(ev.count, count);
        int64_t take = 1 + (int64_t)(lcg(&x) % (uint64_t)count);
        ms_queue_clock_advance(q, take);
        tick_at += take * period;
        now = tick_at - period;
        seq++; /* the clock's re-armed tick takes a sequence number */
        if (tick_at <= last) r[best] = (ref_b){tick_at, MS_EV_TICK, seq - 1, 0, 0, 0};
        else r[best] = r[--nr];
        continue;
      }
      assert_int_equal(ev.seq, r[best].seq);
      assert_int_equal(ev.a, r[best].a);
      assert_int_equal(ev.b, r[best].b);
      assert_true(ev.x == r[best].x && ev.y == -r[best].x);
      if (ev.t > now && ev.t < INT64_MAX - 10) now = ev.t;
      r[best] = r[--nr];
    }
    int live = 0;
    for (int i = 0; i < nr; i++) live += r[i].kind != MS_EV_TICK;
    assert_int_equal((int64_t)ms_queue_size(q), live);
  }
  ms_queue_free(q);
}

/* ms_queue_peek (the engine of several markets merges queues by it) gives
 * the event the next pop gives, and leaves it there: with peeks between
 * random pushes (in line and with payloads) and pops, every peek and every
 * pop against a scan for the least (t, kind, seq), and the size unchanged
 * by a peek. */
static void test_queue__peek_leaves_the_next_event(void **state) {
  (void)state;
  ms_error err;
  enum { LIVE = 800, OPS = 30000 };
  static ref_b r[LIVE];
  ms_queue *q;
  assert_ok(ms_queue_new(&q, 1, &err), &err);
  uint64_t x = 4242, seq = 0;
  int nr = 0, peeks = 0;
  int64_t now = 0;
  for (int op = 0; op < OPS; op++) {
    uint64_t u = lcg(&x);
    if (nr < LIVE && (nr == 0 || u % 100 < 55)) {
      uint64_t v = lcg(&x), c = v % 100;
      int64_t t = c < 30 ? now : c < 80 ? now + (int64_t)(v >> 12) % 500 : now + (int64_t)(v >> 12) % 200000;
      int k = (int)((v >> 40) % MS_EV_KIND_COUNT);
      if (k == MS_EV_TICK) k = MS_EV_ORACLE_PUBLISH;
      int inline_ev = (v >> 50) % 2;
      ref_b e = {t, k, seq++, (int64_t)lcg(&x), (int64_t)op, inline_ev ? 0.0 : (double)op * 0.5};
      if (inline_ev) assert_ok(ms_queue_push(q, e.t, (ms_event_kind)e.kind, e.a, e.b), &err);
      else assert_ok(ms_queue_push_x(q, e.t, (ms_event_kind)e.kind, e.a, e.b, e.x, -e.x), &err);
      r[nr++] = e;
      continue;
    }
    int best = 0;
    for (int i = 1; i < nr; i++)
      if (ref_b_less(&r[i], &r[best])) best = i;
    ms_event ev;
    ms_status st;
    for (int k = 0; k < (int)(u % 3); k++) {
      size_t before = ms_queue_size(q);
      assert_int_equal(ms_queue_peek(q, &ev, &st), 1);
      assert_int_equal(st, MS_OK);
      assert_int_equal((int64_t)ms_queue_size(q), (int64_t)before);
      assert_int_equal(ev.t, r[best].t);
      assert_int_equal((int)ev.kind, r[best].kind);
      assert_int_equal(ev.seq, r[best].seq);
      assert_int_equal(ev.a, r[best].a);
      assert_int_equal(ev.b, r[best].b);
      assert_true(ev.x == r[best].x && ev.y == -r[best].x);
      peeks++;
    }
    assert_int_equal(ms_queue_pop(q, &ev), 1);
    assert_int_equal(ev.t, r[best].t);
    assert_int_equal(ev.seq, r[best].seq);
    assert_int_equal(ev.a, r[best].a);
    assert_true(ev.x == r[best].x && ev.y == -r[best].x);
    if (ev.t > now) now = ev.t;
    r[best] = r[--nr];
  }
  ms_event ev;
  ms_status st;
  while (nr > 0) { /* drain: the last peeks and pops too */
    int best = 0;
    for (int i = 1; i < nr; i++)
      if (ref_b_less(&r[i], &r[best])) best = i;
    assert_int_equal(ms_queue_peek(q, &ev, &st), 1);
    assert_int_equal(ev.seq, r[best].seq);
    assert_int_equal(ms_queue_pop(q, &ev), 1);
    assert_int_equal(ev.seq, r[best].seq);
    r[best] = r[--nr];
  }
  assert_int_equal(ms_queue_peek(q, &ev, &st), 0);
  assert_int_equal(st, MS_OK);
  assert_true(peeks > 1000);
  ms_queue_free(q);
}

/* Pop the queue's next event: the least of the @p nr pending in @p r (by a
 * scan), which leaves @p r. */
static ms_event pop_least(ms_queue *q, ref_b *r, int *nr) {
  ms_event ev;
  assert_int_equal(ms_queue_pop(q, &ev), 1);
  int best = 0;
  for (int i = 1; i < *nr; i++)
    if (ref_b_less(&r[i], &r[best])) best = i;
  assert_int_equal(ev.t, r[best].t);
  assert_int_equal((int)ev.kind, r[best].kind);
  assert_int_equal(ev.seq, r[best].seq);
  assert_int_equal(ev.a, r[best].a);
  assert_int_equal(ev.b, r[best].b);
  r[best] = r[--*nr];
  return ev;
}

/* A slot's bucket enters the front sorted once (queue.c: by insertion when
 * small, else a counting sort by t's offset in the slot, by kind first when
 * the bucket holds several kinds), then pops in order beside the late heap
 * (events pushed into a slot already reached, far events). Bursts as a
 * discovery makes them: hundreds of events of one kind a slot, with ties in
 * t; some rounds mix other kinds in; pops push at and just after the
 * present. Every pop against a scan for the least (t, kind, seq). */
static void test_queue__sorted_front_matches_reference(void **state) {
  (void)state;
  ms_error err;
  enum { LIVE = 4000 };
  static ref_b r[LIVE];
  ms_queue *q;
  assert_ok(ms_queue_new(&q, 1, &err), &err);
  for (int round = 0; round < 8; round++) {
    ms_queue_reset(q);
    uint64_t x = 4242 + (uint64_t)round * 7777, seq = 0;
    int nr = 0, mixed = round % 2, pops = 0;
    int64_t now = round == 7 ? -100000 : 0;
    for (int burst = 0; burst < 6; burst++) {
      int nb = 300 + (int)(lcg(&x) % 2500); /* 300: small buckets, sorted by insertion */
      for (int i = 0; i < nb && nr < LIVE; i++) {
        uint64_t v = lcg(&x);
        int64_t span = burst % 3 == 0 ? 64 * 40 : 64 * 4; /* ~10 or ~700 events a slot */
        int64_t t = now + 1 + (int64_t)(v % (uint64_t)span);
        int k = MS_EV_KEEPER_READY;
        if (mixed && v % 7 == 0) k = (int)((v >> 20) % MS_EV_KIND_COUNT);
        if (k == MS_EV_TICK) k = MS_EV_ORACLE_PUBLISH;
        ref_b e = {t, k, seq++, (int64_t)lcg(&x), i, (double)i};
        assert_ok(ms_queue_push(q, e.t, (ms_event_kind)e.kind, e.a, e.b), &err);
        r[nr++] = e;
      }
      /* pop about half of what is pending; a pop sometimes pushes at or just after its time */
      for (int n = nr / 2; n > 0; n--) {
        ms_event ev = pop_least(q, r, &nr);
        pops++;
        now = ev.t;
        uint64_t v = lcg(&x);
        if (v % 5 == 0 && nr < LIVE) {
          int k = v % 3 == 0 ? MS_EV_ORACLE_ROUND : MS_EV_KEEPER_READY;
          ref_b e = {now + (int64_t)((v >> 8) % 3), k, seq++, (int64_t)(v >> 20), -1, 0};
          assert_ok(ms_queue_push(q, e.t, (ms_event_kind)e.kind, e.a, e.b), &err);
          r[nr++] = e;
        }
      }
    }
    while (nr > 0) pop_least(q, r, &nr);
    ms_event ev;
    assert_int_equal(ms_queue_pop(q, &ev), 0);
    assert_true(pops > 1000);
  }
  ms_queue_free(q);
}

/* The warming hint: ms_queue_front() lists the next event to pop first,
 * only events of the kind asked for, and ms_queue_loads() moves when a
 * batch enters the front. */
static void test_queue__front_hint_lists_the_next_event(void **state) {
  (void)state;
  ms_error err;
  ms_queue *q;
  assert_ok(ms_queue_new(&q, 1, &err), &err);
  uint64_t x = 99;
  for (int i = 0; i < 3000; i++) {
    uint64_t v = lcg(&x);
    ms_event_kind k = v % 4 == 0 ? MS_EV_ORACLE_ROUND : MS_EV_KEEPER_READY;
    if ((v >> 20) % 3 == 0) /* a payload out of line: the hint still gives the event's a, not its slot */
      assert_ok(ms_queue_push_x(q, (int64_t)(v % 20000), k, i, 0, 0.5, -0.5), &err);
    else
      assert_ok(ms_queue_push(q, (int64_t)(v % 20000), k, i, 0), &err);
  }
  uint64_t loads = ms_queue_loads(q);
  int64_t a[8];
  ms_event ev;
  int moved = 0, checked = 0;
  for (;;) {
    size_t n = ms_queue_front(q, MS_EV_KEEPER_READY, a, 8);
    assert_true(n <= 8);
    if (!ms_queue_pop(q, &ev)) break;
    if (ms_queue_loads(q) != loads) { loads = ms_queue_loads(q); moved++; continue; }
    /* no batch moved in: the event popped was the front's first */
    if (ev.kind == MS_EV_KEEPER_READY) {
      assert_true(n > 0);
      assert_int_equal(a[0], ev.a);
      checked++;
    } else {
      for (size_t i = 0; i < n; i++) assert_true(a[i] != ev.a);
    }
  }
  assert_true(moved > 100);
  assert_true(checked > 1000);
  ms_queue_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queue__orders_by_time_kind_sequence),
      cmocka_unit_test(test_queue__clock_matches_one_event_per_tick),
      cmocka_unit_test(test_queue__payloads_survive_slot_reuse),
      cmocka_unit_test(test_queue__buckets_match_reference),
      cmocka_unit_test(test_queue__sorted_front_matches_reference),
      cmocka_unit_test(test_queue__front_hint_lists_the_next_event),
      cmocka_unit_test(test_queue__peek_leaves_the_next_event),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
