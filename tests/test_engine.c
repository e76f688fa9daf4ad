/*
 * test_engine — the liquidation engine.
 *
 *  - The indexed engine and a brute-force twin (every open account checked
 *    at every eligibility check; ADL counterparties ranked by a full scan)
 *    agree liquidation for liquidation, bit for bit, on randomized scenarios
 *    with impact, partial mode, tiers, delays, capacity, socialize and ADL.
 *  - Money is conserved on every path: to the cent, or to MONEY_REL_TOL of
 *    the money in play when that is more (near the bound on the mark's move).
 *  - The first liquidation of a long and of a short happens where the
 *    published liquidation-price formulas put it (dYdX for static margin,
 *    Binance's bracket formula for tiered).
 *  - An eligible account that recovers before its keeper acts is not
 *    liquidated (replayed from the price trace).
 *  - Block capacity is never exceeded.
 *  - Funding: the twin agrees with funding of either sign (credits too),
 *    the payments and the liquidations funding causes match closed forms.
 *  - Parking skipped liquidations changes nothing against re-examining
 *    every one at every block, a dynamic ratio that falls included.
 */
#include <math.h>

#include "engine/engine_int.h"
#include "engine/engine.h"
#include "core/rng.h"
#include "output/stats.h"
#include "bruteforce.h"
#include "cascade_ref.h"
#include "testutil.h"

/* ---- a workspace for a scenario ---- */

typedef struct {
  ms_config *cfg;
  ms_book *book;
  struct ms_index_static *idx;
  ms_engine *e;
} rig;

static void rig_open(rig *r, const char *yaml) {
  ms_error err;
  memset(r, 0, sizeof *r);
  r->cfg = load_yaml(yaml, NULL, 0, &err);
  if (!r->cfg) fail_msg("%s\n%s", err.msg, yaml);
  assert_ok(ms_engine_shared_new(r->cfg, &r->book, &r->idx, &err), &err);
  assert_ok(ms_engine_new(&r->e, r->cfg, r->book, r->idx, &err), &err);
}

static void rig_close(rig *r) {
  ms_engine_free(r->e);
  ms_engine_shared_free(r->book, r->idx);
  ms_config_free(r->cfg);
}

/* A trace of ms_trace_len(cfg) samples in one allocation; free with trace_free. */
static ms_trace trace_new(const ms_config *cfg) {
  size_t L = (size_t)ms_trace_len(cfg);
  double *d = malloc(L * 9 * sizeof(double)); /* seven double fields, two int32 ones in double slots */
  assert_non_null(d);
  return (ms_trace){d, d + L, d + 2 * L, (int32_t *)(d + 6 * L), d + 3 * L, d + 4 * L, (int32_t *)(d + 7 * L),
                    d + 5 * L, d + 8 * L};
}

static void trace_free(ms_trace *tr) { free(tr->price); }

/* The brute-force twin: tests/bruteforce.h. */

/* ---- randomized scenarios ---- */

static uint64_t lcg(uint64_t *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 33;
}

static void random_scenario(char *buf, size_t n, uint64_t trial) {
  uint64_t x = trial * 7919 + 17;
  static const char *margins[] = {
      "margin: {model: static, initial: 0.05, maintenance: 0.03}",
      "margin: {model: tiered, tiers: [{floor: 0, maintenance: 0.01, initial: 0.02}, "
      "{floor: 20000, maintenance: 0.02, initial: 0.04}, {floor: 60000, maintenance: 0.03, initial: 0.06}, "
      "{floor: 150000, maintenance: 0.04, initial: 0.08}]}",
      "margin: {model: dynamic, dynamic: {k: 3, update_every: 2m, liquidation_horizon: 2h, floor: 0.01, "
      "cap: 0.08, max_step: 0.004, initial_multiplier: 1.5, estimator: ewma}}",
      "margin: {model: dynamic, dynamic: {k: 2.5, update_every: 1m, estimator: window, window: 20m, "
      "floor: 0.015, cap: 0.1, max_step: 0.01, initial_multiplier: 1.6}}",
      "margin: {model: portfolio, portfolio: {price_range: 0.05, mm_factor: 0.6, extended: "
      "[{shock: -0.2, weight: 0.25}, {shock: 0.3, weight: 0.2}]}}",
      "margin: {model: portfolio, portfolio: {grid: span, span: {scan_range: 0.05, vol_range: 0.3}, "
      "mm_factor: 0.7}}"};
  static const double maxlev[] = {20, 12, 8, 9, 16, 13};
  static const char *impacts[] = {"{model: sqrt, depth: 2e5, half_life: 5m}",
                                  "{model: linear, depth: 5e5, half_life: 2m}",
                                  "{model: sqrt, depth: 1e6, half_life: 0s, options: true}", "{model: none}"};
  static const char *delays[] = {"{dist: fixed, value: 0s}", "{dist: exponential, mean: 20s}",
                                 "{dist: lognormal, median: 10s, sigma: 1}", "{dist: uniform, min: 1s, max: 2m}"};
  static const char *oracles[] = {
      "{kind: push, deviation: 0.003, heartbeat: 10m, latency: {dist: exponential, mean: 5s}}",
      "{kind: pull, interval: 3s, latency: {dist: uniform, min: 0s, max: 8s}}",
      "{kind: push, deviation: 0.002, heartbeat: 5m, latency: 2s, twap: 30s}",
      "{kind: pull, interval: 1s, latency: 0s}"};
  static const char *options[] = {
      "options: {fraction: 0}",
      "options: {fraction: 0.3, strategies: [{kind: naked_short_call, size: {dist: uniform, min: 0.5, max: 3}, "
      "expiry: {dist: table, values: [2h, 1d, 7d]}}, {kind: short_strangle, strike: {by: delta, value: 0.2}, "
      "size: {dist: uniform, min: 0.5, max: 2}, expiry: {dist: table, values: [3h, 2d]}}, {kind: covered_call, "
      "size: {dist: uniform, min: 1, max: 4}}, {kind: protective_put, size: {dist: uniform, min: 1, max: 4}}, "
      "{kind: long_straddle, size: {dist: uniform, min: 0.5, max: 2}, expiry: {dist: table, values: [1h, 6h]}}, "
      "{kind: naked_short_put, strike: {by: moneyness, value: 0.02}, size: {dist: uniform, min: 0.5, max: 3}}]}"};
  int mi = (int)(trial % 6); /* every model, each with and without options (below) */
  char lev[16];
  snprintf(lev, sizeof lev, "%g", maxlev[mi]);
  snprintf(buf, n,
           "seed: %llu\nhorizon: 3h\nstep: 1s\n"
           "market:\n  initial_price: 1000\n  impact: %s\n  smile: {skew: %s}\n"
           "  regimes:\n    - {name: a, vol: 1.5, drift: -3, mean_duration: 1h}\n"
           "    - {name: b, vol: 3.0, drift: 2, mean_duration: 20m, jumps: {rate: 24/d, mean: -0.03, sd: 0.04}}\n"
           "book:\n  accounts: %d\n  collateral: {dist: lognormal, median: 2000, sigma: 1.0}\n"
           "  leverage: {dist: uniform, min: 1, max: %s}\n  long_fraction: 0.6\n  %s\n"
           "%s\n"
           "oracle: %s\n"
           "keepers:\n  delay: %s\n  capacity: {per_block: %d, block_time: 12s}\n"
           "  congestion: {per_pending: %s, max_factor: 5}\n  gas_cost: %s\n"
           "  outages: [{start: 1h, duration: %s}]\n"
           "liquidation:\n  mode: %s\n  min_close: 0.25\n  penalty: 0.01\n  keeper_share: 0.5\n"
           "  insurance_fund: %s\n  shortfall: %s\n  option_spread: 0.03\n",
           (unsigned long long)trial, impacts[lcg(&x) % 4], lcg(&x) % 2 ? "0" : "-0.3",
           150 + (int)(lcg(&x) % 200), lev, options[(trial / 6) % 2], margins[mi], oracles[lcg(&x) % 4],
           delays[lcg(&x) % 4], (int)(lcg(&x) % 3) * 2, lcg(&x) % 2 ? "0" : "0.2", lcg(&x) % 3 ? "0" : "3",
           lcg(&x) % 2 ? "0s" : "10m", lcg(&x) % 2 ? "full" : "partial", lcg(&x) % 4 ? "2000" : "50000",
           (trial / 12) % 2 ? "adl" : "socialize");
}

/* Per-path money identity (docs/engine.md, "Money"):
 *   collateral in + PnL = collateral out + keeper rewards + fund change - uncovered loss
 * with PnL = realised + unrealised at the final mark and collateral out = final
 * equity at the final mark; plus the waterfall's own identities. */
/* The money identities hold to 0.01 USD + MONEY_REL_TOL x the money in play
 * (docs/engine.md, Money): sums of doubles lose about 1e-16 of their size per
 * operation, and a path of a million liquidations makes a million of them. */
#define MONEY_REL_TOL 1e-10

/* The money in play of a path: what went in (deposits, the fund) and what
 * moved (liquidated notional, bad debt). */
static double money_in_play(const ms_config *cfg, const ms_book *b, const ms_path_summary *s) {
  double in = cfg->liquidation.insurance_fund;
  for (int64_t i = 0; i < b->n; i++) in += ms_book_deposit(b, i);
  return in + s->liquidated_notional + s->options_liquidated_notional + s->bad_debt + s->adl_notional;
}

static double check_money(rig *r, const ms_path_summary *s) {
  const ms_accounts *a = ms_engine_accounts(r->e);
  const ms_book *b = ms_engine_book(r->e); /* the shared book, or the path's own (per_path) */
  ms_view fv;
  ms_engine_final_view(r->e, &fv);
  double pf = fv.P, E = b->entry;
  /* realised PnL is kept for the path, and what closed accounts whose
   * entries were dropped held is kept as a sum */
  long double cin = 0, pnl = a->realized, cout = a->dropped_cash;
  for (int64_t i = 0; i < b->n; i++) {
    ms_position p;
    ms_accounts_position(a, i, &p);
    cin += ms_book_deposit(b, i);
    pnl += p.q * (pf - E);
    double opt = 0;
    for (int l = 0; l < p.nlegs; l++) {
      double V = ms_margin_leg_value(ms_engine_margin(r->e), &p.legs[l], pf, fv.t, fv.vol);
      pnl += p.legs[l].q * (V - p.legs[l].v0); /* open options against their entry premium */
      opt += p.legs[l].q * V;
    }
    cout += p.C + p.q * (pf - E) + opt;
  }
  const ms_liquidation_cfg *lc = &r->cfg->liquidation;
  double fund_change = s->insurance_end - lc->insurance_fund;
  /* uncovered_loss is bad debt no one paid, in either mode: what the
   * profitable side could not pay of a socialized remainder, and the share
   * of ADL units that found no opposite position (sold to the market). */
  /* funding from the rest of the market (funding.receivers rate) came in from outside the book */
  double gap = (double)(cin + pnl + s->funding_outside - (cout + s->keeper_rewards + fund_change - s->uncovered_loss));
  double tol = 0.01 + MONEY_REL_TOL * money_in_play(r->cfg, b, s);
  if (fabs(gap) > tol)
    fail_msg("path %llu: money not conserved: in %.4Lf + PnL %.4Lf vs out %.4Lf + keepers %.4f + fund %.4f - "
             "uncovered %.4f (gap %.6f)", (unsigned long long)s->path, cin, pnl, cout, s->keeper_rewards,
             fund_change, s->uncovered_loss, gap);
  /* the fund: fees in, bad debt out */
  assert_true(fabs(fund_change - ((s->penalties - s->keeper_rewards) - s->insurance_paid)) < tol);
  /* every dollar of bad debt has exactly one payer, or is uncovered */
  if (fabs(s->bad_debt - (s->insurance_paid + s->socialized_loss + s->adl_loss + s->uncovered_loss)) > tol)
    fail_msg("path %llu: bad debt %.4f != fund %.4f + socialized %.4f + adl %.4f + uncovered %.4f",
             (unsigned long long)s->path, s->bad_debt, s->insurance_paid, s->socialized_loss, s->adl_loss,
             s->uncovered_loss);
  if (strcmp(ms_model_name(lc->shortfall), "socialize") == 0) assert_true(s->adl_loss == 0 && s->adl_notional == 0);
  assert_true(s->insurance_end >= -1e-6 && s->insurance_min <= s->insurance_end + 1e-9);
  return gap;
}

/* The indexed engine in @p r, its brute-force twin in @p bf. */
static void twin_open(rig *r, rig *bf, const char *yaml) {
  rig_open(r, yaml);
  rig_open(bf, yaml);
  ms_engine_set_finder(bf->e, &brute_force, NULL);
}

/* Path @p p of the indexed engine and of its brute-force twin: money
 * balances in both, and they agree liquidation for liquidation and on every
 * summary column but the work counters (the twin checks every account). */
static void twin_path(rig *r, rig *bf, uint64_t trial, uint64_t p, const char *yaml, ms_path_summary *s1,
                      ms_path_summary *s2) {
  ms_error err;
  assert_ok(ms_engine_run_path(r->e, p, s1, NULL, &err), &err);
  check_money(r, s1);
  assert_ok(ms_engine_run_path(bf->e, p, s2, NULL, &err), &err);
  check_money(bf, s2);
  size_t n1, n2;
  ms_liq_record *r1 = ms_engine_records(r->e, &n1), *r2 = ms_engine_records(bf->e, &n2);
  if (n1 != n2) fail_msg("trial %llu path %llu: %zu liquidations indexed, %zu brute force\n%s",
                         (unsigned long long)trial, (unsigned long long)p, n1, n2, yaml);
  compare_records(r1, r2, n1, p);
  size_t nc;
  const ms_cascade_record *cas = ms_engine_cascades(r->e, &nc);
  check_against_reference(r->cfg, s1, r1, n1, cas, nc); /* options, partial fills, ADL, expiries: in time order */
  ms_path_summary a = *s1, b = *s2;
  assert_true(b.option_revaluations >= a.option_revaluations);
  a.option_revaluations = b.option_revaluations = 0;
  a.bs_evaluations = b.bs_evaluations = 0;
  if (memcmp(&a, &b, sizeof a))
    fail_msg("trial %llu path %llu: summaries differ", (unsigned long long)trial, (unsigned long long)p);
}

static void test_engine__index_agrees_with_brute_force(void **state) {
  (void)state;
  int64_t total = 0, partial = 0, impact_triggered = 0, social = 0, adl = 0, adl_unmatched = 0, skipped = 0;
  int64_t recovered = 0, expired = 0;
  double optliq = 0, optliq_m[6] = {0};
  int64_t liq_m[6] = {0};
  for (uint64_t trial = 0; trial < 36; trial++) {
    char yaml[4096];
    random_scenario(yaml, sizeof yaml, trial);
    rig r, bf;
    twin_open(&r, &bf, yaml);
    for (uint64_t p = 0; p < 6; p++) {
      ms_path_summary s1, s2;
      twin_path(&r, &bf, trial, p, yaml, &s1, &s2);
      total += s1.liquidations;
      partial += s1.partial_liquidations;
      impact_triggered += s1.impact_triggered_liquidations;
      social += s1.socialized_loss > 0;
      adl += s1.adl_notional > 0;
      adl_unmatched += strcmp(ms_model_name(r.cfg->liquidation.shortfall), "adl") == 0 && s1.uncovered_loss > 0;
      skipped += s1.skipped_unprofitable;
      recovered += s1.recovered;
      optliq += s1.options_liquidated_notional;
      optliq_m[trial % 6] += s1.options_liquidated_notional;
      liq_m[trial % 6] += s1.liquidations;
      expired += s1.options_expired;
    }
    rig_close(&r);
    rig_close(&bf);
  }
  /* Every feature under test was exercised, every margin model included. */
  static const char *mname[6] = {"static", "tiered", "dynamic ewma", "dynamic window", "portfolio", "span"};
  for (int m = 0; m < 6; m++) {
    print_message("%s: %lld liquidations, options liquidated %.0f USD\n", mname[m], (long long)liq_m[m], optliq_m[m]);
    assert_true(liq_m[m] > 20);
  }
  print_message("liquidations %lld, partial %lld, impact_triggered %lld, paths socialized %lld, adl %lld "
                "(unmatched %lld), skipped %lld, recovered %lld, options liquidated %.0f USD, legs expired %lld\n",
                (long long)total, (long long)partial, (long long)impact_triggered, (long long)social, (long long)adl,
                (long long)adl_unmatched, (long long)skipped,
                (long long)recovered, optliq, (long long)expired);
  assert_true(total > 1000 && partial > 50 && impact_triggered > 50 && social > 0 && adl > 0 && skipped > 0 &&
              recovered > 0 && optliq > 0 && expired > 0);
}

/* Replace the first @p from in @p buf (of size @p n) by @p to. */
static void replace_in(char *buf, size_t n, const char *from, const char *to) {
  char *at = strstr(buf, from);
  assert_non_null(at);
  size_t lf = strlen(from), lt = strlen(to), rest = strlen(at + lf);
  assert_true((size_t)(at - buf) + lt + rest + 1 <= n);
  memmove(at + lt, at + lf, rest + 1);
  memcpy(at, to, lt);
}

/* The portfolio presets' rules (Paradex's minimum delta requirement and
 * unshocked rows left out, Derive's contingencies and volatility floor)
 * keep the bands strict: the indexed engine and the brute-force twin agree
 * on books of options and perps, with narrower core moves than the
 * venues' so that accounts are liquidated within 3 hours. */
static void test_engine__presets_agree_with_brute_force(void **state) {
  (void)state;
  static const char *presets[] = {
      "margin: {model: portfolio, portfolio: {preset: paradex, price_range: 0.05, extended: "
      "[{shock: -0.2, weight: 0.25}, {shock: 0.3, weight: 0.2}]}}",
      "margin: {model: portfolio, portfolio: {preset: derive, price_range: 0.05, extended: "
      "[{shock: -0.2, weight: 0.25}, {shock: 0.3, weight: 0.2}]}}"};
  int64_t liq[2] = {0}, reval[2] = {0}, naive[2] = {0};
  for (uint64_t k = 0; k < 4; k++) {
    uint64_t trial = 10 + 12 * k; /* portfolio margin (trial % 6 == 4), with options ((trial / 6) % 2 == 1) */
    char yaml[4096];
    random_scenario(yaml, sizeof yaml, trial);
    replace_in(yaml, sizeof yaml,
               "margin: {model: portfolio, portfolio: {price_range: 0.05, mm_factor: 0.6, extended: "
               "[{shock: -0.2, weight: 0.25}, {shock: 0.3, weight: 0.2}]}}",
               presets[k % 2]);
    if (k % 2) replace_in(yaml, sizeof yaml, "max: 16}", "max: 10}"); /* Derive's initial: 9% of a perp */
    rig r, bf;
    twin_open(&r, &bf, yaml);
    for (uint64_t p = 0; p < 4; p++) {
      ms_path_summary s1, s2;
      twin_path(&r, &bf, trial, p, yaml, &s1, &s2);
      liq[k % 2] += s1.liquidations;
      reval[k % 2] += s1.option_revaluations;
      naive[k % 2] += s1.option_revaluations_naive;
    }
    rig_close(&r);
    rig_close(&bf);
  }
  for (int i = 0; i < 2; i++) {
    print_message("%s: %lld liquidations; option revaluations %lld of %lld naive\n", i ? "derive" : "paradex",
                  (long long)liq[i], (long long)reval[i], (long long)naive[i]);
    assert_true(liq[i] > 20);
  }
}

/* Regimes of seconds over option books: bands are kept per regime and
 * used again when their regime returns (acctindex.c), while the price
 * falls out of them; the indexed engine and the brute-force twin must
 * still agree liquidation for liquidation, under every margin model. Trial
 * 8 (dynamic margin) once missed a briefly eligible account (`recovered`
 * 46 against 48): a keeper reopened it under another regime between two
 * checks of the same regime, which saw no switch (acctindex.c, `walk`). */
static void test_engine__fast_regime_switches_agree_with_brute_force(void **state) {
  (void)state;
  int64_t liq = 0, optliq = 0, reval = 0, naive = 0;
  for (uint64_t trial = 6; trial < 12; trial++) { /* every margin model, with options */

    char yaml[4096];
    random_scenario(yaml, sizeof yaml, trial);
    replace_in(yaml, sizeof yaml, "mean_duration: 1h", "mean_duration: 20s");
    replace_in(yaml, sizeof yaml, "mean_duration: 20m", "mean_duration: 10s");
    replace_in(yaml, sizeof yaml, "horizon: 3h", "horizon: 2h");
    replace_in(yaml, sizeof yaml, "drift: -3,", "drift: -1000,"); /* out of the time-0 bands within the hour */
    rig r, bf;
    twin_open(&r, &bf, yaml);
    for (uint64_t p = 0; p < 3; p++) {
      ms_path_summary s1, s2;
      twin_path(&r, &bf, trial, p, yaml, &s1, &s2);
      liq += s1.liquidations;
      optliq += s1.options_liquidated_notional > 0;
      reval += s1.option_revaluations;
      naive += s1.option_revaluations_naive;
    }
    rig_close(&r);
    rig_close(&bf);
  }
  print_message("%lld liquidations (%lld paths with options liquidated); option revaluations %lld of %lld naive\n",
                (long long)liq, (long long)optliq, (long long)reval, (long long)naive);
  assert_true(liq > 20 && optliq > 0 && reval > 0);
}

/* ADL touches its counterparties, and touching accounts can grow (move)
 * the pool of touched accounts while the bankrupt account is being settled:
 * a whale long against 1,999 small shorts (the pool starts at 1,024
 * entries), a gap down, keepers 30 minutes late, a book drawn per path.
 * Money must still balance on every path. */
static void test_engine__adl_that_grows_the_account_pool(void **state) {
  (void)state;
  const char *y =
      "seed: 3\nhorizon: 3h\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: none},\n"
      "  regimes: [{vol: 0.3, drift: 0, jumps: {rate: 24/h, mean: -0.2, sd: 0.01}}]}\n"
      "book: {accounts: 2000, resample: per_path, long_fraction: 0.2, leverage: {dist: fixed, value: 5},\n"
      "  collateral: {dist: table, values: [10000000, 100], weights: [0.0005, 0.9995]}}\n"
      "margin: {model: static, initial: 0.05, maintenance: 0.03}\n"
      "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
      "keepers: {delay: {dist: fixed, value: 30m}}\n"
      "liquidation: {mode: full, penalty: 0.01, insurance_fund: 0, shortfall: adl}\n";
  rig r;
  rig_open(&r, y);
  int64_t unmatched = 0;
  for (uint64_t p = 0; p < 10; p++) {
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s, NULL, &err), &err);
    check_money(&r, &s);
    unmatched += s.uncovered_loss > 0 && s.adl_notional > 0;
  }
  assert_true(unmatched > 0);
  rig_close(&r);
}

/* Parking skipped liquidations behind price boxes gives what re-examining
 * them at every block gives. */
/* ADL in depth: the twin above sees few insolvent paths, so here books
 * with an empty fund, thin margins, long keeper delays and gaps drive most
 * paths into ADL, one side much larger than the other so that the small
 * side runs out. The index's ADL ranking must agree with the twin's full
 * scan fill for fill, and money must balance on every path. */
static void test_engine__adl_agrees_with_brute_force(void **state) {
  (void)state;
  int64_t adl = 0, unmatched = 0, liqs = 0;
  for (uint64_t trial = 0; trial < 6; trial++) {
    char y[2048];
    snprintf(y, sizeof y,
             "seed: %llu\nhorizon: 6h\nstep: 1s\n"
             "market: {initial_price: 1000, impact: {model: sqrt, depth: 3e5, half_life: 5m},\n"
             "  regimes: [{vol: 1.2, drift: %s, jumps: {rate: 12/d, mean: %s, sd: 0.05}}]}\n"
             "book: {accounts: 300, collateral: {dist: lognormal, median: 2000, sigma: 1},\n"
             "       leverage: {dist: uniform, min: 1, max: 20}, long_fraction: %s}\n"
             "margin: {initial: 0.05, maintenance: 0.03}\n"
             "oracle: {kind: push, deviation: 0.003, heartbeat: 10m, latency: {dist: exponential, mean: 5s}}\n"
             "keepers: {delay: {dist: exponential, mean: 3m}}\n"
             "liquidation: {mode: %s, min_close: 0.25, penalty: 0.01, insurance_fund: 0, shortfall: adl}\n",
             (unsigned long long)trial, trial % 2 ? "-4" : "4", trial % 2 ? "-0.06" : "0.06",
             trial % 3 ? "0.9" : "0.15", trial % 3 == 1 ? "partial" : "full");
    rig r, bf;
    twin_open(&r, &bf, y);
    for (uint64_t p = 0; p < 4; p++) {
      ms_path_summary s1, s2;
      twin_path(&r, &bf, trial, p, y, &s1, &s2);
      adl += s1.adl_notional > 0;
      unmatched += s1.uncovered_loss > 0;
      liqs += s1.liquidations;
    }
    rig_close(&r);
    rig_close(&bf);
  }
  print_message("%lld liquidations; paths with ADL %lld, with ADL units unmatched %lld (of 24)\n", (long long)liqs,
                (long long)adl, (long long)unmatched);
  assert_true(adl >= 12 && unmatched >= 3);
}

static void test_engine__parking_changes_nothing(void **state) {
  (void)state;
  int64_t skipped = 0;
  for (uint64_t trial = 100; trial < 116; trial++) {
    char yaml[4096];
    random_scenario(yaml, sizeof yaml, trial);
    char more[4400];
    snprintf(more, sizeof more, "%s", yaml);
    rig r, plain;
    rig_open(&r, more);
    r.cfg->keepers.gas_cost = 20; /* the scenarios' own choice is often 0 */
    rig_open(&plain, more);
    plain.cfg->keepers.gas_cost = 20;
    ms_engine_free(r.e);
    ms_engine_free(plain.e);
    ms_error err;
    assert_ok(ms_engine_new(&r.e, r.cfg, r.book, r.idx, &err), &err);
    assert_ok(ms_engine_new(&plain.e, plain.cfg, plain.book, plain.idx, &err), &err);
    ms_engine_set_parking(plain.e, 0);
    for (uint64_t p = 0; p < 4; p++) {
      ms_path_summary s1, s2;
      assert_ok(ms_engine_run_path(r.e, p, &s1, NULL, &err), &err);
      assert_ok(ms_engine_run_path(plain.e, p, &s2, NULL, &err), &err);
      size_t n1, n2;
      ms_liq_record *r1 = ms_engine_records(r.e, &n1), *r2 = ms_engine_records(plain.e, &n2);
      if (n1 != n2) fail_msg("trial %llu path %llu: %zu vs %zu liquidations", (unsigned long long)trial,
                             (unsigned long long)p, n1, n2);
      compare_records(r1, r2, n1, p);
      if (memcmp(&s1, &s2, sizeof s1))
        fail_msg("trial %llu path %llu: summaries differ (skipped %lld vs %lld, liquidations %lld vs %lld, "
                 "pending %lld vs %lld)", (unsigned long long)trial, (unsigned long long)p,
                 (long long)s1.skipped_unprofitable, (long long)s2.skipped_unprofitable,
                 (long long)s1.liquidations, (long long)s2.liquidations, (long long)s1.pending_end,
                 (long long)s2.pending_end);
      skipped += s1.skipped_unprofitable;
    }
    rig_close(&r);
    rig_close(&plain);
  }
  print_message("%lld liquidations skipped for gas\n", (long long)skipped);
  assert_true(skipped > 100);
}

/* Parked accounts whose eligibility rests on the dynamic ratio alone: every
 * account's cash is set to the floor ratio's requirement at the entry price
 * (where the book starts, so the book's own check of initial margin has
 * passed), the gas cost is out of reach and the price all but still (vol
 * 1e-9). Each account is eligible while the ratio is above the floor,
 * parked at its first check, and once the ratio has come down to the floor
 * its standing is decided by the price's 1e-12 wobble, well inside the
 * parking bounds' slack: a release test that keeps an account parked there
 * (the ratio of the moment left out, a slack towards staying parked) makes
 * it miss a recovery that re-examining every block finds. */
static void test_engine__parked_accounts_follow_a_falling_ratio(void **state) {
  (void)state;
  const double floor_ratio = 0.01;
  const char *y =
      "horizon: 4h\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 1e-9, mean_duration: 1000d}]}\n"
      "book: {accounts: 12, collateral: 1000, leverage: 4, long_fraction: 0.5}\n"
      "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
      "margin: {model: dynamic, dynamic: {k: 3, initial_vol: 1, half_life: 10m, update_every: 1m,\n"
      "  liquidation_horizon: 1h, floor: 0.01, cap: 0.2, initial_multiplier: 1.5}}\n"
      "keepers: {delay: 0s, capacity: {per_block: 20, block_time: 12s}, gas_cost: 1e9}\n"
      "liquidation: {mode: full, penalty: 0.01, keeper_share: 0.5}\n"
      "output: {timeseries: {paths: 1, every: 1m}}\n";
  rig r, plain;
  rig_open(&r, y);
  rig_open(&plain, y);
  ms_engine_set_parking(plain.e, 0);
  int sides[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    rig *g = k ? &plain : &r;
    ms_engine_set_finder(g->e, &brute_force, NULL); /* the static index keys the book as drawn */
    for (int64_t i = 0; i < g->book->n; i++) {
      double q = g->book->pos[i].qty;
      g->book->pos[i].collateral = floor_ratio * (fabs(q) * g->book->entry); /* ms_margin_perp_mm at P = E */
      sides[q < 0] += k == 0;
    }
  }
  assert_true(sides[0] > 0 && sides[1] > 0);
  int64_t L = ms_trace_len(r.cfg), recovered = 0, skipped = 0;
  ms_trace tr = trace_new(r.cfg);
  for (uint64_t p = 0; p < 4; p++) {
    ms_path_summary s1, s2;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s1, &tr, &err), &err);
    assert_ok(ms_engine_run_path(plain.e, p, &s2, NULL, &err), &err);
    assert_true(tr.margin_ratio[0] > 2 * floor_ratio && tr.margin_ratio[L - 1] == floor_ratio);
    size_t n1, n2;
    ms_engine_records(r.e, &n1);
    ms_engine_records(plain.e, &n2);
    assert_true(n1 == 0 && n2 == 0);
    if (memcmp(&s1, &s2, sizeof s1))
      fail_msg("path %llu: parked and re-examined differ: recovered %lld vs %lld, skipped %lld vs %lld, "
               "pending at the end %lld vs %lld", (unsigned long long)p, (long long)s1.recovered,
               (long long)s2.recovered, (long long)s1.skipped_unprofitable, (long long)s2.skipped_unprofitable,
               (long long)s1.pending_end, (long long)s2.pending_end);
    recovered += s1.recovered;
    skipped += s1.skipped_unprofitable;
  }
  print_message("%lld skipped for gas, %lld recovered once the ratio fell\n", (long long)skipped,
                (long long)recovered);
  assert_true(skipped >= 4 * 12 && recovered >= 4 * 12);
  trace_free(&tr);
  rig_close(&r);
  rig_close(&plain);
}

/* The tick loop evaluates the impact only where the exogenous price comes
 * within the impact's bounds of the oracle's band or of the lowest mark:
 * that must give what evaluating the mark at every tick gives, bit for bit. */
static void test_engine__impact_bounds_change_nothing(void **state) {
  (void)state;
  int64_t liqs = 0, impact_triggered = 0;
  for (uint64_t trial = 200; trial < 224; trial++) {
    char yaml[4096];
    random_scenario(yaml, sizeof yaml, trial);
    rig r, exact;
    rig_open(&r, yaml);
    rig_open(&exact, yaml);
    ms_engine_set_exact_ticks(exact.e, 1);
    for (uint64_t p = 0; p < 3; p++) {
      ms_path_summary s1, s2;
      ms_error err;
      assert_ok(ms_engine_run_path(r.e, p, &s1, NULL, &err), &err);
      assert_ok(ms_engine_run_path(exact.e, p, &s2, NULL, &err), &err);
      size_t n1, n2;
      ms_liq_record *r1 = ms_engine_records(r.e, &n1), *r2 = ms_engine_records(exact.e, &n2);
      if (n1 != n2) fail_msg("trial %llu path %llu: %zu vs %zu liquidations\n%s", (unsigned long long)trial,
                             (unsigned long long)p, n1, n2, yaml);
      compare_records(r1, r2, n1, p);
      if (memcmp(&s1, &s2, sizeof s1))
        fail_msg("trial %llu path %llu: summaries differ (min mark %.17g vs %.17g, max impact %.17g vs %.17g, "
                 "publishes %lld vs %lld)", (unsigned long long)trial, (unsigned long long)p, s1.min_mark,
                 s2.min_mark, s1.max_impact, s2.max_impact, (long long)s1.oracle_publishes,
                 (long long)s2.oracle_publishes);
      liqs += s1.liquidations;
      impact_triggered += s1.impact_triggered_liquidations;
    }
    rig_close(&r);
    rig_close(&exact);
  }
  /* Shorts only: their liquidations buy, so the impact is positive and the
   * exogenous low can come with a mark above it; once the flow has decayed
   * the fast loop must not take that low for a mark. */
  const char *shorts =
      "horizon: 1d\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: linear, depth: 2e7, half_life: 30s},\n"
      "  regimes: [{vol: 0.05, jumps: {rate: 60/h, mean: 0, sd: 0.04}}]}\n"
      "book: {accounts: 500, long_fraction: 0, leverage: {dist: uniform, min: 2, max: 20}}\n"
      "oracle: {kind: push, deviation: 0.005, heartbeat: 1h, latency: 1s}\n"
      "liquidation: {mode: partial}\n";
  rig r, exact;
  rig_open(&r, shorts);
  rig_open(&exact, shorts);
  ms_engine_set_exact_ticks(exact.e, 1);
  int64_t above = 0;
  for (uint64_t p = 0; p < 100; p++) {
    ms_path_summary s1, s2;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s1, NULL, &err), &err);
    assert_ok(ms_engine_run_path(exact.e, p, &s2, NULL, &err), &err);
    if (memcmp(&s1, &s2, sizeof s1))
      fail_msg("shorts path %llu: summaries differ (min mark %.17g vs %.17g)", (unsigned long long)p, s1.min_mark,
               s2.min_mark);
    above += s2.min_mark > s2.min_price;
  }
  rig_close(&r);
  rig_close(&exact);
  print_message("%lld liquidations, %lld impact_triggered; shorts: %lld paths whose lowest mark is above the lowest price\n",
                (long long)liqs, (long long)impact_triggered, (long long)above);
  assert_true(liqs > 500 && impact_triggered > 100 && above > 0);
}

/* ---- analytic liquidation prices ---- */

/* dYdX's isolated liquidation price p' = (e - s p) / (|s| MMF - s)
 * (../shared/reference/margin-parameters.md 3.2). */
static double dydx_liq_price(double e, double s, double p, double mmf) {
  return (e - s * p) / (fabs(s) * mmf - s);
}

/* Binance's bracket formula liq = (WB + cum - qty entry) / (|qty| (mmr - side)), side = +1 long
 * (margin-parameters.md 1.3); the bracket is the one the result falls in. */
static double binance_liq_price(double wb, double qty, double entry, const double *floor, const double *mmr,
                                const double *cum, int ntiers) {
  double side = qty > 0 ? 1 : -1;
  for (int k = 0; k < ntiers; k++) {
    double p = (wb + cum[k] - qty * entry) / (fabs(qty) * (mmr[k] - side));
    double nv = fabs(qty) * p;
    if (nv >= floor[k] && (k + 1 == ntiers || nv < floor[k + 1])) return p;
  }
  return NAN;
}

static void first_liquidation(const char *yaml, double want, int is_long) {
  rig r;
  rig_open(&r, yaml);
  ms_path_summary s;
  ms_error err;
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  size_t n;
  ms_liq_record *rec = ms_engine_records(r.e, &n);
  check_first_liquidation_at(r.cfg, rec, n, want, is_long, "analytic");
  rig_close(&r);
}

static const char *det_base =
    "horizon: 1d\nstep: 1s\n"
    "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 0.000001, drift: %s}]}\n"
    "book: {accounts: 1, collateral: %s, leverage: %s, long_fraction: %s}\n"
    "%s\n"
    "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
    "keepers: {delay: 0s}\n";

static void test_engine__liquidation_price_static_matches_dydx(void **state) {
  (void)state;
  char y[2048];
  /* long: 10,000 USD at 10x, 3% maintenance; the price falls 40%/day */
  snprintf(y, sizeof y, det_base, "-300", "10000", "10", "1", "margin: {initial: 0.05, maintenance: 0.03}");
  first_liquidation(y, dydx_liq_price(10000, 100, 1000, 0.03), 1);
  /* short: 7,000 USD at 15x, 2% maintenance; the price rises */
  snprintf(y, sizeof y, det_base, "200", "7000", "15", "0", "margin: {initial: 0.06, maintenance: 0.02}");
  first_liquidation(y, dydx_liq_price(7000, -105, 1000, 0.02), 0);
}

static void test_engine__liquidation_price_tiered_matches_binance(void **state) {
  (void)state;
  /* Binance BTCUSDT 2021-03-18 brackets, with the cum amounts as published
   * (margin-parameters.md 1.2) rather than derived. */
  const double floor[] = {0, 5e4, 2.5e5, 1e6, 1e7, 2e7, 5e7, 1e8, 2e8, 3e8};
  const double mmr[] = {0.004, 0.005, 0.01, 0.025, 0.05, 0.1, 0.125, 0.15, 0.25, 0.5};
  const double cum[] = {0, 50, 1300, 16300, 266300, 1266300, 2516300, 5016300, 25016300, 100016300};
  char y[2048];
  /* long of 600,000 USD notional (bracket 3, MMR 1%) on 30,000 USD at 20x */
  snprintf(y, sizeof y, det_base, "-300", "30000", "20", "1", "margin: {model: tiered}");
  first_liquidation(y, binance_liq_price(30000, 600, 1000, floor, mmr, cum, 10), 1);
  /* short of 2,000,000 USD notional (bracket 4, MMR 2.5%) on 200,000 USD at 10x */
  snprintf(y, sizeof y, det_base, "300", "200000", "10", "0", "margin: {model: tiered}");
  first_liquidation(y, binance_liq_price(200000, -2000, 1000, floor, mmr, cum, 10), 0);
  /* a long that crosses into a lower bracket as the price falls: 60,000 USD notional
   * at 1000 (bracket 2) on 1,000 USD at 60x is liquidated below 50,000 notional */
  snprintf(y, sizeof y, det_base, "-300", "600", "100", "1", "margin: {model: tiered}");
  first_liquidation(y, binance_liq_price(600, 60, 1000, floor, mmr, cum, 10), 1);
}

/* ---- funding ---- */

/* Funding charges and credits move the sides' shifts both ways (a credit
 * lowers a side's shift, which the index must not follow: it bounds with
 * the rises alone): the indexed engine and the brute-force twin agree
 * liquidation for liquidation under every margin model, with and without
 * options, the rate of either sign, the notional at each of the three
 * prices; money balances on every path (funding sums to zero over the book,
 * so the identity needs no new term). */
static void test_engine__funding_agrees_with_brute_force(void **state) {
  (void)state;
  static const char *prices[] = {"mark", "oracle", "index"};
  int64_t liq = 0, longs_paid = 0, shorts_paid = 0;
  double paid = 0;
  for (uint64_t trial = 0; trial < 12; trial++) {
    char yaml[4608], fund[320];
    random_scenario(yaml, sizeof yaml, trial);
    snprintf(fund, sizeof fund,
             "funding: {enabled: true, interval: 10m, rate_period: 1h, sample_every: 7s, cap: 0.02, price: %s, "
             "receivers: %s, premium: {mean: %s, sd: 0.01, half_life: 30m%s}}\n",
             prices[trial % 3], trial % 5 < 2 ? "rate" : "pro_rata", trial % 4 < 2 ? "0.01" : "-0.01",
             trial % 3 == 1 ? ", regimes: [{mean: 0.01}, {mean: -0.02}]" : "");
    snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "%s", fund);
    rig r, bf;
    twin_open(&r, &bf, yaml);
    for (uint64_t p = 0; p < 4; p++) {
      ms_path_summary s1, s2;
      twin_path(&r, &bf, trial, p, yaml, &s1, &s2);
      liq += s1.liquidations;
      paid += s1.funding_paid;
      longs_paid += s1.funding_long_net < 0;
      shorts_paid += s1.funding_long_net > 0;
      if (r.cfg->funding.receivers == MS_FUND_PRO_RATA)
        assert_true(fabs(s1.funding_long_net) <= s1.funding_paid * (1 + 1e-12) && s1.funding_outside == 0);
      assert_true(s1.funding_rate_min <= s1.funding_rate_mean && s1.funding_rate_mean <= s1.funding_rate_max);
    }
    rig_close(&r);
    rig_close(&bf);
  }
  print_message("%lld liquidations, %.4g USD of funding paid; longs paid on %lld paths, shorts on %lld\n",
                (long long)liq, paid, (long long)longs_paid, (long long)shorts_paid);
  assert_true(liq > 500 && paid > 0 && longs_paid > 5 && shorts_paid > 5);
}

/* A funding credit raises a tiered account's threshold price by
 * credit / (1 + mmr) for a short, mmr that of its tier: less than by the
 * index's kappa, which bounds the moves of socialized losses from the
 * other side. The index bounds with the shift's rises alone (a credit
 * only makes an account healthier), so a short in a high tier that
 * received funding is still a candidate when the rising price crosses its
 * true threshold: the brute-force twin finds the same liquidations at the
 * same times. Bounding with the net shift here, the index missed 2 of the
 * 22 liquidations. */
static void test_engine__funding_credit_keeps_the_tiered_index_a_superset(void **state) {
  (void)state;
  const char *y =
      "horizon: 1d\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 0.000001, drift: 200}]}\n"
      "book: {accounts: 60, collateral: {dist: uniform, min: 90000, max: 110000}, "
      "leverage: {dist: uniform, min: 1.4, max: 1.9}, long_fraction: 0.5}\n"
      "margin: {model: tiered, tiers: [{floor: 0, maintenance: 0.01, initial: 0.02}, "
      "{floor: 100000, maintenance: 0.25, initial: 0.5}]}\n"
      "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
      "keepers: {delay: 0s}\n"
      "funding: {enabled: true, interval: 1h, rate_period: 1h, premium: {mean: 0.01}}\n";
  rig r, bf;
  twin_open(&r, &bf, y);
  ms_path_summary s1, s2;
  twin_path(&r, &bf, 0, 0, y, &s1, &s2);
  print_message("%lld liquidations, first at %.0f s; longs received %.4g USD\n", (long long)s1.liquidations,
                s1.first_liquidation_time, s1.funding_long_net);
  assert_true(s1.liquidations > 10 && s1.funding_long_net < 0);
  rig_close(&r);
  rig_close(&bf);
}

static const char *still_base =
    "horizon: 1d\nstep: 1s\n"
    "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 0, drift: 0}]}\n"
    "book: {accounts: 400, collateral: {dist: fixed, value: 10000}, leverage: {dist: fixed, value: %s}, "
    "long_fraction: 0.6}\n"
    "margin: {model: static, initial: 0.05, maintenance: 0.03}\n"
    "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
    "keepers: {delay: 0s}\n"
    "funding: %s\n";

/* On a still market with no impact the premium is the exogenous one: three
 * payments of an 8-hour Binance rate, 0.3% - 0.05% = 0.25%, at the
 * price of 1000. Longs pay 0.25% of their notional each time; the shorts
 * share the total pro rata to their units; every account's collateral at
 * the end is what that says. */
static void test_engine__funding_pays_the_closed_form(void **state) {
  (void)state;
  char y[1536];
  snprintf(y, sizeof y, still_base, "2", "{enabled: true, premium: {mean: 0.003}}");
  rig r;
  rig_open(&r, y);
  ms_path_summary s;
  ms_error err;
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  check_money(&r, &s);
  const ms_book *b = ms_engine_book(r.e);
  double rate = 0.003 - 0.0005, QL = b->open_qty[0], QS = b->open_qty[1];
  assert_true(QL > 0 && QS > 0);
  double want = 3 * rate * 1000 * QL;
  assert_int_equal(s.liquidations, 0);
  if (!(fabs(s.funding_paid - want) < 1e-12 * want)) fail_msg("paid %.17g, want %.17g", s.funding_paid, want);
  assert_true(fabs(s.funding_long_net + want) < 1e-12 * want);
  assert_true(fabs(s.funding_rate_mean - rate) < 1e-15 && s.funding_rate_min == s.funding_rate_max);
  assert_true(s.funding_outside == 0);
  const ms_accounts *a = ms_engine_accounts(r.e);
  for (int64_t i = 0; i < b->n; i++) {
    double q = b->pos[i].qty, C0 = b->pos[i].collateral, C = ms_accounts_collateral(a, i);
    double w = q > 0 ? C0 - 3 * rate * 1000 * q : C0 + 3 * rate * 1000 * QL / QS * -q;
    if (!(fabs(C - w) < 1e-12 * C0)) fail_msg("account %lld (q %g): collateral %.17g, want %.17g", (long long)i, q, C, w);
  }
  rig_close(&r);
  /* receivers: rate: every short gets the rate on its own notional, the rest of the market the difference */
  snprintf(y, sizeof y, still_base, "2", "{enabled: true, receivers: rate, premium: {mean: 0.003}}");
  rig_open(&r, y);
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  check_money(&r, &s);
  b = ms_engine_book(r.e);
  a = ms_engine_accounts(r.e);
  assert_true(fabs(s.funding_paid - want) < 1e-12 * want && fabs(s.funding_long_net + want) < 1e-12 * want);
  double out = 3 * rate * 1000 * (QS - QL);
  if (!(fabs(s.funding_outside - out) < 1e-12 * want)) fail_msg("outside %.17g, want %.17g", s.funding_outside, out);
  for (int64_t i = 0; i < b->n; i++) {
    double q = b->pos[i].qty, C0 = b->pos[i].collateral, C = ms_accounts_collateral(a, i);
    double w = C0 - 3 * rate * 1000 * q; /* longs pay, shorts (q < 0) receive the same per unit */
    if (!(fabs(C - w) < 1e-12 * C0)) fail_msg("rate: account %lld (q %g): collateral %.17g, want %.17g", (long long)i, q, C, w);
  }
  rig_close(&r);
}

/* Funding is cash: at 19x with 3% maintenance, a side paying 0.4% of its
 * notional an hour (the cap) falls below maintenance after k payments,
 * 1/19 - 0.004 k < 0.03: k = 6, at 6 h. Every account of that side is
 * liquidated then, at the payment's own check (not at the next publish, a
 * second later); the other side only receives. Either sign of the rate. */
static void test_engine__funding_liquidates_when_equity_crosses_maintenance(void **state) {
  (void)state;
  for (int sign = 0; sign < 2; sign++) {
    char y[1536];
    snprintf(y, sizeof y, still_base, "19",
             sign ? "{enabled: true, interval: 1h, rate_period: 1h, premium: {mean: -0.01}}"
                  : "{enabled: true, interval: 1h, rate_period: 1h, premium: {mean: 0.01}}");
    rig r;
    rig_open(&r, y);
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
    check_money(&r, &s);
    const ms_book *b = ms_engine_book(r.e);
    int64_t payers = 0;
    for (int64_t i = 0; i < b->n; i++) payers += sign ? b->pos[i].qty < 0 : b->pos[i].qty > 0;
    size_t n;
    ms_liq_record *rec = ms_engine_records(r.e, &n);
    assert_int_equal((int64_t)n, payers);
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(rec[i].time, 6 * 3600000);
      assert_int_equal(rec[i].side, sign ? -1 : 1);
    }
    assert_true(s.first_liquidation_time == 21600.0);
    /* six payments of 0.4%, then no payer is left */
    assert_true(s.funding_rate_max == (sign ? -0.004 : 0.004) || s.funding_rate_min == -0.004);
    rig_close(&r);
  }
}

/* ---- recovery before the keeper acts ---- */

static void test_engine__recovered_account_is_left_alone(void **state) {
  (void)state;
  /* One long; oracle = mark at every tick; a keeper acts exactly 10 minutes
   * after discovery. Replay from the per-second price trace. */
  const char *y =
      "horizon: 6h\nstep: 1s\npaths: 1\n"
      "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 0.9}]}\n"
      "book: {accounts: 1, collateral: 1000, leverage: 15, long_fraction: 1}\n"
      "margin: {initial: 0.05, maintenance: 0.03}\n"
      "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
      "keepers: {delay: 10m}\n"
      "output: {timeseries: {paths: 1, every: 1s}}\n";
  rig r;
  rig_open(&r, y);
  int64_t L = ms_trace_len(r.cfg);
  ms_trace tr = trace_new(r.cfg);
  double T = dydx_liq_price(1000, 15, 1000, 0.03);
  int64_t recoveries = 0, agreed = 0;
  for (uint64_t p = 0; p < 300; p++) {
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s, &tr, &err), &err);
    /* replay */
    int64_t t = -1, liq_at = -1, recovered = 0, D = 600;
    for (int64_t k = 1; k < L && liq_at < 0; k++) {
      if (t < 0 && tr.oracle[k] < T) t = k;
      if (t >= 0 && k == t + D) {
        if (tr.oracle[k] < T) liq_at = k;
        else { recovered++; t = -1; }
      }
    }
    size_t n;
    ms_liq_record *rec = ms_engine_records(r.e, &n);
    if (liq_at < 0) assert_int_equal(n, 0);
    else {
      assert_int_equal(n, 1);
      assert_int_equal(rec[0].time, liq_at * 1000);
    }
    assert_int_equal(s.recovered, recovered);
    recoveries += recovered;
    agreed++;
  }
  print_message("%lld paths replayed, %lld recoveries\n", (long long)agreed, (long long)recoveries);
  assert_true(recoveries > 5);
  trace_free(&tr);
  rig_close(&r);
}

/* ---- socialized loss ---- */

/* A steady fall (no noise) bankrupts longs one after another; the fund is
 * empty, so each bad debt is charged to the shorts. All shorts entered at
 * E and the price only falls, so their profit per unit is E - P at every
 * charge: the charges together may never exceed E - P_min per unit, and a
 * short never loses more than its profit, so none may be liquidated. */
static void test_engine__socialized_loss_never_exceeds_profit(void **state) {
  (void)state;
  const char *y =
      "horizon: 6h\nstep: 1s\npaths: 4\n"
      "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 1e-9, drift: -520}]}\n"
      "book: {accounts: 400, collateral: {dist: uniform, min: 500, max: 1500},\n"
      "       leverage: {dist: uniform, min: 2, max: 20}, long_fraction: 0.97}\n"
      "margin: {initial: 0.05, maintenance: 0.025}\n"
      "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
      "keepers: {delay: {dist: exponential, mean: 20m}}\n"
      "liquidation: {insurance_fund: 0, shortfall: socialize, penalty: 0.01}\n";
  rig r;
  rig_open(&r, y);
  double E = r.cfg->market.initial_price, short_qty = 0;
  for (int64_t i = 0; i < r.book->n; i++) {
    ms_position pos;
    ms_book_position(r.book, i, &pos);
    if (pos.q < 0) short_qty += -pos.q;
  }
  assert_true(short_qty > 0);
  for (uint64_t p = 0; p < 4; p++) {
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s, NULL, &err), &err);
    size_t n;
    ms_liq_record *rec = ms_engine_records(r.e, &n);
    double pmin = E;
    for (size_t k = 0; k < n; k++) {
      assert_int_equal(rec[k].side, 1); /* no short is ever liquidated */
      if (rec[k].oracle_price < pmin) pmin = rec[k].oracle_price;
    }
    assert_true(s.socialized_loss > 0); /* the case is exercised */
    assert_true(s.uncovered_loss > 0);  /* and the cap binds */
    assert_true(s.socialized_loss <= short_qty * (E - pmin) * (1 + 1e-12));
  }
  rig_close(&r);
}

/* Options are priced at entry at the start regime's vol, the vol the engine
 * values them at: two seconds in, no option has gained or lost more than
 * the price's tiny move explains (the long-run vol here is ~1.5x the calm
 * one, which would reprice every leg by tens of percent). */
static void test_engine__entry_premiums_match_the_start_regime(void **state) {
  (void)state;
  const char *y =
      "horizon: 2s\nstep: 1s\npaths: 3\n"
      "market: {initial_price: 1000, impact: {model: none}, start_regime: calm,\n"
      "  regimes: [{name: calm, vol: 0.6, mean_duration: 12h}, {name: stress, vol: 1.6, mean_duration: 6h}]}\n"
      "book: {accounts: 300, collateral: 20000, leverage: 2, options: {fraction: 1}}\n";
  rig r;
  rig_open(&r, y);
  assert_true(r.cfg->market.reference_vol > 1.2 * 0.6);
  int64_t legs = 0;
  for (uint64_t p = 0; p < 3; p++) {
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s, NULL, &err), &err);
    ms_view fv;
    ms_engine_final_view(r.e, &fv);
    assert_true(fabs(fv.vol - 0.6) < 1e-12);
    assert_true(fabs(fv.P / 1000 - 1) < 2e-3);
    const ms_accounts *a = ms_engine_accounts(r.e);
    for (int64_t i = 0; i < r.book->n; i++) {
      ms_position pos;
      ms_accounts_position(a, i, &pos);
      for (int l = 0; l < pos.nlegs; l++) {
        double V = ms_margin_leg_value(ms_engine_margin(r.e), &pos.legs[l], fv.P, fv.t, fv.vol);
        if (pos.legs[l].v0 < 1) continue; /* far out of the money: relative moves are large */
        assert_true(fabs(V / pos.legs[l].v0 - 1) < 0.03);
        legs++;
      }
    }
  }
  assert_true(legs > 300);
  rig_close(&r);
}

/* ---- capacity ---- */

static void test_engine__block_capacity_never_exceeded(void **state) {
  (void)state;
  const char *y =
      "horizon: 6h\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: sqrt, depth: 1e6, half_life: 10m},\n"
      "         regimes: [{vol: 2.0, drift: -5, jumps: {rate: 12/d, mean: -0.05, sd: 0.02}}]}\n"
      "book: {accounts: 2000, leverage: {dist: uniform, min: 5, max: 20}}\n"
      "keepers: {delay: {dist: exponential, mean: 5s}, capacity: {per_block: 3, block_time: 12s}}\n";
  rig r;
  rig_open(&r, y);
  int64_t total = 0, full_blocks = 0;
  for (uint64_t p = 0; p < 5; p++) {
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s, NULL, &err), &err);
    size_t n;
    ms_liq_record *rec = ms_engine_records(r.e, &n);
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j < n && rec[j].time == rec[i].time) j++;
      assert_int_equal(rec[i].time % 12000, 0); /* liquidations land in blocks */
      if (j - i > 3) fail_msg("path %llu: %zu liquidations in the block at %lld ms", (unsigned long long)p,
                              j - i, (long long)rec[i].time);
      full_blocks += j - i == 3;
      i = j;
    }
    total += (int64_t)n;
  }
  assert_true(total > 100 && full_blocks > 10); /* the limit was binding */
  rig_close(&r);
}

/* ---- options at expiry ---- */

static void test_engine__expiry_settles_at_the_mark(void **state) {
  (void)state;
  /* One short call, struck at 1050, expiring at 2 h, on a price that climbs
   * deterministically; far too much collateral to be liquidated. */
  const char *y =
      "horizon: 4h\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 0.000001, drift: 300}]}\n"
      "book: {accounts: 1, collateral: 1e6, options: {fraction: 1, strategies: [{kind: naked_short_call, "
      "strike: {by: moneyness, value: 0.05}, expiry: 2h, size: 1}]}}\n"
      "margin: {initial: 0.05, maintenance: 0.025}\n";
  rig r;
  rig_open(&r, y);
  const ms_opt_account *o = &r.book->opt[r.book->opt_of[0]];
  double q = o->legs[0].q, v0 = o->legs[0].v0, cash0 = r.book->pos[0].collateral;
  assert_true(q == -1e6 / 1000 && o->legs[0].strike == 1050 && o->legs[0].expiry == 7200000);
  assert_true(fabs(cash0 - (1e6 - q * v0)) < 1e-6); /* the premium was received */
  ms_path_summary s;
  ms_error err;
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  assert_int_equal(s.options_expired, 1);
  assert_int_equal(s.liquidations, 0);
  /* the mark at 2 h: the exogenous price's drift (mu - sigma^2/2) over 2 h */
  double pm = 1000 * exp(300.0 * 7200.0 / (365.0 * 86400.0));
  const ms_acct *x = ms_accounts_peek(ms_engine_accounts(r.e), 0);
  assert_non_null(x);
  double pay = pm - 1050;
  assert_true(pay > 0);
  print_message("settled at %.6f: payoff %.6f per unit, cash %.2f -> %.2f\n", pm, pay, cash0, x->C);
  assert_true(fabs(x->C - (cash0 + q * pay)) < 0.1); /* 1000 units x the 1e-6 vol noise */
  assert_true(fabs(ms_engine_accounts(r.e)->realized - q * (pay - v0)) < 0.1); /* the book's one account */
  assert_int_equal(x->status, MS_ACCT_CLOSED); /* nothing left: the account is done */
  rig_close(&r);
}

/* A settlement that leaves an account holding nothing but a deficit: the
 * keepers are out until after the expiry, so the underwater short call is
 * never liquidated; its settlement's loss exceeds its cash. The deficit is
 * bad debt at the settlement (the fund, then socialized: no perp is open to
 * take it, so uncovered), not a loss that vanishes with the closed account. */
static void test_engine__a_settlement_deficit_is_bad_debt(void **state) {
  (void)state;
  const char *y =
      "horizon: 4h\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 0.000001, drift: 1000}]}\n"
      "book: {accounts: 1, collateral: 1000, options: {fraction: 1, strategies: [{kind: naked_short_call, "
      "strike: {by: moneyness, value: 0.05}, expiry: 2h, size: 20}]}}\n"
      "margin: {initial: 0.05, maintenance: 0.025}\n"
      "keepers: {delay: 0s, outages: [{start: 0s, duration: 3h}]}\n"
      "liquidation: {insurance_fund: 100}\n";
  rig r;
  rig_open(&r, y);
  ms_engine_set_drop_from(r.e, SIZE_MAX); /* the closed account's cash is read below */
  const ms_opt_account *o = &r.book->opt[r.book->opt_of[0]];
  double q = o->legs[0].q, cash0 = r.book->pos[0].collateral;
  ms_path_summary s;
  ms_error err;
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  double pm = 1000 * exp(1000.0 * 7200.0 / (365.0 * 86400.0)), deficit = -(cash0 + q * (pm - 1050));
  print_message("short call of %g units: deficit %.4f at the settlement\n", q, deficit);
  assert_true(deficit > 100); /* beyond the fund */
  assert_int_equal(s.liquidations, 0);
  assert_int_equal(s.options_expired, 1);
  assert_int_equal(s.pending_end, 0);
  assert_true(fabs(s.settlement_bad_debt - deficit) < 0.1); /* 20 units x the 1e-6 vol noise */
  assert_true(s.bad_debt == s.settlement_bad_debt);
  assert_true(s.insurance_paid == 100 && s.insurance_end == 0 && s.insurance_min == 0);
  assert_true(fabs(s.uncovered_loss - (deficit - 100)) < 0.1 && s.socialized_loss == 0);
  assert_int_equal(s.insolvent, 1);
  const ms_acct *x = ms_accounts_peek(ms_engine_accounts(r.e), 0);
  assert_non_null(x);
  assert_int_equal(x->status, MS_ACCT_CLOSED);
  assert_true(x->C == 0);
  check_money(&r, &s);
  rig_close(&r);
}

/* The same settlement with liquidation impact in the mark: shorts squeezed
 * by the climb are bought back, the mark stands above the exogenous price
 * at expiry, and the call settles at the mark (sampled by the trace at the
 * expiry time), not at the exogenous price. */
static void test_engine__expiry_settles_at_the_impacted_mark(void **state) {
  (void)state;
  const char *y =
      "horizon: 3h\nstep: 1s\npaths: 1\n"
      "market: {initial_price: 1000, impact: {model: sqrt, depth: 2e8, half_life: 1d},\n"
      "  regimes: [{vol: 0.000001, drift: 300}]}\n"
      "book: {accounts: 60, collateral: 1e6, leverage: 20, long_fraction: 0, options: {fraction: 0.1, "
      "strategies: [{kind: naked_short_call, strike: {by: moneyness, value: 0.05}, expiry: 2h, size: 1}]}}\n"
      "margin: {initial: 0.05, maintenance: 0.025}\n"
      "oracle: {kind: pull, interval: 1s, latency: 0s}\nkeepers: {delay: 0s}\n"
      "output: {timeseries: {paths: 1, every: 1s}}\n";
  rig r;
  rig_open(&r, y);
  ms_engine_set_drop_from(r.e, SIZE_MAX); /* the settled accounts close: their cash is read below */
  ms_trace tr = trace_new(r.cfg);
  ms_path_summary s;
  ms_error err;
  assert_ok(ms_engine_run_path(r.e, 0, &s, &tr, &err), &err);
  assert_true(s.liquidations > 10);
  int64_t k = 7200; /* the sample at the expiry time */
  double pm = tr.mark[k], px = tr.price[k];
  assert_true(pm > px * 1.002); /* the squeeze left the mark well above the exogenous price */
  int64_t checked = 0;
  for (int64_t i = 0; i < r.book->n; i++) {
    if (r.book->opt_of[i] < 0) continue;
    const ms_opt_account *o = &r.book->opt[r.book->opt_of[i]];
    const ms_acct *x = ms_accounts_peek(ms_engine_accounts(r.e), i);
    assert_non_null(x);
    double q = o->legs[0].q, pay = pm - o->legs[0].strike;
    assert_true(pay > 0);
    assert_true(fabs(x->C - (r.book->pos[i].collateral + q * pay)) < 1e-6 * fabs(q * pay));
    checked++;
  }
  assert_true(checked > 0);
  assert_int_equal(s.options_expired, checked);
  trace_free(&tr);
  rig_close(&r);
}

static void test_engine__expiry_is_a_margin_check(void **state) {
  (void)state;
  /* A protective put at the money on a still price: under portfolio margin
   * the put hedges the perp's every down move, so the account opens with
   * almost no requirement. When the put expires the perp stands alone and
   * needs mm_factor x 16% of its notional, 1.2x the deposit: the venue must
   * find it at the expiry, with no oracle publish to prompt it. */
  const char *y =
      "horizon: 4h\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: none}, regimes: [{vol: 0.000001}]}\n"
      "book: {accounts: 1, collateral: 1000, options: {fraction: 1, strategies: [{kind: protective_put, "
      "strike: {by: moneyness, value: 0}, expiry: 2h, size: 15}]}}\n"
      "margin: {model: portfolio}\n"
      "oracle: {kind: push, deviation: 0.2, heartbeat: 1d, latency: 0s}\n"
      "keepers: {delay: 0s}\n"
      "output: {liquidations: true}\n";
  rig r;
  rig_open(&r, y);
  ms_path_summary s;
  ms_error err;
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  assert_int_equal(s.oracle_publishes, 0); /* nothing else prompts a check */
  assert_int_equal(s.options_expired, 1);
  assert_int_equal(s.liquidations, 1);
  size_t n;
  ms_liq_record *rec = ms_engine_records(r.e, &n);
  assert_int_equal(n, 1);
  assert_int_equal(rec[0].time, 7200000);
  rig_close(&r);
}

static void test_engine__dynamic_ratio_follows_a_volatility_jump(void **state) {
  (void)state;
  /* Calm, then a regime 10x as volatile from the start of hour 2: the ratio
   * may rise by max_step per update at most, and reaches the cap. */
  const char *y =
      "horizon: 6h\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: none}, start_regime: calm, transition: [[0, 1], [1, 0]],\n"
      "  regimes: [{name: calm, vol: 0.3, mean_duration: 1h}, {name: storm, vol: 3.0, mean_duration: 1000d}]}\n"
      "book: {accounts: 10, leverage: 2}\n"
      "oracle: {kind: pull, interval: 10s, latency: 0s}\n"
      "margin: {model: dynamic, dynamic: {k: 3, half_life: 7m, update_every: 1m, liquidation_horizon: 1h,\n"
      "  floor: 0.005, cap: 0.08, max_step: 0.002}}\n"
      "output: {timeseries: {paths: 1, every: 1m}}\n";
  rig r;
  rig_open(&r, y);
  int64_t L = ms_trace_len(r.cfg);
  ms_trace tr = trace_new(r.cfg);
  int checked = 0;
  for (uint64_t p = 0; p < 20; p++) {
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s, &tr, &err), &err);
    int reached = 0;
    for (int64_t k = 1; k < L; k++) {
      double step = tr.margin_ratio[k] - tr.margin_ratio[k - 1];
      if (step > 0.002 + 1e-15) fail_msg("path %llu: the ratio rose by %.6f in one update", (unsigned long long)p, step);
      assert_true(tr.margin_ratio[k] <= 0.08 + 1e-15 && tr.margin_ratio[k] >= 0.005 - 1e-15);
      reached |= tr.margin_ratio[k] == 0.08;
    }
    /* once in the storm (vol 3: 3 x 3 x sqrt(1 h) = 9.6% > 8%), the cap is reached */
    if (tr.regime[L - 1] == 1) { assert_true(reached); checked++; }
    assert_true(s.max_margin_ratio <= 0.08 + 1e-15);
  }
  assert_true(checked > 10);
  trace_free(&tr);
  rig_close(&r);
}

/* A book drawn per path is drawn against the margin at the path's start,
 * not the ratio the thread's previous path left: a path's results are the
 * same whichever path its engine ran before (and so whatever -j is). */
static void test_engine__per_path_book_sees_a_fresh_dynamic_margin(void **state) {
  (void)state;
  /* A storm from hour 1 drives the ratio to the cap 0.08, an initial
   * requirement of 0.16 (leverage 6.25); at the start it is 3 x 0.3 x
   * sqrt(1 h) = 0.96%, 1.9% initial, so leverage 10 opens. */
  const char *y =
      "horizon: 4h\nstep: 1s\npaths: 6\n"
      "market: {initial_price: 1000, impact: {model: none}, start_regime: calm, transition: [[0, 1], [1, 0]],\n"
      "  regimes: [{name: calm, vol: 0.3, mean_duration: 1h}, {name: storm, vol: 3.0, mean_duration: 1000d}]}\n"
      "book: {accounts: 50, leverage: 10, resample: per_path}\n"
      "oracle: {kind: pull, interval: 10s, latency: 0s}\n"
      "margin: {model: dynamic, dynamic: {k: 3, half_life: 7m, update_every: 1m, liquidation_horizon: 1h,\n"
      "  floor: 0.005, cap: 0.08, max_step: 0.01}}\n";
  rig seq;
  rig_open(&seq, y);
  int capped = 0;
  for (uint64_t p = 0; p < 6; p++) {
    ms_path_summary a, b;
    ms_error err;
    ms_status s = ms_engine_run_path(seq.e, p, &a, NULL, &err);
    if (s) fail_msg("path %llu after path %llu: %s", (unsigned long long)p, (unsigned long long)p - 1, err.msg);
    capped += a.max_margin_ratio == 0.08;
    rig alone;
    rig_open(&alone, y);
    assert_ok(ms_engine_run_path(alone.e, p, &b, NULL, &err), &err);
    if (memcmp(&a, &b, sizeof a) != 0) fail_msg("path %llu differs after other paths", (unsigned long long)p);
    rig_close(&alone);
  }
  assert_true(capped >= 2); /* the previous path's ratio was the cap: the test shows something */
  rig_close(&seq);
}

/* An option book under portfolio margin, two regimes, and an account index
 * over it: what the option-band tests drive by hand. */
typedef struct {
  ms_config *cfg;
  ms_book *book;
  struct ms_index_static *st;
  ms_margin *m;
  ms_accounts acc;
  ms_index *x;
  ms_idbuf out;
} option_index;

static void option_index_open(option_index *o, int accounts) {
  ms_error err;
  char yaml[512];
  snprintf(yaml, sizeof yaml,
           "book: {accounts: %d, leverage: {dist: uniform, min: 1.5, max: 4}, options: {fraction: 0.5}}\n"
           "margin: {model: portfolio}\n"
           "market: {regimes: [{name: a, vol: 0.5, mean_duration: 1d}, "
           "{name: b, vol: 0.9, mean_duration: 1d}], start_regime: a}\n", accounts);
  memset(o, 0, sizeof *o);
  o->cfg = load_yaml(yaml, NULL, 0, &err);
  if (!o->cfg) fail_msg("%s", err.msg);
  assert_ok(ms_engine_shared_new(o->cfg, &o->book, &o->st, &err), &err);
  assert_ok(ms_margin_new(&o->m, o->cfg, &err), &err);
  assert_ok(ms_accounts_init(&o->acc, o->book, &err), &err);
  assert_ok(ms_index_new(&o->x, &err), &err);
  ms_index_reset(o->x, o->st);
}

static void option_index_close(option_index *o) {
  ms_idbuf_free(&o->out);
  ms_index_free(o->x);
  ms_accounts_fini(&o->acc);
  ms_margin_free(o->m);
  ms_engine_shared_free(o->book, o->st);
  ms_config_free(o->cfg);
}

/* Bands are kept per regime, across switches (a band computed under a
 * regime holds whenever it is current and the account unchanged), so the
 * index must drop the dead ones itself: an account re-keyed under a regime
 * kills its older entries there, and a heap is compacted once its dead
 * entries outnumber its live ones. Checks at prices that leave the bands
 * at every switch make every option account be revalued and re-keyed, 5
 * entries each: what the index holds must stay within twice the live
 * entries (at most one per option account, bound and regime) plus each
 * heap's compaction floor, not grow with the switches (before the bands
 * were kept per regime, keeping them to the path's end took 1.2 GB for
 * 4,000 accounts over two days of 10 s regimes). */
static void test_engine__regime_switches_keep_no_dead_bands(void **state) {
  (void)state;
  option_index o;
  option_index_open(&o, 300);
  static const double level[] = {0.75, 1.3, 0.6, 1.5, 0.9, 1.2};
  size_t most = 0, handed = 0;
  for (int sw = 0; sw < 400; sw++) {
    double P = level[(sw / 2) % 6] * o.book->entry; /* every price twice: once in each regime */
    ms_probe pr = {P, o.book->entry, 1000 * (sw + 1), sw % 2, o.st->vol[sw % 2], ms_margin_ratio(o.m), NAN};
    o.out.n = 0;
    assert_int_equal(ms_index_candidates(o.x, &o.acc, o.m, &pr, &o.out), 0);
    handed += o.out.n;
    for (size_t i = 0; i < o.out.n; i++) assert_int_equal(ms_index_rekey(o.x, &o.acc, o.m, o.out.v[i], &pr), 0);
    size_t held = ms_index_option_entries(o.x);
    if (held > most) most = held;
  }
  /* 2 regimes x 5 bounds (+ the empty-band lists); 256: a heap's compaction floor (acctindex.c) */
  size_t bound = 2 * (2 * 5 * (size_t)o.book->nopt) + 2 * 6 * 256;
  assert_true(handed > 100 * (size_t)o.book->nopt); /* most accounts revalued at most switches */
  if (most > bound)
    fail_msg("the option bands held up to %zu entries over 400 switches (%zu option accounts, bound %zu)", most,
             (size_t)o.book->nopt, bound);
  print_message("option band entries: at most %zu over 400 switches (%zu revaluations, bound %zu)\n", most, handed,
                bound);
  option_index_close(&o);
}

/* A band computed under a regime is used again when the regime returns:
 * back in regime a at the price it was left at, the option accounts
 * already revalued there are not revalued again (they were, at every
 * switch, before bands were kept per regime: issue 16). */
static void test_engine__regime_return_reuses_bands(void **state) {
  (void)state;
  option_index o;
  option_index_open(&o, 400);
  size_t n[3];
  for (int k = 0; k < 3; k++) {
    int r = k == 1;
    /* 25% below the entry: outside every time-0 band */
    ms_probe pr = {0.75 * o.book->entry, o.book->entry, 1000 + k, r, o.st->vol[r], ms_margin_ratio(o.m), NAN};
    o.out.n = 0;
    assert_int_equal(ms_index_candidates(o.x, &o.acc, o.m, &pr, &o.out), 0);
    for (size_t i = 0; i < o.out.n; i++) assert_int_equal(ms_index_rekey(o.x, &o.acc, o.m, o.out.v[i], &pr), 0);
    n[k] = o.out.n;
  }
  assert_true(n[0] > (size_t)o.book->nopt / 2 && n[1] > (size_t)o.book->nopt / 2);
  /* only accounts left with an empty band (revalue at the next check) come back */
  if (n[2] * 4 > n[0]) fail_msg("back in regime a: %zu of %zu accounts revalued again", n[2], n[0]);
  print_message("revalued: %zu in regime a, %zu in b, %zu back in a\n", n[0], n[1], n[2]);
  option_index_close(&o);
}

/* An option account whose band is empty (ms_margin_band: revalue at once)
 * is a candidate at the next check of its regime, once, and not at the
 * check after that unless re-keyed again. Bands are kept per regime: under
 * another regime it is not handed out (that regime's time-0 bands count),
 * and when its regime returns it is, once. The index keeps such accounts in
 * a list per regime rather than in its heaps (acctindex.c). */
static void test_engine__empty_band_is_checked_next_once(void **state) {
  (void)state;
  option_index o;
  option_index_open(&o, 400);
  ms_probe pr = {o.book->entry, o.book->entry, 1000, 0, o.st->vol[0], ms_margin_ratio(o.m), NAN};
  /* the first check: the time-0 bands of regime 0; every account handed out is re-keyed */
  assert_int_equal(ms_index_candidates(o.x, &o.acc, o.m, &pr, &o.out), 0);
  for (size_t i = 0; i < o.out.n; i++) assert_int_equal(ms_index_rekey(o.x, &o.acc, o.m, o.out.v[i], &pr), 0);
  int64_t ids[3] = {-1, -1, -1};
  for (int64_t i = 0, k = 0; i < o.book->n && k < 3; i++)
    if (o.book->opt_of[i] >= 0) ids[k++] = i;
  assert_true(ids[2] >= 0);
  int nempty = 0;
  for (int round = 0; round < 2; round++) {
    /* re-key three option accounts with no surplus: empty bands */
    for (int k = 0; k < 3; k++) {
      ms_probe z = pr;
      z.surplus = 0;
      assert_int_equal(ms_index_rekey(o.x, &o.acc, o.m, ids[k], &z), 0);
      nempty++;
    }
    for (int check = 0; check < 3; check++) {
      pr.t += 1000;
      if (round == 1 && check == 0) { /* a regime switch drops the old regime's bands, empty ones too */
        pr.regime = 1;
        pr.vol = o.st->vol[1];
      }
      o.out.n = 0;
      assert_int_equal(ms_index_candidates(o.x, &o.acc, o.m, &pr, &o.out), 0);
      int found = 0;
      for (size_t i = 0; i < o.out.n; i++)
        for (int k = 0; k < 3; k++) found += o.out.v[i] == ids[k];
      /* regime 1's time-0 bands at the entry price and 1-3 s: none violated */
      int want = round == 0 && check == 0 ? 3 : 0;
      if (found != want)
        fail_msg("round %d, check %d: %d of the 3 accounts with empty bands handed out, %d expected", round, check,
                 found, want);
      for (size_t i = 0; i < o.out.n; i++) assert_int_equal(ms_index_rekey(o.x, &o.acc, o.m, o.out.v[i], &pr), 0);
    }
  }
  /* back in regime 0: round 1's empty bands were computed there */
  for (int check = 0; check < 2; check++) {
    pr.t += 1000;
    pr.regime = 0;
    pr.vol = o.st->vol[0];
    o.out.n = 0;
    assert_int_equal(ms_index_candidates(o.x, &o.acc, o.m, &pr, &o.out), 0);
    int found = 0;
    for (size_t i = 0; i < o.out.n; i++)
      for (int k = 0; k < 3; k++) found += o.out.v[i] == ids[k];
    if (found != (check == 0 ? 3 : 0))
      fail_msg("back in regime 0, check %d: %d of the 3 accounts with empty bands handed out", check, found);
    for (size_t i = 0; i < o.out.n; i++) assert_int_equal(ms_index_rekey(o.x, &o.acc, o.m, o.out.v[i], &pr), 0);
  }
  print_message("%d empty bands: each handed out at the next check of its regime only\n", nempty);
  option_index_close(&o);
}

/* ---- the book ---- */

static void test_engine__book_below_initial_margin_is_rejected(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml("book: {accounts: 500, leverage: {dist: table, values: [10, 30]}}\n"
                             "margin: {initial: 0.05, maintenance: 0.025}\n", NULL, 0, &err);
  ms_book *book = NULL;
  struct ms_index_static *idx = NULL;
  assert_int_equal(ms_engine_shared_new(cfg, &book, &idx, &err), MS_ERR_INPUT);
  assert_null(book);
  /* Count the offenders independently: leverage 30 > 1 / 0.05. */
  ms_margin *m;
  ms_error e2;
  assert_ok(ms_margin_new(&m, cfg, &e2), &e2);
  ms_book *b;
  assert_ok(ms_book_new(&b, cfg, &e2), &e2);
  assert_int_equal(ms_book_draw(b, cfg, MS_PATH_RUN, m, &e2), MS_ERR_INPUT);
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < b->n; i++) {
    double lev = fabs(b->pos[i].qty) * b->entry / b->pos[i].collateral;
    if (lev > 20.5) { if (first < 0) first = i; bad++; }
  }
  char want[200];
  snprintf(want, sizeof want, "book: %lld of 500 accounts start below initial margin under margin.model static; "
           "first: account %lld", (long long)bad, (long long)first);
  assert_contains(err.msg, want);
  assert_contains(err.msg, "leverage 30");
  assert_true(bad > 200 && bad < 300);
  ms_book_free(b);
  ms_margin_free(m);
  ms_config_free(cfg);
}

/* ---- impact_triggered liquidations need impact ---- */

/* max_impact is the largest |exp(impact) - 1| (docs/output.md). A book of
 * longs only sells: every impact is <= 0, and at the moment of the largest
 * fall the mark is the exogenous price times exp(impact), so
 * 1 - min_mark / min_price <= max_impact <= 1 - min_mark / max_price.
 * (It was expm1(max |impact|): 0.45 where the fall was 0.31, above the
 * upper bound 0.36.) */
static void test_engine__max_impact_of_a_fall_is_its_size(void **state) {
  (void)state;
  rig r;
  rig_open(&r, "horizon: 6h\nmarket: {initial_price: 1000, impact: {model: sqrt, depth: 2e5, half_life: 10m}, "
               "regimes: [{vol: 2.5, drift: -3}]}\n"
               "book: {accounts: 3000, leverage: {dist: uniform, min: 5, max: 20}, long_fraction: 1}\n");
  int big = 0;
  for (uint64_t p = 0; p < 8; p++) {
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s, NULL, &err), &err);
    double lo = 1 - s.min_mark / s.min_price, hi = 1 - s.min_mark / s.max_price;
    if (!(s.max_impact >= lo - 1e-12 && s.max_impact <= hi + 1e-12 && s.max_impact < 1))
      fail_msg("path %llu: max_impact %.6f outside [%.6f, %.6f]", (unsigned long long)p, s.max_impact, lo, hi);
    big += s.max_impact > 0.2;
  }
  assert_true(big >= 4); /* the cascades moved the mark a lot */
  rig_close(&r);
}

static void test_engine__no_impact_no_induced(void **state) {
  (void)state;
  const char *base =
      "horizon: 6h\nmarket: {initial_price: 1000, impact: %s, regimes: [{vol: 2.5, drift: -3}]}\n"
      "book: {accounts: 3000, leverage: {dist: uniform, min: 5, max: 20}}\n";
  char y[512];
  int64_t impact_triggered[2] = {0, 0}, liqs[2] = {0, 0};
  for (int with = 0; with < 2; with++) {
    snprintf(y, sizeof y, base, with ? "{model: sqrt, depth: 2e6, half_life: 10m}" : "{model: none}");
    rig r;
    rig_open(&r, y);
    for (uint64_t p = 0; p < 8; p++) {
      ms_path_summary s;
      ms_error err;
      assert_ok(ms_engine_run_path(r.e, p, &s, NULL, &err), &err);
      size_t n;
      ms_liq_record *rec = ms_engine_records(r.e, &n);
      for (size_t i = 0; i < n; i++) {
        if (!with) assert_true(rec[i].exog_oracle_price == rec[i].oracle_price);
        /* an impact_triggered long was pushed down by sells, an impact_triggered short up by buys */
        if (rec[i].impact_triggered && rec[i].side > 0) assert_true(rec[i].exog_oracle_price > rec[i].oracle_price);
        if (rec[i].impact_triggered && rec[i].side < 0) assert_true(rec[i].exog_oracle_price < rec[i].oracle_price);
      }
      impact_triggered[with] += s.impact_triggered_liquidations;
      liqs[with] += s.liquidations;
    }
    rig_close(&r);
  }
  assert_true(liqs[0] > 100 && impact_triggered[0] == 0);
  assert_true(impact_triggered[1] > 0);
}

/* ---- ADL with no one on the other side ---- */

/* A book of longs only on a steady fall with an empty fund: every bankrupt
 * long's ADL units find no short, so they must go to the market like any
 * other units, and their bad debt is uncovered. With no short to charge,
 * socialize does exactly that, so the two modes must liquidate the same
 * accounts at the same marks (the units' flow moves the mark through the
 * impact) with the same bad debt, all of it uncovered beyond the fund. */
static void test_engine__adl_without_counterparty_sells_to_the_market(void **state) {
  (void)state;
  const char *base =
      "horizon: 4h\nstep: 1s\npaths: 3\n"
      "market: {initial_price: 1000, impact: {model: sqrt, depth: 2e5, half_life: 10m},\n"
      "         regimes: [{vol: 0.3, drift: -900}]}\n"
      "book: {accounts: 500, collateral: {dist: uniform, min: 500, max: 1500},\n"
      "       leverage: {dist: uniform, min: 2, max: 20}, long_fraction: 1}\n"
      "margin: {initial: 0.05, maintenance: 0.025}\n"
      "oracle: {kind: pull, interval: 1s, latency: 0s}\n"
      "keepers: {delay: {dist: exponential, mean: 10m}}\n"
      "liquidation: {insurance_fund: 0, shortfall: %s, penalty: 0.01}\n";
  char y[1024];
  rig r[2];
  for (int m = 0; m < 2; m++) {
    snprintf(y, sizeof y, base, m ? "adl" : "socialize");
    rig_open(&r[m], y);
  }
  for (uint64_t p = 0; p < 3; p++) {
    ms_path_summary s[2];
    ms_error err;
    for (int m = 0; m < 2; m++) {
      assert_ok(ms_engine_run_path(r[m].e, p, &s[m], NULL, &err), &err);
      check_money(&r[m], &s[m]);
    }
    size_t n[2];
    ms_liq_record *rec[2] = {ms_engine_records(r[0].e, &n[0]), ms_engine_records(r[1].e, &n[1])};
    assert_int_equal(n[0], n[1]);
    compare_records(rec[0], rec[1], n[0], p);
    assert_true(s[1].bad_debt > 0 && s[1].insolvent);
    assert_true(s[1].adl_notional == 0 && s[1].adl_loss == 0);
    assert_true(s[0].bad_debt == s[1].bad_debt); /* the same fills */
    /* the same money, computed two ways (R, against units x |P_b - P_m|) */
    assert_true(fabs(s[0].uncovered_loss - s[1].uncovered_loss) <= 1e-9 * s[0].uncovered_loss);
    assert_true(s[1].socialized_loss == 0); /* beyond the fund, all of it is no one's */
    assert_true(fabs(s[1].uncovered_loss - (s[1].bad_debt - s[1].insurance_paid)) < 0.01);
    assert_true(s[0].final_mark == s[1].final_mark && s[0].min_mark == s[1].min_mark);
  }
  for (int m = 0; m < 2; m++) rig_close(&r[m]);
}

/* ---- numbers past meaning, and runaway work ---- */

/* A short squeeze on three big short accounts against a thin linear depth:
 * at depth 7e5 the mark rises to a few hundred times the exogenous price and
 * the bad debt is 40 times the collateral; money still balances to
 * MONEY_REL_TOL of what is in play. At depth 5e5 one path's impact passes
 * MS_MAX_MARK_MOVE (the old code ran it through at 3e9 times the exogenous
 * price): the path stops as bad input naming the depth. */
static void test_engine__mark_bound_stops_numbers_past_meaning(void **state) {
  (void)state;
  const char *fmt = "seed: 1\nhorizon: 1d\nmarket: {initial_price: 2000, impact: {model: linear, depth: %s, "
                    "half_life: 1h},\n  regimes: [{vol: 1.5, drift: 50, jumps: {rate: 6/h, mean: 0.03, sd: 0.02}}]}\n"
                    "book: {accounts: 3, long_fraction: 0, collateral: {dist: lognormal, median: 1.5e6, sigma: 0.5},\n"
                    "  leverage: {dist: uniform, min: 10, max: 20}}\n"
                    "liquidation: {shortfall: socialize}\n";
  char yaml[1024];
  snprintf(yaml, sizeof yaml, fmt, "7e5");
  rig r;
  rig_open(&r, yaml);
  double most = 0;
  for (uint64_t p = 0; p < 4; p++) {
    ms_path_summary s;
    ms_error err;
    assert_ok(ms_engine_run_path(r.e, p, &s, NULL, &err), &err);
    assert_true(s.max_impact < MS_MAX_MARK_MOVE);
    if (s.max_impact > most) most = s.max_impact;
    check_money(&r, &s);
  }
  assert_true(most > 50); /* far out, yet within the bound */
  rig_close(&r);
  snprintf(yaml, sizeof yaml, fmt, "5e5");
  rig_open(&r, yaml);
  int stopped = 0;
  for (uint64_t p = 0; p < 4; p++) {
    ms_path_summary s;
    ms_error err;
    ms_status st = ms_engine_run_path(r.e, p, &s, NULL, &err);
    if (st == MS_OK) {
      assert_true(s.max_impact <= MS_MAX_MARK_MOVE);
      check_money(&r, &s);
      continue;
    }
    assert_int_equal(st, MS_ERR_INPUT);
    assert_contains(err.msg, "beyond the bound of 1e+06 either way");
    assert_contains(err.msg, "market.impact.depth (500000 USD per 1%) is far too small for this book");
    stopped++;
  }
  assert_true(stopped >= 1);
  rig_close(&r);
}

/* Jumps so frequent that most land in the same millisecond: the path stops
 * at the bound on events at one instant, naming the rate; a rate whose
 * expected jumps pass MS_MAX_EXPECTED_ARRIVALS is rejected before any path. */
static void test_engine__runaway_work_is_bad_input(void **state) {
  (void)state;
  ms_error err;
  /* 2 ms, 5e10 jumps/s: 1e8 expected (at the bound), 5e7 per millisecond */
  rig r;
  rig_open(&r, "horizon: 2ms\nstep: 1ms\nbook: {accounts: 10}\n"
               "market: {regimes: [{vol: 0.5, jumps: {rate: 5e10/s, mean: 0, sd: 0.001}}]}\n");
  ms_path_summary s;
  assert_int_equal(ms_engine_run_path(r.e, 0, &s, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "path 0: runaway work: ");
  assert_contains(err.msg, "events at the one simulated instant t = 0.000 s, beyond the bound of 1000160 "
                           "(1000000 + 16 x book.accounts");
  assert_contains(err.msg, "most of them jumps: check market.regimes[0].jumps.rate (4.32e+15/d)");
  rig_close(&r);
  /* twice the rate: 2e8 expected jumps, rejected up front */
  ms_config *cfg = load_yaml("horizon: 2ms\nstep: 1ms\nbook: {accounts: 10}\n"
                             "market: {regimes: [{vol: 0.5, jumps: {rate: 1e11/s, mean: 0, sd: 0.001}}]}\n",
                             NULL, 0, &err);
  assert_non_null(cfg);
  ms_book *book = NULL;
  struct ms_index_static *idx = NULL;
  assert_int_equal(ms_engine_shared_new(cfg, &book, &idx, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "market.regimes[0].jumps.rate: 8.64e+15/d over the horizon of 2.31481e-08 d is 2e+08 "
                           "expected jumps per path, beyond the bound of 1e+08");
  ms_config_free(cfg);
  /* regime switches every millisecond over a year: 3e10 expected */
  cfg = load_yaml("horizon: 365d\nmarket: {regimes: [{vol: 0.5, mean_duration: 1ms}, {vol: 1, mean_duration: 1h}]}\n",
                  NULL, 0, &err);
  assert_non_null(cfg);
  assert_int_equal(ms_engine_shared_new(cfg, &book, &idx, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "market.regimes[0].mean_duration: 1 ms over the horizon of 365 d");
  ms_config_free(cfg);
}

/* A cancel flag raised before a path: the path stops at its first look
 * (MS_CANCEL_CHECK_EVENTS events) with MS_ERR_CANCELLED, not at its end. */
static void test_engine__cancel_stops_a_path(void **state) {
  (void)state;
  rig r;
  rig_open(&r, "horizon: 30d\nstep: 10ms\nbook: {accounts: 10}\nmarket: {regimes: [{vol: 0.5, "
               "mean_duration: 1h}, {vol: 1, mean_duration: 1h}]}\n");
  volatile sig_atomic_t flag = 1;
  ms_engine_set_cancel(r.e, &flag);
  ms_path_summary s;
  ms_error err;
  assert_int_equal(ms_engine_run_path(r.e, 0, &s, NULL, &err), MS_ERR_CANCELLED);
  assert_contains(err.msg, "path 0: interrupted");
  flag = 0; /* the flag down: the same workspace runs the path through */
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  rig_close(&r);
}

/* book.resample: per_path with dynamic margin: each path's book is checked
 * against fresh margin state. The old code checked path 1's book against the
 * ratio path 0 left on the same workspace: here a high-vol path raises the
 * ratio, and 35 of path 1's 100 accounts then looked below initial margin,
 * while a fresh workspace (another thread) found none. */
static void test_engine__per_path_book_sees_fresh_margin_state(void **state) {
  (void)state;
  const char *yaml = "seed: 3\nhorizon: 1d\nmarket: {regimes: [{vol: 3.0, mean_duration: 30d}]}\n"
                     "book: {accounts: 100, resample: per_path, collateral: {dist: lognormal, median: 5000, sigma: 1},"
                     "\n  leverage: {dist: uniform, min: 4.8, max: 5.1}}\n"
                     "margin: {model: dynamic, dynamic: {floor: 0.01, cap: 0.25}}\n";
  rig one, fresh;
  rig_open(&one, yaml);
  rig_open(&fresh, yaml);
  ms_path_summary s0, s1, f1;
  ms_error err;
  assert_ok(ms_engine_run_path(one.e, 0, &s0, NULL, &err), &err);
  assert_true(s0.max_margin_ratio > ms_margin_ratio(ms_engine_margin(fresh.e))); /* path 0 did raise it */
  assert_ok(ms_engine_run_path(one.e, 1, &s1, NULL, &err), &err);
  assert_ok(ms_engine_run_path(fresh.e, 1, &f1, NULL, &err), &err);
  assert_memory_equal(&s1, &f1, sizeof s1); /* whatever ran before on the workspace */
  /* and validate's check agrees with the run over the first paths */
  assert_ok(ms_engine_check_books(one.cfg, 8, NULL, &err), &err);
  rig_close(&one);
  rig_close(&fresh);
}

/* ---- records streamed to sinks ---- */

/* A collecting sink: every block checked against the bound, kept in order. */
typedef struct {
  ms_engine *e;            /* the workspace calling it: its buffers stay within the bound */
  ms_liq_record *r;
  size_t n, cap;
  ms_cascade_buf c;
  int64_t liq_calls, cas_calls, liq_short, cas_short; /* calls, and calls with a block not full */
  int64_t fail_liq, fail_cas; /* fail at this call of the path (0: never) */
} collector;

static void check_room(const collector *k) {
  size_t rr, rc;
  ms_engine_buffer_room(k->e, &rr, &rc);
  if (rr > MS_LIQ_BLOCK || rc > MS_LIQ_BLOCK) fail_msg("buffers of %zu records and %zu cascades", rr, rc);
}

static ms_status collect_liq(void *ctx, const ms_liq_record *r, size_t n, ms_error *err) {
  collector *k = ctx;
  if (n == 0 || n > MS_LIQ_BLOCK) fail_msg("a block of %zu records", n);
  check_room(k);
  if (++k->liq_calls == k->fail_liq) return ms_error_set(err, MS_ERR_IO, "disk full at block %lld", (long long)k->liq_calls);
  k->liq_short += n < MS_LIQ_BLOCK;
  assert_int_equal(ms_grow((void **)&k->r, &k->cap, k->n + n, sizeof *k->r), 0);
  memcpy(k->r + k->n, r, n * sizeof *r);
  k->n += n;
  return MS_OK;
}

static ms_status collect_cas(void *ctx, const ms_cascade_record *c, size_t n, ms_error *err) {
  collector *k = ctx;
  if (n == 0 || n > MS_LIQ_BLOCK) fail_msg("a block of %zu cascades", n);
  check_room(k);
  if (++k->cas_calls == k->fail_cas) return ms_error_set(err, MS_ERR_IO, "no room for cascades");
  k->cas_short += n < MS_LIQ_BLOCK;
  assert_int_equal(ms_grow((void **)&k->c.v, &k->c.cap, k->c.n + n, sizeof *k->c.v), 0);
  memcpy(k->c.v + k->c.n, c, n * sizeof *c);
  k->c.n += n;
  return MS_OK;
}

static void collector_reset(collector *k) {
  k->n = k->c.n = 0;
  k->liq_calls = k->cas_calls = k->liq_short = k->cas_short = 0;
}

/* Thousands of liquidations a path: with sinks the engine gives exactly
 * the records, cascades and row it keeps without them, in full blocks but
 * the last, and never holds more than a block; without, its online
 * cascades are what the offline reference computes. With stats.cascade_gap
 * 0 s almost every fill is a cascade of its own: thousands of cascades. */
static void test_engine__sinks_change_nothing(void **state) {
  (void)state;
  const char *base =
      "horizon: 6h\nstats: {cascade_gap: %s}\n"
      "market: {initial_price: 1000, impact: {model: sqrt, depth: 2e7, half_life: 10m},"
      " regimes: [{vol: 2.5, drift: -8}]}\n"
      "keepers: {delay: {dist: exponential, mean: 20s}}\n"
      "liquidation: {mode: partial}\n"
      "book: {accounts: 12000, leverage: {dist: uniform, min: 5, max: 20}}\n";
  static const char *gaps[] = {"60s", "0s"};
  int64_t most_liqs = 0, most_cas = 0, deepest = 0;
  for (int g = 0; g < 2; g++) {
    char y[1024];
    snprintf(y, sizeof y, base, gaps[g]);
    rig plain, sunk;
    rig_open(&plain, y);
    rig_open(&sunk, y);
    collector k = {.e = sunk.e};
    ms_engine_set_sinks(sunk.e, collect_liq, collect_cas, &k);
    for (uint64_t p = 0; p < 3; p++) {
      ms_path_summary s1, s2;
      ms_error err;
      collector_reset(&k);
      assert_ok(ms_engine_run_path(plain.e, p, &s1, NULL, &err), &err);
      assert_ok(ms_engine_run_path(sunk.e, p, &s2, NULL, &err), &err);
      assert_memory_equal(&s1, &s2, sizeof s1);
      size_t n, nc, n2, nc2;
      ms_liq_record *r = ms_engine_records(plain.e, &n);
      const ms_cascade_record *c = ms_engine_cascades(plain.e, &nc);
      check_against_reference(plain.cfg, &s1, r, n, c, nc);
      assert_int_equal(k.n, n);
      assert_int_equal(k.c.n, nc);
      assert_true(n == 0 || memcmp(k.r, r, n * sizeof *r) == 0);
      assert_true(nc == 0 || memcmp(k.c.v, c, nc * sizeof *c) == 0);
      /* full blocks but the last (at the path's end); nothing kept */
      assert_int_equal(k.liq_calls, (int64_t)((n + MS_LIQ_BLOCK - 1) / MS_LIQ_BLOCK));
      assert_int_equal(k.cas_calls, (int64_t)((nc + MS_LIQ_BLOCK - 1) / MS_LIQ_BLOCK));
      assert_true(k.liq_short <= 1 && k.cas_short <= 1);
      ms_engine_records(sunk.e, &n2);
      ms_engine_cascades(sunk.e, &nc2);
      assert_true(n2 == 0 && nc2 == 0);
      check_room(&k);
      if ((int64_t)n > most_liqs) most_liqs = (int64_t)n;
      if ((int64_t)nc > most_cas) most_cas = (int64_t)nc;
      if (s1.largest_cascade_depth > deepest) deepest = s1.largest_cascade_depth;
    }
    rig_close(&plain);
    rig_close(&sunk);
    free(k.r);
    free(k.c.v);
  }
  print_message("most liquidations of a path %lld, most cascades %lld, deepest largest cascade %lld\n",
                (long long)most_liqs, (long long)most_cas, (long long)deepest);
  assert_true(most_liqs > 2 * MS_LIQ_BLOCK && most_cas > MS_LIQ_BLOCK && deepest > 2);
}

/* A crash through the book closes most accounts: their pool entries are
 * dropped as the path goes (the pool holds about the accounts still open or
 * pending), money is still conserved (the dropped accounts' cash is summed),
 * and the next path on the same engine is the one a fresh engine runs, and
 * the one an engine that keeps every closed entry runs. ADL closes
 * counterparties too. */
static void test_engine__crash_drops_closed_accounts(void **state) {
  (void)state;
  const char *y =
      "horizon: 6h\nstep: 1s\n"
      "market: {initial_price: 1000, impact: {model: sqrt, depth: 1e8, half_life: 10m},"
      " regimes: [{vol: 2, drift: -300, jumps: {rate: 20/d, mean: -0.05, sd: 0.02}}]}\n"
      "book: {accounts: 20000, leverage: {dist: uniform, min: 10, max: 40}, long_fraction: 0.9}\n"
      "margin: {initial: 0.025, maintenance: 0.0125}\n"
      "keepers: {delay: {dist: exponential, mean: 60s}}\n"
      "liquidation: {insurance_fund: 0, shortfall: adl}\n";
  rig used, fresh, kept;
  rig_open(&used, y);
  rig_open(&fresh, y);
  rig_open(&kept, y);
  ms_engine_set_drop_from(used.e, 256); /* a large pool's behaviour on a small book */
  ms_engine_set_drop_from(kept.e, SIZE_MAX);
  ms_path_summary s0, s1, s2, s3;
  ms_error err;
  assert_ok(ms_engine_run_path(used.e, 0, &s0, NULL, &err), &err);
  const ms_accounts *a = ms_engine_accounts(used.e);
  print_message("path 0: %lld liquidations (%g USD deleveraged), %zu pool entries, %zu dropped\n",
                (long long)s0.liquidations, s0.adl_notional, a->n, a->ndropped);
  assert_true(s0.liquidations > 15000 && s0.adl_notional > 0);
  assert_true(a->ndropped > 15000 && a->n < 20000 / 4);
  check_money(&used, &s0);
  assert_ok(ms_engine_run_path(used.e, 1, &s1, NULL, &err), &err);
  assert_ok(ms_engine_run_path(fresh.e, 1, &s2, NULL, &err), &err);
  assert_ok(ms_engine_run_path(kept.e, 1, &s3, NULL, &err), &err);
  assert_true(s1.liquidations > 15000);
  check_money(&used, &s1);
  check_money(&kept, &s3);
  assert_memory_equal(&s1, &s2, sizeof s1);
  assert_memory_equal(&s1, &s3, sizeof s1);
  size_t n1, n2, n3;
  ms_liq_record *r1 = ms_engine_records(used.e, &n1), *r2 = ms_engine_records(fresh.e, &n2),
                *r3 = ms_engine_records(kept.e, &n3);
  assert_true(n1 == n2 && n1 == n3);
  assert_memory_equal(r1, r2, n1 * sizeof *r1);
  assert_memory_equal(r1, r3, n1 * sizeof *r1);
  assert_int_equal(ms_engine_accounts(kept.e)->ndropped, 0);
  rig_close(&used);
  rig_close(&fresh);
  rig_close(&kept);
}

/* A sink's failure stops the path with its status and its message, in the
 * loop (the second block of records) and at the path's end (the cascades). */
static void test_engine__sink_failure_stops_the_path(void **state) {
  (void)state;
  rig r;
  rig_open(&r, "horizon: 6h\nmarket: {initial_price: 1000, impact: {model: sqrt, depth: 2e7, half_life: 10m},"
               " regimes: [{vol: 2.5, drift: -8}]}\n"
               "book: {accounts: 12000, leverage: {dist: uniform, min: 5, max: 20}}\n");
  collector k = {.e = r.e, .fail_liq = 2};
  ms_engine_set_sinks(r.e, collect_liq, collect_cas, &k);
  ms_path_summary s;
  ms_error err;
  assert_int_equal(ms_engine_run_path(r.e, 0, &s, NULL, &err), MS_ERR_IO);
  assert_non_null(strstr(err.msg, "path 0: disk full at block 2"));
  assert_int_equal(k.n, MS_LIQ_BLOCK); /* the first block, then nothing */
  assert_int_equal(k.c.n, 0);          /* the cascades wait for the path's end */
  collector_reset(&k);
  k.fail_liq = 0;
  k.fail_cas = 1;
  assert_int_equal(ms_engine_run_path(r.e, 0, &s, NULL, &err), MS_ERR_IO);
  assert_non_null(strstr(err.msg, "path 0: no room for cascades"));
  /* the next path starts afresh */
  collector_reset(&k);
  k.fail_cas = 0;
  assert_ok(ms_engine_run_path(r.e, 0, &s, NULL, &err), &err);
  assert_int_equal(k.n, s.liquidations);
  assert_int_equal(k.c.n, s.cascades);
  rig_close(&r);
  free(k.r);
  free(k.c.v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_engine__mark_bound_stops_numbers_past_meaning),
      cmocka_unit_test(test_engine__runaway_work_is_bad_input),
      cmocka_unit_test(test_engine__cancel_stops_a_path),
      cmocka_unit_test(test_engine__per_path_book_sees_fresh_margin_state),
      cmocka_unit_test(test_engine__index_agrees_with_brute_force),
      cmocka_unit_test(test_engine__presets_agree_with_brute_force),
      cmocka_unit_test(test_engine__empty_band_is_checked_next_once),
      cmocka_unit_test(test_engine__regime_switches_keep_no_dead_bands),
      cmocka_unit_test(test_engine__regime_return_reuses_bands),
      cmocka_unit_test(test_engine__fast_regime_switches_agree_with_brute_force),
      cmocka_unit_test(test_engine__adl_agrees_with_brute_force),
      cmocka_unit_test(test_engine__adl_that_grows_the_account_pool),
      cmocka_unit_test(test_engine__parking_changes_nothing),
      cmocka_unit_test(test_engine__parked_accounts_follow_a_falling_ratio),
      cmocka_unit_test(test_engine__impact_bounds_change_nothing),
      cmocka_unit_test(test_engine__liquidation_price_static_matches_dydx),
      cmocka_unit_test(test_engine__liquidation_price_tiered_matches_binance),
      cmocka_unit_test(test_engine__recovered_account_is_left_alone),
      cmocka_unit_test(test_engine__funding_agrees_with_brute_force),
      cmocka_unit_test(test_engine__funding_pays_the_closed_form),
      cmocka_unit_test(test_engine__funding_credit_keeps_the_tiered_index_a_superset),
      cmocka_unit_test(test_engine__funding_liquidates_when_equity_crosses_maintenance),
      cmocka_unit_test(test_engine__block_capacity_never_exceeded),
      cmocka_unit_test(test_engine__socialized_loss_never_exceeds_profit),
      cmocka_unit_test(test_engine__entry_premiums_match_the_start_regime),
      cmocka_unit_test(test_engine__expiry_settles_at_the_mark),
      cmocka_unit_test(test_engine__a_settlement_deficit_is_bad_debt),
      cmocka_unit_test(test_engine__expiry_settles_at_the_impacted_mark),
      cmocka_unit_test(test_engine__expiry_is_a_margin_check),
      cmocka_unit_test(test_engine__dynamic_ratio_follows_a_volatility_jump),
      cmocka_unit_test(test_engine__per_path_book_sees_a_fresh_dynamic_margin),
      cmocka_unit_test(test_engine__book_below_initial_margin_is_rejected),
      cmocka_unit_test(test_engine__max_impact_of_a_fall_is_its_size),
      cmocka_unit_test(test_engine__no_impact_no_induced),
      cmocka_unit_test(test_engine__adl_without_counterparty_sells_to_the_market),
      cmocka_unit_test(test_engine__sinks_change_nothing),
      cmocka_unit_test(test_engine__sink_failure_stops_the_path),
      cmocka_unit_test(test_engine__crash_drops_closed_accounts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
