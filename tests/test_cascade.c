/*
 * test_cascade — a path's cascades computed online (sim/engine/cascade.c):
 * a hand-made path whose answers are worked out below, generations against
 * their definition by brute force, and everything (each record's
 * generation and cascade, the cascade records, the row's columns) against
 * the offline algorithm it replaced (tests/cascade_ref.h) on random record
 * streams: ties in time, gaps of exactly stats.cascade_gap and one more
 * millisecond, observation times that fall back or lie past the fill,
 * impact-triggered fills mixed with others, ties in cascade notional.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cascade.h"
#include "cascade_ref.h"
#include "testutil.h"

/* Run @p n records of path @p path through @p c (one state for many paths,
 * as the engine keeps it): generations and cascades set in @p r, the
 * cascades appended to @p out, the row's columns in @p row. */
static void online(ms_cascades *c, uint64_t path, int64_t gap, ms_liq_record *r, size_t n, ms_cascade_buf *out,
                   ms_path_summary *row) {
  ms_cascades_start(c, path, gap);
  for (size_t i = 0; i < n; i++) {
    int closed = ms_cascades_add(c, &r[i]);
    assert_true(closed >= 0);
    if (!closed) continue;
    assert_int_equal(ms_grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v), 0);
    out->v[out->n++] = c->closed;
  }
  if (ms_cascades_finish(c, row)) {
    assert_int_equal(ms_grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v), 0);
    out->v[out->n++] = c->closed;
  }
}

static ms_liq_record rec(int64_t t_s, int64_t obs_s, int impact_triggered, double notional) {
  return (ms_liq_record){.time = t_s * 1000, .obs_time = obs_s * 1000, .impact_triggered = impact_triggered,
                         .notional = notional};
}

static void test_cascade__cascades_and_generations(void **state) {
  (void)state;
  /* Cascade A (t 100..190), then B from 400 (a gap of 210 s > 60 s). An
   * impact_triggered fill's generation is 1 + the largest generation among the fills
   * of its cascade at or before its oracle observation. */
  ms_liq_record r[] = {
      rec(100, 95, 0, 10),   /* A: gen 0 */
      rec(130, 105, 1, 20),  /* A: saw {100}: gen 1 */
      rec(150, 140, 1, 30),  /* A: saw {100, 130}: gen 2 */
      rec(190, 120, 1, 40),  /* A: saw {100} only: gen 1 */
      rec(400, 390, 1, 50),  /* B: saw nothing of B: gen 1 */
      rec(420, 410, 0, 60),  /* B: gen 0 */
  };
  ms_path_summary row = {.path = 3};
  ms_cascade_buf buf = {0};
  ms_cascades c = {0};
  online(&c, 3, 60000, r, 6, &buf, &row);
  int want_gen[] = {0, 1, 2, 1, 1, 0};
  int want_cas[] = {0, 0, 0, 0, 1, 1};
  for (int i = 0; i < 6; i++) {
    assert_int_equal(r[i].generation, want_gen[i]);
    assert_int_equal(r[i].cascade, want_cas[i]);
  }
  assert_int_equal(row.cascades, 2);
  assert_int_equal(buf.n, 2);
  assert_true(buf.v[0].start == 100 && buf.v[0].end == 190 && buf.v[0].liquidations == 4 && buf.v[0].depth == 2);
  assert_true(buf.v[0].notional == 100 && buf.v[1].notional == 110 && buf.v[1].depth == 1);
  assert_int_equal(buf.v[1].index, 1);
  assert_true(buf.v[0].path == 3 && buf.v[1].path == 3);
  /* largest by notional is B */
  assert_int_equal(row.largest_cascade_liquidations, 2);
  assert_true(row.largest_cascade_notional == 110);
  assert_int_equal(row.largest_cascade_depth, 1);
  /* a path without liquidations: no cascade, the columns left as they were */
  ms_path_summary empty = {0};
  buf.n = 0;
  online(&c, 4, 60000, r, 0, &buf, &empty);
  assert_true(empty.cascades == 0 && empty.largest_cascade_notional == 0 && buf.n == 0);
  free(buf.v);
  ms_cascades_fini(&c);
}

/* Generations on long random record streams against the definition,
 * evaluated by brute force (every earlier fill of the cascade checked):
 * observation times mostly rising, sometimes falling back, as oracle rounds
 * with random latency can make them. */
static void test_cascade__generations_match_brute_force(void **state) {
  (void)state;
  const int64_t gap = 30000;
  uint64_t x = 12345;
  enum { N = 4000 };
  ms_liq_record *r = calloc(N, sizeof *r);
  int32_t *want = calloc(N, sizeof *want);
  assert_non_null(r);
  assert_non_null(want);
  ms_cascades c = {0};
  int64_t falls = 0, deepest = 0;
  for (int trial = 0; trial < 20; trial++) {
    int64_t t = 0, obs = 0;
    for (int i = 0; i < N; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      t += (int64_t)((x >> 33) % (trial % 2 ? 4000 : 40000)); /* ms */
      int64_t back = (int64_t)((x >> 20) % 20000);
      int64_t o = t - back;
      if (o < obs && (x >> 60) != 0) o = obs + (t - obs) / 2; /* mostly rising */
      falls += o < obs;
      obs = o;
      r[i] = (ms_liq_record){.time = t, .obs_time = o, .impact_triggered = (int32_t)((x >> 40) % 3 != 0), .notional = 1};
    }
    /* brute force: the cascade start of each record, then the definition */
    int b = 0;
    for (int i = 0; i < N; i++) {
      if (i > 0 && r[i].time - r[i - 1].time > gap) b = i;
      int32_t g = 0;
      if (r[i].impact_triggered) {
        for (int j = b; j < i; j++)
          if (r[j].time <= r[i].obs_time && want[j] > g) g = want[j];
        g += 1;
      }
      want[i] = g;
      if (g > deepest) deepest = g;
    }
    ms_path_summary row = {0};
    ms_cascade_buf buf = {0};
    online(&c, (uint64_t)trial, gap, r, N, &buf, &row);
    for (int i = 0; i < N; i++)
      if (r[i].generation != want[i])
        fail_msg("trial %d record %d: generation %d, brute force %d", trial, i, r[i].generation, want[i]);
    free(buf.v);
  }
  assert_true(falls > 100);  /* the binary search was exercised */
  assert_true(deepest > 10); /* deep cascades */
  ms_cascades_fini(&c);
  free(r);
  free(want);
}

static uint64_t lcg(uint64_t *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 33;
}

/* Random record streams, online against the offline reference: every
 * field of every record, every cascade record, the row. */
static void test_cascade__online_equals_offline(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml("stats: {cascade_gap: 20s}\n", NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  const int64_t gap = cfg->stats.cascade_gap;
  uint64_t x = 99;
  enum { NMAX = 3000 };
  ms_liq_record *a = calloc(NMAX, sizeof *a), *b = calloc(NMAX, sizeof *b);
  assert_non_null(a);
  assert_non_null(b);
  ms_cascades c = {0};
  ms_cascade_buf on = {0}, off = {0};
  int64_t at_gap = 0, past_gap = 0, ties = 0, obs_late = 0, obs_falls = 0, notional_ties = 0, cascades = 0;
  for (uint64_t path = 0; path < 400; path++) {
    size_t n = (size_t)(lcg(&x) % (path % 10 == 0 ? NMAX : 200)); /* some empty, some long */
    int64_t t = (int64_t)(lcg(&x) % 100000), obs = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t k = lcg(&x);
      switch (k % 8) { /* the step to the next fill */
      case 0: break;                                  /* the same millisecond */
      case 1: t += gap; break;                        /* exactly the gap: the same cascade */
      case 2: t += gap + 1; break;                    /* one millisecond more: a new one */
      case 3: t += gap + (int64_t)(lcg(&x) % 100000); break;
      default: t += (int64_t)(lcg(&x) % (uint64_t)(gap / 4)); break;
      }
      int64_t o;
      switch (lcg(&x) % 6) { /* the oracle's observation */
      case 0: o = t; break;
      case 1: o = t + (int64_t)(lcg(&x) % 5000); break;          /* past the fill (no engine does it) */
      case 2: o = t - (int64_t)(lcg(&x) % (uint64_t)(3 * gap)); break; /* far back, maybe before the cascade */
      default: o = t - (int64_t)(lcg(&x) % 4000); break;
      }
      if (i > 0) {
        ties += t == a[i - 1].time;
        at_gap += t - a[i - 1].time == gap;
        past_gap += t - a[i - 1].time == gap + 1;
      }
      obs_late += o > t;
      obs_falls += o < obs;
      obs = o;
      a[i] = (ms_liq_record){.path = path, .time = t, .obs_time = o, .account = (int64_t)i,
                             .impact_triggered = (int32_t)(lcg(&x) % 4 != 0),
                             .notional = (double)(1 + lcg(&x) % 3), /* small integers: ties of cascades */
                             .bad_debt = (lcg(&x) % 5 == 0) ? 0.25 * (double)(lcg(&x) % 7) : 0.0};
      b[i] = a[i];
    }
    ms_path_summary row_on = {.path = path, .liquidations = 7}, row_off = row_on;
    on.n = off.n = 0;
    online(&c, path, gap, a, n, &on, &row_on);
    assert_ok(ref_path_cascades(cfg, &row_off, b, n, &off, &err), &err);
    for (size_t i = 0; i < n; i++)
      if (memcmp(&a[i], &b[i], sizeof a[i]))
        fail_msg("path %llu record %zu: generation %d cascade %lld, offline %d %lld", (unsigned long long)path, i,
                 a[i].generation, (long long)a[i].cascade, b[i].generation, (long long)b[i].cascade);
    assert_int_equal(on.n, off.n);
    for (size_t k = 0; k < on.n; k++)
      if (memcmp(&on.v[k], &off.v[k], sizeof on.v[k])) fail_msg("path %llu cascade %zu differs", (unsigned long long)path, k);
    assert_memory_equal(&row_on, &row_off, sizeof row_on);
    for (size_t k = 1; k < on.n; k++)
      for (size_t j = 0; j < k; j++) notional_ties += on.v[j].notional == on.v[k].notional;
    cascades += (int64_t)on.n;
  }
  /* every case the stream was built for came up */
  print_message("ties %lld, gaps of exactly the gap %lld, of one ms more %lld, observations past the fill %lld, "
                "falling %lld, cascades %lld\n", (long long)ties, (long long)at_gap, (long long)past_gap,
                (long long)obs_late, (long long)obs_falls, (long long)cascades);
  assert_true(ties > 100 && at_gap > 100 && past_gap > 100 && obs_late > 100 && obs_falls > 100);
  assert_true(notional_ties > 100 && cascades > 1000);
  free(on.v);
  free(off.v);
  free(a);
  free(b);
  ms_cascades_fini(&c);
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cascade__cascades_and_generations),
      cmocka_unit_test(test_cascade__generations_match_brute_force),
      cmocka_unit_test(test_cascade__online_equals_offline),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
