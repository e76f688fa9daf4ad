/*
 * mpi — the driver's collectives (see mpi.h): MPI's when built with it and
 * initialized, the single-process ones otherwise.
 *
 * The one #ifdef of MPI in the sources is here: the driver calls these
 * functions the same way in both builds.
 */
#include "driver/mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms_mpi_slice(int64_t first, int64_t n, int rank, int size, int64_t *sub_first, int64_t *sub_n) {
  if (size < 1) size = 1;
  int64_t base = n / size, extra = n % size, r = rank;
  *sub_first = first + r * base + (r < extra ? r : extra);
  *sub_n = base + (r < extra ? 1 : 0);
}

/* The bytes of one process, as a rank-0 gather of one rank returns them. */
static ms_status copy_bytes(const void *buf, size_t len, void **out, size_t *out_len, ms_error *err) {
  *out = malloc(len ? len : 1);
  *out_len = 0;
  if (!*out) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %zu bytes of results", len);
  if (len) memcpy(*out, buf, len);
  *out_len = len;
  return MS_OK;
}

#ifdef MS_HAVE_MPI

#include <mpi.h>

/* A gather beyond MPI's int counts and displacements (2 GiB in all) goes in
 * rounds through a staging buffer on rank 0 of at most this size. */
#define STAGE_MAX ((size_t)256 << 20)

/* MPI is used once initialized and until finalized; before, after, or in a
 * process that never initialized it, this is one process. */
static int active(void) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  if (!init) return 0;
  MPI_Finalized(&fin);
  return !fin;
}

static ms_status mpi_fail(int rc, const char *what, ms_error *err) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
  return ms_error_set(err, MS_ERR_IO, "MPI: %s: %s", what, text);
}

ms_status ms_mpi_init(int *argc, char ***argv, ms_error *err) {
  int init = 0, provided = 0;
  MPI_Initialized(&init);
  if (init) return MS_OK; /* an application's MPI: its to finalize */
  int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Init_thread", err);
  atexit(ms_mpi_finalize);
  if (provided < MPI_THREAD_FUNNELED)
    return ms_error_set(err, MS_ERR_INTERNAL, "MPI: the library provides thread level %d; marginsim needs "
                        "MPI_THREAD_FUNNELED (its OpenMP threads make no MPI call)", provided);
  return MS_OK;
}

void ms_mpi_finalize(void) {
  if (active()) MPI_Finalize();
}

int ms_mpi_launched(void) { return active(); }

int ms_mpi_rank(void) {
  int r = 0;
  if (active()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int ms_mpi_size(void) {
  int n = 1;
  if (active()) MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

/* Rank 0's verdict on what it allocated, to every rank: on failure, every
 * rank leaves the gather at the same point (rank 0 with NOMEM). */
static int root_ok(int ok) {
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return ok;
}

ms_status ms_mpi_gather_bytes_rounds(const void *buf, size_t len, size_t round_max, void **out, size_t *out_len,
                                     ms_error *err) {
  *out = NULL;
  *out_len = 0;
  if (!active()) return copy_bytes(buf, len, out, out_len, err);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size == 1) return copy_bytes(buf, len, out, out_len, err);
  ms_status s = MS_OK;
  uint64_t mine = len, *lens = NULL;
  int *counts = NULL, *displs = NULL;
  char *all = NULL, *stage = NULL;
  if (rank == 0) {
    lens = malloc((size_t)size * sizeof *lens);
    counts = malloc((size_t)size * sizeof *counts);
    displs = malloc((size_t)size * sizeof *displs);
  }
  if (!root_ok(rank != 0 || (lens && counts && displs))) {
    if (rank == 0) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for the gather of %d ranks", size);
    goto out;
  }
  int rc = MPI_Gather(&mine, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) { s = mpi_fail(rc, "MPI_Gather", err); goto out; }
  uint64_t total = 0, longest = len;
  if (rank == 0)
    for (int r = 0; r < size; r++) total += lens[r];
  if (rank == 0) all = malloc(total ? (size_t)total : 1);
  if (!root_ok(rank != 0 || all)) {
    if (rank == 0) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for %llu bytes of results",
                                    (unsigned long long)total);
    goto out;
  }
  /* In one round straight into place when MPI's int counts allow; else in
   * rounds of at most round_max bytes through a staging buffer. */
  if (round_max > (size_t)INT_MAX) round_max = (size_t)INT_MAX;
  int one = rank == 0 && total <= round_max;
  MPI_Bcast(&one, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (one) {
    if (rank == 0)
      for (int r = 0, off = 0; r < size; r++) { counts[r] = (int)lens[r]; displs[r] = off; off += (int)lens[r]; }
    rc = MPI_Gatherv(buf, (int)len, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) s = mpi_fail(rc, "MPI_Gatherv", err);
  } else {
    uint64_t per = (round_max < STAGE_MAX ? round_max : STAGE_MAX) / (size_t)size;
    if (per < 1) per = 1;
    rc = MPI_Allreduce(&mine, &longest, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) { s = mpi_fail(rc, "MPI_Allreduce", err); goto out; }
    if (rank == 0) stage = malloc((size_t)(per * (uint64_t)size));
    if (!root_ok(rank != 0 || stage)) {
      if (rank == 0) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for the gather's staging buffer");
      goto out;
    }
    uint64_t rounds = (longest + per - 1) / per;
    for (uint64_t k = 0; k < rounds && !s; k++) {
      uint64_t at = k * per, cnt = len > at ? (len - at < per ? len - at : per) : 0;
      if (rank == 0)
        for (int r = 0, off = 0; r < size; r++) {
          counts[r] = (int)(lens[r] > at ? (lens[r] - at < per ? lens[r] - at : per) : 0);
          displs[r] = off;
          off += counts[r];
        }
      rc = MPI_Gatherv(cnt ? (const char *)buf + at : buf, (int)cnt, MPI_BYTE, stage, counts, displs, MPI_BYTE, 0,
                       MPI_COMM_WORLD);
      if (rc != MPI_SUCCESS) { s = mpi_fail(rc, "MPI_Gatherv", err); break; }
      if (rank == 0) {
        uint64_t base = 0;
        for (int r = 0; r < size; r++) {
          memcpy(all + base + at, stage + displs[r], (size_t)counts[r]);
          base += lens[r];
        }
      }
    }
  }
  if (!s && rank == 0) {
    *out = all;
    *out_len = (size_t)total;
    all = NULL;
  }
out:
  free(lens);
  free(counts);
  free(displs);
  free(all);
  free(stage);
  return s;
}

ms_status ms_mpi_agree_status(ms_status local, ms_error *err) {
  if (!active()) return local;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int me = local != MS_OK ? rank : size, first = size;
  MPI_Allreduce(&me, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first == size) return MS_OK;
  if (rank == first) err->status = local; /* the status is the one passed, whatever err held */
  MPI_Bcast(err, (int)sizeof *err, MPI_BYTE, first, MPI_COMM_WORLD);
  return err->status;
}

int ms_mpi_agree_max(int local) {
  if (!active()) return local;
  int all = local;
  MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return all;
}

ms_status ms_mpi_bcast(void *buf, size_t len, int root, ms_error *err) {
  if (!active()) return MS_OK;
  for (size_t at = 0; at < len;) {
    int n = len - at < (size_t)INT_MAX ? (int)(len - at) : INT_MAX;
    int rc = MPI_Bcast((char *)buf + at, n, MPI_BYTE, root, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Bcast", err);
    at += (size_t)n;
  }
  return MS_OK;
}

#else /* one process */

ms_status ms_mpi_init(int *argc, char ***argv, ms_error *err) { return MS_OK; }

void ms_mpi_finalize(void) {}

int ms_mpi_launched(void) { return 0; }

int ms_mpi_rank(void) { return 0; }

int ms_mpi_size(void) { return 1; }

ms_status ms_mpi_gather_bytes_rounds(const void *buf, size_t len, size_t round_max, void **out, size_t *out_len,
                                     ms_error *err) {
  return copy_bytes(buf, len, out, out_len, err);
}

ms_status ms_mpi_agree_status(ms_status local, ms_error *err) { return local; }

int ms_mpi_agree_max(int local) { return local; }

ms_status ms_mpi_bcast(void *buf, size_t len, int root, ms_error *err) { return MS_OK; }

#endif

ms_status ms_mpi_gather_bytes(const void *buf, size_t len, void **out, size_t *out_len, ms_error *err) {
  return ms_mpi_gather_bytes_rounds(buf, len, (size_t)INT_MAX, out, out_len, err);
}
