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
 * With market.garch.regimes, omega, alpha, beta and mu are those of the
 * regime of market.regimes that holds in the period: the chain (its mean
 * durations, transition weights and start) switches at period starts, with
 * probability 1 - exp(-R / mean_duration) per period, and the one variance
 * recursion takes the parameters of the period it enters; the path starts
 * at the start regime's unconditional variance.
 *
 * Randomness: the innovations z_j from stream REGIME, the bridges' normals
 * from stream PRICE, the regime chain from stream JUMP, period after
 * period, so a path is a function of (seed, path) alone.
 */
#include "models/pricepath.h"
#include "models/pricepath_int.h"

#include <assert.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/units.h"

typedef struct garch_path {
  /* configuration, fixed for the run */
  int64_t period;       /* ms */
  int nreg;             /* parameter sets: 1, or one per regime */
  int start_index;      /* -1: stationary */
  double omega[MS_MAX_REGIMES], alpha[MS_MAX_REGIMES], beta[MS_MAX_REGIMES], mu_period[MS_MAX_REGIMES];
  double s2_0[MS_MAX_REGIMES], vol[MS_MAX_REGIMES];
  double p_leave[MS_MAX_REGIMES];                  /* per period */
  double next_cum[MS_MAX_REGIMES][MS_MAX_REGIMES]; /* cumulative target weights */
  double pi[MS_MAX_REGIMES], pi_cum[MS_MAX_REGIMES];
  double log_p0;
  int t_innov;
  double nu, t_scale;   /* t draws times t_scale have unit variance */

  gsl_rng *r_innov, *r_noise, *r_chain;
  int reg;              /* the regime of period cur */
  double e_prev;        /* the last period's shock */
  int64_t t_reg;        /* when the regime began (ms) */
  ms_pricepath_tally tally;
  ms_unit_ticks u;      /* a period a unit: its ticks, the tape */
  double *z;            /* the bridge's normals */
  double s2;            /* variance of period u.cur + 1 */
  double x;             /* log price at the end of period u.cur */
} garch_path;

static void garch_free(void *state) {
  garch_path *gp = state;
  if (!gp) return;
  ms_rng_free(gp->r_innov);
  ms_rng_free(gp->r_noise);
  ms_rng_free(gp->r_chain);
  free(gp->u.buf);
  free(gp->z);
  free(gp);
}

static ms_status garch_new(void **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  const ms_garch_cfg *g = &cfg->market.garch;
  garch_path *gp = calloc(1, sizeof *gp);
  if (!gp) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  const ms_market_cfg *mk = &cfg->market;
  double year_ms = mk->days_per_year * (double)MS_MS_PER_DAY;
  gp->u.per = g->resolution / cfg->step;
  gp->u.step = cfg->step;
  gp->u.horizon = cfg->horizon;
  gp->period = g->resolution;
  gp->nreg = g->nregimes ? g->nregimes : 1;
  gp->start_index = g->nregimes ? mk->start_index : 0;
  for (int r = 0; r < gp->nreg; r++) {
    ms_garch_params q = g->nregimes ? g->regimes[r] : (ms_garch_params){g->omega, g->alpha, g->beta, g->drift};
    gp->omega[r] = q.omega;
    gp->alpha[r] = q.alpha;
    gp->beta[r] = q.beta;
    gp->mu_period[r] = q.drift * (double)g->resolution / year_ms;
    gp->s2_0[r] = q.omega / (1.0 - q.alpha - q.beta);
    gp->vol[r] = g->nregimes ? g->regime_vol[r] : g->uncond_vol;
    gp->pi[r] = g->nregimes ? mk->stationary[r] : 1.0;
    gp->pi_cum[r] = (r ? gp->pi_cum[r - 1] : 0.0) + gp->pi[r];
    double d = (double)mk->regimes[r].mean_duration;
    gp->p_leave[r] = gp->nreg > 1 && d > 0 ? -expm1(-(double)g->resolution / d) : 0.0;
    double tot = 0.0, w[MS_MAX_REGIMES], acc = 0.0;
    for (int j = 0; j < gp->nreg; j++) {
      w[j] = mk->transition.rows ? mk->transition.v[r][j] : (j == r ? 0.0 : 1.0);
      tot += w[j];
    }
    for (int j = 0; j < gp->nreg; j++) {
      acc += tot > 0 ? w[j] / tot : 0.0;
      gp->next_cum[r][j] = acc;
    }
  }
  gp->pi_cum[gp->nreg - 1] = 1.0;
  gp->log_p0 = log(mk->initial_price);
  gp->t_innov = g->innovations == MS_INNOV_T;
  gp->nu = g->nu;
  gp->t_scale = sqrt((g->nu - 2.0) / g->nu);
  gp->u.buf = malloc((size_t)gp->u.per * sizeof *gp->u.buf);
  gp->z = malloc((size_t)gp->u.per * sizeof *gp->z);
  ms_status s = (!gp->u.buf || !gp->z) ? ms_error_set(err, MS_ERR_NOMEM, "out of memory for a period of %lld ticks",
                                                    (long long)gp->u.per)
                                     : MS_OK;
  if (!s) s = ms_rng_new(&gp->r_innov, err);
  if (!s) s = ms_rng_new(&gp->r_noise, err);
  if (!s) s = ms_rng_new(&gp->r_chain, err);
  if (s) { garch_free(gp); return s; }
  *out = gp;
  return MS_OK;
}

static int garch_same_path(const ms_config *a, const ms_config *b) {
  const ms_garch_cfg *x = &a->market.garch, *y = &b->market.garch;
  return a->seed == b->seed && a->step == b->step && a->horizon == b->horizon &&
         a->market.initial_price == b->market.initial_price && a->market.days_per_year == b->market.days_per_year &&
         x->resolution == y->resolution && x->omega == y->omega && x->alpha == y->alpha && x->beta == y->beta &&
         x->drift == y->drift && x->innovations == y->innovations && (x->innovations != MS_INNOV_T || x->nu == y->nu) &&
         x->nregimes == 0 && y->nregimes == 0;
  /* With regimes, no tape: a replayed tape would skip the chain that
   * regime() and the options' vol follow (each cell generates its path;
   * the paths are the same, common random numbers hold). */
}

static void garch_use_tape(void *state, ms_pricetape *tape, ms_tape_mode mode) {
  ms_tape_set(&((garch_path *)state)->u.tape, tape, mode);
}

static int draw_index(const double *cum, int n, double u) {
  for (int i = 0; i < n - 1; i++)
    if (u < cum[i]) return i;
  return n - 1;
}

static ms_status garch_start(void *state, uint64_t seed, uint64_t path, ms_queue *q) {
  (void)q;
  garch_path *gp = state;
  ms_rng_seed(gp->r_innov, seed, path, MS_STREAM_REGIME);
  ms_rng_seed(gp->r_noise, seed, path, MS_STREAM_PRICE);
  ms_rng_seed(gp->r_chain, seed, path, MS_STREAM_JUMP);
  memset(&gp->tally, 0, sizeof gp->tally);
  gp->reg = gp->start_index >= 0 ? gp->start_index : draw_index(gp->pi_cum, gp->nreg, gsl_rng_uniform(gp->r_chain));
  gp->t_reg = 0;
  gp->u.cur = -1;
  gp->s2 = gp->s2_0[gp->reg];
  gp->x = gp->u.lp = gp->log_p0;
  ms_tape_begin(&gp->u.tape, seed, path);
  return MS_OK;
}

static int garch_on_event(void *state, const ms_event *ev, ms_queue *q) {
  (void)state, (void)ev, (void)q;
  return 0; /* no events of its own */
}

/* The ticks of the next period into buf. With one parameter set the
 * variance of the next period is updated at once; with regimes, when the
 * next period's regime is known (it takes that regime's parameters). */
static void next_period(void *model, int64_t j) {
  garch_path *gp = model;
  assert(j == gp->u.cur + 1);
  if (gp->nreg > 1 && j > 0) {
    int k = gp->reg;
    if (gsl_rng_uniform(gp->r_chain) < gp->p_leave[k]) {
      int64_t t = j * gp->period;
      gp->tally.time_in_regime[k] += t - gp->t_reg;
      gp->t_reg = t;
      gp->tally.switches++;
      gp->reg = k = draw_index(gp->next_cum[k], gp->nreg, gsl_rng_uniform(gp->r_chain));
    }
    gp->s2 = gp->omega[k] + gp->alpha[k] * gp->e_prev * gp->e_prev + gp->beta[k] * gp->s2;
  }
  const int k = gp->reg;
  double z = gp->t_innov ? gsl_ran_tdist(gp->r_innov, gp->nu) * gp->t_scale : ms_rng_gaussian(gp->r_innov);
  double s2 = gp->s2, e = sqrt(s2) * z, r = gp->mu_period[k] - 0.5 * s2 + e;
  ms_bridge(gp->u.buf, gp->u.per, gp->x, gp->x + r, sqrt(s2 / (double)gp->u.per), gp->r_noise, gp->z);
  gp->x = gp->u.buf[gp->u.per - 1];
  if (gp->nreg == 1) gp->s2 = gp->omega[0] + gp->alpha[0] * e * e + gp->beta[0] * s2;
  gp->e_prev = e;
}

/* With regimes, a block ends with its period: the regime (and the vol
 * options see) of the clock's period, never of one made ahead. */
static size_t garch_fill(void *state, int64_t t, size_t n, double *out) {
  garch_path *gp = state;
  return ms_unit_fill(&gp->u, t, n, out, next_period, gp, gp->nreg > 1);
}

static double garch_log_price(const void *state) { return ((const garch_path *)state)->u.lp; }

static int garch_regime(const void *state) { return ((const garch_path *)state)->reg; }

static void garch_tally_at(const void *state, int64_t t, ms_pricepath_tally *out) {
  const garch_path *gp = state;
  *out = gp->tally;
  out->time_in_regime[gp->reg] += t - gp->t_reg;
}

static void garch_stationary(const void *state, double *pi) {
  const garch_path *gp = state;
  memcpy(pi, gp->pi, (size_t)gp->nreg * sizeof *pi);
}

/* Options are valued, and a dynamic requirement starts, at the
 * unconditional volatility of the regime's parameters (the account index's
 * bands need a fixed set of vols). */
static double garch_vol(const void *state) {
  const garch_path *gp = state;
  return gp->vol[gp->reg];
}

static int garch_vol_states(const ms_config *cfg, double *vols) {
  const ms_garch_cfg *g = &cfg->market.garch;
  if (g->nregimes == 0) {
    vols[0] = g->uncond_vol;
    return 1;
  }
  memcpy(vols, g->regime_vol, (size_t)g->nregimes * sizeof *vols);
  return g->nregimes;
}

static void garch_path_keys(const ms_config *cfg, int r, char *buf, size_t len) {
  if (cfg->market.garch.nregimes > 0 && r >= 0 && r < cfg->market.garch.nregimes)
    snprintf(buf, len, "market.garch.regimes[%d]", r);
  else
    snprintf(buf, len, "market.garch");
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
    .path_keys = garch_path_keys,
};
