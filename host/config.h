/* Experiment files: the host's keys ([experiment], [data], [train] epochs, [output]) and
 * the model's (its key table: [model] and its schedule keys in [train]), and the replica
 * set built from [model] and the [sweep] sections. See docs/experiment-files.md. */
#ifndef AP_CONFIG_H
#define AP_CONFIG_H

#include "host/ini.h"
#include "kernels/model.h"

#include <stdint.h>
#include <stdio.h>

#define AP_PATH_MAX 512
#define AP_MAX_SWEPT 32
#define AP_MAX_REPLICAS 10000000 /* replicas of one experiment */

typedef struct ApExperiment {
  char source[AP_PATH_MAX]; /* the experiment file's path */
  char name[64], model_name[32], dataset[32];
  const ApModel *model;
  /* [data] */
  char train_images[AP_PATH_MAX], train_labels[AP_PATH_MAX];
  char test_images[AP_PATH_MAX], test_labels[AP_PATH_MAX];
  int max_train, max_val;
  int center; /* idx: subtract each pixel's training mean (ds_center) */
  int random_samples;
  uint64_t random_seed;
  /* [train] */
  int epochs; /* records */
  /* [output] */
  int checkpoint_every, keep_checkpoints, record_order;
  /* the model's keys */
  void *base; /* its parameter block as the file sets it (model->params_size) */
  int n_replicas;
  unsigned char *replicas; /* [R][params_size], in the order documented for sweeps */
  ApLayout layout;         /* state fields and series (shared by every replica) */
  int n_swept;
  char swept[AP_MAX_SWEPT][64]; /* keys named in the sweep sections, in order */
  char *file_text;              /* the experiment file as read */
  char *sweep_text;             /* the sweep sections as given, for the effective dump */
  /* apical run --shard INDEX/COUNT (config_shard): this run holds a subset of the replicas */
  int shard_index, shard_count; /* count 0: the whole experiment */
  int n_total;                  /* replicas of the whole experiment */
  int *shard_ids;               /* [n_replicas] their numbers in it (NULL: not sharded) */
} ApExperiment;

/* Replica r's parameter block. */
static inline const void *config_params(const ApExperiment *ex, int r) {
  return ex->replicas + (size_t)r * ex->model->params_size;
}

/* Lowers the replica limit of the sweeps (AP_MAX_REPLICAS), e.g. for the fuzzer. */
void config_limit_replicas(int n);

/* Builds the experiment from a parsed file (with any --set already applied). */
ap_status config_build(ApExperiment *ex, const Ini *ini, const char *source, ApError *err);
void config_free(ApExperiment *ex);

/* The effective configuration as INI text (every key with its value, sweeps as given).
 * Two runs with equal dumps (apart from [train] epochs) are the same experiment. */
char *config_dump(const ApExperiment *ex);

/* Prints the keys with their section, type, range and meaning: the host's and those of
 * `model` (NULL: of every model). */
void config_print_keys(FILE *f, const ApModel *model);
/* The model's [train] and [model] keys as a Markdown table (docs/models/NAME.md). */
void config_print_keys_markdown(FILE *f, const ApModel *model);

/* The dump with the epochs line removed, to compare a resumed run with its checkpoint. */
char *config_identity(const char *dump);

/* The first line where two configuration dumps differ, into la and lb (n bytes each;
 * left as they are where the texts are equal). */
void config_first_difference(const char *a, const char *b, char *la, char *lb, size_t n);

/* The value of model key `key` of replica r as it would be written in a file. */
void config_format_param(const ApExperiment *ex, int r, const char *key, char *out, size_t n);

typedef enum { PARAM_INT, PARAM_U64, PARAM_DOUBLE } ParamKind;
/* values: [R][width] of int64_t, uint64_t or double by kind */
typedef void (*ParamColumnFn)(void *ctx, const char *name, ParamKind kind, int width, int is_list,
                              const void *values, const char *help);
/* Calls fn once per [model] key with its values for every replica (the replica table). */
ap_status config_for_each_param(const ApExperiment *ex, ParamColumnFn fn, void *ctx);

/* Keeps shard `index` of `count` (0 <= index < count) of the replicas, given each
 * replica's cost (ApModel.cost, [n_replicas]). The assignment depends on the costs alone
 * (docs/experiment-files.md, "Shards"): replicas in order of decreasing cost (ties: the
 * lower number first) each go to the shard with the least cost so far (ties: the lower
 * shard). A shard keeps its replicas in sweep order; ex->shard_ids names them. */
ap_status config_shard(ApExperiment *ex, int index, int count, const double *cost, ApError *err);

/* Groups replicas by the model's cohort key: cohort_of[r] in order of first appearance;
 * returns the number of cohorts (n log n in the replicas), or -1 without memory. */
int config_cohorts(const ApExperiment *ex, int *cohort_of);

#endif
