/*
 * price_replay — market.model replay: the exogenous path follows a window of
 * historical candles (market.replay, docs/scenario.md "Replaying history"),
 * the ms_price_replay table; and market.model bootstrap, a stationary block
 * bootstrap of the same kind of window (market.bootstrap), ms_price_bootstrap.
 *
 * Candle j of the path lasts market.hist.candle ms of simulated time, n
 * ticks. Replay's candle j is the window's j-th, its log prices shifted by
 * market.hist.shift (rescale). Bootstrap's is a window candle chosen by
 * the Politis–Romano rule (the first uniformly; then the next one in the
 * window, circularly, with probability 1 - 1/block, else a uniform one),
 * translated to open at the path's last close, its log moves from the open
 * scaled by market.hist.factor (target_vol).
 *
 * Either way, a candle's ticks are a bridge in the log price pinned at its
 * open (tick 0), at its high and its low (interior ticks drawn per path,
 * uniform and distinct, when the extreme is not the open or the close) and
 * at its close (tick n). Between pins a Brownian bridge, its per-tick
 * standard deviation vol_scale x Parkinson's estimate from the candle's own
 * range, (ln H - ln L) / sqrt(4 ln 2 n); its ticks are reflected into
 * [ln L, ln H], so the candle's high and low are touched exactly and never
 * passed. Each path draws its own positions and noise: different plausible
 * paths inside the same history.
 *
 * Randomness: the bridge's normals from stream PRICE, the extremes'
 * positions from stream REGIME (the models have no regime chain), the
 * bootstrap's candle choices from stream REPLAY, candle by candle in order,
 * so a path is a function of (seed, path) alone.
 */
#include "models/pricepath.h"
#include "models/pricepath_int.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/series.h"

typedef struct replay_path {
  /* configuration, fixed for the run */
  const ms_candle *c;   /* the window's candles */
  int64_t count;        /* candles */
  int boot;             /* bootstrap: candles drawn, not in order */
  double p_new, factor; /* bootstrap: 1 / block; scale of the log moves */
  double shift, log_p0, sd_scale, vol;

  gsl_rng *r_noise, *r_pos, *r_block;
  uint32_t noise_stream, pos_stream; /* the price and regime streams, or the traded asset's own (market.assets) */
  ms_unit_ticks u;      /* a candle a unit: its ticks, the tape */
  double *z;            /* normals of one segment */
  int64_t src;          /* bootstrap: the window candle u.cur was drawn from */
} replay_path;

static void replay_free(void *state) {
  replay_path *rp = state;
  if (!rp) return;
  ms_rng_free(rp->r_noise);
  ms_rng_free(rp->r_pos);
  ms_rng_free(rp->r_block);
  free(rp->u.buf);
  free(rp->z);
  free(rp);
}

static ms_status new_path(void **out, const ms_config *cfg, int boot, ms_error *err) {
  *out = NULL;
  const ms_history_res *r = &cfg->market.hist;
  const ms_series *se = ms_config_series(cfg);
  if (!se) return ms_error_set(err, MS_ERR_INTERNAL, "market.model %s without its candles", boot ? "bootstrap" : "replay");
  replay_path *rp = calloc(1, sizeof *rp);
  if (!rp) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  rp->c = se->c + r->first;
  rp->count = r->count;
  rp->boot = boot;
  rp->p_new = boot ? 1.0 / cfg->market.bootstrap.block : 0.0;
  rp->factor = r->factor;
  rp->u.per = r->candle / cfg->step;
  rp->u.step = cfg->step;
  rp->u.horizon = cfg->horizon;
  rp->shift = r->shift;
  rp->log_p0 = log(cfg->market.initial_price);
  rp->sd_scale = r->vol_scale / sqrt(4.0 * log(2.0) * (double)rp->u.per);
  rp->vol = r->vol;
  rp->u.buf = malloc((size_t)rp->u.per * sizeof *rp->u.buf);
  rp->z = malloc((size_t)rp->u.per * sizeof *rp->z);
  ms_status s = (!rp->u.buf || !rp->z) ? ms_error_set(err, MS_ERR_NOMEM, "out of memory for a candle of %lld ticks",
                                                    (long long)rp->u.per)
                                     : MS_OK;
  int asset = cfg->market.nassets > 0 ? cfg->market.trade_index : 0;
  rp->noise_stream = asset > 0 ? MS_STREAM_ASSET + (uint32_t)asset : MS_STREAM_PRICE;
  rp->pos_stream = asset > 0 ? MS_STREAM_ASSET_POS + (uint32_t)asset : MS_STREAM_REGIME;
  if (!s) s = ms_rng_new(&rp->r_noise, err);
  if (!s) s = ms_rng_new(&rp->r_pos, err);
  if (!s) s = ms_rng_new(&rp->r_block, err);
  if (s) { replay_free(rp); return s; }
  *out = rp;
  return MS_OK;
}

static ms_status replay_new(void **out, const ms_config *cfg, ms_error *err) { return new_path(out, cfg, 0, err); }

static ms_status bootstrap_new(void **out, const ms_config *cfg, ms_error *err) { return new_path(out, cfg, 1, err); }

static int replay_same_path(const ms_config *a, const ms_config *b) {
  const ms_history_res *x = &a->market.hist, *y = &b->market.hist;
  const ms_series *sa = ms_config_series(a), *sb = ms_config_series(b);
  int same = a->seed == b->seed && a->step == b->step && a->horizon == b->horizon &&
             a->market.initial_price == b->market.initial_price && sa && sb && sa->hash == sb->hash &&
             sa->n == sb->n && x->first == y->first && x->count == y->count && x->candle == y->candle &&
             x->shift == y->shift && x->factor == y->factor && x->vol_scale == y->vol_scale &&
             /* each asset its own noise streams (market.assets) */
             (a->market.nassets > 0 ? a->market.trade_index : 0) == (b->market.nassets > 0 ? b->market.trade_index : 0);
  if (same && a->market.model == &ms_price_bootstrap)
    same = a->market.bootstrap.block == b->market.bootstrap.block;
  return same;
}

static void replay_use_tape(void *state, ms_pricetape *tape, ms_tape_mode mode) {
  ms_tape_set(&((replay_path *)state)->u.tape, tape, mode);
}

static ms_status replay_start(void *state, uint64_t seed, uint64_t path, ms_queue *q) {
  (void)q;
  replay_path *rp = state;
  ms_rng_seed(rp->r_noise, seed, path, rp->noise_stream);
  ms_rng_seed(rp->r_pos, seed, path, rp->pos_stream);
  ms_rng_seed(rp->r_block, seed, path, MS_STREAM_REPLAY);
  rp->u.cur = -1;
  rp->u.lp = rp->log_p0;
  ms_tape_begin(&rp->u.tape, seed, path);
  return MS_OK;
}

static int replay_on_event(void *state, const ms_event *ev, ms_queue *q) {
  (void)state, (void)ev, (void)q;
  return 0; /* no events of its own */
}

/* Fold @p x into [lo, hi] by reflection at the ends. */
static double reflect(double x, double lo, double hi) {
  if (x >= lo && x <= hi) return x;
  double w = hi - lo;
  if (!(w > 0)) return lo;
  double y = fmod(x - lo, 2.0 * w);
  if (y < 0) y += 2.0 * w;
  return y <= w ? lo + y : lo + (2.0 * w - y);
}

/* A uniform index in [lo, hi]. */
static int64_t draw_between(gsl_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)gsl_rng_uniform_int(r, (unsigned long)(hi - lo + 1));
}

/* The window candle of the path's candle cur + 1: replay's next one; the
 * bootstrap's by the Politis–Romano rule. */
static const ms_candle *next_source(replay_path *rp, int64_t j) {
  if (!rp->boot) return &rp->c[j];
  if (j == 0 || gsl_rng_uniform(rp->r_block) < rp->p_new)
    rp->src = (int64_t)gsl_rng_uniform_int(rp->r_block, (unsigned long)rp->count);
  else
    rp->src = rp->src + 1 == rp->count ? 0 : rp->src + 1;
  return &rp->c[rp->src];
}

/* The ticks of candle @p j into buf. */
static void make_candle(void *model, int64_t j) {
  replay_path *rp = model;
  const ms_candle *k = next_source(rp, j);
  const int64_t n = rp->u.per;
  double O, H, L, C;
  if (rp->boot) { /* the candle's moves from its open, scaled, from the last close */
    double lo = log(k->open), f = rp->factor;
    O = j == 0 ? rp->log_p0 : rp->u.buf[n - 1];
    H = O + f * (log(k->high) - lo);
    L = O + f * (log(k->low) - lo);
    C = O + f * (log(k->close) - lo);
  } else {
    O = j == 0 ? rp->log_p0 : log(k->open) + rp->shift;
    H = log(k->high) + rp->shift;
    L = log(k->low) + rp->shift;
    C = log(k->close) + rp->shift;
  }
  /* rounding of the shift must not put a pin outside [L, H] */
  if (O > H) O = H;
  if (O < L) O = L;
  /* The path holds the previous close at the candle's first instant: an
   * extreme at an open that differs from it is on no tick unless pinned. */
  const int gap = j > 0 && O != rp->u.buf[n - 1];
  int need_h = (H > O || gap) && H > C, need_l = (L < O || gap) && L < C;
  int64_t idx[4] = {0, 0, 0, n};
  double val[4] = {O, 0, 0, C};
  int np = 1;
  if (need_h && need_l) {
    int64_t ih = draw_between(rp->r_pos, 1, n - 1), il = draw_between(rp->r_pos, 1, n - 2);
    if (il >= ih) il++;
    int h_first = ih < il;
    idx[1] = h_first ? ih : il;
    val[1] = h_first ? H : L;
    idx[2] = h_first ? il : ih;
    val[2] = h_first ? L : H;
    np = 3;
  } else if (need_h || need_l) {
    idx[1] = draw_between(rp->r_pos, 1, n - 1);
    val[1] = need_h ? H : L;
    np = 2;
  }
  idx[np] = n;
  val[np] = C;
  const double sd = rp->sd_scale * (H - L);
  for (int p = 0; p < np; p++) {
    const int64_t a = idx[p], b = idx[p + 1];
    ms_bridge(rp->u.buf + a, b - a, val[p], val[p + 1], sd, rp->r_noise, rp->z);
    for (int64_t i = a; i < b - 1; i++) rp->u.buf[i] = reflect(rp->u.buf[i], L, H);
  }
}

static size_t replay_fill(void *state, int64_t t, size_t n, double *out) {
  return ms_unit_fill(&((replay_path *)state)->u, t, n, out, make_candle, state, 0);
}

static double replay_log_price(const void *state) { return ((const replay_path *)state)->u.lp; }

static int replay_regime(const void *state) {
  (void)state;
  return 0;
}

static void replay_tally_at(const void *state, int64_t t, ms_pricepath_tally *out) {
  (void)state;
  memset(out, 0, sizeof *out);
  out->time_in_regime[0] = t;
}

static void replay_stationary(const void *state, double *pi) {
  (void)state;
  pi[0] = 1.0;
}

/* Options are valued, and the dynamic requirement starts, at the window's
 * realised volatility (market.replay; scenario.c). */
static double replay_vol(const void *state) { return ((const replay_path *)state)->vol; }

static int replay_vol_states(const ms_config *cfg, double *vols) {
  vols[0] = cfg->market.hist.vol;
  return 1;
}

/* The window's section: the moves are the data's. */
static void replay_path_keys(const ms_config *cfg, int r, char *buf, size_t len) {
  (void)r;
  snprintf(buf, len, "market.%s", ms_model_name(cfg->market.model));
}

const ms_price_model_type ms_price_replay = {
    .name = "replay",
    .create = replay_new,
    .free = replay_free,
    .same_path = replay_same_path,
    .use_tape = replay_use_tape,
    .start = replay_start,
    .on_event = replay_on_event,
    .fill = replay_fill,
    .log_price = replay_log_price,
    .regime = replay_regime,
    .tally_at = replay_tally_at,
    .stationary = replay_stationary,
    .vol = replay_vol,
    .vol_states = replay_vol_states,
    .path_keys = replay_path_keys,
};

const ms_price_model_type ms_price_bootstrap = {
    .name = "bootstrap",
    .create = bootstrap_new,
    .free = replay_free,
    .same_path = replay_same_path,
    .use_tape = replay_use_tape,
    .start = replay_start,
    .on_event = replay_on_event,
    .fill = replay_fill,
    .log_price = replay_log_price,
    .regime = replay_regime,
    .tally_at = replay_tally_at,
    .stationary = replay_stationary,
    .vol = replay_vol,
    .vol_states = replay_vol_states,
    .path_keys = replay_path_keys,
};
