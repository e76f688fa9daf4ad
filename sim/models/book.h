/*
 * book — the account population: perpetual positions and, for a share of
 * accounts (book.options.fraction), option strategies, each account with its
 * own collateral (isolated margin). Every position is entered at
 * market.initial_price at time 0.
 *
 * Drawn from the book stream: once per run (path index MS_PATH_RUN) or, with
 * book.resample: per_path, once per path. Account i draws, in order: (when
 * options.fraction > 0) a uniform that decides whether it holds options;
 * then collateral, leverage and side (perp account) or strategy, collateral,
 * size and expiry (option account). A perp's quantity is collateral x
 * leverage / price; an option leg's is collateral x size / price.
 *
 * Options are bought and sold at their Black–Scholes value at time 0 with
 * the market's long-run volatility: the premium moves cash, so an option
 * account's equity at time 0 equals its deposit. A book in which some account
 * starts below its initial margin is rejected with the count and the first
 * offender.
 */
#ifndef MARGINSIM_BOOK_H
#define MARGINSIM_BOOK_H

#include <stdint.h>

#include "marginsim/error.h"
#include "models/margin.h"
#include "models/pricing.h"
#include "config/scenario.h"

typedef struct ms_opt_account {
  int32_t strategy;      /* ms_strategy_kind */
  int32_t nlegs;
  double deposit;        /* USD deposited (collateral[] holds the cash after premiums) */
  ms_leg legs[MS_MAX_LEGS];
} ms_opt_account;

typedef struct ms_expiry {
  int64_t t;             /* ms */
  int32_t account, leg;
} ms_expiry;

typedef struct ms_book_pos {
  double collateral;     /* USD cash: the deposit, less premiums paid, plus premiums received */
  double qty;            /* signed perp units: > 0 long, < 0 short, 0 none */
} ms_book_pos;

typedef struct ms_book {
  int64_t n;             /* accounts */
  double entry;          /* USD, entry price of every position */
  ms_book_pos *pos;      /* per account, its cash and units side by side: one cache line to read both */
  int32_t *opt_of;       /* index into opt, -1 for a perp-only account */
  ms_opt_account *opt;
  int64_t nopt;
  ms_expiry *expiries;   /* option legs expiring inside the horizon, by time */
  int64_t nexp;
  double open_qty[2];    /* perp units held by longs [0] and shorts [1] */
} ms_book;

/** Allocate a book of cfg->book.accounts accounts (not drawn yet). */
ms_status ms_book_new(ms_book **out, const ms_config *cfg, ms_error *err);

/** Free; NULL is a no-op. */
void ms_book_free(ms_book *b);

/**
 * Draw the book for @p path (MS_PATH_RUN for a per-run book) and check every
 * account against the initial requirement of @p m.
 */
ms_status ms_book_draw(ms_book *b, const ms_config *cfg, uint64_t path, const ms_margin *m,
                       ms_error *err);

/** The index of book.options' strategy a uniform @p u picks (by weight). */
int ms_book_pick_strategy(const ms_options_cfg *oc, double u);

/**
 * The legs of strategy @p st on @p cfg's market (market.initial_price,
 * entry_vol, smile) for a deposit @p C, a size (underlying notional per USD
 * of deposit) and an expiry (ms; at least 1): into @p o, with *@p cash the
 * deposit after premiums and *@p q the strategy's perp units.
 */
void ms_book_strategy(const ms_config *cfg, const ms_strategy_cfg *st, double C, double size, int64_t expiry,
                      ms_opt_account *o, double *cash, double *q);

/** Deposit of account @p i (USD). */
static inline double ms_book_deposit(const ms_book *b, int64_t i) {
  return b->opt_of[i] < 0 ? b->pos[i].collateral : b->opt[b->opt_of[i]].deposit;
}

/** The position of account @p i at time 0. */
void ms_book_position(const ms_book *b, int64_t i, ms_position *p);

#endif
