/*
 * heap — one binary min-heap, instantiated per element type, and one
 * growth helper. Private to sim/.
 *
 *   MS_HEAP_DEFINE(prefix, type, less)
 *
 * defines a struct `prefix` {type *v; size_t n, cap;} with
 *   int  prefix_push(prefix *h, type e)   0, or -1 when out of memory
 *   void prefix_pop(prefix *h)            drops h->v[0] (h->n > 0)
 *   void prefix_heapify(prefix *h)        restores the order after h->v was
 *                                         changed in place (e.g. filtered)
 * where less(const type *a, const type *b) orders the elements; h->v[0] is
 * the least. A macro rather than a void* heap with a comparison callback:
 * the event queue pops once per event and the comparison must inline.
 */
#ifndef MS_HEAP_H
#define MS_HEAP_H

#include <stdlib.h>

/** Grow *p (elements of @p size) so that it holds at least @p need; 0 or -1. */
static inline int ms_grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * size);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

#define MS_HEAP_DEFINE(prefix, type, less)                                         \
  typedef struct {                                                                 \
    type *v;                                                                       \
    size_t n, cap;                                                                 \
  } prefix;                                                                        \
                                                                                   \
  static inline int prefix##_push(prefix *h, type e) {                             \
    if (ms_grow((void **)&h->v, &h->cap, h->n + 1, sizeof(type))) return -1;        \
    size_t i = h->n++;                                                             \
    while (i > 0) {                                                                \
      size_t p = (i - 1) / 2;                                                      \
      if (!less(&e, &h->v[p])) break;                                              \
      h->v[i] = h->v[p];                                                           \
      i = p;                                                                       \
    }                                                                              \
    h->v[i] = e;                                                                   \
    return 0;                                                                      \
  }                                                                                \
                                                                                   \
  /* Put e at i and move it down to its place (children of i in order). */     \
  static inline void prefix##_sift(prefix *h, size_t i, type e) {                  \
    for (;;) {                                                                     \
      size_t c = 2 * i + 1;                                                        \
      if (c >= h->n) break;                                                        \
      if (c + 1 < h->n && less(&h->v[c + 1], &h->v[c])) c++;                        \
      if (!less(&h->v[c], &e)) break;                                              \
      h->v[i] = h->v[c];                                                           \
      i = c;                                                                       \
    }                                                                              \
    h->v[i] = e;                                                                   \
  }                                                                                \
                                                                                   \
  static inline void prefix##_pop(prefix *h) {                                     \
    type last = h->v[--h->n];                                                      \
    if (h->n) prefix##_sift(h, 0, last);                                           \
  }                                                                                \
                                                                                   \
  static inline void prefix##_heapify(prefix *h) {                                 \
    for (size_t i = h->n / 2; i-- > 0;) prefix##_sift(h, i, h->v[i]);              \
  }

#endif
