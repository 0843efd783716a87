/* What the benchmark programs share: comma-separated integer lists (the clock is
 * ap_seconds, kernels/backend.h). */
#ifndef AP_BENCH_COMMON_H
#define AP_BENCH_COMMON_H

#include <stdlib.h>

/* "1,64,1024" into out (at most max items); returns the count. */
static inline int parse_list(const char *s, int *out, int max) {
  int n = 0;
  while (*s && n < max) {
    out[n++] = (int)strtol(s, (char **)&s, 10);
    if (*s == ',') s++;
  }
  return n;
}

#endif
