/* An experiment as text: the effective configuration (the dump stored in every file and
 * compared on --resume and merge), the keys' help, and replicas' values for the results
 * file and the console. */
#include "config_keys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *config_dump(const ApExperiment *ex) {
  const ApModel *m = ex->model;
  size_t cap = 4096 + (ex->sweep_text ? strlen(ex->sweep_text) : 0), used = 0;
  char *out = malloc(cap), value[4096];
  if (!out) return NULL;
  out[0] = '\0';
  for (int s = 0; s < CONFIG_N_SECTIONS; s++) {
    const char *section = config_sections[s];
    int header = 0;
    for (int i = 0; i < config_n_host_keys + m->n_keys; i++) {
      int host = i < config_n_host_keys;
      const ApKey *k = host ? &config_host_keys[i] : &m->keys[i - config_n_host_keys];
      if (strcmp(k->section, section)) continue;
      if (host && !strcmp(section, "data") &&
          (!m->io || !config_data_key_used(ex->dataset, k->name)))
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
  snprintf(kind, sizeof kind, "%s%s", key_type_name(k),
           (k->flags & AP_KEY_FIXED) && !strcmp(k->section, "model") ? ", fixed" : "");
  if (defaults) key_format(k, defaults, value, sizeof value);
  snprintf(dflt, sizeof dflt, "%s%s%s", value[0] ? value : "-", unit ? " " : "",
           unit && strcmp(unit, "1") ? unit : "");
  fprintf(f, "    %-22s %-20s %-18s %s\n", k->name, kind, dflt, k->help);
}

void config_print_keys_markdown(FILE *f, const ApModel *m) {
  void *params = calloc(1, m->params_size);
  if (params) m->defaults(params);
  fprintf(
      f,
      "| key | section | type | default | unit | what |\n| --- | --- | --- | --- | --- | --- |\n");
  for (int s = 0; s < CONFIG_N_SECTIONS; s++)
    for (int i = 0; i < m->n_keys; i++) {
      const ApKey *k = &m->keys[i];
      if (strcmp(k->section, config_sections[s])) continue;
      char kind[64], value[160] = "";
      snprintf(kind, sizeof kind, "%s%s", key_type_name(k),
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
  if (hd) config_host_defaults(hd);
  fprintf(f, "\n  key                    type                 default            what "
             "(a number without a unit is dimensionless)\n");
  for (int s = 0; s < CONFIG_N_SECTIONS - 1; s++) {
    fprintf(f, "\n  [%s]\n", config_sections[s]);
    for (int i = 0; i < config_n_host_keys; i++)
      if (!strcmp(config_host_keys[i].section, config_sections[s]))
        print_key(f, &config_host_keys[i], hd, NULL);
  }
  free(hd);
  for (int mi = 0; mi < ap_model_count(); mi++) {
    const ApModel *m = ap_model_at(mi);
    if (model && m != model) continue;
    void *params = calloc(1, m->params_size);
    if (params) m->defaults(params);
    fprintf(f, "\n  model = %s: %s\n", m->name, m->summary);
    for (int s = 0; s < CONFIG_N_SECTIONS; s++) {
      int header = 0;
      for (int i = 0; i < m->n_keys; i++) {
        if (strcmp(m->keys[i].section, config_sections[s])) continue;
        if (!header)
          fprintf(f, "  [%s]%s\n", config_sections[s],
                  !strcmp(config_sections[s], "model")
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
