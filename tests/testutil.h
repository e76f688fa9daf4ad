/*
 * testutil — small helpers shared by the cmocka tests.
 */
#ifndef MS_TESTUTIL_H
#define MS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "marginsim/error.h"
#include "config/scenario.h"

/* Fail with the message unless @p s is MS_OK. */
#define assert_ok(s, err)                                                   \
  do {                                                                      \
    ms_status s_ = (s);                                                     \
    if (s_ != MS_OK) fail_msg("status %d: %s", (int)s_, (err)->msg);        \
  } while (0)

/* Assert that @p hay contains @p needle, printing both when it does not. */
#define assert_contains(hay, needle)                                        \
  do {                                                                      \
    const char *h_ = (hay), *n_ = (needle);                                 \
    if (!strstr(h_, n_)) fail_msg("expected \"%s\" in:\n  %s", n_, h_);     \
  } while (0)

/* Load YAML text with optional --set strings; returns the config or NULL. */
static inline ms_config *load_yaml(const char *yaml, const char *const *sets, int nsets,
                                   ms_error *err) {
  ms_config *cfg = NULL;
  ms_error_clear(err);
  ms_config_load_string(&cfg, yaml, "t.yaml", sets, nsets, err);
  return cfg;
}

/* Expect loading to fail with bad input and a message containing @p want. */
static inline void expect_load_error(const char *yaml, const char *const *sets, int nsets,
                                     const char *want) {
  ms_error err;
  ms_config *cfg = load_yaml(yaml, sets, nsets, &err);
  if (cfg) {
    ms_config_free(cfg);
    fail_msg("expected an error containing \"%s\", the scenario loaded", want);
  }
  assert_int_equal(err.status, MS_ERR_INPUT);
  assert_contains(err.msg, want);
}

#endif
