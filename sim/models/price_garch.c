/*
 * price_garch — market.model garch: GARCH(1,1) log returns at a coarse
 * resolution, bridged to the tick (market.garch, docs/scenario.md
 * "GARCH"), the ms_price_garch table.
 *
 * Period j (market.garch.resolution of simulated time, n ticks) has
 * conditional variance s2_j: its log return is r_j = m_j + e_j with
 * e_j = sqrt(s2_j) z_j, z_j standard normal or Student-t scaled to unit
 * variance, m_j = mu R / year - s2_j / 2 (so that E[S] grows at the
 * drift mu: exactly for normal z; a t has no exponential moment), and
 * s2_{j+1} = omega + alpha e_j^2 + beta s2_j, starting at the
 * unconditional omega / (1 - alpha - beta). Inside the period the log
 * price is a Brownian bridge to r_j of per-tick variance s2_j / n: sampled
 * at period ends the path is exactly the GARCH process, and between them
 * it moves as Brownian motion would given the period's return.
 *
 * Randomness: the innovations z_j from stream REGIME (the model has no
 * regime chain), the bridges' normals from stream PRICE, period after
 * period, so a path is a function of (seed, path) alone.
 */
#include "models/pricepath.h"
#include "models/pricepath_int.h"

#include <assert.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/units.h"

typedef struct garch_path {
  /* configuration, fixed for the run */
  int64_t per;          /* ticks per period */
  int64_t step, horizon;
  double omega, alpha, beta, mu_period, s2_0, log_p0, vol;
  int t_innov;
  double nu, t_scale;   /* t draws times t_scale have unit variance */

  gsl_rng *r_innov, *r_noise;
  double *buf, *z;
  int64_t cur;          /* the period in buf, -1 none */
  double s2;            /* variance of period cur + 1 */
  double x;             /* log price at the end of period cur */
  double lp;

  ms_pricetape *tape;
  ms_tape_mode tape_mode;
} garch_path;

static void garch_free(void *state) {
  garch_path *gp = state;
  if (!gp) return;
  ms_rng_free(gp->r_innov);
  ms_rng_free(gp->r_noise);
  free(gp->buf);
  free(gp->z);
  free(gp);
}

static ms_status garch_new(void **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  const ms_garch_cfg *g = &cfg->market.garch;
  garch_path *gp = calloc(1, sizeof *gp);
  if (!gp) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  double year_ms = cfg->market.days_per_year * (double)MS_MS_PER_DAY;
  gp->per = g->resolution / cfg->step;
  gp->step = cfg->step;
  gp->horizon = cfg->horizon;
  gp->omega = g->omega;
  gp->alpha = g->alpha;
  gp->beta = g->beta;
  gp->mu_period = g->drift * (double)g->resolution / year_ms;
  gp->s2_0 = g->omega / (1.0 - g->alpha - g->beta);
  gp->log_p0 = log(cfg->market.initial_price);
  gp->vol = g->uncond_vol;
  gp->t_innov = g->innovations == MS_INNOV_T;
  gp->nu = g->nu;
  gp->t_scale = sqrt((g->nu - 2.0) / g->nu);
  gp->buf = malloc((size_t)gp->per * sizeof *gp->buf);
  gp->z = malloc((size_t)gp->per * sizeof *gp->z);
  ms_status s = (!gp->buf || !gp->z) ? ms_error_set(err, MS_ERR_NOMEM, "out of memory for a period of %lld ticks",
                                                    (long long)gp->per)
                                     : MS_OK;
  if (!s) s = ms_rng_new(&gp->r_innov, err);
  if (!s) s = ms_rng_new(&gp->r_noise, err);
  if (s) { garch_free(gp); return s; }
  *out = gp;
  return MS_OK;
}

static int garch_same_path(const ms_config *a, const ms_config *b) {
  const ms_garch_cfg *x = &a->market.garch, *y = &b->market.garch;
  return a->seed == b->seed && a->step == b->step && a->horizon == b->horizon &&
         a->market.initial_price == b->market.initial_price && a->market.days_per_year == b->market.days_per_year &&
         x->resolution == y->resolution && x->omega == y->omega && x->alpha == y->alpha && x->beta == y->beta &&
         x->drift == y->drift && x->innovations == y->innovations && (x->innovations != MS_INNOV_T || x->nu == y->nu);
}

static void garch_use_tape(void *state, ms_pricetape *tape, ms_tape_mode mode) {
  garch_path *gp = state;
  assert((mode == MS_TAPE_OFF) == (tape == NULL));
  gp->tape = tape;
  gp->tape_mode = mode;
}

static ms_status garch_start(void *state, uint64_t seed, uint64_t path, ms_queue *q) {
  (void)q;
  garch_path *gp = state;
  ms_rng_seed(gp->r_innov, seed, path, MS_STREAM_REGIME);
  ms_rng_seed(gp->r_noise, seed, path, MS_STREAM_PRICE);
  gp->cur = -1;
  gp->s2 = gp->s2_0;
  gp->x = gp->lp = gp->log_p0;
  if (gp->tape_mode == MS_TAPE_RECORD) {
    gp->tape->seed = seed;
    gp->tape->path = path;
    gp->tape->filled = 0;
  } else if (gp->tape_mode == MS_TAPE_REPLAY) {
    assert(gp->tape->seed == seed && gp->tape->path == path);
  }
  return MS_OK;
}

static int garch_on_event(void *state, const ms_event *ev, ms_queue *q) {
  (void)state, (void)ev, (void)q;
  return 0; /* no events of its own */
}

/* The ticks of the next period into buf. */
static void next_period(garch_path *gp) {
  double z = gp->t_innov ? gsl_ran_tdist(gp->r_innov, gp->nu) * gp->t_scale : ms_rng_gaussian(gp->r_innov);
  double s2 = gp->s2, e = sqrt(s2) * z, r = gp->mu_period - 0.5 * s2 + e;
  ms_bridge(gp->buf, gp->per, gp->x, gp->x + r, sqrt(s2 / (double)gp->per), gp->r_noise, gp->z);
  gp->x = gp->buf[gp->per - 1];
  gp->s2 = gp->omega + gp->alpha * e * e + gp->beta * s2;
  gp->cur++;
}

static size_t garch_fill(void *state, int64_t t, size_t n, double *out) {
  garch_path *gp = state;
  assert(t >= gp->step && t % gp->step == 0 && t <= gp->horizon);
  int64_t left = (gp->horizon - t) / gp->step + 1;
  if ((int64_t)n > left) n = (size_t)left;
  if (n == 0) return 0;
  int64_t k0 = t / gp->step - 1;
  if (gp->tape_mode == MS_TAPE_REPLAY) {
    assert(k0 + (int64_t)n <= gp->tape->filled);
    memcpy(out, gp->tape->lp + k0, n * sizeof *out);
    gp->lp = out[n - 1];
    return n;
  }
  size_t done = 0;
  while (done < n) {
    int64_t g = k0 + (int64_t)done, j = g / gp->per, pos = g % gp->per;
    while (gp->cur < j) next_period(gp); /* ticks come in order: at most one step */
    size_t m = (size_t)(gp->per - pos);
    if (m > n - done) m = n - done;
    memcpy(out + done, gp->buf + pos, m * sizeof *out);
    done += m;
  }
  gp->lp = out[n - 1];
  if (gp->tape_mode == MS_TAPE_RECORD) {
    assert(k0 == gp->tape->filled);
    memcpy(gp->tape->lp + k0, out, n * sizeof *out);
    gp->tape->filled = k0 + (int64_t)n;
  }
  return n;
}

static double garch_log_price(const void *state) { return ((const garch_path *)state)->lp; }

static int garch_regime(const void *state) {
  (void)state;
  return 0;
}

static void garch_tally_at(const void *state, int64_t t, ms_pricepath_tally *out) {
  (void)state;
  memset(out, 0, sizeof *out);
  out->time_in_regime[0] = t;
}

static void garch_stationary(const void *state, double *pi) {
  (void)state;
  pi[0] = 1.0;
}

/* Options are valued, and a dynamic requirement starts, at the
 * unconditional volatility (the account index's bands need a fixed set). */
static double garch_vol(const void *state) { return ((const garch_path *)state)->vol; }

static int garch_vol_states(const ms_config *cfg, double *vols) {
  vols[0] = cfg->market.garch.uncond_vol;
  return 1;
}

const ms_price_model_type ms_price_garch = {
    .name = "garch",
    .create = garch_new,
    .free = garch_free,
    .same_path = garch_same_path,
    .use_tape = garch_use_tape,
    .start = garch_start,
    .on_event = garch_on_event,
    .fill = garch_fill,
    .log_price = garch_log_price,
    .regime = garch_regime,
    .tally_at = garch_tally_at,
    .stationary = garch_stationary,
    .vol = garch_vol,
    .vol_states = garch_vol_states,
};
