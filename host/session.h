/* An experiment's replicas living on a backend: the dataset, the cohorts (replicas that
 * share a schedule), the canonical state and the series. No files and no output, so
 * tests drive it directly; host/run.c adds progress, checkpoints and results. */
#ifndef AP_SESSION_H
#define AP_SESSION_H

#include "datasets/dataset.h"
#include "host/config.h"
#include "kernels/backend.h"

typedef struct SessionCohort {
  ApCohort *c;
  int n;
  int *ids;                /* [n] replica ids */
  void *params;            /* [n] parameter blocks */
  double steps_per_record; /* replica-steps of one record of the cohort's replicas */
  double busy_s, steps;    /* since session_open: seconds the backend worked on the cohort
                            * (summed over threads; NaN: it does not tell) and the
                            * replica-steps done in them */
  long long units_run;     /* since session_open: the units (Session.units) advanced; steps
                            * follows from it, so that a record's steps add up exactly
                            * however the calls cut it */
} SessionCohort;

typedef struct Session {
  const ApExperiment *ex;
  const ApModel *model;
  const ApBackend *be;
  const ApModelImpl *impl;
  ApExec exec;
  ApDataset ds;
  ApData data;
  const ApLayout *lay; /* the experiment's */
  int R, E, n_cohorts;
  SessionCohort *cohorts;
  ApCohort **handles;
  int *cohort_of;          /* [R] */
  float *state;            /* [R][n_floats] canonical; current after session_pull */
  float *stage;            /* [largest cohort][n_floats] */
  float *series;           /* [R][E][F]; NaN where not run */
  double steps_per_record; /* replica-steps of one record of every replica */
  long long units;         /* units a record is cut into (ApModel.units; 1: not cut) */
  double *busy;            /* [n_cohorts] the backend's answer for one session_run */
} Session;

/* The experiment's dataset (none for a model without data: ds zeroed). */
ap_status session_load_dataset(const ApExperiment *ex, ApDataset *ds, ApError *err);

/* Every check a session makes before it allocates anything: the model has an
 * implementation on be, exec's kernel versions (where exec is not NULL) are the model's
 * in this build, and every replica's parameters pass the model's check on data. */
ap_status session_check(const ApExperiment *ex, const ApBackend *be, const ApExec *exec,
                        const ApData *data, ApError *err);

/* Loads the dataset, draws every replica's initial state and creates the cohorts. */
ap_status session_open(Session *s, const ApExperiment *ex, const ApBackend *be, const ApExec *exec,
                       ApError *err);
/* The same on a dataset the caller loaded (and frees after session_close). */
ap_status session_open_view(Session *s, const ApExperiment *ex, const ApBackend *be,
                            const ApExec *exec, const ApData *data, ApError *err);
/* Sends s->state to the backend (after replacing it, e.g. from a checkpoint). */
ap_status session_push(Session *s, ApError *err);
/* Copies the backend's state into s->state. */
ap_status session_pull(Session *s, ApError *err);
/* Advances every replica through records r0 .. r1-1. */
ap_status session_run(Session *s, int r0, int r1, ApError *err);
/* Advances every replica from `from` to `to` (units of s->units). */
ap_status session_advance(Session *s, ApPos from, ApPos to, ApError *err);
/* The replica-steps from `from` to `to`: each replica's ApModel.work where the model has
 * it (and records are cut), else each record's cost spread evenly over its units. */
double session_work(const Session *s, ApPos from, ApPos to);
/* The first point after `at` (at most `limit`, later than at) whose work from `at` is at
 * least `work` and more than none: a work unit of about that size. */
ApPos session_reach(const Session *s, ApPos at, ApPos limit, double work);
void session_close(Session *s);
/* The model's events (ApModel.events) of every replica, concatenated: pairs [start[R]][2],
 * replica r's from start[r] (both malloc'd; NULL when the model has none). */
ap_status session_events(Session *s, uint32_t **pairs, uint64_t **start, ApError *err);
/* Hands the events of a checkpoint back to the backend. */
ap_status session_set_events(Session *s, const uint32_t *pairs, const uint64_t *start,
                             ApError *err);

/* Replica r's record e of the series (F floats). */
static inline float *session_record(const Session *s, int r, int e) {
  return s->series + ((size_t)r * (size_t)s->E + (size_t)e) * (size_t)s->lay->series_width;
}

#endif
