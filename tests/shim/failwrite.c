/*
 * failwrite — an LD_PRELOAD shim for the end-to-end tests: every pwrite()
 * from a thread other than the main one into a file whose name holds
 * ".ms-tmp-" (a result being written, docs/robustness.md) fails with EIO.
 *
 * The only such writes are the copier thread's rows of /liquidations
 * (sim/driver/run.c); HDF5 writes from the main thread and the journal is
 * another file. A file size limit cannot single them out: the main thread's
 * writes after the rows fail as well, and would end the run even if the
 * copier's failure were lost.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int refused(int fd) {
  if (gettid() == getpid()) return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n < 0) return 0;
  path[n] = '\0';
  return strstr(path, ".ms-tmp-") != NULL;
}

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static pwrite_fn next_pwrite(const char *name) {
  void *sym = dlsym(RTLD_NEXT, name);
  pwrite_fn f; /* memcpy: ISO C has no cast from an object pointer to a function pointer */
  memcpy(&f, &sym, sizeof f);
  return f;
}

/* @p name's call, unless refused */
static ssize_t shimmed(const char *name, int fd, const void *buf, size_t count, off_t off) {
  if (refused(fd)) {
    errno = EIO;
    return -1;
  }
  return next_pwrite(name)(fd, buf, count, off);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off) { return shimmed("pwrite", fd, buf, count, off); }

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off) { return shimmed("pwrite64", fd, buf, count, off); }
