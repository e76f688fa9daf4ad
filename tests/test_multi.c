/*
 * The engine of several markets (sim/engine/multi.c): against its brute-force
 * twin on random books, against a hand computation on a deterministic
 * two-asset path, the money identity, and the contagion twins.
 */
#include <math.h>

#include "testutil.h"

#include "engine/engine.h"
#include "engine/engine_int.h"
#include "engine/multi.h"

/* A scenario of @p K assets (2 or 3) with the given margin and mode, and
 * a stress regime that makes liquidations, socialized losses included. */
static ms_config *random_world_options(int K, int tiered, int isolated, int k, double fund, const char *shortfall,
                                       double options, ms_error *err) {
  /* tiered: 1 tiered margin, 2 dynamic, 3 portfolio, else static; options: the share of positions that are
   * option strategies (legs expiring inside the 12 h horizon and beyond it) */
  static const char *assets3 =
      "    - {name: A, initial_price: 100, impact: {model: sqrt, depth: %s, half_life: 5m}}\n"
      "    - {name: B, initial_price: 20, jump_loading: 1.4, impact: {model: linear, depth: 3e6, half_life: 2m}}\n"
      "    - {name: C, initial_price: 3, jump_loading: -0.5}\n";
  char assets[1024], yaml[6144];
  const char *depth = k % 3 == 0 ? "5e5" : k % 3 == 1 ? "5e6" : "1e8";
  snprintf(assets, sizeof assets, assets3, depth);
  if (K == 2) *strstr(assets, "    - {name: C") = '\0';
  if (k % 4 == 1) { /* B's own margin rules (market.assets[].margin) */
    char *at = strstr(assets, "jump_loading: 1.4,");
    char rest[1024];
    snprintf(rest, sizeof rest, "%s", at + strlen("jump_loading: 1.4,"));
    snprintf(at, sizeof assets - (size_t)(at - assets), "jump_loading: 1.4, margin: {model: static, initial: 0.05, "
             "maintenance: 0.04},%s", rest);
  }
  const char *vols2 = "[{vol: 0.8, drift: -3}, {vol: 1.1, drift: -2}]";
  const char *vols3 = "[{vol: 0.8, drift: -3}, {vol: 1.1, drift: -2}, {vol: 1.5, drift: 1}]";
  const char *calm2 = "[{vol: 0.3, drift: 0}, {vol: 0.5, drift: 0}]";
  const char *calm3 = "[{vol: 0.3, drift: 0}, {vol: 0.5, drift: 0}, {vol: 0.7, drift: 0}]";
  const char *corr2 = "[[1, 0.9], [0.9, 1]]";
  const char *corr3 = "[[1, 0.9, -0.3], [0.9, 1, -0.2], [-0.3, -0.2, 1]]";
  char book_options[1024] = "";
  if (options > 0)
    snprintf(book_options, sizeof book_options,
             "  options:\n    fraction: %g\n    strategies:\n"
             "      - {kind: short_strangle, strike: {by: delta, value: 0.2}, size: {dist: uniform, min: 2, max: 4.5}, "
             "expiry: {dist: table, values: [2h, 6h, 1d]}}\n"
             "      - {kind: naked_short_call, size: {dist: uniform, min: 2, max: 4.5}, expiry: {dist: table, values: [3h, 2d]}}\n"
             "      - {kind: naked_short_put, size: {dist: uniform, min: 2, max: 4.5}, expiry: {dist: table, values: [4h, 1d]}}\n"
             "      - {kind: covered_call, size: {dist: uniform, min: 1, max: 4}, expiry: {dist: table, values: [5h, 7d]}}\n"
             "      - {kind: protective_put, size: {dist: uniform, min: 1, max: 4}, expiry: {dist: table, values: [1h, 7d]}}\n"
             "      - {kind: long_straddle, size: {dist: uniform, min: 0.5, max: 2}, expiry: {dist: table, values: [8h, 1d]}}\n",
             options);
  const char *margin = tiered == 3 ? "{model: portfolio}" : tiered == 2 ? "{model: dynamic, dynamic: {update_every: 10m, k: 3, floor: 0.02, cap: 0.2, max_step: 0.02}}"
                       : tiered ? "{model: tiered, tiers: [{floor: 0, initial: 0.05, maintenance: 0.02}, "
                                "{floor: 2e4, initial: 0.1, maintenance: 0.05}, {floor: 1e5, initial: 0.2, "
                                "maintenance: 0.1}]}"
                              : "{model: static, initial: 0.05, maintenance: 0.03}";
  snprintf(yaml, sizeof yaml,
           "seed: %d\npaths: 4\nhorizon: 12h\nstep: 1s\n"
           "market:\n  assets:\n%s"
           "  regimes:\n"
           "    - {name: calm, mean_duration: 6h, assets: %s, correlation: %s}\n"
           "    - {name: stress, mean_duration: 3h, assets: %s, correlation: %s, "
           "jumps: {rate: 6/d, mean: -0.05, sd: 0.04}}\n"
           "  start_regime: stress\n"
           "book:\n  accounts: 300\n  collateral: {dist: uniform, min: 300, max: 6000}\n"
           "  leverage: {dist: uniform, min: 2, max: %s}\n  margin_mode: %s\n%s"
           "  markets: {enabled: true, count: {dist: table, values: [1, 2, 3]}, directions: %s}\n"
           "margin: %s\n"
           "oracle: {kind: push, deviation: 0.003, heartbeat: 20m, latency: {dist: exponential, mean: 5s}}\n"
           "keepers: {delay: {dist: lognormal, median: 4s, sigma: 0.8}, capacity: {per_block: %d, block_time: 12s}, "
           "gas_cost: %g}\n"
           "liquidation: {mode: %s, penalty: 0.02, keeper_share: 0.5, insurance_fund: %g, shortfall: %s}\n"
           "stats: {contagion: false}\n"
           "output: {fan: {paths: 0}}\n%s",
           100 + k, assets, K == 2 ? calm2 : calm3, K == 2 ? corr2 : corr3, K == 2 ? vols2 : vols3, K == 2 ? corr2 : corr3,
           tiered == 1 ? "9.5" : tiered >= 2 ? "4" : "18", isolated == 2 ? "mixed" : isolated ? "isolated" : "cross",
           book_options,
           k % 3 == 0 ? "random" : k % 3 == 1 ? "same" : "hedged", margin, k % 2 ? 5 : 0, k % 4 == 3 ? 4.0 : 0.0,
           k % 3 == 2 ? "partial" : "full", fund, shortfall,
           k % 5 == 1 ? "funding: {enabled: true, interval: 1h, premium: {mean: 0.001, sd: 0.002, half_life: 2h}}\n"
           : k % 5 == 3 ? "funding: {enabled: true, interval: 30m, receivers: rate, price: oracle, "
                          "premium: {mean: -0.001, sd: 0.002, half_life: 1h}}\n"
           : "");
  return load_yaml(yaml, NULL, 0, err);
}

static ms_config *random_world(int K, int tiered, int isolated, int k, double fund, const char *shortfall,
                               ms_error *err) {
  return random_world_options(K, tiered, isolated, k, fund, shortfall, 0.0, err);
}

static int same_record(const ms_liq_record *a, const ms_liq_record *b) { return memcmp(a, b, sizeof *a) == 0; }

/* The first field of two records that differs, and its two values. */
static const char *record_diff(const ms_liq_record *a, const ms_liq_record *b) {
  static char buf[160];
#define D(f) if (memcmp(&a->f, &b->f, sizeof a->f)) { snprintf(buf, sizeof buf, #f " %.17g vs %.17g", (double)a->f, (double)b->f); return buf; }
  D(path) D(time) D(obs_time) D(account) D(side) D(impact_triggered) D(full) D(generation) D(cascade)
  D(oracle_price) D(exog_oracle_price) D(mark_price) D(qty) D(notional) D(bad_debt) D(penalty) D(adl_qty) D(delay)
#undef D
  return "padding";
}

/* The engine of scenario @p yaml (with @p nsets --set strings), its configuration in *@p cfg. */
static ms_engine *engine_of(const char *yaml, const char *const *sets, int nsets, ms_config **cfg) {
  ms_error err;
  *cfg = load_yaml(yaml, sets, nsets, &err);
  if (!*cfg) fail_msg("%s", err.msg);
  ms_engine *e;
  assert_ok(ms_engine_new(&e, *cfg, NULL, NULL, &err), &err);
  return e;
}

/* An engine keyed by bound prices and its brute-force twin on one configuration, which twins_free frees. */
typedef struct twins {
  ms_config *cfg;
  ms_engine *ix, *bf;
} twins;

static twins twins_on(ms_config *cfg) {
  ms_error err;
  twins t = {cfg, NULL, NULL};
  assert_ok(ms_engine_new(&t.ix, cfg, NULL, NULL, &err), &err);
  assert_ok(ms_engine_new(&t.bf, cfg, NULL, NULL, &err), &err);
  ms_multi_set_bruteforce(ms_engine_multi(t.bf), 1);
  return t;
}

static twins twins_of(const char *yaml) {
  ms_error err;
  ms_config *cfg = load_yaml(yaml, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  return twins_on(cfg);
}

/* Both engines on the same book (ms_multi_set_book). */
static void twins_set_book(twins *t, const ms_multi_unit *u, int64_t nu, const ms_multi_pos *p, int64_t np) {
  ms_error err;
  assert_ok(ms_multi_set_book(ms_engine_multi(t->ix), u, nu, p, np, NULL, 0, &err), &err);
  assert_ok(ms_multi_set_book(ms_engine_multi(t->bf), u, nu, p, np, NULL, 0, &err), &err);
}

static void twins_free(twins *t) {
  ms_engine_free(t->ix);
  ms_engine_free(t->bf);
  ms_config_free(t->cfg);
}

/* Path @p p by the bound prices (@p ix) and by the brute-force twin (@p bf): the same records, bit for bit, and
 * the same summary row (into @p a); @p label names the case in a failure. Returns the liquidations. */
static size_t same_as_bruteforce(ms_engine *ix, ms_engine *bf, uint64_t p, ms_path_summary *a, int label) {
  ms_error err;
  ms_path_summary b;
  assert_ok(ms_engine_run_path(ix, p, a, NULL, &err), &err);
  assert_ok(ms_engine_run_path(bf, p, &b, NULL, &err), &err);
  /* every unit ends the same, ADL's counterparties included (their cash took the bankruptcy price) */
  const ms_multi_unit *bu;
  const ms_multi_pos *bpos;
  int64_t nu, np;
  ms_multi_book(ms_engine_multi(ix), &bu, &nu, &bpos, &np);
  for (int64_t i = 0; i < nu; i++) {
    double ca, cb;
    int sa = ms_multi_unit_state(ms_engine_multi(ix), i, &ca), sb = ms_multi_unit_state(ms_engine_multi(bf), i, &cb);
    if (sa != sb || memcmp(&ca, &cb, sizeof ca) != 0)
      fail_msg("case %d path %llu: unit %lld ends %d with %.17g, brute force %d with %.17g", label,
               (unsigned long long)p, (long long)i, sa, ca, sb, cb);
  }
  /* the count of live heap entries (what tidies the heaps) is the open units' */
  int64_t live, of_units;
  ms_multi_index_counts(ms_engine_multi(ix), &live, &of_units);
  if (live != of_units)
    fail_msg("case %d path %llu: %lld live heap entries counted, the open units hold %lld", label,
             (unsigned long long)p, (long long)live, (long long)of_units);
  /* the option units' checks: the bands save some of the brute force's (which checks every unit at each check) */
  if (a->option_revaluations > b.option_revaluations)
    fail_msg("case %d path %llu: %lld option checks, brute force %lld", label, (unsigned long long)p,
             (long long)a->option_revaluations, (long long)b.option_revaluations);
  b.option_revaluations = a->option_revaluations;
  b.bs_evaluations = a->bs_evaluations; /* what the checks cost */
  size_t na, nb;
  ms_liq_record *ra = ms_engine_records(ix, &na), *rb = ms_engine_records(bf, &nb);
  if (na != nb) fail_msg("case %d path %llu: %zu liquidations, brute force %zu", label, (unsigned long long)p, na, nb);
  for (size_t i = 0; i < na; i++)
    if (!same_record(&ra[i], &rb[i]))
      fail_msg("case %d path %llu: record %zu differs: %s", label, (unsigned long long)p, i, record_diff(&ra[i], &rb[i]));
  assert_memory_equal(a, &b, sizeof b);
  return na;
}

/* The heaps of bound prices find every unit the brute-force twin (every
 * open unit checked at every publish) finds: the same records, bit for
 * bit, and the same summary rows, on random books of two and three assets,
 * cross and isolated, static and tiered margin, full and partial
 * liquidation, keepers skipping for gas, with socialized losses. */
static void test_multi__index_matches_bruteforce(void **state) {
  (void)state;
  ms_error err;
  int64_t total = 0, socialized_paths = 0, partial = 0, skipped = 0, funded = 0, ups = 0, adl_paths = 0;
  for (int k = 0; k < 12; k++) {
    int K = 2 + k % 2, tiered = (k / 2) % 3, isolated = (k / 4) % 3; /* 2: mixed */
    ms_config *cfg = random_world(K, tiered, isolated, k, k % 2 ? 0 : 2e4, (k / 3) % 2 ? "adl" : "socialize", &err);
    if (!cfg) fail_msg("config %d: %s", k, err.msg);
    twins t = twins_on(cfg);
    ms_engine *ix = t.ix, *bf = t.bf;
    if (isolated == 2) { /* mixed: some accounts pooled (a unit of several positions), some split (an account in
                          * several units) */
      const ms_multi_unit *u;
      const ms_multi_pos *p;
      int64_t nu, np, pooled = 0, split = 0;
      ms_multi_book(ms_engine_multi(ix), &u, &nu, &p, &np);
      for (int64_t i = 0; i < nu; i++) {
        pooled += u[i].n > 1;
        split += i > 0 && u[i].account == u[i - 1].account;
      }
      assert_true(pooled > 20 && split > 20);
    }
    for (uint64_t p = 0; p < 4; p++) {
      ms_path_summary a;
      total += (int64_t)same_as_bruteforce(ix, bf, p, &a, k);
      socialized_paths += a.socialized_loss > 0;
      partial += a.partial_liquidations;
      skipped += a.skipped_unprofitable;
      funded += a.funding_paid > 0;
      ups += a.margin_updates_up;
      adl_paths += a.adl_notional > 0;
    }
    twins_free(&t);
  }
  /* the comparison had something to compare */
  assert_true(total > 2000);
  assert_true(socialized_paths >= 3);
  assert_true(partial > 100);
  assert_true(skipped > 20);
  assert_true(funded >= 8);
  assert_true(ups > 10);
  assert_true(adl_paths >= 2);
}

/* The money identity of a book of several markets: what the units hold
 * (closed ones' cash, open ones' effective collateral and PnL at the
 * marks), the fund, the keepers' rewards and the uncovered loss, against
 * the deposits, the fund's start and the PnL the book made against the
 * market, on every path of random books with socialized losses. */
static void test_multi__money_is_conserved(void **state) {
  (void)state;
  ms_error err;
  int checked = 0, funded = 0, opt_checked = 0;
  for (int k = 0; k < 14; k++) { /* from 8 on, a third of the positions option strategies, portfolio margin too */
    ms_config *cfg = random_world_options(2 + k % 2, k < 8 ? (k / 2) % 3 : k % 4, (k / 3) % 3, k + 20, k % 2 ? 0 : 5e3,
                                          (k / 3) % 2 ? "adl" : "socialize", k < 8 ? 0.0 : 0.35, &err);
    if (!cfg) fail_msg("config %d: %s", k, err.msg);
    ms_engine *e;
    assert_ok(ms_engine_new(&e, cfg, NULL, NULL, &err), &err);
    const ms_multi_unit *u;
    const ms_multi_pos *p;
    int64_t nu, np;
    ms_multi_book(ms_engine_multi(e), &u, &nu, &p, &np);
    double deposits = 0;
    for (int64_t i = 0; i < nu; i++) deposits += u[i].C;
    for (uint64_t path = 0; path < 4; path++) {
      ms_path_summary s;
      assert_ok(ms_engine_run_path(e, path, &s, NULL, &err), &err);
      double value, realized, unrealized;
      ms_multi_money(ms_engine_multi(e), cfg->horizon, &value, &realized, &unrealized);
      /* realized: with what funding brought in from outside the book (receivers: rate) */
      double lhs = value + s.insurance_end + s.keeper_rewards - s.uncovered_loss;
      double rhs = deposits + cfg->liquidation.insurance_fund + realized + unrealized;
      double scale = deposits + fabs(realized) + fabs(unrealized);
      if (fabs(lhs - rhs) > 1e-9 * scale)
        fail_msg("config %d path %llu: money %.6f, expected %.6f (bad debt %.2f, socialized %.2f)", k,
                 (unsigned long long)path, lhs, rhs, s.bad_debt, s.socialized_loss);
      checked += s.bad_debt > 0;
      funded += s.funding_outside != 0;
      opt_checked += k >= 8 && s.options_expired > 0 && s.options_liquidated_notional > 0;
    }
    ms_engine_free(e);
    ms_config_free(cfg);
  }
  assert_true(checked >= 4);
  assert_true(funded >= 2);
  assert_true(opt_checked >= 3);
}

/* Two assets on still paths (vol 0) falling at 10% and 5% a day; one
 * account long 50 A and short 50 B at 100 with 1,000 USD; static
 * maintenance 2.5%; an oracle publishing every tick at once and keepers
 * acting at once. By hand:
 *   isolated, A's half (500 USD): 500 + 50 (P - 100) < 1.25 P at P < 4500 / 48.75,
 *     reached at tau = -ln(4500 / 48.75 / 100) / 0.1 days; B's half (short, B falling) never;
 *   cross: 1000 + 50 (P_A - P_B) < 1.25 (P_A + P_B), reached at the root of
 *     f(tau) = 1000 + 5000 (e^-0.1tau - e^-0.05tau) - 125 (e^-0.1tau + e^-0.05tau), later.
 * Each is found at the first tick at or after its time (step 10 s). In
 * partial mode the cross account closes A, the loss, and keeps B when what
 * is left covers B's initial margin. */
static double cross_gap(double tau) {
  double a = exp(-0.1 * tau), b = exp(-0.05 * tau);
  return 1000 + 5000 * (a - b) - 125 * (a + b);
}

static void run_pair(const char *mode, const char *liq, double initial, const char *a_margin, ms_path_summary *s,
                     ms_liq_record *rec, size_t *n) {
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "seed: 1\npaths: 1\nhorizon: 10d\nstep: 10s\n"
           "market:\n  days_per_year: 365\n  assets:\n"
           "    - {name: A, initial_price: 100, impact: {model: none}%s}\n"
           "    - {name: B, initial_price: 100, impact: {model: none}}\n"
           "  regimes: [{name: only, assets: [{vol: 0, drift: -36.5}, {vol: 0, drift: -18.25}]}]\n"
           "book:\n  accounts: 1\n  leverage: {dist: fixed, value: 2}\n  margin_mode: %s\n"
           "  markets: {enabled: true, count: 2}\n"
           "margin: {model: static, initial: %g, maintenance: 0.025}\n"
           "oracle: {kind: push, deviation: 0, heartbeat: 1h, latency: {dist: fixed, value: 0s}}\n"
           "keepers: {delay: {dist: fixed, value: 0s}}\n"
           "liquidation: {mode: %s, penalty: 0.01, keeper_share: 0.5, insurance_fund: 0, shortfall: socialize}\n"
           "stats: {contagion: false}\noutput: {fan: {paths: 0}}\n",
           a_margin, mode, initial, liq);
  ms_error err;
  ms_config *cfg;
  ms_engine *e = engine_of(yaml, NULL, 0, &cfg);
  ms_multi *mm = ms_engine_multi(e);
  int isolated = strcmp(mode, "isolated") == 0;
  ms_multi_unit units[2];
  ms_multi_pos pos[2] = {{50, 0, 0, -1}, {-50, 1, isolated ? 1 : 0, -1}};
  if (isolated) {
    units[0] = (ms_multi_unit){500, 0, 0, 1};
    units[1] = (ms_multi_unit){500, 0, 1, 1};
  } else {
    units[0] = (ms_multi_unit){1000, 0, 0, 2};
  }
  assert_ok(ms_multi_set_book(mm, units, isolated ? 2 : 1, pos, 2, NULL, 0, &err), &err);
  assert_ok(ms_engine_run_path(e, 0, s, NULL, &err), &err);
  ms_liq_record *r = ms_engine_records(e, n);
  memcpy(rec, r, *n * sizeof *r);
  ms_engine_free(e);
  ms_config_free(cfg);
}

static void test_multi__cross_and_isolated_by_hand(void **state) {
  (void)state;
  const double day = 86400000.0, step = 10000.0;
  ms_path_summary s;
  ms_liq_record rec[8];
  size_t n;
  /* isolated: A's half alone */
  run_pair("isolated", "full", 0.05, "", &s, rec, &n);
  double tau_a = -log(4500.0 / 48.75 / 100.0) / 0.1;
  assert_int_equal(n, 1);
  assert_int_equal(rec[0].side, 1);
  assert_int_equal(rec[0].time, (int64_t)(ceil(tau_a * day / step) * step));
  assert_true(fabs(rec[0].mark_price - 100 * exp(-0.1 * (double)rec[0].time / day)) < 1e-9);
  assert_true(rec[0].mark_price < 4500.0 / 48.75);
  assert_int_equal(s.mkt_liquidations[0], 1);
  assert_int_equal(s.mkt_liquidations[1], 0);
  /* A's own margin rules (maintenance 5%): 500 + 50 (P - 100) < 2.5 P at P < 4500 / 47.5 */
  run_pair("isolated", "full", 0.05, ", margin: {model: static, initial: 0.1, maintenance: 0.05}", &s, rec, &n);
  double tau_a5 = -log(4500.0 / 47.5 / 100.0) / 0.1;
  assert_int_equal(n, 1);
  assert_int_equal(rec[0].time, (int64_t)(ceil(tau_a5 * day / step) * step));
  assert_true(tau_a5 < tau_a);
  /* cross: later, both positions, the loss (A) first */
  run_pair("cross", "full", 0.05, "", &s, rec, &n);
  double lo = 0, hi = 10;
  assert_true(cross_gap(lo) > 0 && cross_gap(hi) < 0);
  for (int i = 0; i < 200; i++) {
    double mid = 0.5 * (lo + hi);
    if (cross_gap(mid) > 0) lo = mid;
    else hi = mid;
  }
  assert_int_equal(n, 2);
  int64_t want = (int64_t)(ceil(hi * day / step) * step);
  assert_true(want > (int64_t)(tau_a * day));
  assert_int_equal(rec[0].time, want);
  assert_int_equal(rec[1].time, want);
  assert_int_equal(rec[0].side, 1);  /* A, long, the loss */
  assert_int_equal(rec[1].side, -1); /* B, short, the gain */
  double pa = rec[0].mark_price, pb = rec[1].mark_price;
  assert_true(fabs(pa - 100 * exp(-0.1 * (double)want / day)) < 1e-9);
  assert_true(fabs(pb - 100 * exp(-0.05 * (double)want / day)) < 1e-9);
  /* the money of the fill, by hand: equity 1000 + 50 (pa - pb), penalty 1% of the notional */
  double eq = 1000 + 50 * (pa - 100) - 50 * (pb - 100), pen = 0.01 * 50 * (pa + pb);
  assert_true(eq > 0);
  assert_true(fabs(s.penalties - fmin(pen, eq)) < 1e-9);
  assert_true(fabs(rec[0].penalty + rec[1].penalty - fmin(pen, eq)) < 1e-9);
  assert_true(fabs(s.liquidated_notional - 50 * (pa + pb)) < 1e-9);
  assert_int_equal(s.liquidations, 2);
  assert_true(s.bad_debt == 0);
  /* partial: A closes first; what is left, short B at the oracle after A's penalty, covers its initial
   * margin (3%) or not (5%): by hand, 1000 + 50 (pa - 100) - 0.5 pa - 50 (pb - 100) against im x 50 pb */
  double rest = 1000 + 50 * (pa - 100) - 0.01 * 50 * pa - 50 * (pb - 100);
  assert_true(rest >= 0.03 * 50 * pb && rest < 0.05 * 50 * pb);
  run_pair("cross", "partial", 0.03, "", &s, rec, &n);
  assert_int_equal(n, 1);
  assert_int_equal(rec[0].side, 1);
  assert_int_equal(rec[0].time, want);
  assert_true(fabs(rec[0].penalty - 0.01 * 50 * pa) < 1e-9);
  assert_int_equal(s.pending_end, 0);
  run_pair("cross", "partial", 0.05, "", &s, rec, &n);
  assert_int_equal(n, 2);
  assert_int_equal(rec[1].side, -1);
}

/* Contagion: a market whose own path never moves (vol 0, drift 0) can only
 * see liquidations through the other markets (cross accounts losing
 * there): every one of them is counted as contagion; in isolated margin
 * none is liquidated at all. And a market counts at most its own
 * liquidations. */
static void test_multi__contagion_counts_losses_elsewhere(void **state) {
  (void)state;
  ms_error err;
  const char *yaml =
      "seed: 3\npaths: 6\nhorizon: 1d\nstep: 1s\n"
      "market:\n  assets:\n"
      "    - {name: STILL, initial_price: 50, jump_loading: 0}\n"
      "    - {name: WILD, initial_price: 10}\n"
      "  regimes: [{name: only, assets: [{vol: 0, drift: 0}, {vol: 1.5, drift: -4}], "
      "jumps: {rate: 8/d, mean: -0.06, sd: 0.03}}]\n"
      "book:\n  accounts: 400\n  leverage: {dist: uniform, min: 5, max: 15}\n"
      "  markets: {enabled: true, count: 2}\n"
      "margin: {model: static, initial: 0.05, maintenance: 0.03}\n"
      "liquidation: {mode: full, insurance_fund: 1e9, shortfall: socialize}\n"
      "output: {fan: {paths: 0}}\n";
  for (int iso = 0; iso < 2; iso++) {
    const char *set[1] = {iso ? "book.margin_mode=isolated" : "book.margin_mode=cross"};
    ms_config *cfg;
    ms_engine *e = engine_of(yaml, set, 1, &cfg);
    int64_t still = 0, wild = 0;
    for (uint64_t p = 0; p < 6; p++) {
      ms_path_summary s;
      assert_ok(ms_engine_run_path(e, p, &s, NULL, &err), &err);
      assert_int_equal(s.mkt_contagion[0], s.mkt_liquidations[0]);
      assert_true(s.mkt_contagion[1] >= 0 && s.mkt_contagion[1] <= s.mkt_liquidations[1]);
      still += s.mkt_liquidations[0];
      wild += s.mkt_liquidations[1];
    }
    assert_true(wild > 50);
    if (iso) assert_int_equal(still, 0);
    else assert_true(still > 20);
    ms_engine_free(e);
    ms_config_free(cfg);
  }
}

/* A book of several markets whose every account holds one position in the
 * first asset, under isolated margin, is a one-market book: given the book
 * the one-market engine drew, the engine of several markets makes the same
 * liquidations, bit for bit, and the same money, in full and partial
 * mode, with keepers skipping for gas and with socialized losses. */
/* @p *single (a world of several assets) as a one-market scenario trading its first asset, written out and
 * loaded back, and *@p multi the same with book.markets on, isolated: the pair whose engines must agree when
 * every account holds one position in that asset. */
static void one_market_pair(ms_config **single, ms_config **multi) {
  ms_error err;
  const char *sets[2] = {"book.markets.enabled=true", "book.margin_mode=isolated"};
  (*single)->book.markets.enabled = 0;
  char *text = ms_config_to_yaml(*single);
  assert_non_null(text);
  ms_config *back = load_yaml(text, NULL, 0, &err);
  if (!back) fail_msg("%s", err.msg);
  ms_config_free(*single);
  *single = back;
  *multi = load_yaml(text, sets, 2, &err);
  free(text);
  if (!*multi) fail_msg("%s", err.msg);
}

/* The one-market @p book in engine @p b of several markets: each account a unit of one position in the first
 * asset, its option strategy (if any) the book's. */
static void set_one_market_book(ms_engine *b, const ms_book *book) {
  ms_error err;
  int64_t n = book->n;
  ms_multi_unit *u = malloc((size_t)n * sizeof *u);
  ms_multi_pos *p = malloc((size_t)n * sizeof *p);
  assert_non_null(u);
  assert_non_null(p);
  for (int64_t i = 0; i < n; i++) {
    u[i] = (ms_multi_unit){book->pos[i].collateral, i, (int32_t)i, 1};
    p[i] = (ms_multi_pos){book->pos[i].qty, 0, (int32_t)i, book->opt_of[i]};
  }
  assert_ok(ms_multi_set_book(ms_engine_multi(b), u, n, p, n, book->opt, book->nopt, &err), &err);
  free(u);
  free(p);
}

/* Path @p path of engine @p a (the one-market engine, or another of several markets) and engine @p b of several
 * markets (config @p k): the same records, bit for bit; their summaries in *@p x and *@p y, the records (a's)
 * returned, *@p n of them. */
static const ms_liq_record *same_records(ms_engine *a, ms_engine *b, int k, uint64_t path, ms_path_summary *x,
                                         ms_path_summary *y, size_t *n) {
  ms_error err;
  assert_ok(ms_engine_run_path(a, path, x, NULL, &err), &err);
  assert_ok(ms_engine_run_path(b, path, y, NULL, &err), &err);
  size_t ny;
  ms_liq_record *rx = ms_engine_records(a, n), *ry = ms_engine_records(b, &ny);
  if (*n != ny)
    fail_msg("config %d path %llu: %zu liquidations, the engine compared with %zu", k, (unsigned long long)path, ny,
             *n);
  for (size_t i = 0; i < *n; i++)
    if (!same_record(&rx[i], &ry[i]))
      fail_msg("config %d path %llu: record %zu (account %lld) differs: %s", k, (unsigned long long)path, i,
               (long long)rx[i].account, record_diff(&ry[i], &rx[i]));
  return rx;
}

/* What the one-market comparisons saw. */
typedef struct {
  int64_t total, partial, socialized, skipped, funded, adl;
} agreement;

/* Paths 0 .. @p npaths - 1 of the pair (one_market_pair) give the same records and summaries in both engines. */
static void agree_with_one_market(ms_config *single, ms_config *multi, int k, int npaths, agreement *seen) {
  ms_error err;
  ms_book *book;
  struct ms_index_static *ix;
  assert_ok(ms_engine_shared_new(single, &book, &ix, &err), &err);
  ms_engine *a, *b;
  assert_ok(ms_engine_new(&a, single, book, ix, &err), &err);
  ms_engine_set_parking(a, 0); /* a skipped liquidation looked at every block, as the other engine does */
  assert_ok(ms_engine_new(&b, multi, NULL, NULL, &err), &err);
  set_one_market_book(b, book);
  for (uint64_t path = 0; path < (uint64_t)npaths; path++) {
    ms_path_summary x, y;
    size_t nx;
    (void)same_records(a, b, k, path, &x, &y, &nx);
#define SAME(f) if (memcmp(&x.f, &y.f, sizeof x.f) != 0) fail_msg("config %d path %llu: " #f " %g, one-market %g", k, (unsigned long long)path, (double)y.f, (double)x.f)
    SAME(liquidations); SAME(partial_liquidations); SAME(impact_triggered_liquidations); SAME(liquidated_notional);
    SAME(first_liquidation_time); SAME(recovered); SAME(skipped_unprofitable); SAME(max_pending);
    SAME(pending_end); /* pending_bad_debt: a sum over the pending accounts, in another order */
    if (fabs(x.pending_bad_debt - y.pending_bad_debt) > 1e-12 * fabs(x.pending_bad_debt))
      fail_msg("config %d path %llu: pending_bad_debt %.17g, one-market %.17g", k, (unsigned long long)path,
               y.pending_bad_debt, x.pending_bad_debt); SAME(penalties); SAME(keeper_rewards); SAME(bad_debt);
    SAME(insurance_paid); SAME(insurance_min); SAME(insurance_end); SAME(socialized_loss); SAME(uncovered_loss);
    SAME(insolvent); SAME(adl_notional); SAME(adl_loss); SAME(final_price); SAME(min_price); SAME(max_price);
    SAME(final_mark); SAME(min_mark); SAME(max_impact); /* the marks at ticks (tick) */
    SAME(cascades); SAME(largest_cascade_notional); SAME(largest_cascade_depth);
    SAME(funding_paid); SAME(funding_long_net); SAME(funding_outside); SAME(funding_rate_mean);
    SAME(funding_rate_min); SAME(funding_rate_max); SAME(max_margin_ratio); SAME(margin_updates_up);
#undef SAME
    seen->total += (int64_t)nx;
    seen->partial += x.partial_liquidations;
    seen->socialized += x.socialized_loss > 0;
    seen->skipped += x.skipped_unprofitable;
    seen->funded += x.funding_paid > 0;
    seen->adl += x.adl_notional > 0;
  }
  ms_engine_free(a);
  ms_engine_free(b);
  ms_engine_shared_free(book, ix);
}

static void test_multi__one_market_book_is_the_one_market_engine(void **state) {
  (void)state;
  ms_error err;
  agreement seen = {0};
  for (int k = 0; k < 24; k++) {
    ms_config *single = random_world(2, k % 3, 1, k + 40, k % 2 ? 0 : 1e9, k % 8 == 5 ? "adl" : "socialize", &err);
    if (!single) fail_msg("%s", err.msg);
    ms_config *multi = NULL;
    one_market_pair(&single, &multi);
    agree_with_one_market(single, multi, k, 4, &seen);
    ms_config_free(single);
    ms_config_free(multi);
  }
  assert_true(seen.total > 500);
  assert_true(seen.partial > 20);
  assert_true(seen.socialized >= 2);
  assert_true(seen.skipped > 5);
  assert_true(seen.funded >= 4);
  assert_true(seen.adl >= 2);
}

/* Units found eligible at one check whose ratios tie go to the keepers by their number in the book, whatever
 * slot the engine keeps them in (ordered by their bounds: here by leverage). Ties need a requirement of 0, which
 * a scenario cannot ask for (maintenance > 0) but a configuration filled by hand can: every eligible unit then
 * stands at -inf, as a one-market account does, and the two engines must hand them out in the same order. */
static void test_multi__ties_go_by_the_book_not_the_slots(void **state) {
  (void)state;
  ms_error err;
  agreement seen = {0};
  for (int k = 0; k < 6; k++) {
    ms_config *single = random_world(2, 0, 1, k + 90, 1e9, "socialize", &err);
    if (!single) fail_msg("%s", err.msg);
    ms_config *multi = NULL;
    one_market_pair(&single, &multi);
    single->margin.maintenance = multi->margin.maintenance = 0.0;
    for (int j = 0; j < multi->market.nassets; j++) /* each market's rules as resolved at load */
      single->market.assets[j].margin.maintenance = multi->market.assets[j].margin.maintenance = 0.0;
    agree_with_one_market(single, multi, k, 3, &seen);
    ms_config_free(single);
    ms_config_free(multi);
  }
  assert_true(seen.total > 100);
}

/* A second thread's engine reads the first's book, drawn once per run (ms_engine_new_beside): the same
 * records and summaries as an engine that drew its own, its book the first's very arrays (which it neither
 * sets nor frees: freeing the first last, under ASan, says so); a book drawn per path stays each engine's. */
static void test_multi__threads_share_a_book_drawn_once(void **state) {
  (void)state;
  const char *yaml =
      "seed: 11\npaths: 4\nhorizon: 2d\nstep: 1s\n" /* 1-day options expire inside it */
      "market:\n  assets:\n"
      "    - {name: A, initial_price: 100, impact: {model: sqrt, depth: 2e5, half_life: 10m}}\n"
      "    - {name: B, initial_price: 20, impact: {model: sqrt, depth: 1e5, half_life: 10m}}\n"
      "  regimes: [{name: calm, assets: [{vol: 0.6, drift: 0}, {vol: 0.8, drift: 0}]}, "
      "{name: wild, assets: [{vol: 3, drift: -2}, {vol: 4, drift: -2}], mean_duration: 1h}]\n"
      "  start_regime: wild\n"
      "book:\n  accounts: 3000\n  collateral: {dist: uniform, min: 100, max: 1000}\n"
      "  leverage: {dist: uniform, min: 2, max: 20}\n"
      "  markets: {enabled: true, count: 2}\n  options: {fraction: 0.3}\n"
      "liquidation: {shortfall: socialize}\n"
      "stats: {contagion: false}\noutput: {fan: {paths: 0}}\n";
  ms_error err;
  for (int per_path = 0; per_path < 2; per_path++) {
    const char *sets[1] = {"book.resample=per_path"};
    ms_config *cfg = load_yaml(yaml, sets, per_path, &err);
    if (!cfg) fail_msg("%s", err.msg);
    ms_engine *first, *beside, *own;
    assert_ok(ms_engine_new(&first, cfg, NULL, NULL, &err), &err);
    assert_ok(ms_engine_new_beside(&beside, cfg, NULL, NULL, first, &err), &err);
    assert_ok(ms_engine_new(&own, cfg, NULL, NULL, &err), &err);
    const ms_multi_unit *u1, *u2;
    const ms_multi_pos *p1, *p2;
    int64_t n1, n2, m1, m2;
    ms_multi_book(ms_engine_multi(first), &u1, &n1, &p1, &m1);
    ms_multi_book(ms_engine_multi(beside), &u2, &n2, &p2, &m2);
    assert_true(n1 == n2 && m1 == m2 && n1 > 2000);
    assert_int_equal(u1 == u2 && p1 == p2, !per_path); /* lent, or its own */
    if (!per_path) /* a lent book is not set */
      assert_int_equal(ms_multi_set_book(ms_engine_multi(beside), u1, n1, p1, m1, NULL, 0, &err), MS_ERR_INTERNAL);
    int64_t total = 0;
    for (uint64_t path = 0; path < 4; path++) {
      ms_path_summary x, y;
      size_t n;
      (void)same_records(own, beside, per_path, path, &x, &y, &n);
      assert_memory_equal(&x, &y, sizeof x);
      total += (int64_t)n;
    }
    if (total < 500) fail_msg("%lld liquidations in 4 paths: too few to compare", (long long)total);
    ms_engine_free(beside);
    ms_engine_free(own);
    ms_engine_free(first);
    ms_config_free(cfg);
  }
}

/* book.resample per_path: each path's book is drawn against its markets'
 * initial margin at the path's start, whatever path the engine ran before
 * (a dynamic ratio ends a volatile path higher than it starts: drawn
 * against it, a book that starts within its initial margin was refused).
 * And a path's book refused names how many units and which account. */
static void test_multi__per_path_book_is_the_paths_own(void **state) {
  (void)state;
  const char *yaml =
      "seed: 5\npaths: 3\nhorizon: 6h\nstep: 1s\n"
      "market:\n  assets:\n"
      "    - {name: A, initial_price: 100, impact: {model: none}}\n"
      "    - {name: B, initial_price: 20, impact: {model: none}}\n"
      "  regimes: [{name: calm, assets: [{vol: 0.3, drift: 0}, {vol: 0.3, drift: 0}]}, "
      "{name: wild, assets: [{vol: 3, drift: 0}, {vol: 3, drift: 0}]}]\n"
      "  start_regime: calm\n"
      "book:\n  accounts: 200\n  collateral: {dist: uniform, min: 100, max: 1000}\n"
      "  leverage: {dist: uniform, min: 1, max: 15}\n  resample: per_path\n"
      "  markets: {enabled: true, count: 2}\n"
      "margin: {model: dynamic, dynamic: {update_every: 5m, k: 4, floor: 0.005, cap: 0.45, max_step: 0.1, "
      "liquidation_horizon: 4h, initial_vol: 0.3}}\n"
      "oracle: {kind: pull, interval: 10s, latency: {dist: fixed, value: 1s}}\n"
      "liquidation: {shortfall: socialize}\n"
      "stats: {contagion: false}\noutput: {fan: {paths: 0}}\n";
  ms_error err;
  const char *sets[1] = {"market.start_regime=wild"};
  ms_config *cfg;
  ms_engine *e = engine_of(yaml, sets, 1, &cfg);
  ms_path_summary a, b;
  assert_ok(ms_engine_run_path(e, 0, &a, NULL, &err), &err);
  if (!(a.max_margin_ratio > 0.06)) fail_msg("max_margin_ratio %g", a.max_margin_ratio); /* far above its start */
  assert_ok(ms_engine_run_path(e, 0, &b, NULL, &err), &err);
  assert_memory_equal(&a, &b, sizeof a);
  ms_engine_free(e);
  ms_config_free(cfg);
  /* a later path's book below its initial margin: the message says how many */
  const char *tight[3] = {"book.accounts=1", "book.leverage={dist: table, values: [1, 40]}", "seed=2"};
  cfg = load_yaml(yaml, tight, 3, &err);
  if (!cfg) fail_msg("%s", err.msg);
  assert_ok(ms_engine_new(&e, cfg, NULL, NULL, &err), &err); /* path 0's book: leverage 1 (seed 2) */
  ms_status s = MS_OK;
  uint64_t p = 1;
  for (; p < 64 && s == MS_OK; p++) s = ms_engine_run_path(e, p, &a, NULL, &err);
  ms_engine_free(e);
  assert_int_equal(s, MS_ERR_INPUT);
  char want[96];
  snprintf(want, sizeof want, "path %llu: book: 1 of 1 margin units start below initial margin", (unsigned long long)p - 1);
  assert_contains(err.msg, want);
  ms_config_free(cfg);
}

/* A book whose positions could pass 2^31 - 1 (units and positions are numbered in 32 bits) is refused before its
 * book is allocated, with the largest book.accounts its markets allow. A scenario cannot ask for one
 * (book.accounts <= 10^8, at most 8 markets); a library user filling ms_config by hand can. */
static void test_multi__positions_beyond_32_bits_refused(void **state) {
  (void)state;
  const char *yaml =
      "seed: 1\npaths: 1\nhorizon: 1h\nstep: 1s\n"
      "market:\n  assets:\n"
      "    - {name: A, initial_price: 100}\n    - {name: B, initial_price: 20}\n    - {name: C, initial_price: 5}\n"
      "  regimes: [{name: only, assets: [{vol: 0.5, drift: 0}, {vol: 0.5, drift: 0}, {vol: 0.5, drift: 0}]}]\n"
      "book:\n  accounts: 1000\n  markets: {enabled: true, count: 2}\n";
  ms_error err;
  ms_config *cfg = load_yaml(yaml, NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  cfg->book.accounts = 715827883;
  ms_multi *m = NULL;
  assert_int_equal(ms_multi_new(&m, NULL, cfg, NULL, &err), MS_ERR_INPUT);
  assert_null(m);
  assert_contains(err.msg, "book.accounts: 715827883 accounts in 3 markets may hold 2147483649 positions");
  assert_contains(err.msg, "book.accounts at most 715827882 here");
  ms_config_free(cfg);
}

/* Isolated margin with no channel between the markets (no impact, a fund
 * that never runs out, keepers without capacity limits or congestion): no
 * liquidation needs another market's moves, and every contagion count is 0,
 * though the twins' other markets discover fewer units (the keepers' delays
 * are the units' own, not the next draws of a stream shared in discovery
 * order), and the long delays let units recover before their keeper. */
static void test_multi__isolated_without_channels_has_no_contagion(void **state) {
  (void)state;
  const char *yaml =
      "seed: 3\npaths: 12\nhorizon: 1d\nstep: 1s\n"
      "market:\n  assets:\n"
      "    - {name: X, initial_price: 50, impact: {model: none}}\n"
      "    - {name: Y, initial_price: 10, impact: {model: none}}\n"
      "  regimes: [{name: only, assets: [{vol: 1.5, drift: 0}, {vol: 1.5, drift: 0}], "
      "jumps: {rate: 8/d, mean: -0.06, sd: 0.03}}]\n"
      "book:\n  accounts: 400\n  leverage: {dist: uniform, min: 5, max: 15}\n  margin_mode: isolated\n"
      "  markets: {enabled: true, count: 2}\n"
      "margin: {model: static, initial: 0.05, maintenance: 0.03}\n"
      "keepers: {delay: {dist: lognormal, median: 5m, sigma: 1.5}}\n"
      "liquidation: {mode: full, insurance_fund: 1e12, shortfall: socialize}\n"
      "output: {fan: {paths: 0}}\n";
  ms_error err;
  ms_config *cfg;
  ms_engine *e = engine_of(yaml, NULL, 0, &cfg);
  int64_t liq = 0, recovered = 0;
  for (uint64_t p = 0; p < 12; p++) {
    ms_path_summary s;
    assert_ok(ms_engine_run_path(e, p, &s, NULL, &err), &err);
    for (int j = 0; j < 2; j++)
      if (s.mkt_contagion[j] != 0)
        fail_msg("path %llu: %lld contagion liquidations of market %d", (unsigned long long)p,
                 (long long)s.mkt_contagion[j], j);
    liq += s.liquidations;
    recovered += s.recovered;
  }
  assert_true(liq > 2000);
  assert_true(recovered > 300);
  ms_engine_free(e);
  ms_config_free(cfg);
}

/* book.markets.weights are relative: weights whose sum overflows are
 * refused (the draw scales a uniform by the sum: every account would take
 * the last assets), large finite ones draw as their ratios do. */
static void test_multi__weights_that_overflow_are_refused(void **state) {
  (void)state;
  const char *yaml =
      "market:\n  assets: [{name: A, initial_price: 100}, {name: B, initial_price: 10}, {name: C, initial_price: 1}]\n"
      "  regimes: [{name: only, assets: [{vol: 0.5}, {vol: 0.5}, {vol: 0.5}]}]\n"
      "book: {accounts: 3000, margin_mode: isolated, markets: {enabled: true, count: 1}}\n"
      "liquidation: {shortfall: socialize}\n";
  const char *huge[1] = {"book.markets.weights=[1e308, 1e308, 1e308]"};
  expect_load_error(yaml, huge, 1, "book.markets.weights: must sum to a finite number");
  const char *big[1] = {"book.markets.weights=[2e307, 1e307, 1e307]"};
  ms_config *cfg;
  ms_engine *e = engine_of(yaml, big, 1, &cfg);
  const ms_multi_unit *u;
  const ms_multi_pos *p;
  int64_t nu, np, n[3] = {0, 0, 0};
  ms_multi_book(ms_engine_multi(e), &u, &nu, &p, &np);
  for (int64_t i = 0; i < np; i++) n[p[i].market]++;
  assert_true(n[0] > 1350 && n[0] < 1650 && n[1] > 600 && n[2] > 600);
  ms_engine_free(e);
  ms_config_free(cfg);
}

/* The bound on the events at one simulated instant holds in a book of
 * several markets as in one market (docs/engine.md, Work bounds): an oracle
 * with no deviation band and no latency, whose every publish starts a round
 * that publishes at once (the log of the published price is not the mark's
 * by a rounding), stops at that bound, naming the oracle's keys, not after
 * the tens of millions of events of the path's bound. */
static void test_multi__runaway_instant_is_bounded(void **state) {
  (void)state;
  const char *yaml =
      "seed: 1014\npaths: 1\nhorizon: 1h\nstep: 1s\n"
      "market:\n  assets:\n"
      "    - {name: A, initial_price: 52.5583}\n"
      "    - {name: B, initial_price: 2.25236, oracle: {kind: push, deviation: 0, heartbeat: 10m, "
      "latency: {dist: fixed, value: 0s}}}\n"
      "  regimes: [{name: only, assets: [{vol: 0.6, drift: 0}, {vol: 0.5, drift: 0}]}]\n"
      "book: {accounts: 100, markets: {enabled: true, count: 2}}\n"
      "liquidation: {shortfall: socialize}\nstats: {contagion: false, counterfactual: false}\n"
      "output: {fan: {paths: 0}}\n";
  ms_error err;
  ms_config *cfg;
  ms_engine *e = engine_of(yaml, NULL, 0, &cfg);
  ms_path_summary s;
  assert_int_equal(ms_engine_run_path(e, 0, &s, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "events at the one simulated instant");
  assert_contains(err.msg, "oracle.deviation");
  ms_engine_free(e);
  ms_config_free(cfg);
}

/* Contagion counts a position liquidated in part as liquidated: a cross
 * account long 50 A and long 50 B at 100 with 1,000 USD on still paths, A
 * falling 10% a day and B 1%; partial mode closes A first (the loss) and
 * keeps B, whose collateral A's loss ate: B is later closed in part. Its
 * twin (A frozen at 100) never liquidates B: that partial liquidation needed
 * A's fall, and is B's contagion. */
static void test_multi__contagion_counts_partial_liquidations(void **state) {
  (void)state;
  const char *yaml =
      "seed: 1\npaths: 1\nhorizon: 10d\nstep: 10s\n"
      "market:\n  days_per_year: 365\n  assets:\n"
      "    - {name: A, initial_price: 100, impact: {model: none}}\n"
      "    - {name: B, initial_price: 100, impact: {model: none}}\n"
      "  regimes: [{name: only, assets: [{vol: 0, drift: -36.5}, {vol: 0, drift: -3.65}]}]\n"
      "book:\n  accounts: 1\n  markets: {enabled: true, count: 2}\n"
      "margin: {model: static, initial: 0.03, maintenance: 0.025}\n"
      "oracle: {kind: push, deviation: 0.001, heartbeat: 1h, latency: {dist: fixed, value: 0s}}\n"
      "keepers: {delay: {dist: fixed, value: 0s}}\n"
      "liquidation: {mode: partial, min_close: 0.2, penalty: 0.01, keeper_share: 0.5, insurance_fund: 0, "
      "shortfall: socialize}\n"
      "stats: {contagion: true, counterfactual: false}\noutput: {fan: {paths: 0}}\n";
  ms_error err;
  ms_config *cfg;
  ms_engine *e = engine_of(yaml, NULL, 0, &cfg);
  ms_multi_pos pos[2] = {{50, 0, 0, -1}, {50, 1, 0, -1}};
  /* a unit of more positions than markets, or past the positions, is refused: the engine counts them in a byte */
  static const ms_multi_unit bad[] = {{1000, 0, 0, 3}, {1000, 0, 1, 2}, {1000, 0, 0, 0}, {1000, 0, -1, 2}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(ms_multi_set_book(ms_engine_multi(e), &bad[i], 1, pos, 2, NULL, 0, &err), MS_ERR_INPUT);
  ms_multi_unit unit = {1000, 0, 0, 2};
  assert_ok(ms_multi_set_book(ms_engine_multi(e), &unit, 1, pos, 2, NULL, 0, &err), &err);
  ms_path_summary s;
  assert_ok(ms_engine_run_path(e, 0, &s, NULL, &err), &err);
  size_t n;
  const ms_liq_record *r = ms_engine_records(e, &n);
  int b_partial = 0;
  for (size_t i = 0; i < n; i++) b_partial += r[i].full == 0 && r[i].time > r[0].time;
  assert_true(s.mkt_liquidations[0] >= 1);
  assert_true(b_partial >= 1); /* B closed in part after A */
  assert_int_equal(s.mkt_liquidations[1], b_partial);
  assert_int_equal(s.mkt_contagion[1], 1);
  ms_engine_free(e);
  ms_config_free(cfg);
}

/* Tiered margin with funding charges: a short's surplus falls by |q| per
 * unit of charge, and gives back between (1 + m_lo)|q| and (1 + m_hi)|q| per
 * unit fall of the price. Bound prices kept in one coordinate of price and
 * charges assumed the largest give-back: a charge and a fall together let a
 * unit go eligible unseen (found here at the next publish, 26 s late, on
 * path 1 of a random book the fuzzing of the bounds drew). The coordinate
 * now counts a short's charges at the least give-back, 1 / (1 + m_lo)
 * (coord in multi.c); the records are the brute force's. */
static void test_multi__tiered_charges_after_a_favourable_move(void **state) {
  (void)state;
  const char *yaml =
      "seed: 3012\n"
      "paths: 3\n"
      "horizon: 8h\n"
      "step: 1s\n"
      "market:\n"
      "  assets:\n"
      "    - {name: A0, initial_price: 147.449, jump_loading: 0.607507, impact: {model: sqrt, depth: 3e5, half_life: 5m}, oracle: {kind: push, deviation: 0.00877782, heartbeat: 10m, latency: {dist: fixed, value: 0s}}}\n"
      "    - {name: A1, initial_price: 19.4289, jump_loading: 1.21332, impact: {model: sqrt, depth: 5e6, half_life: 1m}, oracle: {kind: pull, interval: 11s, latency: {dist: exponential, mean: 15s}}}\n"
      "    - {name: A2, initial_price: 3.60891, jump_loading: 0.670177, impact: {model: sqrt, depth: 3e5, half_life: 5m}, oracle: {kind: pull, interval: 27s, latency: {dist: exponential, mean: 1s}}}\n"
      "  regimes:\n"
      "    - {name: calm, mean_duration: 3h, assets: [{vol: 0.292082, drift: 0}, {vol: 0.529573, drift: 0}, {vol: 0.316061, drift: 0}], correlation: [[1, 0.130458, 0.130458], [0.130458, 1, 0.130458], [0.130458, 0.130458, 1]]}\n"
      "    - {name: stress, mean_duration: 3h, assets: [{vol: 1.58651, drift: -3.86935}, {vol: 0.693417, drift: -3.66047}, {vol: 1.13784, drift: -3.72603}], correlation: [[1, 0.130458, 0.130458], [0.130458, 1, 0.130458], [0.130458, 0.130458, 1]], jumps: {rate: 10/d, mean: 0.04, sd: 0.05}}\n"
      "  start_regime: stress\n"
      "book:\n"
      "  accounts: 194\n"
      "  collateral: {dist: uniform, min: 100, max: 20000}\n"
      "  leverage: {dist: uniform, min: 1, max: 4.90215}\n"
      "  long_fraction: 0.193092\n"
      "  margin_mode: mixed\n"
      "  resample: per_path\n"
      "  markets: {enabled: true, count: {dist: table, values: [1, 2, 3, 4]}, directions: random, weights: [1, 0, 0.0836298]}\n"
      "margin: {model: tiered, tiers: [{floor: 0, initial: 0.02, maintenance: 0.01}, {floor: 4158.77, initial: 0.05, maintenance: 0.03}, {floor: 27809.8, initial: 0.1, maintenance: 0.08}, {floor: 249788, initial: 0.5, maintenance: 0.4}]}\n"
      "oracle: {kind: push, deviation: 0.00315703, heartbeat: 20m, latency: {dist: exponential, mean: 5s}}\n"
      "keepers: {delay: {dist: lognormal, median: 8s, sigma: 0.8}, capacity: {per_block: 0, block_time: 12s}, gas_cost: 0}\n"
      "liquidation: {mode: partial, min_close: 0.454059, penalty: 0.0677429, keeper_share: 0.754997, insurance_fund: 0, shortfall: socialize}\n"
      "stats: {contagion: false}\n"
      "output: {fan: {paths: 0}}\n"
      "funding: {enabled: true, interval: 20m, receivers: rate, price: oracle, premium: {mean: -0.004, sd: 0.01, half_life: 1h}}\n";
  twins t = twins_of(yaml);
  for (uint64_t p = 0; p < 3; p++) {
    ms_path_summary a;
    same_as_bruteforce(t.ix, t.bf, p, &a, 0);
  }
  twins_free(&t);
}

/* The same for a long, by hand: one long of 50 units at 100 with 3,333 USD
 * in a tier of maintenance 50% (tiers 1% below 1,000 USD of notional, 50%
 * above), its price rising 20% a day on a still path while funding of ~2%
 * an hour charges it. Its surplus rises by only 0.5 |q| per unit of price
 * (the 50% tier) and falls by |q| per unit of charge: it goes eligible when
 * the charges pass 0.5 dP + S/|q|, about 15 h in. A coordinate taking
 * charges at 1 / (1 - m_lo) (the least tier) would look at it only once they
 * passed 0.99 dP + S/|q|, hours later; at 1 / (1 - m_hi) it is looked at in
 * time, and the records are the brute force's. */
/* One long of 50 units at 100 with 3,333 USD, alone in asset A, its price rising 20% a day at volatility
 * @p vol under @p margin (a YAML mapping), charged by funding of @p premium an hour: its engine and the brute
 * force, and its one liquidation (*@p t_liq, ms), which the two must find alike. */
static twins long_under_funding(double vol, const char *margin, double premium, ms_path_summary *a,
                                int64_t *t_liq, double *p_liq) {
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "seed: 1\npaths: 1\nhorizon: 1d\nstep: 10s\n"
           "market:\n  days_per_year: 365\n  assets:\n"
           "    - {name: A, initial_price: 100, impact: {model: none}}\n"
           "    - {name: B, initial_price: 100, impact: {model: none}}\n"
           "  regimes: [{name: up, assets: [{vol: %g, drift: 73}, {vol: %g, drift: 0}], correlation: [[1, 0], [0, 1]]}]\n"
           "book:\n  accounts: 1\n  collateral: {dist: fixed, value: 3333}\n  leverage: {dist: fixed, value: 1.5}\n"
           "  long_fraction: 1\n  margin_mode: isolated\n"
           "  markets: {enabled: true, count: {dist: fixed, value: 1}, weights: [1, 0]}\n"
           "margin: %s\n"
           "oracle: {kind: push, deviation: 0.001, heartbeat: 10m, latency: {dist: fixed, value: 0s}}\n"
           "keepers: {delay: {dist: fixed, value: 0s}}\n"
           "liquidation: {mode: full, penalty: 0.01, insurance_fund: 1e9, shortfall: socialize}\n"
           "funding: {enabled: true, interval: 1h, rate_period: 1h, cap: 0.05, receivers: rate, price: oracle, "
           "premium: {mean: %g, sd: 0.0001, half_life: 1h}}\n"
           "stats: {contagion: false, counterfactual: false}\noutput: {fan: {paths: 0}}\n",
           vol, vol, margin, premium);
  twins t = twins_of(yaml);
  assert_int_equal(same_as_bruteforce(t.ix, t.bf, 0, a, 0), 1);
  size_t n;
  const ms_liq_record *r = ms_engine_records(t.ix, &n);
  *t_liq = r[0].time;
  *p_liq = r[0].oracle_price;
  return t;
}

static void test_multi__tiered_long_charges_after_a_favourable_move(void **state) {
  (void)state;
  ms_path_summary a;
  int64_t tl;
  double pl;
  twins t = long_under_funding(0, "{model: tiered, tiers: [{floor: 0, initial: 0.02, maintenance: 0.01}, "
                                  "{floor: 1000, initial: 0.6, maintenance: 0.5}]}", 0.02, &a, &tl, &pl);
  print_message("tiered long under funding: liquidated at %.2f h, price %.2f\n", (double)tl / 3.6e6, pl);
  assert_true(tl > 10 * 3600000LL && tl < 20 * 3600000LL); /* the hand estimate: ~15 h */
  twins_free(&t);
}

/* Dynamic margin keys perps in scaled coordinates, P (1 - r) - shift_hi for a long (coord), so that a move of
 * the ratio moves them as a publish does: a long under dynamic margin whose price rises while funding charges
 * it, the ratio moving at every update, is found when the brute force finds it (~15 h by hand: 250 USD of
 * funding an hour against 42 USD of gain). Weakening the charges' term of the coordinate fails it. */
static void test_multi__dynamic_long_charges_as_the_ratio_moves(void **state) {
  (void)state;
  ms_path_summary a;
  int64_t tl;
  double pl;
  twins t = long_under_funding(0.01, "{model: dynamic, dynamic: {update_every: 10m, k: 3, floor: 0.01, cap: 0.5, "
                                      "max_step: 0.05, liquidation_horizon: 1h, initial_vol: 0.8}}", 0.05, &a, &tl, &pl);
  print_message("dynamic long under funding: liquidated at %.2f h, price %.2f, %lld ratio rises\n",
                (double)tl / 3.6e6, pl, (long long)a.margin_updates_up);
  assert_true(tl > 10 * 3600000LL && tl < 20 * 3600000LL);
  assert_true(a.margin_updates_up > 0);
  twins_free(&t);
}

/* Books whose positions are option strategies (30-40% of them), under the
 * four margin models (portfolio: each asset's scenario grid, summed), cross,
 * isolated and mixed: the heaps and the option units' checks find what the
 * brute-force twin finds, record for record; legs expire inside the horizon. */
static void test_multi__options_match_bruteforce(void **state) {
  (void)state;
  ms_error err;
  int64_t total = 0, opt_records = 0, expired = 0, partial = 0, models[4] = {0};
  for (int k = 0; k < 8; k++) {
    int tiered = k % 4, isolated = (k / 2) % 3;
    ms_config *cfg = random_world_options(2 + k % 2, tiered, isolated, k + 70, k % 3 ? 1e4 : 0,
                                          k % 3 == 1 ? "adl" : "socialize", 0.35, &err);
    if (!cfg) fail_msg("config %d: %s", k, err.msg);
    if (tiered == 3 && k >= 4) cfg->book.markets.cross_offset = 0.5; /* hedges across markets credited */
    twins t = twins_on(cfg);
    ms_engine *ix = t.ix, *bf = t.bf;
    for (uint64_t p = 0; p < 3; p++) {
      ms_path_summary a;
      size_t n = same_as_bruteforce(ix, bf, p, &a, k);
      total += (int64_t)n;
      models[tiered] += (int64_t)n;
      size_t nr;
      const ms_liq_record *r = ms_engine_records(ix, &nr);
      for (size_t i = 0; i < nr; i++) opt_records += r[i].side == 0;
      expired += a.options_expired;
      partial += a.partial_liquidations;
    }
    twins_free(&t);
  }
  /* the comparison had something to compare */
  print_message("options vs brute force: %lld liquidations, %lld of option positions, %lld legs expired, %lld partial; "
                "by model %lld %lld %lld %lld\n", (long long)total, (long long)opt_records, (long long)expired,
                (long long)partial, (long long)models[0], (long long)models[1], (long long)models[2], (long long)models[3]);
  assert_true(total > 500);
  assert_true(opt_records > 100);
  assert_true(expired > 100);
  assert_true(partial > 10);
  for (int m = 0; m < 4; m++) assert_true(models[m] > 10);
}

/* A book whose every account holds one position, perp or option strategy,
 * isolated: the engine of several markets gives the one-market engine's
 * records and summary bit for bit, expiries and option liquidations
 * included, under static, tiered, dynamic and portfolio margin. */
static void test_multi__one_market_options_are_the_one_market_engine(void **state) {
  (void)state;
  ms_error err;
  int64_t total = 0, opt_records = 0, expired = 0, partial = 0, socialized = 0, cash_changed = 0;
  for (int k = 0; k < 12; k++) {
    ms_config *single = random_world_options(2, k % 4, 1, k + 90, k % 2 ? 0 : 1e9, "socialize", 0.6, &err);
    if (!single) fail_msg("%s", err.msg);
    ms_config *multi = NULL;
    one_market_pair(&single, &multi);
    ms_book *book;
    struct ms_index_static *ix;
    assert_ok(ms_engine_shared_new(single, &book, &ix, &err), &err);
    assert_true(book->nopt > 50);
    ms_engine *a, *b;
    assert_ok(ms_engine_new(&a, single, book, ix, &err), &err);
    ms_engine_set_parking(a, 0);
    ms_engine_set_drop_from(a, SIZE_MAX); /* every account's cash readable after the path */
    assert_ok(ms_engine_new(&b, multi, NULL, NULL, &err), &err);
    int64_t n = book->n;
    set_one_market_book(b, book);
    for (uint64_t path = 0; path < 4; path++) {
      ms_path_summary x, y;
      size_t nx;
      const ms_liq_record *rx = same_records(a, b, k, path, &x, &y, &nx);
      for (size_t i = 0; i < nx; i++) opt_records += rx[i].side == 0;
      /* every account's cash and status: expiries' payoffs, closes, premiums */
      for (int64_t i = 0; i < n; i++) {
        double cy, cx = ms_accounts_collateral(ms_engine_accounts(a), i);
        int sy = ms_multi_unit_state(ms_engine_multi(b), i, &cy), sx = ms_accounts_status(ms_engine_accounts(a), i);
        if (sx != sy || memcmp(&cx, &cy, sizeof cx) != 0)
          fail_msg("config %d path %llu: account %lld status %d cash %.17g, one-market %d %.17g", k,
                   (unsigned long long)path, (long long)i, sy, cy, sx, cx);
        cash_changed += cx != book->pos[i].collateral;
      }
#define SAME(f) if (memcmp(&x.f, &y.f, sizeof x.f) != 0) fail_msg("config %d path %llu: " #f " %.17g, one-market %.17g", k, (unsigned long long)path, (double)y.f, (double)x.f)
      SAME(liquidations); SAME(partial_liquidations); SAME(impact_triggered_liquidations); SAME(liquidated_notional);
      SAME(recovered); SAME(skipped_unprofitable); SAME(max_pending); SAME(pending_end); SAME(penalties);
      SAME(keeper_rewards); SAME(bad_debt); SAME(insurance_paid); SAME(insurance_end); SAME(socialized_loss);
      SAME(uncovered_loss); SAME(options_liquidated_notional); SAME(options_expired); SAME(funding_paid);
      SAME(margin_updates_up); SAME(largest_cascade_notional);
#undef SAME
      total += (int64_t)nx;
      expired += x.options_expired;
      partial += x.partial_liquidations;
      socialized += x.socialized_loss > 0;
    }
    ms_engine_free(a);
    ms_engine_free(b);
    ms_engine_shared_free(book, ix);
    ms_config_free(single);
    ms_config_free(multi);
  }
  print_message("options vs the one-market engine: %lld liquidations, %lld of option accounts, %lld legs expired, "
                "%lld partial, %lld paths socialized\n", (long long)total, (long long)opt_records, (long long)expired,
                (long long)partial, (long long)socialized);
  assert_true(total > 300);
  assert_true(opt_records > 30);
  assert_true(cash_changed > 1000);
  assert_true(expired > 100);
  assert_true(partial > 10);
}

/* The option bands' channels one by one, against the brute force: books of
 * option strategies only (short strangles near the money, covered calls)
 * where what moves a unit's surplus is, in turn, a regime switch from a
 * calm to a violent volatility (its options repriced: regime_moved), the
 * approach of expiry under portfolio margin (the band's time), funding
 * charged to the longs of covered calls (the band's room for charges), and
 * prices both ways (both ends of the band). */
static void test_multi__option_bands_channels(void **state) {
  (void)state;
  static const char *const channel[] = {
      /* regime: calm 0.2 <-> 3.0 every ~40 min, prices held nearly still otherwise */
      "  regimes:\n"
      "    - {name: calm, mean_duration: 40m, assets: [{vol: 0.2}, {vol: 0.25}], correlation: [[1, 0.5], [0.5, 1]]}\n"
      "    - {name: storm, mean_duration: 40m, assets: [{vol: 3.0}, {vol: 2.5}], correlation: [[1, 0.5], [0.5, 1]]}\n"
      "  start_regime: calm\n"
      "margin: {model: static, initial: 0.1, maintenance: 0.09}\n",
      /* time: one regime, portfolio margin, legs of 3 h to 10 h */
      "  regimes:\n"
      "    - {name: one, mean_duration: 30d, assets: [{vol: 0.5}, {vol: 0.6}], correlation: [[1, 0.6], [0.6, 1]]}\n"
      "margin: {model: static, initial: 0.2, maintenance: 0.199}\n",
      /* charges: funding of 1% an hour paid by longs (covered calls hold long perps) */
      "  regimes:\n"
      "    - {name: one, mean_duration: 30d, assets: [{vol: 0.6}, {vol: 0.7}], correlation: [[1, 0.6], [0.6, 1]]}\n"
      "margin: {model: static, initial: 0.1, maintenance: 0.09}\n"
      "funding: {enabled: true, interval: 1h, rate_period: 1h, cap: 0.05, receivers: rate, premium: {mean: 0.01, sd: 0.002, half_life: 1h}}\n",
      /* regimes of 2 min and charges: the bands kept per regime (band_again) come back after charges to the
       * perps of covered calls, less what those took */
      "  regimes:\n"
      "    - {name: calm, mean_duration: 2m, assets: [{vol: 0.3}, {vol: 0.35}], correlation: [[1, 0.5], [0.5, 1]]}\n"
      "    - {name: storm, mean_duration: 2m, assets: [{vol: 2.5}, {vol: 2.0}], correlation: [[1, 0.5], [0.5, 1]]}\n"
      "  start_regime: calm\n"
      "margin: {model: static, initial: 0.1, maintenance: 0.09}\n"
      "funding: {enabled: true, interval: 5m, rate_period: 1h, cap: 0.05, receivers: rate, premium: {mean: 0.04, sd: 0.002, half_life: 1h}}\n",
  };
  static const char *const shorts =
      "      - {kind: short_strangle, strike: {by: delta, value: 0.4}, size: {dist: uniform, min: 2, max: 4.5}, "
      "expiry: {dist: table, values: [3h, 6h, 10h]}}\n"
      "      - {kind: covered_call, strike: {by: delta, value: 0.4}, size: {dist: uniform, min: 2, max: 4.5}, "
      "expiry: {dist: table, values: [3h, 6h, 10h]}}\n";
  /* time: long puts bleed value hour by hour in front of a perp held at its maintenance */
  static const char *const puts =
      "      - {kind: protective_put, strike: {by: delta, value: 0.45}, size: {dist: uniform, min: 4, max: 4.95}, "
      "expiry: {dist: table, values: [3h, 6h, 10h]}}\n";
  /* c = 4: the regime channel's worlds again, each path's epochs of repricing started at the uint32 wrap */
  int64_t liq[5] = {0}, opt[5] = {0};
  for (int c = 0; c < 5; c++)
    for (int mode = 0; mode < 3; mode++) {
      const int ch = c == 4 ? 0 : c;
      char yaml[4096];
      snprintf(yaml, sizeof yaml,
               "seed: %d\npaths: 3\nhorizon: 12h\nstep: 1s\n"
               "market:\n  assets:\n"
               "    - {name: A, initial_price: 100, impact: {model: sqrt, depth: 2e6, half_life: 5m}}\n"
               "    - {name: B, initial_price: 20, impact: {model: linear, depth: 3e6, half_life: 2m}}\n"
               "%s"
               "book:\n  accounts: 400\n  collateral: {dist: uniform, min: 500, max: 5000}\n"
               "  leverage: {dist: uniform, min: 1, max: 2}\n  margin_mode: %s\n"
               "  markets: {enabled: true, count: {dist: table, values: [1, 2]}}\n"
               "  options:\n    fraction: 1\n    strategies:\n"
               "%s"
               "oracle: {kind: push, deviation: %s, heartbeat: 10m, latency: {dist: exponential, mean: 3s}}\n"
               "keepers: {delay: {dist: lognormal, median: 4s, sigma: 0.8}}\n"
               "liquidation: {mode: %s, penalty: 0.02, keeper_share: 0.5, insurance_fund: 1e9}\n"
               "stats: {contagion: false}\noutput: {fan: {paths: 0}}\n",
               300 + 3 * ch + mode, channel[ch], mode == 0 ? "cross" : mode == 1 ? "isolated" : "mixed",
               c == 1 ? puts : shorts,
               c == 1 ? "0.05" : "0.002", /* time: a publish every heartbeat, the price held still in between */
               mode == 2 ? "partial" : "full");
      twins t = twins_of(yaml);
      if (c == 4) ms_multi_set_epoch_start(ms_engine_multi(t.ix), UINT32_MAX);
      for (uint64_t p = 0; p < 3; p++) {
        ms_path_summary a;
        liq[c] += (int64_t)same_as_bruteforce(t.ix, t.bf, p, &a, 10 * c + mode);
        opt[c] += a.option_revaluations;
      }
      twins_free(&t);
    }
  print_message("option bands' channels: liquidations %lld %lld %lld %lld (%lld past the wrap), option checks %lld %lld "
                "%lld %lld\n", (long long)liq[0], (long long)liq[1], (long long)liq[2], (long long)liq[3],
                (long long)liq[4], (long long)opt[0], (long long)opt[1], (long long)opt[2], (long long)opt[3]);
  for (int c = 0; c < 5; c++) assert_true(liq[c] > 30);
}

/* Tidying the heaps checks no unit: a fuzzed world (94% options, portfolio margin, 30 s regimes, no fund) whose
 * tidying used to check every open unit again right after a check counted 63,309 checks of option units on
 * path 1 against the brute force's 61,901 (which checks every unit at every check); same_as_bruteforce requires
 * at most the brute force's. */
static void test_multi__tidying_checks_no_unit(void **state) {
  (void)state;
  const char *yaml =
      "seed: 41346\npaths: 3\nhorizon: 620m\nstep: 10s\n"
      "market:\n  assets:\n"
      "    - {name: A, initial_price: 100, jump_loading: 1.00, impact: {model: sqrt, depth: 1e8, half_life: 30s}}\n"
      "    - {name: B, initial_price: 20, jump_loading: -0.20, impact: {model: linear, depth: 5e5, half_life: 2m}, "
      "margin: {model: static, initial: 0.05, maintenance: 0.04}}\n"
      "  regimes:\n"
      "    - {name: calm, mean_duration: 30s, assets: [{vol: 0.40, drift: 0}, {vol: 0.69, drift: 0}], "
      "correlation: [[1, 0.8], [0.8, 1]]}\n"
      "    - {name: stress, mean_duration: 30s, assets: [{vol: 1.79, drift: -1.6}, {vol: 1.83, drift: -2.9}], "
      "correlation: [[1, 0.8], [0.8, 1]], jumps: {rate: 5/d, mean: -0.066, sd: 0.04}}\n"
      "  start_regime: stress\n"
      "book:\n  accounts: 1009\n  collateral: {dist: uniform, min: 300, max: 6000}\n"
      "  leverage: {dist: uniform, min: 2, max: 3.52}\n  margin_mode: cross\n"
      "  options:\n    fraction: 0.937\n    strategies:\n"
      "      - {kind: short_strangle, strike: {by: delta, value: 0.20}, size: {dist: uniform, min: 2, max: 4.5}, "
      "expiry: {dist: table, values: [2h, 6h, 1d]}}\n"
      "      - {kind: naked_short_call, size: {dist: uniform, min: 2, max: 4.5}, expiry: {dist: table, values: [3h, 2d]}}\n"
      "      - {kind: naked_short_put, size: {dist: uniform, min: 2, max: 4.5}, expiry: {dist: table, values: [4h, 1d]}}\n"
      "      - {kind: covered_call, size: {dist: uniform, min: 1, max: 4}, expiry: {dist: table, values: [5h, 7d]}}\n"
      "      - {kind: protective_put, strike: {by: delta, value: 0.45}, size: {dist: uniform, min: 1, max: 4.95}, "
      "expiry: {dist: table, values: [1h, 7d]}}\n"
      "      - {kind: long_straddle, size: {dist: uniform, min: 0.5, max: 2}, expiry: {dist: table, values: [8h, 1d]}}\n"
      "  markets: {enabled: true, count: {dist: table, values: [1, 2, 3]}, directions: random}\n"
      "margin: {model: portfolio}\n"
      "oracle: {kind: push, deviation: 0.0133, heartbeat: 20m, latency: {dist: exponential, mean: 7s}}\n"
      "keepers: {delay: {dist: lognormal, median: 3s, sigma: 0.8}, capacity: {per_block: 0, block_time: 12s}, "
      "gas_cost: 7.07432}\n"
      "liquidation: {mode: partial, penalty: 0, keeper_share: 0.5, insurance_fund: 0, shortfall: adl}\n"
      "stats: {contagion: false}\noutput: {fan: {paths: 0}}\n";
  twins t = twins_of(yaml);
  int64_t checks = 0, naive = 0;
  for (uint64_t p = 0; p < 3; p++) {
    ms_path_summary a;
    same_as_bruteforce(t.ix, t.bf, p, &a, 0);
    checks += a.option_revaluations;
    naive += a.option_revaluations_naive;
  }
  print_message("tidying: %lld checks of option units, %lld naive\n", (long long)checks, (long long)naive);
  twins_free(&t);
}

/* ADL's ranking (per market and side, a heap of the open units by effective
 * collateral per unit of gross entry notional, kept as units change and
 * rebuilt after charges) against the brute force's scan and sort per call:
 * books with no insurance fund, where ADL closes counterparties again and
 * again, with partial liquidation (units reopened), funding (charges) and
 * option units (their remainders socialized). */
static void test_multi__adl_ranking_matches_scan(void **state) {
  (void)state;
  ms_error err;
  int64_t adl_records = 0, adl_paths = 0;
  for (int k = 0; k < 10; k++) {
    ms_config *cfg = random_world_options(2 + k % 2, k % 3 == 2 ? 1 : 0, k % 3, k + 200, 0, "adl",
                                          k >= 7 ? 0.3 : 0.0, &err);
    if (!cfg) fail_msg("config %d: %s", k, err.msg);
    if (cfg->funding.enabled) { /* funding heavy enough to reorder the ranking between cross and isolated units */
      cfg->funding.interest = 0.02;
      cfg->funding.cap = 0.05;
    }
    twins t = twins_on(cfg);
    for (uint64_t p = 0; p < 4; p++) {
      ms_path_summary a;
      same_as_bruteforce(t.ix, t.bf, p, &a, 100 + k);
      size_t n;
      const ms_liq_record *r = ms_engine_records(t.ix, &n);
      for (size_t i = 0; i < n; i++) adl_records += r[i].adl_qty > 0;
      adl_paths += a.adl_notional > 0;
    }
    twins_free(&t);
  }
  print_message("ADL ranking: %lld liquidations closed against counterparties on %lld paths\n",
                (long long)adl_records, (long long)adl_paths);
  assert_true(adl_records > 200);
  assert_true(adl_paths >= 8);
}

/* book.markets.cross_offset by hand: A falls 10% a day, B rises 5% (vol
 * 1e-6: portfolio margin needs a volatility), one cross account long 50 A
 * and short 50 B at 100 under portfolio margin, whose perps' maintenance is
 * a ratio of notional per side (rho_l, rho_s: the model's own, read from
 * it). Eligible when
 *   C + 50 (P_A - 100) - 50 (P_B - 100) < rho_l 50 P_A + rho_s 50 P_B - c min(rho_l 50 P_A, rho_s 50 P_B),
 * found at the first tick at or after that time: later with the credit
 * (c = 0.6) than without (c = 0), each where the hand computation puts it;
 * and the bounds agree with the brute force with the credit. */
static double offset_gap(double tau, double C, double rl, double rs, double c) {
  double pa = 100 * exp(-0.1 * tau), pb = 100 * exp(0.05 * tau), ra = rl * 50 * pa, rb = rs * 50 * pb;
  return C + 50 * (pa - 100) - 50 * (pb - 100) - (ra + rb - c * (ra < rb ? ra : rb));
}

static void test_multi__cross_offset_by_hand(void **state) {
  (void)state;
  const double day = 86400000.0, step = 10000.0;
  int64_t when[2];
  for (int w = 0; w < 2; w++) {
    double c = w ? 0.6 : 0.0;
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "seed: 1\npaths: 1\nhorizon: 30d\nstep: 10s\n"
             "market:\n  days_per_year: 365\n  assets:\n"
             "    - {name: A, initial_price: 100, impact: {model: none}}\n"
             "    - {name: B, initial_price: 100, impact: {model: none}}\n"
             "  regimes: [{name: only, assets: [{vol: 1e-6, drift: -36.5}, {vol: 1e-6, drift: 18.25}]}]\n"
             "book:\n  accounts: 1\n  leverage: {dist: fixed, value: 1}\n  margin_mode: cross\n"
             "  markets: {enabled: true, count: 2, cross_offset: %g}\n"
             "margin: {model: portfolio}\n"
             "oracle: {kind: push, deviation: 0, heartbeat: 1h, latency: {dist: fixed, value: 0s}}\n"
             "keepers: {delay: {dist: fixed, value: 0s}}\n"
             "liquidation: {mode: full, penalty: 0.01, keeper_share: 0.5, insurance_fund: 1e9, shortfall: socialize}\n"
             "stats: {contagion: false}\noutput: {fan: {paths: 0}}\n", c);
    ms_error err;
    twins t = twins_of(yaml);
    ms_margin *mg;
    assert_ok(ms_margin_new(&mg, t.cfg, &err), &err);
    double rl = ms_margin_perp_mm(mg, 1.0, 1.0), rs = ms_margin_perp_mm(mg, -1.0, 1.0);
    double C = 1.05 * 50 * 100 * (ms_margin_perp_im(mg, 1.0, 1.0) + ms_margin_perp_im(mg, -1.0, 1.0));
    ms_margin_free(mg);
    ms_multi_unit unit = {C, 0, 0, 2};
    ms_multi_pos pos[2] = {{50, 0, 0, -1}, {-50, 1, 0, -1}};
    twins_set_book(&t, &unit, 1, pos, 2);
    ms_path_summary s;
    assert_int_equal(same_as_bruteforce(t.ix, t.bf, 0, &s, w), 2);
    size_t n;
    const ms_liq_record *r = ms_engine_records(t.ix, &n);
    double lo = 0, hi = 30;
    assert_true(offset_gap(lo, C, rl, rs, c) > 0 && offset_gap(hi, C, rl, rs, c) < 0);
    for (int i = 0; i < 200; i++) {
      double mid = 0.5 * (lo + hi);
      if (offset_gap(mid, C, rl, rs, c) > 0) lo = mid;
      else hi = mid;
    }
    when[w] = (int64_t)(ceil(hi * day / step) * step);
    assert_int_equal(r[0].time, when[w]);
    print_message("cross offset %g: liquidated at %.4f d, by hand %.4f d\n", c, (double)r[0].time / day, hi);
    twins_free(&t);
  }
  assert_true(when[1] > when[0] + 3600000); /* the credit holds it hours longer */
}

/* ADL's ranking after a funding payment, by hand: A rises ~10% an hour on a
 * still path (B still); two shorts of A go bankrupt, at ~0.6 h and ~1.4 h,
 * with no fund (keepers 40 min late), each sending 5 units to ADL on A's longs. U3 (long 10 A,
 * 300 USD, key 0.3) takes the first. Then funding (1% an hour, longs pay,
 * shorts receive their rate) moves the longs' keys unevenly: U1 (long 10 A,
 * 500 USD) from 0.5 to (500 - 10.5) / 1,000 ~ 0.4895; U2 (cross: long 10 A,
 * short 10 B, 990 USD, key 990 / 2,000 = 0.495) pays in A and is paid in B,
 * ~0.4945. So the second ADL takes U1, not U2 as the keys of before the
 * payment would have: the ranking must be rebuilt after a charge. */
static void test_multi__adl_ranking_after_funding(void **state) {
  (void)state;
  const char *yaml =
      "seed: 1\npaths: 1\nhorizon: 3h\nstep: 10s\n"
      "market:\n  days_per_year: 365\n  assets:\n"
      "    - {name: A, initial_price: 100, impact: {model: none}}\n"
      "    - {name: B, initial_price: 100, impact: {model: none}}\n"
      "  regimes: [{name: up, assets: [{vol: 0, drift: 855}, {vol: 0, drift: 0}], correlation: [[1, 0], [0, 1]]}]\n"
      "book:\n  accounts: 5\n  leverage: {dist: fixed, value: 1}\n  margin_mode: cross\n"
      "  markets: {enabled: true, count: 1}\n"
      "margin: {model: static, initial: 0.05, maintenance: 0.025}\n"
      "oracle: {kind: push, deviation: 0, heartbeat: 1h, latency: {dist: fixed, value: 0s}}\n"
      "keepers: {delay: {dist: fixed, value: 40m}}\n"
      "liquidation: {mode: full, penalty: 0, insurance_fund: 0, shortfall: adl}\n"
      "funding: {enabled: true, interval: 1h, rate_period: 1h, cap: 0.05, receivers: rate, price: oracle, "
      "premium: {mean: 0.01, sd: 0.00001, half_life: 1h}}\n"
      "stats: {contagion: false}\noutput: {fan: {paths: 0}}\n";
  twins t = twins_of(yaml);
  /* units: U0a, U0b (shorts of A), U1, U2 (cross), U3 */
  ms_multi_unit units[5] = {{25, 0, 0, 1}, {60, 1, 1, 1}, {500, 2, 2, 1}, {990, 3, 3, 2}, {300, 4, 5, 1}};
  ms_multi_pos pos[6] = {{-5, 0, 0, -1}, {-5, 0, 1, -1}, {10, 0, 2, -1}, {10, 0, 3, -1}, {-10, 1, 3, -1},
                         {10, 0, 4, -1}};
  twins_set_book(&t, units, 5, pos, 6);
  ms_path_summary s;
  same_as_bruteforce(t.ix, t.bf, 0, &s, 0);
  assert_int_equal(s.liquidations, 2);
  assert_true(s.adl_notional > 0 && s.uncovered_loss == 0);
  /* U1 was taken by the second ADL (its cash rose by 5 x (bankruptcy price - 100) less its funding), U2 not:
   * U2 ends with its deposit, what funding paid and took, no ADL gain */
  double c1, c2, c3;
  ms_multi_unit_state(ms_engine_multi(t.ix), 2, &c1);
  ms_multi_unit_state(ms_engine_multi(t.ix), 3, &c2);
  ms_multi_unit_state(ms_engine_multi(t.ix), 4, &c3);
  print_message("ADL after funding: cash U1 %.2f, U2 %.2f, U3 %.2f\n", c1, c2, c3);
  assert_true(c1 > 500 + 5 * 5); /* its ADL gain, beyond the funding it paid */
  assert_true(c2 < 990);          /* funding only: paid on 10 rising A, received on 10 still B */
  assert_true(c3 > 300);          /* the first ADL's gain, 5 x (105 - 100), beyond its funding */
  twins_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_multi__index_matches_bruteforce),
      cmocka_unit_test(test_multi__money_is_conserved),
      cmocka_unit_test(test_multi__cross_and_isolated_by_hand),
      cmocka_unit_test(test_multi__contagion_counts_losses_elsewhere),
      cmocka_unit_test(test_multi__one_market_book_is_the_one_market_engine),
      cmocka_unit_test(test_multi__ties_go_by_the_book_not_the_slots),
      cmocka_unit_test(test_multi__positions_beyond_32_bits_refused),
      cmocka_unit_test(test_multi__tiered_charges_after_a_favourable_move),
      cmocka_unit_test(test_multi__tiered_long_charges_after_a_favourable_move),
      cmocka_unit_test(test_multi__dynamic_long_charges_as_the_ratio_moves),
      cmocka_unit_test(test_multi__tidying_checks_no_unit),
      cmocka_unit_test(test_multi__threads_share_a_book_drawn_once),
      cmocka_unit_test(test_multi__per_path_book_is_the_paths_own),
      cmocka_unit_test(test_multi__isolated_without_channels_has_no_contagion),
      cmocka_unit_test(test_multi__weights_that_overflow_are_refused),
      cmocka_unit_test(test_multi__runaway_instant_is_bounded),
      cmocka_unit_test(test_multi__contagion_counts_partial_liquidations),
      cmocka_unit_test(test_multi__options_match_bruteforce),
      cmocka_unit_test(test_multi__option_bands_channels),
      cmocka_unit_test(test_multi__adl_ranking_matches_scan),
      cmocka_unit_test(test_multi__adl_ranking_after_funding),
      cmocka_unit_test(test_multi__cross_offset_by_hand),
      cmocka_unit_test(test_multi__one_market_options_are_the_one_market_engine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
