/* The CUDA backend against the CPU backend, bit for bit (tests/cuda_parity.h says why
 * exactly); skipped where no CUDA device answers. */
#include "cuda_parity.h"

#include <criterion/criterion.h>

static void check(int i) {
  char why[512], msg[1024] = "";
  const ApBackend *cuda = parity_cuda(why, sizeof why);
  if (!cuda) cr_skip_test("no CUDA device: %s", why);
  ap_status st = parity_run(&parity_cases[i], cuda, msg, sizeof msg);
  cr_assert_eq(st, AP_OK, "%s: %s", parity_cases[i].name, msg);
}

Test(cuda, same_numbers_as_the_cpu_for_1_replica) { check(0); }
Test(cuda, same_numbers_as_the_cpu_for_7_replicas) { check(1); }
Test(cuda, same_numbers_as_the_cpu_for_300_replicas) { check(2); }
Test(cuda, generic_kernel_same_numbers_for_300_replicas) { check(3); }
Test(cuda, deep_networks_resets_and_no_teacher_match_too) { check(4); }
Test(cuda, a_gpu_state_continues_on_the_cpu) { check(5); }
Test(cuda, runs_longer_than_one_launch_match_too) { check(6); }
Test(cuda, small_generic_kernel_case) { check(7); }
Test(cuda, small_deep_network_case) { check(8); }
Test(cuda, small_warp_case_over_three_launches) { check(9); }
Test(cuda, diverging_replicas_freeze_on_the_warp_kernel) { check(10); }
Test(cuda, diverging_replicas_freeze_on_the_generic_kernel) { check(11); }
Test(cuda, small_state_continued_on_the_cpu) { check(12); }
Test(cuda, poisson_spikes_match_for_96_replicas) { check(13); }
Test(cuda, small_poisson_case_over_two_launches) { check(14); }
Test(cuda, poisson_and_rate_continue_on_the_cpu) { check(15); }
Test(cuda, mstdp_readings_match) { check(16); }
Test(cuda, mstdp_generation_full_tests_divergence_and_launches_match) { check(17); }
Test(cuda, mstdp_state_continues_on_the_cpu) { check(18); }
Test(cuda, mstdp_wide_teams_match) { check(19); }
Test(cuda, mstdp_rows16_readings_match) { check(20); }
Test(cuda, mstdp_rows16_generation_full_tests_divergence_and_launches_match) { check(21); }
Test(cuda, mstdp_rows16_wide_teams_match) { check(22); }
Test(cuda, small_mstdp_case_with_more_units_than_threads) { check(23); }
Test(cuda, small_mstdp_rows16_case_with_more_units_than_threads) { check(24); }
Test(cuda, lif_stdp_series_state_and_raster_match) { check(25); }
Test(cuda, lif_stdp_state_and_raster_continue_on_the_cpu) { check(26); }
Test(cuda, wide_kernel_on_bars_with_test_phases) { check(27); }
Test(cuda, wide_network_auto_kernel_sums_as_the_cpu_wide_path) { check(28); }
Test(cuda, wide_network_generic_kernel_sums_as_the_cpu_wide_path) { check(29); }
Test(cuda, wide_kernel_poisson_spikes) { check(30); }
/* the wide kernel over several blocks per replica (issue 23) */
Test(cuda, wide_blocks_wide_network_test_phase_continued_on_the_cpu) { check(31); }
Test(cuda, wide_blocks_diverging_replicas_freeze) { check(32); }
Test(cuda, wide_blocks_poisson_spikes) { check(33); }

Test(cuda, every_parity_case_has_a_test) {
  cr_assert_eq(parity_n_cases, 34, "test_cuda.c names each parity case; add a Test for a new one");
}
