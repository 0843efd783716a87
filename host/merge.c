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

/* A merge in progress: the shards, the whole experiment rebuilt from them, and its
 * arrays as the unsharded run would hold them. */
typedef struct Merge {
  int n;                           /* shards */
  char (*paths)[AP_PATH_MAX + 16]; /* [n] their results files */
  ShardFile *f;                    /* [n] */
  Ini ini;
  ApExperiment ex; /* the whole experiment */
  ApDataset ds;
  float *state, *series;         /* [R][n_floats], [R][E][F] */
  float *sub_state, *sub_series; /* one shard's */
  char *sub_dump;
  int *cohort_of, *owner; /* [R] */
  SessionCohort *cohorts; /* [C] */
  int C;
  uint32_t *events, **ev_of; /* the model's events: all, and [R] each replica's */
  uint64_t *events_start, *ev_n;
  char kernels[2][64]; /* --cpu-kernel, --cuda-kernel */
  long long units[2];  /* units done into the last record, and per record */
} Merge;

/* Every shard's results file, read and checked against the others. */
static ap_status read_shards(Merge *g, const char *const *args, ApError *err) {
  int n = g->n;
  g->paths = calloc((size_t)n, sizeof *g->paths);
  g->f = calloc((size_t)n, sizeof *g->f);
  if (!g->paths || !g->f) return ap_fail(err, AP_ERR_OSERR, "out of memory");
  ap_status st = AP_OK;
  for (int i = 0; i < n && !st; i++) {
    results_path(args[i], g->paths[i], sizeof g->paths[i]);
    if (access(g->paths[i], R_OK))
      st = ap_fail(err, AP_ERR_NOINPUT, "%s: %s", g->paths[i], strerror(errno));
    else
      st = shard_file_read(g->paths[i], &g->f[i], err);
  }
  return st ? st : check_shards(g->paths, g->f, n, err);
}

/* The whole experiment, rebuilt from the effective configuration the shards ran. */
static ap_status rebuild(Merge *g, ApError *err) {
  const ShardFile *f = g->f;
  ap_status st;
  if ((st = ini_parse_text(&g->ini, f[0].dump, g->paths[0], err)) ||
      (st = config_build(&g->ex, &g->ini, g->paths[0], err)))
    return st;
  char *again = config_dump(&g->ex);
  int same = again && !strcmp(again, f[0].dump);
  free(again);
  if (!same || g->ex.n_replicas != f[0].n_total)
    return ap_fail(err, AP_ERR_SOFTWARE,
                   "%s: the experiment does not rebuild from its configuration (%d replicas, the "
                   "shards say %d)",
                   g->paths[0], g->ex.n_replicas, f[0].n_total);
  for (int i = 1; i < g->n; i++) /* shards index the whole experiment's rows with their ids */
    if (f[i].n_total != f[0].n_total)
      return ap_fail(err, AP_ERR_DATA, "%s says %d replicas in all, %s %d", g->paths[0],
                     f[0].n_total, g->paths[i], f[i].n_total);
  free(g->ex.file_text); /* the file as the user wrote it, as the unsharded run stores it */
  if (!(g->ex.file_text = strdup(f[0].file_text)))
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  return AP_OK;
}

/* The whole experiment's arrays (series NaN where not run), and each replica's shard:
 * exactly one. */
static ap_status allocate_whole(Merge *g, ApError *err) {
  int R = g->ex.n_replicas, E = g->ex.epochs;
  const ApLayout *lay = &g->ex.layout;
  size_t nf = (size_t)lay->n_floats, F = (size_t)lay->series_width;
  g->owner = malloc((size_t)R * sizeof *g->owner);
  g->cohort_of = malloc((size_t)R * sizeof *g->cohort_of);
  g->state = calloc((size_t)R * nf, sizeof *g->state);
  g->series = malloc((size_t)R * (size_t)E * F * sizeof *g->series + 1);
  g->ev_of = calloc((size_t)R, sizeof *g->ev_of);
  g->ev_n = calloc((size_t)R, sizeof *g->ev_n);
  if (!g->owner || !g->cohort_of || !g->state || !g->series || !g->ev_of || !g->ev_n)
    return ap_fail(err, AP_ERR_OSERR, "out of memory for %d replicas", R);
  for (size_t i = 0; i < (size_t)R * (size_t)E * F; i++) g->series[i] = NAN;
  for (int r = 0; r < R; r++) g->owner[r] = -1;
  for (int i = 0; i < g->n; i++)
    for (int k = 0; k < g->f[i].n; k++) {
      int r = g->f[i].ids[k];
      if (g->owner[r] >= 0)
        return ap_fail(err, AP_ERR_DATA, "replica %d is in %s and in %s", r, g->paths[g->owner[r]],
                       g->paths[i]);
      g->owner[r] = i;
    }
  for (int r = 0; r < R; r++)
    if (g->owner[r] < 0) return ap_fail(err, AP_ERR_DATA, "no shard holds replica %d", r);
  return AP_OK;
}

/* Shard i's events, each replica's kept apart until all are read (join_events). */
static ap_status read_events(Merge *g, int i, ApExperiment *sub, ApError *err) {
  const ShardFile *f = &g->f[i];
  uint32_t *pairs;
  uint64_t *start;
  ap_status st = ckpt_read_events(g->paths[i], sub, &pairs, &start, err);
  if (st) return st;
  for (int k = 0; k < f->n && !st; k++) {
    int r = f->ids[k];
    g->ev_n[r] = start[k + 1] - start[k];
    if (!(g->ev_of[r] = malloc((size_t)(g->ev_n[r] ? g->ev_n[r] : 1) * 2 * sizeof(uint32_t))))
      st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    else
      memcpy(g->ev_of[r], pairs + 2 * start[k], (size_t)g->ev_n[r] * 2 * sizeof(uint32_t));
  }
  free(pairs), free(start);
  return st;
}

/* Shard i's rows to their places in the whole, and what its cohorts cost to theirs. */
static ap_status place_shard(Merge *g, int i, ApError *err) {
  const ShardFile *f = &g->f[i];
  const ApLayout *lay = &g->ex.layout;
  size_t nf = (size_t)lay->n_floats, F = (size_t)lay->series_width, E = (size_t)g->ex.epochs;
  int done = g->f[0].epochs_done;
  ApExperiment sub = g->ex; /* the shard's shape: its replica count */
  sub.n_replicas = f->n;
  int sub_done = 0;
  free(g->sub_state), free(g->sub_series);
  g->sub_state = calloc((size_t)f->n * nf + 1, sizeof *g->sub_state);
  g->sub_series = malloc((size_t)f->n * E * F * sizeof *g->sub_series + 1);
  if (!g->sub_state || !g->sub_series)
    return ap_fail(err, AP_ERR_OSERR, "out of memory reading %s", g->paths[i]);
  free(g->sub_dump), g->sub_dump = NULL;
  ap_status st =
      results_read(g->paths[i], &sub, g->sub_state, g->sub_series, &sub_done, &g->sub_dump, err);
  if (st == AP_ERR_CONFIG)
    return ap_fail(err, AP_ERR_DATA, "%s does not match its experiment's shape", g->paths[i]);
  if (st) return st;
  for (int k = 0; k < f->n; k++) {
    int r = f->ids[k];
    memcpy(g->state + (size_t)r * nf, g->sub_state + (size_t)k * nf, nf * sizeof *g->state);
    for (int e = 0; e < done; e++)
      memcpy(g->series + ((size_t)r * E + (size_t)e) * F,
             g->sub_series + ((size_t)k * E + (size_t)e) * F, F * sizeof *g->series);
  }
  /* what each cohort cost: a shard's cohort lies within one cohort of the whole */
  for (int c = 0; c < f->n_cohorts; c++)
    for (int k = 0; k < f->n; k++)
      if (f->cohort[k] == c) {
        SessionCohort *w = &g->cohorts[g->cohort_of[f->ids[k]]];
        w->busy_s += f->busy_s[c], w->steps += f->steps[c];
        break;
      }
  return g->ex.model->events ? read_events(g, i, &sub, err) : AP_OK;
}

/* The cohorts of the whole, and every shard's rows in place. */
static ap_status place_shards(Merge *g, ApError *err) {
  int R = g->ex.n_replicas;
  g->C = config_cohorts(&g->ex, g->cohort_of);
  if (g->C < 0 || !(g->cohorts = calloc((size_t)g->C, sizeof *g->cohorts)))
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int r = 0; r < R; r++) g->cohorts[g->cohort_of[r]].n++;
  ap_status st = AP_OK;
  for (int i = 0; i < g->n && !st; i++) st = place_shard(g, i, err);
  return st;
}

/* The replicas' events in replica order, as one run stores them. */
static ap_status join_events(Merge *g, ApError *err) {
  int R = g->ex.n_replicas;
  uint64_t total = 0;
  if (!(g->events_start = malloc((size_t)(R + 1) * sizeof *g->events_start)))
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int r = 0; r < R; r++) g->events_start[r] = total, total += g->ev_n[r];
  g->events_start[R] = total;
  if (!(g->events = malloc((size_t)(total ? total : 1) * 2 * sizeof *g->events)))
    return ap_fail(err, AP_ERR_OSERR, "out of memory");
  for (int r = 0; r < R; r++)
    memcpy(g->events + 2 * g->events_start[r], g->ev_of[r],
           (size_t)g->ev_n[r] * 2 * sizeof *g->events);
  return AP_OK;
}

/* The shards ran as parts of one run: the same kernel versions, stopped at the same unit
 * inside the last record. */
static ap_status check_one_run(Merge *g, ApError *err) {
  char other[2][64];
  runfile_kernels(g->paths[0], g->kernels[0], g->kernels[1], sizeof g->kernels[0]);
  for (int i = 1; i < g->n; i++) {
    runfile_kernels(g->paths[i], other[0], other[1], sizeof other[0]);
    for (int k = 0; k < 2; k++)
      if (strcmp(g->kernels[k], other[k]))
        return ap_fail(err, AP_ERR_CONFIG,
                       "%s ran with %s %s, %s with %s: kernel versions may sum in another order, "
                       "so the shards are not parts of one run",
                       g->paths[0], k ? "--cuda-kernel" : "--cpu-kernel",
                       g->kernels[k][0] ? g->kernels[k] : "(not recorded)", g->paths[i],
                       other[k][0] ? other[k] : "(not recorded)");
  }
  long long other_u[2];
  runfile_units(g->paths[0], &g->units[0], &g->units[1]);
  for (int i = 1; i < g->n; i++) {
    runfile_units(g->paths[i], &other_u[0], &other_u[1]);
    if (other_u[0] != g->units[0] || other_u[1] != g->units[1])
      return ap_fail(err, AP_ERR_CONFIG,
                     "%s stopped %lld of %lld units into its last record, %s %lld of %lld: finish "
                     "both (apical run ... --resume) before merging",
                     g->paths[0], g->units[0], g->units[1], g->paths[i], other_u[0], other_u[1]);
  }
  return AP_OK;
}

/* out_dir/results.h5, under out_dir's lock; its path into written. */
static ap_status write_merged(Merge *g, const char *out_dir, int force, const char *partial,
                              const char *command, char *written, size_t written_n, ApError *err) {
  const ShardFile *f = g->f;
  char backend[64];
  snprintf(backend, sizeof backend, "%s", f[0].backend);
  for (int i = 1; i < g->n; i++)
    if (strcmp(f[i].backend, f[0].backend)) snprintf(backend, sizeof backend, "mixed");
  char out_path[AP_PATH_MAX + 32];
  snprintf(out_path, sizeof out_path, "%s/results.h5", out_dir);
  if (!force && !access(out_path, F_OK))
    return ap_fail(err, AP_ERR_CANTCREAT, "%s exists; pass --force to replace it", out_path);
  ap_status st;
  if ((st = run_make_dir(out_dir, err))) return st;
  int lock = run_lock_dir(out_dir, err, &st); /* never into a directory a run is writing */
  if (lock < 0) return st;
  ApData data = ds_view(&g->ds);
  RunFile rf = {.kind = "results",
                .ex = &g->ex,
                .backend = backend,
                .dump = f[0].dump,
                .command = command,
                .epochs_done = f[0].epochs_done,
                .units_done = g->units[0],
                .units_per_record = g->units[1],
                .series = g->series,
                .state = g->state,
                .cohort = g->cohort_of,
                .data = &data,
                .cohorts = g->cohorts,
                .n_cohorts = g->C,
                .events = g->events,
                .events_start = g->events_start,
                .cpu_kernel = g->kernels[0][0] ? g->kernels[0] : NULL,
                .cuda_kernel = g->kernels[1][0] ? g->kernels[1] : NULL,
                .partial = partial};
  st = runfile_write(out_path, &rf, err);
  run_unlock_dir(out_dir, lock);
  if (!st) snprintf(written, written_n, "%s", out_path);
  return st;
}

static void merge_free(Merge *g) {
  for (int r = 0; g->ev_of && r < g->ex.n_replicas; r++) free(g->ev_of[r]);
  free(g->ev_of), free(g->ev_n), free(g->events), free(g->events_start);
  for (int i = 0; g->f && i < g->n; i++) shard_file_free(&g->f[i]);
  free(g->f), free(g->paths);
  free(g->state), free(g->series), free(g->sub_state), free(g->sub_series), free(g->sub_dump);
  free(g->cohort_of), free(g->owner), free(g->cohorts);
  ds_free(&g->ds);
  ini_free(&g->ini);
  config_free(&g->ex);
}

ap_status merge_shards(const char *const *args, int n, const char *out_dir, int force,
                       const char *partial, const char *command, char *written, size_t written_n,
                       ApError *err) {
  if (n < 1) return ap_fail(err, AP_ERR_USAGE, "merge needs the shards' run directories");
  Merge g;
  memset(&g, 0, sizeof g);
  g.n = n;
  ap_status st;
  if ((st = read_shards(&g, args, err)) || (st = rebuild(&g, err)) ||
      (st = allocate_whole(&g, err)) || (st = place_shards(&g, err)) ||
      (g.ex.model->events && (st = join_events(&g, err))))
    goto out;
  /* the sample orders follow from the seeds and the data */
  if (g.ex.record_order && (st = session_load_dataset(&g.ex, &g.ds, err))) goto out;
  if (!(st = check_one_run(&g, err)))
    st = write_merged(&g, out_dir, force, partial, command, written, written_n, err);
out:
  merge_free(&g);
  return st;
}
