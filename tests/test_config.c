/* Experiment files: sweeps expand as documented, and every kind of bad input is one
 * clear error naming where it is. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

/* The text as an experiment of the microcircuit (appended: line numbers stay). */
static void expect_error(const char *text, ap_status code, const char *must_contain) {
  char *full = malloc(strlen(text) + 64);
  sprintf(full, "%s\n[experiment]\nmodel = microcircuit\n", text);
  ApExperiment ex;
  ApError err = {{0}};
  ap_status st = th_try_experiment(&ex, full, &err);
  cr_assert_eq(st, code, "status %d (%s) for:\n%s", st, err.msg, full);
  cr_assert(strstr(err.msg, must_contain), "message '%s' lacks '%s'", err.msg, must_contain);
  cr_assert_null(strchr(err.msg, '\n'), "message spans lines: %s", err.msg);
  free(full);
}

/* The text as it is (no model added). */
static void expect_raw_error(const char *text, ap_status code, const char *must_contain) {
  ApExperiment ex;
  ApError err = {{0}};
  ap_status st = th_try_experiment(&ex, text, &err);
  cr_assert_eq(st, code, "status %d (%s) for:\n%s", st, err.msg, text);
  cr_assert(strstr(err.msg, must_contain), "message '%s' lacks '%s'", err.msg, must_contain);
  if (!st) config_free(&ex);
}

/* apical models NAME and docs/models/ give every number a unit ("1": dimensionless) */
Test(config, every_number_key_has_a_unit) {
  for (int mi = 0; mi < ap_model_count(); mi++) {
    const ApModel *m = ap_model_at(mi);
    cr_assert_not_null(m->unit, "%s has no unit function", m->name);
    for (int i = 0; i < m->n_keys; i++) {
      const ApKey *k = &m->keys[i];
      if (k->type != AP_KEY_REAL && k->type != AP_KEY_REALS) continue;
      const char *u = m->unit(k->name);
      cr_assert(u && *u, "%s: key %s has no unit", m->name, k->name);
    }
  }
}

Test(config, malformed_files_name_file_and_line) {
  expect_error("[model]\ngl 0.03\n", AP_ERR_CONFIG, "test.ini:2");
  expect_error("[model\ngl = 1\n", AP_ERR_CONFIG, "test.ini:1");
  expect_error("gl = 1\n", AP_ERR_CONFIG, "before any [section]");
  expect_error("[model]\n = 3\n", AP_ERR_CONFIG, "test.ini:2");
  expect_error("[model]\ngl = 0.1\ngl = 0.2\n", AP_ERR_CONFIG, "set twice");
}

Test(config, the_model_is_named_and_known) {
  expect_raw_error("", AP_ERR_CONFIG, "no [experiment] section");
  expect_raw_error("[train]\nepochs = 3\n", AP_ERR_CONFIG, "no [experiment] section");
  expect_raw_error("[experiment]\nname = x\n", AP_ERR_CONFIG, "[experiment] has no model key");
  expect_raw_error("[experiment]\nmodel = hopfield\n", AP_ERR_CONFIG,
                   "test.ini:2: model = hopfield: unknown model");
  expect_raw_error("[experiment]\nmodel = microcircuit\n", AP_OK, "");
}

/* MSTDP's keys: its readings by name, its fixed sizes checked against the data, and no
 * sample order to record. */
Test(config, mstdp_keys_sizes_and_what_it_cannot_record) {
  const char *ms = "[experiment]\nmodel = mstdp\ndataset = bars\n";
  char text[512];
  snprintf(text, sizeof text, "%s[model]\nclamp = hard\n", ms);
  expect_raw_error(text, AP_ERR_CONFIG, "expected one of step, momentum, step_eps");
  snprintf(text, sizeof text, "%s[model]\npixels = 9\nlabels = 3\n[sweep]\nhidden = 10, 20\n", ms);
  expect_raw_error(text, AP_ERR_CONFIG, "hidden cannot be swept");
  snprintf(text, sizeof text, "%s[model]\nlabels = 3\n", ms);
  expect_raw_error(text, AP_ERR_CONFIG, "the network takes 784 inputs and has 3 outputs");
  snprintf(text, sizeof text, "%s[output]\nrecord_order = true\n[model]\npixels = 9\nlabels = 3\n",
           ms);
  expect_raw_error(text, AP_ERR_CONFIG,
                   "test.ini:5: record_order: model mstdp keeps no per-record sample order");
  snprintf(text, sizeof text,
           "%s[model]\npixels = 9\nlabels = 3\nrule = pre\n[sweep]\nfree = eq1, frozen\n", ms);
  expect_raw_error(text, AP_OK, "");
}

Test(config, unknown_keys_and_sections) {
  expect_error("[model]\n\n# comment\ngll = 0.03\n", AP_ERR_CONFIG,
               "test.ini:4: unknown key 'gll'");
  expect_error("[modle]\ngl = 0.03\n", AP_ERR_CONFIG, "unknown section [modle]");
  expect_error("[sweep]\nepochs = 1, 2\n", AP_ERR_CONFIG, "cannot be swept");
  expect_error("[sweep]\nteacher = true, false\n", AP_ERR_CONFIG, "teacher cannot be swept");
  expect_error("[sweep]\ndims = [9, 30, 3]\n", AP_ERR_CONFIG, "dims cannot be swept");
}

Test(config, values_out_of_range_or_of_the_wrong_type) {
  expect_error("[model]\ngl = -1\n", AP_ERR_CONFIG, "gl = -1: must be >= 0");
  expect_error("[model]\ndt = 0\n", AP_ERR_CONFIG, "dt = 0: must be > 0");
  expect_error("[model]\nt_pres = 2.5\n", AP_ERR_CONFIG, "expected an integer");
  expect_error("[model]\ngb = fast\n", AP_ERR_CONFIG, "expected a number");
  expect_error("[model]\nvariant = new\n", AP_ERR_CONFIG, "expected one of original, le");
  expect_error("[train]\nteacher = maybe\n", AP_ERR_CONFIG, "expected true or false");
  expect_error("[train]\nepochs = 0\n", AP_ERR_CONFIG, "epochs = 0: must be in [1,");
  expect_error("[model]\nseed = -3\n", AP_ERR_CONFIG, "integer >= 0");
  expect_error("[model]\neta_up = 0.1\n", AP_ERR_CONFIG, "eta_up needs 2 values");
  expect_error("[model]\ndims = 9, 30, 3\neta_ip = 0.1, 0.2\n", AP_ERR_CONFIG,
               "eta_ip needs 1 value");
  expect_error("[model]\ndims = 9, 20, 20, 3\n", AP_ERR_CONFIG,
               "test.ini:2: give eta_up (3 values");
  expect_error("[model]\ndims = 9\n", AP_ERR_CONFIG, "dims needs 2 to 9 values, got 1");
  expect_error("[model]\ndims = 8, 30, 3\n", AP_ERR_CONFIG,
               "dataset bars has 9 inputs and 3 classes");
  expect_error("[model]\nt_pres = 10\nout_lag = 10\n", AP_ERR_CONFIG,
               "out_lag = 10 must be smaller");
  expect_error("[sweep]\nt_pres = 10, 3\nout_lag = 5\n", AP_ERR_CONFIG,
               "out_lag = 5 must be smaller");
  expect_error("[train]\nlearn_lag = 10\n[model]\nt_pres = 10\n", AP_ERR_CONFIG,
               "learn_lag = 10 must be smaller than t_pres = 10");
  expect_error("[experiment]\ndataset = cifar\n", AP_ERR_CONFIG,
               "test.ini:2: dataset = cifar: expected bars, idx or random");
}

Test(config, data_keys_must_be_read_by_the_dataset) {
  expect_error("[data]\ntrain_images = /nowhere\n", AP_ERR_CONFIG,
               "test.ini:2: [data] train_images is not read by dataset bars");
  expect_error("[experiment]\ndataset = random\n[data]\nmax_train = 3\n", AP_ERR_CONFIG,
               "not read by dataset random");
  expect_error("[experiment]\ndataset = idx\n[data]\nrandom_seed = 3\n", AP_ERR_CONFIG,
               "not read by dataset idx");
  expect_error("[data]\ncenter = true\n", AP_ERR_CONFIG,
               "test.ini:2: [data] center is not read by dataset bars");
}

Test(config, sweep_errors) {
  expect_error("[sweep]\nt_pres = 10, 20\nout_lag = 1, 2, 3\nzip = t_pres out_lag\n", AP_ERR_CONFIG,
               "zipped with");
  expect_error("[sweep]\nt_pres = 10, 20\nzip = t_pres gl\n", AP_ERR_CONFIG, "zip names 'gl'");
  expect_error("[sweep]\nseed = 5..2\n", AP_ERR_CONFIG, "empty range '5..2'");
  expect_error("[sweep]\nseed = 1..x\n", AP_ERR_CONFIG, "bad range");
  expect_error("[sweep]\nseed = 0..2000000\n", AP_ERR_CONFIG, "more than 1000000 values");
  expect_error("[sweep]\ngl = 0.1..0.3\n", AP_ERR_CONFIG, "only for integer keys");
  expect_error("[sweep]\ngl = 0.1, , 0.3\n", AP_ERR_CONFIG, "empty item");
  expect_error("[sweep]\ngl = 0.1, -2\n", AP_ERR_CONFIG, "test.ini:2: gl = -2");
}

Test(config, sweeps_expand_with_zips_subsweeps_and_seed_fastest) {
  ApExperiment ex;
  th_experiment(&ex, "[model]\ngl = 0.05\n"
                     "[sweep]\nseed = 1..3\nt_pres = 10, 20\neta_up = [1, 2], [3, 4]\n"
                     "zip = t_pres eta_up\n"
                     "[sweep.le]\nvariant = le\n"
                     "[sweep.orig]\nvariant = original\nout_lag = 4, 8\nzip = t_pres out_lag\n"
                     "gl = 0.07\n");
  cr_assert_eq(ex.n_replicas, 12);
  for (int r = 0; r < 12; r++) {
    const McParams *p = th_mc(&ex, r);
    int sub = r / 6, point = (r / 3) % 2;
    cr_assert_eq(p->seed, (uint64_t)(r % 3 + 1), "replica %d", r);
    cr_assert_eq(p->t_pres, point ? 20 : 10);
    cr_assert_eq(p->eta_up[0], point ? 3.0 : 1.0);
    cr_assert_eq(p->eta_up[1], point ? 4.0 : 2.0);
    cr_assert_eq(p->variant, sub ? MC_ORIGINAL : MC_LE);
    cr_assert_eq(p->out_lag, sub ? (point ? 8 : 4) : 0);
    cr_assert_eq(p->gl, sub ? 0.07 : 0.05); /* [sweep.NAME] sets a key for its replicas */
  }
  config_free(&ex);
}

Test(config, set_overrides_a_key_and_the_dump_round_trips) {
  Ini ini = {0};
  ApError err = {{0}};
  cr_assert_eq(
      ini_parse_text(
          &ini, "[experiment]\nmodel = microcircuit\n[train]\nepochs = 5\n[sweep]\nseed = 1, 2\n",
          "t.ini", &err),
      AP_OK);
  cr_assert_eq(ini_set(&ini, "train.epochs=7", &err), AP_OK);
  cr_assert_eq(ini_set(&ini, "sweep.seed = 3..6", &err), AP_OK);
  cr_assert_eq(ini_set(&ini, "model.gl=0.2", &err), AP_OK);
  cr_assert_eq(ini_set(&ini, "nodot=1", &err), AP_ERR_USAGE);
  ApExperiment ex;
  cr_assert_eq(config_build(&ex, &ini, "t.ini", &err), AP_OK, "%s", err.msg);
  cr_assert_eq(ex.epochs, 7);
  cr_assert_eq(ex.n_replicas, 4);
  cr_assert_eq(th_mc(&ex, 3)->seed, 6u);
  cr_assert_eq(((const McParams *)ex.base)->gl, 0.2);
  /* the dump is itself a valid experiment file that builds the same replicas */
  char *dump = config_dump(&ex);
  ApExperiment again;
  th_experiment(&again, dump);
  cr_assert_eq(again.n_replicas, ex.n_replicas);
  cr_assert_eq(memcmp(again.replicas, ex.replicas, sizeof(McParams) * (size_t)ex.n_replicas), 0);
  char *a = config_dump(&again);
  cr_assert_str_eq(a, dump);
  /* identity ignores epochs only */
  char *ia = config_identity(dump);
  again.epochs = 99;
  char *b = config_dump(&again), *ib = config_identity(b);
  cr_assert_str_eq(ia, ib);
  free(a), free(b), free(ia), free(ib), free(dump);
  config_free(&again);
  config_free(&ex);
  ini_free(&ini);
}

Test(config, values_of_any_length_are_taken_whole) {
  /* 2000 seeds in one --set (about 9000 characters) and 601 items in a sweep */
  Ini ini = {0};
  ApError err = {{0}};
  cr_assert_eq(ini_parse_text(&ini, "[experiment]\nmodel = microcircuit\n", "t.ini", &err), AP_OK);
  size_t n = 0, cap = 20000;
  char *set = malloc(cap);
  n += (size_t)snprintf(set, cap, "sweep.seed=");
  for (int i = 1; i <= 2000; i++)
    n += (size_t)snprintf(set + n, cap - n, "%s%d", i > 1 ? ", " : "", i);
  cr_assert_gt(n, 1200);
  cr_assert_eq(ini_set(&ini, set, &err), AP_OK, "%s", err.msg);
  ApExperiment ex;
  cr_assert_eq(config_build(&ex, &ini, "t.ini", &err), AP_OK, "%s", err.msg);
  cr_assert_eq(ex.n_replicas, 2000);
  cr_assert_eq(th_mc(&ex, 1999)->seed, 2000u);
  config_free(&ex);
  ini_free(&ini);
  free(set);
}

Test(config, overflowing_ranges_and_replica_counts_are_refused) {
  expect_error("[sweep]\nt_pres = -9223372036854775808..0\n", AP_ERR_CONFIG,
               "more than 1000000 values");
  expect_error("[sweep]\nseed = 0..18446744073709551615\n", AP_ERR_CONFIG, "bad range");
  expect_error("[sweep]\nseed = 1..1000\nt_pres = 1..1000\nout_lag = 0..999\n", AP_ERR_CONFIG,
               "more than 10000000 replicas");
  /* seven large axes whose product passes 2^63 */
  expect_error("[sweep]\nseed = 1..999999\ngl = 0.01, 0.02\nt_pres = 1..999999\nout_lag = 0..99\n"
               "gb = 0.1, 0.2\nga = 0.1, 0.2\ngsom = 0.1, 0.2\n",
               AP_ERR_CONFIG, "more than 10000000 replicas");
}

#include <time.h>
static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Work that once grew with the square of the file or the sweep: 20,000 sub-sweeps of three
 * keys each (60,000 entries; the duplicate check and the section scans took 34 s and 26 s)
 * and 200,000 replicas in 4 cohorts. Linear or n log n now: well under the bound on any
 * machine (the bound only catches a return of the quadratic behaviour). */
Test(config, large_files_and_sweeps_build_in_near_linear_time, .timeout = 120) {
  size_t cap = 4u << 20, n = 0;
  char *text = malloc(cap);
  n += (size_t)snprintf(text + n, cap - n, "[experiment]\nmodel = microcircuit\n");
  for (int i = 0; i < 20000; i++)
    n += (size_t)snprintf(text + n, cap - n, "[sweep.s%d]\nseed = %d\nt_pres = %d\ngl = 0.0%d\n", i,
                          i, 1 + i % 4, 1 + i % 9);
  ApExperiment ex;
  ApError err = {{0}};
  double t0 = seconds();
  cr_assert_eq(th_try_experiment(&ex, text, &err), AP_OK, "%s", err.msg);
  double t1 = seconds();
  cr_assert_eq(ex.n_replicas, 20000);
  int *cohort = malloc(sizeof(int) * 200000);
  cr_assert_eq(config_cohorts(&ex, cohort), 4);
  config_free(&ex);
  cr_assert_lt(t1 - t0, 10.0, "20,000 sub-sweeps took %.1f s", t1 - t0);

  th_experiment(&ex, "[sweep]\nseed = 1..50000\nt_pres = 5, 6, 7, 8\n");
  cr_assert_eq(ex.n_replicas, 200000);
  double t2 = seconds();
  cr_assert_eq(config_cohorts(&ex, cohort), 4);
  cr_assert_eq(cohort[0], 0);
  cr_assert_eq(cohort[199999], 3);
  cr_assert_lt(seconds() - t2, 5.0, "grouping 200,000 replicas took %.1f s", seconds() - t2);
  config_free(&ex);
  free(cohort);
  free(text);
}
