/*
 * marginsim — the umbrella header for programs that use the library.
 *
 * One include gives what a library user needs: load a scenario from a file
 * or a string with overrides (scenario.h), build a sweep (sweep.h), run it
 * into a result file with a progress callback and a cancel flag (run.h),
 * read the statistics it reports back (stats.h), and the status table and
 * one-line messages every call fills (error.h).
 *
 * Library code never prints, exits or aborts: failures come back as an
 * ms_status with a message, and GSL's aborting default handler is turned
 * off on first use (run.h). The other headers under include/marginsim/ are
 * internals today (issue 15 moves them to private headers); prefer this one.
 */
#ifndef MARGINSIM_MARGINSIM_H
#define MARGINSIM_MARGINSIM_H

#include "marginsim/error.h"
#include "marginsim/run.h"
#include "marginsim/scenario.h"
#include "marginsim/stats.h"
#include "marginsim/sweep.h"

#endif
