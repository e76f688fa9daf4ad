/*
 * bruteforce — the brute-force twin of the account index, shared by the
 * tests that run the engine both ways (test_engine.c, test_toymodel.c):
 * every open account is a candidate at every check, and ADL picks the
 * best-ranked open perp position of a side by a linear scan. An index
 * that misses an eligible account, or ranks ADL differently, makes the
 * two runs' liquidations differ.
 */
#ifndef MS_BRUTEFORCE_H
#define MS_BRUTEFORCE_H

#include "engine/engine_int.h"

static int bf_candidates(void *self, const ms_accounts *a, const ms_margin *m, const ms_probe *pr,
                         ms_idbuf *out) {
  (void)self; (void)m; (void)pr;
  for (int64_t i = 0; i < a->book->n; i++)
    if (ms_accounts_status(a, i) == MS_ACCT_OPEN && ms_idbuf_push(out, i)) return -1;
  return 0;
}

static int bf_rekey(void *self, const ms_accounts *a, const ms_margin *m, int64_t id, const ms_probe *pr) {
  (void)self; (void)a; (void)m; (void)id; (void)pr;
  return 0;
}

static int64_t bf_adl_next(void *self, const ms_accounts *a, int side) {
  (void)self;
  int64_t best = -1;
  double bk = 0;
  for (int64_t i = 0; i < a->book->n; i++) {
    /* ADL deleverages perpetual positions: accounts holding options are not ranked */
    if (ms_accounts_status(a, i) != MS_ACCT_OPEN || ms_accounts_has_options(a, i) ||
        ms_accounts_qty(a, i) == 0 || ms_side_of(ms_accounts_qty(a, i)) != side)
      continue;
    double k = ms_accounts_adl_key(a, i);
    if (best < 0 || k < bk) { best = i; bk = k; }
  }
  return best;
}

static const ms_finder_ops brute_force = {bf_candidates, bf_rekey, bf_adl_next};

#endif
