/*
 * pricepath — the price model handle: the type table chosen by market.model
 * and the model's state, and the tapes (see pricepath.h). The models live in
 * sim/price_<model>.c.
 */
#include "models/pricepath.h"

#include <stdlib.h>
#include <string.h>

#include "models/pricepath_int.h"

struct ms_pricepath {
  const ms_price_model_type *type;
  void *state;
};

/* The order of market.model's accepted values in the docs. */
const ms_price_model_type *const ms_price_models[] = {&ms_price_regime_switching, NULL};

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
  return pp->type->start(pp->state, seed, path, q);
}

int ms_pricepath_on_event(ms_pricepath *pp, const ms_event *ev, ms_queue *q) {
  return pp->type->on_event(pp->state, ev, q);
}

/* One indirect call per block of ticks: the engine's scan reads the block. */
size_t ms_pricepath_fill(ms_pricepath *pp, int64_t t, size_t n, double *out) {
  return pp->type->fill(pp->state, t, n, out);
}

double ms_pricepath_log_price(const ms_pricepath *pp) { return pp->type->log_price(pp->state); }

int ms_pricepath_regime(const ms_pricepath *pp) { return pp->type->regime(pp->state); }

double ms_pricepath_vol(const ms_pricepath *pp) { return pp->type->vol(pp->state); }

ms_status ms_price_check_work(const ms_config *cfg, double max_arrivals, ms_error *err) {
  return cfg->market.model->check_work ? cfg->market.model->check_work(cfg, max_arrivals, err) : MS_OK;
}

int ms_price_vol_states(const ms_config *cfg, double *vols) { return cfg->market.model->vol_states(cfg, vols); }

double ms_price_expected_events(const ms_config *cfg) {
  return cfg->market.model->expected_events ? cfg->market.model->expected_events(cfg) : 0.0;
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

