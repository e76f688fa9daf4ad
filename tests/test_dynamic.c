/*
 * test_dynamic — dynamic margin measures the volatility it claims to.
 *
 * On a constant-volatility GBM (the default market: one regime, vol 0.7, no
 * jumps, no impact) the dynamic ratio's target is k sigma sqrt(h) with the
 * true sigma. With the default margin.dynamic settings, run through the whole
 * engine so that sigma_hat is estimated from what the oracle publishes:
 *  - the time-average of ratio / target is within 5% of 1;
 *  - the ratio is below 0.75 x target less than 5% of the time;
 * both with the default push oracle (a publish on a 0.5% deviation or an
 * hourly heartbeat) and with a pull oracle (a publish every 400 ms); and
 * the same for the rolling-window estimator at its default window.
 *
 * The ratio is sampled every minute after a burn-in of one day, at least
 * four half-lives and one window (the prior sigma_0, here 1.5 x the true vol
 * so that an estimator stuck at its start fails, then weighs at most 1/16:
 * by hand, the EWMA's mean ratio is then at most 0.4% above its value from
 * the true vol; the statistics are those of the estimator, not of its
 * starting value), over two more days. Paths are
 * independent, so the Monte Carlo standard error of the mean is the standard
 * deviation of the per-path means over sqrt(paths); the test also requires
 * it to be small against the 5% tolerance, so that noise cannot decide.
 */
#include <math.h>

#include "engine/engine.h"
#include "models/margin.h"
#include "testutil.h"

#define PATHS 24
#define MAX_SE 0.01 /* the 5% tolerance is at least 5 standard errors */

typedef struct {
  double mean, se, below, floor_frac;
} ratio_stats;

static void measure(const char *oracle, const char *estimator, ratio_stats *out) {
  char y[1024];
  /* horizon: a burn-in of 1 day (>= 4 default half-lives) and 2 measured days */
  snprintf(y, sizeof y,
           "horizon: 3d\nstep: 1s\npaths: %d\n"
           "market: {initial_price: 1000, impact: {model: none}}\n"
           "book: {accounts: 1, leverage: 2}\n"
           "oracle: %s\n"
           "margin: {model: dynamic, dynamic: {estimator: %s, initial_vol: 1.05}}\n"
           "output: {timeseries: {paths: %d, every: 1m}}\n",
           PATHS, oracle, estimator, PATHS);
  ms_error err;
  ms_config *cfg = load_yaml(y, NULL, 0, &err);
  if (!cfg) fail_msg("%s\n%s", err.msg, y);
  const ms_dynamic_cfg *d = &cfg->margin.dynamic;
  double year_ms = cfg->market.days_per_year * 86400e3;
  double target = d->k * cfg->market.regimes[0].vol * sqrt((double)d->liquidation_horizon / year_ms);
  assert_true(target > d->floor && target < d->cap); /* the clamp is not what is tested */
  assert_true(4 * d->half_life <= 86400000 && d->window <= 86400000); /* the burn-in */
  ms_book *book = NULL;
  struct ms_index_static *idx = NULL;
  ms_engine *e = NULL;
  assert_ok(ms_engine_shared_new(cfg, &book, &idx, &err), &err);
  assert_ok(ms_engine_new(&e, cfg, book, idx, &err), &err);
  int64_t L = ms_trace_len(cfg), k0 = (int64_t)(86400e3 / (double)cfg->output.timeseries.every);
  double *buf = malloc((size_t)L * 9 * sizeof(double));
  assert_non_null(buf);
  ms_trace tr = {buf, buf + L, buf + 2 * L, (int32_t *)(buf + 6 * L), buf + 3 * L, buf + 4 * L,
                 (int32_t *)(buf + 7 * L), buf + 5 * L, buf + 8 * L};
  double sum = 0, sum2 = 0, below = 0, at_floor = 0, n = 0;
  for (uint64_t p = 0; p < PATHS; p++) {
    ms_path_summary s;
    assert_ok(ms_engine_run_path(e, p, &s, &tr, &err), &err);
    double pm = 0;
    for (int64_t k = k0; k < L; k++) {
      double x = tr.margin_ratio[k] / target;
      pm += x;
      below += x < 0.75;
      at_floor += tr.margin_ratio[k] <= d->floor;
    }
    pm /= (double)(L - k0);
    sum += pm;
    sum2 += pm * pm;
    n += (double)(L - k0);
  }
  out->mean = sum / PATHS;
  out->se = sqrt((sum2 / PATHS - out->mean * out->mean) / (PATHS - 1));
  out->below = below / n;
  out->floor_frac = at_floor / n;
  print_message("oracle %s, %s: mean ratio/target %.4f (s.e. %.4f), below 0.75 x target %.2f%%, at the floor %.2f%%\n",
                oracle, estimator, out->mean, out->se, 100 * out->below, 100 * out->floor_frac);
  free(buf);
  ms_engine_free(e);
  ms_engine_shared_free(book, idx);
  ms_config_free(cfg);
}

static void check(const ratio_stats *st) {
  assert_true(st->se < MAX_SE);
  if (!(fabs(st->mean - 1) < 0.05)) fail_msg("mean ratio / target %.4f: not within 5%% of 1", st->mean);
  if (!(st->below < 0.05)) fail_msg("below 0.75 x target %.2f%% of the time (>= 5%%)", 100 * st->below);
}

static void test_dynamic__push_oracle_measures_the_true_vol(void **state) {
  (void)state;
  ratio_stats st;
  measure("{kind: push}", "ewma", &st);
  check(&st);
}

static void test_dynamic__pull_oracle_measures_the_true_vol(void **state) {
  (void)state;
  ratio_stats st;
  measure("{kind: pull}", "ewma", &st);
  check(&st);
}

static void test_dynamic__window_measures_the_true_vol(void **state) {
  (void)state;
  ratio_stats st;
  measure("{kind: push}", "window", &st);
  check(&st);
  measure("{kind: pull}", "window", &st);
  check(&st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dynamic__push_oracle_measures_the_true_vol),
      cmocka_unit_test(test_dynamic__pull_oracle_measures_the_true_vol),
      cmocka_unit_test(test_dynamic__window_measures_the_true_vol),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
