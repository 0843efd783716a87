/* Learning, the behaviour that matters (Haider 2021 Fig. 3, shortened): the latent
 * equilibrium microcircuit learns Bars at t_pres = 100 dt; the original one at
 * t_pres = 10 dt does not, over the same epochs. */
#include "helpers.h"

#include <math.h>

Test(learning, le_learns_bars_and_the_original_model_does_not_at_short_t_pres) {
  ApExperiment ex;
  th_experiment(&ex,
                "[experiment]\ndataset = bars\n[train]\nepochs = 300\n"
                "[sweep]\nseed = 1..5\n"
                "[sweep.le]\nvariant = le\nt_pres = 100\neta_up = [0.05, 0.01]\neta_ip = 0.02\n"
                "[sweep.original]\nvariant = original\nt_pres = 10\neta_up = [0.5, 0.1]\n"
                "eta_ip = 0.2\nout_lag = 5\n");
  Session s;
  th_run(&s, &ex, 0);
  int le_perfect = 0, E = ex.epochs;
  float orig_best = 0;
  for (int r = 0; r < s.R; r++) {
    float acc = th_series(&s, "val_acc", r, E - 1, 0);
    const McParams *p = th_mc(&ex, r);
    cr_log_info("replica %d (%s, seed %llu): validation accuracy %.3f after %d epochs", r,
                p->variant == MC_LE ? "le" : "original", (unsigned long long)p->seed, acc, E);
    if (p->variant == MC_LE)
      le_perfect += acc == 1.0f;
    else
      orig_best = fmaxf(orig_best, acc);
  }
  cr_assert_geq(le_perfect, 4, "only %d of 5 LE seeds reached 100%%", le_perfect);
  cr_assert_leq(orig_best, 0.75f, "the original model reached %.3f at t_pres = 10", orig_best);
  session_close(&s);
  config_free(&ex);
}
