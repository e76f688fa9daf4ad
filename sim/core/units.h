/*
 * units — the text forms of numbers, durations and rates in scenario files.
 *
 * Durations carry a unit: 250ms, 12s, 5m, 6h, 1d (fractions allowed when the
 * result is a whole number of milliseconds: 1.5h). Simulated time is an
 * integer count of milliseconds everywhere. Rates are events per unit of
 * time: 6/d, 2/h, 0.5/m, 10/s; they are held as events per day. Numbers use
 * C syntax (5e7, 0.025, -3).
 */
#ifndef MARGINSIM_UNITS_H
#define MARGINSIM_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define MS_MS_PER_SECOND 1000LL
#define MS_MS_PER_MINUTE 60000LL
#define MS_MS_PER_HOUR 3600000LL
#define MS_MS_PER_DAY 86400000LL
/* Longest duration a scenario can write or a distribution draw (about
 * 285,000 years): whole milliseconds stay exact in a double, and sums of
 * two such times stay far inside int64_t. */
#define MS_DURATION_MAX_MS 9000000000000000LL

/** Parse a finite number. Returns 0 on success, -1 on a malformed value. */
int ms_units_parse_number(const char *s, double *out);

/** A percentage, "-20%" (blanks before the % allowed), as the number over
 *  100 read as its decimal ("1.1%" is the double of "0.011"); 0, or -1. */
int ms_units_parse_percent(const char *s, double *out);

/** Parse an integer (no fraction, no exponent beyond an exact value). */
int ms_units_parse_int(const char *s, long long *out);

/**
 * Parse a duration ("250ms", "12s", "5m", "6h", "1d"; "0" alone is allowed).
 * Returns 0 on success, -1 when malformed or longer than MS_DURATION_MAX_MS,
 * -2 when it is not a whole number of milliseconds, -3 when a number has no
 * unit.
 */
int ms_units_parse_duration(const char *s, int64_t *ms);

/**
 * Parse a rate ("6/d", "2/h", "0.5/m", "10/s", "0") into events per day.
 * Returns 0 on success, -1 when malformed, -2 when the rate per day is not
 * a finite number (1e308/s).
 */
int ms_units_parse_rate(const char *s, double *per_day);

/** Shortest text that reads back to exactly @p v. */
void ms_units_format_number(double v, char *buf, size_t n);

/** Canonical duration text: the largest unit that divides @p ms exactly. */
void ms_units_format_duration(int64_t ms, char *buf, size_t n);

/** Canonical rate text ("6/d"). */
void ms_units_format_rate(double per_day, char *buf, size_t n);

/** ln 2, for half-lives (a literal: M_LN2 is not C11). */
#define MS_LN2 0.69314718055994530942

#endif
