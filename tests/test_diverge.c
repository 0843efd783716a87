/* Diverging replicas of every model (microcircuit: eta_pi = 1e6 drives W_pi to inf and NaN;
 * mstdp: eps = 1e25; lif_stdp: tau_m = 0.0001): each is frozen at the end
 * of the first epoch that leaves a non-finite value in its state, flagged in the
 * "diverged" series, its other series NaN from then on; the others go on bit for bit as
 * if it were not there. */
#include "helpers.h"

#include <math.h>
#include <string.h>

static const char *mixed =
    "[train]\nepochs = %d\n[model]\nt_pres = 20\n[sweep]\neta_pi = 0, 1e6\nseed = 1..3\n";
static const char *calm =
    "[train]\nepochs = %d\n[model]\nt_pres = 20\n[sweep]\neta_pi = 0\nseed = 1..3\n";

static void run(Session *s, ApExperiment *ex, const char *fmt, int epochs) {
  char text[256];
  snprintf(text, sizeof text, fmt, epochs);
  th_experiment(ex, text);
  th_run(s, ex, 2);
}

Test(diverge, a_diverged_replica_is_frozen_flagged_and_reports_nan) {
  ApExperiment ex4, ex8;
  Session s4, s8;
  run(&s4, &ex4, mixed, 4);
  run(&s8, &ex8, mixed, 8);
  size_t nf = (size_t)s4.lay->n_floats;
  for (int r = 3; r < 6; r++) { /* the eta_pi = 1e6 replicas */
    int at = -1;
    for (int e = 0; e < 8; e++) {
      float flag = th_series(&s8, "diverged", r, e, 0);
      if (at < 0 && flag == 1.0f) at = e;
      cr_assert_eq(flag, at >= 0 ? 1.0f : 0.0f, "replica %d epoch %d: flag %g", r, e, flag);
      if (at >= 0) {
        cr_assert(isnan(th_series(&s8, "val_acc", r, e, 0)),
                  "replica %d epoch %d: val_acc is a number", r, e);
        cr_assert(isnan(th_series(&s8, "train_acc", r, e, 0)));
      }
    }
    cr_assert(at >= 0 && at < 4, "replica %d did not diverge within 4 epochs", r);
    /* frozen: after 8 epochs the state is the one of epoch 4 (NaN where NaN) */
    for (size_t i = 0; i < nf; i++) {
      float a = s4.state[r * nf + i], b = s8.state[r * nf + i];
      cr_assert(isnan(a) ? isnan(b) : !memcmp(&a, &b, sizeof a), "replica %d moved after freezing",
                r);
    }
    const ApField *f = ap_layout_field(s8.lay, "status/diverged");
    cr_assert_eq(s8.state[r * nf + (size_t)f->offset], (float)(at + 1));
  }
  /* the others: the same bits as a run without the diverging replicas */
  ApExperiment exc;
  Session sc;
  run(&sc, &exc, calm, 8);
  for (int r = 0; r < 3; r++) {
    cr_assert_eq(memcmp(s8.state + r * nf, sc.state + r * nf, nf * sizeof(float)), 0, "replica %d",
                 r);
    cr_assert_eq(memcmp(session_record(&s8, r, 0), session_record(&sc, r, 0),
                        (size_t)8 * (size_t)s8.lay->series_width * sizeof(float)),
                 0, "replica %d series", r);
    cr_assert_eq(th_series(&s8, "diverged", r, 7, 0), 0.0f);
  }
  session_close(&s4), session_close(&s8), session_close(&sc);
  config_free(&ex4), config_free(&ex8), config_free(&exc);
}

/* lif_stdp: a membrane time constant of 0.1 us makes the propagators overflow, so every
 * potential turns NaN within the first record (issue 25: exit 0, rates 0, no diverged_at
 * before). Those replicas freeze and are flagged; the others run on bit for bit. */
static const char *lif_mixed =
    "[experiment]\nmodel = lif_stdp\n[model]\nn_pyr = 12\nn_pv = 4\ni_e = 800\n[train]\n"
    "epochs = %d\nrecord_ms = 2\nraster_ms = 20\n[sweep]\ntau_m = 10, 0.0001\nseed = 1, 2\n";
static const char *lif_calm =
    "[experiment]\nmodel = lif_stdp\n[model]\nn_pyr = 12\nn_pv = 4\ni_e = 800\n[train]\n"
    "epochs = %d\nrecord_ms = 2\nraster_ms = 20\n[sweep]\ntau_m = 10\nseed = 1, 2\n";

Test(diverge, lif_a_diverged_replica_is_frozen_flagged_and_reports_nan) {
  ApExperiment ex3, ex6, exc;
  Session s3, s6, sc;
  run(&s3, &ex3, lif_mixed, 3);
  run(&s6, &ex6, lif_mixed, 6);
  run(&sc, &exc, lif_calm, 6);
  size_t nf = (size_t)s6.lay->n_floats;
  const ApField *st = ap_layout_field(s6.lay, "status/diverged");
  cr_assert_not_null(st);
  for (int r = 2; r < 4; r++) { /* tau_m = 0.0001 */
    for (int e = 0; e < 6; e++) {
      cr_assert_eq(th_series(&s6, "diverged", r, e, 0), 1.0f, "replica %d record %d", r, e);
      cr_assert(isnan(th_series(&s6, "conn_pa", r, e, 0)), "replica %d record %d", r, e);
      cr_assert(isnan(th_series(&s6, "rates", r, e, 3)), "replica %d record %d", r, e);
      cr_assert(isnan(th_series(&s6, "spikes", r, e, 0)), "replica %d record %d", r, e);
    }
    cr_assert_eq(s6.state[r * nf + (size_t)st->offset], 1.0f, "froze at record %g",
                 s6.state[r * nf + (size_t)st->offset]);
    for (size_t i = 0; i < nf; i++) { /* frozen: record 6's state is record 3's */
      float a = s3.state[r * nf + i], b = s6.state[r * nf + i];
      cr_assert(isnan(a) ? isnan(b) : !memcmp(&a, &b, sizeof a), "replica %d moved after freezing",
                r);
    }
  }
  for (int r = 0; r < 2; r++) { /* tau_m = 10: as if the others were not there */
    cr_assert_eq(s6.state[r * nf + (size_t)st->offset], 0.0f);
    for (int e = 0; e < 6; e++) cr_assert_eq(th_series(&s6, "diverged", r, e, 0), 0.0f);
    cr_assert_gt(th_series(&s6, "spikes", r, 5, 0), 0.0f, "replica %d is silent", r);
    cr_assert_eq(memcmp(s6.state + r * nf, sc.state + r * nf, nf * sizeof(float)), 0, "replica %d",
                 r);
    cr_assert_eq(memcmp(session_record(&s6, r, 0), session_record(&sc, r, 0),
                        (size_t)6 * (size_t)s6.lay->series_width * sizeof(float)),
                 0, "replica %d series", r);
  }
  session_close(&s3), session_close(&s6), session_close(&sc);
  config_free(&ex3), config_free(&ex6), config_free(&exc);
}

/* mstdp: eps = 1e25 (the clamped phases' step) throws the states past float range in the
 * first record; those replicas freeze, flagged, the others run on bit for bit. */
static const char *ms_mixed =
    "[experiment]\nmodel = mstdp\ndataset = bars\n[train]\nepochs = %d\npresentations = 3\n"
    "test_samples = 2\ntrain_eval = 2\n[model]\npixels = 9\nlabels = 3\nhidden = 5\ncycles = 1\n"
    "iterations = 3\n[sweep]\neps = 0.5, 1e25\nseed = 1, 2\n";
static const char *ms_calm =
    "[experiment]\nmodel = mstdp\ndataset = bars\n[train]\nepochs = %d\npresentations = 3\n"
    "test_samples = 2\ntrain_eval = 2\n[model]\npixels = 9\nlabels = 3\nhidden = 5\ncycles = 1\n"
    "iterations = 3\n[sweep]\neps = 0.5\nseed = 1, 2\n";

Test(diverge, mstdp_a_diverged_replica_is_frozen_flagged_and_reports_nan) {
  ApExperiment ex2, ex4, exc;
  Session s2, s4, sc;
  run(&s2, &ex2, ms_mixed, 2);
  run(&s4, &ex4, ms_mixed, 4);
  run(&sc, &exc, ms_calm, 4);
  size_t nf = (size_t)s4.lay->n_floats;
  const ApField *st = ap_layout_field(s4.lay, "status/diverged");
  cr_assert_not_null(st);
  for (int r = 2; r < 4; r++) { /* eps = 1e25 */
    for (int e = 0; e < 4; e++) {
      cr_assert_eq(th_series(&s4, "diverged", r, e, 0), 1.0f, "replica %d record %d", r, e);
      cr_assert(isnan(th_series(&s4, "max_abs_s", r, e, 0)), "replica %d record %d", r, e);
      cr_assert(isnan(th_series(&s4, "test_acc_free", r, e, 0)), "replica %d record %d", r, e);
    }
    cr_assert_neq(s4.state[r * nf + (size_t)st->offset], 0.0f);
    for (size_t i = 0; i < nf; i++) {
      float a = s2.state[r * nf + i], b = s4.state[r * nf + i];
      cr_assert(isnan(a) ? isnan(b) : !memcmp(&a, &b, sizeof a), "replica %d moved after freezing",
                r);
    }
  }
  for (int r = 0; r < 2; r++) {
    for (int e = 0; e < 4; e++) cr_assert_eq(th_series(&s4, "diverged", r, e, 0), 0.0f);
    cr_assert_eq(memcmp(s4.state + r * nf, sc.state + r * nf, nf * sizeof(float)), 0, "replica %d",
                 r);
    cr_assert_eq(memcmp(session_record(&s4, r, 0), session_record(&sc, r, 0),
                        (size_t)4 * (size_t)s4.lay->series_width * sizeof(float)),
                 0, "replica %d series", r);
  }
  session_close(&s2), session_close(&s4), session_close(&sc);
  config_free(&ex2), config_free(&ex4), config_free(&exc);
}
