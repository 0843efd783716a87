/* What the benchmark programs share: a monotonic clock and comma-separated integer lists. */
#ifndef AP_BENCH_COMMON_H
#define AP_BENCH_COMMON_H

#include <stdlib.h>
#include <time.h>

static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
