/* Simulated seconds per wall second of the LIF-STDP network (lif_stdp, MODELS.md §3) on
 * the CPU backend, for a list of replica counts (seeds 1..n, each its own network), and
 * the synaptic events delivered per wall second (every spike times its neuron's
 * out-degree, recurrent synapses only, as benchmarks/compare/lif_nest.py --speed counts
 * them). The table matches lif_nest.py --speed's.
 *
 *   bench_ls [--replicas 1,20] [--seconds 2] [--threads N] [--topdown on|off] [--psc alpha|exp]
 *            [--cuda]
 *
 * --cuda runs the CUDA backend instead (where a device answers).
 *
 * --seconds is simulated time; the first 100 ms of every run are a warm-up, not timed. */
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
  double seconds = 2.0;
  const char *topdown = "on", *psc = "alpha";
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
    else if (!strcmp(argv[i], "--cuda")) {
      ApError err = {{0}};
      be = ap_backend_cuda();
      if (!be || be->probe(&err)) {
        fprintf(stderr, "bench_ls: --cuda: %s\n", be ? err.msg : "this build has no CUDA");
        return 69;
      }
    } else {
      fprintf(stderr, "usage: bench_ls [--replicas 1,20] [--seconds 2] [--threads N] "
                      "[--topdown on|off] [--psc alpha|exp] [--cuda]\n");
      return 64;
    }
  }
  int warm = 20, records = (int)(seconds * 1000.0 / 5.0 + 0.5);
  if (records < 1) records = 1;
  ApExec exec = {.threads = threads};
  char desc[256];
  be->describe(&exec, desc, sizeof desc);
  printf("# bench_ls: lif_stdp, topdown %s, psc %s, %g s simulated after 0.1 s warm-up; %s\n",
         topdown, psc, records * 5e-3, desc);
  printf("%9s %10s %10s %16s %12s %16s\n", "replicas", "sim_s", "wall_s", "replica_s/wall_s",
         "spikes", "syn_events/s");
  for (int k = 0; k < n_reps; k++) {
    char text[512];
    snprintf(text, sizeof text,
             "[experiment]\nname = bench\nmodel = lif_stdp\n[train]\nepochs = %d\nrecord_ms = 5\n"
             "raster_ms = %g\n[model]\ntopdown = %s\npsc = %s\n[sweep]\nseed = 1..%d\n",
             warm + records, (warm + records) * 5.0, topdown, psc, reps[k]);
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
    if (session_run(&s, 0, warm, &err)) {
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
    uint32_t first = (uint32_t)(warm * 50);
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
    double sim = records * 5e-3;
    printf("%9d %10.3g %10.3f %16.3g %12lld %16.3g\n", reps[k], sim, wall, sim * reps[k] / wall,
           spikes, events / wall);
    fflush(stdout);
    free(pairs), free(start);
    session_close(&s);
    config_free(&ex);
  }
  return 0;
}
