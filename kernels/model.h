/* The model interface (shared/DESIGN.md, "Models are pluggable units"). The host knows a
 * model only through an ApModel: its keys (which become --help, --print-config, sweeps
 * and the replica table of the results), its layout (named state fields, which become
 * checkpoints and final weights, and series, which become the results' per-record
 * datasets), and per backend an ApModelImpl that runs cohorts of replicas. A new model is
 * a folder kernels/NAME/ and one line in kernels/model.c.
 *
 * Dimension letters: R replicas, E records (epochs for the models with data), F floats of
 * series per replica and record. */
#ifndef AP_MODEL_H
#define AP_MODEL_H

#include "core/ap_data.h"
#include "core/ap_defs.h"
#include "core/ap_exec.h"

#include <stdint.h>

/* ---- keys ------------------------------------------------------------------------- */

typedef enum {
  AP_KEY_INT,    /* int */
  AP_KEY_U64,    /* uint64_t */
  AP_KEY_REAL,   /* double */
  AP_KEY_BOOL,   /* int, 0 or 1 */
  AP_KEY_CHOICE, /* int: the index of the value in `choices` */
  AP_KEY_INTS,   /* int[max_len], its count in the int at count_offset */
  AP_KEY_REALS,  /* double[max_len], of the length len() says */
  AP_KEY_TEXT    /* char[max_len] */
} ApKeyType;

enum {
  AP_KEY_FIXED = 1u /* one value for the whole experiment: cannot be swept */
};

typedef struct ApKey {
  const char *section; /* "model" (sweepable unless FIXED) or "train" (the schedule, FIXED) */
  const char *name;
  ApKeyType type;
  size_t offset; /* into the model's parameter block */
  unsigned flags;
  double min, max;                /* every number, list items included */
  int min_open;                   /* the minimum itself is not allowed */
  const char *choices;            /* AP_KEY_CHOICE: "original|le" */
  int min_len, max_len;           /* lists: fewest items, and the capacity (text: bytes) */
  size_t count_offset;            /* AP_KEY_INTS: the int that holds the count */
  int (*len)(const void *params); /* AP_KEY_REALS: the length the (earlier) keys imply */
  const char *len_what;           /* AP_KEY_REALS: what one item is, "one per weight layer" */
  const char *help;
} ApKey;

/* ---- layout ----------------------------------------------------------------------- */

#define AP_MAX_FIELDS 96
#define AP_MAX_SERIES 24
#define AP_NAME_MAX 48

typedef enum {
  AP_FIELD_WEIGHT, /* kept in the results (final weights) and in checkpoints */
  AP_FIELD_STATE   /* in checkpoints only: potentials, filters, traces */
} ApFieldKind;

/* One named array of a replica's canonical state vector. */
typedef struct ApField {
  char name[AP_NAME_MAX]; /* HDF5 path below /state or /weights, e.g. "layer0/W_up" */
  int offset;             /* floats into the state vector */
  int rank, shape[2];     /* rank 1: shape[1] == 1 */
  ApFieldKind kind;
  const char *help;
} ApField;

/* One per-record quantity of a replica: the run writes it as [R][E][shape...]. */
typedef struct ApSeries {
  char name[AP_NAME_MAX];
  int offset;         /* floats into a replica's record of F floats */
  int rank, shape[2]; /* extra dimensions after [R][E]; rank 0: one float */
  const char *help;
} ApSeries;

typedef struct ApLayout {
  int n_floats; /* one replica's canonical state vector */
  int n_fields;
  ApField field[AP_MAX_FIELDS];
  int n_series;
  ApSeries series[AP_MAX_SERIES];
  int series_width; /* F */
} ApLayout;

/* ---- running ---------------------------------------------------------------------- */

typedef struct ApCohort ApCohort; /* a backend's replicas of one schedule (the model's type) */

/* A point in a run: `unit` units into record `record` (0: the record's start). A record
 * is cut into ApCohortSpec.units units (ApModel.units), so that a launch or a CPU work
 * unit can stop inside a long record and a checkpoint can be written there. */
typedef struct ApPos {
  int record;
  long long unit;
} ApPos;

/* A run call's part of record e (from.record <= e <= ap_last_record(to)): units [*u0, *u1)
 * of `units` (the record's whole where it is not cut: both points are record starts). */
AP_HD int ap_last_record(ApPos to) { return to.unit ? to.record : to.record - 1; }
AP_HD void ap_part(ApPos from, ApPos to, long long units, int e, long long *u0, long long *u1) {
  *u0 = e == from.record ? from.unit : 0;
  *u1 = e == to.record ? to.unit : units;
}
/* A point as units from the run's start, and back (units: per record). */
AP_HD long long ap_pos_index(ApPos p, long long units) {
  return (long long)p.record * units + p.unit;
}
AP_HD ApPos ap_pos_at(long long index, long long units) {
  ApPos p = {(int)(index / units), index % units};
  return p;
}

typedef struct ApCohortSpec {
  const void *params;     /* [n] parameter blocks of params_size bytes; equal cohort_key */
  int n;                  /* replicas */
  const int *rows;        /* [n] their rows in the run's series */
  const ApData *data;     /* host memory; lives as long as the cohort */
  const ApLayout *layout; /* the experiment's */
  ApExec exec;
  int n_records;   /* records of the whole run ([train] epochs): the last one ends training */
  long long units; /* units of every record (ApModel.units; 1: records are not cut) */
} ApCohortSpec;

/* Memory of one cohort on one backend (bytes): what its cohort_create and run allocate,
 * added up by the function that sizes those allocations, so that the estimate and the
 * allocations cannot drift apart. */
typedef struct ApCohortMem {
  double host;       /* host memory the cohort holds while it lives */
  double work;       /* host work arrays while it runs (every thread's together) */
  double device;     /* device memory with every replica on the device at once (CPU: 0) */
  double device_min; /* the least device memory it runs in, its replicas taking turns in
                      * parts (= device where a cohort cannot split) */
} ApCohortMem;

/* The run's series: replica r's record e starts at base + (r * n_records + e) * width. */
typedef struct ApSeriesBuf {
  float *base;
  int n_records, width;
} ApSeriesBuf;

/* What a model does on one backend. Canonical state is [n][layout.n_floats], replica
 * after replica in the spec's order; the backend keeps its own layout in between. */
typedef struct ApModelImpl {
  const char *versions; /* kernel versions an ApExec may name, "generic|warp" (NULL: none) */
  ap_status (*cohort_create)(const ApCohortSpec *spec, ApCohort **out, ApError *err);
  void (*cohort_destroy)(ApCohort *c);
  ap_status (*state_set)(ApCohort *c, const float *state, ApError *err);
  ap_status (*state_get)(ApCohort *c, float *state, ApError *err);
  /* Advances every cohort from `from` to `to` (later; units below the spec's units) and
   * fills the series of every record it ends. A record's start and end run with its
   * first and last unit; whatever a record carries between its units (counts, sums) is
   * in the canonical state, so that state_get/state_set at any ApPos resume the same bits.
   * busy (NULL: not wanted): [n_cohorts], set to the seconds each cohort's work took in
   * this call, summed over threads; a backend that cannot tell leaves them as they are. */
  ap_status (*run)(ApCohort *const *cohorts, int n_cohorts, ApPos from, ApPos to,
                   const ApSeriesBuf *out, double *busy, ApError *err);
  /* Optional: one line on how the cohort runs (kernel version, blocks). */
  void (*describe)(const ApCohort *c, char *buf, size_t n);
  /* Where the model records events (ApModel.events): replica i of the cohort's events so
   * far, n pairs of uint32 in the order they happened (valid until the next call), and
   * on resume the events of the checkpoint. */
  ap_status (*events_get)(ApCohort *c, int i, const uint32_t **pairs, size_t *n, ApError *err);
  ap_status (*events_set)(ApCohort *c, int i, const uint32_t *pairs, size_t n, ApError *err);
} ApModelImpl;

/* ---- the model -------------------------------------------------------------------- */

typedef struct ApModel {
  const char *name;      /* [experiment] model = NAME */
  const char *summary;   /* one line for `apical models` */
  const char *variants;  /* one line: the variants and switches it offers */
  const char *record;    /* what a record is called, "epoch" */
  const char *record_is; /* one line on what it holds, for `apical models` */
  const ApKey *keys;
  int n_keys;
  size_t params_size;
  void (*defaults)(void *params);
  /* Optional: the network's input width and output count, which a dataset must match
   * (the random dataset is drawn to this shape). NULL: the model takes no data. */
  void (*io)(const void *params, int *n_in, int *n_out);
  /* One replica's parameters, after every key is set; data is NULL before it is loaded. */
  ap_status (*check)(const void *params, const ApData *data, ApError *err);
  /* Replicas with equal keys share a schedule and run as one cohort. */
  uint64_t (*cohort_key)(const void *params);
  /* The keys cohort_key reads, "t_pres, neuron" (NULL: it reads none, one cohort), so
   * that a cohort can be named in words. */
  const char *cohort_by;
  ap_status (*layout)(const void *params, ApLayout *out, ApError *err);
  /* One replica's initial canonical state (layout.n_floats floats). */
  void (*init)(float *state, const void *params, const ApData *data);
  /* Optional: the units a record of this replica is cut into (presentations, steps): the
   * points where a run may stop inside a record, write a checkpoint and resume. The same
   * for every replica of an experiment (else records are not cut). NULL: a record is one
   * unit. */
  long long (*units)(const void *params, const ApData *data);
  const char *units_name; /* what a unit is, plural: "presentations" */
  /* Optional, with units: the replica-steps of units [u0, u1) of record e, in cost()'s
   * measure (cost() is the mean of a whole record's), for records whose units differ in
   * work (a read-out image against a presentation; units a record does not run cost 0).
   * The host sizes its work units and its ETA by it. NULL: a record's cost is spread
   * evenly over its units. */
  double (*work)(const void *params, const ApData *data, int e, long long u0, long long u1);
  /* Replica-steps one record of this replica takes (progress and load balance). */
  double (*cost)(const void *params, const ApData *data);
  /* The memory a cohort of spec->n replicas takes on backend "cpu" or "cuda", whether or
   * not this build has that backend; AP_ERR_UNAVAILABLE where the model has none there. */
  ap_status (*memory)(const char *backend, const ApCohortSpec *spec, ApCohortMem *out,
                      ApError *err);
  /* Optional, for the estimate's calibration (a short real run): cuts one record of this
   * replica to about f (0 < f <= 1) of its work, of the same kind, so that cost() on
   * `data` says how much is left. data is the calibration's dataset: the run's first
   * samples, which the parameters must then fit; the layout must stay the run's. NULL:
   * records are not cut. */
  void (*shrink)(void *params, const ApData *data, double f);
  /* The series the progress line and the summary report, or NULL. A series named
   * "diverged" (0, or 1 from the record where a replica's state turned non-finite and it
   * froze) is reported by the host, and written as replicas/diverged_at. */
  const char *headline;
  /* Optional: the samples a replica sees in phase p of record e, in order. out holds
   * max(n_train, n_val) entries; returns how many of them are shown. */
  int n_phases;
  const char *const *phase_names;
  int (*order)(const void *params, const ApData *data, int record, int phase, uint32_t *out);
  /* Optional: the name of the events a replica records (pairs of uint32 of variable
   * number, e.g. spikes as (neuron, step)), written as events/NAME [n][2] with the start of
   * each replica's in events/NAME_start [R + 1]; NULL: none. */
  const char *events;
  const char *events_is; /* what a pair is */
  /* The model's implementation on backend `backend` ("cpu", "cuda"), NULL if none. */
  const ApModelImpl *(*impl)(const char *backend);
  /* Optional: one replica's parameters against the run's length ([train] epochs records),
   * for counters that span the run (lif_stdp's step). NULL: any length. */
  ap_status (*check_records)(const void *params, int n_records, ApError *err);
  /* The unit of key `name` for `apical models NAME` and docs/models/: "ms", "pA", "1"
   * (a dimensionless number); NULL for keys that are counts, choices or switches. Every
   * number key has one (tests/test_cli.c). */
  const char *(*unit)(const char *name);
} ApModel;

#ifdef __cplusplus
extern "C" {
#endif
/* The registry: every model compiled in, in `apical models` order. */
int ap_model_count(void);
const ApModel *ap_model_at(int i);
const ApModel *ap_model_find(const char *name);

const ApField *ap_layout_field(const ApLayout *lay, const char *name);
const ApSeries *ap_layout_series(const ApLayout *lay, const char *name);
/* The floats of one replica's AP_FIELD_WEIGHT fields. */
long ap_layout_weights(const ApLayout *lay);
/* Add a field (cols = 0: a vector of rows) or a series (n = 0: one float per record,
 * else a vector of n) at the layout's end; AP_ERR_SOFTWARE when the layout is full. */
ap_status ap_layout_add_field(ApLayout *lay, const char *name, int rows, int cols, ApFieldKind kind,
                              const char *help);
ap_status ap_layout_add_series(ApLayout *lay, const char *name, int n, const char *help);
#ifdef __cplusplus
}
#endif

#endif
