/*
 * result — one finished run held in memory (the public ms_result of
 * marginsim.h): the per-path summary rows, their statistics, the
 * assertions' outcomes and, when the scenario keeps them, the liquidation
 * records. The driver fills it (driver/run.c); the accessors of marginsim.h
 * read it (output/result.c) through the same field tables as the result
 * file, so a column read here equals the file's.
 */
#ifndef MARGINSIM_RESULT_H
#define MARGINSIM_RESULT_H

#include <stdint.h>

#include "config/scenario.h"
#include "engine/engine.h"
#include "marginsim/marginsim.h"
#include "output/assertion.h"
#include "output/stats.h"

struct ms_result {
  ms_config *cfg;                 /* a private copy: the result outlives the caller's handle */
  int64_t paths;
  int threads;
  double seconds;
  ms_path_summary *rows;          /* [paths], in path order */
  ms_liq_record *liqs;            /* [nliqs], in file order (path, then time); NULL when not kept */
  int64_t nliqs;
  ms_stats stats;                 /* as /stats */
  int nassert;
  ms_assert_result asserts[MS_MAX_ASSERTIONS];
};

#endif
