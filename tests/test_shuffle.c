/*
 * test_shuffle — ms_byte_shuffle against HDF5's shuffle written as its
 * definition (byte j of element i to j * n + i), on random bytes, for
 * element counts and sizes on either side of the 8 x 8 tiles and the
 * 64-row blocks (0, 1, 7, 8, 9, 63, 64, 65, ..., 4096, /book's chunk) and
 * sizes 1 .. 17, 128 (one market's /book row), 144 (several markets') and 152;
 * and a round trip through HDF5's own shuffle filter: a dataset written
 * with H5Dwrite_chunk from ms_byte_shuffle's bytes, its filter mask saying
 * shuffled, reads back as the rows.
 */
#include <hdf5.h>
#include <unistd.h>

#include "core/shuffle.h"
#include "testutil.h"

static uint64_t next(uint64_t *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 24;
}

static void check(size_t n, size_t size, uint64_t seed) {
  size_t bytes = n * size;
  unsigned char *in = malloc(bytes + 1), *out = malloc(bytes + 1), *ref = malloc(bytes + 1);
  assert_non_null(in);
  assert_non_null(out);
  assert_non_null(ref);
  uint64_t x = seed;
  for (size_t i = 0; i < bytes; i++) in[i] = (unsigned char)next(&x);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < size; j++) ref[j * n + i] = in[i * size + j];
  memset(out, 0xa5, bytes + 1);
  ms_byte_shuffle(out, in, n, size);
  if (bytes && memcmp(out, ref, bytes)) {
    size_t k = 0;
    while (out[k] == ref[k]) k++;
    fail_msg("n %zu, size %zu: byte %zu is %u, HDF5's shuffle puts %u there", n, size, k, out[k], ref[k]);
  }
  assert_int_equal(out[bytes], 0xa5); /* nothing past the end */
  free(in);
  free(out);
  free(ref);
}

static void test_shuffle__matches_definition(void **state) {
  (void)state;
  static const size_t ns[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 71, 72, 127, 128, 129, 1000, 4096};
  uint64_t seed = 1;
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
    for (size_t size = 1; size <= 17; size++) check(ns[a], size, seed++);
    check(ns[a], 128, seed++);
    check(ns[a], 144, seed++);
    check(ns[a], 152, seed++);
  }
  check(65536, 128, seed++); /* one market's /book chunk */
}

/* A chunk written as ms_byte_shuffle's bytes, the deflate filter skipped (mask bit 1), reads back through HDF5's
 * shuffle filter as the rows. */
static void test_shuffle__hdf5_reads_it_back(void **state) {
  (void)state;
  enum { N = 1000, SIZE = 24 };
  unsigned char in[N * SIZE], sh[N * SIZE], back[N * SIZE];
  uint64_t x = 42;
  for (size_t i = 0; i < sizeof in; i++) in[i] = (unsigned char)next(&x);
  ms_byte_shuffle(sh, in, N, SIZE);
  char path[] = "/tmp/ms_test_shuffle_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t t = H5Tcreate(H5T_OPAQUE, SIZE);
  H5Tset_tag(t, "row");
  hsize_t dims[1] = {N};
  hid_t sp = H5Screate_simple(1, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(pl, 1, dims);
  H5Pset_shuffle(pl);
  H5Pset_deflate(pl, 4);
  hid_t ds = H5Dcreate2(f, "rows", t, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  hsize_t off[1] = {0};
  assert_true(H5Dwrite_chunk(ds, H5P_DEFAULT, 1u << 1, off, sizeof sh, sh) >= 0);
  H5Dclose(ds);
  H5Pclose(pl);
  H5Sclose(sp);
  H5Fclose(f);
  f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); /* as a reader of the result file */
  ds = H5Dopen2(f, "rows", H5P_DEFAULT);
  assert_true(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
  H5Dclose(ds);
  H5Tclose(t);
  H5Fclose(f);
  unlink(path);
  assert_memory_equal(back, in, sizeof in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shuffle__matches_definition),
      cmocka_unit_test(test_shuffle__hdf5_reads_it_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
