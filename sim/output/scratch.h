/*
 * scratch — bytes a run puts aside and reads back: in memory, or in an
 * unlinked temporary file in a given folder (nothing is left behind, even
 * after SIGKILL), so that what a run holds at once stays bounded whatever
 * it produces.
 *
 * Appends are buffered; ms_scratch_pread() and ms_scratch_pwrite() work at
 * any offset (a column store writes its columns in place). pread from
 * several threads at once is safe once no append is pending
 * (ms_scratch_flush); everything else belongs to one thread at a time.
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

/** Forget everything (size 0); a file keeps its blocks for what comes next. */
ms_status ms_scratch_reset(ms_scratch *s, ms_error *err);

#endif
