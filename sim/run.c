/*
 * run — plan, threads, batches, output (see run.h).
 *
 * Each batch of paths runs in parallel; every path writes its own summary
 * row and appends its liquidation and cascade records to its thread's
 * buffers, noting where they are. After the batch, one thread writes the
 * rows and records to the file in path order.
 */
#include "marginsim/run.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acctindex.h"
#include "heap.h"
#include "marginsim/book.h"
#include "marginsim/engine.h"
#include "marginsim/h5out.h"
#include "marginsim/margin.h"

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

typedef struct {
  int nthreads;
  ms_book *book;
  ms_index_static *index;
  ms_engine **eng;
  thread_buf *tb;
  ms_path_summary *rows;    /* every path, kept for the statistics */
  ms_trace *traces;         /* one per traced path of a batch */
  void *trace_mem;
  int64_t ntrace_slots, trace_len;
  path_slot *slots;         /* per path of a batch */
  ms_status *st;
  ms_error *errs;
} run_state;

static void state_free(run_state *rs) {
  if (rs->eng)
    for (int i = 0; i < rs->nthreads; i++) ms_engine_free(rs->eng[i]);
  if (rs->tb)
    for (int i = 0; i < rs->nthreads; i++) { free(rs->tb[i].liq); free(rs->tb[i].cas.v); }
  free(rs->eng);
  free(rs->tb);
  free(rs->rows);
  free(rs->traces);
  free(rs->trace_mem);
  free(rs->slots);
  free(rs->st);
  free(rs->errs);
  ms_engine_shared_free(rs->book, rs->index);
}

static ms_status state_init(run_state *rs, const ms_config *cfg, int nthreads, int64_t batch,
                            ms_error *err) {
  memset(rs, 0, sizeof *rs);
  rs->nthreads = nthreads;
  ms_status s = ms_engine_shared_new(cfg, &rs->book, &rs->index, err);
  if (s) return s;
  rs->eng = calloc((size_t)nthreads, sizeof *rs->eng);
  rs->tb = calloc((size_t)nthreads, sizeof *rs->tb);
  rs->rows = calloc((size_t)cfg->paths, sizeof *rs->rows);
  rs->slots = calloc((size_t)batch, sizeof *rs->slots);
  rs->st = calloc((size_t)batch, sizeof *rs->st);
  rs->errs = calloc((size_t)batch, sizeof *rs->errs);
  int64_t traced = cfg->output.timeseries.paths < cfg->paths ? cfg->output.timeseries.paths : cfg->paths;
  rs->ntrace_slots = traced < batch ? traced : batch;
  rs->trace_len = ms_trace_len(cfg);
  if (rs->ntrace_slots > 0) {
    size_t cells = (size_t)(rs->ntrace_slots * rs->trace_len);
    rs->traces = calloc((size_t)rs->ntrace_slots, sizeof *rs->traces);
    rs->trace_mem = malloc(cells * TRACE_FIELDS * sizeof(double));
    if (!rs->traces || !rs->trace_mem) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for time series");
    double *d = rs->trace_mem;
    for (int64_t k = 0; k < rs->ntrace_slots; k++) {
      ms_trace *t = &rs->traces[k];
      size_t L = (size_t)rs->trace_len;
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
  if (!rs->eng || !rs->tb || !rs->rows || !rs->slots || !rs->st || !rs->errs)
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %lld path summaries", (long long)cfg->paths);
  for (int i = 0; i < nthreads; i++) {
    s = ms_engine_new(&rs->eng[i], cfg, rs->book, rs->index, err);
    if (s) return s;
  }
  return MS_OK;
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

static ms_status write_book(ms_h5out *h, const ms_config *cfg, const ms_book *shared, ms_error *err) {
  ms_margin *m = NULL;
  ms_book *own = NULL;
  ms_book_row *rows = NULL;
  const ms_book *b;
  ms_status s = margin_and_book(cfg, shared, &m, &own, &b, err);
  if (!s) {
    rows = malloc(BOOK_BLOCK * sizeof *rows);
    if (!rows) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory for /book");
  }
  if (!s) s = ms_h5out_create_book(h, b->n, ms_margin_get_type(m)->name, err);
  ms_view v0 = {cfg->market.initial_price, 0, cfg->market.reference_vol};
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
    s = ms_h5out_write_book_rows(h, rows, first, cnt, err);
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
  size_t n;
  ms_liq_record *r = ms_engine_records(e, &n);
  slot->thread = thread;
  slot->cas_off = tb->cas.n;
  s = ms_stats_path_cascades(cfg, row, r, n, &tb->cas, err);
  if (s) return s;
  slot->cas_n = tb->cas.n - slot->cas_off;
  slot->liq_off = tb->nliq;
  slot->liq_n = 0;
  if (cfg->output.liquidations) {
    if (keep_liqs(tb, r, n)) return ms_error_set(err, MS_ERR_NOMEM, "out of memory for liquidation records");
    slot->liq_n = n;
  }
  return MS_OK;
}

/* Run every path of @p cfg into the datasets @p h has open; the summaries
 * stay in @p rs->rows. @p done / @p total scale the progress reports. */
static ms_status run_paths(const ms_config *cfg, const ms_run_opts *opts, run_state *rs, ms_h5out *h,
                           int nthreads, int64_t done, int64_t total, ms_error *err) {
  int64_t batch = cfg->output.chunk_paths;
  if (batch > cfg->paths) batch = cfg->paths;
  int64_t traced = cfg->output.timeseries.paths < cfg->paths ? cfg->output.timeseries.paths : cfg->paths;
  ms_status s = write_book(h, cfg, rs->book, err);
  for (int64_t first = 0; !s && first < cfg->paths; first += batch) {
    int64_t n = cfg->paths - first < batch ? cfg->paths - first : batch;
    const volatile sig_atomic_t *cancel = opts->cancel;
    ms_path_summary *rows = rs->rows + first;
    ms_status *st = rs->st;
    ms_error *errs = rs->errs;
    ms_engine **eng = rs->eng;
    ms_trace *traces = rs->traces;
    thread_buf *tb = rs->tb;
    path_slot *slots = rs->slots;
    for (int i = 0; i < nthreads; i++) { tb[i].nliq = 0; tb[i].cas.n = 0; }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) default(none) \
    shared(cfg, cancel, rows, st, errs, eng, traces, traced, tb, slots) firstprivate(first, n)
    for (int64_t i = 0; i < n; i++) {
      if (cancel && *cancel) { st[i] = MS_ERR_CANCELLED; continue; }
      uint64_t p = (uint64_t)(first + i);
      int th = omp_get_thread_num();
      ms_trace *tr = (int64_t)p < traced ? &traces[(int64_t)p - first] : NULL;
      st[i] = one_path(cfg, eng[th], &tb[th], th, p, &rows[i], tr, &slots[i], &errs[i]);
    }
    /* The first failure in path order decides the message. */
    for (int64_t i = 0; i < n && !s; i++) {
      if (st[i] == MS_ERR_CANCELLED) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
      else if (st[i]) { *err = errs[i]; s = st[i]; }
    }
    if (!s && opts->cancel && *opts->cancel) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
    if (!s) s = ms_h5out_write_summary(h, rows, first, n, err);
    for (int64_t i = 0; !s && i < n; i++) {
      const path_slot *sl = &slots[i];
      s = ms_h5out_append_cascades(h, tb[sl->thread].cas.v + sl->cas_off, sl->cas_n, err);
      if (!s && sl->liq_n)
        s = ms_h5out_append_liquidations(h, tb[sl->thread].liq + sl->liq_off, sl->liq_n, err);
      if (!s && first + i < traced) s = ms_h5out_write_trace(h, first + i, &traces[i], err);
    }
    if (!s && opts->progress) opts->progress(opts->progress_ctx, done + first + n, total);
  }
  return s;
}

static int nthreads_of(const ms_run_opts *opts) { return opts->threads > 0 ? opts->threads : omp_get_max_threads(); }

static int64_t batch_of(const ms_config *cfg) {
  return cfg->output.chunk_paths < cfg->paths ? cfg->output.chunk_paths : cfg->paths;
}

ms_status ms_run(const ms_config *cfg, const ms_run_opts *opts, ms_run_report *report,
                 ms_error *err) {
  double t0 = now_s();
  int nthreads = nthreads_of(opts);
  run_state rs;
  ms_h5out *h = NULL;
  ms_status s = state_init(&rs, cfg, nthreads, batch_of(cfg), err);
  ms_h5_meta meta = {opts->command};
  if (!s) s = ms_h5out_create(&h, opts->output, cfg, &meta, err);
  if (!s) s = run_paths(cfg, opts, &rs, h, nthreads, 0, cfg->paths, err);
  if (!s) s = ms_stats_compute(&report->stats, cfg, rs.rows, cfg->paths, err);
  if (!s) s = ms_h5out_write_stats(h, &report->stats, err);
  if (!s && opts->cancel && *opts->cancel) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
  if (!s) {
    s = ms_h5out_commit(h, err);
    h = NULL;
  }
  ms_h5out_abort(h);
  state_free(&rs);
  report->paths = cfg->paths;
  report->threads = nthreads;
  report->seconds = now_s() - t0;
  return s;
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
    double P = cfg->market.initial_price, vol = cfg->market.reference_vol;
    double mv = Z99 * vol * sqrt(1.0 / cfg->market.days_per_year);
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

ms_status ms_run_compare(const ms_config *const *cfgs, const char *const *values, int ncells, const char *key,
                         const ms_run_opts *opts, ms_compare_report *rep, ms_error *err) {
  double t0 = now_s();
  int nthreads = nthreads_of(opts);
  memset(rep, 0, sizeof *rep);
  if (ncells < 2 || ncells > MS_MAX_CELLS)
    return ms_error_set(err, MS_ERR_INPUT, "--compare %s: give 2 to %d values", key, MS_MAX_CELLS);
  int64_t paths = cfgs[0]->paths;
  for (int c = 1; c < ncells; c++) /* the differences are paired path by path */
    if (cfgs[c]->paths != paths || cfgs[c]->seed != cfgs[0]->seed)
      return ms_error_set(err, MS_ERR_INPUT,
                          "--compare %s: the compared runs must share paths and seed (they are paired path by "
                          "path); compare any other key", key);
  ms_path_summary *rows[MS_MAX_CELLS] = {0};
  ms_h5out *h = NULL;
  ms_h5_meta meta = {opts->command};
  ms_status s = ms_h5out_create_compare(&h, opts->output, cfgs[0], &meta, key, err);
  for (int c = 0; !s && c < ncells; c++) {
    run_state rs;
    double tc = now_s();
    snprintf(rep->values[c], sizeof rep->values[c], "%s", values[c]);
    s = state_init(&rs, cfgs[c], nthreads, batch_of(cfgs[c]), err);
    if (!s) s = ms_h5out_begin_cell(h, values[c], cfgs[c], err);
    if (!s) s = run_paths(cfgs[c], opts, &rs, h, nthreads, (int64_t)c * paths, (int64_t)ncells * paths, err);
    if (!s) s = ms_stats_compute(&rep->stats[c], cfgs[c], rs.rows, paths, err);
    if (!s) s = ms_h5out_write_stats(h, &rep->stats[c], err);
    if (!s) s = efficiency(cfgs[c], rs.book, &rep->efficiency[c], err);
    if (!s) s = ms_h5out_end_cell(h, err);
    if (!s) { rows[c] = rs.rows; rs.rows = NULL; } /* kept for the paired differences */
    state_free(&rs);
    rep->cell_seconds[c] = now_s() - tc;
    rep->ncells = c + 1;
  }
  for (int c = 1; !s && c < ncells; c++) rep->ndiffs = ms_stats_paired(cfgs[0], rows[0], rows[c], paths, rep->diffs[c]);
  if (!s) s = ms_h5out_write_compare(h, rep, err);
  if (!s && opts->cancel && *opts->cancel) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
  if (!s) {
    s = ms_h5out_commit(h, err);
    h = NULL;
  }
  ms_h5out_abort(h);
  for (int c = 0; c < MS_MAX_CELLS; c++) free(rows[c]);
  rep->seconds = now_s() - t0;
  return s;
}
