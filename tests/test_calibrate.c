/*
 * test_calibrate — the fits of `marginsim calibrate` (sim/models/calibrate.c):
 *  - recovery: long hourly series simulated by marginsim's own regime model
 *    (ms_pricepath, 2 and 3 regimes) are fitted back: regime vols within 5%,
 *    mean durations within 15%, and the log-likelihood at the optimum is not
 *    below the one at the true parameters (the continuous-time chain sampled
 *    hourly: P = expm(Q 1h));
 *  - GARCH(1,1) simulated here (normal and Student t): persistence within
 *    0.02, the log-likelihood at the optimum not below the truth's, nu roughly;
 *  - determinism: two fits give the same YAML bytes;
 *  - the window: resampling, the time of each return, a gap named or
 *    skipped by the resolution, too few returns, a resolution that does not
 *    divide;
 *  - the YAML loads as a scenario's market section; the regime path CSV.
 */
#include <math.h>
#include <gsl/gsl_randist.h>

#include "core/queue.h"
#include "core/rng.h"
#include "core/series.h"
#include "models/calibrate.h"
#include "models/pricepath.h"
#include "testutil.h"

#define HOUR 3600000LL
#define DAY 86400000LL
#define T2020 1577836800000LL

/* ---- the likelihood written plainly ----
 * Hamilton's (1989) filter of a Gaussian Markov-switching model, started
 * from the chain's stationary distribution (by power iteration), sharing
 * no code with calibrate.c: what the fit reports as its log-likelihood must
 * be this at its parameters. (statsmodels' MarkovRegression, switching
 * variance, steady-state start, agreed with marginsim's fits of the daily
 * BTC and ETH files to 1e-4 in log-likelihood and 1% in standard errors:
 * docs/calibration.md.) */
static double ref_rs_loglik(const double *r, int64_t n, const ms_calib_rs *m) {
  int k = m->k;
  double pi[MS_CALIB_MAX_REGIMES], nx[MS_CALIB_MAX_REGIMES], f[MS_CALIB_MAX_REGIMES];
  for (int j = 0; j < k; j++) pi[j] = 1.0 / k;
  for (int it = 0; it < 1000000; it++) {
    double d = 0;
    for (int j = 0; j < k; j++) {
      nx[j] = 0;
      for (int i = 0; i < k; i++) nx[j] += pi[i] * m->p[i][j];
    }
    for (int j = 0; j < k; j++) d = fmax(d, fabs(nx[j] - pi[j])), pi[j] = nx[j];
    if (d < 1e-17) break;
  }
  double ll = 0;
  for (int64_t t = 0; t < n; t++) {
    double L = 0;
    for (int j = 0; j < k; j++) {
      double pred = 0;
      if (t == 0) pred = pi[j];
      else
        for (int i = 0; i < k; i++) pred += pi[i] * m->p[i][j];
      double z = (r[t] - m->m[j]) / m->s[j];
      f[j] = pred * exp(-0.5 * z * z) / (m->s[j] * 2.5066282746310002); /* sqrt(2 pi) */
      L += f[j];
    }
    ll += log(L);
    for (int j = 0; j < k; j++) pi[j] = f[j] / L;
  }
  return ll;
}

/* ---- series simulated by ms_pricepath ---- */

/* The log returns of one path of @p yaml (step @p step) per step into *r (n). */
static double *simulate_at(const char *yaml, int64_t step, int64_t *n) {
  ms_error err;
  const char *sets[] = {"book.accounts=1", "book.leverage=1"};
  ms_config *cfg = load_yaml(yaml, sets, 2, &err);
  if (!cfg) fail_msg("%s", err.msg);
  assert_int_equal(cfg->step, step);
  int64_t ticks = cfg->horizon / cfg->step;
  double *lp = malloc((size_t)(ticks + 1) * sizeof *lp);
  assert_non_null(lp);
  ms_pricepath *pp;
  ms_queue *q;
  assert_ok(ms_pricepath_new(&pp, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 16, &err), &err);
  assert_ok(ms_pricepath_start(pp, cfg->seed, 0, q), &err);
  ms_queue_clock_start(q, cfg->step, cfg->step, cfg->horizon);
  lp[0] = ms_pricepath_log_price(pp);
  int64_t got = 0;
  ms_event ev;
  while (ms_queue_pop(q, &ev)) {
    if (ev.kind == MS_EV_TICK) {
      size_t m = ms_pricepath_fill(pp, ev.t, (size_t)ev.count, lp + 1 + got);
      assert_true(m >= 1);
      got += (int64_t)m;
      ms_queue_clock_advance(q, (int64_t)m);
      continue;
    }
    assert_true(ms_pricepath_on_event(pp, &ev, q) >= 0);
  }
  assert_int_equal(got, ticks);
  for (int64_t i = 0; i < ticks; i++) lp[i] = lp[i + 1] - lp[i];
  ms_queue_free(q);
  ms_pricepath_free(pp);
  ms_config_free(cfg);
  *n = ticks;
  return lp;
}

static double *simulate(const char *yaml, int64_t *n) { return simulate_at(yaml, HOUR, n); }

static ms_calib_returns returns_at(double *r, int64_t n, int64_t res) {
  ms_calib_returns ret = {0};
  ret.r = r;
  ret.n = n;
  ret.resolution = res;
  ret.t = calloc((size_t)n, sizeof *ret.t);
  for (int64_t i = 0; i < n; i++) ret.t[i] = T2020 + i * res;
  ret.first = T2020 - res;
  ret.end = T2020 + n * res;
  return ret;
}

static ms_calib_returns returns_of(double *r, int64_t n) { return returns_at(r, n, HOUR); }

/* expm(A) of a small matrix: scaling and squaring of a Taylor series. */
static void expm(int k, double a[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES],
                 double out[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES]) {
  double s[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES], term[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES],
      tmp[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES];
  const int sq = 10; /* A / 1024 */
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) {
      s[i][j] = a[i][j] / 1024.0;
      out[i][j] = term[i][j] = (double)(i == j);
    }
  for (int p = 1; p <= 20; p++) {
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) {
        tmp[i][j] = 0;
        for (int l = 0; l < k; l++) tmp[i][j] += term[i][l] * s[l][j];
      }
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) {
        term[i][j] = tmp[i][j] / p;
        out[i][j] += term[i][j];
      }
  }
  for (int r = 0; r < sq; r++) {
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) {
        tmp[i][j] = 0;
        for (int l = 0; l < k; l++) tmp[i][j] += out[i][l] * out[l][j];
      }
    memcpy(out, tmp, sizeof tmp);
  }
}

typedef struct truth {
  int k;
  double vol[MS_CALIB_MAX_REGIMES], drift[MS_CALIB_MAX_REGIMES], dur_h[MS_CALIB_MAX_REGIMES];
  double w[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES]; /* transition weights (zero diagonal) */
} truth;

/* The discrete-time model the hourly returns of @p t follow (up to the ticks
 * that straddle a switch): per-hour moments, and P = expm(Q 1h). */
static ms_calib_rs hourly_model(const truth *t) {
  ms_calib_rs p = {0};
  p.k = t->k;
  double h = 1.0 / (365.0 * 24.0), q[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES] = {{0}};
  for (int i = 0; i < t->k; i++) {
    p.m[i] = (t->drift[i] - 0.5 * t->vol[i] * t->vol[i]) * h;
    p.s[i] = t->vol[i] * sqrt(h);
    double ws = 0;
    for (int j = 0; j < t->k; j++) ws += t->w[i][j];
    for (int j = 0; j < t->k; j++) q[i][j] = j == i ? -1.0 / t->dur_h[i] : t->w[i][j] / ws / t->dur_h[i];
  }
  expm(t->k, q, p.p);
  for (int i = 0; i < t->k; i++) { /* rows to exactly 1 */
    double s = 0;
    for (int j = 0; j < t->k; j++) s += p.p[i][j];
    for (int j = 0; j < t->k; j++) p.p[i][j] /= s;
  }
  return p;
}

static void check_recovery(const char *yaml, const truth *t, int64_t *n_out) {
  int64_t n;
  double *r = simulate(yaml, &n);
  ms_calib_returns ret = returns_of(r, n);
  ms_calib_opts o;
  ms_calib_opts_default(&o);
  o.regimes = t->k;
  ms_calib_result *res;
  ms_error err;
  assert_ok(ms_calib_fit(&res, &ret, &o, &err), &err);
  assert_int_equal(res->rs.k, t->k);
  for (int j = 0; j < t->k; j++) {
    double ev = res->vol[j] / t->vol[j] - 1, ed = res->duration[j] / (t->dur_h[j] * HOUR) - 1;
    print_message("  %d regimes, regime %d: vol %.4f (true %.2f, error %+.2f%%, se %.4f), mean duration %.2fh "
                  "(true %.0fh, error %+.1f%%)\n",
                  t->k, j, res->vol[j], t->vol[j], 100 * ev, res->vol_se[j], res->duration[j] / HOUR, t->dur_h[j],
                  100 * ed);
    if (fabs(ev) > 0.05) fail_msg("regime %d: vol %.4f, true %.4f (more than 5%% off)", j, res->vol[j], t->vol[j]);
    if (fabs(ed) > 0.15)
      fail_msg("regime %d: mean duration %.2fh, true %.2fh (more than 15%% off)", j, res->duration[j] / HOUR,
               t->dur_h[j]);
  }
  /* the YAML's transition weights: the continuous-time chain's, within 0.1 */
  for (int i = 0; i < t->k && t->k >= 3; i++) {
    double ws = 0;
    for (int j = 0; j < t->k; j++) ws += t->w[i][j];
    for (int j = 0; j < t->k; j++)
      if (fabs(res->jump[i][j] - t->w[i][j] / ws) > 0.1)
        fail_msg("transition[%d][%d] %.3f, true %.3f", i, j, res->jump[i][j], t->w[i][j] / ws);
  }
  ms_calib_rs tp = hourly_model(t);
  double ll_true = ms_calib_rs_loglik(r, n, &tp);
  print_message("  log-likelihood at the optimum %.3f, at the truth %.3f (%d of %d starts at the best)\n",
                res->loglik, ll_true, res->starts_near_best, res->starts_done);
  assert_true(isfinite(ll_true));
  if (!(res->loglik >= ll_true)) fail_msg("log-likelihood %.6f at the optimum < %.6f at the truth", res->loglik, ll_true);
  /* the reported optimum is what the public function says at the reported parameters, and what the
   * likelihood written plainly says */
  assert_true(fabs(ms_calib_rs_loglik(r, n, &res->rs) - res->loglik) < 1e-9 * fabs(res->loglik));
  double ll_ref = ref_rs_loglik(r, n, &res->rs);
  if (!(fabs(ll_ref - res->loglik) < 1e-9 * fabs(res->loglik)))
    fail_msg("log-likelihood %.10f, Hamilton's filter written plainly %.10f", res->loglik, ll_ref);
  assert_true(fabs(ref_rs_loglik(r, n, &tp) - ll_true) < 1e-9 * fabs(ll_true));
  assert_true(res->have_se);
  for (int j = 0; j < t->k; j++) assert_true(res->vol_se[j] > 0 && res->duration_se[j] > 0);
  /* the smoothed probabilities are distributions */
  for (int64_t i = 0; i < n; i += 997) {
    double s = 0;
    for (int j = 0; j < t->k; j++) s += res->smoothed[i * t->k + j];
    assert_true(fabs(s - 1) < 1e-9);
  }
  ms_calib_result_free(res);
  free(ret.t);
  free(r);
  *n_out = n;
}

static void test_calibrate__recovers_two_regimes(void **state) {
  (void)state;
  truth t = {2, {0.5, 1.5}, {0.2, -1.0}, {72, 24}, {{0, 1}, {1, 0}}};
  int64_t n;
  check_recovery("seed: 11\npaths: 1\nhorizon: 3000d\nstep: 1h\nmarket:\n  regimes:\n"
                 "    - {name: calm, vol: 0.5, drift: 0.2, mean_duration: 3d}\n"
                 "    - {name: stress, vol: 1.5, drift: -1, mean_duration: 1d}\n"
                 "  start_regime: stationary\n",
                 &t, &n);
  assert_int_equal(n, 3000 * 24);
}

static void test_calibrate__recovers_three_regimes(void **state) {
  (void)state;
  truth t = {3, {0.4, 1.0, 2.5}, {0.3, 0.0, -2.0}, {96, 48, 24}, {{0, 0.8, 0.2}, {0.7, 0, 0.3}, {0.5, 0.5, 0}}};
  int64_t n;
  check_recovery("seed: 12\npaths: 1\nhorizon: 3000d\nstep: 1h\nmarket:\n  regimes:\n"
                 "    - {name: calm, vol: 0.4, drift: 0.3, mean_duration: 4d}\n"
                 "    - {name: mid, vol: 1.0, drift: 0, mean_duration: 2d}\n"
                 "    - {name: stress, vol: 2.5, drift: -2, mean_duration: 1d}\n"
                 "  transition: [[0, 0.8, 0.2], [0.7, 0, 0.3], [0.5, 0.5, 0]]\n"
                 "  start_regime: stationary\n",
                 &t, &n);
}

/* ---- GARCH ---- */

static double *simulate_garch(const ms_calib_garch *g, int64_t n, uint64_t seed) {
  ms_error err;
  gsl_rng *rng;
  assert_ok(ms_rng_new(&rng, &err), &err);
  ms_rng_seed(rng, seed, 0, 1);
  double *r = malloc((size_t)n * sizeof *r);
  double s2 = g->omega / (1 - g->alpha - g->beta), e = 0;
  for (int64_t t = 0; t < n; t++) {
    if (t > 0) s2 = g->omega + g->alpha * e * e + g->beta * s2;
    double z = ms_rng_gaussian(rng);
    if (g->dist == MS_CALIB_T) /* a t with unit variance */
      z = z / sqrt(gsl_ran_chisq(rng, g->nu) / g->nu) * sqrt((g->nu - 2) / g->nu);
    e = sqrt(s2) * z;
    r[t] = g->mu + e;
  }
  ms_rng_free(rng);
  return r;
}

static void check_garch(ms_calib_dist dist) {
  const int64_t n = 20000;
  double uvar = 0.8 * 0.8 / 8760; /* an hourly series of vol 0.8 */
  ms_calib_garch g = {dist, 2e-5, uvar * (1 - 0.98), 0.08, 0.90, dist == MS_CALIB_T ? 5.0 : 0};
  double *r = simulate_garch(&g, n, dist == MS_CALIB_T ? 22 : 21);
  ms_calib_returns ret = returns_of(r, n);
  ms_calib_opts o;
  ms_calib_opts_default(&o);
  o.model = MS_CALIB_GARCH;
  o.dist = dist;
  ms_calib_result *res;
  ms_error err;
  assert_ok(ms_calib_fit(&res, &ret, &o, &err), &err);
  double ll_true = ms_calib_garch_loglik(r, n, &g);
  print_message("  garch %s: alpha %.4f beta %.4f persistence %.4f +/- %.4f (true 0.98), nu %.2f +/- %.2f, "
                "log-likelihood %.3f (truth %.3f)\n",
                dist == MS_CALIB_T ? "t" : "normal", res->garch.alpha, res->garch.beta, res->persistence,
                res->persistence_se, res->garch.nu, res->garch_se.nu, res->loglik, ll_true);
  if (fabs(res->persistence - 0.98) > 0.02) fail_msg("persistence %.4f, true 0.98", res->persistence);
  if (!(res->loglik >= ll_true)) fail_msg("log-likelihood %.6f at the optimum < %.6f at the truth", res->loglik, ll_true);
  assert_true(res->have_se);
  assert_int_equal(res->nparams, dist == MS_CALIB_T ? 5 : 4);
  if (dist == MS_CALIB_T && fabs(res->garch.nu - 5) > 1.5) fail_msg("nu %.3f, true 5", res->garch.nu);
  assert_true(fabs(res->uncond_vol / 0.8 - 1) < 0.15);
  ms_calib_result_free(res);
  free(ret.t);
  free(r);
}

static void test_calibrate__garch_normal(void **state) {
  (void)state;
  check_garch(MS_CALIB_NORMAL);
}

static void test_calibrate__garch_t(void **state) {
  (void)state;
  check_garch(MS_CALIB_T);
}

/* ---- determinism, the YAML, the regime path ---- */

static ms_series *read_shipped(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/scenarios/data/%s", MS_SOURCE_DIR, name);
  ms_series *s;
  ms_error err;
  assert_ok(ms_series_read(&s, path, &err), &err);
  return s;
}

static char *fit_yaml(const ms_series *s, const ms_calib_opts *o, ms_calib_result **keep) {
  ms_calib_returns ret;
  ms_calib_result *res;
  ms_error err;
  char *y;
  assert_ok(ms_calib_returns_make(&ret, s, INT64_MIN, INT64_MAX, 0, &err), &err);
  assert_ok(ms_calib_fit(&res, &ret, o, &err), &err);
  assert_ok(ms_calib_yaml(&y, res, &ret, "btc.csv", &err), &err);
  if (keep) *keep = res;
  else ms_calib_result_free(res);
  ms_calib_returns_free(&ret);
  return y;
}

static void test_calibrate__deterministic_yaml(void **state) {
  (void)state;
  ms_series *s = read_shipped("btc_usdt_1d_2017-2026_binance_spot.csv");
  ms_calib_opts o;
  ms_calib_opts_default(&o);
  o.regimes = 3;
  ms_calib_result *ra, *rb;
  char *a = fit_yaml(s, &o, &ra), *b = fit_yaml(s, &o, &rb);
  assert_string_equal(a, b);
  /* not only the rounded text: every bit of the fit (the starts are drawn, not taken from the clock) */
  assert_memory_equal(&ra->rs, &rb->rs, sizeof ra->rs);
  assert_memory_equal(&ra->loglik, &rb->loglik, sizeof ra->loglik);
  assert_memory_equal(ra->smoothed, rb->smoothed, (size_t)ra->n * 3 * sizeof *ra->smoothed);
  ms_calib_result_free(ra);
  ms_calib_result_free(rb);
  assert_contains(a, "# marginsim calibrate: btc.csv\n");
  assert_contains(a, "resolution 1d, 3063 returns");
  assert_contains(a, "market:\n  model: regime_switching\n");
  assert_contains(a, "  transition:\n");
  assert_contains(a, "  start_regime: stationary\n");
  /* another seed draws other starting points */
  o.seed = 2;
  ms_calib_result *res;
  char *c = fit_yaml(s, &o, &res);
  assert_int_equal(res->opts.seed, 2);
  ms_calib_result_free(res);
  o.model = MS_CALIB_GARCH;
  char *g1 = fit_yaml(s, &o, NULL), *g2 = fit_yaml(s, &o, NULL);
  assert_string_equal(g1, g2);
  assert_contains(g1, "  garch: {resolution: 1d, omega: ");
  assert_contains(g1, "innovations: normal}");
  free(a);
  free(b);
  free(c);
  free(g1);
  free(g2);
  ms_series_free(s);
}

/* The YAML is a market section the loader takes, for 1, 2 and 3 regimes. */
static void test_calibrate__yaml_loads(void **state) {
  (void)state;
  ms_series *s = read_shipped("eth_usdt_1d_2017-2026_binance_spot.csv");
  for (int k = 1; k <= 3; k++) {
    ms_calib_opts o;
    ms_calib_opts_default(&o);
    o.regimes = k;
    o.starts = 3;
    ms_calib_result *res;
    char *y = fit_yaml(s, &o, &res);
    char doc[8192];
    snprintf(doc, sizeof doc, "paths: 1\nhorizon: 1d\n%s", y);
    ms_error err;
    ms_config *cfg = load_yaml(doc, NULL, 0, &err);
    if (!cfg) fail_msg("%d regimes: the YAML does not load: %s\n%s", k, err.msg, y);
    assert_int_equal(cfg->market.nregimes, k);
    for (int j = 0; j < k; j++) {
      assert_true(fabs(cfg->market.regimes[j].vol / res->vol[j] - 1) < 1e-3);
      if (k > 1) assert_true(fabs((double)cfg->market.regimes[j].mean_duration / res->duration[j] - 1) < 0.01);
    }
    ms_config_free(cfg);
    ms_calib_result_free(res);
    free(y);
  }
  ms_series_free(s);
}

static void test_calibrate__regime_path_csv(void **state) {
  (void)state;
  ms_series *s = read_shipped("btc_usdt_1d_2017-2026_binance_spot.csv");
  ms_calib_returns ret;
  ms_calib_result *res;
  ms_error err;
  ms_calib_opts o;
  ms_calib_opts_default(&o);
  assert_ok(ms_calib_returns_make(&ret, s, DAY * 18262, DAY * (18262 + 366), 0, &err), &err); /* 2020 */
  assert_int_equal(ret.n, 365);
  assert_ok(ms_calib_fit(&res, &ret, &o, &err), &err);
  char *csv;
  assert_ok(ms_calib_regime_csv(&csv, res, &ret, &err), &err);
  assert_true(strncmp(csv, "time,return,regime,p0,p1\n2020-01-02T00:00:00Z,", 46) == 0);
  int lines = 0;
  for (const char *c = csv; *c; c++) lines += *c == '\n';
  assert_int_equal(lines, 366);
  /* 2020-03-12, the crash day: in the high-vol regime */
  const char *d = strstr(csv, "\n2020-03-12T00:00:00Z,");
  assert_non_null(d);
  double ret312, p0, p1;
  int reg;
  assert_int_equal(sscanf(d + 22, "%lf,%d,%lf,%lf", &ret312, &reg, &p0, &p1), 4);
  assert_true(ret312 < -0.4);
  assert_int_equal(reg, 1);
  assert_true(p1 > 0.99 && fabs(p0 + p1 - 1) < 2e-6);
  free(csv);
  ms_calib_result_free(res);
  ms_calib_returns_free(&ret);
  ms_series_free(s);
}

/* The round trip a user makes: fit a real daily series (ETH, 2 regimes of
 * about 10 and 5 days), paste the YAML into a scenario stepping a day,
 * simulate 30,000 days with ms_pricepath, fit that: the same regimes come
 * back (vols within 5%, mean durations within 15%). Regimes a few periods
 * long are where D / (1 - P[k][k]) is not the mean holding time of the
 * simulator's continuous-time chain (it counts the periods that leave and
 * come back): written so, they came back 14% and 20% longer. Shorter
 * regimes (BTC's 2.8-day stress) come back longer still: a day with a
 * switch inside is a mixture the discrete-time model does not have. */
static void test_calibrate__round_trip_daily(void **state) {
  (void)state;
  ms_series *s = read_shipped("eth_usdt_1d_2017-2026_binance_spot.csv");
  ms_calib_opts o;
  ms_calib_opts_default(&o);
  ms_calib_result *a, *b;
  char *y = fit_yaml(s, &o, &a);
  static char doc[16384];
  snprintf(doc, sizeof doc, "seed: 5\npaths: 1\nhorizon: 30000d\nstep: 1d\n%s", y);
  int64_t n;
  double *r = simulate_at(doc, DAY, &n);
  ms_calib_returns ret = returns_at(r, n, DAY);
  ms_error err;
  assert_ok(ms_calib_fit(&b, &ret, &o, &err), &err);
  assert_true(a->generator && b->generator);
  for (int j = 0; j < 2; j++) {
    double ev = b->vol[j] / a->vol[j] - 1, ed = b->duration[j] / a->duration[j] - 1;
    print_message("  regime %d: vol %.4f -> %.4f (%+.1f%%), mean duration %.2fd +/- %.2fd -> %.2fd (%+.1f%%)\n", j,
                  a->vol[j], b->vol[j], 100 * ev, a->duration[j] / DAY, a->duration_se[j] / DAY, b->duration[j] / DAY,
                  100 * ed);
    if (fabs(ev) > 0.05) fail_msg("regime %d: vol %.4f back as %.4f", j, a->vol[j], b->vol[j]);
    if (fabs(ed) > 0.15)
      fail_msg("regime %d: mean duration %.2fd back as %.2fd", j, a->duration[j] / DAY, b->duration[j] / DAY);
  }
  ms_calib_result_free(a);
  ms_calib_result_free(b);
  free(ret.t);
  free(r);
  free(y);
  ms_series_free(s);
}

/* The same round trip for GARCH: BTC daily's normal fit pasted into a
 * scenario of market.model garch stepping a day (the model's convention:
 * log return mu R / year - s2 / 2 + e), simulated and fitted again. */
static void test_calibrate__round_trip_garch(void **state) {
  (void)state;
  ms_series *s = read_shipped("btc_usdt_1d_2017-2026_binance_spot.csv");
  ms_calib_opts o;
  ms_calib_opts_default(&o);
  o.model = MS_CALIB_GARCH;
  ms_calib_result *a, *b;
  char *y = fit_yaml(s, &o, &a);
  static char doc[16384];
  snprintf(doc, sizeof doc, "seed: 7\npaths: 1\nhorizon: 30000d\nstep: 1d\n%s", y);
  int64_t n;
  double *r = simulate_at(doc, DAY, &n);
  ms_calib_returns ret = returns_at(r, n, DAY);
  ms_error err;
  assert_ok(ms_calib_fit(&b, &ret, &o, &err), &err);
  print_message("  alpha %.4f -> %.4f, beta %.4f -> %.4f, persistence %.4f -> %.4f, uncond vol %.4f -> %.4f, "
                "drift %.4f -> %.4f +/- %.4f\n",
                a->garch.alpha, b->garch.alpha, a->garch.beta, b->garch.beta, a->persistence, b->persistence,
                a->uncond_vol, b->uncond_vol, a->garch_drift, b->garch_drift, b->garch_se.mu * b->periods_per_year);
  if (fabs(b->persistence - a->persistence) > 0.02) fail_msg("persistence %.4f back as %.4f", a->persistence, b->persistence);
  if (fabs(b->uncond_vol / a->uncond_vol - 1) > 0.1) fail_msg("vol %.4f back as %.4f", a->uncond_vol, b->uncond_vol);
  /* the drift written makes the simulated log returns average the fitted mu
   * (a drift without the s2 / 2 would be 5 standard errors off) */
  print_message("  mu per period %.6f -> %.6f +/- %.6f\n", a->garch.mu, b->garch.mu, b->garch_se.mu);
  if (fabs(b->garch.mu - a->garch.mu) > 3 * b->garch_se.mu) fail_msg("mu %.6f back as %.6f", a->garch.mu, b->garch.mu);
  ms_calib_result_free(a);
  ms_calib_result_free(b);
  free(ret.t);
  free(r);
  free(y);
  ms_series_free(s);
}

/* EM with a stationary start is not monotone near the optimum (its M-step
 * leaves out the initial term): on BTC daily with two regimes the
 * likelihood falls by about 1e-6 an iteration from the 64th. The run must
 * keep the best parameters it saw, so that letting it run longer never
 * ends lower than stopping it earlier. */
static void test_calibrate__em_never_ends_lower(void **state) {
  (void)state;
  ms_series *s = read_shipped("btc_usdt_1d_2017-2026_binance_spot.csv");
  ms_calib_returns ret;
  ms_error err;
  assert_ok(ms_calib_returns_make(&ret, s, INT64_MIN, INT64_MAX, 0, &err), &err);
  ms_calib_opts o;
  ms_calib_opts_default(&o);
  o.starts = 1;
  o.finalists = 1;
  o.explore_iter = 1;
  double best = -INFINITY;
  for (int m = 40; m <= 90; m++) {
    o.max_iter = m;
    ms_calib_result *res;
    assert_ok(ms_calib_fit(&res, &ret, &o, &err), &err);
    if (res->loglik < best)
      fail_msg("%d EM iterations end at log-likelihood %.10f, below %.10f of fewer", m, res->loglik, best);
    best = res->loglik;
    ms_calib_result_free(res);
  }
  ms_calib_returns_free(&ret);
  ms_series_free(s);
}

/* ---- the window ---- */

/* 200 hourly candles from 2020-01-01, close i+100 at hour i, hour @p skip missing (-1: none). */
static ms_series *hourly(int skip) {
  static char text[200 * 80];
  size_t len = (size_t)snprintf(text, sizeof text, "timestamp,open,high,low,close\n");
  for (int i = 0; i < 200; i++) {
    if (i == skip) continue;
    len += (size_t)snprintf(text + len, sizeof text - len, "%lld,%d,%d,%d,%d\n", (long long)(T2020 + i * HOUR),
                            i + 100, i + 101, i + 99, i + 100);
  }
  ms_series *s;
  ms_error err;
  assert_ok(ms_series_parse(&s, text, len, "h.csv", &err), &err);
  return s;
}

static void test_calibrate__window_and_resolution(void **state) {
  (void)state;
  ms_series *s = hourly(-1);
  ms_calib_returns ret;
  ms_error err;
  assert_ok(ms_calib_returns_make(&ret, s, INT64_MIN, INT64_MAX, 0, &err), &err);
  assert_int_equal(ret.n, 199);
  assert_true(ret.r[0] == log(101.0 / 100.0));
  assert_int_equal(ret.t[0], T2020 + HOUR); /* the return of hour 1: close of hour 1 over close of hour 0 */
  assert_int_equal(ret.first, T2020);
  assert_int_equal(ret.end, T2020 + 200 * HOUR);
  ms_calib_returns_free(&ret);
  /* [from, to) by open time; every 2nd close at 2h */
  assert_ok(ms_calib_returns_make(&ret, s, T2020 + 10 * HOUR, T2020 + 131 * HOUR, 2 * HOUR, &err), &err);
  assert_int_equal(ret.n, 60); /* closes of hours 10, 12, ..., 130 */
  assert_true(ret.r[0] == log(112.0 / 110.0));
  assert_int_equal(ret.t[0], T2020 + 11 * HOUR);
  assert_true(ret.r[59] == log(230.0 / 228.0));
  assert_int_equal(ret.end, T2020 + 131 * HOUR);
  ms_calib_returns_free(&ret);
  ms_series_free(s);
}

static void expect_returns_error(const ms_series *s, int64_t from, int64_t to, int64_t res, const char *want) {
  ms_calib_returns ret;
  ms_error err;
  ms_error_clear(&err);
  ms_status st = ms_calib_returns_make(&ret, s, from, to, res, &err);
  if (st == MS_OK) fail_msg("expected an error containing \"%s\", got %lld returns", want, (long long)ret.n);
  assert_int_equal(st, MS_ERR_INPUT);
  assert_contains(err.msg, want);
  assert_null(ret.r);
}

static void test_calibrate__window_errors(void **state) {
  (void)state;
  ms_series *s = hourly(77);
  assert_int_equal(s->ngaps, 1);
  expect_returns_error(s, INT64_MIN, INT64_MAX, 0, "h.csv: no candle at 2020-01-04T05:00:00Z, inside the window");
  /* a window that ends before the gap, or one that starts after it */
  ms_calib_returns ret;
  ms_error err;
  assert_ok(ms_calib_returns_make(&ret, s, INT64_MIN, T2020 + 77 * HOUR, 0, &err), &err);
  assert_int_equal(ret.n, 76);
  ms_calib_returns_free(&ret);
  /* 2h from hour 0: closes at even hours, the missing hour 77 is skipped */
  assert_ok(ms_calib_returns_make(&ret, s, INT64_MIN, INT64_MAX, 2 * HOUR, &err), &err);
  assert_int_equal(ret.n, 99);
  ms_calib_returns_free(&ret);
  /* from hour 1: the odd closes, 77 among them */
  expect_returns_error(s, T2020 + HOUR, INT64_MAX, 2 * HOUR, "no candle at 2020-01-04T05:00:00Z");
  expect_returns_error(s, T2020 + 100 * HOUR, T2020 + 150 * HOUR, 0, "49 returns at 1h in the window: at least 50");
  expect_returns_error(s, T2020 + 300 * HOUR, INT64_MAX, 0, "0 returns at 1h in the window");
  expect_returns_error(s, INT64_MIN, INT64_MAX, 90 * 60000, "resolution 90m is not a whole multiple of the file's "
                                                             "resolution 1h");
  expect_returns_error(s, T2020 + 5 * HOUR, T2020 + 5 * HOUR, 0, "the window is empty");
  ms_series_free(s);
}

static void test_calibrate__bad_options(void **state) {
  (void)state;
  ms_series *s = hourly(-1);
  ms_calib_returns ret;
  ms_calib_result *res = (ms_calib_result *)1;
  ms_error err;
  assert_ok(ms_calib_returns_make(&ret, s, INT64_MIN, INT64_MAX, 0, &err), &err);
  ms_calib_opts o;
  ms_calib_opts_default(&o);
  o.regimes = 0;
  assert_int_equal(ms_calib_fit(&res, &ret, &o, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "regimes: 0, expected 1 to 6");
  assert_null(res);
  o.regimes = MS_CALIB_MAX_REGIMES + 1;
  assert_int_equal(ms_calib_fit(&res, &ret, &o, &err), MS_ERR_INPUT);
  ms_calib_opts_default(&o);
  o.starts = 0;
  assert_int_equal(ms_calib_fit(&res, &ret, &o, &err), MS_ERR_INPUT);
  /* an invalid model has no likelihood */
  ms_calib_rs p = {0};
  p.k = 2;
  p.s[0] = p.s[1] = 0.01;
  p.p[0][0] = p.p[1][1] = 0.5;
  p.p[0][1] = p.p[1][0] = 0.6;
  assert_true(ms_calib_rs_loglik(ret.r, ret.n, &p) == -INFINITY);
  ms_calib_returns_free(&ret);
  ms_series_free(s);
}


/* A set cancel flag (the CLI's Ctrl-C) stops either fit at its next
 * iteration: MS_ERR_CANCELLED, no result, well before a full fit. */
static void test_calibrate__cancel_stops_the_fit(void **state) {
  (void)state;
  ms_series *s = read_shipped("eth_usdt_1d_2017-2026_binance_spot.csv");
  ms_calib_returns ret;
  ms_error err;
  assert_ok(ms_calib_returns_make(&ret, s, INT64_MIN, INT64_MAX, 0, &err), &err);
  volatile sig_atomic_t flag = 1;
  for (int model = 0; model < 2; model++) {
    ms_calib_opts o;
    ms_calib_opts_default(&o);
    o.model = model ? MS_CALIB_GARCH : MS_CALIB_REGIME_SWITCHING;
    o.cancel = &flag;
    ms_calib_result *res = (ms_calib_result *)&o; /* not NULL before */
    assert_int_equal(ms_calib_fit(&res, &ret, &o, &err), MS_ERR_CANCELLED);
    assert_contains(err.msg, "interrupted");
    assert_null(res);
  }
  ms_calib_returns_free(&ret);
  ms_series_free(s);
}

/* ---- the funding premium ---- */

/* @p n hourly candles of a perpetual over a random-walk index, the premium
 * an exact AR(1) (an OU sampled hourly) of mean mu, coefficient phi and
 * stationary sd sd, from @p r; an hour @p skip missing from the perp (-1: none). */
static void premium_pair(gsl_rng *r, int n, double mu, double phi, double sd, int skip, ms_series **perp,
                         ms_series **index) {
  size_t cap = (size_t)n * 96 + 64, lp = 0, li = 0;
  char *tp = malloc(cap), *ti = malloc(cap);
  assert_true(tp && ti);
  lp = (size_t)snprintf(tp, cap, "timestamp,open,high,low,close\n");
  li = (size_t)snprintf(ti, cap, "timestamp,open,high,low,close\n");
  double S = 30000, x = mu + sd * gsl_ran_gaussian(r, 1.0), e = phi < 1 ? sd * sqrt(1 - phi * phi) : sd;
  for (int i = 0; i < n; i++) {
    S *= exp(0.005 * gsl_ran_gaussian(r, 1.0));
    x = mu + phi * (x - mu) + e * gsl_ran_gaussian(r, 1.0);
    double P = S * (1 + x);
    li += (size_t)snprintf(ti + li, cap - li, "%lld,%.17g,%.17g,%.17g,%.17g\n", (long long)(T2020 + i * HOUR), S, S, S, S);
    if (i != skip)
      lp += (size_t)snprintf(tp + lp, cap - lp, "%lld,%.17g,%.17g,%.17g,%.17g\n", (long long)(T2020 + i * HOUR), P, P, P,
                             P);
  }
  ms_error err;
  assert_ok(ms_series_parse(perp, tp, lp, "perp.csv", &err), &err);
  assert_ok(ms_series_parse(index, ti, li, "spot.csv", &err), &err);
  free(tp);
  free(ti);
}

/* The fit recovers the OU it was simulated from, and its standard errors
 * are honest: the 95% intervals of the coefficient, the mean and the sd
 * cover the truth in about 95% of 300 samples (at least 91%: 5 binomial
 * standard errors below). */
static void test_calibrate__premium_recovers_its_ou(void **state) {
  (void)state;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 5);
  const double mu = 2e-4, phi = 0.87, sd = 4e-4, hl = -3600000.0 * log(2.0) / log(phi);
  int cover_phi = 0, cover_mean = 0, cover_sd = 0, cover_hl = 0;
  const int R = 300;
  for (int k = 0; k < R; k++) {
    ms_series *p, *i;
    premium_pair(r, 2000, mu, phi, sd, k == 0 ? 700 : -1, &p, &i);
    ms_calib_premium f;
    ms_error err;
    assert_ok(ms_calib_premium_fit(&f, p, i, INT64_MIN, INT64_MAX, &err), &err);
    if (k == 0) { /* the missing hour: two pairs fewer, one candle fewer */
      assert_int_equal(f.n, 1999);
      assert_int_equal(f.pairs, 1997);
      assert_int_equal(f.resolution, HOUR);
    }
    cover_phi += fabs(f.phi - phi) < 1.96 * f.phi_se;
    cover_mean += fabs(f.mean - mu) < 1.96 * f.mean_se;
    cover_sd += fabs(f.sd - sd) < 1.96 * f.sd_se;
    cover_hl += fabs(f.half_life - hl) < 1.96 * f.half_life_se;
    ms_series_free(p);
    ms_series_free(i);
  }
  print_message("95%% intervals cover: phi %d, mean %d, sd %d, half-life %d of %d\n", cover_phi, cover_mean, cover_sd,
                cover_hl, R);
  const int least = (int)(0.91 * R);
  assert_true(cover_phi >= least && cover_mean >= least && cover_sd >= least && cover_hl >= least);
  gsl_rng_free(r);
}

static void test_calibrate__premium_bad_input(void **state) {
  (void)state;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 6);
  ms_series *p, *i;
  ms_calib_premium f;
  ms_error err;
  /* a window of 40 hours: too few pairs */
  premium_pair(r, 300, 0, 0.8, 1e-4, -1, &p, &i);
  assert_int_equal(ms_calib_premium_fit(&f, p, i, T2020, T2020 + 40 * HOUR, &err), MS_ERR_INPUT);
  assert_non_null(strstr(err.msg, "pairs of consecutive candles"));
  /* a premium that wanders off (a random walk): no mean to revert to */
  ms_series_free(p);
  ms_series_free(i);
  premium_pair(r, 300, 0, 1.02, 1e-4, -1, &p, &i);
  assert_int_equal(ms_calib_premium_fit(&f, p, i, INT64_MIN, INT64_MAX, &err), MS_ERR_INPUT);
  assert_non_null(strstr(err.msg, "does not revert"));
  ms_series_free(p);
  ms_series_free(i);
  /* two assets, not a perpetual and its index: a "premium" of 900% is refused (the scenario could not load it) */
  premium_pair(r, 300, 9.0, 0.8, 0.01, -1, &p, &i);
  assert_int_equal(ms_calib_premium_fit(&f, p, i, INT64_MIN, INT64_MAX, &err), MS_ERR_INPUT);
  assert_non_null(strstr(err.msg, "outside a funding premium's range"));
  ms_series_free(p);
  ms_series_free(i);
  /* other resolutions */
  ms_series *h = hourly(-1);
  static const char daily[] = "timestamp,open,high,low,close\n2020-01-01,1,1,1,1\n2020-01-02,1,1,1,1\n";
  ms_series *d;
  assert_ok(ms_series_parse(&d, daily, sizeof daily - 1, "d.csv", &err), &err);
  assert_int_equal(ms_calib_premium_fit(&f, h, d, INT64_MIN, INT64_MAX, &err), MS_ERR_INPUT);
  assert_non_null(strstr(err.msg, "the same resolution"));
  ms_series_free(h);
  ms_series_free(d);
  gsl_rng_free(r);
}


/* The funding: section printed for a fast premium (candles of a second:
 * a half-life of 0.26 s, which whole seconds printed as 0s) loads into a
 * scenario with the fitted half-life, to the ms; so does a mean or sd just
 * below 1 in size (4 digits printed 1, which the scenario refuses). */
static void test_calibrate__premium_text_loads_a_short_half_life(void **state) {
  (void)state;
  const double hls[] = {260.4, 0.3, 9999.6, 46250.2e3}, means[] = {2e-4, 0.99996, -0.99999, 0.5};
  const int64_t want[] = {260, 1, 10000, 46250000};
  for (int k = 0; k < 4; k++) {
    ms_calib_premium f = {.first = T2020, .last = T2020 + 400000, .n = 400, .pairs = 399, .resolution = 1000,
                          .mean = means[k], .sd = k == 1 ? 0.99997 : 1e-4, .phi = 0.07, .half_life = hls[k], .half_life_se = hls[k] / 4};
    char *summary, *y;
    ms_error err;
    assert_ok(ms_calib_premium_text(&summary, &y, &f, "p.csv", "i.csv", &err), &err);
    char doc[4096];
    snprintf(doc, sizeof doc, "paths: 1\nhorizon: 1d\n%s", y);
    ms_config *cfg = load_yaml(doc, NULL, 0, &err);
    if (!cfg) fail_msg("half-life %g ms: the YAML does not load: %s\n%s", hls[k], err.msg, y);
    assert_int_equal(cfg->funding.premium.half_life, want[k]);
    assert_true(fabs(cfg->funding.premium.mean - means[k]) < 1e-4 * fabs(means[k]));
    ms_config_free(cfg);
    free(summary);
    free(y);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calibrate__window_and_resolution),
      cmocka_unit_test(test_calibrate__window_errors),
      cmocka_unit_test(test_calibrate__bad_options),
      cmocka_unit_test(test_calibrate__recovers_two_regimes),
      cmocka_unit_test(test_calibrate__recovers_three_regimes),
      cmocka_unit_test(test_calibrate__garch_normal),
      cmocka_unit_test(test_calibrate__garch_t),
      cmocka_unit_test(test_calibrate__deterministic_yaml),
      cmocka_unit_test(test_calibrate__yaml_loads),
      cmocka_unit_test(test_calibrate__regime_path_csv),
      cmocka_unit_test(test_calibrate__round_trip_daily),
      cmocka_unit_test(test_calibrate__round_trip_garch),
      cmocka_unit_test(test_calibrate__em_never_ends_lower),
      cmocka_unit_test(test_calibrate__cancel_stops_the_fit),
      cmocka_unit_test(test_calibrate__premium_recovers_its_ou),
      cmocka_unit_test(test_calibrate__premium_bad_input),
      cmocka_unit_test(test_calibrate__premium_text_loads_a_short_half_life),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
