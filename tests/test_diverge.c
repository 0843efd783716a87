/* Diverging replicas (eta_pi = 1e6 drives W_pi to inf and NaN): each is frozen at the end
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
