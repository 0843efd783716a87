/* The MSTDP energy network as the host sees it (kernels/model.h): keys, defaults and
 * checks, the layout, the initial state, and its implementations on the backends. */
#include "ms_params.h"
#include "ms_rep.h"

#include "../core/ap_rng.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

extern const ApModelImpl ms_cpu_impl;
#ifdef APICAL_HAVE_CUDA
const ApModelImpl *ms_cuda_impl(void);
#endif

#define AP_KEY_STRUCT MsParams
static const ApKey ms_keys[] = {MS_KEYS(AP_KEY_ROW)};
#undef AP_KEY_STRUCT

static void ms_defaults(void *out) {
  MsParams *p = out;
  memset(p, 0, sizeof *p);
  MS_KEYS(AP_KEY_DEFAULT)
}

/* With the record's series width (after ms_check_bounds: the layout's sizes fit an int). */
MsDims ms_dims(const MsParams *p) {
  MsDims d = ms_dims_of(p->pixels, p->labels, p->label_copies, p->hidden);
  ApLayout lay;
  MsSeries ser;
  ms_layout_init(p, &lay, &ser);
  d.F = ser.width;
  return d;
}

int ms_test_count(const MsParams *p, const ApData *data) {
  return p->test_samples < 0 ? data->n_val : p->test_samples;
}

void ms_const_init(MsConst *k, const MsParams *p, const ApData *data) {
  memset(k, 0, sizeof *k);
  k->eps = (float)p->eps;
  k->m = (float)p->m;
  k->one_m = (float)(1.0 - p->m);
  k->beta = (float)p->beta;
  k->eps_beta = (float)(p->eps * p->beta);
  k->alpha = (float)p->alpha;
  k->state_scale = (float)p->state_scale;
  k->clamp = p->clamp;
  k->rule = p->rule;
  k->free_phase = p->free_phase;
  k->smoothing = p->smoothing;
  k->data_range = p->data_range;
  k->order = p->order;
  k->cycles = p->cycles;
  k->iterations = p->iterations;
  k->test_cycles = p->test_cycles;
  k->presentations = p->presentations;
  k->n_test = ms_test_count(p, data);
  k->train_eval = p->train_eval;
  k->full_test_every = p->full_test_every;
  k->gen_samples = p->gen_samples;
  k->gen_every = p->gen_every;
  k->n_full = p->full_test_every > 0 ? data->n_val : 0;
  k->n_gen = p->gen_samples * p->labels;
  k->units = ms_units_of(k);
  k->seed = p->seed;
}

static void ms_io(const void *params, int *n_in, int *n_out) {
  const MsParams *p = params;
  *n_in = p->pixels;
  *n_out = p->labels;
}

/* The sizes that must fit an int (issue 25): the weights, and the generated samples'
 * series of a record. */
static ap_status ms_check_bounds(const MsParams *p, ApError *err) {
  MsDims d = ms_dims_of(p->pixels, p->labels, p->label_copies, p->hidden);
  double floats = (double)d.H * d.Np + (double)d.V * d.Hp;
  if (floats > 2147483647.0)
    return ap_fail(err, AP_ERR_CONFIG, "mstdp: %d hidden units need %.3g weights, above 2^31",
                   p->hidden, floats);
  double gen = (double)p->labels * p->gen_samples * p->pixels;
  if (gen > 2147483647.0 - 64)
    return ap_fail(err, AP_ERR_CONFIG,
                   "mstdp: [train] gen_samples = %d: the generated samples of a record are labels "
                   "x gen_samples x pixels = %.4g floats, more than 2^31 - 1",
                   p->gen_samples, gen);
  return AP_OK;
}

static ap_status ms_check(const void *params, const ApData *data, ApError *err) {
  const MsParams *p = params;
  ap_status st = ms_check_bounds(p, err);
  if (st) return st;
  if (!data) return AP_OK;
  if (data->n_train < 1) return ap_fail(err, AP_ERR_CONFIG, "mstdp: the training set is empty");
  if (p->test_samples > data->n_val)
    return ap_fail(err, AP_ERR_CONFIG, "[train] test_samples = %d, but the test set has %d images",
                   p->test_samples, data->n_val);
  if (p->train_eval > data->n_train)
    return ap_fail(err, AP_ERR_CONFIG,
                   "[train] train_eval = %d, but the training set has %d images", p->train_eval,
                   data->n_train);
  if (p->full_test_every > 0 && data->n_val < 1)
    return ap_fail(err, AP_ERR_CONFIG, "[train] full_test_every: the test set is empty");
  /* a read-out counts its hits in a float of the record's series: exact below 2^24 */
  if (data->n_val > (1 << 24) && (p->test_samples < 0 || p->full_test_every > 0))
    return ap_fail(err, AP_ERR_CONFIG,
                   "mstdp: a test set of %d images is more than one read-out counts (2^24): "
                   "set [train] test_samples and full_test_every = 0",
                   data->n_val);
  return AP_OK;
}

/* Every replica runs alone (replica-major), whatever its keys: one cohort. */
static uint64_t ms_cohort_key(const void *params) {
  (void)params;
  return 0;
}

ap_status ms_layout_init(const MsParams *p, ApLayout *out, MsSeries *ser) {
  int H = p->hidden, V = p->pixels + p->labels * p->label_copies;
  memset(out, 0, sizeof *out);
  ap_status st = AP_OK;
  st = st ? st
          : ap_layout_add_field(out, "W_vh", H, V, AP_FIELD_WEIGHT,
                                "weights to the hidden units from the visible ones");
  st = st ? st
          : ap_layout_add_field(out, "W_hh", H, H, AP_FIELD_WEIGHT,
                                "weights among the hidden units (row: receiver; diagonal 0)");
  st = st ? st
          : ap_layout_add_field(out, "W_hv", V, H, AP_FIELD_WEIGHT,
                                "weights to the visible units from the hidden ones");
  st = st ? st : ap_layout_add_field(out, "b_v", V, 0, AP_FIELD_WEIGHT, "visible biases");
  st = st ? st : ap_layout_add_field(out, "b_h", H, 0, AP_FIELD_WEIGHT, "hidden biases");
  st = st ? st
          : ap_layout_add_field(out, "s_v", V, 0, AP_FIELD_STATE,
                                "visible states: pixels, then each label's units (label_copies)");
  st = st ? st : ap_layout_add_field(out, "s_h", H, 0, AP_FIELD_STATE, "hidden states");
  st = st ? st : ap_layout_add_field(out, "v_v", V, 0, AP_FIELD_STATE, "visible velocities");
  st = st ? st : ap_layout_add_field(out, "v_h", H, 0, AP_FIELD_STATE, "hidden velocities");
  st = st ? st
          : ap_layout_add_field(out, "status/diverged", 1, 0, AP_FIELD_STATE,
                                "1: the replica's state turned non-finite and it is frozen");
  MsSeries s;
  memset(&s, 0, sizeof s);
  s.generated = -1;
#define SERIES(member, name, n, help)                                                              \
  s.member = out->series_width;                                                                    \
  if (!st) st = ap_layout_add_series(out, name, n, help);
  SERIES(test_acc_c, "test_acc_clamped", 0,
         "test accuracy (first test_samples images), label read after the last clamped phase")
  SERIES(test_acc_f, "test_acc_free", 0,
         "test accuracy (first test_samples images), label read after the last free phase")
  SERIES(train_acc_c, "train_acc_clamped", 0,
         "training accuracy (first train_eval images, read like a test), after the last clamped "
         "phase")
  SERIES(train_acc_f, "train_acc_free", 0,
         "training accuracy (first train_eval images), after the last free phase")
  SERIES(full_acc_c, "full_test_acc_clamped", 0,
         "accuracy on the whole test set every full_test_every records (else NaN), clamped read")
  SERIES(full_acc_f, "full_test_acc_free", 0,
         "accuracy on the whole test set every full_test_every records (else NaN), free read")
  SERIES(mean_abs_w, "mean_abs_w", 0, "mean |W| over all weights at the record's end")
  SERIES(mean_abs_s, "mean_abs_s", 0, "mean |s| over all units at the record's end")
  SERIES(max_abs_s, "max_abs_s", 0, "max |s| over all units at the record's end (divergence watch)")
  SERIES(energy, "energy", 0, "E of eq. 3 at the record's end (before the read-outs)")
  if (p->gen_samples > 0) {
    SERIES(generated, "generated", p->labels * p->gen_samples * p->pixels,
           "generated pixel states [label][sample][pixel] every gen_every records (else NaN)")
  }
  SERIES(diverged, "diverged", 0,
         "1 from the record whose end found a non-finite value in the replica's state on: it is "
         "frozen there and its other series are NaN")
#undef SERIES
  s.width = out->series_width;
  /* what a record carries from one unit to the next (ms_record), zero between records */
  st = st ? st
          : ap_layout_add_field(out, "record/series", s.width, 0, AP_FIELD_STATE,
                                "the record's series so far (a read-out's accuracy slots: its "
                                "hits so far)");
  st = st ? st
          : ap_layout_add_field(out, "record/kept", 2, V + H, AP_FIELD_STATE,
                                "while the read-outs run: the states (row 0) and velocities "
                                "(row 1) at the training's end, visible units first");
  if (ser) *ser = s;
  return st;
}

static ap_status ms_layout(const void *params, ApLayout *out, ApError *err) {
  ap_status st = ms_check_bounds(params, err); /* the sizes below fit in an int */
  if (st) return st;
  if (ms_layout_init(params, out, NULL))
    return ap_fail(err, AP_ERR_CONFIG, "mstdp: too many state fields or series");
  return AP_OK;
}

static void fill_uniform(float *w, size_t n, uint64_t seed, uint32_t id, double scale) {
  for (size_t i = 0; i < n; i++)
    w[i] = (float)((ap_u01(ap_rng_u32(seed, AP_RNG_WEIGHTS, id, (uint32_t)(i >> 32), (uint32_t)i)) -
                    0.5) *
                   2.0 * scale);
}

/* Weights and biases U(-init_scale, init_scale) (the diagonal of W_hh 0), states
 * U(-state_scale, state_scale), everything else 0. */
static void ms_init(float *state, const void *params, const ApData *data) {
  const MsParams *p = params;
  (void)data;
  size_t H = (size_t)p->hidden, V = (size_t)p->pixels + (size_t)p->labels * p->label_copies;
  MsDims d = ms_dims(p);
  memset(state, 0, ms_canon_floats(&d) * sizeof *state); /* velocities, not diverged, the
                                                            record's fields */
  float *w = state;
  fill_uniform(w, H * V, p->seed, 0, p->init_scale);
  w += H * V;
  fill_uniform(w, H * H, p->seed, 1, p->init_scale);
  for (size_t i = 0; i < H; i++) w[i * H + i] = 0.0f;
  w += H * H;
  fill_uniform(w, V * H, p->seed, 2, p->init_scale);
  w += V * H;
  fill_uniform(w, V, p->seed, 3, p->init_scale);
  w += V;
  fill_uniform(w, H, p->seed, 4, p->init_scale);
  w += H;
  fill_uniform(w, V, p->seed, 5, p->state_scale);
  w += V;
  fill_uniform(w, H, p->seed, 6, p->state_scale);
}

/* Iterations of one record: training, then the read-outs. */
static double ms_cost(const void *params, const ApData *data) {
  const MsParams *p = params;
  double per_image = 2.0 * p->iterations;
  double reads = (double)ms_test_count(p, data) + p->train_eval +
                 (p->full_test_every > 0 ? (double)data->n_val / p->full_test_every : 0.0) +
                 (double)p->gen_samples * p->labels / p->gen_every;
  return per_image * ((double)p->presentations * p->cycles + reads * p->test_cycles);
}

/* A record is cut at its presentations and its read-outs' images (ms_units_of). */
static long long ms_units(const void *params, const ApData *data) {
  MsConst k;
  ms_const_init(&k, params, data);
  return k.units;
}

/* The iterations of units [u0, u1) of record e (cost()'s measure): a presentation's, a
 * read-out image's or generated sample's where the record runs it (ms_part_runs). */
static double ms_work(const void *params, const ApData *data, int e, long long u0, long long u1) {
  MsConst k;
  ms_const_init(&k, params, data);
  double w = 0.0;
  for (int s = 0; s < MS_PARTS; s++) {
    long long a = ms_part_start(&k, s), b = a + ms_part_len(&k, s);
    a = a > u0 ? a : u0;
    b = b < u1 ? b : u1;
    if (b > a && ms_part_runs(&k, s, e))
      w += (double)(b - a) * 2.0 * k.iterations * (s == MS_PART_TRAIN ? k.cycles : k.test_cycles);
  }
  return w;
}

static ap_status ms_memory(const char *backend, const ApCohortSpec *spec, ApCohortMem *out,
                           ApError *err) {
  memset(out, 0, sizeof *out);
  if (!strcmp(backend, "cpu")) {
    ms_cpu_memory(spec, out);
    return AP_OK;
  }
  if (strcmp(backend, "cuda"))
    return ap_fail(err, AP_ERR_UNAVAILABLE, "mstdp: no %s implementation", backend);
  MsDims d = ms_dims(spec->params);
  MsCudaSize z = ms_cuda_size(&d, spec->n, spec->layout->series_width, spec->data->n_train);
  double R = spec->n;
  out->device = out->device_min = R * (double)z.d_per_replica; /* no parts: all or nothing */
  out->host = R * (double)(z.h_rows + z.h_mem + z.h_reps + z.h_series);
  out->work = R * (double)z.h_const; /* while the cohort is created */
  return AP_OK;
}

/* A calibration record: the parts of a record (training images, read-outs) cut by f,
 * within the calibration's first samples of the data. The periodic parts (the full test,
 * the generated samples) go: the first records, which the calibration runs, would not
 * run them, yet cost() would count their share. (gen_samples stays: it shapes the
 * layout.) */
static void ms_shrink(void *params, const ApData *data, double f) {
  MsParams *p = params;
  p->presentations = (int)fmax(1.0, round(f * p->presentations));
  if (p->test_samples >= 0) /* (-1: the whole test set, which the cut data already is) */
    p->test_samples = (int)fmin(round(f * p->test_samples), data->n_val);
  p->train_eval = (int)fmin(round(f * p->train_eval), data->n_train);
  p->full_test_every = 0;
  p->gen_every = 1 << 30;
}

static const ApModelImpl *ms_impl(const char *backend) {
  if (!strcmp(backend, "cpu")) return &ms_cpu_impl;
#ifdef APICAL_HAVE_CUDA
  if (!strcmp(backend, "cuda")) return ms_cuda_impl();
#endif
  return NULL;
}

/* Every number of the network is dimensionless: states, rates, weights, steps. */
static const char *ms_unit(const char *name) {
  static const char *const plain[] = {"eps", "m", "beta", "alpha", "init_scale", "state_scale"};
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
    if (!strcmp(name, plain[i])) return "1";
  return NULL;
}

const ApModel ms_model = {
    .name = "mstdp",
    .summary = "MSTDP energy network: momentum relaxation, STDP-form learning, MNIST "
               "classification and generation",
    .variants = "clamp = step | momentum | step_eps; rule = post | pre; free = eq1 | frozen; "
                "data_range = pm1 | 01; smoothing = off | on",
    .record = "record",
    .record_is = "[train] presentations training images, then the read-outs",
    .keys = ms_keys,
    .n_keys = (int)(sizeof ms_keys / sizeof ms_keys[0]),
    .params_size = sizeof(MsParams),
    .defaults = ms_defaults,
    .io = ms_io,
    .check = ms_check,
    .cohort_key = ms_cohort_key,
    .cohort_by = NULL,
    .layout = ms_layout,
    .init = ms_init,
    .units = ms_units,
    .units_name = "images",
    .work = ms_work,
    .cost = ms_cost,
    .memory = ms_memory,
    .shrink = ms_shrink,
    .headline = "test_acc_free",
    .n_phases = 0,
    .phase_names = NULL,
    .order = NULL,
    .impl = ms_impl,
    .unit = ms_unit,
};
