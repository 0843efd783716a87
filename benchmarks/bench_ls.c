/* Simulated seconds per wall second of the LIF-STDP network (lif_stdp, MODELS.md §3) on
 * the CPU backend, for a list of replica counts (seeds 1..n, each its own network), and
 * the synaptic events delivered per wall second (every spike times its neuron's
 * out-degree, recurrent synapses only, as benchmarks/compare/lif_nest.py --speed counts
 * them). The table matches lif_nest.py --speed's.
 *
 *   bench_ls [--replicas 1,20] [--seconds 2] [--threads N] [--topdown on|off] [--psc alpha|exp]
 *            [--cuda] [--cuda-kernel K] [--warm-ms 100] [--record-ms 5] [--n-pyr 320 --n-pv 80]
 *            [--cpu-kernel auto|team]
 *
 * --cuda runs the CUDA backend instead (where a device answers), with kernel version K
 * (auto, generic, split; the warm-up runs on the CPU and its state goes on on the GPU).
 * --seconds is simulated time; the first --warm-ms of every run
 * are a warm-up, not timed (0: none). Records are --record-ms long (a record's end sums
 * the weights: short records for a modelled run of a few steps under the simulator's
 * perf.sh, which then times two lengths and takes the difference). --n-pyr and --n-pv set
 * the size of each of the twelve populations (the model's keys; 2400 neurons by default).
 * --cpu-kernel team keeps a split network on its team (no guard; kernels/lif/ls_cpu.c). */
#include "bench_common.h"
#include "host/config.h"
#include "host/session.h"
#include "kernels/backend.h"
#include "kernels/lif/ls_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int reps[16] = {1, 20}, n_reps = 2, threads = 0;
  double seconds = 2.0, warm_ms = 100.0, record_ms = 5.0;
  const char *kernel = NULL, *cpu_kernel = NULL;
  const char *topdown = "on", *psc = "alpha";
  int n_pyr = 320, n_pv = 80;
  const ApBackend *be = ap_backend_cpu();
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--replicas") && i + 1 < argc)
      n_reps = parse_list(argv[++i], reps, 16);
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--topdown") && i + 1 < argc)
      topdown = argv[++i];
    else if (!strcmp(argv[i], "--psc") && i + 1 < argc)
      psc = argv[++i];
    else if (!strcmp(argv[i], "--cuda-kernel") && i + 1 < argc)
      kernel = argv[++i];
    else if (!strcmp(argv[i], "--warm-ms") && i + 1 < argc)
      warm_ms = atof(argv[++i]);
    else if (!strcmp(argv[i], "--cpu-kernel") && i + 1 < argc)
      cpu_kernel = argv[++i];
    else if (!strcmp(argv[i], "--n-pyr") && i + 1 < argc)
      n_pyr = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--n-pv") && i + 1 < argc)
      n_pv = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--record-ms") && i + 1 < argc)
      record_ms = atof(argv[++i]);
    else if (!strcmp(argv[i], "--cuda")) {
      ApError err = {{0}};
      be = ap_backend_cuda();
      if (!be || be->probe(&err)) {
        fprintf(stderr, "bench_ls: --cuda: %s\n", be ? err.msg : "this build has no CUDA");
        return 69;
      }
    } else {
      fprintf(stderr, "usage: bench_ls [--replicas 1,20] [--seconds 2] [--threads N] "
                      "[--topdown on|off] [--psc alpha|exp] [--cuda] [--cuda-kernel K]\n"
                      "                [--warm-ms 100] [--record-ms 5] [--n-pyr 320] [--n-pv 80]\n"
                      "                [--cpu-kernel auto|team]\n");
      return 64;
    }
  }
  if (!(record_ms > 0.0) || !(warm_ms >= 0.0)) {
    fprintf(stderr, "bench_ls: --record-ms must be > 0 and --warm-ms >= 0\n");
    return 64;
  }
  int warm = (int)(warm_ms / record_ms + 0.5), records = (int)(seconds * 1000.0 / record_ms + 0.5);
  if (records < 1) records = 1;
  ApExec exec = {.threads = threads, .cpu_version = cpu_kernel, .cuda_version = kernel};
  char desc[256];
  be->describe(&exec, desc, sizeof desc);
  printf("# bench_ls: lif_stdp, topdown %s, psc %s, %g s simulated after %g s warm-up, records "
         "of %g ms; %s\n",
         topdown, psc, records * record_ms * 1e-3, warm * record_ms * 1e-3, record_ms, desc);
  printf("%9s %10s %10s %16s %12s %16s\n", "replicas", "sim_s", "wall_s", "replica_s/wall_s",
         "spikes", "syn_events/s");
  for (int k = 0; k < n_reps; k++) {
    char text[512];
    snprintf(text, sizeof text,
             "[experiment]\nname = bench\nmodel = lif_stdp\n[train]\nepochs = %d\nrecord_ms = %g\n"
             "raster_ms = %g\n[model]\ntopdown = %s\npsc = %s\nn_pyr = %d\nn_pv = %d\n"
             "[sweep]\nseed = 1..%d\n",
             warm + records, record_ms, (warm + records) * record_ms, topdown, psc, n_pyr, n_pv,
             reps[k]);
    Ini ini = {0};
    ApExperiment ex;
    Session s;
    ApError err = {{0}};
    if (ini_parse_text(&ini, text, "bench_ls", &err) || config_build(&ex, &ini, "bench_ls", &err) ||
        session_open(&s, &ex, be, &exec, &err)) {
      fprintf(stderr, "bench_ls: %s\n", err.msg);
      return 1;
    }
    ini_free(&ini);
    char how[256];
    s.impl->describe(s.cohorts[0].c, how, sizeof how);
    printf("# %d replica%s: %s\n", reps[k], reps[k] == 1 ? "" : "s", how);
    /* the warm-up on the CPU, its state continued on the CUDA backend: a run under the
     * simulator (perf.sh) then times a network that is already spiking */
    if (warm && be != ap_backend_cpu()) {
      Session w;
      ApExec cpu_exec = {.threads = threads};
      if (session_open(&w, &ex, ap_backend_cpu(), &cpu_exec, &err) ||
          session_run(&w, 0, warm, &err) || session_pull(&w, &err)) {
        fprintf(stderr, "bench_ls: %s\n", err.msg);
        return 1;
      }
      memcpy(s.state, w.state, (size_t)s.R * (size_t)s.lay->n_floats * sizeof(float));
      session_close(&w);
      if (session_push(&s, &err)) {
        fprintf(stderr, "bench_ls: %s\n", err.msg);
        return 1;
      }
    } else if (warm && session_run(&s, 0, warm, &err)) {
      fprintf(stderr, "bench_ls: %s\n", err.msg);
      return 1;
    }
    double t0 = ap_seconds();
    if (session_run(&s, warm, warm + records, &err)) {
      fprintf(stderr, "bench_ls: %s\n", err.msg);
      return 1;
    }
    double wall = ap_seconds() - t0;
    uint32_t *pairs;
    uint64_t *start;
    if (session_events(&s, &pairs, &start, &err)) {
      fprintf(stderr, "bench_ls: %s\n", err.msg);
      return 1;
    }
    long long spikes = 0;
    double events = 0;
    uint32_t first = (uint32_t)(warm * ls_dims(config_params(&ex, 0)).steps);
    for (int r = 0; r < s.R; r++) {
      LsNet net;
      if (ls_net_build(config_params(&ex, r), &net)) return 1;
      for (uint64_t q = start[r]; q < start[r + 1]; q++) {
        if (pairs[2 * q + 1] < first) continue;
        uint32_t j = pairs[2 * q];
        spikes++;
        events += (net.sptr[j + 1] - net.sptr[j]) + (net.pptr[j + 1] - net.pptr[j]);
      }
      ls_net_free(&net);
    }
    double sim = records * record_ms * 1e-3;
    printf("%9d %10.3g %10.3f %16.3g %12lld %16.3g\n", reps[k], sim, wall, sim * reps[k] / wall,
           spikes, events / wall);
    fflush(stdout);
    free(pairs), free(start);
    session_close(&s);
    config_free(&ex);
  }
  return 0;
}
