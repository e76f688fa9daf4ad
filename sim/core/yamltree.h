/*
 * yamltree — a YAML document as a small tree that remembers where every node
 * came from (file or --set option, line, column), so that any later error
 * can name its place. Private to the scenario loader (sim/).
 */
#ifndef MS_YAMLTREE_H
#define MS_YAMLTREE_H

#include <stddef.h>

#include "marginsim/error.h"

/*
 * Limits of one parse (docs/robustness.md): a scenario is a few
 * hundred nodes; these stop a small hostile file (nested aliases, a flat map
 * of a million keys) from taking memory or time without end.
 */
#define MS_YTREE_MAX_NODES 20000 /* tree nodes, every use of an alias counted */
#define MS_YTREE_MAX_DEPTH 64    /* nesting of mappings and lists */

typedef enum { MS_Y_SCALAR, MS_Y_MAP, MS_Y_SEQ } ms_ynode_kind;

typedef struct ms_ynode ms_ynode;
struct ms_ynode {
  ms_ynode_kind kind;
  char *text;          /* scalar text (owned); NULL for maps and sequences */
  int quoted;          /* scalar was single- or double-quoted */
  char *src;           /* file name or "--set k=v" (owned) */
  int line, col;       /* 1-based position of the node's first character */
  size_t n, cap;       /* entries */
  ms_ynode **keys;     /* MAP: key scalars, one per entry */
  ms_ynode **vals;     /* MAP: values; SEQ: items */
};

/** Parse YAML text; @p src names it in messages. An empty document gives an empty map. */
ms_status ms_ytree_parse(ms_ynode **out, const char *text, size_t len, const char *src,
                         ms_error *err);

/**
 * As ms_ytree_parse, for text that stands for the value of key path @p base
 * ("market.regimes" for a --set value): messages name keys by their full path.
 */
ms_status ms_ytree_parse_at(ms_ynode **out, const char *text, size_t len, const char *src,
                            const char *base, ms_error *err);

/** Free a node and everything under it; NULL is a no-op. */
void ms_ynode_free(ms_ynode *n);

/** Value of @p key in a MAP node, or NULL. */
ms_ynode *ms_ynode_get(const ms_ynode *map, const char *key);

/** Key node of @p key in a MAP node, or NULL. */
ms_ynode *ms_ynode_get_key(const ms_ynode *map, const char *key);

/** Forget the positions of @p n and its children: messages name only their src. */
void ms_ynode_unplace(ms_ynode *n);

/**
 * The default of the key at dotted path @p path ("margin.tiers",
 * "book.options.strategies[2].expiry"), as YAML text, or NULL when the path
 * names no key.
 */
typedef const char *ms_ytree_default_fn(void *ctx, const char *path);

/**
 * Replace (or add) the node at a dotted path such as "market.regimes[1].vol"
 * with @p val (ownership passes to the tree). Missing maps on the way are
 * created. An indexed step whose list the tree lacks takes the key's default
 * from @p defaults (called with @p ctx; NULL: none), so an index into a
 * defaulted list means an item of the default list. A sequence index must
 * exist, or be the next free one at the end of the path to append @p val.
 */
ms_status ms_ytree_set(ms_ynode *root, const char *path, ms_ynode *val, const char *src,
                       ms_ytree_default_fn *defaults, void *ctx, ms_error *err);

/** "file:line:col" of a node, into buf. */
void ms_ynode_where(const ms_ynode *n, char *buf, size_t len);

#endif
