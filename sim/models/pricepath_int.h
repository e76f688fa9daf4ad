/*
 * pricepath_int — what the price models share, private to sim/models/pricepath.c
 * and sim/price_*.c: the tape's layout (a model that records or replays
 * ticks reads and writes it in its fill hook).
 */
#ifndef MARGINSIM_PRICEPATH_INT_H
#define MARGINSIM_PRICEPATH_INT_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "models/pricepath.h"

struct ms_pricetape {
  double *lp;                         /* lp[k]: log price of the tick at (k + 1) step */
  int64_t len;                        /* ticks over the horizon */
  int64_t filled;                     /* lp[0 .. filled) hold the recorded path */
  uint64_t seed, path;                /* what was recorded */
};

/* A model's use of a tape (pricepath.h, "Tapes"): the same four steps in
 * every model, so they live here. */
typedef struct ms_tape_use {
  ms_pricetape *tape;
  ms_tape_mode mode;
} ms_tape_use;

static inline void ms_tape_set(ms_tape_use *u, ms_pricetape *tape, ms_tape_mode mode) {
  assert((mode == MS_TAPE_OFF) == (tape == NULL));
  u->tape = tape;
  u->mode = mode;
}

/* At a path's start: a recording tape is emptied and labelled; a replayed
 * one must hold this path. */
static inline void ms_tape_begin(ms_tape_use *u, uint64_t seed, uint64_t path) {
  if (u->mode == MS_TAPE_RECORD) {
    u->tape->seed = seed;
    u->tape->path = path;
    u->tape->filled = 0;
  } else if (u->mode == MS_TAPE_REPLAY) {
    assert(u->tape->seed == seed && u->tape->path == path);
  }
}

/* Replaying: the @p n ticks from tape index @p k0 into @p out, and 1; else 0. */
static inline int ms_tape_read(const ms_tape_use *u, int64_t k0, size_t n, double *out) {
  if (u->mode != MS_TAPE_REPLAY) return 0;
  assert(k0 + (int64_t)n <= u->tape->filled);
  memcpy(out, u->tape->lp + k0, n * sizeof *out);
  return 1;
}

/* Recording: the @p n ticks just generated, from tape index @p k0. */
static inline void ms_tape_write(ms_tape_use *u, int64_t k0, size_t n, const double *out) {
  if (u->mode != MS_TAPE_RECORD) return;
  assert(k0 == u->tape->filled);
  memcpy(u->tape->lp + k0, out, n * sizeof *out);
  u->tape->filled = k0 + (int64_t)n;
}

/*
 * The ticks of a model that makes them a unit at a time (replay's and
 * bootstrap's candles, garch's periods): unit j holds the ticks at
 * (j per + i + 1) step, i < per. ms_unit_fill hands them out in blocks, as
 * a fill hook does: through the tape, the units made in order by the
 * model's @p make(model, j) into buf; with @p stop_at_unit, a block ends
 * with its unit (a model whose state at an event must be the clock's
 * unit's, not one made ahead).
 */
typedef struct ms_unit_ticks {
  int64_t per, step, horizon; /* ticks per unit; ms */
  double *buf;                /* unit cur's ticks */
  int64_t cur;                /* the unit in buf, -1 none */
  double lp;                  /* the last tick handed out */
  ms_tape_use tape;
} ms_unit_ticks;

static inline size_t ms_unit_fill(ms_unit_ticks *u, int64_t t, size_t n, double *out,
                                  void (*make)(void *model, int64_t j), void *model, int stop_at_unit) {
  assert(t >= u->step && t % u->step == 0 && t <= u->horizon);
  int64_t left = (u->horizon - t) / u->step + 1;
  if ((int64_t)n > left) n = (size_t)left;
  if (n == 0) return 0;
  int64_t k0 = t / u->step - 1; /* tape index and global tick index (0-based) of the first tick */
  if (ms_tape_read(&u->tape, k0, n, out)) {
    u->lp = out[n - 1];
    return n;
  }
  size_t done = 0;
  while (done < n) {
    int64_t g = k0 + (int64_t)done, j = g / u->per, pos = g % u->per;
    if (j != u->cur) { /* ticks come in order: the next unit */
      make(model, j);
      u->cur = j;
    }
    size_t m = (size_t)(u->per - pos);
    if (m > n - done) m = n - done;
    memcpy(out + done, u->buf + pos, m * sizeof *out);
    done += m;
    if (stop_at_unit) break;
  }
  u->lp = out[done - 1];
  ms_tape_write(&u->tape, k0, done, out);
  return done;
}

/*
 * A discrete Brownian bridge of @p len ticks from @p xa (before the first)
 * to @p xb (the last, exactly): out[i - 1] = xa + (xb - xa) i/len + W_i -
 * (i/len) W_len for i < len, W a random walk of per-tick standard deviation
 * @p sd (normals from @p r into @p z, len of them); out[len - 1] = xb. With
 * sd 0, the straight line and no draws. Shared by the models that pin a
 * path at coarse points (replay's candles, garch's periods).
 */
static inline void ms_bridge(double *out, int64_t len, double xa, double xb, double sd, gsl_rng *r, double *z) {
  double W = 0;
  if (sd > 0) {
    ms_rng_gaussians(r, z, (size_t)len);
    for (int64_t i = 0; i < len; i++) z[i] = W += sd * z[i];
  }
  for (int64_t i = 1; i < len; i++) {
    double f = (double)i / (double)len;
    out[i - 1] = xa + (xb - xa) * f + (sd > 0 ? z[i - 1] - f * W : 0.0);
  }
  out[len - 1] = xb;
}

#endif
