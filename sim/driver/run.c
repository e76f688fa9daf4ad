/*
 * run — plan, threads, batches, output (see run.h).
 *
 * Each batch of paths runs in parallel; every path writes its own summary
 * row and appends its liquidation and cascade records to its thread's
 * buffers, noting where they are. After the batch, one thread writes the
 * rows and records to the file in path order.
 */
#include "driver/run.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/acctindex.h"
#include "models/market.h"
#include "core/gslguard.h"
#include "core/heap.h"
#include "output/assertion.h"
#include "models/book.h"
#include "engine/engine.h"
#include "output/h5out.h"
#include "models/margin.h"
#include "models/pricepath.h"
#include "output/result.h"

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

/* Records of one thread for the current batch. */
typedef struct {
  ms_liq_record *liq;
  size_t nliq, capliq;
  ms_cascade_buf cas;
} thread_buf;

/* Where a path's records are. */
typedef struct {
  int thread;
  size_t liq_off, liq_n, cas_off, cas_n;
} path_slot;

#define TRACE_FIELDS 8

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
} cell_spec;

/* One cell's state. */
typedef struct {
  const cell_spec *spec;
  int h5id;
  ms_book *book;            /* shared by its threads (per_run books) */
  ms_index_static *index;
  ms_engine **eng;          /* per thread */
  thread_buf *tb;           /* per thread */
  ms_path_summary *rows;    /* every path, kept for the statistics; a twin: the batch's paths
                               only (its cell takes three numbers of each at once) */
  ms_trace *traces;         /* one per traced path of a batch */
  void *trace_mem;
  int64_t ntrace_slots, trace_len, traced;
  double *fan_mem;          /* per fan path of a batch: price, mark, regime (as int32), fan_len each */
  int64_t fan_len, fanned;  /* samples per path; paths sampled (the first ones) */
  path_slot *slots;         /* per path of a batch */
  ms_liq_record *kept;      /* with spec->keep: every record so far, in file order */
  size_t nkept, capkept;
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
    for (int i = 0; i < nthreads; i++) { free(c->tb[i].liq); free(c->tb[i].cas.v); }
  free(c->eng);
  free(c->tb);
  free(c->rows);
  free(c->traces);
  free(c->trace_mem);
  free(c->fan_mem);
  free(c->slots);
  free(c->kept);
  if (!c->borrowed) ms_engine_shared_free(c->book, c->index);
  memset(c, 0, sizeof *c);
}

static void plan_free(run_plan *pl) {
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
  memset(pl, 0, sizeof *pl);
}

/* @p book_of: the cell whose book and index this one (its twin) uses; NULL: its own. */
static ms_status cell_init(cell_state *c, const cell_spec *spec, int nthreads, int64_t batch,
                           const cell_state *book_of, ms_error *err) {
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
  c->rows = calloc((size_t)(spec->hidden ? batch : cfg->paths), sizeof *c->rows);
  c->slots = calloc((size_t)batch, sizeof *c->slots);
  if (!c->eng || !c->tb || !c->rows || !c->slots)
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %lld path summaries", (long long)cfg->paths);
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
    }
  }
  for (int i = 0; i < nthreads; i++) {
    s = ms_engine_new(&c->eng[i], cfg, c->book, c->index, err);
    if (s) return s;
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
      if (cls[d] == d && ms_pricepath_same_path(pl->cells[d].spec->cfg, pl->cells[c].spec->cfg)) { cls[c] = d; break; }
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

/* Whether @p cfg's paths run a no-feedback twin beside them. */
static int needs_twin(const ms_config *cfg) {
  return cfg->stats.counterfactual && cfg->market.impact.model->law != NULL;
}

/* The twin of @p spec: the same configuration with market.impact.model none,
 * as `--set market.impact.model=none` would give (the impact's other keys
 * then play no part), writing nothing of its own. */
static void twin_of(const cell_spec *spec, ms_config *cfg, cell_spec *tw, char *label, size_t len) {
  *cfg = *spec->cfg; /* a shallow copy: it owns nothing, and is never ms_config_free'd */
  cfg->market.impact.model = &ms_impact_none;
  cfg->output.liquidations = 0;
  if (spec->label) snprintf(label, len, "%s, its no-feedback twin", spec->label);
  else snprintf(label, len, "the no-feedback twin (market.impact.model none)");
  *tw = (cell_spec){.cfg = cfg, .label = label, .hidden = 1};
}

static ms_status plan_init(run_plan *pl, const cell_spec *spec, int ncells, int nthreads,
                           const volatile sig_atomic_t *cancel, ms_error *err) {
  memset(pl, 0, sizeof *pl);
  if (ncells < 1) return ms_error_set(err, MS_ERR_INTERNAL, "no cells");
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
  if (!pl->cells || !pl->twin_spec || !pl->twin_cfg || !pl->twin_label || !pl->st || !pl->errs || !pl->failed)
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  for (int c = 0, t = 0; c < ncells; c++) {
    ms_status s = cancelled(cancel, err);
    if (!s) s = cell_init(&pl->cells[c], &spec[c], nthreads, pl->batch, NULL, err);
    if (s) return cell_fail(&spec[c], s, err);
    pl->cells[c].twin = -1;
    if (!needs_twin(spec[c].cfg)) continue;
    twin_of(&spec[c], &pl->twin_cfg[t], &pl->twin_spec[t], pl->twin_label[t], sizeof pl->twin_label[t]);
    int k = ncells + t;
    s = cancelled(cancel, err);
    if (!s) s = cell_init(&pl->cells[k], &pl->twin_spec[t], nthreads, pl->batch, &pl->cells[c], err);
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

static ms_status write_book(ms_h5out *h, int id, const ms_config *cfg, const ms_book *shared,
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
    s = ms_h5out_write_book_rows(h, id, rows, first, cnt, err);
    h5_unlock();
    if (!s) s = cancelled(cancel, err);
  }
  free(rows);
  ms_book_free(own);
  ms_margin_free(m);
  return s;
}

static int keep_liqs(thread_buf *tb, const ms_liq_record *r, size_t n) {
  if (n == 0) return 0;
  if (ms_grow((void **)&tb->liq, &tb->capliq, tb->nliq + n, sizeof *tb->liq)) return -1;
  memcpy(tb->liq + tb->nliq, r, n * sizeof *r);
  tb->nliq += n;
  return 0;
}

/* One path, on the calling thread. */
static ms_status one_path(const ms_config *cfg, ms_engine *e, thread_buf *tb, int thread, uint64_t p,
                          ms_path_summary *row, ms_trace *tr, path_slot *slot, ms_error *err) {
  ms_status s = ms_engine_run_path(e, p, row, tr, err);
  if (s) return s;
  /* the no-feedback twin's columns are the driver's: NaN until path_all_cells fills them */
  row->liquidated_notional_no_impact = row->bad_debt_no_impact = NAN;
  ms_stats_set_amplification(row, 0);
  size_t n, nc;
  ms_liq_record *r = ms_engine_records(e, &n);
  const ms_cascade_record *c = ms_engine_cascades(e, &nc);
  slot->thread = thread;
  slot->cas_off = tb->cas.n;
  if (ms_grow((void **)&tb->cas.v, &tb->cas.cap, tb->cas.n + nc, sizeof *tb->cas.v))
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for cascade records");
  if (nc) memcpy(tb->cas.v + tb->cas.n, c, nc * sizeof *c);
  tb->cas.n += nc;
  slot->cas_n = nc;
  slot->liq_off = tb->nliq;
  slot->liq_n = 0;
  if (cfg->output.liquidations) {
    if (keep_liqs(tb, r, n)) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for liquidation records");
    slot->liq_n = n;
  }
  return MS_OK;
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
    ms_path_summary *row = &cs->rows[cs->spec->hidden ? i : first + i];
    ms_status s = one_path(cs->spec->cfg, cs->eng[th], &cs->tb[th], th, p, row, tr, &cs->slots[i], &pl->errs[i]);
    if (s) { pl->st[i] = s; pl->failed[i] = c; return; } /* a failed recording leaves nothing to replay */
  }
  for (int c = 0; c < pl->nvisible; c++) {
    const cell_state *cs = &pl->cells[c];
    if (!cs->spec->cfg->stats.counterfactual) continue;
    ms_path_summary *row = &cs->rows[p], *tw = cs->twin >= 0 ? &pl->cells[cs->twin].rows[i] : row;
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
    memcpy(cs->kept + cs->nkept, cs->tb[sl->thread].liq + sl->liq_off, sl->liq_n * sizeof *cs->kept);
    cs->nkept += sl->liq_n;
  }
  return MS_OK;
}

/* Write what cell @p c's paths first .. first + n - 1 produced, in path
 * order, to the file (when there is one; with the HDF5 lock held) and to
 * memory (with spec->keep). */
static ms_status write_batch(ms_h5out *h, cell_state *cs, int64_t first, int64_t n, ms_error *err) {
  ms_status s = cs->spec->keep ? keep_batch(cs, n, err) : MS_OK;
  if (s || !h) return s;
  h5_lock();
  s = ms_h5out_write_summary(h, cs->h5id, cs->rows + first, first, n, err);
  for (int64_t i = 0; !s && i < n; i++) {
    const path_slot *sl = &cs->slots[i];
    const thread_buf *tb = &cs->tb[sl->thread];
    s = ms_h5out_append_cascades(h, cs->h5id, tb->cas.v + sl->cas_off, sl->cas_n, err);
    if (!s && sl->liq_n) s = ms_h5out_append_liquidations(h, cs->h5id, tb->liq + sl->liq_off, sl->liq_n, err);
    if (!s && first + i < cs->traced) s = ms_h5out_write_trace(h, cs->h5id, first + i, &cs->traces[i], err);
    if (!s && first + i < cs->fanned) {
      const double *fan = cs->fan_mem + i * 3 * cs->fan_len;
      s = ms_h5out_write_fan(h, cs->h5id, first + i, fan, fan + cs->fan_len,
                             (const int32_t *)(fan + 2 * cs->fan_len), err);
    }
  }
  h5_unlock();
  return s;
}

/* Run every path of every cell of @p pl into @p h (NULL: no file); the
 * summaries stay in each cell's rows. Batches of paths run in parallel, each
 * thread taking whole paths (all cells of one path), and are written in path
 * order. */
static ms_status run_cells(run_plan *pl, const ms_run_opts *opts, ms_h5out *h, ms_error *err) {
  ms_status s = MS_OK;
  for (int c = 0; !s && h && c < pl->nvisible; c++) {
    cell_state *cs = &pl->cells[c];
    const char *leaf = cs->spec->leaf;
    h5_lock();
    s = ms_h5out_add_run(h, cs->spec->parent, leaf, cs->spec->cfg, cs->spec->timeseries ? MS_H5_TIMESERIES : 0u,
                         cs->spec->attrs, &cs->h5id, err);
    h5_unlock();
    if (!s && cs->spec->book) s = write_book(h, cs->h5id, cs->spec->cfg, cs->book, opts->cancel, err);
    if (!s) s = cancelled(opts->cancel, err);
    s = cell_fail(cs->spec, s, err);
  }
  const volatile sig_atomic_t *cancel = opts->cancel;
  int nthreads = pl->nthreads;
  /* the engines look at the flag inside a path too: a long path stops within milliseconds */
  for (int c = 0; c < pl->ncells; c++)
    for (int i = 0; i < nthreads; i++) ms_engine_set_cancel(pl->cells[c].eng[i], cancel);
  for (int64_t first = 0; !s && first < pl->paths; first += pl->batch) {
    int64_t n = pl->paths - first < pl->batch ? pl->paths - first : pl->batch;
    for (int c = 0; c < pl->ncells; c++)
      for (int i = 0; i < nthreads; i++) { pl->cells[c].tb[i].nliq = 0; pl->cells[c].tb[i].cas.n = 0; }
    int64_t done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) default(none) shared(pl, cancel, done, opts) \
    firstprivate(first, n)
    for (int64_t i = 0; i < n; i++) {
      path_all_cells(pl, i, (uint64_t)(first + i), omp_get_thread_num(), cancel);
      int64_t d;
#pragma omp atomic capture
      d = ++done;
      /* the bar moves as paths finish; only the calling thread draws it */
      if (opts->progress && omp_get_thread_num() == 0) opts->progress(opts->progress_ctx, first + d, pl->paths);
    }
    /* The first failure in path order decides the message. */
    for (int64_t i = 0; i < n && !s; i++) {
      if (pl->st[i] == MS_ERR_CANCELLED) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
      else if (pl->st[i]) { *err = pl->errs[i]; s = cell_fail(pl->cells[pl->failed[i]].spec, pl->st[i], err); }
    }
    if (!s && cancel && *cancel) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
    for (int c = 0; !s && c < pl->nvisible; c++) s = write_batch(h, &pl->cells[c], first, n, err);
    for (int c = 0; !s && c < pl->nvisible; c++) /* the cells asked for: the message counts their paths */
      if (pl->cells[c].tape_mode == MS_TAPE_REPLAY) pl->replayed += n;
    if (!s && opts->progress) opts->progress(opts->progress_ctx, first + n, pl->paths);
  }
  return s;
}

static int nthreads_of(const ms_run_opts *opts) { return opts->threads > 0 ? opts->threads : omp_get_max_threads(); }

/* The end of every run: the cancel check, then the rename into place
 * (@p h NULL: no file, only the check). */
static ms_status finish(ms_h5out *h, const ms_run_opts *opts, ms_status s, ms_error *err) {
  if (!s && opts->cancel && *opts->cancel) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
  if (!h) return s;
  h5_lock();
  if (!s) {
    s = ms_h5out_commit(h, err);
    h = NULL;
  }
  ms_h5out_abort(h);
  h5_unlock();
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
  ms_h5_meta meta = {opts->command};
  int file = opts->output != NULL;
  ms_status s = ms_assertions_check(cfg, err);
  if (!s) s = plan_init(pl, spec, 1, nthreads, opts->cancel, err);
  if (!s && file) s = create_file(&h, opts->output, cfg, &meta, err);
  if (!s) s = run_cells(pl, opts, h, err);
  if (!s) s = ms_stats_compute(stats, cfg, pl->cells[0].rows, cfg->paths, nthreads, err);
  if (!s) s = ms_assertions_eval(cfg, stats, pl->cells[0].rows, cfg->paths, asserts, err);
  if (!s && file) s = write_stats(h, pl->cells[0].h5id, stats, err);
  if (!s && file) s = write_assertions(h, pl->cells[0].h5id, asserts, cfg->nassertions, err);
  return finish(h, opts, s, err);
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
  c->source_text = NULL;
  if (cfg->source_text && !(c->source_text = strdup(cfg->source_text))) {
    free(c);
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
  double t0 = now_s();
  int nthreads = nthreads_of(opts);
  ms_result *r = calloc(1, sizeof *r);
  if (!r) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for the result");
  run_plan pl;
  memset(&pl, 0, sizeof pl);
  /* Without a file, nothing is traced or drawn for /timeseries and /book:
   * they change no row (a test compares the rows of both). */
  int file = opts->output != NULL;
  cell_spec spec = {.cfg = cfg, .timeseries = file, .book = file, .keep = cfg->output.liquidations};
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

/* Evaluate a cell's assertions and write them to its group. */
static ms_status eval_assertions(ms_h5out *h, cell_state *cs, int nthreads, ms_error *err) {
  const ms_config *cfg = cs->spec->cfg;
  if (cfg->nassertions == 0) return MS_OK;
  ms_stats *st = malloc(sizeof *st);
  ms_assert_result *r = calloc((size_t)cfg->nassertions, sizeof *r);
  ms_status s = st && r ? MS_OK : ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  if (!s) s = ms_stats_compute(st, cfg, cs->rows, cfg->paths, nthreads, err);
  if (!s) s = ms_assertions_eval(cfg, st, cs->rows, cfg->paths, r, err);
  if (!s) s = write_assertions(h, cs->h5id, r, cfg->nassertions, err);
  free(st);
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
  ms_h5out *h = NULL;
  ms_h5_meta meta = {opts->command};
  ms_status s = MS_OK;
  for (int c = 0; !s && c < ncells; c++) s = cell_fail(&spec[c], ms_assertions_check(cfgs[c], err), err);
  if (!s) s = plan_init(&pl, spec, ncells, nthreads, opts->cancel, err);
  if (!s) s = create_file(&h, opts->output, cfgs[0], &meta, err);
  if (!s) s = root_attr(h, "compare", key, err);
  if (!s) s = run_cells(&pl, opts, h, err);
  for (int c = 0; !s && c < ncells; c++) {
    s = ms_stats_compute(&rep->stats[c], cfgs[c], pl.cells[c].rows, paths, pl.nthreads, err);
    if (!s) s = write_stats(h, pl.cells[c].h5id, &rep->stats[c], err);
    if (!s) s = efficiency(cfgs[c], pl.cells[c].book, &rep->efficiency[c], err);
    if (!s) s = eval_assertions(h, &pl.cells[c], pl.nthreads, err);
    rep->cell_seconds[c] = NAN; /* the cells of a path run together */
    rep->ncells = c + 1;
  }
  for (int c = 1; !s && c < ncells; c++)
    rep->ndiffs = ms_stats_paired(cfgs[0], pl.cells[0].rows, pl.cells[c].rows, paths, rep->diffs[c], pl.nthreads);
  if (!s) {
    h5_lock();
    s = ms_h5out_write_compare(h, rep, err);
    h5_unlock();
  }
  s = finish(h, opts, s, err);
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
  ms_status s = ms_stats_value_of(&rep->stats[c], cfg, pl->cells[c].rows, cfg->paths, name, 0, v, err);
  if (!s) s = ms_stats_value_of(&rep->stats[sw->baseline], sw->cfgs[sw->baseline], pl->cells[sw->baseline].rows,
                                cfg->paths, name, 0, &vb, err);
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
  ms_h5_meta meta = {opts->command};
  if (!s) s = plan_init(&pl, spec, n, nthreads, opts->cancel, err);
  if (!s) s = create_file(&h, opts->output, sw->cfgs[sw->baseline], &meta, err);
  if (!s) {
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
  if (!s) s = run_cells(&pl, opts, h, err);
  for (int c = 0; !s && c < n; c++) {
    const ms_config *cfg = sw->cfgs[c];
    s = ms_stats_compute(&rep->stats[c], cfg, pl.cells[c].rows, cfg->paths, pl.nthreads, err);
    if (!s) s = write_stats(h, pl.cells[c].h5id, &rep->stats[c], err);
    if (!s) s = ms_assertions_eval(cfg, &rep->stats[c], pl.cells[c].rows, cfg->paths,
                                   rep->asserts + (size_t)c * (size_t)rep->nassert, err);
    if (!s) s = write_assertions(h, pl.cells[c].h5id, rep->asserts + (size_t)c * (size_t)rep->nassert,
                                          rep->nassert, err);
    s = cell_fail(&spec[c], s, err);
  }
  const ms_config *bc = sw->cfgs[sw->baseline];
  for (int c = 0; !s && c < n; c++) {
    int k = ms_stats_paired_all(bc, pl.cells[sw->baseline].rows, pl.cells[c].rows, bc->paths,
                                        rep->diffs + (size_t)c * (MS_MAX_COLUMNS + 32), MS_MAX_COLUMNS + 32,
                                        pl.nthreads);
    if (c > 0 && k != rep->ndiffs)
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
  s = finish(h, opts, s, err);
  rep->replayed = pl.replayed;
  plan_free(&pl);
  free(spec);
  free(leaf);
  free(attrs);
  free(label);
  rep->seconds = now_s() - t0;
  return s;
}
