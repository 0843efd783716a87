/* Memory the machine has for a run, and sizes for messages. */
#ifndef AP_MEM_H
#define AP_MEM_H

#include <stddef.h>

/* Bytes of memory available now: the smaller of MemAvailable and what the process's
 * memory cgroup has left (v2 memory.max - memory.current, v1 memory.limit_in_bytes -
 * memory.usage_in_bytes, the tightest of its cgroup and their ancestors); 0 if unknown.
 * mem_available_from also says which (n bytes into from). */
size_t mem_available(void);
size_t mem_available_from(char *from, size_t n);
/* What the memory cgroup named in proc_cgroup (a /proc/self/cgroup file) leaves, with the
 * cgroup file systems mounted at root (/sys/fs/cgroup; v1: root/memory): 0 where no limit
 * is found; *version (may be NULL) 2 or 1 for the one that set it. */
size_t mem_cgroup_left(const char *proc_cgroup, const char *root, int *version);
/* Bytes this process has resident now (Linux: /proc/self/statm), 0 if unknown. */
size_t mem_resident(void);
/* "3.2 GB", "512 MB", "12 kB". */
void mem_format(char *buf, size_t n, double bytes);

#endif
