/*
 * multi — the engine of a book holding several markets (see multi.h and
 * docs/engine.md, "Several markets").
 */
#include "engine/multi.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/heap.h"
#include "core/ladder.h"
#include "core/rng.h"
#include "core/sort.h"
#include "engine/engine_state.h"
#include "engine/shortfall.h"
#include "models/book.h"
#include "models/liquidation.h"

enum { SIDE_LONG = 0, SIDE_SHORT = 1 };

/* An entry of a market's heap: the unit is looked at once the oracle price
 * reaches the key (longs: key = -price, shorts: key = price; both pop while
 * key <= probe, the probe being -P and P). */
typedef struct xent {
  double key;
  int64_t unit;
  uint32_t ver;
} xent;

/* A heap of xent, four-ary, its keys apart from the rest: a pop compares a
 * node's four children's keys, 32 contiguous bytes, at each of log4 n
 * levels. At a million units a pop was a chain of about twenty cache
 * misses through 24-byte entries (a binary heap); a quarter of a path.
 * Units and positions are below 2^31 (ms_multi_new). Which of equal keys
 * pops first is the heap's shape's: nothing depends on it, a check's
 * candidates being taken as a set (check_candidates sorts the eligible). */
typedef struct xval {
  int32_t unit;
  uint32_t ver;
} xval;

typedef struct xheap {
  double *k;
  xval *v;
  size_t n, cap;
} xheap;

/* The heaps' order: by key; with @p ties (ADL's ranking), then by unit (there: the position), a total order. */
static inline int xless(double ka, int32_t ua, double kb, int32_t ub, int ties) {
  return ka < kb || (ties && ka == kb && ua < ub);
}

static inline xent heap_top(const xheap *h) { return (xent){h->k[0], h->v[0].unit, h->v[0].ver}; }

static int heap_push_by(xheap *h, xent e, int ties) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? 2 * h->cap : 64;
    double *k = realloc(h->k, cap * sizeof *k);
    if (k) h->k = k;
    xval *v = k ? realloc(h->v, cap * sizeof *v) : NULL;
    if (!v) return -1;
    h->v = v;
    h->cap = cap;
  }
  const xval ev = {(int32_t)e.unit, e.ver};
  size_t i = h->n++;
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (!xless(e.key, ev.unit, h->k[p], h->v[p].unit, ties)) break;
    h->k[i] = h->k[p];
    h->v[i] = h->v[p];
    i = p;
  }
  h->k[i] = e.key;
  h->v[i] = ev;
  return 0;
}

/* Entry (key, val) into the hole at @p i of the heap's first n entries, moving it down. */
static void sift_down(xheap *h, size_t n, size_t i, double key, xval val, int ties) {
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= n) break;
    size_t end = c + 4 < n ? c + 4 : n, m = c;
    for (size_t j = c + 1; j < end; j++)
      if (xless(h->k[j], h->v[j].unit, h->k[m], h->v[m].unit, ties)) m = j;
    if (!xless(h->k[m], h->v[m].unit, key, val.unit, ties)) break;
    h->k[i] = h->k[m];
    h->v[i] = h->v[m];
    i = m;
  }
  h->k[i] = key;
  h->v[i] = val;
}

static void heap_pop_by(xheap *h, int ties) {
  const size_t n = --h->n;
  if (n > 0) sift_down(h, n, 0, h->k[n], h->v[n], ties);
}

/* Keep the entries @p live says are (@p ctx its argument) and make a heap of them again, bottom up (by key alone:
 * the candidates' heaps, not ADL's). */
static void heap_filter(xheap *h, int (*live)(const void *ctx, xval v), const void *ctx) {
  size_t n = 0;
  for (size_t i = 0; i < h->n; i++)
    if (live(ctx, h->v[i])) {
      h->k[n] = h->k[i];
      h->v[n] = h->v[i];
      n++;
    }
  h->n = n;
  for (size_t i = n > 1 ? (n - 2) / 4 + 1 : 0; i-- > 0;) sift_down(h, n, i, h->k[i], h->v[i], 0);
}

static void heap_free(xheap *h) {
  free(h->k);
  free(h->v);
}

static int heap_push(xheap *h, xent e) { return heap_push_by(h, e, 0); }
static void heap_pop(xheap *h) { heap_pop_by(h, 0); }

/* An option leg of the book expiring inside the horizon: position @p pos's leg @p leg at @p t (ms). */
typedef struct xexp {
  int64_t t;
  int32_t pos, leg;
} xexp;

typedef struct xmarket {
  ms_config cfg;           /* the scenario as this asset sees it (pointers borrowed) */
  ms_pricepath *pp;
  ms_queue *q;             /* its price model's and oracle's events */
  ms_market *mk;
  ms_oracle *orc;
  ms_margin *mg;
  ms_funding *fnd;         /* NULL: funding.enabled false */
  double E;                /* entry price of its positions */
  int tiered;
  int portfolio;           /* its margin model is portfolio (book.markets.cross_offset applies among these) */
  int dynamic;             /* its margin model is dynamic: perps keyed in scaled coordinates (coord) */
  double slope_lo, slope_hi; /* least slope of a long's maintenance requirement in notional, largest of a short's */
  double ticks[TICK_BLOCK];
  size_t tick_pos, tick_n;
  /* path state */
  int frozen;              /* the contagion twin: its exogenous price stays at its start */
  double lp, lp0;
  double lp_hi, lp_lo;     /* lp0 +/- ln MS_MAX_PRICE_MOVE, as the one-market engine's */
  extremes ext;
  double lm_min, imp_hi, imp_lo;
  /* copies kept for the ticks (tick), refreshed wherever they change: the oracle's band and whether it samples
   * every tick (sync_oracle, after each call into the oracle), the impact's range (sync_impact, after a fill) */
  double band_lo, band_hi, imp_rlo, imp_rhi;
  int twap;
  double shift[2];         /* per unit of each side: what it was charged so far (socialized losses, funding), net */
  double soc[2];           /* the socialized losses' part: what socialize's cap subtracts from the profit */
  double shift_hi[2];      /* the rises of shift only: what the bound prices are taken in (a credit only helps) */
  double open_qty[2];
  double open0[2];         /* at the path's start (funding's floor) */
  ms_ladder h[2];          /* [SIDE_LONG], [SIDE_SHORT]: the perps' bound prices, taken by a publish all at once */
  /* option positions' bands (rekey_legs): [0] key -p_lo (pops at P <= p_lo), [1] key p_hi (pops at P >= p_hi) */
  xheap oh[2];
  xheap osh[2];            /* ... and per side of their perp, key shift_hi + shift_room (pops when shift_hi reaches it) */
  xexp *exp;               /* its book's legs expiring inside the horizon, by (t, position, leg) */
  size_t nexp, capexp, exp_pos;
} xmarket;

_Static_assert(MS_MAX_ASSETS <= UINT8_MAX, "xunit.n counts a unit's positions, one a market, in a byte");

typedef struct xunit {
  double C;                /* USD collateral (effective when the positions' snaps were taken) */
  int32_t pub;             /* its number in the book (ms_multi_unit), its place here being its slot */
  int32_t first;           /* its positions' slots: first .. first + n - 1 */
  uint32_t ver;
  int32_t nkeys;           /* heap entries of its current version */
  int64_t discovered;
  uint32_t ndisc;          /* its discoveries so far in the run */
  uint32_t kver;           /* its ADL key's version: bumped whenever its cash or positions change (adl_touch) */
  uint32_t vep;            /* mm->epoch when ver last changed (bump) */
  uint8_t status;          /* MS_ACCT_* */
  uint8_t skipped;         /* a keeper skipped it for gas since its discovery */
  uint8_t queued;          /* among the candidates of the check under way */
  uint8_t n;               /* its positions, at most one a market (MS_MAX_ASSETS): 48 bytes, not 56, a thread */
} xunit;

/* The random part of the keepers' delay of a unit's k-th discovery in the path (for its contagion twins). */
typedef struct xdraw {
  int64_t unit;
  uint32_t k;
  double d;
} xdraw;

typedef struct xpos {
  double q;
  double snap;             /* its market's side's shift when C was set */
  int32_t market, unit;    /* its unit's slot */
  int32_t opt;             /* its option strategy in the book (mm->bo; live legs in mm->lq), -1 none */
  int32_t pub;             /* its number in the book (ms_multi_pos, a row of /book, a record's account) */
} xpos;

struct ms_multi {
  int K;
  xmarket m[MS_MAX_ASSETS];
  ms_queue *kq;            /* keepers and samples */
  int bruteforce;
  /* the book as drawn, and the path's copy */
  ms_multi_unit *bu;
  ms_multi_pos *bp;
  int64_t nu, np;
  ms_opt_account *bo;      /* the book's option strategies (ms_multi_pos.opt) */
  int64_t nbo;
  double *lq;              /* the path's live leg quantities, MS_MAX_LEGS per strategy (0: closed or expired) */
  int64_t *ou;             /* units holding option legs in the book, by id: checked at every check (push_options) */
  int64_t nou;
  int64_t horizon;         /* ms: the legs expiring within it are indexed */
  double offset;           /* book.markets.cross_offset (0: none) */
  xheap th;                /* option positions' bands in time: key t_until (ms; pops at every check from then on) */
  int64_t open_options;    /* units holding live legs, not closed (option_revaluations_naive: these x checks) */
  /* regime switches not yet looked at (regime_moved, moved_units): per market the epoch of its latest, 0 none;
   * rmoved: of its latest ratio update (dynamic margin), which no kept band survives */
  uint32_t epoch, moved[MS_MAX_ASSETS], rmoved[MS_MAX_ASSETS];
  /* Per position holding legs, from its unit's latest keying (rekey_legs): its share of the unit's cash, its
   * perp's side's shift_hi then, and per regime of its market whether its band under that regime is in the
   * heaps; each valid while its unit's ver is the tag's less 1 (band_again). NULL without options. */
  double *kcash, *kshift;
  uint32_t *kc_tag, *kr_tag;  /* [position], [position x nreg] */
  int nreg;
  uint32_t epoch0;         /* where each path's epochs start (0; ms_multi_set_epoch_start) */
  int nmoved;
  int64_t bs_at_start;     /* Black–Scholes evaluations of the markets' margin models when the path began */
  /* ADL's ranking (liquidation.shortfall adl): per market and side, a heap of the open units' positions by
   * (effective collateral per unit of gross entry notional, position), an entry per change of its unit
   * (kver); rebuilt when charges moved many units' keys at once (adl_dirty) */
  int adl_on, adl_dirty;
  xheap adlh[MS_MAX_ASSETS][2];
  size_t adl_entries;
  int own_book;            /* set by a test: not drawn again */
  /* bu, bp, bo, uslot, pslot and ou are another engine's of the same run (ms_multi_new's lender): read only
   * here, never drawn, set or freed. A book drawn once per run is the same for every thread: one copy of it
   * (about 70 bytes an account), not one per thread. */
  int borrowed;
  int64_t cap;             /* room for units and positions: book.accounts x markets */
  /* The path's units and positions are kept in slots ordered by their bounds at entry (order_slots), not in
   * the book's order: a crash reaches them in about that order, and they are then near each other in memory.
   * Nothing depends on the slots: whatever is ordered or summed over units or positions goes by their book
   * numbers (pub), and a unit handed to the keepers is known by both (kid_of). */
  int32_t *uslot, *pslot;  /* a book's unit's and position's slot */
  xunit *u;
  xpos *p;
  ranked *disc;
  size_t ndisc, capdisc;
  int32_t *cand;           /* the check's candidates: units' slots (below 2^31) */
  size_t ncand, capcand;
  xval *popped;            /* pop_heap's entries */
  size_t cappop;
  ms_ladder_ent *taken;    /* pop_ladder's */
  size_t captaken;
  void *adl;               /* ADL's candidates (adl_cand) */
  size_t capadl;
  uint8_t *liq;            /* per position: liquidated, wholly or in part, in the run */
  uint8_t *liq_main;       /* ... in the path itself, kept while its contagion twins run */
  int twin;                /* a contagion twin is running: no records, no summary */
  xdraw *draws;            /* stats.contagion: the path's keeper draws, by (unit, k) once it has run */
  size_t ndraws, capdraws;
  int64_t live_entries;    /* heap entries of open units' current versions */
  double cash_closed;      /* USD the closed units kept */
  double realized;         /* USD PnL of the closed positions at their fills (the money identity's) */
  double funding_outside;  /* USD the book received from outside it (funding.receivers rate) */
  int64_t funding_payments;
  double funding_rate_sum, funding_last;
};

/* Unit @p u changed (its state, or its keys): its heap entries of before are stale. */
static inline void bump(ms_multi *mm, xunit *u) {
  u->ver++;
  u->vep = mm->epoch;
}

/* The number by which the keepers know the unit in slot @p slot: its book number above its slot, so that
 * ordering by it is ordering by the book's number (check_candidates' ties) and its slot is at hand (slot_of). */
static inline int64_t kid_of(const ms_multi *mm, int64_t slot) { return (int64_t)mm->u[slot].pub << 32 | slot; }
static inline int64_t slot_of(int64_t kid) { return kid & 0xffffffff; }

/* ---- the book ---- */

/* The book of @p path: per account its collateral and leverage as a
 * one-market account draws them (stream book), then its markets and
 * directions; notional split equally among the positions. With
 * book.options.fraction, each position is in turn an option strategy of
 * its market with that probability (drawn as a one-market option account
 * draws its strategy, size and expiry, on the position's share of the
 * collateral: ms_book_strategy), its premiums paid from the unit's cash. */
static ms_status draw_book(ms_multi *mm, const ms_config *cfg, uint64_t path, ms_error *err) {
  gsl_rng *r;
  ms_status s = ms_rng_new(&r, err);
  if (s) return s;
  ms_rng_seed(r, cfg->seed, path, MS_STREAM_BOOK);
  const ms_book_cfg *bc = &cfg->book;
  const ms_markets_cfg *bm = &bc->markets;
  const int K = mm->K;
  const ms_options_cfg *oc = &bc->options;
  mm->nbo = 0;
  int64_t nu = 0, np = 0, bad = 0, first_bad = -1;
  double first_need = 0, first_have = 0;
  for (int64_t i = 0; i < bc->accounts; i++) {
    int cross = bc->margin_mode == MS_MARGIN_CROSS;
    if (bc->margin_mode == MS_MARGIN_MIXED) cross = gsl_rng_uniform(r) < bm->cross_share;
    double c = ms_dist_sample(&bc->collateral, r);
    double lev = ms_dist_sample(&bc->leverage, r);
    int n = (int)llround(ms_dist_sample(&bm->count, r));
    if (n < 1) n = 1;
    if (n > K) n = K;
    double w[MS_MAX_ASSETS], tot = 0;
    for (int j = 0; j < K; j++) tot += w[j] = bm->nweights ? bm->weights[j] : 1.0;
    int chosen[MS_MAX_ASSETS], nc = 0;
    for (int k = 0; k < n; k++) { /* without replacement */
      double u = gsl_rng_uniform(r) * tot, acc = 0;
      int pick = -1;
      for (int j = 0; j < K; j++) {
        if (w[j] <= 0) continue;
        acc += w[j];
        pick = j;
        if (u < acc) break;
      }
      if (pick < 0) break; /* no weight left: fewer markets */
      chosen[nc++] = pick;
      tot -= w[pick];
      w[pick] = 0;
    }
    int dir0 = gsl_rng_uniform(r) < bc->long_fraction;
    double need = 0, premiums = 0;
    for (int k = 0; k < nc; k++) {
      int j = chosen[k];
      const xmarket *mk = &mm->m[j];
      int is_long = bm->directions == MS_DIR_SAME ? dir0
                    : bm->directions == MS_DIR_HEDGED ? (k % 2 == 0 ? dir0 : !dir0)
                    : (k == 0 ? dir0 : gsl_rng_uniform(r) < bc->long_fraction);
      double im, cash = c / nc;
      if (oc->fraction > 0 && gsl_rng_uniform(r) < oc->fraction) {
        const ms_strategy_cfg *st = &oc->strategies[ms_book_pick_strategy(oc, gsl_rng_uniform(r))];
        double size = ms_dist_sample(&st->size, r);
        int64_t expiry = (int64_t)llround(ms_dist_sample(&st->expiry, r));
        ms_opt_account *o = &mm->bo[mm->nbo];
        double q;
        ms_book_strategy(&mk->cfg, st, c / nc, size, expiry, o, &cash, &q);
        mm->bp[np] = (ms_multi_pos){q, j, (int32_t)nu, (int32_t)mm->nbo++};
        ms_position ps = {0, q, 0, {{0}}};
        for (int l = 0; l < o->nlegs; l++) ps.legs[ps.nlegs++] = o->legs[l];
        ms_view v0 = {mk->E, 0, mk->cfg.market.entry_vol};
        im = ms_margin_pos_im(mk->mg, &ps, mk->E, &v0);
      } else {
        double a = c * lev / nc / mk->E;
        mm->bp[np] = (ms_multi_pos){is_long ? a : -a, j, (int32_t)nu, -1};
        im = ms_margin_perp_im(mk->mg, mm->bp[np].q, mk->E);
      }
      np++;
      if (!cross) { /* its equity at the start: its share of the deposit */
        mm->bu[nu] = (ms_multi_unit){cash, i, (int32_t)(np - 1), 1};
        if (c / nc < im * (1.0 - 1e-9) && bad++ == 0) { first_bad = i; first_need = im; first_have = c / nc; }
        nu++;
      } else {
        need += im;
        premiums += c / nc - cash;
      }
    }
    if (cross) {
      mm->bu[nu] = (ms_multi_unit){c - premiums, i, (int32_t)(np - nc), nc};
      if (c < need * (1.0 - 1e-9) && bad++ == 0) { first_bad = i; first_need = need; first_have = c; }
      nu++;
    }
  }
  ms_rng_free(r);
  mm->nu = nu;
  mm->np = np;
  if (bad)
    return ms_error_set(err, MS_ERR_INPUT,
                        "book: %lld of %lld margin units start below initial margin under margin.model %s; first: "
                        "account %lld holds %.2f USD and needs %.2f USD: lower book.leverage, or the initial margin",
                        (long long)bad, (long long)nu, ms_model_name(cfg->margin.model), (long long)first_bad,
                        first_have, first_need);
  return MS_OK;
}

/* The slots of the book's units and positions (mm->uslot, mm->pslot): units by their first
 * position's market and side, then its liquidation price as if it held the unit's collateral alone at entry,
 * relative to the entry price and in steps of 2^-26 (a guess at the order a crash reaches them: only where they
 * are in memory depends on it), ties in the book's order; each unit's positions after the last unit's, in their
 * book order. */
static int order_slots(ms_multi *mm) {
  const int64_t nu = mm->nu;
  uint32_t *key = malloc((size_t)(nu ? nu : 1) * sizeof *key);
  int32_t *a = malloc((size_t)(nu ? nu : 1) * sizeof *a), *b = malloc((size_t)(nu ? nu : 1) * sizeof *b);
  int32_t *count = malloc(65537 * sizeof *count);
  if (!key || !a || !b || !count) {
    free(key), free(a), free(b), free(count);
    return -1;
  }
  for (int64_t i = 0; i < nu; i++) { /* (group, price) in 5 + 27 bits */
    const ms_multi_unit *u = &mm->bu[i];
    const ms_multi_pos *p = &mm->bp[u->first];
    const xmarket *k = &mm->m[p->market];
    double q = fabs(p->q), x = 0;
    int side = p->q > 0 ? 0 : p->q < 0 ? 1 : 2;
    if (side == 0 && k->slope_lo < 1) x = (q * k->E - u->C) / (q * (1.0 - k->slope_lo)) / k->E;
    if (side == 1) x = (u->C + q * k->E) / (q * (1.0 + k->slope_hi)) / k->E;
    uint32_t f = x > 0 && x < 2 ? (uint32_t)(x * (double)(1u << 26)) : x >= 2 ? (1u << 27) - 1 : 0;
    key[i] = (uint32_t)(p->market * 3 + side) << 27 | f;
    a[i] = (int32_t)i;
  }
  /* LSD radix sort, two stable passes of 16 bits: a by key, ties by book order */
  for (int pass = 0; pass < 2; pass++) {
    const int sh = 16 * pass;
    memset(count, 0, 65537 * sizeof *count);
    for (int64_t i = 0; i < nu; i++) count[((key[a[i]] >> sh) & 0xffff) + 1]++;
    for (int d = 0; d < 65536; d++) count[d + 1] += count[d];
    for (int64_t i = 0; i < nu; i++) b[count[(key[a[i]] >> sh) & 0xffff]++] = a[i];
    int32_t *t = a;
    a = b;
    b = t;
  }
  int32_t at = 0;
  for (int64_t sl = 0; sl < nu; sl++) {
    const ms_multi_unit *u = &mm->bu[a[sl]];
    mm->uslot[a[sl]] = (int32_t)sl;
    for (int32_t j = 0; j < u->n; j++) mm->pslot[u->first + j] = at++;
  }
  free(key), free(a), free(b), free(count);
  return 0;
}

/* ---- standing of a unit ---- */

static inline double oracle_price(const xmarket *k) { return ms_oracle_current(k->orc)->price; }

/* Market @p k's mark (USD) at @p t: the exogenous price with its impact. */
static inline double mark_at(const xmarket *k, int64_t t) { return exp(k->lp + ms_market_impact_at(k->mk, t)); }

/* Effective collateral of unit @p u: its cash less its sides' charges (socialized losses, funding, net) since it
 * was set. */
static double unit_cash(const ms_multi *mm, const xunit *u) {
  double C = u->C;
  for (int32_t i = u->first; i < u->first + u->n; i++) {
    const xpos *p = &mm->p[i];
    if (p->q == 0) continue;
    C -= fabs(p->q) * (mm->m[p->market].shift[ms_side_of(p->q)] - p->snap);
  }
  return C;
}

/* Set @p u's cash to @p C, effective now: its positions' shifts taken at their present values. */
static void set_cash(ms_multi *mm, xunit *u, double C) {
  u->C = C;
  for (int32_t i = u->first; i < u->first + u->n; i++)
    if (mm->p[i].q != 0) mm->p[i].snap = mm->m[mm->p[i].market].shift[ms_side_of(mm->p[i].q)];
}

/* Make @p u's effective collateral its cash (as a one-market account is when touched: accounts.h). */
static void snap(ms_multi *mm, xunit *u) { set_cash(mm, u, unit_cash(mm, u)); }

/* ---- option legs ---- */

/* The live legs of position @p p (0: none left). */
static inline int live_legs(const ms_multi *mm, const xpos *p) {
  if (p->opt < 0) return 0;
  const double *lq = &mm->lq[(int64_t)p->opt * MS_MAX_LEGS];
  int n = 0;
  for (int l = 0; l < mm->bo[p->opt].nlegs; l++) n += lq[l] != 0;
  return n;
}

static int unit_has_legs(const ms_multi *mm, const xunit *u) {
  for (int32_t i = u->first; i < u->first + u->n; i++)
    if (live_legs(mm, &mm->p[i])) return 1;
  return 0;
}

/* The unit still holds something: a perp or a live leg. */
static int unit_holds(const ms_multi *mm, const xunit *u) {
  for (int32_t i = u->first; i < u->first + u->n; i++)
    if (mm->p[i].q != 0 || live_legs(mm, &mm->p[i])) return 1;
  return 0;
}

/* Position @p p as a one-market account would hold it, with cash @p C: its
 * perp and its live legs, the book's legs in order with their quantities
 * now (as ms_accounts_position). */
static void pos_of(const ms_multi *mm, const xpos *p, double C, ms_position *ps) {
  ps->C = C;
  ps->q = p->q;
  ps->nlegs = 0;
  if (p->opt < 0) return;
  const ms_opt_account *o = &mm->bo[p->opt];
  const double *lq = &mm->lq[(int64_t)p->opt * MS_MAX_LEGS];
  for (int l = 0; l < o->nlegs; l++) {
    if (lq[l] == 0) continue;
    ps->legs[ps->nlegs] = o->legs[l];
    ps->legs[ps->nlegs++].q = lq[l];
  }
}

/* Where market @p k values options at price @p P and time @p t: its price model's volatility now. */
static inline ms_view view_of(const xmarket *k, double P, int64_t t) {
  return (ms_view){P, t, ms_pricepath_vol(k->pp)};
}

/* Equity and maintenance of @p u at every market's oracle price (@p exog:
 * the oracle's exogenous observations instead) at time @p t, and the size
 * of the terms (for the rounding slack). A position with live legs is
 * valued as a one-market option account (ms_margin_pos_equity and _mm with
 * its market's margin model: under portfolio margin, its asset's scenario
 * grid), the cash carried through: one position gives a one-market
 * account's numbers bit for bit. *@p req is the sum of the positions'
 * requirements, *@p credit what book.markets.cross_offset takes off it
 * (0 without): the unit is eligible when equity < req - credit. */
static void unit_standing(const ms_multi *mm, const xunit *u, int exog, int64_t t, double *eq, double *req,
                          double *credit, double *size) {
  double e = unit_cash(mm, u), r = 0, sz = fabs(e), rl = 0, rs = 0;
  for (int32_t i = u->first; i < u->first + u->n; i++) {
    const xpos *p = &mm->p[i];
    const xmarket *k = &mm->m[p->market];
    double ri;
    if (live_legs(mm, p)) {
      const ms_oracle_price *op = ms_oracle_current(k->orc);
      ms_position ps;
      pos_of(mm, p, e, &ps);
      ms_view v = view_of(k, exog ? op->exog : op->price, t);
      e = ms_margin_pos_equity(k->mg, &ps, k->E, &v);
      r += ri = ms_margin_pos_mm(k->mg, &ps, k->E, &v);
      sz += fabs(p->q) * (v.P + k->E);
      for (int l = 0; l < ps.nlegs; l++) sz += fabs(ps.legs[l].q) * (v.P + ps.legs[l].strike);
      if (mm->offset > 0 && k->portfolio) { /* its side by its delta at the price */
        double d = ps.q;
        for (int l = 0; l < ps.nlegs; l++) {
          ms_greeks g;
          ms_margin_leg_greeks(k->mg, &ps.legs[l], v.P, t, v.vol, &g);
          d += ps.legs[l].q * g.delta;
        }
        *(d >= 0 ? &rl : &rs) += ri;
      }
      continue;
    }
    if (p->q == 0) continue;
    const ms_oracle_price *op = ms_oracle_current(k->orc);
    double P = exog ? op->exog : op->price;
    e += p->q * (P - k->E);
    r += ri = ms_margin_perp_mm(k->mg, p->q, P);
    sz += fabs(p->q) * (P + k->E);
    if (mm->offset > 0 && k->portfolio) *(p->q > 0 ? &rl : &rs) += ri;
  }
  *eq = e;
  *req = r;
  *credit = mm->offset > 0 ? mm->offset * (rl < rs ? rl : rs) : 0.0;
  *size = sz + r;
}

/* The slopes of the maintenance requirement in notional that bound a
 * unit's prices (rekey): tiered, the least and largest tier ratios;
 * otherwise the ratio of each side now (dynamic margin moves it at its
 * updates: its perps are keyed in coordinates scaled by it, coord). */
static void slopes(xmarket *k) {
  if (k->tiered) {
    const ms_margin_cfg *mc = &k->cfg.margin;
    k->slope_lo = INFINITY;
    k->slope_hi = 0;
    for (int t = 0; t < mc->ntiers; t++) {
      k->slope_lo = fmin(k->slope_lo, mc->tiers[t].maintenance);
      k->slope_hi = fmax(k->slope_hi, mc->tiers[t].maintenance);
    }
  } else {
    k->slope_lo = ms_margin_perp_mm(k->mg, 1.0, 1.0);
    k->slope_hi = ms_margin_perp_mm(k->mg, -1.0, 1.0);
  }
}

/* Rounding of equity - requirement at another price, relative to the terms' size. */
#define UNIT_SLACK 1e-12

/* The coordinate of market @p k's heap of @p side in which bound prices are
 * kept: the oracle price less (longs) or plus (shorts) the side's charges so
 * far in price terms, X = P - shift_hi / c_long, Y = P + shift_hi / c_short,
 * so that a charge moves it as a publish does (sweep probes the heap
 * again). A position's surplus falls by |q| per unit of charge and, per
 * unit of price, by at most (1 - m_lo)|q| as a long's price falls and
 * (1 + m_hi)|q| as a short's rises (the bound prices' slopes, rekey), and
 * it rises by at least (1 - m_hi)|q| and (1 + m_lo)|q| the other way. With
 * c_long = 1 - m_hi and c_short = 1 + m_lo, a charge and a favourable move
 * together cost less than the bound's budget until the coordinate reaches
 * the bound (docs/engine.md, "Several markets", works it through). Where a
 * side's requirement is linear (static, dynamic, portfolio's perps: m_lo =
 * m_hi = the side's ratio) that is exact: c_long = 1 - r, c_short = 1 + r.
 * Under tiered margin m_lo and m_hi are the least and largest tier ratios
 * (a fall of the price gives a short back only (1 + m_lo)|q| in the lowest
 * tier: with c_short = 1 + m_hi a charge and such a fall crossed unseen,
 * tests/test_multi.c keeps the case). A long whose largest slope reaches 1
 * (c_long <= 0) has no such coordinate: its charges have the side's units
 * checked again (sweep).
 *
 * Under dynamic margin the ratio r moves at every update, and each move
 * changed every bound: every unit was checked again. There the coordinate
 * is the one above times c, with the ratio of the moment: X = P (1 - r) -
 * shift_hi for longs, Y = P (1 + r) + shift_hi for shorts. A long's surplus
 * is V + a (P - E) - r a P less its charges, so its loss since it was keyed
 * is a (X0 - X), exactly, whatever r did meanwhile (r < 1: dynamic's cap);
 * the bound is X0 - b / a (push_perp). A ratio change then moves the
 * coordinate as a publish moves the price (ratio_moved). */
static inline double coord(const xmarket *k, int side, double P) {
  if (k->dynamic) /* see below */
    return side == SIDE_LONG ? P * (1.0 - k->slope_lo) - k->shift_hi[0] : P * (1.0 + k->slope_hi) + k->shift_hi[1];
  if (side == SIDE_LONG) {
    double c = k->tiered ? 1.0 - k->slope_hi : 1.0 - k->slope_lo;
    return c > 0 ? P - k->shift_hi[0] / c : P;
  }
  return P + k->shift_hi[1] / (1.0 + (k->tiered ? k->slope_lo : k->slope_hi));
}

/* The long side's charges cannot be folded into its coordinate (coord). */
static inline int long_charges_scan(const xmarket *k) { return (k->tiered ? k->slope_hi : k->slope_lo) >= 1.0; }

/* Key unit @p id in its markets' heaps from surplus @p S (see multi.h). */
static int rekey_legs(ms_multi *mm, int64_t id, double S, double size, int64_t t);
static int push_entry(ms_multi *mm, xheap *h, double key, int64_t id);

/* A perp's bound (key) of unit @p id into its market's ladder of the side. */
static int push_bound(ms_multi *mm, ms_ladder *l, double key, int64_t id) {
  xunit *u = &mm->u[id];
  if (ms_ladder_put(l, key, (int32_t)id, u->ver)) return -1;
  mm->live_entries++;
  u->nkeys++;
  return 0;
}

/* A perp of @p q units in market @p k at oracle price @p P with a budget of @p b (USD) into its side's heap. */
static int push_perp(ms_multi *mm, xmarket *k, double q, double P, double b, int64_t id) {
  double a = fabs(q);
  if (k->dynamic) /* scaled coordinates (coord): the bound is b / a from the coordinate now */
    return q > 0 ? push_bound(mm, &k->h[SIDE_LONG], -(coord(k, SIDE_LONG, P) - b / a), id)
                 : push_bound(mm, &k->h[SIDE_SHORT], coord(k, SIDE_SHORT, P) + b / a, id);
  if (q > 0) /* a long whose requirement grows as fast as its value (m_lo >= 1): looked at at every publish */
    return push_bound(mm, &k->h[SIDE_LONG],
                      k->slope_lo < 1 ? -(coord(k, SIDE_LONG, P) - b / (a * (1.0 - k->slope_lo))) : -INFINITY, id);
  return push_bound(mm, &k->h[SIDE_SHORT], coord(k, SIDE_SHORT, P) + b / (a * (1.0 + k->slope_hi)), id);
}

static int rekey(ms_multi *mm, int64_t id, double S, double size, int64_t t) {
  xunit *u = &mm->u[id];
  u->nkeys = 0;
  if (mm->nou > 0 && unit_has_legs(mm, u)) return rekey_legs(mm, id, S, size, t);
  double Ntot = 0;
  for (int32_t i = u->first; i < u->first + u->n; i++)
    if (mm->p[i].q != 0) Ntot += fabs(mm->p[i].q) * oracle_price(&mm->m[mm->p[i].market]);
  double budget = S - UNIT_SLACK * size;
  if (!(budget > 0)) budget = 0;
  for (int32_t i = u->first; i < u->first + u->n; i++) {
    const xpos *p = &mm->p[i];
    if (p->q == 0) continue;
    xmarket *k = &mm->m[p->market];
    double P = oracle_price(k);
    if (push_perp(mm, k, p->q, P, Ntot > 0 ? budget * (fabs(p->q) * P / Ntot) : 0, id)) return -1;
  }
  return 0;
}

static int push_entry(ms_multi *mm, xheap *h, double key, int64_t id) {
  xunit *u = &mm->u[id];
  if (heap_push(h, (xent){key, id, u->ver})) return -1;
  mm->live_entries++;
  u->nkeys++;
  return 0;
}

/* Band @p bd holds the price @p P now and time @p t: else the position has no room, and its unit is looked at. */
static inline int band_holds(const ms_band *bd, double P, int64_t t) {
  return bd->p_lo < P && P < bd->p_hi && bd->t_until > t;
}

/* Band @p bd of position @p p (live legs, market @p k) of unit @p id into the heaps, under the regime now: its
 * prices, its time and, with a perp, its side's charges (kept as shift_hi now plus the room). */
static int push_band(ms_multi *mm, xmarket *k, const xpos *p, const ms_band *bd, int64_t id) {
  if (push_entry(mm, &k->oh[0], -bd->p_lo, id) || push_entry(mm, &k->oh[1], bd->p_hi, id) ||
      push_entry(mm, &mm->th, (double)bd->t_until, id))
    return -1;
  if (p->q != 0 && push_entry(mm, &k->osh[ms_side_of(p->q)], k->shift_hi[ms_side_of(p->q)] + bd->shift_room, id))
    return -1;
  if (mm->kr_tag) {
    const int r = ms_pricepath_regime(k->pp);
    if (r >= 0 && r < mm->nreg) mm->kr_tag[(int64_t)(p - mm->p) * mm->nreg + r] = mm->u[id].ver + 1;
  }
  return 0;
}

/* Key unit @p id, which holds option legs, from surplus @p S at @p t. Its
 * budget is split over its positions by gross notional (perp and legs'
 * underlying) at the oracle: a perp-only position is keyed as in rekey; a
 * position with legs gets, with the cash that makes its own surplus its
 * share b, the band of a one-market option account (ms_margin_band: a price
 * interval, a time and, with a perp, a room for charges to its side) in
 * which its surplus stays above 0, that is its losses below b. While every
 * position stays inside its bounds the unit's losses stay below S. A
 * regime switch of a market reprices its options: its option units are
 * looked at at the next check (regime_moved). */
static int rekey_legs(ms_multi *mm, int64_t id, double S, double size, int64_t t) {
  xunit *u = &mm->u[id];
  double Ntot = 0;
  for (int32_t i = u->first; i < u->first + u->n; i++) {
    const xpos *p = &mm->p[i];
    double P = oracle_price(&mm->m[p->market]), g = fabs(p->q);
    if (p->opt >= 0)
      for (int l = 0; l < mm->bo[p->opt].nlegs; l++) g += fabs(mm->lq[(int64_t)p->opt * MS_MAX_LEGS + l]);
    Ntot += g * P;
  }
  double budget = S - UNIT_SLACK * size;
  if (!(budget > 0)) budget = 0;
  for (int32_t i = u->first; i < u->first + u->n; i++) {
    const xpos *p = &mm->p[i];
    xmarket *k = &mm->m[p->market];
    double P = oracle_price(k), a = fabs(p->q);
    if (!live_legs(mm, p)) {
      if (p->q == 0) continue;
      if (push_perp(mm, k, p->q, P, Ntot > 0 ? budget * (a * P / Ntot) : 0, id)) return -1;
      continue;
    }
    ms_position ps;
    pos_of(mm, p, 0.0, &ps);
    double g = a;
    for (int l = 0; l < ps.nlegs; l++) g += fabs(ps.legs[l].q);
    double b = Ntot > 0 ? budget * (g * P / Ntot) : 0;
    ms_view v = view_of(k, P, t);
    ps.C = b - ms_margin_pos_surplus(k->mg, &ps, k->E, &v); /* its surplus b, up to rounding the band allows for */
    const int32_t q = (int32_t)(p - mm->p);
    mm->kcash[q] = ps.C; /* for its bands under the market's other regimes (band_again) */
    mm->kshift[q] = p->q != 0 ? k->shift_hi[ms_side_of(p->q)] : 0.0;
    mm->kc_tag[q] = u->ver + 1;
    ms_band bd;
    ms_margin_band(k->mg, &ps, k->E, &v, NAN, &bd);
    if (!band_holds(&bd, P, t)) { /* no room: looked at at the next check */
      if (push_entry(mm, &mm->th, (double)t, id)) return -1;
      continue;
    }
    if (push_band(mm, k, p, &bd, id)) return -1;
  }
  return 0;
}

/* Unit @p id's position @p q (holding live legs in market k, whose regime switched since the unit was keyed):
 * 1 when its band under the regime now is in the heaps, 0 when the unit must be checked. The band of a keying
 * holds under whichever regime it was computed for, as long as the unit is unchanged (its ver): so it is computed
 * once per regime and keying, from the position's share of the unit's cash then (less the charges to its perp's
 * side since), at the price and time now, and kept in the heaps with the others. While another regime holds, its
 * entries can only pop early (a check more, never one less). */
static int band_again(ms_multi *mm, int64_t id, int32_t q, int64_t t) {
  const xunit *u = &mm->u[id];
  const xpos *p = &mm->p[q];
  xmarket *k = &mm->m[p->market];
  const int r = ms_pricepath_regime(k->pp);
  if (r < 0 || r >= mm->nreg || mm->kc_tag[q] != u->ver + 1) return 0;
  uint32_t *tag = &mm->kr_tag[(int64_t)q * mm->nreg + r];
  if (*tag == u->ver + 1) return 1;
  const double P = oracle_price(k);
  ms_position ps;
  pos_of(mm, p, 0.0, &ps);
  ps.C = mm->kcash[q] - (p->q != 0 ? fabs(p->q) * (k->shift_hi[ms_side_of(p->q)] - mm->kshift[q]) : 0.0);
  ms_view v = view_of(k, P, t);
  ms_band bd;
  ms_margin_band(k->mg, &ps, k->E, &v, NAN, &bd);
  if (!band_holds(&bd, P, t)) return 0;
  return push_band(mm, k, p, &bd, id) ? -1 : 1; /* and its tag */
}

/* Rebuild every heap from the open units (at a path's start, after a tiered or the brute force's ratio moved, and when stale entries
 * pile up). */
static ms_status rebuild(ms_engine *e, ms_multi *mm, int64_t t);

/* ---- discovery ---- */

static ms_status push_cand(ms_multi *mm, int64_t id) {
  if (mm->u[id].queued) return MS_OK; /* found in two heaps of one sweep */
  mm->live_entries -= mm->u[id].nkeys; /* its entries are stale from now on, however it was found */
  mm->u[id].nkeys = 0;
  if (ms_grow((void **)&mm->cand, &mm->capcand, mm->ncand + 1, sizeof *mm->cand)) return MS_ERR_NOMEM;
  mm->cand[mm->ncand++] = (int32_t)id;
  mm->u[id].queued = 1;
  return MS_OK;
}

/* Position @p i, of PnL @p v at the oracle, into the first *@p n of @p order and @p pnl: the largest loss first,
 * ties by market index (a unit's liquidation order). */
static void worst_first(const ms_multi *mm, int32_t *order, double *pnl, int *n, int32_t i, double v) {
  int j = (*n)++;
  for (; j > 0 && (v < pnl[j - 1] || (v == pnl[j - 1] && mm->p[i].market < mm->p[order[j - 1]].market)); j--) {
    pnl[j] = pnl[j - 1];
    order[j] = order[j - 1];
  }
  pnl[j] = v;
  order[j] = i;
}

/* Unit @p u holds nothing any more: closed, with @p left (USD) its cash. */
static void close_unit(ms_multi *mm, xunit *u, double left) {
  u->status = MS_ACCT_CLOSED;
  bump(mm, u);
  mm->live_entries -= u->nkeys;
  u->nkeys = 0;
  u->C = left;
  mm->cash_closed += left;
}

/* The keepers' draw of unit @p id's @p k-th discovery in the path, or NULL (mm->draws sorted). */
static const xdraw *path_draw(const ms_multi *mm, int64_t id, uint32_t k) {
  size_t lo = 0, hi = mm->ndraws;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const xdraw *x = &mm->draws[mid];
    if (x->unit < id || (x->unit == id && x->k < k)) lo = mid + 1;
    else hi = mid;
  }
  return lo < mm->ndraws && mm->draws[lo].unit == id && mm->draws[lo].k == k ? &mm->draws[lo] : NULL;
}

static int draw_cmp(const void *a, const void *b) {
  const xdraw *x = a, *y = b;
  if (x->unit != y->unit) return x->unit < y->unit ? -1 : 1;
  return x->k < y->k ? -1 : x->k > y->k;
}

/* Check the candidates: eligible ones go to the keepers, in order of
 * equity / requirement (then unit), the others are keyed afresh. */
static ms_status check_candidates(ms_engine *e, ms_multi *mm, int64_t t) {
  mm->ndisc = 0;
  for (size_t c = 0; c < mm->ncand; c++) /* their positions' lines asked for at once (pop_heap's units) */
    __builtin_prefetch(&mm->p[mm->u[mm->cand[c]].first]);
  for (size_t c = 0; c < mm->ncand; c++) {
    int64_t id = mm->cand[c];
    xunit *u = &mm->u[id];
    u->queued = 0;
    if (u->status != MS_ACCT_OPEN) continue;
    double eq, req, credit, size;
    unit_standing(mm, u, 0, t, &eq, &req, &credit, &size);
    if (!mm->twin && mm->nou > 0 && unit_has_legs(mm, u)) e->sum->option_revaluations++;
    bump(mm, u);
    double need = req - credit;
    if (eq < need) {
      if (ms_big_grow((void **)&mm->disc, &mm->capdisc, mm->ndisc + 1, sizeof *mm->disc)) return MS_ERR_NOMEM;
      mm->disc[mm->ndisc++] = (ranked){need > 0 ? eq / need : -INFINITY, kid_of(mm, id)}; /* ties: by book number */
    } else if (!mm->bruteforce && rekey(mm, id, eq - req, size, t)) { /* bounds without the credit (see rekey) */
      return MS_ERR_NOMEM;
    }
  }
  mm->ncand = 0;
  ms_sort_ranked(mm->disc, mm->ndisc);
  for (size_t i = 0; i < mm->ndisc; i++) {
    int64_t kid = mm->disc[i].id, id = slot_of(kid), delay;
    xunit *u = &mm->u[id];
    u->status = MS_ACCT_PENDING;
    u->skipped = 0;
    u->discovered = t;
    snap(mm, u); /* as a one-market account is touched when found (accounts.h): the same rounding */
    const xdraw *same = mm->twin ? path_draw(mm, id, u->ndisc) : NULL;
    if (same) ms_keeper_set_next_draw(e->kp, same->d);
    ms_status s = ms_keeper_discover(e->kp, kid, t, mm->kq, &delay);
    if (s) return s;
    if (!mm->twin && e->cfg->stats.contagion) {
      if (ms_grow((void **)&mm->draws, &mm->capdraws, mm->ndraws + 1, sizeof *mm->draws)) return MS_ERR_NOMEM;
      mm->draws[mm->ndraws++] = (xdraw){id, u->ndisc, ms_keeper_last_draw(e->kp)};
    }
    u->ndisc++;
  }
  int64_t pend = ms_keeper_pending(e->kp);
  if (!mm->twin && pend > e->sum->max_pending) e->sum->max_pending = pend;
  return MS_OK;
}

/* The units of heap @p h whose key @p probe reached. */
static ms_status pop_heap(ms_multi *mm, xheap *h, double probe) {
  /* the entries first, each unit's line asked for as it leaves the heap, then the units: at a million units
   * each is a cache miss, and these overlap */
  size_t n = 0;
  while (h->n > 0 && h->k[0] <= probe) {
    if (n == mm->cappop) {
      size_t cap = mm->cappop ? 2 * mm->cappop : 256;
      xval *v = realloc(mm->popped, cap * sizeof *v);
      if (!v) return MS_ERR_NOMEM;
      mm->popped = v;
      mm->cappop = cap;
    }
    mm->popped[n++] = h->v[0];
    __builtin_prefetch(&mm->u[h->v[0].unit]);
    heap_pop(h);
  }
  for (size_t i = 0; i < n; i++) {
    const xval x = mm->popped[i];
    const xunit *u = &mm->u[x.unit];
    if (x.ver != u->ver || u->status != MS_ACCT_OPEN) continue;
    if (push_cand(mm, x.unit)) return MS_ERR_NOMEM;
  }
  return MS_OK;
}

/* The units of ladder @p l whose key @p probe reached: taken TAKE_BATCH at a time, each unit's line asked for, then
 * the units looked at (as pop_heap). The batches keep the buffer small where a crash crosses half the book's bounds
 * at once (16 bytes an entry, per thread), and the lines asked for still in the cache when they are read. */
enum { TAKE_BATCH = 4096 };

static ms_status pop_ladder(ms_multi *mm, ms_ladder *l, double probe) {
  int more;
  do {
    size_t n = 0;
    more = ms_ladder_take(l, probe, TAKE_BATCH, &mm->taken, &n, &mm->captaken);
    if (more < 0) return MS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) __builtin_prefetch(&mm->u[mm->taken[i].a]);
    for (size_t i = 0; i < n; i++) {
      const ms_ladder_ent *x = &mm->taken[i];
      const xunit *u = &mm->u[x->a];
      if (x->b != u->ver || u->status != MS_ACCT_OPEN) continue;
      if (push_cand(mm, x->a)) return MS_ERR_NOMEM;
    }
  } while (more);
  return MS_OK;
}

/* The candidates of market @p k's ladder of @p side whose bound its coordinate now reached. */
static ms_status pop_crossed(ms_multi *mm, xmarket *k, int side) {
  double X = coord(k, side, oracle_price(k));
  return pop_ladder(mm, &k->h[side], side == SIDE_LONG ? -X : X);
}

/* The units holding live legs in a market whose regime switched since the last look, and whose keys are older
 * than that switch (vep): its new volatility reprices their options, their bands are of the old one. */
static ms_status moved_units(ms_multi *mm, int64_t t) {
  for (int64_t i = 0; i < mm->nou; i++) {
    const int64_t id = mm->ou[i];
    const xunit *u = &mm->u[id];
    if (u->status != MS_ACCT_OPEN || u->queued) continue;
    for (int32_t q = u->first; q < u->first + u->n; q++) {
      const int j = mm->p[q].market;
      const uint32_t ep = mm->moved[j];
      if (!ep || u->vep >= ep || !live_legs(mm, &mm->p[q])) continue;
      /* a regime's band of this keying (band_again); after a ratio update none holds: a check */
      int kept = mm->rmoved[j] && u->vep < mm->rmoved[j] ? 0 : band_again(mm, id, q, t);
      if (kept < 0) return MS_ERR_NOMEM;
      if (!kept) {
        if (push_cand(mm, id)) return MS_ERR_NOMEM;
        break;
      }
    }
  }
  memset(mm->moved, 0, sizeof mm->moved);
  memset(mm->rmoved, 0, sizeof mm->rmoved);
  mm->nmoved = 0;
  return MS_OK;
}

/* Option positions' bands in time, at every check (of the path itself: its naive count): the units whose band
 * ran out by @p t, and those a regime switch since the last check repriced. */
static ms_status pop_options(ms_multi *mm, int64_t t) {
  if (mm->nou == 0 || mm->bruteforce) return MS_OK;
  ms_status s = pop_heap(mm, &mm->th, (double)t);
  return s || !mm->nmoved ? s : moved_units(mm, t);
}

static ms_status push_options(ms_engine *e, ms_multi *mm, int64_t t) {
  if (mm->nou > 0 && !mm->twin) e->sum->option_revaluations_naive += mm->open_options;
  return pop_options(mm, t);
}

/* Market @p k's options were repriced (a regime switch, a ratio update): its option units whose keys are older are
 * looked at at the next check (moved_units). A path that reaches 2^32 of these starts the epochs again: every unit
 * as if last changed before them all, so the marks still pending take them all (more checks, none missed). */
static void options_repriced(ms_multi *mm, xmarket *k, int ratio) {
  if (mm->epoch == UINT32_MAX) {
    for (int64_t i = 0; i < mm->nu; i++) mm->u[i].vep = 0;
    for (int j = 0; j < mm->K; j++) {
      if (mm->moved[j]) mm->moved[j] = 1;
      if (mm->rmoved[j]) mm->rmoved[j] = 1;
    }
    mm->epoch = 1;
  }
  mm->moved[k - mm->m] = ++mm->epoch;
  if (ratio) mm->rmoved[k - mm->m] = mm->epoch;
  mm->nmoved = 1;
}

/* Market @p k's regime switched (@p vol_before: its volatility before): a new volatility reprices its options.
 * Marked here and looked at once per check, not once per switch: under regimes of seconds there are thousands
 * of switches between two checks. */
static void regime_moved(ms_multi *mm, xmarket *k, double vol_before) {
  if (mm->nou == 0 || mm->bruteforce || ms_pricepath_vol(k->pp) == vol_before) return;
  options_repriced(mm, k, 0);
}

/* An entry of its unit's current keys. */
static int entry_live(const void *ctx, xval v) {
  const xunit *u = &((const ms_multi *)ctx)->u[v.unit];
  return v.ver == u->ver && u->status == MS_ACCT_OPEN;
}

static int bound_live(const void *ctx, const ms_ladder_ent *e) { return entry_live(ctx, (xval){e->a, e->b}); }

/* Drop the stale entries of every heap (a unit's keys of before its last check or change, a closed or pending
 * unit's): no unit is checked for it, so it changes neither a result nor a work counter. */
static void tidy(ms_multi *mm) {
  for (int i = 0; i < mm->K; i++) {
    xmarket *k = &mm->m[i];
    xheap *hs[4] = {&k->oh[0], &k->oh[1], &k->osh[0], &k->osh[1]};
    for (int j = 0; j < 4; j++) heap_filter(hs[j], entry_live, mm);
    ms_ladder_filter(&k->h[0], bound_live, mm);
    ms_ladder_filter(&k->h[1], bound_live, mm);
  }
  heap_filter(&mm->th, entry_live, mm);
}

/* Check the candidates, then drop the heaps' stale entries (of units checked again or closed) when they pass
 * four times the live ones. */
static ms_status check_and_tidy(ms_engine *e, ms_multi *mm, int64_t t) {
  ms_status s = check_candidates(e, mm, t);
  size_t total = mm->th.n;
  for (int i = 0; i < mm->K; i++) {
    const xmarket *k = &mm->m[i];
    total += k->h[0].n + k->h[1].n + k->oh[0].n + k->oh[1].n + k->osh[0].n + k->osh[1].n;
  }
  if (!s && (int64_t)total > 4 * mm->live_entries + 4096) tidy(mm);
  return s;
}

static ms_status all_open(ms_engine *e, ms_multi *mm, int64_t t) {
  mm->ncand = 0;
  for (int64_t id = 0; id < mm->nu; id++)
    if (mm->u[id].status == MS_ACCT_OPEN && push_cand(mm, id)) return MS_ERR_NOMEM;
  return check_candidates(e, mm, t);
}

/* Market @p j's oracle published: the units whose bound in it was reached. */
static ms_status discover(ms_engine *e, ms_multi *mm, int j, int64_t t) {
  if (mm->bruteforce) return push_options(e, mm, t) ? MS_ERR_NOMEM : all_open(e, mm, t);
  assert(mm->ncand == 0); /* every check empties the candidates; a queued unit is never pushed twice */
  xmarket *k = &mm->m[j];
  ms_status s = pop_crossed(mm, k, SIDE_LONG);
  if (!s) s = pop_crossed(mm, k, SIDE_SHORT);
  if (!s && mm->nou > 0) {
    double P = oracle_price(k);
    s = pop_heap(mm, &k->oh[0], -P);
    if (!s) s = pop_heap(mm, &k->oh[1], P);
  }
  if (!s) s = push_options(e, mm, t);
  return s ? s : check_and_tidy(e, mm, t);
}

/* Market @p k's maintenance ratio moved at @p t (dynamic margin): its perps' heaps are probed at their scaled
 * coordinates with the new ratio, as at a publish, and its units holding live legs, whose bands were computed
 * with the old ratio, are looked at (moved_units); then a check. */
static ms_status ratio_moved(ms_engine *e, ms_multi *mm, xmarket *k, int64_t t) {
  ms_status s = pop_crossed(mm, k, SIDE_LONG);
  if (!s) s = pop_crossed(mm, k, SIDE_SHORT);
  if (!s && mm->nou > 0) options_repriced(mm, k, 1);
  if (!s) s = pop_options(mm, t); /* not counted in option_revaluations_naive: a ratio's check never was */
  return s ? s : check_and_tidy(e, mm, t);
}

/* Sides of markets were charged (@p charged[j][side]): their heaps probed again. */
static ms_status sweep(ms_engine *e, ms_multi *mm, const uint8_t (*charged)[2], int64_t t) {
  if (mm->bruteforce) {
    for (size_t i = 0; i < mm->ncand; i++) mm->u[mm->cand[i]].queued = 0;
    return push_options(e, mm, t) ? MS_ERR_NOMEM : all_open(e, mm, t);
  }
  ms_status s = MS_OK;
  for (int j = 0; j < mm->K && !s; j++)
    for (int side = 0; side < 2 && !s; side++) {
      if (!charged[j][side]) continue;
      if (mm->nou > 0) s = pop_heap(mm, &mm->m[j].osh[side], mm->m[j].shift_hi[side]);
      if (s) break;
      if (side == SIDE_SHORT || !long_charges_scan(&mm->m[j])) {
        s = pop_crossed(mm, &mm->m[j], side);
        continue;
      }
      for (int64_t i = 0; i < mm->np && !s; i++) { /* no coordinate (coord): every unit holding the side */
        const xpos *p = &mm->p[i];
        if (p->market == j && p->q != 0 && ms_side_of(p->q) == side && mm->u[p->unit].status == MS_ACCT_OPEN)
          s = push_cand(mm, p->unit);
      }
    }
  if (!s) s = push_options(e, mm, t);
  return s ? s : check_and_tidy(e, mm, t);
}

static ms_status rebuild(ms_engine *e, ms_multi *mm, int64_t t) {
  for (int i = 0; i < mm->K; i++) {
    xmarket *k = &mm->m[i];
    ms_ladder_clear(&k->h[0]);
    ms_ladder_clear(&k->h[1]);
    k->oh[0].n = k->oh[1].n = k->osh[0].n = k->osh[1].n = 0;
  }
  mm->th.n = 0;
  memset(mm->moved, 0, sizeof mm->moved); /* every open unit is looked at */
  memset(mm->rmoved, 0, sizeof mm->rmoved);
  mm->nmoved = 0;
  mm->live_entries = 0;
  for (int64_t id = 0; id < mm->nu; id++) mm->u[id].nkeys = 0;
  return all_open(e, mm, t);
}

/* ---- prices ---- */

/* The mark's extremes: its lowest log, the impact's highest and lowest. */
static inline void mark_seen(xmarket *k, double lm, double imp) {
  if (lm < k->lm_min) k->lm_min = lm;
  if (imp > k->imp_hi) k->imp_hi = imp;
  if (imp < k->imp_lo) k->imp_lo = imp;
}

static inline void sync_oracle(xmarket *k) {
  k->twap = ms_oracle_samples_ticks(k->orc);
  ms_oracle_band(k->orc, &k->band_lo, &k->band_hi);
}

static inline void sync_impact(xmarket *k) { ms_market_impact_range(k->mk, &k->imp_rlo, &k->imp_rhi); }

static ms_status mark_moved(ms_engine *e, xmarket *k, int64_t t) {
  double imp = ms_market_impact_at(k->mk, t), lm = k->lp + imp;
  if (!(fabs(imp) <= e->max_log_impact)) {
    snprintf(e->why, sizeof e->why,
             "at t = %.3f s the liquidation flow's impact moved %s's mark to %.3g times its exogenous price, beyond "
             "the bound of %g either way (docs/engine.md, Money): its impact's depth (%g USD per 1%%) is far too "
             "small for this book", (double)t / 1000.0, k->cfg.market.trade, exp(imp), MS_MAX_MARK_MOVE,
             k->cfg.market.impact.depth);
    return MS_ERR_INPUT;
  }
  mark_seen(k, lm, imp);
  sync_impact(k); /* called after every fill */
  int started;
  ms_status s = ms_oracle_on_mark(k->orc, t, lm, k->lp, k->q, &started);
  sync_oracle(k);
  return s;
}

/* The exogenous price's bound (MS_MAX_PRICE_MOVE), as the one-market loop's check_price_move. */
static ms_status price_bound(ms_engine *e, xmarket *k, int64_t t) {
  if (__builtin_expect(k->lp <= k->lp_hi && k->lp >= k->lp_lo, 1)) return MS_OK;
  char keys[256];
  ms_price_path_keys(&k->cfg, ms_pricepath_regime(k->pp), keys, sizeof keys);
  snprintf(e->why, sizeof e->why,
           "at t = %.3f s %s's exogenous price reached %.3g times its initial price, beyond the bound of %g either "
           "way (docs/engine.md, Money): the drift, volatility and jumps of %s move it without limit",
           (double)t / 1000.0, k->cfg.market.trade, exp(k->lp - k->lp0), MS_MAX_PRICE_MOVE, keys);
  return MS_ERR_INPUT;
}

/* The tick at @p t of every live market; *@p started: an oracle round began (its queue changed). */
static ms_status tick(ms_engine *e, ms_multi *mm, int64_t t, int *started) {
  *started = 0;
  for (int j = 0; j < mm->K; j++) {
    xmarket *k = &mm->m[j];
    if (!k->frozen) {
      if (k->tick_pos == k->tick_n) {
        k->tick_n = ms_pricepath_fill(k->pp, t, TICK_BLOCK, k->ticks);
        k->tick_pos = 0;
        if (k->tick_n == 0) return MS_ERR_INTERNAL; /* the price model's events come first (next_event) */
      }
      k->lp = k->ticks[k->tick_pos++];
      ms_extremes_observe(&k->ext, k->lp);
      ms_status s = price_bound(e, k, t);
      if (s) return s;
    }
    int st = 0;
    ms_status s;
    if (k->twap) {
      double imp = ms_market_impact_at(k->mk, t), lm = k->lp + imp;
      mark_seen(k, lm, imp);
      s = ms_oracle_tick(k->orc, t, lm, k->lp, k->q, &st);
      sync_oracle(k);
    } else {
      /* The impact lies in [imp_rlo, imp_rhi] until the next fill, and rounding x + imp is monotone in imp:
       * when the mark's lowest value cannot set a new low and neither end can leave the band, this tick
       * changes nothing, and the impact (an exp2) is not needed. Nor can it set an extreme of the impact:
       * those start at 0 and took the fill's own value at the fill (mark_moved). */
      const double lo = k->band_lo, hi = k->band_hi, a = k->lp + k->imp_rlo, b = k->lp + k->imp_rhi;
      if (a >= k->lm_min && a >= lo && b <= hi) continue;
      double imp = ms_market_impact_at(k->mk, t), lm = k->lp + imp;
      mark_seen(k, lm, imp);
      s = MS_OK;
      if (lm < lo || lm > hi) {
        s = ms_oracle_on_mark(k->orc, t, lm, k->lp, k->q, &st);
        sync_oracle(k);
      }
    }
    if (s) return s;
    *started |= st;
  }
  return MS_OK;
}

/* ---- liquidation ---- */

static int adl_touch(ms_multi *mm, int64_t id);

static ms_status unit_reopen(ms_multi *mm, int64_t id, int64_t t) {
  xunit *u = &mm->u[id];
  u->status = MS_ACCT_OPEN;
  bump(mm, u);
  if (adl_touch(mm, id)) return MS_ERR_NOMEM;
  double eq, req, credit, size;
  unit_standing(mm, u, 0, t, &eq, &req, &credit, &size);
  if (mm->bruteforce) return MS_OK;
  return rekey(mm, id, eq - req, size, t) ? MS_ERR_NOMEM : MS_OK;
}

/* Charge @p residual (USD) to the profitable side of market @p k, up to its profit (as ms_shortfall_socialize). */
static double socialize(ms_multi *mm, xmarket *k, double residual, double *uncovered, uint8_t (*charged)[2]) {
  double po = oracle_price(k);
  int prof = po > k->E ? SIDE_LONG : po < k->E ? SIDE_SHORT : -1;
  double per_unit = 0.0, unc = residual;
  if (prof >= 0)
    ms_socialize_split(residual, k->open_qty[prof], fmax(0.0, fabs(po - k->E) - k->soc[prof]), &per_unit, &unc);
  if (prof >= 0 && per_unit > 0) {
    k->shift[prof] += per_unit;
    mm->adl_dirty = 1; /* the side's units' ADL keys moved */
    k->shift_hi[prof] += per_unit;
    k->soc[prof] += per_unit;
    charged[k - mm->m][prof] = 1;
  }
  *uncovered = unc;
  return residual - unc;
}

/* ADL (liquidation.shortfall adl) in market @p k: close @p qty units of
 * the side @p side (the bankrupt position's opposite) at @p pb, taking the
 * open units holding it in order of their effective collateral per unit
 * of gross notional at entry, the lowest (the most leveraged) first, then
 * position; as ms_shortfall_adl ranks one-market accounts (per-unit
 * collateral, lowest first). The ranking is the market's heap of the side
 * (adl_push_unit, adl_touch; the brute-force twin scans and sorts per call).
 * Counterparties are closed or reduced off the market (no flow) and checked
 * again. Returns the units no one took in *@p unmatched. */
typedef struct adl_cand {
  double key;
  int64_t pos;
} adl_cand;

static int adl_cmp(const void *a, const void *b) {
  const adl_cand *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The ranking's order: (key, position), a total order (adl_cmp's). */
static int adl_push(xheap *h, xent e) { return heap_push_by(h, e, 1); }
static void adl_pop(xheap *h) { heap_pop_by(h, 1); }

/* Unit @p id's positions into the ranking, at its key now (an open unit). */
static int adl_push_unit(ms_multi *mm, int64_t id) {
  const xunit *u = &mm->u[id];
  double g = 0;
  for (int32_t q = u->first; q < u->first + u->n; q++)
    if (mm->p[q].q != 0) g += fabs(mm->p[q].q) * mm->m[mm->p[q].market].E;
  double key = unit_cash(mm, u) / g;
  for (int32_t q = u->first; q < u->first + u->n; q++) {
    const xpos *p = &mm->p[q];
    if (p->q == 0) continue;
    /* by the book's position number: the ranking's ties (deleverage takes its slot) */
    if (adl_push(&mm->adlh[p->market][ms_side_of(p->q)], (xent){key, p->pub, u->kver})) return -1;
    mm->adl_entries++;
  }
  return 0;
}

static int adl_rebuild(ms_multi *mm) {
  for (int j = 0; j < mm->K; j++) mm->adlh[j][0].n = mm->adlh[j][1].n = 0;
  mm->adl_entries = 0;
  mm->adl_dirty = 0;
  for (int64_t id = 0; id < mm->nu; id++)
    if (mm->u[id].status == MS_ACCT_OPEN && adl_push_unit(mm, id)) return -1;
  return 0;
}

/* Unit @p id's cash or positions changed, or it is open again: its ranking entries of before are stale, and an
 * open unit enters at its new key. Stale entries past four times the positions: a rebuild at the next ADL. */
static int adl_touch(ms_multi *mm, int64_t id) {
  if (!mm->adl_on) return 0;
  mm->u[id].kver++;
  if (mm->adl_dirty || mm->bruteforce || mm->u[id].status != MS_ACCT_OPEN) return 0;
  if (mm->adl_entries > 4 * (size_t)mm->np + 4096) {
    mm->adl_dirty = 1;
    return 0;
  }
  return adl_push_unit(mm, id);
}

/* The brute-force twin's ranking: a scan of the market's positions and a sort, per call. */
static ms_status adl_scan(ms_multi *mm, int j, int side, size_t *n) {
  *n = 0;
  for (int64_t i = 0; i < mm->np; i++) {
    const xpos *p = &mm->p[i];
    if (p->market != j || p->q == 0 || ms_side_of(p->q) != side || mm->u[p->unit].status != MS_ACCT_OPEN) continue;
    if (ms_grow(&mm->adl, &mm->capadl, *n + 1, sizeof(adl_cand))) return MS_ERR_NOMEM;
    const xunit *u = &mm->u[p->unit];
    double g = 0;
    for (int32_t q = u->first; q < u->first + u->n; q++)
      if (mm->p[q].q != 0) g += fabs(mm->p[q].q) * mm->m[mm->p[q].market].E;
    ((adl_cand *)mm->adl)[(*n)++] = (adl_cand){unit_cash(mm, u) / g, (int64_t)p->pub << 32 | i}; /* ties: book order */
  }
  qsort(mm->adl, *n, sizeof(adl_cand), adl_cmp); /* a total order: (key, position) */
  return MS_OK;
}

static ms_status deleverage(ms_engine *e, ms_multi *mm, xmarket *k, int side, double qty, double pb, double pm,
                            double *unmatched) {
  const int j = (int)(k - mm->m);
  size_t n = 0, next = 0;
  xheap *h = &mm->adlh[j][side];
  if (mm->bruteforce) {
    if (adl_scan(mm, j, side, &n)) return MS_ERR_NOMEM;
  } else if (mm->adl_dirty && adl_rebuild(mm)) {
    return MS_ERR_NOMEM;
  }
  double left = qty;
  while (left > 0) {
    int64_t pos;
    if (mm->bruteforce) {
      if (next == n) break;
      pos = slot_of(((const adl_cand *)mm->adl)[next++].pos);
    } else {
      if (h->n == 0) break;
      xent x = heap_top(h);
      adl_pop(h);
      mm->adl_entries--;
      pos = mm->pslot[x.unit];
      const xpos *c = &mm->p[pos];
      const xunit *cu = &mm->u[c->unit];
      if (x.ver != cu->kver || cu->status != MS_ACCT_OPEN || c->q == 0 || ms_side_of(c->q) != side) continue;
    }
    xpos *p = &mm->p[pos];
    xunit *u = &mm->u[p->unit];
    double s = p->q > 0 ? 1.0 : -1.0, a = fabs(p->q), y = a < left ? a : left;
    double realized = s * y * (pb - k->E);
    snap(mm, u);
    u->C += realized;
    mm->realized += realized;
    k->open_qty[side] -= y;
    if (!mm->twin) {
      e->sum->adl_notional += y * pb;
      e->sum->adl_loss += y * fabs(pb - pm);
    }
    left -= y;
    p->q = y >= a ? 0.0 : p->q - s * y;
    int open = unit_holds(mm, u);
    bump(mm, u);
    if (!open) {
      close_unit(mm, u, u->C);
    } else if (push_cand(mm, p->unit) || adl_touch(mm, p->unit)) { /* checked again once the liquidation is done */
      return MS_ERR_NOMEM;
    }
  }
  *unmatched = left > 0 ? left : 0.0;
  return MS_OK;
}

/* What keepers would close of unit @p u at @p t: per position in @p order
 * (worst first), the units closed; full mode closes all; partial mode
 * closes whole positions, worst first, until what is left covers its
 * initial margin at the oracle (after the penalty so far), and a unit of
 * one position closes the least fraction that does so, as a one-market
 * account does (ms_liq_compute). */
static void close_plan(const ms_engine *e, const ms_multi *mm, const int32_t *order, int n, const double *pm, double C,
                       double *closed) {
  const ms_liquidation_cfg *lc = &e->cfg->liquidation;
  for (int k = 0; k < n; k++) closed[k] = fabs(mm->p[order[k]].q);
  if (lc->mode != MS_LIQ_PARTIAL) return;
  if (n == 1) {
    const xpos *p = &mm->p[order[0]];
    const xmarket *k = &mm->m[p->market];
    ms_liq_outcome o;
    ms_liq_compute(lc, k->mg, C, p->q, k->E, pm[0], oracle_price(k), &o);
    closed[0] = o.close_qty;
    return;
  }
  double cash = C, pen = 0;
  for (int k = 0; k < n - 1; k++) {
    const xpos *p = &mm->p[order[k]];
    cash += p->q * (pm[k] - mm->m[p->market].E);
    pen += lc->penalty * fabs(p->q) * pm[k];
    double eq = cash - pen, im = 0;
    for (int i = k + 1; i < n; i++) {
      const xpos *r = &mm->p[order[i]];
      const xmarket *m = &mm->m[r->market];
      eq += r->q * (oracle_price(m) - m->E);
      im += ms_margin_perp_im(m->mg, r->q, oracle_price(m));
    }
    if (eq >= im) {
      for (int i = k + 1; i < n; i++) closed[i] = 0;
      return;
    }
  }
}

/* A unit's closes bring @p cash (USD, its collateral and the fills' PnL) against a penalty of @p pen:
 * partly closed (@p full 0), the penalty in full and the rest its collateral; closed, the penalty up to what
 * is left, or the shortfall as bad debt (as ms_liq_compute). */
static void split_penalty(int full, double cash, double pen, double *penalty, double *bad, double *left) {
  if (!full) {
    *penalty = pen;
    *left = cash - pen;
  } else if (cash >= 0) {
    *penalty = pen < cash ? pen : cash;
    *left = cash - *penalty;
  } else {
    *penalty = 0;
    *bad = -cash;
    *left = 0;
  }
}

/* The money of keeper action on unit @p id at @p t with @p penalty and @p bad debt: 1 (*@p st the status)
 * when the keeper's reward does not pay the gas (the unit waits for the next block); else 0, the fund paid
 * its part of the bad debt and took its fee, the summary booked, *@p impact_triggered (the unit not eligible
 * at the oracle's exogenous observations) and the *@p residual bad debt past the fund. */
static int unit_money(ms_engine *e, ms_multi *mm, int64_t id, int64_t seq, int64_t t, double penalty, double bad,
                      int *impact_triggered, double *residual, ms_status *st) {
  xunit *u = &mm->u[id];
  const ms_liquidation_cfg *lc = &e->cfg->liquidation;
  double reward = lc->keeper_share * penalty, fee = penalty - reward, gas = ms_keeper_gas_cost(e->kp);
  if (gas > 0 && reward < gas) { /* unprofitable: the keepers look again at the next block */
    if (!u->skipped) {
      u->skipped = 1;
      if (!mm->twin) e->sum->skipped_unprofitable++;
    }
    *st = ms_keeper_defer(e->kp, kid_of(mm, id), seq, t, 0.0, 0.0, 0, INFINITY, mm->kq);
    return 1;
  }
  double eqx, reqx, cx, sx;
  unit_standing(mm, u, 1, t, &eqx, &reqx, &cx, &sx);
  *impact_triggered = !(eqx < reqx - cx);
  double fund_paid = bad > 0 ? ms_fund_pays(e->fund, bad) : 0.0;
  *residual = bad - fund_paid;
  e->fund += fee - fund_paid;
  ms_path_summary *sm = e->sum;
  if (!mm->twin) {
    sm->penalties += penalty;
    sm->keeper_rewards += reward;
    sm->bad_debt += bad;
    sm->insurance_paid += fund_paid;
    if (e->fund < sm->insurance_min) sm->insurance_min = e->fund;
    if (isnan(sm->first_liquidation_time)) sm->first_liquidation_time = (double)t / 1000.0;
  }
  return 0;
}

/* The end of a keeper's action on unit @p id (@p s: how its fills went): the shortfall's columns, a partly
 * closed unit open again with @p left as its cash, the keeper done; then the units whose collateral the
 * charges moved (@p charged) looked at again, and ADL's counterparties (@p recheck: among the candidates). */
static ms_status unit_done(ms_engine *e, ms_multi *mm, int64_t id, int64_t t, int in_block, ms_status s, int full,
                           double left, double residual, double socialized, double uncovered,
                           uint8_t (*charged)[2], int recheck) {
  if (residual > 0 && !mm->twin) {
    e->sum->insolvent = 1;
    e->sum->socialized_loss += socialized;
    e->sum->uncovered_loss += uncovered;
  }
  if (!s && !full) { /* what is left stays open, with its cash as effective now */
    set_cash(mm, &mm->u[id], left);
    s = unit_reopen(mm, id, t);
  }
  if (s) return s;
  if (in_block) ms_keeper_block_used(e->kp);
  ms_keeper_resolved(e->kp);
  return socialized > 0 || recheck ? sweep(e, mm, (const uint8_t (*)[2])charged, t) : MS_OK;
}

/* The generation of the records of a liquidation of the unit holding the
 * @p n positions @p order at @p t, impact-triggered or not: its markets'
 * oracle prices, as its check saw them, had seen only their own markets'
 * fills (docs/engine.md, Cascades). */
static int32_t unit_generation(ms_engine *e, const ms_multi *mm, const int32_t *order, int n, int64_t t,
                               int impact_triggered) {
  if (!impact_triggered || mm->twin) return 0;
  int32_t market[MS_MAX_ASSETS];
  int64_t obs[MS_MAX_ASSETS];
  for (int k = 0; k < n; k++) {
    market[k] = mm->p[order[k]].market;
    obs[k] = ms_oracle_current(mm->m[market[k]].orc)->t_obs;
  }
  return 1 + ms_cascades_unit_seen(&e->casc, t, n, market, obs);
}

/* A keeper acts on eligible unit @p id, which holds option legs. One
 * position: as a one-market option account (ms_liq_compute_pos; partial
 * mode closes legs and perp riskiest first), the same numbers bit for bit.
 * Several: whole positions, the worst first (the largest loss against
 * entry at the oracle: perp PnL and legs against their premiums), all of
 * them in full mode, in partial mode until what is left covers its initial
 * margin at the oracle after the penalty so far. Options close at their
 * model value at their market's mark, worsened by liquidation.option_spread;
 * the residual of a bad debt is socialized per market by loss (ADL
 * deleverages perps: an option account's remainder is socialized in the
 * one-market engine too). One record per position closed (side 0). */
static ms_status act_legs(ms_engine *e, ms_multi *mm, int64_t id, int64_t seq, int64_t t, int in_block) {
  xunit *u = &mm->u[id];
  const ms_liquidation_cfg *lc = &e->cfg->liquidation;
  const int move = e->cfg->market.impact.options;
  int32_t order[MS_MAX_ASSETS];
  double pnl[MS_MAX_ASSETS];
  int n = 0;
  for (int32_t i = u->first; i < u->first + u->n; i++) {
    const xpos *p = &mm->p[i];
    if (p->q == 0 && !live_legs(mm, p)) continue;
    const xmarket *k = &mm->m[p->market];
    ms_position ps;
    pos_of(mm, p, 0.0, &ps);
    ms_view v = view_of(k, oracle_price(k), t);
    double val = ms_margin_pos_equity(k->mg, &ps, k->E, &v);
    for (int l = 0; l < ps.nlegs; l++) val -= ps.legs[l].q * ps.legs[l].v0;
    worst_first(mm, order, pnl, &n, i, val);
  }
  double C = unit_cash(mm, u), pm[MS_MAX_ASSETS];
  ms_liq_pos_outcome o[MS_MAX_ASSETS];
  ms_view orc[MS_MAX_ASSETS];
  for (int k = 0; k < n; k++) {
    const xmarket *mk = &mm->m[mm->p[order[k]].market];
    pm[k] = mark_at(mk, t);
    orc[k] = view_of(mk, oracle_price(mk), t);
  }
  int nclosed, full;
  double penalty, bad = 0, left, pen = 0;
  if (n == 1) {
    const xpos *p = &mm->p[order[0]];
    const xmarket *mk = &mm->m[p->market];
    ms_position ps;
    pos_of(mm, p, C, &ps);
    ms_view fill = view_of(mk, pm[0], t);
    ms_liq_compute_pos(lc, mk->mg, &ps, mk->E, &fill, &orc[0], move, &o[0]);
    nclosed = 1;
    full = o[0].full;
    penalty = pen = o[0].penalty;
    bad = o[0].bad_debt;
    left = o[0].new_cash;
  } else {
    ms_liquidation_cfg whole = *lc;
    whole.mode = MS_LIQ_FULL;
    for (int k = 0; k < n; k++) {
      const xpos *p = &mm->p[order[k]];
      const xmarket *mk = &mm->m[p->market];
      ms_position ps;
      pos_of(mm, p, 0.0, &ps);
      ms_view fill = view_of(mk, pm[k], t);
      ms_liq_compute_pos(&whole, mk->mg, &ps, mk->E, &fill, &orc[k], move, &o[k]);
    }
    double cash = C;
    for (nclosed = 0; nclosed < n;) {
      cash += o[nclosed].cash_in;
      pen += lc->penalty * o[nclosed].notional;
      nclosed++;
      if (lc->mode != MS_LIQ_PARTIAL || nclosed == n) continue;
      double eq = cash - pen, im = 0; /* what is left at the oracle */
      for (int i = nclosed; i < n; i++) {
        const xpos *r = &mm->p[order[i]];
        const xmarket *mk = &mm->m[r->market];
        ms_position ps;
        pos_of(mm, r, 0.0, &ps);
        eq += ms_margin_pos_equity(mk->mg, &ps, mk->E, &orc[i]);
        im += ms_margin_pos_im(mk->mg, &ps, mk->E, &orc[i]);
      }
      if (eq >= im) break;
    }
    full = nclosed == n;
    split_penalty(full, cash, pen, &penalty, &bad, &left);
  }
  int impact_triggered;
  double residual;
  ms_status st;
  if (unit_money(e, mm, id, seq, t, penalty, bad, &impact_triggered, &residual, &st)) return st;
  const int32_t gen = unit_generation(e, mm, order, n, t, impact_triggered);
  ms_path_summary *sm = e->sum;
  /* the closed units leave every market before a charge: a closed unit pays none */
  double tot_loss = 0, notional = 0;
  for (int k = 0; k < nclosed; k++) {
    xpos *p = &mm->p[order[k]];
    if (p->q != 0) mm->m[p->market].open_qty[ms_side_of(p->q)] -= o[k].perp_closed;
    mm->realized += o[k].cash_in;
    tot_loss += o[k].realized < 0 ? -o[k].realized : 0;
    notional += o[k].notional;
  }
  if (full) close_unit(mm, u, left);
  double socialized = 0, uncovered = 0;
  uint8_t charged[MS_MAX_ASSETS][2] = {{0}};
  ms_status s = MS_OK;
  for (int k = 0; k < nclosed && !s; k++) {
    xpos *p = &mm->p[order[k]];
    xmarket *mk = &mm->m[p->market];
    const ms_oracle_price *op = ms_oracle_current(mk->orc);
    double lossk = o[k].realized < 0 ? -o[k].realized : 0;
    double share = tot_loss > 0 ? lossk / tot_loss : notional > 0 ? o[k].notional / notional : 1.0 / nclosed;
    double penk = n == 1 ? pen : lc->penalty * o[k].notional;
    mm->liq[order[k]] = 1;
    if (residual > 0) {
      double unc;
      socialized += socialize(mm, mk, residual * share, &unc, charged);
      uncovered += unc;
    }
    /* the position: its perp and the legs closed (bit k of legs_closed: its k-th live leg) */
    double *lq = p->opt >= 0 ? &mm->lq[(int64_t)p->opt * MS_MAX_LEGS] : NULL;
    for (int l = 0, b = 0; lq && l < mm->bo[p->opt].nlegs; l++) {
      if (lq[l] == 0) continue;
      if (o[k].legs_closed & (1 << b)) lq[l] = 0;
      b++;
    }
    p->q = n == 1 ? o[k].new_q : 0.0;
    int whole = n == 1 ? full : p->q == 0 && !live_legs(mm, p);
    if (!mm->twin) {
      int j = p->market;
      sm->liquidations++;
      sm->partial_liquidations += !whole;
      sm->impact_triggered_liquidations += impact_triggered;
      sm->liquidated_notional += o[k].notional;
      sm->options_liquidated_notional += o[k].opt_notional;
      sm->mkt_liquidations[j]++;
      sm->mkt_liquidated_notional[j] += o[k].notional;
      sm->mkt_bad_debt[j] += bad * share;
      /* account: the position, a row of /book (ms_record_liquidation_markets) */
      ms_liq_record r = {.path = e->path, .time = t, .obs_time = op->t_obs, .account = mm->p[order[k]].pub, .side = 0,
                         .full = n == 1 ? full : whole, .oracle_price = op->price, .exog_oracle_price = op->exog,
                         .mark_price = pm[k], .qty = o[k].perp_closed + o[k].opt_closed,
                         .notional = o[k].notional, .bad_debt = bad * share,
                         .penalty = pen > 0 ? penalty * (penk / pen) : 0, .impact_triggered = impact_triggered,
                         .delay = (double)(t - u->discovered) / 1000.0};
      s = ms_eng_record_market(e, &r, j, gen);
      e->liq_since_sample++;
    }
    if (!s) {
      if (mk->fnd) ms_funding_accrue(mk->fnd, mk->mk, t); /* the premium samples the old flow made */
      ms_market_fill(mk->mk, t, o[k].flow);
      s = mark_moved(e, mk, t);
    }
  }
  if (full || !unit_has_legs(mm, u)) mm->open_options--;
  return unit_done(e, mm, id, t, in_block, s, full, left, residual, socialized, uncovered, charged, 0);
}

/* A keeper acts on unit @p kid (kid_of). */
static ms_status act(ms_engine *e, ms_multi *mm, int64_t kid, int64_t seq, int64_t t, int in_block) {
  const int64_t id = slot_of(kid);
  xunit *u = &mm->u[id];
  if (u->status != MS_ACCT_PENDING) return MS_OK;
  double eq, req, credit, size;
  unit_standing(mm, u, 0, t, &eq, &req, &credit, &size);
  if (!mm->twin && mm->nou > 0 && unit_has_legs(mm, u)) e->sum->option_revaluations++;
  if (!(eq < req - credit)) { /* recovered before the keeper came */
    if (!mm->twin) e->sum->recovered++;
    ms_keeper_resolved(e->kp);
    return unit_reopen(mm, id, t);
  }
  if (mm->nou > 0 && unit_has_legs(mm, u)) return act_legs(e, mm, id, seq, t, in_block);
  /* the worst position first: the largest loss at the oracle (ties: market order) */
  int32_t order[MS_MAX_ASSETS];
  double pnl[MS_MAX_ASSETS];
  int n = 0;
  for (int32_t i = u->first; i < u->first + u->n; i++) {
    const xpos *p = &mm->p[i];
    if (p->q == 0) continue;
    const xmarket *k = &mm->m[p->market];
    worst_first(mm, order, pnl, &n, i, p->q * (oracle_price(k) - k->E));
  }
  const ms_liquidation_cfg *lc = &e->cfg->liquidation;
  double C = unit_cash(mm, u), pm[MS_MAX_ASSETS], closed[MS_MAX_ASSETS], loss[MS_MAX_ASSETS], penk[MS_MAX_ASSETS];
  for (int k = 0; k < n; k++) {
    pm[k] = mark_at(&mm->m[mm->p[order[k]].market], t);
  }
  close_plan(e, mm, order, n, pm, C, closed);
  /* the arithmetic of a one-market account (ms_liq_compute), term for term: one position gives its numbers */
  double cash = C, notional = 0, tot_loss = 0, pen = 0;
  int full = 1;
  for (int k = 0; k < n; k++) {
    const xpos *p = &mm->p[order[k]];
    double s = p->q > 0 ? 1.0 : -1.0, r = s * closed[k] * (pm[k] - mm->m[p->market].E);
    cash += r;
    notional += closed[k] * pm[k];
    penk[k] = lc->penalty * closed[k] * pm[k];
    pen += penk[k];
    loss[k] = r < 0 ? -r : 0;
    tot_loss += loss[k];
    full &= closed[k] >= fabs(p->q);
  }
  double penalty, bad = 0, left;
  split_penalty(full, cash, pen, &penalty, &bad, &left);
  int impact_triggered;
  double residual;
  ms_status st;
  if (unit_money(e, mm, id, seq, t, penalty, bad, &impact_triggered, &residual, &st)) return st;
  const int32_t gen = unit_generation(e, mm, order, n, t, impact_triggered);
  ms_path_summary *sm = e->sum;
  /* the closed units leave every market before a charge: a closed unit pays none */
  for (int k = 0; k < n; k++) {
    const xpos *p = &mm->p[order[k]];
    double s = p->q > 0 ? 1.0 : -1.0;
    mm->m[p->market].open_qty[ms_side_of(p->q)] -= closed[k];
    mm->realized += s * closed[k] * (pm[k] - mm->m[p->market].E);
  }
  if (full) close_unit(mm, u, left);
  double socialized = 0, uncovered = 0;
  uint8_t charged[MS_MAX_ASSETS][2] = {{0}};
  ms_status s = MS_OK;
  /* ADL: the same fraction of every closed position, residual / bad debt, goes to its market's opposite side at
   * the price that moves its share of the residual (as a one-market account: its bankruptcy price) */
  const int adl = residual > 0 && lc->shortfall == &ms_shortfall_adl;
  int adl_done = 0;
  for (int k = 0; k < n && !s; k++) {
    if (closed[k] <= 0) continue;
    xpos *p = &mm->p[order[k]];
    xmarket *mk = &mm->m[p->market];
    const ms_oracle_price *op = ms_oracle_current(mk->orc);
    double a = closed[k], share = tot_loss > 0 ? loss[k] / tot_loss : a * pm[k] / notional;
    int whole = a >= fabs(p->q);
    mm->liq[order[k]] = 1; /* in part too: a liquidated position */
    double adl_qty = 0, sgn = p->q > 0 ? 1.0 : -1.0;
    if (adl) {
      double rk = residual * share, unmatched = 0;
      adl_qty = a * (residual / bad);
      if (adl_qty > 0 && rk > 0) {
        /* one position: its bankruptcy price, E - s C / a, as a one-market account's (the same number) */
        double pb = n == 1 ? mk->E - sgn * C / a : pm[k] + sgn * rk / adl_qty;
        s = deleverage(e, mm, mk, 1 - ms_side_of(p->q), adl_qty, pb, pm[k], &unmatched);
        adl_done = 1;
        if (unmatched > 0) uncovered += unmatched * fabs(pb - pm[k]); /* sold to the market after all */
        adl_qty -= unmatched;
        mm->realized += sgn * adl_qty * (pb - pm[k]); /* those units closed at pb, not at the mark */
      } else {
        adl_qty = 0;
      }
    } else if (residual > 0) {
      double unc;
      socialized += socialize(mm, mk, residual * share, &unc, charged);
      uncovered += unc;
    }
    if (!mm->twin) {
      int j = p->market;
      sm->liquidations++;
      sm->partial_liquidations += !whole;
      sm->impact_triggered_liquidations += impact_triggered;
      sm->liquidated_notional += a * pm[k];
      sm->mkt_liquidations[j]++;
      sm->mkt_liquidated_notional[j] += a * pm[k];
      sm->mkt_bad_debt[j] += bad * share;
      /* account: the position, a row of /book (ms_record_liquidation_markets) */
      ms_liq_record r = {.path = e->path, .time = t, .obs_time = op->t_obs, .account = p->pub,
                         .side = p->q > 0 ? 1 : -1, .full = whole, .oracle_price = op->price,
                         .exog_oracle_price = op->exog, .mark_price = pm[k], .qty = a, .notional = a * pm[k],
                         .bad_debt = bad * share, .penalty = pen > 0 ? penalty * (penk[k] / pen) : 0,
                         .adl_qty = adl_qty,
                         .impact_triggered = impact_triggered, .delay = (double)(t - u->discovered) / 1000.0};
      s = ms_eng_record_market(e, &r, j, gen);
      e->liq_since_sample++;
    }
    double flow = -sgn * (a - adl_qty) * pm[k]; /* the ADL'd units do not go through the market */
    p->q = whole ? 0 : p->q - (p->q > 0 ? a : -a);
    if (!s) {
      if (mk->fnd) ms_funding_accrue(mk->fnd, mk->mk, t); /* the premium samples the old flow made */
      ms_market_fill(mk->mk, t, flow);
      s = mark_moved(e, mk, t);
    }
  }
  return unit_done(e, mm, id, t, in_block, s, full, left, residual, socialized, uncovered, charged, adl_done);
}

/* ---- expiry ---- */

/* Unit @p u, which a settlement in market @p k left holding nothing, owes @p deficit (USD > 0): bad debt at
 * once, through the fund, then socialized in @p k (charges in @p charged), as an option position's residual
 * is; in the market's bad_debt_ column, and apart in settlement_bad_debt (no fill, no record). */
static void settle_deficit(ms_engine *e, ms_multi *mm, xmarket *k, double deficit, uint8_t (*charged)[2]) {
  double paid = ms_fund_pays(e->fund, deficit), residual = deficit - paid, unc = 0, soc = 0;
  e->fund -= paid;
  if (residual > 0) soc = socialize(mm, k, residual, &unc, charged);
  if (mm->twin) return;
  ms_path_summary *sm = e->sum;
  sm->bad_debt += deficit;
  sm->settlement_bad_debt += deficit;
  sm->mkt_bad_debt[k - mm->m] += deficit;
  sm->insurance_paid += paid;
  if (e->fund < sm->insurance_min) sm->insurance_min = e->fund;
  if (residual > 0) {
    sm->insolvent = 1;
    sm->socialized_loss += soc;
    sm->uncovered_loss += unc;
  }
}

/* Market @p k's legs expiring at @p t settle at its mark, as a one-market
 * account's (expiry.c): each pays its intrinsic value into its unit's cash
 * and leaves it; a unit holding nothing closes; then a check, as at a
 * publish (the venue re-checks the accounts it changed). */
static ms_status expire(ms_engine *e, ms_multi *mm, xmarket *k, int64_t t) {
  double pm = mark_at(k, t);
  int changed = 0, socialized = 0;
  uint8_t charged[MS_MAX_ASSETS][2] = {{0}};
  ms_status s = MS_OK;
  while (k->exp_pos < k->nexp && k->exp[k->exp_pos].t == t && !s) {
    const xexp *x = &k->exp[k->exp_pos++];
    xpos *p = &mm->p[x->pos];
    xunit *u = &mm->u[p->unit];
    double *lq = &mm->lq[(int64_t)p->opt * MS_MAX_LEGS + x->leg];
    if (u->status == MS_ACCT_CLOSED || *lq == 0) continue; /* closed by a liquidation */
    double pay = ms_leg_payoff(&mm->bo[p->opt].legs[x->leg], pm);
    set_cash(mm, u, unit_cash(mm, u) + *lq * pay);
    mm->realized += *lq * pay;
    *lq = 0;
    bump(mm, u);
    if (!mm->twin) e->sum->options_expired++;
    if (!unit_has_legs(mm, u)) mm->open_options--;
    if (!unit_holds(mm, u)) { /* nothing left: the unit is done (its cash is its effective collateral) */
      if (u->status == MS_ACCT_PENDING) ms_keeper_resolved(e->kp);
      double cash = u->C;
      if (cash < 0) {
        settle_deficit(e, mm, k, -cash, charged);
        socialized = changed = 1;
        cash = 0;
      }
      close_unit(mm, u, cash);
      continue;
    }
    if (u->status == MS_ACCT_OPEN && !(s = push_cand(mm, p->unit)) && adl_touch(mm, p->unit)) s = MS_ERR_NOMEM;
    changed = 1;
  }
  if (!s && k->exp_pos < k->nexp) s = ms_queue_push(k->q, k->exp[k->exp_pos].t, MS_EV_EXPIRY, 0, 0);
  if (s || !changed) {
    for (size_t i = 0; i < mm->ncand; i++) mm->u[mm->cand[i]].queued = 0;
    mm->ncand = 0;
    return s;
  }
  if (socialized) return sweep(e, mm, (const uint8_t (*)[2])charged, t); /* the charged sides too */
  if (mm->bruteforce) {
    for (size_t i = 0; i < mm->ncand; i++) mm->u[mm->cand[i]].queued = 0;
    return push_options(e, mm, t) ? MS_ERR_NOMEM : all_open(e, mm, t);
  }
  s = push_options(e, mm, t);
  return s ? s : check_and_tidy(e, mm, t);
}

/* The legs of the book expiring inside the horizon, per market by (t, position, leg); the units holding legs. */
static int xexp_cmp(const void *a, const void *b) {
  const xexp *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
  return (x->leg > y->leg) - (x->leg < y->leg);
}

/* The units holding option legs, in slots: part of the book, lent with it. */
static void index_option_units(ms_multi *mm) {
  mm->nou = 0;
  for (int64_t i = 0; i < mm->np; i++) {
    const ms_multi_pos *p = &mm->bp[i];
    if (p->opt >= 0 && (mm->nou == 0 || mm->ou[mm->nou - 1] != mm->uslot[p->unit]))
      mm->ou[mm->nou++] = mm->uslot[p->unit];
  }
}

/* Each market's legs expiring inside @p horizon: the engine's own (its markets' lists), lent book or not. */
static ms_status index_expiries(ms_multi *mm, int64_t horizon) {
  for (int j = 0; j < mm->K; j++) mm->m[j].nexp = 0;
  for (int64_t i = 0; i < mm->np; i++) {
    const ms_multi_pos *p = &mm->bp[i];
    if (p->opt < 0) continue;
    xmarket *k = &mm->m[p->market];
    for (int l = 0; l < mm->bo[p->opt].nlegs; l++) {
      if (mm->bo[p->opt].legs[l].expiry > horizon) continue;
      if (ms_grow((void **)&k->exp, &k->capexp, k->nexp + 1, sizeof *k->exp)) return MS_ERR_NOMEM;
      k->exp[k->nexp++] = (xexp){mm->bo[p->opt].legs[l].expiry, (int32_t)i, l};
    }
  }
  for (int j = 0; j < mm->K; j++) { /* by (t, the book's position, leg), then to the positions' slots */
    xmarket *k = &mm->m[j];
    if (k->nexp > 1) qsort(k->exp, k->nexp, sizeof *k->exp, xexp_cmp);
    for (size_t i = 0; i < k->nexp; i++) k->exp[i].pos = mm->pslot[k->exp[i].pos];
  }
  return MS_OK;
}

/* A book just drawn or set: its slots (order_slots), its option units and its expiring legs (in slots). 0, or
 * -1 when out of memory. */
static int index_book(ms_multi *mm) {
  if (order_slots(mm)) return -1;
  index_option_units(mm);
  return index_expiries(mm, mm->horizon) ? -1 : 0;
}

/* ---- funding ---- */

/* Market @p k's payment at @p t: as a one-market book's (docs/engine.md, "Funding"), through its sides' shifts;
 * the paying side's heap is probed again (its collateral fell). */
static ms_status pay_funding(ms_engine *e, ms_multi *mm, xmarket *k, int64_t t) {
  ms_funding_pay pay;
  ms_funding_settle(k->fnd, k->mk, &pay);
  ms_path_summary *sm = e->sum;
  int j = (int)(k - mm->m);
  if (!mm->twin && j == e->cfg->market.trade_index) { /* the rates' columns are market.trade's asset's */
    mm->funding_payments++;
    mm->funding_rate_sum += pay.rate;
    mm->funding_last = pay.rate;
    if (!(pay.rate >= sm->funding_rate_min)) sm->funding_rate_min = pay.rate;
    if (!(pay.rate <= sm->funding_rate_max)) sm->funding_rate_max = pay.rate;
  }
  int64_t tn = ms_funding_next(k->fnd);
  ms_status s = tn != INT64_MAX ? ms_queue_push(k->q, tn, MS_EV_FUNDING, 0, 0) : MS_OK;
  if (s || pay.rate == 0) return s;
  ms_funding_flow f;
  ms_funding_flow_of(&e->cfg->funding, pay.rate, mark_at(k, t), oracle_price(k), exp(k->lp), k->open_qty, k->open0,
                     &f);
  int payer = f.payer;
  double paid = f.paid, got = f.got;
  if (f.charge > 0) {
    k->shift[payer] += f.charge;
    k->shift_hi[payer] += f.charge;
  }
  if (f.credit > 0) k->shift[1 - payer] -= f.credit;
  if (f.charge > 0 || f.credit > 0) mm->adl_dirty = 1; /* the sides' units' ADL keys moved */
  if (paid == 0 && got == 0) return MS_OK;
  mm->funding_outside += got - paid;
  if (!mm->twin) {
    sm->funding_paid += paid;
    sm->funding_long_net += payer == 0 ? -paid : got;
    sm->funding_outside += got - paid;
    sm->mkt_funding_long_net[j] += payer == 0 ? -paid : got;
  }
  uint8_t charged[MS_MAX_ASSETS][2] = {{0}};
  charged[j][payer] = 1; /* the receivers were credited: healthier, their bounds hold */
  return sweep(e, mm, (const uint8_t (*)[2])charged, t);
}

/* ---- the path ---- */

static void sample(ms_engine *e, ms_multi *mm, ms_trace *tr, int64_t k, int64_t t) {
  const xmarket *m = &mm->m[e->cfg->market.trade_index];
  tr->price[k] = exp(m->lp);
  tr->mark[k] = mark_at(m, t);
  tr->oracle[k] = oracle_price(m);
  tr->regime[k] = ms_pricepath_regime(m->pp);
  double oi = 0;
  for (int j = 0; j < mm->K; j++) oi += (mm->m[j].open_qty[0] + mm->m[j].open_qty[1]) * mark_at(&mm->m[j], t);
  tr->open_interest[k] = oi;
  tr->insurance[k] = e->fund;
  tr->liquidations[k] = e->liq_since_sample;
  tr->margin_ratio[k] = ms_margin_ratio(m->mg);
  if (tr->funding_rate) tr->funding_rate[k] = mm->funding_last;
  e->liq_since_sample = 0;
}

static ms_status start(ms_engine *e, ms_multi *mm, uint64_t path, int live, ms_error *err) {
  const ms_config *cfg = e->cfg;
  if (cfg->book.resample == MS_RESAMPLE_PER_PATH && !mm->own_book && live < 0) { /* the twins: the path's book */
    /* its initial margin at the path's start, not where the last path left a dynamic ratio */
    for (int j = 0; j < mm->K; j++) ms_margin_path_start(mm->m[j].mg, mm->m[j].E);
    ms_error berr;
    ms_status s = draw_book(mm, cfg, path, &berr);
    if (!s && index_book(mm)) s = ms_error_set(&berr, MS_ERR_NOMEM, "out of memory");
    if (s) return ms_error_set(err, s, "path %llu: %s", (unsigned long long)path, berr.msg);
  }
  ms_queue_reset(mm->kq);
  ms_keeper_start(e->kp, cfg->seed, path);
  for (int64_t i = 0; i < mm->nu; i++)
    mm->u[mm->uslot[i]] = (xunit){.C = mm->bu[i].C, .pub = (int32_t)i, .first = mm->pslot[mm->bu[i].first],
                                  .n = mm->bu[i].n, .status = MS_ACCT_OPEN};
  memset(mm->liq, 0, (size_t)mm->np);
  mm->live_entries = 0;
  mm->open_options = mm->nou;
  mm->epoch = mm->epoch0;
  memset(mm->moved, 0, sizeof mm->moved);
  memset(mm->rmoved, 0, sizeof mm->rmoved);
  if (mm->kc_tag) { /* no band of this run's keyings yet (a unit's ver starts again at 0) */
    memset(mm->kc_tag, 0, (size_t)mm->np * sizeof *mm->kc_tag);
    memset(mm->kr_tag, 0, (size_t)mm->np * (size_t)mm->nreg * sizeof *mm->kr_tag);
  }
  mm->nmoved = 0;
  mm->adl_on = cfg->liquidation.shortfall == &ms_shortfall_adl;
  mm->adl_dirty = 1; /* built at the path's first ADL */
  mm->cash_closed = 0;
  mm->realized = 0;
  mm->funding_outside = 0;
  e->fund = cfg->liquidation.insurance_fund;
  e->liq_since_sample = 0;
  e->nev = 0;
  memset(e->nkind, 0, sizeof e->nkind);
  ms_status s = MS_OK;
  for (int j = 0; j < mm->K && !s; j++) {
    xmarket *k = &mm->m[j];
    k->frozen = live >= 0 && j != live;
    ms_queue_reset(k->q);
    ms_market_reset(k->mk);
    ms_ladder_clear(&k->h[0]);
    ms_ladder_clear(&k->h[1]);
    k->shift[0] = k->shift[1] = k->soc[0] = k->soc[1] = k->shift_hi[0] = k->shift_hi[1] = 0;
    k->open_qty[0] = k->open_qty[1] = 0;
    k->tick_pos = k->tick_n = 0;
    ms_margin_path_start(k->mg, k->E);
    slopes(k);
    int64_t every = ms_margin_update_every(&k->cfg);
    if (!s && every > 0 && every <= cfg->horizon) s = ms_queue_push(k->q, every, MS_EV_MARGIN_UPDATE, 0, 0);
    /* a frozen market's model runs too (its regime switches move its funding premium's mean), but its
     * ticks are never drawn and its jumps do not move it */
    if (!s) s = ms_pricepath_start(k->pp, cfg->seed, path, k->q);
    k->lp = k->lp0 = ms_pricepath_log_price(k->pp);
    k->lp_hi = k->lp0 + log(MS_MAX_PRICE_MOVE);
    k->lp_lo = k->lp0 - log(MS_MAX_PRICE_MOVE);
    k->ext = (extremes){k->lp, k->lp, 0};
    k->lm_min = k->lp;
    k->imp_hi = k->imp_lo = 0;
    if (!s) s = ms_oracle_start(k->orc, cfg->seed, path, k->cfg.market.initial_price, k->q);
    sync_oracle(k);
    sync_impact(k);
    if (k->fnd) {
      ms_funding_start(k->fnd, cfg->seed, path, ms_pricepath_regime(k->pp));
      int64_t tf = ms_funding_next(k->fnd);
      if (!s && tf != INT64_MAX) s = ms_queue_push(k->q, tf, MS_EV_FUNDING, 0, 0);
    }
    k->exp_pos = 0;
    if (!s && k->nexp > 0) s = ms_queue_push(k->q, k->exp[0].t, MS_EV_EXPIRY, 0, 0);
  }
  for (int64_t i = 0; i < mm->nbo; i++)
    for (int l = 0; l < MS_MAX_LEGS; l++)
      mm->lq[i * MS_MAX_LEGS + l] = l < mm->bo[i].nlegs ? mm->bo[i].legs[l].q : 0.0;
  if (!mm->twin) e->sum->max_margin_ratio = ms_margin_ratio(mm->m[cfg->market.trade_index].mg);
  mm->funding_payments = 0;
  mm->funding_rate_sum = 0;
  mm->funding_last = NAN;
  for (int64_t i = 0; i < mm->np; i++) { /* in the book's order: the sums' */
    const ms_multi_pos *b = &mm->bp[i];
    mm->p[mm->pslot[i]] = (xpos){b->q, 0, b->market, mm->uslot[b->unit], b->opt, (int32_t)i};
    if (b->q != 0) mm->m[b->market].open_qty[ms_side_of(b->q)] += fabs(b->q);
  }
  for (int j = 0; j < mm->K; j++) {
    mm->m[j].open0[0] = mm->m[j].open_qty[0];
    mm->m[j].open0[1] = mm->m[j].open_qty[1];
  }
  if (!s) s = rebuild(e, mm, 0);
  if (s) return ms_error_set(err, s, "path %llu: cannot start", (unsigned long long)path);
  return MS_OK;
}

/* The next event of any queue (market queues in index order, then the
 * keepers') and where it is; 0 when none. */
static int next_event(ms_multi *mm, ms_event *ev, int *src, ms_status *st) {
  int have = 0;
  for (int j = 0; j <= mm->K; j++) {
    ms_queue *q = j < mm->K ? mm->m[j].q : mm->kq;
    ms_event x;
    if (!ms_queue_peek(q, &x, st)) {
      if (*st) return 0;
      continue;
    }
    if (!have || x.t < ev->t || (x.t == ev->t && x.kind < ev->kind)) {
      *ev = x;
      *src = j;
      have = 1;
    }
  }
  return have;
}

#define WARM_MAX 4096

/* Load the units of the keeper events in the keeper queue's front, then
 * their positions' lines (act reads both): at a million units each is a
 * cache miss, and loaded together they overlap instead of coming two in a
 * row per liquidation. A hint: it changes nothing. */
static void warm_units(const ms_multi *mm) {
  int64_t ids[WARM_MAX];
  int32_t first[WARM_MAX];
  size_t n = ms_queue_front(mm->kq, MS_EV_KEEPER_READY, ids, WARM_MAX);
  for (size_t i = 0; i < n; i++) first[i] = mm->u[slot_of(ids[i])].first;
  for (size_t i = 0; i < n; i++) {
    double q = mm->p[first[i]].q;
    __asm__ volatile("" : : "x"(q));
  }
}

/* One run of path @p path; @p live >= 0: the contagion twin of that market. */
static ms_status run(ms_engine *e, ms_multi *mm, uint64_t path, ms_trace *trace, int live, ms_error *err) {
  const ms_config *cfg = e->cfg;
  ms_status s = start(e, mm, path, live, err);
  if (s) return s;
  int64_t every = cfg->output.timeseries.every, k_sample = 0, k_fan = 0;
  int64_t nfan = !mm->twin && e->fan_price ? cfg->output.fan.points : 0;
  if (trace) {
    sample(e, mm, trace, k_sample++, 0);
    if (every <= cfg->horizon) s = ms_queue_push(mm->kq, every, MS_EV_SAMPLE, 0, 0);
  }
  if (!s && nfan > 0) s = ms_queue_push(mm->kq, 0, MS_EV_SAMPLE, 1, 0);
  int64_t t_tick = cfg->step <= cfg->horizon ? cfg->step : INT64_MAX;
  e->inst_t = -1;
  e->inst_first = 0;
  uint64_t warm_loads = ms_queue_loads(mm->kq);
  while (!s) {
    ms_event ev;
    int src = -1, have = next_event(mm, &ev, &src, &s);
    if (s) break;
    if (!have && t_tick == INT64_MAX) break;
    /* counted as the one-market loop counts, for the same work bounds (ms_eng_check_work) */
    e->nev++;
    int64_t now = have && ev.t < t_tick ? ev.t : t_tick;
    if (now != e->inst_t) {
      e->inst_t = now;
      e->inst_first = e->nev;
      memcpy(e->inst_kind, e->nkind, sizeof e->inst_kind);
    }
    if (e->nev % MS_CANCEL_CHECK_EVENTS == 0 && (s = ms_eng_check_work(e, now))) break;
    if (!have || t_tick < ev.t || (t_tick == ev.t && MS_EV_TICK < ev.kind)) {
      /* ticks up to the next event, or until an oracle round starts */
      int64_t stop = have ? ev.t : INT64_MAX;
      int started = 0;
      e->nkind[MS_EV_TICK]++;
      while (!s && !started && t_tick != INT64_MAX && (t_tick < stop || (t_tick == stop && MS_EV_TICK < ev.kind))) {
        s = tick(e, mm, t_tick, &started);
        t_tick = t_tick + cfg->step <= cfg->horizon ? t_tick + cfg->step : INT64_MAX;
      }
      continue;
    }
    ms_event x;
    ms_queue_pop(src < mm->K ? mm->m[src].q : mm->kq, &x);
    e->nkind[ev.kind]++;
    if (src < mm->K) {
      xmarket *k = &mm->m[src];
      switch ((ms_event_kind)ev.kind) {
      case MS_EV_REGIME:
      case MS_EV_JUMP: {
        double vol_before = ms_pricepath_vol(k->pp);
        int r = ms_pricepath_on_event(k->pp, &ev, k->q);
        if (r < 0) { s = MS_ERR_NOMEM; break; }
        if (k->fnd && ev.kind == MS_EV_REGIME && r != MS_PRICEPATH_STALE)
          ms_funding_regime(k->fnd, ev.t, ms_pricepath_regime(k->pp));
        if (ev.kind == MS_EV_REGIME) regime_moved(mm, k, vol_before);
        if (r == 1 && !k->frozen) {
          k->lp = ms_pricepath_log_price(k->pp);
          ms_extremes_observe(&k->ext, k->lp);
          s = price_bound(e, k, ev.t);
          if (!s) s = mark_moved(e, k, ev.t);
        }
        break;
      }
      case MS_EV_ORACLE_ROUND:
      case MS_EV_ORACLE_PUBLISH: {
        int published;
        s = ms_oracle_on_event(k->orc, &ev, k->lp + ms_market_impact_at(k->mk, ev.t), k->lp, k->q, &published);
        sync_oracle(k);
        if (!s && published) s = discover(e, mm, src, ev.t);
        break;
      }
      case MS_EV_FUNDING:
        s = pay_funding(e, mm, k, ev.t);
        break;
      case MS_EV_EXPIRY:
        s = expire(e, mm, k, ev.t);
        break;
      case MS_EV_MARGIN_UPDATE: {
        int64_t next = ev.t + ms_margin_update_every(&k->cfg);
        if (next <= cfg->horizon) s = ms_queue_push(k->q, next, MS_EV_MARGIN_UPDATE, 0, 0);
        const ms_oracle_price *op = ms_oracle_current(k->orc);
        double lo = k->slope_lo, hi = k->slope_hi;
        int rose = ms_margin_update(k->mg, op->price, op->t_obs);
        if (!mm->twin && src == cfg->market.trade_index && rose) {
          e->sum->margin_updates_up++;
          if (ms_margin_ratio(k->mg) > e->sum->max_margin_ratio) e->sum->max_margin_ratio = ms_margin_ratio(k->mg);
        }
        /* a new ratio either way: the units' prices were bounded with the old one (under dynamic margin their
         * perps' bounds hold in its scaled coordinates, which the ratio moves: ratio_moved) */
        slopes(k);
        if (!s && (k->slope_lo != lo || k->slope_hi != hi))
          s = k->dynamic && !mm->bruteforce ? ratio_moved(e, mm, k, ev.t) : rebuild(e, mm, ev.t);
        break;
      }
      default:
        s = ms_error_set(err, MS_ERR_INTERNAL, "path %llu: unexpected event kind %u in a market's queue",
                         (unsigned long long)path, ev.kind);
      }
      continue;
    }
    switch ((ms_event_kind)ev.kind) {
    case MS_EV_KEEPER_READY: {
      if (ms_queue_loads(mm->kq) != warm_loads) {
        warm_loads = ms_queue_loads(mm->kq);
        warm_units(mm);
      }
      int r = ms_keeper_on_ready(e->kp, &ev, mm->kq);
      if (r < 0) s = MS_ERR_NOMEM;
      else if (r == 1) s = act(e, mm, ev.a, ev.b, ev.t, 0);
      break;
    }
    case MS_EV_BLOCK: {
      int64_t id, seq;
      const double elig[2] = {0, 0};
      const xmarket *m = &mm->m[cfg->market.trade_index];
      if (ms_keeper_block_begin(e->kp, mark_at(m, ev.t), elig) < 0) {
        s = MS_ERR_NOMEM;
        break;
      }
      while (!s && ms_keeper_block_next(e->kp, &id, &seq)) s = act(e, mm, id, seq, ev.t, cfg->keepers.capacity.per_block > 0);
      if (!s) s = ms_keeper_block_end(e->kp, ev.t, mm->kq);
      break;
    }
    case MS_EV_SAMPLE:
      if (ev.a == 1) {
        const xmarket *m = &mm->m[cfg->market.trade_index];
        e->fan_price[k_fan] = exp(m->lp);
        e->fan_mark[k_fan] = mark_at(m, ev.t);
        e->fan_regime[k_fan] = ms_pricepath_regime(m->pp);
        if (++k_fan < nfan) s = ms_queue_push(mm->kq, ms_fan_time(cfg, k_fan), MS_EV_SAMPLE, 1, 0);
        break;
      }
      sample(e, mm, trace, k_sample++, ev.t);
      if (ev.t + every <= cfg->horizon) s = ms_queue_push(mm->kq, ev.t + every, MS_EV_SAMPLE, 0, 0);
      break;
    default:
      s = ms_error_set(err, MS_ERR_INTERNAL, "path %llu: unexpected event kind %u", (unsigned long long)path,
                       ev.kind);
    }
  }
  return s;
}

/* @p v plus what unit @p u's positions are worth at the marks at @p t: the perps' PnL against entry and the live
 * legs' values, added position by position (from its cash: its equity at the marks). */
static double add_marked(const ms_multi *mm, const xunit *u, int64_t t, double v) {
  for (int32_t i = u->first; i < u->first + u->n; i++) {
    const xpos *p = &mm->p[i];
    const xmarket *k = &mm->m[p->market];
    double pm = mark_at(k, t);
    if (live_legs(mm, p)) {
      ms_position ps;
      pos_of(mm, p, v, &ps);
      ms_view vw = view_of(k, pm, t);
      v = ms_margin_pos_equity(k->mg, &ps, k->E, &vw);
    } else {
      v += p->q * (pm - k->E);
    }
  }
  return v;
}

static void path_end(ms_engine *e, ms_multi *mm, ms_path_summary *out) {
  const ms_config *cfg = e->cfg;
  const xmarket *m = &mm->m[cfg->market.trade_index];
  double hi = 0, lo = 0; /* max_impact: the largest over the markets */
  for (int j = 0; j < mm->K; j++) {
    hi = fmax(hi, mm->m[j].imp_hi);
    lo = fmin(lo, mm->m[j].imp_lo);
  }
  ms_eng_price_columns(cfg, m->pp, m->lp, &m->ext, m->lp + ms_market_impact_at(m->mk, cfg->horizon), m->lm_min, hi,
                       lo, out);
  for (int j = 0; j < mm->K; j++) {
    const xmarket *k = &mm->m[j];
    out->oracle_publishes += ms_oracle_publishes(k->orc);
    out->mkt_final_price[j] = exp(k->lp);
    out->mkt_min_price[j] = exp(k->ext.mn);
  }
  out->insurance_end = e->fund;
  if (mm->funding_payments > 0) out->funding_rate_mean = mm->funding_rate_sum / (double)mm->funding_payments;
  for (int64_t i = 0; i < mm->nu; i++) { /* in the book's order: the sum's */
    const xunit *u = &mm->u[mm->uslot[i]];
    if (u->status != MS_ACCT_PENDING) continue;
    double eq = add_marked(mm, u, cfg->horizon, unit_cash(mm, u));
    out->pending_end++;
    if (eq < 0) out->pending_bad_debt -= eq;
  }
}

ms_status ms_multi_run_path(ms_engine *e, ms_multi *mm, uint64_t path, ms_path_summary *out, ms_trace *trace,
                            ms_error *err) {
  const ms_config *cfg = e->cfg;
  e->path = path;
  e->why[0] = '\0';
  ms_eng_records_start(e);
  if (ms_cascades_markets(&e->casc, mm->K)) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  memset(out, 0, sizeof *out);
  out->path = path;
  out->first_liquidation_time = NAN;
  out->insurance_min = cfg->liquidation.insurance_fund;
  out->funding_rate_mean = out->funding_rate_min = out->funding_rate_max = NAN;
  e->sum = out;
  mm->twin = 0;
  mm->ndraws = 0;
  mm->bs_at_start = 0;
  for (int j = 0; j < mm->K; j++) mm->bs_at_start += ms_margin_bs_count(mm->m[j].mg);
  ms_status s = run(e, mm, path, trace, -1, err);
  if (!s) {
    path_end(e, mm, out);
    out->bs_evaluations = -mm->bs_at_start; /* the path's own: its contagion twins' come after */
    for (int j = 0; j < mm->K; j++) out->bs_evaluations += ms_margin_bs_count(mm->m[j].mg);
    s = ms_eng_records_end(e, out);
  }
  for (int j = 0; j < mm->K; j++) out->mkt_contagion[j] = -1;
  if (!s && cfg->stats.contagion) {
    /* per market, the same path with the other assets frozen: its liquidations the twin does not make */
    memcpy(mm->liq_main, mm->liq, (size_t)mm->np);
    if (mm->ndraws > 1) qsort(mm->draws, mm->ndraws, sizeof *mm->draws, draw_cmp);
    ms_path_summary scratch;
    mm->twin = 1;
    for (int j = 0; j < mm->K && !s; j++) {
      memset(&scratch, 0, sizeof scratch);
      scratch.insurance_min = cfg->liquidation.insurance_fund;
      e->sum = &scratch;
      s = run(e, mm, path, NULL, j, err);
      int64_t c = 0;
      for (int64_t i = 0; i < mm->np; i++) c += mm->p[i].market == j && mm->liq_main[i] && !mm->liq[i]; /* slots */
      out->mkt_contagion[j] = c;
    }
    mm->twin = 0;
    e->sum = out;
    memcpy(mm->liq, mm->liq_main, (size_t)mm->np);
  }
  if (s && e->sink_failed) return ms_error_set(err, s, "path %llu: %s", (unsigned long long)path, e->sink_err.msg);
  if (s == MS_ERR_CANCELLED) return ms_error_set(err, s, "path %llu: interrupted", (unsigned long long)path);
  if (s && e->why[0]) return ms_error_set(err, s, "path %llu: %s", (unsigned long long)path, e->why);
  if (s && !err->msg[0]) return ms_error_set(err, s, "path %llu: %s", (unsigned long long)path, ms_strerror(s));
  return s;
}

/* ---- set-up ---- */

void ms_multi_set_bruteforce(ms_multi *m, int on) { m->bruteforce = on; }

void ms_multi_book(const ms_multi *m, const ms_multi_unit **units, int64_t *nunits, const ms_multi_pos **pos,
                   int64_t *npos) {
  *units = m->bu;
  *nunits = m->nu;
  *pos = m->bp;
  *npos = m->np;
}

ms_status ms_multi_set_book(ms_multi *m, const ms_multi_unit *units, int64_t nunits, const ms_multi_pos *pos,
                            int64_t npos, const ms_opt_account *opts, int64_t nopts, ms_error *err) {
  if (m->borrowed)
    return ms_error_set(err, MS_ERR_INTERNAL, "a book of several markets lent by another engine cannot be set");
  if (nunits > m->cap || npos > m->cap || nopts > (m->bo ? m->cap : 0))
    return ms_error_set(err, MS_ERR_INPUT, "a book of %lld units, %lld positions and %lld option strategies: room "
                        "for %lld, %lld and %lld", (long long)nunits, (long long)npos, (long long)nopts,
                        (long long)m->cap, (long long)m->cap, (long long)(m->bo ? m->cap : 0));
  for (int64_t i = 0; i < nunits; i++) /* xunit keeps n in a byte: at most one position a market */
    if (units[i].n < 1 || units[i].n > m->K || units[i].first < 0 || units[i].first > npos - units[i].n)
      return ms_error_set(err, MS_ERR_INPUT, "unit %lld: %d positions from %d, of %lld (1 to %d: one a market)",
                          (long long)i, units[i].n, units[i].first, (long long)npos, m->K);
  for (int64_t i = 0; i < npos; i++)
    if (pos[i].market < 0 || pos[i].market >= m->K || pos[i].unit < 0 || pos[i].unit >= nunits ||
        pos[i].opt < -1 || pos[i].opt >= nopts || (i > 0 && pos[i].unit < pos[i - 1].unit))
      return ms_error_set(err, MS_ERR_INPUT, "position %lld: market %d, unit %d or option strategy %d out of range "
                          "(or not in unit order)", (long long)i, pos[i].market, pos[i].unit, pos[i].opt);
  memcpy(m->bu, units, (size_t)nunits * sizeof *units);
  memcpy(m->bp, pos, (size_t)npos * sizeof *pos);
  if (nopts > 0) memcpy(m->bo, opts, (size_t)nopts * sizeof *opts);
  m->nu = nunits;
  m->np = npos;
  m->nbo = nopts;
  m->own_book = 1;
  return index_book(m) ? ms_error_set(err, MS_ERR_NOMEM, "out of memory") : MS_OK;
}

void ms_multi_money(const ms_multi *m, int64_t t, double *units_value, double *realized, double *unrealized) {
  double v = m->cash_closed, un = 0;
  for (int64_t i = 0; i < m->nu; i++) { /* in the book's order: the sums' */
    const xunit *u = &m->u[m->uslot[i]];
    if (u->status == MS_ACCT_CLOSED) continue;
    v += unit_cash(m, u);
    un = add_marked(m, u, t, un);
  }
  *units_value = v + un;
  *realized = m->realized + m->funding_outside; /* what came into the book from outside it */
  *unrealized = un;
}

void ms_multi_index_counts(const ms_multi *m, int64_t *live, int64_t *of_units) {
  int64_t k = 0;
  for (int64_t id = 0; id < m->nu; id++)
    if (m->u[id].status == MS_ACCT_OPEN) k += m->u[id].nkeys;
  *live = m->live_entries;
  *of_units = k;
}

void ms_multi_set_epoch_start(ms_multi *m, uint32_t e) { m->epoch0 = e; }

int ms_multi_unit_state(const ms_multi *m, int64_t id, double *cash) {
  const xunit *u = &m->u[m->uslot[id]];
  *cash = u->status == MS_ACCT_CLOSED ? u->C : unit_cash(m, u);
  return u->status;
}

const ms_multi *ms_engine_multi_book_of(const ms_engine *e, int64_t *n) {
  const ms_multi *m = ms_engine_multi(e);
  *n = m ? m->np : 0;
  return m;
}

void ms_engine_multi_book_rows(const ms_multi *m, int64_t first, int64_t count, ms_multi_book_row *rows) {
  for (int64_t i = first; i < first + count; i++) {
    const ms_multi_pos *p = &m->bp[i];
    const ms_multi_unit *u = &m->bu[p->unit];
    double deposit = u->C; /* the unit's cash after premiums, and back */
    for (int32_t j = u->first; j < u->first + u->n; j++)
      if (m->bp[j].opt >= 0)
        for (int l = 0; l < m->bo[m->bp[j].opt].nlegs; l++) deposit += m->bo[m->bp[j].opt].legs[l].q * m->bo[m->bp[j].opt].legs[l].v0;
    const xmarket *k = &m->m[p->market];
    ms_position ps = {0, p->q, 0, {{0}}};
    ms_multi_book_row *row = &rows[i - first];
    *row = (ms_multi_book_row){.account = u->account, .unit = p->unit, .unit_positions = u->n, .market = p->market,
                               .side = p->q > 0 ? 1 : p->q < 0 ? -1 : 0, .strategy = -1, .collateral = deposit,
                               .entry_price = k->E, .quantity = p->q, .expiry = NAN};
    double g = fabs(p->q) * k->E;
    if (p->opt >= 0) {
      const ms_opt_account *o = &m->bo[p->opt];
      row->strategy = o->strategy;
      for (int l = 0; l < o->nlegs; l++) {
        const ms_leg *lg = &o->legs[l];
        ps.legs[ps.nlegs++] = *lg;
        row->premium -= lg->q * lg->v0;
        if (lg->q < 0) g += -lg->q * k->E;
        if (lg->is_call) { row->call_strike = lg->strike; row->call_qty = lg->q; }
        else { row->put_strike = lg->strike; row->put_qty = lg->q; }
        row->expiry = (double)lg->expiry / 1000.0;
      }
    }
    ms_view v0 = {k->E, 0, k->cfg.market.entry_vol};
    row->notional = g;
    row->initial_margin = ms_margin_pos_im(k->mg, &ps, k->E, &v0);
    row->maintenance_margin = ms_margin_pos_mm(k->mg, &ps, k->E, &v0);
  }
}

void ms_multi_free(ms_multi *m) {
  if (!m) return;
  for (int j = 0; j < m->K; j++) {
    xmarket *k = &m->m[j];
    ms_pricepath_free(k->pp);
    ms_queue_free(k->q);
    ms_market_free(k->mk);
    ms_oracle_free(k->orc);
    ms_margin_free(k->mg);
    ms_funding_free(k->fnd);
    ms_ladder_free(&k->h[0]);
    ms_ladder_free(&k->h[1]);
    heap_free(&k->oh[0]);
    heap_free(&k->oh[1]);
    heap_free(&k->osh[0]);
    heap_free(&k->osh[1]);
    free(k->exp);
  }
  if (!m->borrowed) {
    free(m->bo);
    free(m->ou);
    free(m->bu);
    free(m->uslot);
    free(m->pslot);
    free(m->bp);
  }
  free(m->lq);
  free(m->kcash);
  free(m->kshift);
  free(m->kc_tag);
  free(m->kr_tag);
  heap_free(&m->th);
  free(m->popped);
  free(m->taken);
  for (int j = 0; j < m->K; j++) {
    heap_free(&m->adlh[j][0]);
    heap_free(&m->adlh[j][1]);
  }
  ms_queue_free(m->kq);
  free(m->u);
  free(m->p);
  free(m->cand);
  free(m->adl);
  free(m->liq);
  free(m->liq_main);
  free(m->draws);
  ms_big_free(m->disc, m->capdisc * sizeof *m->disc);
  free(m);
}

ms_status ms_multi_new(ms_multi **out, ms_engine *e, const ms_config *cfg, const ms_multi *lender, ms_error *err) {
  *out = NULL;
  ms_multi *m = calloc(1, sizeof *m);
  if (!m) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  /* a book drawn per path is each engine's own; so is a test's (own_book) */
  m->borrowed = lender && cfg->book.resample != MS_RESAMPLE_PER_PATH && !lender->own_book && e != NULL;
  m->K = cfg->market.nassets;
  m->horizon = cfg->horizon;
  m->offset = cfg->book.markets.cross_offset;
  ms_status s = ms_queue_new(&m->kq, 256, err);
  for (int j = 0; j < m->K && !s; j++) {
    xmarket *k = &m->m[j];
    ms_config_for_asset(cfg, j, &k->cfg);
    k->E = k->cfg.market.initial_price;
    s = ms_queue_new(&k->q, 64, err);
    if (!s) s = ms_pricepath_new(&k->pp, &k->cfg, err);
    if (!s) s = ms_market_new(&k->mk, &k->cfg, err);
    if (!s) s = ms_oracle_new(&k->orc, &k->cfg, err);
    if (!s) s = ms_margin_new(&k->mg, &k->cfg, err);
    if (!s && cfg->funding.enabled) {
      s = ms_funding_new(&k->fnd, &k->cfg, err);
      if (!s && j > 0) ms_funding_set_stream(k->fnd, MS_STREAM_ASSET_FUNDING + (uint32_t)j);
    }
    if (!s) ms_margin_path_start(k->mg, k->E);
    k->tiered = strcmp(ms_model_name(k->cfg.margin.model), "tiered") == 0;
    k->portfolio = strcmp(ms_model_name(k->cfg.margin.model), "portfolio") == 0;
    k->dynamic = strcmp(ms_model_name(k->cfg.margin.model), "dynamic") == 0;
    if (!s) slopes(k);
  }
  /* room for the book: at most one position per market per account */
  int64_t n = cfg->book.accounts, cap_p = n * (int64_t)m->K;
  m->cap = cap_p;
  /* positions and units are numbered in 32 bits (xpos, ms_multi_unit, xval): a scenario's book is far below
   * (book.accounts <= 10^8, at most MS_MAX_ASSETS markets), a ms_config filled by hand need not be */
  if (!s && cap_p > INT32_MAX)
    s = ms_error_set(err, MS_ERR_INPUT,
                     "book.accounts: %lld accounts in %d markets may hold %lld positions; a book of several markets "
                     "holds at most %lld (book.accounts at most %lld here)",
                     (long long)n, m->K, (long long)cap_p, (long long)INT32_MAX, (long long)(INT32_MAX / m->K));
  if (!s && m->borrowed) {
    m->bu = lender->bu;
    m->bp = lender->bp;
    m->bo = lender->bo;
    m->uslot = lender->uslot;
    m->pslot = lender->pslot;
    m->ou = lender->ou;
    m->nu = lender->nu;
    m->np = lender->np;
    m->nbo = lender->nbo;
    m->nou = lender->nou;
  }
  if (!s) {
    if (!m->borrowed) {
      m->bu = malloc((size_t)cap_p * sizeof *m->bu);
      m->bp = malloc((size_t)cap_p * sizeof *m->bp);
      m->uslot = malloc((size_t)cap_p * sizeof *m->uslot);
      m->pslot = malloc((size_t)cap_p * sizeof *m->pslot);
      m->ou = malloc((size_t)cap_p * sizeof *m->ou);
      if (cfg->book.options.fraction > 0) m->bo = malloc((size_t)cap_p * sizeof *m->bo);
    }
    m->u = malloc((size_t)cap_p * sizeof *m->u);
    m->p = malloc((size_t)cap_p * sizeof *m->p);
    m->liq = malloc((size_t)cap_p);
    m->liq_main = malloc((size_t)cap_p);
    m->nreg = cfg->market.nregimes > 0 ? cfg->market.nregimes : 1;
    if (cfg->book.options.fraction > 0) { /* at most one strategy per position */
      m->lq = malloc((size_t)cap_p * MS_MAX_LEGS * sizeof *m->lq);
      m->kcash = malloc((size_t)cap_p * sizeof *m->kcash);
      m->kshift = malloc((size_t)cap_p * sizeof *m->kshift);
      m->kc_tag = malloc((size_t)cap_p * sizeof *m->kc_tag);
      m->kr_tag = malloc((size_t)cap_p * (size_t)m->nreg * sizeof *m->kr_tag);
    }
    if (!m->bu || !m->bp || !m->u || !m->uslot || !m->pslot || !m->p || !m->liq || !m->liq_main || !m->ou ||
        (cfg->book.options.fraction > 0 && (!m->bo || !m->lq || !m->kcash || !m->kshift || !m->kc_tag || !m->kr_tag)))
      s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for a book of %lld accounts", (long long)n);
  }
  if (!s && m->borrowed && index_expiries(m, m->horizon)) /* its own markets' lists, from the lent book */
    s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  if (!s && !m->borrowed) {
    ms_error berr;
    uint64_t bpath = cfg->book.resample == MS_RESAMPLE_PER_PATH ? 0 : MS_PATH_RUN;
    s = draw_book(m, cfg, bpath, &berr);
    if (!s && index_book(m)) s = ms_error_set(&berr, MS_ERR_NOMEM, "out of memory");
    if (s) ms_error_set(err, s, "%s%s", bpath == 0 ? "path 0: " : "", berr.msg);
  }
  if (s) { ms_multi_free(m); return s; }
  *out = m;
  return MS_OK;
}
