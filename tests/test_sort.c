/*
 * test_sort — the callback-free sorts against qsort with the comparisons
 * they replaced: the same elements, bit for bit, in the same order, on random
 * inputs with many ties, ±0.0, infinities, huge and denormal keys, ids in
 * book order or shuffled, and sizes 0, 1, 2, small, around the insertion-sort
 * threshold and 100k; discovery's ranked sort also on the orders that make
 * a quicksort quadratic, with its comparisons bounded.
 */
#include <float.h>
#include <math.h>

#include "core/sort.h"
#include "testutil.h"

/* The comparison acctindex.c gave qsort. */
static int cmp_keyed(const void *pa, const void *pb) {
  const ms_keyed *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static int cmp_id(const void *pa, const void *pb) {
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  return (a > b) - (a < b);
}

static uint64_t next(uint64_t *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 11;
}

static const double edge[] = {0.0, -0.0, 1.0, -1.0, DBL_MAX, -DBL_MAX, INFINITY, -INFINITY,
                              DBL_MIN, -DBL_MIN, 4.9406564584124654e-324, -4.9406564584124654e-324,
                              1e-310, -1e-310, 2000.0, 2000.0000000000002, 1e300, -1e-300};
#define NEDGE (sizeof edge / sizeof *edge)

enum { KEYS_RANDOM, KEYS_FEW, KEYS_EDGE, KEYS_PRICES, KEYS_MODES };

static double draw_key(int mode, uint64_t *x) {
  switch (mode) {
  case KEYS_RANDOM: { /* any finite bit pattern, either sign */
    uint64_t u = next(x) << 11 ^ next(x);
    double d;
    memcpy(&d, &u, sizeof d);
    return isfinite(d) ? d : (double)(int64_t)next(x);
  }
  case KEYS_FEW: {
    double d = (double)((int)(next(x) % 7) - 3);
    return (d == 0 && (next(x) & 1)) ? -0.0 : d;
  }
  case KEYS_EDGE: return edge[next(x) % NEDGE];
  default: return 1900.0 + (double)(next(x) % 200000) * 1e-3; /* liquidation prices, ties included */
  }
}

static void check_keyed(size_t n, int mode, int shuffled, int with_tmp, uint64_t seed) {
  ms_keyed *v = malloc((n ? n : 1) * sizeof *v), *ref = malloc((n ? n : 1) * sizeof *v);
  ms_keyed *tmp = with_tmp ? malloc((n ? n : 1) * sizeof *v) : NULL;
  assert_non_null(v);
  uint64_t x = seed;
  for (size_t i = 0; i < n; i++) v[i] = (ms_keyed){draw_key(mode, &x), (int32_t)i - (int32_t)(n / 3)};
  if (shuffled)
    for (size_t i = n; i > 1; i--) {
      size_t j = next(&x) % i;
      int32_t t = v[i - 1].id;
      v[i - 1].id = v[j].id;
      v[j].id = t;
    }
  if (n) memcpy(ref, v, n * sizeof *v);
  qsort(ref, n, sizeof *ref, cmp_keyed);
  assert_int_equal(ms_sort_keyed(v, n, tmp), 0);
  for (size_t i = 0; i < n; i++)
    if (memcmp(&v[i].key, &ref[i].key, sizeof(double)) || v[i].id != ref[i].id)
      fail_msg("n %zu mode %d shuffled %d: element %zu is (%a, %d), qsort has (%a, %d)", n, mode, shuffled, i,
               v[i].key, v[i].id, ref[i].key, ref[i].id);
  free(v);
  free(ref);
  free(tmp);
}

static const size_t sizes[] = {0, 1, 2, 3, 5, 16, 47, 48, 49, 50, 100, 257, 1000, 4096, 100000};
#define NSIZES (sizeof sizes / sizeof *sizes)

static void test_sort__keyed_matches_qsort(void **state) {
  (void)state;
  for (size_t s = 0; s < NSIZES; s++)
    for (int mode = 0; mode < KEYS_MODES; mode++)
      for (int shuffled = 0; shuffled < 2; shuffled++)
        check_keyed(sizes[s], mode, shuffled, (int)(s & 1), 1000 * s + 10 * (uint64_t)mode + (uint64_t)shuffled);
}

/* -0.0 and +0.0 tie and are ordered by id, whichever sign comes first. */
static void test_sort__signed_zeros_tie(void **state) {
  (void)state;
  enum { N = 200 };
  ms_keyed v[N];
  for (int i = 0; i < N; i++) v[i] = (ms_keyed){(i % 2) ? -0.0 : 0.0, N - i};
  assert_int_equal(ms_sort_keyed(v, N, NULL), 0);
  for (int i = 0; i < N; i++) assert_int_equal(v[i].id, i + 1);
}

/* No scratch to be had: -1, and v is left alone (never read). */
static void test_sort__keyed_out_of_memory(void **state) {
  (void)state;
  ms_keyed v[2] = {{2.0, 1}, {1.0, 0}};
  assert_int_equal(ms_sort_keyed(v, SIZE_MAX / sizeof *v + 1, NULL), -1);
  assert_true(v[0].key == 2.0 && v[1].key == 1.0);
}

/* A plain stable merge sort by "x < y": what glibc's qsort does with the
 * statistics' comparison (its msort), kept here as the reference. */
static void merge_ref(double *v, double *t, size_t n) {
  if (n < 2) return;
  size_t h = n / 2;
  merge_ref(v, t, h);
  merge_ref(v + h, t, n - h);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) t[k++] = v[j] < v[i] ? v[j++] : v[i++]; /* the left one on a tie */
  while (i < h) t[k++] = v[i++];
  while (j < n) t[k++] = v[j++];
  memcpy(v, t, n * sizeof *v);
}

/* A column's values: the same bits in the same order as the stable merge
 * sort, the signs of equal zeros included. */
static void test_sort__doubles_match_a_stable_merge_sort(void **state) {
  (void)state;
  for (size_t s = 0; s < NSIZES; s++)
    for (int mode = 0; mode < KEYS_MODES + 1; mode++) {
      size_t n = sizes[s];
      double *v = malloc((n ? n : 1) * sizeof *v), *ref = malloc((n ? n : 1) * sizeof *v),
             *t = malloc((n ? n : 1) * sizeof *v);
      uint64_t x = 7 * s + (uint64_t)mode;
      for (size_t i = 0; i < n; i++) /* mode KEYS_MODES: signed zeros among few values */
        v[i] = mode < KEYS_MODES ? draw_key(mode, &x) : (next(&x) % 3 ? ((next(&x) & 1) ? -0.0 : 0.0) : 1.0);
      if (n) memcpy(ref, v, n * sizeof *v);
      merge_ref(ref, t, n);
      assert_int_equal(ms_sort_doubles(v, n, (s & 1) ? t : NULL), 0);
      for (size_t i = 0; i < n; i++)
        if (memcmp(&v[i], &ref[i], sizeof *v))
          fail_msg("n %zu mode %d: element %zu is %a, the merge sort has %a", n, mode, i, v[i], ref[i]);
      free(v);
      free(ref);
      free(t);
    }
  double big[2] = {2.0, 1.0};
  assert_int_equal(ms_sort_doubles(big, SIZE_MAX / sizeof(double) + 1, NULL), -1); /* no scratch: v untouched */
  assert_true(big[0] == 2.0 && big[1] == 1.0);
}

static void check_i64(size_t n, int pattern, uint64_t seed) {
  int64_t *v = malloc((n ? n : 1) * sizeof *v), *ref = malloc((n ? n : 1) * sizeof *v);
  assert_non_null(v);
  uint64_t x = seed;
  for (size_t i = 0; i < n; i++) {
    int64_t k = (int64_t)i;
    switch (pattern) {
    case 0: v[i] = (int64_t)(next(&x) % (n / 4 + 1)); break; /* many repeats */
    case 1: v[i] = (int64_t)(next(&x) << 11); break; /* either sign */
    case 2: v[i] = k; break;
    case 3: v[i] = -k; break;
    case 4: v[i] = 7; break;
    default: v[i] = k < (int64_t)n / 2 ? k : (int64_t)n - k; break; /* organ pipe */
    }
  }
  if (n) memcpy(ref, v, n * sizeof *v);
  qsort(ref, n, sizeof *ref, cmp_id);
  ms_sort_i64(v, n);
  if (n && memcmp(v, ref, n * sizeof *v)) fail_msg("n %zu pattern %d: not the qsort order", n, pattern);
  free(v);
  free(ref);
}

static void test_sort__i64_matches_qsort(void **state) {
  (void)state;
  for (size_t s = 0; s < NSIZES; s++)
    for (int pattern = 0; pattern < 6; pattern++) check_i64(sizes[s], pattern, 77 + s);
}

/* The comparison loop.c gave its quicksort: (ratio, id). */
static int cmp_ranked(const void *pa, const void *pb) {
  const ms_ranked *a = pa, *b = pb;
  if (a->ratio != b->ratio) return a->ratio < b->ratio ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

enum { R_RANDOM, R_FEW, R_EDGE, R_SORTED, R_SORTED_MIN_LAST, R_REVERSED, R_ORGAN, R_SAME, R_PATTERNS };

/* Orders as discovery produces them: random, ties of few ratios (ids
 * shuffled), edge values, already sorted, sorted but for the smallest at the
 * end (what made the old median-of-the-ends pivot quadratic), reversed,
 * organ pipe, one ratio for all. */
static void check_ranked(size_t n, int pattern, uint64_t seed) {
  ms_ranked *v = malloc((n ? n : 1) * sizeof *v), *ref = malloc((n ? n : 1) * sizeof *v);
  assert_non_null(v);
  assert_non_null(ref);
  uint64_t x = seed;
  for (size_t i = 0; i < n; i++) {
    double k = (double)i;
    v[i].id = (int64_t)i * 7919 % (int64_t)(n + 1) - (int64_t)(n / 2); /* distinct, either sign */
    switch (pattern) {
    case R_RANDOM: v[i].ratio = draw_key(KEYS_RANDOM, &x); break;
    case R_FEW: v[i].ratio = draw_key(KEYS_FEW, &x); break;
    case R_EDGE: v[i].ratio = draw_key(KEYS_EDGE, &x); break;
    case R_SORTED: v[i].ratio = 0.1 + k * 1e-6; v[i].id = (int64_t)i; break;
    case R_SORTED_MIN_LAST: v[i].ratio = i + 1 < n ? 0.2 + k * 1e-6 : 0.1; v[i].id = (int64_t)i; break;
    case R_REVERSED: v[i].ratio = -k; break;
    case R_ORGAN: v[i].ratio = i < n / 2 ? k : (double)n - k; break;
    default: v[i].ratio = 0.5; break;
    }
  }
  if (n) memcpy(ref, v, n * sizeof *v);
  qsort(ref, n, sizeof *ref, cmp_ranked);
  /* the introsort as the engine calls it, then with heapsort from the
   * start and after one and three levels (the fallback, else unreached) */
  ms_ranked *w = malloc((n ? n : 1) * sizeof *w);
  assert_non_null(w);
  for (int depth = 0; depth < 3; depth++) {
    if (n) memcpy(w, v, n * sizeof *v);
    ms_sort_ranked_depth(w, n, depth == 2 ? 3 : depth);
    for (size_t i = 0; i < n; i++)
      if (w[i].id != ref[i].id || memcmp(&w[i].ratio, &ref[i].ratio, sizeof w[i].ratio) != 0)
        fail_msg("n %zu pattern %d, heapsort past depth %d: element %zu is not the qsort order", n, pattern, depth, i);
  }
  free(w);
  size_t c = ms_sort_ranked(v, n);
  for (size_t i = 0; i < n; i++)
    if (v[i].id != ref[i].id || memcmp(&v[i].ratio, &ref[i].ratio, sizeof v[i].ratio) != 0)
      fail_msg("n %zu pattern %d: element %zu is not the qsort order", n, pattern, i);
  /* O(n log n) whatever the order: 2 log2 n levels of partitions (about
   * 2n comparisons each), then heapsort (2 n log2 n); a quadratic sort
   * makes n^2 / 2, 50 times this bound at 100k. */
  /* in order already: one pass, no sort (discovery's usual list) */
  if (pattern == R_SORTED && n > 1 && c != n - 1)
    fail_msg("n %zu sorted: %zu comparisons, not n - 1", n, c);
  double lg = n > 1 ? log2((double)n) : 1;
  if ((double)c > 8.0 * (double)n * lg + 64)
    fail_msg("n %zu pattern %d: %zu comparisons, more than 8 n log2 n", n, pattern, c);
  free(v);
  free(ref);
}

static void test_sort__ranked_matches_qsort_in_n_log_n(void **state) {
  (void)state;
  for (size_t s = 0; s < NSIZES; s++)
    for (int pattern = 0; pattern < R_PATTERNS; pattern++) check_ranked(sizes[s], pattern, 91 + s);
}

/* The radix macro is stable: book.c sorts expiries drawn in (account, leg)
 * order by time alone and relies on it. */
typedef struct {
  int64_t t;
  int32_t account, leg;
} expiry;

static int cmp_expiry(const void *pa, const void *pb) {
  const expiry *a = pa, *b = pb;
  if (a->t != b->t) return a->t < b->t ? -1 : 1;
  if (a->account != b->account) return a->account < b->account ? -1 : 1;
  return (a->leg > b->leg) - (a->leg < b->leg);
}

static inline uint64_t expiry_ukey(const expiry *e) { return ms_sort_ukey_i64(e->t); }

MS_RADIX_DEFINE(radix_expiries, expiry, 8, expiry_ukey)

static void test_sort__radix_is_stable(void **state) {
  (void)state;
  for (size_t s = 0; s < NSIZES; s++) {
    size_t n = sizes[s];
    expiry *v = malloc((n ? n : 1) * sizeof *v), *tmp = malloc((n ? n : 1) * sizeof *v),
           *ref = malloc((n ? n : 1) * sizeof *v);
    uint64_t x = s;
    for (size_t i = 0; i < n; i++) {
      int64_t t = (next(&x) & 1) ? (int64_t)(next(&x) % 5) * 86400000 : (int64_t)(next(&x) << 20);
      v[i] = (expiry){t, (int32_t)(i / 4), (int32_t)(i % 4)};
    }
    if (n) memcpy(ref, v, n * sizeof *v);
    qsort(ref, n, sizeof *ref, cmp_expiry);
    expiry *r = radix_expiries(v, tmp, n);
    if (n && memcmp(r, ref, n * sizeof *v)) fail_msg("n %zu: not the qsort order", n);
    free(v);
    free(tmp);
    free(ref);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sort__keyed_matches_qsort),
      cmocka_unit_test(test_sort__signed_zeros_tie),
      cmocka_unit_test(test_sort__keyed_out_of_memory),
      cmocka_unit_test(test_sort__i64_matches_qsort),
      cmocka_unit_test(test_sort__radix_is_stable),
      cmocka_unit_test(test_sort__doubles_match_a_stable_merge_sort),
      cmocka_unit_test(test_sort__ranked_matches_qsort_in_n_log_n),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
