/* Throughput of the microcircuit step on one backend: replica-steps per second of a Bars
 * network in training (teacher and plasticity on, no validation phase), for a list of
 * replica counts. Each count runs whole epochs until --seconds have passed.
 *
 *   bench_mc [--backend cpu] [--replicas 1,64,1024] [--dims 9,30,3] [--t-pres 100]
 *            [--variant le|original] [--threads N] [--seconds 3]
 *   bench_mc --experiment FILE.ini [--set SECTION.KEY=VALUE]... [--backend] [--threads]
 *            the wall time of a whole experiment, in memory (no files: needs no HDF5)
 */
#include "datasets/dataset.h"
#include "host/config.h"
#include "host/session.h"
#include "kernels/ap_rng.h"
#include "kernels/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_list(const char *s, int *out, int max) {
  int n = 0;
  while (*s && n < max) {
    out[n++] = (int)strtol(s, (char **)&s, 10);
    if (*s == ',') s++;
  }
  return n;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Runs a whole experiment on a backend and reports its wall time and final accuracies. */
static int run_experiment_timed(const char *file, const char **sets, int n_sets,
                                const ApBackend *be) {
  Ini ini = {0};
  ApExperiment ex;
  ApError err = {{0}};
  ap_status st = ini_load(&ini, file, &err);
  for (int i = 0; i < n_sets && !st; i++) st = ini_set(&ini, sets[i], &err);
  if (!st) st = config_build(&ex, &ini, file, &err);
  ini_free(&ini);
  if (st) {
    fprintf(stderr, "bench_mc: %s\n", err.msg);
    return st;
  }
  Session s;
  double t0 = now();
  if ((st = session_open(&s, &ex, be, &err)) || (st = session_run(&s, 0, ex.epochs, &err))) {
    fprintf(stderr, "bench_mc: %s\n", err.msg);
    return st;
  }
  double wall = now() - t0;
  char desc[256];
  be->describe(desc, sizeof desc);
  printf("# bench_mc --experiment %s: %d replicas, %d epochs, %d cohorts; backend %s\n", file,
         ex.n_replicas, ex.epochs, s.n_cohorts, desc);
  printf("wall time %.2f s (setup included), %.4g replica-steps/s\n", wall,
         s.steps_per_epoch * ex.epochs / wall);
  printf("validation accuracy after the last epoch, median [min, max] by variant and t_pres:\n");
  float *v = malloc((size_t)ex.n_replicas * sizeof *v);
  for (int r = 0; r < ex.n_replicas; r++) {
    int first = 1, n = 0;
    for (int q = 0; q < r; q++)
      if (ex.replicas[q].variant == ex.replicas[r].variant && ex.replicas[q].t_pres == ex.replicas[r].t_pres)
        first = 0;
    if (!first) continue;
    for (int q = 0; q < ex.n_replicas; q++)
      if (ex.replicas[q].variant == ex.replicas[r].variant && ex.replicas[q].t_pres == ex.replicas[r].t_pres)
        v[n++] = s.m.val_acc[(size_t)q * (size_t)s.E + (size_t)ex.epochs - 1];
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    printf("  %-8s t_pres %-6d %.3f [%.3f, %.3f] (%d)\n",
           ex.replicas[r].variant == MC_LE ? "le" : "original", ex.replicas[r].t_pres,
           n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]), v[0], v[n - 1], n);
  }
  free(v);
  session_close(&s);
  config_free(&ex);
  return 0;
}

int main(int argc, char **argv) {
  const char *backend = "cpu", *variant = "le", *experiment = NULL, *sets[64];
  int n_sets = 0;
  int counts[16] = {1, 64, 1024}, n_counts = 3, dims_v[MC_MAX_LAYERS + 1] = {9, 30, 3}, n_dims = 3;
  int t_pres = 100, threads = 0;
  double seconds = 3.0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: bench_mc [--backend cpu|cuda|auto] [--replicas 1,64,1024] [--dims 9,30,3]\n"
             "                [--t-pres 100] [--variant le|original] [--threads N] [--seconds 3]\n"
             "       bench_mc --experiment FILE.ini [--set SECTION.KEY=VALUE]... [--backend B]\n"
             "                [--threads N]   (wall time of a whole experiment, in memory)\n");
      return 0;
    }
    if (!v) {
      fprintf(stderr, "bench_mc: %s needs a value\n", a);
      return 64;
    }
    if (!strcmp(a, "--backend")) backend = v;
    else if (!strcmp(a, "--experiment")) experiment = v;
    else if (!strcmp(a, "--set") && n_sets < 64) sets[n_sets++] = v;
    else if (!strcmp(a, "--replicas")) n_counts = parse_list(v, counts, 16);
    else if (!strcmp(a, "--dims")) n_dims = parse_list(v, dims_v, MC_MAX_LAYERS + 1);
    else if (!strcmp(a, "--t-pres")) t_pres = atoi(v);
    else if (!strcmp(a, "--variant")) variant = v;
    else if (!strcmp(a, "--threads")) threads = atoi(v);
    else if (!strcmp(a, "--seconds")) seconds = atof(v);
    else {
      fprintf(stderr, "bench_mc: unknown option %s\n", a);
      return 64;
    }
    i++;
  }
  ApError err = {{0}};
  const ApBackend *be;
  char note[256];
  if (ap_backend_select(backend, &be, note, sizeof note, &err)) {
    fprintf(stderr, "bench_mc: %s\n", err.msg);
    return 69;
  }
  if (note[0]) fprintf(stderr, "bench_mc: %s\n", note);
  if (be->set_threads) be->set_threads(threads);
  if (experiment) return run_experiment_timed(experiment, sets, n_sets, be);

  McDims dims = {.n_layers = n_dims - 1};
  for (int i = 0; i < n_dims; i++) dims.n[i] = dims_v[i];
  ApDataset ds;
  ap_status st = dims.n[0] == 9 && dims.n[n_dims - 1] == 3
                     ? ds_bars(&ds, &err)
                     : ds_random(&ds, 64, dims.n[0], dims.n[n_dims - 1], 7, &err);
  if (st) {
    fprintf(stderr, "bench_mc: %s\n", err.msg);
    return st;
  }
  McData data = {ds.n_in, ds.n_classes, ds.n_train, ds.n_val,
                 ds.x_train, ds.y_train, ds.x_val, ds.y_val};
  McLayout lay;
  mc_layout_init(&lay, &dims);
  char desc[128];
  be->describe(desc, sizeof desc);
  printf("# bench_mc: dims");
  for (int i = 0; i < n_dims; i++) printf("%s%d", i ? "-" : " ", dims.n[i]);
  printf(", %s, t_pres %d, training steps; backend %s\n", variant, t_pres, desc);
  printf("%10s %14s %10s %16s\n", "replicas", "replica_steps", "seconds", "replica_steps/s");
  for (int c = 0; c < n_counts; c++) {
    int R = counts[c];
    McParams *p = calloc((size_t)R, sizeof *p);
    int *ids = calloc((size_t)R, sizeof *ids);
    float *state = calloc((size_t)R * (size_t)lay.n_floats, sizeof *state);
    for (int r = 0; r < R; r++) {
      mc_params_default(&p[r]);
      p[r].seed = (uint64_t)r + 1;
      p[r].t_pres = t_pres;
      p[r].variant = strcmp(variant, "le") == 0 ? MC_LE : MC_ORIGINAL;
      ids[r] = r;
      uint32_t order[64];
      ap_sample_order(order, (uint32_t)data.n_train, p[r].seed, 0, 0);
      mc_state_init(state + (size_t)r * lay.n_floats, &lay, &p[r], &data, 1, order[0]);
    }
    McCohortSpec spec = {lay, {t_pres, 1, 1, 0, 0}, R, p, ids};
    McCohort *co;
    if (be->cohort_create(&spec, &data, &co, &err) || be->state_set(co, state, &err)) {
      fprintf(stderr, "bench_mc: %s\n", err.msg);
      return 70;
    }
    McMetrics m = {.n_epochs = 1};
    size_t cells = (size_t)R;
    m.val_acc = calloc(cells, 4), m.val_mse = calloc(cells, 4), m.train_acc = calloc(cells, 4);
    m.ff_err = calloc(cells, 4), m.fb_err = calloc(cells, 4), m.api_err = calloc(cells, 4);
    m.inn_err = calloc(cells, 4);
    be->run_epochs(&co, 1, 0, 1, &m, &err); /* warm-up */
    double t0 = now(), t1 = t0;
    long epochs = 0;
    while (t1 - t0 < seconds) {
      int chunk = 1;
      if (be->run_epochs(&co, 1, 0, chunk, &m, &err)) {
        fprintf(stderr, "bench_mc: %s\n", err.msg);
        return 70;
      }
      epochs += chunk;
      t1 = now();
    }
    double steps = (double)R * (double)epochs * (double)data.n_train * (double)t_pres;
    printf("%10d %14.0f %10.3f %16.4g\n", R, steps, t1 - t0, steps / (t1 - t0));
    fflush(stdout);
    be->cohort_destroy(co);
    free(p), free(ids), free(state);
    free(m.val_acc), free(m.val_mse), free(m.train_acc), free(m.ff_err), free(m.fb_err);
    free(m.api_err), free(m.inn_err);
  }
  ds_free(&ds);
  return 0;
}
