/* A full disk on demand, for tests (LD_PRELOAD=libfault_enospc.so): once the process has
 * opened APICAL_TEST_ENOSPC_AFTER files whose names contain ".tmp." (apical's temporary
 * result and checkpoint files), writes to the next ones fail with ENOSPC, as they would
 * on a full disk. Only the test suite loads it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The next definition of NAME (libc's) into the function pointer FN: ISO C has no
 * conversion from dlsym's object pointer to a function pointer, so its bytes are copied
 * (what POSIX guarantees to work). */
#define REAL(fn, name)                                                                             \
  do {                                                                                             \
    if (!fn) {                                                                                     \
      void *sym = dlsym(RTLD_NEXT, name);                                                          \
      memcpy(&fn, &sym, sizeof fn);                                                                \
    }                                                                                              \
  } while (0)

static int opened;       /* temporary files opened so far */
static int doomed[1024]; /* fds whose writes fail */

static int track(int fd, const char *path) {
  if (fd < 0 || fd >= 1024 || !strstr(path, ".tmp.")) return fd;
  const char *after = getenv("APICAL_TEST_ENOSPC_AFTER");
  doomed[fd] = after && opened++ >= atoi(after);
  return fd;
}

int open(const char *path, int flags, ...) {
  static int (*real)(const char *, int, ...);
  REAL(real, "open");
  va_list ap;
  va_start(ap, flags);
  mode_t mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
  va_end(ap);
  return track(real(path, flags, mode), path);
}

int open64(const char *path, int flags, ...) {
  static int (*real)(const char *, int, ...);
  REAL(real, "open64");
  va_list ap;
  va_start(ap, flags);
  mode_t mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
  va_end(ap);
  return track(real(path, flags, mode), path);
}

ssize_t write(int fd, const void *buf, size_t n) {
  static ssize_t (*real)(int, const void *, size_t);
  REAL(real, "write");
  if (fd >= 0 && fd < 1024 && doomed[fd]) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd, buf, n);
}

int close(int fd) {
  static int (*real)(int);
  REAL(real, "close");
  if (fd >= 0 && fd < 1024) doomed[fd] = 0;
  return real(fd);
}
