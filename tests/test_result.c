/*
 * test_result — the accessors of ms_result (output/result.c) on a result
 * built by hand: five rows and three liquidation records whose values are
 * known, statistics from ms_stats_compute.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output/fields.h"
#include "output/result.h"
#include "output/stats.h"
#include "testutil.h"

#define NP 5

static ms_result *make_result(void) {
  ms_error err;
  ms_result *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->cfg = load_yaml("stats: {cascade_gap: 60s}\n", NULL, 0, &err);
  assert_non_null(r->cfg);
  r->paths = NP;
  r->threads = 3;
  r->seconds = 1.5;
  r->rows = calloc(NP, sizeof *r->rows);
  assert_non_null(r->rows);
  for (int i = 0; i < NP; i++) {
    r->rows[i].path = (uint64_t)i;
    r->rows[i].bad_debt = 10.0 * i;         /* 0 10 20 30 40: mean 20 */
    r->rows[i].liquidations = 7 - i;        /* 7 6 5 4 3 */
    r->rows[i].insolvent = i >= 3;          /* 2 of 5 */
    r->rows[i].final_price = 1000.0 + i;
    r->rows[i].time_in_regime[0] = 60.0 * i;
  }
  ms_colsrc src = ms_colsrc_rows(r->rows, NP);
  assert_ok(ms_stats_compute(&r->stats, r->cfg, &src, 1, &err), &err);
  r->nliqs = 3;
  r->liqs = calloc(3, sizeof *r->liqs);
  assert_non_null(r->liqs);
  for (int k = 0; k < 3; k++)
    r->liqs[k] = (ms_liq_record){.path = (uint64_t)k, .time = 1000 * (k + 1), .account = 40 + k,
                                 .side = k == 1 ? -1 : 1, .notional = 250.0 * (k + 1), .delay = 0.5};
  return r;
}

static void test_result__free_accepts_null(void **state) {
  (void)state;
  ms_result_free(NULL);
  assert_int_equal(ms_result_paths(NULL), 0);
  assert_int_equal(ms_result_ncolumns(NULL), 0);
  assert_null(ms_result_column_name(NULL, 0));
  assert_int_equal(ms_result_nliquidations(NULL), 0);
}

static void test_result__run_facts(void **state) {
  (void)state;
  ms_result *r = make_result();
  assert_int_equal(ms_result_paths(r), NP);
  assert_int_equal(ms_result_threads(r), 3);
  assert_true(ms_result_seconds(r) == 1.5);
  ms_result_free(r);
}

static void test_result__columns_are_the_summary_table(void **state) {
  (void)state;
  ms_result *r = make_result();
  ms_column cols[MS_MAX_COLUMNS];
  int n = ms_stats_columns(r->cfg, cols, MS_MAX_COLUMNS);
  assert_int_equal(ms_result_ncolumns(r), n);
  assert_true(n > 40);
  for (int i = 0; i < n; i++) {
    assert_string_equal(ms_result_column_name(r, i), cols[i].name);
    assert_string_equal(ms_result_column_unit(r, i), cols[i].unit);
  }
  assert_string_equal(ms_result_column_name(r, 0), "path");
  assert_null(ms_result_column_name(r, -1));
  assert_null(ms_result_column_name(r, n));
  assert_null(ms_result_column_unit(r, n));
  /* the name outlives the call (it is the result's) */
  const char *last = ms_result_column_name(r, n - 1);
  ms_result_column_name(r, 1);
  assert_string_equal(last, cols[n - 1].name);
  int bd = -1;
  for (int i = 0; i < n; i++)
    if (strcmp(cols[i].name, "bad_debt") == 0) bd = i;
  assert_string_equal(ms_result_column_unit(r, bd), "USD");
  /* the file's types, so a reader without the file can give integer columns back as integers */
  assert_string_equal(ms_result_column_type(r, 0), "uint64"); /* path */
  assert_string_equal(ms_result_column_type(r, bd), "float64");
  for (int i = 0; i < n; i++)
    if (strcmp(cols[i].name, "liquidations") == 0) assert_string_equal(ms_result_column_type(r, i), "int64");
  assert_null(ms_result_column_type(r, n));

  ms_error err;
  double v[NP];
  assert_ok(ms_result_column(r, "bad_debt", v, &err), &err);
  for (int i = 0; i < NP; i++) assert_true(v[i] == 10.0 * i);
  assert_ok(ms_result_column(r, "liquidations", v, &err), &err);
  for (int i = 0; i < NP; i++) assert_true(v[i] == 7 - i);
  assert_ok(ms_result_column(r, "path", v, &err), &err);
  for (int i = 0; i < NP; i++) assert_true(v[i] == i);
  char regime[MS_COL_NAME_MAX + 16];
  snprintf(regime, sizeof regime, "time_in_regime_%s", r->cfg->market.regimes[0].name);
  assert_ok(ms_result_column(r, regime, v, &err), &err);
  for (int i = 0; i < NP; i++) assert_true(v[i] == 60.0 * i);

  assert_int_equal(ms_result_column(r, "bad_debts", v, &err), MS_ERR_INPUT);
  assert_int_equal(err.status, MS_ERR_INPUT);
  assert_contains(err.msg, "bad_debts");
  assert_contains(err.msg, "final_price");
  assert_contains(err.msg, regime);
  ms_result_free(r);
}

static void test_result__stats_equal_the_stats_table(void **state) {
  (void)state;
  ms_result *r = make_result();
  ms_error err;
  double v, lo, hi;
  const ms_stat_row *bd = ms_stats_find(&r->stats, "bad_debt");
  assert_ok(ms_result_stat(r, "bad_debt.mean", &v, &lo, &hi, &err), &err);
  assert_true(v == 20.0 && v == bd->mean);
  assert_true(lo == bd->mean_lo && hi == bd->mean_hi);
  assert_true(lo < v && v < hi);
  assert_ok(ms_result_stat(r, "bad_debt.q50", &v, &lo, &hi, &err), &err);
  assert_true(v == 20.0 && lo == bd->q_lo[0] && hi == bd->q_hi[0]);
  assert_ok(ms_result_stat(r, "bad_debt.max", &v, &lo, NULL, &err), &err);
  assert_true(v == 40.0 && isnan(lo));
  assert_ok(ms_result_stat(r, "liquidations.n", &v, NULL, NULL, &err), &err);
  assert_true(v == NP);
  const ms_prob_row *ins = ms_stats_find_prob(&r->stats, "insolvency");
  assert_ok(ms_result_stat(r, "insolvency.probability", &v, &lo, &hi, &err), &err);
  assert_true(v == 0.4 && lo == ins->lo && hi == ins->hi);

  assert_int_equal(ms_result_stat(r, "bad_debt.median", &v, &lo, &hi, &err), MS_ERR_INPUT);
  assert_true(isnan(v) && isnan(lo) && isnan(hi));
  assert_contains(err.msg, "bad_debt.median");
  assert_contains(err.msg, "q50");
  assert_contains(err.msg, "final_price");
  assert_int_equal(ms_result_stat(r, "nothing", &v, NULL, NULL, &err), MS_ERR_INPUT);
  ms_result_free(r);
}

static void test_result__liquidations_are_the_record_table(void **state) {
  (void)state;
  ms_result *r = make_result();
  assert_int_equal(ms_result_nliquidations(r), 3);
  int n = ms_result_nliquidation_fields(r);
  assert_int_equal(n, ms_record_liquidation.nfields);
  assert_int_equal(n, 18);
  for (int i = 0; i < n; i++) {
    assert_string_equal(ms_result_liquidation_field_name(r, i), ms_record_liquidation.fields[i].name);
    assert_string_equal(ms_result_liquidation_field_unit(r, i), ms_record_liquidation.fields[i].unit);
  }
  assert_string_equal(ms_result_liquidation_field_name(r, 0), "path");
  assert_string_equal(ms_result_liquidation_field_unit(r, 1), "ms"); /* time */
  assert_null(ms_result_liquidation_field_name(r, n));
  assert_null(ms_result_liquidation_field_unit(r, -1));
  for (int i = 0; i < n; i++)
    assert_string_equal(ms_result_liquidation_field_type(r, i), ms_field_type_name(ms_record_liquidation.fields[i].type));
  assert_string_equal(ms_result_liquidation_field_type(r, 0), "uint64"); /* path */
  assert_string_equal(ms_result_liquidation_field_type(r, 1), "int64");  /* time, ms */
  assert_null(ms_result_liquidation_field_type(r, n));

  ms_error err;
  double v[3];
  assert_ok(ms_result_liquidation_field(r, "notional", v, &err), &err);
  assert_true(v[0] == 250 && v[1] == 500 && v[2] == 750);
  assert_ok(ms_result_liquidation_field(r, "side", v, &err), &err); /* int32 */
  assert_true(v[0] == 1 && v[1] == -1 && v[2] == 1);
  assert_ok(ms_result_liquidation_field(r, "time", v, &err), &err); /* int64 */
  assert_true(v[0] == 1000 && v[1] == 2000 && v[2] == 3000);
  assert_ok(ms_result_liquidation_field(r, "account", v, &err), &err);
  assert_true(v[0] == 40 && v[2] == 42);
  assert_ok(ms_result_liquidation_field(r, "path", v, &err), &err); /* uint64 */
  assert_true(v[1] == 1);
  assert_int_equal(ms_result_liquidation_field(r, "price", v, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "price");
  assert_contains(err.msg, "mark_price");
  assert_contains(err.msg, "delay");
  /* no records kept: none read */
  free(r->liqs);
  r->liqs = NULL;
  assert_int_equal(ms_result_nliquidations(r), 0);
  ms_result_free(r);
}

/* A NULL argument is a status and a message naming it, never a crash; a
 * NULL result has no columns and no fields, and "" is the unit of none. */
static void test_result__null_arguments_are_bad_input(void **state) {
  (void)state;
  ms_result *r = make_result();
  ms_error err;
  assert_int_equal(ms_result_column(r, "bad_debt", NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "out");
  assert_int_equal(ms_result_column(NULL, "bad_debt", NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "result");
  assert_int_equal(ms_result_column(r, NULL, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "column name");
  assert_int_equal(ms_result_liquidation_field(r, "notional", NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "out");
  assert_int_equal(ms_result_liquidation_field(r, NULL, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "field name");
  assert_int_equal(ms_result_nliquidation_fields(NULL), 0);
  assert_null(ms_result_liquidation_field_name(NULL, 0));
  assert_null(ms_result_liquidation_field_unit(NULL, 0));
  /* nothing to copy: out may be NULL */
  free(r->liqs);
  r->liqs = NULL;
  assert_ok(ms_result_liquidation_field(r, "notional", NULL, &err), &err);
  ms_result_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_result__free_accepts_null),
      cmocka_unit_test(test_result__run_facts),
      cmocka_unit_test(test_result__columns_are_the_summary_table),
      cmocka_unit_test(test_result__stats_equal_the_stats_table),
      cmocka_unit_test(test_result__liquidations_are_the_record_table),
      cmocka_unit_test(test_result__null_arguments_are_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
