/*
 * rng — xoshiro256++ as a gsl_rng_type, the seed-mixing function and a fast
 * ziggurat Gaussian (see sim/core/rng.h).
 *
 * Why this generator and this Gaussian: the exogenous price needs one normal
 * per tick, at 10^8 ticks per second per thread. GSL's own generators are
 * reached through a function pointer per draw and mt19937 takes only 32-bit
 * seeds; xoshiro256++ is a handful of shifts and adds, and the ziggurat turns
 * one 64-bit output into a normal with a table look-up, a multiply and a
 * compare in 98.8% of draws (Box–Muller would need a log, a sqrt and a
 * sin/cos per pair).
 */
#include "core/rng.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "core/ziggurat_table.h"

typedef ms_rng_state_ xoshiro_state; /* rng.h shows it to its inline draws */

_Static_assert(sizeof(unsigned long) == 8, "marginsim needs a 64-bit unsigned long (LP64)");

static inline uint64_t xoshiro_next(xoshiro_state *st) { return ms_rng_next_(st); }

static inline uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void seed_state(xoshiro_state *st, uint64_t key) {
  uint64_t x = key;
  for (int j = 0; j < 4; j++) st->s[j] = splitmix64(&x);
  /* An all-zero state is the one fixed point; splitmix64 cannot produce four zeros
   * in a row, but say so. */
  assert(st->s[0] | st->s[1] | st->s[2] | st->s[3]);
}

static void gsl_set(void *state, unsigned long seed) { seed_state(state, (uint64_t)seed); }
static unsigned long gsl_get(void *state) { return (unsigned long)xoshiro_next(state); }
static double gsl_get_double(void *state) {
  return (double)(xoshiro_next(state) >> 11) * 0x1.0p-53;
}

static const gsl_rng_type xoshiro_type = {
    "xoshiro256++", 0xffffffffffffffffUL, 0UL, sizeof(xoshiro_state),
    gsl_set, gsl_get, gsl_get_double};

const gsl_rng_type *ms_rng_xoshiro256pp = &xoshiro_type;

uint64_t ms_rng_key(uint64_t seed, uint64_t path, uint32_t stream) {
  uint64_t x = seed ^ 0x6a09e667f3bcc909ULL;
  uint64_t k0 = splitmix64(&x);
  x = k0 ^ path;
  uint64_t k1 = splitmix64(&x);
  x = k1 ^ ((uint64_t)stream * 0x9e3779b97f4a7c15ULL);
  return splitmix64(&x);
}

ms_status ms_rng_new(gsl_rng **out, ms_error *err) {
  *out = gsl_rng_alloc(ms_rng_xoshiro256pp);
  if (!*out) return ms_error_set(err, MS_ERR_NOMEM, "cannot allocate a random generator");
  return MS_OK;
}

void ms_rng_free(gsl_rng *r) {
  if (r) gsl_rng_free(r);
}

void ms_rng_seed(gsl_rng *r, uint64_t seed, uint64_t path, uint32_t stream) {
  assert(r->type == ms_rng_xoshiro256pp);
  seed_state(r->state, ms_rng_key(seed, path, stream));
}

void ms_rng_indices(gsl_rng *r, int64_t k, int64_t *out, size_t n) {
  xoshiro_state st = ms_rng_state_get_(r);
  const double scale = ms_rng_index_scale(k);
  for (size_t j = 0; j < n; j++) out[j] = ms_rng_index_(&st, scale, k);
  ms_rng_state_put_(r, &st);
}

static double zig_tail(xoshiro_state *st, int negative) {
  double x, y;
  do {
    x = -log(((double)(xoshiro_next(st) >> 11) + 0.5) * 0x1.0p-53) / MS_ZIG_R;
    y = -log(((double)(xoshiro_next(st) >> 11) + 0.5) * 0x1.0p-53);
  } while (2.0 * y < x * x);
  return negative ? -(MS_ZIG_R + x) : MS_ZIG_R + x;
}

/* The rest of a draw whose first try missed its layer's rectangle (1.2% of
 * draws): the tail, the wedge test, then whole new tries. Out of line and
 * on its own copy of the state: the callers' loops then make no call on
 * their fast path, and their sums and the state stay in registers (x86-64
 * has no callee-saved floating-point registers). */
__attribute__((noinline, cold)) static double zig_rest(xoshiro_state *st, unsigned i, double u, double x) {
  for (;;) {
    if (i == 0) return zig_tail(st, u < 0.0);
    const double y = ms_zig_f[i] + (ms_zig_f[i + 1] - ms_zig_f[i]) *
                                       ((double)(xoshiro_next(st) >> 11) * 0x1.0p-53);
    if (y < exp(-0.5 * x * x)) return x;
    const uint64_t bits = xoshiro_next(st);
    i = (unsigned)(bits & 0xff);
    u = (double)(bits >> 11) * 0x1.0p-52 - 1.0;
    x = u * ms_zig_x[i];
    if (fabs(x) < ms_zig_x[i + 1]) return x;
  }
}

static inline double zig_draw(xoshiro_state *st) {
  const uint64_t bits = xoshiro_next(st);
  const unsigned i = (unsigned)(bits & 0xff);
  /* Bits 11..63 give u in [-1, 1); bits 0..7 chose the layer. */
  const double u = (double)(bits >> 11) * 0x1.0p-52 - 1.0;
  const double x = u * ms_zig_x[i];
  if (__builtin_expect(fabs(x) < ms_zig_x[i + 1], 1)) return x;
  xoshiro_state rest = *st;
  const double z = zig_rest(&rest, i, u, x);
  *st = rest;
  return z;
}

double ms_rng_gaussian(gsl_rng *r) { return zig_draw(r->state); }

void ms_rng_gaussians(gsl_rng *r, double *out, size_t n) {
  xoshiro_state st = *(xoshiro_state *)r->state; /* keep the state in registers */
  for (size_t k = 0; k < n; k++) out[k] = zig_draw(&st);
  *(xoshiro_state *)r->state = st;
}

void ms_rng_gaussian_walk(gsl_rng *r, double *out, size_t n, double x, double a, double b) {
  xoshiro_state st = *(xoshiro_state *)r->state;
  for (size_t k = 0; k < n; k++) {
    double z = zig_draw(&st);
    x += a + b * z;
    out[k] = x;
  }
  *(xoshiro_state *)r->state = st;
}

double ms_rng_neglog_max(void) { return 54.0 * log(2.0) * (1.0 + 1e-12); }

double ms_rng_gaussian_max(void) { return (MS_ZIG_R + sqrt(2.0 * 54.0 * log(2.0))) * (1.0 + 1e-12); }
