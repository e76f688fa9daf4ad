/*
 * outfile — replacing an output file safely (see outfile.h and
 * docs/robustness.md).
 *
 * Run as root in a container, on a path a colleague typed, the writer must
 * never replace a device node (-o /dev/null once became an HDF5 file), never
 * follow a symbolic link planted at its temporary name, and never leave a
 * temporary behind except when killed outright. Hence: the target's kind is
 * checked before any work, the temporary gets an unpredictable name and is
 * created exclusively, and the rename is the only step that touches the
 * target.
 */
#define _GNU_SOURCE /* O_CLOEXEC, O_NOFOLLOW, realpath(NULL) */
#include "output/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#define TMP_RANDOM 8         /* random letters and digits in a temporary's name */
#define TMP_TRIES 100        /* names tried before giving up (a collision needs 62^8 bad luck) */
#define TMP_BASE_MAX 200     /* bytes of the target's name kept in the temporary's (NAME_MAX is 255) */
#define CLEANUP_SLOTS 4      /* temporaries open at once: the result file and the JUnit report */

/* The library's one mutable global table (besides a mutex and a
 * once-flag, docs/library.md), for the one reader that can reach nothing
 * else: a handler of a fatal signal (an assertion's SIGABRT, a SIGHUP)
 * removes the temporaries still open before the process dies. Library runs
 * fill and empty it under the driver's HDF5 mutex (driver/run.c). A slot
 * is filled before `used` is set and emptied after the temporary is renamed
 * or removed, so a handler sees a complete path or none. */
static struct {
  volatile sig_atomic_t used;
  char path[PATH_MAX];
} cleanup[CLEANUP_SLOTS];

static int cleanup_add(const char *path) {
  size_t len = strlen(path);
  if (len >= PATH_MAX) return -1;
  for (int i = 0; i < CLEANUP_SLOTS; i++) {
    if (cleanup[i].used) continue;
    memcpy(cleanup[i].path, path, len + 1);
    cleanup[i].used = 1;
    return i;
  }
  return -1; /* more than CLEANUP_SLOTS open: removed on failure, not on a fatal signal */
}

static void cleanup_drop(int slot) {
  if (slot >= 0) cleanup[slot].used = 0;
}

void ms_outfile_remove_all_signal_safe(void) {
  for (int i = 0; i < CLEANUP_SLOTS; i++)
    if (cleanup[i].used) unlink(cleanup[i].path);
}

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

/* Whether the process has CAP_FOWNER in its effective set, which root
 * usually has and a container's root may lack (euid 0 alone is not the
 * kernel's test): with the file's owner mapped (id_mapped), it may replace
 * other users' files in a folder with the sticky bit. */
static int has_cap_fowner(void) {
  struct __user_cap_header_struct hd = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &hd, d) != 0) return geteuid() == 0; /* no answer: the old rule */
  return (d[CAP_FOWNER / 32].effective >> (CAP_FOWNER % 32)) & 1;
}

int ms_outfile_starts_with(const char *path, const char *prefix) {
  char buf[256];
  size_t n = strlen(prefix);
  if (n > sizeof buf) return 0;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  return got == n && memcmp(buf, prefix, n) == 0;
}

/* Whether @p id (as stat shows it in this user namespace) is mapped by
 * @p map (/proc/self/uid_map or gid_map: "inside outside count" lines). An
 * unmapped owner shows as the overflow id, and CAP_FOWNER does not reach
 * its files (capable_wrt_inode_uidgid). No map to read: mapped. */
static int id_mapped(unsigned long id, const char *map) {
  FILE *f = fopen(map, "re");
  if (!f) return 1;
  unsigned long in, out, count;
  int mapped = 0;
  while (!mapped && fscanf(f, "%lu %lu %lu", &in, &out, &count) == 3) mapped = id >= in && id - in < count;
  fclose(f);
  return mapped;
}

ms_status ms_outfile_check(const char *opt, const char *path, const ms_outfile_kind *kind, char **target,
                           ms_error *err) {
  if (target) *target = NULL;
  if (!path || !*path)
    return ms_error_set(err, MS_ERR_INPUT, "%s: the file name is empty; give the file to write", opt);
  struct stat st;
  const char *resolved = path;
  char *real = NULL;
  if (lstat(path, &st) != 0) {
    if (errno != ENOENT)
      return ms_error_set(err, MS_ERR_INPUT, "%s %s: cannot look at the path (%s)", opt, path, strerror(errno));
  } else if (S_ISLNK(st.st_mode)) {
    /* Written through, as cp does: the link stays, the file it points to is replaced. */
    char to[PATH_MAX];
    ssize_t n = readlink(path, to, sizeof to - 1);
    to[n < 0 ? 0 : n] = '\0';
    struct stat t;
    if (stat(path, &t) != 0)
      return ms_error_set(err, MS_ERR_INPUT,
                          "%s %s: a symbolic link to %s, which cannot be reached (%s); marginsim writes through a "
                          "link only to an existing regular file", opt, path, to, strerror(errno));
    if (!S_ISREG(t.st_mode))
      return ms_error_set(err, MS_ERR_INPUT,
                          "%s %s: a symbolic link to %s, which is %s; marginsim replaces only a regular file", opt,
                          path, to, kind_of(t.st_mode));
    real = realpath(path, NULL);
    if (!real)
      return ms_error_set(err, MS_ERR_INPUT, "%s %s: cannot resolve the symbolic link (%s)", opt, path,
                          strerror(errno));
    resolved = real;
  } else if (!S_ISREG(st.st_mode)) {
    return ms_error_set(err, MS_ERR_INPUT, "%s %s: is %s; marginsim replaces only a regular file (or creates one)",
                        opt, path, kind_of(st.st_mode));
  }
  /* In a folder with the sticky bit (/tmp) only a file's owner, the
   * folder's or a process with CAP_FOWNER may replace it: the rename at the
   * end would fail, after the whole run. */
  struct stat fs, ds;
  if (stat(resolved, &fs) == 0 && fs.st_uid != geteuid() &&
      !(has_cap_fowner() && id_mapped(fs.st_uid, "/proc/self/uid_map") && id_mapped(fs.st_gid, "/proc/self/gid_map"))) {
    const char *slash = strrchr(resolved, '/');
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", !slash ? 1 : slash == resolved ? 1 : (int)(slash - resolved),
             !slash ? "." : resolved);
    if (stat(dir, &ds) == 0 && (ds.st_mode & S_ISVTX) && ds.st_uid != geteuid()) {
      ms_status s = ms_error_set(err, MS_ERR_INPUT,
                                 "%s %s: belongs to another user (uid %lu) in a folder with the sticky bit (%s), "
                                 "where only its owner may replace it; choose another file name", opt, path,
                                 (unsigned long)fs.st_uid, dir);
      free(real);
      return s;
    }
  }
  /* Never a file marginsim did not write: a candle file or a scenario named
   * as the output by mistake was replaced by the result (exit 0). */
  if (kind && kind->ours && lstat(resolved, &fs) == 0 && S_ISREG(fs.st_mode) && fs.st_size > 0 &&
      !kind->ours(resolved)) { /* an empty file holds nothing to lose (mkstemp's reserved name) */
    ms_status s = ms_error_set(err, MS_ERR_INPUT,
                               "%s %s: exists and is not %s; marginsim replaces only a file of its own (a "
                               "previous result), never another: remove it, or choose another name", opt, path,
                               kind->what);
    free(real);
    return s;
  }
  if (target) {
    *target = real ? real : strdup(resolved);
    if (!*target) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  } else {
    free(real);
  }
  return MS_OK;
}

/* Fills @p buf with @p n letters and digits nobody can guess: the kernel's
 * random bytes, or (without getrandom) the clock mixed with the pid. */
static void random_letters(char *buf, int n) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char bytes[TMP_RANDOM];
  if (n > TMP_RANDOM) n = TMP_RANDOM;
  if (getrandom(bytes, (size_t)n, GRND_NONBLOCK) != (ssize_t)n) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 17) ^ (uintptr_t)buf;
    for (int i = 0; i < n; i++) { /* splitmix64 */
      uint64_t z = (x += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      bytes[i] = (unsigned char)(z ^ (z >> 31));
    }
  }
  for (int i = 0; i < n; i++) buf[i] = alphabet[bytes[i] % (sizeof alphabet - 1)];
  buf[n] = '\0';
}

static void release(ms_outfile *o) {
  free(o->path);
  free(o->target);
  free(o->tmp);
  o->path = o->target = o->tmp = NULL;
  o->fd = -1;
  o->slot = -1;
}

ms_status ms_outfile_open(ms_outfile *o, const char *path, const ms_outfile_kind *kind, ms_error *err) {
  memset(o, 0, sizeof *o);
  o->fd = -1;
  o->slot = -1;
  ms_status s = ms_outfile_check("output", path, kind, &o->target, err);
  if (s) return s;
  o->path = strdup(path);
  size_t len = strlen(o->target);
  o->tmp = malloc(len + sizeof MS_OUTFILE_TMP_MARK + TMP_RANDOM + 4);
  if (!o->path || !o->tmp) {
    release(o);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  }
  const char *slash = strrchr(o->target, '/');
  size_t dirlen = slash ? (size_t)(slash - o->target) + 1 : 0; /* with the '/' */
  const char *base = o->target + dirlen;
  int baselen = (int)strlen(base) < TMP_BASE_MAX ? (int)strlen(base) : TMP_BASE_MAX;
  for (int tries = 0; tries < TMP_TRIES; tries++) {
    char rnd[TMP_RANDOM + 1];
    random_letters(rnd, TMP_RANDOM);
    sprintf(o->tmp, "%.*s.%.*s%s%s", (int)dirlen, o->target, baselen, base, MS_OUTFILE_TMP_MARK, rnd);
    /* O_EXCL: never an existing file, never through a symbolic link; 0666 less the umask, like any new file.
     * Signals wait while the file is created and noted for the fatal-signal clean-up: one arriving in
     * between would leave a temporary that no handler knows of. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    o->fd = open(o->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    int e = errno;
    if (o->fd >= 0) o->slot = cleanup_add(o->tmp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    if (o->fd >= 0 || errno != EEXIST) break;
  }
  if (o->fd < 0) {
    int e = errno;
    s = ms_error_set(err, MS_ERR_IO, "%s: cannot create the file (its temporary %s: %s)", path, o->tmp,
                     e == EEXIST ? "every name tried exists" : strerror(e));
    release(o);
    return s;
  }
  return MS_OK;
}

/* Syncs the folder of @p path so that the rename survives a crash (best
 * effort: some file systems refuse to sync a folder). */
static void sync_dir_of(const char *path) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

ms_status ms_outfile_commit(ms_outfile *o, ms_error *err) {
  ms_status s = MS_OK;
  if (o->fd >= 0) {
    /* EINVAL / EROFS: a file system that cannot sync (nothing was lost) */
    if (fsync(o->fd) != 0 && errno != EINVAL && errno != EROFS)
      s = ms_error_set(err, MS_ERR_IO, "%s: cannot write the file (%s)", o->path, strerror(errno));
    if (close(o->fd) != 0 && !s)
      s = ms_error_set(err, MS_ERR_IO, "%s: cannot write the file (%s)", o->path, strerror(errno));
    o->fd = -1;
  }
  struct stat st;
  if (!s && lstat(o->target, &st) == 0 && !S_ISREG(st.st_mode))
    s = ms_error_set(err, MS_ERR_IO, "%s: %s is now %s; left as it is, nothing written", o->path, o->target,
                     kind_of(st.st_mode));
  if (!s && rename(o->tmp, o->target) != 0)
    s = ms_error_set(err, MS_ERR_IO, "%s: cannot rename %s into place (%s)", o->path, o->tmp, strerror(errno));
  if (s) {
    unlink(o->tmp);
  } else {
    sync_dir_of(o->target);
  }
  cleanup_drop(o->slot);
  release(o);
  return s;
}

void ms_outfile_start_writeback(const ms_outfile *o) {
  if (o->fd >= 0) (void)sync_file_range(o->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

void ms_outfile_touch(const ms_outfile *o) {
  if (o->fd >= 0) (void)futimens(o->fd, NULL);
}

void ms_outfile_abort(ms_outfile *o) {
  if (!o || !o->tmp) return;
  if (o->fd >= 0) close(o->fd);
  unlink(o->tmp);
  cleanup_drop(o->slot);
  release(o);
}

void ms_outfile_safe_name(char *out, size_t n, const char *name) {
  if (n == 0) return;
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p && k + 1 < n; p++) {
    int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
             *p == '-' || *p == '+' || *p == '.' || *p >= 0x80;
    out[k++] = ok ? (char)*p : '_';
  }
  /* a cut inside a UTF-8 sequence: drop its lead and continuation bytes */
  if (name[k] && k > 0 && ((unsigned char)name[k] & 0xC0) == 0x80) {
    while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80) k--;
    if (k > 0 && (unsigned char)out[k - 1] >= 0xC0) k--;
  }
  out[k] = '\0';
  if (out[0] == '.') out[0] = '_'; /* no hidden files, no "." or ".." */
  if (k == 0) snprintf(out, n, "scenario");
}
