/*
 * strbuf — a growable string for text built piece by piece (the resolved
 * configuration, the key tables of the docs, calibrate's YAML). A failed
 * allocation or format sets oom and makes later appends no-ops, so a writer
 * checks once, at the end.
 */
#ifndef MS_STRBUF_H
#define MS_STRBUF_H

#include <stddef.h>

typedef struct ms_strbuf {
  char *p;     /* NUL-terminated once anything was appended; NULL before */
  size_t n, cap;
  int oom;
} ms_strbuf;

/** Append printf-style text. */
void ms_sb_printf(ms_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Free the text and empty @p sb. */
void ms_sb_free(ms_strbuf *sb);

#endif
