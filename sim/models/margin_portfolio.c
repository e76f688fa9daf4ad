/*
 * margin_portfolio — portfolio margin: the worst weighted loss over a grid
 * of price x volatility shocks (margin.h).
 *
 * Portfolio grid ("deribit"): core shocks x_i from -range to +range in
 * price_steps even steps, each with volatility up, unchanged (vol_same) and
 * down (vol x (1 +/- v (30 d / max(DTE, dte_floor))^power)), weight 1 (the
 * two outermost at vol up only with edge_vol_up_only); then the extended
 * shocks at vol up with their weights. A vol-up scenario's volatility is at
 * least min_vol_up. "span": moves of 0, +/-1/3, +/-2/3, +/-1 scan range with
 * vol x (1 +/- vol_range), weight 1, and +/-extreme_multiple scan ranges at
 * unchanged vol, weight extreme_weight.
 *
 * Portfolio requirement: scan = max(0, max_s w_s loss_s); core = scan + F
 * ("deribit") or max(scan, F) ("span": SPAN's short option minimum), F =
 * short_option_floor x short options x P; core = max(core, minimum delta
 * requirement); initial = im_factor x core + contingencies, maintenance =
 * mm_factor x core + contingencies (docs/engine.md, "Portfolio margin").
 */
#include "models/margin_int.h"
#include "core/units.h"

static void build_grid(ms_margin *m, const ms_portfolio_cfg *pc) {
  int n = 0;
  if (pc->grid == MS_GRID_SPAN) {
    m->span = 1;
    static const double third[] = {0, 1.0 / 3, -1.0 / 3, 2.0 / 3, -2.0 / 3, 1, -1};
    for (int i = 0; i < 7; i++)
      for (int v = 1; v >= -1; v -= 2)
        m->scen[n++] = (scenario){third[i] * pc->span.scan_range, v, 1.0, 0, 0, 0};
    m->scen[n++] = (scenario){pc->span.extreme_multiple * pc->span.scan_range, 0, pc->span.extreme_weight, 0, 0, 0};
    m->scen[n++] = (scenario){-pc->span.extreme_multiple * pc->span.scan_range, 0, pc->span.extreme_weight, 0, 0, 0};
  } else {
    for (int64_t i = 0; i < pc->price_steps; i++) {
      double x = -pc->price_range + 2.0 * pc->price_range * (double)i / (double)(pc->price_steps - 1);
      int edge = i == 0 || i == pc->price_steps - 1;
      for (int v = 1; v >= -1; v--) {
        if (v == 0 && !pc->vol_same) continue;
        if (v != 1 && edge && pc->edge_vol_up_only) continue;
        m->scen[n++] = (scenario){x, v, 1.0, 0, 0, 0};
      }
    }
    for (int i = 0; i < pc->nextended; i++)
      m->scen[n++] = (scenario){pc->extended[i].shock, 1, pc->extended[i].weight, 0, 0, 0};
  }
  m->nscen = n;
  for (int i = 0; i < n; i++) {
    scenario *a = &m->scen[i];
    a->lg = log1p(a->x);
    for (int j = 0; j < n; j++) {
      const scenario *b = &m->scen[j];
      if (b->x != a->x || b->w < a->w) continue;
      if (b->vsign > a->vsign) a->dom_short = 1;
      if (b->vsign < a->vsign) a->dom_long = 1;
    }
  }
  /* A perp loses q P x in scenario x: the core ratio of each side is the
   * largest weighted adverse move, and at least the minimum delta rate of
   * its net delta (a perp alone hedges nothing). */
  m->m_eff[0] = m->m_eff[1] = pc->min_delta_net;
  for (int i = 0; i < n; i++) {
    double w = m->scen[i].w, x = m->scen[i].x;
    if (-x * w > m->m_eff[0]) m->m_eff[0] = -x * w;
    if (x * w > m->m_eff[1]) m->m_eff[1] = x * w;
  }
  for (int s = 0; s < 2; s++) {
    m->im_side[s] = pc->im_factor * m->m_eff[s] + pc->perp_contingency_im + pc->fee_provision;
    m->ratio_side[s] = pc->mm_factor * m->m_eff[s] + pc->perp_contingency_mm + pc->fee_provision;
  }
}

static ms_status portfolio_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  (void)err;
  const ms_portfolio_cfg *pc = &cfg->margin.portfolio;
  build_grid(m, pc);
  m->vol_up = pc->vol_up;
  m->vol_down = pc->vol_down;
  m->vol_range = pc->span.vol_range;
  m->p_short = pc->vega_power_short;
  m->p_long = pc->vega_power_long;
  m->dte_switch = (double)pc->vega_power_switch / m->year_ms;
  m->dte_floor = (double)pc->dte_floor / m->year_ms;
  m->opt_floor = pc->short_option_floor;
  m->mm_factor = pc->mm_factor;
  m->im_factor = pc->im_factor;
  m->min_vol_up = pc->min_vol_up;
  m->md_net = pc->min_delta_net;
  m->md_hedged = pc->min_delta_hedged;
  m->perp_im = pc->perp_contingency_im;
  m->perp_mm = pc->perp_contingency_mm;
  m->opt_im = pc->option_contingency_im;
  m->opt_mm = pc->option_contingency_mm;
  m->fee = pc->fee_provision;
  m->initial = m->im_side[0];
  m->maintenance = m->ratio_side[0];
  return MS_OK;
}

/* DTE scaling (30 d / max(DTE, dte_floor))^power of a leg's volatility shocks. */
double ms_pm_dte_scale(const ms_margin *m, double tau) {
  double dte = tau > m->dte_floor ? tau : m->dte_floor;
  double pw = dte < m->dte_switch ? m->p_short : m->p_long;
  return pow(30.0 * (double)MS_MS_PER_DAY / m->year_ms / dte, pw);
}

/* Naked short options (Derive's option contingency, margin-parameters.md
 * 5.2): per expiry and strike, the short quantity net of the long options
 * there, calls and puts alike as in derivexyz/v2-core PMRMLib_2_1. */
double ms_pm_naked_shorts(const ms_position *p) {
  double naked = 0;
  int seen[MS_MAX_LEGS] = {0};
  for (int i = 0; i < p->nlegs; i++) {
    if (seen[i]) continue;
    double net = p->legs[i].q;
    for (int j = i + 1; j < p->nlegs; j++)
      if (!seen[j] && p->legs[j].expiry == p->legs[i].expiry && p->legs[j].strike == p->legs[i].strike) {
        net += p->legs[j].q;
        seen[j] = 1;
      }
    if (net < 0) naked -= net;
  }
  return naked;
}

/* Paradex's minimum delta requirement (margin-parameters.md 5.1):
 * (net rate x |net delta| + hedged rate x hedged delta) x P, hedged delta =
 * (gross delta - |net delta|) / 2, gross delta = the sum of every
 * position's |delta| (the perp's is its quantity; an option's is its
 * Black–Scholes delta at its smile volatility, times its quantity). */
double ms_pm_min_delta(ms_margin *m, const ms_position *p, const double *tau, const ms_view *v) {
  double P = v->P, net = p->q, gross = fabs(p->q);
  for (int i = 0; i < p->nlegs; i++) {
    const ms_leg *l = &p->legs[i];
    ms_greeks g;
    ms_bs_greeks(l->is_call, P, l->strike, tau[i], ms_smile_vol(&m->smile, v->vol, l->strike, P), 0, 0, &g);
    net += l->q * g.delta;
    gross += fabs(l->q * g.delta);
  }
  m->bs_count += p->nlegs;
  return (m->md_net * fabs(net) + m->md_hedged * 0.5 * (gross - fabs(net))) * P;
}

/* Contingencies and the fee provision (USD) of the initial (@p initial) or
 * maintenance requirement; they do not scale with im_factor / mm_factor. */
static double portfolio_extra(const ms_margin *m, const ms_position *p, double P, int initial) {
  double units = fabs(p->q);
  for (int i = 0; i < p->nlegs; i++) units += fabs(p->legs[i].q);
  double perp = initial ? m->perp_im : m->perp_mm, opt = initial ? m->opt_im : m->opt_mm;
  double naked = opt > 0 ? ms_pm_naked_shorts(p) : 0;
  return (perp * fabs(p->q) + opt * naked + m->fee * units) * P;
}

/* The core requirement: the scan risk with the short option floor (added,
 * or on the span grid its lower bound), at least the minimum delta
 * requirement. */
static double portfolio_core(const ms_margin *mc, const ms_position *p, const ms_view *v) {
  ms_margin *m = (ms_margin *)mc;
  double P = v->P, base = p->q * P;
  double tau[MS_MAX_LEGS], scale[MS_MAX_LEGS], shortq = 0;
  for (int i = 0; i < p->nlegs; i++) {
    tau[i] = tau_of(m, &p->legs[i], v->t);
    scale[i] = m->span ? 1.0 : ms_pm_dte_scale(m, tau[i]);
    base += p->legs[i].q * ms_leg_value(&p->legs[i], &m->smile, P, tau[i], v->vol);
    if (p->legs[i].q < 0) shortq -= p->legs[i].q;
  }
  double lm[MS_MAX_LEGS]; /* ln(P / K) */
  for (int i = 0; i < p->nlegs; i++) lm[i] = log(P / p->legs[i].strike);
  int cls = legs_sign(p);
  double worst = 0;
  int64_t evals = 0;
  for (int s = 0; s < m->nscen; s++) {
    const scenario *sc = &m->scen[s];
    if (dominated(sc, cls)) continue;
    evals += p->nlegs;
    double S = P * (1.0 + sc->x), val = p->q * S;
    for (int i = 0; i < p->nlegs; i++) {
      const ms_leg *l = &p->legs[i];
      double lmi = lm[i] + sc->lg; /* ln(S / K) */
      double sv = v->vol * vol_factor(m, sc, scale[i]);
      if (m->smile.skew != 0) {
        double f = 1.0 - m->smile.skew * lmi;
        sv *= f > m->smile.floor ? f : m->smile.floor;
      }
      if (sc->vsign > 0 && sv < m->min_vol_up) sv = m->min_vol_up;
      val += l->q * ms_bs_value_lm(l->is_call, S, l->strike, lmi, tau[i], sv);
    }
    double loss = sc->w * (base - val);
    if (loss > worst) worst = loss;
  }
  m->bs_count += p->nlegs + evals;
  double F = m->opt_floor * shortq * P;
  double core = m->span ? (worst > F ? worst : F) : worst + F;
  if (m->md_net > 0 || m->md_hedged > 0) {
    double md = ms_pm_min_delta(m, p, tau, v);
    if (md > core) core = md;
  }
  return core;
}

static double portfolio_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return m->im_factor * portfolio_core(m, p, v) + portfolio_extra(m, p, v->P, 1);
}

static double portfolio_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return m->mm_factor * portfolio_core(m, p, v) + portfolio_extra(m, p, v->P, 0);
}

const ms_margin_type ms_margin_portfolio = {
    .name = "portfolio", .key_mode = MS_KEY_COLLATERAL, .scan = 1,
    .init = portfolio_init, .pos_mm = portfolio_pos_mm, .pos_im = portfolio_pos_im};
