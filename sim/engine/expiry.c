/*
 * expiry — option legs settle at their expiry (docs/engine.md, "Options and
 * the margin models"): each pays its intrinsic value at the mark into cash
 * and leaves the account; an account with nothing left closes, its deficit
 * (if the settlement left it underwater) booked as bad debt at once; any other
 * is re-checked at once (the settlement moved cash, and may have removed a
 * hedge).
 */
#include <math.h>

#include "engine/engine_state.h"
#include "engine/shortfall.h"

/* Account @p x, which the settlement left holding nothing, owes @p deficit
 * (USD > 0). The venue closes it at once, no keeper being needed to close
 * nothing: the deficit is bad debt through the waterfall of an options
 * account's (the fund, then socialized whatever liquidation.shortfall says:
 * ADL has no position to close). No fill, so no record; the summary keeps
 * it apart in settlement_bad_debt. *@p others: charges moved other accounts. */
static ms_status settle_deficit(ms_engine *e, ms_acct *x, double deficit, double pm, int64_t t, int *others) {
  ms_path_summary *sm = e->sum;
  ms_accounts_set_collateral(&e->acc, x, 0.0);
  double paid = ms_fund_pays(e->fund, deficit);
  sm->bad_debt += deficit;
  sm->settlement_bad_debt += deficit;
  sm->insurance_paid += paid;
  e->fund -= paid;
  if (e->fund < sm->insurance_min) sm->insurance_min = e->fund;
  ms_shortfall_loss l = {.residual = deficit - paid, .mark = pm, .oracle = ms_oracle_current(e->orc)->price, .t = t};
  double unmatched;
  return ms_shortfall_apply(e, &ms_shortfall_socialize, &l, others, &unmatched);
}

/* Option legs expiring at @p t settle at the mark and leave the book. */
ms_status ms_eng_expire(ms_engine *e, int64_t t) {
  const ms_book *b = e->acc.book;
  double pm = exp(log_mark_at(e, t));
  int changed = 0;
  while (e->exp_pos < b->nexp && b->expiries[e->exp_pos].t == t) {
    const ms_expiry *xp = &b->expiries[e->exp_pos++];
    int64_t id = xp->account;
    if (ms_accounts_status(&e->acc, id) == MS_ACCT_CLOSED) continue;
    ms_acct *x = ms_accounts_touch(&e->acc, id);
    if (!x) return MS_ERR_NOMEM;
    double *lq = ms_accounts_legs(&e->acc, x), q = lq[xp->leg];
    if (q == 0) continue; /* closed by a liquidation */
    const ms_leg *lg = &b->opt[b->opt_of[id]].legs[xp->leg];
    double pay = ms_leg_payoff(lg, pm);
    double C = ms_accounts_collateral(&e->acc, id);
    ms_accounts_set_collateral(&e->acc, x, C + q * pay);
    e->acc.realized += q * (pay - lg->v0);
    lq[xp->leg] = 0;
    x->version++;
    e->sum->options_expired++;
    int left = ms_accounts_has_options(&e->acc, id);
    if (!left) e->open_options--;
    if (!left && x->q == 0) { /* nothing left: the account is done */
      if (x->status == MS_ACCT_PENDING) ms_keeper_resolved(e->kp);
      double cash = ms_accounts_collateral(&e->acc, id);
      if (cash < 0) {
        int others = 0;
        ms_status st = settle_deficit(e, x, -cash, pm, t, &others);
        if (st) return st;
        changed |= others;
      }
      ms_accounts_close(&e->acc, x);
      continue;
    }
    if (x->status == MS_ACCT_OPEN) {
      ms_status st = reopen(e, x, id, t);
      if (st) return st;
    }
    changed = 1;
  }
  if (e->exp_pos < b->nexp) {
    ms_status st = ms_queue_push(e->q, b->expiries[e->exp_pos].t, MS_EV_EXPIRY, 0, 0);
    if (st) return st;
  }
  /* a settlement moved cash: the venue re-checks the accounts it changed */
  return changed ? ms_eng_discover(e, t) : MS_OK;
}
