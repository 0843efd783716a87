/* Backends are devices (shared/DESIGN.md): the CPU (OpenMP threads, SIMD across
 * replicas) and CUDA. A backend says whether it can run here and describes itself; what
 * runs on it is each model's ApModelImpl for that backend's name (kernels/model.h). */
#ifndef AP_BACKEND_H
#define AP_BACKEND_H

#include "core/ap_data.h"
#include "core/ap_defs.h"
#include "core/ap_exec.h"

typedef struct ApBackend {
  const char *name; /* "cpu", "cuda": the name models' impl() are asked for */
  /* AP_OK when the backend can run here; AP_ERR_UNAVAILABLE and the reason otherwise. */
  ap_status (*probe)(ApError *err);
  /* One line for the configuration table, e.g. "cpu, 2 threads". */
  void (*describe)(const ApExec *exec, char *buf, size_t n);
  /* Optional: the device memory free now and in all (bytes). NULL: the backend runs in
   * host memory (the CPU). */
  ap_status (*memory)(size_t *free_b, size_t *total_b, ApError *err);
} ApBackend;

#ifdef __cplusplus
extern "C" {
#endif
const ApBackend *ap_backend_cpu(void);
/* NULL when apical was built without CUDA. */
const ApBackend *ap_backend_cuda(void);
/* The CPU threads an ApExec asks for (0: every core). */
int ap_cpu_threads(const ApExec *exec);
/* Seconds on the monotonic clock (for durations). */
double ap_seconds(void);
/* A CPU team's guard: a model whose team rule splits a replica over a team of threads
 * (the same bits on any team) times the team against a thread per replica and runs on the
 * faster, since on a machine whose cores other processes keep busy the team waits at every
 * barrier for a thread that is not running. The first run call goes on the team; the next
 * times its first record a thread per replica; later calls take the faster and time the
 * other on their first record every 8th call. sec: seconds per replica-record, [0] a thread
 * each, [1] the team (0: not timed yet). */
typedef struct ApTeamGuard {
  double sec[2];
  int calls;
} ApTeamGuard;
/* The mode of a call's records (1: the team, 0: a thread each); *probe: its first record
 * runs on the other mode (timed apart). */
int ap_team_guard_pick(ApTeamGuard *g, int *probe);
/* The faster mode as timed so far (the team until a thread each is timed). */
int ap_team_guard_best(const ApTeamGuard *g);
/* A stretch of records on mode took seconds for replica-records. */
void ap_team_guard_took(ApTeamGuard *g, int mode, double seconds, double replica_records);
/* How a guarded cohort runs, for its describe(): "a thread each", or its team of team of
 * threads threads "..., or a thread each where faster". */
void ap_team_describe(int team, int threads, char *buf, size_t n);
/* The device memory a run may take of free_b free bytes (nine tenths: the rest is left to
 * the driver and to other programs). Every CUDA cohort sizes itself against it. */
size_t ap_device_budget(size_t free_b);
/* Bytes of the device copy of dataset h that the CUDA backend shares among the cohorts
 * of a run: x_train, y_train, x_val, y_val (the last two 0 where they alias the first). */
void ap_cuda_data_bytes(const ApData *h, size_t bytes[4]);

/* "auto", "cpu" or "cuda". auto takes CUDA when it answers, else the CPU, and then writes
 * a few words saying why into note where the build has CUDA (empty when nothing needs
 * saying). An explicit "cuda" that cannot run is AP_ERR_UNAVAILABLE with the reason. */
ap_status ap_backend_select(const char *want, const ApBackend **out, char *note, size_t note_n,
                            ApError *err);
#ifdef __cplusplus
}
#endif

#endif
