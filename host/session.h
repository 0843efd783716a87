/* An experiment's replicas living on a backend: the dataset, the cohorts (replicas that
 * share a schedule), the canonical state and the metrics. No files and no output, so
 * tests drive it directly; host/run.c adds progress, checkpoints and results. */
#ifndef AP_SESSION_H
#define AP_SESSION_H

#include "datasets/dataset.h"
#include "host/config.h"
#include "kernels/backend.h"

typedef struct SessionCohort {
  McCohort *c;
  int t_pres, n;
  int *ids;         /* [n] replica ids */
  McParams *params; /* [n] */
} SessionCohort;

typedef struct Session {
  const ApExperiment *ex;
  const ApBackend *be;
  ApDataset ds;
  McData data;
  int n_val; /* validation samples per epoch */
  McLayout lay;
  int R, E, n_cohorts;
  SessionCohort *cohorts;
  McCohort **handles;
  int *cohort_of;  /* [R] */
  float *state;    /* [R][n_floats] canonical; current after session_pull */
  float *scratch;  /* [R][n_floats] */
  McMetrics m;     /* [R][E]; NaN where not run */
  float *metrics_pool;
  double steps_per_epoch; /* replica-steps of one epoch of every replica */
} Session;

/* Loads the dataset, draws every replica's initial state and creates the cohorts. */
ap_status session_open(Session *s, const ApExperiment *ex, const ApBackend *be, ApError *err);
/* Sends s->state to the backend (after replacing it, e.g. from a checkpoint). */
ap_status session_push(Session *s, ApError *err);
/* Copies the backend's state into s->state. */
ap_status session_pull(Session *s, ApError *err);
/* Advances every replica through epochs e0 .. e1-1. */
ap_status session_run(Session *s, int e0, int e1, ApError *err);
void session_close(Session *s);

#endif
