/*
 * result_stats — the rows of a result's statistics tables by index, as the
 * file's /stats/summary, /stats/probabilities and /stats/feedback hold them
 * (marginsim.h), for readers that mirror the file without one.
 */
#include <math.h>

#include "marginsim/marginsim.h"
#include "output/result.h"

int ms_result_nstats(const ms_result *r) { return r ? r->stats.nrows : 0; }

const char *ms_result_stats_column(const ms_result *r, int i) {
  return r && i >= 0 && i < r->stats.nrows ? r->stats.rows[i].name : NULL;
}

const char *ms_result_stats_risky_side(const ms_result *r, int i) {
  if (!r || i < 0 || i >= r->stats.nrows) return NULL;
  return r->stats.rows[i].risky_low ? "low" : "high";
}

int ms_result_nevents(const ms_result *r) { return r ? r->stats.nprob : 0; }

const char *ms_result_event_name(const ms_result *r, int i) {
  return r && i >= 0 && i < r->stats.nprob ? r->stats.probs[i].name : NULL;
}

const char *ms_result_event_definition(const ms_result *r, int i) {
  return r && i >= 0 && i < r->stats.nprob ? r->stats.probs[i].definition : NULL;
}

ms_status ms_result_event(const ms_result *r, int i, int64_t *k, int64_t *n, double *p, double *lo,
                          double *hi, ms_error *err) {
  if (!r || i < 0 || i >= r->stats.nprob)
    return ms_error_set(err, MS_ERR_INPUT, "ms_result_event: index %d is not in [0, %d)", i,
                        r ? r->stats.nprob : 0);
  const ms_prob_row *e = &r->stats.probs[i];
  if (k) *k = e->k;
  if (n) *n = e->n;
  if (p) *p = e->p;
  if (lo) *lo = e->lo;
  if (hi) *hi = e->hi;
  return MS_OK;
}

int ms_result_nfeedback(const ms_result *r) { return r ? r->stats.nfeedback : 0; }

ms_status ms_result_feedback(const ms_result *r, int i, const char **statistic, int64_t *n, double *with_impact,
                             double *no_impact, double *diff, double *lo, double *hi, ms_error *err) {
  if (!r || i < 0 || i >= r->stats.nfeedback)
    return ms_error_set(err, MS_ERR_INPUT, "ms_result_feedback: index %d is not in [0, %d)", i,
                        r ? r->stats.nfeedback : 0);
  /* the twin is the baseline, the run the other side (stats.h) */
  const ms_diff_row *d = &r->stats.feedback[i];
  if (statistic) *statistic = d->name;
  if (n) *n = d->n;
  if (with_impact) *with_impact = d->other;
  if (no_impact) *no_impact = d->baseline;
  if (diff) *diff = d->diff;
  if (lo) *lo = d->lo;
  if (hi) *hi = d->hi;
  return MS_OK;
}
