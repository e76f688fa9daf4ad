/*
 * h5out — HDF5 result file (see h5out.h and docs/output.md).
 *
 * Compound rows are written from a packed buffer of 8-byte fields, the same
 * layout in memory and in the file. Large datasets are chunked and, when
 * output.compression > 0, shuffled and deflated.
 */
#include "output/h5out.h"
#include "output/outfile.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The datasets of one run: at the root for a single run, under a group per
 * cell for a comparison or a sweep. Several can be open at once. */
typedef struct h5run {
  hid_t base;               /* the run's group (the file for a single run) */
  const ms_config *cfg;
  int ncols;
  ms_column cols[MS_MAX_COLUMNS];
  hid_t summary_type, summary_ds;
  hid_t ts_price, ts_regime, ts_mark, ts_oracle, ts_oi, ts_fund, ts_liq, ts_ratio;
  hid_t fan_price, fan_mark, fan_regime;
  int64_t fan_paths, fan_len;
  hid_t cas_type, cas_ds, liq_type, liq_ds, book_type, book_ds;
  int64_t ncas, nliq;
  int64_t ts_paths, ts_len;
  int64_t npaths;
  char where[300];          /* group name for messages: "" or "/models/static" */
} h5run;

struct ms_h5out {
  hid_t file;
  char *final_path;         /* as given, for messages */
  ms_outfile out;           /* the temporary being written and the file it replaces */
  int failed;               /* an HDF5 call failed: never commit, never close the file again */
  int file_broken;          /* H5Fclose failed: the id must not be touched again */
  char reason[200];         /* the first failure's cause, e.g. "No space left on device" */
  const ms_config *cfg;     /* the root's configuration */
  h5run *runs;
  size_t nruns, capruns;
  unsigned char *pack;      /* packed rows for one write */
  size_t pack_rows;
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

static hid_t chunked_plist(const h5run *r, int rank, const hsize_t *chunk) {
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(pl, rank, chunk);
  if (r->cfg->output.compression > 0) {
    H5Pset_shuffle(pl);
    H5Pset_deflate(pl, (unsigned)r->cfg->output.compression);
  }
  return pl;
}

static hid_t col_h5type(ms_col_type t) {
  switch (t) {
  case MS_COL_F64: return H5T_NATIVE_DOUBLE;
  case MS_COL_I64: return H5T_NATIVE_INT64;
  case MS_COL_U64: return H5T_NATIVE_UINT64;
  }
  return H5T_NATIVE_DOUBLE;
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

static void now_iso(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static ms_status create_summary(ms_h5out *h, h5run *r, ms_error *err) {
  r->ncols = ms_stats_columns(r->cfg, r->cols, MS_MAX_COLUMNS);
  r->summary_type = H5Tcreate(H5T_COMPOUND, (size_t)r->ncols * 8);
  for (int c = 0; c < r->ncols; c++)
    H5Tinsert(r->summary_type, r->cols[c].name, (size_t)c * 8, col_h5type(r->cols[c].type));
  hid_t g = H5Gcreate2(r->base, "paths", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return h5fail(h, err, "create /paths");
  hsize_t dims[1] = {(hsize_t)r->npaths};
  hsize_t chunk[1] = {(hsize_t)(r->npaths < 4096 ? r->npaths : 4096)};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t pl = chunked_plist(r, 1, chunk);
  r->summary_ds = H5Dcreate2(g, "summary", r->summary_type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  H5Pclose(pl);
  H5Sclose(sp);
  if (r->summary_ds < 0) { H5Gclose(g); return h5fail(h, err, "create /paths/summary"); }
  /* One line per column: "name [unit]: meaning". */
  size_t cap = 256 * (size_t)r->ncols, k = 0;
  char *units = malloc(cap);
  if (!units) { H5Gclose(g); return ms_error_set(err, MS_ERR_NOMEM, "out of memory"); }
  units[0] = '\0';
  for (int c = 0; c < r->ncols; c++)
    k += (size_t)snprintf(units + k, cap - k, "%s [%s]: %s\n", r->cols[c].name, r->cols[c].unit,
                          r->cols[c].doc);
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
  hid_t ds = H5Dcreate2(g, "time", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
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

/* /timeseries/fan: output.fan.points samples of the first output.fan.paths paths. */
static ms_status create_fan(ms_h5out *h, h5run *r, hid_t ts, ms_error *err) {
  const ms_config *cfg = r->cfg;
  r->fan_paths = cfg->output.fan.paths < cfg->paths ? cfg->output.fan.paths : cfg->paths;
  r->fan_len = cfg->output.fan.points;
  if (r->fan_paths <= 0) return MS_OK;
  char regime_names_[REGIME_NAMES];
  regime_names(cfg, regime_names_);
  hid_t g = H5Gcreate2(ts, "fan", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
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
    hsize_t chunk[2] = {(hsize_t)(r->fan_paths < 256 ? r->fan_paths : 256), (hsize_t)r->fan_len};
    hid_t pl = chunked_plist(r, 2, chunk);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    r->fan_price = H5Dcreate2(g, "price", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->fan_mark = H5Dcreate2(g, "mark", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->fan_regime = H5Dcreate2(g, "regime", H5T_NATIVE_INT32, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Sclose(sp);
    H5Pclose(pl);
    rc = r->fan_price < 0 || r->fan_mark < 0 || r->fan_regime < 0;
    if (!rc) {
      attr_str(r->fan_price, "unit", "USD");
      attr_str(r->fan_price, "meaning", "exogenous price, rows = paths 0.., columns = /timeseries/fan/time");
      attr_str(r->fan_mark, "unit", "USD");
      attr_str(r->fan_mark, "meaning", "mark price = exogenous x exp(impact)");
      attr_str(r->fan_regime, "meaning", "regime index into the comma-separated 'names' attribute");
      attr_str(r->fan_regime, "names", regime_names_);
    }
  }
  H5Gclose(g);
  return rc ? h5fail(h, err, "create /timeseries/fan") : MS_OK;
}

static ms_status create_timeseries(ms_h5out *h, h5run *r, ms_error *err) {
  const ms_config *cfg = r->cfg;
  r->ts_paths = cfg->output.timeseries.paths < cfg->paths ? cfg->output.timeseries.paths : cfg->paths;
  r->ts_len = ms_trace_len(cfg);
  hid_t g = H5Gcreate2(r->base, "timeseries", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
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
    r->ts_price = H5Dcreate2(g, "price", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->ts_regime = H5Dcreate2(g, "regime", H5T_NATIVE_INT32, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->ts_mark = H5Dcreate2(g, "mark", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->ts_oracle = H5Dcreate2(g, "oracle", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->ts_oi = H5Dcreate2(g, "open_interest", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->ts_fund = H5Dcreate2(g, "insurance_fund", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->ts_liq = H5Dcreate2(g, "liquidations", H5T_NATIVE_INT32, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    r->ts_ratio = H5Dcreate2(g, "margin_ratio", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Sclose(sp);
    H5Pclose(pl);
    if (r->ts_price < 0 || r->ts_regime < 0 || r->ts_mark < 0 || r->ts_oracle < 0 || r->ts_oi < 0 ||
        r->ts_fund < 0 || r->ts_liq < 0 || r->ts_ratio < 0) {
      H5Gclose(g);
      return h5fail(h, err, "create /timeseries");
    }
    attr_str(r->ts_price, "unit", "USD");
    attr_str(r->ts_price, "meaning", "exogenous price, rows = paths 0.., columns = /timeseries/time");
    attr_str(r->ts_mark, "unit", "USD");
    attr_str(r->ts_mark, "meaning", "mark price = exogenous x exp(impact)");
    attr_str(r->ts_oracle, "unit", "USD");
    attr_str(r->ts_oracle, "meaning", "the oracle's current published price");
    attr_str(r->ts_oi, "unit", "USD");
    attr_str(r->ts_oi, "meaning", "open units of longs and shorts x mark");
    attr_str(r->ts_fund, "unit", "USD");
    attr_str(r->ts_fund, "meaning", "insurance fund balance");
    attr_str(r->ts_liq, "meaning", "liquidations since the previous sample");
    attr_str(r->ts_ratio, "meaning", "maintenance margin ratio of perps (dynamic margin moves it)");
    char names[REGIME_NAMES];
    regime_names(cfg, names);
    attr_str(r->ts_regime, "names", names);
    attr_str(r->ts_regime, "meaning", "regime index into the comma-separated 'names' attribute");
  }
  ms_status s = create_fan(h, r, g, err);
  H5Gclose(g);
  return s;
}


static ms_status create_records(ms_h5out *h, h5run *r, ms_error *err);

static void run_init(h5run *r, const ms_config *cfg) {
  memset(r, 0, sizeof *r);
  r->cfg = cfg;
  r->npaths = cfg->paths;
  r->base = r->summary_ds = r->summary_type = H5I_INVALID_HID;
  r->ts_price = r->ts_regime = r->ts_mark = r->ts_oracle = r->ts_oi = r->ts_fund = r->ts_liq = r->ts_ratio =
      r->fan_price = r->fan_mark = r->fan_regime = H5I_INVALID_HID;
  r->cas_type = r->cas_ds = r->liq_type = r->liq_ds = r->book_type = r->book_ds = H5I_INVALID_HID;
}

/* Closing a dataset writes its cached chunks: a failure here is a failed
 * write (recorded in h->failed by the error handler). */
static void close_run(ms_h5out *h, h5run *r) {
  hid_t ds[] = {r->ts_price, r->ts_regime, r->ts_mark, r->ts_oracle, r->ts_oi, r->ts_fund, r->ts_liq,
                r->ts_ratio, r->fan_price, r->fan_mark, r->fan_regime, r->cas_ds, r->liq_ds, r->book_ds, r->summary_ds};
  int bad = 0;
  for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
    if (ds[i] >= 0) bad |= H5Dclose(ds[i]) < 0;
  hid_t ty[] = {r->cas_type, r->liq_type, r->book_type, r->summary_type};
  for (size_t i = 0; i < sizeof ty / sizeof ty[0]; i++)
    if (ty[i] >= 0) bad |= H5Tclose(ty[i]) < 0;
  if (r->base >= 0 && r->base != h->file) bad |= H5Gclose(r->base) < 0;
  if (bad) h->failed = 1;
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
  return rc;
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
  mkdir_parents(path);
  ms_status s = ms_outfile_open(&h->out, path, err);
  if (s) { ms_h5out_abort(h); return s; }
  H5Eset_auto2(H5E_DEFAULT, on_h5_error, h); /* the library never prints; the cause is kept */
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
    s = ms_error_set(err, MS_ERR_IO, "%s: cannot create the result file (%s)", path,
                     h->reason[0] ? h->reason : "HDF5 error");
    ms_h5out_abort(h);
    return s;
  }
  /* HDF5 opened the temporary by name: make sure it is the file we created
   * exclusively (nothing was swapped in between). */
  void *handle = NULL;
  struct stat ours, theirs;
  if (H5Fget_vfd_handle(h->file, H5P_DEFAULT, &handle) < 0 || !handle || fstat(h->out.fd, &ours) != 0 ||
      fstat(*(int *)handle, &theirs) != 0 || ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino) {
    s = ms_error_set(err, MS_ERR_IO, "%s: the temporary file %s was replaced while being opened; nothing written",
                     path, h->out.tmp);
    ms_h5out_abort(h);
    return s;
  }
  char *yaml = ms_config_to_yaml(cfg);
  char created[40];
  now_iso(created, sizeof created);
  int rc = !yaml;
  rc |= attr_str(h->file, "version", MS_VERSION);
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
  hid_t g = H5Gcreate2(file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  return g;
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
    /* a leaf may hold '/' (a rate such as 12/d): it must not nest groups */
    char name[sizeof r->where];
    int n = snprintf(name, sizeof name, "%s/%s%s", parent, strcmp(leaf, ".") && strcmp(leaf, "..") ? "" : "_", leaf);
    for (int i = (int)strlen(parent) + 1; i < n && i < (int)sizeof name; i++)
      if (name[i] == '/') name[i] = '|';
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

ms_status ms_h5out_write_summary(ms_h5out *h, int id, const ms_path_summary *rows, int64_t first, int64_t n,
                                 ms_error *err) {
  h5run *r = &h->runs[id];
  if (n <= 0) return MS_OK;
  size_t rowsz = (size_t)r->ncols * 8;
  if ((size_t)n * rowsz > h->pack_rows) {
    unsigned char *p = realloc(h->pack, (size_t)n * rowsz);
    if (!p) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    h->pack = p;
    h->pack_rows = (size_t)n * rowsz;
  }
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < r->ncols; c++)
      memcpy(h->pack + (size_t)i * rowsz + (size_t)c * 8, (const char *)&rows[i] + r->cols[c].offset, 8);
  hsize_t start[1] = {(hsize_t)first}, count[1] = {(hsize_t)n};
  hid_t fs = H5Dget_space(r->summary_ds);
  hid_t ms = H5Screate_simple(1, count, NULL);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  herr_t rc = H5Dwrite(r->summary_ds, r->summary_type, ms, fs, H5P_DEFAULT, h->pack);
  H5Sclose(ms);
  H5Sclose(fs);
  return rc < 0 ? h5fail(h, err, "write /paths/summary") : MS_OK;
}

static int write_row(hid_t ds, hid_t memtype, int64_t k, int64_t len, const void *buf) {
  hsize_t start[2] = {(hsize_t)k, 0}, count[2] = {1, (hsize_t)len};
  hid_t fs = H5Dget_space(ds);
  hid_t ms = H5Screate_simple(2, count, NULL);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  herr_t rc = H5Dwrite(ds, memtype, ms, fs, H5P_DEFAULT, buf);
  H5Sclose(ms);
  H5Sclose(fs);
  return rc < 0 ? -1 : 0;
}

ms_status ms_h5out_write_trace(ms_h5out *h, int id, int64_t k, const ms_trace *tr, ms_error *err) {
  h5run *r = &h->runs[id];
  if (k >= r->ts_paths) return MS_OK;
  if (write_row(r->ts_price, H5T_NATIVE_DOUBLE, k, r->ts_len, tr->price) ||
      write_row(r->ts_regime, H5T_NATIVE_INT32, k, r->ts_len, tr->regime) ||
      write_row(r->ts_mark, H5T_NATIVE_DOUBLE, k, r->ts_len, tr->mark) ||
      write_row(r->ts_oracle, H5T_NATIVE_DOUBLE, k, r->ts_len, tr->oracle) ||
      write_row(r->ts_oi, H5T_NATIVE_DOUBLE, k, r->ts_len, tr->open_interest) ||
      write_row(r->ts_fund, H5T_NATIVE_DOUBLE, k, r->ts_len, tr->insurance) ||
      write_row(r->ts_liq, H5T_NATIVE_INT32, k, r->ts_len, tr->liquidations) ||
      write_row(r->ts_ratio, H5T_NATIVE_DOUBLE, k, r->ts_len, tr->margin_ratio))
    return h5fail(h, err, "write /timeseries");
  return MS_OK;
}

ms_status ms_h5out_write_fan(ms_h5out *h, int id, int64_t k, const double *price, const double *mark,
                             const int32_t *regime, ms_error *err) {
  h5run *r = &h->runs[id];
  if (k >= r->fan_paths) return MS_OK;
  if (write_row(r->fan_price, H5T_NATIVE_DOUBLE, k, r->fan_len, price) ||
      write_row(r->fan_mark, H5T_NATIVE_DOUBLE, k, r->fan_len, mark) ||
      write_row(r->fan_regime, H5T_NATIVE_INT32, k, r->fan_len, regime))
    return h5fail(h, err, "write /timeseries/fan");
  return MS_OK;
}

/* ---- extendible record datasets ---- */

static hid_t cascade_type(void) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ms_cascade_record));
  H5Tinsert(t, "path", HOFFSET(ms_cascade_record, path), H5T_NATIVE_UINT64);
  H5Tinsert(t, "index", HOFFSET(ms_cascade_record, index), H5T_NATIVE_INT64);
  H5Tinsert(t, "start", HOFFSET(ms_cascade_record, start), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "end", HOFFSET(ms_cascade_record, end), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "liquidations", HOFFSET(ms_cascade_record, liquidations), H5T_NATIVE_INT64);
  H5Tinsert(t, "impact_triggered", HOFFSET(ms_cascade_record, impact_triggered), H5T_NATIVE_INT64);
  H5Tinsert(t, "notional", HOFFSET(ms_cascade_record, notional), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "bad_debt", HOFFSET(ms_cascade_record, bad_debt), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "depth", HOFFSET(ms_cascade_record, depth), H5T_NATIVE_INT64);
  return t;
}

static hid_t liquidation_type(void) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ms_liq_record));
  H5Tinsert(t, "path", HOFFSET(ms_liq_record, path), H5T_NATIVE_UINT64);
  H5Tinsert(t, "time", HOFFSET(ms_liq_record, time), H5T_NATIVE_INT64);
  H5Tinsert(t, "obs_time", HOFFSET(ms_liq_record, obs_time), H5T_NATIVE_INT64);
  H5Tinsert(t, "account", HOFFSET(ms_liq_record, account), H5T_NATIVE_INT64);
  H5Tinsert(t, "side", HOFFSET(ms_liq_record, side), H5T_NATIVE_INT32);
  H5Tinsert(t, "impact_triggered", HOFFSET(ms_liq_record, impact_triggered), H5T_NATIVE_INT32);
  H5Tinsert(t, "full", HOFFSET(ms_liq_record, full), H5T_NATIVE_INT32);
  H5Tinsert(t, "generation", HOFFSET(ms_liq_record, generation), H5T_NATIVE_INT32);
  H5Tinsert(t, "cascade", HOFFSET(ms_liq_record, cascade), H5T_NATIVE_INT64);
  H5Tinsert(t, "oracle_price", HOFFSET(ms_liq_record, oracle_price), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "exog_oracle_price", HOFFSET(ms_liq_record, exog_oracle_price), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "mark_price", HOFFSET(ms_liq_record, mark_price), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "qty", HOFFSET(ms_liq_record, qty), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "notional", HOFFSET(ms_liq_record, notional), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "bad_debt", HOFFSET(ms_liq_record, bad_debt), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "penalty", HOFFSET(ms_liq_record, penalty), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "adl_qty", HOFFSET(ms_liq_record, adl_qty), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "delay", HOFFSET(ms_liq_record, delay), H5T_NATIVE_DOUBLE);
  return t;
}

static hid_t create_extendible(h5run *r, const char *name, hid_t type) {
  hsize_t dims[1] = {0}, maxd[1] = {H5S_UNLIMITED}, chunk[1] = {4096};
  hid_t sp = H5Screate_simple(1, dims, maxd);
  hid_t pl = chunked_plist(r, 1, chunk);
  hid_t ds = H5Dcreate2(r->base, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  H5Pclose(pl);
  H5Sclose(sp);
  return ds;
}

static ms_status create_records(ms_h5out *h, h5run *r, ms_error *err) {
  r->cas_type = cascade_type();
  r->cas_ds = create_extendible(r, "cascades", r->cas_type);
  if (r->cas_ds < 0) return h5fail(h, err, "create /cascades");
  attr_str(r->cas_ds, "meaning", "one row per cascade: liquidations of a path no more than "
                                  "stats.cascade_gap apart; start/end in s; depth = generations of impact_triggered liquidations");
  if (r->cfg->output.liquidations) {
    r->liq_type = liquidation_type();
    r->liq_ds = create_extendible(r, "liquidations", r->liq_type);
    if (r->liq_ds < 0) return h5fail(h, err, "create /liquidations");
    attr_str(r->liq_ds, "meaning", "one row per liquidation; times in ms, prices in USD, delay in s");
  }
  return MS_OK;
}

static int append_rows(hid_t ds, hid_t type, int64_t *have, const void *rows, size_t n) {
  if (n == 0) return 0;
  hsize_t newsize[1] = {(hsize_t)*have + n}, start[1] = {(hsize_t)*have}, count[1] = {n};
  if (H5Dset_extent(ds, newsize) < 0) return -1;
  hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, count, NULL);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  herr_t rc = H5Dwrite(ds, type, ms, fs, H5P_DEFAULT, rows);
  H5Sclose(ms);
  H5Sclose(fs);
  if (rc < 0) return -1;
  *have += (int64_t)n;
  return 0;
}

ms_status ms_h5out_append_cascades(ms_h5out *h, int id, const ms_cascade_record *c, size_t n, ms_error *err) {
  h5run *r = &h->runs[id];
  return append_rows(r->cas_ds, r->cas_type, &r->ncas, c, n) ? h5fail(h, err, "write /cascades") : MS_OK;
}

ms_status ms_h5out_append_liquidations(ms_h5out *h, int id, const ms_liq_record *recs, size_t n, ms_error *err) {
  h5run *r = &h->runs[id];
  if (r->liq_ds < 0) return MS_OK;
  return append_rows(r->liq_ds, r->liq_type, &r->nliq, recs, n) ? h5fail(h, err, "write /liquidations") : MS_OK;
}

ms_status ms_h5out_create_book(ms_h5out *h, int id, int64_t n, const char *margin_model, ms_error *err) {
  h5run *r = &h->runs[id];
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ms_book_row));
  H5Tinsert(t, "account", HOFFSET(ms_book_row, account), H5T_NATIVE_INT64);
  H5Tinsert(t, "side", HOFFSET(ms_book_row, side), H5T_NATIVE_INT64);
  H5Tinsert(t, "strategy", HOFFSET(ms_book_row, strategy), H5T_NATIVE_INT64);
  H5Tinsert(t, "collateral", HOFFSET(ms_book_row, collateral), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "quantity", HOFFSET(ms_book_row, quantity), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "leverage", HOFFSET(ms_book_row, leverage), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "notional", HOFFSET(ms_book_row, notional), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "initial_margin", HOFFSET(ms_book_row, initial_margin), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "maintenance_margin", HOFFSET(ms_book_row, maintenance_margin), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "liquidation_price", HOFFSET(ms_book_row, liquidation_price), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "call_strike", HOFFSET(ms_book_row, call_strike), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "call_qty", HOFFSET(ms_book_row, call_qty), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "put_strike", HOFFSET(ms_book_row, put_strike), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "put_qty", HOFFSET(ms_book_row, put_qty), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "expiry", HOFFSET(ms_book_row, expiry), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "premium", HOFFSET(ms_book_row, premium), H5T_NATIVE_DOUBLE);
  hsize_t dims[1] = {(hsize_t)n}, chunk[1] = {(hsize_t)(n < 65536 ? (n ? n : 1) : 65536)};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t pl = chunked_plist(r, 1, chunk);
  r->book_ds = H5Dcreate2(r->base, "book", t, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  r->book_type = t;
  H5Pclose(pl);
  H5Sclose(sp);
  if (r->book_ds < 0) return h5fail(h, err, "create /book");
  attr_str(r->book_ds, "margin_model", margin_model);
  attr_str(r->book_ds, "strategies", "-1 perp only, 0 naked short call, 1 naked short put, 2 short strangle, "
                                     "3 covered call, 4 protective put, 5 long straddle");
  attr_str(r->book_ds, "meaning", r->cfg->book.resample == MS_RESAMPLE_PER_PATH
                                      ? "the book of path 0 (book.resample: per_path), at the entry price"
                                      : "the book of every path, at the entry price");
  return MS_OK;
}

ms_status ms_h5out_write_book_rows(ms_h5out *h, int id, const ms_book_row *rows, int64_t first, int64_t count,
                                   ms_error *err) {
  h5run *r = &h->runs[id];
  if (count <= 0) return MS_OK;
  hsize_t start[1] = {(hsize_t)first}, cnt[1] = {(hsize_t)count};
  hid_t fs = H5Dget_space(r->book_ds), ms = H5Screate_simple(1, cnt, NULL);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
  herr_t rc = H5Dwrite(r->book_ds, r->book_type, ms, fs, H5P_DEFAULT, rows);
  H5Sclose(ms);
  H5Sclose(fs);
  return rc < 0 ? h5fail(h, err, "write /book") : MS_OK;
}

/* /stats/summary row in the file: name, then 8-byte fields. */
#define STAT_NAME 64
typedef struct {
  char name[STAT_NAME];
  int64_t n;
  double mean, mean_lo, mean_hi, sd, min, max;
  double q[MS_NQUANT][3];  /* value, lo, hi */
  double es99, es99_lo, es99_hi, es01, es01_lo, es01_hi;
  char risky_side[8];      /* "high" or "low" */
} stat_rec;

typedef struct {
  char name[STAT_NAME];
  char definition[128];
  int64_t k, n;
  double p, lo, hi;
} prob_rec;

static hid_t str_type(size_t n) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, n);
  return t;
}

/* The compound types of /stats/summary and /stats/probabilities. */
static hid_t stat_type(void) {
  const char *const *qn = ms_stats_quantile_names;
  hid_t s64 = str_type(STAT_NAME), s8 = str_type(8);
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(stat_rec));
  H5Tinsert(t, "name", offsetof(stat_rec, name), s64);
  H5Tinsert(t, "n", offsetof(stat_rec, n), H5T_NATIVE_INT64);
  H5Tinsert(t, "mean", offsetof(stat_rec, mean), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "mean_lo", offsetof(stat_rec, mean_lo), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "mean_hi", offsetof(stat_rec, mean_hi), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "sd", offsetof(stat_rec, sd), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "min", offsetof(stat_rec, min), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "max", offsetof(stat_rec, max), H5T_NATIVE_DOUBLE);
  for (int j = 0; j < MS_NQUANT; j++) {
    char nm[32];
    size_t base = offsetof(stat_rec, q) + (size_t)j * 3 * sizeof(double);
    H5Tinsert(t, qn[j], base, H5T_NATIVE_DOUBLE);
    snprintf(nm, sizeof nm, "%s_lo", qn[j]);
    H5Tinsert(t, nm, base + sizeof(double), H5T_NATIVE_DOUBLE);
    snprintf(nm, sizeof nm, "%s_hi", qn[j]);
    H5Tinsert(t, nm, base + 2 * sizeof(double), H5T_NATIVE_DOUBLE);
  }
  H5Tinsert(t, "es99", offsetof(stat_rec, es99), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "es99_lo", offsetof(stat_rec, es99_lo), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "es99_hi", offsetof(stat_rec, es99_hi), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "es01", offsetof(stat_rec, es01), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "es01_lo", offsetof(stat_rec, es01_lo), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "es01_hi", offsetof(stat_rec, es01_hi), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "risky_side", offsetof(stat_rec, risky_side), s8);
  H5Tclose(s64);
  H5Tclose(s8);
  return t;
}

static hid_t prob_type(void) {
  hid_t s64 = str_type(STAT_NAME), s128 = str_type(128);
  hid_t pt = H5Tcreate(H5T_COMPOUND, sizeof(prob_rec));
  H5Tinsert(pt, "name", offsetof(prob_rec, name), s64);
  H5Tinsert(pt, "definition", offsetof(prob_rec, definition), s128);
  H5Tinsert(pt, "k", offsetof(prob_rec, k), H5T_NATIVE_INT64);
  H5Tinsert(pt, "n", offsetof(prob_rec, n), H5T_NATIVE_INT64);
  H5Tinsert(pt, "p", offsetof(prob_rec, p), H5T_NATIVE_DOUBLE);
  H5Tinsert(pt, "lo", offsetof(prob_rec, lo), H5T_NATIVE_DOUBLE);
  H5Tinsert(pt, "hi", offsetof(prob_rec, hi), H5T_NATIVE_DOUBLE);
  H5Tclose(s64);
  H5Tclose(s128);
  return pt;
}

static void fill_stats(const ms_stats *st, stat_rec *recs, prob_rec *prs) {
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
                          const void *data, const char *meaning) {
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t ds = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t total = 1;
  for (int i = 0; i < rank; i++) total *= dims[i];
  int rc = ds < 0 || (total > 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0);
  if (ds >= 0) {
    if (meaning) rc |= attr_str(ds, "meaning", meaning);
    H5Dclose(ds);
  }
  H5Sclose(sp);
  return rc;
}

static int write_table(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data,
                       const char *meaning) {
  return write_table_as(loc, name, type, type, rank, dims, data, meaning);
}

#define STATS_MEANING                                                                                   \
  "per summary column: n finite values, mean with bootstrap-t 95% interval, sd, min, max, quantiles with " \
  "distribution-free 95% intervals, es99 / es01 = mean of the largest / smallest 1% with percentile-bootstrap " \
  "95% intervals, risky_side = the tail to read (high or low); see docs/output.md"
#define PROBS_MEANING "k of n paths; p = k/n with a Wilson 95% interval [lo, hi]"

/* /stats/feedback row in the file. */
typedef struct {
  char statistic[STAT_NAME];
  int64_t n;
  double with_impact, no_impact, diff, lo, hi;
} feedback_rec;

#define FEEDBACK_MEANING                                                                                  \
  "what the feedback loop causes: per path, the run's value minus its no-feedback twin's (the same path, " \
  "book and draws with market.impact.model none); means with and without, the mean difference and its "   \
  "95% interval [lo, hi]"

static ms_status write_feedback(ms_h5out *h, hid_t g, const ms_stats *st, int ncells, int by_cell, ms_error *err) {
  int nf = st[0].nfeedback;
  feedback_rec *f = calloc((size_t)(ncells * nf), sizeof *f);
  if (!f) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  for (int c = 0; c < ncells; c++)
    for (int i = 0; i < nf && i < st[c].nfeedback; i++) {
      const ms_diff_row *d = &st[c].feedback[i];
      feedback_rec *r = &f[c * nf + i];
      *r = (feedback_rec){.n = d->n, .with_impact = d->other, .no_impact = d->baseline, .diff = d->diff,
                          .lo = d->lo, .hi = d->hi};
      snprintf(r->statistic, STAT_NAME, "%s", d->name);
    }
  hid_t s64 = str_type(STAT_NAME), t = H5Tcreate(H5T_COMPOUND, sizeof(feedback_rec));
  H5Tinsert(t, "statistic", offsetof(feedback_rec, statistic), s64);
  H5Tinsert(t, "n", offsetof(feedback_rec, n), H5T_NATIVE_INT64);
  H5Tinsert(t, "with_impact", offsetof(feedback_rec, with_impact), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "no_impact", offsetof(feedback_rec, no_impact), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "diff", offsetof(feedback_rec, diff), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "lo", offsetof(feedback_rec, lo), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "hi", offsetof(feedback_rec, hi), H5T_NATIVE_DOUBLE);
  hsize_t d[2] = {(hsize_t)ncells, (hsize_t)nf};
  if (!by_cell) d[0] = (hsize_t)nf;
  ms_status s = write_table(g, "feedback", t, by_cell ? 2 : 1, d, f, FEEDBACK_MEANING)
                    ? h5fail(h, err, "write stats/feedback") : MS_OK;
  H5Tclose(t);
  H5Tclose(s64);
  free(f);
  return s;
}

/* /stats of one ms_stats, or of @p ncells of them as (cell, row) tables. */
static ms_status write_stats_at(ms_h5out *h, hid_t loc, const ms_stats *st, int ncells, int by_cell, ms_error *err) {
  hid_t g = H5Gcreate2(loc, "stats", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return h5fail(h, err, "create a stats group");
  int nr = st[0].nrows, np = st[0].nprob;
  stat_rec *recs = calloc((size_t)(ncells * nr + 1), sizeof *recs);
  prob_rec *prs = calloc((size_t)(ncells * np + 1), sizeof *prs);
  hid_t t = stat_type(), pt = prob_type();
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
  if (!s && write_table(g, "summary", t, rank, d1, recs, STATS_MEANING)) s = h5fail(h, err, "write stats/summary");
  if (!s && write_table(g, "probabilities", pt, rank, d2, prs, PROBS_MEANING))
    s = h5fail(h, err, "write stats/probabilities");
  if (!s && st[0].nfeedback > 0) s = write_feedback(h, g, st, ncells, by_cell, err);
  free(recs);
  free(prs);
  H5Tclose(t);
  H5Tclose(pt);
  H5Gclose(g);
  return s;
}

ms_status ms_h5out_write_stats(ms_h5out *h, int id, const ms_stats *st, ms_error *err) {
  return write_stats_at(h, h->runs[id].base, st, 1, 0, err);
}

/* ---- paired differences: /compare/differences and /sweep/differences ----
 * One record and one fill for both tables; each table is a list of fields
 * (its published names and order, docs/output.md) over that record. The file
 * type packs the listed fields in that order, as each table always has. */
typedef struct {
  char statistic[STAT_NAME];
  char model[STAT_NAME];     /* --compare only: the value compared, and the first value */
  char baseline[STAT_NAME];
  int64_t n, probability;
  double baseline_mean, other_mean, diff, lo, hi, unpaired_lo, unpaired_hi;
} diff_rec;

typedef enum { DIFF_STR, DIFF_I64, DIFF_F64 } diff_kind;

/* Every field either table may hold: its name in the file, where it is in
 * diff_rec, its type. model_mean (--compare) and cell_mean (sweeps) are the
 * same member under each table's published name. */
static const struct {
  const char *name;
  size_t offset;
  diff_kind kind;
} diff_fields[] = {
    {"statistic", offsetof(diff_rec, statistic), DIFF_STR},
    {"model", offsetof(diff_rec, model), DIFF_STR},
    {"baseline", offsetof(diff_rec, baseline), DIFF_STR},
    {"n", offsetof(diff_rec, n), DIFF_I64},
    {"probability", offsetof(diff_rec, probability), DIFF_I64},
    {"baseline_mean", offsetof(diff_rec, baseline_mean), DIFF_F64},
    {"model_mean", offsetof(diff_rec, other_mean), DIFF_F64},
    {"cell_mean", offsetof(diff_rec, other_mean), DIFF_F64},
    {"diff", offsetof(diff_rec, diff), DIFF_F64},
    {"lo", offsetof(diff_rec, lo), DIFF_F64},
    {"hi", offsetof(diff_rec, hi), DIFF_F64},
    {"unpaired_lo", offsetof(diff_rec, unpaired_lo), DIFF_F64},
    {"unpaired_hi", offsetof(diff_rec, unpaired_hi), DIFF_F64},
};

/* Each table's fields in its file order (docs/output.md); NULL ends a list. */
static const char *const compare_diff_table[] = {"statistic", "model", "baseline", "n", "probability",
                                                 "baseline_mean", "model_mean", "diff", "lo", "hi", NULL};
static const char *const sweep_diff_table[] = {"statistic", "probability", "n", "baseline_mean", "cell_mean", "diff",
                                               "lo", "hi", "unpaired_lo", "unpaired_hi", NULL};

/* One difference row; @p model and @p baseline name the runs (NULL in a sweep,
 * whose table has no such fields). */
static void fill_diff(diff_rec *d, const ms_diff_row *r, const char *model, const char *baseline) {
  *d = (diff_rec){.n = r->n, .probability = r->probability, .baseline_mean = r->baseline, .other_mean = r->other,
                  .diff = r->diff, .lo = r->lo, .hi = r->hi, .unpaired_lo = r->unpaired_lo,
                  .unpaired_hi = r->unpaired_hi};
  snprintf(d->statistic, STAT_NAME, "%s", r->name);
  if (model) snprintf(d->model, STAT_NAME, "%s", model);
  if (baseline) snprintf(d->baseline, STAT_NAME, "%s", baseline);
}

/* The compound type of @p table: in memory (offsets in diff_rec) when
 * @p memory, else the file's (the fields packed in order, as each table
 * has always been laid out). */
static hid_t diff_type(const char *const *table, int memory) {
  size_t f[sizeof diff_fields / sizeof diff_fields[0]], n = 0, size = 0, at = 0;
  for (; table[n]; n++) {  /* the tables name only fields of diff_fields */
    for (f[n] = 0; strcmp(diff_fields[f[n]].name, table[n]) != 0; f[n]++) {}
    size += diff_fields[f[n]].kind == DIFF_STR ? STAT_NAME : 8;
  }
  hid_t s64 = str_type(STAT_NAME), t = H5Tcreate(H5T_COMPOUND, memory ? sizeof(diff_rec) : size);
  for (size_t i = 0; i < n; i++) {
    diff_kind k = diff_fields[f[i]].kind;
    H5Tinsert(t, table[i], memory ? diff_fields[f[i]].offset : at,
              k == DIFF_STR ? s64 : k == DIFF_I64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE);
    at += k == DIFF_STR ? STAT_NAME : 8;
  }
  H5Tclose(s64);
  return t;
}

/* Write @p d as the difference table @p table, dataset "differences" of @p g. */
static int write_diffs(hid_t g, const char *const *table, int rank, const hsize_t *dims, const diff_rec *d,
                       const char *meaning) {
  hid_t ft = diff_type(table, 0), mt = diff_type(table, 1);
  int rc = write_table_as(g, "differences", ft, mt, rank, dims, d, meaning);
  H5Tclose(mt);
  H5Tclose(ft);
  return rc;
}

typedef struct {
  char model[STAT_NAME];
  double initial_margin, risk, im_per_risk;
  double bad_debt_mean, insolvency_p, insolvency_lo, insolvency_hi;
  double liquidations_mean, largest_cascade_notional_mean;
} eff_rec;

ms_status ms_h5out_write_compare(ms_h5out *h, const ms_compare_report *rep, ms_error *err) {
  hid_t g = H5Gcreate2(h->file, "compare", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return h5fail(h, err, "create /compare");
  hid_t s64 = H5Tcopy(H5T_C_S1);
  H5Tset_size(s64, STAT_NAME);
  int nd = (rep->ncells - 1) * rep->ndiffs;
  diff_rec *d = calloc((size_t)(nd ? nd : 1), sizeof *d);
  eff_rec *e = calloc((size_t)rep->ncells, sizeof *e);
  ms_status s = MS_OK;
  if (!d || !e) { s = ms_error_set(err, MS_ERR_NOMEM, "out of memory"); goto out; }
  int k = 0;
  for (int c = 1; c < rep->ncells; c++)
    for (int j = 0; j < rep->ndiffs; j++, k++) fill_diff(&d[k], &rep->diffs[c][j], rep->values[c], rep->values[0]);
  hsize_t dims[1] = {(hsize_t)nd};
  int rc = write_diffs(g, compare_diff_table, 1, dims, d,
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
  hid_t et = H5Tcreate(H5T_COMPOUND, sizeof(eff_rec));
  H5Tinsert(et, "model", HOFFSET(eff_rec, model), s64);
  H5Tinsert(et, "initial_margin", HOFFSET(eff_rec, initial_margin), H5T_NATIVE_DOUBLE);
  H5Tinsert(et, "risk", HOFFSET(eff_rec, risk), H5T_NATIVE_DOUBLE);
  H5Tinsert(et, "im_per_risk", HOFFSET(eff_rec, im_per_risk), H5T_NATIVE_DOUBLE);
  H5Tinsert(et, "bad_debt_mean", HOFFSET(eff_rec, bad_debt_mean), H5T_NATIVE_DOUBLE);
  H5Tinsert(et, "insolvency_p", HOFFSET(eff_rec, insolvency_p), H5T_NATIVE_DOUBLE);
  H5Tinsert(et, "insolvency_lo", HOFFSET(eff_rec, insolvency_lo), H5T_NATIVE_DOUBLE);
  H5Tinsert(et, "insolvency_hi", HOFFSET(eff_rec, insolvency_hi), H5T_NATIVE_DOUBLE);
  H5Tinsert(et, "liquidations_mean", HOFFSET(eff_rec, liquidations_mean), H5T_NATIVE_DOUBLE);
  H5Tinsert(et, "largest_cascade_notional_mean", HOFFSET(eff_rec, largest_cascade_notional_mean), H5T_NATIVE_DOUBLE);
  dims[0] = (hsize_t)rep->ncells;
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t ds = H5Dcreate2(g, "models", et, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  rc = ds < 0 || H5Dwrite(ds, et, H5S_ALL, H5S_ALL, H5P_DEFAULT, e) < 0;
  if (ds >= 0) {
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
  H5Tclose(s64);
  H5Gclose(g);
  return s;
}

/* ---- assertions and sweeps ---- */

typedef struct {
  char assertion[256];
  char statistic[MS_STAT_NAME_MAX];
  char op[4];
  double threshold, confidence, value, lo, hi;
  int64_t passed;
  char where[256];
} assert_rec;

static hid_t assert_type(void) {
  hid_t s256 = str_type(256), s64 = str_type(MS_STAT_NAME_MAX), s4 = str_type(4);
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(assert_rec));
  H5Tinsert(t, "assertion", HOFFSET(assert_rec, assertion), s256);
  H5Tinsert(t, "statistic", HOFFSET(assert_rec, statistic), s64);
  H5Tinsert(t, "op", HOFFSET(assert_rec, op), s4);
  H5Tinsert(t, "threshold", HOFFSET(assert_rec, threshold), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "confidence", HOFFSET(assert_rec, confidence), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "value", HOFFSET(assert_rec, value), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "lo", HOFFSET(assert_rec, lo), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "hi", HOFFSET(assert_rec, hi), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "passed", HOFFSET(assert_rec, passed), H5T_NATIVE_INT64);
  H5Tinsert(t, "where", HOFFSET(assert_rec, where), s256);
  H5Tclose(s256);
  H5Tclose(s64);
  H5Tclose(s4);
  return t;
}

ms_status ms_h5out_write_assertions(ms_h5out *h, int id, const ms_assert_result *r, int n, ms_error *err) {
  if (n <= 0) return MS_OK;
  assert_rec *v = calloc((size_t)n, sizeof *v);
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
  hid_t t = assert_type();
  hsize_t dims[1] = {(hsize_t)n};
  int rc = write_table(h->runs[id].base, "assertions", t, 1, dims, v,
                       "the scenario's assertions: value and interval (at confidence, or 95% when 0) of the "
                       "statistic, passed = 1 when it holds");
  H5Tclose(t);
  free(v);
  return rc ? h5fail(h, err, "write assertions") : MS_OK;
}

typedef struct {
  int64_t cell;
  char label[256];
} cell_rec;

ms_status ms_h5out_write_sweep(ms_h5out *h, const ms_h5_sweep *sw, ms_error *err) {
  hid_t g = open_group(h->file, "sweep");
  if (g < 0) return h5fail(h, err, "create /sweep");
  ms_status s = MS_OK;
  int64_t base = sw->baseline;
  if (attr_num(g, "baseline", H5T_NATIVE_INT64, &base)) s = h5fail(h, err, "write /sweep attributes");
  /* axes */
  hid_t ga = s ? H5I_INVALID_HID : H5Gcreate2(g, "axes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (!s && ga < 0) s = h5fail(h, err, "create /sweep/axes");
  for (int a = 0; !s && a < sw->naxes; a++) {
    const ms_h5_sweep_axis *ax = &sw->axes[a];
    char nm[16];
    snprintf(nm, sizeof nm, "%d", a);
    hid_t gx = H5Gcreate2(ga, nm, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
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
  cell_rec *cr = s ? NULL : calloc((size_t)sw->ncells, sizeof *cr);
  if (!s && !cr) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  int64_t *idx = s ? NULL : calloc((size_t)sw->ncells * (size_t)sw->naxes + 1, sizeof *idx);
  if (!s && !idx) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  if (!s) {
    for (int c = 0; c < sw->ncells; c++) {
      cr[c].cell = c;
      snprintf(cr[c].label, sizeof cr[c].label, "%s", sw->labels + (size_t)c * sw->label_size);
      for (int a = 0; a < sw->naxes; a++) idx[c * sw->naxes + a] = sw->index[c * sw->naxes + a];
    }
    hid_t s256 = str_type(256), t = H5Tcreate(H5T_COMPOUND, sizeof(cell_rec));
    H5Tinsert(t, "cell", HOFFSET(cell_rec, cell), H5T_NATIVE_INT64);
    H5Tinsert(t, "label", HOFFSET(cell_rec, label), s256);
    hsize_t d1[1] = {(hsize_t)sw->ncells}, d2[2] = {(hsize_t)sw->ncells, (hsize_t)sw->naxes};
    int rc = write_table(g, "cells", t, 1, d1, cr, "one row per cell, in cartesian order (the last axis fastest); "
                                                   "its run is /sweep/runs/<cell>") ||
             write_table(g, "index", H5T_NATIVE_INT64, 2, d2, idx, "[cell, axis]: the index of the cell's value on "
                                                                   "each axis (/sweep/axes/<axis>/values)");
    H5Tclose(t);
    H5Tclose(s256);
    if (rc) s = h5fail(h, err, "write /sweep/cells");
  }
  free(cr);
  free(idx);
  if (!s) s = write_stats_at(h, g, sw->stats, sw->ncells, 1, err);
  /* paired differences */
  diff_rec *dr = s ? NULL : calloc((size_t)sw->ncells * (size_t)sw->ndiffs + 1, sizeof *dr);
  if (!s && !dr) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  if (!s) {
    for (size_t k = 0; k < (size_t)sw->ncells * (size_t)sw->ndiffs; k++) fill_diff(&dr[k], &sw->diffs[k], NULL, NULL);
    hsize_t d[2] = {(hsize_t)sw->ncells, (hsize_t)sw->ndiffs};
    int rc = write_diffs(g, sweep_diff_table, 2, d, dr,
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
  if (H5Eget_auto2(H5E_DEFAULT, &fn, &data) >= 0 && data == h) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  free(h->pack);
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
