/*
 * sort — radix sort of keyed accounts, introsorts of ids and of ranked accounts (see sort.h).
 */
#include "core/sort.h"

#include <stdlib.h>

/* Below this many elements insertion sort beats the radix's fixed passes. */
#define SMALL_KEYED 48
#define SMALL_I64 16

static inline int keyed_less(const ms_keyed *a, const ms_keyed *b) {
  return a->key < b->key || (a->key == b->key && a->id < b->id);
}

static inline uint64_t keyed_ukey(const ms_keyed *e) { return ms_sort_ukey_double(e->key); }
static inline uint64_t keyed_uid(const ms_keyed *e) { return (uint32_t)e->id ^ 0x80000000u; }

MS_RADIX_DEFINE(radix_by_key, ms_keyed, 8, keyed_ukey)
MS_RADIX_DEFINE(radix_by_id, ms_keyed, 4, keyed_uid)

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

/* ---- int64 introsort ---- */

static void sift_i64(int64_t *v, size_t i, size_t n) {
  int64_t x = v[i];
  for (size_t c; (c = 2 * i + 1) < n; i = c) {
    if (c + 1 < n && v[c] < v[c + 1]) c++;
    if (!(x < v[c])) break;
    v[i] = v[c];
  }
  v[i] = x;
}

static void heapsort_i64(int64_t *v, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift_i64(v, i, n);
  for (size_t m = n; m-- > 1;) {
    int64_t t = v[0];
    v[0] = v[m];
    v[m] = t;
    sift_i64(v, 0, m);
  }
}

static void quick_i64(int64_t *v, size_t n, int depth) {
  while (n > SMALL_I64) {
    if (depth-- == 0) {
      heapsort_i64(v, n);
      return;
    }
    int64_t a = v[0], b = v[n / 2], c = v[n - 1];
    int64_t pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
    /* Hoare: the pivot value is in the range, so both scans stop */
    size_t i = 0, j = n - 1;
    for (;;) {
      while (v[i] < pivot) i++;
      while (pivot < v[j]) j--;
      if (i >= j) break;
      int64_t t = v[i];
      v[i] = v[j];
      v[j] = t;
      i++;
      j--;
    }
    size_t left = j + 1; /* [0, left) <= pivot <= [left, n), both non-empty */
    if (left < n - left) {
      quick_i64(v, left, depth);
      v += left;
      n -= left;
    } else {
      quick_i64(v + left, n - left, depth);
      n = left;
    }
  }
  for (size_t i = 1; i < n; i++) {
    int64_t x = v[i];
    size_t j = i;
    for (; j > 0 && x < v[j - 1]; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

void ms_sort_i64(int64_t *v, size_t n) {
  int depth = 0;
  for (size_t m = n; m > 1; m >>= 1) depth += 2;
  quick_i64(v, n, depth);
}

/* ---- ranked accounts ---- */

/* Comparisons are counted in *c (a register: the count costs an add). */
static inline int ranked_less(const ms_ranked *a, const ms_ranked *b, size_t *c) {
  ++*c;
  return a->ratio < b->ratio || (a->ratio == b->ratio && a->id < b->id);
}

static void sift_ranked(ms_ranked *v, size_t i, size_t n, size_t *c) {
  ms_ranked x = v[i];
  for (;;) {
    size_t k = 2 * i + 1;
    if (k >= n) break;
    if (k + 1 < n && ranked_less(&v[k], &v[k + 1], c)) k++;
    if (!ranked_less(&x, &v[k], c)) break;
    v[i] = v[k];
    i = k;
  }
  v[i] = x;
}

static void heapsort_ranked(ms_ranked *v, size_t n, size_t *c) {
  for (size_t i = n / 2; i-- > 0;) sift_ranked(v, i, n, c);
  for (size_t m = n; m-- > 1;) {
    ms_ranked t = v[0];
    v[0] = v[m];
    v[m] = t;
    sift_ranked(v, 0, m, c);
  }
}

static const ms_ranked *median3(const ms_ranked *a, const ms_ranked *b, const ms_ranked *d, size_t *c) {
  if (ranked_less(a, b, c)) return ranked_less(b, d, c) ? b : ranked_less(a, d, c) ? d : a;
  return ranked_less(a, d, c) ? a : ranked_less(b, d, c) ? d : b;
}

static void quick_ranked(ms_ranked *v, size_t n, int depth, size_t *c) {
  while (n > SMALL_I64) {
    if (depth-- == 0) {
      heapsort_ranked(v, n, c);
      return;
    }
    /* The quartiles, not the ends: discovery's lists are often sorted but
     * for their last element, which makes the median of the first, middle
     * and last element the second smallest at every level (quadratic:
     * 20 s for one discovery of 265,000 accounts). */
    ms_ranked pivot = *median3(&v[n / 4], &v[n / 2], &v[n - 1 - n / 4], c);
    /* Hoare: the pivot value is in the range, so both scans stop */
    size_t i = 0, j = n - 1;
    for (;;) {
      while (ranked_less(&v[i], &pivot, c)) i++;
      while (ranked_less(&pivot, &v[j], c)) j--;
      if (i >= j) break;
      ms_ranked t = v[i];
      v[i] = v[j];
      v[j] = t;
      i++;
      j--;
    }
    size_t left = j + 1; /* [0, left) <= pivot <= [left, n), both non-empty */
    if (left < n - left) {
      quick_ranked(v, left, depth, c);
      v += left;
      n -= left;
    } else {
      quick_ranked(v + left, n - left, depth, c);
      n = left;
    }
  }
  for (size_t i = 1; i < n; i++) {
    ms_ranked x = v[i];
    size_t j = i;
    for (; j > 0 && ranked_less(&x, &v[j - 1], c); j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

size_t ms_sort_ranked_depth(ms_ranked *v, size_t n, int depth) {
  size_t c = 0;
  quick_ranked(v, n, depth, &c);
  return c;
}

size_t ms_sort_ranked(ms_ranked *v, size_t n) {
  int depth = 0;
  for (size_t m = n; m > 1; m >>= 1) depth += 2;
  return ms_sort_ranked_depth(v, n, depth);
}
