/* apical run --shard I/N and apical merge: shards merged give the unsharded run's
 * results file bit for bit; the assignment is the documented one; merge refuses what is
 * not every shard of one experiment once. */
#include "helpers.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256];
static void setup(void) { th_tempdir(dir, sizeof dir); }

static int apical(const char *args, char *err_text, size_t n) {
  return th_program(dir, NULL, APICAL_BINARY, args, err_text, n);
}

static void run_ok(const char *fmt, const char *arg) {
  char args[1024], e[4096];
  snprintf(args, sizeof args, fmt, arg);
  int rc = apical(args, e, sizeof e);
  cr_assert_eq(rc, 0, "apical %s: exit %d: %s", args, rc, e);
}

/* ---- comparing two HDF5 files: every dataset's bytes and every attribute ------------ */

typedef struct Cmp {
  hid_t other;
  const char *const *skip; /* paths (datasets) and root attributes left out */
  char diff[512];
  int n_datasets;
} Cmp;

static int skipped(const Cmp *c, const char *name) {
  for (int i = 0; c->skip[i]; i++)
    if (!strcmp(c->skip[i], name)) return 1;
  return 0;
}

/* The raw bytes of a dataset or attribute, and their size. */
static void *dataset_bytes(hid_t f, const char *path, size_t *n, hid_t *type_out) {
  hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
  if (d < 0) return NULL;
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  *n = (size_t)H5Sget_simple_extent_npoints(s) * H5Tget_size(t);
  void *buf = calloc(*n + 1, 1);
  H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  *type_out = t;
  H5Sclose(s);
  H5Dclose(d);
  return buf;
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *vc) {
  Cmp *c = vc;
  (void)obj;
  if (info->type != H5O_TYPE_DATASET || skipped(c, name) || c->diff[0]) return 0;
  c->n_datasets++;
  size_t na = 0, nb = 0;
  hid_t ta = -1, tb = -1;
  void *a = dataset_bytes(obj, name, &na, &ta), *b = NULL;
  if (H5Lexists(c->other, name, H5P_DEFAULT) > 0) b = dataset_bytes(c->other, name, &nb, &tb);
  if (!b)
    snprintf(c->diff, sizeof c->diff, "/%s is missing", name);
  else if (na != nb || H5Tequal(ta, tb) <= 0 || memcmp(a, b, na))
    snprintf(c->diff, sizeof c->diff, "/%s differs", name);
  if (ta >= 0) H5Tclose(ta);
  if (tb >= 0) H5Tclose(tb);
  free(a), free(b);
  return 0;
}

static char *attr_text(hid_t f, const char *name) {
  hid_t a = H5Aopen(f, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  hid_t t = H5Aget_type(a);
  char *out = NULL;
  if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
    char *v = NULL;
    H5Aread(a, t, &v);
    out = strdup(v ? v : "");
    H5free_memory(v);
  } else {
    size_t n = H5Tget_size(t);
    out = calloc(n + 1, 1);
    H5Aread(a, t, out);
  }
  H5Tclose(t);
  H5Aclose(a);
  return out;
}

static herr_t visit_attr(hid_t loc, const char *name, const H5A_info_t *info, void *vc) {
  Cmp *c = vc;
  (void)info;
  if (skipped(c, name) || c->diff[0]) return 0;
  char *a = attr_text(loc, name),
       *b = H5Aexists(c->other, name) > 0 ? attr_text(c->other, name) : NULL;
  if (!b || strcmp(a, b)) snprintf(c->diff, sizeof c->diff, "attribute %s differs", name);
  free(a), free(b);
  return 0;
}

/* Asserts that files a and b hold the same datasets and root attributes (both ways). */
static void same_file(const char *a, const char *b, const char *const *skip) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  for (int way = 0; way < 2; way++) {
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/%s", dir, way ? b : a);
    snprintf(pb, sizeof pb, "%s/%s", dir, way ? a : b);
    hid_t fa = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT),
          fb = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(fa >= 0 && fb >= 0, "cannot open %s or %s", pa, pb);
    Cmp c = {fb, skip, "", 0};
    H5Ovisit(fa, H5_INDEX_NAME, H5_ITER_INC, visit, &c);
    hsize_t idx = 0;
    H5Aiterate2(fa, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_attr, &c);
    cr_assert_eq(c.diff[0], 0, "%s against %s: %s", pa, pb, c.diff);
    cr_assert_gt(c.n_datasets, 10, "only %d datasets compared", c.n_datasets);
    H5Fclose(fa);
    H5Fclose(fb);
  }
}

static const char *const run_specific[] = {"written", "command", "cohorts/busy_s", NULL};

/* Three cohorts (t_pres) of uneven cost, validation, test phases and sample orders. */
#define MC_SWEEP                                                                                   \
  "[experiment]\nmodel = microcircuit\n[train]\nepochs = 3\ntest_every = 2\nval_samples = 5\n"     \
  "[output]\nrecord_order = true\n[model]\neta_pi = 0.01\n"                                        \
  "[sweep]\nt_pres = 4, 9, 15\nseed = 1..3\nvariant = le, original\n"

Test(shard, three_shards_merged_are_the_unsharded_results_bit_for_bit, .init = setup) {
  th_file(dir, "x.ini", MC_SWEEP);
  run_ok("run x.ini --out whole%s", "");
  for (int i = 0; i < 3; i++) {
    char a[64];
    snprintf(a, sizeof a, "%d/3 --out s%d", i, i);
    run_ok("run x.ini --shard %s", a);
  }
  run_ok("merge s2 s0 s1%s --out merged", ""); /* any order */
  same_file("whole/results.h5", "merged/results.h5", run_specific);
}

/* lif_stdp records events (a raster): they join in replica order. */
Test(shard, lif_events_merge_bit_for_bit, .init = setup) {
  th_file(dir, "l.ini",
          "[experiment]\nmodel = lif_stdp\n[model]\nn_pyr = 12\nn_pv = 4\ni_e = 800\n"
          "t_ref = 1\n[train]\nepochs = 5\nrecord_ms = 2\nraster_ms = 9\n"
          "[sweep]\nseed = 1, 2, 3\ntopdown = on, off\n");
  run_ok("run l.ini --out whole%s", "");
  run_ok("run l.ini --shard 0/2 --out a%s", "");
  run_ok("run l.ini --shard 1/2 --out b%s", "");
  run_ok("merge a b --out merged%s", "");
  same_file("whole/results.h5", "merged/results.h5", run_specific);
}

/* Costs 5, 3, 3, 2, 2, 1 into 2 shards, by hand: 5 -> 0; 3 -> 1; 3 -> 1 (3 < 5); 2 -> 0
 * (5 < 6); 2 -> 1 (6 < 7); 1 -> 0 (7 < 8): shard 0 holds replicas 0, 3, 5. */
Test(shard, the_assignment_is_the_documented_one) {
  static const double cost[6] = {5, 3, 3, 2, 2, 1};
  static const int want[2][3] = {{0, 3, 5}, {1, 2, 4}};
  for (int k = 0; k < 2; k++) {
    ApExperiment ex;
    th_experiment(&ex, "[sweep]\nseed = 10..15\n");
    ApError err = {{0}};
    cr_assert_eq(config_shard(&ex, k, 2, cost, &err), AP_OK, "%s", err.msg);
    cr_assert_eq(ex.n_replicas, 3);
    cr_assert_eq(ex.n_total, 6);
    for (int i = 0; i < 3; i++) {
      cr_assert_eq(ex.shard_ids[i], want[k][i], "shard %d, replica %d", k, i);
      cr_assert_eq(th_mc(&ex, i)->seed, (uint64_t)(10 + want[k][i]), "parameters moved with it");
    }
    config_free(&ex);
  }
  ApExperiment ex;
  th_experiment(&ex, "[sweep]\nseed = 1, 2\n");
  ApError err = {{0}};
  cr_assert_eq(config_shard(&ex, 0, 3, cost, &err), AP_ERR_USAGE);
  cr_assert(strstr(err.msg, "at most 2 shards"), "%s", err.msg);
  config_free(&ex);
}

static void refused(const char *args, int code, const char *text) {
  char e[4096];
  int rc = apical(args, e, sizeof e);
  cr_assert_eq(rc, code, "apical %s: exit %d (want %d): %s", args, rc, code, e);
  cr_assert(strstr(e, text), "apical %s: '%s' lacks '%s'", args, e, text);
}

Test(shard, merge_refuses_what_is_not_every_shard_of_one_experiment, .init = setup) {
  th_file(dir, "x.ini", MC_SWEEP);
  for (int i = 0; i < 3; i++) {
    char a[64];
    snprintf(a, sizeof a, "%d/3 --out s%d", i, i);
    run_ok("run x.ini --shard %s", a);
  }
  refused("merge s0 s2 --out m", 66, "missing shard 1 of 3");
  refused("merge s0 s1 s1 s2 --out m", 78, "both hold shard 1/3");
  run_ok("run x.ini --shard 1/3 --out other --set model.eta_pi=0.02%s", "");
  refused("merge s0 other s2 --out m", 78, "different experiments");
  run_ok("run x.ini --shard 1/2 --out half%s", "");
  refused("merge s0 half s2 --out m", 78, "different splits");
  run_ok("run x.ini --shard 1/3 --out longer --set train.epochs=4%s", "");
  refused("merge s0 longer s2 --out m", 78, "different experiments");
  run_ok("run x.ini --out whole%s", "");
  refused("merge s0 whole s2 --out m", 65, "not the results of a shard");
  refused("merge s0 nowhere s2 --out m", 66, "nowhere/results.h5");
  run_ok("merge s0 s1 s2 --out m%s", "");
  refused("merge s0 s1 s2 --out m", 73, "exists; pass --force");
  run_ok("merge s0 s1 s2 --out m --force%s", "");
  /* a shard's directory resumes only as that shard */
  refused("run x.ini --shard 2/3 --out s1 --resume", 78,
          "holds shard 1/3, this run asks for shard 2/3");
  refused("run x.ini --out s1 --resume", 78, "this run asks for the whole experiment");
  refused("run x.ini --shard 3/3", 64, "0 <= I < N");
  refused("run x.ini --shard 1", 64, "expected I/N");
  refused("run x.ini --shard 0/19", 64, "at most 18 shards");
}

/* Without --out, a shard goes to runs/NAME/shard-I-of-N and merge to runs/NAME. */
Test(shard, default_directories, .init = setup) {
  th_file(dir, "x.ini",
          "[experiment]\nmodel = microcircuit\nname = study\n[train]\nepochs = 1\n"
          "[sweep]\nseed = 1..3\n");
  run_ok("run x.ini --shard 0/2%s", "");
  run_ok("run x.ini --shard 1/2%s", "");
  run_ok("merge runs/study/shard-0-of-2 runs/study/shard-1-of-2%s", "");
  char p[512];
  snprintf(p, sizeof p, "%s/runs/study/results.h5", dir);
  FILE *f = fopen(p, "rb");
  cr_assert_not_null(f, "%s was not written", p);
  fclose(f);
  /* shards below another folder (run --shard ... --out DIR/shard-I-of-N, as sweep.sbatch
   * does with an --out): merge without --out writes into that folder, not runs/NAME */
  run_ok("run x.ini --shard 0/2 --out elsewhere/shard-0-of-2%s", "");
  run_ok("run x.ini --shard 1/2 --out elsewhere/shard-1-of-2%s", "");
  run_ok("merge elsewhere/shard-0-of-2/ elsewhere/shard-1-of-2%s", "");
  snprintf(p, sizeof p, "%s/elsewhere/results.h5", dir);
  f = fopen(p, "rb");
  cr_assert_not_null(f, "%s was not written", p);
  fclose(f);
}
