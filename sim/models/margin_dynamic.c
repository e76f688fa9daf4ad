/*
 * margin_dynamic — static margin with a ratio that follows a realized
 * volatility estimate of the published price (margin.h).
 */
#include <assert.h>
#include <stdlib.h>

#include "models/margin_int.h"

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
  m->maintenance = ratio;
  m->initial = ratio * m->dyn.initial_multiplier;
  m->ratio_side[0] = m->ratio_side[1] = ratio;
}

static double dynamic_target(const ms_margin *m) {
  double h = (double)m->dyn.liquidation_horizon / m->year_ms;
  double r = m->dyn.k * sqrt(m->s2) * sqrt(h);
  return r < m->dyn.floor ? m->dyn.floor : r > m->dyn.cap ? m->dyn.cap : r;
}

static void dynamic_path_start(ms_margin *m, double p0) {
  m->s2 = m->sigma0 * m->sigma0;
  m->last_price = p0;
  m->last_obs = 0;
  m->ew_dt = (double)m->dyn.half_life / m->year_ms / LN2;
  m->ew_r2 = m->s2 * m->ew_dt;
  if (m->ring_r2) {
    double u = (double)m->dyn.update_every / m->year_ms;
    for (int64_t i = 0; i < m->nring; i++) {
      m->ring_r2[i] = m->s2 * u;
      m->ring_dt[i] = u;
    }
    m->ring_r2_sum = m->s2 * u * (double)m->nring;
    m->ring_dt_sum = u * (double)m->nring;
    m->ring_pos = 0;
    m->ring_used = m->nring;
  }
  set_dynamic_ratio(m, dynamic_target(m));
}

static int dynamic_update(ms_margin *m, double P, int64_t t_obs) {
  assert(t_obs >= m->last_obs);
  double r2 = 0, dt = 0; /* this update's squared return and its duration (years) */
  int64_t dt_ms = t_obs - m->last_obs;
  if (dt_ms > 0) {
    double r = log(P / m->last_price);
    r2 = r * r;
    dt = (double)dt_ms / m->year_ms;
    m->last_price = P;
    m->last_obs = t_obs;
  }
  if (m->ring_r2) {
    m->ring_r2_sum += r2 - m->ring_r2[m->ring_pos];
    m->ring_dt_sum += dt - m->ring_dt[m->ring_pos];
    m->ring_used += (dt > 0) - (m->ring_dt[m->ring_pos] > 0);
    m->ring_r2[m->ring_pos] = r2;
    m->ring_dt[m->ring_pos] = dt;
    if (++m->ring_pos == m->nring) {
      m->ring_pos = 0;
      double a = 0, b = 0; /* re-add from scratch once per window: no drift from running sums */
      for (int64_t i = 0; i < m->nring; i++) {
        a += m->ring_r2[i];
        b += m->ring_dt[i];
      }
      m->ring_r2_sum = a;
      m->ring_dt_sum = b;
    }
    /* counted, not read from the running sum, which may keep a rounding residue */
    if (m->ring_used > 0) m->s2 = m->ring_r2_sum / m->ring_dt_sum;
  } else if (dt_ms > 0) {
    double d = exp2(-(double)dt_ms / (double)m->dyn.half_life);
    m->ew_r2 = d * m->ew_r2 + r2;
    m->ew_dt = d * m->ew_dt + dt;
    m->s2 = m->ew_r2 / m->ew_dt;
  }
  double old = m->maintenance, target = dynamic_target(m);
  double next = target > old + m->dyn.max_step ? old + m->dyn.max_step : target;
  set_dynamic_ratio(m, next);
  return next > old;
}

static ms_status dynamic_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  const ms_margin_cfg *mc = &cfg->margin;
  m->dyn = mc->dynamic;
  m->sigma0 = mc->dynamic.initial_vol > 0 ? mc->dynamic.initial_vol : cfg->market.entry_vol;
  if (m->dyn.estimator == MS_VOLEST_WINDOW) {
    m->nring = (m->dyn.window + m->dyn.update_every - 1) / m->dyn.update_every;
    m->ring_r2 = malloc((size_t)m->nring * sizeof *m->ring_r2);
    m->ring_dt = malloc((size_t)m->nring * sizeof *m->ring_dt);
    if (!m->ring_r2 || !m->ring_dt) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  }
  dynamic_path_start(m, cfg->market.initial_price);
  return MS_OK;
}

static void dynamic_free(ms_margin *m) {
  free(m->ring_r2);
  free(m->ring_dt);
}

static int64_t dynamic_update_every(const ms_config *cfg) { return cfg->margin.dynamic.update_every; }

/* static with a moving ratio: the same requirements, per-path state */
const ms_margin_type ms_margin_dynamic = {
    .name = "dynamic", .key_mode = MS_KEY_COLLATERAL, .ratio_moves = 1,
    .init = dynamic_init, .free = dynamic_free, .path_start = dynamic_path_start,
    .update_every = dynamic_update_every, .update = dynamic_update,
    .pos_mm = ms_static_pos_mm, .pos_im = ms_static_pos_im};
