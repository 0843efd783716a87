/* A classification dataset as the models see it: counts and pointers, nothing owned.
 * datasets/ fills it (Bars, IDX, random inputs); a backend may point it at device copies.
 * Models without data (LIF networks) get one with zero counts. */
#ifndef AP_DATA_H
#define AP_DATA_H

typedef struct ApData {
  int n_in, n_classes;
  int n_train, n_val;   /* samples in the training and the validation (test) set */
  const float *x_train; /* [S_train][n_in], pixels in [0, 1] ([data] center: signed) */
  const int *y_train;   /* [S_train] class indices */
  const float *x_val;   /* [S_val][n_in]; may alias x_train (Bars) */
  const int *y_val;     /* [S_val] */
} ApData;

#endif
