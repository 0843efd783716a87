/* The CUDA device as a backend: whether one answers, and what it is. What runs on it is
 * each model's CUDA implementation (kernels/<model>/*.cu). */
#include "backend.h"

#include <cuda_runtime.h>
#include <stdio.h>

static ap_status cuda_probe(ApError *err) {
  int n = 0;
  cudaError_t rc = cudaGetDeviceCount(&n);
  if (rc != cudaSuccess)
    return ap_fail(err, AP_ERR_UNAVAILABLE, "no CUDA device answers (%s)", cudaGetErrorString(rc));
  if (n == 0) return ap_fail(err, AP_ERR_UNAVAILABLE, "no CUDA device found");
  rc = cudaFree(0);
  if (rc != cudaSuccess)
    return ap_fail(err, AP_ERR_UNAVAILABLE, "the CUDA device does not start (%s)",
                   cudaGetErrorString(rc));
  return AP_OK;
}

static void cuda_describe(const ApExec *exec, char *buf, size_t n) {
  int dev = 0;
  cudaDeviceProp p;
  const char *v = exec && exec->version && *exec->version ? exec->version : "auto";
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
    snprintf(buf, n, "cuda (device not readable), kernel %s", v);
    return;
  }
  snprintf(buf, n, "cuda, %s (%d SMs, %.0f GiB), kernel %s", p.name, p.multiProcessorCount,
           (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), v);
}

static const ApBackend cuda_backend = {"cuda", cuda_probe, cuda_describe};

extern "C" const ApBackend *ap_backend_cuda(void) { return &cuda_backend; }
