/*
 * price_regime — market.model regime_switching: regime-switching GBM with
 * jumps (see pricepath.h), the ms_price_regime_switching table.
 *
 * Per regime r, with a year of Y ms: log drift per ms m_r = (mu_r - s_r^2/2)/Y
 * and variance per ms v_r = s_r^2/Y. A tick of length dt spent wholly in r
 * adds m_r dt + sqrt(v_r dt) Z; a tick that straddles switches adds the sums
 * of m and v over its pieces, with one Z. Jumps add N(mean, sd^2) at their
 * arrival time.
 *
 * With market.assets the book trades asset k of a correlated world. Asset
 * j's normals come from stream MS_STREAM_ASSET + j (asset 0's from the
 * price stream, so asset 0 is the single-asset path), and asset k's tick
 * adds m dt + sum_{j <= k} L_kj W_j, L the Cholesky factor of the
 * covariance of the assets' log returns over the tick (rho_ij s_i s_j dt / Y,
 * summed over a straddle's pieces): row k of one factor of the whole
 * covariance, so runs trading different assets with one seed see the
 * joint law. Jumps are common: asset k's is its jump_loading x the draw.
 */
#include "models/pricepath.h"
#include "models/pricepath_int.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/linalg.h"
#include "core/rng.h"
#include "core/units.h"

typedef struct regime_path {
  /* configuration, fixed for the run */
  int nreg;
  int start_index;                    /* -1: stationary */
  int64_t step, horizon;              /* ms */
  double log_p0;
  double vol[MS_MAX_REGIMES];         /* annualised volatility */
  double m[MS_MAX_REGIMES];           /* log drift per ms */
  double v[MS_MAX_REGIMES];           /* variance per ms */
  double a_step[MS_MAX_REGIMES];      /* m * step */
  double b_step[MS_MAX_REGIMES];      /* sqrt(v * step) */
  double mean_dur[MS_MAX_REGIMES];    /* ms */
  double jump_wait[MS_MAX_REGIMES];   /* mean ms between jumps; 0 = none */
  double jump_mean[MS_MAX_REGIMES], jump_sd[MS_MAX_REGIMES];
  double next_cum[MS_MAX_REGIMES][MS_MAX_REGIMES]; /* cumulative target weights */
  double pi[MS_MAX_REGIMES];          /* stationary distribution */
  double pi_cum[MS_MAX_REGIMES];

  /* streams */
  gsl_rng *r_price, *r_regime, *r_jump;

  /* market.assets, trading asset k > 0 (k = 0: none of this) */
  int k;                              /* the traded asset */
  double loading;                     /* its jump loading */
  double cov[MS_MAX_REGIMES][MS_MAX_ASSETS][MS_MAX_ASSETS]; /* per ms, assets 0..k */
  double row[MS_MAX_REGIMES][MS_MAX_ASSETS]; /* row k of the factor of cov x step */
  double acc_cov[MS_MAX_ASSETS][MS_MAX_ASSETS]; /* accrued since the last tick */
  gsl_rng *r_asset[MS_MAX_ASSETS];    /* [j], j = 1..k */

  /* path state */
  int regime;
  double lp;                          /* log price after the last generated tick (+ jumps) */
  int64_t t_acc;                      /* time up to which drift/variance are accounted */
  double acc_m, acc_v;                /* drift and variance accrued since the last tick */
  int64_t t_regime_start;             /* when the current regime began */
  int64_t next_switch, next_jump;     /* ms, INT64_MAX when none within the horizon */
  int64_t switch_token, jump_token;   /* to recognise stale events */
  ms_pricepath_tally tally;

  ms_tape_use tape;     /* pricepath.h, "Tapes" */
} regime_path;

static void regime_use_tape(void *state, ms_pricetape *tape, ms_tape_mode mode) {
  ms_tape_set(&((regime_path *)state)->tape, tape, mode);
}

static int regime_same_path(const ms_config *a, const ms_config *b) {
  const ms_market_cfg *x = &a->market, *y = &b->market;
  if (a->seed != b->seed || a->step != b->step || a->horizon != b->horizon) return 0;
  if (x->initial_price != y->initial_price || x->model != y->model || x->nregimes != y->nregimes ||
      x->start_index != y->start_index || x->days_per_year != y->days_per_year)
    return 0;
  for (int r = 0; r < x->nregimes; r++) {
    const ms_regime_cfg *p = &x->regimes[r], *q = &y->regimes[r];
    if (p->vol != q->vol || p->drift != q->drift || p->mean_duration != q->mean_duration ||
        p->jumps.rate != q->jumps.rate || p->jumps.mean != q->jumps.mean || p->jumps.sd != q->jumps.sd)
      return 0;
    if (x->stationary[r] != y->stationary[r]) return 0;
  }
  if (x->nassets != y->nassets || x->trade_index != y->trade_index || x->jump_loading != y->jump_loading) return 0;
  for (int r = 0; r < x->nregimes && x->nassets > 0; r++) {
    const ms_regime_cfg *p = &x->regimes[r], *q = &y->regimes[r];
    if (memcmp(&p->correlation, &q->correlation, sizeof p->correlation) != 0) return 0;
    for (int i = 0; i < x->nassets; i++)
      if (p->assets[i].vol != q->assets[i].vol || p->assets[i].drift != q->assets[i].drift) return 0;
  }
  if (x->transition.rows != y->transition.rows || x->transition.cols != y->transition.cols) return 0;
  for (int i = 0; i < x->transition.rows; i++)
    for (int j = 0; j < x->transition.cols; j++)
      if (x->transition.v[i][j] != y->transition.v[i][j]) return 0;
  return 1;
}

static void regime_free(void *state);

/* The Cholesky factor of the covariance @p A (n x n) of the assets: a
 * positive semi-definite matrix (each regime's correlation is checked at
 * load; a straddling tick sums them). Should rounding make it fail, the
 * diagonal is raised by 1e-12 of itself, then 1e-9 (noise far below any
 * tick's), rather than drop a noise term. -1 only if even that fails. */
static int factor(const double *A, int n, double *L) {
  if (ms_cholesky_psd(A, n, n, MS_PSD_TOL, L) == 0) return 0;
  double B[MS_MAX_ASSETS * MS_MAX_ASSETS];
  for (double bump = 1e-12; bump <= 1e-9; bump *= 1000) {
    for (int i = 0; i < n * n; i++) B[i] = A[i];
    for (int i = 0; i < n; i++) B[i * n + i] *= 1.0 + bump;
    if (ms_cholesky_psd(B, n, n, MS_PSD_TOL, L) == 0) return 0;
  }
  return -1;
}

static ms_status regime_new(void **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  regime_path *pp = calloc(1, sizeof *pp);
  if (!pp) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  const ms_market_cfg *mk = &cfg->market;
  double year_ms = mk->days_per_year * (double)MS_MS_PER_DAY;
  pp->nreg = mk->nregimes;
  pp->start_index = mk->start_index;
  pp->step = cfg->step;
  pp->horizon = cfg->horizon;
  pp->log_p0 = log(mk->initial_price);
  for (int r = 0; r < pp->nreg; r++) {
    const ms_regime_cfg *rc = &mk->regimes[r];
    pp->vol[r] = rc->vol;
    pp->m[r] = (rc->drift - 0.5 * rc->vol * rc->vol) / year_ms;
    pp->v[r] = rc->vol * rc->vol / year_ms;
    pp->a_step[r] = pp->m[r] * (double)cfg->step;
    pp->b_step[r] = sqrt(pp->v[r] * (double)cfg->step);
    pp->mean_dur[r] = (double)rc->mean_duration;
    pp->jump_wait[r] = rc->jumps.rate > 0 ? (double)MS_MS_PER_DAY / rc->jumps.rate : 0.0;
    pp->jump_mean[r] = rc->jumps.mean;
    pp->jump_sd[r] = rc->jumps.sd;
    /* Target weights: a transition row, or the other regimes equally. */
    double tot = 0.0, w[MS_MAX_REGIMES];
    for (int j = 0; j < pp->nreg; j++) {
      w[j] = mk->transition.rows ? mk->transition.v[r][j] : (j == r ? 0.0 : 1.0);
      tot += w[j];
    }
    double acc = 0.0;
    for (int j = 0; j < pp->nreg; j++) {
      acc += tot > 0 ? w[j] / tot : 0.0;
      pp->next_cum[r][j] = acc;
    }
  }
  double acc = 0.0;
  for (int r = 0; r < pp->nreg; r++) {
    pp->pi[r] = mk->stationary[r];
    acc += pp->pi[r];
    pp->pi_cum[r] = acc;
  }
  pp->pi_cum[pp->nreg - 1] = 1.0;
  ms_status s = ms_rng_new(&pp->r_price, err);
  if (!s) s = ms_rng_new(&pp->r_regime, err);
  if (!s) s = ms_rng_new(&pp->r_jump, err);
  pp->loading = mk->nassets > 0 ? mk->jump_loading : 1.0;
  pp->k = mk->nassets > 0 ? mk->trade_index : 0;
  for (int j = 1; !s && j <= pp->k; j++) s = ms_rng_new(&pp->r_asset[j], err);
  for (int r = 0; !s && r < pp->nreg && pp->k > 0; r++) {
    const ms_regime_cfg *rc = &mk->regimes[r];
    const int n = pp->k + 1;
    double step_cov[MS_MAX_ASSETS * MS_MAX_ASSETS], L[MS_MAX_ASSETS * MS_MAX_ASSETS];
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        double rho = i == j ? 1.0 : rc->correlation.rows ? rc->correlation.v[i][j] : 0.0;
        pp->cov[r][i][j] = rho * rc->assets[i].vol * rc->assets[j].vol / year_ms;
        step_cov[i * n + j] = pp->cov[r][i][j] * (double)cfg->step;
      }
    if (factor(step_cov, n, L)) s = ms_error_set(err, MS_ERR_INTERNAL, "regime %d: the assets' covariance is not "
                                                 "positive semi-definite", r);
    for (int j = 0; j < n; j++) pp->row[r][j] = L[pp->k * n + j];
  }
  if (s) { regime_free(pp); return s; }
  *out = pp;
  return MS_OK;
}

static void regime_free(void *state) {
  regime_path *pp = state;
  if (!pp) return;
  ms_rng_free(pp->r_price);
  ms_rng_free(pp->r_regime);
  ms_rng_free(pp->r_jump);
  for (int j = 1; j <= pp->k; j++) ms_rng_free(pp->r_asset[j]);
  free(pp);
}

static void regime_stationary(const void *state, double *pi) {
  const regime_path *pp = state;
  memcpy(pi, pp->pi, (size_t)pp->nreg * sizeof *pi);
}

static int draw_index(const double *cum, int n, double u) {
  for (int i = 0; i < n - 1; i++)
    if (u < cum[i]) return i;
  return n - 1;
}

/* Exponential wait of mean @p mean ms, rounded to whole ms. */
static int64_t wait_ms(gsl_rng *r, double mean) {
  double w = -mean * log(ms_rng_uniform_pos(r));
  if (w > 4.0e15) return INT64_MAX / 4;
  return (int64_t)llround(w);
}

static ms_status schedule_switch(regime_path *pp, int64_t now, ms_queue *q) {
  pp->next_switch = INT64_MAX;
  if (pp->nreg < 2) return MS_OK;
  int64_t t = now + wait_ms(pp->r_regime, pp->mean_dur[pp->regime]);
  if (t > pp->horizon) return MS_OK;
  pp->next_switch = t;
  return ms_queue_push(q, t, MS_EV_REGIME, 0, ++pp->switch_token);
}

static ms_status schedule_jump(regime_path *pp, int64_t now, ms_queue *q) {
  pp->next_jump = INT64_MAX;
  pp->jump_token++; /* any pending jump of the old regime is now stale */
  if (pp->jump_wait[pp->regime] <= 0.0) return MS_OK;
  int64_t t = now + wait_ms(pp->r_jump, pp->jump_wait[pp->regime]);
  if (t > pp->horizon) return MS_OK;
  pp->next_jump = t;
  return ms_queue_push(q, t, MS_EV_JUMP, 0, pp->jump_token);
}

static ms_status regime_start(void *state, uint64_t seed, uint64_t path, ms_queue *q) {
  regime_path *pp = state;
  ms_rng_seed(pp->r_price, seed, path, MS_STREAM_PRICE);
  ms_rng_seed(pp->r_regime, seed, path, MS_STREAM_REGIME);
  ms_rng_seed(pp->r_jump, seed, path, MS_STREAM_JUMP);
  for (int j = 1; j <= pp->k; j++) ms_rng_seed(pp->r_asset[j], seed, path, MS_STREAM_ASSET + (uint32_t)j);
  memset(pp->acc_cov, 0, sizeof pp->acc_cov);
  memset(&pp->tally, 0, sizeof pp->tally);
  pp->regime = pp->start_index >= 0 ? pp->start_index
                                    : draw_index(pp->pi_cum, pp->nreg, gsl_rng_uniform(pp->r_regime));
  pp->lp = pp->log_p0;
  pp->t_acc = 0;
  pp->acc_m = pp->acc_v = 0.0;
  pp->t_regime_start = 0;
  pp->switch_token = pp->jump_token = 0;
  ms_tape_begin(&pp->tape, seed, path);
  ms_status s = schedule_switch(pp, 0, q);
  if (!s) s = schedule_jump(pp, 0, q);
  return s;
}

static int regime_on_event(void *state, const ms_event *ev, ms_queue *q) {
  regime_path *pp = state;
  if (ev->kind == MS_EV_REGIME) {
    if (ev->b != pp->switch_token) return MS_PRICEPATH_STALE;
    int64_t dt = ev->t - pp->t_acc;
    pp->acc_m += pp->m[pp->regime] * (double)dt;
    pp->acc_v += pp->v[pp->regime] * (double)dt;
    for (int i = 0; i <= pp->k && pp->k > 0; i++)
      for (int j = 0; j <= pp->k; j++) pp->acc_cov[i][j] += pp->cov[pp->regime][i][j] * (double)dt;
    pp->t_acc = ev->t;
    pp->tally.time_in_regime[pp->regime] += ev->t - pp->t_regime_start;
    pp->t_regime_start = ev->t;
    int from = pp->regime;
    pp->regime = draw_index(pp->next_cum[from], pp->nreg, gsl_rng_uniform(pp->r_regime));
    pp->tally.switches++;
    if (schedule_switch(pp, ev->t, q) || schedule_jump(pp, ev->t, q)) return -1;
    return 0;
  }
  if (ev->kind == MS_EV_JUMP) {
    if (ev->b != pp->jump_token) return MS_PRICEPATH_STALE;
    int r = pp->regime;
    double jump = pp->jump_mean[r] + pp->jump_sd[r] * ms_rng_gaussian(pp->r_jump);
    pp->lp += pp->loading == 1.0 ? jump : pp->loading * jump;
    pp->tally.jumps++;
    if (schedule_jump(pp, ev->t, q)) return -1;
    return 1;
  }
  return 0;
}

/* Asset k's ticks (market.assets, k > 0): the first closes the accrued
 * interval (its covariance summed over the pieces, factored afresh), the
 * rest are whole steps in the current regime. Every stream gives one
 * normal a tick, in tick order, as the price stream does for asset 0. */
static void correlated_ticks(regime_path *pp, int64_t t, size_t n, double *out, double m, int64_t dt) {
  (void)t;
  const int K = pp->k + 1, r = pp->regime;
  double A[MS_MAX_ASSETS * MS_MAX_ASSETS], L[MS_MAX_ASSETS * MS_MAX_ASSETS];
  for (int i = 0; i < K; i++)
    for (int j = 0; j < K; j++) A[i * K + j] = pp->acc_cov[i][j] + pp->cov[r][i][j] * (double)dt;
  (void)factor(A, K, L); /* a sum of semi-definite matrices (checked at load) */
  double lp = pp->lp;
  /* Each stream's normals a block at a time (its state in registers, ms_rng_gaussians): the streams are
   * independent, so the draws and the sums are the very ones of a tick at a time. */
  enum { CHUNK = 64 };
  double wb[MS_MAX_ASSETS][CHUNK];
  for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
    const size_t c = n - i0 < CHUNK ? n - i0 : CHUNK;
    ms_rng_gaussians(pp->r_price, wb[0], c);
    for (int j = 1; j < K; j++) ms_rng_gaussians(pp->r_asset[j], wb[j], c);
    for (size_t i = 0; i < c; i++) {
      const double *row = i0 + i == 0 ? L + pp->k * K : pp->row[r];
      double x = i0 + i == 0 ? m : pp->a_step[r];
      for (int j = 0; j < K; j++) x += row[j] * wb[j][i];
      lp += x;
      out[i0 + i] = lp;
    }
  }
}

static size_t regime_fill(void *state, int64_t t, size_t n, double *out) {
  regime_path *pp = state;
  /* Ticks at or after the next own event wait for it (events sort before ticks). */
  int64_t stop = pp->next_switch < pp->next_jump ? pp->next_switch : pp->next_jump;
  if (stop != INT64_MAX) {
    if (t >= stop) return 0;
    int64_t room = (stop - t - 1) / pp->step + 1;
    if ((int64_t)n > room) n = (size_t)room;
  }
  /* No tick after the horizon: the clock never asks for one. */
  assert(t >= pp->step && t % pp->step == 0 && t <= pp->horizon);
  int64_t left = (pp->horizon - t) / pp->step + 1;
  if ((int64_t)n > left) n = (size_t)left;
  if (n == 0) return 0;
  int64_t k0 = t / pp->step - 1; /* tape index of the first tick */
  if (ms_tape_read(&pp->tape, k0, n, out)) {
    pp->lp = out[n - 1];
    pp->acc_m = pp->acc_v = 0.0;
    pp->t_acc = t + (int64_t)(n - 1) * pp->step;
    return n;
  }
  int r = pp->regime;
  /* The first tick closes the interval since the last accounted time. */
  int64_t dt = t - pp->t_acc;
  double m = pp->acc_m + pp->m[r] * (double)dt;
  double v = pp->acc_v + pp->v[r] * (double)dt;
  if (pp->k > 0) {
    correlated_ticks(pp, t, n, out, m, dt);
    pp->lp = out[n - 1];
    pp->acc_m = pp->acc_v = 0.0;
    memset(pp->acc_cov, 0, sizeof pp->acc_cov);
    pp->t_acc = t + (int64_t)(n - 1) * pp->step;
    ms_tape_write(&pp->tape, k0, n, out);
    return n;
  }
  double lp = pp->lp + (m + sqrt(v) * ms_rng_gaussian(pp->r_price));
  out[0] = lp;
  /* the rest in one pass: draw and sum (the draws of n calls, the same sums) */
  ms_rng_gaussian_walk(pp->r_price, out + 1, n - 1, lp, pp->a_step[r], pp->b_step[r]);
  pp->lp = out[n - 1];
  pp->acc_m = pp->acc_v = 0.0;
  pp->t_acc = t + (int64_t)(n - 1) * pp->step;
  ms_tape_write(&pp->tape, k0, n, out);
  return n;
}

static double regime_log_price(const void *state) { return ((const regime_path *)state)->lp; }

static int regime_regime(const void *state) { return ((const regime_path *)state)->regime; }

static void regime_tally_at(const void *state, int64_t t, ms_pricepath_tally *out) {
  const regime_path *pp = state;
  *out = pp->tally;
  out->time_in_regime[pp->regime] += t - pp->t_regime_start;
}

static double regime_vol(const void *state) {
  const regime_path *pp = state;
  return pp->vol[pp->regime];
}

/* ---- work bounds (docs/engine.md, "Work bounds") ---- */

/* Expected jumps of a path, at the highest rate of any regime (a path may
 * stay in it throughout); *@p k: that regime. */
static double expected_jumps(const ms_config *cfg, int *k) {
  double days = (double)cfg->horizon / (double)MS_MS_PER_DAY, mx = 0.0;
  *k = 0;
  for (int r = 0; r < cfg->market.nregimes; r++)
    if (cfg->market.regimes[r].jumps.rate * days > mx) { mx = cfg->market.regimes[r].jumps.rate * days; *k = r; }
  return mx;
}

/* Expected regime switches of a path, at the shortest mean duration; *@p k: that regime. */
static double expected_switches(const ms_config *cfg, int *k) {
  double mx = 0.0;
  *k = 0;
  if (cfg->market.nregimes < 2) return 0.0;
  for (int r = 0; r < cfg->market.nregimes; r++) {
    double d = (double)cfg->market.regimes[r].mean_duration;
    double n = d > 0 ? (double)cfg->horizon / d : INFINITY;
    if (n > mx) { mx = n; *k = r; }
  }
  return mx;
}

static ms_status regime_check_work(const ms_config *cfg, double max, ms_error *err) {
  int k;
  double days = (double)cfg->horizon / (double)MS_MS_PER_DAY, n = expected_jumps(cfg, &k);
  if (!(n <= max))
    return ms_error_set(err, MS_ERR_INPUT,
                        "%s: market.regimes[%d].jumps.rate: %g/d over the horizon of %g d is %g expected jumps per "
                        "path, beyond the bound of %g (docs/engine.md, Work bounds); lower the rate or the horizon",
                        cfg->source_path, k, cfg->market.regimes[k].jumps.rate, days, n, max);
  n = expected_switches(cfg, &k);
  if (!(n <= max))
    return ms_error_set(err, MS_ERR_INPUT,
                        "%s: market.regimes[%d].mean_duration: %lld ms over the horizon of %g d is %g expected regime "
                        "switches per path, beyond the bound of %g (docs/engine.md, Work bounds); lengthen it",
                        cfg->source_path, k, (long long)cfg->market.regimes[k].mean_duration, days, n, max);
  return MS_OK;
}

static double regime_expected_events(const ms_config *cfg) {
  int k;
  return expected_jumps(cfg, &k) + expected_switches(cfg, &k);
}

static int regime_event_keys(const ms_config *cfg, int kind, char *buf, size_t len) {
  int k;
  if (kind == MS_EV_JUMP) {
    expected_jumps(cfg, &k);
    snprintf(buf, len, "market.regimes[%d].jumps.rate (%g/d)", k, cfg->market.regimes[k].jumps.rate);
    return 1;
  }
  if (kind == MS_EV_REGIME) {
    expected_switches(cfg, &k);
    snprintf(buf, len, "market.regimes[%d].mean_duration (%.3f s) and market.transition", k,
             (double)cfg->market.regimes[k].mean_duration / 1000.0);
    return 1;
  }
  return 0;
}

static int regime_vol_states(const ms_config *cfg, double *vols) {
  for (int r = 0; r < cfg->market.nregimes; r++) vols[r] = cfg->market.regimes[r].vol;
  return cfg->market.nregimes;
}

static void regime_path_keys(const ms_config *cfg, int r, char *buf, size_t len) {
  if (r < 0 || r >= cfg->market.nregimes) {
    snprintf(buf, len, "market.regimes");
    return;
  }
  const ms_regime_cfg *g = &cfg->market.regimes[r];
  snprintf(buf, len, "market.regimes[%d] (drift %g, vol %g, jumps.rate %g/d, jumps.mean %g, jumps.sd %g)", r, g->drift,
           g->vol, g->jumps.rate, g->jumps.mean, g->jumps.sd);
}

const ms_price_model_type ms_price_regime_switching = {
    .name = "regime_switching",
    .create = regime_new,
    .free = regime_free,
    .same_path = regime_same_path,
    .use_tape = regime_use_tape,
    .start = regime_start,
    .on_event = regime_on_event,
    .fill = regime_fill,
    .log_price = regime_log_price,
    .regime = regime_regime,
    .tally_at = regime_tally_at,
    .stationary = regime_stationary,
    .vol = regime_vol,
    .check_work = regime_check_work,
    .expected_events = regime_expected_events,
    .event_keys = regime_event_keys,
    .vol_states = regime_vol_states,
    .path_keys = regime_path_keys,
};
