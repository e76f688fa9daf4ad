/*
 * test_umbrella — a program that includes only marginsim/marginsim.h (and
 * is built without the sources' private include folder, so it cannot reach
 * a private header or a field of an opaque handle) can load a scenario from
 * a string with overrides, run it in memory with a progress callback, read
 * its rows, statistics and liquidation records through the accessors,
 * cancel a run, and get a status with a message back from a bad call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "marginsim/marginsim.h"

static const char *text =
    "name: umbrella\nseed: 5\npaths: 8\nhorizon: 30m\nstep: 1s\n"
    "market:\n  regimes:\n    - {name: calm, vol: 1.5, jumps: {rate: 24/d, mean: -0.05, sd: 0.03}}\n"
    "book: {accounts: 40, leverage: {dist: uniform, min: 10, max: 19}}\n";

static void count(void *ctx, int64_t done, int64_t total) {
  int64_t *last = ctx;
  (void)total;
  *last = done;
}

static void stop_at_once(void *ctx, int64_t done, int64_t total) {
  (void)done, (void)total;
  *(volatile sig_atomic_t *)ctx = 1;
}

static void load_run_read(void **state) {
  (void)state;
  const char *sets[] = {"paths=6", "output.liquidations=true"};
  ms_config *cfg = NULL;
  ms_error err = {0};
  ms_status s = ms_config_load_string(&cfg, text, "umbrella.yaml", sets, 2, &err);
  if (s) fail_msg("%s", err.msg);
  assert_int_equal(ms_config_paths(cfg), 6); /* the override applied */
  assert_string_equal(ms_config_name(cfg), "umbrella");

  /* a run in memory, no file */
  int64_t last = 0;
  volatile sig_atomic_t cancel = 0;
  ms_run_opts o = {.threads = 1, .progress = count, .progress_ctx = &last, .cancel = &cancel};
  ms_result *r = NULL;
  s = ms_simulate(cfg, &o, &r, &err);
  if (s) fail_msg("%s", err.msg);
  assert_int_equal(ms_result_paths(r), 6);
  assert_int_equal(last, 6);

  /* rows: the path column counts 0..5 */
  int nc = ms_result_ncolumns(r);
  assert_true(nc > 10);
  assert_string_equal(ms_result_column_name(r, 0), "path");
  assert_null(ms_result_column_name(r, nc));
  double rows[6];
  if (ms_result_column(r, "path", rows, &err)) fail_msg("%s", err.msg);
  for (int i = 0; i < 6; i++) assert_true(rows[i] == i);
  assert_int_equal(ms_result_column(r, "no_such_column", rows, &err), MS_ERR_INPUT);

  /* statistics: liquidations.mean is the mean of its column */
  double liq[6], mean = 0, v = 0, lo = 0, hi = 0;
  if (ms_result_column(r, "liquidations", liq, &err)) fail_msg("%s", err.msg);
  for (int i = 0; i < 6; i++) mean += liq[i] / 6;
  if (ms_result_stat(r, "liquidations.mean", &v, &lo, &hi, &err)) fail_msg("%s", err.msg);
  assert_true(mean > 0);
  assert_true(v > mean * (1 - 1e-12) && v < mean * (1 + 1e-12));
  assert_true(lo <= v && v <= hi);

  /* liquidation records: as many as the rows count */
  int64_t n = ms_result_nliquidations(r);
  double total = 0;
  for (int i = 0; i < 6; i++) total += liq[i];
  assert_true(n > 0 && (double)n == total);
  double *paths = malloc((size_t)n * sizeof *paths);
  assert_non_null(paths);
  if (ms_result_liquidation_field(r, "path", paths, &err)) fail_msg("%s", err.msg);
  for (int64_t k = 1; k < n; k++) assert_true(paths[k - 1] <= paths[k]); /* in path order */
  free(paths);
  assert_string_equal(ms_result_liquidation_field_name(r, 0), "path");
  ms_result_free(r);
  ms_result_free(NULL);

  /* a cancelled run with a file: MS_ERR_CANCELLED, no result, no file */
  char out[] = "/tmp/ms_test_umbrella.XXXXXX";
  int fd = mkstemp(out);
  assert_true(fd >= 0);
  close(fd);
  unlink(out);
  o.output = out;
  o.progress = stop_at_once;
  o.progress_ctx = (void *)&cancel;
  r = (ms_result *)&o; /* not NULL: the call must clear it */
  assert_int_equal(ms_simulate(cfg, &o, &r, &err), MS_ERR_CANCELLED);
  assert_null(r);
  assert_int_equal(access(out, F_OK), -1);

  /* bad calls: a status and a one-line message, no crash */
  o = (ms_run_opts){.output = ""};
  assert_int_equal(ms_simulate(cfg, &o, &r, &err), MS_ERR_INPUT);
  assert_non_null(strstr(err.msg, "opts->output is empty"));
  const char *bad[] = {"margin.model=bogus"};
  ms_config *cfg2 = NULL;
  assert_int_equal(ms_config_load_string(&cfg2, text, "umbrella.yaml", bad, 1, &err), MS_ERR_INPUT);
  assert_null(cfg2);
  assert_int_equal(ms_status_exit_code(MS_ERR_INPUT), 2);
  assert_non_null(strstr(err.msg, "margin.model"));
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(load_run_read)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
