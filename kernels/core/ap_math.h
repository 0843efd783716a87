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

/* The standard normal quantile z(u) for u in (0, 1): z = sqrt(2) erfinv(2u - 1) with Giles'
 * single-precision erfinv (2010), its argument w = -log(1 - x^2) taken as -log(4u(1 - u)) so
 * that small u keep their digits; both branches computed, no jumps (a few parts in 1e7
 * against double precision over (1e-7, 1 - 1e-7): tests/test_math.c). */
AP_HD float ap_norm_quantile(float u) {
  float x = 2.0f * u - 1.0f;
  float w = -ap_log(4.0f * u * (1.0f - u));
  float a = w - 2.5f; /* w < 5 */
  float p = 2.81022636e-08f;
  p = fmaf(p, a, 3.43273939e-07f);
  p = fmaf(p, a, -3.5233877e-06f);
  p = fmaf(p, a, -4.39150654e-06f);
  p = fmaf(p, a, 0.00021858087f);
  p = fmaf(p, a, -0.00125372503f);
  p = fmaf(p, a, -0.00417768164f);
  p = fmaf(p, a, 0.246640727f);
  p = fmaf(p, a, 1.50140941f);
  float b = sqrtf(w) - 3.0f; /* w >= 5: the tails */
  float t = -0.000200214257f;
  t = fmaf(t, b, 0.000100950558f);
  t = fmaf(t, b, 0.00134934322f);
  t = fmaf(t, b, -0.00367342844f);
  t = fmaf(t, b, 0.00573950773f);
  t = fmaf(t, b, -0.0076224613f);
  t = fmaf(t, b, 0.00943887047f);
  t = fmaf(t, b, 1.00167406f);
  t = fmaf(t, b, 2.83297682f);
  return 1.41421356f * (w < 5.0f ? p : t) * x;
}

#endif
