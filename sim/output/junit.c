/*
 * junit — JUnit XML for `marginsim check --junit FILE` (see junit.h).
 */
#include "output/junit.h"
#include "output/outfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bytes in a valid UTF-8 sequence at @p s that XML 1.0 allows (not a surrogate, U+FFFE or U+FFFF), 0
 * otherwise: a scenario's name may hold any character its escapes spell, and its file name any bytes. */
static int xml_utf8(const unsigned char *s) {
  unsigned char c = s[0];
#define CONT(b) ((b) >= 0x80 && (b) <= 0xBF)
  if (c >= 0xC2 && c <= 0xDF) return CONT(s[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    if (s[1] < lo || s[1] > hi || !CONT(s[2])) return 0;
    return c == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF) ? 0 : 3; /* U+FFFE, U+FFFF */
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return s[1] >= lo && s[1] <= hi && CONT(s[2]) && CONT(s[3]) ? 4 : 0;
  }
#undef CONT
  return 0;
}

static void xml_text(FILE *f, const char *str) {
  for (const unsigned char *s = (const unsigned char *)str; *s;) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&apos;", f); break;
    default:
      if (*s >= 0x80) { /* a character XML allows as it is, else one '?' per byte (the report stays well-formed) */
        int n = xml_utf8(s);
        if (n) fwrite(s, 1, (size_t)n, f);
        else fputc('?', f);
        s += n ? n : 1;
        continue;
      }
      /* XML 1.0 allows no control characters but tab and newlines */
      if (*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r') fputc('?', f);
      else fputc(*s, f);
    }
    s++;
  }
}

static int is_report(const char *path) {
  return ms_outfile_starts_with(path, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"marginsim check\"");
}

const ms_outfile_kind ms_junit_kind = {"a JUnit report of marginsim check", is_report};

ms_status ms_junit_write(const char *path, const ms_config *cfg, const ms_assert_result *r, int n,
                         double seconds, ms_error *err) {
  ms_outfile o;
  ms_status s = ms_outfile_open(&o, path, &ms_junit_kind, err);
  if (s) return s;
  FILE *f = fdopen(o.fd, "w");
  if (!f) {
    s = ms_error_set(err, MS_ERR_IO, "%s: cannot write the JUnit report (%s)", path, strerror(errno));
    ms_outfile_abort(&o);
    return s;
  }
  int failures = 0;
  for (int i = 0; i < n; i++) failures += !r[i].passed;
  char stamp[40];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f, "<testsuites name=\"marginsim check\" tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n", n,
          failures, seconds);
  fprintf(f, "  <testsuite name=\"");
  xml_text(f, cfg->name);
  fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\" time=\"%.3f\" timestamp=\"%s\">\n", n,
          failures, seconds, stamp);
  fprintf(f, "    <properties>\n      <property name=\"scenario\" value=\"");
  xml_text(f, cfg->source_path);
  fprintf(f, "\"/>\n      <property name=\"seed\" value=\"%llu\"/>\n      <property name=\"paths\" value=\"%lld\"/>\n",
          (unsigned long long)cfg->seed, (long long)cfg->paths);
  fprintf(f, "      <property name=\"version\" value=\"%s\"/>\n    </properties>\n", MS_VERSION);
  for (int i = 0; i < n; i++) {
    const ms_assertion_cfg *a = r[i].a;
    char desc[512], name[400];
    ms_assertion_describe(&r[i], desc, sizeof desc);
    if (a->confidence > 0) snprintf(name, sizeof name, "%s (confidence %g)", a->text, a->confidence);
    else snprintf(name, sizeof name, "%s", a->text);
    fprintf(f, "    <testcase name=\"");
    xml_text(f, name);
    fprintf(f, "\" classname=\"marginsim.");
    xml_text(f, cfg->name);
    fprintf(f, "\" file=\"");
    xml_text(f, cfg->source_path);
    fprintf(f, "\" time=\"0\">\n");
    if (!r[i].passed) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s; expected %s %s %.6g%s", desc, a->statistic, ms_assert_op_text(a->op),
               a->threshold, r[i].point_passes ? " (the estimate does, the interval does not yet)" : "");
      fprintf(f, "      <failure type=\"AssertionFailed\" message=\"");
      xml_text(f, msg);
      fprintf(f, "\">");
      xml_text(f, a->where);
      fprintf(f, ": ");
      xml_text(f, msg);
      fprintf(f, "</failure>\n");
    }
    fprintf(f, "      <system-out>");
    xml_text(f, desc);
    fprintf(f, "</system-out>\n    </testcase>\n");
  }
  fprintf(f, "  </testsuite>\n</testsuites>\n");
  /* Every failure to write (a full disk) shows at the latest in the flush,
   * the sync or the close; the temporary then goes and the previous report stays. */
  int bad = fflush(f) != 0 || ferror(f);
  int e = bad ? errno : 0;
  if (!bad && fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS) bad = 1, e = errno;
  o.fd = -1; /* fclose closes it */
  if (fclose(f) != 0 && !bad) bad = 1, e = errno;
  if (bad) {
    s = ms_error_set(err, MS_ERR_IO, "%s: cannot write the JUnit report (%s)", path, e ? strerror(e) : "I/O error");
    ms_outfile_abort(&o);
    return s;
  }
  return ms_outfile_commit(&o, err);
}
