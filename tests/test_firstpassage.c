/*
 * test_firstpassage — with no latency, no keeper delay and no impact, an
 * account is liquidated in a path iff the price at some tick is below its
 * liquidation price: the fraction of paths that liquidate a fixed-leverage
 * long must match the first-passage probability of GBM monitored at the
 * ticks. Closed form for continuous monitoring of X = nu t + sigma W below
 * b < 0 by T:
 *     P = Phi((b - nu T)/(sigma sqrt T)) + exp(2 nu b / sigma^2) Phi((b + nu T)/(sigma sqrt T)),
 * with the Broadie–Glasserman–Kou continuity correction for monitoring every
 * dt: b -> b - beta sigma sqrt(dt), beta = -zeta(1/2)/sqrt(2 pi) ~= 0.5826
 * (Math. Finance 7, 1997). Tolerance: 4 binomial standard errors.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>

#include "engine/engine.h"
#include "testutil.h"

#define BGK_BETA 0.5825971579390106

static double hit_prob(double b, double nu, double sigma, double T) {
  double s = sigma * sqrt(T);
  return gsl_cdf_ugaussian_P((b - nu * T) / s) + exp(2 * nu * b / (sigma * sigma)) * gsl_cdf_ugaussian_P((b + nu * T) / s);
}

static void check_leverage(double lev, int64_t n) {
  char y[1024];
  const double vol = 2.0, mm = 0.05, E = 1000, dt_s = 600;
  snprintf(y, sizeof y,
           "horizon: 1d\nstep: 10m\n"
           "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: %g, drift: 0}]}\n"
           "book: {accounts: 1, collateral: 1000, leverage: %g, long_fraction: 1}\n"
           "margin: {initial: 0.1, maintenance: %g}\n"
           "oracle: {kind: pull, interval: 10m, latency: 0s}\n"
           "keepers: {delay: 0s}\n", vol, lev, mm);
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  ms_book *book;
  struct ms_index_static *idx;
  ms_engine *e;
  assert_ok(ms_engine_shared_new(cfg, &book, &idx, &err), &err);
  assert_ok(ms_engine_new(&e, cfg, book, idx, &err), &err);
  int64_t hits = 0;
  for (int64_t p = 0; p < n; p++) {
    ms_path_summary s;
    assert_ok(ms_engine_run_path(e, (uint64_t)p, &s, NULL, &err), &err);
    hits += s.liquidations > 0;
  }
  double year = 365.0 * 86400.0, T = 86400.0 / year, dt = dt_s / year;
  double liq = (E - E / lev) / (1 - mm); /* static long liquidation price */
  double b = log(liq / E), nu = -0.5 * vol * vol;
  double p_bgk = hit_prob(b - BGK_BETA * vol * sqrt(dt), nu, vol, T);
  double p_cont = hit_prob(b, nu, vol, T);
  double phat = (double)hits / (double)n, se = sqrt(p_bgk * (1 - p_bgk) / (double)n);
  print_message("leverage %g: barrier %.2f%%, liquidated in %.4f of %lld paths; BGK %.4f (se %.4f), "
                "continuous %.4f\n", lev, 100 * (liq / E - 1), phat, (long long)n, p_bgk, se, p_cont);
  if (fabs(phat - p_bgk) > 4 * se) fail_msg("leverage %g: %.4f vs BGK %.4f", lev, phat, p_bgk);
  ms_engine_free(e);
  ms_engine_shared_free(book, idx);
  ms_config_free(cfg);
}

static void test_firstpassage__liquidated_fraction_matches_bgk(void **state) {
  (void)state;
  check_leverage(10, 6000);
  check_leverage(6, 6000);
  check_leverage(4, 6000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_firstpassage__liquidated_fraction_matches_bgk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
