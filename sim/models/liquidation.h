/*
 * liquidation — what one liquidation does to an account. Pure functions:
 * the engine applies the outcome (engine/liquidate.c), and the loss
 * waterfall beyond the account — the insurance fund, then the shortfall
 * policy — is the engine's too (engine/shortfall.c), where it is applied.
 *
 * Fill at the current mark P_m (the oracle P_o decides eligibility and the
 * partial size). Closing x units of a position (sign s, entry E, collateral C)
 * realises s x (P_m - E). A penalty of `penalty` x closed notional is taken
 * from what equity remains (never more than there is), keeper_share of it to
 * the keeper, the rest to the insurance fund.
 *
 * Bad debt B = max(0, -(C + s a (P_m - E))) when the whole position a closes
 * underwater; the account then ends at 0 and B goes to the waterfall.
 *
 * partial: close the least x in [min_close a, a] after which equity at P_o
 * covers the initial requirement of what is left; full if no such x.
 */
#ifndef MARGINSIM_LIQUIDATION_H
#define MARGINSIM_LIQUIDATION_H

#include "models/margin.h"
#include "config/scenario.h"

typedef struct ms_liq_outcome {
  int full;               /* the whole position closes */
  double close_qty;       /* units closed, market + ADL */
  double market_qty;      /* units sold/bought at the market (they move the price); the waterfall's when underwater */
  double adl_qty;         /* units closed against ADL counterparties at bankruptcy_price (the waterfall's) */
  double fill_price;      /* USD, the mark */
  double bankruptcy_price;/* USD */
  double notional;        /* USD, close_qty x fill_price */
  double realized;        /* USD, PnL realised by the account (the waterfall's when underwater) */
  double penalty;         /* USD taken from the account */
  double keeper_reward;   /* USD */
  double fund_fee;        /* USD to the insurance fund */
  double bad_debt;        /* USD shortfall at the fill, before the waterfall */
  double fund_paid;       /* USD of bad debt the fund pays (the waterfall's: ms_waterfall_perp) */
  double residual;        /* USD beyond the fund: the shortfall policy's (the waterfall's) */
  double new_collateral;  /* USD left in the account */
  double new_qty;         /* signed units left */
} ms_liq_outcome;

/**
 * Outcome of liquidating a position of collateral @p C and signed quantity
 * @p q entered at @p E, with mark @p pm and oracle @p po, before the
 * waterfall: an underwater position goes all to the market, fund_paid,
 * residual and adl_qty 0 (ms_waterfall_perp fills them).
 */
void ms_liq_compute(const ms_liquidation_cfg *cfg, const ms_margin *m, double C, double q, double E,
                    double pm, double po, ms_liq_outcome *out);

/** Outcome of liquidating an account that holds option legs. */
typedef struct ms_liq_pos_outcome {
  int full;               /* everything closed */
  int legs_closed;        /* bit l: leg l of the position closed */
  double perp_closed;     /* perp units closed (at the mark) */
  double opt_closed;      /* option units closed */
  double notional;        /* USD: closed units x mark (perp and options' underlying) */
  double opt_notional;    /* USD: the options' part */
  double realized;        /* USD: PnL realised (options against their entry premium) */
  double penalty, keeper_reward, fund_fee;
  double bad_debt;
  double fund_paid, residual; /* the waterfall's (ms_waterfall_pos): 0 here */
  double new_cash;        /* USD */
  double new_q;           /* perp units left */
  double flow;            /* USD of underlying bought (> 0) or sold by the fills */
  double cash_in;         /* USD the fills brought into cash: the perp's PnL, the legs' closing values */
} ms_liq_pos_outcome;

/**
 * Liquidate position @p p (entry @p E): options close at their model value at
 * the fill (@p fill: mark, time, regime vol) worsened by liquidation.option_spread,
 * the perp at the mark. Partial mode closes whole legs, riskiest first (the
 * largest standalone initial requirement at the oracle), until equity at the
 * oracle (@p orc) covers the initial requirement of what is left. Option
 * fills count in @p flow only when @p options_move. Before the waterfall.
 */
void ms_liq_compute_pos(const ms_liquidation_cfg *cfg, const ms_margin *m, const ms_position *p, double E,
                        const ms_view *fill, const ms_view *orc, int options_move, ms_liq_pos_outcome *out);

#endif
