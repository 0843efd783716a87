/* Memory the machine has for a run, and sizes for messages. */
#ifndef AP_MEM_H
#define AP_MEM_H

#include <stddef.h>

/* Bytes of memory available now (Linux: MemAvailable), 0 if unknown. */
size_t mem_available(void);
/* Bytes this process has resident now (Linux: /proc/self/statm), 0 if unknown. */
size_t mem_resident(void);
/* "3.2 GB", "512 MB", "12 kB". */
void mem_format(char *buf, size_t n, double bytes);

#endif
