/*
 * test_pricing — Black–Scholes against published values, put–call parity,
 * Greeks against finite differences, and the extremes.
 *
 * Published values (r, q as stated; q is a continuous yield, q = 0 when the
 * case says no dividends):
 *  - Hull, Options, Futures and Other Derivatives, 8th ed., Example 15.6:
 *    S 42, K 40, r 10%, sigma 20%, T 0.5, no dividends: call 4.76, put 0.81.
 *  - Haug, The Complete Guide to Option Pricing Formulas, 2nd ed., 1.1.1:
 *    S 60, K 65, T 0.25, r 8%, sigma 30%, no dividends: call 2.1334.
 *  - Haug 1.1.2 (Merton, continuous yield): S 100, K 95, T 0.5, r 10%,
 *    q 5%, sigma 20%: put 2.4648.
 *  - Haug 1.1.6 (generalised, b = r - q = 5%): S 75, K 70, T 0.5, r 10%,
 *    q 5%, sigma 35%: put 4.0870.
 *  - Haug 1.1.3 (Black-76 as q = r): F 19, K 19, T 0.75, r 10%, sigma 28%:
 *    call = put = 1.7011.
 *  - Hull, Table 19.x hedging example: S 49, K 50, r 5%, sigma 20%,
 *    T 20 weeks (0.3846), no dividends: call 2.40.
 */
#include <float.h>
#include <gsl/gsl_sf_erf.h>
#include <math.h>

#include "models/pricing.h"
#include "testutil.h"

static void near(double got, double want, double tol, const char *what) {
  if (fabs(got - want) > tol) fail_msg("%s: %.6f, published %.6f", what, got, want);
}

static void test_pricing__published_values(void **state) {
  (void)state;
  near(ms_bs_value(1, 42, 40, 0.5, 0.2, 0.1, 0), 4.76, 0.005, "Hull 15.6 call");
  near(ms_bs_value(0, 42, 40, 0.5, 0.2, 0.1, 0), 0.81, 0.005, "Hull 15.6 put");
  near(ms_bs_value(1, 60, 65, 0.25, 0.3, 0.08, 0), 2.1334, 5e-5, "Haug 1.1.1 call");
  near(ms_bs_value(0, 100, 95, 0.5, 0.2, 0.1, 0.05), 2.4648, 5e-5, "Haug 1.1.2 put");
  near(ms_bs_value(0, 75, 70, 0.5, 0.35, 0.1, 0.05), 4.0870, 5e-5, "Haug 1.1.6 put");
  near(ms_bs_value(1, 19, 19, 0.75, 0.28, 0.1, 0.1), 1.7011, 5e-5, "Haug 1.1.3 call");
  near(ms_bs_value(0, 19, 19, 0.75, 0.28, 0.1, 0.1), 1.7011, 5e-5, "Haug 1.1.3 put");
  near(ms_bs_value(1, 49, 50, 20.0 / 52.0, 0.2, 0.05, 0), 2.40, 0.005, "Hull 19 call");
}

static void test_pricing__put_call_parity(void **state) {
  (void)state;
  uint64_t x = 3;
  for (int i = 0; i < 20000; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    double u1 = (double)(x >> 11) * 0x1.0p-53;
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    double u2 = (double)(x >> 11) * 0x1.0p-53;
    double S = 100, K = 100 * exp(3 * (u1 - 0.5)), tau = 1e-4 + 2 * u2, sigma = 0.05 + 2.5 * u1 * u2;
    double r = 0.03 * u2, q = 0.02 * u1;
    double c = ms_bs_value(1, S, K, tau, sigma, r, q), p = ms_bs_value(0, S, K, tau, sigma, r, q);
    double parity = S * exp(-q * tau) - K * exp(-r * tau);
    if (fabs(c - p - parity) > 1e-10 * (S + K)) fail_msg("parity: C - P = %.15g, want %.15g", c - p, parity);
    assert_true(c >= 0 && p >= 0);
  }
}

static void test_pricing__greeks_match_finite_differences(void **state) {
  (void)state;
  const double cases[][5] = {{100, 100, 0.5, 0.6, 0}, {2000, 2400, 0.08, 1.2, 0}, {2000, 1500, 0.02, 0.8, 0},
                             {42, 40, 0.5, 0.2, 0.1}, {60000, 60000, 1.0 / 365, 0.5, 0}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    double S = cases[c][0], K = cases[c][1], T = cases[c][2], v = cases[c][3], r = cases[c][4];
    for (int call = 0; call < 2; call++) {
      ms_greeks g;
      ms_bs_greeks(call, S, K, T, v, r, 0, &g);
      double hS = 1e-4 * S, hv = 1e-5, hT = 1e-6 * T;
      double fd_delta = (ms_bs_value(call, S + hS, K, T, v, r, 0) - ms_bs_value(call, S - hS, K, T, v, r, 0)) / (2 * hS);
      double fd_gamma = (ms_bs_value(call, S + hS, K, T, v, r, 0) - 2 * g.value + ms_bs_value(call, S - hS, K, T, v, r, 0)) / (hS * hS);
      double fd_vega = (ms_bs_value(call, S, K, T, v + hv, r, 0) - ms_bs_value(call, S, K, T, v - hv, r, 0)) / (2 * hv);
      /* theta is d/dt at fixed expiry: minus d/dT */
      double fd_theta = -(ms_bs_value(call, S, K, T + hT, v, r, 0) - ms_bs_value(call, S, K, T - hT, v, r, 0)) / (2 * hT);
      double sc = g.value + S * 1e-6;
      if (fabs(g.delta - fd_delta) > 1e-6) fail_msg("case %zu call %d delta %.9g vs %.9g", c, call, g.delta, fd_delta);
      if (fabs(g.gamma - fd_gamma) > 1e-4 * (fabs(g.gamma) + 1e-8)) fail_msg("case %zu gamma %.9g vs %.9g", c, g.gamma, fd_gamma);
      if (fabs(g.vega - fd_vega) > 1e-6 * (sc + fabs(g.vega))) fail_msg("case %zu vega %.9g vs %.9g", c, g.vega, fd_vega);
      if (fabs(g.theta - fd_theta) > 1e-5 * (fabs(g.theta) + sc)) fail_msg("case %zu theta %.9g vs %.9g", c, g.theta, fd_theta);
    }
  }
}

static void test_pricing__extremes_are_stable(void **state) {
  (void)state;
  /* deep out of the money: tiny but positive and decreasing; deep in: intrinsic + tiny */
  double prev = 1;
  for (double K = 200; K <= 2000; K += 100) {
    double c = ms_bs_value(1, 100, K, 0.25, 0.5, 0, 0);
    assert_true(c >= 0 && c <= prev);
    prev = c;
  }
  double far = ms_bs_value(1, 100, 400, 0.25, 0.5, 0, 0); /* ~1e-8: relative precision kept */
  assert_true(far > 0 && far < 1e-5);
  double deep = ms_bs_value(1, 400, 100, 0.25, 0.5, 0, 0);
  assert_true(deep >= 300 && deep - 300 < 1e-5);
  double deep_put = ms_bs_value(0, 100, 400, 0.25, 0.5, 0, 0);
  assert_true(deep_put >= 300 && fabs(deep_put - 300 - far) < 1e-9); /* parity, no cancellation loss */
  /* near expiry: converges to intrinsic */
  assert_true(fabs(ms_bs_value(1, 105, 100, 1e-12, 0.8, 0, 0) - 5) < 1e-9);
  assert_true(ms_bs_value(1, 95, 100, 1e-12, 0.8, 0, 0) < 1e-12);
  assert_true(ms_bs_value(0, 95, 100, 0, 0.8, 0, 0) == 5);
  ms_greeks g;
  ms_bs_greeks(1, 105, 100, 0, 0.8, 0, 0, &g);
  assert_true(g.delta == 1 && g.gamma == 0 && g.value == 5);
  /* far tail of N */
  assert_true(ms_norm_cdf(-37) > 5e-300 && ms_norm_cdf(-37) < 6e-300); /* 5.725e-300 */
  assert_true(fabs(ms_norm_cdf(-5) - 2.866515718791939e-07) < 1e-20);
  /* strike for delta */
  double K = ms_bs_strike_for_delta(1, 2000, 7.0 / 365, 0.7, 0.25);
  ms_bs_greeks(1, 2000, K, 7.0 / 365, 0.7, 0, 0, &g);
  assert_true(fabs(g.delta - 0.25) < 1e-12);
  K = ms_bs_strike_for_delta(0, 2000, 7.0 / 365, 0.7, 0.25);
  ms_bs_greeks(0, 2000, K, 7.0 / 365, 0.7, 0, 0, &g);
  assert_true(fabs(g.delta + 0.25) < 1e-12);
}

static void test_pricing__normal_cdf_agrees_with_gsl(void **state) {
  (void)state;
  /* N(x) comes from libm's erfc for speed; GSL's special function is the
   * reference. Both round the argument x / sqrt(2) (relative error up to
   * 2 ulps between them), and erfc(z) turns a relative change e of z into a
   * relative change 2 z^2 e = x^2 e of its value: the tolerance is that plus
   * a few ulps of the functions themselves. */
  double worst = 0;
  for (double x = -37.5; x <= 8.5; x += 0.001) {
    double want = 0.5 * gsl_sf_erfc(-x / sqrt(2.0)), got = ms_norm_cdf(x);
    double rel = fabs(got - want) / want, tol = (x * x + 4) * 2 * DBL_EPSILON;
    if (rel > tol) fail_msg("N(%g): %.17g, GSL %.17g", x, got, want);
    if (rel / tol > worst) worst = rel / tol;
  }
  print_message("largest difference from GSL: %.2f of the tolerance\n", worst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pricing__published_values),
      cmocka_unit_test(test_pricing__put_call_parity),
      cmocka_unit_test(test_pricing__greeks_match_finite_differences),
      cmocka_unit_test(test_pricing__extremes_are_stable),
      cmocka_unit_test(test_pricing__normal_cdf_agrees_with_gsl),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
