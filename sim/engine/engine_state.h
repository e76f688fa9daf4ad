/*
 * engine_state — the workspace of one thread and what the engine's files
 * share (private to sim/engine/): engine.c (the workspace and the path's
 * start and end), loop.c (the event loop, the tick scan, discovery),
 * liquidate.c (the application of a liquidation), shortfall.c (the loss
 * waterfall and the shortfall policies), expiry.c and deliver.c (the
 * records, the cascades, the sinks).
 *
 * What the tick loop and discovery call, and the append of a liquidation
 * record with its cascade step, is static inline here, so that splitting
 * the engine into files costs no call on the hot path.
 */
#ifndef MS_ENGINE_STATE_H
#define MS_ENGINE_STATE_H

#include <math.h>
#include <signal.h>

#include "engine/accounts.h"
#include "engine/acctindex.h"
#include "engine/cascade.h"
#include "engine/engine.h"
#include "engine/engine_int.h"
#include "engine/shortfall.h"
#include "core/queue.h"
#include "core/sort.h"
#include "models/funding.h"
#include "models/keeper.h"
#include "models/margin.h"
#include "models/market.h"
#include "models/oracle.h"
#include "models/pricepath.h"

#define TICK_BLOCK 512

/* An account found eligible and its equity / maintenance at discovery. */
typedef ms_ranked ranked;

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
  ms_funding *fnd;              /* NULL: funding.enabled false */
  struct ms_multi *multi;       /* book.markets: the engine of several markets runs the paths (multi.c) */

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
  double imp_hi, imp_lo;        /* highest and lowest impact (log): the mark's largest moves up and down */
  double lm_final;
  double fund;                  /* USD */
  const ms_shortfall_type *shortfall; /* liquidation.shortfall's policy */
  ms_path_summary *sum;
  ms_liq_record *rec;           /* the path's records (with a sink: those not yet delivered) */
  size_t nrec, caprec;
  ms_cascades casc;             /* the path's cascades, online (cascade.h) */
  ms_cascade_record *cas;       /* closed cascades (with a sink: those not yet delivered) */
  size_t ncas, capcas;
  ms_liq_sink liq_sink;         /* NULL: keep the records */
  ms_cascade_sink cas_sink;     /* NULL: keep the cascades */
  void *sink_ctx;
  int sink_failed;              /* a sink failed in this path: sink_err (at the end) says how */
  int32_t liq_since_sample;
  double *fan_price, *fan_mark; /* the next path's fan samples (NULL: none) */
  int32_t *fan_regime;
  char why[640];                /* what failed, when a path stops on bad input ("": nothing) */
  int no_parking;               /* tests: re-examine skipped liquidations every block */
  int exact_ticks;              /* tests: the mark at every tick, no bounds */
  int64_t exp_pos;              /* next entry of the book's expiry list */
  int64_t open_options;         /* accounts holding live option legs */
  int64_t bs_at_start;          /* the margin model's Black–Scholes count when the path began */
  int64_t funding_payments;     /* payments of the path so far (their rates' mean at the end) */
  double funding_rate_sum;      /* of their rates (fractions of notional per payment) */
  double funding_last;          /* the latest payment's rate (NaN: none yet), for the trace */

  /* work bounds and cancellation (docs/engine.md, "Work bounds") */
  const volatile sig_atomic_t *cancel; /* non-zero: stop the path (NULL: never) */
  double work_base;             /* events a path may take before liquidations add to it */
  double max_log_impact;        /* ln MS_MAX_MARK_MOVE */
  double lp0;                   /* the path's initial log price */
  double lp_hi, lp_lo;          /* lp0 +/- ln MS_MAX_PRICE_MOVE: the exogenous log price's bounds */
  int64_t nev;                  /* events of the path so far */
  int64_t nkind[MS_EV_KIND_COUNT];     /* ... by kind */
  int64_t inst_t, inst_first;   /* the current simulated instant (ms) and nev when it began */
  int64_t inst_kind[MS_EV_KIND_COUNT]; /* nkind when it began */

  ms_error sink_err;            /* a sink's failure (4 KiB: last, away from what the loop reads) */
};

/* ---- prices (per tick: inline) ---- */

static inline double log_mark_at(const ms_engine *e, int64_t t) {
  return e->lp + ms_market_impact_at(e->mk, t);
}

static inline void observe_mark(ms_engine *e, double lm, double imp) {
  if (lm < e->lm_min) e->lm_min = lm;
  if (imp > e->imp_hi) e->imp_hi = imp;
  if (imp < e->imp_lo) e->imp_lo = imp;
}

/* A new exogenous log price @p lp into the running extremes @p x (multi.c keeps one per market). */
static inline void ms_extremes_observe(extremes *x, double lp) {
  if (lp > x->mx) x->mx = lp;
  else if (x->mx - lp > x->dd) x->dd = x->mx - lp;
  if (lp < x->mn) x->mn = lp;
}

static inline void observe_exog(ms_engine *e, double lp) { ms_extremes_observe(&e->ext, lp); }

/* ---- what the protocol sees now ---- */

static inline void probe_at(const ms_engine *e, int64_t t, double P, ms_probe *pr) {
  pr->P = P;
  pr->E = e->E;
  pr->t = t;
  pr->regime = ms_pricepath_regime(e->pp);
  pr->vol = ms_pricepath_vol(e->pp);
  pr->ratio = ms_margin_ratio(e->mg);
  pr->surplus = NAN;
}

/* Equity and maintenance of account @p id, which holds no option, at price @p P. */
static inline void perp_standing(const ms_engine *e, int64_t id, double P, double *eq, double *mm) {
  double C = ms_accounts_collateral(&e->acc, id), q = ms_accounts_qty(&e->acc, id);
  *eq = ms_margin_equity(C, q, e->E, P);
  *mm = ms_margin_perp_mm(e->mg, q, P);
}

/* Equity and maintenance of account @p id at the probe: the one test both
 * the index and the brute-force twin are judged by. */
static inline void standing(ms_engine *e, int64_t id, const ms_probe *pr, double *eq, double *mm) {
  if (!ms_accounts_has_options(&e->acc, id)) {
    perp_standing(e, id, pr->P, eq, mm); /* of the probe, only the price */
    return;
  }
  ms_position p;
  ms_accounts_position(&e->acc, id, &p);
  ms_view v = {pr->P, pr->t, pr->vol};
  *eq = ms_margin_pos_equity(e->mg, &p, e->E, &v);
  *mm = ms_margin_pos_mm(e->mg, &p, e->E, &v);
  e->sum->option_revaluations++;
}

static inline ms_status reopen(ms_engine *e, ms_acct *x, int64_t id, int64_t t) {
  x->status = MS_ACCT_OPEN;
  x->version++;
  ms_probe pr;
  probe_at(e, t, ms_oracle_current(e->orc)->price, &pr);
  return e->fops->rekey(e->fself, &e->acc, e->mg, id, &pr) ? MS_ERR_NOMEM : MS_OK;
}

/* ---- between the files (per event, per path) ---- */

/* engine.c: begin path @p path (fills the summary's start values), and end it
 * (the summary's end-of-path columns); the work bounds, every
 * MS_CANCEL_CHECK_EVENTS events. */
ms_status ms_eng_path_start(ms_engine *e, uint64_t path, ms_path_summary *out, ms_error *err);
void ms_eng_path_end(ms_engine *e, ms_path_summary *out);

/* engine.c: the summary's price columns at the path's end from a market's price model, log price, extremes,
 * final and lowest log mark and impact extremes (multi.c: market.trade's asset's). */
void ms_eng_price_columns(const ms_config *cfg, const ms_pricepath *pp, double lp, const extremes *ext,
                          double lm_final, double lm_min, double imp_hi, double imp_lo, ms_path_summary *out);
ms_status ms_eng_check_work(ms_engine *e, int64_t t);

/* deliver.c: the path's records, cascades and sinks: reset at the path's
 * start; room for one more record (a full block delivered, or the buffer
 * grown); keep (or deliver) the cascade that just closed; at the path's
 * end, the last cascade, the row's cascade columns and the last blocks. */
void ms_eng_records_start(ms_engine *e);
ms_status ms_eng_record_room(ms_engine *e);
ms_status ms_eng_push_cascade(ms_engine *e);
ms_status ms_eng_records_end(ms_engine *e, ms_path_summary *row);

/* The record's room (a full block delivered, or the buffer grown), before its cascade step. */
static inline ms_status ms_eng_record_room_(ms_engine *e) {
  return e->nrec == e->caprec ? ms_eng_record_room(e) : MS_OK;
}

/* Store @p r with its generation and cascade after its cascade step (@p closed its result). */
static inline ms_status ms_eng_record_store_(ms_engine *e, const ms_liq_record *r, int closed, int32_t gen,
                                             int64_t cascade) {
  if (closed < 0) return MS_ERR_NOMEM;
  ms_liq_record *x = &e->rec[e->nrec++];
  *x = *r;
  x->generation = gen;
  x->cascade = cascade;
  return closed ? ms_eng_push_cascade(e) : MS_OK;
}

/* Append one final record of the path: its generation and cascade set.
 * Once per liquidation: inline, the rest out of line in deliver.c. */
static inline ms_status ms_eng_record(ms_engine *e, const ms_liq_record *r) {
  ms_status s = ms_eng_record_room_(e);
  if (s) return s;
  int32_t gen;
  int64_t cascade;
  int closed = ms_cascades_step(&e->casc, r, &gen, &cascade);
  return ms_eng_record_store_(e, r, closed, gen, cascade);
}

/* ms_eng_record() for the engine of several markets: a record of market
 * @p market with the generation @p gen of its unit (ms_cascades_unit_seen). */
static inline ms_status ms_eng_record_market(ms_engine *e, const ms_liq_record *r, int market, int32_t gen) {
  ms_status s = ms_eng_record_room_(e);
  if (s) return s;
  int64_t cascade;
  int closed = ms_cascades_step_market(&e->casc, r, market, gen, &cascade);
  return ms_eng_record_store_(e, r, closed, gen, cascade);
}

/* loop.c: find the accounts eligible at the current oracle price and hand them to keepers. */
ms_status ms_eng_discover(ms_engine *e, int64_t t);

/* liquidate.c: a keeper acts on pending account @p id at @p t. */
ms_status ms_eng_act(ms_engine *e, int64_t id, int64_t seq, int64_t t, int in_block);

/* expiry.c: option legs expiring at @p t settle at the mark and leave the book. */
ms_status ms_eng_expire(ms_engine *e, int64_t t);

#endif
