/* The dendritic cortical microcircuit as the host sees it (kernels/model.h): its keys,
 * defaults and checks, its layout (from the one field list of mc_params.h), the initial
 * state, the sample schedule, and its implementations on the backends. */
#include "mc_params.h"

#include "../core/ap_rng.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const ApModelImpl mc_cpu_impl;
#ifdef APICAL_HAVE_CUDA
const ApModelImpl *mc_cuda_impl(void);
#endif

/* ---- keys -------------------------------------------------------------------------- */

static int mc_len_layers(const void *p) { return ((const McParams *)p)->n_dims - 1; }
static int mc_len_hidden(const void *p) { return ((const McParams *)p)->n_dims - 2; }

#define AP_KEY_STRUCT McParams
static const ApKey mc_keys[] = {MC_KEYS(AP_KEY_ROW)};
#undef AP_KEY_STRUCT

static void mc_defaults(void *out) {
  McParams *p = out;
  memset(p, 0, sizeof *p);
  MC_KEYS(AP_KEY_DEFAULT)
}

int mc_wide_net(const McDims *d) {
  for (int l = 0; l < d->n_layers; l++) {
    if (d->n[l] >= MC_WIDE_MIN_PRE) return 1;                        /* W_up */
    if (l + 2 <= d->n_layers && (d->n[l + 2] >= MC_WIDE_MIN_PRE      /* W_down, W_pi */
                                 || d->n[l + 1] >= MC_WIDE_MIN_PRE)) /* W_ip */
      return 1;
  }
  return 0;
}

McDims mc_dims(const McParams *p) {
  McDims d;
  memset(&d, 0, sizeof d);
  d.n_layers = p->n_dims - 1;
  for (int l = 0; l < p->n_dims && l <= MC_MAX_LAYERS; l++) d.n[l] = p->dims[l];
  return d;
}

static void mc_io(const void *params, int *n_in, int *n_out) {
  const McParams *p = params;
  *n_in = p->dims[0];
  *n_out = p->dims[p->n_dims - 1];
}

static ap_status mc_check(const void *params, const ApData *data, ApError *err) {
  const McParams *p = params;
  if (p->n_dims < 2 || p->n_dims > MC_MAX_LAYERS + 1)
    return ap_fail(err, AP_ERR_CONFIG, "dims needs 2 to %d layer sizes, got %d", MC_MAX_LAYERS + 1,
                   p->n_dims);
  if (p->out_lag >= p->t_pres)
    return ap_fail(err, AP_ERR_CONFIG,
                   "out_lag = %d must be smaller than t_pres = %d (the readout needs at least one "
                   "step)",
                   p->out_lag, p->t_pres);
  if (p->learning && p->learn_lag >= p->t_pres)
    return ap_fail(err, AP_ERR_CONFIG,
                   "[train] learn_lag = %d must be smaller than t_pres = %d (plasticity would "
                   "never run)",
                   p->learn_lag, p->t_pres);
  if (data && p->val_samples > data->n_val)
    return ap_fail(err, AP_ERR_CONFIG,
                   "[train] val_samples = %d, but the validation set has %d samples",
                   p->val_samples, data->n_val);
  if (p->neuron == MC_POISSON) {
    if (p->tau_s < p->dt || p->tau_dend < p->dt)
      return ap_fail(err, AP_ERR_CONFIG,
                     "tau_s = %g and tau_dend = %g must be at least dt = %g (a filter "
                     "cannot be faster than a step)",
                     p->tau_s, p->tau_dend, p->dt);
    /* the spike draws count steps within a phase in 32 bits */
    if (data && (double)(data->n_train > data->n_val ? data->n_train : data->n_val) * p->t_pres >=
                    4294967296.0)
      return ap_fail(err, AP_ERR_CONFIG,
                     "poisson: samples x t_pres must stay below 2^32 steps per phase");
  }
  return AP_OK;
}

/* Replicas of one schedule and one neuron type share a cohort (a lane block runs one kind). */
static uint64_t mc_cohort_key(const void *params) {
  const McParams *p = params;
  return (uint64_t)p->t_pres | (uint64_t)p->neuron << 40;
}

McSched mc_sched(const McParams *p, const ApData *data) {
  McSched s = {.t_pres = p->t_pres,
               .teacher = p->teacher,
               .learn = p->learning,
               .n_val = p->val_samples < 0 ? data->n_val : p->val_samples,
               .reset = p->reset_between_samples,
               .learn_lag = p->learn_lag,
               .spiking = p->neuron == MC_POISSON,
               .n_test = p->test_every < 0 ? 0 : data->n_val,
               .test_every = p->test_every < 0 ? 0 : p->test_every,
               .n_records = 0};
  return s;
}

/* ---- layout ------------------------------------------------------------------------ */

/* The next n neuron ids, from a multiple of 4. */
static int take_ids(int *id, int n) {
  int first = *id;
  *id += (n + 3) / 4 * 4;
  return first;
}

ap_status mc_layout_init(McLayout *lay, const McDims *d, ApLayout *out) {
  ApLayout scratch;
  if (!out) out = &scratch;
  memset(lay, 0, sizeof *lay);
  memset(out, 0, sizeof *out);
  lay->dims = *d;
  int L = d->n_layers, H = L - 1, n_in = d->n[0], n_out = d->n[L];
  ap_status st = AP_OK;
  char name[AP_NAME_MAX];
  for (int l = 0; l < L && !st; l++) {
    McLayerOffsets *o = &lay->layer[l];
    int n_pre = d->n[l], n_pyr = d->n[l + 1], hidden = l < L - 1, n_next = hidden ? d->n[l + 2] : 0;
    (void)n_pre;
#define MC_ADD(member, label, rows, cols, kind, hidden_only, reset, help)                          \
  o->member = -1;                                                                                  \
  if (!st && (hidden || !(hidden_only))) {                                                         \
    o->member = out->n_floats;                                                                     \
    snprintf(name, sizeof name, "layer%d/%s", l, label);                                           \
    st = ap_layout_add_field(out, name, rows, cols, kind, help);                                   \
  }
    MC_LAYER_FIELDS(MC_ADD)
#undef MC_ADD
  }
#define MC_ADD(member, label, rows, cols, kind, hidden_only, reset, help)                          \
  lay->member = out->n_floats;                                                                     \
  if (!st) st = ap_layout_add_field(out, label, rows, cols, kind, help);
  MC_GLOBAL_FIELDS(MC_ADD)
#undef MC_ADD
  (void)n_in, (void)n_out;
  /* the runs of state fields a test phase changes, merged where they meet */
  int n_kept = 0;
  for (int i = 0; i < out->n_fields && !st; i++) {
    const ApField *f = &out->field[i];
    if (f->kind != AP_FIELD_STATE || f->offset == lay->diverged) continue;
    int n = f->shape[0] * f->shape[1], r = lay->n_kept_runs;
    if (r && lay->kept_run[r - 1][0] + lay->kept_run[r - 1][1] == f->offset) {
      lay->kept_run[r - 1][1] += n;
    } else if (r < MC_KEPT_RUNS) {
      lay->kept_run[r][0] = f->offset, lay->kept_run[r][1] = n, lay->n_kept_runs++;
    } else {
      st = AP_ERR_SOFTWARE; /* each layer and the globals make one run */
    }
    n_kept += n;
  }
  lay->sums = out->n_floats;
  if (!st)
    st = ap_layout_add_field(out, "record/sums", MC_SUM_API + 2 * H, 0, AP_FIELD_STATE,
                             "the epoch so far (zero between epochs): training hits, validation "
                             "hits and squared error, test hits and squared error, then per "
                             "hidden layer the apical and interneuron error sums");
  lay->kept = out->n_floats;
  if (!st)
    st = ap_layout_add_field(out, "record/kept", n_kept, 0, AP_FIELD_STATE,
                             "inside a test phase: the neurons' state it returns to (every "
                             "state field but status/diverged, in order)");
  lay->n_floats = out->n_floats;
  /* poisson: the spike draws' neuron ids, inputs first, each population from a multiple of 4 */
  int id = 0;
  lay->id_in = take_ids(&id, n_in);
  for (int l = 0; l < L; l++) {
    lay->id_pyr[l] = take_ids(&id, d->n[l + 1]);
    lay->id_inn[l] = l < L - 1 ? take_ids(&id, d->n[l + 2]) : -1;
  }

  McSeriesOffsets *s = &lay->ser;
  s->ff_err = s->fb_err = s->api_err = s->inn_err = -1;
#define SERIES(member, name, n, help)                                                              \
  s->member = out->series_width;                                                                   \
  if (!st) st = ap_layout_add_series(out, name, n, help);
  SERIES(val_acc, "val_acc", 0,
         "validation accuracy: the argmax of the sample's mean readout is the class")
  SERIES(val_mse, "val_mse", 0,
         "validation mean squared error of the readout against the target potentials")
  SERIES(train_acc, "train_acc", 0,
         "accuracy of the readout during the training phase (teacher on)")
  SERIES(test_acc, "test_acc", 0,
         "test accuracy over every held-out sample in file order, teacher and plasticity off; NaN "
         "in epochs without a test phase ([train] test_every)")
  SERIES(test_mse, "test_mse", 0,
         "test mean squared error of the readout against the target potentials (as test_acc)")
  if (H > 0) {
    SERIES(ff_err, "ff_weight_error", H,
           "MSE(W_ip, rho W_up(next)) per hidden layer at the end of the epoch, rho = "
           "gb/(gl+gb+ga_next)(gl+gd)/gd")
    SERIES(fb_err, "fb_weight_error", H,
           "MSE(W_pi, -W_down) per hidden layer at the end of the epoch")
    SERIES(api_err, "apical_error", H,
           "||v_api|| (Frobenius over the layer) per hidden layer, mean over the epoch's training "
           "steps")
    SERIES(
        inn_err, "interneuron_error", H,
        "mean over interneurons of (phi(u_inn) - phi(u_next))^2 of transmitted rates, per hidden "
        "layer, mean over the training steps")
  }
  SERIES(
      diverged, "diverged", 0,
      "1 from the epoch whose end found a non-finite value in the replica's state on: the replica "
      "is frozen there and its other series are NaN")
#undef SERIES
  s->width = out->series_width;
  return st;
}

static ap_status mc_layout(const void *params, ApLayout *out, ApError *err) {
  McLayout lay;
  McDims d = mc_dims(params);
  ap_status st = mc_layout_init(&lay, &d, out);
  if (st == AP_ERR_CONFIG) /* ap_layout_add_field: past an int of floats */
    return ap_fail(err, st,
                   "microcircuit: dims = %d, ..., %d make one replica's state more than 2^31 - 1 "
                   "floats",
                   d.n[0], d.n[d.n_layers]);
  if (st) return ap_fail(err, AP_ERR_CONFIG, "microcircuit: too many state fields");
  return AP_OK;
}

void mc_work_init(McWork *w, const McDims *d) {
  int L = d->n_layers, n_rates = 0, m = 0;
  memset(w, 0, sizeof *w);
  for (int l = 0; l <= L; l++) m = d->n[l] > m ? d->n[l] : m;
  for (int ly = 0; ly < L; ly++) {
    w->rate_pyr[ly] = n_rates;
    n_rates += d->n[ly + 1];
    w->rate_inn[ly] = n_rates;
    if (ly < L - 1) n_rates += d->n[ly + 2];
  }
  int off = 0;
#define TAKE(member, n) w->member = off, off += (n)
  TAKE(rate[0], n_rates);
  TAKE(rate[1], n_rates);
  TAKE(v_bas, m);
  TAKE(v_api, m);
  TAKE(v_den, m);
  TAKE(v_tmp, m);
  TAKE(udot, m);
  TAKE(err, m);
  TAKE(udot_inn, m);
  TAKE(err_inn, m);
  TAKE(u_next, (L > 1 ? L - 1 : 1) * m);
  TAKE(x, d->n[0]);
  TAKE(tgt, d->n[L]);
  TAKE(acc, d->n[L]);
  TAKE(rho_in, d->n[0]);
  for (int ly = 0; ly < L; ly++) {
    TAKE(pend_g[ly], d->n[ly + 1]);
    TAKE(pend_x[ly][0], d->n[ly]);
    TAKE(pend_x[ly][1], d->n[ly]);
  }
#undef TAKE
  w->max_neurons = m;
  w->n_rows = off;
}

/* ---- initial state and schedule ------------------------------------------------------ */

/* Element i of weight matrix `id` (row-major), U(-scale, scale). */
static float init_weight(uint64_t seed, uint32_t id, uint32_t i, double scale) {
  return (float)((ap_u01(ap_rng_u32(seed, AP_RNG_WEIGHTS, id, 0, i)) - 0.5) * 2.0 * scale);
}

static void fill_random(float *w, int count, uint64_t seed, uint32_t id, double scale) {
  for (int i = 0; i < count; i++) w[i] = init_weight(seed, id, (uint32_t)i, scale);
}

void mc_state_init(float *state, const McLayout *lay, const McParams *p, const ApData *data) {
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
  /* The reference starts the input and target filters at the first training sample. */
  uint32_t first = 0;
  if (data->n_train > 1) {
    uint32_t *perm = malloc((size_t)data->n_train * sizeof *perm);
    if (perm) {
      ap_sample_order(perm, 1, (uint32_t)data->n_train, p->seed, 0, 0);
      first = perm[0];
      free(perm);
    }
  }
  const float *x = data->x_train + (size_t)first * (size_t)data->n_in;
  memcpy(state + lay->r_in, x, (size_t)d->n[0] * sizeof *state);
  int y = data->y_train[first];
  for (int k = 0; k < d->n[L]; k++) state[lay->u_tgt + k] = (float)(k == y ? p->u_high : p->u_low);
  state[lay->nudge_last] = p->teacher ? 1.0f : 0.0f;
}

static void mc_init(float *state, const void *params, const ApData *data) {
  McLayout lay;
  McDims d = mc_dims(params);
  mc_layout_init(&lay, &d, NULL);
  mc_state_init(state, &lay, params, data);
}

static double mc_cost(const void *params, const ApData *data) {
  McSched s = mc_sched(params, data);
  return (double)s.t_pres * (double)(data->n_train + s.n_val);
}

/* A record is cut at its samples (mc_body_records): what it carries between two is in
 * record/sums and record/kept. */
static long long mc_units_of(const void *params, const ApData *data) {
  McSched s = mc_sched(params, data);
  return mc_units(&s, data->n_train);
}

McCudaSize mc_cuda_size(const McParams *p, const ApData *data, int series_width) {
  McDims dims = mc_dims(p);
  McLayout lay;
  McWork wo;
  mc_layout_init(&lay, &dims, NULL);
  mc_work_init(&wo, &dims);
  size_t nf = (size_t)lay.n_floats,
         samples = (size_t)(data->n_train > data->n_val ? data->n_train : data->n_val);
  McCudaSize z;
  memset(&z, 0, sizeof z);
  z.d_const = sizeof(McConst);
  z.d_state = nf * sizeof(float);
  z.d_work = (size_t)wo.n_rows * sizeof(float);
  z.d_perm = samples * sizeof(uint32_t);
  z.d_series = (size_t)MC_CUDA_CHUNK * (size_t)series_width * sizeof(float);
  z.d_per_replica = z.d_const + z.d_state + z.d_work + z.d_perm + z.d_series;
  z.d_fixed = sizeof(McLayout);
  z.h_const = sizeof(McConst);
  z.h_rows = sizeof(int);
  z.h_state = nf * sizeof(float);
  z.h_stage = nf * sizeof(float);
  z.h_series = z.d_series;
  return z;
}

static ap_status mc_memory(const char *backend, const ApCohortSpec *spec, ApCohortMem *out,
                           ApError *err) {
  memset(out, 0, sizeof *out);
  if (!strcmp(backend, "cpu")) {
    mc_cpu_memory(spec, out);
    return AP_OK;
  }
  if (strcmp(backend, "cuda"))
    return ap_fail(err, AP_ERR_UNAVAILABLE, "microcircuit: no %s implementation", backend);
  /* as mc_cuda.cu's cohort_alloc: every replica in one part when the device has room,
   * else parts of MC_CUDA_WARP replicas at the least */
  McCudaSize z = mc_cuda_size(spec->params, spec->data, spec->layout->series_width);
  double R = spec->n, all = ceil(R / MC_CUDA_WARP) * MC_CUDA_WARP, least = MC_CUDA_WARP;
  out->device = (double)z.d_fixed + all * (double)z.d_per_replica;
  out->device_min = (double)z.d_fixed + least * (double)z.d_per_replica;
  out->host =
      R * (double)(z.h_const + z.h_rows + z.h_state) + all * (double)(z.h_stage + z.h_series);
  return AP_OK;
}

/* A calibration record: the first samples of the data it is given (the schedule is the
 * same, so a step costs what it costs in the run). */
static void mc_shrink(void *params, const ApData *data, double f) {
  McParams *p = params;
  (void)f;
  if (p->val_samples > data->n_val) p->val_samples = data->n_val;
}

static const char *const mc_phases[] = {"train", "val"};

static int mc_order(const void *params, const ApData *data, int record, int phase, uint32_t *out) {
  const McParams *p = params;
  McSched s = mc_sched(p, data);
  int n = phase ? data->n_val : data->n_train, shown = phase ? s.n_val : data->n_train;
  if (shown > 0) ap_sample_order(out, 1, (uint32_t)n, p->seed, (uint32_t)record, (uint32_t)phase);
  return shown;
}

static const ApModelImpl *mc_impl(const char *backend) {
  if (!strcmp(backend, "cpu")) return &mc_cpu_impl;
#ifdef APICAL_HAVE_CUDA
  if (!strcmp(backend, "cuda")) return mc_cuda_impl();
#endif
  return NULL;
}

/* The microcircuit's time is the reference code's abstract time unit (dt = 0.1 of it);
 * with C = 1, conductances and learning rates are per time unit. */
static const char *mc_unit(const char *name) {
  static const char *const units[][2] = {{"t_pres", "steps"},
                                         {"out_lag", "steps"},
                                         {"learn_lag", "steps"},
                                         {"dt", "time units"},
                                         {"tau0", "time units"},
                                         {"t_ref", "time units"},
                                         {"tau_s", "time units"},
                                         {"tau_dend", "time units"},
                                         {"gl", "1/time unit"},
                                         {"gb", "1/time unit"},
                                         {"ga", "1/time unit"},
                                         {"gsom", "1/time unit"},
                                         {"gd", "1/time unit"},
                                         {"eta_up", "1/time unit"},
                                         {"eta_ip", "1/time unit"},
                                         {"eta_pi", "1/time unit"},
                                         {"psi", "spikes/time unit"},
                                         {"w_max_hidden", "1"},
                                         {"w_max_out", "1"},
                                         {"init_scale", "1"},
                                         {"phi_gamma", "1"},
                                         {"phi_beta", "1"},
                                         {"phi_theta", "1"},
                                         {"u_high", "1"},
                                         {"u_low", "1"}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcmp(name, units[i][0])) return units[i][1];
  return NULL;
}

const ApModel mc_model = {
    .name = "microcircuit",
    .summary = "dendritic cortical microcircuit with Urbanczik-Senn plasticity (Sacramento 2018)",
    .variants = "variant = original | le (latent equilibrium, Haider 2021); neuron = rate | "
                "poisson (spikes, thesis 2.6)",
    .record = "epoch",
    .record_is = "every training sample once, then the validation samples, then (when [train] "
                 "test_every says so) every test sample",
    .keys = mc_keys,
    .n_keys = (int)(sizeof mc_keys / sizeof mc_keys[0]),
    .params_size = sizeof(McParams),
    .defaults = mc_defaults,
    .io = mc_io,
    .check = mc_check,
    .cohort_key = mc_cohort_key,
    .cohort_by = "t_pres, neuron",
    .layout = mc_layout,
    .init = mc_init,
    .units = mc_units_of,
    .units_name = "samples",
    .cost = mc_cost,
    .memory = mc_memory,
    .shrink = mc_shrink,
    .headline = "val_acc",
    .n_phases = 2,
    .phase_names = mc_phases,
    .order = mc_order,
    .impl = mc_impl,
    .unit = mc_unit,
};
