/*
 * h5out — HDF5 result file (see h5out.h and docs/output.md).
 *
 * Every compound type is built by compound_type() from a record's field
 * table (fields.h), never by hand; the summary's rows are written from a
 * packed buffer of 8-byte fields, the same layout in memory and in the
 * file. Large datasets are chunked and, when output.compression > 0,
 * shuffled and deflated. The file's lifecycle (the temporary, the rename
 * at commit, the removal at abort) is outfile's: this file only opens HDF5
 * on the temporary and writes the datasets.
 */
#include "output/h5out.h"
#include "ms_build_id.h"
#include "output/outfile.h"
#include "output/zplanes.h"
#include "core/series.h"
#include "core/shuffle.h"

#include <errno.h>
#include <hdf5.h>
#include <libdeflate.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MS_TRACE_FIELDS MS_TRACE_NFIELDS

/* Chunk sizes. Every chunk fits HDF5's chunk cache (1 MB per dataset,
 * H5D_CHUNK_CACHE_NBYTES_DEFAULT): a chunk that does not is not cached at
 * all, so each write of part of it reads, inflates, deflates and writes the
 * whole chunk again. /book's 8.9 MB chunks (65,536 rows) were deflated four
 * times each (written in blocks of 16,384 rows), /paths/summary's 1.6 MB
 * chunks (4,096 rows of ~50 columns) once per output.chunk_paths paths.
 * docs/performance.md, "Output costs (issue 16)". */
#define MS_H5_CHUNK_BYTES ((size_t)1 << 20)

/* Rows per chunk of /book, /cascades and /liquidations: 256 records of
 * 72-136 bytes, 18-35 KB. Shuffle and deflate run chunk by chunk; at this
 * size a chunk stays in the CPU's cache through both (shuffling 136-byte
 * records transposes the chunk byte by byte), and zlib is faster per byte:
 * a 1M-account /book at compression 4 took 0.7 s of CPU less than with
 * whole 65,536-row chunks in a cache big enough, and h5py read it back in
 * 0.7 s instead of 1.8 s. Smaller chunks cost more again (zlib's set-up
 * per chunk). */
#define MS_H5_RECORD_CHUNK 256

/* Rows per chunk of /paths/summary: at most MS_MAX_COLUMNS 8-byte columns,
 * 768 KB. */
#define MS_H5_SUMMARY_CHUNK 1024
_Static_assert((size_t)MS_H5_SUMMARY_CHUNK * MS_MAX_COLUMNS * 8 <= MS_H5_CHUNK_BYTES, "a summary chunk fits the cache");

/* output.compression up to this level codes /book's whole chunks plane by
 * plane (zplanes.h): on the books measured about as small as libdeflate's
 * level 4 and 2 to 10 times as fast (docs/performance.md); levels above it
 * ask for the smallest file whatever it costs, libdeflate at that level.
 * (The plane coder has no matches inside a plane: on /paths/summary it made
 * the chunks 7% larger than zlib's, on the time series' runs of one regime
 * twenty times; those chunks are deflated by libdeflate, put_chunk.) */
#define ZPLANES_UP_TO 5

/* libdeflate's highest level: a compressor per level up to it. */
#define MS_DEFLATE_MAX 12

/* Rows of chunked datasets written in order, kept until their chunk is
 * whole and then deflated here (put_chunk): /paths/summary (a row is a
 * record; the journal's frames are output.chunk_paths rows, 256 by
 * default, against 1,024-row chunks) and /timeseries/fan's three datasets
 * (a row is a path's samples; written a path at a time). Rows that come out
 * of order, or a chunk never filled, go through HDF5 as before. */
typedef struct row_chunks {
  int nds;                            /* datasets filled side by side */
  hid_t ds[MS_FAN_NFIELDS];
  hid_t mtype[MS_FAN_NFIELDS];        /* their rows' memory types (borrowed) */
  size_t esize[MS_FAN_NFIELDS];       /* bytes an element */
  int64_t per_row;                    /* elements a row: 1 (rank 1) or the second dimension (rank 2) */
  int rank;
  int64_t rows, total;                /* rows a chunk, rows of the datasets */
  unsigned char *buf[MS_FAN_NFIELDS]; /* a chunk's rows, each dataset's */
  int64_t next;                       /* the row due next; -1: HDF5 writes the rest */
  int64_t have;                       /* rows buffered: next - have is the chunk's first row */
} row_chunks;

/* The datasets of one run: at the root for a single run, under a group per
 * cell for a comparison or a sweep. Several can be open at once. */
typedef struct h5run {
  hid_t base;               /* the run's group (the file for a single run) */
  const ms_config *cfg;
  int ncols;
  ms_column cols[MS_MAX_COLUMNS];
  hid_t summary_type, summary_ds;
  hid_t ts[MS_TRACE_FIELDS];  /* one per field of ms_record_trace, in its order */
  hid_t fan[MS_FAN_NFIELDS];  /* one per field of ms_record_fan */
  int64_t fan_paths, fan_len;
  hid_t cas_type, cas_ds, liq_type, liq_ds, book_type, book_ds;
  int64_t ncas, nliq;
  int64_t book_n, book_chunk; /* /book's rows, and rows per chunk */
  size_t book_rs;             /* /book's row: its record's size (one market's or several's) */
  struct book_deflate *bz;  /* while /book is written: its chunks' buffers and compressors */
  int64_t liq_rows;         /* -1: /liquidations is chunked and grows; else its fixed length (contiguous) */
  uint64_t liq_addr;        /* contiguous with rows: where they begin in the file; else 0 */
  int64_t ts_paths, ts_len;
  int64_t npaths;
  row_chunks rs_sum, rs_fan; /* /paths/summary's and the fan's rows until their chunk is whole */
  char where[300];          /* group name for messages: "" or "/models/static" */
} h5run;

struct ms_h5out {
  hid_t file;
  char *final_path;         /* as given, for messages */
  ms_outfile out;           /* the temporary being written and the file it replaces */
  int failed;               /* an HDF5 call failed: never commit, never close the file again */
  int file_broken;          /* H5Fclose failed: the id must not be touched again */
  char reason[200];         /* the first failure's cause, e.g. "No space left on device" */
  H5E_auto2_t prev_fn;      /* the automatic error handler installed before ours, put back at the end */
  void *prev_data;
  const ms_config *cfg;     /* the root's configuration */
  h5run *runs;
  size_t nruns, capruns;
  unsigned char *pack;      /* packed rows for one write */
  size_t pack_rows;
  unsigned char *zbuf;      /* put_chunk's: a chunk shuffled, then deflated */
  size_t zcap;
  struct libdeflate_compressor *ldc[MS_DEFLATE_MAX + 1]; /* put_chunk's, by level (cells of a comparison may differ) */
};

static ms_status h5fail(ms_h5out *h, ms_error *err, const char *what) {
  h->failed = 1;
  return ms_error_set(err, MS_ERR_IO, "%s: cannot write the result file: HDF5 failed to %s (%s)", h->final_path,
                      what, h->reason[0] ? h->reason : "HDF5 error");
}

/* ---- the cause of an HDF5 failure ----
 * HDF5 clears its error stack at every API call, so by the time a caller
 * sees a failed write (and has closed its dataspaces) the cause is gone.
 * The automatic error handler runs at the failing call itself: it keeps the
 * first cause (the system error of a file driver, "errno = 28, ...", else
 * the innermost description) in the writer. */

static herr_t reason_walk(unsigned n, const H5E_error2_t *e, void *data) {
  ms_h5out *h = data;
  const char *at = e->desc ? strstr(e->desc, "errno = ") : NULL;
  if (at) {
    int code = atoi(at + 8);
    if (code > 0) {
      snprintf(h->reason, sizeof h->reason, "%s", strerror(code));
      return 1; /* found: stop walking */
    }
  }
  if (n == 0 && e->desc) snprintf(h->reason, sizeof h->reason, "HDF5: %s", e->desc);
  return 0;
}

static herr_t on_h5_error(hid_t stack, void *data) {
  ms_h5out *h = data;
  if (!h->failed) {
    h->failed = 1;
    h->reason[0] = '\0';
    H5Ewalk2(stack, H5E_WALK_UPWARD, reason_walk, h);
  }
  return 0;
}

static int attr_str(hid_t loc, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  int rc = (a < 0) ? -1 : (H5Awrite(a, t, &value) < 0 ? -1 : 0);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
  return rc;
}

static int attr_num(hid_t loc, const char *name, hid_t type, const void *v) {
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  int rc = (a < 0) ? -1 : (H5Awrite(a, type, v) < 0 ? -1 : 0);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  return rc;
}

/* Objects are created without modification times (HDF5 records them by
 * default): the same run writes the same bytes (docs/reproducibility.md). */
static hid_t make_group(hid_t loc, const char *name, hid_t lcpl) {
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  if (gcpl >= 0) H5Pset_obj_track_times(gcpl, 0);
  hid_t g = H5Gcreate2(loc, name, lcpl, gcpl >= 0 ? gcpl : H5P_DEFAULT, H5P_DEFAULT);
  if (gcpl >= 0) H5Pclose(gcpl);
  return g;
}

static hid_t make_dataset(hid_t loc, const char *name, hid_t type, hid_t space, hid_t dcpl) {
  hid_t own = dcpl == H5P_DEFAULT ? H5Pcreate(H5P_DATASET_CREATE) : H5I_INVALID_HID;
  hid_t pl = dcpl == H5P_DEFAULT ? own : dcpl;
  if (pl >= 0) H5Pset_obj_track_times(pl, 0);
  hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, pl >= 0 ? pl : H5P_DEFAULT, H5P_DEFAULT);
  if (own >= 0) H5Pclose(own);
  return ds;
}

/* Chunked, deflated at @p level (0: not at all). */
static hid_t chunked_plist_at(int rank, const hsize_t *chunk, int64_t level) {
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(pl, rank, chunk);
  if (level > 0) {
    H5Pset_shuffle(pl);
    H5Pset_deflate(pl, (unsigned)level);
  }
  return pl;
}

static hid_t chunked_plist(const h5run *r, int rank, const hsize_t *chunk) {
  return chunked_plist_at(rank, chunk, r->cfg->output.compression);
}

/* Rows [first, first + n) of @p ds from @p buf through HDF5's own pipeline:
 * rank 1, or rank 2 with rows of @p width values. 0, or -1 when HDF5 fails. */
static int write_slab(hid_t ds, hid_t mtype, int rank, int64_t first, int64_t n, int64_t width, const void *buf) {
  if (n <= 0) return 0;
  hsize_t start[2] = {(hsize_t)first, 0}, count[2] = {(hsize_t)n, (hsize_t)width};
  hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(rank, count, NULL);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  herr_t rc = H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, buf);
  H5Sclose(ms);
  H5Sclose(fs);
  return rc < 0 ? -1 : 0;
}

/* The deflate level of @p r's chunks, as libdeflate takes it (its levels go to 12; ours to 9). */
static int deflate_level(const h5run *r) {
  return r->cfg->output.compression > MS_DEFLATE_MAX ? MS_DEFLATE_MAX : (int)r->cfg->output.compression;
}

static hid_t str_type(size_t n) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, n);
  return t;
}

/* The HDF5 type of one field (a new string type for MS_FIELD_STR: close it). */
static hid_t field_h5type(const ms_field *f) {
  switch (f->type) {
  case MS_FIELD_F64: return H5T_NATIVE_DOUBLE;
  case MS_FIELD_I64: return H5T_NATIVE_INT64;
  case MS_FIELD_U64: return H5T_NATIVE_UINT64;
  case MS_FIELD_I32: return H5T_NATIVE_INT32;
  case MS_FIELD_STR: return str_type(f->size);
  }
  return H5T_NATIVE_DOUBLE;
}

/* The compound type of @p n fields: each at its offset in a C record of
 * @p size bytes, or, when @p packed, one after the other in table order
 * (the file type of the summary and of the difference tables). */
static hid_t compound_type(const ms_field *f, int n, size_t size, int packed) {
  if (packed) {
    size = 0;
    for (int i = 0; i < n; i++) size += ms_field_size(&f[i]);
  }
  hid_t t = H5Tcreate(H5T_COMPOUND, size);
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    hid_t m = field_h5type(&f[i]);
    H5Tinsert(t, f[i].name, packed ? at : f[i].offset, m);
    if (f[i].type == MS_FIELD_STR) H5Tclose(m);
    at += ms_field_size(&f[i]);
  }
  return t;
}

static hid_t record_type(const ms_record *r) { return compound_type(r->fields, r->nfields, r->size, 0); }

/* One line per field, "name [unit]: meaning" (malloc'd; NULL when out of memory). */
static char *unit_lines(const ms_field *f, int n) {
  size_t cap = 1, k = 0;
  for (int i = 0; i < n; i++) cap += strlen(f[i].name) + strlen(f[i].unit) + strlen(f[i].doc) + 6;
  char *s = malloc(cap);
  if (!s) return NULL;
  s[0] = '\0';
  for (int i = 0; i < n; i++) k += (size_t)snprintf(s + k, cap - k, "%s [%s]: %s\n", f[i].name, f[i].unit, f[i].doc);
  return s;
}

/* The "columns" attribute of a compound dataset: its unit lines (as
 * /paths/summary has). Nonzero on failure. */
static int columns_attr(hid_t ds, const ms_field *f, int n) {
  char *lines = unit_lines(f, n);
  if (!lines) return -1;
  int rc = attr_str(ds, "columns", lines);
  free(lines);
  return rc;
}

static void mkdir_parents(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(buf, 0777); /* an existing directory is fine; other failures show at create */
    *p = '/';
  }
}

static void iso_time(char *buf, size_t n, int64_t when) {
  time_t t = when > 0 ? (time_t)when : time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static ms_status create_summary(ms_h5out *h, h5run *r, ms_error *err) {
  r->ncols = ms_stats_columns(r->cfg, r->cols, MS_MAX_COLUMNS);
  ms_field f[MS_MAX_COLUMNS];
  ms_fields_of_columns(r->cols, r->ncols, f);
  r->summary_type = compound_type(f, r->ncols, 0, 1);
  hid_t g = make_group(r->base, "paths", H5P_DEFAULT);
  if (g < 0) return h5fail(h, err, "create /paths");
  hsize_t dims[1] = {(hsize_t)r->npaths};
  hsize_t chunk[1] = {(hsize_t)(r->npaths < MS_H5_SUMMARY_CHUNK ? r->npaths : MS_H5_SUMMARY_CHUNK)};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t pl = chunked_plist(r, 1, chunk);
  r->summary_ds = make_dataset(g, "summary", r->summary_type, sp, pl);
  H5Pclose(pl);
  H5Sclose(sp);
  if (r->summary_ds < 0) { H5Gclose(g); return h5fail(h, err, "create /paths/summary"); }
  row_chunks *rc_ = &r->rs_sum;
  rc_->nds = 1;
  rc_->ds[0] = r->summary_ds;
  rc_->mtype[0] = r->summary_type;
  rc_->esize[0] = (size_t)r->ncols * 8;
  rc_->per_row = 1;
  rc_->rank = 1;
  rc_->rows = (int64_t)chunk[0];
  rc_->total = r->npaths;
  char *units = unit_lines(f, r->ncols);
  if (!units) { H5Gclose(g); return ms_error_set(err, MS_ERR_NOMEM, "out of memory"); }
  int rc = attr_str(r->summary_ds, "columns", units);
  free(units);
  H5Gclose(g);
  if (rc) return h5fail(h, err, "write /paths/summary attributes");
  return MS_OK;
}

/* Dataset "time" (seconds) of @p n values in group @p g; nonzero on failure. */
static int write_time_axis(hid_t g, const double *tv, int64_t n) {
  hsize_t tdim[1] = {(hsize_t)n};
  hid_t sp = H5Screate_simple(1, tdim, NULL);
  hid_t ds = make_dataset(g, "time", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT);
  int rc = ds < 0 || H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) < 0;
  if (ds >= 0) { attr_str(ds, "unit", "s"); H5Dclose(ds); }
  H5Sclose(sp);
  return rc;
}

#define REGIME_NAMES (MS_MAX_REGIMES * (MS_NAME_MAX + 2))

/* The regime names, comma-separated, into @p names (REGIME_NAMES bytes). */
static void regime_names(const ms_config *cfg, char *names) {
  names[0] = '\0';
  for (int i = 0; i < cfg->market.nregimes; i++) {
    strncat(names, i ? "," : "", REGIME_NAMES - strlen(names) - 1);
    strncat(names, cfg->market.regimes[i].name, REGIME_NAMES - strlen(names) - 1);
  }
}

/* One dataset per field of @p rec (a record of pointers to sample arrays)
 * in @p g, of space @p sp, each with its "unit" (when it has one) and
 * "meaning", and the regime's "names": into @p ds; nonzero on failure. */
/* The datasets of @p rec's fields but @p skip (a field's name, or NULL):
 * its ds[] stays H5I_INVALID_HID and write_series passes it by. */
static int create_series(hid_t g, const ms_record *rec, hid_t sp, hid_t pl, hid_t *ds, const char *names,
                         const char *skip) {
  int bad = 0;
  for (int i = 0; i < rec->nfields; i++) {
    const ms_field *f = &rec->fields[i];
    ds[i] = H5I_INVALID_HID;
    if (skip && strcmp(f->name, skip) == 0) continue;
    ds[i] = make_dataset(g, f->name, f->type == MS_FIELD_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE, sp, pl);
    bad |= ds[i] < 0;
  }
  for (int i = 0; !bad && i < rec->nfields; i++) {
    const ms_field *f = &rec->fields[i];
    if (ds[i] == H5I_INVALID_HID) continue;
    if (f->unit[0]) attr_str(ds[i], "unit", f->unit);
    attr_str(ds[i], "meaning", f->doc);
    if (strcmp(f->name, "regime") == 0) attr_str(ds[i], "names", names);
  }
  return bad;
}

/* /timeseries/fan: output.fan.points samples of the first output.fan.paths paths. */
static ms_status create_fan(ms_h5out *h, h5run *r, hid_t ts, ms_error *err) {
  const ms_config *cfg = r->cfg;
  r->fan_paths = cfg->output.fan.paths < cfg->paths ? cfg->output.fan.paths : cfg->paths;
  r->fan_len = cfg->output.fan.points;
  if (r->fan_paths <= 0) return MS_OK;
  char regime_names_[REGIME_NAMES];
  regime_names(cfg, regime_names_);
  hid_t g = make_group(ts, "fan", H5P_DEFAULT);
  if (g < 0) return h5fail(h, err, "create /timeseries/fan");
  attr_num(g, "paths", H5T_NATIVE_INT64, &r->fan_paths);
  attr_str(g, "meaning", "exogenous and mark price of the first 'paths' paths at evenly spaced times");
  double *tv = malloc((size_t)r->fan_len * sizeof *tv);
  if (!tv) { H5Gclose(g); return ms_error_set(err, MS_ERR_NOMEM, "out of memory"); }
  for (int64_t j = 0; j < r->fan_len; j++) tv[j] = (double)ms_fan_time(cfg, j) / 1000.0;
  int rc = write_time_axis(g, tv, r->fan_len);
  free(tv);
  if (!rc) {
    hsize_t dims[2] = {(hsize_t)r->fan_paths, (hsize_t)r->fan_len};
    /* 256 paths of the default 97 points; fewer of many points (a chunk fits the cache) */
    int64_t rows = (int64_t)(MS_H5_CHUNK_BYTES / 2 / 8) / r->fan_len;
    rows = rows < 1 ? 1 : rows > 256 ? 256 : rows;
    hsize_t chunk[2] = {(hsize_t)(r->fan_paths < rows ? r->fan_paths : rows), (hsize_t)r->fan_len};
    hid_t pl = chunked_plist(r, 2, chunk);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    rc = create_series(g, &ms_record_fan, sp, pl, r->fan, regime_names_, NULL);
    row_chunks *f = &r->rs_fan;
    f->nds = MS_FAN_NFIELDS;
    for (int i = 0; i < MS_FAN_NFIELDS; i++) {
      f->ds[i] = r->fan[i];
      f->mtype[i] = ms_record_fan.fields[i].type == MS_FIELD_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE;
      f->esize[i] = ms_field_size(&ms_record_fan.fields[i]);
    }
    f->per_row = r->fan_len;
    f->rank = 2;
    f->rows = (int64_t)chunk[0];
    f->total = r->fan_paths;
    H5Sclose(sp);
    H5Pclose(pl);
  }
  H5Gclose(g);
  return rc ? h5fail(h, err, "create /timeseries/fan") : MS_OK;
}

static ms_status create_timeseries(ms_h5out *h, h5run *r, ms_error *err) {
  const ms_config *cfg = r->cfg;
  r->ts_paths = cfg->output.timeseries.paths < cfg->paths ? cfg->output.timeseries.paths : cfg->paths;
  r->ts_len = ms_trace_len(cfg);
  hid_t g = make_group(r->base, "timeseries", H5P_DEFAULT);
  if (g < 0) return h5fail(h, err, "create /timeseries");
  double every_s = (double)cfg->output.timeseries.every / 1000.0;
  attr_num(g, "every", H5T_NATIVE_DOUBLE, &every_s);
  attr_num(g, "paths", H5T_NATIVE_INT64, &r->ts_paths);
  double *tv = malloc((size_t)r->ts_len * sizeof *tv);
  if (!tv) { H5Gclose(g); return ms_error_set(err, MS_ERR_NOMEM, "out of memory"); }
  for (int64_t i = 0; i < r->ts_len; i++)
    tv[i] = (double)(i * cfg->output.timeseries.every) / 1000.0;
  int rc = write_time_axis(g, tv, r->ts_len);
  free(tv);
  if (rc) { H5Gclose(g); return h5fail(h, err, "write /timeseries/time"); }
  if (r->ts_paths > 0) {
    hsize_t dims[2] = {(hsize_t)r->ts_paths, (hsize_t)r->ts_len};
    hsize_t chunk[2] = {1, (hsize_t)(r->ts_len < 65536 ? r->ts_len : 65536)};
    hid_t pl = chunked_plist(r, 2, chunk);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    char names[REGIME_NAMES];
    regime_names(cfg, names);
    int bad = create_series(g, &ms_record_trace, sp, pl, r->ts, names, cfg->funding.enabled ? NULL : "funding_rate");
    H5Sclose(sp);
    H5Pclose(pl);
    if (bad) {
      H5Gclose(g);
      return h5fail(h, err, "create /timeseries");
    }
  }
  ms_status s = create_fan(h, r, g, err);
  H5Gclose(g);
  return s;
}


static ms_status create_records(ms_h5out *h, h5run *r, ms_error *err);
static void book_deflate_free(struct book_deflate *bz);
static int rows_flush(row_chunks *q);
static void rows_free(row_chunks *q);

static void run_init(h5run *r, const ms_config *cfg) {
  memset(r, 0, sizeof *r);
  r->cfg = cfg;
  r->npaths = cfg->paths;
  r->base = r->summary_ds = r->summary_type = H5I_INVALID_HID;
  for (int i = 0; i < MS_TRACE_FIELDS; i++) r->ts[i] = H5I_INVALID_HID;
  for (int i = 0; i < MS_FAN_NFIELDS; i++) r->fan[i] = H5I_INVALID_HID;
  r->cas_type = r->cas_ds = r->liq_type = r->liq_ds = r->book_type = r->book_ds = H5I_INVALID_HID;
  r->liq_rows = -1;
}

/* Closing a dataset writes its cached chunks: a failure here is a failed
 * write (recorded in h->failed by the error handler). */
static void close_run(ms_h5out *h, h5run *r) {
  int bad = rows_flush(&r->rs_sum) < 0;
  bad |= rows_flush(&r->rs_fan) < 0;
  rows_free(&r->rs_sum);
  rows_free(&r->rs_fan);
  for (int i = 0; i < MS_TRACE_FIELDS; i++)
    if (r->ts[i] >= 0) bad |= H5Dclose(r->ts[i]) < 0;
  for (int i = 0; i < MS_FAN_NFIELDS; i++)
    if (r->fan[i] >= 0) bad |= H5Dclose(r->fan[i]) < 0;
  hid_t ds[] = {r->cas_ds, r->liq_ds, r->book_ds, r->summary_ds};
  for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
    if (ds[i] >= 0) bad |= H5Dclose(ds[i]) < 0;
  hid_t ty[] = {r->cas_type, r->liq_type, r->book_type, r->summary_type};
  for (size_t i = 0; i < sizeof ty / sizeof ty[0]; i++)
    if (ty[i] >= 0) bad |= H5Tclose(ty[i]) < 0;
  if (r->base >= 0 && r->base != h->file) bad |= H5Gclose(r->base) < 0;
  if (bad) h->failed = 1;
  book_deflate_free(r->bz);
  const ms_config *cfg = r->cfg;
  run_init(r, cfg);
}

/* The name of each model the scenario chose, from its type table: on the
 * root, and on each run group of --compare and sweeps. */
static int model_attrs(hid_t loc, const ms_config *cfg) {
  int rc = attr_str(loc, "price_model", ms_model_name(cfg->market.model));
  rc |= attr_str(loc, "margin_model", ms_model_name(cfg->margin.model));
  rc |= attr_str(loc, "oracle_model", ms_model_name(cfg->oracle.kind));
  rc |= attr_str(loc, "impact_model", ms_model_name(cfg->market.impact.model));
  rc |= attr_str(loc, "keeper_model", ms_model_name(cfg->keepers.model));
  rc |= attr_str(loc, "shortfall_policy", ms_model_name(cfg->liquidation.shortfall));
  const ms_series *se = ms_config_series(cfg);
  if (se) { /* the candles a replay or bootstrap followed: which file, and which bytes */
    char hex[24];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)se->hash);
    rc |= attr_str(loc, "replay_file", se->name);
    rc |= attr_str(loc, "replay_fnv1a64", hex);
  }
  for (int j = 0; j < cfg->market.nassets; j++) { /* book.markets: each market's own, by its asset's name */
    const ms_series *sj = ms_config_asset_series(cfg, j);
    if (!sj) continue;
    char hex[24], key[MS_NAME_MAX + 32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)sj->hash);
    snprintf(key, sizeof key, "replay_file_%s", cfg->market.assets[j].name);
    rc |= attr_str(loc, key, sj->name);
    snprintf(key, sizeof key, "replay_fnv1a64_%s", cfg->market.assets[j].name);
    rc |= attr_str(loc, key, hex);
  }
  return rc;
}

/* A file marginsim wrote: HDF5 (its signature at the start: marginsim writes
 * no user block) whose root has the `rng` and `version` attributes. */
static int is_result(const char *path) {
  if (!ms_outfile_starts_with(path, "\x89HDF\r\n\x1a\n")) return 0;
  H5E_auto2_t fn = NULL;
  void *data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &fn, &data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* a probe: its failures are answers, not errors */
  int ours = 0;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if (H5_VERSION_GE(1, 10, 7) && !H5_VERSION_GE(1, 12, 0)) || H5_VERSION_GE(1, 12, 1) /* not in 1.12.0 */
  /* only read: no lock, which a file system without flock (some NFS) would refuse, failing the probe */
  if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
#endif
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
  if (f >= 0) {
    ours = H5Aexists(f, "rng") > 0 && H5Aexists(f, "version") > 0;
    H5Fclose(f);
  }
  if (fapl >= 0) H5Pclose(fapl);
  H5Eset_auto2(H5E_DEFAULT, fn, data);
  return ours;
}

const ms_outfile_kind ms_h5out_result_kind = {"a marginsim result file", is_result};

/* The file's lifecycle is outfile's (temporary beside the target, rename at
 * commit, removal at abort); here only HDF5 is opened on that temporary.
 * On failure the caller aborts (removing the temporary). */
static ms_status open_temporary(ms_h5out *h, const char *path, ms_error *err) {
  mkdir_parents(path);
  ms_status s = ms_outfile_open(&h->out, path, &ms_h5out_result_kind, err);
  if (s) return s;
  /* The library never prints; the cause is kept. The handler installed
   * before (the application's, or HDF5's printing default) goes back when
   * this file is done (free_h). When it is another writer's (a serial HDF5
   * has one handler for the process; the writers take turns under the
   * driver's mutex), what that writer will put back is taken instead: the
   * other writer may be freed first, and must not be put back. */
  H5E_auto2_t fn = NULL;
  void *data = NULL;
  if (H5Eget_auto2(H5E_DEFAULT, &fn, &data) >= 0) {
    const ms_h5out *other = fn == on_h5_error ? data : NULL;
    h->prev_fn = other ? other->prev_fn : fn;
    h->prev_data = other ? other->prev_data : data;
  }
  H5Eset_auto2(H5E_DEFAULT, on_h5_error, h);
  /* STRONG: H5Fclose closes every object still open in the file, so no id
   * keeps it open (and flushing) after we are done with it. */
  /* HDF5 opens files by name only, and with O_CREAT|O_TRUNC following
   * links: by the temporary's name, a link swapped in after our exclusive
   * creation would have made it truncate the file it points to (as root:
   * any file) before the check below could notice. /proc/self/fd/N names
   * the very file we created, whatever happens to its name; the name itself
   * only where /proc is not mounted (the check below still holds). */
  char byfd[64];
  snprintf(byfd, sizeof byfd, "/proc/self/fd/%d", h->out.fd);
  struct stat viafd, ownfd;
  const char *h5name = stat(byfd, &viafd) == 0 && fstat(h->out.fd, &ownfd) == 0 && viafd.st_dev == ownfd.st_dev &&
                               viafd.st_ino == ownfd.st_ino
                           ? byfd
                           : h->out.tmp;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0)
    h->file = H5Fcreate(h5name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (fapl >= 0) H5Pclose(fapl);
  if (h->file < 0) {
    return ms_error_set(err, MS_ERR_IO, "%s: cannot create the result file (%s)", path,
                        h->reason[0] ? h->reason : "HDF5 error");
  }
  /* HDF5 opened the temporary by name: make sure it is the file we created
   * exclusively (nothing was swapped in between). */
  void *handle = NULL;
  struct stat ours, theirs;
  if (H5Fget_vfd_handle(h->file, H5P_DEFAULT, &handle) < 0 || !handle || fstat(h->out.fd, &ours) != 0 ||
      fstat(*(int *)handle, &theirs) != 0 || ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino) {
    return ms_error_set(err, MS_ERR_IO, "%s: the temporary file %s was replaced while being opened; nothing written",
                        path, h->out.tmp);
  }
  return MS_OK;
}

ms_status ms_h5out_create(ms_h5out **out, const char *path, const ms_config *cfg, const ms_h5_meta *meta,
                          ms_error *err) {
  *out = NULL;
  /* HDF5's exit handler closes the files still open. After a failed close
   * (a full disk) the file's state is half torn down and that handler
   * crashed (exit 139): we close every file ourselves, so it is not needed.
   * It can only be turned off before the library's first use (else a no-op). */
  H5dont_atexit();
  ms_h5out *h = calloc(1, sizeof *h);
  if (!h) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  h->cfg = cfg;
  h->file = H5I_INVALID_HID;
  h->out.fd = -1;
  h->out.slot = -1;
  h->final_path = strdup(path);
  if (!h->final_path) { ms_h5out_abort(h); return ms_error_set(err, MS_ERR_NOMEM, "out of memory"); }
  ms_status s = open_temporary(h, path, err);
  if (s) { ms_h5out_abort(h); return s; }
  char *yaml = ms_config_to_yaml(cfg);
  char created[40];
  iso_time(created, sizeof created, meta ? meta->created : 0);
  int rc = !yaml;
  rc |= attr_str(h->file, "version", MS_VERSION);
  rc |= attr_str(h->file, "build", MS_BUILD_ID);
  rc |= attr_str(h->file, "name", cfg->name);
  rc |= attr_str(h->file, "scenario", cfg->source_text ? cfg->source_text : "");
  rc |= attr_str(h->file, "scenario_path", cfg->source_path);
  rc |= attr_str(h->file, "config", yaml ? yaml : "");
  rc |= attr_num(h->file, "seed", H5T_NATIVE_UINT64, &cfg->seed);
  rc |= attr_num(h->file, "paths", H5T_NATIVE_INT64, &cfg->paths);
  rc |= attr_str(h->file, "command", meta && meta->command ? meta->command : "");
  rc |= attr_str(h->file, "created", created);
  rc |= attr_str(h->file, "rng", "xoshiro256++; stream (seed, path, id) keyed by ms_rng_key "
                                  "(docs/reproducibility.md)");
  rc |= model_attrs(h->file, cfg);
  free(yaml);
  if (rc) {
    s = h5fail(h, err, "write the root attributes");
    ms_h5out_abort(h);
    return s;
  }
  *out = h;
  return MS_OK;
}

ms_status ms_h5out_root_attr(ms_h5out *h, const char *name, const char *value, ms_error *err) {
  return attr_str(h->file, name, value) ? h5fail(h, err, "write a root attribute") : MS_OK;
}

ms_status ms_h5out_root_attr_i64(ms_h5out *h, const char *name, int64_t value, ms_error *err) {
  return attr_num(h->file, name, H5T_NATIVE_INT64, &value) ? h5fail(h, err, "write a root attribute") : MS_OK;
}

/* Create group @p path (and its parents) unless it exists; returns it open. */
static hid_t open_group(hid_t file, const char *path) {
  /* H5Lexists fails (rather than answering 0) when a parent is missing: a
   * probe, not a failed write, so the error handler is off for it. */
  H5E_auto2_t fn = NULL;
  void *data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &fn, &data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  htri_t exists = H5Lexists(file, path, H5P_DEFAULT);
  H5Eset_auto2(H5E_DEFAULT, fn, data);
  if (exists > 0) return H5Gopen2(file, path, H5P_DEFAULT);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = make_group(file, path, lcpl);
  H5Pclose(lcpl);
  return g;
}

/* A leaf may hold '/' (a rate such as 12/d): it must not nest groups; "."
 * and ".." are not names HDF5 takes. */
void ms_h5out_leaf_name(const char *leaf, char *out, size_t n) {
  snprintf(out, n, "%s%s", strcmp(leaf, ".") && strcmp(leaf, "..") ? "" : "_", leaf);
  for (char *p = out; *p; p++)
    if (*p == '/') *p = '|';
}

ms_status ms_h5out_add_run(ms_h5out *h, const char *parent, const char *leaf, const ms_config *cfg,
                           unsigned flags, const char *const *attrs, int *id, ms_error *err) {
  if (h->nruns == h->capruns) {
    size_t cap = h->capruns ? 2 * h->capruns : 4;
    h5run *v = realloc(h->runs, cap * sizeof *v);
    if (!v) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    h->runs = v;
    h->capruns = cap;
  }
  h5run *r = &h->runs[h->nruns];
  run_init(r, cfg);
  h->nruns++;
  *id = (int)(h->nruns - 1);
  if (!leaf) {
    r->base = h->file;
  } else {
    char name[sizeof r->where], leafname[sizeof r->where];
    ms_h5out_leaf_name(leaf, leafname, sizeof leafname);
    if (snprintf(name, sizeof name, "%s/%s", parent, leafname) >= (int)sizeof name)
      return ms_error_set(err, MS_ERR_INPUT, "a run's group name is too long: %s/%.40s...", parent, leafname);
    snprintf(r->where, sizeof r->where, "/%.*s", (int)sizeof r->where - 2, name);
    r->base = open_group(h->file, name);
    if (r->base < 0) return h5fail(h, err, "create a run's group");
    char *yaml = ms_config_to_yaml(cfg);
    int rc = !yaml || attr_str(r->base, "config", yaml ? yaml : "");
    rc = rc || model_attrs(r->base, cfg);
    free(yaml);
    for (int k = 0; !rc && attrs && attrs[k]; k += 2) rc = attr_str(r->base, attrs[k], attrs[k + 1]);
    if (rc) return h5fail(h, err, "write a run's attributes");
  }
  ms_status s = create_summary(h, r, err);
  if (!s && (flags & MS_H5_TIMESERIES)) s = create_timeseries(h, r, err);
  if (!s) s = create_records(h, r, err);
  return s;
}

void ms_h5out_close_run(ms_h5out *h, int id) { close_run(h, &h->runs[id]); }

/* Room for a chunk of @p n bytes deflated here: more than the plane coder's
 * stream can take (n + 5 (n / 65535 + 1) + 6, zplanes.h) and libdeflate's
 * (libdeflate_zlib_compress_bound: n and a few bytes a block). HDF5's deflate
 * filter stores a stream longer than its chunk as it is, not the chunk
 * uncompressed: so do we, so that every chunk's filter mask is 0 (a reader
 * that ignores the mask reads these files right too). */
static size_t chunk_room(size_t n) { return n + n / 8 + 1024; }

/* ---- whole chunks deflated here ----
 * HDF5's zlib deflating /paths/summary, /timeseries and /timeseries/fan was
 * about 4% of a 500-path run of peer.yaml (10k accounts) and 12% of a run of
 * 200,000 one-minute quickstart paths. Their whole chunks are now shuffled
 * here and deflated by libdeflate at the same level (about twice zlib's
 * speed, files a little smaller), and stored with H5Dwrite_chunk: the same
 * filters on the datasets, the same values read back by any reader, only
 * the compressed bytes differ. The rest goes through HDF5 as before. */

/* Store the chunk of @p ds at @p off: @p nelem elements of @p esize bytes
 * (a chunk's full size; an edge chunk padded), shuffled as HDF5's shuffle
 * does and deflated by libdeflate at the run's level (a stream longer than
 * the chunk stored as it is, chunk_room). 1 when the buffers or the
 * compressor cannot be had (the caller writes through HDF5), -1 when HDF5
 * fails. */
static int put_chunk(ms_h5out *h, const h5run *r, hid_t ds, const hsize_t *off, const unsigned char *elems,
                     size_t esize, size_t nelem) {
  const size_t bytes = esize * nelem, room = chunk_room(bytes);
  const int level = deflate_level(r);
  if (bytes + room > h->zcap) {
    unsigned char *b = realloc(h->zbuf, bytes + room);
    if (!b) return 1;
    h->zbuf = b;
    h->zcap = bytes + room;
  }
  if (!h->ldc[level] && !(h->ldc[level] = libdeflate_alloc_compressor(level))) return 1;
  unsigned char *sh = h->zbuf, *out = sh + bytes;
  ms_byte_shuffle(sh, elems, nelem, esize);
  size_t z = libdeflate_zlib_compress(h->ldc[level], sh, bytes, out, room);
  if (z == 0) return 1; /* beyond the bound: cannot happen; HDF5 deflates it then */
  return H5Dwrite_chunk(ds, H5P_DEFAULT, 0, off, z, out) < 0 ? -1 : 0;
}

/* Rows [first, first + n) of dataset @p i of @p q through HDF5, from @p src. */
static int rows_write(const row_chunks *q, int i, const unsigned char *src, int64_t first, int64_t n) {
  return write_slab(q->ds[i], q->mtype[i], q->rank, first, n, q->per_row, src);
}

static size_t row_bytes(const row_chunks *q, int i) { return (size_t)q->per_row * q->esize[i]; }

/* The rows buffered for datasets [i0, nds) through HDF5; nothing stays buffered. */
static int rows_out(row_chunks *q, int i0) {
  int rc = 0;
  for (int i = i0; rc == 0 && i < q->nds; i++) rc = rows_write(q, i, q->buf[i], q->next - q->have, q->have);
  return rc;
}

static int rows_flush(row_chunks *q) {
  int rc = q->have > 0 ? rows_out(q, 0) : 0;
  q->have = 0;
  return rc;
}

static void rows_free(row_chunks *q) {
  for (int i = 0; i < q->nds; i++) free(q->buf[i]);
  memset(q, 0, sizeof *q);
}

/* Rows [first, first + n) of @p q's datasets, @p src[i] those of dataset i:
 * buffered while they come in order, each chunk coded once whole (an edge
 * chunk padded with zeros); otherwise through HDF5. -1 when HDF5 fails. */
static int rows_put(ms_h5out *h, const h5run *r, row_chunks *q, const unsigned char *const *src, int64_t first,
                    int64_t n) {
  if (q->next == 0 && !q->buf[0]) { /* the first rows: the buffers, if compression makes them worth it */
    if (r->cfg->output.compression <= 0) q->next = -1;
    for (int i = 0; q->next >= 0 && i < q->nds; i++)
      if (!(q->buf[i] = malloc((size_t)q->rows * row_bytes(q, i)))) q->next = -1;
  }
  if (q->next < 0 || first != q->next) { /* out of order: what is buffered, these rows and the rest through HDF5 */
    int rc = rows_flush(q);
    q->next = -1;
    for (int i = 0; rc == 0 && i < q->nds; i++) rc = rows_write(q, i, src[i], first, n);
    return rc;
  }
  for (int64_t done = 0; done < n;) {
    int64_t take = q->rows - q->have < n - done ? q->rows - q->have : n - done;
    for (int i = 0; i < q->nds; i++)
      memcpy(q->buf[i] + (size_t)q->have * row_bytes(q, i), src[i] + (size_t)done * row_bytes(q, i),
             (size_t)take * row_bytes(q, i));
    q->have += take;
    q->next += take;
    done += take;
    if (q->have < q->rows && q->next < q->total) continue;
    hsize_t off[2] = {(hsize_t)(q->next - q->have), 0};
    for (int i = 0; i < q->nds; i++) {
      if (q->have < q->rows) /* the edge chunk */
        memset(q->buf[i] + (size_t)q->have * row_bytes(q, i), 0, (size_t)(q->rows - q->have) * row_bytes(q, i));
      int pc = put_chunk(h, r, q->ds[i], off, q->buf[i], q->esize[i], (size_t)(q->rows * q->per_row));
      if (pc < 0) return -1;
      if (pc > 0) { /* no coder: this chunk's rest, the rows left of this call and those to come through HDF5 */
        int rc = rows_out(q, i);
        q->have = 0;
        for (int k = 0; rc == 0 && k < q->nds; k++)
          rc = rows_write(q, k, src[k] + (size_t)done * row_bytes(q, k), first + done, n - done);
        q->next = -1;
        return rc;
      }
    }
    q->have = 0;
    if (q->next == q->total) { /* the datasets are whole: their buffers are done with */
      for (int i = 0; i < q->nds; i++) {
        free(q->buf[i]);
        q->buf[i] = NULL;
      }
      q->next = -1;
    }
  }
  return 0;
}

ms_status ms_h5out_write_summary(ms_h5out *h, int id, const ms_path_summary *rows, int64_t first, int64_t n,
                                 ms_error *err) {
  h5run *r = &h->runs[id];
  if (n <= 0) return MS_OK;
  const size_t rowsz = (size_t)r->ncols * 8;
  if ((size_t)n * rowsz > h->pack_rows) {
    unsigned char *p = realloc(h->pack, (size_t)n * rowsz);
    if (!p) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    h->pack = p;
    h->pack_rows = (size_t)n * rowsz;
  }
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < r->ncols; c++)
      memcpy(h->pack + (size_t)i * rowsz + (size_t)c * 8, (const char *)&rows[i] + r->cols[c].offset, 8);
  const unsigned char *src[1] = {h->pack};
  return rows_put(h, r, &r->rs_sum, src, first, n) < 0 ? h5fail(h, err, "write /paths/summary") : MS_OK;
}


/* Row @p k of each dataset of create_series() from the arrays of @p values
 * (a @p rec record). With @p h, each row is a whole chunk (/timeseries' of
 * up to 65,536 samples, create_timeseries), deflated by put_chunk. */
static int write_series(ms_h5out *h, const h5run *r, const hid_t *ds, const ms_record *rec, const void *values,
                        int64_t k, int64_t len) {
  for (int i = 0; i < rec->nfields; i++) {
    const ms_field *f = &rec->fields[i];
    if (ds[i] == H5I_INVALID_HID) continue; /* a field this run does not write */
    const void *row;
    memcpy(&row, (const char *)values + f->offset, sizeof row);
    int pc = 1;
    if (h && r->cfg->output.compression > 0) {
      hsize_t off[2] = {(hsize_t)k, 0};
      pc = put_chunk(h, r, ds[i], off, row, ms_field_size(f), (size_t)len);
      if (pc < 0) return -1;
    }
    if (pc > 0 && write_slab(ds[i], f->type == MS_FIELD_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE, 2, k, 1, len, row))
      return -1;
  }
  return 0;
}

ms_status ms_h5out_write_trace(ms_h5out *h, int id, int64_t k, const ms_trace *tr, ms_error *err) {
  h5run *r = &h->runs[id];
  if (k >= r->ts_paths) return MS_OK;
  int whole = r->ts_len <= 65536; /* a row is a chunk (create_timeseries) */
  if (write_series(whole ? h : NULL, r, r->ts, &ms_record_trace, tr, k, r->ts_len))
    return h5fail(h, err, "write /timeseries");
  return MS_OK;
}

ms_status ms_h5out_write_fan(ms_h5out *h, int id, int64_t k, const double *price, const double *mark,
                             const int32_t *regime, ms_error *err) {
  h5run *r = &h->runs[id];
  if (k >= r->fan_paths) return MS_OK;
  const unsigned char *src[MS_FAN_NFIELDS];
  ms_fan_sample v = {price, mark, regime};
  for (int i = 0; i < MS_FAN_NFIELDS; i++) memcpy(&src[i], (const char *)&v + ms_record_fan.fields[i].offset, sizeof src[i]);
  return rows_put(h, r, &r->rs_fan, src, k, 1) < 0 ? h5fail(h, err, "write /timeseries/fan") : MS_OK;
}

/* ---- extendible record datasets ---- */

static hid_t create_extendible(h5run *r, const char *name, hid_t type, int64_t level) {
  hsize_t dims[1] = {0}, maxd[1] = {H5S_UNLIMITED}, chunk[1] = {MS_H5_RECORD_CHUNK};
  hid_t sp = H5Screate_simple(1, dims, maxd);
  hid_t pl = chunked_plist_at(1, chunk, level);
  hid_t ds = make_dataset(r->base, name, type, sp, pl);
  H5Pclose(pl);
  H5Sclose(sp);
  return ds;
}

static ms_status liq_attrs(ms_h5out *h, h5run *r, ms_error *err) {
  const ms_record *rec = ms_record_liquidation_of(r->cfg);
  if (r->liq_ds < 0 || columns_attr(r->liq_ds, rec->fields, rec->nfields)) return h5fail(h, err, "create /liquidations");
  attr_str(r->liq_ds, "meaning", "one row per liquidation; times in ms, prices in USD, delay in s");
  return MS_OK;
}

/* Whether an address HDF5 gives (H5Dget_offset) is a byte offset in the
 * file's descriptor: the default driver (one file, written through the
 * descriptor) and no user block before HDF5's own bytes. The file is
 * created so; anything else would make the rows' in-place writes land
 * elsewhere, so they go through HDF5 instead. */
static int plain_file(hid_t file) {
  hid_t fa = H5Fget_access_plist(file), fc = H5Fget_create_plist(file);
  hsize_t ub = 1;
  int ok = fa >= 0 && fc >= 0 && H5Pget_driver(fa) == H5FD_SEC2 && H5Pget_userblock(fc, &ub) >= 0 && ub == 0;
  if (fa >= 0) H5Pclose(fa);
  if (fc >= 0) H5Pclose(fc);
  return ok;
}

static ms_status create_records(ms_h5out *h, h5run *r, ms_error *err) {
  r->cas_type = record_type(&ms_record_cascade);
  r->cas_ds = create_extendible(r, "cascades", r->cas_type, r->cfg->output.compression);
  if (r->cas_ds < 0 || columns_attr(r->cas_ds, ms_record_cascade.fields, ms_record_cascade.nfields))
    return h5fail(h, err, "create /cascades");
  attr_str(r->cas_ds, "meaning", "one row per cascade: liquidations of a path no more than "
                                  "stats.cascade_gap apart; start/end in s; depth = generations of impact_triggered liquidations");
  /* its own level: deflating these records costs more than simulating them (docs/performance.md);
   * uncompressed, it is created once its length is known (ms_h5out_size_liquidations) */
  if (r->cfg->output.liquidations && r->cfg->output.liquidations_compression > 0) {
    r->liq_type = record_type(ms_record_liquidation_of(r->cfg));
    r->liq_ds = create_extendible(r, "liquidations", r->liq_type, r->cfg->output.liquidations_compression);
    return liq_attrs(h, r, err);
  }
  return MS_OK;
}

ms_status ms_h5out_size_liquidations(ms_h5out *h, int id, int64_t rows, ms_error *err) {
  h5run *r = &h->runs[id];
  if (!r->cfg->output.liquidations || r->cfg->output.liquidations_compression > 0 || r->liq_ds >= 0) return MS_OK;
  /* Contiguous, of its final length: the records are written from the journal's buffer straight to
   * their place in the file, in as few writes as the journal holds runs of them, with no chunk
   * cache, index or extension in between (docs/performance.md, "Output costs"). */
  r->liq_type = record_type(ms_record_liquidation_of(r->cfg));
  hsize_t dims[1] = {(hsize_t)rows};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  if (pl >= 0) {
    H5Pset_layout(pl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(pl, H5D_ALLOC_TIME_EARLY); /* its place in the file is known now */
    H5Pset_fill_time(pl, H5D_FILL_TIME_NEVER);   /* every row is written */
  }
  r->liq_ds = sp >= 0 && pl >= 0 ? make_dataset(r->base, "liquidations", r->liq_type, sp, pl) : H5I_INVALID_HID;
  if (pl >= 0) H5Pclose(pl);
  if (sp >= 0) H5Sclose(sp);
  r->liq_rows = rows;
  if (r->liq_ds >= 0 && rows > 0 && H5Tget_size(r->liq_type) == sizeof(ms_liq_record) && plain_file(h->file)) {
    haddr_t at = H5Dget_offset(r->liq_ds);
    r->liq_addr = at == HADDR_UNDEF ? 0 : (uint64_t)at;
  }
  return liq_attrs(h, r, err);
}

/* Write @p n rows after the @p *have written; @p fixed: the dataset's length (-1: it grows). */
static int append_rows(hid_t ds, hid_t type, int64_t *have, int64_t fixed, const void *rows, size_t n) {
  if (n == 0) return 0;
  hsize_t newsize[1] = {(hsize_t)*have + n};
  if (fixed >= 0 && (int64_t)newsize[0] > fixed) return -1;
  if (fixed < 0 && H5Dset_extent(ds, newsize) < 0) return -1;
  if (write_slab(ds, type, 1, *have, (int64_t)n, 1, rows)) return -1;
  *have += (int64_t)n;
  return 0;
}

ms_status ms_h5out_append_cascades(ms_h5out *h, int id, const ms_cascade_record *c, size_t n, ms_error *err) {
  h5run *r = &h->runs[id];
  return append_rows(r->cas_ds, r->cas_type, &r->ncas, -1, c, n) ? h5fail(h, err, "write /cascades") : MS_OK;
}

ms_status ms_h5out_append_liquidations(ms_h5out *h, int id, const ms_liq_record *recs, size_t n, ms_error *err) {
  h5run *r = &h->runs[id];
  if (!r->cfg->output.liquidations || n == 0) return MS_OK;
  if (r->liq_ds < 0) return ms_error_set(err, MS_ERR_INTERNAL, "/liquidations written before its length is known");
  if (append_rows(r->liq_ds, r->liq_type, &r->nliq, r->liq_rows, recs, n))
    return h->failed ? h5fail(h, err, "write /liquidations")
                     : ms_error_set(err, MS_ERR_IO, "the journal holds more liquidation records than it counted");
  return MS_OK;
}

int ms_h5out_liquidations_place(ms_h5out *h, int id, uint64_t *addr) {
  const h5run *r = &h->runs[id];
  if (!r->liq_addr || h->out.fd < 0 || h->failed) return -1;
  *addr = r->liq_addr;
  return h->out.fd;
}

ms_status ms_h5out_liquidations_written(ms_h5out *h, int id, int64_t rows, ms_error *err) {
  h5run *r = &h->runs[id];
  if (rows != r->liq_rows)
    return ms_error_set(err, MS_ERR_IO, "the journal holds %lld liquidation records, its frames' tails count %lld",
                        (long long)rows, (long long)r->liq_rows);
  r->nliq = rows;
  return MS_OK;
}

/* The names of /book's strategy column (both records'). */
static const char BOOK_STRATEGIES[] = "-1 perp only, 0 naked short call, 1 naked short put, 2 short strangle, "
                                      "3 covered call, 4 protective put, 5 long straddle";

/* /book of @p n rows of record @p rec in chunks of @p chunk_rows, with its columns attribute: 0, or -1 (the HDF5
 * error stack says why). The rows are written by write_book_rows. */
static int book_dataset(h5run *r, const ms_record *rec, int64_t n, int64_t chunk_rows) {
  hid_t t = record_type(rec);
  hsize_t dims[1] = {(hsize_t)n}, chunk[1] = {(hsize_t)(n < chunk_rows ? (n ? n : 1) : chunk_rows)};
  hid_t sp = H5Screate_simple(1, dims, NULL), pl = chunked_plist(r, 1, chunk);
  r->book_ds = make_dataset(r->base, "book", t, sp, pl);
  r->book_type = t;
  r->book_n = n;
  r->book_chunk = (int64_t)chunk[0];
  r->book_rs = rec->size;
  H5Pclose(pl);
  H5Sclose(sp);
  return r->book_ds < 0 || columns_attr(r->book_ds, rec->fields, rec->nfields) ? -1 : 0;
}

ms_status ms_h5out_create_book(ms_h5out *h, int id, int64_t n, const char *margin_model, ms_error *err) {
  h5run *r = &h->runs[id];
  if (book_dataset(r, &ms_record_book, n, MS_H5_RECORD_CHUNK)) return h5fail(h, err, "create /book");
  attr_str(r->book_ds, "margin_model", margin_model);
  attr_str(r->book_ds, "strategies", BOOK_STRATEGIES);
  attr_str(r->book_ds, "meaning", r->cfg->book.resample == MS_RESAMPLE_PER_PATH
                                      ? "the book of path 0 (book.resample: per_path), at the entry price"
                                      : "the book of every path, at the entry price");
  return MS_OK;
}

ms_status ms_h5out_create_multi_book(ms_h5out *h, int id, int64_t n, ms_error *err) {
  h5run *r = &h->runs[id];
  if (book_dataset(r, &ms_record_multi_book, n, 4096)) return h5fail(h, err, "create /book");
  char assets[MS_MAX_ASSETS * 40] = "";
  for (int j = 0; j < r->cfg->market.nassets; j++) {
    size_t len = strlen(assets);
    snprintf(assets + len, sizeof assets - len, "%s%s", j ? ", " : "", r->cfg->market.assets[j].name);
  }
  int rc = attr_str(r->book_ds, "assets", assets);
  rc |= attr_str(r->book_ds, "strategies", BOOK_STRATEGIES);
  rc |= attr_str(r->book_ds, "meaning", r->cfg->book.resample == MS_RESAMPLE_PER_PATH
                                            ? "one row per position of the book of path 0 (book.resample: per_path), "
                                              "at the entry prices"
                                            : "one row per position of the book of every path, at the entry prices");
  return rc ? h5fail(h, err, "create /book") : MS_OK;
}

/* Rows [first, first + count) of /book through HDF5's own filters. */
static herr_t book_write(h5run *r, const void *rows, int64_t first, int64_t count) {
  return write_slab(r->book_ds, r->book_type, 1, first, count, 1, rows);
}

/* /book's whole chunks [lo, hi) (rows, chunk-aligned), shuffled and
 * deflated here and stored as they are (H5Dwrite_chunk). The fixed cost of
 * a 1M-account run was three quarters zlib deflating /book; libdeflate did
 * the same work in about half the time, and the plane coder (zplanes.h)
 * in a fraction of that (docs/performance.md). The chunks are what HDF5's own pipeline would store (its
 * shuffle by the record's size, then a zlib stream): any reader inflates
 * them with zlib and reads the same rows; only the compressed bytes differ
 * from zlib's. A stream longer than its chunk is stored as it is, as HDF5's
 * deflate filter stores it (chunk_room): every filter mask is 0. The memory
 * and file types are the same (the record's layout), so a chunk's bytes are
 * the rows' bytes.
 *
 * The chunks of a call are deflated on up to @p threads threads (the run's
 * -j: nothing else runs while the book is written), each chunk whole on one
 * thread with its own compressor, then written in order by the calling
 * thread: the same bytes for any thread count. The buffers and compressors
 * live from the book's first whole chunk to its last row (allocated per
 * call, 4 MB of fresh pages a block cost more than the second thread saved
 * at 1M accounts). */
typedef struct book_deflate {
  unsigned char *buf;  /* per chunk: its shuffled bytes, then its deflated bytes */
  size_t *z;           /* per chunk: deflated size, 0 if stored shuffled */
  int64_t cap;         /* chunks the buffers hold */
  int nc;              /* compressors, one per thread: */
  struct libdeflate_compressor **c; /* output.compression above ZPLANES_UP_TO */
  ms_zplanes **zp;     /* up to it */
} book_deflate;

static void book_deflate_free(struct book_deflate *bz) {
  if (!bz) return;
  for (int i = 0; i < bz->nc; i++) {
    if (bz->c[i]) libdeflate_free_compressor(bz->c[i]); /* nc > 0: both arrays hold nc entries */
    ms_zplanes_free(bz->zp[i]);
  }
  free(bz->c);
  free(bz->zp);
  free(bz->buf);
  free(bz->z);
  free(bz);
}

/* Room for @p nch chunks and @p threads compressors; -1 when out of memory. */
static int book_deflate_reserve(h5run *r, int64_t nch, int threads, size_t bytes) {
  book_deflate *bz = r->bz;
  if (!bz && !(bz = r->bz = calloc(1, sizeof *bz))) return -1;
  if (nch > bz->cap) {
    free(bz->buf);
    free(bz->z);
    bz->buf = malloc((size_t)nch * (bytes + chunk_room(bytes)));
    bz->z = malloc((size_t)nch * sizeof *bz->z);
    bz->cap = bz->buf && bz->z ? nch : 0;
    if (!bz->cap) return -1;
  }
  if (threads > bz->nc) {
    const int level = deflate_level(r);
    struct libdeflate_compressor **c = realloc(bz->c, (size_t)threads * sizeof *c);
    if (!c) return -1;
    bz->c = c;
    ms_zplanes **zp = realloc(bz->zp, (size_t)threads * sizeof *zp);
    if (!zp) return -1;
    bz->zp = zp;
    for (; bz->nc < threads; bz->nc++) {
      bz->c[bz->nc] = NULL;
      bz->zp[bz->nc] = NULL;
      ms_error ze;
      if (level <= ZPLANES_UP_TO ? ms_zplanes_new(&bz->zp[bz->nc], r->book_rs, (size_t)r->book_chunk, &ze) != MS_OK
                                 : !(bz->c[bz->nc] = libdeflate_alloc_compressor(level))) {
        bz->nc++; /* freed with the rest */
        return -1;
      }
    }
  }
  return 0;
}

static herr_t book_write_direct(h5run *r, const unsigned char *rows, int64_t first, int64_t lo, int64_t hi,
                                int threads) {
  const size_t rs = r->book_rs, nr = (size_t)r->book_chunk, bytes = nr * rs, room = chunk_room(bytes);
  const int64_t nch = (hi - lo) / r->book_chunk;
  if (threads > nch) threads = (int)nch;
  if (threads < 1) threads = 1;
  if (book_deflate_reserve(r, nch, threads, bytes) < 0) return -1;
  unsigned char *buf = r->bz->buf;
  size_t *z = r->bz->z;
  struct libdeflate_compressor **cs = r->bz->c;
  ms_zplanes **zp = r->bz->zp;
  const int64_t C = r->book_chunk;
#pragma omp parallel for schedule(static) num_threads(threads) default(none) \
    shared(buf, z, cs, zp) firstprivate(rows, first, lo, nch, rs, nr, bytes, room, C)
  for (int64_t k = 0; k < nch; k++) {
    const unsigned char *in = rows + (size_t)(lo + k * C - first) * rs;
    unsigned char *sh = buf + (size_t)k * (bytes + room), *out = sh + bytes;
    ms_byte_shuffle(sh, in, nr, rs); /* HDF5's shuffle: byte j of element i to j * nr + i */
    const int t = omp_get_thread_num();
    z[k] = zp[t] ? ms_zplanes_compress(zp[t], sh, rs, nr, out, room)
                 : libdeflate_zlib_compress(cs[t], sh, bytes, out, room);
  }
  herr_t rc = 0;
  for (int64_t k = 0; rc >= 0 && k < nch; k++) {
    unsigned char *sh = buf + (size_t)k * (bytes + room);
    hsize_t off[1] = {(hsize_t)(lo + k * C)};
    /* beyond the room (never: chunk_room bounds both coders) the rows go through HDF5's filters, as put_chunk's */
    rc = z[k] > 0 ? H5Dwrite_chunk(r->book_ds, H5P_DEFAULT, 0, off, z[k], sh + bytes)
                  : book_write(r, rows + (size_t)(lo + k * C - first) * rs, lo + k * C, C);
  }
  return rc;
}

/* Rows [first, first + count) of /book (either record: r->book_rs bytes a row). */
static ms_status write_book_rows(ms_h5out *h, int id, const unsigned char *rows, int64_t first, int64_t count,
                                 int threads, ms_error *err) {
  h5run *r = &h->runs[id];
  if (count <= 0) return MS_OK;
  /* whole chunks [lo, hi) deflated here; the partial ones at either end through HDF5 */
  int64_t C = r->book_chunk, end = first + count;
  int64_t lo = (first + C - 1) / C * C, hi = end / C * C;
  if (r->cfg->output.compression <= 0 || hi <= lo) lo = hi = end;
  herr_t rc = book_write(r, rows, first, lo - first);
  if (rc >= 0 && hi > lo) rc = book_write_direct(r, rows, first, lo, hi, threads);
  if (rc >= 0) rc = book_write(r, rows + (size_t)(hi - first) * r->book_rs, hi, end - hi);
  if (rc < 0 || end == r->book_n) { /* the last rows: the buffers are done with */
    book_deflate_free(r->bz);
    r->bz = NULL;
  }
  return rc < 0 ? h5fail(h, err, "write /book") : MS_OK;
}

ms_status ms_h5out_write_book_rows(ms_h5out *h, int id, const ms_book_row *rows, int64_t first, int64_t count,
                                   int threads, ms_error *err) {
  return write_book_rows(h, id, (const unsigned char *)rows, first, count, threads, err);
}

ms_status ms_h5out_write_multi_book_rows(ms_h5out *h, int id, const ms_multi_book_row *rows, int64_t first,
                                         int64_t count, int threads, ms_error *err) {
  return write_book_rows(h, id, (const unsigned char *)rows, first, count, threads, err);
}

#define STAT_NAME MS_REC_NAME

static void fill_stats(const ms_stats *st, ms_stat_rec *recs, ms_prob_rec *prs) {
  for (int i = 0; i < st->nrows; i++) {
    const ms_stat_row *sr = &st->rows[i];
    snprintf(recs[i].name, STAT_NAME, "%s", sr->name);
    recs[i].n = sr->n;
    recs[i].mean = sr->mean; recs[i].mean_lo = sr->mean_lo; recs[i].mean_hi = sr->mean_hi;
    recs[i].sd = sr->sd; recs[i].min = sr->min; recs[i].max = sr->max;
    for (int j = 0; j < MS_NQUANT; j++) {
      recs[i].q[j][0] = sr->q[j]; recs[i].q[j][1] = sr->q_lo[j]; recs[i].q[j][2] = sr->q_hi[j];
    }
    recs[i].es99 = sr->es99; recs[i].es99_lo = sr->es99_lo; recs[i].es99_hi = sr->es99_hi;
    recs[i].es01 = sr->es01; recs[i].es01_lo = sr->es01_lo; recs[i].es01_hi = sr->es01_hi;
    snprintf(recs[i].risky_side, sizeof recs[i].risky_side, "%s", sr->risky_low ? "low" : "high");
  }
  for (int i = 0; i < st->nprob; i++) {
    const ms_prob_row *p = &st->probs[i];
    snprintf(prs[i].name, STAT_NAME, "%s", p->name);
    snprintf(prs[i].definition, 128, "%s", p->definition);
    prs[i].k = p->k; prs[i].n = p->n; prs[i].p = p->p; prs[i].lo = p->lo; prs[i].hi = p->hi;
  }
}

/* A whole dataset @p name under @p loc of @p rank dims, with a "meaning". */
/* A dataset stored as @p ftype and written from records laid out as @p mtype
 * (HDF5 converts compound members by name, so the two may order them apart). */
static int write_table_as(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                          const void *data, const char *meaning, const ms_field *f, int nf) {
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t ds = make_dataset(loc, name, ftype, sp, H5P_DEFAULT);
  hsize_t total = 1;
  for (int i = 0; i < rank; i++) total *= dims[i];
  int rc = ds < 0 || (total > 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0);
  if (ds >= 0) {
    if (meaning) rc |= attr_str(ds, "meaning", meaning);
    if (f) rc |= columns_attr(ds, f, nf);
    H5Dclose(ds);
  }
  H5Sclose(sp);
  return rc;
}

static int write_table(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data,
                       const char *meaning) {
  return write_table_as(loc, name, type, type, rank, dims, data, meaning, NULL, 0);
}

/* A whole dataset of records of @p rec, with its "columns" unit lines. */
static int write_records(hid_t loc, const char *name, const ms_record *rec, int rank, const hsize_t *dims,
                         const void *data, const char *meaning) {
  hid_t type = record_type(rec);
  int rc = write_table_as(loc, name, type, type, rank, dims, data, meaning, rec->fields, rec->nfields);
  H5Tclose(type);
  return rc;
}

#define STATS_MEANING                                                                                   \
  "per summary column: n finite values, mean with bootstrap-t 95% interval, sd, min, max, quantiles with " \
  "distribution-free 95% intervals, es99 / es01 = mean of the largest / smallest 1% with bootstrap-t 95% " \
  "intervals (unbounded where the tail cannot bound them), risky_side = the tail to read (high or low); see "   \
  "docs/output.md"
#define PROBS_MEANING "k of n paths; p = k/n with a Wilson 95% interval [lo, hi]"

#define FEEDBACK_MEANING                                                                                  \
  "what the feedback loop causes: per path, the run's value minus its no-feedback twin's (the same path, " \
  "book and draws with market.impact.model none); means with and without, the mean difference and its "   \
  "95% interval [lo, hi]"

static ms_status write_feedback(ms_h5out *h, hid_t g, const ms_stats *st, int ncells, int by_cell, ms_error *err) {
  int nf = st[0].nfeedback;
  ms_feedback_rec *f = calloc((size_t)(ncells * nf), sizeof *f);
  if (!f) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  for (int c = 0; c < ncells; c++)
    for (int i = 0; i < nf && i < st[c].nfeedback; i++) {
      const ms_diff_row *d = &st[c].feedback[i];
      ms_feedback_rec *r = &f[c * nf + i];
      *r = (ms_feedback_rec){.n = d->n, .with_impact = d->other, .no_impact = d->baseline, .diff = d->diff,
                          .lo = d->lo, .hi = d->hi};
      snprintf(r->statistic, STAT_NAME, "%s", d->name);
    }
  hsize_t d[2] = {(hsize_t)ncells, (hsize_t)nf};
  if (!by_cell) d[0] = (hsize_t)nf;
  ms_status s = write_records(g, "feedback", &ms_record_feedback, by_cell ? 2 : 1, d, f, FEEDBACK_MEANING)
                    ? h5fail(h, err, "write stats/feedback") : MS_OK;
  free(f);
  return s;
}

/* /stats of one ms_stats, or of @p ncells of them as (cell, row) tables. */
static ms_status write_stats_at(ms_h5out *h, hid_t loc, const ms_stats *st, int ncells, int by_cell, ms_error *err) {
  hid_t g = make_group(loc, "stats", H5P_DEFAULT);
  if (g < 0) return h5fail(h, err, "create a stats group");
  int nr = st[0].nrows, np = st[0].nprob;
  ms_stat_rec *recs = calloc((size_t)(ncells * nr + 1), sizeof *recs);
  ms_prob_rec *prs = calloc((size_t)(ncells * np + 1), sizeof *prs);
  ms_status s = MS_OK;
  if (!recs || !prs) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  for (int c = 0; !s && c < ncells; c++) {
    if (st[c].nrows != nr || st[c].nprob != np)
      s = ms_error_set(err, MS_ERR_INPUT, "the cells of a sweep must have the same statistics (a cell with "
                       "another number of regimes has other columns)");
    else fill_stats(&st[c], recs + (size_t)c * (size_t)nr, prs + (size_t)c * (size_t)np);
  }
  int rank = by_cell ? 2 : 1;
  hsize_t d1[2] = {(hsize_t)ncells, (hsize_t)nr}, d2[2] = {(hsize_t)ncells, (hsize_t)np};
  if (rank == 1) { d1[0] = (hsize_t)nr; d2[0] = (hsize_t)np; }
  if (!s && write_records(g, "summary", &ms_record_stat, rank, d1, recs, STATS_MEANING))
    s = h5fail(h, err, "write stats/summary");
  if (!s && write_records(g, "probabilities", &ms_record_prob, rank, d2, prs, PROBS_MEANING))
    s = h5fail(h, err, "write stats/probabilities");
  if (!s && st[0].nfeedback > 0) s = write_feedback(h, g, st, ncells, by_cell, err);
  free(recs);
  free(prs);
  H5Gclose(g);
  return s;
}

ms_status ms_h5out_write_stats(ms_h5out *h, int id, const ms_stats *st, ms_error *err) {
  return write_stats_at(h, h->runs[id].base, st, 1, 0, err);
}

ms_status ms_h5out_write_market_column(ms_h5out *h, int id, const char *name, int integer, const char *unit,
                                       const char *doc, const char *markets, int nmarkets, int market,
                                       const double *x, int64_t paths, ms_error *err) {
  h5run *r = &h->runs[id];
  hid_t g = H5Lexists(r->base, "paths/markets", H5P_DEFAULT) > 0 ? H5Gopen2(r->base, "paths/markets", H5P_DEFAULT)
                                                                 : H5I_INVALID_HID;
  if (g < 0) {
    hid_t p = H5Gopen2(r->base, "paths", H5P_DEFAULT);
    g = p >= 0 ? make_group(p, "markets", H5P_DEFAULT) : H5I_INVALID_HID;
    if (p >= 0) H5Gclose(p);
    if (g < 0 || attr_str(g, "markets", markets) ||
        attr_str(g, "meaning", "a book of several markets (book.markets): each dataset paths x markets, the "
                               "summary's per-asset column of each market (the markets attribute names them)")) {
      if (g >= 0) H5Gclose(g);
      return h5fail(h, err, "create /paths/markets");
    }
  }
  hid_t type = integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
  hid_t ds = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : H5I_INVALID_HID;
  if (ds < 0) {
    hsize_t dims[2] = {(hsize_t)paths, (hsize_t)nmarkets};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    ds = sp >= 0 ? make_dataset(g, name, integer ? H5T_STD_I64LE : H5T_IEEE_F64LE, sp, H5P_DEFAULT) : H5I_INVALID_HID;
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0 && (attr_str(ds, "unit", unit) || attr_str(ds, "meaning", doc))) {
      H5Dclose(ds);
      ds = H5I_INVALID_HID;
    }
  }
  H5Gclose(g);
  if (ds < 0) return h5fail(h, err, "create a dataset of /paths/markets");
  int64_t *iv = NULL;
  if (integer) {
    iv = malloc((size_t)(paths > 0 ? paths : 1) * sizeof *iv);
    if (!iv) { H5Dclose(ds); return ms_error_set(err, MS_ERR_NOMEM, "out of memory for /paths/markets"); }
    for (int64_t i = 0; i < paths; i++) iv[i] = (int64_t)x[i];
  }
  hsize_t start[2] = {0, (hsize_t)market}, count[2] = {(hsize_t)paths, 1};
  hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(2, count, NULL);
  herr_t rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  if (rc >= 0 && paths > 0) rc = H5Dwrite(ds, type, ms, fs, H5P_DEFAULT, integer ? (const void *)iv : (const void *)x);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(ds);
  free(iv);
  return rc < 0 ? h5fail(h, err, "write /paths/markets") : MS_OK;
}

/* ---- paired differences: /compare/differences and /sweep/differences ----
 * One record and one fill for both tables; each table is a list of fields
 * (its published names and order, docs/output.md) over that record. The file
 * type packs the listed fields in that order, as each table always has. */
/* One difference row; @p model and @p baseline name the runs (NULL in a sweep,
 * whose table has no such fields). */
static void fill_diff(ms_diff_rec *d, const ms_diff_row *r, const char *model, const char *baseline) {
  *d = (ms_diff_rec){.n = r->n, .probability = r->probability, .baseline_mean = r->baseline, .other_mean = r->other,
                  .diff = r->diff, .lo = r->lo, .hi = r->hi, .unpaired_lo = r->unpaired_lo,
                  .unpaired_hi = r->unpaired_hi};
  snprintf(d->statistic, STAT_NAME, "%s", r->name);
  if (model) snprintf(d->model, STAT_NAME, "%s", model);
  if (baseline) snprintf(d->baseline, STAT_NAME, "%s", baseline);
}

/* The compound type of difference table @p table (a NULL-terminated list of
 * fields of ms_record_diff): in memory (offsets in ms_diff_rec) when
 * @p memory, else the file's (the fields packed in order, as each table
 * has always been laid out). */
static int diff_fields(const char *const *table, ms_field *f) {
  int n = 0;
  for (; table[n]; n++) f[n] = *ms_record_find(&ms_record_diff, table[n]);
  return n;
}

static hid_t diff_type(const char *const *table, int memory) {
  ms_field f[sizeof(ms_diff_rec) / 8 + 1] = {{0}};
  int n = diff_fields(table, f);
  return compound_type(f, n, sizeof(ms_diff_rec), !memory);
}

/* Write @p d as the difference table @p table, dataset "differences" of @p g. */
static int write_diffs(hid_t g, const char *const *table, int rank, const hsize_t *dims, const ms_diff_rec *d,
                       const char *meaning) {
  hid_t ft = diff_type(table, 0), mt = diff_type(table, 1);
  ms_field f[sizeof(ms_diff_rec) / 8 + 1] = {{0}};
  int nf = diff_fields(table, f);
  int rc = write_table_as(g, "differences", ft, mt, rank, dims, d, meaning, f, nf);
  H5Tclose(mt);
  H5Tclose(ft);
  return rc;
}

ms_status ms_h5out_write_compare(ms_h5out *h, const ms_compare_report *rep, ms_error *err) {
  hid_t g = make_group(h->file, "compare", H5P_DEFAULT);
  if (g < 0) return h5fail(h, err, "create /compare");
  int nd = (rep->ncells - 1) * rep->ndiffs;
  ms_diff_rec *d = calloc((size_t)(nd ? nd : 1), sizeof *d);
  ms_eff_rec *e = calloc((size_t)rep->ncells, sizeof *e);
  ms_status s = MS_OK;
  if (!d || !e) { s = ms_error_set(err, MS_ERR_NOMEM, "out of memory"); goto out; }
  int k = 0;
  for (int c = 1; c < rep->ncells; c++)
    for (int j = 0; j < rep->ndiffs; j++, k++) fill_diff(&d[k], &rep->diffs[c][j], rep->values[c], rep->values[0]);
  hsize_t dims[1] = {(hsize_t)nd};
  int rc = write_diffs(g, ms_compare_diff_fields, 1, dims, d,
                       "per statistic and model: mean over paths of (model - baseline) on the same paths, "
                       "with its bootstrap-t 95% interval [lo, hi] (docs/output.md); probability rows compare 0/1 "
                       "indicators");
  if (rc) { s = h5fail(h, err, "write /compare/differences"); goto out; }
  for (int c = 0; c < rep->ncells; c++) {
    const ms_stats *st = &rep->stats[c];
    snprintf(e[c].model, STAT_NAME, "%s", rep->values[c]);
    e[c].initial_margin = rep->efficiency[c].initial_margin;
    e[c].risk = rep->efficiency[c].risk;
    e[c].im_per_risk = rep->efficiency[c].im_per_risk;
    const ms_stat_row *bd = ms_stats_find(st, "bad_debt"), *lq = ms_stats_find(st, "liquidations"),
                      *lc = ms_stats_find(st, "largest_cascade_notional");
    const ms_prob_row *ins = ms_stats_find_prob(st, "insolvency");
    e[c].bad_debt_mean = bd ? bd->mean : NAN;
    e[c].liquidations_mean = lq ? lq->mean : NAN;
    e[c].largest_cascade_notional_mean = lc ? lc->mean : NAN;
    e[c].insolvency_p = ins ? ins->p : NAN;
    e[c].insolvency_lo = ins ? ins->lo : NAN;
    e[c].insolvency_hi = ins ? ins->hi : NAN;
  }
  hid_t et = record_type(&ms_record_eff);
  dims[0] = (hsize_t)rep->ncells;
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t ds = make_dataset(g, "models", et, sp, H5P_DEFAULT);
  rc = ds < 0 || H5Dwrite(ds, et, H5S_ALL, H5S_ALL, H5P_DEFAULT, e) < 0;
  if (ds >= 0) {
    rc |= columns_attr(ds, ms_record_eff.fields, ms_record_eff.nfields);
    attr_str(ds, "meaning", "per model: initial margin of the book at the start (USD), its risk (sum of each "
                            "account's worse one-day 99% loss, USD), initial margin per unit of risk, and the "
                            "stress outcomes: mean bad debt, P(insolvency) with Wilson interval, mean liquidations, "
                            "mean largest cascade notional");
    H5Dclose(ds);
  }
  H5Sclose(sp);
  H5Tclose(et);
  if (rc) s = h5fail(h, err, "write /compare/models");
out:
  free(d);
  free(e);
  H5Gclose(g);
  return s;
}

/* ---- assertions and sweeps ---- */

ms_status ms_h5out_write_assertions(ms_h5out *h, int id, const ms_assert_result *r, int n, ms_error *err) {
  if (n <= 0) return MS_OK;
  ms_assert_rec *v = calloc((size_t)n, sizeof *v);
  if (!v) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    const ms_assertion_cfg *a = r[i].a;
    snprintf(v[i].assertion, sizeof v[i].assertion, "%s", a->text);
    snprintf(v[i].statistic, sizeof v[i].statistic, "%s", a->statistic);
    snprintf(v[i].op, sizeof v[i].op, "%s", ms_assert_op_text(a->op));
    snprintf(v[i].where, sizeof v[i].where, "%s", a->where);
    v[i].threshold = a->threshold;
    v[i].confidence = a->confidence;
    v[i].value = r[i].v.value;
    v[i].lo = r[i].v.lo;
    v[i].hi = r[i].v.hi;
    v[i].passed = r[i].passed;
  }
  hsize_t dims[1] = {(hsize_t)n};
  int rc = write_records(h->runs[id].base, "assertions", &ms_record_assertion, 1, dims, v,
                       "the scenario's assertions: value and interval (at confidence, or 95% when 0) of the "
                          "statistic, passed = 1 when it holds");
  free(v);
  return rc ? h5fail(h, err, "write assertions") : MS_OK;
}

ms_status ms_h5out_write_sweep(ms_h5out *h, const ms_h5_sweep *sw, ms_error *err) {
  hid_t g = open_group(h->file, "sweep");
  if (g < 0) return h5fail(h, err, "create /sweep");
  ms_status s = MS_OK;
  int64_t base = sw->baseline;
  if (attr_num(g, "baseline", H5T_NATIVE_INT64, &base)) s = h5fail(h, err, "write /sweep attributes");
  /* axes */
  hid_t ga = s ? H5I_INVALID_HID : make_group(g, "axes", H5P_DEFAULT);
  if (!s && ga < 0) s = h5fail(h, err, "create /sweep/axes");
  for (int a = 0; !s && a < sw->naxes; a++) {
    const ms_h5_sweep_axis *ax = &sw->axes[a];
    char nm[16];
    snprintf(nm, sizeof nm, "%d", a);
    hid_t gx = make_group(ga, nm, H5P_DEFAULT);
    hid_t st = str_type(ax->value_size);
    hsize_t d[1] = {(hsize_t)ax->n};
    int rc = gx < 0 || attr_str(gx, "key", ax->key) ||
             write_table(gx, "values", st, 1, d, ax->values, "the axis's values, as given") ||
             write_table(gx, "numeric", H5T_NATIVE_DOUBLE, 1, d, ax->numeric,
                         "the values as numbers: durations in s, rates per day; NaN when not a number");
    H5Tclose(st);
    if (gx >= 0) H5Gclose(gx);
    if (rc) s = h5fail(h, err, "write /sweep/axes");
  }
  if (ga >= 0) H5Gclose(ga);
  /* cells */
  ms_cell_rec *cr = s ? NULL : calloc((size_t)sw->ncells, sizeof *cr);
  if (!s && !cr) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  int64_t *idx = s ? NULL : calloc((size_t)sw->ncells * (size_t)sw->naxes + 1, sizeof *idx);
  if (!s && !idx) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  if (!s) {
    for (int c = 0; c < sw->ncells; c++) {
      cr[c].cell = c;
      snprintf(cr[c].label, sizeof cr[c].label, "%s", sw->labels + (size_t)c * sw->label_size);
      for (int a = 0; a < sw->naxes; a++) idx[c * sw->naxes + a] = sw->index[c * sw->naxes + a];
    }
    hsize_t d1[1] = {(hsize_t)sw->ncells}, d2[2] = {(hsize_t)sw->ncells, (hsize_t)sw->naxes};
    int rc = write_records(g, "cells", &ms_record_cell, 1, d1, cr, "one row per cell, in cartesian order (the last axis fastest); "
                                                   "its run is /sweep/runs/<cell>") ||
             write_table(g, "index", H5T_NATIVE_INT64, 2, d2, idx, "[cell, axis]: the index of the cell's value on "
                                                                   "each axis (/sweep/axes/<axis>/values)");
    if (rc) s = h5fail(h, err, "write /sweep/cells");
  }
  free(cr);
  free(idx);
  if (!s) s = write_stats_at(h, g, sw->stats, sw->ncells, 1, err);
  /* paired differences */
  ms_diff_rec *dr = s ? NULL : calloc((size_t)sw->ncells * (size_t)sw->ndiffs + 1, sizeof *dr);
  if (!s && !dr) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  if (!s) {
    for (size_t k = 0; k < (size_t)sw->ncells * (size_t)sw->ndiffs; k++) fill_diff(&dr[k], &sw->diffs[k], NULL, NULL);
    hsize_t d[2] = {(hsize_t)sw->ncells, (hsize_t)sw->ndiffs};
    int rc = write_diffs(g, ms_sweep_diff_fields, 2, d, dr,
                         "[cell, statistic]: mean over paths of (cell - baseline cell) on the same path, with its "
                         "bootstrap-t 95% interval [lo, hi] (docs/output.md) and the normal interval two independent runs "
                         "would give "
                         "[unpaired_lo, unpaired_hi]; probability rows compare 0/1 indicators");
    if (rc) s = h5fail(h, err, "write /sweep/differences");
  }
  free(dr);
  H5Gclose(g);
  return s;
}

static void close_all(ms_h5out *h) {
  for (size_t i = 0; i < h->nruns; i++) close_run(h, &h->runs[i]);
}

static void free_h(ms_h5out *h) {
  H5E_auto2_t fn = NULL;
  void *data = NULL;
  if (H5Eget_auto2(H5E_DEFAULT, &fn, &data) >= 0 && fn == on_h5_error && data == h)
    H5Eset_auto2(H5E_DEFAULT, h->prev_fn, h->prev_data);
  free(h->pack);
  free(h->zbuf);
  for (int i = 0; i <= MS_DEFLATE_MAX; i++)
    if (h->ldc[i]) libdeflate_free_compressor(h->ldc[i]);
  free(h->runs);
  free(h->final_path);
  free(h);
}

/* Closes every id of the file; nonzero when a close failed. After a failed
 * H5Fclose the id is never used again (a second close crashed HDF5). */
static int close_file(ms_h5out *h) {
  close_all(h);
  if (h->file >= 0 && !h->file_broken) {
    if (H5Fclose(h->file) < 0) {
      h->failed = 1;
      h->file_broken = 1;
    }
  }
  h->file = H5I_INVALID_HID;
  return h->failed;
}

void ms_h5out_start_writeback(ms_h5out *h) { ms_outfile_start_writeback(&h->out); }

void ms_h5out_touch(ms_h5out *h) { ms_outfile_touch(&h->out); }

ms_status ms_h5out_commit(ms_h5out *h, ms_error *err) {
  ms_status s = MS_OK;
  if (close_file(h)) {
    s = ms_error_set(err, MS_ERR_IO, "%s: cannot write the result file: HDF5 failed to write or close it (%s)",
                     h->final_path, h->reason[0] ? h->reason : "HDF5 error");
    ms_outfile_abort(&h->out);
  } else {
    s = ms_outfile_commit(&h->out, err);
  }
  free_h(h);
  return s;
}

void ms_h5out_abort(ms_h5out *h) {
  if (!h) return;
  close_file(h);
  ms_outfile_abort(&h->out);
  free_h(h);
}
