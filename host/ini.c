#include "ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
  return s;
}

/* Cuts a comment that starts at a # or ; preceded by whitespace (or at the start). */
static void cut_comment(char *s) {
  for (char *p = s; *p; p++)
    if ((*p == '#' || *p == ';') && (p == s || isspace((unsigned char)p[-1]))) {
      *p = '\0';
      return;
    }
}

static ap_status push(Ini *ini, const char *section, const char *key, const char *value,
                      const char *origin, ApError *err) {
  if (ini->n == ini->cap) {
    int cap = ini->cap ? 2 * ini->cap : 64;
    IniEntry *e = realloc(ini->e, (size_t)cap * sizeof *e);
    if (!e) return ap_fail(err, AP_ERR_OSERR, "out of memory reading the experiment file");
    ini->e = e;
    ini->cap = cap;
  }
  IniEntry *e = &ini->e[ini->n];
  if (!(e->value = strdup(value))) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  snprintf(e->section, sizeof e->section, "%s", section);
  snprintf(e->key, sizeof e->key, "%s", key);
  snprintf(e->origin, sizeof e->origin, "%s", origin);
  ini->n++;
  return AP_OK;
}

static ap_status append_text(Ini *ini, const char *s, ApError *err) {
  size_t n = strlen(s);
  char *t = realloc(ini->text, ini->text_len + n + 1);
  if (!t) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  memcpy(t + ini->text_len, s, n + 1);
  ini->text = t;
  ini->text_len += n;
  return AP_OK;
}

/* Keys already seen in a section, for the duplicate check: a hash set of "section\nkey"
 * (linear in the file's size; a file of 60k keys parses in milliseconds). */
typedef struct Seen {
  size_t cap;
  int *slot; /* entry index + 1, 0 = empty */
} Seen;

static uint64_t hash_key(const char *section, const char *key) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = section; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  h = (h ^ '\n') * 1099511628211ull;
  for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return h;
}

/* The entry already holding section.key, or -1 (and i is remembered as holding it). */
static int seen_check(Seen *s, const Ini *ini, int i) {
  const IniEntry *e = &ini->e[i];
  size_t at = (size_t)hash_key(e->section, e->key) & (s->cap - 1);
  for (;; at = (at + 1) & (s->cap - 1)) {
    if (!s->slot[at]) {
      s->slot[at] = i + 1;
      return -1;
    }
    const IniEntry *o = &ini->e[s->slot[at] - 1];
    if (!strcmp(o->section, e->section) && !strcmp(o->key, e->key)) return s->slot[at] - 1;
  }
}

ap_status ini_parse_text(Ini *ini, const char *text, const char *name, ApError *err) {
  char section[64] = "";
  int line_no = 0;
  const char *p = text;
  ap_status st = append_text(ini, text, err);
  if (st) return st;
  char *line = NULL;
  size_t line_cap = 0;
  while (*p && !st) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    line_no++;
    if (len + 1 > line_cap) {
      char *l = realloc(line, len + 1);
      if (!l) {
        st = ap_fail(err, AP_ERR_OSERR, "out of memory reading %s", name);
        break;
      }
      line = l;
      line_cap = len + 1;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p = nl ? nl + 1 : p + len;
    cut_comment(line);
    char *s = trim(line);
    if (!*s) continue;
    char origin[256];
    snprintf(origin, sizeof origin, "%.200s:%d", name, line_no);
    if (*s == '[') {
      char *close = strchr(s, ']');
      if (!close || *trim(close + 1)) {
        st = ap_fail(err, AP_ERR_CONFIG, "%s: malformed section header '%.80s'", origin, s);
        break;
      }
      *close = '\0';
      char *sec = trim(s + 1);
      if (!*sec || strlen(sec) >= sizeof section) {
        st = ap_fail(err, AP_ERR_CONFIG, "%s: bad section name '%.80s'", origin, sec);
        break;
      }
      snprintf(section, sizeof section, "%s", sec);
      continue;
    }
    char *eq = strchr(s, '=');
    if (!eq) {
      st = ap_fail(err, AP_ERR_CONFIG, "%s: expected 'key = value' or '[section]', got '%.80s'",
                   origin, s);
      break;
    }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    if (!*key)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: missing key before '='", origin);
    else if (!*section)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: '%.64s' appears before any [section]", origin, key);
    else if (strlen(key) >= sizeof ini->e->key)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: key too long", origin);
    else
      st = push(ini, section, key, value, origin, err);
  }
  free(line);
  if (st) return st;
  /* every key once per section, but zip */
  Seen seen = {.cap = 64, .slot = NULL};
  while (seen.cap < 2 * (size_t)ini->n) seen.cap *= 2;
  if (!(seen.slot = calloc(seen.cap, sizeof *seen.slot)))
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int i = 0; i < ini->n && !st; i++) {
    if (!strcmp(ini->e[i].key, "zip")) continue;
    int first = seen_check(&seen, ini, i);
    if (first >= 0)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: '%s' is set twice in [%s] (first at %s)",
                   ini->e[i].origin, ini->e[i].key, ini->e[i].section, ini->e[first].origin);
  }
  free(seen.slot);
  return st;
}

ap_status ini_load(Ini *ini, const char *path, ApError *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return ap_fail(err, errno == ENOENT ? AP_ERR_NOINPUT : AP_ERR_IO, "%s: %s", path,
                   strerror(errno));
  struct stat sb; /* fopen opens a directory; reading it then fails with EISDIR */
  if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(f);
    return ap_fail(err, AP_ERR_NOINPUT, "%s is a directory, not an experiment file (FILE.ini)",
                   path);
  }
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? 2 * cap : 8192;
      char *b = realloc(buf, cap);
      if (!b) {
        free(buf);
        fclose(f);
        return ap_fail(err, AP_ERR_OSERR, "out of memory reading %s", path);
      }
      buf = b;
    }
    size_t got = fread(buf + n, 1, 4096, f);
    n += got;
    if (got < 4096) break;
  }
  int bad = ferror(f) ? errno : 0;
  fclose(f);
  if (bad) {
    free(buf);
    return ap_fail(err, AP_ERR_IO, "%s: read error: %s", path, strerror(bad));
  }
  buf[n] = '\0';
  if (memchr(buf, '\0', n)) {
    free(buf);
    return ap_fail(err, AP_ERR_CONFIG, "%s: not a text file", path);
  }
  ap_status st = ini_parse_text(ini, buf, path, err);
  free(buf);
  return st;
}

ap_status ini_set(Ini *ini, const char *assignment, ApError *err) {
  char *buf = strdup(assignment);
  if (!buf) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  char *eq = strchr(buf, '=');
  char *dot = NULL;
  /* the section is everything before the last dot of the left-hand side ([sweep.le]) */
  if (eq)
    for (char *q = buf; q < eq; q++)
      if (*q == '.') dot = q;
  ap_status st = AP_OK;
  char shown[96]; /* what messages quote of it */
  snprintf(shown, sizeof shown, "%.77s%s", assignment, strlen(assignment) > 77 ? "..." : "");
  for (char *c = shown; *c; c++) /* messages stay one line; config refuses such values */
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
  if (!eq || !dot) {
    st = ap_fail(err, AP_ERR_USAGE, "--set %s: expected section.key=value (e.g. train.epochs=10)",
                 shown);
    goto out;
  }
  *eq = '\0';
  *dot = '\0';
  char *section = trim(buf), *key = trim(dot + 1), *value = trim(eq + 1);
  if (!*section || !*key || strlen(section) >= sizeof ini->e->section ||
      strlen(key) >= sizeof ini->e->key) {
    st = ap_fail(err, AP_ERR_USAGE, "--set %s: expected section.key=value", shown);
    goto out;
  }
  char origin[128];
  snprintf(origin, sizeof origin, "--set %s", shown);
  for (int i = 0; i < ini->n; i++)
    if (!strcmp(ini->e[i].section, section) && !strcmp(ini->e[i].key, key) && strcmp(key, "zip")) {
      char *v = strdup(value);
      if (!v) {
        st = ap_fail(err, AP_ERR_OSERR, "out of memory");
        goto out;
      }
      free(ini->e[i].value);
      ini->e[i].value = v;
      snprintf(ini->e[i].origin, sizeof ini->e[i].origin, "%s", origin);
      goto out;
    }
  st = push(ini, section, key, value, origin, err);
out:
  free(buf);
  return st;
}

const IniEntry *ini_find(const Ini *ini, const char *section, const char *key) {
  for (int i = 0; i < ini->n; i++)
    if (!strcmp(ini->e[i].section, section) && !strcmp(ini->e[i].key, key)) return &ini->e[i];
  return NULL;
}

void ini_free(Ini *ini) {
  for (int i = 0; i < ini->n; i++) free(ini->e[i].value);
  free(ini->e);
  free(ini->text);
  memset(ini, 0, sizeof *ini);
}

static const Ini *g_sort_ini; /* qsort has no context argument in C11 */

static int by_section(const void *a, const void *b) {
  int i = *(const int *)a, j = *(const int *)b;
  int c = strcmp(g_sort_ini->e[i].section, g_sort_ini->e[j].section);
  return c ? c : (i > j) - (i < j);
}

ap_status ini_index(IniIndex *s, const Ini *ini, ApError *err) {
  s->ini = ini;
  s->idx = malloc((size_t)(ini->n ? ini->n : 1) * sizeof *s->idx);
  if (!s->idx) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int i = 0; i < ini->n; i++) s->idx[i] = i;
  g_sort_ini = ini;
  qsort(s->idx, (size_t)ini->n, sizeof *s->idx, by_section);
  return AP_OK;
}

/* The run of section's entries: [*lo, *hi) in s->idx. */
void ini_index_range(const IniIndex *s, const char *section, int *lo, int *hi) {
  int a = 0, b = s->ini->n;
  while (a < b) {
    int m = (a + b) / 2;
    if (strcmp(s->ini->e[s->idx[m]].section, section) < 0)
      a = m + 1;
    else
      b = m;
  }
  *lo = a;
  b = s->ini->n;
  while (a < b) {
    int m = (a + b) / 2;
    if (strcmp(s->ini->e[s->idx[m]].section, section) <= 0)
      a = m + 1;
    else
      b = m;
  }
  *hi = a;
}

void ini_index_free(IniIndex *x) {
  free(x->idx);
  x->idx = NULL;
}
