/*
 * fuzz_core — one input through the loader, validate's round trip and the
 * book draw (see fuzz_core.h). Never prints: the caller reports.
 */
#include "fuzz_core.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/acctindex.h"
#include "output/assertion.h"
#include "models/book.h"
#include "engine/engine.h"
#include "models/margin.h"
#include "config/scenario.h"

void ms_fuzz_init(void) { gsl_set_error_handler_off(); }

static void finding(ms_fuzz_result *res, const char *what, const ms_error *err) {
  res->outcome = MS_FUZZ_FINDING;
  snprintf(res->msg, sizeof res->msg, "%.200s: %.4000s (%.100s)", what, err ? err->msg : "",
           err ? ms_strerror(err->status) : "");
}

/* A failure of the loader or the book is fine when it is bad input with a
 * message; any other status on a scenario file is a defect. */
static void rejected(ms_fuzz_result *res, const char *stage, ms_status s) {
  /* ms_error's message is one line (error.h): a value quoted from the file
   * must not carry its line breaks or control characters (a terminal's
   * escapes) into it; a tab is harmless. */
  const char *c = res->err.msg;
  while (*c && ((unsigned char)*c >= 0x20 || *c == '\t') && *c != 0x7f) c++;
  if (s == MS_ERR_INPUT && res->err.msg[0] && !*c) {
    res->outcome = MS_FUZZ_REJECTED;
    return;
  }
  if (s == MS_ERR_INPUT && res->err.msg[0]) {
    char what[128];
    snprintf(what, sizeof what, "%s: the message has control character 0x%02x at %d, not one line", stage,
             (unsigned char)*c, (int)(c - res->err.msg));
    finding(res, what, &res->err);
    return;
  }
  char what[64];
  if (s == MS_ERR_INPUT) snprintf(what, sizeof what, "%s: bad input without a message", stage);
  else snprintf(what, sizeof what, "%s: status %d, not bad input", stage, (int)s);
  finding(res, what, &res->err);
}

/* validate prints the resolved configuration; loaded again it must resolve
 * to the same text (item 11 of issue 14: validate's output round-trips). */
static void round_trip(const ms_config *cfg, ms_fuzz_result *res) {
  char *yaml = ms_config_to_yaml(cfg);
  if (!yaml) {
    snprintf(res->msg, sizeof res->msg, "round trip: out of memory");
    res->outcome = MS_FUZZ_FINDING;
    return;
  }
  ms_error e2;
  ms_error_clear(&e2);
  ms_config *again = NULL;
  ms_status s = ms_config_load_string(&again, yaml, "<validate output>", NULL, 0, &e2);
  if (s) {
    finding(res, "round trip: validate's output does not load", &e2);
  } else {
    char *yaml2 = ms_config_to_yaml(again);
    if (!yaml2 || strcmp(yaml, yaml2) != 0) {
      /* The first differing line, to route the finding. */
      const char *a = yaml, *b = yaml2 ? yaml2 : "";
      const char *la = a, *lb = b;
      while (*a && *a == *b) {
        if (*a == '\n') { la = a + 1; lb = b + 1; }
        a++, b++;
      }
      res->outcome = MS_FUZZ_FINDING;
      snprintf(res->msg, sizeof res->msg, "round trip: validate's output resolves differently: '%.*s' became '%.*s'",
               (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
    }
    free(yaml2);
  }
  ms_config_free(again);
  free(yaml);
}

/* The values of the result file's /book rows (run.c, write_book): every
 * account's deposit, initial and maintenance margin, and a perp's
 * liquidation price. */
static void book_rows(const ms_config *cfg, const ms_book *b, const ms_margin *m) {
  ms_view v0 = {cfg->market.initial_price, 0, cfg->market.entry_vol};
  for (int64_t i = 0; i < b->n; i++) {
    ms_position p;
    ms_book_position(b, i, &p);
    (void)ms_book_deposit(b, i);
    (void)ms_margin_pos_im(m, &p, b->entry, &v0);
    (void)ms_margin_pos_mm(m, &p, b->entry, &v0);
    if (b->opt_of[i] < 0) (void)ms_margin_threshold(m, p.C, p.q, b->entry);
  }
}

/* The book as the run draws it: the run's (path MS_PATH_RUN) and its sorted
 * index, or path 0's when books are drawn per path; then its /book rows. */
static ms_status draw_book(const ms_config *cfg, ms_error *err) {
  /* A book of several markets has no ms_book and no /book: the engine draws its own (multi.c), in
   * simulate_path0. */
  if (cfg->book.markets.enabled) return MS_OK;
  ms_margin *m = NULL;
  ms_book *b = NULL, *own = NULL;
  ms_index_static *idx = NULL;
  ms_status s = ms_margin_new(&m, cfg, err);
  if (!s && cfg->book.resample != MS_RESAMPLE_PER_PATH) {
    s = ms_engine_shared_new(cfg, &b, &idx, err);
  } else if (!s) {
    s = ms_book_new(&own, cfg, err);
    if (!s) s = ms_book_draw(own, cfg, 0, m, err);
    if (!s) s = ms_index_static_build(&idx, own, m, cfg, 1, err);
    b = own;
  }
  if (!s) book_rows(cfg, b, m);
  if (own) {
    ms_index_static_free(idx);
    ms_book_free(own);
  } else {
    ms_engine_shared_free(b, idx);
  }
  ms_margin_free(m);
  return s;
}

/* Path 0 as `marginsim run` runs it, on the book drawn the same way. */
static ms_status simulate_path0(const ms_config *cfg, ms_error *err) {
  ms_book *book = NULL;
  ms_index_static *idx = NULL;
  ms_engine *e = NULL;
  ms_path_summary sum;
  ms_status s = ms_engine_shared_new(cfg, &book, &idx, err);
  if (!s) s = ms_engine_new(&e, cfg, book, idx, err);
  if (!s) s = ms_engine_run_path(e, 0, &sum, NULL, err);
  ms_engine_free(e);
  ms_engine_shared_free(book, idx);
  return s;
}

/* The --set options of an input: its leading comment lines "# set: KEY=VALUE"
 * (a comment, so the file stays a scenario; the fuzzer mutates them too). */
#define MAX_SETS 8
#define SET_MAX 1024

static int read_sets(const char *path, char sets[MAX_SETS][SET_MAX]) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  int n = 0;
  char line[SET_MAX];
  while (n < MAX_SETS && fgets(line, sizeof line, f) && line[0] == '#') {
    if (strncmp(line, "# set: ", 7) != 0) continue;
    size_t len = strcspn(line, "\n");
    if (len > 0 && line[len - 1] == '\r') len--; /* CRLF files too */
    line[len] = '\0';
    snprintf(sets[n++], SET_MAX, "%s", line + 7);
  }
  fclose(f);
  return n;
}

void ms_fuzz_run_file(const char *path, int simulate, ms_fuzz_result *res) {
  memset(res, 0, sizeof *res);
  ms_error_clear(&res->err);
  static char sets[MAX_SETS][SET_MAX]; /* 8 KB: off the stack of libFuzzer's thread */
  const char *setp[MAX_SETS];
  int nsets = read_sets(path, sets);
  for (int i = 0; i < nsets; i++) setp[i] = sets[i];
  ms_config *cfg = NULL;
  ms_status s = ms_config_load(&cfg, path, setp, nsets, &res->err);
  if (!s) s = ms_assertions_check(cfg, &res->err);
  if (s) {
    rejected(res, "load", s);
    ms_config_free(cfg);
    return;
  }
  round_trip(cfg, res);
  if (res->outcome == MS_FUZZ_FINDING) {
    ms_config_free(cfg);
    return;
  }
  if (cfg->book.accounts > MS_FUZZ_MAX_ACCOUNTS) cfg->book.accounts = MS_FUZZ_MAX_ACCOUNTS;
  s = draw_book(cfg, &res->err);
  if (s) rejected(res, "book", s);
  else if (simulate && (s = simulate_path0(cfg, &res->err)) != MS_OK) rejected(res, "path 0", s);
  else res->outcome = MS_FUZZ_LOADED;
  ms_config_free(cfg);
}
