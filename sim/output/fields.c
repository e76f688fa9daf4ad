/*
 * fields — the result file's field tables (see fields.h).
 *
 * The order of each table is the order of the members in the file; the
 * meanings of the tables with no per-field attribute in the file are the
 * documentation's (docs/output.md is generated from them).
 */
#include "output/fields.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

size_t ms_field_size(const ms_field *f) {
  switch (f->type) {
  case MS_FIELD_F64: return sizeof(double);
  case MS_FIELD_I64: return sizeof(int64_t);
  case MS_FIELD_U64: return sizeof(uint64_t);
  case MS_FIELD_I32: return sizeof(int32_t);
  case MS_FIELD_STR: return f->size;
  }
  return 0;
}

const ms_field *ms_record_find(const ms_record *rec, const char *name) {
  for (int i = 0; i < rec->nfields; i++)
    if (strcmp(rec->fields[i].name, name) == 0) return &rec->fields[i];
  return NULL;
}

double ms_field_value(const ms_field *f, const void *base) {
  const char *p = (const char *)base + f->offset;
  switch (f->type) {
  case MS_FIELD_F64: { double v; memcpy(&v, p, sizeof v); return v; }
  case MS_FIELD_I64: { int64_t v; memcpy(&v, p, sizeof v); return (double)v; }
  case MS_FIELD_U64: { uint64_t v; memcpy(&v, p, sizeof v); return (double)v; }
  case MS_FIELD_I32: { int32_t v; memcpy(&v, p, sizeof v); return (double)v; }
  case MS_FIELD_STR: return NAN;
  }
  return NAN;
}

const char *ms_field_type_name(ms_field_type t) {
  switch (t) {
  case MS_FIELD_F64: return "float64";
  case MS_FIELD_I64: return "int64";
  case MS_FIELD_U64: return "uint64";
  case MS_FIELD_I32: return "int32";
  case MS_FIELD_STR: return "string";
  }
  return "?";
}

#define N(t) ((int)(sizeof t / sizeof t[0]))
#define F64(rec, m, unit, doc) {#m, MS_FIELD_F64, offsetof(rec, m), 0, unit, doc}
#define I64(rec, m, unit, doc) {#m, MS_FIELD_I64, offsetof(rec, m), 0, unit, doc}
#define U64(rec, m, unit, doc) {#m, MS_FIELD_U64, offsetof(rec, m), 0, unit, doc}
#define I32(rec, m, unit, doc) {#m, MS_FIELD_I32, offsetof(rec, m), 0, unit, doc}
#define STR(rec, m, doc) {#m, MS_FIELD_STR, offsetof(rec, m), sizeof(((rec *)0)->m), "", doc}

/* ---- /liquidations ---- */
#define L(T, m, unit, doc) T(ms_liq_record, m, unit, doc)
/* The fields in file order, @p WHO the fourth (whom the record liquidated). */
#define LIQ_FIELDS(WHO)                                                                                            \
  L(U64, path, "", "path index"),                                                                                  \
  L(I64, time, "ms", "time of the fill"),                                                                          \
  L(I64, obs_time, "ms", "when the oracle price it used was observed"),                                            \
  WHO,                                                                                                             \
  L(I32, side, "", "+1 long, -1 short, 0 an account holding live legs"),                                             \
  L(I32, impact_triggered, "flag", "1: the exogenous-only oracle price would not have made it eligible (engine.md)"), \
  L(I32, full, "flag", "1: the whole position closed"),                                                            \
  L(I32, generation, "", "0 if not impact-triggered, else 1 + the generation that moved the price (engine.md)"),   \
  L(I64, cascade, "", "index of its cascade within the path"),                                                     \
  L(F64, oracle_price, "USD", "the oracle price it was liquidated at"),                                            \
  L(F64, exog_oracle_price, "USD", "the same oracle observation without impact"),                                  \
  L(F64, mark_price, "USD", "the fill price"),                                                                     \
  L(F64, qty, "units", "closed, market and ADL parts together (options: perp and legs' underlying units)"),        \
  L(F64, notional, "USD", "qty x mark"),                                                                           \
  L(F64, bad_debt, "USD", "shortfall of collateral + PnL at the fill"),                                            \
  L(F64, penalty, "USD", "liquidation penalty taken"),                                                             \
  L(F64, adl_qty, "units", "closed against ADL counterparties at the bankruptcy price"),                           \
  L(F64, delay, "s", "from discovery to the fill")
static const ms_field liq_fields[] = {LIQ_FIELDS(L(I64, account, "", "account number"))};
/* A book of several markets: the record's account member holds the position, a row of /book (which names its
 * account, unit and market); the same bytes, another name. */
#define LIQ_POSITION                                                                                               \
  {"position", MS_FIELD_I64, offsetof(ms_liq_record, account), 0, "",                                              \
   "row of /book: the position closed (its account, unit and market there); prices, quantities and notional are "  \
   "its market's"}
static const ms_field liq_fields_markets[] = {LIQ_FIELDS(LIQ_POSITION)};
#undef LIQ_POSITION
#undef LIQ_FIELDS
#undef L
const ms_record ms_record_liquidation = {"/liquidations", liq_fields, N(liq_fields), sizeof(ms_liq_record)};
const ms_record ms_record_liquidation_markets = {"/liquidations", liq_fields_markets, N(liq_fields_markets),
                                                 sizeof(ms_liq_record)};

const ms_record *ms_record_liquidation_of(const ms_config *cfg) {
  return cfg && cfg->book.markets.enabled ? &ms_record_liquidation_markets : &ms_record_liquidation;
}

/* ---- /cascades ---- */
#define C(T, m, unit, doc) T(ms_cascade_record, m, unit, doc)
static const ms_field cascade_fields[] = {
    C(U64, path, "", "path index"),
    C(I64, index, "", "the cascade's index within the path"),
    C(F64, start, "s", "time of its first liquidation"),
    C(F64, end, "s", "time of its last liquidation"),
    C(I64, liquidations, "count", "liquidations in it"),
    C(I64, impact_triggered, "count", "impact-triggered liquidations in it"),
    C(F64, notional, "USD", "liquidated notional"),
    C(F64, bad_debt, "USD", "bad debt at its fills"),
    C(I64, depth, "count", "largest generation of impact-triggered liquidations"),
};
#undef C
const ms_record ms_record_cascade = {"/cascades", cascade_fields, N(cascade_fields), sizeof(ms_cascade_record)};

/* ---- /book ---- */
#define B(T, m, unit, doc) T(ms_book_row, m, unit, doc)
static const ms_field book_fields[] = {
    B(I64, account, "", "account number"),
    B(I64, side, "", "perp: +1 long, -1 short, 0 none"),
    B(I64, strategy, "", "-1 perp only, else the option strategy (names in the `strategies` attribute: 0 naked short "
                         "call, 1 naked short put, 2 short strangle, 3 covered call, 4 protective put, 5 long straddle)"),
    B(F64, collateral, "USD", "deposit (before premiums)"),
    B(F64, quantity, "units", "signed perp quantity"),
    B(F64, leverage, "", "perp entry notional / collateral"),
    B(F64, notional, "USD", "gross, at the entry price: the perp plus the underlying of short options"),
    B(F64, initial_margin, "USD", "required at entry under the run's margin model"),
    B(F64, maintenance_margin, "USD", "required at entry under the run's margin model"),
    B(F64, liquidation_price, "USD", "oracle price at which a perp-only account becomes eligible (0 for a long / inf "
                                     "for a short that never does; NaN with options, whose threshold also moves with "
                                     "time and volatility)"),
    B(F64, call_strike, "USD", "strike of the call leg"),
    B(F64, call_qty, "units", "signed units of the call leg (0: none)"),
    B(F64, put_strike, "USD", "strike of the put leg"),
    B(F64, put_qty, "units", "signed units of the put leg (0: none)"),
    B(F64, expiry, "s", "of the option legs (NaN: none)"),
    B(F64, premium, "USD", "premiums received (> 0) or paid (< 0) at entry, at the volatility the path starts with: "
      "the start regime's (start_regime stationary: the long-run one; replay, bootstrap: the window's; GARCH "
      "without regimes: its unconditional one)"),
};
#undef B
const ms_record ms_record_book = {"/book", book_fields, N(book_fields), sizeof(ms_book_row)};

/* ---- /book of a book of several markets ---- */
#define M(T, m, unit, doc) T(ms_multi_book_row, m, unit, doc)
static const ms_field multi_book_fields[] = {
    M(I64, account, "", "account number"),
    M(I64, unit, "", "its margin unit: a cross account (all its positions), or one isolated position"),
    M(I64, unit_positions, "count", "positions the unit's collateral backs (1: isolated, or an account of one market)"),
    M(I64, market, "", "index into market.assets (the attribute `assets` names them)"),
    M(I64, side, "", "perp: +1 long, -1 short, 0 none"),
    M(I64, strategy, "", "-1 perp only, else the option strategy (names in the `strategies` attribute, as /book's)"),
    M(F64, collateral, "USD", "the unit's deposit (before premiums): the same on every row of a cross account"),
    M(F64, entry_price, "USD", "the market's initial price, at which the position was entered"),
    M(F64, quantity, "units", "signed perp quantity"),
    M(F64, notional, "USD", "gross, at the entry price: the perp plus the underlying of short options"),
    M(F64, initial_margin, "USD", "the position's, under its market's margin rules, at entry (options at the "
                                  "entry volatility, as the book's draw checks them)"),
    M(F64, maintenance_margin, "USD", "the position's, under its market's margin rules, at entry (a cross "
                                      "account's requirement is the sum over its rows, less "
                                      "book.markets.cross_offset's credit)"),
    M(F64, call_strike, "USD", "strike of the call leg"),
    M(F64, call_qty, "units", "signed units of the call leg (0: none)"),
    M(F64, put_strike, "USD", "strike of the put leg"),
    M(F64, put_qty, "units", "signed units of the put leg (0: none)"),
    M(F64, expiry, "s", "of the option legs (NaN: none)"),
    M(F64, premium, "USD", "the position's premiums received (> 0) or paid (< 0) at entry"),
};
#undef M
const ms_record ms_record_multi_book = {"/book", multi_book_fields, N(multi_book_fields), sizeof(ms_multi_book_row)};

/* ---- /stats/summary, /stats/probabilities, /stats/feedback ---- */
#define S(T, m, doc) T(ms_stat_rec, m, "", doc)
#define Q(j, nm)                                                                                        \
  {nm, MS_FIELD_F64, offsetof(ms_stat_rec, q) + (j) * 3 * sizeof(double), 0, "", "quantile"},            \
  {nm "_lo", MS_FIELD_F64, offsetof(ms_stat_rec, q) + ((j) * 3 + 1) * sizeof(double), 0, "", "its 95% interval"}, \
  {nm "_hi", MS_FIELD_F64, offsetof(ms_stat_rec, q) + ((j) * 3 + 2) * sizeof(double), 0, "", "its 95% interval"}
/* The quantiles in the order of ms_stats_quantile_names (tested). */
static const ms_field stat_fields[] = {
    STR(ms_stat_rec, name, "the summary column"),
    S(I64, n, "number of finite values"),
    S(F64, mean, "mean"), S(F64, mean_lo, "its bootstrap-t 95% interval"), S(F64, mean_hi, "its bootstrap-t 95% interval"),
    S(F64, sd, "sample standard deviation"), S(F64, min, "smallest value"), S(F64, max, "largest value"),
    Q(0, "q50"), Q(1, "q90"), Q(2, "q99"), Q(3, "q999"), Q(4, "q01"), Q(5, "q001"),
    S(F64, es99, "mean of the largest 1%"), S(F64, es99_lo, "its 95% interval"), S(F64, es99_hi, "its 95% interval"),
    S(F64, es01, "mean of the smallest 1%"), S(F64, es01_lo, "its 95% interval"), S(F64, es01_hi, "its 95% interval"),
    STR(ms_stat_rec, risky_side, "high or low: the tail a risk reader reads"),
};
#undef Q
#undef S
const ms_record ms_record_stat = {"/stats/summary", stat_fields, N(stat_fields), sizeof(ms_stat_rec)};

static const ms_field prob_fields[] = {
    STR(ms_prob_rec, name, "the event"),
    STR(ms_prob_rec, definition, "its definition"),
    I64(ms_prob_rec, k, "count", "paths where it happened"),
    I64(ms_prob_rec, n, "count", "paths"),
    F64(ms_prob_rec, p, "", "k / n"),
    F64(ms_prob_rec, lo, "", "Wilson 95% interval"),
    F64(ms_prob_rec, hi, "", "Wilson 95% interval"),
};
const ms_record ms_record_prob = {"/stats/probabilities", prob_fields, N(prob_fields), sizeof(ms_prob_rec)};

static const ms_field feedback_fields[] = {
    STR(ms_feedback_rec, statistic, "liquidations, liquidated_notional or bad_debt"),
    I64(ms_feedback_rec, n, "count", "paths"),
    F64(ms_feedback_rec, with_impact, "", "mean of the run"),
    F64(ms_feedback_rec, no_impact, "", "mean of its no-feedback twin"),
    F64(ms_feedback_rec, diff, "", "mean of the per-path differences run - twin"),
    F64(ms_feedback_rec, lo, "", "its 95% interval (paired on the same paths)"),
    F64(ms_feedback_rec, hi, "", "its 95% interval (paired on the same paths)"),
};
const ms_record ms_record_feedback = {"/stats/feedback", feedback_fields, N(feedback_fields),
                                      sizeof(ms_feedback_rec)};

/* ---- paired differences: one record, two published lists of its fields ----
 * model_mean (--compare) and cell_mean (sweeps) are the same member under
 * each table's name. */
static const ms_field diff_fields[] = {
    STR(ms_diff_rec, statistic, "the summary column or event"),
    STR(ms_diff_rec, model, "the value compared"),
    STR(ms_diff_rec, baseline, "the first value"),
    I64(ms_diff_rec, n, "count", "paths with both values finite"),
    I64(ms_diff_rec, probability, "flag", "1: a 0/1 indicator"),
    F64(ms_diff_rec, baseline_mean, "", "mean of the baseline"),
    {"model_mean", MS_FIELD_F64, offsetof(ms_diff_rec, other_mean), 0, "", "mean of the model"},
    {"cell_mean", MS_FIELD_F64, offsetof(ms_diff_rec, other_mean), 0, "", "mean of the cell"},
    F64(ms_diff_rec, diff, "", "mean over paths of (other - baseline) on the same path"),
    F64(ms_diff_rec, lo, "", "its bootstrap-t 95% interval"),
    F64(ms_diff_rec, hi, "", "its bootstrap-t 95% interval"),
    F64(ms_diff_rec, unpaired_lo, "", "the normal interval two independent runs would give"),
    F64(ms_diff_rec, unpaired_hi, "", "the normal interval two independent runs would give"),
};
const ms_record ms_record_diff = {"differences", diff_fields, N(diff_fields), sizeof(ms_diff_rec)};
const char *const ms_compare_diff_fields[] = {"statistic", "model", "baseline", "n", "probability",
                                              "baseline_mean", "model_mean", "diff", "lo", "hi", NULL};
const char *const ms_sweep_diff_fields[] = {"statistic", "probability", "n", "baseline_mean", "cell_mean", "diff",
                                            "lo", "hi", "unpaired_lo", "unpaired_hi", NULL};

/* ---- /compare/models ---- */
#define E(m, unit, doc) F64(ms_eff_rec, m, unit, doc)
static const ms_field eff_fields[] = {
    STR(ms_eff_rec, model, "the value"),
    E(initial_margin, "USD", "the book's initial margin at the start, summed over accounts"),
    E(risk, "USD", "sum over accounts of the worse loss for a one-day 99% move up or down at the long-run volatility "
                   "([engine.md](engine.md#requirements)); the same for every value of a margin key"),
    E(im_per_risk, "", "`initial_margin` / `risk`: below 1 the model asks less than a one-day 99% loss"),
    E(bad_debt_mean, "USD", "mean `bad_debt` per path"),
    E(insolvency_p, "", "P(insolvent)"),
    E(insolvency_lo, "", "its Wilson 95% interval"),
    E(insolvency_hi, "", "its Wilson 95% interval"),
    E(liquidations_mean, "count", "mean liquidations per path"),
    E(largest_cascade_notional_mean, "USD", "mean `largest_cascade_notional` per path"),
};
#undef E
const ms_record ms_record_eff = {"/compare/models", eff_fields, N(eff_fields), sizeof(ms_eff_rec)};

/* ---- /assertions, /sweep/cells ---- */
static const ms_field assert_fields[] = {
    STR(ms_assert_rec, assertion, "the text as written (`insolvency.probability < 0.01`)"),
    STR(ms_assert_rec, statistic, "its statistic"),
    STR(ms_assert_rec, op, "its comparison"),
    F64(ms_assert_rec, threshold, "", "its threshold"),
    F64(ms_assert_rec, confidence, "", "0: the estimate decides; else the level of the interval that decides"),
    F64(ms_assert_rec, value, "", "the statistic"),
    F64(ms_assert_rec, lo, "", "its interval at `confidence` (95% when 0)"),
    F64(ms_assert_rec, hi, "", "its interval at `confidence` (95% when 0)"),
    I64(ms_assert_rec, passed, "flag", "1 when it holds"),
    STR(ms_assert_rec, where, "`file:line:col` of the assertion in the scenario"),
};
const ms_record ms_record_assertion = {"/assertions", assert_fields, N(assert_fields), sizeof(ms_assert_rec)};

static const ms_field cell_fields[] = {
    I64(ms_cell_rec, cell, "", "the cell's index"),
    STR(ms_cell_rec, label, "\"KEY=V KEY2=V2\""),
};
const ms_record ms_record_cell = {"/sweep/cells", cell_fields, N(cell_fields), sizeof(ms_cell_rec)};

/* ---- /timeseries: one (paths, samples) dataset per member of ms_trace ----
 * The offset is that of the member's pointer; the type that of its
 * elements. Meanings as in the datasets' "meaning" attributes. */
static const ms_field trace_fields[] = {
    {"price", MS_FIELD_F64, offsetof(ms_trace, price), 0, "USD",
     "exogenous price, rows = paths 0.., columns = /timeseries/time"},
    {"regime", MS_FIELD_I32, offsetof(ms_trace, regime), 0, "",
     "regime index into the comma-separated 'names' attribute"},
    {"mark", MS_FIELD_F64, offsetof(ms_trace, mark), 0, "USD", "mark price = exogenous x exp(impact)"},
    {"oracle", MS_FIELD_F64, offsetof(ms_trace, oracle), 0, "USD", "the oracle's current published price"},
    {"open_interest", MS_FIELD_F64, offsetof(ms_trace, open_interest), 0, "USD",
     "open units of longs and shorts x mark"},
    {"insurance_fund", MS_FIELD_F64, offsetof(ms_trace, insurance), 0, "USD", "insurance fund balance"},
    {"liquidations", MS_FIELD_I32, offsetof(ms_trace, liquidations), 0, "", "liquidations since the previous sample"},
    {"margin_ratio", MS_FIELD_F64, offsetof(ms_trace, margin_ratio), 0, "",
     "maintenance margin ratio of perps (dynamic margin moves it)"},
    {"funding_rate", MS_FIELD_F64, offsetof(ms_trace, funding_rate), 0, "fraction",
     "rate of the latest funding payment at or before the sample, > 0: longs paid (NaN: none yet); only with "
     "funding.enabled"},
};
_Static_assert(N(trace_fields) == MS_TRACE_NFIELDS, "MS_TRACE_NFIELDS");
const ms_record ms_record_trace = {"/timeseries", trace_fields, N(trace_fields), sizeof(ms_trace)};

/* ---- /timeseries/fan: the same, for ms_fan_sample ---- */
static const ms_field fan_fields[] = {
    {"price", MS_FIELD_F64, offsetof(ms_fan_sample, price), 0, "USD",
     "exogenous price, rows = paths 0.., columns = /timeseries/fan/time"},
    {"mark", MS_FIELD_F64, offsetof(ms_fan_sample, mark), 0, "USD", "mark price = exogenous x exp(impact)"},
    {"regime", MS_FIELD_I32, offsetof(ms_fan_sample, regime), 0, "",
     "regime index into the comma-separated 'names' attribute"},
};
_Static_assert(N(fan_fields) == MS_FAN_NFIELDS, "MS_FAN_NFIELDS");
const ms_record ms_record_fan = {"/timeseries/fan", fan_fields, N(fan_fields), sizeof(ms_fan_sample)};

void ms_fields_of_columns(const ms_column *cols, int n, ms_field *out) {
  for (int i = 0; i < n; i++) {
    ms_field_type t = cols[i].type == MS_COL_I64 ? MS_FIELD_I64 : cols[i].type == MS_COL_U64 ? MS_FIELD_U64
                                                                                              : MS_FIELD_F64;
    out[i] = (ms_field){cols[i].name, t, cols[i].offset, 0, cols[i].unit, cols[i].doc};
  }
}

/* ---- docs/output.md ---- */

typedef struct {
  char *s;
  size_t n, cap;
  int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (k < 0) { b->oom = 1; return; }
  if (b->n + (size_t)k + 1 > b->cap) {
    size_t cap = 2 * b->cap + (size_t)k + 1024;
    char *s = realloc(b->s, cap);
    if (!s) { b->oom = 1; return; }
    b->s = s;
    b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  b->n += (size_t)k;
}

/* One table: field | type | unit | meaning. */
static void table(sbuf *b, const char *first, const ms_field *f, int n) {
  put(b, "| %s | type | unit | meaning |\n|---|---|---|---|\n", first);
  for (int i = 0; i < n; i++)
    put(b, "| `%s` | %s | %s | %s |\n", f[i].name, ms_field_type_name(f[i].type), f[i].unit, f[i].doc);
}

const char *const ms_fields_tables[] = {"summary", "liquidations", "cascades", "book", "book-markets", "timeseries", "fan",
                                        "feedback", "compare-models", "assertions", NULL};

char *ms_fields_markdown(const char *name) {
  static const struct {
    const char *name, *first;
    const ms_record *rec;
  } recs[] = {
      {"liquidations", "field", &ms_record_liquidation}, {"cascades", "field", &ms_record_cascade},
      {"book", "column", &ms_record_book},               {"book-markets", "column", &ms_record_multi_book},
      {"timeseries", "dataset", &ms_record_trace},
      {"fan", "dataset", &ms_record_fan},
      {"feedback", "field", &ms_record_feedback},        {"compare-models", "field", &ms_record_eff},
      {"assertions", "field", &ms_record_assertion},
  };
  sbuf b = {0};
  if (strcmp(name, "summary") == 0) {
    ms_column cols[MS_MAX_COLUMNS];
    ms_field f[MS_MAX_COLUMNS];
    int n = ms_stats_columns_all(cols, MS_MAX_COLUMNS);
    ms_fields_of_columns(cols, n, f);
    table(&b, "column", f, n);
  } else {
    size_t i = 0;
    while (i < sizeof recs / sizeof recs[0] && strcmp(recs[i].name, name) != 0) i++;
    if (i == sizeof recs / sizeof recs[0]) return NULL;
    table(&b, recs[i].first, recs[i].rec->fields, recs[i].rec->nfields);
  }
  if (b.oom) { free(b.s); return NULL; }
  return b.s;
}
