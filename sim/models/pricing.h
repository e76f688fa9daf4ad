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

#include <math.h>
#include <stdint.h>

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

/** Value with r = q = 0 when ln(S/K) is at hand (@p lnSK). */
double ms_bs_value_lm(int is_call, double S, double K, double lnSK, double tau, double sigma);

/** Value and Greeks. */
void ms_bs_greeks(int is_call, double S, double K, double tau, double sigma, double r, double q,
                  ms_greeks *g);

/** Strike whose option has |delta| = @p delta (r = q = 0), from the volatility @p sigma. */
double ms_bs_strike_for_delta(int is_call, double S, double tau, double sigma, double delta);

/* ---- option legs of an account (r = q = 0) ---- */

#define MS_MAX_LEGS 2

typedef struct ms_leg {
  int32_t is_call;
  int32_t pad;
  double strike;       /* USD */
  int64_t expiry;      /* ms since the start */
  double q;            /* signed units of underlying: > 0 long, < 0 short */
  double v0;           /* USD per unit paid (long) or received (short) at entry */
} ms_leg;

/** The implied-volatility smile: IV = vol x max(floor, 1 + skew ln(K / S)). */
typedef struct ms_smile {
  double skew, floor;
} ms_smile;

static inline double ms_smile_vol(const ms_smile *sm, double vol, double K, double S) {
  if (sm->skew == 0) return vol;
  double f = 1.0 + sm->skew * log(K / S);
  return vol * (f > sm->floor ? f : sm->floor);
}

/** Value per unit of a leg at underlying @p S, @p tau years before expiry, regime vol @p vol. */
double ms_leg_value(const ms_leg *l, const ms_smile *sm, double S, double tau, double vol);

/** Payoff per unit at expiry. */
static inline double ms_leg_payoff(const ms_leg *l, double S) {
  double d = l->is_call ? S - l->strike : l->strike - S;
  return d > 0 ? d : 0.0;
}

#endif
