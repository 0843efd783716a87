#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
  K_INT,
  K_U64,
  K_DOUBLE,
  K_BOOL,
  K_STRING,
  K_VARIANT, /* original | le */
  K_DIMS,
  K_LIST_L, /* one double per weight layer */
  K_LIST_H  /* one double per hidden layer */
} KeyType;

typedef struct KeyDef {
  const char *section, *name;
  KeyType type;
  int per_replica; /* a McParams field: sweepable */
  size_t offset;   /* into McParams (per_replica) or ApExperiment */
  size_t size;     /* for strings */
  double min, max;
  int min_open; /* the minimum itself is not allowed */
  const char *help;
} KeyDef;

#define EX(f) 0, offsetof(ApExperiment, f), sizeof(((ApExperiment *)0)->f)
#define MP(f) 1, offsetof(McParams, f), 0
#define BIG 1e300

static const KeyDef keys[] = {
    {"experiment", "name", K_STRING, EX(name), 0, 0, 0, "name of the run (default: the file's name)"},
    {"experiment", "model", K_STRING, EX(model), 0, 0, 0, "model family: microcircuit"},
    {"experiment", "dataset", K_STRING, EX(dataset), 0, 0, 0, "bars | idx (MNIST format) | random"},
    {"data", "train_images", K_STRING, EX(train_images), 0, 0, 0,
     "IDX training images (raw or .gz); default $APICAL_MNIST_DIR/train-images-idx3-ubyte.gz"},
    {"data", "train_labels", K_STRING, EX(train_labels), 0, 0, 0, "IDX training labels"},
    {"data", "test_images", K_STRING, EX(test_images), 0, 0, 0, "IDX validation/test images"},
    {"data", "test_labels", K_STRING, EX(test_labels), 0, 0, 0, "IDX validation/test labels"},
    {"data", "max_train", K_INT, EX(max_train), 0, 1e9, 0, "use at most this many training samples (0: all)"},
    {"data", "max_val", K_INT, EX(max_val), 0, 1e9, 0, "use at most this many test samples (0: all)"},
    {"data", "random_samples", K_INT, EX(random_samples), 1, 1e7, 0, "samples of the random dataset"},
    {"data", "random_seed", K_U64, EX(random_seed), 0, BIG, 0, "seed of the random dataset"},
    {"train", "epochs", K_INT, EX(epochs), 1, 1e9, 0, "epochs (training phase + validation phase)"},
    {"train", "teacher", K_BOOL, EX(teacher), 0, 1, 0, "nudge the output towards the target while training"},
    {"train", "learning", K_BOOL, EX(learning), 0, 1, 0, "plasticity on while training"},
    {"train", "val_samples", K_INT, EX(val_samples), -1, 1e9, 0,
     "validation samples per epoch, drawn without replacement (-1: all; 0: no validation)"},
    {"train", "reset_between_samples", K_BOOL, EX(reset_between_samples), 0, 1, 0,
     "zero all potentials at each sample's start (the thesis' NEST model; reference: false)"},
    {"output", "checkpoint_every", K_INT, EX(checkpoint_every), 0, 1e9, 0,
     "write a checkpoint and the results every N epochs (0: only at the end)"},
    {"output", "keep_checkpoints", K_INT, EX(keep_checkpoints), 1, 1e6, 0,
     "checkpoints kept on disk (the epoch-0 one holds the initial weights)"},
    {"output", "record_order", K_BOOL, EX(record_order), 0, 1, 0,
     "store every replica's sample order in the results (/recordings)"},
    {"model", "dims", K_DIMS, EX(dims), 1, 100000, 0, "layer sizes, input to output (e.g. 9, 30, 3)"},
    {"model", "seed", K_U64, MP(seed), 0, BIG, 0, "seed of weight init and sample order"},
    {"model", "variant", K_VARIANT, MP(variant), 0, 1, 0, "original (Sacramento 2018) | le (latent equilibrium)"},
    {"model", "t_pres", K_INT, MP(t_pres), 1, 1e8, 0, "presentation time per sample, in steps of dt"},
    {"model", "out_lag", K_INT, MP(out_lag), 0, 1e8, 0, "steps into a sample before the readout averages"},
    {"model", "dt", K_DOUBLE, MP(dt), 0, BIG, 1, "time step"},
    {"model", "tau0", K_DOUBLE, MP(tau0), 0, BIG, 1, "input and target low-pass time constant"},
    {"model", "gl", K_DOUBLE, MP(gl), 0, BIG, 0, "leak conductance"},
    {"model", "gb", K_DOUBLE, MP(gb), 0, BIG, 1, "basal (and interneuron dendrite) coupling"},
    {"model", "ga", K_DOUBLE, MP(ga), 0, BIG, 0, "apical coupling"},
    {"model", "gsom", K_DOUBLE, MP(gsom), 0, BIG, 0, "somatic nudging conductance (target, sister)"},
    {"model", "gd", K_DOUBLE, MP(gd), 0, BIG, 1, "interneuron dendrite conductance in the self-predicting init"},
    {"model", "eta_up", K_LIST_L, MP(eta_up), 0, BIG, 0, "learning rates of W_up, one per weight layer"},
    {"model", "eta_ip", K_LIST_H, MP(eta_ip), 0, BIG, 0, "learning rates of W_ip, one per hidden layer"},
    {"model", "eta_pi", K_LIST_H, MP(eta_pi), 0, BIG, 0, "learning rates of W_pi, one per hidden layer"},
    {"model", "w_max_hidden", K_DOUBLE, MP(w_max_hidden), 0, BIG, 1, "clip of hidden W_up"},
    {"model", "w_max_out", K_DOUBLE, MP(w_max_out), 0, BIG, 1, "clip of output W_up"},
    {"model", "init_scale", K_DOUBLE, MP(init_scale), 0, BIG, 0, "weights start in U(-s, s)"},
    {"model", "init_selfpred", K_BOOL, MP(init_selfpred), 0, 1, 0, "start in the self-predicting state"},
    {"model", "phi_gamma", K_DOUBLE, MP(phi_gamma), 0, BIG, 1, "φ = γ log(1 + exp(β (u - θ)))"},
    {"model", "phi_beta", K_DOUBLE, MP(phi_beta), 0, BIG, 1, "see phi_gamma"},
    {"model", "phi_theta", K_DOUBLE, MP(phi_theta), -BIG, BIG, 0, "see phi_gamma"},
    {"model", "u_high", K_DOUBLE, MP(u_high), -BIG, BIG, 0, "target potential of the true class"},
    {"model", "u_low", K_DOUBLE, MP(u_low), -BIG, BIG, 0, "target potential of the other classes"},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static const KeyDef *key_find(const char *section, const char *name) {
  for (size_t i = 0; i < N_KEYS; i++)
    if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) return &keys[i];
  return NULL;
}

static const char *type_name(KeyType t) {
  switch (t) {
  case K_INT: return "integer";
  case K_U64: return "integer >= 0";
  case K_DOUBLE: return "number";
  case K_BOOL: return "true|false";
  case K_STRING: return "text";
  case K_VARIANT: return "original|le";
  case K_DIMS: return "integer list";
  case K_LIST_L:
  case K_LIST_H: return "number list";
  }
  return "?";
}

/* ---- value parsing ------------------------------------------------------------------ */

static char *strip(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static ap_status range_check(const KeyDef *k, double v, const char *origin, const char *text,
                             ApError *err) {
  int low = k->min_open ? v <= k->min : v < k->min;
  if (low || v > k->max) {
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%g", k->min);
    snprintf(hi, sizeof hi, "%g", k->max);
    if (k->max >= BIG)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: must be %s %s", origin, k->name, text,
                     k->min_open ? ">" : ">=", lo);
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: must be in [%s, %s]", origin, k->name, text,
                   lo, hi);
  }
  return AP_OK;
}

static ap_status parse_number(const KeyDef *k, const char *text, double *out, int integer,
                              const char *origin, ApError *err) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", text);
  char *s = strip(buf), *end;
  errno = 0;
  double v = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
  if (!*s || *strip(end) || errno == ERANGE || !isfinite(v))
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: expected %s", origin, k->name, text,
                   integer ? "an integer" : "a number");
  *out = v;
  return range_check(k, v, origin, s, err);
}

/* Splits "a, b, [c, d]" at top-level commas into items (brackets kept). */
static int split_items(char *s, char **items, int max) {
  int n = 0, depth = 0;
  char *start = s;
  for (char *p = s;; p++) {
    if (*p == '[') depth++;
    if (*p == ']') depth--;
    if ((*p == ',' && depth == 0) || *p == '\0') {
      int end = *p == '\0';
      *p = '\0';
      if (n < max) items[n] = strip(start);
      n++;
      if (end) break;
      start = p + 1;
    }
  }
  return n;
}

/* Applies one value of key k to params (per_replica keys) or ex. */
static ap_status apply_value(const KeyDef *k, const char *text, ApExperiment *ex, McParams *p,
                             const char *origin, ApError *err) {
  char *base = k->per_replica ? (char *)p : (char *)ex;
  void *field = base + k->offset;
  double v;
  ap_status st;
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", text);
  char *s = strip(buf);
  switch (k->type) {
  case K_INT:
    if ((st = parse_number(k, s, &v, 1, origin, err))) return st;
    *(int *)field = (int)v;
    return AP_OK;
  case K_U64: {
    char *end;
    errno = 0;
    if (!*s || *s == '-' || !isdigit((unsigned char)*s))
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: expected an integer >= 0", origin, k->name, s);
    unsigned long long u = strtoull(s, &end, 10);
    if (*strip(end) || errno == ERANGE)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: expected an integer >= 0", origin, k->name, s);
    *(uint64_t *)field = (uint64_t)u;
    return AP_OK;
  }
  case K_DOUBLE:
    if ((st = parse_number(k, s, &v, 0, origin, err))) return st;
    *(double *)field = v;
    return AP_OK;
  case K_BOOL: {
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
      if (!strcmp(s, yes[i])) return *(int *)field = 1, AP_OK;
      if (!strcmp(s, no[i])) return *(int *)field = 0, AP_OK;
    }
    return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: expected true or false", origin, k->name, s);
  }
  case K_STRING:
    if (strlen(s) >= k->size)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s: value longer than %zu characters", origin,
                     k->name, k->size - 1);
    snprintf((char *)field, k->size, "%s", s);
    return AP_OK;
  case K_VARIANT:
    if (!strcmp(s, "original")) return *(int *)field = MC_ORIGINAL, AP_OK;
    if (!strcmp(s, "le")) return *(int *)field = MC_LE, AP_OK;
    return ap_fail(err, AP_ERR_CONFIG, "%s: variant = %s: expected original or le", origin, s);
  case K_DIMS:
  case K_LIST_L:
  case K_LIST_H: {
    if (*s == '[') {
      size_t n = strlen(s);
      if (s[n - 1] != ']')
        return ap_fail(err, AP_ERR_CONFIG, "%s: %s = %s: unclosed '['", origin, k->name, s);
      s[n - 1] = '\0';
      s++;
    }
    char *items[MC_MAX_LAYERS + 2];
    int n = split_items(s, items, MC_MAX_LAYERS + 2);
    if (k->type == K_DIMS) {
      if (n < 2 || n > MC_MAX_LAYERS + 1)
        return ap_fail(err, AP_ERR_CONFIG, "%s: dims needs 2 to %d layer sizes, got %d", origin,
                       MC_MAX_LAYERS + 1, n);
      McDims d = {.n_layers = n - 1};
      for (int i = 0; i < n; i++) {
        if ((st = parse_number(k, items[i], &v, 1, origin, err))) return st;
        d.n[i] = (int)v;
      }
      *(McDims *)field = d;
      return AP_OK;
    }
    int want = k->type == K_LIST_L ? ex->dims.n_layers : ex->dims.n_layers - 1;
    if (n != want)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s needs %d value%s (one per %s layer of dims), got %d",
                     origin, k->name, want, want == 1 ? "" : "s",
                     k->type == K_LIST_L ? "weight" : "hidden", n);
    double *out = field;
    for (int i = 0; i < n; i++) {
      if ((st = parse_number(k, items[i], &v, 0, origin, err))) return st;
      out[i] = v;
    }
    for (int i = n; i < MC_MAX_LAYERS; i++) out[i] = 0.0;
    return AP_OK;
  }
  }
  return ap_fail(err, AP_ERR_SOFTWARE, "unhandled key type");
}

/* ---- sweeps ----------------------------------------------------------------------- */

typedef struct Axis {
  const KeyDef *key;
  const IniEntry *entry;
  char **items; /* each its own allocation */
  int n;
  int group;
} Axis;

static void axes_free(Axis *axes, int n) {
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < axes[i].n; k++) free(axes[i].items[k]);
    free(axes[i].items);
    axes[i].items = NULL;
    axes[i].n = 0;
  }
}

static ap_status axis_push(Axis *a, const char *item, int *cap, ApError *err) {
  if (a->n == *cap) {
    *cap = *cap ? 2 * *cap : 16;
    char **items = realloc(a->items, (size_t)*cap * sizeof *items);
    if (!items) return ap_fail(err, AP_ERR_OSERR, "out of memory");
    a->items = items;
  }
  if (!(a->items[a->n] = strdup(item))) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  a->n++;
  return AP_OK;
}

/* The values of one swept key; integer ranges "a..b" expand to a, a+1, ..., b. */
static ap_status axis_parse(Axis *a, const IniEntry *e, ApError *err) {
  a->entry = e;
  a->key = key_find("model", e->key);
  if (!a->key)
    return ap_fail(err, AP_ERR_CONFIG, "%s: [%s] %s: not a [model] key, so it cannot be swept",
                   e->origin, e->section, e->key);
  if (a->key->type == K_DIMS)
    return ap_fail(err, AP_ERR_CONFIG, "%s: dims cannot be swept (run one file per network size)",
                   e->origin);
  char buf[sizeof e->value];
  snprintf(buf, sizeof buf, "%s", e->value);
  char *raw[512];
  int n = split_items(buf, raw, 512), cap = 0;
  if (n > 512) return ap_fail(err, AP_ERR_CONFIG, "%s: %s: more than 512 items", e->origin, e->key);
  ap_status st = AP_OK;
  for (int i = 0; i < n && !st; i++) {
    char *dots = strstr(raw[i], "..");
    if (!*raw[i]) return ap_fail(err, AP_ERR_CONFIG, "%s: %s: empty item in list", e->origin, e->key);
    if (!dots) {
      st = axis_push(a, raw[i], &cap, err);
      continue;
    }
    char *end1, *end2;
    long long lo = strtoll(raw[i], &end1, 10), hi = strtoll(dots + 2, &end2, 10);
    if (a->key->type != K_INT && a->key->type != K_U64)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s: ranges (a..b) only for integer keys", e->origin, e->key);
    if (end1 != dots || *strip(end2) || hi < lo || hi - lo >= 1000000)
      return ap_fail(err, AP_ERR_CONFIG, "%s: %s: bad range '%s'", e->origin, e->key, raw[i]);
    for (long long v = lo; v <= hi && !st; v++) {
      char num[32];
      snprintf(num, sizeof num, "%lld", v);
      st = axis_push(a, num, &cap, err);
    }
  }
  return st;
}

static int group_root(int *parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

static int is_sweep_section(const char *s) { return !strcmp(s, "sweep") || !strncmp(s, "sweep.", 6); }

static void note_swept(ApExperiment *ex, const char *key) {
  for (int i = 0; i < ex->n_swept; i++)
    if (!strcmp(ex->swept[i], key)) return;
  if (ex->n_swept < AP_MAX_SWEPT) snprintf(ex->swept[ex->n_swept++], 64, "%s", key);
}

/* One sub-sweep: the common [sweep] axes plus those of [sweep.NAME] (sub == NULL: only
 * the common ones). Appends its replicas to ex->replicas. */
static ap_status expand(ApExperiment *ex, const Ini *ini, const char *sub, int *cap,
                        ApError *err) {
  enum { MAXA = 64 };
  Axis axes[MAXA];
  int n_axes = 0, parent[MAXA];
  ap_status st = AP_OK;
  memset(axes, 0, sizeof axes);
  for (int pass = 0; pass < 2 && !st; pass++) {
    const char *section = pass == 0 ? "sweep" : sub;
    if (!section) break;
    for (int i = 0; i < ini->n && !st; i++) {
      const IniEntry *e = &ini->e[i];
      if (strcmp(e->section, section) || !strcmp(e->key, "zip")) continue;
      int slot = n_axes;
      for (int a = 0; a < n_axes; a++)
        if (!strcmp(axes[a].entry->key, e->key)) slot = a; /* [sweep.X] overrides [sweep] */
      if (slot == MAXA) {
        st = ap_fail(err, AP_ERR_CONFIG, "%s: more than %d swept keys", e->origin, MAXA);
        break;
      }
      if (slot < n_axes) axes_free(&axes[slot], 1);
      memset(&axes[slot], 0, sizeof axes[slot]);
      st = axis_parse(&axes[slot], e, err);
      if (slot == n_axes) n_axes++;
    }
  }
  for (int a = 0; a < n_axes; a++) parent[a] = a;
  /* zip groups, from both sections */
  for (int pass = 0; pass < 2 && !st; pass++) {
    const char *section = pass == 0 ? "sweep" : sub;
    if (!section) break;
    for (int i = 0; i < ini->n && !st; i++) {
      const IniEntry *e = &ini->e[i];
      if (strcmp(e->section, section) || strcmp(e->key, "zip")) continue;
      char buf[1024];
      snprintf(buf, sizeof buf, "%s", e->value);
      int first = -1;
      for (char *tok = strtok(buf, " \t,"); tok && !st; tok = strtok(NULL, " \t,")) {
        int found = -1;
        for (int a = 0; a < n_axes; a++)
          if (!strcmp(axes[a].entry->key, tok)) found = a;
        if (found < 0) {
          st = ap_fail(err, AP_ERR_CONFIG, "%s: zip names '%s', which is not swept here", e->origin, tok);
          break;
        }
        if (first < 0) first = found;
        else parent[group_root(parent, found)] = group_root(parent, first);
      }
    }
  }
  /* zipped axes must have equal lengths */
  for (int a = 0; a < n_axes && !st; a++) {
    int r = group_root(parent, a);
    axes[a].group = r;
    if (axes[a].n != axes[r].n)
      st = ap_fail(err, AP_ERR_CONFIG, "%s: %s has %d values but is zipped with %s (%s), which has %d",
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
    if (has_seed) seed_group = a;
    else groups[n_groups++] = a;
  }
  if (seed_group >= 0) groups[n_groups++] = seed_group;
  long long count = 1;
  for (int g = 0; g < n_groups; g++) count *= axes[groups[g]].n;
  if (!st && (long long)ex->n_replicas + count > 10000000)
    st = ap_fail(err, AP_ERR_CONFIG, "the sweep expands to more than 10 million replicas");
  if (!st && ex->n_replicas + count > *cap) {
    int want = (int)(ex->n_replicas + count) * 2;
    McParams *p = realloc(ex->replicas, (size_t)want * sizeof *p);
    if (!p) st = ap_fail(err, AP_ERR_OSERR, "out of memory for %lld replicas", count);
    else ex->replicas = p, *cap = want;
  }
  for (long long r = 0; r < count && !st; r++) {
    McParams p = ex->base;
    long long rest = r;
    for (int g = n_groups - 1; g >= 0 && !st; g--) {
      int n = axes[groups[g]].n, pick = (int)(rest % n);
      rest /= n;
      for (int a = 0; a < n_axes && !st; a++)
        if (axes[a].group == groups[g])
          st = apply_value(axes[a].key, axes[a].items[pick], ex, &p, axes[a].entry->origin, err);
    }
    if (!st) ex->replicas[ex->n_replicas++] = p;
  }
  for (int a = 0; a < n_axes && !st; a++) note_swept(ex, axes[a].entry->key);
  axes_free(axes, n_axes);
  return st;
}

static ap_status expand_all(ApExperiment *ex, const Ini *ini, ApError *err) {
  int cap = 0;
  ap_status st = AP_OK;
  int any_sub = 0;
  /* each [sweep.NAME] once, in order of first appearance */
  for (int i = 0; i < ini->n && !st; i++) {
    const char *s = ini->e[i].section;
    if (strncmp(s, "sweep.", 6)) continue;
    int seen = 0;
    for (int j = 0; j < i; j++)
      if (!strcmp(ini->e[j].section, s)) seen = 1;
    if (seen) continue;
    any_sub = 1;
    st = expand(ex, ini, s, &cap, err);
  }
  if (!st && !any_sub) st = expand(ex, ini, NULL, &cap, err);
  return st;
}

/* ---- building ---------------------------------------------------------------------- */

static void defaults(ApExperiment *ex) {
  snprintf(ex->model, sizeof ex->model, "microcircuit");
  snprintf(ex->dataset, sizeof ex->dataset, "bars");
  const char *dir = getenv("APICAL_MNIST_DIR");
  if (dir && *dir) {
    snprintf(ex->train_images, sizeof ex->train_images, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(ex->train_labels, sizeof ex->train_labels, "%s/train-labels-idx1-ubyte.gz", dir);
    snprintf(ex->test_images, sizeof ex->test_images, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(ex->test_labels, sizeof ex->test_labels, "%s/t10k-labels-idx1-ubyte.gz", dir);
  }
  ex->random_samples = 100;
  ex->random_seed = 1;
  ex->epochs = 100;
  ex->teacher = 1;
  ex->learning = 1;
  ex->val_samples = -1;
  ex->checkpoint_every = 100;
  ex->keep_checkpoints = 2;
  ex->dims.n_layers = 2;
  ex->dims.n[0] = 9, ex->dims.n[1] = 30, ex->dims.n[2] = 3;
  mc_params_default(&ex->base);
}

static ap_status check_replica(const ApExperiment *ex, const McParams *p, int r, ApError *err) {
  if (p->out_lag >= p->t_pres)
    return ap_fail(err, AP_ERR_CONFIG,
                   "replica %d: out_lag = %d must be smaller than t_pres = %d (the readout needs "
                   "at least one step)", r, p->out_lag, p->t_pres);
  (void)ex;
  return AP_OK;
}

ap_status config_build(ApExperiment *ex, const Ini *ini, const char *source, ApError *err) {
  memset(ex, 0, sizeof *ex);
  defaults(ex);
  snprintf(ex->source, sizeof ex->source, "%s", source);
  const char *base = strrchr(source, '/');
  base = base ? base + 1 : source;
  snprintf(ex->name, sizeof ex->name, "%.*s", (int)strcspn(base, "."), base);
  ap_status st = AP_OK;
  /* sections and keys must be known */
  for (int i = 0; i < ini->n; i++) {
    const IniEntry *e = &ini->e[i];
    if (is_sweep_section(e->section)) continue;
    if (!key_find(e->section, e->key)) {
      int known_section = 0;
      for (size_t k = 0; k < N_KEYS; k++) known_section |= !strcmp(keys[k].section, e->section);
      if (!known_section)
        return ap_fail(err, AP_ERR_CONFIG,
                       "%s: unknown section [%s] (known: experiment, data, train, model, output, "
                       "sweep, sweep.NAME)", e->origin, e->section);
      return ap_fail(err, AP_ERR_CONFIG, "%s: unknown key '%s' in [%s] (apical run --help lists "
                     "the keys)", e->origin, e->key, e->section);
    }
  }
  /* dims first: list lengths depend on it */
  const IniEntry *dims = ini_find(ini, "model", "dims");
  if (dims && (st = apply_value(key_find("model", "dims"), dims->value, ex, &ex->base, dims->origin, err)))
    return st;
  if (ex->dims.n_layers != 2) {
    if (!ini_find(ini, "model", "eta_up") || !ini_find(ini, "model", "eta_ip"))
      return ap_fail(err, AP_ERR_CONFIG, "%s: dims has %d weight layers: give eta_up (%d values) "
                     "and eta_ip (%d) in [model]", dims->origin, ex->dims.n_layers,
                     ex->dims.n_layers, ex->dims.n_layers - 1);
    memset(ex->base.eta_pi, 0, sizeof ex->base.eta_pi);
  }
  for (int i = 0; i < ini->n; i++) {
    const IniEntry *e = &ini->e[i];
    if (is_sweep_section(e->section) || !strcmp(e->key, "dims")) continue;
    if ((st = apply_value(key_find(e->section, e->key), e->value, ex, &ex->base, e->origin, err)))
      return st;
  }
  if (strcmp(ex->model, "microcircuit"))
    return ap_fail(err, AP_ERR_CONFIG, "[experiment] model = %s: only 'microcircuit' exists so far",
                   ex->model);
  if (strcmp(ex->dataset, "bars") && strcmp(ex->dataset, "idx") && strcmp(ex->dataset, "random"))
    return ap_fail(err, AP_ERR_CONFIG, "[experiment] dataset = %s: expected bars, idx or random",
                   ex->dataset);
  if (!strcmp(ex->dataset, "bars") && (ex->dims.n[0] != 9 || ex->dims.n[ex->dims.n_layers] != 3))
    return ap_fail(err, AP_ERR_CONFIG, "dataset bars needs dims starting with 9 and ending with 3");
  if ((st = mc_dims_check(&ex->dims, err))) return st;
  if ((st = expand_all(ex, ini, err))) return st;
  for (int r = 0; r < ex->n_replicas; r++)
    if ((st = check_replica(ex, &ex->replicas[r], r, err))) return st;
  ex->file_text = strdup(ini->text ? ini->text : "");
  /* the sweep as given, for the dump */
  size_t len = 1;
  for (int i = 0; i < ini->n; i++)
    if (is_sweep_section(ini->e[i].section))
      len += strlen(ini->e[i].section) + strlen(ini->e[i].key) + strlen(ini->e[i].value) + 16;
  ex->sweep_text = calloc(len, 1);
  if (!ex->file_text || !ex->sweep_text) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  char last[64] = "";
  for (int i = 0; i < ini->n; i++) {
    const IniEntry *e = &ini->e[i];
    if (!is_sweep_section(e->section)) continue;
    char *t = ex->sweep_text + strlen(ex->sweep_text);
    if (strcmp(last, e->section)) {
      t += sprintf(t, "\n[%s]\n", e->section);
      snprintf(last, sizeof last, "%s", e->section);
    }
    sprintf(t, "%s = %s\n", e->key, e->value);
  }
  return AP_OK;
}

void config_free(ApExperiment *ex) {
  free(ex->replicas);
  free(ex->file_text);
  free(ex->sweep_text);
  ex->replicas = NULL;
  ex->file_text = ex->sweep_text = NULL;
}

/* ---- printing ---------------------------------------------------------------------- */

/* The shortest %g form that reads back as the same double. */
static void fmt_double(char *out, size_t n, double v) {
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(out, n, "%.*g", prec, v);
    if (strtod(out, NULL) == v) return;
  }
}

static void format_value(const KeyDef *k, const ApExperiment *ex, const McParams *p, char *out,
                         size_t n) {
  const char *base = k->per_replica ? (const char *)p : (const char *)ex;
  const void *field = base + k->offset;
  size_t used = 0;
  switch (k->type) {
  case K_INT: snprintf(out, n, "%d", *(const int *)field); return;
  case K_U64: snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)field); return;
  case K_DOUBLE: fmt_double(out, n, *(const double *)field); return;
  case K_BOOL: snprintf(out, n, "%s", *(const int *)field ? "true" : "false"); return;
  case K_STRING: snprintf(out, n, "%s", (const char *)field); return;
  case K_VARIANT: snprintf(out, n, "%s", *(const int *)field == MC_LE ? "le" : "original"); return;
  case K_DIMS: {
    const McDims *d = field;
    out[0] = '\0';
    for (int i = 0; i <= d->n_layers && used < n; i++)
      used += (size_t)snprintf(out + used, n - used, "%s%d", i ? ", " : "", d->n[i]);
    return;
  }
  case K_LIST_L:
  case K_LIST_H: {
    int count = k->type == K_LIST_L ? ex->dims.n_layers : ex->dims.n_layers - 1;
    out[0] = '\0';
    for (int i = 0; i < count && used < n; i++) {
      char num[32];
      fmt_double(num, sizeof num, ((const double *)field)[i]);
      used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", num);
    }
    return;
  }
  }
}

char *config_dump(const ApExperiment *ex) {
  size_t cap = 8192 + (ex->sweep_text ? strlen(ex->sweep_text) : 0);
  char *out = malloc(cap);
  if (!out) return NULL;
  size_t used = 0;
  const char *section = "";
  for (size_t i = 0; i < N_KEYS; i++) {
    const KeyDef *k = &keys[i];
    char value[1024];
    format_value(k, ex, &ex->base, value, sizeof value);
    if (strcmp(section, k->section)) {
      used += (size_t)snprintf(out + used, cap - used, "%s[%s]\n", used ? "\n" : "", k->section);
      section = k->section;
    }
    used += (size_t)snprintf(out + used, cap - used, "%s = %s\n", k->name, value);
  }
  if (ex->sweep_text) snprintf(out + used, cap - used, "%s", ex->sweep_text);
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

void config_print_keys(FILE *f) {
  const char *section = "";
  for (size_t i = 0; i < N_KEYS; i++) {
    const KeyDef *k = &keys[i];
    if (strcmp(section, k->section)) {
      fprintf(f, "\n  [%s]%s\n", k->section,
              !strcmp(k->section, "model") ? "  (per replica; every key but dims can be swept)" : "");
      section = k->section;
    }
    fprintf(f, "    %-22s %-13s %s\n", k->name, type_name(k->type), k->help);
  }
  fprintf(f, "\n  [sweep] and [sweep.NAME]\n"
             "    KEY = v1, v2, ...      one axis per [model] key; integer ranges as a..b;\n"
             "                           list-valued keys take [x, y] items\n"
             "    zip = KEY KEY ...      these axes advance together (equal lengths)\n"
             "    Replicas = the cross product of the axes (seed varies fastest); each\n"
             "    [sweep.NAME] adds its own axes to those of [sweep], and the replica set is\n"
             "    the union over the [sweep.NAME] sections.\n");
}

void config_for_each_param(const ApExperiment *ex, ParamColumnFn fn, void *ctx) {
  int R = ex->n_replicas;
  for (size_t i = 0; i < N_KEYS; i++) {
    const KeyDef *k = &keys[i];
    if (!k->per_replica) continue;
    int width = k->type == K_LIST_L ? ex->dims.n_layers
                : k->type == K_LIST_H ? ex->dims.n_layers - 1 : 1;
    if (width == 0) continue;
    ParamKind kind = k->type == K_U64 ? PARAM_U64 : k->type == K_DOUBLE || width > 1 ||
                     k->type == K_LIST_L || k->type == K_LIST_H ? PARAM_DOUBLE : PARAM_INT;
    void *buf = malloc((size_t)R * (size_t)width * 8);
    if (!buf) continue;
    for (int r = 0; r < R; r++) {
      const char *f = (const char *)&ex->replicas[r] + k->offset;
      for (int w = 0; w < width; w++) {
        size_t at = (size_t)r * (size_t)width + (size_t)w;
        if (kind == PARAM_U64) ((uint64_t *)buf)[at] = *(const uint64_t *)f;
        else if (kind == PARAM_INT) ((int64_t *)buf)[at] = *(const int *)f;
        else ((double *)buf)[at] = ((const double *)f)[w];
      }
    }
    fn(ctx, k->name, kind, width, buf, k->type == K_VARIANT ? "0 = original, 1 = le" : k->help);
    free(buf);
  }
}

void config_format_param(const ApExperiment *ex, const McParams *p, const char *key, char *out,
                         size_t n) {
  const KeyDef *k = key_find("model", key);
  if (!k) snprintf(out, n, "?");
  else format_value(k, ex, p, out, n);
}
