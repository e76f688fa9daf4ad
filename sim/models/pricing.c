/*
 * pricing — Black–Scholes (see pricing.h).
 *
 * d1 = (ln(S/K) + (r - q + sigma^2/2) tau) / (sigma sqrt(tau)), d2 = d1 - sigma sqrt(tau)
 * call = S e^{-q tau} N(d1) - K e^{-r tau} N(d2)
 * put  = K e^{-r tau} N(-d2) - S e^{-q tau} N(-d1)
 * Whichever of the two is out of the money is computed from this formula
 * (a difference of two small numbers, each precise); the other from parity,
 * call - put = S e^{-q tau} - K e^{-r tau}, which adds a small number to an
 * exact one instead of subtracting two numbers close to 1.
 */
#include "models/pricing.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

#define INV_SQRT_2PI 0.39894228040143267794
#define SQRT1_2 0.70710678118654752440

/* libm's erfc: accurate to about an ulp over the whole line, and cheaper than
 * GSL's (the portfolio grid calls it tens of times per revaluation). */
double ms_norm_cdf(double x) { return 0.5 * erfc(-x * SQRT1_2); }

static double npdf(double x) { return INV_SQRT_2PI * exp(-0.5 * x * x); }

/* Intrinsic (discounted) value when no time or volatility is left. */
static int degenerate(double tau, double sigma) { return !(tau > 0) || !(sigma > 0) || sigma * sigma * tau < 1e-300; }

double ms_bs_value(int is_call, double S, double K, double tau, double sigma, double r, double q) {
  double dq = q == 0 ? 1.0 : exp(-q * (tau > 0 ? tau : 0)), dr = r == 0 ? 1.0 : exp(-r * (tau > 0 ? tau : 0));
  double F = S * dq, Kd = K * dr; /* forward-discounted spot and strike */
  if (degenerate(tau, sigma)) return is_call ? fmax(F - Kd, 0.0) : fmax(Kd - F, 0.0);
  double sv = sigma * sqrt(tau);
  double d1 = (log(F / Kd) + 0.5 * sv * sv) / sv, d2 = d1 - sv;
  /* price the out-of-the-money side, get the other by parity */
  int call_otm = F < Kd;
  double otm = call_otm ? F * ms_norm_cdf(d1) - Kd * ms_norm_cdf(d2)
                        : Kd * ms_norm_cdf(-d2) - F * ms_norm_cdf(-d1);
  if (otm < 0) otm = 0;
  if (is_call == call_otm) return otm;
  double v = is_call ? otm + (F - Kd) : otm - (F - Kd);
  return v > 0 ? v : 0;
}

double ms_bs_value_lm(int is_call, double S, double K, double lnSK, double tau, double sigma) {
  if (degenerate(tau, sigma)) return is_call ? fmax(S - K, 0.0) : fmax(K - S, 0.0);
  double sv = sigma * sqrt(tau);
  double d1 = lnSK / sv + 0.5 * sv, d2 = d1 - sv;
  int call_otm = lnSK < 0;
  double otm = call_otm ? S * ms_norm_cdf(d1) - K * ms_norm_cdf(d2) : K * ms_norm_cdf(-d2) - S * ms_norm_cdf(-d1);
  if (otm < 0) otm = 0;
  if (is_call == call_otm) return otm;
  double v = is_call ? otm + (S - K) : otm - (S - K);
  return v > 0 ? v : 0;
}

void ms_bs_greeks(int is_call, double S, double K, double tau, double sigma, double r, double q,
                  ms_greeks *g) {
  g->value = ms_bs_value(is_call, S, K, tau, sigma, r, q);
  if (degenerate(tau, sigma)) {
    double dq = exp(-q * (tau > 0 ? tau : 0)), dr = exp(-r * (tau > 0 ? tau : 0));
    double itm = is_call ? S * dq > K * dr : S * dq < K * dr;
    g->delta = itm ? (is_call ? dq : -dq) : 0.0;
    g->gamma = g->vega = g->theta = 0.0;
    return;
  }
  double st = sqrt(tau), sv = sigma * st, dq = exp(-q * tau), dr = exp(-r * tau);
  double d1 = (log(S / K) + (r - q + 0.5 * sigma * sigma) * tau) / sv, d2 = d1 - sv;
  double pd1 = npdf(d1);
  g->delta = is_call ? dq * ms_norm_cdf(d1) : -dq * ms_norm_cdf(-d1);
  g->gamma = dq * pd1 / (S * sv);
  g->vega = S * dq * pd1 * st;
  double common = -S * dq * pd1 * sigma / (2.0 * st);
  g->theta = is_call ? common + q * S * dq * ms_norm_cdf(d1) - r * K * dr * ms_norm_cdf(d2)
                     : common - q * S * dq * ms_norm_cdf(-d1) + r * K * dr * ms_norm_cdf(-d2);
}

double ms_bs_strike_for_delta(int is_call, double S, double tau, double sigma, double delta) {
  /* call: N(d1) = delta; put: N(d1) - 1 = -delta; K = S exp(sigma^2 tau / 2 - d1 sigma sqrt(tau)) */
  double d1 = gsl_cdf_ugaussian_Pinv(is_call ? delta : 1.0 - delta);
  double sv = sigma * sqrt(tau);
  return S * exp(0.5 * sv * sv - d1 * sv);
}

double ms_leg_value(const ms_leg *l, const ms_smile *sm, double S, double tau, double vol) {
  return ms_bs_value(l->is_call, S, l->strike, tau, ms_smile_vol(sm, vol, l->strike, S), 0.0, 0.0);
}
