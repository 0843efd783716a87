/* The MSTDP energy network (shared/MODELS.md §2) as data: the parameters a replica owns,
 * the per-replica constants its iteration uses, and the backend-internal layout of one
 * replica. Shared by the model description (ms_model.c), the iteration body (ms_body.h)
 * and the backends.
 *
 * Units: V visible (P pixels, then C labels of K units each, a label's units side by
 * side) and H hidden. Canonical state (checkpoints,
 * results): W_vh [H][V], W_hh [H][H] (diagonal 0), W_hv [V][H], b_v, b_h, s_v, s_h, v_v,
 * v_h, status/diverged, then what a record carries between its units: record/series (the
 * record's series so far, F) and record/kept (the states s, v the read-outs return to:
 * [2][V + H], visible first), in that order. W[i][j] is the weight FROM j TO i (the
 * receiver's row). */
#ifndef MS_PARAMS_H
#define MS_PARAMS_H

#include "../core/ap_defs.h"
#include "../model.h"
#include "../model_keys.h"

#include <stdint.h>

typedef enum { MS_CLAMP_STEP = 0, MS_CLAMP_MOMENTUM = 1, MS_CLAMP_STEP_EPS = 2 } ms_clamp;
typedef enum { MS_RULE_POST = 0, MS_RULE_PRE = 1 } ms_rule;
typedef enum { MS_FREE_EQ1 = 0, MS_FREE_FROZEN = 1 } ms_free;
typedef enum { MS_RANGE_PM1 = 0, MS_RANGE_01 = 1 } ms_range;
typedef enum { MS_ORDER_FILE = 0, MS_ORDER_SHUFFLED = 1 } ms_order;

/* The keys (kernels/model_keys.h): X(kind, section, member, ...); the defaults are the
 * paper's protocol. V = pixels + labels x label_copies. */
// clang-format off
#define MS_KEYS(X)                                                                                 \
  X(U64, model, seed, 0, AP_BIG, 1,                                                                \
    "seed of the initial weights and state, the training order and generation")                    \
  X(INT, fixed, pixels, 1, 1e6, 784, "visible units that take the image")                          \
  X(INT, fixed, labels, 2, 1e4, 10, "labels (classes) of the data")                                \
  X(INT, fixed, label_copies, 1, 1e4, 1,                                                           \
    "visible units per label, each clamped to the label's target and read as their sum: "          \
    "more synapses, so more drive, from the label (generation)")                                   \
  X(INT, fixed, hidden, 1, 1e6, 2048, "hidden units")                                              \
  X(REAL, model, eps, AP_POS, 0.2, "epsilon: the state's step per iteration (eqs. 1, 11)")         \
  X(REAL, model, m, AP_UNIT, 0.4, "momentum inertia of clamped phases (eq. 12)")                   \
  X(REAL, model, beta, AP_NONNEG, 0.8,                                                             \
    "the clamp's strength (eq. 8; the paper's text: 0.8, Algorithm 1: 1.0)")                       \
  X(REAL, model, alpha, AP_NONNEG, 0.001, "learning rate (eq. 7); 0: no learning")                 \
  X(INT, model, cycles, 1, 1e6, 10, "T: (clamped, free) phase pairs per training image (Algorithm 1)")\
  X(INT, model, iterations, 1, 1e6, 32, "iterations per phase")                                    \
  X(INT, model, test_cycles, 1, 1e6, 3,                                                            \
    "(clamped, free) pairs per test image and per generated sample")                               \
  X(REAL, model, init_scale, AP_NONNEG, 0.1, "weights and biases start in U(-s, s)")               \
  X(REAL, model, state_scale, AP_NONNEG, 0.1,                                                      \
    "states start (and generation starts) in U(-s, s), velocity 0")                                \
  X(CHOICE, model, clamp, "step|momentum|step_eps", MS_CLAMP_STEP,                                 \
    "where beta acts: step (s += eps v + beta (d - s)) | momentum (inside the velocity) | "        \
    "step_eps (s += eps v + eps beta (d - s))")                                                    \
  X(CHOICE, model, rule, "post|pre", MS_RULE_POST,                                                 \
    "post: dW[j->i] = alpha drho_i rho_j (receiver's change) | pre: alpha drho_j rho_i "           \
    "(the literal indices)")                                                                       \
  X(CHOICE_AS, model, "free", free_phase, "eq1|frozen", MS_FREE_EQ1,                               \
    "free phase: eq1 (s += eps (R - s)) | frozen (eq. 12 with m = 0: the velocity "                \
    "keeps its value)")                                                                            \
  X(CHOICE, model, data_range, "pm1|01", MS_RANGE_PM1,                                             \
    "clamp values: pm1 (pixels 2x - 1, labels +-1) | 01 (pixels x, labels 0/1)")                   \
  X(CHOICE, model, smoothing, "off|on", 0,                                                         \
    "paper 2.7: also dW[j->i] -= alpha ds_i rho'(s_i) rho_j with ds = R - s")                      \
  X(CHOICE, model, order, "file|shuffled", MS_ORDER_FILE,                                          \
    "training images in file order or shuffled per pass")                                          \
  X(INT, train, presentations, 1, 1e9, 10000,                                                      \
    "training images per record (the run: epochs x presentations)")                                \
  X(INT, train, test_samples, -1, 1e9, 500,                                                        \
    "test accuracy every record on the first N test images (-1: all)")                             \
  X(INT, train, train_eval, 0, 1e9, 500,                                                           \
    "training accuracy every record on the first N training images, read like a test")             \
  X(INT, train, full_test_every, 0, 1e9, 0,                                                        \
    "every N records, the accuracy on the whole test set (0: never)")                              \
  X(INT, train, gen_samples, 0, 1e4, 0, "generated samples per label (0: no generation)")          \
  X(INT, train, gen_every, 1, 1e9, 1, "generate every N records (set it to epochs for the end only)")
// clang-format on

typedef struct MsParams {
  MS_KEYS(AP_KEY_MEMBER)
} MsParams;

/* One replica's constants in the form the iteration uses them. */
typedef struct MsConst {
  float eps, m, one_m, beta, eps_beta, alpha, state_scale;
  int clamp, rule, free_phase, smoothing, data_range, order;
  int cycles, iterations, test_cycles;
  int presentations, n_test, train_eval, full_test_every, gen_samples, gen_every;
  int n_full, n_gen; /* the full test's images (n_val, 0: none) and the generated samples */
  long long units;   /* of a record (ms_units): its presentations, then the read-outs' */
  uint64_t seed;
} MsConst;

/* A record's units, in parts: its training presentations, then the read-outs' images:
 * the test's (n_test), train_eval's, the full test's (n_full; every record has them, the
 * records full_test_every names run them) and the generated samples (n_gen; likewise by
 * gen_every). A unit a record does not run costs nothing. */
enum { MS_PART_TRAIN, MS_PART_TEST, MS_PART_TRAIN_EVAL, MS_PART_FULL, MS_PART_GEN, MS_PARTS };

AP_HD long long ms_part_len(const MsConst *k, int part) {
  switch (part) {
  case MS_PART_TRAIN:
    return k->presentations;
  case MS_PART_TEST:
    return k->n_test;
  case MS_PART_TRAIN_EVAL:
    return k->train_eval;
  case MS_PART_FULL:
    return k->n_full;
  default:
    return k->n_gen;
  }
}

AP_HD long long ms_part_start(const MsConst *k, int part) {
  long long a = 0;
  for (int q = 0; q < part; q++) a += ms_part_len(k, q);
  return a;
}

AP_HD long long ms_units_of(const MsConst *k) { return ms_part_start(k, MS_PARTS); }

/* Whether record e runs the part's units. */
AP_HD int ms_part_runs(const MsConst *k, int part, int e) {
  if (part == MS_PART_FULL) return k->full_test_every > 0 && (e + 1) % k->full_test_every == 0;
  if (part == MS_PART_GEN) return k->n_gen > 0 && (e + 1) % k->gen_every == 0;
  return 1;
}

/* Sizes, with the internal padding: every row and every segment of the unit vector
 * starts at a multiple of 16 floats. Internal unit order: hidden 0..H-1, zeros up to Hp,
 * visible 0..V-1, zeros up to Hp + Vp = Np. A hidden receiver's row holds its weights
 * from the Np units in that order; a visible receiver's row those from the Hp hidden. */
typedef struct MsDims {
  int P, C, K, V, H; /* pixels, labels, units per label, visible (P + C K), hidden */
  int Hp, Vp, Np;
  int F; /* floats of a record's series (MsSeries.width; ms_dims sets it, ms_dims_of not) */
} MsDims;

#define MS_PAD 16 /* the dot products sum in 16 interleaved partial sums (ms_equations.h) */

AP_HD MsDims ms_dims_of(int pixels, int labels, int copies, int hidden) {
  MsDims d;
  d.P = pixels;
  d.C = labels;
  d.K = copies;
  d.V = pixels + labels * copies;
  d.H = hidden;
  d.Hp = (hidden + MS_PAD - 1) / MS_PAD * MS_PAD;
  d.Vp = (d.V + MS_PAD - 1) / MS_PAD * MS_PAD;
  d.Np = d.Hp + d.Vp;
  d.F = 0;
  return d;
}

/* Offsets of a record's series (floats into a replica's record). */
typedef struct MsSeries {
  int train_acc_c, train_acc_f, test_acc_c, test_acc_f, full_acc_c, full_acc_f;
  int mean_abs_w, mean_abs_s, max_abs_s, energy, generated, diverged;
  int width;
} MsSeries;

#ifdef __cplusplus
extern "C" {
#endif
MsDims ms_dims(const MsParams *p);
void ms_const_init(MsConst *k, const MsParams *p, const ApData *data);
ap_status ms_layout_init(const MsParams *p, ApLayout *out, MsSeries *ser);
/* For benchmarks (ms_cpu.c): n iterations of a training clamped phase (learn) or of a
 * free phase on every replica of a CPU cohort, scheduled as records are. */
ap_status ms_cpu_iterations(ApCohort *c, int learn, int n, ApError *err);
/* The memory of a CPU cohort (ms_cpu.c). */
void ms_cpu_memory(const ApCohortSpec *spec, ApCohortMem *out);
/* Test images a record reads (the first n of the test set). */
int ms_test_count(const MsParams *p, const ApData *data);
#ifdef __cplusplus
}
#endif

#endif
