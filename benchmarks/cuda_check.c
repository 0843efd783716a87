/* The CUDA backend against the CPU backend without Criterion or HDF5 (GPU machines may
 * have neither): runs the cases of tests/cuda_parity.c and prints one line each.
 *   cuda_check          every case
 *   cuda_check --ci     the small cases CI runs under the simulator (tools/gpusim_check.sh)
 *   cuda_check N ...    the cases numbered N (0-based, as listed)
 * Exit 0: all identical; 1: a difference; 69: no CUDA device. */
#include "tests/cuda_parity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
  int ci = argc > 1 && !strcmp(argv[1], "--ci"), pick[64] = {0}, picked = 0;
  for (int i = 1 + ci; i < argc; i++) {
    char *end;
    long n = strtol(argv[i], &end, 10);
    if (*end || n < 0 || n >= parity_n_cases || n >= 64) {
      fprintf(stderr, "usage: cuda_check [--ci] [N ...]   (N: case number, 0 to %d)\n",
              parity_n_cases - 1);
      return 64;
    }
    pick[n] = picked = 1;
  }
  char why[512], msg[1024];
  const ApBackend *cuda = parity_cuda(why, sizeof why);
  if (!cuda) {
    fprintf(stderr, "cuda_check: no CUDA device: %s\n", why);
    return 69;
  }
  char desc[256];
  ApExec exec = {.threads = 0};
  cuda->describe(&exec, desc, sizeof desc);
  printf("# cuda_check: %s against the CPU backend, bit for bit%s\n", desc,
         ci ? " (CI cases)" : "");
  fflush(stdout);
  int failed = 0;
  for (int i = 0; i < parity_n_cases; i++) {
    if ((ci && !parity_cases[i].in_ci) || (picked && !pick[i])) continue;
    msg[0] = '\0';
    time_t t0 = time(NULL);
    ap_status st = parity_run(&parity_cases[i], cuda, msg, sizeof msg);
    printf("%s  %s%s%s  (%lds)\n", st ? "FAIL" : "ok  ", parity_cases[i].name, st ? ": " : "", msg,
           (long)(time(NULL) - t0));
    fflush(stdout);
    failed |= st != AP_OK;
  }
  return failed;
}
