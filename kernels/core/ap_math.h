/* Elementary functions written out so that gcc vectorises them across replicas
 * (libm's expf/log1pf only vectorise under -ffast-math) and so that the CPU and the
 * CUDA backends evaluate the same polynomials. Both are Cephes' single-precision
 * approximations (a few ulp at most on the ranges used here; tests/test_math.c measures).
 *
 * Every fused multiply-add in apical is written as fmaf and compilers are told not to
 * fuse on their own (gcc -ffp-contract=off, nvcc --fmad=false): the source then fixes
 * every rounding, so a replica gets the same bits on the CPU (any SIMD width) and on the
 * GPU. */
#ifndef AP_MATH_H
#define AP_MATH_H

#include "ap_defs.h"

#include <math.h>
#include <stdint.h>

/* 2^n for integer n in [-126, 127], built from the exponent bits. */
AP_HD float ap_pow2i(int32_t n) {
#ifdef __CUDA_ARCH__
  return __int_as_float((n + 127) << 23);
#else
  union {
    int32_t i;
    float f;
  } b;
  b.i = (int32_t)((uint32_t)(n + 127) << 23);
  return b.f;
#endif
}

/* x rounded to the nearest integer (ties to even) for |x| < 2^22, by the magic-number
 * trick (floorf and rintf do not vectorise without -fno-trapping-math); infinities and
 * larger numbers stay as they are, give or take their last bit. */
AP_HD float ap_rint(float x) {
  const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  return (x + magic) - magic;
}

/* e^x for x in [-87, 0]: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial in r. */
AP_HD float ap_exp_nonpos(float x) {
  const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float n = fmaf(x, 1.44269504088896341f, magic) - magic;
  float r = fmaf(n, 2.12194440e-4f, fmaf(-n, 0.693359375f, x));
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  p = fmaf(p * r, r, r) + 1.0f;
  return p * ap_pow2i((int32_t)n);
}

/* log(1 + t) for t in [0, 1], Cephes' log1pf without branches: for t <= sqrt(2) - 1 the
 * polynomial runs on t itself (no rounding of 1 + t, so tiny t stay exact); above, on
 * (1 + t)/2 - 1 with one exponent k = 1 split off. */
AP_HD float ap_log1p_unit(float t) {
  int big = t > 0.41421356237f;
  float m = big ? fmaf(0.5f, 1.0f + t, -1.0f) : t; /* in [-0.293, 0.414] */
  float k = big ? 1.0f : 0.0f;
  float z = m * m;
  float y = 7.0376836292e-2f;
  y = fmaf(y, m, -1.1514610310e-1f);
  y = fmaf(y, m, 1.1676998740e-1f);
  y = fmaf(y, m, -1.2420140846e-1f);
  y = fmaf(y, m, 1.4249322787e-1f);
  y = fmaf(y, m, -1.6668057665e-1f);
  y = fmaf(y, m, 2.0000714765e-1f);
  y = fmaf(y, m, -2.4999993993e-1f);
  y = fmaf(y, m, 3.3333331174e-1f);
  y = y * m * z;
  y = fmaf(-2.12194440e-4f, k, y);
  y = fmaf(-0.5f, z, y);
  return fmaf(0.693359375f, k, m + y);
}

/* log x for finite x > 0 (normal numbers): x = 2^e m, m in [1, 2), log x = e ln2 +
 * log1p(m - 1), with ln2 split in two as in ap_exp_nonpos. */
AP_HD float ap_log(float x) {
#ifdef __CUDA_ARCH__
  int32_t bits = __float_as_int(x);
#else
  union {
    float f;
    int32_t i;
  } b;
  b.f = x;
  int32_t bits = b.i;
#endif
  float e = (float)((bits >> 23) - 127);
  int32_t mbits = (bits & 0x007fffff) | 0x3f800000;
#ifdef __CUDA_ARCH__
  float m = __int_as_float(mbits);
#else
  b.i = mbits;
  float m = b.f;
#endif
  float y = ap_log1p_unit(m - 1.0f);
  return fmaf(e, 0.693359375f, fmaf(e, -2.12194440e-4f, y));
}

/* The standard normal quantile z(u) for u in (0, 1): Acklam's rational approximation
 * (relative error below 1.2e-9 in exact arithmetic; float here), without branches. */
AP_HD float ap_norm_quantile(float u) {
  float q = u - 0.5f, r = q * q;
  float num = fmaf(fmaf(fmaf(fmaf(fmaf(-3.969683028665376e+01f, r, 2.209460984245205e+02f), r,
                                  -2.759285104469687e+02f),
                             r, 1.383577518672690e+02f),
                        r, -3.066479806614716e+01f),
                   r, 2.506628277459239e+00f);
  float den = fmaf(fmaf(fmaf(fmaf(fmaf(-5.447609879822406e+01f, r, 1.615858368580409e+02f), r,
                                  -1.556989798598866e+02f),
                             r, 6.680131188771972e+01f),
                        r, -1.328068155288572e+01f),
                   r, 1.0f);
  float central = num * q / den;
  /* the tails, on the smaller of u and 1 - u */
  float pt = u < 0.5f ? u : 1.0f - u;
  float t = sqrtf(-2.0f * ap_log(pt));
  float tn = fmaf(fmaf(fmaf(fmaf(fmaf(-7.784894002430293e-03f, t, -3.223964580411365e-01f), t,
                                 -2.400758277161838e+00f),
                            t, -2.549732539343734e+00f),
                       t, 4.374664141464968e+00f),
                  t, 2.938163982698783e+00f);
  float td = fmaf(
      fmaf(fmaf(fmaf(7.784695709041462e-03f, t, 3.224671290700398e-01f), t, 2.445134137142996e+00f),
           t, 3.754408661907416e+00f),
      t, 1.0f);
  float tail = tn / td; /* the lower tail's (negative) value */
  float z_tail = u < 0.5f ? tail : -tail;
  return pt < 0.02425f ? z_tail : central;
}

#endif
