/*
 * strbuf — a growable string (see strbuf.h).
 */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void ms_sb_printf(ms_strbuf *sb, const char *fmt, ...) {
  if (sb->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = sb->cap - sb->n;
    int k = vsnprintf(sb->p ? sb->p + sb->n : NULL, sb->p ? room : 0, fmt, ap);
    va_end(ap);
    if (k < 0) { sb->oom = 1; return; }
    if (sb->p && (size_t)k < room) { sb->n += (size_t)k; return; }
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->n + (size_t)k + 1) cap *= 2;
    char *p = realloc(sb->p, cap);
    if (!p) { sb->oom = 1; return; }
    sb->p = p;
    sb->cap = cap;
  }
}

void ms_sb_free(ms_strbuf *sb) {
  free(sb->p);
  sb->p = NULL;
  sb->n = sb->cap = 0;
}
