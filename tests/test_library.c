/*
 * test_library — the library's boundary, called as a library would be (no
 * CLI set-up first): a scenario GSL cannot solve returns a status instead of
 * aborting the process inside GSL, a handler the application installed is
 * kept, and a run with no result file returns MS_ERR_INPUT instead of
 * crashing. Each case runs in a child process so that an abort or a crash
 * is reported as a failure (and starts from a process where the library has
 * not yet been called).
 */
#include <gsl/gsl_errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/run.h"
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

static void no_output_file_is_bad_input(void **state) {
  (void)state;
  in_child(run_without_output, "ms_run with output NULL");
  in_child(run_compare_without_output, "ms_run_compare with output NULL");
  in_child(run_sweep_without_output, "ms_run_sweep with output NULL");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reducible_chain_returns_a_status),
      cmocka_unit_test(keeps_the_applications_handler),
      cmocka_unit_test(no_output_file_is_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
