/*
 * engine — the discrete-event loop of one path.
 *
 * A per-thread workspace: allocated once, then ms_engine_run_path() runs
 * path p from time 0 to the horizon and fills a summary row (and, when
 * asked, a trace of sampled values). Nothing is allocated inside the loop;
 * the workspace is reset between paths.
 */
#ifndef MARGINSIM_ENGINE_H
#define MARGINSIM_ENGINE_H

#include <stdint.h>

#include "marginsim/error.h"
#include "marginsim/scenario.h"

/** One row of /paths/summary. Money in USD, times in seconds unless noted. */
typedef struct ms_path_summary {
  uint64_t path;
  double final_price;                    /* exogenous price at the horizon */
  double min_price, max_price;           /* over the ticks and jumps of the path */
  double max_drawdown;                   /* largest fall from a running peak, fraction */
  int64_t jumps;                         /* jumps of the exogenous price */
  int64_t regime_switches;
  double time_in_regime[MS_MAX_REGIMES]; /* seconds */
} ms_path_summary;

/** Sampled values of one path (for /timeseries). Arrays of ms_trace_len(). */
typedef struct ms_trace {
  double *price;                         /* exogenous price */
  int32_t *regime;
} ms_trace;

/** Number of samples per traced path: t = 0, every, 2 every, ... <= horizon. */
int64_t ms_trace_len(const ms_config *cfg);

typedef struct ms_engine ms_engine;

/** A workspace for @p cfg. */
ms_status ms_engine_new(ms_engine **out, const ms_config *cfg, ms_error *err);

/** Free; NULL is a no-op. */
void ms_engine_free(ms_engine *e);

/**
 * Run path @p path to the horizon. @p trace may be NULL (no sampling).
 * The result depends only on (configuration, seed, path).
 */
ms_status ms_engine_run_path(ms_engine *e, uint64_t path, ms_path_summary *out, ms_trace *trace,
                             ms_error *err);

#endif
