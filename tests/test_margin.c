/*
 * test_margin — static and tiered requirements, thresholds, index keys.
 */
#include <math.h>

#include "marginsim/margin.h"
#include "testutil.h"

static ms_margin *make(const char *yaml) {
  ms_error err;
  ms_config *cfg = load_yaml(yaml, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  ms_margin *m;
  assert_ok(ms_margin_new(&m, cfg, &err), &err);
  ms_config_free(cfg);
  return m;
}

static void test_margin__tiered_amounts_match_binance(void **state) {
  (void)state;
  ms_margin *m = make("margin: {model: tiered}");
  /* Maintenance amounts as Binance published them for BTCUSDT, 2021-03-18
   * (margin-parameters.md 1.2): the recursion must reproduce each. */
  const double floor[] = {0, 5e4, 2.5e5, 1e6, 1e7, 2e7, 5e7, 1e8, 2e8, 3e8};
  const double cum[] = {0, 50, 1300, 16300, 266300, 1266300, 2516300, 5016300, 25016300, 100016300};
  for (int k = 0; k < 10; k++) {
    double n = floor[k] * 1.0001 + 1;
    assert_true(fabs(ms_margin_mm_amount(m, n) - cum[k]) < 1e-6);
  }
  /* continuous across every boundary */
  for (int k = 1; k < 10; k++) {
    double lo = ms_margin_perp_mm(m, floor[k] * (1 - 1e-12), 1), hi = ms_margin_perp_mm(m, floor[k], 1);
    assert_true(fabs(lo - hi) < 1e-6 * (1 + hi));
  }
  /* a worked example: 600,000 USD notional: 1% x 600,000 - 1,300 = 4,700 */
  assert_true(fabs(ms_margin_perp_mm(m, 600, 1000) - 4700) < 1e-9);
  assert_true(fabs(ms_margin_perp_im(m, -600, 1000) - 12000) < 1e-9);
  ms_margin_free(m);
}

static void test_margin__thresholds_are_roots(void **state) {
  (void)state;
  const char *cfgs[] = {"margin: {model: static, initial: 0.1, maintenance: 0.04}", "margin: {model: tiered}"};
  for (int c = 0; c < 2; c++) {
    ms_margin *m = make(cfgs[c]);
    uint64_t x = 99;
    for (int i = 0; i < 5000; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      double C = 100.0 * pow(10.0, (double)(x >> 40) / (double)(1 << 24) * 5); /* 100 .. 1e7 */
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      double lev = 1.5 + 20.0 * (double)(x >> 40) / (double)(1 << 24);
      double E = 1000, q = (i % 2 ? 1 : -1) * C * lev / E;
      double T = ms_margin_threshold(m, C, q, E);
      assert_true(isfinite(T) && T > 0);
      /* eligible just beyond the threshold, not just inside */
      double in = q > 0 ? T * (1 + 1e-9) : T * (1 - 1e-9), out = q > 0 ? T * (1 - 1e-9) : T * (1 + 1e-9);
      if (ms_margin_eligible(m, C, q, E, in) || !ms_margin_eligible(m, C, q, E, out))
        fail_msg("%s: C %.2f q %.6f threshold %.6f", cfgs[c], C, q, T);
    }
    ms_margin_free(m);
  }
}

static void test_margin__keys_order_thresholds(void **state) {
  (void)state;
  /* Static keys (per-unit collateral) order accounts by threshold for any
   * maintenance ratio: the order the index relies on. */
  ms_margin *a = make("margin: {initial: 0.3, maintenance: 0.01}");
  ms_margin *b = make("margin: {initial: 0.3, maintenance: 0.2}");
  double E = 1000, C[] = {500, 800, 1200, 3000}, L[] = {8, 3, 5, 1.5};
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      double qi = C[i] * L[i] / E, qj = C[j] * L[j] / E;
      int by_key = ms_margin_key(a, C[i], qi, E, 0) < ms_margin_key(a, C[j], qj, E, 0);
      assert_int_equal(by_key, ms_margin_threshold(a, C[i], qi, E) > ms_margin_threshold(a, C[j], qj, E));
      assert_int_equal(by_key, ms_margin_threshold(b, C[i], qi, E) > ms_margin_threshold(b, C[j], qj, E));
    }
  ms_margin_free(a);
  ms_margin_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_margin__tiered_amounts_match_binance),
      cmocka_unit_test(test_margin__thresholds_are_roots),
      cmocka_unit_test(test_margin__keys_order_thresholds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
