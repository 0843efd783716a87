/* A replica's numbers depend on its own parameters only: not on the other replicas of
 * its batch, its position among them, or the number of threads. */
#include "helpers.h"

#include <string.h>

static const char *alone =
    "[experiment]\ndataset = bars\n[train]\nepochs = 12\n"
    "[model]\nseed = 7\nvariant = le\nt_pres = 30\neta_up = 0.2, 0.04\neta_ip = 0.07\neta_pi = 0.01\n";

/* 64 replicas of the same schedule with other seeds, variants, rates and lags; the one
 * above is number 43 (block 2, lane 11 with 16 lanes). */
static const char *crowd =
    "[experiment]\ndataset = bars\n[train]\nepochs = 12\n"
    "[model]\nt_pres = 30\neta_ip = 0.07\neta_pi = 0.01\n"
    "[sweep]\nvariant = original, le\neta_up = [0.2, 0.04], [0.1, 0.1]\nout_lag = 9, 0\n"
    "seed = 4..11\n";

static void compare(const Session *a, int ra, const Session *b, int rb) {
  size_t nf = (size_t)a->lay.n_floats;
  cr_assert_eq(memcmp(a->state + (size_t)ra * nf, b->state + (size_t)rb * nf, nf * sizeof(float)), 0,
               "final states differ");
  const float *ma[] = {a->m.val_acc, a->m.val_mse, a->m.train_acc, a->m.api_err, a->m.inn_err};
  const float *mb[] = {b->m.val_acc, b->m.val_mse, b->m.train_acc, b->m.api_err, b->m.inn_err};
  for (int k = 0; k < 5; k++)
    cr_assert_eq(memcmp(ma[k] + (size_t)ra * (size_t)a->E, mb[k] + (size_t)rb * (size_t)b->E,
                        (size_t)a->E * sizeof(float)), 0, "metric %d differs", k);
}

Test(batch, a_replica_alone_equals_the_same_replica_in_a_batch_of_64) {
  ApExperiment ex1, ex64;
  th_experiment(&ex1, alone);
  th_experiment(&ex64, crowd);
  cr_assert_eq(ex64.n_replicas, 64);
  int at = -1;
  for (int r = 0; r < 64; r++) {
    McParams p = ex64.replicas[r];
    if (!memcmp(&p, &ex1.replicas[0], sizeof p)) at = r;
  }
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
