/*
 * series — OHLC CSV files read and checked (see series.h for the layouts,
 * the time forms and the checks).
 *
 * One pass over the text: the header picks the five columns, each data line
 * is split, its five fields parsed and checked against the line before it
 * (order, duplicates); the spacings are checked once every candle is in,
 * because the resolution is the smallest of them all. Lines are not copied:
 * only the five fields wanted are, into small buffers, unquoted.
 */
#include "core/series.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/units.h"

/* The column roles, in the order of the candle's fields. */
enum { COL_TIME, COL_OPEN, COL_HIGH, COL_LOW, COL_CLOSE, NCOL };

/* Names accepted for the time column, in order of preference. */
static const char *const time_names[] = {"timestamp", "open_time", "date", "datetime", "time"};
static const char *const price_names[] = {"open", "high", "low", "close"};
#define TIME_COLUMNS "timestamp, open_time, date, datetime or time"

/* A time or price field longer than this is malformed: the longest sensible
 * one ("2020-01-01T00:00:00.000000000+00:00", a price with 17 digits) is half. */
#define FIELD_MAX 96

/* Epoch digits at or above this are milliseconds, below it seconds. */
#define EPOCH_MS_THRESHOLD 100000000000LL
/* 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: times are four-digit
 * years, so that every time read formats back to the text that reads it. */
#define TIME_MIN_MS (-62167219200000LL)
#define TIME_MAX_MS 253402300800000LL

/* ---- times ---------------------------------------------------------------- */

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
  static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil: exact for every year, no table, no loop). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

/* Exactly @p n digits at *p: their value, or -1. Advances *p. */
static int digits(const char **p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  return v;
}

int ms_time_parse_iso(const char *s, int64_t *ms) {
  if (!s) return -1;
  const char *p = s;
  int y = digits(&p, 4);
  if (y < 0 || *p++ != '-') return -1;
  int mo = digits(&p, 2);
  if (mo < 1 || mo > 12 || *p++ != '-') return -1;
  int d = digits(&p, 2);
  if (d < 1 || d > days_in_month(y, mo)) return -1;
  int64_t t = days_from_civil(y, mo, d) * 86400000LL;
  if (*p == '\0') {
    *ms = t;
    return 0;
  }
  if (*p != 'T' && *p != ' ') return -1;
  p++;
  int h = digits(&p, 2);
  if (h < 0 || h > 23 || *p++ != ':') return -1;
  int mi = digits(&p, 2);
  if (mi < 0 || mi > 59) return -1;
  int sec = 0, frac = 0;
  if (*p == ':') {
    p++;
    sec = digits(&p, 2);
    if (sec < 0 || sec > 59) return -1;
    if (*p == '.') {
      p++;
      int nd = 0;
      for (; isdigit((unsigned char)*p); p++, nd++) {
        if (nd < 3) frac = frac * 10 + (*p - '0');
        else if (*p != '0') return -1; /* below a millisecond */
      }
      if (nd == 0) return -1;
      for (int i = nd; i < 3; i++) frac *= 10; /* ".5" is 500 ms */
    }
  }
  t += h * 3600000LL + mi * 60000LL + sec * 1000LL + frac;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1;
    int zh = digits(&p, 2), zm = 0;
    if (zh < 0 || zh > 23) return -1;
    if (*p == ':') {
      p++;
      zm = digits(&p, 2);
      if (zm < 0) return -1;
    } else if (isdigit((unsigned char)*p)) {
      zm = digits(&p, 2);
      if (zm < 0) return -1;
    }
    if (zm > 59) return -1;
    /* Local time = UTC + offset. */
    t -= sign * (zh * 3600000LL + zm * 60000LL);
  }
  if (*p != '\0') return -1;
  /* A zone can carry 0000-01-01 or 9999-12-31 out of four-digit years. */
  if (t < TIME_MIN_MS || t >= TIME_MAX_MS) return -1;
  *ms = t;
  return 0;
}

void ms_time_format_iso(int64_t ms, char *buf, size_t n) {
  if (!buf || n == 0) return;
  int64_t day = ms / 86400000LL, rem = ms % 86400000LL;
  if (rem < 0) { rem += 86400000LL; day--; }
  int64_t y;
  int m, d;
  civil_from_days(day, &y, &m, &d);
  int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), sec = (int)(rem / 1000 % 60);
  int frac = (int)(rem % 1000);
  if (frac)
    snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d, h, mi, sec, frac);
  else
    snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, h, mi, sec);
}

/* ---- fields --------------------------------------------------------------- */

/* One line of text: [p, end) without its line end. */
typedef struct {
  const char *p, *end;
} span;

/* A cursor over the fields of one line. */
typedef struct {
  const char *p, *end;
  int done;                     /* the last field has been returned */
} fields;

/* The next field of @p f, unquoted, into buf (cut at bufsize-1 bytes; *len
 * is its full length). 1 when a field was read, 0 at the end of the line,
 * -1 when a quote is unterminated or followed by other characters. */
static int next_field(fields *f, char *buf, size_t bufsize, size_t *len) {
  if (f->done) return 0;
  const char *p = f->p;
  size_t k = 0;
  while (p < f->end && (*p == ' ' || *p == '\t')) p++;
  if (p < f->end && *p == '"') {
    p++;
    for (;;) {
      if (p >= f->end) return -1;
      if (*p == '"') {
        if (p + 1 < f->end && p[1] == '"') {
          if (k + 1 < bufsize) buf[k] = '"';
          k++;
          p += 2;
          continue;
        }
        p++;
        break;
      }
      if (k + 1 < bufsize) buf[k] = *p;
      k++;
      p++;
    }
    while (p < f->end && (*p == ' ' || *p == '\t')) p++;
    if (p < f->end && *p != ',') return -1;
  } else {
    const char *q = p;
    while (q < f->end && *q != ',') q++;
    const char *e = q;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    for (const char *c = p; c < e; c++) {
      if (k + 1 < bufsize) buf[k] = *c;
      k++;
    }
    p = q;
  }
  if (bufsize) buf[k < bufsize ? k : bufsize - 1] = '\0';
  *len = k;
  if (p < f->end) f->p = p + 1; /* past the comma: another field follows */
  else f->done = 1;
  return 1;
}

static int is_blank(span l) {
  for (const char *c = l.p; c < l.end; c++)
    if (!isspace((unsigned char)*c)) return 0;
  return 1;
}

/* Next line of [*pos, end): 1 and *l, or 0 at the end of the text. */
static int next_line(const char **pos, const char *end, span *l) {
  if (*pos >= end) return 0;
  const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
  const char *e = nl ? nl : end;
  l->p = *pos;
  l->end = e > *pos && e[-1] == '\r' ? e - 1 : e;
  *pos = nl ? nl + 1 : end;
  return 1;
}

/* A price: 1 parsed, 0 unparsable, -1 not finite ("nan", "inf", 1e999). */
static int parse_price(const char *s, size_t len, double *out) {
  if (len == 0 || len != strlen(s)) return 0;
  if (!strcasecmp(s, "nan") || !strcasecmp(s, "inf") || !strcasecmp(s, "-inf") ||
      !strcasecmp(s, "+inf") || !strcasecmp(s, "infinity") || !strcasecmp(s, "-infinity") ||
      !strcasecmp(s, "-nan") || !strcasecmp(s, "+infinity"))
    return -1;
  /* strtod would also take hex floats and leading spaces: not prices. */
  for (const char *c = s; *c; c++)
    if (!(isdigit((unsigned char)*c) || *c == '.' || *c == 'e' || *c == 'E' || *c == '+' ||
          *c == '-'))
      return 0;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end) return 0;
  if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) return -1;
  *out = v;
  return 1;
}

/* A time: 0 and *ms, or -1. */
static int parse_time(const char *s, size_t len, int64_t *ms) {
  if (len == 0 || len != strlen(s)) return -1;
  size_t i = 0;
  while (i < len && isdigit((unsigned char)s[i])) i++;
  if (i == len) {
    if (len > 15) return -1; /* past TIME_MAX_MS in any unit */
    long long v = strtoll(s, NULL, 10);
    int64_t t = v >= EPOCH_MS_THRESHOLD ? v : v * 1000LL;
    if (t >= TIME_MAX_MS) return -1;
    *ms = t;
    return 0;
  }
  return ms_time_parse_iso(s, ms);
}

/* ---- the series ------------------------------------------------------------ */

void ms_series_free(ms_series *s) {
  if (!s) return;
  free(s->c);
  free(s->gap_after);
  free(s->line);
  free(s);
}

static uint64_t fnv1a64(const char *p, size_t n) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* The header's column names, for a message: "a, b, c" (cut when long). */
static void header_list(span l, char *buf, size_t n) {
  fields f = {l.p, l.end, 0};
  char name[64];
  size_t len, k = 0;
  buf[0] = '\0';
  int r;
  while ((r = next_field(&f, name, sizeof name, &len)) == 1 && k + 4 < n) {
    int w = snprintf(buf + k, n - k, "%s%s", k ? ", " : "", name);
    if (w < 0) break;
    k += (size_t)w;
  }
}

/* Read the header: the index of each column role, and the number of columns. */
static ms_status read_header(span l, const char *name, int64_t *col, int64_t *ncols,
                             ms_error *err) {
  int64_t time_rank = -1; /* index in time_names of the time column taken */
  for (int k = 0; k < NCOL; k++) col[k] = -1;
  fields f = {l.p, l.end, 0};
  char buf[64];
  size_t len;
  int64_t i = 0;
  int r;
  while ((r = next_field(&f, buf, sizeof buf, &len)) == 1) {
    if (len < sizeof buf) {
      for (size_t k = 0; k < sizeof time_names / sizeof time_names[0]; k++)
        if (!strcasecmp(buf, time_names[k]) && (time_rank < 0 || (int64_t)k < time_rank)) {
          time_rank = (int64_t)k;
          col[COL_TIME] = i;
        }
      for (int k = 0; k < 4; k++)
        if (col[COL_OPEN + k] < 0 && !strcasecmp(buf, price_names[k])) col[COL_OPEN + k] = i;
    }
    i++;
  }
  if (r < 0)
    return ms_error_set(err, MS_ERR_INPUT, "%s:1: malformed header: a quoted column name is not closed",
                        name);
  *ncols = i;
  char missing[64] = "";
  if (col[COL_TIME] < 0) snprintf(missing, sizeof missing, "time column");
  else
    for (int k = 0; k < 4 && !missing[0]; k++)
      if (col[COL_OPEN + k] < 0) snprintf(missing, sizeof missing, "'%s' column", price_names[k]);
  if (missing[0]) {
    char found[512];
    header_list(l, found, sizeof found);
    return ms_error_set(err, MS_ERR_INPUT,
                        "%s:1: the header has no %s (found: %s); a price series needs a header line naming "
                        "a time column (" TIME_COLUMNS ") and open, high, low, close",
                        name, missing, found);
  }
  return MS_OK;
}

/* Text of a number for a message (the shortest that reads back). */
static const char *num(double v, char *buf, size_t n) {
  ms_units_format_number(v, buf, n);
  return buf;
}

static const char *iso(int64_t t, char *buf, size_t n) {
  ms_time_format_iso(t, buf, n);
  return buf;
}

/* Parse and check one data line into *c (times not yet against the others). */
static ms_status read_row(span l, int64_t lineno, const char *name, const int64_t *col, int64_t ncols,
                          const char *const *colname, ms_candle *c, ms_error *err) {
  char val[NCOL][FIELD_MAX];
  size_t vlen[NCOL] = {0};
  fields f = {l.p, l.end, 0};
  char skip[2];
  size_t len;
  int64_t i = 0;
  int r;
  for (;;) {
    int role = -1;
    for (int k = 0; k < NCOL; k++)
      if (col[k] == i) role = k;
    r = role >= 0 ? next_field(&f, val[role], FIELD_MAX, &vlen[role]) : next_field(&f, skip, sizeof skip, &len);
    if (r != 1) break;
    i++;
  }
  if (r < 0)
    return ms_error_set(err, MS_ERR_INPUT, "%s:%lld: malformed line: a quoted field (field %lld) is not closed "
                        "or is followed by more than a comma", name, (long long)lineno, (long long)i + 1);
  if (i != ncols)
    return ms_error_set(err, MS_ERR_INPUT, "%s:%lld: malformed line: %lld field%s, the header (line 1) has %lld",
                        name, (long long)lineno, (long long)i, i == 1 ? "" : "s", (long long)ncols);
  if (vlen[COL_TIME] >= FIELD_MAX || parse_time(val[COL_TIME], vlen[COL_TIME], &c->t) != 0)
    return ms_error_set(err, MS_ERR_INPUT,
                        "%s:%lld: malformed line: column '%s': cannot read the time \"%.40s\" (a time is epoch "
                        "milliseconds when digits >= 1e11, epoch seconds when smaller, or ISO 8601 like "
                        "2022-01-01T00:00:00Z, 2022-01-01 00:00:00, 2022-01-01 00:00:00+00:00; before year 10000)",
                        name, (long long)lineno, colname[COL_TIME], val[COL_TIME]);
  double *px[4] = {&c->open, &c->high, &c->low, &c->close};
  for (int k = 0; k < 4; k++) {
    int role = COL_OPEN + k;
    int pr = vlen[role] >= FIELD_MAX ? 0 : parse_price(val[role], vlen[role], px[k]);
    if (pr == 0)
      return ms_error_set(err, MS_ERR_INPUT, "%s:%lld: malformed line: column '%s': cannot read the number \"%.40s\"",
                          name, (long long)lineno, colname[role], val[role]);
    if (pr < 0)
      return ms_error_set(err, MS_ERR_INPUT, "%s:%lld: column '%s': the price %.40s is not finite", name,
                          (long long)lineno, colname[role], val[role]);
    if (!(*px[k] > 0))
      return ms_error_set(err, MS_ERR_INPUT, "%s:%lld: column '%s': the price %.40s is not positive", name,
                          (long long)lineno, colname[role], val[role]);
  }
  double lo = fmin(c->open, c->close), hi = fmax(c->open, c->close);
  if (c->low > lo || c->high < hi) {
    char o[32], h[32], lw[32], cl[32];
    return ms_error_set(err, MS_ERR_INPUT,
                        "%s:%lld: inconsistent candle: %s (open %s, high %s, low %s, close %s); a candle needs "
                        "low <= min(open, close) and max(open, close) <= high",
                        name, (long long)lineno,
                        c->low > lo ? "low above min(open, close)" : "high below max(open, close)",
                        num(c->open, o, sizeof o), num(c->high, h, sizeof h), num(c->low, lw, sizeof lw),
                        num(c->close, cl, sizeof cl));
  }
  return MS_OK;
}

ms_status ms_series_parse(ms_series **out, const char *text, size_t len, const char *name, ms_error *err) {
  *out = NULL;
  if (!name) name = "(text)";
  if (len > (size_t)MS_SERIES_MAX_BYTES)
    return ms_error_set(err, MS_ERR_INPUT, "%s: %zu bytes, over the %lld MB limit of a price series "
                        "(cut it to the window needed, or resample it)", name, len,
                        MS_SERIES_MAX_BYTES >> 20);
  ms_status st = MS_OK;
  ms_series *s = calloc(1, sizeof *s);
  if (!s) return ms_error_set(err, MS_ERR_NOMEM, "%s: out of memory", name);
  snprintf(s->name, sizeof s->name, "%s", name);
  s->hash = fnv1a64(text, len);

  const char *pos = text, *end = text + len;
  if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) pos += 3;
  span l;
  if (!next_line(&pos, end, &l) || is_blank(l)) {
    st = ms_error_set(err, MS_ERR_INPUT, "%s:1: no header line; a price series needs one naming a time "
                      "column (" TIME_COLUMNS ") and open, high, low, close", name);
    goto out;
  }
  int64_t col[NCOL], ncols = 0;
  if ((st = read_header(l, name, col, &ncols, err)) != MS_OK) goto out;
  /* The names as the header writes them, for messages. */
  char colname[NCOL][64];
  const char *colp[NCOL];
  {
    fields f = {l.p, l.end, 0};
    char buf[64];
    size_t flen;
    for (int64_t i = 0; next_field(&f, buf, sizeof buf, &flen) == 1; i++)
      for (int k = 0; k < NCOL; k++)
        if (col[k] == i) snprintf(colname[k], sizeof colname[k], "%s", buf);
    for (int k = 0; k < NCOL; k++) colp[k] = colname[k];
  }

  int64_t cap = 0, lineno = 1;
  while (next_line(&pos, end, &l)) {
    lineno++;
    if (is_blank(l)) {
      /* Blank lines may end the file, nothing else: one inside the data
       * would hide a cut or a paste. */
      const char *p2 = pos;
      span l2;
      int64_t ln2 = lineno;
      while (next_line(&p2, end, &l2)) {
        ln2++;
        if (!is_blank(l2)) {
          st = ms_error_set(err, MS_ERR_INPUT, "%s:%lld: malformed line: a blank line inside the data "
                            "(line %lld follows it)", name, (long long)lineno, (long long)ln2);
          goto out;
        }
      }
      break;
    }
    if (s->n == cap) {
      int64_t nc = cap ? 2 * cap : 1024;
      ms_candle *c2 = realloc(s->c, (size_t)nc * sizeof *c2);
      if (c2) s->c = c2;
      int32_t *l2 = c2 ? realloc(s->line, (size_t)nc * sizeof *l2) : NULL;
      if (l2) s->line = l2;
      if (!c2 || !l2) {
        st = ms_error_set(err, MS_ERR_NOMEM, "%s: out of memory at line %lld", name, (long long)lineno);
        goto out;
      }
      cap = nc;
    }
    ms_candle *c = &s->c[s->n];
    if ((st = read_row(l, lineno, name, col, ncols, colp, c, err)) != MS_OK) goto out;
    if (s->n > 0) {
      const ms_candle *pc = &s->c[s->n - 1];
      long long pl = s->line[s->n - 1];
      char a[40], b[40];
      if (c->t == pc->t) {
        st = ms_error_set(err, MS_ERR_INPUT, "%s:%lld: duplicate timestamp %s: line %lld and line %lld", name,
                          (long long)lineno, iso(c->t, a, sizeof a), pl, (long long)lineno);
        goto out;
      }
      if (c->t < pc->t) {
        st = ms_error_set(err, MS_ERR_INPUT, "%s:%lld: not in ascending order: line %lld at %s after line %lld at %s",
                          name, (long long)lineno, (long long)lineno, iso(c->t, a, sizeof a), pl,
                          iso(pc->t, b, sizeof b));
        goto out;
      }
    }
    s->line[s->n++] = (int32_t)lineno;
  }
  if (s->n < 2) {
    st = ms_error_set(err, MS_ERR_INPUT, "%s:%lld: %lld candle%s; a price series needs at least 2", name,
                      (long long)lineno, (long long)s->n, s->n == 1 ? "" : "s");
    goto out;
  }

  /* The resolution is the smallest spacing; every other one is a whole
   * multiple of it, a gap when larger. */
  int64_t res = INT64_MAX, rat = 0;
  for (int64_t i = 0; i + 1 < s->n; i++)
    if (s->c[i + 1].t - s->c[i].t < res) {
      res = s->c[i + 1].t - s->c[i].t;
      rat = i;
    }
  s->resolution = res;
  for (int64_t i = 0; i + 1 < s->n; i++) {
    int64_t dt = s->c[i + 1].t - s->c[i].t;
    if (dt % res != 0) {
      char a[40], b[40], d1[32], d2[32];
      st = ms_error_set(err, MS_ERR_INPUT,
                        "%s:%d: irregular candles: line %d at %s is %s after line %d at %s, not a whole "
                        "multiple of the resolution %s (the smallest spacing, lines %d-%d)",
                        name, s->line[i + 1], s->line[i + 1], iso(s->c[i + 1].t, a, sizeof a),
                        (ms_units_format_duration(dt, d1, sizeof d1), d1), s->line[i], iso(s->c[i].t, b, sizeof b),
                        (ms_units_format_duration(res, d2, sizeof d2), d2), s->line[rat], s->line[rat + 1]);
      goto out;
    }
    if (dt > res) s->ngaps++;
  }
  if (s->ngaps) {
    s->gap_after = malloc((size_t)s->ngaps * sizeof *s->gap_after);
    if (!s->gap_after) {
      st = ms_error_set(err, MS_ERR_NOMEM, "%s: out of memory", name);
      goto out;
    }
    int64_t k = 0;
    for (int64_t i = 0; i + 1 < s->n; i++)
      if (s->c[i + 1].t - s->c[i].t > res) s->gap_after[k++] = i;
  }
out:
  if (st != MS_OK) {
    ms_series_free(s);
    return st;
  }
  *out = s;
  return MS_OK;
}

ms_status ms_series_read(ms_series **out, const char *path, ms_error *err) {
  *out = NULL;
  /* Non-blocking, so that a FIFO without a writer cannot hang the open; a
   * device, FIFO, socket or directory is refused unread (as scenarios are). */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ms_error_set(err, MS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    int e = errno;
    close(fd);
    if (S_ISDIR(sb.st_mode) || S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) || S_ISFIFO(sb.st_mode) ||
        S_ISSOCK(sb.st_mode))
      return ms_error_set(err, MS_ERR_INPUT, "%s: a price series must be a regular file (this is a %s)", path,
                          S_ISDIR(sb.st_mode) ? "directory" : S_ISCHR(sb.st_mode) ? "character device"
                          : S_ISBLK(sb.st_mode) ? "block device" : S_ISFIFO(sb.st_mode) ? "FIFO" : "socket");
    return ms_error_set(err, MS_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
  }
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    close(fd);
    return ms_error_set(err, MS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  }
  char *buf = NULL;
  ms_status st = MS_OK;
  /* Refused before reading; the read below still stops one byte past the
   * limit should the file grow meanwhile. */
  if ((long long)sb.st_size > MS_SERIES_MAX_BYTES) {
    st = ms_error_set(err, MS_ERR_INPUT, "%s: %lld bytes, over the %lld MB limit of a price series "
                      "(cut it to the window needed, or resample it)", path, (long long)sb.st_size,
                      MS_SERIES_MAX_BYTES >> 20);
    goto out;
  }
  size_t cap = sb.st_size > 0 ? (size_t)sb.st_size + 1 : 65536, len = 0;
  buf = malloc(cap);
  if (!buf) {
    st = ms_error_set(err, MS_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  for (;;) {
    if (len == cap) {
      if ((long long)cap > MS_SERIES_MAX_BYTES) break;
      size_t nc = cap * 2;
      char *b2 = realloc(buf, nc);
      if (!b2) {
        st = ms_error_set(err, MS_ERR_NOMEM, "%s: out of memory", path);
        goto out;
      }
      buf = b2;
      cap = nc;
    }
    size_t r = fread(buf + len, 1, cap - len, f);
    len += r;
    if (r == 0) break;
  }
  if (ferror(f)) {
    st = ms_error_set(err, MS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    goto out;
  }
  st = ms_series_parse(out, buf, len, path, err);
out:
  free(buf);
  fclose(f);
  return st;
}

int64_t ms_series_lower_bound(const ms_series *s, int64_t t) {
  int64_t lo = 0, hi = s->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (s->c[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
