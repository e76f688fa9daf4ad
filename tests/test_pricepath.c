/*
 * test_pricepath — the exogenous price model against closed forms, with
 * tolerances of five Monte Carlo standard errors:
 *  - log return over the horizon, one regime: mean (mu - s^2/2) T + lambda T m,
 *    variance s^2 T + lambda T (m^2 + sd^2) (compound Poisson moments);
 *  - jump counts: Poisson(lambda T);
 *  - time in each regime from a stationary start: pi_i T exactly in expectation;
 *  - ticks that straddle regime switches: the standardised log return
 *    (r - sum m_i T_i) / sqrt(sum v_i T_i) is N(0, 1) given the path's regime
 *    times, and, exactly, every tick equals a replay from the event log and the
 *    same Gaussian stream (the statistical test alone cannot tell "the whole
 *    tick in its last regime" from the exact rule: both are unbiased on average).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "models/pricepath.h"
#include "core/queue.h"
#include "core/rng.h"
#include "core/series.h"
#include <gsl/gsl_randist.h>
#include "testutil.h"

#define YEAR_MS (365.0 * 86400000.0)

static ms_path_summary *run_paths(const char *yaml, int64_t n) {
  ms_error err;
  /* The price model alone: a book of one small account changes nothing here. */
  const char *sets[] = {"book.accounts=1", "book.leverage=1"};
  ms_config *cfg = load_yaml(yaml, sets, 2, &err);
  if (!cfg) fail_msg("%s", err.msg);
  ms_engine *e;
  ms_book *book;
  struct ms_index_static *idx;
  assert_ok(ms_engine_shared_new(cfg, &book, &idx, &err), &err);
  assert_ok(ms_engine_new(&e, cfg, book, idx, &err), &err);
  ms_path_summary *rows = malloc((size_t)n * sizeof *rows);
  for (int64_t p = 0; p < n; p++) assert_ok(ms_engine_run_path(e, (uint64_t)p, &rows[p], NULL, &err), &err);
  ms_engine_free(e);
  ms_engine_shared_free(book, idx);
  ms_config_free(cfg);
  return rows;
}

static void moments(const double *x, int64_t n, double *mean, double *var, double *m4c) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  *mean = s / (double)n;
  double s2 = 0, s4 = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = x[i] - *mean;
    s2 += d * d;
    s4 += d * d * d * d;
  }
  *var = s2 / (double)(n - 1);
  *m4c = s4 / (double)n;
}

static void check_log_return(const char *yaml, double mu, double vol, double lam_per_day, double jm,
                             double js) {
  const int64_t n = 40000;
  ms_path_summary *rows = run_paths(yaml, n);
  double T = 86400000.0 / YEAR_MS, lamT = lam_per_day; /* horizon 1d */
  double want_mean = (mu - 0.5 * vol * vol) * T + lamT * jm;
  double k2 = vol * vol * T + lamT * (jm * jm + js * js);
  double k4 = lamT * (jm * jm * jm * jm + 6 * jm * jm * js * js + 3 * js * js * js * js);
  double *lr = malloc((size_t)n * sizeof *lr), *jumps = malloc((size_t)n * sizeof *jumps);
  for (int64_t i = 0; i < n; i++) {
    lr[i] = log(rows[i].final_price / 2000.0);
    jumps[i] = (double)rows[i].jumps;
  }
  double m, v, m4;
  moments(lr, n, &m, &v, &m4);
  double se_mean = sqrt(k2 / (double)n);
  double se_var = sqrt((k4 + 3 * k2 * k2 - k2 * k2) / (double)n); /* (mu4 - sigma^4) / n */
  if (fabs(m - want_mean) > 5 * se_mean)
    fail_msg("mean log return %.6g, want %.6g +/- %.3g", m, want_mean, 5 * se_mean);
  if (fabs(v - k2) > 5 * se_var) fail_msg("variance %.6g, want %.6g +/- %.3g", v, k2, 5 * se_var);
  if (lam_per_day > 0) {
    double jmean, jvar, j4;
    moments(jumps, n, &jmean, &jvar, &j4);
    /* Poisson: mean = var = lambda T; Var(sample var) ~ (mu4 - var^2)/n with mu4 = l + 3 l^2 */
    if (fabs(jmean - lamT) > 5 * sqrt(lamT / (double)n))
      fail_msg("mean jumps %.5g, want %.5g", jmean, lamT);
    if (fabs(jvar - lamT) > 5 * sqrt((lamT + 2 * lamT * lamT) / (double)n))
      fail_msg("jump count variance %.5g, want %.5g", jvar, lamT);
  } else {
    for (int64_t i = 0; i < n; i++) assert_int_equal(rows[i].jumps, 0);
  }
  free(lr);
  free(jumps);
  free(rows);
}

static void test_pricepath__gbm_log_return_moments(void **state) {
  (void)state;
  check_log_return("paths: 1\nhorizon: 1d\nstep: 1m\nmarket:\n  regimes: [{vol: 0.8, drift: 0.3}]\n",
                   0.3, 0.8, 0.0, 0.0, 0.0);
}

static void test_pricepath__jump_diffusion_moments(void **state) {
  (void)state;
  check_log_return("horizon: 1d\nstep: 1m\nmarket:\n  regimes: [{vol: 0.5, drift: -0.2, "
                   "jumps: {rate: 6/d, mean: -0.04, sd: 0.03}}]\n",
                   -0.2, 0.5, 6.0, -0.04, 0.03);
}

static void test_pricepath__time_in_regime_is_stationary(void **state) {
  (void)state;
  const char *y =
      "horizon: 10d\nstep: 10m\nmarket:\n"
      "  regimes:\n"
      "    - {name: a, vol: 0.4, mean_duration: 12h}\n"
      "    - {name: b, vol: 1.0, mean_duration: 3h}\n"
      "    - {name: c, vol: 2.0, mean_duration: 1h}\n"
      "  transition: [[0, 0.8, 0.2], [0.6, 0, 0.4], [0.9, 0.1, 0]]\n"
      "  start_regime: stationary\n";
  /* Independent reference: stationary vector of the embedded chain by power
   * iteration on its lazy version, weighted by the mean holding times. */
  double P[3][3] = {{0, 0.8, 0.2}, {0.6, 0, 0.4}, {0.9, 0.1, 0}}, d[3] = {12, 3, 1};
  double nu[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
  for (int it = 0; it < 10000; it++) {
    double nx[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++) nx[j] += nu[i] * 0.5 * (P[i][j] + (i == j));
    memcpy(nu, nx, sizeof nu);
  }
  double pi[3], tot = 0;
  for (int i = 0; i < 3; i++) tot += pi[i] = nu[i] * d[i];
  for (int i = 0; i < 3; i++) pi[i] /= tot;

  const int64_t n = 4000;
  ms_path_summary *rows = run_paths(y, n);
  double T = 10 * 86400.0;
  for (int r = 0; r < 3; r++) {
    double *f = malloc((size_t)n * sizeof *f), m, v, m4;
    for (int64_t i = 0; i < n; i++) f[i] = rows[i].time_in_regime[r] / T;
    moments(f, n, &m, &v, &m4);
    if (fabs(m - pi[r]) > 5 * sqrt(v / (double)n))
      fail_msg("regime %d: time fraction %.5f, stationary %.5f (se %.5f)", r, m, pi[r], sqrt(v / n));
    free(f);
  }
  for (int64_t i = 0; i < n; i++) {
    double s = rows[i].time_in_regime[0] + rows[i].time_in_regime[1] + rows[i].time_in_regime[2];
    assert_true(fabs(s - T) < 1e-6);
  }
  /* The model's own stationary vector agrees with the reference. */
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  ms_pricepath *pp;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  double got[3];
  ms_pricepath_stationary(pp, got);
  for (int r = 0; r < 3; r++) assert_true(fabs(got[r] - pi[r]) < 1e-9);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
  free(rows);
}

static void test_pricepath__straddling_ticks_keep_exact_moments(void **state) {
  (void)state;
  /* Ticks of 5 minutes; wild spells of 3 minutes on average often begin and end
   * within one tick, so a tick must carry the variance of every piece. */
  const double vols[2] = {0.3, 3.0}, drifts[2] = {0.5, -4.0};
  const char *y =
      "horizon: 1d\nstep: 5m\nmarket:\n"
      "  regimes:\n"
      "    - {name: quiet, vol: 0.3, drift: 0.5, mean_duration: 20m}\n"
      "    - {name: wild, vol: 3.0, drift: -4.0, mean_duration: 3m}\n"
      "  start_regime: quiet\n";
  const int64_t n = 20000;
  ms_path_summary *rows = run_paths(y, n);
  double *z = malloc((size_t)n * sizeof *z), m, v, m4;
  for (int64_t i = 0; i < n; i++) {
    double mean = 0, var = 0;
    for (int r = 0; r < 2; r++) {
      double T = rows[i].time_in_regime[r] * 1000.0 / YEAR_MS;
      mean += (drifts[r] - 0.5 * vols[r] * vols[r]) * T;
      var += vols[r] * vols[r] * T;
    }
    z[i] = (log(rows[i].final_price / 2000.0) - mean) / sqrt(var);
  }
  moments(z, n, &m, &v, &m4);
  if (fabs(m) > 5 * sqrt(1.0 / n)) fail_msg("standardised mean %.5f", m);
  if (fabs(v - 1) > 5 * sqrt(2.0 / n)) fail_msg("standardised variance %.5f", v);
  free(z);
  free(rows);
}

static void test_pricepath__ticks_replay_from_event_log(void **state) {
  (void)state;
  const double vols[2] = {0.3, 3.0}, drifts[2] = {0.5, -4.0};
  const char *y =
      "horizon: 1d\nstep: 5m\nmarket:\n"
      "  regimes:\n"
      "    - {name: quiet, vol: 0.3, drift: 0.5, mean_duration: 20m,\n"
      "       jumps: {rate: 30/d, mean: -0.01, sd: 0.02}}\n"
      "    - {name: wild, vol: 3.0, drift: -4.0, mean_duration: 3m}\n"
      "  start_regime: quiet\n";
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  ms_pricepath *pp;
  ms_queue *q;
  gsl_rng *gauss;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  assert_ok(ms_rng_new(&gauss, &err), &err);
  int straddled = 0;
  for (uint64_t path = 0; path < 20; path++) {
    ms_queue_reset(q);
    assert_ok(ms_pricepath_start(pp, cfg->seed, path, q), &err);
    ms_queue_clock_start(q, cfg->step, cfg->step, cfg->horizon);
    ms_rng_seed(gauss, cfg->seed, path, MS_STREAM_PRICE);
    double lp = log(2000.0), m = 0, v = 0;
    int64_t t_last = 0;
    int reg = ms_pricepath_regime(pp), pieces = 1;
    ms_event ev;
    while (ms_queue_pop(q, &ev)) {
      /* the interval since the last event ran in regime reg */
      double dt = (double)(ev.t - t_last) / YEAR_MS;
      m += (drifts[reg] - 0.5 * vols[reg] * vols[reg]) * dt;
      v += vols[reg] * vols[reg] * dt;
      t_last = ev.t;
      if (ev.kind == MS_EV_TICK) {
        double got;
        assert_int_equal(ms_pricepath_fill(pp, ev.t, 1, &got), 1);
        lp += m + sqrt(v) * ms_rng_gaussian(gauss);
        if (fabs(got - lp) > 1e-12) fail_msg("path %llu tick at %lld: %.15g, replay %.15g",
                                             (unsigned long long)path, (long long)ev.t, got, lp);
        straddled += pieces > 1;
        m = v = 0;
        pieces = 1;
        ms_queue_clock_advance(q, 1);
        continue;
      }
      int r = ms_pricepath_on_event(pp, &ev, q);
      assert_true(r >= 0);
      if (r == 1) lp = ms_pricepath_log_price(pp); /* a jump: taken as given */
      if (r == 0 && ev.kind == MS_EV_REGIME) { reg = ms_pricepath_regime(pp); pieces++; }
    }
  }
  assert_true(straddled > 1000); /* the case under test did occur */
  ms_rng_free(gauss);
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
}

static void test_pricepath__extremes_bracket_the_path(void **state) {
  (void)state;
  ms_path_summary *rows = run_paths("horizon: 6h\nstep: 1s\nmarket: {regimes: [{vol: 1.2, "
                                    "jumps: {rate: 20/d, mean: -0.05, sd: 0.05}}]}\n", 200);
  for (int i = 0; i < 200; i++) {
    assert_true(rows[i].min_price <= rows[i].final_price && rows[i].final_price <= rows[i].max_price);
    assert_true(rows[i].min_price <= 2000.0 && 2000.0 <= rows[i].max_price);
    assert_true(rows[i].max_drawdown >= 0 && rows[i].max_drawdown <= 1 - rows[i].min_price / rows[i].max_price + 1e-12);
    assert_true(rows[i].max_drawdown >= 1 - rows[i].final_price / rows[i].max_price - 1e-12);
  }
  free(rows);
}


/* market.shocks on a still path (vol 0, no drift): every tick's price is
 * the scripted factor, computed here from the docs' definitions (linear:
 * the factor moves by equal amounts per unit time; exponential: by equal
 * percentages; a recovery takes back a share of the move), the moves of
 * overlapping shocks multiplied. Once every shock is over the price is the
 * product of the final factors to a few ulps, and the engine's lowest
 * price is the scripted low. */
static double scripted_factor(double ts) {
  double f1 = ts < 3600 ? 1 : ts < 5400 ? 1 - 0.2 * (ts - 3600) / 1800 : ts < 9000 ? 0.8 + 0.1 * (ts - 5400) / 3600 : 0.9;
  double f2 = ts < 14400 ? 1 : ts < 15600 ? pow(1.1, (ts - 14400) / 1200) : 1.1;
  double f3 = ts < 18000 ? 1 : 0.95;
  double f4 = ts < 15000 ? 1 : ts < 16800 ? 1 + 0.5 * (ts - 15000) / 1800 : 1.5;
  return f1 * f2 * f3 * f4;
}

static void test_pricepath__shocks_follow_the_script(void **state) {
  (void)state;
  const char *y =
      "horizon: 6h\nstep: 1s\nmarket:\n"
      "  initial_price: 2000\n"
      "  regimes: [{vol: 0}]\n"
      "  shocks:\n"
      "    - {at: 1h, move: -20%, over: 30m, recover: {fraction: 50%, over: 1h}}\n"
      "    - {at: 4h, move: 0.1, over: 20m, shape: exponential}\n"
      "    - {at: 5h, move: -5%}\n"
      "    - {at: 250m, move: 50%, over: 30m}\n";
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  ms_pricepath *pp;
  ms_queue *q;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  assert_ok(ms_pricepath_start(pp, cfg->seed, 0, q), &err);
  assert_true(ms_pricepath_log_price(pp) == log(2000.0));
  double buf[997], worst = 0;
  int64_t t = cfg->step;
  while (t <= cfg->horizon) {
    size_t n = ms_pricepath_fill(pp, t, 997, buf);
    assert_true(n > 0);
    for (size_t k = 0; k < n; k++) {
      double ts = (double)(t + (int64_t)k * cfg->step) / 1000.0, want = 2000.0 * scripted_factor(ts);
      double rel = fabs(exp(buf[k]) / want - 1);
      if (rel > worst) worst = rel;
      if (rel > 1e-12) fail_msg("tick at %.0f s: price %.15g, scripted %.15g", ts, exp(buf[k]), want);
    }
    t += (int64_t)n * cfg->step;
    /* log_price is the last tick's */
    assert_true(ms_pricepath_log_price(pp) == buf[n - 1]);
  }
  double final = log(2000.0) + log(0.9) + log(1.1) + log(0.95) + log(1.5);
  assert_true(fabs(ms_pricepath_log_price(pp) - final) < 1e-14);
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);

  /* Through the engine: the path's lowest price is the scripted low. */
  ms_path_summary *rows = run_paths("horizon: 3h\nstep: 1s\nmarket: {initial_price: 1000, regimes: [{vol: 0}],\n"
                                    "  shocks: [{at: 1h, move: -30%, over: 1h, shape: exponential}]}\n", 2);
  for (int i = 0; i < 2; i++) {
    assert_true(fabs(rows[i].min_price - 700.0) < 1e-9);
    assert_true(fabs(rows[i].final_price - 700.0) < 1e-9);
  }
  free(rows);
}


/* A shock at 0 (the keys' defaults: at 0s, over 0s) moves the price at the
 * first tick, as every shock at or after `at`: time 0 is the path's start,
 * at initial_price, so the fall is a 30% drawdown from the initial price. */
static void test_pricepath__shock_at_zero_moves_at_the_first_tick(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml("horizon: 1h\nstep: 1s\nmarket: {initial_price: 2000, regimes: [{vol: 0}],\n"
                             "  shocks: [{move: -30%}]}\n", NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  ms_pricepath *pp;
  ms_queue *q;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  assert_ok(ms_pricepath_start(pp, cfg->seed, 0, q), &err);
  assert_true(ms_pricepath_log_price(pp) == log(2000.0));
  double tick;
  assert_int_equal(ms_pricepath_fill(pp, cfg->step, 1, &tick), 1);
  assert_true(fabs(tick - log(1400.0)) < 1e-12);
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
  ms_path_summary *rows = run_paths("horizon: 1h\nstep: 1s\nmarket: {initial_price: 2000, regimes: [{vol: 0}],\n"
                                    "  shocks: [{move: -30%}]}\n", 1);
  if (fabs(rows[0].max_price - 2000.0) > 1e-9) fail_msg("max price %.17g", rows[0].max_price);
  assert_true(fabs(rows[0].max_drawdown - 0.3) < 1e-12);
  free(rows);
  /* one at the horizon moves the last tick, the one at the horizon */
  rows = run_paths("horizon: 1h\nstep: 1s\nmarket: {initial_price: 2000, regimes: [{vol: 0}],\n"
                   "  shocks: [{at: 1h, move: -30%}]}\n", 1);
  assert_true(fabs(rows[0].final_price - 1400.0) < 1e-9);
  free(rows);
}

/* ---- market.model replay ---- */

/* A candle file in a temporary directory; returns its path (static). */
static const char *temp_csv(const char *text) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/ms_test_replay_XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

/* The high, low and close of a candle's @p n ticks (and of @p open, unless
 * NaN) against the data's @p H, @p L, @p C, in log prices, within @p tol. */
static void check_candle(const double *ticks, int n, double open, double H, double L, double C, double tol,
                         uint64_t path, int j) {
  double hi = isnan(open) ? ticks[0] : open, lo = hi;
  for (int i = 0; i < n; i++) {
    hi = fmax(hi, ticks[i]);
    lo = fmin(lo, ticks[i]);
  }
  double got[3] = {hi, lo, ticks[n - 1]}, want[3] = {log(H), log(L), log(C)};
  for (int v = 0; v < 3; v++)
    if (!(fabs(got[v] - want[v]) <= tol))
      fail_msg("path %llu candle %d: log %s %.17g, the data's %.17g", (unsigned long long)path, j,
               v == 0 ? "high" : v == 1 ? "low" : "close", got[v], want[v]);
}

static ms_config *replay_config(const char *csv, const char *extra) {
  char y[2048];
  snprintf(y, sizeof y, "horizon: %s\nstep: 1m\nmarket:\n  model: replay\n  replay: {file: %s%s}\n",
           extra && strstr(extra, "speed: 2") ? "2h" : "4h", csv, extra ? extra : "");
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  return cfg;
}

/* Every simulated candle reproduces its close exactly and its high and low
 * exactly (the bridge is pinned there and reflected inside [low, high]):
 * both extremes inside, the high at the close, the low at the open, a flat
 * candle, in real prices (rescale false) and rescaled (to 1e-12). */
static void test_pricepath__replay_candles_reproduce_ohlc(void **state) {
  (void)state;
  const char *csv = temp_csv("timestamp,open,high,low,close\n"
                             "2024-01-01 00:00:00,100,130,80,110\n"
                             "2024-01-01 01:00:00,110,125,110,125\n"
                             "2024-01-01 02:00:00,125,125,90,100\n"
                             "2024-01-01 03:00:00,100,100,100,100\n");
  const double O[4] = {100, 110, 125, 100}, H[4] = {130, 125, 125, 100}, L[4] = {80, 110, 90, 100},
               C[4] = {110, 125, 100, 100};
  for (int rescale = 0; rescale < 2; rescale++) {
    ms_config *cfg = replay_config(csv, rescale ? ", rescale: true" : ", rescale: false");
    double k = rescale ? 2000.0 / 100.0 : 1.0, tol = rescale ? 1e-12 : 0.0;
    assert_true(cfg->market.initial_price == (rescale ? 2000.0 : 100.0));
    ms_error err;
    ms_pricepath *pp;
    ms_queue *q;
    assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
    assert_ok(ms_queue_new(&q, 16, &err), &err);
    double ticks[240];
    for (uint64_t path = 0; path < 200; path++) {
      assert_ok(ms_pricepath_start(pp, cfg->seed, path, q), &err);
      assert_true(ms_pricepath_log_price(pp) == log(cfg->market.initial_price));
      assert_int_equal(ms_pricepath_fill(pp, 60000, 240, ticks), 240);
      for (int j = 0; j < 4; j++) {
        /* the candle's prices: its open (the tick at its start) and its 60 ticks */
        double open = j == 0 ? log(cfg->market.initial_price) : ticks[60 * j - 1];
        if (fabs(exp(open) / (O[j] * k) - 1) > 1e-12) fail_msg("candle %d open %.17g", j, exp(open));
        /* in log prices: exactly the data's (real prices), to 1e-12 rescaled */
        check_candle(ticks + 60 * j, 60, open, H[j] * k, L[j] * k, C[j] * k, tol, path, j);
      }
    }
    ms_queue_free(q);
    ms_pricepath_free(pp);
    ms_config_free(cfg);
  }
  unlink(csv);
}

/* A candle that opens away from the previous close (most hourly candles of
 * the shipped files differ by a cent, the 2020 perp files by up to 0.3%)
 * and at its low or high: the path holds the previous close at the
 * candle's first instant, so the extreme at the open must be pinned inside
 * the candle too, or no tick touches it. Over each candle's own ticks the
 * high, low and close are the data's exactly. */
static void test_pricepath__replay_gap_open_at_an_extreme(void **state) {
  (void)state;
  const char *csv = temp_csv("timestamp,open,high,low,close\n"
                             "2024-01-01 00:00:00,100,130,80,110\n"
                             "2024-01-01 01:00:00,111,125,111,124\n"
                             "2024-01-01 02:00:00,123,123,90,100\n"
                             "2024-01-01 03:00:00,100.5,101,99,100\n");
  const double H[4] = {130, 125, 123, 101}, L[4] = {80, 111, 90, 99}, C[4] = {110, 124, 100, 100};
  ms_config *cfg = replay_config(csv, ", rescale: false");
  ms_error err;
  ms_pricepath *pp;
  ms_queue *q;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  double ticks[240];
  for (uint64_t path = 0; path < 50; path++) {
    assert_ok(ms_pricepath_start(pp, cfg->seed, path, q), &err);
    assert_int_equal(ms_pricepath_fill(pp, 60000, 240, ticks), 240);
    for (int j = 0; j < 4; j++) check_candle(ticks + 60 * j, 60, NAN, H[j], L[j], C[j], 0.0, path, j);
  }
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
  unlink(csv);
}

/* Inside a candle the path is a Brownian bridge: at the midpoint of a
 * candle pinned only at its open (= low) and close (= high) the log price
 * has mean halfway and variance sd^2 n/4, sd = vol_scale (ln H - ln L) /
 * sqrt(4 ln 2 n) (the bounds are 33 standard deviations away, so the
 * reflection cannot act there). Five standard errors of 20,000 paths. At
 * speed 2 a candle takes half the ticks. */
static void test_pricepath__replay_bridge_midpoint_variance(void **state) {
  (void)state;
  const char *csv = temp_csv("timestamp,open,high,low,close\n"
                             "2024-01-01 00:00:00,100,200,100,200\n"
                             "2024-01-01 01:00:00,200,200,200,200\n"
                             "2024-01-01 02:00:00,200,200,200,200\n"
                             "2024-01-01 03:00:00,200,200,200,200\n");
  for (int speed = 1; speed <= 2; speed++) {
    ms_config *cfg = replay_config(csv, speed == 1 ? ", rescale: false, vol_scale: 0.05"
                                                    : ", rescale: false, vol_scale: 0.05, speed: 2");
    const int n = 60 / speed, mid = n / 2;
    ms_error err;
    ms_pricepath *pp;
    ms_queue *q;
    assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
    assert_ok(ms_queue_new(&q, 16, &err), &err);
    const int N = 20000;
    double s1 = 0, s2 = 0, ticks[60];
    for (int path = 0; path < N; path++) {
      assert_ok(ms_pricepath_start(pp, cfg->seed, (uint64_t)path, q), &err);
      assert_int_equal(ms_pricepath_fill(pp, 60000, (size_t)n, ticks), n);
      double x = ticks[mid - 1] - log(100.0);
      s1 += x;
      s2 += x * x;
    }
    double mean = s1 / N, var = (s2 - s1 * s1 / N) / (N - 1);
    double sd = 0.05 * log(2.0) / sqrt(4 * log(2.0) * n), want = sd * sd * n / 4.0;
    double se_var = want * sqrt(2.0 / (N - 1)), se_mean = sqrt(want / N);
    if (fabs(var - want) > 5 * se_var) fail_msg("speed %d: midpoint variance %.6g, the bridge's %.6g (se %.3g)", speed, var, want, se_var);
    if (fabs(mean - log(2.0) / 2) > 5 * se_mean) fail_msg("speed %d: midpoint mean %.6g, want %.6g", speed, mean, log(2.0) / 2);
    ms_queue_free(q);
    ms_pricepath_free(pp);
    ms_config_free(cfg);
  }
  unlink(csv);
}

/* A real day through the engine: every path's lowest exogenous price is the
 * day's real low (BTC spot, 2025-10-10: 102,000 at 21:00 UTC), rescaled. */
static void test_pricepath__replay_real_low(void **state) {
  (void)state;
  ms_path_summary *rows = run_paths(
      "horizon: 1d\nstep: 1s\nmarket:\n  model: replay\n  initial_price: 2000\n"
      "  replay: {file: " MS_SOURCE_DIR "/scenarios/data/btc_usdt_1h_2025-10_binance_spot.csv,\n"
      "           from: 2025-10-10T00:00:00Z, to: 2025-10-11T00:00:00Z}\n", 20);
  double open = 121662.41, low = 102000.0;
  for (int i = 0; i < 20; i++) {
    if (fabs(rows[i].min_price / (2000.0 * low / open) - 1) > 1e-12)
      fail_msg("path %d: low %.17g, the day's rescaled %.17g", i, rows[i].min_price, 2000.0 * low / open);
    assert_int_equal(rows[i].jumps, 0);
  }
  free(rows);
}


/* ---- market.model garch ---- */

/* At the end of each period the path is the GARCH(1,1) recursion itself,
 * replayed here from the model's own streams (innovations from REGIME,
 * Student-t scaled to unit variance): bit for bit. And the period returns'
 * second moment is the unconditional variance omega / (1 - alpha - beta)
 * (per-path means, independent across paths, five standard errors). */
static void test_pricepath__garch_period_ends_follow_the_recursion(void **state) {
  (void)state;
  const double omega = 4e-6, alpha = 0.1, beta = 0.85, nu = 6, mu = 0.5;
  ms_error err;
  ms_config *cfg = load_yaml("horizon: 2d\nstep: 1m\nmarket: {model: garch, initial_price: 100, garch: {resolution: 1h,\n"
                             "  omega: 4e-6, alpha: 0.1, beta: 0.85, drift: 0.5, innovations: t, nu: 6}}\n",
                             NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  ms_pricepath *pp;
  ms_queue *q;
  gsl_rng *r;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  assert_ok(ms_rng_new(&r, &err), &err);
  const int P = 48, n = 60, N = 2000;
  const double s2_0 = omega / (1 - alpha - beta), mu_p = mu * 3600000.0 / YEAR_MS;
  double ticks[48 * 60], s1 = 0, s2 = 0;
  for (int path = 0; path < N; path++) {
    assert_ok(ms_pricepath_start(pp, cfg->seed, (uint64_t)path, q), &err);
    assert_int_equal(ms_pricepath_fill(pp, 60000, (size_t)(P * n), ticks), P * n);
    ms_rng_seed(r, cfg->seed, (uint64_t)path, MS_STREAM_REGIME);
    double x = log(100.0), v = s2_0, m2 = 0;
    for (int j = 0; j < P; j++) {
      double z = gsl_ran_tdist(r, nu) * sqrt((nu - 2) / nu), e = sqrt(v) * z, ret = mu_p - 0.5 * v + e;
      x = x + ret;
      v = omega + alpha * e * e + beta * v;
      if (path < 50 && ticks[n * j + n - 1] != x)
        fail_msg("path %d period %d: log price %.17g, the recursion's %.17g", path, j, ticks[n * j + n - 1], x);
      double prev = j ? ticks[n * j - 1] : log(100.0), rr = ticks[n * j + n - 1] - prev;
      m2 += rr * rr / P;
    }
    s1 += m2;
    s2 += m2 * m2;
  }
  double mean = s1 / N, se = sqrt((s2 - s1 * s1 / N) / (N - 1) / N);
  /* E r^2 = E s2 + (mu_p - E s2 / 2)^2 + ..., the drift terms are < 1e-9 of it */
  if (fabs(mean - s2_0) > 5 * se) fail_msg("mean squared period return %.6g, unconditional variance %.6g (se %.3g)",
                                           mean, s2_0, se);
  ms_rng_free(r);
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
  expect_load_error("market: {model: garch, garch: {alpha: 0.2, beta: 0.8}}\n", NULL, 0,
                    "market.garch.beta: alpha + beta must be < 1 for a stationary variance (got 0.2 + 0.8 = 1)");
  expect_load_error("step: 7s\nmarket: {model: garch}\n", NULL, 0, "market.garch.resolution: must be a whole number of steps");
}


/* A GARCH path that runs past the engine's price bound is stopped with the
 * keys that moved it: market.garch's, not the regimes' it ignores. */
static void test_pricepath__garch_beyond_the_bound_names_its_keys(void **state) {
  (void)state;
  ms_error err;
  const char *sets[] = {"book.accounts=1", "book.leverage=1"};
  ms_config *cfg = load_yaml("horizon: 2d\nstep: 1m\nmarket: {model: garch, garch: {omega: 1, alpha: 0.5, beta: 0.49}}\n",
                             sets, 2, &err);
  if (!cfg) fail_msg("%s", err.msg);
  ms_engine *e;
  ms_book *book;
  struct ms_index_static *idx;
  assert_ok(ms_engine_shared_new(cfg, &book, &idx, &err), &err);
  assert_ok(ms_engine_new(&e, cfg, book, idx, &err), &err);
  ms_path_summary row;
  assert_int_equal(ms_engine_run_path(e, 0, &row, NULL, &err), MS_ERR_INPUT);
  if (!strstr(err.msg, "beyond the bound") || !strstr(err.msg, "market.garch") || strstr(err.msg, "market.regimes"))
    fail_msg("%s", err.msg);
  ms_engine_free(e);
  ms_engine_shared_free(book, idx);
  ms_config_free(cfg);
}

/* ---- market.model bootstrap ---- */

/* A stationary block bootstrap of 50 one-hour candles whose open-to-close
 * moves are all different, so each simulated candle's source is known from
 * its move. Checked: every simulated candle is a source candle's move
 * (scaled by target_vol / the window's vol, computed here from the file),
 * translated to the last close, with its high and low touched exactly;
 * the first candle of a path is uniform over the window (chi-square over
 * 4,000 paths); a candle continues its block (the next source, circularly)
 * with probability 1 - 1/block + 1/(block N) (five standard errors). */
static void test_pricepath__bootstrap_blocks_and_moves(void **state) {
  (void)state;
  enum { N = 50, PATHS = 4000, CAND = 40 };
  /* distinct moves: candle i closes at 100 (1 + 0.001 (i - 25) + 0.0001 i) */
  char text[N * 96 + 64];
  size_t len = (size_t)snprintf(text, sizeof text, "timestamp,open,high,low,close\n");
  for (int i = 0; i < N; i++) {
    double c = 100 * (1 + 0.001 * (i - N / 2) + 0.0001 * i), h = fmax(100, c) * 1.004, l = fmin(100, c) * 0.995;
    len += (size_t)snprintf(text + len, sizeof text - len, "%lld,100,%.17g,%.17g,%.17g\n",
                            1704067200000LL + 3600000LL * i, h, l, c);
  }
  double mv[N], hi[N], lo[N], ss = 0;
  const char *csv = temp_csv(text);
  char y[512];
  snprintf(y, sizeof y, "horizon: 40h\nstep: 1m\nmarket: {model: bootstrap, initial_price: 100,\n"
           "  bootstrap: {file: %s, block: 5, target_vol: 0.4}}\n", csv);
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  /* the file's moves, read back as the model reads them */
  const ms_series *se = ms_config_series(cfg);
  assert_non_null(se);
  assert_int_equal(se->n, N);
  for (int i = 0; i < N; i++) {
    double o = log(se->c[i].open);
    mv[i] = log(se->c[i].close) - o;
    hi[i] = log(se->c[i].high) - o;
    lo[i] = log(se->c[i].low) - o;
    ss += mv[i] * mv[i];
  }
  double f = 0.4 / sqrt(ss / N / 3600000.0 * YEAR_MS);
  ms_pricepath *pp;
  ms_queue *q;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  static double ticks[CAND * 60];
  int first[N] = {0};
  long cont = 0, pairs = 0;
  for (int path = 0; path < PATHS; path++) {
    assert_ok(ms_pricepath_start(pp, cfg->seed, (uint64_t)path, q), &err);
    assert_int_equal(ms_pricepath_fill(pp, 60000, CAND * 60, ticks), CAND * 60);
    int prev = -1;
    for (int j = 0; j < CAND; j++) {
      double o = j ? ticks[60 * j - 1] : log(100.0), m = ticks[60 * j + 59] - o, h = o, l = o;
      for (int i = 0; i < 60; i++) {
        h = fmax(h, ticks[60 * j + i]);
        l = fmin(l, ticks[60 * j + i]);
      }
      int src = -1;
      for (int i = 0; i < N; i++)
        if (fabs(m - f * mv[i]) < 1e-12) src = i;
      if (src < 0) fail_msg("path %d candle %d: move %.17g is no source candle's (x %.6g)", path, j, m, f);
      if (fabs(h - o - f * hi[src]) > 1e-12 || fabs(l - o - f * lo[src]) > 1e-12)
        fail_msg("path %d candle %d: high/low %.17g/%.17g from the open, source %d's %.17g/%.17g", path, j, h - o,
                 l - o, src, f * hi[src], f * lo[src]);
      if (j == 0) first[src]++;
      else { pairs++; cont += src == (prev + 1) % N; }
      prev = src;
    }
  }
  double chi = 0, e = (double)PATHS / N;
  for (int i = 0; i < N; i++) chi += (first[i] - e) * (first[i] - e) / e;
  if (chi > 95.0) fail_msg("first candles not uniform: chi-square %.1f on 49 degrees of freedom", chi); /* p = 1e-4 */
  double p = 1 - 1.0 / 5 + 1.0 / (5.0 * N), got = (double)cont / (double)pairs, se_p = sqrt(p * (1 - p) / (double)pairs);
  if (fabs(got - p) > 5 * se_p) fail_msg("blocks continue with frequency %.5f, the rule's %.5f (se %.2g)", got, p, se_p);
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
  unlink(csv);
}


/* Regime-dependent GARCH: market.regimes' chain switches the parameters at
 * period starts (leave with probability 1 - exp(-R/mean_duration), the
 * chain's draws from the JUMP stream), and the one variance recursion takes
 * the entered period's parameters. Replayed here from the streams, bit for
 * bit at every period end, with the regime the model reports and its time
 * in each regime; the vols options see are each regime's unconditional one. */
static void test_pricepath__garch_regimes_follow_the_chain(void **state) {
  (void)state;
  const double om[2] = {1e-6, 3e-5}, al[2] = {0.05, 0.15}, be[2] = {0.9, 0.8}, dr[2] = {0.2, -3}, dur[2] = {5, 2};
  ms_error err;
  ms_config *cfg = load_yaml(
      "horizon: 3d\nstep: 1m\nmarket:\n  model: garch\n  initial_price: 100\n"
      "  regimes: [{name: calm, mean_duration: 5h}, {name: stress, mean_duration: 2h}]\n  start_regime: stationary\n"
      "  garch:\n    resolution: 1h\n    regimes:\n      - {omega: 1e-6, alpha: 0.05, beta: 0.9, drift: 0.2}\n"
      "      - {omega: 3e-5, alpha: 0.15, beta: 0.8, drift: -3}\n", NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  double vols[MS_MAX_REGIMES];
  assert_int_equal(ms_price_vol_states(cfg, vols), 2);
  for (int k = 0; k < 2; k++) assert_true(fabs(vols[k] - sqrt(om[k] / (1 - al[k] - be[k]) * 24 * 365)) < 1e-12);
  ms_pricepath *pp;
  ms_queue *q;
  gsl_rng *ri, *rc;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  assert_ok(ms_rng_new(&ri, &err), &err);
  assert_ok(ms_rng_new(&rc, &err), &err);
  const int P = 72, n = 60;
  int switches = 0, stress_periods = 0;
  for (int path = 0; path < 100; path++) {
    assert_ok(ms_pricepath_start(pp, cfg->seed, (uint64_t)path, q), &err);
    ms_rng_seed(ri, cfg->seed, (uint64_t)path, MS_STREAM_REGIME);
    ms_rng_seed(rc, cfg->seed, (uint64_t)path, MS_STREAM_JUMP);
    int k = gsl_rng_uniform(rc) < cfg->market.stationary[0] ? 0 : 1;
    double x = log(100.0), v = om[k] / (1 - al[k] - be[k]), e = 0, in_reg[2] = {0, 0};
    for (int j = 0; j < P; j++) {
      if (j > 0) {
        if (gsl_rng_uniform(rc) < -expm1(-1.0 / dur[k])) {
          (void)gsl_rng_uniform(rc); /* the target: the one other regime */
          k = 1 - k;
          switches++;
        }
        v = om[k] + al[k] * e * e + be[k] * v;
      }
      e = sqrt(v) * ms_rng_gaussian(ri);
      x = x + (dr[k] * 3600000.0 / YEAR_MS - 0.5 * v + e);
      double ticks[60];
      assert_int_equal(ms_pricepath_fill(pp, (int64_t)(j * n + 1) * 60000, (size_t)n, ticks), n);
      if (ticks[n - 1] != x) fail_msg("path %d period %d: log price %.17g, the recursion's %.17g", path, j, ticks[n - 1], x);
      assert_int_equal(ms_pricepath_regime(pp), k);
      in_reg[k] += 3600000.0;
      stress_periods += k;
    }
    ms_pricepath_tally t;
    ms_pricepath_tally_at(pp, cfg->horizon, &t);
    assert_true((double)t.time_in_regime[0] == in_reg[0] && (double)t.time_in_regime[1] == in_reg[1]);
  }
  assert_true(switches > 200 && stress_periods > 1000); /* both regimes and many switches occurred */
  ms_rng_free(ri);
  ms_rng_free(rc);
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
  expect_load_error("market: {model: garch, regimes: [{name: a}, {name: b}], garch: {regimes: [{omega: 1e-6}]}}\n",
                    NULL, 0, "market.garch.regimes: needs one entry per entry of market.regimes (2), got 1");
}

/* ---- several assets (market.assets) ---- */

/* The log-price increments of the ticks of path @p path of @p yaml with
 * market.trade @p trade ("" for the yaml's own), into *@p n (malloc'd). */
static double *tick_increments(const char *yaml, const char *trade, uint64_t path, int64_t *n) {
  char set[64];
  snprintf(set, sizeof set, "market.trade=%s", trade);
  const char *sets[1] = {set};
  ms_error err;
  ms_config *cfg = load_yaml(yaml, sets, trade[0] ? 1 : 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  ms_pricepath *pp;
  ms_queue *q;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  assert_ok(ms_pricepath_start(pp, cfg->seed, path, q), &err);
  ms_queue_clock_start(q, cfg->step, cfg->step, cfg->horizon);
  int64_t cap = cfg->horizon / cfg->step + 1, k = 0;
  double *d = malloc((size_t)cap * sizeof *d), prev = ms_pricepath_log_price(pp);
  assert_non_null(d);
  ms_event ev;
  while (ms_queue_pop(q, &ev)) {
    if (ev.kind == MS_EV_TICK) {
      double x[512];
      int64_t want = ev.count < 512 ? ev.count : 512;
      size_t got = ms_pricepath_fill(pp, ev.t, (size_t)want, x);
      assert_true(got > 0);
      for (size_t i = 0; i < got; i++) { d[k++] = x[i] - prev; prev = x[i]; }
      ms_queue_clock_advance(q, (int64_t)got);
      continue;
    }
    assert_true(ms_pricepath_on_event(pp, &ev, q) >= 0);
    prev = ms_pricepath_log_price(pp); /* a jump's move is not a tick's */
  }
  *n = k;
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
  return d;
}

static const char *world_one =
    "seed: 4\nhorizon: 100d\nstep: 1m\nmarket:\n"
    "  assets: [{name: BTC, initial_price: 60000}, {name: ETH, initial_price: 3000}]\n"
    "  regimes:\n"
    "    - {name: calm, assets: [{vol: 0.5, drift: 0.1}, {vol: 0.9, drift: -0.2}], "
    "correlation: [[1, 0.6], [0.6, 1]]}\n";

/* One regime: the ticks of the BTC book and of the ETH book (one seed)
 * correlate as the matrix says, ETH's variance is its own, and BTC's ticks
 * are those of a single-asset scenario with BTC's parameters, bit for bit. */
static void test_pricepath__assets_correlate_as_the_matrix(void **state) {
  (void)state;
  int64_t n0, n1, ns;
  double *a = tick_increments(world_one, "BTC", 0, &n0), *b = tick_increments(world_one, "ETH", 0, &n1);
  double *single = tick_increments("seed: 4\nhorizon: 100d\nstep: 1m\nmarket: {initial_price: 60000, "
                                   "regimes: [{name: calm, vol: 0.5, drift: 0.1}]}\n", "", 0, &ns);
  assert_int_equal(n0, n1);
  assert_int_equal(n0, ns);
  assert_memory_equal(a, single, (size_t)n0 * sizeof *a);
  double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
  for (int64_t i = 0; i < n0; i++) { ma += a[i]; mb += b[i]; }
  ma /= (double)n0;
  mb /= (double)n0;
  for (int64_t i = 0; i < n0; i++) {
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
    sab += (a[i] - ma) * (b[i] - mb);
  }
  double rho = sab / sqrt(saa * sbb), var_b = sbb / (double)(n0 - 1), want_b = 0.81 * 60000.0 / YEAR_MS;
  print_message("%lld ticks: correlation %.4f (want 0.6), ETH variance %.4g (want %.4g)\n", (long long)n0, rho,
                var_b, want_b);
  assert_true(fabs(rho - 0.6) < 5 * (1 - 0.36) / sqrt((double)n0));
  assert_true(fabs(var_b / want_b - 1) < 5 * sqrt(2.0 / (double)n0));
  free(a);
  free(b);
  free(single);
}

/* Regimes of 20 and 40 minutes under ticks of an hour: most ticks straddle
 * switches, and a tick's covariance is the sum over its pieces, so the
 * ticks' covariance is the time-weighted sum over the regimes (1/3, 2/3 of
 * the time) of rho s_BTC s_ETH. */
static void test_pricepath__straddling_ticks_sum_the_covariances(void **state) {
  (void)state;
  const char *y =
      "seed: 9\nhorizon: 1500d\nstep: 1h\nmarket:\n"
      "  assets: [{name: BTC, initial_price: 60000}, {name: ETH, initial_price: 3000}]\n"
      "  regimes:\n"
      "    - {name: calm, mean_duration: 20m, assets: [{vol: 0.5}, {vol: 0.8}], correlation: [[1, 0.1], [0.1, 1]]}\n"
      "    - {name: stress, mean_duration: 40m, assets: [{vol: 1.5}, {vol: 2}], correlation: [[1, 0.9], [0.9, 1]]}\n";
  int64_t n0, n1;
  double *a = tick_increments(y, "BTC", 0, &n0), *b = tick_increments(y, "ETH", 0, &n1);
  assert_int_equal(n0, n1);
  const double h = 3600000.0 / YEAR_MS;
  double want = (1.0 / 3) * 0.1 * 0.5 * 0.8 * h + (2.0 / 3) * 0.9 * 1.5 * 2.0 * h;
  double ma = 0, mb = 0;
  for (int64_t i = 0; i < n0; i++) { ma += a[i]; mb += b[i]; }
  ma /= (double)n0;
  mb /= (double)n0;
  double c = 0, c2 = 0;
  for (int64_t i = 0; i < n0; i++) {
    double p = (a[i] - ma) * (b[i] - mb);
    c += p;
    c2 += p * p;
  }
  c /= (double)n0;
  double se = sqrt((c2 / (double)n0 - c * c) / (double)n0);
  print_message("%lld ticks: covariance %.5g (want %.5g, se %.2g)\n", (long long)n0, c, want, se);
  assert_true(fabs(c - want) < 5 * se);
  free(a);
  free(b);
}

/* Two assets perfectly correlated with nearly equal vols make the
 * covariance of a straddling tick nearly singular: the third asset's tick
 * keeps all its variance (a failed factor once dropped its own noise:
 * E[d^2] 0.13 of the want). */
static void test_pricepath__near_singular_covariance_keeps_the_variance(void **state) {
  (void)state;
  const char *y =
      "seed: 5\nhorizon: 1000d\nstep: 1h\nmarket:\n"
      "  assets: [{name: A}, {name: B}, {name: C}]\n  trade: C\n"
      "  regimes:\n"
      "    - {name: a, mean_duration: 30m, assets: [{vol: 1}, {vol: 1}, {vol: 1}],\n"
      "       correlation: [[1, 1, 0.5], [1, 1, 0.5], [0.5, 0.5, 1]]}\n"
      "    - {name: b, mean_duration: 30m, assets: [{vol: 1}, {vol: 1.000001}, {vol: 1}],\n"
      "       correlation: [[1, 1, 0.2], [1, 1, 0.2], [0.2, 0.2, 1]]}\n";
  int64_t n;
  double *c = tick_increments(y, "C", 0, &n), m, v, m4;
  moments(c, n, &m, &v, &m4);
  double want = 3600000.0 / YEAR_MS;
  print_message("%lld ticks: variance %.5g (want %.5g)\n", (long long)n, v, want);
  assert_true(fabs(v / want - 1) < 5 * sqrt(2.0 / (double)n));
  free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pricepath__gbm_log_return_moments),
      cmocka_unit_test(test_pricepath__jump_diffusion_moments),
      cmocka_unit_test(test_pricepath__time_in_regime_is_stationary),
      cmocka_unit_test(test_pricepath__straddling_ticks_keep_exact_moments),
      cmocka_unit_test(test_pricepath__assets_correlate_as_the_matrix),
      cmocka_unit_test(test_pricepath__straddling_ticks_sum_the_covariances),
      cmocka_unit_test(test_pricepath__near_singular_covariance_keeps_the_variance),
      cmocka_unit_test(test_pricepath__ticks_replay_from_event_log),
      cmocka_unit_test(test_pricepath__extremes_bracket_the_path),
      cmocka_unit_test(test_pricepath__shocks_follow_the_script),
      cmocka_unit_test(test_pricepath__shock_at_zero_moves_at_the_first_tick),
      cmocka_unit_test(test_pricepath__replay_candles_reproduce_ohlc),
      cmocka_unit_test(test_pricepath__replay_gap_open_at_an_extreme),
      cmocka_unit_test(test_pricepath__replay_bridge_midpoint_variance),
      cmocka_unit_test(test_pricepath__replay_real_low),
      cmocka_unit_test(test_pricepath__garch_period_ends_follow_the_recursion),
      cmocka_unit_test(test_pricepath__garch_regimes_follow_the_chain),
      cmocka_unit_test(test_pricepath__garch_beyond_the_bound_names_its_keys),
      cmocka_unit_test(test_pricepath__bootstrap_blocks_and_moves),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
