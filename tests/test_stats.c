/*
 * test_stats — Wilson intervals, quantiles, and cascade clustering with
 * generations, on hand-made records whose answers are worked out below.
 */
#include <math.h>

#include "marginsim/stats.h"
#include "testutil.h"

static void test_stats__wilson_and_quantiles(void **state) {
  (void)state;
  double lo, hi;
  /* Wilson 95% for 3 of 10 (Newcombe 1998, Table I: 0.1078, 0.6032) */
  ms_stats_wilson(3, 10, 1.959963984540054, &lo, &hi);
  assert_true(fabs(lo - 0.1078) < 5e-5 && fabs(hi - 0.6032) < 5e-5);
  ms_stats_wilson(0, 100, 1.959963984540054, &lo, &hi);
  assert_true(lo == 0 && fabs(hi - 0.0370) < 5e-5);
  double x[] = {1, 2, 3, 4, 5};
  /* numpy.quantile([1,2,3,4,5], [0.5, 0.9, 0.99]) = 3, 4.6, 4.96 */
  assert_true(ms_stats_quantile_sorted(x, 5, 0.5) == 3);
  assert_true(fabs(ms_stats_quantile_sorted(x, 5, 0.9) - 4.6) < 1e-12);
  assert_true(fabs(ms_stats_quantile_sorted(x, 5, 0.99) - 4.96) < 1e-12);
}

static ms_liq_record rec(int64_t t_s, int64_t obs_s, int impact_triggered, double notional) {
  return (ms_liq_record){.time = t_s * 1000, .obs_time = obs_s * 1000, .impact_triggered = impact_triggered, .notional = notional};
}

static void test_stats__cascades_and_generations(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml("stats: {cascade_gap: 60s}\n", NULL, 0, &err);
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
  assert_ok(ms_stats_path_cascades(cfg, &row, r, 6, &buf, &err), &err);
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
  /* largest by notional is B */
  assert_int_equal(row.largest_cascade_liquidations, 2);
  assert_true(row.largest_cascade_notional == 110);
  assert_int_equal(row.largest_cascade_depth, 1);
  ms_path_summary empty = {0};
  assert_ok(ms_stats_path_cascades(cfg, &empty, r, 0, &buf, &err), &err);
  assert_true(empty.cascades == 0);
  free(buf.v);
  ms_config_free(cfg);
}

/* Amplification is the run's liquidated notional over its no-feedback
 * twin's: NaN when both are 0 (or there is no twin), +inf when only the
 * twin's is 0, exactly 1 when the run is its own twin. */
static void test_stats__amplification_against_the_twin(void **state) {
  (void)state;
  ms_path_summary r = {.liquidated_notional = 210, .liquidated_notional_no_impact = 70};
  ms_stats_set_amplification(&r, 0);
  assert_true(r.amplification == 3.0);
  r = (ms_path_summary){.liquidated_notional = 0, .liquidated_notional_no_impact = 0};
  ms_stats_set_amplification(&r, 0);
  assert_true(isnan(r.amplification));
  r = (ms_path_summary){.liquidated_notional = 5, .liquidated_notional_no_impact = 0};
  ms_stats_set_amplification(&r, 0);
  assert_true(isinf(r.amplification) && r.amplification > 0);
  r = (ms_path_summary){.liquidated_notional = 0.1, .liquidated_notional_no_impact = 0.1};
  ms_stats_set_amplification(&r, 1);
  assert_true(r.amplification == 1.0);
  r = (ms_path_summary){.liquidated_notional = 5, .liquidated_notional_no_impact = NAN};
  ms_stats_set_amplification(&r, 0);
  assert_true(isnan(r.amplification));
}

/* Generations on long random record streams against the definition,
 * evaluated by brute force (every earlier fill of the cascade checked):
 * observation times mostly rising, sometimes falling back, as oracle rounds
 * with random latency can make them. */
static void test_stats__generations_match_brute_force(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml("stats: {cascade_gap: 30s}\n", NULL, 0, &err);
  uint64_t x = 12345;
  enum { N = 4000 };
  ms_liq_record *r = calloc(N, sizeof *r);
  int32_t *want = calloc(N, sizeof *want);
  assert_non_null(r);
  assert_non_null(want);
  int64_t falls = 0;
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
      if (i > 0 && r[i].time - r[i - 1].time > cfg->stats.cascade_gap) b = i;
      int32_t g = 0;
      if (r[i].impact_triggered) {
        for (int j = b; j < i; j++)
          if (r[j].time <= r[i].obs_time && want[j] > g) g = want[j];
        g += 1;
      }
      want[i] = g;
    }
    ms_path_summary row = {0};
    ms_cascade_buf buf = {0};
    assert_ok(ms_stats_path_cascades(cfg, &row, r, N, &buf, &err), &err);
    for (int i = 0; i < N; i++)
      if (r[i].generation != want[i])
        fail_msg("trial %d record %d: generation %d, brute force %d", trial, i, r[i].generation, want[i]);
    free(buf.v);
  }
  assert_true(falls > 100); /* the fallback search was exercised */
  free(r);
  free(want);
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stats__wilson_and_quantiles),
      cmocka_unit_test(test_stats__cascades_and_generations),
      cmocka_unit_test(test_stats__amplification_against_the_twin),
      cmocka_unit_test(test_stats__generations_match_brute_force),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
