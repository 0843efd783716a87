/* The equations of the LIF-STDP model, each in one place (shared/MODELS.md §3): one
 * neuron's step (NEST's iaf_psc_alpha and iaf_psc_exp update, in NEST's order), a Poisson
 * count, and stdp_synapse's facilitation and depression. Every fused multiply-add is
 * written out (ap_math.h), so both backends give the same bits. */
#ifndef LS_EQUATIONS_H
#define LS_EQUATIONS_H

#include "../core/ap_math.h"
#include "ls_params.h"

#include <stdint.h>

#ifndef LS_FN
#define LS_FN AP_HD
#endif

/* One neuron's state. dI is alpha's second variable (zero under exp). */
typedef struct LsNeuron {
  float v, i_ex, di_ex, i_in, di_in;
  int refr; /* steps of refractoriness left */
} LsNeuron;

/* One step of h for a neuron of propagators P, whose weighted input spikes of this step
 * (pA) are in_ex and in_in; returns 1 when it spikes. As NEST: the potential advances
 * with the currents of the step's start (unless refractory), then the currents advance
 * and take this step's spikes, then the threshold is checked. Written without branches
 * on the state, so that a loop over neurons vectorises (psc is the same for all). */
LS_FN int ls_neuron_step(LsNeuron *n, const LsProp *P, int psc, int ref_steps, float in_ex,
                         float in_in) {
  float v;
  if (psc == LS_PSC_ALPHA) {
    float acc = P->p30 * P->i_e;
    acc = fmaf(P->p31_ex, n->di_ex, acc);
    acc = fmaf(P->p32_ex, n->i_ex, acc);
    acc = fmaf(P->p31_in, n->di_in, acc);
    acc = fmaf(P->p32_in, n->i_in, acc);
    v = fmaf(P->expm1_m, n->v, acc) + n->v;
    n->i_ex = fmaf(P->p21_ex, n->di_ex, P->p11_ex * n->i_ex);
    n->di_ex = fmaf(P->psc_ex, in_ex, n->di_ex * P->p11_ex);
    n->i_in = fmaf(P->p21_in, n->di_in, P->p11_in * n->i_in);
    n->di_in = fmaf(P->psc_in, in_in, n->di_in * P->p11_in);
  } else {
    float acc = P->p30 * P->i_e;
    acc = fmaf(P->p32_ex, n->i_ex, acc);
    acc = fmaf(P->p32_in, n->i_in, acc);
    v = fmaf(n->v, P->p22_m, acc);
    n->i_ex = fmaf(n->i_ex, P->p11_ex, in_ex);
    n->i_in = fmaf(n->i_in, P->p11_in, in_in);
  }
  int free_ = n->refr == 0;
  v = free_ ? v : n->v;
  int fired = v >= P->v_th;
  n->v = fired ? P->v_reset : v;
  n->refr = fired ? ref_steps : (free_ ? 0 : n->refr - 1);
  return fired;
}

/* A Poisson count from 32 random bits: how many of the table's thresholds it passes
 * (u > thr[k] - 1: u >= thr[k], with unused entries at 2^32 - 1, never passed). Written
 * out for all 24: a loop here keeps gcc from vectorising the loop over neurons around it. */
LS_FN int ls_poisson(const LsPoisson *t, uint32_t u) {
  const uint32_t *h = t->thr1;
#ifdef __CUDA_ARCH__
  /* a GPU thread stops at the first threshold not passed (a count is 0-2 almost always):
   * the thresholds do not decrease (ls_model.c, poisson_table), so the ones passed are
   * the first ones, and their count is the same as the sum below */
  int n = 0;
  while (n < LS_POIS_MAX && u > h[n]) n++;
  return n;
#else
#define LS_P4(k) (u > h[k]) + (u > h[(k) + 1]) + (u > h[(k) + 2]) + (u > h[(k) + 3])
  return LS_P4(0) + LS_P4(4) + LS_P4(8) + LS_P4(12) + LS_P4(16) + LS_P4(20);
#undef LS_P4
#endif
}

/* x^mu for x in [0, 1] (mu 1 and 0 exact). */
LS_FN float ls_pow_unit(float x, float mu) {
  if (mu == 1.0f) return x;
  if (mu == 0.0f) return 1.0f;
  if (x <= 0.0f) return 0.0f;
  return ap_exp_nonpos(mu * ap_log(x));
}

/* stdp_synapse: a postsynaptic spike's facilitation with the presynaptic trace K+ at its
 * arrival, and a presynaptic spike's depression with the postsynaptic trace K-. */
LS_FN float ls_facilitate(const LsConst *k, float w, float kplus) {
  float x = w / k->wmax;
  float norm = fmaf(k->lambda * ls_pow_unit(1.0f - x, k->mu_plus), kplus, x);
  return norm < 1.0f ? norm * k->wmax : k->wmax;
}

LS_FN float ls_depress(const LsConst *k, float w, float kminus) {
  float x = w / k->wmax;
  float norm = x - k->alpha * k->lambda * ls_pow_unit(x, k->mu_minus) * kminus;
  return norm > 0.0f ? norm * k->wmax : 0.0f;
}

/* A weight w >= 0 (plastic weights stay in [0, Wmax]) in the fixed point of the pending
 * inputs, truncated, and a fixed-point sum back in pA, rounded once. Both go through
 * 32-bit pieces, never a conversion between float and a 64-bit integer: the same bits
 * as (int64_t)(w 2^32) and (float)x 2^-32 (the double holds x exactly), and the CUDA
 * simulator CI runs converts 64-bit integers wrongly. */
LS_FN int64_t ls_fix(float w) {
  int32_t whole = (int32_t)w; /* w < 2^31; the rest in two 16-bit pieces, all exact */
  float f = (w - (float)whole) * 65536.0f;
  int32_t hi = (int32_t)f;
  int32_t lo = (int32_t)((f - (float)hi) * 65536.0f);
  return (int64_t)(((uint64_t)(uint32_t)whole << 32) | ((uint64_t)(uint32_t)hi << 16)) + lo;
}
LS_FN double ls_int64_to_double(int64_t x) { /* exact for |x| < 2^53 */
  return (double)(int32_t)(x >> 32) * 4294967296.0 + (double)(uint32_t)(x & 0xffffffff);
}
LS_FN float ls_unfix(int64_t x) { return (float)ls_int64_to_double(x) * LS_UNFIX; }

#endif
