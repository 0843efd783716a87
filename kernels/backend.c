#include "backend.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

double ap_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ap_team_guard_best(const ApTeamGuard *g) { return g->sec[0] == 0.0 || g->sec[1] <= g->sec[0]; }

int ap_team_guard_pick(ApTeamGuard *g, int *probe) {
  *probe = 0;
  if (g->sec[1] == 0.0) return 1;
  if (g->sec[0] == 0.0 || ++g->calls % 8 == 0) *probe = 1;
  return ap_team_guard_best(g);
}

void ap_team_describe(int team, int threads, char *buf, size_t n) {
  if (team <= 1)
    snprintf(buf, n, "a thread each");
  else if (team == threads)
    snprintf(buf, n, "all threads on each, or a thread each where faster");
  else
    snprintf(buf, n, "a team of %d threads on each, or a thread each where faster", team);
}

void ap_team_guard_took(ApTeamGuard *g, int mode, double seconds, double replica_records) {
  if (replica_records > 0) g->sec[mode] = seconds / replica_records;
}

int ap_cpu_threads(const ApExec *exec) {
#ifdef _OPENMP
  return exec && exec->threads > 0 ? exec->threads : omp_get_num_procs();
#else
  (void)exec;
  return 1;
#endif
}

static ap_status cpu_probe(ApError *err) {
  (void)err;
  return AP_OK;
}

static void cpu_describe(const ApExec *exec, char *buf, size_t n) {
  int t = ap_cpu_threads(exec);
  snprintf(buf, n, "cpu, %d thread%s", t, t == 1 ? "" : "s");
}

static const ApBackend cpu_backend = {
    .name = "cpu", .probe = cpu_probe, .describe = cpu_describe, .memory = NULL};

size_t ap_device_budget(size_t free_b) { return free_b / 10 * 9; }

/* (+1: a zero-sample set still gets a valid pointer) */
void ap_cuda_data_bytes(const ApData *h, size_t bytes[4]) {
  int alias = h->x_val == h->x_train && h->y_val == h->y_train;
  bytes[0] = (size_t)h->n_train * (size_t)h->n_in * sizeof(float) + 1;
  bytes[1] = (size_t)h->n_train * sizeof(int) + 1;
  bytes[2] = alias ? 0 : (size_t)h->n_val * (size_t)h->n_in * sizeof(float) + 1;
  bytes[3] = alias ? 0 : (size_t)h->n_val * sizeof(int) + 1;
}

const ApBackend *ap_backend_cpu(void) { return &cpu_backend; }

#ifndef APICAL_HAVE_CUDA
const ApBackend *ap_backend_cuda(void) { return NULL; }
#endif

ap_status ap_backend_select(const char *want, const ApBackend **out, char *note, size_t note_n,
                            ApError *err) {
  if (note_n) note[0] = '\0';
  if (strcmp(want, "cpu") == 0) {
    *out = ap_backend_cpu();
    return AP_OK;
  }
  if (strcmp(want, "cuda") != 0 && strcmp(want, "auto") != 0)
    return ap_fail(err, AP_ERR_USAGE, "unknown backend '%s' (expected auto, cpu or cuda)", want);
  const ApBackend *cuda = ap_backend_cuda();
  ApError why = {{0}};
  if (!cuda)
    snprintf(why.msg, sizeof why.msg, "this build has no CUDA backend (configured without nvcc)");
  else if (cuda->probe(&why) == AP_OK) {
    *out = cuda;
    return AP_OK;
  }
  if (strcmp(want, "cuda") == 0)
    return ap_fail(err, AP_ERR_UNAVAILABLE, "backend cuda unavailable: %s", why.msg);
  if (cuda) snprintf(note, note_n, "no GPU answered (--backend cuda says why)");
  *out = ap_backend_cpu();
  return AP_OK;
}
