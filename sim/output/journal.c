/*
 * journal — a run's per-path results as they finish (see journal.h).
 *
 * Layout (native byte order: a journal is continued by the build that
 * wrote it, which the version check ensures):
 *   header: "MSJRNL01", u64 header bytes, u64 fingerprint, i64 paths,
 *           i64 batch, i64 created, u32 lengths of version, command and
 *           cwd, u32 0, the three strings, u64 checksum of all before it;
 *   frame:  "MSFRAME1", i64 first, i64 n, u64 bytes, u64 checksum of the
 *           bytes, u64 checksum of these 40 bytes; then the bytes.
 */
#define _GNU_SOURCE /* O_CLOEXEC, O_NOFOLLOW */
#include "output/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JBUF ((size_t)1 << 20)
#define JDIRECT ((size_t)1 << 16) /* puts of this many bytes or more bypass buf */
/* Bytes read ahead by ms_journal_get: few, so that ms_journal_skip passes
 * over records (another reader's) without reading them. */
#define JREAD ((size_t)1 << 16)
#define FRAME_HEAD 48
/* The last two bytes are the format: 02 since frames end with their record
 * counts and the checksum runs on eight lanes. A journal of another format
 * (an earlier build of the same version) is named as such, not as damaged. */
static const char JMAGIC[8] = {'M', 'S', 'J', 'R', 'N', 'L', '0', '2'};
static const char FMAGIC[8] = {'M', 'S', 'F', 'R', 'A', 'M', 'E', '2'};

/* A checksum over a byte stream, the same however the stream is split:
 * 64-byte blocks through eight independent multiply-xorshift lanes (eight
 * chains keep the multiplier busy: one ran at ~4 GB/s, four at ~7, eight
 * at ~13, measured on 1 MB), the tail with the length. It finds torn and
 * stale writes, not adversaries. */
#define HLANES 8
#define HBLOCK (8 * HLANES)

typedef struct {
  uint64_t h[HLANES], total;
  unsigned char carry[HBLOCK];
  int nc;
} hasher;

static void h_init(hasher *x) {
  static const uint64_t iv[HLANES] = {0x6a09e667f3bcc909ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull,
                                      0xa54ff53a5f1d36f1ull, 0x510e527fade682d1ull, 0x9b05688c2b3e6c1full,
                                      0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull};
  memset(x, 0, sizeof *x);
  memcpy(x->h, iv, sizeof iv);
}

static inline uint64_t mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

static inline void h_block(hasher *x, const unsigned char *b) {
  uint64_t w[HLANES];
  memcpy(w, b, HBLOCK);
  for (int i = 0; i < HLANES; i++) x->h[i] = mix(x->h[i], w[i]);
}

static void h_update(hasher *x, const void *p, size_t n) {
  const unsigned char *b = p;
  x->total += n;
  if (x->nc) {
    size_t k = HBLOCK - (size_t)x->nc < n ? HBLOCK - (size_t)x->nc : n;
    memcpy(x->carry + x->nc, b, k);
    x->nc += (int)k;
    b += k;
    n -= k;
    if (x->nc < HBLOCK) return;
    h_block(x, x->carry);
    x->nc = 0;
  }
  for (; n >= HBLOCK; b += HBLOCK, n -= HBLOCK) h_block(x, b);
  if (n) { /* n < HBLOCK, and the carry is empty (emptied above, or n was 0) */
    memcpy(x->carry, b, n);
    x->nc = (int)n;
  }
}

static uint64_t h_final(const hasher *x) {
  hasher y = *x;
  memset(y.carry + y.nc, 0, HBLOCK - (size_t)y.nc);
  h_block(&y, y.carry);
  uint64_t h = 0;
  for (int i = 0; i < HLANES; i++) h = mix(h, y.h[i]);
  return mix(h, y.total);
}

static uint64_t checksum(const void *p, size_t n) {
  hasher x;
  h_init(&x);
  h_update(&x, p, n);
  return h_final(&x);
}

struct ms_journal {
  char *path;
  int fd;
  unsigned char *buf;     /* writing: bytes not yet written; reading: bytes read ahead */
  size_t nbuf, rpos;      /* bytes in buf; reading: next byte */
  uint64_t end;           /* writing: the end of the last complete frame, then of what is written */
  uint64_t frame_at;      /* the current frame's header */
  int64_t first, n;       /* the current frame */
  uint64_t fbytes, left;  /* its length; reading: bytes not yet consumed */
  uint64_t want;          /* reading: its checksum */
  hasher hx;
  int writing;            /* a frame begun and not ended */
  int in_frame;           /* reading: a frame's header read, its bytes not all checked */
  int64_t done;           /* paths in the complete frames */
  uint64_t rd;            /* reading: the file offset of buf[nbuf] */
  uint64_t data_end;      /* the end of the complete frames */
  uint64_t trusted;       /* frames before it are known whole: checked at open, or written since */
  int cut;                /* continued: a torn end after data_end, cut off when the first frame begins (a
                           * journal another build began, or whose scenario changed, is refused as it was) */
  int check;              /* reading: the current frame's bytes are hashed and checked */
  double last_sync;
};

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ms_journal_info_free(ms_journal_info *info) {
  if (!info) return;
  free(info->version);
  free(info->command);
  free(info->cwd);
  info->version = info->command = info->cwd = NULL;
}

static ms_status pwrite_all(const ms_journal *j, uint64_t off, const void *p, size_t n, ms_error *err) {
  const unsigned char *b = p;
  while (n > 0) {
    ssize_t w = pwrite(j->fd, b, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return ms_error_set(err, MS_ERR_IO, "%s: write failed (%s)", j->path, w < 0 ? strerror(errno) : "no space");
    b += w;
    off += (uint64_t)w;
    n -= (size_t)w;
  }
  return MS_OK;
}

/* Read up to @p n bytes at @p off; *got is how many (short only at the end of the file). */
static ms_status pread_some(int fd, const char *path, uint64_t off, void *p, size_t n, size_t *got, ms_error *err) {
  unsigned char *b = p;
  *got = 0;
  while (n > 0) {
    ssize_t r = pread(fd, b, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ms_error_set(err, MS_ERR_IO, "%s: read failed (%s)", path, strerror(errno));
    if (r == 0) break;
    b += r;
    off += (uint64_t)r;
    n -= (size_t)r;
    *got += (size_t)r;
  }
  return MS_OK;
}

static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get_u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

#define HEAD_FIXED 64

static ms_status write_header(ms_journal *j, const ms_journal_info *info, ms_error *err) {
  size_t lv = strlen(info->version), lc = strlen(info->command), lw = strlen(info->cwd);
  size_t total = HEAD_FIXED + lv + lc + lw + 8;
  unsigned char *h = calloc(1, total);
  if (!h) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  memcpy(h, JMAGIC, 8);
  put_u64(h + 8, total);
  put_u64(h + 16, info->fingerprint);
  put_u64(h + 24, (uint64_t)info->paths);
  put_u64(h + 32, (uint64_t)info->batch);
  put_u64(h + 40, (uint64_t)info->created);
  uint32_t l[4] = {(uint32_t)lv, (uint32_t)lc, (uint32_t)lw, 0};
  memcpy(h + 48, l, 16);
  memcpy(h + HEAD_FIXED, info->version, lv);
  memcpy(h + HEAD_FIXED + lv, info->command, lc);
  memcpy(h + HEAD_FIXED + lv + lc, info->cwd, lw);
  put_u64(h + total - 8, checksum(h, total - 8));
  ms_status s = pwrite_all(j, 0, h, total, err);
  free(h);
  j->end = j->data_end = total;
  return s;
}

static ms_journal *jnew(const char *path) {
  ms_journal *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->fd = -1;
  j->path = strdup(path);
  j->buf = malloc(JBUF);
  if (!j->path || !j->buf) {
    free(j->path);
    free(j->buf);
    free(j);
    return NULL;
  }
  j->last_sync = mono();
  return j;
}

static void jfree(ms_journal *j) {
  if (!j) return;
  if (j->fd >= 0) close(j->fd);
  free(j->path);
  free(j->buf);
  free(j);
}

/* Open an existing journal for reading: never waiting on a FIFO (O_NONBLOCK;
 * a regular file reads as always) nor taking a terminal; -1 but for a
 * regular file. */
static int open_regular(const char *path, int flags) {
  int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;
  if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

int ms_journal_is(const char *path) {
  int fd = open_regular(path, O_RDONLY);
  if (fd < 0) return 0;
  char m[8];
  ssize_t r = read(fd, m, 8);
  close(fd);
  return r == 8 && memcmp(m, JMAGIC, 6) == 0; /* any format: read_header names another one */
}

/* The exclusive lock of a journal being begun or continued. Another
 * process's ms_journal_busy holds a shared lock for an instant: that is
 * waited out (20 tries, 5 ms apart); a run that holds the lock is not. */
static int lock_exclusive(int fd) {
  for (int k = 0;; k++) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno != EWOULDBLOCK && errno != EINTR) return -1;
    if (k == 20) return -1;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
}

/* Remove @p path only if it still names the file open on @p fd. */
static void unlink_if_same(const char *path, int fd) {
  struct stat held, named;
  if (fstat(fd, &held) == 0 && lstat(path, &named) == 0 && held.st_dev == named.st_dev &&
      held.st_ino == named.st_ino)
    unlink(path);
}

int ms_journal_busy(const char *path) {
  int fd = open_regular(path, O_RDONLY | O_NOFOLLOW);
  if (fd < 0) return 0;
  int busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd); /* and with it the shared lock, if taken */
  return busy;
}

ms_status ms_journal_create(ms_journal **out, const char *path, const ms_journal_info *info, ms_error *err) {
  *out = NULL;
  ms_journal *j = jnew(path);
  if (!j) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  j->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (j->fd < 0) {
    int e = errno;
    jfree(j);
    if (e == EEXIST)
      return ms_error_set(err, MS_ERR_INPUT, "%s already exists: not overwritten (an unfinished run's journal, "
                          "or another file of that name)", path);
    return ms_error_set(err, MS_ERR_IO, "%s: cannot create the run's journal (%s)", path, strerror(e));
  }
  if (lock_exclusive(j->fd) != 0) { /* it was created here: not left behind, empty */
    unlink_if_same(path, j->fd);
    jfree(j);
    return ms_error_set(err, MS_ERR_INPUT, "%s: locked by another running marginsim", path);
  }
  ms_status s = write_header(j, info, err);
  j->trusted = j->data_end;
  if (s) {
    unlink_if_same(path, j->fd);
    jfree(j);
    return s;
  }
  *out = j;
  return MS_OK;
}

/* Read and check the header of open journal @p j into *@p info. */
static ms_status read_header(ms_journal *j, ms_journal_info *info, ms_error *err) {
  memset(info, 0, sizeof *info);
  unsigned char fixed[HEAD_FIXED];
  size_t got;
  ms_status s = pread_some(j->fd, j->path, 0, fixed, HEAD_FIXED, &got, err);
  if (s) return s;
  if (got >= 8 && memcmp(fixed, JMAGIC, 6) == 0 && memcmp(fixed + 6, JMAGIC + 6, 2) != 0)
    return ms_error_set(err, MS_ERR_INPUT,
                        "%s: a journal of journal format %.2s, written by another build of marginsim (this build "
                        "reads format %.2s): it cannot be resumed here; remove it to run afresh",
                        j->path, (const char *)fixed + 6, JMAGIC + 6);
  if (got < 8 || memcmp(fixed, JMAGIC, 8) != 0)
    return ms_error_set(err, MS_ERR_INPUT, "%s: not a marginsim journal", j->path);
  uint64_t total = get_u64(fixed + 8);
  if (got < HEAD_FIXED || total < HEAD_FIXED + 8 || total > ((uint64_t)1 << 24))
    return ms_error_set(err, MS_ERR_INPUT, "%s: the journal's header is damaged", j->path);
  unsigned char *h = malloc((size_t)total);
  if (!h) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  s = pread_some(j->fd, j->path, 0, h, (size_t)total, &got, err);
  uint32_t l[4];
  memcpy(l, h + 48, 16);
  if (!s && (got < total || get_u64(h + total - 8) != checksum(h, (size_t)total - 8) ||
             (uint64_t)l[0] + l[1] + l[2] + HEAD_FIXED + 8 != total))
    s = ms_error_set(err, MS_ERR_INPUT, "%s: the journal's header is damaged", j->path);
  if (!s) {
    info->fingerprint = get_u64(h + 16);
    info->paths = (int64_t)get_u64(h + 24);
    info->batch = (int64_t)get_u64(h + 32);
    info->created = (int64_t)get_u64(h + 40);
    info->version = strndup((char *)h + HEAD_FIXED, l[0]);
    info->command = strndup((char *)h + HEAD_FIXED + l[0], l[1]);
    info->cwd = strndup((char *)h + HEAD_FIXED + l[0] + l[1], l[2]);
    if (!info->version || !info->command || !info->cwd) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    j->data_end = total;
  }
  free(h);
  if (s) ms_journal_info_free(info);
  return s;
}

/* Walk the complete frames from the header on: info->done and j->data_end.
 * Without @p verify, only the frames' headers are read (their bytes are
 * not checksummed): a count for a message, in a moment whatever the size. */
static ms_status scan(ms_journal *j, ms_journal_info *info, int verify, const volatile sig_atomic_t *cancel,
                      ms_error *err) {
  uint64_t off = j->data_end;
  int64_t next = 0;
  for (;;) {
    unsigned char fh[FRAME_HEAD];
    size_t got;
    ms_status s = pread_some(j->fd, j->path, off, fh, FRAME_HEAD, &got, err);
    if (s) return s;
    if (got < FRAME_HEAD || memcmp(fh, FMAGIC, 8) != 0 || get_u64(fh + 40) != checksum(fh, 40)) break;
    int64_t first = (int64_t)get_u64(fh + 8), n = (int64_t)get_u64(fh + 16);
    uint64_t bytes = get_u64(fh + 24), want = get_u64(fh + 32);
    if (first != next || n <= 0 || first + n > info->paths) break;
    hasher x;
    h_init(&x);
    uint64_t at = off + FRAME_HEAD, left = verify ? bytes : 0;
    struct stat st;
    if (!verify && (fstat(j->fd, &st) != 0 || (uint64_t)st.st_size < off + FRAME_HEAD + bytes)) break;
    while (left > 0) {
      /* a megabyte at a time: gigabytes of frames off a cold disk took seconds */
      if (cancel && *cancel) return ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
      size_t k = left < JBUF ? (size_t)left : JBUF;
      s = pread_some(j->fd, j->path, at, j->buf, k, &got, err);
      if (s) return s;
      if (got < k) break;
      h_update(&x, j->buf, k);
      at += k;
      left -= k;
    }
    if (left > 0 || (verify && h_final(&x) != want)) break;
    off += FRAME_HEAD + bytes;
    next = first + n;
  }
  info->done = next;
  j->data_end = off;
  return MS_OK;
}

static ms_status open_existing(ms_journal **out, const char *path, int rw, int verify, ms_journal_info *info,
                               const volatile sig_atomic_t *cancel, ms_error *err) {
  *out = NULL;
  memset(info, 0, sizeof *info);
  ms_journal *j = jnew(path);
  if (!j) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  j->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (j->fd < 0) {
    int e = errno;
    jfree(j);
    if (e == ENXIO) /* a FIFO without a writer, opened for writing */
      return ms_error_set(err, MS_ERR_INPUT, "%s: not a regular file (a FIFO)", path);
    return ms_error_set(err, e == ENOENT ? MS_ERR_INPUT : MS_ERR_IO, "%s: cannot open (%s)", path, strerror(e));
  }
  struct stat st;
  if (fstat(j->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    jfree(j);
    return ms_error_set(err, MS_ERR_INPUT, "%s: not a regular file", path);
  }
  if (rw && lock_exclusive(j->fd) != 0) {
    jfree(j);
    return ms_error_set(err, MS_ERR_INPUT, "%s: locked by another running marginsim (the run is still going)",
                        path);
  }
  ms_status s = read_header(j, info, err);
  if (!s) s = scan(j, info, verify, cancel, err);
  if (s) {
    ms_journal_info_free(info);
    jfree(j);
    return s;
  }
  j->end = j->data_end;
  j->trusted = verify ? j->data_end : 0;
  j->done = info->done;
  j->cut = rw && (uint64_t)st.st_size > j->data_end;
  *out = j;
  return MS_OK;
}

int64_t ms_journal_done(const ms_journal *j) { return j->done; }

ms_status ms_journal_open(ms_journal **j, const char *path, ms_journal_info *info,
                          const volatile sig_atomic_t *cancel, ms_error *err) {
  return open_existing(j, path, 1, 1, info, cancel, err);
}

ms_status ms_journal_peek(const char *path, ms_journal_info *info, ms_error *err) {
  ms_journal *j = NULL;
  ms_status s = open_existing(&j, path, 0, 1, info, NULL, err);
  jfree(j);
  return s;
}

ms_status ms_journal_count(const char *path, ms_journal_info *info, ms_error *err) {
  ms_journal *j = NULL;
  ms_status s = open_existing(&j, path, 0, 0, info, NULL, err);
  jfree(j);
  return s;
}

static ms_status flush_buf(ms_journal *j, ms_error *err) {
  if (!j->nbuf) return MS_OK;
  ms_status s = pwrite_all(j, j->end, j->buf, j->nbuf, err);
  j->end += j->nbuf;
  j->nbuf = 0;
  return s;
}

ms_status ms_journal_begin(ms_journal *j, int64_t first, int64_t n, ms_error *err) {
  if (j->writing) return ms_error_set(err, MS_ERR_INTERNAL, "journal: a frame is open");
  if (j->cut) {
    if (ftruncate(j->fd, (off_t)j->data_end) != 0)
      return ms_error_set(err, MS_ERR_IO, "%s: cannot cut off the torn end (%s)", j->path, strerror(errno));
    j->cut = 0;
  }
  j->writing = 1;
  j->first = first;
  j->n = n;
  j->fbytes = 0;
  j->end = j->data_end;
  j->frame_at = j->end;
  j->end += FRAME_HEAD; /* its header last, once the bytes are out */
  j->nbuf = 0;
  h_init(&j->hx);
  return MS_OK;
}

ms_status ms_journal_put(ms_journal *j, const void *p, size_t n, ms_error *err) {
  h_update(&j->hx, p, n);
  j->fbytes += n;
  if (n >= JDIRECT) { /* a path's records: written from where they are, not copied into buf first */
    ms_status s = flush_buf(j, err);
    if (!s) s = pwrite_all(j, j->end, p, n, err);
    if (!s) j->end += n;
    return s;
  }
  const unsigned char *b = p;
  while (n > 0) {
    size_t k = JBUF - j->nbuf < n ? JBUF - j->nbuf : n;
    memcpy(j->buf + j->nbuf, b, k);
    j->nbuf += k;
    b += k;
    n -= k;
    if (j->nbuf == JBUF) {
      ms_status s = flush_buf(j, err);
      if (s) return s;
    }
  }
  return MS_OK;
}

/* Sync everything written. */
static ms_status journal_sync(ms_journal *j, ms_error *err) {
  if (fdatasync(j->fd) != 0) return ms_error_set(err, MS_ERR_IO, "%s: sync failed (%s)", j->path, strerror(errno));
  j->last_sync = mono();
  return MS_OK;
}

ms_status ms_journal_end(ms_journal *j, ms_error *err) {
  if (!j->writing) return ms_error_set(err, MS_ERR_INTERNAL, "journal: no frame is open");
  j->writing = 0;
  ms_status s = flush_buf(j, err);
  if (s) return s;
  unsigned char fh[FRAME_HEAD];
  memcpy(fh, FMAGIC, 8);
  put_u64(fh + 8, (uint64_t)j->first);
  put_u64(fh + 16, (uint64_t)j->n);
  put_u64(fh + 24, j->fbytes);
  put_u64(fh + 32, h_final(&j->hx));
  put_u64(fh + 40, checksum(fh, 40));
  s = pwrite_all(j, j->frame_at, fh, FRAME_HEAD, err);
  if (s) return s;
  j->data_end = j->trusted = j->end;
  j->done = j->first + j->n;
  if (mono() - j->last_sync >= MS_JOURNAL_SYNC_S) s = journal_sync(j, err);
  return s;
}

ms_status ms_journal_rewind(ms_journal *j, ms_error *err) {
  if (j->writing) return ms_error_set(err, MS_ERR_INTERNAL, "journal: a frame is open");
  unsigned char fixed[16];
  size_t got;
  ms_status s = pread_some(j->fd, j->path, 0, fixed, 16, &got, err);
  if (s) return s;
  j->rd = got == 16 ? get_u64(fixed + 8) : 0;
  j->nbuf = j->rpos = 0;
  j->left = 0;
  j->in_frame = 0;
  return MS_OK;
}

/* Read @p n bytes of the stream at the reading position (no checksum); @p p
 * NULL: skip them (hashed when the frame is checked, else not even read). */
static ms_status rd_bytes(ms_journal *j, void *p, size_t n, ms_error *err) {
  unsigned char *b = p;
  if (!b && !j->check && n > j->nbuf - j->rpos) {
    j->rd += n - (j->nbuf - j->rpos);
    j->nbuf = j->rpos = 0;
    return MS_OK;
  }
  while (n > 0) {
    if (j->rpos == j->nbuf) {
      size_t got;
      ms_status s = pread_some(j->fd, j->path, j->rd, j->buf, JREAD, &got, err);
      if (s) return s;
      if (got == 0) return ms_error_set(err, MS_ERR_IO, "%s: the journal ends inside a frame", j->path);
      j->rd += got;
      j->nbuf = got;
      j->rpos = 0;
    }
    size_t k = j->nbuf - j->rpos < n ? j->nbuf - j->rpos : n;
    if (b) memcpy(b, j->buf + j->rpos, k);
    else if (j->check) h_update(&j->hx, j->buf + j->rpos, k); /* skipping: still hashed */
    if (b) b += k;
    j->rpos += k;
    n -= k;
  }
  return MS_OK;
}

ms_status ms_journal_get(ms_journal *j, void *p, size_t n, ms_error *err) {
  if (n > j->left) return ms_error_set(err, MS_ERR_IO, "%s: a frame is shorter than its paths need", j->path);
  ms_status s = rd_bytes(j, p, n, err);
  if (s) return s;
  if (j->check) h_update(&j->hx, p, n);
  j->left -= n;
  return MS_OK;
}

ms_status ms_journal_skip(ms_journal *j, uint64_t n, ms_error *err) {
  if (n > j->left) return ms_error_set(err, MS_ERR_IO, "%s: a frame is shorter than its paths need", j->path);
  ms_status s = rd_bytes(j, NULL, (size_t)n, err);
  if (!s) j->left -= n;
  return s;
}

ms_status ms_journal_reader(ms_journal **out, const ms_journal *j, ms_error *err) {
  *out = NULL;
  ms_journal *r = jnew(j->path);
  if (!r) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  r->fd = fcntl(j->fd, F_DUPFD_CLOEXEC, 0); /* the same file, whatever its name now; pread only */
  if (r->fd < 0) {
    int e = errno;
    jfree(r);
    return ms_error_set(err, MS_ERR_IO, "%s: cannot read it again (%s)", j->path, strerror(e));
  }
  r->data_end = r->end = r->trusted = j->data_end;
  r->done = j->done;
  *out = r;
  return MS_OK;
}

void ms_journal_reader_free(ms_journal *r) { jfree(r); }

ms_status ms_journal_view(ms_journal *j, size_t want, size_t unit, const void **p, size_t *got, ms_error *err) {
  *p = NULL;
  *got = 0;
  if (want > j->left || unit == 0 || unit > JBUF / 2)
    return ms_error_set(err, MS_ERR_IO, "%s: a frame is shorter than its paths need", j->path);
  if (want == 0) return MS_OK;
  if (j->nbuf - j->rpos < unit) { /* the rest to the front, the buffer filled after it */
    size_t rest = j->nbuf - j->rpos, got_now;
    memmove(j->buf, j->buf + j->rpos, rest);
    ms_status s = pread_some(j->fd, j->path, j->rd, j->buf + rest, JBUF - rest, &got_now, err);
    if (s) return s;
    j->rd += got_now;
    j->nbuf = rest + got_now;
    j->rpos = 0;
    if (j->nbuf < unit) return ms_error_set(err, MS_ERR_IO, "%s: the journal ends inside a frame", j->path);
  }
  size_t k = j->nbuf - j->rpos < want ? j->nbuf - j->rpos : want;
  k -= k % unit;
  *p = j->buf + j->rpos;
  if (j->check) h_update(&j->hx, *p, k);
  j->rpos += k;
  j->left -= k;
  *got = k;
  return MS_OK;
}

ms_status ms_journal_next(ms_journal *j, int64_t *first, int64_t *n, ms_error *err) {
  *first = *n = 0;
  ms_status s = MS_OK;
  if (j->in_frame) { /* finish the current frame */
    if (j->left) s = rd_bytes(j, NULL, (size_t)j->left, err);
    j->left = 0;
    j->in_frame = 0;
    if (!s && j->check && h_final(&j->hx) != j->want)
      s = ms_error_set(err, MS_ERR_IO, "%s: the frame of paths %lld.. is damaged (checksum)", j->path,
                       (long long)j->first);
    if (s) return s;
  }
  uint64_t at = j->rd - (uint64_t)(j->nbuf - j->rpos);
  if (at >= j->data_end) return MS_OK;
  unsigned char fh[FRAME_HEAD];
  s = rd_bytes(j, fh, FRAME_HEAD, err);
  if (s) return s;
  if (memcmp(fh, FMAGIC, 8) != 0 || get_u64(fh + 40) != checksum(fh, 40))
    return ms_error_set(err, MS_ERR_IO, "%s: a frame header is damaged", j->path);
  j->first = (int64_t)get_u64(fh + 8);
  j->n = (int64_t)get_u64(fh + 16);
  j->left = get_u64(fh + 24);
  j->want = get_u64(fh + 32);
  j->in_frame = 1;
  j->check = at + FRAME_HEAD + j->left > j->trusted;
  h_init(&j->hx);
  *first = j->first;
  *n = j->n;
  return MS_OK;
}

ms_status ms_journal_abandon(ms_journal *j, ms_error *err) {
  /* an open frame, or one whose end failed (its bytes out, its header not); a torn end no frame has begun
   * after is left for the resume that continues it (j->cut) */
  if (!j->writing && j->end <= j->data_end) return MS_OK;
  j->writing = 0;
  j->nbuf = 0;
  j->end = j->data_end;
  if (ftruncate(j->fd, (off_t)j->data_end) != 0)
    return ms_error_set(err, MS_ERR_IO, "%s: cannot cut off an unfinished frame (%s)", j->path, strerror(errno));
  return MS_OK;
}

ms_status ms_journal_tails(ms_journal *j, size_t n, ms_journal_tail_fn fn, void *ctx, ms_error *err) {
  unsigned char fixed[16], fh[FRAME_HEAD];
  size_t got;
  ms_status s = pread_some(j->fd, j->path, 0, fixed, 16, &got, err);
  if (s) return s;
  unsigned char *tail = malloc(n ? n : 1);
  if (!tail) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  uint64_t at = got == 16 ? get_u64(fixed + 8) : j->data_end;
  while (!s && at < j->data_end) {
    s = pread_some(j->fd, j->path, at, fh, FRAME_HEAD, &got, err);
    if (!s && (got < FRAME_HEAD || memcmp(fh, FMAGIC, 8) != 0 || get_u64(fh + 40) != checksum(fh, 40)))
      s = ms_error_set(err, MS_ERR_IO, "%s: a frame header is damaged", j->path);
    uint64_t bytes = s ? 0 : get_u64(fh + 24);
    if (!s && bytes < n) s = ms_error_set(err, MS_ERR_IO, "%s: a frame is shorter than its paths need", j->path);
    if (!s) s = pread_some(j->fd, j->path, at + FRAME_HEAD + bytes - n, tail, n, &got, err);
    if (!s && got < n) s = ms_error_set(err, MS_ERR_IO, "%s: the journal ends inside a frame", j->path);
    if (!s) s = fn(ctx, (int64_t)get_u64(fh + 8), (int64_t)get_u64(fh + 16), tail, err);
    at += FRAME_HEAD + bytes;
  }
  free(tail);
  return s;
}

void ms_journal_close(ms_journal *j) {
  if (!j) return;
  ms_error ignored;
  ms_journal_abandon(j, &ignored); /* a frame cut short would be cut off by the resume anyway */
  if (j->fd >= 0) fdatasync(j->fd);
  jfree(j);
}

void ms_journal_remove(ms_journal *j) {
  if (!j) return;
  /* Only the file this journal is: once the run has begun, its name may
   * have been taken by another run's journal (the user removed this one,
   * and another run began), which must not be lost with it. */
  unlink_if_same(j->path, j->fd);
  jfree(j);
}
