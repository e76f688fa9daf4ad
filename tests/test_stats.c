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

static ms_liq_record rec(int64_t t_s, int64_t obs_s, int induced, double notional) {
  return (ms_liq_record){.time = t_s * 1000, .obs_time = obs_s * 1000, .induced = induced, .notional = notional};
}

static void test_stats__cascades_and_generations(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml("stats: {cascade_gap: 60s}\n", NULL, 0, &err);
  /* Cascade A (t 100..190), then B from 400 (a gap of 210 s > 60 s). An
   * induced fill's generation is 1 + the largest generation among the fills
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
  /* amplification: total 210 over non-induced 70 */
  assert_true(fabs(row.amplification - 3.0) < 1e-12);
  /* none: NaN; all induced: inf */
  ms_path_summary empty = {0};
  assert_ok(ms_stats_path_cascades(cfg, &empty, r, 0, &buf, &err), &err);
  assert_true(isnan(empty.amplification) && empty.cascades == 0);
  free(buf.v);
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stats__wilson_and_quantiles),
      cmocka_unit_test(test_stats__cascades_and_generations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
