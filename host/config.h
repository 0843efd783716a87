/* Experiment files: which keys exist, their types, ranges and meaning; building the
 * replica set from [model] and the [sweep] sections. See docs/experiment-files.md. */
#ifndef AP_CONFIG_H
#define AP_CONFIG_H

#include "host/ini.h"
#include "kernels/mc_model.h"

#include <stdint.h>
#include <stdio.h>

#define AP_PATH_MAX 512
#define AP_MAX_SWEPT 32

typedef struct ApExperiment {
  char source[AP_PATH_MAX]; /* the experiment file's path */
  char name[64], model[32], dataset[32];
  /* [data] */
  char train_images[AP_PATH_MAX], train_labels[AP_PATH_MAX];
  char test_images[AP_PATH_MAX], test_labels[AP_PATH_MAX];
  int max_train, max_val;
  int random_samples;
  uint64_t random_seed;
  /* [train] */
  int epochs, teacher, learning, val_samples, reset_between_samples;
  /* [output] */
  int checkpoint_every, keep_checkpoints, record_order;
  /* [model] and [sweep] */
  McDims dims;
  McParams base;
  int n_replicas;
  McParams *replicas; /* [R], in the order documented for sweeps */
  int n_swept;
  char swept[AP_MAX_SWEPT][64]; /* keys named in the sweep sections, in order */
  char *file_text;              /* the experiment file as read */
  char *sweep_text;             /* the sweep sections as given, for the effective dump */
} ApExperiment;

/* Builds the experiment from a parsed file (with any --set already applied). */
ap_status config_build(ApExperiment *ex, const Ini *ini, const char *source, ApError *err);
void config_free(ApExperiment *ex);

/* The effective configuration as INI text (every key with its value, sweeps as given).
 * Two runs with equal dumps (apart from [train] epochs) are the same experiment. */
char *config_dump(const ApExperiment *ex);

/* Prints every key with its section, type, range and meaning (apical run --help). */
void config_print_keys(FILE *f);

/* The dump with the epochs line removed, to compare a resumed run with its checkpoint. */
char *config_identity(const char *dump);

/* The value of [model] key `key` of replica p as it would be written in a file. */
void config_format_param(const ApExperiment *ex, const McParams *p, const char *key, char *out,
                         size_t n);

typedef enum { PARAM_INT, PARAM_U64, PARAM_DOUBLE } ParamKind;
/* values: [R][width] of int64_t, uint64_t or double by kind */
typedef void (*ParamColumnFn)(void *ctx, const char *name, ParamKind kind, int width,
                              const void *values, const char *help);
/* Calls fn once per per-replica parameter with its values for every replica. */
void config_for_each_param(const ApExperiment *ex, ParamColumnFn fn, void *ctx);

#endif
