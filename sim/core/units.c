/*
 * units — parse and print numbers, durations and rates (see units.h).
 *
 * Printing uses the shortest decimal that reads back bit-for-bit, so a
 * resolved configuration written by `marginsim validate` loads to the very
 * same configuration.
 */
#include "core/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ms_units_parse_number(const char *s, double *out) {
  if (!s) return -1;
  while (isspace((unsigned char)*s)) s++;
  if (!*s) return -1;
  /* strtod accepts hex floats, "inf" and "nan": none belongs in a scenario. */
  for (const char *p = s; *p; p++)
    if (!(isdigit((unsigned char)*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
          *p == '-' || isspace((unsigned char)*p)))
      return -1;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno == ERANGE) return -1;
  while (isspace((unsigned char)*end)) end++;
  if (*end) return -1;
  if (!isfinite(v)) return -1;
  *out = v;
  return 0;
}

int ms_units_parse_percent(const char *s, double *out) {
  size_t len = s ? strlen(s) : 0;
  char num[64], shifted[96];
  if (len == 0 || s[len - 1] != '%' || len - 1 >= sizeof num) return -1;
  memcpy(num, s, len - 1);
  while (len > 1 && isspace((unsigned char)num[len - 2])) len--;
  num[len - 1] = '\0';
  if (ms_units_parse_number(num, out) != 0) return -1; /* a number's syntax and range first */
  /* the decimal with its exponent two lower: "1.1%" reads as "0.011" does
   * (1.1 / 100 in doubles is an ulp above it) */
  char *e = strpbrk(num, "eE");
  long x = e ? strtol(e + 1, NULL, 10) : 0;
  if (e) *e = '\0';
  x = x < -9999 ? -9999 : x > 9999 ? 9999 : x; /* beyond, only a zero reads as a number */
  snprintf(shifted, sizeof shifted, "%se%ld", num, x - 2);
  return ms_units_parse_number(shifted, out) != 0 ? -1 : 0;
}

int ms_units_parse_int(const char *s, long long *out) {
  double v;
  if (ms_units_parse_number(s, &v) != 0) return -1;
  if (v != floor(v) || fabs(v) > 9007199254740992.0) return -1;
  *out = (long long)v;
  return 0;
}

/* Split "12.5ms" into the number part and the unit suffix. */
static int split_unit(const char *s, char *num, size_t nnum, const char **unit) {
  while (isspace((unsigned char)*s)) s++;
  size_t len = strlen(s);
  while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
  size_t i = len;
  while (i > 0 && isalpha((unsigned char)s[i - 1])) i--;
  if (i == 0 || i >= nnum) return -1;
  memcpy(num, s, i);
  num[i] = '\0';
  *unit = s + i;
  return (int)(len - i);
}

int ms_units_parse_duration(const char *s, int64_t *ms) {
  if (!s) return -1;
  char num[64];
  const char *unit = NULL;
  int ulen = split_unit(s, num, sizeof num, &unit);
  if (ulen < 0) return -1;
  double v;
  if (ms_units_parse_number(num, &v) != 0) return -1;
  double scale;
  if (ulen == 0) {
    if (v == 0.0) { *ms = 0; return 0; }
    return -3;
  } else if (ulen == 2 && strncmp(unit, "ms", 2) == 0) scale = 1.0;
  else if (ulen == 1 && unit[0] == 's') scale = (double)MS_MS_PER_SECOND;
  else if (ulen == 1 && unit[0] == 'm') scale = (double)MS_MS_PER_MINUTE;
  else if (ulen == 1 && unit[0] == 'h') scale = (double)MS_MS_PER_HOUR;
  else if (ulen == 1 && unit[0] == 'd') scale = (double)MS_MS_PER_DAY;
  else return -1;
  double t = v * scale;
  if (!(fabs(t) <= (double)MS_DURATION_MAX_MS)) return -1;
  double r = nearbyint(t);
  if (fabs(t - r) > 1e-6 * fmax(1.0, fabs(t))) return -2;
  *ms = (int64_t)r;
  return 0;
}

int ms_units_parse_rate(const char *s, double *per_day) {
  if (!s) return -1;
  const char *slash = strchr(s, '/');
  double v;
  if (!slash) {
    if (ms_units_parse_number(s, &v) == 0 && v == 0.0) { *per_day = 0.0; return 0; }
    return -1;
  }
  char num[64];
  size_t n = (size_t)(slash - s);
  if (n == 0 || n >= sizeof num) return -1;
  memcpy(num, s, n);
  num[n] = '\0';
  if (ms_units_parse_number(num, &v) != 0) return -1;
  const char *u = slash + 1;
  while (isspace((unsigned char)*u)) u++;
  double per;
  if (strcmp(u, "d") == 0) per = 1.0;
  else if (strcmp(u, "h") == 0) per = 24.0;
  else if (strcmp(u, "m") == 0) per = 1440.0;
  else if (strcmp(u, "s") == 0) per = 86400.0;
  else if (strcmp(u, "y") == 0) return -1;
  else return -1;
  /* 1e308/s is finite as written but not as events per day */
  if (!isfinite(v * per)) return -2;
  *per_day = v * per;
  return 0;
}

void ms_units_format_number(double v, char *buf, size_t n) {
  if (!buf || n == 0) return; /* (and GCC's -Wformat-truncation under the sanitizers then knows buf is set) */
  /* Whole numbers print as such (5000, not 5e+03) up to 2^53. */
  if (v == floor(v) && fabs(v) < 9007199254740992.0) {
    snprintf(buf, n, "%.0f", v);
    if (strcmp(buf, "-0") == 0) snprintf(buf, n, "0");
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    int w = snprintf(buf, n, "%.*g", prec, v);
    if (w < 0 || (size_t)w >= n) break; /* too small a buffer: the fallback below truncates */
    if (strtod(buf, NULL) == v) return;
  }
  snprintf(buf, n, "%.17g", v);
}

void ms_units_format_duration(int64_t ms, char *buf, size_t n) {
  static const struct { int64_t scale; const char *name; } units[] = {
      {MS_MS_PER_DAY, "d"}, {MS_MS_PER_HOUR, "h"}, {MS_MS_PER_MINUTE, "m"},
      {MS_MS_PER_SECOND, "s"}, {1, "ms"}};
  if (ms == 0) { snprintf(buf, n, "0s"); return; }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (ms % units[i].scale == 0) {
      snprintf(buf, n, "%lld%s", (long long)(ms / units[i].scale), units[i].name);
      return;
    }
  }
}

void ms_units_format_rate(double per_day, char *buf, size_t n) {
  char num[40];
  ms_units_format_number(per_day, num, sizeof num);
  snprintf(buf, n, "%s/d", num);
}
