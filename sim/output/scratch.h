/*
 * scratch — bytes a run puts aside and reads back: in memory, or in an
 * unlinked temporary file in a given folder (nothing is left behind, even
 * after SIGKILL), so that what a run holds at once stays bounded whatever
 * it produces.
 *
 * Appends are buffered; ms_scratch_pread() and ms_scratch_pwrite() work at
 * any offset (a column store writes its columns in place). pread from
 * several threads at once is safe once no append is pending
 * (ms_scratch_flush). ms_scratch_read() and ms_scratch_consume() may run on
 * another thread while one thread appends: a driver takes a path's records
 * as soon as the path is done, straight from the append buffer, and bytes
 * consumed before the buffer fills are never written to the file.
 * Everything else belongs to one thread at a time.
 */
#ifndef MARGINSIM_SCRATCH_H
#define MARGINSIM_SCRATCH_H

#include <stddef.h>
#include <stdint.h>

#include "marginsim/error.h"

typedef struct ms_scratch ms_scratch;

/** A scratch area in an unlinked file in folder @p dir, or in memory when @p dir is NULL. */
ms_status ms_scratch_new(ms_scratch **s, const char *dir, ms_error *err);

void ms_scratch_free(ms_scratch *s);

/** Bytes appended or written so far (the end of the area). */
uint64_t ms_scratch_size(const ms_scratch *s);

/** Append @p n bytes at the end. */
ms_status ms_scratch_append(ms_scratch *s, const void *p, size_t n, ms_error *err);

/** Write pending appends out (a file); a no-op in memory. */
ms_status ms_scratch_flush(ms_scratch *s, ms_error *err);

ms_status ms_scratch_pwrite(ms_scratch *s, uint64_t off, const void *p, size_t n, ms_error *err);

/** Read @p n bytes at @p off (pending appends are flushed first by the caller). */
ms_status ms_scratch_pread(const ms_scratch *s, uint64_t off, void *p, size_t n, ms_error *err);

/** Where ms_scratch_read() hands bytes (valid during the call only). */
typedef ms_status (*ms_scratch_fn)(void *ctx, const void *p, size_t n, ms_error *err);

/**
 * Hand the @p n bytes at @p off to @p fn, in order, in one or more pieces:
 * those still in the append buffer as they are, those written out through
 * a small buffer. Appends by another thread wait meanwhile.
 */
ms_status ms_scratch_read(ms_scratch *s, uint64_t off, uint64_t n, ms_scratch_fn fn, void *ctx, ms_error *err);

/**
 * Bytes before @p upto will not be read again: a file does not write them
 * out, and once everything is consumed the append buffer starts afresh.
 * Offsets stay those of the area (ms_scratch_size goes on growing).
 */
void ms_scratch_consume(ms_scratch *s, uint64_t upto);

/** Forget everything (size 0); a file keeps its blocks for what comes next. */
ms_status ms_scratch_reset(ms_scratch *s, ms_error *err);

#endif
