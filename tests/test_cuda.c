/* The CUDA backend against the CPU backend, bit for bit (tests/cuda_parity.h says why
 * exactly); skipped where no CUDA device answers. One test per case of the parity table
 * (tests/cuda_parity.c), found from the table: a new case needs no line here. */
#include "cuda_parity.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#define MAX_CASES 256

ParameterizedTestParameters(cuda, same_bits_as_the_cpu) {
  static int index[MAX_CASES];
  int n = parity_n_cases < MAX_CASES ? parity_n_cases : MAX_CASES;
  for (int i = 0; i < n; i++) index[i] = i;
  return cr_make_param_array(int, index, (size_t)n);
}

ParameterizedTest(int *i, cuda, same_bits_as_the_cpu) {
  char why[512], msg[1024] = "";
  const ApBackend *cuda = parity_cuda(why, sizeof why);
  if (!cuda) cr_skip_test("no CUDA device: %s", why);
  ap_status st = parity_run(&parity_cases[*i], cuda, msg, sizeof msg);
  cr_assert_eq(st, AP_OK, "case %d, %s: %s", *i, parity_cases[*i].name, msg);
}

Test(cuda, the_parity_table_fits) {
  cr_assert_leq(parity_n_cases, MAX_CASES, "raise MAX_CASES in test_cuda.c");
}
