/*
 * outfile — replacing an output file safely (the result file, the JUnit
 * report). See docs/robustness.md.
 *
 * What may be at the path: nothing, or a regular file of the kind being
 * written (replaced: a previous result; any other file is refused). A
 * symbolic link is written through, as cp does: the regular file it points
 * to is replaced and the link stays; a link to nothing or to anything but a
 * regular file is refused, as are a folder, a device, a FIFO and a socket.
 *
 * The data goes to a temporary ".<name>.ms-tmp-XXXXXXXX" (eight random
 * letters or digits) in the folder of the file it replaces, created with
 * O_CREAT|O_EXCL|O_NOFOLLOW (never through a symbolic link, never an
 * existing file) and mode 0666 less the umask. ms_outfile_commit() syncs it
 * and renames it over the target; ms_outfile_abort() removes it. Only a
 * process killed by SIGKILL (or a power cut) leaves such a temporary.
 */
#ifndef MARGINSIM_OUTFILE_H
#define MARGINSIM_OUTFILE_H

#include <stddef.h>

#include "marginsim/error.h"

/** The marker in every temporary's name: ".<name>.ms-tmp-XXXXXXXX". */
#define MS_OUTFILE_TMP_MARK ".ms-tmp-"

typedef struct ms_outfile {
  char *path;    /* as given, for messages */
  char *target;  /* the file replaced: path, or the regular file its symbolic link points to */
  char *tmp;     /* the temporary beside target */
  int fd;        /* open on tmp (read-write); -1 once closed or handed over */
  int slot;      /* in the fatal-signal clean-up list; -1: none */
} ms_outfile;

/**
 * A kind of file marginsim writes: an existing file is replaced only when
 * it is one of that kind (a previous result), never a file marginsim did not
 * write (a candle file, a scenario, notes), which `-o` named by mistake.
 */
typedef struct ms_outfile_kind {
  const char *what;                /* for messages: "a marginsim result file" */
  int (*ours)(const char *path);   /* 1: the regular file at @p path is of this kind */
} ms_outfile_kind;

/** Whether the regular file @p path begins with the bytes of @p prefix (a test for text kinds). */
int ms_outfile_starts_with(const char *path, const char *prefix);

/**
 * Check that @p path may be replaced (see above): MS_ERR_INPUT with a
 * message naming @p opt (the option, e.g. "-o/--output") otherwise; with
 * @p kind, an existing file must be of that kind. On success, when
 * @p target is not NULL, *@p target is the file that would be replaced
 * (malloc'd; the resolved link target for a symbolic link).
 */
ms_status ms_outfile_check(const char *opt, const char *path, const ms_outfile_kind *kind, char **target,
                           ms_error *err);

/** Check @p path (as ms_outfile_check), then create its temporary; @p o is filled (free with commit or abort). */
ms_status ms_outfile_open(ms_outfile *o, const char *path, const ms_outfile_kind *kind, ms_error *err);

/**
 * Sync and close the temporary (unless the caller took the descriptor and
 * set fd to -1), then rename it over the target. On failure the temporary
 * is removed and the previous file is left as it was. Releases @p o.
 */
ms_status ms_outfile_commit(ms_outfile *o, ms_error *err);

/**
 * Start writing what is written so far of the temporary to the disk,
 * without waiting: the sync at commit then waits for less (a result of
 * hundreds of MB is written out while the rest is still being made). Best
 * effort, as the sync at commit is the one that counts.
 */
void ms_outfile_start_writeback(const ms_outfile *o);

/**
 * Set the temporary's modification time to now: a run's temporary looks as
 * old as the run's last batch, not its start, so that a clean-up of stale
 * temporaries by age (docs/robustness.md) passes over a live run's.
 */
void ms_outfile_touch(const ms_outfile *o);

/** Close and remove the temporary; releases @p o. A zeroed or released @p o is a no-op. */
void ms_outfile_abort(ms_outfile *o);

/**
 * Remove every temporary still open in this process. Async-signal-safe: for
 * a handler of a fatal signal (SIGABRT, SIGSEGV, SIGHUP...) before the
 * process dies.
 */
void ms_outfile_remove_all_signal_safe(void);

/**
 * A file name (no folder) made from the scenario name @p name for default
 * output names: bytes other than letters, digits, '_', '-', '+', '.' and
 * UTF-8 become '_', a leading '.' becomes '_', an empty name becomes
 * "scenario"; at most @p n - 1 bytes (cut at a UTF-8 boundary).
 */
void ms_outfile_safe_name(char *out, size_t n, const char *name);

#endif
