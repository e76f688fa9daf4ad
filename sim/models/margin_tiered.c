/*
 * margin_tiered — tiered margin (margin.h).
 *
 * MM(N) = mmr_k N - cum_k in the tier k holding N, with the maintenance
 * amount cum_k = cum_{k-1} + floor_k (mmr_k - mmr_{k-1}), cum_0 = 0
 * (Binance's leverageBracket "cum", Hyperliquid's maintenance deduction),
 * which makes MM continuous across tiers. IM(N) = imr_k N. The perp-only
 * thresholds are in margin.c (the tick scan calls them directly).
 */
#include "models/margin_int.h"

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

static double tiered_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v) {
  double g = gross_notional(p, v->P);
  return m->imr[tier_of(m, g)] * g;
}

static double tiered_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return tiered_mm_n(m, gross_notional(p, v->P));
}

const ms_margin_type ms_margin_tiered = {
    .name = "tiered", .key_mode = MS_KEY_THRESHOLD, .tiered = 1,
    .init = tiered_init, .pos_mm = tiered_pos_mm, .pos_im = tiered_pos_im};
