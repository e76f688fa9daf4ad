/*
 * result_tmp — TEMPORARY accessors of ms_result (marginsim.h), so that the
 * driver's ms_simulate and its tests (test_library, test_umbrella,
 * library_doc) link before output/result.c lands (branch h-out). The lead
 * deletes this file at the merge; output/result.c replaces it, reading the
 * same struct ms_result (output/result.h) through the result file's field
 * tables. Nothing here is meant to stay: the liquidation fields are a
 * hand copy of h5out's compound type.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "output/result.h"
#include "output/stats.h"

void ms_result_free(ms_result *r) {
  if (!r) return;
  ms_config_free(r->cfg);
  free(r->rows);
  free(r->liqs);
  free(r);
}

int64_t ms_result_paths(const ms_result *r) { return r->paths; }
int ms_result_threads(const ms_result *r) { return r->threads; }
double ms_result_seconds(const ms_result *r) { return r->seconds; }

int ms_result_ncolumns(const ms_result *r) {
  ms_column cols[MS_MAX_COLUMNS];
  return ms_stats_columns(r->cfg, cols, MS_MAX_COLUMNS);
}

/* Column @p i's name, kept in the result: "path", or its statistics row's. */
const char *ms_result_column_name(const ms_result *r, int i) {
  ms_column cols[MS_MAX_COLUMNS];
  int n = ms_stats_columns(r->cfg, cols, MS_MAX_COLUMNS);
  if (i < 0 || i >= n) return NULL;
  if (strcmp(cols[i].name, "path") == 0) return "path";
  for (int k = 0; k < r->stats.nrows; k++)
    if (strcmp(r->stats.rows[k].name, cols[i].name) == 0) return r->stats.rows[k].name;
  return NULL;
}

const char *ms_result_column_unit(const ms_result *r, int i) {
  ms_column cols[MS_MAX_COLUMNS];
  int n = ms_stats_columns(r->cfg, cols, MS_MAX_COLUMNS);
  if (i < 0 || i >= n) return NULL;
  return cols[i].unit ? cols[i].unit : "";
}

ms_status ms_result_column(const ms_result *r, const char *name, double *out, ms_error *err) {
  ms_column cols[MS_MAX_COLUMNS];
  int n = ms_stats_columns(r->cfg, cols, MS_MAX_COLUMNS);
  for (int c = 0; c < n; c++) {
    if (strcmp(cols[c].name, name) != 0) continue;
    for (int64_t p = 0; p < r->paths; p++) out[p] = ms_stats_value(&cols[c], &r->rows[p]);
    return MS_OK;
  }
  return ms_error_set(err, MS_ERR_INPUT, "no column %s in the result", name);
}

ms_status ms_result_stat(const ms_result *r, const char *name, double *value, double *lo, double *hi,
                         ms_error *err) {
  char msg[MS_ERROR_MSG_MAX];
  if (ms_stats_known(r->cfg, name, msg, sizeof msg)) return ms_error_set(err, MS_ERR_INPUT, "%s", msg);
  ms_stat_value v;
  ms_status s = ms_stats_value_of(&r->stats, r->cfg, r->rows, r->paths, name, 0, &v, err);
  if (s) return s;
  *value = v.value;
  if (lo) *lo = v.has_interval ? v.lo : NAN;
  if (hi) *hi = v.has_interval ? v.hi : NAN;
  return MS_OK;
}

/* The fields of /paths/liquidations (h5out.c's liquidation_type, by hand). */
enum { F_U64, F_I64, F_I32, F_F64 };
static const struct {
  const char *name, *unit;
  size_t offset;
  int type;
} liq_fields[] = {
    {"path", "", offsetof(ms_liq_record, path), F_U64},
    {"time", "ms", offsetof(ms_liq_record, time), F_I64},
    {"obs_time", "ms", offsetof(ms_liq_record, obs_time), F_I64},
    {"account", "", offsetof(ms_liq_record, account), F_I64},
    {"side", "", offsetof(ms_liq_record, side), F_I32},
    {"impact_triggered", "", offsetof(ms_liq_record, impact_triggered), F_I32},
    {"full", "", offsetof(ms_liq_record, full), F_I32},
    {"generation", "", offsetof(ms_liq_record, generation), F_I32},
    {"cascade", "", offsetof(ms_liq_record, cascade), F_I64},
    {"oracle_price", "USD", offsetof(ms_liq_record, oracle_price), F_F64},
    {"exog_oracle_price", "USD", offsetof(ms_liq_record, exog_oracle_price), F_F64},
    {"mark_price", "USD", offsetof(ms_liq_record, mark_price), F_F64},
    {"qty", "", offsetof(ms_liq_record, qty), F_F64},
    {"notional", "USD", offsetof(ms_liq_record, notional), F_F64},
    {"bad_debt", "USD", offsetof(ms_liq_record, bad_debt), F_F64},
    {"penalty", "USD", offsetof(ms_liq_record, penalty), F_F64},
    {"adl_qty", "", offsetof(ms_liq_record, adl_qty), F_F64},
    {"delay", "s", offsetof(ms_liq_record, delay), F_F64},
};
#define NLIQ ((int)(sizeof liq_fields / sizeof liq_fields[0]))

int64_t ms_result_nliquidations(const ms_result *r) { return r->nliqs; }
int ms_result_nliquidation_fields(const ms_result *r) { (void)r; return NLIQ; }

const char *ms_result_liquidation_field_name(const ms_result *r, int i) {
  (void)r;
  return i >= 0 && i < NLIQ ? liq_fields[i].name : NULL;
}

const char *ms_result_liquidation_field_unit(const ms_result *r, int i) {
  (void)r;
  return i >= 0 && i < NLIQ ? liq_fields[i].unit : NULL;
}

ms_status ms_result_liquidation_field(const ms_result *r, const char *name, double *out, ms_error *err) {
  for (int f = 0; f < NLIQ; f++) {
    if (strcmp(liq_fields[f].name, name) != 0) continue;
    for (int64_t k = 0; k < r->nliqs; k++) {
      const char *p = (const char *)&r->liqs[k] + liq_fields[f].offset;
      switch (liq_fields[f].type) {
      case F_U64: out[k] = (double)*(const uint64_t *)p; break;
      case F_I64: out[k] = (double)*(const int64_t *)p; break;
      case F_I32: out[k] = (double)*(const int32_t *)p; break;
      default: out[k] = *(const double *)p; break;
      }
    }
    return MS_OK;
  }
  return ms_error_set(err, MS_ERR_INPUT, "no liquidation field %s", name);
}
