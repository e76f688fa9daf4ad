/*
 * schema — field tables that describe a typed configuration struct, and one
 * walker that uses them four ways: load a YAML tree into the struct (with
 * defaults, type and range checks and placed error messages), run the
 * cross-field checks, write the resolved configuration back as YAML, and
 * write the Markdown key tables of docs/scenario.md. One table per section
 * keeps the loader, the dump and the documentation from drifting apart.
 * Private to the scenario loader.
 */
#ifndef MS_SCHEMA_H
#define MS_SCHEMA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "marginsim/error.h"
#include "core/strbuf.h"
#include "core/yamltree.h"

/* ---- field tables ---- */
typedef enum {
  MS_F_NUMBER,   /* double */
  MS_F_INT,      /* int64_t */
  MS_F_U64,      /* uint64_t (seeds: the full 64-bit range) */
  MS_F_DURATION, /* int64_t milliseconds */
  MS_F_RATE,     /* double, events per day */
  MS_F_BOOL,     /* int */
  MS_F_ENUM,     /* int, index into names[] */
  MS_F_MODEL,    /* const pointer to a model type, chosen by name from types() */
  MS_F_STRING,   /* char[str_size] */
  MS_F_DIST,     /* ms_dist; parameters of kind elem (NUMBER or DURATION) */
  MS_F_SECTION,  /* nested struct described by sub */
  MS_F_LIST,     /* array of sub structs, count (int) at count_offset */
  MS_F_NUMLIST,  /* array of doubles, count (int) at count_offset */
  MS_F_MATRIX,   /* ms_matrix */
  MS_F_STRLIST   /* char[max_items][str_size], count (int) at count_offset */
} ms_field_kind;

/* Bounds flags: which of min/max apply, and whether they are strict. */
#define MS_B_GE 1u /* value >= min */
#define MS_B_GT 2u /* value >  min */
#define MS_B_LE 4u /* value <= max */
#define MS_B_LT 8u /* value <  max */

#define MS_MATRIX_MAX 16
typedef struct ms_matrix {
  int rows, cols;
  double v[MS_MATRIX_MAX][MS_MATRIX_MAX];
} ms_matrix;

struct ms_schema;

typedef struct ms_field {
  const char *name;
  ms_field_kind kind;
  size_t offset;                 /* into the parent struct */
  const char *def;               /* default, as YAML text read by the same code */
  unsigned bounds;               /* MS_B_* */
  double min, max;               /* in stored units (ms for durations) */
  const char *const *names;      /* ENUM: accepted names, NULL-terminated */
  /* MODEL: the i-th type of the model's table, NULL past the end. The
   * loader reads names (ms_model_name) and stores the chosen pointer. */
  const void *(*types)(int i);
  const struct ms_schema *sub;   /* SECTION, LIST */
  size_t count_offset;           /* LIST, NUMLIST, STRLIST */
  int max_items;                 /* LIST, NUMLIST, STRLIST */
  size_t item_size;              /* LIST: sizeof one item */
  size_t str_size;               /* STRING, STRLIST: buffer size per string */
  ms_field_kind elem;            /* DIST: NUMBER or DURATION parameters */
  const char *unit;              /* for the docs: "USD", "annualised", ... */
  const char *doc;               /* one line for the docs */
  /* LIST: a scalar item stands for a mapping that sets only this field of
   * the item ("- text" for "- {assert: text}"); NULL: items are mappings. */
  const char *shorthand;
  /* NUMBER: a percentage is accepted too ("-20%" reads as -0.2). */
  int pct;
  /* A key no longer accepted: writing it fails with this text (what
   * replaces it), placed at the key. Only name is set; the key is neither
   * loaded, written back, documented nor listed among the known keys. */
  const char *retired;
} ms_field;

typedef struct ms_check ms_check;

typedef struct ms_schema {
  const char *name;              /* section name in docs ("market") */
  const ms_field *fields;
  size_t nfields;
  /* Cross-field checks once all fields are loaded; NULL if none. */
  ms_status (*check)(void *obj, ms_check *ck);
  const char *doc;               /* a paragraph for the docs; may be NULL */
} ms_schema;

/* Context for cross-field checks. */
struct ms_check {
  void *root;                    /* the whole configuration */
  const ms_ynode *node;          /* this section's node, or NULL if all defaults */
  const char *path;              /* "market.regimes[1]" ("" at the top) */
  const char *src;               /* file name, for sections that were not written */
  ms_error *err;
};

/**
 * Fail a check at @p rel, a path below the section ("vol", "tiers[2].bound",
 * NULL for the section itself); the message is placed at that node when it
 * was written, else at the nearest written parent.
 */
ms_status ms_check_fail(ms_check *ck, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * A warning, not an error: formats "file:line:col: key: message" for the
 * key @p rel (as ms_check_fail would) into @p buf; the caller keeps it for
 * the CLI to print.
 */
void ms_check_warn(ms_check *ck, const char *rel, char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/**
 * Load @p node (a MAP, or NULL for all defaults) into @p obj. @p path is the
 * section's key path ("" for the top), @p src the file name used when a
 * section was not written at all.
 */
ms_status ms_schema_load(const ms_schema *s, void *obj, const ms_ynode *node, const char *path,
                         const char *src, void *root, ms_error *err);

/** Append @p obj as YAML (block style) at @p indent spaces. */
void ms_schema_emit(const ms_schema *s, const void *obj, ms_strbuf *sb, int indent);

/** Append the Markdown key tables of @p s and its sub-sections. */
void ms_schema_doc(const ms_schema *s, const char *path, ms_strbuf *sb);

/** Find the field named @p name in @p s, or NULL. */
const ms_field *ms_schema_field(const ms_schema *s, const char *name);

/**
 * Find the field at dotted key path @p path below @p s ("margin.tiers",
 * "margin.tiers[0].floor": an index steps into a list's items), or NULL.
 */
const ms_field *ms_schema_lookup(const ms_schema *s, const char *path);

#endif
