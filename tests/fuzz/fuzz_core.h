/*
 * fuzz_core — what one fuzz input goes through, shared by the libFuzzer
 * target (fuzz_loader.c, clang) and the replay driver (fuzz_replay.c, any
 * compiler, run by ctest over tests/fuzz/regress/).
 *
 * An input is a scenario file; its leading comment lines "# set: KEY=VALUE"
 * are --set options. It is loaded the way `marginsim validate` loads it
 * (ms_config_load, the assertions, the run's book), then:
 *  - the resolved configuration (validate's output) must load again and
 *    resolve to the same text: validate's output round-trips;
 *  - the book is drawn (path 0 when book.resample is per_path, the run's
 *    book otherwise) with book.accounts cut to MS_FUZZ_MAX_ACCOUNTS, so that
 *    one input cannot take long and every input still draws a book, and
 *    the values of the result file's /book rows are computed;
 *  - on request (the regression inputs that broke a run), path 0 is
 *    simulated on that book.
 * A rejection must be bad input (status MS_ERR_INPUT, exit 2) with a
 * message of one line (no control characters: a value quoted from the file
 * is escaped).
 * Anything else is a finding: a crash, an assertion, a sanitizer report, a
 * hang (libFuzzer's -timeout, the replay driver's alarm), another status, or
 * a broken round trip.
 */
#ifndef MS_FUZZ_CORE_H
#define MS_FUZZ_CORE_H

#include <stddef.h>

#include "marginsim/error.h"

/* Accounts drawn per input: the default book's size. The draw is linear in
 * accounts, so a larger book finds nothing a small one does not, slower. */
#define MS_FUZZ_MAX_ACCOUNTS 1000

typedef enum {
  MS_FUZZ_LOADED = 0,   /* loaded, round-tripped, book drawn (and path 0 run) */
  MS_FUZZ_REJECTED,     /* bad input, cleanly: status MS_ERR_INPUT and a message */
  MS_FUZZ_FINDING       /* a defect: see msg */
} ms_fuzz_outcome;

typedef struct ms_fuzz_result {
  ms_fuzz_outcome outcome;
  ms_error err;         /* the rejection, or the error behind a finding */
  char msg[MS_ERROR_MSG_MAX + 512]; /* for a finding: what went wrong */
} ms_fuzz_result;

/** Once per process, before any input: GSL reports by status (as in the CLI). */
void ms_fuzz_init(void);

/**
 * Run the scenario file at @p path through the loader and the book draw;
 * with @p simulate, then path 0 through the engine too (the replay of
 * inputs that hung or crashed a run: no path may run without end, and a
 * failure mid-run must be bad input too).
 */
void ms_fuzz_run_file(const char *path, int simulate, ms_fuzz_result *res);

#endif
