/*
 * test_liquidation — one liquidation's outcome: partial closes restore
 * initial margin with the least size allowed, full closes split the
 * penalty, bad debt goes through the waterfall.
 */
#include <math.h>

#include "marginsim/liquidation.h"
#include "testutil.h"

static ms_config *cfg_of(const char *yaml) {
  ms_error err;
  ms_config *c = load_yaml(yaml, NULL, 0, &err);
  if (!c) fail_msg("%s", err.msg);
  return c;
}

static void test_liquidation__partial_restores_initial_margin(void **state) {
  (void)state;
  const char *models[] = {"margin: {initial: 0.08, maintenance: 0.04}\n", "margin: {model: tiered}\n"};
  for (int mi = 0; mi < 2; mi++) {
    char y[256];
    snprintf(y, sizeof y, "%sliquidation: {mode: partial, min_close: 0.1, penalty: 0.01}\n", models[mi]);
    ms_config *cfg = cfg_of(y);
    ms_margin *m;
    ms_error err;
    assert_ok(ms_margin_new(&m, cfg, &err), &err);
    uint64_t x = 5;
    int partial = 0;
    for (int i = 0; i < 20000; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      double u1 = (double)(x >> 11) * 0x1.0p-53;
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      double u2 = (double)(x >> 11) * 0x1.0p-53;
      double E = 1000, C = 1000 + 1e6 * u1, lev = 5 + 60 * u2, q = (i % 2 ? 1 : -1) * C * lev / E;
      double T = ms_margin_threshold(m, C, q, E);
      double po = q > 0 ? T * 0.999 : T * 1.001; /* just eligible */
      double pm = po * (1 + 0.002 * (u1 - 0.5));
      assert_true(ms_margin_eligible(m, C, q, E, po));
      ms_liq_outcome o;
      ms_liq_compute(&cfg->liquidation, m, C, q, E, pm, po, 1e9, &o);
      assert_true(o.close_qty >= 0.1 * fabs(q) * (1 - 1e-12));
      if (o.full) continue;
      partial++;
      double left = fabs(o.new_qty), eq = o.new_collateral + o.new_qty * (po - E);
      if (eq < ms_margin_perp_im(m, left, po) * (1 - 1e-9))
        fail_msg("equity %.6f below initial %.6f after a partial close", eq, ms_margin_perp_im(m, left, po));
      assert_false(ms_margin_eligible(m, o.new_collateral, o.new_qty, E, po));
      /* least: closing 0.1% less (if above min_close) would not have restored it */
      double less = o.close_qty * 0.999;
      if (less > 0.1 * fabs(q)) {
        double s = q > 0 ? 1 : -1, c2 = C + s * less * (pm - E) - 0.01 * less * pm;
        double l2 = fabs(q) - less;
        assert_true(c2 + s * l2 * (po - E) < ms_margin_perp_im(m, l2, po));
      }
      /* money: the account lost exactly PnL and penalty */
      assert_true(fabs(o.new_collateral - (C + o.realized - o.penalty)) < 1e-6);
      assert_true(fabs(o.penalty - 0.01 * o.close_qty * pm) < 1e-9 * (1 + o.penalty));
    }
    assert_true(partial > 1000);
    ms_margin_free(m);
    ms_config_free(cfg);
  }
}

static void test_liquidation__full_penalty_and_waterfall(void **state) {
  (void)state;
  ms_config *cfg = cfg_of("liquidation: {penalty: 0.02, keeper_share: 0.25, shortfall: adl}\n"
                          "margin: {initial: 0.1, maintenance: 0.05}\n");
  ms_margin *m;
  ms_error err;
  assert_ok(ms_margin_new(&m, cfg, &err), &err);
  /* long 10 units, entry 1000, collateral 1000: equity at 920 = 200 */
  ms_liq_outcome o;
  ms_liq_compute(&cfg->liquidation, m, 1000, 10, 1000, 920, 925, 5000, &o);
  assert_true(o.full && o.bad_debt == 0);
  assert_true(fabs(o.penalty - 0.02 * 10 * 920) < 1e-9);      /* 184 of the 200 left */
  assert_true(fabs(o.keeper_reward - 46) < 1e-9 && fabs(o.fund_fee - 138) < 1e-9);
  assert_true(fabs(o.new_collateral - 16) < 1e-9);
  /* equity 50 at the fill: the penalty takes what is there, no more */
  ms_liq_compute(&cfg->liquidation, m, 1000, 10, 1000, 905, 925, 5000, &o);
  assert_true(fabs(o.penalty - 50) < 1e-9 && o.new_collateral == 0 && o.bad_debt == 0);
  /* underwater by 300 with a fund of 100: fund pays 100, 2/3 of the position is ADL'd at
   * the bankruptcy price 900, 1/3 is sold at 870 */
  ms_liq_compute(&cfg->liquidation, m, 1000, 10, 1000, 870, 925, 100, &o);
  assert_true(fabs(o.bad_debt - 300) < 1e-9 && fabs(o.fund_paid - 100) < 1e-9 && fabs(o.residual - 200) < 1e-9);
  assert_true(fabs(o.bankruptcy_price - 900) < 1e-9);
  assert_true(fabs(o.adl_qty - 10 * 200.0 / 300.0) < 1e-9 && fabs(o.market_qty + o.adl_qty - 10) < 1e-12);
  /* the account ends at minus what the fund pays */
  assert_true(fabs(1000 + o.realized + 100) < 1e-9);
  /* socialize: all of it to the market, the residual left for the profitable side */
  cfg->liquidation.shortfall = MS_SHORTFALL_SOCIALIZE;
  ms_liq_compute(&cfg->liquidation, m, 1000, 10, 1000, 870, 925, 100, &o);
  assert_true(o.adl_qty == 0 && o.market_qty == 10 && fabs(o.residual - 200) < 1e-9);
  double per_unit, unc;
  ms_liq_socialize(200, 50, 3, &per_unit, &unc); /* 150 of profit to take from */
  assert_true(fabs(per_unit - 3) < 1e-12 && fabs(unc - 50) < 1e-9);
  ms_liq_socialize(100, 50, 3, &per_unit, &unc);
  assert_true(fabs(per_unit - 2) < 1e-12 && unc == 0);
  ms_margin_free(m);
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_liquidation__partial_restores_initial_margin),
      cmocka_unit_test(test_liquidation__full_penalty_and_waterfall),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
