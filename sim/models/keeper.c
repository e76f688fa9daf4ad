/*
 * keeper — the keeper policy handle: the type table chosen by keepers.model
 * and the policy's state (see keeper.h). The policies live in
 * sim/models/keeper_<policy>.c.
 */
#include "models/keeper.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ms_keeper {
  const ms_keeper_type *type;
  void *state;
};

/* The order of keepers.model's accepted values in the docs. */
const ms_keeper_type *const ms_keeper_types[] = {&ms_keeper_standard, NULL};

const ms_keeper_type *ms_keeper_type_find(const char *name) {
  for (int i = 0; ms_keeper_types[i]; i++)
    if (strcmp(ms_keeper_types[i]->name, name) == 0) return ms_keeper_types[i];
  return NULL;
}

ms_status ms_keeper_new(ms_keeper **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  if (!cfg->keepers.model) return ms_error_set(err, MS_ERR_INTERNAL, "keepers.model not set");
  ms_keeper *k = calloc(1, sizeof *k);
  if (!k) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  k->type = cfg->keepers.model;
  ms_status s = k->type->create(&k->state, cfg, err);
  if (s) { free(k); return s; }
  *out = k;
  return MS_OK;
}

void ms_keeper_free(ms_keeper *k) {
  if (!k) return;
  k->type->free(k->state);
  free(k);
}

const ms_keeper_type *ms_keeper_get_type(const ms_keeper *k) { return k->type; }

void ms_keeper_start(ms_keeper *k, uint64_t seed, uint64_t path) { k->type->start(k->state, seed, path); }

ms_status ms_keeper_discover(ms_keeper *k, int64_t account, int64_t t, ms_queue *q, int64_t *delay) {
  return k->type->discover(k->state, account, t, q, delay);
}

int ms_keeper_on_ready(ms_keeper *k, const ms_event *ev, ms_queue *q) { return k->type->on_ready(k->state, ev, q); }

int ms_keeper_block_next(ms_keeper *k, int64_t *account, int64_t *seq) {
  return k->type->block_next(k->state, account, seq);
}

void ms_keeper_block_used(ms_keeper *k) { k->type->block_used(k->state); }

void ms_keeper_resolved(ms_keeper *k) { k->type->resolved(k->state); }

ms_status ms_keeper_defer(ms_keeper *k, int64_t account, int64_t seq, int64_t t, double mark_lo, double mark_hi,
                          int side, double elig_lo, ms_queue *q) {
  return k->type->defer(k->state, account, seq, t, mark_lo, mark_hi, side, elig_lo, q);
}

int64_t ms_keeper_block_begin(ms_keeper *k, double mark, const double elig[2]) {
  return k->type->block_begin(k->state, mark, elig);
}

void ms_keeper_unpark_all(ms_keeper *k) { k->type->unpark_all(k->state); }

ms_status ms_keeper_block_end(ms_keeper *k, int64_t t, ms_queue *q) { return k->type->block_end(k->state, t, q); }

int64_t ms_keeper_pending(const ms_keeper *k) { return k->type->pending(k->state); }

double ms_keeper_gas_cost(const ms_keeper *k) { return k->type->gas_cost(k->state); }

int64_t ms_keeper_max_per_block(const ms_keeper *k) { return k->type->max_per_block(k->state); }

double ms_keeper_last_draw(const ms_keeper *k) { return k->type->last_draw ? k->type->last_draw(k->state) : NAN; }

void ms_keeper_set_next_draw(ms_keeper *k, double draw) {
  if (k->type->set_next_draw) k->type->set_next_draw(k->state, draw);
}
