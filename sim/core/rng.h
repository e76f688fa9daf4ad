/*
 * rng — the one door to randomness.
 *
 * Every random stream of a run is seeded from (scenario seed, path index,
 * stream id) by ms_rng_key(), and nothing else seeds a generator. The
 * generator is xoshiro256++ (Blackman & Vigna, 2019): 256 bits of state,
 * period 2^256 - 1, one 64-bit output in about a nanosecond. It is wrapped as
 * a gsl_rng_type (ms_rng_xoshiro256pp) so every gsl_ran_* distribution draws
 * from it; the per-tick Gaussian uses ms_rng_gaussian(), a 256-layer ziggurat
 * that consumes one 64-bit output in 98.8% of calls.
 *
 * Mixing function (documented in docs/reproducibility.md):
 *   k0 = splitmix64(seed ^ 0x6a09e667f3bcc909)
 *   k1 = splitmix64(k0 ^ path)
 *   k2 = splitmix64(k1 ^ (stream * 0x9e3779b97f4a7c15))
 *   state[j] = splitmix64 sequence started at k2, j = 0..3
 * where splitmix64(x) is Steele, Lea & Flood's finaliser of x + 0x9e3779b97f4a7c15.
 * A stream depends only on its (seed, path, stream) triple: not on the thread
 * that runs the path nor on how many paths run.
 */
#ifndef MARGINSIM_RNG_H
#define MARGINSIM_RNG_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "marginsim/error.h"

/** Stream ids: one per purpose. Never renumber (results depend on them). */
typedef enum {
  MS_STREAM_PRICE = 1,     /* one Gaussian per exogenous tick */
  MS_STREAM_REGIME = 2,    /* regime holding times and targets */
  MS_STREAM_JUMP = 3,      /* jump arrival times and sizes */
  MS_STREAM_ORACLE = 4,    /* oracle latencies */
  MS_STREAM_KEEPER = 5,    /* keeper delays */
  MS_STREAM_BOOK = 6,      /* the account book */
  MS_STREAM_REPLAY = 7,    /* block choice in bootstrap replays */
  MS_STREAM_STATS = 8,     /* bootstrap resamples of the intervals in /stats (path: ms_interval_key) */
  MS_STREAM_FUNDING = 9,   /* the exogenous funding premium (funding.premium) */
  MS_STREAM_ASSET = 16,    /* + j, j >= 1: the normals of asset j of market.assets (asset 0's are the price stream's) */
  MS_STREAM_ASSET_ORACLE = 32, /* + j, j >= 1: the oracle latencies of a book trading asset j (asset 0's: oracle) */
  MS_STREAM_ASSET_POS = 48, /* + j, j >= 1: replay and bootstrap of asset j: where each candle's high and low fall */
  MS_STREAM_ASSET_FUNDING = 64 /* + j, j >= 1: the exogenous funding premium of market j of a book of several markets */
} ms_stream;

/** Path index used for streams that belong to the run, not to one path. */
#define MS_PATH_RUN UINT64_MAX

/** The GSL generator type: xoshiro256++ with 64-bit output. */
extern const gsl_rng_type *ms_rng_xoshiro256pp;

/** The documented mixing function: a 64-bit key for (seed, path, stream). */
uint64_t ms_rng_key(uint64_t seed, uint64_t path, uint32_t stream);

/** Allocate a generator of type ms_rng_xoshiro256pp. */
ms_status ms_rng_new(gsl_rng **out, ms_error *err);

/** Free a generator; NULL is a no-op. */
void ms_rng_free(gsl_rng *r);

/** Seed @p r for (seed, path, stream). @p r must be of type ms_rng_xoshiro256pp. */
void ms_rng_seed(gsl_rng *r, uint64_t seed, uint64_t path, uint32_t stream);

/* The generator's state, for the inline draws below only: everything else
 * reaches it through rng.c (seeding, the Gaussians, gsl_rng_* calls). The
 * draws are inline because a bootstrap's resampling and the per-event
 * draws call them in loops, where a call saved and reloaded the state
 * through memory each time. */
typedef struct ms_rng_state_ {
  uint64_t s[4];
} ms_rng_state_;

static inline uint64_t ms_rng_rotl_(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256++'s step (Blackman & Vigna) */
static inline uint64_t ms_rng_next_(ms_rng_state_ *st) {
  uint64_t *s = st->s;
  const uint64_t result = ms_rng_rotl_(s[0] + s[3], 23) + s[0];
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = ms_rng_rotl_(s[3], 45);
  return result;
}

/** Next raw 64-bit output. @p r must be of type ms_rng_xoshiro256pp. */
static inline uint64_t ms_rng_u64(gsl_rng *r) { return ms_rng_next_((ms_rng_state_ *)r->state); }

/** Uniform on the open interval (0, 1): (k + 0.5) / 2^53 for k in [0, 2^53), never 0, never 1. */
static inline double ms_rng_uniform_pos(gsl_rng *r) {
  return ((double)(ms_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

/** The generator's state, copied out for a loop that keeps it in registers
 * (its draws through ms_rng_index_); ms_rng_state_put_ hands it back before
 * @p r draws again (a gsl_ran_* call). */
static inline ms_rng_state_ ms_rng_state_get_(const gsl_rng *r) { return *(const ms_rng_state_ *)r->state; }
static inline void ms_rng_state_put_(gsl_rng *r, const ms_rng_state_ *st) { *(ms_rng_state_ *)r->state = *st; }

/** The factor of ms_rng_index_ for indices in [0, @p k): 2^-53 k (exactly 2^-53 times the double of k). */
static inline double ms_rng_index_scale(int64_t k) { return 0x1.0p-53 * (double)k; }

/**
 * A uniform index in [0, @p k) from the top 53 bits of one output, as
 * ms_rng_indices maps them; @p scale is ms_rng_index_scale(k). One product
 * (bits >> 11) (2^-53 k) instead of two, ((bits >> 11) 2^-53) k, and the
 * same double: both are the exact real (bits >> 11) k 2^-53 rounded once
 * (a product by a power of two is exact, and no product here is subnormal).
 */
static inline int64_t ms_rng_index_(ms_rng_state_ *st, double scale, int64_t k) {
  int64_t i = (int64_t)((double)(ms_rng_next_(st) >> 11) * scale);
  return i < k ? i : k - 1;
}

/** ms_rng_index_ without its clamp, for a loop whose table repeats entry k - 1
 * at k: two instructions fewer a draw. For k <= 2^53 the value is below k
 * anyway (u k lies at least k 2^-53 below k, more than half the spacing of
 * doubles there, so it never rounds up to k); the clamp and that entry are
 * for larger k, whose double may round up. */
static inline int64_t ms_rng_index_or_k_(ms_rng_state_ *st, double scale) {
  return (int64_t)((double)(ms_rng_next_(st) >> 11) * scale);
}

/**
 * @p n uniform indices in [0, @p k) into @p out, each from the top 53 bits of
 * one output: floor(u k) with u = (bits >> 11) 2^-53, k - 1 where rounding
 * reaches k. The same values as n calls of ms_rng_u64() so mapped, with the
 * state in registers for the whole batch: the bootstrap's resampling draws.
 */
void ms_rng_indices(gsl_rng *r, int64_t k, int64_t *out, size_t n);

/** Standard normal by the ziggurat method. */
double ms_rng_gaussian(gsl_rng *r);

/**
 * The largest absolute value ms_rng_gaussian() can return (about 12.31):
 * the ziggurat's tail draws x = -ln(u1)/R and accepts it when
 * -2 ln(u2) >= x^2; with u1, u2 >= 2^-54 (ms_rng_uniform_pos) that bounds x by
 * sqrt(2 ln 2^54), so |z| <= R + sqrt(108 ln 2), plus a rounding margin.
 * The scenario loader checks distributions against it: every draw, not
 * only the likely ones, must stay finite and in range.
 */
double ms_rng_gaussian_max(void);

/** The largest value of -ln(ms_rng_uniform_pos()): ln 2^54, about 37.43. */
double ms_rng_neglog_max(void);

/** Fill @p out with @p n standard normals (the same values as n calls of ms_rng_gaussian). */
void ms_rng_gaussians(gsl_rng *r, double *out, size_t n);

/** A random walk: out[k] = x_k with x_k = x_{k-1} + (a + b z_k), x_{-1} = @p x, z_k the
 * values of ms_rng_gaussians (the same values as those draws followed by the
 * sums, in one pass: the sums' chain of additions overlaps the draws). */
void ms_rng_gaussian_walk(gsl_rng *r, double *out, size_t n, double x, double a, double b);

#endif
