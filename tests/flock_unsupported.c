/* LD_PRELOAD'ed into apical by test_robust: flock as a file system without locks
 * answers it (Lustre mounted without -o flock: ENOLCK). */
#include <errno.h>

int flock(int fd, int operation);
int flock(int fd, int operation) {
  (void)fd, (void)operation;
  errno = ENOLCK;
  return -1;
}
