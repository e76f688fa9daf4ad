/* zplanes: every stream inflates, by zlib (HDF5's deflate filter) and by libdeflate, to the planes given;
 * planes of each kind at the edges of deflate's limits (match lengths 3 and 258, the 32 KB window, 65,535-byte
 * stored blocks, 15-bit codes), random mixtures of them, and the sizes the kinds promise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libdeflate.h>
#include <math.h>
#include <zlib.h>

#include "output/zplanes.h"

static uint64_t rs = 0x9E3779B97F4A7C15u;
static uint64_t next(void) { /* splitmix64: the test's own stream */
  uint64_t z = (rs += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

/* Compresses and inflates both ways; the stream's size. */
static size_t round_trip(const unsigned char *in, size_t np, size_t len, const char *what) {
  size_t n = np * len, cap = n + n / 8 + 64;
  unsigned char *out = malloc(cap), *back = malloc(n ? n : 1), *again = malloc(cap);
  ms_zplanes *z;
  ms_error err;
  assert_int_equal(ms_zplanes_new(&z, np, len, &err), MS_OK);
  size_t s = ms_zplanes_compress(z, in, np, len, out, cap);
  if (!s) fail_msg("%s (%zu planes of %zu): no stream", what, np, len);
  uLongf bl = (uLongf)n;
  int rc = uncompress(back, &bl, out, (uLong)s);
  if (rc != Z_OK || bl != n || (n && memcmp(back, in, n)))
    fail_msg("%s (%zu planes of %zu): zlib inflates it to other bytes (rc %d, %lu of %zu)", what, np, len, rc,
             (unsigned long)bl, n);
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  size_t got = 0;
  memset(back, 0xA5, n ? n : 1);
  enum libdeflate_result r = libdeflate_zlib_decompress(d, out, s, back, n, &got);
  if (r != LIBDEFLATE_SUCCESS || got != n || (n && memcmp(back, in, n)))
    fail_msg("%s (%zu planes of %zu): libdeflate inflates it to other bytes (result %d)", what, np, len, (int)r);
  libdeflate_free_decompressor(d);
  /* the same planes, the same stream; and too little room gives none */
  assert_int_equal(ms_zplanes_compress(z, in, np, len, again, cap), s);
  assert_memory_equal(again, out, s);
  assert_int_equal(ms_zplanes_compress(z, in, np, len, again, s), s);
  assert_int_equal(ms_zplanes_compress(z, in, np, len, again, s - 1), 0);
  ms_zplanes_free(z);
  free(out);
  free(back);
  free(again);
  return s;
}

static const size_t LENS[] = {1, 2, 3, 4, 5, 255, 256, 257, 258, 259, 260, 261, 262, 516, 517, 1000, 4096, 40000};
#define NLENS (sizeof LENS / sizeof LENS[0])

static void test_zplanes__constant_planes_cost_almost_nothing(void **state) {
  (void)state;
  for (size_t k = 0; k < NLENS; k++) {
    size_t len = LENS[k], np = 3;
    unsigned char *in = malloc(np * len);
    memset(in, 0, len);
    memset(in + len, 0xFF, len);
    memset(in + 2 * len, 0, len);
    size_t s = round_trip(in, np, len, "constant planes");
    /* zlib's 6 bytes, a block header, two literals and about two bytes a match of at most 258 */
    if (len >= 256 && s > 20 + 3 * 2 * (len / 258 + 2)) fail_msg("3 constant planes of %zu bytes took %zu", len, s);
    free(in);
  }
  /* no planes at all */
  unsigned char none[1];
  round_trip(none, 0, 256, "nothing");
}

static void test_zplanes__random_planes_are_stored(void **state) {
  (void)state;
  for (size_t k = 0; k < NLENS; k++) {
    size_t len = LENS[k], np = len > 4096 ? 3 : 20, n = np * len;
    unsigned char *in = malloc(n);
    for (size_t i = 0; i < n; i++) in[i] = (unsigned char)next();
    size_t s = round_trip(in, np, len, "random planes");
    /* at most the bytes, stored blocks' headers and zlib's six bytes */
    if (len >= 256 && s > n + 5 * (n / 65535 + 2) + 6) fail_msg("random: %zu bytes took %zu", n, s);
    free(in);
  }
}

/* Copies of earlier planes, at the 32 KB window's edge and beyond it, and planes of few distinct bytes. */
static void test_zplanes__copies_and_few_bytes(void **state) {
  (void)state;
  const size_t len = 256, np = 300; /* 76,800 bytes; the window is 128 planes */
  unsigned char *in = malloc(np * len);
  size_t random = 0, coded = 0;
  for (size_t p = 0; p < np; p++) {
    unsigned char *q = in + p * len;
    if (p == 128) { /* plane 0, exactly 32,768 bytes back: a match */
      memcpy(q, in, len);
    } else if (p == 130) { /* plane 1, 33,024 bytes back and nowhere nearer: stored */
      memcpy(q, in + len, len);
      random++;
    } else if (p < 128 || p % 3 == 2) {
      for (size_t i = 0; i < len; i++) q[i] = (unsigned char)next();
      random++;
    } else if (p % 3 == 0) { /* the plane right before */
      memcpy(q, q - len, len);
    } else { /* four distinct bytes */
      for (size_t i = 0; i < len; i++) q[i] = (unsigned char)(0x40 + (next() & 3));
      coded++;
    }
  }
  size_t s = round_trip(in, np, len, "copies");
  /* stored: the random planes and the copy from beyond the window; the four-byte planes at about 2 bits a
   * byte; the rest matches */
  if (s > random * len + coded * (len / 4 + 64) + 2000) fail_msg("copies: %zu bytes", s);
  if (s < random * len) fail_msg("copies: %zu bytes, fewer than the random planes' %zu", s, random * len);
  /* 128 random planes, then plane 0 again at the window's very edge: a few bytes, not a plane stored */
  s = round_trip(in, 129, len, "a copy at the window's edge");
  if (s > 128 * len + 64) fail_msg("a copy at the window's edge: %zu bytes", s);
  free(in);
}

/* Fibonacci frequencies: the Huffman tree of these 22 bytes is 20 deep; deflate allows 15. */
static void test_zplanes__codes_longer_than_15_bits_are_limited(void **state) {
  (void)state;
  const size_t len = 40000;
  unsigned char *in = malloc(len);
  size_t f0 = 1, f1 = 1, at = 0;
  for (int sym = 0; at < len; sym++) {
    for (size_t k = 0; k < f0 && at < len; k++) in[at++] = (unsigned char)(sym * 7);
    size_t f2 = f0 + f1;
    f0 = f1;
    f1 = f2;
  }
  for (size_t i = len - 1; i > 0; i--) { /* shuffled, so no match shortens it */
    size_t j = next() % (i + 1);
    unsigned char t = in[i];
    in[i] = in[j];
    in[j] = t;
  }
  size_t s = round_trip(in, 1, len, "Fibonacci frequencies");
  if (s > len / 2) fail_msg("Fibonacci frequencies: %zu bytes of %zu", s, len);
  free(in);
}

/* Random mixtures of every kind of plane, in every size. */
static void test_zplanes__random_mixtures_inflate(void **state) {
  (void)state;
  for (int trial = 0; trial < 400; trial++) {
    size_t np = 1 + next() % 160, len = 1 + next() % (trial % 4 ? 300 : 3000);
    unsigned char *in = malloc(np * len);
    for (size_t p = 0; p < np; p++) {
      unsigned char *q = in + p * len;
      int kind = (int)(next() % 6);
      if (kind == 0 || (kind == 1 && !p)) {
        memset(q, (int)(next() & 0xFF), len);
      } else if (kind == 1) {
        memcpy(q, in + (next() % p) * len, len);
      } else if (kind == 2) {
        for (size_t i = 0; i < len; i++) q[i] = (unsigned char)next();
      } else if (kind == 3) { /* k distinct bytes */
        unsigned k = 1 + (unsigned)(next() % 40);
        for (size_t i = 0; i < len; i++) q[i] = (unsigned char)(next() % k * 5);
      } else if (kind == 4) { /* skewed: mostly one byte */
        for (size_t i = 0; i < len; i++) q[i] = (unsigned char)(next() % 16 ? 0 : next());
      } else { /* a copy with one byte changed */
        if (p) memcpy(q, in + (p - 1) * len, len);
        else memset(q, 1, len);
        q[next() % len] ^= 1;
      }
    }
    char what[64];
    snprintf(what, sizeof what, "mixture %d", trial);
    round_trip(in, np, len, what);
    free(in);
  }
}

/* Short planes of alternating kinds would each make a block with its header: the stream is never longer
 * than storing them all (a helper's fuzzer found 300 planes of 16 bytes at 1.22x their size). */
static void test_zplanes__never_longer_than_stored(void **state) {
  (void)state;
  for (size_t len = 3; len <= 64; len++) {
    const size_t np = 300, n = np * len;
    unsigned char *in = malloc(n);
    for (size_t p = 0; p < np; p++) { /* even: distinct bytes (stored); odd: len / 2 of them twice (coded) */
      unsigned char perm[256];
      for (int i = 0; i < 256; i++) perm[i] = (unsigned char)i;
      for (int i = 255; i > 0; i--) {
        int j = (int)(next() % (uint64_t)(i + 1));
        unsigned char t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
      }
      for (size_t i = 0; i < len; i++) in[p * len + i] = p % 2 ? perm[i / 2 % 256] : perm[i % 256];
    }
    size_t s = round_trip(in, np, len, "alternating short planes");
    if (s > n + 5 * (n / 65535 + 1) + 6) fail_msg("%zu planes of %zu bytes: %zu bytes", np, len, s);
    free(in);
  }
}

/* A book's chunk as h5out writes it (256 records of 128 bytes, shuffled): an account number, a side of +1
 * or -1, a constant strategy, seven doubles drawn at random (initial margin twice maintenance: the same
 * mantissa) and six zero option columns. The plane coder's stream is no larger than libdeflate's at level 4
 * on such chunks (1% allowed), as docs/output.md says. */
static void test_zplanes__a_book_as_small_as_level_4(void **state) {
  (void)state;
  enum { ROWS = 256, COLS = 16, SIZE = COLS * 8 };
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(4);
  size_t ours = 0, theirs = 0;
  for (int chunk = 0; chunk < 40; chunk++) {
    static unsigned char rows[ROWS * SIZE], sh[ROWS * SIZE], out[2 * ROWS * SIZE];
    memset(rows, 0, sizeof rows);
    for (int r = 0; r < ROWS; r++) {
      int64_t v[3] = {chunk * ROWS + r, next() % 100 < 65 ? 1 : -1, -1};
      double d[7];
      for (int k = 0; k < 7; k++) d[k] = exp(8.5 + 1.2 * ((double)(next() >> 11) / 9007199254740992.0 - 0.5) * 4);
      d[5] = d[4] / 40; /* maintenance, then initial twice it */
      d[4] = 2 * d[5];
      memcpy(rows + r * SIZE, v, sizeof v);
      memcpy(rows + r * SIZE + sizeof v, d, sizeof d);
    }
    for (int r = 0; r < ROWS; r++) /* HDF5's shuffle */
      for (int b = 0; b < SIZE; b++) sh[b * ROWS + r] = rows[r * SIZE + b];
    ours += round_trip(sh, SIZE, ROWS, "a book's chunk");
    size_t t = libdeflate_zlib_compress(c, sh, sizeof sh, out, sizeof out);
    assert_true(t > 0);
    theirs += t;
  }
  if (ours > theirs + theirs / 100) /* 465,415 against 470,718 when written */
    fail_msg("a book: %zu bytes, libdeflate's level 4 %zu", ours, theirs);
  libdeflate_free_compressor(c);
}

/* An encoder whose buffers could not be sized is refused with a message; free takes NULL. */
static void test_zplanes__sizes_beyond_memory_are_refused(void **state) {
  (void)state;
  ms_zplanes *z = (ms_zplanes *)&z;
  ms_error err;
  assert_int_equal(ms_zplanes_new(&z, SIZE_MAX / 2, 1024, &err), MS_ERR_INPUT);
  assert_null(z);
  assert_non_null(strstr(err.msg, "too large"));
  ms_zplanes_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zplanes__constant_planes_cost_almost_nothing),
      cmocka_unit_test(test_zplanes__random_planes_are_stored),
      cmocka_unit_test(test_zplanes__copies_and_few_bytes),
      cmocka_unit_test(test_zplanes__codes_longer_than_15_bits_are_limited),
      cmocka_unit_test(test_zplanes__random_mixtures_inflate),
      cmocka_unit_test(test_zplanes__never_longer_than_stored),
      cmocka_unit_test(test_zplanes__a_book_as_small_as_level_4),
      cmocka_unit_test(test_zplanes__sizes_beyond_memory_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
