/*
 * accounts — one path's view of the book: which accounts it touched and how
 * they stand now. Private to the engine (and its tests).
 *
 * The book is shared and never written. A path copies an account into a
 * per-thread pool the first time it changes it ("touches" it); resetting a
 * path walks only the pool, so it costs what the path touched, not the book.
 *
 * A closed account (status MS_ACCT_CLOSED, no units, no live leg) never
 * changes again, and nothing reads its entry but its status: in a large
 * pool, once an eighth of it closed since the last time, the next new entry
 * first drops such entries (the others keep their order, the order in which the
 * path touched them) and their slots point at entry 0, a shared closed
 * account. What a path holds per account it has closed is
 * then one bit per 16 slots (dirty, to restore those slots at the reset),
 * not an entry: a crash through the book holds entries only for the
 * accounts still open or waiting for a keeper. An entry's address is valid
 * until the next touch, which may move or compact the pool.
 *
 * Socialized losses and funding payments are uniform per unit of position
 * on one side, so they are held as a per-side shift instead of being
 * written into every account: effective collateral = C - |q| (shift[side] -
 * shift when C was set). A funding credit lowers a side's shift; the index
 * bounds with shift_hi, which only rises.
 */
#ifndef MS_ACCOUNTS_H
#define MS_ACCOUNTS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "models/book.h"
#include "marginsim/error.h"

enum { MS_ACCT_OPEN = 0, MS_ACCT_PENDING = 1, MS_ACCT_CLOSED = 2 };

/* 40 bytes: the realised PnL is a sum over the path (ms_accounts.realized),
 * not a field of every entry. */
typedef struct ms_acct {
  double C;          /* USD collateral when shift was taken */
  double q;          /* signed units */
  double shift;      /* per-unit socialized loss of its side when C was set */
  int64_t discovered;/* ms when last found eligible */
  uint32_t version;  /* bumped at every change; index entries carry it */
  uint8_t status;    /* MS_ACCT_* */
  uint8_t skipped;   /* a keeper skipped it for gas since its discovery */
} ms_acct;

/* slot[] of an account whose closed entry was dropped: pool[MS_ACCT_DROPPED]
 * is a closed account with nothing (ids[] -1), never written. */
#define MS_ACCT_DROPPED 0

/* A pool below this many entries (720 KB with their ids) drops nothing: its
 * memory does not matter, and on a 10k book the drops' walks cost ~1.5% of
 * the time (perp-10k). */
#define MS_ACCT_DROP_FROM ((size_t)1 << 14)

typedef struct ms_accounts {
  const ms_book *book;
  int32_t *slot;     /* per account: index into pool, -1 if untouched, MS_ACCT_DROPPED if closed
                        and dropped */
  ms_acct *pool;     /* [0]: the shared closed account; then the path's entries, in touch order */
  int32_t *ids;      /* pool index -> account */
  double *legq;      /* pool index -> MS_MAX_LEGS units left in each option leg of the
                        book's account (0: closed or expired); NULL for a book that
                        cannot hold options: a perps-only book's touched accounts
                        take 44 bytes each, not 60 */
  size_t n, cap;      /* entries in use (with [0]), room in pool */
  size_t cap_ids, cap_legq; /* room in ids and legq: equal to cap but while one fails to grow */
  size_t lim;        /* entries before the pool grows: a new entry at n == lim raises it by half */
  size_t nclosed;    /* accounts closed since the last drop (ms_accounts_close) */
  uint64_t *dirty;   /* bit k of word w: slots of line 64 w + k (16 slots) hold MS_ACCT_DROPPED */
  size_t ndropped;   /* entries dropped in this path */
  size_t drop_from;  /* entries from which closed ones are dropped: MS_ACCT_DROP_FROM (tests: lower,
                        or SIZE_MAX to keep closed accounts readable after the path) */
  double shift[2];   /* per-unit charge so far, socialized losses and funding net: longs [0], shorts [1] */
  double shift_hi[2];/* the sum of its rises only: what the account index bounds collateral by (a funding
                        credit lowers shift, and an account whose collateral only rose stays a candidate) */
  double soc[2];     /* the socialized losses' part: what socialize's cap subtracts from the profit */
  double open_qty[2];/* open units of longs and shorts */
  double realized;   /* USD PnL realised in this path, all accounts (the money identity's) */
  double dropped_cash; /* USD collateral the dropped closed accounts held (the money identity's) */
} ms_accounts;

ms_status ms_accounts_init(ms_accounts *a, const ms_book *b, ms_error *err);
void ms_accounts_fini(ms_accounts *a);

/** Forget the path: undo every touched account. */
void ms_accounts_reset(ms_accounts *a);

/** The account's pool entry, created from the book on first use (a dropped
 * closed account: the shared closed entry, not to be written); NULL if out
 * of memory. Entries may move: earlier addresses are stale after it. */
ms_acct *ms_accounts_touch(ms_accounts *a, int64_t id);

/** Account @p x (no units left, no live leg) closes: for good, its entry may be dropped. */
static inline void ms_accounts_close(ms_accounts *a, ms_acct *x) {
  x->status = MS_ACCT_CLOSED;
  x->version++;
  a->nclosed++;
}

static inline int ms_side_of(double q) { return q > 0 ? 0 : 1; }

/** The option legs' units of a touched account (a book with options only). */
static inline double *ms_accounts_legs(const ms_accounts *a, const ms_acct *x) {
  return a->legq + (size_t)(x - a->pool) * MS_MAX_LEGS;
}

/** The account's entry; NULL if untouched (the book's values hold). A closed
 * account whose entry was dropped reads as closed with nothing: no units,
 * no cash, no leg (its cash is in dropped_cash). */
static inline const ms_acct *ms_accounts_peek(const ms_accounts *a, int64_t id) {
  int32_t s = a->slot[id];
  return s < 0 ? NULL : &a->pool[s];
}

static inline double ms_accounts_qty(const ms_accounts *a, int64_t id) {
  const ms_acct *x = ms_accounts_peek(a, id);
  return x ? x->q : a->book->pos[id].qty;
}

static inline int ms_accounts_status(const ms_accounts *a, int64_t id) {
  const ms_acct *x = ms_accounts_peek(a, id);
  return x ? x->status : MS_ACCT_OPEN;
}

/**
 * Bring into cache what touching account @p id will read: its slot, and
 * with @p deep (its slot already cached) its pool entry or its book entry.
 * Real loads, not prefetch instructions: on the development VM a prefetch
 * of a line whose page is not in the TLB is dropped (measured: the entry
 * still took 400-800 cycles at the next event), while loads of several
 * accounts issued together overlap with each other and with the work that
 * follows.
 */
static inline void ms_accounts_warm(const ms_accounts *a, int64_t id, int deep) {
  int32_t s = a->slot[id];
  if (!deep) {
    __asm__ volatile("" : : "r"(s));
    return;
  }
  if (s >= 0) { /* its first and last bytes: an entry may straddle two lines */
    double c = a->pool[s].C;
    uint8_t st = a->pool[s].status;
    __asm__ volatile("" : : "x"(c), "r"(st));
  } else {
    double q = a->book->pos[id].qty, c = a->book->pos[id].collateral;
    __asm__ volatile("" : : "x"(q), "x"(c));
  }
}

/** Effective collateral (after socialized losses). */
static inline double ms_accounts_collateral(const ms_accounts *a, int64_t id) {
  const ms_acct *x = ms_accounts_peek(a, id);
  if (!x) {
    double q = a->book->pos[id].qty;
    return a->book->pos[id].collateral - fabs(q) * a->shift[ms_side_of(q)];
  }
  return x->C - fabs(x->q) * (a->shift[ms_side_of(x->q)] - x->shift);
}

/** ADL rank key: per-unit collateral normalised by the shift (lower = more leveraged). */
static inline double ms_accounts_adl_key(const ms_accounts *a, int64_t id) {
  const ms_acct *x = ms_accounts_peek(a, id);
  if (!x) return a->book->pos[id].collateral / fabs(a->book->pos[id].qty);
  return x->C / fabs(x->q) + x->shift;
}

/** 1 if the account holds a live option leg. */
static inline int ms_accounts_has_options(const ms_accounts *a, int64_t id) {
  if (a->book->nopt == 0) return 0; /* a perps-only book: no lookup (a cache miss in a large book) */
  int32_t o = a->book->opt_of[id];
  if (o < 0) return 0;
  const ms_acct *x = ms_accounts_peek(a, id);
  if (!x) return a->book->opt[o].nlegs > 0;
  const double *lq = ms_accounts_legs(a, x);
  for (int l = 0; l < a->book->opt[o].nlegs; l++)
    if (lq[l] != 0) return 1;
  return 0;
}

/** The account's position now: effective cash, perp, live option legs. */
static inline void ms_accounts_position(const ms_accounts *a, int64_t id, ms_position *p) {
  const ms_acct *x = ms_accounts_peek(a, id);
  p->C = ms_accounts_collateral(a, id);
  p->q = x ? x->q : a->book->pos[id].qty;
  p->nlegs = 0;
  int32_t o = a->book->opt_of[id];
  if (o < 0) return;
  const ms_opt_account *oa = &a->book->opt[o];
  for (int l = 0; l < oa->nlegs; l++) {
    double q = x ? ms_accounts_legs(a, x)[l] : oa->legs[l].q;
    if (q == 0) continue;
    p->legs[p->nlegs] = oa->legs[l];
    p->legs[p->nlegs++].q = q;
  }
}

/** Charge every open unit of side @p side @p per_unit USD (>= 0), as a shift: the index bounds with its rises. */
static inline void ms_accounts_charge(ms_accounts *a, int side, double per_unit) {
  a->shift[side] += per_unit;
  a->shift_hi[side] += per_unit;
}

/** Credit every open unit of side @p side @p per_unit USD (>= 0): the index, bounding the shift's rises only,
 *  does not follow (a credit only makes an account healthier). */
static inline void ms_accounts_credit(ms_accounts *a, int side, double per_unit) { a->shift[side] -= per_unit; }

/** Write a new collateral (effective now) into a touched account. */
static inline void ms_accounts_set_collateral(ms_accounts *a, ms_acct *x, double C) {
  x->C = C;
  x->shift = a->shift[ms_side_of(x->q)];
}

#endif
