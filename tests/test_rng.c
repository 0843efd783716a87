/* Philox streams: known answers, and the sample order built on them. */
#include "kernels/core/ap_rng.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

Test(rng, philox_known_answers) {
  /* Random123's published known-answer vectors for philox4x32-10 */
  philox4x32_ctr_t c = {{0, 0, 0, 0}};
  philox4x32_key_t k = {{0, 0}};
  philox4x32_ctr_t r = philox4x32(c, k);
  uint32_t want0[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
  for (int i = 0; i < 4; i++) cr_assert_eq(r.v[i], want0[i]);
  philox4x32_ctr_t c2 = {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}};
  philox4x32_key_t k2 = {{0xa4093822, 0x299f31d0}};
  r = philox4x32(c2, k2);
  uint32_t want1[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
  for (int i = 0; i < 4; i++) cr_assert_eq(r.v[i], want1[i]);
  /* ap_rng_u32 is word i%4 of the block at counter (domain, a, b, i/4), key = seed */
  philox4x32_ctr_t c3 = {{2, 7, 1, 5}};
  philox4x32_key_t k3 = {{0x9abcdef0u, 0x12345678u}};
  r = philox4x32(c3, k3);
  for (uint32_t i = 20; i < 24; i++)
    cr_assert_eq(ap_rng_u32(0x123456789abcdef0ull, 2, 7, 1, i), r.v[i - 20]);
}

Test(rng, uniform_is_in_the_unit_interval) {
  cr_assert_eq(ap_u01(0), 0.0f);
  cr_assert_lt(ap_u01(0xffffffffu), 1.0f);
  double sum = 0;
  for (uint32_t i = 0; i < 100000; i++) sum += ap_u01(ap_rng_u32(3, AP_RNG_WEIGHTS, 0, 0, i));
  cr_assert_lt(fabs(sum / 100000 - 0.5), 0.005, "mean %g", sum / 100000);
}

Test(rng, sample_order_is_a_uniform_permutation) {
  enum { N = 8, TRIALS = 16000 };
  int count[N][N] = {{0}};
  for (uint32_t e = 0; e < TRIALS; e++) {
    uint32_t perm[N];
    int seen[N] = {0};
    ap_sample_order(perm, 1, N, 42, e, 0);
    for (int i = 0; i < N; i++) {
      cr_assert_lt(perm[i], (uint32_t)N);
      cr_assert_eq(seen[perm[i]]++, 0, "value %u twice", perm[i]);
      count[i][perm[i]]++;
    }
  }
  /* each (position, value) pair has probability 1/8: 2000 expected, sd about 42 */
  for (int i = 0; i < N; i++)
    for (int v = 0; v < N; v++)
      cr_assert(abs(count[i][v] - TRIALS / N) < 250, "position %d value %d: %d", i, v, count[i][v]);
}

Test(rng, orders_differ_by_epoch_phase_and_seed_and_repeat_exactly) {
  uint32_t a[100], b[100], c[100], d[100], a2[100];
  ap_sample_order(a, 1, 100, 1, 0, 0);
  ap_sample_order(b, 1, 100, 1, 1, 0);
  ap_sample_order(c, 1, 100, 1, 0, 1);
  ap_sample_order(d, 1, 100, 2, 0, 0);
  ap_sample_order(a2, 1, 100, 1, 0, 0);
  cr_assert(memcmp(a, b, sizeof a) && memcmp(a, c, sizeof a) && memcmp(a, d, sizeof a));
  cr_assert_eq(memcmp(a, a2, sizeof a), 0);
  uint32_t one[1];
  ap_sample_order(one, 1, 1, 5, 3, 0);
  cr_assert_eq(one[0], 0u);
  /* interleaved (a lane block, a GPU array): the same permutation at every stride */
  uint32_t wide[100 * 3];
  ap_sample_order(wide + 1, 3, 100, 1, 0, 0);
  for (int i = 0; i < 100; i++) cr_assert_eq(wide[3 * i + 1], a[i]);
}
