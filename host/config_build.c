/* An experiment from a parsed file: the model, its keys and the host's checked and
 * applied, the dataset's shape against the network's, the replica set expanded
 * (sweep_expand.c) and checked by the model. */
#include "config.h"

#include "host/config_keys.h"
#include "host/sweep_expand.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

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
        if (config_is_sweep_section(ini->e[j].section) && !strcmp(ini->e[j].key, k->name))
          e = &ini->e[j];
      if (e) first = at, origin = e->origin;
      break;
    }
  }
  const char *ep = strstr(msg, "epochs = "); /* the host's key of the run's length */
  if (ep && (!first || ep < first) && ini_find(ini, "train", "epochs"))
    origin = ini_find(ini, "train", "epochs")->origin;
  return origin;
}

/* The model first: it owns the [model] keys. Its defaults into ex->base; *me: the file's
 * model entry. */
static ap_status find_model(ApExperiment *ex, const Ini *ini, const char *source,
                            const IniEntry **me, ApError *err) {
  char models[256];
  model_list(models, sizeof models);
  if (!(*me = ini_find(ini, "experiment", "model"))) {
    int any = 0;
    for (int i = 0; i < ini->n; i++) any |= !strcmp(ini->e[i].section, "experiment");
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: %s (every experiment names its model, e.g. [experiment] "
                   "model = %s; apical models lists them: %s)",
                   source, any ? "[experiment] has no model key" : "no [experiment] section",
                   ap_model_at(0)->name, models);
  }
  ap_status st =
      key_apply(key_find(NULL, "experiment", "model").k, (*me)->value, ex, (*me)->origin, err);
  if (st) return st;
  if (!(ex->model = ap_model_find(ex->model_name)))
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: model = %s: unknown model (apical models lists them: %s)", (*me)->origin,
                   ex->model_name, models);
  if (!(ex->base = malloc(ex->model->params_size)))
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  ex->model->defaults(ex->base);
  return AP_OK;
}

/* Sections and keys must be known. */
static ap_status check_known(const ApModel *m, const Ini *ini, ApError *err) {
  for (int i = 0; i < ini->n; i++) {
    const IniEntry *e = &ini->e[i];
    if (config_is_sweep_section(e->section) || key_find(m, e->section, e->key).k) continue;
    int known_section = 0;
    for (int s = 0; s < CONFIG_N_SECTIONS; s++)
      known_section |= !strcmp(config_sections[s], e->section);
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
  return AP_OK;
}

/* The file's values (me, the model's entry, is applied already): lists that size others
 * (dims) first, then the rest in file order. */
static ap_status apply_keys(ApExperiment *ex, const Ini *ini, const IniEntry *me,
                            const char *source, ApError *err) {
  const ApModel *m = ex->model;
  const char *shape_origin = "[model]";
  ap_status st;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < ini->n; i++) {
      const IniEntry *e = &ini->e[i];
      if (config_is_sweep_section(e->section) || e == me) continue;
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
  return AP_OK;
}

/* The dataset: one the model takes, with only the [data] keys it reads, and a shape that
 * fits the network where it is known now. */
static ap_status check_dataset(const ApExperiment *ex, const Ini *ini, const char *source,
                               ApError *err) {
  const ApModel *m = ex->model;
  const IniEntry *de = ini_find(ini, "experiment", "dataset");
  const char *d_origin = de ? de->origin : source;
  if (!m->io) {
    if (de || ini_find(ini, "data", "train_images"))
      return ap_fail(err, AP_ERR_CONFIG, "%s: model %s takes no dataset", d_origin, m->name);
    return AP_OK;
  }
  if (strcmp(ex->dataset, "bars") && strcmp(ex->dataset, "idx") && strcmp(ex->dataset, "random"))
    return ap_fail(err, AP_ERR_CONFIG, "%s: dataset = %s: expected bars, idx or random", d_origin,
                   ex->dataset);
  for (int i = 0; i < ini->n; i++)
    if (!strcmp(ini->e[i].section, "data") && !config_data_key_used(ex->dataset, ini->e[i].key))
      return ap_fail(err, AP_ERR_CONFIG, "%s: [data] %s is not read by dataset %s",
                     ini->e[i].origin, ini->e[i].key, ex->dataset);
  int n_in, n_classes, want_in, want_out;
  m->io(ex->base, &want_in, &want_out);
  if (data_shape(ex, &n_in, &n_classes) && (want_in != n_in || want_out < n_classes))
    return ap_fail(err, AP_ERR_CONFIG,
                   "%s: dataset %s has %d inputs and %d classes: the network takes %d "
                   "inputs and has %d outputs (the [model] keys set them: apical models %s)",
                   d_origin, ex->dataset, n_in, n_classes, want_in, want_out, m->name);
  return AP_OK;
}

/* Every replica through the model's checks, a refusal pointing at the key it names. */
static ap_status check_replicas(const ApExperiment *ex, const Ini *ini, const char *source,
                                ApError *err) {
  const ApModel *m = ex->model;
  for (int r = 0; r < ex->n_replicas; r++) {
    ApError why = {{0}};
    if (m->check(config_params(ex, r), NULL, &why) ||
        (m->check_records && m->check_records(config_params(ex, r), ex->epochs, &why)))
      return ap_fail(err, AP_ERR_CONFIG, "%s: replica %d: %s",
                     check_origin(ini, m, why.msg, source), r, why.msg);
  }
  return AP_OK;
}

/* The file as read, and the sweep sections as given (for the dump). */
static ap_status keep_text(ApExperiment *ex, const Ini *ini, ApError *err) {
  ex->file_text = strdup(ini->text ? ini->text : "");
  size_t len = 1;
  for (int i = 0; i < ini->n; i++)
    if (config_is_sweep_section(ini->e[i].section))
      len += strlen(ini->e[i].section) + strlen(ini->e[i].key) + strlen(ini->e[i].value) + 16;
  ex->sweep_text = calloc(len, 1);
  if (!ex->file_text || !ex->sweep_text) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  char last[64] = "";
  size_t used = 0;
  for (int i = 0; i < ini->n; i++) {
    const IniEntry *e = &ini->e[i];
    if (!config_is_sweep_section(e->section)) continue;
    if (strcmp(last, e->section)) {
      used += (size_t)snprintf(ex->sweep_text + used, len - used, "\n[%s]\n", e->section);
      snprintf(last, sizeof last, "%s", e->section);
    }
    used += (size_t)snprintf(ex->sweep_text + used, len - used, "%s = %s\n", e->key, e->value);
  }
  return AP_OK;
}

static ap_status build(ApExperiment *ex, const Ini *ini, const char *source, ApError *err) {
  memset(ex, 0, sizeof *ex);
  config_host_defaults(ex);
  snprintf(ex->source, sizeof ex->source, "%s", source);
  const char *base = strrchr(source, '/');
  base = base ? base + 1 : source;
  snprintf(ex->name, sizeof ex->name, "%.*s", (int)strcspn(base, "."), base);
  const IniEntry *me;
  ap_status st;
  if ((st = find_model(ex, ini, source, &me, err)) || (st = check_known(ex->model, ini, err)) ||
      (st = apply_keys(ex, ini, me, source, err)) || (st = check_dataset(ex, ini, source, err)))
    return st;
  if ((st = ex->model->layout(ex->base, &ex->layout, err))) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    return ap_fail(err, st, "%s: %s", check_origin(ini, ex->model, msg, source), msg);
  }
  if ((st = sweep_expand(ex, ini, err)) || (st = check_replicas(ex, ini, source, err))) return st;
  ex->n_total = ex->n_replicas;
  return keep_text(ex, ini, err);
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
