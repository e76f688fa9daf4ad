/*
 * marginsim — the library's public API: the one header an application
 * includes (with marginsim/error.h, which it includes).
 *
 * Load a scenario from a file or a string with overrides, run it with a
 * progress callback and a cancel flag, with or without writing a result
 * file, and read the per-path rows, the statistics and the liquidation
 * records of the run in memory. Every handle is opaque and comes with its
 * free function; every call that can fail returns an ms_status and fills an
 * ms_error with a one-line message. Library code never prints, exits or
 * aborts (GSL's aborting handler is managed inside the library, see
 * docs/library.md). Runs on different ms_config handles, or on the same one,
 * may go on in several threads at once; a handle is not changed by a run.
 *
 * Everything else under sim/ is private: not installed, not stable.
 * docs/library.md shows a complete program.
 */
#ifndef MARGINSIM_MARGINSIM_H
#define MARGINSIM_MARGINSIM_H

#include <signal.h>
#include <stdint.h>

#include "marginsim/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A loaded, validated scenario (docs/scenario.md). */
typedef struct ms_config ms_config;

/** One finished run, held in memory: rows, statistics, liquidation records. */
typedef struct ms_result ms_result;

/* ---- scenarios ---------------------------------------------------------- */

/**
 * Load the scenario file @p path, then apply @p nsets overrides "KEY=VALUE"
 * (the CLI's --set). *out is NULL on failure. A NULL @p out, @p path or
 * override is MS_ERR_INPUT (@p sets may be NULL when @p nsets is 0).
 */
ms_status ms_config_load(ms_config **out, const char *path, const char *const *sets, int nsets,
                         ms_error *err);

/** As ms_config_load, from the YAML text @p text; @p src names it in messages ("<string>" when NULL). */
ms_status ms_config_load_string(ms_config **out, const char *text, const char *src,
                                const char *const *sets, int nsets, ms_error *err);

/** Free a scenario; NULL is allowed. */
void ms_config_free(ms_config *cfg);

/** The resolved scenario, every default filled in, as YAML (free() it; NULL when out of memory or @p cfg is NULL). */
char *ms_config_to_yaml(const ms_config *cfg);

/** The scenario's name, number of paths and seed (NULL, 0, 0 for a NULL @p cfg). */
const char *ms_config_name(const ms_config *cfg);
int64_t ms_config_paths(const ms_config *cfg);
uint64_t ms_config_seed(const ms_config *cfg);

/* ---- running ------------------------------------------------------------ */

typedef struct ms_run_opts {
  int threads;                          /* 0: OpenMP's default; results are the same for any count */
  const char *output;                   /* result file path, or NULL: no file (ms_simulate only) */
  const char *command;                  /* command line recorded in the file; may be NULL */
  /* Called on the calling thread only, as paths finish and after each batch;
   * done never decreases; keep it cheap. May be NULL. */
  void (*progress)(void *ctx, int64_t done, int64_t total);
  void *progress_ctx;
  const volatile sig_atomic_t *cancel;  /* non-zero: stop, return MS_ERR_CANCELLED, write nothing; may be NULL */
  /* A run with a file keeps its paths' results in a journal,
   * "<output>.partial", until the result file is complete (docs/robustness.md).
   * resume: 1 continues the interrupted run whose journal that is (the same
   * scenario, command and version, else MS_ERR_INPUT; ms_run, ms_run_compare
   * and ms_run_sweep only); 0 starts anew, and is refused while such a
   * journal exists. keep_partial: 1 keeps the journal when the run is
   * interrupted or fails for want of memory or disk, for a later resume
   * (not ms_simulate's, which nothing could continue); 0 removes it. */
  int resume;
  int keep_partial;
} ms_run_opts;

/**
 * Run every path of @p cfg. With opts->output set, also write the result file
 * (docs/output.md; written whole or not at all). *out receives the run's
 * result in memory (free it with ms_result_free); it is NULL on failure or
 * cancellation.
 */
ms_status ms_simulate(const ms_config *cfg, const ms_run_opts *opts, ms_result **out, ms_error *err);

/** Free a result; NULL is allowed. */
void ms_result_free(ms_result *r);

/** Paths run, threads used, wall time in seconds. */
int64_t ms_result_paths(const ms_result *r);
int ms_result_threads(const ms_result *r);
double ms_result_seconds(const ms_result *r);

/* ---- per-path rows: the columns of /paths/summary ------------------------ */

/** Number of columns, and column @p i's name and unit ("" when none); NULL when out of range. */
int ms_result_ncolumns(const ms_result *r);
const char *ms_result_column_name(const ms_result *r, int i);
const char *ms_result_column_unit(const ms_result *r, int i);
/** Column @p i's type in the file: "float64", "int64" or "uint64"; NULL when out of range. */
const char *ms_result_column_type(const ms_result *r, int i);

/**
 * Copy column @p name, one value per path in path order, into @p out
 * (ms_result_paths() doubles). Integer columns are exact (their values are
 * far below 2^53). MS_ERR_INPUT naming the known columns when there is no
 * such column; MS_ERR_INPUT when @p out is NULL (and there are paths).
 */
ms_status ms_result_column(const ms_result *r, const char *name, double *out, ms_error *err);

/* ---- statistics --------------------------------------------------------- */

/**
 * Statistic @p name, in the names of `marginsim check` and docs/output.md:
 * "COLUMN.FIELD" (FIELD: mean, sd, min, max, q50, q90, q99, q999, q01, q001,
 * es99, es01, n) or "EVENT.probability". *value, and *lo, *hi the 95%
 * interval (NaN when the statistic has none; lo, hi may be NULL). Equal to
 * /stats of the result file. MS_ERR_INPUT naming the known ones otherwise.
 */
ms_status ms_result_stat(const ms_result *r, const char *name, double *value, double *lo, double *hi,
                         ms_error *err);

/*
 * The rows of the file's statistics tables, by index, for readers that
 * mirror them (the Python front): /stats/summary has one row per column
 * with statistics (its fields through ms_result_stat, "COLUMN.FIELD"),
 * /stats/probabilities one per event, /stats/feedback one per statistic
 * of the no-feedback twin (stats.counterfactual). Out-of-range indices
 * give NULL or MS_ERR_INPUT.
 */
int ms_result_nstats(const ms_result *r);
const char *ms_result_stats_column(const ms_result *r, int i);
const char *ms_result_stats_risky_side(const ms_result *r, int i);  /* "high" or "low" */

int ms_result_nevents(const ms_result *r);
const char *ms_result_event_name(const ms_result *r, int i);
const char *ms_result_event_definition(const ms_result *r, int i);
/** Event @p i: k of n paths, the estimate p and its Wilson 95% interval [lo, hi]. */
ms_status ms_result_event(const ms_result *r, int i, int64_t *k, int64_t *n, double *p, double *lo,
                          double *hi, ms_error *err);

int ms_result_nfeedback(const ms_result *r);
/** Feedback row @p i: its statistic, paths, run and twin means, their difference and its 95% interval. */
ms_status ms_result_feedback(const ms_result *r, int i, const char **statistic, int64_t *n, double *with_impact,
                             double *no_impact, double *diff, double *lo, double *hi, ms_error *err);

/* ---- liquidation records: /paths/liquidations --------------------------- */

/**
 * Number of liquidation records kept. Records are kept when the scenario
 * sets output.liquidations (as for the file); 0 otherwise.
 */
int64_t ms_result_nliquidations(const ms_result *r);

/** Number of record fields, and field @p i's name and unit ("" when none); NULL when out of range. */
int ms_result_nliquidation_fields(const ms_result *r);
const char *ms_result_liquidation_field_name(const ms_result *r, int i);
const char *ms_result_liquidation_field_unit(const ms_result *r, int i);
/** Field @p i's type in the file: "float64", "int64", "uint64" or "int32"; NULL when out of range. */
const char *ms_result_liquidation_field_type(const ms_result *r, int i);

/**
 * Copy field @p name of every record, in file order, into @p out
 * (ms_result_nliquidations() doubles). MS_ERR_INPUT naming the known fields
 * when there is no such field; MS_ERR_INPUT when @p out is NULL (and there
 * are records).
 */
ms_status ms_result_liquidation_field(const ms_result *r, const char *name, double *out, ms_error *err);

#ifdef __cplusplus
}
#endif

#endif
