/*
 * result — the accessors of ms_result (marginsim.h; the struct is in
 * result.h, filled by the driver).
 *
 * Columns are read through the summary columns of stats.c and liquidation
 * records through ms_record_liquidation (fields.c): the tables the result
 * file is written from, so a column read here equals the file's, name,
 * unit and value. Statistics are ms_stats_value_of at the 95% level, the
 * values of /stats. Every accessor only reads: concurrent readers of one
 * result are safe.
 */
#include "output/result.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output/fields.h"

void ms_result_free(ms_result *r) {
  if (!r) return;
  ms_config_free(r->cfg);
  free(r->rows);
  free(r->liqs);
  free(r);
}

int64_t ms_result_paths(const ms_result *r) { return r ? r->paths : 0; }
int ms_result_threads(const ms_result *r) { return r ? r->threads : 0; }
double ms_result_seconds(const ms_result *r) { return r ? r->seconds : NAN; }

/* ---- per-path rows ---- */

int ms_result_ncolumns(const ms_result *r) {
  if (!r) return 0;
  ms_column cols[MS_MAX_COLUMNS];
  return ms_stats_columns(r->cfg, cols, MS_MAX_COLUMNS);
}

/* Column @p i, or NULL when out of range. */
static const ms_column *column_at(const ms_result *r, int i, ms_column cols[MS_MAX_COLUMNS]) {
  if (!r) return NULL;
  int n = ms_stats_columns(r->cfg, cols, MS_MAX_COLUMNS);
  return i >= 0 && i < n ? &cols[i] : NULL;
}

const char *ms_result_column_name(const ms_result *r, int i) {
  ms_column cols[MS_MAX_COLUMNS];
  const ms_column *c = column_at(r, i, cols);
  if (!c) return NULL;
  /* A name that lives as long as the result: every column but "path" has
   * its row in the statistics, under the same name. */
  if (strcmp(c->name, "path") == 0) return "path";
  const ms_stat_row *row = ms_stats_find(&r->stats, c->name);
  return row ? row->name : NULL;
}

const char *ms_result_column_unit(const ms_result *r, int i) {
  ms_column cols[MS_MAX_COLUMNS];
  const ms_column *c = column_at(r, i, cols);
  return c ? (c->unit ? c->unit : "") : NULL;
}

const char *ms_result_column_type(const ms_result *r, int i) {
  ms_column cols[MS_MAX_COLUMNS];
  const ms_column *c = column_at(r, i, cols);
  if (!c) return NULL;
  return ms_field_type_name(c->type == MS_COL_I64 ? MS_FIELD_I64 : c->type == MS_COL_U64 ? MS_FIELD_U64 : MS_FIELD_F64);
}

/* "a, b, c" of @p n names into @p buf. */
static void list_names(char *buf, size_t len, int n, const char *(*name)(const void *, int), const void *ctx) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && k < len; i++) {
    int w = snprintf(buf + k, len - k, "%s%s", i ? ", " : "", name(ctx, i));
    if (w < 0) break;
    k += (size_t)w;
  }
}

static const char *col_name(const void *cols, int i) { return ((const ms_column *)cols)[i].name; }

ms_status ms_result_column(const ms_result *r, const char *name, double *out, ms_error *err) {
  if (!r || !name || (!out && r->paths > 0))
    return ms_error_set(err, MS_ERR_INPUT, "ms_result_column: the %s is NULL",
                        !r ? "result" : !name ? "column name" : "output array (out)");
  ms_column cols[MS_MAX_COLUMNS];
  int n = ms_stats_columns(r->cfg, cols, MS_MAX_COLUMNS);
  ms_field f[MS_MAX_COLUMNS];
  ms_fields_of_columns(cols, n, f);
  for (int c = 0; c < n; c++) {
    if (strcmp(f[c].name, name) != 0) continue;
    for (int64_t p = 0; p < r->paths; p++) out[p] = ms_field_value(&f[c], &r->rows[p]);
    return MS_OK;
  }
  char known[3000];
  list_names(known, sizeof known, n, col_name, cols);
  return ms_error_set(err, MS_ERR_INPUT, "no column '%s' in /paths/summary; the columns are: %s", name, known);
}

/* ---- statistics ---- */

ms_status ms_result_stat(const ms_result *r, const char *name, double *value, double *lo, double *hi,
                         ms_error *err) {
  if (value) *value = NAN;
  if (lo) *lo = NAN;
  if (hi) *hi = NAN;
  if (!r || !name || !value) return ms_error_set(err, MS_ERR_INPUT, "ms_result_stat: no result, name or value");
  ms_stat_value v;
  ms_colsrc src = ms_colsrc_rows(r->rows, r->paths);
  ms_status s = ms_stats_value_of(&r->stats, r->cfg, &src, name, 0, &v, err);
  if (s) return s;
  *value = v.value;
  if (lo) *lo = v.has_interval ? v.lo : NAN;
  if (hi) *hi = v.has_interval ? v.hi : NAN;
  return MS_OK;
}

/* ---- liquidation records ---- */

int64_t ms_result_nliquidations(const ms_result *r) { return r && r->liqs ? r->nliqs : 0; }

/* As the columns' accessors: no result, no fields. */
int ms_result_nliquidation_fields(const ms_result *r) { return r ? ms_record_liquidation_of(r->cfg)->nfields : 0; }

const char *ms_result_liquidation_field_name(const ms_result *r, int i) {
  const ms_record *rec = r ? ms_record_liquidation_of(r->cfg) : NULL;
  return rec && i >= 0 && i < rec->nfields ? rec->fields[i].name : NULL;
}

const char *ms_result_liquidation_field_unit(const ms_result *r, int i) {
  const ms_record *rec = r ? ms_record_liquidation_of(r->cfg) : NULL;
  if (!rec || i < 0 || i >= rec->nfields) return NULL;
  const char *u = rec->fields[i].unit;
  return u ? u : ""; /* "" when none, as ms_result_column_unit */
}

const char *ms_result_liquidation_field_type(const ms_result *r, int i) {
  const ms_record *rec = ms_record_liquidation_of(r ? r->cfg : NULL);
  return i >= 0 && i < rec->nfields ? ms_field_type_name(rec->fields[i].type) : NULL;
}

static const char *liq_name(const void *rec, int i) { return ((const ms_record *)rec)->fields[i].name; }

ms_status ms_result_liquidation_field(const ms_result *r, const char *name, double *out, ms_error *err) {
  if (!r || !name || (!out && ms_result_nliquidations(r) > 0))
    return ms_error_set(err, MS_ERR_INPUT, "ms_result_liquidation_field: the %s is NULL",
                        !r ? "result" : !name ? "field name" : "output array (out)");
  const ms_record *rec = ms_record_liquidation_of(r->cfg);
  const ms_field *f = ms_record_find(rec, name);
  if (!f) {
    char known[1024];
    list_names(known, sizeof known, rec->nfields, liq_name, rec);
    return ms_error_set(err, MS_ERR_INPUT, "no field '%s' in the liquidation records; the fields are: %s", name,
                        known);
  }
  int64_t n = ms_result_nliquidations(r);
  for (int64_t k = 0; k < n; k++) out[k] = ms_field_value(f, &r->liqs[k]);
  return MS_OK;
}

/* ---- the statistics tables' rows by index (/stats/summary, /stats/probabilities,
 * /stats/feedback), for readers that mirror the file without one ---- */

int ms_result_nstats(const ms_result *r) { return r ? r->stats.nrows : 0; }

const char *ms_result_stats_column(const ms_result *r, int i) {
  return r && i >= 0 && i < r->stats.nrows ? r->stats.rows[i].name : NULL;
}

const char *ms_result_stats_risky_side(const ms_result *r, int i) {
  if (!r || i < 0 || i >= r->stats.nrows) return NULL;
  return r->stats.rows[i].risky_low ? "low" : "high";
}

int ms_result_nevents(const ms_result *r) { return r ? r->stats.nprob : 0; }

const char *ms_result_event_name(const ms_result *r, int i) {
  return r && i >= 0 && i < r->stats.nprob ? r->stats.probs[i].name : NULL;
}

const char *ms_result_event_definition(const ms_result *r, int i) {
  return r && i >= 0 && i < r->stats.nprob ? r->stats.probs[i].definition : NULL;
}

ms_status ms_result_event(const ms_result *r, int i, int64_t *k, int64_t *n, double *p, double *lo,
                          double *hi, ms_error *err) {
  if (!r || i < 0 || i >= r->stats.nprob)
    return ms_error_set(err, MS_ERR_INPUT, "ms_result_event: index %d is not in [0, %d)", i,
                        r ? r->stats.nprob : 0);
  const ms_prob_row *e = &r->stats.probs[i];
  if (k) *k = e->k;
  if (n) *n = e->n;
  if (p) *p = e->p;
  if (lo) *lo = e->lo;
  if (hi) *hi = e->hi;
  return MS_OK;
}

int ms_result_nfeedback(const ms_result *r) { return r ? r->stats.nfeedback : 0; }

ms_status ms_result_feedback(const ms_result *r, int i, const char **statistic, int64_t *n, double *with_impact,
                             double *no_impact, double *diff, double *lo, double *hi, ms_error *err) {
  if (!r || i < 0 || i >= r->stats.nfeedback)
    return ms_error_set(err, MS_ERR_INPUT, "ms_result_feedback: index %d is not in [0, %d)", i,
                        r ? r->stats.nfeedback : 0);
  /* the twin is the baseline, the run the other side (stats.h) */
  const ms_diff_row *d = &r->stats.feedback[i];
  if (statistic) *statistic = d->name;
  if (n) *n = d->n;
  if (with_impact) *with_impact = d->other;
  if (no_impact) *no_impact = d->baseline;
  if (diff) *diff = d->diff;
  if (lo) *lo = d->lo;
  if (hi) *hi = d->hi;
  return MS_OK;
}
