#include "mem.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

size_t mem_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  unsigned long long kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
  if (f) fclose(f);
  if (kb) return (size_t)kb * 1024;
  long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
}

size_t mem_resident(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long size = 0, resident = 0;
  int ok = f && fscanf(f, "%llu %llu", &size, &resident) == 2;
  if (f) fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  return ok && page > 0 ? (size_t)resident * (size_t)page : 0;
}

void mem_format(char *buf, size_t n, double bytes) {
  const char *unit[] = {"bytes", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) bytes /= 1000, u++;
  snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}
