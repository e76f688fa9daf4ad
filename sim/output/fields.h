/*
 * fields — the records of the result file and one field table per record.
 *
 * A field table lists a record's fields in file order: name, C/HDF5 type,
 * offset in the C record, unit and meaning. It is the only description of a
 * record: h5out.c builds the HDF5 compound types (and the per-field unit
 * lines) from it, result.c reads the in-memory records through it, and
 * `marginsim schema --output` prints it as the tables of docs/output.md.
 * The columns of /paths/summary are the summary table of stats.c (they
 * depend on the scenario: regimes, the no-feedback twin), seen as fields
 * through ms_stats_columns(). No HDF5 here: tables only.
 */
#ifndef MARGINSIM_FIELDS_H
#define MARGINSIM_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "output/stats.h"

/** The type of a field, in C and in the file (native byte order). */
typedef enum {
  MS_FIELD_F64,  /* double */
  MS_FIELD_I64,  /* int64_t */
  MS_FIELD_U64,  /* uint64_t */
  MS_FIELD_I32,  /* int32_t */
  MS_FIELD_STR,  /* char[size], NUL-padded fixed-length string */
} ms_field_type;

typedef struct ms_field {
  const char *name;
  ms_field_type type;
  size_t offset;     /* in the C record */
  size_t size;       /* bytes: a string's length; 0 for numbers (their natural size) */
  const char *unit;  /* "" when none */
  const char *doc;   /* the meaning, one line */
} ms_field;

/** A record: its field table and the size of its C struct. */
typedef struct ms_record {
  const char *dataset;   /* where it is written, for documents: "/liquidations" */
  const ms_field *fields;
  int nfields;
  size_t size;           /* sizeof the C record */
} ms_record;

/** Bytes a field takes in the file. */
size_t ms_field_size(const ms_field *f);

/** The field named @p name of @p rec, or NULL. */
const ms_field *ms_record_find(const ms_record *rec, const char *name);

/** Field @p f of record @p base as a double (NaN for a string). */
double ms_field_value(const ms_field *f, const void *base);

/** The type's name in docs/output.md ("float64", "int64", "string"...). */
const char *ms_field_type_name(ms_field_type t);

/* ---- the records (each written by h5out.c from the table beside it) ---- */

/** Fixed string lengths of the tables. */
#define MS_REC_NAME 64  /* statistic, model and column names */

/** One row of /book: an account at the start of a path. */
typedef struct ms_book_row {
  int64_t account;
  int64_t side;              /* perp: +1 long, -1 short, 0 none */
  int64_t strategy;          /* -1 perp only, else book.options.strategies kind */
  double collateral;         /* USD deposited */
  double quantity;           /* signed perp units */
  double leverage;           /* perp entry notional / collateral */
  double notional;           /* USD gross: perp and short options' underlying, at the entry price */
  double initial_margin;     /* USD required at entry under the run's margin model */
  double maintenance_margin; /* USD required at entry */
  double liquidation_price;  /* USD oracle price at which a perp-only account becomes eligible (NaN: options) */
  double call_strike, call_qty; /* call leg: USD strike, signed units (0: none) */
  double put_strike, put_qty;   /* put leg */
  double expiry;             /* s, of the option legs (NaN: none) */
  double premium;            /* USD: premiums received (> 0) or paid (< 0) at entry */
} ms_book_row;

/** /stats/summary row: name, then 8-byte fields. */
typedef struct ms_stat_rec {
  char name[MS_REC_NAME];
  int64_t n;
  double mean, mean_lo, mean_hi, sd, min, max;
  double q[MS_NQUANT][3];  /* value, lo, hi */
  double es99, es99_lo, es99_hi, es01, es01_lo, es01_hi;
  char risky_side[8];      /* "high" or "low" */
} ms_stat_rec;

/** /stats/probabilities row. */
typedef struct ms_prob_rec {
  char name[MS_REC_NAME];
  char definition[128];
  int64_t k, n;
  double p, lo, hi;
} ms_prob_rec;

/** /stats/feedback row. */
typedef struct ms_feedback_rec {
  char statistic[MS_REC_NAME];
  int64_t n;
  double with_impact, no_impact, diff, lo, hi;
} ms_feedback_rec;

/** A row of /compare/differences or /sweep/differences (each its own list of fields). */
typedef struct ms_diff_rec {
  char statistic[MS_REC_NAME];
  char model[MS_REC_NAME];     /* --compare only: the value compared, and the first value */
  char baseline[MS_REC_NAME];
  int64_t n, probability;
  double baseline_mean, other_mean, diff, lo, hi, unpaired_lo, unpaired_hi;
} ms_diff_rec;

/** /compare/models row. */
typedef struct ms_eff_rec {
  char model[MS_REC_NAME];
  double initial_margin, risk, im_per_risk;
  double bad_debt_mean, insolvency_p, insolvency_lo, insolvency_hi;
  double liquidations_mean, largest_cascade_notional_mean;
} ms_eff_rec;

/** /assertions row. */
typedef struct ms_assert_rec {
  char assertion[256];
  char statistic[MS_STAT_NAME_MAX];
  char op[4];
  double threshold, confidence, value, lo, hi;
  int64_t passed;
  char where[256];
} ms_assert_rec;

/** /sweep/cells row. */
typedef struct ms_cell_rec {
  int64_t cell;
  char label[256];
} ms_cell_rec;

extern const ms_record ms_record_liquidation;   /* ms_liq_record, /liquidations */
extern const ms_record ms_record_cascade;       /* ms_cascade_record, /cascades */
extern const ms_record ms_record_book;          /* ms_book_row, /book */
extern const ms_record ms_record_multi_book;    /* ms_multi_book_row (engine.h), /book of a book of several markets */
extern const ms_record ms_record_liquidation_markets; /* ms_liq_record of a book of several markets: `position` */

/** The table of /liquidations' records under @p cfg (a book of several markets names the fourth field
 *  `position`, a row of /book, where one market's names it `account`). */
const ms_record *ms_record_liquidation_of(const ms_config *cfg);
extern const ms_record ms_record_stat;          /* ms_stat_rec, /stats/summary */
extern const ms_record ms_record_prob;          /* ms_prob_rec, /stats/probabilities */
extern const ms_record ms_record_feedback;      /* ms_feedback_rec, /stats/feedback */
extern const ms_record ms_record_diff;          /* ms_diff_rec: every field either difference table may hold */
extern const ms_record ms_record_eff;           /* ms_eff_rec, /compare/models */
extern const ms_record ms_record_assertion;     /* ms_assert_rec, /assertions */
extern const ms_record ms_record_cell;          /* ms_cell_rec, /sweep/cells */
#define MS_TRACE_NFIELDS 9
extern const ms_record ms_record_trace;         /* ms_trace: one (paths, samples) dataset per field (pointer members) */

/** One path's samples of /timeseries/fan: arrays of output.fan.points. */
typedef struct ms_fan_sample {
  const double *price;     /* USD, exogenous */
  const double *mark;      /* USD */
  const int32_t *regime;
} ms_fan_sample;

#define MS_FAN_NFIELDS 3
extern const ms_record ms_record_fan;           /* ms_fan_sample: one dataset per field (pointer members) */

/** The fields of /compare/differences and /sweep/differences, in file order (names in ms_record_diff). */
extern const char *const ms_compare_diff_fields[];
extern const char *const ms_sweep_diff_fields[];

/** The summary columns of @p cfg as fields: @p out[i] points into @p cols (which must outlive it). */
void ms_fields_of_columns(const ms_column *cols, int n, ms_field *out);

/** The names of the tables of docs/output.md, NULL-terminated: "summary", "liquidations"... */
extern const char *const ms_fields_tables[];

/**
 * Table @p name of docs/output.md as Markdown (field | type | unit |
 * meaning), what scripts/update-docs puts between the markers
 * "<!-- BEGIN GENERATED: marginsim schema --output NAME -->" and
 * "<!-- END GENERATED -->". malloc'd; NULL for an unknown name or when
 * out of memory.
 */
char *ms_fields_markdown(const char *name);

#endif
