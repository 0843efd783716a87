#include "h5io.h"

#include "kernels/ap_rng.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    hid_t child = H5Lexists(g, part, H5P_DEFAULT) > 0 ? H5Gopen2(g, part, H5P_DEFAULT)
                                                        : H5Gcreate2(g, part, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    if (child < 0) return -1;
    g = child;
    part = next;
  }
  H5Gclose(g);
  return -1;
}

static int write_array(hid_t file, const char *path, hid_t mem_type, hid_t file_type, int rank,
                       const hsize_t *dims, const void *data) {
  char leaf[128];
  hid_t g = parent_group(file, path, leaf, sizeof leaf);
  if (g < 0) return -1;
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(g, leaf, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int rc = d < 0 ? -1 : (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0);
  if (d >= 0) H5Dclose(d);
  H5Sclose(space);
  H5Gclose(g);
  return rc;
}

static int attr_str(hid_t loc, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(value) + 1);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  int rc = a < 0 || H5Awrite(a, t, value) < 0 ? -1 : 0;
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

static int attr_str_on(hid_t file, const char *path, const char *name, const char *value) {
  hid_t d = H5Oopen(file, path, H5P_DEFAULT);
  if (d < 0) return -1;
  int rc = attr_str(d, name, value);
  H5Oclose(d);
  return rc;
}

typedef struct ParamCtx {
  hid_t file;
  int R, failed;
} ParamCtx;

static void write_param(void *vctx, const char *name, ParamKind kind, int width, const void *values,
                        const char *help) {
  ParamCtx *c = vctx;
  char path[128];
  snprintf(path, sizeof path, "replicas/%s", name);
  hsize_t dims[2] = {(hsize_t)c->R, (hsize_t)width};
  int rank = width > 1 || !strncmp(name, "eta_", 4) ? 2 : 1;
  hid_t mem = kind == PARAM_U64 ? H5T_NATIVE_UINT64 : kind == PARAM_INT ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
  hid_t ft = kind == PARAM_U64 ? H5T_STD_U64LE : kind == PARAM_INT ? H5T_STD_I64LE : H5T_IEEE_F64LE;
  if (write_array(c->file, path, mem, ft, rank, dims, values) < 0 ||
      attr_str_on(c->file, path, "description", help) < 0)
    c->failed = 1;
}

static int write_metric(hid_t file, const char *path, const float *data, int R, int E, int H,
                        const char *what) {
  hsize_t dims[3] = {(hsize_t)R, (hsize_t)E, (hsize_t)H};
  if (write_array(file, path, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, H > 0 ? 3 : 2, dims, data) < 0)
    return -1;
  return attr_str_on(file, path, "description", what);
}

static int fsync_path(const char *path, int directory) {
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* The sample order is a function of seed and epoch (ap_sample_order), so the host writes
 * it from the seeds rather than asking the backend what it did. */
static int write_order(hid_t file, const RunFile *f) {
  int R = f->ex->n_replicas, E = f->epochs_done;
  const char *names[2] = {"recordings/order_train", "recordings/order_val"};
  int per[2] = {f->n_train, f->n_val}, pool[2] = {f->n_train, f->n_valset};
  for (int phase = 0; phase < 2; phase++) {
    if (per[phase] == 0) continue;
    uint32_t *all = malloc((size_t)R * (size_t)E * (size_t)per[phase] * sizeof *all);
    uint32_t *perm = malloc((size_t)pool[phase] * sizeof *perm);
    if (!all || !perm) {
      free(all);
      free(perm);
      return -1;
    }
    for (int r = 0; r < R; r++)
      for (int e = 0; e < E; e++) {
        ap_sample_order(perm, (uint32_t)pool[phase], f->ex->replicas[r].seed, (uint32_t)e, (uint32_t)phase);
        memcpy(all + ((size_t)r * (size_t)E + (size_t)e) * (size_t)per[phase], perm,
               (size_t)per[phase] * sizeof *perm);
      }
    hsize_t dims[3] = {(hsize_t)R, (hsize_t)E, (hsize_t)per[phase]};
    int rc = write_array(file, names[phase], H5T_NATIVE_UINT32, H5T_STD_U32LE, 3, dims, all);
    if (!rc)
      rc = attr_str_on(file, names[phase], "description",
                       phase ? "validation samples in the order shown, per replica and epoch"
                             : "training samples in the order shown, per replica and epoch");
    free(all);
    free(perm);
    if (rc) return -1;
  }
  return 0;
}

ap_status runfile_write(const char *path, const RunFile *f, ApError *err) {
  quiet();
  const ApExperiment *ex = f->ex;
  const McLayout *lay = f->lay;
  int R = ex->n_replicas, E = ex->epochs, H = lay->dims.n_layers - 1;
  char tmp[AP_PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return ap_fail(err, AP_ERR_CANTCREAT, "%s: cannot create (HDF5)", tmp);
  int bad = 0;
  char when[64];
  time_t t = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  bad |= attr_str(file, "format", !strcmp(f->kind, "checkpoint") ? "apical-checkpoint" : "apical-results");
  bad |= attr_int(file, "format_version", AP_FILE_FORMAT_VERSION);
  bad |= attr_str(file, "apical_version", APICAL_VERSION);
  bad |= attr_str(file, "git_revision", APICAL_GIT_REV);
  bad |= attr_str(file, "backend", f->backend);
  bad |= attr_str(file, "model", ex->model);
  bad |= attr_str(file, "dataset", ex->dataset);
  bad |= attr_str(file, "written", when);
  bad |= attr_str(file, "command", f->command ? f->command : "");
  bad |= attr_str(file, "experiment_file", ex->file_text ? ex->file_text : "");
  bad |= attr_str(file, "experiment", f->dump);
  bad |= attr_int(file, "epochs_done", f->epochs_done);
  bad |= attr_int(file, "epochs", E);
  bad |= attr_int(file, "n_replicas", R);
  int dims_v[MC_MAX_LAYERS + 1];
  for (int l = 0; l <= lay->dims.n_layers; l++) dims_v[l] = lay->dims.n[l];
  hsize_t nd = (hsize_t)lay->dims.n_layers + 1;
  bad |= write_array(file, "dims", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &nd, dims_v);

  ParamCtx pc = {file, R, 0};
  config_for_each_param(ex, write_param, &pc);
  bad |= pc.failed;
  hsize_t rd = (hsize_t)R;
  bad |= write_array(file, "replicas/cohort", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &rd, f->cohort);

  const McMetrics *m = f->m;
  bad |= write_metric(file, "metrics/val_acc", m->val_acc, R, E, 0,
                      "validation accuracy per replica and epoch (NaN: not run yet)");
  bad |= write_metric(file, "metrics/val_mse", m->val_mse, R, E, 0,
                      "validation mean squared error of the readout against the target potentials");
  bad |= write_metric(file, "metrics/train_acc", m->train_acc, R, E, 0,
                      "accuracy of the readout during the training phase (teacher on)");
  if (H > 0) {
    bad |= write_metric(file, "metrics/selfpred/ff_weight_error", m->ff_err, R, E, H,
                        "MSE(W_ip, rho W_up(next)) at the end of the epoch");
    bad |= write_metric(file, "metrics/selfpred/fb_weight_error", m->fb_err, R, E, H,
                        "MSE(W_pi, -W_down) at the end of the epoch");
    bad |= write_metric(file, "metrics/selfpred/apical_error", m->api_err, R, E, H,
                        "||v_api|| (Frobenius over the layer), mean over the training steps");
    bad |= write_metric(file, "metrics/selfpred/interneuron_error", m->inn_err, R, E, H,
                        "MSE(phi(u_inn), phi(u_next)) of transmitted rates, mean over training steps");
  }

  /* state fields, canonical [R][...]; results keep the weights only */
  int full = !strcmp(f->kind, "checkpoint");
  float *buf = malloc((size_t)R * sizeof(float) * (size_t)(lay->n_floats > 0 ? lay->n_floats : 1));
  if (!buf) bad = 1;
  for (int i = 0; i < lay->n_fields && buf && !bad; i++) {
    const McField *fd = &lay->fields[i];
    if (!full && !fd->is_weight) continue;
    size_t count = (size_t)fd->shape[0] * (size_t)fd->shape[1];
    for (int r = 0; r < R; r++)
      memcpy(buf + (size_t)r * count, f->state + (size_t)r * (size_t)lay->n_floats + (size_t)fd->offset,
             count * sizeof(float));
    char p[96];
    snprintf(p, sizeof p, "%s/%s", full ? "state" : "weights", fd->name);
    hsize_t dims[3] = {(hsize_t)R, (hsize_t)fd->shape[0], (hsize_t)fd->shape[1]};
    bad |= write_array(file, p, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, fd->rank + 1, dims, buf);
  }
  free(buf);
  if (!full && ex->record_order && f->epochs_done > 0 && !bad) bad |= write_order(file, f);
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) bad = 1;
  if (H5Fclose(file) < 0) bad = 1;
  if (bad) {
    unlink(tmp);
    return ap_fail(err, AP_ERR_IO, "%s: writing the %s failed (disk full?)", tmp, f->kind);
  }
  if (fsync_path(tmp, 0) < 0 || rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return ap_fail(err, AP_ERR_IO, "%s: %s", path, strerror(e));
  }
  char dir[AP_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  fsync_path(dir, 1);
  return AP_OK;
}

/* ---- reading ------------------------------------------------------------------------ */

static int read_attr_int(hid_t file, const char *name, long long *out) {
  if (H5Aexists(file, name) <= 0) return -1;
  hid_t a = H5Aopen(file, name, H5P_DEFAULT);
  int rc = H5Aread(a, H5T_NATIVE_LLONG, out) < 0 ? -1 : 0;
  H5Aclose(a);
  return rc;
}

static char *read_attr_str(hid_t file, const char *name) {
  if (H5Aexists(file, name) <= 0) return NULL;
  hid_t a = H5Aopen(file, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  size_t n = H5Tget_size(t);
  char *s = NULL;
  if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) && (s = calloc(n + 1, 1))) {
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

/* Reads a float dataset whose shape must be exactly dims[0..rank-1]. */
static int read_floats(hid_t file, const char *path, int rank, const hsize_t *dims, float *out) {
  if (H5Lexists(file, path, H5P_DEFAULT) <= 0) return -1;
  hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
  if (d < 0) return -1;
  hid_t s = H5Dget_space(d);
  hsize_t have[4] = {0};
  int ok = H5Sget_simple_extent_ndims(s) == rank && H5Sget_simple_extent_dims(s, have, NULL) == rank;
  for (int i = 0; ok && i < rank; i++) ok = have[i] == dims[i];
  ok = ok && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
  H5Sclose(s);
  H5Dclose(d);
  return ok ? 0 : -1;
}

/* Reads metric [R][E_file](...[H]) and keeps the first `done` epochs in m's arrays. */
static int read_metric(hid_t file, const char *path, float *dst, int R, int E_file, int E, int H,
                       int done) {
  int w = H > 0 ? H : 1;
  float *tmp = malloc((size_t)R * (size_t)E_file * (size_t)w * sizeof *tmp);
  if (!tmp) return -1;
  hsize_t dims[3] = {(hsize_t)R, (hsize_t)E_file, (hsize_t)H};
  int rc = read_floats(file, path, H > 0 ? 3 : 2, dims, tmp);
  for (int r = 0; rc == 0 && r < R; r++)
    memcpy(dst + (size_t)r * (size_t)E * (size_t)w, tmp + (size_t)r * (size_t)E_file * (size_t)w,
           (size_t)done * (size_t)w * sizeof *tmp);
  free(tmp);
  return rc;
}

ap_status ckpt_read(const char *path, const McLayout *lay, int n_replicas, float *state,
                    McMetrics *m, int *epochs_done, char **dump, ApError *err) {
  quiet();
  *dump = NULL;
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return ap_fail(err, AP_ERR_DATA, "%s: not a readable HDF5 file", path);
  ap_status st = AP_OK;
  char *format = read_attr_str(file, "format");
  long long version = 0, done = 0, E_file = 0, R_file = 0;
  if (!format || strcmp(format, "apical-checkpoint") || read_attr_int(file, "format_version", &version) ||
      read_attr_int(file, "epochs_done", &done) || read_attr_int(file, "epochs", &E_file) ||
      read_attr_int(file, "n_replicas", &R_file)) {
    st = ap_fail(err, AP_ERR_DATA, "%s: not an apical checkpoint", path);
    goto out;
  }
  if (version != AP_FILE_FORMAT_VERSION) {
    st = ap_fail(err, AP_ERR_DATA, "%s: checkpoint format %lld, this apical reads %d", path, version,
                 AP_FILE_FORMAT_VERSION);
    goto out;
  }
  if (R_file != n_replicas || done > m->n_epochs || done > E_file || done < 0) {
    st = ap_fail(err, AP_ERR_DATA, "%s: holds %lld replicas after %lld epochs; this run has %d "
                 "replicas and %d epochs", path, R_file, done, n_replicas, m->n_epochs);
    goto out;
  }
  *dump = read_attr_str(file, "experiment");
  if (!*dump) {
    st = ap_fail(err, AP_ERR_DATA, "%s: no experiment attribute", path);
    goto out;
  }
  int R = n_replicas, H = lay->dims.n_layers - 1;
  float *buf = malloc((size_t)R * sizeof(float) * (size_t)lay->n_floats);
  if (!buf) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory reading %s", path);
    goto out;
  }
  for (int i = 0; i < lay->n_fields && !st; i++) {
    const McField *fd = &lay->fields[i];
    size_t count = (size_t)fd->shape[0] * (size_t)fd->shape[1];
    char p[96];
    snprintf(p, sizeof p, "state/%s", fd->name);
    hsize_t dims[3] = {(hsize_t)R, (hsize_t)fd->shape[0], (hsize_t)fd->shape[1]};
    if (read_floats(file, p, fd->rank + 1, dims, buf) < 0) {
      st = ap_fail(err, AP_ERR_DATA, "%s: /%s missing or of the wrong shape for dims of this run", path, p);
      break;
    }
    for (int r = 0; r < R; r++)
      memcpy(state + (size_t)r * (size_t)lay->n_floats + (size_t)fd->offset, buf + (size_t)r * count,
             count * sizeof(float));
  }
  free(buf);
  int E = m->n_epochs, ef = (int)E_file, d = (int)done;
  if (!st && (read_metric(file, "metrics/val_acc", m->val_acc, R, ef, E, 0, d) ||
              read_metric(file, "metrics/val_mse", m->val_mse, R, ef, E, 0, d) ||
              read_metric(file, "metrics/train_acc", m->train_acc, R, ef, E, 0, d) ||
              (H > 0 && (read_metric(file, "metrics/selfpred/ff_weight_error", m->ff_err, R, ef, E, H, d) ||
                         read_metric(file, "metrics/selfpred/fb_weight_error", m->fb_err, R, ef, E, H, d) ||
                         read_metric(file, "metrics/selfpred/apical_error", m->api_err, R, ef, E, H, d) ||
                         read_metric(file, "metrics/selfpred/interneuron_error", m->inn_err, R, ef, E, H, d)))))
    st = ap_fail(err, AP_ERR_DATA, "%s: metrics missing or of the wrong shape", path);
  *epochs_done = (int)done;
out:
  free(format);
  H5Fclose(file);
  if (st && *dump) {
    free(*dump);
    *dump = NULL;
  }
  return st;
}
