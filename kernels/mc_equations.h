/* The dendritic cortical microcircuit, one equation per function (shared/MODELS.md §1;
 * seed 001 = J. Gille's thesis; reference = unibe-cns/le_NeurIPS_code). Both backends
 * call these per neuron and per replica; nothing else in apical writes these formulas.
 *
 * All potentials are in the reference's units (conductance-style coupling, C_m = 1). */
#ifndef MC_EQUATIONS_H
#define MC_EQUATIONS_H

#include "ap_math.h"

/* Transfer function φ, thesis eq. 2.2: γ log(1 + exp(β(x - θ))), 0 below and γz above
 * the ±15 thresholds on z = β(x - θ). As in the reference's soft_relu, exactly z = -15
 * falls to the linear branch (gives -15γ); the seed's form would give the soft branch. */
AP_HD float mc_phi(float x, float gamma, float beta, float theta) {
  float z = beta * (x - theta);
  float soft = (z > 0.0f ? z : 0.0f) + ap_log1p_unit(ap_exp_nonpos(-fabsf(z)));
  float y = (z < -15.0f) ? 0.0f : ((z > -15.0f && z < 15.0f) ? soft : z);
  return gamma * y;
}

/* Input and target low-pass, MODELS.md §1 step 1: y += dt/τ0 (x - y). */
AP_HD float mc_lowpass(float y, float x, float dt_over_tau0) { return fmaf(dt_over_tau0, x - y, y); }

/* Somatic steady state of a neuron coupled to two potentials, thesis eqs. 2.3, 2.6, 2.9
 * in the reference's form: (g1 v1 + g2 v2) / g_tot. g_tot includes the leak gl. Pass
 * g2 = 0 for an output neuron without a target. */
AP_HD float mc_steady_state(float g1, float v1, float g2, float v2, float g_tot) {
  return fmaf(g1, v1, g2 * v2) / g_tot;
}

/* Somatic derivative u̇ = g_tot (ss - u), thesis eq. 2.3 (C_m = 1). For the output
 * layer g_tot is gl + gb + gsom even when the target is off (reference). */
AP_HD float mc_udot(float g_tot, float steady, float u) { return g_tot * (steady - u); }

/* Explicit Euler step u + dt u̇. */
AP_HD float mc_euler(float u, float dt, float udot) { return fmaf(udot, dt, u); }

/* Latent-equilibrium prospective potential ŭ = u + τ u̇ with τ = 1/g_tot, thesis eq. 2.76. */
AP_HD float mc_prospective(float u, float tau, float udot) { return fmaf(tau, udot, u); }

/* One somatic step: the Euler potential u + dt u̇, the prospective ŭ = u + τ u̇, and the
 * rate the neuron transmits next step, φ(ŭ) under LE (le = 1) and φ(u) otherwise. That
 * rate is also the φ(u_post) of its plasticity rule (MODELS.md §1), so it is computed once. */
typedef struct McSoma {
  float u, forw, rate;
} McSoma;

AP_HD McSoma mc_soma_advance(float u, float udot, float dt, float tau, float le, float gamma,
                             float beta, float theta) {
  McSoma s;
  s.forw = mc_prospective(u, tau, udot);
  s.u = mc_euler(u, dt, udot);
  s.rate = mc_phi(le != 0.0f ? s.forw : s.u, gamma, beta, theta);
  return s;
}

/* Urbanczik-Senn dendritic error of a neuron, thesis eqs. 2.13/2.14 (2.70 for the form
 * used): φ(u_post) - φ(α v_dend), α the dendritic attenuation gb/(gl + gb [+ ga]). */
AP_HD float mc_dendritic_error(float phi_post, float alpha, float v_dend, float gamma, float beta,
                               float theta) {
  return phi_post - mc_phi(alpha * v_dend, gamma, beta, theta);
}

/* Weight step W += dt η err r_pre (thesis eqs. 2.13-2.15), written with the
 * postsynaptic factor g = dt η err computed once per row. The error for W_pi (eq. 2.15)
 * is -v_api. */
AP_HD float mc_weight_step(float w, float g, float r_pre) { return fmaf(g, r_pre, w); }

/* The reference clips W_up to [-w_max, w_max] after every update. The comparisons map to
 * min/max instructions without -ffast-math (fminf/fmaxf would not vectorise). */
AP_HD float mc_clip(float w, float w_max) {
  float hi = w < w_max ? w : w_max;
  return hi > -w_max ? hi : -w_max;
}

/* Self-predicting initialisation, thesis §2.3 / reference reflect(): the interneuron
 * weights copy the next layer's forward weights scaled by ρ = gb/(gl+gb+ga_next) ·
 * (gl+gd)/gd, where ga_next = 0 for the output layer. */
AP_HD double mc_selfpred_rho(double gl, double gb, double ga_next, double gd) {
  return gb / (gl + gb + ga_next) * (gl + gd) / gd;
}

#endif
