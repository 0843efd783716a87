/* Each equation of the MSTDP network once (shared/MODELS.md §2), for every backend.
 * Every rounding is fixed here (fmaf written out, no contraction): a replica gets the
 * same bits on the CPU at any SIMD width and thread count, and on the GPU. */
#ifndef MS_EQUATIONS_H
#define MS_EQUATIONS_H

#include "../core/ap_math.h"
#include "ms_params.h"

/* rho(s) = sigmoid(4 s), from e^(-4|s|) so that the exponent never overflows. */
AP_HD float ms_rho(float s) {
  float z = ap_exp_nonpos(fmaxf(-4.0f * fabsf(s), -87.0f));
  float r = 1.0f / (1.0f + z);
  return s >= 0.0f ? r : z * r;
}

/* rho'(s) = 4 rho (1 - rho), from rho. */
AP_HD float ms_drho(float rho) { return 4.0f * rho * (1.0f - rho); }

/* The canonical dot product: element j goes to partial sum j % 16, each partial sum
 * accumulates in order with fmaf, and the 16 partials are added as a tree (k + 8, + 4,
 * + 2, + 1). Both backends sum in exactly this order. n is a multiple of 16. */
AP_HD void ms_tree16(float *acc) {
  for (int h = 8; h > 0; h >>= 1)
    for (int k = 0; k < h; k++) acc[k] = acc[k] + acc[k + h];
}

/* The clamp target of a visible unit: pixels x in [0, 1], the label one-hot. */
AP_HD float ms_pixel_target(float x, int range) {
  return range == MS_RANGE_PM1 ? fmaf(2.0f, x, -1.0f) : x;
}
AP_HD float ms_label_target(int on, int range) {
  return on ? 1.0f : (range == MS_RANGE_PM1 ? -1.0f : 0.0f);
}

/* What one iteration does to a unit. In: its state s, velocity v, rate rho = rho(s),
 * the input dot = sum_j W[j->i] rho_j, bias b; whether the phase is clamped (momentum,
 * eqs. 11-12) or free (eq. 1 or the frozen-velocity reading), whether this unit is
 * clamped and to what. Out: the new s and v, and ds = R - s (for the smoothing rule). */
typedef struct MsUnitStep {
  float s, v, ds;
} MsUnitStep;

AP_HD MsUnitStep ms_unit_step(const MsConst *k, float s, float v, float rho, float dot, float b,
                              int clamped_phase, int clamped, float target) {
  float R = ms_drho(rho) * (dot + b); /* eq. 2 */
  MsUnitStep o;
  o.ds = R - s;
  if (clamped_phase) {
    float pull = clamped ? target - s : 0.0f; /* d - s: the clamp's pressure (eq. 8) */
    float drive = o.ds;
    if (k->clamp == MS_CLAMP_MOMENTUM) drive = fmaf(k->beta, pull, drive);
    o.v = fmaf(k->m, drive, k->one_m * v); /* eq. 12 */
    o.s = fmaf(k->eps, o.v, s);            /* eq. 11 */
    if (k->clamp == MS_CLAMP_STEP) o.s = fmaf(k->beta, pull, o.s);
    if (k->clamp == MS_CLAMP_STEP_EPS) o.s = fmaf(k->eps_beta, pull, o.s);
  } else if (k->free_phase == MS_FREE_EQ1) {
    o.v = v;
    o.s = fmaf(k->eps, o.ds, s); /* eq. 1 */
  } else {
    o.v = v;                  /* eq. 12 with m = 0: the velocity keeps its value */
    o.s = fmaf(k->eps, v, s); /* eq. 11 */
  }
  return o;
}

/* The learning rule (eq. 7) as rank-1 updates W[i][j] += a_i x_j (+ a2_i x2_j): the
 * coefficients of unit i after an iteration that took it from rate r0 to r1. post:
 * a_i = alpha (r1 - r0), x_j = r0_j (the receiver's change times the sender's rate
 * before); pre: a_i = alpha r0_i, x_j = alpha-free (r1 - r0)_j (the literal index
 * reading). smoothing (paper 2.7, read as gradient descent on ds^2 / 2): adds
 * -alpha ds_i rho'(s_i) rho_j, into a_i (post) or as the second term (pre). db: the
 * bias step. */
typedef struct MsLearn {
  float a, x, a2, x2, db;
} MsLearn;

AP_HD MsLearn ms_learn(const MsConst *k, float r0, float r1, float ds) {
  MsLearn o;
  float dr = r1 - r0;
  float smooth = k->smoothing ? -k->alpha * (ds * ms_drho(r0)) : 0.0f;
  o.db = fmaf(k->alpha, dr, smooth);
  if (k->rule == MS_RULE_POST) {
    o.a = o.db;
    o.x = r0;
    o.a2 = 0.0f;
    o.x2 = 0.0f;
  } else {
    o.a = k->alpha * r0;
    o.x = dr;
    o.a2 = smooth;
    o.x2 = r0;
  }
  return o;
}

#endif
