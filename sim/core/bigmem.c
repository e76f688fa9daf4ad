/*
 * bigmem — large growing arrays as mappings of their own (see bigmem.h).
 */
#define _GNU_SOURCE /* mremap */
#include "core/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_round(size_t bytes) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  return (bytes + pg - 1) / pg * pg;
}

static int is_big(size_t bytes) { return MS_BIG_MAPS && bytes >= MS_BIG_MIN; }

static void *map(size_t bytes) {
  void *p = mmap(NULL, page_round(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void *ms_big_alloc(size_t bytes) {
  if (is_big(bytes)) return map(bytes);
  return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

void ms_big_free(void *p, size_t bytes) {
  if (!p) return;
  if (is_big(bytes)) munmap(p, page_round(bytes));
  else free(p);
}

void *ms_big_resize(void *p, size_t old, size_t bytes) {
  if (!p) return ms_big_alloc(bytes);
#ifdef __linux__
  if (is_big(old) && is_big(bytes)) {
    void *q = mremap(p, page_round(old), page_round(bytes), MREMAP_MAYMOVE);
    return q == MAP_FAILED ? NULL : q;
  }
#endif
  void *q = ms_big_alloc(bytes);
  if (!q) return NULL;
  memcpy(q, p, old < bytes ? old : bytes);
  ms_big_free(p, old);
  return q;
}

int ms_big_grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) {
    if (c > SIZE_MAX / 2 / size) return -1;
    c *= 2;
  }
  void *q = ms_big_resize(*p, *p ? *cap * size : 0, c * size);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}
