#include "merge.h"

#include "host/h5io.h"
#include "host/rundir.h"
#include "host/session.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* DIR/results.h5, or the path itself when it names a file. */
static void results_path(const char *arg, char *out, size_t n) {
  struct stat sb;
  if (stat(arg, &sb) == 0 && S_ISREG(sb.st_mode))
    snprintf(out, n, "%s", arg);
  else
    snprintf(out, n, "%s/results.h5", arg);
}

/* Checks that the shards are every part of one experiment, once each, all as far along. */
static ap_status check_shards(char (*paths)[AP_PATH_MAX + 16], const ShardFile *f, int n,
                              ApError *err) {
  int count = f[0].count;
  for (int i = 1; i < n; i++) {
    if (strcmp(f[i].dump, f[0].dump)) {
      char a[200], b[200];
      config_first_difference(f[0].dump, f[i].dump, a, b, sizeof a);
      return ap_fail(err, AP_ERR_CONFIG,
                     "%s and %s are shards of different experiments: '%s' against '%s'", paths[0],
                     paths[i], a, b);
    }
    if (f[i].count != count)
      return ap_fail(err, AP_ERR_CONFIG, "%s is shard %d/%d, %s shard %d/%d: different splits",
                     paths[0], f[0].index, count, paths[i], f[i].index, f[i].count);
  }
  int *seen = calloc((size_t)count, sizeof *seen); /* 1 + the argument holding it */
  if (!seen) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  ap_status st = AP_OK;
  for (int i = 0; i < n && !st; i++) {
    if (seen[f[i].index])
      st = ap_fail(err, AP_ERR_CONFIG, "%s and %s both hold shard %d/%d",
                   paths[seen[f[i].index] - 1], paths[i], f[i].index, count);
    seen[f[i].index] = i + 1;
  }
  if (!st) {
    char missing[200] = "";
    int n_missing = 0;
    for (int k = 0; k < count; k++)
      if (!seen[k] && n_missing++ < 20)
        snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%d",
                 n_missing > 1 ? ", " : "", k);
    if (n_missing)
      st = ap_fail(err, AP_ERR_NOINPUT, "missing %s %s%s of %d (apical run --shard I/%d)",
                   n_missing == 1 ? "shard" : "shards", missing, n_missing > 20 ? ", ..." : "",
                   count, count);
  }
  for (int i = 1; i < n && !st; i++)
    if (f[i].epochs_done != f[0].epochs_done)
      st = ap_fail(err, AP_ERR_CONFIG,
                   "shard %d/%d (%s) has finished %d of %d records, shard %d/%d (%s) %d: finish "
                   "both (apical run ... --resume) before merging",
                   f[i].index, count, paths[i], f[i].epochs_done, f[i].epochs, f[0].index, count,
                   paths[0], f[0].epochs_done);
  free(seen);
  return st;
}

void merge_experiment_name(const char *path, char *name, size_t n) {
  ShardFile f;
  ApError err = {{0}};
  name[0] = '\0';
  if (shard_file_read(path, &f, &err)) return;
  Ini ini = {0};
  if (!ini_parse_text(&ini, f.dump, path, &err)) {
    const IniEntry *e = ini_find(&ini, "experiment", "name");
    if (e) snprintf(name, n, "%s", e->value);
  }
  ini_free(&ini);
  shard_file_free(&f);
}

ap_status merge_shards(const char *const *args, int n, const char *out_dir, int force,
                       const char *partial, const char *command, char *written, size_t written_n,
                       ApError *err) {
  if (n < 1) return ap_fail(err, AP_ERR_USAGE, "merge needs the shards' run directories");
  char(*paths)[AP_PATH_MAX + 16] = calloc((size_t)n, sizeof *paths);
  ShardFile *f = calloc((size_t)n, sizeof *f);
  ApExperiment ex;
  memset(&ex, 0, sizeof ex);
  ApDataset ds;
  memset(&ds, 0, sizeof ds);
  float *state = NULL, *series = NULL, *sub_state = NULL, *sub_series = NULL;
  int *cohort_of = NULL, *owner = NULL;
  SessionCohort *cohorts = NULL;
  uint32_t *events = NULL, **ev_of = NULL;
  uint64_t *events_start = NULL, *ev_n = NULL;
  char *sub_dump = NULL;
  Ini ini = {0};
  ap_status st = AP_OK;
  if (!paths || !f) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto out;
  }
  for (int i = 0; i < n && !st; i++) {
    results_path(args[i], paths[i], sizeof paths[i]);
    if (access(paths[i], R_OK))
      st = ap_fail(err, AP_ERR_NOINPUT, "%s: %s", paths[i], strerror(errno));
    else
      st = shard_file_read(paths[i], &f[i], err);
  }
  if (st || (st = check_shards(paths, f, n, err))) goto out;

  /* the whole experiment, rebuilt from the effective configuration the shards ran */
  if ((st = ini_parse_text(&ini, f[0].dump, paths[0], err)) ||
      (st = config_build(&ex, &ini, paths[0], err)))
    goto out;
  char *again = config_dump(&ex);
  int same = again && !strcmp(again, f[0].dump);
  free(again);
  if (!same || ex.n_replicas != f[0].n_total) {
    st = ap_fail(err, AP_ERR_SOFTWARE,
                 "%s: the experiment does not rebuild from its configuration (%d replicas, the "
                 "shards say %d)",
                 paths[0], ex.n_replicas, f[0].n_total);
    goto out;
  }
  for (int i = 1; i < n; i++) /* shards index the whole experiment's rows with their ids */
    if (f[i].n_total != f[0].n_total) {
      st = ap_fail(err, AP_ERR_DATA, "%s says %d replicas in all, %s %d", paths[0], f[0].n_total,
                   paths[i], f[i].n_total);
      goto out;
    }
  free(ex.file_text); /* the file as the user wrote it, as the unsharded run stores it */
  if (!(ex.file_text = strdup(f[0].file_text))) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto out;
  }
  int R = ex.n_replicas, E = ex.epochs, done = f[0].epochs_done;
  const ApLayout *lay = &ex.layout;
  size_t nf = (size_t)lay->n_floats, F = (size_t)lay->series_width;
  owner = malloc((size_t)R * sizeof *owner);
  cohort_of = malloc((size_t)R * sizeof *cohort_of);
  state = calloc((size_t)R * nf, sizeof *state);
  series = malloc((size_t)R * (size_t)E * F * sizeof *series + 1);
  ev_of = calloc((size_t)R, sizeof *ev_of);
  ev_n = calloc((size_t)R, sizeof *ev_n);
  if (!owner || !cohort_of || !state || !series || !ev_of || !ev_n) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory for %d replicas", R);
    goto out;
  }
  for (size_t i = 0; i < (size_t)R * (size_t)E * F; i++) series[i] = NAN;
  for (int r = 0; r < R; r++) owner[r] = -1;
  for (int i = 0; i < n && !st; i++)
    for (int k = 0; k < f[i].n && !st; k++) {
      int r = f[i].ids[k];
      if (owner[r] >= 0)
        st = ap_fail(err, AP_ERR_DATA, "replica %d is in %s and in %s", r, paths[owner[r]],
                     paths[i]);
      owner[r] = i;
    }
  for (int r = 0; r < R && !st; r++)
    if (owner[r] < 0) st = ap_fail(err, AP_ERR_DATA, "no shard holds replica %d", r);
  if (st) goto out;

  /* every shard's rows to their places */
  int C = config_cohorts(&ex, cohort_of);
  if (C < 0 || !(cohorts = calloc((size_t)C, sizeof *cohorts))) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto out;
  }
  for (int r = 0; r < R; r++) cohorts[cohort_of[r]].n++;
  for (int i = 0; i < n && !st; i++) {
    ApExperiment sub = ex; /* the shard's shape: its replica count */
    sub.n_replicas = f[i].n;
    int sub_done = 0;
    free(sub_state), free(sub_series);
    sub_state = calloc((size_t)f[i].n * nf + 1, sizeof *sub_state);
    sub_series = malloc((size_t)f[i].n * (size_t)E * F * sizeof *sub_series + 1);
    if (!sub_state || !sub_series) {
      st = ap_fail(err, AP_ERR_OSERR, "out of memory reading %s", paths[i]);
      break;
    }
    free(sub_dump), sub_dump = NULL;
    if ((st = results_read(paths[i], &sub, sub_state, sub_series, &sub_done, &sub_dump, err))) {
      if (st == AP_ERR_CONFIG)
        st = ap_fail(err, AP_ERR_DATA, "%s does not match its experiment's shape", paths[i]);
      break;
    }
    for (int k = 0; k < f[i].n; k++) {
      int r = f[i].ids[k];
      memcpy(state + (size_t)r * nf, sub_state + (size_t)k * nf, nf * sizeof *state);
      for (int e = 0; e < done; e++)
        memcpy(series + ((size_t)r * (size_t)E + (size_t)e) * F,
               sub_series + ((size_t)k * (size_t)E + (size_t)e) * F, F * sizeof *series);
    }
    /* what each cohort cost: a shard's cohort lies within one cohort of the whole */
    for (int c = 0; c < f[i].n_cohorts; c++)
      for (int k = 0; k < f[i].n; k++)
        if (f[i].cohort[k] == c) {
          SessionCohort *w = &cohorts[cohort_of[f[i].ids[k]]];
          w->busy_s += f[i].busy_s[c], w->steps += f[i].steps[c];
          break;
        }
    if (ex.model->events) {
      uint32_t *pairs;
      uint64_t *start;
      if ((st = ckpt_read_events(paths[i], &sub, &pairs, &start, err))) break;
      for (int k = 0; k < f[i].n && !st; k++) {
        int r = f[i].ids[k];
        ev_n[r] = start[k + 1] - start[k];
        if (!(ev_of[r] = malloc((size_t)(ev_n[r] ? ev_n[r] : 1) * 2 * sizeof(uint32_t))))
          st = ap_fail(err, AP_ERR_OSERR, "out of memory");
        else
          memcpy(ev_of[r], pairs + 2 * start[k], (size_t)ev_n[r] * 2 * sizeof(uint32_t));
      }
      free(pairs), free(start);
    }
  }
  if (st) goto out;
  if (ex.model->events) {
    uint64_t total = 0;
    if (!(events_start = malloc((size_t)(R + 1) * sizeof *events_start))) {
      st = ap_fail(err, AP_ERR_OSERR, "out of memory");
      goto out;
    }
    for (int r = 0; r < R; r++) events_start[r] = total, total += ev_n[r];
    events_start[R] = total;
    if (!(events = malloc((size_t)(total ? total : 1) * 2 * sizeof *events))) {
      st = ap_fail(err, AP_ERR_OSERR, "out of memory");
      goto out;
    }
    for (int r = 0; r < R; r++)
      memcpy(events + 2 * events_start[r], ev_of[r], (size_t)ev_n[r] * 2 * sizeof *events);
  }
  /* the sample orders follow from the seeds and the data */
  if (ex.record_order && (st = session_load_dataset(&ex, &ds, err))) goto out;
  ApData data = ds_view(&ds);

  char kernels[2][64], other[2][64]; /* the kernel versions: one for all shards */
  runfile_kernels(paths[0], kernels[0], kernels[1], sizeof kernels[0]);
  for (int i = 1; i < n && !st; i++) {
    runfile_kernels(paths[i], other[0], other[1], sizeof other[0]);
    for (int k = 0; k < 2 && !st; k++)
      if (strcmp(kernels[k], other[k]))
        st = ap_fail(err, AP_ERR_CONFIG,
                     "%s ran with %s %s, %s with %s: kernel versions may sum in another order, "
                     "so the shards are not parts of one run",
                     paths[0], k ? "--cuda-kernel" : "--cpu-kernel",
                     kernels[k][0] ? kernels[k] : "(not recorded)", paths[i],
                     other[k][0] ? other[k] : "(not recorded)");
  }
  long long units[2], other_u[2]; /* where inside the record: the same for all shards */
  runfile_units(paths[0], &units[0], &units[1]);
  for (int i = 1; i < n && !st; i++) {
    runfile_units(paths[i], &other_u[0], &other_u[1]);
    if (other_u[0] != units[0] || other_u[1] != units[1])
      st = ap_fail(err, AP_ERR_CONFIG,
                   "%s stopped %lld of %lld units into its last record, %s %lld of %lld: finish "
                   "both (apical run ... --resume) before merging",
                   paths[0], units[0], units[1], paths[i], other_u[0], other_u[1]);
  }
  if (st) goto out;
  char backend[64];
  snprintf(backend, sizeof backend, "%s", f[0].backend);
  for (int i = 1; i < n; i++)
    if (strcmp(f[i].backend, f[0].backend)) snprintf(backend, sizeof backend, "mixed");
  char out_path[AP_PATH_MAX + 32];
  snprintf(out_path, sizeof out_path, "%s/results.h5", out_dir);
  if (!force && !access(out_path, F_OK)) {
    st = ap_fail(err, AP_ERR_CANTCREAT, "%s exists; pass --force to replace it", out_path);
    goto out;
  }
  if ((st = run_make_dir(out_dir, err))) goto out;
  int lock = run_lock_dir(out_dir, err, &st); /* never into a directory a run is writing */
  if (lock < 0) goto out;
  RunFile rf = {.kind = "results",
                .ex = &ex,
                .backend = backend,
                .dump = f[0].dump,
                .command = command,
                .epochs_done = done,
                .units_done = units[0],
                .units_per_record = units[1],
                .series = series,
                .state = state,
                .cohort = cohort_of,
                .data = &data,
                .cohorts = cohorts,
                .n_cohorts = C,
                .events = events,
                .events_start = events_start,
                .cpu_kernel = kernels[0][0] ? kernels[0] : NULL,
                .cuda_kernel = kernels[1][0] ? kernels[1] : NULL,
                .partial = partial};
  st = runfile_write(out_path, &rf, err);
  run_unlock_dir(out_dir, lock);
  if (!st) snprintf(written, written_n, "%s", out_path);
out:
  for (int r = 0; ev_of && r < ex.n_replicas; r++) free(ev_of[r]);
  free(ev_of), free(ev_n), free(events), free(events_start);
  for (int i = 0; f && i < n; i++) shard_file_free(&f[i]);
  free(f), free(paths);
  free(state), free(series), free(sub_state), free(sub_series), free(sub_dump);
  free(cohort_of), free(owner), free(cohorts);
  ds_free(&ds);
  ini_free(&ini);
  config_free(&ex);
  return st;
}
