/* Running an experiment: dataset, cohorts, the record loop on a backend, progress,
 * checkpoints and the results file. */
#ifndef AP_RUN_H
#define AP_RUN_H

#include "host/config.h"
#include "host/rundir.h"
#include "kernels/model.h"

typedef struct RunOptions {
  const char *backend; /* auto | cpu | cuda */
  ApExec exec;         /* threads (0: all cores) and kernel version (NULL: auto) */
  const char *out_dir;
  int resume, force;
  const char *command; /* stored in the files */
  int no_memory_check; /* run even where the estimate says the memory does not fit */
} RunOptions;

/* Runs ex to its last epoch (or until SIGINT/SIGTERM, after which the last work unit is
 * checkpointed, inside a record where the model cuts records, and AP_ERR_INTERRUPTED or
 * AP_ERR_TERMINATED returned). A run whose memory does not fit (the
 * estimate, host/estimate.h) is refused with AP_ERR_OSERR before anything is created. */
ap_status run_experiment(const ApExperiment *ex, const RunOptions *opt, ApError *err);

/* Prints what run_experiment would do (host/estimate.h: cohorts, work, memory, and a
 * calibrated wall time) without running it or creating anything. */
ap_status run_estimate(const ApExperiment *ex, const RunOptions *opt, ApError *err);

/* Every check run_experiment makes before it touches the run directory (the backend, the
 * dataset, the model's checks on it, the kernel versions, the memory unless
 * no_memory_check), and nothing else: --print-config refuses what run would. */
ap_status run_check(const ApExperiment *ex, const RunOptions *opt, ApError *err);

#define AP_ERR_INTERRUPTED 130 /* SIGINT: 128 + 2 */
#define AP_ERR_TERMINATED 143  /* SIGTERM: 128 + 15 */

#endif
