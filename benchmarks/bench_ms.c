/* Iterations per second of the MSTDP relaxation on the CPU backend: clamped iterations
 * with learning (the training phase) and free iterations without, for lists of hidden
 * sizes and replica counts (784 + 10 visible units, as MNIST). One iteration steps every
 * replica once; the table matches benchmarks/compare/mstdp_torch.py's.
 *
 *   bench_ms [--hidden 256,2048] [--replicas 1,8] [--seconds 2] [--threads N] [--blas]
 *
 * --blas adds the CPU kernel version blas (OpenBLAS sger and sgemv for the row pass, the
 * rest of the body as fused; --cpu-kernel blas), where the build found OpenBLAS. */
#include "bench_common.h"
#include "host/config.h"
#include "host/session.h"
#include "kernels/backend.h"
#include "kernels/mstdp/ms_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int hidden[16] = {256, 2048}, n_hidden = 2, reps[16] = {1, 8}, n_reps = 2, threads = 0, blas = 0;
  double seconds = 2.0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--hidden") && i + 1 < argc)
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
              "[--blas]\n");
      return 64;
    }
  }
#ifndef APICAL_HAVE_CBLAS
  if (blas) {
    fprintf(stderr, "bench_ms: this build found no OpenBLAS (apt-get install libopenblas-dev)\n");
    return 69;
  }
#endif
  ApExec exec = {.threads = threads};
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
