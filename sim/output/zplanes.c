/*
 * zplanes — a zlib stream of byte planes (see zplanes.h).
 *
 * Each plane is sorted into one of four kinds, then runs of planes of one
 * kind or another become deflate blocks:
 *
 *  - COPY: equal to an earlier plane at most deflate's window (32 KB)
 *    back (a plane's hash, then its bytes): matches at that distance;
 *  - CONST: all one byte: the byte, then a match at distance 1;
 *  - LIT: a Huffman code of its own bytes, the code's own cost included,
 *    would save an eighth of them (the plane's entropy and its distinct
 *    bytes say so): its bytes as literals;
 *  - RAW: the rest, the random low bytes of doubles (most of them known
 *    by a sample of 32 bytes nearly all distinct, before any histogram).
 *
 * A run of RAW planes is a stored block; a run of the other kinds one
 * block of whichever costs least: a dynamic Huffman block or the fixed
 * code, both counted to the bit, or stored (counted with the most padding
 * it can need). Matches reach into earlier blocks, stored ones
 * included, as deflate allows. The choices depend on the bytes alone, so
 * the same planes give the same stream.
 */
#include "output/zplanes.h"
#include "core/sort.h"

#include <assert.h>
#include <libdeflate.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 32768     /* deflate's farthest match */
#define MIN_MATCH 3
#define MAX_MATCH 258
#define MAX_STORED 65535 /* bytes of a stored block */
#define NLIT 286         /* literal/length symbols: 256 bytes, end of block, 29 lengths */
#define NDIST 30
#define NCL 19           /* code length symbols */
#define END_BLOCK 256
#define MAX_BITS 15      /* a literal/length or distance code's longest */
#define MAX_CL_BITS 7    /* a code length code's longest */
/* bits a distinct byte of a LIT plane is charged for its code length in
 * the block's header (the header's cost per symbol, roughly) */
#define HEADER_BITS_PER_SYMBOL 4.0
/* bytes of a plane looked at before its histogram: if they are nearly all
 * distinct the plane is taken for random bytes. Of 32 bytes drawn from 256
 * values, 30 or more are distinct 69% of the time; from 84 (a double's
 * high mantissa byte, ~6.4 bits), 6%. */
#define SAMPLE 32
#define CODED_BITS 7.0 /* bits a byte a plane must come under to be coded */

enum { RAW, LIT, CONST, COPY };

static const uint16_t LBASE[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LEXT[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t DBASE[NDIST] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                      193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t DEXT[NDIST] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
/* the order in which a dynamic block's header lists the code length code's lengths */
static const uint8_t CL_ORDER[NCL] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* a block's symbol: a literal byte, or MATCH | length << 16 | (distance - 1) */
#define MATCH 0x80000000u

typedef struct {
  uint16_t code; /* bit-reversed: deflate writes Huffman codes from their first bit, into the low bits first */
  uint8_t len;   /* bits of the code, 0: a symbol without one */
} hcode;

struct ms_zplanes {
  size_t max_planes, max_len; /* the most planes, and bytes a plane, a call may give */
  double *xlogx;    /* [c] = c log2 c, c <= max_len */
  uint8_t *kind;    /* per plane */
  uint32_t *dist;   /* per COPY plane: bytes back */
  uint64_t *hash;   /* per plane */
  uint32_t *sym;    /* a block's symbols, at most one per byte */
  uint8_t lcode[MAX_MATCH + 1]; /* length -> its symbol - 257 */
  hcode fixed_lit[288], fixed_dist[NDIST]; /* RFC 1951's fixed code (3.2.6) */
};

/* ------------------------------------------------------------------ bits */

typedef struct {
  unsigned char *out;
  size_t p, cap; /* bytes written (counted on past cap), room */
  uint64_t acc;  /* bits not yet written, the first in the low bit */
  int n;         /* their number, < 32 between calls */
} bitw;

static inline void put(bitw *w, uint32_t bits, int nb) {
  w->acc |= (uint64_t)bits << w->n;
  w->n += nb;
  if (w->n >= 32) {
    if (w->p + 4 <= w->cap)
      for (int i = 0; i < 4; i++) w->out[w->p + (size_t)i] = (unsigned char)(w->acc >> (8 * i));
    w->p += 4;
    w->acc >>= 32;
    w->n -= 32;
  }
}

/* the bits so far, padded with zeros to a whole byte */
static void align(bitw *w) {
  while (w->n > 0) {
    if (w->p < w->cap) w->out[w->p] = (unsigned char)w->acc;
    w->p++;
    w->acc >>= 8;
    w->n -= 8;
  }
  w->acc = 0;
  w->n = 0;
}

static inline void put_code(bitw *w, hcode c) { put(w, c.code, c.len); }

/* ------------------------------------------------------------ Huffman codes */

static uint16_t reverse(uint16_t c, int len) {
  uint32_t r = c;
  r = (r & 0x5555) << 1 | (r >> 1 & 0x5555);
  r = (r & 0x3333) << 2 | (r >> 2 & 0x3333);
  r = (r & 0x0F0F) << 4 | (r >> 4 & 0x0F0F);
  r = (r & 0x00FF) << 8 | (r >> 8 & 0x00FF);
  return (uint16_t)(r >> (16 - len));
}

/* The canonical code (RFC 1951, 3.2.2) of lengths @p len[0, n). */
static void canonical(const uint8_t *len, int n, hcode *code) {
  int count[MAX_BITS + 1] = {0};
  uint16_t next[MAX_BITS + 2];
  for (int i = 0; i < n; i++) /* most lengths are 0: counting them too made a chain through count[0] */
    if (len[i]) count[len[i]]++;
  uint16_t c = 0;
  for (int b = 1; b <= MAX_BITS; b++) {
    c = (uint16_t)((c + count[b - 1]) << 1);
    next[b] = c;
  }
  for (int i = 0; i < n; i++) {
    code[i].len = len[i];
    code[i].code = len[i] ? reverse(next[len[i]]++, len[i]) : 0;
  }
}

/* Huffman code lengths of @p freq[0, n) (n <= NLIT), none longer than
 * @p limit: a Huffman tree of the frequencies, halved (kept above zero)
 * until it fits. Symbols of frequency 0 get length 0. At least two
 * symbols must have a frequency: inflate wants complete codes. */
static void huffman(const uint32_t *freq, int n, int limit, uint8_t *len) {
  uint32_t f[NLIT], w[2 * NLIT];
  int64_t key[NLIT];
  int leaf[NLIT], parent[2 * NLIT], depth[2 * NLIT];
  int m = 0;
  for (int i = 0; i < n; i++) {
    f[i] = freq[i];
    len[i] = 0;
  }
  for (;;) {
    m = 0;
    for (int i = 0; i < n; i++) /* sorted by (frequency, symbol) as one key: a symbol < 2^9 */
      if (f[i]) key[m++] = (int64_t)f[i] << 9 | i;
    ms_sort_i64(key, (size_t)m);
    for (int i = 0; i < m; i++) {
      leaf[i] = (int)(key[i] & 511);
      w[i] = (uint32_t)(key[i] >> 9);
    }
    int li = 0, ii = m, nn = m; /* next leaf, next internal node, nodes made */
    for (int k = 0; k < m - 1; k++) {
      int a[2];
      for (int t = 0; t < 2; t++) /* the lighter of the next leaf and the next internal node */
        a[t] = li < m && (ii >= nn || w[li] <= w[ii]) ? li++ : ii++;
      w[nn] = w[a[0]] + w[a[1]];
      parent[a[0]] = parent[a[1]] = nn++;
    }
    int maxd = 0;
    depth[nn - 1] = 0;
    for (int k = nn - 2; k >= 0; k--) {
      depth[k] = depth[parent[k]] + 1;
      if (k < m && depth[k] > maxd) maxd = depth[k];
    }
    if (maxd <= limit) break;
    for (int i = 0; i < n; i++)
      if (f[i]) f[i] = (f[i] + 1) / 2;
  }
  for (int i = 0; i < m; i++) len[leaf[i]] = (uint8_t)depth[i];
}

/* ------------------------------------------------------------ the encoder */

/* A hash of a plane's first, middle and last 16 bytes (of all of a short
 * one): equal hashes are only candidates, compared whole. */
static uint64_t plane_hash(const unsigned char *p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15u ^ n;
  if (n < 48) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3u;
    return h;
  }
  const size_t at[3] = {0, n / 2 - 8, n - 16};
  for (int k = 0; k < 3; k++)
    for (int j = 0; j < 16; j += 8) {
      uint64_t v;
      memcpy(&v, p + at[k] + j, 8);
      h = (h ^ v) * 0xFF51AFD7ED558CCDu;
      h ^= h >> 29;
    }
  return h;
}

ms_status ms_zplanes_new(ms_zplanes **out, size_t max_planes, size_t max_len, ms_error *err) {
  *out = NULL;
  max_planes = max_planes ? max_planes : 1;
  max_len = max_len ? max_len : 1;
  if (max_len > SIZE_MAX / 16 / max_planes) /* the symbols (4 bytes a byte) and c log2 c (8 a byte) fit size_t */
    return ms_error_set(err, MS_ERR_INPUT, "%zu planes of %zu bytes: too large to compress", max_planes, max_len);
  ms_zplanes *z = calloc(1, sizeof *z);
  if (!z) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for a plane coder");
  z->max_planes = max_planes;
  z->max_len = max_len;
  z->xlogx = malloc((z->max_len + 1) * sizeof *z->xlogx);
  z->kind = malloc(z->max_planes);
  z->dist = malloc(z->max_planes * sizeof *z->dist);
  z->hash = malloc(z->max_planes * sizeof *z->hash);
  z->sym = malloc(z->max_planes * z->max_len * sizeof *z->sym);
  if (!z->xlogx || !z->kind || !z->dist || !z->hash || !z->sym) {
    ms_zplanes_free(z);
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for a plane coder of %zu planes of %zu bytes", max_planes,
                        max_len);
  }
  z->xlogx[0] = 0;
  for (size_t c = 1; c <= z->max_len; c++) z->xlogx[c] = (double)c * log2((double)c);
  for (int c = 0; c < 29; c++)
    for (int l = LBASE[c]; l <= (c == 28 ? MAX_MATCH : LBASE[c + 1] - 1); l++) z->lcode[l] = (uint8_t)c;
  uint8_t fl[288], fd[NDIST];
  for (int i = 0; i < 288; i++) fl[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
  for (int i = 0; i < NDIST; i++) fd[i] = 5;
  canonical(fl, 288, z->fixed_lit);
  canonical(fd, NDIST, z->fixed_dist);
  *out = z;
  return MS_OK;
}

void ms_zplanes_free(ms_zplanes *z) {
  if (!z) return;
  free(z->xlogx);
  free(z->kind);
  free(z->dist);
  free(z->hash);
  free(z->sym);
  free(z);
}

static int dist_code(uint32_t d) {
  int c = NDIST - 1;
  while (DBASE[c] > d) c--;
  return c;
}

/* Plane @p i's kind (and for COPY its distance). */
static void classify(ms_zplanes *z, const unsigned char *in, size_t i, size_t len) {
  const unsigned char *p = in + i * len;
  z->hash[i] = plane_hash(p, len);
  z->kind[i] = LIT;
  if (len < MIN_MATCH) return;
  for (size_t j = i; j-- > 0 && (i - j) * len <= WINDOW;)
    if (z->hash[j] == z->hash[i] && !memcmp(in + j * len, p, len)) {
      z->kind[i] = COPY;
      z->dist[i] = (uint32_t)((i - j) * len);
      return;
    }
  if (!memcmp(p, p + 1, len - 1)) {
    z->kind[i] = CONST;
    return;
  }
  /* 32 bytes of it, spread out: at most two repeats is random bytes, as a
   * rule. Not on planes under 4 x 32 bytes: there the sample is much of the
   * plane, and its histogram costs little anyway. */
  if (len >= 4 * SAMPLE) {
    uint64_t seen[4] = {0};
    int distinct = 0;
    for (size_t k = 0; k < SAMPLE; k++) {
      unsigned b = p[k * (len / SAMPLE)];
      distinct += !(seen[b >> 6] >> (b & 63) & 1);
      seen[b >> 6] |= 1ull << (b & 63);
    }
    if (distinct >= SAMPLE - 2) {
      z->kind[i] = RAW;
      return;
    }
  }
  uint32_t count[256] = {0};
  for (size_t k = 0; k < len; k++) count[p[k]]++;
  double sum[4] = {0}; /* four chains of additions; no branch: whether a byte occurs is as random as the bytes */
  int distinct = 0;
  for (int b = 0; b < 256; b += 4)
    for (int l = 0; l < 4; l++) {
      sum[l] += z->xlogx[count[b + l]];
      distinct += count[b + l] != 0;
    }
  /* the plane's bits under a code of its own, and that code's lengths in
   * the header; coded only if that saves an eighth of its bytes: in a block
   * it shares one code with the planes beside it, which codes it worse, and
   * a plane that saves little alone saves nothing there (books of several
   * markets with options: 2.4% smaller than with any saving at all, one with
   * portfolio margin 0.9% larger; both faster) */
  double bits = z->xlogx[len] - (sum[0] + sum[1] + sum[2] + sum[3]) + HEADER_BITS_PER_SYMBOL * distinct;
  if (bits >= CODED_BITS * (double)len) z->kind[i] = RAW;
}

/* Appends matches of @p n bytes at distance @p d to the symbols, and as
 * literals the bytes at @p p a match cannot take (fewer than 3 left). */
static size_t put_matches(uint32_t *sym, size_t ns, const unsigned char *p, size_t n, uint32_t d) {
  size_t k = 0;
  while (n - k >= MIN_MATCH) {
    size_t l = n - k > MAX_MATCH ? MAX_MATCH : n - k;
    if (n - k > MAX_MATCH && n - k - MAX_MATCH < MIN_MATCH) l = n - k - MIN_MATCH;
    sym[ns++] = MATCH | (uint32_t)l << 16 | (d - 1);
    k += l;
  }
  for (; k < n; k++) sym[ns++] = p[k];
  return ns;
}

static void stored(bitw *w, const unsigned char *p, size_t n, int last) {
  do {
    size_t k = n > MAX_STORED ? MAX_STORED : n;
    put(w, last && k == n, 3); /* BFINAL, BTYPE 00 */
    align(w);
    unsigned char hd[4] = {(unsigned char)k, (unsigned char)(k >> 8), (unsigned char)~k, (unsigned char)(~k >> 8)};
    if (w->p + 4 + k <= w->cap) {
      memcpy(w->out + w->p, hd, 4);
      memcpy(w->out + w->p + 4, p, k);
    }
    w->p += 4 + k;
    p += k;
    n -= k;
  } while (n);
}

static void put_symbols(ms_zplanes *z, bitw *w, const uint32_t *sym, size_t ns, const hcode *lit, const hcode *dist) {
  for (size_t i = 0; i < ns; i++) {
    uint32_t s = sym[i];
    if (!(s & MATCH)) {
      put_code(w, lit[s]);
      continue;
    }
    uint32_t l = (s >> 16) & 0x1FF, d = (s & 0xFFFF) + 1;
    int lc = z->lcode[l], dc = dist_code(d);
    put_code(w, lit[257 + lc]);
    if (LEXT[lc]) put(w, l - LBASE[lc], LEXT[lc]);
    put_code(w, dist[dc]);
    if (DEXT[dc]) put(w, d - DBASE[dc], DEXT[dc]);
  }
  put_code(w, lit[END_BLOCK]);
}

/* The code length symbols of lengths @p len[0, n): each a symbol in the
 * low 5 bits and its repeat count's extra bits above. */
static int cl_symbols(const uint8_t *len, int n, uint16_t *out) {
  int no = 0;
  for (int i = 0; i < n;) {
    int v = len[i], run = 1;
    while (i + run < n && len[i + run] == v) run++;
    i += run;
    if (v == 0) {
      while (run >= 11) {
        int k = run > 138 ? 138 : run;
        out[no++] = (uint16_t)(18 | (k - 11) << 5);
        run -= k;
      }
      if (run >= 3) {
        out[no++] = (uint16_t)(17 | (run - 3) << 5);
        run = 0;
      }
    } else {
      out[no++] = (uint16_t)v;
      run--;
      while (run >= 3) {
        int k = run > 6 ? 6 : run;
        out[no++] = (uint16_t)(16 | (k - 3) << 5);
        run -= k;
      }
    }
    while (run-- > 0) out[no++] = (uint16_t)v;
  }
  return no;
}

/* Planes [a, b) as one block: dynamic, fixed or stored, whichever is
 * shortest. */
static void coded(ms_zplanes *z, bitw *w, const unsigned char *in, size_t a, size_t b, size_t len, int last) {
  size_t ns = 0;
  for (size_t i = a; i < b; i++) {
    const unsigned char *p = in + i * len;
    if (z->kind[i] == COPY) {
      ns = put_matches(z->sym, ns, p, len, z->dist[i]);
    } else if (z->kind[i] == CONST) {
      z->sym[ns++] = p[0];
      ns = put_matches(z->sym, ns, p + 1, len - 1, 1);
    } else {
      for (size_t k = 0; k < len; k++) z->sym[ns++] = p[k];
    }
  }
  /* two tables, symbols alternating between them: a plane of few distinct
   * bytes would otherwise wait on the same counter from one to the next */
  uint32_t lf[NLIT] = {0}, lf2[NLIT] = {0}, df[NDIST] = {0};
  uint64_t extra = 0;
  for (size_t i = 0; i < ns; i++) {
    uint32_t s = z->sym[i];
    if (!(s & MATCH)) {
      (i & 1 ? lf2 : lf)[s]++;
      continue;
    }
    int lc = z->lcode[(s >> 16) & 0x1FF], dc = dist_code((s & 0xFFFF) + 1);
    lf[257 + lc]++;
    df[dc]++;
    extra += LEXT[lc] + DEXT[dc];
  }
  for (int s = 0; s < NLIT; s++) lf[s] += lf2[s];
  lf[END_BLOCK] = 1;

  /* fixed */
  uint64_t fixed_bits = 3 + extra;
  for (int s = 0; s < NLIT; s++) fixed_bits += (uint64_t)lf[s] * z->fixed_lit[s].len;
  for (int s = 0; s < NDIST; s++) fixed_bits += (uint64_t)df[s] * 5;

  /* dynamic: complete codes need two symbols of each alphabet */
  uint32_t lq[NLIT], dq[NDIST];
  memcpy(lq, lf, sizeof lq);
  memcpy(dq, df, sizeof dq);
  int nl = 0, nd = 0;
  for (int s = 0; s < NLIT; s++) nl += lq[s] > 0;
  for (int s = 0; s < NDIST; s++) nd += dq[s] > 0;
  for (int s = 0; nl < 2; s++)
    if (!lq[s]) lq[s] = 1, nl++;
  for (int s = 0; nd < 2; s++)
    if (!dq[s]) dq[s] = 1, nd++;
  uint8_t ll[NLIT + NDIST], *dl = ll + NLIT, seq[NLIT + NDIST];
  huffman(lq, NLIT, MAX_BITS, ll);
  huffman(dq, NDIST, MAX_BITS, dl);
  int hlit = NLIT, hdist = NDIST;
  while (hlit > 257 && !ll[hlit - 1]) hlit--;
  while (hdist > 1 && !dl[hdist - 1]) hdist--;
  memcpy(seq, ll, (size_t)hlit);
  memcpy(seq + hlit, dl, (size_t)hdist);
  uint16_t cls[NLIT + NDIST];
  int ncls = cl_symbols(seq, hlit + hdist, cls);
  uint32_t cf[NCL] = {0};
  for (int i = 0; i < ncls; i++) cf[cls[i] & 31]++;
  int ncl = 0;
  for (int s = 0; s < NCL; s++) ncl += cf[s] > 0;
  for (int s = 0; ncl < 2; s++)
    if (!cf[s]) cf[s] = 1, ncl++;
  uint8_t cl[NCL];
  huffman(cf, NCL, MAX_CL_BITS, cl);
  int hclen = NCL;
  while (hclen > 4 && !cl[CL_ORDER[hclen - 1]]) hclen--;
  uint64_t dyn_bits = 3 + 14 + 3 * (uint64_t)hclen + extra;
  for (int i = 0; i < ncls; i++) {
    int s = cls[i] & 31;
    dyn_bits += cl[s] + (s == 16 ? 2 : s == 17 ? 3 : s == 18 ? 7 : 0);
  }
  for (int s = 0; s < NLIT; s++) dyn_bits += (uint64_t)lf[s] * ll[s];
  for (int s = 0; s < NDIST; s++) dyn_bits += (uint64_t)df[s] * dl[s];

  size_t n = (b - a) * len;
  uint64_t stored_bits = 8 * ((uint64_t)n + 5 * (n / MAX_STORED + 1)) + 10;
  if (stored_bits <= fixed_bits && stored_bits <= dyn_bits) {
    stored(w, in + a * len, n, last);
  } else if (fixed_bits <= dyn_bits) {
    put(w, (uint32_t)last | 1u << 1, 3);
    put_symbols(z, w, z->sym, ns, z->fixed_lit, z->fixed_dist);
  } else {
    put(w, (uint32_t)last | 2u << 1, 3);
    put(w, (uint32_t)(hlit - 257), 5);
    put(w, (uint32_t)(hdist - 1), 5);
    put(w, (uint32_t)(hclen - 4), 4);
    for (int i = 0; i < hclen; i++) put(w, cl[CL_ORDER[i]], 3);
    hcode cc[NCL], lc[NLIT], dc[NDIST];
    canonical(cl, NCL, cc);
    canonical(ll, NLIT, lc);
    canonical(dl, NDIST, dc);
    for (int i = 0; i < ncls; i++) {
      int s = cls[i] & 31, x = cls[i] >> 5;
      put_code(w, cc[s]);
      if (s >= 16) put(w, (uint32_t)x, s == 16 ? 2 : s == 17 ? 3 : 7);
    }
    put_symbols(z, w, z->sym, ns, lc, dc);
  }
}

size_t ms_zplanes_compress(ms_zplanes *z, const unsigned char *in, size_t nplanes, size_t len, unsigned char *out,
                           size_t cap) {
  assert(nplanes <= z->max_planes && len <= z->max_len); /* the caller's sizes */
  if (cap < 6) return 0;
  bitw w = {out, 2, cap, 0, 0};
  out[0] = 0x78; /* deflate, a 32 KB window; */
  out[1] = 0x01; /* no dictionary, the fastest level: (0x78 << 8 | 0x01) % 31 == 0 */
  const size_t total = nplanes * len;
  /* what storing it all takes: the stream is never longer (short planes
   * of alternating kinds make a block each, each with its header) */
  const size_t all_stored = 2 + total + 5 * (total / MAX_STORED + 1) + 4;
  if (!total) {
    stored(&w, in, 0, 1);
  } else {
    for (size_t i = 0; i < nplanes; i++) classify(z, in, i, len);
    for (size_t a = 0; a < nplanes;) {
      size_t b = a + 1;
      const int raw = z->kind[a] == RAW;
      while (b < nplanes && (z->kind[b] == RAW) == raw) b++;
      if (raw)
        stored(&w, in + a * len, (b - a) * len, b == nplanes);
      else
        coded(z, &w, in, a, b, len, b == nplanes);
      a = b;
    }
  }
  align(&w);
  if (w.p + 4 > all_stored) {
    w = (bitw){out, 2, cap, 0, 0};
    stored(&w, in, total, 1);
  }
  uint32_t ad = libdeflate_adler32(1, in, total);
  if (w.p + 4 > cap) return 0;
  for (int i = 0; i < 4; i++) out[w.p + (size_t)i] = (unsigned char)(ad >> (24 - 8 * i));
  return w.p + 4;
}
