/*
 * shuffle — HDF5's byte shuffle (see shuffle.h).
 */
#include "core/shuffle.h"

#include <stdint.h>
#include <string.h>

/* One round of the 8 x 8 byte transpose (Hacker's Delight, 7-3, on bytes):
 * the fields of @p a shifted down by @p s trade places with those of @p b
 * that mask @p m selects. */
static inline void swap_round(uint64_t *a, uint64_t *b, int s, uint64_t m) {
  uint64_t t = ((*a >> s) ^ *b) & m;
  *b ^= t;
  *a ^= t << s;
}

/* Rows r0 .. r0 + 7, bytes c0 .. c0 + 7 of @p in, transposed into @p out. */
static inline void tile(unsigned char *out, const unsigned char *in, size_t n, size_t size, size_t r0, size_t c0) {
  uint64_t x[8];
  for (int r = 0; r < 8; r++) memcpy(&x[r], in + (r0 + (size_t)r) * size + c0, 8);
  for (int r = 0; r < 8; r += 2) swap_round(&x[r], &x[r + 1], 8, 0x00FF00FF00FF00FFull);
  for (int r = 0; r < 8; r += 4) {
    swap_round(&x[r], &x[r + 2], 16, 0x0000FFFF0000FFFFull);
    swap_round(&x[r + 1], &x[r + 3], 16, 0x0000FFFF0000FFFFull);
  }
  for (int r = 0; r < 4; r++) swap_round(&x[r], &x[r + 4], 32, 0x00000000FFFFFFFFull);
  for (int c = 0; c < 8; c++) memcpy(out + (c0 + (size_t)c) * n + r0, &x[c], 8);
}

void ms_byte_shuffle(unsigned char *out, const unsigned char *in, size_t n, size_t size) {
  size_t n8 = 0, s8 = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* byte c of a row loaded as a little-endian word is its bits 8c .. 8c + 7 */
  n8 = n / 8 * 8;
  s8 = size / 8 * 8;
  /* 64 rows at a time (their bytes stay in L1), each output row's 64 bytes written in a run */
  enum { ROWS = 64 };
  for (size_t r = 0; r < n8; r += ROWS) {
    size_t re = r + ROWS < n8 ? r + ROWS : n8;
    for (size_t c = 0; c < s8; c += 8)
      for (size_t rr = r; rr < re; rr += 8) tile(out, in, n, size, rr, c);
  }
#endif
  /* the rest: the last n % 8 rows, and the last size % 8 bytes of every row */
  for (size_t i = 0; i < n; i++)
    for (size_t j = i < n8 ? s8 : 0; j < size; j++) out[j * n + i] = in[i * size + j];
}
