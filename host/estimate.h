/* A run's sizes before it runs (apical estimate, apical run --dry-run, and run's memory
 * check): its replicas and cohorts, its work in replica-steps, its host and device memory
 * added up from the sizes the backends allocate (ApModel.memory), and its wall time from
 * a short calibration run of the same experiment that writes nothing. */
#ifndef AP_ESTIMATE_H
#define AP_ESTIMATE_H

#include "host/config.h"
#include "kernels/backend.h"

#include <stdio.h>

enum { EST_CPU, EST_CUDA, EST_BACKENDS }; /* memory is estimated for both */

typedef struct EstCohort {
  int n, first;            /* replicas, and the first of them (its keys name the cohort) */
  double steps_per_record; /* replica-steps of one record of all of them */
  ApCohortMem mem[EST_BACKENDS];
} EstCohort;

/* A run's host memory on one backend (bytes). */
typedef struct EstHost {
  double state;   /* the canonical state, and the staging area of the largest cohort */
  double series;  /* [R][E][F] */
  double tables;  /* per-replica tables: parameters (twice), cohorts, flags */
  double dataset; /* the samples as loaded */
  double files;   /* writing a checkpoint or the results: the file image, its copy, and
                   * HDF5's growth step */
  double backend; /* the cohorts' own memory and their work arrays (ApCohortMem) */
  double total;
} EstHost;

/* What the calibration measured. */
typedef struct EstCalibration {
  int done;
  char backend[200];  /* how it ran: the backend's description */
  int records;        /* records per measurement */
  double fraction;    /* of each record's samples it ran (1: whole records) */
  int n_train, n_val; /* the samples it ran on (the dataset's first), where cut */
  int replicas;       /* replicas it ran: all of the run's, or the first of each cohort */
  double steps;       /* replica-steps of one measurement */
  int n_seconds;      /* measurements of that work (1 or 2) */
  double seconds[2];
  double rate;   /* replica-steps per second: steps / their mean */
  double spread; /* |seconds[0] - seconds[1]| / their mean; 0 with one measurement */
  double wall_s; /* the run's stepping, extrapolated */
  double took_s; /* the calibration itself, its probes included */
} EstCalibration;

typedef struct Estimate {
  const ApExperiment *ex;
  int n_train, n_val; /* the dataset's samples */
  int n_cohorts;
  EstCohort *cohorts;      /* [n_cohorts] in order of their first replica */
  double steps_per_record; /* replica-steps of one record of every replica */
  double replica_steps;    /* of the whole run */
  int has[EST_BACKENDS];   /* the model runs on that backend */
  EstHost host[EST_BACKENDS];
  double device;      /* CUDA: every replica on the device at once, with the dataset copy */
  double device_min;  /* the least it runs in (cohorts that can taking turns in parts) */
  double device_data; /* the dataset copy (in both) */
  double held;        /* bytes of the host total this process holds already (the dataset and
                       * the replica table), which MemAvailable no longer shows */
  double file_image;  /* bytes of the larger of a checkpoint and the results file */
  double resident;    /* bytes the process had resident when the estimate began (the program
                       * and its libraries, the dataset): paid already, not in the totals */
  EstCalibration cal;
} Estimate;

/* Replicas, cohorts, work and memory of ex on its dataset data (loaded: its sizes count),
 * with exec's threads. */
ap_status est_build(Estimate *e, const ApExperiment *ex, const ApData *data, const ApExec *exec,
                    ApError *err);
void est_free(Estimate *e);

/* Host memory the run may take (bytes; 0: unknown), and where the figure comes from:
 * APICAL_MEM_AVAILABLE (bytes, for tests and for machines whose /proc/meminfo misleads),
 * else MemAvailable plus what this process holds already (Estimate.held). */
double est_host_available(const Estimate *e, char *from, size_t n);

/* AP_ERR_OSERR (71) naming the size needed and the size available when the run does not
 * fit: host memory on be, and device memory where be has a device. */
ap_status est_check(const Estimate *e, const ApBackend *be, ApError *err);

/* Runs a cut-down copy of the experiment (its first records, each on its first samples
 * where the model can cut them, ApModel.shrink) on be for about budget_s seconds, twice
 * the same work where the budget allows, and extrapolates to the whole run
 * (e->cal). Writes nothing. */
ap_status est_calibrate(Estimate *e, const ApData *data, const ApBackend *be, const ApExec *exec,
                        double budget_s, ApError *err);

/* The estimate for people: be is the backend the run would take (its memory available
 * is shown), note why auto chose it (may be empty). */
void est_print(FILE *f, const Estimate *e, const ApBackend *be, const char *note,
               const char *out_dir);

#endif
