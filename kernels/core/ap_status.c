#include "ap_defs.h"

#include <stdarg.h>
#include <stdio.h>

ap_status ap_fail(ApError *err, ap_status code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}
