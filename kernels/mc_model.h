/* The microcircuit as data: dimensions, the parameters a replica owns, the canonical
 * per-replica state vector and the metrics a run produces. Backends keep state in their
 * own layout; checkpoints and results always use the canonical one defined here.
 *
 * Dimension letters: R replicas, E epochs, H hidden layers, L weight layers (H + 1),
 * N_l neurons of layer l (N_0 = inputs, N_L = outputs), S samples. */
#ifndef MC_MODEL_H
#define MC_MODEL_H

#include "ap_defs.h"

#include <stdint.h>

#define MC_MAX_LAYERS 8 /* weight layers; dims has up to MC_MAX_LAYERS + 1 entries */
#define MC_N_SELFPRED 4 /* self-prediction errors per hidden layer (thesis §2.3) */

typedef enum { MC_ORIGINAL = 0, MC_LE = 1 } mc_variant;

typedef struct McDims {
  int n_layers;               /* L: weight layers; hidden layers H = L - 1 */
  int n[MC_MAX_LAYERS + 1];   /* N_0 .. N_L */
} McDims;

/* Everything one replica may have of its own; every field can be swept. t_pres is the
 * cohort's schedule (replicas of a cohort share it); the rest may differ per replica. */
typedef struct McParams {
  /* the integers first and in a multiple of 8 bytes: the struct has no padding, so two
   * parameter sets compare with memcmp */
  uint64_t seed;
  int variant;       /* mc_variant */
  int t_pres;        /* steps per sample */
  int out_lag;       /* steps into a sample before the readout starts averaging */
  int init_selfpred; /* start in the self-predicting state */
  double dt, tau0;   /* time step and input/target low-pass time constant */
  double gl, gb, ga, gsom, gd;
  double eta_up[MC_MAX_LAYERS]; /* per weight layer */
  double eta_ip[MC_MAX_LAYERS]; /* per hidden layer */
  double eta_pi[MC_MAX_LAYERS]; /* per hidden layer */
  double w_max_hidden, w_max_out;
  double init_scale; /* weights drawn from U(-init_scale, init_scale) */
  double phi_gamma, phi_beta, phi_theta;
  double u_high, u_low; /* target potentials of the true and the other classes */
} McParams;

/* Offsets (in floats) of the fields of one replica's canonical state vector. */
typedef struct McLayerOffsets {
  int w_up, w_down, w_pi, w_ip; /* [N_l][N_l-1], [N_l][N_l+1], [N_l][N_l+1], [N_l+1][N_l] */
  int u_pyr, forw_pyr;          /* [N_l] somatic and prospective potentials */
  int u_inn, forw_inn;          /* [N_l+1] interneurons (hidden layers only) */
} McLayerOffsets;

typedef struct McField {
  char name[40]; /* HDF5 path below the state group, e.g. "layer0/W_up" */
  int offset, rank, shape[2];
  int is_weight;
} McField;

#define MC_MAX_FIELDS (8 * MC_MAX_LAYERS + 8)

typedef struct McLayout {
  McDims dims;
  int n_floats; /* length of one replica's state vector */
  int n_weights;
  int r_in;       /* [N_0] low-passed input rates */
  int u_tgt;      /* [N_L] low-passed target potentials */
  int u_tgt_last; /* [N_L] previous step's target (LE delays the target one step) */
  int nudge_last; /* [1] previous step's nudging flag (LE) */
  McLayerOffsets layer[MC_MAX_LAYERS];
  int n_fields;
  McField fields[MC_MAX_FIELDS];
} McLayout;

/* What every replica of a cohort shares: the shape of an epoch. */
typedef struct McSchedule {
  int t_pres;       /* steps per sample */
  int teacher;      /* nudge the output towards the target during training */
  int learn;        /* plasticity on during training */
  int n_val;        /* validation samples per epoch (0: no validation phase) */
  int reset_between_samples; /* zero all potentials at each sample's start (NEST model) */
} McSchedule;

/* A classification dataset in host memory. Train and validation may alias (Bars). */
typedef struct McData {
  int n_in, n_classes;
  int n_train, n_valset;
  const float *x_train; /* [S_train][N_0] */
  const int *y_train;   /* [S_train] */
  const float *x_val;   /* [S_val][N_0] */
  const int *y_val;     /* [S_val] */
} McData;

/* Per-epoch metrics, canonical [R][E] (and [R][E][H] for the self-prediction errors).
 * The run writes column e for every replica; arrays span the whole run. */
typedef struct McMetrics {
  int n_epochs;
  float *val_acc, *val_mse;   /* [R][E] */
  float *train_acc;           /* [R][E] */
  float *ff_err, *fb_err;     /* [R][E][H] weight errors at epoch end */
  float *api_err, *inn_err;   /* [R][E][H] averaged over the epoch's training steps */
} McMetrics;

#ifdef __cplusplus
extern "C" {
#endif
/* The reference's Bars parameters (MODELS.md §1) for dims 9-30-3 at t_pres = 100, LE. */
void mc_params_default(McParams *p);

ap_status mc_dims_check(const McDims *d, ApError *err);
void mc_layout_init(McLayout *lay, const McDims *d);
const McField *mc_layout_field(const McLayout *lay, const char *name);

/* Fills one replica's canonical state: weights from its seed, optional self-predicting
 * init, potentials zero, input and target at the first training sample (reference):
 * first_sample = mc_sample_order(..., epoch 0, training)[0]. */
void mc_state_init(float *state, const McLayout *lay, const McParams *p, const McData *data,
                   int teacher, uint32_t first_sample);

#ifdef __cplusplus
}
#endif

#endif
