/*
 * scenario — a scenario file (YAML) turned into a typed, validated
 * configuration. Every key has a default (docs/scenario.md, generated from
 * the same tables by `marginsim schema`); unknown keys, wrong types and
 * out-of-range values are rejected with "file:line:col: key.path: message".
 *
 * Units in the struct: time in integer milliseconds, rates in events per
 * day, volatilities and drifts annualised (a year is market.days_per_year
 * days), prices and money in USD.
 */
#ifndef MARGINSIM_SCENARIO_H
#define MARGINSIM_SCENARIO_H

#include <stdint.h>

#include "marginsim/dist.h"
#include "marginsim/error.h"

#define MS_MAX_REGIMES 16
#define MS_NAME_MAX 32

typedef struct ms_jump_cfg {
  double rate;           /* jump arrivals per day */
  double mean;           /* mean of the log jump size */
  double sd;             /* standard deviation of the log jump size */
} ms_jump_cfg;

typedef struct ms_regime_cfg {
  char name[MS_NAME_MAX];
  double vol;            /* annualised volatility of log returns */
  double drift;          /* annualised drift mu of dS/S (log drift is mu - vol^2/2) */
  int64_t mean_duration; /* ms, mean holding time of the regime */
  ms_jump_cfg jumps;
} ms_regime_cfg;

typedef enum { MS_MODEL_REGIME_SWITCHING = 0 } ms_price_model;

typedef struct ms_transition_cfg {
  int rows, cols;
  double v[MS_MAX_REGIMES][MS_MAX_REGIMES]; /* weights of the next regime; diagonal 0 */
} ms_transition_cfg;

typedef struct ms_market_cfg {
  double initial_price;  /* USD */
  int model;             /* ms_price_model */
  int nregimes;
  ms_regime_cfg regimes[MS_MAX_REGIMES];
  ms_transition_cfg transition; /* rows == 0: switch to the other regime(s) uniformly */
  char start_regime[MS_NAME_MAX]; /* a regime name or "stationary" */
  int start_index;       /* resolved: regime index, or -1 for stationary */
  double days_per_year;  /* for annualised vol and drift */
} ms_market_cfg;

typedef struct ms_timeseries_cfg {
  int64_t paths;         /* record the first this many paths */
  int64_t every;         /* ms between samples */
} ms_timeseries_cfg;

typedef struct ms_output_cfg {
  ms_timeseries_cfg timeseries;
  int64_t compression;   /* gzip level of chunked datasets, 0 = none */
  int64_t chunk_paths;   /* paths per write batch */
} ms_output_cfg;

typedef struct ms_config {
  char name[64];
  uint64_t seed;
  int64_t paths;
  int64_t horizon;       /* ms */
  int64_t step;          /* ms, the exogenous tick */
  ms_market_cfg market;
  ms_output_cfg output;

  /* Provenance, not scenario keys. */
  char *source_text;     /* the scenario file as read (owned) */
  char source_path[1024];
} ms_config;

/**
 * Load a scenario file and apply @p sets ("key.path=value", in order), then
 * validate everything. On failure *out is NULL and err names the place.
 */
ms_status ms_config_load(ms_config **out, const char *path, const char *const *sets, int nsets,
                         ms_error *err);

/** Same from text in memory; @p src names it in messages. */
ms_status ms_config_load_string(ms_config **out, const char *text, const char *src,
                                const char *const *sets, int nsets, ms_error *err);

/** Free; NULL is a no-op. */
void ms_config_free(ms_config *cfg);

/** The resolved configuration (every key, defaults filled) as YAML; caller frees. */
char *ms_config_to_yaml(const ms_config *cfg);

/** Markdown tables of every key with type, default, range and meaning; caller frees. */
char *ms_config_schema_markdown(void);

/** Index of the regime named @p name, or -1. */
int ms_config_regime_index(const ms_config *cfg, const char *name);

#endif
