/* The backend interface: a small struct of function pointers (shared/DESIGN.md). The host
 * talks to models only through it; a backend owns its memory layout and converts from and
 * to the canonical replica-major state of mc_model.h at the boundary. */
#ifndef AP_BACKEND_H
#define AP_BACKEND_H

#include "ap_defs.h"
#include "mc_model.h"

/* A set of replicas that share dims and schedule and advance in lock step. */
typedef struct McCohort McCohort;

typedef struct McCohortSpec {
  McLayout layout;
  McSchedule schedule;
  int n_replicas;
  const McParams *params; /* [R_cohort] */
  const int *replica_ids; /* [R_cohort] rows of the run's metrics arrays */
} McCohortSpec;

typedef struct ApBackend {
  const char *name;
  /* AP_OK when the backend can run here; AP_ERR_UNAVAILABLE and the reason otherwise. */
  ap_status (*probe)(ApError *err);
  /* One line for the configuration table, e.g. "2 threads, 8 lanes". */
  void (*describe)(char *buf, size_t n);
  /* Optional (NULL): worker threads; 0 = the backend's default. */
  void (*set_threads)(int n);
  ap_status (*cohort_create)(const McCohortSpec *spec, const McData *data, McCohort **out,
                             ApError *err);
  void (*cohort_destroy)(McCohort *c);
  /* Canonical state, [R_cohort][layout.n_floats]. */
  ap_status (*state_set)(McCohort *c, const float *state, ApError *err);
  ap_status (*state_get)(McCohort *c, float *state, ApError *err);
  /* Advances every cohort through epochs e0 .. e1-1 and fills those metrics columns. */
  ap_status (*run_epochs)(McCohort **cohorts, int n_cohorts, int e0, int e1, McMetrics *m,
                          ApError *err);
} ApBackend;

#ifdef __cplusplus
extern "C" {
#endif
const ApBackend *ap_backend_cpu(void);
/* NULL when apical was built without CUDA. */
const ApBackend *ap_backend_cuda(void);

/* "auto", "cpu" or "cuda". auto takes CUDA when it answers, else the CPU, and then writes
 * why into note (empty when nothing needs saying). An explicit "cuda" that cannot run is
 * AP_ERR_UNAVAILABLE. */
ap_status ap_backend_select(const char *want, const ApBackend **out, char *note, size_t note_n,
                            ApError *err);

#ifdef __cplusplus
}
#endif

#endif
