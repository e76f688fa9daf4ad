/*
 * test_series — the OHLC reader: each layout of scenarios/data/, the checks
 * and their messages (file and line), ISO times against hand-computed epoch
 * values, and every file the project ships read through ms_series_read.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/series.h"
#include "testutil.h"

/* Hand-computed: 2020-01-01T00:00:00Z is 1577836800 s (50 years of 365 days
 * and 12 leap days: 18262 days x 86400 s). */
#define T2020 1577836800000LL
#define HOUR 3600000LL
#define DAY 86400000LL

static ms_series *parse_ok(const char *text) {
  ms_series *s = NULL;
  ms_error err;
  ms_error_clear(&err);
  assert_ok(ms_series_parse(&s, text, strlen(text), "t.csv", &err), &err);
  assert_non_null(s);
  return s;
}

/* Parsing @p text fails with bad input and a message containing each of the
 * NULL-terminated strings. */
static void parse_fails(const char *text, ...) {
  ms_series *s = (ms_series *)1;
  ms_error err;
  ms_error_clear(&err);
  ms_status st = ms_series_parse(&s, text, strlen(text), "t.csv", &err);
  if (st == MS_OK) fail_msg("expected an error, the series was read (%lld candles)", (long long)s->n);
  assert_null(s);
  assert_int_equal(st, MS_ERR_INPUT);
  va_list ap;
  va_start(ap, text);
  for (const char *want; (want = va_arg(ap, const char *)) != NULL;) assert_contains(err.msg, want);
  va_end(ap);
}

static void expect_candle(const ms_candle *c, int64_t t, double o, double h, double l, double cl) {
  assert_int_equal(c->t, t);
  assert_true(c->open == o);
  assert_true(c->high == h);
  assert_true(c->low == l);
  assert_true(c->close == cl);
}

/* ---- layouts -------------------------------------------------------------- */

/* The spot 1h files: timestamp without a zone (UTC), volume after. */
static void test_series__layout_spot_hourly(void **state) {
  (void)state;
  ms_series *s = parse_ok("timestamp,open,high,low,close,volume\n"
                          "2020-01-01 00:00:00,100,110,90,105,1.5\n"
                          "2020-01-01 01:00:00,105,106,101,102,2\n"
                          "2020-01-01 02:00:00,102,103,99.5,100.25,3\n");
  assert_int_equal(s->n, 3);
  expect_candle(&s->c[0], T2020, 100, 110, 90, 105);
  expect_candle(&s->c[2], T2020 + 2 * HOUR, 102, 103, 99.5, 100.25);
  assert_int_equal(s->resolution, HOUR);
  assert_int_equal(s->ngaps, 0);
  assert_int_equal(s->line[0], 2);
  assert_int_equal(s->line[2], 4);
  assert_string_equal(s->name, "t.csv");
  ms_series_free(s);
}

/* The perp 1h files: capitalised names, Date with +00:00. */
static void test_series__layout_perp_hourly(void **state) {
  (void)state;
  ms_series *s = parse_ok("Date,Open,High,Low,Close,Volume\n"
                          "2020-01-01 00:00:00+00:00,7189.43,7190.52,7170.15,7171.55,2449.049\n"
                          "2020-01-01 01:00:00+00:00,7171.43,7225.0,7171.1,7210.24,3865.038\n");
  assert_int_equal(s->n, 2);
  expect_candle(&s->c[0], T2020, 7189.43, 7190.52, 7170.15, 7171.55);
  expect_candle(&s->c[1], T2020 + HOUR, 7171.43, 7225.0, 7171.1, 7210.24);
  ms_series_free(s);
}

/* The BTC daily file: open_time in epoch ms, close_time ignored though it
 * comes after; symbol and timeframe before the prices. Also the same times
 * in epoch seconds, and quoted fields. */
static void test_series__layout_epoch_daily(void **state) {
  (void)state;
  ms_series *s = parse_ok("symbol,timeframe,open_time,close_time,open,high,low,close,volume,trades\n"
                          "BTCUSDT,1d,1577836800000,1577923199999,7195.24,7255,7175.15,7200.85,16792.4,194010\n"
                          "BTCUSDT,1d,1577923200000,1578009599999,7200.77,7212.5,6924.74,6965.71,31951.5,302667\n");
  assert_int_equal(s->n, 2);
  expect_candle(&s->c[0], T2020, 7195.24, 7255, 7175.15, 7200.85);
  assert_int_equal(s->c[1].t, T2020 + DAY);
  assert_int_equal(s->resolution, DAY);
  ms_series_free(s);

  /* Seconds: below 1e11. "time" is taken when nothing better is there;
   * "timestamp" is preferred over "date" wherever it stands. */
  s = parse_ok("Time,o_ignored,OPEN,HIGH,LOW,CLOSE\n1577836800,x,1,2,0.5,1.5\n1577840400,y,1.5,2,1,1\n");
  assert_int_equal(s->c[0].t, T2020);
  assert_int_equal(s->c[1].t, T2020 + HOUR);
  ms_series_free(s);
  s = parse_ok("date,open,high,low,close,timestamp\nnot-a-time,1,2,0.5,1.5,1577836800000\n"
               "also-not,1.5,2,1,1,1577840400000\n");
  assert_int_equal(s->c[1].t, T2020 + HOUR);
  ms_series_free(s);
  s = parse_ok("\"timestamp\",\"open\",\"high\",\"low\",\"close\",\"symbol\"\n"
               "\"2020-01-01T00:00:00Z\",\"1\",\"2\",\"0.5\",\"1.5\",\"A,\"\"B\"\"\"\n"
               " \"2020-01-01T01:00:00Z\" ,1.5, 2 ,1,1,x\n");
  assert_int_equal(s->n, 2);
  expect_candle(&s->c[1], T2020 + HOUR, 1.5, 2, 1, 1);
  ms_series_free(s);
}

static void test_series__missing_column(void **state) {
  (void)state;
  parse_fails("timestamp,open,high,close\n2020-01-01,1,2,1.5\n2020-01-02,1,2,1.5\n", "t.csv:1:", "'low' column",
              "found: timestamp, open, high, close", "open_time", "datetime", NULL);
  parse_fails("close_time,open,high,low,close\n1,1,2,0.5,1.5\n2,1,2,0.5,1.5\n", "t.csv:1:", "no time column",
              "timestamp, open_time, date, datetime or time", NULL);
  parse_fails("", "t.csv:1:", "no header line", NULL);
}

/* ---- line ends, BOM, blank lines -------------------------------------------- */

static void test_series__crlf_bom(void **state) {
  (void)state;
  const char *lf = "timestamp,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n2020-01-02,1.5,3,1,2\n";
  const char *crlf = "\xEF\xBB\xBFtimestamp,open,high,low,close\r\n2020-01-01,1,2,0.5,1.5\r\n"
                     "2020-01-02,1.5,3,1,2\r\n\r\n  \r\n";
  ms_series *a = parse_ok(lf), *b = parse_ok(crlf);
  assert_int_equal(b->n, 2);
  for (int i = 0; i < 2; i++) expect_candle(&b->c[i], a->c[i].t, a->c[i].open, a->c[i].high, a->c[i].low, a->c[i].close);
  assert_int_equal(b->resolution, DAY);
  assert_true(a->hash != b->hash); /* the bytes differ */
  ms_series_free(a);
  ms_series_free(b);
  /* A blank line is allowed at the end only. */
  parse_fails("timestamp,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n\n2020-01-02,1.5,3,1,2\n", "t.csv:3:",
              "blank line", "line 4", NULL);
}

/* ---- the checks ------------------------------------------------------------ */

static void test_series__reversed(void **state) {
  (void)state;
  parse_fails("timestamp,open,high,low,close\n"
              "2020-01-03,1,2,0.5,1.5\n2020-01-02,1,2,0.5,1.5\n2020-01-01,1,2,0.5,1.5\n",
              "t.csv:3: not in ascending order: line 3 at 2020-01-02T00:00:00Z after line 2 at 2020-01-03T00:00:00Z",
              NULL);
}

static void test_series__duplicate(void **state) {
  (void)state;
  parse_fails("timestamp,open,high,low,close\n"
              "2020-01-01,1,2,0.5,1.5\n2020-01-02,1,2,0.5,1.5\n2020-01-03,1,2,0.5,1.5\n"
              "2020-01-03 00:00:00+00:00,1,2,0.5,1.5\n",
              "t.csv:5: duplicate timestamp 2020-01-03T00:00:00Z: line 4 and line 5", NULL);
}

static void test_series__gap(void **state) {
  (void)state;
  /* 13:00 missing, as in the spot 1h files on 2023-03-24; and a three-hour
   * hole later. */
  ms_series *s = parse_ok("timestamp,open,high,low,close\n"
                          "2020-01-01 11:00,1,2,0.5,1.5\n2020-01-01 12:00,1,2,0.5,1.5\n"
                          "2020-01-01 14:00,1,2,0.5,1.5\n2020-01-01 15:00,1,2,0.5,1.5\n"
                          "2020-01-01 19:00,1,2,0.5,1.5\n");
  assert_int_equal(s->n, 5);
  assert_int_equal(s->resolution, HOUR);
  assert_int_equal(s->ngaps, 2);
  assert_int_equal(s->gap_after[0], 1);
  assert_int_equal(s->gap_after[1], 3);
  assert_int_equal(s->c[2].t, T2020 + 14 * HOUR);
  ms_series_free(s);
}

static void test_series__malformed(void **state) {
  (void)state;
  const char *h = "timestamp,open,high,low,close,volume\n2020-01-01,1,2,0.5,1.5,9\n";
  char buf[512];
  snprintf(buf, sizeof buf, "%s2020-01-02,1,2,0.5,1.5\n", h);
  parse_fails(buf, "t.csv:3:", "malformed line", "5 fields", "has 6", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,1,2,0.5,1.5,9,\n", h);
  parse_fails(buf, "t.csv:3:", "7 fields", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,1,2,0.5,1.5x,9\n", h);
  parse_fails(buf, "t.csv:3:", "column 'close'", "\"1.5x\"", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,0x10,2,0.5,1.5,9\n", h);
  parse_fails(buf, "t.csv:3:", "column 'open'", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,1,,0.5,1.5,9\n", h);
  parse_fails(buf, "t.csv:3:", "column 'high'", NULL);
  snprintf(buf, sizeof buf, "%s2020/01/02,1,2,0.5,1.5,9\n", h);
  parse_fails(buf, "t.csv:3:", "column 'timestamp'", "\"2020/01/02\"", "epoch milliseconds", ">= 1e11",
              "epoch seconds", NULL);
  snprintf(buf, sizeof buf, "%s\"2020-01-02,1,2,0.5,1.5,9\n", h);
  parse_fails(buf, "t.csv:3:", "quoted field", NULL);
  parse_fails("timestamp,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n", "t.csv:2:", "1 candle",
              "at least 2", NULL);
}

static void test_series__bad_prices(void **state) {
  (void)state;
  const char *h = "timestamp,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n";
  char buf[512];
  snprintf(buf, sizeof buf, "%s2020-01-02,100,110,101,105\n", h);
  parse_fails(buf, "t.csv:3:", "low above min(open, close)", "open 100, high 110, low 101, close 105", NULL);
  /* low > close only (open above it). */
  snprintf(buf, sizeof buf, "%s2020-01-02,104,110,101,100.5\n", h);
  parse_fails(buf, "t.csv:3:", "low above", "low 101, close 100.5", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,100,104,95,105\n", h);
  parse_fails(buf, "t.csv:3:", "high below max(open, close)", "open 100, high 104, low 95, close 105", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,0,2,0,1\n", h);
  parse_fails(buf, "t.csv:3:", "column 'open'", "not positive", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,1,2,-0.5,1\n", h);
  parse_fails(buf, "t.csv:3:", "column 'low'", "not positive", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,1,inf,0.5,1\n", h);
  parse_fails(buf, "t.csv:3:", "column 'high'", "not finite", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,1,1e999,0.5,1\n", h);
  parse_fails(buf, "t.csv:3:", "column 'high'", "not finite", NULL);
  snprintf(buf, sizeof buf, "%s2020-01-02,NaN,2,0.5,1\n", h);
  parse_fails(buf, "t.csv:3:", "column 'open'", "not finite", NULL);
}

static void test_series__irregular(void **state) {
  (void)state;
  /* Resolution 1h (lines 2-3); 13:00 -> 14:30 is not a multiple of it. */
  parse_fails("timestamp,open,high,low,close\n"
              "2020-01-01 12:00,1,2,0.5,1.5\n2020-01-01 13:00,1,2,0.5,1.5\n2020-01-01 14:30,1,2,0.5,1.5\n",
              "t.csv:4: irregular candles: line 4 at 2020-01-01T14:30:00Z is 90m after line 3", "resolution 1h",
              "lines 2-3", NULL);
  /* The smallest spacing comes last: the first spacing is then the odd one. */
  parse_fails("timestamp,open,high,low,close\n"
              "2020-01-01 12:00,1,2,0.5,1.5\n2020-01-01 14:30,1,2,0.5,1.5\n2020-01-01 15:30,1,2,0.5,1.5\n",
              "t.csv:3: irregular candles", "lines 3-4", NULL);
}

/* ---- times ------------------------------------------------------------------ */

static void test_series__iso_times(void **state) {
  (void)state;
  static const struct { const char *s; int64_t ms; } ok[] = {
      {"2020-01-01", T2020},
      {"2020-01-01T00:00:00Z", T2020},
      {"2020-01-01 00:00:00", T2020},
      {"2020-01-01T00:00", T2020},
      {"2020-01-01 00:00:00+00:00", T2020},
      {"2020-01-01T05:30:00+05:30", T2020},
      {"2020-01-01T05:30+0530", T2020},
      {"2020-01-01T02:00:00+02", T2020},
      {"2019-12-31T23:00:00-01:00", T2020},
      {"2019-12-31T19:00:00-0500", T2020},
      {"2020-01-01T00:00:00.5Z", T2020 + 500},
      {"2020-01-01T00:00:00.25", T2020 + 250},
      {"2020-01-01T00:00:00.123Z", T2020 + 123},
      {"2020-01-01T00:00:00.123000+00:00", T2020 + 123},
      {"2020-01-01T23:59:59.999Z", T2020 + DAY - 1},
      {"2020-02-29", 1582934400000LL},            /* leap year: 1577836800 + 59 d */
      {"2000-02-29T00:00:00Z", 951782400000LL},   /* 400-year leap: 2000-03-01 minus a day */
      {"2000-03-01", 951868800000LL},
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59.999Z", -1},
      {"2025-10-10 21:00:00", 1760130000000LL},
      {"0000-01-01T00:00:00Z", -62167219200000LL},    /* 719528 days before 1970 */
      {"9999-12-31T23:59:59.999Z", 253402300799999LL}, /* 2932897 days after, less 1 ms */
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t v = 42;
    if (ms_time_parse_iso(ok[i].s, &v) != 0) fail_msg("refused %s", ok[i].s);
    if (v != ok[i].ms) fail_msg("%s: %lld, want %lld", ok[i].s, (long long)v, (long long)ok[i].ms);
  }
  static const char *const bad[] = {
      "2021-02-30", "2019-02-29", "1900-02-29", "2021-04-31", "2021-13-01", "2021-00-10", "2021-01-00",
      "2021-1-01", "21-01-01", "2021-01-01T24:00", "2021-01-01T23:60", "2021-01-01T23:59:60",
      "2021-01-01T00", "2021-01-01T00:00:00.", "2021-01-01T00:00:00.1234Z", "2021-01-01T00:00:00.0001",
      "2021-01-01Z", "2021-01-01  00:00", "2021-01-01t00:00", "2021-01-01T00:00 ", " 2021-01-01",
      "2021-01-01T00:00:00+24:00", "2021-01-01T00:00:00+05:60", "2021-01-01T00:00:00+5",
      "2021-01-01T00:00:00+05:3", "2021-01-01T00:00:00UTC", "", "1577836800000",
      "0000-01-01T00:30+01:00", "9999-12-31T23:30-01:00"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t v = 42;
    if (ms_time_parse_iso(bad[i], &v) == 0) fail_msg("accepted \"%s\" as %lld", bad[i], (long long)v);
    assert_int_equal(v, 42);
  }
}

static void test_series__iso_format(void **state) {
  (void)state;
  char b[40];
  ms_time_format_iso(T2020, b, sizeof b);
  assert_string_equal(b, "2020-01-01T00:00:00Z");
  ms_time_format_iso(T2020 + 59 * DAY + 13 * HOUR + 5 * 60000 + 7123, b, sizeof b);
  assert_string_equal(b, "2020-02-29T13:05:07.123Z");
  ms_time_format_iso(-1, b, sizeof b);
  assert_string_equal(b, "1969-12-31T23:59:59.999Z");
  /* Round trip over a range of days. */
  for (int64_t t = -400 * DAY; t < 30000 * DAY; t += 997 * HOUR + 1) {
    int64_t back;
    ms_time_format_iso(t, b, sizeof b);
    assert_int_equal(ms_time_parse_iso(b, &back), 0);
    assert_int_equal(back, t);
  }
}

static void test_series__lower_bound(void **state) {
  (void)state;
  ms_series *s = parse_ok("timestamp,open,high,low,close\n"
                          "2020-01-01 00:00,1,2,0.5,1.5\n2020-01-01 01:00,1,2,0.5,1.5\n"
                          "2020-01-01 03:00,1,2,0.5,1.5\n2020-01-01 04:00,1,2,0.5,1.5\n");
  assert_int_equal(ms_series_lower_bound(s, T2020 - 1), 0);
  assert_int_equal(ms_series_lower_bound(s, T2020), 0);
  assert_int_equal(ms_series_lower_bound(s, T2020 + 1), 1);
  assert_int_equal(ms_series_lower_bound(s, T2020 + HOUR), 1);
  assert_int_equal(ms_series_lower_bound(s, T2020 + 2 * HOUR), 2); /* in the gap */
  assert_int_equal(ms_series_lower_bound(s, T2020 + 3 * HOUR), 2);
  assert_int_equal(ms_series_lower_bound(s, T2020 + 4 * HOUR), 3);
  assert_int_equal(ms_series_lower_bound(s, T2020 + 4 * HOUR + 1), 4);
  ms_series_free(s);
}

/* ---- files ------------------------------------------------------------------- */

static void test_series__file_errors(void **state) {
  (void)state;
  ms_series *s = (ms_series *)1;
  ms_error err;
  ms_error_clear(&err);
  assert_int_equal(ms_series_read(&s, MS_BINARY_DIR "/no/such/prices.csv", &err), MS_ERR_IO);
  assert_null(s);
  assert_contains(err.msg, "no/such/prices.csv");

  /* Over the limit: refused before a byte is read (a sparse file, no disk). */
  const char *big = MS_BINARY_DIR "/test_series_big.csv";
  int fd = open(big, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)MS_SERIES_MAX_BYTES + 1), 0);
  close(fd);
  ms_error_clear(&err);
  assert_int_equal(ms_series_read(&s, big, &err), MS_ERR_INPUT);
  assert_null(s);
  assert_contains(err.msg, big);
  assert_contains(err.msg, "256 MB limit");
  unlink(big);

  /* A file's name goes into its messages and the series. */
  const char *small = MS_BINARY_DIR "/test_series_small.csv";
  FILE *f = fopen(small, "wb");
  assert_non_null(f);
  fputs("timestamp,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n2020-01-02,1,2,0.5,1.5\n", f);
  fclose(f);
  ms_error_clear(&err);
  assert_ok(ms_series_read(&s, small, &err), &err);
  assert_string_equal(s->name, small);
  assert_int_equal(s->n, 2);
  ms_series_free(s);
  f = fopen(small, "ab");
  fputs("2020-01-01,1,2,0.5,1.5\n", f);
  fclose(f);
  assert_int_equal(ms_series_read(&s, small, &err), MS_ERR_INPUT);
  char want[1200];
  snprintf(want, sizeof want, "%s:4: not in ascending order", small);
  assert_contains(err.msg, want);
  unlink(small);
}

/* Every file of scenarios/data/: read without error or gap, its rows, its
 * span and one known value (SOURCES.md's tables). A file added there without
 * a row here fails the test. */
static void test_series__shipped_data(void **state) {
  (void)state;
  static const struct {
    const char *file;
    int64_t n, first, last;     /* candles; first and last open times (ms) */
    int64_t resolution;         /* ms */
    int64_t at;                 /* the known candle's open time (ms) */
    double low, high;           /* its low and high (0: not checked) */
  } known[] = {
      /* 2020-03-12: the spot daily low */
      {"btc_usdt_1d_2017-2026_binance_spot.csv", 3064, 1502928000000LL, 1767571200000LL, DAY, 1583971200000LL, 4410, 7966.17},
      /* 2021-05-19 */
      {"eth_usdt_1d_2017-2026_binance_spot.csv", 3134, 1502928000000LL, 1773619200000LL, DAY, 1621382400000LL, 1888, 3441.73},
      /* 2020-03-13 02:00: the futures print */
      {"btc_usdt_1h_2020-03_binance_perp.csv", 168, 1583798400000LL, 1584399600000LL, HOUR, 1584064800000LL, 3621.81, 0},
      /* 2020-03-13 02:00: the wick */
      {"eth_usdt_1h_2020-03_binance_perp.csv", 168, 1583798400000LL, 1584399600000LL, HOUR, 1584064800000LL, 84.23, 323.0},
      /* 2021-05-19 13:00 */
      {"btc_usdt_1h_2021-05_binance_perp.csv", 144, 1621209600000LL, 1621724400000LL, HOUR, 1621429200000LL, 28688, 0},
      {"eth_usdt_1h_2021-05_binance_perp.csv", 144, 1621209600000LL, 1621724400000LL, HOUR, 1621429200000LL, 1400.73, 0},
      /* 2022-11-09 23:00 */
      {"btc_usdt_1h_2022-11_binance_spot.csv", 168, 1667692800000LL, 1668294000000LL, HOUR, 1668034800000LL, 15588, 0},
      {"eth_usdt_1h_2022-11_binance_spot.csv", 168, 1667692800000LL, 1668294000000LL, HOUR, 1668034800000LL, 1073.53, 0},
      /* 2025-10-10 21:00 */
      {"btc_usdt_1h_2025-10_binance_spot.csv", 144, 1759881600000LL, 1760396400000LL, HOUR, 1760130000000LL, 102000, 0},
      {"eth_usdt_1h_2025-10_binance_spot.csv", 144, 1759881600000LL, 1760396400000LL, HOUR, 1760130000000LL, 3435, 0},
  };
  const size_t nknown = sizeof known / sizeof known[0];
  DIR *d = opendir(MS_SOURCE_DIR "/scenarios/data");
  assert_non_null(d);
  size_t seen = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 4, ".csv") != 0) continue;
    size_t k = 0;
    while (k < nknown && strcmp(known[k].file, e->d_name) != 0) k++;
    if (k == nknown) fail_msg("scenarios/data/%s has no row in test_series__shipped_data", e->d_name);
    seen++;
    char path[2048];
    snprintf(path, sizeof path, "%s/scenarios/data/%s", MS_SOURCE_DIR, e->d_name);
    ms_series *s = NULL;
    ms_error err;
    ms_error_clear(&err);
    assert_ok(ms_series_read(&s, path, &err), &err);
    if (s->ngaps) fail_msg("%s: %lld gaps, the first after line %d", e->d_name, (long long)s->ngaps,
                           s->line[s->gap_after[0]]);
    assert_int_equal(s->n, known[k].n);
    assert_int_equal(s->resolution, known[k].resolution);
    assert_int_equal(s->c[0].t, known[k].first);
    assert_int_equal(s->c[s->n - 1].t, known[k].last);
    int64_t i = ms_series_lower_bound(s, known[k].at);
    assert_true(i < s->n);
    assert_int_equal(s->c[i].t, known[k].at);
    if (s->c[i].low != known[k].low) fail_msg("%s: low %.17g, want %.17g", e->d_name, s->c[i].low, known[k].low);
    if (known[k].high) assert_true(s->c[i].high == known[k].high);
    ms_series_free(s);
  }
  closedir(d);
  assert_int_equal(seen, nknown);
}


/* A device, a directory or a FIFO is refused unread as bad input: /dev/zero
 * would be read to the size limit, a FIFO without a writer would hang. */
static void test_series__non_regular_files_refused(void **state) {
  (void)state;
  ms_series *s = NULL;
  ms_error err;
  assert_int_equal(ms_series_read(&s, "/dev/zero", &err), MS_ERR_INPUT);
  assert_null(s);
  assert_contains(err.msg, "/dev/zero: a price series must be a regular file (this is a character device)");
  assert_int_equal(ms_series_read(&s, "/tmp", &err), MS_ERR_INPUT);
  assert_contains(err.msg, "(this is a directory)");
  char fifo[64];
  snprintf(fifo, sizeof fifo, "/tmp/ms_test_series_fifo_%d", (int)getpid());
  unlink(fifo);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  assert_int_equal(ms_series_read(&s, fifo, &err), MS_ERR_INPUT);
  assert_contains(err.msg, "(this is a FIFO)");
  unlink(fifo);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_series__layout_spot_hourly),
      cmocka_unit_test(test_series__layout_perp_hourly),
      cmocka_unit_test(test_series__layout_epoch_daily),
      cmocka_unit_test(test_series__missing_column),
      cmocka_unit_test(test_series__crlf_bom),
      cmocka_unit_test(test_series__reversed),
      cmocka_unit_test(test_series__duplicate),
      cmocka_unit_test(test_series__gap),
      cmocka_unit_test(test_series__malformed),
      cmocka_unit_test(test_series__bad_prices),
      cmocka_unit_test(test_series__irregular),
      cmocka_unit_test(test_series__iso_times),
      cmocka_unit_test(test_series__iso_format),
      cmocka_unit_test(test_series__lower_bound),
      cmocka_unit_test(test_series__file_errors),
      cmocka_unit_test(test_series__shipped_data),
      cmocka_unit_test(test_series__non_regular_files_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
