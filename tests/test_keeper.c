/*
 * test_keeper — the standard keeper's delay: a drawn delay in ms becomes
 * the event's time as llround() would round it (keeper_standard.c rounds
 * inline below 2^52 and calls llround beyond), at halves, just below
 * them, at the ends of the inline range and beyond it.
 */
#include <math.h>

#include "core/queue.h"
#include "models/keeper.h"
#include "testutil.h"

static int64_t delay_of(ms_config *cfg, double d) {
  ms_error err;
  cfg->keepers.delay.kind = MS_DIST_FIXED;
  cfg->keepers.delay.a = d;
  ms_keeper *k = NULL;
  ms_queue *q = NULL;
  assert_ok(ms_keeper_new(&k, cfg, &err), &err);
  assert_ok(ms_queue_new(&q, 4, &err), &err);
  ms_keeper_start(k, 1, 0);
  int64_t delay = -1;
  assert_ok(ms_keeper_discover(k, 7, 0, q, &delay), &err);
  ms_queue_free(q);
  ms_keeper_free(k);
  return delay;
}

static void test_keeper__delay_rounds_like_llround(void **state) {
  (void)state;
  ms_error err;
  ms_config *cfg = load_yaml("horizon: 1d\n", NULL, 0, &err);
  if (!cfg) fail_msg("%s", err.msg);
  cfg->horizon = INT64_MAX; /* every delay lands before the horizon */
  const double d[] = {0.0, 0.49999999999999994, 0.5, 0.5000000000000001, 1.0, 1.4999999999999998, 1.5, 2.5,
                      3.5, 6000.5, 6000.499999999999, 123456.75, 0x1p52 - 0.5, 0x1p52 - 1.5, 0x1p52,
                      0x1p52 + 1, 0x1p53 + 2, 1e17};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
    int64_t got = delay_of(cfg, d[i]);
    if (got != (int64_t)llround(d[i])) fail_msg("delay %a ms: %lld, llround %lld", d[i], (long long)got, (long long)llround(d[i]));
  }
  uint64_t u = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 20000; i++) {
    u ^= u << 13; u ^= u >> 7; u ^= u << 17;
    double x = ldexp((double)(u >> 11), -(int)(u % 53)); /* fractions of every size */
    int64_t got = delay_of(cfg, x);
    if (got != (int64_t)llround(x)) fail_msg("delay %a ms: %lld, llround %lld", x, (long long)got, (long long)llround(x));
  }
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keeper__delay_rounds_like_llround),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
