/*
 * loop — one path's event loop (see engine.h and docs/engine.md): the
 * dispatch of every event, the tick scan and discovery.
 *
 * Per tick (the hot loop): the next exogenous log price from a block
 * generated ahead by the price model, the market's impact when there is
 * flow to decay, the running extremes, and the push oracle's deviation band
 * (two comparisons). Nothing touches the book per tick. What the ticks call
 * is in this file or static inline in engine_state.h.
 *
 * Eligibility is checked at every oracle publish and after every
 * liquidation that changed other accounts (socialized loss, ADL): the account
 * index yields the candidates (a superset) and each is checked exactly with
 * ms_margin_eligible(), the same test the brute-force twin in the tests
 * applies to every account. Accounts found eligible at one check go to the
 * keepers most distressed first (lowest equity / maintenance, then id).
 */
#include <assert.h>
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/bigmem.h"
#include "core/heap.h"
#include "engine/engine_state.h"
#include "engine/multi.h"

/* ---- ticks ---- */

/* Ticks [k, n) of @p lp: the running extremes of the exogenous price, and
 * the lowest of these ticks in *run_min, up to and including the first tick
 * outside [xlo, xhi] or below xmin, whose index is returned (n: none). Out
 * of line on purpose: with no call inside, the extremes stay in registers
 * (the callers' loops make calls, and x86-64 has no callee-saved
 * floating-point registers).
 *
 * Most blocks of SCAN_BLOCK ticks hold no new high and no tick outside the
 * band (a random walk of n ticks sets about sqrt(n) highs): such a block
 * changes the extremes only through its lowest tick, since with the high
 * fixed, mx - x is largest at the lowest x (rounding is monotone), so its
 * lowest and highest ticks are found two lanes at a time and the block is
 * skipped. A block that fails the test, or whose lowest tick is a zero
 * (whose sign the lanes may not keep as the tick-by-tick loop does), goes
 * through that loop. NaN ticks change nothing in either. */
#define SCAN_BLOCK 16

static inline int scan_one(double x, double xlo, double xhi, double xmin, double *mx, double *dd,
                           double *rmn) {
  if (x > *mx) *mx = x;
  else if (*mx - x > *dd) *dd = *mx - x;
  if (x < *rmn) *rmn = x;
  return x < xlo || x > xhi || x < xmin;
}

__attribute__((noinline)) static int64_t scan_ticks(const double *lp, int64_t k, int64_t n, double xlo, double xhi,
                                                    double xmin, extremes *ext, double *run_min) {
  double mx = ext->mx, mn = ext->mn, dd = ext->dd, rmn = INFINITY;
  while (n - k >= SCAN_BLOCK) {
#if defined(__SSE2__)
    __m128d h[4], l[4];
    for (int j = 0; j < 4; j++) {
      /* max(x, acc) keeps acc when x is NaN, as the loop ignores it */
      __m128d a = _mm_loadu_pd(lp + k + 2 * j), b = _mm_loadu_pd(lp + k + 8 + 2 * j);
      h[j] = _mm_max_pd(b, _mm_max_pd(a, _mm_set1_pd(-INFINITY)));
      l[j] = _mm_min_pd(b, _mm_min_pd(a, _mm_set1_pd(INFINITY)));
    }
    __m128d hv = _mm_max_pd(_mm_max_pd(h[0], h[1]), _mm_max_pd(h[2], h[3]));
    __m128d lv = _mm_min_pd(_mm_min_pd(l[0], l[1]), _mm_min_pd(l[2], l[3]));
    double bhi = _mm_cvtsd_f64(_mm_max_pd(hv, _mm_unpackhi_pd(hv, hv)));
    double blo = _mm_cvtsd_f64(_mm_min_pd(lv, _mm_unpackhi_pd(lv, lv)));
    if (bhi <= mx && bhi <= xhi && blo >= xlo && blo >= xmin && blo != 0.0) {
      if (mx - blo > dd) dd = mx - blo;
      if (blo < rmn) rmn = blo;
      k += SCAN_BLOCK;
      continue;
    }
#endif
    for (int64_t end = k + SCAN_BLOCK; k < end; k++)
      if (scan_one(lp[k], xlo, xhi, xmin, &mx, &dd, &rmn)) goto out;
  }
  for (; k < n; k++)
    if (scan_one(lp[k], xlo, xhi, xmin, &mx, &dd, &rmn)) break;
out:
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
    if (a > e->imp_hi) e->imp_hi = a;
    if (a < e->imp_lo) e->imp_lo = a;
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

/* The exogenous price's bound (MS_MAX_PRICE_MOVE), on the extremes of every
 * tick and jump so far: looked at once per run of ticks and per jump, so
 * before any discovery or fill can use a price past it. */
static ms_status price_move_error(ms_engine *e, int64_t t);

static inline ms_status check_price_move(ms_engine *e, int64_t t) {
  if (__builtin_expect(e->ext.mx <= e->lp_hi && e->ext.mn >= e->lp_lo, 1)) return MS_OK;
  return price_move_error(e, t);
}

__attribute__((noinline, cold)) static ms_status price_move_error(ms_engine *e, int64_t t) {
  char keys[256];
  ms_price_path_keys(e->cfg, ms_pricepath_regime(e->pp), keys, sizeof keys);
  int up = e->ext.mx > e->lp_hi;
  snprintf(e->why, sizeof e->why,
           "at t = %.3f s the exogenous price reached %.3g times its initial price, beyond the bound of %g either way "
           "(docs/engine.md, Money): the drift, volatility and jumps of %s move it without limit over the horizon",
           (double)t / 1000.0, exp(up ? e->ext.mx - e->lp0 : e->ext.mn - e->lp0), MS_MAX_PRICE_MOVE, keys);
  return MS_ERR_INPUT;
}

/* ---- discovery ---- */

/* Accounts whose lines are loaded together ahead of their use. */
#define WARM_BATCH 32

static ms_status push_disc(ms_engine *e, double ratio, int64_t id) {
  if (ms_big_grow((void **)&e->disc, &e->capdisc, e->ndisc + 1, sizeof *e->disc)) return MS_ERR_NOMEM;
  e->disc[e->ndisc++] = (ranked){ratio, id};
  return MS_OK;
}

/* Find the accounts eligible at the current oracle price and hand them to keepers. */
ms_status ms_eng_discover(ms_engine *e, int64_t t) {
  ms_probe pr;
  probe_at(e, t, ms_oracle_current(e->orc)->price, &pr);
  e->cand.n = 0;
  e->ndisc = 0;
  e->sum->option_revaluations_naive += e->open_options;
  if (e->fops->candidates(e->fself, &e->acc, e->mg, &pr, &e->cand)) return MS_ERR_NOMEM;
  for (size_t i = 0; i < e->cand.n; i++) {
    /* the book entries of the next batch of candidates, loaded together */
    if (i % WARM_BATCH == 0)
      for (size_t j = i; j < e->cand.n && j < i + WARM_BATCH; j++) ms_accounts_warm(&e->acc, e->cand.v[j], 1);
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
  /* A crash's candidates (8 bytes for each of up to the whole book) are not
   * needed any more: their memory back before the eligible accounts' pool
   * entries and keeper events take theirs. */
  ms_idbuf_trim(&e->cand);
  ms_sort_ranked(e->disc, e->ndisc); /* (ratio, id): a total order, so any correct sort gives the same sequence */
  for (size_t i = 0; i < e->ndisc; i++) {
    /* the order of ratios is random in the book: again in batches */
    if (i % WARM_BATCH == 0) {
      for (size_t j = i; j < e->ndisc && j < i + WARM_BATCH; j++) ms_accounts_warm(&e->acc, e->disc[j].id, 0);
      for (size_t j = i; j < e->ndisc && j < i + WARM_BATCH; j++) ms_accounts_warm(&e->acc, e->disc[j].id, 1);
    }
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
  if (e->capdisc * sizeof *e->disc >= MS_BIG_MIN) { /* likewise the ranked list, while other threads peak */
    ms_big_free(e->disc, e->capdisc * sizeof *e->disc);
    e->disc = NULL;
    e->capdisc = 0;
  }
  int64_t pend = ms_keeper_pending(e->kp);
  if (pend > e->sum->max_pending) e->sum->max_pending = pend;
  return MS_OK;
}

/* ---- funding ---- */

/* The payment at @p t (docs/engine.md, "Funding"): the paying side is
 * charged rate x price per unit, the receiving side credited the same
 * total pro rata to its units (funding.receivers pro_rata) or the same per
 * unit (rate: the rest of the market outside the book takes the
 * difference), both through the sides' shifts (every account of a side
 * pays or receives the same per unit). Accounts waiting for a keeper pay
 * and receive like the others: their positions are open. */
static ms_status pay_funding(ms_engine *e, int64_t t) {
  ms_funding_pay pay;
  ms_funding_settle(e->fnd, e->mk, &pay);
  ms_path_summary *sm = e->sum;
  e->funding_payments++;
  e->funding_rate_sum += pay.rate;
  e->funding_last = pay.rate;
  if (!(pay.rate >= sm->funding_rate_min)) sm->funding_rate_min = pay.rate;
  if (!(pay.rate <= sm->funding_rate_max)) sm->funding_rate_max = pay.rate;
  int64_t tn = ms_funding_next(e->fnd);
  ms_status s = tn != INT64_MAX ? ms_queue_push(e->q, tn, MS_EV_FUNDING, 0, 0) : MS_OK;
  if (s || pay.rate == 0) return s;
  ms_funding_flow f;
  ms_funding_flow_of(&e->cfg->funding, pay.rate, exp(log_mark_at(e, t)), ms_oracle_current(e->orc)->price, exp(e->lp),
                     e->acc.open_qty, e->book->open_qty, &f);
  if (f.charge > 0) ms_accounts_charge(&e->acc, f.payer, f.charge);
  if (f.credit > 0) ms_accounts_credit(&e->acc, 1 - f.payer, f.credit);
  double paid = f.paid, got = f.got;
  int payer = f.payer;
  if (paid == 0 && got == 0) return MS_OK;
  sm->funding_paid += paid;
  sm->funding_long_net += payer == 0 ? -paid : got;
  sm->funding_outside += got - paid;
  ms_keeper_unpark_all(e->kp); /* parked accounts' collateral changed, either way */
  return ms_eng_discover(e, t);
}

/* ---- the path ---- */

#define WARM_MAX 4096

/* Load the accounts of the keeper events in the queue's front: their slots
 * first, then what touching them reads (ms_accounts_warm). */
static void warm_accounts(const ms_engine *e) {
  int64_t ids[WARM_MAX];
  size_t n = ms_queue_front(e->q, MS_EV_KEEPER_READY, ids, WARM_MAX);
  for (size_t i = 0; i < n; i++) ms_accounts_warm(&e->acc, ids[i], 0);
  for (size_t i = 0; i < n; i++) ms_accounts_warm(&e->acc, ids[i], 1);
}

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
  if (tr->funding_rate) tr->funding_rate[k] = e->funding_last;
  e->liq_since_sample = 0;
}

ms_status ms_engine_run_path(ms_engine *e, uint64_t path, ms_path_summary *out, ms_trace *trace,
                             ms_error *err) {
  if (e->multi) return ms_multi_run_path(e, e->multi, path, out, trace, err);
  const ms_config *cfg = e->cfg;
  ms_status s = ms_eng_path_start(e, path, out, err);
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
  uint64_t warm_loads = ms_queue_loads(e->q);
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
    if (e->nev % MS_CANCEL_CHECK_EVENTS == 0 && (s = ms_eng_check_work(e, ev.t))) break;
    switch ((ms_event_kind)ev.kind) {
    case MS_EV_TICK: {
      int64_t used = run_ticks(e, ev.t, ev.count, &s);
      ms_queue_clock_advance(e->q, used);
      if (!s) s = check_price_move(e, ev.t + (used - 1) * e->cfg->step);
      break;
    }
    case MS_EV_REGIME:
    case MS_EV_JUMP: {
      int r = ms_pricepath_on_event(e->pp, &ev, e->q);
      if (r < 0) { s = MS_ERR_NOMEM; break; }
      if (e->fnd && ev.kind == MS_EV_REGIME && r != MS_PRICEPATH_STALE)
        ms_funding_regime(e->fnd, ev.t, ms_pricepath_regime(e->pp));
      /* No generated tick may run past one of the model's live events. */
      assert(r == MS_PRICEPATH_STALE || e->tick_pos == e->tick_n);
      if (r == 1) {
        e->lp = ms_pricepath_log_price(e->pp);
        observe_exog(e, e->lp);
        if ((s = check_price_move(e, ev.t))) break;
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
      if (!s && published) s = ms_eng_discover(e, ev.t);
      break;
    }
    case MS_EV_KEEPER_READY: {
      /* The keeper events' accounts are random lines of a large book. When
       * the queue has moved a batch of events into its front (the events
       * of the next 64 ms), their accounts are loaded together: their
       * misses overlap, instead of two dependent misses per liquidation. */
      if (ms_queue_loads(e->q) != warm_loads) {
        warm_loads = ms_queue_loads(e->q);
        warm_accounts(e);
      }
      int r = ms_keeper_on_ready(e->kp, &ev, e->q);
      if (r < 0) s = MS_ERR_NOMEM;
      else if (r == 1) s = ms_eng_act(e, ev.a, ev.b, ev.t, 0);
      break;
    }
    case MS_EV_BLOCK: {
      int64_t id, seq;
      /* The parked accounts' eligibility probes: the account index's
       * boundaries at the oracle price, with the ratio of the moment (see
       * park() in liquidate.c). */
      double P = ms_oracle_current(e->orc)->price;
      const double elig[2] = {ms_margin_boundary(e->mg, 1, P, e->E, 0.0), ms_margin_boundary(e->mg, 0, P, e->E, 0.0)};
      if (ms_keeper_block_begin(e->kp, exp(log_mark_at(e, ev.t)), elig) < 0) {
        s = MS_ERR_NOMEM;
        break;
      }
      while (!s && ms_keeper_block_next(e->kp, &id, &seq)) s = ms_eng_act(e, id, seq, ev.t, e->cfg->keepers.capacity.per_block > 0);
      if (!s) s = ms_keeper_block_end(e->kp, ev.t, e->q);
      break;
    }
    case MS_EV_EXPIRY:
      s = ms_eng_expire(e, ev.t);
      break;
    case MS_EV_FUNDING:
      s = pay_funding(e, ev.t);
      break;
    case MS_EV_MARGIN_UPDATE: {
      int64_t next = ev.t + ms_margin_update_every(cfg);
      if (next <= cfg->horizon) s = ms_queue_push(e->q, next, MS_EV_MARGIN_UPDATE, 0, 0);
      const ms_oracle_price *op = ms_oracle_current(e->orc);
      int rose = ms_margin_update(e->mg, op->price, op->t_obs);
      /* Parked accounts need nothing: their eligibility bounds leave the
       * ratio out, and each block probes them with the ratio of the moment
       * (park() in liquidate.c). */
      /* a rise of the ratio is a liquidation trigger: check at once */
      if (!s && rose) {
        out->margin_updates_up++;
        if (ms_margin_ratio(e->mg) > out->max_margin_ratio) out->max_margin_ratio = ms_margin_ratio(e->mg);
        s = ms_eng_discover(e, ev.t);
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
  if (!s) {
    ms_eng_path_end(e, out);
    s = ms_eng_records_end(e, out); /* the last cascade, the row's cascade columns, the last blocks */
  }
  if (s && e->sink_failed) return ms_error_set(err, s, "path %llu: %s", (unsigned long long)path, e->sink_err.msg);
  if (s == MS_ERR_CANCELLED) return ms_error_set(err, s, "path %llu: interrupted", (unsigned long long)path);
  if (s) return ms_error_set(err, s, "path %llu: %s", (unsigned long long)path, e->why[0] ? e->why : ms_strerror(s));
  return MS_OK;
}
