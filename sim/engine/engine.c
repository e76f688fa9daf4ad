/*
 * engine — the workspace of one thread and the lifecycle of a path (see
 * engine.h and docs/engine.md): set-up, the run's shared book, the work
 * bounds, the start of a path (reset by undoing what the previous one
 * touched) and its end (the summary's end-of-path columns). The event loop
 * is in loop.c, the application of a liquidation in liquidate.c, the loss
 * waterfall and the shortfall policies in shortfall.c, expiries in expiry.c;
 * engine_state.h is what they share.
 */
#include "engine/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/rng.h"
#include "core/units.h"
#include "engine/engine_state.h"
#include "engine/multi.h"

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

void ms_engine_set_drop_from(ms_engine *e, size_t entries) { e->acc.drop_from = entries; }

const ms_accounts *ms_engine_accounts(const ms_engine *e) { return &e->acc; }
const ms_margin *ms_engine_margin(const ms_engine *e) { return e->mg; }
double ms_engine_final_mark(const ms_engine *e) { return exp(e->lm_final); }

void ms_engine_final_view(const ms_engine *e, ms_view *v) {
  v->P = exp(e->lm_final);
  v->t = e->cfg->horizon;
  v->vol = ms_pricepath_vol(e->pp);
}
const ms_book *ms_engine_book(const ms_engine *e) { return e->book; }
struct ms_multi *ms_engine_multi(const ms_engine *e) { return e->multi; }

/* ---- set-up ---- */

ms_status ms_engine_shared_new(const ms_config *cfg, ms_book **book, ms_index_static **index,
                               ms_error *err) {
  *book = NULL;
  *index = NULL;
  ms_status s = ms_engine_check_work(cfg, err);
  /* several markets: each workspace draws its book (multi.c) */
  if (s || cfg->book.resample == MS_RESAMPLE_PER_PATH || cfg->book.markets.enabled) return s;
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
  if (cfg->funding.enabled) n += H / (double)cfg->funding.interval + 1;  /* funding payments */
  return MS_MAX_PATH_EVENTS + MS_PATH_EVENTS_FACTOR * n;
}

ms_status ms_engine_check_books(const ms_config *cfg, int64_t n, const volatile sig_atomic_t *cancel,
                                ms_error *err) {
  if (cfg->book.resample != MS_RESAMPLE_PER_PATH || cfg->book.markets.enabled) return MS_OK;
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
    [MS_EV_KEEPER_READY] = "keeper arrivals", [MS_EV_BLOCK] = "keeper blocks", [MS_EV_FUNDING] = "funding payments",
    [MS_EV_SAMPLE] = "samples"};

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
  case MS_EV_FUNDING: snprintf(buf, len, "funding.interval"); break;
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
ms_status ms_eng_check_work(ms_engine *e, int64_t t) {
  if (e->cancel && *e->cancel) return MS_ERR_CANCELLED;
  char keys[320];
  double inst = (double)(e->nev - e->inst_first + 1);
  double inst_max = MS_MAX_INSTANT_EVENTS + MS_INSTANT_EVENTS_PER_ACCOUNT * (double)e->cfg->book.accounts;
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
  return ms_engine_new_beside(out, cfg, book, index, NULL, err);
}

ms_status ms_engine_new_beside(ms_engine **out, const ms_config *cfg, const ms_book *book,
                               const ms_index_static *index, const ms_engine *first, ms_error *err) {
  *out = NULL;
  ms_engine *e = calloc(1, sizeof *e);
  if (!e) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  e->cfg = cfg;
  e->shortfall = cfg->liquidation.shortfall;
  if (!e->shortfall) { /* the loader always sets it (default adl) */
    free(e);
    return ms_error_set(err, MS_ERR_INTERNAL, "liquidation.shortfall: no policy set");
  }
  e->work_base = implied_work(cfg);
  e->max_log_impact = log(MS_MAX_MARK_MOVE);
  if (cfg->book.markets.enabled) {
    /* every market's events, and a liquidation's per position that may close (the twins count none) */
    e->work_base = e->work_base * cfg->market.nassets +
                   MS_PATH_EVENTS_PER_LIQUIDATION * (double)cfg->book.accounts * cfg->market.nassets;
    ms_status s = ms_keeper_new(&e->kp, cfg, err);
    if (!s) s = ms_multi_new(&e->multi, e, cfg, first ? first->multi : NULL, err);
    if (s) { ms_engine_free(e); return s; }
    *out = e;
    return MS_OK;
  }
  ms_status s = ms_queue_new(&e->q, 256, err);
  if (!s) s = ms_pricepath_new(&e->pp, cfg, err);
  if (!s) s = ms_market_new(&e->mk, cfg, err);
  if (!s) s = ms_oracle_new(&e->orc, cfg, err);
  if (!s) s = ms_keeper_new(&e->kp, cfg, err);
  if (!s) s = ms_margin_new(&e->mg, cfg, err);
  if (!s) s = ms_index_new(&e->idx, err);
  if (!s && cfg->funding.enabled) s = ms_funding_new(&e->fnd, cfg, err);
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
  ms_multi_free(e->multi);
  ms_queue_free(e->q);
  ms_pricepath_free(e->pp);
  ms_market_free(e->mk);
  ms_oracle_free(e->orc);
  ms_keeper_free(e->kp);
  ms_margin_free(e->mg);
  ms_funding_free(e->fnd);
  ms_index_free(e->idx);
  if (e->acc.slot) ms_accounts_fini(&e->acc);
  ms_book_free(e->own_book);
  ms_index_static_free(e->own_ist);
  ms_idbuf_free(&e->cand);
  ms_big_free(e->disc, e->capdisc * sizeof *e->disc);
  free(e->rec);
  free(e->cas);
  ms_cascades_fini(&e->casc);
  free(e);
}

void ms_engine_use_tape(ms_engine *e, ms_pricetape *tape, int mode) {
  if (e->multi) return; /* never planned for a book of several markets (run.c) */
  ms_pricepath_use_tape(e->pp, tape, (ms_tape_mode)mode);
}

/* ---- the path's start and end ---- */

ms_status ms_eng_path_start(ms_engine *e, uint64_t path, ms_path_summary *out, ms_error *err) {
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
  e->why[0] = '\0';
  e->path = path;
  ms_eng_records_start(e);
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
  e->funding_payments = 0;
  e->funding_rate_sum = 0.0;
  e->funding_last = NAN;
  out->funding_rate_mean = out->funding_rate_min = out->funding_rate_max = NAN;
  if (e->fnd) {
    ms_funding_start(e->fnd, cfg->seed, path, ms_pricepath_regime(e->pp));
    int64_t tf = ms_funding_next(e->fnd);
    if (!s && tf != INT64_MAX) s = ms_queue_push(e->q, tf, MS_EV_FUNDING, 0, 0);
  }
  ms_queue_clock_start(e->q, cfg->step, cfg->step, cfg->horizon);
  e->lp = e->lp0 = e->ext.mx = e->ext.mn = e->lm_min = ms_pricepath_log_price(e->pp);
  e->lp_hi = e->lp0 + log(MS_MAX_PRICE_MOVE);
  e->lp_lo = e->lp0 - log(MS_MAX_PRICE_MOVE);
  e->ext.dd = e->imp_hi = e->imp_lo = 0.0;
  e->nev = 0;
  memset(e->nkind, 0, sizeof e->nkind);
  e->inst_t = -1;
  e->inst_first = 0;
  if (s) return ms_error_set(err, s, "path %llu: cannot start", (unsigned long long)path);
  return MS_OK;
}

void ms_eng_price_columns(const ms_config *cfg, const ms_pricepath *pp, double lp, const extremes *ext,
                          double lm_final, double lm_min, double imp_hi, double imp_lo, ms_path_summary *out) {
  ms_pricepath_tally tally;
  ms_pricepath_tally_at(pp, cfg->horizon, &tally);
  out->final_price = exp(lp);
  out->min_price = exp(ext->mn);
  out->max_price = exp(ext->mx);
  out->max_drawdown = -expm1(-ext->dd);
  out->jumps = tally.jumps;
  out->regime_switches = tally.switches;
  for (int r = 0; r < cfg->market.nregimes; r++)
    out->time_in_regime[r] = (double)tally.time_in_regime[r] / 1000.0;
  out->final_mark = exp(lm_final);
  out->min_mark = exp(lm_min);
  /* |exp(impact) - 1| is largest at one of the two extremes: up, e^hi - 1;
   * down, 1 - e^lo (below 1: a mark cannot fall by more than all of it) */
  out->max_impact = fmax(expm1(imp_hi), -expm1(imp_lo));
}

void ms_eng_path_end(ms_engine *e, ms_path_summary *out) {
  const ms_config *cfg = e->cfg;
  e->lm_final = log_mark_at(e, cfg->horizon);
  ms_eng_price_columns(cfg, e->pp, e->lp, &e->ext, e->lm_final, e->lm_min, e->imp_hi, e->imp_lo, out);
  out->oracle_publishes = ms_oracle_publishes(e->orc);
  out->insurance_end = e->fund;
  if (e->funding_payments > 0) out->funding_rate_mean = e->funding_rate_sum / (double)e->funding_payments;
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
}
