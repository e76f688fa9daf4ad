/*
 * liquidate — the application of a liquidation (see docs/engine.md, "A
 * liquidation and the loss waterfall"). A keeper acts on a pending account:
 * re-check it at the oracle, skip (park) it when the reward does not pay
 * the gas, else compute the fill (models/liquidation.c, pure: sizes, PnL,
 * penalty, bad debt) and the waterfall (shortfall.c: the fund, then the
 * scenario's shortfall policy), update the account, and run the one tail
 * both kinds of account share: the money, the shortfall's charge, the
 * record, the keeper, the fill's move of the market.
 */
#include <math.h>
#include <stdio.h>

#include "core/heap.h"
#include "engine/engine_state.h"
#include "models/liquidation.h"

/* The account holds nothing any more: its cash is its to take. */
static void settle_closed(ms_engine *e, ms_acct *x, int had_options) {
  ms_accounts_close(&e->acc, x);
  if (had_options) e->open_options--;
}

/* Park an unprofitable liquidation behind the box of (mark, oracle) prices in
 * which a keeper would certainly skip it again. When the whole position
 * would close (full mode, or underwater), the keeper's reward is
 * share x min(penalty x a x P, C + s a (P - E)): for a long it rises with the
 * mark P, so it stays below the gas cost g for P < W = max(g' / (penalty a),
 * E + (g' - C) / a) (g' = g / share); for a short it needs P <= U =
 * E + (C - g') / a. None of this depends on the margin ratio. Mark bounds get
 * a relative slack of 1e-9 towards re-examining. */
#define PARK_SLACK 1e-9

/* Eligibility must hold too, and its bound is taken in the account index's
 * coordinates (ms_margin_key, ms_margin_boundary): the account stays
 * eligible while its side's boundary at the oracle price exceeds its key.
 * Under a margin keyed by collateral (static, dynamic, portfolio) the key is
 * C / a and the boundary E - P (1 - r_long) or P (1 + r_short) - E: the
 * ratio is in the probe, which loop.c computes at each block with the ratio
 * of the moment, not in the key, so a dynamic ratio may move (either way)
 * while the account is parked. The slack, towards releasing, is relative to
 * |E| + |C| / a, the size of the terms whose rounding both this test and
 * the exact one (C + q (P - E) < r a P) suffer: rounding can only add
 * releases while r_long < 1 - 3e-7 (docs/engine.md, Keepers). Under tiered
 * margin, whose ratio never moves, key and boundary are -T and -P (long), T
 * and P (short), T the threshold price, with the relative slack. */
#define PARK_KEY_SLACK 2e-9

static double park_elig_lo(const ms_engine *e, double C, double q) {
  double key = ms_margin_key(e->mg, C, q, e->E, 0.0);
  if (ms_margin_get_type(e->mg)->key_mode == MS_KEY_COLLATERAL)
    return key + PARK_KEY_SLACK * (fabs(e->E) + fabs(key));
  return key + PARK_SLACK * fabs(key);
}

static ms_status park(ms_engine *e, int64_t id, int64_t seq, int64_t t, double C, double q, double pm,
                      double po) {
  const ms_liquidation_cfg *lc = &e->cfg->liquidation;
  double a = fabs(q), E = e->E, eq_full = C + (q > 0 ? 1 : -1) * a * (pm - E);
  double mlo = 0, mhi = 0, elo = INFINITY; /* empty: the next block */
  int whole = lc->mode == MS_LIQ_FULL || eq_full <= 0;
  if (!e->no_parking && !ms_accounts_has_options(&e->acc, id) && !whole) {
    /* A partial close of a solvent account: its size depends on both
     * prices, but the reward never exceeds share x penalty x a x P (the
     * closed units are at most a; a close that turns whole pays
     * min(penalty a P, equity)), so the skip is certain while the mark
     * stays below W = g' / (penalty a), either side, and the account
     * eligible as in full mode. */
    double g = lc->keeper_share > 0 ? ms_keeper_gas_cost(e->kp) / lc->keeper_share : INFINITY;
    double W = lc->keeper_share > 0 && lc->penalty > 0 ? g / (lc->penalty * a) : INFINITY;
    mlo = -INFINITY;
    mhi = isfinite(W) ? W * (1 - PARK_SLACK) : INFINITY;
    elo = park_elig_lo(e, C, q);
  } else if (!e->no_parking && !ms_accounts_has_options(&e->acc, id)) {
    double share = lc->keeper_share * lc->penalty;
    double g = lc->keeper_share > 0 ? ms_keeper_gas_cost(e->kp) / lc->keeper_share : INFINITY;
    if (q > 0) {
      double W = share > 0 ? fmax(g / (lc->penalty * a), E + (g - C) / a) : INFINITY;
      mlo = -INFINITY;
      mhi = isfinite(W) ? W * (1 - PARK_SLACK) : INFINITY;
    } else {
      double U = share > 0 ? E + (C - g) / a : -INFINITY;
      if (share > 0 && U < g / (lc->penalty * a)) U = -INFINITY; /* never profitable */
      mlo = isfinite(U) ? U * (1 + PARK_SLACK) : -INFINITY;
      mhi = INFINITY;
    }
    elo = park_elig_lo(e, C, q);
  }
  (void)po;
  return ms_keeper_defer(e->kp, id, seq, t, mlo, mhi, q > 0 ? 0 : 1, elo, e->q);
}

/* Book the money of a liquidation. */
static void book_money(ms_engine *e, double penalty, double keeper, double bad, double fund_paid,
                       double fund_fee, double notional, int full, int impact_triggered, int64_t t) {
  ms_path_summary *sm = e->sum;
  sm->liquidations++;
  sm->partial_liquidations += !full;
  sm->impact_triggered_liquidations += impact_triggered;
  sm->liquidated_notional += notional;
  if (isnan(sm->first_liquidation_time)) sm->first_liquidation_time = (double)t / 1000.0;
  sm->penalties += penalty;
  sm->keeper_rewards += keeper;
  sm->bad_debt += bad;
  sm->insurance_paid += fund_paid;
  e->fund += fund_fee - fund_paid;
  if (e->fund < sm->insurance_min) sm->insurance_min = e->fund;
}

/* The fill moved the market: impact, extremes, the oracle's deviation test. */
static ms_status after_fill(ms_engine *e, int64_t t, double flow) {
  if (e->fnd) ms_funding_accrue(e->fnd, e->mk, t); /* the premium samples the old flow made */
  ms_market_fill(e->mk, t, flow);
  double imp = ms_market_impact(e->mk);
  if (!(fabs(imp) <= e->max_log_impact)) { /* past meaning (or inf, NaN): docs/engine.md, Money */
    const ms_book *b = e->book;
    snprintf(e->why, sizeof e->why,
             "at t = %.3f s the liquidation flow's impact moved the mark to %.3g times the exogenous price, beyond "
             "the bound of %g either way (docs/engine.md, Money): market.impact.depth (%g USD per 1%%) is far too "
             "small for this book (book.accounts %lld, %.4g USD of notional)",
             (double)t / 1000.0, exp(imp), MS_MAX_MARK_MOVE, e->cfg->market.impact.depth, (long long)b->n,
             (b->open_qty[0] + b->open_qty[1]) * b->entry);
    return MS_ERR_INPUT;
  }
  observe_mark(e, e->lp + imp, imp);
  int started;
  return ms_oracle_on_mark(e->orc, t, e->lp + imp, e->lp, e->q, &started);
}

/* What a liquidation of either kind of account moved, for the shared tail. */
typedef struct fill_money {
  double penalty, keeper_reward, bad_debt, fund_paid, fund_fee, notional; /* USD */
  int full, impact_triggered;
  const ms_shortfall_type *policy; /* who bears the residual */
  ms_shortfall_loss loss;          /* the residual and what the policy needs */
  double s;                        /* perps: +1 long, -1 short; options: 0 */
  double market_qty;               /* perps: units sold or bought at the market */
  double flow;                     /* options: USD of underlying the fills bought (> 0) or sold */
} fill_money;

/* The tail every liquidation shares once its account is updated (@p st: how
 * that went): the money, the shortfall, the record, the keeper, the market. */
static ms_status finish(ms_engine *e, const fill_money *f, ms_liq_record *r, ms_status st, int64_t t,
                        int in_block) {
  book_money(e, f->penalty, f->keeper_reward, f->bad_debt, f->fund_paid, f->fund_fee, f->notional, f->full,
             f->impact_triggered, t);
  int others_changed = 0;
  double unmatched = 0.0;
  if (!st) st = ms_shortfall_apply(e, f->policy, &f->loss, &others_changed, &unmatched);
  if (unmatched > 0) {
    /* ADL units no opposite position took are sold to the market at the
     * fill after all (shortfall.c books their loss as uncovered). */
    e->acc.realized += f->s * unmatched * (f->loss.mark - f->loss.bankruptcy_price);
    r->adl_qty -= unmatched;
  }
  if (!st) st = ms_eng_record(e, r); /* final now: nothing changes it after */
  if (st) return st;
  e->liq_since_sample++;
  if (in_block) ms_keeper_block_used(e->kp);
  ms_keeper_resolved(e->kp);
  st = after_fill(e, t, f->s != 0 ? -f->s * (f->market_qty + unmatched) * f->loss.mark : f->flow);
  if (!st && others_changed) st = ms_eng_discover(e, t);
  return st;
}

/* Liquidate an account that holds options. */
static ms_status act_options(ms_engine *e, int64_t id, ms_acct *x, int64_t t, const ms_probe *po_pr,
                             const ms_oracle_price *op, double lm, int in_block) {
  ms_position p;
  ms_accounts_position(&e->acc, id, &p);
  ms_view fill = {exp(lm), t, po_pr->vol}, orc = {po_pr->P, t, po_pr->vol};
  ms_liq_pos_outcome o;
  ms_liq_compute_pos(&e->cfg->liquidation, e->mg, &p, e->E, &fill, &orc, e->cfg->market.impact.options, &o);
  ms_waterfall_pos(e->fund, &o);
  ms_view ex = {op->exog, t, po_pr->vol};
  int impact_triggered = !(ms_margin_pos_surplus(e->mg, &p, e->E, &ex) < 0);
  ms_liq_record r = {.path = e->path, .time = t, .obs_time = op->t_obs, .account = id, .side = 0,
                     .full = o.full, .oracle_price = po_pr->P, .exog_oracle_price = op->exog,
                     .mark_price = fill.P, .qty = o.perp_closed + o.opt_closed, .notional = o.notional,
                     .bad_debt = o.bad_debt, .penalty = o.penalty, .impact_triggered = impact_triggered,
                     .delay = (double)(t - x->discovered) / 1000.0};
  e->acc.realized += o.realized;
  ms_accounts_set_collateral(&e->acc, x, o.new_cash);
  e->acc.open_qty[0] -= x->q - o.new_q; /* option strategies hold long perps */
  x->q = o.new_q;
  /* the position's legs are the live legs of the book's account, in order */
  int32_t oi = e->acc.book->opt_of[id];
  double *lq = oi >= 0 ? ms_accounts_legs(&e->acc, x) : NULL;
  for (int l = 0, k = 0; oi >= 0 && l < e->acc.book->opt[oi].nlegs; l++) {
    if (lq[l] == 0) continue;
    if (o.legs_closed & (1 << k)) lq[l] = 0;
    k++;
  }
  e->sum->options_liquidated_notional += o.opt_notional;
  ms_status st = MS_OK;
  if (o.full) settle_closed(e, x, 1);
  else {
    if (!ms_accounts_has_options(&e->acc, id)) e->open_options--;
    st = reopen(e, x, id, t);
  }
  /* ADL deleverages perpetual positions: an option account's remainder is socialized. */
  fill_money f = {.penalty = o.penalty, .keeper_reward = o.keeper_reward, .bad_debt = o.bad_debt,
                  .fund_paid = o.fund_paid, .fund_fee = o.fund_fee, .notional = o.notional, .full = o.full,
                  .impact_triggered = impact_triggered, .policy = &ms_shortfall_socialize,
                  .loss = {.residual = o.residual, .mark = fill.P, .oracle = po_pr->P, .t = t}, .flow = o.flow};
  return finish(e, &f, &r, st, t, in_block);
}

/* A keeper acts on pending account @p id at @p t. */
ms_status ms_eng_act(ms_engine *e, int64_t id, int64_t seq, int64_t t, int in_block) {
  ms_acct *x = ms_accounts_touch(&e->acc, id);
  if (!x) return MS_ERR_NOMEM;
  if (x->status != MS_ACCT_PENDING) return MS_OK; /* settled while it waited */
  const ms_oracle_price *op = ms_oracle_current(e->orc);
  /* A perpetual's standing needs only the price: the probe (regime,
   * volatility, margin ratio: three calls) only for an account with options. */
  int options = ms_accounts_has_options(&e->acc, id);
  ms_probe pr;
  double eq, mm;
  if (options) {
    probe_at(e, t, op->price, &pr);
    standing(e, id, &pr, &eq, &mm);
  } else {
    perp_standing(e, id, op->price, &eq, &mm);
  }
  if (!(eq < mm)) { /* recovered before the keeper came */
    e->sum->recovered++;
    ms_keeper_resolved(e->kp);
    return reopen(e, x, id, t);
  }
  double po = op->price, C = ms_accounts_collateral(&e->acc, id), q = x->q, gas = ms_keeper_gas_cost(e->kp);
  double lm = log_mark_at(e, t), pm = exp(lm);
  if (options) {
    if (gas > 0) {
      ms_position p;
      ms_accounts_position(&e->acc, id, &p);
      ms_view fill = {pm, t, pr.vol}, orc = {po, t, pr.vol};
      ms_liq_pos_outcome o;
      ms_liq_compute_pos(&e->cfg->liquidation, e->mg, &p, e->E, &fill, &orc, 0, &o);
      if (o.keeper_reward < gas) {
        if (!x->skipped) { x->skipped = 1; e->sum->skipped_unprofitable++; }
        return park(e, id, seq, t, C, q, pm, po);
      }
    }
    return act_options(e, id, x, t, &pr, op, lm, in_block);
  }
  ms_liq_outcome o;
  ms_liq_compute(&e->cfg->liquidation, e->mg, C, q, e->E, pm, po, &o);
  if (gas > 0 && o.keeper_reward < gas) {
    if (!x->skipped) { /* counted once per discovery, however often it is retried */
      x->skipped = 1;
      e->sum->skipped_unprofitable++;
    }
    return park(e, id, seq, t, C, q, pm, po);
  }
  ms_waterfall_perp(e->shortfall, e->fund, q, e->E, &o);
  int side = ms_side_of(q);
  double s = q > 0 ? 1.0 : -1.0;
  ms_liq_record r = {.path = e->path, .time = t, .obs_time = op->t_obs, .account = id,
                     .side = q > 0 ? 1 : -1, .full = o.full, .oracle_price = po,
                     .exog_oracle_price = op->exog, .mark_price = pm, .qty = o.close_qty,
                     .notional = o.notional, .bad_debt = o.bad_debt, .penalty = o.penalty,
                     .adl_qty = o.adl_qty, .delay = (double)(t - x->discovered) / 1000.0};
  r.impact_triggered = !ms_margin_eligible(e->mg, C, q, e->E, op->exog);

  /* the account */
  e->acc.realized += o.realized;
  x->q = o.new_qty;
  ms_accounts_set_collateral(&e->acc, x, o.new_collateral);
  e->acc.open_qty[side] -= o.close_qty;
  ms_status st = MS_OK;
  if (o.full) settle_closed(e, x, 0);
  else st = reopen(e, x, id, t);
  fill_money f = {.penalty = o.penalty, .keeper_reward = o.keeper_reward, .bad_debt = o.bad_debt,
                  .fund_paid = o.fund_paid, .fund_fee = o.fund_fee, .notional = o.notional, .full = o.full,
                  .impact_triggered = r.impact_triggered, .policy = e->shortfall,
                  .loss = {.residual = o.residual, .side = side, .adl_qty = o.adl_qty,
                           .bankruptcy_price = o.bankruptcy_price, .mark = pm, .oracle = po, .t = t},
                  .s = s, .market_qty = o.market_qty};
  return finish(e, &f, &r, st, t, in_block);
}
