#include "session.h"

#include "kernels/ap_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static ap_status load_dataset(const ApExperiment *ex, ApDataset *ds, ApError *err) {
  if (!strcmp(ex->dataset, "bars")) return ds_bars(ds, err);
  if (!strcmp(ex->dataset, "random"))
    return ds_random(ds, ex->random_samples, ex->dims.n[0], ex->dims.n[ex->dims.n_layers],
                     ex->random_seed, err);
  if (!ex->train_images[0] || !ex->train_labels[0] || !ex->test_images[0] || !ex->test_labels[0])
    return ap_fail(err, AP_ERR_NOINPUT,
                   "dataset idx needs [data] train_images, train_labels, test_images and "
                   "test_labels, or APICAL_MNIST_DIR pointing to a folder with the MNIST files");
  ap_status st = ds_idx(ds, ex->train_images, ex->train_labels, ex->test_images, ex->test_labels,
                        ex->max_train, ex->max_val, err);
  if (st) return st;
  if (ds->n_in != ex->dims.n[0] || ds->n_classes > ex->dims.n[ex->dims.n_layers]) {
    st = ap_fail(err, AP_ERR_CONFIG, "the data has %d inputs and %d classes; dims must start with "
                 "%d and end with at least %d", ds->n_in, ds->n_classes, ds->n_in, ds->n_classes);
    ds_free(ds);
  }
  return st;
}

static ap_status metrics_alloc(Session *s, ApError *err) {
  int H = s->lay.dims.n_layers - 1;
  size_t re = (size_t)s->R * (size_t)s->E, reh = re * (size_t)(H > 0 ? H : 1);
  s->metrics_pool = malloc((3 * re + 4 * reh) * sizeof(float));
  if (!s->metrics_pool) return ap_fail(err, AP_ERR_OSERR, "out of memory for the metrics");
  for (size_t i = 0; i < 3 * re + 4 * reh; i++) s->metrics_pool[i] = NAN;
  McMetrics *m = &s->m;
  m->n_epochs = s->E;
  m->val_acc = s->metrics_pool;
  m->val_mse = m->val_acc + re;
  m->train_acc = m->val_mse + re;
  m->ff_err = m->train_acc + re;
  m->fb_err = m->ff_err + reh;
  m->api_err = m->fb_err + reh;
  m->inn_err = m->api_err + reh;
  return AP_OK;
}

ap_status session_open(Session *s, const ApExperiment *ex, const ApBackend *be, ApError *err) {
  memset(s, 0, sizeof *s);
  s->ex = ex;
  s->be = be;
  s->R = ex->n_replicas;
  s->E = ex->epochs;
  ap_status st = load_dataset(ex, &s->ds, err);
  if (st) return st;
  const ApDataset *ds = &s->ds;
  s->data = (McData){ds->n_in, ds->n_classes, ds->n_train, ds->n_val,
                     ds->x_train, ds->y_train, ds->x_val, ds->y_val};
  s->n_val = ex->val_samples < 0 ? s->data.n_valset : ex->val_samples;
  if (s->n_val > s->data.n_valset) {
    st = ap_fail(err, AP_ERR_CONFIG, "[train] val_samples = %d, but the validation set has %d samples",
                 s->n_val, s->data.n_valset);
    goto fail;
  }
  mc_layout_init(&s->lay, &ex->dims);
  size_t n = (size_t)s->R * (size_t)s->lay.n_floats;
  s->state = malloc(n * sizeof *s->state);
  s->scratch = malloc(n * sizeof *s->scratch);
  s->cohort_of = malloc((size_t)s->R * sizeof *s->cohort_of);
  s->cohorts = calloc((size_t)s->R, sizeof *s->cohorts);
  s->handles = calloc((size_t)s->R, sizeof *s->handles);
  uint32_t *perm = malloc((size_t)s->data.n_train * sizeof *perm);
  if (!s->state || !s->scratch || !s->cohort_of || !s->cohorts || !s->handles || !perm) {
    free(perm);
    st = ap_fail(err, AP_ERR_OSERR, "out of memory for %d replicas", s->R);
    goto fail;
  }
  if ((st = metrics_alloc(s, err))) {
    free(perm);
    goto fail;
  }
  for (int r = 0; r < s->R; r++) {
    ap_sample_order(perm, (uint32_t)s->data.n_train, ex->replicas[r].seed, 0, 0);
    mc_state_init(s->state + (size_t)r * (size_t)s->lay.n_floats, &s->lay, &ex->replicas[r],
                  &s->data, ex->teacher, perm[0]);
  }
  free(perm);

  /* cohorts: replicas grouped by schedule, in order of first appearance */
  for (int r = 0; r < s->R; r++) {
    int c = 0;
    while (c < s->n_cohorts && s->cohorts[c].t_pres != ex->replicas[r].t_pres) c++;
    if (c == s->n_cohorts) s->cohorts[s->n_cohorts++].t_pres = ex->replicas[r].t_pres;
    s->cohort_of[r] = c;
    s->cohorts[c].n++;
  }
  for (int c = 0; c < s->n_cohorts; c++) {
    SessionCohort *co = &s->cohorts[c];
    co->ids = malloc((size_t)co->n * sizeof *co->ids);
    co->params = malloc((size_t)co->n * sizeof *co->params);
    if (!co->ids || !co->params) {
      st = ap_fail(err, AP_ERR_OSERR, "out of memory");
      goto fail;
    }
    int k = 0;
    for (int r = 0; r < s->R; r++)
      if (s->cohort_of[r] == c) {
        co->ids[k] = r;
        co->params[k++] = ex->replicas[r];
      }
    McCohortSpec spec = {s->lay,
                         {co->t_pres, ex->teacher, ex->learning, s->n_val, ex->reset_between_samples},
                         co->n, co->params, co->ids};
    if ((st = be->cohort_create(&spec, &s->data, &co->c, err))) goto fail;
    s->handles[c] = co->c;
    s->steps_per_epoch += (double)co->n * (double)co->t_pres * (double)(s->data.n_train + s->n_val);
  }
  if ((st = session_push(s, err))) goto fail;
  return AP_OK;
fail:
  session_close(s);
  return st;
}

ap_status session_push(Session *s, ApError *err) {
  size_t nf = (size_t)s->lay.n_floats;
  for (int c = 0; c < s->n_cohorts; c++) {
    const SessionCohort *co = &s->cohorts[c];
    for (int k = 0; k < co->n; k++)
      memcpy(s->scratch + (size_t)k * nf, s->state + (size_t)co->ids[k] * nf, nf * sizeof(float));
    ap_status st = s->be->state_set(co->c, s->scratch, err);
    if (st) return st;
  }
  return AP_OK;
}

ap_status session_pull(Session *s, ApError *err) {
  size_t nf = (size_t)s->lay.n_floats;
  for (int c = 0; c < s->n_cohorts; c++) {
    const SessionCohort *co = &s->cohorts[c];
    ap_status st = s->be->state_get(co->c, s->scratch, err);
    if (st) return st;
    for (int k = 0; k < co->n; k++)
      memcpy(s->state + (size_t)co->ids[k] * nf, s->scratch + (size_t)k * nf, nf * sizeof(float));
  }
  return AP_OK;
}

ap_status session_run(Session *s, int e0, int e1, ApError *err) {
  return s->be->run_epochs(s->handles, s->n_cohorts, e0, e1, &s->m, err);
}

void session_close(Session *s) {
  for (int c = 0; s->cohorts && c < s->n_cohorts; c++) {
    if (s->cohorts[c].c) s->be->cohort_destroy(s->cohorts[c].c);
    free(s->cohorts[c].ids);
    free(s->cohorts[c].params);
  }
  free(s->cohorts);
  free(s->handles);
  free(s->cohort_of);
  free(s->state);
  free(s->scratch);
  free(s->metrics_pool);
  ds_free(&s->ds);
  memset(s, 0, sizeof *s);
}
