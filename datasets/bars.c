#include "dataset.h"

#include "../kernels/core/ap_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ap_status alloc_shared(ApDataset *ds, int n, int n_in, ApError *err) {
  ds->x_train = calloc((size_t)n * (size_t)n_in, sizeof *ds->x_train);
  ds->y_train = calloc((size_t)n, sizeof *ds->y_train);
  if (!ds->x_train || !ds->y_train) {
    ds_free(ds);
    return ap_fail(err, AP_ERR_OSERR, "out of memory for a dataset of %d samples", n);
  }
  ds->n_in = n_in;
  ds->n_train = ds->n_val = n;
  ds->x_val = ds->x_train;
  ds->y_val = ds->y_train;
  return AP_OK;
}

ap_status ds_bars(ApDataset *ds, ApError *err) {
  memset(ds, 0, sizeof *ds);
  snprintf(ds->name, sizeof ds->name, "bars");
  ap_status st = alloc_shared(ds, 8, 9, err);
  if (st) return st;
  ds->n_classes = 3;
  for (int k = 0; k < 3; k++) {
    int row = 2 - k, col = 2 - k; /* bottom/right first, as the reference sorts them */
    for (int j = 0; j < 3; j++) {
      ds->x_train[k * 9 + row * 3 + j] = 1.0f;
      ds->x_train[(3 + k) * 9 + j * 3 + col] = 1.0f;
    }
    ds->y_train[k] = 0;
    ds->y_train[3 + k] = 1;
  }
  for (int j = 0; j < 3; j++) {
    ds->x_train[6 * 9 + j * 3 + j] = 1.0f;       /* main diagonal */
    ds->x_train[7 * 9 + j * 3 + (2 - j)] = 1.0f; /* anti diagonal */
  }
  ds->y_train[6] = ds->y_train[7] = 2;
  return AP_OK;
}

ap_status ds_random(ApDataset *ds, int n, int n_in, int n_classes, uint64_t seed, ApError *err) {
  memset(ds, 0, sizeof *ds);
  snprintf(ds->name, sizeof ds->name, "random");
  if (n < 1 || n_in < 1 || n_classes < 1)
    return ap_fail(err, AP_ERR_CONFIG, "random dataset needs positive sizes");
  ap_status st = alloc_shared(ds, n, n_in, err);
  if (st) return st;
  ds->n_classes = n_classes;
  /* sample s draws its inputs and then its label from (seed, data, s, i) */
  for (int s = 0; s < n; s++) {
    for (int i = 0; i <= n_in; i++) {
      uint32_t x = ap_rng_u32(seed, AP_RNG_DATA, (uint32_t)s, (uint32_t)i, 0);
      if (i < n_in)
        ds->x_train[(size_t)s * (size_t)n_in + (size_t)i] = ap_u01(x);
      else
        ds->y_train[s] = (int)ap_below(x, (uint32_t)n_classes);
    }
  }
  return AP_OK;
}

void ds_center(ApDataset *ds) {
  int n = ds->n_in;
  if (ds->n_train < 1) return;
  for (int j = 0; j < n; j++) {
    double sum = 0.0;
    for (int s = 0; s < ds->n_train; s++) sum += ds->x_train[(size_t)s * n + j];
    float mean = (float)(sum / ds->n_train);
    for (int s = 0; s < ds->n_train; s++) ds->x_train[(size_t)s * n + j] -= mean;
    if (ds->x_val != ds->x_train)
      for (int s = 0; s < ds->n_val; s++) ds->x_val[(size_t)s * n + j] -= mean;
  }
}

void ds_free(ApDataset *ds) {
  if (ds->x_val != ds->x_train) free(ds->x_val);
  if (ds->y_val != ds->y_train) free(ds->y_val);
  free(ds->x_train);
  free(ds->y_train);
  ds->x_train = ds->x_val = NULL;
  ds->y_train = ds->y_val = NULL;
}
