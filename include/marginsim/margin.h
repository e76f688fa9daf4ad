/*
 * margin — margin rules behind one interface.
 *
 * For a perpetual position of signed quantity q (long > 0) entered at E with
 * collateral C, at oracle price P: equity = C + q (P - E), notional N = |q| P.
 * The account is eligible for liquidation when equity < maintenance(N).
 *
 * Models are const type tables (ms_margin_static, ms_margin_tiered); an
 * instance is made per thread because later models (dynamic margin) carry
 * per-path state.
 *
 * The account index (engine) orders accounts by a key so that those
 * eligible at price P are the ones with key < boundary(P) (a superset when
 * the model only bounds its thresholds): see ms_margin_key().
 */
#ifndef MARGINSIM_MARGIN_H
#define MARGINSIM_MARGIN_H

#include "marginsim/error.h"
#include "marginsim/scenario.h"

typedef struct ms_margin ms_margin;

/** How index keys relate to thresholds. */
typedef enum {
  /* key = per-unit collateral (C/|q| + shift): exact, and unchanged by a
   * uniform change of the maintenance ratio. */
  MS_KEY_COLLATERAL,
  /* key = threshold price (negated for longs) shifted by kappa x the
   * per-unit socialized loss: exact until a shift, a bound after it. */
  MS_KEY_THRESHOLD
} ms_key_mode;

typedef struct ms_margin_type {
  const char *name;
  ms_key_mode key_mode;
  double (*mm)(const ms_margin *m, double notional);
  double (*im)(const ms_margin *m, double notional);
  double (*threshold)(const ms_margin *m, double C, double q, double E);
} ms_margin_type;

extern const ms_margin_type ms_margin_static;
extern const ms_margin_type ms_margin_tiered;

/** The model named by margin.model. */
ms_status ms_margin_new(ms_margin **out, const ms_config *cfg, ms_error *err);

/** Free; NULL is a no-op. */
void ms_margin_free(ms_margin *m);

const ms_margin_type *ms_margin_get_type(const ms_margin *m);

/** Maintenance requirement (USD) of a position of @p notional USD. */
double ms_margin_mm(const ms_margin *m, double notional);

/** Initial requirement (USD) of a position of @p notional USD. */
double ms_margin_im(const ms_margin *m, double notional);

/** Maintenance amount (USD) deducted in the tier of @p notional (0 for static). */
double ms_margin_mm_amount(const ms_margin *m, double notional);

/**
 * Oracle price at which the position becomes eligible: a long is eligible
 * when P < threshold (0 if never), a short when P > threshold (+inf if never).
 */
double ms_margin_threshold(const ms_margin *m, double C, double q, double E);

/** Equity at @p P. */
static inline double ms_margin_equity(double C, double q, double E, double P) { return C + q * (P - E); }

/** 1 if the position is eligible for liquidation at oracle price @p P. */
int ms_margin_eligible(const ms_margin *m, double C, double q, double E, double P);

/** Index key of a position; @p shift is the per-unit socialized loss of its side so far. */
double ms_margin_key(const ms_margin *m, double C, double q, double E, double shift);

/** Accounts of the side (long if @p is_long) with key < boundary may be eligible at @p P. */
double ms_margin_boundary(const ms_margin *m, int is_long, double P, double E, double shift);

/** Current static maintenance ratio (static model). */
double ms_margin_ratio(const ms_margin *m);

#endif
