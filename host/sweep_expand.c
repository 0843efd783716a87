/* [sweep] expansion: see sweep_expand.h. */
#include "sweep_expand.h"

#include "host/config_keys.h"
#include "host/mem.h"
#include "host/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_AXIS_VALUES SWEEP_MAX_VALUES

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
    key_fmt_double(text, sizeof text, v);
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: not an integer (from '%.64s'; %s takes %s)",
                   origin, k->name, text, item, k->name,
                   k->type == AP_KEY_INTS ? "integer lists" : "integers");
  }
  if (k->type != AP_KEY_REAL) {
    if (is_integer_key(k))
      snprintf(text, sizeof text, "%.0f", v);
    else
      key_fmt_double(text, sizeof text, v);
    return axis_push(a, text, scratch, cap, err);
  }
  if (key_range_check(k, v, origin, "", NULL)) { /* the text only for the message */
    key_fmt_double(text, sizeof text, v);
    return key_range_check(k, v, origin, text, err);
  }
  unsigned char *slot = axis_slot(a, cap, err);
  if (!slot) return AP_ERR_OSERR;
  memcpy(slot, &v, sizeof v);
  a->n++;
  return AP_OK;
}

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
                   k->name, item, k->name, key_type_name(k));
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
    for (int s = 0; s < CONFIG_N_SECTIONS && !other.k; s++)
      other = key_find(m, config_sections[s], e->key);
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
  int n = key_split_items(buf, NULL), cap = 0;
  char **raw = malloc((size_t)n * sizeof *raw);
  ap_status st = raw ? AP_OK : ap_fail(err, AP_ERR_OSERR, "out of memory");
  if (raw) key_split_items(buf, raw);
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

enum { MAX_AXES = 64 };

/* The axes of one sub-sweep and their groups: zipped axes share one (parent: union-find),
 * and the groups are the factors of the cross product. */
typedef struct Axes {
  Axis a[MAX_AXES];
  int n, parent[MAX_AXES];
  int groups[MAX_AXES], n_groups; /* in sweep order: the one holding seed last */
} Axes;

/* The axes of [sweep] and then [sweep.NAME] (sub; NULL: [sweep] alone), a key of the
 * second replacing the first's. */
static ap_status parse_axes(Axes *x, const ApExperiment *ex, const IniIndex *si, const char *sub,
                            void *scratch, ApError *err) {
  const ApModel *m = ex->model;
  ap_status st = AP_OK;
  for (int pass = 0; pass < 2 && !st; pass++) {
    const char *section = pass == 0 ? "sweep" : sub;
    if (!section) break;
    int lo, hi;
    ini_index_range(si, section, &lo, &hi);
    for (int q = lo; q < hi && !st; q++) {
      const IniEntry *e = &si->ini->e[si->idx[q]];
      if (!strcmp(e->key, "zip")) continue;
      int slot = x->n;
      for (int a = 0; a < x->n; a++)
        if (!strcmp(x->a[a].entry->key, e->key)) slot = a; /* [sweep.X] overrides [sweep] */
      if (slot == MAX_AXES)
        return ap_fail(err, AP_ERR_CONFIG, "%s: more than %d swept keys", e->origin, MAX_AXES);
      if (slot < x->n) axes_free(&x->a[slot], 1);
      memset(&x->a[slot], 0, sizeof x->a[slot]);
      memcpy(scratch, ex->base, m->params_size);
      st = axis_parse(&x->a[slot], m, e, scratch, err);
      if (slot == x->n) x->n++;
    }
  }
  return st;
}

/* zip = KEY KEY ...: the named axes join one group. */
static ap_status zip_one(Axes *x, const IniEntry *e, ApError *err) {
  char *buf = strdup(e->value), *save = NULL;
  if (!buf) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  ap_status st = AP_OK;
  int first = -1;
  for (char *tok = strtok_r(buf, " \t,", &save); tok && !st; tok = strtok_r(NULL, " \t,", &save)) {
    int found = -1;
    for (int a = 0; a < x->n; a++)
      if (!strcmp(x->a[a].entry->key, tok)) found = a;
    if (found < 0)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: zip names '%.64s', which is not swept here", e->origin,
                   tok);
    else if (first < 0)
      first = found;
    else
      x->parent[group_root(x->parent, found)] = group_root(x->parent, first);
  }
  free(buf);
  return st;
}

/* The zip groups, from both sections; zipped axes must have equal lengths. */
static ap_status zip_axes(Axes *x, const IniIndex *si, const char *sub, ApError *err) {
  ap_status st = AP_OK;
  for (int a = 0; a < x->n; a++) x->parent[a] = a;
  for (int pass = 0; pass < 2 && !st; pass++) {
    const char *section = pass == 0 ? "sweep" : sub;
    if (!section) break;
    int lo, hi;
    ini_index_range(si, section, &lo, &hi);
    for (int q = lo; q < hi && !st; q++) {
      const IniEntry *e = &si->ini->e[si->idx[q]];
      if (!strcmp(e->key, "zip")) st = zip_one(x, e, err);
    }
  }
  for (int a = 0; a < x->n && !st; a++) {
    int r = group_root(x->parent, a);
    Axis *ax = &x->a[a], *root = &x->a[r];
    ax->group = r;
    if (ax->n != root->n)
      st = ap_fail(
          err, AP_ERR_CONFIG, "%s: %s has %d values but is zipped with %s (%s), which has %d",
          ax->entry->origin, ax->entry->key, ax->n, root->entry->key, root->entry->origin, root->n);
  }
  return st;
}

/* The groups in order of first appearance, the one holding seed last (varies fastest). */
static void order_groups(Axes *x) {
  int seed_group = -1;
  x->n_groups = 0;
  for (int a = 0; a < x->n; a++) {
    if (x->a[a].group != a) continue;
    int has_seed = 0;
    for (int b = 0; b < x->n; b++)
      if (x->a[b].group == a && !strcmp(x->a[b].entry->key, "seed")) has_seed = 1;
    if (has_seed)
      seed_group = a;
    else
      x->groups[x->n_groups++] = a;
  }
  if (seed_group >= 0) x->groups[x->n_groups++] = seed_group;
}

/* The sub-sweep's replicas (the product of its groups' lengths), refused beyond the
 * limit. */
static ap_status count_replicas(const Axes *x, const ApExperiment *ex, long long *count,
                                ApError *err) {
  *count = 1;
  for (int g = 0; g < x->n_groups; g++) {
    const Axis *ax = &x->a[x->groups[g]];
    *count *= ax->n; /* each factor <= 1e6 and the product stays <= 1e7 here */
    if ((long long)ex->n_replicas + *count > g_max_replicas)
      return ap_fail(err, AP_ERR_CONFIG, "%s: the sweep expands to more than %d replicas",
                     ax->entry->origin, g_max_replicas);
  }
  return AP_OK;
}

/* Room in ex->replicas (capacity *cap) for count more, refused where their parameters
 * alone would take most of the memory available. */
static ap_status make_room(ApExperiment *ex, long long count, size_t *cap, ApError *err) {
  size_t psz = ex->model->params_size;
  if ((size_t)ex->n_replicas + (size_t)count <= *cap) return AP_OK;
  size_t want = ((size_t)ex->n_replicas + (size_t)count) * 2, avail = mem_available();
  if (avail && (double)want * (double)psz > 0.8 * (double)avail) {
    char need[32], have[32];
    mem_format(need, sizeof need, (double)want * (double)psz);
    mem_format(have, sizeof have, (double)avail);
    return ap_fail(err, AP_ERR_OSERR,
                   "the sweep's %lld replicas need %s for their parameters alone; %s are "
                   "available",
                   (long long)ex->n_replicas + count, need, have);
  }
  unsigned char *p = realloc(ex->replicas, want * psz);
  if (!p)
    return ap_fail(err, AP_ERR_OSERR, "out of memory for %lld replicas (%.1f MB of parameters)",
                   count, (double)want * (double)psz / 1e6);
  ex->replicas = p, *cap = want;
  return AP_OK;
}

/* The cross product's count replicas, appended: ex->base with each group's pick. */
static void append_replicas(ApExperiment *ex, const Axes *x, long long count) {
  size_t psz = ex->model->params_size;
  for (long long r = 0; r < count; r++) {
    unsigned char *p = ex->replicas + (size_t)ex->n_replicas * psz;
    memcpy(p, ex->base, psz);
    long long rest = r;
    for (int g = x->n_groups - 1; g >= 0; g--) {
      int n = x->a[x->groups[g]].n, pick = (int)(rest % n);
      rest /= n;
      for (int a = 0; a < x->n; a++)
        if (x->a[a].group == x->groups[g]) {
          size_t sz = key_size(x->a[a].key);
          memcpy(p + x->a[a].key->offset, x->a[a].values + (size_t)pick * sz, sz);
        }
    }
    ex->n_replicas++;
  }
}

/* One sub-sweep: the common [sweep] axes plus those of [sweep.NAME] (sub == NULL: only
 * the common ones). Appends its replicas to ex->replicas. */
static ap_status expand(ApExperiment *ex, const IniIndex *si, const char *sub, size_t *cap,
                        ApError *err) {
  Axes x;
  memset(&x, 0, sizeof x);
  void *scratch = malloc(ex->model->params_size);
  if (!scratch) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  long long count = 0;
  ap_status st = parse_axes(&x, ex, si, sub, scratch, err);
  if (!st) st = zip_axes(&x, si, sub, err);
  if (!st) order_groups(&x);
  if (!st) st = count_replicas(&x, ex, &count, err);
  if (!st) st = make_room(ex, count, cap, err);
  if (!st) append_replicas(ex, &x, count);
  for (int a = 0; a < x.n && !st; a++) note_swept(ex, x.a[a].entry->key);
  axes_free(x.a, x.n);
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

static ap_status expand_all(ApExperiment *ex, const IniIndex *si, ApError *err) {
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

ap_status sweep_expand(ApExperiment *ex, const Ini *ini, ApError *err) {
  IniIndex si;
  ap_status st = ini_index(&si, ini, err);
  if (st) return st;
  st = expand_all(ex, &si, err);
  ini_index_free(&si);
  return st;
}
