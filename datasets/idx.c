/* IDX files (the MNIST format): a big-endian header (0, 0, type, number of dimensions,
 * then one uint32 per dimension) followed by the data. zlib reads raw and gzip files
 * alike. Only unsigned-byte data (type 0x08) occurs in MNIST and Fashion-MNIST.
 *
 * A header is never trusted with memory: both headers of an image/label pair are read
 * and compared first, a raw file's size must hold what its header promises, and data is
 * read in chunks into a buffer that grows with what actually arrives. */
#include "dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define CHUNK (1u << 20)

typedef struct Idx {
  const char *path;
  gzFile f;
  int rank;
  uint32_t dim[4];
  size_t item;  /* bytes per item (the product of the dimensions after the first) */
  size_t count; /* items to read */
  unsigned char *data;
} Idx;

static void idx_close(Idx *x) {
  if (x->f) gzclose(x->f);
  free(x->data);
  x->f = NULL;
  x->data = NULL;
}

/* The reason a gzread came up short: a corrupt stream, or the end of the data. */
static ap_status short_read(Idx *x, const char *what, ApError *err) {
  int zerr = 0;
  const char *msg = gzerror(x->f, &zerr);
  if (zerr < 0 && zerr != Z_BUF_ERROR)
    return ap_fail(err, AP_ERR_DATA, "%s: corrupt gzip stream (%s)", x->path, msg);
  return ap_fail(err, AP_ERR_DATA, "%s: %s", x->path, what);
}

/* Opens path and reads its header; checks the type and the rank. */
static ap_status idx_open(Idx *x, const char *path, int want_rank, ApError *err) {
  memset(x, 0, sizeof *x);
  x->path = path;
  struct stat sb;
  if (stat(path, &sb) < 0)
    return ap_fail(err, errno == ENOENT ? AP_ERR_NOINPUT : AP_ERR_IO, "%s: %s", path,
                   strerror(errno));
  if (!(x->f = gzopen(path, "rb"))) return ap_fail(err, AP_ERR_IO, "%s: cannot open", path);
  unsigned char head[4], dims[16];
  if (gzread(x->f, head, 4) != 4) return short_read(x, "truncated IDX header", err);
  if (head[0] != 0 || head[1] != 0)
    return ap_fail(err, AP_ERR_DATA, "%s: not an IDX file (magic %02x%02x%02x%02x)", path, head[0],
                   head[1], head[2], head[3]);
  if (head[2] != 0x08)
    return ap_fail(err, AP_ERR_DATA,
                   "%s: IDX data type 0x%02x, only unsigned bytes (0x08) are read", path, head[2]);
  if (head[3] != want_rank)
    return ap_fail(err, AP_ERR_DATA, "%s: %d dimensions, expected %d (%s)", path, head[3],
                   want_rank, want_rank == 1 ? "labels" : "images");
  x->rank = head[3];
  if (gzread(x->f, dims, 4u * (unsigned)x->rank) != 4 * x->rank)
    return short_read(x, "truncated IDX header", err);
  x->item = 1;
  for (int i = 0; i < x->rank; i++) {
    x->dim[i] = (uint32_t)dims[4 * i] << 24 | (uint32_t)dims[4 * i + 1] << 16 |
                (uint32_t)dims[4 * i + 2] << 8 | dims[4 * i + 3];
    if (x->dim[i] == 0 || (i > 0 && x->dim[i] > 65536))
      return ap_fail(err, AP_ERR_DATA, "%s: dimension %d has size %u", path, i, x->dim[i]);
    if (i > 0) x->item *= x->dim[i];
  }
  if (x->item > (size_t)1 << 24)
    return ap_fail(err, AP_ERR_DATA, "%s: %zu bytes per item, more than an image can have", path,
                   x->item);
  /* a raw file must hold what its header promises (a gzip file shows it while reading) */
  size_t header = 4 + 4 * (size_t)x->rank;
  double promised = (double)header + (double)x->dim[0] * (double)x->item;
  if (gzdirect(x->f) && (double)sb.st_size < promised) {
    size_t held = (size_t)sb.st_size > header ? ((size_t)sb.st_size - header) / x->item : 0;
    return ap_fail(err, AP_ERR_DATA,
                   "%s: truncated: the header promises %u items, the file holds %zu", path,
                   x->dim[0], held);
  }
  x->count = x->dim[0];
  return AP_OK;
}

/* Reads x->count items in chunks; the buffer grows only with data that arrived. */
static ap_status idx_read_data(Idx *x, ApError *err) {
  size_t want = x->count * x->item, got = 0, cap = 0;
  while (got < want) {
    size_t step = want - got < CHUNK ? want - got : CHUNK;
    if (got + step > cap) {
      size_t next = cap ? 2 * cap : step;
      next = next < got + step ? got + step : next;
      next = next > want ? want : next;
      unsigned char *d = realloc(x->data, next);
      if (!d) return ap_fail(err, AP_ERR_OSERR, "%s: out of memory for %zu bytes", x->path, next);
      x->data = d;
      cap = next;
    }
    int n = gzread(x->f, x->data + got, (unsigned)step);
    if (n <= 0) {
      char what[160];
      snprintf(what, sizeof what, "truncated: the header promises %zu items, the file holds %zu",
               x->count, got / x->item);
      return short_read(x, what, err);
    }
    got += (size_t)n;
  }
  return AP_OK;
}

/* An image file and its label file: headers first, counts compared, then at most max
 * items (0: all) of each. */
static ap_status idx_pair(const char *images, const char *labels, size_t max, Idx *im, Idx *lb,
                          ApError *err) {
  ap_status st = idx_open(im, images, 3, err);
  if (!st) st = idx_open(lb, labels, 1, err);
  if (!st && im->dim[0] != lb->dim[0])
    st = ap_fail(err, AP_ERR_DATA, "%s holds %u images but %s holds %u labels", images, im->dim[0],
                 labels, lb->dim[0]);
  if (!st && max && im->count > max) im->count = lb->count = max;
  if (!st) st = idx_read_data(im, err);
  if (!st) st = idx_read_data(lb, err);
  if (im->f) gzclose(im->f), im->f = NULL;
  if (lb->f) gzclose(lb->f), lb->f = NULL;
  return st;
}

ap_status ds_idx(ApDataset *ds, const char *train_images, const char *train_labels,
                 const char *val_images, const char *val_labels, int max_train, int max_val,
                 ApError *err) {
  memset(ds, 0, sizeof *ds);
  snprintf(ds->name, sizeof ds->name, "idx");
  Idx ti = {0}, tl = {0}, vi = {0}, vl = {0};
  ap_status st =
      idx_pair(train_images, train_labels, (size_t)(max_train > 0 ? max_train : 0), &ti, &tl, err);
  if (!st)
    st = idx_pair(val_images, val_labels, (size_t)(max_val > 0 ? max_val : 0), &vi, &vl, err);
  if (!st && vi.item != ti.item)
    st = ap_fail(err, AP_ERR_DATA, "%s has %zu pixels per image, %s has %zu", train_images, ti.item,
                 val_images, vi.item);
  if (!st && (ti.count > (size_t)1 << 30 || vi.count > (size_t)1 << 30))
    st = ap_fail(err, AP_ERR_DATA, "%s: more than 2^30 samples",
                 ti.count > vi.count ? train_images : val_images);
  if (st) goto out;
  ds->n_in = (int)ti.item;
  ds->n_train = (int)ti.count;
  ds->n_val = (int)vi.count;
  ds->x_train = malloc(ti.count * ti.item * sizeof(float));
  ds->x_val = malloc(vi.count * vi.item * sizeof(float));
  ds->y_train = malloc(ti.count * sizeof(int));
  ds->y_val = malloc(vi.count * sizeof(int));
  if (!ds->x_train || !ds->x_val || !ds->y_train || !ds->y_val) {
    st = ap_fail(err, AP_ERR_OSERR,
                 "out of memory for the IDX dataset (%zu and %zu samples of %zu pixels)", ti.count,
                 vi.count, ti.item);
    goto out;
  }
  for (size_t i = 0; i < ti.count * ti.item; i++) ds->x_train[i] = ti.data[i] / 255.0f;
  for (size_t i = 0; i < vi.count * vi.item; i++) ds->x_val[i] = vi.data[i] / 255.0f;
  int max_label = 0;
  for (size_t i = 0; i < ti.count; i++) {
    ds->y_train[i] = tl.data[i];
    max_label = tl.data[i] > max_label ? tl.data[i] : max_label;
  }
  for (size_t i = 0; i < vi.count; i++) {
    ds->y_val[i] = vl.data[i];
    max_label = vl.data[i] > max_label ? vl.data[i] : max_label;
  }
  ds->n_classes = max_label + 1;
out:
  idx_close(&ti), idx_close(&tl), idx_close(&vi), idx_close(&vl);
  if (st) ds_free(ds);
  return st;
}
