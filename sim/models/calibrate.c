/*
 * calibrate — regime-switching and GARCH(1,1) fits to historical log
 * returns (see calibrate.h for the models; docs/calibration.md for use).
 *
 * Everything runs on one thread in a fixed order, and the starting points
 * come from the project's generator seeded with (seed, start, CALIB_STREAM),
 * so a fit is the same bytes for a seed on any machine with the same
 * floating point, whatever the thread count of anything else.
 */
#include "models/calibrate.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/strbuf.h"
#include "core/units.h"

/* The stream id of the starting points: outside ms_stream's simulation ids
 * (a fit draws nothing a run draws); "CALI" in ASCII. */
#define CALIB_STREAM 0x43414c49u

#define LOG_2PI 1.8378770664093454836

/* Smallest off-diagonal transition probability EM keeps: a transition
 * never seen would otherwise be 0, an edge where the numerical Hessian
 * cannot step and log P is -inf. */
#define P_FLOOR 1e-10
/* A regime whose expected count of periods falls below this keeps its
 * previous mean and sd: its moments would be 0/0. */
#define MIN_OCCUPANCY 1e-8
/* Relative step of the numerical Hessian: about eps^(1/4), the step that
 * balances truncation and rounding in a central second difference. */
#define HESS_STEP 1e-4
/* Starts that end within this of the best log-likelihood count as the same optimum. */
#define SAME_OPTIMUM 0.01
/* Nelder-Mead (garch): stop when the simplex is this small, or after this
 * many iterations; restart from the end point until a restart gains less
 * than GARCH_GAIN (the simplex can collapse before the optimum). */
#define NM_SIZE 1e-9
#define NM_MAX_ITER 20000
#define NM_RESTARTS 8
#define NM_STALL 500
#define GARCH_GAIN 1e-9
/* Largest persistence alpha + beta the fit reaches: at 1 the variance has
 * no unconditional level (integrated GARCH), and the loader needs < 1. */
#define PERS_MAX (1 - 1e-6)

void ms_calib_opts_default(ms_calib_opts *o) {
  memset(o, 0, sizeof *o);
  o->model = MS_CALIB_REGIME_SWITCHING;
  o->regimes = 2;
  o->starts = 10;
  o->seed = 1;
  o->dist = MS_CALIB_NORMAL;
  o->days_per_year = 365.0;
  o->max_iter = 5000;
  o->explore_iter = 50;
  o->finalists = 3;
  o->tol = 1e-7;
  o->var_floor = 1e-4;
}

/* ---- returns ---- */

void ms_calib_returns_free(ms_calib_returns *r) {
  if (!r) return;
  free(r->r);
  free(r->t);
  r->r = NULL;
  r->t = NULL;
  r->n = 0;
}

ms_status ms_calib_returns_make(ms_calib_returns *out, const ms_series *s, int64_t from, int64_t to,
                                int64_t resolution, ms_error *err) {
  memset(out, 0, sizeof *out);
  char rb[40], fb[40];
  int64_t res = resolution ? resolution : s->resolution;
  if (res < s->resolution || res % s->resolution) {
    ms_units_format_duration(res, rb, sizeof rb);
    ms_units_format_duration(s->resolution, fb, sizeof fb);
    return ms_error_set(err, MS_ERR_INPUT, "%s: resolution %s is not a whole multiple of the file's resolution %s",
                        s->name, rb, fb);
  }
  if (from >= to) return ms_error_set(err, MS_ERR_INPUT, "%s: the window is empty (from is not before to)", s->name);
  int64_t i0 = from == INT64_MIN ? 0 : ms_series_lower_bound(s, from);
  int64_t i1 = to == INT64_MAX ? s->n : ms_series_lower_bound(s, to);
  int64_t closes = i1 - i0 >= 1 ? (s->c[i1 - 1].t - s->c[i0].t) / res + 1 : 0;
  if (closes - 1 < MS_CALIB_MIN_RETURNS) {
    ms_units_format_duration(res, rb, sizeof rb);
    return ms_error_set(err, MS_ERR_INPUT, "%s: %lld returns at %s in the window: at least %d are needed", s->name,
                        (long long)(closes > 0 ? closes - 1 : 0), rb, MS_CALIB_MIN_RETURNS);
  }
  out->r = malloc((size_t)(closes - 1) * sizeof *out->r);
  out->t = malloc((size_t)(closes - 1) * sizeof *out->t);
  if (!out->r || !out->t) {
    ms_calib_returns_free(out);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %lld returns", (long long)closes);
  }
  int64_t idx = i0, t0 = s->c[i0].t;
  double prev = 0;
  for (int64_t j = 0; j < closes; j++) {
    int64_t g = t0 + j * res;
    while (idx < i1 && s->c[idx].t < g) idx++;
    if (idx >= i1 || s->c[idx].t != g) {
      char tb[40], wa[40], wb[40];
      ms_time_format_iso(g, tb, sizeof tb);
      ms_time_format_iso(t0, wa, sizeof wa);
      ms_time_format_iso(s->c[i1 - 1].t + s->resolution, wb, sizeof wb);
      ms_calib_returns_free(out);
      return ms_error_set(err, MS_ERR_INPUT,
                          "%s: no candle at %s, inside the window %s to %s: a gap in the data (choose a window "
                          "without it, or a resolution whose closes skip it)",
                          s->name, tb, wa, wb);
    }
    double c = s->c[idx].close;
    if (j > 0) {
      out->r[j - 1] = log(c / prev);
      out->t[j - 1] = g - res + s->resolution;
    }
    prev = c;
  }
  out->n = closes - 1;
  out->resolution = res;
  out->first = t0;
  out->end = t0 + (closes - 1) * res + s->resolution;
  return MS_OK;
}

/* ---- small helpers ---- */

static void moments(const double *r, int64_t n, double *mean, double *var) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) s += r[i];
  *mean = s / (double)n;
  for (int64_t i = 0; i < n; i++) s2 += (r[i] - *mean) * (r[i] - *mean);
  *var = s2 / (double)(n - 1);
}

/* Solve the k x k system A x = b in place (partial pivoting); -1 when singular. */
static int solve_small(int k, double a[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES], double *b) {
  for (int c = 0; c < k; c++) {
    int piv = c;
    for (int i = c + 1; i < k; i++)
      if (fabs(a[i][c]) > fabs(a[piv][c])) piv = i;
    if (!(fabs(a[piv][c]) > 1e-300)) return -1;
    if (piv != c) {
      for (int j = 0; j < k; j++) {
        double t = a[c][j];
        a[c][j] = a[piv][j];
        a[piv][j] = t;
      }
      double t = b[c];
      b[c] = b[piv];
      b[piv] = t;
    }
    for (int i = c + 1; i < k; i++) {
      double f = a[i][c] / a[c][c];
      for (int j = c; j < k; j++) a[i][j] -= f * a[c][j];
      b[i] -= f * b[c];
    }
  }
  for (int i = k - 1; i >= 0; i--) {
    double s = b[i];
    for (int j = i + 1; j < k; j++) s -= a[i][j] * b[j];
    b[i] = s / a[i][i];
  }
  return 0;
}

void ms_calib_stationary(const ms_calib_rs *p, double *pi) {
  int k = p->k;
  double a[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES];
  /* pi (P - I) = 0 with sum pi = 1: the transposed system, last equation replaced */
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) a[i][j] = p->p[j][i] - (i == j);
  for (int j = 0; j < k; j++) {
    a[k - 1][j] = 1.0;
    pi[j] = 0.0;
  }
  pi[k - 1] = 1.0;
  int bad = solve_small(k, a, pi);
  double sum = 0;
  for (int j = 0; j < k && !bad; j++) {
    if (!(pi[j] >= -1e-12)) bad = 1;
    sum += pi[j];
  }
  if (bad || !(sum > 0)) { /* a reducible chain: no unique answer; equal shares */
    for (int j = 0; j < k; j++) pi[j] = 1.0 / k;
    return;
  }
  for (int j = 0; j < k; j++) pi[j] = fmax(pi[j], 0.0) / sum;
}

/* ---- the continuous-time chain behind P ---- */

/* The simulator's regimes switch in continuous time (exponential holding
 * times, docs/scenario.md): sampled every period D its chain of generator Q
 * has P = exp(Q D), so Q = log(P) / D. D / (1 - P[k][k]) is not 1 / -Q_kk:
 * it misses the periods that leave regime k and come back, about 30% too
 * long for regimes of a few periods (BTC and ETH daily). */

/* Square roots taken at most before log(I + X): each halves the distance
 * to I, and a stochastic matrix with a real logarithm needs a few. */
#define LOGM_MAX_ROOTS 40
/* The series of log(I + X) starts when the 1-norm of X is below this:
 * its terms fall as 0.25^m / m, under double rounding by m = 27. */
#define LOGM_NEAR 0.25
#define LOGM_TERMS 60
/* Denman-Beavers iterations of one square root at most; a matrix with no
 * real square root (an eigenvalue on the negative real axis) never settles. */
#define SQRT_MAX_ITER 100

typedef double calib_mat[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES];

static double mat_norm1_minus_i(int k, calib_mat a) {
  double mx = 0;
  for (int j = 0; j < k; j++) {
    double s = 0;
    for (int i = 0; i < k; i++) s += fabs(a[i][j] - (i == j));
    mx = fmax(mx, s);
  }
  return mx;
}

static void mat_mul(int k, calib_mat a, calib_mat b, calib_mat out) {
  calib_mat t;
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) {
      t[i][j] = 0;
      for (int l = 0; l < k; l++) t[i][j] += a[i][l] * b[l][j];
    }
  memcpy(out, t, sizeof t);
}

static int mat_inverse(int k, calib_mat a, calib_mat out) {
  for (int c = 0; c < k; c++) {
    calib_mat t;
    double b[MS_CALIB_MAX_REGIMES];
    memcpy(t, a, sizeof t);
    for (int i = 0; i < k; i++) b[i] = i == c;
    if (solve_small(k, t, b)) return -1;
    for (int i = 0; i < k; i++) out[i][c] = b[i];
  }
  return 0;
}

/* The principal square root of @p a in place (Denman-Beavers); -1 when it does not converge. */
static int mat_sqrt(int k, calib_mat a) {
  calib_mat y, z, yi, zi;
  memcpy(y, a, sizeof y);
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) z[i][j] = i == j;
  for (int it = 0; it < SQRT_MAX_ITER; it++) {
    if (mat_inverse(k, y, yi) || mat_inverse(k, z, zi)) return -1;
    double d = 0, sz = 0;
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) {
        double ny = 0.5 * (y[i][j] + zi[i][j]);
        d = fmax(d, fabs(ny - y[i][j]));
        sz = fmax(sz, fabs(ny));
        y[i][j] = ny;
        z[i][j] = 0.5 * (z[i][j] + yi[i][j]);
      }
    if (!isfinite(d)) return -1;
    if (d <= 1e-15 * sz) {
      memcpy(a, y, sizeof y);
      return 0;
    }
  }
  return -1;
}

/* The principal logarithm of @p p into @p out by inverse scaling and
 * squaring; -1 when @p p has none that is real. */
static int mat_log(int k, calib_mat p, calib_mat out) {
  calib_mat a, x, term;
  memcpy(a, p, sizeof a);
  int roots = 0;
  while (mat_norm1_minus_i(k, a) > LOGM_NEAR) {
    if (roots == LOGM_MAX_ROOTS || mat_sqrt(k, a)) return -1;
    roots++;
  }
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) out[i][j] = term[i][j] = x[i][j] = a[i][j] - (i == j);
  for (int m = 2; m <= LOGM_TERMS; m++) {
    mat_mul(k, term, x, term);
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) out[i][j] += ((m & 1) ? 1.0 : -1.0) * term[i][j] / m;
  }
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) {
      out[i][j] = ldexp(out[i][j], roots);
      if (!isfinite(out[i][j])) return -1;
    }
  return 0;
}

/* The continuous-time chain of @p p sampled every @p res ms: each regime's
 * mean holding time @p dur (ms; INFINITY: never left) and the weights @p w
 * of the regime that follows (rows sum to 1, zero diagonal). The generator
 * is log(P) / res with its negative off-diagonal rates (a P no chain
 * samples exactly) set to 0, the diagonal adjusted. Returns 1 so; 0 when P
 * has no real logarithm, the durations then res / (1 - P[k][k]) and the
 * weights P's off-diagonal row normalised. */
static int rs_chain(const ms_calib_rs *p, double res, double *dur, calib_mat w) {
  int k = p->k;
  calib_mat pm, q;
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) pm[i][j] = p->p[i][j];
  int ok = k > 1 && mat_log(k, pm, q) == 0;
  for (int i = 0; i < k; i++) {
    double rate = 0;
    for (int j = 0; j < k; j++) {
      w[i][j] = j == i ? 0.0 : ok ? fmax(q[i][j], 0.0) : p->p[i][j];
      rate += w[i][j];
    }
    for (int j = 0; j < k; j++) w[i][j] = rate > 0 ? w[i][j] / rate : 0.0;
    dur[i] = rate > 0 ? res / rate : INFINITY;
  }
  return ok;
}

static int rs_valid(const ms_calib_rs *p) {
  if (p->k < 1 || p->k > MS_CALIB_MAX_REGIMES) return 0;
  for (int i = 0; i < p->k; i++) {
    if (!(p->s[i] > 0) || !isfinite(p->s[i]) || !isfinite(p->m[i])) return 0;
    double sum = 0;
    for (int j = 0; j < p->k; j++) {
      if (!(p->p[i][j] >= 0)) return 0;
      sum += p->p[i][j];
    }
    if (fabs(sum - 1) > 1e-9) return 0;
  }
  return 1;
}

/* Emission of return x in each regime, scaled: e[j] = N(x; m_j, s_j^2) / exp(mx),
 * returns mx (the largest log density), so that no e underflows together. */
static double emissions(const ms_calib_rs *p, const double *logs, double x, double *e) {
  double lb[MS_CALIB_MAX_REGIMES], mx = -INFINITY;
  for (int j = 0; j < p->k; j++) {
    double z = (x - p->m[j]) / p->s[j];
    lb[j] = -0.5 * LOG_2PI - logs[j] - 0.5 * z * z;
    if (lb[j] > mx) mx = lb[j];
  }
  for (int j = 0; j < p->k; j++) e[j] = exp(lb[j] - mx);
  return mx;
}

/* The scaled forward filter. With @p a and @p e (n x k each) and @p c (n)
 * it keeps the filtered probabilities, the scaled emissions and the
 * scales for the backward pass; without, it only sums the likelihood. */
static double rs_forward(const double *r, int64_t n, const ms_calib_rs *p, double *a, double *e, double *c) {
  int k = p->k;
  double pi[MS_CALIB_MAX_REGIMES], logs[MS_CALIB_MAX_REGIMES];
  double prev[MS_CALIB_MAX_REGIMES], cur[MS_CALIB_MAX_REGIMES], et[MS_CALIB_MAX_REGIMES];
  ms_calib_stationary(p, pi);
  for (int j = 0; j < k; j++) logs[j] = log(p->s[j]);
  double ll = 0;
  for (int64_t t = 0; t < n; t++) {
    double *ep = e ? e + t * k : et;
    double mx = emissions(p, logs, r[t], ep);
    double ct = 0;
    for (int j = 0; j < k; j++) {
      double pred;
      if (t == 0) pred = pi[j];
      else {
        pred = 0;
        for (int i = 0; i < k; i++) pred += prev[i] * p->p[i][j];
      }
      cur[j] = pred * ep[j];
      ct += cur[j];
    }
    if (!(ct > 0) || !isfinite(ct)) return -INFINITY;
    for (int j = 0; j < k; j++) prev[j] = cur[j] / ct;
    if (a) memcpy(a + t * k, prev, (size_t)k * sizeof *prev);
    if (c) c[t] = ct;
    ll += log(ct) + mx;
  }
  return ll;
}

double ms_calib_rs_loglik(const double *r, int64_t n, const ms_calib_rs *p) {
  if (n < 1 || !rs_valid(p)) return -INFINITY;
  return rs_forward(r, n, p, NULL, NULL, NULL);
}

/* Work arrays of one EM fit. */
typedef struct rs_work {
  int64_t n;
  int k;
  double *a, *b, *e, *c; /* n x k filtered, n x k backward, n x k emissions, n scales */
} rs_work;

/* The backward pass: b becomes the smoothed probabilities gamma (n x k),
 * and xi the expected transition counts. */
static void rs_backward(const rs_work *w, const ms_calib_rs *p, double xi[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES]) {
  int k = w->k;
  int64_t n = w->n;
  double beta[MS_CALIB_MAX_REGIMES], nb[MS_CALIB_MAX_REGIMES], u[MS_CALIB_MAX_REGIMES];
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) xi[i][j] = 0;
  for (int j = 0; j < k; j++) beta[j] = 1.0;
  for (int j = 0; j < k; j++) w->b[(n - 1) * k + j] = w->a[(n - 1) * k + j];
  for (int64_t t = n - 2; t >= 0; t--) {
    const double *e1 = w->e + (t + 1) * k, *at = w->a + t * k;
    double inv = 1.0 / w->c[t + 1];
    for (int j = 0; j < k; j++) u[j] = e1[j] * beta[j] * inv;
    for (int i = 0; i < k; i++) {
      double s = 0;
      for (int j = 0; j < k; j++) {
        double v = p->p[i][j] * u[j];
        s += v;
        xi[i][j] += at[i] * v;
      }
      nb[i] = s;
    }
    double g = 0;
    for (int i = 0; i < k; i++) {
      beta[i] = nb[i];
      w->b[t * k + i] = at[i] * beta[i];
      g += w->b[t * k + i];
    }
    /* gamma sums to 1 in exact arithmetic; renormalising keeps rounding from accumulating */
    for (int i = 0; i < k; i++) w->b[t * k + i] /= g;
  }
}

/* One EM run from @p p (replaced by the fit); returns the log-likelihood.
 * The M-step leaves out the initial term: the chain starts from its
 * stationary distribution, a function of P with no closed-form maximiser.
 * So an iteration can lose a little likelihood near the optimum (on BTC
 * daily, 1e-6 an iteration after 60); the run stops there and keeps the
 * parameters before that step, whose likelihood it returns. The last
 * M-step is checked too: a run never ends on a step that lost. */
static double rs_em(const double *r, rs_work *w, ms_calib_rs *p, int max_iter, double tol, double floor_var,
                    const volatile sig_atomic_t *cancel, int *iters) {
  int k = p->k;
  int64_t n = w->n;
  double ll = -INFINITY, xi[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES];
  ms_calib_rs last = *p; /* the parameters whose likelihood is ll */
  int it;
  for (it = 0;; it++) {
    double nll = rs_forward(r, n, p, w->a, w->e, w->c);
    if (!isfinite(nll)) return -INFINITY;
    if (it > 0 && nll - ll < tol) {
      if (nll < ll) *p = last;
      else ll = nll;
      break;
    }
    ll = nll;
    last = *p;
    if (it == max_iter) break; /* max_iter M-steps done, the last one checked */
    if (cancel && *cancel) break; /* ms_calib_fit reports it */
    rs_backward(w, p, xi);
    for (int j = 0; j < k; j++) {
      double g = 0, gm = 0;
      for (int64_t t = 0; t < n; t++) {
        g += w->b[t * k + j];
        gm += w->b[t * k + j] * r[t];
      }
      if (g < MIN_OCCUPANCY) continue;
      double m = gm / g, gv = 0;
      for (int64_t t = 0; t < n; t++) gv += w->b[t * k + j] * (r[t] - m) * (r[t] - m);
      p->m[j] = m;
      p->s[j] = sqrt(fmax(gv / g, floor_var));
    }
    for (int i = 0; i < k && k > 1; i++) {
      double rowsum = 0;
      for (int j = 0; j < k; j++) rowsum += xi[i][j];
      if (!(rowsum > MIN_OCCUPANCY)) continue;
      double sum = 0;
      for (int j = 0; j < k; j++) {
        p->p[i][j] = xi[i][j] / rowsum;
        if (j != i && p->p[i][j] < P_FLOOR) p->p[i][j] = P_FLOOR;
        sum += p->p[i][j];
      }
      for (int j = 0; j < k; j++) p->p[i][j] /= sum;
    }
  }
  *iters = it;
  return ll;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* Starting point @p which: 0 from quantiles of |r - mean| (regime j gets the
 * sd of the j-th k-quantile group), the others drawn. */
static int rs_start(ms_calib_rs *p, int k, int which, const double *r, int64_t n, double mean, double var,
                    double floor_var, gsl_rng *g, uint64_t seed) {
  p->k = k;
  double sd = sqrt(var);
  if (which == 0) {
    double *d = malloc((size_t)n * sizeof *d);
    if (!d) return -1;
    for (int64_t t = 0; t < n; t++) d[t] = fabs(r[t] - mean);
    qsort(d, (size_t)n, sizeof *d, cmp_double);
    for (int j = 0; j < k; j++) {
      int64_t lo = n * j / k, hi = n * (j + 1) / k;
      double s2 = 0;
      for (int64_t t = lo; t < hi; t++) s2 += d[t] * d[t];
      p->s[j] = sqrt(fmax(s2 / (double)(hi - lo), floor_var));
      p->m[j] = mean;
    }
    free(d);
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) p->p[i][j] = k == 1 ? 1.0 : (i == j ? 0.95 : 0.05 / (k - 1));
    return 0;
  }
  ms_rng_seed(g, seed, (uint64_t)which, CALIB_STREAM);
  for (int j = 0; j < k; j++) {
    /* sds spread over a factor of e^3 around the sample's; means near its mean */
    p->s[j] = fmax(sd * exp(3.0 * (ms_rng_uniform_pos(g) - 0.5)), sqrt(floor_var));
    p->m[j] = mean + 0.2 * p->s[j] * ms_rng_gaussian(g);
  }
  for (int i = 0; i < k; i++) {
    if (k == 1) {
      p->p[0][0] = 1.0;
      break;
    }
    double stay = 0.5 + 0.49 * ms_rng_uniform_pos(g), w[MS_CALIB_MAX_REGIMES], ws = 0;
    for (int j = 0; j < k; j++) {
      w[j] = j == i ? 0 : ms_rng_uniform_pos(g);
      ws += w[j];
    }
    for (int j = 0; j < k; j++) p->p[i][j] = j == i ? stay : (1 - stay) * w[j] / ws;
  }
  return 0;
}

/* The most likely regime path (log domain). */
static int rs_viterbi(const double *r, int64_t n, const ms_calib_rs *p, int *path) {
  int k = p->k;
  double *delta = malloc((size_t)k * 2 * sizeof *delta);
  unsigned char *from = malloc((size_t)n * (size_t)k);
  if (!delta || !from) {
    free(delta);
    free(from);
    return -1;
  }
  double pi[MS_CALIB_MAX_REGIMES], logs[MS_CALIB_MAX_REGIMES], lp[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES];
  ms_calib_stationary(p, pi);
  for (int j = 0; j < k; j++) logs[j] = log(p->s[j]);
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) lp[i][j] = log(p->p[i][j]);
  double *cur = delta, *nxt = delta + k;
  for (int64_t t = 0; t < n; t++) {
    for (int j = 0; j < k; j++) {
      double z = (r[t] - p->m[j]) / p->s[j], lb = -logs[j] - 0.5 * z * z;
      if (t == 0) {
        nxt[j] = log(pi[j]) + lb;
        from[j] = 0;
        continue;
      }
      int best = 0;
      double bv = -INFINITY;
      for (int i = 0; i < k; i++) {
        double v = cur[i] + lp[i][j];
        if (v > bv) bv = v, best = i;
      }
      nxt[j] = bv + lb;
      from[t * k + j] = (unsigned char)best;
    }
    double *tmp = cur;
    cur = nxt;
    nxt = tmp;
  }
  int s = 0;
  for (int j = 1; j < k; j++)
    if (cur[j] > cur[s]) s = j;
  for (int64_t t = n - 1; t >= 0; t--) {
    path[t] = s;
    if (t > 0) s = from[t * k + s];
  }
  free(delta);
  free(from);
  return 0;
}

/* ---- the numerical Hessian and its inverse ---- */

typedef double (*ll_fn)(const double *theta, void *ctx);

/* Covariance of the maximum-likelihood estimate: (-H)^{-1}, H the central
 * difference Hessian of @p f at @p theta (np values) with steps @p h.
 * Returns 0, or -1 (with the reason in @p note) when -H is not positive
 * definite or the likelihood is not finite around the optimum. */
static int hessian_cov(ll_fn f, void *ctx, const double *theta, const double *h, int np, double *cov, char *note,
                       size_t nn) {
  double *x = malloc((size_t)np * sizeof *x);
  gsl_matrix *H = gsl_matrix_alloc((size_t)np, (size_t)np);
  int rc = -1;
  if (!x || !H) {
    snprintf(note, nn, "out of memory for the Hessian");
    goto out;
  }
  memcpy(x, theta, (size_t)np * sizeof *x);
  double f0 = f(x, ctx);
  for (int i = 0; i < np; i++) {
    x[i] = theta[i] + h[i];
    double fp = f(x, ctx);
    x[i] = theta[i] - h[i];
    double fm = f(x, ctx);
    x[i] = theta[i];
    gsl_matrix_set(H, (size_t)i, (size_t)i, (fp - 2 * f0 + fm) / (h[i] * h[i]));
    for (int j = 0; j < i; j++) {
      double v[4];
      for (int q = 0; q < 4; q++) {
        x[i] = theta[i] + ((q & 1) ? -h[i] : h[i]);
        x[j] = theta[j] + ((q & 2) ? -h[j] : h[j]);
        v[q] = f(x, ctx);
      }
      x[i] = theta[i];
      x[j] = theta[j];
      double hij = (v[0] - v[1] - v[2] + v[3]) / (4 * h[i] * h[j]);
      gsl_matrix_set(H, (size_t)i, (size_t)j, hij);
      gsl_matrix_set(H, (size_t)j, (size_t)i, hij);
    }
  }
  for (int i = 0; i < np; i++)
    for (int j = 0; j < np; j++) {
      double v = -gsl_matrix_get(H, (size_t)i, (size_t)j);
      if (!isfinite(v)) {
        snprintf(note, nn, "the log-likelihood is not finite next to the optimum (a parameter on its bound)");
        goto out;
      }
      gsl_matrix_set(H, (size_t)i, (size_t)j, v);
    }
  if (gsl_linalg_cholesky_decomp1(H) != GSL_SUCCESS || gsl_linalg_cholesky_invert(H) != GSL_SUCCESS) {
    snprintf(note, nn, "the observed information is not positive definite (a flat direction or a parameter "
                       "on its bound)");
    goto out;
  }
  for (int i = 0; i < np; i++)
    for (int j = 0; j < np; j++) cov[i * np + j] = gsl_matrix_get(H, (size_t)i, (size_t)j);
  for (int i = 0; i < np; i++)
    if (!(cov[i * np + i] >= 0)) {
      snprintf(note, nn, "the inverse of the observed information has a negative variance");
      goto out;
    }
  rc = 0;
out:
  free(x);
  gsl_matrix_free(H);
  return rc;
}

/* regime_switching's natural parameters: m_j, s_j (j < k), then p_ij (j != i), row by row. */
typedef struct rs_ctx {
  const double *r;
  int64_t n;
  int k;
  double full[2 * MS_CALIB_MAX_REGIMES + MS_CALIB_MAX_REGIMES * MS_CALIB_MAX_REGIMES]; /* every parameter */
  int free_idx[2 * MS_CALIB_MAX_REGIMES + MS_CALIB_MAX_REGIMES * MS_CALIB_MAX_REGIMES]; /* which ones vary */
  int nfree;
} rs_ctx;

static void rs_unpack(const double *th, int k, ms_calib_rs *p) {
  int q = 0;
  p->k = k;
  for (int j = 0; j < k; j++) {
    p->m[j] = th[q++];
    p->s[j] = th[q++];
  }
  for (int i = 0; i < k; i++) {
    double off = 0;
    for (int j = 0; j < k; j++)
      if (j != i) off += p->p[i][j] = th[q++];
    p->p[i][i] = 1 - off;
  }
}

static double rs_ll_theta(const double *th, void *ctx) {
  const rs_ctx *c = ctx;
  ms_calib_rs p;
  memset(&p, 0, sizeof p); /* whole: the slots past k and the padding too (results compare bytewise) */
  rs_unpack(th, c->k, &p);
  for (int i = 0; i < c->k; i++)
    for (int j = 0; j < c->k; j++)
      if (!(p.p[i][j] >= 0)) return -INFINITY;
  for (int j = 0; j < c->k; j++)
    if (!(p.s[j] > 0)) return -INFINITY;
  return rs_forward(c->r, c->n, &p, NULL, NULL, NULL);
}

/* The log-likelihood as a function of the free parameters, the others held. */
static double rs_ll_free(const double *th, void *ctx) {
  rs_ctx *c = ctx;
  double full[sizeof c->full / sizeof c->full[0]];
  memcpy(full, c->full, sizeof full);
  for (int i = 0; i < c->nfree; i++) full[c->free_idx[i]] = th[i];
  return rs_ll_theta(full, ctx);
}

static void rs_standard_errors(ms_calib_result *res, const double *r, int64_t n) {
  int k = res->rs.k, np = 2 * k + k * (k - 1);
  double th[2 * MS_CALIB_MAX_REGIMES + MS_CALIB_MAX_REGIMES * MS_CALIB_MAX_REGIMES];
  double h[sizeof th / sizeof th[0]];
  double *cov = malloc((size_t)np * (size_t)np * sizeof *cov);
  if (!cov) {
    snprintf(res->se_note, sizeof res->se_note, "out of memory for the Hessian");
    return;
  }
  int q = 0;
  for (int j = 0; j < k; j++) {
    th[q] = res->rs.m[j];
    h[q++] = HESS_STEP * res->rs.s[j];
    th[q] = res->rs.s[j];
    h[q++] = HESS_STEP * res->rs.s[j];
  }
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++)
      if (j != i) {
        th[q] = res->rs.p[i][j];
        /* within the simplex: never past 0 for p_ij nor p_ii */
        h[q++] = HESS_STEP * fmin(res->rs.p[i][j], res->rs.p[i][i]);
      }
  /* A transition probability at 0 is on the edge of the simplex: no
   * second difference across it, and one so small that the whole sample
   * expects less than one such transition (p n < 1) is not identified by
   * it. Those are held (standard error 0) and the information of the
   * others is inverted. */
  rs_ctx c;
  memset(&c, 0, sizeof c);
  c.r = r;
  c.n = n;
  c.k = k;
  memcpy(c.full, th, (size_t)np * sizeof *th);
  double sub[sizeof th / sizeof th[0]], hs[sizeof th / sizeof th[0]];
  for (int i = 0; i < np; i++)
    if (i < 2 * k || th[i] * (double)n >= 1) {
      sub[c.nfree] = th[i];
      hs[c.nfree] = h[i];
      c.free_idx[c.nfree++] = i;
    }
  res->held = np - c.nfree;
  double *cs = malloc((size_t)c.nfree * (size_t)c.nfree * sizeof *cs);
  if (cs && hessian_cov(rs_ll_free, &c, sub, hs, c.nfree, cs, res->se_note, sizeof res->se_note) == 0) {
    for (int i = 0; i < np * np; i++) cov[i] = 0;
    for (int a = 0; a < c.nfree; a++)
      for (int b = 0; b < c.nfree; b++) cov[c.free_idx[a] * np + c.free_idx[b]] = cs[a * c.nfree + b];
    res->have_se = 1;
    double ppy = res->periods_per_year, yr = sqrt(ppy);
    q = 0;
    for (int j = 0; j < k; j++, q += 2) {
      double vmm = cov[q * np + q], vss = cov[(q + 1) * np + q + 1], vms = cov[q * np + q + 1], s = res->rs.s[j];
      res->rs_se.m[j] = sqrt(vmm);
      res->rs_se.s[j] = sqrt(vss);
      res->vol_se[j] = sqrt(vss) * yr;
      res->drift_se[j] = ppy * sqrt(fmax(vmm + 2 * s * vms + s * s * vss, 0));
    }
    int base = 2 * k;
    for (int i = 0; i < k; i++) {
      int row = base + i * (k - 1);
      double vq = 0;
      for (int a = 0; a < k - 1; a++) {
        res->rs_se.p[i][a < i ? a : a + 1] = sqrt(cov[(row + a) * np + row + a]);
        for (int b = 0; b < k - 1; b++) vq += cov[(row + a) * np + row + b];
      }
      res->rs_se.p[i][i] = sqrt(fmax(vq, 0));
    }
    /* the durations depend on the whole of P (through its logarithm): the
     * delta method with the derivatives by central differences */
    double jac[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES * MS_CALIB_MAX_REGIMES] = {{0}};
    for (int a = base; a < np; a++) {
      if (!(cov[a * np + a] > 0)) continue;
      double tp[sizeof th / sizeof th[0]], dp[MS_CALIB_MAX_REGIMES], dm[MS_CALIB_MAX_REGIMES];
      calib_mat wtmp;
      ms_calib_rs pp;
      memset(&pp, 0, sizeof pp);
      memcpy(tp, th, sizeof tp);
      tp[a] = th[a] + h[a];
      rs_unpack(tp, k, &pp);
      rs_chain(&pp, (double)res->resolution, dp, wtmp);
      tp[a] = th[a] - h[a];
      rs_unpack(tp, k, &pp);
      rs_chain(&pp, (double)res->resolution, dm, wtmp);
      for (int i = 0; i < k; i++) jac[i][a - base] = (dp[i] - dm[i]) / (2 * h[a]);
    }
    for (int i = 0; i < k; i++) {
      double v = 0;
      for (int a = base; a < np; a++)
        for (int b = base; b < np; b++)
          if (cov[a * np + a] > 0 && cov[b * np + b] > 0) v += jac[i][a - base] * jac[i][b - base] * cov[a * np + b];
      res->duration_se[i] = k > 1 && isfinite(v) ? sqrt(fmax(v, 0)) : 0;
    }
  } else if (!cs) {
    snprintf(res->se_note, sizeof res->se_note, "out of memory for the Hessian");
  }
  free(cs);
  free(cov);
}

static ms_status fit_rs(ms_calib_result *res, const ms_calib_returns *ret, const ms_calib_opts *o, ms_error *err) {
  int k = o->regimes;
  int64_t n = ret->n;
  const double *r = ret->r;
  double mean, var;
  moments(r, n, &mean, &var);
  double floor_var = o->var_floor * var;
  rs_work w = {n, k, NULL, NULL, NULL, NULL};
  w.a = malloc((size_t)n * (size_t)k * sizeof *w.a);
  w.b = malloc((size_t)n * (size_t)k * sizeof *w.b);
  w.e = malloc((size_t)n * (size_t)k * sizeof *w.e);
  w.c = malloc((size_t)n * sizeof *w.c);
  res->smoothed = malloc((size_t)n * (size_t)k * sizeof *res->smoothed);
  res->viterbi = malloc((size_t)n * sizeof *res->viterbi);
  gsl_rng *g = NULL;
  double *lls = malloc((size_t)o->starts * sizeof *lls); /* each start's log-likelihood */
  ms_calib_rs *ps = malloc((size_t)o->starts * sizeof *ps); /* each start's parameters */
  int *its = malloc((size_t)o->starts * sizeof *its), *order = malloc((size_t)o->starts * sizeof *order);
  ms_status st = MS_OK;
  if (!w.a || !w.b || !w.e || !w.c || !res->smoothed || !res->viterbi) {
    st = ms_error_set(err, MS_ERR_NOMEM, "out of memory for a fit of %lld returns", (long long)n);
    goto out;
  }
  double best = -INFINITY;
  ms_calib_rs bestp;
  memset(&bestp, 0, sizeof bestp);
  if (!lls || !ps || !its || !order) {
    st = ms_error_set(err, MS_ERR_NOMEM, "out of memory for %d starts", o->starts);
    goto out;
  }
  if ((st = ms_rng_new(&g, err))) goto out;
  /* Every start runs explore_iter iterations; the best finalists (by
   * log-likelihood, then start index) go on to convergence. EM's slow
   * tail is where the time goes, and a start far behind after the
   * exploration does not catch up in practice. */
  int nstarts = o->starts, best_it = 0;
  for (int sidx = 0; sidx < nstarts; sidx++) {
    memset(&ps[sidx], 0, sizeof ps[sidx]);
    if (rs_start(&ps[sidx], k, sidx, r, n, mean, var, floor_var, g, o->seed)) {
      st = ms_error_set(err, MS_ERR_NOMEM, "out of memory for a starting point");
      goto out;
    }
    lls[sidx] = rs_em(r, &w, &ps[sidx], o->explore_iter, o->tol, floor_var, o->cancel, &its[sidx]);
    order[sidx] = sidx;
  }
  /* insertion sort by log-likelihood, descending; -inf (and NaN) last; ties by start index */
  for (int a = 1; a < nstarts; a++)
    for (int b = a; b > 0; b--) {
      double x = lls[order[b - 1]], y = lls[order[b]];
      int swap = (y > x) || (isnan(x) && !isnan(y));
      if (!swap) break;
      int t = order[b - 1];
      order[b - 1] = order[b];
      order[b] = t;
    }
  int nfin = nstarts < o->finalists ? nstarts : o->finalists;
  for (int f = 0; f < nfin; f++) {
    int sidx = order[f], it = 0;
    if (!isfinite(lls[sidx])) continue;
    double ll = rs_em(r, &w, &ps[sidx], o->max_iter, o->tol, floor_var, o->cancel, &it);
    its[sidx] += it;
    /* the reported likelihood is the one the public function gives */
    lls[sidx] = isfinite(ll) ? ms_calib_rs_loglik(r, n, &ps[sidx]) : ll;
    if (lls[sidx] > best) {
      best = lls[sidx];
      bestp = ps[sidx];
      best_it = its[sidx];
    }
  }
  if (!isfinite(best)) {
    st = ms_error_set(err, MS_ERR_INTERNAL, "no starting point of the fit reached a finite likelihood");
    goto out;
  }
  res->starts_done = nstarts;
  res->finalists = nfin;
  for (int f = 0; f < nfin; f++) res->starts_near_best += lls[order[f]] >= best - SAME_OPTIMUM;
  /* regimes by vol ascending (ties: by mean) */
  int perm[MS_CALIB_MAX_REGIMES];
  for (int j = 0; j < k; j++) perm[j] = j;
  for (int a = 1; a < k; a++)
    for (int b = a; b > 0; b--) {
      int x = perm[b - 1], y = perm[b];
      if (bestp.s[x] > bestp.s[y] || (bestp.s[x] == bestp.s[y] && bestp.m[x] > bestp.m[y])) {
        perm[b - 1] = y;
        perm[b] = x;
      } else break;
    }
  ms_calib_rs p;
  memset(&p, 0, sizeof p); /* whole: the slots past k and the padding too (results compare bytewise) */
  p.k = k;
  for (int a = 0; a < k; a++) {
    p.m[a] = bestp.m[perm[a]];
    p.s[a] = bestp.s[perm[a]];
    for (int b = 0; b < k; b++) p.p[a][b] = bestp.p[perm[a]][perm[b]];
  }
  res->rs = p;
  res->iterations = best_it;
  res->loglik = ms_calib_rs_loglik(r, n, &p);
  /* the smoothed probabilities of the ordered fit */
  double xi[MS_CALIB_MAX_REGIMES][MS_CALIB_MAX_REGIMES];
  rs_forward(r, n, &p, w.a, w.e, w.c);
  rs_backward(&w, &p, xi);
  memcpy(res->smoothed, w.b, (size_t)n * (size_t)k * sizeof *w.b);
  if (rs_viterbi(r, n, &p, res->viterbi)) {
    st = ms_error_set(err, MS_ERR_NOMEM, "out of memory for the regime path");
    goto out;
  }
  res->nparams = 2 * k + k * (k - 1);
  ms_calib_stationary(&p, res->stationary);
  double yr = sqrt(res->periods_per_year);
  for (int j = 0; j < k; j++) {
    res->vol[j] = p.s[j] * yr;
    res->drift[j] = (p.m[j] + 0.5 * p.s[j] * p.s[j]) * res->periods_per_year;
  }
  res->generator = rs_chain(&p, (double)res->resolution, res->duration, res->jump);
  rs_standard_errors(res, r, n);
out:
  ms_rng_free(g);
  free(lls);
  free(ps);
  free(its);
  free(order);
  free(w.a);
  free(w.b);
  free(w.e);
  free(w.c);
  return st;
}

/* ---- garch ---- */

/* Log-likelihood of GARCH(1,1) with the first variance @p var1. */
static double garch_ll(const double *x, int64_t n, double mu, double omega, double alpha, double beta, double nu,
                       ms_calib_dist dist, double var1) {
  if (!(omega > 0) || !(alpha >= 0) || !(beta >= 0) || !isfinite(mu)) return -INFINITY;
  double cst, kk = 0;
  if (dist == MS_CALIB_T) {
    if (!(nu > 2) || !isfinite(nu)) return -INFINITY;
    cst = gsl_sf_lngamma(0.5 * (nu + 1)) - gsl_sf_lngamma(0.5 * nu) - 0.5 * log(M_PI * (nu - 2));
    kk = 0.5 * (nu + 1);
  } else {
    cst = -0.5 * LOG_2PI;
  }
  double ll = 0, s2 = var1, eprev = 0;
  for (int64_t t = 0; t < n; t++) {
    if (t > 0) s2 = omega + alpha * eprev * eprev + beta * s2;
    if (!(s2 > 0) || !isfinite(s2)) return -INFINITY;
    double e = x[t] - mu, z2 = e * e / s2;
    if (dist == MS_CALIB_T) ll += cst - 0.5 * log(s2) - kk * log1p(z2 / (nu - 2));
    else ll += cst - 0.5 * log(s2) - 0.5 * z2;
    eprev = e;
  }
  return ll;
}

double ms_calib_garch_loglik(const double *r, int64_t n, const ms_calib_garch *g) {
  if (n < 2) return -INFINITY;
  double mean, var;
  moments(r, n, &mean, &var);
  return garch_ll(r, n, g->mu, g->omega, g->alpha, g->beta, g->dist == MS_CALIB_T ? g->nu : 0, g->dist, var);
}

/* Nelder-Mead works on the returns divided by their sd (x, variance 1) and
 * on u = (mu_x, ln omega_x, logit(alpha + beta), logit(alpha / (alpha + beta)), ln(nu - 2)). */
typedef struct garch_ctx {
  const double *x;
  int64_t n;
  ms_calib_dist dist;
  double var1;
  const volatile sig_atomic_t *cancel; /* the options' */
} garch_ctx;

static double logistic(double u) { return 1 / (1 + exp(-u)); }

static void garch_from_u(const double *u, ms_calib_dist dist, double *th) {
  double pers = PERS_MAX * logistic(u[2]), frac = logistic(u[3]);
  th[0] = u[0];
  th[1] = exp(u[1]);
  th[2] = pers * frac;
  th[3] = pers * (1 - frac);
  th[4] = dist == MS_CALIB_T ? 2 + exp(u[4]) : 0;
}

static double garch_nm_f(const gsl_vector *v, void *params) {
  const garch_ctx *c = params;
  double u[5] = {0}, th[5];
  for (size_t i = 0; i < v->size; i++) u[i] = gsl_vector_get(v, i);
  garch_from_u(u, c->dist, th);
  double ll = garch_ll(c->x, c->n, th[0], th[1], th[2], th[3], th[4], c->dist, c->var1);
  return isfinite(ll) ? -ll : 1e300;
}

static double garch_ll_theta(const double *th, void *ctx) {
  const garch_ctx *c = ctx;
  return garch_ll(c->x, c->n, th[0], th[1], th[2], th[3], c->dist == MS_CALIB_T ? th[4] : 0, c->dist, c->var1);
}

/* Minimise from @p u (replaced by the end point); returns -loglik there. */
static double garch_nm(garch_ctx *c, double *u, size_t np, ms_status *st, ms_error *err) {
  gsl_multimin_fminimizer *m = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, np);
  gsl_vector *x = gsl_vector_alloc(np), *step = gsl_vector_alloc(np);
  double fbest = INFINITY;
  if (!m || !x || !step) {
    *st = ms_error_set(err, MS_ERR_NOMEM, "out of memory for the minimiser");
    goto out;
  }
  gsl_multimin_function fn = {garch_nm_f, np, c};
  for (int rs = 0; rs < NM_RESTARTS; rs++) {
    for (size_t i = 0; i < np; i++) {
      gsl_vector_set(x, i, u[i]);
      gsl_vector_set(step, i, i == 0 ? 0.02 : 0.5);
    }
    if (gsl_multimin_fminimizer_set(m, &fn, x, step) != GSL_SUCCESS) break;
    /* a flat direction (alpha + beta against its bound, nu towards the
     * normal) never lets the simplex shrink: stop too when the best value
     * has stalled for NM_STALL iterations */
    double fmin = INFINITY;
    for (int it = 0, last = 0; it < NM_MAX_ITER && !(c->cancel && *c->cancel); it++) {
      if (gsl_multimin_fminimizer_iterate(m) != GSL_SUCCESS) break;
      if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), NM_SIZE) == GSL_SUCCESS) break;
      double f = gsl_multimin_fminimizer_minimum(m);
      if (f < fmin - GARCH_GAIN) fmin = f, last = it;
      else if (it - last > NM_STALL) break;
    }
    double f = gsl_multimin_fminimizer_minimum(m);
    int better = f < fbest - GARCH_GAIN;
    if (f < fbest) {
      fbest = f;
      for (size_t i = 0; i < np; i++) u[i] = gsl_vector_get(m->x, i);
    }
    if (!better) break;
  }
out:
  gsl_multimin_fminimizer_free(m);
  gsl_vector_free(x);
  gsl_vector_free(step);
  return fbest;
}

static ms_status fit_garch(ms_calib_result *res, const ms_calib_returns *ret, const ms_calib_opts *o,
                           ms_error *err) {
  int64_t n = ret->n;
  double mean, var;
  moments(ret->r, n, &mean, &var);
  double sd = sqrt(var);
  if (!(sd > 0)) return ms_error_set(err, MS_ERR_INPUT, "the returns of the window are all equal: no volatility");
  double *x = malloc((size_t)n * sizeof *x);
  if (!x) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %lld returns", (long long)n);
  for (int64_t t = 0; t < n; t++) x[t] = ret->r[t] / sd;
  double mx, vx;
  moments(x, n, &mx, &vx);
  garch_ctx c = {x, n, o->dist, vx, o->cancel};
  size_t np = o->dist == MS_CALIB_T ? 5 : 4;
  /* a few classic starting points, all run: the likelihood has flat ridges */
  static const double starts[][2] = {{0.05, 0.90}, {0.10, 0.85}, {0.03, 0.96}, {0.15, 0.60}};
  double bestf = INFINITY, bestu[5] = {0};
  ms_status st = MS_OK;
  for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
    double a = starts[s][0], b = starts[s][1];
    double pa = (a + b) / PERS_MAX;
    double u[5] = {mx, log(vx * (1 - a - b)), log(pa / (1 - pa)), log(a / b), log(8.0 - 2.0)};
    double f = garch_nm(&c, u, np, &st, err);
    if (st) goto out;
    if (f < bestf) {
      bestf = f;
      memcpy(bestu, u, sizeof u);
    }
  }
  if (!(bestf < 1e300)) {
    st = ms_error_set(err, MS_ERR_INTERNAL, "the GARCH fit found no finite likelihood");
    goto out;
  }
  double th[5];
  garch_from_u(bestu, o->dist, th);
  ms_calib_garch *g = &res->garch;
  g->dist = o->dist;
  g->mu = th[0] * sd;
  g->omega = th[1] * var;
  g->alpha = th[2];
  g->beta = th[3];
  g->nu = o->dist == MS_CALIB_T ? th[4] : 0;
  res->nparams = (int)np;
  res->loglik = ms_calib_garch_loglik(ret->r, n, g);
  res->persistence = g->alpha + g->beta;
  double uvar = g->omega / (1 - res->persistence);
  res->uncond_vol = sqrt(uvar * res->periods_per_year);
  res->half_life = res->persistence > 0 ? log(0.5) / log(res->persistence) : 0;
  res->garch_drift = (g->mu + 0.5 * var) * res->periods_per_year;
  /* standard errors on the scaled data, then scaled back: mu x sd, omega x var */
  double h[5] = {HESS_STEP, HESS_STEP * th[1], HESS_STEP * fmax(th[2], 1e-3), HESS_STEP * fmax(th[3], 1e-3),
                 HESS_STEP * th[4]};
  double cov[25];
  if (hessian_cov(garch_ll_theta, &c, th, h, (int)np, cov, res->se_note, sizeof res->se_note) == 0) {
    int p = (int)np;
    res->have_se = 1;
    res->garch_se.mu = sqrt(cov[0]) * sd;
    res->garch_se.omega = sqrt(cov[1 * p + 1]) * var;
    res->garch_se.alpha = sqrt(cov[2 * p + 2]);
    res->garch_se.beta = sqrt(cov[3 * p + 3]);
    res->garch_se.nu = p == 5 ? sqrt(cov[4 * p + 4]) : 0;
    res->persistence_se = sqrt(fmax(cov[2 * p + 2] + cov[3 * p + 3] + 2 * cov[2 * p + 3], 0));
  }
out:
  free(x);
  return st;
}

/* ---- the fit ---- */

void ms_calib_result_free(ms_calib_result *res) {
  if (!res) return;
  free(res->smoothed);
  free(res->viterbi);
  free(res);
}

ms_status ms_calib_fit(ms_calib_result **out, const ms_calib_returns *r, const ms_calib_opts *o, ms_error *err) {
  *out = NULL;
  if (r->n < MS_CALIB_MIN_RETURNS)
    return ms_error_set(err, MS_ERR_INPUT, "%lld returns: at least %d are needed", (long long)r->n,
                        MS_CALIB_MIN_RETURNS);
  if (o->model == MS_CALIB_REGIME_SWITCHING && (o->regimes < 1 || o->regimes > MS_CALIB_MAX_REGIMES))
    return ms_error_set(err, MS_ERR_INPUT, "regimes: %d, expected 1 to %d", o->regimes, MS_CALIB_MAX_REGIMES);
  if (o->starts < 1) return ms_error_set(err, MS_ERR_INPUT, "starts: %d, expected at least 1", o->starts);
  if (o->finalists < 1 || o->explore_iter < 1 || o->max_iter < 1 || !(o->tol > 0) || !(o->var_floor > 0))
    return ms_error_set(err, MS_ERR_INPUT, "the EM settings must be positive");
  if (!(o->days_per_year > 0) || !isfinite(o->days_per_year))
    return ms_error_set(err, MS_ERR_INPUT, "days per year: expected a positive number");
  if (!(r->resolution > 0)) return ms_error_set(err, MS_ERR_INPUT, "the returns have no resolution");
  for (int64_t t = 0; t < r->n; t++)
    if (!isfinite(r->r[t])) return ms_error_set(err, MS_ERR_INPUT, "return %lld is not finite", (long long)t);
  ms_calib_result *res = calloc(1, sizeof *res);
  if (!res) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  res->opts = *o;
  res->n = r->n;
  res->resolution = r->resolution;
  res->periods_per_year = o->days_per_year * (double)MS_MS_PER_DAY / (double)r->resolution;
  double mean, var;
  moments(r->r, r->n, &mean, &var);
  res->sample_vol = sqrt(var * res->periods_per_year);
  snprintf(res->se_note, sizeof res->se_note, "not computed");
  ms_status st = o->model == MS_CALIB_GARCH ? fit_garch(res, r, o, err) : fit_rs(res, r, o, err);
  if (!st && o->cancel && *o->cancel) st = ms_error_set(err, MS_ERR_CANCELLED, "the fit was interrupted");
  if (st) {
    ms_calib_result_free(res);
    return st;
  }
  if (!isfinite(res->loglik)) {
    ms_calib_result_free(res);
    return ms_error_set(err, MS_ERR_INTERNAL, "the fit ended at a likelihood that is not finite");
  }
  if (res->have_se) res->se_note[0] = '\0';
  res->aic = 2.0 * res->nparams - 2.0 * res->loglik;
  res->bic = res->nparams * log((double)r->n) - 2.0 * res->loglik;
  *out = res;
  return MS_OK;
}

/* ---- text ---- */

static ms_status sb_finish(ms_strbuf *b, char **out, ms_error *err) {
  if (b->oom || !b->p) {
    free(b->p);
    *out = NULL;
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory formatting the calibration");
  }
  *out = b->p;
  return MS_OK;
}

/* A number with @p sig significant digits, as the shortest text that reads back. */
void ms_calib_fmt_sig(double v, int sig, char *buf, size_t n) {
  char t[64];
  snprintf(t, sizeof t, "%.*g", sig, v);
  ms_units_format_number(strtod(t, NULL), buf, n);
}

/* A duration of @p ms, three significant digits in the largest unit it
 * reaches (12.3h, 3.46d, 45m): text ms_units_parse_duration reads. */
static void fmt_duration(double ms, char *buf, size_t n) {
  if (!isfinite(ms) || ms > (double)MS_DURATION_MAX_MS) ms = (double)MS_DURATION_MAX_MS;
  static const struct { double scale; const char *name; } u[] = {
      {MS_MS_PER_DAY, "d"}, {MS_MS_PER_HOUR, "h"}, {MS_MS_PER_MINUTE, "m"}, {MS_MS_PER_SECOND, "s"}};
  size_t i = 0;
  while (i + 1 < sizeof u / sizeof u[0] && ms < u[i].scale) i++;
  double v = ms / u[i].scale;
  /* at most two decimals: 0.01 of a second is still a whole number of ms */
  int dec = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  char t[64], num[32];
  snprintf(t, sizeof t, "%.*f", dec, v);
  double rv = strtod(t, NULL);
  if (!(rv > 0)) rv = 0.01;
  ms_units_format_number(rv, num, sizeof num);
  snprintf(buf, n, "%s%s", num, u[i].name);
}

static const char *regime_name(int k, int j, char *buf, size_t n) {
  static const char *const two[] = {"calm", "stress"}, *const three[] = {"calm", "mid", "stress"};
  if (k == 1) snprintf(buf, n, "calm");
  else if (k == 2) snprintf(buf, n, "%s", two[j]);
  else if (k == 3) snprintf(buf, n, "%s", three[j]);
  else snprintf(buf, n, "regime%d", j);
  return buf;
}

static void header(ms_strbuf *b, const ms_calib_result *res, const ms_calib_returns *r, const char *source) {
  char t0[40], t1[40], rb[40];
  ms_time_format_iso(r->first, t0, sizeof t0);
  ms_time_format_iso(r->end, t1, sizeof t1);
  ms_units_format_duration(r->resolution, rb, sizeof rb);
  ms_sb_printf(b, "# marginsim calibrate: %s\n", source);
  ms_sb_printf(b, "# window %s to %s, resolution %s, %lld returns\n", t0, t1, rb, (long long)res->n);
  if (res->opts.model == MS_CALIB_GARCH)
    ms_sb_printf(b, "# model garch(1,1), %s innovations: ", res->garch.dist == MS_CALIB_T ? "Student t" : "normal");
  else ms_sb_printf(b, "# model regime_switching, %d regime%s: ", res->rs.k, res->rs.k > 1 ? "s" : "");
  ms_sb_printf(b, "log-likelihood %.2f, AIC %.2f, BIC %.2f\n", res->loglik, res->aic, res->bic);
}

ms_status ms_calib_yaml(char **out, const ms_calib_result *res, const ms_calib_returns *r, const char *source,
                        ms_error *err) {
  ms_strbuf b = {0};
  header(&b, res, r, source);
  char dpy[40];
  ms_units_format_number(res->opts.days_per_year, dpy, sizeof dpy);
  ms_sb_printf(&b, "market:\n");
  if (res->opts.model == MS_CALIB_GARCH) {
    const ms_calib_garch *g = &res->garch;
    char rb[40], om[40], al[40], be[40], dr[40], nu[40];
    ms_units_format_duration(r->resolution, rb, sizeof rb);
    ms_calib_fmt_sig(g->omega, 6, om, sizeof om);
    /* alpha + beta < 1 must survive the rounding of the text */
    for (int sig = 6; sig <= 17; sig++) {
      ms_calib_fmt_sig(g->alpha, sig, al, sizeof al);
      ms_calib_fmt_sig(g->beta, sig, be, sizeof be);
      if (strtod(al, NULL) + strtod(be, NULL) < 1) break;
    }
    ms_calib_fmt_sig(res->garch_drift, 4, dr, sizeof dr);
    ms_sb_printf(&b, "  model: garch\n  days_per_year: %s\n", dpy);
    ms_sb_printf(&b, "  garch: {resolution: %s, omega: %s, alpha: %s, beta: %s, drift: %s, innovations: %s", rb, om, al,
              be, dr, g->dist == MS_CALIB_T ? "t" : "normal");
    if (g->dist == MS_CALIB_T) {
      ms_calib_fmt_sig(g->nu, 4, nu, sizeof nu);
      ms_sb_printf(&b, ", nu: %s", nu);
    }
    ms_sb_printf(&b, "}\n");
    if (res->persistence >= PERS_MAX * (1 - 1e-9))
      ms_sb_printf(&b, "  # alpha + beta is at the fit's bound, 1 - 1e-6: an integrated GARCH\n");
    return sb_finish(&b, out, err);
  }
  const ms_calib_rs *p = &res->rs;
  int k = p->k;
  ms_sb_printf(&b, "  model: regime_switching\n  days_per_year: %s\n  regimes:\n", dpy);
  for (int j = 0; j < k; j++) {
    char name[32], vol[40], drift[40], dur[48];
    ms_calib_fmt_sig(res->vol[j], 4, vol, sizeof vol);
    /* the loader's range of drift; a fit beyond it is kept at the bound (and says so) */
    double d = fmax(-1000.0, fmin(1000.0, res->drift[j]));
    ms_calib_fmt_sig(d, 4, drift, sizeof drift);
    ms_sb_printf(&b, "    - {name: %s, vol: %s, drift: %s", regime_name(k, j, name, sizeof name), vol, drift);
    if (k > 1) {
      fmt_duration(res->duration[j], dur, sizeof dur);
      ms_sb_printf(&b, ", mean_duration: %s", dur);
    }
    ms_sb_printf(&b, "}%s\n", d != res->drift[j] ? "   # drift at the loader's bound" : "");
  }
  if (k >= 3) {
    ms_sb_printf(&b, "  transition:\n");
    for (int i = 0; i < k; i++) {
      ms_sb_printf(&b, "    - [");
      for (int j = 0; j < k; j++) {
        char w[40];
        ms_calib_fmt_sig(res->jump[i][j], 4, w, sizeof w);
        ms_sb_printf(&b, "%s%s", j ? ", " : "", w);
      }
      ms_sb_printf(&b, "]\n");
    }
  }
  ms_sb_printf(&b, "  start_regime: stationary\n");
  if (k > 1 && !res->generator)
    ms_sb_printf(&b, "  # no continuous-time chain samples to the fitted P: mean_duration is the resolution / (1 - P[k][k])\n");
  return sb_finish(&b, out, err);
}

/* "value +/- se" or the value alone when there are no standard errors. */
static void pm(char *buf, size_t n, const char *fmt, double v, double se, int have) {
  char a[32], s[32];
  snprintf(a, sizeof a, fmt, v);
  if (!have || !isfinite(se)) {
    snprintf(buf, n, "%s", a);
    return;
  }
  snprintf(s, sizeof s, fmt, se);
  snprintf(buf, n, "%s +/- %s", a, s);
}

ms_status ms_calib_summary(char **out, const ms_calib_result *res, const ms_calib_returns *r, const char *source,
                           ms_error *err) {
  ms_strbuf b = {0};
  char t0[40], t1[40], rb[40];
  ms_time_format_iso(r->first, t0, sizeof t0);
  ms_time_format_iso(r->end, t1, sizeof t1);
  ms_units_format_duration(r->resolution, rb, sizeof rb);
  ms_sb_printf(&b, "%s: %lld returns at %s, %s to %s\n", source, (long long)res->n, rb, t0, t1);
  ms_sb_printf(&b, "realised vol %.4f (annualised, %g days a year)\n", res->sample_vol, res->opts.days_per_year);
  int have = res->have_se;
  char c1[128], c2[128], c3[128], c4[128];
  if (res->opts.model == MS_CALIB_GARCH) {
    const ms_calib_garch *g = &res->garch, *s = &res->garch_se;
    ms_sb_printf(&b, "\nGARCH(1,1), %s innovations (maximum likelihood, Nelder-Mead)\n",
              g->dist == MS_CALIB_T ? "Student t" : "normal");
    pm(c1, sizeof c1, "%.4g", g->mu, s->mu, have);
    ms_sb_printf(&b, "  mu          %s   (per period)\n", c1);
    pm(c1, sizeof c1, "%.4g", g->omega, s->omega, have);
    ms_sb_printf(&b, "  omega       %s   (variance per period)\n", c1);
    pm(c1, sizeof c1, "%.4f", g->alpha, s->alpha, have);
    ms_sb_printf(&b, "  alpha       %s\n", c1);
    pm(c1, sizeof c1, "%.4f", g->beta, s->beta, have);
    ms_sb_printf(&b, "  beta        %s\n", c1);
    pm(c1, sizeof c1, "%.4f", res->persistence, res->persistence_se, have);
    ms_sb_printf(&b, "  alpha+beta  %s   (persistence)\n", c1);
    if (g->dist == MS_CALIB_T) {
      pm(c1, sizeof c1, "%.3g", g->nu, s->nu, have);
      ms_sb_printf(&b, "  nu          %s   (degrees of freedom)\n", c1);
    }
    char hl[48];
    fmt_duration(res->half_life * (double)res->resolution, hl, sizeof hl);
    if (res->persistence >= PERS_MAX * (1 - 1e-9)) {
      ms_sb_printf(&b, "  alpha+beta is at its bound (1 - 1e-6): the likelihood rises towards an integrated or explosive\n"
                    "  GARCH; no unconditional vol, and the standard errors are those of the bound\n");
      ms_sb_printf(&b, "  drift %.4g (annualised mu of dS/S, with the sample variance)\n", res->garch_drift);
    } else {
      ms_sb_printf(&b, "  unconditional vol %.4f (annualised), drift %.4g (annualised mu of dS/S)\n", res->uncond_vol,
                res->garch_drift);
      ms_sb_printf(&b, "  half-life of a vol shock %s (%.1f periods)\n", hl, res->half_life);
    }
  } else {
    const ms_calib_rs *p = &res->rs;
    int k = p->k;
    ms_sb_printf(&b, "\nregime switching, %d regime%s (EM: %d starts drawn with seed %llu, %d iterations each; the best "
                  "%d run to convergence,\n%d of them to the best likelihood, in %d iterations)\n",
              k, k > 1 ? "s" : "", res->starts_done, (unsigned long long)res->opts.seed, res->opts.explore_iter,
              res->finalists, res->starts_near_best, res->iterations);
    ms_sb_printf(&b, "  %-7s %-22s %-22s %-26s %-8s\n", "regime", "vol", "drift", "mean duration", "share");
    for (int j = 0; j < k; j++) {
      char name[32], d[48], dse[48];
      pm(c1, sizeof c1, "%.4f", res->vol[j], res->vol_se[j], have);
      pm(c2, sizeof c2, "%.3f", res->drift[j], res->drift_se[j], have);
      if (k > 1) {
        fmt_duration(res->duration[j], d, sizeof d);
        if (have) {
          fmt_duration(res->duration_se[j], dse, sizeof dse);
          snprintf(c3, sizeof c3, "%s +/- %s", d, dse);
        } else snprintf(c3, sizeof c3, "%s", d);
      } else snprintf(c3, sizeof c3, "-");
      snprintf(c4, sizeof c4, "%.3f", res->stationary[j]);
      ms_sb_printf(&b, "  %-7s %-22s %-22s %-26s %-8s\n", regime_name(k, j, name, sizeof name), c1, c2, c3, c4);
    }
    if (k > 1) {
      ms_sb_printf(&b, "  transition matrix per %s (row: from)\n", rb);
      for (int i = 0; i < k; i++) {
        ms_sb_printf(&b, "   ");
        for (int j = 0; j < k; j++) {
          pm(c1, sizeof c1, "%.4f", p->p[i][j], res->rs_se.p[i][j], have);
          ms_sb_printf(&b, " %-20s", c1);
        }
        ms_sb_printf(&b, "\n");
      }
    }
  }
  ms_sb_printf(&b, "\nlog-likelihood %.3f   AIC %.3f   BIC %.3f   parameters %d   returns %lld\n", res->loglik, res->aic,
            res->bic, res->nparams, (long long)res->n);
  if (have && res->held)
    ms_sb_printf(&b, "standard errors: observed information (numerical Hessian at the optimum), with the %d transition "
                  "probabilit%s below 1/returns held (less than one such switch expected)\n", res->held,
              res->held > 1 ? "ies" : "y");
  else if (have) ms_sb_printf(&b, "standard errors: observed information (numerical Hessian at the optimum)\n");
  else ms_sb_printf(&b, "no standard errors: %s\n", res->se_note);
  return sb_finish(&b, out, err);
}

ms_status ms_calib_regime_csv(char **out, const ms_calib_result *res, const ms_calib_returns *r, ms_error *err) {
  *out = NULL;
  if (res->opts.model != MS_CALIB_REGIME_SWITCHING || !res->viterbi)
    return ms_error_set(err, MS_ERR_INPUT, "a regime path needs the regime_switching model");
  ms_strbuf b = {0};
  int k = res->rs.k;
  ms_sb_printf(&b, "time,return,regime");
  for (int j = 0; j < k; j++) ms_sb_printf(&b, ",p%d", j);
  ms_sb_printf(&b, "\n");
  for (int64_t t = 0; t < res->n && !b.oom; t++) {
    char tb[40];
    ms_time_format_iso(r->t[t], tb, sizeof tb);
    ms_sb_printf(&b, "%s,%.10g,%d", tb, r->r[t], res->viterbi[t]);
    for (int j = 0; j < k; j++) ms_sb_printf(&b, ",%.6f", res->smoothed[t * k + j]);
    ms_sb_printf(&b, "\n");
  }
  return sb_finish(&b, out, err);
}
