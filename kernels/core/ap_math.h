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

/* Side by side: a function named *_n below takes n values at once (n a constant once
 * inlined, at most AP_SIDE_MAX) and takes each line of its formula for all n values before
 * the next line, one operation a line. A machine that issues in order (a GPU warp) then
 * overlaps n independent chains of dependent instructions instead of waiting out one
 * before starting the next. Each formula is written once, as a list of lines
 * (AP_*_LINES): V(a) names a value (the scalar a, or a[k]) and EACH(line) takes a line
 * once or for every k < n. The scalar function expands the lines once, on plain scalars
 * (the code gcc vectorises across replicas, as before); the *_n one for each k. Both
 * round identically: the same operations on each value, in the same order. */
#define AP_SIDE_MAX 16
#if defined(__CUDA_ARCH__)
#define AP_SIDE(k, n) _Pragma("unroll") for (int k = 0; k < (n); k++)
#else
#define AP_SIDE(k, n) for (int k = 0; k < (n); k++)
#endif
#define AP_ONE(a) (a)
#define AP_ONE_EACH(line) line;
#define AP_KTH(a) (a)[k]
#define AP_KTH_EACH(line) AP_SIDE(k, n) line;
#ifdef __CUDACC__
#define AP_SIDE_FN __host__ __device__ __forceinline__
#else
#define AP_SIDE_FN static inline
#endif

/* e^x for x in [-87, 0]: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial in r (magic =
 * 1.5 * 2^23: adding it rounds to an integer). Values x, y; scratch e, r, p. */
#define AP_EXP_NONPOS_LINES(V, EACH)                                                               \
  EACH(V(e) = fmaf(V(x), 1.44269504088896341f, 12582912.0f))                                       \
  EACH(V(e) = V(e) - 12582912.0f)                                                                  \
  EACH(V(r) = -V(e))                                                                               \
  EACH(V(r) = fmaf(V(r), 0.693359375f, V(x)))                                                      \
  EACH(V(r) = fmaf(V(e), 2.12194440e-4f, V(r)))                                                    \
  EACH(V(p) = fmaf(1.9875691500e-4f, V(r), 1.3981999507e-3f))                                      \
  EACH(V(p) = fmaf(V(p), V(r), 8.3334519073e-3f))                                                  \
  EACH(V(p) = fmaf(V(p), V(r), 4.1665795894e-2f))                                                  \
  EACH(V(p) = fmaf(V(p), V(r), 1.6666665459e-1f))                                                  \
  EACH(V(p) = fmaf(V(p), V(r), 5.0000001201e-1f))                                                  \
  EACH(V(p) = V(p) * V(r))                                                                         \
  EACH(V(p) = fmaf(V(p), V(r), V(r)))                                                              \
  EACH(V(p) = V(p) + 1.0f)                                                                         \
  EACH(V(r) = ap_pow2i((int32_t)V(e)))                                                             \
  EACH(V(y) = V(p) * V(r))
AP_HD float ap_exp_nonpos(float x) {
  float e, r, p, y;
  AP_EXP_NONPOS_LINES(AP_ONE, AP_ONE_EACH)
  return y;
}
/* y[k] = e^x[k] for k < n (y may be x) */
AP_SIDE_FN void ap_exp_nonpos_n(float *y, const float *x, int n) {
  float e[AP_SIDE_MAX], r[AP_SIDE_MAX], p[AP_SIDE_MAX];
  AP_EXP_NONPOS_LINES(AP_KTH, AP_KTH_EACH)
}

/* log(1 + t) for t in [0, 1], Cephes' log1pf without branches: for t <= sqrt(2) - 1 the
 * polynomial runs on t itself (no rounding of 1 + t, so tiny t stay exact); above, on
 * (1 + t)/2 - 1 with one exponent b = 1 split off. Values t, y; scratch m, b, z, q. */
#define AP_LOG1P_UNIT_LINES(V, EACH)                                                               \
  EACH(V(m) = 1.0f + V(t))                                                                         \
  EACH(V(m) = fmaf(0.5f, V(m), -1.0f))                                                             \
  EACH(V(b) = V(t) > 0.41421356237f ? 1.0f : 0.0f)                                                 \
  EACH(V(m) = V(t) > 0.41421356237f ? V(m) : V(t)) /* in [-0.293, 0.414] */                        \
  EACH(V(z) = V(m) * V(m))                                                                         \
  EACH(V(q) = fmaf(7.0376836292e-2f, V(m), -1.1514610310e-1f))                                     \
  EACH(V(q) = fmaf(V(q), V(m), 1.1676998740e-1f))                                                  \
  EACH(V(q) = fmaf(V(q), V(m), -1.2420140846e-1f))                                                 \
  EACH(V(q) = fmaf(V(q), V(m), 1.4249322787e-1f))                                                  \
  EACH(V(q) = fmaf(V(q), V(m), -1.6668057665e-1f))                                                 \
  EACH(V(q) = fmaf(V(q), V(m), 2.0000714765e-1f))                                                  \
  EACH(V(q) = fmaf(V(q), V(m), -2.4999993993e-1f))                                                 \
  EACH(V(q) = fmaf(V(q), V(m), 3.3333331174e-1f))                                                  \
  EACH(V(q) = V(q) * V(m))                                                                         \
  EACH(V(q) = V(q) * V(z))                                                                         \
  EACH(V(q) = fmaf(-2.12194440e-4f, V(b), V(q)))                                                   \
  EACH(V(q) = fmaf(-0.5f, V(z), V(q)))                                                             \
  EACH(V(q) = V(m) + V(q))                                                                         \
  EACH(V(y) = fmaf(0.693359375f, V(b), V(q)))
AP_HD float ap_log1p_unit(float t) {
  float m, b, z, q, y;
  AP_LOG1P_UNIT_LINES(AP_ONE, AP_ONE_EACH)
  return y;
}
/* y[k] = log(1 + t[k]) for k < n (y may be t) */
AP_SIDE_FN void ap_log1p_unit_n(float *y, const float *t, int n) {
  float m[AP_SIDE_MAX], b[AP_SIDE_MAX], z[AP_SIDE_MAX], q[AP_SIDE_MAX];
  AP_LOG1P_UNIT_LINES(AP_KTH, AP_KTH_EACH)
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
