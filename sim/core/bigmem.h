/*
 * bigmem — arrays of a path's state that can grow to the size of the book
 * (the touched accounts, the pending events, the eligible accounts).
 *
 * Why not realloc: glibc serves a block from its heap or maps it alone,
 * and moves the line between the two up to the largest block freed so far
 * (up to 32 MB). Once a run has freed a large set-up buffer, such an array
 * grows inside the heap, and every move by doubling leaves its old copy
 * there as a hole that stays resident: 29 MB of a 1M-account crash path's
 * 168 MB. Here an array of at least MS_BIG_MIN bytes is always its own
 * mapping: it grows by moving its pages (mremap on Linux) and its memory
 * goes back to the system when it moves or is freed. Smaller arrays are
 * ordinary heap blocks. Every block is 64-byte aligned.
 *
 * A block's size decides which kind it is, so the caller passes the size
 * it asked for to ms_big_resize and ms_big_free.
 */
#ifndef MARGINSIM_BIGMEM_H
#define MARGINSIM_BIGMEM_H

#include <stddef.h>

#define MS_BIG_MIN ((size_t)1 << 20)

/* Under AddressSanitizer every block is a heap block: ASan checks the
 * bounds of what malloc returns, not of mappings made behind its back. */
#if defined(__SANITIZE_ADDRESS__)
#define MS_BIG_MAPS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MS_BIG_MAPS 0
#endif
#endif
#ifndef MS_BIG_MAPS
#define MS_BIG_MAPS 1
#endif

/** A block of @p bytes (> 0), or NULL. */
void *ms_big_alloc(size_t bytes);

/**
 * Block @p p of @p old bytes (NULL, 0: none) resized to @p bytes (> 0), its
 * first min(old, bytes) bytes kept; NULL if out of memory, @p p then intact.
 */
void *ms_big_resize(void *p, size_t old, size_t bytes);

/** Free block @p p of @p bytes; NULL is a no-op. */
void ms_big_free(void *p, size_t bytes);

/**
 * Make room for @p need elements of @p size bytes in *p, of capacity *cap
 * elements: doubling from 64, as ms_grow does. 0, or -1 if out of memory.
 */
int ms_big_grow(void **p, size_t *cap, size_t need, size_t size);

#endif
