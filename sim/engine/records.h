/*
 * records — what one path produces: its summary row, its liquidation
 * records, its cascade records and, when asked, its trace of sampled
 * values. The output floor reads them (stats, the result file); each
 * field's comment names the one module that writes it. The engine zeroes
 * a summary row when the path starts (engine.c); "engine.c" below means the
 * path's start and end.
 */
#ifndef MARGINSIM_RECORDS_H
#define MARGINSIM_RECORDS_H

#include <stdint.h>

#include "config/scenario.h"

/** One row of /paths/summary. Money in USD, times in seconds. */
typedef struct ms_path_summary {
  uint64_t path;                         /* engine.c */
  /* exogenous price (engine.c, at the path's end) */
  double final_price;                    /* at the horizon */
  double min_price, max_price;           /* over the ticks and jumps of the path */
  double max_drawdown;                   /* largest fall from a running peak, fraction */
  int64_t jumps;
  int64_t regime_switches;
  double time_in_regime[MS_MAX_REGIMES]; /* seconds */
  /* mark and oracle (engine.c, at the path's end) */
  double final_mark, min_mark;           /* mark = exogenous x exp(impact) */
  double max_impact;                     /* largest |exp(impact) - 1| seen at a tick or fill */
  int64_t oracle_publishes;
  /* liquidations (liquidate.c, the application of a liquidation) */
  int64_t liquidations;                  /* keeper actions that closed (part of) a position */
  int64_t partial_liquidations;
  int64_t impact_triggered_liquidations;
  double liquidated_notional;            /* closed units x mark at the fill */
  double first_liquidation_time;         /* s; NaN if none (engine.c sets NaN at the start) */
  int64_t recovered;                     /* eligible accounts found healthy when the keeper came */
  int64_t skipped_unprofitable;          /* liquidations skipped for gas at least once (once per discovery) */
  int64_t max_pending;                   /* largest keeper backlog (loop.c, discovery) */
  int64_t pending_end;                   /* accounts still waiting for a keeper at the horizon (engine.c) */
  double pending_bad_debt;               /* their negative equity at the final mark, not yet booked (engine.c) */
  /* money (liquidate.c, but for the shortfall policy's own columns) */
  double penalties;                      /* taken from liquidated accounts */
  double keeper_rewards;                 /* penalties paid to keepers */
  double bad_debt;                       /* shortfall of collateral + PnL at fills */
  double settlement_bad_debt;            /* of it, the negative cash of accounts an option settlement left with
                                          * nothing (expiry.c, multi.c) */
  double insurance_paid;                 /* bad debt paid by the fund */
  double insurance_min, insurance_end;   /* fund balance: lowest (engine.c sets the start), final (engine.c) */
  double socialized_loss;                /* charged to profitable accounts (shortfall.c) */
  double adl_notional;                   /* ADL'd units x bankruptcy price (shortfall.c) */
  double adl_loss;                       /* bad debt borne by ADL counterparties: units x |P_b - P_m| (shortfall.c) */
  double uncovered_loss;                 /* bad debt no one could be charged (shortfall.c) */
  int64_t insolvent;                     /* 1 if bad debt went beyond the fund (shortfall.c, multi.c) */
  /* cascades (cascade.c, the engine's cascade module: online, as each record is appended, and at the
   * path's end) */
  int64_t cascades;
  int64_t largest_cascade_liquidations;  /* of the cascade with the most notional */
  double largest_cascade_notional;
  int64_t largest_cascade_depth;         /* generations of impact-triggered liquidations */
  /* the no-feedback twin: the same path, book and draws with market.impact.model none
   * (the driver, run.c; NaN when stats.counterfactual is off) */
  int64_t liquidations_no_impact;
  double liquidated_notional_no_impact;  /* USD */
  double bad_debt_no_impact;             /* USD */
  double amplification;                  /* liquidated_notional / liquidated_notional_no_impact; NaN if both 0
                                          * (stats, ms_stats_set_amplification) */
  /* options and margin models */
  double options_liquidated_notional;    /* underlying notional of option legs closed by liquidations (liquidate.c) */
  int64_t options_expired;               /* option legs settled at expiry (expiry.c) */
  int64_t option_revaluations;           /* exact checks of option accounts (standing() in engine_state.h: discovery,
                                          * and the keeper's re-check) */
  int64_t option_revaluations_naive;     /* option accounts open at each check: what checking all would cost (loop.c) */
  int64_t bs_evaluations;                /* Black–Scholes evaluations (engine.c) */
  double max_margin_ratio;               /* largest maintenance ratio, dynamic margin (engine.c at the start, then
                                          * loop.c at margin updates) */
  int64_t margin_updates_up;             /* dynamic re-estimates that raised the ratio (loop.c) */
  /* funding (loop.c at each payment, engine.c at the end; present only with funding.enabled) */
  double funding_paid;                   /* USD paid by the paying side, all payments */
  double funding_long_net;               /* USD longs received, net (< 0: they paid) */
  double funding_outside;                /* USD the book received from outside it, net (receivers: rate; else 0) */
  double funding_rate_mean;              /* mean rate of the path's payments, a fraction of notional per payment
                                          * (NaN: none) */
  double funding_rate_min, funding_rate_max; /* the lowest and highest of them, the same unit */
  /* several markets (book.markets; multi.c): per asset of market.assets, in its order */
  int64_t mkt_liquidations[MS_MAX_ASSETS];       /* positions in the market closed by liquidations */
  double mkt_liquidated_notional[MS_MAX_ASSETS]; /* USD, closed units x the market's mark at the fill */
  double mkt_bad_debt[MS_MAX_ASSETS];            /* USD, each liquidation's bad debt shared by its positions' losses */
  int64_t mkt_contagion[MS_MAX_ASSETS];          /* of mkt_liquidations, those the twin with the other assets'
                                                  * exogenous prices frozen at their start did not make (-1: not run) */
  double mkt_final_price[MS_MAX_ASSETS], mkt_min_price[MS_MAX_ASSETS]; /* USD, exogenous */
  double mkt_funding_long_net[MS_MAX_ASSETS];    /* USD funding the market's longs received, net (funding.enabled) */
} ms_path_summary;

/** One liquidation (for /liquidations and the cascade statistics). Written by
 *  liquidate.c (the application of a liquidation) but where noted; no field
 *  changes once the record is appended (deliver.c may then hand it out). */
typedef struct ms_liq_record {
  uint64_t path;
  int64_t time;            /* ms of the fill */
  int64_t obs_time;        /* ms when the oracle price used was observed */
  int64_t account;
  int32_t side;            /* +1 long, -1 short */
  int32_t impact_triggered;        /* 1: the exogenous-only oracle price would not have made it eligible */
  int32_t full;            /* 1: the whole position closed */
  int32_t generation;      /* 0 if not impact-triggered, else 1 + the generation that moved the price (cascade.c,
                            * as the record is appended) */
  int64_t cascade;         /* index of its cascade within the path (cascade.c, as the record is appended) */
  double oracle_price;     /* USD */
  double exog_oracle_price;/* USD, the same oracle observation without impact */
  double mark_price;       /* USD, the fill price */
  double qty;              /* units closed (market + ADL) */
  double notional;         /* USD, qty x mark */
  double bad_debt;         /* USD */
  double penalty;          /* USD */
  double adl_qty;          /* units closed by ADL at the bankruptcy price (less those the shortfall policy found
                            * no counterparty for) */
  double delay;            /* s from discovery to the fill */
} ms_liq_record;

/** One cascade: liquidations of a path no more than stats.cascade_gap apart.
 *  Written by cascade.c when the cascade closes (the next record is further
 *  than the gap, or the path ends). */
typedef struct ms_cascade_record {
  uint64_t path;
  int64_t index;           /* within the path */
  double start, end;       /* s */
  int64_t liquidations, impact_triggered;
  double notional;         /* USD */
  double bad_debt;         /* USD */
  int64_t depth;           /* largest generation of impact-triggered liquidations */
} ms_cascade_record;

/** Sampled values of one path (for /timeseries). Arrays of ms_trace_len(),
 *  allocated by the driver, written by loop.c (samples). */
typedef struct ms_trace {
  double *price;           /* exogenous price */
  double *mark;
  double *oracle;
  int32_t *regime;
  double *open_interest;   /* USD, open units of both sides x mark */
  double *insurance;       /* USD */
  int32_t *liquidations;   /* in the interval ending at the sample */
  double *margin_ratio;    /* maintenance ratio (dynamic margin; constant otherwise) */
  double *funding_rate;    /* rate of the latest funding payment (NaN: none yet; written to the file only with
                              funding.enabled) */
} ms_trace;

#endif
