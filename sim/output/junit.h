/*
 * junit — a JUnit XML report of a check: one <testsuite> per scenario, one
 * <testcase> per assertion, a <failure> for each that does not hold. The
 * format CI viewers read (Jenkins, GitLab, GitHub test reporters); written
 * to a temporary and renamed, like the result file (marginsim/outfile.h).
 */
#ifndef MARGINSIM_JUNIT_H
#define MARGINSIM_JUNIT_H

#include "output/assertion.h"
#include "marginsim/error.h"
#include "config/scenario.h"
#include "output/outfile.h"

/** What the report is, for -o checks: an existing file is replaced only when it is an earlier report. */
extern const ms_outfile_kind ms_junit_kind;

/** Write the report of @p n results of a check of @p cfg that took @p seconds. */
ms_status ms_junit_write(const char *path, const ms_config *cfg, const ms_assert_result *r, int n,
                         double seconds, ms_error *err);

#endif
