/* A run directory on disk (apical run's --out, apical merge's output): making it, the lock
 * that keeps two runs out of it, its checkpoints (their names, the newest, pruning, the one
 * to resume from) and the temporary files a killed write left. run.c's loop and merge.c
 * share these. */
#ifndef AP_RUNDIR_H
#define AP_RUNDIR_H

#include "kernels/model.h"

#include <stddef.h>

/* Creates a directory and its parents (mkdir -p); refuses a path that is not one. */
ap_status run_make_dir(const char *path, ApError *err);

/* Locks DIR/.lock for this process (run_experiment, apical merge's output): the file
 * descriptor, or -1 with *st and err saying why (another run holds it; the file system
 * takes no locks). */
int run_lock_dir(const char *dir, ApError *err, ap_status *st);
/* Releases what run_lock_dir took, removing the .lock file (held until it is gone). */
void run_unlock_dir(const char *dir, int fd);

/* 1 when a live process holds DIR's lock (a run is writing it), its pid into holder (n
 * bytes, "" where unknown); 0 otherwise, also where DIR has no lock or the file system
 * takes none. */
int run_dir_holder(const char *dir, char *holder, size_t n);

/* The checkpoint at p in cdir (DIR/checkpoints), or "" where the path would not fit. */
void run_checkpoint_path(char *buf, size_t n, const char *cdir, ApPos p);

/* The directory's newest checkpoint (by epoch), or an empty string. */
void run_latest_checkpoint(const char *dir, char *path, size_t n);

/* Deletes all but the newest `keep` checkpoints; the epoch-0 one (the initial state) is
 * kept unless everything goes (all: --force starts over). */
void run_prune_checkpoints(const char *dir, int keep, int all);

/* --resume starts from the newest checkpoint whose checksum holds: its path into latest
 * (n bytes). Newer ones that are damaged are moved aside (NAME.damaged), saying so.
 * AP_ERR_DATA, naming the newest and what failed, when none holds. */
ap_status run_resume_point(const char *dir, char *latest, size_t n, ApError *err);

/* Removes NAME.tmp.PID files that a killed or failed write left, where PID is no longer
 * a running process (ours never are: the caller holds the lock). */
void run_clean_temp_files(const char *dir);

#endif
