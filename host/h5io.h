/* Results and checkpoint files (HDF5). Layout: docs/file-format.md. Both are written to
 * a temporary file, flushed, fsync'd and renamed over the target, so a crash leaves the
 * previous complete file in place. */
#ifndef AP_H5IO_H
#define AP_H5IO_H

#include "host/config.h"
#include "kernels/mc_model.h"

#define AP_FILE_FORMAT_VERSION 1

typedef struct RunFile {
  const char *kind; /* "results" or "checkpoint" */
  const ApExperiment *ex;
  const McLayout *lay;
  const char *backend;
  const char *dump;    /* effective configuration (config_dump) */
  const char *command; /* the command line */
  int epochs_done;
  const McMetrics *m;  /* arrays span ex->epochs */
  const float *state;  /* [R][n_floats] canonical */
  const int *cohort;   /* [R] */
  int n_train, n_val, n_valset; /* per epoch, and the validation set's size (sample order) */
} RunFile;

ap_status runfile_write(const char *path, const RunFile *f, ApError *err);

/* Reads a checkpoint written for the same layout and replica count: the state, the
 * metrics of its finished epochs (into m, whose arrays span m->n_epochs >= those), the
 * epoch count and the effective configuration it was written with (malloc'd). */
ap_status ckpt_read(const char *path, const McLayout *lay, int n_replicas, float *state,
                    McMetrics *m, int *epochs_done, char **dump, ApError *err);

#endif
