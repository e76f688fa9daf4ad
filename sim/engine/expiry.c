/*
 * expiry — option legs settle at their expiry (docs/engine.md, "Options and
 * the margin models"): each pays its intrinsic value at the mark into cash
 * and leaves the account; an account with nothing left closes, any other is
 * re-checked at once (the settlement moved cash, and may have removed a hedge).
 */
#include <math.h>

#include "engine/engine_state.h"

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
