/* A damaged file is never read as good (issue 25, item 2): every results file and
 * checkpoint carries a SHA-256 of itself (host/digest.h); --resume falls back past a
 * damaged checkpoint, saying so; merge refuses damaged shards and shards whose
 * attributes are out of range; the readers check every attribute before using it. */
#include "helpers.h"
#include "host/digest.h"
#include "host/h5io.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[256];
static void setup(void) { th_tempdir(dir, sizeof dir); }

static int apical(const char *args, char *err, size_t n) {
  return th_program(dir, NULL, APICAL_BINARY, args, err, n);
}

static void ok(const char *args) {
  char e[8192];
  int rc = apical(args, e, sizeof e);
  cr_assert_eq(rc, 0, "apical %s: exit %d: %s", args, rc, e);
}

static unsigned char *slurp(const char *rel, size_t *n) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  FILE *f = fopen(p, "rb");
  cr_assert_not_null(f, "cannot read %s", p);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n + 1);
  cr_assert_eq(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static void spit(const char *rel, const unsigned char *b, size_t n) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  th_write(p, b, n);
}

/* Flips every bit of one byte of a file. */
static void flip(const char *rel, size_t at) {
  size_t n;
  unsigned char *b = slurp(rel, &n);
  cr_assert_lt(at, n);
  b[at] ^= 0xff;
  spit(rel, b, n);
  free(b);
}

/* A file changed on purpose, its checksum written again: what a reader sees when the file
 * is sealed but its contents are not what apical writes. */
static void reseal(const char *rel) {
  size_t n;
  unsigned char *b = slurp(rel, &n);
  memset(b, 0, AP_DIGEST_BLOCK);
  digest_seal(b, n);
  spit(rel, b, n);
  free(b);
}

static void set_int_attr(const char *rel, const char *name, long long v) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert_geq(f, 0, "%s", p);
  hid_t a = H5Aopen(f, name, H5P_DEFAULT);
  cr_assert_geq(a, 0);
  cr_assert_geq(H5Awrite(a, H5T_NATIVE_LLONG, &v), 0);
  H5Aclose(a);
  H5Fclose(f);
  reseal(rel);
}

static int exists(const char *rel) {
  char p[512];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  return stat(p, &sb) == 0;
}

#define SMALL_E(E)                                                                                 \
  "[experiment]\nmodel = microcircuit\n[train]\nepochs = " #E "\n[output]\ncheckpoint_every = 2\n" \
  "keep_checkpoints = 9\n[model]\nt_pres = 10\n[sweep]\nseed = 1..3\nvariant = le, original\n"
#define SMALL SMALL_E(4)

/* The state and series of two checkpoints of SMALL run to 6 epochs are the same bits (the
 * written time and command differ). */
static void same_arrays(const char *a, const char *b) {
  ApExperiment ex;
  th_experiment(&ex, SMALL_E(6));
  size_t ns = (size_t)ex.n_replicas * (size_t)ex.layout.n_floats,
         nr = (size_t)ex.n_replicas * (size_t)ex.epochs * (size_t)ex.layout.series_width;
  float *s[2] = {calloc(ns, 4), calloc(ns, 4)}, *r[2] = {calloc(nr, 4), calloc(nr, 4)};
  int done[2];
  for (int i = 0; i < 2; i++) {
    char p[512], *dump = NULL;
    ApError err = {{0}};
    snprintf(p, sizeof p, "%s/%s", dir, i ? b : a);
    cr_assert_eq(ckpt_read(p, &ex, s[i], r[i], &done[i], &dump, &err), AP_OK, "%s", err.msg);
    free(dump);
  }
  cr_assert_eq(done[0], done[1]);
  cr_assert_eq(memcmp(s[0], s[1], ns * 4), 0, "%s and %s: the states differ", a, b);
  cr_assert_eq(memcmp(r[0], r[1], nr * 4), 0, "%s and %s: the series differ", a, b);
  free(s[0]), free(s[1]), free(r[0]), free(r[1]);
  config_free(&ex);
}

Test(integrity, the_checksum_is_sha256_of_the_bytes_after_the_block) {
  /* FIPS 180-4's examples */
  static const char *in[] = {"abc", "", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
  static const char *want[] = {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"};
  for (int i = 0; i < 3; i++) {
    ApSha256 c;
    unsigned char d[32];
    char hex[65];
    ap_sha256_init(&c);
    /* in two parts, so that the buffering is exercised */
    size_t n = strlen(in[i]);
    ap_sha256_update(&c, in[i], n / 3);
    ap_sha256_update(&c, in[i] + n / 3, n - n / 3);
    ap_sha256_final(&c, d);
    for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
    cr_assert_str_eq(hex, want[i], "sha256('%s')", in[i]);
  }
}

Test(integrity, a_damaged_checkpoint_is_refused_and_resume_falls_back_saying_so, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini", SMALL);
  ok("run x.ini --out whole --backend cpu --set train.epochs=6");
  ok("run x.ini --out a --backend cpu");
  /* the reader refuses the damaged file, naming it and what failed */
  flip("a/checkpoints/epoch-000000004.h5", 2652 + AP_DIGEST_BLOCK); /* a string attribute */
  char p[512];
  snprintf(p, sizeof p, "%s/a/checkpoints/epoch-000000004.h5", dir);
  ApError err = {{0}};
  cr_assert_eq(runfile_verify(p, &err), AP_ERR_DATA);
  cr_assert(strstr(err.msg, "epoch-000000004.h5: damaged") && strstr(err.msg, "SHA-256"), "%s",
            err.msg);
  /* --resume goes back to epoch 2, says so, and ends where an undisturbed run ends */
  int rc = apical("run x.ini --out a --backend cpu --resume --set train.epochs=6", e, sizeof e);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, e);
  cr_assert(strstr(e, "epoch-000000004.h5: damaged") &&
                strstr(e, "resuming from the previous good checkpoint") &&
                strstr(e, "epoch-000000002.h5"),
            "%s", e);
  cr_assert(exists("a/checkpoints/epoch-000000004.h5.damaged"), "the damaged file was not kept");
  same_arrays("whole/checkpoints/epoch-000000006.h5", "a/checkpoints/epoch-000000006.h5");
}

Test(integrity, every_checkpoint_damaged_is_exit_65_naming_the_newest, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini", SMALL);
  ok("run x.ini --out a --backend cpu");
  flip("a/checkpoints/epoch-000000000.h5", 4000);
  flip("a/checkpoints/epoch-000000002.h5", 3);   /* the checksum's own header */
  flip("a/checkpoints/epoch-000000004.h5", 100); /* the digest itself */
  int rc = apical("run x.ini --out a --backend cpu --resume --set train.epochs=6", e, sizeof e);
  cr_assert_eq(rc, 65, "exit %d: %s", rc, e);
  cr_assert(strstr(e, "epoch-000000004.h5: damaged"), "%s", e);
  /* nothing moved: the user decides */
  cr_assert(exists("a/checkpoints/epoch-000000004.h5") &&
            exists("a/checkpoints/epoch-000000000.h5"));
  /* a truncated file says so */
  size_t n;
  unsigned char *b = slurp("a/results.h5", &n);
  spit("a/results.h5", b, n - 10);
  free(b);
  char p[512];
  snprintf(p, sizeof p, "%s/a/results.h5", dir);
  ApError err = {{0}};
  cr_assert_eq(runfile_verify(p, &err), AP_ERR_DATA);
  cr_assert(strstr(err.msg, "truncated"), "%s", err.msg);
}

Test(integrity, a_file_without_the_checksum_is_refused_as_unverifiable, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini", SMALL);
  ok("run x.ini --out a --backend cpu");
  /* format 2's layout: the same HDF5 file with no user block */
  for (int k = 0; k <= 4; k += 2) {
    char rel[96];
    snprintf(rel, sizeof rel, "a/checkpoints/epoch-%09d.h5", k);
    size_t n;
    unsigned char *b = slurp(rel, &n);
    spit(rel, b + AP_DIGEST_BLOCK, n - AP_DIGEST_BLOCK);
    free(b);
  }
  int rc = apical("run x.ini --out a --backend cpu --resume --set train.epochs=6", e, sizeof e);
  cr_assert_eq(rc, 65, "exit %d: %s", rc, e);
  cr_assert(strstr(e, "carries no checksum"), "%s", e);
}

#define SHARDS                                                                                     \
  "[experiment]\nmodel = microcircuit\n[train]\nepochs = 2\n[model]\nt_pres = 5\n"                 \
  "[sweep]\nseed = 1..4\n"

Test(integrity, merge_refuses_damaged_shards_and_out_of_range_attributes, .init = setup) {
  char e[8192];
  th_file(dir, "x.ini", SHARDS);
  ok("run x.ini --shard 0/2 --out s0 --backend cpu");
  ok("run x.ini --shard 1/2 --out s1 --backend cpu");
  size_t n;
  unsigned char *good = slurp("s1/results.h5", &n);
  /* one flipped byte */
  flip("s1/results.h5", n / 2);
  cr_assert_eq(apical("merge s0 s1 --out m", e, sizeof e), 65, "%s", e);
  cr_assert(strstr(e, "s1/results.h5: damaged"), "%s", e);
  /* sealed, yet its numbers out of range (a double free and heap overflow before) */
  static const struct {
    const char *attr;
    long long v;
  } bad[] = {{"shard_index", 7},         {"shard_index", -1},     {"shard_count", 0},
             {"shard_index", 1LL << 40}, {"n_replicas_total", 1}, {"n_replicas", 1000},
             {"epochs_done", 99},        {"epochs", -5}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    spit("s1/results.h5", good, n);
    set_int_attr("s1/results.h5", bad[i].attr, bad[i].v);
    int rc = apical("merge s0 s1 --out m --force", e, sizeof e);
    cr_assert_eq(rc, 65, "%s = %lld: exit %d: %s", bad[i].attr, bad[i].v, rc, e);
    cr_assert(strstr(e, "out of range"), "%s = %lld: %s", bad[i].attr, bad[i].v, e);
  }
  spit("s1/results.h5", good, n);
  free(good);
  ok("merge s0 s1 --out m --force");
}

/* Attributes of the wrong type or shape (a sealed file) are refused, not read past. */
Test(integrity, attributes_of_the_wrong_type_or_shape_are_refused, .init = setup) {
  th_file(dir, "x.ini", SMALL);
  ok("run x.ini --out a --backend cpu");
  const char *rel = "a/checkpoints/epoch-000000004.h5";
  size_t n;
  unsigned char *good = slurp(rel, &n);
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  ApExperiment ex;
  th_experiment(&ex, SMALL);
  size_t ns = (size_t)ex.n_replicas * (size_t)ex.layout.n_floats,
         nr = (size_t)ex.n_replicas * (size_t)ex.epochs * (size_t)ex.layout.series_width;
  float *state = calloc(ns, 4), *series = calloc(nr, 4);
  for (int c = 0; c < 3; c++) {
    spit(rel, good, n);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    const char *name = c == 0 ? "experiment" : c == 1 ? "epochs_done" : "format";
    cr_assert_geq(H5Adelete(f, name), 0);
    hsize_t three = 3;
    hid_t s = H5Screate_simple(1, &three, NULL);
    /* "experiment" as 3 integers, "epochs_done" as 3 integers, "format" as 3 strings */
    hid_t t = H5Tcopy(c == 2 ? H5T_C_S1 : H5T_NATIVE_LLONG);
    if (c == 2) H5Tset_size(t, H5T_VARIABLE);
    hid_t a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    const char *strs[3] = {"apical-checkpoint", "x", "y"};
    long long ints[3] = {1, 2, 3};
    cr_assert_geq(H5Awrite(a, t, c == 2 ? (const void *)strs : (const void *)ints), 0);
    H5Aclose(a), H5Tclose(t), H5Sclose(s), H5Fclose(f);
    reseal(rel);
    char *dump = NULL;
    int done = 0;
    ApError err = {{0}};
    cr_assert_eq(ckpt_read(p, &ex, state, series, &done, &dump, &err), AP_ERR_DATA,
                 "%s of the wrong shape: %s", name, err.msg);
    free(dump);
  }
  free(state), free(series), free(good);
  config_free(&ex);
}
