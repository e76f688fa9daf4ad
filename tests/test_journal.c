/*
 * test_journal — sim/output/journal.c and scratch.c: frames written and read
 * back, torn and damaged ends cut off, the header checked, the lock, and
 * scratch areas in memory and on disk giving the same bytes, frames' tails
 * and in-place reads, dropped frames, and scratch bytes taken while appends
 * go on. The run's side
 * (a killed run resumed) is tests/e2e/test_resume.py.
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <sys/file.h>
#include <time.h>
#include "testutil.h"

#include "output/journal.h"
#include "output/scratch.h"

static char dir[256], path[320];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/ms_journal_XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(path, sizeof path, "%s/r.h5.partial", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(path);
  rmdir(dir);
  return 0;
}

static const ms_journal_info INFO = {.version = "9.9.9", .command = "marginsim run 'a b.yaml' -o r.h5",
                                     .cwd = "/some/where", .fingerprint = 0x1234abcdull, .paths = 40,
                                     .batch = 16, .created = 1700000000};

/* Byte k of frame f: a pattern that differs from frame to frame. */
static unsigned char byte_of(int f, size_t k) { return (unsigned char)(k * 7u + (unsigned)f * 31u + 1u); }

/* Frames of 16, 16 and 8 paths; frame f has 1000 + 5000 f bytes, put in pieces of odd sizes. */
static void write_three(void) {
  ms_error err;
  ms_journal *j = NULL;
  assert_ok(ms_journal_create(&j, path, &INFO, &err), &err);
  for (int f = 0; f < 3; f++) {
    size_t len = 1000 + 5000 * (size_t)f;
    unsigned char *b = malloc(len);
    for (size_t k = 0; k < len; k++) b[k] = byte_of(f, k);
    assert_ok(ms_journal_begin(j, 16 * f, f < 2 ? 16 : 8, &err), &err);
    for (size_t at = 0, piece = 1; at < len; at += piece, piece = piece * 3 % 1021 + 1) {
      size_t n = at + piece > len ? len - at : piece;
      assert_ok(ms_journal_put(j, b + at, n, &err), &err);
    }
    assert_ok(ms_journal_end(j, &err), &err);
    free(b);
  }
  assert_int_equal(ms_journal_done(j), 40);
  ms_journal_close(j);
}

static off_t file_size(void) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_size;
}

static void test_journal__frames_come_back_whole(void **state) {
  (void)state;
  ms_error err;
  write_three();
  ms_journal_info info;
  assert_ok(ms_journal_peek(path, &info, &err), &err);
  assert_string_equal(info.version, "9.9.9");
  assert_string_equal(info.command, INFO.command);
  assert_string_equal(info.cwd, "/some/where");
  assert_true(info.fingerprint == INFO.fingerprint && info.paths == 40 && info.batch == 16 &&
              info.created == 1700000000 && info.done == 40);
  ms_journal_info_free(&info);
  assert_true(ms_journal_is(path));
  ms_journal *j = NULL;
  assert_ok(ms_journal_open(&j, path, &info, NULL, &err), &err);
  assert_ok(ms_journal_rewind(j, &err), &err);
  for (int f = 0; f < 3; f++) {
    int64_t first, n;
    assert_ok(ms_journal_next(j, &first, &n, &err), &err);
    assert_true(first == 16 * f && n == (f < 2 ? 16 : 8));
    if (f == 1) continue; /* skipped unread: its checksum is still checked by the next call */
    size_t len = 1000 + 5000 * (size_t)f;
    unsigned char *b = malloc(len);
    assert_ok(ms_journal_get(j, b, len, &err), &err);
    for (size_t k = 0; k < len; k++) assert_int_equal(b[k], byte_of(f, k));
    assert_int_equal(ms_journal_get(j, b, 1, &err), MS_ERR_IO); /* past the frame */
    free(b);
  }
  int64_t first, n;
  assert_ok(ms_journal_next(j, &first, &n, &err), &err);
  assert_int_equal(n, 0);
  ms_journal_info_free(&info);
  ms_journal_close(j);
}

static void test_journal__a_torn_or_damaged_end_is_cut_off(void **state) {
  (void)state;
  ms_error err;
  ms_journal_info info;
  write_three();
  off_t whole = file_size();
  /* torn in the middle of the last frame: two frames are left, the rest is cut off when continued */
  assert_int_equal(truncate(path, whole - 100), 0);
  ms_journal *j = NULL;
  assert_ok(ms_journal_open(&j, path, &info, NULL, &err), &err);
  assert_int_equal(info.done, 32);
  assert_int_equal(ms_journal_done(j), 32);
  ms_journal_info_free(&info);
  /* continued: the third frame again, and the journal is whole */
  unsigned char *b = malloc(11000);
  for (size_t k = 0; k < 11000; k++) b[k] = byte_of(2, k);
  assert_ok(ms_journal_begin(j, 32, 8, &err), &err);
  assert_ok(ms_journal_put(j, b, 11000, &err), &err);
  assert_ok(ms_journal_end(j, &err), &err);
  ms_journal_close(j);
  assert_int_equal(file_size(), whole);
  /* one byte changed in the second frame's bytes: it and everything after it are dropped */
  int fd = open(path, O_RDWR);
  unsigned char c;
  off_t at = whole - 11000 - 48 - 3000;
  assert_int_equal(pread(fd, &c, 1, at), 1);
  c ^= 0x10;
  assert_int_equal(pwrite(fd, &c, 1, at), 1);
  close(fd);
  assert_ok(ms_journal_peek(path, &info, &err), &err);
  assert_int_equal(info.done, 16);
  ms_journal_info_free(&info);
  /* the header damaged: not a journal to continue */
  fd = open(path, O_RDWR);
  assert_int_equal(pwrite(fd, "X", 1, 70), 1);
  close(fd);
  assert_int_equal(ms_journal_peek(path, &info, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "header is damaged");
  free(b);
}

static void test_journal__another_format_is_named(void **state) {
  (void)state;
  ms_error err;
  ms_journal_info info;
  write_three();
  /* an earlier build's journal (format 01): still a journal, named as such rather than as damaged */
  int fd = open(path, O_RDWR);
  assert_int_equal(pwrite(fd, "01", 2, 6), 2);
  close(fd);
  assert_true(ms_journal_is(path));
  assert_int_equal(ms_journal_peek(path, &info, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "journal format 01");
  assert_contains(err.msg, "reads format 02");
  ms_journal *j = NULL;
  assert_int_equal(ms_journal_open(&j, path, &info, NULL, &err), MS_ERR_INPUT);
  assert_null(j);
  assert_contains(err.msg, "journal format 01");
}

/* Another process asking whether the journal is busy holds a shared lock for an instant: a run beginning or
 * continuing it then was refused as "locked by another running marginsim" (and left its new journal empty). */
static void *release_later(void *arg) {
  struct timespec ts = {0, 20000000};
  nanosleep(&ts, NULL);
  close(*(int *)arg);
  return NULL;
}

static void test_journal__a_probes_instant_lock_is_waited_out(void **state) {
  (void)state;
  ms_error err;
  ms_journal_info info;
  write_three();
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_SH | LOCK_NB), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, release_later, &fd), 0);
  ms_journal *j = NULL;
  assert_ok(ms_journal_open(&j, path, &info, NULL, &err), &err);
  pthread_join(t, NULL);
  ms_journal_info_free(&info);
  ms_journal_remove(j);
  /* a lock held for good is still refused, in a tenth of a second */
  write_three();
  fd = open(path, O_RDONLY);
  assert_int_equal(flock(fd, LOCK_SH | LOCK_NB), 0);
  assert_int_equal(ms_journal_open(&j, path, &info, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "locked by another running marginsim");
  close(fd);
}

static void test_journal__never_overwritten_and_locked_while_running(void **state) {
  (void)state;
  ms_error err;
  ms_journal_info info;
  write_three();
  ms_journal *j = NULL;
  assert_int_equal(ms_journal_create(&j, path, &INFO, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "already exists");
  /* a signal while its frames are checked: cancelled, nothing cut off, the lock released */
  volatile sig_atomic_t flag = 1;
  off_t size = file_size();
  assert_int_equal(ms_journal_open(&j, path, &info, &flag, &err), MS_ERR_CANCELLED);
  assert_null(j);
  assert_int_equal(file_size(), size);
  assert_false(ms_journal_busy(path));
  assert_ok(ms_journal_open(&j, path, &info, NULL, &err), &err);
  ms_journal_info_free(&info);
  assert_true(ms_journal_busy(path)); /* what a second run is told: another marginsim is writing it */
  ms_journal *k = NULL;
  assert_int_equal(ms_journal_open(&k, path, &info, NULL, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "locked by another running marginsim");
  ms_journal_close(j);
  assert_false(ms_journal_busy(path));
  assert_ok(ms_journal_open(&k, path, &info, NULL, &err), &err);
  ms_journal_info_free(&info);
  /* its name taken by another file since (the journal removed by hand, another run begun): that file stays */
  char moved[sizeof path + 8];
  snprintf(moved, sizeof moved, "%s.moved", path);
  assert_int_equal(rename(path, moved), 0);
  FILE *g = fopen(path, "w");
  fputs("another run's journal\n", g);
  fclose(g);
  ms_journal_remove(k);
  assert_int_equal(access(path, F_OK), 0);
  assert_int_equal(access(moved, F_OK), 0);
  assert_int_equal(unlink(moved), 0);
  assert_int_equal(unlink(path), 0);
  write_three();
  assert_ok(ms_journal_open(&k, path, &info, NULL, &err), &err);
  ms_journal_info_free(&info);
  ms_journal_remove(k);
  assert_int_equal(access(path, F_OK), -1);
  /* not a journal */
  FILE *f = fopen(path, "w");
  fputs("name: not a journal\n", f);
  fclose(f);
  assert_false(ms_journal_is(path));
  assert_int_equal(ms_journal_peek(path, &info, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "not a marginsim journal");
}

static void test_scratch__memory_and_file_agree(void **state) {
  (void)state;
  ms_error err;
  ms_scratch *m = NULL, *d = NULL;
  assert_ok(ms_scratch_new(&m, NULL, &err), &err);
  assert_ok(ms_scratch_new(&d, dir, &err), &err);
  /* nameless: nothing in the folder but what the tests made */
  assert_int_equal(access(path, F_OK), -1);
  unsigned char *big = malloc(3u << 20), *back = malloc(3u << 20);
  for (size_t k = 0; k < (3u << 20); k++) big[k] = (unsigned char)(k * 13u + 5u);
  for (int round = 0; round < 2; round++) { /* the second after a reset: the file's blocks written over */
    ms_scratch *s[2] = {m, d};
    for (int i = 0; i < 2; i++) {
      assert_ok(ms_scratch_reset(s[i], &err), &err);
      assert_ok(ms_scratch_append(s[i], big, 100, &err), &err);
      assert_ok(ms_scratch_append(s[i], big + 100, (2u << 20) + 7, &err), &err); /* bigger than the buffer */
      assert_ok(ms_scratch_append(s[i], big + (2u << 20) + 107, 5000, &err), &err);
      assert_ok(ms_scratch_pwrite(s[i], (3u << 20) + 64, big, 4096, &err), &err); /* beyond the end: a hole */
      assert_ok(ms_scratch_flush(s[i], &err), &err);
    }
    assert_true(ms_scratch_size(m) == ms_scratch_size(d) && ms_scratch_size(m) == (3u << 20) + 64 + 4096);
    size_t n = (2u << 20) + 107 + 5000;
    assert_ok(ms_scratch_pread(d, 0, back, n, &err), &err);
    assert_memory_equal(back, big, n);
    assert_ok(ms_scratch_pread(m, 0, back, n, &err), &err);
    assert_memory_equal(back, big, n);
    assert_ok(ms_scratch_pread(d, (3u << 20) + 64, back, 4096, &err), &err);
    assert_memory_equal(back, big, 4096);
    assert_int_equal(ms_scratch_pread(d, ms_scratch_size(d) - 10, back, 11, &err), MS_ERR_INTERNAL);
  }
  ms_scratch_free(m);
  ms_scratch_free(d);
  free(big);
  free(back);
}

/* A frame's tail before its frames, a frame read in place, and a frame begun and dropped (run.c streams a
 * batch's paths into a frame as they finish, and drops it when one fails). */
static ms_status tail_of(void *ctx, int64_t first, int64_t n, const void *tail, ms_error *err) {
  (void)err;
  int *seen = ctx;
  int f = (int)(first / 16);
  assert_int_equal(f, *seen);
  assert_int_equal(n, f < 2 ? 16 : 8);
  size_t len = 1000 + 5000 * (size_t)f;
  const unsigned char *t = tail;
  for (size_t k = 0; k < 24; k++) assert_int_equal(t[k], byte_of(f, len - 24 + k));
  (*seen)++;
  return MS_OK;
}

static void test_journal__tails_views_and_dropped_frames(void **state) {
  (void)state;
  ms_error err;
  write_three();
  ms_journal_info info;
  ms_journal *j = NULL;
  assert_ok(ms_journal_open(&j, path, &info, NULL, &err), &err);
  int seen = 0;
  assert_ok(ms_journal_tails(j, 24, tail_of, &seen, &err), &err);
  assert_int_equal(seen, 3);
  /* read in place, 8 bytes a unit, the frames' bytes as written */
  assert_ok(ms_journal_rewind(j, &err), &err);
  for (int f = 0; f < 3; f++) {
    int64_t first, n;
    assert_ok(ms_journal_next(j, &first, &n, &err), &err);
    assert_int_equal(first, 16 * f);
    size_t len = 1000 + 5000 * (size_t)f, at = 0;
    while (at + 8 <= len) {
      const void *p;
      size_t got;
      assert_ok(ms_journal_view(j, (len - at) / 8 * 8, 8, &p, &got, &err), &err);
      assert_true(got > 0 && got % 8 == 0);
      for (size_t k = 0; k < got; k++) assert_int_equal(((const unsigned char *)p)[k], byte_of(f, at + k));
      at += got;
    }
  }
  /* a frame begun, written and dropped leaves the journal as it was, and the next one goes where it began */
  off_t before = file_size();
  unsigned char junk[100000];
  memset(junk, 0xab, sizeof junk);
  assert_ok(ms_journal_begin(j, 40, 0, &err), &err);
  assert_ok(ms_journal_put(j, junk, sizeof junk, &err), &err);
  assert_true(file_size() > before);
  assert_ok(ms_journal_abandon(j, &err), &err);
  assert_true(file_size() == before);
  assert_int_equal(ms_journal_done(j), 40);
  /* a frame whose end fails (its last bytes cannot be written: here the file-size limit, as a full disk
   * would) is cut off as well, by the abandon the caller makes on the error */
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = (rlim_t)before + 48 + sizeof junk + 500; /* the frame's head, junk, and 500 bytes more */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  assert_ok(ms_journal_begin(j, 40, 0, &err), &err);
  ms_status put1 = ms_journal_put(j, junk, sizeof junk, &err); /* written at once: it fits */
  ms_status put2 = ms_journal_put(j, junk, 1000, &err);        /* buffered: written at the end, past the limit */
  ms_status end = ms_journal_end(j, &err);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, was);
  assert_int_equal(put1, MS_OK);
  assert_int_equal(put2, MS_OK);
  assert_int_not_equal(end, MS_OK);
  assert_true(file_size() > before);
  assert_ok(ms_journal_abandon(j, &err), &err);
  assert_true(file_size() == before);
  assert_int_equal(ms_journal_done(j), 40);
  /* closed in the middle of a frame: cut off as well */
  assert_ok(ms_journal_begin(j, 40, 0, &err), &err);
  assert_ok(ms_journal_put(j, junk, sizeof junk, &err), &err);
  ms_journal_close(j);
  assert_true(file_size() == before);
  ms_journal_info_free(&info);
  assert_ok(ms_journal_peek(path, &info, &err), &err);
  assert_int_equal(info.done, 40);
  ms_journal_info_free(&info);
}

/* Bytes a run's packer takes from a scratch area while its thread goes on appending: from the append buffer
 * or from the file, and the bytes it has taken never written out. */
typedef struct {
  unsigned char *p;
  size_t n;
} collected;

static ms_status collect(void *ctx, const void *p, size_t n, ms_error *err) {
  (void)err;
  collected *c = ctx;
  memcpy(c->p + c->n, p, n);
  c->n += n;
  return MS_OK;
}

static void test_scratch__read_where_it_is_and_consume(void **state) {
  (void)state;
  ms_error err;
  ms_scratch *d = NULL;
  assert_ok(ms_scratch_new(&d, dir, &err), &err);
  size_t kb = 1024, total = 3000 * kb;
  unsigned char *big = malloc(total), *back = malloc(total);
  for (size_t k = 0; k < total; k++) big[k] = (unsigned char)(k * 13u + 5u);
  collected c = {back, 0};
  /* 600 KB, then 600 KB more: the first goes to the file, the second stays in the 1 MB buffer */
  assert_ok(ms_scratch_append(d, big, 600 * kb, &err), &err);
  assert_ok(ms_scratch_append(d, big + 600 * kb, 600 * kb, &err), &err);
  assert_ok(ms_scratch_read(d, 100, 1200 * kb - 100, collect, &c, &err), &err);
  assert_true(c.n == 1200 * kb - 100);
  assert_memory_equal(back, big + 100, c.n);
  /* all taken: what comes next starts the buffer afresh, at the area's next offset */
  ms_scratch_consume(d, 1200 * kb);
  assert_ok(ms_scratch_append(d, big + 1200 * kb, 900 * kb, &err), &err);
  assert_true(ms_scratch_size(d) == 2100 * kb);
  c.n = 0;
  assert_ok(ms_scratch_read(d, 1200 * kb, 900 * kb, collect, &c, &err), &err);
  assert_memory_equal(back, big + 1200 * kb, 900 * kb);
  /* half of it taken, then the buffer fills: only the rest is written out, and read back from the file */
  ms_scratch_consume(d, 1650 * kb);
  assert_ok(ms_scratch_append(d, big + 2100 * kb, 900 * kb, &err), &err);
  c.n = 0;
  assert_ok(ms_scratch_read(d, 1650 * kb, 1350 * kb, collect, &c, &err), &err);
  assert_memory_equal(back, big + 1650 * kb, 1350 * kb);
  assert_ok(ms_scratch_pread(d, 1200 * kb, back, 450 * kb, &err), &err); /* consumed, never written: a hole */
  for (size_t k = 0; k < 450 * kb; k++)
    if (back[k]) fail_msg("byte %zu of a consumed piece was written to the scratch file", k);
  assert_int_equal(ms_scratch_read(d, total - 10, 11, collect, &c, &err), MS_ERR_INTERNAL);
  ms_scratch_free(d);
  free(big);
  free(back);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_journal__frames_come_back_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(test_journal__a_torn_or_damaged_end_is_cut_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_journal__another_format_is_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_journal__never_overwritten_and_locked_while_running, setup, teardown),
      cmocka_unit_test_setup_teardown(test_journal__a_probes_instant_lock_is_waited_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scratch__memory_and_file_agree, setup, teardown),
      cmocka_unit_test_setup_teardown(test_journal__tails_views_and_dropped_frames, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scratch__read_where_it_is_and_consume, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
