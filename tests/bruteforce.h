/*
 * bruteforce — what the engine tests share (test_engine.c,
 * test_toymodel.c): the brute-force twin of the account index, and the
 * check of a closed-form liquidation price on a drifting path.
 *
 * The twin:
 * every open account is a candidate at every check, and ADL picks the
 * best-ranked open perp position of a side by a linear scan. An index
 * that misses an eligible account, or ranks ADL differently, makes the
 * two runs' liquidations differ.
 */
#ifndef MS_BRUTEFORCE_H
#define MS_BRUTEFORCE_H

#include <math.h>

#include "engine/engine_int.h"
#include "testutil.h"

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

/* The liquidations of one path, indexed (@p a) against the brute-force twin
 * (@p b), n of each: equal bit for bit; the first difference named. */
static void compare_records(const ms_liq_record *a, const ms_liq_record *b, size_t n, uint64_t path) {
  for (size_t i = 0; i < n; i++) {
    if (a[i].time != b[i].time || a[i].account != b[i].account || a[i].qty != b[i].qty ||
        a[i].mark_price != b[i].mark_price || a[i].bad_debt != b[i].bad_debt ||
        a[i].penalty != b[i].penalty || a[i].adl_qty != b[i].adl_qty || a[i].impact_triggered != b[i].impact_triggered)
      fail_msg("path %llu liquidation %zu: indexed (t %lld, account %lld, qty %.17g) vs brute force "
               "(t %lld, account %lld, qty %.17g)", (unsigned long long)path, i, (long long)a[i].time,
               (long long)a[i].account, a[i].qty, (long long)b[i].time, (long long)b[i].account, b[i].qty);
    if (memcmp(&a[i], &b[i], sizeof a[i])) fail_msg("path %llu liquidation %zu differs", (unsigned long long)path, i);
  }
}

/* One account on a path of initial price 1000 with a negligible volatility,
 * the oracle equal to the mark at every 1 s tick: the only liquidation
 * (@p rec, @p n of them) must be at the first tick past the closed form
 * @p want (below it for a long, above for a short), and the tick before
 * must not have been past it. */
static void check_first_liquidation_at(const ms_config *cfg, const ms_liq_record *rec, size_t n, double want,
                                       int is_long, const char *what) {
  if (n != 1) fail_msg("expected one liquidation, got %zu", n);
  double drift = (cfg->market.regimes[0].drift - 0.5 * pow(cfg->market.regimes[0].vol, 2)) / (365.0 * 86400.0);
  double before = 1000.0 * exp(drift * ((double)rec[0].time / 1000.0 - 1.0));
  double rel = 1e-7; /* the 1e-6 volatility's noise over the path */
  if (is_long) {
    assert_true(rec[0].oracle_price < want * (1 + rel));
    assert_true(before >= want * (1 - rel));
  } else {
    assert_true(rec[0].oracle_price > want * (1 - rel));
    assert_true(before <= want * (1 + rel));
  }
  print_message("%s %s: %.6f, liquidated at oracle %.6f (t = %lld s, previous tick %.6f)\n", is_long ? "long" : "short",
                what, want, rec[0].oracle_price, (long long)rec[0].time / 1000, before);
}

#endif
