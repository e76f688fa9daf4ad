/*
 * test_outfile — sim/output/outfile.c: what may be replaced, the temporary, commit
 * and abort, default names. The CLI's side is tests/e2e/test_robust_files.py.
 */
#define _DEFAULT_SOURCE /* mkdtemp, symlink */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "output/outfile.h"

static char dir[256];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/ms_outfile_XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[512];
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (unlink(p) != 0) rmdir(p);
  }
  if (d) closedir(d);
  return rmdir(dir);
}

static int entries(void) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static const char *at(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

static void test_outfile__refuses_all_but_a_regular_file(void **state) {
  (void)state;
  ms_error err;
  ms_error_clear(&err);
  assert_int_equal(mkfifo(at("fifo"), 0600), 0);
  assert_int_equal(mkdir(at("folder"), 0700), 0);
  assert_int_equal(symlink("fifo", at("to-fifo")), 0);
  assert_int_equal(symlink("none", at("dangling")), 0);
  assert_int_equal(ms_outfile_check("-o", at("fifo"), NULL, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "fifo: is a FIFO (named pipe)");
  assert_int_equal(ms_outfile_check("-o", at("folder"), NULL, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "is a folder");
  assert_int_equal(ms_outfile_check("-o", "/dev/null", NULL, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "-o /dev/null: is a character device");
  assert_int_equal(ms_outfile_check("-o", at("to-fifo"), NULL, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "a symbolic link to fifo, which is a FIFO");
  assert_int_equal(ms_outfile_check("-o", at("dangling"), NULL, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "a symbolic link to none, which cannot be reached");
  assert_int_equal(ms_outfile_check("-o", "", NULL, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "the file name is empty");
  char *target = NULL;
  assert_ok(ms_outfile_check("-o", at("new.h5"), NULL, &target, &err), &err);
  assert_string_equal(target, at("new.h5"));
  free(target);
}

static void test_outfile__commit_replaces_the_link_target_abort_leaves_nothing(void **state) {
  (void)state;
  ms_error err;
  ms_error_clear(&err);
  int fd = open(at("real"), O_WRONLY | O_CREAT, 0644);
  assert_int_equal(write(fd, "old", 3), 3);
  close(fd);
  assert_int_equal(symlink("real", at("link")), 0);
  int before = entries();
  ms_outfile o;
  assert_ok(ms_outfile_open(&o, at("link"), NULL, &err), &err);
  assert_non_null(strstr(o.tmp, "/.real.ms-tmp-")); /* beside the link's target, named after it */
  assert_int_equal(strlen(strstr(o.tmp, ".ms-tmp-")) - strlen(".ms-tmp-"), 8);
  assert_int_equal(entries(), before + 1);
  assert_int_equal(write(o.fd, "new", 3), 3);
  assert_ok(ms_outfile_commit(&o, &err), &err);
  assert_int_equal(entries(), before);
  struct stat st;
  assert_int_equal(lstat(at("link"), &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  char buf[8] = {0};
  fd = open(at("real"), O_RDONLY);
  assert_int_equal(read(fd, buf, sizeof buf), 3);
  close(fd);
  assert_string_equal(buf, "new");
  /* abort: the temporary goes, the file stays */
  assert_ok(ms_outfile_open(&o, at("real"), NULL, &err), &err);
  assert_int_equal(write(o.fd, "xyz", 3), 3);
  ms_outfile_abort(&o);
  ms_outfile_abort(&o); /* released: a no-op */
  assert_int_equal(entries(), before);
  fd = open(at("real"), O_RDONLY);
  assert_int_equal(read(fd, buf, sizeof buf), 3);
  close(fd);
  assert_string_equal(buf, "new");
  /* two temporaries of one target never share a name */
  ms_outfile a, b;
  assert_ok(ms_outfile_open(&a, at("real"), NULL, &err), &err);
  assert_ok(ms_outfile_open(&b, at("real"), NULL, &err), &err);
  assert_string_not_equal(a.tmp, b.tmp);
  ms_outfile_remove_all_signal_safe(); /* what a fatal signal's handler does */
  assert_int_equal(entries(), before);
  ms_outfile_abort(&a);
  ms_outfile_abort(&b);
}

static int is_ours(const char *path) { return ms_outfile_starts_with(path, "OURS\x01"); }

/* Input-validation audit 2026-12-07: -o naming the scenario's candle file (or
 * the scenario, from the Python front) replaced it with the result, exit 0.
 * With a kind, an existing file is replaced only when it is of that kind. */
static void test_outfile__replaces_only_a_file_of_its_kind(void **state) {
  (void)state;
  const ms_outfile_kind kind = {"a test file", is_ours};
  ms_error err;
  ms_error_clear(&err);
  int fd = open(at("theirs.csv"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_int_equal(write(fd, "time,open\n", 10), 10);
  close(fd);
  assert_int_equal(ms_outfile_check("-o", at("theirs.csv"), &kind, NULL, &err), MS_ERR_INPUT);
  assert_non_null(strstr(err.msg, "exists and is not a test file"));
  ms_outfile o;
  assert_int_equal(ms_outfile_open(&o, at("theirs.csv"), &kind, &err), MS_ERR_INPUT);
  fd = open(at("short"), O_WRONLY | O_CREAT | O_TRUNC, 0644); /* shorter than the signature */
  assert_int_equal(write(fd, "OUR", 3), 3);
  close(fd);
  assert_int_equal(ms_outfile_check("-o", at("short"), &kind, NULL, &err), MS_ERR_INPUT);
  fd = open(at("ours"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_int_equal(write(fd, "OURS\x01 and more", 15), 15);
  close(fd);
  assert_ok(ms_outfile_check("-o", at("ours"), &kind, NULL, &err), &err);
  assert_ok(ms_outfile_check("-o", at("absent"), &kind, NULL, &err), &err); /* nothing there: created */
  assert_ok(ms_outfile_check("-o", at("theirs.csv"), NULL, NULL, &err), &err); /* no kind: any regular file */
  char to[512];
  snprintf(to, sizeof to, "%s", at("theirs.csv")); /* at() has one buffer */
  assert_int_equal(symlink(to, at("link-theirs")), 0); /* through a link: its target's kind */
  assert_int_equal(ms_outfile_check("-o", at("link-theirs"), &kind, NULL, &err), MS_ERR_INPUT);
  snprintf(to, sizeof to, "%s", at("ours"));
  assert_int_equal(symlink(to, at("link-ours")), 0);
  assert_ok(ms_outfile_check("-o", at("link-ours"), &kind, NULL, &err), &err);
}

static void test_outfile__safe_names(void **state) {
  (void)state;
  char out[64];
  ms_outfile_safe_name(out, sizeof out, "../../escaped");
  assert_string_equal(out, "_._.._escaped");
  ms_outfile_safe_name(out, sizeof out, "BTC/USD crash\n");
  assert_string_equal(out, "BTC_USD_crash_");
  ms_outfile_safe_name(out, sizeof out, "");
  assert_string_equal(out, "scenario");
  ms_outfile_safe_name(out, sizeof out, ".hidden");
  assert_string_equal(out, "_hidden");
  ms_outfile_safe_name(out, sizeof out, "crash-2024+v1.5");
  assert_string_equal(out, "crash-2024+v1.5");
  ms_outfile_safe_name(out, sizeof out, "r\xc3\xa9sum\xc3\xa9"); /* UTF-8 kept */
  assert_string_equal(out, "r\xc3\xa9sum\xc3\xa9");
  ms_outfile_safe_name(out, 4, "a\xc3\xa9z"); /* a cut inside a character drops it */
  assert_string_equal(out, "a\xc3\xa9");
  ms_outfile_safe_name(out, 3, "a\xc3\xa9z");
  assert_string_equal(out, "a");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outfile__refuses_all_but_a_regular_file),
      cmocka_unit_test(test_outfile__commit_replaces_the_link_target_abort_leaves_nothing),
      cmocka_unit_test(test_outfile__replaces_only_a_file_of_its_kind),
      cmocka_unit_test(test_outfile__safe_names),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
