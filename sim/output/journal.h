/*
 * journal — where a run's per-path results go as paths finish, so that an
 * interrupted run (a signal, SIGKILL, a lost node) can go on from its last
 * complete batch: "<result>.partial" beside the result file.
 *
 * A journal is a header (what the run is: version, command, folder, a
 * fingerprint of everything that decides its results, paths, batch) and
 * then frames, one per batch of paths, each with its first path, its
 * number of paths, its length and a checksum of its bytes. Frames are
 * written whole and then their header; a frame whose header or checksum
 * does not check out (a write torn by a crash) ends the journal, and a
 * resumed run truncates it there. The bytes of a frame are the driver's
 * (run.c packs them); this module knows only their length.
 *
 * Frames are checksummed when they are written and checked when a journal
 * is opened to be continued (ms_journal_open, ms_journal_peek); read back
 * by the process that wrote or checked them, they are not hashed again.
 *
 * The journal is synced to disk at most every MS_JOURNAL_SYNC_S seconds
 * and when it is closed to be kept, so a power cut loses at most the last
 * few seconds of batches; a killed process loses only the batch it was
 * computing (what it wrote is in the kernel's hands). While a run has
 * its journal open it holds an exclusive lock on it: a second run of the
 * same result file is refused.
 */
#ifndef MARGINSIM_JOURNAL_H
#define MARGINSIM_JOURNAL_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "marginsim/error.h"

/** Seconds between two syncs of a journal to disk. */
#define MS_JOURNAL_SYNC_S 5.0

/** The suffix of a journal's name: "<result>.partial". */
#define MS_JOURNAL_SUFFIX ".partial"

typedef struct ms_journal ms_journal;

/** What a journal says about its run. Strings are malloc'd (ms_journal_info_free). */
typedef struct ms_journal_info {
  char *version;          /* of the marginsim that began the run */
  char *command;          /* its command line, as the result file records it */
  char *cwd;              /* the folder it ran in */
  uint64_t fingerprint;   /* of everything that decides the results (run.c) */
  int64_t paths, batch;   /* paths of the run, paths per frame (the last may have fewer) */
  int64_t created;        /* Unix time the run began */
  int64_t done;           /* paths in the journal's complete frames (0 .. done - 1) */
} ms_journal_info;

void ms_journal_info_free(ms_journal_info *info);

/** Whether @p path starts like a journal (0 on any error). */
int ms_journal_is(const char *path);

/** Whether another open journal holds @p path's lock: a run still writing it (0 on any error). */
int ms_journal_busy(const char *path);

/**
 * Create the journal @p path (never over an existing file: MS_ERR_INPUT
 * naming it) with the header of @p info (done ignored).
 */
ms_status ms_journal_create(ms_journal **j, const char *path, const ms_journal_info *info, ms_error *err);

/**
 * Open the journal @p path to continue it: its header into *@p info, its
 * complete frames checked and counted (info->done), anything after them
 * cut off. MS_ERR_INPUT when it is not a journal or is locked by a running
 * process; MS_ERR_CANCELLED once *@p cancel (NULL: never) is set, looked at
 * every megabyte of the check.
 */
ms_status ms_journal_open(ms_journal **j, const char *path, ms_journal_info *info,
                          const volatile sig_atomic_t *cancel, ms_error *err);

/** Read @p path's header and count its complete frames, changing nothing. */
ms_status ms_journal_peek(const char *path, ms_journal_info *info, ms_error *err);

/**
 * As ms_journal_peek, but the frames' bytes are not checksummed: only their
 * headers are read, so it takes a moment whatever the journal's size. For
 * messages; info->done may count a frame a resume would find damaged.
 */
ms_status ms_journal_count(const char *path, ms_journal_info *info, ms_error *err);

/** Begin the frame of paths @p first .. @p first + @p n - 1 (right after the last). */
ms_status ms_journal_begin(ms_journal *j, int64_t first, int64_t n, ms_error *err);

/** Append @p n bytes to the current frame (written as they come: a frame may be begun before its paths are all done). */
ms_status ms_journal_put(ms_journal *j, const void *p, size_t n, ms_error *err);

/** Close the current frame: write it, then its header; sync when MS_JOURNAL_SYNC_S have passed since the last sync. */
ms_status ms_journal_end(ms_journal *j, ms_error *err);

/**
 * Drop the frame begun and not ended (its paths failed or were
 * interrupted): what was written of it is cut off. A no-op without one.
 */
ms_status ms_journal_abandon(ms_journal *j, ms_error *err);

/** Paths in the journal's complete frames (those it began with and those written since). */
int64_t ms_journal_done(const ms_journal *j);

/** Read the frames from the first: ms_journal_rewind, then ms_journal_next and ms_journal_get. */
ms_status ms_journal_rewind(ms_journal *j, ms_error *err);

/**
 * Go to the next frame (the rest of the current one is skipped, its
 * checksum still checked): *@p first and *@p n; *@p n == 0 after the last.
 */
ms_status ms_journal_next(ms_journal *j, int64_t *first, int64_t *n, ms_error *err);

/** Read @p n bytes of the current frame. */
ms_status ms_journal_get(ms_journal *j, void *p, size_t n, ms_error *err);

/** Pass over @p n bytes of the current frame (not even read, unless the frame is to be checked). */
ms_status ms_journal_skip(ms_journal *j, uint64_t n, ms_error *err);

/**
 * A second reader of the complete frames of @p j (written or checked by
 * this process, so not hashed again): its own descriptor and buffer, for
 * another thread to read while @p j is read. Free with
 * ms_journal_reader_free (the file stays).
 */
ms_status ms_journal_reader(ms_journal **r, const ms_journal *j, ms_error *err);

void ms_journal_reader_free(ms_journal *r);

/**
 * Read up to @p want bytes of the current frame where they are, without a
 * copy: *@p p points into the journal's buffer (valid until the next call),
 * *@p got bytes, a multiple of @p unit (at least one unit while @p want
 * is); call again for the rest. @p want is a multiple of @p unit, and
 * @p unit at most 512 KB.
 */
ms_status ms_journal_view(ms_journal *j, size_t want, size_t unit, const void **p, size_t *got, ms_error *err);

/** What ms_journal_tails() hands over: one complete frame's paths and its last bytes. */
typedef ms_status (*ms_journal_tail_fn)(void *ctx, int64_t first, int64_t n, const void *tail, ms_error *err);

/**
 * The last @p n bytes of every complete frame, in order, not checksummed
 * (the frame's are when it is read): a frame may end with a summary of
 * itself that a reader wants before reading the frames (run.c: the number
 * of liquidation records, to size /liquidations).
 */
ms_status ms_journal_tails(ms_journal *j, size_t n, ms_journal_tail_fn fn, void *ctx, ms_error *err);

/** Close, keeping the file (a later run may continue it). NULL is allowed. */
void ms_journal_close(ms_journal *j);

/** Close and remove the file. NULL is allowed. */
void ms_journal_remove(ms_journal *j);

#endif
