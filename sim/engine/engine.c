/*
 * engine — one path's event loop (see engine.h and docs/engine.md).
 *
 * Per tick (the hot loop): the next exogenous log price from a block
 * generated ahead by the price model, the market's impact when there is
 * flow to decay, the running extremes, and the push oracle's deviation band
 * (two comparisons). Nothing touches the book per tick.
 *
 * Eligibility is checked at every oracle publish and after every
 * liquidation that changed other accounts (socialized loss, ADL): the account
 * index yields the candidates (a superset) and each is checked exactly with
 * ms_margin_eligible(), the same test the brute-force twin in the tests
 * applies to every account. Accounts found eligible at one check go to the
 * keepers most distressed first (lowest equity / maintenance, then id).
 */
#include "engine/engine.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/accounts.h"
#include "engine/acctindex.h"
#include "engine/engine_int.h"
#include "core/heap.h"
#include "models/keeper.h"
#include "models/liquidation.h"
#include "models/margin.h"
#include "models/market.h"
#include "models/oracle.h"
#include "models/pricepath.h"
#include "core/queue.h"
#include "core/rng.h"
#include "core/units.h"

#define TICK_BLOCK 512

typedef struct {
  double ratio; /* equity / maintenance at discovery */
  int64_t id;
} ranked;

/* Running extremes of the exogenous log price. */
typedef struct {
  double mx, mn; /* highest, lowest */
  double dd;     /* largest fall from a previous high */
} extremes;

struct ms_engine {
  const ms_config *cfg;
  ms_queue *q;
  ms_pricepath *pp;
  ms_market *mk;
  ms_oracle *orc;
  ms_keeper *kp;
  ms_margin *mg;

  const ms_book *book;
  const ms_index_static *ist;
  ms_book *own_book;            /* per_path books */
  ms_index_static *own_ist;
  ms_accounts acc;
  ms_index *idx;
  const ms_finder_ops *fops;
  void *fself;
  ms_idbuf cand;
  ranked *disc;
  size_t ndisc, capdisc;

  double ticks[TICK_BLOCK];     /* exogenous log prices of upcoming ticks */
  size_t tick_pos, tick_n;      /* ticks[tick_pos] is the clock's next tick */

  /* path state */
  uint64_t path;
  double E;                     /* entry price of every position */
  double lp;                    /* current exogenous log price */
  extremes ext;
  double lm_min;                /* lowest log mark */
  double imp_max;               /* largest |impact| (log) */
  double lm_final;
  double fund;                  /* USD */
  ms_path_summary *sum;
  ms_liq_record *rec;
  size_t nrec, caprec;
  int32_t liq_since_sample;
  double *fan_price, *fan_mark; /* the next path's fan samples (NULL: none) */
  int32_t *fan_regime;
  char why[640];                /* what failed, when a path stops on bad input ("": nothing) */
  int no_parking;               /* tests: re-examine skipped liquidations every block */
  int exact_ticks;              /* tests: the mark at every tick, no bounds */
  int64_t exp_pos;              /* next entry of the book's expiry list */
  int64_t open_options;         /* accounts holding live option legs */
  int64_t bs_at_start;          /* the margin model's Black–Scholes count when the path began */

  /* work bounds and cancellation (docs/engine.md, "Work bounds") */
  const volatile sig_atomic_t *cancel; /* non-zero: stop the path (NULL: never) */
  double work_base;             /* events a path may take before liquidations add to it */
  double max_log_impact;        /* ln MS_MAX_MARK_MOVE */
  int64_t nev;                  /* events of the path so far */
  int64_t nkind[MS_EV_KIND_COUNT];     /* ... by kind */
  int64_t inst_t, inst_first;   /* the current simulated instant (ms) and nev when it began */
  int64_t inst_kind[MS_EV_KIND_COUNT]; /* nkind when it began */
};

int64_t ms_trace_len(const ms_config *cfg) { return cfg->horizon / cfg->output.timeseries.every + 1; }

int64_t ms_fan_time(const ms_config *cfg, int64_t j) { return cfg->horizon * j / (cfg->output.fan.points - 1); }

void ms_engine_set_fan(ms_engine *e, double *price, double *mark, int32_t *regime) {
  e->fan_price = price;
  e->fan_mark = mark;
  e->fan_regime = regime;
}

/* ---- the default finder: the account index ---- */

static int idx_candidates(void *self, const ms_accounts *a, const ms_margin *m, const ms_probe *pr,
                          ms_idbuf *out) {
  return ms_index_candidates(self, a, m, pr, out);
}
static int idx_rekey(void *self, const ms_accounts *a, const ms_margin *m, int64_t id, const ms_probe *pr) {
  return ms_index_rekey(self, a, m, id, pr);
}
static int64_t idx_adl_next(void *self, const ms_accounts *a, int side) {
  return ms_index_adl_next(self, a, side);
}
static const ms_finder_ops index_ops = {idx_candidates, idx_rekey, idx_adl_next};

void ms_engine_set_finder(ms_engine *e, const ms_finder_ops *ops, void *self) {
  e->fops = ops ? ops : &index_ops;
  e->fself = ops ? self : e->idx;
}

void ms_engine_set_cancel(ms_engine *e, const volatile sig_atomic_t *cancel) { e->cancel = cancel; }

void ms_engine_set_parking(ms_engine *e, int enabled) { e->no_parking = !enabled; }

void ms_engine_set_exact_ticks(ms_engine *e, int enabled) { e->exact_ticks = enabled; }

const ms_accounts *ms_engine_accounts(const ms_engine *e) { return &e->acc; }
const ms_margin *ms_engine_margin(const ms_engine *e) { return e->mg; }
double ms_engine_final_mark(const ms_engine *e) { return exp(e->lm_final); }

void ms_engine_final_view(const ms_engine *e, ms_view *v) {
  v->P = exp(e->lm_final);
  v->t = e->cfg->horizon;
  v->vol = ms_pricepath_vol(e->pp);
}
const ms_book *ms_engine_book(const ms_engine *e) { return e->book; }

ms_liq_record *ms_engine_records(ms_engine *e, size_t *n) {
  *n = e->nrec;
  return e->rec;
}

/* ---- set-up ---- */

ms_status ms_engine_shared_new(const ms_config *cfg, ms_book **book, ms_index_static **index,
                               ms_error *err) {
  *book = NULL;
  *index = NULL;
  ms_status s = ms_engine_check_work(cfg, err);
  if (s || cfg->book.resample == MS_RESAMPLE_PER_PATH) return s;
  ms_margin *m = NULL;
  s = ms_margin_new(&m, cfg, err);
  if (!s) s = ms_book_new(book, cfg, err);
  if (!s) s = ms_book_draw(*book, cfg, MS_PATH_RUN, m, err);
  if (!s) s = ms_index_static_build(index, *book, m, cfg, 0, err);
  ms_margin_free(m);
  if (s) {
    ms_engine_shared_free(*book, *index);
    *book = NULL;
    *index = NULL;
  }
  return s;
}

void ms_engine_shared_free(ms_book *book, ms_index_static *index) {
  ms_book_free(book);
  ms_index_static_free(index);
}

/* ---- work bounds (docs/engine.md, "Work bounds") ---- */

ms_status ms_engine_check_work(const ms_config *cfg, ms_error *err) {
  return ms_price_check_work(cfg, MS_MAX_EXPECTED_ARRIVALS, err);
}

/* The events other than keeper arrivals a path may take before its
 * liquidations add to the bound: a generous multiple of what the scenario
 * implies. */
static double implied_work(const ms_config *cfg) {
  double H = (double)cfg->horizon;
  double n = H / (double)cfg->step + 1;                                    /* ticks */
  n += H / (double)cfg->keepers.capacity.block_time + 1;                   /* blocks */
  n += H / (double)cfg->output.timeseries.every + 1 + (double)cfg->output.fan.points; /* samples */
  int64_t every = ms_margin_update_every(cfg);
  if (every > 0) n += H / (double)every + 1;
  int64_t round = ms_oracle_round_every(cfg);
  if (round > 0) n += 2 * (H / (double)round + 1);                         /* rounds and publishes */
  n += 2 * (double)cfg->book.accounts;                                     /* option expiries */
  n += ms_price_expected_events(cfg);
  return MS_MAX_PATH_EVENTS + MS_PATH_EVENTS_FACTOR * n;
}

ms_status ms_engine_check_books(const ms_config *cfg, int64_t n, const volatile sig_atomic_t *cancel,
                                ms_error *err) {
  if (cfg->book.resample != MS_RESAMPLE_PER_PATH) return MS_OK;
  ms_margin *m = NULL;
  ms_book *b = NULL;
  ms_status s = ms_margin_new(&m, cfg, err);
  if (!s) s = ms_book_new(&b, cfg, err);
  for (int64_t p = 0; !s && p < n && p < cfg->paths; p++) {
    ms_error berr;
    if (cancel && *cancel) { s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted"); break; }
    ms_margin_path_start(m, cfg->market.initial_price); /* as every path starts */
    s = ms_book_draw(b, cfg, (uint64_t)p, m, &berr);
    if (s) ms_error_set(err, s, "path %lld: %s", (long long)p, berr.msg);
  }
  ms_book_free(b);
  ms_margin_free(m);
  return s;
}

static const char *const kind_names[MS_EV_KIND_COUNT] = {
    [MS_EV_REGIME] = "regime switches", [MS_EV_JUMP] = "jumps", [MS_EV_TICK] = "tick runs",
    [MS_EV_ORACLE_PUBLISH] = "oracle publishes", [MS_EV_ORACLE_ROUND] = "oracle rounds",
    [MS_EV_MARGIN_UPDATE] = "margin updates", [MS_EV_EXPIRY] = "option expiries",
    [MS_EV_KEEPER_READY] = "keeper arrivals", [MS_EV_BLOCK] = "keeper blocks", [MS_EV_SAMPLE] = "samples"};

/* The scenario keys that drive events of @p kind. */
static void kind_keys(const ms_engine *e, int kind, char *buf, size_t len) {
  const ms_config *cfg = e->cfg;
  if (ms_price_event_keys(cfg, kind, buf, len)) return;
  switch (kind) {
  case MS_EV_TICK: snprintf(buf, len, "step and horizon"); break;
  case MS_EV_ORACLE_PUBLISH:
  case MS_EV_ORACLE_ROUND:
    snprintf(buf, len, "oracle.latency, oracle.deviation, oracle.heartbeat and oracle.interval"); break;
  case MS_EV_MARGIN_UPDATE: snprintf(buf, len, "%s", ms_margin_update_key(cfg)); break;
  case MS_EV_EXPIRY: snprintf(buf, len, "book.options"); break;
  case MS_EV_KEEPER_READY: snprintf(buf, len, "keepers.delay and book.accounts"); break;
  case MS_EV_BLOCK:
    snprintf(buf, len, "keepers.delay, keepers.gas_cost (%g USD; a skipped liquidation is retried every block) "
             "and keepers.capacity.block_time", cfg->keepers.gas_cost);
    break;
  default: snprintf(buf, len, "output.timeseries.every and output.fan.points"); break;
  }
}

/* The kind with the most events of @p n (less @p n0, when given), but keeper arrivals when @p skip_ready. */
static int most_kind(const int64_t *n, const int64_t *n0, int skip_ready) {
  int best = 0;
  int64_t mx = -1;
  for (int k = 0; k < MS_EV_KIND_COUNT; k++) {
    int64_t c = n[k] - (n0 ? n0[k] : 0);
    if (skip_ready && k == MS_EV_KEEPER_READY) continue;
    if (c > mx) { mx = c; best = k; }
  }
  return best;
}

/* Every MS_CANCEL_CHECK_EVENTS events: a signal, and the bounds on the work
 * at one instant and in the path (@p t: the current event's time, ms). */
static ms_status check_work(ms_engine *e, int64_t t) {
  if (e->cancel && *e->cancel) return MS_ERR_CANCELLED;
  char keys[320];
  double inst = (double)(e->nev - e->inst_first + 1);
  double inst_max = MS_MAX_INSTANT_EVENTS + MS_INSTANT_EVENTS_PER_ACCOUNT * (double)e->book->n;
  if (inst > inst_max) {
    int k = most_kind(e->nkind, e->inst_kind, 0);
    kind_keys(e, k, keys, sizeof keys);
    snprintf(e->why, sizeof e->why,
             "runaway work: %.0f events at the one simulated instant t = %.3f s, beyond the bound of %.0f "
             "(%d + %d x book.accounts; docs/engine.md, Work bounds), most of them %s: check %s",
             inst, (double)t / 1000.0, inst_max, MS_MAX_INSTANT_EVENTS, MS_INSTANT_EVENTS_PER_ACCOUNT,
             kind_names[k], keys);
    return MS_ERR_INPUT;
  }
  double n = (double)(e->nev - e->nkind[MS_EV_KEEPER_READY]);
  double n_max = e->work_base + MS_PATH_EVENTS_PER_LIQUIDATION * (double)e->sum->liquidations;
  if (n > n_max) {
    int k = most_kind(e->nkind, NULL, 1);
    kind_keys(e, k, keys, sizeof keys);
    /* before time 0: a draw overflowed the millisecond clock */
    snprintf(e->why, sizeof e->why,
             "runaway work: %.0f events by t = %.3f s%s, beyond this scenario's bound of %.0f (docs/engine.md, "
             "Work bounds), most of them %s (%lld): check %s",
             n, (double)t / 1000.0, t < 0 ? " (before time 0: a delay overflowed the clock)" : "", n_max,
             kind_names[k], (long long)e->nkind[k], keys);
    return MS_ERR_INPUT;
  }
  return MS_OK;
}

ms_status ms_engine_new(ms_engine **out, const ms_config *cfg, const ms_book *book,
                        const ms_index_static *index, ms_error *err) {
  *out = NULL;
  ms_engine *e = calloc(1, sizeof *e);
  if (!e) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  e->cfg = cfg;
  e->work_base = implied_work(cfg);
  e->max_log_impact = log(MS_MAX_MARK_MOVE);
  ms_status s = ms_queue_new(&e->q, 256, err);
  if (!s) s = ms_pricepath_new(&e->pp, cfg, err);
  if (!s) s = ms_market_new(&e->mk, cfg, err);
  if (!s) s = ms_oracle_new(&e->orc, cfg, err);
  if (!s) s = ms_keeper_new(&e->kp, cfg, err);
  if (!s) s = ms_margin_new(&e->mg, cfg, err);
  if (!s) s = ms_index_new(&e->idx, err);
  if (!s && !book) {
    /* per_path: a book of the right size now, drawn for each path. */
    s = ms_book_new(&e->own_book, cfg, err);
    ms_error berr;
    if (!s && (s = ms_book_draw(e->own_book, cfg, 0, e->mg, &berr))) ms_error_set(err, s, "path 0: %s", berr.msg);
    if (!s) s = ms_index_static_build(&e->own_ist, e->own_book, e->mg, cfg, 1, err);
    book = e->own_book;
    index = e->own_ist;
  }
  if (!s) {
    e->book = book;
    e->ist = index;
    s = ms_accounts_init(&e->acc, book, err);
  }
  if (s) { ms_engine_free(e); return s; }
  ms_engine_set_finder(e, NULL, NULL);
  *out = e;
  return MS_OK;
}

void ms_engine_free(ms_engine *e) {
  if (!e) return;
  ms_queue_free(e->q);
  ms_pricepath_free(e->pp);
  ms_market_free(e->mk);
  ms_oracle_free(e->orc);
  ms_keeper_free(e->kp);
  ms_margin_free(e->mg);
  ms_index_free(e->idx);
  if (e->acc.slot) ms_accounts_fini(&e->acc);
  ms_book_free(e->own_book);
  ms_index_static_free(e->own_ist);
  free(e->cand.v);
  free(e->disc);
  free(e->rec);
  free(e);
}

void ms_engine_use_tape(ms_engine *e, ms_pricetape *tape, int mode) {
  ms_pricepath_use_tape(e->pp, tape, (ms_tape_mode)mode);
}

/* ---- prices ---- */

static inline double log_mark_at(const ms_engine *e, int64_t t) {
  return e->lp + ms_market_impact_at(e->mk, t);
}

static inline void observe_mark(ms_engine *e, double lm, double imp) {
  if (lm < e->lm_min) e->lm_min = lm;
  if (fabs(imp) > e->imp_max) e->imp_max = fabs(imp);
}

static inline void observe_exog(ms_engine *e, double lp) {
  if (lp > e->ext.mx) e->ext.mx = lp;
  else if (e->ext.mx - lp > e->ext.dd) e->ext.dd = e->ext.mx - lp;
  if (lp < e->ext.mn) e->ext.mn = lp;
}

/* Ticks [k, n) of @p lp: the running extremes of the exogenous price, and
 * the lowest of these ticks in *run_min, up to and including the first tick
 * outside [xlo, xhi] or below xmin, whose index is returned (n: none). Out
 * of line on purpose: with no call inside, the extremes stay in registers
 * (the callers' loops make calls, and x86-64 has no callee-saved
 * floating-point registers). */
__attribute__((noinline)) static int64_t scan_ticks(const double *lp, int64_t k, int64_t n, double xlo, double xhi,
                                                    double xmin, extremes *ext, double *run_min) {
  double mx = ext->mx, mn = ext->mn, dd = ext->dd, rmn = INFINITY;
  for (; k < n; k++) {
    double x = lp[k];
    if (x > mx) mx = x;
    else if (mx - x > dd) dd = mx - x;
    if (x < rmn) rmn = x;
    if (x < xlo || x > xhi || x < xmin) break;
  }
  ext->mx = mx;
  ext->mn = rmn < mn ? rmn : mn;
  ext->dd = dd;
  *run_min = rmn;
  return k;
}

/* Consume up to @p count ticks starting at time @p t; returns how many. A
 * tick that starts an oracle round ends the run: the round may schedule an
 * event before the next tick.
 *
 * Three loops. No flow to decay, no TWAP: the mark is the exogenous price
 * and the oracle's deviation band is two numbers. Flow decaying, no TWAP:
 * the same loop in chunks of MS_MARKET_CHUNK ticks, over which the impact
 * stays within bounds [ilo, ihi] (it decays monotonically); the band and
 * the lowest mark can only be crossed where the exogenous price alone comes
 * within those bounds of them, and only there is the impact evaluated. A
 * TWAP samples the mark at every tick; so do the tests' exact ticks, which
 * the other two loops must agree with bit for bit. */
static int64_t run_ticks(ms_engine *e, int64_t t, int64_t count, ms_status *st) {
  if (e->tick_pos == e->tick_n) {
    e->tick_n = ms_pricepath_fill(e->pp, t, TICK_BLOCK, e->ticks);
    e->tick_pos = 0;
    assert(e->tick_n > 0);
  }
  int64_t avail = (int64_t)(e->tick_n - e->tick_pos);
  int64_t m = count < avail ? count : avail;
  const double *lp = e->ticks + e->tick_pos;
  const int64_t step = e->cfg->step;
  int64_t k = 0;
  int started = 0;
  int twap = ms_oracle_samples_ticks(e->orc);
  if (twap || e->exact_ticks) {
    int active = ms_market_active(e->mk, t);
    double lo, hi;
    ms_oracle_band(e->orc, &lo, &hi);
    for (; k < m; k++) {
      int64_t tk = t + k * step;
      double x = lp[k], imp = active ? ms_market_impact_at(e->mk, tk) : 0.0, lm = x + imp;
      observe_exog(e, x);
      observe_mark(e, lm, imp);
      if (twap) *st = ms_oracle_tick(e->orc, tk, lm, x, e->q, &started);
      else if (lm < lo || lm > hi) *st = ms_oracle_on_mark(e->orc, tk, lm, x, e->q, &started);
      if (*st || started) { k++; break; }
    }
    e->lp = lp[k - 1];
  } else if (!ms_market_active(e->mk, t)) {
    double lo, hi;
    ms_oracle_band(e->orc, &lo, &hi);
    double run_min;
    k = scan_ticks(lp, 0, m, lo, hi, -INFINITY, &e->ext, &run_min);
    int crossed = k < m;
    k += crossed;
    /* no impact: these ticks' marks are their exogenous prices (not the
     * path's lowest exogenous price, which may have come with impact) */
    if (run_min < e->lm_min) e->lm_min = run_min;
    e->lp = lp[k - 1];
    if (crossed) *st = ms_oracle_on_mark(e->orc, t + (k - 1) * step, e->lp, e->lp, e->q, &started);
  } else {
    double lo, hi;
    ms_oracle_band(e->orc, &lo, &hi);
    /* |impact| is largest at the run's first tick */
    double a = ms_market_impact_at(e->mk, t);
    if (fabs(a) > e->imp_max) e->imp_max = fabs(a);
    while (k < m && !started && !*st) {
      int64_t kend = k + MS_MARKET_CHUNK < m ? k + MS_MARKET_CHUNK : m;
      double ilo, ihi;
      ms_market_chunk_bounds(e->mk, a, &ilo, &ihi, &a);
      /* The thresholds are widened by w towards evaluating: x + imp and
       * lo - ilo round differently, most of all across a power of two. */
      const double w = 1e-12 * (1.0 + fabs(e->lp)), xlo = lo - ilo + w, xhi = hi - ihi - w;
      while (k < kend) {
        double run_min; /* unused: the low mark is tested through xmin */
        k = scan_ticks(lp, k, kend, xlo, xhi, e->lm_min - ilo + w, &e->ext, &run_min);
        if (k == kend) break;
        int64_t tk = t + k * step;
        double x = lp[k++], lm = x + ms_market_impact_at(e->mk, tk);
        if (lm < e->lm_min) e->lm_min = lm;
        if (lm < lo || lm > hi) {
          *st = ms_oracle_on_mark(e->orc, tk, lm, x, e->q, &started);
          if (*st || started) break;
        }
      }
    }
    e->lp = lp[k - 1];
  }
  e->tick_pos += (size_t)k;
  return k;
}

/* ---- what the protocol sees now ---- */

static void probe_at(const ms_engine *e, int64_t t, double P, ms_probe *pr) {
  pr->P = P;
  pr->E = e->E;
  pr->t = t;
  pr->regime = ms_pricepath_regime(e->pp);
  pr->vol = ms_pricepath_vol(e->pp);
  pr->ratio = ms_margin_ratio(e->mg);
  pr->surplus = NAN;
}

/* Equity and maintenance of account @p id at the probe: the one test both
 * the index and the brute-force twin are judged by. */
static void standing(ms_engine *e, int64_t id, const ms_probe *pr, double *eq, double *mm) {
  if (!ms_accounts_has_options(&e->acc, id)) {
    double C = ms_accounts_collateral(&e->acc, id), q = ms_accounts_qty(&e->acc, id);
    *eq = ms_margin_equity(C, q, e->E, pr->P);
    *mm = ms_margin_perp_mm(e->mg, q, pr->P);
    return;
  }
  ms_position p;
  ms_accounts_position(&e->acc, id, &p);
  ms_view v = {pr->P, pr->t, pr->vol};
  *eq = ms_margin_pos_equity(e->mg, &p, e->E, &v);
  *mm = ms_margin_pos_mm(e->mg, &p, e->E, &v);
  e->sum->option_revaluations++;
}

/* ---- discovery ---- */

static inline int ranked_less(const ranked *a, const ranked *b) {
  return a->ratio < b->ratio || (a->ratio == b->ratio && a->id < b->id);
}

/* Sort by (ratio, id): a total order (ids are distinct), so any correct sort
 * gives the same sequence. Quicksort with an inline comparison, insertion
 * sort below 16: discovery sorts once per oracle publish in a cascade. */
static void sort_ranked(ranked *v, size_t n) {
  while (n > 16) {
    ranked *a = &v[0], *b = &v[n / 2], *c = &v[n - 1], *m;
    if (ranked_less(a, b)) m = ranked_less(b, c) ? b : ranked_less(a, c) ? c : a;
    else m = ranked_less(a, c) ? a : ranked_less(b, c) ? c : b;
    ranked pivot = *m;
    size_t i = 0, j = n - 1;
    for (;;) {
      while (ranked_less(&v[i], &pivot)) i++;
      while (ranked_less(&pivot, &v[j])) j--;
      if (i >= j) break;
      ranked t = v[i]; v[i] = v[j]; v[j] = t;
      i++;
      j--;
    }
    /* [0, j] <= pivot <= [j + 1, n): recurse into the smaller part */
    size_t left = j + 1;
    if (left >= n) break; /* cannot happen with distinct keys; insertion sort finishes */
    if (left < n - left) { sort_ranked(v, left); v += left; n -= left; }
    else { sort_ranked(v + left, n - left); n = left; }
  }
  for (size_t i = 1; i < n; i++) {
    ranked x = v[i];
    size_t j = i;
    for (; j > 0 && ranked_less(&x, &v[j - 1]); j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

static ms_status push_disc(ms_engine *e, double ratio, int64_t id) {
  if (ms_grow((void **)&e->disc, &e->capdisc, e->ndisc + 1, sizeof *e->disc)) return MS_ERR_NOMEM;
  e->disc[e->ndisc++] = (ranked){ratio, id};
  return MS_OK;
}

/* Find the accounts eligible at the current oracle price and hand them to keepers. */
static ms_status discover(ms_engine *e, int64_t t) {
  ms_probe pr;
  probe_at(e, t, ms_oracle_current(e->orc)->price, &pr);
  e->cand.n = 0;
  e->ndisc = 0;
  e->sum->option_revaluations_naive += e->open_options;
  if (e->fops->candidates(e->fself, &e->acc, e->mg, &pr, &e->cand)) return MS_ERR_NOMEM;
  for (size_t i = 0; i < e->cand.n; i++) {
    int64_t id = e->cand.v[i];
    assert(ms_accounts_status(&e->acc, id) == MS_ACCT_OPEN);
    double eq, mm;
    standing(e, id, &pr, &eq, &mm);
    if (eq < mm) {
      if (push_disc(e, mm > 0 ? eq / mm : -INFINITY, id)) return MS_ERR_NOMEM;
    } else {
      ms_acct *x = (ms_acct *)ms_accounts_peek(&e->acc, id);
      if (x) x->version++;
      pr.surplus = eq - mm; /* the band needs not compute it again */
      int rc = e->fops->rekey(e->fself, &e->acc, e->mg, id, &pr);
      pr.surplus = NAN;
      if (rc) return MS_ERR_NOMEM;
    }
  }
  sort_ranked(e->disc, e->ndisc);
  for (size_t i = 0; i < e->ndisc; i++) {
    int64_t id = e->disc[i].id, delay;
    ms_acct *x = ms_accounts_touch(&e->acc, id);
    if (!x) return MS_ERR_NOMEM;
    x->status = MS_ACCT_PENDING;
    x->version++;
    x->discovered = t;
    x->skipped = 0;
    ms_status s = ms_keeper_discover(e->kp, id, t, e->q, &delay);
    if (s) return s;
  }
  int64_t pend = ms_keeper_pending(e->kp);
  if (pend > e->sum->max_pending) e->sum->max_pending = pend;
  return MS_OK;
}

/* ---- liquidation ---- */

static ms_status push_record(ms_engine *e, const ms_liq_record *r) {
  if (ms_grow((void **)&e->rec, &e->caprec, e->nrec + 1, sizeof *e->rec)) return MS_ERR_NOMEM;
  e->rec[e->nrec++] = *r;
  return MS_OK;
}

static ms_status reopen(ms_engine *e, ms_acct *x, int64_t id, int64_t t) {
  x->status = MS_ACCT_OPEN;
  x->version++;
  ms_probe pr;
  probe_at(e, t, ms_oracle_current(e->orc)->price, &pr);
  return e->fops->rekey(e->fself, &e->acc, e->mg, id, &pr) ? MS_ERR_NOMEM : MS_OK;
}

/* The account holds nothing any more: its cash is its to take. */
static void settle_closed(ms_engine *e, ms_acct *x, int had_options) {
  x->status = MS_ACCT_CLOSED;
  x->version++;
  if (had_options) e->open_options--;
}

/* Close @p qty units against the top-ranked opposite positions at @p pb;
 * @p unmatched gets the units left when the opposite side runs out. */
static ms_status deleverage(ms_engine *e, int side, double qty, double pb, double pm, int64_t t,
                            double *unmatched) {
  double left = qty;
  while (left > 0) {
    int64_t cp = e->fops->adl_next(e->fself, &e->acc, side);
    if (cp < 0) break;
    double C = ms_accounts_collateral(&e->acc, cp);
    ms_acct *x = ms_accounts_touch(&e->acc, cp);
    if (!x) return MS_ERR_NOMEM;
    double s = x->q > 0 ? 1.0 : -1.0, a = fabs(x->q);
    double y = a < left ? a : left;
    double realized = s * y * (pb - e->E);
    x->realized += realized;
    ms_accounts_set_collateral(&e->acc, x, C + realized);
    e->acc.open_qty[side] -= y;
    e->sum->adl_notional += y * pb;
    e->sum->adl_loss += y * fabs(pb - pm);
    left -= y;
    if (y >= a) {
      x->q = 0.0;
      x->status = MS_ACCT_CLOSED;
      x->version++;
    } else {
      x->q -= s * y;
      ms_status st = reopen(e, x, cp, t);
      if (st) return st;
    }
  }
  *unmatched = left > 0 ? left : 0.0;
  return MS_OK;
}

/* Park an unprofitable liquidation behind the box of (mark, oracle) prices in
 * which a keeper would certainly skip it again. When the whole position
 * would close (full mode, or underwater), the keeper's reward is
 * share x min(penalty x a x P, C + s a (P - E)): for a long it rises with the
 * mark P, so it stays below the gas cost g for P < W = max(g' / (penalty a),
 * E + (g' - C) / a) (g' = g / share); for a short it needs P <= U =
 * E + (C - g') / a. Eligibility holds while the oracle stays beyond the
 * threshold. Bounds get a relative slack of 1e-9 towards re-examining. */
#define PARK_SLACK 1e-9

static ms_status park(ms_engine *e, int64_t id, int64_t seq, int64_t t, double C, double q, double pm,
                      double po) {
  const ms_liquidation_cfg *lc = &e->cfg->liquidation;
  double a = fabs(q), E = e->E, eq_full = C + (q > 0 ? 1 : -1) * a * (pm - E);
  double mlo = 0, mhi = 0, olo = 0, ohi = 0; /* empty: the next block */
  if (!e->no_parking && !ms_accounts_has_options(&e->acc, id) && (lc->mode == MS_LIQ_FULL || eq_full <= 0)) {
    double share = lc->keeper_share * lc->penalty;
    double T = ms_margin_threshold(e->mg, C, q, E);
    double g = lc->keeper_share > 0 ? ms_keeper_gas_cost(e->kp) / lc->keeper_share : INFINITY;
    if (q > 0) {
      double W = share > 0 ? fmax(g / (lc->penalty * a), E + (g - C) / a) : INFINITY;
      mlo = -INFINITY;
      mhi = isfinite(W) ? W * (1 - PARK_SLACK) : INFINITY;
      olo = -INFINITY;
      ohi = T * (1 - PARK_SLACK);
    } else {
      double U = share > 0 ? E + (C - g) / a : -INFINITY;
      if (share > 0 && U < g / (lc->penalty * a)) U = -INFINITY; /* never profitable */
      mlo = isfinite(U) ? U * (1 + PARK_SLACK) : -INFINITY;
      mhi = INFINITY;
      olo = T * (1 + PARK_SLACK);
      ohi = INFINITY;
    }
  }
  (void)po;
  return ms_keeper_defer(e->kp, id, seq, t, mlo, mhi, olo, ohi, e->q);
}

/* Apply the waterfall's remainder R of a liquidation of side @p side;
 * @p unmatched: ADL units that found no opposite position. */
static ms_status shortfall(ms_engine *e, double residual, int use_adl, int side, double adl_qty, double pb,
                           double pm, double po, int64_t t, int *others_changed, double *unmatched) {
  ms_path_summary *sm = e->sum;
  *unmatched = 0.0;
  if (!(residual > 0)) return MS_OK;
  sm->insolvent = 1;
  *others_changed = 1;
  if (use_adl) return deleverage(e, 1 - side, adl_qty, pb, pm, t, unmatched);
  int prof = po > e->E ? 0 : po < e->E ? 1 : -1;
  double per_unit = 0.0, unc = residual;
  /* The profitable side gives up at most its profit: what earlier charges
   * took (the side's shift) is no longer there to take. */
  if (prof >= 0)
    ms_liq_socialize(residual, e->acc.open_qty[prof], fmax(0.0, fabs(po - e->E) - e->acc.shift[prof]), &per_unit,
                     &unc);
  if (prof >= 0 && per_unit > 0) {
    e->acc.shift[prof] += per_unit;
    ms_keeper_unpark_all(e->kp); /* parked accounts' collateral changed */
  }
  sm->socialized_loss += residual - unc;
  sm->uncovered_loss += unc;
  return MS_OK;
}

/* Book the money of a liquidation. */
static void book_money(ms_engine *e, double penalty, double keeper, double bad, double fund_paid,
                       double fund_fee, double notional, int full, int impact_triggered, int64_t t) {
  ms_path_summary *sm = e->sum;
  sm->liquidations++;
  sm->partial_liquidations += !full;
  sm->impact_triggered_liquidations += impact_triggered;
  sm->liquidated_notional += notional;
  if (isnan(sm->first_liquidation_time)) sm->first_liquidation_time = (double)t / 1000.0;
  sm->penalties += penalty;
  sm->keeper_rewards += keeper;
  sm->bad_debt += bad;
  sm->insurance_paid += fund_paid;
  e->fund += fund_fee - fund_paid;
  if (e->fund < sm->insurance_min) sm->insurance_min = e->fund;
}

/* The fill moved the market: impact, extremes, the oracle's deviation test. */
static ms_status after_fill(ms_engine *e, int64_t t, double flow) {
  ms_market_fill(e->mk, t, flow);
  double imp = ms_market_impact(e->mk);
  if (!(fabs(imp) <= e->max_log_impact)) { /* past meaning (or inf, NaN): docs/engine.md, Money */
    const ms_book *b = e->book;
    snprintf(e->why, sizeof e->why,
             "at t = %.3f s the liquidation flow's impact moved the mark to %.3g times the exogenous price, beyond "
             "the bound of %g either way (docs/engine.md, Money): market.impact.depth (%g USD per 1%%) is far too "
             "small for this book (book.accounts %lld, %.4g USD of notional)",
             (double)t / 1000.0, exp(imp), MS_MAX_MARK_MOVE, e->cfg->market.impact.depth, (long long)b->n,
             (b->open_qty[0] + b->open_qty[1]) * b->entry);
    return MS_ERR_INPUT;
  }
  observe_mark(e, e->lp + imp, imp);
  int started;
  return ms_oracle_on_mark(e->orc, t, e->lp + imp, e->lp, e->q, &started);
}

/* Liquidate an account that holds options. */
static ms_status act_options(ms_engine *e, int64_t id, ms_acct *x, int64_t t, const ms_probe *po_pr,
                             const ms_oracle_price *op, double lm, int in_block) {
  ms_position p;
  ms_accounts_position(&e->acc, id, &p);
  ms_view fill = {exp(lm), t, po_pr->vol}, orc = {po_pr->P, t, po_pr->vol};
  ms_liq_pos_outcome o;
  ms_liq_compute_pos(&e->cfg->liquidation, e->mg, &p, e->E, &fill, &orc, e->fund,
                     e->cfg->market.impact.options, &o);
  ms_view ex = {op->exog, t, po_pr->vol};
  int impact_triggered = !(ms_margin_pos_surplus(e->mg, &p, e->E, &ex) < 0);
  ms_liq_record r = {.path = e->path, .time = t, .obs_time = op->t_obs, .account = id, .side = 0,
                     .full = o.full, .oracle_price = po_pr->P, .exog_oracle_price = op->exog,
                     .mark_price = fill.P, .qty = o.perp_closed + o.opt_closed, .notional = o.notional,
                     .bad_debt = o.bad_debt, .penalty = o.penalty, .impact_triggered = impact_triggered,
                     .delay = (double)(t - x->discovered) / 1000.0};
  x->realized += o.realized;
  ms_accounts_set_collateral(&e->acc, x, o.new_cash);
  e->acc.open_qty[0] -= x->q - o.new_q; /* option strategies hold long perps */
  x->q = o.new_q;
  /* the position's legs are the live legs of the book's account, in order */
  int32_t oi = e->acc.book->opt_of[id];
  for (int l = 0, k = 0; l < e->acc.book->opt[oi].nlegs; l++) {
    if (x->leg_q[l] == 0) continue;
    if (o.legs_closed & (1 << k)) x->leg_q[l] = 0;
    k++;
  }
  e->sum->options_liquidated_notional += o.opt_notional;
  book_money(e, o.penalty, o.keeper_reward, o.bad_debt, o.fund_paid, o.fund_fee, o.notional, o.full, impact_triggered, t);
  ms_status st = MS_OK;
  if (o.full) settle_closed(e, x, 1);
  else {
    if (!ms_accounts_has_options(&e->acc, id)) e->open_options--;
    st = reopen(e, x, id, t);
  }
  int others_changed = 0;
  double unmatched;
  /* ADL deleverages perpetual positions: an option account's remainder is socialized. */
  if (!st) st = shortfall(e, o.residual, 0, 0, 0, 0, fill.P, po_pr->P, t, &others_changed, &unmatched);
  if (!st) st = push_record(e, &r);
  if (st) return st;
  e->liq_since_sample++;
  if (in_block) ms_keeper_block_used(e->kp);
  ms_keeper_resolved(e->kp);
  st = after_fill(e, t, o.flow);
  if (!st && others_changed) st = discover(e, t);
  return st;
}

/* A keeper acts on pending account @p id at @p t. */
static ms_status act(ms_engine *e, int64_t id, int64_t seq, int64_t t, int in_block) {
  ms_acct *x = ms_accounts_touch(&e->acc, id);
  if (!x) return MS_ERR_NOMEM;
  if (x->status != MS_ACCT_PENDING) return MS_OK; /* settled while it waited */
  const ms_oracle_price *op = ms_oracle_current(e->orc);
  ms_probe pr;
  probe_at(e, t, op->price, &pr);
  double eq, mm;
  standing(e, id, &pr, &eq, &mm);
  if (!(eq < mm)) { /* recovered before the keeper came */
    e->sum->recovered++;
    ms_keeper_resolved(e->kp);
    return reopen(e, x, id, t);
  }
  double po = op->price, C = ms_accounts_collateral(&e->acc, id), q = x->q;
  double lm = log_mark_at(e, t), pm = exp(lm);
  if (ms_accounts_has_options(&e->acc, id)) {
    if (ms_keeper_gas_cost(e->kp) > 0) {
      ms_position p;
      ms_accounts_position(&e->acc, id, &p);
      ms_view fill = {pm, t, pr.vol}, orc = {po, t, pr.vol};
      ms_liq_pos_outcome o;
      ms_liq_compute_pos(&e->cfg->liquidation, e->mg, &p, e->E, &fill, &orc, e->fund, 0, &o);
      if (o.keeper_reward < ms_keeper_gas_cost(e->kp)) {
        if (!x->skipped) { x->skipped = 1; e->sum->skipped_unprofitable++; }
        return park(e, id, seq, t, C, q, pm, po);
      }
    }
    return act_options(e, id, x, t, &pr, op, lm, in_block);
  }
  ms_liq_outcome o;
  ms_liq_compute(&e->cfg->liquidation, e->mg, C, q, e->E, pm, po, e->fund, &o);
  if (ms_keeper_gas_cost(e->kp) > 0 && o.keeper_reward < ms_keeper_gas_cost(e->kp)) {
    if (!x->skipped) { /* counted once per discovery, however often it is retried */
      x->skipped = 1;
      e->sum->skipped_unprofitable++;
    }
    return park(e, id, seq, t, C, q, pm, po);
  }
  int side = ms_side_of(q);
  double s = q > 0 ? 1.0 : -1.0;
  ms_liq_record r = {.path = e->path, .time = t, .obs_time = op->t_obs, .account = id,
                     .side = q > 0 ? 1 : -1, .full = o.full, .oracle_price = po,
                     .exog_oracle_price = op->exog, .mark_price = pm, .qty = o.close_qty,
                     .notional = o.notional, .bad_debt = o.bad_debt, .penalty = o.penalty,
                     .adl_qty = o.adl_qty, .delay = (double)(t - x->discovered) / 1000.0};
  r.impact_triggered = !ms_margin_eligible(e->mg, C, q, e->E, op->exog);

  /* the account */
  x->realized += o.realized;
  x->q = o.new_qty;
  ms_accounts_set_collateral(&e->acc, x, o.new_collateral);
  e->acc.open_qty[side] -= o.close_qty;
  ms_status st = MS_OK;
  if (o.full) settle_closed(e, x, 0);
  else st = reopen(e, x, id, t);
  book_money(e, o.penalty, o.keeper_reward, o.bad_debt, o.fund_paid, o.fund_fee, o.notional, o.full, r.impact_triggered, t);
  int others_changed = 0;
  double unmatched = 0.0;
  if (!st) st = shortfall(e, o.residual, e->cfg->liquidation.shortfall == MS_SHORTFALL_ADL, side, o.adl_qty,
                          o.bankruptcy_price, pm, po, t, &others_changed, &unmatched);
  if (unmatched > 0) {
    /* No opposite position left to take these units: they are sold to the
     * market at the fill after all, and their share of the bad debt is no
     * one's (the fund is empty: ADL runs only beyond it). Touching the
     * counterparties may have moved the account pool: x again. */
    x = ms_accounts_touch(&e->acc, id);
    if (!x) return MS_ERR_NOMEM;
    x->realized += s * unmatched * (pm - o.bankruptcy_price);
    e->sum->uncovered_loss += unmatched * fabs(o.bankruptcy_price - pm);
    r.adl_qty -= unmatched;
  }
  if (!st) st = push_record(e, &r);
  if (st) return st;
  e->liq_since_sample++;
  if (in_block) ms_keeper_block_used(e->kp);
  ms_keeper_resolved(e->kp);
  st = after_fill(e, t, -s * (o.market_qty + unmatched) * pm);
  if (!st && others_changed) st = discover(e, t);
  return st;
}

/* Option legs expiring at @p t settle at the mark and leave the book. */
static ms_status expire(ms_engine *e, int64_t t) {
  const ms_book *b = e->acc.book;
  double pm = exp(log_mark_at(e, t));
  int changed = 0;
  while (e->exp_pos < b->nexp && b->expiries[e->exp_pos].t == t) {
    const ms_expiry *xp = &b->expiries[e->exp_pos++];
    int64_t id = xp->account;
    if (ms_accounts_status(&e->acc, id) == MS_ACCT_CLOSED) continue;
    ms_acct *x = ms_accounts_touch(&e->acc, id);
    if (!x) return MS_ERR_NOMEM;
    double q = x->leg_q[xp->leg];
    if (q == 0) continue; /* closed by a liquidation */
    const ms_leg *lg = &b->opt[b->opt_of[id]].legs[xp->leg];
    double pay = ms_leg_payoff(lg, pm);
    double C = ms_accounts_collateral(&e->acc, id);
    ms_accounts_set_collateral(&e->acc, x, C + q * pay);
    x->realized += q * (pay - lg->v0);
    x->leg_q[xp->leg] = 0;
    x->version++;
    e->sum->options_expired++;
    int left = ms_accounts_has_options(&e->acc, id);
    if (!left) e->open_options--;
    if (!left && x->q == 0) { /* nothing left: the account is done */
      if (x->status == MS_ACCT_PENDING) ms_keeper_resolved(e->kp);
      x->status = MS_ACCT_CLOSED;
      x->version++;
      continue;
    }
    if (x->status == MS_ACCT_OPEN) {
      ms_status st = reopen(e, x, id, t);
      if (st) return st;
    }
    changed = 1;
  }
  if (e->exp_pos < b->nexp) {
    ms_status st = ms_queue_push(e->q, b->expiries[e->exp_pos].t, MS_EV_EXPIRY, 0, 0);
    if (st) return st;
  }
  /* a settlement moved cash: the venue re-checks the accounts it changed */
  return changed ? discover(e, t) : MS_OK;
}

/* ---- the path ---- */

static void sample(ms_engine *e, ms_trace *tr, int64_t k, int64_t t) {
  double lm = log_mark_at(e, t), mark = exp(lm);
  tr->price[k] = exp(e->lp);
  tr->mark[k] = mark;
  tr->oracle[k] = ms_oracle_current(e->orc)->price;
  tr->regime[k] = ms_pricepath_regime(e->pp);
  tr->open_interest[k] = (e->acc.open_qty[0] + e->acc.open_qty[1]) * mark;
  tr->insurance[k] = e->fund;
  tr->liquidations[k] = e->liq_since_sample;
  tr->margin_ratio[k] = ms_margin_ratio(e->mg);
  e->liq_since_sample = 0;
}

static ms_status path_start(ms_engine *e, uint64_t path, ms_path_summary *out, ms_error *err) {
  const ms_config *cfg = e->cfg;
  ms_status s = MS_OK;
  /* First: a book drawn per path is drawn and indexed against the margin at
   * the path's start, not the ratio this thread's previous path ended with. */
  ms_margin_path_start(e->mg, cfg->market.initial_price);
  if (e->own_book) {
    ms_error berr;
    s = ms_book_draw(e->own_book, cfg, path, e->mg, &berr);
    if (!s) s = ms_index_static_rebuild(e->own_ist, e->own_book, e->mg, cfg, &berr);
    if (s) return ms_error_set(err, s, "path %llu: %s", (unsigned long long)path, berr.msg);
  }
  ms_queue_reset(e->q);
  ms_accounts_reset(&e->acc);
  ms_index_reset(e->idx, e->ist);
  ms_market_reset(e->mk);
  ms_keeper_start(e->kp, cfg->seed, path);
  e->tick_pos = e->tick_n = 0;
  e->nrec = 0;
  e->why[0] = '\0';
  e->path = path;
  e->E = e->book->entry;
  e->fund = cfg->liquidation.insurance_fund;
  e->liq_since_sample = 0;
  memset(out, 0, sizeof *out);
  out->path = path;
  out->first_liquidation_time = NAN;
  out->insurance_min = e->fund;
  e->sum = out;
  e->exp_pos = 0;
  e->open_options = e->book->nopt;
  e->bs_at_start = ms_margin_bs_count(e->mg);
  out->max_margin_ratio = ms_margin_ratio(e->mg);
  s = ms_pricepath_start(e->pp, cfg->seed, path, e->q);
  if (!s) s = ms_oracle_start(e->orc, cfg->seed, path, cfg->market.initial_price, e->q);
  if (!s && e->book->nexp > 0) s = ms_queue_push(e->q, e->book->expiries[0].t, MS_EV_EXPIRY, 0, 0);
  int64_t every = ms_margin_update_every(cfg);
  if (!s && every > 0 && every <= cfg->horizon) s = ms_queue_push(e->q, every, MS_EV_MARGIN_UPDATE, 0, 0);
  ms_queue_clock_start(e->q, cfg->step, cfg->step, cfg->horizon);
  e->lp = e->ext.mx = e->ext.mn = e->lm_min = ms_pricepath_log_price(e->pp);
  e->ext.dd = e->imp_max = 0.0;
  e->nev = 0;
  memset(e->nkind, 0, sizeof e->nkind);
  e->inst_t = -1;
  e->inst_first = 0;
  if (s) return ms_error_set(err, s, "path %llu: cannot start", (unsigned long long)path);
  return MS_OK;
}

ms_status ms_engine_run_path(ms_engine *e, uint64_t path, ms_path_summary *out, ms_trace *trace,
                             ms_error *err) {
  const ms_config *cfg = e->cfg;
  ms_status s = path_start(e, path, out, err);
  if (s) return s;

  int64_t every = cfg->output.timeseries.every, k_sample = 0;
  if (trace) {
    sample(e, trace, k_sample++, 0);
    if (every <= cfg->horizon) s = ms_queue_push(e->q, every, MS_EV_SAMPLE, 0, 0);
  }
  /* Fan samples are SAMPLE events with a = 1 (traces: a = 0); both only read. */
  int64_t k_fan = 0, nfan = e->fan_price ? cfg->output.fan.points : 0;
  if (!s && nfan > 0) s = ms_queue_push(e->q, 0, MS_EV_SAMPLE, 1, 0);

  ms_event ev;
  while (!s && ms_queue_pop(e->q, &ev)) {
    if (ev.kind >= MS_EV_KIND_COUNT)
      return ms_error_set(err, MS_ERR_INTERNAL, "path %llu: unexpected event kind %u", (unsigned long long)path,
                          ev.kind);
    /* Counting is all the hot path pays; the checks run every MS_CANCEL_CHECK_EVENTS events. */
    e->nev++;
    e->nkind[ev.kind]++;
    if (ev.t != e->inst_t) {
      e->inst_t = ev.t;
      e->inst_first = e->nev;
      memcpy(e->inst_kind, e->nkind, sizeof e->inst_kind);
      e->inst_kind[ev.kind]--; /* this event belongs to the new instant */
    }
    if (e->nev % MS_CANCEL_CHECK_EVENTS == 0 && (s = check_work(e, ev.t))) break;
    switch ((ms_event_kind)ev.kind) {
    case MS_EV_TICK: {
      int64_t used = run_ticks(e, ev.t, ev.count, &s);
      ms_queue_clock_advance(e->q, used);
      break;
    }
    case MS_EV_REGIME:
    case MS_EV_JUMP: {
      int r = ms_pricepath_on_event(e->pp, &ev, e->q);
      if (r < 0) { s = MS_ERR_NOMEM; break; }
      /* No generated tick may run past one of the model's live events. */
      assert(r == MS_PRICEPATH_STALE || e->tick_pos == e->tick_n);
      if (r == 1) {
        e->lp = ms_pricepath_log_price(e->pp);
        observe_exog(e, e->lp);
        double imp = ms_market_impact_at(e->mk, ev.t);
        observe_mark(e, e->lp + imp, imp);
        int started;
        s = ms_oracle_on_mark(e->orc, ev.t, e->lp + imp, e->lp, e->q, &started);
      }
      break;
    }
    case MS_EV_ORACLE_ROUND:
    case MS_EV_ORACLE_PUBLISH: {
      int published;
      s = ms_oracle_on_event(e->orc, &ev, log_mark_at(e, ev.t), e->lp, e->q, &published);
      if (!s && published) s = discover(e, ev.t);
      break;
    }
    case MS_EV_KEEPER_READY: {
      int r = ms_keeper_on_ready(e->kp, &ev, e->q);
      if (r < 0) s = MS_ERR_NOMEM;
      else if (r == 1) s = act(e, ev.a, ev.b, ev.t, 0);
      break;
    }
    case MS_EV_BLOCK: {
      int64_t id, seq;
      if (ms_keeper_block_begin(e->kp, exp(log_mark_at(e, ev.t)), ms_oracle_current(e->orc)->price) < 0) {
        s = MS_ERR_NOMEM;
        break;
      }
      while (!s && ms_keeper_block_next(e->kp, &id, &seq)) s = act(e, id, seq, ev.t, e->cfg->keepers.capacity.per_block > 0);
      if (!s) s = ms_keeper_block_end(e->kp, ev.t, e->q);
      break;
    }
    case MS_EV_EXPIRY:
      s = expire(e, ev.t);
      break;
    case MS_EV_MARGIN_UPDATE: {
      int64_t next = ev.t + ms_margin_update_every(cfg);
      if (next <= cfg->horizon) s = ms_queue_push(e->q, next, MS_EV_MARGIN_UPDATE, 0, 0);
      double before = ms_margin_ratio(e->mg);
      const ms_oracle_price *op = ms_oracle_current(e->orc);
      int rose = ms_margin_update(e->mg, op->price, op->t_obs);
      /* a parked account's box assumed the old ratio (a lower one can let it recover) */
      if (ms_margin_ratio(e->mg) != before) ms_keeper_unpark_all(e->kp);
      /* a rise of the ratio is a liquidation trigger: check at once */
      if (!s && rose) {
        out->margin_updates_up++;
        if (ms_margin_ratio(e->mg) > out->max_margin_ratio) out->max_margin_ratio = ms_margin_ratio(e->mg);
        s = discover(e, ev.t);
      }
      break;
    }
    case MS_EV_SAMPLE:
      if (ev.a == 1) {
        e->fan_price[k_fan] = exp(e->lp);
        e->fan_mark[k_fan] = exp(log_mark_at(e, ev.t));
        e->fan_regime[k_fan] = ms_pricepath_regime(e->pp);
        if (++k_fan < nfan) s = ms_queue_push(e->q, ms_fan_time(cfg, k_fan), MS_EV_SAMPLE, 1, 0);
        break;
      }
      sample(e, trace, k_sample++, ev.t);
      if (ev.t + every <= cfg->horizon) s = ms_queue_push(e->q, ev.t + every, MS_EV_SAMPLE, 0, 0);
      break;
    default:
      return ms_error_set(err, MS_ERR_INTERNAL, "path %llu: unexpected event kind %u",
                          (unsigned long long)path, ev.kind);
    }
  }
  if (s == MS_ERR_CANCELLED) return ms_error_set(err, s, "path %llu: interrupted", (unsigned long long)path);
  if (s) return ms_error_set(err, s, "path %llu: %s", (unsigned long long)path, e->why[0] ? e->why : ms_strerror(s));

  ms_pricepath_tally tally;
  ms_pricepath_tally_at(e->pp, cfg->horizon, &tally);
  e->lm_final = log_mark_at(e, cfg->horizon);
  out->final_price = exp(e->lp);
  out->min_price = exp(e->ext.mn);
  out->max_price = exp(e->ext.mx);
  out->max_drawdown = -expm1(-e->ext.dd);
  out->jumps = tally.jumps;
  out->regime_switches = tally.switches;
  for (int r = 0; r < cfg->market.nregimes; r++)
    out->time_in_regime[r] = (double)tally.time_in_regime[r] / 1000.0;
  out->final_mark = exp(e->lm_final);
  out->min_mark = exp(e->lm_min);
  out->max_impact = expm1(e->imp_max);
  out->oracle_publishes = ms_oracle_publishes(e->orc);
  out->insurance_end = e->fund;
  out->amplification = NAN; /* the driver fills the twin's columns and this */
  out->liquidated_notional_no_impact = out->bad_debt_no_impact = NAN;
  out->bs_evaluations = ms_margin_bs_count(e->mg) - e->bs_at_start;
  /* Accounts still waiting for a keeper: their losses are real but unbooked. */
  for (size_t i = 0; i < e->acc.n; i++) {
    const ms_acct *x = &e->acc.pool[i];
    if (x->status != MS_ACCT_PENDING) continue;
    int64_t id = e->acc.ids[i];
    ms_position p;
    ms_accounts_position(&e->acc, id, &p);
    ms_view v;
    ms_engine_final_view(e, &v);
    double eq = ms_margin_pos_equity(e->mg, &p, e->E, &v);
    out->pending_end++;
    if (eq < 0) out->pending_bad_debt -= eq;
  }
  return MS_OK;
}
