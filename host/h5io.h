/* Results and checkpoint files (HDF5). Layout: docs/file-format.md. Both are built in
 * memory and written to a temporary file, fsync'd and renamed over the target, so a crash
 * or a full disk leaves the previous complete file in place. */
#ifndef AP_H5IO_H
#define AP_H5IO_H

#include "host/config.h"
#include "host/session.h"

#define AP_FILE_FORMAT_VERSION 3 /* 3: the SHA-256 in the user block (host/digest.h) */

typedef struct RunFile {
  const char *kind; /* "results" or "checkpoint" */
  const ApExperiment *ex;
  const char *backend;
  const char *dump;    /* effective configuration (config_dump) */
  const char *command; /* the command line */
  int epochs_done;
  long long units_done; /* units into record epochs_done (0: at its start; a run stopped
                         * inside a record), of units_per_record (ApModel.units) */
  long long units_per_record;
  const float *series;          /* [R][E][F], E = ex->epochs */
  const float *state;           /* [R][n_floats] canonical */
  const int *cohort;            /* [R] */
  const ApData *data;           /* for the sample orders (record_order) */
  const SessionCohort *cohorts; /* [n_cohorts]: their cost, in results (NULL: none) */
  int n_cohorts;
  const uint32_t *events;       /* the model's events (session_events), NULL: none */
  const uint64_t *events_start; /* [R + 1] */
  /* the kernel versions the run asked for (--cpu-kernel, --cuda-kernel; NULL: auto): some
   * sum in another order, so a resume must ask for the same (run_kernel_mismatch) */
  const char *cpu_kernel, *cuda_kernel;
  const char *partial; /* apical merge --partial: what was unfinished or locked (NULL: no) */
} RunFile;

ap_status runfile_write(const char *path, const RunFile *f, ApError *err);

/* Checks a results or checkpoint file's checksum: AP_OK, or AP_ERR_DATA saying what failed
 * (every reader below does this first). */
ap_status runfile_verify(const char *path, ApError *err);

/* Reads a checkpoint written for the same experiment shape: the state, the series of its
 * finished records (into series, [R][E][F] of this run), the record count and the
 * effective configuration it was written with (malloc'd). */
ap_status ckpt_read(const char *path, const ApExperiment *ex, float *state, float *series,
                    int *epochs_done, char **dump, ApError *err);

/* The weights and series of a results file (as ckpt_read; state gets the weight fields
 * only). */
ap_status results_read(const char *path, const ApExperiment *ex, float *state, float *series,
                       int *epochs_done, char **dump, ApError *err);

/* The shard a file was written by (count 0: the whole experiment). */
void runfile_shard(const char *path, int *index, int *count);

/* Where inside record epochs_done a file was written: *done units of *per (0 and 1 where
 * the file does not say: written at a record's end). */
void runfile_units(const char *path, long long *done, long long *per);

/* The kernel versions a file was written with (RunFile.cpu_kernel, cuda_kernel): "auto"
 * where the run named none, "" where the file does not say (written before they were
 * recorded). */
void runfile_kernels(const char *path, char *cpu, char *cuda, size_t n);

/* What apical merge needs of a shard's results file (apical run --shard). */
typedef struct ShardFile {
  int index, count, n_total; /* shard index of count; replicas of the whole experiment */
  int n, epochs_done, epochs;
  char *dump, *file_text, *backend; /* the experiment and experiment_file attributes */
  int *ids;                         /* [n] numbers in the whole experiment */
  int *cohort;                      /* [n] the shard's cohort of each */
  int n_cohorts;
  double *busy_s, *steps; /* [n_cohorts] cohorts/busy_s, cohorts/replica_steps */
} ShardFile;
ap_status shard_file_read(const char *path, ShardFile *f, ApError *err);
void shard_file_free(ShardFile *f);

/* The model's events in a checkpoint (session_events' arrays, malloc'd; NULL when the
 * model records none). */
ap_status ckpt_read_events(const char *path, const ApExperiment *ex, uint32_t **pairs,
                           uint64_t **start, ApError *err);

#endif
