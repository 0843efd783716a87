/* φ (thesis eq. 2.2, reference soft_relu) and the polynomials behind it. */
#include "kernels/core/ap_math.h"
#include "kernels/mc/mc_equations.h"
#include "kernels/mc/mc_params.h"

#include <criterion/criterion.h>
#include <math.h>

static double phi_ref(double x) { return log1p(exp(x)); }

Test(phi, matches_log1p_exp_inside_the_thresholds) {
  double worst = 0;
  for (int i = 0; i <= 300000; i++) {
    float x = -14.999f + 29.998f * (float)i / 300000.0f;
    double want = phi_ref(x), got = mc_phi(x, 1, 1, 0);
    double rel = fabs(got - want) / want;
    if (rel > worst) worst = rel;
  }
  /* float32 has 6e-8 relative resolution; allow a few ulp */
  cr_assert_lt(worst, 4e-7, "max relative error %g", worst);
}

Test(phi, thresholds_follow_the_reference) {
  cr_assert_eq(mc_phi(-15.0001f, 1, 1, 0), 0.0f);
  cr_assert_eq(mc_phi(-1000.0f, 1, 1, 0), 0.0f);
  /* the reference's quirk: exactly -15 is neither < -15 nor inside (-15, 15) */
  cr_assert_eq(mc_phi(-15.0f, 1, 1, 0), -15.0f);
  cr_assert_eq(mc_phi(15.0f, 1, 1, 0), 15.0f);
  cr_assert_eq(mc_phi(123.5f, 1, 1, 0), 123.5f);
  cr_assert_float_eq(mc_phi(0.0f, 1, 1, 0), (float)log(2.0), 1e-7);
  cr_assert_float_eq(mc_phi(14.99f, 1, 1, 0), (float)phi_ref(14.99f), 2e-6);
}

Test(phi, gamma_beta_theta_scale_and_shift) {
  float g = 2.5f, b = 0.5f, t = 1.0f;
  for (float x = -20; x < 40; x += 0.37f) {
    double z = b * (x - t);
    double want = z < -15 ? 0 : z < 15 ? g * phi_ref(z) : g * z;
    cr_assert_float_eq(mc_phi(x, g, b, t), (float)want, 1e-6 * (fabs(want) + 1), "x = %g", x);
  }
}

Test(phi, is_monotone_and_nan_propagates) {
  float prev = mc_phi(-14.9f, 1, 1, 0);
  for (float x = -14.9f; x < 14.9f; x += 0.001f) {
    float y = mc_phi(x, 1, 1, 0);
    cr_assert_geq(y, prev, "not monotone at %g", x);
    prev = y;
  }
  cr_assert(isnan(mc_phi(NAN, 1, 1, 0)));
}

Test(math, exp_and_log1p_polynomials) {
  double we = 0, wl = 0;
  for (int i = 0; i <= 100000; i++) {
    float x = -87.0f * (float)i / 100000.0f, t = (float)i / 100000.0f;
    double e = fabs(ap_exp_nonpos(x) - exp(x)) / exp(x);
    double l = t > 0 ? fabs(ap_log1p_unit(t) - log1p(t)) / log1p(t) : fabs(ap_log1p_unit(t));
    we = e > we ? e : we;
    wl = l > wl ? l : wl;
  }
  cr_assert_lt(we, 3e-7, "exp max relative error %g", we);
  cr_assert_lt(wl, 3e-7, "log1p max relative error %g", wl);
  cr_assert_eq(ap_log1p_unit(1e-30f), 1e-30f); /* tiny arguments stay exact */
}

Test(equations, soma_and_plasticity_by_hand) {
  /* hidden pyramid: gl .03, gb .1, ga .06; v_bas 0.8, v_api -0.2, u 0.1 */
  float g = 0.19f, ss = mc_steady_state(0.1f, 0.8f, 0.06f, -0.2f, g);
  cr_assert_float_eq(ss, (0.1 * 0.8 + 0.06 * -0.2) / 0.19, 1e-7);
  float udot = mc_udot(g, ss, 0.1f);
  cr_assert_float_eq(udot, 0.19 * ((0.08 - 0.012) / 0.19 - 0.1), 1e-7);
  cr_assert_float_eq(mc_euler(0.1f, 0.1f, udot), 0.1 + 0.1 * udot, 1e-7);
  cr_assert_float_eq(mc_prospective(0.1f, 1.0f / g, udot), ss, 1e-7); /* ŭ is the steady state */
  float err = mc_dendritic_error(mc_phi(0.5f, 1, 1, 0), 0.1f / 0.19f, 0.8f, 1, 1, 0);
  cr_assert_float_eq(err, log1p(exp(0.5)) - log1p(exp(0.8 * 0.1 / 0.19)), 2e-7);
  cr_assert_float_eq(mc_weight_step(1.0f, 0.005f * err, 0.7f), 1.0 + 0.005 * err * 0.7, 1e-7);
  cr_assert_eq(mc_clip(mc_weight_step(3.9999f, 1.0f, 1.0f), 4.0f), 4.0f);
  cr_assert_eq(mc_clip(mc_weight_step(-3.9999f, -1.0f, 1.0f), 4.0f), -4.0f);
  cr_assert_eq(mc_clip(-0.25f, 4.0f), -0.25f);
  /* a diverged weight stays visible: NaN in, NaN out (not +w_max) */
  cr_assert(isnan(mc_clip(NAN, 4.0f)), "mc_clip(NaN) = %g", mc_clip(NAN, 4.0f));
  cr_assert(isnan(mc_weight_step_clipped(1.0f, NAN, 1.0f, 4.0f)));
  cr_assert_eq(mc_clip(INFINITY, 4.0f), 4.0f);
  cr_assert_eq(mc_clip(-INFINITY, 4.0f), -4.0f);
  cr_assert_eq(mc_clip(4.0f, 4.0f), 4.0f);
  cr_assert_float_eq(mc_lowpass(0.2f, 1.0f, 1.0f), 1.0f, 0); /* τ0 = dt: the input jumps */
  cr_assert_float_eq(mc_lowpass(0.2f, 1.0f, 0.25f), 0.4f, 1e-7);
  cr_assert_float_eq(mc_selfpred_rho(0.03, 0.1, 0.0, 0.1), 1.0, 1e-15);
}

/* log and the normal quantile behind the spike counts' normal branch (mc_poisson_normal),
 * against double precision: log to a few ulp over normal floats (absolute below 1), the quantile to
 * a few parts in a million over (1e-7, 1 - 1e-7), both tails included. ap_rint rounds. */
Test(math, log_normal_quantile_and_rint) {
  double wl = 0, wz = 0;
  for (int i = 0; i <= 200000; i++) {
    float x = ldexpf(1.0f + (float)(i % 1000) / 1000.0f, i / 1000 - 100); /* 2^-100 .. 2^100 */
    /* relative, and absolute near x = 1 (where e ln2 + log1p(m - 1) cancels) */
    double l = fabs(ap_log(x) - log(x)) / fmax(fabs(log(x)), 1.0);
    wl = l > wl ? l : wl;
  }
  for (int i = 1; i < 100000; i++) {
    double t = (double)i / 100000.0;
    float u = (float)(t < 0.5 ? pow(1e-7, 1 - 2 * t) * 0.5 : 1 - 0.5 * pow(1e-7, 2 * t - 1));
    double lo = -9, hi = 9; /* the double-precision quantile of u, by bisection */
    for (int k = 0; k < 100; k++) {
      double mid = (lo + hi) / 2;
      if (0.5 * erfc(-mid / sqrt(2.0)) < (double)u)
        lo = mid;
      else
        hi = mid;
    }
    double z = ap_norm_quantile(u), e = fabs(z - lo) / fmax(fabs(lo), 1.0);
    wz = e > wz ? e : wz;
  }
  cr_assert_lt(wl, 3e-7, "log max relative error %g", wl);
  cr_assert_lt(wz, 1e-6, "normal quantile max relative error %g", wz);
  cr_assert_eq(ap_rint(2.5f), 2.0f);
  cr_assert_eq(ap_rint(3.5f), 4.0f);
  cr_assert_eq(ap_rint(-1.4f), -1.0f);
  cr_assert_eq(ap_rint(123456.7f), 123457.0f);
  cr_assert(isinf(ap_rint(INFINITY)));
}
