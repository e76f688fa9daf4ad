/*
 * schema — the table-driven loader, checker, dumper and documenter of the
 * scenario configuration (see schema.h).
 *
 * Every message has the form "file:line:col: key.path: what is wrong (got X)"
 * and, for unknown keys, lists the known keys of that section.
 */
#include "config/schema.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/rng.h"
#include "core/units.h"

/* ------------------------------------------------------------------ helpers */

#define AT(obj, off, type) ((type *)((char *)(obj) + (off)))
#define CAT(obj, off, type) ((const type *)((const char *)(obj) + (off)))

/* The i-th accepted name of an ENUM or MODEL field, NULL past the end. */
static const char *choice_name(const ms_field *f, int i) {
  if (f->kind != MS_F_MODEL) return f->names[i];
  const void *t = f->types(i);
  return t ? *(const char *const *)t : NULL; /* every model type begins with its name */
}

/* A MODEL field holds a pointer to a model type (the struct's declared
 * pointer type): copied as bytes, all object pointers sharing one
 * representation here. */
static void set_model(void *obj, const ms_field *f, const void *type) {
  memcpy(AT(obj, f->offset, char), &type, sizeof type);
}

static const void *get_model(const void *obj, const ms_field *f) {
  const void *type;
  memcpy(&type, CAT(obj, f->offset, char), sizeof type);
  return type;
}

const ms_field *ms_schema_field(const ms_schema *s, const char *name) {
  for (size_t i = 0; i < s->nfields; i++)
    if (strcmp(s->fields[i].name, name) == 0) return &s->fields[i];
  return NULL;
}

const ms_field *ms_schema_lookup(const ms_schema *s, const char *path) {
  for (const char *p = path;;) {
    char name[128];
    size_t k = strcspn(p, ".[");
    if (k == 0 || k >= sizeof name) return NULL;
    memcpy(name, p, k);
    name[k] = '\0';
    const ms_field *f = ms_schema_field(s, name);
    if (!f) return NULL;
    p += k;
    int indexed = *p == '[';
    if (indexed) {
      p = strchr(p, ']');
      if (!p) return NULL;
      p++;
    }
    if (!*p) return f;
    if (*p++ != '.') return NULL;
    if (f->kind == MS_F_SECTION && !indexed) s = f->sub;
    else if (f->kind == MS_F_LIST && indexed) s = f->sub;
    else return NULL;
  }
}

static void join_path(char *out, size_t n, const char *path, const char *name) {
  if (path[0]) snprintf(out, n, "%s.%s", path, name);
  else snprintf(out, n, "%s", name);
}

static const char *kind_word(const ms_ynode *n) {
  switch (n->kind) {
  case MS_Y_MAP: return "a mapping";
  case MS_Y_SEQ: return "a list";
  default: return "a scalar";
  }
}

/* Describe what a value node holds, for "(got ...)". */
static void got_text(const ms_ynode *n, char *buf, size_t len) {
  if (n->kind == MS_Y_SCALAR) {
    if (n->quoted || !n->text[0]) snprintf(buf, len, "\"%s\"", n->text);
    else snprintf(buf, len, "%s", n->text);
  } else {
    snprintf(buf, len, "%s", kind_word(n));
  }
}

static ms_status fail_at(ms_error *err, const ms_ynode *n, const char *src, const char *path,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static ms_status fail_at(ms_error *err, const ms_ynode *n, const char *src, const char *path,
                         const char *fmt, ...) {
  char where[600], msg[700];
  if (n) ms_ynode_where(n, where, sizeof where);
  else snprintf(where, sizeof where, "%s", src);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ms_error_set(err, MS_ERR_INPUT, "%s: %s: %s", where, path, msg);
}

static void bounds_text(const ms_field *f, char *buf, size_t len) {
  char lo[48] = "", hi[48] = "";
  if (f->kind == MS_F_DURATION || (f->kind == MS_F_DIST && f->elem == MS_F_DURATION)) {
    ms_units_format_duration((int64_t)f->min, lo, sizeof lo);
    ms_units_format_duration((int64_t)f->max, hi, sizeof hi);
  } else if (f->kind == MS_F_RATE) {
    ms_units_format_rate(f->min, lo, sizeof lo);
    ms_units_format_rate(f->max, hi, sizeof hi);
  } else {
    ms_units_format_number(f->min, lo, sizeof lo);
    ms_units_format_number(f->max, hi, sizeof hi);
  }
  const char *a = (f->bounds & MS_B_GE) ? ">= " : (f->bounds & MS_B_GT) ? "> " : NULL;
  const char *b = (f->bounds & MS_B_LE) ? "<= " : (f->bounds & MS_B_LT) ? "< " : NULL;
  if (a && b) snprintf(buf, len, "%s%s and %s%s", a, lo, b, hi);
  else if (a) snprintf(buf, len, "%s%s", a, lo);
  else if (b) snprintf(buf, len, "%s%s", b, hi);
  else buf[0] = '\0';
}

static int in_bounds(const ms_field *f, double v) {
  if ((f->bounds & MS_B_GE) && !(v >= f->min)) return 0;
  if ((f->bounds & MS_B_GT) && !(v > f->min)) return 0;
  if ((f->bounds & MS_B_LE) && !(v <= f->max)) return 0;
  if ((f->bounds & MS_B_LT) && !(v < f->max)) return 0;
  return 1;
}

static void known_keys(const ms_schema *s, char *buf, size_t len) {
  size_t k = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < s->nfields && k + 2 < len; i++) {
    if (s->fields[i].retired) continue;
    int w = snprintf(buf + k, len - k, "%s%s", k ? ", " : "", s->fields[i].name);
    if (w < 0) break;
    k += (size_t)w;
  }
}

static ms_status need_scalar(const ms_ynode *n, const char *path, const char *what, ms_error *err) {
  if (n->kind == MS_Y_SCALAR) return MS_OK;
  return fail_at(err, n, NULL, path, "expected %s (got %s)", what, kind_word(n));
}

/* ----------------------------------------------------------- scalar parsers */

static int parse_bool(const char *s, int *out) {
  static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On", NULL};
  static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off", NULL};
  for (int i = 0; yes[i]; i++) if (strcmp(s, yes[i]) == 0) { *out = 1; return 0; }
  for (int i = 0; no[i]; i++) if (strcmp(s, no[i]) == 0) { *out = 0; return 0; }
  return -1;
}

static int parse_u64(const char *s, uint64_t *out) {
  if (!*s) return -1;
  for (const char *p = s; *p; p++) if (!isdigit((unsigned char)*p)) return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = (uint64_t)v;
  return 0;
}

/* Parse one number-like scalar of kind @p kind into a double (durations in ms). */
static ms_status parse_scalar_value(const ms_ynode *n, ms_field_kind kind, const char *path,
                                    double *out, ms_error *err) {
  char got[160];
  ms_status s = need_scalar(n, path, kind == MS_F_DURATION ? "a duration" : "a number", err);
  if (s) return s;
  got_text(n, got, sizeof got);
  if (kind == MS_F_DURATION) {
    int64_t ms;
    int rc = ms_units_parse_duration(n->text, &ms);
    if (rc == -3)
      return fail_at(err, n, NULL, path, "a duration needs a unit: ms, s, m, h or d (got %s)", got);
    if (rc == -2)
      return fail_at(err, n, NULL, path, "not a whole number of milliseconds (got %s)", got);
    if (rc) return fail_at(err, n, NULL, path,
                           "expected a duration such as 250ms, 12s, 5m, 6h, 1d (got %s)", got);
    *out = (double)ms;
    return MS_OK;
  }
  if (kind == MS_F_RATE) {
    int rc = ms_units_parse_rate(n->text, out);
    if (rc == -2)
      return fail_at(err, n, NULL, path, "too large: events per day must be a finite number (got %s)",
                     got);
    if (rc)
      return fail_at(err, n, NULL, path, "expected a rate such as 6/d, 2/h, 0.5/m, 10/s (got %s)",
                     got);
    return MS_OK;
  }
  if (kind == MS_F_INT) {
    long long v;
    if (ms_units_parse_int(n->text, &v))
      return fail_at(err, n, NULL, path, "expected a whole number (got %s)", got);
    *out = (double)v;
    return MS_OK;
  }
  if (ms_units_parse_number(n->text, out))
    return fail_at(err, n, NULL, path, "expected a number (got %s)", got);
  return MS_OK;
}

/* Whether @p n is a percentage where @p f accepts one. */
static int is_percent(const ms_field *f, const ms_ynode *n) {
  size_t len = n->kind == MS_Y_SCALAR ? strlen(n->text) : 0;
  return f->pct && len > 0 && n->text[len - 1] == '%';
}

/* A scalar ending in '%' (units.h, ms_units_parse_percent). */
static ms_status parse_percent(const ms_ynode *n, const char *path, double *out, ms_error *err) {
  if (ms_units_parse_percent(n->text, out) == 0) return MS_OK;
  char got[160];
  got_text(n, got, sizeof got);
  return fail_at(err, n, NULL, path, "expected a number or a percentage such as 0.2 or -20%% (got %s)", got);
}

static ms_status check_bounds(const ms_field *f, const ms_ynode *n, const char *path, double v,
                              ms_error *err) {
  if (in_bounds(f, v)) return MS_OK;
  char b[120], got[160];
  bounds_text(f, b, sizeof b);
  got_text(n, got, sizeof got);
  return fail_at(err, n, NULL, path, "must be %s (got %s)", b, got);
}

/* ------------------------------------------------------------ distributions */

static const char *const dist_keys[][4] = {
    /* fixed */ {"value", NULL, NULL, NULL},
    /* uniform */ {"min", "max", NULL, NULL},
    /* lognormal */ {"median", "sigma", NULL, NULL},
    /* exponential */ {"mean", NULL, NULL, NULL},
    /* table */ {"values", "weights", NULL, NULL},
};

/*
 * Every value the generator can draw (ms_dist_draw_range: the lognormal's
 * extreme is 12.31 sigma, the exponential's 37.4 means, not a quantile)
 * must be finite and within the limits of its kind: durations at most
 * MS_DURATION_MAX_MS (a draw past the horizon means "not within this path"),
 * amounts at most MS_DIST_AMOUNT_MAX in magnitude and, where the key must be
 * positive, at least MS_DIST_AMOUNT_MIN.
 */
static ms_status check_draws(const ms_field *f, const ms_dist *d, const ms_ynode *n,
                             const char *path, ms_error *err) {
  int dur = f->elem == MS_F_DURATION;
  int pos = !dur && (((f->bounds & MS_B_GT) && f->min >= 0) || ((f->bounds & MS_B_GE) && f->min > 0));
  double lo, hi;
  ms_dist_draw_range(d, &lo, &hi);
  double amax = dur ? (double)MS_DURATION_MAX_MS : MS_DIST_AMOUNT_MAX;
  double amin = pos ? MS_DIST_AMOUNT_MIN : -amax;
  if (isfinite(lo) && isfinite(hi) && lo >= amin && hi <= amax) return MS_OK;
  char los[48], his[48], lims[120], how[200] = "";
  snprintf(los, sizeof los, "%.4g", lo);
  snprintf(his, sizeof his, "%.4g", hi);
  if (dur)
    snprintf(lims, sizeof lims, "at most %lldms (about 285,000 years)", (long long)MS_DURATION_MAX_MS);
  else if (pos)
    snprintf(lims, sizeof lims, "from %g to %g", MS_DIST_AMOUNT_MIN, MS_DIST_AMOUNT_MAX);
  else
    snprintf(lims, sizeof lims, "from %g to %g", -MS_DIST_AMOUNT_MAX, MS_DIST_AMOUNT_MAX);
  double z = ms_rng_gaussian_max();
  if (d->kind == MS_DIST_LOGNORMAL) {
    double smax = log(amax / d->a) / z;
    if (pos) smax = fmin(smax, log(d->a / amin) / z);
    if (smax > 0)
      snprintf(how, sizeof how, " (median x exp(+-%.2f sigma)): with this median, sigma at most %g",
               z, floor(smax * 1000) / 1000);
    else
      snprintf(how, sizeof how, " (median x exp(+-%.2f sigma)): %s the median", z, d->a > amax ? "lower" : "raise");
  } else if (d->kind == MS_DIST_EXPONENTIAL) {
    snprintf(how, sizeof how, " (up to %.2f means): the mean at most %.6g", ms_rng_neglog_max(),
             amax / ms_rng_neglog_max());
  }
  return fail_at(err, n, NULL, path, "every value drawn must be finite and %s; this %s distribution draws %s to %s%s",
                 lims, ms_dist_kind_names[d->kind], los, his, how);
}

static ms_status load_dist(const ms_field *f, ms_dist *d, const ms_ynode *n, const char *path,
                           ms_error *err) {
  memset(d, 0, sizeof *d);
  char sub[512];
  ms_field_kind pk = f->elem == MS_F_DURATION ? MS_F_DURATION : MS_F_NUMBER;
  ms_status s;
  if (n->kind == MS_Y_SCALAR) { /* shorthand for fixed */
    d->kind = MS_DIST_FIXED;
    if ((s = parse_scalar_value(n, pk, path, &d->a, err))) return s;
  } else if (n->kind != MS_Y_MAP) {
    return fail_at(err, n, NULL, path,
                   "expected a distribution such as {dist: uniform, min: 1, max: 2} (got a list)");
  } else {
    const ms_ynode *kn = ms_ynode_get(n, "dist");
    if (!kn)
      return fail_at(err, n, NULL, path,
                     "a distribution needs 'dist: fixed | uniform | lognormal | exponential | table'");
    if ((s = need_scalar(kn, path, "a distribution name", err))) return s;
    int kind = -1;
    for (int i = 0; ms_dist_kind_names[i]; i++)
      if (strcmp(kn->text, ms_dist_kind_names[i]) == 0) kind = i;
    join_path(sub, sizeof sub, path, "dist");
    if (kind < 0)
      return fail_at(err, kn, NULL, sub,
                     "must be one of: fixed, uniform, lognormal, exponential, table (got %s)",
                     kn->text);
    d->kind = (ms_dist_kind)kind;
    /* Unknown parameter names. */
    for (size_t i = 0; i < n->n; i++) {
      const char *k = n->keys[i]->text;
      int ok = strcmp(k, "dist") == 0;
      for (int j = 0; j < 4 && dist_keys[kind][j]; j++) ok |= strcmp(k, dist_keys[kind][j]) == 0;
      if (!ok) {
        char known[80] = "dist";
        for (int j = 0; j < 4 && dist_keys[kind][j]; j++) {
          strncat(known, ", ", sizeof known - strlen(known) - 1);
          strncat(known, dist_keys[kind][j], sizeof known - strlen(known) - 1);
        }
        join_path(sub, sizeof sub, path, k);
        return fail_at(err, n->keys[i], NULL, sub, "unknown key; known keys of a %s distribution: %s",
                       ms_dist_kind_names[kind], known);
      }
    }
    if (kind == MS_DIST_TABLE) {
      const ms_ynode *vn = ms_ynode_get(n, "values"), *wn = ms_ynode_get(n, "weights");
      join_path(sub, sizeof sub, path, "values");
      if (!vn) return fail_at(err, n, NULL, sub, "missing: a table needs 'values: [...]'");
      if (vn->kind != MS_Y_SEQ || vn->n == 0)
        return fail_at(err, vn, NULL, sub, "expected a non-empty list of values");
      if (vn->n > MS_DIST_TABLE_MAX)
        return fail_at(err, vn, NULL, sub, "at most %d values (got %zu)", MS_DIST_TABLE_MAX, vn->n);
      d->n = (int)vn->n;
      for (size_t i = 0; i < vn->n; i++) {
        char ip[560];
        snprintf(ip, sizeof ip, "%s[%zu]", sub, i);
        if ((s = parse_scalar_value(vn->vals[i], pk, ip, &d->values[i], err))) return s;
        d->weights[i] = 1.0;
      }
      if (wn) {
        join_path(sub, sizeof sub, path, "weights");
        if (wn->kind != MS_Y_SEQ || wn->n != vn->n)
          return fail_at(err, wn, NULL, sub, "expected a list of %zu weights, one per value", vn->n);
        for (size_t i = 0; i < wn->n; i++) {
          char ip[560];
          snprintf(ip, sizeof ip, "%s[%zu]", sub, i);
          if ((s = parse_scalar_value(wn->vals[i], MS_F_NUMBER, ip, &d->weights[i], err))) return s;
          if (d->weights[i] < 0)
            return fail_at(err, wn->vals[i], NULL, ip, "must be >= 0 (got %s)", wn->vals[i]->text);
        }
      }
      if (ms_dist_prepare(d))
        return fail_at(err, wn ? wn : n, NULL, path, "at least one weight must be positive");
    } else {
      double *slot[2] = {&d->a, &d->b};
      for (int j = 0; j < 2 && dist_keys[kind][j]; j++) {
        const ms_ynode *pn = ms_ynode_get(n, dist_keys[kind][j]);
        join_path(sub, sizeof sub, path, dist_keys[kind][j]);
        if (!pn) return fail_at(err, n, NULL, sub, "missing: a %s distribution needs %s",
                                ms_dist_kind_names[kind], dist_keys[kind][j]);
        /* sigma is a plain number even for duration distributions */
        ms_field_kind k2 = (kind == MS_DIST_LOGNORMAL && j == 1) ? MS_F_NUMBER : pk;
        if ((s = parse_scalar_value(pn, k2, sub, slot[j], err))) return s;
      }
      if (kind == MS_DIST_UNIFORM && !(d->a <= d->b))
        return fail_at(err, n, NULL, path, "uniform needs min <= max");
      if (kind == MS_DIST_LOGNORMAL && !(d->a > 0))
        return fail_at(err, ms_ynode_get(n, "median"), NULL, path, "lognormal median must be > 0");
      if (kind == MS_DIST_LOGNORMAL && !(d->b >= 0))
        return fail_at(err, ms_ynode_get(n, "sigma"), NULL, path, "lognormal sigma must be >= 0");
      if (kind == MS_DIST_EXPONENTIAL && !(d->a >= 0))
        return fail_at(err, ms_ynode_get(n, "mean"), NULL, path, "exponential mean must be >= 0");
    }
  }
  /* The field's range applies to every value the distribution can draw. */
  double lo, hi;
  ms_dist_support(d, &lo, &hi);
  /* A lognormal's support (0, inf) is open at 0: it satisfies "> 0". */
  int lo_open = d->kind == MS_DIST_LOGNORMAL && lo != hi;
  int lo_ok = lo_open ? (!(f->bounds & (MS_B_GE | MS_B_GT)) || f->min <= lo) : in_bounds(f, lo);
  int hi_ok = isinf(hi) ? !(f->bounds & (MS_B_LE | MS_B_LT)) : in_bounds(f, hi);
  if (!lo_ok || !hi_ok) {
    char b[120], los[48], his[48];
    bounds_text(f, b, sizeof b);
    if (pk == MS_F_DURATION && isfinite(lo)) ms_units_format_duration((int64_t)lo, los, sizeof los);
    else ms_units_format_number(lo, los, sizeof los);
    if (pk == MS_F_DURATION && isfinite(hi)) ms_units_format_duration((int64_t)hi, his, sizeof his);
    else if (isinf(hi)) snprintf(his, sizeof his, "unbounded");
    else ms_units_format_number(hi, his, sizeof his);
    return fail_at(err, n, NULL, path, "every value drawn must be %s (this %s distribution ranges %s to %s)",
                   b, ms_dist_kind_names[d->kind], los, his);
  }
  return check_draws(f, d, n, path, err);
}

/* ------------------------------------------------------------------- loading */

static ms_status load_field(const ms_field *f, void *obj, const ms_ynode *n, const char *path,
                            const char *src, void *root, ms_error *err);

/* The node @p rel names below the checked section, as far as it was
 * written, and its full key path in @p full. */
static const ms_ynode *check_locate(const ms_check *ck, const char *rel, char *full, size_t nfull) {
  /* Walk rel through the tree as far as it was written. */
  const ms_ynode *n = ck->node, *best = ck->node;
  if (rel && n) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", rel);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && n; tok = strtok_r(NULL, ".", &save)) {
      char *br = strchr(tok, '[');
      long idx = -1;
      if (br) { idx = strtol(br + 1, NULL, 10); *br = '\0'; }
      const ms_ynode *key = ms_ynode_get_key(n, tok);
      n = ms_ynode_get(n, tok);
      if (!n) { if (key) best = key; break; }
      best = n;
      if (idx >= 0) {
        if (n->kind == MS_Y_SEQ && (size_t)idx < n->n) { n = n->vals[idx]; best = n; }
        else break;
      }
    }
  }
  if (rel) {
    if (ck->path[0]) snprintf(full, nfull, "%s.%s", ck->path, rel);
    else snprintf(full, nfull, "%s", rel);
  } else {
    snprintf(full, nfull, "%s", ck->path[0] ? ck->path : "(top level)");
  }
  return best;
}

/* The message of a check failure or warning, placed at @p rel under the
 * check's path (file:line:col where the key was written). */
static ms_status check_place(ms_check *ck, const char *rel, ms_error *err, const char *fmt, va_list ap) {
  char msg[700], full[600];
  vsnprintf(msg, sizeof msg, fmt, ap);
  const ms_ynode *best = check_locate(ck, rel, full, sizeof full);
  return fail_at(err, best, ck->src, full, "%s", msg);
}

ms_status ms_check_fail(ms_check *ck, const char *rel, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ms_status s = check_place(ck, rel, ck->err, fmt, ap);
  va_end(ap);
  return s;
}

void ms_check_warn(ms_check *ck, const char *rel, char *buf, size_t n, const char *fmt, ...) {
  ms_error tmp;
  ms_error_clear(&tmp);
  va_list ap;
  va_start(ap, fmt);
  check_place(ck, rel, &tmp, fmt, ap);
  va_end(ap);
  snprintf(buf, n, "%s", tmp.msg);
}

/* Load field @p f of @p obj from its documented default. */
static ms_status load_default(const ms_field *f, void *obj, const char *fp, const char *src, void *root,
                              ms_error *err) {
  ms_ynode *dn = NULL;
  assert(f->def && "every key has a default");
  ms_status st = ms_ytree_parse(&dn, f->def, strlen(f->def), "(default)", err);
  if (!st) st = load_field(f, obj, dn, fp, src, root, err);
  ms_ynode_free(dn);
  return st;
}

/* A scalar list item that stands for {shorthand: item} (see ms_field). */
static ms_status load_shorthand(const ms_schema *s, const char *shorthand, void *obj, const ms_ynode *node,
                                const char *path, const char *src, void *root, ms_error *err) {
  for (size_t i = 0; i < s->nfields; i++) {
    const ms_field *f = &s->fields[i];
    if (f->retired) continue;
    char fp[640];
    join_path(fp, sizeof fp, path, f->name);
    ms_status st;
    if (strcmp(f->name, shorthand) == 0) {
      st = load_field(f, obj, node, fp, src, root, err);
    } else {
      st = load_default(f, obj, fp, src, root, err);
    }
    if (st) return st;
  }
  if (!s->check) return MS_OK;
  ms_check ck = {root, node, path, src, err};
  return s->check(obj, &ck);
}

ms_status ms_schema_load(const ms_schema *s, void *obj, const ms_ynode *node, const char *path,
                         const char *src, void *root, ms_error *err) {
  if (node && node->kind != MS_Y_MAP) {
    char known[600];
    known_keys(s, known, sizeof known);
    return fail_at(err, node, src, path[0] ? path : "(top level)",
                   "expected a mapping with keys %s (got %s)", known, kind_word(node));
  }
  if (node) {
    for (size_t i = 0; i < node->n; i++) {
      const ms_field *f = ms_schema_field(s, node->keys[i]->text);
      if (f && f->retired) {
        char kp[512];
        join_path(kp, sizeof kp, path, f->name);
        return fail_at(err, node->keys[i], src, kp, "%s", f->retired);
      }
      if (!f) {
        char known[600], kp[512];
        known_keys(s, known, sizeof known);
        join_path(kp, sizeof kp, path, node->keys[i]->text);
        if (path[0])
          return fail_at(err, node->keys[i], src, kp, "unknown key; known keys of %s: %s", path, known);
        return fail_at(err, node->keys[i], src, kp, "unknown key; known top-level keys: %s", known);
      }
    }
  }
  for (size_t i = 0; i < s->nfields; i++) {
    const ms_field *f = &s->fields[i];
    if (f->retired) continue;
    char fp[512];
    join_path(fp, sizeof fp, path, f->name);
    const ms_ynode *vn = node ? ms_ynode_get(node, f->name) : NULL;
    ms_status st;
    if (vn) {
      st = load_field(f, obj, vn, fp, src, root, err);
    } else if (f->kind == MS_F_SECTION) {
      st = ms_schema_load(f->sub, AT(obj, f->offset, char), NULL, fp, src, root, err);
    } else {
      st = load_default(f, obj, fp, src, root, err);
    }
    if (st) return st;
  }
  if (s->check) {
    ms_check ck = {root, node, path, src, err};
    return s->check(obj, &ck);
  }
  return MS_OK;
}

static ms_status load_field(const ms_field *f, void *obj, const ms_ynode *n, const char *path,
                            const char *src, void *root, ms_error *err) {
  ms_status s;
  double v;
  char got[160];
  switch (f->kind) {
  case MS_F_NUMBER:
  case MS_F_RATE:
    if (is_percent(f, n)) {
      if ((s = parse_percent(n, path, &v, err))) return s;
    } else if ((s = parse_scalar_value(n, f->kind, path, &v, err))) {
      return s;
    }
    if ((s = check_bounds(f, n, path, v, err))) return s;
    *AT(obj, f->offset, double) = v;
    return MS_OK;
  case MS_F_INT:
  case MS_F_DURATION:
    if ((s = parse_scalar_value(n, f->kind, path, &v, err))) return s;
    if ((s = check_bounds(f, n, path, v, err))) return s;
    *AT(obj, f->offset, int64_t) = (int64_t)v;
    return MS_OK;
  case MS_F_U64: {
    uint64_t u;
    if ((s = need_scalar(n, path, "a whole number", err))) return s;
    if (parse_u64(n->text, &u)) {
      got_text(n, got, sizeof got);
      return fail_at(err, n, NULL, path, "expected a whole number from 0 to 18446744073709551615 (got %s)",
                     got);
    }
    *AT(obj, f->offset, uint64_t) = u;
    return MS_OK;
  }
  case MS_F_BOOL: {
    int b;
    if ((s = need_scalar(n, path, "true or false", err))) return s;
    if (parse_bool(n->text, &b)) {
      got_text(n, got, sizeof got);
      return fail_at(err, n, NULL, path, "expected true or false (got %s)", got);
    }
    *AT(obj, f->offset, int) = b;
    return MS_OK;
  }
  case MS_F_ENUM:
  case MS_F_MODEL: {
    if ((s = need_scalar(n, path, "a name", err))) return s;
    for (int i = 0; choice_name(f, i); i++) {
      if (strcmp(n->text, choice_name(f, i)) == 0) {
        if (f->kind == MS_F_MODEL) set_model(obj, f, f->types(i));
        else *AT(obj, f->offset, int) = i;
        return MS_OK;
      }
    }
    char list[300] = "";
    for (int i = 0; choice_name(f, i); i++) {
      strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
      strncat(list, choice_name(f, i), sizeof list - strlen(list) - 1);
    }
    got_text(n, got, sizeof got);
    return fail_at(err, n, NULL, path, "must be one of: %s (got %s)", list, got);
  }
  case MS_F_STRING: {
    if ((s = need_scalar(n, path, "a string", err))) return s;
    if (strlen(n->text) >= f->str_size)
      return fail_at(err, n, NULL, path, "at most %zu characters (got %zu)", f->str_size - 1,
                     strlen(n->text));
    snprintf(AT(obj, f->offset, char), f->str_size, "%s", n->text);
    return MS_OK;
  }
  case MS_F_DIST:
    return load_dist(f, AT(obj, f->offset, ms_dist), n, path, err);
  case MS_F_SECTION:
    return ms_schema_load(f->sub, AT(obj, f->offset, char), n, path, src, root, err);
  case MS_F_LIST: {
    if (n->kind != MS_Y_SEQ)
      return fail_at(err, n, NULL, path, "expected a list (got %s)", kind_word(n));
    if ((int)n->n > f->max_items)
      return fail_at(err, n, NULL, path, "at most %d items (got %zu)", f->max_items, n->n);
    if (f->bounds & MS_B_GE && (double)n->n < f->min)
      return fail_at(err, n, NULL, path, "at least %g item%s (got %zu)", f->min, f->min == 1 ? "" : "s", n->n);
    char *base = AT(obj, f->offset, char);
    memset(base, 0, f->item_size * (size_t)f->max_items);
    *AT(obj, f->count_offset, int) = (int)n->n;
    for (size_t i = 0; i < n->n; i++) {
      char ip[560];
      snprintf(ip, sizeof ip, "%s[%zu]", path, i);
      if (f->shorthand && n->vals[i]->kind == MS_Y_SCALAR)
        s = load_shorthand(f->sub, f->shorthand, base + i * f->item_size, n->vals[i], ip, src, root, err);
      else
        s = ms_schema_load(f->sub, base + i * f->item_size, n->vals[i], ip, src, root, err);
      if (s) return s;
    }
    return MS_OK;
  }
  case MS_F_NUMLIST: {
    if (n->kind != MS_Y_SEQ)
      return fail_at(err, n, NULL, path, "expected a list of numbers (got %s)", kind_word(n));
    if ((int)n->n > f->max_items)
      return fail_at(err, n, NULL, path, "at most %d items (got %zu)", f->max_items, n->n);
    double *arr = AT(obj, f->offset, double);
    *AT(obj, f->count_offset, int) = (int)n->n;
    for (size_t i = 0; i < n->n; i++) {
      char ip[560];
      snprintf(ip, sizeof ip, "%s[%zu]", path, i);
      ms_field_kind ek = f->elem == MS_F_DURATION ? MS_F_DURATION : MS_F_NUMBER;
      if ((s = parse_scalar_value(n->vals[i], ek, ip, &arr[i], err))) return s;
      if ((s = check_bounds(f, n->vals[i], ip, arr[i], err))) return s;
    }
    return MS_OK;
  }
  case MS_F_MATRIX: {
    ms_matrix *m = AT(obj, f->offset, ms_matrix);
    memset(m, 0, sizeof *m);
    if (n->kind != MS_Y_SEQ)
      return fail_at(err, n, NULL, path, "expected a list of rows (got %s)", kind_word(n));
    if (n->n > MS_MATRIX_MAX)
      return fail_at(err, n, NULL, path, "at most %d rows (got %zu)", MS_MATRIX_MAX, n->n);
    m->rows = (int)n->n;
    for (size_t r = 0; r < n->n; r++) {
      const ms_ynode *row = n->vals[r];
      char rp[560];
      snprintf(rp, sizeof rp, "%s[%zu]", path, r);
      if (row->kind != MS_Y_SEQ)
        return fail_at(err, row, NULL, rp, "expected a row, a list of numbers (got %s)", kind_word(row));
      if (r == 0) m->cols = (int)row->n;
      if ((int)row->n != m->cols || row->n > MS_MATRIX_MAX)
        return fail_at(err, row, NULL, rp, "every row needs %d entries (got %zu)", m->cols, row->n);
      for (size_t c = 0; c < row->n; c++) {
        char cp[600];
        snprintf(cp, sizeof cp, "%s[%zu]", rp, c);
        if ((s = parse_scalar_value(row->vals[c], MS_F_NUMBER, cp, &m->v[r][c], err))) return s;
        if ((s = check_bounds(f, row->vals[c], cp, m->v[r][c], err))) return s;
      }
    }
    return MS_OK;
  }
  case MS_F_STRLIST: {
    if (n->kind != MS_Y_SEQ)
      return fail_at(err, n, NULL, path, "expected a list of strings (got %s)", kind_word(n));
    if ((int)n->n > f->max_items)
      return fail_at(err, n, NULL, path, "at most %d items (got %zu)", f->max_items, n->n);
    char *base = AT(obj, f->offset, char);
    *AT(obj, f->count_offset, int) = (int)n->n;
    for (size_t i = 0; i < n->n; i++) {
      char ip[560];
      snprintf(ip, sizeof ip, "%s[%zu]", path, i);
      if ((s = need_scalar(n->vals[i], ip, "a string", err))) return s;
      if (strlen(n->vals[i]->text) >= f->str_size)
        return fail_at(err, n->vals[i], NULL, ip, "at most %zu characters", f->str_size - 1);
      snprintf(base + i * f->str_size, f->str_size, "%s", n->vals[i]->text);
    }
    return MS_OK;
  }
  }
  return ms_error_set(err, MS_ERR_INTERNAL, "%s: unknown field kind", path);
}

/* ------------------------------------------------------------------ emitting */

static void emit_value_number(ms_field_kind k, double v, ms_strbuf *sb) {
  char b[64];
  if (k == MS_F_DURATION) ms_units_format_duration((int64_t)v, b, sizeof b);
  else if (k == MS_F_RATE) ms_units_format_rate(v, b, sizeof b);
  else ms_units_format_number(v, b, sizeof b);
  ms_sb_printf(sb, "%s", b);
}

/* A string as a double-quoted YAML scalar that reads back to the same
 * bytes: quotes and backslashes escaped, and every character YAML would not
 * keep as written escaped too: C0 and C1 controls and DEL (not allowed in a
 * YAML stream), and the line breaks NEL, LS, PS (folded into spaces inside a
 * quoted scalar), the BOM and the non-characters U+FFFE/U+FFFF. The text is
 * valid UTF-8: it came through libyaml. */
static void emit_string(const char *s, ms_strbuf *sb) {
  ms_sb_printf(sb, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned cp = 0;
    int extra = 0;
    if (*p == '"' || *p == '\\') { ms_sb_printf(sb, "\\%c", *p); continue; }
    if (*p == '\n') { ms_sb_printf(sb, "\\n"); continue; }
    if (*p == '\t') { ms_sb_printf(sb, "\\t"); continue; }
    if (*p < 0x20 || *p == 0x7f) { ms_sb_printf(sb, "\\x%02x", *p); continue; }
    if (*p < 0x80) { ms_sb_printf(sb, "%c", *p); continue; }
    if ((*p & 0xe0) == 0xc0) { cp = *p & 0x1fu; extra = 1; }
    else if ((*p & 0xf0) == 0xe0) { cp = *p & 0x0fu; extra = 2; }
    else if ((*p & 0xf8) == 0xf0) { cp = *p & 0x07u; extra = 3; }
    int k = 0;
    for (; k < extra && (p[k + 1] & 0xc0) == 0x80; k++) cp = (cp << 6) | (p[k + 1] & 0x3fu);
    if (k < extra || extra == 0) { ms_sb_printf(sb, "\\x%02x", *p); continue; } /* not UTF-8 */
    if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp == 0xfffe ||
        cp == 0xffff)
      ms_sb_printf(sb, "\\u%04x", cp);
    else
      ms_sb_printf(sb, "%.*s", extra + 1, (const char *)p);
    p += extra;
  }
  ms_sb_printf(sb, "\"");
}

static void emit_dist(const ms_field *f, const ms_dist *d, ms_strbuf *sb) {
  ms_field_kind pk = f->elem == MS_F_DURATION ? MS_F_DURATION : MS_F_NUMBER;
  ms_sb_printf(sb, "{dist: %s", ms_dist_kind_names[d->kind]);
  switch (d->kind) {
  case MS_DIST_FIXED:
    ms_sb_printf(sb, ", value: "); emit_value_number(pk, d->a, sb); break;
  case MS_DIST_UNIFORM:
    ms_sb_printf(sb, ", min: "); emit_value_number(pk, d->a, sb);
    ms_sb_printf(sb, ", max: "); emit_value_number(pk, d->b, sb); break;
  case MS_DIST_LOGNORMAL:
    ms_sb_printf(sb, ", median: "); emit_value_number(pk, d->a, sb);
    ms_sb_printf(sb, ", sigma: "); emit_value_number(MS_F_NUMBER, d->b, sb); break;
  case MS_DIST_EXPONENTIAL:
    ms_sb_printf(sb, ", mean: "); emit_value_number(pk, d->a, sb); break;
  case MS_DIST_TABLE:
    ms_sb_printf(sb, ", values: [");
    for (int i = 0; i < d->n; i++) { if (i) ms_sb_printf(sb, ", "); emit_value_number(pk, d->values[i], sb); }
    ms_sb_printf(sb, "], weights: [");
    for (int i = 0; i < d->n; i++) { if (i) ms_sb_printf(sb, ", "); emit_value_number(MS_F_NUMBER, d->weights[i], sb); }
    ms_sb_printf(sb, "]");
    break;
  }
  ms_sb_printf(sb, "}");
}

void ms_schema_emit(const ms_schema *s, const void *obj, ms_strbuf *sb, int indent) {
  for (size_t i = 0; i < s->nfields; i++) {
    const ms_field *f = &s->fields[i];
    if (f->retired) continue;
    /* The first key of a list item follows "- " on the same line. */
    if (indent >= 0) ms_sb_printf(sb, "%*s", indent, "");
    else indent = -indent;
    ms_sb_printf(sb, "%s:", f->name);
    switch (f->kind) {
    case MS_F_NUMBER:
    case MS_F_RATE:
      ms_sb_printf(sb, " ");
      emit_value_number(f->kind, *CAT(obj, f->offset, double), sb);
      break;
    case MS_F_INT:
    case MS_F_DURATION:
      ms_sb_printf(sb, " ");
      emit_value_number(f->kind, (double)*CAT(obj, f->offset, int64_t), sb);
      break;
    case MS_F_U64:
      ms_sb_printf(sb, " %llu", (unsigned long long)*CAT(obj, f->offset, uint64_t));
      break;
    case MS_F_BOOL:
      ms_sb_printf(sb, " %s", *CAT(obj, f->offset, int) ? "true" : "false");
      break;
    case MS_F_ENUM:
      ms_sb_printf(sb, " %s", f->names[*CAT(obj, f->offset, int)]);
      break;
    case MS_F_MODEL:
      ms_sb_printf(sb, " %s", *(const char *const *)get_model(obj, f));
      break;
    case MS_F_STRING:
      ms_sb_printf(sb, " ");
      emit_string(CAT(obj, f->offset, char), sb);
      break;
    case MS_F_DIST:
      ms_sb_printf(sb, " ");
      emit_dist(f, CAT(obj, f->offset, ms_dist), sb);
      break;
    case MS_F_SECTION:
      ms_sb_printf(sb, "\n");
      ms_schema_emit(f->sub, CAT(obj, f->offset, char), sb, indent + 2);
      continue;
    case MS_F_LIST: {
      int cnt = *CAT(obj, f->count_offset, int);
      if (cnt == 0) { ms_sb_printf(sb, " []"); break; }
      ms_sb_printf(sb, "\n");
      for (int k = 0; k < cnt; k++) {
        ms_sb_printf(sb, "%*s- ", indent + 2, "");
        ms_schema_emit(f->sub, CAT(obj, f->offset, char) + (size_t)k * f->item_size, sb,
                       -(indent + 4));
      }
      continue;
    }
    case MS_F_NUMLIST: {
      int cnt = *CAT(obj, f->count_offset, int);
      const double *a = CAT(obj, f->offset, double);
      ms_sb_printf(sb, " [");
      for (int k = 0; k < cnt; k++) {
        if (k) ms_sb_printf(sb, ", ");
        emit_value_number(f->elem == MS_F_DURATION ? MS_F_DURATION : MS_F_NUMBER, a[k], sb);
      }
      ms_sb_printf(sb, "]");
      break;
    }
    case MS_F_MATRIX: {
      const ms_matrix *m = CAT(obj, f->offset, ms_matrix);
      ms_sb_printf(sb, " [");
      for (int r = 0; r < m->rows; r++) {
        ms_sb_printf(sb, "%s[", r ? ", " : "");
        for (int c = 0; c < m->cols; c++) {
          if (c) ms_sb_printf(sb, ", ");
          emit_value_number(MS_F_NUMBER, m->v[r][c], sb);
        }
        ms_sb_printf(sb, "]");
      }
      ms_sb_printf(sb, "]");
      break;
    }
    case MS_F_STRLIST: {
      int cnt = *CAT(obj, f->count_offset, int);
      if (cnt == 0) { ms_sb_printf(sb, " []"); break; }
      ms_sb_printf(sb, "\n");
      for (int k = 0; k < cnt; k++) {
        ms_sb_printf(sb, "%*s- ", indent + 2, "");
        emit_string(CAT(obj, f->offset, char) + (size_t)k * f->str_size, sb);
        ms_sb_printf(sb, "\n");
      }
      continue;
    }
    }
    ms_sb_printf(sb, "\n");
  }
}

/* ---------------------------------------------------------------------- docs */

static const char *type_name(const ms_field *f, char *buf, size_t n) {
  switch (f->kind) {
  case MS_F_NUMBER: return f->pct ? "number or percentage" : "number";
  case MS_F_INT: return "integer";
  case MS_F_U64: return "integer (64-bit)";
  case MS_F_DURATION: return "duration";
  case MS_F_RATE: return "rate";
  case MS_F_BOOL: return "bool";
  case MS_F_ENUM:
  case MS_F_MODEL: {
    buf[0] = '\0';
    for (int i = 0; choice_name(f, i); i++) {
      strncat(buf, i ? " \\| " : "", n - strlen(buf) - 1);
      strncat(buf, "`", n - strlen(buf) - 1);
      strncat(buf, choice_name(f, i), n - strlen(buf) - 1);
      strncat(buf, "`", n - strlen(buf) - 1);
    }
    return buf;
  }
  case MS_F_STRING: return "string";
  case MS_F_DIST: return f->elem == MS_F_DURATION ? "distribution of durations" : "distribution";
  case MS_F_SECTION: return "section";
  case MS_F_LIST: return "list";
  case MS_F_NUMLIST: return f->elem == MS_F_DURATION ? "list of durations" : "list of numbers";
  case MS_F_MATRIX: return "matrix (list of rows)";
  case MS_F_STRLIST: return "list of strings";
  }
  return "?";
}

void ms_schema_doc(const ms_schema *s, const char *path, ms_strbuf *sb) {
  ms_sb_printf(sb, "\n### `%s`\n\n", path[0] ? path : "(top level)");
  if (s->doc) ms_sb_printf(sb, "%s\n\n", s->doc);
  ms_sb_printf(sb, "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n");
  for (size_t i = 0; i < s->nfields; i++) {
    const ms_field *f = &s->fields[i];
    if (f->retired) continue;
    char tb[300], bb[160] = "";
    const char *t = type_name(f, tb, sizeof tb);
    if (f->bounds) {
      bounds_text(f, bb, sizeof bb);
      if (f->kind == MS_F_LIST) snprintf(bb, sizeof bb, "at least %g item%s", f->min, f->min == 1 ? "" : "s");
    }
    if (f->kind == MS_F_LIST || f->kind == MS_F_NUMLIST || f->kind == MS_F_STRLIST) {
      size_t k = strlen(bb);
      snprintf(bb + k, sizeof bb - k, "%sat most %d items", k ? "; " : "", f->max_items);
    }
    char sub[300] = "";
    if (f->kind == MS_F_SECTION) {
      char p2[256];
      join_path(p2, sizeof p2, path, f->name);
      snprintf(sub, sizeof sub, "see `%s`", p2);
    } else if (f->kind == MS_F_LIST) {
      char p2[256];
      join_path(p2, sizeof p2, path, f->name);
      snprintf(sub, sizeof sub, "items: see `%s[]`", p2);
    }
    ms_sb_printf(sb, "| `%s` | %s%s%s%s | %s%s%s | %s | %s%s%s%s |\n", f->name, t,
                 f->unit ? " (" : "", f->unit ? f->unit : "", f->unit ? ")" : "",
                 f->def ? "`" : "", f->def ? f->def : sub, f->def ? "`" : "", bb,
                 f->doc ? f->doc : "", (sub[0] && f->def) ? " (" : "", f->def ? sub : "",
                 (sub[0] && f->def) ? ")" : "");
  }
  for (size_t i = 0; i < s->nfields; i++) {
    const ms_field *f = &s->fields[i];
    char p2[256];
    join_path(p2, sizeof p2, path, f->name);
    if (f->kind == MS_F_SECTION) ms_schema_doc(f->sub, p2, sb);
    if (f->kind == MS_F_LIST) {
      strncat(p2, "[]", sizeof p2 - strlen(p2) - 1);
      ms_schema_doc(f->sub, p2, sb);
    }
  }
}
