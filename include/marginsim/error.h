/*
 * error — the one status table and the one-line error record.
 *
 * Every library function that can fail returns an ms_status and fills an
 * ms_error with a one-line message naming the file, key or value at fault.
 * The library never prints; the CLI prints err->msg and maps the status to
 * an exit code with ms_status_exit_code().
 */
#ifndef MARGINSIM_ERROR_H
#define MARGINSIM_ERROR_H

#include <stddef.h>

/* X(name, exit code, description) */
#define MS_STATUS_TABLE(X)                                                 \
  X(MS_OK, 0, "success")                                                   \
  X(MS_ERR_INPUT, 2, "bad input")                                          \
  X(MS_ERR_IO, 3, "I/O failure")                                           \
  X(MS_ERR_NOMEM, 3, "out of memory")                                      \
  X(MS_ERR_INTERNAL, 3, "internal error")                                  \
  X(MS_ERR_CANCELLED, 3, "interrupted")

typedef enum {
#define MS_X_ENUM(name, code, text) name,
  MS_STATUS_TABLE(MS_X_ENUM)
#undef MS_X_ENUM
  MS_STATUS_COUNT
} ms_status;

#define MS_ERROR_MSG_MAX 4096

typedef struct ms_error {
  ms_status status;            /* last failure, MS_OK when none */
  char msg[MS_ERROR_MSG_MAX];  /* one line, no trailing newline */
} ms_error;

/** Text for a status ("bad input", ...). */
const char *ms_strerror(ms_status s);

/** Process exit code for a status (0, 2 or 3). */
int ms_status_exit_code(ms_status s);

/** Clear an error record. NULL is allowed. */
void ms_error_clear(ms_error *err);

/**
 * Record a failure: sets err->status and formats err->msg. Returns @p s so
 * that callers can write `return ms_error_set(err, MS_ERR_IO, ...)`.
 * NULL err is allowed (the message is dropped).
 */
ms_status ms_error_set(ms_error *err, ms_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
