/*
 * test_umbrella — a program that includes only marginsim/marginsim.h (and
 * is built without the sources' private include folder) can load a scenario
 * from a string with an override, run it, read its statistics, and get a
 * status with a message back from a bad call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "marginsim/marginsim.h"

static const char *text =
    "name: umbrella\nseed: 5\npaths: 8\nhorizon: 30m\nstep: 1s\n"
    "market:\n  regimes:\n    - {name: calm, vol: 0.5}\n"
    "book: {accounts: 20, leverage: 5}\n";

static void load_run_read(void **state) {
  (void)state;
  const char *sets[] = {"paths=6"};
  ms_config *cfg = NULL;
  ms_error err = {0};
  ms_status s = ms_config_load_string(&cfg, text, "umbrella.yaml", sets, 1, &err);
  if (s) fail_msg("%s", err.msg);
  assert_int_equal(cfg->paths, 6); /* the override applied */

  char out[] = "/tmp/ms_test_umbrella.XXXXXX";
  int fd = mkstemp(out);
  assert_true(fd >= 0);
  close(fd);
  unlink(out); /* the run creates it */
  ms_run_opts o = {.threads = 1, .output = out, .command = "test_umbrella"};
  ms_run_report *rep = calloc(1, sizeof *rep);
  s = ms_run(cfg, &o, rep, &err);
  unlink(out);
  if (s) fail_msg("%s", err.msg);
  assert_int_equal(rep->paths, 6);
  free(rep);

  /* a bad call: a status and a one-line message, no crash */
  o.output = NULL;
  rep = calloc(1, sizeof *rep);
  assert_int_equal(ms_run(cfg, &o, rep, &err), MS_ERR_INPUT);
  assert_int_equal(ms_status_exit_code(MS_ERR_INPUT), 2);
  assert_non_null(strstr(err.msg, "no result file"));
  free(rep);
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(load_run_read)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
