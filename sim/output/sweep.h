/*
 * sweep — the plan of a parameter sweep: its axes (`--grid KEY=V1,V2,...`
 * or `KEY=FROM:TO:STEP`, or the scenario's sweep.grid), the cartesian
 * product of their values as cells (the last axis varying fastest), each
 * cell's validated configuration, the baseline cell and the headline
 * statistics. Running it is ms_run_sweep (run.h): every cell on the same
 * paths, so the differences between cells are paired.
 */
#ifndef MARGINSIM_SWEEP_H
#define MARGINSIM_SWEEP_H

#include "marginsim/error.h"
#include "config/scenario.h"

#define MS_SWEEP_MAX_CELLS 4096
#define MS_SWEEP_MAX_VALUES 1000
#define MS_SWEEP_VALUE 128
#define MS_SWEEP_LABEL 512

typedef struct ms_sweep_axis {
  char key[256];                       /* a scenario key path, as for --set */
  int n;                               /* values */
  char (*values)[MS_SWEEP_VALUE];      /* as given (or generated from a range) */
  double *numeric;                     /* as a number: durations in s, rates per day; NaN if not one */
} ms_sweep_axis;

typedef struct ms_sweep {
  int naxes;
  ms_sweep_axis axes[MS_MAX_GRID];
  int ncells;
  int *index;                          /* [cell * naxes + axis]: the value index of each axis */
  ms_config **cfgs;                    /* per cell, validated */
  char (*labels)[MS_SWEEP_LABEL];      /* per cell: "KEY=V KEY2=V2" */
  int baseline;                        /* the cell differences are taken against */
  int nshow;
  char show[MS_MAX_SHOW][MS_STAT_NAME_MAX]; /* headline statistics */
} ms_sweep;

/**
 * Parse one axis, "KEY=V1,V2,..." (commas inside [], {} or quotes do not
 * split) or "KEY=FROM:TO:STEP" (numbers, or durations with units; TO is
 * included when the steps reach it).
 */
ms_status ms_sweep_parse_axis(const char *spec, ms_sweep_axis *ax, ms_error *err);

/**
 * Parse "KEY=V1,V2,..." as ms_sweep_parse_axis does, without ranges, for
 * option @p opt (named in the messages): `run --compare`. Values are
 * trimmed; an empty one, or one given twice, is an error.
 */
ms_status ms_sweep_parse_list(const char *opt, const char *spec, ms_sweep_axis *ax, ms_error *err);

/** Free an axis's values (not the axis itself). */
void ms_sweep_axis_clear(ms_sweep_axis *ax);

/**
 * Plan the sweep of the scenario at @p path with @p sets applied to every
 * cell. @p grids (ngrids of them), @p baseline and @p show (comma-separated
 * statistics) come from the command line; when NULL / 0 the scenario's
 * sweep section is used. Every cell's configuration is loaded and validated
 * here, so a bad value fails before anything runs.
 */
ms_status ms_sweep_new(ms_sweep **out, const char *path, const char *const *sets, int nsets,
                       const char *const *grids, int ngrids, const char *baseline, const char *show,
                       ms_error *err);

/** Free; NULL is a no-op. */
void ms_sweep_free(ms_sweep *sw);

#endif
