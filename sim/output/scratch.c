/*
 * scratch — bytes put aside in memory or in an unlinked temporary (see scratch.h).
 */
#define _GNU_SOURCE /* O_CLOEXEC */
#include "output/scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/heap.h"

#define SCRATCH_BUF ((size_t)1 << 20)

struct ms_scratch {
  int fd;              /* -1: in memory */
  unsigned char *mem;  /* in memory: the bytes; a file: the append buffer */
  size_t cap, pending; /* a file: bytes waiting in mem (the area's last ones) */
  uint64_t size;       /* the end of the area, appends pending included */
  uint64_t consumed;   /* a file: bytes before it will not be read again (never written out) */
  pthread_mutex_t lock;/* appends against ms_scratch_read and ms_scratch_consume from other threads */
};

ms_status ms_scratch_new(ms_scratch **out, const char *dir, ms_error *err) {
  *out = NULL;
  ms_scratch *s = calloc(1, sizeof *s);
  if (!s) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  s->fd = -1;
  pthread_mutex_init(&s->lock, NULL);
  if (dir) {
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/.ms-scratch-XXXXXX", dir[0] ? dir : ".");
    if (len < 0 || (size_t)len >= sizeof path) {
      free(s);
      return ms_error_set(err, MS_ERR_IO, "%s: folder name too long for a scratch file", dir);
    }
    s->fd = mkostemp(path, O_CLOEXEC);
    if (s->fd < 0) {
      int e = errno;
      free(s);
      return ms_error_set(err, MS_ERR_IO, "%s: cannot create a scratch file (%s)", dir, strerror(e));
    }
    unlink(path); /* nameless from now on: the kernel frees it when we close it or die */
    s->mem = malloc(SCRATCH_BUF);
    s->cap = SCRATCH_BUF;
    if (!s->mem) {
      ms_scratch_free(s);
      return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    }
  }
  *out = s;
  return MS_OK;
}

void ms_scratch_free(ms_scratch *s) {
  if (!s) return;
  if (s->fd >= 0) close(s->fd);
  pthread_mutex_destroy(&s->lock);
  free(s->mem);
  free(s);
}

uint64_t ms_scratch_size(const ms_scratch *s) { return s->size; }

static ms_status write_all(int fd, uint64_t off, const void *p, size_t n, ms_error *err) {
  const unsigned char *b = p;
  while (n > 0) {
    ssize_t w = pwrite(fd, b, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return ms_error_set(err, MS_ERR_IO, "scratch file: write failed (%s)", w < 0 ? strerror(errno) : "no space");
    b += w;
    off += (uint64_t)w;
    n -= (size_t)w;
  }
  return MS_OK;
}

/* Write the pending bytes not yet consumed out to the file; the buffer is then free. */
static ms_status flush_locked(ms_scratch *s, ms_error *err) {
  if (s->fd < 0 || !s->pending) return MS_OK;
  uint64_t at = s->size - s->pending;
  size_t skip = s->consumed > at ? (size_t)(s->consumed - at) : 0; /* already read: never needed again */
  ms_status st = skip < s->pending ? write_all(s->fd, at + skip, s->mem + skip, s->pending - skip, err) : MS_OK;
  s->pending = 0;
  return st;
}

ms_status ms_scratch_flush(ms_scratch *s, ms_error *err) {
  pthread_mutex_lock(&s->lock);
  ms_status st = flush_locked(s, err);
  pthread_mutex_unlock(&s->lock);
  return st;
}

static ms_status append_locked(ms_scratch *s, const void *p, size_t n, ms_error *err);

ms_status ms_scratch_append(ms_scratch *s, const void *p, size_t n, ms_error *err) {
  if (n == 0) return MS_OK;
  pthread_mutex_lock(&s->lock);
  ms_status st = append_locked(s, p, n, err);
  pthread_mutex_unlock(&s->lock);
  return st;
}

static ms_status append_locked(ms_scratch *s, const void *p, size_t n, ms_error *err) {
  if (s->fd < 0) {
    if (ms_grow((void **)&s->mem, &s->cap, (size_t)s->size + n, 1))
      return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %zu bytes of records", (size_t)s->size + n);
    memcpy(s->mem + s->size, p, n);
    s->size += n;
    return MS_OK;
  }
  if (s->pending + n > s->cap) {
    ms_status st = flush_locked(s, err);
    if (st) return st;
    if (n >= s->cap) { /* too big to buffer: straight out */
      st = write_all(s->fd, s->size, p, n, err);
      if (!st) s->size += n;
      return st;
    }
  }
  memcpy(s->mem + s->pending, p, n);
  s->pending += n;
  s->size += n;
  return MS_OK;
}

ms_status ms_scratch_pwrite(ms_scratch *s, uint64_t off, const void *p, size_t n, ms_error *err) {
  if (s->fd < 0) {
    if (ms_grow((void **)&s->mem, &s->cap, (size_t)(off + n), 1))
      return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %zu bytes", (size_t)(off + n));
    if (off > s->size) memset(s->mem + s->size, 0, (size_t)(off - s->size));
    memcpy(s->mem + off, p, n);
  } else {
    ms_status st = flush_locked(s, err);
    if (!st) st = write_all(s->fd, off, p, n, err);
    if (st) return st;
  }
  if (off + n > s->size) s->size = off + n;
  return MS_OK;
}

static ms_status read_file(int fd, uint64_t off, void *p, size_t n, ms_error *err);

ms_status ms_scratch_pread(const ms_scratch *s, uint64_t off, void *p, size_t n, ms_error *err) {
  if (off + n > s->size) return ms_error_set(err, MS_ERR_INTERNAL, "scratch: read beyond the end");
  if (s->fd < 0) {
    memcpy(p, s->mem + off, n);
    return MS_OK;
  }
  return read_file(s->fd, off, p, n, err);
}

static ms_status read_file(int fd, uint64_t off, void *p, size_t n, ms_error *err) {
  unsigned char *b = p;
  while (n > 0) {
    ssize_t r = pread(fd, b, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return ms_error_set(err, MS_ERR_IO, "scratch file: read failed (%s)", r < 0 ? strerror(errno) : "short file");
    b += r;
    off += (uint64_t)r;
    n -= (size_t)r;
  }
  return MS_OK;
}

ms_status ms_scratch_reset(ms_scratch *s, ms_error *err) {
  (void)err; /* the file keeps its blocks: the next batch writes over them */
  pthread_mutex_lock(&s->lock);
  s->size = 0;
  s->pending = 0;
  s->consumed = 0;
  pthread_mutex_unlock(&s->lock);
  return MS_OK;
}

ms_status ms_scratch_read(ms_scratch *s, uint64_t off, uint64_t n, ms_scratch_fn fn, void *ctx, ms_error *err) {
  unsigned char tmp[1 << 16];
  pthread_mutex_lock(&s->lock);
  ms_status st = off + n > s->size ? ms_error_set(err, MS_ERR_INTERNAL, "scratch: read beyond the end") : MS_OK;
  while (!st && n > 0) {
    uint64_t window = s->fd < 0 ? 0 : s->size - s->pending; /* mem[0] is this byte of the area */
    if (off >= window) { /* still buffered: as it is, the appender waiting meanwhile */
      st = fn(ctx, s->mem + (off - window), (size_t)n, err);
      break;
    }
    /* written out, and never written again until a reset: read without holding up the appender */
    uint64_t left = window - off < n ? window - off : n;
    size_t k = left < sizeof tmp ? (size_t)left : sizeof tmp;
    pthread_mutex_unlock(&s->lock);
    st = read_file(s->fd, off, tmp, k, err);
    if (!st) st = fn(ctx, tmp, k, err);
    pthread_mutex_lock(&s->lock);
    off += k;
    n -= k;
  }
  pthread_mutex_unlock(&s->lock);
  return st;
}

void ms_scratch_consume(ms_scratch *s, uint64_t upto) {
  pthread_mutex_lock(&s->lock);
  if (s->fd >= 0 && upto > s->consumed) s->consumed = upto;
  if (s->fd >= 0 && s->consumed >= s->size) s->pending = 0; /* all read: the buffer starts afresh */
  pthread_mutex_unlock(&s->lock);
}
