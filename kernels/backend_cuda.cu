/* The CUDA device as a backend: whether one answers, and what it is; and what the models'
 * CUDA implementations (the .cu files of kernels/<model>/) share: the dataset's device copy. */
#include "backend.h"
#include "backend_cuda.cuh"

#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

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
  const char *v = exec && exec->cuda_version && *exec->cuda_version ? exec->cuda_version : "auto";
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
    snprintf(buf, n, "cuda (device not readable), kernel %s", v);
    return;
  }
  snprintf(buf, n, "cuda, %s (%d SMs, %.0f GiB), kernel %s", p.name, p.multiProcessorCount,
           (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), v);
}

static ap_status cuda_memory(size_t *free_b, size_t *total_b, ApError *err) {
  CUDA_CHECK(cudaMemGetInfo(free_b, total_b));
  return AP_OK;
}

static const ApBackend cuda_backend = {
    .name = "cuda", .probe = cuda_probe, .describe = cuda_describe, .memory = cuda_memory};

extern "C" const ApBackend *ap_backend_cuda(void) { return &cuda_backend; }

/* ---- device data shared by the cohorts of a run ------------------------------------- */

typedef struct DeviceData {
  const ApData *host; /* the host dataset this copies */
  ApData d;           /* device pointers */
  int users;
} DeviceData;

static DeviceData g_data;

ap_status ap_cuda_data_acquire(const ApData *h, cudaStream_t stream, ApData *out, ApError *err) {
  if (g_data.users > 0 && g_data.host == h) {
    g_data.users++;
    *out = g_data.d;
    return AP_OK;
  }
  if (g_data.users > 0)
    return ap_fail(err, AP_ERR_SOFTWARE, "cuda backend: cohorts of one run must share one dataset");
  ApData d = *h;
  size_t bytes[4]; /* the sizes the estimate counts (ap_cuda_data_bytes), +1 each */
  ap_cuda_data_bytes(h, bytes);
  float *x_train, *x_val;
  int *y_train, *y_val;
  CUDA_CHECK(cudaMalloc(&x_train, bytes[0]));
  CUDA_CHECK(cudaMalloc(&y_train, bytes[1]));
  CUDA_CHECK(cudaMemcpyAsync(x_train, h->x_train, bytes[0] - 1, cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaMemcpyAsync(y_train, h->y_train, bytes[1] - 1, cudaMemcpyHostToDevice, stream));
  if (!bytes[2]) { /* validation = training (Bars) */
    x_val = x_train;
    y_val = y_train;
  } else {
    CUDA_CHECK(cudaMalloc(&x_val, bytes[2]));
    CUDA_CHECK(cudaMalloc(&y_val, bytes[3]));
    CUDA_CHECK(cudaMemcpyAsync(x_val, h->x_val, bytes[2] - 1, cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaMemcpyAsync(y_val, h->y_val, bytes[3] - 1, cudaMemcpyHostToDevice, stream));
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
  d.x_train = x_train, d.y_train = y_train, d.x_val = x_val, d.y_val = y_val;
  g_data.host = h;
  g_data.d = d;
  g_data.users = 1;
  *out = d;
  return AP_OK;
}

void ap_cuda_data_release(void) {
  if (g_data.users == 0 || --g_data.users > 0) return;
  if (g_data.d.x_val != g_data.d.x_train) cudaFree((void *)g_data.d.x_val);
  if (g_data.d.y_val != g_data.d.y_train) cudaFree((void *)g_data.d.y_val);
  cudaFree((void *)g_data.d.x_train);
  cudaFree((void *)g_data.d.y_train);
  memset(&g_data, 0, sizeof g_data);
}
