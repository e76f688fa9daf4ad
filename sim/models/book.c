/*
 * book — drawing and checking the account book (see book.h).
 */
#include "models/book.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/rng.h"
#include "core/sort.h"
#include "core/units.h"

/* Collateral may fall short of the initial requirement by this relative
 * amount before a book is rejected: leverage exactly 1 / margin.initial must
 * pass although C x lev / P x P rounds. */
#define IM_TOLERANCE 1e-12

static const char *const strategy_names[] = {"naked short call", "naked short put", "short strangle",
                                             "covered call", "protective put", "long straddle"};

ms_status ms_book_new(ms_book **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  ms_book *b = calloc(1, sizeof *b);
  if (!b) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  b->n = cfg->book.accounts;
  b->entry = cfg->market.initial_price;
  size_t n = (size_t)b->n;
  b->pos = malloc(n * sizeof *b->pos);
  b->opt_of = malloc(n * sizeof *b->opt_of);
  int opts = cfg->book.options.fraction > 0;
  if (opts) {
    b->opt = malloc(n * sizeof *b->opt);
    b->expiries = malloc(n * MS_MAX_LEGS * sizeof *b->expiries);
  }
  if (!b->pos || !b->opt_of || (opts && (!b->opt || !b->expiries))) {
    ms_book_free(b);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %lld accounts", (long long)cfg->book.accounts);
  }
  *out = b;
  return MS_OK;
}

void ms_book_free(ms_book *b) {
  if (!b) return;
  free(b->pos);
  free(b->opt_of);
  free(b->opt);
  free(b->expiries);
  free(b);
}

void ms_book_position(const ms_book *b, int64_t i, ms_position *p) {
  p->C = b->pos[i].collateral;
  p->q = b->pos[i].qty;
  p->nlegs = 0;
  if (b->opt_of[i] >= 0) {
    const ms_opt_account *o = &b->opt[b->opt_of[i]];
    for (int l = 0; l < o->nlegs; l++) p->legs[p->nlegs++] = o->legs[l];
  }
}

static inline uint64_t expiry_ukey(const ms_expiry *e) { return ms_sort_ukey_i64(e->t); }

MS_RADIX_DEFINE(radix_expiries, ms_expiry, 8, expiry_ukey)

/* Expiries by (t, account, leg). They are drawn in (account, leg) order, so
 * a stable sort by t alone gives it (the order qsort gave with that
 * comparison). 0, or -1 when out of memory. */
static int sort_expiries(ms_expiry *v, size_t n) {
  if (n < 2) return 0;
  ms_expiry *tmp = malloc(n * sizeof *tmp);
  if (!tmp) return -1;
  ms_expiry *r = radix_expiries(v, tmp, n);
  if (r != v) memcpy(v, r, n * sizeof *v);
  free(tmp);
  return 0;
}

static int pick_strategy(const ms_options_cfg *oc, double u) {
  double tot = 0, acc = 0;
  for (int i = 0; i < oc->nstrategies; i++) tot += oc->strategies[i].weight;
  for (int i = 0; i < oc->nstrategies; i++) {
    acc += oc->strategies[i].weight / tot;
    if (u < acc) return i;
  }
  return oc->nstrategies - 1;
}

int ms_book_pick_strategy(const ms_options_cfg *oc, double u) { return pick_strategy(oc, u); }

void ms_book_strategy(const ms_config *cfg, const ms_strategy_cfg *st, double C, double size, int64_t expiry,
                      ms_opt_account *o, double *cash, double *q) {
  double P = cfg->market.initial_price, vol = cfg->market.entry_vol;
  double year = cfg->market.days_per_year * (double)MS_MS_PER_DAY;
  if (expiry < 1) expiry = 1;
  double a = C * size / P, tau = (double)expiry / year;
  ms_smile sm = {cfg->market.smile.skew, cfg->market.smile.floor};
  o->strategy = st->kind;
  o->deposit = C;
  o->nlegs = 0;
  *q = 0;
  int call = 0, put = 0, call_q = 0, put_q = 0;
  switch (st->kind) {
  case MS_STRAT_NAKED_SHORT_CALL: call = 1; call_q = -1; break;
  case MS_STRAT_NAKED_SHORT_PUT: put = 1; put_q = -1; break;
  case MS_STRAT_SHORT_STRANGLE: call = put = 1; call_q = put_q = -1; break;
  case MS_STRAT_COVERED_CALL: call = 1; call_q = -1; *q = a; break;
  case MS_STRAT_PROTECTIVE_PUT: put = 1; put_q = 1; *q = a; break;
  case MS_STRAT_LONG_STRADDLE: call = put = 1; call_q = put_q = 1; break;
  }
  int atm = st->kind == MS_STRAT_LONG_STRADDLE;
  double Kc = P, Kp = P;
  if (!atm && st->strike.by == MS_STRIKE_MONEYNESS) {
    Kc = P * (1 + st->strike.value);
    Kp = P * (1 - st->strike.value);
  } else if (!atm) {
    Kc = ms_bs_strike_for_delta(1, P, tau, vol, st->strike.value);
    Kp = ms_bs_strike_for_delta(0, P, tau, vol, st->strike.value);
  }
  *cash = C;
  if (call) o->legs[o->nlegs++] = (ms_leg){1, 0, Kc, expiry, call_q * a, 0};
  if (put) o->legs[o->nlegs++] = (ms_leg){0, 0, Kp, expiry, put_q * a, 0};
  for (int l = 0; l < o->nlegs; l++) {
    o->legs[l].v0 = ms_leg_value(&o->legs[l], &sm, P, tau, vol);
    *cash -= o->legs[l].q * o->legs[l].v0; /* premium: paid for longs, received for shorts */
  }
}

/* Draw an option account's strategy, collateral and legs into @p o; sets the perp quantity. */
static void draw_options(const ms_config *cfg, gsl_rng *r, ms_opt_account *o, double *cash, double *q) {
  const ms_options_cfg *oc = &cfg->book.options;
  const ms_strategy_cfg *st = &oc->strategies[pick_strategy(oc, gsl_rng_uniform(r))];
  double C = ms_dist_sample(&cfg->book.collateral, r);
  double size = ms_dist_sample(&st->size, r);
  int64_t expiry = (int64_t)llround(ms_dist_sample(&st->expiry, r));
  ms_book_strategy(cfg, st, C, size, expiry, o, cash, q);
}

ms_status ms_book_draw(ms_book *b, const ms_config *cfg, uint64_t path, const ms_margin *m,
                       ms_error *err) {
  gsl_rng *r;
  ms_status s = ms_rng_new(&r, err);
  if (s) return s;
  ms_rng_seed(r, cfg->seed, path, MS_STREAM_BOOK);
  const ms_book_cfg *bc = &cfg->book;
  int64_t bad = 0, first = -1;
  double first_lev = 0, first_im = 0;
  b->open_qty[0] = b->open_qty[1] = 0.0;
  b->nopt = b->nexp = 0;
  ms_view v0 = {b->entry, 0, cfg->market.entry_vol};
  for (int64_t i = 0; i < b->n; i++) {
    int opt = bc->options.fraction > 0 && gsl_rng_uniform(r) < bc->options.fraction;
    double im, equity;
    if (opt) {
      ms_opt_account *o = &b->opt[b->nopt];
      draw_options(cfg, r, o, &b->pos[i].collateral, &b->pos[i].qty);
      b->opt_of[i] = (int32_t)b->nopt++;
      for (int l = 0; l < o->nlegs; l++)
        if (o->legs[l].expiry <= cfg->horizon)
          b->expiries[b->nexp++] = (ms_expiry){o->legs[l].expiry, (int32_t)i, l};
      ms_position p;
      ms_book_position(b, i, &p);
      im = ms_margin_pos_im(m, &p, b->entry, &v0);
      equity = o->deposit;
    } else {
      double c = ms_dist_sample(&bc->collateral, r);
      double lev = ms_dist_sample(&bc->leverage, r);
      int is_long = gsl_rng_uniform(r) < bc->long_fraction;
      double a = c * lev / b->entry;
      b->pos[i].collateral = c;
      b->pos[i].qty = is_long ? a : -a;
      b->opt_of[i] = -1;
      im = ms_margin_perp_im(m, b->pos[i].qty, b->entry);
      equity = c;
    }
    if (b->pos[i].qty != 0) b->open_qty[b->pos[i].qty > 0 ? 0 : 1] += fabs(b->pos[i].qty);
    if (equity < im * (1.0 - IM_TOLERANCE)) {
      if (bad++ == 0) {
        first = i;
        first_lev = fabs(b->pos[i].qty) * b->entry / equity;
        first_im = im;
      }
    }
  }
  ms_rng_free(r);
  if (sort_expiries(b->expiries, (size_t)b->nexp)) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  if (bad) {
    const char *mt = ms_margin_get_type(m)->name;
    char what[200];
    if (b->opt_of[first] >= 0) {
      const ms_opt_account *o = &b->opt[b->opt_of[first]];
      snprintf(what, sizeof what, "%s, deposit %.2f USD, legs of %.4g units", strategy_names[o->strategy],
               o->deposit, fabs(o->legs[0].q));
    } else {
      snprintf(what, sizeof what, "%s, collateral %.2f USD, leverage %.4g, notional %.2f USD",
               b->pos[first].qty > 0 ? "long" : "short", b->pos[first].collateral, first_lev,
               fabs(b->pos[first].qty) * b->entry);
    }
    return ms_error_set(err, MS_ERR_INPUT,
                        "book: %lld of %lld accounts start below initial margin under margin.model %s; "
                        "first: account %lld (%s) needs %.2f USD: lower book.leverage or the size of "
                        "option strategies, or the initial margin",
                        (long long)bad, (long long)b->n, mt, (long long)first, what, first_im);
  }
  return MS_OK;
}
