/*
 * error — status table and the error record (see include/marginsim/error.h).
 */
#include "marginsim/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_text[] = {
#define MS_X_TEXT(name, code, text) text,
    MS_STATUS_TABLE(MS_X_TEXT)
#undef MS_X_TEXT
};

static const int status_exit[] = {
#define MS_X_EXIT(name, code, text) code,
    MS_STATUS_TABLE(MS_X_EXIT)
#undef MS_X_EXIT
};

const char *ms_strerror(ms_status s) {
  if ((int)s < 0 || s >= MS_STATUS_COUNT) return "unknown status";
  return status_text[s];
}

int ms_status_exit_code(ms_status s) {
  if ((int)s < 0 || s >= MS_STATUS_COUNT) return 3;
  return status_exit[s];
}

void ms_error_clear(ms_error *err) {
  if (!err) return;
  err->status = MS_OK;
  err->msg[0] = '\0';
}

/* A message is one line: control characters it quotes from the user's
 * input (a name with a line break, a carriage return in --set) are written
 * as \n, \r, \t or \xNN, so that nothing a file holds can forge or split
 * the line that reports it. In place, cut at @p size if need be. */
static void escape_controls(char *msg, size_t size) {
  char tmp[sizeof ((ms_error *)0)->msg];
  size_t j = 0;
  int any = 0;
  for (const unsigned char *c = (const unsigned char *)msg; *c; c++)
    if (*c < 0x20 || *c == 0x7f) any = 1;
  if (!any) return;
  for (const unsigned char *c = (const unsigned char *)msg; *c && j + 5 < sizeof tmp; c++) {
    if (*c == '\n') { tmp[j++] = '\\'; tmp[j++] = 'n'; }
    else if (*c == '\r') { tmp[j++] = '\\'; tmp[j++] = 'r'; }
    else if (*c == '\t') { tmp[j++] = '\\'; tmp[j++] = 't'; }
    else if (*c < 0x20 || *c == 0x7f) j += (size_t)snprintf(tmp + j, sizeof tmp - j, "\\x%02x", *c);
    else tmp[j++] = (char)*c;
  }
  tmp[j] = '\0';
  snprintf(msg, size, "%s", tmp);
}

ms_status ms_error_set(ms_error *err, ms_status s, const char *fmt, ...) {
  if (!err) return s;
  err->status = s;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  escape_controls(err->msg, sizeof err->msg);
  return s;
}
