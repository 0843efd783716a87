/* A replica's numbers depend on its own parameters only: not on the other replicas of
 * its batch, its position among them, or the number of threads. */
#include "helpers.h"

#include <math.h>
#include <string.h>

static const char *alone = "[experiment]\ndataset = bars\n[train]\nepochs = 12\n"
                           "[model]\nseed = 7\nvariant = le\nt_pres = 30\neta_up = 0.2, "
                           "0.04\neta_ip = 0.07\neta_pi = 0.01\n";

/* 64 replicas of the same schedule with other seeds, variants, rates and lags; the one
 * above is number 43 (block 2, lane 11 with 16 lanes). */
static const char *crowd =
    "[experiment]\ndataset = bars\n[train]\nepochs = 12\n"
    "[model]\nt_pres = 30\neta_ip = 0.07\neta_pi = 0.01\n"
    "[sweep]\nvariant = original, le\neta_up = [0.2, 0.04], [0.1, 0.1]\nout_lag = 9, 0\n"
    "seed = 4..11\n";

static void compare(const Session *a, int ra, const Session *b, int rb) {
  size_t nf = (size_t)a->lay->n_floats, F = (size_t)a->lay->series_width;
  cr_assert_eq(memcmp(a->state + (size_t)ra * nf, b->state + (size_t)rb * nf, nf * sizeof(float)),
               0, "final states differ");
  cr_assert_eq(
      memcmp(session_record(a, ra, 0), session_record(b, rb, 0), (size_t)a->E * F * sizeof(float)),
      0, "series differ");
}

Test(batch, a_replica_alone_equals_the_same_replica_in_a_batch_of_64) {
  ApExperiment ex1, ex64;
  th_experiment(&ex1, alone);
  th_experiment(&ex64, crowd);
  cr_assert_eq(ex64.n_replicas, 64);
  int at = -1;
  for (int r = 0; r < 64; r++)
    if (!memcmp(config_params(&ex64, r), config_params(&ex1, 0), sizeof(McParams))) at = r;
  cr_assert_eq(at, 43, "the replica's place in the crowd moved (%d); fix the test", at);
  Session s1, s64;
  th_run(&s1, &ex1, 1);
  th_run(&s64, &ex64, 2);
  compare(&s1, 0, &s64, at);
  session_close(&s1);
  session_close(&s64);
  config_free(&ex1);
  config_free(&ex64);
}

Test(batch, thread_count_does_not_change_anything) {
  ApExperiment ex;
  th_experiment(&ex, crowd);
  Session a, b;
  th_run(&a, &ex, 1);
  th_run(&b, &ex, 3);
  for (int r = 0; r < a.R; r++) compare(&a, r, &b, r);
  session_close(&a);
  session_close(&b);
  config_free(&ex);
}

/* A replica whose W_ip is not plastic (η_ip = 0) diverges (huge η_pi); alone, and in a
 * block whose other lanes learn W_ip. Its numbers must not depend on the neighbours:
 * a block once multiplied its zero rate into its NaN errors (0 · NaN) when a neighbour
 * learned, and so turned its frozen W_ip into NaN. */
Test(batch, a_diverging_replica_does_not_depend_on_its_neighbours) {
  const char *alone_ini = "[train]\nepochs = 3\n[model]\nseed = 3\nt_pres = 20\n"
                          "eta_pi = 1e6\neta_ip = 0\n";
  const char *mixed_ini = "[train]\nepochs = 3\n[model]\nseed = 3\nt_pres = 20\neta_pi = 1e6\n"
                          "[sweep]\neta_ip = 0, 0.02, 0.05\n";
  ApExperiment ex1, ex3;
  th_experiment(&ex1, alone_ini);
  th_experiment(&ex3, mixed_ini);
  Session s1, s3;
  th_run(&s1, &ex1, 1);
  th_run(&s3, &ex3, 1);
  const ApField *w_ip = ap_layout_field(s1.lay, "layer0/W_ip");
  int nan_before = 0;
  for (int i = 0; i < s1.lay->n_floats; i++) nan_before |= isnan(s1.state[i]);
  cr_assert(nan_before, "the replica did not diverge; the test lost its case");
  /* alone its W_ip never moved: still the initial one, finite */
  for (int i = 0; i < w_ip->shape[0] * w_ip->shape[1]; i++)
    cr_assert(isfinite(s1.state[w_ip->offset + i]), "W_ip[%d] = %g alone", i,
              s1.state[w_ip->offset + i]);
  /* in the mixed block: the same bits (NaN where NaN) */
  for (int i = 0; i < s1.lay->n_floats; i++) {
    float a = s1.state[i], b = s3.state[i];
    cr_assert(isnan(a) ? isnan(b) : !memcmp(&a, &b, sizeof a),
              "state[%d]: alone %g, with neighbours %g", i, a, b);
  }
  session_close(&s1);
  session_close(&s3);
  config_free(&ex1);
  config_free(&ex3);
}

/* Poisson spikes: a replica's draws come from its own seed and the step (the counter), not
 * from its lane, block, neighbours or thread; refractory and counting replicas share
 * blocks. Alone, and as one of 48 in three blocks. */
Test(batch, a_spiking_replica_alone_equals_the_same_replica_among_48) {
  const char *one = "[experiment]\ndataset = bars\n[train]\nepochs = 6\n"
                    "[model]\nneuron = poisson\nseed = 5\nvariant = le\nt_pres = 20\n"
                    "psi = 300\nt_ref = 0.2\ntau_dend = 0.3\n";
  const char *many =
      "[experiment]\ndataset = bars\n[train]\nepochs = 6\n"
      "[model]\nneuron = poisson\nt_pres = 20\ntau_dend = 0.3\n"
      "[sweep]\nseed = 1..6\npsi = 30, 300\nt_ref = 0.2, 0\nvariant = original, le\n";
  ApExperiment ex1, exn;
  th_experiment(&ex1, one);
  th_experiment(&exn, many);
  cr_assert_eq(exn.n_replicas, 48);
  int at = -1;
  for (int r = 0; r < 48; r++)
    if (!memcmp(config_params(&exn, r), config_params(&ex1, 0), sizeof(McParams))) at = r;
  cr_assert_geq(at, 16, "the replica is not in a later block (%d); fix the test", at);
  Session s1, sn, sn1;
  th_run(&s1, &ex1, 1);
  th_run(&sn, &exn, 2);
  th_run(&sn1, &exn, 1);
  compare(&s1, 0, &sn, at);
  for (int r = 0; r < sn.R; r++) compare(&sn, r, &sn1, r);
  session_close(&s1);
  session_close(&sn);
  session_close(&sn1);
  config_free(&ex1);
  config_free(&exn);
}
