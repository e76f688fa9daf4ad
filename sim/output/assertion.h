/*
 * assertion — the scenario's assertions tested against a run's statistics.
 *
 * An assertion "STATISTIC OP VALUE" holds when the statistic's estimate
 * satisfies the comparison; with `confidence: c` (0 < c < 1) it holds only
 * when the statistic's whole c-level interval does, so a CI job does not
 * flap on Monte Carlo noise: `<` and `<=` test the upper end, `>` and `>=`
 * the lower end, `==` holds when VALUE lies inside the interval and `!=`
 * when it lies outside. Intervals: normal for means, Wilson for
 * probabilities, distribution-free order statistics for quantiles.
 */
#ifndef MARGINSIM_ASSERTION_H
#define MARGINSIM_ASSERTION_H

#include <stdint.h>

#include "engine/engine.h"
#include "marginsim/error.h"
#include "config/scenario.h"
#include "output/stats.h"

typedef struct ms_assert_result {
  const ms_assertion_cfg *a;  /* the assertion (in the run's configuration) */
  ms_stat_value v;            /* the statistic; v.lo, v.hi at a->confidence (95% when 0) */
  int passed;
  int point_passes;           /* what the estimate alone says (differs: not yet conclusive) */
} ms_assert_result;

/**
 * Check that every assertion of @p cfg names a statistic the run produces
 * and that a `confidence` goes with one that has an interval; the message
 * names the assertion's place in the scenario and the known statistics.
 */
ms_status ms_assertions_check(const ms_config *cfg, ms_error *err);

/** Evaluate every assertion of @p cfg on the run's per-path values (@p src) and their statistics. */
ms_status ms_assertions_eval(const ms_config *cfg, const ms_stats *st, const ms_colsrc *src,
                             ms_assert_result *out, ms_error *err);

/** One line describing a result: "insolvency.probability = 0.004 [0.001, 0.012] (95% interval)". */
void ms_assertion_describe(const ms_assert_result *r, char *buf, size_t len);

#endif
