/* Counter-based random numbers (Philox4x32-10, Random123) shared by both backends.
 *
 * The key is the replica's seed; the counter is (domain, a, b, i/4) and the draw is word
 * i%4 of the block. A draw therefore depends on the seed and on what it is for, never on
 * the backend, the batch or the replica's position in a sweep: two replicas with the
 * same seed start from the same weights and see the same sample order, which makes a
 * sweep a paired comparison. */
#ifndef AP_RNG_H
#define AP_RNG_H

#include "ap_defs.h"

#include <Random123/philox.h> /* host and device under nvcc (see its nvccfeatures.h) */
#include <stdint.h>

enum ap_rng_domain {
  AP_RNG_WEIGHTS = 1, /* a = weight matrix id, b = 0 */
  AP_RNG_ORDER = 2,   /* a = epoch, b = phase (0 train, 1 validation) */
  AP_RNG_DATA = 3,    /* generated datasets: a = sample, b = input (the label after the inputs) */
  AP_RNG_SPIKES = 4,  /* per-step spike draws: see ap_rng_block */
  AP_RNG_STATE = 5,   /* network states drawn at a record (mstdp generation): a record, b sample */
  AP_RNG_SWEEP = 8    /* sweep draws, uniform() and loguniform() (host/sweep.c): the key is their
                         seed=, a and b the key name's FNV-1a hash (6, 7: kernels/lif/ls_net.h) */
};

/* All four words of the block at counter (c0, c1, c2, c3), key = seed: for draws that
 * need a counter of their own layout (spikes: c0 = AP_RNG_SPIKES + 16 phase, c1 = epoch,
 * c2 = the step within the phase, c3 = a group of four neurons, one word each). */
AP_HD philox4x32_ctr_t ap_rng_block(uint64_t seed, uint32_t c0, uint32_t c1, uint32_t c2,
                                    uint32_t c3) {
  philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  philox4x32_ctr_t ctr = {{c0, c1, c2, c3}};
  return philox4x32(ctr, key);
}

/* Uniform in (0, 1), never 0 or 1: 24 random bits and half a step. */
AP_HD float ap_u01_open(uint32_t x) { return ((float)(x >> 8) + 0.5f) * (1.0f / 16777216.0f); }

AP_HD uint32_t ap_rng_u32(uint64_t seed, uint32_t domain, uint32_t a, uint32_t b, uint32_t i) {
  philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  philox4x32_ctr_t ctr = {{domain, a, b, i >> 2}};
  philox4x32_ctr_t out = philox4x32(ctr, key);
  return out.v[i & 3u];
}

/* Uniform in [0, 1) with 24 random bits. */
AP_HD float ap_u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* Uniform integer in [0, n) by multiply-shift (bias below n / 2^32). */
AP_HD uint32_t ap_below(uint32_t x, uint32_t n) { return (uint32_t)(((uint64_t)x * n) >> 32); }

/* Fisher-Yates shuffle of 0..n-1 into perm[i * stride], drawn from (seed, domain, a, b).
 * The stride lets a lane-blocked or GPU caller keep one permutation per replica
 * interleaved; the numbers are the same for every stride. */
AP_HD void ap_permutation_strided(uint32_t *perm, size_t stride, uint32_t n, uint64_t seed,
                                  uint32_t domain, uint32_t a, uint32_t b) {
  for (uint32_t i = 0; i < n; i++) perm[i * stride] = i;
  for (uint32_t i = n; i > 1; i--) {
    uint32_t j = ap_below(ap_rng_u32(seed, domain, a, b, n - i), i);
    uint32_t t = perm[(i - 1) * stride];
    perm[(i - 1) * stride] = perm[j * stride];
    perm[j * stride] = t;
  }
}

/* The order in which a replica sees the n samples of one phase of one epoch (the one
 * home of the sample schedule's randomness; models call it, never a copy of it). */
AP_HD void ap_sample_order(uint32_t *perm, size_t stride, uint32_t n, uint64_t seed, uint32_t epoch,
                           uint32_t phase) {
  ap_permutation_strided(perm, stride, n, seed, AP_RNG_ORDER, epoch, phase);
}

#endif
