/* The dendritic cortical microcircuit, one equation per function (shared/MODELS.md §1;
 * seed 001 = J. Gille's thesis; reference = unibe-cns/le_NeurIPS_code). Every version of
 * the step calls these per neuron and per replica; nothing else in apical writes these
 * formulas. The first part holds the equations, the second the neuron types built from
 * them, so that a step reads as calls.
 *
 * All potentials are in the reference's units (conductance-style coupling, C_m = 1). */
#ifndef MC_EQUATIONS_H
#define MC_EQUATIONS_H

#include "../core/ap_math.h"

/* Transfer function φ, thesis eq. 2.2: γ log(1 + exp(β(x - θ))), 0 below and γz above
 * the ±15 thresholds on z = β(x - θ). As in the reference's soft_relu, exactly z = -15
 * falls to the linear branch (gives -15γ); the seed's form would give the soft branch.
 * Written once as lines (ap_math.h's AP_SIDE): mc_phi takes one value, mc_phi_n n side by
 * side, y[k] = φ(x[k]) (y may be x). EXPLOG: e = log(1 + exp(e)) for the value(s). */
#define MC_PHI_LINES(V, EACH, EXPLOG)                                                              \
  EACH(V(z) = V(x) - theta)                                                                        \
  EACH(V(z) = beta * V(z))                                                                         \
  EACH(V(e) = fabsf(V(z)))                                                                         \
  EACH(V(e) = -V(e))                                                                               \
  EXPLOG                                                                                           \
  EACH(V(s) = V(z) > 0.0f ? V(z) : 0.0f)                                                           \
  EACH(V(s) = V(s) + V(e)) /* the soft branch */                                                   \
  EACH(V(s) = (V(z) > -15.0f && V(z) < 15.0f) ? V(s) : V(z))                                       \
  EACH(V(s) = V(z) < -15.0f ? 0.0f : V(s))                                                         \
  EACH(V(y) = gamma * V(s))
AP_HD float mc_phi(float x, float gamma, float beta, float theta) {
  float z, e, s, y;
  MC_PHI_LINES(AP_ONE, AP_ONE_EACH, e = ap_log1p_unit(ap_exp_nonpos(e));)
  return y;
}
AP_SIDE_FN void mc_phi_n(float *y, const float *x, int n, float gamma, float beta, float theta) {
  float z[AP_SIDE_MAX], e[AP_SIDE_MAX], s[AP_SIDE_MAX];
  MC_PHI_LINES(AP_KTH, AP_KTH_EACH, ap_exp_nonpos_n(e, e, n); ap_log1p_unit_n(e, e, n);)
}

/* Input and target low-pass, MODELS.md §1 step 1: y += dt/τ0 (x - y); mc_lowpass_n: n
 * values side by side (AP_SIDE), y[k] from x[k]. */
#define MC_LOWPASS_LINES(V, EACH)                                                                  \
  EACH(V(d) = V(x) - V(y))                                                                         \
  EACH(V(y) = fmaf(dt_over_tau0, V(d), V(y)))
AP_HD float mc_lowpass(float y, float x, float dt_over_tau0) {
  float d;
  MC_LOWPASS_LINES(AP_ONE, AP_ONE_EACH)
  return y;
}
AP_SIDE_FN void mc_lowpass_n(float *y, const float *x, int n, float dt_over_tau0) {
  float d[AP_SIDE_MAX];
  MC_LOWPASS_LINES(AP_KTH, AP_KTH_EACH)
}

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

/* The reference clips W_up to [-w_max, w_max] after every update. A NaN stays NaN, so a
 * diverged weight remains visible. Written so that each comparison is one min/max
 * instruction (minps(a, b) = a < b ? a : b) without -ffast-math. */
#define MC_CLIP_LINES(V, EACH)                                                                     \
  EACH(V(h) = w_max < V(w) ? w_max : V(w))                                                         \
  EACH(V(y) = -w_max > V(h) ? -w_max : V(h))
AP_HD float mc_clip(float w, float w_max) {
  float h, y;
  MC_CLIP_LINES(AP_ONE, AP_ONE_EACH)
  return y;
}
/* n weights side by side (AP_SIDE): y[k] = mc_clip(w[k]) (y may be w) */
AP_SIDE_FN void mc_clip_n(float *y, const float *w, int n, float w_max) {
  float h[AP_SIDE_MAX];
  MC_CLIP_LINES(AP_KTH, AP_KTH_EACH)
}

/* ---- neuron types ------------------------------------------------------------------- */

/* Each type's u̇ is mc_udot(g_tot, its steady state, u); the steady states are functions
 * of their own so that a step can take several types' divisions side by side. */

/* Hidden pyramidal neuron, thesis eqs. 2.3-2.5: u̇ from the basal and apical dendrites. */
AP_HD float mc_pyramid_steady(float v_bas, float v_api, float gb, float ga, float g_pyr) {
  return mc_steady_state(gb, v_bas, ga, v_api, g_pyr);
}
AP_HD float mc_pyramid_udot(float u, float v_bas, float v_api, float gb, float ga, float g_pyr) {
  return mc_udot(g_pyr, mc_pyramid_steady(v_bas, v_api, gb, ga, g_pyr), u);
}

/* Interneuron, thesis eq. 2.6: its dendrite, and its sister pyramid's potential (u, or ŭ
 * under LE) nudging the soma. */
AP_HD float mc_interneuron_steady(float v_den, float u_sister, float gb, float gsom, float g_inn) {
  return mc_steady_state(gb, v_den, gsom, u_sister, g_inn);
}
AP_HD float mc_interneuron_udot(float u, float v_den, float u_sister, float gb, float gsom,
                                float g_inn) {
  return mc_udot(g_inn, mc_interneuron_steady(v_den, u_sister, gb, gsom, g_inn), u);
}

/* Output pyramid, thesis eq. 2.9: the basal dendrite and, while nudged, the target. The
 * conductance of u̇ stays gl + gb + gsom without a target (reference). */
AP_HD float mc_output_steady(float v_bas, float nudge, float u_tgt, float gb, float gsom,
                             float g_out, float g_free) {
  return nudge != 0.0f ? mc_steady_state(gb, v_bas, gsom, u_tgt, g_out)
                       : mc_steady_state(gb, v_bas, 0.0f, 0.0f, g_free);
}
AP_HD float mc_output_udot(float u, float v_bas, float nudge, float u_tgt, float gb, float gsom,
                           float g_out, float g_free) {
  return mc_udot(g_out, mc_output_steady(v_bas, nudge, u_tgt, gb, gsom, g_out, g_free), u);
}

/* Under LE the target and the nudging flag reach the output one step late (reference
 * network.py): the value of the previous step, else this step's. */
AP_HD float mc_le_delayed(float le, float previous, float now) {
  return le != 0.0f ? previous : now;
}

/* What a neuron shows: ŭ under LE (the readout, the interneurons' nudging), else u. */
AP_HD float mc_shown(float le, float u, float forw) { return le != 0.0f ? forw : u; }

/* One synapse of a clipped row (W_up): the Urbanczik-Senn step, then the clip. */
AP_HD float mc_weight_step_clipped(float w, float g, float r_pre, float w_max) {
  return mc_clip(mc_weight_step(w, g, r_pre), w_max);
}

/* The readout of a sample accumulates mean(u) (ŭ under LE) from out_lag on. */
AP_HD float mc_readout(float acc, float step_in_sample, float lag, float shown, float readout_n) {
  float gate = step_in_sample >= lag ? 1.0f : 0.0f;
  return fmaf(gate, shown / readout_n, acc);
}

/* ---- spikes (the Poisson-spiking variant, thesis 2.6, MODELS.md §1) ------------------- */

/* Up to this mean count a step's spike count is drawn exactly, by inversion; above it (a
 * rate scale ψ·φ·dt this large is nearly normal, skew < 0.25) by the normal quantile with
 * the exact mean and variance, rounded. */
#define MC_POISSON_EXACT 16.0f

/* The last count inversion looks at (λ <= MC_POISSON_EXACT): the tail beyond it has
 * probability below 1e-12. A float, round(λ + 8 sqrt λ) + 10. */
AP_HD float mc_poisson_kmax(float lam) { return ap_rint(fmaf(8.0f, sqrtf(lam), lam)) + 10.0f; }

/* The mean count of a rate: λ = ψ φ dt, and 0 for what is not a positive number (a
 * diverged neuron, or φ = 0), so that every count is defined. */
AP_HD float mc_spike_mean(float rate, float psi_dt) {
  float lam = rate * psi_dt;
  return lam > 0.0f ? lam : 0.0f;
}

/* e^-λ for λ >= 0, 0 where float has no room for it (no branch: the lanes vectorise). */
AP_HD float mc_exp_neg(float lam) {
  float e = ap_exp_nonpos(lam < 87.0f ? -lam : -87.0f);
  return lam < 87.0f ? e : 0.0f;
}

/* The inversion's recurrence P(k) = P(k-1) λ / k, with 1/k given. */
AP_HD float mc_poisson_next(float p, float lam, float inv_k) { return p * lam * inv_k; }

/* A count for a mean above MC_POISSON_EXACT: round(λ + sqrt(λ) z(u)), at least 0; an
 * infinite mean (a diverged neuron) sends infinitely many, so the divergence travels. */
AP_HD float mc_poisson_normal(float lam, float u) {
  float n = ap_rint(fmaf(sqrtf(lam), ap_norm_quantile(u), lam));
  n = lam <= 3.0e38f ? n : lam;
  return n > 0.0f ? n : 0.0f;
}

/* The spikes of one step, thesis eqs. 2.17-2.18: n ~ Poisson(λ), λ = mc_spike_mean, from
 * one uniform u in (0, 1), by inversion: n is the number of k >= 1 with u above P(n < k),
 * computed as the remainder r = u - P(n < k), at most mc_poisson_kmax. The reference form;
 * the step body runs the same recurrence with the lanes side by side (tests/test_spiking.c
 * holds them to the same counts). */
AP_HD float mc_poisson_count(float lam, float u) {
  if (lam > MC_POISSON_EXACT) return mc_poisson_normal(lam, u);
  float p = mc_exp_neg(lam), r = u - p, kmax = mc_poisson_kmax(lam), n = 0.0f;
  for (float k = 1.0f; k <= kmax && r > 0.0f; k += 1.0f) {
    n = k;
    p = mc_poisson_next(p, lam, 1.0f / k);
    r -= p;
  }
  return n;
}

/* With a refractory period, thesis eq. 2.19: one spike with probability 1 - exp(-λ) unless
 * the neuron is refractory (ref > 0 steps left, counting down); a spike starts n_ref silent
 * steps. Returns the count (0 or 1) and updates *ref. */
AP_HD float mc_spike_refractory(float lam, float u, float *ref, float n_ref) {
  float fire = *ref <= 0.0f && u < 1.0f - mc_exp_neg(lam) ? 1.0f : 0.0f;
  *ref = fire != 0.0f ? n_ref : (*ref > 0.0f ? *ref - 1.0f : 0.0f);
  return fire;
}

#endif
