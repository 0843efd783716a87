/* What a run prints (stdout, stderr and its log.txt, through host/log.h): the box of what
 * is about to run, the progress line, divergence warnings and the closing summary. */
#ifndef AP_RUN_PRINT_H
#define AP_RUN_PRINT_H

#include "host/session.h"

/* What a record's units are called ("presentations"; "units" where the model says not). */
const char *run_unit_name(const ApModel *m);

/* A boxed table of what is about to run (stdout and the log). */
void run_print_box(const ApExperiment *ex, const Session *s, const char *backend_desc,
                   const char *out_dir, int start_epoch, double total_steps);

/* The progress line at `at`, for a process that started at t_start (ap_seconds) after
 * `before` replica-steps of the run (session_work) and has done `done` of its `to_do`:
 * the share done, the rate, the time left and the headline series' median over the
 * replicas. sorted: [R] scratch. */
void run_print_progress(const Session *s, ApPos at, double before, double done, double to_do,
                        double t_start, float *sorted);

/* Replicas that diverged in records [e0, e1): the model's "diverged" series turned 1
 * (they are frozen there); reported once each (reported: [R]). */
void run_report_divergence(const ApExperiment *ex, const Session *s, int e0, int e1,
                           unsigned char *reported);

/* The headline series after the last record, median [min, max] over the replicas that
 * differ only in seed, each group labelled by its swept keys (n log n in the replicas). */
void run_print_summary(const ApExperiment *ex, const Session *s, int done);

#endif
