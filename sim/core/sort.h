/*
 * sort — sorts without a comparison callback: the set-up path's, the
 * order in which discovery hands accounts to keepers, and the statistics'
 * columns. Private to sim/.
 *
 * glibc's qsort calls its comparison through a pointer n log n times: for a
 * million-account book that was half of a path with no liquidation. Here a
 * stable LSD radix sort on 8-bit digits of an order-preserving unsigned key
 * does a handful of linear passes instead (a pass whose digit is the same
 * for every element is skipped). The orders are total, so the result is the
 * very sequence qsort gives with the comparison each function names.
 *
 *   MS_RADIX_DEFINE(name, type, nbytes, ukey)
 *
 * defines `static type *name(type *v, type *tmp, size_t n)`, a stable sort
 * of v[0..n) by the low nbytes bytes of the uint64_t ukey(const type *),
 * with tmp (n elements) as the other buffer; it returns whichever of v and
 * tmp holds the result. Sorting by a lower key first and then by a higher
 * one sorts lexicographically (the stability is what carries the order).
 */
#ifndef MS_SORT_H
#define MS_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A sort key and the account it belongs to. */
typedef struct {
  double key;
  int32_t id;
} ms_keyed;

/**
 * Sort by (key, id) ascending, -0.0 equal to +0.0: the order qsort gives with
 * "key by <, then id". Keys must not be NaN; with distinct ids the result is
 * unique. @p tmp: scratch for n elements, or NULL to allocate it. 0, or -1
 * when out of memory (v is then unchanged).
 */
int ms_sort_keyed(ms_keyed *v, size_t n, ms_keyed *tmp);

/** Sort ascending (in place, no allocation). */
void ms_sort_i64(int64_t *v, size_t n);

/**
 * Sort ascending, stable, -0.0 equal to +0.0 (each keeps its place among its
 * equals): the very sequence glibc's qsort gives with "x < y" as its order,
 * a merge sort. No NaN. @p tmp: scratch for n values, or NULL to allocate
 * it. 0, or -1 when out of memory (v is then unchanged).
 */
int ms_sort_doubles(double *v, size_t n, double *tmp);

/* An account found eligible and where it stands: discovery hands accounts
 * to keepers by (ratio, id). */
typedef struct {
  double ratio; /* equity / maintenance at discovery (-inf without a requirement) */
  int64_t id;   /* the account */
} ms_ranked;

/**
 * Sort by (ratio, id) ascending, -0.0 equal to +0.0, in place: n - 1
 * comparisons when @p v is in order already, else introsort (quicksort on
 * the median of the quartiles, heapsort past 2 log2 n levels, insertion
 * sort below 16), so O(n log n) comparisons whatever the order it is given. Ratios must not be NaN; with distinct ids the result is unique.
 * Returns the number of comparisons made (the tests bound it).
 */
size_t ms_sort_ranked(ms_ranked *v, size_t n);

/** ms_sort_ranked with heapsort taking over past @p depth levels of partitions (0: at once): the tests reach it. */
size_t ms_sort_ranked_depth(ms_ranked *v, size_t n, int depth);

/** @p d as an unsigned key of the same order (-0.0 and +0.0 alike; not NaN). */
static inline uint64_t ms_sort_ukey_double(double d) {
  if (d == 0) d = 0.0; /* -0.0 compares equal to +0.0 */
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  /* negatives: reversed magnitude below every positive */
  return (u & 0x8000000000000000ULL) ? ~u : u | 0x8000000000000000ULL;
}

/** @p x as an unsigned key of the same order. */
static inline uint64_t ms_sort_ukey_i64(int64_t x) { return (uint64_t)x ^ 0x8000000000000000ULL; }

#define MS_RADIX_DEFINE(name, type, nbytes, ukey)                                  \
  static type *name(type *v, type *tmp, size_t n) {                                \
    size_t cnt[nbytes][256];                                                       \
    memset(cnt, 0, sizeof cnt);                                                    \
    for (size_t i = 0; i < n; i++) {                                               \
      uint64_t u = ukey(&v[i]);                                                    \
      for (int d = 0; d < (nbytes); d++) cnt[d][(u >> (8 * d)) & 0xff]++;          \
    }                                                                              \
    type *src = v, *dst = tmp;                                                     \
    for (int d = 0; d < (nbytes); d++) {                                           \
      size_t *c = cnt[d];                                                          \
      if (n == 0 || c[(ukey(&src[0]) >> (8 * d)) & 0xff] == n) continue;           \
      size_t sum = 0;                                                              \
      for (int b = 0; b < 256; b++) {                                              \
        size_t k = c[b];                                                           \
        c[b] = sum;                                                                \
        sum += k;                                                                  \
      }                                                                            \
      for (size_t i = 0; i < n; i++) dst[c[(ukey(&src[i]) >> (8 * d)) & 0xff]++] = src[i]; \
      type *t = src;                                                               \
      src = dst;                                                                   \
      dst = t;                                                                     \
    }                                                                              \
    return src;                                                                    \
  }

#endif
