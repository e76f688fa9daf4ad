/*
 * run — plan, threads, batches, journal, output (see run.h).
 *
 * Each batch of paths runs in parallel; every path writes its own summary
 * row and appends its cascade and liquidation records to its thread's
 * scratch areas (output/scratch.h: an append buffer in front of a file
 * beside the result, so a batch's records take little memory), noting
 * where they are. The batch is packed in path order into a frame of the
 * run's journal, "<result>.partial" (output/journal.h): by a writer thread
 * as its paths finish (one process), or after the batch (MPI, or records
 * kept in memory). When every path is in, the result file is assembled
 * from the journal frame by frame (an uncompressed /liquidations by a
 * copier thread of its own), the summary columns go to a column store on
 * the way, and the statistics read the columns from there one at a time. Memory is thus bounded by a batch and the book,
 * not by the number of paths or of liquidations, and an interrupted run
 * can go on from its last complete frame (ms_run_opts.resume): the result
 * file is assembled from the same frames either way, so it is the same.
 *
 * A frame is, for each path in order and for each cell asked for (the
 * no-feedback twins write nothing of their own): the summary row; the
 * number of cascade records (uint64) and the records; the number of
 * liquidation records and the records (none unless output.liquidations);
 * the trace of the path (TRACE_FIELDS x ms_trace_len doubles) when the path
 * is traced; its fan samples (3 x output.fan.points doubles) when fanned.
 * After the paths, the frame's number of liquidation records of each cell
 * (uint64): assemble() reads them from every frame first, to create
 * /liquidations of its final length. pack_paths() and pack_tail() write a
 * frame, assemble() reads it.
 */
#include "driver/run.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/acctindex.h"
#include "models/market.h"
#include "core/series.h"
#include "core/gslguard.h"
#include "core/heap.h"
#include "output/assertion.h"
#include "models/book.h"
#include "engine/engine.h"
#include "output/h5out.h"
#include "models/margin.h"
#include "models/pricepath.h"
#include "output/journal.h"
/* A journal records the build that began it (MS_JOURNAL_BUILD): a resume by
 * another build (even of the same version: sources or flags changed) would
 * mix two builds' paths in one file. */
#include "ms_build_id.h"
#include "output/outfile.h"
#include "output/result.h"
#include "output/scratch.h"
#include "driver/mpi.h"

/* HDF5: every call the library makes into it goes through h5out, and the
 * driver makes those calls only with this lock held. A thread-safe HDF5
 * (Debian's libhdf5 is built so: H5is_library_threadsafe) takes its own
 * global lock anyway; a serial build, which must never be entered by two
 * threads at once and keeps one error stack for the process, is safe for
 * concurrent runs with files only because of it. It also guards outfile's
 * table of temporaries (filled and emptied inside ms_h5out_create, commit
 * and abort). A statically initialized mutex: with the once-flag of
 * core/gslguard.c and that table, the library's process state. Runs
 * without a file never take it and never call HDF5. */
static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;

static void h5_lock(void) { pthread_mutex_lock(&h5_mutex); }
static void h5_unlock(void) { pthread_mutex_unlock(&h5_mutex); }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Records of one thread's paths of the current batch. */
typedef struct {
  ms_scratch *liq, *cas;    /* liquidation and cascade records, as appended; NULL: a twin's */
  int keep_liq;             /* output.liquidations (or kept in memory): liq holds them */
  size_t nl, nc;            /* the current path's records delivered so far */
} thread_buf;

/* Where a path's records are: bytes into its thread's scratch areas, and how many. */
typedef struct {
  int thread;
  uint64_t liq_off, cas_off;
  size_t liq_n, cas_n;
} path_slot;

#define TRACE_FIELDS 9

/* Tapes (one per thread) beyond this in all are not kept: the cells
 * regenerate their paths (the same ticks). Every run with impact has its
 * no-feedback twin, so this bounds what a plain run spends on tapes. */
#define TAPE_MAX_BYTES ((int64_t)512 << 20)

/* What the driver is asked to run: one configuration and where it goes. */
typedef struct {
  const ms_config *cfg;
  const char *label;        /* names the cell in messages; NULL for a single run */
  const char *parent, *leaf;/* its group (ms_h5out_add_run); leaf NULL: the root */
  const char *const *attrs; /* extra string attributes of the group */
  int timeseries, book;     /* write /timeseries, /book */
  int hidden;               /* a no-feedback twin: no group of its own, its results go to its cell's rows */
  int keep;                 /* keep its liquidation records in memory (ms_simulate; with output.liquidations) */
  int keep_rows;            /* keep every path's row in memory (ms_simulate), not just a batch's */
} cell_spec;

/* One cell's state. */
typedef struct {
  const cell_spec *spec;
  int h5id;
  ms_book *book;            /* shared by its threads (per_run books) */
  ms_index_static *index;
  ms_engine **eng;          /* per thread */
  thread_buf *tb;           /* per thread */
  ms_path_summary *rows;    /* the batch's paths (spec->keep_rows: every path) */
  ms_path_summary *arows;   /* assembly: one frame's rows */
  ms_column cols[MS_MAX_COLUMNS]; /* the columns it keeps in the column store, from colbase on: its
                                     own, then the other cells' it lacks (colstore_layout) */
  int ncols;
  uint64_t colbase;         /* in doubles */
  ms_trace *traces;         /* one per traced path of a batch */
  void *trace_mem;
  int64_t ntrace_slots, trace_len, traced;
  double *fan_mem;          /* per fan path of a batch: price, mark, regime (as int32), fan_len each */
  int64_t fan_len, fanned;  /* samples per path; paths sampled (the first ones) */
  path_slot *slots;         /* per path of a batch */
  ms_liq_record *kept;      /* with spec->keep: every record so far, in file order */
  size_t nkept, capkept;
  int64_t liq_seen;         /* assembly: liquidation records read from the journal */
  int tape_mode;            /* MS_TAPE_*: record, replay or generate its paths */
  int twin;                 /* the cell of its no-feedback twin; -1: none (then, with
                               stats.counterfactual, the cell has no impact and is its own twin) */
  int borrowed;             /* a twin: book and index are its cell's (the same configuration but
                               for impact), not its own; a second copy doubled their memory */
} cell_state;

/* The whole plan: cells, threads, tapes, per-path status of a batch. */
typedef struct {
  int ncells, nthreads;
  int nvisible;             /* the cells asked for; their twins follow them in cells[] */
  cell_state *cells;
  cell_spec *twin_spec;     /* [ncells - nvisible] */
  ms_config *twin_cfg;      /* [ncells - nvisible] */
  char (*twin_label)[320];  /* [ncells - nvisible] */
  int *order;               /* cells in the order a path runs them: tape classes together */
  int64_t paths, batch;
  ms_pricetape **tapes;     /* per thread; NULL when no cell replays */
  ms_status *st;            /* per path of a batch: the first failure */
  ms_error *errs;
  int *failed;              /* the cell that failed */
  int64_t replayed;         /* cell-paths that replayed a tape */
  char *dir;                /* where scratch files go (the result's folder); NULL: memory */
  ms_journal *j;            /* the run's journal (a run with a file) */
  int64_t done;             /* paths already in the journal when the run began (a resumed run) */
  int64_t created;          /* Unix time the run began (kept by the journal) */
  ms_scratch *colstore;     /* the summary columns of every cell, for the statistics */
  int rank, nranks;         /* MPI: this rank of nranks sharing each batch; one process: 0 of 1 */
  uint64_t unflushed;       /* assembly: record bytes written to the file since its writeback last began */
  uint64_t *cnt;            /* [nvisible]: a frame's liquidation records per cell (its tail) */
  int64_t *liq_total;       /* [nvisible]: assembly: every frame's, from the tails */
  struct copier *cp;        /* assembly: the thread writing /liquidations' rows; NULL: none */
  const volatile sig_atomic_t *cancel; /* the run's (ms_run_opts.cancel): also the statistics' */
  ms_h5out *h;              /* the result file while the paths run (its temporary touched each batch); NULL: none */
} run_plan;

/* A signal during the set-up (books of millions of accounts take seconds to
 * draw and write) stops the run as promptly as one during the paths. */
static ms_status cancelled(const volatile sig_atomic_t *cancel, ms_error *err) {
  return cancel && *cancel ? ms_error_set(err, MS_ERR_CANCELLED, "interrupted") : MS_OK;
}

static void cell_free(cell_state *c, int nthreads) {
  if (c->eng)
    for (int i = 0; i < nthreads; i++) ms_engine_free(c->eng[i]);
  if (c->tb)
    for (int i = 0; i < nthreads; i++) {
      ms_scratch_free(c->tb[i].liq);
      ms_scratch_free(c->tb[i].cas);
    }
  free(c->eng);
  free(c->tb);
  free(c->rows);
  free(c->arows);
  free(c->traces);
  free(c->trace_mem);
  free(c->fan_mem);
  free(c->slots);
  free(c->kept);
  if (!c->borrowed) ms_engine_shared_free(c->book, c->index);
  memset(c, 0, sizeof *c);
}

static ms_status copier_join(run_plan *pl, ms_h5out *h, ms_status s, ms_error *err);

static void plan_free(run_plan *pl) {
  ms_error ignored; /* finish() has waited for it; this only in case a path to it was missed */
  copier_join(pl, NULL, MS_ERR_INTERNAL, &ignored);
  if (pl->cells) /* twins (after their cells) first: they borrow their cells' books */
    for (int c = pl->ncells - 1; c >= 0; c--) cell_free(&pl->cells[c], pl->nthreads);
  if (pl->tapes)
    for (int i = 0; i < pl->nthreads; i++) ms_pricetape_free(pl->tapes[i]);
  free(pl->cells);
  free(pl->twin_spec);
  free(pl->twin_cfg);
  free(pl->twin_label);
  free(pl->order);
  free(pl->tapes);
  free(pl->st);
  free(pl->errs);
  free(pl->failed);
  free(pl->dir);
  free(pl->cnt);
  free(pl->liq_total);
  ms_scratch_free(pl->colstore);
  ms_journal_close(pl->j); /* finish() has dealt with it; kept if not */
  memset(pl, 0, sizeof *pl);
}

static ms_status liq_sink(void *ctx, const ms_liq_record *r, size_t n, ms_error *err);
static ms_status cas_sink(void *ctx, const ms_cascade_record *c, size_t n, ms_error *err);

/* @p book_of: the cell whose book and index this one (its twin) uses; NULL: its own. */
static ms_status cell_init(cell_state *c, const cell_spec *spec, int nthreads, int64_t batch,
                           const cell_state *book_of, const char *dir, ms_error *err) {
  const ms_config *cfg = spec->cfg;
  memset(c, 0, sizeof *c);
  c->spec = spec;
  ms_status s = MS_OK;
  if (book_of) {
    c->book = book_of->book;
    c->index = book_of->index;
    c->borrowed = 1;
  } else {
    s = ms_engine_shared_new(cfg, &c->book, &c->index, err);
  }
  if (s) return s;
  c->eng = calloc((size_t)nthreads, sizeof *c->eng);
  c->tb = calloc((size_t)nthreads, sizeof *c->tb);
  c->rows = calloc((size_t)(spec->keep_rows ? cfg->paths : batch), sizeof *c->rows);
  c->slots = calloc((size_t)batch, sizeof *c->slots);
  if (!c->eng || !c->tb || !c->rows || !c->slots)
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %lld path summaries",
                        (long long)(spec->keep_rows ? cfg->paths : batch));
  c->ncols = ms_stats_columns(cfg, c->cols, MS_MAX_COLUMNS);
  for (int i = 0; i < nthreads && !spec->hidden; i++) {
    s = ms_scratch_new(&c->tb[i].cas, dir, err);
    if (!s) s = ms_scratch_new(&c->tb[i].liq, dir, err);
    if (s) return s;
  }
  c->traced = spec->timeseries ? (cfg->output.timeseries.paths < cfg->paths ? cfg->output.timeseries.paths
                                                                            : cfg->paths)
                               : 0;
  c->fanned = spec->timeseries ? (cfg->output.fan.paths < cfg->paths ? cfg->output.fan.paths : cfg->paths) : 0;
  c->fan_len = cfg->output.fan.points;
  if (c->fanned > 0) {
    int64_t slots = c->fanned < batch ? c->fanned : batch;
    c->fan_mem = malloc((size_t)(slots * 3 * c->fan_len) * sizeof *c->fan_mem);
    if (!c->fan_mem) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the fan samples");
  }
  c->ntrace_slots = c->traced < batch ? c->traced : batch;
  c->trace_len = ms_trace_len(cfg);
  if (c->ntrace_slots > 0) {
    size_t cells = (size_t)(c->ntrace_slots * c->trace_len);
    c->traces = calloc((size_t)c->ntrace_slots, sizeof *c->traces);
    c->trace_mem = malloc(cells * TRACE_FIELDS * sizeof(double));
    if (!c->traces || !c->trace_mem) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for time series");
    double *d = c->trace_mem;
    for (int64_t k = 0; k < c->ntrace_slots; k++) {
      ms_trace *t = &c->traces[k];
      size_t L = (size_t)c->trace_len;
      t->price = d; d += L;
      t->mark = d; d += L;
      t->oracle = d; d += L;
      t->open_interest = d; d += L;
      t->insurance = d; d += L;
      t->margin_ratio = d; d += L;
      t->regime = (int32_t *)d; d += L; /* int32 in a double-sized slot: simple, aligned */
      t->liquidations = (int32_t *)d; d += L;
      t->funding_rate = d; d += L;
    }
  }
  for (int i = 0; i < nthreads; i++) {
    s = ms_engine_new_beside(&c->eng[i], cfg, c->book, c->index, i ? c->eng[0] : NULL, err);
    if (s) return s;
    c->tb[i].keep_liq = !spec->hidden && (cfg->output.liquidations || spec->keep);
    ms_engine_set_sinks(c->eng[i], liq_sink, cas_sink, &c->tb[i]);
  }
  return MS_OK;
}

/* Prefix a cell's error with its label. */
static ms_status cell_fail(const cell_spec *spec, ms_status s, ms_error *err) {
  if (!s || !spec->label) return s;
  ms_error e = *err;
  return ms_error_set(err, s, "%s: %s", spec->label, e.msg);
}

/* Whether the threads' tapes of @p cfg's paths fit in TAPE_MAX_BYTES. */
static int tapes_fit(const ms_config *cfg, int nthreads) {
  return ms_pricetape_bytes(cfg) <= TAPE_MAX_BYTES / nthreads;
}

/* Group cells whose exogenous paths coincide: the first of each group
 * records its paths on the thread's tape, the others replay them. */
static ms_status plan_tapes(run_plan *pl, ms_error *err) {
  int n = pl->ncells, k = 0, best = -1;
  if (n < 1) return ms_error_set(err, MS_ERR_INTERNAL, "no cells");
  int *cls = malloc((size_t)n * sizeof *cls), *size = calloc((size_t)n, sizeof *size);
  pl->order = malloc((size_t)n * sizeof *pl->order);
  if (!cls || !size || !pl->order) { free(cls); free(size); return ms_error_set(err, MS_ERR_NOMEM, "out of memory"); }
  for (int c = 0; c < n; c++) {
    cls[c] = c;
    for (int d = 0; d < c; d++)
      if (cls[d] == d && ms_pricepath_same_path(pl->cells[d].spec->cfg, pl->cells[c].spec->cfg) &&
          !pl->cells[d].spec->cfg->book.markets.enabled && !pl->cells[c].spec->cfg->book.markets.enabled) {
        cls[c] = d; /* a book of several markets draws its own paths: no tapes */
        break;
      }
    size[cls[c]]++;
  }
  for (int c = 0; c < n; c++) {
    if (cls[c] != c) continue;
    for (int d = c; d < n; d++)
      if (cls[d] == c) pl->order[k++] = d;
    const ms_config *cfg = pl->cells[c].spec->cfg;
    if (size[c] > 1 && tapes_fit(cfg, pl->nthreads) &&
        (best < 0 || ms_pricetape_bytes(cfg) > ms_pricetape_bytes(pl->cells[best].spec->cfg)))
      best = c;
  }
  for (int c = 0; c < n; c++) {
    int leader = cls[c];
    int ok = size[leader] > 1 && tapes_fit(pl->cells[leader].spec->cfg, pl->nthreads);
    pl->cells[c].tape_mode = !ok ? MS_TAPE_OFF : c == leader ? MS_TAPE_RECORD : MS_TAPE_REPLAY;
  }
  free(cls);
  free(size);
  if (best < 0) return MS_OK;
  pl->tapes = calloc((size_t)pl->nthreads, sizeof *pl->tapes);
  if (!pl->tapes) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  for (int i = 0; i < pl->nthreads; i++) {
    ms_status s = ms_pricetape_new(&pl->tapes[i], pl->cells[best].spec->cfg, err);
    if (s) return s;
  }
  return MS_OK;
}

/* How two cells' runs relate for their paired differences: whether they draw the same price path. */
static ms_pair_relation pair_relation(const ms_config *a, const ms_config *b) {
  return ms_pricepath_same_path(a, b) ? MS_PAIR_SAME_PATH : MS_PAIR_OTHER_PATH;
}

/* Whether @p cfg's paths run a no-feedback twin beside them. */
static int needs_twin(const ms_config *cfg) {
  /* a book of several markets: its assets' impacts (market.impact is the traded asset's, one of them) */
  int law = cfg->market.impact.model->law != NULL && !cfg->book.markets.enabled;
  for (int j = 0; j < cfg->market.nassets && cfg->book.markets.enabled; j++)
    law |= cfg->market.assets[j].impact.model->law != NULL;
  return cfg->stats.counterfactual && law;
}

/* The twin of @p spec: the same configuration with market.impact.model none,
 * as `--set market.impact.model=none` would give (the impact's other keys
 * then play no part), writing nothing of its own. */
static void twin_of(const cell_spec *spec, ms_config *cfg, cell_spec *tw, char *label, size_t len) {
  *cfg = *spec->cfg; /* a shallow copy: it owns nothing, and is never ms_config_free'd */
  cfg->market.impact.model = &ms_impact_none;
  for (int j = 0; j < cfg->market.nassets; j++) cfg->market.assets[j].impact.model = &ms_impact_none;
  cfg->stats.contagion = 0; /* the twin's: not read */
  cfg->output.liquidations = 0;
  if (spec->label) snprintf(label, len, "%s, its no-feedback twin", spec->label);
  else snprintf(label, len, "the no-feedback twin (market.impact.model none)");
  *tw = (cell_spec){.cfg = cfg, .label = label, .hidden = 1};
}

static char *folder_of(const char *path);

/* Plan the cells of @p spec; with @p output (the result file) the batches'
 * records go to scratch files in its folder, else to memory. */
/* Whether the run shares its batches with the other MPI ranks: set before
 * anything that may fail on one rank only, so that every rank reaches the
 * same agreements. ms_simulate keeps every row in memory (@p keep_rows):
 * it runs whole on each rank. */
static void plan_ranks(run_plan *pl, int keep_rows) {
  pl->nranks = keep_rows ? 1 : ms_mpi_size();
  pl->rank = pl->nranks > 1 ? ms_mpi_rank() : 0;
}

static ms_status plan_init(run_plan *pl, const cell_spec *spec, int ncells, int nthreads,
                           const volatile sig_atomic_t *cancel, const char *output, ms_error *err) {
  memset(pl, 0, sizeof *pl);
  pl->cancel = cancel;
  plan_ranks(pl, spec[0].keep_rows);
  if (ncells < 1) return ms_error_set(err, MS_ERR_INTERNAL, "no cells");
  if (output && !(pl->dir = folder_of(output))) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  int ntwins = 0;
  for (int c = 0; c < ncells; c++) ntwins += needs_twin(spec[c].cfg);
  pl->nvisible = ncells;
  pl->ncells = ncells + ntwins;
  pl->nthreads = nthreads;
  pl->paths = spec[0].cfg->paths;
  pl->batch = pl->paths;
  for (int c = 0; c < ncells; c++) {
    /* cells are paired path by path: the same paths under the same seed */
    if (spec[c].cfg->paths != pl->paths || spec[c].cfg->seed != spec[0].cfg->seed)
      return ms_error_set(err, MS_ERR_INPUT, "%s: every cell must have the same paths and seed as the first "
                          "(they are paired path by path)", spec[c].label ? spec[c].label : "cell");
    if (spec[c].cfg->output.chunk_paths < pl->batch) pl->batch = spec[c].cfg->output.chunk_paths;
  }
  pl->cells = calloc((size_t)pl->ncells, sizeof *pl->cells);
  pl->twin_spec = calloc((size_t)ntwins + 1, sizeof *pl->twin_spec);
  pl->twin_cfg = calloc((size_t)ntwins + 1, sizeof *pl->twin_cfg);
  pl->twin_label = calloc((size_t)ntwins + 1, sizeof *pl->twin_label);
  pl->st = calloc((size_t)pl->batch, sizeof *pl->st);
  pl->errs = calloc((size_t)pl->batch, sizeof *pl->errs);
  pl->failed = calloc((size_t)pl->batch, sizeof *pl->failed);
  pl->cnt = calloc((size_t)ncells, sizeof *pl->cnt);
  pl->liq_total = calloc((size_t)ncells, sizeof *pl->liq_total);
  if (!pl->cells || !pl->twin_spec || !pl->twin_cfg || !pl->twin_label || !pl->st || !pl->errs || !pl->failed ||
      !pl->cnt || !pl->liq_total)
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  for (int c = 0, t = 0; c < ncells; c++) {
    ms_status s = cancelled(cancel, err);
    if (!s) s = cell_init(&pl->cells[c], &spec[c], nthreads, pl->batch, NULL, pl->dir, err);
    if (s == MS_ERR_IO && output) { /* its scratch files beside the result */
      ms_error e = *err;
      return ms_error_set(err, s, "%s: cannot create the result file: %s", output, e.msg);
    }
    if (s) return cell_fail(&spec[c], s, err);
    pl->cells[c].twin = -1;
    if (!needs_twin(spec[c].cfg)) continue;
    twin_of(&spec[c], &pl->twin_cfg[t], &pl->twin_spec[t], pl->twin_label[t], sizeof pl->twin_label[t]);
    int k = ncells + t;
    s = cancelled(cancel, err);
    if (!s) s = cell_init(&pl->cells[k], &pl->twin_spec[t], nthreads, pl->batch, &pl->cells[c], pl->dir, err);
    if (s) return cell_fail(&pl->twin_spec[t], s, err);
    pl->cells[k].twin = -1;
    pl->cells[c].twin = k;
    t++;
  }
  return plan_tapes(pl, err);
}

/* /book: the run's book, or path 0's when books are drawn per path; written
 * in blocks so that a million accounts need no million-row buffer. */
#define BOOK_BLOCK 16384

/* The run's margin model and its book: @p shared, or path 0's drawn into
 * *@p own when books are drawn per path. The caller frees *@p m and *@p own. */
static ms_status margin_and_book(const ms_config *cfg, const ms_book *shared, ms_margin **m, ms_book **own,
                                 const ms_book **b, ms_error *err) {
  *own = NULL;
  *b = shared;
  ms_status s = ms_margin_new(m, cfg, err);
  if (!s && !shared) {
    s = ms_book_new(own, cfg, err);
    if (!s) s = ms_book_draw(*own, cfg, 0, *m, err);
    *b = *own;
  }
  return s;
}

static int nthreads_of(const ms_run_opts *opts) { return opts->threads > 0 ? opts->threads : omp_get_max_threads(); }

static ms_status write_book(ms_h5out *h, int id, const ms_config *cfg, const ms_book *shared, int threads,
                           const volatile sig_atomic_t *cancel, ms_error *err) {
  ms_margin *m = NULL;
  ms_book *own = NULL;
  ms_book_row *rows = NULL;
  const ms_book *b;
  ms_status s = margin_and_book(cfg, shared, &m, &own, &b, err);
  if (!s) {
    rows = malloc(BOOK_BLOCK * sizeof *rows);
    if (!rows) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for /book");
  }
  if (!s) {
    h5_lock();
    s = ms_h5out_create_book(h, id, b->n, ms_margin_get_type(m)->name, err);
    h5_unlock();
  }
  ms_view v0 = {cfg->market.initial_price, 0, cfg->market.entry_vol};
  for (int64_t first = 0; !s && first < b->n; first += BOOK_BLOCK) {
    int64_t cnt = b->n - first < BOOK_BLOCK ? b->n - first : BOOK_BLOCK;
    for (int64_t k = 0; k < cnt; k++) {
      int64_t i = first + k;
      ms_position p;
      ms_book_position(b, i, &p);
      double dep = ms_book_deposit(b, i), q = p.q, g = fabs(q) * b->entry;
      ms_book_row *row = &rows[k];
      *row = (ms_book_row){.account = i, .side = q > 0 ? 1 : q < 0 ? -1 : 0, .strategy = -1,
                           .collateral = dep, .quantity = q, .leverage = fabs(q) * b->entry / dep,
                           .initial_margin = ms_margin_pos_im(m, &p, b->entry, &v0),
                           .maintenance_margin = ms_margin_pos_mm(m, &p, b->entry, &v0),
                           .liquidation_price = NAN, .expiry = NAN};
      if (b->opt_of[i] < 0) {
        row->liquidation_price = ms_margin_threshold(m, p.C, q, b->entry);
      } else {
        row->strategy = b->opt[b->opt_of[i]].strategy;
        row->premium = p.C - dep;
        for (int l = 0; l < p.nlegs; l++) {
          if (p.legs[l].q < 0) g += -p.legs[l].q * b->entry;
          if (p.legs[l].is_call) { row->call_strike = p.legs[l].strike; row->call_qty = p.legs[l].q; }
          else { row->put_strike = p.legs[l].strike; row->put_qty = p.legs[l].q; }
          row->expiry = (double)p.legs[l].expiry / 1000.0;
        }
      }
      row->notional = g;
    }
    h5_lock();
    s = ms_h5out_write_book_rows(h, id, rows, first, cnt, threads, err);
    h5_unlock();
    if (!s) s = cancelled(cancel, err);
  }
  free(rows);
  ms_book_free(own);
  ms_margin_free(m);
  return s;
}

/* /book of a book of several markets: a row per position, written in blocks as write_book's, from the book engine
 * @p e drew (no path has run yet: open_groups). */
static ms_status write_multi_book(ms_h5out *h, int id, const ms_engine *e, int threads,
                                  const volatile sig_atomic_t *cancel, ms_error *err) {
  int64_t n = 0;
  const struct ms_multi *m = ms_engine_multi_book_of(e, &n);
  ms_multi_book_row *rows = NULL;
  ms_status s = m ? MS_OK : ms_error_set(err, MS_ERR_INTERNAL, "/book: the engine is not of several markets");
  if (!s) {
    rows = malloc(BOOK_BLOCK * sizeof *rows);
    if (!rows) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for /book");
  }
  if (!s) {
    h5_lock();
    s = ms_h5out_create_multi_book(h, id, n, err);
    h5_unlock();
  }
  for (int64_t first = 0; !s && first < n; first += BOOK_BLOCK) {
    int64_t cnt = n - first < BOOK_BLOCK ? n - first : BOOK_BLOCK;
    ms_engine_multi_book_rows(m, first, cnt, rows);
    h5_lock();
    s = ms_h5out_write_multi_book_rows(h, id, rows, first, cnt, threads, err);
    h5_unlock();
    if (!s) s = cancelled(cancel, err);
  }
  free(rows);
  return s;
}

/* The engine's sinks: a path's records go to its thread's scratch areas
 * as the engine delivers them, in blocks (MS_LIQ_BLOCK), so nothing grows
 * with the number of liquidations. A twin's, and the liquidation records
 * of a run without output.liquidations, are counted and dropped. */
static ms_status liq_sink(void *ctx, const ms_liq_record *r, size_t n, ms_error *err) {
  thread_buf *tb = ctx;
  tb->nl += n;
  return tb->keep_liq ? ms_scratch_append(tb->liq, r, n * sizeof *r, err) : MS_OK;
}

static ms_status cas_sink(void *ctx, const ms_cascade_record *c, size_t n, ms_error *err) {
  thread_buf *tb = ctx;
  tb->nc += n;
  return tb->cas ? ms_scratch_append(tb->cas, c, n * sizeof *c, err) : MS_OK;
}

/* One path, on the calling thread; its records go through the sinks. */
static ms_status one_path(ms_engine *e, thread_buf *tb, int thread, uint64_t p, ms_path_summary *row, ms_trace *tr,
                          path_slot *slot, ms_error *err) {
  slot->thread = thread;
  slot->liq_off = tb->liq ? ms_scratch_size(tb->liq) : 0;
  slot->cas_off = tb->cas ? ms_scratch_size(tb->cas) : 0;
  tb->nl = tb->nc = 0;
  ms_status s = ms_engine_run_path(e, p, row, tr, err);
  if (s) return s;
  /* the no-feedback twin's columns are the driver's: NaN until path_all_cells fills them */
  row->liquidated_notional_no_impact = row->bad_debt_no_impact = NAN;
  ms_stats_set_amplification(row, 0);
  slot->liq_n = tb->keep_liq ? tb->nl : 0;
  slot->cas_n = tb->cas ? tb->nc : 0;
  return MS_OK;
}

/* Row @p i of the batch that begins at path @p first. */
static ms_path_summary *row_of(const cell_state *cs, int64_t first, int64_t i) {
  return &cs->rows[cs->spec->keep_rows ? first + i : i];
}

/* Run path @p p of every cell on the calling thread, in plan order, so that
 * the cells sharing an exogenous path record it once and replay it. */
static void path_all_cells(run_plan *pl, int64_t i, uint64_t p, int th, const volatile sig_atomic_t *cancel) {
  pl->st[i] = MS_OK;
  for (int k = 0; k < pl->ncells; k++) {
    int c = pl->order[k];
    cell_state *cs = &pl->cells[c];
    if (cancel && *cancel) { pl->st[i] = MS_ERR_CANCELLED; return; }
    ms_engine_use_tape(cs->eng[th], cs->tape_mode ? pl->tapes[th] : NULL, cs->tape_mode);
    int64_t first = (int64_t)p - i;
    ms_trace *tr = (int64_t)p < cs->traced ? &cs->traces[i] : NULL;
    double *fan = (int64_t)p < cs->fanned ? cs->fan_mem + i * 3 * cs->fan_len : NULL;
    ms_engine_set_fan(cs->eng[th], fan, fan ? fan + cs->fan_len : NULL,
                      fan ? (int32_t *)(fan + 2 * cs->fan_len) : NULL);
    ms_status s = one_path(cs->eng[th], &cs->tb[th], th, p, row_of(cs, first, i), tr, &cs->slots[i], &pl->errs[i]);
    if (s) { pl->st[i] = s; pl->failed[i] = c; return; } /* a failed recording leaves nothing to replay */
  }
  for (int c = 0; c < pl->nvisible; c++) {
    const cell_state *cs = &pl->cells[c];
    if (!cs->spec->cfg->stats.counterfactual) continue;
    ms_path_summary *row = row_of(cs, (int64_t)p - i, i), *tw = cs->twin >= 0 ? &pl->cells[cs->twin].rows[i] : row;
    row->liquidations_no_impact = tw->liquidations;
    row->liquidated_notional_no_impact = tw->liquidated_notional;
    row->bad_debt_no_impact = tw->bad_debt;
    ms_stats_set_amplification(row, cs->twin < 0);
  }
}

/* Keep what cell @p cs's paths of a batch (n of them) recorded, in path
 * order: the order of the file's /liquidations. */
static ms_status keep_batch(cell_state *cs, int64_t n, ms_error *err) {
  for (int64_t i = 0; i < n; i++) {
    const path_slot *sl = &cs->slots[i];
    if (!sl->liq_n) continue;
    if (ms_grow((void **)&cs->kept, &cs->capkept, cs->nkept + sl->liq_n, sizeof *cs->kept))
      return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %zu liquidation records", cs->nkept + sl->liq_n);
    ms_status s = ms_scratch_pread(cs->tb[sl->thread].liq, sl->liq_off, cs->kept + cs->nkept,
                                   sl->liq_n * sizeof *cs->kept, err);
    if (s) return s;
    cs->nkept += sl->liq_n;
  }
  return MS_OK;
}

/* Where packed bytes go: the journal, or (MPI) a buffer. */
typedef ms_status (*put_fn)(void *ctx, const void *p, size_t n, ms_error *err);

/* Copy @p bytes at @p off of scratch @p sc to @p put; with @p consume,
 * they are not needed again (a streamed frame: see run_cells). */
static ms_status put_scratch(ms_scratch *sc, uint64_t off, uint64_t bytes, put_fn put, void *ctx, int consume,
                             ms_error *err) {
  if (!bytes) return MS_OK;
  ms_status s = ms_scratch_read(sc, off, bytes, put, ctx, err);
  if (!s && consume) ms_scratch_consume(sc, off + bytes);
  return s;
}

/* Pack paths @p i0 .. @p i1 - 1 of the batch that begins at path @p first
 * (see the top of this file for the layout); with @p consume, their
 * records are dropped from the scratch areas once packed. */
static ms_status pack_paths(const run_plan *pl, int64_t first, int64_t i0, int64_t i1, put_fn put, void *ctx,
                            int consume, ms_error *err) {
  ms_status s = MS_OK;
  for (int64_t i = i0; !s && i < i1; i++) {
    int64_t p = first + i;
    for (int c = 0; !s && c < pl->nvisible; c++) {
      const cell_state *cs = &pl->cells[c];
      const path_slot *sl = &cs->slots[i];
      const thread_buf *tb = &cs->tb[sl->thread];
      uint64_t nc = sl->cas_n, nl = sl->liq_n;
      s = put(ctx, row_of(cs, first, i), sizeof(ms_path_summary), err);
      if (!s) s = put(ctx, &nc, sizeof nc, err);
      if (!s) s = put_scratch(tb->cas, sl->cas_off, nc * sizeof(ms_cascade_record), put, ctx, consume, err);
      if (!s) s = put(ctx, &nl, sizeof nl, err);
      if (!s) s = put_scratch(tb->liq, sl->liq_off, nl * sizeof(ms_liq_record), put, ctx, consume, err);
      if (!s && p < cs->traced)
        s = put(ctx, (const double *)cs->trace_mem + i * TRACE_FIELDS * cs->trace_len,
                (size_t)(TRACE_FIELDS * cs->trace_len) * sizeof(double), err);
      if (!s && p < cs->fanned)
        s = put(ctx, cs->fan_mem + i * 3 * cs->fan_len, (size_t)(3 * cs->fan_len) * sizeof(double), err);
    }
  }
  return s;
}

static ms_status journal_put(void *ctx, const void *p, size_t n, ms_error *err) {
  return ms_journal_put(ctx, p, n, err);
}

/* The number of liquidation records of paths @p i0 .. @p i1 - 1 of the batch, per visible cell, into @p cnt. */
static void count_liqs(const run_plan *pl, int64_t i0, int64_t i1, uint64_t *cnt) {
  for (int c = 0; c < pl->nvisible; c++) {
    cnt[c] = 0;
    for (int64_t i = i0; i < i1; i++) cnt[c] += pl->cells[c].slots[i].liq_n;
  }
}

/* The end of a frame: @p cnt, each cell's liquidation records in it (see the top of this file). */
static ms_status pack_tail(const run_plan *pl, const uint64_t *cnt, put_fn put, void *ctx, ms_error *err) {
  return put(ctx, cnt, (size_t)pl->nvisible * sizeof *cnt, err);
}

/* ---- MPI: ranks share every batch (driver/mpi.h, docs/scaling.md) ----
 * Rank r runs slice r of each batch (ms_mpi_slice), packs its paths as the
 * journal's frame wants them, and rank 0 gathers the slices in rank order
 * (= path order) into the frame it appends, so the journal, and thus the
 * file, is the one-process one. The ranks agree on a status after each
 * batch, before the commit and at the end: set-up, the journal, the
 * assembly and the statistics are rank 0's alone, between those points.
 * A plan with nranks 1 (one process, or ms_simulate, which keeps every
 * row and runs whole on each rank) makes no MPI call. */

/* Every rank's status, agreed: the lowest failing rank's (its first failing path's). */
static ms_status agree(const run_plan *pl, ms_status s, ms_error *err) {
  return pl->nranks > 1 ? ms_mpi_agree_status(s, err) : s;
}

/* A growing buffer, for a rank's packed slice. */
typedef struct {
  unsigned char *p;
  size_t n, cap;
} membuf;

static ms_status membuf_put(void *ctx, const void *p, size_t n, ms_error *err) {
  membuf *b = ctx;
  if (ms_grow((void **)&b->p, &b->cap, b->n + n, 1))
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %zu bytes of a batch's results", b->n + n);
  memcpy(b->p + b->n, p, n);
  b->n += n;
  return MS_OK;
}

/* Paths @p i0 .. @p i0 + @p k - 1 of the batch of @p n paths at @p first
 * are this rank's: pack them, gather every rank's to rank 0, which appends
 * the frame. Collective; returns the agreed status. */
static ms_status gather_frame(run_plan *pl, int64_t first, int64_t n, int64_t i0, int64_t k, ms_error *err) {
  membuf b = {0};
  void *all = NULL, *cnts = NULL;
  size_t len = 0, clen = 0;
  uint64_t *cnt = calloc((size_t)pl->nvisible, sizeof *cnt);
  ms_status s = cnt ? MS_OK : ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  if (!s) s = pack_paths(pl, first, i0, i0 + k, membuf_put, &b, 0, err);
  s = agree(pl, s, err);
  if (!s) s = ms_mpi_gather_bytes(b.p, b.n, &all, &len, err);
  free(b.p);
  /* a gather can fail on rank 0 alone (its buffer for every rank's bytes):
   * every rank must know before the next collective call, or the others
   * would wait in it for ever */
  s = agree(pl, s, err);
  if (!s) { /* every rank's counts of the frame's tail, summed by rank 0 */
    count_liqs(pl, i0, i0 + k, cnt);
    s = ms_mpi_gather_bytes(cnt, (size_t)pl->nvisible * sizeof *cnt, &cnts, &clen, err);
  }
  if (!s && pl->j) {
    const uint64_t *rc = cnts;
    for (int c = 0; c < pl->nvisible; c++) cnt[c] = 0;
    for (size_t r = 0; r + (size_t)pl->nvisible <= clen / sizeof *cnt; r += (size_t)pl->nvisible)
      for (int c = 0; c < pl->nvisible; c++) cnt[c] += rc[r + (size_t)c];
    s = ms_journal_begin(pl->j, first, n, err);
    if (!s) s = ms_journal_put(pl->j, all, len, err);
    if (!s) s = pack_tail(pl, cnt, journal_put, pl->j, err);
    if (!s) s = ms_journal_end(pl->j, err);
  }
  free(all);
  free(cnts);
  free(cnt);
  return agree(pl, s, err);
}

/* A batch's frame written as its paths finish (one process with a journal,
 * no cell keeping records in memory), by a writer thread of its own: as
 * soon as the next path in order is done, the writer packs it into the
 * journal, taking its records straight from its thread's append buffer, so
 * they never go through the scratch file, while the paths go on being
 * computed (docs/performance.md, "Output costs"). The bytes are those
 * pack_paths writes after the batch; the frame's tail and end are the
 * calling thread's, once the writer is done with the batch. */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t more;     /* to the writer: a path done, a batch begun, the end */
  pthread_cond_t idle;     /* from the writer: the batch packed, or stopped */
  const run_plan *pl;
  unsigned char *finished; /* per path of the batch */
  int64_t first, n, next;  /* the batch; the next path to pack */
  int active;              /* a batch is being written */
  int stopped;             /* a path failed (its status is in pl->st), or packing did */
  int quit;
  ms_status st;            /* packing's failure */
  ms_error err;
  pthread_t thread;
} streamer;

static void *stream_writer(void *arg) {
  streamer *sm = arg;
  pthread_mutex_lock(&sm->lock);
  for (;;) {
    while (!sm->quit && !(sm->active && !sm->stopped && sm->next < sm->n && sm->finished[sm->next]))
      pthread_cond_wait(&sm->more, &sm->lock);
    if (sm->quit) break;
    int64_t q = sm->next;
    if (sm->pl->st[q]) {
      sm->stopped = 1; /* the frame is abandoned: nothing after it matters */
    } else {
      pthread_mutex_unlock(&sm->lock);
      ms_error e;
      ms_status s = pack_paths(sm->pl, sm->first, q, q + 1, journal_put, sm->pl->j, 1, &e);
      pthread_mutex_lock(&sm->lock);
      if (s) {
        sm->st = s;
        sm->err = e;
        sm->stopped = 1;
      } else {
        sm->next++;
      }
    }
    if (sm->stopped || sm->next == sm->n) pthread_cond_broadcast(&sm->idle);
  }
  pthread_mutex_unlock(&sm->lock);
  return NULL;
}

static void stream_path_done(streamer *sm, int64_t i) {
  pthread_mutex_lock(&sm->lock);
  sm->finished[i] = 1;
  if (i == sm->next) pthread_cond_signal(&sm->more);
  pthread_mutex_unlock(&sm->lock);
}

static void stream_begin(streamer *sm, int64_t first, int64_t n) {
  pthread_mutex_lock(&sm->lock);
  memset(sm->finished, 0, (size_t)n);
  sm->first = first;
  sm->n = n;
  sm->next = 0;
  sm->stopped = 0;
  sm->st = MS_OK;
  sm->active = 1;
  pthread_mutex_unlock(&sm->lock);
}

/* Wait for the writer to be done with the batch: its status. */
static ms_status stream_wait(streamer *sm, ms_error *err) {
  pthread_mutex_lock(&sm->lock);
  while (!sm->stopped && sm->next < sm->n) pthread_cond_wait(&sm->idle, &sm->lock);
  sm->active = 0;
  ms_status s = sm->st;
  if (s) *err = sm->err;
  pthread_mutex_unlock(&sm->lock);
  return s;
}

static ms_status stream_start(streamer *sm, const run_plan *pl, ms_error *err) {
  memset(sm, 0, sizeof *sm);
  sm->pl = pl;
  sm->finished = malloc((size_t)pl->batch);
  if (!sm->finished) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&sm->lock, NULL);
  pthread_cond_init(&sm->more, NULL);
  pthread_cond_init(&sm->idle, NULL);
  if (pthread_create(&sm->thread, NULL, stream_writer, sm) != 0) {
    pthread_cond_destroy(&sm->idle);
    pthread_cond_destroy(&sm->more);
    pthread_mutex_destroy(&sm->lock);
    free(sm->finished);
    return ms_error_set(err, MS_ERR_NOMEM, "cannot start the journal's writer thread");
  }
  return MS_OK;
}

static void stream_stop(streamer *sm) {
  pthread_mutex_lock(&sm->lock);
  sm->quit = 1;
  pthread_cond_signal(&sm->more);
  pthread_mutex_unlock(&sm->lock);
  pthread_join(sm->thread, NULL);
  pthread_cond_destroy(&sm->idle);
  pthread_cond_destroy(&sm->more);
  pthread_mutex_destroy(&sm->lock);
  free(sm->finished);
}

/* Run every path of every cell of @p pl from path pl->done on, each batch
 * into a frame of the journal (when there is one) and, for cells that keep
 * them, into memory. Batches of paths run in parallel, each thread taking
 * whole paths (all cells of one path). */
static ms_status run_cells(run_plan *pl, const ms_run_opts *opts, ms_error *err) {
  ms_status s = MS_OK;
  const volatile sig_atomic_t *cancel = opts->cancel;
  int nthreads = pl->nthreads;
  /* the engines look at the flag inside a path too: a long path stops within milliseconds */
  for (int c = 0; c < pl->ncells; c++)
    for (int i = 0; i < nthreads; i++) ms_engine_set_cancel(pl->cells[c].eng[i], cancel);
  if (opts->progress && pl->done > 0) opts->progress(opts->progress_ctx, pl->done, pl->paths);
  int nranks = pl->nranks;
  int stream = pl->j && nranks <= 1;
  for (int c = 0; c < pl->nvisible; c++) stream &= !pl->cells[c].spec->keep; /* keep_batch reads the scratch after */
  streamer sm;
  ms_error ignored;
  if (stream && stream_start(&sm, pl, &ignored) != MS_OK) stream = 0; /* no thread: packed after each batch */
  streamer *smp = stream ? &sm : NULL;
  for (int64_t first = pl->done; !s && first < pl->paths; first += pl->batch) {
    int64_t n = pl->paths - first < pl->batch ? pl->paths - first : pl->batch;
    if (pl->h) ms_h5out_touch(pl->h); /* a live run's temporary is never hours old */
    int64_t i0, k; /* this rank's paths of the batch: all of them in one process */
    ms_mpi_slice(0, n, pl->rank, nranks, &i0, &k);
    for (int c = 0; !s && c < pl->nvisible; c++)
      for (int i = 0; !s && i < nthreads; i++) {
        s = ms_scratch_reset(pl->cells[c].tb[i].liq, err);
        if (!s) s = ms_scratch_reset(pl->cells[c].tb[i].cas, err);
      }
    if (s) k = 0; /* still to the agreement below, with the other ranks */
    if (!s && smp) {
      s = ms_journal_begin(pl->j, first, n, err);
      if (s) k = 0;
      else stream_begin(smp, first, n);
    }
    int64_t done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) default(none) \
    shared(pl, cancel, done, opts, smp) firstprivate(first, n, i0, k, nranks)
    for (int64_t i = i0; i < i0 + k; i++) {
      path_all_cells(pl, i, (uint64_t)(first + i), omp_get_thread_num(), cancel);
      if (smp) stream_path_done(smp, i);
      int64_t d;
#pragma omp atomic capture
      d = ++done;
      /* the bar moves as paths finish; only the calling thread draws it (under MPI, rank 0's
       * bar counts its paths as every rank's: the ranks go at about the same pace) */
      if (opts->progress && omp_get_thread_num() == 0)
        opts->progress(opts->progress_ctx, first + (d * nranks < n ? d * nranks : n), pl->paths);
    }
    /* The first failure in path order decides the message. */
    for (int64_t i = i0; i < i0 + k && !s; i++) {
      if (pl->st[i] == MS_ERR_CANCELLED) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
      else if (pl->st[i]) { *err = pl->errs[i]; s = cell_fail(pl->cells[pl->failed[i]].spec, pl->st[i], err); }
    }
    if (!s && cancel && *cancel) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
    if (smp && k > 0) { /* the writer is done with the batch (every path of it finished, one way or another) */
      ms_error e;
      ms_status ws = stream_wait(smp, &e);
      if (!s && ws) {
        *err = e;
        s = ws;
      }
    }
    for (int c = 0; !s && !smp && c < pl->nvisible; c++)
      for (int i = 0; !s && i < nthreads; i++) {
        s = ms_scratch_flush(pl->cells[c].tb[i].liq, err);
        if (!s) s = ms_scratch_flush(pl->cells[c].tb[i].cas, err);
      }
    /* every rank stops at the same batch: a signal that reached one rank, a failure on one */
    s = agree(pl, s, err);
    if (!s && nranks > 1) s = gather_frame(pl, first, n, i0, k, err);
    else if (!s && pl->j) {
      if (smp && sm.next != n) s = ms_error_set(err, MS_ERR_INTERNAL, "a batch's frame lacks paths");
      if (!s && !smp) s = ms_journal_begin(pl->j, first, n, err);
      if (!s && !smp) s = pack_paths(pl, first, 0, n, journal_put, pl->j, 0, err);
      if (!s) {
        count_liqs(pl, 0, n, pl->cnt);
        s = pack_tail(pl, pl->cnt, journal_put, pl->j, err);
      }
      if (!s) s = ms_journal_end(pl->j, err);
    }
    if (s && smp) {
      ms_error e;
      ms_journal_abandon(pl->j, &e); /* the batch's paths are computed again by a resume */
    }
    for (int c = 0; !s && c < pl->nvisible; c++)
      if (pl->cells[c].spec->keep) s = keep_batch(&pl->cells[c], n, err);
    for (int c = 0; !s && c < pl->nvisible; c++) /* the cells asked for: the message counts their paths */
      if (pl->cells[c].tape_mode == MS_TAPE_REPLAY) pl->replayed += n;
    if (!s && opts->progress) opts->progress(opts->progress_ctx, first + n, pl->paths);
  }
  /* no sync here: the journal is removed once the file is assembled, and a
   * journal kept after a failure is synced when it is closed */
  if (smp) stream_stop(smp);
  return s;
}

/* ---- the result file, assembled from the journal ---- */

#define WRITEBACK_BYTES ((uint64_t)8 << 20)

/* Copy @p count records of @p size bytes from the journal to the file, as
 * many at a time as the journal's buffer holds, from where they are there. */
static ms_status copy_records(run_plan *pl, ms_h5out *h, int id, uint64_t count, size_t size, int liq,
                              ms_error *err) {
  ms_status s = MS_OK;
  while (!s && count > 0) {
    const void *buf;
    size_t got;
    s = ms_journal_view(pl->j, (size_t)count * size, size, &buf, &got, err);
    if (s) break;
    size_t k = got / size;
    h5_lock();
    s = liq ? ms_h5out_append_liquidations(h, id, buf, k, err) : ms_h5out_append_cascades(h, id, buf, k, err);
    h5_unlock();
    count -= k;
    /* the disk writes the records while the rest is assembled: the sync at commit waited for all of them
     * (~0.15 s for 200 MB, docs/performance.md "Output costs") */
    if ((pl->unflushed += k * size) >= WRITEBACK_BYTES) {
      ms_h5out_start_writeback(h);
      pl->unflushed = 0;
    }
  }
  return s;
}

/* Create every cell's group and book in @p h (before the paths run: a book
 * of millions of accounts is written while nothing else is held). */
static ms_status open_groups(run_plan *pl, const ms_run_opts *opts, ms_h5out *h, ms_error *err) {
  ms_status s = MS_OK;
  for (int c = 0; !s && c < pl->nvisible; c++) {
    cell_state *cs = &pl->cells[c];
    h5_lock();
    s = ms_h5out_add_run(h, cs->spec->parent, cs->spec->leaf, cs->spec->cfg,
                         cs->spec->timeseries ? MS_H5_TIMESERIES : 0u, cs->spec->attrs, &cs->h5id, err);
    h5_unlock();
    if (!s && cs->spec->book && !cs->spec->cfg->book.markets.enabled)
      s = write_book(h, cs->h5id, cs->spec->cfg, cs->book, nthreads_of(opts), opts->cancel, err);
    else if (!s && cs->spec->book) /* several markets: a row per position */
      s = write_multi_book(h, cs->h5id, cs->eng[0], nthreads_of(opts), opts->cancel, err);
    if (!s) s = cancelled(opts->cancel, err);
    s = cell_fail(cs->spec, s, err);
  }
  return s;
}

/* ---- /liquidations' rows, written by a thread of their own ----
 * Once an uncompressed /liquidations has its place in the file (created of
 * its final length, from the frames' tails), a copier thread walks the
 * journal with a reader of its own and writes each path's records to their
 * rows with pwrite, while the calling thread assembles the rest of the file
 * and computes the statistics. HDF5 never writes those bytes, so the file
 * is the same whatever the two threads' timing. finish() waits for it. */
typedef struct copier {
  run_plan *pl;
  ms_journal *r;             /* its own reader of the journal */
  ms_h5out *h;               /* for ms_h5out_start_writeback only */
  int fd;                    /* the file being written */
  uint64_t *addr;            /* [nvisible]: row 0 of each cell's /liquidations; 0: not the copier's */
  int64_t *rows;             /* [nvisible]: rows written */
  const volatile sig_atomic_t *cancel;
  atomic_int stop;           /* set by copier_join when the run has failed: the file will not be kept */
  ms_status st;
  ms_error err;
  pthread_t thread;
} copier;

static ms_status write_rows(copier *cp, int c, uint64_t nl, uint64_t *unflushed) {
  const size_t size = sizeof(ms_liq_record);
  ms_status s = MS_OK;
  while (!s && nl > 0) {
    if (atomic_load_explicit(&cp->stop, memory_order_relaxed)) return MS_ERR_CANCELLED;
    const void *p;
    size_t got;
    s = ms_journal_view(cp->r, (size_t)nl * size, size, &p, &got, &cp->err);
    if (s) break;
    if (cp->rows[c] + (int64_t)(got / size) > cp->pl->liq_total[c]) /* never past the dataset's storage */
      return ms_error_set(&cp->err, MS_ERR_IO, "the journal holds more liquidation records than its frames' tails count");
    uint64_t off = cp->addr[c] + (uint64_t)cp->rows[c] * size;
    /* the view holds whole records; a short write does not end on one, so the
     * rows are counted once the view is out */
    uint64_t nview = got / size;
    for (const unsigned char *b = p; !s && got > 0;) {
      ssize_t w = pwrite(cp->fd, b, got, (off_t)off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        s = ms_error_set(&cp->err, MS_ERR_IO, "write failed (%s)", w < 0 ? strerror(errno) : "no space");
        break;
      }
      b += w;
      off += (uint64_t)w;
      got -= (size_t)w;
      if ((*unflushed += (uint64_t)w) >= WRITEBACK_BYTES) {
        ms_h5out_start_writeback(cp->h);
        *unflushed = 0;
      }
    }
    if (!s) {
      nl -= nview;
      cp->rows[c] += (int64_t)nview;
    }
  }
  return s;
}

static void *copy_liqs(void *arg) {
  copier *cp = arg;
  const run_plan *pl = cp->pl;
  ms_journal *r = cp->r;
  ms_error *err = &cp->err;
  uint64_t unflushed = 0;
  ms_status s = ms_journal_rewind(r, err);
  for (;;) {
    int64_t first, n;
    if (!s) s = ms_journal_next(r, &first, &n, err);
    if (s || n == 0) break;
    for (int64_t i = 0; !s && i < n; i++) { /* the layout at the top of this file */
      int64_t p = first + i;
      for (int c = 0; !s && c < pl->nvisible; c++) {
        const cell_state *cs = &pl->cells[c];
        uint64_t nc = 0, nl = 0;
        s = ms_journal_skip(r, sizeof(ms_path_summary), err);
        if (!s) s = ms_journal_get(r, &nc, sizeof nc, err);
        if (!s) s = ms_journal_skip(r, nc * sizeof(ms_cascade_record), err);
        if (!s) s = ms_journal_get(r, &nl, sizeof nl, err);
        if (!s) s = cp->addr[c] ? write_rows(cp, c, nl, &unflushed) : ms_journal_skip(r, nl * sizeof(ms_liq_record), err);
        if (!s && p < cs->traced) s = ms_journal_skip(r, (uint64_t)(TRACE_FIELDS * cs->trace_len) * sizeof(double), err);
        if (!s && p < cs->fanned) s = ms_journal_skip(r, (uint64_t)(3 * cs->fan_len) * sizeof(double), err);
      }
      /* a path's records at a time, not a frame's (a frame can hold gigabytes) */
      if (!s) s = cancelled(cp->cancel, err);
      if (!s && atomic_load_explicit(&cp->stop, memory_order_relaxed)) s = MS_ERR_CANCELLED;
    }
  }
  cp->st = s;
  return NULL;
}

/* Start the copier when some cell's /liquidations has its place in the file (h5_lock held by the caller). */
static void copier_start(run_plan *pl, ms_h5out *h, const volatile sig_atomic_t *cancel) {
  copier *cp = calloc(1, sizeof *cp);
  if (cp) {
    atomic_init(&cp->stop, 0);
    cp->addr = calloc((size_t)pl->nvisible, sizeof *cp->addr);
    cp->rows = calloc((size_t)pl->nvisible, sizeof *cp->rows);
  }
  int any = 0;
  for (int c = 0; cp && cp->addr && c < pl->nvisible; c++) {
    int fd = ms_h5out_liquidations_place(h, pl->cells[c].h5id, &cp->addr[c]);
    if (fd >= 0) cp->fd = fd, any = 1;
    else cp->addr[c] = 0;
  }
  ms_error e;
  if (!any || !cp->rows || ms_journal_reader(&cp->r, pl->j, &e) != MS_OK) { /* the calling thread appends them */
    if (cp) free(cp->addr), free(cp->rows);
    free(cp);
    return;
  }
  cp->pl = pl;
  cp->h = h;
  cp->cancel = cancel;
  if (pthread_create(&cp->thread, NULL, copy_liqs, cp) != 0) {
    ms_journal_reader_free(cp->r);
    free(cp->addr);
    free(cp->rows);
    free(cp);
    return;
  }
  pl->cp = cp;
}

/* Wait for the copier (if any) and take its outcome into @p s. */
static ms_status copier_join(run_plan *pl, ms_h5out *h, ms_status s, ms_error *err) {
  copier *cp = pl->cp;
  if (!cp) return s;
  if (s) atomic_store(&cp->stop, 1); /* the run has failed: its rows are not needed */
  pthread_join(cp->thread, NULL);
  if (!s && cp->st) {
    *err = cp->err;
    s = cp->st;
  }
  for (int c = 0; !s && h && c < pl->nvisible; c++) {
    if (!cp->addr[c]) continue;
    h5_lock();
    s = ms_h5out_liquidations_written(h, pl->cells[c].h5id, cp->rows[c], err);
    h5_unlock();
  }
  ms_journal_reader_free(cp->r);
  free(cp->addr);
  free(cp->rows);
  free(cp);
  pl->cp = NULL;
  return s;
}

/* ms_journal_tails' reader: add a frame's liquidation records to the totals. */
static ms_status add_tail(void *ctx, int64_t first, int64_t n, const void *tail, ms_error *err) {
  run_plan *pl = ctx;
  (void)first;
  (void)n;
  (void)err;
  memcpy(pl->cnt, tail, (size_t)pl->nvisible * sizeof *pl->cnt);
  for (int c = 0; c < pl->nvisible; c++) pl->liq_total[c] += (int64_t)pl->cnt[c];
  return MS_OK;
}

/* Write every frame of the journal to @p h in path order; the summary
 * columns go to pl->colstore (for cells that do not keep their rows). */
static ms_status assemble(run_plan *pl, const ms_run_opts *opts, ms_h5out *h, ms_error *err) {
  ms_status s = MS_OK;
  double *tmp = NULL, *col = NULL;
  int64_t tmplen = 0;
  for (int c = 0; c < pl->nvisible; c++) {
    const cell_state *cs = &pl->cells[c];
    int64_t need = cs->traced > 0 ? TRACE_FIELDS * cs->trace_len : 0;
    if (cs->fanned > 0 && 3 * cs->fan_len > need) need = 3 * cs->fan_len;
    if (need > tmplen) tmplen = need;
  }
  if (!s) {
    tmp = malloc((size_t)(tmplen > 0 ? tmplen : 1) * sizeof *tmp);
    col = malloc((size_t)pl->batch * sizeof *col);
    int rows_ok = 1;
    for (int c = 0; c < pl->nvisible; c++)
      rows_ok &= (pl->cells[c].arows = malloc((size_t)pl->batch * sizeof(ms_path_summary))) != NULL;
    if (!tmp || !col || !rows_ok)
      s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for writing the result file");
  }
  for (int c = 0; c < pl->nvisible; c++) pl->liq_total[c] = 0;
  if (!s) s = ms_journal_tails(pl->j, (size_t)pl->nvisible * sizeof(uint64_t), add_tail, pl, err);
  for (int c = 0; !s && c < pl->nvisible; c++) {
    h5_lock();
    s = ms_h5out_size_liquidations(h, pl->cells[c].h5id, pl->liq_total[c], err);
    h5_unlock();
  }
  if (!s) {
    h5_lock();
    copier_start(pl, h, opts->cancel);
    h5_unlock();
  }
  if (!s) s = ms_journal_rewind(pl->j, err);
  int64_t expect = 0;
  for (;;) {
    int64_t first, n;
    if (!s) s = ms_journal_next(pl->j, &first, &n, err);
    if (s || n == 0) break;
    if (first != expect || n > pl->batch || first + n > pl->paths) /* arows hold a batch */
      s = ms_error_set(err, MS_ERR_IO, "the journal's frames are out of order (paths %lld.. where %lld.. was due)",
                       (long long)first, (long long)expect);
    for (int64_t i = 0; !s && i < n; i++) {
      int64_t p = first + i;
      for (int c = 0; !s && c < pl->nvisible; c++) {
        cell_state *cs = &pl->cells[c];
        uint64_t nc = 0, nl = 0;
        s = ms_journal_get(pl->j, &cs->arows[i], sizeof cs->arows[i], err);
        if (!s) s = ms_journal_get(pl->j, &nc, sizeof nc, err);
        if (!s) s = copy_records(pl, h, cs->h5id, nc, sizeof(ms_cascade_record), 0, err);
        if (!s) s = ms_journal_get(pl->j, &nl, sizeof nl, err);
        if (!s && pl->cp && pl->cp->addr[c]) s = ms_journal_skip(pl->j, nl * sizeof(ms_liq_record), err); /* the copier's */
        else if (!s) s = copy_records(pl, h, cs->h5id, nl, sizeof(ms_liq_record), 1, err);
        cs->liq_seen += (int64_t)nl;
        if (!s && p < cs->traced) {
          int64_t L = cs->trace_len;
          s = ms_journal_get(pl->j, tmp, (size_t)(TRACE_FIELDS * L) * sizeof *tmp, err);
          /* the layout of cell_init's trace slots */
          ms_trace t = {.price = tmp, .mark = tmp + L, .oracle = tmp + 2 * L, .open_interest = tmp + 3 * L,
                        .insurance = tmp + 4 * L, .margin_ratio = tmp + 5 * L, .regime = (int32_t *)(tmp + 6 * L),
                        .liquidations = (int32_t *)(tmp + 7 * L), .funding_rate = tmp + 8 * L};
          h5_lock();
          if (!s) s = ms_h5out_write_trace(h, cs->h5id, p, &t, err);
          h5_unlock();
        }
        if (!s && p < cs->fanned) {
          int64_t L = cs->fan_len;
          s = ms_journal_get(pl->j, tmp, (size_t)(3 * L) * sizeof *tmp, err);
          h5_lock();
          if (!s) s = ms_h5out_write_fan(h, cs->h5id, p, tmp, tmp + L, (const int32_t *)(tmp + 2 * L), err);
          h5_unlock();
        }
      }
    }
    if (!s) s = ms_journal_get(pl->j, pl->cnt, (size_t)pl->nvisible * sizeof *pl->cnt, err); /* read first */
    for (int c = 0; !s && c < pl->nvisible; c++) {
      cell_state *cs = &pl->cells[c];
      h5_lock();
      s = ms_h5out_write_summary(h, cs->h5id, cs->arows, first, n, err);
      h5_unlock();
      for (int k = 0; !s && pl->colstore && !cs->spec->keep_rows && k < cs->ncols; k++) {
        for (int64_t i = 0; i < n; i++) col[i] = ms_stats_value(&cs->cols[k], &cs->arows[i]);
        s = ms_scratch_pwrite(pl->colstore, (cs->colbase + (uint64_t)k * (uint64_t)pl->paths + (uint64_t)first) *
                                                sizeof(double),
                              col, (size_t)n * sizeof *col, err);
      }
    }
    if (!s) s = cancelled(opts->cancel, err);
    if (!s) expect = first + n;
  }
  if (!s && expect != pl->paths)
    s = ms_error_set(err, MS_ERR_IO, "the journal holds %lld of %lld paths", (long long)expect, (long long)pl->paths);
  for (int c = 0; !s && c < pl->nvisible; c++)
    if (pl->liq_total[c] != pl->cells[c].liq_seen)
      s = ms_error_set(err, MS_ERR_IO, "the journal's frames hold %lld liquidation records, their tails count %lld",
                       (long long)pl->cells[c].liq_seen, (long long)pl->liq_total[c]);
  free(tmp);
  free(col);
  for (int c = 0; c < pl->nvisible; c++) {
    free(pl->cells[c].arows);
    pl->cells[c].arows = NULL;
  }
  return s;
}

/* The column store's reader (ms_colsrc.load) for one cell. */
typedef struct {
  const ms_scratch *store;
  const cell_state *cs;
  int64_t paths;
} colstore_src;

/* A column is its field of the row (a regime's column is named after the
 * regime, which cells of a sweep may name differently): the statistics
 * pair the baseline's columns with another cell's field by field, as they
 * did when they read the rows (ms_stats_same_field). */
static int has_field(const ms_column *cols, int n, const ms_column *f) {
  for (int m = 0; m < n; m++)
    if (ms_stats_same_field(&cols[m], f)) return 1;
  return 0;
}

/* Give every cell the columns of the other cells it lacks (the twin's,
 * with stats.counterfactual on in one cell only; further regimes): the
 * paired differences read the baseline's columns from every cell. */
static void colstore_layout(run_plan *pl) {
  /* Every cell ends with its own columns, then those of the union U of all
   * cells' columns (in order of first appearance) that it lacks. Built from
   * U, so that a sweep of 4,096 cells does not compare every pair of cells
   * (14 s, and no signal was seen meanwhile). U fits in a cell: the columns
   * differ between cells only in the twin's and the regimes' (the fixed
   * ones and one per regime, 63 at most, of MS_MAX_COLUMNS). */
  ms_column u[MS_MAX_COLUMNS];
  int nu = 0;
  for (int c = 0; c < pl->nvisible; c++) {
    const cell_state *cs = &pl->cells[c];
    if (c > 0 && cs->ncols == pl->cells[c - 1].ncols &&
        memcmp(cs->cols, pl->cells[c - 1].cols, (size_t)cs->ncols * sizeof *cs->cols) == 0)
      continue; /* the previous cell's columns again */
    for (int k = 0; k < cs->ncols; k++)
      if (!has_field(u, nu, &cs->cols[k]) && nu < MS_MAX_COLUMNS) u[nu++] = cs->cols[k];
  }
  for (int c = 0; c < pl->nvisible; c++) {
    cell_state *cs = &pl->cells[c];
    if (cs->ncols == nu) continue; /* holds them all */
    for (int j = 0; j < nu && cs->ncols < MS_MAX_COLUMNS; j++)
      if (!has_field(cs->cols, cs->ncols, &u[j])) cs->cols[cs->ncols++] = u[j];
  }
}

static ms_status colstore_load(void *ctx, const ms_column *col, double *x, ms_error *err) {
  const colstore_src *c = ctx;
  for (int k = 0; k < c->cs->ncols; k++)
    if (ms_stats_same_field(&c->cs->cols[k], col))
      return ms_scratch_pread(c->store, (c->cs->colbase + (uint64_t)k * (uint64_t)c->paths) * sizeof(double), x,
                              (size_t)c->paths * sizeof *x, err);
  return ms_error_set(err, MS_ERR_INTERNAL, "column %s is not in the column store", col->name);
}

/* Where cell @p c's statistics read its columns: its rows, or the column store (@p ctx holds it). */
static ms_colsrc cell_src(const run_plan *pl, int c, colstore_src *ctx) {
  const cell_state *cs = &pl->cells[c];
  ms_colsrc src = ms_colsrc_rows(cs->rows, pl->paths);
  if (!cs->spec->keep_rows) {
    *ctx = (colstore_src){pl->colstore, cs, pl->paths};
    src = (ms_colsrc){NULL, pl->paths, colstore_load, ctx, NULL};
  }
  src.cancel = pl->cancel;
  return src;
}


/* Whether a failed run's journal is worth keeping for a resume: it was
 * interrupted, or the machine failed it (memory, disk), not the input. */
static int resumable(ms_status s) { return s == MS_ERR_CANCELLED || s == MS_ERR_IO || s == MS_ERR_NOMEM; }

/* The end of every run: the cancel check, then the rename into place
 * (@p h NULL: no file, only the check), then the journal removed (a
 * success) or kept (a failure a resume may get past, when the caller asked
 * to keep it). */
static ms_status finish(run_plan *pl, ms_h5out *h, const ms_run_opts *opts, ms_status s, ms_error *err) {
  s = copier_join(pl, h, s, err);
  if (!s && opts->cancel && *opts->cancel) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
  /* the journal and scratch files are the result file's first form: their
   * failures (a full disk) are failures to write it */
  size_t olen = opts->output ? strlen(opts->output) : 0; /* "<output>.partial: ..." is the journal's */
  if (s == MS_ERR_IO && opts->output && (strncmp(err->msg, opts->output, olen) != 0 || err->msg[olen] != ':')) {
    ms_error e = *err;
    ms_error_set(err, s, "%s: cannot write the result file: %s", opts->output, e.msg);
  }
  s = agree(pl, s, err); /* no rank's failure or signal may come after rank 0's commit */
  if (h) {
    h5_lock();
    if (!s) {
      s = ms_h5out_commit(h, err);
      h = NULL;
    }
    ms_h5out_abort(h);
    h5_unlock();
  }
  if (pl->j) {
    /* kept when it holds work a resume would not redo */
    if (s && opts->keep_partial && resumable(s) && ms_journal_done(pl->j) > 0) ms_journal_close(pl->j);
    else ms_journal_remove(pl->j);
    pl->j = NULL;
  }
  return s;
}

static ms_status journal_start(run_plan *pl, const ms_run_opts *opts, ms_error *err);

/* After plan_init (@p s: its status on this rank): the journal begun, or
 * opened to resume, by rank 0; every rank learns how that went and where
 * the run starts (pl->done) and began (pl->created). */
static ms_status journal_start_all(run_plan *pl, const ms_run_opts *opts, ms_status s, ms_error *err) {
  if (pl->nranks <= 1) return s ? s : journal_start(pl, opts, err);
  s = agree(pl, s, err);
  if (!s && pl->rank == 0) s = journal_start(pl, opts, err);
  s = agree(pl, s, err);
  int64_t v[2] = {pl->done, pl->created};
  if (!s) s = ms_mpi_bcast(v, sizeof v, 0, err);
  pl->done = v[0];
  pl->created = v[1];
  return s;
}

/* Once rank 0 has committed (@p s: how that went; the other ranks' status),
 * every rank learns the outcome and, on success, rank 0's @p n bytes of
 * report at @p p, so that every rank prints and exits alike (check's code). */
static ms_status share_report(const run_plan *pl, ms_status s, void *p, size_t n, ms_error *err) {
  s = agree(pl, s, err);
  if (!s && pl->nranks > 1) s = ms_mpi_bcast(p, n, 0, err);
  return s;
}

/* Assertion results point into their configuration: rank 0's pointers mean
 * nothing elsewhere. */
static void point_asserts(ms_assert_result *r, const ms_config *cfg) {
  for (int i = 0; i < cfg->nassertions; i++) r[i].a = &cfg->assertions[i];
}

/* The folder of @p path ("." when it has none), malloc'd. */
static char *folder_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

/* What decides a run's results and the layout of its journal: a resumed run
 * must match it exactly. FNV-1a over the version, the command, the record
 * sizes, the batch and every cell's place, resolved configuration and
 * scenario text (the file records it). */
static uint64_t fingerprint(const run_plan *pl, const ms_run_opts *opts, ms_error *err, ms_status *st) {
  uint64_t h = 0xcbf29ce484222325ull;
#define MIX(p, n)                                                                                              \
  do {                                                                                                         \
    const unsigned char *b_ = (const unsigned char *)(p);                                                      \
    for (size_t k_ = 0; k_ < (size_t)(n); k_++) h = (h ^ b_[k_]) * 0x100000001b3ull;                          \
    h = (h ^ 0xff) * 0x100000001b3ull;                                                                         \
  } while (0)
#define MIXS(str) MIX((str) ? (str) : "", strlen((str) ? (str) : ""))
  size_t sizes[3] = {sizeof(ms_path_summary), sizeof(ms_cascade_record), sizeof(ms_liq_record)};
  int64_t shape[3] = {pl->paths, pl->batch, pl->nvisible};
  MIXS(MS_VERSION);
  MIXS("frames with a tail of liquidation counts"); /* a journal of the layout before is not continued */
  MIXS(opts->command);
  MIX(sizes, sizeof sizes);
  MIX(shape, sizeof shape);
  *st = MS_OK;
  for (int c = 0; c < pl->nvisible; c++) {
    const cell_spec *sp = pl->cells[c].spec;
    int flags[5] = {sp->timeseries, sp->book, sp->keep, (int)pl->cells[c].traced, (int)pl->cells[c].fanned};
    MIXS(sp->label);
    MIXS(sp->parent);
    MIXS(sp->leaf);
    for (int k = 0; sp->attrs && sp->attrs[k]; k++) MIXS(sp->attrs[k]);
    MIX(flags, sizeof flags);
    int64_t lens[2] = {pl->cells[c].trace_len, pl->cells[c].fan_len};
    MIX(lens, sizeof lens);
    char *yaml = ms_config_to_yaml(sp->cfg);
    if (!yaml) {
      *st = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
      return 0;
    }
    MIXS(yaml);
    free(yaml);
    MIXS(sp->cfg->source_text); /* the file records it: the run's text, not an edited one */
    MIXS(sp->cfg->source_path);
    /* the candles a replay follows: a changed data file is another run */
    const struct ms_series *se = ms_config_series(sp->cfg);
    if (se) MIX(&se->hash, sizeof se->hash);
    for (int j = 0; j < sp->cfg->market.nassets; j++) { /* ... and every other market's of book.markets */
      const struct ms_series *sj = ms_config_asset_series(sp->cfg, j);
      if (sj) MIX(&sj->hash, sizeof sj->hash);
    }
  }
#undef MIXS
#undef MIX
  return h;
}

/* The Unix time a new run begins: SOURCE_DATE_EPOCH when set (the
 * reproducible-builds convention: two runs then write the same bytes),
 * else now. */
static int64_t start_time(void) {
  const char *e = getenv("SOURCE_DATE_EPOCH");
  char *end = NULL;
  long long v = e && *e ? strtoll(e, &end, 10) : 0;
  if (e && *e && end && !*end && v > 0) return (int64_t)v;
  return (int64_t)time(NULL);
}

/* For a run with a file: begin the journal, or (opts->resume) open the
 * interrupted run's and check that it is this run; pl->done paths are then
 * in it. Also the column store, for cells whose rows are not all kept. */
static ms_status journal_start(run_plan *pl, const ms_run_opts *opts, ms_error *err) {
  pl->done = 0;
  pl->created = start_time();
  if (!opts->output) return MS_OK;
  /* what may be at the result's path is checked before any work */
  h5_lock(); /* the kind's test opens an existing file with HDF5 */
  ms_status s = ms_outfile_check("output", opts->output, &ms_h5out_result_kind, NULL, err);
  h5_unlock();
  if (s) return s;
  const char *fname = strrchr(opts->output, '/');
  fname = fname ? fname + 1 : opts->output;
  /* the folder's own limit where it says (a smaller one on eCryptfs, some FUSE and CIFS mounts) */
  long name_max = NAME_MAX;
  if (pl->dir) {
    long m = pathconf(pl->dir, _PC_NAME_MAX);
    if (m > 0) name_max = m;
  }
  if ((long)(strlen(fname) + strlen(MS_JOURNAL_SUFFIX)) > name_max)
    return ms_error_set(err, MS_ERR_INPUT, "%s: the file name is too long for its run's journal (the name and "
                        "\"%s\", at most %ld bytes here): at most %ld bytes", opts->output, MS_JOURNAL_SUFFIX,
                        name_max, name_max - (long)strlen(MS_JOURNAL_SUFFIX));
  size_t len = strlen(opts->output) + sizeof MS_JOURNAL_SUFFIX;
  char *jpath = malloc(len);
  if (!jpath) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  snprintf(jpath, len, "%s%s", opts->output, MS_JOURNAL_SUFFIX);
  uint64_t fp = fingerprint(pl, opts, err, &s);
  ms_journal_info info;
  memset(&info, 0, sizeof info);
  if (!s && opts->resume) {
    s = ms_journal_open(&pl->j, jpath, &info, opts->cancel, err);
    if (s == MS_ERR_INPUT && access(jpath, F_OK) != 0)
      s = ms_error_set(err, MS_ERR_INPUT, "%s: no unfinished run to resume (no %s)", opts->output, jpath);
    else if (!s && strcmp(info.version, MS_JOURNAL_BUILD) != 0)
      s = ms_error_set(err, MS_ERR_INPUT, "%s: begun by marginsim %s; this is %s, another build, which cannot "
                       "continue it: its paths might differ from the ones it would compute (rerun it from the "
                       "start)", jpath, info.version, MS_JOURNAL_BUILD);
    else if (!s && (info.fingerprint != fp || info.paths != pl->paths || info.batch != pl->batch))
      s = ms_error_set(err, MS_ERR_INPUT, "%s: the scenario, its candle files or the command differ from the "
                       "interrupted run's (%s); restore them, or remove %s and start anew", jpath, info.command,
                       jpath);
    if (!s) {
      pl->done = info.done;
      pl->created = info.created;
    } else if (pl->j) { /* not this run's: left as it was */
      ms_journal_close(pl->j);
      pl->j = NULL;
    }
  } else if (!s) {
    if (access(jpath, F_OK) == 0) {
      ms_journal_info old;
      if (ms_journal_busy(jpath)) {
        s = ms_error_set(err, MS_ERR_INPUT, "%s: another marginsim is writing %s now (its journal is locked): "
                         "wait for it to finish, or choose another result file", jpath, opts->output);
      } else if (ms_journal_count(jpath, &old, err) == MS_OK) {
        s = ms_error_set(err, MS_ERR_INPUT, "%s: an unfinished run of %s is there (%lld of %lld paths, begun by: %s); "
                         "continue it with `marginsim run --resume %s`, or remove %s to start anew",
                         jpath, opts->output, (long long)old.done, (long long)old.paths, old.command, opts->output,
                         jpath);
        ms_journal_info_free(&old);
      } else {
        s = ms_error_set(err, MS_ERR_INPUT, "%s exists and is not a marginsim journal: not overwritten; move it "
                         "away or choose another result file", jpath);
      }
    } else {
      char cwd[4096];
      info.version = MS_JOURNAL_BUILD;
      info.command = (char *)(opts->command ? opts->command : "");
      info.cwd = getcwd(cwd, sizeof cwd) ? cwd : "";
      info.fingerprint = fp;
      info.paths = pl->paths;
      info.batch = pl->batch;
      info.created = pl->created;
      s = ms_journal_create(&pl->j, jpath, &info, err);
      memset(&info, 0, sizeof info); /* borrowed strings */
      if (s == MS_ERR_IO) {
        ms_error e = *err;
        s = ms_error_set(err, s, "%s: cannot create the result file: %s", opts->output, e.msg);
      }
    }
  }
  ms_journal_info_free(&info);
  free(jpath);
  uint64_t base = 0;
  int store = 0;
  colstore_layout(pl);
  for (int c = 0; c < pl->nvisible; c++) {
    cell_state *cs = &pl->cells[c];
    if (cs->spec->keep_rows) continue;
    cs->colbase = base;
    base += (uint64_t)cs->ncols * (uint64_t)pl->paths;
    store = 1;
  }
  if (!s && store) s = ms_scratch_new(&pl->colstore, pl->dir, err);
  return s;
}

/* The h5out calls of the end of a run, each under the HDF5 lock. */
static ms_status create_file(ms_h5out **h, const char *path, const ms_config *cfg, const ms_h5_meta *meta,
                             ms_error *err) {
  h5_lock();
  ms_status s = ms_h5out_create(h, path, cfg, meta, err);
  h5_unlock();
  return s;
}

static ms_status root_attr(ms_h5out *h, const char *name, const char *value, ms_error *err) {
  h5_lock();
  ms_status s = ms_h5out_root_attr(h, name, value, err);
  h5_unlock();
  return s;
}

static ms_status root_attr_i64(ms_h5out *h, const char *name, int64_t value, ms_error *err) {
  h5_lock();
  ms_status s = ms_h5out_root_attr_i64(h, name, value, err);
  h5_unlock();
  return s;
}

static ms_status write_stats(ms_h5out *h, int id, const ms_stats *st, ms_error *err) {
  h5_lock();
  ms_status s = ms_h5out_write_stats(h, id, st, err);
  h5_unlock();
  return s;
}

/* /paths/markets of a book of several markets: the per-asset columns of the summary again, one dataset per
 * field, paths x markets (docs/output.md). One column in memory at a time. */
static ms_status write_markets(ms_h5out *h, int id, const ms_config *cfg, const ms_colsrc *src, ms_error *err) {
  if (!cfg->book.markets.enabled) return MS_OK;
  ms_column cols[MS_MAX_COLUMNS];
  int nc = ms_stats_columns(cfg, cols, MS_MAX_COLUMNS);
  char names[MS_MAX_ASSETS * (MS_NAME_MAX + 1)] = "";
  for (int j = 0; j < cfg->market.nassets; j++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? "," : "", cfg->market.assets[j].name);
  double *x = malloc((size_t)(src->n > 0 ? src->n : 1) * sizeof *x);
  if (!x) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for /paths/markets");
  ms_status s = MS_OK;
  for (int k = 0; k < nc && !s; k++) {
    const ms_column *c = &cols[k];
    if (c->market < 0) continue;
    if (src->rows) {
      for (int64_t i = 0; i < src->n; i++) x[i] = ms_stats_value(c, &src->rows[i]);
    } else {
      s = src->load(src->ctx, c, x, err);
      if (s) break;
    }
    char field[MS_COL_NAME_MAX];
    snprintf(field, sizeof field, "%.*s", c->market_len, c->name);
    h5_lock();
    s = ms_h5out_write_market_column(h, id, field, c->type != MS_COL_F64, c->unit, c->doc, names,
                                     cfg->market.nassets, c->market, x, src->n, err);
    h5_unlock();
  }
  free(x);
  return s;
}

static ms_status write_assertions(ms_h5out *h, int id, const ms_assert_result *r, int n, ms_error *err) {
  h5_lock();
  ms_status s = ms_h5out_write_assertions(h, id, r, n, err);
  h5_unlock();
  return s;
}

/* ms_run, ms_run_compare and ms_run_sweep write their results to a file:
 * without one, say so rather than dereference NULL (ms_simulate is the run
 * without a file). Also quiets GSL. */
static ms_status entry_check(const ms_run_opts *opts, const char *fn, ms_error *err) {
  ms_gsl_quiet();
  if (!opts || !opts->output || !opts->output[0])
    return ms_error_set(err, MS_ERR_INPUT, "%s: no result file (opts->output is %s); give the path to write", fn,
                        !opts ? "unset: opts is NULL" : !opts->output ? "NULL" : "empty");
  return MS_OK;
}

/* The one run of @p spec->cfg behind ms_run and ms_simulate: into the file
 * opts->output when set, else into memory only (HDF5 untouched). The rows,
 * and with spec->keep the liquidation records, stay in pl->cells[0] for the
 * caller, who frees @p pl in every case. */
static ms_status run_one(const cell_spec *spec, const ms_run_opts *opts, int nthreads, run_plan *pl,
                         ms_stats *stats, ms_assert_result *asserts, ms_error *err) {
  const ms_config *cfg = spec->cfg;
  ms_h5out *h = NULL;
  int file = opts->output != NULL;
  plan_ranks(pl, spec->keep_rows);
  ms_status s = ms_assertions_check(cfg, err);
  if (!s) s = plan_init(pl, spec, 1, nthreads, opts->cancel, opts->output, err);
  s = journal_start_all(pl, opts, s, err);
  int here = pl->rank == 0; /* the file, the assembly and the statistics are rank 0's */
  ms_h5_meta meta = {opts->command, pl->created};
  if (!s && file && here) s = create_file(&h, opts->output, cfg, &meta, err);
  pl->h = h;
  if (!s && file && here) s = open_groups(pl, opts, h, err);
  s = agree(pl, s, err);
  if (!s) s = run_cells(pl, opts, err);
  if (!here) goto out; /* the others wait in finish */
  if (!s && file) s = assemble(pl, opts, h, err);
  colstore_src ctx;
  ms_colsrc src = {0};
  if (!s) src = cell_src(pl, 0, &ctx);
  if (!s) s = ms_stats_compute(stats, cfg, &src, nthreads, err);
  if (!s) s = ms_assertions_eval(cfg, stats, &src, asserts, err);
  if (!s && file) s = write_stats(h, pl->cells[0].h5id, stats, err);
  if (!s && file) s = write_markets(h, pl->cells[0].h5id, cfg, &src, err);
  if (!s && file) s = write_assertions(h, pl->cells[0].h5id, asserts, cfg->nassertions, err);
out:
  s = finish(pl, h, opts, s, err);
  s = share_report(pl, s, stats, sizeof *stats, err);
  if (!s) s = share_report(pl, s, asserts, (size_t)cfg->nassertions * sizeof *asserts, err);
  if (!s) point_asserts(asserts, cfg);
  return s;
}

ms_status ms_run(const ms_config *cfg, const ms_run_opts *opts, ms_run_report *report,
                 ms_error *err) {
  ms_status s0 = entry_check(opts, "ms_run", err);
  if (s0) return s0;
  double t0 = now_s();
  int nthreads = nthreads_of(opts);
  run_plan pl;
  memset(&pl, 0, sizeof pl);
  cell_spec spec = {.cfg = cfg, .timeseries = 1, .book = 1};
  report->nassert = cfg->nassertions;
  ms_status s = run_one(&spec, opts, nthreads, &pl, &report->stats, report->asserts, err);
  plan_free(&pl);
  report->paths = cfg->paths;
  report->threads = nthreads;
  report->seconds = now_s() - t0;
  return s;
}

/* A copy of @p cfg the result owns (ms_config_free releases it): the struct
 * and the one member it owns, the source text. */
static ms_config *config_copy(const ms_config *cfg) {
  ms_config *c = malloc(sizeof *c);
  if (!c) return NULL;
  *c = *cfg;
  ms_config_share(c);
  c->source_text = NULL;
  if (cfg->source_text && !(c->source_text = strdup(cfg->source_text))) {
    ms_config_free(c);
    return NULL;
  }
  return c;
}

ms_status ms_simulate(const ms_config *cfg, const ms_run_opts *opts, ms_result **out, ms_error *err) {
  ms_gsl_quiet();
  ms_error dropped; /* the message of a caller who passed no record (the driver copies records whole) */
  if (!err) err = &dropped;
  if (out) *out = NULL;
  ms_run_opts none = {0};
  if (!opts) opts = &none;
  if (!cfg || !out)
    return ms_error_set(err, MS_ERR_INPUT, "ms_simulate: %s is NULL", !cfg ? "the scenario (cfg)" : "out");
  if (opts->output && !opts->output[0])
    return ms_error_set(err, MS_ERR_INPUT, "ms_simulate: opts->output is empty; give the file to write, or NULL "
                        "for none");
  if (opts->resume)
    return ms_error_set(err, MS_ERR_INPUT, "ms_simulate: opts->resume: a result in memory cannot be resumed (its "
                        "rows are not in the journal's reach); resume with ms_run or `marginsim run --resume`");
  /* nothing can continue its journal (a resume needs every path's row in
   * memory again): never kept, so that it does not block the next run */
  ms_run_opts own = *opts;
  own.keep_partial = 0;
  opts = &own;
  double t0 = now_s();
  int nthreads = nthreads_of(opts);
  ms_result *r = calloc(1, sizeof *r);
  if (!r) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the result");
  run_plan pl;
  memset(&pl, 0, sizeof pl);
  /* Without a file, nothing is traced or drawn for /timeseries and /book:
   * they change no row (a test compares the rows of both). */
  int file = opts->output != NULL;
  cell_spec spec = {.cfg = cfg, .timeseries = file, .book = file, .keep = cfg->output.liquidations, .keep_rows = 1};
  ms_status s = MS_OK;
  r->cfg = config_copy(cfg);
  if (!r->cfg) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for the result's scenario");
  r->nassert = cfg->nassertions;
  if (!s) s = run_one(&spec, opts, nthreads, &pl, &r->stats, r->asserts, err);
  if (!s) { /* the result takes the rows and records over from the plan */
    cell_state *c = &pl.cells[0];
    r->rows = c->rows;
    c->rows = NULL;
    r->liqs = c->kept;
    r->nliqs = (int64_t)c->nkept;
    c->kept = NULL;
  }
  plan_free(&pl);
  r->paths = cfg->paths;
  r->threads = nthreads;
  r->seconds = now_s() - t0;
  if (s) {
    ms_result_free(r);
    return s;
  }
  *out = r;
  return MS_OK;
}

/* Capital efficiency at the start: the initial margin of the book against a
 * model-free measure of its risk, each account's worse loss of a one-day 99%
 * move up or down, exp(+/- 2.326 sigma sqrt(1 day)), at the long-run
 * volatility. */
#define Z99 2.326347874040841

static ms_status efficiency(const ms_config *cfg, const ms_book *shared, ms_efficiency *eff, ms_error *err) {
  ms_margin *m = NULL;
  ms_book *own = NULL;
  const ms_book *b;
  ms_status s = margin_and_book(cfg, shared, &m, &own, &b, err);
  memset(eff, 0, sizeof *eff);
  if (!s) {
    /* the move at the long-run vol; options valued at the vol they were priced at */
    double P = cfg->market.initial_price, vol = cfg->market.entry_vol;
    double mv = Z99 * cfg->market.reference_vol * sqrt(1.0 / cfg->market.days_per_year);
    ms_view v0 = {P, 0, vol}, up = {P * exp(mv), 0, vol}, dn = {P * exp(-mv), 0, vol};
    for (int64_t i = 0; i < b->n; i++) {
      ms_position p;
      ms_book_position(b, i, &p);
      double e0 = ms_margin_pos_equity(m, &p, b->entry, &v0);
      double lu = e0 - ms_margin_pos_equity(m, &p, b->entry, &up), ld = e0 - ms_margin_pos_equity(m, &p, b->entry, &dn);
      eff->risk += fmax(0.0, fmax(lu, ld));
      eff->initial_margin += ms_margin_pos_im(m, &p, b->entry, &v0);
    }
    eff->im_per_risk = eff->risk > 0 ? eff->initial_margin / eff->risk : NAN;
  }
  ms_book_free(own);
  ms_margin_free(m);
  return s;
}

/* Evaluate cell @p c's assertions (its statistics @p st) and write them to its group. */
static ms_status eval_assertions(ms_h5out *h, const run_plan *pl, int c, const ms_stats *st, ms_error *err) {
  const cell_state *cs = &pl->cells[c];
  const ms_config *cfg = cs->spec->cfg;
  if (cfg->nassertions == 0) return MS_OK;
  ms_assert_result *r = calloc((size_t)cfg->nassertions, sizeof *r);
  ms_status s = r ? MS_OK : ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  colstore_src ctx;
  ms_colsrc src = cell_src(pl, c, &ctx);
  if (!s) s = ms_assertions_eval(cfg, st, &src, r, err);
  if (!s) s = write_assertions(h, cs->h5id, r, cfg->nassertions, err);
  free(r);
  return s;
}

ms_status ms_run_compare(const ms_config *const *cfgs, const char *const *values, int ncells, const char *key,
                         const ms_run_opts *opts, ms_compare_report *rep, ms_error *err) {
  memset(rep, 0, sizeof *rep);
  ms_status s0 = entry_check(opts, "ms_run_compare", err);
  if (s0) return s0;
  double t0 = now_s();
  int nthreads = nthreads_of(opts);
  if (ncells < 2 || ncells > MS_MAX_CELLS)
    return ms_error_set(err, MS_ERR_INPUT, "--compare %s: give 2 to %d values", key, MS_MAX_CELLS);
  int64_t paths = cfgs[0]->paths;
  for (int c = 1; c < ncells; c++) /* the differences are paired path by path */
    if (cfgs[c]->paths != paths || cfgs[c]->seed != cfgs[0]->seed)
      return ms_error_set(err, MS_ERR_INPUT,
                          "--compare %s: the compared runs must share paths and seed (they are paired path by "
                          "path); compare any other key", key);
  cell_spec spec[MS_MAX_CELLS];
  char labels[MS_MAX_CELLS][320];
  const char *attrs[MS_MAX_CELLS][3];
  for (int c = 0; c < ncells; c++) {
    snprintf(labels[c], sizeof labels[c], "--compare %s, value %s", key, values[c]);
    attrs[c][0] = "value";
    attrs[c][1] = values[c];
    attrs[c][2] = NULL;
    spec[c] = (cell_spec){.cfg = cfgs[c], .label = labels[c], .parent = "models", .leaf = values[c],
                          .attrs = attrs[c], .timeseries = 1, .book = 1};
    snprintf(rep->values[c], sizeof rep->values[c], "%s", values[c]);
  }
  run_plan pl;
  memset(&pl, 0, sizeof pl);
  plan_ranks(&pl, 0);
  ms_h5out *h = NULL;
  ms_status s = MS_OK;
  for (int c = 0; !s && c < ncells; c++) s = cell_fail(&spec[c], ms_assertions_check(cfgs[c], err), err);
  if (!s) s = plan_init(&pl, spec, ncells, nthreads, opts->cancel, opts->output, err);
  s = journal_start_all(&pl, opts, s, err);
  int here = pl.rank == 0; /* the file, the assembly and the statistics are rank 0's */
  ms_h5_meta meta = {opts->command, pl.created};
  if (!s && here) s = create_file(&h, opts->output, cfgs[0], &meta, err);
  pl.h = h;
  if (!s && here) s = root_attr(h, "compare", key, err);
  if (!s && here) s = open_groups(&pl, opts, h, err);
  s = agree(&pl, s, err);
  if (!s) s = run_cells(&pl, opts, err);
  if (!here) goto out; /* the others wait in finish */
  if (!s) s = assemble(&pl, opts, h, err);
  colstore_src ctx[MS_MAX_CELLS];
  ms_colsrc src[MS_MAX_CELLS];
  /* not after a failure: a cell whose set-up failed, and those after it, have no state to read */
  for (int c = 0; !s && c < ncells && c < pl.nvisible; c++) src[c] = cell_src(&pl, c, &ctx[c]);
  for (int c = 0; !s && c < ncells; c++) {
    s = ms_stats_compute(&rep->stats[c], cfgs[c], &src[c], pl.nthreads, err);
    if (!s) s = write_stats(h, pl.cells[c].h5id, &rep->stats[c], err);
    if (!s) s = write_markets(h, pl.cells[c].h5id, cfgs[c], &src[c], err);
    if (!s) s = efficiency(cfgs[c], pl.cells[c].book, &rep->efficiency[c], err);
    if (!s) s = eval_assertions(h, &pl, c, &rep->stats[c], err);
    rep->cell_seconds[c] = NAN; /* the cells of a path run together */
    rep->ncells = c + 1;
  }
  for (int c = 1; !s && c < ncells; c++)
    s = ms_stats_paired(cfgs[0], &src[0], &src[c], pair_relation(cfgs[0], cfgs[c]), rep->diffs[c], pl.nthreads,
                        &rep->ndiffs, err);
  if (!s) {
    h5_lock();
    s = ms_h5out_write_compare(h, rep, err);
    h5_unlock();
  }
out:
  s = finish(&pl, h, opts, s, err);
  s = share_report(&pl, s, rep, sizeof *rep, err);
  rep->replayed = pl.replayed;
  plan_free(&pl);
  rep->seconds = now_s() - t0;
  return s;
}

/* ---- sweeps ---- */

void ms_sweep_report_free(ms_sweep_report *r) {
  if (!r) return;
  free(r->stats);
  free(r->diffs);
  free(r->show);
  free(r->show_diff);
  free(r->asserts);
  memset(r, 0, sizeof *r);
}

/* The headline statistic @p name of cell @p c: its value, and its paired
 * difference against the baseline (from the differences of every column
 * for means and probabilities; a plain difference of the estimates for
 * the rest, which have no paired interval). */
static ms_status show_one(const ms_sweep *sw, ms_sweep_report *rep, const run_plan *pl, int c, int j,
                          ms_error *err) {
  const char *name = sw->show[j];
  const ms_config *cfg = sw->cfgs[c];
  ms_stat_value *v = &rep->show[c * rep->nshow + j], vb;
  colstore_src cc, cb;
  ms_colsrc sc = cell_src(pl, c, &cc), sb = cell_src(pl, sw->baseline, &cb);
  ms_status s = ms_stats_value_of(&rep->stats[c], cfg, &sc, name, 0, v, err);
  if (!s) s = ms_stats_value_of(&rep->stats[sw->baseline], sw->cfgs[sw->baseline], &sb, name, 0, &vb, err);
  if (s) return s;
  ms_diff_row *d = &rep->show_diff[c * rep->nshow + j];
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "%.*s", (int)sizeof d->name - 1, name); /* display only */
  const char *dot = strrchr(name, '.');
  char row[MS_COL_NAME_MAX];
  snprintf(row, sizeof row, "%.*s", (int)(dot - name), name);
  int is_mean = strcmp(dot + 1, "mean") == 0, is_prob = strcmp(dot + 1, "probability") == 0;
  for (int k = 0; (is_mean || is_prob) && k < rep->ndiffs; k++) {
    const ms_diff_row *r = &rep->diffs[c * rep->ndiffs + k];
    if (strcmp(r->name, row) == 0 && r->probability == is_prob) { *d = *r; return MS_OK; }
  }
  d->baseline = vb.value;
  d->other = v->value;
  d->diff = v->value - vb.value;
  d->lo = d->hi = d->unpaired_lo = d->unpaired_hi = NAN;
  return MS_OK;
}

ms_status ms_run_sweep(const ms_sweep *sw, const ms_run_opts *opts, ms_sweep_report *rep, ms_error *err) {
  memset(rep, 0, sizeof *rep);
  ms_status s0 = entry_check(opts, "ms_run_sweep", err);
  if (s0) return s0;
  double t0 = now_s();
  int nthreads = nthreads_of(opts);
  int n = sw->ncells;
  rep->ncells = n;
  rep->nshow = sw->nshow;
  rep->nassert = sw->cfgs[0]->nassertions;
  rep->threads = nthreads;
  cell_spec *spec = calloc((size_t)n, sizeof *spec);
  char (*leaf)[16] = calloc((size_t)n, sizeof *leaf);
  const char *(*attrs)[3] = calloc((size_t)n, sizeof *attrs);
  char (*label)[MS_SWEEP_LABEL + 16] = calloc((size_t)n, sizeof *label);
  rep->stats = calloc((size_t)n, sizeof *rep->stats);
  rep->diffs = calloc((size_t)n * (MS_MAX_COLUMNS + 32), sizeof *rep->diffs);
  rep->show = calloc((size_t)n * (size_t)(sw->nshow + 1), sizeof *rep->show);
  rep->show_diff = calloc((size_t)n * (size_t)(sw->nshow + 1), sizeof *rep->show_diff);
  rep->asserts = calloc((size_t)n * (size_t)(rep->nassert + 1), sizeof *rep->asserts);
  run_plan pl;
  memset(&pl, 0, sizeof pl);
  plan_ranks(&pl, 0);
  ms_h5out *h = NULL;
  ms_status s = MS_OK;
  if (!spec || !leaf || !attrs || !label || !rep->stats || !rep->diffs || !rep->show || !rep->show_diff ||
      !rep->asserts)
    s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for a sweep of %d cells", n);
  for (int c = 0; !s && c < n; c++) {
    snprintf(leaf[c], sizeof leaf[c], "%d", c);
    snprintf(label[c], sizeof label[c], "sweep cell %d (%s)", c, sw->labels[c]);
    attrs[c][0] = "label";
    attrs[c][1] = sw->labels[c];
    attrs[c][2] = NULL;
    /* The baseline cell keeps its /timeseries (traced paths and the fan):
     * the report draws its price fan, liquidations and insurance fund. */
    spec[c] = (cell_spec){.cfg = sw->cfgs[c], .label = label[c], .parent = "sweep/runs", .leaf = leaf[c],
                          .attrs = attrs[c], .timeseries = c == sw->baseline};
    s = cell_fail(&spec[c], ms_assertions_check(sw->cfgs[c], err), err);
  }
  if (!s) s = plan_init(&pl, spec, n, nthreads, opts->cancel, opts->output, err);
  s = journal_start_all(&pl, opts, s, err);
  int here = pl.rank == 0; /* the file, the assembly and the statistics are rank 0's */
  ms_h5_meta meta = {opts->command, pl.created};
  if (!s && here) s = create_file(&h, opts->output, sw->cfgs[sw->baseline], &meta, err);
  pl.h = h;
  if (!s && here) {
    char keys[MS_MAX_GRID * 260] = "", show[MS_MAX_SHOW * (MS_STAT_NAME_MAX + 1)] = "";
    for (int a = 0; a < sw->naxes; a++) {
      strncat(keys, a ? "," : "", sizeof keys - strlen(keys) - 1);
      strncat(keys, sw->axes[a].key, sizeof keys - strlen(keys) - 1);
    }
    for (int j = 0; j < sw->nshow; j++) {
      strncat(show, j ? "," : "", sizeof show - strlen(show) - 1);
      strncat(show, sw->show[j], sizeof show - strlen(show) - 1);
    }
    s = root_attr(h, "sweep", keys, err);
    if (!s) s = root_attr(h, "show", show, err);
    if (!s) s = root_attr_i64(h, "baseline", sw->baseline, err);
  }
  if (!s && here) s = open_groups(&pl, opts, h, err);
  s = agree(&pl, s, err);
  if (!s) s = run_cells(&pl, opts, err);
  if (!here) goto out; /* the others wait in finish */
  if (!s) s = assemble(&pl, opts, h, err);
  /* the statistics of 4,096 cells take seconds: a signal is seen between cells */
  for (int c = 0; !s && c < n && !(s = cancelled(opts->cancel, err)); c++) {
    const ms_config *cfg = sw->cfgs[c];
    colstore_src ctx;
    ms_colsrc src = cell_src(&pl, c, &ctx);
    s = ms_stats_compute(&rep->stats[c], cfg, &src, pl.nthreads, err);
    if (!s) s = write_stats(h, pl.cells[c].h5id, &rep->stats[c], err);
    if (!s) s = write_markets(h, pl.cells[c].h5id, cfg, &src, err);
    if (!s) s = ms_assertions_eval(cfg, &rep->stats[c], &src, rep->asserts + (size_t)c * (size_t)rep->nassert, err);
    if (!s) s = write_assertions(h, pl.cells[c].h5id, rep->asserts + (size_t)c * (size_t)rep->nassert,
                                          rep->nassert, err);
    s = cell_fail(&spec[c], s, err);
  }
  const ms_config *bc = sw->cfgs[sw->baseline];
  for (int c = 0; !s && c < n && !(s = cancelled(opts->cancel, err)); c++) {
    colstore_src cb, cc;
    ms_colsrc sb = cell_src(&pl, sw->baseline, &cb), sc = cell_src(&pl, c, &cc);
    int k = 0;
    /* the baseline against itself: one run, no difference on any path by construction (docs/output.md) */
    ms_pair_relation rel = c == sw->baseline ? MS_PAIR_SAME_RUN : pair_relation(bc, sw->cfgs[c]);
    s = ms_stats_paired_all(bc, &sb, &sc, rel, rep->diffs + (size_t)c * (MS_MAX_COLUMNS + 32), MS_MAX_COLUMNS + 32,
                            pl.nthreads, &k, err);
    if (!s && c > 0 && k != rep->ndiffs)
      s = ms_error_set(err, MS_ERR_INPUT, "the cells of a sweep must have the same statistics");
    rep->ndiffs = k;
  }
  /* pack the differences to ndiffs per cell */
  for (int c = 1; !s && c < n; c++)
    memmove(rep->diffs + (size_t)c * (size_t)rep->ndiffs, rep->diffs + (size_t)c * (MS_MAX_COLUMNS + 32),
            (size_t)rep->ndiffs * sizeof *rep->diffs);
  for (int c = 0; !s && c < n; c++)
    for (int j = 0; !s && j < sw->nshow; j++) s = show_one(sw, rep, &pl, c, j, err);
  if (!s) {
    ms_h5_sweep hs = {.naxes = sw->naxes, .ncells = n, .index = sw->index, .labels = (const char *)sw->labels,
                      .label_size = MS_SWEEP_LABEL, .baseline = sw->baseline, .stats = rep->stats,
                      .diffs = rep->diffs, .ndiffs = rep->ndiffs};
    for (int a = 0; a < sw->naxes; a++)
      hs.axes[a] = (ms_h5_sweep_axis){.key = sw->axes[a].key, .n = sw->axes[a].n,
                                      .values = (const char *)sw->axes[a].values, .value_size = MS_SWEEP_VALUE,
                                      .numeric = sw->axes[a].numeric};
    h5_lock();
    s = ms_h5out_write_sweep(h, &hs, err);
    h5_unlock();
  }
out:
  s = finish(&pl, h, opts, s, err);
  s = share_report(&pl, s, rep->stats, (size_t)n * sizeof *rep->stats, err);
  if (!s) s = share_report(&pl, s, &rep->ndiffs, sizeof rep->ndiffs, err);
  if (!s) s = share_report(&pl, s, rep->diffs, (size_t)n * (size_t)rep->ndiffs * sizeof *rep->diffs, err);
  if (!s) s = share_report(&pl, s, rep->show, (size_t)n * (size_t)rep->nshow * sizeof *rep->show, err);
  if (!s) s = share_report(&pl, s, rep->show_diff, (size_t)n * (size_t)rep->nshow * sizeof *rep->show_diff, err);
  if (!s) s = share_report(&pl, s, rep->asserts, (size_t)n * (size_t)rep->nassert * sizeof *rep->asserts, err);
  for (int c = 0; !s && c < n; c++) point_asserts(rep->asserts + (size_t)c * (size_t)rep->nassert, sw->cfgs[c]);
  rep->replayed = pl.replayed;
  plan_free(&pl);
  free(spec);
  free(leaf);
  free(attrs);
  free(label);
  rep->seconds = now_s() - t0;
  return s;
}
