/*
 * run — plan, threads, batches, output (see run.h).
 */
#include "marginsim/run.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "marginsim/engine.h"
#include "marginsim/h5out.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
  int nthreads;
  ms_engine **eng;          /* one workspace per thread */
  ms_path_summary *rows;    /* every path, kept for the statistics */
  ms_trace *traces;         /* one per traced path of a batch */
  double *trace_price;
  int32_t *trace_regime;
  int64_t ntrace_slots, trace_len;
  ms_status *st;            /* per path of a batch */
  ms_error *errs;           /* per path of a batch */
} run_state;

static void state_free(run_state *rs) {
  if (rs->eng)
    for (int i = 0; i < rs->nthreads; i++) ms_engine_free(rs->eng[i]);
  free(rs->eng);
  free(rs->rows);
  free(rs->traces);
  free(rs->trace_price);
  free(rs->trace_regime);
  free(rs->st);
  free(rs->errs);
}

static ms_status state_init(run_state *rs, const ms_config *cfg, int nthreads, int64_t batch,
                            ms_error *err) {
  memset(rs, 0, sizeof *rs);
  rs->nthreads = nthreads;
  rs->eng = calloc((size_t)nthreads, sizeof *rs->eng);
  rs->rows = calloc((size_t)cfg->paths, sizeof *rs->rows);
  rs->st = calloc((size_t)batch, sizeof *rs->st);
  rs->errs = calloc((size_t)batch, sizeof *rs->errs);
  int64_t traced = cfg->output.timeseries.paths < cfg->paths ? cfg->output.timeseries.paths : cfg->paths;
  rs->ntrace_slots = traced < batch ? traced : batch;
  rs->trace_len = ms_trace_len(cfg);
  if (rs->ntrace_slots > 0) {
    size_t cells = (size_t)(rs->ntrace_slots * rs->trace_len);
    rs->traces = calloc((size_t)rs->ntrace_slots, sizeof *rs->traces);
    rs->trace_price = malloc(cells * sizeof *rs->trace_price);
    rs->trace_regime = malloc(cells * sizeof *rs->trace_regime);
    if (!rs->traces || !rs->trace_price || !rs->trace_regime)
      return ms_error_set(err, MS_ERR_NOMEM, "out of memory for time series");
    for (int64_t k = 0; k < rs->ntrace_slots; k++) {
      rs->traces[k].price = rs->trace_price + k * rs->trace_len;
      rs->traces[k].regime = rs->trace_regime + k * rs->trace_len;
    }
  }
  if (!rs->eng || !rs->rows || !rs->st || !rs->errs)
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory for %lld path summaries",
                        (long long)cfg->paths);
  for (int i = 0; i < nthreads; i++) {
    ms_status s = ms_engine_new(&rs->eng[i], cfg, err);
    if (s) return s;
  }
  return MS_OK;
}

ms_status ms_run(const ms_config *cfg, const ms_run_opts *opts, ms_run_report *report,
                 ms_error *err) {
  double t0 = now_s();
  int nthreads = opts->threads > 0 ? opts->threads : omp_get_max_threads();
  int64_t batch = cfg->output.chunk_paths;
  if (batch > cfg->paths) batch = cfg->paths;
  int64_t traced = cfg->output.timeseries.paths < cfg->paths ? cfg->output.timeseries.paths : cfg->paths;

  run_state rs;
  ms_h5out *h = NULL;
  ms_status s = state_init(&rs, cfg, nthreads, batch, err);
  ms_h5_meta meta = {opts->command};
  if (!s) s = ms_h5out_create(&h, opts->output, cfg, &meta, err);

  for (int64_t first = 0; !s && first < cfg->paths; first += batch) {
    int64_t n = cfg->paths - first < batch ? cfg->paths - first : batch;
    const volatile sig_atomic_t *cancel = opts->cancel;
    ms_path_summary *rows = rs.rows + first;
    ms_status *st = rs.st;
    ms_error *errs = rs.errs;
    ms_engine **eng = rs.eng;
    ms_trace *traces = rs.traces;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) default(none) \
    shared(cancel, rows, st, errs, eng, traces, traced) firstprivate(first, n)
    for (int64_t i = 0; i < n; i++) {
      if (cancel && *cancel) { st[i] = MS_ERR_CANCELLED; continue; }
      uint64_t p = (uint64_t)(first + i);
      ms_trace *tr = (int64_t)p < traced ? &traces[(int64_t)p - first] : NULL;
      st[i] = ms_engine_run_path(eng[omp_get_thread_num()], p, &rows[i], tr, &errs[i]);
    }
    /* The first failure in path order decides the message. */
    for (int64_t i = 0; i < n && !s; i++) {
      if (st[i] == MS_ERR_CANCELLED) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
      else if (st[i]) { *err = errs[i]; s = st[i]; }
    }
    if (!s && opts->cancel && *opts->cancel) s = ms_error_set(err, MS_ERR_CANCELLED, "interrupted");
    if (!s) s = ms_h5out_write_summary(h, rows, first, n, err);
    for (int64_t i = 0; !s && i < n && first + i < traced; i++)
      s = ms_h5out_write_trace(h, first + i, &rs.traces[i], err);
    if (!s && opts->progress) opts->progress(opts->progress_ctx, first + n, cfg->paths);
  }
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
