/*
 * main — the `marginsim` command line: argument parsing, progress, printing.
 * The library never prints; everything the user sees is written here.
 *
 * Exit codes: 0 success, 1 an assertion failed (check, later), 2 bad input,
 * 3 I/O or internal failure, 128+signal when interrupted.
 *
 * Under mpirun (a build with -DMARGINSIM_MPI=ON, docs/scaling.md) every rank
 * runs this same program on the same arguments; only rank 0 speaks: the
 * others send stdout and stderr to /dev/null. Wherever ranks could part
 * ways (a scenario one rank cannot read, the checks of -o and the folders
 * made for it, which only rank 0 does, the JUnit report, a signal) the
 * outcome is agreed (driver/mpi.h), so every rank takes the same path
 * through the collectives of the run, prints through rank 0 the message
 * of the first rank that failed, and exits with the same code.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <getopt.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "models/calibrate.h"
#include "models/pricepath.h"
#include "core/series.h"
#include "core/units.h"
#include "output/assertion.h"
#include "output/fields.h"
#include "output/h5out.h"
#include "engine/engine.h"
#include "output/journal.h"
#include "output/junit.h"
#include "ms_build_id.h"
#include "models/margin.h"
#include "output/outfile.h"
#include "marginsim/error.h"
#include "driver/mpi.h"
#include "driver/run.h"
#include "config/scenario.h"
#include "output/stats.h"
#include "output/sweep.h"

#define EXIT_BADINPUT 2
#define MAX_SETS 256

/* Process-wide state, for signal handlers, which can reach nothing else:
 * which signal asked us to stop, and (g_made, below) the folders made for
 * the outputs. */
static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }

/* `--resume FILE`: the interrupted run's command line is run again (from
 * the folder it ran in) with these; see cmd_resume. */
typedef struct {
  int on;
  struct stat journal;    /* the journal named by --resume: the command must write its result file */
  const char *command;    /* the command line the journal recorded */
  const char *named;      /* the result file as --resume named it (from the folder it was given in) */
  int threads, quiet;     /* the resuming command's -j and -q */
  int64_t done;           /* paths the journal already holds */
} resume_state;
static resume_state g_resume;
/* The result file the command wrote, once it is in place (for the message when standard output fails after). */
static const char *g_wrote;

/* A signal that came while loading or checking: the exit code it asks for
 * (128 + signal), 0 if none. Runs look at the flag themselves. */
static int interrupted(void) {
  if (!g_signal) return 0;
  fprintf(stderr, "marginsim: interrupted by signal %d\n", (int)g_signal);
  return 128 + (int)g_signal;
}

/* How many first paths `validate` draws the books of (book.resample: per_path). */
#define VALIDATE_BOOK_PATHS 8

static void usage_main(FILE *f) {
  fprintf(f,
          "usage: marginsim <command> [options]\n"
          "\n"
          "commands:\n"
          "  run SCENARIO        simulate and write an HDF5 result file\n"
          "  sweep SCENARIO      run a grid of settings on the same paths, with paired differences\n"
          "  check SCENARIO      run and test the scenario's assertions (exit 1 if one fails)\n"
          "  validate SCENARIO   check a scenario and print the resolved configuration\n"
          "  schema              print every scenario key as Markdown tables\n"
          "  calibrate FILE.csv  fit a price model to historical candles; print its market: section\n"
          "  data FILE.csv       check a candle file and describe it: span, resolution, gaps, extremes\n"
          "\n"
          "  marginsim <command> --help   options of a command\n"
          "  marginsim --version          program version\n");
}

static void usage_run(FILE *f) {
  fprintf(f,
          "usage: marginsim run SCENARIO [-o FILE] [-n PATHS] [--seed S] [-j THREADS]\n"
          "                     [--set KEY=VALUE]... [--compare KEY=V1,V2,...] [--quiet]\n"
          "\n"
          "  -o, --output FILE    result file (default: results/<scenario name>.h5)\n"
          "  -n, --paths N        number of paths (overrides the scenario's 'paths')\n"
          "      --seed S         seed, any 64-bit value (overrides 'seed')\n"
          "  -j, --threads N      threads computing paths (default: all cores; one more streams\n"
          "                       finished paths to the journal); results do not depend on it\n"
          "      --set KEY=VALUE  override a scenario key, e.g. --set market.regimes[1].vol=1.2\n"
          "                       (repeatable; validated like the file)\n"
          "      --compare KEY=V1,V2,...\n"
          "                       run once per value on the same paths and book: one group per value\n"
          "                       in the file, paired differences against V1, capital efficiency\n"
          "                       (e.g. --compare margin.model=static,dynamic,portfolio)\n"
          "  -q, --quiet          no progress bar and no summary table\n"
          "\n"
          "usage: marginsim run --resume FILE [-j THREADS] [--quiet]\n"
          "\n"
          "      --resume FILE    continue the interrupted run (run, --compare, sweep or check) whose\n"
          "                       result file is FILE, from its journal FILE.partial: the same command,\n"
          "                       from the folder it ran in; the result file is the one the run would\n"
          "                       have written uninterrupted\n"
          "\n"
          "exit codes: 0 success, 2 bad input, 3 I/O or internal failure, 130/143 interrupted\n"
          "(an interrupted run keeps FILE.partial for --resume; nothing else is written)\n");
}

static void usage_sweep(FILE *f) {
  fprintf(f,
          "usage: marginsim sweep SCENARIO [--grid KEY=V1,V2,... | --grid KEY=FROM:TO:STEP]...\n"
          "                       [--baseline KEY=V,...] [--show STAT,...] [-o FILE] [-n PATHS]\n"
          "                       [--seed S] [-j THREADS] [--set KEY=VALUE]... [--quiet]\n"
          "\n"
          "Runs every cell of the grid (the cartesian product of the axes; any scenario key, e.g.\n"
          "margin.model) on the same price paths, book and oracle/keeper draws, and reports each\n"
          "cell's statistics and its paired differences against the baseline cell.\n"
          "\n"
          "      --grid KEY=V1,V2,...      an axis: its values (commas inside [] or {} do not split)\n"
          "      --grid KEY=FROM:TO:STEP   an axis: numbers or durations, TO included (1m:10m:3m)\n"
          "                                without --grid: the scenario's sweep.grid\n"
          "      --baseline KEY=V,...      the cell differences are taken against (default: the first)\n"
          "      --show STAT,...           headline statistics of the table (default: the scenario's\n"
          "                                sweep.show, else insolvency.probability, bad_debt.mean, ...)\n"
          "  -o, --output FILE    result file (default: results/<scenario name>-sweep.h5)\n"
          "  -n, --paths N        paths per cell;  --seed S  the seed of every cell\n"
          "  -j, --threads N      threads computing paths (default: all cores; one more streams\n"
          "                       finished paths to the journal); results do not depend on it\n"
          "      --set KEY=VALUE  override a key in every cell (an axis overrides it)\n"
          "  -q, --quiet          no progress bar and no table\n"
          "\n"
          "exit codes: 0 success, 2 bad input, 3 I/O or internal failure, 130/143 interrupted\n");
}

static void usage_check(FILE *f) {
  fprintf(f,
          "usage: marginsim check SCENARIO [--junit FILE] [-o FILE] [-n PATHS] [--seed S]\n"
          "                       [-j THREADS] [--set KEY=VALUE]... [--quiet]\n"
          "\n"
          "Runs the scenario and tests its assertions (the scenario's 'assertions:' list, e.g.\n"
          "'insolvency.probability < 0.01', 'bad_debt.q99 <= 250000'); prints one line per assertion\n"
          "with the measured value and interval. With 'confidence: c' an assertion holds only when\n"
          "the statistic's whole c-level interval does.\n"
          "\n"
          "      --junit FILE     also write a JUnit XML report (one testcase per assertion)\n"
          "  -o, --output FILE    result file (default: results/<scenario name>.h5)\n"
          "  -n, --paths N / --seed S / -j N / --set KEY=VALUE / -q   as for run\n"
          "\n"
          "exit codes: 0 every assertion holds, 1 one or more fail, 2 bad input (including a\n"
          "scenario without assertions), 3 I/O or internal failure, 130/143 interrupted\n");
}

static void usage_validate(FILE *f) {
  fprintf(f,
          "usage: marginsim validate SCENARIO [--set KEY=VALUE]... [-n PATHS] [--seed S]\n"
          "\n"
          "Reads and checks the scenario (and draws its book, which must start above initial\n"
          "margin) and prints the resolved configuration: every key, defaults filled in, as\n"
          "YAML that loads to the same configuration.\n"
          "exit codes: 0 valid, 2 bad input, 3 standard output could not be written\n");
}

/* ---- progress bar on stderr (only when it is a terminal) ---- */

typedef struct {
  double t0, last;        /* s: start, last drawn */
  double t1;              /* s: first callback (NaN: none yet) */
  int64_t done1;          /* paths done at t1 */
  int64_t start;          /* paths done before this process began (a resumed run) */
  int enabled, finished;
} progress_state;

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_eta(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0) snprintf(buf, n, "--");
  else if (s < 60) snprintf(buf, n, "%.0fs", s);
  else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* One line, redrawn in place: paths done, paths/s, ETA. The rate counts from
 * the first path that finished, so that the set-up (the book, its index,
 * the file) does not make a long run look slower than it is; the last line
 * gives the whole time and says that the statistics come next (at 10^6
 * paths they take seconds). */
static void on_progress(void *ctx, int64_t done, int64_t total) {
  progress_state *ps = ctx;
  if (!ps->enabled || ps->finished) return;
  double now = mono_now();
  if (isnan(ps->t1)) { ps->t1 = now; ps->done1 = done; }
  if (done < total && now - ps->last < 0.1) return; /* called as each path finishes: draw ten times a second */
  ps->last = now;
  ps->finished = done == total;
  double el = now - ps->t1;
  double rate = el > 0 && done > ps->done1 ? (double)(done - ps->done1) / el : NAN;
  if (ps->finished) rate = now > ps->t0 ? (double)(done - ps->start) / (now - ps->t0) : NAN;
  char eta[32], rs[32];
  if (isfinite(rate)) snprintf(rs, sizeof rs, "%.1f", rate);
  else snprintf(rs, sizeof rs, "--");
  fmt_eta(ps->finished ? now - ps->t0 : isfinite(rate) && rate > 0 ? (double)(total - done) / rate : NAN, eta,
          sizeof eta);
  int width = 30, fill = total > 0 ? (int)((double)width * (double)done / (double)total) : width;
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
  bar[width] = '\0';
  if (ps->finished)
    fprintf(stderr, "\r[%s] %lld/%lld paths  %s paths/s  in %s; statistics...\n", bar, (long long)done,
            (long long)total, rs, eta);
  else
    fprintf(stderr, "\r[%s] %lld/%lld paths  %s paths/s  ETA %s   ", bar, (long long)done, (long long)total, rs,
            eta);
  fflush(stderr);
}

/* A run's error on stderr (after a newline when the progress bar is drawn).
 * The book's own errors ("book: ..." or "path N: book: ...") have no place in
 * the file of their own: they point at the book's keys (@p cfg NULL: the
 * message as it is). */
static void print_error(const ms_config *cfg, ms_status s, const ms_error *err, int newline) {
  const char *m = err->msg, *b = m;
  if (strncmp(b, "path ", 5) == 0 && strstr(b, ": book: ")) b = strstr(b, ": book: ") + 2; /* per_path */
  if (s == MS_ERR_INPUT && strncmp(b, "book: ", 6) == 0 && cfg && cfg->book_where[0])
    fprintf(stderr, "%s%s: %.*s%s\n", newline ? "\n" : "", cfg->book_where, (int)(b - m), m, b + 6);
  else
    fprintf(stderr, "%s%s\n", newline ? "\n" : "", m);
}

/* ---- summary table on stdout ---- */

/* A number for a reader: three significant digits with an engineering
 * suffix (k, M, B, T) from 1000 up, whole numbers below 1000 as integers,
 * "-" for NaN. The file keeps full precision; this is only the table. */
static void fmt_num(double v, char *buf, size_t n) {
  static const char *const suffix[] = {"", "k", "M", "B", "T"};
  if (isnan(v)) { snprintf(buf, n, "-"); return; }
  if (isinf(v)) { snprintf(buf, n, "%sinf", v < 0 ? "-" : ""); return; }
  double a = fabs(v);
  int e = 0;
  while (a >= 999.5 && e < 4) { a /= 1000; v /= 1000; e++; }
  if (e == 0 && v == floor(v)) snprintf(buf, n, "%.0f", v);
  else if (a >= 99.95) snprintf(buf, n, "%.0f%s", v, suffix[e]);
  else if (a >= 9.995) snprintf(buf, n, "%.1f%s", v, suffix[e]);
  else snprintf(buf, n, "%.3g%s", v, suffix[e]);
}

/* One row: mean, its bootstrap 95% interval, median, and the risky tail:
 * q99 and ES99 for a high-risky column, q01 and ES01 for a low-risky one. */
static void print_stat(const ms_stats *st, const char *name, const char *label, double scale) {
  const ms_stat_row *r = ms_stats_find(st, name);
  if (!r || r->n == 0) return;
  char m[24], lo[24], hi[24], med[24], q[24], es[24], ci[64];
  fmt_num(r->mean * scale, m, sizeof m);
  fmt_num(r->mean_lo * scale, lo, sizeof lo);
  fmt_num(r->mean_hi * scale, hi, sizeof hi);
  fmt_num(r->q[0] * scale, med, sizeof med);
  fmt_num((r->risky_low ? r->q[4] : r->q[2]) * scale, q, sizeof q);
  fmt_num((r->risky_low ? r->es01 : r->es99) * scale, es, sizeof es);
  snprintf(ci, sizeof ci, "[%s, %s]", lo, hi);
  printf("  %-34s %9s  %-20s %9s  %-4s %9s %9s\n", label, m, ci, med, r->risky_low ? "low" : "high", q, es);
}

/* "mean [lo, hi]" of a /stats column, the cell of the per-market panel; "-" when the column is absent. */
static void fmt_mean_ci(const ms_stats *st, const char *name, char *buf, size_t n) {
  const ms_stat_row *r = ms_stats_find(st, name);
  if (!r || r->n == 0) { snprintf(buf, n, "-"); return; }
  char m[24], lo[24], hi[24];
  fmt_num(r->mean, m, sizeof m);
  fmt_num(r->mean_lo, lo, sizeof lo);
  fmt_num(r->mean_hi, hi, sizeof hi);
  snprintf(buf, n, "%s [%s, %s]", m, lo, hi);
}

/* book.markets: each market's share of the liquidations, notional and bad debt
 * (the rows above add them up over the markets) and its contagion count, when
 * stats.contagion ran the twins. */
static void print_markets(const ms_config *cfg, const ms_stats *st) {
  static const char *const cols[] = {"liquidations", "liquidated_notional", "bad_debt", "contagion_liquidations"};
  static const char *const heads[] = {"liquidations", "liq. notional (USD)", "bad debt (USD)", "contagion"};
  char first[MS_COL_NAME_MAX + 32];
  snprintf(first, sizeof first, "contagion_liquidations_%s", cfg->market.assets[0].name);
  const ms_stat_row *c = ms_stats_find(st, first);
  int ncols = c && c->n > 0 ? 4 : 3;
  printf("\n  %-12s", "per market");
  for (int j = 0; j < ncols; j++) printf(j + 1 < ncols ? "  %-24s" : "  %s", heads[j]);
  printf("\n");
  for (int a = 0; a < cfg->market.nassets; a++) {
    printf("  %-12s", cfg->market.assets[a].name);
    for (int j = 0; j < ncols; j++) {
      char name[MS_COL_NAME_MAX + 32], cell[80];
      snprintf(name, sizeof name, "%s_%s", cols[j], cfg->market.assets[a].name);
      fmt_mean_ci(st, name, cell, sizeof cell);
      printf(j + 1 < ncols ? "  %-24s" : "  %s", cell);
    }
    printf("\n");
  }
  printf("  means per path [95%% CI (bootstrap)]%s\n",
         ncols == 4 ? "; contagion: liquidated, not in the twin with the other markets' prices frozen" : "");
}

/* The scenario's name for a terminal or a log: it is free text from a file people copy, so a control
 * character (an escape sequence, a line break) is written as \xHH, as in error messages. */
static const char *shown_name(const char *s, char *buf, size_t n) {
  size_t k = 0;
  for (const unsigned char *c = (const unsigned char *)s; *c && k + 5 < n; c++) {
    if (*c < 0x20 || *c == 0x7f) k += (size_t)snprintf(buf + k, n - k, "\\x%02x", *c);
    else buf[k++] = (char)*c;
  }
  buf[k] = '\0';
  return buf;
}

static void print_summary(const ms_config *cfg, const ms_run_report *rep, const char *out) {
  char nm[4 * 64 + 8]; /* every byte of the 64-byte name escaped */
  const ms_stats *st = &rep->stats;
  printf("marginsim %s — %s: %lld paths, seed %llu, %d thread%s, %.2f s (%.1f paths/s)\n",
         MS_VERSION, shown_name(cfg->name, nm, sizeof nm), (long long)rep->paths, (unsigned long long)cfg->seed,
         rep->threads,
         rep->threads == 1 ? "" : "s", rep->seconds,
         rep->seconds > 0 ? (double)rep->paths / rep->seconds : 0.0);
  printf("book: %lld accounts (%.0f%% with options), margin %s, oracle %s, liquidation %s / %s\n",
         (long long)cfg->book.accounts, 100 * cfg->book.options.fraction, cfg->margin.model->name,
         ms_model_name(cfg->oracle.kind),
         cfg->liquidation.mode == MS_LIQ_PARTIAL ? "partial" : "full",
         ms_model_name(cfg->liquidation.shortfall));
  printf("\n  %-34s %9s  %-20s %9s  %-4s %9s %9s\n", "per path", "mean", "95% CI (bootstrap)", "median",
         "tail", "q99|q01", "ES99|ES01");
  print_stat(st, "min_price", "min exogenous price (USD)", 1.0);
  print_stat(st, "min_mark", "min mark price (USD)", 1.0);
  print_stat(st, "max_drawdown", "max drawdown (%)", 100.0);
  print_stat(st, "max_impact", "max impact (%)", 100.0);
  /* Time in each regime, where the price model has several (one regime,
   * replay, bootstrap, a GARCH without regimes: the whole horizon in one). */
  double vols[MS_MAX_REGIMES];
  int chain = ms_price_vol_states(cfg, vols) > 1;
  for (int r = 0; chain && r < cfg->market.nregimes; r++) {
    char name[MS_COL_NAME_MAX + 8], label[64];
    snprintf(name, sizeof name, "time_in_regime_%s", cfg->market.regimes[r].name);
    snprintf(label, sizeof label, "hours in %s", cfg->market.regimes[r].name);
    print_stat(st, name, label, 1.0 / 3600.0);
  }
  print_stat(st, "liquidations", "liquidations", 1.0);
  print_stat(st, "impact_triggered_liquidations", "impact-triggered liquidations", 1.0);
  print_stat(st, "liquidated_notional", "liquidated notional (USD)", 1.0);
  print_stat(st, "largest_cascade_liquidations", "largest cascade: liquidations", 1.0);
  print_stat(st, "largest_cascade_notional", "largest cascade: notional (USD)", 1.0);
  print_stat(st, "largest_cascade_depth", "largest cascade: generations", 1.0);
  print_stat(st, "liquidations_no_impact", "liquidations, no feedback", 1.0);
  print_stat(st, "liquidated_notional_no_impact", "liq. notional, no feedback (USD)", 1.0);
  print_stat(st, "amplification", "amplification (vs no feedback)", 1.0);
  print_stat(st, "bad_debt", "bad debt (USD)", 1.0);
  print_stat(st, "pending_bad_debt", "unbooked bad debt at end (USD)", 1.0);
  print_stat(st, "insurance_min", "insurance fund low (USD)", 1.0);
  print_stat(st, "socialized_loss", "socialized loss (USD)", 1.0);
  print_stat(st, "adl_notional", "ADL notional (USD)", 1.0);
  print_stat(st, "adl_loss", "ADL loss (USD)", 1.0);
  if (cfg->book.options.fraction > 0) {
    print_stat(st, "options_liquidated_notional", "options liquidated (USD)", 1.0);
    print_stat(st, "option_revaluations", "option account checks", 1.0);
  }
  if (cfg->margin.model->ratio_moves) print_stat(st, "max_margin_ratio", "highest margin ratio (%)", 100.0);
  print_stat(st, "uncovered_loss", "uncovered loss (USD)", 1.0);
  if (cfg->funding.enabled) {
    print_stat(st, "funding_paid", "funding paid (USD)", 1.0);
    print_stat(st, "funding_long_net", "funding to longs, net (USD)", 1.0);
    print_stat(st, "funding_rate_mean", "funding rate a payment (bp)", 1e4);
  }
  if (st->nfeedback > 0) {
    printf("\n  %-34s %9s  %-20s %9s %9s\n", "caused by the feedback loop", "mean", "95% CI (bootstrap)", "with",
           "without");
    for (int i = 0; i < st->nfeedback; i++) {
      const ms_diff_row *d = &st->feedback[i];
      char m[24], lo[24], hi[24], w[24], wo[24], ci[64];
      fmt_num(d->diff, m, sizeof m);
      fmt_num(d->lo, lo, sizeof lo);
      fmt_num(d->hi, hi, sizeof hi);
      fmt_num(d->other, w, sizeof w);
      fmt_num(d->baseline, wo, sizeof wo);
      snprintf(ci, sizeof ci, "[%s, %s]", lo, hi);
      printf("  %-34s %9s  %-20s %9s %9s\n", d->name, m, ci, w, wo);
    }
  }
  printf("\n  %-34s %9s  %-20s %9s\n", "probability", "estimate", "Wilson 95% CI", "paths");
  for (int i = 0; i < st->nprob; i++) {
    const ms_prob_row *p = &st->probs[i];
    char ci[64], k[48];
    snprintf(ci, sizeof ci, "[%.4f, %.4f]", p->lo, p->hi);
    snprintf(k, sizeof k, "%lld/%lld", (long long)p->k, (long long)p->n);
    printf("  %-34s %9.4f  %-20s %9s  %s\n", p->name, p->p, ci, k, p->definition);
  }
  /* Bad debt is booked at a fill (or an option settlement): an underwater account no keeper closed
   * (one skipped for gas, or still waiting at the horizon) books none, and
   * insolvency alone would read as solvency where the losses are real. */
  for (int i = 0; i < st->nprob; i++) {
    const ms_prob_row *p = &st->probs[i];
    if (strcmp(p->name, "pending_bad_debt_any") == 0 && p->k > 0)
      printf("\n  note: %lld of %lld paths end with underwater accounts no keeper liquidated (unbooked bad debt, "
             "above);\n  bad_debt and insolvency count only the bad debt booked at fills and option settlements.\n",
             (long long)p->k, (long long)p->n);
  }
  if (cfg->book.markets.enabled) print_markets(cfg, st);
  g_wrote = out;
  printf("\nwrote %s\n", out);
}

/* ---- warnings of the loaded configurations ---- */

/* The loader's warnings of @p n configurations (cells of a sweep or a
 * comparison), each distinct one once, on stderr. */
static void print_warnings(const ms_config *const *cfgs, int n) {
  for (int c = 0; c < n; c++)
    for (int i = 0; i < cfgs[c]->nwarnings; i++) {
      int seen = 0;
      for (int d = 0; d <= c && !seen; d++)
        for (int j = 0; j < (d == c ? i : cfgs[d]->nwarnings) && !seen; j++)
          seen = strcmp(cfgs[d]->warnings[j], cfgs[c]->warnings[i]) == 0;
      if (!seen) fprintf(stderr, "warning: %s\n", cfgs[c]->warnings[i]);
    }
}

/* ---- output paths, checked before anything runs ---- */

/* A run of minutes must not end in "cannot write": every file the command
 * will write (-o, --junit) is checked first. Missing parent folders are
 * created, as the result file's writer would, and remembered so that a
 * command that then fails leaves no empty folders behind. */
#define MAX_MADE_DIRS 4096 /* -o and --junit of at most 4095 bytes make at most 2048 folders each: all remembered */

typedef struct {
  char *dirs[MAX_MADE_DIRS]; /* folders this command created, outermost first */
  int n;
} made_dirs;

/* Removes the folders @p md created (innermost first; rmdir leaves a
 * folder that is not empty), best effort. */
static void made_dirs_undo(made_dirs *md) {
  while (md->n > 0) {
    char *d = md->dirs[--md->n]; /* dropped from the list first: a fatal signal handler reads it */
    rmdir(d);
    free(d);
  }
}

static void made_dirs_keep(made_dirs *md) {
  while (md->n > 0) free(md->dirs[--md->n]);
}

/* ---- fatal signals ----
 * SIGINT and SIGTERM stop a run cleanly (the run notices and removes its
 * temporary). A signal that kills at once — an assertion's SIGABRT, a
 * crash, a hang-up — would leave the temporary result file and the folders
 * made for it: this handler removes them, then lets the signal kill the
 * process as it would have. Only SIGKILL leaves a temporary (named
 * ".<name>.ms-tmp-XXXXXXXX", docs/robustness.md). */
static made_dirs g_made; /* the folders the current command created; read by the handler */

static void on_fatal_signal(int sig) {
  ms_outfile_remove_all_signal_safe();
  for (int i = g_made.n - 1; i >= 0; i--) rmdir(g_made.dirs[i]);
  raise(sig); /* SA_RESETHAND: the default action now, i.e. the death the signal meant */
}

static void catch_fatal_signals(void) {
  static const int fatal[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGHUP, SIGQUIT, SIGXCPU,
                              SIGALRM, SIGUSR1, SIGUSR2};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
    struct sigaction old;
    /* a signal ignored by whoever started us (nohup: SIGHUP) stays ignored */
    if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(fatal[i], &sa, NULL);
  }
  /* Past a file size limit (ulimit -f) a write fails with EFBIG, reported
   * as an I/O error (exit 3), instead of SIGXFSZ killing the process. */
  signal(SIGXFSZ, SIG_IGN);
  /* Likewise a write to a closed pipe fails with EPIPE, which main() sees
   * (exit 3 saying the result file is complete; 141, quietly, for a command
   * that writes none), instead of SIGPIPE killing the process: after a run's
   * file was renamed into place that was exit 141 with the file written. */
  signal(SIGPIPE, SIG_IGN);
}

/* Only a regular file (or nothing) may be replaced; a symbolic link is
 * written through to the regular file it points to (ms_outfile_check). */
static int check_kind(const char *opt, const char *path, const ms_outfile_kind *kind) {
  ms_error err;
  ms_error_clear(&err);
  char *target = NULL;
  if (ms_outfile_check(opt, path, kind, &target, &err) != MS_OK) {
    fprintf(stderr, "marginsim: %s\n", err.msg);
    return EXIT_BADINPUT;
  }
  /* A link is written through: its target's folder gets the temporary, so
   * that folder must be writable too (else exit 3 only when the run starts). */
  int rc = 0;
  char *slash = target ? strrchr(target, '/') : NULL;
  if (slash && strcmp(target, path) != 0) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash == target ? 1 : (int)(slash - target), target);
    if (access(dir, W_OK | X_OK) != 0) {
      fprintf(stderr, "marginsim: %s %s: a symbolic link to %s; cannot write in its folder %s (%s)\n", opt, path,
              target, dir, strerror(errno));
      rc = EXIT_BADINPUT;
    }
  }
  free(target);
  return rc;
}

/* Checks that @p path (given by option @p opt) can be a file we write:
 * not a folder, its parent a folder (created if missing) we may write in.
 * Returns 0 or EXIT_BADINPUT after a message naming the option and path. */
static int prepare_output(const char *opt, const char *path, const ms_outfile_kind *kind, made_dirs *md) {
  size_t len = strlen(path);
  struct stat st;
  if (len == 0) {
    fprintf(stderr, "marginsim: %s '': the file name is empty; give the file to write (e.g. %s)\n", opt,
            strcmp(opt, "--junit") == 0 ? "--junit results/check.xml" : "-o results/run.h5");
    return EXIT_BADINPUT;
  }
  if (path[len - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
    fprintf(stderr, "marginsim: %s %s: is a folder; give a file name (e.g. %s%sresult%s)\n", opt, path, path,
            len && path[len - 1] == '/' ? "" : "/", strcmp(opt, "--junit") == 0 ? ".xml" : ".h5");
    return EXIT_BADINPUT;
  }
  char buf[4096];
  if (len >= sizeof buf) {
    fprintf(stderr, "marginsim: %s: the path is too long (%zu characters)\n", opt, len);
    return EXIT_BADINPUT;
  }
  memcpy(buf, path, len + 1);
  char *slash = strrchr(buf, '/');
  if (!slash) return check_kind(opt, path, kind); /* in the current folder */
  if (slash == buf) slash[1] = '\0'; /* "/x.h5": the root */
  else *slash = '\0';
  /* Create the missing folders, outermost first. */
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    if (stat(buf, &st) != 0) {
      if (mkdir(buf, 0777) != 0) {
        fprintf(stderr, "marginsim: %s %s: cannot create the folder %s (%s)\n", opt, path, buf, strerror(errno));
        return EXIT_BADINPUT;
      }
      if (md->n < MAX_MADE_DIRS) {
        md->dirs[md->n] = strdup(buf);
        if (md->dirs[md->n]) md->n++;
      }
    } else if (!S_ISDIR(st.st_mode)) {
      fprintf(stderr, "marginsim: %s %s: %s is a file, not a folder\n", opt, path, buf);
      return EXIT_BADINPUT;
    }
    *p = c;
    if (!c) break;
  }
  if (access(buf, W_OK | X_OK) != 0) {
    fprintf(stderr, "marginsim: %s %s: cannot write in the folder %s (%s)\n", opt, path, buf, strerror(errno));
    return EXIT_BADINPUT;
  }
  return check_kind(opt, path, kind);
}

/* The result file when -o is not given: results/<name><suffix>.h5, the
 * scenario name made safe for a file name (a name is free text: "BTC/USD
 * crash" or "../../x" must not reach outside results/). */
static void default_output(char *buf, size_t n, const char *name, const char *suffix) {
  char safe[128];
  ms_outfile_safe_name(safe, sizeof safe, name);
  snprintf(buf, n, "results/%s%s.h5", safe, suffix);
}

/* Whether @p a and @p b name the same file, however spelled (./x.h5 and
 * /abs/x.h5): the same file if both exist, else the same name in the same
 * folder (by device and inode; prepare_output made the folders). */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  const char *na = strrchr(a, '/'), *nb = strrchr(b, '/');
  na = na ? na + 1 : a;
  nb = nb ? nb + 1 : b;
  if (strcmp(na, nb) != 0) return 0;
  char da[4096], db[4096];
  int la = (int)(na - a), lb = (int)(nb - b);
  snprintf(da, sizeof da, "%.*s", la ? la : 1, la ? a : ".");
  snprintf(db, sizeof db, "%.*s", lb ? lb : 1, lb ? b : ".");
  if (stat(da, &sa) != 0 || stat(db, &sb) != 0) return strcmp(a, b) == 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Whether the output @p path (option @p opt) is the scenario file itself,
 * however spelled or linked: replacing it would destroy the input. */
static int is_scenario(const char *opt, const char *path, const char *scenario) {
  struct stat sa, sb;
  if (!scenario || stat(path, &sa) != 0 || stat(scenario, &sb) != 0) return 0;
  if (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino) return 0;
  fprintf(stderr, "marginsim: %s %s: the scenario file itself; give the output its own name\n", opt, path);
  return 1;
}

/* Rank 0's exit code @p rc on every rank (MPI; one process: @p rc). */
static int rc_of_rank0(int rc) {
  ms_error err;
  return ms_mpi_bcast(&rc, sizeof rc, 0, &err) ? 3 : rc;
}

/* A status every rank agrees on: the first failing rank's, with its
 * message in @p err (MPI; one process: @p s). */
static ms_status agreed(ms_status s, ms_error *err) { return ms_mpi_agree_status(s, err); }

static int prepare_outputs_here(const char *scenario, const char *output, const char *junit, made_dirs *md);

/* -o and --junit of one command, before it runs: checked, and their
 * folders made, by rank 0 alone (ranks may share the file system); a bad
 * -o fails every rank with rank 0's exit code. */
static int prepare_outputs(const char *scenario, const char *output, const char *junit, made_dirs *md) {
  return rc_of_rank0(ms_mpi_rank() == 0 ? prepare_outputs_here(scenario, output, junit, md) : 0);
}

/* A file a command writes must not be, or be named like, a run's journal (<result>.partial): the rename
 * would replace the journal of a run still going, or kept for --resume, and that run's end, which
 * removes its journal by name, would then delete the file just written (run and check exited 0). Called
 * after prepare_output, which refuses FIFOs and devices (a FIFO would block the read). */
static int not_a_journal(const char *opt, const char *path) {
  size_t n = strlen(path), k = strlen(MS_JOURNAL_SUFFIX);
  if (n >= k && strcmp(path + n - k, MS_JOURNAL_SUFFIX) == 0) {
    fprintf(stderr, "marginsim: %s %s: a name ending in %s is kept for run journals (the journal of -o FILE "
                    "is FILE%s); give the file another name\n", opt, path, MS_JOURNAL_SUFFIX, MS_JOURNAL_SUFFIX);
    return EXIT_BADINPUT;
  }
  if (ms_journal_is(path)) {
    fprintf(stderr, "marginsim: %s %s: is the journal of an unfinished run, not replaced; give the file another "
                    "name\n", opt, path);
    return EXIT_BADINPUT;
  }
  return 0;
}

static int prepare_outputs_here(const char *scenario, const char *output, const char *junit, made_dirs *md) {
  if (g_resume.on) { /* the recorded command must write the result file whose journal --resume named */
    char jpath[4200];
    struct stat st;
    snprintf(jpath, sizeof jpath, "%s%s", output, MS_JOURNAL_SUFFIX);
    if (stat(jpath, &st) != 0 || st.st_dev != g_resume.journal.st_dev || st.st_ino != g_resume.journal.st_ino) {
      fprintf(stderr, "marginsim: --resume: the recorded command (%s) writes %s, whose journal is not the one "
                      "named; run it from its folder or give --resume that file\n", g_resume.command, output);
      return EXIT_BADINPUT;
    }
  }
  /* the specific refusals first: a journal, the scenario itself (then: not a file marginsim wrote) */
  int rc = not_a_journal("-o/--output", output);
  if (!rc && is_scenario("-o/--output", output, scenario)) rc = EXIT_BADINPUT;
  if (!rc) rc = prepare_output("-o/--output", output, &ms_h5out_result_kind, md);
  if (!rc && junit) {
    rc = not_a_journal("--junit", junit);
    if (!rc && is_scenario("--junit", junit, scenario)) rc = EXIT_BADINPUT;
    if (!rc) rc = prepare_output("--junit", junit, &ms_junit_kind, md);
    if (!rc && same_file(junit, output)) {
      fprintf(stderr, "marginsim: --junit %s: the same file as -o; give the report its own name\n", junit);
      rc = EXIT_BADINPUT;
    }
  }
  if (rc) made_dirs_undo(md);
  return rc;
}

/* ---- commands ---- */

typedef struct {
  const char *scenario;
  const char *output;
  const char *sets[MAX_SETS];
  int nsets;
  int threads;
  int quiet;
  char paths_set[64], seed_set[96];
  const char *compare;
  const char *grids[MS_MAX_GRID + 1];
  int ngrids;
  const char *baseline, *show, *junit;
  const char *resume;     /* --resume FILE */
  char default_out[256];  /* -o when not given */
} cli_opts;

typedef enum { CMD_RUN, CMD_VALIDATE, CMD_SWEEP, CMD_CHECK } cli_cmd;

static int cmd_resume(const cli_opts *o);

static const char *const cmd_names[] = {"run", "validate", "sweep", "check"};
static void (*const usages[])(FILE *) = {usage_run, usage_validate, usage_sweep, usage_check};

/* An option that only some commands take. */
static int only_for(cli_cmd cmd, unsigned mask, const char *opt) {
  if (mask & (1u << cmd)) return 0;
  char which[64] = "";
  for (int c = 0; c < 4; c++)
    if (mask & (1u << c)) {
      if (which[0]) strncat(which, ", ", sizeof which - strlen(which) - 1);
      strncat(which, "'", sizeof which - strlen(which) - 1);
      strncat(which, cmd_names[c], sizeof which - strlen(which) - 1);
      strncat(which, "'", sizeof which - strlen(which) - 1);
    }
  fprintf(stderr, "marginsim %s: %s is an option of %s, not of '%s'\n", cmd_names[cmd], opt, which, cmd_names[cmd]);
  return EXIT_BADINPUT;
}

#define FOR(x) (1u << (x))

/* A whole-number option value: decimal digits only, the whole string (no
 * sign, no spaces, no exponent), from @p lo to @p hi. Exit 2 naming the
 * option otherwise. */
static int cli_whole(const char *opt, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out) {
  size_t len = strlen(arg);
  int ok = len > 0 && len <= 20;
  for (size_t i = 0; ok && i < len; i++) ok = arg[i] >= '0' && arg[i] <= '9';
  unsigned long long v = 0;
  if (ok) {
    char *end;
    errno = 0;
    v = strtoull(arg, &end, 10);
    ok = errno == 0 && *end == '\0' && v >= lo && v <= hi;
  }
  if (ok) { *out = (uint64_t)v; return 0; }
  fprintf(stderr, "marginsim: %s: expected a whole number from %llu to %llu (got '", opt,
          (unsigned long long)lo, (unsigned long long)hi);
  for (const unsigned char *c = (const unsigned char *)arg; *c && c - (const unsigned char *)arg < 80; c++)
    fprintf(stderr, *c < 0x20 || *c == 0x7f ? "\\x%02x" : "%c", *c);
  fprintf(stderr, "%s')\n", len > 80 ? "..." : "");
  return EXIT_BADINPUT;
}

static int parse_common(int argc, char **argv, cli_opts *o, cli_cmd cmd) {
  static const struct option longopts[] = {
      {"output", required_argument, 0, 'o'}, {"paths", required_argument, 0, 'n'},
      {"seed", required_argument, 0, 'S'},   {"threads", required_argument, 0, 'j'},
      {"set", required_argument, 0, 's'},    {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},         {"compare", required_argument, 0, 'C'},
      {"grid", required_argument, 0, 'G'},   {"baseline", required_argument, 0, 'B'},
      {"show", required_argument, 0, 'W'},   {"junit", required_argument, 0, 'J'},
      {"resume", required_argument, 0, 'R'}, {0, 0, 0, 0}};
  void (*usage)(FILE *) = usages[cmd];
  int rc;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "o:n:j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'o':
      /* "-o -q" is a forgotten file name far more often than a file called "-q" */
      if (optarg[0] == '-' && optarg[1] != '\0') {
        fprintf(stderr, "marginsim: -o/--output: expected a file name, got the option-like '%s' "
                        "(a file whose name starts with '-' can be given as ./%s)\n", optarg, optarg);
        return EXIT_BADINPUT;
      }
      o->output = optarg;
      break;
    case 'n': {
      uint64_t v;
      if ((rc = cli_whole("-n/--paths", optarg, 1, MS_MAX_PATHS, &v))) return rc;
      snprintf(o->paths_set, sizeof o->paths_set, "paths=%llu", (unsigned long long)v);
      break;
    }
    case 'S': {
      uint64_t v;
      if ((rc = cli_whole("--seed", optarg, 0, UINT64_MAX, &v))) return rc;
      snprintf(o->seed_set, sizeof o->seed_set, "seed=%llu", (unsigned long long)v);
      break;
    }
    case 'j': {
      uint64_t v;
      if ((rc = cli_whole("-j/--threads", optarg, 1, 1024, &v))) return rc;
      o->threads = (int)v;
      break;
    }
    case 's':
      if (o->nsets >= MAX_SETS - 2) {
        fprintf(stderr, "marginsim: at most %d --set options\n", MAX_SETS - 2);
        return EXIT_BADINPUT;
      }
      o->sets[o->nsets++] = optarg;
      break;
    case 'q': o->quiet = 1; break;
    case 'C':
      if ((rc = only_for(cmd, FOR(CMD_RUN), "--compare"))) return rc;
      if (o->compare) { /* the first one was dropped: a file of one key's values, labelled as asked */
        fprintf(stderr, "marginsim: --compare given twice (%s, %s): a run compares the values of one key; "
                        "vary several with `marginsim sweep --grid KEY=... --grid KEY2=...`\n", o->compare, optarg);
        return EXIT_BADINPUT;
      }
      o->compare = optarg;
      break;
    case 'G':
      if ((rc = only_for(cmd, FOR(CMD_SWEEP), "--grid"))) return rc;
      if (o->ngrids == MS_MAX_GRID) {
        fprintf(stderr, "marginsim sweep: at most %d --grid axes\n", MS_MAX_GRID);
        return EXIT_BADINPUT;
      }
      o->grids[o->ngrids++] = optarg;
      break;
    case 'B':
      if ((rc = only_for(cmd, FOR(CMD_SWEEP), "--baseline"))) return rc;
      o->baseline = optarg;
      break;
    case 'W':
      if ((rc = only_for(cmd, FOR(CMD_SWEEP), "--show"))) return rc;
      o->show = optarg;
      break;
    case 'J':
      if ((rc = only_for(cmd, FOR(CMD_CHECK), "--junit"))) return rc;
      o->junit = optarg;
      break;
    case 'R': o->resume = optarg; break;
    case 'h': usage(stdout); exit(0);
    default:
      if (optopt && strncmp(argv[optind - 1], "--", 2) == 0 && strchr(argv[optind - 1], '=')) /* --quiet=3 */
        fprintf(stderr, "marginsim: option %.*s takes no value\n", (int)strcspn(argv[optind - 1], "="),
                argv[optind - 1]);
      else if (optopt && strncmp(argv[optind - 1], "--", 2) == 0) /* a long option: as typed, not its letter */
        fprintf(stderr, "marginsim: option %s needs a value\n", argv[optind - 1]);
      else if (optopt) fprintf(stderr, "marginsim: option -%c needs a value or is unknown\n", optopt);
      else fprintf(stderr, "marginsim: unknown option %s\n", argv[optind - 1]);
      usage(stderr);
      return EXIT_BADINPUT;
    }
  }
  if (o->output && (rc = only_for(cmd, FOR(CMD_RUN) | FOR(CMD_SWEEP) | FOR(CMD_CHECK), "-o"))) return rc;
  if (o->resume) {
    if ((rc = only_for(cmd, FOR(CMD_RUN) | FOR(CMD_SWEEP) | FOR(CMD_CHECK), "--resume"))) return rc;
    if (optind < argc || o->output || o->nsets || o->paths_set[0] || o->seed_set[0] || o->compare || o->ngrids ||
        o->baseline || o->show || o->junit) {
      fprintf(stderr, "marginsim: --resume %s: give only -j and -q with it; the scenario and every other option "
                      "are the interrupted run's\n", o->resume);
      return EXIT_BADINPUT;
    }
    return 0;
  }
  if (optind >= argc) {
    fprintf(stderr, "marginsim: missing SCENARIO\n");
    usage(stderr);
    return EXIT_BADINPUT;
  }
  o->scenario = argv[optind++];
  if (optind < argc) {
    fprintf(stderr, "marginsim: unexpected argument '%s'\n", argv[optind]);
    return EXIT_BADINPUT;
  }
  if (g_resume.on) { /* the resuming command's -j and -q, not the recorded ones */
    o->threads = g_resume.threads;
    o->quiet = g_resume.quiet;
  }
  /* -n and --seed are applied after every --set, like --set paths=N. */
  if (o->paths_set[0]) o->sets[o->nsets++] = o->paths_set;
  if (o->seed_set[0]) o->sets[o->nsets++] = o->seed_set;
  return 0;
}

static char *join_argv(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; i++) len += strlen(argv[i]) * 4 + 3; /* a quote takes 4: '\'' */
  char *s = malloc(len), *p = s;
  if (!s) return NULL;
  for (int i = 0; i < argc; i++) {
    if (i) *p++ = ' ';
    /* quoted as a shell would need it; --resume splits it back (split_command),
     * so a backslash and an empty word must be quoted too */
    int quote = !argv[i][0] || strpbrk(argv[i], " \t\n'\"[]{}*?$\\") != NULL;
    if (quote) *p++ = '\'';
    for (const char *a = argv[i]; *a; a++) {
      if (*a == '\'') { memcpy(p, "'\\''", 4); p += 4; }
      else *p++ = *a;
    }
    if (quote) *p++ = '\'';
  }
  *p = '\0';
  return s;
}

static int cmd_validate(int argc, char **argv) {
  cli_opts o = {0};
  int rc = parse_common(argc, argv, &o, CMD_VALIDATE);
  if (rc) return rc;
  ms_error err;
  ms_error_clear(&err);
  ms_config *cfg = NULL;
  ms_status s = ms_config_load(&cfg, o.scenario, o.sets, o.nsets, &err);
  if (!s) s = ms_assertions_check(cfg, &err);
  if (!s && cfg->sweep.ngrid > 0) { /* the file's sweep: every cell loads, its baseline and show exist */
    ms_sweep *sw = NULL;
    s = ms_sweep_new(&sw, o.scenario, (const char *const *)o.sets, o.nsets, NULL, 0, NULL, NULL, &err);
    ms_sweep_free(sw);
  }
  if (s) {
    fprintf(stderr, "%s\n", err.msg);
    ms_config_free(cfg);
    return ms_status_exit_code(s);
  }
  /* The book too: an account below initial margin is bad input. */
  ms_book *book = NULL;
  struct ms_index_static *idx = NULL;
  s = ms_engine_shared_new(cfg, &book, &idx, &err);
  ms_engine_shared_free(book, idx);
  /* per_path: each path draws its own book; check the first ones as `run` will */
  int64_t nbooks = cfg->paths < VALIDATE_BOOK_PATHS ? cfg->paths : VALIDATE_BOOK_PATHS;
  if (!s) s = ms_engine_check_books(cfg, nbooks, &g_signal, &err);
  if (s == MS_ERR_CANCELLED) s = MS_OK; /* said below */
  if (s) {
    /* the book's own errors have no place in the file: point at its keys */
    print_error(cfg, s, &err, 0);
    ms_config_free(cfg);
    return ms_status_exit_code(s);
  }
  print_warnings((const ms_config *const *)&cfg, 1);
  char *yaml = ms_config_to_yaml(cfg);
  if (!yaml) { ms_config_free(cfg); fprintf(stderr, "marginsim: out of memory\n"); return 3; }
  rc = interrupted();
  if (!rc) {
    /* the file name goes into a comment: a line break in it would end the comment */
    printf("# resolved configuration of ");
    for (const unsigned char *c = (const unsigned char *)o.scenario; *c; c++)
      printf(*c < 0x20 || *c == 0x7f ? "\\x%02x" : "%c", *c);
    printf("\n");
  }
  if (!rc && cfg->book.resample == MS_RESAMPLE_PER_PATH) {
    char which[64] = "the book of path 0";
    if (nbooks > 1) snprintf(which, sizeof which, "the books of paths 0 to %lld", (long long)nbooks - 1);
    printf("# book.resample per_path: %s drawn and checked as in `run`; later paths' books are checked as they "
           "run\n", which);
  }
  if (!rc) printf("%s", yaml);
  free(yaml);
  ms_config_free(cfg);
  return rc;
}

static void print_compare(const ms_compare_report *rep, const char *key, int64_t paths, const char *out) {
  printf("marginsim %s — comparison of %s over %lld paths (common random numbers: each value on the same streams), %.2f s\n\n", MS_VERSION, key,
         (long long)paths, rep->seconds);
  printf("  %-12s %9s %9s %7s %9s  %-26s %9s %9s  %-24s %9s\n", "value", "IM (USD)", "1d risk", "IM/risk",
         "liq.", "bad debt mean [95% CI]", "q99", "ES99", "P(insolvency) [Wilson]", "largest");
  for (int c = 0; c < rep->ncells; c++) {
    const ms_stats *st = &rep->stats[c];
    const ms_stat_row *lq = ms_stats_find(st, "liquidations"), *bd = ms_stats_find(st, "bad_debt"),
                      *lc = ms_stats_find(st, "largest_cascade_notional");
    const ms_prob_row *ins = ms_stats_find_prob(st, "insolvency");
    char im[24], rk[24], l[24], m[24], lo[24], hi[24], q[24], es[24], big[24], bds[80], ps[64];
    fmt_num(rep->efficiency[c].initial_margin, im, sizeof im);
    fmt_num(rep->efficiency[c].risk, rk, sizeof rk);
    fmt_num(lq->mean, l, sizeof l);
    fmt_num(bd->mean, m, sizeof m);
    fmt_num(bd->mean_lo, lo, sizeof lo);
    fmt_num(bd->mean_hi, hi, sizeof hi);
    fmt_num(bd->q[2], q, sizeof q);
    fmt_num(bd->es99, es, sizeof es);
    fmt_num(lc->mean, big, sizeof big);
    snprintf(bds, sizeof bds, "%s [%s, %s]", m, lo, hi);
    snprintf(ps, sizeof ps, "%.4f [%.4f, %.4f]", ins->p, ins->lo, ins->hi);
    printf("  %-12s %9s %9s %7.3f %9s  %-26s %9s %9s  %-24s %9s\n", rep->values[c], im, rk,
           rep->efficiency[c].im_per_risk, l, bds, q, es, ps, big);
  }
  printf("  (bad debt in USD per path; q99 and ES99 its 99%% quantile and expected shortfall; largest: notional of "
         "the largest cascade, USD; 95%% intervals: bootstrap-t)\n");
  for (int c = 1; c < rep->ncells; c++) {
    printf("\n  %s - %s, paired over the same paths:\n", rep->values[c], rep->values[0]);
    printf("    %-30s %14s %14s %14s  %s\n", "statistic", rep->values[0], rep->values[c], "difference",
           "95% CI (bootstrap-t)");
    for (int j = 0; j < rep->ndiffs; j++) {
      const ms_diff_row *r = &rep->diffs[c][j];
      char name[80];
      snprintf(name, sizeof name, "%s%s", r->probability ? "P " : "", r->name);
      char x[4][24];
      fmt_num(r->baseline, x[0], sizeof x[0]);
      fmt_num(r->other, x[1], sizeof x[1]);
      fmt_num(r->diff, x[2], sizeof x[2]);
      fmt_num(r->lo, x[3], sizeof x[3]);
      char hi[24];
      fmt_num(r->hi, hi, sizeof hi);
      printf("    %-30s %14s %14s %14s  [%s, %s]\n", name, x[0], x[1], x[2], x[3], hi);
    }
  }
  g_wrote = out;
  printf("\nwrote %s\n", out);
}

/* SIGINT and SIGTERM cancel the run; it then removes its temporary file. */
static void catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  static const int sigs[] = {SIGINT, SIGTERM};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction old;
    /* ignored by whoever started us (a shell's background job: SIGINT) stays ignored */
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sigs[i], &sa, NULL);
  }
}

/* ---- one run of the library: what `run`, `run --compare` and `sweep` share ---- */

typedef struct {
  progress_state ps;
  ms_run_opts ro; /* progress_ctx points at ps: the struct stays where begin_run filled it */
  char *cmd;      /* the command line the result file records */
  int had_journal; /* a new run's journal name was taken before it began: that journal is not this run's */
} cli_run;

static void begin_run(cli_run *r, const cli_opts *o, int full_argc, char **full_argv) {
  /* a resumed run records the command it began with: its file is the uninterrupted run's */
  r->cmd = g_resume.on ? strdup(g_resume.command) : join_argv(full_argc, full_argv);
  r->ps = (progress_state){.t0 = mono_now(), .t1 = NAN, .start = g_resume.on ? g_resume.done : 0,
                           .enabled = !o->quiet && isatty(STDERR_FILENO)};
  r->ro = (ms_run_opts){.threads = o->threads, .output = o->output, .command = r->cmd,
                        .progress = on_progress, .progress_ctx = &r->ps, .cancel = &g_signal,
                        .resume = g_resume.on, .keep_partial = 1};
  r->had_journal = 0;
  if (!g_resume.on && o->output) {
    char jpath[4200];
    snprintf(jpath, sizeof jpath, "%s%s", o->output, MS_JOURNAL_SUFFIX);
    r->had_journal = access(jpath, F_OK) == 0;
  }
}

/* Ends a run begun by begin_run with the library's status @p s: says why it
 * failed (a signal: exit 128 + its number) and then removes the folders the
 * command made. Returns the exit code. On success the folders stay listed:
 * the caller keeps them (check still has its JUnit report to write). */
static int end_run(cli_run *r, ms_status s, const ms_error *err, const ms_config *cfg) {
  free(r->cmd);
  r->cmd = NULL;
  int rc = 0;
  char kept[64] = "";
  if (s && r->ro.output) { /* what the run keeps for a resume: say where and how */
    char jpath[4200];
    ms_journal_info info;
    ms_error e;
    snprintf(jpath, sizeof jpath, "%s%s", r->ro.output, MS_JOURNAL_SUFFIX);
    /* only a journal this run wrote, or the one it resumed, that this version can continue and no other
     * run holds (a refused start, another version's, a live run's: the error says what to do) */
    if (!r->had_journal && ms_journal_is(jpath) && !ms_journal_busy(jpath) &&
        ms_journal_count(jpath, &info, &e) == MS_OK) {
      if (info.version && strcmp(info.version, MS_JOURNAL_BUILD) == 0)
        snprintf(kept, sizeof kept, "%lld of %lld", (long long)info.done, (long long)info.paths);
      ms_journal_info_free(&info);
    }
  }
  /* a resumed run works from the folder it began in: its files as the user named them */
  const char *shown = g_resume.on ? g_resume.named : r->ro.output;
  if (s == MS_ERR_CANCELLED) {
    /* every rank has the status; the signal may have reached some ranks only: the same number on all */
    int sig = ms_mpi_agree_max((int)g_signal);
    if (kept[0])
      fprintf(stderr, "\nmarginsim: interrupted by signal %d; no result file written; %s paths are kept in "
                      "%s%s: continue with `marginsim run --resume %s`, or remove it\n",
              sig, kept, shown, MS_JOURNAL_SUFFIX, shown);
    else fprintf(stderr, "\nmarginsim: interrupted by signal %d; no result file written\n", sig);
    rc = 128 + (sig ? sig : SIGINT);
  } else if (s) {
    print_error(cfg, s, err, r->ps.enabled);
    if (kept[0])
      fprintf(stderr, "marginsim: %s paths are kept in %s%s: once the cause is fixed, continue with "
                      "`marginsim run --resume %s`\n", kept, shown, MS_JOURNAL_SUFFIX, shown);
    rc = ms_status_exit_code(s);
  }
  if (rc) made_dirs_undo(&g_made);
  return rc;
}

static int cmd_compare(cli_opts *o, int full_argc, char **full_argv) {
  /* split as --grid is (commas inside [], {} or quotes do not split; values trimmed): an empty value, or
   * one given twice, is an error, not a value left out */
  ms_sweep_axis ax;
  ms_error perr;
  if (ms_sweep_parse_list("--compare", o->compare, &ax, &perr)) {
    fprintf(stderr, "marginsim: %s\n", perr.msg);
    return EXIT_BADINPUT;
  }
  const char *key = ax.key;
  const char *values[MS_MAX_CELLS];
  int n = ax.n;
  if (n > MS_MAX_CELLS) {
    fprintf(stderr, "marginsim: --compare: at most %d values\n", MS_MAX_CELLS);
    ms_sweep_axis_clear(&ax);
    return EXIT_BADINPUT;
  }
  if (n < 2) {
    fprintf(stderr, "marginsim: --compare %s: give at least two values\n", o->compare);
    ms_sweep_axis_clear(&ax);
    return EXIT_BADINPUT;
  }
  for (int i = 0; i < n; i++) values[i] = ax.values[i];
  /* each value is a group /models/<value> with '/' written '|' and "." / ".." as "_." / "_.." (h5out.c):
   * two values that name one group are bad input, not a failed write (exit 3) after the whole run */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++) {
      char gi[MS_SWEEP_VALUE + 1], gj[MS_SWEEP_VALUE + 1];
      ms_h5out_leaf_name(values[i], gi, sizeof gi);
      ms_h5out_leaf_name(values[j], gj, sizeof gj);
      if (strcmp(gi, gj) == 0) {
        fprintf(stderr, "marginsim: --compare %s: values %s and %s would both be the group /models/%s of the "
                        "result file\n", o->compare, values[j], values[i], gi);
        ms_sweep_axis_clear(&ax);
        return EXIT_BADINPUT;
      }
    }
  ms_config *cfgs[MS_MAX_CELLS] = {0};
  char sets_buf[MS_MAX_CELLS][512];
  ms_error err;
  ms_error_clear(&err);
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    const char *sets[MAX_SETS + 1];
    for (int k = 0; k < o->nsets; k++) sets[k] = o->sets[k];
    snprintf(sets_buf[i], sizeof sets_buf[i], "%s=%s", key, values[i]);
    sets[o->nsets] = sets_buf[i];
    ms_status s = agreed(ms_config_load(&cfgs[i], o->scenario, sets, o->nsets + 1, &err), &err);
    if (s) {
      fprintf(stderr, "marginsim: --compare %s, value %d (%s): %s\n", key, i + 1, values[i], err.msg);
      rc = ms_status_exit_code(s);
    }
  }
  if (!rc) print_warnings((const ms_config *const *)cfgs, n);
  char default_out[256];
  if (!rc && !o->output) {
    default_output(default_out, sizeof default_out, cfgs[0]->name, "-compare");
    o->output = default_out;
  }
  made_dirs *md = &g_made; /* one command per process */
  if (!rc) rc = prepare_outputs(o->scenario, o->output, NULL, md);
  ms_compare_report *rep = rc ? NULL : calloc(1, sizeof *rep);
  if (!rc) {
    cli_run r;
    begin_run(&r, o, full_argc, full_argv);
    ms_status s = rep ? ms_run_compare((const ms_config *const *)cfgs, values, n, key, &r.ro, rep, &err)
                      : ms_error_set(&err, MS_ERR_NOMEM, "out of memory");
    rc = end_run(&r, s, &err, NULL);
    if (!rc && !o->quiet) print_compare(rep, key, cfgs[0]->paths, o->output);
  }
  if (rc) made_dirs_undo(md);
  else made_dirs_keep(md);
  for (int i = 0; i < n; i++) ms_config_free(cfgs[i]);
  free(rep);
  ms_sweep_axis_clear(&ax);
  return rc;
}

/* The run of `run` and `check`: load, run, report errors. Returns an exit
 * code; on success *@p cfg_out and *@p rep_out are the caller's to free. */
static int execute_run(cli_opts *o, int full_argc, char **full_argv, ms_config **cfg_out,
                       ms_run_report **rep_out) {
  *cfg_out = NULL;
  *rep_out = NULL;
  ms_error err;
  ms_error_clear(&err);
  ms_config *cfg = NULL;
  ms_status s = agreed(ms_config_load(&cfg, o->scenario, o->sets, o->nsets, &err), &err);
  if (s) {
    ms_config_free(cfg);
    fprintf(stderr, "%s\n", err.msg);
    return ms_status_exit_code(s);
  }
  print_warnings((const ms_config *const *)&cfg, 1);
  if (!o->output) {
    default_output(o->default_out, sizeof o->default_out, cfg->name, "");
    o->output = o->default_out;
  }
  made_dirs *md = &g_made; /* one command per process */
  int prc = prepare_outputs(o->scenario, o->output, o->junit, md);
  if (prc) {
    ms_config_free(cfg);
    return prc;
  }
  cli_run r;
  begin_run(&r, o, full_argc, full_argv);
  ms_run_report *rep = calloc(1, sizeof *rep);
  if (!rep) s = ms_error_set(&err, MS_ERR_NOMEM, "out of memory");
  else s = ms_run(cfg, &r.ro, rep, &err);
  int rc = end_run(&r, s, &err, cfg);
  if (rc) {
    ms_config_free(cfg);
    free(rep);
    return rc;
  }
  /* the folders made stay listed: check's JUnit report is still to come */
  *cfg_out = cfg;
  *rep_out = rep;
  return 0;
}

/* One line per assertion; returns how many failed. */
static int print_assertions(const ms_assert_result *r, int n) {
  int failed = 0;
  for (int i = 0; i < n; i++) {
    char desc[512];
    ms_assertion_describe(&r[i], desc, sizeof desc);
    const char *tag = r[i].passed ? "PASS" : r[i].point_passes ? "FAIL (not yet conclusive)" : "FAIL";
    char text[300];
    if (r[i].a->confidence > 0) snprintf(text, sizeof text, "%s  @ %g", r[i].a->text, r[i].a->confidence);
    else snprintf(text, sizeof text, "%s", r[i].a->text);
    printf("  %-25s %-44s %s\n", tag, text, desc);
    failed += !r[i].passed;
  }
  return failed;
}

static int cmd_run(int argc, char **argv, int full_argc, char **full_argv) {
  cli_opts o = {0};
  int rc = parse_common(argc, argv, &o, CMD_RUN);
  if (rc) return rc;
  if (o.resume) return g_resume.on ? EXIT_BADINPUT : cmd_resume(&o);
  if (o.compare) return cmd_compare(&o, full_argc, full_argv);
  ms_config *cfg;
  ms_run_report *rep;
  rc = execute_run(&o, full_argc, full_argv, &cfg, &rep);
  if (rc) return rc;
  made_dirs_keep(&g_made);
  if (!o.quiet) {
    print_summary(cfg, rep, o.output);
    if (rep->nassert > 0) {
      printf("\nassertions (reported only; `marginsim check` fails on them):\n");
      int failed = print_assertions(rep->asserts, rep->nassert);
      printf("  %d of %d hold\n", rep->nassert - failed, rep->nassert);
    }
  }
  ms_config_free(cfg);
  free(rep);
  return 0;
}

static int cmd_check(int argc, char **argv, int full_argc, char **full_argv) {
  cli_opts o = {0};
  int rc = parse_common(argc, argv, &o, CMD_CHECK);
  if (rc) return rc;
  if (o.resume) return g_resume.on ? EXIT_BADINPUT : cmd_resume(&o);
  /* A check with nothing to check must not pass: find out before running. */
  ms_error err;
  ms_error_clear(&err);
  ms_config *pre = NULL;
  ms_status s = ms_config_load(&pre, o.scenario, o.sets, o.nsets, &err);
  if (!s && pre->nassertions == 0)
    s = ms_error_set(&err, MS_ERR_INPUT, "%s: assertions: the scenario has none; a check needs at least one, "
                     "e.g. assertions: [\"insolvency.probability < 0.01\"]", o.scenario);
  if (!s) s = ms_assertions_check(pre, &err);
  s = agreed(s, &err);
  ms_config_free(pre);
  if (s) {
    fprintf(stderr, "%s\n", err.msg);
    return ms_status_exit_code(s);
  }
  ms_config *cfg;
  ms_run_report *rep;
  rc = execute_run(&o, full_argc, full_argv, &cfg, &rep);
  if (rc) return rc;
  char nm[4 * 64 + 8]; /* every byte of the 64-byte name escaped */
  printf("marginsim check %s: %s, %lld paths, seed %llu, %.2f s\n", o.scenario, shown_name(cfg->name, nm, sizeof nm),
         (long long)rep->paths,
         (unsigned long long)cfg->seed, rep->seconds);
  int failed = print_assertions(rep->asserts, rep->nassert);
  printf("%d assertion%s: %d passed, %d failed\n", rep->nassert, rep->nassert == 1 ? "" : "s",
         rep->nassert - failed, failed);
  if (o.junit) {
    /* rank 0 writes the report; every rank learns how that went */
    s = agreed(ms_mpi_rank() == 0 ? ms_junit_write(o.junit, cfg, rep->asserts, rep->nassert, rep->seconds, &err)
                                  : MS_OK, &err);
    if (s) {
      fprintf(stderr, "%s\n", err.msg);
      rc = ms_status_exit_code(s);
      made_dirs_undo(&g_made); /* removes only folders left empty: the result file's stays */
    } else {
      printf("wrote %s\n", o.junit);
    }
  }
  made_dirs_keep(&g_made);
  ms_config_free(cfg);
  free(rep);
  if (rc) return rc;
  return failed ? 1 : 0;
}

/* A statistic of the table: "0.0123 [0.01, 0.015]", "1.9M [1.3M, 2.91M]" */
static void fmt_stat(const ms_stat_value *v, char *buf, size_t n) {
  char x[24], lo[24], hi[24];
  fmt_num(v->value, x, sizeof x);
  fmt_num(v->lo, lo, sizeof lo);
  fmt_num(v->hi, hi, sizeof hi);
  if (v->has_interval) snprintf(buf, n, "%s [%s, %s]", x, lo, hi);
  else snprintf(buf, n, "%s", x);
}

/* fmt_num with a sign: "+1.2k", "-3", "+0". */
static void fmt_signed(double v, char *buf, size_t n) {
  char x[20];
  fmt_num(v, x, sizeof x);
  snprintf(buf, n, "%s%s", v >= 0 && !isnan(v) ? "+" : "", x);
}

static void print_sweep(const ms_sweep *sw, const ms_sweep_report *rep, const char *out) {
  int n = sw->ncells;
  char nm[4 * 64 + 8]; /* every byte of the 64-byte name escaped */
  printf("marginsim %s — sweep of %s: %d cells x %lld paths (the same paths in every cell), %d thread%s, %.2f s\n",
         MS_VERSION, shown_name(sw->cfgs[0]->name, nm, sizeof nm), n, (long long)sw->cfgs[0]->paths, rep->threads, rep->threads == 1 ? "" : "s",
         rep->seconds);
  printf("baseline: cell %d (%s); statistics with 95%% intervals\n\n", sw->baseline, sw->labels[sw->baseline]);
  int wv[MS_MAX_GRID], ws[MS_MAX_SHOW];
  for (int a = 0; a < sw->naxes; a++) {
    wv[a] = (int)strlen(sw->axes[a].key);
    for (int i = 0; i < sw->axes[a].n; i++)
      if ((int)strlen(sw->axes[a].values[i]) > wv[a]) wv[a] = (int)strlen(sw->axes[a].values[i]);
  }
  char cellbuf[96];
  for (int j = 0; j < sw->nshow; j++) {
    ws[j] = (int)strlen(sw->show[j]);
    for (int c = 0; c < n; c++) {
      fmt_stat(&rep->show[c * rep->nshow + j], cellbuf, sizeof cellbuf);
      if ((int)strlen(cellbuf) > ws[j]) ws[j] = (int)strlen(cellbuf);
    }
  }
  printf("  %4s", "cell");
  for (int a = 0; a < sw->naxes; a++) printf("  %-*s", wv[a], sw->axes[a].key);
  for (int j = 0; j < sw->nshow; j++) printf("  %-*s", ws[j], sw->show[j]);
  if (rep->nassert) printf("  assertions");
  printf("\n");
  for (int c = 0; c < n; c++) {
    printf("  %3d%s", c, c == sw->baseline ? "*" : " ");
    for (int a = 0; a < sw->naxes; a++) printf("  %-*s", wv[a], sw->axes[a].values[sw->index[c * sw->naxes + a]]);
    for (int j = 0; j < sw->nshow; j++) {
      fmt_stat(&rep->show[c * rep->nshow + j], cellbuf, sizeof cellbuf);
      printf("  %-*s", ws[j], cellbuf);
    }
    if (rep->nassert) {
      int ok = 0;
      for (int k = 0; k < rep->nassert; k++) ok += rep->asserts[c * rep->nassert + k].passed;
      printf("  %d/%d hold", ok, rep->nassert);
    }
    printf("\n");
  }
  printf("\n  paired differences against the baseline (cell - baseline on the same paths, 95%% interval;\n"
         "  quantiles and other non-mean statistics: the difference of the estimates, no interval)\n");
  static char dbuf[MS_SWEEP_MAX_CELLS][MS_MAX_SHOW][80]; /* the table, formatted once for its widths */
  for (int j = 0; j < sw->nshow; j++) {
    ws[j] = (int)strlen(sw->show[j]);
    for (int c = 0; c < n; c++) {
      const ms_diff_row *d = &rep->show_diff[c * rep->nshow + j];
      char x[24], lo[24], hi[24];
      fmt_signed(d->diff, x, sizeof x);
      fmt_signed(d->lo, lo, sizeof lo);
      fmt_signed(d->hi, hi, sizeof hi);
      if (isnan(d->lo)) snprintf(dbuf[c][j], sizeof dbuf[c][j], "%s", x);
      else snprintf(dbuf[c][j], sizeof dbuf[c][j], "%s [%s, %s]%s", x, lo, hi, d->lo > 0 || d->hi < 0 ? " *" : "");
      if (c != sw->baseline && (int)strlen(dbuf[c][j]) > ws[j]) ws[j] = (int)strlen(dbuf[c][j]);
    }
  }
  printf("  %4s", "cell");
  for (int j = 0; j < sw->nshow; j++) printf("  %-*s", ws[j], sw->show[j]);
  printf("\n");
  for (int c = 0; c < n; c++) {
    if (c == sw->baseline) continue;
    printf("  %4d", c);
    for (int j = 0; j < sw->nshow; j++) printf("  %-*s", ws[j], dbuf[c][j]);
    printf("\n");
  }
  printf("  (* the interval excludes 0)\n");
  if (rep->replayed > 0)
    printf("\nexogenous paths generated once per path and replayed in %lld cell-paths\n", (long long)rep->replayed);
  g_wrote = out;
  printf("\nwrote %s\n", out);
}

static int cmd_sweep(int argc, char **argv, int full_argc, char **full_argv) {
  cli_opts o = {0};
  int rc = parse_common(argc, argv, &o, CMD_SWEEP);
  if (rc) return rc;
  if (o.resume) return g_resume.on ? EXIT_BADINPUT : cmd_resume(&o);
  ms_error err;
  ms_error_clear(&err);
  ms_sweep *sw = NULL;
  ms_status s = ms_sweep_new(&sw, o.scenario, o.sets, o.nsets, o.ngrids ? o.grids : NULL, o.ngrids, o.baseline,
                             o.show, &err);
  if ((s = agreed(s, &err))) {
    ms_sweep_free(sw);
    fprintf(stderr, "%s\n", err.msg);
    return ms_status_exit_code(s);
  }
  print_warnings((const ms_config *const *)sw->cfgs, sw->ncells);
  char default_out[256];
  if (!o.output) {
    default_output(default_out, sizeof default_out, sw->cfgs[0]->name, "-sweep");
    o.output = default_out;
  }
  made_dirs *md = &g_made; /* one command per process */
  if ((rc = prepare_outputs(o.scenario, o.output, NULL, md))) {
    ms_sweep_free(sw);
    return rc;
  }
  cli_run r;
  begin_run(&r, &o, full_argc, full_argv);
  ms_sweep_report rep;
  s = ms_run_sweep(sw, &r.ro, &rep, &err);
  rc = end_run(&r, s, &err, NULL);
  if (!rc && !o.quiet) print_sweep(sw, &rep, o.output);
  if (!rc) made_dirs_keep(md);
  ms_sweep_report_free(&rep);
  ms_sweep_free(sw);
  return rc;
}

static int cmd_schema(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: marginsim schema [--output TABLE]\n\nPrints every scenario key (type, default, allowed values, "
           "meaning) as Markdown tables, one per section.\n\n"
           "  --output TABLE  instead, a table of the result file's fields (docs/output.md):");
    for (int i = 0; ms_fields_tables[i]; i++) printf(" %s", ms_fields_tables[i]);
    printf("\n");
    return 0;
  }
  char *md = NULL;
  if (argc == 3 && strcmp(argv[1], "--output") == 0) {
    md = ms_fields_markdown(argv[2]);
    if (!md) { fprintf(stderr, "marginsim schema: no table '%s' (see --help)\n", argv[2]); return EXIT_BADINPUT; }
  } else if (argc > 1) {
    fprintf(stderr, "marginsim schema: takes no arguments but --output TABLE\n");
    return EXIT_BADINPUT;
  } else {
    md = ms_config_schema_markdown();
  }
  if (!md) return 3;
  fputs(md, stdout);
  free(md);
  return 0;
}

/* ---- marginsim data ---- */

/* What a replay or bootstrap window may use: the file's span, resolution,
 * gaps (with their lines) and extremes; bad input as replay reports it. */
static int cmd_data(int argc, char **argv) {
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: marginsim data FILE.csv\n\n"
           "Reads a candle file as market.replay and market.bootstrap read it (docs/scenario.md,\n"
           "\"Replaying history\"), and prints its span, resolution, gaps and extremes.\n"
           "Exit 0, or 2 with FILE:LINE and the problem when it cannot be replayed.\n");
    return 0;
  }
  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr, "usage: marginsim data FILE.csv\n");
    return EXIT_BADINPUT;
  }
  ms_series *se = NULL;
  ms_error err;
  ms_status st = ms_series_read(&se, argv[1], &err);
  if (st) {
    fprintf(stderr, "marginsim data: %s\n", err.msg);
    return st == MS_ERR_INPUT || st == MS_ERR_IO ? EXIT_BADINPUT : 3;
  }
  char a[48], b[48], res[32];
  ms_time_format_iso(se->c[0].t, a, sizeof a);
  ms_time_format_iso(se->c[se->n - 1].t + se->resolution, b, sizeof b);
  ms_units_format_duration(se->resolution, res, sizeof res);
  printf("%s: %lld candles of %s, %s to %s (from: the first candle's open, to: the last one's end)\n", se->name,
         (long long)se->n, res, a, b);
  int64_t lo = 0, hi = 0;
  for (int64_t i = 1; i < se->n; i++) {
    if (se->c[i].low < se->c[lo].low) lo = i;
    if (se->c[i].high > se->c[hi].high) hi = i;
  }
  ms_time_format_iso(se->c[lo].t, a, sizeof a);
  ms_time_format_iso(se->c[hi].t, b, sizeof b);
  printf("low %.10g in the candle of %s (line %d), high %.10g in the candle of %s (line %d)\n", se->c[lo].low, a,
         (int)se->line[lo], se->c[hi].high, b, (int)se->line[hi]);
  if (se->ngaps == 0) printf("gaps: none\n");
  else printf("gaps: %lld (a window may not hold one)\n", (long long)se->ngaps);
  for (int64_t g = 0; g < se->ngaps; g++) {
    int64_t i = se->gap_after[g];
    ms_time_format_iso(se->c[i].t + se->resolution, a, sizeof a);
    ms_time_format_iso(se->c[i + 1].t, b, sizeof b);
    printf("  no candle from %s to %s (between lines %d and %d)\n", a, b, (int)se->line[i], (int)se->line[i + 1]);
  }
  printf("fnv1a64 %016llx\n", (unsigned long long)se->hash);
  ms_series_free(se);
  return 0;
}

/* ---- marginsim calibrate ---- */

static void usage_calibrate(FILE *f) {
  fprintf(f,
          "usage: marginsim calibrate FILE.csv --model regime_switching|garch [--regimes K]\n"
          "                           [--from ISO] [--to ISO] [--resolution DURATION] [--starts N] [--seed S]\n"
          "                           [--dist normal|t] [-o OUT.yaml] [--regime-path OUT.csv]\n"
          "                           [--days-per-year D]\n"
          "       marginsim calibrate PERP.csv --model premium --index SPOT.csv [--from ISO] [--to ISO]\n"
          "                           [-o OUT.yaml]\n"
          "\n"
          "Fits a price model to the log returns of the closes of an OHLC CSV file (the layouts of\n"
          "scenarios/data/), prints the fit with standard errors, log-likelihood, AIC and BIC, then the\n"
          "market: section of a scenario, ready to paste (docs/calibration.md). --model premium fits\n"
          "the funding premium of a perpetual's closes over its index's instead (an Ornstein-Uhlenbeck\n"
          "process) and prints the funding: section.\n"
          "\n"
          "      --model M           regime_switching: K Gaussian regimes switching as a Markov chain\n"
          "                          (EM from several seeded starts); garch: GARCH(1,1) (maximum likelihood);\n"
          "                          premium: funding.premium from PERP.csv over --index\n"
          "      --index FILE        premium: the index's (spot) candles, at PERP.csv's resolution\n"
          "      --regimes K         regimes, 1 to %d (default 2; regime_switching)\n"
          "      --from ISO          first candle by open time (2022-01-01, 2025-10-10T00:00:00Z);\n"
          "                          default: the file's first\n"
          "      --to ISO            the window ends before the candle opening at ISO; default: after the last\n"
          "      --resolution D      returns over D, a whole multiple of the file's resolution (every k-th\n"
          "                          close), e.g. 1d from hourly candles; default: the file's\n"
          "      --starts N          EM starting points (default 10; regime_switching)\n"
          "      --seed S            seed of the starting points, any 64-bit value (default 1)\n"
          "      --dist normal|t     innovations (default normal; garch): t estimates its degrees of freedom\n"
          "  -o, --output FILE       also write the market: (or funding:) section alone to FILE\n"
          "      --regime-path FILE  write time,return,regime,p0,p1,... (the most likely regime, the\n"
          "                          smoothed probabilities) as CSV (regime_switching)\n"
          "      --days-per-year D   days in the year of annualised vol and drift (default 365)\n"
          "\n"
          "exit codes: 0 success, 2 bad input (the file, an option, the window), 3 I/O or internal failure\n",
          MS_CALIB_MAX_REGIMES);
}

/* calibrate's outputs: the YAML (its first line names calibrate) and the regime path's CSV (its header). */
/* (premium's first line is "# marginsim calibrate --model premium: ...", one regime's header ends at p0) */
static int is_calib_yaml(const char *path) { return ms_outfile_starts_with(path, "# marginsim calibrate"); }
static int is_calib_csv(const char *path) { return ms_outfile_starts_with(path, "time,return,regime,p0"); }
static const ms_outfile_kind calib_yaml = {"a YAML file of marginsim calibrate", is_calib_yaml};
static const ms_outfile_kind calib_csv = {"a regime path of marginsim calibrate", is_calib_csv};

static const ms_outfile_kind *calib_kind(const char *opt) {
  return strcmp(opt, "--regime-path") == 0 ? &calib_csv : &calib_yaml;
}

/* An output of calibrate: nothing or an earlier output at @p path, in a
 * folder that exists and may be written, and not the input file. */
static int calib_check_output(const char *opt, const char *path, const struct stat *in) {
  struct stat st;
  if (stat(path, &st) == 0 && st.st_dev == in->st_dev && st.st_ino == in->st_ino) {
    fprintf(stderr, "marginsim calibrate: %s %s: that is the input file\n", opt, path);
    return EXIT_BADINPUT;
  }
  if (check_kind(opt, path, calib_kind(opt))) return EXIT_BADINPUT;
  char dir[4096];
  const char *slash = strrchr(path, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (slash == path ? 1 : (int)(slash - path)) : 1, slash ? path : ".");
  if (access(dir, W_OK | X_OK) != 0) {
    fprintf(stderr, "marginsim calibrate: %s %s: cannot write in the folder %s (%s)\n", opt, path, dir,
            strerror(errno));
    return EXIT_BADINPUT;
  }
  return 0;
}

/* The YAML calibrate prints is "ready to paste": it must load as a scenario.
 * A fit the loader refuses (a drift of 3e7 from a file with one stray price)
 * is bad input, said before anything is printed or written (input audit
 * 2026-12-07: it was printed as ready, then refused once pasted). */
static int calib_loads(const char *yaml, const char *file) {
  ms_config *cfg = NULL;
  ms_error err;
  if (ms_config_load_string(&cfg, yaml, "the fitted section", NULL, 0, &err) == MS_OK) {
    ms_config_free(cfg);
    return 0;
  }
  fprintf(stderr, "marginsim calibrate: %s: the fit is no valid scenario (%s): a fit on its bounds (too few "
                  "returns for the model: try fewer parameters or a longer window), or bad data (`marginsim data "
                  "%s` lists its extremes and gaps)\n", file, err.msg, file);
  return EXIT_BADINPUT;
}

/* @p text into @p path, replaced safely (temporary, rename). */
static int calib_write(const char *opt, const char *path, const char *text) {
  ms_error err;
  ms_outfile o;
  if (ms_outfile_open(&o, path, calib_kind(opt), &err)) {
    fprintf(stderr, "marginsim calibrate: %s\n", err.msg);
    return ms_status_exit_code(err.status);
  }
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t w = write(o.fd, text + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      ms_outfile_abort(&o);
      fprintf(stderr, "marginsim calibrate: %s %s: cannot write (%s)\n", opt, path, strerror(e));
      return 3;
    }
    off += (size_t)w;
  }
  if (ms_outfile_commit(&o, &err)) {
    fprintf(stderr, "marginsim calibrate: %s\n", err.msg);
    return ms_status_exit_code(err.status);
  }
  return 0;
}

static int calib_time(const char *opt, const char *arg, int64_t *ms) {
  if (ms_time_parse_iso(arg, ms) == 0) return 0;
  fprintf(stderr, "marginsim calibrate: %s: expected an ISO 8601 time (2022-01-01, 2025-10-10T00:00:00Z), got '%s'\n",
          opt, arg);
  return EXIT_BADINPUT;
}

/* A candle file of calibrate's: 0, or an exit code after a message. */
static int calib_input(const char *what, const char *file) {
  struct stat in;
  if (stat(file, &in) != 0) {
    fprintf(stderr, "marginsim calibrate: %s%s: cannot open: %s\n", what, file, strerror(errno));
    return EXIT_BADINPUT;
  }
  if (S_ISDIR(in.st_mode)) {
    fprintf(stderr, "marginsim calibrate: %s%s: is a folder, not a CSV file\n", what, file);
    return EXIT_BADINPUT;
  }
  return 0;
}

/* --model premium: the funding premium of @p file (a perpetual's candles)
 * over @p index (its index's), in the window [@p t_from, @p t_to),
 * docs/calibration.md. cmd_calibrate has checked the options, the window
 * and @p file (@p in: its stat). */
static int calibrate_premium(const char *file, const char *index, int64_t t_from, int64_t t_to, const char *output,
                             const struct stat *in) {
  if (!index) {
    fprintf(stderr, "marginsim calibrate: --model premium needs --index FILE.csv, the index's (spot) candles\n");
    return EXIT_BADINPUT;
  }
  int rc;
  if ((rc = calib_input("--index ", index))) return rc;
  struct stat ix;
  if (output && ((rc = calib_check_output("-o/--output", output, in)) ||
                 (stat(index, &ix) == 0 && (rc = calib_check_output("-o/--output", output, &ix)))))
    return rc;
  ms_error err;
  ms_series *sp = NULL, *si = NULL;
  ms_calib_premium fit;
  char *summary = NULL, *yaml = NULL;
  ms_status st = ms_series_read(&sp, file, &err);
  if (!st) st = ms_series_read(&si, index, &err);
  if (!st) st = ms_calib_premium_fit(&fit, sp, si, t_from, t_to, &err);
  if (!st) st = ms_calib_premium_text(&summary, &yaml, &fit, file, index, &err);
  rc = 0;
  if (st) {
    fprintf(stderr, "marginsim calibrate: %s\n", err.msg);
    rc = ms_status_exit_code(st);
  } else if (!(rc = interrupted()) && !(rc = calib_loads(yaml, file))) {
    fputs(summary, stdout);
    fputs("\n", stdout);
    fputs(yaml, stdout);
    fflush(stdout);
    if (output) rc = calib_write("-o/--output", output, yaml);
  }
  free(summary);
  free(yaml);
  ms_series_free(sp);
  ms_series_free(si);
  return rc;
}

static int cmd_calibrate(int argc, char **argv) {
  static const struct option longopts[] = {
      {"model", required_argument, 0, 'M'},      {"regimes", required_argument, 0, 'K'},
      {"from", required_argument, 0, 'F'},       {"to", required_argument, 0, 'T'},
      {"resolution", required_argument, 0, 'r'}, {"starts", required_argument, 0, 'N'},
      {"seed", required_argument, 0, 'S'},       {"dist", required_argument, 0, 'D'},
      {"output", required_argument, 0, 'o'},     {"regime-path", required_argument, 0, 'P'},
      {"days-per-year", required_argument, 0, 'Y'}, {"index", required_argument, 0, 'I'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *model = NULL, *regimes = NULL, *from = NULL, *to = NULL, *resolution = NULL, *starts = NULL;
  const char *seed = NULL, *dist = NULL, *output = NULL, *rpath = NULL, *dpy = NULL, *index = NULL;
  int help = 0, c;
  optind = 1;
  opterr = 0;
  /* values are checked once every option is read: --help wins wherever it stands */
  while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'M': model = optarg; break;
    case 'K': regimes = optarg; break;
    case 'F': from = optarg; break;
    case 'T': to = optarg; break;
    case 'r': resolution = optarg; break;
    case 'N': starts = optarg; break;
    case 'S': seed = optarg; break;
    case 'D': dist = optarg; break;
    case 'o': output = optarg; break;
    case 'P': rpath = optarg; break;
    case 'Y': dpy = optarg; break;
    case 'I': index = optarg; break;
    case 'h': help = 1; break;
    default:
      if (optopt) fprintf(stderr, "marginsim calibrate: option -%c needs a value or is unknown\n", optopt);
      else fprintf(stderr, "marginsim calibrate: unknown option %s\n", argv[optind - 1]);
      usage_calibrate(stderr);
      return EXIT_BADINPUT;
    }
  }
  if (help) {
    usage_calibrate(stdout);
    return 0;
  }
  if (optind >= argc) {
    fprintf(stderr, "marginsim calibrate: missing FILE.csv\n");
    usage_calibrate(stderr);
    return EXIT_BADINPUT;
  }
  const char *file = argv[optind++];
  if (optind < argc) {
    fprintf(stderr, "marginsim calibrate: unexpected argument '%s' (one file at a time)\n", argv[optind]);
    return EXIT_BADINPUT;
  }
  ms_calib_opts co;
  ms_calib_opts_default(&co);
  if (!model) {
    fprintf(stderr, "marginsim calibrate: --model: missing; give --model regime_switching, garch or premium\n");
    return EXIT_BADINPUT;
  }
  int premium = strcmp(model, "premium") == 0;
  if (!premium && index) {
    fprintf(stderr, "marginsim calibrate: --index is an option of --model premium, not of %s\n", model);
    return EXIT_BADINPUT;
  }
  if (premium) co.model = MS_CALIB_REGIME_SWITCHING; /* unused: calibrate_premium below */
  else if (strcmp(model, "regime_switching") == 0) co.model = MS_CALIB_REGIME_SWITCHING;
  else if (strcmp(model, "garch") == 0) co.model = MS_CALIB_GARCH;
  else {
    fprintf(stderr, "marginsim calibrate: --model: expected regime_switching, garch or premium, got '%s'\n", model);
    return EXIT_BADINPUT;
  }
  int garch = co.model == MS_CALIB_GARCH, rc;
  const char *other = regimes ? "--regimes" : rpath ? "--regime-path" : starts ? "--starts" : seed ? "--seed"
                      : dist ? "--dist" : resolution ? "--resolution" : dpy ? "--days-per-year" : NULL;
  if (premium && other) {
    fprintf(stderr, "marginsim calibrate: %s is an option of the price models, not of --model premium\n", other);
    return EXIT_BADINPUT;
  }
  int64_t t_from = INT64_MIN, t_to = INT64_MAX;
  if (from && (rc = calib_time("--from", from, &t_from))) return rc;
  if (to && (rc = calib_time("--to", to, &t_to))) return rc;
  if (t_from >= t_to) {
    fprintf(stderr, "marginsim calibrate: --from %s is not before --to %s: the window is empty\n", from, to);
    return EXIT_BADINPUT;
  }
  struct stat in;
  if ((rc = calib_input("", file))) return rc;
  if (stat(file, &in) != 0) return EXIT_BADINPUT;
  if (premium) return calibrate_premium(file, index, t_from, t_to, output, &in);
  const char *rs_only = regimes ? "--regimes" : rpath ? "--regime-path" : starts ? "--starts" : NULL;
  if (garch && rs_only) {
    fprintf(stderr, "marginsim calibrate: %s is an option of --model regime_switching, not of garch\n", rs_only);
    return EXIT_BADINPUT;
  }
  if (!garch && dist) {
    fprintf(stderr, "marginsim calibrate: --dist is an option of --model garch, not of regime_switching\n");
    return EXIT_BADINPUT;
  }
  uint64_t v;
  if (regimes) {
    if ((rc = cli_whole("--regimes", regimes, 1, MS_CALIB_MAX_REGIMES, &v))) return rc;
    co.regimes = (int)v;
  }
  if (starts) {
    if ((rc = cli_whole("--starts", starts, 1, 1000, &v))) return rc;
    co.starts = (int)v;
  }
  if (seed) {
    if ((rc = cli_whole("--seed", seed, 0, UINT64_MAX, &v))) return rc;
    co.seed = v;
  }
  if (dist) {
    if (strcmp(dist, "normal") == 0) co.dist = MS_CALIB_NORMAL;
    else if (strcmp(dist, "t") == 0) co.dist = MS_CALIB_T;
    else {
      fprintf(stderr, "marginsim calibrate: --dist: expected normal or t, got '%s'\n", dist);
      return EXIT_BADINPUT;
    }
  }
  if (dpy && (ms_units_parse_number(dpy, &co.days_per_year) || !(co.days_per_year >= 1) ||
              co.days_per_year > 366)) {
    fprintf(stderr, "marginsim calibrate: --days-per-year: expected a number of days from 1 to 366 (as "
                    "market.days_per_year), got '%s'\n", dpy);
    return EXIT_BADINPUT;
  }
  int64_t res = 0;
  if (resolution && (ms_units_parse_duration(resolution, &res) || res <= 0)) {
    fprintf(stderr, "marginsim calibrate: --resolution: expected a duration (1h, 4h, 1d), got '%s'\n", resolution);
    return EXIT_BADINPUT;
  }
  if (output && (rc = calib_check_output("-o/--output", output, &in))) return rc;
  if (rpath && (rc = calib_check_output("--regime-path", rpath, &in))) return rc;
  if (output && rpath && same_file(output, rpath)) {
    fprintf(stderr, "marginsim calibrate: -o and --regime-path name the same file %s\n", output);
    return EXIT_BADINPUT;
  }

  ms_error err;
  ms_series *s = NULL;
  ms_calib_returns ret;
  ms_calib_result *fit = NULL;
  char *summary = NULL, *yaml = NULL, *csv = NULL;
  memset(&ret, 0, sizeof ret);
  rc = 0;
  ms_status st = ms_series_read(&s, file, &err);
  if (!st && res && (res < s->resolution || res % s->resolution)) {
    char fb[40];
    ms_units_format_duration(s->resolution, fb, sizeof fb);
    st = ms_error_set(&err, MS_ERR_INPUT, "--resolution %s: not a whole multiple of %s's resolution %s", resolution,
                      file, fb);
  }
  if (!st) st = ms_calib_returns_make(&ret, s, t_from, t_to, res, &err);
  co.cancel = &g_signal; /* Ctrl-C stops the fit at its next iteration, nothing written */
  if (!st) st = ms_calib_fit(&fit, &ret, &co, &err);
  if (!st) st = ms_calib_summary(&summary, fit, &ret, file, &err);
  if (!st) st = ms_calib_yaml(&yaml, fit, &ret, file, &err);
  if (!st && rpath) st = ms_calib_regime_csv(&csv, fit, &ret, &err);
  if (st == MS_ERR_CANCELLED || (!st && g_signal)) {
    rc = interrupted(); /* 128 + the signal, nothing written */
  } else if (st) {
    fprintf(stderr, "marginsim calibrate: %s\n", err.msg);
    rc = ms_status_exit_code(st);
  } else if ((rc = interrupted()) || (rc = calib_loads(yaml, file))) {
    /* nothing written */
  } else {
    fputs(summary, stdout);
    fputs("\n", stdout);
    fputs(yaml, stdout);
    fflush(stdout);
    if (output) rc = calib_write("-o/--output", output, yaml);
    if (!rc && rpath) rc = calib_write("--regime-path", rpath, csv);
  }
  free(summary);
  free(yaml);
  free(csv);
  ms_calib_result_free(fit);
  ms_calib_returns_free(&ret);
  ms_series_free(s);
  return rc;
}

/* The words of a command line written by join_argv (single quotes, '\''
 * for a quote inside them); NULL on a malformed line. */
static char **split_command(const char *cmd, int *argc) {
  size_t len = strlen(cmd);
  char **argv = calloc(len / 2 + 2, sizeof *argv), *buf = malloc(len + 1), *w = buf;
  if (!argv || !buf) { free(argv); free(buf); return NULL; }
  int n = 0, in_word = 0, quoted = 0;
  for (const char *c = cmd;; c++) {
    if (!*c || (!quoted && *c == ' ')) {
      if (quoted) break; /* unterminated quote */
      if (in_word) { *w++ = '\0'; in_word = 0; }
      if (!*c) {
        argv[n] = NULL;
        *argc = n;
        if (n == 0) break;
        return argv; /* argv[0] owns buf */
      }
      continue;
    }
    if (!in_word) { argv[n++] = w; in_word = 1; }
    if (*c == '\'' ) quoted = !quoted;
    else if (!quoted && *c == '\\' && c[1]) *w++ = *++c;
    else *w++ = *c;
  }
  free(buf);
  free(argv);
  return NULL;
}

/* The journal @p jpath of --resume: its stat into *@p st, its header into
 * *@p info. Returns 0 or an exit code after a message. */
static int read_journal(const cli_opts *o, const char *jpath, struct stat *st, ms_journal_info *info) {
  if (stat(jpath, st) != 0) {
    if (strcmp(jpath, o->resume) == 0)
      fprintf(stderr, "marginsim: --resume %s: no unfinished run (no such journal)\n", o->resume);
    else if (stat(o->resume, st) == 0)
      fprintf(stderr, "marginsim: --resume %s: the run is complete (no %s): nothing to resume\n", o->resume, jpath);
    else fprintf(stderr, "marginsim: --resume %s: no unfinished run (neither it nor %s exists)\n", o->resume, jpath);
    return EXIT_BADINPUT;
  }
  ms_error err;
  /* the header and a count for the message; the run itself checks every frame when it opens the journal */
  ms_status s = ms_journal_count(jpath, info, &err);
  if (s) {
    fprintf(stderr, "marginsim: --resume %s: %s\n", o->resume, err.msg);
    return ms_status_exit_code(s);
  }
  return 0;
}

/* Rank 0's malloc'd string *@p str on every rank (MPI; one process: as it is).
 * Nonzero when out of memory (agreed: every rank then fails). */
static int share_string(char **str) {
  if (ms_mpi_size() == 1) return 0;
  ms_error e;
  uint64_t n = ms_mpi_rank() == 0 ? strlen(*str) + 1 : 0;
  ms_mpi_bcast(&n, sizeof n, 0, &e);
  char *buf = ms_mpi_rank() == 0 ? *str : malloc((size_t)n);
  if (ms_mpi_agree_max(buf == NULL)) {
    if (ms_mpi_rank() != 0) free(buf);
    return -1;
  }
  ms_mpi_bcast(buf, (size_t)n, 0, &e);
  *str = buf;
  return 0;
}

/* What cmd_resume needs of rank 0's journal header, on every rank. */
static int share_journal_info(ms_journal_info *info) {
  int64_t v[2] = {info->done, info->paths};
  ms_error e;
  ms_mpi_bcast(v, sizeof v, 0, &e);
  info->done = v[0];
  info->paths = v[1];
  int bad = share_string(&info->command);
  return bad || share_string(&info->cwd);
}

/* `marginsim run|sweep|check --resume FILE [-j N] [-q]`: run the command the
 * journal FILE.partial recorded again, from the folder it ran in, with
 * the journal's paths taken as done. */
static int cmd_resume(const cli_opts *o) {
  char jpath[4200];
  size_t rl = strlen(o->resume), sl = strlen(MS_JOURNAL_SUFFIX);
  /* the journal itself named (it is what the folder shows): the same run */
  /* a name ending in .partial is the journal itself, or nothing's: not the result of another journal */
  if (rl > sl && strcmp(o->resume + rl - sl, MS_JOURNAL_SUFFIX) == 0)
    snprintf(jpath, sizeof jpath, "%s", o->resume);
  else snprintf(jpath, sizeof jpath, "%s%s", o->resume, MS_JOURNAL_SUFFIX);
  struct stat st;
  ms_journal_info info;
  memset(&st, 0, sizeof st); /* rank 0's: only rank 0 checks the result file against it */
  memset(&info, 0, sizeof info);
  /* Under MPI rank 0 reads the journal (it writes it) and tells the others
   * what to run and where: every rank then runs the same command. */
  int prc = ms_mpi_rank() == 0 ? read_journal(o, jpath, &st, &info) : 0;
  if ((prc = rc_of_rank0(prc))) return prc;
  if (share_journal_info(&info)) {
    ms_journal_info_free(&info);
    fprintf(stderr, "marginsim: --resume: out of memory\n");
    return 3;
  }
  char named[4200]; /* the result file, as named (--resume may name the journal) */
  snprintf(named, sizeof named, "%.*s", (int)(strlen(jpath) - strlen(MS_JOURNAL_SUFFIX)), jpath);
  int argc = 0;
  char **argv = split_command(info.command, &argc);
  int rc = 0;
  ms_error err;
  ms_status cs = MS_OK;
  if (!argv || argc < 3) {
    fprintf(stderr, "marginsim: --resume: %s: the recorded command cannot be read back: %s\n", jpath, info.command);
    rc = EXIT_BADINPUT;
  } else if (chdir(info.cwd) != 0) {
    cs = ms_error_set(&err, MS_ERR_INPUT, "marginsim: --resume: cannot go to %s, the folder the run began in (%s)",
                      info.cwd, strerror(errno));
  }
  /* every rank goes there, or none runs (the folder of rank 0 may be missing on another node) */
  if (!rc && agreed(cs, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    rc = EXIT_BADINPUT;
  }
  if (!rc) {
    if (!o->quiet)
      fprintf(stderr, "marginsim: resuming %s: %lld of %lld paths done (in %s)\n", info.command,
              (long long)info.done, (long long)info.paths, info.cwd);
    g_resume = (resume_state){.on = 1, .journal = st, .command = info.command, .named = named,
                              .threads = o->threads, .quiet = o->quiet, .done = info.done};
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0) rc = cmd_run(argc - 1, argv + 1, argc, argv);
    else if (strcmp(cmd, "sweep") == 0) rc = cmd_sweep(argc - 1, argv + 1, argc, argv);
    else if (strcmp(cmd, "check") == 0) rc = cmd_check(argc - 1, argv + 1, argc, argv);
    else {
      fprintf(stderr, "marginsim: --resume: %s: the recorded command is not run, sweep or check: %s\n", jpath,
              info.command);
      rc = EXIT_BADINPUT;
    }
  }
  if (argv) free(argv[0]);
  free(argv);
  ms_journal_info_free(&info);
  return rc;
}

/* Ranks other than 0 print nothing: their stdout and stderr go to /dev/null
 * (rank 0 prints the messages of every rank, as agreed). */
static void mute(void) {
  int fd = open("/dev/null", O_WRONLY);
  if (fd < 0) return;
  fflush(stdout);
  fflush(stderr);
  dup2(fd, STDOUT_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
}

static int command(int argc, char **argv);

int main(int argc, char **argv) {
  /* A standard descriptor closed by whoever started us (`>&-`) would be
   * the next file opened, the journal or the result, and the summary would
   * be printed into it: /dev/null takes its place first. */
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd) return 3;
  gsl_set_error_handler_off(); /* GSL reports by status; we check every one */
  catch_fatal_signals();
  catch_signals(); /* before any work: a signal at any moment ends in 128 + signal, never a kill mid-write */
  /* After our handlers: MPI then keeps them (OpenMPI installs its own only
   * where none is). Without MPI, or not under mpirun: one process. */
  ms_error err;
  if (ms_mpi_init(&argc, &argv, &err)) {
    fprintf(stderr, "marginsim: %s\n", err.msg);
    return 3;
  }
  if (ms_mpi_rank() != 0) mute();
  int rc = command(argc, argv);
  /* What a command printed is its product (validate, schema, calibrate) or
   * its report (run's and check's summary): a write that failed (a full
   * disk, a closed pipe) is an I/O failure, never a silent success. */
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    int e = errno;
    if (e == 0) { /* the write that failed was an earlier one: a pipe without a reader says so by POLLERR */
      struct pollfd pf = {.fd = STDOUT_FILENO, .events = POLLOUT};
      if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR)) e = EPIPE;
    }
    if (e == EPIPE && !g_wrote) {
      /* a reader that stopped reading (`schema | head`): what a filter's
       * death by SIGPIPE would have been, quietly */
      if (rc == 0) rc = 128 + SIGPIPE;
    } else {
      fprintf(stderr, "marginsim: cannot write to standard output%s%s%s: what was printed is incomplete%s%s%s\n",
              e ? " (" : "", e ? strerror(e) : "", e ? ")" : "", g_wrote ? "; the result file " : "",
              g_wrote ? g_wrote : "", g_wrote ? " is complete" : "");
      if (rc == 0) rc = 3;
    }
  }
  /* The commands agree wherever ranks could part ways; should a rank still
   * differ, every rank exits with the first differing rank's code (no
   * rank's failure becomes a success). MPI_Finalize runs at exit. */
  int first = ms_mpi_agree_max(rc ? ms_mpi_size() - ms_mpi_rank() : 0);
  if (first) {
    int code = ms_mpi_rank() == ms_mpi_size() - first ? rc : 0;
    rc = ms_mpi_agree_max(code);
  }
  /* Interrupted under mpirun, which is tearing the job down: MPI_Finalize (at
   * exit) waited for it until its SIGKILL a second later (exit 137, not 143).
   * The run has cleaned up and said what it kept: leave without finalizing. */
  if (g_signal && ms_mpi_launched()) {
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
  }
  return rc;
}

static int command(int argc, char **argv) {
  if (argc < 2) { usage_main(stderr); return EXIT_BADINPUT; }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    printf("marginsim %s (build %s)\n", MS_VERSION, MS_BUILD_ID);
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage_main(stdout);
    return 0;
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1, argc, argv);
  if (strcmp(cmd, "validate") == 0) return cmd_validate(argc - 1, argv + 1);
  if (strcmp(cmd, "sweep") == 0) return cmd_sweep(argc - 1, argv + 1, argc, argv);
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1, argc, argv);
  if (strcmp(cmd, "schema") == 0) return cmd_schema(argc - 1, argv + 1);
  if (strcmp(cmd, "calibrate") == 0) return cmd_calibrate(argc - 1, argv + 1);
  if (strcmp(cmd, "data") == 0) return cmd_data(argc - 1, argv + 1);
  fprintf(stderr, "marginsim: unknown command '%s'\n", cmd);
  usage_main(stderr);
  return EXIT_BADINPUT;
}
