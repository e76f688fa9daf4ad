/*
 * engine — one path's event loop (see engine.h).
 *
 * The exogenous log prices come from the price model in blocks of up to
 * TICK_BLOCK ticks, generated ahead of the clock: a block never spans one
 * of the model's own events, and no other event changes the exogenous path,
 * so a block stays valid while oracle, keeper or sample events interleave.
 */
#include "marginsim/engine.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "marginsim/pricepath.h"
#include "marginsim/queue.h"

#define TICK_BLOCK 512

struct ms_engine {
  const ms_config *cfg;
  ms_queue *q;
  ms_pricepath *pp;
  double ticks[TICK_BLOCK];  /* exogenous log prices of upcoming ticks */
  size_t tick_pos, tick_n;   /* ticks[tick_pos] is the clock's next tick */

  /* path state */
  double lp;                 /* current exogenous log price */
  double lp_max, lp_min;     /* running extremes of the log price */
  double dd_log;             /* largest fall from a running peak, in log terms */
};

int64_t ms_trace_len(const ms_config *cfg) { return cfg->horizon / cfg->output.timeseries.every + 1; }

ms_status ms_engine_new(ms_engine **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  ms_engine *e = calloc(1, sizeof *e);
  if (!e) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  e->cfg = cfg;
  ms_status s = ms_queue_new(&e->q, 256, err);
  if (!s) s = ms_pricepath_new(&e->pp, cfg, err);
  if (s) { ms_engine_free(e); return s; }
  *out = e;
  return MS_OK;
}

void ms_engine_free(ms_engine *e) {
  if (!e) return;
  ms_queue_free(e->q);
  ms_pricepath_free(e->pp);
  free(e);
}

static inline void observe(ms_engine *e, double lp) {
  if (lp > e->lp_max) e->lp_max = lp;
  else if (e->lp_max - lp > e->dd_log) e->dd_log = e->lp_max - lp;
  if (lp < e->lp_min) e->lp_min = lp;
}

/* Consume up to @p count ticks starting at time @p t; returns how many. */
static int64_t run_ticks(ms_engine *e, int64_t t, int64_t count) {
  if (e->tick_pos == e->tick_n) {
    e->tick_n = ms_pricepath_fill(e->pp, t, TICK_BLOCK, e->ticks);
    e->tick_pos = 0;
    assert(e->tick_n > 0);
  }
  int64_t avail = (int64_t)(e->tick_n - e->tick_pos);
  int64_t m = count < avail ? count : avail;
  const double *lp = e->ticks + e->tick_pos;
  double mx = e->lp_max, mn = e->lp_min, dd = e->dd_log;
  for (int64_t k = 0; k < m; k++) {
    double x = lp[k];
    if (x > mx) mx = x;
    else if (mx - x > dd) dd = mx - x;
    if (x < mn) mn = x;
  }
  e->lp_max = mx;
  e->lp_min = mn;
  e->dd_log = dd;
  e->lp = lp[m - 1];
  e->tick_pos += (size_t)m;
  return m;
}

ms_status ms_engine_run_path(ms_engine *e, uint64_t path, ms_path_summary *out, ms_trace *trace,
                             ms_error *err) {
  const ms_config *cfg = e->cfg;
  ms_queue_reset(e->q);
  e->tick_pos = e->tick_n = 0;
  ms_status s = ms_pricepath_start(e->pp, cfg->seed, path, e->q);
  if (s) return ms_error_set(err, s, "path %llu: cannot schedule events", (unsigned long long)path);
  ms_queue_clock_start(e->q, cfg->step, cfg->step, cfg->horizon);
  e->lp = e->lp_max = e->lp_min = ms_pricepath_log_price(e->pp);
  e->dd_log = 0.0;

  int64_t every = cfg->output.timeseries.every, sample = 0;
  if (trace) {
    trace->price[0] = exp(e->lp);
    trace->regime[0] = ms_pricepath_regime(e->pp);
    sample = 1;
    if (every <= cfg->horizon && ms_queue_push(e->q, every, MS_EV_SAMPLE, 0, 0))
      return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  }

  ms_event ev;
  while (ms_queue_pop(e->q, &ev)) {
    switch ((ms_event_kind)ev.kind) {
    case MS_EV_TICK:
      ms_queue_clock_advance(e->q, run_ticks(e, ev.t, ev.count));
      break;
    case MS_EV_REGIME:
    case MS_EV_JUMP: {
      int r = ms_pricepath_on_event(e->pp, &ev, e->q);
      if (r < 0) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
      /* No generated tick may run past one of the model's live events. */
      assert(r == MS_PRICEPATH_STALE || e->tick_pos == e->tick_n);
      if (r == 1) {
        e->lp = ms_pricepath_log_price(e->pp);
        observe(e, e->lp);
      }
      break;
    }
    case MS_EV_SAMPLE:
      trace->price[sample] = exp(e->lp);
      trace->regime[sample] = ms_pricepath_regime(e->pp);
      sample++;
      if (ev.t + every <= cfg->horizon && ms_queue_push(e->q, ev.t + every, MS_EV_SAMPLE, 0, 0))
        return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
      break;
    default:
      return ms_error_set(err, MS_ERR_INTERNAL, "path %llu: unexpected event kind %u",
                          (unsigned long long)path, ev.kind);
    }
  }

  ms_pricepath_tally tally;
  ms_pricepath_tally_at(e->pp, cfg->horizon, &tally);
  memset(out, 0, sizeof *out);
  out->path = path;
  out->final_price = exp(e->lp);
  out->min_price = exp(e->lp_min);
  out->max_price = exp(e->lp_max);
  out->max_drawdown = -expm1(-e->dd_log);
  out->jumps = tally.jumps;
  out->regime_switches = tally.switches;
  for (int r = 0; r < cfg->market.nregimes; r++)
    out->time_in_regime[r] = (double)tally.time_in_regime[r] / 1000.0;
  return MS_OK;
}
