/* The host's keys and finding any key: see config_keys.h. */
#include "config_keys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EX(f) .offset = offsetof(ApExperiment, f)
#define TEXT(f) .type = AP_KEY_TEXT, EX(f), .max_len = (int)sizeof(((ApExperiment *)0)->f)

/* The host's keys; the model's come from its key table. */
const ApKey config_host_keys[] = {
    {.section = "experiment",
     .name = "name",
     TEXT(name),
     .help = "name of the run (default: the file's name)"},
    {.section = "experiment",
     .name = "model",
     TEXT(model_name),
     .help = "the model (apical models lists them)"},
    {.section = "experiment",
     .name = "dataset",
     TEXT(dataset),
     .help = "bars | idx (MNIST format) | random (for models that take data)"},
    {.section = "data",
     .name = "train_images",
     TEXT(train_images),
     .help =
         "idx: training images (raw or .gz); default $APICAL_MNIST_DIR/train-images-idx3-ubyte.gz"},
    {.section = "data", .name = "train_labels", TEXT(train_labels), .help = "idx: training labels"},
    {.section = "data",
     .name = "test_images",
     TEXT(test_images),
     .help = "idx: validation/test images"},
    {.section = "data",
     .name = "test_labels",
     TEXT(test_labels),
     .help = "idx: validation/test labels"},
    {.section = "data",
     .name = "max_train",
     .type = AP_KEY_INT,
     EX(max_train),
     .max = 1e9,
     .help = "idx: use at most this many training samples (0: all)"},
    {.section = "data",
     .name = "max_val",
     .type = AP_KEY_INT,
     EX(max_val),
     .max = 1e9,
     .help = "idx: use at most this many test samples (0: all)"},
    {.section = "data",
     .name = "center",
     .type = AP_KEY_BOOL,
     EX(center),
     .max = 1,
     .help = "idx: subtract each pixel's mean over the training images from every training and "
             "test image (inputs become signed; rate inputs only)"},
    {.section = "data",
     .name = "random_samples",
     .type = AP_KEY_INT,
     EX(random_samples),
     .min = 1,
     .max = 1e7,
     .help = "random: samples of the random dataset"},
    {.section = "data",
     .name = "random_seed",
     .type = AP_KEY_U64,
     EX(random_seed),
     .max = CONFIG_BIG,
     .help = "random: seed of the random dataset"},
    {.section = "train",
     .name = "epochs",
     .type = AP_KEY_INT,
     EX(epochs),
     .min = 1,
     .max = 999999999, /* checkpoints are named epoch-NNNNNNNNN.h5: nine digits */
     .help = "records to run (a microcircuit epoch, an mstdp record: apical models says)"},
    {.section = "output",
     .name = "checkpoint_every",
     .type = AP_KEY_INT,
     EX(checkpoint_every),
     .max = 1e9,
     .help = "write a checkpoint and the results every N records (0: only at the end)"},
    {.section = "output",
     .name = "keep_checkpoints",
     .type = AP_KEY_INT,
     EX(keep_checkpoints),
     .min = 1,
     .max = 1e6,
     .help = "checkpoints kept on disk besides the epoch-0 one (the initial state, never pruned)"},
    {.section = "output",
     .name = "record_order",
     .type = AP_KEY_BOOL,
     EX(record_order),
     .max = 1,
     .help = "store every replica's sample order in the results (/recordings)"},
};
const int config_n_host_keys = (int)(sizeof config_host_keys / sizeof config_host_keys[0]);

const char *const config_sections[] = {"experiment", "data", "train", "output", "model"};

/* Which [data] keys each dataset reads. */
int config_data_key_used(const char *dataset, const char *key) {
  if (!strcmp(dataset, "idx")) return strcmp(key, "random_samples") && strcmp(key, "random_seed");
  if (!strcmp(dataset, "random"))
    return !strcmp(key, "random_samples") || !strcmp(key, "random_seed");
  return 0;
}

KeyRef key_find(const ApModel *m, const char *section, const char *name) {
  KeyRef r = {NULL, 0};
  for (int i = 0; i < config_n_host_keys; i++)
    if (!strcmp(config_host_keys[i].section, section) && !strcmp(config_host_keys[i].name, name))
      return (KeyRef){&config_host_keys[i], 1};
  for (int i = 0; m && i < m->n_keys; i++)
    if (!strcmp(m->keys[i].section, section) && !strcmp(m->keys[i].name, name))
      return (KeyRef){&m->keys[i], 0};
  return r;
}

void *key_target(KeyRef r, ApExperiment *ex, void *params) { return r.host ? (void *)ex : params; }

const char *key_type_name(const ApKey *k) {
  switch (k->type) {
  case AP_KEY_INT:
    return "integer";
  case AP_KEY_U64:
    return "integer >= 0";
  case AP_KEY_REAL:
    return "number";
  case AP_KEY_BOOL:
    return "true|false";
  case AP_KEY_CHOICE:
    return k->choices;
  case AP_KEY_INTS:
    return "integer list";
  case AP_KEY_REALS:
    return "number list";
  case AP_KEY_TEXT:
    return "text";
  }
  return "?";
}

/* Size of the bytes a key's value occupies in its target. */
size_t key_size(const ApKey *k) {
  switch (k->type) {
  case AP_KEY_U64:
    return sizeof(uint64_t);
  case AP_KEY_REAL:
    return sizeof(double);
  case AP_KEY_REALS:
    return (size_t)k->max_len * sizeof(double);
  case AP_KEY_TEXT:
    return (size_t)k->max_len;
  case AP_KEY_INTS:
    return (size_t)k->max_len * sizeof(int);
  default:
    return sizeof(int);
  }
}

void config_host_defaults(ApExperiment *ex) {
  snprintf(ex->dataset, sizeof ex->dataset, "bars");
  const char *dir = getenv("APICAL_MNIST_DIR");
  if (dir && *dir) {
    snprintf(ex->train_images, sizeof ex->train_images, "%.400s/train-images-idx3-ubyte.gz", dir);
    snprintf(ex->train_labels, sizeof ex->train_labels, "%.400s/train-labels-idx1-ubyte.gz", dir);
    snprintf(ex->test_images, sizeof ex->test_images, "%.400s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(ex->test_labels, sizeof ex->test_labels, "%.400s/t10k-labels-idx1-ubyte.gz", dir);
  }
  ex->random_samples = 100;
  ex->random_seed = 1;
  ex->epochs = 100;
  ex->checkpoint_every = 100;
  ex->keep_checkpoints = 2;
}

int config_is_sweep_section(const char *s) {
  return !strcmp(s, "sweep") || !strncmp(s, "sweep.", 6);
}
