/*
 * oracle — push and pull oracles with optional TWAP (see oracle.h).
 *
 * The models' tables are at the end. ORACLE_ROUND events: a = 0 for a push
 * heartbeat (b = token, stale after any publish), a = 1 for a pull round. ORACLE_PUBLISH events: a = observation
 * time, x = observed value, y = its exogenous counterpart, b = push token.
 */
#include "models/oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/rng.h"

struct ms_oracle {
  const ms_oracle_type *type;
  int deviation;             /* type->deviation_rounds, read by the per-tick band test */
  double log_up, log_down;   /* ln(1 + deviation), ln(1 - deviation) */
  int64_t heartbeat, interval, horizon;
  ms_dist latency;           /* ms */
  gsl_rng *rng;
  uint32_t stream;           /* MS_STREAM_ORACLE, or the traded asset's own (market.assets) */

  /* TWAP ring of the last n tick samples */
  int64_t n;                 /* 0: spot */
  double *ring_mark, *ring_exog;
  int64_t pos, since_resum;
  double sum_mark, sum_exog;

  /* path state */
  ms_oracle_price cur;
  int in_flight;             /* push: a round is under way */
  int64_t token;             /* push: current heartbeat/publish token */
  int64_t publishes;
  double lo, hi;             /* log band of no deviation round */
};

ms_status ms_oracle_new(ms_oracle **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  if (!cfg->oracle.kind) return ms_error_set(err, MS_ERR_INTERNAL, "oracle.kind not set");
  ms_oracle *o = calloc(1, sizeof *o);
  if (!o) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  const ms_oracle_cfg *oc = &cfg->oracle;
  o->type = oc->kind;
  int k = cfg->market.nassets > 0 ? cfg->market.trade_index : 0;
  o->stream = k > 0 ? MS_STREAM_ASSET_ORACLE + (uint32_t)k : MS_STREAM_ORACLE; /* each asset's feed its own draws */
  o->deviation = o->type->deviation_rounds;
  o->log_up = log1p(oc->deviation);
  o->log_down = log1p(-oc->deviation);
  o->heartbeat = oc->heartbeat;
  o->interval = oc->interval;
  o->horizon = cfg->horizon;
  o->latency = oc->latency;
  o->n = oc->twap / cfg->step;
  ms_status s = ms_rng_new(&o->rng, err);
  if (!s && o->n > 0) {
    o->ring_mark = malloc((size_t)o->n * sizeof(double));
    o->ring_exog = malloc((size_t)o->n * sizeof(double));
    if (!o->ring_mark || !o->ring_exog) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for the TWAP window");
  }
  if (s) { ms_oracle_free(o); return s; }
  *out = o;
  return MS_OK;
}

void ms_oracle_free(ms_oracle *o) {
  if (!o) return;
  ms_rng_free(o->rng);
  free(o->ring_mark);
  free(o->ring_exog);
  free(o);
}

static void set_band(ms_oracle *o) {
  if (o->deviation && !o->in_flight) {
    double l = log(o->cur.price);
    o->lo = l + o->log_down;
    o->hi = l + o->log_up;
  } else {
    o->lo = -INFINITY;
    o->hi = INFINITY;
  }
}

static ms_status schedule_heartbeat(ms_oracle *o, int64_t now, ms_queue *q) {
  int64_t t = now + o->heartbeat;
  if (t > o->horizon) return MS_OK;
  return ms_queue_push(q, t, MS_EV_ORACLE_ROUND, 0, o->token);
}

/* Observe now and schedule the publish. */
static ms_status start_round(ms_oracle *o, int64_t t, double value, double exog, ms_queue *q) {
  double lat = ms_dist_sample(&o->latency, o->rng);
  int64_t tp = t + (int64_t)llround(lat);
  if (o->deviation) { /* one round at a time */
    o->in_flight = 1;
    set_band(o);
  }
  if (tp > o->horizon) return MS_OK; /* lands after the path ends */
  return ms_queue_push_x(q, tp, MS_EV_ORACLE_PUBLISH, t, o->token, value, exog);
}

ms_status ms_oracle_start(ms_oracle *o, uint64_t seed, uint64_t path, double p0, ms_queue *q) {
  ms_rng_seed(o->rng, seed, path, o->stream);
  o->cur = (ms_oracle_price){p0, p0, 0, 0};
  o->in_flight = 0;
  o->token = 1;
  o->publishes = 0;
  if (o->n > 0) {
    for (int64_t i = 0; i < o->n; i++) o->ring_mark[i] = o->ring_exog[i] = p0;
    o->sum_mark = o->sum_exog = p0 * (double)o->n;
    o->pos = o->since_resum = 0;
  }
  set_band(o);
  return o->type->start(o, q);
}

int ms_oracle_samples_ticks(const ms_oracle *o) { return o->n > 0; }

void ms_oracle_band(const ms_oracle *o, double *lo, double *hi) {
  if (o->n > 0) { *lo = -INFINITY; *hi = INFINITY; return; } /* TWAP: checked in ms_oracle_tick */
  *lo = o->lo;
  *hi = o->hi;
}

/* The value a round would observe now, as a log and as a price. */
static void value_now(const ms_oracle *o, double lm, double le, double *l, double *v, double *ve) {
  if (o->n > 0) {
    *v = o->sum_mark / (double)o->n;
    *ve = o->sum_exog / (double)o->n;
    *l = log(*v);
  } else {
    *l = lm;
    *v = exp(lm);
    *ve = exp(le);
  }
}

static ms_status check_deviation(ms_oracle *o, int64_t t, double lm, double le, ms_queue *q, int *started) {
  *started = 0;
  if (!o->deviation || o->in_flight) return MS_OK;
  double l = o->n > 0 ? log(o->sum_mark / (double)o->n) : lm;
  if (l < o->lo || l > o->hi) {
    double v, ve;
    value_now(o, lm, le, &l, &v, &ve);
    *started = 1;
    return start_round(o, t, v, ve, q);
  }
  return MS_OK;
}

ms_status ms_oracle_on_mark(ms_oracle *o, int64_t t, double lm, double le, ms_queue *q, int *started) {
  *started = 0;
  if (o->n > 0) return MS_OK; /* a TWAP moves only with tick samples */
  return check_deviation(o, t, lm, le, q, started);
}

ms_status ms_oracle_tick(ms_oracle *o, int64_t t, double lm, double le, ms_queue *q, int *started) {
  double mark = exp(lm), exog = exp(le);
  o->sum_mark += mark - o->ring_mark[o->pos];
  o->sum_exog += exog - o->ring_exog[o->pos];
  o->ring_mark[o->pos] = mark;
  o->ring_exog[o->pos] = exog;
  if (++o->pos == o->n) o->pos = 0;
  if (++o->since_resum == o->n) { /* re-add from scratch: no drift from running sums */
    o->since_resum = 0;
    double sm = 0, se = 0;
    for (int64_t i = 0; i < o->n; i++) { sm += o->ring_mark[i]; se += o->ring_exog[i]; }
    o->sum_mark = sm;
    o->sum_exog = se;
  }
  return check_deviation(o, t, lm, le, q, started);
}

ms_status ms_oracle_on_event(ms_oracle *o, const ms_event *ev, double lm, double le, ms_queue *q,
                             int *published) {
  *published = 0;
  if (ev->kind == MS_EV_ORACLE_ROUND) {
    double l, v, ve;
    value_now(o, lm, le, &l, &v, &ve);
    return o->type->on_round(o, ev, v, ve, q);
  }
  if (!o->type->accepts(o, ev)) return MS_OK;
  o->cur = (ms_oracle_price){ev->x, ev->y, ev->a, ev->t};
  o->publishes++;
  *published = 1;
  return o->type->published ? o->type->published(o, ev, lm, le, q) : MS_OK;
}

/* ---- push (Chainlink-like): deviation and heartbeat rounds, one at a time ---- */

static ms_status push_start(ms_oracle *o, ms_queue *q) { return schedule_heartbeat(o, 0, q); }

static ms_status push_round(ms_oracle *o, const ms_event *ev, double v, double ve, ms_queue *q) {
  if (ev->b != o->token || o->in_flight) return MS_OK; /* heartbeat made stale by a publish */
  return start_round(o, ev->t, v, ve, q);
}

static int push_accepts(const ms_oracle *o, const ms_event *ev) {
  (void)o;
  (void)ev;
  return 1;
}

static ms_status push_published(ms_oracle *o, const ms_event *ev, double lm, double le, ms_queue *q) {
  o->in_flight = 0;
  o->token++;
  set_band(o);
  ms_status s = schedule_heartbeat(o, ev->t, q);
  if (s) return s;
  /* The mark may have moved on while the round was in flight. */
  int started;
  return check_deviation(o, ev->t, lm, le, q, &started);
}

static int64_t push_round_every(const ms_config *cfg) { return cfg->oracle.heartbeat; }

const ms_oracle_type ms_oracle_push = {.name = "push", .deviation_rounds = 1, .start = push_start,
                                       .on_round = push_round, .accepts = push_accepts,
                                       .published = push_published, .round_every = push_round_every};

/* ---- pull (Pyth-like): a round every interval, each with its own latency ---- */

static ms_status pull_start(ms_oracle *o, ms_queue *q) {
  return o->interval <= o->horizon ? ms_queue_push(q, o->interval, MS_EV_ORACLE_ROUND, 1, 0) : MS_OK;
}

static ms_status pull_round(ms_oracle *o, const ms_event *ev, double v, double ve, ms_queue *q) {
  ms_status s = start_round(o, ev->t, v, ve, q);
  if (!s && ev->t + o->interval <= o->horizon) s = ms_queue_push(q, ev->t + o->interval, MS_EV_ORACLE_ROUND, 1, 0);
  return s;
}

/* A publish older than the current price is dropped. */
static int pull_accepts(const ms_oracle *o, const ms_event *ev) { return ev->a > o->cur.t_obs; }

static int64_t pull_round_every(const ms_config *cfg) { return cfg->oracle.interval; }

const ms_oracle_type ms_oracle_pull = {.name = "pull", .deviation_rounds = 0, .start = pull_start,
                                       .on_round = pull_round, .accepts = pull_accepts, .published = NULL,
                                       .round_every = pull_round_every};

/* The order of oracle.kind's accepted values in the docs. */
const ms_oracle_type *const ms_oracle_types[] = {&ms_oracle_push, &ms_oracle_pull, NULL};

int64_t ms_oracle_round_every(const ms_config *cfg) {
  return cfg->oracle.kind->round_every ? cfg->oracle.kind->round_every(cfg) : 0;
}

const ms_oracle_type *ms_oracle_type_find(const char *name) {
  for (int i = 0; ms_oracle_types[i]; i++)
    if (strcmp(ms_oracle_types[i]->name, name) == 0) return ms_oracle_types[i];
  return NULL;
}

const ms_oracle_price *ms_oracle_current(const ms_oracle *o) { return &o->cur; }

int64_t ms_oracle_publishes(const ms_oracle *o) { return o->publishes; }
