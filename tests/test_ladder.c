/*
 * test_ladder — ms_ladder against a plain array: random puts, takes,
 * filters and clears, keys drawn to land in one bucket, across buckets and
 * blocks, on both signs, at 0.0 and -0.0, at the infinities and at NaN,
 * probes at the keys themselves and between them, and a bucket filled past
 * the room it keeps when a take empties it (its memory given back). Each take must give
 * exactly the entries with key <= probe (as a multiset), the count must
 * follow, and what is left must be what the array keeps. A second ladder
 * given the same puts, filters and clears takes in batches of a random
 * bound: the batches together must be the first's take, entry for entry
 * in its order, and what is left the same; a take of the twin stopped (at
 * a gap or anywhere), then met by a filter, a put or nothing, then gone on
 * with or not, then followed by one with a higher probe must take what the
 * first ladder's take with that probe takes.
 */
#include <math.h>

#include "core/ladder.h"
#include "testutil.h"

static uint64_t next(uint64_t *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 11;
}

static double unit(uint64_t *x) { return (double)next(x) * 0x1.0p-53; }

/* A key: mostly prices near 100 either side of 0 (many to a bucket), some far (other blocks), some special. */
static double key(uint64_t *x, const double *seen, size_t nseen) {
  uint64_t k = next(x) % 16;
  if (k == 0 && nseen > 0) return seen[next(x) % nseen]; /* an equal key */
  if (k == 1) return (next(x) % 2 ? 1 : -1) * (1e-3 + unit(x) * 1e6);
  if (k == 2) {
    static const double special[] = {0.0, -0.0, INFINITY, -INFINITY, 1e-300, -1e-300, 1e300, -1e300};
    return special[next(x) % 8];
  }
  if (k == 3) return NAN;
  if (k == 4) return 100.0 + 1e-6 * unit(x); /* one bucket, past the room a bucket keeps when emptied */
  return (next(x) % 4 ? -1 : 1) * (95.0 + unit(x) * 10.0);
}

static int cmp_ent(const void *a, const void *b) {
  const ms_ladder_ent *x = a, *y = b;
  if (x->a != y->a) return x->a < y->a ? -1 : 1;
  return (x->b > y->b) - (x->b < y->b);
}

static int odd_b(const void *ctx, const ms_ladder_ent *e) {
  (void)ctx;
  return e->b % 2 == 1;
}

static void test_ladder__takes_exactly_the_keys_at_most_the_probe(void **state) {
  (void)state;
  enum { CAP = 6000 };
  ms_ladder_ent *ref = malloc(CAP * sizeof *ref), *want = malloc(CAP * sizeof *want);
  double *seen = malloc(CAP * sizeof *seen);
  assert_non_null(ref);
  assert_non_null(want);
  assert_non_null(seen);
  int64_t takes = 0, taken = 0, nan_kept = 0, gaps = 0;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    uint64_t x = seed;
    ms_ladder l = {0};
    size_t nref = 0, nseen = 0;
    int32_t id = 0;
    ms_ladder_ent *out = NULL, *bout = NULL, *all = malloc(CAP * sizeof *all);
    assert_non_null(all);
    size_t cap = 0, bcap = 0;
    ms_ladder bl = {0}; /* the batched twin */
    for (int step = 0; step < 3000; step++) {
      uint64_t op = next(&x) % 100;
      if (op < 70 && nref < CAP) { /* put */
        double k = key(&x, seen, nseen);
        ms_ladder_ent e = {k, id++, (uint32_t)next(&x)};
        assert_int_equal(ms_ladder_put(&l, e.key, e.a, e.b), 0);
        assert_int_equal(ms_ladder_put(&bl, e.key, e.a, e.b), 0);
        ref[nref++] = e;
        if (nseen < CAP && !isnan(k)) seen[nseen++] = k;
      } else if (op < 78 && nseen > 0) {
        /* a batched take stopped at a gap, or anywhere; then a filter, a put (in its bucket, or below every key)
         * or nothing; then, or not, on with the same probe; then a take with a higher probe */
        double p = seen[next(&x) % nseen];
        double p2 = next(&x) % 4 ? p + fabs(p) * 2e-3 * unit(&x) : INFINITY; /* often in p's bucket */
        if (!(p2 > p)) p2 = nextafter(p, INFINITY);
        size_t nall = 0, nb = 0, max = 1 + next(&x) % 4, nout = 0, keep = 0, nwant = 0; /* small: stops in buckets */
        int more;
        do { /* batches until one stops inside a bucket (a gap open: white box), at random, or the take is done */
          nb = 0;
          more = ms_ladder_take(&bl, p, max, &bout, &nb, &bcap);
          assert_true(more == 0 || more == 1);
          if (nb > 0) memcpy(all + nall, bout, nb * sizeof *all);
          nall += nb;
        } while (more == 1 && !(bl.cont && bl.cont_j > bl.cont_keep) && next(&x) % 8);
        gaps += more == 1 && bl.cont && bl.cont_j > bl.cont_keep;
        uint64_t between = next(&x) % 4;
        if (between == 1) { /* a filter while the stopped take's gap is open: both, and of what the batch took */
          ms_ladder_filter(&l, odd_b, NULL);
          ms_ladder_filter(&bl, odd_b, NULL);
          size_t kr = 0, ka = 0;
          for (size_t i = 0; i < nref; i++)
            if (odd_b(NULL, &ref[i])) ref[kr++] = ref[i];
          nref = kr;
          for (size_t i = 0; i < nall; i++)
            if (odd_b(NULL, &all[i])) all[ka++] = all[i];
          nall = ka;
        } else if (between >= 2 && nref < CAP) { /* a put while it is open: in its bucket, or below every key */
          ms_ladder_ent e = {between == 2 ? p : -INFINITY, id++, (uint32_t)next(&x)};
          assert_int_equal(ms_ladder_put(&l, e.key, e.a, e.b), 0);
          assert_int_equal(ms_ladder_put(&bl, e.key, e.a, e.b), 0);
          ref[nref++] = e;
        }
        if (more == 1 && next(&x) % 2) {
          do { /* on with the same probe (after the put below, from the lowest bucket again) */
            nb = 0;
            more = ms_ladder_take(&bl, p, max, &bout, &nb, &bcap);
            if (nb > 0) memcpy(all + nall, bout, nb * sizeof *all);
            nall += nb;
          } while (more == 1);
        }
        do { /* what p left, taken with p2: p's stop must not be gone on from (its kept entries may be <= p2) */
          nb = 0;
          more = ms_ladder_take(&bl, p2, max, &bout, &nb, &bcap);
          if (nb > 0) memcpy(all + nall, bout, nb * sizeof *all);
          nall += nb;
        } while (more == 1);
        assert_int_equal(more, 0);
        assert_int_equal(ms_ladder_take(&l, p2, SIZE_MAX, &out, &nout, &cap), 0);
        for (size_t i = 0; i < nref; i++)
          if (ref[i].key <= p2) want[nwant++] = ref[i];
          else ref[keep++] = ref[i];
        nref = keep;
        assert_int_equal(nall, nwant);
        assert_int_equal(nout, nwant);
        if (nall > 1) qsort(all, nall, sizeof *all, cmp_ent);
        if (nwant > 1) qsort(want, nwant, sizeof *want, cmp_ent);
        for (size_t i = 0; i < nall; i++)
          if (all[i].a != want[i].a || all[i].b != want[i].b)
            fail_msg("seed %llu step %d probes %g, %g: entry %zu differs", (unsigned long long)seed, step, p, p2, i);
        assert_int_equal(bl.n, l.n);
      } else if (op < 96) { /* take */
        double p = nseen > 0 && next(&x) % 2 ? seen[next(&x) % nseen] : key(&x, seen, nseen);
        size_t nout = 0, nwant = 0, keep = 0;
        assert_int_equal(ms_ladder_take(&l, p, SIZE_MAX, &out, &nout, &cap), 0);
        size_t nall = 0, max = 1 + next(&x) % (next(&x) % 4 ? 40 : 400);
        int more;
        do { /* the batched twin: its batches concatenated are the same take, in the same order */
          size_t nb = 0;
          more = ms_ladder_take(&bl, p, max, &bout, &nb, &bcap);
          assert_true(more == 0 || more == 1);
          assert_true(nb <= max && (more == 0 || nb == max));
          assert_true(nall + nb <= nout);
          if (nb > 0) memcpy(all + nall, bout, nb * sizeof *all);
          nall += nb;
        } while (more);
        assert_int_equal(nall, nout);
        for (size_t i = 0; i < nout; i++)
          if (memcmp(&all[i], &out[i], sizeof *all))
            fail_msg("seed %llu step %d probe %g max %zu: batched entry %zu differs", (unsigned long long)seed, step, p,
                     max, i);
        assert_int_equal(bl.n, l.n);
        for (size_t i = 0; i < nref; i++)
          if (ref[i].key <= p) want[nwant++] = ref[i];
          else ref[keep++] = ref[i];
        nref = keep;
        if (nout != nwant) fail_msg("seed %llu step %d probe %g: took %zu, want %zu", (unsigned long long)seed, step, p, nout, nwant);
        if (nout > 1) qsort(out, nout, sizeof *out, cmp_ent); /* out is NULL until a take first gives an entry */
        if (nwant > 1) qsort(want, nwant, sizeof *want, cmp_ent);
        for (size_t i = 0; i < nout; i++)
          if (out[i].a != want[i].a || out[i].b != want[i].b || memcmp(&out[i].key, &want[i].key, sizeof(double)))
            fail_msg("seed %llu step %d probe %g: entry %zu differs", (unsigned long long)seed, step, p, i);
        takes++;
        taken += (int64_t)nout;
      } else if (op < 99) { /* filter */
        ms_ladder_filter(&l, odd_b, NULL);
        ms_ladder_filter(&bl, odd_b, NULL);
        size_t keep = 0;
        for (size_t i = 0; i < nref; i++)
          if (ref[i].b % 2 == 1) ref[keep++] = ref[i];
        nref = keep;
      } else {
        ms_ladder_clear(&l);
        ms_ladder_clear(&bl);
        nref = 0;
      }
      assert_int_equal(l.n, nref);
    }
    /* what is left: all of it, NaN keys aside, at +infinity; the NaN keys never */
    size_t nout = 0;
    assert_int_equal(ms_ladder_take(&l, INFINITY, SIZE_MAX, &out, &nout, &cap), 0);
    size_t nb = 0; /* the twin keeps the same, in the same order */
    assert_int_equal(ms_ladder_take(&bl, INFINITY, SIZE_MAX, &bout, &nb, &bcap), 0);
    assert_int_equal(nb, nout);
    if (nout > 0) assert_memory_equal(bout, out, nout * sizeof *out);
    assert_int_equal(bl.n, l.n);
    size_t nnan = 0;
    for (size_t i = 0; i < nref; i++) nnan += isnan(ref[i].key);
    assert_int_equal(nout, nref - nnan);
    assert_int_equal(l.n, nnan);
    nan_kept += (int64_t)nnan;
    free(out);
    free(bout);
    free(all);
    ms_ladder_free(&l);
    ms_ladder_free(&bl);
  }
  print_message("ladder: %lld takes, %lld entries taken, %lld NaN keys kept, %lld takes stopped at a gap\n",
                (long long)takes, (long long)taken, (long long)nan_kept, (long long)gaps);
  assert_true(taken > 10000);
  assert_true(nan_kept > 0);
  assert_true(gaps > 100);
  free(ref);
  free(want);
  free(seen);
}

/* A take stopped inside a crowded bucket goes on from where it stopped with its own probe only, and past a
 * negative NaN's bucket below (kept, looked at again): against a twin that takes with no bound. */
static void test_ladder__a_stopped_take_goes_on_only_with_its_probe(void **state) {
  (void)state;
  enum { N = 200 };
  for (int variant = 0; variant < 2; variant++) {
    ms_ladder l = {0}, t = {0};
    uint64_t x = 11;
    int32_t order[N];
    for (int i = 0; i < N; i++) order[i] = i;
    for (int i = N - 1; i > 0; i--) { /* shuffled, so that kept and taken keys alternate in the bucket */
      int j = (int)(next(&x) % (uint64_t)(i + 1)), tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
    assert_int_equal(ms_ladder_put(&l, -NAN, -1, 0), 0);
    assert_int_equal(ms_ladder_put(&t, -NAN, -1, 0), 0);
    for (int i = 0; i < N; i++) {
      double k = 100.0 + 1e-7 * order[i];
      assert_int_equal(ms_ladder_put(&l, k, order[i], (uint32_t)i), 0);
      assert_int_equal(ms_ladder_put(&t, k, order[i], (uint32_t)i), 0);
    }
    const double p = 100.0 + 1e-7 * 100, p2 = 100.0 + 1e-7 * 150;
    ms_ladder_ent *out = NULL, *ref = NULL;
    size_t cap = 0, rcap = 0, n = 0, nref = 0;
    assert_int_equal(ms_ladder_take(&l, p, 7, &out, &n, &cap), 1); /* stopped inside the bucket */
    assert_int_equal(n, 7);
    ms_ladder_ent got[N];
    memcpy(got, out, n * sizeof *out);
    size_t ngot = n;
    const double q = variant == 0 ? p : p2; /* on with the same probe, or with a higher one */
    int more;
    do {
      n = 0;
      more = ms_ladder_take(&l, q, 7, &out, &n, &cap);
      assert_true(ngot + n <= N);
      memcpy(got + ngot, out, n * sizeof *out);
      ngot += n;
    } while (more == 1);
    assert_int_equal(more, 0);
    assert_int_equal(ms_ladder_take(&t, q, SIZE_MAX, &ref, &nref, &rcap), 0);
    assert_int_equal(ngot, variant == 0 ? 101 : 151);
    assert_int_equal(nref, ngot);
    if (variant == 0) { /* the same probe: the same entries in the same order */
      assert_memory_equal(got, ref, ngot * sizeof *got);
    } else {
      qsort(got, ngot, sizeof *got, cmp_ent);
      qsort(ref, nref, sizeof *ref, cmp_ent);
      assert_memory_equal(got, ref, ngot * sizeof *got);
    }
    assert_int_equal(l.n, t.n);
    assert_int_equal(l.n, N + 1 - ngot);
    n = nref = 0; /* and the rest (the NaN aside) */
    assert_int_equal(ms_ladder_take(&l, INFINITY, SIZE_MAX, &out, &n, &cap), 0);
    assert_int_equal(ms_ladder_take(&t, INFINITY, SIZE_MAX, &ref, &nref, &rcap), 0);
    assert_int_equal(n, nref);
    assert_memory_equal(out, ref, n * sizeof *out);
    assert_int_equal(l.n, 1);
    free(out);
    free(ref);
    ms_ladder_free(&l);
    ms_ladder_free(&t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ladder__takes_exactly_the_keys_at_most_the_probe),
      cmocka_unit_test(test_ladder__a_stopped_take_goes_on_only_with_its_probe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
