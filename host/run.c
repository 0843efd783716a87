#define _DEFAULT_SOURCE /* flock */
#include "run.h"

#include "host/digest.h"
#include "host/estimate.h"
#include "host/h5io.h"
#include "host/log.h"
#include "host/session.h"
#include "kernels/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* SIGINT and SIGTERM, from run_experiment's start to its end: the signal that asked the
 * run to stop (0: none). The run stops at the next point where it can say what it left. */
static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }
static const char *signal_name(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }
/* What a record's units are called ("presentations"; "units" where the model says not). */
static const char *unit_name(const ApModel *m) { return m->units_name ? m->units_name : "units"; }
/* What a stopped run returns: 130 after SIGINT, 143 after SIGTERM (128 + the signal). */
static ap_status stopped(ApError *err) {
  return ap_fail(err, g_stop == SIGTERM ? AP_ERR_TERMINATED : AP_ERR_INTERRUPTED,
                 "interrupted by %s", signal_name(g_stop));
}

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

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
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

static void ckpt_path(char *buf, size_t n, const char *cdir, ApPos p) {
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
  if (list && count > 0) ckpt_path(path, n, cdir, list[count - 1]);
  free(list);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Deletes all but the newest `keep` checkpoints; the epoch-0 one (the initial state) is
 * kept unless everything goes (all: --force starts over). */
static void prune_checkpoints(const char *dir, int keep, int all) {
  char cdir[AP_PATH_MAX];
  snprintf(cdir, sizeof cdir, "%s/checkpoints", dir);
  int n;
  ApPos *list = ckpt_list(cdir, &n);
  int first = list && n > 0 && !all && list[0].record == 0 && list[0].unit == 0;
  for (int i = first; list && i < n - keep; i++) { /* the oldest first */
    char p[AP_PATH_MAX + 64];
    ckpt_path(p, sizeof p, cdir, list[i]);
    unlink(p);
  }
  free(list);
}

/* --resume starts from the newest checkpoint whose checksum holds: newer ones that are
 * damaged are moved aside (NAME.damaged, which no listing picks up, so pruning cannot
 * count them), saying so. AP_ERR_DATA, naming the newest and what failed, when none holds
 * (the initial checkpoint is never pruned, so there is always one to try). */
static ap_status resume_point(const char *dir, char *latest, size_t n, ApError *err) {
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
    ckpt_path(latest, n, cdir, epochs[i]);
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
    ckpt_path(bad, sizeof bad, cdir, epochs[i]);
    runfile_verify(bad, &e);
    snprintf(aside, sizeof aside, "%s.damaged", bad);
    int moved = rename(bad, aside) == 0;
    log_msg("--resume: %s; %s, resuming from the previous good checkpoint %s", e.msg,
            moved ? "moved aside (.damaged)" : "left in place", latest);
  }
  free(epochs);
  return AP_OK;
}

static void fmt_duration(char *buf, size_t n, double s) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "--");
  else if (s < 60)
    snprintf(buf, n, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* A boxed table of what is about to run (stdout and the log). */
static void print_box(const ApExperiment *ex, const Session *s, const char *backend_desc,
                      const char *out_dir, int start_epoch, double total_steps) {
  char rows[24][2][600];
  int n = 0;
#define ROW(k, ...)                                                                                \
  do {                                                                                             \
    snprintf(rows[n][0], sizeof rows[n][0], "%s", k);                                              \
    snprintf(rows[n][1], sizeof rows[n][1], __VA_ARGS__);                                          \
    n++;                                                                                           \
  } while (0)
  const ApModel *m = ex->model;
  char shape[300] = "";
  for (int i = 0; i < m->n_keys; i++) /* the keys that fix the network's shape */
    if ((m->keys[i].flags & AP_KEY_FIXED) && !strcmp(m->keys[i].section, "model")) {
      char v[200];
      config_format_param(ex, 0, m->keys[i].name, v, sizeof v);
      snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ", %s %s", m->keys[i].name, v);
    }
  ROW("experiment", "%s (%s)", ex->name, ex->source);
  ROW("model", "%s%s", m->name, shape);
  if (m->io)
    ROW("dataset", "%s: %d training and %d validation samples", ex->dataset, s->data.n_train,
        s->data.n_val);
  ROW("replicas", "%d in %d cohort%s", ex->n_replicas, s->n_cohorts, s->n_cohorts == 1 ? "" : "s");
  if (ex->shard_count)
    ROW("shard", "%d of %d (%d of the experiment's %d replicas; apical merge joins them)",
        ex->shard_index, ex->shard_count, ex->n_replicas, ex->n_total);
  char swept[160] = "";
  for (int i = 0; i < ex->n_swept; i++)
    snprintf(swept + strlen(swept), sizeof swept - strlen(swept), "%s%s", i ? ", " : "",
             ex->swept[i]);
  ROW("swept", "%s", ex->n_swept ? swept : "(nothing)");
  ROW(m->record, start_epoch ? "%d (resuming after %d)" : "%d", ex->epochs, start_epoch);
  ROW("work", "%.3g replica-steps", total_steps);
  ROW("backend", "%s", backend_desc);
  ROW("checkpoints",
      ex->checkpoint_every ? "every %d %ss, newest %d kept" : "at the end%.0d%s, newest %d kept",
      ex->checkpoint_every, ex->checkpoint_every ? m->record : "", ex->keep_checkpoints);
  ROW("output", "%s", out_dir);
  ROW("version", "apical %s (%s)", APICAL_VERSION, APICAL_GIT_REV);
#undef ROW
  size_t w0 = 0, w1 = 0;
  for (int i = 0; i < n; i++) {
    w0 = strlen(rows[i][0]) > w0 ? strlen(rows[i][0]) : w0;
    w1 = strlen(rows[i][1]) > w1 ? strlen(rows[i][1]) : w1;
  }
  char sep[1300];
  size_t k = 0;
  sep[k++] = '+';
  for (size_t i = 0; i < w0 + 2 && k < 640; i++) sep[k++] = '-';
  sep[k++] = '+';
  for (size_t i = 0; i < w1 + 2 && k < 1290; i++) sep[k++] = '-';
  sep[k++] = '+';
  sep[k] = '\0';
  printf("%s\n", sep);
  log_file_only("%s\n", sep);
  for (int i = 0; i < n; i++) {
    printf("| %-*s | %-*s |\n", (int)w0, rows[i][0], (int)w1, rows[i][1]);
    log_file_only("| %-*s | %-*s |\n", (int)w0, rows[i][0], (int)w1, rows[i][1]);
  }
  printf("%s\n", sep);
  log_file_only("%s\n", sep);
  fflush(stdout);
}

/* Replicas grouped by their swept keys but seed: a label per replica, sorted. */
typedef struct Labelled {
  char *label;
  int r;
} Labelled;

static int by_label(const void *a, const void *b) {
  const Labelled *x = a, *y = b;
  int c = strcmp(x->label, y->label);
  return c ? c : (x->r > y->r) - (x->r < y->r);
}

/* qsort's context: the sorted labels and where each group starts */
static const Labelled *g_first_of;
static const int *g_start;
static int by_first_replica(const void *a, const void *b) {
  int x = g_first_of[g_start[((const Labelled *)a)->r]].r,
      y = g_first_of[g_start[((const Labelled *)b)->r]].r;
  return (x > y) - (x < y);
}

/* The headline series after the last record, median [min, max] over the replicas that
 * differ only in seed, each group labelled by its swept keys (n log n in the replicas). */
static void print_summary(const ApExperiment *ex, const Session *s, int done) {
  const ApSeries *hs =
      ex->model->headline ? ap_layout_series(&ex->layout, ex->model->headline) : NULL;
  int R = ex->n_replicas;
  if (!hs || done == 0) return;
  Labelled *lab = calloc((size_t)R, sizeof *lab);
  float *vals = malloc((size_t)R * sizeof *vals);
  int any = 0;
  for (int r = 0; lab && vals && r < R; r++)
    any |= !isnan(session_record(s, r, done - 1)[hs->offset]);
  if (!lab || !vals || !any) goto out;
  for (int r = 0; r < R; r++) {
    char label[400] = "";
    for (int k = 0; k < ex->n_swept; k++) {
      if (!strcmp(ex->swept[k], "seed")) continue;
      char v[160];
      config_format_param(ex, r, ex->swept[k], v, sizeof v);
      snprintf(label + strlen(label), sizeof label - strlen(label), "%s%s %s", label[0] ? ", " : "",
               ex->swept[k], v);
    }
    lab[r] = (Labelled){strdup(label[0] ? label : "(all replicas)"), r};
    if (!lab[r].label) goto out;
  }
  /* groups in order of their first replica: sort by label, then report each group at its
   * first replica's place */
  qsort(lab, (size_t)R, sizeof *lab, by_label);
  int *start = malloc((size_t)R * sizeof *start), n_groups = 0;
  Labelled *order = malloc((size_t)R * sizeof *order); /* groups by their first replica */
  if (!start || !order) {
    free(start), free(order);
    goto out;
  }
  for (int i = 0; i < R; i++)
    if (i == 0 || strcmp(lab[i].label, lab[i - 1].label)) start[n_groups++] = i;
  for (int g = 0; g < n_groups; g++) order[g] = (Labelled){NULL, g};
  g_first_of = lab, g_start = start;
  qsort(order, (size_t)n_groups, sizeof *order, by_first_replica);
  const ApSeries *dv = ap_layout_series(&ex->layout, "diverged");
  log_msg("%s after %s %d, median [min, max] over seeds:", hs->name, ex->model->record, done);
  for (int q = 0; q < n_groups; q++) {
    int g = order[q].r;
    int end = g + 1 < n_groups ? start[g + 1] : R, n = 0, diverged = 0, nan = 0;
    for (int i = start[g]; i < end; i++) {
      const float *rec = session_record(s, lab[i].r, done - 1);
      if (dv && rec[dv->offset] == 1.0f)
        diverged++;
      else if (isnan(rec[hs->offset]))
        nan++;
      else
        vals[n++] = rec[hs->offset];
    }
    char count[96], stat[64] = "--";
    int all = end - start[g];
    if (n == all)
      snprintf(count, sizeof count, "%d seed%s", n, n == 1 ? "" : "s");
    else
      snprintf(count, sizeof count, "%d of %d seeds (left out:%s%.0d%s%s%.0d%s)", n, all,
               diverged ? " " : "", diverged, diverged ? " diverged" : "",
               diverged && nan ? "," : "", nan, nan ? " NaN" : "");
    if (n) {
      qsort(vals, (size_t)n, sizeof *vals, cmp_float);
      float med = n % 2 ? vals[n / 2] : 0.5f * (vals[n / 2 - 1] + vals[n / 2]);
      snprintf(stat, sizeof stat, "%.3f [%.3f, %.3f]", med, vals[0], vals[n - 1]);
    }
    log_msg("  %-21s  %s  %s", stat, count, lab[start[g]].label);
  }
  free(start);
  free(order);
out:
  for (int r = 0; lab && r < R; r++) free(lab[r].label);
  free(lab);
  free(vals);
}

/* Replicas that diverged in records [e0, e1): the model's "diverged" series turned 1
 * (they are frozen there); reported once each. */
static void report_divergence(const ApExperiment *ex, const Session *s, int e0, int e1,
                              unsigned char *reported) {
  const ApSeries *dv = ap_layout_series(&ex->layout, "diverged");
  int R = ex->n_replicas, listed = 0, count = 0;
  char ids[200] = "";
  if (!dv) return;
  for (int r = 0; r < R; r++) {
    if (reported[r]) continue;
    for (int e = e0; e < e1 && !reported[r]; e++) {
      if (session_record(s, r, e)[dv->offset] != 1.0f) continue;
      reported[r] = 1;
      count++;
      if (listed++ < 10)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d (%s %d)",
                 listed > 1 ? ", " : "", r, ex->model->record, e + 1);
    }
  }
  if (count)
    log_msg("warning: %d replica%s diverged (a non-finite value in the state): frozen there, "
            "series NaN "
            "from then on: %s%s",
            count, count == 1 ? "" : "s", ids, count > 10 ? ", ..." : "");
}

void run_first_difference(const char *a, const char *b, char *la, char *lb, size_t n) {
  while (*a || *b) {
    size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
    if (na != nb || strncmp(a, b, na)) {
      snprintf(la, n, "%.*s", (int)na, a);
      snprintf(lb, n, "%.*s", (int)nb, b);
      return;
    }
    a += na + (a[na] == '\n');
    b += nb + (b[nb] == '\n');
  }
}

/* An exclusive lock on DIR/.lock for the whole run: a second run on the same directory
 * is refused, naming the process that holds it. The lock dies with its process; a run
 * that ends removes the file (unlock_dir). */
static int lock_dir(const char *dir, ApError *err, ap_status *st) {
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
  if (fstat(fd, &held) == 0 && (stat(path, &now) != 0 || held.st_ino != now.st_ino ||
                                held.st_dev != now.st_dev)) {
    close(fd);
    goto again;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  /* the holder's pid, for the other run's message; the lock works without it */
  if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, pid, (size_t)len, 0);
  return fd;
}

/* Ends the lock of lock_dir: the file goes first, while the lock still holds it. */
static void unlock_dir(const char *dir, int fd) {
  char path[AP_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/.lock", dir);
  unlink(path);
  close(fd);
}

/* Removes NAME.tmp.PID files that a killed or failed write left, where PID is no longer
 * a running process (ours never are: this run holds the lock). */
static void clean_temp_files(const char *dir) {
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

/* The kernel versions a checkpoint was written with against those this run asks for: a
 * version that sums in another order (mstdp's blas, the microcircuit's lanes on wide
 * layers) continues with other bits, so a resume must name the same ones. */
static ap_status kernels_match(const char *ckpt, const ApExec *exec, ApError *err) {
  char was[2][64];
  runfile_kernels(ckpt, was[0], was[1], sizeof was[0]);
  const char *now[2] = {exec->cpu_version, exec->version},
             *option[2] = {"--cpu-kernel", "--cuda-kernel"};
  for (int k = 0; k < 2; k++) {
    const char *v = now[k] && *now[k] ? now[k] : "auto";
    if (was[k][0] && strcmp(was[k], v)) /* "": a file from before they were recorded */
      return ap_fail(err, AP_ERR_CONFIG,
                     "--resume: %s was written with %s %s, this run asks for %s %s (kernel "
                     "versions may sum in another order, and the run would go on with other "
                     "bits): give %s %s",
                     ckpt, option[k], was[k], option[k], v, option[k], was[k]);
  }
  return AP_OK;
}

/* The backend, the dataset, every check of the session (the model's on the data, the
 * kernel versions) and the estimate of a run (est_build's sizes): everything that can
 * refuse a run, before anything is written (apical run, --print-config, estimate). */
static ap_status prepare(const ApExperiment *ex, const RunOptions *opt, const ApBackend **be,
                         char *note, size_t note_n, ApDataset *ds, Estimate *est, ApError *err) {
  memset(ds, 0, sizeof *ds);
  ap_status st = ap_backend_select(opt->backend, be, note, note_n, err);
  if (!st) st = session_load_dataset(ex, ds, err);
  ApData data = ds_view(ds);
  if (!st) st = session_check(ex, *be, &opt->exec, &data, err);
  if (!st) st = est_build(est, ex, &data, &opt->exec, err);
  if (st) ds_free(ds);
  return st;
}

ap_status run_check(const ApExperiment *ex, const RunOptions *opt, ApError *err) {
  const ApBackend *be;
  char note[512];
  ApDataset ds;
  Estimate est;
  ap_status st = prepare(ex, opt, &be, note, sizeof note, &ds, &est, err);
  if (st) return st;
  if (!opt->no_memory_check) st = est_check(&est, be, err);
  est_free(&est);
  ds_free(&ds);
  return st;
}

ap_status run_estimate(const ApExperiment *ex, const RunOptions *opt, ApError *err) {
  const ApBackend *be;
  char note[512];
  ApDataset ds;
  Estimate est;
  ap_status st = prepare(ex, opt, &be, note, sizeof note, &ds, &est, err);
  if (st) return st;
  ApData data = ds_view(&ds);
  if (!(st = est_calibrate(&est, &data, be, &opt->exec, 2.0, err)))
    est_print(stdout, &est, be, note, opt->out_dir);
  est_free(&est);
  ds_free(&ds);
  return st;
}

static ap_status run_on(const ApExperiment *ex, const RunOptions *opt, const ApBackend *be,
                        const char *note, const ApData *data, ApError *err);

ap_status run_experiment(const ApExperiment *ex, const RunOptions *opt, ApError *err) {
  g_stop = 0;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  const ApBackend *be;
  char note[512];
  ApDataset ds;
  Estimate est;
  ap_status st = prepare(ex, opt, &be, note, sizeof note, &ds, &est, err);
  if (!st) {
    if (!opt->no_memory_check) st = est_check(&est, be, err); /* before anything is created */
    est_free(&est);
    ApData data = ds_view(&ds);
    if (!st) st = run_on(ex, opt, be, note, &data, err);
    ds_free(&ds);
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  return st;
}

/* A signal before the run directory is touched: nothing to leave behind. */
static ap_status stopped_before_start(const RunOptions *opt, ApError *err) {
  log_msg("interrupted by %s before the run started: nothing was written to %s",
          signal_name(g_stop), opt->out_dir);
  return stopped(err);
}

static ap_status run_on(const ApExperiment *ex, const RunOptions *opt, const ApBackend *be,
                        const char *note, const ApData *data, ApError *err) {
  ap_status st;
  const ApModel *m = ex->model;

  /* the run directory, locked for this run */
  char results[AP_PATH_MAX + 32], cdir[AP_PATH_MAX + 32], logp[AP_PATH_MAX + 32];
  snprintf(results, sizeof results, "%s/results.h5", opt->out_dir);
  snprintf(cdir, sizeof cdir, "%s/checkpoints", opt->out_dir);
  snprintf(logp, sizeof logp, "%s/log.txt", opt->out_dir);
  char latest[AP_PATH_MAX + 300];
  run_latest_checkpoint(opt->out_dir, latest, sizeof latest);
  if (opt->resume && !latest[0])
    return ap_fail(err, AP_ERR_NOINPUT, "--resume: no checkpoint in %s/checkpoints", opt->out_dir);
  if (opt->resume && (st = kernels_match(latest, &opt->exec, err))) return st;
  if (!opt->resume && !opt->force && (latest[0] || file_exists(results)))
    return ap_fail(err, AP_ERR_CANTCREAT,
                   "%s already holds a run; pass --resume to continue it, "
                   "--force to start over, or --out to choose another directory",
                   opt->out_dir);
  /* the replicas on the backend before the directory is touched: what can still fail
   * here (memory, the backend) leaves the directory as it was */
  Session s;
  if (g_stop) return stopped_before_start(opt, err);
  if ((st = session_open_view(&s, ex, be, &opt->exec, data, err))) return st;
  if (g_stop) {
    session_close(&s);
    return stopped_before_start(opt, err);
  }
  if ((st = run_make_dir(opt->out_dir, err)) || (st = run_make_dir(cdir, err))) {
    session_close(&s);
    return st;
  }
  int lock = lock_dir(opt->out_dir, err, &st);
  if (lock < 0) {
    session_close(&s);
    return st;
  }
  clean_temp_files(opt->out_dir);
  clean_temp_files(cdir);
  if (opt->force && !opt->resume) {
    prune_checkpoints(opt->out_dir, 0, 1);
    unlink(results);
  }
  if (log_open(logp) < 0) {
    unlock_dir(opt->out_dir, lock);
    session_close(&s);
    return ap_fail(err, AP_ERR_CANTCREAT, "%s: %s", logp, strerror(errno));
  }
  log_file_only("\n=== %s\n", opt->command ? opt->command : "apical run");

  int done = 0;
  long long done_units = 0; /* into record done: a checkpoint written inside it */
  char *dump = NULL, *dump_id = NULL, *old_dump = NULL;
  float *sorted = NULL;
  unsigned char *diverged = NULL;
  uint32_t *events = NULL;
  uint64_t *events_start = NULL;
  int R = s.R, E = s.E;
  const ApSeries *headline = m->headline ? ap_layout_series(&ex->layout, m->headline) : NULL;
  dump = config_dump(ex), dump_id = dump ? config_identity(dump) : NULL;
  sorted = malloc((size_t)R * sizeof *sorted);
  diverged = calloc((size_t)R, 1);
  if (!dump || !dump_id || !sorted || !diverged) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto out;
  }
  if (opt->resume) {
    if ((st = resume_point(opt->out_dir, latest, sizeof latest, err))) goto out;
    st = ckpt_read(latest, ex, s.state, s.series, &done, &old_dump, err);
    if (st && st != AP_ERR_CONFIG) goto out;
    char *old_id = old_dump ? config_identity(old_dump) : NULL;
    if (!old_id || strcmp(old_id, dump_id)) {
      char was[160] = "?", now_[160] = "?";
      run_first_difference(old_id ? old_id : "", dump_id, was, now_, sizeof was);
      free(old_id);
      st = ap_fail(err, AP_ERR_CONFIG,
                   "--resume: %s was written by a different experiment "
                   "(only [train] epochs may change): it has '%s', this run '%s'",
                   latest, was, now_);
      goto out;
    }
    free(old_id);
    int was_index, was_count;
    runfile_shard(latest, &was_index, &was_count);
    if (was_index != ex->shard_index || was_count != ex->shard_count) {
      char was[48] = "the whole experiment", now_[48] = "the whole experiment";
      if (was_count) snprintf(was, sizeof was, "shard %d/%d", was_index, was_count);
      if (ex->shard_count)
        snprintf(now_, sizeof now_, "shard %d/%d", ex->shard_index, ex->shard_count);
      st = ap_fail(err, AP_ERR_CONFIG, "--resume: %s holds %s, this run asks for %s", latest, was,
                   now_);
      goto out;
    }
    if (done > E) {
      st = ap_fail(err, AP_ERR_CONFIG,
                   "--resume: %s holds %d %ss, more than this run's [train] epochs = %d "
                   "(give the same --set train.epochs=%d or more to continue it)",
                   latest, done, m->record, E, done);
      goto out;
    }
    if (st) { /* the same experiment, yet its arrays do not fit */
      st = ap_fail(err, AP_ERR_DATA, "--resume: %s does not match this experiment's shape", latest);
      goto out;
    }
    if (done == E) {
      log_msg("%s: the run already finished its %d %ss; raise [train] epochs to extend it", latest,
              E, m->record);
      goto out;
    }
    long long per;
    runfile_units(latest, &done_units, &per);
    if (done_units && per != s.units) {
      st = ap_fail(err, AP_ERR_CONFIG,
                   "--resume: %s stopped %lld of %lld %s into %s %d; this run cuts a %s into "
                   "%lld: resume with the apical that wrote it",
                   latest, done_units, per, unit_name(m), m->record, done + 1, m->record, s.units);
      goto out;
    }
    if ((st = session_push(&s, err))) goto out;
    uint32_t *ev = NULL;
    uint64_t *ev_start = NULL;
    st = ckpt_read_events(latest, ex, &ev, &ev_start, err);
    if (!st) st = session_set_events(&s, ev, ev_start, err);
    free(ev);
    free(ev_start);
    if (st) goto out;
    if (done_units)
      log_msg("resuming from %s (%s %d, and %lld of the next %s's %lld %s)", latest, m->record,
              done, done_units, m->record, s.units, unit_name(m));
    else
      log_msg("resuming from %s (%s %d)", latest, m->record, done);
  }
  const ApPos start = {done, done_units}, end = {E, 0};
  const double work_before = session_work(&s, (ApPos){0, 0}, start);
  const double total_steps = session_work(&s, start, end), work_all = work_before + total_steps;
  char desc[600];
  be->describe(&opt->exec, desc, sizeof desc);
  if (note[0]) snprintf(desc + strlen(desc), sizeof desc - strlen(desc), " (auto: %s)", note);
  if (s.impl->describe && s.n_cohorts == 1) { /* how it runs: kernel version, blocks, threads */
    char how[200];
    s.impl->describe(s.cohorts[0].c, how, sizeof how);
    snprintf(desc + strlen(desc), sizeof desc - strlen(desc), "; %s", how);
  }
  print_box(ex, &s, desc, opt->out_dir, done, total_steps);

  RunFile rf = {.kind = "checkpoint",
                .ex = ex,
                .backend = be->name,
                .dump = dump,
                .command = opt->command,
                .units_per_record = s.units,
                .series = s.series,
                .state = s.state,
                .cohort = s.cohort_of,
                .data = &s.data,
                .cohorts = s.cohorts,
                .n_cohorts = s.n_cohorts,
                .cpu_kernel = opt->exec.cpu_version,
                .cuda_kernel = opt->exec.version};
  if ((st = session_events(&s, &events, &events_start, err))) goto out;
  rf.events = events, rf.events_start = events_start;
  if (!opt->resume) { /* record 0: the initial state, for whoever wants the starting weights */
    char ck[AP_PATH_MAX + 64];
    snprintf(ck, sizeof ck, "%s/epoch-%09d.h5", cdir, 0);
    if ((st = runfile_write(ck, &rf, err))) goto out;
  }
  if (g_stop) { /* before the first record: what is on disk is what there was, or record 0 */
    if (opt->resume)
      log_msg("interrupted by %s before the first %s: %s is unchanged; continue with --resume",
              signal_name(g_stop), m->record, latest);
    else
      log_msg("interrupted by %s before the first %s: the initial state is in %s/epoch-%09d.h5; "
              "continue with --resume (or start over with --force)",
              signal_name(g_stop), m->record, cdir, 0);
    st = stopped(err);
    goto out;
  }

  /* Work units of about a second: each call's work (replica-steps, session_work) follows
   * the measured rate, so progress moves, a signal is answered and a launch stays short. */
  double t_start = ap_seconds();
  const long long U = s.units;
  ApPos at = start;
  double budget = 0.0, work_done = 0.0; /* 0: the first call is a unit that does work */
  int interrupted = 0;
  while (at.record < E) {
    int next_ckpt =
        ex->checkpoint_every ? (at.record / ex->checkpoint_every + 1) * ex->checkpoint_every : E;
    if (next_ckpt > E) next_ckpt = E;
    ApPos to = session_reach(&s, at, (ApPos){next_ckpt, 0}, budget);
    double t0 = ap_seconds();
    if ((st = session_advance(&s, at, to, err))) break;
    if (to.record > at.record) report_divergence(ex, &s, at.record, to.record, diverged);
    double took = ap_seconds() - t0, did = session_work(&s, at, to);
    /* a second's worth at the rate just measured, at most twice the last call's */
    if (did > 0.0) budget = took > 0.0 ? fmin(2.0 * did, did / took) : 2.0 * did;
    work_done += did;
    at = to;
    double elapsed = ap_seconds() - t_start, rate = work_done / elapsed;
    char eta[32], el[32], head[64] = "", inside[96] = "";
    fmt_duration(eta, sizeof eta, (total_steps - work_done) / rate);
    fmt_duration(el, sizeof el, elapsed);
    int nh = 0;
    for (int r = 0; headline && at.record > 0 && r < R; r++) {
      float v = session_record(&s, r, at.record - 1)[headline->offset];
      if (!isnan(v)) sorted[nh++] = v;
    }
    qsort(sorted, (size_t)nh, sizeof *sorted, cmp_float);
    if (nh) snprintf(head, sizeof head, " | %s median %.3f", headline->name, sorted[nh / 2]);
    if (at.unit) snprintf(inside, sizeof inside, " +%lld/%lld %s", at.unit, U, unit_name(m));
    progress_line(at.record == E,
                  "%s %d/%d%s (%.1f%%)%s | %.3g replica-steps/s | %s elapsed, ETA %s", m->record,
                  at.record, E, inside, 100.0 * (work_before + work_done) / work_all, head, rate,
                  el, eta);
    interrupted = g_stop && at.record < E; /* at the end the run is complete: it finishes */
    if ((at.record == next_ckpt && at.unit == 0) || at.record == E || interrupted) {
      if ((st = session_pull(&s, err))) break;
      free(events), free(events_start);
      if ((st = session_events(&s, &events, &events_start, err))) break;
      rf.events = events, rf.events_start = events_start;
      char ck[AP_PATH_MAX + 64];
      ckpt_path(ck, sizeof ck, cdir, at);
      rf.epochs_done = at.record;
      rf.units_done = at.unit;
      rf.kind = "checkpoint";
      if ((st = runfile_write(ck, &rf, err))) break;
      prune_checkpoints(opt->out_dir, ex->keep_checkpoints, 0);
      rf.kind = "results";
      if ((st = runfile_write(results, &rf, err))) break;
    }
    if (interrupted) break;
  }
  progress_end();
  if (!st && interrupted) {
    char where[160];
    if (at.unit)
      snprintf(where, sizeof where, "%lld of the %lld %s of %s %d (%d of %d done)", at.unit, U,
               unit_name(m), m->record, at.record + 1, at.record, E);
    else
      snprintf(where, sizeof where, "%s %d of %d", m->record, at.record, E);
    log_msg("interrupted by %s after %s: checkpoint and results written; continue with --resume",
            signal_name(g_stop), where);
    st = stopped(err);
  } else if (!st) {
    if (g_stop)
      log_msg("%s arrived during the last %s; the run went on to its end and is complete",
              signal_name(g_stop), m->record);
    double wall = ap_seconds() - t_start;
    log_msg("done: %g %ss in %.1f s (%.3g replica-steps/s); results in %s",
            (double)E - (done + (double)done_units / (double)U), m->record, wall,
            total_steps / wall, results);
    print_summary(ex, &s, E);
  }
out:
  session_close(&s);
  if (st && st != AP_ERR_INTERRUPTED && st != AP_ERR_TERMINATED)
    log_file_only("apical: %s\n", err->msg);
  free(sorted);
  free(diverged);
  free(events);
  free(events_start);
  free(dump);
  free(dump_id);
  free(old_dump);
  log_close();
  unlock_dir(opt->out_dir, lock);
  return st;
}

int run_lock_dir(const char *dir, ApError *err, ap_status *st) { return lock_dir(dir, err, st); }

void run_unlock_dir(const char *dir, int fd) { unlock_dir(dir, fd); }

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
