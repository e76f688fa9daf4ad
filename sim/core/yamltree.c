/*
 * yamltree — libyaml's document API turned into an owned tree with source
 * positions (see yamltree.h). libyaml's nodes carry 0-based marks; ours are
 * 1-based, as editors show them.
 */
#include "core/yamltree.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static ms_ynode *node_new(ms_ynode_kind kind, const char *src, int line, int col) {
  ms_ynode *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->kind = kind;
  n->src = dupstr(src);
  n->line = line;
  n->col = col;
  if (!n->src) { free(n); return NULL; }
  return n;
}

void ms_ynode_free(ms_ynode *n) {
  if (!n) return;
  for (size_t i = 0; i < n->n; i++) {
    if (n->keys) ms_ynode_free(n->keys[i]);
    ms_ynode_free(n->vals[i]);
  }
  free(n->keys);
  free(n->vals);
  free(n->text);
  free(n->src);
  free(n);
}

static int node_append(ms_ynode *n, ms_ynode *key, ms_ynode *val) {
  if (n->n == n->cap) {
    size_t cap = n->cap ? 2 * n->cap : 8;
    ms_ynode **v = realloc(n->vals, cap * sizeof *v);
    if (!v) return -1;
    n->vals = v;
    if (n->kind == MS_Y_MAP) {
      ms_ynode **k = realloc(n->keys, cap * sizeof *k);
      if (!k) return -1;
      n->keys = k;
    }
    n->cap = cap;
  }
  if (n->kind == MS_Y_MAP) n->keys[n->n] = key;
  n->vals[n->n++] = val;
  return 0;
}

void ms_ynode_where(const ms_ynode *n, char *buf, size_t len) {
  if (n->line > 0)
    snprintf(buf, len, "%s:%d:%d", n->src, n->line, n->col);
  else
    snprintf(buf, len, "%s", n->src);
}

/* Key path of the node being converted ("market.regimes[1]"), for messages.
 * A path longer than the buffer is cut short: it only labels a message. */
#define YPATH_MAX 512

/* Append ".key" (or "key" at the top) to @p path; returns the old length. */
static size_t path_push_key(char *path, const char *key) {
  size_t n = strlen(path);
  if (snprintf(path + n, YPATH_MAX - n, "%s%s", n ? "." : "", key) < 0) path[n] = '\0';
  return n;
}

/* Append "[i]" to @p path; returns the old length. */
static size_t path_push_index(char *path, size_t i) {
  size_t n = strlen(path);
  if (snprintf(path + n, YPATH_MAX - n, "[%zu]", i) < 0) path[n] = '\0';
  return n;
}

/* FNV-1a of a key, for the duplicate check. */
static size_t hash_text(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (size_t)h;
}

/* One conversion: the document, its name, and the nodes made so far. */
typedef struct {
  yaml_document_t *doc;
  const char *src;
  size_t nodes; /* tree nodes made so far, aliases counted at every use */
} convert_ctx;

/* Convert libyaml node @p id (recursively). libyaml keeps an alias as a
 * reference to its anchor's node; the tree copies the node at every use, so
 * ten aliases of ten aliases of ... grow exponentially: every node made is
 * counted against MS_YTREE_MAX_NODES. depth guards alias cycles; @p path
 * (YPATH_MAX bytes) is the node's key path, restored on return. */
static ms_status convert(convert_ctx *cx, int id, int depth, char *path, ms_ynode **out,
                         ms_error *err) {
  yaml_document_t *doc = cx->doc;
  const char *src = cx->src;
  yaml_node_t *yn = yaml_document_get_node(doc, id);
  if (!yn) return ms_error_set(err, MS_ERR_INPUT, "%s: malformed YAML document", src);
  int line = (int)yn->start_mark.line + 1, col = (int)yn->start_mark.column + 1;
  if (depth > MS_YTREE_MAX_DEPTH)
    return ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: %s%snesting deeper than %d levels (alias cycle?)",
                        src, line, col, path, path[0] ? ": " : "", MS_YTREE_MAX_DEPTH);
  if (++cx->nodes > MS_YTREE_MAX_NODES)
    return ms_error_set(err, MS_ERR_INPUT,
                        "%s:%d:%d: %s%smore than %d YAML nodes (aliases count at every use); "
                        "a scenario has at most %d", src, line, col, path, path[0] ? ": " : "",
                        MS_YTREE_MAX_NODES, MS_YTREE_MAX_NODES);
  ms_ynode *n = NULL;
  switch (yn->type) {
  case YAML_SCALAR_NODE:
    /* "\0" in a quoted scalar: the tree's strings end at a NUL, so the
     * value would be cut short without a word */
    if (memchr(yn->data.scalar.value, '\0', yn->data.scalar.length))
      return ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: %s%sa NUL character is not allowed", src,
                          line, col, path, path[0] ? ": " : "");
    n = node_new(MS_Y_SCALAR, src, line, col);
    if (!n) goto nomem;
    n->text = malloc(yn->data.scalar.length + 1);
    if (!n->text) goto nomem;
    memcpy(n->text, yn->data.scalar.value, yn->data.scalar.length);
    n->text[yn->data.scalar.length] = '\0';
    n->quoted = yn->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                yn->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    break;
  case YAML_SEQUENCE_NODE:
    n = node_new(MS_Y_SEQ, src, line, col);
    if (!n) goto nomem;
    for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top;
         it++) {
      ms_ynode *child = NULL;
      size_t pl = path_push_index(path, n->n);
      ms_status s = convert(cx, *it, depth + 1, path, &child, err);
      path[pl] = '\0';
      if (s) { ms_ynode_free(n); return s; }
      if (node_append(n, NULL, child)) { ms_ynode_free(child); goto nomem; }
    }
    break;
  case YAML_MAPPING_NODE: {
    n = node_new(MS_Y_MAP, src, line, col);
    if (!n) goto nomem;
    /* Duplicate keys by a hash of the keys seen (slots hold index + 1): a
     * scan of all earlier keys was quadratic, seconds for 10,000 long keys. */
    size_t npairs = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start), nslot = 16;
    while (nslot < 2 * npairs) nslot *= 2;
    size_t *slot = calloc(nslot, sizeof *slot);
    if (!slot) goto nomem;
    for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
      ms_ynode *k = NULL, *v = NULL;
      ms_status s = convert(cx, p->key, depth + 1, path, &k, err);
      if (s) { free(slot); ms_ynode_free(n); return s; }
      if (k->kind != MS_Y_SCALAR) {
        ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: a mapping key must be a plain name", src,
                     k->line, k->col);
        free(slot);
        ms_ynode_free(k);
        ms_ynode_free(n);
        return MS_ERR_INPUT;
      }
      size_t pl = path_push_key(path, k->text);
      size_t h = hash_text(k->text) & (nslot - 1);
      for (; slot[h]; h = (h + 1) & (nslot - 1)) {
        const ms_ynode *first = n->keys[slot[h] - 1];
        if (strcmp(first->text, k->text) == 0) {
          ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: %s: duplicate key (first at line %d)", src,
                       k->line, k->col, path, first->line);
          path[pl] = '\0';
          free(slot);
          ms_ynode_free(k);
          ms_ynode_free(n);
          return MS_ERR_INPUT;
        }
      }
      slot[h] = n->n + 1;
      s = convert(cx, p->value, depth + 1, path, &v, err);
      path[pl] = '\0';
      if (s) { free(slot); ms_ynode_free(k); ms_ynode_free(n); return s; }
      if (node_append(n, k, v)) { free(slot); ms_ynode_free(k); ms_ynode_free(v); goto nomem; }
    }
    free(slot);
    break;
  }
  default:
    return ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: empty YAML node", src, line, col);
  }
  *out = n;
  return MS_OK;
nomem:
  ms_ynode_free(n);
  return ms_error_set(err, MS_ERR_NOMEM, "out of memory reading %s", src);
}

ms_status ms_ytree_parse(ms_ynode **out, const char *text, size_t len, const char *src,
                         ms_error *err) {
  return ms_ytree_parse_at(out, text, len, src, "", err);
}

/*
 * A first pass over libyaml's events, before it builds the document:
 * libyaml's scanner does work proportional to the flow nesting for every
 * token, so "[[[[..." 400,000 deep (800 KB) runs for hours inside
 * yaml_parser_load. The events arrive as the scanner goes: stopping at
 * MS_YTREE_MAX_DEPTH, or at MS_YTREE_MAX_NODES nodes written (aliases not
 * yet expanded: convert counts those), bounds its work.
 */
static ms_status prescan(const char *text, size_t len, const char *src, ms_error *err) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return ms_error_set(err, MS_ERR_NOMEM, "cannot initialise the YAML parser");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  ms_status s = MS_OK;
  int depth = 0;
  long nodes = 0;
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) break; /* the load reports syntax errors */
    yaml_event_type_t t = ev.type;
    int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
    yaml_event_delete(&ev);
    if (t == YAML_STREAM_END_EVENT) break;
    if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) depth++;
    if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) depth--;
    if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT ||
        t == YAML_ALIAS_EVENT)
      nodes++;
    if (depth > MS_YTREE_MAX_DEPTH) {
      s = ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: nesting deeper than %d levels", src, line, col,
                       MS_YTREE_MAX_DEPTH);
      break;
    }
    if (nodes > MS_YTREE_MAX_NODES) {
      s = ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: more than %d YAML nodes; a scenario has at most %d",
                       src, line, col, MS_YTREE_MAX_NODES, MS_YTREE_MAX_NODES);
      break;
    }
  }
  yaml_parser_delete(&parser);
  return s;
}

ms_status ms_ytree_parse_at(ms_ynode **out, const char *text, size_t len, const char *src,
                            const char *base, ms_error *err) {
  *out = NULL;
  yaml_parser_t parser;
  yaml_document_t doc;
  ms_status ps = prescan(text, len, src, err);
  if (ps) return ps;
  if (!yaml_parser_initialize(&parser))
    return ms_error_set(err, MS_ERR_NOMEM, "cannot initialise the YAML parser");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    int line = (int)parser.problem_mark.line + 1, col = (int)parser.problem_mark.column + 1;
    if (parser.error == YAML_READER_ERROR) { /* bad bytes (UTF-8, control characters): only an offset is kept */
      line = col = 1;
      for (size_t i = 0; i < parser.problem_offset && i < len; i++) {
        if (text[i] == '\n') line++, col = 1;
        else if (((unsigned char)text[i] & 0xc0) != 0x80) col++; /* characters, not UTF-8 continuation bytes */
      }
    }
    ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: YAML syntax error: %s%s%s", src, line, col,
                 parser.problem ? parser.problem : "unknown problem",
                 parser.context ? " " : "", parser.context ? parser.context : "");
    yaml_parser_delete(&parser);
    return MS_ERR_INPUT;
  }
  ms_status s = MS_OK;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root) {
    *out = node_new(MS_Y_MAP, src, 1, 1);
    if (!*out) s = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
  } else {
    char path[YPATH_MAX];
    snprintf(path, sizeof path, "%s", base);
    convert_ctx cx = {&doc, src, 0};
    s = convert(&cx, 1, 0, path, out, err);
  }
  /* A second document in the same text is almost certainly a mistake. */
  if (!s && root) {
    yaml_document_t extra;
    if (yaml_parser_load(&parser, &extra)) {
      if (yaml_document_get_root_node(&extra)) {
        ms_error_set(err, MS_ERR_INPUT,
                     "%s:%d:%d: a second YAML document starts here ('---'); one is expected", src,
                     (int)extra.start_mark.line + 1, (int)extra.start_mark.column + 1);
        s = MS_ERR_INPUT;
      }
      yaml_document_delete(&extra);
    } else {
      ms_error_set(err, MS_ERR_INPUT, "%s:%d:%d: YAML syntax error after the document: %s", src,
                   (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                   parser.problem ? parser.problem : "unknown problem");
      s = MS_ERR_INPUT;
    }
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (s) { ms_ynode_free(*out); *out = NULL; }
  return s;
}

ms_ynode *ms_ynode_get(const ms_ynode *map, const char *key) {
  if (!map || map->kind != MS_Y_MAP) return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (strcmp(map->keys[i]->text, key) == 0) return map->vals[i];
  return NULL;
}

ms_ynode *ms_ynode_get_key(const ms_ynode *map, const char *key) {
  if (!map || map->kind != MS_Y_MAP) return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (strcmp(map->keys[i]->text, key) == 0) return map->keys[i];
  return NULL;
}

void ms_ynode_unplace(ms_ynode *n) {
  n->line = 0;
  for (size_t i = 0; i < n->n; i++) {
    if (n->keys) ms_ynode_unplace(n->keys[i]);
    ms_ynode_unplace(n->vals[i]);
  }
}

/* One step of a path: a name, optionally followed by [index]. */
typedef struct {
  char name[128];
  long index; /* -1: none */
} path_step;

static int next_step(const char **p, path_step *st) {
  const char *s = *p;
  size_t k = 0;
  while (*s && *s != '.' && *s != '[') {
    if (k + 1 >= sizeof st->name) return -1;
    st->name[k++] = *s++;
  }
  st->name[k] = '\0';
  st->index = -1;
  if (*s == '[') {
    char *end;
    st->index = strtol(s + 1, &end, 10);
    if (end == s + 1 || *end != ']' || st->index < 0) return -1;
    s = end + 1;
  }
  if (*s == '.') s++;
  else if (*s) return -1;
  *p = s;
  return k == 0 ? -1 : 0;
}

ms_status ms_ytree_set(ms_ynode *root, const char *path, ms_ynode *val, const char *src,
                       ms_ytree_default_fn *defaults, void *ctx, ms_error *err) {
  const char *p = path;
  ms_ynode *cur = root;
  char done[512] = "";
  for (;;) {
    path_step st;
    if (next_step(&p, &st) != 0) {
      ms_ynode_free(val);
      return ms_error_set(err, MS_ERR_INPUT, "%s: malformed key path '%s'", src, path);
    }
    int last = (*p == '\0');
    if (cur->kind != MS_Y_MAP) {
      ms_ynode_free(val);
      return ms_error_set(err, MS_ERR_INPUT, "%s: %s is not a mapping, cannot set %s", src,
                          done[0] ? done : "(root)", st.name);
    }
    size_t at;
    for (at = 0; at < cur->n; at++)
      if (strcmp(cur->keys[at]->text, st.name) == 0) break;
    size_t dl = strlen(done);
    snprintf(done + dl, sizeof done - dl, "%s%s", dl ? "." : "", st.name);
    if (at == cur->n) {
      /* Create the entry: a map for intermediate steps, the value at the end;
       * for an indexed step, the key's default (a list left at its default
       * is indexed like one written out), placed at this override. */
      ms_ynode *v;
      if (st.index >= 0) {
        const char *def = defaults ? defaults(ctx, done) : NULL;
        if (!def) {
          ms_ynode_free(val);
          return ms_error_set(err, MS_ERR_INPUT, "%s: %s has no item %ld (the list is not set)",
                              src, done, st.index);
        }
        ms_status s = ms_ytree_parse_at(&v, def, strlen(def), src, done, err);
        if (s) { ms_ynode_free(val); return s; }
        ms_ynode_unplace(v);
      } else {
        v = last ? val : node_new(MS_Y_MAP, src, 0, 0);
      }
      ms_ynode *k = node_new(MS_Y_SCALAR, src, 0, 0);
      if (!k || !v || !(k->text = dupstr(st.name)) || node_append(cur, k, v)) {
        ms_ynode_free(k);
        if (v != val) ms_ynode_free(v);
        ms_ynode_free(val);
        return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
      }
      if (st.index < 0) {
        if (last) return MS_OK;
        cur = v;
        continue;
      }
    }
    ms_ynode **slot = &cur->vals[at];
    if (st.index >= 0) {
      ms_ynode *seq = *slot;
      if (seq->kind != MS_Y_SEQ) {
        ms_ynode_free(val);
        return ms_error_set(err, MS_ERR_INPUT, "%s: %s is not a list", src, done);
      }
      dl = strlen(done);
      snprintf(done + dl, sizeof done - dl, "[%ld]", st.index);
      if ((size_t)st.index > seq->n || ((size_t)st.index == seq->n && !last)) {
        ms_ynode_free(val);
        return ms_error_set(err, MS_ERR_INPUT, "%s: %s: the list has %zu items", src, done,
                            seq->n);
      }
      if ((size_t)st.index == seq->n) {
        if (node_append(seq, NULL, val)) {
          ms_ynode_free(val);
          return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
        }
        return MS_OK;
      }
      slot = &seq->vals[st.index];
    }
    if (last) {
      ms_ynode_free(*slot);
      *slot = val;
      return MS_OK;
    }
    cur = *slot;
  }
}
