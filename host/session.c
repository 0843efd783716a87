#include "session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ap_status session_load_dataset(const ApExperiment *ex, ApDataset *ds, ApError *err) {
  const ApModel *m = ex->model;
  memset(ds, 0, sizeof *ds);
  if (!m->io) return AP_OK; /* the model takes no data */
  int n_in, n_out;
  m->io(ex->base, &n_in, &n_out);
  if (!strcmp(ex->dataset, "bars")) return ds_bars(ds, err);
  if (!strcmp(ex->dataset, "random"))
    return ds_random(ds, ex->random_samples, n_in, n_out, ex->random_seed, err);
  if (!ex->train_images[0] || !ex->train_labels[0] || !ex->test_images[0] || !ex->test_labels[0])
    return ap_fail(err, AP_ERR_NOINPUT,
                   "dataset idx needs [data] train_images, train_labels, test_images and "
                   "test_labels, or APICAL_MNIST_DIR pointing to a folder with the MNIST files");
  ap_status st = ds_idx(ds, ex->train_images, ex->train_labels, ex->test_images, ex->test_labels,
                        ex->max_train, ex->max_val, err);
  if (st) return st;
  if (ex->center) ds_center(ds);
  if (ds->n_in != n_in || ds->n_classes > n_out) {
    st = ap_fail(err, AP_ERR_CONFIG,
                 "the data has %d inputs and %d classes; the network takes %d inputs and "
                 "has %d outputs (set [model] dims to start with %d and end with at least %d)",
                 ds->n_in, ds->n_classes, n_in, n_out, ds->n_in, ds->n_classes);
    ds_free(ds);
  }
  return st;
}

/* Whether name is one of the '|'-separated versions (NULL: none), or one of them with a
 * launch shape after a colon, "wide:3" (the implementation reads the number). */
static int version_listed(const char *versions, const char *name) {
  size_t n = strcspn(name, ":");
  if (name[n] && (!name[n + 1] || strspn(name + n + 1, "0123456789") != strlen(name + n + 1)))
    return 0;
  for (const char *v = versions; v && *v;) {
    size_t len = strcspn(v, "|");
    if (len == n && !strncmp(v, name, n)) return 1;
    v += len + (v[len] == '|');
  }
  return 0;
}

/* A kernel version the host was asked for (--cpu-kernel, --cuda-kernel) against the
 * versions the model's implementation on that backend offers in this build. */
static ap_status check_version(const ApModel *m, const char *backend, const char *option,
                               const char *name, ApError *err) {
  if (!name || !*name || !strcmp(name, "auto")) return AP_OK;
  const ApModelImpl *impl = m->impl(backend);
  if (!impl) return AP_OK; /* not on that backend here: choosing the backend says so */
  if (version_listed(impl->versions, name)) return AP_OK;
  char list[160] = "";
  for (const char *v = impl->versions; v && *v;) {
    size_t len = strcspn(v, "|");
    snprintf(list + strlen(list), sizeof list - strlen(list), ", %.*s", (int)len, v);
    v += len + (v[len] == '|');
  }
  return ap_fail(err, AP_ERR_USAGE, "%s %s: model %s's %s kernels in this build are auto%s", option,
                 name, m->name, backend, list);
}

ap_status session_check(const ApExperiment *ex, const ApBackend *be, const ApExec *exec,
                        const ApData *data, ApError *err) {
  const ApModel *m = ex->model;
  if (!m->impl(be->name))
    return ap_fail(err, AP_ERR_UNAVAILABLE, "model %s has no %s implementation", m->name, be->name);
  ap_status st = AP_OK;
  if (exec) st = check_version(m, "cpu", "--cpu-kernel", exec->cpu_version, err);
  if (!st && exec) st = check_version(m, "cuda", "--cuda-kernel", exec->cuda_version, err);
  for (int r = 0; r < ex->n_replicas && !st; r++) {
    ApError why = {{0}};
    if (m->check(config_params(ex, r), data, &why))
      st = ap_fail(err, AP_ERR_CONFIG, "replica %d: %s", r, why.msg);
  }
  return st;
}

static ap_status open_on(Session *s, const ApExperiment *ex, const ApBackend *be,
                         const ApExec *exec, ApError *err);

ap_status session_open(Session *s, const ApExperiment *ex, const ApBackend *be, const ApExec *exec,
                       ApError *err) {
  memset(s, 0, sizeof *s);
  ap_status st = session_load_dataset(ex, &s->ds, err);
  if (st) return st;
  s->data = ds_view(&s->ds);
  return open_on(s, ex, be, exec, err);
}

ap_status session_open_view(Session *s, const ApExperiment *ex, const ApBackend *be,
                            const ApExec *exec, const ApData *data, ApError *err) {
  memset(s, 0, sizeof *s);
  s->data = *data;
  return open_on(s, ex, be, exec, err);
}

/* The rest of session_open, on s->data (s->ds, when it holds the data, is freed with s). */
static ap_status open_on(Session *s, const ApExperiment *ex, const ApBackend *be,
                         const ApExec *exec, ApError *err) {
  s->ex = ex;
  s->model = ex->model;
  s->be = be;
  s->exec = exec ? *exec : (ApExec){.threads = 0};
  s->lay = &ex->layout;
  s->R = ex->n_replicas;
  s->E = ex->epochs;
  const ApModel *m = ex->model;
  size_t psz = m->params_size, nf = (size_t)s->lay->n_floats, F = (size_t)s->lay->series_width;
  ap_status st = AP_OK;
  if ((st = session_check(ex, be, NULL, &s->data, err))) goto fail;
  s->impl = m->impl(be->name);
  size_t cells = (size_t)s->R * (size_t)s->E * F;
  s->state = malloc((size_t)s->R * nf * sizeof *s->state);
  s->series = malloc((cells ? cells : 1) * sizeof *s->series);
  s->cohort_of = malloc((size_t)s->R * sizeof *s->cohort_of);
  if (!s->state || !s->series || !s->cohort_of) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory for %d replicas", s->R);
    goto fail;
  }
  for (size_t i = 0; i < cells; i++) s->series[i] = NAN;
  s->units = 1;
  for (int r = 0; r < s->R; r++) {
    m->init(s->state + (size_t)r * nf, config_params(ex, r), &s->data);
    s->steps_per_record += m->cost(config_params(ex, r), &s->data);
    long long u = m->units ? m->units(config_params(ex, r), &s->data) : 1;
    s->units = r == 0 ? u : u == s->units ? u : 1; /* unequal: records are not cut */
  }
  if (s->units < 1) s->units = 1;

  /* cohorts: replicas grouped by the model's cohort key, in order of first appearance */
  s->n_cohorts = config_cohorts(ex, s->cohort_of);
  if (s->n_cohorts < 0) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto fail;
  }
  s->cohorts = calloc((size_t)s->n_cohorts, sizeof *s->cohorts);
  s->handles = calloc((size_t)s->n_cohorts, sizeof *s->handles);
  s->busy = calloc((size_t)s->n_cohorts, sizeof *s->busy);
  if (!s->cohorts || !s->handles || !s->busy) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto fail;
  }
  for (int r = 0; r < s->R; r++) s->cohorts[s->cohort_of[r]].n++;
  int largest = 0;
  for (int c = 0; c < s->n_cohorts; c++) {
    SessionCohort *co = &s->cohorts[c];
    largest = co->n > largest ? co->n : largest;
    co->ids = malloc((size_t)co->n * sizeof *co->ids);
    co->params = malloc((size_t)co->n * psz);
    if (!co->ids || !co->params) {
      st = ap_fail(err, AP_ERR_OSERR, "out of memory");
      goto fail;
    }
    co->n = 0;
  }
  for (int r = 0; r < s->R; r++) {
    SessionCohort *co = &s->cohorts[s->cohort_of[r]];
    co->ids[co->n] = r;
    memcpy((char *)co->params + (size_t)co->n * psz, config_params(ex, r), psz);
    co->n++;
    co->steps_per_record += m->cost(config_params(ex, r), &s->data);
  }
  if (!(s->stage = malloc((size_t)largest * nf * sizeof *s->stage))) {
    st = ap_fail(err, AP_ERR_OSERR, "out of memory");
    goto fail;
  }
  for (int c = 0; c < s->n_cohorts; c++) {
    SessionCohort *co = &s->cohorts[c];
    ApCohortSpec spec = {.params = co->params,
                         .n = co->n,
                         .rows = co->ids,
                         .data = &s->data,
                         .layout = s->lay,
                         .exec = s->exec,
                         .n_records = s->E,
                         .units = s->units};
    if ((st = s->impl->cohort_create(&spec, &co->c, err))) goto fail;
    s->handles[c] = co->c;
  }
  if ((st = session_push(s, err))) goto fail;
  return AP_OK;
fail:
  session_close(s);
  return st;
}

ap_status session_push(Session *s, ApError *err) {
  size_t nf = (size_t)s->lay->n_floats;
  for (int c = 0; c < s->n_cohorts; c++) {
    const SessionCohort *co = &s->cohorts[c];
    for (int k = 0; k < co->n; k++)
      memcpy(s->stage + (size_t)k * nf, s->state + (size_t)co->ids[k] * nf, nf * sizeof(float));
    ap_status st = s->impl->state_set(co->c, s->stage, err);
    if (st) return st;
  }
  return AP_OK;
}

ap_status session_pull(Session *s, ApError *err) {
  size_t nf = (size_t)s->lay->n_floats;
  for (int c = 0; c < s->n_cohorts; c++) {
    const SessionCohort *co = &s->cohorts[c];
    ap_status st = s->impl->state_get(co->c, s->stage, err);
    if (st) return st;
    for (int k = 0; k < co->n; k++)
      memcpy(s->state + (size_t)co->ids[k] * nf, s->stage + (size_t)k * nf, nf * sizeof(float));
  }
  return AP_OK;
}

ap_status session_advance(Session *s, ApPos from, ApPos to, ApError *err) {
  ApSeriesBuf out = {.base = s->series, .n_records = s->E, .width = s->lay->series_width};
  for (int c = 0; c < s->n_cohorts; c++) s->busy[c] = NAN;
  ap_status st = s->impl->run(s->handles, s->n_cohorts, from, to, &out, s->busy, err);
  if (st) return st;
  const long long units = ap_pos_index(to, s->units) - ap_pos_index(from, s->units);
  for (int c = 0; c < s->n_cohorts; c++) { /* NaN stays NaN: not measured */
    SessionCohort *co = &s->cohorts[c];
    co->busy_s += s->busy[c];
    co->units_run += units;
    co->steps = co->steps_per_record * (double)co->units_run / (double)s->units;
  }
  return AP_OK;
}

double session_work(const Session *s, ApPos from, ApPos to) {
  const ApModel *m = s->model;
  const long long U = s->units;
  if (!m->work || U == 1)
    return s->steps_per_record * (double)(ap_pos_index(to, U) - ap_pos_index(from, U)) / (double)U;
  double w = 0.0;
  for (int r = 0; r < s->R; r++)
    for (int e = from.record; e <= ap_last_record(to); e++) {
      long long u0, u1;
      ap_part(from, to, U, e, &u0, &u1);
      w += m->work(config_params(s->ex, r), &s->data, e, u0, u1);
    }
  return w;
}

ApPos session_reach(const Session *s, ApPos at, ApPos limit, double work) {
  const long long U = s->units, i0 = ap_pos_index(at, U);
  long long lo = 1, hi = ap_pos_index(limit, U) - i0; /* the answer is in [lo, hi] */
  while (lo < hi) {
    long long mid = lo + (hi - lo) / 2;
    double w = session_work(s, at, ap_pos_at(i0 + mid, U));
    if (w > 0.0 && w >= work)
      hi = mid;
    else
      lo = mid + 1;
  }
  return ap_pos_at(i0 + lo, U);
}

ap_status session_run(Session *s, int r0, int r1, ApError *err) {
  return session_advance(s, (ApPos){r0, 0}, (ApPos){r1, 0}, err);
}

void session_close(Session *s) {
  for (int c = 0; s->cohorts && c < s->n_cohorts; c++) {
    if (s->cohorts[c].c) s->impl->cohort_destroy(s->cohorts[c].c);
    free(s->cohorts[c].ids);
    free(s->cohorts[c].params);
  }
  free(s->cohorts);
  free(s->handles);
  free(s->busy);
  free(s->cohort_of);
  free(s->state);
  free(s->stage);
  free(s->series);
  ds_free(&s->ds);
  memset(s, 0, sizeof *s);
}

ap_status session_events(Session *s, uint32_t **pairs, uint64_t **start, ApError *err) {
  *pairs = NULL, *start = NULL;
  if (!s->model->events || !s->impl->events_get) return AP_OK;
  uint64_t *st = calloc((size_t)s->R + 1, sizeof *st);
  const uint32_t **src = calloc((size_t)s->R + 1, sizeof *src);
  size_t *n = calloc((size_t)s->R + 1, sizeof *n);
  ap_status rc = AP_OK;
  if (!st || !src || !n) {
    rc = ap_fail(err, AP_ERR_OSERR, "out of memory gathering the %s", s->model->events);
    goto out;
  }
  for (int c = 0; c < s->n_cohorts && !rc; c++)
    for (int k = 0; k < s->cohorts[c].n && !rc; k++) {
      int r = s->cohorts[c].ids[k];
      rc = s->impl->events_get(s->cohorts[c].c, k, &src[r], &n[r], err);
    }
  if (rc) goto out;
  for (int r = 0; r < s->R; r++) st[r + 1] = st[r] + n[r];
  uint32_t *all = malloc((size_t)(st[s->R] ? st[s->R] : 1) * 2 * sizeof *all);
  if (!all) {
    rc = ap_fail(err, AP_ERR_OSERR, "out of memory gathering the %s", s->model->events);
    goto out;
  }
  for (int r = 0; r < s->R; r++)
    if (n[r]) memcpy(all + 2 * st[r], src[r], n[r] * 2 * sizeof *all);
  *pairs = all, *start = st, st = NULL;
out:
  free(st);
  free(src);
  free(n);
  return rc;
}

ap_status session_set_events(Session *s, const uint32_t *pairs, const uint64_t *start,
                             ApError *err) {
  if (!s->model->events || !s->impl->events_set || !pairs || !start) return AP_OK;
  for (int c = 0; c < s->n_cohorts; c++)
    for (int k = 0; k < s->cohorts[c].n; k++) {
      int r = s->cohorts[c].ids[k];
      ap_status rc = s->impl->events_set(s->cohorts[c].c, k, pairs + 2 * start[r],
                                         (size_t)(start[r + 1] - start[r]), err);
      if (rc) return rc;
    }
  return AP_OK;
}
