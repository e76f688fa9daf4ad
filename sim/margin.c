/*
 * margin — static, tiered, dynamic and portfolio margin (see margin.h and
 * docs/engine.md).
 *
 * Tiered: MM(N) = mmr_k N - cum_k in the tier k holding N, with the
 * maintenance amount cum_k = cum_{k-1} + floor_k (mmr_k - mmr_{k-1}), cum_0 = 0
 * (Binance's leverageBracket "cum", Hyperliquid's maintenance deduction),
 * which makes MM continuous across tiers. IM(N) = imr_k N.
 *
 * Thresholds of perp-only positions. Long: f(P) = C - qE + qP - MM(qP) rises
 * with P (slope q(1 - mmr)), so the root is unique; in tier k,
 * P = (qE - C - cum_k) / (q (1 - mmr_k)). Short (s = -q):
 * g(P) = C + sE - sP - MM(sP) falls with P; in tier k,
 * P = (C + sE + cum_k) / (s (1 + mmr_k)). The tier holding the root is the
 * last one whose floor price has f <= 0 (long) or g >= 0 (short). Static,
 * dynamic and portfolio margin are the one-tier case with a ratio per side.
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
#include "marginsim/margin.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "marginsim/units.h"

#define INV_SQRT_2PI 0.39894228040143267794
/* core shocks x up to 3 volatility states + extended rows (SPAN needs 16) */
#define MAX_SCEN (3 * MS_MAX_PRICE_STEPS + MS_MAX_EXTENDED)
/* Bounds of N(x) and phi(x) for the bands, read from a grid of x in steps of
 * 1/NGRID_PER_UNIT over [-NGRID_HALF, NGRID_HALF] units, rounded outwards. */
#define NGRID_PER_UNIT 64
#define NGRID_HALF 8
#define NGRID (2 * NGRID_HALF * NGRID_PER_UNIT + 1)
#define TWO_PI 6.28318530717958647692
#define LN2 0.69314718055994530942
/* The bands' price box: P0 +/- this x P0 */
#define BAND_BOX 0.10

typedef struct {
  double x;          /* relative price move */
  int vsign;         /* -1 vol down, 0 unchanged, +1 up */
  double w;          /* weight */
  double lg;         /* ln(1 + x) */
  /* Black–Scholes values rise with volatility, so when every option leg of
   * an account has the same sign, the scenario at the same price move with
   * the higher (short legs) or lower (long legs) volatility and at least the
   * weight loses at least as much: this one cannot be the worst. */
  int dom_short, dom_long;
} scenario;

struct ms_margin {
  const ms_margin_type *type;
  int tiered;                        /* type->tiered, kept here for the perp-only closed forms */
  double year_ms;                    /* ms per year */
  ms_smile smile;
  /* static and dynamic */
  double initial, maintenance;       /* ratios (dynamic: current) */
  double ratio_side[2];              /* maintenance ratio of perp longs, shorts */
  /* tiered */
  int ntiers;
  double floor[MS_MAX_TIERS];
  double mmr[MS_MAX_TIERS], imr[MS_MAX_TIERS];
  double cum[MS_MAX_TIERS];
  double kappa_long, kappa_short;    /* threshold shift per unit of per-unit collateral lost */
  /* dynamic: sigma_hat^2 = (sum of squared log returns) / (sum of their
   * durations), both over the same published observations (see
   * ms_margin_update) */
  ms_dynamic_cfg dyn;
  double sigma0;                     /* initial sigma_hat, annualised */
  double s2;                         /* sigma_hat^2, per year */
  double last_price;                 /* USD, the last observation used */
  int64_t last_obs;                  /* ms, its observation time */
  double ew_r2, ew_dt;               /* ewma: decayed sums of r^2 and of durations (years) */
  double *ring_r2, *ring_dt;         /* window: r^2 and durations (years) per update interval */
  int64_t nring, ring_pos;           /* window: buckets, the one the next update fills */
  int64_t ring_used;                 /* window: buckets with a sample (dt > 0) */
  double ring_r2_sum, ring_dt_sum;
  /* portfolio */
  int nscen;
  scenario scen[MAX_SCEN];
  int span;                          /* grid kind */
  double vol_up, vol_down, vol_range;
  double p_short, p_long;            /* vega powers */
  double dte_switch, dte_floor;      /* years */
  double opt_floor, mm_factor, im_factor;
  double min_vol_up;                 /* annualised, vol-up scenarios */
  double md_net, md_hedged;          /* minimum delta requirement rates */
  double perp_im, perp_mm, opt_im, opt_mm, fee; /* contingencies and fee provision, fractions of notional */
  double m_eff[2];                   /* portfolio core ratio of perp longs, shorts */
  double im_side[2];                 /* portfolio initial ratio of perp longs, shorts */
  int64_t bs_count;                  /* Black–Scholes evaluations */
  double ncdf[NGRID];                /* N at the grid points */
  double npdf[NGRID_HALF * NGRID_PER_UNIT + 1]; /* phi at the grid points >= 0 */
};

static int tier_of(const ms_margin *m, double notional) {
  int k = 0;
  while (k + 1 < m->ntiers && notional >= m->floor[k + 1]) k++;
  return k;
}

static double tiered_mm_n(const ms_margin *m, double n) {
  int k = tier_of(m, n);
  return m->mmr[k] * n - m->cum[k];
}

/* ---- set-up ---- */

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

static void set_dynamic_ratio(ms_margin *m, double ratio) {
  m->maintenance = ratio;
  m->initial = ratio * m->dyn.initial_multiplier;
  m->ratio_side[0] = m->ratio_side[1] = ratio;
}

static double dynamic_target(const ms_margin *m) {
  double h = (double)m->dyn.liquidation_horizon / m->year_ms;
  double r = m->dyn.k * sqrt(m->s2) * sqrt(h);
  return r < m->dyn.floor ? m->dyn.floor : r > m->dyn.cap ? m->dyn.cap : r;
}

/* ---- each model's set-up ---- */

static void dynamic_path_start(ms_margin *m, double p0);

static ms_status static_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  (void)cfg;
  (void)err;
  m->ratio_side[0] = m->ratio_side[1] = m->maintenance;
  return MS_OK;
}

static ms_status tiered_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  (void)err;
  const ms_margin_cfg *mc = &cfg->margin;
  m->ntiers = mc->ntiers;
  for (int k = 0; k < mc->ntiers; k++) {
    m->floor[k] = mc->tiers[k].floor;
    m->mmr[k] = mc->tiers[k].maintenance;
    m->imr[k] = mc->tiers[k].initial;
    m->cum[k] = k == 0 ? 0.0 : m->cum[k - 1] + m->floor[k] * (m->mmr[k] - m->mmr[k - 1]);
  }
  m->ratio_side[0] = m->ratio_side[1] = m->maintenance;
  return MS_OK;
}

static ms_status dynamic_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  const ms_margin_cfg *mc = &cfg->margin;
  m->dyn = mc->dynamic;
  m->sigma0 = mc->dynamic.initial_vol > 0 ? mc->dynamic.initial_vol : cfg->market.entry_vol;
  if (m->dyn.estimator == MS_VOLEST_WINDOW) {
    m->nring = (m->dyn.window + m->dyn.update_every - 1) / m->dyn.update_every;
    m->ring_r2 = malloc((size_t)m->nring * sizeof *m->ring_r2);
    m->ring_dt = malloc((size_t)m->nring * sizeof *m->ring_dt);
    if (!m->ring_r2 || !m->ring_dt) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  }
  dynamic_path_start(m, cfg->market.initial_price);
  return MS_OK;
}

static void dynamic_free(ms_margin *m) {
  free(m->ring_r2);
  free(m->ring_dt);
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

/* ---- the instance ---- */

const ms_margin_type *ms_margin_type_find(const char *name) {
  for (int i = 0; ms_margin_types[i]; i++)
    if (strcmp(ms_margin_types[i]->name, name) == 0) return ms_margin_types[i];
  return NULL;
}

ms_status ms_margin_new(ms_margin **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  const ms_margin_cfg *mc = &cfg->margin;
  int ntypes = 0;
  while (ms_margin_types[ntypes]) ntypes++;
  if (mc->model < 0 || mc->model >= ntypes)
    return ms_error_set(err, MS_ERR_INTERNAL, "margin.model %d not available", mc->model);
  ms_margin *m = calloc(1, sizeof *m);
  if (!m) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  m->type = ms_margin_types[mc->model];
  m->tiered = m->type->tiered;
  m->year_ms = cfg->market.days_per_year * (double)MS_MS_PER_DAY;
  for (int k = 0; k < NGRID; k++) m->ncdf[k] = ms_norm_cdf((double)(k - NGRID / 2) / NGRID_PER_UNIT);
  for (int k = 0; k <= NGRID_HALF * NGRID_PER_UNIT; k++) {
    double x = (double)k / NGRID_PER_UNIT;
    m->npdf[k] = INV_SQRT_2PI * exp(-0.5 * x * x);
  }
  m->smile = (ms_smile){cfg->market.smile.skew, cfg->market.smile.floor};
  m->initial = mc->initial;
  m->maintenance = mc->maintenance;
  m->ntiers = 1;
  m->mmr[0] = mc->maintenance;
  m->imr[0] = mc->initial;
  ms_status s = m->type->init(m, cfg, err);
  if (s) {
    ms_margin_free(m);
    return s;
  }
  double rmax = m->mmr[m->ntiers - 1], rmin = m->mmr[0];
  m->kappa_long = 1.0 / (1.0 - rmax);
  m->kappa_short = 1.0 / (1.0 + rmin);
  *out = m;
  return MS_OK;
}

void ms_margin_free(ms_margin *m) {
  if (!m) return;
  if (m->type->free) m->type->free(m);
  free(m);
}

const ms_margin_type *ms_margin_get_type(const ms_margin *m) { return m->type; }
int64_t ms_margin_bs_count(const ms_margin *m) { return m->bs_count; }

/* ---- perp-only accounts ---- */

double ms_margin_perp_mm(const ms_margin *m, double q, double P) {
  double n = fabs(q) * P;
  if (m->tiered) return tiered_mm_n(m, n);
  return m->ratio_side[q > 0 ? 0 : 1] * n;
}

double ms_margin_perp_im(const ms_margin *m, double q, double P) {
  double n = fabs(q) * P;
  if (m->tiered) return m->imr[tier_of(m, n)] * n;
  if (m->type->scan) return m->im_side[q > 0 ? 0 : 1] * n;
  return m->initial * n;
}

double ms_margin_mm_amount(const ms_margin *m, double notional) {
  return m->tiered ? m->cum[tier_of(m, notional)] : 0.0;
}

double ms_margin_threshold(const ms_margin *m, double C, double q, double E) {
  assert(q != 0);
  if (!m->tiered) {
    if (q > 0) {
      double t = (q * E - C) / (q * (1.0 - m->ratio_side[0]));
      return t > 0 ? t : 0.0;
    }
    double s = -q;
    return (C + s * E) / (s * (1.0 + m->ratio_side[1]));
  }
  if (q > 0) {
    if (C - q * E >= 0) return 0.0; /* f(0) >= 0: never eligible at a positive price */
    int k = 0;
    for (int j = 1; j < m->ntiers; j++) {
      double p = m->floor[j] / q;
      if (C - q * E + q * p - tiered_mm_n(m, m->floor[j]) <= 0) k = j;
      else break;
    }
    return (q * E - C - m->cum[k]) / (q * (1.0 - m->mmr[k]));
  }
  double s = -q;
  int k = 0;
  for (int j = 1; j < m->ntiers; j++) {
    double p = m->floor[j] / s;
    if (C + s * E - s * p - tiered_mm_n(m, m->floor[j]) >= 0) k = j;
    else break;
  }
  return (C + s * E + m->cum[k]) / (s * (1.0 + m->mmr[k]));
}

int ms_margin_eligible(const ms_margin *m, double C, double q, double E, double P) {
  return ms_margin_equity(C, q, E, P) < ms_margin_perp_mm(m, q, P);
}

double ms_margin_key(const ms_margin *m, double C, double q, double E, double shift) {
  if (m->type->key_mode == MS_KEY_COLLATERAL) return C / fabs(q) + shift;
  double t = ms_margin_threshold(m, C, q, E);
  return q > 0 ? -t + m->kappa_long * shift : t + m->kappa_short * shift;
}

double ms_margin_boundary(const ms_margin *m, int is_long, double P, double E, double shift) {
  if (m->type->key_mode == MS_KEY_COLLATERAL)
    return is_long ? E - P * (1.0 - m->ratio_side[0]) + shift : P * (1.0 + m->ratio_side[1]) - E + shift;
  return is_long ? -P + m->kappa_long * shift : P + m->kappa_short * shift;
}

/* ---- any account ---- */

static inline double tau_of(const ms_margin *m, const ms_leg *l, int64_t t) {
  double tau = (double)(l->expiry - t) / m->year_ms;
  return tau > 0 ? tau : 0.0;
}

static double legs_value(ms_margin *mm, const ms_position *p, double S, int64_t t, double vol) {
  double v = 0;
  for (int i = 0; i < p->nlegs; i++) v += p->legs[i].q * ms_leg_value(&p->legs[i], &mm->smile, S, tau_of(mm, &p->legs[i], t), vol);
  mm->bs_count += p->nlegs;
  return v;
}

double ms_margin_leg_value(const ms_margin *m, const ms_leg *l, double S, int64_t t, double vol) {
  ((ms_margin *)m)->bs_count++;
  return ms_leg_value(l, &m->smile, S, tau_of(m, l, t), vol);
}

void ms_margin_leg_greeks(const ms_margin *m, const ms_leg *l, double S, int64_t t, double vol, ms_greeks *g) {
  ((ms_margin *)m)->bs_count++;
  ms_bs_greeks(l->is_call, S, l->strike, tau_of(m, l, t), ms_smile_vol(&m->smile, vol, l->strike, S), 0, 0, g);
}

double ms_margin_pos_equity(const ms_margin *m, const ms_position *p, double E, const ms_view *v) {
  return p->C + p->q * (v->P - E) + legs_value((ms_margin *)m, p, v->P, v->t, v->vol);
}

/* |q| P plus the underlying notional of short options */
static double gross_notional(const ms_position *p, double P) {
  double g = fabs(p->q);
  for (int i = 0; i < p->nlegs; i++) if (p->legs[i].q < 0) g -= p->legs[i].q;
  return g * P;
}

/* DTE scaling (30 d / max(DTE, dte_floor))^power of a leg's volatility shocks. */
static double dte_scale(const ms_margin *m, double tau) {
  double dte = tau > m->dte_floor ? tau : m->dte_floor;
  double pw = dte < m->dte_switch ? m->p_short : m->p_long;
  return pow(30.0 * (double)MS_MS_PER_DAY / m->year_ms / dte, pw);
}

/* Scenario volatility factor: 1 +/- v x scale (deribit), 1 +/- vol_range (span). */
static inline double vol_factor(const ms_margin *m, const scenario *s, double scale) {
  if (s->vsign == 0) return 1.0;
  if (m->span) return 1.0 + s->vsign * m->vol_range;
  double f = 1.0 + (s->vsign > 0 ? m->vol_up : -m->vol_down) * scale;
  return f > 0.01 ? f : 0.01;
}

/* -1: every option leg short; +1: every one long; 0: mixed or none. */
static int legs_sign(const ms_position *p) {
  int neg = 0, pos = 0;
  for (int i = 0; i < p->nlegs; i++) {
    neg |= p->legs[i].q < 0;
    pos |= p->legs[i].q > 0;
  }
  return neg && !pos ? -1 : pos && !neg ? 1 : 0;
}

static inline int dominated(const scenario *sc, int cls) {
  return (cls < 0 && sc->dom_short) || (cls > 0 && sc->dom_long);
}

/* Naked short options (Derive's option contingency, margin-parameters.md
 * 5.2): per expiry and strike, the short quantity net of the long options
 * there, calls and puts alike as in derivexyz/v2-core PMRMLib_2_1. */
static double naked_shorts(const ms_position *p) {
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
static double min_delta_req(ms_margin *m, const ms_position *p, const double *tau, const ms_view *v) {
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
  double naked = opt > 0 ? naked_shorts(p) : 0;
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
    scale[i] = m->span ? 1.0 : dte_scale(m, tau[i]);
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
    double md = min_delta_req(m, p, tau, v);
    if (md > core) core = md;
  }
  return core;
}

/* Accounts with option legs, per model. */
static double static_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return m->initial * gross_notional(p, v->P);
}

static double static_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return m->maintenance * gross_notional(p, v->P);
}

static double tiered_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v) {
  double g = gross_notional(p, v->P);
  return m->imr[tier_of(m, g)] * g;
}

static double tiered_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return tiered_mm_n(m, gross_notional(p, v->P));
}

static double portfolio_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return m->im_factor * portfolio_core(m, p, v) + portfolio_extra(m, p, v->P, 1);
}

static double portfolio_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return m->mm_factor * portfolio_core(m, p, v) + portfolio_extra(m, p, v->P, 0);
}

double ms_margin_pos_im(const ms_margin *m, const ms_position *p, double E, const ms_view *v) {
  (void)E;
  if (p->nlegs == 0) return ms_margin_perp_im(m, p->q, v->P);
  return m->type->pos_im(m, p, v);
}

double ms_margin_pos_mm(const ms_margin *m, const ms_position *p, double E, const ms_view *v) {
  (void)E;
  if (p->nlegs == 0) return ms_margin_perp_mm(m, p->q, v->P);
  return m->type->pos_mm(m, p, v);
}

double ms_margin_pos_surplus(const ms_margin *m, const ms_position *p, double E, const ms_view *v) {
  return ms_margin_pos_equity(m, p, E, v) - ms_margin_pos_mm(m, p, E, v);
}

/*
 * Bands. S = equity - maintenance (the surplus) is positive at the check
 * (P0, t0). From (P0, t0) to (P, t) in two moves, the price first (at t0),
 * then the time (at P):
 *   S(P, t) >= S0 - D (|P - P0|) - L_t (t - t0)
 * with D = D_up for P > P0 and D_dn below: bounds on how fast S can fall as
 * the price rises or falls at t0, over the price box [P0 - d, P0 + d]
 * (d = 10% of P0); L_t bounds |dS/dt| over the price box and
 * [t0, t0 + tau_min / 2] (tau_min the nearest expiry), or the time term is
 * bounded by integrating theta towards the expiry. S stays positive while
 * each term uses less than its share of S0.
 *
 * Per unit of option over S in [S_lo, S_hi], volatility in [s_lo, s_hi] and
 * time to expiry in [tau_lo, tau_hi] (r = 0):
 *   d1 = ln(S/K) / (s sqrt(tau)) + s sqrt(tau) / 2 lies in [d1_lo, d1_hi]
 *   delta in [N(d1_lo), N(d1_hi)] (call), [-N(-d1_lo), -N(-d1_hi)] (put)
 *   phi(d1) <= phi at the d1 of the range nearest 0
 *   |theta| <= S_hi phi_max s_hi / (2 sqrt(tau_lo));   vega <= S_hi sqrt(tau_hi) phi_max
 *   the smile's vega term: |vega dsigma/dS| <= vol |skew| sqrt(tau_hi) phi_max
 * The slope of the equity is an interval: the perp plus each leg's delta
 * interval times its quantity (signs kept: a covered call's slope is in
 * [0, q], not [-2q, 2q]). Portfolio margin: scenario s (move x, g = 1 + x,
 * weight w) loses L_s(P) = V(P) - V_s(P g), so
 *   L_s' = -q_perp x + sum_l q_l (delta_l(P) - g delta_l,s(P g)),
 * an interval from the two delta intervals; the requirement max(0, max_s w L_s)
 * rises by at most max(0, max_s w sup L_s') per unit of P going up and
 * max(0, max_s -w inf L_s') going down (a max rises no faster than its
 * fastest member). Scenarios that cannot be the worst (dom_short/dom_long)
 * are left out of both the requirement and its bounds. For time, the same
 * bounds per scenario at S (1 + x) with the scenario's volatility range; its
 * DTE scaling moves sigma at most at the rate vol v power (30 d)^power /
 * DTE^(power + 1).
 */
typedef struct {
  double dlo, dhi;                 /* delta interval per unit */
  double phi, theta, vega;         /* bounds per unit */
} leg_bounds;

/* Grid index at or below (up = 0) or at or above (up = 1) x, clamped to the
 * grid, with a margin of 1e-6 of a step against rounding. N is increasing,
 * so N(grid below) <= N(x) <= N(grid above); outside the grid 0 and 1 are
 * the bounds. */
static inline int grid_ix(double x, int up) {
  double u = (x + NGRID_HALF) * NGRID_PER_UNIT;
  if (!(u > 0)) return up ? 0 : -1;
  if (u >= NGRID - 1) return up ? NGRID : NGRID - 1;
  return up ? (int)u + 1 : (int)(u - 1e-6); /* u > 0: truncation is floor */
}

static inline double ncdf_lo(const ms_margin *m, double x) { /* <= N(x) */
  int k = grid_ix(x, 0);
  return k < 0 ? 0.0 : m->ncdf[k];
}

static inline double ncdf_hi(const ms_margin *m, double x) { /* >= N(x) */
  int k = grid_ix(x, 1);
  return k >= NGRID ? 1.0 : m->ncdf[k];
}

static inline double npdf_hi(const ms_margin *m, double ax) { /* >= phi(x), ax = |x| */
  double u = ax * NGRID_PER_UNIT - 1e-6;
  if (!(u > 0)) return INV_SQRT_2PI;
  if (u >= NGRID_HALF * NGRID_PER_UNIT) return m->npdf[NGRID_HALF * NGRID_PER_UNIT];
  return m->npdf[(int)u];
}

/* The range of d1 and the largest phi(d1). @p ll, @p lh: ln(S_lo / K),
 * ln(S_hi / K); @p r_lo, @p r_hi: the least and largest s sqrt(tau). */
static inline void d1_range(const ms_margin *m, double ll, double lh, double r_lo, double r_hi, double *d1_lo,
                            double *d1_hi, double *phi) {
  *d1_hi = (lh >= 0 ? lh / r_lo : lh / r_hi) + 0.5 * r_hi;
  *d1_lo = (ll <= 0 ? ll / r_lo : ll / r_hi) + 0.5 * r_lo;
  double dmin = *d1_lo <= 0 && *d1_hi >= 0 ? 0 : (fabs(*d1_lo) < fabs(*d1_hi) ? fabs(*d1_lo) : fabs(*d1_hi));
  *phi = npdf_hi(m, dmin);
}

/* Price bounds at one time (sq = sqrt(tau)): the delta interval and phi. */
static void bound_delta(const ms_margin *m, int is_call, double ll, double lh, double s_lo, double s_hi, double sq,
                        leg_bounds *b) {
  double d1_lo, d1_hi;
  d1_range(m, ll, lh, s_lo * sq, s_hi * sq, &d1_lo, &d1_hi, &b->phi);
  if (is_call) {
    b->dlo = ncdf_lo(m, d1_lo);
    b->dhi = ncdf_hi(m, d1_hi);
  } else {
    b->dlo = -ncdf_hi(m, -d1_lo);
    b->dhi = -ncdf_lo(m, -d1_hi);
  }
}

/* Time bounds over sqrt(tau) in [sq_lo, sq_hi]: theta and vega. */
static void bound_time(const ms_margin *m, double ll, double lh, double S_hi, double s_lo, double s_hi, double sq_lo,
                       double sq_hi, leg_bounds *b) {
  double d1_lo, d1_hi;
  d1_range(m, ll, lh, s_lo * sq_lo, s_hi * sq_hi, &d1_lo, &d1_hi, &b->phi);
  b->theta = S_hi * b->phi * s_hi / (2 * sq_lo);
  b->vega = S_hi * sq_hi * b->phi;
}

/* [lo, hi] += q [a, b] */
static inline void add_scaled(double *lo, double *hi, double q, double a, double b) {
  if (q >= 0) { *lo += q * a; *hi += q * b; }
  else { *lo += q * b; *hi += q * a; }
}

void ms_margin_band(const ms_margin *mc, const ms_position *p, double E, const ms_view *v, double surplus,
                    ms_band *b) {
  ms_margin *m = (ms_margin *)mc;
  double S0 = isnan(surplus) ? ms_margin_pos_surplus(m, p, E, v) : surplus;
  if (!(S0 > 0)) {
    *b = (ms_band){INFINITY, -INFINITY, v->t, -INFINITY, -INFINITY};
    return;
  }
  int dyn = m->type->ratio_moves, pm = m->type->scan;
  if (pm && p->nlegs > 0 && (m->md_net > 0 || m->md_hedged > 0)) {
    /* The minimum delta requirement B moves with the deltas. The core is
     * max(A, B) with A the scan part; max(A, B) - max(A0, B0) <=
     * (A - A0)+ + (B - B0)+, and with |delta| <= 1 per unit B stays below
     * Bmax = P (|net - hedged / 2| + hedged / 2) x units over the box and
     * any time: the surplus left for the rest is S0 - mm_factor (Bmax - B0). */
    double taus[MS_MAX_LEGS], units = fabs(p->q);
    for (int i = 0; i < p->nlegs; i++) {
      taus[i] = tau_of(m, &p->legs[i], v->t);
      units += fabs(p->legs[i].q);
    }
    double B0 = min_delta_req(m, p, taus, v);
    double Bmax = (1 + BAND_BOX) * v->P * (fabs(m->md_net - 0.5 * m->md_hedged) + 0.5 * m->md_hedged) * units;
    if (Bmax > B0) S0 -= m->mm_factor * (Bmax - B0);
    if (!(S0 > 0)) { /* too close to call: revalue at once */
      *b = (ms_band){INFINITY, -INFINITY, v->t, -INFINITY, -INFINITY};
      return;
    }
  }
  /* S0 is shared between price, time, and (when they can move) the ratio and
   * the socialized-loss shift; the shares add up to less than S0. */
  int parts = 2 + dyn + (p->q != 0);
  double share = 0.98 * S0 / parts;
  double P0 = v->P, d = BAND_BOX * P0, Pmax = P0 + d, Pmin = P0 - d;
  double tau_min = INFINITY;
  for (int i = 0; i < p->nlegs; i++) {
    double tau = tau_of(m, &p->legs[i], v->t);
    if (tau < tau_min) tau_min = tau;
  }
  if (!(tau_min > 0)) { /* a leg at its expiry: revalue at once */
    *b = (ms_band){INFINITY, -INFINITY, v->t, -INFINITY, -INFINITY};
    return;
  }
  double tau_cut = 0.5 * tau_min; /* the Lipschitz box keeps half the nearest expiry's time */
  double month = 30.0 * (double)MS_MS_PER_DAY / m->year_ms;
  double pw = m->p_short > m->p_long ? m->p_short : m->p_long;
  double vmax = m->vol_up > m->vol_down ? m->vol_up : m->vol_down;
  int cls = legs_sign(p);
  /* smile factor range over the box, widest price range any valuation uses */
  double xmax = 0, xmin = 0;
  if (pm)
    for (int s = 0; s < m->nscen; s++) {
      if (dominated(&m->scen[s], cls)) continue;
      if (m->scen[s].x > xmax) xmax = m->scen[s].x;
      if (m->scen[s].x < xmin) xmin = m->scen[s].x;
    }
  double smax = 1, smin = 1;
  for (int i = 0; i < p->nlegs; i++) {
    double K = p->legs[i].strike;
    double Ss[2] = {Pmax * (1 + xmax), Pmin * (1 + xmin)};
    for (int j = 0; j < 2; j++) {
      double f = 1 + m->smile.skew * log(K / Ss[j]);
      if (f < m->smile.floor) f = m->smile.floor;
      if (f > smax) smax = f;
      if (f < smin) smin = f;
    }
  }
  if (smin > m->smile.floor && m->smile.skew == 0) smin = 1;
  double skew = fabs(m->smile.skew);
  /* the equity: slope interval at t0, time bounds over the box */
  double shortq = 0, Elo = p->q, Ehi = p->q, Lteq = 0, A_eq = 0;
  double tau0[MS_MAX_LEGS], llo[MS_MAX_LEGS], lhi[MS_MAX_LEGS], dlo[MS_MAX_LEGS], dhi[MS_MAX_LEGS];
  double sq0[MS_MAX_LEGS], sqc[MS_MAX_LEGS]; /* sqrt(tau) at t0 and at the end of the Lipschitz box */
  for (int i = 0; i < p->nlegs; i++) {
    const ms_leg *l = &p->legs[i];
    double q = fabs(l->q);
    tau0[i] = tau_of(m, l, v->t);
    llo[i] = log(Pmin / l->strike);
    lhi[i] = log(Pmax / l->strike);
    if (l->q < 0) shortq += q;
    leg_bounds lb;
    sq0[i] = sqrt(tau0[i]);
    sqc[i] = sqrt(tau0[i] - tau_cut);
    bound_delta(m, l->is_call, llo[i], lhi[i], v->vol * smin, v->vol * smax, sq0[i], &lb);
    double sm = v->vol * skew * sq0[i] * lb.phi;
    dlo[i] = lb.dlo - sm;
    dhi[i] = lb.dhi + sm;
    add_scaled(&Elo, &Ehi, l->q, dlo[i], dhi[i]);
    bound_time(m, llo[i], lhi[i], Pmax, v->vol * smin, v->vol * smax, sqc[i], sq0[i], &lb);
    Lteq += q * lb.theta;
    /* to the expiry: phi over the whole remaining life is at most 1/sqrt(2 pi) */
    A_eq += q * v->vol * smax * Pmax * INV_SQRT_2PI;
  }
  /* how fast S can fall per unit of price rise (up) and fall (dn) */
  double Dup = Elo < 0 ? -Elo : 0, Ddn = Ehi > 0 ? Ehi : 0;
  double Lt = Lteq, A = A_eq, Bcap = 0;
  if (pm) {
    /* per leg, once: the DTE scaling at both ends of the box and the rate of the shocked vol */
    double sc_a[MS_MAX_LEGS], sc_b[MS_MAX_LEGS], dsig_l[MS_MAX_LEGS], dvol_l[MS_MAX_LEGS];
    for (int i = 0; i < p->nlegs; i++) {
      sc_a[i] = m->span ? 1 : dte_scale(m, tau0[i]);
      sc_b[i] = m->span ? 1 : dte_scale(m, tau0[i] - tau_cut);
      double dte = tau0[i] - tau_cut > m->dte_floor ? tau0[i] - tau_cut : m->dte_floor;
      dsig_l[i] = m->span ? 0 : v->vol * smax * vmax * pw * pow(month / dte, pw) / dte;
      dvol_l[i] = m->span ? 0 : v->vol * smax * vmax * pow(month / m->dte_floor, pw);
    }
    double Mup = 0, Mdn = 0, Lts_max = 0, As_max = 0, Bs_max = 0, wtop = 0;
    /* Scenarios with the same price move (vol up / same / down) share one
     * bound, taken over the union of their volatilities. */
    for (int s0 = 0, s1; s0 < m->nscen; s0 = s1) {
      double x = m->scen[s0].x, lg = m->scen[s0].lg, w = 0;
      int shocked = 0, any = 0, up = 0;
      for (s1 = s0; s1 < m->nscen && m->scen[s1].x == x; s1++) {
        if (dominated(&m->scen[s1], cls)) continue;
        any = 1;
        if (m->scen[s1].w > w) w = m->scen[s1].w;
        shocked |= m->scen[s1].vsign != 0;
        up |= m->scen[s1].vsign > 0;
      }
      /* a vol-up scenario's volatility may be raised to min_vol_up: the largest volatility is at least that */
      double vfloor = up ? m->min_vol_up : 0;
      if (!any) continue;
      if (w > wtop) wtop = w;
      double g = 1 + x, lo = -p->q * x, hi = -p->q * x, Lts = 0, As = 0, Bs = 0;
      for (int i = 0; i < p->nlegs; i++) {
        const ms_leg *l = &p->legs[i];
        double q = fabs(l->q);
        double lo_a = INFINITY, hi_a = 0, lo_f = INFINITY, hi_f = 0; /* vol factors at t0; over the box */
        for (int k = s0; k < s1; k++) {
          const scenario *sc = &m->scen[k];
          if (dominated(sc, cls)) continue;
          double v1 = vol_factor(m, sc, sc_a[i]), v2 = vol_factor(m, sc, sc_b[i]);
          if (v1 < lo_a) lo_a = v1;
          if (v1 > hi_a) hi_a = v1;
          if (v1 < lo_f) lo_f = v1;
          if (v2 < lo_f) lo_f = v2;
          if (v1 > hi_f) hi_f = v1;
          if (v2 > hi_f) hi_f = v2;
        }
        leg_bounds lb;
        double s_hi_a = v->vol * smax * hi_a, s_hi_f = v->vol * smax * hi_f;
        if (s_hi_a < vfloor) s_hi_a = vfloor;
        if (s_hi_f < vfloor) s_hi_f = vfloor;
        bound_delta(m, l->is_call, llo[i] + lg, lhi[i] + lg, v->vol * smin * lo_a, s_hi_a, sq0[i], &lb);
        double sm = v->vol * hi_a * skew * sq0[i] * lb.phi;
        /* delta_l(P) - g delta_l,s(P g) */
        add_scaled(&lo, &hi, l->q, dlo[i] - g * (lb.dhi + sm), dhi[i] - g * (lb.dlo - sm));
        bound_time(m, llo[i] + lg, lhi[i] + lg, Pmax * g, v->vol * smin * lo_f, s_hi_f, sqc[i], sq0[i], &lb);
        double dsig = 0;
        if (!m->span && shocked) {
          dsig = dsig_l[i];
          Bs += q * lb.vega * dvol_l[i];
        }
        Lts += q * (lb.theta + lb.vega * dsig);
        As += s_hi_f > v->vol * smax * hi_f ? q * s_hi_f * Pmax * g * INV_SQRT_2PI
                                            : q * v->vol * smax * hi_f * Pmax * g * INV_SQRT_2PI;
      }
      if (w * hi > Mup) Mup = w * hi;
      if (-w * lo > Mdn) Mdn = -w * lo;
      if (w * Lts > Lts_max) Lts_max = w * Lts;
      if (w * As > As_max) As_max = w * As;
      if (w * Bs > Bs_max) Bs_max = w * Bs;
    }
    Dup += m->mm_factor * (Mup + m->opt_floor * shortq);
    /* contingencies and the fee provision: linear in P, rising with it */
    double units = fabs(p->q) + shortq;
    for (int i = 0; i < p->nlegs; i++) units += p->legs[i].q > 0 ? p->legs[i].q : 0;
    Dup += m->perp_mm * fabs(p->q) + m->opt_mm * naked_shorts(p) + m->fee * units;
    Ddn += m->mm_factor * Mdn;
    /* loss_s = V - V_s: its time derivative is at most w (|V_t| + |V_s,t|) */
    Lt += m->mm_factor * (wtop * Lteq + Lts_max);
    A += m->mm_factor * (wtop * A_eq + As_max);
    Bcap = m->mm_factor * Bs_max;
  } else {
    double r = m->tiered ? m->mmr[m->ntiers - 1] : m->maintenance;
    Dup += r * (fabs(p->q) + shortq); /* the requirement rises with the price, never faster */
  }
  double dPu = Dup > 0 ? share / Dup : d, dPd = Ddn > 0 ? share / Ddn : d;
  if (dPu > d) dPu = d;
  if (dPd > d) dPd = d;
  /* Time, two ways; the longer wins. (a) Lipschitz over [t0, t0 + tau_min / 2]. */
  double dt = Lt > 0 ? share / Lt : tau_cut;
  if (dt > tau_cut) dt = tau_cut;
  /* (b) Integrated to the expiry: theta's bound integrates to
   * sigma S (sqrt(tau0) - sqrt(tau0 - dt)) / sqrt(2 pi); the portfolio's
   * DTE-scaled volatility moves in all by at most its range up to the floor. */
  if (A > 0 && Bcap < share) {
    double room = (share - Bcap) / A, r0 = sqrt(tau_min), dtb;
    if (room >= r0) dtb = tau_min;
    else dtb = tau_min - (r0 - room) * (r0 - room);
    if (dtb > dt) dt = dtb;
  }
  double ratio_max = INFINITY;
  if (dyn) {
    double g = (fabs(p->q) + shortq) * Pmax;
    if (g > 0) ratio_max = m->maintenance + share / g;
  }
  int64_t dt_ms = (int64_t)floor(dt * m->year_ms);
  b->p_lo = P0 - dPd;
  b->p_hi = P0 + dPu;
  b->t_until = v->t + (dt_ms > 0 ? dt_ms : 0);
  b->ratio_max = ratio_max;
  b->shift_room = p->q != 0 ? share / fabs(p->q) : INFINITY;
}

/* ---- dynamic margin ----
 *
 * sigma_hat^2 is realized variance per unit of time: the sum of squared log
 * returns between the published prices the updates see, divided by the sum
 * of the times between their observations. A return is taken only when a
 * new observation was published since the previous update (an update with
 * none holds the estimate: a piecewise-constant price carries no return), and
 * over the time between the two observations, not between the updates.
 *
 * Why the ratio of sums and not an average of r^2 / dt: a push oracle
 * publishes when the price has moved by the deviation D, so r^2 is about D^2
 * whatever dt was, and E[r^2 / dt] ~ D^2 E[1 / dt] > D^2 / E[dt] = sigma^2
 * (Jensen): an average of per-sample rates, each weighted alike, is biased
 * up. The ratio of sums is not: for a log price that is a martingale (up to
 * its small drift) sampled at stopping times, E[sum r^2] = sigma^2 E[sum dt]
 * (optional stopping), whatever rule picks the publish times. Both sums
 * carry the same weights, which keeps that.
 *
 * ewma: both sums decay by 2^(-dt / half_life) per dt of elapsed time, so
 * the memory is in time, whatever the publish or update rate. They start
 * as an infinite history at sigma_0: ew_dt = half_life / ln 2 (the weight
 * of all past time), ew_r2 = sigma_0^2 ew_dt.
 * window: the sums over the last nring update intervals; the ring starts
 * as nring intervals at sigma_0. If the window holds no time at all (no
 * publish in it), the estimate is held. */

void ms_margin_path_start(ms_margin *m, double p0) {
  if (m->type->path_start) m->type->path_start(m, p0);
}

int ms_margin_update(ms_margin *m, double P, int64_t t_obs) {
  return m->type->update ? m->type->update(m, P, t_obs) : 0;
}

static void dynamic_path_start(ms_margin *m, double p0) {
  m->s2 = m->sigma0 * m->sigma0;
  m->last_price = p0;
  m->last_obs = 0;
  m->ew_dt = (double)m->dyn.half_life / m->year_ms / LN2;
  m->ew_r2 = m->s2 * m->ew_dt;
  if (m->ring_r2) {
    double u = (double)m->dyn.update_every / m->year_ms;
    for (int64_t i = 0; i < m->nring; i++) {
      m->ring_r2[i] = m->s2 * u;
      m->ring_dt[i] = u;
    }
    m->ring_r2_sum = m->s2 * u * (double)m->nring;
    m->ring_dt_sum = u * (double)m->nring;
    m->ring_pos = 0;
    m->ring_used = m->nring;
  }
  set_dynamic_ratio(m, dynamic_target(m));
}

static int dynamic_update(ms_margin *m, double P, int64_t t_obs) {
  assert(t_obs >= m->last_obs);
  double r2 = 0, dt = 0; /* this update's squared return and its duration (years) */
  int64_t dt_ms = t_obs - m->last_obs;
  if (dt_ms > 0) {
    double r = log(P / m->last_price);
    r2 = r * r;
    dt = (double)dt_ms / m->year_ms;
    m->last_price = P;
    m->last_obs = t_obs;
  }
  if (m->ring_r2) {
    m->ring_r2_sum += r2 - m->ring_r2[m->ring_pos];
    m->ring_dt_sum += dt - m->ring_dt[m->ring_pos];
    m->ring_used += (dt > 0) - (m->ring_dt[m->ring_pos] > 0);
    m->ring_r2[m->ring_pos] = r2;
    m->ring_dt[m->ring_pos] = dt;
    if (++m->ring_pos == m->nring) {
      m->ring_pos = 0;
      double a = 0, b = 0; /* re-add from scratch once per window: no drift from running sums */
      for (int64_t i = 0; i < m->nring; i++) {
        a += m->ring_r2[i];
        b += m->ring_dt[i];
      }
      m->ring_r2_sum = a;
      m->ring_dt_sum = b;
    }
    /* counted, not read from the running sum, which may keep a rounding residue */
    if (m->ring_used > 0) m->s2 = m->ring_r2_sum / m->ring_dt_sum;
  } else if (dt_ms > 0) {
    double d = exp2(-(double)dt_ms / (double)m->dyn.half_life);
    m->ew_r2 = d * m->ew_r2 + r2;
    m->ew_dt = d * m->ew_dt + dt;
    m->s2 = m->ew_r2 / m->ew_dt;
  }
  double old = m->maintenance, target = dynamic_target(m);
  double next = target > old + m->dyn.max_step ? old + m->dyn.max_step : target;
  set_dynamic_ratio(m, next);
  return next > old;
}

double ms_margin_ratio(const ms_margin *m) { return m->tiered ? m->mmr[0] : m->ratio_side[0]; }

double ms_margin_sigma(const ms_margin *m) { return sqrt(m->s2); }

/* ---- the type tables ---- */

const ms_margin_type ms_margin_static = {
    .name = "static", .key_mode = MS_KEY_COLLATERAL,
    .init = static_init, .pos_mm = static_pos_mm, .pos_im = static_pos_im};
const ms_margin_type ms_margin_tiered = {
    .name = "tiered", .key_mode = MS_KEY_THRESHOLD, .tiered = 1,
    .init = tiered_init, .pos_mm = tiered_pos_mm, .pos_im = tiered_pos_im};
/* static with a moving ratio: the same requirements, per-path state */
const ms_margin_type ms_margin_dynamic = {
    .name = "dynamic", .key_mode = MS_KEY_COLLATERAL, .ratio_moves = 1,
    .init = dynamic_init, .free = dynamic_free, .path_start = dynamic_path_start, .update = dynamic_update,
    .pos_mm = static_pos_mm, .pos_im = static_pos_im};
const ms_margin_type ms_margin_portfolio = {
    .name = "portfolio", .key_mode = MS_KEY_COLLATERAL, .scan = 1,
    .init = portfolio_init, .pos_mm = portfolio_pos_mm, .pos_im = portfolio_pos_im};

/* In ms_margin_model order: margin.model's index picks the table. */
const ms_margin_type *const ms_margin_types[] = {&ms_margin_static, &ms_margin_tiered, &ms_margin_dynamic,
                                                 &ms_margin_portfolio, NULL};
