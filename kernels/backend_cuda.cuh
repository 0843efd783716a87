/* What the models' CUDA implementations (the .cu files of kernels/<model>/) share: checked
 * CUDA calls and the dataset's device copy. For .cu files only. */
#ifndef AP_BACKEND_CUDA_CUH
#define AP_BACKEND_CUDA_CUH

#include "core/ap_data.h"
#include "core/ap_defs.h"

#include <cuda_runtime.h>

/* Returns from the enclosing function (which has an ApError *err) with the file, line and
 * expression of a failing CUDA call: AP_ERR_OSERR (exit 71, out of memory) where the device
 * ran out of memory, AP_ERR_UNAVAILABLE (exit 69) for anything else. */
#define CUDA_CHECK(call)                                                                           \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess)                                                                         \
      return ap_fail(err, e_ == cudaErrorMemoryAllocation ? AP_ERR_OSERR : AP_ERR_UNAVAILABLE,     \
                     "%s:%d: %s: %s%s", __FILE__, __LINE__, #call, cudaGetErrorString(e_),         \
                     e_ == cudaErrorMemoryAllocation ? " (the device's memory is full)" : "");     \
  } while (0)

/* The device copy of host dataset h (out: the same counts, device pointers), uploaded on
 * stream by the first cohort that asks and shared by the others of the run, which must
 * all ask for the same h. Each successful acquire is paired with one release; the last
 * release frees the copy. */
ap_status ap_cuda_data_acquire(const ApData *h, cudaStream_t stream, ApData *out, ApError *err);
void ap_cuda_data_release(void);

#endif
