/*
 * pricepath — the price model handle: the type table chosen by market.model
 * and the model's state, and the tapes (see pricepath.h). The models live in
 * sim/price_<model>.c.
 */
#include "models/pricepath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/pricepath_int.h"

/* One piece of a shock: the price factor goes from fa at ta to fb at tb. */
typedef struct shock_piece {
  int64_t ta, tb;
  double fa, fb, la, lb; /* factors and their logs */
  int shape;             /* ms_shock_shape */
} shock_piece;

/* A shock: its move, then (has_rec) its recovery from the move's end. */
typedef struct shock {
  shock_piece move, rec;
  int has_rec;
} shock;

struct ms_pricepath {
  const ms_price_model_type *type;
  void *state;
  /* market.shocks: the model's log prices plus shock_offset() of their tick. */
  int nshocks;
  shock shocks[MS_MAX_SHOCKS];
  int64_t shock_from, shock_to; /* no shock moves before shock_from; none after shock_to */
  double shock_final;           /* the offset from shock_to on */
  int64_t step, t_tick;         /* the last generated tick */
};

/* The log factor of one piece at @p t >= ta. At and after tb it is lb
 * exactly, so a finished move's level is the scripted one to the bit. */
static double piece_at(const shock_piece *p, int64_t t) {
  if (t >= p->tb) return p->lb;
  double s = (double)(t - p->ta) / (double)(p->tb - p->ta);
  return p->shape == MS_SHOCK_LINEAR ? log(p->fa + (p->fb - p->fa) * s) : p->la + (p->lb - p->la) * s;
}

static double shock_at(const shock *k, int64_t t) {
  if (t < k->move.ta) return 0.0;
  if (!k->has_rec || t < k->rec.ta) return piece_at(&k->move, t);
  return piece_at(&k->rec, t);
}

/* The sum of the shocks' log factors at @p t. */
static double shock_offset(const ms_pricepath *pp, int64_t t) {
  if (t < pp->shock_from) return 0.0;
  if (t >= pp->shock_to) return pp->shock_final;
  double off = 0.0;
  for (int i = 0; i < pp->nshocks; i++) off += shock_at(&pp->shocks[i], t);
  return off;
}

static void shock_setup(ms_pricepath *pp, const ms_config *cfg) {
  const ms_market_cfg *mk = &cfg->market;
  pp->step = cfg->step;
  pp->nshocks = mk->nshocks;
  pp->shock_from = INT64_MAX;
  pp->shock_to = INT64_MIN;
  pp->shock_final = 0.0;
  for (int i = 0; i < mk->nshocks; i++) {
    const ms_shock_cfg *sc = &mk->shocks[i];
    shock *k = &pp->shocks[i];
    double f1 = 1.0 + sc->move;
    k->move = (shock_piece){sc->at, sc->at + sc->over, 1.0, f1, 0.0, log1p(sc->move), sc->shape};
    k->has_rec = sc->recover.fraction > 0;
    const shock_piece *last = &k->move;
    if (k->has_rec) {
      double f2 = 1.0 + sc->move * (1.0 - sc->recover.fraction);
      k->rec = (shock_piece){k->move.tb, k->move.tb + sc->recover.over, f1, f2, k->move.lb, log(f2), sc->shape};
      last = &k->rec;
    }
    if (sc->at < pp->shock_from) pp->shock_from = sc->at;
    if (last->tb > pp->shock_to) pp->shock_to = last->tb;
    pp->shock_final += last->lb;
  }
}

/* The order of market.model's accepted values in the docs. */
const ms_price_model_type *const ms_price_models[] = {&ms_price_regime_switching, &ms_price_replay, &ms_price_bootstrap, &ms_price_garch, NULL};

const ms_price_model_type *ms_price_model_find(const char *name) {
  for (int i = 0; ms_price_models[i]; i++)
    if (strcmp(ms_price_models[i]->name, name) == 0) return ms_price_models[i];
  return NULL;
}

ms_status ms_pricepath_new(ms_pricepath **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  if (!cfg->market.model) return ms_error_set(err, MS_ERR_INTERNAL, "market.model not set");
  ms_pricepath *pp = calloc(1, sizeof *pp);
  if (!pp) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  pp->type = cfg->market.model;
  ms_status s = pp->type->create(&pp->state, cfg, err);
  if (s) { free(pp); return s; }
  shock_setup(pp, cfg);
  *out = pp;
  return MS_OK;
}

void ms_pricepath_free(ms_pricepath *pp) {
  if (!pp) return;
  pp->type->free(pp->state);
  free(pp);
}

const ms_price_model_type *ms_pricepath_type(const ms_pricepath *pp) { return pp->type; }

void ms_pricepath_stationary(const ms_pricepath *pp, double *pi) { pp->type->stationary(pp->state, pi); }

ms_status ms_pricepath_start(ms_pricepath *pp, uint64_t seed, uint64_t path, ms_queue *q) {
  pp->t_tick = 0;
  return pp->type->start(pp->state, seed, path, q);
}

int ms_pricepath_on_event(ms_pricepath *pp, const ms_event *ev, ms_queue *q) {
  return pp->type->on_event(pp->state, ev, q);
}

/* One indirect call per block of ticks: the engine's scan reads the block. */
size_t ms_pricepath_fill(ms_pricepath *pp, int64_t t, size_t n, double *out) {
  n = pp->type->fill(pp->state, t, n, out);
  if (n == 0 || pp->nshocks == 0) return n;
  const int64_t last = t + (int64_t)(n - 1) * pp->step;
  pp->t_tick = last;
  if (last < pp->shock_from) return n;
  if (t >= pp->shock_to) {
    for (size_t k = 0; k < n; k++) out[k] += pp->shock_final;
    return n;
  }
  for (size_t k = 0; k < n; k++) out[k] += shock_offset(pp, t + (int64_t)k * pp->step);
  return n;
}

/* The shocks move at ticks, as the model's diffusion does: after a jump
 * the price is the model's plus the offset of the last tick. Before the
 * first tick (t_tick 0) none has moved, not even one at 0 over 0: the path
 * starts at initial_price, where the book entered. */
double ms_pricepath_log_price(const ms_pricepath *pp) {
  double lp = pp->type->log_price(pp->state);
  return pp->nshocks && pp->t_tick > 0 ? lp + shock_offset(pp, pp->t_tick) : lp;
}

int ms_pricepath_regime(const ms_pricepath *pp) { return pp->type->regime(pp->state); }

double ms_pricepath_vol(const ms_pricepath *pp) { return pp->type->vol(pp->state); }

ms_status ms_price_check_work(const ms_config *cfg, double max_arrivals, ms_error *err) {
  return cfg->market.model->check_work ? cfg->market.model->check_work(cfg, max_arrivals, err) : MS_OK;
}

int ms_price_vol_states(const ms_config *cfg, double *vols) { return cfg->market.model->vol_states(cfg, vols); }

double ms_price_expected_events(const ms_config *cfg) {
  return cfg->market.model->expected_events ? cfg->market.model->expected_events(cfg) : 0.0;
}

void ms_price_path_keys(const ms_config *cfg, int regime, char *buf, size_t len) {
  cfg->market.model->path_keys(cfg, regime, buf, len);
  if (cfg->market.nshocks > 0) strncat(buf, " and market.shocks", len - strlen(buf) - 1);
}

int ms_price_event_keys(const ms_config *cfg, int kind, char *buf, size_t len) {
  return cfg->market.model->event_keys ? cfg->market.model->event_keys(cfg, kind, buf, len) : 0;
}

void ms_pricepath_tally_at(const ms_pricepath *pp, int64_t t, ms_pricepath_tally *out) {
  pp->type->tally_at(pp->state, t, out);
}

void ms_pricepath_use_tape(ms_pricepath *pp, ms_pricetape *tape, ms_tape_mode mode) {
  pp->type->use_tape(pp->state, tape, mode);
}

int ms_pricepath_same_path(const ms_config *a, const ms_config *b) {
  if (a->market.model != b->market.model) return 0;
  return a->market.model->same_path(a, b);
}

int64_t ms_pricetape_bytes(const ms_config *cfg) {
  return (cfg->horizon / cfg->step) * (int64_t)sizeof(double) + (int64_t)sizeof(ms_pricetape);
}

ms_status ms_pricetape_new(ms_pricetape **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  ms_pricetape *t = calloc(1, sizeof *t);
  if (t) {
    t->len = cfg->horizon / cfg->step;
    t->lp = malloc((size_t)t->len * sizeof *t->lp);
  }
  if (!t || !t->lp) {
    ms_pricetape_free(t);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for a price tape of %lld ticks",
                        (long long)(cfg->horizon / cfg->step));
  }
  *out = t;
  return MS_OK;
}

void ms_pricetape_free(ms_pricetape *t) {
  if (!t) return;
  free(t->lp);
  free(t);
}

