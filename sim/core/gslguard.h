/*
 * gslguard — GSL's error handler, managed by the library (private header).
 *
 * GSL's default handler calls abort() on any error (a singular matrix, a
 * failed allocation), and library code must never end the process: every
 * GSL call the library makes is checked by its return status instead.
 */
#ifndef MARGINSIM_GSLGUARD_H
#define MARGINSIM_GSLGUARD_H

/**
 * Turn GSL's aborting default handler off, once per process, unless the
 * application installed a handler of its own before (that one is kept).
 * Idempotent and thread-safe; called at every public entry point that can
 * reach GSL (ms_config_load*, ms_run, ms_run_compare, ms_run_sweep).
 */
void ms_gsl_quiet(void);

#endif
