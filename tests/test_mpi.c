/*
 * test_mpi — sim/driver/mpi.c: slices of a batch, the gather to rank 0 (in
 * one go and in rounds), agreeing on a status, the largest flag, bcast.
 *
 * Runs as one process in every build (ctest `mpi_module`, label unit: the
 * single-process twins), and in a build with MARGINSIM_MPI under
 * `mpirun -n 3` (ctest `mpi_module_3`, label mpi). Every collective of a
 * test is made before its first assertion, so that a failing assertion on
 * one rank cannot leave the others waiting in a collective.
 */
#include "testutil.h"

#include "driver/mpi.h"

static void test_mpi__slices_cover_the_batch_in_order(void **state) {
  (void)state;
  for (int size = 1; size <= 7; size++)
    for (int64_t n = 0; n <= 30; n++) {
      int64_t next = 100, lo = n, hi = 0;
      for (int r = 0; r < size; r++) {
        int64_t f, k;
        ms_mpi_slice(100, n, r, size, &f, &k);
        assert_int_equal(f, next); /* contiguous, in rank order */
        next = f + k;
        if (k < lo) lo = k;
        if (k > hi) hi = k;
      }
      assert_int_equal(next, 100 + n); /* the whole batch */
      assert_true(hi - lo <= 1);       /* even */
    }
}

/* Rank r's bytes: 3 + r % 5 of them, but none on rank 1; byte i = 31 r + i. */
static size_t nbytes_of(int r) { return r == 1 ? 0 : (size_t)(3 + r % 5); }

static unsigned char byte_of(int r, size_t i) { return (unsigned char)(31 * r + (int)i); }

static void check_gathered(const unsigned char *all, size_t len) {
  int rank = ms_mpi_rank(), size = ms_mpi_size();
  if (rank != 0) {
    assert_null(all);
    assert_int_equal(len, 0);
    return;
  }
  size_t at = 0;
  for (int r = 0; r < size; r++)
    for (size_t i = 0; i < nbytes_of(r); i++, at++) {
      assert_true(at < len);
      assert_int_equal(all[at], byte_of(r, i));
    }
  assert_int_equal(len, at);
}

static void test_mpi__gather_in_rank_order(void **state) {
  (void)state;
  unsigned char mine[8];
  size_t n = nbytes_of(ms_mpi_rank());
  for (size_t i = 0; i < n; i++) mine[i] = byte_of(ms_mpi_rank(), i);
  void *all = NULL, *rounds = NULL, *tiny = NULL;
  size_t len = 0, len_r = 0, len_t = 0;
  ms_error err;
  ms_status s1 = ms_mpi_gather_bytes(mine, n, &all, &len, &err);
  /* beyond 4 bytes in all: rounds of 4 bytes over the ranks (one each, at least) */
  ms_status s2 = ms_mpi_gather_bytes_rounds(mine, n, 4, &rounds, &len_r, &err);
  ms_status s3 = ms_mpi_gather_bytes_rounds(mine, n, 1, &tiny, &len_t, &err);
  assert_int_equal(s1, MS_OK);
  assert_int_equal(s2, MS_OK);
  assert_int_equal(s3, MS_OK);
  check_gathered(all, len);
  check_gathered(rounds, len_r);
  check_gathered(tiny, len_t);
  free(all);
  free(rounds);
  free(tiny);
}

static void test_mpi__agree_on_the_first_failing_rank(void **state) {
  (void)state;
  int rank = ms_mpi_rank(), size = ms_mpi_size();
  ms_error err;
  ms_error_clear(&err);
  /* nobody failed */
  ms_status none = ms_mpi_agree_status(MS_OK, &err);
  /* ranks 1 and up fail, each with its own status and message: rank 1's wins */
  ms_error e2;
  ms_error_clear(&e2);
  ms_status mine = rank == 0 ? MS_OK : rank == 1 ? MS_ERR_INPUT : MS_ERR_NOMEM;
  if (mine) ms_error_set(&e2, mine, "rank %d failed", rank);
  ms_status two = ms_mpi_agree_status(mine, &e2);
  /* rank 0 alone: the status passed counts, whatever the record held */
  ms_error e3;
  ms_error_clear(&e3);
  snprintf(e3.msg, sizeof e3.msg, "rank 0's message");
  ms_status three = ms_mpi_agree_status(rank == 0 ? MS_ERR_IO : MS_OK, &e3);
  assert_int_equal(none, MS_OK);
  if (size == 1) {
    assert_int_equal(two, MS_OK);
  } else {
    assert_int_equal(two, MS_ERR_INPUT);
    assert_string_equal(e2.msg, "rank 1 failed");
  }
  assert_int_equal(three, MS_ERR_IO);
  assert_string_equal(e3.msg, "rank 0's message");
}

static void test_mpi__max_and_bcast(void **state) {
  (void)state;
  int rank = ms_mpi_rank(), size = ms_mpi_size();
  int m = ms_mpi_agree_max(rank == size - 1 ? 15 : rank == 0 ? 2 : 0);
  char buf[32];
  snprintf(buf, sizeof buf, "from rank %d", rank);
  ms_error err;
  ms_status s = ms_mpi_bcast(buf, sizeof buf, 0, &err);
  assert_int_equal(s, MS_OK);
  assert_int_equal(m, 15);
  assert_string_equal(buf, "from rank 0");
}

int main(int argc, char **argv) {
  ms_error err;
  if (ms_mpi_init(&argc, &argv, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mpi__slices_cover_the_batch_in_order),
      cmocka_unit_test(test_mpi__gather_in_rank_order),
      cmocka_unit_test(test_mpi__agree_on_the_first_failing_rank),
      cmocka_unit_test(test_mpi__max_and_bcast),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  /* every rank exits with the worst count: mpirun's exit code then says whether any rank failed */
  return ms_mpi_agree_max(failed);
}
