/*
 * h5out — the HDF5 result file, written atomically.
 *
 * Everything is written to a temporary ".<file>.ms-tmp-XXXXXXXX" beside the
 * final name (marginsim/outfile.h: only a regular file or nothing may be at
 * the path) and renamed only by ms_h5out_commit(); ms_h5out_abort() removes
 * the temporary, so a failed or interrupted run leaves no result file and
 * the previous one as it was. Every HDF5 status is checked; the first
 * failure's cause (e.g. "No space left on device") is in the message. All
 * calls must come from one thread (serial HDF5), one file open at a time.
 * The layout is documented in docs/output.md.
 */
#ifndef MARGINSIM_H5OUT_H
#define MARGINSIM_H5OUT_H

#include <stdint.h>

#include "output/assertion.h"
#include "output/fields.h"
#include "engine/engine.h"
#include "marginsim/error.h"
#include "config/scenario.h"
#include "output/stats.h"
#include "output/outfile.h"

/** A result file, for -o checks: an existing file is replaced only when it is one (HDF5 whose root has
 *  marginsim's `rng` and `version`). Its test opens the file with HDF5: under the driver's HDF5 mutex. */
extern const ms_outfile_kind ms_h5out_result_kind;

typedef struct ms_h5out ms_h5out;

/** What the root attributes record. */
typedef struct ms_h5_meta {
  const char *command;      /* the command line */
  int64_t created;          /* Unix time the run began ("created"); 0: now */
} ms_h5_meta;

/** Create the temporary file and its root attributes (describing @p cfg). */
ms_status ms_h5out_create(ms_h5out **out, const char *path, const ms_config *cfg,
                          const ms_h5_meta *meta, ms_error *err);

/** A string / int64 attribute on the root group. */
ms_status ms_h5out_root_attr(ms_h5out *h, const char *name, const char *value, ms_error *err);
ms_status ms_h5out_root_attr_i64(ms_h5out *h, const char *name, int64_t value, ms_error *err);

/** ms_h5out_add_run() flags. */
#define MS_H5_TIMESERIES 1u  /* the run has /timeseries */

/**
 * Open the datasets of one run of @p cfg (paths/summary, cascades,
 * liquidations when output.liquidations, timeseries with MS_H5_TIMESERIES):
 * at the root when @p leaf is NULL, else in group "<parent>/<leaf>" (a '/'
 * in @p leaf becomes '|'), which gets the attribute "config" and the
 * (name, value) string pairs of the NULL-terminated @p attrs. Several runs
 * can be open at once; *@p id names this one in the calls below. Closed by
 * ms_h5out_close_run() or at commit.
 */
ms_status ms_h5out_add_run(ms_h5out *h, const char *parent, const char *leaf, const ms_config *cfg,
                           unsigned flags, const char *const *attrs, int *id, ms_error *err);
void ms_h5out_close_run(ms_h5out *h, int id);

/** Write summary rows for paths first .. first + n - 1. Rows written in path order are held until their chunk
 * is whole (it is deflated then): a failure to write them may show only when the run is closed (the file is
 * then not committed). */
ms_status ms_h5out_write_summary(ms_h5out *h, int id, const ms_path_summary *rows, int64_t first, int64_t n,
                                 ms_error *err);

/** Write the trace of traced path @p k (k < output.timeseries.paths). */
ms_status ms_h5out_write_trace(ms_h5out *h, int id, int64_t k, const ms_trace *tr, ms_error *err);

/** Write the fan samples (output.fan.points of each) of path @p k (k < output.fan.paths); held until their
 * chunk is whole, as the summary's rows. */
ms_status ms_h5out_write_fan(ms_h5out *h, int id, int64_t k, const double *price, const double *mark,
                             const int32_t *regime, ms_error *err);

/** The group name of run @p leaf under its parent (a --compare value, a sweep cell): '/' written '|',
 * "." and ".." as "_." and "_..". */
void ms_h5out_leaf_name(const char *leaf, char *out, size_t n);

/** Create /book for @p n accounts. */
ms_status ms_h5out_create_book(ms_h5out *h, int id, int64_t n, const char *margin_model, ms_error *err);

/** Write rows first .. first + count - 1 of /book, deflating its chunks on up to @p threads threads (the
 * file's bytes do not depend on it). */
ms_status ms_h5out_write_book_rows(ms_h5out *h, int id, const ms_book_row *rows, int64_t first, int64_t count,
                                   int threads, ms_error *err);

/** Create /book of a book of several markets: @p n rows, one per position (ms_record_multi_book). */
ms_status ms_h5out_create_multi_book(ms_h5out *h, int id, int64_t n, ms_error *err);

/** Write its rows first .. first + count - 1, as ms_h5out_write_book_rows. */
ms_status ms_h5out_write_multi_book_rows(ms_h5out *h, int id, const ms_multi_book_row *rows, int64_t first,
                                         int64_t count, int threads, ms_error *err);

/** Append rows to /cascades. */
ms_status ms_h5out_append_cascades(ms_h5out *h, int id, const ms_cascade_record *c, size_t n, ms_error *err);

/**
 * Create /liquidations, uncompressed, of its final length @p rows
 * (contiguous: written in place, no chunk index). A no-op when
 * output.liquidations is off or output.liquidations_compression > 0 (then
 * /liquidations is chunked, deflated and grows with each append). Called
 * before its first append.
 */
ms_status ms_h5out_size_liquidations(ms_h5out *h, int id, int64_t rows, ms_error *err);

/**
 * Where the rows of a sized /liquidations go: a descriptor open on the file
 * being written (returned) and the byte offset of row 0 in it (*@p addr).
 * Row k is the k-th ms_liq_record's bytes at *@p addr + k * 128: HDF5's
 * storage of a contiguous dataset allocated at its creation and never
 * written by HDF5 itself (H5Dget_offset's direct access to raw data), so
 * another thread may write the rows with pwrite while HDF5 writes the rest
 * of the file. -1 when there is no such place (compressed, no rows, a failed
 * file): append instead. Once every row is written, call
 * ms_h5out_liquidations_written.
 */
int ms_h5out_liquidations_place(ms_h5out *h, int id, uint64_t *addr);

/** All @p rows rows were written where ms_h5out_liquidations_place said (an error unless that is its length). */
ms_status ms_h5out_liquidations_written(ms_h5out *h, int id, int64_t rows, ms_error *err);

/** Append rows to /liquidations (when output.liquidations is on); never beyond its length. */
ms_status ms_h5out_append_liquidations(ms_h5out *h, int id, const ms_liq_record *r, size_t n, ms_error *err);

/** Write /stats. */
ms_status ms_h5out_write_stats(ms_h5out *h, int id, const ms_stats *st, ms_error *err);

/**
 * /paths/markets of run @p id, a book of several markets: in dataset
 * @p name (paths x @p nmarkets; int64 when @p integer, else float64), the
 * column of market @p market from @p x (@p paths values, in path order).
 * The group (its `markets` attribute: @p markets, the assets' names
 * comma-separated) and the dataset (its `unit` and `meaning`) are created
 * at their first column.
 */
ms_status ms_h5out_write_market_column(ms_h5out *h, int id, const char *name, int integer, const char *unit,
                                       const char *doc, const char *markets, int nmarkets, int market,
                                       const double *x, int64_t paths, ms_error *err);

/** Write /compare: paired differences against the first value and capital efficiency. */
ms_status ms_h5out_write_compare(ms_h5out *h, const ms_compare_report *rep, ms_error *err);

/** Write the run's evaluated assertions as <group>/assertions. */
ms_status ms_h5out_write_assertions(ms_h5out *h, int id, const ms_assert_result *r, int n, ms_error *err);

/** What /sweep holds (the driver fills it from its plan). */
typedef struct ms_h5_sweep_axis {
  const char *key;
  int n;
  const char *values;        /* n strings of value_size bytes each */
  size_t value_size;
  const double *numeric;     /* n: the values as numbers, NaN if not */
} ms_h5_sweep_axis;

typedef struct ms_h5_sweep {
  int naxes;
  ms_h5_sweep_axis axes[MS_MAX_GRID];
  int ncells;
  const int *index;          /* [cell * naxes + axis] */
  const char *labels;        /* ncells strings of label_size bytes */
  size_t label_size;
  int baseline;
  const ms_stats *stats;     /* [cell] */
  const ms_diff_row *diffs;  /* [cell * ndiffs] */
  int ndiffs;
} ms_h5_sweep;

/** Write /sweep: axes, cells, every cell's statistics and the paired differences. */
ms_status ms_h5out_write_sweep(ms_h5out *h, const ms_h5_sweep *sw, ms_error *err);

/** Start writing the file's pages written so far to the disk (ms_outfile_start_writeback). */
void ms_h5out_start_writeback(ms_h5out *h);

/** The temporary's modification time to now (ms_outfile_touch). */
void ms_h5out_touch(ms_h5out *h);

/** Close the file and rename it to its final name; frees @p h in every case. */
ms_status ms_h5out_commit(ms_h5out *h, ms_error *err);

/** Close and delete the temporary file; frees @p h. NULL is a no-op. */
void ms_h5out_abort(ms_h5out *h);

#endif
