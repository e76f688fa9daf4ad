/*
 * fuzz_zplanes — the libFuzzer target of the plane coder (sim/output/zplanes.c):
 * the bytes describe planes, the coder's stream must inflate (zlib, as
 * HDF5's deflate filter) to exactly them, be no longer than storing them,
 * and be the same when made again. A finding aborts with its message.
 *
 * The input: byte 0 the planes (1-128), bytes 1-2 a plane's length (1 to
 * 4,096), then per plane an operation byte and its operands: a constant
 * byte, a copy of a plane some planes back, bytes taken from the input, or
 * bytes of a few values drawn from the input. Plane shapes that a flat byte
 * string would rarely reach (copies, runs) come from a few input bytes.
 * Build: cmake -DMS_FUZZ=ON with clang (docs/robustness.md, "Fuzzing").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "output/zplanes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(const char *what, size_t np, size_t len) {
  fprintf(stderr, "fuzz_zplanes: %s (%zu planes of %zu bytes)\n", what, np, len);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  const size_t np = 1 + data[0] % 128, len = 1 + (size_t)(data[1] | data[2] << 8) % 4096, n = np * len;
  size_t at = 3;
#define NEXT() (at < size ? data[at++] : 0)
  unsigned char *in = malloc(n), *back = malloc(n);
  const size_t cap = n + 5 * (n / 65535 + 1) + 6; /* the bound the header promises */
  unsigned char *out = malloc(cap), *again = malloc(cap);
  if (!in || !back || !out || !again) abort();
  for (size_t p = 0; p < np; p++) {
    unsigned char *q = in + p * len;
    unsigned op = NEXT();
    switch (op % 5) {
    case 0: /* one byte */
      memset(q, NEXT(), len);
      break;
    case 1: { /* a plane some back, or the one before */
      size_t k = 1 + NEXT() % 130;
      if (k > p) k = p;
      if (k) memcpy(q, q - k * len, len);
      else memset(q, 0, len);
      break;
    }
    case 2: /* the input's bytes, over again when it runs out */
      for (size_t i = 0; i < len; i++) q[i] = size > 3 ? data[3 + (at + i) % (size - 3)] : 0;
      at += len < size ? len : size;
      break;
    case 3: { /* a few values, in an order the input and a counter make */
      unsigned char v[8];
      unsigned nv = 1 + NEXT() % 8;
      for (unsigned j = 0; j < nv; j++) v[j] = NEXT();
      uint32_t x = (uint32_t)NEXT() * 2654435761u + 1;
      for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        q[i] = v[(x >> 16) % nv];
      }
      break;
    }
    default: { /* a copy of the plane before with one byte changed */
      if (p) memcpy(q, q - len, len);
      else memset(q, 7, len);
      size_t lo = NEXT(), hi = NEXT();
      q[(lo | hi << 8) % len] ^= (unsigned char)(1 + NEXT() % 255);
      break;
    }
    }
  }
#undef NEXT
  ms_zplanes *z;
  ms_error err;
  if (ms_zplanes_new(&z, np, len, &err) != MS_OK) finding(err.msg, np, len);
  size_t s = ms_zplanes_compress(z, in, np, len, out, cap);
  if (!s) finding("no stream within the bound of storing the planes", np, len);
  uLongf bl = (uLongf)n;
  if (uncompress(back, &bl, out, (uLong)s) != Z_OK || bl != n || memcmp(back, in, n))
    finding("zlib inflates the stream to other bytes", np, len);
  if (ms_zplanes_compress(z, in, np, len, again, cap) != s || memcmp(again, out, s))
    finding("the same planes gave another stream", np, len);
  ms_zplanes_free(z);
  free(in);
  free(back);
  free(out);
  free(again);
  return 0;
}
