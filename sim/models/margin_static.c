/*
 * margin_static — static margin: one ratio of gross notional for
 * maintenance, one for initial (margin.h). Dynamic margin shares its
 * requirements.
 */
#include "models/margin_int.h"

static ms_status static_init(ms_margin *m, const ms_config *cfg, ms_error *err) {
  (void)cfg;
  (void)err;
  m->ratio_side[0] = m->ratio_side[1] = m->maintenance;
  return MS_OK;
}

double ms_static_pos_im(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return m->initial * gross_notional(p, v->P);
}

double ms_static_pos_mm(const ms_margin *m, const ms_position *p, const ms_view *v) {
  return m->maintenance * gross_notional(p, v->P);
}

const ms_margin_type ms_margin_static = {
    .name = "static", .key_mode = MS_KEY_COLLATERAL,
    .init = static_init, .pos_mm = ms_static_pos_mm, .pos_im = ms_static_pos_im};
