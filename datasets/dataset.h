/* Classification datasets in host memory. Images are float32 in [0, 1] (signed after
 * ds_center), row-major; labels are class indices. Nothing here knows about models. */
#ifndef AP_DATASET_H
#define AP_DATASET_H

#include "../kernels/core/ap_data.h"
#include "../kernels/core/ap_defs.h"

#include <stdint.h>

typedef struct ApDataset {
  char name[64];
  int n_in, n_classes;
  int n_train, n_val;
  float *x_train; /* [S_train][n_in] */
  int *y_train;   /* [S_train] */
  float *x_val;   /* [S_val][n_in]; may alias x_train */
  int *y_val;
} ApDataset;

/* Bars (MODELS.md §1): 3x3 images with pixels 0/1, 8 samples in 3 classes, in the
 * reference's order: rows bottom, middle, top (class 0); columns right, middle, left
 * (class 1); the main and the anti diagonal (class 2). Train = validation. */
ap_status ds_bars(ApDataset *ds, ApError *err);

/* n samples of n_in uniform [0, 1) inputs with uniform labels, drawn from seed (for the
 * self-prediction pre-training, which needs inputs and no teacher). Train = validation. */
ap_status ds_random(ApDataset *ds, int n, int n_in, int n_classes, uint64_t seed, ApError *err);

/* Training and test images and labels from IDX files (raw or gzip); at most max_train /
 * max_val samples of each (0: all). Pixels are scaled by 1/255. */
ap_status ds_idx(ApDataset *ds, const char *train_images, const char *train_labels,
                 const char *val_images, const char *val_labels, int max_train, int max_val,
                 ApError *err);

/* Subtracts from every training and test image each pixel's mean over the training
 * images, summed in double in file order (the same bits on every machine). Pixels that
 * are 0 in every training image stay 0; the others become signed. */
void ds_center(ApDataset *ds);

void ds_free(ApDataset *ds);

/* The dataset as models see it. */
static inline ApData ds_view(const ApDataset *ds) {
  ApData d = {ds->n_in,    ds->n_classes, ds->n_train, ds->n_val,
              ds->x_train, ds->y_train,   ds->x_val,   ds->y_val};
  return d;
}

#endif
