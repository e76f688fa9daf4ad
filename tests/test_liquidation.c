/*
 * test_liquidation — one liquidation's outcome: partial closes restore
 * initial margin with the least size allowed, full closes split the
 * penalty, bad debt goes through the waterfall; accounts with options
 * close their legs at model value worsened by the spread, riskiest leg first.
 */
#include <math.h>
#include <string.h>

#include "engine/shortfall.h"
#include "models/liquidation.h"
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
      ms_liq_compute(&cfg->liquidation, m, C, q, E, pm, po, &o);
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
  ms_liq_compute(&cfg->liquidation, m, 1000, 10, 1000, 920, 925, &o);
  assert_true(o.full && o.bad_debt == 0);
  assert_true(fabs(o.penalty - 0.02 * 10 * 920) < 1e-9);      /* 184 of the 200 left */
  assert_true(fabs(o.keeper_reward - 46) < 1e-9 && fabs(o.fund_fee - 138) < 1e-9);
  assert_true(fabs(o.new_collateral - 16) < 1e-9);
  /* equity 50 at the fill: the penalty takes what is there, no more */
  ms_liq_compute(&cfg->liquidation, m, 1000, 10, 1000, 905, 925, &o);
  assert_true(fabs(o.penalty - 50) < 1e-9 && o.new_collateral == 0 && o.bad_debt == 0);
  /* underwater by 300 with a fund of 100: fund pays 100, 2/3 of the position is ADL'd at
   * the bankruptcy price 900, 1/3 is sold at 870 */
  ms_liq_compute(&cfg->liquidation, m, 1000, 10, 1000, 870, 925, &o);
  ms_waterfall_perp(cfg->liquidation.shortfall, 100, 10, 1000, &o);
  assert_true(fabs(o.bad_debt - 300) < 1e-9 && fabs(o.fund_paid - 100) < 1e-9 && fabs(o.residual - 200) < 1e-9);
  assert_true(fabs(o.bankruptcy_price - 900) < 1e-9);
  assert_true(fabs(o.adl_qty - 10 * 200.0 / 300.0) < 1e-9 && fabs(o.market_qty + o.adl_qty - 10) < 1e-12);
  /* the account ends at minus what the fund pays */
  assert_true(fabs(1000 + o.realized + 100) < 1e-9);
  /* socialize: all of it to the market, the residual left for the profitable side */
  cfg->liquidation.shortfall = &ms_shortfall_socialize;
  ms_liq_compute(&cfg->liquidation, m, 1000, 10, 1000, 870, 925, &o);
  ms_waterfall_perp(cfg->liquidation.shortfall, 100, 10, 1000, &o);
  assert_true(o.adl_qty == 0 && o.market_qty == 10 && fabs(o.residual - 200) < 1e-9);
  double per_unit, unc;
  ms_socialize_split(200, 50, 3, &per_unit, &unc); /* 150 of profit to take from */
  assert_true(fabs(per_unit - 3) < 1e-12 && fabs(unc - 50) < 1e-9);
  ms_socialize_split(100, 50, 3, &per_unit, &unc);
  assert_true(fabs(per_unit - 2) < 1e-12 && unc == 0);
  ms_margin_free(m);
  ms_config_free(cfg);
}

/* ---- accounts with options (ms_liq_compute_pos) ----
 * Expected values are worked out here from docs/engine.md ("Liquidating an
 * account with options"): Black–Scholes at r = q = 0 written out with erfc,
 * independent of sim/models/pricing.c. */

#define DAY_MS 86400000LL
#define EXPIRY (30 * DAY_MS)         /* every leg expires in 30 days */
#define TAU (30.0 / 365.0)           /* years at t = 0 (days_per_year 365) */
#define VOL 0.8                      /* regime volatility; no smile */

#define assert_near(got, want, tol)                                                     \
  do {                                                                                  \
    double g_ = (got), w_ = (want);                                                     \
    if (!(fabs(g_ - w_) <= (tol))) fail_msg("%s = %.12g, expected %.12g", #got, g_, w_); \
  } while (0)

static double ncdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Black–Scholes value per unit, r = q = 0. */
static double bs(int is_call, double S, double K, double tau, double sig) {
  double sd = sig * sqrt(tau), d1 = (log(S / K) + 0.5 * sd * sd) / sd, d2 = d1 - sd;
  return is_call ? S * ncdf(d1) - K * ncdf(d2) : K * ncdf(-d2) - S * ncdf(-d1);
}

/* Its delta. */
static double bs_delta(int is_call, double S, double K, double tau, double sig) {
  double sd = sig * sqrt(tau), d1 = (log(S / K) + 0.5 * sd * sd) / sd;
  return is_call ? ncdf(d1) : ncdf(d1) - 1.0;
}

static ms_leg opt(int is_call, double K, double q, double v0) {
  return (ms_leg){.is_call = is_call, .strike = K, .expiry = EXPIRY, .q = q, .v0 = v0};
}

static void test_liquidation__option_fills_pay_the_spread(void **state) {
  (void)state;
  ms_config *cfg = cfg_of("liquidation: {penalty: 0.01, keeper_share: 0.25, option_spread: 0.05}\n"
                          "margin: {initial: 0.1, maintenance: 0.05}\n");
  ms_margin *m;
  ms_error err;
  assert_ok(ms_margin_new(&m, cfg, &err), &err);
  const ms_liquidation_cfg *lc = &cfg->liquidation;
  ms_view fill = {1050, 0, VOL}, orc = {1045, 0, VOL};
  ms_liq_pos_outcome o;

  /* Naked short call, 10 units struck at 1100, sold at 40: bought back at V (1 + 0.05). */
  double Vc = bs(1, 1050, 1100, TAU, VOL), buy = 10 * Vc * 1.05, pen = 0.01 * 10 * 1050;
  assert_true(Vc > 50 && Vc < 100); /* the hand formula is in the right place (about 75) */
  ms_position sc = {.C = 2000, .q = 0, .nlegs = 1, .legs = {opt(1, 1100, -10, 40)}};
  ms_liq_compute_pos(lc, m, &sc, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(1e9, &o);
  assert_true(o.full && o.legs_closed == 1 && o.perp_closed == 0 && o.new_q == 0);
  assert_near(o.opt_closed, 10, 0);
  assert_near(o.realized, 10 * 40 - buy, 1e-8);
  assert_true(o.realized < 10 * (40 - Vc)); /* the spread costs the account */
  assert_near(o.notional, 10 * 1050, 1e-9);
  assert_near(o.opt_notional, 10 * 1050, 1e-9);
  assert_near(o.penalty, pen, 1e-9);
  assert_near(o.keeper_reward, 0.25 * pen, 1e-9);
  assert_near(o.fund_fee, 0.75 * pen, 1e-9);
  assert_near(o.new_cash, 2000 - buy - pen, 1e-8);
  assert_true(o.bad_debt == 0 && o.fund_paid == 0 && o.residual == 0 && o.flow == 0);

  /* 40 left after the buy-back: the penalty takes the 40, no more */
  sc.C = buy + 40;
  ms_liq_compute_pos(lc, m, &sc, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(1e9, &o);
  assert_near(o.penalty, 40, 1e-8);
  assert_near(o.keeper_reward, 10, 1e-8);
  assert_near(o.fund_fee, 30, 1e-8);
  assert_near(o.new_cash, 0, 1e-8);
  assert_true(o.bad_debt == 0);

  /* 500 of cash: the buy-back leaves it short of buy - 500; a fund of 100 pays 100 */
  sc.C = 500;
  ms_liq_compute_pos(lc, m, &sc, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(100, &o);
  assert_true(o.full);
  assert_near(o.bad_debt, buy - 500, 1e-8);
  assert_near(o.fund_paid, 100, 1e-12);
  assert_near(o.residual, buy - 600, 1e-8);
  assert_true(o.penalty == 0 && o.keeper_reward == 0 && o.fund_fee == 0 && o.new_cash == 0);

  /* Long put, 10 units struck at 1000, bought at 60: sold at V (1 - 0.05). */
  double Vp = bs(0, 1050, 1000, TAU, VOL), sell = 10 * Vp * 0.95;
  assert_true(Vp > 50 && Vp < 100); /* about 71 */
  ms_position lp = {.C = 100, .q = 0, .nlegs = 1, .legs = {opt(0, 1000, 10, 60)}};
  ms_liq_compute_pos(lc, m, &lp, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(1e9, &o);
  assert_true(o.full && o.legs_closed == 1);
  assert_near(o.realized, sell - 10 * 60, 1e-8);
  assert_true(o.realized < 10 * (Vp - 60));
  assert_near(o.penalty, pen, 1e-9);
  assert_near(o.new_cash, 100 + sell - pen, 1e-8);
  assert_true(o.bad_debt == 0);
  ms_margin_free(m);
  ms_config_free(cfg);
}

static void test_liquidation__partial_closes_riskiest_leg_first(void **state) {
  (void)state;
  /* Static margin: a leg's own initial requirement is 0.08 x its underlying notional if
   * short, 0 if long (paid for); the perp's 0.08 x |q| P. */
  ms_config *cfg = cfg_of("liquidation: {mode: partial, penalty: 0.01, keeper_share: 0.25,\n"
                          "              option_spread: 0.05}\n"
                          "margin: {initial: 0.08, maintenance: 0.05}\n");
  ms_margin *m;
  ms_error err;
  assert_ok(ms_margin_new(&m, cfg, &err), &err);
  const ms_liquidation_cfg *lc = &cfg->liquidation;
  ms_liq_pos_outcome o;

  /* Covered call written twice over: long 10 perp at 1000, short 20 calls at 1100 (sold
   * at 50). Own requirements at the oracle 1000: call 0.08 x 20 x 1000 = 1600 > perp 800:
   * the call goes first. */
  ms_view fill = {1000, 0, VOL}, orc = {1000, 0, VOL};
  double Vc = bs(1, 1000, 1100, TAU, VOL), C = 2300;
  ms_position cc = {.C = C, .q = 10, .nlegs = 1, .legs = {opt(1, 1100, -20, 50)}};
  /* eligible: equity C - 20 Vc below maintenance 0.05 x 30 x 1000 */
  assert_true(C - 20 * Vc < 1500);
  double cash1 = C - 20 * Vc * 1.05, pen1 = 0.01 * 20 * 1000;
  assert_true(cash1 - pen1 >= 800); /* the perp left alone meets its initial 800: stop */
  assert_true(C - 0.01 * 10 * 1000 - 20 * Vc < 1600); /* perp first would not have done */
  ms_liq_compute_pos(lc, m, &cc, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(1e9, &o);
  assert_false(o.full);
  assert_int_equal(o.legs_closed, 1);
  assert_true(o.perp_closed == 0 && o.new_q == 10);
  assert_near(o.opt_closed, 20, 0);
  assert_near(o.penalty, pen1, 1e-9);
  assert_near(o.keeper_reward, 0.25 * pen1, 1e-9);
  assert_near(o.new_cash, cash1 - pen1, 1e-8);
  assert_near(o.realized, 20 * 50 - 20 * Vc * 1.05, 1e-8);

  /* The same with the perp twice the calls: long 20 perp, short 10 calls. The perp's 1600
   * beats the call's 800: the perp goes first, and a short call alone needs 800. */
  ms_position cc2 = {.C = 1700, .q = 20, .nlegs = 1, .legs = {opt(1, 1100, -10, 50)}};
  assert_true(1700 - 10 * Vc < 0.05 * 30 * 1000);
  assert_true(1700 - 0.01 * 20 * 1000 - 10 * Vc >= 800);
  ms_liq_compute_pos(lc, m, &cc2, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(1e9, &o);
  assert_false(o.full);
  assert_int_equal(o.legs_closed, 0);
  assert_true(o.perp_closed == 20 && o.new_q == 0 && o.opt_closed == 0);
  assert_near(o.new_cash, 1700 - 0.01 * 20 * 1000, 1e-9);

  /* Plain covered call, 10 and 10: the requirements tie at 800 and the tie goes to the
   * perp. A short call alone needs 800; C = 1480 leaves 1480 - 100 - 10 Vc >= 800. (Had
   * the call gone first, 1480 - 10.5 Vc - 100 >= 800 would have stopped there too.) */
  ms_position cc3 = {.C = 1480, .q = 10, .nlegs = 1, .legs = {opt(1, 1100, -10, 50)}};
  assert_true(1480 - 10 * Vc < 0.05 * 20 * 1000);
  assert_true(1480 - 100 - 10 * Vc >= 800 && 1480 - 10 * Vc * 1.05 - 100 >= 800);
  ms_liq_compute_pos(lc, m, &cc3, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(1e9, &o);
  assert_false(o.full);
  assert_int_equal(o.legs_closed, 0);
  assert_true(o.perp_closed == 10 && o.new_q == 0);

  /* Protective put: long 10 perp at 1000, long 10 puts at 950 (bought at 40). The price
   * fell: oracle 900, mark 898. The put needs nothing, the perp 0.08 x 10 x 900 = 720:
   * the perp goes first, and the put left alone (requirement 0) has positive equity. */
  ms_view fill2 = {898, 0, VOL}, orc2 = {900, 0, VOL};
  double Vp_o = bs(0, 900, 950, TAU, VOL), Vp_f = bs(0, 898, 950, TAU, VOL);
  ms_position pp = {.C = 200, .q = 10, .nlegs = 1, .legs = {opt(0, 950, 10, 40)}};
  assert_true(200 - 1000 + 10 * Vp_o < 0.05 * 10 * 900); /* eligible */
  double cash2 = 200 + 10 * (898 - 1000), pen2 = 0.01 * 10 * 898;
  assert_true(cash2 - pen2 + 10 * Vp_o >= 0);
  /* the put first would have left the perp short of its 720 */
  assert_true(200 + 10 * Vp_f * 0.95 - pen2 + 10 * (900 - 1000) < 720);
  ms_liq_compute_pos(lc, m, &pp, 1000, &fill2, &orc2, 0, &o);
  ms_waterfall_pos(1e9, &o);
  assert_false(o.full);
  assert_int_equal(o.legs_closed, 0);
  assert_true(o.perp_closed == 10 && o.new_q == 0 && o.opt_closed == 0);
  assert_near(o.realized, 10 * (898 - 1000), 1e-9);
  assert_near(o.penalty, pen2, 1e-9);
  assert_near(o.new_cash, cash2 - pen2, 1e-9);
  assert_near(o.notional, 10 * 898, 1e-9);
  assert_true(o.opt_notional == 0);
  ms_margin_free(m);
  ms_config_free(cfg);
}

static void test_liquidation__option_account_penalty_split_and_bad_debt(void **state) {
  (void)state;
  ms_config *cfg = cfg_of("liquidation: {penalty: 0.02, keeper_share: 0.25, option_spread: 0.05}\n"
                          "margin: {initial: 0.1, maintenance: 0.05}\n");
  ms_margin *m;
  ms_error err;
  assert_ok(ms_margin_new(&m, cfg, &err), &err);
  const ms_liquidation_cfg *lc = &cfg->liquidation;
  ms_liq_pos_outcome o;
  /* Protective put closed in full after a crash to 800: long 10 perp at 1000, long 10
   * puts at 950 bought at 40. Penalty 2% of the underlying notional closed, legs and perp
   * alike: 0.02 x 20 x 800 = 320, a quarter to the keeper. */
  ms_view fill = {800, 0, VOL}, orc = {805, 0, VOL};
  double Vp = bs(0, 800, 950, TAU, VOL), sell = 10 * Vp * 0.95, pen = 0.02 * 20 * 800;
  double perp_pnl = 10 * (800 - 1000);
  ms_position pp = {.C = 1000, .q = 10, .nlegs = 1, .legs = {opt(0, 950, 10, 40)}};
  double cash = 1000 + perp_pnl + sell;
  assert_true(cash > pen); /* about 674 */
  ms_liq_compute_pos(lc, m, &pp, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(5000, &o);
  assert_true(o.full && o.legs_closed == 1 && o.perp_closed == 10 && o.new_q == 0);
  assert_near(o.notional, 20 * 800, 1e-9);
  assert_near(o.opt_notional, 10 * 800, 1e-9);
  assert_near(o.realized, perp_pnl + sell - 10 * 40, 1e-8);
  assert_near(o.penalty, 320, 1e-9);
  assert_near(o.keeper_reward, 80, 1e-9);
  assert_near(o.fund_fee, 240, 1e-9);
  assert_near(o.new_cash, cash - 320, 1e-8);
  assert_true(o.bad_debt == 0 && o.fund_paid == 0 && o.residual == 0);
  /* flow: the perp sells 10 x 800; with options_move the put's close also removes its
   * delta, q x delta x mark, i.e. buys 10 |delta| x 800 */
  assert_near(o.flow, -8000, 1e-9);
  ms_liq_compute_pos(lc, m, &pp, 1000, &fill, &orc, 1, &o);
  ms_waterfall_pos(5000, &o);
  assert_near(o.flow, -8000 - 10 * bs_delta(0, 800, 950, TAU, VOL) * 800, 1e-8);
  assert_near(o.new_cash, cash - 320, 1e-8); /* the flow changes no money */

  /* 100 left after the fills: the penalty is that 100 (25 / 75) */
  pp.C = 1000 - (cash - 100);
  ms_liq_compute_pos(lc, m, &pp, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(5000, &o);
  assert_near(o.penalty, 100, 1e-8);
  assert_near(o.keeper_reward, 25, 1e-8);
  assert_near(o.fund_fee, 75, 1e-8);
  assert_near(o.new_cash, 0, 1e-8);
  assert_true(o.bad_debt == 0);

  /* Underwater: cash 200 instead of 1000, so the fills leave it 800 - cash short. The fund
   * of 100 pays 100 of it, the rest is the residual; no penalty, nothing to the keeper. */
  pp.C = 200;
  double B = -(200 + perp_pnl + sell);
  assert_true(B > 100); /* about 126 */
  ms_liq_compute_pos(lc, m, &pp, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(100, &o);
  assert_true(o.full);
  assert_near(o.bad_debt, B, 1e-8);
  assert_near(o.fund_paid, 100, 1e-12);
  assert_near(o.residual, B - 100, 1e-8);
  assert_true(o.penalty == 0 && o.keeper_reward == 0 && o.fund_fee == 0 && o.new_cash == 0);
  assert_near(o.realized, perp_pnl + sell - 10 * 40, 1e-8);
  /* a fund large enough pays it all; an empty one nothing */
  ms_liq_compute_pos(lc, m, &pp, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(1e6, &o);
  assert_near(o.fund_paid, B, 1e-8);
  assert_true(o.residual == 0);
  ms_liq_compute_pos(lc, m, &pp, 1000, &fill, &orc, 0, &o);
  ms_waterfall_pos(0, &o);
  assert_true(o.fund_paid == 0);
  assert_near(o.residual, B, 1e-8);
  ms_margin_free(m);
  ms_config_free(cfg);
}

/* The shortfall policies are a type table: each loads by its name from
 * liquidation.shortfall (the schema reads the names from the table, as for
 * the other model keys); the scenario accepts exactly the table's names, in
 * its order, and dumps the chosen one's name. */
static void test_liquidation__shortfall_policies_by_name(void **state) {
  (void)state;
  char names[256] = "";
  int n = 0;
  for (; ms_shortfall_types[n]; n++) {
    const char *name = ms_shortfall_types[n]->name;
    char y[128];
    snprintf(y, sizeof y, "liquidation: {shortfall: %s}\n", name);
    ms_config *cfg = cfg_of(y);
    assert_ptr_equal(cfg->liquidation.shortfall, ms_shortfall_types[n]);
    assert_ptr_equal(ms_shortfall_find(name), ms_shortfall_types[n]);
    char *yaml = ms_config_to_yaml(cfg), line[64];
    snprintf(line, sizeof line, "  shortfall: %s\n", name);
    assert_non_null(strstr(yaml, line));
    free(yaml);
    assert_non_null(ms_shortfall_types[n]->adl_units);
    assert_non_null(ms_shortfall_types[n]->charge);
    ms_config_free(cfg);
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", n ? ", " : "", name);
  }
  assert_true(n >= 2);
  assert_null(ms_shortfall_find("bailout"));
  ms_error err;
  ms_config *bad = load_yaml("liquidation: {shortfall: bailout}\n", NULL, 0, &err);
  assert_null(bad);
  char want[300];
  snprintf(want, sizeof want, "liquidation.shortfall: must be one of: %s (got bailout)", names);
  if (!strstr(err.msg, want)) fail_msg("%s: expected %s", err.msg, want);
  /* the default stays adl */
  ms_config *def = cfg_of("seed: 1\n");
  assert_ptr_equal(def->liquidation.shortfall, &ms_shortfall_adl);
  ms_config_free(def);
}

/* A full close's penalty is fmin(penalty x |q| x P, equity), bit for bit
 * (liquidation.c takes the minimum without the call when neither is NaN):
 * at equal values, at -0 and +0 either way, at NaN. */
static void test_liquidation__full_penalty_is_fmin_bit_for_bit(void **state) {
  (void)state;
  /* glibc's fmin called with its operands in this order: a visible fmin
   * call may be folded, or have its operands swapped, by the compiler (C
   * leaves the sign of fmin(+0, -0) open), which made this test fail in a
   * Debug build with sanitizers */
  double (*volatile fmin_)(double, double) = fmin;
  ms_config *cfg = cfg_of("liquidation: {mode: full, penalty: 0.01}\n");
  ms_margin *m;
  ms_error err;
  assert_ok(ms_margin_new(&m, cfg, &err), &err);
  /* C, q, E, P: equity C + s|q|(P - E) against the penalty 0.01 |q| P */
  const double cases[][4] = {{-0.0, -1, 100, 100}, {0.0, -1, 100, 100}, {-0.0, 1, 0, 0}, {0.0, 1, 0, 0},
                             {-0.0, -1, 0, 0},     {1.0, 1, 100, 100},  {1.0, 1, 100, 99}, {-1.0, 1, 100, 100},
                             {NAN, 1, 100, 100},   {1.0, 1, 100, NAN},  {5.0, 2, 0, 250},  {1e300, 1, 0, 1e300},
                             {1.0, -INFINITY, 100, 0} /* the penalty NaN (inf x 0), the equity +inf */};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double C = cases[i][0], q = cases[i][1], E = cases[i][2], P = cases[i][3];
    ms_liq_outcome o;
    ms_liq_compute(&cfg->liquidation, m, C, q, E, P, P, &o);
    double s = q > 0 ? 1.0 : -1.0, a = fabs(q), eq = C + s * a * (P - E);
    double want = eq >= 0 ? fmin_(cfg->liquidation.penalty * a * P, eq) : 0.0;
    if (memcmp(&o.penalty, &want, sizeof want) != 0 && !(isnan(o.penalty) && isnan(want)))
      fail_msg("case %zu: penalty %a, fmin %a", i, o.penalty, want);
  }
  uint64_t x = 7;
  for (int i = 0; i < 20000; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    double C = (double)(x >> 40) - 8e6, P = 1000 + (double)((x >> 8) & 0xffff) / 64.0, q = i % 2 ? 1 : -1;
    ms_liq_outcome o;
    ms_liq_compute(&cfg->liquidation, m, C, q, 1000, P, P, &o);
    double eq = C + q * (P - 1000), want = eq >= 0 ? fmin_(cfg->liquidation.penalty * P, eq) : 0.0;
    if (memcmp(&o.penalty, &want, sizeof want) != 0) fail_msg("C %a P %a: penalty %a, fmin %a", C, P, o.penalty, want);
  }
  ms_margin_free(m);
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_liquidation__partial_restores_initial_margin),
      cmocka_unit_test(test_liquidation__full_penalty_and_waterfall),
      cmocka_unit_test(test_liquidation__full_penalty_is_fmin_bit_for_bit),
      cmocka_unit_test(test_liquidation__shortfall_policies_by_name),
      cmocka_unit_test(test_liquidation__option_fills_pay_the_spread),
      cmocka_unit_test(test_liquidation__partial_closes_riskiest_leg_first),
      cmocka_unit_test(test_liquidation__option_account_penalty_split_and_bad_debt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
