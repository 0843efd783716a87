/* The CUDA parity harness (tests/cuda_parity.c) with the CPU standing in for the GPU:
 * every case must agree with itself. Runs everywhere, so a broken harness shows before a
 * GPU session, where test_cuda and benchmarks/cuda_check use it. */
#include "cuda_parity.h"

#include <criterion/criterion.h>

Test(parity_harness, every_case_passes_cpu_against_cpu) {
  for (int i = 0; i < parity_n_cases; i++) {
    char msg[1024] = "";
    ap_status st = parity_run(&parity_cases[i], ap_backend_cpu(), msg, sizeof msg);
    cr_assert_eq(st, AP_OK, "%s: %s", parity_cases[i].name, msg);
  }
}
