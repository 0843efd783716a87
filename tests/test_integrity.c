/* A refused run changes nothing, values that would overflow are refused up front with
 * their bound, merge leaves live and unfinished runs alone, and the messages say the real
 * reason (issue 25). Through the apical program, as a user meets it. */
#include "helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static void setup(void) { th_tempdir(dir, sizeof dir); }

/* Runs `env apical args` in dir; returns the exit code, stderr in err. */
static int apical(const char *env, const char *args, char *err, size_t n) {
  return th_program(dir, env, APICAL_BINARY, args, err, n);
}

static int exists(const char *rel) {
  char p[512];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  return stat(p, &sb) == 0;
}

/* The names under dir/rel, sorted, one line each ("" where it does not exist). */
static void listing(const char *rel, char *out, size_t n) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  struct dirent **names;
  int k = scandir(p, &names, NULL, alphasort);
  out[0] = '\0';
  for (int i = 0; i < k; i++) {
    snprintf(out + strlen(out), n - strlen(out), "%s\n", names[i]->d_name);
    free(names[i]);
  }
  if (k >= 0) free(names);
}

#define MC "[experiment]\nmodel = microcircuit\n"
#define MS                                                                                         \
  "[experiment]\nmodel = mstdp\ndataset = random\n[data]\nrandom_samples = 20\n"                   \
  "[train]\nepochs = 1\npresentations = 2\ntest_samples = 5\ntrain_eval = 5\n"                     \
  "[model]\nhidden = 8\npixels = 16\nlabels = 4\niterations = 2\ncycles = 1\ntest_cycles = 1\n"
#define LIF "[experiment]\nmodel = lif_stdp\n[train]\nepochs = 2\n[model]\nn_pyr = 8\nn_pv = 2\n"

/* Values that only a later check refuses (the dataset, the kernel name, the raster's
 * length): with --force on a directory that holds a run, nothing of it is deleted, and a
 * fresh directory is not even created; --print-config and estimate refuse them alike. */
Test(integrity, a_refused_run_deletes_and_creates_nothing_force_included, .init = setup) {
  char e[4096], before[4096], after[4096], ck_before[4096], ck_after[4096];
  th_file(dir, "mc.ini", MC "[train]\nepochs = 2\n");
  th_file(dir, "ms.ini", MS);
  th_file(dir, "lif.ini", LIF);
  cr_assert_eq(apical(NULL, "run mc.ini --out D", e, sizeof e), 0, "%s", e);
  cr_assert(exists("D/results.h5"));
  listing("D", before, sizeof before);
  listing("D/checkpoints", ck_before, sizeof ck_before);
  const struct {
    const char *args;
    int code;
  } bad[] = {{"mc.ini --set train.val_samples=100", 78},
             {"mc.ini --cpu-kernel foo", 64},
             {"ms.ini --set train.test_samples=1000", 78},
             {"lif.ini --set train.record_ms=1e9", 78}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char args[512];
    snprintf(args, sizeof args, "run %s --out D --force", bad[i].args);
    cr_assert_eq(apical(NULL, args, e, sizeof e), bad[i].code, "%s: %s", args, e);
    listing("D", after, sizeof after);
    listing("D/checkpoints", ck_after, sizeof ck_after);
    cr_assert_str_eq(after, before, "%s changed the run directory", args);
    cr_assert_str_eq(ck_after, ck_before, "%s deleted checkpoints", args);
    snprintf(args, sizeof args, "run %s --out fresh", bad[i].args);
    cr_assert_eq(apical(NULL, args, e, sizeof e), bad[i].code, "%s: %s", args, e);
    cr_assert(!exists("fresh"), "%s created its directory", args);
    snprintf(args, sizeof args, "run %s --print-config", bad[i].args);
    cr_assert_eq(apical(NULL, args, e, sizeof e), bad[i].code, "%s: %s", args, e);
    snprintf(args, sizeof args, "estimate %s", bad[i].args);
    cr_assert_eq(apical(NULL, args, e, sizeof e), bad[i].code, "%s: %s", args, e);
  }
  /* the memory check too */
  cr_assert_eq(apical("APICAL_MEM_AVAILABLE=1000", "run mc.ini --out D --force", e, sizeof e), 71,
               "%s", e);
  listing("D", after, sizeof after);
  cr_assert_str_eq(after, before);
  cr_assert_eq(apical("APICAL_MEM_AVAILABLE=1000", "run mc.ini --print-config", e, sizeof e), 71,
               "%s", e);
}

/* Step counts, raster windows, record lengths, state sizes and fixed-point weights that
 * would overflow their integers are refused before anything runs, with the bound and the
 * place of the value; estimate agrees; the largest accepted value is accepted. */
Test(integrity, values_that_would_overflow_are_refused_with_their_bound, .init = setup) {
  char e[4096], args[512];
  th_file(dir, "lif.ini", LIF);
  th_file(dir, "ms.ini", MS);
  th_file(dir, "mcr.ini", "[experiment]\nmodel = microcircuit\ndataset = random\n[data]\n"
                          "random_samples = 4\n[model]\ndims = 100000, 30000, 3\n");
  const struct {
    const char *args, *bound;
  } bad[] = {
      {"lif.ini --set train.raster_ms=3e8", "at most 2147483647 steps"},
      {"lif.ini --set train.record_ms=1e9", "at most 2147483647 steps"},
      {"lif.ini --set train.record_ms=1e12", "at most 2147483647 steps"},
      {"lif.ini --set train.record_ms=214748364.8", "at most 2147483647 steps"},
      {"lif.ini --set train.raster_from_ms=1e300 --set train.raster_ms=1e300",
       "at most 2147483647 steps"},
      {"lif.ini --set model.t_ref=1e300", "at most 2147483647 steps"},
      {"lif.ini --set model.delay=1e6", "more than 2^31 - 1"},
      {"lif.ini --set model.w_l4pyr_l23pyr=3e9", "must be below 2^31 / 60"},
      {"lif.ini --set model.w_td_pv=-3e9", "must be below 2^31 / 60"},
      {"lif.ini --set model.wmax=1e7 --set model.w_bu_pyr=1", "wmax must be below"},
      {"ms.ini --set train.gen_samples=10000 --set model.pixels=1000000 --set model.labels=10000",
       "more than 2^31 - 1"},
      {"mcr.ini", "more than 2^31 - 1 floats"},
      {"lif.ini --set model.gl=1", "unknown key"}, /* (a control: the wrong model's key) */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    for (int est = 0; est < 2; est++) {
      snprintf(args, sizeof args, "%s %s --out D", est ? "estimate" : "run", bad[i].args);
      int rc = apical(NULL, args, e, sizeof e);
      cr_assert(rc == 78 || (i == sizeof bad / sizeof bad[0] - 1 && rc == 64), "%s: %d %s", args,
                rc, e);
      cr_assert(strstr(e, bad[i].bound), "%s: expected '%s' in: %s", args, bad[i].bound, e);
      cr_assert(!exists("D"), "%s created its directory", args);
    }
  }
  /* the place of the value: FILE:LINE, or the --set */
  th_file(dir, "long.ini", LIF "[train]\nrecord_ms = 1e12\n");
  cr_assert_eq(apical(NULL, "estimate long.ini", e, sizeof e), 78, "%s", e);
  cr_assert(strstr(e, "long.ini:9"), "%s", e);
  cr_assert_eq(apical(NULL, "run lif.ini --set train.raster_ms=3e8", e, sizeof e), 78);
  cr_assert(strstr(e, "--set train.raster_ms=3e8"), "%s", e);
  th_file(dir, "swept.ini", LIF "[sweep]\nt_ref = 2, 1e300\n");
  cr_assert_eq(apical(NULL, "run swept.ini --print-config", e, sizeof e), 78, "%s", e);
  cr_assert(strstr(e, "swept.ini:9") && strstr(e, "replica 1"), "%s", e);
  /* the bounds themselves are accepted */
  cr_assert_eq(apical(NULL, "run lif.ini --set train.raster_ms=214748364.7 --print-config", e,
                      sizeof e),
               0, "%s", e);
  cr_assert_eq(apical(NULL, "run lif.ini --set model.w_l4pyr_l23pyr=35791394 --print-config", e,
                      sizeof e),
               0, "%s", e);
}

/* A value past a key's maximum says so (not "must be >= 0"). */
Test(integrity, a_value_past_the_maximum_names_the_maximum, .init = setup) {
  char e[4096];
  th_file(dir, "mc.ini", MC);
  cr_assert_eq(apical(NULL, "run mc.ini --set model.gl=1e308 --print-config", e, sizeof e), 78);
  cr_assert(strstr(e, "gl = 1e308: must be at most 1e+300"), "%s", e);
  cr_assert_eq(apical(NULL, "run mc.ini --set model.gl=-1 --print-config", e, sizeof e), 78);
  cr_assert(strstr(e, "must be >= 0"), "%s", e);
}
