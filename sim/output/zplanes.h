/*
 * zplanes — a zlib stream of byte planes: /book's chunks, shuffled.
 *
 * HDF5's shuffle turns a chunk of n records of s bytes into s planes of n
 * bytes, byte j of every record in plane j. In /book's records the planes
 * are of three sorts: constant (a column of zeros, the high bytes of small
 * integers, an option column of a perp-only book), equal to another plane
 * (initial margin twice the maintenance margin: the same mantissa), or the
 * low bytes of a double drawn at random, which no coder shrinks. A general
 * deflate searches every position of all three for matches. This encoder
 * looks at each plane whole: a plane equal to an earlier one is one match,
 * a constant plane a byte and a match, a plane whose bytes carry little
 * information Huffman-coded, and a run of the rest stored as it is.
 * The stream is plain zlib (RFC 1950/1951): HDF5's deflate filter, zlib
 * and h5py read it like any other.
 */
#ifndef MS_ZPLANES_H
#define MS_ZPLANES_H

#include <stddef.h>

#include "marginsim/error.h"

typedef struct ms_zplanes ms_zplanes;

/** An encoder for up to @p max_planes planes of up to @p max_len bytes each, in @p out. */
ms_status ms_zplanes_new(ms_zplanes **out, size_t max_planes, size_t max_len, ms_error *err);

/** Free @p z (NULL is a no-op). */
void ms_zplanes_free(ms_zplanes *z);

/**
 * Compress @p nplanes planes of @p len bytes each (plane j at in + j * len;
 * at most the sizes given to ms_zplanes_new, which is asserted) into a
 * zlib stream at @p out.
 * The stream is never longer than the planes stored as they are:
 * n + 5 (n / 65535 + 1) + 6 bytes for n = nplanes x len.
 * @return the stream's size, or 0 when it would not fit in @p cap bytes.
 */
size_t ms_zplanes_compress(ms_zplanes *z, const unsigned char *in, size_t nplanes, size_t len, unsigned char *out,
                           size_t cap);

#endif
