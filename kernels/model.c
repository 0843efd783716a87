/* The model registry and the layout helpers every model's layout function uses. */
#include "model.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* A new model: its folder under kernels/ and one line here. */
// clang-format off
#define AP_MODELS(X)                                                                               \
  X(mc_model) /* kernels/mc: the dendritic cortical microcircuit */                                \
  X(ms_model) /* kernels/mstdp: the MSTDP energy network */                                       \
  X(ls_model) /* kernels/lif: LIF assemblies with STDP and top-down input */
// clang-format on

#define DECLARE(m) extern const ApModel m;
AP_MODELS(DECLARE)
#undef DECLARE
#define ENTRY(m) &m,
static const ApModel *const models[] = {AP_MODELS(ENTRY)};
#undef ENTRY

int ap_model_count(void) { return (int)(sizeof models / sizeof models[0]); }

const ApModel *ap_model_at(int i) { return i >= 0 && i < ap_model_count() ? models[i] : NULL; }

const ApModel *ap_model_find(const char *name) {
  for (int i = 0; i < ap_model_count(); i++)
    if (!strcmp(models[i]->name, name)) return models[i];
  return NULL;
}

const ApField *ap_layout_field(const ApLayout *lay, const char *name) {
  for (int i = 0; i < lay->n_fields; i++)
    if (!strcmp(lay->field[i].name, name)) return &lay->field[i];
  return NULL;
}

const ApSeries *ap_layout_series(const ApLayout *lay, const char *name) {
  for (int i = 0; i < lay->n_series; i++)
    if (!strcmp(lay->series[i].name, name)) return &lay->series[i];
  return NULL;
}

long ap_layout_weights(const ApLayout *lay) {
  long n = 0;
  for (int i = 0; i < lay->n_fields; i++)
    if (lay->field[i].kind == AP_FIELD_WEIGHT)
      n += (long)lay->field[i].shape[0] * (lay->field[i].shape[1] > 0 ? lay->field[i].shape[1] : 1);
  return n;
}

ap_status ap_layout_add_field(ApLayout *lay, const char *name, int rows, int cols, ApFieldKind kind,
                              const char *help) {
  if (lay->n_fields == AP_MAX_FIELDS || strlen(name) >= AP_NAME_MAX) return AP_ERR_SOFTWARE;
  long long floats = (long long)rows * (cols > 0 ? cols : 1);
  if (rows < 0 || cols < 0 || floats > INT_MAX - (long long)lay->n_floats)
    return AP_ERR_CONFIG; /* a replica's state counts its floats in an int */
  ApField *f = &lay->field[lay->n_fields++];
  snprintf(f->name, sizeof f->name, "%s", name);
  f->offset = lay->n_floats;
  f->rank = cols > 0 ? 2 : 1;
  f->shape[0] = rows;
  f->shape[1] = cols > 0 ? cols : 1;
  f->kind = kind;
  f->help = help;
  lay->n_floats += f->shape[0] * f->shape[1];
  return AP_OK;
}

ap_status ap_layout_add_series(ApLayout *lay, const char *name, int n, const char *help) {
  if (lay->n_series == AP_MAX_SERIES || strlen(name) >= AP_NAME_MAX) return AP_ERR_SOFTWARE;
  if (n < 0 || (n > 0 ? n : 1) > INT_MAX - lay->series_width) return AP_ERR_CONFIG;
  ApSeries *s = &lay->series[lay->n_series++];
  snprintf(s->name, sizeof s->name, "%s", name);
  s->offset = lay->series_width;
  s->rank = n > 0 ? 1 : 0;
  s->shape[0] = n > 0 ? n : 1;
  s->shape[1] = 1;
  s->help = help;
  lay->series_width += s->shape[0];
  return AP_OK;
}
