/*
 * sort — radix sorts of keyed accounts and of doubles, introsorts of ids and of ranked accounts (see sort.h).
 */
#include "core/sort.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Below this many elements insertion sort beats the radix's fixed passes. */
#define SMALL_KEYED 48
#define SMALL_INTRO 16

static inline int keyed_less(const ms_keyed *a, const ms_keyed *b) {
  return a->key < b->key || (a->key == b->key && a->id < b->id);
}

static inline uint64_t keyed_ukey(const ms_keyed *e) { return ms_sort_ukey_double(e->key); }
static inline uint64_t keyed_uid(const ms_keyed *e) { return (uint32_t)e->id ^ 0x80000000u; }

MS_RADIX_DEFINE(radix_by_key, ms_keyed, 8, keyed_ukey)
MS_RADIX_DEFINE(radix_by_id, ms_keyed, 4, keyed_uid)

static inline uint64_t double_ukey(const double *d) { return ms_sort_ukey_double(*d); }

MS_RADIX_DEFINE(radix_doubles, double, 8, double_ukey)

int ms_sort_doubles(double *v, size_t n, double *tmp) {
  if (n <= SMALL_KEYED) { /* insertion: stable, -0.0 and +0.0 never passing each other */
    for (size_t i = 1; i < n; i++) {
      double x = v[i];
      size_t j = i;
      for (; j > 0 && x < v[j - 1]; j--) v[j] = v[j - 1];
      v[j] = x;
    }
    return 0;
  }
  double *own = NULL;
  if (!tmp && (n > SIZE_MAX / sizeof *v || !(tmp = own = malloc(n * sizeof *v)))) return -1;
  double *r = radix_doubles(v, tmp, n);
  if (r != v) memcpy(v, r, n * sizeof *v);
  free(own);
  return 0;
}

static void insertion_keyed(ms_keyed *v, size_t n) {
  for (size_t i = 1; i < n; i++) {
    ms_keyed x = v[i];
    size_t j = i;
    for (; j > 0 && keyed_less(&x, &v[j - 1]); j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

int ms_sort_keyed(ms_keyed *v, size_t n, ms_keyed *tmp) {
  if (n <= SMALL_KEYED) {
    insertion_keyed(v, n);
    return 0;
  }
  ms_keyed *own = NULL;
  if (!tmp && (n > SIZE_MAX / sizeof *v || !(tmp = own = malloc(n * sizeof *v)))) return -1;
  /* Books list their accounts by id: the id passes are usually not needed. */
  int by_id = 1;
  for (size_t i = 1; i < n && by_id; i++) by_id = v[i - 1].id <= v[i].id;
  ms_keyed *r = by_id ? v : radix_by_id(v, tmp, n);
  r = radix_by_key(r, r == v ? tmp : v, n);
  if (r != v) memcpy(v, r, n * sizeof *v);
  free(own);
  return 0;
}

/* ---- introsort ---- */

/*
 * INTROSORT_DEFINE(name, type, less) defines name_quick(type *v, size_t n,
 * int depth, size_t *c): quicksort on the median of the quartiles, heapsort
 * past @p depth levels, insertion sort below SMALL_INTRO; less(a, b, c)
 * compares two elements by pointer and may count into *c. The quartiles,
 * not the ends: discovery's lists are often sorted but for their last
 * element, which makes the median of the first, middle and last element the
 * second smallest at every level (quadratic: 20 s for one discovery of
 * 265,000 accounts).
 */
#define INTROSORT_DEFINE(name, type, less)                                         \
  static void name##_sift(type *v, size_t i, size_t n, size_t *c) {                \
    type x = v[i];                                                                 \
    for (;;) {                                                                     \
      size_t k = 2 * i + 1;                                                        \
      if (k >= n) break;                                                           \
      if (k + 1 < n && less(&v[k], &v[k + 1], c)) k++;                              \
      if (!less(&x, &v[k], c)) break;                                              \
      v[i] = v[k];                                                                 \
      i = k;                                                                       \
    }                                                                              \
    v[i] = x;                                                                      \
  }                                                                                \
                                                                                   \
  static void name##_heapsort(type *v, size_t n, size_t *c) {                      \
    for (size_t i = n / 2; i-- > 0;) name##_sift(v, i, n, c);                      \
    for (size_t m = n; m-- > 1;) {                                                 \
      type t = v[0];                                                               \
      v[0] = v[m];                                                                 \
      v[m] = t;                                                                    \
      name##_sift(v, 0, m, c);                                                     \
    }                                                                              \
  }                                                                                \
                                                                                   \
  static const type *name##_median3(const type *a, const type *b, const type *d,   \
                                    size_t *c) {                                   \
    if (less(a, b, c)) return less(b, d, c) ? b : less(a, d, c) ? d : a;           \
    return less(a, d, c) ? a : less(b, d, c) ? d : b;                              \
  }                                                                                \
                                                                                   \
  static void name##_quick(type *v, size_t n, int depth, size_t *c) {              \
    while (n > SMALL_INTRO) {                                                        \
      if (depth-- == 0) {                                                          \
        name##_heapsort(v, n, c);                                                  \
        return;                                                                    \
      }                                                                            \
      type pivot = *name##_median3(&v[n / 4], &v[n / 2], &v[n - 1 - n / 4], c);    \
      /* Hoare: the pivot value is in the range, so both scans stop */             \
      size_t i = 0, j = n - 1;                                                     \
      for (;;) {                                                                   \
        while (less(&v[i], &pivot, c)) i++;                                        \
        while (less(&pivot, &v[j], c)) j--;                                        \
        if (i >= j) break;                                                         \
        type t = v[i];                                                             \
        v[i] = v[j];                                                               \
        v[j] = t;                                                                  \
        i++;                                                                       \
        j--;                                                                       \
      }                                                                            \
      size_t left = j + 1; /* [0, left) <= pivot <= [left, n), both non-empty */   \
      if (left < n - left) {                                                       \
        name##_quick(v, left, depth, c);                                           \
        v += left;                                                                 \
        n -= left;                                                                 \
      } else {                                                                     \
        name##_quick(v + left, n - left, depth, c);                                \
        n = left;                                                                  \
      }                                                                            \
    }                                                                              \
    for (size_t i = 1; i < n; i++) {                                               \
      type x = v[i];                                                               \
      size_t j = i;                                                                \
      for (; j > 0 && less(&x, &v[j - 1], c); j--) v[j] = v[j - 1];                \
      v[j] = x;                                                                    \
    }                                                                              \
  }

/* 2 floor(log2 n) levels before heapsort takes over. */
static int intro_depth(size_t n) {
  int depth = 0;
  for (size_t m = n; m > 1; m >>= 1) depth += 2;
  return depth;
}

/* ids: nothing to count */
static inline int i64_less(const int64_t *a, const int64_t *b, size_t *c) {
  (void)c;
  return *a < *b;
}

INTROSORT_DEFINE(i64, int64_t, i64_less)

void ms_sort_i64(int64_t *v, size_t n) {
  size_t c = 0;
  i64_quick(v, n, intro_depth(n), &c);
}

/* Comparisons are counted in *c (a register: the count costs an add). */
static inline int ranked_less(const ms_ranked *a, const ms_ranked *b, size_t *c) {
  ++*c;
  return a->ratio < b->ratio || (a->ratio == b->ratio && a->id < b->id);
}

INTROSORT_DEFINE(ranked, ms_ranked, ranked_less)

size_t ms_sort_ranked_depth(ms_ranked *v, size_t n, int depth) {
  size_t c = 0;
  ranked_quick(v, n, depth, &c);
  return c;
}

size_t ms_sort_ranked(ms_ranked *v, size_t n) {
  /* Discovery's lists are almost always in order already (the index yields
   * a side's accounts by key, in which the ratio is monotone): one pass
   * finds out, where the quicksort made n log2 n comparisons. */
  size_t c = 0, i = 1;
  while (i < n && !ranked_less(&v[i], &v[i - 1], &c)) i++;
  if (i >= n) return c;
  return c + ms_sort_ranked_depth(v, n, intro_depth(n));
}
