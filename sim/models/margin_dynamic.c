/*
 * margin_dynamic — static margin with a ratio that follows a realized
 * volatility estimate of the published price (margin.h).
 */
#include <assert.h>
#include <stdlib.h>

#include "models/margin_int.h"

/* The model's own fields (m->state). sigma_hat^2 = (sum of squared log
 * returns) / (sum of their durations), both over the same published
 * observations (see dynamic_update). */
typedef struct {
  ms_dynamic_cfg dyn;
  double sigma0;                     /* initial sigma_hat, annualised */
  double s2;                         /* sigma_hat^2, per year */
  double last_price;                 /* USD, the last observation used */
  int64_t last_obs;                  /* ms, its observation time */
  double ew_r2, ew_dt;               /* ewma: decayed sums of r^2 and of durations (years) */
  double *ring_r2, *ring_dt;         /* window: r^2 and durations (years) per update interval */
  int64_t nring, ring_pos;           /* window: buckets, the one the next update fills */
  int64_t ring_used;                 /* window: buckets with a sample (dt > 0) */
  double ring_r2_sum, ring_dt_sum;
} dyn_state;

/* ---- dynamic margin ----
 *
 * sigma_hat^2 is realized variance per unit of time: the sum of squared log
 * returns between the published prices the updates see, divided by the sum
 * of the times between their observations. A return is taken only when a
 * new observation was published since the previous update (an update with
 * none holds the estimate: a piecewise-constant price carries no return), and
 * over the time between the two observations, not between the updates.
 *
 * Why the ratio of sums and not an average of r^2 / dt: a push oracle
 * publishes when the price has moved by the deviation D, so r^2 is about D^2
 * whatever dt was, and E[r^2 / dt] ~ D^2 E[1 / dt] > D^2 / E[dt] = sigma^2
 * (Jensen): an average of per-sample rates, each weighted alike, is biased
 * up. The ratio of sums is not: for a log price that is a martingale (up to
 * its small drift) sampled at stopping times, E[sum r^2] = sigma^2 E[sum dt]
 * (optional stopping), whatever rule picks the publish times. Both sums
 * carry the same weights, which keeps that.
 *
 * ewma: both sums decay by 2^(-dt / half_life) per dt of elapsed time, so
 * the memory is in time, whatever the publish or update rate. They start
 * as an infinite history at sigma_0: ew_dt = half_life / ln 2 (the weight
 * of all past time), ew_r2 = sigma_0^2 ew_dt.
 * window: the sums over the last nring update intervals; the ring starts
 * as nring intervals at sigma_0. If the window holds no time at all (no
 * publish in it), the estimate is held. */

static void set_dynamic_ratio(ms_margin *m, double ratio) {
  const dyn_state *d = m->state;
  m->maintenance = ratio;
  m->initial = ratio * d->dyn.initial_multiplier;
  m->ratio_side[0] = m->ratio_side[1] = ratio;
}

static double dynamic_target(const ms_margin *m) {
  const dyn_state *d = m->state;
  double h = (double)d->dyn.liquidation_horizon / m->year_ms;
  double r = d->dyn.k * sqrt(d->s2) * sqrt(h);
  return r < d->dyn.floor ? d->dyn.floor : r > d->dyn.cap ? d->dyn.cap : r;
}

static void dynamic_path_start(ms_margin *m, double p0) {
  dyn_state *d = m->state;
  d->s2 = d->sigma0 * d->sigma0;
  d->last_price = p0;
  d->last_obs = 0;
  d->ew_dt = (double)d->dyn.half_life / m->year_ms / LN2;
  d->ew_r2 = d->s2 * d->ew_dt;
  if (d->ring_r2) {
    double u = (double)d->dyn.update_every / m->year_ms;
    for (int64_t i = 0; i < d->nring; i++) {
      d->ring_r2[i] = d->s2 * u;
      d->ring_dt[i] = u;
    }
    d->ring_r2_sum = d->s2 * u * (double)d->nring;
    d->ring_dt_sum = u * (double)d->nring;
    d->ring_pos = 0;
    d->ring_used = d->nring;
  }
  set_dynamic_ratio(m, dynamic_target(m));
}

static int dynamic_update(ms_margin *m, double P, int64_t t_obs) {
  dyn_state *d = m->state;
  assert(t_obs >= d->last_obs);
  double r2 = 0, dt = 0; /* this update's squared return and its duration (years) */
  int64_t dt_ms = t_obs - d->last_obs;
  if (dt_ms > 0) {
    double r = log(P / d->last_price);
    r2 = r * r;
    dt = (double)dt_ms / m->year_ms;
    d->last_price = P;
    d->last_obs = t_obs;
  }
  if (d->ring_r2) {
    d->ring_r2_sum += r2 - d->ring_r2[d->ring_pos];
    d->ring_dt_sum += dt - d->ring_dt[d->ring_pos];
    d->ring_used += (dt > 0) - (d->ring_dt[d->ring_pos] > 0);
    d->ring_r2[d->ring_pos] = r2;
    d->ring_dt[d->ring_pos] = dt;
    if (++d->ring_pos == d->nring) {
      d->ring_pos = 0;
      double a = 0, b = 0; /* re-add from scratch once per window: no drift from running sums */
      for (int64_t i = 0; i < d->nring; i++) {
        a += d->ring_r2[i];
        b += d->ring_dt[i];
      }
      d->ring_r2_sum = a;
      d->ring_dt_sum = b;
    }
    /* counted, not read from the running sum, which may keep a rounding residue */
    if (d->ring_used > 0) d->s2 = d->ring_r2_sum / d->ring_dt_sum;
  } else if (dt_ms > 0) {
    double f = exp2(-(double)dt_ms / (double)d->dyn.half_life);
    d->ew_r2 = f * d->ew_r2 + r2;
    d->ew_dt = f * d->ew_dt + dt;
    d->s2 = d->ew_r2 / d->ew_dt;
  }
  double old = m->maintenance, target = dynamic_target(m);
  double next = target > old + d->dyn.max_step ? old + d->dyn.max_step : target;
  set_dynamic_ratio(m, next);
  return next > old;
}

static ms_status dynamic_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  const ms_margin_cfg *mc = &cfg->margin;
  dyn_state *d = calloc(1, sizeof *d);
  if (!d) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  m->state = d;
  d->dyn = mc->dynamic;
  d->sigma0 = mc->dynamic.initial_vol > 0 ? mc->dynamic.initial_vol : cfg->market.entry_vol;
  if (d->dyn.estimator == MS_VOLEST_WINDOW) {
    d->nring = (d->dyn.window + d->dyn.update_every - 1) / d->dyn.update_every;
    d->ring_r2 = malloc((size_t)d->nring * sizeof *d->ring_r2);
    d->ring_dt = malloc((size_t)d->nring * sizeof *d->ring_dt);
    if (!d->ring_r2 || !d->ring_dt) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  }
  dynamic_path_start(m, cfg->market.initial_price);
  return MS_OK;
}

static void dynamic_free(ms_margin *m) {
  dyn_state *d = m->state;
  if (!d) return;
  free(d->ring_r2);
  free(d->ring_dt);
  free(d);
}

static double dynamic_sigma(const ms_margin *m) { return sqrt(((const dyn_state *)m->state)->s2); }

static int64_t dynamic_update_every(const ms_config *cfg) { return cfg->margin.dynamic.update_every; }

/* static with a moving ratio: the same requirements, per-path state */
const ms_margin_type ms_margin_dynamic = {
    .name = "dynamic", .key_mode = MS_KEY_COLLATERAL, .ratio_moves = 1,
    .init = dynamic_init, .free = dynamic_free, .path_start = dynamic_path_start,
    .update_every = dynamic_update_every, .update_key = "margin.dynamic.update_every", .update = dynamic_update,
    .sigma = dynamic_sigma,
    .pos_mm = ms_static_pos_mm, .pos_im = ms_static_pos_im};
