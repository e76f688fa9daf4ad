/*
 * test_fields — the field tables of the result file (output/fields.c):
 * each field inside its record, none overlapping another, the quantile
 * fields named as stats.c names them, the difference tables' fields all
 * known, and the documentation tables printable.
 */
#include <stdlib.h>
#include <string.h>

#include "output/fields.h"
#include "output/stats.h"
#include "testutil.h"

static const ms_record *const records[] = {
    &ms_record_liquidation, &ms_record_cascade, &ms_record_book, &ms_record_stat,  &ms_record_prob,
    &ms_record_feedback,    &ms_record_diff,    &ms_record_eff,  &ms_record_assertion, &ms_record_cell,
};

static void test_fields__inside_their_record_and_apart(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof records / sizeof records[0]; k++) {
    const ms_record *r = records[k];
    for (int i = 0; i < r->nfields; i++) {
      const ms_field *f = &r->fields[i];
      if (f->offset + ms_field_size(f) > r->size) fail_msg("%s.%s beyond the record", r->dataset, f->name);
      assert_non_null(f->unit);
      assert_true(f->doc && f->doc[0]);
      for (int j = 0; j < i; j++) {
        const ms_field *g = &r->fields[j];
        assert_string_not_equal(f->name, g->name);
        /* the two names of one member (model_mean, cell_mean) aside */
        if (r == &ms_record_diff && f->offset == g->offset) continue;
        if (f->offset < g->offset + ms_field_size(g) && g->offset < f->offset + ms_field_size(f))
          fail_msg("%s: %s overlaps %s", r->dataset, f->name, g->name);
      }
    }
  }
  /* the members of the trace and of a fan sample are pointers, one per dataset */
  const ms_record *series[] = {&ms_record_trace, &ms_record_fan};
  for (int k = 0; k < 2; k++) {
    assert_int_equal(series[k]->size, (size_t)series[k]->nfields * sizeof(void *));
    for (int i = 0; i < series[k]->nfields; i++) {
      assert_int_equal(series[k]->fields[i].offset % sizeof(void *), 0);
      assert_true(series[k]->fields[i].offset + sizeof(void *) <= series[k]->size);
    }
  }
}

static void test_fields__quantiles_named_as_stats_names_them(void **state) {
  (void)state;
  for (int j = 0; j < MS_NQUANT; j++) {
    const ms_field *q = ms_record_find(&ms_record_stat, ms_stats_quantile_names[j]);
    assert_non_null(q);
    assert_int_equal(q->offset, offsetof(ms_stat_rec, q) + (size_t)j * 3 * sizeof(double));
  }
  assert_null(ms_record_find(&ms_record_stat, "q75"));
}

static void test_fields__difference_tables_name_known_fields(void **state) {
  (void)state;
  const char *const *lists[] = {ms_compare_diff_fields, ms_sweep_diff_fields};
  for (int l = 0; l < 2; l++)
    for (int i = 0; lists[l][i]; i++) assert_non_null(ms_record_find(&ms_record_diff, lists[l][i]));
}

static void test_fields__value_reads_each_type(void **state) {
  (void)state;
  ms_liq_record r = {.path = 7, .time = -3, .side = -1, .notional = 2.5};
  assert_true(ms_field_value(ms_record_find(&ms_record_liquidation, "path"), &r) == 7);
  assert_true(ms_field_value(ms_record_find(&ms_record_liquidation, "time"), &r) == -3);
  assert_true(ms_field_value(ms_record_find(&ms_record_liquidation, "side"), &r) == -1);
  assert_true(ms_field_value(ms_record_find(&ms_record_liquidation, "notional"), &r) == 2.5);
}

static void test_fields__markdown_of_every_table(void **state) {
  (void)state;
  for (int i = 0; ms_fields_tables[i]; i++) {
    char *md = ms_fields_markdown(ms_fields_tables[i]);
    assert_non_null(md);
    assert_contains(md, "| type | unit | meaning |");
    free(md);
  }
  char *md = ms_fields_markdown("summary");
  assert_contains(md, "| `bad_debt` | float64 | USD | shortfall of collateral + PnL at the fills, and of cash at option "
                      "settlements (settlement_bad_debt) |");
  assert_contains(md, "`time_in_regime_<name>`");
  assert_contains(md, "`amplification`");
  free(md);
  md = ms_fields_markdown("liquidations");
  assert_contains(md, "| `side` | int32 |");
  free(md);
  assert_null(ms_fields_markdown("nothing"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields__inside_their_record_and_apart),
      cmocka_unit_test(test_fields__quantiles_named_as_stats_names_them),
      cmocka_unit_test(test_fields__difference_tables_name_known_fields),
      cmocka_unit_test(test_fields__value_reads_each_type),
      cmocka_unit_test(test_fields__markdown_of_every_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
