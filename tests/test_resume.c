/* Checkpoints: N epochs, checkpoint, M more == resume from the checkpoint for M epochs,
 * bit for bit; and a checkpoint only resumes the experiment that wrote it. */
#include "helpers.h"
#include "host/h5io.h"
#include "host/run.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *ini =
    "[experiment]\nname = resume\nmodel = microcircuit\ndataset = bars\n[train]\nepochs = 9\n"
    "[output]\ncheckpoint_every = 4\nkeep_checkpoints = 10\n"
    "[sweep]\nseed = 1..3\nt_pres = 7, 20\nvariant = le, original\n";

static void run(const char *text, const char *dir, int resume, ap_status want) {
  ApExperiment ex;
  ApError err = {{0}};
  th_experiment(&ex, text);
  RunOptions o = {"cpu", {.threads = 2}, dir, resume, 0, "test", 0};
  ap_status st = run_experiment(&ex, &o, &err);
  cr_assert_eq(st, want, "run_experiment returned %d: %s", st, err.msg);
  config_free(&ex);
}

static void load(const char *path, const ApExperiment *ex, float **state, Session *shape) {
  *state = malloc((size_t)ex->n_replicas * (size_t)ex->layout.n_floats * sizeof(float));
  ApError err = {{0}};
  char *dump = NULL;
  int done = 0;
  cr_assert_eq(ckpt_read(path, ex, *state, shape->series, &done, &dump, &err), AP_OK, "%s",
               err.msg);
  cr_assert_eq(done, ex->epochs);
  free(dump);
}

static void resume_case(const char *ini) {
  char a[256], b[256], path[512];
  th_tempdir(a, sizeof a);
  th_tempdir(b, sizeof b);
  run(ini, a, 0, AP_OK); /* 9 epochs straight (checkpoints at 4 and 8) */
  char *short_ini = malloc(strlen(ini) + 1);
  strcpy(short_ini, ini);
  memcpy(strstr(short_ini, "epochs = 9"), "epochs = 4", 10);
  run(short_ini, b, 0, AP_OK); /* 4 epochs */
  run(ini, b, 1, AP_OK);       /* resumed to 9 */
  free(short_ini);

  ApExperiment ex;
  th_experiment(&ex, ini);
  Session ma, mb; /* only their metrics arrays are used */
  ApError err = {{0}};
  cr_assert_eq(session_open(&ma, &ex, ap_backend_cpu(), NULL, &err), AP_OK);
  cr_assert_eq(session_open(&mb, &ex, ap_backend_cpu(), NULL, &err), AP_OK);
  float *sa, *sb;
  snprintf(path, sizeof path, "%s/checkpoints/epoch-000000009.h5", a);
  load(path, &ex, &sa, &ma);
  snprintf(path, sizeof path, "%s/checkpoints/epoch-000000009.h5", b);
  load(path, &ex, &sb, &mb);
  size_t n = (size_t)ex.n_replicas * (size_t)ma.lay->n_floats;
  cr_assert_eq(memcmp(sa, sb, n * sizeof(float)), 0, "states differ after resuming");
  /* the 4-epoch run ended with a test phase, which the straight run did not have there;
   * it tested from a copy of the state, so nothing else may differ */
  for (int r = 0; r < ex.n_replicas; r++) {
    cr_assert(isnan(th_series(&ma, "test_acc", r, 3, 0)));
    float acc = th_series(&mb, "test_acc", r, 3, 0);
    cr_assert(acc >= 0.0f && acc <= 1.0f, "test_acc %g after the 4-epoch run", acc);
    for (const char *const *name = (const char *const[]){"test_acc", "test_mse", NULL}; *name;
         name++)
      session_record(&mb, r, 3)[ap_layout_series(mb.lay, *name)->offset] = NAN;
  }
  size_t cells = (size_t)ex.n_replicas * (size_t)ex.epochs * (size_t)ma.lay->series_width;
  cr_assert_eq(memcmp(ma.series, mb.series, cells * sizeof(float)), 0,
               "series differ after resuming");
  /* the series really came from 9 trained epochs */
  for (int r = 0; r < ex.n_replicas; r++)
    for (int e = 0; e < ex.epochs; e++)
      cr_assert(th_series(&ma, "val_mse", r, e, 0) > 0, "epoch missing");
  free(sa);
  free(sb);
  session_close(&ma);
  session_close(&mb);
  config_free(&ex);
}

Test(resume, continuing_from_a_checkpoint_is_bit_identical) { resume_case(ini); }

/* LIF-STDP: the pending inputs, traces and weights in the checkpoint, and its raster (the
 * model's events): the raster window spans the checkpoint, and a resumed run continues
 * it to the same pairs as a straight run. */
Test(resume, lif_stdp_continues_bit_identical_raster_included) {
  const char *text = "[experiment]\nname = resume\nmodel = lif_stdp\n[train]\nepochs = 9\n"
                     "raster_ms = 35\n[output]\ncheckpoint_every = 4\nkeep_checkpoints = 10\n"
                     "[model]\nn_pyr = 40\nn_pv = 10\nlambda = 0.05\n[sweep]\nseed = 1, 2\n"
                     "topdown = on, off\n";
  char a[256], b[256], path[512];
  th_tempdir(a, sizeof a);
  th_tempdir(b, sizeof b);
  run(text, a, 0, AP_OK);
  char *short_text = malloc(strlen(text) + 1);
  strcpy(short_text, text);
  memcpy(strstr(short_text, "epochs = 9"), "epochs = 4", 10);
  run(short_text, b, 0, AP_OK);
  run(text, b, 1, AP_OK);
  free(short_text);
  ApExperiment ex;
  th_experiment(&ex, text);
  Session ma, mb;
  ApError err = {{0}};
  cr_assert_eq(session_open(&ma, &ex, ap_backend_cpu(), NULL, &err), AP_OK);
  cr_assert_eq(session_open(&mb, &ex, ap_backend_cpu(), NULL, &err), AP_OK);
  float *sa, *sb;
  uint32_t *ea, *eb;
  uint64_t *ta, *tb;
  snprintf(path, sizeof path, "%s/checkpoints/epoch-000000009.h5", a);
  load(path, &ex, &sa, &ma);
  cr_assert_eq(ckpt_read_events(path, &ex, &ea, &ta, &err), AP_OK, "%s", err.msg);
  snprintf(path, sizeof path, "%s/checkpoints/epoch-000000009.h5", b);
  load(path, &ex, &sb, &mb);
  cr_assert_eq(ckpt_read_events(path, &ex, &eb, &tb, &err), AP_OK, "%s", err.msg);
  size_t n = (size_t)ex.n_replicas * (size_t)ma.lay->n_floats;
  cr_assert_eq(memcmp(sa, sb, n * sizeof(float)), 0, "states differ after resuming");
  size_t cells = (size_t)ex.n_replicas * (size_t)ex.epochs * (size_t)ma.lay->series_width;
  cr_assert_eq(memcmp(ma.series, mb.series, cells * sizeof(float)), 0,
               "series differ after resuming");
  cr_assert_not_null(ea);
  cr_assert_not_null(eb);
  cr_assert_eq(memcmp(ta, tb, ((size_t)ex.n_replicas + 1) * sizeof *ta), 0,
               "raster lengths differ after resuming");
  for (int r = 0; r < ex.n_replicas; r++) {
    cr_assert(ta[r + 1] > ta[r], "replica %d: an empty raster, no test", r);
    /* spikes before and after the checkpoint (record 4 ends at step 200) */
    cr_assert(ea[2 * ta[r] + 1] < 200 && ea[2 * (ta[r + 1] - 1) + 1] >= 200,
              "replica %d's raster does not span the checkpoint", r);
  }
  cr_assert_eq(memcmp(ea, eb, ta[ex.n_replicas] * 2 * sizeof *ea), 0,
               "raster pairs differ after resuming");
  free(sa), free(sb), free(ea), free(eb), free(ta), free(tb);
  session_close(&ma);
  session_close(&mb);
  config_free(&ex);
}

/* the spikes in flight at a checkpoint and the draws after it (the counter) */
Test(resume, spiking_replicas_continue_bit_identical) {
  resume_case("[experiment]\nname = resume\nmodel = microcircuit\ndataset = bars\n"
              "[train]\nepochs = 9\n[output]\ncheckpoint_every = 4\nkeep_checkpoints = 10\n"
              "[model]\nneuron = poisson\ntau_dend = 0.3\n"
              "[sweep]\nseed = 1, 2\nt_pres = 7, 20\nt_ref = 0, 0.2\n");
}

/* Random draws in a sweep are stored as the items that make them: a resumed run draws the
 * same values again (the states continue bit for bit), its configuration compares equal to
 * the checkpoint's, and the results hold the values; another seed= is another experiment. */
static const char *random_ini =
    "[experiment]\nname = resume\nmodel = microcircuit\ndataset = bars\n[train]\nepochs = 9\n"
    "[output]\ncheckpoint_every = 4\nkeep_checkpoints = 10\n"
    "[sweep]\nseed = 1, 2\ngl = loguniform(0.02, 0.2, 2, seed=7)\nga = 0.5, uniform(0.5, 1, 1)\n"
    "zip = gl ga\n";

Test(resume, a_sweep_of_random_draws_resumes_with_the_same_values) {
  resume_case(random_ini);
  char b[256], path[512];
  th_tempdir(b, sizeof b);
  char *short_ini = malloc(strlen(random_ini) + 1);
  strcpy(short_ini, random_ini);
  memcpy(strstr(short_ini, "epochs = 9"), "epochs = 4", 10);
  run(short_ini, b, 0, AP_OK);
  free(short_ini);
  char *other = malloc(strlen(random_ini) + 1);
  strcpy(other, random_ini);
  memcpy(strstr(other, "seed=7"), "seed=8", 6);
  run(other, b, 1, AP_ERR_CONFIG);
  free(other);
  run(random_ini, b, 1, AP_OK);
  ApExperiment ex;
  th_experiment(&ex, random_ini);
  snprintf(path, sizeof path, "%s/results.h5", b);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert_geq(f, 0);
  for (const char *const *key = (const char *const[]){"gl", "ga", NULL}; *key; key++) {
    char name[64];
    snprintf(name, sizeof name, "replicas/%s", *key);
    double got[4];
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s", name);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got), 0);
    H5Dclose(d);
    for (int r = 0; r < 4; r++) {
      const McParams *p = th_mc(&ex, r);
      cr_assert_eq(got[r], !strcmp(*key, "gl") ? p->gl : p->ga, "%s of %d", name, r);
    }
  }
  H5Fclose(f);
  /* the draws themselves: distinct, in their ranges */
  cr_assert_neq(th_mc(&ex, 0)->gl, th_mc(&ex, 2)->gl);
  cr_assert(th_mc(&ex, 0)->gl >= 0.02 && th_mc(&ex, 2)->gl <= 0.2);
  cr_assert(th_mc(&ex, 2)->ga >= 0.5 && th_mc(&ex, 2)->ga <= 1.0 && th_mc(&ex, 2)->ga != 0.5);
  config_free(&ex);
}

Test(resume, refuses_another_experiments_checkpoint_and_an_occupied_directory) {
  char a[256];
  th_tempdir(a, sizeof a);
  run(ini, a, 0, AP_OK);
  run(ini, a, 0, AP_ERR_CANTCREAT); /* neither --resume nor --force */
  char *other = malloc(strlen(ini) + 32);
  sprintf(other, "%s[model]\ngl = 0.04\n", ini);
  run(other, a, 1, AP_ERR_CONFIG);
  free(other);
  char empty[256];
  th_tempdir(empty, sizeof empty);
  run(ini, empty, 1, AP_ERR_NOINPUT); /* nothing to resume */
}

Test(resume, a_corrupt_checkpoint_is_an_error_not_a_crash) {
  char a[256], path[512];
  th_tempdir(a, sizeof a);
  run(ini, a, 0, AP_OK);
  snprintf(path, sizeof path, "%s/checkpoints/epoch-000000099.h5", a);
  th_write(path, "not hdf5 at all", 15);
  /* resumes from the previous good checkpoint (the run's last, so it is done) */
  run(ini, a, 1, AP_OK);
  /* every checkpoint damaged: an error */
  for (int e = 0; e <= 9; e++) {
    snprintf(path, sizeof path, "%s/checkpoints/epoch-%09d.h5", a, e);
    th_write(path, "not hdf5 at all", 15);
  }
  run(ini, a, 1, AP_ERR_DATA);
}

/* A checkpoint of format 1 (before the model interface) is refused with exit 65 and what
 * to do, not misread. */
Test(resume, a_format_1_checkpoint_is_refused_clearly) {
  char a[256], path[512];
  th_tempdir(a, sizeof a);
  run(ini, a, 0, AP_OK);
  snprintf(path, sizeof path, "%s/checkpoints/epoch-000000099.h5", a);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, 18);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t at = H5Acreate2(f, "format", t, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(at, t, "apical-checkpoint");
  H5Aclose(at);
  long long one = 1;
  at = H5Acreate2(f, "format_version", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(at, H5T_NATIVE_LLONG, &one);
  H5Aclose(at);
  H5Sclose(s), H5Tclose(t), H5Fclose(f);
  ApExperiment ex;
  ApError err = {{0}};
  th_experiment(&ex, ini);
  RunOptions o = {"cpu", {.threads = 2}, a, 1, 0, "test", 0};
  cr_assert_eq(run_experiment(&ex, &o, &err), AP_ERR_DATA);
  /* format 1 carries no checksum (format 3 does): it is not damaged, so --resume does not
   * go back past it, and says what to do */
  cr_assert(strstr(err.msg, "epoch-000000099.h5: carries no checksum") &&
                strstr(err.msg, "before file format 3") && strstr(err.msg, "--force"),
            "%s", err.msg);
  config_free(&ex);
}
