/*
 * interval — bootstrap intervals of means and expected shortfalls (see interval.h).
 */
#include "output/interval.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "core/rng.h"

uint64_t ms_interval_key(const char *kind, const char *name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char *s = kind; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  h = (h ^ (unsigned char)':') * 0x100000001b3ull;
  for (const char *s = name; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The value of 0-based rank @p k among v[lo..hi] in the order of
 * cmp_double, by Hoare's FIND (Wirth's form): v[lo..hi] is permuted so that
 * v[lo..k-1] <= v[k] <= v[k+1..hi]. Where no two different doubles compare
 * equal (no NaN, not both zeros) that value is the one a full sort puts at
 * k: an interval's two ends cost O(B), not a sort of its B replicates. */
static double select_rank(double *v, int64_t lo, int64_t hi, int64_t k) {
  while (lo < hi) {
    double p = v[k];
    int64_t i = lo, j = hi;
    do {
      while (v[i] < p) i++;
      while (p < v[j]) j--;
      if (i <= j) {
        double w = v[i];
        v[i] = v[j];
        v[j] = w;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
  return v[k];
}

/* The replicates' values of 1-based ranks @p a <= @p b, as qsort with
 * cmp_double would leave them at v[a - 1] and v[b - 1]. By selection unless
 * a NaN or a -0.0 is among them (neither arises from finite samples, but
 * then only the sort is sure to give the same bits). */
static void two_ranks(double *v, int64_t nv, int64_t a, int64_t b, double *va, double *vb) {
  int plain = 1;
  for (int64_t i = 0; i < nv; i++)
    if (v[i] != v[i] || (v[i] == 0 && signbit(v[i]))) plain = 0;
  if (!plain) {
    qsort(v, (size_t)nv, sizeof *v, cmp_double);
    *va = v[a - 1];
    *vb = v[b - 1];
    return;
  }
  *va = select_rank(v, 0, nv - 1, a - 1);
  *vb = b > a ? select_rank(v, a, nv - 1, b - 1) : *va;
}

/* 1-based ranks of the lower and upper ends among B sorted replicates:
 * floor((B+1) alpha/2) and B + 1 minus it. Returns 0 when that rank is
 * below 1: B resamples cannot resolve the level (above 1 - 2/(B+1) =
 * 0.999), and the extreme replicates would give a narrower interval than
 * the level promises, so the caller's ends are unbounded instead. */
static int end_ranks(double confidence, int64_t *a, int64_t *b) {
  double alpha = 1.0 - confidence;
  int64_t k = (int64_t)floor((double)(MS_BOOT_B + 1) * alpha / 2.0 + 1e-9);
  if (k > MS_BOOT_B) k = MS_BOOT_B;
  *a = k;
  *b = MS_BOOT_B + 1 - k;
  return k >= 1;
}

/* The ends of an interval of a sample of n >= 2 equal values @p v: none, not
 * the zero-width [v, v]. Every resample is v again, so the bootstrap
 * measures no spread, and the sample cannot tell a column constant by
 * construction from one whose other values are rare: 300 paths of which
 * none is insolvent, or two cells that differ on 0.6% of paths, gave
 * [0, 0] intervals that missed the truth a quarter of the time. The lower
 * end of a sample >= 0 on a scale that allows it is 0 (the log scale's
 * m exp(-inf)), as for any such sample whose resamples cannot bound it. */
static void no_spread_ends(double v, int allow_log, double *lo, double *hi) {
  *lo = allow_log && v >= 0 ? 0.0 : -INFINITY;
  *hi = INFINITY;
}

/* The bootstrap-t of ms_interval_mean; on the log scale only when @p allow_log. */
static ms_status mean_interval(const double *x, int64_t n, int allow_log, uint64_t seed, uint64_t key,
                               double confidence, double *lo, double *hi, ms_error *err) {
  *lo = *hi = NAN;
  /* One value has no spread to resample: no interval (as compare.py and the
   * normal interval before), not the zero-width [x, x] of a constant sample. */
  if (n <= 1) return MS_OK;
  double m = 0;
  for (int64_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  if (x[0] == x[n - 1]) { /* no spread to resample */
    no_spread_ends(x[0], allow_log, lo, hi);
    return MS_OK;
  }
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
  double nn = (double)n, se = sqrt(ss / (nn - 1) / nn);
  int logscale = allow_log && x[0] >= 0 && m > 0;
  /* The most frequent value c (x is sorted): resampling needs only the
   * other k values. Per resample the number of draws that are not c is
   * Binomial(n, k/n) and those draws are uniform over the k values, so a
   * zero-inflated column costs B x (its nonzero values), not B x n. */
  int64_t cs = 0, cl = 0; /* start and length of the longest run */
  for (int64_t i = 0, j; i < n; i = j) {
    for (j = i; j < n && x[j] == x[i]; j++) {}
    if (j - i > cl) { cs = i; cl = j - i; }
  }
  int64_t k = n - cl;
  double dc = x[cs] - m;
  /* Cost: B x (draws that are not c). Above MS_BOOT_KMAX such values the
   * resamples are of size r < n, with about MS_BOOT_KMAX draws that are
   * not c each, and the t quantiles are brought back to size n by their
   * first Edgeworth term, which is of order r^(-1/2):
   * t(n) = z + (t(r) - z) sqrt(r/n). */
  int64_t rs = n;
  if (k > MS_BOOT_KMAX) rs = (int64_t)ceil((double)n * MS_BOOT_KMAX / (double)k);
  double rr = (double)rs;
  /* The k values that are not c as their deviations from m: a draw reads
   * y[i], the very double x[i] - m it computed before, with neither the
   * skip over the run of c (a branch that mispredicts where c is not at
   * an end) nor the subtraction; entry k repeats entry k - 1 for
   * ms_rng_index_or_k_. 8 bytes a value while the interval runs (a table
   * of the squares too was 3% faster at 20,000 values, for twice that). */
  double *y = malloc((size_t)(k + 1) * sizeof *y);
  double *t = malloc(MS_BOOT_B * sizeof *t);
  gsl_rng *r = NULL;
  ms_status st = y && t ? ms_rng_new(&r, err) : ms_error_set(err, MS_ERR_NOMEM, "out of memory for a bootstrap");
  if (st) {
    free(y);
    free(t);
    return st;
  }
  for (int64_t j = 0; j < k; j++) y[j] = x[j < cs ? j : j + cl] - m;
  y[k] = y[k - 1];
  ms_rng_seed(r, seed, key, MS_STREAM_STATS);
  const double iscale = ms_rng_index_scale(k);
  for (int b = 0; b < MS_BOOT_B; b++) {
    int64_t K = (int64_t)gsl_ran_binomial(r, (double)k / nn, (unsigned int)rs);
    double s1 = (double)(rs - K) * dc, s2 = (double)(rs - K) * dc * dc;
    /* The draws and the sums in one loop, the generator's state in
     * registers (it goes back to r for the next binomial): in draw order,
     * as the sums must be. */
    ms_rng_state_ g = ms_rng_state_get_(r);
    const ms_rng_state_ g0 = g; /* to replay the draws (below) */
    for (int64_t j = 0; j < K; j++) {
      double d = y[ms_rng_index_or_k_(&g, iscale)];
      s1 += d;
      s2 += d * d;
    }
    ms_rng_state_put_(r, &g);
    double mb = m + s1 / rr, v = (s2 - s1 * s1 / rr) / (rr - 1);
    /* A resample without spread is all c (K = 0) or, every draw not c, one
     * value drawn rs times: its variance is 0, where the sums leave a
     * rounding residue (1.5e-10 for 100 copies of -1014.35) that
     * studentized it to a finite t* of -8e8 and an end of 8.2e11 where the
     * end is unbounded. A residue of rs equal values is below 4 rs eps s2
     * (the recursive sums' error; and, for squares below the normal range,
     * 4 rs of the least double); only a variance that small has its
     * draws replayed, from the saved state, to be looked at. */
    if (K == 0) v = 0;
    else if (K == rs && !(v * (rr - 1) > 4 * rr * (DBL_EPSILON * s2 + DBL_TRUE_MIN))) {
      ms_rng_state_ h = g0;
      double d0 = y[ms_rng_index_or_k_(&h, iscale)];
      int spread = 0;
      for (int64_t j = 1; j < K && !spread; j++) spread = y[ms_rng_index_or_k_(&h, iscale)] != d0;
      if (!spread) v = 0;
    }
    double seb = v > 0 ? sqrt(v / rr) : 0;
    double diff = logscale ? log(mb) - log(m) : mb - m;
    double scale = logscale ? seb / mb : seb;
    if (seb > 0 && mb > 0) t[b] = diff / scale;
    else if (seb > 0 && !logscale) t[b] = diff / scale;
    else t[b] = diff > 0 ? INFINITY : diff < 0 ? -INFINITY : 0.0;
  }
  ms_rng_free(r);
  free(y);
  int64_t a, bb;
  int resolved = end_ranks(confidence, &a, &bb);
  double tlo = -INFINITY, thi = INFINITY;
  if (resolved) two_ranks(t, MS_BOOT_B, a, bb, &tlo, &thi);
  free(t);
  if (rs < n && resolved) {
    double f = sqrt(rr / nn), zlo = gsl_cdf_ugaussian_Pinv((double)a / (MS_BOOT_B + 1)),
           zhi = gsl_cdf_ugaussian_Pinv((double)bb / (MS_BOOT_B + 1));
    tlo = zlo + (tlo - zlo) * f;
    thi = zhi + (thi - zhi) * f;
  }
  if (logscale) {
    *lo = m * exp(-thi * se / m);
    *hi = m * exp(-tlo * se / m);
  } else {
    *lo = m - thi * se;
    *hi = m - tlo * se;
  }
  return MS_OK;
}

ms_status ms_interval_mean(const double *x, int64_t n, uint64_t seed, uint64_t key, double confidence, double *lo,
                           double *hi, ms_error *err) {
  return mean_interval(x, n, 1, seed, key, confidence, lo, hi, err);
}

ms_status ms_interval_mean_plain(const double *x, int64_t n, uint64_t seed, uint64_t key, double confidence,
                                 double *lo, double *hi, ms_error *err) {
  return mean_interval(x, n, 0, seed, key, confidence, lo, hi, err);
}

double ms_interval_es_value(const double *x, int64_t n, int upper) {
  if (n <= 0) return NAN;
  int64_t t = (int64_t)ceil(0.01 * (double)n);
  /* a tail of one value (a capped or constant column) is that value, not a
   * sum of t copies over t (0.024999999999999953 for 0.025) */
  if (upper ? x[n - t] == x[n - 1] : x[0] == x[t - 1]) return upper ? x[n - 1] : x[0];
  double s = 0;
  if (upper) for (int64_t i = n - t; i < n; i++) s += x[i];
  else for (int64_t i = 0; i < t; i++) s += x[i];
  return s / (double)t;
}

/* Below this many tail values (n <= 200 for ES99) the far end is unbounded, not studentized. */
#define ES_T_MIN 3

/* The expected shortfall's standard error from its t values: its
 * asymptotic variance [Var(X | tail) + (1 - p)(ES - VaR)^2] / (n p), with
 * p = 0.01 and n p = t (Manistre & Hancock 2005; Chen 2008; Brazauskas et
 * al. 2008), from the sums @p s, @p ss of the t values' deviations from the
 * VaR, here the (t+1)-th most extreme value: the first beyond the tail,
 * asymptotically the same as the t-th, and apart from the tail unless t + 1
 * values tie (the t-th would leave a tail of two draws of the same value
 * without any spread, and its studentized replicate infinite). */
static double es_se(double s, double ss, int64_t t) {
  double tt = (double)t, dev = s / tt; /* ES - VaR */
  double v = t > 1 ? (ss - s * dev) / (tt - 1) : 0;
  if (v < 0) v = 0; /* rounding */
  return sqrt((v + 0.99 * dev * dev) / tt);
}

ms_status ms_interval_es(const double *x, int64_t n, int upper, uint64_t seed, uint64_t key, double confidence,
                         double *lo, double *hi, ms_error *err) {
  *lo = *hi = NAN;
  if (n <= 1) return MS_OK; /* one value: no interval (see ms_interval_mean) */
  const double es = ms_interval_es_value(x, n, upper);
  if (x[0] == x[n - 1]) { /* no spread to resample (the ES is x[0]) */
    no_spread_ends(es, 1, lo, hi);
    return MS_OK;
  }
  int64_t t = (int64_t)ceil(0.01 * (double)n); /* t + 1 <= n for n >= 2 */
  /* The sample's standard error, from the deviations from c, its (t+1)-th
   * most extreme value (sums of small numbers) */
  const double c = upper ? x[n - 1 - t] : x[t];
  double s0 = 0, ss0 = 0;
  for (int64_t j = 0; j < t; j++) {
    double d = (upper ? x[n - 1 - j] : x[j]) - c;
    s0 += d;
    ss0 += d * d;
  }
  const double se = es_se(s0, ss0, t);
  const int logscale = x[0] >= 0 && es > 0;
  /* the sample's t most extreme values one value (ext0): then no ES* exceeds
   * the ES on the tail's side (the percentile branch below) */
  const double ext0 = upper ? x[n - 1] : x[0];
  const int tail_tied = (upper ? x[n - t] : x[t - 1]) == ext0;
  /* A resample's tail comes, but with a negligible probability, from the
   * sample's M most extreme values: draw how many of the n draws land
   * there (Binomial(n, M/n)), which of those values they are (a count per
   * value), and take the t + 1 most extreme (the tail and its VaR). When
   * fewer land there the rest of the resample is drawn in full. */
  int64_t M = 4 * t + 40;
  if (M > n) M = n;
  gsl_rng *r = NULL;
  double *rep = malloc(2 * MS_BOOT_B * sizeof *rep), *tst = rep ? rep + MS_BOOT_B : NULL;
  double *ext = malloc(2 * (size_t)M * sizeof *ext), *dev = ext ? ext + M : NULL;
  uint32_t *cnt = malloc((size_t)(M + 1) * sizeof *cnt); /* cnt[M]: ms_rng_index_or_k_'s k */
  ms_status st = rep && ext && cnt ? ms_rng_new(&r, err)
                                   : ms_error_set(err, MS_ERR_NOMEM, "out of memory for a bootstrap");
  uint32_t *c2 = NULL;
  if (st) goto out;
  /* The M most extreme values, the most extreme first, and their deviations
   * from c: finite but where the sums overflow */
  int finite = 1;
  for (int64_t j = 0; j < M; j++) {
    ext[j] = upper ? x[n - 1 - j] : x[j];
    dev[j] = ext[j] - c;
    finite &= isfinite(dev[j]) != 0;
  }
  ms_rng_seed(r, seed, key, MS_STREAM_STATS);
  const double mscale = ms_rng_index_scale(M);
  for (int b = 0; b < MS_BOOT_B; b++) {
    int64_t cm = M == n ? n : (int64_t)gsl_ran_binomial(r, (double)M / (double)n, (unsigned int)n);
    memset(cnt, 0, (size_t)(M + 1) * sizeof *cnt);
    /* Only the counts matter, not the order of the draws: the state stays
     * in registers through them (it goes back to r for the next binomial). */
    ms_rng_state_ g = ms_rng_state_get_(r);
    for (int64_t j = 0; j < cm; j++) cnt[ms_rng_index_or_k_(&g, mscale)]++;
    ms_rng_state_put_(r, &g);
    cnt[M - 1] += cnt[M];
    /* sums of the first t taken values' deviations from c; the (t+1)-th
     * taken is the resample's VaR (the last taken, at jl) */
    double s = 0, ss = 0, vval = c, vfirst = c; /* vval: the VaR's value; vfirst: see jf below */
    int64_t need = t + 1, jl = -1;
    if (finite) {
      /* no branch on whether a value was drawn (as random as the draws):
       * an undrawn one adds 0 x its finite deviation; jl by a mask (GCC
       * compiled the select to a branch) */
      for (int64_t j = 0; j < M && need > 0; j++) {
        int64_t take = (int64_t)cnt[j] < need ? (int64_t)cnt[j] : need;
        int64_t tail = take < need - 1 ? take : need - 1;
        double td = (double)tail * dev[j];
        s += td;
        ss += td * dev[j];
        jl ^= (jl ^ j) & -(int64_t)(take > 0);
        need -= take;
      }
    } else {
      for (int64_t j = 0; j < M && need > 0; j++) {
        int64_t take = (int64_t)cnt[j] < need ? (int64_t)cnt[j] : need;
        if (take == 0) continue; /* 0 x an infinite deviation would be NaN */
        int64_t tail = take < need - 1 ? take : need - 1;
        double td = (double)tail * dev[j];
        s += td;
        ss += td * dev[j];
        jl = j;
        need -= take;
      }
    }
    if (jl >= 0) vval = ext[jl];
    if (need > 0) {
      /* The rest: the most extreme `need` of n - cm draws from the other n - M values. */
      if (!c2) c2 = malloc((size_t)(n - M) * sizeof *c2);
      if (!c2) {
        st = ms_error_set(err, MS_ERR_NOMEM, "out of memory for a bootstrap");
        goto out;
      }
      memset(c2, 0, (size_t)(n - M) * sizeof *c2);
      const double rscale = ms_rng_index_scale(n - M);
      g = ms_rng_state_get_(r);
      for (int64_t j = 0; j < n - cm; j++) c2[ms_rng_index_(&g, rscale, n - M)]++;
      ms_rng_state_put_(r, &g);
      for (int64_t j = 0; j < n - M && need > 0; j++) {
        int64_t take = (int64_t)c2[j] < need ? (int64_t)c2[j] : need;
        if (take == 0) continue; /* rare: fewer than t + 1 of the draws among the M most extreme */
        int64_t tail = take < need - 1 ? take : need - 1;
        double v = upper ? x[n - 1 - (M + j)] : x[M + j], d = v - c, td = (double)tail * d;
        if (need == t + 1) vfirst = v; /* none of the M most extreme drawn: the first taken */
        s += td;
        ss += td * d;
        vval = v;
        need -= take;
      }
    }
    /* deviations from the resample's own VaR: s and ss shifted by vd */
    const double vd = vval - c; /* dev[jl], bit for bit */
    double esb = c + s / (double)t, sv = s - (double)t * vd, ssv = ss - 2 * vd * s + (double)t * vd * vd;
    /* Its t + 1 values tie when the first taken is the VaR's value: no
     * spread, exactly. Tied values of several entries of the sample leave
     * the sums a rounding residue, which es_se made a tiny spread. */
    int64_t jf = 0;
    while (jf < M && !cnt[jf]) jf++;
    double seb = (jf < M ? ext[jf] : vfirst) == vval ? 0.0 : es_se(sv, ssv, t);
    /* studentized as the mean's (mean_interval), on the log scale when the
     * sample is >= 0; a resample whose t + 1 most extreme values tie has no
     * spread: its ES* is that value, vval, and its replicate infinite
     * (studentizing it by the sample's spread instead covered a Poisson(2)
     * column's ES99 84% of the time at 1,000 values, against 99% so). The
     * replicates serve only a sample whose t extreme values do not tie
     * (below): its ES is no single value's. */
    if (!(seb > 0)) esb = vval;
    rep[b] = esb;
    if (seb > 0 && (!logscale || esb > 0)) {
      double diff = logscale ? log(esb) - log(es) : esb - es, scale = logscale ? seb / esb : seb;
      tst[b] = diff / scale;
    } else {
      tst[b] = esb > es ? INFINITY : esb < es ? -INFINITY : 0.0;
    }
  }
  int64_t a, bb;
  if (!end_ranks(confidence, &a, &bb)) {
    *lo = -INFINITY;
    *hi = INFINITY;
  } else if (se > 0 && t >= ES_T_MIN && !tail_tied) {
    double tlo, thi;
    two_ranks(tst, MS_BOOT_B, a, bb, &tlo, &thi);
    if (logscale) {
      *lo = es * exp(-thi * se / es);
      *hi = es * exp(-tlo * se / es);
    } else {
      *lo = es - thi * se;
      *hi = es - tlo * se;
    }
    /* Ties in the resamples' tails (infinite replicates) can leave the near
     * end (the sample's side) unbounded too: there it is the percentile
     * bootstrap's, which on this side covers (it misses 0-2% at 1,000
     * values) */
    if (upper ? isinf(thi) && thi > 0 : isinf(tlo) && tlo < 0) {
      double plo, phi;
      two_ranks(rep, MS_BOOT_B, a, bb, &plo, &phi);
      if (upper) *lo = plo < es ? plo : es;
      else *hi = phi > es ? phi : es;
    }
  } else {
    /* The t most extreme values are one value (no ES* beyond the ES: the
     * studentized near end would be the ES itself; a lognormal capped where
     * exactly t values reach the cap covered 86% at 1,000 values so), or too
     * few to studentize (t = 1, 2: at 100 values the studentized interval
     * covered a lognormal's ES99 half the time, at 150 values 87%). The near
     * end is the resampled ES's percentile; the far end, beyond the sample's
     * extreme, only when that value is an atom (at least 2t and a tenth of
     * the sample, as a column's zeros): else unbounded (0 below for a
     * column >= 0). */
    double plo, phi;
    two_ranks(rep, MS_BOOT_B, a, bb, &plo, &phi);
    int64_t eq = 0;
    for (int64_t j = 0; j < n && (upper ? x[n - 1 - j] : x[j]) == ext0; j++) eq++;
    int atom = eq >= 2 * t && eq >= (n + 9) / 10;
    if (upper) {
      *lo = plo;
      *hi = atom ? phi : INFINITY;
    } else {
      *lo = atom ? plo : x[0] >= 0 ? 0.0 : -INFINITY;
      *hi = phi;
    }
    /* the percentile's ends hold the ES (a tied tail's replicates are its value: the ES) */
    if (*lo > es) *lo = es;
    if (*hi < es) *hi = es;
  }
  if (x[0] >= 0 && *lo < 0) *lo = 0; /* a column >= 0 (the log scale's premise; its ES may be 0: plain scale) */
out:
  ms_rng_free(r);
  free(rep);
  free(ext);
  free(cnt);
  free(c2);
  return st;
}
