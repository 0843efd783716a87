#include "mem.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A number from a one-line file; 0 where absent, unreadable or "max" (no limit). */
static unsigned long long read_bytes(const char *dir, const char *name, int *found) {
  char path[4096 + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  unsigned long long v = 0;
  *found = f && fscanf(f, "%llu", &v) == 1;
  if (f) fclose(f);
  return *found ? v : 0;
}

size_t mem_cgroup_left(const char *proc_cgroup, const char *root, int *version) {
  FILE *f = fopen(proc_cgroup, "r");
  char line[4096], v2[2048] = "", v1[2048] = "";
  int has_v2 = 0, has_v1 = 0;
  while (f && fgets(line, sizeof line, f)) { /* "0::/path" (v2), "N:a,memory,b:/path" (v1) */
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    const char *ctrl = c1 + 1, *path = c2 + 1;
    if (!*ctrl && !strncmp(line, "0", 1)) {
      snprintf(v2, sizeof v2, "%s", path);
      has_v2 = 1;
    }
    for (const char *t = ctrl; *t;) { /* a comma-separated list of controllers */
      size_t len = strcspn(t, ",");
      if (len == 6 && !strncmp(t, "memory", 6)) {
        snprintf(v1, sizeof v1, "%s", path);
        has_v1 = 1;
      }
      t += len + (t[len] == ',');
    }
  }
  if (f) fclose(f);
  size_t best = 0;
  if (version) *version = 0;
  /* from the process's cgroup up to the root: a limit may sit on any ancestor (Slurm sets
   * the job's; the process runs in a step below it) */
  for (int pass = 0; pass < 2; pass++) {
    int v = pass ? 1 : 2;
    if (v == 2 ? !has_v2 : !has_v1) continue;
    char rel[2048];
    snprintf(rel, sizeof rel, "%s", v == 2 ? v2 : v1);
    for (;;) {
      char dir[4096];
      snprintf(dir, sizeof dir, "%s%s%s", root, v == 2 ? "" : "/memory", rel);
      int has_limit, has_usage;
      unsigned long long limit =
          read_bytes(dir, v == 2 ? "memory.max" : "memory.limit_in_bytes", &has_limit);
      unsigned long long usage =
          read_bytes(dir, v == 2 ? "memory.current" : "memory.usage_in_bytes", &has_usage);
      /* v1 writes "no limit" as a number near 2^63 */
      if (has_limit && limit > 0 && limit < (1ULL << 62)) {
        size_t left = limit > usage ? (size_t)(limit - usage) : 1;
        if (!best || left < best) {
          best = left;
          if (version) *version = v;
        }
      }
      char *slash = strrchr(rel, '/');
      if (!slash || !rel[0] || !strcmp(rel, "/")) break;
      if (slash == rel)
        rel[1] = '\0'; /* up to the root, "/" */
      else
        *slash = '\0';
    }
  }
  return best;
}

size_t mem_available_from(char *from, size_t n) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  unsigned long long kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
  if (f) fclose(f);
  size_t avail = (size_t)kb * 1024;
  if (n) snprintf(from, n, "MemAvailable");
  if (!kb) {
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    avail = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
  }
  int version = 0;
  size_t left = mem_cgroup_left("/proc/self/cgroup", "/sys/fs/cgroup", &version);
  if (left && (!avail || left < avail)) { /* Slurm's --mem, a container's limit */
    avail = left;
    if (n)
      snprintf(from, n, "%s",
               version == 2 ? "the cgroup's memory.max less memory.current"
                            : "the cgroup's memory.limit_in_bytes less memory.usage_in_bytes");
  }
  return avail;
}

size_t mem_available(void) { return mem_available_from(NULL, 0); }

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
