/* The CUDA backend against the CPU backend without Criterion or HDF5 (GPU machines may
 * have neither): runs every case of tests/cuda_parity.c and prints one line each.
 * Exit 0: all identical; 1: a difference; 69: no CUDA device. */
#include "tests/cuda_parity.h"

#include <stdio.h>

int main(void) {
  char why[512], msg[1024];
  const ApBackend *cuda = parity_cuda(why, sizeof why);
  if (!cuda) {
    fprintf(stderr, "cuda_check: no CUDA device: %s\n", why);
    return 69;
  }
  char desc[256];
  cuda->describe(desc, sizeof desc);
  printf("# cuda_check: %s against the CPU backend, bit for bit\n", desc);
  int failed = 0;
  for (int i = 0; i < parity_n_cases; i++) {
    msg[0] = '\0';
    ap_status st = parity_run(&parity_cases[i], cuda, msg, sizeof msg);
    printf("%s  %s%s%s\n", st ? "FAIL" : "ok  ", parity_cases[i].name, st ? ": " : "", msg);
    failed |= st != AP_OK;
  }
  return failed;
}
