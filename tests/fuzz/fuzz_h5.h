/* What the HDF5 harnesses share: the small experiments whose files seed their corpus
 * (tests/fuzz/corpus/h5 and tests/fuzz/shards, made by tools/fuzz.sh --seeds from these
 * texts), and a file from fuzz bytes. */
#ifndef AP_FUZZ_H5_H
#define AP_FUZZ_H5_H

#include "host/config.h"
#include "host/digest.h"
#include "host/ini.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One per model; the seeds are their results, checkpoints and shards (fuzz.sh). */
static const char *const fuzz_h5_texts[] = {
    "[experiment]\nname = fz_mc\nmodel = microcircuit\n[train]\nepochs = 2\n[output]\n"
    "record_order = true\n[model]\nt_pres = 3\ndims = 9, 4, 3\n[sweep]\nseed = 1..2\n",
    "[experiment]\nname = fz_lif\nmodel = lif_stdp\n[model]\nn_pyr = 4\nn_pv = 2\ni_e = 800\n"
    "[train]\nepochs = 2\nrecord_ms = 1\nraster_ms = 2\n[sweep]\nseed = 1, 2\n",
    "[experiment]\nname = fz_ms\nmodel = mstdp\ndataset = bars\n[train]\nepochs = 2\n"
    "presentations = 1\ntest_samples = 2\ntrain_eval = 2\n[model]\npixels = 9\nlabels = 3\n"
    "hidden = 3\ncycles = 1\niterations = 2\n[sweep]\nseed = 1, 2\n",
};
#define FUZZ_H5_N (int)(sizeof fuzz_h5_texts / sizeof *fuzz_h5_texts)
#ifndef FUZZ_H5_TEXTS_ONLY /* tools/fuzz.sh --seeds takes the texts alone */
#include <hdf5.h>

/* The experiments (and each one's shard 0/2 and 1/2: one replica each), built once. */
static ApExperiment fuzz_h5_ex[FUZZ_H5_N], fuzz_h5_half[FUZZ_H5_N];

static void fuzz_h5_init(void) {
  static int done;
  if (done) return;
  done = 1;
  for (int i = 0; i < FUZZ_H5_N; i++) {
    Ini ini = {0};
    ApError err = {{0}};
    if (ini_parse_text(&ini, fuzz_h5_texts[i], "fuzz.ini", &err) ||
        config_build(&fuzz_h5_ex[i], &ini, "fuzz.ini", &err) ||
        config_build(&fuzz_h5_half[i], &ini, "fuzz.ini", &err)) {
      fprintf(stderr, "fuzz: seed experiment %d: %s\n", i, err.msg);
      abort();
    }
    ini_free(&ini);
    fuzz_h5_half[i].n_replicas = 1; /* a shard's shape: what merge gives results_read */
  }
}

/* The files the harnesses start from (tests/fuzz/files, tools/fuzz.sh --seeds): per model
 * its results, a checkpoint and the two shards' results; the experiment that reads each. */
#define FUZZ_H5_FILES (FUZZ_H5_N * 4)
static const char *fuzz_h5_base(int i, const ApExperiment **ex) {
  static const char *const names[] = {"fz_mc", "fz_lif", "fz_ms"};
  static const char *const kinds[] = {"results", "checkpoint", "shard0", "shard1"};
  static char path[FUZZ_H5_FILES][512];
  int m = i / 4, k = i % 4;
  if (!path[i][0])
    snprintf(path[i], sizeof path[i], "%s/%s-%s.h5", APICAL_FUZZ_FILES, names[m], kinds[k]);
  if (ex) *ex = k < 2 ? &fuzz_h5_ex[m] : &fuzz_h5_half[m];
  return path[i];
}

/* A fresh name each time (runfile_verify remembers the last file it verified by name and
 * inode). */
static const char *fuzz_h5_path(void) {
  static char path[96];
  static unsigned long serial;
  snprintf(path, sizeof path, "/tmp/apical-fuzz-%ld-%lu.h5", (long)getpid(), serial++);
  return path;
}

static void fuzz_h5_put(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n)) abort();
  fclose(f);
}

static unsigned char *fuzz_h5_slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fuzz: %s is missing (tools/fuzz.sh --seeds)\n", path);
    abort();
  }
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n + 1);
  if (!b || fread(b, 1, *n, f) != *n) abort();
  fclose(f);
  return b;
}

/* ---- structured mutations: a file apical did not write, with a valid checksum ---------
 * Byte-level mutations of a sealed file are refused by the checksum; mutating HDF5's own
 * structures behind it finds libhdf5's bugs (1.10's global heap loops forever on some),
 * not apical's. So the structured mode changes what apical reads through the HDF5 API:
 * attributes and datasets replaced by others of any type, shape and value, or deleted; the
 * file is sealed again and given to the readers, whose checks are what is fuzzed. */

typedef struct FuzzBytes {
  const uint8_t *p;
  size_t n;
} FuzzBytes;

static unsigned fuzz_take(FuzzBytes *b) {
  if (!b->n) return 0;
  b->n--;
  return *b->p++;
}

static long long fuzz_take64(FuzzBytes *b) {
  unsigned long long v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | fuzz_take(b);
  return (long long)v;
}

static const char *const fuzz_attrs[] = {
    "format",           "format_version",  "model",       "record",      "apical_version",
    "backend",          "dataset",         "epochs_done", "epochs",      "n_replicas",
    "experiment",       "experiment_file", "command",     "shard_index", "shard_count",
    "n_replicas_total", "git_revision",    "written",     "units_done",  "units_per_record"};
#define FUZZ_N_ATTRS (int)(sizeof fuzz_attrs / sizeof *fuzz_attrs)

typedef struct FuzzNames {
  char name[64][96];
  int n;
} FuzzNames;

static herr_t fuzz_visit(hid_t o, const char *name, const H5O_info_t *info, void *v) {
  FuzzNames *f = v;
  (void)o;
  if (info->type == H5O_TYPE_DATASET && f->n < 64) snprintf(f->name[f->n++], 96, "%s", name);
  return 0;
}

/* An attribute or dataset's new type and shape, and its values from the bytes. */
static void fuzz_write_thing(hid_t loc, const char *name, int dataset, FuzzBytes *b) {
  unsigned t = fuzz_take(b) % 6, rank = fuzz_take(b) % 4;
  hsize_t dims[3] = {0, 0, 0}, total = 1;
  for (unsigned i = 0; i < rank; i++) total *= (dims[i] = fuzz_take(b) % 9);
  hid_t type = t == 0   ? H5Tcopy(H5T_NATIVE_LLONG)
               : t == 1 ? H5Tcopy(H5T_NATIVE_INT)
               : t == 2 ? H5Tcopy(H5T_NATIVE_DOUBLE)
               : t == 3 ? H5Tcopy(H5T_NATIVE_FLOAT)
                        : H5Tcopy(H5T_C_S1);
  size_t width = 16;
  if (t == 4) H5Tset_size(type, width); /* fixed-length strings */
  if (t == 5) H5Tset_size(type, H5T_VARIABLE);
  hid_t space = rank ? H5Screate_simple((int)rank, dims, NULL) : H5Screate(H5S_SCALAR);
  size_t esize = t == 5 ? sizeof(char *) : H5Tget_size(type);
  unsigned char *buf = calloc((size_t)total * esize + 1, 1);
  char *strs = calloc((size_t)total * 17 + 1, 1);
  if (!buf || !strs) abort();
  for (hsize_t i = 0; i < total; i++) {
    if (t == 5) {
      char *s = strs + i * 17;
      for (int k = 0; k < 16; k++) s[k] = (char)(fuzz_take(b) | 1);
      s[fuzz_take(b) % 17] = '\0';
      ((char **)buf)[i] = s;
    } else if (t == 0) {
      long long v = fuzz_take64(b);
      memcpy(buf + i * esize, &v, sizeof v);
    } else {
      for (size_t k = 0; k < esize; k++) buf[i * esize + k] = (unsigned char)fuzz_take(b);
    }
  }
  if (dataset) {
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0) H5Ldelete(loc, name, H5P_DEFAULT);
    hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
      H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
      H5Dclose(d);
    }
  } else {
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
      H5Awrite(a, type, buf);
      H5Aclose(a);
    }
  }
  free(buf), free(strs);
  H5Sclose(space);
  H5Tclose(type);
}

/* Applies the ops in b to the file at path (a copy of a base file), then seals it. */
static void fuzz_h5_mutate(const char *path, FuzzBytes *b) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) abort();
  for (int ops = 0; b->n && ops < 16; ops++) {
    unsigned op = fuzz_take(b) % 5;
    if (op == 0) { /* an integer attribute, any value (the common case: ranges) */
      const char *name = fuzz_attrs[fuzz_take(b) % FUZZ_N_ATTRS];
      long long v = fuzz_take64(b);
      if (H5Aexists(f, name) > 0) H5Adelete(f, name);
      hid_t s = H5Screate(H5S_SCALAR);
      hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
      if (a >= 0) H5Awrite(a, H5T_NATIVE_LLONG, &v), H5Aclose(a);
      H5Sclose(s);
    } else if (op == 1) { /* an attribute of any type and shape */
      fuzz_write_thing(f, fuzz_attrs[fuzz_take(b) % FUZZ_N_ATTRS], 0, b);
    } else if (op == 2) {
      const char *name = fuzz_attrs[fuzz_take(b) % FUZZ_N_ATTRS];
      if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    } else {
      FuzzNames names;
      names.n = 0;
      H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, fuzz_visit, &names);
      if (!names.n) continue;
      const char *name = names.name[fuzz_take(b) % names.n];
      if (op == 3)
        fuzz_write_thing(f, name, 1, b); /* a dataset of any type and shape */
      else
        H5Ldelete(f, name, H5P_DEFAULT);
    }
  }
  H5Fclose(f);
  size_t n;
  unsigned char *img = fuzz_h5_slurp(path, &n);
  if (n > AP_DIGEST_BLOCK) {
    memset(img, 0, AP_DIGEST_BLOCK);
    digest_seal(img, n);
    fuzz_h5_put(path, img, n);
  }
  free(img);
}

/* The file the readers are given, from the fuzz bytes: byte 0 even, the rest as the whole
 * file (the checksum must refuse what is not as apical wrote it); odd, byte 1 picks a base
 * file and the rest are structured mutations of it. *ex: the experiment to read it with,
 * *base_out: the base file's number. */
static const char *fuzz_h5_file(const uint8_t *data, size_t size, const ApExperiment **ex,
                                int *base_out) {
  const char *path = fuzz_h5_path();
  FuzzBytes b = {data, size};
  unsigned mode = fuzz_take(&b), base = fuzz_take(&b) % FUZZ_H5_FILES;
  fuzz_h5_base((int)base, ex);
  if (base_out) *base_out = (int)base;
  if (!(mode & 1)) {
    fuzz_h5_put(path, b.p, b.n);
    return path;
  }
  size_t n;
  unsigned char *img = fuzz_h5_slurp(fuzz_h5_base((int)base, NULL), &n);
  fuzz_h5_put(path, img, n);
  free(img);
  fuzz_h5_mutate(path, &b);
  return path;
}

#endif
#endif
