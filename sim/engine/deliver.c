/*
 * deliver — where a path's liquidation and cascade records go: kept in the
 * workspace for the caller to read after the path (no sink), or handed to
 * the caller's sinks in blocks of at most MS_LIQ_BLOCK, so that what a
 * thread holds does not grow with the liquidations of a path
 * (docs/engine.md, "Records and sinks"). Each record gets its generation
 * and cascade from the path's online cascades (cascade.c) as it is
 * appended: nothing changes a record after that, so it may go out at once.
 */
#include <stdlib.h>

#include "core/heap.h"
#include "engine/engine_state.h"

void ms_engine_set_sinks(ms_engine *e, ms_liq_sink liq, ms_cascade_sink cas, void *ctx) {
  e->liq_sink = liq;
  e->cas_sink = cas;
  e->sink_ctx = ctx;
  /* What an earlier path without a sink kept would stay allocated past the bound. */
  if (liq && e->caprec > MS_LIQ_BLOCK) {
    free(e->rec);
    e->rec = NULL;
    e->nrec = e->caprec = 0;
  }
  if (cas && e->capcas > MS_LIQ_BLOCK) {
    free(e->cas);
    e->cas = NULL;
    e->ncas = e->capcas = 0;
  }
}

const ms_cascade_record *ms_engine_cascades(ms_engine *e, size_t *n) {
  *n = e->ncas;
  return e->cas;
}

ms_liq_record *ms_engine_records(ms_engine *e, size_t *n) {
  *n = e->nrec;
  return e->rec;
}

void ms_engine_buffer_room(const ms_engine *e, size_t *records, size_t *cascades) {
  *records = e->caprec;
  *cascades = e->capcas;
}

/* A sink failed: its status, and its message for ms_engine_run_path. */
static ms_status sink_failed(ms_engine *e, ms_status s) {
  if (!s) s = MS_ERR_INTERNAL; /* a sink's error must carry a status */
  e->sink_failed = 1;
  if (e->sink_err.status != s) ms_error_set(&e->sink_err, s, "%s", ms_strerror(s));
  return s;
}

static ms_status deliver_records(ms_engine *e) {
  if (e->nrec == 0) return MS_OK;
  ms_status s = e->liq_sink(e->sink_ctx, e->rec, e->nrec, &e->sink_err);
  e->nrec = 0;
  return s ? sink_failed(e, s) : MS_OK;
}

static ms_status deliver_cascades(ms_engine *e) {
  if (e->ncas == 0) return MS_OK;
  ms_status s = e->cas_sink(e->sink_ctx, e->cas, e->ncas, &e->sink_err);
  e->ncas = 0;
  return s ? sink_failed(e, s) : MS_OK;
}

ms_status ms_eng_push_cascade(ms_engine *e) {
  if (e->cas_sink && e->ncas == MS_LIQ_BLOCK) {
    ms_status s = deliver_cascades(e);
    if (s) return s;
  }
  if (ms_grow((void **)&e->cas, &e->capcas, e->ncas + 1, sizeof *e->cas)) return MS_ERR_NOMEM;
  e->cas[e->ncas++] = e->casc.closed;
  return MS_OK;
}

void ms_eng_records_start(ms_engine *e) {
  e->nrec = e->ncas = 0;
  e->sink_failed = 0;
  ms_error_clear(&e->sink_err);
  ms_cascades_start(&e->casc, e->path, e->cfg->stats.cascade_gap);
}

ms_status ms_eng_record_room(ms_engine *e) {
  /* With a sink the buffer grows to MS_LIQ_BLOCK (ms_grow doubles from 64;
   * ms_engine_set_sinks drops a larger one): then a full block goes out
   * when the next record needs its room, so the last goes at the path's end. */
  if (e->liq_sink && e->nrec == MS_LIQ_BLOCK) return deliver_records(e);
  if (ms_grow((void **)&e->rec, &e->caprec, e->nrec + 1, sizeof *e->rec)) return MS_ERR_NOMEM;
  return MS_OK;
}

ms_status ms_eng_records_end(ms_engine *e, ms_path_summary *row) {
  ms_status s = MS_OK;
  if (ms_cascades_finish(&e->casc, row)) s = ms_eng_push_cascade(e);
  if (!s && e->liq_sink) s = deliver_records(e);
  if (!s && e->cas_sink) s = deliver_cascades(e);
  return s;
}
