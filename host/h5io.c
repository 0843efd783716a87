#include "h5io.h"

#include "host/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Creates the groups along a path "a/b/c" (the last part is the dataset). */
static hid_t parent_group(hid_t file, const char *path, char *leaf, size_t leaf_n) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  hid_t g = H5Gopen2(file, "/", H5P_DEFAULT);
  char *save = NULL, *part = strtok_r(buf, "/", &save);
  while (part) {
    char *next = strtok_r(NULL, "/", &save);
    if (!next) {
      snprintf(leaf, leaf_n, "%s", part);
      return g;
    }
    hid_t child = H5Lexists(g, part, H5P_DEFAULT) > 0
                      ? H5Gopen2(g, part, H5P_DEFAULT)
                      : H5Gcreate2(g, part, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    if (child < 0) return -1;
    g = child;
    part = next;
  }
  H5Gclose(g);
  return -1;
}

/* A variable-length UTF-8 string attribute (h5py reads it as str). */
static int attr_str(hid_t loc, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  int rc = a < 0 || H5Awrite(a, t, &value) < 0 ? -1 : 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
  return rc;
}

static int attr_int(hid_t loc, const char *name, long long value) {
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  int rc = a < 0 || H5Awrite(a, H5T_NATIVE_LLONG, &value) < 0 ? -1 : 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  return rc;
}

/* A dataset at path with its description attribute. */
static int write_array(hid_t file, const char *path, hid_t mem_type, hid_t file_type, int rank,
                       const hsize_t *dims, const void *data, const char *description) {
  char leaf[128];
  hid_t g = parent_group(file, path, leaf, sizeof leaf);
  if (g < 0) return -1;
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(g, leaf, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int rc = d < 0 ? -1 : (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0);
  if (!rc) rc = attr_str(d, "description", description ? description : "");
  if (d >= 0) H5Dclose(d);
  H5Sclose(space);
  H5Gclose(g);
  return rc;
}

/* The events: [n][2] uint32, chunked and compressed (they can be many), and where each
 * replica's start. */
static int write_events(hid_t file, const RunFile *f) {
  const ApModel *m = f->ex->model;
  int R = f->ex->n_replicas;
  uint64_t n = f->events_start[R];
  char path[128], what[512];
  snprintf(path, sizeof path, "events/%s", m->events);
  hid_t g = -1, space = -1, dcpl = -1, d = -1;
  char leaf[128];
  int rc = -1;
  if ((g = parent_group(file, path, leaf, sizeof leaf)) < 0) goto out;
  hsize_t dims[2] = {(hsize_t)n, 2}, chunk[2] = {n < 65536 ? (n ? n : 1) : 65536, 2};
  if ((space = H5Screate_simple(2, dims, NULL)) < 0 || (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
      H5Pset_chunk(dcpl, 2, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, 4) < 0)
    goto out;
  if ((d = H5Dcreate2(g, leaf, H5T_STD_U32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) goto out;
  if (n && H5Dwrite(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->events) < 0) goto out;
  snprintf(what, sizeof what, "%s; replica r's are rows events/%s_start[r] .. [r + 1] - 1",
           m->events_is ? m->events_is : "", m->events);
  if (attr_str(d, "description", what) < 0) goto out;
  snprintf(path, sizeof path, "events/%s_start", m->events);
  hsize_t rd = (hsize_t)R + 1;
  rc = write_array(file, path, H5T_NATIVE_UINT64, H5T_STD_U64LE, 1, &rd, f->events_start,
                   "where each replica's events start (rows), and their end");
out:
  if (d >= 0) H5Dclose(d);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  if (g >= 0) H5Gclose(g);
  return rc;
}

typedef struct ParamCtx {
  hid_t file;
  const ApModel *model;
  int R, failed;
} ParamCtx;

static void write_param(void *vctx, const char *name, ParamKind kind, int width, int is_list,
                        const void *values, const char *help) {
  ParamCtx *c = vctx;
  char path[128];
  snprintf(path, sizeof path, "replicas/%s", name);
  hsize_t dims[2] = {(hsize_t)c->R, (hsize_t)width};
  hid_t mem = kind == PARAM_U64   ? H5T_NATIVE_UINT64
              : kind == PARAM_INT ? H5T_NATIVE_INT64
                                  : H5T_NATIVE_DOUBLE;
  hid_t ft = kind == PARAM_U64 ? H5T_STD_U64LE : kind == PARAM_INT ? H5T_STD_I64LE : H5T_IEEE_F64LE;
  if (write_array(c->file, path, mem, ft, is_list ? 2 : 1, dims, values, help) < 0) {
    c->failed = 1;
    return;
  }
  /* the key's unit (ApModel.unit), for readers that label axes (apical.load) */
  const char *unit = c->model && c->model->unit ? c->model->unit(name) : NULL;
  if (unit) {
    hid_t d = H5Dopen2(c->file, path, H5P_DEFAULT);
    if (d < 0 || attr_str(d, "unit", unit) < 0) c->failed = 1;
    if (d >= 0) H5Dclose(d);
  }
}

/* The sample orders come from the model (the one home of its schedule): [R][E][shown]
 * per phase. */
static int write_order(hid_t file, const RunFile *f) {
  const ApExperiment *ex = f->ex;
  const ApModel *m = ex->model;
  int R = ex->n_replicas, E = f->epochs_done;
  int pool = f->data->n_train > f->data->n_val ? f->data->n_train : f->data->n_val;
  uint32_t *perm = malloc((size_t)(pool ? pool : 1) * sizeof *perm);
  if (!perm) return -1;
  int rc = 0;
  for (int phase = 0; phase < m->n_phases && !rc; phase++) {
    int shown = m->order(config_params(ex, 0), f->data, 0, phase, perm);
    if (shown <= 0) continue;
    uint32_t *all = malloc((size_t)R * (size_t)E * (size_t)shown * sizeof *all);
    if (!all) {
      rc = -1;
      break;
    }
    for (int r = 0; r < R; r++)
      for (int e = 0; e < E; e++) {
        m->order(config_params(ex, r), f->data, e, phase, perm);
        memcpy(all + ((size_t)r * (size_t)E + (size_t)e) * (size_t)shown, perm,
               (size_t)shown * sizeof *perm);
      }
    char path[96], what[160];
    snprintf(path, sizeof path, "recordings/order_%s", m->phase_names[phase]);
    snprintf(what, sizeof what, "samples shown in phase '%s', in order, per replica and %s",
             m->phase_names[phase], m->record);
    hsize_t dims[3] = {(hsize_t)R, (hsize_t)E, (hsize_t)shown};
    rc = write_array(file, path, H5T_NATIVE_UINT32, H5T_STD_U32LE, 3, dims, all, what);
    free(all);
  }
  free(perm);
  return rc;
}

/* The file's attributes: what it is, what wrote it, and how far the run is. */
static int write_attrs(hid_t file, const RunFile *f) {
  const ApExperiment *ex = f->ex;
  int bad = 0;
  char when[64];
  time_t t = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  bad |= attr_str(file, "format",
                  !strcmp(f->kind, "checkpoint") ? "apical-checkpoint" : "apical-results");
  bad |= attr_int(file, "format_version", AP_FILE_FORMAT_VERSION);
  bad |= attr_str(file, "apical_version", APICAL_VERSION);
  bad |= attr_str(file, "git_revision", APICAL_GIT_REV);
  bad |= attr_str(file, "backend", f->backend);
  bad |= attr_str(file, "cpu_kernel", f->cpu_kernel && *f->cpu_kernel ? f->cpu_kernel : "auto");
  bad |= attr_str(file, "cuda_kernel", f->cuda_kernel && *f->cuda_kernel ? f->cuda_kernel : "auto");
  if (f->partial) bad |= attr_str(file, "partial", f->partial);
  bad |= attr_str(file, "model", ex->model->name);
  bad |= attr_str(file, "dataset", ex->model->io ? ex->dataset : "");
  bad |= attr_str(file, "record", ex->model->record);
  bad |= attr_str(file, "written", when);
  bad |= attr_str(file, "command", f->command ? f->command : "");
  bad |= attr_str(file, "experiment_file", ex->file_text ? ex->file_text : "");
  bad |= attr_str(file, "experiment", f->dump);
  bad |= attr_int(file, "epochs_done", f->epochs_done);
  bad |= attr_int(file, "units_done", f->units_done);
  bad |= attr_int(file, "units_per_record", f->units_per_record > 0 ? f->units_per_record : 1);
  bad |= attr_int(file, "epochs", ex->epochs);
  bad |= attr_int(file, "n_replicas", ex->n_replicas);
  if (ex->shard_count > 0) { /* apical run --shard: which part of the experiment this is */
    bad |= attr_int(file, "shard_index", ex->shard_index);
    bad |= attr_int(file, "shard_count", ex->shard_count);
    bad |= attr_int(file, "n_replicas_total", ex->n_total);
  }
  return bad;
}

/* The replica table: each [model] key's values, the cohort, and (a shard) the number in
 * the whole experiment. */
static int write_replicas(hid_t file, const RunFile *f) {
  const ApExperiment *ex = f->ex;
  int bad = 0;
  ParamCtx pc = {.file = file, .model = ex->model, .R = ex->n_replicas, .failed = 0};
  if (config_for_each_param(ex, write_param, &pc)) pc.failed = 1;
  bad |= pc.failed;
  hsize_t rd = (hsize_t)ex->n_replicas;
  bad |= write_array(file, "replicas/cohort", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &rd, f->cohort,
                     "the cohort (replicas that share a schedule) the replica ran in");
  if (ex->shard_count > 0)
    bad |= write_array(file, "shard/replicas", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &rd, ex->shard_ids,
                       "each replica's number in the whole experiment");
  return bad;
}

/* What each cohort cost (results only). */
static int write_cohorts(hid_t file, const RunFile *f) {
  if (!f->cohorts || strcmp(f->kind, "results")) return 0;
  int C = f->n_cohorts, bad = 0;
  double *v = malloc((size_t)(C ? C : 1) * 2 * sizeof *v);
  int *n = malloc((size_t)(C ? C : 1) * sizeof *n);
  if (!v || !n) {
    free(v), free(n);
    return -1;
  }
  for (int c = 0; c < C; c++)
    v[c] = f->cohorts[c].busy_s, v[C + c] = f->cohorts[c].steps, n[c] = f->cohorts[c].n;
  hsize_t cd = (hsize_t)C;
  bad |= write_array(file, "cohorts/replicas", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &cd, n,
                     "replicas in the cohort (replicas/cohort indexes these)");
  bad |= write_array(file, "cohorts/busy_s", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &cd, v,
                     "seconds the backend worked on the cohort in this run's latest process, "
                     "summed over threads; NaN where the backend does not measure it (CUDA)");
  bad |= write_array(file, "cohorts/replica_steps", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &cd,
                     v + C, "replica-steps the cohort ran in those seconds");
  free(v), free(n);
  return bad;
}

/* The series [R][E][...], gathered from the run's [R][E][F]. */
static int write_series(hid_t file, const RunFile *f) {
  const ApExperiment *ex = f->ex;
  const ApLayout *lay = &ex->layout;
  int R = ex->n_replicas, E = ex->epochs, F = lay->series_width, bad = 0;
  size_t re = (size_t)R * (size_t)E;
  float *buf = malloc((re ? re : 1) * sizeof(float) * (size_t)(F > 0 ? F : 1));
  if (!buf) return -1;
  for (int i = 0; i < lay->n_series && !bad; i++) {
    const ApSeries *s = &lay->series[i];
    size_t w = (size_t)s->shape[0] * (size_t)s->shape[1];
    for (size_t c = 0; c < re; c++)
      memcpy(buf + c * w, f->series + c * (size_t)F + (size_t)s->offset, w * sizeof(float));
    char path[96], what[512];
    snprintf(path, sizeof path, "series/%s", s->name);
    snprintf(what, sizeof what, "%s [replica][%s%s] (NaN: not run yet)", s->help, ex->model->record,
             s->rank ? "][..." : "");
    hsize_t dims[4] = {(hsize_t)R, (hsize_t)E, (hsize_t)s->shape[0], (hsize_t)s->shape[1]};
    bad |= write_array(file, path, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2 + s->rank, dims, buf, what);
  }
  free(buf);
  return bad;
}

/* The record a replica froze at (1-based, as the series), 0: never. */
static int write_diverged_at(hid_t file, const RunFile *f) {
  const ApExperiment *ex = f->ex;
  const ApLayout *lay = &ex->layout;
  const ApSeries *dv = ap_layout_series(lay, "diverged");
  if (!dv) return 0;
  int R = ex->n_replicas, E = ex->epochs, F = lay->series_width;
  int64_t *at = calloc((size_t)(R ? R : 1), sizeof *at);
  if (!at) return -1;
  for (int r = 0; r < R; r++)
    for (int e = 0; e < f->epochs_done && !at[r]; e++)
      if (f->series[((size_t)r * (size_t)E + (size_t)e) * (size_t)F + (size_t)dv->offset] == 1.0f)
        at[r] = e + 1;
  char what[160];
  snprintf(what, sizeof what,
           "the %s (1-based) at whose end the replica's state held a non-finite value and "
           "froze; 0: never",
           ex->model->record);
  hsize_t rd = (hsize_t)R;
  int bad =
      write_array(file, "replicas/diverged_at", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, &rd, at, what);
  free(at);
  return bad;
}

/* The state fields, canonical [R][...]; results keep the weights only. */
static int write_state(hid_t file, const RunFile *f) {
  const ApExperiment *ex = f->ex;
  const ApLayout *lay = &ex->layout;
  int R = ex->n_replicas, bad = 0;
  int full = !strcmp(f->kind, "checkpoint");
  size_t largest = 1;
  for (int i = 0; i < lay->n_fields; i++)
    if ((size_t)lay->field[i].shape[0] * (size_t)lay->field[i].shape[1] > largest)
      largest = (size_t)lay->field[i].shape[0] * (size_t)lay->field[i].shape[1];
  float *buf = malloc((size_t)(R ? R : 1) * largest * sizeof(float));
  if (!buf) return -1;
  for (int i = 0; i < lay->n_fields && !bad; i++) {
    const ApField *fd = &lay->field[i];
    if (!full && fd->kind != AP_FIELD_WEIGHT) continue;
    size_t count = (size_t)fd->shape[0] * (size_t)fd->shape[1];
    for (int r = 0; r < R; r++)
      memcpy(buf + (size_t)r * count,
             f->state + (size_t)r * (size_t)lay->n_floats + (size_t)fd->offset,
             count * sizeof(float));
    char p[96];
    snprintf(p, sizeof p, "%s/%s", full ? "state" : "weights", fd->name);
    hsize_t dims[3] = {(hsize_t)R, (hsize_t)fd->shape[0], (hsize_t)fd->shape[1]};
    bad |=
        write_array(file, p, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, fd->rank + 1, dims, buf, fd->help);
  }
  free(buf);
  return bad;
}

/* Builds the whole file in memory (HDF5's core driver, no backing store), in this order;
 * after a failure nothing more is written. */
static int build(hid_t file, const RunFile *f) {
  const ApExperiment *ex = f->ex;
  int bad = write_attrs(file, f);
  bad |= write_replicas(file, f);
  if (!bad) bad = write_cohorts(file, f);
  if (!bad) bad = write_series(file, f);
  if (!bad) bad = write_diverged_at(file, f);
  if (!bad) bad = write_state(file, f);
  if (strcmp(f->kind, "checkpoint") && ex->record_order && ex->model->order && f->epochs_done > 0 &&
      !bad)
    bad |= write_order(file, f);
  if (ex->model->events && f->events && f->events_start && !bad) bad |= write_events(file, f);
  return bad ? -1 : 0;
}

/* Writes n bytes to path (created) and fsyncs it; errno is set on failure. */
static int write_file(const char *path, const void *data, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : ENOSPC;
      close(fd);
      errno = e;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  if (fsync(fd) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return close(fd);
}

ap_status runfile_write(const char *path, const RunFile *f, ApError *err) {
  quiet();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0) {
    if (fapl >= 0) H5Pclose(fapl);
    return ap_fail(err, AP_ERR_SOFTWARE, "HDF5: cannot set up an in-memory file");
  }
  /* the user block holds the file's checksum (host/digest.h) */
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  if (fcpl < 0 || H5Pset_userblock(fcpl, AP_DIGEST_BLOCK) < 0) {
    if (fcpl >= 0) H5Pclose(fcpl);
    H5Pclose(fapl);
    return ap_fail(err, AP_ERR_SOFTWARE, "HDF5: cannot reserve the checksum block");
  }
  /* the name only labels the image: nothing touches the disk until write_file */
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
  H5Pclose(fcpl);
  H5Pclose(fapl);
  if (file < 0)
    return ap_fail(err, AP_ERR_OSERR, "%s: HDF5 cannot create the %s in memory", path, f->kind);
  int bad = build(file, f) < 0 || H5Fflush(file, H5F_SCOPE_GLOBAL) < 0;
  /* HDF5's image leaves the user block out: it goes in front, holding the checksum */
  ssize_t got = bad ? -1 : H5Fget_file_image(file, NULL, 0);
  unsigned char *image = got > 0 ? calloc((size_t)got + AP_DIGEST_BLOCK, 1) : NULL;
  if (image && H5Fget_file_image(file, image + AP_DIGEST_BLOCK, (size_t)got) != got) bad = 1;
  H5Fclose(file);
  if (bad || !image) {
    free(image);
    return ap_fail(err, AP_ERR_OSERR, "%s: out of memory building the %s", path, f->kind);
  }
  size_t size = (size_t)got + AP_DIGEST_BLOCK;
  digest_seal(image, size);
  char tmp[AP_PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  int rc = write_file(tmp, image, size);
  int e = errno;
  free(image);
  if (rc < 0 || rename(tmp, path) < 0) {
    if (rc == 0) e = errno;
    unlink(tmp);
    return ap_fail(err, AP_ERR_IO, "%s: writing the %s failed: %s", path, f->kind, strerror(e));
  }
  char dir[AP_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return AP_OK;
}

/* ---- reading ------------------------------------------------------------------------ */

/* Every file is verified before libhdf5 parses a byte of it (host/digest.h); a file
 * verified once is not hashed again while its inode, size and times stay (a resume reads
 * the same checkpoint four times). */
static struct {
  struct stat sb;
  char path[AP_PATH_MAX];
} verified;

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

ap_status runfile_verify(const char *path, ApError *err) {
  struct stat before, after;
  if (stat(path, &before) == 0 && verified.path[0] && !strcmp(path, verified.path) &&
      same_file(&before, &verified.sb))
    return AP_OK;
  verified.path[0] = '\0';
  ap_status st = digest_check_file(path, err);
  if (!st && stat(path, &after) == 0 && same_file(&before, &after) &&
      strlen(path) < sizeof verified.path) {
    verified.sb = after;
    snprintf(verified.path, sizeof verified.path, "%s", path);
  }
  return st;
}

/* The file, verified and opened read-only; -1 with *st and the message set. */
static hid_t open_verified(const char *path, ap_status *st, ApError *err) {
  quiet();
  if ((*st = runfile_verify(path, err))) return -1;
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) *st = ap_fail(err, AP_ERR_DATA, "%s: not a readable HDF5 file", path);
  return file;
}

/* Attributes are read defensively: the class, the element count and the size are checked
 * before anything is copied (a file need not be one apical wrote). */
static hid_t open_attr(hid_t loc, const char *name, H5T_class_t want) {
  if (H5Aexists(loc, name) <= 0) return -1;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  int ok = t >= 0 && s >= 0 && H5Tget_class(t) == want &&
           (H5Sget_simple_extent_type(s) == H5S_SCALAR ||
            (H5Sget_simple_extent_type(s) == H5S_SIMPLE && H5Sget_simple_extent_npoints(s) == 1));
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  if (!ok) {
    H5Aclose(a);
    return -1;
  }
  return a;
}

static int read_attr_int(hid_t file, const char *name, long long *out) {
  hid_t a = open_attr(file, name, H5T_INTEGER);
  if (a < 0) return -1;
  int rc = H5Aread(a, H5T_NATIVE_LLONG, out) < 0 ? -1 : 0;
  H5Aclose(a);
  return rc;
}

/* An integer attribute that must lie in [lo, hi]. */
static int read_attr_range(hid_t file, const char *name, long long lo, long long hi,
                           long long *out) {
  return read_attr_int(file, name, out) || *out < lo || *out > hi ? -1 : 0;
}

#define AP_ATTR_STR_MAX (64u << 20) /* the experiment text is a few kB; 64 MB is no file */

static char *read_attr_str(hid_t file, const char *name) {
  hid_t a = open_attr(file, name, H5T_STRING);
  if (a < 0) return NULL;
  hid_t t = H5Aget_type(a);
  size_t n = H5Tget_size(t);
  char *s = NULL;
  if (H5Tis_variable_str(t) > 0) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    char *v = NULL;
    if (H5Aread(a, mt, &v) >= 0 && v) {
      if (strlen(v) < AP_ATTR_STR_MAX) s = strdup(v);
      H5free_memory(v);
    }
    H5Tclose(mt);
  } else if (n > 0 && n < AP_ATTR_STR_MAX && (s = calloc(n + 1, 1))) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, n);
    H5Tset_cset(mt, H5Tget_cset(t));
    if (H5Aread(a, mt, s) < 0) {
      free(s);
      s = NULL;
    }
    H5Tclose(mt);
  }
  H5Tclose(t);
  H5Aclose(a);
  return s;
}

/* Reads a float dataset whose shape must be exactly dims[0..rank-1]; with take1 >= 0 only
 * its first take1 entries along dimension 1 (the records a file has finished: what is
 * read is bounded by this run's experiment, never by a size the file claims). */
static int read_floats(hid_t file, const char *path, int rank, const hsize_t *dims, long long take1,
                       float *out) {
  if (H5Lexists(file, path, H5P_DEFAULT) <= 0) return -1;
  hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
  if (d < 0) return -1;
  hid_t s = H5Dget_space(d), m = -1;
  hsize_t have[8] = {0};
  int ok = s >= 0 && H5Sget_simple_extent_ndims(s) == rank &&
           H5Sget_simple_extent_dims(s, have, NULL) == rank;
  for (int i = 0; ok && i < rank; i++) ok = have[i] == dims[i];
  if (ok && take1 >= 0 && rank >= 2) {
    hsize_t start[8] = {0}, count[8];
    for (int i = 0; i < rank; i++) count[i] = dims[i];
    count[1] = (hsize_t)take1 < dims[1] ? (hsize_t)take1 : dims[1];
    ok = H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
         (m = H5Screate_simple(rank, count, NULL)) >= 0;
    ok = ok && (count[1] == 0 || H5Dread(d, H5T_NATIVE_FLOAT, m, s, H5P_DEFAULT, out) >= 0);
  } else {
    ok = ok && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
  }
  if (m >= 0) H5Sclose(m);
  if (s >= 0) H5Sclose(s);
  H5Dclose(d);
  return ok ? 0 : -1;
}

/* A checkpoint's state, or (results) a results file's weights, and the series. */
static ap_status read_runfile(const char *path, int results, const ApExperiment *ex, float *state,
                              float *series, int *epochs_done, char **dump, ApError *err) {
  const char *kind = results ? "results" : "checkpoint";
  *dump = NULL;
  const ApLayout *lay = &ex->layout;
  ap_status st = AP_OK;
  hid_t file = open_verified(path, &st, err);
  if (file < 0) return st;
  char *format = read_attr_str(file, "format"), *model = NULL;
  long long version = 0, done = 0, E_file = 0, R_file = 0;
  float *buf = NULL;
  if (!format || strcmp(format, results ? "apical-results" : "apical-checkpoint") ||
      read_attr_int(file, "format_version", &version)) {
    st = ap_fail(err, AP_ERR_DATA, "%s: not an apical %s file", path, kind);
    goto out;
  }
  if (version != AP_FILE_FORMAT_VERSION) {
    st = ap_fail(err, AP_ERR_DATA,
                 "%s: %s format %lld, this apical reads format %d (%s): start the run "
                 "again with --force",
                 path, kind, version, AP_FILE_FORMAT_VERSION,
                 version < AP_FILE_FORMAT_VERSION ? "written by an older apical"
                                                  : "written by a newer apical");
    goto out;
  }
  model = read_attr_str(file, "model");
  if (read_attr_range(file, "epochs", 1, INT_MAX, &E_file) ||
      read_attr_range(file, "epochs_done", 0, E_file, &done) ||
      read_attr_range(file, "n_replicas", 1, INT_MAX, &R_file) || !model) {
    st = ap_fail(err, AP_ERR_DATA,
                 "%s: not an apical %s file (attributes missing, or out of range)", path, kind);
    goto out;
  }
  if (!(*dump = read_attr_str(file, "experiment"))) {
    st = ap_fail(err, AP_ERR_DATA, "%s: no experiment attribute", path);
    goto out;
  }
  int R = ex->n_replicas, E = ex->epochs, F = lay->series_width;
  if (strcmp(model, ex->model->name) || R_file != R || done > E || done > E_file || done < 0) {
    /* the caller compares the configurations and names the key that differs */
    *epochs_done = (int)done;
    st = AP_ERR_CONFIG;
    goto out;
  }
  size_t largest = 1;
  for (int i = 0; i < lay->n_fields; i++)
    if ((size_t)lay->field[i].shape[0] * (size_t)lay->field[i].shape[1] > largest)
      largest = (size_t)lay->field[i].shape[0] * (size_t)lay->field[i].shape[1];
  size_t re = (size_t)R * (size_t)done; /* done <= E: the run's own size bounds it */
  size_t big =
      (size_t)R * largest > re * (size_t)(F ? F : 1) ? (size_t)R * largest : re * (size_t)F;
  if (!(buf = malloc((big ? big : 1) * sizeof(float)))) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory reading %s", path);
    goto out;
  }
  for (int i = 0; i < lay->n_fields && !st; i++) {
    const ApField *fd = &lay->field[i];
    if (results && fd->kind != AP_FIELD_WEIGHT) continue;
    size_t count = (size_t)fd->shape[0] * (size_t)fd->shape[1];
    char p[96];
    snprintf(p, sizeof p, "%s/%s", results ? "weights" : "state", fd->name);
    hsize_t dims[3] = {(hsize_t)R, (hsize_t)fd->shape[0], (hsize_t)fd->shape[1]};
    if (read_floats(file, p, fd->rank + 1, dims, -1, buf) < 0) {
      st = ap_fail(err, AP_ERR_DATA, "%s: /%s missing or of the wrong shape for this experiment",
                   path, p);
      break;
    }
    for (int r = 0; r < R; r++)
      memcpy(state + (size_t)r * (size_t)lay->n_floats + (size_t)fd->offset,
             buf + (size_t)r * count, count * sizeof(float));
  }
  for (int i = 0; i < lay->n_series && !st; i++) {
    const ApSeries *s = &lay->series[i];
    size_t w = (size_t)s->shape[0] * (size_t)s->shape[1];
    char p[96];
    snprintf(p, sizeof p, "series/%s", s->name);
    hsize_t dims[4] = {(hsize_t)R, (hsize_t)E_file, (hsize_t)s->shape[0], (hsize_t)s->shape[1]};
    if (read_floats(file, p, 2 + s->rank, dims, done, buf) < 0) {
      st = ap_fail(err, AP_ERR_DATA, "%s: /%s missing or of the wrong shape for this experiment",
                   path, p);
      break;
    }
    for (int r = 0; r < R; r++)
      for (long long e = 0; e < done; e++)
        memcpy(series + ((size_t)r * (size_t)E + (size_t)e) * (size_t)F + (size_t)s->offset,
               buf + ((size_t)r * (size_t)done + (size_t)e) * w, w * sizeof(float));
  }
  *epochs_done = (int)done;
out:
  free(buf);
  free(format);
  free(model);
  H5Fclose(file);
  if (st && st != AP_ERR_CONFIG && *dump) {
    free(*dump);
    *dump = NULL;
  }
  return st;
}

ap_status ckpt_read(const char *path, const ApExperiment *ex, float *state, float *series,
                    int *epochs_done, char **dump, ApError *err) {
  return read_runfile(path, 0, ex, state, series, epochs_done, dump, err);
}

ap_status results_read(const char *path, const ApExperiment *ex, float *state, float *series,
                       int *epochs_done, char **dump, ApError *err) {
  return read_runfile(path, 1, ex, state, series, epochs_done, dump, err);
}

/* An int or double dataset [n], n <= max (n returned; -1: missing, not 1-D or longer). */
static long long read_vector(hid_t file, const char *path, hid_t type, long long max, void **out) {
  *out = NULL;
  if (H5Lexists(file, path, H5P_DEFAULT) <= 0) return -1;
  hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
  if (d < 0) return -1;
  hid_t s = H5Dget_space(d);
  hsize_t n = 0;
  long long rc = -1;
  if (H5Sget_simple_extent_ndims(s) == 1 && H5Sget_simple_extent_dims(s, &n, NULL) == 1 &&
      n <= (hsize_t)max && (*out = malloc((size_t)(n ? n : 1) * H5Tget_size(type))) &&
      H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0)
    rc = (long long)n;
  if (rc < 0) {
    free(*out);
    *out = NULL;
  }
  H5Sclose(s);
  H5Dclose(d);
  return rc;
}

void runfile_shard(const char *path, int *index, int *count) {
  *index = *count = 0;
  ap_status st;
  ApError err = {{0}};
  hid_t file = open_verified(path, &st, &err);
  if (file < 0) return;
  long long i, n;
  if (!read_attr_range(file, "shard_count", 1, INT_MAX, &n) &&
      !read_attr_range(file, "shard_index", 0, n - 1, &i))
    *index = (int)i, *count = (int)n;
  H5Fclose(file);
}

void runfile_units(const char *path, long long *done, long long *per) {
  *done = 0, *per = 1;
  ap_status st;
  ApError err = {{0}};
  hid_t file = open_verified(path, &st, &err);
  if (file < 0) return;
  long long d, p;
  if (!read_attr_range(file, "units_per_record", 1, LLONG_MAX, &p) &&
      !read_attr_range(file, "units_done", 0, p - 1, &d))
    *done = d, *per = p;
  H5Fclose(file);
}

void runfile_kernels(const char *path, char *cpu, char *cuda, size_t n) {
  cpu[0] = cuda[0] = '\0';
  quiet();
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return;
  char *c = read_attr_str(file, "cpu_kernel"), *g = read_attr_str(file, "cuda_kernel");
  if (c) snprintf(cpu, n, "%s", c);
  if (g) snprintf(cuda, n, "%s", g);
  free(c), free(g);
  H5Fclose(file);
}

void shard_file_free(ShardFile *f) {
  free(f->dump), free(f->file_text), free(f->backend), free(f->ids), free(f->cohort);
  free(f->busy_s), free(f->steps);
  memset(f, 0, sizeof *f);
}

ap_status shard_file_read(const char *path, ShardFile *f, ApError *err) {
  memset(f, 0, sizeof *f);
  ap_status st = AP_OK;
  hid_t file = open_verified(path, &st, err);
  if (file < 0) return st;
  char *format = read_attr_str(file, "format");
  long long v[6];
  if (!format || strcmp(format, "apical-results")) {
    st = ap_fail(err, AP_ERR_DATA, "%s: not an apical results file", path);
    goto out;
  }
  if (H5Aexists(file, "shard_index") <= 0) {
    st = ap_fail(err, AP_ERR_DATA, "%s: not the results of a shard (apical run --shard)", path);
    goto out;
  }
  /* every number is checked against the others before merge indexes with it */
  if (read_attr_range(file, "shard_count", 1, INT_MAX, &v[1]) ||
      read_attr_range(file, "shard_index", 0, v[1] - 1, &v[0]) ||
      read_attr_range(file, "n_replicas_total", 1, INT_MAX, &v[2]) ||
      read_attr_range(file, "n_replicas", 1, v[2], &v[3]) ||
      read_attr_range(file, "epochs", 1, INT_MAX, &v[5]) ||
      read_attr_range(file, "epochs_done", 0, v[5], &v[4])) {
    st = ap_fail(err, AP_ERR_DATA,
                 "%s: shard_index, shard_count, n_replicas_total, n_replicas, epochs or "
                 "epochs_done missing or out of range",
                 path);
    goto out;
  }
  if (!(f->dump = read_attr_str(file, "experiment")) ||
      !(f->file_text = read_attr_str(file, "experiment_file")) ||
      !(f->backend = read_attr_str(file, "backend"))) {
    st = ap_fail(err, AP_ERR_DATA, "%s: attributes missing", path);
    goto out;
  }
  f->index = (int)v[0], f->count = (int)v[1], f->n_total = (int)v[2], f->n = (int)v[3];
  f->epochs_done = (int)v[4], f->epochs = (int)v[5];
  void *ids, *cohort, *busy, *steps;
  long long n_ids = read_vector(file, "shard/replicas", H5T_NATIVE_INT, f->n, &ids);
  long long n_co = read_vector(file, "replicas/cohort", H5T_NATIVE_INT, f->n, &cohort);
  long long c1 = read_vector(file, "cohorts/busy_s", H5T_NATIVE_DOUBLE, f->n, &busy);
  long long c2 = read_vector(file, "cohorts/replica_steps", H5T_NATIVE_DOUBLE, f->n, &steps);
  f->ids = ids, f->cohort = cohort, f->busy_s = busy, f->steps = steps;
  f->n_cohorts = (int)c1;
  if (n_ids != f->n || n_co != f->n || c1 < 1 || c2 != c1) {
    st = ap_fail(err, AP_ERR_DATA,
                 "%s: shard/replicas, replicas/cohort or cohorts/* missing or "
                 "of the wrong length",
                 path);
    goto out;
  }
  for (int i = 0; i < f->n && !st; i++)
    if (f->ids[i] < 0 || f->ids[i] >= f->n_total || f->cohort[i] < 0 || f->cohort[i] >= c1)
      st = ap_fail(err, AP_ERR_DATA, "%s: replica %d: number or cohort out of range", path, i);
out:
  free(format);
  H5Fclose(file);
  if (st) shard_file_free(f);
  return st;
}

ap_status ckpt_read_events(const char *path, const ApExperiment *ex, uint32_t **pairs,
                           uint64_t **start, ApError *err) {
  *pairs = NULL, *start = NULL;
  const char *name = ex->model->events;
  if (!name) return AP_OK;
  ap_status st = AP_OK;
  hid_t file = open_verified(path, &st, err);
  if (file < 0) return st;
  int R = ex->n_replicas;
  char p[128], ps[160];
  snprintf(p, sizeof p, "events/%s", name);
  snprintf(ps, sizeof ps, "events/%s_start", name);
  uint64_t *s = malloc(((size_t)R + 1) * sizeof *s);
  uint32_t *e = NULL;
  hid_t d = -1, sp = -1;
  hsize_t dims[2] = {0, 0};
  if (!s) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory reading %s", path);
    goto out;
  }
  if ((d = H5Dopen2(file, ps, H5P_DEFAULT)) < 0 || (sp = H5Dget_space(d)) < 0 ||
      H5Sget_simple_extent_ndims(sp) != 1 || (H5Sget_simple_extent_dims(sp, dims, NULL), 0) ||
      dims[0] != (hsize_t)R + 1 ||
      H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) < 0) {
    st = ap_fail(err, AP_ERR_DATA, "%s: /%s missing or of the wrong shape", path, ps);
    goto out;
  }
  H5Sclose(sp), H5Dclose(d), sp = d = -1;
  if ((d = H5Dopen2(file, p, H5P_DEFAULT)) < 0 || (sp = H5Dget_space(d)) < 0 ||
      H5Sget_simple_extent_ndims(sp) != 2 || (H5Sget_simple_extent_dims(sp, dims, NULL), 0) ||
      dims[1] != 2 || dims[0] != s[R]) {
    st = ap_fail(err, AP_ERR_DATA, "%s: /%s missing or of the wrong shape", path, p);
    goto out;
  }
  /* apical stores them deflated, which packs at most 1032 bytes into one: more rows than
   * that allows are not a file apical wrote (and would be an absurd allocation) */
  struct stat sb;
  if (stat(path, &sb) < 0 || dims[0] > ((hsize_t)sb.st_size * 1032 + 4096) / 8) {
    st = ap_fail(err, AP_ERR_DATA, "%s: /%s claims more rows (%llu) than the file can hold", path,
                 p, (unsigned long long)dims[0]);
    goto out;
  }
  for (int r = 0; r < R; r++)
    if (s[r + 1] < s[r]) {
      st = ap_fail(err, AP_ERR_DATA, "%s: /%s is not ascending", path, ps);
      goto out;
    }
  if (!(e = malloc((size_t)(dims[0] ? dims[0] : 1) * 2 * sizeof *e))) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory reading %s", path);
    goto out;
  }
  if (dims[0] && H5Dread(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, e) < 0) {
    st = ap_fail(err, AP_ERR_DATA, "%s: /%s cannot be read", path, p);
    goto out;
  }
  *pairs = e, *start = s, e = NULL, s = NULL;
out:
  if (sp >= 0) H5Sclose(sp);
  if (d >= 0) H5Dclose(d);
  H5Fclose(file);
  free(s);
  free(e);
  return st;
}
