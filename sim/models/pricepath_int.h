/*
 * pricepath_int — what the price models share, private to sim/models/pricepath.c
 * and sim/price_*.c: the tape's layout (a model that records or replays
 * ticks reads and writes it in its fill hook).
 */
#ifndef MARGINSIM_PRICEPATH_INT_H
#define MARGINSIM_PRICEPATH_INT_H

#include <stdint.h>

#include "models/pricepath.h"

struct ms_pricetape {
  double *lp;                         /* lp[k]: log price of the tick at (k + 1) step */
  int64_t len;                        /* ticks over the horizon */
  int64_t filled;                     /* lp[0 .. filled) hold the recorded path */
  uint64_t seed, path;                /* what was recorded */
};

#endif
