#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

ap_status ap_fail(ApError *err, ap_status code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

#ifndef APICAL_HAVE_CUDA
const ApBackend *ap_backend_cuda(void) { return NULL; }
#endif

ap_status ap_backend_select(const char *want, const ApBackend **out, char *note, size_t note_n,
                            ApError *err) {
  if (note_n) note[0] = '\0';
  if (strcmp(want, "cpu") == 0) {
    *out = ap_backend_cpu();
    return AP_OK;
  }
  if (strcmp(want, "cuda") != 0 && strcmp(want, "auto") != 0)
    return ap_fail(err, AP_ERR_USAGE, "unknown backend '%s' (expected auto, cpu or cuda)", want);
  const ApBackend *cuda = ap_backend_cuda();
  ApError why = {{0}};
  if (!cuda)
    snprintf(why.msg, sizeof why.msg, "this build has no CUDA backend (configured without nvcc)");
  else if (cuda->probe(&why) == AP_OK) {
    *out = cuda;
    return AP_OK;
  }
  if (strcmp(want, "cuda") == 0)
    return ap_fail(err, AP_ERR_UNAVAILABLE, "backend cuda unavailable: %s", why.msg);
  snprintf(note, note_n, "using the CPU backend: %s", why.msg);
  *out = ap_backend_cpu();
  return AP_OK;
}
