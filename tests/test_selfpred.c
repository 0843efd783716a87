/* The self-predicting state (thesis §2.3): started there, the apical compartments stay
 * silent and no weight moves without a target; started elsewhere, plasticity of W_ip and
 * W_pi drives the network towards it. */
#include "helpers.h"

#include <math.h>

static const char *ini =
    "[experiment]\ndataset = bars\n"
    "[train]\nepochs = 20\nteacher = false\nval_samples = 0\n"
    "[model]\nt_pres = 100\neta_up = 0.05, 0.01\neta_ip = 0.02\neta_pi = 0.05\n"
    "[sweep]\nseed = 1..5\ninit_selfpred = true, false\n";

static float max_weight_change(const Session *s, const float *init, int r) {
  float worst = 0;
  for (int i = 0; i < s->lay->n_fields; i++) {
    const ApField *f = &s->lay->field[i];
    if (f->kind != AP_FIELD_WEIGHT) continue;
    size_t base = (size_t)r * (size_t)s->lay->n_floats + (size_t)f->offset;
    for (int k = 0; k < f->shape[0] * f->shape[1]; k++)
      worst = fmaxf(worst, fabsf(s->state[base + k] - init[base + k]));
  }
  return worst;
}

Test(selfpred, the_state_is_stable_without_a_target) {
  ApExperiment ex;
  th_experiment(&ex, ini);
  Session s;
  ApError err = {{0}};
  cr_assert_eq(session_open(&s, &ex, ap_backend_cpu(), NULL, &err), AP_OK, "%s", err.msg);
  size_t n = (size_t)s.R * (size_t)s.lay->n_floats;
  float *init = malloc(n * sizeof *init);
  memcpy(init, s.state, n * sizeof *init);
  cr_assert_eq(session_run(&s, 0, ex.epochs, &err), AP_OK, "%s", err.msg);
  cr_assert_eq(session_pull(&s, &err), AP_OK, "%s", err.msg);
  int E = ex.epochs;
  for (int r = 0; r < s.R; r++) {
    float api = th_series(&s, "apical_error", r, E - 1, 0), dw = max_weight_change(&s, init, r);
    if (th_mc(&ex, r)->init_selfpred) {
      /* silent apical dendrites (what remains is the one-step lag at sample switches) */
      cr_assert_lt(api, 0.05f, "replica %d: apical error %g in the self-predicting state", r, api);
      cr_assert_lt(dw, 0.05f, "replica %d: a weight moved by %g without a target", r, dw);
      cr_assert_lt(th_series(&s, "fb_weight_error", r, E - 1, 0), 1e-3f);
      cr_assert_lt(th_series(&s, "ff_weight_error", r, E - 1, 0), 1e-3f);
    } else {
      /* the same network from random interneuron weights is far from it: the test can fail */
      cr_assert_gt(api, 0.05f, "replica %d: apical error %g from a random start", r, api);
      cr_assert_gt(dw, 0.5f, "replica %d: weights moved only %g from a random start", r, dw);
    }
  }
  free(init);
  session_close(&s);
  config_free(&ex);
}

Test(selfpred, plasticity_of_w_ip_and_w_pi_approaches_it_from_random_weights) {
  ApExperiment ex;
  th_experiment(&ex, "[experiment]\ndataset = random\n[data]\nrandom_samples = 50\n"
                     "[train]\nepochs = 300\nteacher = false\nval_samples = 0\n"
                     "[model]\nt_pres = 20\ninit_selfpred = false\neta_up = 0, 0\n"
                     "eta_ip = 0.05\neta_pi = 0.05\n[sweep]\nseed = 1..3\n");
  Session s;
  th_run(&s, &ex, 0);
  for (int r = 0; r < s.R; r++) {
    int last = ex.epochs - 1;
    float a0 = th_series(&s, "apical_error", r, 0, 0),
          a1 = th_series(&s, "apical_error", r, last, 0);
    float i0 = th_series(&s, "interneuron_error", r, 0, 0),
          i1 = th_series(&s, "interneuron_error", r, last, 0);
    float b0 = th_series(&s, "fb_weight_error", r, 0, 0),
          b1 = th_series(&s, "fb_weight_error", r, last, 0);
    cr_assert_lt(a1, a0 / 5, "replica %d: apical error %g -> %g", r, a0, a1);
    cr_assert_lt(i1, i0 / 20, "replica %d: interneuron error %g -> %g", r, i0, i1);
    cr_assert_lt(b1, b0, "replica %d: feedback weight error %g -> %g", r, b0, b1);
  }
  session_close(&s);
  config_free(&ex);
}
