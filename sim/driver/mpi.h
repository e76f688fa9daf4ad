/*
 * mpi — what the driver and the CLI need of MPI, and nothing of its types.
 *
 * `mpirun -n K marginsim run|sweep|check ...` splits every batch of paths
 * into K contiguous slices in rank order; each rank runs its slice on its
 * OpenMP threads, packs what its paths produced and sends the bytes to
 * rank 0, which writes them in path order exactly as one process would
 * (docs/scaling.md). The calls here are collectives: every rank must make
 * the same calls in the same order, which is why the driver decides at
 * the same points on every rank (after each batch, at the end) through
 * ms_mpi_agree_status.
 *
 * Built without MPI (the default; cmake -DMARGINSIM_MPI=ON builds with it)
 * every call is the single-process one: rank 0 of 1, gathers copy, agree
 * returns the local status. Built with MPI but not launched under it (no
 * MPI_Init: the library in an application, the tests), the same: MPI is
 * used only once it is initialized. The header names no MPI type, so
 * nothing that includes it needs mpi.h.
 *
 * Communicator: MPI_COMM_WORLD. Threads: the calls are made by the thread
 * that called ms_run (outside the OpenMP regions); MPI_THREAD_FUNNELED is
 * enough, and ms_mpi_init asks for it.
 */
#ifndef MARGINSIM_MPI_H
#define MARGINSIM_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "marginsim/error.h"

/**
 * Initialize MPI when built with it (MPI_Init_thread, FUNNELED): the CLI
 * calls it first thing in main. A process not started by mpirun becomes a
 * singleton (rank 0 of 1). Registers ms_mpi_finalize with atexit, so that
 * every way out of main finalizes. Built without MPI: a no-op, MS_OK.
 */
ms_status ms_mpi_init(int *argc, char ***argv, ms_error *err);

/** MPI_Finalize once, if initialized and not yet finalized; else nothing. */
void ms_mpi_finalize(void);

/** 1 when MPI is initialized and not finalized (a build with MPI, after ms_mpi_init); else 0. */
int ms_mpi_launched(void);

/** This process's rank (0 without MPI, or before ms_mpi_init). */
int ms_mpi_rank(void);

/** The number of ranks (1 without MPI, or before ms_mpi_init). */
int ms_mpi_size(void);

/**
 * Rank @p rank's slice of the batch [first, first + n) over @p size ranks:
 * [*sub_first, *sub_first + *sub_n). The slices are contiguous, in rank
 * order, cover the batch, and differ in length by at most one (the first
 * n % size ranks get one more); a rank may get none when n < size.
 */
void ms_mpi_slice(int64_t first, int64_t n, int rank, int size, int64_t *sub_first, int64_t *sub_n);

/**
 * Collective: every rank's @p len bytes at @p buf, concatenated in rank
 * order, into a new buffer on rank 0 (*@p out, malloc'd, the caller frees
 * it; *@p out_len its length). On other ranks *@p out is NULL and
 * *@p out_len 0. Lengths may differ between ranks and be 0; totals beyond
 * 2 GiB (MPI's int counts) go in several rounds. Single process: a copy.
 * A failure (MS_ERR_NOMEM on rank 0, an MPI error) is this rank's status:
 * follow with ms_mpi_agree_status so that every rank learns of it.
 */
ms_status ms_mpi_gather_bytes(const void *buf, size_t len, void **out, size_t *out_len, ms_error *err);

/** ms_mpi_gather_bytes with totals above @p round_max (capped at INT_MAX) in rounds: tests reach them with a small one. */
ms_status ms_mpi_gather_bytes_rounds(const void *buf, size_t len, size_t round_max, void **out, size_t *out_len,
                                     ms_error *err);

/**
 * Collective: every rank passes its own status (and, when it failed, its
 * message in @p err); every rank returns the status of the lowest failing
 * rank, with that rank's message in @p err (MS_OK on all when none failed).
 * Ranks hold contiguous slices in path order, so the lowest failing rank
 * holds the first failing path: the message one process would give.
 */
ms_status ms_mpi_agree_status(ms_status local, ms_error *err);

/** Collective: the largest of every rank's @p local (a cancel flag, a signal number): all get the same. */
int ms_mpi_agree_max(int local);

/** Collective: @p len bytes at @p buf from rank @p root to every rank (small data: a flag, a report). */
ms_status ms_mpi_bcast(void *buf, size_t len, int root, ms_error *err);

#endif
