#include "ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  IniEntry *e = &ini->e[ini->n++];
  snprintf(e->section, sizeof e->section, "%s", section);
  snprintf(e->key, sizeof e->key, "%s", key);
  snprintf(e->value, sizeof e->value, "%s", value);
  snprintf(e->origin, sizeof e->origin, "%s", origin);
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

ap_status ini_parse_text(Ini *ini, const char *text, const char *name, ApError *err) {
  char section[64] = "";
  int line_no = 0;
  const char *p = text;
  ap_status st = append_text(ini, text, err);
  if (st) return st;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char line[2048];
    line_no++;
    if (len >= sizeof line)
      return ap_fail(err, AP_ERR_CONFIG, "%s:%d: line longer than %zu characters", name, line_no,
                     sizeof line - 1);
    memcpy(line, p, len);
    line[len] = '\0';
    p = nl ? nl + 1 : p + len;
    cut_comment(line);
    char *s = trim(line);
    if (!*s) continue;
    char origin[256];
    snprintf(origin, sizeof origin, "%s:%d", name, line_no);
    if (*s == '[') {
      char *close = strchr(s, ']');
      if (!close || *trim(close + 1))
        return ap_fail(err, AP_ERR_CONFIG, "%s: malformed section header '%s'", origin, s);
      *close = '\0';
      char *sec = trim(s + 1);
      if (!*sec || strlen(sec) >= sizeof section)
        return ap_fail(err, AP_ERR_CONFIG, "%s: bad section name '%s'", origin, sec);
      snprintf(section, sizeof section, "%s", sec);
      continue;
    }
    char *eq = strchr(s, '=');
    if (!eq)
      return ap_fail(err, AP_ERR_CONFIG, "%s: expected 'key = value' or '[section]', got '%s'",
                     origin, s);
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    if (!*key) return ap_fail(err, AP_ERR_CONFIG, "%s: missing key before '='", origin);
    if (!*section)
      return ap_fail(err, AP_ERR_CONFIG, "%s: '%s' appears before any [section]", origin, key);
    if (strlen(key) >= sizeof ini->e->key || strlen(value) >= sizeof ini->e->value)
      return ap_fail(err, AP_ERR_CONFIG, "%s: key or value too long", origin);
    if (strcmp(key, "zip") != 0) {
      const IniEntry *dup = ini_find(ini, section, key);
      if (dup)
        return ap_fail(err, AP_ERR_CONFIG, "%s: '%s' is set twice in [%s] (first at %s)", origin,
                       key, section, dup->origin);
    }
    st = push(ini, section, key, value, origin, err);
    if (st) return st;
  }
  return AP_OK;
}

ap_status ini_load(Ini *ini, const char *path, ApError *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return ap_fail(err, errno == ENOENT ? AP_ERR_NOINPUT : AP_ERR_IO, "%s: %s", path,
                   strerror(errno));
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
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return ap_fail(err, AP_ERR_IO, "%s: read error", path);
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
  char buf[1200];
  snprintf(buf, sizeof buf, "%s", assignment);
  char *eq = strchr(buf, '=');
  char *dot = eq ? memchr(buf, '.', (size_t)(eq - buf)) : NULL;
  /* the section is everything before the last dot of the left-hand side ([sweep.le]) */
  if (eq)
    for (char *q = buf; q < eq; q++)
      if (*q == '.') dot = q;
  if (!eq || !dot)
    return ap_fail(err, AP_ERR_USAGE, "--set %s: expected section.key=value (e.g. train.epochs=10)",
                   assignment);
  *eq = '\0';
  *dot = '\0';
  char *section = trim(buf), *key = trim(dot + 1), *value = trim(eq + 1);
  if (!*section || !*key)
    return ap_fail(err, AP_ERR_USAGE, "--set %s: expected section.key=value", assignment);
  char origin[300];
  snprintf(origin, sizeof origin, "--set %s", assignment);
  for (int i = 0; i < ini->n; i++)
    if (!strcmp(ini->e[i].section, section) && !strcmp(ini->e[i].key, key) && strcmp(key, "zip")) {
      snprintf(ini->e[i].value, sizeof ini->e[i].value, "%s", value);
      snprintf(ini->e[i].origin, sizeof ini->e[i].origin, "%s", origin);
      return AP_OK;
    }
  return push(ini, section, key, value, origin, err);
}

const IniEntry *ini_find(const Ini *ini, const char *section, const char *key) {
  for (int i = 0; i < ini->n; i++)
    if (!strcmp(ini->e[i].section, section) && !strcmp(ini->e[i].key, key)) return &ini->e[i];
  return NULL;
}

void ini_free(Ini *ini) {
  free(ini->e);
  free(ini->text);
  memset(ini, 0, sizeof *ini);
}
