#include "estimate.h"

#include "host/mem.h"
#include "host/session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- sizes ---------------------------------------------------------------------------- */

static double data_bytes(const ApData *d) {
  double train = (double)d->n_train * ((double)d->n_in * sizeof(float) + sizeof(int));
  int alias = d->x_val == d->x_train && d->y_val == d->y_train;
  return train + (alias ? 0 : (double)d->n_val * ((double)d->n_in * sizeof(float) + sizeof(int)));
}

#define DATASET_OVERHEAD 1024.0 /* bytes of HDF5 headers and attributes per dataset */

static void add_param_column(void *ctx, const char *name, ParamKind kind, int width, int is_list,
                             const void *values, const char *help) {
  (void)name, (void)kind, (void)is_list, (void)values, (void)help;
  double *sum = ctx;
  sum[0] += sum[1] * width * 8.0 + DATASET_OVERHEAD; /* sum[1]: replicas */
}

/* The bytes of one checkpoint or results file (h5io.c's build) as its image in memory:
 * the larger of the two, since the run writes one after the other. The model's events
 * (spikes) are left out: they grow as the run records them. */
static double file_image(const ApExperiment *ex, const ApData *data, const EstCohort *c,
                         int n_cohorts) {
  const ApLayout *lay = &ex->layout;
  double R = ex->n_replicas, E = ex->epochs, cols[2] = {0, R};
  if (config_for_each_param(ex, add_param_column, cols)) cols[0] = R * ex->model->n_keys * 8.0;
  /* the replica and cohort tables, the series, and the experiment's text twice (as
   * given and effective) */
  double common = cols[0] + R * (4 + 8) + n_cohorts * (4 + 8 + 8.0) +
                  R * E * lay->series_width * 4.0 + (lay->n_series + 5) * DATASET_OVERHEAD +
                  2.0 * (ex->file_text ? strlen(ex->file_text) : 0);
  double fields = lay->n_fields * DATASET_OVERHEAD,
         ckpt = common + R * lay->n_floats * 4.0 + fields,
         results = common + R * (double)ap_layout_weights(lay) * 4.0 + fields;
  const ApModel *m = ex->model;
  if (ex->record_order && m->order && m->n_phases > 0 && c) {
    int pool = data->n_train > data->n_val ? data->n_train : data->n_val;
    uint32_t *perm = malloc((size_t)(pool ? pool : 1) * sizeof *perm);
    for (int ph = 0; perm && ph < m->n_phases; ph++) {
      int shown = m->order(config_params(ex, c[0].first), data, 0, ph, perm);
      results += R * E * (shown > 0 ? shown : 0) * 4.0;
    }
    free(perm);
  }
  return ckpt > results ? ckpt : results;
}

ap_status est_build(Estimate *e, const ApExperiment *ex, const ApData *data, const ApExec *exec,
                    ApError *err) {
  memset(e, 0, sizeof *e);
  e->ex = ex;
  e->n_train = data->n_train, e->n_val = data->n_val;
  const ApModel *m = ex->model;
  int R = ex->n_replicas;
  int *cohort_of = malloc((size_t)(R ? R : 1) * sizeof *cohort_of);
  int C = cohort_of ? config_cohorts(ex, cohort_of) : -1;
  if (C < 0 || !(e->cohorts = calloc((size_t)(C ? C : 1), sizeof *e->cohorts))) {
    free(cohort_of);
    return ap_fail(err, AP_ERR_OSERR, "out of memory estimating %d replicas", R);
  }
  e->n_cohorts = C;
  for (int c = 0; c < C; c++) e->cohorts[c].first = -1;
  for (int r = 0; r < R; r++) {
    EstCohort *co = &e->cohorts[cohort_of[r]];
    if (co->first < 0) co->first = r;
    co->n++;
    double cost = m->cost(config_params(ex, r), data);
    co->steps_per_record += cost;
    e->steps_per_record += cost;
  }
  e->replica_steps = e->steps_per_record * ex->epochs;

  /* each cohort's memory on each backend, from the sizes the backends allocate; the
   * parameter blocks of a cohort as the session hands them over */
  const char *names[EST_BACKENDS] = {"cpu", "cuda"};
  size_t psz = m->params_size;
  int largest = 0;
  for (int c = 0; c < C; c++) largest = e->cohorts[c].n > largest ? e->cohorts[c].n : largest;
  char *params = malloc((size_t)(largest ? largest : 1) * psz);
  int *rows = malloc((size_t)(R ? R : 1) * sizeof *rows), *at = calloc((size_t)C + 1, sizeof *at);
  if (!params || !rows || !at) {
    free(params), free(rows), free(at), free(cohort_of);
    est_free(e);
    return ap_fail(err, AP_ERR_OSERR, "out of memory estimating %d replicas", R);
  }
  for (int c = 0; c < C; c++) at[c + 1] = at[c] + e->cohorts[c].n;
  for (int r = 0; r < R; r++) rows[at[cohort_of[r]]++] = r; /* the replicas by cohort */
  for (int b = 0; b < EST_BACKENDS; b++) e->has[b] = 1;
  for (int c = 0, from = 0; c < C; from += e->cohorts[c++].n) {
    EstCohort *co = &e->cohorts[c];
    for (int k = 0; k < co->n; k++)
      memcpy(params + (size_t)k * psz, config_params(ex, rows[from + k]), psz);
    ApCohortSpec spec = {params, co->n, rows + from, data, &ex->layout, *exec, ex->epochs, 1};
    for (int b = 0; b < EST_BACKENDS; b++) {
      ApError why = {{0}};
      if (e->has[b] && m->memory(names[b], &spec, &co->mem[b], &why)) e->has[b] = 0;
    }
  }
  free(params);
  free(rows);
  free(at);
  free(cohort_of);

  size_t dbytes[4];
  ap_cuda_data_bytes(data, dbytes);
  e->device_data = m->io ? (double)(dbytes[0] + dbytes[1] + dbytes[2] + dbytes[3]) : 0;
  double nf = ex->layout.n_floats, F = ex->layout.series_width,
         image = file_image(ex, data, e->cohorts, C);
  for (int b = 0; b < EST_BACKENDS; b++) {
    EstHost *h = &e->host[b];
    h->state = ((double)R + largest) * nf * 4.0;
    h->series = (double)R * ex->epochs * F * 4.0;
    h->tables = (double)R * (2.0 * psz + 3 * sizeof(int) + 1 + sizeof(float));
    h->dataset = data_bytes(data);
    h->files = 2 * image + (1 << 20); /* the image, its copy, HDF5's growth step */
    double work = 0;
    for (int c = 0; c < C; c++) {
      h->backend += e->cohorts[c].mem[b].host;
      work = e->cohorts[c].mem[b].work > work ? e->cohorts[c].mem[b].work : work;
    }
    h->backend += work;
    h->total = h->state + h->series + h->tables + h->dataset + h->files + h->backend;
  }
  for (int c = 0; c < C; c++) {
    e->device += e->cohorts[c].mem[EST_CUDA].device;
    e->device_min += e->cohorts[c].mem[EST_CUDA].device_min;
  }
  e->device += e->device_data;
  e->device_min += e->device_data;
  e->held = e->host[EST_CPU].dataset + (double)R * psz;
  e->file_image = image;
  e->resident = (double)mem_resident();
  return AP_OK;
}

void est_free(Estimate *e) {
  free(e->cohorts);
  memset(e, 0, sizeof *e);
}

/* ---- the memory check ------------------------------------------------------------------ */

double est_host_available(const Estimate *e, char *from, size_t n) {
  const char *env = getenv("APICAL_MEM_AVAILABLE");
  if (env && *env) {
    char *end;
    double v = strtod(env, &end);
    if (*end == '\0' && v >= 0) {
      snprintf(from, n, "APICAL_MEM_AVAILABLE");
      return v;
    }
  }
  char source[96];
  size_t avail = mem_available_from(source, sizeof source);
  if (!avail) {
    snprintf(from, n, "unknown");
    return 0;
  }
  char held[32];
  mem_format(held, sizeof held, e->held);
  snprintf(from, n, "%s, and the %s apical holds already", source, held);
  return (double)avail + e->held;
}

ap_status est_check(const Estimate *e, const ApBackend *be, ApError *err) {
  int b = be->memory ? EST_CUDA : EST_CPU;
  char need[32], have[32], from[200];
  double avail = est_host_available(e, from, sizeof from);
  if (avail > 0 && e->host[b].total > avail) {
    mem_format(need, sizeof need, e->host[b].total);
    mem_format(have, sizeof have, avail);
    return ap_fail(err, AP_ERR_OSERR,
                   "the run needs about %s of host memory and %s are available (%s): run fewer "
                   "replicas or %ss at a time (apical estimate breaks it down; "
                   "--no-memory-check runs it anyway)",
                   need, have, from, e->ex->model->record);
  }
  if (!be->memory) return AP_OK;
  size_t free_b = 0, total_b = 0;
  ApError why = {{0}};
  if (be->memory(&free_b, &total_b, &why)) return AP_OK; /* the cohorts will say */
  double budget = (double)ap_device_budget(free_b);
  if (e->device_min > budget) {
    mem_format(need, sizeof need, e->device_min);
    mem_format(have, sizeof have, (double)free_b);
    return ap_fail(err, AP_ERR_OSERR,
                   "the run needs at least %s of device memory and the device has %s free (a run "
                   "takes at most nine tenths of it): run fewer replicas at a time, or on the "
                   "CPU (--no-memory-check runs it anyway)",
                   need, have);
  }
  return AP_OK;
}

/* ---- the calibration ------------------------------------------------------------------ */

/* Records [0, k) of ex, each cut to fraction f of its samples, on every replica (sub 0) or
 * the first sub of each cohort: the replica-steps done and the seconds they took. */
static ap_status cal_run(const Estimate *e, const ApData *data, const ApBackend *be,
                         const ApExec *exec, double f, int k, int sub, double *steps, double *secs,
                         EstCalibration *cal, ApError *err) {
  const ApExperiment *ex = e->ex;
  const ApModel *m = ex->model;
  ApData cut = *data;
  if (f < 1) { /* the first samples (x_val stays an alias where it is one) */
    cut.n_train = (int)fmax(1.0, ceil(f * data->n_train));
    cut.n_val = data->n_val ? (int)fmax(1.0, ceil(f * data->n_val)) : 0;
  }
  cal->n_train = cut.n_train, cal->n_val = cut.n_val;
  ApExperiment c = *ex; /* a copy that owns only its replica table */
  c.epochs = k + 1;     /* record k - 1 is not the last: no end-of-run extras */
  size_t psz = m->params_size;
  int R = 0;
  int *cohort_of = malloc((size_t)ex->n_replicas * sizeof *cohort_of);
  int *taken = calloc((size_t)e->n_cohorts, sizeof *taken);
  c.replicas = malloc((size_t)ex->n_replicas * psz);
  if (!cohort_of || !taken || !c.replicas || config_cohorts(ex, cohort_of) < 0) {
    free(cohort_of), free(taken), free(c.replicas);
    return ap_fail(err, AP_ERR_OSERR, "out of memory for the calibration");
  }
  for (int r = 0; r < ex->n_replicas; r++) {
    if (sub && taken[cohort_of[r]] >= sub) continue;
    taken[cohort_of[r]]++;
    void *p = c.replicas + (size_t)R++ * psz;
    memcpy(p, config_params(ex, r), psz);
    if (f < 1) m->shrink(p, &cut, f);
  }
  free(cohort_of), free(taken);
  ApLayout lay; /* a cut record is the same kind of record: the same state and series */
  if (f < 1 && R > 0 &&
      (m->layout(c.replicas, &lay, err) || lay.n_floats != ex->layout.n_floats ||
       lay.series_width != ex->layout.series_width)) {
    free(c.replicas);
    return ap_fail(err, AP_ERR_SOFTWARE, "%s: a calibration record changed the layout", m->name);
  }
  c.n_replicas = R;
  Session s;
  ap_status st = session_open_view(&s, &c, be, exec, &cut, err);
  if (!st) {
    double t0 = ap_seconds();
    st = session_run(&s, 0, k, err);
    *secs = ap_seconds() - t0;
    *steps = s.steps_per_record * k;
    char d[160] = "", *how = cal->backend;
    size_t how_n = sizeof cal->backend;
    be->describe(exec, how, how_n);
    if (s.impl->describe && s.n_cohorts == 1) {
      s.impl->describe(s.cohorts[0].c, d, sizeof d);
      snprintf(how + strlen(how), how_n - strlen(how), "; %s", d);
    }
    session_close(&s);
  }
  free(c.replicas);
  return st;
}

ap_status est_calibrate(Estimate *e, const ApData *data, const ApBackend *be, const ApExec *exec,
                        double budget_s, ApError *err) {
  const ApExperiment *ex = e->ex;
  const ApModel *m = ex->model;
  EstCalibration *cal = &e->cal;
  memset(cal, 0, sizeof *cal);
  double t_start = ap_seconds();
  /* every replica, unless the calibration's own memory (state and backend, two records of
   * series) would take more than an eighth of what is available: then the first of each
   * cohort, fewer replicas in proportion */
  int sub = 0, largest = 0;
  int b = be->memory ? EST_CUDA : EST_CPU;
  char from[200];
  double avail = est_host_available(e, from, sizeof from),
         own = e->host[b].state + e->host[b].backend + e->host[b].tables +
               e->host[b].series / (ex->epochs ? ex->epochs : 1) * 3;
  for (int c = 0; c < e->n_cohorts; c++)
    largest = e->cohorts[c].n > largest ? e->cohorts[c].n : largest;
  if (avail > 0 && own > avail / 8) sub = (int)fmax(1.0, floor(largest * (avail / 8) / own));
  if (sub >= largest) sub = 0;

  /* probes: from one sample (or one record, where records cannot be cut) up, each aiming
   * at a third of the budget; then the same work once more for the spread */
  int cut = m->shrink && m->io && data->n_train > 1;
  double f = cut ? 1.0 / data->n_train : 1.0, target = budget_s / 3, steps = 0, t = 0;
  int k = 1, max_k = ex->epochs > 0 ? ex->epochs : 1;
  for (int probe = 0; probe < 24; probe++) {
    ap_status st = cal_run(e, data, be, exec, f, k, sub, &steps, &t, cal, err);
    if (st) return st;
    if (t >= target / 2 || (f >= 1 && k >= max_k) || ap_seconds() - t_start > budget_s) break;
    double grow = fmin(64.0, fmax(2.0, target / fmax(t, 1e-4)));
    if (f < 1) {
      f = fmin(1.0, f * grow);
      if (ceil(f * data->n_train) >= data->n_train && ceil(f * data->n_val) >= data->n_val)
        f = 1; /* every sample: whole records */
    } else
      k = (int)fmin((double)max_k, ceil(k * grow));
  }
  cal->seconds[0] = t;
  cal->n_seconds = 1;
  if (ap_seconds() - t_start + t <= budget_s * 1.25) {
    double steps2;
    ap_status st = cal_run(e, data, be, exec, f, k, sub, &steps2, &cal->seconds[1], cal, err);
    if (st) return st;
    cal->n_seconds = 2;
  }
  double mean = cal->n_seconds == 2 ? 0.5 * (cal->seconds[0] + cal->seconds[1]) : cal->seconds[0];
  cal->done = 1;
  cal->records = k;
  cal->fraction = f;
  cal->replicas = sub ? 0 : ex->n_replicas;
  if (sub)
    for (int c = 0; c < e->n_cohorts; c++)
      cal->replicas += e->cohorts[c].n < sub ? e->cohorts[c].n : sub;
  cal->steps = steps;
  cal->rate = mean > 0 ? steps / mean : 0;
  cal->spread =
      cal->n_seconds == 2 && mean > 0 ? fabs(cal->seconds[0] - cal->seconds[1]) / mean : 0;
  cal->wall_s = cal->rate > 0 ? e->replica_steps / cal->rate : NAN;
  cal->took_s = ap_seconds() - t_start;
  return AP_OK;
}

/* ---- printing ------------------------------------------------------------------------- */

static void fmt_time(char *buf, size_t n, double s) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "--");
  else if (s < 60)
    snprintf(buf, n, "%.3g s", s);
  else if (s < 3600)
    snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else if (s < 86400 * 3)
    snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
  else
    snprintf(buf, n, "%.1f days", s / 86400);
}

static void fmt_host(char *buf, size_t n, const EstHost *h) {
  char t[32], st[32], se[32], ta[32], da[32], fi[32], be[32];
  mem_format(t, sizeof t, h->total);
  mem_format(st, sizeof st, h->state);
  mem_format(se, sizeof se, h->series);
  mem_format(ta, sizeof ta, h->tables);
  mem_format(da, sizeof da, h->dataset);
  mem_format(fi, sizeof fi, h->files);
  mem_format(be, sizeof be, h->backend);
  snprintf(buf, n,
           "%s: state %s, series %s, replica tables %s, dataset %s, checkpoint/results "
           "image %s, backend %s",
           t, st, se, ta, da, fi, be);
}

/* What would run: the model, the replicas in their cohorts (named by the keys of the
 * cohort key; the first 20 where there are more than 24), and the work. */
static void print_work(FILE *f, const Estimate *e) {
  const ApExperiment *ex = e->ex;
  const ApModel *m = ex->model;
  char shape[300] = ""; /* the keys that fix the network's shape */
  for (int i = 0; i < m->n_keys; i++)
    if ((m->keys[i].flags & AP_KEY_FIXED) && !strcmp(m->keys[i].section, "model")) {
      char v[200];
      config_format_param(ex, 0, m->keys[i].name, v, sizeof v);
      snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ", %s %s", m->keys[i].name, v);
    }
  fprintf(f, "  %-13s %s%s", "model", m->name, shape);
  if (m->io)
    fprintf(f, "; dataset %s: %d training and %d validation samples", ex->dataset, e->n_train,
            e->n_val);
  fprintf(f, "\n");
  fprintf(f, "  %-13s %d in %d cohort%s", "replicas", ex->n_replicas, e->n_cohorts,
          e->n_cohorts == 1 ? "" : "s");
  if (m->cohort_by)
    fprintf(f, " (replicas with equal %s share a schedule)\n", m->cohort_by);
  else
    fprintf(f, " (%s runs every replica in one)\n", m->name);

  char keys[8][AP_NAME_MAX];
  int n_keys = 0;
  for (const char *c = m->cohort_by; c && *c && n_keys < 8;) {
    size_t len = strcspn(c, ", ");
    if (len) snprintf(keys[n_keys++], AP_NAME_MAX, "%.*s", (int)len, c);
    c += len;
    c += strspn(c, ", ");
  }
  fprintf(f, "    %6s %9s", "cohort", "replicas");
  for (int k = 0; k < n_keys; k++) fprintf(f, "  %-8s", keys[k]);
  fprintf(f, "  replica-steps per %s\n", m->record);
  int shown = e->n_cohorts > 24 ? 20 : e->n_cohorts;
  for (int c = 0; c < shown; c++) {
    const EstCohort *co = &e->cohorts[c];
    fprintf(f, "    %6d %9d", c, co->n);
    for (int k = 0; k < n_keys; k++) {
      char v[64];
      config_format_param(ex, co->first, keys[k], v, sizeof v);
      fprintf(f, "  %-8s", v);
    }
    fprintf(f, "  %.3g\n", co->steps_per_record);
  }
  if (shown < e->n_cohorts) fprintf(f, "    ... %d more\n", e->n_cohorts - shown);
  fprintf(f, "  %-13s %d %ss of %.3g replica-steps: %.3g replica-steps\n", "work", ex->epochs,
          m->record, e->steps_per_record, e->replica_steps);
}

/* The memory the run needs on each backend, what is available, and whether it fits. */
static void print_memory(FILE *f, const Estimate *e, const ApBackend *be) {
  const ApModel *m = e->ex->model;
  char a[64], b[64], line[600];
  const char *names[EST_BACKENDS] = {"cpu", "cuda"};
  for (int bk = 0; bk < EST_BACKENDS; bk++) {
    if (e->has[bk])
      fmt_host(line, sizeof line, &e->host[bk]);
    else
      snprintf(line, sizeof line, "(%s has no %s implementation)", m->name, names[bk]);
    fprintf(f, "  %-13s %-4s %s\n", bk ? "" : "host memory", names[bk], line);
  }
  char res[32];
  mem_format(res, sizeof res, e->resident);
  fprintf(f, "  %-13s not counted: apical itself (%s resident before the calibration)%s%s%s\n", "",
          res, m->events ? "; the model's " : "", m->events ? m->events : "",
          m->events ? ", which grows as the run records it" : "");
  if (e->has[EST_CUDA]) {
    mem_format(a, sizeof a, e->device);
    mem_format(b, sizeof b, e->device_min);
    char d[32];
    mem_format(d, sizeof d, e->device_data);
    fprintf(f, "  %-13s cuda %s with every replica on the device", "device memory", a);
    if (e->device_min < e->device) fprintf(f, ", at least %s (cohorts taking turns in parts)", b);
    fprintf(f, "; the dataset's copy %s of it\n", d);
  }
  char from[200];
  double avail = est_host_available(e, from, sizeof from);
  mem_format(a, sizeof a, avail);
  fprintf(f, "  %-13s host %s (%s)", "available", avail > 0 ? a : "unknown", from);
  const ApBackend *cuda = ap_backend_cuda();
  if (!cuda) {
    fprintf(f, "; no CUDA backend in this build\n");
  } else {
    ApError why = {{0}};
    size_t free_b = 0, total_b = 0;
    if (cuda->probe(&why) || cuda->memory(&free_b, &total_b, &why)) {
      fprintf(f, "; no CUDA device (%s)\n", why.msg);
    } else {
      mem_format(a, sizeof a, (double)free_b);
      mem_format(b, sizeof b, (double)total_b);
      fprintf(f, "; device %s free of %s\n", a, b);
    }
  }
  ApError why = {{0}};
  fprintf(f, "  %-13s %s\n", "fits", est_check(e, be, &why) ? why.msg : "yes");
}

/* The calibration's measurement and the wall time it predicts. */
static void print_calibration(FILE *f, const Estimate *e, const char *note) {
  const ApExperiment *ex = e->ex;
  const ApModel *m = ex->model;
  const EstCalibration *cal = &e->cal;
  char t0[32], t1[32], rec[160], line[600];
  if (cal->fraction < 1)
    snprintf(rec, sizeof rec, "%d %s%s on the first %d training and %d validation samples",
             cal->records, m->record, cal->records == 1 ? "" : "s", cal->n_train, cal->n_val);
  else
    snprintf(rec, sizeof rec, "%d whole %s%s", cal->records, m->record,
             cal->records == 1 ? "" : "s");
  snprintf(line, sizeof line, "%.3g s", cal->seconds[0]);
  if (cal->n_seconds == 2)
    snprintf(line + strlen(line), sizeof line - strlen(line), " and %.3g s", cal->seconds[1]);
  fprintf(f,
          "  %-13s %s%s%s: %s of %d replica%s%s, %.3g replica-steps, in %s: %.3g replica-steps/s",
          "calibration", cal->backend, note && *note ? " (auto: " : "", note && *note ? note : "",
          rec, cal->replicas, cal->replicas == 1 ? "" : "s",
          cal->replicas < ex->n_replicas ? " (the first of each cohort: memory is short)" : "",
          cal->steps, line, cal->rate);
  if (cal->n_seconds == 2) fprintf(f, " (spread %.0f%%)", 100 * cal->spread);
  fprintf(f, "; took %.1f s\n", cal->took_s);
  fmt_time(t0, sizeof t0, cal->wall_s);
  double lo = cal->wall_s * (1 - cal->spread), hi = cal->wall_s * (1 + cal->spread);
  fprintf(f, "  %-13s about %s", "wall time", t0);
  if (cal->n_seconds == 2 && cal->spread >= 0.01) {
    fmt_time(t0, sizeof t0, lo);
    fmt_time(t1, sizeof t1, hi);
    fprintf(f, " (%s to %s by the calibration's spread)", t0, t1);
  }
  int writes =
      ex->checkpoint_every ? (ex->epochs + ex->checkpoint_every - 1) / ex->checkpoint_every : 1;
  fprintf(f, ", plus the start and writing the checkpoint and results files %d time%s\n", writes,
          writes == 1 ? "" : "s");
}

void est_print(FILE *f, const Estimate *e, const ApBackend *be, const char *note,
               const char *out_dir) {
  fprintf(f, "estimate for %s (the run would write %s; nothing was written)\n", e->ex->source,
          out_dir ? out_dir : "runs/NAME");
  print_work(f, e);
  print_memory(f, e, be);
  if (e->cal.done) print_calibration(f, e, note);
}
