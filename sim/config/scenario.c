/*
 * scenario — the scenario keys (one field table per section), their
 * cross-field checks, --set, and the public loading API (see scenario.h).
 *
 * Defaults and their sources are documented in docs/scenario.md; the tables
 * there are generated from the tables here (`marginsim schema`), and a test
 * checks that the two agree.
 */
#include "config/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gsl/gsl_linalg.h>
#include <libgen.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dist.h"
#include "core/linalg.h"
#include "core/series.h"
#include "core/rng.h"
#include "core/units.h"
#include "core/gslguard.h"
#include "config/schema.h"
#include "core/yamltree.h"

_Static_assert(sizeof(ms_transition_cfg) == sizeof(ms_matrix) && MS_MAX_REGIMES == MS_MATRIX_MAX,
               "the transition matrix is read as an ms_matrix");

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OFF(type, member) offsetof(type, member)

/* ----------------------------------------------------------------- market */

static const ms_field jump_fields[] = {
    {.name = "rate", .kind = MS_F_RATE, .offset = OFF(ms_jump_cfg, rate), .def = "0/d",
     .bounds = MS_B_GE, .min = 0, .doc = "arrival rate of jumps (compound Poisson); finite as events per day"},
    {.name = "mean", .kind = MS_F_NUMBER, .offset = OFF(ms_jump_cfg, mean), .def = "0",
     .unit = "log return",
     .doc = "mean of the normal log jump size; abs(mean) + 12.31 sd must be <= 25 (no jump beyond a factor e^25)"},
    {.name = "sd", .kind = MS_F_NUMBER, .offset = OFF(ms_jump_cfg, sd), .def = "0",
     .bounds = MS_B_GE, .min = 0, .unit = "log return",
     .doc = "standard deviation of the normal log jump size"},
};
/* Largest log move of one jump (a factor e^25, about 7e10): a log price
 * pushed past the double range by one jump made every later number inf. */
#define MS_JUMP_LOG_MAX 25.0

/* Every jump drawn, mean + sd z with |z| <= ms_rng_gaussian_max() (12.31),
 * stays within MS_JUMP_LOG_MAX. */
static ms_status check_jump(void *obj, ms_check *ck) {
  ms_jump_cfg *j = obj;
  double z = ms_rng_gaussian_max(), big = fabs(j->mean) + z * j->sd;
  if (big <= MS_JUMP_LOG_MAX) return MS_OK;
  return ms_check_fail(ck, j->sd > 0 ? "sd" : "mean",
                       "a jump can move the log price by abs(mean) + %.2f sd = %.4g; at most %g "
                       "(a factor e^%g)", z, big, MS_JUMP_LOG_MAX, MS_JUMP_LOG_MAX);
}

static const ms_schema jump_schema = {"jumps", jump_fields, N(jump_fields), check_jump,
                                      "Jumps of the log price, arriving as a Poisson process while "
                                      "the regime holds."};

static ms_status check_regime(void *obj, ms_check *ck) {
  ms_regime_cfg *r = obj;
  for (const char *p = r->name; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
      return ms_check_fail(ck, "name", "use letters, digits, '_' and '-' only (got \"%s\")", r->name);
  return MS_OK;
}

static const ms_field asset_regime_fields[] = {
    {.name = "vol", .kind = MS_F_NUMBER, .offset = OFF(ms_asset_regime_cfg, vol), .def = "0.7",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 100, .unit = "annualised",
     .doc = "volatility of the asset's log returns in the regime"},
    {.name = "drift", .kind = MS_F_NUMBER, .offset = OFF(ms_asset_regime_cfg, drift), .def = "0",
     .bounds = MS_B_GE | MS_B_LE, .min = -1000, .max = 1000, .unit = "annualised",
     .doc = "drift mu of the asset's dS/S in the regime"},
};
static const ms_schema asset_regime_schema = {"asset regime", asset_regime_fields, N(asset_regime_fields), NULL,
                                              "One asset's volatility and drift in one regime (market.assets)."};

static const ms_field regime_fields[] = {
    {.name = "name", .kind = MS_F_STRING, .offset = OFF(ms_regime_cfg, name), .def = "\"\"",
     .str_size = MS_NAME_MAX, .doc = "name used in the output (default: regime0, regime1, ...)"},
    {.name = "vol", .kind = MS_F_NUMBER, .offset = OFF(ms_regime_cfg, vol), .def = "0.7",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 100, .unit = "annualised",
     .doc = "volatility of log returns (0, a path that only drifts, jumps and follows market.shocks, "
            "with static or tiered margin and no options)"},
    {.name = "drift", .kind = MS_F_NUMBER, .offset = OFF(ms_regime_cfg, drift), .def = "0",
     .bounds = MS_B_GE | MS_B_LE, .min = -1000, .max = 1000, .unit = "annualised",
     .doc = "drift mu of dS/S; the log price drifts at mu - vol^2/2"},
    {.name = "mean_duration", .kind = MS_F_DURATION, .offset = OFF(ms_regime_cfg, mean_duration),
     .def = "1d", .bounds = MS_B_GT, .min = 0,
     .doc = "mean holding time; holding times are exponential"},
    {.name = "jumps", .kind = MS_F_SECTION, .offset = OFF(ms_regime_cfg, jumps), .sub = &jump_schema,
     .doc = "jumps while in this regime (with market.assets, common to every asset, scaled by its jump_loading)"},
    {.name = "assets", .kind = MS_F_LIST, .offset = OFF(ms_regime_cfg, assets), .def = "[]", .bounds = MS_B_GE,
     .min = 0, .sub = &asset_regime_schema, .count_offset = OFF(ms_regime_cfg, nassets), .max_items = MS_MAX_ASSETS,
     .item_size = sizeof(ms_asset_regime_cfg),
     .doc = "with market.assets: each asset's vol and drift in this regime, in the order of market.assets (the "
            "regime's vol and drift are then the traded asset's)"},
    {.name = "correlation", .kind = MS_F_MATRIX, .offset = OFF(ms_regime_cfg, correlation), .def = "[]",
     .bounds = MS_B_GE | MS_B_LE, .min = -1, .max = 1,
     .doc = "with market.assets: the correlation of the assets' log returns in this regime (symmetric, unit "
            "diagonal, positive semi-definite); empty: uncorrelated"},
};
static const ms_schema regime_schema = {"regime", regime_fields, N(regime_fields), check_regime,
                                        "One volatility regime of the exogenous price."};

/* The keys that pick a model read its names from its type table (scenario.h). */
static const void *price_model_at(int i) { return ms_price_models[i]; }
static const void *impact_type_at(int i) { return ms_impact_types[i]; }
static const void *margin_type_at(int i) { return ms_margin_types[i]; }
static const void *oracle_type_at(int i) { return ms_oracle_types[i]; }
static const void *keeper_type_at(int i) { return ms_keeper_types[i]; }
static const void *shortfall_type_at(int i) { return ms_shortfall_types[i]; }

static const ms_field impact_fields[] = {
    {.name = "model", .kind = MS_F_MODEL, .offset = OFF(ms_impact_cfg, model), .def = "sqrt",
     .types = impact_type_at,
     .doc = "impact of the liquidation flow Q: `linear` dlnP = 0.01 Q/depth, `sqrt` dlnP = 0.01 "
            "sign(Q) sqrt(abs(Q)/depth), `none`"},
    {.name = "depth", .kind = MS_F_NUMBER, .offset = OFF(ms_impact_cfg, depth), .def = "5e7",
     .bounds = MS_B_GT, .min = 0, .unit = "USD", .doc = "signed flow that moves the price 1%"},
    {.name = "half_life", .kind = MS_F_DURATION, .offset = OFF(ms_impact_cfg, half_life),
     .def = "10m", .bounds = MS_B_GE, .min = 0,
     .doc = "half-life of the decaying cumulative flow Q; 0s: Q never decays (permanent impact)"},
    {.name = "options", .kind = MS_F_BOOL, .offset = OFF(ms_impact_cfg, options), .def = "false",
     .doc = "option fills move the underlying too (by their delta-equivalent notional)"},
};
static const ms_field smile_fields[] = {
    {.name = "skew", .kind = MS_F_NUMBER, .offset = OFF(ms_smile_cfg, skew), .def = "0",
     .bounds = MS_B_GE | MS_B_LE, .min = -10, .max = 10,
     .doc = "implied vol = regime vol x max(floor, 1 + skew x ln(K / S)); negative: puts dearer"},
    {.name = "floor", .kind = MS_F_NUMBER, .offset = OFF(ms_smile_cfg, floor), .def = "0.2",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1, .doc = "least smile factor"},
};
static const ms_schema smile_schema = {"smile", smile_fields, N(smile_fields), NULL,
                                       "Implied volatility of options: the current regime's vol "
                                       "times the smile, so a regime switch reprices every option."};

static const ms_schema impact_schema = {"impact", impact_fields, N(impact_fields), NULL,
                                        "Market impact of liquidation fills: the mark price is the "
                                        "exogenous price times exp(impact). Liquidated longs sell "
                                        "(Q falls), liquidated shorts buy."};

/* Long-run fraction of time in each regime: pi Q = 0, sum pi = 1 for the
 * generator Q_ij = w_ij / d_i (i != j), Q_ii = -1 / d_i, w the normalised
 * transition row (or the other regimes equally). */
static ms_status stationary(ms_market_cfg *m, ms_check *ck) {
  int n = m->nregimes;
  if (n == 1) { m->stationary[0] = 1.0; return MS_OK; }
  gsl_matrix *A = gsl_matrix_calloc((size_t)n, (size_t)n);
  gsl_vector *b = gsl_vector_calloc((size_t)n), *x = gsl_vector_alloc((size_t)n);
  gsl_permutation *perm = gsl_permutation_alloc((size_t)n);
  ms_status s = MS_OK;
  if (!A || !b || !x || !perm) { s = ms_error_set(ck->err, MS_ERR_NOMEM, "out of memory"); goto out; }
  for (int i = 0; i < n; i++) {
    double tot = 0, w[MS_MAX_REGIMES];
    for (int j = 0; j < n; j++) tot += w[j] = m->transition.rows ? m->transition.v[i][j] : (i == j ? 0.0 : 1.0);
    double d = (double)m->regimes[i].mean_duration;
    for (int j = 0; j < n; j++) gsl_matrix_set(A, (size_t)j, (size_t)i, i == j ? -1.0 / d : w[j] / tot / d);
  }
  for (int i = 0; i < n; i++) gsl_matrix_set(A, (size_t)(n - 1), (size_t)i, 1.0);
  gsl_vector_set(b, (size_t)(n - 1), 1.0);
  int sign, bad = gsl_linalg_LU_decomp(A, perm, &sign) || gsl_linalg_LU_solve(A, perm, b, x);
  for (int i = 0; !bad && i < n; i++) {
    double p = gsl_vector_get(x, (size_t)i);
    if (!(p >= -1e-12) || !isfinite(p)) bad = 1;
    m->stationary[i] = p < 0 ? 0 : p;
  }
  if (bad)
    s = ms_check_fail(ck, "transition", "the regime chain has no unique stationary distribution "
                      "(is every regime reachable from every other?)");
out:
  gsl_matrix_free(A);
  gsl_vector_free(b);
  gsl_vector_free(x);
  gsl_permutation_free(perm);
  return s;
}

/* ------------------------------------------------------------------ replay */

/* The candles of market.replay, shared by the copies of a configuration (a
 * result keeps one): the last ms_config_free releases them. */
struct ms_series_share {
  ms_series *s;
  atomic_int refs;
};

static void share_release(struct ms_series_share *sh) {
  if (sh && atomic_fetch_sub(&sh->refs, 1) == 1) {
    ms_series_free(sh->s);
    free(sh);
  }
}

const ms_series *ms_config_series(const ms_config *cfg) {
  return cfg && cfg->market.hist.data ? cfg->market.hist.data->s : NULL;
}

const ms_series *ms_config_asset_series(const ms_config *cfg, int j) {
  return cfg && j >= 0 && j < cfg->market.nassets && cfg->market.assets[j].hist.data
             ? cfg->market.assets[j].hist.data->s
             : NULL;
}

void ms_config_share(ms_config *copy) {
  if (copy->market.hist.data) atomic_fetch_add(&copy->market.hist.data->refs, 1);
  for (int j = 0; j < copy->market.nassets; j++)
    if (copy->market.assets[j].hist.data) atomic_fetch_add(&copy->market.assets[j].hist.data->refs, 1);
}

void ms_config_for_asset(const ms_config *cfg, int j, ms_config *out) {
  *out = *cfg;
  ms_market_cfg *m = &out->market;
  if (m->nassets == 0) return;
  const ms_asset_cfg *a = &m->assets[j];
  snprintf(m->trade, sizeof m->trade, "%s", a->name);
  m->trade_index = j;
  m->jump_loading = a->jump_loading;
  m->initial_price = a->initial_price;
  m->impact = a->impact;
  out->oracle = a->oracle;
  out->margin = a->margin;
  if (a->hist.data) { /* book.markets under replay or bootstrap: its candles, not regimes */
    m->hist = a->hist;
    m->reference_vol = m->entry_vol = a->hist.vol;
    return;
  }
  double v2 = 0;
  for (int r = 0; r < m->nregimes; r++) {
    m->regimes[r].vol = m->regimes[r].assets[j].vol;
    m->regimes[r].drift = m->regimes[r].assets[j].drift;
    v2 += m->stationary[r] * m->regimes[r].vol * m->regimes[r].vol;
  }
  m->reference_vol = sqrt(v2);
  m->entry_vol = m->start_index >= 0 ? m->regimes[m->start_index].vol : m->reference_vol;
}

/* @p file, relative to the directory of the scenario @p src (as written, when
 * the scenario is not a file: "<string>", "-"). */
static void data_path(const char *src, const char *file, char *out, size_t n) {
  struct stat st;
  if (file[0] == '/' || !src || stat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(out, n, "%s", file);
    return;
  }
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", src);
  snprintf(out, n, "%s/%s", dirname(dir), file);
}

static void fmt_time(int64_t ms, char *buf, size_t n) { ms_time_format_iso(ms, buf, n); }

/* A candle file's key (@p key, @p n bytes) rewritten as @p path made
 * absolute: the resolved configuration (`validate`'s output) then loads
 * from anywhere, to the same candles. Left as written if it would not fit. */
static void make_absolute(char *key, size_t n, const char *path) {
  char cwd[1024], abs[3200];
  if (path[0] == '/') snprintf(abs, sizeof abs, "%s", path);
  else if (getcwd(cwd, sizeof cwd)) snprintf(abs, sizeof abs, "%s/%s", cwd, path);
  else abs[0] = '\0';
  if (abs[0] && strlen(abs) < n) snprintf(key, n, "%s", abs);
}

/* market.model replay or bootstrap: read the file, find the window, check
 * it against the horizon (replay) and the step, and resolve what the model
 * needs into m->hist (scenario.h). @p sec names the section. */
typedef struct window_keys {
  const char *sec;       /* "replay" or "bootstrap" */
  char *file;            /* the section's file key (1024 bytes in both sections): made absolute in place */
  const char *from_s, *to_s;
  double speed, vol_scale;
} window_keys;

/* "SECTION.k" in @p key. */
static const char *section_key(char *key, size_t n, const char *sec, const char *k) {
  snprintf(key, n, "%s.%s", sec, k);
  return key;
}
#define KEYN(k) section_key(key, sizeof key, w->sec, k)

/* The window @p k (r->count candles of r->candle ms) of a history: its
 * realised volatility (zero-mean returns, per candle, annualised in
 * simulated time: replay's close to close, the first from the open;
 * bootstrap's open to close, the moves it resamples), bootstrap's
 * target_vol factor, replay's rescale shift to *@p price (or, in real
 * prices, *@p price set to the first open). -1: target_vol with candles
 * that do not move. */
static int window_moments(const ms_market_cfg *m, ms_history_res *r, const ms_candle *k, int boot, double *price) {
  r->shift = 0;
  r->factor = 1;
  double ss = 0, prev = log(k[0].open), year_ms = m->days_per_year * (double)MS_MS_PER_DAY;
  for (int64_t i = 0; i < r->count; i++) {
    double x = log(k[i].close), o = boot ? log(k[i].open) : prev;
    ss += (x - o) * (x - o);
    prev = x;
  }
  r->vol = sqrt(ss / (double)r->count / (double)r->candle * year_ms);
  if (boot && m->bootstrap.target_vol > 0) {
    if (!(r->vol > 0)) return -1;
    r->factor = m->bootstrap.target_vol / r->vol;
    r->vol = m->bootstrap.target_vol;
  }
  if (!boot) {
    if (m->replay.rescale) {
      r->shift = log(*price) - log(k[0].open);
    } else {
      *price = k[0].open;
    }
  }
  return 0;
}

/* Candles the engine could not follow, refused with their line: a replay's
 * prices beyond MS_MAX_PRICE_MOVE of its window's first open, a bootstrap's
 * candle moving that far within itself (one draw of it would). A low of
 * 1e-300 among prices of 1e5 passed every check and failed the run mid-way,
 * naming the regimes of a replay (input audit 2026-12-07). */
static ms_status check_candles(ms_check *ck, const char *key, const ms_series *se, int64_t i0, int64_t i1,
                               int boot) {
  const double bound = log(MS_MAX_PRICE_MOVE);
  for (int64_t i = i0; i < i1; i++) {
    const ms_candle *k = &se->c[i];
    double base = boot ? k->open : se->c[i0].open, px[4] = {k->open, k->high, k->low, k->close};
    for (int j = 0; j < 4; j++) {
      if (fabs(log(px[j] / base)) < bound) continue;
      return ms_check_fail(ck, key, "%s:%d: a price of %g, %.3g times %s (%g): beyond the bound of %g either way "
                           "that a path may move (docs/engine.md, Money); the candle is wrong, or choose a window "
                           "without it", se->name, (int)se->line[i], px[j], px[j] / base,
                           boot ? "the candle's open" : "the window's first open", base, MS_MAX_PRICE_MOVE);
    }
  }
  return MS_OK;
}

static ms_status resolve_window(ms_market_cfg *m, ms_check *ck, const window_keys *w) {
  const ms_config *c = ck->root;
  ms_history_res *r = &m->hist;
  char key[48];
  if (!w->file[0])
    return ms_check_fail(ck, KEYN("file"), "market.model %s needs a CSV file of candles (market.%s.file)", w->sec,
                         w->sec);
  char path[2100];
  data_path(c->source_path, w->file, path, sizeof path);
  ms_series *se = NULL;
  ms_error e2;
  ms_status st = ms_series_read(&se, path, &e2);
  if (st) return ms_check_fail(ck, KEYN("file"), "%s", e2.msg);
  make_absolute(w->file, sizeof m->replay.file, path);
  struct ms_series_share *sh = malloc(sizeof *sh);
  if (!sh) { ms_series_free(se); return ms_error_set(ck->err, MS_ERR_NOMEM, "out of memory"); }
  sh->s = se;
  atomic_init(&sh->refs, 1);
  share_release(r->data); /* a section loaded twice (a preset) */
  r->data = sh;
  const int64_t res = se->resolution, end = se->c[se->n - 1].t + res;
  char a[48], b[48], tb[48];
  int64_t from = se->c[0].t, to = end;
  if (w->from_s[0] && ms_time_parse_iso(w->from_s, &from))
    return ms_check_fail(ck, KEYN("from"), "expected an ISO 8601 time such as 2025-10-10T00:00:00Z (got \"%s\")",
                         w->from_s);
  if (w->to_s[0] && ms_time_parse_iso(w->to_s, &to))
    return ms_check_fail(ck, KEYN("to"), "expected an ISO 8601 time such as 2025-10-11T00:00:00Z (got \"%s\")",
                         w->to_s);
  fmt_time(se->c[0].t, a, sizeof a);
  fmt_time(end, b, sizeof b);
  if (from < se->c[0].t || from >= end) {
    fmt_time(from, tb, sizeof tb);
    return ms_check_fail(ck, KEYN("from"), "%s is outside %s, which runs from %s to %s", tb, se->name, a, b);
  }
  if (to <= from || to > end) {
    fmt_time(to, tb, sizeof tb);
    return ms_check_fail(ck, KEYN("to"), "%s must be after from and at most the end of %s (%s)", tb,
                         se->name, b);
  }
  int64_t i0 = ms_series_lower_bound(se, from), i1 = ms_series_lower_bound(se, to);
  if (i0 >= se->n || se->c[i0].t != from) {
    fmt_time(from, tb, sizeof tb);
    fmt_time(i0 < se->n ? se->c[i0].t : end, b, sizeof b);
    fmt_time(i0 > 0 ? se->c[i0 - 1].t : se->c[0].t, a, sizeof a);
    return ms_check_fail(ck, KEYN("from"), "%s is not the open time of a candle of %s (the nearest: %s, %s)", tb,
                         se->name, a, b);
  }
  int64_t last_end = i1 > 0 ? se->c[i1 - 1].t + res : 0;
  if (to != last_end && (i1 >= se->n || se->c[i1].t != to)) {
    fmt_time(to, tb, sizeof tb);
    fmt_time(last_end, a, sizeof a);
    return ms_check_fail(ck, KEYN("to"), "%s is not a candle boundary of %s (the last candle before it ends at %s)",
                         tb, se->name, a);
  }
  if (to != last_end) {
    fmt_time(to, tb, sizeof tb);
    return ms_check_fail(ck, KEYN("to"), "no candle of %s ends at %s (a gap before it)", se->name, tb);
  }
  for (int64_t g = 0; g < se->ngaps; g++) {
    int64_t i = se->gap_after[g];
    if (i >= i0 && i + 1 < i1) {
      fmt_time(se->c[i].t + res, a, sizeof a);
      fmt_time(se->c[i + 1].t, b, sizeof b);
      return ms_check_fail(ck, w->sec, "the window holds a gap in %s: no candle from %s to %s (between lines %d "
                           "and %d); choose a window without it", se->name, a, b, (int)se->line[i],
                           (int)se->line[i + 1]);
    }
  }
  r->first = i0;
  r->count = i1 - i0;
  double candle = (double)res / w->speed;
  char st1[32], st2[32];
  ms_units_format_duration(c->step, st1, sizeof st1);
  if (!(fabs(candle - nearbyint(candle)) < 1e-6) || (int64_t)nearbyint(candle) % c->step != 0) {
    ms_units_format_duration(res, st2, sizeof st2);
    return ms_check_fail(ck, KEYN("speed"), "a candle of %s at speed %g must last a whole number of steps (step is "
                         "%s)", st2, w->speed, st1);
  }
  r->candle = (int64_t)nearbyint(candle);
  if (r->candle / c->step < 3 || r->candle / c->step > 10000000) {
    ms_units_format_duration(r->candle, st2, sizeof st2);
    return ms_check_fail(ck, KEYN("speed"), "a candle lasts %s of simulated time: %lld steps of %s, the bridge needs "
                         "from 3 to 1e7 steps per candle", st2, (long long)(r->candle / c->step), st1);
  }
  if (strcmp(w->sec, "replay") == 0 && c->horizon > r->count * r->candle) {
    char hz[32], wd[32];
    ms_units_format_duration(c->horizon, hz, sizeof hz);
    ms_units_format_duration(r->count * r->candle, wd, sizeof wd);
    return ms_check_fail(ck, w->sec, "the window holds %lld candles, %s of simulated time at speed %g, shorter "
                         "than the horizon (%s): set horizon: %s, or widen the window", (long long)r->count, wd,
                         w->speed, hz, wd);
  }
  r->vol_scale = w->vol_scale;
  int boot = strcmp(w->sec, "bootstrap") == 0;
  ms_status bad = check_candles(ck, KEYN("file"), se, i0, i1, boot);
  if (bad) return bad;
  if (window_moments(m, r, se->c + i0, boot, &m->initial_price))
    return ms_check_fail(ck, "bootstrap.target_vol", "the window's candles do not move: no volatility to rescale");
  m->reference_vol = m->entry_vol = r->vol;
  /* The one regime's name labels the time series' regime column. */
  if (!(ck->node && ms_ynode_get(ck->node, "regimes"))) snprintf(m->regimes[0].name, MS_NAME_MAX, "%s", w->sec);
  return MS_OK;
}

static ms_status resolve_replay(ms_market_cfg *m, ms_check *ck) {
  window_keys w = {"replay", m->replay.file, m->replay.from, m->replay.to, m->replay.speed, m->replay.vol_scale};
  return resolve_window(m, ck, &w);
}

static ms_status resolve_bootstrap(ms_market_cfg *m, ms_check *ck) {
  window_keys w = {"bootstrap", m->bootstrap.file, m->bootstrap.from, m->bootstrap.to, m->bootstrap.speed,
                   m->bootstrap.vol_scale};
  return resolve_window(m, ck, &w);
}
#undef KEYN

/* market.model garch: the period against the step, the vol options see. */
static ms_status resolve_garch(ms_market_cfg *m, ms_check *ck) {
  const ms_config *c = ck->root;
  ms_garch_cfg *g = &m->garch;
  char st1[32], st2[32];
  ms_units_format_duration(c->step, st1, sizeof st1);
  ms_units_format_duration(g->resolution, st2, sizeof st2);
  if (g->resolution % c->step != 0)
    return ms_check_fail(ck, "garch.resolution", "must be a whole number of steps (%s; step is %s)", st2, st1);
  if (g->resolution / c->step > 10000000)
    return ms_check_fail(ck, "garch.resolution", "%s is more than 1e7 steps of %s", st2, st1);
  double year_ms = m->days_per_year * (double)MS_MS_PER_DAY, per_year = year_ms / (double)g->resolution;
  g->uncond_vol = sqrt(g->omega / (1.0 - g->alpha - g->beta) * per_year);
  if (g->nregimes == 0) {
    m->reference_vol = m->entry_vol = g->uncond_vol;
    if (!(ck->node && ms_ynode_get(ck->node, "regimes"))) snprintf(m->regimes[0].name, MS_NAME_MAX, "garch");
    return MS_OK;
  }
  /* Regime-dependent: market.regimes' chain (durations, transition, start)
   * switches the parameters; options see each regime's unconditional vol. */
  if (g->nregimes != m->nregimes)
    return ms_check_fail(ck, "garch.regimes", "needs one entry per entry of market.regimes (%d), got %d",
                         m->nregimes, g->nregimes);
  double v2 = 0;
  for (int i = 0; i < g->nregimes; i++) {
    const ms_garch_params *q = &g->regimes[i];
    g->regime_vol[i] = sqrt(q->omega / (1.0 - q->alpha - q->beta) * per_year);
    v2 += m->stationary[i] * g->regime_vol[i] * g->regime_vol[i];
  }
  m->reference_vol = sqrt(v2);
  m->entry_vol = m->start_index >= 0 ? g->regime_vol[m->start_index] : m->reference_vol;
  return MS_OK;
}

/* A key of regime @p r written in the file (or by --set), as a node; NULL if not. */
static const ms_ynode *written_regime_key(const ms_check *ck, int r, const char *key) {
  const ms_ynode *rs = ck->node && ck->node->kind == MS_Y_MAP ? ms_ynode_get(ck->node, "regimes") : NULL;
  if (!rs || rs->kind != MS_Y_SEQ || (size_t)r >= rs->n || rs->vals[r]->kind != MS_Y_MAP) return NULL;
  return ms_ynode_get(rs->vals[r], key);
}

/* market.assets under replay or bootstrap: every asset's file holds the
 * traded asset's window (@p r: resolved), without a gap in it, at the same
 * resolution: the assets' histories overlap. */
static ms_status check_asset_windows(ms_market_cfg *m, ms_check *ck) {
  const ms_config *c = ck->root;
  const ms_series *t = m->hist.data->s;
  const int64_t from = t->c[m->hist.first].t, to = from + m->hist.count * t->resolution;
  char a[48], b[48];
  ms_time_format_iso(from, a, sizeof a);
  ms_time_format_iso(to, b, sizeof b);
  /* the traded asset's file as the window's, absolute: validate's output loads back */
  int real = strcmp(ms_model_name(m->model), "replay") == 0 && !m->replay.rescale;
  snprintf(m->assets[m->trade_index].file, sizeof m->assets[0].file, "%s",
           strcmp(ms_model_name(m->model), "replay") == 0 ? m->replay.file : m->bootstrap.file);
  if (real) m->assets[m->trade_index].initial_price = m->initial_price; /* in real prices: the first open */
  for (int j = 0; j < m->nassets; j++) {
    if (j == m->trade_index) continue;
    char rel[64], path[2100];
    snprintf(rel, sizeof rel, "assets[%d].file", j);
    data_path(c->source_path, m->assets[j].file, path, sizeof path);
    ms_series *se = NULL;
    ms_error e2;
    if (ms_series_read(&se, path, &e2)) return ms_check_fail(ck, rel, "%s", e2.msg);
    make_absolute(m->assets[j].file, sizeof m->assets[j].file, path);
    ms_status st = MS_OK;
    int64_t i0 = ms_series_lower_bound(se, from), i1 = ms_series_lower_bound(se, to);
    if (se->resolution != t->resolution) {
      char r1[32], r2[32];
      ms_units_format_duration(se->resolution, r1, sizeof r1);
      ms_units_format_duration(t->resolution, r2, sizeof r2);
      st = ms_check_fail(ck, rel, "%s has candles of %s and the traded asset's %s: the assets' histories need one "
                         "resolution", se->name, r1, r2);
    } else if (i0 >= se->n || se->c[i0].t != from || i1 - i0 != m->hist.count) {
      char f0[48], f1[48];
      ms_time_format_iso(se->c[0].t, f0, sizeof f0);
      ms_time_format_iso(se->c[se->n - 1].t + se->resolution, f1, sizeof f1);
      st = ms_check_fail(ck, rel, "%s (%s to %s) does not hold the window %s to %s of the traded asset %s whole: "
                         "the assets' histories must overlap", se->name, f0, f1, a, b,
                         m->assets[m->trade_index].name);
    } else if (real) {
      m->assets[j].initial_price = se->c[i0].open;
    }
    ms_series_free(se);
    if (st) return st;
  }
  return MS_OK;
}

/* The node of market.assets[@p k], or NULL. */
static const ms_ynode *asset_node(const ms_check *ck, int k) {
  const ms_ynode *as = ck->node && ck->node->kind == MS_Y_MAP ? ms_ynode_get(ck->node, "assets") : NULL;
  if (!as || as->kind != MS_Y_SEQ || (size_t)k >= as->n || as->vals[k]->kind != MS_Y_MAP) return NULL;
  return as->vals[k];
}

/* market.assets: the traded asset's initial price, vol and drift become the
 * single-asset keys every consumer reads (written ones must agree: a
 * resolved configuration writes them back), every regime's assets and
 * correlation checked (docs/scenario.md, "Several assets"). */
static ms_status resolve_assets(ms_market_cfg *m, ms_check *ck) {
  m->trade_index = 0;
  m->jump_loading = 1.0;
  if (m->nassets == 0) {
    for (int r = 0; r < m->nregimes; r++) {
      char rel[64];
      snprintf(rel, sizeof rel, "regimes[%d].%s", r, m->regimes[r].nassets ? "assets" : "correlation");
      if (m->regimes[r].nassets || m->regimes[r].correlation.rows)
        return ms_check_fail(ck, rel, "needs market.assets (the assets it describes)");
    }
    if (m->trade[0]) return ms_check_fail(ck, "trade", "needs market.assets (the assets to choose from)");
    return MS_OK;
  }
  const int K = m->nassets;
  const char *model = ms_model_name(m->model);
  int history = strcmp(model, "replay") == 0 || strcmp(model, "bootstrap") == 0;
  if (strcmp(model, "regime_switching") != 0 && !history)
    return ms_check_fail(ck, "assets", "needs market.model regime_switching, replay or bootstrap (got %s)", model);
  char names[MS_MAX_ASSETS * (MS_NAME_MAX + 2)] = "";
  for (int i = 0; i < K; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "assets[%d].name", i);
    if (!m->assets[i].name[0]) return ms_check_fail(ck, rel, "every asset needs a name");
    for (const char *p = m->assets[i].name; *p; p++)
      if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
        return ms_check_fail(ck, rel, "use letters, digits, '_' and '-' only (got \"%s\")", m->assets[i].name);
    for (int j = 0; j < i; j++)
      if (strcmp(m->assets[i].name, m->assets[j].name) == 0)
        return ms_check_fail(ck, rel, "asset \"%s\" named twice (also assets[%d])", m->assets[i].name, j);
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", m->assets[i].name);
  }
  int k = m->trade[0] ? -1 : 0;
  for (int i = 0; i < K && k < 0; i++)
    if (strcmp(m->trade, m->assets[i].name) == 0) k = i;
  if (k < 0) return ms_check_fail(ck, "trade", "must be one of market.assets: %s (got \"%s\")", names, m->trade);
  for (int i = 0; i < K; i++) { /* a loaded jump stays within the bound of check_jump */
    for (int r = 0; r < m->nregimes && !history; r++) {
      const ms_jump_cfg *j = &m->regimes[r].jumps;
      double big = fabs(m->assets[i].jump_loading) * (fabs(j->mean) + ms_rng_gaussian_max() * j->sd);
      if (big > MS_JUMP_LOG_MAX) {
        char rel[64];
        snprintf(rel, sizeof rel, "assets[%d].jump_loading", i);
        return ms_check_fail(ck, rel, "x the jumps of regimes[%d] can move the log price by %.4g; at most %g (a "
                             "factor e^%g)", r, big, MS_JUMP_LOG_MAX, MS_JUMP_LOG_MAX);
      }
    }
    if (history && m->assets[i].jump_loading != 1.0) {
      char rel[64];
      snprintf(rel, sizeof rel, "assets[%d].jump_loading", i);
      return ms_check_fail(ck, rel, "market.model %s has no jumps to load (got %g): leave it out", model,
                           m->assets[i].jump_loading);
    }
  }
  for (int r = 0; r < m->nregimes && history; r++) {
    char rel[64];
    snprintf(rel, sizeof rel, "regimes[%d].%s", r, m->regimes[r].nassets ? "assets" : "correlation");
    if (m->regimes[r].nassets || m->regimes[r].correlation.rows)
      return ms_check_fail(ck, rel, "market.model %s follows each asset's candles: no vol or correlation to "
                           "give; leave it out", model);
  }
  for (int r = 0; r < m->nregimes && !history; r++) {
    ms_regime_cfg *g = &m->regimes[r];
    char rel[64];
    snprintf(rel, sizeof rel, "regimes[%d].assets", r);
    if (g->nassets != K)
      return ms_check_fail(ck, rel, "has %d entries; market.assets has %d (%s): one vol and drift per asset, in its "
                           "order", g->nassets, K, names);
    snprintf(rel, sizeof rel, "regimes[%d].correlation", r);
    const ms_matrix_cfg *c = &g->correlation;
    if (c->rows == 0) continue; /* uncorrelated */
    if (c->rows != K || c->cols != K)
      return ms_check_fail(ck, rel, "must be %d x %d, one row and column per asset (got %d x %d)", K, K, c->rows,
                           c->cols);
    for (int i = 0; i < K; i++) {
      if (c->v[i][i] != 1.0)
        return ms_check_fail(ck, rel, "the diagonal must be 1 (row %d has %g)", i, c->v[i][i]);
      for (int j = 0; j < i; j++)
        if (fabs(c->v[i][j] - c->v[j][i]) > 1e-12)
          return ms_check_fail(ck, rel, "must be symmetric: [%d][%d] = %g but [%d][%d] = %g", i, j, c->v[i][j], j, i,
                               c->v[j][i]);
    }
    double A[MS_MAX_ASSETS * MS_MAX_ASSETS], L[MS_MAX_ASSETS * MS_MAX_ASSETS];
    for (int i = 0; i < K; i++)
      for (int j = 0; j < K; j++) A[i * K + j] = c->v[i][j];
    int bad = ms_cholesky_psd(A, K, K, MS_PSD_TOL, L);
    if (bad)
      return ms_check_fail(ck, rel, "is not positive semi-definite (no correlation matrix: it fails at row %d, "
                           "asset %s)", -1 - bad, m->assets[-1 - bad].name);
  }
  /* the traded asset's values into the keys every consumer reads */
  const ms_asset_cfg *a = &m->assets[k];
  const ms_ynode *ip = ck->node && ck->node->kind == MS_Y_MAP ? ms_ynode_get(ck->node, "initial_price") : NULL;
  /* a replay in real prices starts at its first open (resolve_window), whatever the asset's initial_price */
  int real = strcmp(model, "replay") == 0 && !m->replay.rescale;
  if (!real && ip && m->initial_price != a->initial_price)
    return ms_check_fail(ck, "initial_price", "is %g, but the traded asset %s starts at %g (market.assets[%d]); with "
                         "market.assets write the prices there", m->initial_price, a->name, a->initial_price, k);
  if (!real) m->initial_price = a->initial_price;
  /* Impact: an asset's own when written, else market.impact's as written,
   * filled in so that the resolved configuration says what each asset
   * has (and loads back, whichever asset it then trades); then the traded
   * asset's becomes market.impact. */
  for (int i = 0; i < K; i++) {
    const ms_ynode *an = asset_node(ck, i);
    if (!(an && ms_ynode_get(an, "impact"))) m->assets[i].impact = m->impact;
  }
  m->impact = a->impact;
  if (history) { /* the traded asset's candles; the others' are checked against its window (check_market) */
    char *file = strcmp(model, "replay") == 0 ? m->replay.file : m->bootstrap.file;
    const char *sec = strcmp(model, "replay") == 0 ? "replay" : "bootstrap";
    const ms_ynode *sn = ck->node && ck->node->kind == MS_Y_MAP ? ms_ynode_get(ck->node, sec) : NULL;
    const ms_ynode *fn = sn && sn->kind == MS_Y_MAP ? ms_ynode_get(sn, "file") : NULL;
    for (int i = 0; i < K; i++) {
      char rel[64];
      snprintf(rel, sizeof rel, "assets[%d].file", i);
      if (!m->assets[i].file[0])
        return ms_check_fail(ck, rel, "market.model %s with market.assets needs every asset's candles", model);
    }
    char fk[64];
    snprintf(fk, sizeof fk, "%s.file", sec);
    if (fn && strcmp(file, a->file) != 0)
      return ms_check_fail(ck, fk, "is \"%s\", but the traded asset %s's candles are \"%s\" "
                           "(market.assets[%d].file); with market.assets write them there", file, a->name, a->file, k);
    snprintf(file, 1024, "%s", a->file);
  }
  for (int r = 0; r < m->nregimes && !history; r++) {
    ms_regime_cfg *g = &m->regimes[r];
    static const char *const keys[2] = {"vol", "drift"};
    const double want[2] = {g->assets[k].vol, g->assets[k].drift}, have[2] = {g->vol, g->drift};
    for (int q = 0; q < 2; q++) {
      if (written_regime_key(ck, r, keys[q]) && have[q] != want[q]) {
        char rel[64];
        snprintf(rel, sizeof rel, "regimes[%d].%s", r, keys[q]);
        return ms_check_fail(ck, rel, "is %g, but the traded asset %s's is %g (regimes[%d].assets[%d].%s); with "
                             "market.assets write them there", have[q], a->name, want[q], r, k, keys[q]);
      }
    }
    g->vol = g->assets[k].vol;
    g->drift = g->assets[k].drift;
  }
  m->trade_index = k;
  m->jump_loading = a->jump_loading;
  return MS_OK;
}

static ms_status check_market(void *obj, ms_check *ck) {
  ms_market_cfg *m = obj;
  for (int i = 0; i < m->nregimes; i++) {
    if (!m->regimes[i].name[0]) snprintf(m->regimes[i].name, MS_NAME_MAX, "regime%d", i);
    for (int j = 0; j < i; j++) {
      if (strcmp(m->regimes[i].name, m->regimes[j].name) == 0) {
        char rel[64];
        snprintf(rel, sizeof rel, "regimes[%d].name", i);
        return ms_check_fail(ck, rel, "duplicate regime name \"%s\" (also regimes[%d])",
                             m->regimes[i].name, j);
      }
    }
  }
  if (strcmp(m->start_regime, "stationary") == 0) {
    m->start_index = -1;
  } else {
    m->start_index = -1;
    for (int i = 0; i < m->nregimes; i++)
      if (strcmp(m->start_regime, m->regimes[i].name) == 0) m->start_index = i;
    if (m->start_index < 0) {
      char names[400] = "stationary";
      for (int i = 0; i < m->nregimes; i++) {
        strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, m->regimes[i].name, sizeof names - strlen(names) - 1);
      }
      return ms_check_fail(ck, "start_regime", "must be one of: %s (got \"%s\")", names,
                           m->start_regime);
    }
  }
  ms_status st = resolve_assets(m, ck);
  if (st) return st;
  if (m->transition.rows > 0) {
    if (m->transition.rows != m->nregimes || m->transition.cols != m->nregimes)
      return ms_check_fail(ck, "transition", "must be %d x %d, one row and column per regime (got %d x %d)",
                           m->nregimes, m->nregimes, m->transition.rows, m->transition.cols);
    for (int i = 0; i < m->nregimes; i++) {
      char rel[64];
      snprintf(rel, sizeof rel, "transition[%d]", i);
      if (m->transition.v[i][i] != 0.0)
        return ms_check_fail(ck, rel, "the diagonal must be 0: how long a regime holds is set by its "
                             "mean_duration (got %g)", m->transition.v[i][i]);
      double sum = 0;
      for (int j = 0; j < m->nregimes; j++) sum += m->transition.v[i][j];
      if (m->nregimes > 1 && !(sum > 0))
        return ms_check_fail(ck, rel, "each row needs a positive weight for some other regime");
    }
  }
  st = stationary(m, ck);
  if (st) return st;
  double v2 = 0;
  for (int i = 0; i < m->nregimes; i++) v2 += m->stationary[i] * m->regimes[i].vol * m->regimes[i].vol;
  m->reference_vol = sqrt(v2);
  m->entry_vol = m->start_index >= 0 ? m->regimes[m->start_index].vol : m->reference_vol;
  /* market.replay is read by replay alone (other models ignore it, as
   * replay ignores the regimes: a resolved configuration writes them all) */
  if (strcmp(ms_model_name(m->model), "replay") == 0 || strcmp(ms_model_name(m->model), "bootstrap") == 0) {
    st = strcmp(ms_model_name(m->model), "replay") == 0 ? resolve_replay(m, ck) : resolve_bootstrap(m, ck);
    return !st && m->nassets > 0 ? check_asset_windows(m, ck) : st;
  }
  if (strcmp(ms_model_name(m->model), "garch") == 0) return resolve_garch(m, ck);
  return MS_OK;
}

static const char *const shock_shapes[] = {"linear", "exponential", NULL};

static const ms_field recover_fields[] = {
    {.name = "fraction", .kind = MS_F_NUMBER, .offset = OFF(ms_recover_cfg, fraction), .def = "0",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 1, .pct = 1,
     .doc = "share of the move taken back after it ends: 50% regains half a fall (0: none)"},
    {.name = "over", .kind = MS_F_DURATION, .offset = OFF(ms_recover_cfg, over), .def = "0s",
     .bounds = MS_B_GE, .min = 0, .doc = "how long the recovery takes, from the end of the move (0: at once)"},
};
static const ms_schema recover_schema = {"recover", recover_fields, N(recover_fields), NULL,
                                         "A recovery after the shock, in the shock's shape."};

static const ms_field shock_fields[] = {
    {.name = "at", .kind = MS_F_DURATION, .offset = OFF(ms_shock_cfg, at), .def = "0s", .bounds = MS_B_GE,
     .min = 0, .doc = "when the move begins (after the horizon, or at it with `over` > 0: no effect, a warning)"},
    {.name = "move", .kind = MS_F_NUMBER, .offset = OFF(ms_shock_cfg, move), .def = "-0.2",
     .bounds = MS_B_GT | MS_B_LE, .min = -1, .max = 100, .pct = 1,
     .doc = "the price's relative move over the shock: -20% (or -0.2) ends 20% below where the path would be"},
    {.name = "over", .kind = MS_F_DURATION, .offset = OFF(ms_shock_cfg, over), .def = "0s", .bounds = MS_B_GE,
     .min = 0, .doc = "how long the move takes (0: at once, at the first tick at or after `at`)"},
    {.name = "shape", .kind = MS_F_ENUM, .offset = OFF(ms_shock_cfg, shape), .def = "linear",
     .names = shock_shapes,
     .doc = "`linear`: the price factor moves by equal amounts per unit of time; `exponential`: by equal "
            "percentages (the log price moves linearly)"},
    {.name = "recover", .kind = MS_F_SECTION, .offset = OFF(ms_shock_cfg, recover), .sub = &recover_schema,
     .doc = "an optional recovery after the move"},
};
static const ms_schema shock_schema = {"shock", shock_fields, N(shock_fields), NULL,
                                       "A scripted move of the exogenous price, on top of any price model: "
                                       "the path's log price plus the shock's log factor at each tick "
                                       "(docs/scenario.md, \"Scripted shocks\"). Shocks add in log space."};

static const ms_field replay_fields[] = {
    {.name = "file", .kind = MS_F_STRING, .offset = OFF(ms_replay_cfg, file), .def = "\"\"",
     .str_size = 1024,
     .doc = "CSV of OHLC candles (docs/scenario.md, \"Replaying history\"); a relative path is from the "
            "scenario file's directory"},
    {.name = "from", .kind = MS_F_STRING, .offset = OFF(ms_replay_cfg, from), .def = "\"\"", .str_size = 48,
     .doc = "ISO 8601 open time of the window's first candle (`2025-10-10T00:00:00Z`); empty: the file's first"},
    {.name = "to", .kind = MS_F_STRING, .offset = OFF(ms_replay_cfg, to), .def = "\"\"", .str_size = 48,
     .doc = "ISO 8601 end of the window, a candle boundary (excluded); empty: the file's end"},
    {.name = "rescale", .kind = MS_F_BOOL, .offset = OFF(ms_replay_cfg, rescale), .def = "true",
     .doc = "scale the window's prices so that its first open is market.initial_price; false: real prices "
            "(initial_price becomes the first open)"},
    {.name = "vol_scale", .kind = MS_F_NUMBER, .offset = OFF(ms_replay_cfg, vol_scale), .def = "1",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 100,
     .doc = "scales the noise of the bridge inside each candle (0: straight lines between open, extremes and close)"},
    {.name = "speed", .kind = MS_F_NUMBER, .offset = OFF(ms_replay_cfg, speed), .def = "1",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1e6,
     .doc = "simulated time runs this many times faster than the data's: 4 plays 24 h of history in 6 h"},
};
static const ms_schema replay_schema = {"replay", replay_fields, N(replay_fields), NULL,
                                        "A historical window the exogenous path follows (market.model replay)."};

static const ms_field bootstrap_fields[] = {
    {.name = "file", .kind = MS_F_STRING, .offset = OFF(ms_bootstrap_cfg, file), .def = "\"\"", .str_size = 1024,
     .doc = "CSV of OHLC candles whose moves are resampled (as market.replay.file)"},
    {.name = "from", .kind = MS_F_STRING, .offset = OFF(ms_bootstrap_cfg, from), .def = "\"\"", .str_size = 48,
     .doc = "ISO 8601 open time of the window's first candle; empty: the file's first"},
    {.name = "to", .kind = MS_F_STRING, .offset = OFF(ms_bootstrap_cfg, to), .def = "\"\"", .str_size = 48,
     .doc = "ISO 8601 end of the window (a candle boundary); empty: the file's end"},
    {.name = "block", .kind = MS_F_NUMBER, .offset = OFF(ms_bootstrap_cfg, block), .def = "24",
     .bounds = MS_B_GE | MS_B_LE, .min = 1, .max = 1e9,
     .doc = "mean block length in candles (Politis–Romano: a block continues with probability 1 - 1/block)"},
    {.name = "target_vol", .kind = MS_F_NUMBER, .offset = OFF(ms_bootstrap_cfg, target_vol), .def = "0",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 100, .unit = "annualised",
     .doc = "scale every candle's moves so the realised volatility is this (0: the window's own)"},
    {.name = "vol_scale", .kind = MS_F_NUMBER, .offset = OFF(ms_bootstrap_cfg, vol_scale), .def = "1",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 100, .doc = "scales the noise of the bridge inside each candle"},
    {.name = "speed", .kind = MS_F_NUMBER, .offset = OFF(ms_bootstrap_cfg, speed), .def = "1",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1e6,
     .doc = "simulated time runs this many times faster than the data's"},
};
static const ms_schema bootstrap_schema = {"bootstrap", bootstrap_fields, N(bootstrap_fields), NULL,
                                           "A stationary block bootstrap of a window's candles (market.model "
                                           "bootstrap)."};

static const char *const innovation_names[] = {"normal", "t", NULL};

static ms_status check_garch_params(void *obj, ms_check *ck) {
  ms_garch_params *g = obj;
  if (!(g->alpha + g->beta < 1))
    return ms_check_fail(ck, "beta", "alpha + beta must be < 1 for a stationary variance (got %g + %g = %g)", g->alpha,
                         g->beta, g->alpha + g->beta);
  return MS_OK;
}

static const ms_field garch_regime_fields[] = {
    {.name = "omega", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_params, omega), .def = "1e-6",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1, .doc = "constant of the variance recursion, per period"},
    {.name = "alpha", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_params, alpha), .def = "0.08",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1, .doc = "weight of the last squared shock"},
    {.name = "beta", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_params, beta), .def = "0.9",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1, .doc = "weight of the last variance (alpha + beta < 1)"},
    {.name = "drift", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_params, drift), .def = "0",
     .bounds = MS_B_GE | MS_B_LE, .min = -1000, .max = 1000, .unit = "annualised", .doc = "mu of dS/S"},
};
static const ms_schema garch_regime_schema = {"garch regime", garch_regime_fields, N(garch_regime_fields),
                                              check_garch_params,
                                              "The GARCH parameters while one regime of market.regimes holds."};

static const ms_field garch_fields[] = {
    {.name = "resolution", .kind = MS_F_DURATION, .offset = OFF(ms_garch_cfg, resolution), .def = "1h",
     .bounds = MS_B_GT, .min = 0, .doc = "simulated time of one GARCH period (a whole number of steps)"},
    {.name = "omega", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_cfg, omega), .def = "1e-6",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1, .doc = "constant of the variance recursion, per period"},
    {.name = "alpha", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_cfg, alpha), .def = "0.08",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1, .doc = "weight of the last squared shock"},
    {.name = "beta", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_cfg, beta), .def = "0.9",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1, .doc = "weight of the last variance (alpha + beta < 1)"},
    {.name = "drift", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_cfg, drift), .def = "0", .bounds = MS_B_GE | MS_B_LE,
     .min = -1000, .max = 1000, .unit = "annualised", .doc = "mu of dS/S (the log drift per period is mu - sigma_t^2/2)"},
    {.name = "innovations", .kind = MS_F_ENUM, .offset = OFF(ms_garch_cfg, innovations), .def = "normal",
     .names = innovation_names, .doc = "`normal`, or `t`: Student-t scaled to unit variance"},
    {.name = "nu", .kind = MS_F_NUMBER, .offset = OFF(ms_garch_cfg, nu), .def = "5", .bounds = MS_B_GT | MS_B_LE,
     .min = 2, .max = 1000, .doc = "degrees of freedom of `t` innovations"},
    {.name = "regimes", .kind = MS_F_LIST, .offset = OFF(ms_garch_cfg, regimes), .def = "[]", .bounds = MS_B_GE,
     .min = 0, .sub = &garch_regime_schema, .count_offset = OFF(ms_garch_cfg, nregimes), .max_items = MS_MAX_REGIMES,
     .item_size = sizeof(ms_garch_params),
     .doc = "regime-dependent parameters, one entry per market.regimes entry (whose chain switches them); empty: "
            "omega, alpha, beta and drift above throughout"},
};
static ms_status check_garch(void *obj, ms_check *ck) {
  const ms_garch_cfg *g = obj;
  ms_garch_params q = {g->omega, g->alpha, g->beta, g->drift};
  return check_garch_params(&q, ck);
}
static const ms_schema garch_schema = {"garch", garch_fields, N(garch_fields), check_garch,
                                       "GARCH(1,1) returns at a coarse resolution, bridged to the tick (market.model "
                                       "garch). `marginsim calibrate --model garch` writes this section."};

static const ms_schema oracle_schema; /* defined with the oracle's keys, below */

static const ms_schema margin_schema; /* below, with the margin's keys */

static const ms_field asset_fields[] = {
    {.name = "name", .kind = MS_F_STRING, .offset = OFF(ms_asset_cfg, name), .def = "\"\"", .str_size = MS_NAME_MAX,
     .doc = "the asset's name (market.trade names the traded one)"},
    {.name = "initial_price", .kind = MS_F_NUMBER, .offset = OFF(ms_asset_cfg, initial_price), .def = "2000",
     .bounds = MS_B_GE | MS_B_LE, .min = 1e-12, .max = 1e12, .unit = "USD", .doc = "its price at time 0"},
    {.name = "jump_loading", .kind = MS_F_NUMBER, .offset = OFF(ms_asset_cfg, jump_loading), .def = "1",
     .bounds = MS_B_GE | MS_B_LE, .min = -10, .max = 10,
     .doc = "its log jump is this x the regime's jump (a market-wide jump hits every asset at once)"},
    {.name = "file", .kind = MS_F_STRING, .offset = OFF(ms_asset_cfg, file), .def = "\"\"", .str_size = 1024,
     .doc = "market.model replay or bootstrap: the asset's candles (CSV, as market.replay.file); the window, "
            "market.replay's or market.bootstrap's from and to, must lie in every asset's file"},
    {.name = "impact", .kind = MS_F_SECTION, .offset = OFF(ms_asset_cfg, impact), .sub = &impact_schema,
     .doc = "its market's impact when the book trades it, if written (its depth and half-life); else market.impact"},
    {.name = "oracle", .kind = MS_F_SECTION, .offset = OFF(ms_asset_cfg, oracle), .sub = &oracle_schema,
     .doc = "its oracle feed when the book trades it, if written; else the scenario's oracle"},
    {.name = "margin", .kind = MS_F_SECTION, .offset = OFF(ms_asset_cfg, margin), .sub = &margin_schema,
     .doc = "its market's margin rules (a venue's tiers for this market) when the book trades it, if written; else "
            "the scenario's margin; static, tiered or dynamic"},
};
static const ms_schema asset_schema = {"asset", asset_fields, N(asset_fields), NULL,
                                       "One asset of a correlated world (market.assets)."};

static const ms_field market_fields[] = {
    {.name = "initial_price", .kind = MS_F_NUMBER, .offset = OFF(ms_market_cfg, initial_price),
     .def = "2000", .bounds = MS_B_GE | MS_B_LE, .min = 1e-12, .max = 1e12, .unit = "USD",
     .doc = "price at time 0 (the range keeps position sizes, collateral x leverage / price, "
            "inside the double range)"},
    {.name = "model", .kind = MS_F_MODEL, .offset = OFF(ms_market_cfg, model),
     .def = "regime_switching", .types = price_model_at,
     .doc = "exogenous price model: `regime_switching` (GBM with jumps in volatility regimes), `replay` "
            "(a historical window of candles, market.replay), `bootstrap` (a block bootstrap of historical candles, "
            "market.bootstrap) or `garch` (GARCH(1,1) returns, market.garch)"},
    {.name = "regimes", .kind = MS_F_LIST, .offset = OFF(ms_market_cfg, regimes),
     .def = "[{name: calm, vol: 0.7}]", .bounds = MS_B_GE, .min = 1, .sub = &regime_schema,
     .count_offset = OFF(ms_market_cfg, nregimes), .max_items = MS_MAX_REGIMES,
     .item_size = sizeof(ms_regime_cfg), .doc = "the volatility regimes"},
    {.name = "transition", .kind = MS_F_MATRIX, .offset = OFF(ms_market_cfg, transition),
     .def = "[]", .bounds = MS_B_GE, .min = 0,
     .doc = "row i: weights of the regime that follows regime i (zero diagonal); "
            "empty: the other regimes, equally likely"},
    {.name = "start_regime", .kind = MS_F_STRING, .offset = OFF(ms_market_cfg, start_regime),
     .def = "stationary", .str_size = MS_NAME_MAX,
     .doc = "a regime name, or `stationary` to draw it from the chain's stationary distribution"},
    {.name = "days_per_year", .kind = MS_F_NUMBER, .offset = OFF(ms_market_cfg, days_per_year),
     .def = "365", .bounds = MS_B_GE | MS_B_LE, .min = 1, .max = 366,
     .doc = "days in the year of annualised vol and drift (crypto trades every day; 252, 360, 365.25 are other "
            "conventions): a day's vol is vol / sqrt(days_per_year)"},
    {.name = "impact", .kind = MS_F_SECTION, .offset = OFF(ms_market_cfg, impact), .sub = &impact_schema,
     .doc = "price impact of liquidation fills"},
    {.name = "smile", .kind = MS_F_SECTION, .offset = OFF(ms_market_cfg, smile), .sub = &smile_schema,
     .doc = "implied-volatility smile of options"},
    {.name = "replay", .kind = MS_F_SECTION, .offset = OFF(ms_market_cfg, replay), .sub = &replay_schema,
     .doc = "the historical window of market.model replay"},
    {.name = "bootstrap", .kind = MS_F_SECTION, .offset = OFF(ms_market_cfg, bootstrap), .sub = &bootstrap_schema,
     .doc = "the source window and blocks of market.model bootstrap"},
    {.name = "garch", .kind = MS_F_SECTION, .offset = OFF(ms_market_cfg, garch), .sub = &garch_schema,
     .doc = "the parameters of market.model garch"},
    {.name = "shocks", .kind = MS_F_LIST, .offset = OFF(ms_market_cfg, shocks), .def = "[]",
     .bounds = MS_B_GE, .min = 0, .sub = &shock_schema, .count_offset = OFF(ms_market_cfg, nshocks),
     .max_items = MS_MAX_SHOCKS, .item_size = sizeof(ms_shock_cfg),
     .doc = "scripted moves of the exogenous price (`[{at: 2h, move: -20%, over: 30m}]`)"},
    {.name = "assets", .kind = MS_F_LIST, .offset = OFF(ms_market_cfg, assets), .def = "[]", .bounds = MS_B_GE,
     .min = 0, .sub = &asset_schema, .count_offset = OFF(ms_market_cfg, nassets), .max_items = MS_MAX_ASSETS,
     .item_size = sizeof(ms_asset_cfg),
     .doc = "several assets whose prices move together (regime_switching: market.regimes[].assets and "
            ".correlation; replay and bootstrap: each asset's file): the book trades market.trade, and runs trading "
            "different assets with one seed see one world; empty: one asset, initial_price and the regimes' vol and "
            "drift"},
    {.name = "trade", .kind = MS_F_STRING, .offset = OFF(ms_market_cfg, trade), .def = "\"\"",
     .str_size = MS_NAME_MAX, .doc = "with market.assets: the asset the book trades (\"\": the first)"},
};
static const ms_schema market_schema = {"market", market_fields, N(market_fields), check_market,
                                        "The exogenous price: what the market would do without "
                                        "the book's liquidations."};


/* ------------------------------------------------------------------- book */

static const char *const resample_names[] = {"per_run", "per_path", NULL};

static const char *const strategy_names[] = {"naked_short_call", "naked_short_put", "short_strangle",
                                             "covered_call", "protective_put", "long_straddle", NULL};
static const char *const strike_modes[] = {"moneyness", "delta", NULL};

static const ms_field strike_fields[] = {
    {.name = "by", .kind = MS_F_ENUM, .offset = OFF(ms_strike_cfg, by), .def = "moneyness",
     .names = strike_modes,
     .doc = "`moneyness`: calls at entry x (1 + value), puts at entry x (1 - value); `delta`: the "
            "strike whose |delta| is value at entry"},
    {.name = "value", .kind = MS_F_NUMBER, .offset = OFF(ms_strike_cfg, value), .def = "0.1",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1, .doc = "distance out of the money, or |delta|"},
};
static const ms_schema strike_schema = {"strike", strike_fields, N(strike_fields), NULL,
                                        "How far from the money the options are struck (ignored by "
                                        "long_straddle, which is at the money)."};

static ms_status check_strike(void *obj, ms_check *ck) {
  ms_strategy_cfg *st = obj;
  if (st->strike.by == MS_STRIKE_DELTA && !(st->strike.value > 0))
    return ms_check_fail(ck, "strike.value", "a delta strike needs 0 < value < 1 (got %g)", st->strike.value);
  return MS_OK;
}

static const ms_field strategy_fields[] = {
    {.name = "kind", .kind = MS_F_ENUM, .offset = OFF(ms_strategy_cfg, kind), .def = "short_strangle",
     .names = strategy_names,
     .doc = "naked short call / put; short strangle (short call + short put); covered call (long perp "
            "+ short call); protective put (long perp + long put); long straddle (long call + long put "
            "at the money)"},
    {.name = "weight", .kind = MS_F_NUMBER, .offset = OFF(ms_strategy_cfg, weight), .def = "1",
     .bounds = MS_B_GE, .min = 0, .doc = "relative frequency among option accounts"},
    {.name = "strike", .kind = MS_F_SECTION, .offset = OFF(ms_strategy_cfg, strike), .sub = &strike_schema,
     .doc = "strikes"},
    {.name = "expiry", .kind = MS_F_DIST, .offset = OFF(ms_strategy_cfg, expiry),
     .def = "{dist: table, values: [1d, 7d, 30d]}", .bounds = MS_B_GT, .min = 0, .elem = MS_F_DURATION,
     .doc = "time to expiry at the start"},
    {.name = "size", .kind = MS_F_DIST, .offset = OFF(ms_strategy_cfg, size),
     .def = "{dist: uniform, min: 1, max: 5}", .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1000,
     .elem = MS_F_NUMBER,
     .doc = "underlying notional of each leg / collateral (the perp leg of a covered call or protective put too)"},
};
static const ms_schema strategy_schema = {"strategy", strategy_fields, N(strategy_fields), check_strike,
                                          "One option strategy. European, cash-settled options on the "
                                          "mark; an option expiring inside the horizon settles and leaves "
                                          "the book."};

static ms_status check_options(void *obj, ms_check *ck) {
  ms_options_cfg *o = obj;
  double w = 0;
  for (int i = 0; i < o->nstrategies; i++) w += o->strategies[i].weight;
  if (o->fraction > 0 && !(w > 0)) return ms_check_fail(ck, "strategies", "some strategy needs a positive weight");
  return MS_OK;
}

static const ms_field options_fields[] = {
    {.name = "fraction", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_options_cfg, fraction), .def = "0",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 1,
     .doc = "share of accounts that hold an option strategy (the others hold a perp)"},
    {.name = "strategies", .kind = MS_F_LIST, .offset = OFF(ms_options_cfg, strategies),
     .def = "[{kind: naked_short_call}, {kind: naked_short_put}, {kind: short_strangle}, "
            "{kind: covered_call}, {kind: protective_put}, {kind: long_straddle}]",
     .bounds = MS_B_GE, .min = 1, .sub = &strategy_schema, .count_offset = OFF(ms_options_cfg, nstrategies),
     .max_items = MS_MAX_STRATEGIES, .item_size = sizeof(ms_strategy_cfg),
     .doc = "the strategies and their weights"},
};
static const ms_schema options_schema = {"options", options_fields, N(options_fields), check_options,
                                         "Option strategies in the book, priced by Black–Scholes (r = 0) "
                                         "when the book is drawn, at the volatility the path starts with: "
                                         "the start regime's (start_regime stationary: the long-run one; "
                                         "replay, bootstrap: the window's; GARCH without regimes: its "
                                         "unconditional one)."};

static const char *const margin_mode_names[] = {"cross", "isolated", "mixed", NULL};
static const char *const direction_names[] = {"random", "same", "hedged", NULL};

static ms_status check_markets(void *obj, ms_check *ck) {
  ms_markets_cfg *m = obj;
  double w = 0;
  for (int i = 0; i < m->nweights; i++) w += m->weights[i];
  if (m->nweights > 0 && !(w > 0)) return ms_check_fail(ck, "weights", "some asset needs a positive weight");
  if (!isfinite(w)) /* the draw scales a uniform by the sum: every account would take the last assets */
    return ms_check_fail(ck, "weights", "must sum to a finite number (got %g): they are relative, scale them down", w);
  return MS_OK;
}

static const ms_field markets_fields[] = {
    {.name = "enabled", .kind = MS_F_BOOL, .offset = OFF(ms_markets_cfg, enabled), .def = "false",
     .doc = "accounts hold positions in several of market.assets (needs two or more): the engine of several "
            "markets (docs/engine.md, \"Several markets\")"},
    {.name = "count", .kind = MS_F_DIST, .offset = OFF(ms_markets_cfg, count),
     .def = "{dist: table, values: [1, 2, 3], weights: [0.5, 0.3, 0.2]}", .bounds = MS_B_GE | MS_B_LE, .min = 1,
     .max = MS_MAX_ASSETS, .elem = MS_F_NUMBER,
     .doc = "markets an account trades, rounded to a whole number and capped at the number of assets (of positive "
            "weight, with book.markets.weights)"},
    {.name = "weights", .kind = MS_F_NUMLIST, .offset = OFF(ms_markets_cfg, weights), .def = "[]",
     .count_offset = OFF(ms_markets_cfg, nweights), .max_items = MS_MAX_ASSETS, .bounds = MS_B_GE, .min = 0,
     .doc = "relative weight of each asset of market.assets, in its order, when an account's markets are drawn "
            "(without replacement); empty: equal"},
    {.name = "directions", .kind = MS_F_ENUM, .offset = OFF(ms_markets_cfg, directions), .def = "random",
     .names = direction_names,
     .doc = "`random`: each position long with probability book.long_fraction; `same`: all of an account's "
            "positions one way, drawn once; `hedged`: the first drawn, the next the other way, and so on"},
    {.name = "cross_share", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_markets_cfg, cross_share), .def = "0.5",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 1,
     .doc = "with book.margin_mode mixed: the probability that an account is cross-margined (the others isolated)"},
    {.name = "cross_offset", .kind = MS_F_NUMBER, .offset = OFF(ms_markets_cfg, cross_offset), .def = "0",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "a cross account's maintenance over its markets under portfolio margin is their sum less this "
            "fraction of the smaller of its long-delta and its short-delta markets' (an inter-asset hedge credit, "
            "in the manner of SPAN's inter-commodity spreads, an assumption of this simulator; 0: none, the "
            "venues' sum)"},
};
static const ms_schema markets_schema = {"markets", markets_fields, N(markets_fields), check_markets,
                                         "Accounts holding positions in several markets (market.assets). An "
                                         "account draws its collateral and leverage as a one-market account "
                                         "does, then its number of markets, which ones (by weight, without "
                                         "replacement) and each position's direction; its notional, collateral x "
                                         "leverage, is split equally among its positions, each entered at its "
                                         "asset's initial price."};

static const ms_field book_fields[] = {
    {.name = "accounts", .kind = MS_F_INT, .offset = OFF(ms_book_cfg, accounts), .def = "1000",
     .bounds = MS_B_GE | MS_B_LE, .min = 1, .max = 100000000, .doc = "number of accounts"},
    {.name = "collateral", .kind = MS_F_DIST, .offset = OFF(ms_book_cfg, collateral),
     .def = "{dist: lognormal, median: 5000, sigma: 1.2}", .bounds = MS_B_GT, .min = 0,
     .elem = MS_F_NUMBER, .unit = "USD",
     .doc = "collateral of an account; every value drawn from 1e-12 to 1e15 (lognormal: median x exp(+-12.31 sigma))"},
    {.name = "leverage", .kind = MS_F_DIST, .offset = OFF(ms_book_cfg, leverage),
     .def = "{dist: uniform, min: 2, max: 20}", .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1000,
     .elem = MS_F_NUMBER, .doc = "entry notional / collateral"},
    {.name = "long_fraction", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_book_cfg, long_fraction),
     .def = "0.65", .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 1,
     .doc = "probability that an account is long"},
    {.name = "resample", .kind = MS_F_ENUM, .offset = OFF(ms_book_cfg, resample), .def = "per_run",
     .names = resample_names,
     .doc = "`per_run`: one book for every path (stream book, path 2^64-1); `per_path`: a new book "
            "for each path"},
    {.name = "options", .kind = MS_F_SECTION, .offset = OFF(ms_book_cfg, options), .sub = &options_schema,
     .doc = "accounts holding option strategies"},
    {.name = "margin_mode", .kind = MS_F_ENUM, .offset = OFF(ms_book_cfg, margin_mode), .def = "cross",
     .names = margin_mode_names,
     .doc = "with book.markets: `cross` pools an account's collateral across its positions (one equity, one "
            "requirement summed over them, liquidated as a whole); `isolated` splits it equally among them, each "
            "position margined and liquidated alone; `mixed`: each account one or the other, cross with probability "
            "book.markets.cross_share. One position per account: they are the same"},
    {.name = "markets", .kind = MS_F_SECTION, .offset = OFF(ms_book_cfg, markets), .sub = &markets_schema,
     .doc = "accounts holding positions in several of market.assets"},
};
static const ms_schema book_schema = {"book", book_fields, N(book_fields), NULL,
                                      "The accounts: perpetual positions and (book.options) option "
                                      "strategies, all entered at market.initial_price, each with its own "
                                      "collateral (isolated margin)."};

/* ----------------------------------------------------------------- margin */

static const char *const vol_estimators[] = {"ewma", "window", NULL};
static const char *const grid_kinds[] = {"deribit", "span", NULL};
static const char *const pm_presets[] = {"deribit", "paradex", "derive", "span", NULL};

static const ms_field dynamic_fields[] = {
    {.name = "k", .kind = MS_F_NUMBER, .offset = OFF(ms_dynamic_cfg, k), .def = "3",
     .bounds = MS_B_GT, .min = 0, .doc = "standard deviations of the move over the liquidation horizon"},
    {.name = "estimator", .kind = MS_F_ENUM, .offset = OFF(ms_dynamic_cfg, estimator), .def = "ewma",
     .names = vol_estimators,
     .doc = "`ewma` or `window`: sigma_hat^2 = sum of squared log returns of the published price / sum of "
            "the times between their observations, weighted by age (ewma) or over a window"},
    {.name = "half_life", .kind = MS_F_DURATION, .offset = OFF(ms_dynamic_cfg, half_life), .def = "5h",
     .bounds = MS_B_GT, .min = 0,
     .doc = "ewma: elapsed time over which a return's weight halves (docs/engine.md: the default and "
            "its source)"},
    {.name = "lambda", .retired = "removed: it was a decay per update, so its memory changed with update_every; "
                                  "use margin.dynamic.half_life, a duration (lambda at update_every u "
                                  "was half_life = u x ln 0.5 / ln lambda, e.g. 0.94 at 1m: 11.2m)"},
    {.name = "window", .kind = MS_F_DURATION, .offset = OFF(ms_dynamic_cfg, window), .def = "14h",
     .bounds = MS_B_GT, .min = 0,
     .doc = "window: length of the rolling window, in whole update_every intervals (rounded up; at most "
            "100000 of them)"},
    {.name = "update_every", .kind = MS_F_DURATION, .offset = OFF(ms_dynamic_cfg, update_every),
     .def = "1m", .bounds = MS_B_GT, .min = 0, .doc = "time between re-estimates"},
    {.name = "liquidation_horizon", .kind = MS_F_DURATION, .offset = OFF(ms_dynamic_cfg, liquidation_horizon),
     .def = "1h", .bounds = MS_B_GT, .min = 0, .doc = "time the venue needs to unwind a position"},
    {.name = "floor", .kind = MS_F_NUMBER, .offset = OFF(ms_dynamic_cfg, floor), .def = "0.01",
     .bounds = MS_B_GT | MS_B_LT, .min = 0, .max = 1, .doc = "least maintenance ratio"},
    {.name = "cap", .kind = MS_F_NUMBER, .offset = OFF(ms_dynamic_cfg, cap), .def = "0.25",
     .bounds = MS_B_GT | MS_B_LT, .min = 0, .max = 1, .doc = "largest maintenance ratio"},
    {.name = "max_step", .kind = MS_F_NUMBER, .offset = OFF(ms_dynamic_cfg, max_step), .def = "0.005",
     .bounds = MS_B_GT, .min = 0, .doc = "largest rise of the ratio per update (falls are not limited)"},
    {.name = "initial_multiplier", .kind = MS_F_NUMBER, .offset = OFF(ms_dynamic_cfg, initial_multiplier),
     .def = "2", .bounds = MS_B_GE, .min = 1, .doc = "initial ratio = maintenance ratio x this"},
    {.name = "initial_vol", .kind = MS_F_NUMBER, .offset = OFF(ms_dynamic_cfg, initial_vol), .def = "0",
     .bounds = MS_B_GE, .min = 0,
     .doc = "sigma_hat at time 0 (annualised); 0: the market's long-run volatility"},
};

static ms_status check_dynamic(void *obj, ms_check *ck) {
  ms_dynamic_cfg *d = obj;
  if (d->cap < d->floor) return ms_check_fail(ck, "cap", "must be >= floor (%g) (got %g)", d->floor, d->cap);
  if (d->estimator == MS_VOLEST_WINDOW && (d->window + d->update_every - 1) / d->update_every > 100000)
    return ms_check_fail(ck, "window", "must be at most 100000 x update_every (got %lld update intervals)",
                         (long long)((d->window + d->update_every - 1) / d->update_every));
  if (d->cap * d->initial_multiplier > 1)
    return ms_check_fail(ck, "initial_multiplier", "cap x initial_multiplier must be <= 1 (got %g)",
                         d->cap * d->initial_multiplier);
  return MS_OK;
}
static const ms_schema dynamic_schema = {"dynamic", dynamic_fields, N(dynamic_fields), check_dynamic,
                                         "Volatility-scaled margin: maintenance ratio = clamp(k x "
                                         "sigma_hat x sqrt(liquidation_horizon), floor, cap)."};

static const ms_field extended_fields[] = {
    {.name = "shock", .kind = MS_F_NUMBER, .offset = OFF(ms_extended_cfg, shock), .def = "0",
     .bounds = MS_B_GT, .min = -1, .doc = "relative price move"},
    {.name = "weight", .kind = MS_F_NUMBER, .offset = OFF(ms_extended_cfg, weight), .def = "1",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 1, .doc = "fraction of its loss counted (dampener)"},
};
static const ms_schema extended_schema = {"extended", extended_fields, N(extended_fields), NULL, NULL};

static const ms_field span_fields[] = {
    {.name = "scan_range", .kind = MS_F_NUMBER, .offset = OFF(ms_span_cfg, scan_range), .def = "0.16",
     .bounds = MS_B_GT | MS_B_LT, .min = 0, .max = 1, .doc = "price scan range (moves of 1/3, 2/3, 1 of it)"},
    {.name = "vol_range", .kind = MS_F_NUMBER, .offset = OFF(ms_span_cfg, vol_range), .def = "0.35",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1, .doc = "relative volatility scan range (up and down)"},
    {.name = "extreme_multiple", .kind = MS_F_NUMBER, .offset = OFF(ms_span_cfg, extreme_multiple),
     .def = "2", .bounds = MS_B_GT, .min = 0, .doc = "the two extreme moves: +/- this x scan range ..."},
    {.name = "extreme_weight", .kind = MS_F_NUMBER, .offset = OFF(ms_span_cfg, extreme_weight),
     .def = "0.35", .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 1, .doc = "... counted at this fraction"},
};
static const ms_schema span_schema = {"span", span_fields, N(span_fields), NULL,
                                      "The SPAN 16-scenario risk array (grid: span)."};

/* Paradex's tail rows (margin-parameters.md 5.1); weight x |shock| = 16% */
#define PARADEX_EXTENDED \
  "[{shock: -0.66, weight: 0.24}, {shock: -0.33, weight: 0.48}, {shock: 0.5, weight: 0.32}, " \
  "{shock: 1, weight: 0.16}, {shock: 2, weight: 0.08}, {shock: 3, weight: 0.0533}, " \
  "{shock: 4, weight: 0.04}, {shock: 5, weight: 0.032}]"

/* Derive PMRM2's tail rows and their dampening (margin-parameters.md 5.2); dampening x |shock| = 13.86% */
#define DERIVE_EXTENDED \
  "[{shock: -0.66, weight: 0.21}, {shock: -0.33, weight: 0.42}, {shock: 0.5, weight: 0.2772}, " \
  "{shock: 1, weight: 0.1386}, {shock: 2, weight: 0.0693}, {shock: 3, weight: 0.0462}, " \
  "{shock: 4, weight: 0.03465}, {shock: 5, weight: 0.02772}]"

/*
 * Presets: the value of every key a preset sets, as YAML read by the same
 * code as the defaults. "deribit" is the key table's defaults. Keys a preset
 * does not list keep their defaults. Every number is from
 * ../shared/reference/margin-parameters.md, section 5.x as noted; where the
 * venue publishes none, docs/engine.md ("Presets") says what was chosen.
 */
typedef struct { const char *key, *yaml; } pm_setting;
typedef struct { const char *name; const pm_setting *set; int n; } pm_preset_def;

static const pm_setting paradex_set[] = { /* 5.1: the 24-row table */
    {"grid", "deribit"}, {"price_range", "0.16"}, {"price_steps", "9"}, {"vol_same", "false"},
    {"edge_vol_up_only", "true"}, {"vol_up", "0.4"}, {"vol_down", "0.22"}, {"min_vol_up", "0"},
    {"vega_power_short", "0.3"}, {"vega_power_long", "0.13"}, {"vega_power_switch", "30d"},
    {"dte_floor", "1d"}, {"extended", PARADEX_EXTENDED}, {"short_option_floor", "0"},
    {"min_delta_net", "0.02"}, {"min_delta_hedged", "0.01"}, {"im_factor", "1"}, {"mm_factor", "0.5"},
    {"perp_contingency_im", "0"}, {"perp_contingency_mm", "0"}, {"option_contingency_im", "0"},
    {"option_contingency_mm", "0"}, {"fee_provision", "0"}};
static const pm_setting derive_set[] = { /* 5.2: PMRM2 */
    {"grid", "deribit"}, {"price_range", "0.18"}, {"price_steps", "9"}, {"vol_same", "true"},
    {"edge_vol_up_only", "true"}, {"vol_up", "0.5"}, {"vol_down", "0.3"}, {"min_vol_up", "0.4"},
    {"vega_power_short", "0.3"}, {"vega_power_long", "0.13"}, {"vega_power_switch", "30d"},
    {"dte_floor", "1d"}, {"extended", DERIVE_EXTENDED}, {"short_option_floor", "0"},
    {"min_delta_net", "0"}, {"min_delta_hedged", "0"}, {"im_factor", "1"}, {"mm_factor", "0.8"},
    /* the initial requirement takes both the IM and the MM contingency */
    {"perp_contingency_im", "0.04"}, {"perp_contingency_mm", "0.03"}, {"option_contingency_im", "0.005"},
    {"option_contingency_mm", "0.003"}, {"fee_provision", "0"}};
static const pm_setting span_set[] = { /* 5.4: the 16-scenario array */
    {"grid", "span"}, {"short_option_floor", "0.01"}, {"min_delta_net", "0"}, {"min_delta_hedged", "0"},
    {"im_factor", "1"}, {"mm_factor", "0.5"}, {"perp_contingency_im", "0"}, {"perp_contingency_mm", "0"},
    {"option_contingency_im", "0"}, {"option_contingency_mm", "0"}, {"fee_provision", "0"},
    {"span.scan_range", "0.16"}, {"span.vol_range", "0.35"}, {"span.extreme_multiple", "2"},
    {"span.extreme_weight", "0.35"}};
static const pm_preset_def pm_preset_defs[] = {
    {"deribit", NULL, 0},
    {"paradex", paradex_set, (int)N(paradex_set)},
    {"derive", derive_set, (int)N(derive_set)},
    {"span", span_set, (int)N(span_set)},
};

static const ms_field portfolio_fields[] = {
    {.name = "preset", .kind = MS_F_ENUM, .offset = OFF(ms_portfolio_cfg, preset), .def = "deribit",
     .names = pm_presets,
     .doc = "the venue's parameter set, for every key of this section not written (docs/engine.md, "
            "\"Presets\"); the defaults below are `deribit`'s"},
    {.name = "grid", .kind = MS_F_ENUM, .offset = OFF(ms_portfolio_cfg, grid), .def = "deribit",
     .names = grid_kinds,
     .doc = "`deribit`: core price shocks x volatility states plus extended moves (also paradex, derive); "
            "`span`: the 16-scenario array"},
    {.name = "price_range", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, price_range), .def = "0.16",
     .bounds = MS_B_GT | MS_B_LT, .min = 0, .max = 1, .doc = "deribit: core price shocks from -range to +range"},
    {.name = "price_steps", .kind = MS_F_INT, .offset = OFF(ms_portfolio_cfg, price_steps), .def = "9",
     .bounds = MS_B_GE | MS_B_LE, .min = 2, .max = MS_MAX_PRICE_STEPS, .doc = "deribit: evenly spaced core shocks"},
    {.name = "vol_same", .kind = MS_F_BOOL, .offset = OFF(ms_portfolio_cfg, vol_same), .def = "true",
     .doc = "deribit: each core shock also at unchanged volatility (besides up and down)"},
    {.name = "edge_vol_up_only", .kind = MS_F_BOOL, .offset = OFF(ms_portfolio_cfg, edge_vol_up_only),
     .def = "false", .doc = "deribit: the shocks of -range and +range at volatility up only"},
    {.name = "vol_up", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, vol_up), .def = "0.4",
     .bounds = MS_B_GE, .min = 0, .doc = "deribit: vol x (1 + vol_up x (30 d / DTE)^power)"},
    {.name = "vol_down", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, vol_down), .def = "0.22",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1, .doc = "deribit: vol x (1 - vol_down x (30 d / DTE)^power)"},
    {.name = "min_vol_up", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, min_vol_up), .def = "0",
     .bounds = MS_B_GE, .min = 0, .unit = "annualised",
     .doc = "deribit: a volatility-up scenario values every option at this volatility at least (0: no bound)"},
    {.name = "vega_power_short", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, vega_power_short),
     .def = "0.3", .bounds = MS_B_GE, .min = 0, .doc = "power for DTE below vega_power_switch"},
    {.name = "vega_power_long", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, vega_power_long),
     .def = "0.13", .bounds = MS_B_GE, .min = 0, .doc = "power from vega_power_switch on"},
    {.name = "vega_power_switch", .kind = MS_F_DURATION, .offset = OFF(ms_portfolio_cfg, vega_power_switch),
     .def = "30d", .bounds = MS_B_GT, .min = 0, .doc = "DTE at which the power switches"},
    {.name = "dte_floor", .kind = MS_F_DURATION, .offset = OFF(ms_portfolio_cfg, dte_floor), .def = "1d",
     .bounds = MS_B_GT, .min = 0, .doc = "DTE used for the scaling is at least this"},
    {.name = "extended", .kind = MS_F_LIST, .offset = OFF(ms_portfolio_cfg, extended), .def = PARADEX_EXTENDED,
     .sub = &extended_schema, .count_offset = OFF(ms_portfolio_cfg, nextended), .max_items = MS_MAX_EXTENDED,
     .item_size = sizeof(ms_extended_cfg), .doc = "deribit: large moves at vol up, counted at a fraction"},
    {.name = "short_option_floor", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, short_option_floor),
     .def = "0.01", .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "per short option, fraction of its underlying notional: added to the scan risk (deribit), its "
            "lower bound (span: the short option minimum)"},
    {.name = "min_delta_net", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, min_delta_net), .def = "0",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "minimum delta requirement (the core is at least it): this x abs(net delta) x price ..."},
    {.name = "min_delta_hedged", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, min_delta_hedged),
     .def = "0", .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "... + this x hedged delta x price; hedged delta = (gross delta - abs(net delta)) / 2"},
    {.name = "im_factor", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, im_factor), .def = "1",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 10, .doc = "initial = im_factor x core + contingencies"},
    {.name = "mm_factor", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, mm_factor), .def = "0.5",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1,
     .doc = "maintenance = mm_factor x core + contingencies (at most im_factor)"},
    {.name = "perp_contingency_im", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, perp_contingency_im),
     .def = "0", .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "added to the initial requirement, fraction of the perp's notional"},
    {.name = "perp_contingency_mm", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, perp_contingency_mm),
     .def = "0", .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "added to the maintenance requirement, fraction of the perp's notional (at most the initial one)"},
    {.name = "option_contingency_im", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, option_contingency_im),
     .def = "0", .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "added to the initial requirement, fraction of the underlying notional of naked short options "
            "(short net of long at the same strike and expiry)"},
    {.name = "option_contingency_mm", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, option_contingency_mm),
     .def = "0", .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "added to the maintenance requirement, likewise (at most the initial one)"},
    {.name = "fee_provision", .kind = MS_F_NUMBER, .offset = OFF(ms_portfolio_cfg, fee_provision), .def = "0",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "added to both requirements, fraction of the underlying notional of the perp and every option"},
    {.name = "span", .kind = MS_F_SECTION, .offset = OFF(ms_portfolio_cfg, span), .sub = &span_schema,
     .doc = "grid: span parameters"},
};

/* Maintenance must not exceed initial: an account opened at its initial
 * requirement would start eligible. */
static ms_status check_portfolio(void *obj, ms_check *ck) {
  ms_portfolio_cfg *p = obj;
  if (p->mm_factor > p->im_factor)
    return ms_check_fail(ck, "mm_factor", "must be <= im_factor (%g) (got %g)", p->im_factor, p->mm_factor);
  if (p->perp_contingency_mm > p->perp_contingency_im)
    return ms_check_fail(ck, "perp_contingency_mm", "must be <= perp_contingency_im (%g) (got %g)",
                         p->perp_contingency_im, p->perp_contingency_mm);
  if (p->option_contingency_mm > p->option_contingency_im)
    return ms_check_fail(ck, "option_contingency_mm", "must be <= option_contingency_im (%g) (got %g)",
                         p->option_contingency_im, p->option_contingency_mm);
  return MS_OK;
}
static const ms_schema portfolio_schema = {"portfolio", portfolio_fields, N(portfolio_fields), check_portfolio,
                                           "Portfolio margin: core = the worst weighted loss of the whole "
                                           "account over a grid of price x volatility shocks (options "
                                           "revalued by Black–Scholes, perps linearly) with the short option "
                                           "floor (added, or on grid span its lower bound) and at least the "
                                           "minimum delta requirement; initial = im_factor x core + "
                                           "contingencies, maintenance = mm_factor x core + contingencies. "
                                           "`preset` sets every key not written (explicit keys and --set "
                                           "win); defaults are preset `deribit`'s."};

static const ms_field tier_fields[] = {
    {.name = "floor", .kind = MS_F_NUMBER, .offset = OFF(ms_tier_cfg, floor), .def = "0",
     .bounds = MS_B_GE, .min = 0, .unit = "USD", .doc = "notional where the tier starts"},
    {.name = "maintenance", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_tier_cfg, maintenance),
     .def = "0.025", .bounds = MS_B_GT | MS_B_LT, .min = 0, .max = 1, .doc = "maintenance margin rate"},
    {.name = "initial", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_tier_cfg, initial), .def = "0.05",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1,
     .doc = "initial margin rate (1 / the tier's maximum leverage)"},
};
static const ms_schema tier_schema = {"tier", tier_fields, N(tier_fields), NULL,
                                      "One notional tier. The maintenance amount that keeps the "
                                      "requirement continuous is derived: cum_0 = 0, cum_n = "
                                      "cum_n-1 + floor_n (mmr_n - mmr_n-1)."};

static ms_status check_margin(void *obj, ms_check *ck) {
  ms_margin_cfg *m = obj;
  if (m->initial < m->maintenance)
    return ms_check_fail(ck, "initial", "must be >= margin.maintenance (%g) (got %g)", m->maintenance,
                         m->initial);
  if (m->ntiers > 0 && m->tiers[0].floor != 0.0)
    return ms_check_fail(ck, "tiers[0].floor", "the first tier must start at 0 (got %g)", m->tiers[0].floor);
  for (int i = 0; i < m->ntiers; i++) {
    char rel[64];
    if (m->tiers[i].initial < m->tiers[i].maintenance) {
      snprintf(rel, sizeof rel, "tiers[%d].initial", i);
      return ms_check_fail(ck, rel, "must be >= the tier's maintenance (%g) (got %g)",
                           m->tiers[i].maintenance, m->tiers[i].initial);
    }
    if (i == 0) continue;
    if (!(m->tiers[i].floor > m->tiers[i - 1].floor)) {
      snprintf(rel, sizeof rel, "tiers[%d].floor", i);
      return ms_check_fail(ck, rel, "floors must increase (previous %g, got %g)",
                           m->tiers[i - 1].floor, m->tiers[i].floor);
    }
    if (m->tiers[i].maintenance < m->tiers[i - 1].maintenance) {
      snprintf(rel, sizeof rel, "tiers[%d].maintenance", i);
      return ms_check_fail(ck, rel, "rates must not fall from tier to tier (previous %g, got %g)",
                           m->tiers[i - 1].maintenance, m->tiers[i].maintenance);
    }
  }
  return MS_OK;
}

/* Binance BTCUSDT, effective 2021-03-18 (../shared/reference/margin-parameters.md 1.2). */
#define BINANCE_BTCUSDT_2021 \
  "[{floor: 0, maintenance: 0.004, initial: 0.008}, {floor: 5e4, maintenance: 0.005, initial: 0.01}, " \
  "{floor: 2.5e5, maintenance: 0.01, initial: 0.02}, {floor: 1e6, maintenance: 0.025, initial: 0.05}, " \
  "{floor: 1e7, maintenance: 0.05, initial: 0.1}, {floor: 2e7, maintenance: 0.1, initial: 0.2}, " \
  "{floor: 5e7, maintenance: 0.125, initial: 0.25}, {floor: 1e8, maintenance: 0.15, initial: 0.333}, " \
  "{floor: 2e8, maintenance: 0.25, initial: 0.5}, {floor: 3e8, maintenance: 0.5, initial: 1}]"

static const ms_field margin_fields[] = {
    {.name = "model", .kind = MS_F_MODEL, .offset = OFF(ms_margin_cfg, model), .def = "static",
     .types = margin_type_at,
     .doc = "`static`: fixed ratios of notional; `tiered`: rates rising with notional; `dynamic`: a "
            "ratio that follows estimated volatility; `portfolio`: worst loss over a scenario grid"},
    {.name = "initial", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_margin_cfg, initial), .def = "0.05",
     .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1,
     .doc = "static: initial margin, fraction of gross notional (perp + short options' underlying) at the "
            "oracle price"},
    {.name = "maintenance", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_margin_cfg, maintenance),
     .def = "0.025", .bounds = MS_B_GT | MS_B_LT, .min = 0, .max = 1,
     .doc = "static: maintenance margin, fraction of gross notional at the oracle price"},
    {.name = "tiers", .kind = MS_F_LIST, .offset = OFF(ms_margin_cfg, tiers), .def = BINANCE_BTCUSDT_2021,
     .bounds = MS_B_GE, .min = 1, .sub = &tier_schema, .count_offset = OFF(ms_margin_cfg, ntiers),
     .max_items = MS_MAX_TIERS, .item_size = sizeof(ms_tier_cfg),
     .doc = "tiered: the notional tiers (default: Binance BTCUSDT, 2021-03-18)"},
    {.name = "dynamic", .kind = MS_F_SECTION, .offset = OFF(ms_margin_cfg, dynamic), .sub = &dynamic_schema,
     .doc = "dynamic margin"},
    {.name = "portfolio", .kind = MS_F_SECTION, .offset = OFF(ms_margin_cfg, portfolio), .sub = &portfolio_schema,
     .doc = "portfolio margin"},
};
static const ms_schema margin_schema = {"margin", margin_fields, N(margin_fields), check_margin,
                                        "Margin rules. Equity = collateral + unrealised PnL at the "
                                        "oracle price; an account is eligible for liquidation when "
                                        "equity < maintenance requirement."};

/* ----------------------------------------------------------------- oracle */

static const ms_field oracle_fields[] = {
    {.name = "kind", .kind = MS_F_MODEL, .offset = OFF(ms_oracle_cfg, kind), .def = "push",
     .types = oracle_type_at,
     .doc = "`push`: rounds on deviation or heartbeat (Chainlink-like); `pull`: a price every interval (Pyth-like)"},
    {.name = "deviation", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_oracle_cfg, deviation), .def = "0.005",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "push: a round starts when abs(price - last published) / last published exceeds this"},
    {.name = "heartbeat", .kind = MS_F_DURATION, .offset = OFF(ms_oracle_cfg, heartbeat), .def = "1h",
     .bounds = MS_B_GT, .min = 0, .doc = "push: a round starts when this long has passed since the last publish"},
    {.name = "latency", .kind = MS_F_DIST, .offset = OFF(ms_oracle_cfg, latency),
     .def = "{dist: exponential, mean: 10s}", .bounds = MS_B_GE, .min = 0, .elem = MS_F_DURATION,
     .doc = "time from a round's observation to its publish; every value drawn at most 9e15 ms "
            "(lognormal: median x exp(12.31 sigma)); one past the horizon: the round never publishes in the path"},
    {.name = "interval", .kind = MS_F_DURATION, .offset = OFF(ms_oracle_cfg, interval), .def = "400ms",
     .bounds = MS_B_GT, .min = 0, .doc = "pull: time between observations"},
    {.name = "twap", .kind = MS_F_DURATION, .offset = OFF(ms_oracle_cfg, twap), .def = "0s",
     .bounds = MS_B_GE, .min = 0,
     .doc = "report the mean of the mark over this window (sampled at each tick); 0s: the spot mark"},
};
static const ms_schema oracle_schema = {"oracle", oracle_fields, N(oracle_fields), NULL,
                                        "What the protocol sees: the margin rules use only oracle prices."};

/* ---------------------------------------------------------------- keepers */

static const ms_field capacity_fields[] = {
    {.name = "per_block", .kind = MS_F_INT, .offset = OFF(ms_capacity_cfg, per_block), .def = "0",
     .bounds = MS_B_GE, .min = 0,
     .doc = "liquidations that fit in one block; 0: unlimited (keepers act the moment they are ready)"},
    {.name = "block_time", .kind = MS_F_DURATION, .offset = OFF(ms_capacity_cfg, block_time),
     .def = "12s", .bounds = MS_B_GT, .min = 0,
     .doc = "time between blocks (also the retry interval of a skipped liquidation)"},
};
static const ms_schema capacity_schema = {"capacity", capacity_fields, N(capacity_fields), NULL, NULL};

static const ms_field congestion_fields[] = {
    {.name = "per_pending", .kind = MS_F_NUMBER, .offset = OFF(ms_congestion_cfg, per_pending),
     .def = "0", .bounds = MS_B_GE, .min = 0,
     .doc = "delay factor = min(max_factor, 1 + per_pending x liquidations pending); 0: no congestion"},
    {.name = "max_factor", .kind = MS_F_NUMBER, .offset = OFF(ms_congestion_cfg, max_factor),
     .def = "10", .bounds = MS_B_GE, .min = 1, .doc = "cap of the delay factor"},
};
static const ms_schema congestion_schema = {"congestion", congestion_fields, N(congestion_fields), NULL, NULL};

static const ms_field window_fields[] = {
    {.name = "start", .kind = MS_F_DURATION, .offset = OFF(ms_window_cfg, start), .def = "0s",
     .bounds = MS_B_GE, .min = 0, .doc = "when the outage begins (at or after the horizon: no effect, a warning)"},
    {.name = "duration", .kind = MS_F_DURATION, .offset = OFF(ms_window_cfg, duration), .def = "0s",
     .bounds = MS_B_GE, .min = 0, .doc = "how long no keeper acts"},
};
static const ms_schema window_schema = {"outage", window_fields, N(window_fields), NULL,
                                        "A window when no keeper acts; actions due inside it wait for its end."};

/* A keeper's delay is a draw times the congestion factor (at most
 * max_factor): the product must stay a time (MS_DURATION_MAX_MS). */
static ms_status check_keepers(void *obj, ms_check *ck) {
  ms_keeper_cfg *k = obj;
  if (k->congestion.per_pending <= 0) return MS_OK;
  double lo, hi;
  ms_dist_draw_range(&k->delay, &lo, &hi);
  if (hi * k->congestion.max_factor <= (double)MS_DURATION_MAX_MS) return MS_OK;
  return ms_check_fail(ck, "congestion.max_factor",
                       "times the longest delay drawn (%.4gms) exceeds the longest time, %lldms; "
                       "at most %.4g with this delay",
                       hi, (long long)MS_DURATION_MAX_MS, (double)MS_DURATION_MAX_MS / hi);
}

static const ms_field keeper_fields[] = {
    {.name = "model", .kind = MS_F_MODEL, .offset = OFF(ms_keeper_cfg, model), .def = "standard",
     .types = keeper_type_at,
     .doc = "keeper policy; `standard`: a delay per discovered account, blocks of limited capacity, "
            "congestion, a gas cost, outages (the keys below)"},
    {.name = "delay", .kind = MS_F_DIST, .offset = OFF(ms_keeper_cfg, delay),
     .def = "{dist: lognormal, median: 6s, sigma: 0.8}", .bounds = MS_B_GE, .min = 0,
     .elem = MS_F_DURATION,
     .doc = "time from discovery (an oracle publish) to the keeper's action; every value drawn, times "
            "congestion.max_factor when congestion is on, at most 9e15 ms; past the horizon: no action in the path"},
    {.name = "capacity", .kind = MS_F_SECTION, .offset = OFF(ms_keeper_cfg, capacity),
     .sub = &capacity_schema, .doc = "liquidations per block"},
    {.name = "congestion", .kind = MS_F_SECTION, .offset = OFF(ms_keeper_cfg, congestion),
     .sub = &congestion_schema, .doc = "delays growing with the backlog"},
    {.name = "gas_cost", .kind = MS_F_NUMBER, .offset = OFF(ms_keeper_cfg, gas_cost), .def = "0",
     .bounds = MS_B_GE, .min = 0, .unit = "USD",
     .doc = "a keeper skips a liquidation whose reward is below this and retries next block"},
    {.name = "outages", .kind = MS_F_LIST, .offset = OFF(ms_keeper_cfg, outages), .def = "[]",
     .sub = &window_schema, .count_offset = OFF(ms_keeper_cfg, noutages), .max_items = MS_MAX_OUTAGES,
     .item_size = sizeof(ms_window_cfg), .doc = "windows when no keeper acts"},
};
static const ms_schema keeper_schema = {"keepers", keeper_fields, N(keeper_fields), check_keepers,
                                        "When an eligible account is actually liquidated."};

/* ------------------------------------------------------------ liquidation */

static const char *const liq_modes[] = {"full", "partial", NULL};

static const ms_field liq_fields[] = {
    {.name = "mode", .kind = MS_F_ENUM, .offset = OFF(ms_liquidation_cfg, mode), .def = "full",
     .names = liq_modes,
     .doc = "`full`: close the whole position; `partial`: close the fraction that restores initial margin"},
    {.name = "min_close", .kind = MS_F_NUMBER, .offset = OFF(ms_liquidation_cfg, min_close),
     .def = "0.2", .bounds = MS_B_GT | MS_B_LE, .min = 0, .max = 1,
     .doc = "partial: least fraction of the position closed"},
    {.name = "penalty", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_liquidation_cfg, penalty), .def = "0.01",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "fraction of the closed notional taken from the remaining equity"},
    {.name = "keeper_share", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_liquidation_cfg, keeper_share),
     .def = "0.9", .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 1,
     .doc = "share of the penalty paid to the keeper; the rest goes to the insurance fund"},
    {.name = "insurance_fund", .kind = MS_F_NUMBER, .offset = OFF(ms_liquidation_cfg, insurance_fund),
     .def = "2e6", .bounds = MS_B_GE, .min = 0, .unit = "USD", .doc = "insurance fund at the start"},
    {.name = "shortfall", .kind = MS_F_MODEL, .offset = OFF(ms_liquidation_cfg, shortfall), .def = "adl",
     .types = shortfall_type_at,
     .doc = "bad debt beyond the fund: `socialize` pro rata over profitable accounts, or `adl` "
            "(close the top-ranked opposite positions at the bankruptcy price; units no opposite position takes go "
            "to the market, their loss uncovered)"},
    {.name = "option_spread", .kind = MS_F_NUMBER, .offset = OFF(ms_liquidation_cfg, option_spread),
     .def = "0.05", .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "options are closed at model value x (1 + spread) when bought back, x (1 - spread) when sold"},
};
static const ms_schema liq_schema = {"liquidation", liq_fields, N(liq_fields), NULL,
                                     "Fills, penalty, insurance fund and the loss waterfall."};

/* ---------------------------------------------------------------- funding */

/*
 * Presets: the venue's rules, for every key of the section not written.
 * "binance" is the key table's defaults. Sources (docs/engine.md, "Funding"):
 * Binance's funding FAQ (8-hour interval, 0.01% interest per interval,
 * P + clamp(I - P, +/-0.05%), the notional at the mark price, the rate
 * capped at the maintenance margin ratio: 0.40% for BTCUSDT's first tier,
 * ../shared/reference/margin-parameters.md 1.2), Hyperliquid's docs
 * (hourly payments of one eighth of an 8-hour rate, the same formula and
 * interest, premium sampled every 5 s, the notional at the oracle price,
 * capped at 4% an hour) and dYdX: its help page (an 8-hour rate paid as
 * rate x T / 8 h x position x the on-chain price, premium + 0.01% interest)
 * and the v4 chain's x/perpetuals (60 premium samples an hour, the 8-hour
 * rate clamped to 600% x (initial - maintenance margin fraction): 12% for
 * the Large-Cap tier's 5% and 3%, margin-parameters.md 3, so 1.5% a payment).
 */
static const char *const funding_presets[] = {"binance", "hyperliquid", "dydx", NULL};
static const char *const funding_formulas[] = {"clamped", "sum", NULL};
static const char *const funding_prices[] = {"mark", "oracle", "index", NULL};
static const char *const funding_receivers[] = {"pro_rata", "rate", NULL};

static const pm_setting hyperliquid_set[] = {
    {"interval", "1h"}, {"rate_period", "8h"}, {"sample_every", "5s"}, {"interest", "0.0001"},
    {"formula", "clamped"}, {"dampener", "0.0005"}, {"cap", "0.04"}, {"price", "oracle"}};
static const pm_setting dydx_set[] = {
    {"interval", "1h"}, {"rate_period", "8h"}, {"sample_every", "1m"}, {"interest", "0.0001"}, {"formula", "sum"},
    {"cap", "0.015"}, {"price", "oracle"}};
static const pm_preset_def funding_preset_defs[] = {
    {"binance", NULL, 0},
    {"hyperliquid", hyperliquid_set, (int)N(hyperliquid_set)},
    {"dydx", dydx_set, (int)N(dydx_set)},
};

static const ms_field premium_regime_fields[] = {
    {.name = "mean", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_premium_regime_cfg, mean), .def = "0",
     .bounds = MS_B_GT | MS_B_LT, .min = -1, .max = 1, .doc = "the premium's mean while the regime holds"},
};
static const ms_schema premium_regime_schema = {"premium regime", premium_regime_fields, N(premium_regime_fields),
                                                NULL, "The exogenous premium's mean while one regime of "
                                                "market.regimes holds."};

static const ms_field premium_fields[] = {
    {.name = "mean", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_premium_cfg, mean), .def = "0",
     .bounds = MS_B_GT | MS_B_LT, .min = -1, .max = 1,
     .doc = "long-run mean of the exogenous premium, (perp - index) / index: a crowded long book is > 0"},
    {.name = "sd", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_premium_cfg, sd), .def = "0",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "its stationary standard deviation (an Ornstein-Uhlenbeck process, started from its stationary "
            "law each path); 0: constant at the mean"},
    {.name = "half_life", .kind = MS_F_DURATION, .offset = OFF(ms_premium_cfg, half_life), .def = "8h",
     .bounds = MS_B_GT, .min = 0, .doc = "time in which a deviation from the mean halves on average"},
    {.name = "regimes", .kind = MS_F_LIST, .offset = OFF(ms_premium_cfg, regimes), .def = "[]", .bounds = MS_B_GE,
     .min = 0, .sub = &premium_regime_schema, .count_offset = OFF(ms_premium_cfg, nregimes),
     .max_items = MS_MAX_REGIMES, .item_size = sizeof(ms_premium_regime_cfg),
     .doc = "a mean per market.regimes entry (market.model regime_switching): the premium reverts to the current "
            "regime's (crowded longs in calm markets, a discount in stress); empty: mean throughout"},
};
static const ms_schema premium_schema = {"premium", premium_fields, N(premium_fields), NULL,
                                         "An exogenous premium process added to the premium the book's own "
                                         "impact makes: the basis of the wider market (a crowded long market "
                                         "trades above its index). It does not move the mark."};

static const ms_field funding_fields[] = {
    {.name = "enabled", .kind = MS_F_BOOL, .offset = OFF(ms_funding_cfg, enabled), .def = "false",
     .doc = "pay funding between longs and shorts every interval"},
    {.name = "preset", .kind = MS_F_ENUM, .offset = OFF(ms_funding_cfg, preset), .def = "binance",
     .names = funding_presets,
     .doc = "the venue's rules, for every key of this section not written (docs/engine.md, \"Funding\")"},
    {.name = "interval", .kind = MS_F_DURATION, .offset = OFF(ms_funding_cfg, interval), .def = "8h",
     .bounds = MS_B_GT, .min = 0, .doc = "time between payments; the first at this time after the start"},
    {.name = "rate_period", .kind = MS_F_DURATION, .offset = OFF(ms_funding_cfg, rate_period), .def = "8h",
     .bounds = MS_B_GT, .min = 0,
     .doc = "the period the formula's rate is quoted for: a payment is rate x interval / rate_period"},
    {.name = "sample_every", .kind = MS_F_DURATION, .offset = OFF(ms_funding_cfg, sample_every), .def = "5s",
     .bounds = MS_B_GT, .min = 0,
     .doc = "the premium (mark - index) / index is sampled this often; an interval's premium is the mean of "
            "its samples"},
    {.name = "interest", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_funding_cfg, interest), .def = "0.0001",
     .bounds = MS_B_GT | MS_B_LT, .min = -1, .max = 1, .doc = "interest rate per rate_period"},
    {.name = "formula", .kind = MS_F_ENUM, .offset = OFF(ms_funding_cfg, formula), .def = "clamped",
     .names = funding_formulas,
     .doc = "`clamped`: rate = P + clamp(interest - P, -dampener, dampener) (Binance, Hyperliquid); `sum`: "
            "rate = P + interest (dYdX); P the interval's premium"},
    {.name = "dampener", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_funding_cfg, dampener), .def = "0.0005",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1, .doc = "clamped: the band of interest - P"},
    {.name = "cap", .kind = MS_F_NUMBER, .pct = 1, .offset = OFF(ms_funding_cfg, cap), .def = "0.004",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "largest abs(rate) of one payment, after the scaling by interval / rate_period; 0: no cap"},
    {.name = "price", .kind = MS_F_ENUM, .offset = OFF(ms_funding_cfg, price), .def = "mark",
     .names = funding_prices,
     .doc = "the price a position's notional is valued at: `mark` (Binance), `oracle` (Hyperliquid) or `index`, "
            "the exogenous price (dYdX)"},
    {.name = "receivers", .kind = MS_F_ENUM, .offset = OFF(ms_funding_cfg, receivers), .def = "pro_rata",
     .names = funding_receivers,
     .doc = "`pro_rata`: the receiving side shares what the paying side paid, pro rata to its units (funding sums "
            "to zero over the book; a receiving unit gets rate x paying units / receiving units); `rate`: every "
            "receiving position gets the rate on its notional, the difference paid to or by the rest of the market "
            "outside the book (funding_outside)"},
    {.name = "premium", .kind = MS_F_SECTION, .offset = OFF(ms_funding_cfg, premium), .sub = &premium_schema,
     .doc = "the exogenous premium"},
};

static ms_status check_funding(void *obj, ms_check *ck) {
  ms_funding_cfg *f = obj;
  if (f->sample_every > f->interval) {
    char a[32], b[32];
    ms_units_format_duration(f->sample_every, a, sizeof a);
    ms_units_format_duration(f->interval, b, sizeof b);
    return ms_check_fail(ck, "sample_every", "must be <= interval (%s) (got %s): an interval needs a sample", b, a);
  }
  if (f->interval / f->sample_every > MS_FUNDING_MAX_SAMPLES) {
    char a[32], b[32];
    ms_units_format_duration(f->sample_every, a, sizeof a);
    ms_units_format_duration(f->interval, b, sizeof b);
    return ms_check_fail(ck, "sample_every", "is %s: more than %lld samples an interval (%s); sample less often or "
                         "shorten interval", a, (long long)MS_FUNDING_MAX_SAMPLES, b);
  }
  /* a payment of many periods' rate is a unit slip (rate_period: 1ms), not a venue */
  if ((double)f->interval > MS_FUNDING_MAX_PERIODS * (double)f->rate_period) {
    char a[32], b[32];
    ms_units_format_duration(f->interval, a, sizeof a);
    ms_units_format_duration(f->rate_period, b, sizeof b);
    return ms_check_fail(ck, "interval", "is %s, more than %d x rate_period (%s): a payment would be more than %d "
                         "periods' rate; check interval and rate_period", a, MS_FUNDING_MAX_PERIODS, b,
                         MS_FUNDING_MAX_PERIODS);
  }
  return MS_OK;
}
static const ms_schema funding_schema = {"funding", funding_fields, N(funding_fields), check_funding,
                                         "Funding payments between longs and shorts (docs/engine.md, "
                                         "\"Funding\"). Each interval the rate is computed from the mean "
                                         "premium of its samples and the interest, longs pay shorts "
                                         "rate x notional (shorts pay longs when it is negative), and the "
                                         "receiving side shares the payment pro rata to its units, so that "
                                         "funding sums to zero over the book (receivers: pro_rata), or "
                                         "receives the rate on its own notional, the rest of the market "
                                         "taking the difference (receivers: rate). `preset` sets every key not "
                                         "written (explicit keys and --set win); defaults are preset "
                                         "`binance`'s."};

/* ------------------------------------------------------------------ stats */

static const ms_field stats_fields[] = {
    {.name = "cascade_gap", .kind = MS_F_DURATION, .offset = OFF(ms_stats_cfg, cascade_gap),
     .def = "5m", .bounds = MS_B_GE, .min = 0,
     .doc = "liquidations no further apart than this belong to one cascade"},
    {.name = "counterfactual", .kind = MS_F_BOOL, .offset = OFF(ms_stats_cfg, counterfactual), .def = "true",
     .doc = "run each path's no-feedback twin (the same path, book and draws with market.impact.model none) "
            "for the *_no_impact columns, amplification and /stats/feedback; false: about half the work "
            "when impact is on, and none of those"},    {.name = "contagion", .kind = MS_F_BOOL, .offset = OFF(ms_stats_cfg, contagion), .def = "true",
     .doc = "with book.markets: run each path once more per market with the other assets' exogenous prices "
            "frozen at their start, for the contagion_liquidations_<asset> columns; false: none of those, and "
            "a run with K assets does 1 / (K + 1) of the work"},
};
static const ms_schema stats_schema = {"stats", stats_fields, N(stats_fields), NULL, NULL};

/* ----------------------------------------------------------------- output */

static const ms_field ts_fields[] = {
    {.name = "paths", .kind = MS_F_INT, .offset = OFF(ms_timeseries_cfg, paths), .def = "8",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 10000,
     .doc = "record the time series of the first this many paths"},
    {.name = "every", .kind = MS_F_DURATION, .offset = OFF(ms_timeseries_cfg, every), .def = "1m",
     .bounds = MS_B_GT, .min = 0, .doc = "sampling interval"},
};
static const ms_schema ts_schema = {"timeseries", ts_fields, N(ts_fields), NULL, NULL};

static const ms_field fan_fields[] = {
    {.name = "paths", .kind = MS_F_INT, .offset = OFF(ms_fan_cfg, paths), .def = "1000",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 1000000,
     .doc = "sample the exogenous and mark price of the first this many paths (0: none)"},
    {.name = "points", .kind = MS_F_INT, .offset = OFF(ms_fan_cfg, points), .def = "97",
     .bounds = MS_B_GE | MS_B_LE, .min = 2, .max = 10001,
     .doc = "at this many evenly spaced times from 0 to the horizon"},
};
static const ms_schema fan_schema = {"fan", fan_fields, N(fan_fields), NULL, NULL};

static const ms_field output_fields[] = {
    {.name = "timeseries", .kind = MS_F_SECTION, .offset = OFF(ms_output_cfg, timeseries),
     .sub = &ts_schema, .doc = "sampled paths in /timeseries"},
    {.name = "fan", .kind = MS_F_SECTION, .offset = OFF(ms_output_cfg, fan), .sub = &fan_schema,
     .doc = "a coarse grid of many paths' prices in /timeseries/fan (the report's fan chart)"},
    {.name = "compression", .kind = MS_F_INT, .offset = OFF(ms_output_cfg, compression), .def = "4",
     .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 9,
     .doc = "gzip level of chunked datasets (0: none); /book's whole chunks at 1-5 coded plane by plane (about "
            "as small as level 4 on books, several times faster), at 6-9 by libdeflate at that level"},
    {.name = "chunk_paths", .kind = MS_F_INT, .offset = OFF(ms_output_cfg, chunk_paths),
     .def = "256", .bounds = MS_B_GE | MS_B_LE, .min = 1, .max = 1 << 20,
     .doc = "paths per frame of the run's journal: what a resume may redo, and what is held in memory at once"},
    {.name = "liquidations", .kind = MS_F_BOOL, .offset = OFF(ms_output_cfg, liquidations),
     .def = "false", .doc = "write one row per liquidation to /liquidations"},
    {.name = "liquidations_compression", .kind = MS_F_INT, .offset = OFF(ms_output_cfg, liquidations_compression),
     .def = "0", .bounds = MS_B_GE | MS_B_LE, .min = 0, .max = 9,
     .doc = "gzip level of /liquidations (0: none; deflating a record costs several times its simulation)"},
};
static const ms_schema output_schema = {"output", output_fields, N(output_fields), NULL,
                                        "What goes into the result file besides the summaries."};

/* ------------------------------------------------------------- assertions */

static const char *const op_texts[] = {"<", "<=", ">", ">=", "==", "!="};

const char *ms_assert_op_text(int op) { return op >= 0 && op < (int)N(op_texts) ? op_texts[op] : "?"; }

/* "STATISTIC OP VALUE": a dotted name, a comparison, a number (or a
 * duration, taken in seconds like the summary's times). Whether the name is
 * a statistic the run produces is checked by the driver, which knows them. */
static ms_status check_assertion(void *obj, ms_check *ck) {
  ms_assertion_cfg *a = obj;
  const char *p = a->text;
  while (isspace((unsigned char)*p)) p++;
  const char *b = p;
  while (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-') p++;
  size_t len = (size_t)(p - b);
  const char *usage = "expected STATISTIC OP VALUE, e.g. \"insolvency.probability < 0.01\" or "
                      "\"bad_debt.q99 <= 250000\" (OP: <, <=, >, >=, ==, !=)";
  if (len == 0 || len >= sizeof a->statistic || !memchr(b, '.', len) || b[len - 1] == '.' || b[0] == '.')
    return ms_check_fail(ck, NULL, "%s (got \"%s\")", usage, a->text);
  memcpy(a->statistic, b, len);
  a->statistic[len] = '\0';
  while (isspace((unsigned char)*p)) p++;
  a->op = -1;
  for (int k = (int)N(op_texts) - 1; k >= 0; k--) { /* two-character operators first */
    size_t ol = strlen(op_texts[k]);
    if (strncmp(p, op_texts[k], ol) == 0 && (a->op < 0 || ol > strlen(op_texts[a->op]))) a->op = k;
  }
  if (a->op < 0) return ms_check_fail(ck, NULL, "%s (got \"%s\")", usage, a->text);
  p += strlen(op_texts[a->op]);
  while (isspace((unsigned char)*p)) p++;
  char val[64];
  size_t vl = strlen(p);
  while (vl > 0 && isspace((unsigned char)p[vl - 1])) vl--;
  if (vl == 0 || vl >= sizeof val) return ms_check_fail(ck, NULL, "%s (got \"%s\")", usage, a->text);
  memcpy(val, p, vl);
  val[vl] = '\0';
  int64_t ms;
  if (ms_units_parse_number(val, &a->threshold) != 0) {
    if (ms_units_parse_duration(val, &ms) != 0)
      return ms_check_fail(ck, NULL, "the value must be a number such as 0.01, 2.5e5 or a duration such as "
                                     "10m (got \"%s\")", val);
    a->threshold = (double)ms / 1000.0;
  }
  if (!isfinite(a->threshold)) return ms_check_fail(ck, NULL, "the value must be finite (got \"%s\")", val);
  if (ck->node) ms_ynode_where(ck->node, a->where, sizeof a->where);
  else snprintf(a->where, sizeof a->where, "%s", ck->src);
  return MS_OK;
}

static const ms_field assertion_fields[] = {
    {.name = "assert", .kind = MS_F_STRING, .offset = OFF(ms_assertion_cfg, text), .def = "\"\"",
     .str_size = 256, .doc = "STATISTIC OP VALUE: a /stats entry (`insolvency.probability`, `bad_debt.q99`, "
                             "`amplification.mean`, `insurance_min.q01`, ...), one of < <= > >= == !=, a number"},
    {.name = "confidence", .kind = MS_F_NUMBER, .offset = OFF(ms_assertion_cfg, confidence), .def = "0",
     .bounds = MS_B_GE | MS_B_LT, .min = 0, .max = 1,
     .doc = "0: the estimate decides; else the statistic's whole interval at this level must satisfy "
            "the comparison (means, probabilities, quantiles and es99/es01 have intervals)"},
};
static const ms_schema assertion_schema = {
    "assertion", assertion_fields, N(assertion_fields), check_assertion,
    "One assertion: `- insolvency.probability < 0.01` or `- {assert: \"insolvency.probability < 0.01\", "
    "confidence: 0.95}`. `marginsim check` exits 1 when one fails; `run` and `sweep` report them."};

/* ------------------------------------------------------------------ sweep */

static const ms_field sweep_fields[] = {
    {.name = "grid", .kind = MS_F_STRLIST, .offset = OFF(ms_sweep_cfg, grid), .def = "[]",
     .count_offset = OFF(ms_sweep_cfg, ngrid), .max_items = MS_MAX_GRID, .str_size = MS_GRID_TEXT,
     .doc = "axes, as for --grid: `KEY=V1,V2,...` or `KEY=FROM:TO:STEP`"},
    {.name = "baseline", .kind = MS_F_STRING, .offset = OFF(ms_sweep_cfg, baseline), .def = "\"\"",
     .str_size = MS_GRID_TEXT, .doc = "the cell differences are taken against, as for --baseline "
                                      "(`KEY=V,...`); empty: the first cell"},
    {.name = "show", .kind = MS_F_STRLIST, .offset = OFF(ms_sweep_cfg, show), .def = "[]",
     .count_offset = OFF(ms_sweep_cfg, nshow), .max_items = MS_MAX_SHOW, .str_size = MS_STAT_NAME_MAX,
     .doc = "headline statistics of the summary table, as for --show; empty: insolvency.probability, "
            "bad_debt.mean, bad_debt.q99, liquidated_notional.mean, largest_cascade_notional.q99, "
            "amplification.mean (with stats.counterfactual)"},
};
static const ms_schema sweep_schema = {"sweep", sweep_fields, N(sweep_fields), NULL,
                                       "What `marginsim sweep SCENARIO` runs when no --grid is given; "
                                       "`run` ignores it."};

/* -------------------------------------------------------------------- top */

/* book.markets under replay or bootstrap: each asset's own window of its
 * own candles (check_asset_windows checked that they hold the traded
 * asset's window whole, at its resolution), for ms_config_for_asset. */
static ms_status resolve_asset_histories(ms_config *c, ms_check *ck) {
  ms_market_cfg *m = &c->market;
  if (!c->book.markets.enabled || !m->hist.data || m->nassets == 0) return MS_OK;
  const ms_series *t = m->hist.data->s;
  const int64_t from = t->c[m->hist.first].t;
  const int boot = strcmp(ms_model_name(m->model), "bootstrap") == 0;
  for (int j = 0; j < m->nassets; j++) {
    ms_asset_cfg *a = &m->assets[j];
    share_release(a->hist.data);
    a->hist = m->hist;
    if (j == m->trade_index) {
      atomic_fetch_add(&m->hist.data->refs, 1);
      continue;
    }
    a->hist.data = NULL;
    ms_series *se = NULL;
    ms_error e2;
    char rel[64];
    snprintf(rel, sizeof rel, "market.assets[%d].file", j);
    if (ms_series_read(&se, a->file, &e2)) return ms_check_fail(ck, rel, "%s", e2.msg);
    struct ms_series_share *sh = malloc(sizeof *sh);
    if (!sh) { ms_series_free(se); return ms_error_set(ck->err, MS_ERR_NOMEM, "out of memory"); }
    sh->s = se;
    atomic_init(&sh->refs, 1);
    a->hist.data = sh;
    a->hist.first = ms_series_lower_bound(se, from);
    ms_status bad = check_candles(ck, rel, se, a->hist.first, a->hist.first + a->hist.count, boot);
    if (bad) return bad;
    double price = a->initial_price;
    if (window_moments(m, &a->hist, se->c + a->hist.first, boot, &price))
      return ms_check_fail(ck, rel, "the window's candles of %s do not move: no volatility for "
                           "market.bootstrap.target_vol to rescale", se->name);
  }
  return MS_OK;
}

/* book.markets: what the engine of several markets (sim/engine/multi.c)
 * supports today; the rest is refused, naming the key, rather than run
 * with a meaning it does not have. */
static ms_status check_book_markets(const ms_config *c, ms_check *ck) {
  const ms_markets_cfg *bm = &c->book.markets;
  if (!bm->enabled) return MS_OK;
  const char *k = "book.markets.enabled";
  if (c->market.nassets < 2)
    return ms_check_fail(ck, k, "needs market.assets with two or more assets (has %d)", c->market.nassets);
  if (bm->nweights > 0 && bm->nweights != c->market.nassets)
    return ms_check_fail(ck, "book.markets.weights", "has %d entries; market.assets has %d: one weight per asset, "
                         "in its order", bm->nweights, c->market.nassets);
  const char *model = ms_model_name(c->market.model);
  if (strcmp(model, "regime_switching") != 0 && strcmp(model, "replay") != 0 && strcmp(model, "bootstrap") != 0)
    return ms_check_fail(ck, k, "needs market.model regime_switching, replay or bootstrap (got %s)", model);
  /* Black–Scholes, dynamic and portfolio margin divide by the volatility: a zero-vol asset is refused for every
   * market under those models or with options, as check_top refuses it for the traded one */
  const int opts = c->book.options.fraction > 0;
  for (int j = 0; j < c->market.nassets && !c->market.hist.data; j++) {
    const char *jm = ms_model_name(c->market.assets[j].margin.model);
    if (!opts && (strcmp(jm, "static") == 0 || strcmp(jm, "tiered") == 0)) continue;
    for (int r = 0; r < c->market.nregimes; r++) {
      if (c->market.regimes[r].assets[j].vol > 0) continue;
      char key[64];
      snprintf(key, sizeof key, "market.regimes[%d].assets[%d].vol", r, j);
      return ms_check_fail(ck, key, "must be > 0 %s%s (0 is accepted with static or tiered margin and no options "
                           "only): %s's options and margin are valued with its volatility",
                           opts ? "with book.options.fraction > 0" : "under margin.model ", opts ? "" : jm,
                           c->market.assets[j].name);
    }
  }
  /* the summary's columns (MS_MAX_COLUMNS in sim/output/stats.h: at most 64 besides these) */
  if (c->market.nregimes + 7 * c->market.nassets > 64)
    return ms_check_fail(ck, k, "%d assets and %d regimes make more summary columns than a run holds: at most "
                         "%d assets with %d regimes (7 columns per asset, 1 per regime, 64 in all)",
                         c->market.nassets, c->market.nregimes, (64 - c->market.nregimes) / 7, c->market.nregimes);
  if (c->output.liquidations && c->book.resample == MS_RESAMPLE_PER_PATH)
    return ms_check_fail(ck, "output.liquidations", "needs book.resample per_run with book.markets (a record names "
                         "its position by its row of /book, which holds path 0's book only)");
  return MS_OK;
}

/* book.markets.cross_offset credits a cross account's hedges between markets under portfolio margin: refused
 * where it could do nothing (no cross account, no market under portfolio margin). */
static ms_status check_cross_offset(const ms_config *c, ms_check *ck) {
  const ms_markets_cfg *bm = &c->book.markets;
  if (!(bm->cross_offset > 0)) return MS_OK;
  const char *k = "book.markets.cross_offset";
  if (!bm->enabled)
    return ms_check_fail(ck, k, "needs book.markets.enabled (it credits a cross account's hedges across markets; "
                         "got %g)", bm->cross_offset);
  if (c->book.margin_mode == MS_MARGIN_ISOLATED)
    return ms_check_fail(ck, k, "needs book.margin_mode cross or mixed (it credits a cross account's hedges "
                         "across markets; got %g with isolated margin)", bm->cross_offset);
  for (int j = 0; j < c->market.nassets; j++)
    if (strcmp(ms_model_name(c->market.assets[j].margin.model), "portfolio") == 0) return MS_OK;
  return ms_check_fail(ck, k, "needs portfolio margin in some market (margin.model or market.assets[].margin: it "
                       "offsets portfolio requirements; got %g)", bm->cross_offset);
}

static ms_status check_top(void *obj, ms_check *ck) {
  ms_config *c = obj;
  if (c->market.nassets > 0) { /* oracles as impact (resolve_assets): each asset's own or the top-level one */
    const ms_ynode *mk = ck->node && ck->node->kind == MS_Y_MAP ? ms_ynode_get(ck->node, "market") : NULL;
    const ms_ynode *as = mk && mk->kind == MS_Y_MAP ? ms_ynode_get(mk, "assets") : NULL;
    for (int i = 0; i < c->market.nassets; i++) {
      const ms_ynode *an = as && as->kind == MS_Y_SEQ && (size_t)i < as->n ? as->vals[i] : NULL;
      if (!(an && an->kind == MS_Y_MAP && ms_ynode_get(an, "oracle"))) c->market.assets[i].oracle = c->oracle;
      if (!(an && an->kind == MS_Y_MAP && ms_ynode_get(an, "margin"))) c->market.assets[i].margin = c->margin;
    }
    c->oracle = c->market.assets[c->market.trade_index].oracle;
    c->margin = c->market.assets[c->market.trade_index].margin;
  }
  if (c->horizon % c->step != 0) {
    char st[32];
    ms_units_format_duration(c->step, st, sizeof st);
    return ms_check_fail(ck, "horizon", "must be a whole number of steps (step is %s)", st);
  }
  if (c->horizon / c->step > (int64_t)1 << 40)
    return ms_check_fail(ck, "step", "too many ticks over the horizon");
  /* Black–Scholes values and the dynamic and portfolio requirements divide
   * by the volatility: a zero-vol regime is for perps under static or tiered
   * margin (a scripted shock on a still path). */
  const char *mm = ms_model_name(c->margin.model);
  int hist = c->market.hist.data != NULL;
  int regimes = strcmp(ms_model_name(c->market.model), "regime_switching") == 0;
  for (int i = 0; i < (regimes ? c->market.nregimes : hist ? 1 : 0); i++) {
    if (hist ? c->market.hist.vol > 0 : c->market.regimes[i].vol > 0) continue;
    char key[48], what[80];
    if (hist) {
      snprintf(key, sizeof key, "market.%s", ms_model_name(c->market.model));
      snprintf(what, sizeof what, "the window's realised volatility (0: its candles do not move)");
    } else {
      if (c->market.nassets > 0) /* the traded asset's, as written */
        snprintf(key, sizeof key, "market.regimes[%d].assets[%d].vol", i, c->market.trade_index);
      else
        snprintf(key, sizeof key, "market.regimes[%d].vol", i);
      snprintf(what, sizeof what, "the regime's vol");
    }
    if (c->book.options.fraction > 0)
      return ms_check_fail(ck, key, "must be > 0 when the book holds options (book.options.fraction %g): "
                           "they are valued by Black–Scholes at %s", c->book.options.fraction, what);
    if (strcmp(mm, "static") != 0 && strcmp(mm, "tiered") != 0)
      return ms_check_fail(ck, key, "must be > 0 under margin.model %s (0 is accepted with static or tiered "
                           "margin only): %s", mm, what);
  }
  if (c->oracle.twap % c->step != 0) {
    char st[32];
    ms_units_format_duration(c->step, st, sizeof st);
    return ms_check_fail(ck, "oracle.twap", "must be a whole number of steps (step is %s)", st);
  }
  if (c->oracle.twap / c->step > 10000000)
    return ms_check_fail(ck, "oracle.twap", "window of more than 1e7 ticks");
  if (c->horizon / c->output.timeseries.every > 50000000)
    return ms_check_fail(ck, "output.timeseries.every", "more than 5e7 samples per path; sample less often");
  /* A window that opens at or after the horizon is valid (the same keepers
   * section under a longer horizon) but does nothing here: say so, since a
   * horizon shortened by --set or a sweep hides it otherwise. */
  c->nwarnings = 0;
  for (int i = 0; i < c->keepers.noutages && c->nwarnings < MS_MAX_WARNINGS; i++) {
    if (c->keepers.outages[i].start < c->horizon) continue;
    char key[64], at[32], hz[32];
    snprintf(key, sizeof key, "keepers.outages[%d].start", i);
    ms_units_format_duration(c->keepers.outages[i].start, at, sizeof at);
    ms_units_format_duration(c->horizon, hz, sizeof hz);
    ms_check_warn(ck, key, c->warnings[c->nwarnings++], MS_WARNING_MAX,
                  "starts at %s, at or after the horizon (%s): the outage has no effect", at, hz);
  }
  ms_status bst = check_book_markets(c, ck);
  if (!bst) bst = check_cross_offset(c, ck);
  if (!bst) bst = resolve_asset_histories(c, ck);
  if (bst) return bst;
  const ms_premium_cfg *pm = &c->funding.premium;
  if (pm->nregimes > 0 && !regimes)
    return ms_check_fail(ck, "funding.premium.regimes", "needs market.model regime_switching (its regime switches "
                         "change the mean), not %s", ms_model_name(c->market.model));
  if (pm->nregimes > 0 && pm->nregimes != c->market.nregimes)
    return ms_check_fail(ck, "funding.premium.regimes", "has %d entries; market.regimes has %d: one mean per regime, "
                         "in its order", pm->nregimes, c->market.nregimes);
  if (c->funding.enabled && c->funding.interval > c->horizon && c->nwarnings < MS_MAX_WARNINGS) {
    char iv[32], hz[32];
    ms_units_format_duration(c->funding.interval, iv, sizeof iv);
    ms_units_format_duration(c->horizon, hz, sizeof hz);
    ms_check_warn(ck, "funding.interval", c->warnings[c->nwarnings++], MS_WARNING_MAX,
                  "is %s, longer than the horizon (%s): no funding is paid", iv, hz);
  }
  /* A delay whose least value reaches the horizon: nothing it delays happens
   * within the path, and the run reports a crash as costing nothing (input
   * audit 2026-12-07: oracle.latency 2h over a 1h horizon, a 90% fall, no
   * liquidation, no bad debt, no warning). */
  static const struct { const char *key, *what; size_t off; } delays[] = {
      {"oracle.latency", "the oracle publishes no price within the path, so no account is ever found eligible",
       offsetof(ms_config, oracle.latency)},
      {"keepers.delay", "no keeper acts within the path (its losses stay unbooked: pending_bad_debt)",
       offsetof(ms_config, keepers.delay)}};
  for (size_t i = 0; i < sizeof delays / sizeof delays[0] && c->nwarnings < MS_MAX_WARNINGS; i++) {
    double lo, hi;
    ms_dist_support((const ms_dist *)((const char *)c + delays[i].off), &lo, &hi);
    if (!(lo >= (double)c->horizon)) continue;
    char least[32], hz[32];
    ms_units_format_duration((int64_t)fmin(lo, 9e15), least, sizeof least);
    ms_units_format_duration(c->horizon, hz, sizeof hz);
    ms_check_warn(ck, delays[i].key, c->warnings[c->nwarnings++], MS_WARNING_MAX,
                  "is never less than %s, the horizon (%s) or more: %s", least, hz, delays[i].what);
  }
  /* A shock moves from the first tick at or after `at`: one at the horizon
   * over 0 moves the last tick, the tick at the horizon. */
  for (int i = 0; i < c->market.nshocks && c->nwarnings < MS_MAX_WARNINGS; i++) {
    const ms_shock_cfg *k = &c->market.shocks[i];
    if (k->at < c->horizon || (k->at == c->horizon && k->over == 0)) continue;
    char key[64], at[32], hz[32];
    snprintf(key, sizeof key, "market.shocks[%d].at", i);
    ms_units_format_duration(c->market.shocks[i].at, at, sizeof at);
    ms_units_format_duration(c->horizon, hz, sizeof hz);
    ms_check_warn(ck, key, c->warnings[c->nwarnings++], MS_WARNING_MAX,
                  "starts at %s, at or after the horizon (%s): the shock has no effect", at, hz);
  }
  return MS_OK;
}

static const ms_field top_fields[] = {
    {.name = "name", .kind = MS_F_STRING, .offset = OFF(ms_config, name), .def = "unnamed",
     .str_size = 64, .doc = "label written to the result file"},
    {.name = "seed", .kind = MS_F_U64, .offset = OFF(ms_config, seed), .def = "1",
     .doc = "the run's seed (any 64-bit value); every random stream derives from it"},
    {.name = "paths", .kind = MS_F_INT, .offset = OFF(ms_config, paths), .def = "1000",
     .bounds = MS_B_GE | MS_B_LE, .min = 1, .max = (double)MS_MAX_PATHS, .doc = "Monte Carlo paths"},
    {.name = "horizon", .kind = MS_F_DURATION, .offset = OFF(ms_config, horizon), .def = "1d",
     .bounds = MS_B_GT, .min = 0, .doc = "simulated time per path"},
    {.name = "step", .kind = MS_F_DURATION, .offset = OFF(ms_config, step), .def = "1s",
     .bounds = MS_B_GT, .min = 0, .doc = "exogenous price tick"},
    {.name = "market", .kind = MS_F_SECTION, .offset = OFF(ms_config, market), .sub = &market_schema,
     .doc = "the exogenous price model and market impact"},
    {.name = "book", .kind = MS_F_SECTION, .offset = OFF(ms_config, book), .sub = &book_schema,
     .doc = "the accounts"},
    {.name = "margin", .kind = MS_F_SECTION, .offset = OFF(ms_config, margin), .sub = &margin_schema,
     .doc = "margin rules"},
    {.name = "oracle", .kind = MS_F_SECTION, .offset = OFF(ms_config, oracle), .sub = &oracle_schema,
     .doc = "the price the protocol sees"},
    {.name = "keepers", .kind = MS_F_SECTION, .offset = OFF(ms_config, keepers), .sub = &keeper_schema,
     .doc = "liquidators"},
    {.name = "liquidation", .kind = MS_F_SECTION, .offset = OFF(ms_config, liquidation),
     .sub = &liq_schema, .doc = "fills and the loss waterfall"},
    {.name = "funding", .kind = MS_F_SECTION, .offset = OFF(ms_config, funding), .sub = &funding_schema,
     .doc = "funding payments between longs and shorts"},
    {.name = "stats", .kind = MS_F_SECTION, .offset = OFF(ms_config, stats), .sub = &stats_schema,
     .doc = "cascade statistics"},
    {.name = "output", .kind = MS_F_SECTION, .offset = OFF(ms_config, output), .sub = &output_schema,
     .doc = "result-file options"},
    {.name = "assertions", .kind = MS_F_LIST, .offset = OFF(ms_config, assertions), .def = "[]",
     .sub = &assertion_schema, .count_offset = OFF(ms_config, nassertions), .max_items = MS_MAX_ASSERTIONS,
     .item_size = sizeof(ms_assertion_cfg), .shorthand = "assert",
     .doc = "statements about /stats that `marginsim check` tests"},
    {.name = "sweep", .kind = MS_F_SECTION, .offset = OFF(ms_config, sweep), .sub = &sweep_schema,
     .doc = "the grid of `marginsim sweep`"},
};
static const ms_schema top_schema = {"", top_fields, N(top_fields), check_top, NULL};

/* -------------------------------------------------------------------- API */

/* The sections with a `preset` key: the preset writes every key of its
 * section that neither the file nor --set wrote. */
typedef struct {
  const char *path;                /* "margin.portfolio." */
  const char *sec[2];              /* its keys from the top: {"margin", "portfolio"} ({"funding", NULL}) */
  const pm_preset_def *defs;
  size_t ndefs;
} preset_section;

static const preset_section preset_sections[] = {
    {"margin.portfolio.", {"margin", "portfolio"}, pm_preset_defs, N(pm_preset_defs)},
    {"funding.", {"funding", NULL}, funding_preset_defs, N(funding_preset_defs)},
};

/* Section @p ps's node in the tree, or NULL. */
static const ms_ynode *preset_node(const ms_ynode *root, const preset_section *ps) {
  const ms_ynode *n = root && root->kind == MS_Y_MAP ? root : NULL;
  for (int i = 0; n && i < 2 && ps->sec[i]; i++) {
    n = ms_ynode_get(n, ps->sec[i]);
    if (n && n->kind != MS_Y_MAP) n = NULL;
  }
  return n;
}

/* The preset named in the tree for section @p ps, or NULL if none is
 * written or the name is unknown (the loader then reports it). */
static const pm_preset_def *preset_of(const ms_ynode *root, const preset_section *ps) {
  const ms_ynode *n = preset_node(root, ps);
  n = n ? ms_ynode_get(n, "preset") : NULL;
  if (!n || n->kind != MS_Y_SCALAR) return NULL;
  for (size_t i = 0; i < ps->ndefs; i++)
    if (strcmp(n->text, ps->defs[i].name) == 0) return &ps->defs[i];
  return NULL;
}

/* The value the preset in @p root gives key @p key of section @p ps, or NULL. */
static const char *preset_value(const ms_ynode *root, const preset_section *ps, const char *key) {
  const pm_preset_def *pd = preset_of(root, ps);
  for (int i = 0; pd && i < pd->n; i++)
    if (strcmp(pd->set[i].key, key) == 0) return pd->set[i].yaml;
  return NULL;
}

/* The default of a key, for --set into a list the file leaves at its
 * default: the preset's value when it sets the key. */
static const char *key_default(void *ctx, const char *path) {
  for (size_t j = 0; j < N(preset_sections); j++) {
    size_t k = strlen(preset_sections[j].path);
    if (strncmp(path, preset_sections[j].path, k) == 0) {
      const char *v = preset_value(ctx, &preset_sections[j], path + k);
      if (v) return v;
    }
  }
  const ms_field *f = ms_schema_lookup(&top_schema, path);
  return f ? f->def : NULL;
}

/* Write the preset's value of every key of its section that neither the
 * file nor --set wrote: explicit keys win over the preset. */
static ms_status apply_preset(ms_ynode *root, const preset_section *ps, ms_error *err) {
  const pm_preset_def *pd = preset_of(root, ps);
  if (!pd) return MS_OK;
  const ms_ynode *pn = preset_node(root, ps);
  char label[80];
  snprintf(label, sizeof label, "%spreset %s", ps->path, pd->name);
  for (int i = 0; i < pd->n; i++) {
    const char *key = pd->set[i].key, *dot = strchr(key, '.');
    const ms_ynode *at = pn;
    if (dot) { /* one level down: span.scan_range */
      char sec[64];
      snprintf(sec, sizeof sec, "%.*s", (int)(dot - key), key);
      at = ms_ynode_get(pn, sec);
      if (at && at->kind != MS_Y_MAP) continue; /* the loader reports it */
      key = dot + 1;
    }
    if (at && ms_ynode_get(at, key)) continue;
    char path[160];
    snprintf(path, sizeof path, "%s%s", ps->path, pd->set[i].key);
    ms_ynode *vn = NULL;
    ms_status s = ms_ytree_parse_at(&vn, pd->set[i].yaml, strlen(pd->set[i].yaml), label, path, err);
    if (s) return s;
    ms_ynode_unplace(vn);
    if ((s = ms_ytree_set(root, path, vn, label, NULL, NULL, err))) return s;
  }
  return MS_OK;
}

static ms_status apply_set(ms_ynode *root, const char *set, ms_error *err) {
  const char *eq = strchr(set, '=');
  char label[600];
  snprintf(label, sizeof label, "--set %s", set);
  if (!eq || eq == set)
    return ms_error_set(err, MS_ERR_INPUT, "%s: expected KEY=VALUE, e.g. --set margin.maintenance=0.03",
                        label);
  char key[512];
  size_t kl = (size_t)(eq - set);
  if (kl >= sizeof key) return ms_error_set(err, MS_ERR_INPUT, "%s: key too long", label);
  memcpy(key, set, kl);
  key[kl] = '\0';
  const char *val = eq + 1;
  if (!*val) return ms_error_set(err, MS_ERR_INPUT, "%s: empty value", label);
  ms_ynode *vn = NULL;
  ms_status s = ms_ytree_parse_at(&vn, val, strlen(val), label, key, err);
  if (s) return s;
  ms_ynode_unplace(vn);
  return ms_ytree_set(root, key, vn, label, key_default, root, err);
}

/* Read the scenario file. Only a regular file of at most MS_SCENARIO_MAX_BYTES:
 * a device (/dev/zero), FIFO or directory could be read without end or block
 * for ever. The file is opened non-blocking so that opening a FIFO cannot wait
 * for a writer, and read to at most one byte past the limit in case it grows. */
static ms_status read_file(const char *path, char **text, size_t *len, ms_error *err) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return ms_error_set(err, MS_ERR_INPUT, "%s: cannot open the scenario file: %s", path,
                        strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return ms_error_set(err, MS_ERR_INPUT, "%s: cannot read the scenario file: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    const char *what = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    close(fd);
    return ms_error_set(err, MS_ERR_INPUT, "%s: the scenario must be a regular file (this is %s)",
                        path, what);
  }
  if (st.st_size > MS_SCENARIO_MAX_BYTES) {
    close(fd);
    return ms_error_set(err, MS_ERR_INPUT, "%s: the scenario file has %lld bytes; at most %d",
                        path, (long long)st.st_size, MS_SCENARIO_MAX_BYTES);
  }
  size_t cap = (size_t)st.st_size + 2, n = 0;
  char *buf = malloc(cap);
  if (!buf) { close(fd); return ms_error_set(err, MS_ERR_NOMEM, "%s: out of memory", path); }
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      free(buf);
      close(fd);
      return ms_error_set(err, MS_ERR_INPUT, "%s: cannot read the scenario file: %s", path,
                          strerror(e));
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > MS_SCENARIO_MAX_BYTES) {
      free(buf);
      close(fd);
      return ms_error_set(err, MS_ERR_INPUT, "%s: the scenario file has more than %d bytes", path,
                          MS_SCENARIO_MAX_BYTES);
    }
    if (n + 1 >= cap) { /* grew since fstat: up to the limit plus one byte */
      size_t nc = (size_t)MS_SCENARIO_MAX_BYTES + 2;
      if (cap >= nc) break;
      char *nb = realloc(buf, nc);
      if (!nb) { free(buf); close(fd); return ms_error_set(err, MS_ERR_NOMEM, "%s: out of memory", path); }
      buf = nb;
      cap = nc;
    }
  }
  close(fd);
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return MS_OK;
}

/* Fill cfg->book_where: the place of book.leverage, else of book, else the
 * file, and the key it names. */
static void book_where(ms_config *cfg, const ms_ynode *root) {
  const ms_ynode *bk = ms_ynode_get_key(root, "book");
  const ms_ynode *bv = ms_ynode_get(root, "book");
  const ms_ynode *lk = bv && bv->kind == MS_Y_MAP ? ms_ynode_get_key(bv, "leverage") : NULL;
  char w[1100];
  if (lk || bk) ms_ynode_where(lk ? lk : bk, w, sizeof w);
  else snprintf(w, sizeof w, "%s", cfg->source_path);
  snprintf(cfg->book_where, sizeof cfg->book_where, "%s: %s", w, lk ? "book.leverage" : "book");
}

/* Fill cfg->sweep.at: where the file wrote sweep.grid's entries, baseline and show. */
static void sweep_where(ms_config *cfg, const ms_ynode *root) {
  memset(cfg->sweep.at, 0, sizeof cfg->sweep.at);
  const ms_ynode *sw = root && root->kind == MS_Y_MAP ? ms_ynode_get(root, "sweep") : NULL;
  if (!sw || sw->kind != MS_Y_MAP) return;
  const ms_ynode *g = ms_ynode_get(sw, "grid"), *b = ms_ynode_get(sw, "baseline"), *sh = ms_ynode_get(sw, "show");
  const ms_ynode *at[MS_MAX_GRID + 2] = {0};
  for (size_t i = 0; g && g->kind == MS_Y_SEQ && i < g->n && i < MS_MAX_GRID; i++) at[i] = g->vals[i];
  at[MS_MAX_GRID] = b;
  at[MS_MAX_GRID + 1] = sh;
  for (size_t i = 0; sh && sh->kind == MS_Y_SEQ && i < sh->n; i++) /* an entry replaced by --set: not the file's */
    if (!sh->vals[i]->src || strcmp(sh->vals[i]->src, cfg->source_path) != 0) at[MS_MAX_GRID + 1] = NULL;
  for (int i = 0; i < MS_MAX_GRID + 2; i++) {
    if (!at[i] || !at[i]->src || strcmp(at[i]->src, cfg->source_path) != 0) continue; /* a --set's, not the file's */
    cfg->sweep.at[i][0] = at[i]->line;
    cfg->sweep.at[i][1] = at[i]->col;
  }
}

static ms_status load_text(ms_config **out, char *text, size_t len, const char *src,
                           const char *const *sets, int nsets, ms_error *err) {
  *out = NULL;
  ms_ynode *root = NULL;
  ms_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg) { free(text); return ms_error_set(err, MS_ERR_NOMEM, "out of memory"); }
  cfg->source_text = text;
  snprintf(cfg->source_path, sizeof cfg->source_path, "%s", src);
  ms_status s = ms_ytree_parse(&root, text, len, src, err);
  /* A top level that is not a mapping is the file's error, not the first --set's (-n 4 is --set paths=4:
   * "(root) is not a mapping" blamed it): the schema says so with the keys it expects. */
  if (!s && root && root->kind != MS_Y_MAP) s = ms_schema_load(&top_schema, cfg, root, "", src, cfg, err);
  /* The preset first, so that --set into a list the preset sets starts from the preset's list. */
  for (size_t j = 0; j < N(preset_sections); j++) {
    char pre[64];
    snprintf(pre, sizeof pre, "%spreset=", preset_sections[j].path);
    for (int i = 0; !s && i < nsets; i++)
      if (strncmp(sets[i], pre, strlen(pre)) == 0) s = apply_set(root, sets[i], err);
  }
  for (int i = 0; !s && i < nsets; i++) s = apply_set(root, sets[i], err);
  for (size_t j = 0; !s && j < N(preset_sections); j++) s = apply_preset(root, &preset_sections[j], err);
  if (!s) s = ms_schema_load(&top_schema, cfg, root, "", src, cfg, err);
  if (!s) book_where(cfg, root);
  if (!s) sweep_where(cfg, root);
  ms_ynode_free(root);
  if (s) { ms_config_free(cfg); return s; }
  *out = cfg;
  return MS_OK;
}

/* The public loaders' arguments: a NULL one is bad input with a message,
 * not a crash (they are the library's door). Clears *@p out. */
static ms_status check_args(const char *fn, ms_config **out, const char *in, const char *in_name,
                            const char *const *sets, int nsets, ms_error *err) {
  if (out) *out = NULL;
  if (!out) return ms_error_set(err, MS_ERR_INPUT, "%s: out is NULL", fn);
  if (!in) return ms_error_set(err, MS_ERR_INPUT, "%s: %s is NULL", fn, in_name);
  if (nsets < 0 || (nsets > 0 && !sets))
    return ms_error_set(err, MS_ERR_INPUT, "%s: %d overrides but sets is %s", fn, nsets, sets ? "set" : "NULL");
  for (int i = 0; i < nsets; i++)
    if (!sets[i]) return ms_error_set(err, MS_ERR_INPUT, "%s: override %d (sets[%d]) is NULL", fn, i, i);
  return MS_OK;
}

ms_status ms_config_load(ms_config **out, const char *path, const char *const *sets, int nsets,
                         ms_error *err) {
  char *text = NULL;
  size_t len = 0;
  ms_status s = check_args("ms_config_load", out, path, "path", sets, nsets, err);
  if (s) return s;
  ms_gsl_quiet(); /* the stationary distribution is an LU solve: errors by status, never abort */
  s = read_file(path, &text, &len, err);
  if (s) return s;
  return load_text(out, text, len, path, sets, nsets, err);
}

ms_status ms_config_load_string(ms_config **out, const char *text, const char *src,
                                const char *const *sets, int nsets, ms_error *err) {
  ms_status s = check_args("ms_config_load_string", out, text, "text", sets, nsets, err);
  if (s) return s;
  if (!src) src = "<string>";
  ms_gsl_quiet(); /* the stationary distribution is an LU solve: errors by status, never abort */
  size_t len = strlen(text);
  char *copy = malloc(len + 1);
  if (!copy) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  memcpy(copy, text, len + 1);
  return load_text(out, copy, len, src, sets, nsets, err);
}

void ms_config_free(ms_config *cfg) {
  if (!cfg) return;
  share_release(cfg->market.hist.data);
  for (int j = 0; j < cfg->market.nassets; j++) share_release(cfg->market.assets[j].hist.data);
  free(cfg->source_text);
  free(cfg);
}

char *ms_config_to_yaml(const ms_config *cfg) {
  if (!cfg) return NULL;
  ms_strbuf sb = {0};
  ms_schema_emit(&top_schema, cfg, &sb, 0);
  if (sb.oom) { ms_sb_free(&sb); return NULL; }
  return sb.p;
}

char *ms_config_schema_markdown(void) {
  ms_strbuf sb = {0};
  ms_schema_doc(&top_schema, "", &sb);
  if (sb.oom) { ms_sb_free(&sb); return NULL; }
  return sb.p;
}

int ms_config_regime_index(const ms_config *cfg, const char *name) {
  for (int i = 0; i < cfg->market.nregimes; i++)
    if (strcmp(cfg->market.regimes[i].name, name) == 0) return i;
  return -1;
}

/* NULL (a failed load's handle) reads as nothing, as the result's accessors do. */
const char *ms_config_name(const ms_config *cfg) { return cfg ? cfg->name : NULL; }

int64_t ms_config_paths(const ms_config *cfg) { return cfg ? cfg->paths : 0; }

uint64_t ms_config_seed(const ms_config *cfg) { return cfg ? cfg->seed : 0; }
