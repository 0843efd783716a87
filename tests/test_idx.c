/* The IDX reader on tiny files made here (raw and gzip): values, and every malformation. */
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

static char dir[256];

static void setup(void) { th_tempdir(dir, sizeof dir); }

/* An IDX file: type 0x08, the given dims, then data. */
static void write_idx(const char *name, int gz, int rank, const unsigned *dims,
                      const unsigned char *data, size_t n_data, size_t cut) {
  unsigned char buf[4096];
  size_t n = 0;
  buf[n++] = 0, buf[n++] = 0, buf[n++] = 0x08, buf[n++] = (unsigned char)rank;
  for (int i = 0; i < rank; i++) {
    buf[n++] = (unsigned char)(dims[i] >> 24), buf[n++] = (unsigned char)(dims[i] >> 16);
    buf[n++] = (unsigned char)(dims[i] >> 8), buf[n++] = (unsigned char)dims[i];
  }
  memcpy(buf + n, data, n_data);
  n += n_data;
  n -= cut;
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (gz) {
    gzFile f = gzopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(gzwrite(f, buf, (unsigned)n), (int)n);
    gzclose(f);
  } else {
    th_write(path, buf, n);
  }
}

static ap_status load(ApDataset *ds, const char *ti, const char *tl, const char *vi, const char *vl,
                      ApError *err) {
  char p[4][512];
  snprintf(p[0], 512, "%s/%s", dir, ti);
  snprintf(p[1], 512, "%s/%s", dir, tl);
  snprintf(p[2], 512, "%s/%s", dir, vi);
  snprintf(p[3], 512, "%s/%s", dir, vl);
  return ds_idx(ds, p[0], p[1], p[2], p[3], 0, 0, err);
}

static const unsigned img_dims[3] = {3, 2, 2}, lab_dims[1] = {3};
static const unsigned char pixels[12] = {0, 255, 51, 102, 1, 2, 3, 4, 250, 251, 252, 253};
static const unsigned char labels[3] = {4, 0, 9};

Test(idx, reads_raw_and_gzip_files, .init = setup) {
  write_idx("ti.gz", 1, 3, img_dims, pixels, 12, 0);
  write_idx("tl.gz", 1, 1, lab_dims, labels, 3, 0);
  write_idx("vi", 0, 3, img_dims, pixels, 12, 0);
  write_idx("vl", 0, 1, lab_dims, labels, 3, 0);
  ApDataset ds;
  ApError err = {{0}};
  cr_assert_eq(load(&ds, "ti.gz", "tl.gz", "vi", "vl", &err), AP_OK, "%s", err.msg);
  cr_assert_eq(ds.n_in, 4);
  cr_assert_eq(ds.n_train, 3);
  cr_assert_eq(ds.n_val, 3);
  cr_assert_eq(ds.n_classes, 10);
  cr_assert_float_eq(ds.x_train[1], 1.0f, 0);
  cr_assert_float_eq(ds.x_train[2], 0.2f, 1e-7);
  cr_assert_float_eq(ds.x_val[11], 253 / 255.0f, 1e-7);
  cr_assert_eq(ds.y_train[0], 4);
  cr_assert_eq(ds.y_val[2], 9);
  ds_free(&ds);
  /* at most max_train samples */
  char p[4][512];
  snprintf(p[0], 512, "%s/ti.gz", dir), snprintf(p[1], 512, "%s/tl.gz", dir);
  snprintf(p[2], 512, "%s/vi", dir), snprintf(p[3], 512, "%s/vl", dir);
  cr_assert_eq(ds_idx(&ds, p[0], p[1], p[2], p[3], 2, 1, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(ds.n_train, 2);
  cr_assert_eq(ds.n_val, 1);
  ds_free(&ds);
}

/* [data] center: each pixel's training mean leaves the training and the test images; a
 * pixel dark in every training image stays 0. */
Test(idx, center_subtracts_each_pixels_training_mean, .init = setup) {
  static const unsigned char train[12] = {0, 255, 51, 102, 0, 2, 3, 4, 0, 251, 252, 0};
  static const unsigned char test[8] = {0, 0, 0, 0, 255, 255, 255, 255};
  static const unsigned test_dims[3] = {2, 2, 2}, test_lab_dims[1] = {2};
  write_idx("ti", 0, 3, img_dims, train, 12, 0);
  write_idx("tl", 0, 1, lab_dims, labels, 3, 0);
  write_idx("vi", 0, 3, test_dims, test, 8, 0);
  write_idx("vl", 0, 1, test_lab_dims, labels, 2, 0);
  ApDataset ds;
  ApError err = {{0}};
  cr_assert_eq(load(&ds, "ti", "tl", "vi", "vl", &err), AP_OK, "%s", err.msg);
  ds_center(&ds);
  for (int j = 0; j < 4; j++) {
    double mean = (train[j] + train[4 + j] + train[8 + j]) / 3.0 / 255.0, sum = 0;
    for (int s = 0; s < 3; s++) {
      cr_assert_float_eq(ds.x_train[s * 4 + j], train[s * 4 + j] / 255.0 - mean, 1e-6,
                         "train %d pixel %d", s, j);
      sum += ds.x_train[s * 4 + j];
    }
    cr_assert(fabs(sum) < 1e-6, "pixel %d: the centred training images sum to %g", j, sum);
    for (int s = 0; s < 2; s++)
      cr_assert_float_eq(ds.x_val[s * 4 + j], test[s * 4 + j] / 255.0 - mean, 1e-6,
                         "test %d pixel %d", s, j);
  }
  cr_assert_eq(ds.x_train[0], 0.0f);
  cr_assert_eq(ds.x_val[4], 1.0f); /* pixel 0's mean is 0 */
  ds_free(&ds);
}

static void expect(const char *ti, const char *tl, ap_status code, const char *text) {
  ApDataset ds;
  ApError err = {{0}};
  ap_status st = load(&ds, ti, tl, "vi", "vl", &err);
  cr_assert_eq(st, code, "status %d: %s", st, err.msg);
  cr_assert(strstr(err.msg, text), "message '%s' lacks '%s'", err.msg, text);
}

Test(idx, rejects_malformed_files, .init = setup) {
  write_idx("vi", 0, 3, img_dims, pixels, 12, 0);
  write_idx("vl", 0, 1, lab_dims, labels, 3, 0);
  write_idx("tl", 0, 1, lab_dims, labels, 3, 0);
  write_idx("short", 0, 3, img_dims, pixels, 12, 5); /* 5 bytes missing */
  expect("short", "tl", AP_ERR_DATA, "truncated");
  write_idx("shortgz", 1, 3, img_dims, pixels, 12, 5);
  expect("shortgz", "tl", AP_ERR_DATA, "truncated");
  expect("missing", "tl", AP_ERR_NOINPUT, "missing");
  expect("tl", "tl", AP_ERR_DATA, "1 dimensions, expected 3");
  char path[512];
  snprintf(path, sizeof path, "%s/text", dir);
  th_write(path, "P5 not idx", 10);
  expect("text", "tl", AP_ERR_DATA, "not an IDX file");
  snprintf(path, sizeof path, "%s/head", dir);
  th_write(path, "\0\0\x08", 3);
  expect("head", "tl", AP_ERR_DATA, "truncated IDX header");
  unsigned char f32[4] = {0, 0, 0x0d, 3};
  snprintf(path, sizeof path, "%s/float", dir);
  th_write(path, f32, 4);
  expect("float", "tl", AP_ERR_DATA, "only unsigned bytes");
  unsigned two[1] = {2};
  write_idx("tl2", 0, 1, two, labels, 2, 0);
  write_idx("ti", 0, 3, img_dims, pixels, 12, 0);
  expect("ti", "tl2", AP_ERR_DATA, "3 images but");
}

/* Headers are not trusted with memory: a 29-byte file claiming 60 million images fails at
 * once (raw and gzip), counts are compared before any image is read, and a damaged gzip
 * stream says so. */
Test(idx, lying_headers_and_damaged_streams_are_refused_cheaply, .init = setup) {
  write_idx("vi", 0, 3, img_dims, pixels, 12, 0);
  write_idx("vl", 0, 1, lab_dims, labels, 3, 0);
  write_idx("tl", 0, 1, lab_dims, labels, 3, 0);
  static const unsigned huge[3] = {60000000, 28, 28}, many[1] = {60000000};
  write_idx("liar", 0, 3, huge, pixels, 12, 0); /* a raw file's size tells at once */
  expect("liar", "tl", AP_ERR_DATA,
         "truncated: the header promises 60000000 items, the file holds 0");
  write_idx("liar.gz", 1, 3, huge, pixels, 12, 0); /* a gzip file's counts are compared first */
  expect("liar.gz", "tl", AP_ERR_DATA, "holds 60000000 images but");
  write_idx("liar_labels.gz", 1, 1, many, labels, 3, 0); /* then its data ends early */
  expect("liar.gz", "liar_labels.gz", AP_ERR_DATA, "truncated: the header promises 60000000 items");
  /* a gzip file with a damaged body */
  char path[512];
  write_idx("good.gz", 1, 3, img_dims, pixels, 12, 0);
  snprintf(path, sizeof path, "%s/good.gz", dir);
  FILE *f = fopen(path, "r+b");
  cr_assert_not_null(f);
  fseek(f, 12, SEEK_SET);
  unsigned char junk[8] = {0xff, 0x00, 0xff, 0x00, 0xde, 0xad, 0xbe, 0xef};
  fwrite(junk, 1, sizeof junk, f);
  fclose(f);
  expect("good.gz", "tl", AP_ERR_DATA, "corrupt gzip stream");
}
