/*
 * calibrate — the price models fitted to a series of historical log
 * returns: `marginsim calibrate` (docs/calibration.md).
 *
 * The returns are the log differences of the closes of the candles of an
 * ms_series inside a window, optionally at a coarser resolution (every
 * k-th close). Two models:
 *
 *   - regime_switching: K regimes, r_t | s_t = k ~ N(m_k, s_k^2), s_t a
 *     Markov chain with transition matrix P started from its stationary
 *     distribution. Maximum likelihood by EM (Baum-Welch: scaled forward
 *     filter, backward pass, smoothed probabilities), from several starting
 *     points drawn from the project's generator (deterministic for a seed,
 *     no threads): each runs a few iterations, the best few run on to
 *     convergence, the best log-likelihood is kept; regimes ordered by
 *     volatility, ascending. Variances are floored (a regime that shrinks
 *     onto a few returns would make the likelihood unbounded).
 *   - garch: GARCH(1,1), r_t = mu + e_t, e_t = sigma_t z_t,
 *     sigma_t^2 = omega + alpha e_{t-1}^2 + beta sigma_{t-1}^2,
 *     sigma_1^2 = the sample variance, z normal or Student t with unit
 *     variance. Maximum likelihood by GSL's Nelder-Mead simplex
 *     (nmsimplex2) on unconstrained transforms that keep omega > 0,
 *     alpha, beta >= 0, alpha + beta < 1 and nu > 2.
 *
 * Standard errors come from the observed information: the numerical
 * Hessian of the log-likelihood at the optimum in the natural parameters
 * (per-period m, s, P; mu, omega, alpha, beta, nu), inverted; the
 * annualised quantities get theirs by the delta method. When the Hessian
 * is not negative definite there are none, and the result says so.
 *
 * Units of the output are the scenario's (docs/scenario.md): vol and drift
 * annualised with a year of days_per_year days, drift the mu of dS/S
 * (mu = (m + s^2/2) x periods per year), a mean duration and transition
 * weights those of the continuous-time chain the simulator runs: of the
 * generator Q = log(P) / res (P = exp(Q res)), a duration 1 / -Q_kk.
 *
 * Nothing here prints: the fit is a result struct, and the summary, the
 * `market:` YAML and the regime path are formatted into malloc'd buffers.
 */
#ifndef MARGINSIM_CALIBRATE_H
#define MARGINSIM_CALIBRATE_H

#include <signal.h>
#include <stdint.h>

#include "marginsim/error.h"
#include "core/series.h"

/* Most regimes a fit takes: beyond a handful the likelihood surface is
 * flat and the scenario gains nothing. */
#define MS_CALIB_MAX_REGIMES 6
/* Fewest returns a fit accepts: below it neither model is identified. */
#define MS_CALIB_MIN_RETURNS 50

typedef enum { MS_CALIB_REGIME_SWITCHING = 0, MS_CALIB_GARCH } ms_calib_model;
typedef enum { MS_CALIB_NORMAL = 0, MS_CALIB_T } ms_calib_dist;

/* The returns of a window. */
typedef struct ms_calib_returns {
  double *r;          /* n log returns ln(C_j / C_{j-1}) */
  int64_t *t;         /* n times, ms: the open of the first candle of each return's period */
  int64_t n;          /* number of returns */
  int64_t resolution; /* ms: the period of one return */
  int64_t first;      /* ms: open time of the candle whose close starts the first return */
  int64_t end;        /* ms: close time of the last candle used (the window's end) */
} ms_calib_returns;

/**
 * The log returns of @p s's closes of the candles whose open time is in
 * [@p from, @p to) (INT64_MIN / INT64_MAX: the whole file), every
 * resolution / s->resolution-th close when @p resolution (ms; 0: the
 * file's) is a coarser whole multiple of the file's. A close missing
 * inside the window (a gap the resolution does not skip) is MS_ERR_INPUT
 * naming the time; so are a resolution that is not a whole multiple and
 * fewer than MS_CALIB_MIN_RETURNS returns. Free with ms_calib_returns_free.
 */
ms_status ms_calib_returns_make(ms_calib_returns *out, const ms_series *s, int64_t from, int64_t to,
                                int64_t resolution, ms_error *err);

/** Free the arrays of @p r (the struct itself is the caller's); NULL is a no-op. */
void ms_calib_returns_free(ms_calib_returns *r);

/* What to fit and how. ms_calib_opts_default() gives the documented defaults. */
typedef struct ms_calib_opts {
  ms_calib_model model;
  int regimes;          /* K, 1..MS_CALIB_MAX_REGIMES (regime_switching) */
  int starts;           /* EM starting points (regime_switching), >= 1; default 10 */
  uint64_t seed;        /* of the starting points; default 1 */
  ms_calib_dist dist;   /* innovations (garch); default normal */
  double days_per_year; /* of the annualised outputs; default 365 */
  int explore_iter;     /* EM iterations every start runs; default 50 */
  int finalists;        /* the starts best after those that run on to convergence; default 3 */
  int max_iter;         /* EM iterations of a finalist at most; default 5000 */
  double tol;           /* EM stops when an iteration gains less log-likelihood than tol; default 1e-7 */
  double var_floor;     /* smallest regime variance, as a fraction of the sample variance; default 1e-4 */
  /* non-zero: stop the fit at its next iteration, MS_ERR_CANCELLED; may be NULL (the default) */
  const volatile sig_atomic_t *cancel;
} ms_calib_opts;

void ms_calib_opts_default(ms_calib_opts *o);

/* A K-regime Markov-switching Gaussian model of per-period log returns. */
typedef struct ms_calib_rs {
  int k;                                              /* number of regimes */
  double m[MS_CALIB_MAX_REGIMES];                     /* mean log return per period */
  double s[MS_CALIB_MAX_REGIMES];                     /* sd of the log return per period */
  double p[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES]; /* P[i][j]: regime j follows regime i; rows sum to 1 */
} ms_calib_rs;

/* GARCH(1,1) of per-period log returns. */
typedef struct ms_calib_garch {
  ms_calib_dist dist;
  double mu;     /* mean log return per period */
  double omega;  /* variance per period */
  double alpha, beta;
  double nu;     /* degrees of freedom of the t (> 2); 0 for normal innovations */
} ms_calib_garch;

typedef struct ms_calib_result {
  ms_calib_opts opts;       /* as fitted */
  int64_t n;                /* returns */
  int64_t resolution;       /* ms per return */
  double periods_per_year;  /* days_per_year x 1 d / resolution */
  double sample_vol;        /* annualised sd of the returns */
  double loglik, aic, bic;
  int nparams;              /* free parameters of the model */
  int have_se;              /* 1 when the standard errors below are set */
  char se_note[160];        /* why there are none, when have_se is 0 */
  int held;                 /* transition probabilities below 1 / n held for the errors (not identified) */

  /* regime_switching */
  ms_calib_rs rs;           /* the fit, regimes by vol ascending */
  ms_calib_rs rs_se;        /* standard errors of m, s and P (p[i][i]: of 1 - sum of the row's others) */
  double vol[MS_CALIB_MAX_REGIMES], vol_se[MS_CALIB_MAX_REGIMES];     /* annualised */
  double drift[MS_CALIB_MAX_REGIMES], drift_se[MS_CALIB_MAX_REGIMES]; /* annualised mu of dS/S */
  double duration[MS_CALIB_MAX_REGIMES], duration_se[MS_CALIB_MAX_REGIMES]; /* ms; INFINITY: never left */
  double jump[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES]; /* weight of regime j when regime i ends (zero diagonal) */
  int generator;            /* 1: duration and jump from the generator log(P) / resolution; 0: P has no real
                               logarithm, duration resolution / (1 - P[k][k]), jump P's off-diagonal rows */
  double stationary[MS_CALIB_MAX_REGIMES]; /* long-run share of periods in each regime */
  int starts_done;          /* starting points run */
  int finalists;            /* of them, run on to convergence */
  int starts_near_best;     /* of the finalists, how many ended within 0.01 of the best log-likelihood */
  int iterations;           /* EM iterations of the best start */
  double *smoothed;         /* n x k: P(s_t = j | all returns), row t */
  int *viterbi;             /* n: the most likely regime path */

  /* garch */
  ms_calib_garch garch, garch_se;
  double persistence, persistence_se; /* alpha + beta */
  double uncond_vol;        /* annualised sqrt(omega / (1 - alpha - beta)) */
  double half_life;         /* periods for a variance shock to halve: ln 0.5 / ln(alpha + beta) */
  double garch_drift;       /* annualised mu of dS/S: (mu + sample variance / 2) x periods per year */
} ms_calib_result;

/**
 * Fit @p o->model to @p r. On success *out is a new result
 * (ms_calib_result_free). MS_ERR_INPUT for options out of range or too
 * few returns; MS_ERR_NOMEM; MS_ERR_INTERNAL when no start converged to
 * a finite likelihood.
 */
ms_status ms_calib_fit(ms_calib_result **out, const ms_calib_returns *r, const ms_calib_opts *o, ms_error *err);

/** Free; NULL is a no-op. */
void ms_calib_result_free(ms_calib_result *res);

/**
 * Log-likelihood of @p n returns under @p p, the chain started from its
 * stationary distribution (what the fit maximises). -INFINITY when @p p is
 * not a valid model (an sd <= 0, a row not summing to 1) or memory runs out.
 */
double ms_calib_rs_loglik(const double *r, int64_t n, const ms_calib_rs *p);

/** Log-likelihood of @p n returns under @p g (sigma_1^2 the sample variance); -INFINITY when invalid. */
double ms_calib_garch_loglik(const double *r, int64_t n, const ms_calib_garch *g);

/** The stationary distribution of the chain @p p into @p pi (k values). */
void ms_calib_stationary(const ms_calib_rs *p, double *pi);

/**
 * The `market:` YAML section of @p res, ready to paste into a scenario,
 * after a comment header naming @p source (the file), the window, the
 * resolution, the model and the log-likelihood. *out is malloc'd.
 */
ms_status ms_calib_yaml(char **out, const ms_calib_result *res, const ms_calib_returns *r, const char *source,
                        ms_error *err);

/** The human summary: parameters with standard errors, log-likelihood, AIC, BIC. *out is malloc'd. */
ms_status ms_calib_summary(char **out, const ms_calib_result *res, const ms_calib_returns *r, const char *source,
                           ms_error *err);

/**
 * The regime path as CSV: `time,return,regime,p0,p1,...` (time ISO 8601,
 * the start of the return's period; regime the Viterbi path; p the smoothed
 * probabilities). regime_switching only. *out is malloc'd.
 */
ms_status ms_calib_regime_csv(char **out, const ms_calib_result *res, const ms_calib_returns *r, ms_error *err);

/*
 * The exogenous funding premium (funding.premium, docs/engine.md
 * "Funding"), fitted to a perpetual's candles against its index's (spot):
 * the premium of each candle is close_perp / close_index - 1, candles paired
 * by open time; an AR(1) by least squares on the pairs of consecutive
 * candles, x' = a + phi x + e, is the exact discretisation of the
 * Ornstein–Uhlenbeck process the scenario simulates, so mean = a / (1 -
 * phi), half-life = resolution ln 2 / -ln phi, sd = sd(e) / sqrt(1 - phi^2),
 * with standard errors by the delta method from the least-squares
 * covariance (errors taken as independent and homoscedastic; see
 * docs/calibration.md for what that misses).
 */
typedef struct ms_calib_premium {
  int64_t n;            /* candles of the window present in both files */
  int64_t pairs;        /* consecutive pairs among them (the regression's rows) */
  int64_t resolution;   /* ms between candles */
  int64_t first, last;  /* open times of the first and last candle used */
  double sample_mean, sample_sd;
  double lo, hi;        /* the smallest and largest premium */
  double phi, phi_se;   /* the AR(1) coefficient per candle, dimensionless */
  double mean, mean_se; /* the premium's mean, a fraction of the index */
  double sd, sd_se;     /* its stationary standard deviation, a fraction of the index */
  double half_life, half_life_se; /* ms */
} ms_calib_premium;

/**
 * Fit the premium of @p perp over @p index in the window [@p from, @p to)
 * of open times (INT64_MIN, INT64_MAX: the files' overlap). MS_ERR_INPUT,
 * naming the files, when their resolutions differ, fewer than
 * MS_CALIB_MIN_RETURNS pairs overlap, or the premium does not mean-revert
 * (phi outside (0, 1)).
 */
ms_status ms_calib_premium_fit(ms_calib_premium *out, const ms_series *perp, const ms_series *index, int64_t from,
                               int64_t to, ms_error *err);

/** @p v with @p sig significant digits, as the shortest text that reads back (the YAML's numbers). */
void ms_calib_fmt_sig(double v, int sig, char *buf, size_t n);

/** The summary and the `funding:` YAML of a premium fit; *out is malloc'd. */
ms_status ms_calib_premium_text(char **summary, char **yaml, const ms_calib_premium *p, const char *perp_name,
                                const char *index_name, ms_error *err);

#endif
