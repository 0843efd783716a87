/* IDX files (the MNIST format): a big-endian header (0, 0, type, number of dimensions,
 * then one uint32 per dimension) followed by the data. zlib reads raw and gzip files
 * alike. Only unsigned-byte data (type 0x08) occurs in MNIST and Fashion-MNIST. */
#include "dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct Idx {
  int rank;
  uint32_t dim[4];
  unsigned char *data;
  size_t count; /* dim[0] items */
  size_t item;  /* bytes per item */
} Idx;

static ap_status idx_read(Idx *out, const char *path, int want_rank, size_t max_items,
                          ApError *err) {
  memset(out, 0, sizeof *out);
  FILE *probe = fopen(path, "rb");
  if (!probe)
    return ap_fail(err, errno == ENOENT ? AP_ERR_NOINPUT : AP_ERR_IO, "%s: %s", path,
                   strerror(errno));
  fclose(probe);
  gzFile f = gzopen(path, "rb");
  if (!f) return ap_fail(err, AP_ERR_IO, "%s: cannot open", path);
  ap_status st = AP_OK;
  unsigned char head[4];
  if (gzread(f, head, 4) != 4) {
    st = ap_fail(err, AP_ERR_DATA, "%s: truncated IDX header", path);
    goto done;
  }
  if (head[0] != 0 || head[1] != 0) {
    st = ap_fail(err, AP_ERR_DATA, "%s: not an IDX file (magic %02x%02x%02x%02x)", path, head[0],
                 head[1], head[2], head[3]);
    goto done;
  }
  if (head[2] != 0x08) {
    st = ap_fail(err, AP_ERR_DATA, "%s: IDX data type 0x%02x, only unsigned bytes (0x08) are read",
                 path, head[2]);
    goto done;
  }
  if (head[3] != want_rank) {
    st = ap_fail(err, AP_ERR_DATA, "%s: %d dimensions, expected %d (%s)", path, head[3], want_rank,
                 want_rank == 1 ? "labels" : "images");
    goto done;
  }
  out->rank = head[3];
  unsigned char dims[16];
  if (gzread(f, dims, 4u * (unsigned)out->rank) != 4 * out->rank) {
    st = ap_fail(err, AP_ERR_DATA, "%s: truncated IDX header", path);
    goto done;
  }
  out->item = 1;
  for (int i = 0; i < out->rank; i++) {
    out->dim[i] = (uint32_t)dims[4 * i] << 24 | (uint32_t)dims[4 * i + 1] << 16 |
                  (uint32_t)dims[4 * i + 2] << 8 | dims[4 * i + 3];
    if (out->dim[i] == 0 || (i > 0 && out->dim[i] > 65536)) {
      st = ap_fail(err, AP_ERR_DATA, "%s: dimension %d has size %u", path, i, out->dim[i]);
      goto done;
    }
    if (i > 0) out->item *= out->dim[i];
  }
  out->count = out->dim[0];
  if (max_items && out->count > max_items) out->count = max_items;
  size_t bytes = out->count * out->item;
  out->data = malloc(bytes);
  if (!out->data) {
    st = ap_fail(err, AP_ERR_OSERR, "%s: out of memory for %zu bytes", path, bytes);
    goto done;
  }
  size_t got = 0;
  while (got < bytes) {
    unsigned chunk = bytes - got > (1u << 30) ? (1u << 30) : (unsigned)(bytes - got);
    int n = gzread(f, out->data + got, chunk);
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (got < bytes) {
    int zerr = 0;
    const char *zmsg = gzerror(f, &zerr);
    if (zerr < 0)
      st = ap_fail(err, AP_ERR_DATA, "%s: corrupt gzip stream (%s)", path, zmsg);
    else
      st = ap_fail(err, AP_ERR_DATA,
                   "%s: truncated: the header promises %zu items, the file holds %zu", path,
                   out->count, got / out->item);
  }
done:
  gzclose(f);
  if (st) {
    free(out->data);
    out->data = NULL;
  }
  return st;
}

static ap_status idx_pair(const char *images, const char *labels, size_t max, Idx *im, Idx *lb,
                          ApError *err) {
  ap_status st = idx_read(im, images, 3, max, err);
  if (st) return st;
  st = idx_read(lb, labels, 1, max, err);
  if (st) {
    free(im->data);
    return st;
  }
  if (im->dim[0] != lb->dim[0]) {
    free(im->data);
    free(lb->data);
    return ap_fail(err, AP_ERR_DATA, "%s holds %u images but %s holds %u labels", images,
                   im->dim[0], labels, lb->dim[0]);
  }
  return AP_OK;
}

ap_status ds_idx(ApDataset *ds, const char *train_images, const char *train_labels,
                 const char *val_images, const char *val_labels, int max_train, int max_val,
                 ApError *err) {
  memset(ds, 0, sizeof *ds);
  snprintf(ds->name, sizeof ds->name, "idx");
  Idx ti, tl, vi, vl;
  ap_status st =
      idx_pair(train_images, train_labels, (size_t)(max_train > 0 ? max_train : 0), &ti, &tl, err);
  if (st) return st;
  st = idx_pair(val_images, val_labels, (size_t)(max_val > 0 ? max_val : 0), &vi, &vl, err);
  if (st) {
    free(ti.data);
    free(tl.data);
    return st;
  }
  if (vi.item != ti.item) {
    st = ap_fail(err, AP_ERR_DATA, "%s has %zu pixels per image, %s has %zu", train_images, ti.item,
                 val_images, vi.item);
    goto out;
  }
  ds->n_in = (int)ti.item;
  ds->n_train = (int)ti.count;
  ds->n_val = (int)vi.count;
  ds->x_train = malloc(ti.count * ti.item * sizeof(float));
  ds->x_val = malloc(vi.count * vi.item * sizeof(float));
  ds->y_train = malloc(ti.count * sizeof(int));
  ds->y_val = malloc(vi.count * sizeof(int));
  if (!ds->x_train || !ds->x_val || !ds->y_train || !ds->y_val) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory for the IDX dataset");
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
  free(ti.data);
  free(tl.data);
  free(vi.data);
  free(vl.data);
  if (st) ds_free(ds);
  return st;
}
