/*
 * series — an OHLC price series read from a CSV file, checked, in memory.
 *
 * The files of scenarios/data/ (scenarios/data/SOURCES.md) come from several
 * hands: the header names vary, times are epoch milliseconds or ISO 8601
 * with or without a zone. This module reads them all into one form, so that
 * the models built on it (replay, bootstrap, calibration) never see a layout:
 *
 *   - a header line is required; column names are matched without regard to
 *     case. The time column is the first of timestamp, open_time, date,
 *     datetime, time found in the header, in that order of preference (so a
 *     close_time column is never taken); the prices are open, high, low,
 *     close. Other columns (volume, symbol, trades...) are ignored.
 *   - a time of digits only is epoch milliseconds when >= 1e11 (March 1973
 *     in milliseconds, the year 5138 in seconds), epoch seconds otherwise;
 *     any other time is ISO 8601 (ms_time_parse_iso). Each candle's time is
 *     its open time.
 *   - a UTF-8 byte order mark, CRLF line ends, double-quoted fields and blank
 *     lines at the end are accepted.
 *
 * The checks are those of a price series a simulation can replay: prices
 * finite and positive, low <= min(open, close), max(open, close) <= high,
 * times strictly ascending, at least two candles, and every spacing a whole
 * multiple of the smallest one (the resolution). A spacing longer than the
 * resolution is a gap: recorded, not an error (the caller decides whether a
 * window it uses may hold one). Every error is MS_ERR_INPUT with a message
 * "FILE:LINE: ..." naming what was found, or MS_ERR_IO when the file cannot
 * be read. Files over MS_SERIES_MAX_BYTES are refused before they are read.
 */
#ifndef MS_SERIES_H
#define MS_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "marginsim/error.h"

/* Largest file or text accepted (bytes): years of minute candles fit many
 * times over; a larger file is a mistake or needs a resampled copy. */
#define MS_SERIES_MAX_BYTES (256LL * 1024 * 1024)

/* One candle. */
typedef struct ms_candle {
  int64_t t;                    /* open time, ms since 1970-01-01T00:00:00Z */
  double open, high, low, close; /* prices, in the file's quote currency */
} ms_candle;

/* A checked series. Invariants: n >= 2; c[i].t < c[i+1].t; every
 * c[i+1].t - c[i].t is a whole multiple of resolution; gap_after lists, in
 * ascending order, exactly the i where that spacing exceeds resolution. */
typedef struct ms_series {
  ms_candle *c;                 /* n candles, ascending by t, strictly */
  int64_t n;                    /* number of candles (>= 2) */
  int64_t resolution;           /* ms: the spacing of consecutive candles (the smallest one seen) */
  int64_t ngaps;                /* number of spacings > resolution */
  int64_t *gap_after;           /* ngaps indices i of each gap: c[i+1].t - c[i].t > resolution */
  int32_t *line;                /* n source lines (1-based) of the candles, for messages */
  uint64_t hash;                /* FNV-1a 64 of the file's bytes (BOM included): results record it */
  char name[1024];              /* the path (or name) as given, used in messages; cut if longer */
} ms_series;

/**
 * Read and check the CSV file @p path (see the top of this header for the
 * layouts and checks). On success *out holds a new series (ms_series_free);
 * on failure *out is NULL and @p err says why: MS_ERR_INPUT
 * "FILE:LINE: message", MS_ERR_IO when the file cannot be read,
 * MS_ERR_NOMEM.
 */
ms_status ms_series_read(ms_series **out, const char *path, ms_error *err);

/** The same from @p len bytes of text in memory; @p name is used in messages
 * and kept in the series (the hash is of these bytes). */
ms_status ms_series_parse(ms_series **out, const char *text, size_t len, const char *name,
                          ms_error *err);

/** Free a series. NULL is allowed. */
void ms_series_free(ms_series *s);

/**
 * Parse an ISO 8601 UTC time: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.fff]]
 * with T or one space between date and time, then optionally a zone: Z,
 * +HH:MM, -HH:MM, +HHMM, -HHMM, +HH, -HH (the time is converted to UTC);
 * no zone means UTC. A date alone is its 00:00 UTC and takes no zone. The
 * fraction may have any number of digits, but those past the millisecond
 * must be zeros (the series is in whole milliseconds). Dates are checked
 * (2021-02-30 is refused, 2020-02-29 accepted); hours 00-23, minutes and
 * seconds 00-59; the UTC time in the years 0000-9999. No spaces around. Returns 0 and *ms (milliseconds since
 * the epoch, negative before 1970), or -1 when malformed.
 */
int ms_time_parse_iso(const char *s, int64_t *ms);

/** Format @p ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ", or
 * "YYYY-MM-DDTHH:MM:SS.fffZ" when not a whole second. */
void ms_time_format_iso(int64_t ms, char *buf, size_t n);

/** Index of the first candle with t >= @p t (s->n if none). */
int64_t ms_series_lower_bound(const ms_series *s, int64_t t);

#endif
