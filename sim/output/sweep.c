/*
 * sweep — axes, cells and their configurations (see sweep.h).
 *
 * A cell's configuration is the scenario with the command line's --set
 * applied, then one --set per axis (KEY=its value in that cell), loaded and
 * validated by the scenario loader like any other: a value the loader
 * rejects is reported with the axis and the value.
 */
#include "output/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/stats.h"
#include "core/units.h"

void ms_sweep_axis_clear(ms_sweep_axis *ax) {
  free(ax->values);
  free(ax->numeric);
  ax->values = NULL;
  ax->numeric = NULL;
  ax->n = 0;
}

/* The value as a number: plain, a duration (in s) or a rate (per day). */
static double numeric_of(const char *v) {
  double x;
  int64_t ms;
  if (ms_units_parse_number(v, &x) == 0) return x;
  if (ms_units_parse_duration(v, &ms) == 0) return (double)ms / 1000.0;
  if (ms_units_parse_rate(v, &x) == 0) return x;
  return NAN;
}

static ms_status add_value(ms_sweep_axis *ax, const char *v, size_t len, const char *opt, const char *spec,
                           ms_error *err) {
  while (len > 0 && (*v == ' ' || *v == '\t')) { v++; len--; }
  while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
  if (len == 0) return ms_error_set(err, MS_ERR_INPUT, "%s %s: an empty value", opt, spec);
  if (len >= MS_SWEEP_VALUE)
    return ms_error_set(err, MS_ERR_INPUT, "%s %s: a value longer than %d characters", opt, spec, MS_SWEEP_VALUE - 1);
  if (ax->n >= MS_SWEEP_MAX_VALUES)
    return ms_error_set(err, MS_ERR_INPUT, "%s %s: more than %d values", opt, spec, MS_SWEEP_MAX_VALUES);
  if (ax->n % 16 == 0) {
    void *nv = realloc(ax->values, (size_t)(ax->n + 16) * sizeof *ax->values);
    if (!nv) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    ax->values = nv;
    void *nn = realloc(ax->numeric, (size_t)(ax->n + 16) * sizeof *ax->numeric);
    if (!nn) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    ax->numeric = nn;
  }
  /* zero-filled: the file stores the whole fixed-length field, and the same sweep writes the same bytes */
  memset(ax->values[ax->n], 0, sizeof ax->values[ax->n]);
  memcpy(ax->values[ax->n], v, len);
  for (int i = 0; i < ax->n; i++)
    if (strcmp(ax->values[i], ax->values[ax->n]) == 0)
      return ms_error_set(err, MS_ERR_INPUT, "%s %s: value %s given twice", opt, spec, ax->values[i]);
  ax->numeric[ax->n] = numeric_of(ax->values[ax->n]);
  ax->n++;
  return MS_OK;
}

/* FROM:TO:STEP when the list is one item of three numbers or durations. */
static int parse_range(const char *v, double *a, double *b, double *st, int *durations) {
  char buf[MS_SWEEP_VALUE * 3];
  if (strlen(v) >= sizeof buf || strpbrk(v, "[]{},\"'")) return -1;
  snprintf(buf, sizeof buf, "%s", v);
  char *p1 = strchr(buf, ':'), *p2 = p1 ? strchr(p1 + 1, ':') : NULL;
  if (!p1 || !p2 || strchr(p2 + 1, ':')) return -1;
  *p1 = *p2 = '\0';
  const char *part[3] = {buf, p1 + 1, p2 + 1};
  double x[3];
  int nnum = 0, ndur = 0;
  for (int i = 0; i < 3; i++) {
    int64_t ms;
    if (ms_units_parse_number(part[i], &x[i]) == 0) nnum++;
    else if (ms_units_parse_duration(part[i], &ms) == 0) { x[i] = (double)ms; ndur++; }
    else return -2;
  }
  if (nnum != 3 && ndur != 3) return -3;
  *a = x[0];
  *b = x[1];
  *st = x[2];
  *durations = ndur == 3;
  return 0;
}

/* An axis of option @p opt ("--grid", "--compare"); a range only when @p ranges. */
static ms_status parse_axis(const char *opt, int ranges, const char *spec, ms_sweep_axis *ax, ms_error *err) {
  memset(ax, 0, sizeof *ax);
  const char *eq = strchr(spec, '=');
  if (!eq || eq == spec || !eq[1])
    return ranges ? ms_error_set(err, MS_ERR_INPUT, "%s %s: expected KEY=V1,V2,... or KEY=FROM:TO:STEP, e.g. "
                                 "%s margin.maintenance=0.01:0.05:0.01", opt, spec, opt)
                  : ms_error_set(err, MS_ERR_INPUT, "%s %s: expected KEY=V1,V2,... e.g. %s "
                                 "margin.model=static,portfolio", opt, spec, opt);
  if ((size_t)(eq - spec) >= sizeof ax->key) return ms_error_set(err, MS_ERR_INPUT, "%s %s: key too long", opt, spec);
  memcpy(ax->key, spec, (size_t)(eq - spec));
  ax->key[eq - spec] = '\0';
  const char *vals = eq + 1;
  double a = 0, b = 0, st = 0;
  int dur = 0, rc = ranges ? parse_range(vals, &a, &b, &st, &dur) : -1;
  ms_status s = MS_OK;
  if (rc == -2 || rc == -3) {
    s = ms_error_set(err, MS_ERR_INPUT, "%s %s: FROM:TO:STEP needs three numbers or three durations with "
                     "units (e.g. 0.01:0.05:0.01, 1m:10m:1m)", opt, spec);
  } else if (rc == 0) {
    double span = (b - a) / st;
    if (!(st != 0) || !isfinite(span) || span < -1e-9)
      s = ms_error_set(err, MS_ERR_INPUT, "%s %s: STEP must be non-zero and lead from FROM to TO", opt, spec);
    else if (span > MS_SWEEP_MAX_VALUES)
      s = ms_error_set(err, MS_ERR_INPUT, "%s %s: more than %d values", opt, spec, MS_SWEEP_MAX_VALUES);
    /* Values are FROM + i STEP, written with 12 significant digits so that
     * 0.1 + 2 x 0.1 reads 0.3; TO counts when within 1e-9 steps of one. */
    int count = s ? 0 : (int)floor(span + 1e-9) + 1;
    for (int i = 0; !s && i < count; i++) {
      char v[64];
      double x = a + (double)i * st;
      if (dur) ms_units_format_duration((int64_t)llround(x), v, sizeof v);
      else snprintf(v, sizeof v, "%.12g", fabs(x) < 1e-15 * fabs(st) ? 0.0 : x);
      s = add_value(ax, v, strlen(v), opt, spec, err);
    }
  } else {
    int depth = 0;
    char quote = 0;
    const char *start = vals;
    for (const char *p = vals;; p++) {
      char ch = *p;
      if (quote) { if (ch == quote) quote = 0; if (ch) continue; }
      if (ch == '"' || ch == '\'') { quote = ch; continue; }
      if (ch == '[' || ch == '{') depth++;
      if (ch == ']' || ch == '}') depth--;
      if (ch == '\0' || (ch == ',' && depth == 0)) {
        s = add_value(ax, start, (size_t)(p - start), opt, spec, err);
        if (s || ch == '\0') break;
        start = p + 1;
      }
    }
  }
  if (s) ms_sweep_axis_clear(ax);
  return s;
}

ms_status ms_sweep_parse_axis(const char *spec, ms_sweep_axis *ax, ms_error *err) {
  return parse_axis("--grid", 1, spec, ax, err);
}

ms_status ms_sweep_parse_list(const char *opt, const char *spec, ms_sweep_axis *ax, ms_error *err) {
  return parse_axis(opt, 0, spec, ax, err);
}

/* Keys a sweep may not vary: the pairing needs the same paths and seed. */
static ms_status check_key(const char *opt, const char *key, ms_error *err) {
  static const char *const fixed[] = {"seed", "paths", "sweep", "assertions", NULL};
  for (int i = 0; fixed[i]; i++) {
    size_t n = strlen(fixed[i]);
    if (strncmp(key, fixed[i], n) == 0 && (key[n] == '\0' || key[n] == '.' || key[n] == '['))
      return ms_error_set(err, MS_ERR_INPUT,
                          "%s %s: a sweep cannot vary '%s' (every cell runs on the same paths and seed, "
                          "so that the cells are paired; use -n and --seed for the whole sweep)", opt, key, fixed[i]);
  }
  return MS_OK;
}

/* Whether key path @p inner lies inside key path @p outer (margin.initial in margin, regimes[1].vol in regimes). */
static int key_within(const char *outer, const char *inner) {
  size_t n = strlen(outer);
  return strncmp(inner, outer, n) == 0 && (inner[n] == '.' || inner[n] == '[');
}

static const char *const default_show[] = {"insolvency.probability", "bad_debt.mean", "bad_debt.q99",
                                           "liquidated_notional.mean", "largest_cascade_notional.q99",
                                           "amplification.mean", NULL};

static ms_status parse_show(ms_sweep *sw, const ms_config *base, const char *show, ms_error *err) {
  sw->nshow = 0;
  if (show) {
    char buf[MS_MAX_SHOW * MS_STAT_NAME_MAX];
    /* nothing cut short in silence: the list, a name, or a list naming nothing */
    if (strlen(show) >= sizeof buf)
      return ms_error_set(err, MS_ERR_INPUT, "--show: at most %d statistics of at most %d characters each",
                          MS_MAX_SHOW, MS_STAT_NAME_MAX - 1);
    snprintf(buf, sizeof buf, "%s", show);
    char *save = NULL;
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
      if (sw->nshow == MS_MAX_SHOW) return ms_error_set(err, MS_ERR_INPUT, "--show: at most %d statistics", MS_MAX_SHOW);
      if (strlen(t) >= MS_STAT_NAME_MAX)
        return ms_error_set(err, MS_ERR_INPUT, "--show %.40s...: a statistic's name has at most %d characters", t,
                            MS_STAT_NAME_MAX - 1);
      snprintf(sw->show[sw->nshow++], MS_STAT_NAME_MAX, "%s", t);
    }
    if (sw->nshow == 0)
      return ms_error_set(err, MS_ERR_INPUT, "--show '%s': names no statistic (a list such as bad_debt.q99,insolvency.probability)",
                          show);
  } else if (base->sweep.nshow > 0) {
    for (int i = 0; i < base->sweep.nshow; i++) snprintf(sw->show[sw->nshow++], MS_STAT_NAME_MAX, "%s", base->sweep.show[i]);
  } else {
    /* the defaults this run has: amplification needs stats.counterfactual */
    char msg[3072];
    for (int i = 0; default_show[i]; i++)
      if (ms_stats_known(base, default_show[i], msg, sizeof msg) == 0)
        snprintf(sw->show[sw->nshow++], MS_STAT_NAME_MAX, "%s", default_show[i]);
  }
  for (int i = 0; i < sw->nshow; i++) {
    char msg[3072];
    if (ms_stats_known(base, sw->show[i], msg, sizeof msg))
      return ms_error_set(err, MS_ERR_INPUT, "%s %s: %s", show ? "--show" : "sweep.show", sw->show[i], msg);
  }
  return MS_OK;
}

/* "KEY=V,KEY2=V2": each key an axis, each value one of its values (as
 * written, or the same number); axes not named take their first value. */
static ms_status parse_baseline(ms_sweep *sw, const char *spec, const char *what, ms_error *err) {
  int idx[MS_MAX_GRID] = {0};
  sw->baseline = 0;
  if (!spec || !spec[0]) return MS_OK;
  ms_sweep_axis tmp;
  char one[MS_GRID_TEXT + 8];
  /* Split at top-level commas that start a new KEY=. */
  const char *p = spec;
  while (*p) {
    const char *q = p, *next = NULL;
    int depth = 0;
    for (; *q; q++) {
      if (*q == '[' || *q == '{') depth++;
      if (*q == ']' || *q == '}') depth--;
      if (*q == ',' && depth == 0) {
        const char *r = q + 1;
        while (*r && *r != ',' && *r != '=') r++;
        if (*r == '=') { next = q + 1; break; }
      }
    }
    snprintf(one, sizeof one, "%.*s", (int)(q - p), p);
    ms_status s = ms_sweep_parse_axis(one, &tmp, err);
    if (s) return ms_error_set(err, MS_ERR_INPUT, "%s %s: expected KEY=VALUE,... naming axes of the sweep", what, spec);
    int a = -1;
    for (int i = 0; i < sw->naxes; i++)
      if (strcmp(sw->axes[i].key, tmp.key) == 0) a = i;
    if (a < 0 || tmp.n != 1) {
      ms_sweep_axis_clear(&tmp);
      return ms_error_set(err, MS_ERR_INPUT, "%s %s: '%s' is not an axis of the sweep or has more than one value",
                          what, spec, one);
    }
    int v = -1;
    for (int i = 0; i < sw->axes[a].n && v < 0; i++)
      if (strcmp(sw->axes[a].values[i], tmp.values[0]) == 0) v = i;
    for (int i = 0; i < sw->axes[a].n && v < 0; i++)
      if (!isnan(tmp.numeric[0]) && sw->axes[a].numeric[i] == tmp.numeric[0]) v = i;
    if (v < 0) {
      ms_error_set(err, MS_ERR_INPUT, "%s %s: %s is not one of the values of axis %s", what, spec, tmp.values[0],
                   sw->axes[a].key);
      ms_sweep_axis_clear(&tmp);
      return MS_ERR_INPUT;
    }
    ms_sweep_axis_clear(&tmp);
    idx[a] = v;
    if (!next) break;
    p = next;
  }
  int cell = 0;
  for (int i = 0; i < sw->naxes; i++) cell = cell * sw->axes[i].n + idx[i];
  sw->baseline = cell;
  return MS_OK;
}

/* Error @p s (in *@p err) of the scenario's own sweep section: led by where
 * the file has entry @p at (ms_sweep_cfg.at) and, when @p key, "KEY[i]: " (i
 * = @p index, none when < 0); as it was when the file does not have it. */
static ms_status in_file(const ms_config *base, int at, const char *key, int index, ms_status s, ms_error *err) {
  if (at < 0 || at >= MS_MAX_GRID + 2 || base->sweep.at[at][0] <= 0) return s;
  ms_error e = *err;
  char k[48] = "";
  if (key && index >= 0) snprintf(k, sizeof k, "%s[%d]: ", key, index);
  else if (key) snprintf(k, sizeof k, "%s: ", key);
  return ms_error_set(err, s, "%s:%d:%d: %s%s", base->source_path, base->sweep.at[at][0], base->sweep.at[at][1], k,
                      e.msg);
}

ms_status ms_sweep_new(ms_sweep **out, const char *path, const char *const *sets, int nsets,
                       const char *const *grids, int ngrids, const char *baseline, const char *show,
                       ms_error *err) {
  *out = NULL;
  ms_config *base = NULL;
  ms_status s = ms_config_load(&base, path, sets, nsets, err);
  if (s) return s;
  ms_sweep *sw = calloc(1, sizeof *sw);
  if (!sw) { ms_config_free(base); return ms_error_set(err, MS_ERR_NOMEM, "out of memory"); }
  const char *from_cfg[MS_MAX_GRID];
  int from_file = ngrids == 0;
  if (from_file) {
    for (int i = 0; i < base->sweep.ngrid; i++) from_cfg[i] = base->sweep.grid[i];
    grids = from_cfg;
    ngrids = base->sweep.ngrid;
    if (!baseline) baseline = base->sweep.baseline;
  }
  if (ngrids == 0)
    s = ms_error_set(err, MS_ERR_INPUT, "%s: nothing to sweep: give --grid KEY=V1,V2,... or the scenario's "
                     "sweep.grid", path);
  if (!s && ngrids > MS_MAX_GRID) s = ms_error_set(err, MS_ERR_INPUT, "--grid: at most %d axes", MS_MAX_GRID);
  long long ncells = 1;
  int bad_axis = -1;
  const char *gopt = from_file ? "sweep.grid" : "--grid";
  for (int i = 0; !s && i < ngrids; i++) {
    bad_axis = i;
    s = parse_axis(gopt, 1, grids[i], &sw->axes[i], err);
    if (!s) sw->naxes = i + 1;
    if (!s) s = check_key(gopt, sw->axes[i].key, err);
    for (int j = 0; !s && j < i; j++) {
      const char *ki = sw->axes[i].key, *kj = sw->axes[j].key;
      if (strcmp(kj, ki) == 0)
        s = ms_error_set(err, MS_ERR_INPUT, "%s %s: axis %s given twice", gopt, grids[i], ki);
      else if (key_within(kj, ki) || key_within(ki, kj))
        /* the later axis's --set would replace (or be replaced by) the other's value in every cell, and
         * the cells would be labelled with values they do not run */
        s = ms_error_set(err, MS_ERR_INPUT, "%s %s: axis %s contains axis %s (one would override the other "
                         "in every cell); vary each key once", gopt, grids[i], key_within(kj, ki) ? kj : ki,
                         key_within(kj, ki) ? ki : kj);
    }
    if (!s) ncells *= sw->axes[i].n;
    if (!s && ncells > MS_SWEEP_MAX_CELLS)
      s = ms_error_set(err, MS_ERR_INPUT, "%s: %lld cells or more; a sweep has at most %d", gopt, ncells,
                       MS_SWEEP_MAX_CELLS);
  }
  /* (the messages name "sweep.grid SPEC" already: only the place is added) */
  if (s && from_file && base->sweep.ngrid > 0) s = in_file(base, bad_axis, NULL, -1, s, err);
  if (!s) {
    s = parse_show(sw, base, show, err);
    if (s && !show) s = in_file(base, MS_MAX_GRID + 1, NULL, -1, s, err);
  }
  if (!s) {
    sw->ncells = (int)ncells;
    sw->index = calloc((size_t)ncells * (size_t)sw->naxes, sizeof *sw->index);
    sw->cfgs = calloc((size_t)ncells, sizeof *sw->cfgs);
    sw->labels = calloc((size_t)ncells, sizeof *sw->labels);
    if (!sw->index || !sw->cfgs || !sw->labels) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  }
  const char **all = s ? NULL : malloc((size_t)(nsets + sw->naxes) * sizeof *all);
  char (*axis_sets)[MS_GRID_TEXT] = s ? NULL : calloc((size_t)sw->naxes, sizeof *axis_sets);
  if (!s && (!all || !axis_sets)) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  for (int c = 0; !s && c < sw->ncells; c++) {
    int rem = c;
    for (int a = sw->naxes - 1; a >= 0; a--) {
      sw->index[c * sw->naxes + a] = rem % sw->axes[a].n;
      rem /= sw->axes[a].n;
    }
    size_t k = 0;
    for (int i = 0; i < nsets; i++) all[i] = sets[i];
    for (int a = 0; a < sw->naxes; a++) {
      const char *v = sw->axes[a].values[sw->index[c * sw->naxes + a]];
      snprintf(axis_sets[a], MS_GRID_TEXT, "%s=%s", sw->axes[a].key, v);
      all[nsets + a] = axis_sets[a];
      k += (size_t)snprintf(sw->labels[c] + k, MS_SWEEP_LABEL - k, "%s%s", a ? " " : "", axis_sets[a]);
      if (k >= MS_SWEEP_LABEL) k = MS_SWEEP_LABEL - 1;
    }
    s = ms_config_load(&sw->cfgs[c], path, all, nsets + sw->naxes, err);
    if (s) {
      ms_error e = *err;
      ms_error_set(err, s, "sweep cell %d (%s): %s", c, sw->labels[c], e.msg);
      /* an axis of the file's sweep.grid: named where the file has it, not as a --set the user never typed */
      for (int a = 0; from_file && a < sw->naxes && a < MS_MAX_GRID && base->sweep.at[a][0] > 0; a++) {
        char pre[MS_GRID_TEXT + 16];
        snprintf(pre, sizeof pre, "--set %s: ", axis_sets[a]);
        if (strncmp(e.msg, pre, strlen(pre)) != 0) continue;
        ms_error_set(err, s, "cell %d (%s): %s", c, sw->labels[c], e.msg + strlen(pre));
        s = in_file(base, a, "sweep.grid", a, s, err);
        break;
      }
    }
  }
  free(all);
  free(axis_sets);
  /* The cells' statistics are written side by side (/sweep), paired field
   * by field of the row under cell 0's names (a regime renamed in a cell is
   * the same field): a key that adds or removes fields (funding.enabled,
   * stats.counterfactual, the number of regimes) is refused here, before
   * any path runs. */
  ms_column c0[MS_MAX_COLUMNS], cc[MS_MAX_COLUMNS];
  int n0 = s ? 0 : ms_stats_columns(sw->cfgs[0], c0, MS_MAX_COLUMNS);
  for (int c = 1; !s && c < sw->ncells; c++) {
    int nc = ms_stats_columns(sw->cfgs[c], cc, MS_MAX_COLUMNS);
    const char *extra = NULL;
    for (int pass = 0; pass < 2 && !extra; pass++) { /* a field of one cell the other lacks, either way */
      const ms_column *a = pass ? cc : c0, *b = pass ? c0 : cc;
      int na = pass ? nc : n0, nb = pass ? n0 : nc;
      for (int i = 0; i < na && !extra; i++) {
        int found = 0;
        for (int j = 0; j < nb && !found; j++) found = ms_stats_same_field(&a[i], &b[j]);
        if (!found) extra = a[i].name;
      }
    }
    if (!extra) continue;
    s = ms_error_set(err, MS_ERR_INPUT,
                     "sweep cell %d (%s) and cell 0 (%s) have other statistics (%s is in one only): the cells of a "
                     "sweep must have the same statistics; funding.enabled, stats.counterfactual and the number of "
                     "regimes change them (compare such settings with `marginsim run --compare KEY=V1,V2`)",
                     c, sw->labels[c], sw->labels[0], extra);
  }
  if (!s) {
    int file_baseline = baseline == base->sweep.baseline; /* not a --baseline given beside the file's grid */
    s = parse_baseline(sw, baseline, file_baseline ? "sweep.baseline" : "--baseline", err);
    if (s && file_baseline) s = in_file(base, MS_MAX_GRID, NULL, -1, s, err);
  }
  ms_config_free(base);
  if (s) { ms_sweep_free(sw); return s; }
  *out = sw;
  return MS_OK;
}

void ms_sweep_free(ms_sweep *sw) {
  if (!sw) return;
  for (int i = 0; i < sw->naxes; i++) ms_sweep_axis_clear(&sw->axes[i]);
  if (sw->cfgs)
    for (int c = 0; c < sw->ncells; c++) ms_config_free(sw->cfgs[c]);
  free(sw->cfgs);
  free(sw->index);
  free(sw->labels);
  free(sw);
}
