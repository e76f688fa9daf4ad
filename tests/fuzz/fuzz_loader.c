/*
 * fuzz_loader — the libFuzzer target: the bytes are a scenario file.
 *
 * They are written to an in-memory file (memfd) and loaded by path, as the
 * CLI loads a file, so NUL bytes and sizes reach the loader as they would
 * from disk. A finding aborts with its message (libFuzzer then saves the
 * input); crashes, sanitizer reports, leaks, timeouts and memory past
 * -rss_limit_mb are libFuzzer's own findings. Build: cmake -DMS_FUZZ=ON with
 * clang (docs/robustness.md, "Fuzzing").
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_core.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  ms_fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_create("scenario.yaml", MFD_CLOEXEC);
  if (fd < 0) { perror("memfd_create"); abort(); }
  for (size_t done = 0; done < size;) {
    ssize_t w = write(fd, data + done, size - done);
    if (w <= 0) { perror("write"); abort(); }
    done += (size_t)w;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ms_fuzz_result res;
  ms_fuzz_run_file(path, 0, &res);
  close(fd);
  if (res.outcome == MS_FUZZ_FINDING) {
    fprintf(stderr, "marginsim fuzz finding: %s\n", res.msg);
    abort();
  }
  return 0;
}
