/*
 * test_run — the driver: bit-identical results for any thread count, path p
 * independent of how many paths run, and no result file after a failure or
 * an interruption.
 */
#include <dirent.h>
#include <hdf5.h>
#include <libdeflate.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/run.h"
#include "output/fields.h"
#include "testutil.h"

static char tmpdir[256];

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ms_test_run.XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  DIR *d = opendir(tmpdir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
    struct stat st;
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) rmdir(p);
    else unlink(p);
  }
  if (d) closedir(d);
  rmdir(tmpdir);
  return 0;
}

static const char *scenario =
    "name: det\nseed: 99\npaths: 100\nhorizon: 6h\nstep: 1s\n"
    "market:\n  regimes:\n"
    "    - {name: calm, vol: 0.5, mean_duration: 2h}\n"
    "    - {name: stress, vol: 1.5, drift: -1, mean_duration: 30m, jumps: {rate: 12/d, mean: -0.03, sd: 0.02}}\n"
    "book: {accounts: 2000, leverage: {dist: uniform, min: 2, max: 20}}\n"
    "keepers: {delay: {dist: exponential, mean: 8s}, capacity: {per_block: 40, block_time: 12s}}\n"
    "output: {timeseries: {paths: 5, every: 1m}, chunk_paths: 16, liquidations: true}\n";

static ms_status run_to(const char *name, const char *const *sets, int nsets, int threads,
                        const volatile sig_atomic_t *cancel, ms_error *err) {
  ms_config *cfg = load_yaml(scenario, sets, nsets, err);
  if (!cfg) fail_msg("%s", err->msg);
  char out[512];
  snprintf(out, sizeof out, "%s/%s", tmpdir, name);
  ms_run_opts o = {.threads = threads, .output = out, .command = "test", .cancel = cancel};
  ms_run_report *rep = calloc(1, sizeof *rep);
  ms_status s = ms_run(cfg, &o, rep, err);
  free(rep);
  ms_config_free(cfg);
  return s;
}

/* Raw bytes of a dataset, in its file type. */
static unsigned char *read_raw(const char *name, const char *dset, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) fail_msg("cannot open %s", path);
  hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
  if (d < 0) fail_msg("no dataset %s in %s", dset, path);
  hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
  *len = (size_t)H5Sget_select_npoints(sp) * H5Tget_size(t);
  unsigned char *buf = malloc(*len ? *len : 1);
  if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) fail_msg("read %s", dset);
  H5Tclose(t);
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(f);
  return buf;
}

static int file_exists(const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  return access(p, F_OK) == 0;
}

static int dir_entries(void) {
  int n = 0;
  DIR *d = opendir(tmpdir);
  struct dirent *de;
  while (d && (de = readdir(d))) n += de->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

static void test_run__same_bits_for_any_thread_count(void **state) {
  (void)state;
  ms_error err;
  assert_ok(run_to("j1.h5", NULL, 0, 1, NULL, &err), &err);
  assert_ok(run_to("j2.h5", NULL, 0, 2, NULL, &err), &err);
  assert_ok(run_to("j3.h5", NULL, 0, 3, NULL, &err), &err);
  const char *dsets[] = {"/paths/summary", "/timeseries/price", "/timeseries/regime", "/timeseries/mark",
                         "/timeseries/oracle", "/timeseries/liquidations", "/book", "/cascades",
                         "/liquidations", "/stats/summary", "/stats/probabilities"};
  for (size_t i = 0; i < sizeof dsets / sizeof dsets[0]; i++) {
    size_t la, lb, lc;
    unsigned char *a = read_raw("j1.h5", dsets[i], &la), *b = read_raw("j2.h5", dsets[i], &lb),
                  *c = read_raw("j3.h5", dsets[i], &lc);
    assert_true(la > 0);
    assert_true(la == lb && la == lc);
    if (memcmp(a, b, la) || memcmp(a, c, la)) fail_msg("%s differs between thread counts", dsets[i]);
    free(a); free(b); free(c);
  }
}

static void test_run__path_does_not_depend_on_path_count(void **state) {
  (void)state;
  ms_error err;
  const char *ten[] = {"paths=10"};
  assert_ok(run_to("p10.h5", ten, 1, 2, NULL, &err), &err);
  assert_ok(run_to("p100.h5", NULL, 0, 2, NULL, &err), &err);
  size_t la, lb;
  unsigned char *a = read_raw("p10.h5", "/paths/summary", &la);
  unsigned char *b = read_raw("p100.h5", "/paths/summary", &lb);
  assert_true(lb == 10 * la);
  if (memcmp(a, b, la)) fail_msg("paths 0..9 differ between a 10-path and a 100-path run");
  free(a); free(b);
  /* and so do their liquidations: the 10-path file's rows are the first rows of the other */
  a = read_raw("p10.h5", "/liquidations", &la);
  b = read_raw("p100.h5", "/liquidations", &lb);
  assert_true(la > 0 && lb > la);
  if (memcmp(a, b, la)) fail_msg("liquidations of paths 0..9 differ");
  free(a); free(b);
  /* A different seed changes the paths. */
  const char *seed[] = {"seed=100"};
  assert_ok(run_to("s100.h5", seed, 1, 2, NULL, &err), &err);
  a = read_raw("s100.h5", "/paths/summary", &la);
  b = read_raw("p100.h5", "/paths/summary", &lb);
  assert_true(la == lb && memcmp(a, b, la) != 0);
  free(a); free(b);
}

static void test_run__per_path_books(void **state) {
  (void)state;
  ms_error err;
  const char *pp[] = {"book.resample=per_path", "paths=24"};
  assert_ok(run_to("pp1.h5", pp, 2, 1, NULL, &err), &err);
  assert_ok(run_to("pp2.h5", pp, 2, 2, NULL, &err), &err);
  const char *dsets[] = {"/paths/summary", "/liquidations", "/book"};
  for (size_t i = 0; i < 3; i++) {
    size_t la, lb;
    unsigned char *a = read_raw("pp1.h5", dsets[i], &la), *b = read_raw("pp2.h5", dsets[i], &lb);
    assert_true(la == lb && la > 0);
    if (memcmp(a, b, la)) fail_msg("%s differs between thread counts with per-path books", dsets[i]);
    free(a); free(b);
  }
  /* a per-path book differs from the per-run book (stream book, path 2^64-1) */
  const char *pr[] = {"paths=24"};
  assert_ok(run_to("pr.h5", pr, 1, 2, NULL, &err), &err);
  size_t la, lb;
  unsigned char *a = read_raw("pp1.h5", "/book", &la), *b = read_raw("pr.h5", "/book", &lb);
  assert_true(la == lb && memcmp(a, b, la) != 0);
  free(a); free(b);
}

/* Bytes of one chunk of dataset @p dset of file @p name. */
static size_t chunk_bytes(const char *name, const char *dset) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) fail_msg("open %s", path);
  hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
  if (d < 0) fail_msg("open %s", dset);
  hid_t pl = H5Dget_create_plist(d), t = H5Dget_type(d);
  hsize_t dims[4] = {0};
  int rank = H5Pget_chunk(pl, 4, dims);
  assert_true(rank > 0);
  size_t n = H5Tget_size(t);
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  H5Tclose(t);
  H5Pclose(pl);
  H5Dclose(d);
  H5Fclose(f);
  return n;
}

/* Every chunk fits HDF5's default chunk cache (1 MB): one that does not is
 * inflated and deflated again at each partial write (issue 16: /book's
 * 65,536-row chunks, /paths/summary's 4,096 rows, the fan's 256 paths of
 * many points). */
static void test_run__chunks_fit_the_cache(void **state) {
  (void)state;
  ms_error err;
  const char *big[] = {"paths=16", "horizon=10m", "book.accounts=10000", "output.fan.paths=16",
                       "output.fan.points=10001", "output.compression=1"};
  assert_ok(run_to("bigbook.h5", big, 6, 1, NULL, &err), &err);
  const char *dsets[] = {"/book", "/cascades", "/timeseries/fan/price", "/timeseries/price"};
  for (size_t i = 0; i < sizeof dsets / sizeof dsets[0]; i++) {
    size_t n = chunk_bytes("bigbook.h5", dsets[i]);
    if (n > ((size_t)1 << 20)) fail_msg("%s: a chunk of %zu bytes does not fit the 1 MB chunk cache", dsets[i], n);
  }
  /* /liquidations: chunked only when deflated (uncompressed, it is contiguous: liquidations_are_contiguous) */
  const char *deflated[] = {"paths=16", "horizon=10m", "book.accounts=10000", "output.liquidations_compression=1"};
  assert_ok(run_to("liqz.h5", deflated, 4, 1, NULL, &err), &err);
  size_t n = chunk_bytes("liqz.h5", "/liquidations");
  if (n > ((size_t)1 << 20)) fail_msg("/liquidations: a chunk of %zu bytes does not fit the 1 MB chunk cache", n);
  const char *many[] = {"paths=3000", "horizon=1m", "book.accounts=10", "output.timeseries.paths=0"};
  assert_ok(run_to("manypaths.h5", many, 4, 2, NULL, &err), &err);
  n = chunk_bytes("manypaths.h5", "/paths/summary");
  if (n > ((size_t)1 << 20)) fail_msg("/paths/summary: a chunk of %zu bytes does not fit the 1 MB chunk cache", n);
}

/* /book's whole chunks are shuffled and deflated by marginsim itself (H5Dwrite_chunk): plane by plane
 * (zplanes) up to output.compression 5, by libdeflate above. HDF5 reads them back through its own filters
 * (zlib) as the same rows as an uncompressed /book, the partial last chunk (written through HDF5)
 * included. The first chunk is stored deflated, its bytes the same at levels 1, 4 and 5 (the plane coder's
 * stream, whose zlib header says "fastest", 0x78 0x01) and libdeflate's at 6 and 9 (their headers say
 * "default" and "best", 0x78 0x9C and 0x78 0xDA). */
static void test_run__book_chunks_deflated_here_read_back(void **state) {
  (void)state;
  ms_error err;
  const char *raw[] = {"paths=2", "horizon=10m", "book.accounts=40000", "output.compression=0"};
  assert_ok(run_to("book0.h5", raw, 4, 1, NULL, &err), &err);
  size_t lb;
  unsigned char *b = read_raw("book0.h5", "/book", &lb);
  assert_true(lb == 40000 * sizeof(ms_book_row));
  enum { NL = 5 };
  const char *level[NL] = {"output.compression=1", "output.compression=4", "output.compression=5",
                           "output.compression=6", "output.compression=9"};
  const unsigned char flg[NL] = {0x01, 0x01, 0x01, 0x9C, 0xDA};
  static unsigned char first[NL][65536];
  hsize_t size[NL];
  for (int k = 0; k < NL; k++) {
    const char *z[] = {"paths=2", "horizon=10m", "book.accounts=40000", level[k]};
    assert_ok(run_to("bookz.h5", z, 4, 1, NULL, &err), &err);
    size_t la;
    unsigned char *a = read_raw("bookz.h5", "/book", &la);
    assert_true(la == lb);
    if (memcmp(a, b, la)) fail_msg("/book, %s: the rows deflated here read back differently", level[k]);
    free(a);
    char p[512];
    snprintf(p, sizeof p, "%s/bookz.h5", tmpdir);
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "/book", H5P_DEFAULT);
    hsize_t off[1] = {0};
    unsigned mask = 99;
    assert_true(H5Dget_chunk_storage_size(d, off, &size[k]) >= 0);
    assert_true(size[k] > 2 && size[k] < 256 * sizeof(ms_book_row));
    assert_true(H5Dread_chunk(d, H5P_DEFAULT, off, &mask, first[k]) >= 0);
    assert_int_equal(mask, 0); /* shuffled and deflated */
    if (first[k][0] != 0x78 || first[k][1] != flg[k])
      fail_msg("/book, %s: its first chunk's zlib header is %02x %02x", level[k], first[k][0], first[k][1]);
    H5Dclose(d);
    H5Fclose(f);
  }
  free(b);
  for (int k = 1; k < 3; k++)
    if (size[k] != size[0] || memcmp(first[k], first[0], size[0]))
      fail_msg("/book, %s: the first chunk differs from %s's", level[k], level[0]);
}

/* The chunk at @p off of @p dset in @p name as stored, and its filter mask. */
static unsigned char *stored_chunk(const char *name, const char *dset, const hsize_t *off, size_t *len,
                                   unsigned *mask) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, dset, H5P_DEFAULT);
  hsize_t size = 0;
  if (d < 0 || H5Dget_chunk_storage_size(d, off, &size) < 0) fail_msg("%s: no chunk at %llu", dset, (unsigned long long)off[0]);
  unsigned char *b = malloc(size ? size : 1);
  if (H5Dread_chunk(d, H5P_DEFAULT, off, mask, b) < 0) fail_msg("%s: chunk unreadable", dset);
  *len = size;
  H5Dclose(d);
  H5Fclose(f);
  return b;
}

/* What the chunk of @p nrows rows of @p rs bytes at @p rows must be when
 * deflated here: the rows (an edge chunk's padded with zeros to @p crows)
 * shuffled by the element size @p es, then libdeflate at @p level. */
static void expect_chunk(const char *what, const unsigned char *rows, size_t nrows, size_t crows, size_t rs,
                         size_t es, int level, const unsigned char *got, size_t glen, unsigned mask) {
  size_t bytes = crows * rs, n = bytes / es;
  unsigned char *in = calloc(bytes, 1), *sh = malloc(bytes), *z = malloc(bytes);
  memcpy(in, rows, nrows * rs);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < es; j++) sh[j * n + i] = in[i * es + j];
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
  size_t zl = libdeflate_zlib_compress(c, sh, bytes, z, bytes);
  libdeflate_free_compressor(c);
  assert_true(zl > 0);
  assert_int_equal(mask, 0);
  if (glen != zl || memcmp(got, z, zl)) fail_msg("%s: the chunk stored (%zu bytes) is not the rows deflated here (%zu)", what, glen, zl);
  free(in); free(sh); free(z);
}

/* /paths/summary, /timeseries and /timeseries/fan: whole chunks shuffled and
 * deflated here (libdeflate), the summary's and the fan's rows held until
 * their chunk is whole (frames of 300 paths against 1,024-row chunks, fan
 * chunks of 256 rows), edge chunks padded with zeros; every value reads back
 * as the uncompressed run's, at any thread count. */
static void test_run__small_chunks_deflated_here_read_back(void **state) {
  (void)state;
  ms_error err;
  const char *base[] = {"paths=2500", "horizon=1m", "book.accounts=200", "output.chunk_paths=300",
                        "output.fan.paths=600", "output.timeseries.every=1s", "output.liquidations=false",
                        "output.compression=0"};
  assert_ok(run_to("small0.h5", base, 8, 1, NULL, &err), &err);
  const char *dsets[] = {"/paths/summary", "/timeseries/fan/price", "/timeseries/fan/mark", "/timeseries/fan/regime",
                         "/timeseries/price", "/timeseries/regime", "/timeseries/liquidations"};
  enum { ND = sizeof dsets / sizeof dsets[0] };
  for (int t = 1; t <= 3; t += 2) {
    const char *z[8];
    memcpy(z, base, sizeof z);
    z[7] = "output.compression=4";
    assert_ok(run_to("small4.h5", z, 8, t, NULL, &err), &err);
    for (int i = 0; i < ND; i++) {
      size_t la, lb;
      unsigned char *a = read_raw("small0.h5", dsets[i], &la), *b = read_raw("small4.h5", dsets[i], &lb);
      assert_true(la > 0 && la == lb);
      if (memcmp(a, b, la)) fail_msg("%s, %d threads: reads back differently", dsets[i], t);
      free(b);
      /* chunks: the summary's first (whole) and its last (rows 2048..2499 of 1,024), the fan's last (512..599 of
       * 256), a time series' second row */
      size_t rs = la / (i == 0 ? 2500 : i < 4 ? 600 : 5), es = i == 0 ? rs : i == 3 || i >= 5 ? 4 : 8;
      size_t crows = i == 0 ? 1024 : i < 4 ? 256 : 1;
      size_t firsts[2] = {0, i == 0 ? 2048 : i < 4 ? 512 : 1}, total = la / rs;
      for (int c = 0; c < 2; c++) {
        hsize_t off[2] = {firsts[c], 0};
        size_t gl;
        unsigned mask = 99;
        unsigned char *g = stored_chunk("small4.h5", dsets[i], off, &gl, &mask);
        size_t nrows = total - firsts[c] < crows ? total - firsts[c] : crows;
        char what[128];
        snprintf(what, sizeof what, "%s at row %zu, %d threads", dsets[i], firsts[c], t);
        expect_chunk(what, a + firsts[c] * rs, nrows, crows, rs, es, 4, g, gl, mask);
        free(g);
      }
      free(a);
    }
  }
}

/* Uncompressed, /liquidations is contiguous, sized from the frames' tails and written in place: the same
 * rows as the chunked, deflated dataset, with several frames and threads (paths streamed out of order). */
static void test_run__liquidations_are_contiguous(void **state) {
  (void)state;
  ms_error err;
  const char *z[] = {"output.liquidations_compression=1"};
  assert_ok(run_to("lc.h5", NULL, 0, 3, NULL, &err), &err);
  assert_ok(run_to("lz.h5", z, 1, 1, NULL, &err), &err);
  size_t la, lb;
  unsigned char *a = read_raw("lc.h5", "/liquidations", &la), *b = read_raw("lz.h5", "/liquidations", &lb);
  assert_true(la > 0 && la == lb);
  if (memcmp(a, b, la)) fail_msg("/liquidations: contiguous and deflated rows differ");
  free(a); free(b);
  char p[512];
  snprintf(p, sizeof p, "%s/lc.h5", tmpdir);
  hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "/liquidations", H5P_DEFAULT), pl = H5Dget_create_plist(d);
  assert_int_equal(H5Pget_layout(pl), H5D_CONTIGUOUS);
  H5Pclose(pl);
  H5Dclose(d);
  H5Fclose(f);
}

static void test_run__cancel_leaves_no_file(void **state) {
  (void)state;
  ms_error err;
  int before = dir_entries();
  volatile sig_atomic_t cancel = 1;
  assert_int_equal(run_to("cancel.h5", NULL, 0, 2, &cancel, &err), MS_ERR_CANCELLED);
  assert_false(file_exists("cancel.h5"));
  assert_int_equal(dir_entries(), before); /* no temporary left either */
}

static void test_run__io_failure_leaves_no_file(void **state) {
  (void)state;
  ms_error err;
  /* The final name is a directory: refused before any work (only a regular file may be replaced). */
  char d[512];
  snprintf(d, sizeof d, "%s/adir.h5", tmpdir);
  assert_int_equal(mkdir(d, 0700), 0);
  int before = dir_entries();
  assert_int_equal(run_to("adir.h5", NULL, 0, 2, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "adir.h5: is a folder");
  assert_int_equal(dir_entries(), before);
  struct stat st;
  assert_true(stat(d, &st) == 0 && S_ISDIR(st.st_mode));
  rmdir(d);
  /* An output directory that cannot be created. */
  ms_config *cfg = load_yaml(scenario, NULL, 0, &err);
  ms_run_opts o = {.threads = 1, .output = "/proc/marginsim/x.h5"};
  ms_run_report *rep = calloc(1, sizeof *rep);
  assert_int_equal(ms_run(cfg, &o, rep, &err), MS_ERR_IO);
  assert_contains(err.msg, "/proc/marginsim/x.h5: cannot create");
  free(rep);
  ms_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run__same_bits_for_any_thread_count),
      cmocka_unit_test(test_run__path_does_not_depend_on_path_count),
      cmocka_unit_test(test_run__per_path_books),
      cmocka_unit_test(test_run__book_chunks_deflated_here_read_back),
      cmocka_unit_test(test_run__small_chunks_deflated_here_read_back),
      cmocka_unit_test(test_run__chunks_fit_the_cache),
      cmocka_unit_test(test_run__liquidations_are_contiguous),
      cmocka_unit_test(test_run__cancel_leaves_no_file),
      cmocka_unit_test(test_run__io_failure_leaves_no_file),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
