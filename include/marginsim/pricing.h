/*
 * pricing — Black–Scholes values and Greeks of European options.
 *
 * Generalised Black–Scholes with rate r and continuous yield q (cost of
 * carry r - q); the simulator prices options on a perpetual's price with
 * r = q = 0 (a futures-style underlying). Time in years, volatility
 * annualised. N(x) is computed from erfc, and the out-of-the-money side is
 * priced directly with the in-the-money side from put–call parity, so deep
 * in- and out-of-the-money values keep their relative precision; at expiry
 * (or zero volatility) the value is the discounted intrinsic value.
 */
#ifndef MARGINSIM_PRICING_H
#define MARGINSIM_PRICING_H

typedef struct ms_greeks {
  double value;   /* per unit of underlying */
  double delta;   /* dV/dS */
  double gamma;   /* d2V/dS2 */
  double vega;    /* dV/dsigma, per 1.00 of volatility */
  double theta;   /* dV/dt, per year of calendar time (negative for a long option's decay) */
} ms_greeks;

/** Standard normal distribution function, accurate in both tails. */
double ms_norm_cdf(double x);

/** Value of a call (@p is_call) or put. */
double ms_bs_value(int is_call, double S, double K, double tau, double sigma, double r, double q);

/** Value and Greeks. */
void ms_bs_greeks(int is_call, double S, double K, double tau, double sigma, double r, double q,
                  ms_greeks *g);

/** Strike whose option has |delta| = @p delta (r = q = 0), from the volatility @p sigma. */
double ms_bs_strike_for_delta(int is_call, double S, double tau, double sigma, double delta);

#endif
