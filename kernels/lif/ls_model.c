/* LIF assemblies with STDP as the host sees it (kernels/model.h): keys (every number of
 * the paper's Tables 1-2), defaults, checks, the layout, the initial state, and the
 * implementations on the backends. */
#include "ls_net.h"

#include "../core/ap_rng.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const ApModelImpl ls_cpu_impl;
#ifdef APICAL_HAVE_CUDA
const ApModelImpl *ls_cuda_impl(void);
#endif

/* LS_LOCALS: the rows p_<projection>, w_<projection> of LS_LOCAL, and their defaults. */
#define LS_LOCAL_ROWS(nm, what, pl, pt, ql, qt, pp, ww)                                            \
  AP_KEY_REAL_AT(model, "p_" #nm, offsetof(LsParams, p_local) + LS_LOCAL_##nm * sizeof(double),    \
                 AP_UNIT, "connection probability " what " within an assembly (Table 1)")          \
  AP_KEY_REAL_AT(model, "w_" #nm, offsetof(LsParams, w_local) + LS_LOCAL_##nm * sizeof(double),    \
                 AP_ANY, "PSC amplitude " what " (pA; negative: inhibitory)")
#define AP_KEY_ROW_LS_LOCALS(sec, p, w) LS_LOCAL(LS_LOCAL_ROWS)
#define LS_LOCAL_DEFAULTS(nm, what, pl, pt, ql, qt, pp, ww)                                        \
  p->p_local[LS_LOCAL_##nm] = pp, p->w_local[LS_LOCAL_##nm] = ww;
#define AP_KEY_DEFAULT_LS_LOCALS(sec, p_, w_) LS_LOCAL(LS_LOCAL_DEFAULTS)

#define AP_KEY_STRUCT LsParams
static const ApKey ls_keys[] = {LS_KEYS(AP_KEY_ROW)};
#undef AP_KEY_STRUCT

static void ls_defaults(void *out) {
  LsParams *p = out;
  memset(p, 0, sizeof *p);
  LS_KEYS(AP_KEY_DEFAULT)
}

/* Step counts (LsDims, LsConst.ref_steps) are ints: a time of more steps is refused by
 * ls_check, and saturates here so that nothing overflows before the check says so. */
#define LS_STEPS_MAX 2147483647.0
static int steps_of(double ms, double dt) {
  double x = nearbyint(ms / dt);
  return x >= LS_STEPS_MAX ? (int)LS_STEPS_MAX : x > 0 ? (int)x : 0;
}
static int is_multiple(double ms, double dt) {
  double x = ms / dt;
  return fabs(x - nearbyint(x)) < 1e-6 * fmax(1.0, x);
}

LsDims ls_dims(const LsParams *p) {
  LsDims d;
  memset(&d, 0, sizeof d);
  d.pop0[0] = 0;
  for (int q = 0; q < LS_POPS; q++) d.pop0[q + 1] = d.pop0[q] + ((q & 1) ? p->n_pv : p->n_pyr);
  d.N = d.pop0[LS_POPS];
  d.D = steps_of(p->delay, p->dt);
  d.steps = steps_of(p->record_ms, p->dt);
  d.raster_first = steps_of(p->raster_from_ms, p->dt);
  d.raster_steps = steps_of(p->raster_ms, p->dt);
  return d;
}

static void poisson_table(LsPoisson *t, double lambda) {
  for (int k = 0; k < LS_POIS_MAX; k++) t->thr1[k] = 0xffffffffu;
  double term = exp(-lambda), cdf = 0.0;
  for (int k = 0; k < LS_POIS_MAX; k++) {
    cdf += term;
    double thr = floor(cdf * 4294967296.0);
    if (thr >= 4294967296.0) break;
    t->thr1[k] = (uint32_t)thr - 1u; /* thr >= 1: P(N <= k) >= e^-lambda > 2^-32 */
    term *= lambda / (k + 1);
  }
}

/* NEST's propagators (iaf_psc_alpha, iaf_psc_exp; IAFPropagator's limits where tau_syn
 * meets tau_m). */
static void propagators(LsProp *P, const LsParams *p, double tau_in) {
  double h = p->dt, tm = p->tau_m, C = p->c_m, Em = exp(-h / tm);
  memset(P, 0, sizeof *P);
  const double taus[2] = {p->tau_syn_ex, tau_in};
  for (int x = 0; x < 2; x++) {
    double ts = taus[x], Es = exp(-h / ts), beta = 1.0 / ts - 1.0 / tm, p31, p32;
    if (fabs(beta * h) < 1e-6) { /* tau_syn == tau_m: the limits */
      p32 = h * Em / C;
      p31 = h * h * Em / (2.0 * C);
    } else {
      p32 = (Em - Es) / (C * beta);
      p31 = Em * (-expm1(-beta * h) - beta * h * exp(-beta * h)) / (beta * beta * C);
    }
    float *dst = x ? &P->p11_in : &P->p11_ex;
    dst[0] = (float)Es;       /* p11 */
    dst[1] = (float)(h * Es); /* p21 */
    dst[2] = (float)p31;      /* p31 */
    dst[3] = (float)p32;      /* p32 */
    (x ? &P->psc_in : &P->psc_ex)[0] = p->psc == LS_PSC_ALPHA ? (float)(exp(1.0) / ts) : 1.0f;
  }
  P->p30 = (float)(-tm / C * expm1(-h / tm));
  P->expm1_m = (float)expm1(-h / tm);
  P->p22_m = (float)Em;
  P->v_th = (float)(p->v_th - p->e_l);
  P->v_reset = (float)(p->v_reset - p->e_l);
  P->i_e = (float)p->i_e;
}

void ls_const_init(LsConst *k, const LsParams *p) {
  memset(k, 0, sizeof *k);
  propagators(&k->prop[LS_PYR], p, p->tau_syn_in_pyr);
  propagators(&k->prop[LS_PV], p, p->tau_syn_in_pv);
  double h_s = p->dt * 1e-3;
  poisson_table(&k->bg[LS_PYR], p->rate_bg_pyr * h_s);
  poisson_table(&k->bg[LS_PV], p->rate_bg_pv * h_s);
  poisson_table(&k->lgn[0], p->rate_lgn_pa * h_s);
  poisson_table(&k->lgn[1], p->rate_lgn_npa * h_s);
  k->w_bg = (float)p->w_bg;
  k->w_lgn[LS_PYR] = (float)p->w_lgn_pyr;
  k->w_lgn[LS_PV] = (float)p->w_lgn_pv;
  k->p_plus = (float)exp(-p->dt / p->tau_plus);
  k->p_minus = (float)exp(-p->dt / p->tau_minus);
  k->lambda = (float)p->lambda;
  k->alpha = (float)p->alpha;
  k->mu_plus = (float)p->mu_plus;
  k->mu_minus = (float)p->mu_minus;
  k->wmax = (float)p->wmax;
  k->dt_ms = (float)p->dt;
  k->psc = p->psc;
  k->ref_steps = steps_of(p->t_ref, p->dt);
  k->seed = p->seed;
}

#define POIS_LAMBDA_MAX 6.0 /* rate x dt: the inversion table covers it to 1e-9 */

/* The largest |weight| (pA) that reaches the fixed-point sums of pending inputs. */
static double ls_max_weight(const LsParams *p, const char **name) {
  static const char *const local[] = {
#define X(nm, ...) "w_" #nm,
      LS_LOCAL(X)
#undef X
  };
  const struct {
    const char *name;
    double w;
  } w[] = {{"w_td_pyr", p->w_td_pyr}, {"w_td_pv", p->w_td_pv}, {"wmax", p->wmax}};
  double most = -1;
  for (int i = 0; i < LS_NLOCAL; i++)
    if (fabs(p->w_local[i]) > most) most = fabs(p->w_local[i]), *name = local[i];
  for (int i = 0; i < 3; i++)
    if (fabs(w[i].w) > most) most = fabs(w[i].w), *name = w[i].name;
  return most;
}

/* Bounds that keep every integer of the model in range (issue 25): step counts in an
 * int, a replica's state in an int of floats, the fixed-point sums in 63 bits. */
static ap_status ls_check_bounds(const LsParams *p, ApError *err) {
  if (6 * (p->n_pyr + p->n_pv) > 65535)
    return ap_fail(err, AP_ERR_CONFIG, "lif_stdp: %d neurons, at most 65535 (6 (n_pyr + n_pv))",
                   6 * (p->n_pyr + p->n_pv));
  const struct {
    const char *name;
    double ms;
  } times[] = {{"delay", p->delay},
               {"t_ref", p->t_ref},
               {"[train] record_ms", p->record_ms},
               {"[train] raster_ms", p->raster_ms},
               {"[train] raster_from_ms", p->raster_from_ms}};
  for (int i = 0; i < 5; i++)
    if (nearbyint(times[i].ms / p->dt) > LS_STEPS_MAX)
      return ap_fail(err, AP_ERR_CONFIG,
                     "lif_stdp: %s = %.12g ms is %.4g steps of dt = %g ms; at most %.0f steps "
                     "(%.12g ms): step counts are 32-bit integers",
                     times[i].name, times[i].ms, times[i].ms / p->dt, p->dt, LS_STEPS_MAX,
                     LS_STEPS_MAX * p->dt);
  double N = 6.0 * (p->n_pyr + p->n_pv), D = nearbyint(p->delay / p->dt),
         plastic = (double)(p->n_pyr + p->n_pv) * 2.0 * p->n_pyr,
         floats = 2 * plastic + 9 * N + (D + 1) * N + 6 * D * N;
  if (floats > LS_STEPS_MAX)
    return ap_fail(err, AP_ERR_CONFIG,
                   "lif_stdp: delay = %g ms (%.0f steps) with %.0f neurons makes a replica's "
                   "state %.4g floats, more than 2^31 - 1: the pending inputs hold delay / dt "
                   "steps of every neuron",
                   p->delay, D, N, floats);
  /* one step's inputs to a neuron: at most N spikes, each of at most |w| pA, summed in
   * units of 2^-32 pA in 64 bits; the record's weight sums: every possible plastic
   * synapse at wmax */
  const char *name = "";
  double w = ls_max_weight(p, &name), bound = 2147483648.0 / N;
  if (w >= bound)
    return ap_fail(err, AP_ERR_CONFIG,
                   "lif_stdp: %s = %g pA: a step's inputs are summed in 64-bit fixed point "
                   "(2^-32 pA), so with %.0f neurons every weight must be below 2^31 / %.0f = "
                   "%.0f pA in magnitude",
                   name, w, N, N, bound);
  if (p->wmax * plastic >= 2147483648.0 / 2)
    return ap_fail(err, AP_ERR_CONFIG,
                   "lif_stdp: wmax = %g pA: the record's sums of the bottom-up weights (up to "
                   "%.0f synapses) are 64-bit fixed point (2^-32 pA), so wmax must be below "
                   "2^30 / %.0f = %.6g pA",
                   p->wmax, plastic, plastic, 1073741824.0 / plastic);
  return AP_OK;
}

static ap_status ls_check(const void *params, const ApData *data, ApError *err) {
  const LsParams *p = params;
  (void)data;
  ap_status st = ls_check_bounds(p, err);
  if (st) return st;
  LsDims d = ls_dims(p);
  if (!is_multiple(p->delay, p->dt) || d.D < 1)
    return ap_fail(err, AP_ERR_CONFIG,
                   "lif_stdp: delay = %g ms is not a positive multiple of dt = %g ms", p->delay,
                   p->dt);
  if (!is_multiple(p->record_ms, p->dt) || d.steps < 1)
    return ap_fail(err, AP_ERR_CONFIG,
                   "lif_stdp: [train] record_ms = %g is not a positive multiple of dt = %g ms",
                   p->record_ms, p->dt);
  if (steps_of(p->t_ref, p->dt) < d.D)
    return ap_fail(err, AP_ERR_CONFIG,
                   "lif_stdp: t_ref = %g ms is shorter than the delay (%g ms); the STDP "
                   "bookkeeping needs at most one spike per neuron within a delay",
                   p->t_ref, p->delay);
  if (p->raster_from_ms > p->raster_ms)
    return ap_fail(
        err, AP_ERR_CONFIG,
        "lif_stdp: [train] raster_from_ms = %g is after raster_ms = %g (the window's end)",
        p->raster_from_ms, p->raster_ms);
  if (p->v_reset >= p->v_th)
    return ap_fail(err, AP_ERR_CONFIG, "lif_stdp: v_reset = %g mV is not below v_th = %g mV",
                   p->v_reset, p->v_th);
  const double rates[] = {p->rate_bg_pyr, p->rate_bg_pv, p->rate_lgn_pa, p->rate_lgn_npa};
  for (int i = 0; i < 4; i++)
    if (rates[i] * p->dt * 1e-3 > POIS_LAMBDA_MAX)
      return ap_fail(
          err, AP_ERR_CONFIG,
          "lif_stdp: a Poisson rate of %g Hz gives %g spikes per step; at most %g (lower "
          "dt or the rate)",
          rates[i], rates[i] * p->dt * 1e-3, POIS_LAMBDA_MAX);
  if (p->w_bu_pyr > p->wmax || p->w_bu_pv > p->wmax)
    return ap_fail(err, AP_ERR_CONFIG,
                   "lif_stdp: the bottom-up weights (%g, %g pA) must not exceed wmax = %g",
                   p->w_bu_pyr, p->w_bu_pv, p->wmax);
  return AP_OK;
}

/* The step counts from the run's start: the random draws' counter takes it in 32 bits
 * (ls_body.h), so the run stays below 2^32 steps (past them the draws would repeat). */
static ap_status ls_check_records(const void *params, int n_records, ApError *err) {
  const LsParams *p = params;
  double steps = (double)ls_dims(p).steps * n_records;
  if (steps > 4294967295.0)
    return ap_fail(err, AP_ERR_CONFIG,
                   "lif_stdp: [train] epochs = %d records of record_ms = %.12g ms are %.4g steps "
                   "of dt = %g ms; at most 4294967295 (%.12g ms): the random draws count steps "
                   "from the run's start in 32 bits (past them they would repeat)",
                   n_records, p->record_ms, steps, p->dt, 4294967295.0 * p->dt);
  return AP_OK;
}

static uint64_t ls_cohort_key(const void *params) {
  (void)params;
  return 0;
}

ap_status ls_layout_init(const LsParams *p, ApLayout *out, LsSeries *ser) {
  LsDims d = ls_dims(p);
  int N = d.N, post = p->n_pyr + p->n_pv, pre = 2 * p->n_pyr;
  memset(out, 0, sizeof *out);
  ap_status st = AP_OK;
#define FIELD(name, rows, cols, kind, help)                                                        \
  if (!st) st = ap_layout_add_field(out, name, rows, cols, kind, help);
  FIELD("W_bu", post, pre, AP_FIELD_WEIGHT,
        "bottom-up weights (pA) [HA L4 Pyr, then PV][PA L2/3 Pyr, then NPA L2/3 Pyr]; NaN: no "
        "synapse")
  FIELD("W_bu_reported", post, pre, AP_FIELD_STATE,
        "the same weights as of each synapse's last presynaptic spike (as NEST reports them)")
  FIELD("neurons/v", N, 0, AP_FIELD_STATE, "membrane potential minus E_L (mV)")
  FIELD("neurons/i_ex", N, 0, AP_FIELD_STATE, "excitatory synaptic current (pA)")
  FIELD("neurons/di_ex", N, 0, AP_FIELD_STATE, "alpha: its derivative variable (pA/ms)")
  FIELD("neurons/i_in", N, 0, AP_FIELD_STATE, "inhibitory synaptic current (pA)")
  FIELD("neurons/di_in", N, 0, AP_FIELD_STATE, "alpha: its derivative variable (pA/ms)")
  FIELD("neurons/refractory", N, 0, AP_FIELD_STATE, "refractory steps left")
  FIELD("neurons/age", N, 0, AP_FIELD_STATE, "steps since the last spike (at most 2^24)")
  FIELD("neurons/k_plus", N, 0, AP_FIELD_STATE, "presynaptic STDP trace")
  FIELD("neurons/k_minus", N, 0, AP_FIELD_STATE, "postsynaptic STDP trace")
  FIELD("neurons/k_minus_history", d.D + 1, N, AP_FIELD_STATE,
        "the postsynaptic trace before each of the last delay + 1 steps' spikes (ring by step)")
  FIELD("inputs/ex", 3, d.D * N, AP_FIELD_STATE,
        "pending excitatory inputs [chunk][slot x neuron]: (c0 2^32 + c1 2^16 + c2) 2^-32 pA")
  FIELD("inputs/in", 3, d.D * N, AP_FIELD_STATE, "pending inhibitory inputs, the same way")
  FIELD("status/diverged", 1, 0, AP_FIELD_STATE,
        "the record (1-based) at whose end the state held a non-finite value and the replica "
        "froze; 0: running")
  FIELD("status/spike_counts", LS_POPS, 2, AP_FIELD_STATE,
        "each population's spikes so far in the record, as [c / 2^24, c % 2^24] (nonzero "
        "only in a checkpoint written inside a record)")
#undef FIELD
  LsSeries s;
  memset(&s, 0, sizeof s);
#define SERIES(name, n, help)                                                                      \
  if (!st) st = ap_layout_add_series(out, name, n, help);
  s.conn = out->series_width;
  SERIES("conn_pa", 0, "Conn_PA: mean bottom-up weight from PA (pA, as NEST reports it)")
  SERIES("conn_npa", 0, "Conn_NPA: mean bottom-up weight from NPA (pA)")
  SERIES("conn_pa_pyr", 0, "mean weight PA -> HA L4 Pyr (pA)")
  SERIES("conn_pa_pv", 0, "mean weight PA -> HA L4 PV (pA)")
  SERIES("conn_npa_pyr", 0, "mean weight NPA -> HA L4 Pyr (pA)")
  SERIES("conn_npa_pv", 0, "mean weight NPA -> HA L4 PV (pA)")
  s.rates = out->series_width;
  SERIES("rates", LS_POPS,
         "population rates in the record (Hz): PA L2/3 Pyr, PV, L4 Pyr, PV, then NPA, HA")
  s.spikes = out->series_width;
  SERIES("spikes", 0, "spikes of the whole network in the record")
  s.diverged = out->series_width;
  SERIES("diverged", 0,
         "1 from the record at whose end a state value (potential, current, trace, weight) was "
         "non-finite: the replica froze there, its other series NaN; else 0")
#undef SERIES
  s.width = out->series_width;
  if (ser) *ser = s;
  return st;
}

static ap_status ls_layout(const void *params, ApLayout *out, ApError *err) {
  ap_status st = ls_check_bounds(params, err); /* the sizes below fit in an int */
  if (st) return st;
  if (ls_layout_init(params, out, NULL))
    return ap_fail(err, AP_ERR_CONFIG, "lif_stdp: too many state fields or series");
  return AP_OK;
}

/* Resting neurons, empty traces and inputs, the bottom-up weights of the network. */
static void ls_init(float *state, const void *params, const ApData *data) {
  const LsParams *p = params;
  (void)data;
  ApLayout lay;
  ls_layout_init(p, &lay, NULL);
  memset(state, 0, (size_t)lay.n_floats * sizeof *state);
  const ApField *w = ap_layout_field(&lay, "W_bu"), *wr = ap_layout_field(&lay, "W_bu_reported"),
                *age = ap_layout_field(&lay, "neurons/age");
  size_t n = (size_t)w->shape[0] * w->shape[1];
  for (size_t i = 0; i < n; i++) state[w->offset + i] = state[wr->offset + i] = NAN;
  for (int i = 0; i < age->shape[0]; i++) state[age->offset + i] = (float)LS_AGE_MAX;
  ls_bu_initial(p, state + w->offset);
  memcpy(state + wr->offset, state + w->offset, n * sizeof *state);
}

/* A record is cut at its steps: between two, it carries only its spike counts. */
static long long ls_units(const void *params, const ApData *data) {
  (void)data;
  return ls_dims(params).steps;
}

static double ls_cost(const void *params, const ApData *data) {
  (void)data;
  return ls_dims(params).steps;
}

static const ApModelImpl *ls_impl(const char *backend) {
  if (!strcmp(backend, "cpu")) return &ls_cpu_impl;
#ifdef APICAL_HAVE_CUDA
  if (!strcmp(backend, "cuda")) return ls_cuda_impl();
#endif
  return NULL;
}

/* NEST's units: ms, mV, pA (PSC amplitudes and weights), pF, Hz. */
static const char *ls_unit(const char *name) {
  static const char *const units[][2] = {
      {"record_ms", "ms"}, {"raster_ms", "ms"}, {"raster_from_ms", "ms"},
      {"dt", "ms"},        {"delay", "ms"},     {"tau_m", "ms"},
      {"c_m", "pF"},       {"e_l", "mV"},       {"v_th", "mV"},
      {"v_reset", "mV"},   {"t_ref", "ms"},     {"i_e", "pA"},
      {"tau_plus", "ms"},  {"tau_minus", "ms"}, {"lambda", "1"},
      {"alpha", "1"},      {"mu_plus", "1"},    {"mu_minus", "1"},
      {"wmax", "pA"}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcmp(name, units[i][0])) return units[i][1];
  if (!strncmp(name, "tau_syn_", 8)) return "ms";
  if (!strncmp(name, "p_", 2)) return "1";  /* connection probabilities */
  if (!strncmp(name, "w_", 2)) return "pA"; /* PSC amplitudes */
  if (!strncmp(name, "rate_", 5)) return "Hz";
  return NULL;
}

const ApModel ls_model = {
    .name = "lif_stdp",
    .summary = "LIF assemblies (PA, NPA, HA) with STDP on the bottom-up synapses and "
               "nonspecific top-down input, as in NEST",
    .variants = "psc = alpha | exp; topdown = on | off; every number of Tables 1-2 is a key",
    .record = "record",
    .record_is = "[train] record_ms of simulated time (5 ms: 20 s = 4000 records)",
    .keys = ls_keys,
    .n_keys = (int)(sizeof ls_keys / sizeof ls_keys[0]),
    .params_size = sizeof(LsParams),
    .defaults = ls_defaults,
    .io = NULL,
    .check = ls_check,
    .cohort_key = ls_cohort_key,
    .cohort_by = NULL,
    .memory = ls_memory,
    .layout = ls_layout,
    .init = ls_init,
    .units = ls_units,
    .units_name = "steps",
    .cost = ls_cost,
    .headline = "conn_pa",
    .n_phases = 0,
    .phase_names = NULL,
    .order = NULL,
    .events = "raster",
    .events_is =
        "spikes from [train] raster_from_ms to raster_ms as (neuron, step) pairs, in order; the "
        "neuron indexes the populations in series/rates' order, step x dt is the time",
    .impl = ls_impl,
    .check_records = ls_check_records,
    .unit = ls_unit,
};
