#include "run.h"

#include "host/h5io.h"
#include "host/log.h"
#include "host/session.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ap_status make_dir(const char *path, ApError *err) {
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

/* Checkpoints are DIR/checkpoints/epoch-NNNNNNNNN.h5 */
static int ckpt_epoch(const char *name) {
  int e;
  char tail[8];
  if (sscanf(name, "epoch-%9d.%3s", &e, tail) == 2 && !strcmp(tail, "h5")) return e;
  return -1;
}

void run_latest_checkpoint(const char *dir, char *path, size_t n) {
  char cdir[AP_PATH_MAX];
  snprintf(cdir, sizeof cdir, "%s/checkpoints", dir);
  path[0] = '\0';
  DIR *d = opendir(cdir);
  if (!d) return;
  int best = -1;
  struct dirent *ent;
  while ((ent = readdir(d)))
    if (ckpt_epoch(ent->d_name) > best) {
      best = ckpt_epoch(ent->d_name);
      snprintf(path, n, "%s/%s", cdir, ent->d_name);
    }
  closedir(d);
}

/* Deletes all but the newest `keep` checkpoints. */
static void prune_checkpoints(const char *dir, int keep) {
  char cdir[AP_PATH_MAX];
  snprintf(cdir, sizeof cdir, "%s/checkpoints", dir);
  for (;;) {
    DIR *d = opendir(cdir);
    if (!d) return;
    int count = 0, oldest = -1;
    struct dirent *ent;
    while ((ent = readdir(d))) {
      int e = ckpt_epoch(ent->d_name);
      if (e < 0) continue;
      count++;
      if (oldest < 0 || e < oldest) oldest = e;
    }
    closedir(d);
    if (count <= keep) return;
    char p[AP_PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/epoch-%09d.h5", cdir, oldest);
    if (unlink(p) < 0) return;
  }
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static void fmt_duration(char *buf, size_t n, double s) {
  if (!isfinite(s) || s < 0) snprintf(buf, n, "--");
  else if (s < 60) snprintf(buf, n, "%.0fs", s);
  else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* A boxed table of what is about to run (stdout and the log). */
static void print_box(const ApExperiment *ex, const char *backend_desc, int n_cohorts,
                      const McData *data, int n_val, const char *out_dir, int start_epoch,
                      double total_steps) {
  char rows[24][2][600];
  int n = 0;
#define ROW(k, ...)                                              \
  do {                                                           \
    snprintf(rows[n][0], sizeof rows[n][0], "%s", k);            \
    snprintf(rows[n][1], sizeof rows[n][1], __VA_ARGS__);        \
    n++;                                                         \
  } while (0)
  char dims[64] = "";
  for (int l = 0; l <= ex->dims.n_layers; l++)
    snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%d", l ? "-" : "", ex->dims.n[l]);
  ROW("experiment", "%s (%s)", ex->name, ex->source);
  ROW("model", "%s %s", ex->model, dims);
  ROW("dataset", "%s: %d training, %d validation per epoch (of %d)", ex->dataset, data->n_train,
      n_val, data->n_valset);
  ROW("replicas", "%d in %d cohort%s", ex->n_replicas, n_cohorts, n_cohorts == 1 ? "" : "s");
  char swept[160] = "";
  for (int i = 0; i < ex->n_swept; i++)
    snprintf(swept + strlen(swept), sizeof swept - strlen(swept), "%s%s", i ? ", " : "", ex->swept[i]);
  ROW("swept", "%s", ex->n_swept ? swept : "(nothing)");
  ROW("epochs", start_epoch ? "%d (resuming after epoch %d)" : "%d", ex->epochs, start_epoch);
  ROW("work", "%.3g replica-steps", total_steps);
  ROW("backend", "%s", backend_desc);
  ROW("checkpoints", ex->checkpoint_every ? "every %d epochs, newest %d kept" : "at the end%.0d, newest %d kept",
      ex->checkpoint_every, ex->keep_checkpoints);
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

/* Final validation accuracy, median and range over the replicas that differ only in seed,
 * each group labelled by its swept keys. */
static void print_summary(const ApExperiment *ex, const McMetrics *m, int epochs_done) {
  int R = ex->n_replicas;
  int *group = malloc((size_t)R * sizeof *group);
  float *vals = malloc((size_t)R * sizeof *vals);
  if (!group || !vals || epochs_done == 0) goto out;
  for (int r = 0; r < R; r++) {
    group[r] = r;
    McParams a = ex->replicas[r];
    a.seed = 0;
    for (int q = 0; q < r; q++) {
      McParams b = ex->replicas[q];
      b.seed = 0;
      if (!memcmp(&a, &b, sizeof a)) {
        group[r] = group[q];
        break;
      }
    }
  }
  if (isnan(m->val_acc[(size_t)epochs_done - 1])) goto out; /* no validation phase */
  log_msg("validation accuracy after epoch %d, median [min, max] over seeds:", epochs_done);
  for (int g = 0; g < R; g++) {
    int n = 0;
    for (int r = 0; r < R; r++)
      if (group[r] == g) vals[n++] = m->val_acc[(size_t)r * (size_t)m->n_epochs + (size_t)epochs_done - 1];
    if (!n) continue;
    qsort(vals, (size_t)n, sizeof *vals, cmp_float);
    char label[400] = "";
    for (int k = 0; k < ex->n_swept; k++) {
      if (!strcmp(ex->swept[k], "seed")) continue;
      char v[160];
      config_format_param(ex, &ex->replicas[g], ex->swept[k], v, sizeof v);
      snprintf(label + strlen(label), sizeof label - strlen(label), "%s%s %s", label[0] ? ", " : "",
               ex->swept[k], v);
    }
    float med = n % 2 ? vals[n / 2] : 0.5f * (vals[n / 2 - 1] + vals[n / 2]);
    log_msg("  %.3f [%.3f, %.3f]  %d seed%s  %s", med, vals[0], vals[n - 1], n, n == 1 ? " " : "s",
            label[0] ? label : "(all replicas)");
  }
out:
  free(group);
  free(vals);
}

/* Replicas whose metrics turned non-finite in epochs [e0, e1), reported once each. */
static void report_divergence(const ApExperiment *ex, const McMetrics *m, int e0, int e1,
                              unsigned char *reported) {
  int H = ex->dims.n_layers - 1, listed = 0, count = 0;
  char ids[200] = "";
  for (int r = 0; r < ex->n_replicas; r++) {
    if (reported[r]) continue;
    for (int e = e0; e < e1 && !reported[r]; e++) {
      size_t re = (size_t)r * (size_t)m->n_epochs + (size_t)e;
      int bad = !isfinite(m->train_acc[re]) || (!isnan(m->val_mse[re]) && !isfinite(m->val_mse[re]));
      for (int h = 0; h < H; h++) bad |= !isfinite(m->api_err[re * (size_t)H + (size_t)h]);
      if (!bad) continue;
      reported[r] = 1;
      count++;
      if (listed++ < 10)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d (epoch %d)", listed > 1 ? ", " : "", r, e);
    }
  }
  if (count)
    log_msg("warning: %d replica%s diverged (non-finite potentials): %s%s; they go on as NaN",
            count, count == 1 ? "" : "s", ids, count > 10 ? ", ..." : "");
}

/* The first line where two configuration dumps differ. */
static void first_difference(const char *a, const char *b, char *la, char *lb, size_t n) {
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

ap_status run_experiment(const ApExperiment *ex, const RunOptions *opt, ApError *err) {
  ap_status st;
  const ApBackend *be;
  char note[512];
  if ((st = ap_backend_select(opt->backend, &be, note, sizeof note, err))) return st;
  if (be->set_threads) be->set_threads(opt->threads);

  /* the run directory */
  char results[AP_PATH_MAX + 32], cdir[AP_PATH_MAX + 32], logp[AP_PATH_MAX + 32];
  snprintf(results, sizeof results, "%s/results.h5", opt->out_dir);
  snprintf(cdir, sizeof cdir, "%s/checkpoints", opt->out_dir);
  snprintf(logp, sizeof logp, "%s/log.txt", opt->out_dir);
  char latest[AP_PATH_MAX + 300];
  run_latest_checkpoint(opt->out_dir, latest, sizeof latest);
  if (opt->resume && !latest[0])
    return ap_fail(err, AP_ERR_NOINPUT, "--resume: no checkpoint in %s/checkpoints", opt->out_dir);
  if (!opt->resume && !opt->force && (latest[0] || file_exists(results)))
    return ap_fail(err, AP_ERR_CANTCREAT, "%s already holds a run; pass --resume to continue it, "
                   "--force to start over, or --out to choose another directory", opt->out_dir);
  if ((st = make_dir(opt->out_dir, err)) || (st = make_dir(cdir, err))) return st;
  if (opt->force && !opt->resume) {
    prune_checkpoints(opt->out_dir, 0);
    unlink(results);
  }
  if (log_open(logp) < 0) return ap_fail(err, AP_ERR_CANTCREAT, "%s: %s", logp, strerror(errno));
  log_file_only("\n=== %s\n", opt->command ? opt->command : "apical run");
  if (note[0]) log_msg("%s", note);

  Session s;
  if ((st = session_open(&s, ex, be, err))) {
    log_close();
    return st;
  }
  int R = s.R, E = s.E, done = 0;
  char *dump = config_dump(ex), *dump_id = dump ? config_identity(dump) : NULL, *old_dump = NULL;
  float *sorted = malloc((size_t)R * sizeof *sorted);
  unsigned char *diverged = calloc((size_t)R, 1);
  if (!dump || !dump_id || !sorted || !diverged) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto out;
  }
  if (opt->resume) {
    if ((st = ckpt_read(latest, &s.lay, R, s.state, &s.m, &done, &old_dump, err))) goto out;
    char *old_id = config_identity(old_dump);
    if (!old_id || strcmp(old_id, dump_id)) {
      char was[160] = "?", now_[160] = "?";
      first_difference(old_id ? old_id : "", dump_id, was, now_, sizeof was);
      free(old_id);
      st = ap_fail(err, AP_ERR_CONFIG, "--resume: %s was written by a different experiment "
                   "(only [train] epochs may change): it has '%s', this run '%s'", latest, was, now_);
      goto out;
    }
    free(old_id);
    if (done == E) {
      log_msg("%s: the run already finished its %d epochs; raise [train] epochs to extend it",
              latest, E);
      goto out;
    }
    if ((st = session_push(&s, err))) goto out;
    log_msg("resuming from %s (epoch %d)", latest, done);
  }
  double total_steps = s.steps_per_epoch * (double)(E - done);
  char desc[256];
  be->describe(desc, sizeof desc);
  print_box(ex, desc, s.n_cohorts, &s.data, s.n_val, opt->out_dir, done, total_steps);

  RunFile rf = {"checkpoint", ex,      &s.lay,       be->name, dump,           opt->command, 0,
                &s.m,         s.state, s.cohort_of, s.data.n_train, s.n_val, s.data.n_valset};
  if (!opt->resume) { /* epoch 0: the initial state, for whoever wants the starting weights */
    char ck[AP_PATH_MAX + 64];
    snprintf(ck, sizeof ck, "%s/epoch-%09d.h5", cdir, 0);
    if ((st = runfile_write(ck, &rf, err))) goto out;
  }

  g_stop = 0;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  double t_start = now();
  int e = done, chunk = 1, interrupted = 0;
  while (e < E) {
    int next_ckpt = ex->checkpoint_every ? (e / ex->checkpoint_every + 1) * ex->checkpoint_every : E;
    int e1 = e + chunk;
    if (e1 > next_ckpt) e1 = next_ckpt;
    if (e1 > E) e1 = E;
    double t0 = now();
    if ((st = session_run(&s, e, e1, err))) break;
    report_divergence(ex, &s.m, e, e1, diverged);
    /* aim at about a second per chunk: smooth progress, negligible synchronisation */
    double sec_per_epoch = (now() - t0) / (e1 - e);
    chunk = sec_per_epoch > 0 ? (int)fmax(1.0, fmin(1e6, 1.0 / sec_per_epoch)) : chunk * 2;
    e = e1;
    double elapsed = now() - t_start, rate = s.steps_per_epoch * (e - done) / elapsed;
    char eta[32], el[32], acc[48] = "";
    fmt_duration(eta, sizeof eta, (E - e) * (elapsed / (e - done)));
    fmt_duration(el, sizeof el, elapsed);
    int n = 0;
    for (int r = 0; r < R; r++) {
      float v = s.m.val_acc[(size_t)r * (size_t)E + (size_t)e - 1];
      if (!isnan(v)) sorted[n++] = v;
    }
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_float);
    if (n) snprintf(acc, sizeof acc, " | val acc median %.3f", sorted[n / 2]);
    progress_line(e == E, "epoch %d/%d (%.1f%%)%s | %.3g replica-steps/s | %s elapsed, ETA %s", e, E,
                  100.0 * e / E, acc, rate, el, eta);
    interrupted = g_stop;
    if (e == next_ckpt || e == E || interrupted) {
      if ((st = session_pull(&s, err))) break;
      char ck[AP_PATH_MAX + 64];
      snprintf(ck, sizeof ck, "%s/epoch-%09d.h5", cdir, e);
      rf.epochs_done = e;
      rf.kind = "checkpoint";
      if ((st = runfile_write(ck, &rf, err))) break;
      prune_checkpoints(opt->out_dir, ex->keep_checkpoints);
      rf.kind = "results";
      if ((st = runfile_write(results, &rf, err))) break;
    }
    if (interrupted) break;
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  progress_end();
  if (!st && interrupted) {
    log_msg("interrupted after epoch %d: checkpoint and results written; continue with --resume", e);
    st = ap_fail(err, AP_ERR_INTERRUPTED, "interrupted");
  } else if (!st) {
    double wall = now() - t_start;
    log_msg("done: %d epochs in %.1f s (%.3g replica-steps/s); results in %s", E - done, wall,
            total_steps / wall, results);
    print_summary(ex, &s.m, E);
  }
out:
  session_close(&s);
  free(sorted);
  free(diverged);
  free(dump);
  free(dump_id);
  free(old_dump);
  log_close();
  return st;
}
