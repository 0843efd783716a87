/* A small INI reader that remembers where every value came from, so that a bad value is
 * reported as FILE:LINE. Syntax: [section], key = value, # or ; comments (whole lines or
 * after whitespace). Keys may repeat only where the caller allows it (zip). Values have
 * no length limit. */
#ifndef AP_INI_H
#define AP_INI_H

#include "kernels/core/ap_defs.h"

typedef struct IniEntry {
  char section[64];
  char key[64];
  char *value;      /* malloc'd */
  char origin[320]; /* "file.ini:12" or "--set section.key=value" (shortened) */
} IniEntry;

typedef struct Ini {
  IniEntry *e;
  int n, cap;
  char *text; /* the file's text as read, stored in results for provenance */
  size_t text_len;
} Ini;

ap_status ini_load(Ini *ini, const char *path, ApError *err);
/* Parses a string as if it were a file named name (used by tests and for resume). */
ap_status ini_parse_text(Ini *ini, const char *text, const char *name, ApError *err);
/* "section.key=value": replaces that key's value or adds it. */
ap_status ini_set(Ini *ini, const char *assignment, ApError *err);
/* The first entry of section.key, or NULL. */
const IniEntry *ini_find(const Ini *ini, const char *section, const char *key);
void ini_free(Ini *ini);

/* The entries sorted by (section, position in the file): a section's entries are one
 * run, in file order, found by binary search; building it is n log n in the entries. */
typedef struct IniIndex {
  const Ini *ini;
  int *idx; /* [n] entry numbers */
} IniIndex;
ap_status ini_index(IniIndex *x, const Ini *ini, ApError *err);
/* The run of section's entries: [*lo, *hi) in x->idx. */
void ini_index_range(const IniIndex *x, const char *section, int *lo, int *hi);
void ini_index_free(IniIndex *x);

#endif
