/* The microcircuit as data: the parameters a replica owns, the one list of state fields
 * (offsets, checkpoint names, what a reset zeroes and the warp kernel's loads and stores
 * all come from it), the series of a record, and the constants derived once per replica.
 * Shared by the model description (mc_model.c), the step body (mc_body.h) and both
 * backends.
 *
 * Dimension letters: H hidden layers, L weight layers (H + 1), N_l neurons of layer l
 * (N_0 = inputs, N_L = outputs), S lanes stride (mc_body.h). */
#ifndef MC_PARAMS_H
#define MC_PARAMS_H

#include "../core/ap_defs.h"
#include "../model.h"
#include "../model_keys.h"

#include <math.h>
#include <stdint.h>

#define MC_MAX_LAYERS 8 /* weight layers; dims has up to MC_MAX_LAYERS + 1 entries */

typedef enum { MC_ORIGINAL = 0, MC_LE = 1 } mc_variant;
typedef enum { MC_RATE = 0, MC_POISSON = 1 } mc_neuron;

/* The keys (kernels/model_keys.h): X(kind, section, member, ...): everything one replica
 * may have of its own ([model] keys, sweepable but dims) and the schedule its cohort
 * shares ([train] keys and t_pres). The defaults are the reference's Bars parameters
 * (MODELS.md §1) for dims 9-30-3 at t_pres = 100, LE; eta 0.5, 0.1 and 0.2 / t_pattern. */
// clang-format off
#define MC_KEYS(X)                                                                                 \
  X(INTS, fixed, dims, n_dims, 1, 100000, 2, MC_MAX_LAYERS + 1, (9, 30, 3),                        \
    "layer sizes, input to output (e.g. 9, 30, 3)")                                                \
  X(U64, model, seed, 0, AP_BIG, 1, "seed of weight init and sample order")                        \
  X(CHOICE, model, variant, "original|le", MC_LE,                                                  \
    "original (Sacramento 2018) | le (latent equilibrium, Haider 2021)")                           \
  X(INT, model, t_pres, 1, 1e8, 100, "presentation time per sample, in steps of dt")               \
  X(INT, model, out_lag, 0, 1e8, 0, "steps into a sample before the readout averages")             \
  X(REAL, model, dt, AP_POS, 0.1, "time step")                                                     \
  X(REAL, model, tau0, AP_POS, 0.1, "input and target low-pass time constant")                     \
  X(REAL, model, gl, AP_NONNEG, 0.03, "leak conductance")                                          \
  X(REAL, model, gb, AP_POS, 0.1, "basal (and interneuron dendrite) coupling")                     \
  X(REAL, model, ga, AP_NONNEG, 0.06, "apical coupling")                                           \
  X(REAL, model, gsom, AP_NONNEG, 0.06, "somatic nudging conductance (target, sister)")            \
  X(REAL, model, gd, AP_POS, 0.1, "interneuron dendrite conductance in the self-predicting init")  \
  X(REALS, model, eta_up, 0, AP_BIG, MC_MAX_LAYERS, mc_len_layers, "one per weight layer",         \
    (0.05, 0.01), "learning rates of W_up, one per weight layer")                                  \
  X(REALS, model, eta_ip, 0, AP_BIG, MC_MAX_LAYERS, mc_len_hidden, "one per hidden layer",         \
    (0.02), "learning rates of W_ip, one per hidden layer")                                        \
  X(REALS, model, eta_pi, 0, AP_BIG, MC_MAX_LAYERS, mc_len_hidden, "one per hidden layer",         \
    (0.0), "learning rates of W_pi, one per hidden layer")                                         \
  X(REAL, model, w_max_hidden, AP_POS, 4.0, "clip of hidden W_up")                                 \
  X(REAL, model, w_max_out, AP_POS, 5.0, "clip of output W_up")                                    \
  X(REAL, model, init_scale, AP_NONNEG, 1.0, "weights start in U(-s, s)")                          \
  X(BOOL, model, init_selfpred, 1, "start in the self-predicting state")                           \
  X(REAL, model, phi_gamma, AP_POS, 1.0, "φ = γ log(1 + exp(β (u - θ)))")                          \
  X(REAL, model, phi_beta, AP_POS, 1.0, "see phi_gamma")                                           \
  X(REAL, model, phi_theta, AP_ANY, 0.0, "see phi_gamma")                                          \
  X(REAL, model, u_high, AP_ANY, 1.0, "target potential of the true class")                        \
  X(REAL, model, u_low, AP_ANY, 0.1, "target potential of the other classes")                      \
  X(CHOICE, model, neuron, "rate|poisson", MC_RATE,                                                \
    "rate | poisson: rates pass between neurons, or Poisson spikes at psi phi per time unit "       \
    "(thesis 2.6)")                                                                                \
  X(REAL, model, psi, AP_POS, 100.0, "poisson: spikes per time unit at phi = 1 (the rate scale)")  \
  X(REAL, model, t_ref, AP_NONNEG, 0.0,                                                            \
    "poisson: refractory time; 0: Poisson counts per step, > 0: at most one spike "                \
    "per step, then silence for t_ref")                                                            \
  X(REAL, model, tau_s, AP_POS, 0.1,                                                               \
    "poisson: time constant of the presynaptic trace in the plasticity (>= dt; dt: "               \
    "the last step's spikes)")                                                                     \
  X(REAL, model, tau_dend, AP_POS, 0.1,                                                            \
    "poisson: leak time constant of the dendrites (>= dt; dt: the last step's "                    \
    "spikes)")                                                                                     \
  X(BOOL, train, teacher, 1, "nudge the output towards the target while training")                 \
  X(BOOL, train, learning, 1, "plasticity on while training")                                      \
  X(INT, train, val_samples, -1, 1e9, -1,                                                          \
    "validation samples per epoch, drawn without replacement (-1: all; 0: no validation)")         \
  X(INT, train, test_every, -1, 1e9, 0,                                                            \
    "a test phase (every held-out sample, teacher and plasticity off, from a copy of the "         \
    "state) every N epochs and after the last; 0: after the last only; -1: never")                 \
  X(INT, train, learn_lag, 0, 1e8, 0,                                                              \
    "steps into a training sample before plasticity starts (0: every step, the "                   \
    "reference): the steps in which a new sample's signals still cross the layers "                \
    "teach nothing")                                                                               \
  X(BOOL, train, reset_between_samples, 0,                                                         \
    "zero all potentials at each sample's start (the thesis' NEST model; reference: false)")
// clang-format on

typedef struct McParams {
  MC_KEYS(AP_KEY_MEMBER)
} McParams;

typedef struct McDims {
  int n_layers;             /* L: weight layers; hidden layers H = L - 1 */
  int n[MC_MAX_LAYERS + 1]; /* N_0 .. N_L */
} McDims;

/* ---- state fields ------------------------------------------------------------------ */

/* X(member, label, rows, cols, kind, hidden_only, reset, help): the fields of weight layer
 * l, in state-vector order. rows and cols are expressions in n_pre = N_l, n_pyr = N_l+1
 * and n_next = N_l+2; cols 0 is a vector. reset: zeroed at a sample's start when
 * reset_between_samples is on. Weights are (post x pre), as in the reference. */
// clang-format off
#define MC_LAYER_FIELDS(X)                                                                         \
  X(w_up, "W_up", n_pyr, n_pre, AP_FIELD_WEIGHT, 0, 0, "feedforward weights into the pyramids")    \
  X(w_down, "W_down", n_pyr, n_next, AP_FIELD_WEIGHT, 1, 0,                                        \
    "top-down weights to the apical dendrites")                                                    \
  X(w_pi, "W_pi", n_pyr, n_next, AP_FIELD_WEIGHT, 1, 0, "interneuron to apical dendrite weights")  \
  X(w_ip, "W_ip", n_next, n_pyr, AP_FIELD_WEIGHT, 1, 0, "pyramid to interneuron dendrite weights") \
  X(u_pyr, "u_pyr", n_pyr, 0, AP_FIELD_STATE, 0, 1, "pyramidal somatic potentials u")              \
  X(forw_pyr, "forw_pyr", n_pyr, 0, AP_FIELD_STATE, 0, 1, "pyramidal prospective potentials")      \
  X(u_inn, "u_inn", n_next, 0, AP_FIELD_STATE, 1, 1, "interneuron somatic potentials")             \
  X(forw_inn, "forw_inn", n_next, 0, AP_FIELD_STATE, 1, 1, "interneuron prospective potentials")   \
  X(vb_pyr, "vb_pyr", n_pyr, 0, AP_FIELD_STATE, 0, 1, "poisson: leaky basal dendrites")            \
  X(va_pyr, "va_pyr", n_pyr, 0, AP_FIELD_STATE, 1, 1, "poisson: leaky apical dendrites")           \
  X(vd_inn, "vd_inn", n_next, 0, AP_FIELD_STATE, 1, 1, "poisson: leaky interneuron dendrites")     \
  X(tr_pyr, "tr_pyr", n_pyr, 0, AP_FIELD_STATE, 0, 0, "poisson: presynaptic traces, pyramids")     \
  X(tr_inn, "tr_inn", n_next, 0, AP_FIELD_STATE, 1, 0,                                             \
    "poisson: presynaptic traces, interneurons")                                                   \
  X(sp_pyr, "sp_pyr", n_pyr, 0, AP_FIELD_STATE, 0, 0,                                              \
    "poisson: the pyramids' last spikes, n / (psi dt), in flight to the next step")                \
  X(sp_inn, "sp_inn", n_next, 0, AP_FIELD_STATE, 1, 0, "poisson: the interneurons' last spikes")   \
  X(ref_pyr, "ref_pyr", n_pyr, 0, AP_FIELD_STATE, 0, 0,                                            \
    "poisson: refractory steps left, pyramids")                                                    \
  X(ref_inn, "ref_inn", n_next, 0, AP_FIELD_STATE, 1, 0,                                           \
    "poisson: refractory steps left, interneurons")

/* The same for the fields outside the layers; n_in = N_0, n_out = N_L. */
#define MC_GLOBAL_FIELDS(X)                                                                        \
  X(r_in, "input/r_in", n_in, 0, AP_FIELD_STATE, 0, 0, "low-passed input rates")                   \
  X(tr_in, "input/tr_in", n_in, 0, AP_FIELD_STATE, 0, 0, "poisson: presynaptic traces, inputs")    \
  X(u_tgt, "target/u_tgt", n_out, 0, AP_FIELD_STATE, 0, 0, "low-passed target potentials")         \
  X(u_tgt_last, "target/u_tgt_last", n_out, 0, AP_FIELD_STATE, 0, 0,                               \
    "the previous step's target (LE delays it one step)")                                          \
  X(nudge_last, "target/nudge_last", 1, 0, AP_FIELD_STATE, 0, 0,                                   \
    "the previous step's nudging flag (LE delays it one step)")                                    \
  X(diverged, "status/diverged", 1, 0, AP_FIELD_STATE, 0, 0,                                       \
    "1 + the epoch whose end found a non-finite value in the state (0: never); frozen since")
// clang-format on

#define MC_MEMBER(member, ...) int member;
/* Offsets (floats) of weight layer l's fields in a replica's state vector; -1 if absent. */
typedef struct McLayerOffsets {
  MC_LAYER_FIELDS(MC_MEMBER)
} McLayerOffsets;

/* Offsets in one record's series (floats); the selfpred ones hold H values each. */
typedef struct McSeriesOffsets {
  int val_acc, val_mse, train_acc, test_acc, test_mse;
  int ff_err, fb_err, api_err, inn_err; /* -1 without hidden layers */
  int diverged;                         /* 1 from the epoch the state turned non-finite on */
  int width;
} McSeriesOffsets;

/* Rows of record/sums: the phases' hits and squared errors, then per hidden layer h the
 * apical error sum at MC_SUM_API + h and the interneurons' at MC_SUM_API + H + h. */
enum { MC_SUM_TRAIN, MC_SUM_VAL, MC_SUM_VAL_ERR, MC_SUM_TEST, MC_SUM_TEST_ERR, MC_SUM_API };
#define MC_KEPT_RUNS (MC_MAX_LAYERS + 1)

typedef struct McLayout {
  McDims dims;
  int n_floats;
  /* What an epoch carries between its samples (after the fields above, mc_layout_init):
   * record/sums (MC_SUM_*), and record/kept, where a test phase keeps what it changes
   * (every state field but diverged; the weights do not move there): the state's runs
   * [kept_run[i][0], + kept_run[i][1]), one after the other. */
  int sums, kept;
  int n_kept_runs, kept_run[MC_KEPT_RUNS][2];
  McLayerOffsets layer[MC_MAX_LAYERS];
  /* poisson: the first neuron id of each population in the spike draws' counter, each a
   * multiple of 4 (one draw block serves four neurons) */
  int id_in, id_pyr[MC_MAX_LAYERS], id_inn[MC_MAX_LAYERS];
  MC_GLOBAL_FIELDS(MC_MEMBER)
  McSeriesOffsets ser;
} McLayout;
#undef MC_MEMBER

/* ---- derived constants ------------------------------------------------------------- */

/* The per-replica constants of the step, X(name) for one float, in mc_const_init's terms. */
// clang-format off
#define MC_CONST_SCALARS(X)                                                                        \
  X(k_in) X(dt) X(gb) X(ga) X(gsom) X(g_pyr) X(tau_pyr) X(alpha_pyr) X(g_inn) X(tau_inn)           \
  X(alpha_inn) X(g_out) X(tau_out) X(g_free) X(alpha_out) X(w_max_h) X(w_max_o) X(gamma) X(beta)   \
  X(theta) X(le) X(lag) X(readout_n) X(u_high) X(u_low) X(psi_dt) X(inv_psi_dt) X(k_s) X(k_d)      \
  X(n_ref) X(refractory)
// clang-format on
/* ... and X(name) for one float per weight layer. */
#define MC_CONST_LAYERS(X) X(c_up) X(c_ip) X(c_pi) X(rho)

typedef struct McConst {
#define MC_SCALAR(name) float name;
#define MC_PER_LAYER(name) float name[MC_MAX_LAYERS];
  MC_CONST_SCALARS(MC_SCALAR)
  MC_CONST_LAYERS(MC_PER_LAYER)
#undef MC_SCALAR
#undef MC_PER_LAYER
  uint64_t seed;
} McConst;

/* What the replicas of a cohort share: the shape of an epoch. */
typedef struct McSched {
  int t_pres;     /* steps per sample */
  int teacher;    /* nudge the output towards the target during training */
  int learn;      /* plasticity on during training */
  int n_val;      /* validation samples shown per epoch (0: no validation phase) */
  int reset;      /* zero the potentials at each sample's start */
  int learn_lag;  /* steps into a training sample before plasticity starts */
  int spiking;    /* poisson neurons (the cohort key keeps rate and poisson apart) */
  int n_test;     /* held-out samples of a test phase (0: none; mc_test_due) */
  int test_every; /* a test phase every N records (0: only after the last) */
  int n_records;  /* the run's records (the cohort's spec; 0: unknown, no final test) */
} McSched;

/* Whether record e (0-based) of a run of n_records ends with a test phase: every test_every
 * records, and after the last. */
AP_HD int mc_test_due(const McSched *s, int e) {
  if (s->n_test <= 0) return 0;
  return e + 1 == s->n_records || (s->test_every > 0 && (e + 1) % s->test_every == 0);
}

/* Where record/kept holds the state's float off (one of McLayout.kept_run; -1: none). */
AP_HD int mc_kept_at(const McLayout *lay, int off) {
  int k = lay->kept;
  for (int q = 0; q < lay->n_kept_runs; k += lay->kept_run[q++][1])
    if (off >= lay->kept_run[q][0] && off < lay->kept_run[q][0] + lay->kept_run[q][1])
      return k + off - lay->kept_run[q][0];
  return -1;
}

/* A record's units (ApModel.units): its samples, the training ones, then the validation
 * ones, then those of a test phase (units that do nothing in a record without one). */
AP_HD long long mc_units(const McSched *s, int n_train) {
  return (long long)n_train + s->n_val + s->n_test;
}

/* Work arrays of one body instance (offsets in lane rows; mc_body.h multiplies by the
 * stride): the two rate buffers, dendritic potentials, the sample and the readout. */
typedef struct McWork {
  int rate[2];                                          /* [n_rates] transmitted rates */
  int rate_pyr[MC_MAX_LAYERS], rate_inn[MC_MAX_LAYERS]; /* a layer's within a buffer */
  int v_bas, v_api, v_den, v_tmp, udot, err;            /* [max neurons] */
  int udot_inn, err_inn; /* [max neurons] the interneurons' own (mc_body_step) */
  /* the wide path's pending W_up steps (mc_body.h, "fused"): per layer the rows' factors
   * [n_pyr] and the presynaptic factors [2][n_pre], two so a step reads one while it
   * writes the other; fuse: the body defers W_up's steps into the next product */
  int pend_g[MC_MAX_LAYERS], pend_x[MC_MAX_LAYERS][2];
  int fuse;
  int u_next;      /* [H][max neurons] sisters' u or ŭ */
  int x, tgt, acc; /* [N_0], [N_L], [N_L] */
  int rho_in;      /* [N_0] poisson: the inputs' spikes */
  int max_neurons; /* rows of one scratch vector */
  int n_rows;
} McWork;

/* The CUDA cohort's arrays (mc_cuda.cu), in bytes: mc_cuda.cu allocates from these
 * numbers and the estimate adds them up (mc_memory). The device holds one part of the
 * cohort's replicas at a time (a multiple of MC_CUDA_WARP); the host all of them. */
#define MC_CUDA_CHUNK 256 /* records per launch: bounds the device series buffer */
#define MC_CUDA_WARP 32
typedef struct McCudaSize {
  size_t d_const, d_state, d_work, d_perm, d_series; /* per replica of a part */
  size_t d_per_replica;                              /* their sum */
  size_t d_fixed;                                    /* the layout, once */
  size_t h_const, h_rows, h_state;                   /* per replica of the cohort */
  size_t h_stage, h_series;                          /* per replica of a part */
} McCudaSize;

#ifdef __cplusplus
extern "C" {
#endif
extern const ApModel mc_model;

/* The sizes of a CUDA cohort of replicas like p (dims and schedule) on data. */
McCudaSize mc_cuda_size(const McParams *p, const ApData *data, int series_width);
/* The memory of a CPU cohort (mc_cpu.c: the lane blocks or the wide path, as it picks). */
void mc_cpu_memory(const ApCohortSpec *spec, ApCohortMem *out);

McDims mc_dims(const McParams *p);
/* Products over at least MC_WIDE_MIN_PRE inputs sum in partial sums on the wide path
 * (mc_body.h, mc_matvec). mc_wide_net: dims have such a product. Every path that auto
 * picks for such a network sums that way (the CPU's wide path, the CUDA kernels), so a
 * replica's bits never depend on its batch or its backend; below, both orders are one. */
#define MC_WIDE_MIN_PRE 64
int mc_wide_net(const McDims *d);
/* Offsets of every field and series, and (when out is non-NULL) the host's view of them. */
ap_status mc_layout_init(McLayout *lay, const McDims *d, ApLayout *out);
void mc_work_init(McWork *w, const McDims *d);
McSched mc_sched(const McParams *p, const ApData *data);
/* One replica's initial canonical state: weights from its seed, the optional
 * self-predicting init, potentials zero, input and target at its first training sample. */
void mc_state_init(float *state, const McLayout *lay, const McParams *p, const ApData *data);
#ifdef __cplusplus
}
#endif

/* Self-predicting initialisation, thesis §2.3 / reference reflect(): the interneuron
 * weights copy the next layer's forward weights scaled by ρ = gb/(gl+gb+ga_next) ·
 * (gl+gd)/gd, where ga_next = 0 for the output layer. */
AP_HD double mc_selfpred_rho(double gl, double gb, double ga_next, double gd) {
  return gb / (gl + gb + ga_next) * (gl + gd) / gd;
}

/* The constants of replica q's step, derived once (the one home of these formulas). */
AP_HD void mc_const_init(McConst *k, const McParams *q) {
  int n_hidden = q->n_dims - 2;
  k->k_in = (float)(q->dt / q->tau0);
  k->dt = (float)q->dt;
  k->gb = (float)q->gb;
  k->ga = (float)q->ga;
  k->gsom = (float)q->gsom;
  k->g_pyr = (float)(q->gl + q->gb + q->ga);
  k->tau_pyr = (float)(1.0 / (q->gl + q->gb + q->ga));
  k->alpha_pyr = (float)(q->gb / (q->gl + q->gb + q->ga));
  k->g_inn = (float)(q->gl + q->gb + q->gsom);
  k->tau_inn = (float)(1.0 / (q->gl + q->gb + q->gsom));
  k->alpha_inn = (float)(q->gb / (q->gl + q->gb));
  k->g_out = (float)(q->gl + q->gb + q->gsom);
  k->tau_out = (float)(1.0 / (q->gl + q->gb + q->gsom));
  k->g_free = (float)(q->gl + q->gb);
  k->alpha_out = (float)(q->gb / (q->gl + q->gb));
  for (int ly = 0; ly < MC_MAX_LAYERS; ly++) {
    k->c_up[ly] = ly <= n_hidden ? (float)(q->dt * q->eta_up[ly]) : 0.0f;
    k->c_ip[ly] = ly < n_hidden ? (float)(q->dt * q->eta_ip[ly]) : 0.0f;
    k->c_pi[ly] = ly < n_hidden ? (float)(q->dt * q->eta_pi[ly]) : 0.0f;
    double ga_next = ly + 1 < n_hidden ? q->ga : 0.0;
    k->rho[ly] = ly < n_hidden ? (float)mc_selfpred_rho(q->gl, q->gb, ga_next, q->gd) : 0.0f;
  }
  k->w_max_h = (float)q->w_max_hidden;
  k->w_max_o = (float)q->w_max_out;
  k->gamma = (float)q->phi_gamma;
  k->beta = (float)q->phi_beta;
  k->theta = (float)q->phi_theta;
  k->le = q->variant == MC_LE ? 1.0f : 0.0f;
  k->lag = (float)q->out_lag;
  k->readout_n = (float)(q->t_pres - q->out_lag);
  k->u_high = (float)q->u_high;
  k->u_low = (float)q->u_low;
  k->psi_dt = (float)(q->psi * q->dt);
  k->inv_psi_dt = (float)(1.0 / (q->psi * q->dt));
  k->k_s = (float)(q->dt / q->tau_s);
  k->k_d = (float)(q->dt / q->tau_dend);
  k->n_ref = (float)floor(q->t_ref / q->dt + 0.5);
  k->refractory = q->t_ref > 0.0 ? 1.0f : 0.0f;
  k->seed = q->seed;
}

#endif
