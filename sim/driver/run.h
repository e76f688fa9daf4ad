/*
 * run — the driver: plan the paths, run them on OpenMP threads in batches,
 * write each batch to the result file in path order, aggregate, commit.
 *
 * Paths run with a dynamic schedule over per-thread workspaces; each path
 * writes its own slot, and everything that reaches the file or the
 * statistics is taken in path order after the parallel region, so results
 * are bit-identical for any thread count.
 *
 * ms_simulate (marginsim.h) is the library's run: the same single run as
 * ms_run, with or without a file, its rows, statistics, assertions and
 * (with output.liquidations) liquidation records kept in an ms_result
 * (output/result.h). ms_run, ms_run_compare and ms_run_sweep are the CLI's:
 * they always write a file.
 *
 * Threads: concurrent runs share no mutable state but one mutex around the
 * driver's HDF5 calls (run.c); runs without a file never call HDF5.
 *
 * GSL: these entry points (and ms_config_load*) turn GSL's default error
 * handler, which calls abort(), off for the whole process on first use,
 * unless the application installed its own handler before (that one is
 * kept). The library checks every GSL status itself, so an error comes back
 * as an ms_status and message, never as an abort (sim/core/gslguard.h).
 */
#ifndef MARGINSIM_RUN_H
#define MARGINSIM_RUN_H

#include <signal.h>
#include <stdint.h>

#include "output/assertion.h"
#include "marginsim/error.h"
#include "marginsim/marginsim.h"
#include "config/scenario.h"
#include "output/stats.h"
#include "output/sweep.h"

/* ms_run_opts is declared in the public marginsim/marginsim.h. */

/** What a finished run reports back. */
typedef struct ms_run_report {
  ms_stats stats;
  int64_t paths;
  int threads;
  double seconds;                       /* wall time of the simulation and writing */
  int nassert;                          /* the scenario's assertions, evaluated */
  ms_assert_result asserts[MS_MAX_ASSERTIONS];
} ms_run_report;

/**
 * Run every path of @p cfg and write the result file. On any failure, or
 * when *cancel becomes non-zero (MS_ERR_CANCELLED), no result file is left.
 */
ms_status ms_run(const ms_config *cfg, const ms_run_opts *opts, ms_run_report *report,
                 ms_error *err);

/**
 * Run @p cfgs[i] (one configuration per value of @p key, the same seed and
 * paths) into one file: /models/<values[i]>/..., then /compare with paired
 * differences against the first and the capital efficiency of each.
 */
ms_status ms_run_compare(const ms_config *const *cfgs, const char *const *values, int ncells, const char *key,
                         const ms_run_opts *opts, ms_compare_report *report, ms_error *err);

/** What a sweep reports back (ms_sweep_report_free releases it). */
typedef struct ms_sweep_report {
  int ncells, ndiffs, nshow, nassert;
  ms_stats *stats;                      /* [cell] */
  ms_diff_row *diffs;                   /* [cell * ndiffs]: paired differences against the baseline */
  ms_stat_value *show;                  /* [cell * nshow]: the headline statistics, 95% intervals */
  ms_diff_row *show_diff;               /* [cell * nshow]: their differences against the baseline;
                                           lo = hi = NaN for statistics that are not means or probabilities */
  ms_assert_result *asserts;            /* [cell * nassert] */
  int64_t replayed;                     /* cell-paths that replayed a recorded exogenous path */
  int threads;
  double seconds;
} ms_sweep_report;

/**
 * Run every cell of @p sw on the same paths into one file: /sweep/runs/<c>
 * per cell, /sweep with the axes, every cell's statistics and the paired
 * differences against the baseline cell (docs/output.md).
 */
ms_status ms_run_sweep(const ms_sweep *sw, const ms_run_opts *opts, ms_sweep_report *report, ms_error *err);

void ms_sweep_report_free(ms_sweep_report *r);

#endif
