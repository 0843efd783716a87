/* CUDA backend for the microcircuit. This build answers the probe honestly (is there a
 * device?) but the kernels arrive with issue 3, so for now it reports itself unavailable
 * and `--backend auto` falls back to the CPU. */
#include "../backend.h"

#include <cuda_runtime.h>
#include <stdio.h>

static ap_status cuda_probe(ApError *err) {
  int n = 0;
  cudaError_t rc = cudaGetDeviceCount(&n);
  if (rc != cudaSuccess)
    return ap_fail(err, AP_ERR_UNAVAILABLE, "no CUDA device answers (%s)", cudaGetErrorString(rc));
  if (n == 0) return ap_fail(err, AP_ERR_UNAVAILABLE, "no CUDA device found");
  return ap_fail(err, AP_ERR_UNAVAILABLE,
                 "%d CUDA device(s) found, but the CUDA microcircuit kernels are not built yet", n);
}

static void cuda_describe(char *buf, size_t n) { snprintf(buf, n, "cuda (not implemented)"); }

static const ApBackend cuda_backend = {
    "cuda", cuda_probe, cuda_describe, NULL, NULL, NULL, NULL, NULL, NULL,
};

extern "C" const ApBackend *ap_backend_cuda(void) { return &cuda_backend; }
