/*
 * test_dist — the one distribution syntax: parsing and errors through a
 * field table, and sampling against closed-form moments (tolerance: five
 * Monte Carlo standard errors).
 */
#include <gsl/gsl_cdf.h>
#include <math.h>

#include "core/dist.h"
#include "core/rng.h"
#include "config/schema.h"
#include "testutil.h"
#include "core/yamltree.h"

typedef struct {
  ms_dist size;   /* plain numbers, >= 1 */
  ms_dist delay;  /* durations, >= 0 */
} holder;

static const ms_field fields[] = {
    {.name = "size", .kind = MS_F_DIST, .offset = offsetof(holder, size), .def = "1",
     .bounds = MS_B_GE, .min = 1, .elem = MS_F_NUMBER},
    {.name = "delay", .kind = MS_F_DIST, .offset = offsetof(holder, delay), .def = "0s",
     .bounds = MS_B_GE, .min = 0, .elem = MS_F_DURATION},
};
static const ms_schema schema = {"t", fields, 2, NULL, NULL};

static ms_status load(const char *yaml, holder *h, ms_error *err) {
  ms_ynode *root = NULL;
  ms_error_clear(err);
  ms_status s = ms_ytree_parse(&root, yaml, strlen(yaml), "d.yaml", err);
  if (!s) s = ms_schema_load(&schema, h, root, "", "d.yaml", h, err);
  ms_ynode_free(root);
  return s;
}

static void expect_error(const char *yaml, const char *want) {
  holder h;
  ms_error err;
  assert_int_equal(load(yaml, &h, &err), MS_ERR_INPUT);
  assert_contains(err.msg, want);
}

static void test_dist__parses_every_kind(void **state) {
  (void)state;
  holder h;
  ms_error err;
  assert_ok(load("size: {dist: uniform, min: 2, max: 20}\ndelay: {dist: lognormal, median: 6s, sigma: 0.8}\n", &h, &err), &err);
  assert_int_equal(h.size.kind, MS_DIST_UNIFORM);
  assert_true(h.size.a == 2 && h.size.b == 20);
  assert_int_equal(h.delay.kind, MS_DIST_LOGNORMAL);
  assert_true(h.delay.a == 6000 && h.delay.b == 0.8);
  assert_ok(load("size: 3\ndelay: {dist: exponential, mean: 250ms}\n", &h, &err), &err);
  assert_int_equal(h.size.kind, MS_DIST_FIXED);
  assert_true(h.size.a == 3 && h.delay.a == 250);
  assert_ok(load("size: {dist: table, values: [1, 5, 10], weights: [1, 2, 1]}\n"
                 "delay: {dist: fixed, value: 2m}\n", &h, &err), &err);
  assert_int_equal(h.size.n, 3);
  assert_true(fabs(h.size.cum[0] - 0.25) < 1e-15 && fabs(h.size.cum[1] - 0.75) < 1e-15);
  assert_true(h.delay.a == 120000);
  assert_ok(load("", &h, &err), &err); /* defaults */
  assert_true(h.size.kind == MS_DIST_FIXED && h.size.a == 1 && h.delay.a == 0);
}

static void test_dist__errors_name_the_place(void **state) {
  (void)state;
  expect_error("size: {dist: gamma, k: 2}\n",
               "d.yaml:1:14: size.dist: must be one of: fixed, uniform, lognormal, exponential, table (got gamma)");
  expect_error("size: {min: 2, max: 3}\n", "d.yaml:1:7: size: a distribution needs 'dist: fixed | uniform");
  expect_error("size: {dist: uniform, min: 2}\n", "size.max: missing: a uniform distribution needs max");
  expect_error("size: {dist: uniform, min: 2, max: 3, mean: 4}\n",
               "d.yaml:1:39: size.mean: unknown key; known keys of a uniform distribution: dist, min, max");
  expect_error("size: {dist: uniform, min: 5, max: 3}\n", "size: uniform needs min <= max");
  expect_error("size: {dist: lognormal, median: 0, sigma: 1}\n", "lognormal median must be > 0");
  expect_error("size: {dist: lognormal, median: 5, sigma: 1}\n",
               "size: every value drawn must be >= 1 (this lognormal distribution ranges 0 to unbounded)");
  expect_error("size: {dist: uniform, min: 0.5, max: 3}\n", "every value drawn must be >= 1");
  expect_error("size: {dist: table, values: [1, 2], weights: [1]}\n", "size.weights: expected a list of 2 weights");
  expect_error("size: {dist: table, values: [1, 2], weights: [0, 0]}\n", "at least one weight must be positive");
  expect_error("size: {dist: table, values: [1, 2], weights: [1, -1]}\n", "size.weights[1]: must be >= 0");
  expect_error("size: [1, 2]\n", "size: expected a distribution such as {dist: uniform, min: 1, max: 2} (got a list)");
  expect_error("delay: {dist: exponential, mean: 10}\n", "delay.mean: a duration needs a unit");
  expect_error("delay: {dist: fixed, value: -1s}\n", "delay: every value drawn must be >= 0s");
  expect_error("size: {dist: fixed, value: abc}\n", "d.yaml:1:28: size.value: expected a number (got abc)");
}

static void test_dist__samples_have_the_right_moments(void **state) {
  (void)state;
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  ms_rng_seed(r, 11, 0, MS_STREAM_BOOK);
  const int n = 400000;
  /* uniform(2, 20): mean 11, var 27 */
  ms_dist u = {.kind = MS_DIST_UNIFORM, .a = 2, .b = 20};
  /* lognormal(median 5000, sigma 1.2): median 5000, mean 5000 e^{0.72} */
  ms_dist ln = {.kind = MS_DIST_LOGNORMAL, .a = 5000, .b = 1.2};
  /* exponential(mean 10): mean 10, var 100 */
  ms_dist ex = {.kind = MS_DIST_EXPONENTIAL, .a = 10};
  ms_dist tb = {.kind = MS_DIST_TABLE, .n = 3, .values = {1, 5, 10}, .weights = {1, 2, 1}};
  assert_int_equal(ms_dist_prepare(&tb), 0);
  double su = 0, slog = 0, sex = 0, below_median = 0, cnt[3] = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    double x = ms_dist_sample(&u, r);
    assert_true(x >= 2 && x <= 20);
    su += x;
    double y = ms_dist_sample(&ln, r);
    slog += log(y);
    below_median += y < 5000;
    sex += ms_dist_sample(&ex, r);
    double t = ms_dist_sample(&tb, r);
    cnt[t == 1 ? 0 : t == 5 ? 1 : 2]++;
  }
  assert_true(fabs(su / n - 11) < 5 * sqrt(27.0 / n));
  assert_true(fabs(slog / n - log(5000)) < 5 * 1.2 / sqrt(n));
  assert_true(fabs(below_median / n - 0.5) < 5 * 0.5 / sqrt(n));
  assert_true(fabs(sex / n - 10) < 5 * 10 / sqrt(n));
  const double p[3] = {0.25, 0.5, 0.25};
  for (int k = 0; k < 3; k++) assert_true(fabs(cnt[k] / n - p[k]) < 5 * sqrt(p[k] * (1 - p[k]) / n));
  assert_true(fabs(ms_dist_mean(&ln) - 5000 * exp(0.72)) < 1e-9 * 5000 * exp(0.72));
  assert_true(ms_dist_mean(&tb) == 5.25);
  ms_rng_free(r);
}

/* Review r14: weights that sum past DBL_MAX made acc / inf = 0, so every
 * value but the last had probability 0; the table must mean its weights. */
static void test_dist__huge_table_weights_keep_their_proportions(void **state) {
  (void)state;
  ms_dist tb = {.kind = MS_DIST_TABLE, .n = 3, .values = {2, 5, 10}, .weights = {1e308, 1e308, 0}};
  assert_int_equal(ms_dist_prepare(&tb), 0);
  assert_true(tb.cum[0] == 0.5 && tb.cum[1] == 1.0 && tb.cum[2] == 1.0);
  assert_true(ms_dist_mean(&tb) == 3.5); /* (2 + 5) / 2 */
  ms_dist ord = {.kind = MS_DIST_TABLE, .n = 2, .values = {2, 5}, .weights = {1, 3}};
  assert_int_equal(ms_dist_prepare(&ord), 0);
  assert_true(ord.cum[0] == 0.25 && ord.cum[1] == 1.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist__huge_table_weights_keep_their_proportions),
      cmocka_unit_test(test_dist__parses_every_kind),
      cmocka_unit_test(test_dist__errors_name_the_place),
      cmocka_unit_test(test_dist__samples_have_the_right_moments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
