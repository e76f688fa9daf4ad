/*
 * error — status table and the error record (see include/marginsim/error.h).
 */
#include "marginsim/error.h"

#include <stdarg.h>
#include <stdio.h>

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

ms_status ms_error_set(ms_error *err, ms_status s, const char *fmt, ...) {
  if (!err) return s;
  err->status = s;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return s;
}
