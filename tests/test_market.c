/*
 * test_market — the impact of the decaying liquidation flow against its
 * closed form: Q(t) = sum of fills x 2^(-(t - t_fill) / half_life), impact =
 * 0.01 Q / depth (linear) or 0.01 sign(Q) sqrt(|Q| / depth) (square root);
 * the floor below which impact is exactly 0; and the bounds the engine's
 * tick loop relies on, checked against every tick of a range.
 */
#include <math.h>

#include "models/market.h"
#include "testutil.h"

static ms_market *open_market(const char *impact, ms_config **cfg) {
  char y[256];
  snprintf(y, sizeof y, "market: {initial_price: 1000, impact: %s}\n", impact);
  ms_error err;
  *cfg = load_yaml(y, NULL, 0, &err);
  if (!*cfg) fail_msg("%s", err.msg);
  ms_market *m = NULL;
  assert_ok(ms_market_new(&m, *cfg, &err), &err);
  return m;
}

static void close_market(ms_market *m, ms_config *cfg) {
  ms_market_free(m);
  ms_config_free(cfg);
}

static double closed_form(int sqrt_law, double depth, double q) {
  return sqrt_law ? copysign(0.01 * sqrt(fabs(q) / depth), q) : 0.01 * q / depth;
}

#define REL(a, b) (fabs((a) - (b)) <= 1e-13 * fabs(b) + 1e-300)

static void test_market__decay_matches_closed_form(void **state) {
  (void)state;
  const int64_t hl = 600000; /* 10 min in ms */
  for (int sq = 0; sq < 2; sq++) {
    ms_config *cfg;
    ms_market *m = open_market(sq ? "{model: sqrt, depth: 5e7, half_life: 10m}"
                                  : "{model: linear, depth: 5e7, half_life: 10m}", &cfg);
    assert_false(ms_market_active(m, 0));
    assert_true(ms_market_impact_at(m, 1000) == 0.0);
    /* a sell of 20 M at t = 5 s, a buy of 8 M at t = 12.5 min */
    ms_market_fill(m, 5000, -2e7);
    assert_true(REL(ms_market_impact(m), closed_form(sq, 5e7, -2e7)));
    for (int64_t t = 5000; t < 5000 + 3 * hl; t += 7919) {
      double q = -2e7 * exp2(-(double)(t - 5000) / (double)hl);
      if (!REL(ms_market_impact_at(m, t), closed_form(sq, 5e7, q)))
        fail_msg("law %d t %lld: %.17g vs %.17g", sq, (long long)t, ms_market_impact_at(m, t), closed_form(sq, 5e7, q));
      assert_true(REL(ms_market_flow_at(m, t), q));
    }
    ms_market_fill(m, 750000, 8e6);
    double q1 = -2e7 * exp2(-(750000.0 - 5000.0) / (double)hl) + 8e6;
    assert_true(REL(ms_market_impact(m), closed_form(sq, 5e7, q1)));
    double q2 = q1 * exp2(-1.0e6 / (double)hl);
    assert_true(REL(ms_market_impact_at(m, 1750000), closed_form(sq, 5e7, q2)));
    assert_true(ms_market_active(m, 1750000));
    close_market(m, cfg);
  }
}

/* Below 1e-12 (log) the impact is exactly 0, and 'active' is a bound: it
 * stays true while the impact is not 0 and turns false in finite time. */
static void test_market__floor_and_activity(void **state) {
  (void)state;
  ms_config *cfg;
  ms_market *m = open_market("{model: sqrt, depth: 1e6, half_life: 1m}", &cfg);
  ms_market_fill(m, 0, 5e5);
  int64_t t = 0, last_nonzero = -1;
  for (; t < 24 * 3600 * 1000; t += 1000) {
    double v = ms_market_impact_at(m, t);
    if (v != 0.0) {
      assert_true(fabs(v) >= 1e-12);
      assert_true(ms_market_active(m, t));
      last_nonzero = t;
    }
  }
  assert_true(last_nonzero > 0);
  /* sqrt law: the impact halves every two half-lives; from 0.01 sqrt(0.5) to 1e-12 */
  double expect = 2.0 * 60000.0 * log2(0.01 * sqrt(0.5) / 1e-12);
  assert_true(fabs((double)last_nonzero - expect) <= 1000.0);
  assert_false(ms_market_active(m, t));
  assert_true(ms_market_impact_at(m, t) == 0.0);
  /* a tiny fill below the floor leaves no impact at all */
  ms_market_fill(m, t, 1e-20);
  assert_false(ms_market_active(m, t + 1));
  close_market(m, cfg);
}

/* The tick loop skips the impact where the exogenous price stays inside
 * bounds: chained chunk by chunk from one exact value, as the engine does,
 * they must hold every tick's impact, through the floor and beyond. */
static void test_market__bounds_contain_every_tick(void **state) {
  (void)state;
  const char *laws[] = {"{model: sqrt, depth: 5e7, half_life: 10m}", "{model: linear, depth: 2e5, half_life: 30s}",
                        "{model: sqrt, depth: 1e6, half_life: 0s}", "{model: linear, depth: 1e9, half_life: 1s}"};
  const int64_t step = 1000; /* the default 1 s */
  for (int l = 0; l < 4; l++) {
    ms_config *cfg;
    ms_market *m = open_market(laws[l], &cfg);
    assert_int_equal(cfg->step, step);
    ms_market_fill(m, 2500, l == 1 ? 3e5 : -4e6);
    int64_t zero_seen = 0;
    for (int64_t run = 0; run < 40; run++) {
      int64_t t = 2500 + 1000 * (run * run * 97 + 3); /* runs start anywhere after the fill */
      double a = ms_market_impact_at(m, t);
      for (int c = 0; c < 8; c++) { /* a run of up to 512 ticks: eight chunks */
        double lo, hi, next;
        ms_market_chunk_bounds(m, a, &lo, &hi, &next);
        for (int j = 0; j < MS_MARKET_CHUNK; j++, t += step) {
          double v = ms_market_impact_at(m, t);
          zero_seen += v == 0.0;
          if (!(lo <= v && v <= hi))
            fail_msg("%s: impact %.17g at %lld outside [%.17g, %.17g]", laws[l], v, (long long)t, lo, hi);
        }
        a = next;
        assert_true(fabs(a - ms_market_impact_at(m, t)) <= 1e-13 * fabs(a) || ms_market_impact_at(m, t) == 0.0);
      }
    }
    if (l == 3) assert_true(zero_seen > 0); /* the floor was crossed inside the runs */
    if (l == 2) /* no decay: the impact stays */
      assert_true(ms_market_impact_at(m, 86400000) == ms_market_impact(m));
    close_market(m, cfg);
  }
}

static void test_market__none_never_moves(void **state) {
  (void)state;
  ms_config *cfg;
  ms_market *m = open_market("{model: none}", &cfg);
  ms_market_fill(m, 1000, -1e12);
  assert_true(ms_market_impact(m) == 0.0 && ms_market_impact_at(m, 2000) == 0.0);
  assert_false(ms_market_active(m, 1000));
  close_market(m, cfg);
  /* an infinite flow (the engine stops the path on it) must not wrap the floor's time bound */
  m = open_market("{model: linear, depth: 1, half_life: 10m}", &cfg);
  ms_market_fill(m, 1000, INFINITY);
  assert_true(isinf(ms_market_impact(m)) && ms_market_active(m, 2000));
  close_market(m, cfg);
}

/* The impact's zero time, as ms_market_fill computed it with ilogb and ceil
 * (market.c now takes the exponent from the bits and skips ceil for a
 * whole half-life): active before it, inactive from it on, for impacts of
 * every binary exponent from the floor up, both signs, both laws. */
static void test_market__zero_time_matches_ilogb_ceil(void **state) {
  (void)state;
  for (int sq = 0; sq < 2; sq++) {
    ms_config *cfg;
    ms_market *m = open_market(sq ? "{model: sqrt, depth: 1, half_life: 7s}" : "{model: linear, depth: 100, half_life: 7s}",
                               &cfg);
    double ihl = (sq ? 2.0 : 1.0) * 7000.0;
    int64_t t = 1000;
    uint64_t u = 88172645463325252ull;
    for (int i = 0; i < 4000; i++) {
      u ^= u << 13; u ^= u >> 7; u ^= u << 17;
      /* a target impact of 2^k (1 + f): k from -40 (the floor is 1e-12) to 40 */
      double f = (double)(u >> 11) * 0x1.0p-53, imp = ldexp(1.0 + f, (int)(u % 81) - 40) * (i % 2 ? -1 : 1);
      if (i % 7 == 0) imp = ldexp(i % 2 ? -1.0 : 1.0, (int)(u % 81) - 40); /* exact powers of two */
      ms_market_reset(m);
      double q = sq ? copysign(imp * imp / 1e-4, imp) : imp * 100 / 0.01; /* the flow giving about that impact */
      ms_market_fill(m, t, q);
      double got = ms_market_impact(m);
      if (got == 0.0) { assert_false(ms_market_active(m, t)); continue; }
      int x = ilogb(fabs(got) * (1.0 / 1e-12)) + 1;
      int64_t tz = t + (int64_t)(ceil(ihl * (double)x) + 1.0);
      if (!ms_market_active(m, tz - 1) || ms_market_active(m, tz))
        fail_msg("impact %a: zero time is not %lld", got, (long long)tz);
    }
    close_market(m, cfg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_market__decay_matches_closed_form),
      cmocka_unit_test(test_market__floor_and_activity),
      cmocka_unit_test(test_market__bounds_contain_every_tick),
      cmocka_unit_test(test_market__none_never_moves),
      cmocka_unit_test(test_market__zero_time_matches_ilogb_ceil),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
