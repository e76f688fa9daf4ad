/*
 * shortfall — the loss waterfall of one liquidation and the shortfall
 * policies (liquidation.shortfall): bad debt B left at a fill is paid by the
 * insurance fund as far as it goes; the residual R beyond it goes to the
 * policy. Each policy is a type table in the manner of gsl_rng_type, chosen
 * by name; its hooks run once per liquidation with bad debt, never per tick.
 *
 *  - socialize: R is charged pro rata to the unrealised profit of the
 *    profitable side (a per-unit shift of its accounts' collateral); what
 *    the profit cannot cover is uncovered.
 *  - adl: the fraction R/B of an underwater perp position is not sold to the
 *    market but closed against the top-ranked opposite positions at the
 *    bankruptcy price P_b; units no opposite position takes go to the market
 *    after all, their loss uncovered.
 *
 * Accounts holding options are always socialized (ADL deleverages perps).
 */
#ifndef MS_SHORTFALL_H
#define MS_SHORTFALL_H

#include <math.h>
#include <stdint.h>

#include "marginsim/error.h"
#include "models/liquidation.h"

struct ms_engine;

/** The residual of one liquidation, for the policy to charge. */
typedef struct ms_shortfall_loss {
  double residual;        /* USD of bad debt beyond the fund (> 0) */
  int side;               /* perp accounts: the liquidated side (0 long, 1 short); options: 0 */
  double adl_qty;         /* units the waterfall closed against opposite positions (ms_waterfall_perp) */
  double bankruptcy_price;/* USD */
  double mark, oracle;    /* USD at the fill */
  int64_t t;              /* ms */
} ms_shortfall_loss;

typedef struct ms_shortfall_type {
  const char *name;       /* liquidation.shortfall */
  /*
   * Of a perp position of @p a units closing underwater with bad debt
   * @p bad_debt, @p residual of it beyond the fund: the units closed against
   * opposite positions at the bankruptcy price instead of the market. Pure.
   */
  double (*adl_units)(double residual, double bad_debt, double a);
  /*
   * Charge @p l's residual to whoever the policy names, in the summary's
   * socialized_loss, adl_notional, adl_loss and uncovered_loss. *@p unmatched:
   * ADL units that found no opposite position (the caller sends them to the
   * market); 0 for other policies. Sets the summary's insolvent.
   */
  ms_status (*charge)(struct ms_engine *e, const ms_shortfall_loss *l, double *unmatched);
} ms_shortfall_type;

extern const ms_shortfall_type ms_shortfall_socialize, ms_shortfall_adl;

/** The policies, NULL-terminated, in the order of docs/scenario.md's allowed
 *  values: liquidation.shortfall picks one by name (declared in
 *  config/scenario.h, which this header includes through liquidation.h). */
extern const ms_shortfall_type *const ms_shortfall_types[];

/** The policy called @p name, or NULL. */
const ms_shortfall_type *ms_shortfall_find(const char *name);

/**
 * The waterfall of a perp liquidation @p o of position @p q entered at @p E
 * (ms_liq_compute) with the fund at @p fund: with bad debt, the fund pays
 * what it can (fund_paid), the rest is the residual, and @p t splits the
 * position between the market and ADL (market_qty, adl_qty, realized).
 * Without bad debt, nothing.
 */
void ms_waterfall_perp(const ms_shortfall_type *t, double fund, double q, double E, ms_liq_outcome *o);

/** The waterfall of a liquidation of an account with options (ms_liq_compute_pos). */
void ms_waterfall_pos(double fund, ms_liq_pos_outcome *o);

/** What the fund, at @p fund (USD, possibly below 0), pays of @p bad USD of bad debt: all it can. */
static inline double ms_fund_pays(double fund, double bad) { return fmin(fund > 0 ? fund : 0.0, bad); }

/**
 * Charge @p l's residual, when there is one, by policy @p t (its charge
 * hook): *@p others_changed = 1 (other accounts' collateral or positions
 * moved), *@p unmatched as the hook's.
 */
ms_status ms_shortfall_apply(struct ms_engine *e, const ms_shortfall_type *t, const ms_shortfall_loss *l,
                             int *others_changed, double *unmatched);

/**
 * Socialize @p residual over a side holding @p open_qty units, each with
 * @p profit_per_unit of unrealised profit: the per-unit charge (at most the
 * profit) and what no one could pay.
 */
void ms_socialize_split(double residual, double open_qty, double profit_per_unit, double *per_unit,
                        double *uncovered);

#endif
