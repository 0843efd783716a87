#include "run_print.h"

#include "host/log.h"
#include "kernels/backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a record's units are called ("presentations"; "units" where the model says not). */
const char *run_unit_name(const ApModel *m) { return m->units_name ? m->units_name : "units"; }

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static void fmt_duration(char *buf, size_t n, double s) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "--");
  else if (s < 60)
    snprintf(buf, n, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* A boxed table of what is about to run (stdout and the log). */
void run_print_box(const ApExperiment *ex, const Session *s, const char *backend_desc,
                   const char *out_dir, int start_epoch, double total_steps) {
  char rows[24][2][600];
  int n = 0;
#define ROW(k, ...)                                                                                \
  do {                                                                                             \
    snprintf(rows[n][0], sizeof rows[n][0], "%s", k);                                              \
    snprintf(rows[n][1], sizeof rows[n][1], __VA_ARGS__);                                          \
    n++;                                                                                           \
  } while (0)
  const ApModel *m = ex->model;
  char shape[300] = "";
  for (int i = 0; i < m->n_keys; i++) /* the keys that fix the network's shape */
    if ((m->keys[i].flags & AP_KEY_FIXED) && !strcmp(m->keys[i].section, "model")) {
      char v[200];
      config_format_param(ex, 0, m->keys[i].name, v, sizeof v);
      snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ", %s %s", m->keys[i].name, v);
    }
  ROW("experiment", "%s (%s)", ex->name, ex->source);
  ROW("model", "%s%s", m->name, shape);
  if (m->io)
    ROW("dataset", "%s: %d training and %d validation samples", ex->dataset, s->data.n_train,
        s->data.n_val);
  ROW("replicas", "%d in %d cohort%s", ex->n_replicas, s->n_cohorts, s->n_cohorts == 1 ? "" : "s");
  if (ex->shard_count)
    ROW("shard", "%d of %d (%d of the experiment's %d replicas; apical merge joins them)",
        ex->shard_index, ex->shard_count, ex->n_replicas, ex->n_total);
  char swept[160] = "";
  for (int i = 0; i < ex->n_swept; i++)
    snprintf(swept + strlen(swept), sizeof swept - strlen(swept), "%s%s", i ? ", " : "",
             ex->swept[i]);
  ROW("swept", "%s", ex->n_swept ? swept : "(nothing)");
  ROW(m->record, start_epoch ? "%d (resuming after %d)" : "%d", ex->epochs, start_epoch);
  ROW("work", "%.3g replica-steps", total_steps);
  ROW("backend", "%s", backend_desc);
  ROW("checkpoints",
      ex->checkpoint_every ? "every %d %ss, newest %d kept" : "at the end%.0d%s, newest %d kept",
      ex->checkpoint_every, ex->checkpoint_every ? m->record : "", ex->keep_checkpoints);
  ROW("output", "%s", out_dir);
  ROW("version", "apical %s (%s)", APICAL_VERSION, APICAL_GIT_REV);
#undef ROW
  size_t w0 = 0, w1 = 0;
  for (int i = 0; i < n; i++) {
    w0 = strlen(rows[i][0]) > w0 ? strlen(rows[i][0]) : w0;
    w1 = strlen(rows[i][1]) > w1 ? strlen(rows[i][1]) : w1;
  }
  char sep[1300];
  size_t k = 0;
  sep[k++] = '+';
  for (size_t i = 0; i < w0 + 2 && k < 640; i++) sep[k++] = '-';
  sep[k++] = '+';
  for (size_t i = 0; i < w1 + 2 && k < 1290; i++) sep[k++] = '-';
  sep[k++] = '+';
  sep[k] = '\0';
  printf("%s\n", sep);
  log_file_only("%s\n", sep);
  for (int i = 0; i < n; i++) {
    printf("| %-*s | %-*s |\n", (int)w0, rows[i][0], (int)w1, rows[i][1]);
    log_file_only("| %-*s | %-*s |\n", (int)w0, rows[i][0], (int)w1, rows[i][1]);
  }
  printf("%s\n", sep);
  log_file_only("%s\n", sep);
  fflush(stdout);
}

/* Replicas grouped by their swept keys but seed: a label per replica, sorted. */
typedef struct Labelled {
  char *label;
  int r;
} Labelled;

static int by_label(const void *a, const void *b) {
  const Labelled *x = a, *y = b;
  int c = strcmp(x->label, y->label);
  return c ? c : (x->r > y->r) - (x->r < y->r);
}

/* qsort's context: the sorted labels and where each group starts */
static const Labelled *g_first_of;

static const int *g_start;

static int by_first_replica(const void *a, const void *b) {
  int x = g_first_of[g_start[((const Labelled *)a)->r]].r,
      y = g_first_of[g_start[((const Labelled *)b)->r]].r;
  return (x > y) - (x < y);
}

/* The headline series after the last record, median [min, max] over the replicas that
 * differ only in seed, each group labelled by its swept keys (n log n in the replicas). */
void run_print_summary(const ApExperiment *ex, const Session *s, int done) {
  const ApSeries *hs =
      ex->model->headline ? ap_layout_series(&ex->layout, ex->model->headline) : NULL;
  int R = ex->n_replicas;
  if (!hs || done == 0) return;
  Labelled *lab = calloc((size_t)R, sizeof *lab);
  float *vals = malloc((size_t)R * sizeof *vals);
  int any = 0;
  for (int r = 0; lab && vals && r < R; r++)
    any |= !isnan(session_record(s, r, done - 1)[hs->offset]);
  if (!lab || !vals || !any) goto out;
  for (int r = 0; r < R; r++) {
    char label[400] = "";
    for (int k = 0; k < ex->n_swept; k++) {
      if (!strcmp(ex->swept[k], "seed")) continue;
      char v[160];
      config_format_param(ex, r, ex->swept[k], v, sizeof v);
      snprintf(label + strlen(label), sizeof label - strlen(label), "%s%s %s", label[0] ? ", " : "",
               ex->swept[k], v);
    }
    lab[r] = (Labelled){strdup(label[0] ? label : "(all replicas)"), r};
    if (!lab[r].label) goto out;
  }
  /* groups in order of their first replica: sort by label, then report each group at its
   * first replica's place */
  qsort(lab, (size_t)R, sizeof *lab, by_label);
  int *start = malloc((size_t)R * sizeof *start), n_groups = 0;
  Labelled *order = malloc((size_t)R * sizeof *order); /* groups by their first replica */
  if (!start || !order) {
    free(start), free(order);
    goto out;
  }
  for (int i = 0; i < R; i++)
    if (i == 0 || strcmp(lab[i].label, lab[i - 1].label)) start[n_groups++] = i;
  for (int g = 0; g < n_groups; g++) order[g] = (Labelled){NULL, g};
  g_first_of = lab, g_start = start;
  qsort(order, (size_t)n_groups, sizeof *order, by_first_replica);
  const ApSeries *dv = ap_layout_series(&ex->layout, "diverged");
  log_msg("%s after %s %d, median [min, max] over seeds:", hs->name, ex->model->record, done);
  for (int q = 0; q < n_groups; q++) {
    int g = order[q].r;
    int end = g + 1 < n_groups ? start[g + 1] : R, n = 0, diverged = 0, nan = 0;
    for (int i = start[g]; i < end; i++) {
      const float *rec = session_record(s, lab[i].r, done - 1);
      if (dv && rec[dv->offset] == 1.0f)
        diverged++;
      else if (isnan(rec[hs->offset]))
        nan++;
      else
        vals[n++] = rec[hs->offset];
    }
    char count[96], stat[64] = "--";
    int all = end - start[g];
    if (n == all)
      snprintf(count, sizeof count, "%d seed%s", n, n == 1 ? "" : "s");
    else
      snprintf(count, sizeof count, "%d of %d seeds (left out:%s%.0d%s%s%.0d%s)", n, all,
               diverged ? " " : "", diverged, diverged ? " diverged" : "",
               diverged && nan ? "," : "", nan, nan ? " NaN" : "");
    if (n) {
      qsort(vals, (size_t)n, sizeof *vals, cmp_float);
      float med = n % 2 ? vals[n / 2] : 0.5f * (vals[n / 2 - 1] + vals[n / 2]);
      snprintf(stat, sizeof stat, "%.3f [%.3f, %.3f]", med, vals[0], vals[n - 1]);
    }
    log_msg("  %-21s  %s  %s", stat, count, lab[start[g]].label);
  }
  free(start);
  free(order);
out:
  for (int r = 0; lab && r < R; r++) free(lab[r].label);
  free(lab);
  free(vals);
}

/* Replicas that diverged in records [e0, e1): the model's "diverged" series turned 1
 * (they are frozen there); reported once each. */
void run_report_divergence(const ApExperiment *ex, const Session *s, int e0, int e1,
                           unsigned char *reported) {
  const ApSeries *dv = ap_layout_series(&ex->layout, "diverged");
  int R = ex->n_replicas, listed = 0, count = 0;
  char ids[200] = "";
  if (!dv) return;
  for (int r = 0; r < R; r++) {
    if (reported[r]) continue;
    for (int e = e0; e < e1 && !reported[r]; e++) {
      if (session_record(s, r, e)[dv->offset] != 1.0f) continue;
      reported[r] = 1;
      count++;
      if (listed++ < 10)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d (%s %d)",
                 listed > 1 ? ", " : "", r, ex->model->record, e + 1);
    }
  }
  if (count)
    log_msg("warning: %d replica%s diverged (a non-finite value in the state): frozen there, "
            "series NaN "
            "from then on: %s%s",
            count, count == 1 ? "" : "s", ids, count > 10 ? ", ..." : "");
}

void run_print_progress(const Session *s, ApPos at, double before, double done, double to_do,
                        double t_start, float *sorted) {
  const ApModel *m = s->model;
  const ApSeries *headline = m->headline ? ap_layout_series(s->lay, m->headline) : NULL;
  const int E = s->E;
  const long long U = s->units;
  double elapsed = ap_seconds() - t_start, rate = done / elapsed;
  char eta[32], el[32], head[64] = "", inside[96] = "";
  fmt_duration(eta, sizeof eta, (to_do - done) / rate);
  fmt_duration(el, sizeof el, elapsed);
  int nh = 0;
  for (int r = 0; headline && at.record > 0 && r < s->R; r++) {
    float v = session_record(s, r, at.record - 1)[headline->offset];
    if (!isnan(v)) sorted[nh++] = v;
  }
  qsort(sorted, (size_t)nh, sizeof *sorted, cmp_float);
  if (nh) snprintf(head, sizeof head, " | %s median %.3f", headline->name, sorted[nh / 2]);
  if (at.unit) snprintf(inside, sizeof inside, " +%lld/%lld %s", at.unit, U, run_unit_name(m));
  progress_line(at.record == E, "%s %d/%d%s (%.1f%%)%s | %.3g replica-steps/s | %s elapsed, ETA %s",
                m->record, at.record, E, inside, 100.0 * (before + done) / (before + to_do), head,
                rate, el, eta);
}
