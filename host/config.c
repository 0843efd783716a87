#include "config.h"

#include "host/mem.h"
#include "host/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define BIG 1e300
#define EX(f) .offset = offsetof(ApExperiment, f)
#define TEXT(f) .type = AP_KEY_TEXT, EX(f), .max_len = (int)sizeof(((ApExperiment *)0)->f)

/* The host's keys; the model's come from its key table. */
static const ApKey host_keys[] = {
    {.section = "experiment",
     .name = "name",
     TEXT(name),
     .help = "name of the run (default: the file's name)"},
    {.section = "experiment",
     .name = "model",
     TEXT(model_name),
     .help = "the model (apical models lists them)"},
    {.section = "experiment",
     .name = "dataset",
     TEXT(dataset),
     .help = "bars | idx (MNIST format) | random (for models that take data)"},
    {.section = "data",
     .name = "train_images",
     TEXT(train_images),
     .help =
         "idx: training images (raw or .gz); default $APICAL_MNIST_DIR/train-images-idx3-ubyte.gz"},
    {.section = "data", .name = "train_labels", TEXT(train_labels), .help = "idx: training labels"},
    {.section = "data",
     .name = "test_images",
     TEXT(test_images),
     .help = "idx: validation/test images"},
    {.section = "data",
     .name = "test_labels",
     TEXT(test_labels),
     .help = "idx: validation/test labels"},
    {.section = "data",
     .name = "max_train",
     .type = AP_KEY_INT,
     EX(max_train),
     .max = 1e9,
     .help = "idx: use at most this many training samples (0: all)"},
    {.section = "data",
     .name = "max_val",
     .type = AP_KEY_INT,
     EX(max_val),
     .max = 1e9,
     .help = "idx: use at most this many test samples (0: all)"},
    {.section = "data",
     .name = "center",
     .type = AP_KEY_BOOL,
     EX(center),
     .max = 1,
     .help = "idx: subtract each pixel's mean over the training images from every training and "
             "test image (inputs become signed; rate inputs only)"},
    {.section = "data",
     .name = "random_samples",
     .type = AP_KEY_INT,
     EX(random_samples),
     .min = 1,
     .max = 1e7,
     .help = "random: samples of the random dataset"},
    {.section = "data",
     .name = "random_seed",
     .type = AP_KEY_U64,
     EX(random_seed),
     .max = BIG,
     .help = "random: seed of the random dataset"},
    {.section = "train",
     .name = "epochs",
     .type = AP_KEY_INT,
     EX(epochs),
     .min = 1,
     .max = 999999999, /* checkpoints are named epoch-NNNNNNNNN.h5: nine digits */
     .help = "records to run (a microcircuit epoch, an mstdp record: apical models says)"},
    {.section = "output",
     .name = "checkpoint_every",
     .type = AP_KEY_INT,
     EX(checkpoint_every),
     .max = 1e9,
     .help = "write a checkpoint and the results every N records (0: only at the end)"},
    {.section = "output",
     .name = "keep_checkpoints",
     .type = AP_KEY_INT,
     EX(keep_checkpoints),
     .min = 1,
     .max = 1e6,
     .help = "checkpoints kept on disk besides the epoch-0 one (the initial state, never pruned)"},
    {.section = "output",
     .name = "record_order",
     .type = AP_KEY_BOOL,
     EX(record_order),
     .max = 1,
     .help = "store every replica's sample order in the results (/recordings)"},
};
#define N_HOST_KEYS ((int)(sizeof host_keys / sizeof host_keys[0]))
static const char *const sections[] = {"experiment", "data", "train", "output", "model"};
#define N_SECTIONS 5

/* Which [data] keys each dataset reads. */
static int data_key_used(const char *dataset, const char *key) {
  if (!strcmp(dataset, "idx")) return strcmp(key, "random_samples") && strcmp(key, "random_seed");
  if (!strcmp(dataset, "random"))
    return !strcmp(key, "random_samples") || !strcmp(key, "random_seed");
  return 0;
}

typedef struct KeyRef {
  const ApKey *k;
  int host; /* the value lives in the ApExperiment, else in a parameter block */
} KeyRef;

static KeyRef key_find(const ApModel *m, const char *section, const char *name) {
  KeyRef r = {NULL, 0};
  for (int i = 0; i < N_HOST_KEYS; i++)
    if (!strcmp(host_keys[i].section, section) && !strcmp(host_keys[i].name, name))
      return (KeyRef){&host_keys[i], 1};
  for (int i = 0; m && i < m->n_keys; i++)
    if (!strcmp(m->keys[i].section, section) && !strcmp(m->keys[i].name, name))
      return (KeyRef){&m->keys[i], 0};
  return r;
}

static void *key_target(KeyRef r, ApExperiment *ex, void *params) {
  return r.host ? (void *)ex : params;
}

static const char *type_name(const ApKey *k) {
  switch (k->type) {
  case AP_KEY_INT:
    return "integer";
  case AP_KEY_U64:
    return "integer >= 0";
  case AP_KEY_REAL:
    return "number";
  case AP_KEY_BOOL:
    return "true|false";
  case AP_KEY_CHOICE:
    return k->choices;
  case AP_KEY_INTS:
    return "integer list";
  case AP_KEY_REALS:
    return "number list";
  case AP_KEY_TEXT:
    return "text";
  }
  return "?";
}

/* Size of the bytes a key's value occupies in its target. */
static size_t key_size(const ApKey *k) {
  switch (k->type) {
  case AP_KEY_U64:
    return sizeof(uint64_t);
  case AP_KEY_REAL:
    return sizeof(double);
  case AP_KEY_REALS:
    return (size_t)k->max_len * sizeof(double);
  case AP_KEY_TEXT:
    return (size_t)k->max_len;
  case AP_KEY_INTS:
    return (size_t)k->max_len * sizeof(int);
  default:
    return sizeof(int);
  }
}

/* ---- values ------------------------------------------------------------------------- */

static char *strip(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static ap_status range_check(const ApKey *k, double v, const char *origin, const char *text,
                             ApError *err) {
  int low = k->min_open ? v <= k->min : v < k->min;
  if (low || v > k->max) {
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%.15g", k->min); /* exact: %g printed 999999999 as 1e+09 */
    snprintf(hi, sizeof hi, "%.15g", k->max);
    if (k->max >= BIG && low)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: must be %s %s", origin, k->name, text,
                     k->min_open ? ">" : ">=", lo);
    if (k->max >= BIG)
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
  s = strip(s);
  errno = 0;
  double v = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
  if (!*s || *strip(end) || errno == ERANGE || !isfinite(v))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: expected %s", origin, k->name, s,
                   integer ? "an integer" : "a number");
  *out = v;
  return range_check(k, v, origin, s, err);
}

/* Splits "a, b, [c, d], f(e, g)" at top-level commas, in place; items (when non-NULL) gets
 * the stripped items. Returns their count. */
static int split_items(char *s, char **items) {
  int n = 0, depth = 0;
  char *start = s;
  for (char *p = s;; p++) {
    if (*p == '[' || *p == '(') depth++;
    if (*p == ']' || *p == ')') depth--;
    if ((*p == ',' && depth == 0) || *p == '\0') {
      int end = *p == '\0';
      if (items) {
        *p = '\0';
        items[n] = strip(start);
      }
      n++;
      if (end) break;
      start = p + 1;
    }
  }
  return n;
}

/* Sets key k of target (an ApExperiment or a parameter block) from text. */
static ap_status key_apply(const ApKey *k, const char *text, void *target, const char *origin,
                           ApError *err) {
  void *field = (char *)target + k->offset;
  double v;
  ap_status st = AP_OK;
  char *buf = strdup(text);
  if (!buf) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  char *s = strip(buf);
  switch (k->type) {
  case AP_KEY_INT:
    if (!(st = parse_number(k, s, &v, 1, origin, err))) *(int *)field = (int)v;
    break;
  case AP_KEY_U64: {
    char *end;
    errno = 0;
    unsigned long long u = isdigit((unsigned char)*s) ? strtoull(s, &end, 10) : 0;
    if (!isdigit((unsigned char)*s) || *strip(end) || errno == ERANGE)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: expected an integer >= 0", origin, k->name,
                   s);
    else
      *(uint64_t *)field = (uint64_t)u;
    break;
  }
  case AP_KEY_REAL:
    if (!(st = parse_number(k, s, &v, 0, origin, err))) *(double *)field = v;
    break;
  case AP_KEY_BOOL: {
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    int found = -1;
    for (int i = 0; i < 4; i++) {
      if (!strcmp(s, yes[i])) found = 1;
      if (!strcmp(s, no[i])) found = 0;
    }
    if (found < 0)
      st =
          ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: expected true or false", origin, k->name, s);
    else
      *(int *)field = found;
    break;
  }
  case AP_KEY_CHOICE: {
    int index = 0, found = -1;
    for (const char *c = k->choices; *c; index++) {
      size_t len = strcspn(c, "|");
      if (strlen(s) == len && !strncmp(s, c, len)) found = index;
      c += len + (c[len] == '|');
    }
    if (found < 0) {
      char alts[128] = "";
      for (const char *c = k->choices; *c && strlen(alts) < sizeof alts - 40;) {
        size_t len = strcspn(c, "|");
        snprintf(alts + strlen(alts), sizeof alts - strlen(alts), "%s%.*s", alts[0] ? ", " : "",
                 (int)len, c);
        c += len + (c[len] == '|');
      }
      st = ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: expected one of %s", origin, k->name, s,
                   alts);
    } else {
      *(int *)field = found;
    }
    break;
  }
  case AP_KEY_TEXT:
    for (const char *c = s; *c && !st; c++) /* a newline would forge lines of the dump */
      if ((unsigned char)*c < 0x20 || *c == 0x7f)
        st = ap_fail(err, AP_ERR_CONFIG,
                     "%s: %s: control character 0x%02x in the value (text values are one line "
                     "of printable characters)",
                     origin, k->name, (unsigned char)*c);
    if (st) break;
    if (strlen(s) >= (size_t)k->max_len)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: %s: value longer than %d characters", origin, k->name,
                   k->max_len - 1);
    else
      snprintf((char *)field, (size_t)k->max_len, "%s", s);
    break;
  case AP_KEY_INTS:
  case AP_KEY_REALS: {
    if (*s == '[') {
      size_t n = strlen(s);
      if (s[n - 1] != ']') {
        st = ap_fail(err, AP_ERR_CONFIG, "%s: %s = %.64s: unclosed '['", origin, k->name, s);
        break;
      }
      s[n - 1] = '\0';
      s++;
    }
    int n = split_items(s, NULL);
    char **items = malloc((size_t)n * sizeof *items);
    if (!items) {
      st = ap_fail(err, AP_ERR_OSERR, "out of memory");
      break;
    }
    split_items(s, items);
    if (k->type == AP_KEY_INTS) {
      if (n < k->min_len || n > k->max_len)
        st = ap_fail(err, AP_ERR_CONFIG, "%s: %s needs %d to %d values, got %d", origin, k->name,
                     k->min_len, k->max_len, n);
      int *out = field;
      for (int i = 0; i < n && !st; i++)
        if (!(st = parse_number(k, items[i], &v, 1, origin, err))) out[i] = (int)v;
      if (!st) *(int *)((char *)target + k->count_offset) = n;
    } else {
      int want = k->len(target);
      if (n != want)
        st = ap_fail(err, AP_ERR_CONFIG, "%s: %s needs %d value%s (%s), got %d", origin, k->name,
                     want, want == 1 ? "" : "s", k->len_what, n);
      double *out = field;
      for (int i = 0; i < n && !st; i++)
        if (!(st = parse_number(k, items[i], &v, 0, origin, err))) out[i] = v;
      for (int i = n; i < k->max_len && !st; i++) out[i] = 0.0;
    }
    free(items);
    break;
  }
  }
  free(buf);
  return st;
}

/* The shortest %g form that reads back as the same double. */
static void fmt_double(char *out, size_t n, double v) {
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(out, n, "%.*g", prec, v);
    if (strtod(out, NULL) == v) return;
  }
}

static void key_format(const ApKey *k, const void *target, char *out, size_t n) {
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
    fmt_double(out, n, *(const double *)field);
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
      fmt_double(num, sizeof num, ((const double *)field)[i]);
      used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", num);
    }
    return;
  }
  }
}

/* ---- the file's sections, indexed ------------------------------------------------------ */

/* Entry indices sorted by (section, position): a section's entries are one run, in file
 * order, found by binary search; building it is n log n in the file's entries. */
typedef struct SectionIndex {
  const Ini *ini;
  int *idx;
} SectionIndex;

static const Ini *g_sort_ini; /* qsort has no context argument in C11 */
static int by_section(const void *a, const void *b) {
  int i = *(const int *)a, j = *(const int *)b;
  int c = strcmp(g_sort_ini->e[i].section, g_sort_ini->e[j].section);
  return c ? c : (i > j) - (i < j);
}

static ap_status section_index(SectionIndex *s, const Ini *ini, ApError *err) {
  s->ini = ini;
  s->idx = malloc((size_t)(ini->n ? ini->n : 1) * sizeof *s->idx);
  if (!s->idx) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int i = 0; i < ini->n; i++) s->idx[i] = i;
  g_sort_ini = ini;
  qsort(s->idx, (size_t)ini->n, sizeof *s->idx, by_section);
  return AP_OK;
}

/* The run of section's entries: [*lo, *hi) in s->idx. */
static void section_range(const SectionIndex *s, const char *section, int *lo, int *hi) {
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

static int is_sweep_section(const char *s) {
  return !strcmp(s, "sweep") || !strncmp(s, "sweep.", 6);
}

/* ---- sweeps ------------------------------------------------------------------------- */

/* One swept key: its values, each already applied once, as the bytes they put into a
 * parameter block (so that expanding a million replicas copies bytes, not text). */
typedef struct Axis {
  const ApKey *key;
  const IniEntry *entry;
  unsigned char *values; /* [n][key_size] */
  int n;
  int group;
} Axis;

static void axes_free(Axis *axes, int n) {
  for (int i = 0; i < n; i++) {
    free(axes[i].values);
    axes[i].values = NULL;
    axes[i].n = 0;
  }
}

/* Room for one more value of a. */
static unsigned char *axis_slot(Axis *a, int *cap, ApError *err) {
  size_t sz = key_size(a->key);
  if (a->n == *cap) {
    *cap = *cap ? 2 * *cap : 16;
    unsigned char *v = realloc(a->values, (size_t)*cap * sz);
    if (!v) return ap_fail(err, AP_ERR_OSERR, "out of memory"), NULL;
    a->values = v;
  }
  return a->values + (size_t)a->n * sz;
}

static ap_status axis_push(Axis *a, const char *text, void *scratch, int *cap, ApError *err) {
  unsigned char *slot = axis_slot(a, cap, err);
  if (!slot) return AP_ERR_OSERR;
  ap_status st = key_apply(a->key, text, scratch, a->entry->origin, err);
  if (st) return st;
  memcpy(slot, (char *)scratch + a->key->offset, key_size(a->key));
  a->n++;
  return AP_OK;
}

static int is_integer_key(const ApKey *k) {
  return k->type == AP_KEY_INT || k->type == AP_KEY_U64 || k->type == AP_KEY_INTS;
}

/* One number of a range with a step or a function (item), checked as a value in the file
 * is: numbers go into their field directly (a million of them would take seconds as
 * text), integers and one-item lists through key_apply. */
static ap_status axis_push_number(Axis *a, double v, const char *item, void *scratch, int *cap,
                                  ApError *err) {
  const ApKey *k = a->key;
  const char *origin = a->entry->origin;
  char text[40];
  if (is_integer_key(k) && v != floor(v)) {
    fmt_double(text, sizeof text, v);
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: not an integer (from '%.64s'; %s takes %s)",
                   origin, k->name, text, item, k->name,
                   k->type == AP_KEY_INTS ? "integer lists" : "integers");
  }
  if (k->type != AP_KEY_REAL) {
    if (is_integer_key(k))
      snprintf(text, sizeof text, "%.0f", v);
    else
      fmt_double(text, sizeof text, v);
    return axis_push(a, text, scratch, cap, err);
  }
  if (range_check(k, v, origin, "", NULL)) { /* the text only for the message */
    fmt_double(text, sizeof text, v);
    return range_check(k, v, origin, text, err);
  }
  unsigned char *slot = axis_slot(a, cap, err);
  if (!slot) return AP_ERR_OSERR;
  memcpy(slot, &v, sizeof v);
  a->n++;
  return AP_OK;
}

#define MAX_AXIS_VALUES SWEEP_MAX_VALUES

/* "a..b" or "a..b step s" with integers: 1 and the numbers (s = 1 without a step), else 0. */
static int int_range(const char *item, long long *lo, long long *hi, long long *step) {
  const char *dots = strstr(item, "..");
  char *end1, *end2, *end3;
  errno = 0;
  *lo = strtoll(item, &end1, 10);
  *hi = strtoll(dots + 2, &end2, 10);
  *step = 1;
  if (errno == ERANGE || end1 != dots || end2 == dots + 2) return 0;
  while (isspace((unsigned char)*end2)) end2++;
  if (!*end2) return 1;
  if (strncmp(end2, "step", 4)) return 0;
  *step = strtoll(end2 + 4, &end3, 10);
  if (errno == ERANGE || end3 == end2 + 4) return 0;
  while (isspace((unsigned char)*end3)) end3++;
  return !*end3;
}

/* lo, lo + step, ... as far as hi, exactly (integer keys). */
static ap_status axis_int_range(Axis *a, const char *item, long long lo, long long hi,
                                long long step, void *scratch, int *cap, ApError *err) {
  const char *origin = a->entry->origin, *key = a->entry->key;
  if (step == 0)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: range '%.64s' has step 0", origin, key, item);
  if (step > 0 ? hi < lo : hi > lo)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: empty range '%.64s' (%s)", origin, key, item,
                   strstr(item, "step") ? "the step leads away from the end"
                                        : "the end is below the start");
  /* in unsigned arithmetic, where the span of any two long longs fits */
  unsigned long long span = step > 0 ? (unsigned long long)hi - (unsigned long long)lo
                                     : (unsigned long long)lo - (unsigned long long)hi,
                     mag = step > 0 ? (unsigned long long)step : 0ull - (unsigned long long)step,
                     last = span / mag;
  if (last >= MAX_AXIS_VALUES || a->n + (int)last >= MAX_AXIS_VALUES)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: range '%.64s' has more than %d values", origin, key,
                   item, MAX_AXIS_VALUES);
  ap_status st = AP_OK;
  for (unsigned long long i = 0; i <= last && !st; i++) {
    char num[32];
    snprintf(num, sizeof num, "%lld",
             (long long)((unsigned long long)lo + i * (unsigned long long)step));
    st = axis_push(a, num, scratch, cap, err);
  }
  return st;
}

/* The numbers of a range with a step or a function (host/sweep.c). */
static ap_status axis_numbers(Axis *a, const char *item, void *scratch, int *cap, ApError *err) {
  const ApKey *k = a->key;
  const char *origin = a->entry->origin;
  int one_number = k->type == AP_KEY_REAL || k->type == AP_KEY_INT || k->type == AP_KEY_U64;
  if (!one_number && k->type != AP_KEY_REALS && k->type != AP_KEY_INTS)
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s: '%.64s' gives numbers; %s takes %s", origin,
                   k->name, item, k->name, type_name(k));
  double *v;
  int n;
  ap_status st = sweep_numbers(item, k->name, origin, &v, &n, err);
  if (st) return st;
  if (a->n + n > MAX_AXIS_VALUES)
    st = ap_fail(err, AP_ERR_CONFIG, "%s: %s: more than %d values", origin, k->name,
                 MAX_AXIS_VALUES);
  for (int i = 0; i < n && !st; i++) st = axis_push_number(a, v[i], item, scratch, cap, err);
  free(v);
  return st;
}

/* The values of one swept key: plain values, integer ranges "a..b" (a, a+1, ..., b), and
 * the forms of host/sweep.c (ranges with a step, functions), mixed in any order. scratch:
 * a parameter block the values are parsed into (lists take their length from it). */
static ap_status axis_parse(Axis *a, const ApModel *m, const IniEntry *e, void *scratch,
                            ApError *err) {
  KeyRef r = key_find(m, "model", e->key);
  if (!r.k) {
    KeyRef other = {NULL, 0};
    for (int s = 0; s < N_SECTIONS && !other.k; s++) other = key_find(m, sections[s], e->key);
    if (other.k)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s cannot be swept (only [model] keys can)",
                     e->origin, e->key);
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: [%s] %s: unknown key (apical run --help lists the [model] keys)", e->origin,
                   e->section, e->key);
  }
  if (r.k->flags & AP_KEY_FIXED)
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: %s cannot be swept (one value per experiment; run one file per %s)",
                   e->origin, e->key, e->key);
  a->key = r.k;
  a->entry = e;
  char *buf = strdup(e->value);
  if (!buf) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  int n = split_items(buf, NULL), cap = 0;
  char **raw = malloc((size_t)n * sizeof *raw);
  ap_status st = raw ? AP_OK : ap_fail(err, AP_ERR_OSERR, "out of memory");
  if (raw) split_items(buf, raw);
  int integer = a->key->type == AP_KEY_INT || a->key->type == AP_KEY_U64;
  for (int i = 0; i < n && !st; i++) {
    if (!*raw[i]) {
      st = ap_fail(err, AP_ERR_CONFIG, "%s: %s: empty item in list", e->origin, e->key);
      break;
    }
    SweepForm form = sweep_form(raw[i]);
    long long lo, hi, step;
    if (form == SWEEP_VALUE) {
      st = axis_push(a, raw[i], scratch, &cap, err);
      if (!st && a->n > MAX_AXIS_VALUES)
        st = ap_fail(err, AP_ERR_CONFIG, "%s: %s: more than %d values", e->origin, e->key,
                     MAX_AXIS_VALUES);
    } else if (form == SWEEP_RANGE && !integer) {
      st = ap_fail(err, AP_ERR_CONFIG, "%s: %s: ranges a..b only for integer keys%s", e->origin,
                   e->key, a->key->type == AP_KEY_REAL ? " (numbers take a..b step s)" : "");
    } else if (form == SWEEP_RANGE && !int_range(raw[i], &lo, &hi, &step)) {
      st = ap_fail(err, AP_ERR_CONFIG,
                   "%s: %s: bad range '%.64s' (expected a..b with integers a <= b)", e->origin,
                   e->key, raw[i]);
    } else if (integer && form != SWEEP_CALL && int_range(raw[i], &lo, &hi, &step)) {
      st = axis_int_range(a, raw[i], lo, hi, step, scratch, &cap, err);
    } else {
      st = axis_numbers(a, raw[i], scratch, &cap, err);
    }
  }
  free(raw);
  free(buf);
  return st;
}

static int group_root(int *parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

static int g_max_replicas = AP_MAX_REPLICAS;
void config_limit_replicas(int n) {
  g_max_replicas = n > 0 && n < AP_MAX_REPLICAS ? n : AP_MAX_REPLICAS;
}

static void note_swept(ApExperiment *ex, const char *key) {
  for (int i = 0; i < ex->n_swept; i++)
    if (!strcmp(ex->swept[i], key)) return;
  if (ex->n_swept < AP_MAX_SWEPT) snprintf(ex->swept[ex->n_swept++], 64, "%s", key);
}

/* One sub-sweep: the common [sweep] axes plus those of [sweep.NAME] (sub == NULL: only
 * the common ones). Appends its replicas to ex->replicas. */
static ap_status expand(ApExperiment *ex, const SectionIndex *si, const char *sub, size_t *cap,
                        ApError *err) {
  enum { MAXA = 64 };
  const ApModel *m = ex->model;
  const Ini *ini = si->ini;
  size_t psz = m->params_size;
  Axis axes[MAXA];
  int n_axes = 0, parent[MAXA];
  ap_status st = AP_OK;
  memset(axes, 0, sizeof axes);
  void *scratch = malloc(psz);
  if (!scratch) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int pass = 0; pass < 2 && !st; pass++) {
    const char *section = pass == 0 ? "sweep" : sub;
    if (!section) break;
    int lo, hi;
    section_range(si, section, &lo, &hi);
    for (int q = lo; q < hi && !st; q++) {
      const IniEntry *e = &ini->e[si->idx[q]];
      if (!strcmp(e->key, "zip")) continue;
      int slot = n_axes;
      for (int a = 0; a < n_axes; a++)
        if (!strcmp(axes[a].entry->key, e->key)) slot = a; /* [sweep.X] overrides [sweep] */
      if (slot == MAXA) {
        st = ap_fail(err, AP_ERR_CONFIG, "%s: more than %d swept keys", e->origin, MAXA);
        break;
      }
      if (slot < n_axes) axes_free(&axes[slot], 1);
      memset(&axes[slot], 0, sizeof axes[slot]);
      memcpy(scratch, ex->base, psz);
      st = axis_parse(&axes[slot], m, e, scratch, err);
      if (slot == n_axes) n_axes++;
    }
  }
  for (int a = 0; a < n_axes; a++) parent[a] = a;
  /* zip groups, from both sections */
  for (int pass = 0; pass < 2 && !st; pass++) {
    const char *section = pass == 0 ? "sweep" : sub;
    if (!section) break;
    int lo, hi;
    section_range(si, section, &lo, &hi);
    for (int q = lo; q < hi && !st; q++) {
      const IniEntry *e = &ini->e[si->idx[q]];
      if (strcmp(e->key, "zip")) continue;
      char *buf = strdup(e->value), *save = NULL;
      if (!buf) {
        st = ap_fail(err, AP_ERR_OSERR, "out of memory");
        break;
      }
      int first = -1;
      for (char *tok = strtok_r(buf, " \t,", &save); tok && !st;
           tok = strtok_r(NULL, " \t,", &save)) {
        int found = -1;
        for (int a = 0; a < n_axes; a++)
          if (!strcmp(axes[a].entry->key, tok)) found = a;
        if (found < 0) {
          st = ap_fail(err, AP_ERR_CONFIG, "%s: zip names '%.64s', which is not swept here",
                       e->origin, tok);
          break;
        }
        if (first < 0)
          first = found;
        else
          parent[group_root(parent, found)] = group_root(parent, first);
      }
      free(buf);
    }
  }
  /* zipped axes must have equal lengths */
  for (int a = 0; a < n_axes && !st; a++) {
    int r = group_root(parent, a);
    axes[a].group = r;
    if (axes[a].n != axes[r].n)
      st = ap_fail(err, AP_ERR_CONFIG,
                   "%s: %s has %d values but is zipped with %s (%s), which has %d",
                   axes[a].entry->origin, axes[a].entry->key, axes[a].n, axes[r].entry->key,
                   axes[r].entry->origin, axes[r].n);
  }
  /* groups in order of first appearance, the one holding seed last (varies fastest) */
  int groups[MAXA], n_groups = 0, seed_group = -1;
  for (int a = 0; a < n_axes && !st; a++) {
    if (axes[a].group != a) continue;
    int has_seed = 0;
    for (int b = 0; b < n_axes; b++)
      if (axes[b].group == a && !strcmp(axes[b].entry->key, "seed")) has_seed = 1;
    if (has_seed)
      seed_group = a;
    else
      groups[n_groups++] = a;
  }
  if (seed_group >= 0) groups[n_groups++] = seed_group;
  long long count = 1;
  for (int g = 0; g < n_groups && !st; g++) {
    count *= axes[groups[g]].n; /* each factor <= 1e6 and the product stays <= 1e7 here */
    if ((long long)ex->n_replicas + count > g_max_replicas)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: the sweep expands to more than %d replicas",
                   axes[groups[g]].entry->origin, g_max_replicas);
  }
  if (!st && (size_t)ex->n_replicas + (size_t)count > *cap) {
    size_t want = ((size_t)ex->n_replicas + (size_t)count) * 2, avail = mem_available();
    if (avail && (double)want * (double)psz > 0.8 * (double)avail) {
      char need[32], have[32];
      mem_format(need, sizeof need, (double)want * (double)psz);
      mem_format(have, sizeof have, (double)avail);
      st = ap_fail(err, AP_ERR_OSERR,
                   "the sweep's %lld replicas need %s for their parameters alone; %s are "
                   "available",
                   (long long)ex->n_replicas + count, need, have);
    }
  }
  if (!st && (size_t)ex->n_replicas + (size_t)count > *cap) {
    size_t want = ((size_t)ex->n_replicas + (size_t)count) * 2;
    unsigned char *p = realloc(ex->replicas, want * psz);
    if (!p)
      st = ap_fail(err, AP_ERR_OSERR, "out of memory for %lld replicas (%.1f MB of parameters)",
                   count, (double)want * (double)psz / 1e6);
    else
      ex->replicas = p, *cap = want;
  }
  for (long long r = 0; r < count && !st; r++) {
    unsigned char *p = ex->replicas + (size_t)ex->n_replicas * psz;
    memcpy(p, ex->base, psz);
    long long rest = r;
    for (int g = n_groups - 1; g >= 0; g--) {
      int n = axes[groups[g]].n, pick = (int)(rest % n);
      rest /= n;
      for (int a = 0; a < n_axes; a++)
        if (axes[a].group == groups[g]) {
          size_t sz = key_size(axes[a].key);
          memcpy(p + axes[a].key->offset, axes[a].values + (size_t)pick * sz, sz);
        }
    }
    ex->n_replicas++;
  }
  for (int a = 0; a < n_axes && !st; a++) note_swept(ex, axes[a].entry->key);
  axes_free(axes, n_axes);
  free(scratch);
  return st;
}

typedef struct SubSweep {
  int first; /* position in the file */
  const char *name;
} SubSweep;

static int by_first(const void *a, const void *b) {
  int x = ((const SubSweep *)a)->first, y = ((const SubSweep *)b)->first;
  return (x > y) - (x < y);
}

static ap_status expand_all(ApExperiment *ex, const SectionIndex *si, ApError *err) {
  const Ini *ini = si->ini;
  size_t cap = 0;
  int n_subs = 0;
  SubSweep *subs = malloc((size_t)(ini->n ? ini->n : 1) * sizeof *subs);
  if (!subs) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  /* each [sweep.NAME] once, in order of first appearance */
  for (int q = 0; q < ini->n; q++) {
    const IniEntry *e = &ini->e[si->idx[q]];
    if (strncmp(e->section, "sweep.", 6)) continue;
    if (n_subs && !strcmp(subs[n_subs - 1].name, e->section)) {
      if (si->idx[q] < subs[n_subs - 1].first) subs[n_subs - 1].first = si->idx[q];
      continue;
    }
    subs[n_subs++] = (SubSweep){si->idx[q], e->section};
  }
  qsort(subs, (size_t)n_subs, sizeof *subs, by_first);
  ap_status st = AP_OK;
  for (int i = 0; i < n_subs && !st; i++) st = expand(ex, si, subs[i].name, &cap, err);
  if (!st && !n_subs) st = expand(ex, si, NULL, &cap, err);
  free(subs);
  return st;
}

/* ---- building ---------------------------------------------------------------------- */

static void host_defaults(ApExperiment *ex) {
  snprintf(ex->dataset, sizeof ex->dataset, "bars");
  const char *dir = getenv("APICAL_MNIST_DIR");
  if (dir && *dir) {
    snprintf(ex->train_images, sizeof ex->train_images, "%.400s/train-images-idx3-ubyte.gz", dir);
    snprintf(ex->train_labels, sizeof ex->train_labels, "%.400s/train-labels-idx1-ubyte.gz", dir);
    snprintf(ex->test_images, sizeof ex->test_images, "%.400s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(ex->test_labels, sizeof ex->test_labels, "%.400s/t10k-labels-idx1-ubyte.gz", dir);
  }
  ex->random_samples = 100;
  ex->random_seed = 1;
  ex->epochs = 100;
  ex->checkpoint_every = 100;
  ex->keep_checkpoints = 2;
}

static void model_list(char *out, size_t n) {
  out[0] = '\0';
  for (int i = 0; i < ap_model_count(); i++)
    snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? ", " : "", ap_model_at(i)->name);
}

/* Lists whose length follows from other keys (eta_up per weight layer) and that the file
 * does not give keep their default only where it has that length; all-zero defaults
 * stretch with it. */
static ap_status fit_lists(ApExperiment *ex, const Ini *ini, const char *shape_origin,
                           ApError *err) {
  const ApModel *m = ex->model;
  void *def = malloc(m->params_size);
  if (!def) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  m->defaults(def);
  ap_status st = AP_OK;
  for (int i = 0; i < m->n_keys && !st; i++) {
    const ApKey *k = &m->keys[i];
    if (k->type != AP_KEY_REALS || ini_find(ini, k->section, k->name)) continue;
    int want = k->len(ex->base), have = k->len(def);
    if (want == have) continue;
    const double *d = (const double *)((const char *)def + k->offset);
    int zero = 1;
    for (int j = 0; j < have; j++) zero &= d[j] == 0.0;
    if (zero) {
      memset((char *)ex->base + k->offset, 0, key_size(k));
      continue;
    }
    st = ap_fail(err, AP_ERR_CONFIG, "%s: give %s (%d value%s, %s) in [%s]: its default has %d",
                 shape_origin, k->name, want, want == 1 ? "" : "s", k->len_what, k->section, have);
  }
  free(def);
  return st;
}

/* The dataset's shape where it is known without reading files. */
static int data_shape(const ApExperiment *ex, int *n_in, int *n_classes) {
  if (!strcmp(ex->dataset, "bars")) return *n_in = 9, *n_classes = 3, 1;
  return 0;
}

static ap_status build(ApExperiment *ex, const Ini *ini, const char *source, ApError *err);

ap_status config_build(ApExperiment *ex, const Ini *ini, const char *source, ApError *err) {
  ap_status st = build(ex, ini, source, err);
  if (st) config_free(ex); /* nothing of a refused experiment stays allocated */
  return st;
}

/* Where a model's check points: the FILE:LINE (or --set) of the first of the model's keys
 * that its message names as "KEY = ", else the file. */
static const char *check_origin(const Ini *ini, const ApModel *m, const char *msg,
                                const char *source) {
  const char *origin = source, *first = NULL;
  for (int i = 0; i < m->n_keys; i++) {
    const ApKey *k = &m->keys[i];
    size_t n = strlen(k->name);
    for (const char *at = strstr(msg, k->name); at; at = strstr(at + 1, k->name)) {
      if ((at > msg && (isalnum((unsigned char)at[-1]) || at[-1] == '_')) ||
          strncmp(at + n, " = ", 3))
        continue;
      if (first && at >= first) break;
      const IniEntry *e = ini_find(ini, k->section, k->name);
      for (int j = 0; !e && j < ini->n; j++)
        if (is_sweep_section(ini->e[j].section) && !strcmp(ini->e[j].key, k->name)) e = &ini->e[j];
      if (e) first = at, origin = e->origin;
      break;
    }
  }
  const char *ep = strstr(msg, "epochs = "); /* the host's key of the run's length */
  if (ep && (!first || ep < first) && ini_find(ini, "train", "epochs"))
    origin = ini_find(ini, "train", "epochs")->origin;
  return origin;
}

static ap_status build(ApExperiment *ex, const Ini *ini, const char *source, ApError *err) {
  memset(ex, 0, sizeof *ex);
  host_defaults(ex);
  snprintf(ex->source, sizeof ex->source, "%s", source);
  const char *base = strrchr(source, '/');
  base = base ? base + 1 : source;
  snprintf(ex->name, sizeof ex->name, "%.*s", (int)strcspn(base, "."), base);
  char models[256];
  model_list(models, sizeof models);

  /* the model first: it owns the [model] keys */
  const IniEntry *me = ini_find(ini, "experiment", "model");
  if (!me) {
    int any = 0;
    for (int i = 0; i < ini->n; i++) any |= !strcmp(ini->e[i].section, "experiment");
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: %s (every experiment names its model, e.g. [experiment] "
                   "model = %s; apical models lists them: %s)",
                   source, any ? "[experiment] has no model key" : "no [experiment] section",
                   ap_model_at(0)->name, models);
  }
  ap_status st = key_apply(key_find(NULL, "experiment", "model").k, me->value, ex, me->origin, err);
  if (st) return st;
  if (!(ex->model = ap_model_find(ex->model_name)))
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: model = %s: unknown model (apical models lists them: %s)", me->origin,
                   ex->model_name, models);
  const ApModel *m = ex->model;
  if (!(ex->base = malloc(m->params_size))) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  m->defaults(ex->base);

  /* sections and keys must be known */
  for (int i = 0; i < ini->n; i++) {
    const IniEntry *e = &ini->e[i];
    if (is_sweep_section(e->section) || key_find(m, e->section, e->key).k) continue;
    int known_section = 0;
    for (int s = 0; s < N_SECTIONS; s++) known_section |= !strcmp(sections[s], e->section);
    if (!known_section)
      return ap_fail(err, AP_ERR_CONFIG,
                     "%s: unknown section [%s] (known: experiment, data, train, output, "
                     "model, sweep, sweep.NAME)",
                     e->origin, e->section);
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: unknown key '%s' in [%s] (apical run --help lists the keys of "
                   "model %s)",
                   e->origin, e->key, e->section, m->name);
  }
  /* lists that size others (dims) first, then the rest in file order */
  const char *shape_origin = "[model]";
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < ini->n; i++) {
      const IniEntry *e = &ini->e[i];
      if (is_sweep_section(e->section) || e == me) continue;
      KeyRef r = key_find(m, e->section, e->key);
      if ((r.k->type == AP_KEY_INTS) != (pass == 0)) continue;
      if (pass == 0) shape_origin = e->origin;
      if ((st = key_apply(r.k, e->value, key_target(r, ex, ex->base), e->origin, err))) return st;
    }
  if ((st = fit_lists(ex, ini, shape_origin, err))) return st;
  if (ex->record_order && !m->order) {
    const IniEntry *ro = ini_find(ini, "output", "record_order");
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: record_order: model %s keeps no per-record sample order to store (it "
                   "follows from the keys: docs/file-format.md)",
                   ro ? ro->origin : source, m->name);
  }

  /* the dataset */
  const IniEntry *de = ini_find(ini, "experiment", "dataset");
  const char *d_origin = de ? de->origin : source;
  if (m->io) {
    if (strcmp(ex->dataset, "bars") && strcmp(ex->dataset, "idx") && strcmp(ex->dataset, "random"))
      return ap_fail(err, AP_ERR_CONFIG, "%s: dataset = %s: expected bars, idx or random", d_origin,
                     ex->dataset);
    for (int i = 0; i < ini->n; i++)
      if (!strcmp(ini->e[i].section, "data") && !data_key_used(ex->dataset, ini->e[i].key))
        return ap_fail(err, AP_ERR_CONFIG, "%s: [data] %s is not read by dataset %s",
                       ini->e[i].origin, ini->e[i].key, ex->dataset);
    int n_in, n_classes, want_in, want_out;
    m->io(ex->base, &want_in, &want_out);
    if (data_shape(ex, &n_in, &n_classes) && (want_in != n_in || want_out < n_classes))
      return ap_fail(err, AP_ERR_CONFIG,
                     "%s: dataset %s has %d inputs and %d classes: the network takes %d "
                     "inputs and has %d outputs (the [model] keys set them: apical models %s)",
                     d_origin, ex->dataset, n_in, n_classes, want_in, want_out, m->name);
  } else if (de || ini_find(ini, "data", "train_images")) {
    return ap_fail(err, AP_ERR_CONFIG, "%s: model %s takes no dataset", d_origin, m->name);
  }
  if ((st = m->layout(ex->base, &ex->layout, err))) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    return ap_fail(err, st, "%s: %s", check_origin(ini, m, msg, source), msg);
  }

  SectionIndex si;
  if ((st = section_index(&si, ini, err))) return st;
  st = expand_all(ex, &si, err);
  free(si.idx);
  if (st) return st;
  for (int r = 0; r < ex->n_replicas && !st; r++) {
    ApError why = {{0}};
    if (m->check(config_params(ex, r), NULL, &why) ||
        (m->check_records && m->check_records(config_params(ex, r), ex->epochs, &why)))
      st = ap_fail(err, AP_ERR_CONFIG, "%s: replica %d: %s", check_origin(ini, m, why.msg, source),
                   r, why.msg);
  }
  if (st) return st;
  ex->n_total = ex->n_replicas;
  ex->file_text = strdup(ini->text ? ini->text : "");
  /* the sweep as given, for the dump */
  size_t len = 1;
  for (int i = 0; i < ini->n; i++)
    if (is_sweep_section(ini->e[i].section))
      len += strlen(ini->e[i].section) + strlen(ini->e[i].key) + strlen(ini->e[i].value) + 16;
  ex->sweep_text = calloc(len, 1);
  if (!ex->file_text || !ex->sweep_text) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  char last[64] = "";
  size_t used = 0;
  for (int i = 0; i < ini->n; i++) {
    const IniEntry *e = &ini->e[i];
    if (!is_sweep_section(e->section)) continue;
    if (strcmp(last, e->section)) {
      used += (size_t)snprintf(ex->sweep_text + used, len - used, "\n[%s]\n", e->section);
      snprintf(last, sizeof last, "%s", e->section);
    }
    used += (size_t)snprintf(ex->sweep_text + used, len - used, "%s = %s\n", e->key, e->value);
  }
  return AP_OK;
}

typedef struct CostIdx {
  double cost;
  int r;
} CostIdx;

static int by_cost_desc(const void *a, const void *b) {
  const CostIdx *x = a, *y = b;
  if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
  return (x->r > y->r) - (x->r < y->r);
}

ap_status config_shard(ApExperiment *ex, int index, int count, const double *cost, ApError *err) {
  int R = ex->n_replicas;
  if (count < 1 || index < 0 || index >= count)
    return ap_fail(err, AP_ERR_USAGE, "--shard %d/%d: expected INDEX/COUNT with 0 <= INDEX < COUNT",
                   index, count);
  if (count > R)
    return ap_fail(err, AP_ERR_USAGE,
                   "--shard %d/%d: the experiment has %d replica%s, so at most %d shards", index,
                   count, R, R == 1 ? "" : "s", R);
  CostIdx *order = malloc((size_t)R * sizeof *order);
  double *load = calloc((size_t)count, sizeof *load);
  unsigned char *mine = calloc((size_t)R, 1);
  if (!order || !load || !mine) {
    free(order), free(load), free(mine);
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  }
  for (int r = 0; r < R; r++) order[r] = (CostIdx){cost[r], r};
  qsort(order, (size_t)R, sizeof *order, by_cost_desc);
  for (int i = 0; i < R; i++) { /* count is small next to R: a scan per replica */
    int best = 0;
    for (int k = 1; k < count; k++)
      if (load[k] < load[best]) best = k;
    load[best] += order[i].cost;
    mine[order[i].r] = best == index;
  }
  int n = 0;
  for (int r = 0; r < R; r++) n += mine[r];
  int *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
  if (!ids) {
    free(order), free(load), free(mine);
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  }
  size_t ps = ex->model->params_size;
  for (int r = 0, k = 0; r < R; r++)
    if (mine[r]) {
      ids[k] = r;
      memmove(ex->replicas + (size_t)k * ps, ex->replicas + (size_t)r * ps, ps);
      k++;
    }
  free(order), free(load), free(mine);
  ex->n_total = R;
  ex->n_replicas = n;
  ex->shard_index = index;
  ex->shard_count = count;
  free(ex->shard_ids);
  ex->shard_ids = ids;
  return AP_OK;
}

void config_free(ApExperiment *ex) {
  free(ex->shard_ids);
  ex->shard_ids = NULL;
  free(ex->base);
  free(ex->replicas);
  free(ex->file_text);
  free(ex->sweep_text);
  ex->base = NULL;
  ex->replicas = NULL;
  ex->file_text = ex->sweep_text = NULL;
}

/* ---- printing ---------------------------------------------------------------------- */

char *config_dump(const ApExperiment *ex) {
  const ApModel *m = ex->model;
  size_t cap = 4096 + (ex->sweep_text ? strlen(ex->sweep_text) : 0), used = 0;
  char *out = malloc(cap), value[4096];
  if (!out) return NULL;
  out[0] = '\0';
  for (int s = 0; s < N_SECTIONS; s++) {
    const char *section = sections[s];
    int header = 0;
    for (int i = 0; i < N_HOST_KEYS + m->n_keys; i++) {
      int host = i < N_HOST_KEYS;
      const ApKey *k = host ? &host_keys[i] : &m->keys[i - N_HOST_KEYS];
      if (strcmp(k->section, section)) continue;
      if (host && !strcmp(section, "data") && (!m->io || !data_key_used(ex->dataset, k->name)))
        continue;
      if (host && !strcmp(k->name, "dataset") && !m->io) continue;
      key_format(k, host ? (const void *)ex : ex->base, value, sizeof value);
      size_t need = strlen(k->name) + strlen(value) + strlen(section) + 16;
      if (used + need + 1 > cap) {
        char *o = realloc(out, cap = 2 * (cap + need));
        if (!o) return free(out), NULL;
        out = o;
      }
      if (!header)
        used += (size_t)snprintf(out + used, cap - used, "%s[%s]\n", used ? "\n" : "", section);
      header = 1;
      used += (size_t)snprintf(out + used, cap - used, "%s = %s\n", k->name, value);
    }
  }
  if (ex->sweep_text) {
    size_t need = strlen(ex->sweep_text) + 1;
    if (used + need > cap) {
      char *o = realloc(out, cap = used + need);
      if (!o) return free(out), NULL;
      out = o;
    }
    memcpy(out + used, ex->sweep_text, need);
  }
  return out;
}

char *config_identity(const char *dump) {
  char *out = malloc(strlen(dump) + 1);
  if (!out) return NULL;
  char *o = out;
  int in_train = 0;
  for (const char *p = dump; *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
    if (*p == '[') in_train = !strncmp(p, "[train]", 7);
    if (!(in_train && !strncmp(p, "epochs = ", 9))) {
      memcpy(o, p, len);
      o += len;
    }
    p += len;
  }
  *o = '\0';
  return out;
}

/* One key: name, type, default (the value an experiment file that does not set it
 * gets) with its unit, and what it is. */
static void print_key(FILE *f, const ApKey *k, const void *defaults, const char *unit) {
  char kind[64], value[160] = "", dflt[200];
  snprintf(kind, sizeof kind, "%s%s", type_name(k),
           (k->flags & AP_KEY_FIXED) && !strcmp(k->section, "model") ? ", fixed" : "");
  if (defaults) key_format(k, defaults, value, sizeof value);
  snprintf(dflt, sizeof dflt, "%s%s%s", value[0] ? value : "-", unit ? " " : "",
           unit && strcmp(unit, "1") ? unit : "");
  fprintf(f, "    %-22s %-20s %-18s %s\n", k->name, kind, dflt, k->help);
}

void config_print_keys_markdown(FILE *f, const ApModel *m) {
  void *params = calloc(1, m->params_size);
  if (params) m->defaults(params);
  fprintf(f, "| key | section | type | default | unit | what |\n| --- | --- | --- | --- | --- | --- |\n");
  for (int s = 0; s < N_SECTIONS; s++)
    for (int i = 0; i < m->n_keys; i++) {
      const ApKey *k = &m->keys[i];
      if (strcmp(k->section, sections[s])) continue;
      char kind[64], value[160] = "";
      snprintf(kind, sizeof kind, "%s%s", type_name(k),
               (k->flags & AP_KEY_FIXED) && !strcmp(k->section, "model") ? ", fixed" : "");
      if (params) key_format(k, params, value, sizeof value);
      const char *unit = m->unit ? m->unit(k->name) : NULL;
      fprintf(f, "| `%s` | %s | ", k->name, k->section);
      for (const char *c = kind; *c; c++) fprintf(f, *c == '|' ? "\\|" : "%c", *c);
      fprintf(f, " | %s | %s | ", value[0] ? value : "-", unit ? unit : "");
      for (const char *c = k->help; *c; c++) fprintf(f, *c == '|' ? "\\|" : "%c", *c);
      fprintf(f, " |\n");
    }
  free(params);
}

void config_print_keys(FILE *f, const ApModel *model) {
  ApExperiment *hd = calloc(1, sizeof *hd);
  if (hd) host_defaults(hd);
  fprintf(f, "\n  key                    type                 default            what "
             "(a number without a unit is dimensionless)\n");
  for (int s = 0; s < N_SECTIONS - 1; s++) {
    fprintf(f, "\n  [%s]\n", sections[s]);
    for (int i = 0; i < N_HOST_KEYS; i++)
      if (!strcmp(host_keys[i].section, sections[s])) print_key(f, &host_keys[i], hd, NULL);
  }
  free(hd);
  for (int mi = 0; mi < ap_model_count(); mi++) {
    const ApModel *m = ap_model_at(mi);
    if (model && m != model) continue;
    void *params = calloc(1, m->params_size);
    if (params) m->defaults(params);
    fprintf(f, "\n  model = %s: %s\n", m->name, m->summary);
    for (int s = 0; s < N_SECTIONS; s++) {
      int header = 0;
      for (int i = 0; i < m->n_keys; i++) {
        if (strcmp(m->keys[i].section, sections[s])) continue;
        if (!header)
          fprintf(f, "  [%s]%s\n", sections[s],
                  !strcmp(sections[s], "model")
                      ? "  (per replica; every key not marked fixed can be swept)"
                      : "  (the schedule: one value per experiment)");
        header = 1;
        print_key(f, &m->keys[i], params, m->unit ? m->unit(m->keys[i].name) : NULL);
      }
    }
    free(params);
  }
  fprintf(f, "\n  [sweep] and [sweep.NAME]\n"
             "    KEY = v1, v2, ...      one axis per [model] key; integer ranges as a..b;\n"
             "                           list-valued keys take [x, y] items; items may also\n"
             "                           be a..b step s, linspace(a, b, n), logspace(a, b, n),\n"
             "                           uniform(a, b, n, seed=K), loguniform(a, b, n, seed=K)\n"
             "    zip = KEY KEY ...      these axes advance together (equal lengths)\n"
             "    Replicas = the cross product of the axes (seed varies fastest); each\n"
             "    [sweep.NAME] adds its own axes to those of [sweep], and the replica set is\n"
             "    the union over the [sweep.NAME] sections.\n");
}

ap_status config_for_each_param(const ApExperiment *ex, ParamColumnFn fn, void *ctx) {
  const ApModel *m = ex->model;
  int R = ex->n_replicas;
  for (int i = 0; i < m->n_keys; i++) {
    const ApKey *k = &m->keys[i];
    if (strcmp(k->section, "model") || k->type == AP_KEY_TEXT) continue;
    int list = k->type == AP_KEY_INTS || k->type == AP_KEY_REALS;
    int width = k->type == AP_KEY_REALS  ? k->len(ex->base)
                : k->type == AP_KEY_INTS ? *(const int *)((const char *)ex->base + k->count_offset)
                                         : 1;
    if (width == 0) continue;
    ParamKind kind = k->type == AP_KEY_U64                               ? PARAM_U64
                     : k->type == AP_KEY_REAL || k->type == AP_KEY_REALS ? PARAM_DOUBLE
                                                                         : PARAM_INT;
    void *buf = malloc((size_t)R * (size_t)width * 8);
    if (!buf) return AP_ERR_OSERR;
    for (int r = 0; r < R; r++) {
      const char *f = (const char *)config_params(ex, r) + k->offset;
      for (int w = 0; w < width; w++) {
        size_t at = (size_t)r * (size_t)width + (size_t)w;
        if (kind == PARAM_U64)
          ((uint64_t *)buf)[at] = *(const uint64_t *)f;
        else if (kind == PARAM_INT)
          ((int64_t *)buf)[at] = ((const int *)f)[w];
        else
          ((double *)buf)[at] = ((const double *)f)[w];
      }
    }
    char help[512];
    if (k->type == AP_KEY_CHOICE) { /* "0 = original, 1 = le" */
      int used = 0, index = 0;
      help[0] = '\0';
      for (const char *c = k->choices; *c && used < (int)sizeof help - 64; index++) {
        int len = (int)strcspn(c, "|");
        used += snprintf(help + used, sizeof help - (size_t)used, "%s%d = %.*s", index ? ", " : "",
                         index, len, c);
        c += len + (c[len] == '|');
      }
    } else {
      snprintf(help, sizeof help, "%s", k->help);
    }
    fn(ctx, k->name, kind, width, list, buf, help);
    free(buf);
  }
  return AP_OK;
}

void config_format_param(const ApExperiment *ex, int r, const char *key, char *out, size_t n) {
  KeyRef k = key_find(ex->model, "model", key);
  if (!k.k)
    snprintf(out, n, "?");
  else
    key_format(k.k, config_params(ex, r), out, n);
}

typedef struct KeyIdx {
  uint64_t key;
  int r;
} KeyIdx;

static int by_key(const void *a, const void *b) {
  const KeyIdx *x = a, *y = b;
  if (x->key != y->key) return (x->key > y->key) - (x->key < y->key);
  return (x->r > y->r) - (x->r < y->r);
}

int config_cohorts(const ApExperiment *ex, int *cohort_of) {
  int R = ex->n_replicas, n = 0;
  KeyIdx *k = malloc((size_t)(R ? R : 1) * sizeof *k);
  int *first =
      malloc((size_t)(R ? R : 1) * sizeof *first); /* per sorted group: its first replica */
  if (!k || !first) {
    free(k);
    free(first);
    return -1;
  }
  for (int r = 0; r < R; r++) k[r] = (KeyIdx){ex->model->cohort_key(config_params(ex, r)), r};
  qsort(k, (size_t)R, sizeof *k, by_key);
  /* cohort ids in order of first appearance: number the groups by their first replica */
  int groups = 0;
  for (int i = 0; i < R; i++) {
    if (i == 0 || k[i].key != k[i - 1].key) first[groups++] = k[i].r;
    cohort_of[k[i].r] = groups - 1;
  }
  /* rank the groups by their first replica */
  KeyIdx *g = malloc((size_t)(groups ? groups : 1) * sizeof *g);
  int *rank = malloc((size_t)(groups ? groups : 1) * sizeof *rank);
  if (!g || !rank) {
    free(k), free(first), free(g), free(rank);
    return -1;
  }
  for (int i = 0; i < groups; i++) g[i] = (KeyIdx){(uint64_t)first[i], i};
  qsort(g, (size_t)groups, sizeof *g, by_key);
  for (int i = 0; i < groups; i++) rank[g[i].r] = i;
  for (int r = 0; r < R; r++) cohort_of[r] = rank[cohort_of[r]];
  n = groups;
  free(k), free(first), free(g), free(rank);
  return n;
}
void config_first_difference(const char *a, const char *b, char *la, char *lb, size_t n) {
  while (*a || *b) {
    size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
    if (na != nb || strncmp(a, b, na)) {
      snprintf(la, n, "%.*s", (int)na, a);
      snprintf(lb, n, "%.*s", (int)nb, b);
      return;
    }
    a += na + (a[na] == '\n');
    b += nb + (b[nb] == '\n');
  }
}
