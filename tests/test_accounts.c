/*
 * test_accounts — the touched-account pool (sim/engine/accounts.c).
 *
 *  - A path that closes nearly every account it touches keeps a pool of
 *    about the accounts still open, not one entry per account: the closed
 *    ones are dropped, the open ones keep their state and their touch order.
 *  - A closed, dropped account reads as closed with nothing (status, units,
 *    cash), a touch of it adds no entry, and the cash it held is kept as a sum.
 *  - The reset after such a path leaves every slot of the book untouched, and
 *    the next path starts from the book again; also for books whose size is
 *    not a multiple of the reset's 16-slot lines, or below one line, and
 *    closed accounts at both ends of a line.
 *  - Discovery's candidate list gives its memory back once it is 1 MB or
 *    more (a crash's publish), and is usable again at once.
 */
#include "engine/accounts.h"
#include "engine/acctindex.h"
#include "engine/engine.h"
#include "core/bigmem.h"
#include "testutil.h"

typedef struct {
  ms_config *cfg;
  ms_book *book;
  ms_index_static *st;
  ms_accounts acc;
} pool_rig;

static void pool_open(pool_rig *r, int accounts) {
  char yaml[160];
  snprintf(yaml, sizeof yaml, "book: {accounts: %d}\n", accounts);
  ms_error err;
  memset(r, 0, sizeof *r);
  r->cfg = load_yaml(yaml, NULL, 0, &err);
  if (!r->cfg) fail_msg("%s", err.msg);
  assert_ok(ms_engine_shared_new(r->cfg, &r->book, &r->st, &err), &err);
  assert_ok(ms_accounts_init(&r->acc, r->book, &err), &err);
  r->acc.drop_from = 64; /* what a large pool does, on a small book */
}

static void pool_close(pool_rig *r) {
  ms_accounts_fini(&r->acc);
  ms_engine_shared_free(r->book, r->st);
  ms_config_free(r->cfg);
}

/* Touch every account in order; close all but every @p keep_every-th (its
 * units and cash taken out, as a full liquidation leaves it). */
static double close_most(ms_accounts *a, int64_t n, int64_t keep_every) {
  double cash = 0.0;
  for (int64_t i = 0; i < n; i++) {
    ms_acct *x = ms_accounts_touch(a, i);
    assert_non_null(x);
    if (i % keep_every == 0) {
      ms_accounts_set_collateral(a, x, 1000.0 + (double)i); /* a change the pool must keep */
      x->version = 7;
      continue;
    }
    x->q = 0.0;
    ms_accounts_set_collateral(a, x, 0.5);
    cash += 0.5;
    ms_accounts_close(a, x);
  }
  return cash;
}

static void test_accounts__closed_accounts_leave_the_pool(void **state) {
  (void)state;
  pool_rig r;
  const int64_t n = 20000, keep = 100;
  pool_open(&r, (int)n);
  ms_accounts *a = &r.acc;
  double cash = close_most(a, n, keep);
  /* without dropping: n + 1 entries; with it: the open ones, plus what
   * closed since the last drop (an eighth of the pool) */
  print_message("%zu entries for %lld accounts, %zu dropped\n", a->n, (long long)n, a->ndropped);
  assert_true(a->n < 2 * (size_t)(n / keep) + 64);
  assert_true(a->ndropped > (size_t)(n - n / keep) * 9 / 10);
  /* the open accounts kept their state, in the order they were touched */
  int64_t prev = -1;
  for (size_t i = 1; i < a->n; i++) {
    int64_t id = a->ids[i];
    assert_true(id > prev);
    prev = id;
    assert_int_equal(a->slot[id], (int32_t)i);
  }
  for (int64_t i = 0; i < n; i += keep) {
    const ms_acct *x = ms_accounts_peek(a, i);
    assert_non_null(x);
    assert_int_equal(x->status, MS_ACCT_OPEN);
    assert_int_equal(x->version, 7);
    assert_true(ms_accounts_collateral(a, i) == 1000.0 + (double)i);
    assert_true(ms_accounts_qty(a, i) == r.book->pos[i].qty);
  }
  /* a dropped account: closed, with nothing; touching it adds no entry */
  int64_t dropped = -1;
  for (int64_t i = 1; i < n && dropped < 0; i++)
    if (a->slot[i] == MS_ACCT_DROPPED) dropped = i;
  assert_true(dropped > 0);
  assert_int_equal(ms_accounts_status(a, dropped), MS_ACCT_CLOSED);
  assert_true(ms_accounts_qty(a, dropped) == 0.0 && ms_accounts_collateral(a, dropped) == 0.0);
  size_t before = a->n;
  const ms_acct *x = ms_accounts_touch(a, dropped);
  assert_non_null(x);
  assert_int_equal(x->status, MS_ACCT_CLOSED);
  assert_int_equal(a->n, before);
  /* the cash of the dropped accounts, summed (the money identity's) */
  assert_true(fabs(a->dropped_cash - 0.5 * (double)a->ndropped) < 1e-9);
  assert_true(a->dropped_cash <= cash);
  pool_close(&r);
}

static void test_accounts__reset_after_drops_restores_every_slot(void **state) {
  (void)state;
  pool_rig r;
  const int64_t n = 50000;
  pool_open(&r, (int)n);
  ms_accounts *a = &r.acc;
  for (int path = 0; path < 2; path++) {
    close_most(a, n, 7);
    assert_true(a->ndropped > 0);
    ms_accounts_reset(a);
    assert_int_equal(a->n, 1);
    assert_true(a->dropped_cash == 0.0 && a->realized == 0.0);
    for (int64_t i = 0; i < n; i++)
      if (a->slot[i] != -1) fail_msg("path %d: slot %lld is %d after the reset", path, (long long)i, a->slot[i]);
    /* the next path reads the book again */
    for (int64_t i = 0; i < n; i += 997) {
      assert_null(ms_accounts_peek(a, i));
      assert_int_equal(ms_accounts_status(a, i), MS_ACCT_OPEN);
      assert_true(ms_accounts_collateral(a, i) == r.book->pos[i].collateral);
    }
  }
  /* the shared closed account was never written */
  assert_int_equal(a->pool[MS_ACCT_DROPPED].status, MS_ACCT_CLOSED);
  assert_true(a->pool[MS_ACCT_DROPPED].q == 0.0 && a->pool[MS_ACCT_DROPPED].C == 0.0);
  pool_close(&r);
}

/* Books of odd sizes (below a 16-slot line, a partial last line, a partial
 * last bitmap word), each account closed on some paths and open on others:
 * the reset must find every dropped slot, the first and last of each line
 * included, and no slot beyond the book. */
static void test_accounts__reset_restores_slots_of_any_book_size(void **state) {
  (void)state;
  const int sizes[] = {1, 2, 15, 16, 17, 37, 1023, 1025, 2049};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    pool_rig r;
    const int64_t n = sizes[k];
    pool_open(&r, (int)n);
    ms_accounts *a = &r.acc;
    a->drop_from = 1;
    for (int path = 0; path < 3; path++) {
      for (int64_t i = n - 1; i >= 0; i--) { /* touched from the end: the pool's order is not the ids' */
        ms_acct *x = ms_accounts_touch(a, i);
        assert_non_null(x);
        if ((i + path) % 5 == 0) continue;
        x->q = 0.0;
        ms_accounts_set_collateral(a, x, 0.25);
        ms_accounts_close(a, x);
      }
      assert_non_null(ms_accounts_touch(a, 0)); /* a new entry or not: the drops are done */
      for (int64_t i = 0; i < n; i++)
        assert_int_equal(ms_accounts_status(a, i), (i + path) % 5 == 0 ? MS_ACCT_OPEN : MS_ACCT_CLOSED);
      if (n > 2) assert_true(a->ndropped > 0);
      ms_accounts_reset(a);
      for (int64_t i = 0; i < n; i++)
        if (a->slot[i] != -1)
          fail_msg("book of %lld, path %d: slot %lld is %d after the reset", (long long)n, path, (long long)i,
                   a->slot[i]);
    }
    pool_close(&r);
  }
}

/* Tests keep the entries of closed accounts when they ask to. */
static void test_accounts__kept_closed_accounts_stay_readable(void **state) {
  (void)state;
  pool_rig r;
  const int64_t n = 5000;
  pool_open(&r, (int)n);
  r.acc.drop_from = SIZE_MAX;
  close_most(&r.acc, n, 10);
  assert_int_equal(r.acc.n, (size_t)n + 1);
  assert_int_equal(r.acc.ndropped, 0);
  assert_true(ms_accounts_collateral(&r.acc, 1) == 0.5);
  pool_close(&r);
}

static void test_accounts__large_id_lists_give_their_memory_back(void **state) {
  (void)state;
  ms_idbuf b = {0};
  for (int64_t i = 0; i < 1000; i++) assert_int_equal(ms_idbuf_push(&b, i), 0);
  void *small = b.v;
  ms_idbuf_trim(&b); /* 8 KB: kept */
  assert_ptr_equal(b.v, small);
  assert_int_equal(b.n, 0);
  for (int64_t i = 0; i < 200000; i++) assert_int_equal(ms_idbuf_push(&b, i), 0);
  assert_true(b.cap * sizeof *b.v >= MS_BIG_MIN);
  ms_idbuf_trim(&b); /* 1.6 MB: given back */
  assert_null(b.v);
  assert_true(b.n == 0 && b.cap == 0);
  assert_int_equal(ms_idbuf_push(&b, 7), 0);
  assert_true(b.n == 1 && b.v[0] == 7);
  ms_idbuf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accounts__closed_accounts_leave_the_pool),
      cmocka_unit_test(test_accounts__reset_after_drops_restores_every_slot),
      cmocka_unit_test(test_accounts__reset_restores_slots_of_any_book_size),
      cmocka_unit_test(test_accounts__kept_closed_accounts_stay_readable),
      cmocka_unit_test(test_accounts__large_id_lists_give_their_memory_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
