/*
 * pricepath_int — what the price models share, private to sim/models/pricepath.c
 * and sim/price_*.c: the tape's layout (a model that records or replays
 * ticks reads and writes it in its fill hook).
 */
#ifndef MARGINSIM_PRICEPATH_INT_H
#define MARGINSIM_PRICEPATH_INT_H

#include <stdint.h>

#include "core/rng.h"
#include "models/pricepath.h"

struct ms_pricetape {
  double *lp;                         /* lp[k]: log price of the tick at (k + 1) step */
  int64_t len;                        /* ticks over the horizon */
  int64_t filled;                     /* lp[0 .. filled) hold the recorded path */
  uint64_t seed, path;                /* what was recorded */
};

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
