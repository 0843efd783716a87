/* Throughput of the microcircuit step on one backend: replica-steps per second of a
 * network in training (teacher and plasticity on, no validation phase), for a list of
 * replica counts. Each count runs whole epochs until --seconds have passed.
 *
 *   bench_mc [--backend cpu] [--replicas 1,64,1024] [--dims 9,30,3] [--t-pres 100]
 *            [--variant le|original] [--threads N] [--cuda-kernel K] [--cpu-kernel K] [--seconds 3]
 *            [--set SECTION.KEY=VALUE]...   (e.g. --set model.neuron=poisson)
 *   bench_mc --experiment FILE.ini [--set SECTION.KEY=VALUE]... [--backend] [--threads]
 *            the wall time of a whole experiment, in memory (no files: needs no HDF5)
 *
 * The network is built through the model interface from an experiment text (Bars for
 * dims 9-...-3, else 64 random samples), exactly as `apical run` builds it. */
#include "bench_common.h"
#include "host/config.h"
#include "host/session.h"
#include "kernels/backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static ap_status build(ApExperiment *ex, const char *file, const char *text, const char **sets,
                       int n_sets, ApError *err) {
  Ini ini = {0};
  ap_status st = file ? ini_load(&ini, file, err) : ini_parse_text(&ini, text, "bench_mc", err);
  for (int i = 0; i < n_sets && !st; i++) st = ini_set(&ini, sets[i], err);
  if (!st) st = config_build(ex, &ini, file ? file : "bench_mc", err);
  ini_free(&ini);
  return st;
}

/* Runs a whole experiment on a backend and reports its wall time and final headline. */
static int run_experiment_timed(const char *file, const char **sets, int n_sets,
                                const ApBackend *be, const ApExec *exec) {
  ApExperiment ex;
  ApError err = {{0}};
  ap_status st = build(&ex, file, NULL, sets, n_sets, &err);
  if (st) {
    fprintf(stderr, "bench_mc: %s\n", err.msg);
    return st;
  }
  Session s;
  double t0 = ap_seconds();
  if ((st = session_open(&s, &ex, be, exec, &err)) || (st = session_run(&s, 0, ex.epochs, &err))) {
    fprintf(stderr, "bench_mc: %s\n", err.msg);
    return st;
  }
  double wall = ap_seconds() - t0;
  char desc[256];
  be->describe(exec, desc, sizeof desc);
  printf("# bench_mc --experiment %s: %d replicas, %d epochs, %d cohorts; backend %s\n", file,
         ex.n_replicas, ex.epochs, s.n_cohorts, desc);
  printf("wall time %.2f s (setup included), %.4g replica-steps/s\n", wall,
         s.steps_per_record * ex.epochs / wall);
  const ApSeries *hs = ex.model->headline ? ap_layout_series(&ex.layout, ex.model->headline) : NULL;
  if (hs) {
    printf("%s after the last epoch, median [min, max] by cohort:\n", hs->name);
    float *v = malloc((size_t)ex.n_replicas * sizeof *v);
    for (int c = 0; v && c < s.n_cohorts; c++) {
      int n = 0;
      for (int k = 0; k < s.cohorts[c].n; k++) {
        float x = session_record(&s, s.cohorts[c].ids[k], ex.epochs - 1)[hs->offset];
        if (!isnan(x)) v[n++] = x;
      }
      if (!n) continue;
      qsort(v, (size_t)n, sizeof *v, cmp_float);
      char label[128];
      config_format_param(&ex, s.cohorts[c].ids[0], "t_pres", label, sizeof label);
      printf("  cohort %d (t_pres %s): %.3f [%.3f, %.3f] (%d)\n", c, label,
             n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]), v[0], v[n - 1], n);
    }
    free(v);
  }
  session_close(&s);
  config_free(&ex);
  return 0;
}

int main(int argc, char **argv) {
  const char *backend = "cpu", *variant = "le", *experiment = NULL, *sets[64];
  int n_sets = 0;
  int counts[16] = {1, 64, 1024}, n_counts = 3, dims[16] = {9, 30, 3}, n_dims = 3;
  int t_pres = 100;
  ApExec exec = {.threads = 0};
  double seconds = 3.0;
  for (int i = 1; i < argc; i += 2) { /* an option and its value */
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf(
          "usage: bench_mc [--backend cpu|cuda|auto] [--replicas 1,64,1024] [--dims 9,30,3]\n"
          "                [--t-pres 100] [--variant le|original] [--threads N] [--cuda-kernel K]\n"
          "                [--cpu-kernel lanes|wide]\n"
          "                [--seconds 3] [--set SECTION.KEY=VALUE]...\n"
          "       bench_mc --experiment FILE.ini [--set SECTION.KEY=VALUE]... [--backend B]\n"
          "                [--threads N]   (wall time of a whole experiment, in memory)\n");
      return 0;
    }
    if (!v) {
      fprintf(stderr, "bench_mc: %s needs a value\n", a);
      return 64;
    }
    if (!strcmp(a, "--backend"))
      backend = v;
    else if (!strcmp(a, "--experiment"))
      experiment = v;
    else if (!strcmp(a, "--set") && n_sets < 64)
      sets[n_sets++] = v;
    else if (!strcmp(a, "--replicas"))
      n_counts = parse_list(v, counts, 16);
    else if (!strcmp(a, "--dims"))
      n_dims = parse_list(v, dims, 16);
    else if (!strcmp(a, "--t-pres"))
      t_pres = atoi(v);
    else if (!strcmp(a, "--variant"))
      variant = v;
    else if (!strcmp(a, "--threads"))
      exec.threads = atoi(v);
    else if (!strcmp(a, "--cuda-kernel"))
      exec.cuda_version = v;
    else if (!strcmp(a, "--cpu-kernel"))
      exec.cpu_version = v;
    else if (!strcmp(a, "--seconds"))
      seconds = atof(v);
    else {
      fprintf(stderr, "bench_mc: unknown option %s\n", a);
      return 64;
    }
  }
  ApError err = {{0}};
  const ApBackend *be;
  char note[256];
  if (ap_backend_select(backend, &be, note, sizeof note, &err)) {
    fprintf(stderr, "bench_mc: %s\n", err.msg);
    return 69;
  }
  if (note[0]) fprintf(stderr, "bench_mc: %s\n", note);
  if (experiment) return run_experiment_timed(experiment, sets, n_sets, be, &exec);

  /* the network as an experiment text; learning rates: the Bars defaults per layer */
  char dims_text[128] = "", eta_up[128] = "", eta_ip[128] = "";
  for (int i = 0; i < n_dims; i++) {
    snprintf(dims_text + strlen(dims_text), sizeof dims_text - strlen(dims_text), "%s%d",
             i ? ", " : "", dims[i]);
    if (i + 1 < n_dims)
      snprintf(eta_up + strlen(eta_up), sizeof eta_up - strlen(eta_up), "%s%s", i ? ", " : "",
               i + 2 < n_dims ? "0.05" : "0.01");
    if (i + 2 < n_dims)
      snprintf(eta_ip + strlen(eta_ip), sizeof eta_ip - strlen(eta_ip), "%s0.02", i ? ", " : "");
  }
  int bars = dims[0] == 9 && dims[n_dims - 1] == 3;
  char desc[256];
  be->describe(&exec, desc, sizeof desc);
  printf("# bench_mc: dims %s, %s, t_pres %d, training steps; backend %s\n", dims_text, variant,
         t_pres, desc);
  printf("%10s %14s %10s %16s\n", "replicas", "replica_steps", "seconds", "replica_steps/s");
  for (int c = 0; c < n_counts; c++) {
    char text[1024];
    snprintf(
        text, sizeof text,
        "[experiment]\nmodel = microcircuit\ndataset = %s\n%s[train]\nepochs = 1\nval_samples = 0\n"
        "test_every = -1\n" /* training throughput: no validation, no test phase */
        "[model]\ndims = %s\nt_pres = %d\nvariant = %s\neta_up = %s\n%s%s\n[sweep]\nseed = 1..%d\n",
        bars ? "bars" : "random", bars ? "" : "[data]\nrandom_samples = 64\nrandom_seed = 7\n",
        dims_text, t_pres, variant, eta_up, n_dims > 2 ? "eta_ip = " : "", eta_ip, counts[c]);
    ApExperiment ex;
    Session s;
    if (build(&ex, NULL, text, sets, n_sets, &err) || session_open(&s, &ex, be, &exec, &err)) {
      fprintf(stderr, "bench_mc: %s\n", err.msg);
      return 70;
    }
    if (session_run(&s, 0, 1, &err)) { /* warm-up */
      fprintf(stderr, "bench_mc: %s\n", err.msg);
      return 70;
    }
    double t0 = ap_seconds(), t1 = t0;
    long epochs = 0;
    while (t1 - t0 < seconds) {
      if (session_run(&s, 0, 1, &err)) {
        fprintf(stderr, "bench_mc: %s\n", err.msg);
        return 70;
      }
      epochs++;
      t1 = ap_seconds();
    }
    double steps = s.steps_per_record * (double)epochs;
    printf("%10d %14.0f %10.3f %16.4g\n", counts[c], steps, t1 - t0, steps / (t1 - t0));
    fflush(stdout);
    session_close(&s);
    config_free(&ex);
  }
  return 0;
}
