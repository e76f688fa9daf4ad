/*
 * test_rng — the generator, the seed-mixing function and the ziggurat
 * Gaussian, against the published algorithms and the normal distribution.
 */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>
#include <math.h>

#include "core/rng.h"
#include "testutil.h"
#include "core/ziggurat_table.h"

/* Reference xoshiro256++ (Blackman & Vigna, xoshiro256plusplus.c). */
static uint64_t ref_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t ref_next(uint64_t *s) {
  uint64_t r = ref_rotl(s[0] + s[3], 23) + s[0], t = s[1] << 17;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = ref_rotl(s[3], 45);
  return r;
}
/* Reference splitmix64 (Vigna, splitmix64.c). */
static uint64_t ref_splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Reference ziggurat: the draw as one plain loop on the reference generator
 * (the library puts its rare rest out of line; the values must not move). */
static double ref_zig(uint64_t *s) {
  for (;;) {
    uint64_t bits = ref_next(s);
    unsigned i = (unsigned)(bits & 0xff);
    double u = (double)(bits >> 11) * 0x1.0p-52 - 1.0, x = u * ms_zig_x[i];
    if (fabs(x) < ms_zig_x[i + 1]) return x;
    if (i == 0) {
      double t, y;
      do {
        t = -log(((double)(ref_next(s) >> 11) + 0.5) * 0x1.0p-53) / MS_ZIG_R;
        y = -log(((double)(ref_next(s) >> 11) + 0.5) * 0x1.0p-53);
      } while (2.0 * y < t * t);
      return u < 0.0 ? -(MS_ZIG_R + t) : MS_ZIG_R + t;
    }
    double y = ms_zig_f[i] + (ms_zig_f[i + 1] - ms_zig_f[i]) * ((double)(ref_next(s) >> 11) * 0x1.0p-53);
    if (y < exp(-0.5 * x * x)) return x;
  }
}

static void test_rng__matches_reference_xoshiro(void **state) {
  (void)state;
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  uint64_t *st = r->state, ref[4] = {1, 2, 3, 4};
  memcpy(st, ref, sizeof ref);
  assert_true(ms_rng_u64(r) == 41943041ULL); /* rotl(1 + 4, 23) + 1, by hand */
  ref_next(ref);
  for (int i = 0; i < 1000; i++) assert_true(ms_rng_u64(r) == ref_next(ref));
  /* the open-interval uniform (inline in rng.h): (k + 0.5) / 2^53 of the next output's top 53 bits */
  for (int i = 0; i < 1000; i++) {
    double u = ms_rng_uniform_pos(r);
    assert_true(u == ((double)(ref_next(ref) >> 11) + 0.5) * 0x1.0p-53 && u > 0.0 && u < 1.0);
  }
  ms_rng_free(r);
}

static void test_rng__seed_follows_documented_mixing(void **state) {
  (void)state;
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  const uint64_t seeds[] = {0, 42, UINT64_MAX}, paths[] = {0, 1, 999999, MS_PATH_RUN};
  for (size_t a = 0; a < 3; a++)
    for (size_t b = 0; b < 4; b++)
      for (uint32_t stream = 1; stream <= 7; stream++) {
        /* docs/reproducibility.md, step by step */
        uint64_t x = seeds[a] ^ 0x6a09e667f3bcc909ULL, k0 = ref_splitmix(&x);
        x = k0 ^ paths[b];
        uint64_t k1 = ref_splitmix(&x);
        x = k1 ^ ((uint64_t)stream * 0x9e3779b97f4a7c15ULL);
        uint64_t k2 = ref_splitmix(&x);
        assert_true(ms_rng_key(seeds[a], paths[b], stream) == k2);
        uint64_t s[4], y = k2;
        for (int j = 0; j < 4; j++) s[j] = ref_splitmix(&y);
        ms_rng_seed(r, seeds[a], paths[b], stream);
        for (int i = 0; i < 10; i++) assert_true(ms_rng_u64(r) == ref_next(s));
      }
  ms_rng_free(r);
}

static void test_rng__streams_differ(void **state) {
  (void)state;
  /* Keys of 2000 paths x 7 streams x 3 seeds: no two equal. */
  size_t n = 2000 * 7 * 3, k = 0;
  uint64_t *keys = malloc(n * sizeof *keys);
  for (uint64_t s = 0; s < 3; s++)
    for (uint64_t p = 0; p < 2000; p++)
      for (uint32_t id = 1; id <= 7; id++) keys[k++] = ms_rng_key(s, p, id);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (keys[i] == keys[j]) fail_msg("key collision at %zu and %zu", i, j);
  free(keys);
}

static void test_rng__ziggurat_table_is_the_ziggurat(void **state) {
  (void)state;
  const double r = MS_ZIG_R;
  const double v = r * exp(-0.5 * r * r) + sqrt(M_PI / 2.0) * erfc(r / M_SQRT2);
  assert_true(ms_zig_x[1] == r);
  assert_true(ms_zig_x[256] == 0.0);
  assert_true(fabs(ms_zig_x[0] * ms_zig_f[1] - v) < 1e-15);
  for (int i = 0; i <= 256; i++)
    assert_true(fabs(ms_zig_f[i] - exp(-0.5 * ms_zig_x[i] * ms_zig_x[i])) < 1e-15);
  /* Every box has the same area v, the top one included. */
  for (int i = 1; i < 256; i++) {
    double area = ms_zig_x[i] * (ms_zig_f[i + 1] - ms_zig_f[i]);
    if (fabs(area - v) > 1e-12 * v) fail_msg("layer %d has area %.17g, want %.17g", i, area, v);
    assert_true(ms_zig_x[i + 1] < ms_zig_x[i]);
  }
}

static void test_rng__gaussian_is_standard_normal(void **state) {
  (void)state;
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  ms_rng_seed(r, 7, 0, MS_STREAM_PRICE);
  const size_t n = 4000000;
  double *z = malloc(n * sizeof *z);
  ms_rng_gaussians(r, z, n);
  double s1 = 0, s2 = 0, s4 = 0;
  size_t beyond3 = 0, beyond_r = 0;
  for (size_t i = 0; i < n; i++) {
    s1 += z[i];
    s2 += z[i] * z[i];
    s4 += z[i] * z[i] * z[i] * z[i];
    beyond3 += fabs(z[i]) > 3.0;
    beyond_r += fabs(z[i]) > MS_ZIG_R;
  }
  double dn = (double)n, m = s1 / dn, m2 = s2 / dn, m4 = s4 / dn;
  /* Tolerances: 5 standard errors of each estimator under N(0,1). */
  assert_true(fabs(m) < 5.0 * sqrt(1.0 / dn));
  assert_true(fabs(m2 - 1.0) < 5.0 * sqrt(2.0 / dn));
  assert_true(fabs(m4 - 3.0) < 5.0 * sqrt(96.0 / dn));
  double p3 = 2.0 * gsl_cdf_ugaussian_Q(3.0), pr = 2.0 * gsl_cdf_ugaussian_Q(MS_ZIG_R);
  assert_true(fabs((double)beyond3 - dn * p3) < 5.0 * sqrt(dn * p3 * (1 - p3)));
  assert_true(fabs((double)beyond_r - dn * pr) < 5.0 * sqrt(dn * pr * (1 - pr)));
  /* Kolmogorov–Smirnov on the first 200,000 draws: sqrt(n) D < 1.95 (p = 0.001). */
  size_t k = 200000;
  gsl_sort(z, 1, k);
  double d = 0;
  for (size_t i = 0; i < k; i++) {
    double F = gsl_cdf_ugaussian_P(z[i]);
    d = fmax(d, fmax(fabs(F - (double)i / (double)k), fabs((double)(i + 1) / (double)k - F)));
  }
  assert_true(sqrt((double)k) * d < 1.95);
  /* The bulk call gives what one-at-a-time calls give. */
  ms_rng_seed(r, 7, 0, MS_STREAM_PRICE);
  ms_rng_gaussians(r, z, 1000);
  ms_rng_seed(r, 7, 0, MS_STREAM_PRICE);
  for (size_t i = 0; i < 1000; i++) assert_true(ms_rng_gaussian(r) == z[i]);
  free(z);
  ms_rng_free(r);
}

/* The one-pass walk is the draws of ms_rng_gaussian, summed in order, bit
 * for bit, and leaves the generator where those draws leave it and the
 * reference ziggurat's (enough draws that the tail and the wedge, the rare
 * out-of-line rest, come up). */
static void test_rng__gaussian_walk_is_the_draws_summed(void **state) {
  (void)state;
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  const size_t n = 100000;
  double *w = malloc(n * sizeof *w);
  const double x0 = 7.6, a = -1.25e-7, b = 3.1e-3;
  ms_rng_seed(r, 11, 2, MS_STREAM_PRICE);
  ms_rng_gaussian_walk(r, w, n, x0, a, b);
  double after = ms_rng_gaussian(r);
  ms_rng_seed(r, 11, 2, MS_STREAM_PRICE);
  uint64_t ref[4];
  memcpy(ref, r->state, sizeof ref);
  double x = x0;
  size_t rare = 0;
  for (size_t i = 0; i < n; i++) {
    double z = ms_rng_gaussian(r);
    assert_true(z == ref_zig(ref));
    rare += fabs(z) > MS_ZIG_R;
    x += a + b * z;
    assert_true(w[i] == x);
  }
  assert_true(ms_rng_gaussian(r) == after);
  assert_true(after == ref_zig(ref));
  assert_true(rare > 10); /* the tail came up (about 27 expected) */
  free(w);
  ms_rng_free(r);
}

/* The batched indices are the raw outputs mapped to [0, k) as the bootstrap
 * maps them one at a time, for small, odd and huge k; the generator ends
 * where the single draws leave it. */
static void test_rng__indices_are_the_outputs_mapped(void **state) {
  (void)state;
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  const int64_t ks[] = {1, 2, 7, 1999, 32768, ((int64_t)1 << 62) + 1};
  int64_t idx[1000];
  for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++) {
    int64_t k = ks[c];
    ms_rng_seed(r, 5, (uint64_t)c, MS_STREAM_STATS);
    ms_rng_indices(r, k, idx, 1000);
    uint64_t after = ms_rng_u64(r);
    ms_rng_seed(r, 5, (uint64_t)c, MS_STREAM_STATS);
    for (int j = 0; j < 1000; j++) {
      int64_t i = (int64_t)((double)(ms_rng_u64(r) >> 11) * 0x1.0p-53 * (double)k);
      if (i >= k) i = k - 1;
      assert_true(idx[j] == i);
      assert_true(idx[j] >= 0 && idx[j] < k);
    }
    assert_true(ms_rng_u64(r) == after);
  }
  ms_rng_free(r);
}

/* The largest output, top 53 bits all ones (u = 1 - 2^-53), where rounding
 * is closest to reaching k: the one product 2^-53 k gives what the two
 * products give, k - 1 from every form (u k lies at least k 2^-53 below k,
 * more than half the spacing of doubles there, so for k <= 2^53 it never
 * rounds up to k: the clamp and the tables' entry k are never reached).
 * The state (0, 1, 2, all ones) makes that output: rotl(s0 + s3, 23) + s0. */
static void test_rng__index_of_the_largest_output(void **state) {
  (void)state;
  const int64_t ks[] = {1, 2, 3, 1999, 32768, 32769, ((int64_t)1 << 53) - 1, (int64_t)1 << 53};
  for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++) {
    int64_t k = ks[c];
    const ms_rng_state_ top = {{0, 1, 2, ~(uint64_t)0}};
    ms_rng_state_ g = top;
    assert_true(ms_rng_next_(&g) == ~(uint64_t)0);
    g = top;
    int64_t two = (int64_t)((double)(ms_rng_next_(&g) >> 11) * 0x1.0p-53 * (double)k);
    g = top;
    int64_t raw = ms_rng_index_or_k_(&g, ms_rng_index_scale(k));
    g = top;
    int64_t clamped = ms_rng_index_(&g, ms_rng_index_scale(k), k);
    assert_true(two == k - 1 && raw == k - 1 && clamped == k - 1);
    gsl_rng *r;
    ms_error err;
    int64_t idx;
    assert_ok(ms_rng_new(&r, &err), &err);
    ms_rng_state_put_(r, &top);
    ms_rng_indices(r, k, &idx, 1);
    assert_true(idx == k - 1);
    ms_rng_free(r);
  }
}

static void test_rng__gsl_distributions_work_on_it(void **state) {
  (void)state;
  gsl_rng *r;
  ms_error err;
  assert_ok(ms_rng_new(&r, &err), &err);
  ms_rng_seed(r, 3, 5, MS_STREAM_KEEPER);
  const int n = 400000;
  double s = 0, u = 0, umin = 1, umax = 0;
  for (int i = 0; i < n; i++) {
    s += gsl_ran_exponential(r, 2.0);
    double x = gsl_rng_uniform(r);
    u += x;
    umin = fmin(umin, x);
    umax = fmax(umax, x);
  }
  assert_true(fabs(s / n - 2.0) < 5.0 * 2.0 / sqrt(n));
  assert_true(fabs(u / n - 0.5) < 5.0 * sqrt(1.0 / 12.0 / n));
  assert_true(umin >= 0.0 && umax < 1.0);
  ms_rng_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rng__matches_reference_xoshiro),
      cmocka_unit_test(test_rng__seed_follows_documented_mixing),
      cmocka_unit_test(test_rng__streams_differ),
      cmocka_unit_test(test_rng__ziggurat_table_is_the_ziggurat),
      cmocka_unit_test(test_rng__gaussian_is_standard_normal),
      cmocka_unit_test(test_rng__gaussian_walk_is_the_draws_summed),
      cmocka_unit_test(test_rng__indices_are_the_outputs_mapped),
      cmocka_unit_test(test_rng__index_of_the_largest_output),
      cmocka_unit_test(test_rng__gsl_distributions_work_on_it),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
