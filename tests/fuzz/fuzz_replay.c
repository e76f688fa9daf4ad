/*
 * fuzz_replay — run the fuzz target (fuzz_core) over scenario files, with a
 * time bound: the regression corpus in ctest, built by any compiler.
 *
 *   fuzz_replay [--known-failing LIST] [--all] [--must-load] [--timeout SECONDS] FILE|DIR...
 *
 * Each file must load, or be rejected as bad input with a message, within
 * the time bound; nothing else (no finding, no crash, no sanitizer report).
 * A file may state more in its leading comment lines:
 *   # expect: reject            it must be rejected (exit 2 in the CLI)
 *   # expect: load              it must load and draw its book
 *   # expect-message: TEXT      the rejection's message contains TEXT
 *   # simulate: path 0          also run path 0 (an input that broke a run)
 * Files named in LIST (one name a line, '#' comments) fail on today's code
 * and wait for a fix: they are skipped with exit 77 (ctest's SKIP), or run
 * anyway with --all. --must-load: every file must load (the shipped
 * scenarios). A folder stands for its regular files; each file runs in a
 * process of its own, so that one crash does not hide the next. Exit 0 when every file passed, 1 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_core.h"

#define SKIP_EXIT 77
#define MAX_KNOWN 256
#define NAME_MAX_LEN 256

#if defined(__SANITIZE_ADDRESS__)
#define MS_REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MS_REPLAY_ASAN 1
#endif
#endif

#ifdef MS_REPLAY_ASAN
/* ASan reserves terabytes of address space, so no RLIMIT_AS: its own RSS
 * limit stops an input that grows without end (an alias bomb). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "hard_rss_limit_mb=2048"; }
#endif

static const char *current = "";

static void on_alarm(int sig) {
  /* async-signal-safe: write(2) and _exit only */
  static const char a[] = "FAIL ", b[] = ": no answer within the time bound (a hang)\n";
  (void)sig;
  if (write(2, a, sizeof a - 1) < 0 || write(2, current, strlen(current)) < 0 || write(2, b, sizeof b - 1) < 0)
    _exit(1);
  _exit(1);
}

typedef struct {
  char names[MAX_KNOWN][NAME_MAX_LEN];
  char why[MAX_KNOWN][NAME_MAX_LEN];
  int n;
} known_list;

static int read_known(known_list *k, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) { fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno)); return -1; }
  char line[1024];
  while (fgets(line, sizeof line, f) && k->n < MAX_KNOWN) {
    char *p = line + strspn(line, " \t");
    if (*p == '#' || *p == '\n' || !*p) continue;
    size_t len = strcspn(p, " \t\n#");
    snprintf(k->names[k->n], NAME_MAX_LEN, "%.*s", (int)len, p);
    char *c = strchr(p + len, '#');
    snprintf(k->why[k->n], NAME_MAX_LEN, "%.*s", c ? (int)strcspn(c + 1 + strspn(c + 1, " "), "\n") : 0,
             c ? c + 1 + strspn(c + 1, " ") : "");
    k->n++;
  }
  fclose(f);
  return 0;
}

static const char *known_why(const known_list *k, const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  for (int i = 0; i < k->n; i++)
    if (strcmp(k->names[i], base) == 0) return k->why[i];
  return NULL;
}

typedef struct {
  int reject, load;       /* # expect: */
  int simulate;           /* # simulate: path 0 */
  char message[256];      /* # expect-message: */
} expectation;

static void read_expect(const char *path, expectation *x) {
  memset(x, 0, sizeof *x);
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f) && line[0] == '#') {
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, "# expect: reject") == 0) x->reject = 1;
    else if (strcmp(line, "# expect: load") == 0) x->load = 1;
    else if (strcmp(line, "# simulate: path 0") == 0) x->simulate = 1;
    else if (strncmp(line, "# expect-message: ", 18) == 0) snprintf(x->message, sizeof x->message, "%.255s", line + 18);
  }
  fclose(f);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* 0 pass, 1 fail, SKIP_EXIT skipped */
static int replay(const char *path, const known_list *k, int all, int must_load, unsigned timeout) {
  const char *why = known_why(k, path);
  if (why && !all) {
    printf("SKIP %s: known failing, waits for its fix (tests/fuzz/regress/KNOWN_FAILING: %s)\n", path, why);
    return SKIP_EXIT;
  }
  expectation x;
  read_expect(path, &x);
  x.load |= must_load;
  current = path;
  alarm(timeout);
  double t0 = now();
  ms_fuzz_result res;
  ms_fuzz_run_file(path, x.simulate, &res);
  double dt = now() - t0;
  alarm(0);
  int ok = 1;
  const char *what = "";
  if (res.outcome == MS_FUZZ_FINDING) {
    ok = 0;
    what = res.msg;
  } else if (x.reject && res.outcome != MS_FUZZ_REJECTED) {
    ok = 0;
    what = "loaded, but must be rejected (# expect: reject)";
  } else if (x.load && res.outcome != MS_FUZZ_LOADED) {
    ok = 0;
    what = "rejected, but must load (# expect: load)";
  } else if (x.message[0] && !strstr(res.err.msg, x.message)) {
    ok = 0;
    what = "the message lacks the expected text (# expect-message)";
  }
  printf("%s %s (%.3f s): %s%s\n", ok ? "PASS" : "FAIL", path, dt,
         res.outcome == MS_FUZZ_LOADED ? "loaded" : res.outcome == MS_FUZZ_REJECTED ? "rejected: " : "a finding",
         res.outcome == MS_FUZZ_REJECTED ? res.err.msg : "");
  if (!ok) {
    printf("     %s\n", what);
    if (x.message[0]) printf("     expected message text: %s\n", x.message);
  }
  fflush(stdout);
  return ok ? 0 : 1;
}

/* Each file in a child process: a crash or an abort fails that file only,
 * and the next ones still run. */
static int replay_isolated(const char *path, const known_list *k, int all, int must_load, unsigned timeout) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return replay(path, k, all, must_load, timeout);
  if (pid == 0) _exit(replay(path, k, all, must_load, timeout));
  int st;
  if (waitpid(pid, &st, 0) < 0) return 1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  printf("FAIL %s: killed by signal %d (a crash or an abort: the stack is above)\n", path, WTERMSIG(st));
  fflush(stdout);
  return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  known_list *k = calloc(1, sizeof *k);
  if (!k) return 1;
  int all = 0, must_load = 0, failed = 0, passed = 0, skipped = 0;
  unsigned timeout = 10;
#ifndef MS_REPLAY_ASAN
  /* An input that grows without end fails on this bound, not the machine. */
  struct rlimit rl = {(rlim_t)2 << 30, (rlim_t)2 << 30};
  setrlimit(RLIMIT_AS, &rl);
#endif
  signal(SIGALRM, on_alarm);
  ms_fuzz_init();
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--all") == 0) { all = 1; continue; }
    if (strcmp(argv[i], "--must-load") == 0) { must_load = 1; continue; }
    if (strcmp(argv[i], "--known-failing") == 0 && i + 1 < argc) {
      if (read_known(k, argv[++i])) return 1;
      continue;
    }
    if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
      timeout = (unsigned)strtoul(argv[++i], NULL, 10);
      continue;
    }
    struct stat st;
    if (stat(argv[i], &st) != 0) { fprintf(stderr, "fuzz_replay: %s: %s\n", argv[i], strerror(errno)); return 1; }
    char **files = NULL;
    int nfiles = 0;
    if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      struct dirent *de;
      while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "KNOWN_FAILING") == 0 || strcmp(de->d_name, "README.md") == 0)
          continue;
        char **nf = realloc(files, (nfiles + 1) * sizeof *files);
        if (!nf) return 1;
        files = nf;
        size_t len = strlen(argv[i]) + strlen(de->d_name) + 2;
        files[nfiles] = malloc(len);
        if (!files[nfiles]) return 1;
        snprintf(files[nfiles], len, "%s/%s", argv[i], de->d_name);
        struct stat fst;
        if (stat(files[nfiles], &fst) != 0 || !S_ISREG(fst.st_mode)) { free(files[nfiles]); continue; } /* its folders */
        nfiles++;
      }
      if (d) closedir(d);
      qsort(files, nfiles, sizeof *files, cmp_str);
    } else {
      files = malloc(sizeof *files);
      if (!files) return 1;
      files[nfiles++] = strdup(argv[i]);
    }
    for (int j = 0; j < nfiles; j++) {
      int r = replay_isolated(files[j], k, all, must_load, timeout);
      if (r == SKIP_EXIT) skipped++;
      else if (r) failed++;
      else passed++;
      free(files[j]);
    }
    free(files);
  }
  free(k);
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  if (failed) return 1;
  return passed == 0 && skipped > 0 ? SKIP_EXIT : 0;
}
