/*
 * test_toymodel — a margin model defined only in this file runs through the
 * engine like a shipped one (docs/engine.md, "Adding a model").
 *
 * The toy: a flat 5% maintenance and 10% initial requirement of gross
 * notional, the ratios kept in its own state (allocated by init, freed by
 * free). No registry and no library change: the test loads a scenario and
 * points the configuration's margin.model at the toy's table.
 *
 *  - The indexed engine and the brute-force twin (every open account
 *    checked at every eligibility check) agree liquidation for liquidation,
 *    bit for bit, on randomized books with and without options.
 *  - The first liquidation of a one-account book happens where the toy's
 *    closed form puts it: a long of q units entered at E on collateral C is
 *    eligible below P* = (q E - C) / (q (1 - 0.05)), a short above
 *    P* = (C + s E) / (s (1 + 0.05)), s = -q.
 *  - The result carries the toy's name and its state is its own.
 */
#include <math.h>

#include "engine/engine_int.h"
#include "engine/engine.h"
#include "models/margin_int.h"
#include "bruteforce.h"
#include "testutil.h"

/* ---- the toy margin model ---- */

#define TOY_MM 0.05
#define TOY_IM 0.10

typedef struct {
  double mm, im;   /* ratios of gross notional */
  int64_t paths;   /* paths started on this instance: the state is per instance */
} toy_state;

static int toy_inits, toy_frees; /* how often the hooks ran (the test is single-threaded) */

static ms_status toy_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  (void)cfg;
  toy_state *s = calloc(1, sizeof *s);
  if (!s) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  s->mm = TOY_MM;
  s->im = TOY_IM;
  m->state = s;
  /* the perp-only closed forms the tick scan reads */
  m->maintenance = s->mm;
  m->initial = s->im;
  m->ratio_side[0] = m->ratio_side[1] = s->mm;
  toy_inits++;
  return MS_OK;
}

static void toy_free(ms_margin *m) {
  free(m->state);
  toy_frees++;
}

static void toy_path_start(ms_margin *m, double p0) {
  (void)p0;
  ((toy_state *)m->state)->paths++;
}

static double toy_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return ((const toy_state *)m->state)->mm * gross_notional(p, v->P);
}

static double toy_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return ((const toy_state *)m->state)->im * gross_notional(p, v->P);
}

static const ms_margin_type toy_margin = {.name = "toy", .key_mode = MS_KEY_COLLATERAL, .init = toy_init,
                                          .free = toy_free, .path_start = toy_path_start, .pos_mm = toy_pos_mm,
                                          .pos_im = toy_pos_im};

/* ---- a workspace under the toy ---- */

typedef struct {
  ms_config *cfg;
  ms_book *book;
  struct ms_index_static *idx;
  ms_engine *e;
} rig;

static void rig_open(rig *r, const char *yaml, int brute_force);

static void rig_close(rig *r) {
  ms_engine_free(r->e);
  ms_engine_shared_free(r->book, r->idx);
  ms_config_free(r->cfg);
}

/* The brute-force twin: tests/bruteforce.h. */

static void rig_open(rig *r, const char *yaml, int bf) {
  ms_error err;
  memset(r, 0, sizeof *r);
  r->cfg = load_yaml(yaml, NULL, 0, &err);
  if (!r->cfg) fail_msg("%s\n%s", err.msg, yaml);
  r->cfg->margin.model = &toy_margin; /* the plug-in: no registry, no library change */
  assert_ok(ms_engine_shared_new(r->cfg, &r->book, &r->idx, &err), &err);
  assert_ok(ms_engine_new(&r->e, r->cfg, r->book, r->idx, &err), &err);
  if (bf) ms_engine_set_finder(r->e, &brute_force, NULL);
}

/* ---- indexed engine vs brute-force twin ---- */

static uint64_t lcg(uint64_t *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 33;
}

static void random_scenario(char *buf, size_t n, uint64_t trial) {
  uint64_t x = trial * 104729 + 3;
  static const char *impacts[] = {"{model: sqrt, depth: 2e5, half_life: 5m}",
                                  "{model: linear, depth: 5e5, half_life: 2m}", "{model: none}"};
  static const char *oracles[] = {
      "{kind: push, deviation: 0.003, heartbeat: 10m, latency: {dist: exponential, mean: 5s}}",
      "{kind: pull, interval: 3s, latency: {dist: uniform, min: 0s, max: 8s}}"};
  static const char *options[] = {
      "options: {fraction: 0}",
      "options: {fraction: 0.3, strategies: [{kind: naked_short_call, size: {dist: uniform, min: 0.5, max: 3}, "
      "expiry: {dist: table, values: [2h, 1d]}}, {kind: covered_call, size: {dist: uniform, min: 1, max: 4}}, "
      "{kind: long_straddle, size: {dist: uniform, min: 0.5, max: 2}, expiry: {dist: table, values: [1h, 6h]}}]}"};
  snprintf(buf, n,
           "seed: %llu\nhorizon: 2h\nstep: 1s\n"
           "market:\n  initial_price: 1000\n  impact: %s\n"
           "  regimes:\n    - {name: a, vol: 1.5, drift: -3, mean_duration: 1h}\n"
           "    - {name: b, vol: 3.0, drift: 2, mean_duration: 20m, jumps: {rate: 24/d, mean: -0.03, sd: 0.04}}\n"
           "book:\n  accounts: %d\n  collateral: {dist: lognormal, median: 2000, sigma: 1.0}\n"
           "  leverage: {dist: uniform, min: 1, max: 9}\n  long_fraction: 0.6\n  %s\n"
           "oracle: %s\n"
           "keepers:\n  delay: {dist: exponential, mean: 20s}\n  capacity: {per_block: %d, block_time: 12s}\n"
           "liquidation:\n  mode: %s\n  min_close: 0.25\n  penalty: 0.01\n  keeper_share: 0.5\n"
           "  insurance_fund: 2000\n  shortfall: %s\n  option_spread: 0.03\n",
           (unsigned long long)trial, impacts[lcg(&x) % 3], 120 + (int)(lcg(&x) % 120), options[trial % 2],
           oracles[lcg(&x) % 2], (int)(lcg(&x) % 2) * 3, lcg(&x) % 2 ? "full" : "partial",
           (trial / 2) % 2 ? "adl" : "socialize");
}

static void test_toymodel__index_agrees_with_brute_force(void **state) {
  (void)state;
  char yaml[4096];
  int64_t total = 0;
  for (uint64_t trial = 0; trial < 4; trial++) {
    random_scenario(yaml, sizeof yaml, trial);
    rig r, bf;
    rig_open(&r, yaml, 0);
    rig_open(&bf, yaml, 1);
    assert_ptr_equal(ms_margin_get_type(ms_engine_margin(r.e)), &toy_margin);
    for (uint64_t p = 0; p < 6; p++) {
      ms_path_summary s1, s2;
      ms_error err;
      assert_ok(ms_engine_run_path(r.e, p, &s1, NULL, &err), &err);
      assert_ok(ms_engine_run_path(bf.e, p, &s2, NULL, &err), &err);
      size_t n1, n2;
      ms_liq_record *a = ms_engine_records(r.e, &n1), *b = ms_engine_records(bf.e, &n2);
      if (n1 != n2)
        fail_msg("trial %llu path %llu: %zu liquidations indexed, %zu brute force\n%s", (unsigned long long)trial,
                 (unsigned long long)p, n1, n2, yaml);
      compare_records(a, b, n1, p);
      s1.option_revaluations = s2.option_revaluations = 0; /* work counters: the twin checks every account */
      s1.bs_evaluations = s2.bs_evaluations = 0;
      if (memcmp(&s1, &s2, sizeof s1))
        fail_msg("trial %llu path %llu: summaries differ", (unsigned long long)trial, (unsigned long long)p);
      total += (int64_t)n1;
    }
    /* the state is the instance's: each workspace counted its own paths */
    assert_int_equal(((const toy_state *)ms_engine_margin(r.e)->state)->paths, 6);
    rig_close(&r);
    rig_close(&bf);
  }
  print_message("%lld liquidations under the toy model, indexed = brute force\n", (long long)total);
  assert_true(total > 50); /* the comparison saw work */
  assert_int_equal(toy_inits, toy_frees); /* every instance freed by the model's own free */
}

/* ---- the closed form ---- */

static const char *det_base =
    "horizon: 1d\nstep: 1s\n"
    "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 0.000001, drift: %s}]}\n"
    "book: {accounts: 1, collateral: %s, leverage: %s, long_fraction: %s}\n"
    "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
    "keepers: {delay: 0s}\n";

/* One account; the price drifts at a known rate with a negligible noise:
 * the first liquidation is at the first 1 s tick past @p want. */
static void first_liquidation(const char *yaml, double want, int is_long) {
  rig r;
  rig_open(&r, yaml, 0);
  ms_path_summary s;
  ms_error err;
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  size_t n;
  ms_liq_record *rec = ms_engine_records(r.e, &n);
  check_first_liquidation_at(r.cfg, rec, n, want, is_long, "toy closed form");
  rig_close(&r);
}

static void test_toymodel__liquidation_price_matches_the_closed_form(void **state) {
  (void)state;
  char y[2048];
  /* long: 10,000 USD at 8x: q = 80 units at 1000; eligible below (qE - C) / (q (1 - 5%)) */
  snprintf(y, sizeof y, det_base, "-300", "10000", "8", "1");
  first_liquidation(y, (80.0 * 1000 - 10000) / (80.0 * (1 - TOY_MM)), 1);
  /* short: 7,000 USD at 5x: s = 35 units; eligible above (C + sE) / (s (1 + 5%)) */
  snprintf(y, sizeof y, det_base, "200", "7000", "5", "0");
  first_liquidation(y, (7000 + 35.0 * 1000) / (35.0 * (1 + TOY_MM)), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_toymodel__liquidation_price_matches_the_closed_form),
      cmocka_unit_test(test_toymodel__index_agrees_with_brute_force),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
