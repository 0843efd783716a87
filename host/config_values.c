/* A key's value from the file's text into its field, checked against the key's type and
 * range, and back into text for the dump: see config_keys.h. */
#include "config_keys.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *key_strip(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

ap_status key_range_check(const ApKey *k, double v, const char *origin, const char *text,
                          ApError *err) {
  int low = k->min_open ? v <= k->min : v < k->min;
  if (low || v > k->max) {
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%.15g", k->min); /* exact: %g printed 999999999 as 1e+09 */
    snprintf(hi, sizeof hi, "%.15g", k->max);
    if (k->max >= CONFIG_BIG && low)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: must be %s %s", origin, k->name, text,
                     k->min_open ? ">" : ">=", lo);
    if (k->max >= CONFIG_BIG)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: must be at most %s", origin, k->name,
                     text, hi);
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: must be in [%s, %s]", origin, k->name, text,
                   lo, hi);
  }
  return AP_OK;
}

static ap_status parse_number(const ApKey *k, char *s, double *out, int integer, const char *origin,
                              ApError *err) {
  char *end;
  s = key_strip(s);
  errno = 0;
  double v = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
  if (!*s || *key_strip(end) || errno == ERANGE || !isfinite(v))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: expected %s", origin, k->name, s,
                   integer ? "an integer" : "a number");
  *out = v;
  return key_range_check(k, v, origin, s, err);
}

/* Splits "a, b, [c, d], f(e, g)" at top-level commas, in place; items (when non-NULL) gets
 * the stripped items. Returns their count. */
int key_split_items(char *s, char **items) {
  int n = 0, depth = 0;
  char *start = s;
  for (char *p = s;; p++) {
    if (*p == '[' || *p == '(') depth++;
    if (*p == ']' || *p == ')') depth--;
    if ((*p == ',' && depth == 0) || *p == '\0') {
      int end = *p == '\0';
      if (items) {
        *p = '\0';
        items[n] = key_strip(start);
      }
      n++;
      if (end) break;
      start = p + 1;
    }
  }
  return n;
}

static ap_status apply_u64(const ApKey *k, char *s, void *field, const char *origin, ApError *err) {
  char *end;
  errno = 0;
  unsigned long long u = isdigit((unsigned char)*s) ? strtoull(s, &end, 10) : 0;
  if (!isdigit((unsigned char)*s) || *key_strip(end) || errno == ERANGE)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: expected an integer >= 0", origin, k->name,
                   s);
  *(uint64_t *)field = (uint64_t)u;
  return AP_OK;
}

static ap_status apply_bool(const ApKey *k, const char *s, void *field, const char *origin,
                            ApError *err) {
  static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
  int found = -1;
  for (int i = 0; i < 4; i++) {
    if (!strcmp(s, yes[i])) found = 1;
    if (!strcmp(s, no[i])) found = 0;
  }
  if (found < 0)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: expected true or false", origin, k->name,
                   s);
  *(int *)field = found;
  return AP_OK;
}

static ap_status apply_choice(const ApKey *k, const char *s, void *field, const char *origin,
                              ApError *err) {
  int index = 0, found = -1;
  for (const char *c = k->choices; *c; index++) {
    size_t len = strcspn(c, "|");
    if (strlen(s) == len && !strncmp(s, c, len)) found = index;
    c += len + (c[len] == '|');
  }
  if (found >= 0) {
    *(int *)field = found;
    return AP_OK;
  }
  char alts[128] = "";
  for (const char *c = k->choices; *c && strlen(alts) < sizeof alts - 40;) {
    size_t len = strcspn(c, "|");
    snprintf(alts + strlen(alts), sizeof alts - strlen(alts), "%s%.*s", alts[0] ? ", " : "",
             (int)len, c);
    c += len + (c[len] == '|');
  }
  return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: expected one of %s", origin, k->name, s,
                 alts);
}

static ap_status apply_text(const ApKey *k, const char *s, void *field, const char *origin,
                            ApError *err) {
  for (const char *c = s; *c; c++) /* a newline would forge lines of the dump */
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      return ap_fail(err, AP_ERR_CONFIG,
                     "%s: %s: control character 0x%02x in the value (text values are one line "
                     "of printable characters)",
                     origin, k->name, (unsigned char)*c);
  if (strlen(s) >= (size_t)k->max_len)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: value longer than %d characters", origin, k->name,
                   k->max_len - 1);
  snprintf((char *)field, (size_t)k->max_len, "%s", s);
  return AP_OK;
}

/* The n items of an integer or number list (AP_KEY_INTS, AP_KEY_REALS) into its field. */
static ap_status apply_items(const ApKey *k, char **items, int n, void *target, const char *origin,
                             ApError *err) {
  void *field = (char *)target + k->offset;
  double v;
  ap_status st = AP_OK;
  if (k->type == AP_KEY_INTS) {
    if (n < k->min_len || n > k->max_len)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: %s needs %d to %d values, got %d", origin, k->name,
                   k->min_len, k->max_len, n);
    int *out = field;
    for (int i = 0; i < n && !st; i++)
      if (!(st = parse_number(k, items[i], &v, 1, origin, err))) out[i] = (int)v;
    if (!st) *(int *)((char *)target + k->count_offset) = n;
    return st;
  }
  int want = k->len(target);
  if (n != want)
    st = ap_fail(err, AP_ERR_CONFIG, "%s: %s needs %d value%s (%s), got %d", origin, k->name, want,
                 want == 1 ? "" : "s", k->len_what, n);
  double *out = field;
  for (int i = 0; i < n && !st; i++)
    if (!(st = parse_number(k, items[i], &v, 0, origin, err))) out[i] = v;
  for (int i = n; i < k->max_len && !st; i++) out[i] = 0.0;
  return st;
}

/* "a, b" or "[a, b]" into a list key. */
static ap_status apply_list(const ApKey *k, char *s, void *target, const char *origin,
                            ApError *err) {
  if (*s == '[') {
    size_t n = strlen(s);
    if (s[n - 1] != ']')
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: unclosed '['", origin, k->name, s);
    s[n - 1] = '\0';
    s++;
  }
  int n = key_split_items(s, NULL);
  char **items = malloc((size_t)n * sizeof *items);
  if (!items) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  key_split_items(s, items);
  ap_status st = apply_items(k, items, n, target, origin, err);
  free(items);
  return st;
}

ap_status key_apply(const ApKey *k, const char *text, void *target, const char *origin,
                    ApError *err) {
  void *field = (char *)target + k->offset;
  double v;
  ap_status st = AP_OK;
  char *buf = strdup(text);
  if (!buf) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  char *s = key_strip(buf);
  switch (k->type) {
  case AP_KEY_INT:
    if (!(st = parse_number(k, s, &v, 1, origin, err))) *(int *)field = (int)v;
    break;
  case AP_KEY_U64:
    st = apply_u64(k, s, field, origin, err);
    break;
  case AP_KEY_REAL:
    if (!(st = parse_number(k, s, &v, 0, origin, err))) *(double *)field = v;
    break;
  case AP_KEY_BOOL:
    st = apply_bool(k, s, field, origin, err);
    break;
  case AP_KEY_CHOICE:
    st = apply_choice(k, s, field, origin, err);
    break;
  case AP_KEY_TEXT:
    st = apply_text(k, s, field, origin, err);
    break;
  case AP_KEY_INTS:
  case AP_KEY_REALS:
    st = apply_list(k, s, target, origin, err);
    break;
  }
  free(buf);
  return st;
}

/* The shortest %g form that reads back as the same double. */
void key_fmt_double(char *out, size_t n, double v) {
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(out, n, "%.*g", prec, v);
    if (strtod(out, NULL) == v) return;
  }
}

void key_format(const ApKey *k, const void *target, char *out, size_t n) {
  const void *field = (const char *)target + k->offset;
  size_t used = 0;
  out[0] = '\0';
  switch (k->type) {
  case AP_KEY_INT:
    snprintf(out, n, "%d", *(const int *)field);
    return;
  case AP_KEY_U64:
    snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)field);
    return;
  case AP_KEY_REAL:
    key_fmt_double(out, n, *(const double *)field);
    return;
  case AP_KEY_BOOL:
    snprintf(out, n, "%s", *(const int *)field ? "true" : "false");
    return;
  case AP_KEY_TEXT:
    snprintf(out, n, "%s", (const char *)field);
    return;
  case AP_KEY_CHOICE: {
    const char *c = k->choices;
    for (int i = 0; i < *(const int *)field && *c; i++)
      c += strcspn(c, "|") + (c[strcspn(c, "|")] == '|');
    snprintf(out, n, "%.*s", (int)strcspn(c, "|"), c);
    return;
  }
  case AP_KEY_INTS: {
    int count = *(const int *)((const char *)target + k->count_offset);
    for (int i = 0; i < count && used < n; i++)
      used +=
          (size_t)snprintf(out + used, n - used, "%s%d", i ? ", " : "", ((const int *)field)[i]);
    return;
  }
  case AP_KEY_REALS: {
    int count = k->len(target);
    for (int i = 0; i < count && used < n; i++) {
      char num[32];
      key_fmt_double(num, sizeof num, ((const double *)field)[i]);
      used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", num);
    }
    return;
  }
  }
}
