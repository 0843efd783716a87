#include "mc_model.h"

#include "ap_rng.h"
#include "mc_equations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(McParams) == 8 + 4 * sizeof(int) + (15 + 3 * MC_MAX_LAYERS) * sizeof(double),
               "McParams must have no padding (it is compared with memcmp)");

void mc_params_default(McParams *p) {
  memset(p, 0, sizeof *p);
  p->seed = 1;
  p->variant = MC_LE;
  p->t_pres = 100;
  p->out_lag = 0;
  p->dt = 0.1;
  p->tau0 = 0.1;
  p->gl = 0.03;
  p->gb = 0.1;
  p->ga = 0.06;
  p->gsom = 0.06;
  p->gd = 0.1;
  p->eta_up[0] = 0.05; /* 0.5 / t_pattern */
  p->eta_up[1] = 0.01; /* 0.1 / t_pattern */
  p->eta_ip[0] = 0.02; /* 0.2 / t_pattern */
  p->w_max_hidden = 4.0;
  p->w_max_out = 5.0;
  p->init_scale = 1.0;
  p->init_selfpred = 1;
  p->phi_gamma = 1.0;
  p->phi_beta = 1.0;
  p->phi_theta = 0.0;
  p->u_high = 1.0;
  p->u_low = 0.1;
}

ap_status mc_dims_check(const McDims *d, ApError *err) {
  if (d->n_layers < 1 || d->n_layers > MC_MAX_LAYERS)
    return ap_fail(err, AP_ERR_CONFIG, "dims needs 2 to %d entries, got %d", MC_MAX_LAYERS + 1,
                   d->n_layers + 1);
  for (int l = 0; l <= d->n_layers; l++)
    if (d->n[l] < 1 || d->n[l] > 100000)
      return ap_fail(err, AP_ERR_CONFIG, "dims[%d] = %d: must be in 1..100000", l, d->n[l]);
  return AP_OK;
}

static void add_field(McLayout *lay, int *off, const char *name, int rows, int cols, int weight) {
  McField *f = &lay->fields[lay->n_fields++];
  snprintf(f->name, sizeof f->name, "%s", name);
  f->offset = *off;
  f->rank = cols > 0 ? 2 : 1;
  f->shape[0] = rows;
  f->shape[1] = cols > 0 ? cols : 1;
  f->is_weight = weight;
  *off += rows * (cols > 0 ? cols : 1);
  if (weight) lay->n_weights += rows * cols;
}

void mc_layout_init(McLayout *lay, const McDims *d) {
  memset(lay, 0, sizeof *lay);
  lay->dims = *d;
  int L = d->n_layers, off = 0;
  char name[40];
  for (int l = 0; l < L; l++) {
    McLayerOffsets *o = &lay->layer[l];
    int n_pre = d->n[l], n_pyr = d->n[l + 1];
    int hidden = l < L - 1, n_next = hidden ? d->n[l + 2] : 0;
#define FIELD(member, label, rows, cols, w)               \
  do {                                                    \
    o->member = off;                                      \
    snprintf(name, sizeof name, "layer%d/%s", l, label);  \
    add_field(lay, &off, name, rows, cols, w);            \
  } while (0)
    FIELD(w_up, "W_up", n_pyr, n_pre, 1);
    if (hidden) {
      FIELD(w_down, "W_down", n_pyr, n_next, 1);
      FIELD(w_pi, "W_pi", n_pyr, n_next, 1);
      FIELD(w_ip, "W_ip", n_next, n_pyr, 1);
    } else {
      o->w_down = o->w_pi = o->w_ip = -1;
    }
    FIELD(u_pyr, "u_pyr", n_pyr, 0, 0);
    FIELD(forw_pyr, "forw_pyr", n_pyr, 0, 0);
    if (hidden) {
      FIELD(u_inn, "u_inn", n_next, 0, 0);
      FIELD(forw_inn, "forw_inn", n_next, 0, 0);
    } else {
      o->u_inn = o->forw_inn = -1;
    }
#undef FIELD
  }
  lay->r_in = off;
  add_field(lay, &off, "input/r_in", d->n[0], 0, 0);
  lay->u_tgt = off;
  add_field(lay, &off, "target/u_tgt", d->n[L], 0, 0);
  lay->u_tgt_last = off;
  add_field(lay, &off, "target/u_tgt_last", d->n[L], 0, 0);
  lay->nudge_last = off;
  add_field(lay, &off, "target/nudge_last", 1, 0, 0);
  lay->n_floats = off;
}

const McField *mc_layout_field(const McLayout *lay, const char *name) {
  for (int i = 0; i < lay->n_fields; i++)
    if (strcmp(lay->fields[i].name, name) == 0) return &lay->fields[i];
  return NULL;
}

/* Draw of element i of weight matrix `id` (row-major), U(-scale, scale). */
static float init_weight(uint64_t seed, uint32_t id, uint32_t i, double scale) {
  return (float)((ap_u01(ap_rng_u32(seed, AP_RNG_WEIGHTS, id, 0, i)) - 0.5) * 2.0 * scale);
}

static void fill_random(float *w, int count, uint64_t seed, uint32_t id, double scale) {
  for (int i = 0; i < count; i++) w[i] = init_weight(seed, id, (uint32_t)i, scale);
}

void mc_state_init(float *state, const McLayout *lay, const McParams *p, const McData *data,
                   int teacher, uint32_t first_sample) {
  const McDims *d = &lay->dims;
  int L = d->n_layers;
  memset(state, 0, (size_t)lay->n_floats * sizeof *state);
  /* Matrix ids follow the reference's draw order: W_up, W_down, W_pi, W_ip per hidden
   * layer, then the output W_up. */
  for (int l = 0; l < L; l++) {
    const McLayerOffsets *o = &lay->layer[l];
    int n_pre = d->n[l], n_pyr = d->n[l + 1];
    fill_random(state + o->w_up, n_pyr * n_pre, p->seed, 4u * (uint32_t)l, p->init_scale);
    if (l == L - 1) break;
    int n_next = d->n[l + 2];
    fill_random(state + o->w_down, n_pyr * n_next, p->seed, 4u * (uint32_t)l + 1, p->init_scale);
    fill_random(state + o->w_pi, n_pyr * n_next, p->seed, 4u * (uint32_t)l + 2, p->init_scale);
    fill_random(state + o->w_ip, n_next * n_pyr, p->seed, 4u * (uint32_t)l + 3, p->init_scale);
  }
  if (p->init_selfpred) {
    for (int l = 0; l < L - 1; l++) {
      const McLayerOffsets *o = &lay->layer[l], *next = &lay->layer[l + 1];
      int n_pyr = d->n[l + 1], n_next = d->n[l + 2];
      double ga_next = (l + 1 < L - 1) ? p->ga : 0.0;
      float rho = (float)mc_selfpred_rho(p->gl, p->gb, ga_next, p->gd);
      for (int i = 0; i < n_pyr * n_next; i++) state[o->w_pi + i] = -state[o->w_down + i];
      for (int i = 0; i < n_next * n_pyr; i++) state[o->w_ip + i] = state[next->w_up + i] * rho;
    }
  }
  /* The reference starts the input and target filters at the first sample's values. */
  const float *x = data->x_train + (size_t)first_sample * (size_t)data->n_in;
  memcpy(state + lay->r_in, x, (size_t)d->n[0] * sizeof *state);
  int y = data->y_train[first_sample];
  for (int k = 0; k < d->n[L]; k++)
    state[lay->u_tgt + k] = (float)(k == y ? p->u_high : p->u_low);
  state[lay->nudge_last] = teacher ? 1.0f : 0.0f;
}
