/*
 * book — drawing and checking the account book (see book.h).
 */
#include "marginsim/book.h"

#include <math.h>
#include <stdlib.h>

#include "marginsim/dist.h"
#include "marginsim/rng.h"

/* Collateral may fall short of the initial requirement by this relative
 * amount before a book is rejected: leverage exactly 1 / margin.initial must
 * pass although C x lev / P x P rounds. */
#define IM_TOLERANCE 1e-12

ms_status ms_book_new(ms_book **out, const ms_config *cfg, ms_error *err) {
  *out = NULL;
  ms_book *b = calloc(1, sizeof *b);
  if (!b) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  b->n = cfg->book.accounts;
  b->entry = cfg->market.initial_price;
  b->collateral = malloc((size_t)b->n * sizeof *b->collateral);
  b->qty = malloc((size_t)b->n * sizeof *b->qty);
  if (!b->collateral || !b->qty) {
    ms_book_free(b);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %lld accounts", (long long)cfg->book.accounts);
  }
  *out = b;
  return MS_OK;
}

void ms_book_free(ms_book *b) {
  if (!b) return;
  free(b->collateral);
  free(b->qty);
  free(b);
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
  for (int64_t i = 0; i < b->n; i++) {
    double c = ms_dist_sample(&bc->collateral, r);
    double lev = ms_dist_sample(&bc->leverage, r);
    int is_long = gsl_rng_uniform(r) < bc->long_fraction;
    double a = c * lev / b->entry;
    b->collateral[i] = c;
    b->qty[i] = is_long ? a : -a;
    b->open_qty[is_long ? 0 : 1] += a;
    double im = ms_margin_im(m, a * b->entry);
    if (c < im * (1.0 - IM_TOLERANCE)) {
      if (bad++ == 0) { first = i; first_lev = lev; first_im = im; }
    }
  }
  ms_rng_free(r);
  if (bad) {
    const char *mt = ms_margin_get_type(m)->name;
    double c = b->collateral[first], n = fabs(b->qty[first]) * b->entry;
    return ms_error_set(err, MS_ERR_INPUT,
                        "book: %lld of %lld accounts start below initial margin under margin.model %s; "
                        "first: account %lld (%s, collateral %.2f USD, leverage %.4g, notional %.2f USD "
                        "needs %.2f USD): lower book.leverage or the initial margin",
                        (long long)bad, (long long)b->n, mt, (long long)first,
                        b->qty[first] > 0 ? "long" : "short", c, first_lev, n, first_im);
  }
  return MS_OK;
}
