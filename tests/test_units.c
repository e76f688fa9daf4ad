/*
 * test_units — durations, rates and numbers in both directions.
 */
#include <math.h>

#include "core/units.h"
#include "testutil.h"

static void test_units__durations(void **state) {
  (void)state;
  static const struct { const char *s; int64_t ms; } ok[] = {
      {"250ms", 250}, {"12s", 12000}, {"5m", 300000}, {"6h", 21600000}, {"1d", 86400000},
      {"1.5h", 5400000}, {"0", 0}, {"0.25s", 250}, {" 3s ", 3000}, {"-2s", -2000}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t v = -1;
    assert_int_equal(ms_units_parse_duration(ok[i].s, &v), 0);
    assert_int_equal(v, ok[i].ms);
  }
  int64_t v;
  assert_int_equal(ms_units_parse_duration("12", &v), -3);
  assert_int_equal(ms_units_parse_duration("0.4ms", &v), -2);
  assert_int_equal(ms_units_parse_duration("3w", &v), -1);
  assert_int_equal(ms_units_parse_duration("s", &v), -1);
  assert_int_equal(ms_units_parse_duration("1e3", &v), -3);
}

static void test_units__rates(void **state) {
  (void)state;
  double r;
  assert_int_equal(ms_units_parse_rate("6/d", &r), 0); assert_true(r == 6.0);
  assert_int_equal(ms_units_parse_rate("2/h", &r), 0); assert_true(r == 48.0);
  assert_int_equal(ms_units_parse_rate("0.5/m", &r), 0); assert_true(r == 720.0);
  assert_int_equal(ms_units_parse_rate("10/s", &r), 0); assert_true(r == 864000.0);
  assert_int_equal(ms_units_parse_rate("0", &r), 0); assert_true(r == 0.0);
  assert_int_equal(ms_units_parse_rate("6", &r), -1);
  assert_int_equal(ms_units_parse_rate("6/w", &r), -1);
  assert_int_equal(ms_units_parse_rate("/d", &r), -1);
}

static void test_units__numbers(void **state) {
  (void)state;
  double v;
  assert_int_equal(ms_units_parse_number("5e7", &v), 0); assert_true(v == 5e7);
  assert_int_equal(ms_units_parse_number("-0.025", &v), 0); assert_true(v == -0.025);
  assert_int_equal(ms_units_parse_number("inf", &v), -1);
  assert_int_equal(ms_units_parse_number("nan", &v), -1);
  assert_int_equal(ms_units_parse_number("0x10", &v), -1);
  assert_int_equal(ms_units_parse_number("1e999", &v), -1);
  assert_int_equal(ms_units_parse_number("", &v), -1);
  assert_int_equal(ms_units_parse_number("3 4", &v), -1);
}

static void test_units__format_round_trips(void **state) {
  (void)state;
  const double xs[] = {0.1, 0.55, 1.0 / 3.0, 5e7, 2000, -2.0, 1e-300, 123456.789, 0.3 + 0.6};
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    char b[64];
    double back;
    ms_units_format_number(xs[i], b, sizeof b);
    assert_int_equal(ms_units_parse_number(b, &back), 0);
    assert_true(back == xs[i]);
  }
  char b[64];
  ms_units_format_number(5000, b, sizeof b); assert_string_equal(b, "5000");
  ms_units_format_duration(5400000, b, sizeof b); assert_string_equal(b, "90m");
  ms_units_format_duration(86400000, b, sizeof b); assert_string_equal(b, "1d");
  ms_units_format_duration(1250, b, sizeof b); assert_string_equal(b, "1250ms");
  ms_units_format_rate(48, b, sizeof b); assert_string_equal(b, "48/d");
}


/* Percentages read as their decimal, to the bit; anything else refused. */
static void test_units__percent(void **state) {
  (void)state;
  double v;
  assert_int_equal(ms_units_parse_percent("-20%", &v), 0);
  assert_true(v == -0.2);
  assert_int_equal(ms_units_parse_percent("1.1%", &v), 0);
  assert_true(v == 0.011);
  assert_int_equal(ms_units_parse_percent("2.5e1 %", &v), 0);
  assert_true(v == 0.25);
  assert_int_equal(ms_units_parse_percent("20", &v), -1);
  assert_int_equal(ms_units_parse_percent("2x0%", &v), -1);
  assert_int_equal(ms_units_parse_percent("%", &v), -1);
  assert_int_equal(ms_units_parse_percent("nan%", &v), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_units__durations),
      cmocka_unit_test(test_units__rates),
      cmocka_unit_test(test_units__numbers),
      cmocka_unit_test(test_units__format_round_trips),
      cmocka_unit_test(test_units__percent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
