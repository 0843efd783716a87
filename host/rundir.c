#define _DEFAULT_SOURCE /* flock */
#include "rundir.h"

#include "host/config.h"
#include "host/digest.h"
#include "host/h5io.h"
#include "host/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

ap_status run_make_dir(const char *path, ApError *err) {
  char buf[AP_PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0777) < 0 && errno != EEXIST)
        return ap_fail(err, AP_ERR_CANTCREAT, "%s: %s", buf, strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  struct stat sb;
  if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
    return ap_fail(err, AP_ERR_CANTCREAT, "%s: not a directory", path);
  return AP_OK;
}

/* Checkpoints are DIR/checkpoints/epoch-NNNNNNNNN.h5 after record N, and
 * epoch-NNNNNNNNN.UUUUUUUUUUUU.h5 U units into record N (a run stopped inside it). */
static int ckpt_pos(const char *name, ApPos *p) {
  int e;
  long long u;
  char tail[8];
  if (sscanf(name, "epoch-%9d.%12lld.%3s", &e, &u, tail) == 3 && !strcmp(tail, "h5") && e >= 0 &&
      u > 0) {
    *p = (ApPos){e, u};
    return 1;
  }
  if (sscanf(name, "epoch-%9d.%3s", &e, tail) == 2 && !strcmp(tail, "h5") && e >= 0) {
    *p = (ApPos){e, 0};
    return 1;
  }
  return 0;
}

static int pos_cmp(const void *a, const void *b) {
  const ApPos *x = a, *y = b;
  if (x->record != y->record) return (x->record > y->record) - (x->record < y->record);
  return (x->unit > y->unit) - (x->unit < y->unit);
}

void run_checkpoint_path(char *buf, size_t n, const char *cdir, ApPos p) {
  int len = p.unit ? snprintf(buf, n, "%s/epoch-%09d.%012lld.h5", cdir, p.record, p.unit)
                   : snprintf(buf, n, "%s/epoch-%09d.h5", cdir, p.record);
  if (len < 0 || (size_t)len >= n) buf[0] = '\0'; /* too long for any path: none */
}

/* The checkpoints of cdir, oldest first (malloc'd; NULL and *count -1: out of memory or no
 * such directory). */
static ApPos *ckpt_list(const char *cdir, int *count) {
  *count = -1;
  DIR *d = opendir(cdir);
  if (!d) return NULL;
  int n = 0, cap = 64;
  ApPos *list = malloc((size_t)cap * sizeof *list);
  struct dirent *ent;
  while (list && (ent = readdir(d))) {
    ApPos p;
    if (!ckpt_pos(ent->d_name, &p)) continue;
    if (n == cap) {
      ApPos *more = realloc(list, (size_t)(cap *= 2) * sizeof *list);
      if (!more) {
        free(list);
        list = NULL;
        break;
      }
      list = more;
    }
    list[n++] = p;
  }
  closedir(d);
  if (!list) return NULL;
  qsort(list, (size_t)n, sizeof *list, pos_cmp);
  *count = n;
  return list;
}

void run_latest_checkpoint(const char *dir, char *path, size_t n) {
  char cdir[AP_PATH_MAX];
  snprintf(cdir, sizeof cdir, "%s/checkpoints", dir);
  path[0] = '\0';
  int count;
  ApPos *list = ckpt_list(cdir, &count);
  if (list && count > 0) run_checkpoint_path(path, n, cdir, list[count - 1]);
  free(list);
}

/* Deletes all but the newest `keep` checkpoints; the epoch-0 one (the initial state) is
 * kept unless everything goes (all: --force starts over). */
void run_prune_checkpoints(const char *dir, int keep, int all) {
  char cdir[AP_PATH_MAX];
  snprintf(cdir, sizeof cdir, "%s/checkpoints", dir);
  int n;
  ApPos *list = ckpt_list(cdir, &n);
  int first = list && n > 0 && !all && list[0].record == 0 && list[0].unit == 0;
  for (int i = first; list && i < n - keep; i++) { /* the oldest first */
    char p[AP_PATH_MAX + 64];
    run_checkpoint_path(p, sizeof p, cdir, list[i]);
    unlink(p);
  }
  free(list);
}

/* --resume starts from the newest checkpoint whose checksum holds: newer ones that are
 * damaged are moved aside (NAME.damaged, which no listing picks up, so pruning cannot
 * count them), saying so. AP_ERR_DATA, naming the newest and what failed, when none holds
 * (the initial checkpoint is never pruned, so there is always one to try). */
ap_status run_resume_point(const char *dir, char *latest, size_t n, ApError *err) {
  char cdir[AP_PATH_MAX];
  snprintf(cdir, sizeof cdir, "%s/checkpoints", dir);
  int count;
  ApPos *epochs = ckpt_list(cdir, &count);
  if (!epochs) {
    if (errno == ENOMEM) return ap_fail(err, AP_ERR_OSERR, "out of memory");
    return ap_fail(err, AP_ERR_NOINPUT, "--resume: %s: %s", cdir, strerror(errno));
  }
  ApError first = {{0}};
  ap_status st = AP_ERR_NOINPUT;
  int good = -1;
  for (int i = count - 1; i >= 0 && good < 0; i--) {
    ApError e = {{0}};
    run_checkpoint_path(latest, n, cdir, epochs[i]);
    ap_status c = runfile_verify(latest, &e);
    if (!c)
      good = i;
    else if (i == count - 1)
      first = e, st = c;
    if (c && digest_unsealed(latest)) { /* not damaged: older, and so are those before it */
      free(epochs);
      return ap_fail(err, AP_ERR_DATA,
                     "--resume: %s; this apical cannot resume from it: start "
                     "the run again with --force",
                     e.msg);
    }
  }
  if (good < 0) {
    free(epochs);
    if (st == AP_ERR_NOINPUT)
      return ap_fail(err, AP_ERR_NOINPUT, "--resume: no checkpoint in %s", cdir);
    return ap_fail(err, st, "--resume: no checkpoint in %s passes its checks: %s", cdir, first.msg);
  }
  for (int i = count - 1; i > good; i--) {
    char bad[AP_PATH_MAX + 64], aside[AP_PATH_MAX + 80];
    ApError e = {{0}};
    run_checkpoint_path(bad, sizeof bad, cdir, epochs[i]);
    runfile_verify(bad, &e);
    snprintf(aside, sizeof aside, "%s.damaged", bad);
    int moved = rename(bad, aside) == 0;
    log_msg("--resume: %s; %s, resuming from the previous good checkpoint %s", e.msg,
            moved ? "moved aside (.damaged)" : "left in place", latest);
  }
  free(epochs);
  return AP_OK;
}

/* An exclusive lock on DIR/.lock for the whole run: a second run on the same directory
 * is refused, naming the process that holds it. The lock dies with its process; a run
 * that ends removes the file (run_unlock_dir). */
int run_lock_dir(const char *dir, ApError *err, ap_status *st) {
  char path[AP_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/.lock", dir);
again:;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *st = ap_fail(err, AP_ERR_CANTCREAT, "%s: %s", path, strerror(errno));
    return -1;
  }
  int why = flock(fd, LOCK_EX | LOCK_NB) < 0 ? errno : 0;
  if (why && why != EWOULDBLOCK) {
    /* ENOLCK, EOPNOTSUPP, ENOSYS: the file system takes no locks (Lustre without -o flock,
     * some NFS set-ups); it is not another run */
    close(fd);
    *st = ap_fail(err, AP_ERR_CANTCREAT,
                  "%s: cannot lock %s: %s (the file system does not support file locks, which "
                  "keep two runs out of one directory): mount it with locks (Lustre: -o flock; "
                  "NFS: with lockd) or choose a --out on a file system that has them",
                  dir, path, strerror(why));
    return -1;
  }
  if (why) {
    char holder[32] = "";
    ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    close(fd);
    *st = ap_fail(err, AP_ERR_CANTCREAT,
                  "%s is in use by another apical run (process %s); wait for it or "
                  "choose another --out",
                  dir, holder[0] ? holder : "?");
    return -1;
  }
  /* the file may have been removed by the run that held it between our open and flock:
   * then the lock is on a name no other run sees, so take the one that is there now */
  struct stat held, now;
  if (fstat(fd, &held) == 0 &&
      (stat(path, &now) != 0 || held.st_ino != now.st_ino || held.st_dev != now.st_dev)) {
    close(fd);
    goto again;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  /* the holder's pid, for the other run's message; the lock works without it */
  if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, pid, (size_t)len, 0);
  return fd;
}

/* Ends the lock of run_lock_dir: the file goes first, while the lock still holds it. */
void run_unlock_dir(const char *dir, int fd) {
  char path[AP_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/.lock", dir);
  unlink(path);
  close(fd);
}

/* Removes NAME.tmp.PID files that a killed or failed write left, where PID is no longer
 * a running process (ours never are: this run holds the lock). */
void run_clean_temp_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  while ((ent = readdir(d))) {
    const char *t = strstr(ent->d_name, ".h5.tmp.");
    if (!t) continue;
    char *end;
    long pid = strtol(t + 8, &end, 10);
    int alive = kill((pid_t)pid, 0) == 0 || errno == EPERM; /* EPERM: someone else's, alive */
    if (*end || pid <= 0 || (alive && pid != (long)getpid())) continue;
    char p[AP_PATH_MAX + 300];
    snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
    unlink(p);
  }
  closedir(d);
}

int run_dir_holder(const char *dir, char *holder, size_t n) {
  char path[AP_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/.lock", dir);
  if (n) holder[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
  if (held && n) {
    ssize_t got = pread(fd, holder, n - 1, 0);
    holder[got > 0 ? got : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
  }
  close(fd); /* and with it our shared lock, where we got one */
  return held;
}
