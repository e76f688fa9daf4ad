/*
 * shortfall — the loss waterfall and the shortfall policies (see shortfall.h
 * and docs/engine.md, "A liquidation and the loss waterfall").
 */
#include "engine/shortfall.h"

#include <math.h>
#include <string.h>

#include "engine/engine_state.h"

/* ---- the waterfall ---- */

void ms_waterfall_perp(const ms_shortfall_type *t, double fund, double q, double E, ms_liq_outcome *o) {
  if (o->bad_debt <= 0) return; /* no bad debt (NaN goes on, as it always did) */
  double s = q > 0 ? 1.0 : -1.0, a = fabs(q);
  o->fund_paid = ms_fund_pays(fund, o->bad_debt);
  o->residual = o->bad_debt - o->fund_paid;
  o->adl_qty = t->adl_units(o->residual, o->bad_debt, a);
  o->market_qty = a - o->adl_qty;
  o->realized = s * o->market_qty * (o->fill_price - E) + s * o->adl_qty * (o->bankruptcy_price - E);
}

void ms_waterfall_pos(double fund, ms_liq_pos_outcome *o) {
  if (o->bad_debt <= 0) return;
  o->fund_paid = ms_fund_pays(fund, o->bad_debt);
  o->residual = o->bad_debt - o->fund_paid;
}

void ms_socialize_split(double residual, double open_qty, double profit_per_unit, double *per_unit,
                        double *uncovered) {
  double cap = open_qty > 0 && profit_per_unit > 0 ? open_qty * profit_per_unit : 0.0;
  double paid = fmin(residual, cap);
  *per_unit = open_qty > 0 ? paid / open_qty : 0.0;
  *uncovered = residual - paid;
}

ms_status ms_shortfall_apply(ms_engine *e, const ms_shortfall_type *t, const ms_shortfall_loss *l,
                             int *others_changed, double *unmatched) {
  *unmatched = 0.0;
  if (!(l->residual > 0)) return MS_OK;
  e->sum->insolvent = 1;
  *others_changed = 1;
  return t->charge(e, l, unmatched);
}

/* ---- socialize ---- */

static double socialize_adl_units(double residual, double bad_debt, double a) {
  (void)residual;
  (void)bad_debt;
  return 0.0 * a; /* all of it to the market */
}

static ms_status socialize_charge(ms_engine *e, const ms_shortfall_loss *l, double *unmatched) {
  ms_path_summary *sm = e->sum;
  double residual = l->residual, po = l->oracle;
  *unmatched = 0.0;
  int prof = po > e->E ? 0 : po < e->E ? 1 : -1;
  double per_unit = 0.0, unc = residual;
  /* The profitable side gives up at most its profit: what earlier charges
   * took (the side's socialized shift) is no longer there to take; funding
   * moves cash, not the profit on the position. */
  if (prof >= 0)
    ms_socialize_split(residual, e->acc.open_qty[prof], fmax(0.0, fabs(po - e->E) - e->acc.soc[prof]),
                       &per_unit, &unc);
  if (prof >= 0 && per_unit > 0) {
    ms_accounts_charge(&e->acc, prof, per_unit);
    e->acc.soc[prof] += per_unit;
    ms_keeper_unpark_all(e->kp); /* parked accounts' collateral changed */
  }
  sm->socialized_loss += residual - unc;
  sm->uncovered_loss += unc;
  return MS_OK;
}

const ms_shortfall_type ms_shortfall_socialize = {"socialize", socialize_adl_units, socialize_charge};

/* ---- adl ---- */

static double adl_adl_units(double residual, double bad_debt, double a) {
  double phi = residual / bad_debt;
  return phi * a;
}

/* Close @p qty units against the top-ranked opposite positions at @p pb;
 * @p unmatched gets the units left when the opposite side runs out. */
static ms_status deleverage(ms_engine *e, int side, double qty, double pb, double pm, int64_t t,
                            double *unmatched) {
  double left = qty;
  while (left > 0) {
    int64_t cp = e->fops->adl_next(e->fself, &e->acc, side);
    if (cp < 0) break;
    double C = ms_accounts_collateral(&e->acc, cp);
    ms_acct *x = ms_accounts_touch(&e->acc, cp);
    if (!x) return MS_ERR_NOMEM;
    double s = x->q > 0 ? 1.0 : -1.0, a = fabs(x->q);
    double y = a < left ? a : left;
    double realized = s * y * (pb - e->E);
    e->acc.realized += realized;
    ms_accounts_set_collateral(&e->acc, x, C + realized);
    e->acc.open_qty[side] -= y;
    e->sum->adl_notional += y * pb;
    e->sum->adl_loss += y * fabs(pb - pm);
    left -= y;
    if (y >= a) {
      x->q = 0.0;
      ms_accounts_close(&e->acc, x);
    } else {
      x->q -= s * y;
      ms_status st = reopen(e, x, cp, t);
      if (st) return st;
    }
  }
  *unmatched = left > 0 ? left : 0.0;
  return MS_OK;
}

static ms_status adl_charge(ms_engine *e, const ms_shortfall_loss *l, double *unmatched) {
  ms_status st = deleverage(e, 1 - l->side, l->adl_qty, l->bankruptcy_price, l->mark, l->t, unmatched);
  /* Units no opposite position took are sold to the market at the fill
   * after all (the caller sends them), and their share of the bad debt is
   * no one's (the fund is empty: ADL runs only beyond it). */
  if (*unmatched > 0) e->sum->uncovered_loss += *unmatched * fabs(l->bankruptcy_price - l->mark);
  return st;
}

const ms_shortfall_type ms_shortfall_adl = {"adl", adl_adl_units, adl_charge};

/* ---- the table ---- */

/* liquidation.shortfall accepts these names, in this order (docs/scenario.md). */
const ms_shortfall_type *const ms_shortfall_types[] = {&ms_shortfall_socialize, &ms_shortfall_adl, NULL};

const ms_shortfall_type *ms_shortfall_find(const char *name) {
  for (int i = 0; ms_shortfall_types[i]; i++)
    if (strcmp(ms_shortfall_types[i]->name, name) == 0) return ms_shortfall_types[i];
  return NULL;
}

