/*
 * test_library — the library's boundary, called as a library would be (no
 * CLI set-up first):
 * - a scenario GSL cannot solve returns a status instead of aborting the
 *   process inside GSL, and a handler the application installed is kept;
 * - ms_run (the CLI's call) with no result file returns MS_ERR_INPUT;
 * - a scenario loads from a string with overrides, a bad override is
 *   MS_ERR_INPUT with a message naming the key;
 * - ms_simulate without a file returns the rows and liquidation records of
 *   the file of the same run, bit for bit (read back with HDF5);
 * - a run cancelled from its progress callback returns MS_ERR_CANCELLED,
 *   no result and no file (nor a temporary);
 * - two runs in two threads at once equal the same runs one after the other.
 * The cases that could abort or crash run in a child process, so that an
 * abort or a crash is reported as a failure (and starts from a process where
 * the library has not yet been called).
 */
#include <dirent.h>
#include <gsl/gsl_errno.h>
#include <hdf5.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/run.h"
#include "marginsim/marginsim.h"
#include "output/result.h"
#include "output/sweep.h"
#include "testutil.h"

/* Two closed classes {calm, hot} and {cold, wild}: the chain is reducible, so
 * it has no unique stationary distribution and GSL's LU solve reports a
 * singular matrix (GSL_EDOM), by default by calling abort(). */
static const char *reducible =
    "name: reducible\npaths: 4\nhorizon: 1h\nstep: 1s\n"
    "market:\n  regimes:\n"
    "    - {name: calm, vol: 0.5, mean_duration: 1h}\n"
    "    - {name: hot, vol: 1.0, mean_duration: 1h}\n"
    "    - {name: cold, vol: 0.3, mean_duration: 1h}\n"
    "    - {name: wild, vol: 2.0, mean_duration: 1h}\n"
    "  transition: [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]\n"
    "book: {accounts: 10, leverage: 5}\n";

static const char *small =
    "name: small\nseed: 3\npaths: 4\nhorizon: 1h\nstep: 1s\n"
    "market:\n  regimes:\n    - {name: calm, vol: 0.5}\n"
    "book: {accounts: 10, leverage: 5}\n"
    "sweep: {grid: ['margin.maintenance=0.04,0.05']}\n";

/* Run @p fn in a child; fail unless it exits 0 (an abort or a crash fails). */
static void in_child(void (*fn)(void), const char *what) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* cmocka catches these to report a crash and carry on: in the child a
     * crash must end the child, so that the parent sees it. */
    const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], SIG_DFL);
    fn();
    _exit(0);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (WIFSIGNALED(st)) fail_msg("%s: killed by signal %d (%s)", what, WTERMSIG(st), strsignal(WTERMSIG(st)));
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("%s: child exited %d", what, WEXITSTATUS(st));
}

/* In the child: a failed check exits non-zero with the reason on stderr. */
#define CHILD_CHECK(cond, ...)                          \
  do {                                                  \
    if (!(cond)) {                                      \
      fprintf(stderr, "check failed: " __VA_ARGS__);    \
      fprintf(stderr, "\n");                            \
      _exit(1);                                         \
    }                                                   \
  } while (0)

static void load_reducible(void) {
  ms_config *cfg = NULL;
  ms_error err = {0};
  ms_status s = ms_config_load_string(&cfg, reducible, "reducible.yaml", NULL, 0, &err);
  CHILD_CHECK(s == MS_ERR_INPUT, "status %d: %s", (int)s, err.msg);
  CHILD_CHECK(cfg == NULL, "a configuration returned with an error");
  CHILD_CHECK(strstr(err.msg, "no unique stationary distribution") && strstr(err.msg, "transition"),
              "message: %s", err.msg);
}

static void reducible_chain_returns_a_status(void **state) {
  (void)state;
  in_child(load_reducible, "ms_config_load_string on a reducible regime chain");
}

static int app_handler_calls;
static void app_handler(const char *reason, const char *file, int line, int gsl_errno) {
  (void)reason, (void)file, (void)line, (void)gsl_errno;
  app_handler_calls++;
}

static void load_reducible_with_app_handler(void) {
  gsl_set_error_handler(app_handler);
  load_reducible();
  CHILD_CHECK(app_handler_calls > 0, "the application's GSL handler was replaced");
  CHILD_CHECK(gsl_set_error_handler(NULL) == app_handler, "the application's GSL handler was replaced");
}

static void keeps_the_applications_handler(void **state) {
  (void)state;
  in_child(load_reducible_with_app_handler, "ms_config_load_string with the application's GSL handler");
}

static ms_config *load_small(void) {
  ms_config *cfg = NULL;
  ms_error err = {0};
  ms_status s = ms_config_load_string(&cfg, small, "small.yaml", NULL, 0, &err);
  CHILD_CHECK(s == MS_OK, "load: %s", err.msg);
  return cfg;
}

static void check_no_output(ms_status s, const ms_error *err, const char *fn) {
  CHILD_CHECK(s == MS_ERR_INPUT, "%s: status %d: %s", fn, (int)s, err->msg);
  CHILD_CHECK(strstr(err->msg, "no result file") != NULL, "%s: message: %s", fn, err->msg);
}

static void run_without_output(void) {
  ms_config *cfg = load_small();
  ms_run_opts o = {.threads = 1, .output = NULL};
  ms_run_report *rep = calloc(1, sizeof *rep);
  ms_error err = {0};
  check_no_output(ms_run(cfg, &o, rep, &err), &err, "ms_run");
  free(rep);
  ms_config_free(cfg);
}

static void run_compare_without_output(void) {
  ms_config *a = load_small(), *b = load_small();
  const ms_config *cfgs[2] = {a, b};
  const char *values[2] = {"static", "static"};
  ms_run_opts o = {.threads = 1, .output = NULL};
  ms_compare_report *rep = calloc(1, sizeof *rep);
  ms_error err = {0};
  check_no_output(ms_run_compare(cfgs, values, 2, "margin.model", &o, rep, &err), &err, "ms_run_compare");
  free(rep);
  ms_config_free(a);
  ms_config_free(b);
}

static void run_sweep_without_output(void) {
  char path[] = "/tmp/ms_test_library.XXXXXX";
  int fd = mkstemp(path);
  CHILD_CHECK(fd >= 0, "mkstemp");
  CHILD_CHECK(write(fd, small, strlen(small)) == (ssize_t)strlen(small), "write");
  close(fd);
  ms_sweep *sw = NULL;
  ms_error err = {0};
  ms_status s = ms_sweep_new(&sw, path, NULL, 0, NULL, 0, NULL, NULL, &err);
  unlink(path);
  CHILD_CHECK(s == MS_OK, "sweep: %s", err.msg);
  ms_run_opts o = {.threads = 1, .output = NULL};
  ms_sweep_report rep;
  memset(&rep, 0, sizeof rep);
  check_no_output(ms_run_sweep(sw, &o, &rep, &err), &err, "ms_run_sweep");
  ms_sweep_report_free(&rep);
  ms_sweep_free(sw);
}

/* The loaders' NULL arguments: bad input naming the argument, *out cleared,
 * never a crash (in a child, so that a crash fails the test). */
static void load_with_null_arguments(void) {
  ms_config *cfg = (ms_config *)&cfg; /* not NULL: the loaders must clear it */
  ms_error err = {0};
  CHILD_CHECK(ms_config_load_string(NULL, "paths: 4\n", "s", NULL, 0, &err) == MS_ERR_INPUT, "out NULL");
  CHILD_CHECK(strstr(err.msg, "out is NULL"), "message: %s", err.msg);
  CHILD_CHECK(ms_config_load_string(&cfg, NULL, "s", NULL, 0, &err) == MS_ERR_INPUT && !cfg, "text NULL");
  CHILD_CHECK(strstr(err.msg, "text is NULL"), "message: %s", err.msg);
  cfg = (ms_config *)&cfg;
  CHILD_CHECK(ms_config_load(&cfg, NULL, NULL, 0, &err) == MS_ERR_INPUT && !cfg, "path NULL");
  CHILD_CHECK(strstr(err.msg, "path is NULL"), "message: %s", err.msg);
  CHILD_CHECK(ms_config_load_string(&cfg, "paths: 4\n", "s", NULL, 2, &err) == MS_ERR_INPUT, "sets NULL");
  CHILD_CHECK(strstr(err.msg, "sets is NULL"), "message: %s", err.msg);
  const char *sets[] = {"paths=5", NULL};
  CHILD_CHECK(ms_config_load_string(&cfg, "paths: 4\n", "s", sets, 2, &err) == MS_ERR_INPUT, "sets[1] NULL");
  CHILD_CHECK(strstr(err.msg, "sets[1]"), "message: %s", err.msg);
  /* src NULL names the text "<string>" */
  CHILD_CHECK(ms_config_load_string(&cfg, "paths: -4\n", NULL, NULL, 0, &err) == MS_ERR_INPUT, "src NULL");
  CHILD_CHECK(strstr(err.msg, "<string>"), "message: %s", err.msg);
  CHILD_CHECK(ms_config_name(NULL) == NULL && ms_config_paths(NULL) == 0 && ms_config_seed(NULL) == 0 &&
                  ms_config_to_yaml(NULL) == NULL,
              "NULL handle");
}

static void null_arguments_are_bad_input(void **state) {
  (void)state;
  in_child(load_with_null_arguments, "ms_config_load* with NULL arguments");
}

static void no_output_file_is_bad_input(void **state) {
  (void)state;
  in_child(run_without_output, "ms_run with output NULL");
  in_child(run_compare_without_output, "ms_run_compare with output NULL");
  in_child(run_sweep_without_output, "ms_run_sweep with output NULL");
}

/* ---- ms_simulate ---------------------------------------------------------- */

/* Liquidations on most paths (20x leverage, 120% vol, jumps), with impact and
 * its no-feedback twin (the defaults), records kept. */
static const char *busy =
    "name: busy\nseed: 7\npaths: 1000\nhorizon: 1h\nstep: 1s\n"
    "market:\n  initial_price: 2000\n  regimes:\n"
    "    - {name: calm, vol: 1.2, jumps: {rate: 12/d, mean: -0.05, sd: 0.03}}\n"
    "book: {accounts: 200, leverage: {dist: uniform, min: 5, max: 20}}\n"
    "output: {liquidations: true, chunk_paths: 16}\n";

static ms_config *load_busy(int paths) {
  char set[64];
  snprintf(set, sizeof set, "paths=%d", paths);
  const char *sets[] = {set};
  ms_config *cfg = NULL;
  ms_error err = {0};
  assert_ok(ms_config_load_string(&cfg, busy, "busy.yaml", sets, 1, &err), &err);
  return cfg;
}

static void loads_a_string_with_overrides(void **state) {
  (void)state;
  const char *sets[] = {"paths=7", "seed=11", "book.accounts=30"};
  ms_config *cfg = NULL;
  ms_error err = {0};
  assert_ok(ms_config_load_string(&cfg, busy, "busy.yaml", sets, 3, &err), &err);
  assert_int_equal(ms_config_paths(cfg), 7);
  assert_int_equal(ms_config_seed(cfg), 11);
  assert_string_equal(ms_config_name(cfg), "busy");
  char *yaml = ms_config_to_yaml(cfg);
  assert_non_null(yaml);
  assert_contains(yaml, "accounts: 30");
  free(yaml);
  ms_config_free(cfg);

  const char *bad[] = {"margin.model=bogus"};
  cfg = (ms_config *)&err; /* not NULL: the call must clear it */
  assert_int_equal(ms_config_load_string(&cfg, busy, "busy.yaml", bad, 1, &err), MS_ERR_INPUT);
  assert_null(cfg);
  assert_contains(err.msg, "margin.model");
  assert_contains(err.msg, "bogus");
}

/* A fresh empty folder for a run's file. */
static void temp_dir(char *dir, size_t len) {
  snprintf(dir, len, "/tmp/ms_test_library.XXXXXX");
  assert_non_null(mkdtemp(dir));
}

/* The number of entries of @p dir besides . and .. */
static int dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* Read member @p name of every row of compound dataset @p ds, as doubles
 * (HDF5 converts the integers, exactly below 2^53). */
static double *read_member(hid_t ds, const char *name, hsize_t n) {
  double *x = malloc((n ? n : 1) * sizeof *x);
  assert_non_null(x);
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(double));
  H5Tinsert(t, name, 0, H5T_NATIVE_DOUBLE);
  if (n) assert_true(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
  H5Tclose(t);
  return x;
}

/* Compare every member of the file's compound dataset @p path with the
 * result's column or liquidation field of that name, bit for bit. Returns
 * the number of rows. */
static hsize_t compare_table(hid_t f, const char *path, const ms_result *r, int liq) {
  hid_t ds = H5Dopen2(f, path, H5P_DEFAULT);
  if (ds < 0) fail_msg("%s: no such dataset", path);
  hid_t sp = H5Dget_space(ds);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(sp, &n, NULL);
  H5Sclose(sp);
  assert_int_equal(n, liq ? (hsize_t)ms_result_nliquidations(r) : (hsize_t)ms_result_paths(r));
  hid_t ft = H5Dget_type(ds);
  int nm = H5Tget_nmembers(ft);
  assert_int_equal(nm, liq ? ms_result_nliquidation_fields(r) : ms_result_ncolumns(r));
  double *mine = malloc((n ? n : 1) * sizeof *mine);
  assert_non_null(mine);
  for (int m = 0; m < nm; m++) {
    char *name = H5Tget_member_name(ft, (unsigned)m);
    double *file = read_member(ds, name, n);
    ms_error err = {0};
    ms_status s = liq ? ms_result_liquidation_field(r, name, mine, &err) : ms_result_column(r, name, mine, &err);
    if (s) fail_msg("%s: %s", name, err.msg);
    for (hsize_t i = 0; i < n; i++)
      if (memcmp(&file[i], &mine[i], sizeof(double)))
        fail_msg("%s row %llu, %s: file %.17g, in memory %.17g", path, (unsigned long long)i, name, file[i],
                 mine[i]);
    free(file);
    H5free_memory(name);
  }
  free(mine);
  H5Tclose(ft);
  H5Dclose(ds);
  return n;
}

/* The rows, records and statistics of two results are the same, bit for bit. */
static void assert_same_result(const ms_result *a, const ms_result *b) {
  assert_int_equal(a->paths, b->paths);
  assert_int_equal(a->nliqs, b->nliqs);
  for (int64_t p = 0; p < a->paths; p++)
    if (memcmp(&a->rows[p], &b->rows[p], sizeof a->rows[p])) fail_msg("path %lld: the rows differ", (long long)p);
  if (a->nliqs && memcmp(a->liqs, b->liqs, (size_t)a->nliqs * sizeof *a->liqs))
    fail_msg("the liquidation records differ");
  assert_int_equal(a->stats.nrows, b->stats.nrows);
  for (int i = 0; i < a->stats.nrows; i++)
    if (memcmp(&a->stats.rows[i].mean, &b->stats.rows[i].mean, sizeof(double)))
      fail_msg("%s.mean differs", a->stats.rows[i].name);
}

static void rows_without_a_file_equal_the_files(void **state) {
  (void)state;
  ms_config *cfg = load_busy(40);
  char dir[64], out[128];
  temp_dir(dir, sizeof dir);
  snprintf(out, sizeof out, "%s/run.h5", dir);
  ms_error err = {0};
  ms_result *with = NULL, *without = NULL;
  ms_run_opts o = {.threads = 2, .output = out, .command = "test_library"};
  assert_ok(ms_simulate(cfg, &o, &with, &err), &err);
  o.output = NULL;
  o.threads = 1;
  assert_ok(ms_simulate(cfg, &o, &without, &err), &err);
  assert_non_null(with);
  assert_non_null(without);
  assert_int_equal(ms_result_paths(without), 40);
  assert_int_equal(ms_result_threads(without), 1);

  hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
  assert_true(f >= 0);
  compare_table(f, "/paths/summary", without, 0);
  hsize_t nliq = compare_table(f, "/liquidations", without, 1);
  H5Fclose(f);
  assert_true(nliq > 40); /* the comparison saw records */
  assert_same_result(with, without);

  /* statistics in memory: bad_debt.mean as /stats has it (its column's mean) */
  double v, lo, hi, *bd = malloc(40 * sizeof *bd);
  assert_ok(ms_result_stat(without, "bad_debt.mean", &v, &lo, &hi, &err), &err);
  assert_ok(ms_result_column(without, "bad_debt", bd, &err), &err);
  double sum = 0;
  for (int i = 0; i < 40; i++) sum += bd[i];
  assert_true(fabs(v - sum / 40) <= 1e-9 * fabs(v) + 1e-9);
  assert_true(lo <= v && v <= hi);
  free(bd);
  assert_int_equal(ms_result_stat(without, "bogus.mean", &v, NULL, NULL, &err), MS_ERR_INPUT);

  /* records are kept only when the scenario asks for them */
  ms_result *none = NULL;
  const char *off[] = {"paths=8", "output.liquidations=false"};
  ms_config *c2 = NULL;
  assert_ok(ms_config_load_string(&c2, busy, "busy.yaml", off, 2, &err), &err);
  assert_ok(ms_simulate(c2, &o, &none, &err), &err);
  assert_int_equal(ms_result_nliquidations(none), 0);
  ms_result_free(none);
  ms_config_free(c2);

  ms_result_free(with);
  ms_result_free(without);
  ms_config_free(cfg);
  unlink(out);
  rmdir(dir);
}

/* The progress callback cancels once @p after paths are done. */
typedef struct {
  volatile sig_atomic_t cancel;
  int64_t after, calls, last, total;
} canceller;

static void cancel_after(void *ctx, int64_t done, int64_t total) {
  canceller *c = ctx;
  c->calls++;
  c->last = done;
  c->total = total;
  if (done >= c->after) c->cancel = 1;
}

static void cancel_mid_run(void **state) {
  (void)state;
  ms_config *cfg = load_busy(200);
  char dir[64], out[128];
  temp_dir(dir, sizeof dir);
  snprintf(out, sizeof out, "%s/run.h5", dir);
  for (int file = 1; file >= 0; file--) {
    canceller c = {.after = 5};
    ms_result *r = (ms_result *)&c; /* not NULL: the call must clear it */
    ms_error err = {0};
    ms_run_opts o = {.threads = 2, .output = file ? out : NULL, .progress = cancel_after, .progress_ctx = &c,
                     .cancel = &c.cancel};
    ms_status s = ms_simulate(cfg, &o, &r, &err);
    assert_int_equal(s, MS_ERR_CANCELLED);
    assert_null(r);
    assert_contains(err.msg, "interrupted");
    assert_true(c.last >= 5 && c.last < c.total); /* stopped in the middle */
    assert_int_equal(dir_entries(dir), 0);         /* no file, no temporary */
  }
  ms_config_free(cfg);
  rmdir(dir);
}

/* ms_simulate cannot resume (its result in memory needs every path's row):
 * it never keeps a journal, keep_partial or not, so that the next run of
 * the same file is not refused over an unfinished run nothing can finish. */
static void simulate_keeps_no_journal(void **state) {
  (void)state;
  const char *sets[] = {"paths=60", "output.chunk_paths=4"};
  ms_config *cfg = NULL;
  ms_error err = {0};
  assert_ok(ms_config_load_string(&cfg, busy, "busy.yaml", sets, 2, &err), &err);
  char dir[64], out[128];
  temp_dir(dir, sizeof dir);
  snprintf(out, sizeof out, "%s/run.h5", dir);
  canceller c = {.after = 20}; /* after some frames */
  ms_result *r = NULL;
  ms_run_opts o = {.threads = 2, .output = out, .progress = cancel_after, .progress_ctx = &c, .cancel = &c.cancel,
                   .keep_partial = 1};
  assert_int_equal(ms_simulate(cfg, &o, &r, &err), MS_ERR_CANCELLED);
  assert_true(c.last > 8 && c.last < c.total);
  assert_int_equal(dir_entries(dir), 0);
  ms_run_opts again = {.threads = 2, .output = out};
  assert_ok(ms_simulate(cfg, &again, &r, &err), &err);
  ms_result_free(r);
  unlink(out);
  rmdir(dir);
  ms_config_free(cfg);
}

/* The runs of the threads' test: paths long enough (8 h) for the path loops
 * of two runs started together to overlap (most of a short run is its
 * statistics' bootstrap, after the loop). */
#define PAR_PATHS 60
#define PAR_HORIZON "horizon=8h"

/* One ms_simulate of a thread. */
typedef struct {
  const ms_config *cfg;
  const char *out;
  int threads;
  pthread_barrier_t *start;
  ms_result *r;
  ms_status s;
  ms_error err;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  ms_run_opts o = {.threads = j->threads, .output = j->out};
  if (j->start) pthread_barrier_wait(j->start); /* both runs start together */
  j->s = ms_simulate(j->cfg, &o, &j->r, &j->err);
  return NULL;
}

static int app_h5_calls;
static herr_t app_h5_handler(hid_t stack, void *data) {
  (void)stack, (void)data;
  app_h5_calls++;
  return 0;
}

static void cancel_now(void *ctx, int64_t done, int64_t total) {
  (void)done, (void)total;
  *(volatile sig_atomic_t *)ctx = 1;
}

/* A run with a file installs its own HDF5 error handler (the library never
 * prints) and puts the application's back afterwards, whether the file was
 * committed or abandoned (a cancelled run): the application's HDF5 errors
 * still reach it. */
static void keeps_the_applications_hdf5_handler(void **state) {
  (void)state;
  H5E_auto2_t fn0 = NULL;
  void *data0 = NULL;
  H5Eget_auto2(H5E_DEFAULT, &fn0, &data0);
  int marker = 0;
  H5Eset_auto2(H5E_DEFAULT, app_h5_handler, &marker);
  ms_config *cfg = load_small();
  char dir[64], file[128];
  temp_dir(dir, sizeof dir);
  snprintf(file, sizeof file, "%s/ok.h5", dir);
  for (int k = 0; k < 2; k++) { /* a run that writes its file, and one cancelled after creating it */
    volatile sig_atomic_t cancel = 0;
    ms_run_opts o = {.threads = 1, .output = file, .progress = k ? cancel_now : NULL, .progress_ctx = (void *)&cancel,
                     .cancel = &cancel};
    ms_result *r = NULL;
    ms_error err = {0};
    ms_status s = ms_simulate(cfg, &o, &r, &err);
    if (k == 0) assert_ok(s, &err);
    else assert_int_equal(s, MS_ERR_CANCELLED);
    ms_result_free(r);
    H5E_auto2_t fn = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    if (fn != app_h5_handler || data != &marker) fail_msg("run %d: the application's HDF5 handler was replaced", k);
  }
  /* and it still sees the application's own errors */
  int before = app_h5_calls;
  assert_true(H5Fopen("/proc/no/such/file.h5", H5F_ACC_RDONLY, H5P_DEFAULT) < 0);
  assert_true(app_h5_calls > before);
  H5Eset_auto2(H5E_DEFAULT, fn0, data0);
  unlink(file);
  rmdir(dir);
  ms_config_free(cfg);
}

static void two_threads_equal_one_after_the_other(void **state) {
  (void)state;
  char paths[32];
  snprintf(paths, sizeof paths, "paths=%d", PAR_PATHS);
  const char *same[] = {paths, PAR_HORIZON}, *other[] = {paths, PAR_HORIZON, "seed=99", "margin.maintenance=0.03"};
  ms_config *a = NULL, *b = NULL, *c = NULL;
  ms_error err = {0};
  assert_ok(ms_config_load_string(&a, busy, "busy.yaml", same, 2, &err), &err);
  assert_ok(ms_config_load_string(&b, busy, "busy.yaml", same, 2, &err), &err);
  assert_ok(ms_config_load_string(&c, busy, "busy.yaml", other, 4, &err), &err);
  char dir[64], fa[128], fb[128];
  temp_dir(dir, sizeof dir);
  snprintf(fa, sizeof fa, "%s/a.h5", dir);
  snprintf(fb, sizeof fb, "%s/b.h5", dir);
  /* one after the other: the run of a, the run of c */
  job seq[2] = {{.cfg = a, .threads = 2}, {.cfg = c, .threads = 2}};
  for (int k = 0; k < 2; k++) {
    run_job(&seq[k]);
    assert_ok(seq[k].s, &seq[k].err);
  }
  /* at once: the same handle in two threads, without files; then two handles
   * in two threads, each writing a file */
  const struct { const ms_config *x, *y; const char *fx, *fy; int ry; } rounds[] = {
      {a, a, NULL, NULL, 0}, {b, c, fa, fb, 1}};
  for (size_t k = 0; k < sizeof rounds / sizeof *rounds; k++) {
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    job j[2] = {{.cfg = rounds[k].x, .out = rounds[k].fx, .threads = 1, .start = &start},
                {.cfg = rounds[k].y, .out = rounds[k].fy, .threads = (int)k + 1, .start = &start}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, run_job, &j[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < 2; i++) assert_ok(j[i].s, &j[i].err);
    assert_same_result(seq[0].r, j[0].r);
    assert_same_result(seq[rounds[k].ry].r, j[1].r);
    if (rounds[k].fx) { /* both files were written whole, with the same rows */
      hid_t f = H5Fopen(fa, H5F_ACC_RDONLY, H5P_DEFAULT), g = H5Fopen(fb, H5F_ACC_RDONLY, H5P_DEFAULT);
      assert_true(f >= 0 && g >= 0);
      compare_table(f, "/paths/summary", seq[0].r, 0);
      compare_table(f, "/liquidations", seq[0].r, 1);
      compare_table(g, "/paths/summary", seq[1].r, 0);
      compare_table(g, "/liquidations", seq[1].r, 1);
      H5Fclose(f);
      H5Fclose(g);
    }
    for (int i = 0; i < 2; i++) ms_result_free(j[i].r);
  }
  for (int k = 0; k < 2; k++) ms_result_free(seq[k].r);
  unlink(fa);
  unlink(fb);
  rmdir(dir);
  ms_config_free(a);
  ms_config_free(b);
  ms_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reducible_chain_returns_a_status),
      cmocka_unit_test(keeps_the_applications_handler),
      cmocka_unit_test(no_output_file_is_bad_input),
      cmocka_unit_test(null_arguments_are_bad_input),
      cmocka_unit_test(loads_a_string_with_overrides),
      cmocka_unit_test(rows_without_a_file_equal_the_files),
      cmocka_unit_test(cancel_mid_run),
      cmocka_unit_test(simulate_keeps_no_journal),
      cmocka_unit_test(two_threads_equal_one_after_the_other),
      cmocka_unit_test(keeps_the_applications_hdf5_handler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
