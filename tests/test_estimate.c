/* apical estimate and run's memory check (host/estimate.h): the counts and the memory of a
 * known experiment against sizes worked out here from its layout; the CPU cohorts' memory
 * against what cohort_create really allocates (so the two cannot drift apart); the
 * program: nothing written by an estimate, a run refused before it creates anything when
 * its memory does not fit, and the help texts. */
#define _GNU_SOURCE /* mallinfo2 */
#include "helpers.h"

#include "host/estimate.h"
#include "host/mem.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 2 t_pres (the microcircuit's cohort key) x 2 variants x 3 seeds = 12 replicas in 2
 * cohorts of 6, on Bars (8 training samples, 8 validation samples shown) */
#define KNOWN                                                                                      \
  "[experiment]\nname = known\nmodel = microcircuit\ndataset = bars\n[train]\nepochs = 7\n"        \
  "val_samples = 8\n[model]\ndims = 9, 30, 3\n[sweep]\nt_pres = 5, 20\nvariant = le, original\n"   \
  "seed = 1..3\n"

static ApData bars_data(ApDataset *ds) {
  ApError err = {{0}};
  cr_assert_eq(ds_bars(ds, &err), AP_OK, "%s", err.msg);
  return ds_view(ds);
}

Test(estimate, counts_work_and_memory_of_a_known_experiment_match_the_hand_computation) {
  ApExperiment ex;
  th_experiment(&ex, KNOWN);
  ApDataset ds;
  ApData data = bars_data(&ds);
  ApExec exec = {.threads = 2};
  Estimate e;
  ApError err = {{0}};
  cr_assert_eq(est_build(&e, &ex, &data, &exec, &err), AP_OK, "%s", err.msg);

  cr_assert_eq(ex.n_replicas, 12);
  cr_assert_eq(e.n_cohorts, 2);
  cr_assert_eq(e.cohorts[0].n, 6);
  cr_assert_eq(e.cohorts[1].n, 6);
  cr_assert_eq(th_mc(&ex, e.cohorts[0].first)->t_pres, 5);
  cr_assert_eq(th_mc(&ex, e.cohorts[1].first)->t_pres, 20);
  /* a record: t_pres steps for each of 8 training and 8 validation samples */
  cr_assert_float_eq(e.cohorts[0].steps_per_record, 6.0 * 5 * 16, 1e-9);
  cr_assert_float_eq(e.cohorts[1].steps_per_record, 6.0 * 20 * 16, 1e-9);
  cr_assert_float_eq(e.replica_steps, 7.0 * 6 * 16 * (5 + 20), 1e-6);

  /* Bars 9-30-3 has 630 weights (W_up 30x9 and 3x30, W_down, W_pi 30x3, W_ip 3x30) */
  cr_assert_eq(ap_layout_weights(&ex.layout), 630);
  double R = 12, E = 7, nf = ex.layout.n_floats, F = ex.layout.series_width;
  const EstHost *h = &e.host[EST_CPU];
  cr_assert_float_eq(h->state, (R + 6) * nf * 4, 1e-6, "the state and the largest cohort's stage");
  cr_assert_float_eq(h->series, R * E * F * 4, 1e-6);
  /* Bars: 8 images of 9 floats and 8 labels; validation = training */
  cr_assert_float_eq(h->dataset, 8.0 * (9 * 4 + 4), 1e-9);
  /* the checkpoint holds at least the state and the series, and is written from a copy */
  cr_assert_geq(h->files, 2 * (R * nf * 4 + R * E * F * 4));
  cr_assert_float_eq(h->total,
                     h->state + h->series + h->tables + h->dataset + h->files + h->backend, 1e-6);
  /* the CPU's lane blocks: a cohort of 6 is one block of 16 lanes */
  cr_assert_geq(h->backend, 2 * nf * 16 * 4);

  /* CUDA: each cohort on the device in one part (6 replicas rounded up to a warp), every
   * array of mc_cuda.cu per replica, and the dataset's copy */
  McWork wo;
  McDims dims = mc_dims(th_mc(&ex, 0));
  mc_work_init(&wo, &dims);
  double per = sizeof(McConst) + nf * 4 /* state, record/kept within */ +
               wo.n_rows * 4.0 /* work */ + 8 * 4 /* sample order */ +
               256 * F * 4 /* a launch's series */;
  double data_copy = (8 * 9 * 4 + 1) + (8 * 4 + 1);
  cr_assert_float_eq(e.device_data, data_copy, 1e-9);
  cr_assert_float_eq(e.device, 2 * (sizeof(McLayout) + 32 * per) + data_copy, 1e-6);
  cr_assert_float_eq(e.device_min, e.device, 1e-6, "a cohort of 6 has one part");
  est_free(&e);
  ds_free(&ds);
  config_free(&ex);
}

Test(estimate, a_cuda_cohort_too_big_for_one_part_runs_in_parts_of_a_warp) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\nmodel = microcircuit\n[model]\ndims = 9, 30, 3\n"
                     "[sweep]\nseed = 1..100\n");
  ApDataset ds;
  ApData data = bars_data(&ds);
  ApExec exec = {.threads = 1};
  Estimate e;
  ApError err = {{0}};
  cr_assert_eq(est_build(&e, &ex, &data, &exec, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(e.n_cohorts, 1);
  const ApCohortMem *m = &e.cohorts[0].mem[EST_CUDA];
  double per = (m->device - sizeof(McLayout)) / 128; /* 100 replicas: 4 warps */
  cr_assert_gt(per, 0);
  cr_assert_float_eq(m->device_min, sizeof(McLayout) + 32 * per, 1e-6);
  est_free(&e);
  ds_free(&ds);
  config_free(&ex);
}

/* ---- the CPU cohorts' memory against their allocations ------------------------------------- */

static double heap_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return (double)mi.uordblks + (double)mi.hblkhd;
}

/* Creates every cohort of ex on the CPU, runs a record, and compares the heap's growth
 * with the memory the model says the cohorts keep (their host part; the work arrays are
 * gone again after the record). */
static void check_cpu_cohorts(const char *ini, double slack) {
  /* AddressSanitizer's allocator is not malloc's: mallinfo2 then sees nothing to measure */
  double probe = heap_bytes();
  void *block = malloc(1 << 16);
  cr_assert_not_null(block);
  memset(block, 1, 1 << 16);
  probe = heap_bytes() - probe;
  free(block);
  if (probe < (1 << 15)) cr_skip_test("the heap is not glibc's malloc (a sanitizer build?)");
  ApExperiment ex;
  th_experiment(&ex, ini);
  ApDataset ds;
  ApError err = {{0}};
  cr_assert_eq(session_load_dataset(&ex, &ds, &err), AP_OK, "%s", err.msg);
  ApData data = ds_view(&ds);
  ApExec exec = {.threads = 2};
  Estimate e;
  cr_assert_eq(est_build(&e, &ex, &data, &exec, &err), AP_OK, "%s", err.msg);
  const ApModelImpl *impl = ex.model->impl("cpu");
  size_t psz = ex.model->params_size;
  for (int c = 0; c < e.n_cohorts; c++) {
    int n = 0;
    char *params = malloc((size_t)e.cohorts[c].n * psz);
    int *rows = malloc((size_t)e.cohorts[c].n * sizeof *rows);
    int *cohort_of = malloc((size_t)ex.n_replicas * sizeof *cohort_of);
    config_cohorts(&ex, cohort_of);
    for (int r = 0; r < ex.n_replicas; r++)
      if (cohort_of[r] == c)
        memcpy(params + (size_t)n * psz, config_params(&ex, r), psz), rows[n++] = r;
    for (int k = 0; k < n; k++) rows[k] = k; /* the series below holds this cohort only */
    ApCohortSpec spec = {params, n, rows, &data, &ex.layout, exec, ex.epochs, 1};
    size_t nf = (size_t)ex.layout.n_floats, F = (size_t)ex.layout.series_width;
    float *state = malloc((size_t)n * nf * sizeof *state),
          *series = malloc((size_t)n * (size_t)ex.epochs * F * sizeof *series);
    cr_assert(state && series);
    for (int k = 0; k < n; k++)
      ex.model->init(state + (size_t)k * nf, params + (size_t)k * psz, &data);
    ApSeriesBuf out = {series, ex.epochs, (int)F};
    double grew = 0, said = e.cohorts[c].mem[EST_CPU].host;
    for (int pass = 0; pass < 2; pass++) { /* the second: OpenMP's own set up once */
      ApCohort *co = NULL;
      double before = heap_bytes();
      cr_assert_eq(impl->cohort_create(&spec, &co, &err), AP_OK, "%s", err.msg);
      cr_assert_eq(impl->state_set(co, state, &err), AP_OK, "%s", err.msg);
      cr_assert_eq(impl->run(&co, 1, (ApPos){0, 0}, (ApPos){1, 0}, &out, NULL, &err), AP_OK, "%s",
                   err.msg);
      grew = heap_bytes() - before;
      impl->cohort_destroy(co);
    }
    free(state), free(series);
    /* malloc's headers, and a few kB that a run leaves in malloc's caches for a while */
    cr_assert(fabs(grew - said) <= slack * said + 64.0 * n + 8192,
              "%s cohort %d: allocated %.0f bytes, the estimate says %.0f", ex.model->name, c, grew,
              said);
    free(params), free(rows), free(cohort_of);
  }
  est_free(&e);
  ds_free(&ds);
  config_free(&ex);
}

Test(estimate, the_microcircuit_lane_blocks_take_what_the_estimate_says) {
  check_cpu_cohorts(KNOWN, 0.01);
}

Test(estimate, the_microcircuit_wide_path_takes_what_the_estimate_says) {
  /* 784-20-10 takes the wide path (a product over 64 inputs or more) */
  check_cpu_cohorts("[experiment]\nmodel = microcircuit\ndataset = random\n[data]\n"
                    "random_samples = 50\n[model]\ndims = 784, 20, 10\n[sweep]\nseed = 1..3\n",
                    0.01);
}

Test(estimate, mstdp_replicas_take_what_the_estimate_says) {
  check_cpu_cohorts("[experiment]\nmodel = mstdp\ndataset = bars\n[train]\npresentations = 1\n"
                    "test_samples = 0\ntrain_eval = 0\n[model]\npixels = 9\nlabels = 3\n"
                    "hidden = 40\n[sweep]\nseed = 1..5\n",
                    0.01);
}

Test(estimate, lif_networks_stay_within_the_estimate) {
  /* the estimate bounds the random synapse counts (5 sigma) instead of drawing them */
  check_cpu_cohorts("[experiment]\nmodel = lif_stdp\n[train]\nrecord_ms = 5\n[model]\n"
                    "n_pyr = 40\nn_pv = 10\n[sweep]\nseed = 1..3\n",
                    0.05);
}

/* ---- the program ---------------------------------------------------------------------------- */

static char dir[256];
static void setup(void) { th_tempdir(dir, sizeof dir); }

static int apical(const char *env, const char *args, char *err_text, size_t n) {
  return th_program(dir, env, APICAL_BINARY, args, err_text, n);
}

static char *read_out(void) {
  static char buf[1 << 16];
  char p[512];
  snprintf(p, sizeof p, "%s/stdout", dir);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int exists(const char *name) {
  char p[512];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &sb) == 0;
}

/* The estimate's line that starts with key (after the indent), or "". */
static const char *line_of(const char *out, const char *key, char *buf, size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "\n  %s", key);
  const char *at = strstr(out, pat);
  buf[0] = '\0';
  if (at) snprintf(buf, n, "%.*s", (int)strcspn(at + 1, "\n"), at + 1);
  return buf;
}

Test(estimate_cli, prints_the_counts_and_writes_nothing, .init = setup) {
  char e[4096], l[1024];
  th_file(dir, "known.ini", KNOWN);
  cr_assert_eq(apical(NULL, "estimate known.ini --threads 1", e, sizeof e), 0, "%s", e);
  const char *out = read_out();
  cr_assert(strstr(out, "12 in 2 cohorts (replicas with equal t_pres, neuron share a schedule)"),
            "%s", out);
  cr_assert(strstr(out, "t_pres") && strstr(out, "      6  5 "), "%s", out);
  cr_assert(strstr(line_of(out, "work", l, sizeof l),
                   "7 epochs of 2.4e+03 replica-steps: 1.68e+04 replica-steps"),
            "%s", out);
  cr_assert(strstr(out, "host memory") && strstr(out, "device memory") && strstr(out, "fits"), "%s",
            out);
  cr_assert(strstr(line_of(out, "calibration", l, sizeof l), "cpu, 1 thread"), "%s", out);
  cr_assert(strstr(line_of(out, "wall time", l, sizeof l), "about "), "%s", out);
  cr_assert(!exists("runs"), "the estimate created the run directory");
  /* an explicit --out is named, not created */
  cr_assert_eq(apical(NULL, "estimate known.ini --out there --threads 1", e, sizeof e), 0, "%s", e);
  cr_assert(strstr(read_out(), "the run would write there; nothing was written"), "%s", read_out());
  cr_assert(!exists("there"));

  /* run --dry-run prints the same estimate (the calibration's times aside) */
  char first[1024];
  snprintf(first, sizeof first, "%s", line_of(out, "host memory", l, sizeof l));
  cr_assert_eq(apical(NULL, "run known.ini --dry-run --threads 1", e, sizeof e), 0, "%s", e);
  out = read_out();
  cr_assert_str_eq(line_of(out, "host memory", l, sizeof l), first);
  cr_assert(strstr(out, "12 in 2 cohorts"), "%s", out);
  cr_assert(!exists("runs"), "run --dry-run created the run directory");
}

Test(estimate_cli, run_refuses_a_run_whose_memory_does_not_fit_before_creating_anything,
     .init = setup) {
  char e[4096];
  th_file(dir, "known.ini", KNOWN);
  /* the need, as the program computes it (all cores: the program's default threads) */
  ApExperiment ex;
  th_experiment(&ex, KNOWN);
  ApDataset ds;
  ApData data = bars_data(&ds);
  ApExec exec = {.threads = 0};
  Estimate est;
  ApError err = {{0}};
  cr_assert_eq(est_build(&est, &ex, &data, &exec, &err), AP_OK, "%s", err.msg);
  double need = est.host[EST_CPU].total, image = est.file_image;
  est_free(&est);
  ds_free(&ds);
  config_free(&ex);

  char env[128], need_text[32];
  mem_format(need_text, sizeof need_text, need);
  snprintf(env, sizeof env, "APICAL_MEM_AVAILABLE=%.0f", floor(need) - 1);
  cr_assert_eq(apical(env, "run known.ini --backend cpu", e, sizeof e), 71, "%s", e);
  cr_assert(strchr(e, '\n') == e + strlen(e) - 1, "one line: %s", e);
  cr_assert(strstr(e, need_text) && strstr(e, "are available (APICAL_MEM_AVAILABLE)"), "%s", e);
  cr_assert(strstr(e, "--no-memory-check"), "%s", e);
  cr_assert(!exists("runs"), "the refused run created its directory");
  /* the estimate says so too, and exits 0 */
  cr_assert_eq(apical(env, "estimate known.ini --threads 1", e, sizeof e), 0, "%s", e);
  cr_assert(strstr(read_out(), "fits          the run needs about"), "%s", read_out());
  /* the escape hatch */
  cr_assert_eq(apical(env, "run known.ini --backend cpu --no-memory-check", e, sizeof e), 0, "%s",
               e);
  cr_assert(exists("runs/known/results.h5"));
  /* the files' image in memory was estimated from the layout: the larger file, within 50% */
  struct stat a, b;
  char pa[600], pb[600];
  snprintf(pa, sizeof pa, "%s/runs/known/results.h5", dir);
  snprintf(pb, sizeof pb, "%s/runs/known/checkpoints/epoch-000000007.h5", dir);
  cr_assert(stat(pa, &a) == 0 && stat(pb, &b) == 0);
  double larger = a.st_size > b.st_size ? (double)a.st_size : (double)b.st_size;
  cr_assert(image >= larger && image <= 1.5 * larger, "file image %.0f, the larger file %.0f",
            image, larger);
  /* exactly enough is enough */
  snprintf(env, sizeof env, "APICAL_MEM_AVAILABLE=%.0f", ceil(need));
  cr_assert_eq(apical(env, "run known.ini --backend cpu --force", e, sizeof e), 0, "%s", e);
}

Test(estimate_cli, help_texts_and_usage_errors, .init = setup) {
  char e[4096];
  cr_assert_eq(apical(NULL, "--help", e, sizeof e), 0);
  cr_assert(strstr(read_out(), "apical estimate FILE.ini"), "%s", read_out());
  cr_assert_eq(apical(NULL, "estimate --help", e, sizeof e), 0);
  const char *out = read_out();
  cr_assert(strstr(out, "usage: apical estimate FILE.ini") && strstr(out, "--no-memory-check") &&
                strstr(out, "APICAL_MEM_AVAILABLE") && strstr(out, "MemAvailable"),
            "%s", out);
  cr_assert_eq(apical(NULL, "run --help", e, sizeof e), 0);
  out = read_out();
  cr_assert(strstr(out, "--dry-run") && strstr(out, "--no-memory-check"), "%s", out);
  cr_assert_eq(apical(NULL, "estimate", e, sizeof e), 64);
  cr_assert(strstr(e, "estimate needs an experiment file"), "%s", e);
  th_file(dir, "known.ini", KNOWN);
  cr_assert_eq(apical(NULL, "estimate known.ini --resume", e, sizeof e), 64, "%s", e);
  cr_assert_eq(apical(NULL, "run known.ini --dry-run --resume", e, sizeof e), 64, "%s", e);
  cr_assert_eq(apical(NULL, "estimate nothing.ini", e, sizeof e), 66, "%s", e);
  cr_assert(!exists("runs"));
}

/* The calibration runs a cut-down copy (fewer samples per record, on mstdp also fewer
 * presentations and no periodic read-outs), in the run's layout, and extrapolates from
 * what it measured. */
Test(estimate, the_calibration_cuts_records_and_extrapolates_from_what_it_ran) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\nmodel = mstdp\ndataset = random\n[data]\nrandom_samples = 400\n"
                     "[train]\nepochs = 50\npresentations = 400\ntest_samples = 100\n"
                     "train_eval = 50\nfull_test_every = 2\ngen_samples = 2\ngen_every = 3\n"
                     "[model]\npixels = 9\nlabels = 3\nhidden = 16\n[sweep]\nseed = 1..3\n");
  ApDataset ds;
  ApError err = {{0}};
  cr_assert_eq(session_load_dataset(&ex, &ds, &err), AP_OK, "%s", err.msg);
  ApData data = ds_view(&ds);
  ApExec exec = {.threads = 1};
  Estimate e;
  cr_assert_eq(est_build(&e, &ex, &data, &exec, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(est_calibrate(&e, &data, ap_backend_cpu(), &exec, 0.3, &err), AP_OK, "%s", err.msg);
  const EstCalibration *c = &e.cal;
  cr_assert(c->done);
  cr_assert_eq(c->replicas, 3);
  cr_assert_geq(c->records, 1);
  cr_assert(c->fraction > 0 && c->fraction <= 1, "%g", c->fraction);
  if (c->fraction < 1) cr_assert_lt(c->n_train, 400);
  cr_assert_gt(c->steps, 0);
  cr_assert(c->n_seconds >= 1 && c->seconds[0] > 0);
  double mean = c->n_seconds == 2 ? (c->seconds[0] + c->seconds[1]) / 2 : c->seconds[0];
  cr_assert_float_eq(c->rate, c->steps / mean, 1e-6 * c->rate);
  cr_assert_float_eq(c->wall_s, e.replica_steps / c->rate, 1e-6 * c->wall_s);
  cr_assert_lt(c->took_s, 3.0, "the calibration took %.1f s of a 0.3 s budget", c->took_s);
  est_free(&e);
  ds_free(&ds);
  config_free(&ex);
}
