"""The shared library through cffi (ABI mode: no compiler needed).

Where the library is found, first match wins:
  1. the environment variable MARGINSIM_LIBRARY (a path to libmarginsim.so*);
     only it, when set;
  2. the build tree beside this package: <repo>/build/libmarginsim.so;
  3. the installed prefix: the dynamic loader's search (ldconfig, and
     LD_LIBRARY_PATH), then <prefix>/lib and <prefix>/lib/<multiarch> for the
     prefixes /usr/local and /usr.
A library that lacks a function declared below (another library, or one
built from older sources) is passed over, named in the error. The
declarations are those of include/marginsim/marginsim.h that run() uses;
ms_status is an int-sized enum there.
"""
import ctypes.util
import glob
import os
import re
import threading

CDEF = """
typedef int ms_status;
typedef struct ms_error { ms_status status; char msg[4096]; } ms_error;
typedef struct ms_config ms_config;
typedef struct ms_result ms_result;
typedef int sig_atomic_t;
typedef struct ms_run_opts {
  int threads;
  const char *output;
  const char *command;
  void (*progress)(void *ctx, int64_t done, int64_t total);
  void *progress_ctx;
  const volatile sig_atomic_t *cancel;
} ms_run_opts;

const char *ms_strerror(ms_status s);
int ms_status_exit_code(ms_status s);
ms_status ms_config_load(ms_config **out, const char *path, const char *const *sets, int nsets, ms_error *err);
void ms_config_free(ms_config *cfg);
char *ms_config_to_yaml(const ms_config *cfg);
int64_t ms_config_paths(const ms_config *cfg);
ms_status ms_simulate(const ms_config *cfg, const ms_run_opts *opts, ms_result **out, ms_error *err);
void ms_result_free(ms_result *r);
int64_t ms_result_paths(const ms_result *r);
int ms_result_threads(const ms_result *r);
double ms_result_seconds(const ms_result *r);
int ms_result_ncolumns(const ms_result *r);
const char *ms_result_column_name(const ms_result *r, int i);
const char *ms_result_column_unit(const ms_result *r, int i);
const char *ms_result_column_type(const ms_result *r, int i);
ms_status ms_result_column(const ms_result *r, const char *name, double *out, ms_error *err);
ms_status ms_result_stat(const ms_result *r, const char *name, double *value, double *lo, double *hi, ms_error *err);
int ms_result_nstats(const ms_result *r);
const char *ms_result_stats_column(const ms_result *r, int i);
const char *ms_result_stats_risky_side(const ms_result *r, int i);
int ms_result_nevents(const ms_result *r);
const char *ms_result_event_name(const ms_result *r, int i);
const char *ms_result_event_definition(const ms_result *r, int i);
ms_status ms_result_event(const ms_result *r, int i, int64_t *k, int64_t *n, double *p, double *lo, double *hi,
                          ms_error *err);
int ms_result_nfeedback(const ms_result *r);
ms_status ms_result_feedback(const ms_result *r, int i, const char **statistic, int64_t *n, double *with_impact,
                             double *no_impact, double *diff, double *lo, double *hi, ms_error *err);
int64_t ms_result_nliquidations(const ms_result *r);
int ms_result_nliquidation_fields(const ms_result *r);
const char *ms_result_liquidation_field_name(const ms_result *r, int i);
const char *ms_result_liquidation_field_unit(const ms_result *r, int i);
const char *ms_result_liquidation_field_type(const ms_result *r, int i);
ms_status ms_result_liquidation_field(const ms_result *r, const char *name, double *out, ms_error *err);
void free(void *);
"""

_lock = threading.Lock()
_loaded = None


def _candidates():
    env = os.environ.get("MARGINSIM_LIBRARY")
    if env:
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    out = sorted(glob.glob(os.path.join(repo, "build", "libmarginsim.so*")), key=len)
    found = ctypes.util.find_library("marginsim")
    if found:
        out.append(found)
    for prefix in ("/usr/local", "/usr"):
        out += sorted(glob.glob(os.path.join(prefix, "lib", "libmarginsim.so*")), key=len)
        out += sorted(glob.glob(os.path.join(prefix, "lib", "*-linux-gnu", "libmarginsim.so*")), key=len)
    return out, False


def _missing(lib):
    """The functions of CDEF that `lib` does not define (cffi resolves them
    when first used: a missing one would fail after the run, not before)."""
    out = []
    for name in re.findall(r"\b(ms_\w+)\(", CDEF):
        try:
            getattr(lib, name)
        except AttributeError:
            out.append(name)
    return out


def load():
    """(ffi, lib) for the shared library; raises OSError naming where it looked."""
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        try:
            from cffi import FFI
        except ImportError as e:  # Debian's python3-cffi
            raise ImportError("marginsim.run needs cffi (Debian: apt-get install python3-cffi)") from e
        ffi = FFI()
        ffi.cdef(CDEF)
        paths, from_env = _candidates()
        tried = []
        for p in paths:
            try:
                lib = ffi.dlopen(p)
            except OSError as e:
                tried.append("%s (%s)" % (p, e))
                if from_env:
                    break
                continue
            missing = _missing(lib)
            if missing:  # another library, or one built from older sources
                names = ", ".join(missing[:3]) + (" and %d more" % (len(missing) - 3) if len(missing) > 3 else "")
                tried.append("%s (lacks %s: not this source's libmarginsim; rebuild it)" % (p, names))
                if from_env:
                    break
                continue
            _loaded = (ffi, lib)
            return _loaded
        where = "; ".join(tried) if tried else "nothing found"
        raise OSError("marginsim: cannot load the shared library libmarginsim.so: set MARGINSIM_LIBRARY to its "
                      "path, or build it (cmake --build build) or install it (cmake --install build). "
                      "Tried: " + where)
