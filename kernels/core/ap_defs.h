/* Definitions shared by every layer of apical: the AP_HD qualifier that lets one
 * function serve the CPU backend (gcc, C11) and the CUDA kernels (nvcc), and the
 * status codes library functions return instead of exiting. */
#ifndef AP_DEFS_H
#define AP_DEFS_H

#include <stddef.h>

#ifdef __CUDACC__
#define AP_HD __host__ __device__ inline
#else
#define AP_HD static inline
#endif

/* Library functions return an ap_status and leave a message in an ApError; only the
 * CLI turns a status into an exit code (sysexits.h numbering, so they map 1:1). */
typedef enum {
  AP_OK = 0,
  AP_ERR_USAGE = 64,    /* bad command line */
  AP_ERR_DATA = 65,     /* malformed input data (IDX, checkpoint) */
  AP_ERR_NOINPUT = 66,  /* a file that must exist does not */
  AP_ERR_SOFTWARE = 70, /* internal error */
  AP_ERR_OSERR = 71,    /* out of memory and friends */
  AP_ERR_CANTCREAT = 73,
  AP_ERR_IO = 74,
  AP_ERR_UNAVAILABLE = 69, /* backend/device not available */
  AP_ERR_CONFIG = 78       /* bad experiment file or value */
} ap_status;

typedef struct ApError {
  char msg[512];
} ApError;

#ifdef __cplusplus
extern "C" {
#endif
/* Sets err->msg (printf-style) when err is non-NULL and returns code. */
ap_status ap_fail(ApError *err, ap_status code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#ifdef __cplusplus
}
#endif

#endif
