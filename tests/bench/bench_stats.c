/*
 * bench_stats — time of ms_stats_compute on synthetic summary rows
 * (every third column 90% zeros, the others exponential), at each thread
 * count asked for, and a check that every count gives the same bytes:
 *   gcc -O2 -std=c11 -fopenmp -D_POSIX_C_SOURCE=200809L -Iinclude -Isim -o /tmp/bench_stats \
 *       tests/bench/bench_stats.c build/libmarginsim.a -lgsl -lgslcblas -lyaml -lm
 *   /tmp/bench_stats [PATHS [THREADS...]]      (default: 1000000 paths, 1 and 2 threads)
 * Exit 1 when two thread counts differ.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/stats.h"

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  ms_config *cfg = NULL;
  ms_error e;
  const char *y = "name: t\nseed: 5\npaths: 10\nhorizon: 1h\nstep: 1s\nmarket:\n  regimes:\n"
                  "    - {name: calm, vol: 0.5}\n    - {name: stress, vol: 1.5}\nbook: {accounts: 10}\n";
  if (ms_config_load_string(&cfg, y, "t.yaml", NULL, 0, &e)) {
    printf("%s\n", e.msg);
    return 1;
  }
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  int nj = argc > 2 ? argc - 2 : 2, js[16] = {1, 2};
  for (int i = 0; i < nj && i < 16; i++)
    if (argc > 2) js[i] = atoi(argv[2 + i]);
  if (nj > 16) nj = 16;
  ms_path_summary *r = calloc((size_t)n, sizeof *r);
  unsigned long s = 1;
  ms_column cols[MS_MAX_COLUMNS];
  int nc = ms_stats_columns(cfg, cols, MS_MAX_COLUMNS);
  for (long i = 0; i < n; i++) {
    r[i].path = (uint64_t)i;
    for (int c = 1; c < nc; c++) {
      s = s * 6364136223846793005ul + 1442695040888963407ul;
      double u = ((double)(s >> 11) + 0.5) * 0x1p-53;
      double v = (c % 3 == 0) ? (u < 0.1 ? -log(u) * 1000 : 0) : -log(u) * 1000;
      char *p = (char *)&r[i] + cols[c].offset;
      if (cols[c].type == MS_COL_F64) *(double *)p = v;
      else *(int64_t *)p = (int64_t)v;
    }
  }
  ms_stats *first = calloc(1, sizeof *first), *st = calloc(1, sizeof *st);
  int rc = 0;
  for (int i = 0; i < nj; i++) {
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    ms_colsrc src = ms_colsrc_rows(r, n);
    if (ms_stats_compute(i ? st : first, cfg, &src, js[i], &e)) {
      printf("%s\n", e.msg);
      return 1;
    }
    int same = i == 0 || memcmp(first, st, sizeof *st) == 0;
    /* CPU time beside the wall time: on a shared machine the wall time of
     * two threads says little, their CPU time says what they cost */
    printf("%d columns, %ld paths, %d thread(s): ms_stats_compute %.2f s (CPU %.2f s)%s\n", nc - 1, n, js[i],
           clock_s(CLOCK_MONOTONIC) - t0, clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0,
           i == 0 ? "" : same ? ", identical" : ", DIFFERENT");
    if (!same) rc = 1;
  }
  free(first);
  free(st);
  free(r);
  ms_config_free(cfg);
  return rc;
}
