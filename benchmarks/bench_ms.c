/* Iterations per second of the MSTDP relaxation on the CPU backend: clamped iterations
 * with learning (the training phase) and free iterations without, for lists of hidden
 * sizes and replica counts (784 + 10 visible units, as MNIST). One iteration steps every
 * replica once; the table matches benchmarks/compare/mstdp_torch.py's.
 *
 *   bench_ms [--hidden 256,2048] [--replicas 1,8] [--seconds 2] [--threads N] [--blas]
 *   bench_ms --backend cuda [--cuda-kernel auto|generic|rows16|span] [--hidden 2048]
 *            [--replicas 1] [--iterations 8,40] [--records 3]
 *
 * --blas adds the CPU kernel version blas (OpenBLAS sger and sgemv for the row pass, the
 * rest of the body as fused; --cpu-kernel blas), where the build found OpenBLAS.
 *
 * --backend cuda (or cpu: the same through the backend interface) times whole records
 * instead, as a run does: a record is one presentation of one cycle, --iterations N
 * clamped iterations with learning and N free ones, then the record's end (measures, no
 * read-outs). For each N it runs one record to warm up and then --records more; the
 * per-iteration time is the difference between the two N's per-record times over the
 * difference in iterations (the record's end and the launches' set-up cancel). Under the
 * CUDA simulator's performance model (perf.sh) the modelled time is the number to read:
 * there take --records 1 and one N per run. */
#include "bench_common.h"
#include "host/config.h"
#include "host/session.h"
#include "kernels/backend.h"
#include "kernels/mstdp/ms_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --backend: records of 2 N iterations through a session, for each N; see the top. */
static int records_timed(const char *backend, ApExec *exec, const int *hidden, int n_hidden,
                         const int *reps, int n_reps, const int *iters, int n_iters, int records) {
  const ApBackend *be;
  char note[256], desc[256];
  ApError err = {{0}};
  if (ap_backend_select(backend, &be, note, sizeof note, &err)) {
    fprintf(stderr, "bench_ms: %s\n", err.msg);
    return 69;
  }
  if (note[0]) fprintf(stderr, "bench_ms: %s\n", note);
  be->describe(exec, desc, sizeof desc);
  printf("# bench_ms: apical %s (%s), backend %s; records of 1 presentation: N clamped + N "
         "free iterations, then the measures\n",
         APICAL_VERSION, APICAL_GIT_REV, desc);
  printf("  hidden  replicas    N  records  s/record  s/iteration(diff)  iterations/s(diff)\n");
  for (int hi = 0; hi < n_hidden; hi++)
    for (int ri = 0; ri < n_reps; ri++) {
      double prev = 0.0;
      for (int k = 0; k < n_iters; k++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "[experiment]\nmodel = mstdp\ndataset = random\n[data]\nrandom_samples = 16\n"
                 "[train]\nepochs = %d\npresentations = 1\ntest_samples = 0\ntrain_eval = 0\n"
                 "[model]\nhidden = %d\ncycles = 1\niterations = %d\n[sweep]\nseed = 1..%d\n",
                 records + 1, hidden[hi], iters[k], reps[ri]);
        Ini ini = {0};
        ApExperiment ex;
        Session s;
        if (ini_parse_text(&ini, text, "bench_ms", &err) ||
            config_build(&ex, &ini, "bench_ms", &err) || session_open(&s, &ex, be, exec, &err)) {
          fprintf(stderr, "bench_ms: %s\n", err.msg);
          return 1;
        }
        ini_free(&ini);
        if (k == 0 && s.impl->describe && s.n_cohorts == 1) {
          char cd[512];
          s.impl->describe(s.handles[0], cd, sizeof cd);
          printf("# %d hidden, %d replicas: %s\n", hidden[hi], reps[ri], cd);
        }
        double t0 = 0.0, per;
        int st = session_run(&s, 0, 1, &err); /* warm-up */
        if (!st) {
          t0 = ap_seconds();
          st = session_run(&s, 1, records + 1, &err);
        }
        if (st) {
          fprintf(stderr, "bench_ms: %s\n", err.msg);
          return 1;
        }
        per = (ap_seconds() - t0) / records;
        if (k == 0)
          printf("%8d  %8d  %3d  %7d  %8.3e\n", hidden[hi], reps[ri], iters[k], records, per);
        else {
          double it = (per - prev) / (2.0 * (iters[k] - iters[k - 1]));
          printf("%8d  %8d  %3d  %7d  %8.3e  %17.3e  %18.3e\n", hidden[hi], reps[ri], iters[k],
                 records, per, it, 1.0 / it);
        }
        fflush(stdout);
        prev = per;
        session_close(&s);
        config_free(&ex);
      }
    }
  return 0;
}

int main(int argc, char **argv) {
  int hidden[16] = {256, 2048}, n_hidden = 2, reps[16] = {1, 8}, n_reps = 2, threads = 0, blas = 0;
  int iters[16] = {8, 40}, n_iters = 2, records = 3;
  const char *backend = NULL;
  ApExec exec = {.threads = 0};
  double seconds = 2.0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--backend") && i + 1 < argc)
      backend = argv[++i];
    else if (!strcmp(argv[i], "--cuda-kernel") && i + 1 < argc)
      exec.cuda_version = argv[++i];
    else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
      n_iters = parse_list(argv[++i], iters, 16);
    else if (!strcmp(argv[i], "--records") && i + 1 < argc)
      records = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--hidden") && i + 1 < argc)
      n_hidden = parse_list(argv[++i], hidden, 16);
    else if (!strcmp(argv[i], "--replicas") && i + 1 < argc)
      n_reps = parse_list(argv[++i], reps, 16);
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--blas"))
      blas = 1;
    else {
      fprintf(stderr,
              "usage: bench_ms [--hidden 256,2048] [--replicas 1,8] [--seconds 2] [--threads N] "
              "[--blas]\n"
              "       bench_ms --backend cpu|cuda [--cuda-kernel auto|generic|rows16|span] "
              "[--hidden 2048] [--replicas 1]\n"
              "                [--iterations 8,40] [--records 3] [--threads N]   (whole records; "
              "see the source's top)\n");
      return 64;
    }
  }
  exec.threads = threads;
  if (records < 1) records = 1;
  if (backend)
    return records_timed(backend, &exec, hidden, n_hidden, reps, n_reps, iters, n_iters, records);
#ifndef APICAL_HAVE_CBLAS
  if (blas) {
    fprintf(stderr, "bench_ms: this build found no OpenBLAS (apt-get install libopenblas-dev)\n");
    return 69;
  }
#endif
  char cpu[128] = "?";
  FILE *f = fopen("/proc/cpuinfo", "r");
  for (char line[512]; f && fgets(line, sizeof line, f);)
    if (!strncmp(line, "model name", 10)) {
      snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
      cpu[strcspn(cpu, "\n")] = '\0';
      break;
    }
  if (f) fclose(f);
  printf("# bench_ms: apical %s (%s), %d threads, %s\n", APICAL_VERSION, APICAL_GIT_REV,
         ap_cpu_threads(&exec), cpu);
  printf("  hidden  replicas  version  kind    iterations  seconds  iterations/s  "
         "replica_iterations/s\n");
  for (int hi = 0; hi < n_hidden; hi++)
    for (int ri = 0; ri < n_reps; ri++) {
      char text[1024];
      snprintf(text, sizeof text,
               "[experiment]\nmodel = mstdp\ndataset = random\n[data]\nrandom_samples = 16\n"
               "[train]\ntest_samples = 0\ntrain_eval = 0\n[model]\nhidden = %d\n[sweep]\n"
               "seed = 1..%d\n",
               hidden[hi], reps[ri]);
      for (int version = 0; version <= blas; version++) {
        Ini ini = {0};
        ApError err = {{0}};
        ApExperiment ex;
        Session s;
        exec.cpu_version = version ? "blas" : "fused";
        if (ini_parse_text(&ini, text, "bench_ms", &err) ||
            config_build(&ex, &ini, "bench_ms", &err) ||
            session_open(&s, &ex, ap_backend_cpu(), &exec, &err)) {
          fprintf(stderr, "bench_ms: %s\n", err.msg);
          return 1;
        }
        ini_free(&ini);
        for (int learn = 1; learn >= 0; learn--) {
          long done = 0;
          int chunk = 1;
          double t0 = ap_seconds(), t;
          for (;;) {
            if (ms_cpu_iterations(s.handles[0], learn, chunk, &err)) {
              fprintf(stderr, "bench_ms: %s\n", err.msg);
              return 1;
            }
            done += chunk;
            t = ap_seconds() - t0;
            if (t >= seconds) break;
            if (t < seconds / 20) chunk *= 2;
          }
          printf("%8d  %8d  %-7s  %-6s  %10ld  %7.3f  %12.3e  %20.3e\n", hidden[hi], reps[ri],
                 exec.cpu_version, learn ? "learn" : "free", done, t, done / t,
                 done * (double)reps[ri] / t);
          fflush(stdout);
        }
        session_close(&s);
        config_free(&ex);
      }
    }
  return 0;
}
