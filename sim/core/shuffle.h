/*
 * shuffle — HDF5's shuffle filter, written out: n elements of `size` bytes
 * each, byte j of element i to out[j * n + i]. Private to sim/.
 *
 * /book's chunks are shuffled and deflated by marginsim itself and stored
 * with H5Dwrite_chunk (h5out.c): the bytes must be the ones HDF5's own
 * filter would produce. The plain double loop stores a byte at a stride of
 * n, a power of two here, so every store of a row falls in the same L1 set:
 * at a million-account book of several markets that loop was a third of a
 * run without liquidations. This one moves 8 x 8 byte tiles through
 * registers and writes each output row 8 bytes at a time.
 */
#ifndef MS_SHUFFLE_H
#define MS_SHUFFLE_H

#include <stddef.h>

/** Shuffle @p n elements of @p size bytes from @p in into @p out (n x size bytes; no overlap). */
void ms_byte_shuffle(unsigned char *out, const unsigned char *in, size_t n, size_t size);

#endif
