/*
 * test_margin — static and tiered requirements, thresholds, index keys.
 */
#include <math.h>

#include "models/margin.h"
#include "models/margin_int.h"
#include "models/pricing.h"
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

/* ---- portfolio margin ---- */

static ms_position perp(double q) { return (ms_position){0, q, 0, {{0}}}; }

static ms_leg leg(int call, double K, int64_t expiry, double q) { return (ms_leg){call, 0, K, expiry, q, 0}; }

static const int64_t DAY = 86400000;

static void test_margin__portfolio_hedge_needs_less(void **state) {
  (void)state;
  ms_margin *m = make("margin: {model: portfolio}");
  ms_view v = {2000, 0, 0.7};
  /* covered call: long 5 units + short 5 calls struck 10% out of the money, a week out */
  ms_position pp = perp(5), call = {0, 0, 1, {leg(1, 2200, 7 * DAY, -5)}}, cc = {0, 5, 1, {leg(1, 2200, 7 * DAY, -5)}};
  double a = ms_margin_pos_im(m, &pp, 2000, &v), b = ms_margin_pos_im(m, &call, 2000, &v);
  double c = ms_margin_pos_im(m, &cc, 2000, &v);
  print_message("covered call: perp %.1f + short call %.1f = %.1f > together %.1f\n", a, b, a + b, c);
  assert_true(c < a + b);
  /* protective put: long 5 units + long 5 puts struck 5% below */
  ms_position put = {0, 0, 1, {leg(0, 1900, 7 * DAY, 5)}}, pput = {0, 5, 1, {leg(0, 1900, 7 * DAY, 5)}};
  b = ms_margin_pos_im(m, &put, 2000, &v);
  c = ms_margin_pos_im(m, &pput, 2000, &v);
  print_message("protective put: perp %.1f + long put %.1f = %.1f > together %.1f\n", a, b, a + b, c);
  assert_true(c < a + b);
  /* the perp alone needs the largest weighted adverse move: 16% of notional */
  assert_true(fabs(a - 0.16 * 5 * 2000) < 1e-9);
  ms_margin_free(m);
}

/* Leaving out the scenarios whose bounded loss cannot exceed the worst so
 * far (margin_portfolio.c, pm_prune) changes no bit of either requirement:
 * every grid kind and preset, with and without a smile, positions of every
 * shape, prices across the grid, legs near and past their expiry, and
 * positions with nearly equal losses everywhere (far out of the money). */
static void test_margin__portfolio_pruning_changes_no_bit(void **state) {
  (void)state;
  const char *models[] = {"margin: {model: portfolio}",
                          "margin: {model: portfolio, portfolio: {grid: span}}",
                          "margin: {model: portfolio, portfolio: {preset: paradex}}",
                          "margin: {model: portfolio, portfolio: {preset: derive}}",
                          "margin: {model: portfolio, portfolio: {preset: derive, min_vol_up: 3}}",
                          "market: {smile: {skew: -0.3}}\nmargin: {model: portfolio, portfolio: {preset: paradex}}",
                          "market: {smile: {skew: 0.6, floor: 0.5}}\nmargin: {model: portfolio, portfolio: {grid: span}}"};
  const int nmodels = sizeof models / sizeof models[0];
  uint64_t x = 991;
  int64_t n = 0;
  for (int mi = 0; mi < nmodels; mi++) {
    ms_margin *m = make(models[mi]);
    for (int i = 0; i < 3000; i++) {
      double u[8];
      for (int k = 0; k < 8; k++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        u[k] = (double)(x >> 11) * 0x1.0p-53;
      }
      double P = 2000 * exp(0.6 * (u[0] - 0.5)), q = 0.01 + 20 * u[1];
      int64_t e = (int64_t)((0.01 + 40 * u[2]) * DAY);
      double far = i % 5 == 4 ? 3.0 : 0.3; /* far out of the money: losses nearly equal */
      double Kc = P * (1 + far * u[3]), Kp = P * (1 - 0.9 * (far > 1 ? 0.9 : 0.3) * u[4]);
      ms_position p = {1000 * u[5], 0, 0, {{0}}};
      switch (i % 7) {
      case 0: p.nlegs = 2; p.legs[0] = leg(1, Kc, e, -q); p.legs[1] = leg(0, Kp, e, -q); break;
      case 1: p.q = q; p.nlegs = 1; p.legs[0] = leg(1, Kc, e, -q); break;
      case 2: p.q = q; p.nlegs = 1; p.legs[0] = leg(0, Kp, e, q); break;
      case 3: p.nlegs = 2; p.legs[0] = leg(1, P, e, q); p.legs[1] = leg(0, P, e, q); break;
      case 4: p.nlegs = 2; p.legs[0] = leg(1, Kc, e, q); p.legs[1] = leg(0, Kp, e, -q); break;
      case 5: p.q = -q; p.nlegs = 2; p.legs[0] = leg(1, Kc, e, q); p.legs[1] = leg(1, Kc * 1.05, e / 2 + 1, -q); break;
      case 6: p.q = q * (u[7] - 0.5); p.nlegs = 1; p.legs[0] = leg(u[7] < 0.5, Kc, e, -q * 1e-3); break;
      }
      /* from well before to just past the expiry, at one of three volatilities */
      int64_t t = (int64_t)(u[6] * 1.05 * (double)e);
      ms_view v = {P, t, 0.1 + 1.9 * u[7]};
      for (int k = 0; k < 2; k++) {
        ms_portfolio_set_prune(m, 1);
        double a = k ? ms_margin_pos_im(m, &p, P, &v) : ms_margin_pos_mm(m, &p, P, &v);
        ms_portfolio_set_prune(m, 0);
        double b = k ? ms_margin_pos_im(m, &p, P, &v) : ms_margin_pos_mm(m, &p, P, &v);
        if (memcmp(&a, &b, sizeof a) != 0)
          fail_msg("%s: position %d (P %.6g, t %lld of %lld, vol %.4g): %s %.17g pruned, %.17g whole grid",
                   models[mi], i % 7, P, (long long)t, (long long)e, v.vol, k ? "initial" : "maintenance", a, b);
        n++;
      }
    }
    ms_margin_free(m);
  }
  print_message("%lld requirements identical with and without pruning\n", (long long)n);
}

/* The instance remembers its last leg values (margin_int.h,
 * ms_margin_leg_value_memo): whatever the sequence, each value is the one
 * ms_leg_value computes afresh, bit for bit, including inputs that differ
 * from a remembered one in a single field by one ulp (strike, price, time,
 * volatility) or in the option's kind. */
static void test_margin__remembered_leg_values_are_fresh(void **state) {
  (void)state;
  const char *models[] = {"margin: {model: portfolio}", "market: {smile: {skew: -0.4}}\nmargin: {model: portfolio}"};
  uint64_t x = 31337;
  int64_t n = 0, repeats = 0;
  for (int mi = 0; mi < 2; mi++) {
    ms_margin *m = make(models[mi]);
    double K[3] = {1800, 2000, 2300}, S[3] = {1950, 2000, 2100}, tau[3] = {0.002, 0.02, 0.08}, vol[2] = {0.55, 1.6};
    double lastk[8][5];
    int nlast = 0;
    for (int i = 0; i < 20000; i++) {
      double u[6];
      for (int k = 0; k < 6; k++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        u[k] = (double)(x >> 11) * 0x1.0p-53;
      }
      ms_leg l = leg(u[0] < 0.5, K[(int)(3 * u[1])], 0, 1);
      double s = S[(int)(3 * u[2])], t = tau[(int)(3 * u[3])], vo = vol[(int)(2 * u[4])];
      if (nlast && i % 2) { /* one of the last four again, or it with one field changed (below) */
        const double *r = lastk[(int)(u[1] * nlast)];
        l.is_call = (int32_t)r[0];
        l.strike = r[1];
        s = r[2];
        t = r[3];
        vo = r[4];
        if (u[5] > 5.0 / 6) l.is_call = !l.is_call;
      }
      switch ((int)(6 * u[5])) { /* one field one ulp away */
      case 0: l.strike = nextafter(l.strike, 1e9); break;
      case 1: s = nextafter(s, 0); break;
      case 2: t = nextafter(t, 1); break;
      case 3: vo = nextafter(vo, 0); break;
      default: break;
      }
      double got = ms_margin_leg_value_memo(m, &l, s, t, vo), want = ms_leg_value(&l, &m->smile, s, t, vo);
      if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%s: %s K %.17g S %.17g tau %.17g vol %.17g: remembered %.17g, fresh %.17g", models[mi],
                 l.is_call ? "call" : "put", l.strike, s, t, vo, got, want);
      double key[5] = {l.is_call, l.strike, s, t, vo};
      for (int k = 0; k < nlast; k++) repeats += memcmp(lastk[k], key, sizeof key) == 0;
      memmove(lastk[1], lastk[0], sizeof lastk[0] * 7);
      memcpy(lastk[0], key, sizeof key);
      if (nlast < 4) nlast++;
      n++;
    }
    ms_margin_free(m);
  }
  print_message("%lld leg values the same as fresh ones, %lld of them repeats of one of the last four\n", (long long)n,
                (long long)repeats);
  assert_true(repeats > 100);
}

/* The Deribit/Paradex grid written out again from its published description
 * (margin-parameters.md 5.1, 5.3): shocks -16%..+16% in 9 steps x vol
 * up/same/down scaled by (30 d / DTE)^power, the tail rows at vol up; every
 * scenario valued (the perp linearly), none left out. */
static double grid_by_hand(const ms_position *p, double P, double vol, double dte_days, double *worst_x,
                           int *worst_v) {
  const double up = 0.40, down = 0.22, power = dte_days < 30 ? 0.30 : 0.13;
  double scale = pow(30.0 / (dte_days > 1 ? dte_days : 1), power), tau = dte_days / 365.0;
  const double tail_x[] = {-0.66, -0.33, 0.5, 1, 2, 3, 4, 5}, tail_w[] = {0.24, 0.48, 0.32, 0.16, 0.08, 0.0533, 0.04, 0.032};
  double base = p->q * P; /* the perp, linearly */
  for (int l = 0; l < p->nlegs; l++)
    base += p->legs[l].q * ms_bs_value(p->legs[l].is_call, P, p->legs[l].strike, tau, vol, 0, 0);
  double worst = 0;
  for (int i = 0; i < 9 + 8; i++)
    for (int vs = 1; vs >= -1; vs--) {
      double x = i < 9 ? -0.16 + 0.04 * i : tail_x[i - 9], w = i < 9 ? 1 : tail_w[i - 9];
      if (i >= 9 && vs != 1) continue;
      double sv = vol * (vs == 0 ? 1 : vs > 0 ? 1 + up * scale : 1 - down * scale), val = p->q * P * (1 + x);
      for (int l = 0; l < p->nlegs; l++)
        val += p->legs[l].q * ms_bs_value(p->legs[l].is_call, P * (1 + x), p->legs[l].strike, tau, sv, 0, 0);
      if (w * (base - val) > worst) { worst = w * (base - val); *worst_x = x; *worst_v = vs; }
    }
  return worst;
}

static void test_margin__short_strangle_is_its_worst_grid_loss(void **state) {
  (void)state;
  ms_margin *m = make("margin: {model: portfolio}");
  ms_view v = {2000, 0, 0.7};
  ms_position st = {0, 0, 2, {leg(1, 2300, 7 * DAY, -10), leg(0, 1700, 7 * DAY, -10)}};
  double wx = 0;
  int wv = 0;
  double want = grid_by_hand(&st, 2000, 0.7, 7, &wx, &wv) + 0.01 * 20 * 2000; /* + 1% floor per short option */
  double got = ms_margin_pos_im(m, &st, 2000, &v);
  print_message("short strangle: worst scenario %+.0f%% vol %+d, requirement %.4f (by hand %.4f)\n", wx * 100, wv,
                got, want);
  assert_true(fabs(got - want) < 1e-9 * want);
  /* the worst point of a short strangle is a large move with volatility up */
  assert_true(fabs(wx) >= 0.16 - 1e-12 && wv == 1);
  double mm = ms_margin_pos_mm(m, &st, 2000, &v);
  assert_true(fabs(mm - 0.5 * got) < 1e-9 * got);
  ms_margin_free(m);
}

static void test_margin__span_extremes_weigh_35_percent(void **state) {
  (void)state;
  ms_margin *m = make("margin: {model: portfolio, portfolio: {grid: span, short_option_floor: 0, "
                      "span: {scan_range: 0.1, vol_range: 0.3}}}");
  ms_view v = {1000, 0, 0.5};
  /* a short call 15% out of the money: out of reach of the scan range, deep in at twice it */
  ms_position sc = {0, 0, 1, {leg(1, 1150, 3 * DAY, -1)}};
  double tau = 3.0 / 365.0, base = -ms_bs_value(1, 1000, 1150, tau, 0.5, 0, 0);
  double ext = base - (-ms_bs_value(1, 1200, 1150, tau, 0.5, 0, 0)); /* +2 x 10%, vol unchanged */
  double core = 0;
  const double th[] = {0, 1.0 / 3, -1.0 / 3, 2.0 / 3, -2.0 / 3, 1, -1};
  for (int i = 0; i < 7; i++)
    for (int vs = -1; vs <= 1; vs += 2) {
      double l = base + ms_bs_value(1, 1000 * (1 + 0.1 * th[i]), 1150, tau, 0.5 * (1 + 0.3 * vs), 0, 0);
      if (l > core) core = l;
    }
  double got = ms_margin_pos_im(m, &sc, 1000, &v);
  print_message("SPAN: extreme loss %.4f x 0.35 = %.4f, core worst %.4f, requirement %.4f\n", ext, 0.35 * ext, core, got);
  assert_true(0.35 * ext > core); /* the case where the extreme decides */
  assert_true(fabs(got - 0.35 * ext) < 1e-9 * got);
  /* a perp: the full scan range beats 35% of twice it */
  ms_position pp = perp(-3);
  assert_true(fabs(ms_margin_pos_im(m, &pp, 1000, &v) - 0.1 * 3000) < 1e-9);
  ms_margin_free(m);
}

/* ---- bands ---- */

static void test_margin__bands_are_safe(void **state) {
  (void)state;
  const char *models[] = {"margin: {model: static, initial: 0.1, maintenance: 0.05}",
                          "margin: {model: tiered, tiers: [{floor: 0, maintenance: 0.02, initial: 0.04}, "
                          "{floor: 50000, maintenance: 0.05, initial: 0.1}]}",
                          "margin: {model: dynamic}",
                          "margin: {model: portfolio}",
                          "margin: {model: portfolio, portfolio: {grid: span}}",
                          "margin: {model: portfolio, portfolio: {preset: paradex}}",
                          "margin: {model: portfolio, portfolio: {preset: derive}}",
                          /* the minimum delta requirement decides; vol up raised to 300% */
                          "margin: {model: portfolio, portfolio: {preset: paradex, price_range: 0.0005, vol_up: 0, "
                          "vol_down: 0, extended: []}}",
                          "margin: {model: portfolio, portfolio: {preset: derive, min_vol_up: 3}}",
                          "market: {smile: {skew: -0.3}}\nmargin: {model: portfolio, portfolio: {preset: paradex}}",
                          "market: {smile: {skew: -0.4}}\nmargin: {model: portfolio}",
                          "market: {smile: {skew: 0.6, floor: 0.5}}\nmargin: {model: portfolio, portfolio: {grid: span}}"};
  const int nmodels = sizeof models / sizeof models[0];
  uint64_t x = 77;
  int64_t checked = 0, empty = 0;
  double closest = INFINITY;
  for (int mi = 0; mi < nmodels; mi++) {
    ms_margin *m = make(models[mi]);
    for (int i = 0; i < 420; i++) {
      double u[6];
      for (int k = 0; k < 6; k++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        u[k] = (double)(x >> 11) * 0x1.0p-53;
      }
      double P = 2000, q = 2 + 20 * u[0];
      int64_t exp_ms = (int64_t)((0.05 + 30 * u[1]) * DAY);
      ms_position p = {0, 0, 0, {{0}}};
      switch (i % 7) {
      case 0: p.nlegs = 2; p.legs[0] = leg(1, P * (1 + 0.3 * u[2]), exp_ms, -q); p.legs[1] = leg(0, P * (1 - 0.3 * u[3]), exp_ms, -q); break;
      case 1: p.q = q; p.nlegs = 1; p.legs[0] = leg(1, P * (1 + 0.2 * u[2]), exp_ms, -q); break;
      case 2: p.q = q; p.nlegs = 1; p.legs[0] = leg(0, P * (1 - 0.2 * u[2]), exp_ms, q); break;
      case 3: p.nlegs = 2; p.legs[0] = leg(1, P, exp_ms, q); p.legs[1] = leg(0, P, exp_ms, q); break;
      /* mixed signs: no volatility scenario can be left out */
      case 4: p.nlegs = 2; p.legs[0] = leg(1, P * (1 + 0.1 * u[2]), exp_ms, q); p.legs[1] = leg(0, P * (1 - 0.1 * u[3]), exp_ms, -q); break;
      case 5: p.nlegs = 2; p.legs[0] = leg(1, P * (1 + 0.05 * u[2]), exp_ms, q); p.legs[1] = leg(1, P * (1.05 + 0.2 * u[3]), exp_ms / 2 + 1, -q); break;
      case 6: p.q = -q; p.nlegs = 1; p.legs[0] = leg(1, P * (1 + 0.1 * u[2]), exp_ms, q); break; /* short perp, long call */
      }
      ms_view v = {P, 0, 0.3 + 1.5 * u[4]};
      /* cash so that the account is safe, but not by much */
      double need = ms_margin_pos_mm(m, &p, P, &v) - ms_margin_pos_equity(m, &p, P, &v);
      p.C = need + (0.02 + 0.5 * u[5]) * q * P * 0.1;
      double S0 = ms_margin_pos_surplus(m, &p, P, &v);
      ms_band b;
      ms_margin_band(m, &p, P, &v, NAN, &b);
      /* With a minimum delta requirement, an account whose surplus is below
       * what that requirement can move gets an empty band (revalued at once). */
      if (strstr(models[mi], "paradex") && !(b.p_lo < P)) {
        empty++;
        continue;
      }
      assert_true(b.p_lo < P && P < b.p_hi && b.t_until >= 0);
      /* a grid over the band, its edges just inside */
      for (int a = 0; a <= 8; a++)
        for (int c = 0; c <= 6; c++) {
          double pa = b.p_lo + (b.p_hi - b.p_lo) * a / 8.0;
          if (a == 0) pa = b.p_lo * (1 + 1e-12) + 1e-9;
          if (a == 8) pa = b.p_hi * (1 - 1e-12) - 1e-9;
          int64_t tc = c == 6 ? (b.t_until > 0 ? b.t_until - 1 : 0) : b.t_until * c / 6;
          ms_view w = {pa, tc, v.vol};
          double sur = ms_margin_pos_surplus(m, &p, P, &w);
          if (!(sur > 0))
            fail_msg("%s: position %d not safe inside its band at P %.4f (band %.4f..%.4f), t %lld ms (until %lld): "
                     "surplus %.6g", models[mi], i % 7, pa, b.p_lo, b.p_hi, (long long)tc, (long long)b.t_until, sur);
          if (sur / S0 < closest) closest = sur / S0;
          checked++;
        }
    }
    ms_margin_free(m);
  }
  print_message("%lld points inside bands, all safe; least surplus left: %.3g of the surplus at the check; "
                "%lld of %d paradex bands empty\n", (long long)checked, closest, (long long)empty, 3 * 420);
  assert_true(empty < 3 * 420 / 2); /* most paradex accounts still get a band */
}

/* Leaving out the volatility scenarios that cannot be the worst changes
 * nothing: the requirement equals the whole grid written out by hand, for
 * same-sign and mixed-sign positions alike. */
static void test_margin__portfolio_equals_the_whole_grid(void **state) {
  (void)state;
  ms_margin *m = make("margin: {model: portfolio}");
  uint64_t x = 5;
  for (int i = 0; i < 600; i++) {
    double u[5];
    for (int k = 0; k < 5; k++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      u[k] = (double)(x >> 11) * 0x1.0p-53;
    }
    double P = 2000, q = 1 + 9 * u[0], dte = 0.2 + 60 * u[1], vol = 0.2 + 1.8 * u[4];
    int64_t e = (int64_t)llround(dte * DAY);
    dte = (double)e / DAY;
    double Kc = P * (1 + 0.3 * u[2]), Kp = P * (1 - 0.3 * u[3]);
    ms_position p = {0, 0, 0, {{0}}};
    switch (i % 6) {
    case 0: p.nlegs = 2; p.legs[0] = leg(1, Kc, e, -q); p.legs[1] = leg(0, Kp, e, -q); break;
    case 1: p.q = q; p.nlegs = 1; p.legs[0] = leg(1, Kc, e, -q); break;
    case 2: p.q = q; p.nlegs = 1; p.legs[0] = leg(0, Kp, e, q); break;
    case 3: p.nlegs = 2; p.legs[0] = leg(1, P, e, q); p.legs[1] = leg(0, P, e, q); break;
    case 4: p.nlegs = 2; p.legs[0] = leg(1, Kc, e, q); p.legs[1] = leg(0, Kp, e, -q); break;
    case 5: p.q = -q; p.nlegs = 2; p.legs[0] = leg(1, Kc, e, q); p.legs[1] = leg(1, Kc * 1.05, e, -q); break;
    }
    double shortq = 0;
    for (int l = 0; l < p.nlegs; l++) shortq += p.legs[l].q < 0 ? -p.legs[l].q : 0;
    double wx = 0;
    int wv = 0;
    double want = grid_by_hand(&p, P, vol, dte, &wx, &wv);
    want += 0.01 * shortq * P;
    ms_view v = {P, 0, vol};
    double got = ms_margin_pos_im(m, &p, P, &v);
    if (fabs(got - want) > 1e-9 * (1 + want))
      fail_msg("position %d (dte %.3f, vol %.3f): requirement %.10g, whole grid %.10g", i % 6, dte, vol, got, want);
  }
  ms_margin_free(m);
}

/* ---- presets (margin-parameters.md 5.1, 5.2, 5.4), each against its published table ---- */

typedef struct { double x; int vs; double w; } row; /* price move, vol up/same/down, weight */

/* Paradex's 24 rows, as published (5.1). */
static const row PARADEX_ROWS[] = {
    {0.16, 1, 1},   {0.12, 1, 1},   {0.12, -1, 1},  {0.08, 1, 1},  {0.08, -1, 1}, {0.04, 1, 1},
    {0.04, -1, 1},  {0, 1, 1},      {0, -1, 1},     {-0.04, 1, 1}, {-0.04, -1, 1}, {-0.08, 1, 1},
    {-0.08, -1, 1}, {-0.12, 1, 1},  {-0.12, -1, 1}, {-0.16, 1, 1}, {-0.66, 1, 0.24}, {-0.33, 1, 0.48},
    {0.5, 1, 0.32}, {1, 1, 0.16},   {2, 1, 0.08},   {3, 1, 0.0533}, {4, 1, 0.04},  {5, 1, 0.032}};

/* Derive PMRM2 (5.2): 23 core rows (+/-18% in 4.5% steps, vol up/none/down,
 * +/-18% vol up only) and the 8 dampened tail rows. */
static const row DERIVE_ROWS[] = {
    {-0.18, 1, 1},  {-0.135, 1, 1}, {-0.135, 0, 1}, {-0.135, -1, 1}, {-0.09, 1, 1}, {-0.09, 0, 1},
    {-0.09, -1, 1}, {-0.045, 1, 1}, {-0.045, 0, 1}, {-0.045, -1, 1}, {0, 1, 1},     {0, 0, 1},
    {0, -1, 1},     {0.045, 1, 1},  {0.045, 0, 1},  {0.045, -1, 1},  {0.09, 1, 1},  {0.09, 0, 1},
    {0.09, -1, 1},  {0.135, 1, 1},  {0.135, 0, 1},  {0.135, -1, 1},  {0.18, 1, 1},
    {-0.66, 1, 0.21}, {-0.33, 1, 0.42}, {0.5, 1, 0.2772}, {1, 1, 0.1386}, {2, 1, 0.0693}, {3, 1, 0.0462},
    {4, 1, 0.03465}, {5, 1, 0.02772}};

/* The worst weighted loss over @p rows at time 0: each option at vol x (1
 * +/- shock x (30 / max(DTE, 1 d))^power), its own DTE, power 0.30 below 30
 * days and 0.13 from then on; at vol up at least @p min_up; the perp
 * linearly. */
static double rows_by_hand(const ms_position *p, double P, double vol, const row *rows, int n, double up,
                           double down, double min_up) {
  double base = p->q * P, worst = 0, tau[MS_MAX_LEGS], scale[MS_MAX_LEGS];
  for (int l = 0; l < p->nlegs; l++) {
    double dte = (double)p->legs[l].expiry / DAY;
    tau[l] = dte / 365.0;
    scale[l] = pow(30.0 / (dte > 1 ? dte : 1), dte < 30 ? 0.30 : 0.13);
    base += p->legs[l].q * ms_bs_value(p->legs[l].is_call, P, p->legs[l].strike, tau[l], vol, 0, 0);
  }
  for (int i = 0; i < n; i++) {
    double S = P * (1 + rows[i].x), val = p->q * S;
    for (int l = 0; l < p->nlegs; l++) {
      double sv = vol * (rows[i].vs == 0 ? 1 : rows[i].vs > 0 ? 1 + up * scale[l] : 1 - down * scale[l]);
      if (rows[i].vs > 0 && sv < min_up) sv = min_up;
      val += p->legs[l].q * ms_bs_value(p->legs[l].is_call, S, p->legs[l].strike, tau[l], sv, 0, 0);
    }
    if (rows[i].w * (base - val) > worst) worst = rows[i].w * (base - val);
  }
  return worst;
}

/* Paradex's minimum delta requirement by hand: (2% |net| + 1% hedged) x P,
 * hedged = (gross - |net|) / 2, deltas by Black–Scholes. */
static double min_delta_by_hand(const ms_position *p, double P, double vol, double *net_out,
                                double *gross_out) {
  double net = p->q, gross = fabs(p->q);
  for (int l = 0; l < p->nlegs; l++) {
    ms_greeks g;
    ms_bs_greeks(p->legs[l].is_call, P, p->legs[l].strike, (double)p->legs[l].expiry / DAY / 365.0, vol, 0, 0, &g);
    net += p->legs[l].q * g.delta;
    gross += fabs(p->legs[l].q * g.delta);
  }
  if (net_out) *net_out = net;
  if (gross_out) *gross_out = gross;
  return (0.02 * fabs(net) + 0.01 * (gross - fabs(net)) / 2) * P;
}

static void expect_near(const char *what, double got, double want) {
  print_message("%s: requirement %.6f, by hand %.6f\n", what, got, want);
  if (!(fabs(got - want) <= 1e-9 * (1 + fabs(want)))) fail_msg("%s: got %.12g, by hand %.12g", what, got, want);
}

static const char *PARADEX = "margin: {model: portfolio, portfolio: {preset: paradex}}";

static void test_margin__paradex_protective_put_is_its_24_rows(void **state) {
  (void)state;
  ms_margin *m = make(PARADEX), *d = make("margin: {model: portfolio}");
  ms_view v = {2000, 0, 0.7};
  ms_position pp = {0, 5, 1, {leg(0, 1900, 7 * DAY, 5)}};
  double scan = rows_by_hand(&pp, 2000, 0.7, PARADEX_ROWS, 24, 0.40, 0.22, 0);
  double md = min_delta_by_hand(&pp, 2000, 0.7, NULL, NULL);
  double want = scan > md ? scan : md; /* no per-short-option floor */
  double im = ms_margin_pos_im(m, &pp, 2000, &v);
  expect_near("paradex protective put, IMR = max(scan, min delta)", im, want);
  expect_near("paradex protective put, MMR = 50% IMR", ms_margin_pos_mm(m, &pp, 2000, &v), 0.5 * want);
  /* the 35-row superset (preset deribit) asks at least as much */
  double dim = ms_margin_pos_im(d, &pp, 2000, &v);
  print_message("deribit superset / paradex: %.4f\n", dim / im);
  assert_true(dim >= im);
  /* a calendar (long 7-day calls, short 45-day puts, short perp) whose worst
   * row of the superset, +8% at unchanged volatility, is not one of Paradex's
   * (its minimum delta requirement, larger, left out to compare the rows) */
  ms_margin *m0 =
      make("margin: {model: portfolio, portfolio: {preset: paradex, min_delta_net: 0, min_delta_hedged: 0}}");
  ms_position cal = {0, -4.92, 2, {leg(1, 2275, 7 * DAY, 8.1), leg(0, 2276, 45 * DAY, -4.47)}};
  want = rows_by_hand(&cal, 2000, 0.7, PARADEX_ROWS, 24, 0.40, 0.22, 0);
  im = ms_margin_pos_im(m0, &cal, 2000, &v);
  expect_near("paradex calendar, scan risk alone", im, want);
  ms_margin_free(m0);
  ms_margin *d0 = make("margin: {model: portfolio, portfolio: {short_option_floor: 0}}");
  dim = ms_margin_pos_im(d0, &cal, 2000, &v);
  print_message("calendar: scan risk of the deribit superset / paradex: %.4f\n", dim / im);
  assert_true(dim > 1.03 * im);
  ms_margin_free(d0);
  /* a perp alone: the largest weighted adverse move, 16% */
  ms_position lp = perp(2), sp = perp(-2);
  expect_near("paradex long perp", ms_margin_pos_im(m, &lp, 2000, &v), 0.16 * 4000);
  expect_near("paradex short perp (+16% row)", ms_margin_pos_im(m, &sp, 2000, &v), 0.16 * 4000);
  ms_margin_free(m);
  ms_margin_free(d);
}

static void test_margin__paradex_short_strangle_has_no_floor(void **state) {
  (void)state;
  ms_margin *m = make(PARADEX);
  for (int k = 0; k < 2; k++) { /* below and above the 30-day vega power switch */
    double dte = k ? 45 : 7, vol = 0.7;
    ms_view v = {2000, 0, vol};
    ms_position st = {0, 0, 2, {leg(1, 2300, (int64_t)dte * DAY, -10), leg(0, 1700, (int64_t)dte * DAY, -10)}};
    double scan = rows_by_hand(&st, 2000, vol, PARADEX_ROWS, 24, 0.40, 0.22, 0);
    double md = min_delta_by_hand(&st, 2000, vol, NULL, NULL);
    double want = scan > md ? scan : md;
    expect_near(k ? "paradex short strangle 45 d" : "paradex short strangle 7 d", ms_margin_pos_im(m, &st, 2000, &v),
                want);
    expect_near("  its MMR", ms_margin_pos_mm(m, &st, 2000, &v), 0.5 * want);
  }
  ms_margin_free(m);
}

/* The doc's example (5.1): long 1 perp and short 5 calls at delta 0.3: net
 * -0.5, gross 2.5, hedged 1.0, so the minimum delta requirement is
 * (2% x 0.5 + 1% x 1.0) x spot = 2% of spot. */
static void test_margin__paradex_minimum_delta_example(void **state) {
  (void)state;
  const double S = 2000, vol = 0.6, dte = 10;
  double K = ms_bs_strike_for_delta(1, S, dte / 365.0, vol, 0.3);
  ms_position p = {0, 1, 1, {leg(1, K, (int64_t)dte * DAY, -5)}};
  double net, gross, md = min_delta_by_hand(&p, S, vol, &net, &gross);
  assert_true(fabs(net + 0.5) < 1e-12 && fabs(gross - 2.5) < 1e-12);
  assert_true(fabs(md - 0.02 * S) < 1e-9);
  ms_view v = {S, 0, vol};
  /* the published table: the scan risk of 5 short calls is far larger */
  ms_margin *m = make(PARADEX);
  double scan = rows_by_hand(&p, S, vol, PARADEX_ROWS, 24, 0.40, 0.22, 0);
  assert_true(scan > md);
  expect_near("paradex min-delta example, full table", ms_margin_pos_im(m, &p, S, &v), scan);
  ms_margin_free(m);
  /* shocks cut down by --set: the minimum delta requirement decides */
  ms_error err;
  const char *sets[] = {"margin.portfolio.price_range=0.0005", "margin.portfolio.vol_up=0",
                        "margin.portfolio.vol_down=0", "margin.portfolio.extended=[]"};
  ms_config *cfg = load_yaml(PARADEX, sets, 4, &err);
  if (!cfg) fail_msg("%s", err.msg);
  assert_int_equal(cfg->margin.portfolio.preset, MS_PM_PARADEX);
  assert_true(cfg->margin.portfolio.min_delta_net == 0.02 && cfg->margin.portfolio.price_range == 0.0005);
  assert_ok(ms_margin_new(&m, cfg, &err), &err);
  ms_config_free(cfg);
  const row tiny[] = {{0.0005, 1, 1}, {0.0005, -1, 1}, {0, 1, 1}, {0, -1, 1}, {-0.0005, 1, 1}, {-0.0005, -1, 1}};
  scan = rows_by_hand(&p, S, vol, tiny, 6, 0, 0, 0);
  assert_true(scan < md);
  expect_near("paradex min-delta example, tiny shocks: IMR = 2% of spot", ms_margin_pos_im(m, &p, S, &v), md);
  expect_near("  MMR = 1% of spot", ms_margin_pos_mm(m, &p, S, &v), 0.5 * md);
  ms_margin_free(m);
}

/* Derive PMRM2 (5.2): IM = 1.0 x worst loss + (3% + 1%) perp notional +
 * (0.3% + 0.2%) naked short notional; MM = 0.8 x worst loss + 3% perp +
 * 0.3% naked; vol up at least 40%. */
static void test_margin__derive_pmrm2_with_contingencies(void **state) {
  (void)state;
  ms_margin *m = make("margin: {model: portfolio, portfolio: {preset: derive}}");
  const double P = 2000;
  struct { const char *name; ms_position p; double dte, vol, naked; } cases[] = {
      {"derive protective put 7 d", {0, 5, 1, {leg(0, 1900, 7 * DAY, 5)}}, 7, 0.7, 0},
      /* 60 days at 25% vol: vol up is 25% x (1 + 0.5 x 0.5^0.13) < 40%, so the 40% floor decides;
       * the worst row is +18% at vol up (the tail rows lose less once dampened) */
      {"derive short call 60 d, min vol up", {0, 0, 1, {leg(1, 2000, 60 * DAY, -10)}}, 60, 0.25, 10},
      {"derive short strangle", {0, 0, 2, {leg(1, 2300, 7 * DAY, -10), leg(0, 1700, 7 * DAY, -10)}}, 7, 0.7, 20},
      {"derive short strangle 45 d", {0, 0, 2, {leg(1, 2300, 45 * DAY, -10), leg(0, 1700, 45 * DAY, -10)}}, 45, 0.7,
       20},
      /* short 10 calls and long 4 puts at one strike and expiry: 6 naked (calls and puts net alike) */
      {"derive short call, long put same strike", {0, 0, 2, {leg(1, 2200, 7 * DAY, -10), leg(0, 2200, 7 * DAY, 4)}}, 7,
       0.7, 6},
      {"derive short perp + long call", {0, -3, 1, {leg(1, 2100, 20 * DAY, 3)}}, 20, 0.5, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ms_view v = {P, 0, cases[i].vol};
    const ms_position *p = &cases[i].p;
    double scan = rows_by_hand(p, P, cases[i].vol, DERIVE_ROWS, 31, 0.5, 0.3, 0.4);
    double perpn = fabs(p->q) * P, nakedn = cases[i].naked * P;
    expect_near(cases[i].name, ms_margin_pos_im(m, p, P, &v), scan + 0.04 * perpn + 0.005 * nakedn);
    expect_near("  maintenance", ms_margin_pos_mm(m, p, P, &v), 0.8 * scan + 0.03 * perpn + 0.003 * nakedn);
  }
  /* the floor binds in the 60-day case: without it the requirement is lower */
  double s40 = rows_by_hand(&cases[1].p, P, 0.25, DERIVE_ROWS, 31, 0.5, 0.3, 0.4);
  double s0 = rows_by_hand(&cases[1].p, P, 0.25, DERIVE_ROWS, 31, 0.5, 0.3, 0);
  print_message("60-day short call: worst loss %.4f with the 40%% vol floor, %.4f without\n", s40, s0);
  assert_true(s40 > s0 * (1 + 1e-6));
  /* a perp alone: 0.21 x 66% = 13.86% (tail) vs 18% (core): 18%, + contingencies */
  ms_position lp = perp(2);
  ms_view v = {P, 0, 0.5};
  expect_near("derive long perp IM", ms_margin_pos_im(m, &lp, P, &v), (0.18 + 0.04) * 2 * P);
  expect_near("derive long perp MM", ms_margin_pos_mm(m, &lp, P, &v), (0.8 * 0.18 + 0.03) * 2 * P);
  ms_margin_free(m);
}

/* Every tail row of the published tables decides for some position: a
 * short 1-day spread struck between that row's move and the next smaller
 * one is fully in the money there and at every larger move, which the table
 * weighs less. So each published weight is checked exactly. */
static void test_margin__every_tail_row_decides_somewhere(void **state) {
  (void)state;
  const char *ys[] = {PARADEX, "margin: {model: portfolio, portfolio: {preset: derive}}"};
  const row *tables[] = {PARADEX_ROWS, DERIVE_ROWS};
  const int nrows[] = {24, 31}, first_tail[] = {16, 23};
  const double edge[] = {0.16, 0.18}, up[] = {0.40, 0.5}, down[] = {0.22, 0.3}, min_up[] = {0, 0.4};
  const double P = 1000, vol = 0.3;
  for (int t = 0; t < 2; t++) {
    ms_margin *m = make(ys[t]);
    ms_view v = {P, 0, vol};
    for (int k = first_tail[t]; k < nrows[t]; k++) {
      double x = tables[t][k].x, prev = x > 0 ? edge[t] : -edge[t];
      for (int j = first_tail[t]; j < nrows[t]; j++) { /* the next smaller move on the same side */
        double y = tables[t][j].x;
        if (x > 0 && y > prev && y < x) prev = y;
        if (x < 0 && y < prev && y > x) prev = y;
      }
      double k1 = P * (1 + prev + 0.25 * (x - prev)), k2 = P * (1 + prev + 0.75 * (x - prev));
      int call = x > 0;
      ms_position sp = {0, 0, 2, {leg(call, k1, DAY, -3), leg(call, k2, DAY, 3)}};
      double want = rows_by_hand(&sp, P, vol, tables[t], nrows[t], up[t], down[t], min_up[t]);
      double at_k = rows_by_hand(&sp, P, vol, &tables[t][k], 1, up[t], down[t], min_up[t]);
      if (!(at_k == want)) fail_msg("%s: row %d (%+g) is not the worst (%.6g < %.6g)", ys[t], k + 1, x, at_k, want);
      double got = ms_margin_pos_im(m, &sp, P, &v), md = t == 0 ? min_delta_by_hand(&sp, P, vol, NULL, NULL) : 0;
      if (md > want) want = md;
      char what[96];
      snprintf(what, sizeof what, "%s row %d (%+g%%, weight %g)", t ? "derive" : "paradex", k + 1, 100 * x,
               tables[t][k].w);
      expect_near(what, got, want + (t ? 0.005 * 3 * P : 0)); /* derive: option contingency on 3 naked shorts */
    }
    ms_margin_free(m);
  }
}

/* CME's 16-scenario array (5.4) at scan range r and vol range v, by hand:
 * 0, +/-1/3, +/-2/3, +/-1 x r at vol x (1 +/- v), +/-2 r at 35%. */
static double span_by_hand(const ms_position *p, double P, double vol, double r, double v) {
  const double th[] = {0, 1.0 / 3, -1.0 / 3, 2.0 / 3, -2.0 / 3, 1, -1};
  row rows[16];
  int n = 0;
  for (int i = 0; i < 7; i++)
    for (int vs = 1; vs >= -1; vs -= 2) rows[n++] = (row){th[i] * r, vs, 1};
  rows[n++] = (row){2 * r, 0, 0.35};
  rows[n++] = (row){-2 * r, 0, 0.35};
  /* rows_by_hand scales vol shocks by DTE; SPAN's do not: value each row here */
  double base = p->q * P, worst = 0;
  for (int l = 0; l < p->nlegs; l++) {
    double tau = (double)p->legs[l].expiry / DAY / 365;
    base += p->legs[l].q * ms_bs_value(p->legs[l].is_call, P, p->legs[l].strike, tau, vol, 0, 0);
  }
  for (int i = 0; i < n; i++) {
    double S = P * (1 + rows[i].x), val = p->q * S;
    for (int l = 0; l < p->nlegs; l++) {
      double tau = (double)p->legs[l].expiry / DAY / 365;
      val += p->legs[l].q * ms_bs_value(p->legs[l].is_call, S, p->legs[l].strike, tau, vol * (1 + v * rows[i].vs), 0, 0);
    }
    if (rows[i].w * (base - val) > worst) worst = rows[i].w * (base - val);
  }
  return worst;
}

/* The three positions of the issue under every preset, each requirement
 * from its published table and rule by hand: a protective put, a short
 * strangle, and the minimum delta example (long 1 perp, short 5 calls at
 * delta 0.3). */
static void test_margin__every_preset_on_three_positions(void **state) {
  (void)state;
  const double P = 2000, vol = 0.6;
  row deribit[35];
  int nd = 0;
  for (int i = 0; i < 9; i++)
    for (int vs = 1; vs >= -1; vs--) deribit[nd++] = (row){-0.16 + 0.04 * i, vs, 1};
  for (int i = 16; i < 24; i++) deribit[nd++] = PARADEX_ROWS[i]; /* the same tail rows */
  ms_position pos[3] = {{0, 5, 1, {leg(0, 1900, 7 * DAY, 5)}},
                        {0, 0, 2, {leg(1, 2300, 7 * DAY, -10), leg(0, 1700, 7 * DAY, -10)}},
                        {0, 1, 1, {leg(1, ms_bs_strike_for_delta(1, P, 10 / 365.0, vol, 0.3), 10 * DAY, -5)}}};
  const char *pname[3] = {"protective put", "short strangle", "long perp + 5 short 0.3-delta calls"};
  const double shortq[3] = {0, 20, 5}, naked[3] = {0, 20, 5};
  const char *names[4] = {"deribit", "paradex", "derive", "span"};
  for (int k = 0; k < 4; k++) {
    char y[128];
    snprintf(y, sizeof y, "margin: {model: portfolio, portfolio: {preset: %s}}", names[k]);
    ms_margin *m = make(y);
    ms_view v = {P, 0, vol};
    for (int i = 0; i < 3; i++) {
      const ms_position *p = &pos[i];
      double im, mm, perpn = fabs(p->q) * P;
      if (k == 0) {
        double core = rows_by_hand(p, P, vol, deribit, nd, 0.40, 0.22, 0) + 0.01 * shortq[i] * P;
        im = core;
        mm = 0.5 * core;
      } else if (k == 1) {
        double scan = rows_by_hand(p, P, vol, PARADEX_ROWS, 24, 0.40, 0.22, 0);
        double md = min_delta_by_hand(p, P, vol, NULL, NULL);
        im = scan > md ? scan : md;
        mm = 0.5 * im;
      } else if (k == 2) {
        double scan = rows_by_hand(p, P, vol, DERIVE_ROWS, 31, 0.5, 0.3, 0.4);
        im = scan + 0.04 * perpn + 0.005 * naked[i] * P;
        mm = 0.8 * scan + 0.03 * perpn + 0.003 * naked[i] * P;
      } else {
        double scan = span_by_hand(p, P, vol, 0.16, 0.35), som = 0.01 * shortq[i] * P;
        im = scan > som ? scan : som;
        mm = 0.5 * im;
      }
      char what[96];
      snprintf(what, sizeof what, "%s, %s: initial", names[k], pname[i]);
      expect_near(what, ms_margin_pos_im(m, p, P, &v), im);
      snprintf(what, sizeof what, "%s, %s: maintenance", names[k], pname[i]);
      expect_near(what, ms_margin_pos_mm(m, p, P, &v), mm);
    }
    ms_margin_free(m);
  }
}

/* SPAN (5.4): requirement = max(scan risk, short option minimum), not their sum. */
static void test_margin__span_short_option_minimum_is_a_floor(void **state) {
  (void)state;
  const char *ys[] = {"margin: {model: portfolio, portfolio: {preset: span}}",
                      "margin: {model: portfolio, portfolio: {grid: span}}"};
  for (int k = 0; k < 2; k++) {
    ms_margin *m = make(ys[k]);
    ms_view v = {1000, 0, 0.5};
    const double th[] = {0, 1.0 / 3, -1.0 / 3, 2.0 / 3, -2.0 / 3, 1, -1};
    /* a short call far out of the money: scan risk below the 1% minimum; one near the money: above it */
    const double strikes[] = {1800, 1050};
    for (int j = 0; j < 2; j++) {
      double K = strikes[j], tau = 3.0 / 365.0;
      ms_position sc = {0, 0, 1, {leg(1, K, 3 * DAY, -4)}};
      double base = -4 * ms_bs_value(1, 1000, K, tau, 0.5, 0, 0), scan = 0;
      for (int i = 0; i < 7; i++)
        for (int vs = -1; vs <= 1; vs += 2) {
          double l = base + 4 * ms_bs_value(1, 1000 * (1 + 0.16 * th[i]), K, tau, 0.5 * (1 + 0.35 * vs), 0, 0);
          if (l > scan) scan = l;
        }
      for (int e = -1; e <= 1; e += 2) {
        double l = 0.35 * (base + 4 * ms_bs_value(1, 1000 * (1 + e * 2 * 0.16), K, tau, 0.5, 0, 0));
        if (l > scan) scan = l;
      }
      double som = 0.01 * 4 * 1000, want = scan > som ? scan : som;
      assert_true(j == 0 ? scan < som : scan > som);
      expect_near(j == 0 ? "span far call: the minimum" : "span near call: the scan risk",
                  ms_margin_pos_im(m, &sc, 1000, &v), want);
      expect_near("  maintenance", ms_margin_pos_mm(m, &sc, 1000, &v), 0.5 * want);
    }
    ms_margin_free(m);
  }
}

/* 101 price steps x 3 volatility states + 8 extended rows fit the grid. */
static void test_margin__finest_grid_fits(void **state) {
  (void)state;
  ms_margin *m = make("margin: {model: portfolio, portfolio: {price_steps: 101}}");
  ms_view v = {2000, 0, 0.7};
  ms_position st = {0, 0, 2, {leg(1, 2300, 7 * DAY, -10), leg(0, 1700, 7 * DAY, -10)}};
  row rows[3 * 101 + 8];
  int n = 0;
  for (int i = 0; i < 101; i++)
    for (int vs = 1; vs >= -1; vs--) rows[n++] = (row){-0.16 + 0.0032 * i, vs, 1};
  const double tx[] = {-0.66, -0.33, 0.5, 1, 2, 3, 4, 5}, tw[] = {0.24, 0.48, 0.32, 0.16, 0.08, 0.0533, 0.04, 0.032};
  for (int i = 0; i < 8; i++) rows[n++] = (row){tx[i], 1, tw[i]};
  double want = rows_by_hand(&st, 2000, 0.7, rows, n, 0.40, 0.22, 0) + 0.01 * 20 * 2000;
  expect_near("101 price steps", ms_margin_pos_im(m, &st, 2000, &v), want);
  ms_margin_free(m);
}

/* ---- dynamic margin ---- */

/* Published prices and their observation times (ms): a repeat of the same
 * observation (update 2) adds no return; gaps are uneven. */
static const double dyn_prices[] = {100, 100.5, 100.5, 99.8, 101.2, 100.9, 97.0, 98.5};
static const int64_t dyn_obs[] = {0, 60000, 60000, 150000, 400000, 401000, 3600000, 3660000};
#define DYN_N 8

static void test_margin__ewma_follows_the_hand_sequence(void **state) {
  (void)state;
  ms_margin *m = make("market: {initial_price: 100}\n"
                      "margin: {model: dynamic, dynamic: {k: 2, half_life: 10m, update_every: 1m, "
                      "liquidation_horizon: 1h, floor: 0.0001, cap: 0.9, max_step: 1, initial_vol: 0.5, "
                      "initial_multiplier: 1}}");
  /* By hand, as a weighted mean: the old estimate keeps its weight W decayed
   * by 2^(-dt / 10 min), the new rate r^2 / dt comes in with weight dt;
   * W starts at the weight of an infinite past, 10 min / ln 2. */
  const double year = 365.0 * 86400e3, h = 3600e3 / year;
  double s2 = 0.25, W = 600e3 / year / log(2.0);
  assert_true(fabs(ms_margin_ratio(m) - 2 * 0.5 * sqrt(h)) < 1e-15);
  for (int i = 1; i < DYN_N; i++) {
    if (dyn_obs[i] > dyn_obs[i - 1]) {
      double r = log(dyn_prices[i] / dyn_prices[i - 1]), dt = (double)(dyn_obs[i] - dyn_obs[i - 1]) / year;
      double Wold = W * pow(0.5, (double)(dyn_obs[i] - dyn_obs[i - 1]) / 600e3);
      s2 = (Wold * s2 + dt * (r * r / dt)) / (Wold + dt);
      W = Wold + dt;
    }
    ms_margin_update(m, dyn_prices[i], dyn_obs[i]);
    if (fabs(ms_margin_sigma(m) - sqrt(s2)) > 1e-12 * sqrt(s2))
      fail_msg("update %d: sigma %.15g, by hand %.15g", i, ms_margin_sigma(m), sqrt(s2));
    assert_true(fabs(ms_margin_ratio(m) - 2 * sqrt(s2) * sqrt(h)) < 1e-12);
  }
  ms_margin_free(m);
}

static void test_margin__window_follows_the_hand_sequence(void **state) {
  (void)state;
  /* 150 s of window at 1 min updates: 3 update intervals (rounded up), each
   * holding the r^2 and the dt its update saw (0, 0 for no new observation);
   * they start as 3 intervals at the initial vol. */
  ms_margin *m = make("market: {initial_price: 100}\nmargin: {model: dynamic, dynamic: {estimator: window, "
                      "window: 150s, update_every: 1m, initial_vol: 0.5, max_step: 1, floor: 0.0001, cap: 0.9, "
                      "initial_multiplier: 1}}");
  const double year = 365.0 * 86400e3, u = 60e3 / year;
  double r2[3] = {0.25 * u, 0.25 * u, 0.25 * u}, dt[3] = {u, u, u}, want = 0.5;
  for (int i = 1; i < DYN_N; i++) {
    int k = (i - 1) % 3;
    r2[k] = dt[k] = 0;
    if (dyn_obs[i] > dyn_obs[i - 1]) {
      double r = log(dyn_prices[i] / dyn_prices[i - 1]);
      r2[k] = r * r;
      dt[k] = (double)(dyn_obs[i] - dyn_obs[i - 1]) / year;
    }
    if (dt[0] + dt[1] + dt[2] > 0) want = sqrt((r2[0] + r2[1] + r2[2]) / (dt[0] + dt[1] + dt[2]));
    ms_margin_update(m, dyn_prices[i], dyn_obs[i]);
    if (fabs(ms_margin_sigma(m) - want) > 1e-12 * want)
      fail_msg("window update %d: %.15g vs %.15g", i, ms_margin_sigma(m), want);
  }
  ms_margin_free(m);
  /* a window of only repeats (no publish in it) holds the last estimate */
  m = make("market: {initial_price: 100}\nmargin: {model: dynamic, dynamic: {estimator: window, window: 4m, "
           "update_every: 1m, initial_vol: 0.5}}");
  ms_margin_update(m, 101, 30000);
  ms_margin_update(m, 100.3, 95000);
  ms_margin_update(m, 100.9, 170000);
  for (int i = 0; i < 3; i++) ms_margin_update(m, 100.9, 170000); /* the prior and two samples leave */
  double held = ms_margin_sigma(m);
  assert_true(fabs(held - fabs(log(100.9 / 100.3)) / sqrt(75e3 / year)) < 1e-9 * held);
  for (int i = 0; i < 9; i++) {
    ms_margin_update(m, 100.9, 170000);
    if (ms_margin_sigma(m) != held) fail_msg("repeat %d: %.17g, held %.17g", i, ms_margin_sigma(m), held);
  }
  ms_margin_free(m);
}

/* The memory is in time: the same publishes seen by updates every 10 s or
 * every minute give the same estimate (the extra updates see repeats). */
static void test_margin__ewma_memory_is_in_time_not_updates(void **state) {
  (void)state;
  ms_margin *a = make("market: {initial_price: 100}\nmargin: {model: dynamic, dynamic: {update_every: 1m, "
                      "half_life: 30m, initial_vol: 0.5}}");
  ms_margin *b = make("market: {initial_price: 100}\nmargin: {model: dynamic, dynamic: {update_every: 10s, "
                      "half_life: 30m, initial_vol: 0.5}}");
  double P = 100;
  int64_t obs = 0;
  uint64_t x = 5;
  for (int64_t t = 60000; t <= 6 * 3600000; t += 60000) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    if ((x >> 60) < 5) { /* about a third of the minutes bring a new observation */
      P *= 1 + 0.004 * ((double)(x >> 40 & 0xffff) / 65536.0 - 0.5);
      obs = t - 7000;
    }
    ms_margin_update(a, P, obs);
    for (int k = 0; k < 6; k++) ms_margin_update(b, P, obs);
  }
  assert_true(ms_margin_sigma(a) != 0.5);
  assert_true(fabs(ms_margin_sigma(a) - ms_margin_sigma(b)) <= 1e-15 * ms_margin_sigma(a));
  ms_margin_free(a);
  ms_margin_free(b);
}

static void test_margin__lambda_is_retired_with_its_replacement(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml("margin:\n  model: dynamic\n  dynamic: {k: 3, lambda: 0.94}\n", NULL, 0, &err);
  assert_null(cfg);
  assert_int_equal(err.status, MS_ERR_INPUT);
  assert_contains(err.msg, "t.yaml:3:");
  assert_contains(err.msg, "margin.dynamic.lambda");
  assert_contains(err.msg, "margin.dynamic.half_life");
  const char *set[] = {"margin.dynamic.lambda=0.9"};
  expect_load_error("margin: {model: dynamic}", set, 1, "use margin.dynamic.half_life");
  /* window is a duration now: a bare count of updates is refused */
  expect_load_error("margin: {model: dynamic, dynamic: {estimator: window, window: 60}}", NULL, 0,
                    "margin.dynamic.window: a duration needs a unit");
  expect_load_error("margin: {model: dynamic, dynamic: {estimator: window, window: 200d, update_every: 1s}}",
                    NULL, 0, "at most 100000 x update_every");
  /* and the resolved scenario lists half_life, not lambda */
  cfg = load_yaml("margin: {model: dynamic}", NULL, 0, &err);
  assert_non_null(cfg);
  assert_int_equal(cfg->margin.dynamic.half_life, 5 * 3600000);
  ms_config_free(cfg);
}

static void test_margin__dynamic_ratio_steps_up_to_the_cap(void **state) {
  (void)state;
  ms_margin *m = make("market: {initial_price: 100}\n"
                      "margin: {model: dynamic, dynamic: {k: 3, half_life: 1m, update_every: 1m, "
                      "liquidation_horizon: 1h, floor: 0.01, cap: 0.12, max_step: 0.004, initial_vol: 0.5}}");
  double h = 3600.0 / (365.0 * 86400.0);
  assert_true(fabs(ms_margin_ratio(m) - 3 * 0.5 * sqrt(h)) < 1e-15); /* 0.016, above the floor */
  double P = 100, prev = ms_margin_ratio(m);
  int ups = 0, capped = 0;
  for (int i = 0; i < 60; i++) {
    P *= i % 2 ? 1.02 : 0.98; /* 2% a minute: annualised vol ~ 14 */
    ms_margin_update(m, P, (int64_t)(i + 1) * 60000);
    double r = ms_margin_ratio(m);
    assert_true(r - prev <= 0.004 + 1e-15);
    assert_true(r <= 0.12 + 1e-15);
    ups += r > prev;
    capped += r == 0.12;
    prev = r;
  }
  assert_true(ups >= 26 && capped > 0); /* (0.12 - 0.016) / 0.004 = 26 steps to the cap */
  assert_true(fabs(ms_margin_perp_im(m, 1, 100) - 0.12 * 2 * 100) < 1e-9); /* initial = 2 x maintenance */
  ms_margin_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_margin__tiered_amounts_match_binance),
      cmocka_unit_test(test_margin__thresholds_are_roots),
      cmocka_unit_test(test_margin__keys_order_thresholds),
      cmocka_unit_test(test_margin__portfolio_hedge_needs_less),
      cmocka_unit_test(test_margin__short_strangle_is_its_worst_grid_loss),
      cmocka_unit_test(test_margin__span_extremes_weigh_35_percent),
      cmocka_unit_test(test_margin__bands_are_safe),
      cmocka_unit_test(test_margin__portfolio_equals_the_whole_grid),
      cmocka_unit_test(test_margin__portfolio_pruning_changes_no_bit),
      cmocka_unit_test(test_margin__remembered_leg_values_are_fresh),
      cmocka_unit_test(test_margin__paradex_protective_put_is_its_24_rows),
      cmocka_unit_test(test_margin__paradex_short_strangle_has_no_floor),
      cmocka_unit_test(test_margin__paradex_minimum_delta_example),
      cmocka_unit_test(test_margin__derive_pmrm2_with_contingencies),
      cmocka_unit_test(test_margin__every_tail_row_decides_somewhere),
      cmocka_unit_test(test_margin__every_preset_on_three_positions),
      cmocka_unit_test(test_margin__span_short_option_minimum_is_a_floor),
      cmocka_unit_test(test_margin__finest_grid_fits),
      cmocka_unit_test(test_margin__ewma_follows_the_hand_sequence),
      cmocka_unit_test(test_margin__window_follows_the_hand_sequence),
      cmocka_unit_test(test_margin__ewma_memory_is_in_time_not_updates),
      cmocka_unit_test(test_margin__lambda_is_retired_with_its_replacement),
      cmocka_unit_test(test_margin__dynamic_ratio_steps_up_to_the_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
