/*
 * gslguard — turn GSL's aborting default handler off (see gslguard.h).
 */
#include "core/gslguard.h"

#include <gsl/gsl_errno.h>
#include <pthread.h>

/* The one piece of mutable process state in the library: GSL's handler is
 * process-global, so setting it is guarded to happen once, by whichever
 * thread calls the library first (concurrent runs must not race on it). */
static pthread_once_t gsl_once = PTHREAD_ONCE_INIT;

static void quiet_once(void) {
  /* gsl_set_error_handler_off returns the previous handler: NULL means GSL's
   * default (abort), which is what we replace; anything else was installed
   * by the application on purpose, and goes back. */
  gsl_error_handler_t *prev = gsl_set_error_handler_off();
  if (prev) gsl_set_error_handler(prev);
}

void ms_gsl_quiet(void) { pthread_once(&gsl_once, quiet_once); }
