/*
 * test_funding — the rates of funding payments (sim/models/funding.c):
 *
 *  - each venue preset's formula against the rate computed by hand
 *    (Binance's and Hyperliquid's P + clamp(I - P, +/-0.05%), dYdX's
 *    P + I; the scaling by interval / rate_period; the cap);
 *  - the premium an interval averages against a brute-force replay of the
 *    same fills: every sample of the interval evaluated from the flow at its
 *    time, with the fills at a sample's own time seen by it;
 *  - the exogenous Ornstein–Uhlenbeck premium: the time-average over an
 *    interval and the value at its end against their closed-form means,
 *    variances and covariance (started from the stationary law), within
 *    five standard errors of the Monte Carlo; and the small-interval series
 *    against the direct form where both hold;
 *  - bad input between keys (premium.regimes against market.regimes, the
 *    samples of an interval, sample_every against interval, interval against
 *    rate_period): each message names its key and both values.
 */
#include <math.h>

#include "core/rng.h"
#include "models/funding.h"
#include "models/market.h"
#include "testutil.h"

static ms_config *open_cfg(const char *funding) {
  char y[512];
  snprintf(y, sizeof y,
           "horizon: 2d\nmarket: {initial_price: 1000, impact: {model: sqrt, depth: 1e6, half_life: 2m}}\n"
           "funding: %s\n", funding);
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  if (!cfg) fail_msg("%s\n%s", err.msg, y);
  return cfg;
}

#define REL(a, b) (fabs((a) - (b)) <= 1e-14 * fabs(b) + 1e-300)

static void test_funding__presets_follow_the_venues_formulas(void **state) {
  (void)state;
  static const struct {
    const char *yaml;
    double P, want;
  } cases[] = {
      /* Binance: 8 h, 0.01% interest, +/-0.05% dampener, cap 0.40% */
      {"{enabled: true}", 0.00005, 0.0001},                 /* |I - P| < 0.05%: the interest */
      {"{enabled: true}", 0.002, 0.002 - 0.0005},           /* P - 0.05% */
      {"{enabled: true}", -0.001, -0.001 + 0.0005},         /* P + 0.05% */
      {"{enabled: true}", 0.02, 0.004},                     /* capped */
      {"{enabled: true}", -0.02, -0.004},
      /* Hyperliquid: an 8-hour rate paid hourly at one eighth, capped at 4% an hour */
      {"{enabled: true, preset: hyperliquid}", 0.001, (0.001 - 0.0005) / 8},
      {"{enabled: true, preset: hyperliquid}", 0.0001, 0.0001 / 8},
      {"{enabled: true, preset: hyperliquid}", 0.9, 0.04},
      /* dYdX: premium + interest, an 8-hour rate paid hourly, clamped to 600% x (5% - 3%) / 8 */
      {"{enabled: true, preset: dydx}", 0.001, (0.001 + 0.0001) / 8},
      {"{enabled: true, preset: dydx}", 0.5, 0.015},
      {"{enabled: true, preset: dydx, cap: 0}", 0.5, (0.5 + 0.0001) / 8},
      /* explicit keys win over the preset */
      {"{enabled: true, preset: hyperliquid, cap: 0.01, interval: 2h}", 0.9, 0.01},
      {"{enabled: true, preset: dydx, interest: 0}", -0.003, -0.003 / 8},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ms_config *cfg = open_cfg(cases[i].yaml);
    double r = ms_funding_rate(&cfg->funding, cases[i].P);
    if (!REL(r, cases[i].want))
      fail_msg("%s at P = %g: rate %.17g, want %.17g", cases[i].yaml, cases[i].P, r, cases[i].want);
    ms_config_free(cfg);
  }
}

/* The premium an interval averages, by brute force: every sample time of
 * the interval with the fills up to and including that time applied to a
 * market of its own. */
static void test_funding__premium_averages_every_sample_of_the_interval(void **state) {
  (void)state;
  ms_config *cfg = open_cfg("{enabled: true, interval: 1h, sample_every: 5s}");
  ms_error err;
  ms_market *mk = NULL, *ref = NULL;
  assert_ok(ms_market_new(&mk, cfg, &err), &err);
  assert_ok(ms_market_new(&ref, cfg, &err), &err);
  ms_funding *f = NULL;
  assert_ok(ms_funding_new(&f, cfg, &err), &err);
  ms_funding_start(f, 1, 0, 0);
  /* fills at random times, some exactly on a sample, some at the payment, two at one instant */
  int64_t ft[64];
  double fq[64];
  int nf = 0;
  uint64_t x = 99;
  for (int64_t t = 0; t < 2 * 3600000 && nf < 60;) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t gap = (int64_t)((x >> 33) % 400000);
    t += (nf % 7 == 3) ? 5000 - t % 5000 : gap; /* on a sample time now and then */
    if (nf == 20) t = 3600000;                  /* at the first payment */
    ft[nf] = t;
    fq[nf] = ((x >> 20) % 2 ? 1.0 : -1.0) * (double)((x >> 40) % 5000000);
    nf++;
    if (nf == 21) { ft[nf] = t; fq[nf] = -3e6; nf++; } /* a second fill at the same instant */
  }
  int k = 0, kr = 0;
  for (int pay = 1; pay <= 2; pay++) {
    int64_t T = pay * 3600000;
    assert_int_equal(ms_funding_next(f), T);
    while (k < nf && ft[k] <= T) { /* fills up to and including the payment's instant come before it */
      ms_funding_accrue(f, mk, ft[k]);
      ms_market_fill(mk, ft[k], fq[k]);
      k++;
    }
    ms_funding_pay p;
    ms_funding_settle(f, mk, &p);
    double sum = 0;
    for (int64_t s = T - 3600000 + 5000; s <= T; s += 5000) {
      while (kr < nf && ft[kr] <= s) { ms_market_fill(ref, ft[kr], fq[kr]); kr++; }
      sum += expm1(ms_market_impact_at(ref, s));
    }
    double want = sum / 720.0;
    if (!REL(p.premium, want)) fail_msg("payment %d: premium %.17g, brute force %.17g", pay, p.premium, want);
    assert_true(fabs(want) > 1e-4); /* the fills moved it */
    assert_true(REL(p.rate, ms_funding_rate(&cfg->funding, want)));
  }
  ms_funding_free(f);
  ms_market_free(mk);
  ms_market_free(ref);
  ms_config_free(cfg);
}

static void test_funding__ou_average_matches_its_closed_form(void **state) {
  (void)state;
  ms_premium_cfg p = {.mean = 0.001, .sd = 0.002, .half_life = 4 * 3600000};
  const double hs[] = {3600000.0, 8 * 3600000.0, 60000.0};
  gsl_rng *r = NULL;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  ms_rng_seed(r, 7, 0, 1);
  const int N = 200000;
  for (size_t j = 0; j < sizeof hs / sizeof hs[0]; j++) {
    double h = hs[j], k = log(2.0) / (double)p.half_life, x = k * h, b = -expm1(-x), s2 = p.sd * p.sd;
    double want_var_avg = 2.0 * s2 / (x * x) * (x - b); /* stationary OU: Var of the time-average */
    double want_cov = s2 * b / x;                       /* Cov(X_h, average) */
    double m1 = 0, m2 = 0, e1 = 0, e2 = 0, c = 0;
    for (int i = 0; i < N; i++) {
      double x0 = p.mean + p.sd * ms_rng_gaussian(r), x1, avg;
      ms_funding_ou_step(&p, p.mean, x0, h, ms_rng_gaussian(r), ms_rng_gaussian(r), &x1, &avg);
      m1 += avg; m2 += avg * avg; e1 += x1; e2 += x1 * x1; c += avg * x1;
    }
    m1 /= N; m2 = m2 / N - m1 * m1; e1 /= N; e2 = e2 / N - e1 * e1; c = c / N - m1 * e1;
    double se_mean = sqrt(want_var_avg / N), se_var = want_var_avg * sqrt(2.0 / N);
    print_message("h = %.0f s: mean %.6g (want %.6g), var %.6g (want %.6g), end var %.6g (want %.6g), cov %.6g "
                  "(want %.6g)\n", h / 1000, m1, p.mean, m2, want_var_avg, e2, s2, c, want_cov);
    assert_true(fabs(m1 - p.mean) < 5 * se_mean);
    assert_true(fabs(m2 - want_var_avg) < 5 * se_var);
    assert_true(fabs(e2 - s2) < 5 * s2 * sqrt(2.0 / N));
    /* Var of a sample covariance of a bivariate normal: (s_xy^2 + s_x^2 s_y^2) / N */
    assert_true(fabs(c - want_cov) < 5 * sqrt((want_cov * want_cov + s2 * want_var_avg) / N));
  }
  ms_rng_free(r);
}

/* The variance of the average's own noise, from the step's two loadings. */
static double noise_var(const ms_premium_cfg *p, double h) {
  double x1, a1, x0, a0, a2;
  ms_funding_ou_step(p, p->mean, p->mean, h, 0, 0, &x0, &a0);
  ms_funding_ou_step(p, p->mean, p->mean, h, 1, 0, &x1, &a1);
  ms_funding_ou_step(p, p->mean, p->mean, h, 0, 1, &x1, &a2);
  return (a1 - a0) * (a1 - a0) + (a2 - a0) * (a2 - a0);
}

static void test_funding__ou_series_agrees_with_the_direct_form(void **state) {
  (void)state;
  ms_premium_cfg p = {.mean = 0, .sd = 1, .half_life = 1000000};
  double k = log(2.0) / 1e6;
  /* just below and above the switch at k h = 0.05: continuous to 1e-12 */
  double lo = noise_var(&p, 0.05 * (1 - 1e-12) / k), hi = noise_var(&p, 0.05 * (1 + 1e-12) / k);
  assert_true(fabs(lo - hi) < 1e-11 * hi);
  /* tiny intervals: Var -> 2 s^2 x / 3, where the direct form loses every digit */
  for (double x = 1e-3; x > 1e-9; x /= 10) {
    double v = noise_var(&p, x / k), want = 2.0 * x / 3.0 * (1 - 0.75 * x);
    if (!(fabs(v - want) < 1e-6 * want)) fail_msg("x = %g: var %.17g, want %.17g", x, v, want);
  }
}

/* premium.regimes: the premium reverts to the current regime's mean. With
 * no noise, a switch from mean m0 to m1 at ts inside the first interval
 * gives that interval m0 ts + m1 (I - ts) + (m0 - m1)(1 - e^(-k (I - ts))) / k
 * over I, and the next one the relaxation from where the first ended. */
static ms_config *open_regimes(const char *premium) {
  char y[640];
  snprintf(y, sizeof y,
           "horizon: 2d\nmarket: {initial_price: 1000, impact: {model: none}, regimes: [{name: a, vol: 0.5}, "
           "{name: b, vol: 1}]}\nfunding: {enabled: true, interval: 8h, cap: 0, formula: sum, interest: 0, "
           "premium: %s}\n", premium);
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  if (!cfg) fail_msg("%s\n%s", err.msg, y);
  return cfg;
}

static void test_funding__premium_follows_the_regime(void **state) {
  (void)state;
  ms_config *cfg = open_regimes("{half_life: 2h, regimes: [{mean: 0.004}, {mean: -0.002}]}");
  ms_error err;
  ms_market *mk = NULL;
  ms_funding *f = NULL;
  assert_ok(ms_market_new(&mk, cfg, &err), &err);
  assert_ok(ms_funding_new(&f, cfg, &err), &err);
  const double I = 8 * 3600000.0, ts = 3 * 3600000.0, m0 = 0.004, m1 = -0.002, k = log(2.0) / 7200000.0;
  ms_funding_start(f, 1, 0, 0);
  ms_funding_regime(f, (int64_t)ts, 1);
  ms_funding_pay p;
  ms_funding_settle(f, mk, &p);
  double want1 = (m0 * ts + m1 * (I - ts) + (m0 - m1) * -expm1(-k * (I - ts)) / k) / I;
  if (!(fabs(p.premium - want1) < 1e-15)) fail_msg("first interval %.17g, want %.17g", p.premium, want1);
  double xT = m1 + (m0 - m1) * exp(-k * (I - ts)), want2 = m1 + (xT - m1) * -expm1(-k * I) / (k * I);
  ms_funding_settle(f, mk, &p);
  if (!(fabs(p.premium - want2) < 1e-15)) fail_msg("second interval %.17g, want %.17g", p.premium, want2);
  assert_true(REL(p.rate, p.premium)); /* formula sum, no interest, no cap, interval = rate_period */
  ms_funding_free(f);
  ms_market_free(mk);
  ms_config_free(cfg);
}

/* With noise, the pieces add up to the one-span law: switches between two
 * regimes of the same mean leave the interval's average distributed as
 * without them (the stationary variance 2 s^2 (x - 1 + e^-x) / x^2, x = k I). */
static void test_funding__regime_pieces_keep_the_law(void **state) {
  (void)state;
  ms_config *cfg = open_regimes("{sd: 0.001, half_life: 4h, regimes: [{mean: 0.001}, {mean: 0.001}]}");
  ms_error err;
  ms_market *mk = NULL;
  ms_funding *f = NULL;
  assert_ok(ms_market_new(&mk, cfg, &err), &err);
  assert_ok(ms_funding_new(&f, cfg, &err), &err);
  const int N = 40000;
  double m1 = 0, m2 = 0;
  for (int i = 0; i < N; i++) {
    ms_funding_start(f, 3, (uint64_t)i, 0);
    ms_funding_regime(f, 3600000, 1);
    ms_funding_regime(f, 2 * 3600000 + 17, 0);
    ms_funding_regime(f, 5 * 3600000, 1);
    ms_funding_pay p;
    ms_funding_settle(f, mk, &p);
    m1 += p.premium;
    m2 += p.premium * p.premium;
  }
  m1 /= N;
  m2 = m2 / N - m1 * m1;
  double x = log(2.0) / (4 * 3600000.0) * 8 * 3600000.0, want = 2e-6 * (x + expm1(-x)) / (x * x);
  print_message("mean %.6g (want 0.001), var %.6g (want %.6g)\n", m1, m2, want);
  assert_true(fabs(m1 - 0.001) < 5 * sqrt(want / N));
  assert_true(fabs(m2 - want) < 5 * want * sqrt(2.0 / N));
  ms_funding_free(f);
  ms_market_free(mk);
  ms_config_free(cfg);
}

static void test_funding__bad_input_between_keys(void **state) {
  (void)state;
  ms_error err;
  const char *bad[][2] = {
      {"horizon: 1d\nmarket: {regimes: [{name: a, vol: 0.5}, {name: b, vol: 1}]}\n"
       "funding: {premium: {regimes: [{mean: 0.001}]}}\n", "has 1 entries; market.regimes has 2"},
      {"horizon: 1d\nmarket: {model: garch}\nfunding: {premium: {regimes: [{mean: 0.001}]}}\n",
       "needs market.model regime_switching"},
  };
  /* the bounds between keys: each message names the key, its value and the other key's */
  const char *cross[][3] = {
      {"funding: {interval: 9e15ms}\n", "funding.sample_every", "is 5s: more than 100000000 samples an interval "
       "(2500000000h); sample less often or shorten interval"},
      {"funding: {interval: 2d, sample_every: 1ms, rate_period: 1d}\n", "funding.sample_every",
       "is 1ms: more than 100000000 samples an interval (2d)"},
      {"funding: {interval: 1h, sample_every: 2h}\n", "funding.sample_every", "must be <= interval (1h) (got 2h)"},
      {"funding: {interval: 1d, rate_period: 59m}\n", "funding.interval", "more than 24 x rate_period (59m)"},
  };
  for (size_t i = 0; i < sizeof cross / sizeof cross[0]; i++) {
    ms_config *cfg = load_yaml(cross[i][0], NULL, 0, &err);
    assert_null(cfg);
    if (!strstr(err.msg, cross[i][1]) || !strstr(err.msg, cross[i][2])) fail_msg("%s: got '%s'", cross[i][0], err.msg);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ms_config *cfg = load_yaml(bad[i][0], NULL, 0, &err);
    assert_null(cfg);
    if (!strstr(err.msg, bad[i][1]) || !strstr(err.msg, "funding.premium.regimes"))
      fail_msg("%s: got '%s'", bad[i][1], err.msg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_funding__presets_follow_the_venues_formulas),
      cmocka_unit_test(test_funding__premium_averages_every_sample_of_the_interval),
      cmocka_unit_test(test_funding__ou_average_matches_its_closed_form),
      cmocka_unit_test(test_funding__ou_series_agrees_with_the_direct_form),
      cmocka_unit_test(test_funding__premium_follows_the_regime),
      cmocka_unit_test(test_funding__regime_pieces_keep_the_law),
      cmocka_unit_test(test_funding__bad_input_between_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
