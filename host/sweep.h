/* Sweep items that stand for many numbers (docs/experiment-files.md, "Sweeps", defines
 * each value to the bit):
 *
 *   a..b step s                     a, a + s, a + 2s, ... as far as b
 *   linspace(a, b, n)               n values from a to b, both ends exact (numpy.linspace)
 *   logspace(a, b, n)               10^x for x in linspace(a, b, n) (numpy.logspace)
 *   uniform(a, b, n[, seed=K])      n draws, uniform in [a, b]
 *   loguniform(a, b, n[, seed=K])   n draws, uniform in log space, 0 < a < b
 *
 * The draws come from Philox4x32-10 (kernels/core/ap_rng.h, domain AP_RNG_SWEEP) keyed by
 * K (0 without seed=) and the swept key's name, so one file gives the same values
 * wherever and whenever it is read. sweep_expand.c expands integer ranges (a..b, and a..b step
 * s with integers for integer keys) itself: they stay exact past 2^53. */
#ifndef AP_SWEEP_H
#define AP_SWEEP_H

#include "kernels/core/ap_defs.h"

#define SWEEP_MAX_VALUES 1000000 /* of one item, and of one swept key */

typedef enum {
  SWEEP_VALUE,      /* a plain value: a number, a word, a [list] */
  SWEEP_RANGE,      /* a..b */
  SWEEP_STEP_RANGE, /* a..b step s */
  SWEEP_CALL        /* name(arguments) */
} SweepForm;

SweepForm sweep_form(const char *item);

/* The numbers of a SWEEP_STEP_RANGE or SWEEP_CALL item: *values (malloc'd) gets *n of
 * them, all finite. key names the stream of the random draws; key and origin (FILE:LINE
 * or --set ...) begin every message. */
ap_status sweep_numbers(const char *item, const char *key, const char *origin, double **values,
                        int *n, ApError *err);

/* 10^y rounded to the nearest double (but for a tie closer than 2^-90 of the value), the
 * same on every machine: no C library function is involved. */
double sweep_exp10(double y);

#endif
